/* rpc_once_test.c - write calls run at most once: a repeated call id is
 * answered from the first execution (after it, or waiting for it), the
 * transport never resends, a client retries a dropped write call with the same
 * id, a call made while no server runs never runs later, and a call that could
 * not start by its start deadline never starts. */
#include "rpc_testsvc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "amlrisk_err.h"
#include "th_proxy.h"

enum {
	S_OK = AML__V1__STATUS_CODE__OK,
	S_INVALID = AML__V1__STATUS_CODE__INVALID_ARGUMENT,
	S_DEADLINE = AML__V1__STATUS_CODE__DEADLINE_EXCEEDED,
	S_UNAVAILABLE = AML__V1__STATUS_CODE__UNAVAILABLE,
};

#define WRITE "rpctest.v1.TestService/Write"

/* Waits until *v reaches want (10 s at most); asserts it did. */
static void
wait_for(atomic_int *v, int want)
{
	int64_t end = tsvc_now_ms() + TSVC_WAIT_MS;

	while (atomic_load(v) < want && tsvc_now_ms() < end) {
		nng_msleep(2);
	}
	assert_int_equal(atomic_load(v), want);
}

/* A Write envelope with call id id (len bytes) and sleep_ms, sent raw. */
static Aml__V1__RpcResponse *
raw_write(const char *url, uint64_t request_id, const char *id, uint32_t sleep_ms)
{
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;
	uint8_t payload[32];

	req.sleep_ms = sleep_ms;
	call.request_id = request_id;
	call.method = WRITE;
	call.payload.data = payload;
	call.payload.len = rpctest__v1__echo_request__pack(&req, payload);
	call.call_id.data = (uint8_t *)id;
	call.call_id.len = strlen(id);
	env.call = &call;
	return tsvc_raw_request(url, &env);
}

/* The text of an OK Write answer ("run N"). */
static void
assert_run(const Aml__V1__RpcResponse *r, const char *want)
{
	Rpctest__V1__EchoResponse *e;

	assert_int_equal(r->reply->status, S_OK);
	e = rpctest__v1__echo_response__unpack(NULL, r->reply->payload.len, r->reply->payload.data);
	assert_non_null(e);
	assert_string_equal(e->text, want);
	rpctest__v1__echo_response__free_unpacked(e, NULL);
}

/* The same call id twice: the second is answered from the first, not run. */
static void
test_repeat_answered_from_first(void **state)
{
	char url[128];
	rpc_server *srv;
	rpc_server_stats_t st;
	Aml__V1__RpcResponse *r;
	int runs;

	(void)state;
	tsvc_url(url, sizeof(url), "ipc");
	srv = tsvc_server(url, NULL);
	runs = atomic_load(&tsvc_write_runs);
	r = raw_write(url, 1, "call-A", 0);
	assert_run(r, "run 1");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = raw_write(url, 2, "call-A", 0); /* a client's retry, new exchange id */
	assert_int_equal(r->reply->request_id, 2);
	assert_run(r, "run 1");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	assert_int_equal(atomic_load(&tsvc_write_runs), runs + 1);
	/* another id runs */
	r = raw_write(url, 3, "call-B", 0);
	assert_run(r, "run 2");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* an id is bound to its method */
	{
		Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
		Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;

		call.request_id = 4;
		call.method = "rpctest.v1.TestService/Echo";
		call.call_id.data = (uint8_t *)"call-A";
		call.call_id.len = 6;
		env.call = &call;
		r = tsvc_raw_request(url, &env);
		assert_int_equal(r->reply->status, S_INVALID);
		assert_non_null(strstr(r->reply->message, "another method"));
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	rpc_server_stats(srv, &st);
	assert_int_equal(st.replayed, 1);
	rpc_server_destroy(srv);
	atomic_store(&tsvc_write_runs, 0);
}

typedef struct raw_bg {
	const char *url;
	uint64_t id;
	uint32_t sleep_ms;
	Aml__V1__RpcResponse *r;
} raw_bg;

static void *
raw_bg_main(void *arg)
{
	raw_bg *b = arg;

	b->r = raw_write(b->url, b->id, "slow-one", b->sleep_ms);
	return NULL;
}

/* A repeat sent while the first execution runs waits for it and gets its answer. */
static void
test_repeat_waits_for_running_first(void **state)
{
	char url[128];
	rpc_server *srv;
	raw_bg first;
	pthread_t th;
	Aml__V1__RpcResponse *r;

	(void)state;
	atomic_store(&tsvc_write_runs, 0);
	tsvc_url(url, sizeof(url), "ipc");
	srv = tsvc_server(url, NULL);
	first = (raw_bg){.url = url, .id = 10, .sleep_ms = 500};
	assert_int_equal(pthread_create(&th, NULL, raw_bg_main, &first), 0);
	wait_for(&tsvc_write_runs, 1);
	r = raw_write(url, 11, "slow-one", 500);
	assert_run(r, "run 1");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	pthread_join(th, NULL);
	assert_run(first.r, "run 1");
	protobuf_c_message_free_unpacked(&first.r->base, NULL);
	assert_int_equal(atomic_load(&tsvc_write_runs), 1);
	rpc_server_destroy(srv);
}

typedef struct call_bg {
	rpc_client *c;
	rpc_call_opts o;
	uint32_t sleep_ms;
	int rc;
	char msg[256];
	char text[64];
} call_bg;

static void *
call_bg_main(void *arg)
{
	call_bg *b = arg;
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	req.sleep_ms = b->sleep_ms;
	b->rc = rpc_client_call_opts(b->c, &rpctest__v1__test_service__descriptor, "Write",
	                             &req.base, &resp, &b->o, b->msg, sizeof(b->msg));
	if (b->rc == S_OK) {
		snprintf(b->text, sizeof(b->text), "%s", ((Rpctest__V1__EchoResponse *)resp)->text);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return NULL;
}

/* The connection drops while a write call runs: without retries the caller
 * hears UNAVAILABLE and nothing resends it (the server ran it once); with a
 * retry the client sends the same call id again and gets the first run's
 * answer. Either way the handler ran once per call. */
static void
test_dropped_connection(void **state)
{
	char url[128], purl[64];
	rpc_server *srv;
	rpc_client *c;
	th_proxy *px;
	call_bg b;
	pthread_t th;
	rpc_client_stats_t st;

	(void)state;
	atomic_store(&tsvc_write_runs, 0);
	tsvc_url(url, sizeof(url), "tcp");
	srv = tsvc_server(url, NULL);
	px = th_proxy_start("127.0.0.1", rpc_server_port(srv));
	snprintf(purl, sizeof(purl), "tcp://127.0.0.1:%d", th_proxy_port(px));
	c = tsvc_client(purl, 0);

	/* no retries: UNAVAILABLE, "connection lost", run once, never again */
	b = (call_bg){.c = c, .o = {.timeout_ms = TSVC_WAIT_MS, .once = 1}, .sleep_ms = 400};
	assert_int_equal(pthread_create(&th, NULL, call_bg_main, &b), 0);
	wait_for(&tsvc_write_runs, 1);
	th_proxy_drop_all(px);
	pthread_join(th, NULL);
	assert_int_equal(b.rc, S_UNAVAILABLE);
	assert_non_null(strstr(b.msg, "lost"));
	tsvc_wait_connected(c);
	/* a read after the reconnection: anything resent would have run before it */
	assert_int_equal(
	        tsvc_call(c, "Echo", "fence", 0, 0, TSVC_WAIT_MS, NULL, b.msg, sizeof(b.msg)),
	        S_OK);
	nng_msleep(100);
	assert_int_equal(atomic_load(&tsvc_write_runs), 1);

	/* one retry: the same call id again once reconnected, answered by run 2 */
	b = (call_bg){.c = c,
	              .o = {.timeout_ms = TSVC_WAIT_MS, .once = 1, .retries = 1},
	              .sleep_ms = 400};
	assert_int_equal(pthread_create(&th, NULL, call_bg_main, &b), 0);
	wait_for(&tsvc_write_runs, 2);
	th_proxy_drop_all(px);
	pthread_join(th, NULL);
	assert_int_equal(b.rc, S_OK);
	assert_string_equal(b.text, "run 2");
	assert_int_equal(atomic_load(&tsvc_write_runs), 2);
	rpc_client_stats(c, &st);
	assert_int_equal(st.retries, 1);
	rpc_client_destroy(c);
	th_proxy_stop(px);
	rpc_server_destroy(srv);
}

/* A write call made while no server runs fails at once and never runs: not
 * when the server comes up, not ever. */
static void
test_call_before_server_never_runs(void **state)
{
	char url[128], msg[256];
	rpc_server *srv;
	rpc_client *c;
	call_bg b;
	int64_t t0;

	(void)state;
	atomic_store(&tsvc_write_runs, 0);
	tsvc_url(url, sizeof(url), "ipc");
	c = tsvc_client(url, 0);
	b = (call_bg){.c = c, .o = {.timeout_ms = 60000, .once = 1, .retries = 1}};
	t0 = tsvc_now_ms();
	call_bg_main(&b);
	assert_int_equal(b.rc, S_UNAVAILABLE);
	assert_true(tsvc_now_ms() - t0 < TSVC_WAIT_MS / 4); /* not its 60 s */
	srv = tsvc_server(url, NULL);
	tsvc_wait_connected(c);
	assert_int_equal(tsvc_call(c, "Echo", "fence", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	                 S_OK);
	nng_msleep(100);
	assert_int_equal(atomic_load(&tsvc_write_runs), 0);
	/* and a new call runs (nothing else is running) */
	call_bg_main(&b);
	assert_int_equal(b.rc, S_OK);
	assert_string_equal(b.text, "run 1");
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
}

/* A long call (60 s deadline) queued behind the only busy worker with a 200 ms
 * start deadline is refused DEADLINE_EXCEEDED when the worker frees up, and
 * never starts; the long deadline only applies once a call runs. */
static void
test_start_deadline(void **state)
{
	rpc_server_opts so = {.workers = 1};
	char url[128];
	rpc_server *srv;
	rpc_client *c;
	call_bg hold, late;
	pthread_t th;
	rpc_server_stats_t st;

	(void)state;
	atomic_store(&tsvc_write_runs, 0);
	tsvc_url(url, sizeof(url), "ipc");
	srv = tsvc_server(url, &so);
	c = tsvc_client(url, 0);
	hold = (call_bg){.c = c, .o = {.timeout_ms = TSVC_WAIT_MS, .once = 1}, .sleep_ms = 600};
	assert_int_equal(pthread_create(&th, NULL, call_bg_main, &hold), 0);
	wait_for(&tsvc_write_runs, 1);
	late = (call_bg){.c = c, .o = {.timeout_ms = 60000, .start_ms = 200, .once = 1}};
	call_bg_main(&late);
	assert_int_equal(late.rc, S_DEADLINE);
	assert_non_null(strstr(late.msg, "before Write started"));
	pthread_join(th, NULL);
	assert_int_equal(hold.rc, S_OK);
	assert_int_equal(atomic_load(&tsvc_write_runs), 1);
	rpc_server_stats(srv, &st);
	assert_int_equal(st.late, 1);
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_repeat_answered_from_first),
	        cmocka_unit_test(test_repeat_waits_for_running_first),
	        cmocka_unit_test(test_dropped_connection),
	        cmocka_unit_test(test_call_before_server_never_runs),
	        cmocka_unit_test(test_start_deadline),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini();
	return rc;
}
