/* rpc_roundtrip_test.c - calls that should work: round trips over ipc://, tcp://
 * and tls+tcp://, many threads at once, slow and later answers not blocking fast
 * ones, reconnection after a server restart, UNAVAILABLE with no server. */
#include "rpc_testsvc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "amlrisk_err.h"

enum { S_OK = AML__V1__STATUS_CODE__OK, S_UNAVAILABLE = AML__V1__STATUS_CODE__UNAVAILABLE };

static void
roundtrip(const char *kind)
{
	char url[128], curl[128], msg[256];
	Rpctest__V1__EchoResponse *r = NULL;
	rpc_server *srv;
	rpc_client *c;

	tsvc_url(url, sizeof(url), kind);
	srv = tsvc_server(url, NULL);
	tsvc_bound_url(curl, sizeof(curl), url, srv);
	c = tsvc_client(curl, 0);
	assert_int_equal(tsvc_call(c, "Echo", "hello", 200, 0, TSVC_WAIT_MS, &r, msg, sizeof(msg)),
	                 S_OK);
	assert_string_equal(msg, "");
	assert_string_equal(r->text, "hello");
	assert_int_equal(r->blob.len, 200);
	assert_string_equal(r->caller, "tester");
	assert_true(r->time_left_ms > 0 && r->time_left_ms <= TSVC_WAIT_MS);
	tsvc_free(r);
	/* a second call on the same client reuses the connection */
	assert_int_equal(tsvc_call(c, "Later", "again", 0, 1, TSVC_WAIT_MS, &r, msg, sizeof(msg)),
	                 S_OK);
	assert_string_equal(r->text, "again");
	tsvc_free(r);
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
	tsvc_join_later();
}

static void
test_roundtrip_ipc(void **state)
{
	(void)state;
	roundtrip("ipc");
}

static void
test_roundtrip_tcp(void **state)
{
	(void)state;
	roundtrip("tcp");
}

static void
test_roundtrip_tls(void **state)
{
	rpc_client_opts o = {0};
	rpc_client *c = NULL;
	rpc_server *srv;
	char url[128], msg[256];

	(void)state;
	if (!rpc_tls_supported()) {
		print_message("NNG without TLS: tls+tcp:// not tested\n");
		skip();
	}
	roundtrip("tls");
	/* a plain client never gets through to a TLS server */
	tsvc_url(url, sizeof(url), "tls");
	srv = tsvc_server(url, NULL);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rpc_server_port(srv));
	c = tsvc_client(url, 0);
	assert_int_equal(tsvc_call(c, "Echo", "x", 0, 0, 300, NULL, msg, sizeof(msg)),
	                 S_UNAVAILABLE);
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
	c = NULL;
	/* a TLS client needs a CA to verify the server against */
	assert_int_equal(rpc_client_create(&c, "tls+tcp://127.0.0.1:1", &o), AMLRISK_EINVAL);
	assert_null(c);
}

/* ---- many threads ---- */

#define THREADS 16
#define CALLS   100

typedef struct caller_arg {
	rpc_client *c;
	int id;
	int ok;
} caller_arg;

static void *
caller_main(void *p)
{
	caller_arg *a = p;
	Rpctest__V1__EchoResponse *r;
	char text[32], msg[256];
	int i;

	for (i = 0; i < CALLS; i++) {
		snprintf(text, sizeof(text), "t%d-%d", a->id, i);
		r = NULL;
		if (tsvc_call(a->c, i % 2 ? "Echo" : "Later", text, (size_t)i, 0, 10000, &r, msg,
		              sizeof(msg)) == S_OK &&
		    strcmp(r->text, text) == 0 && r->blob.len == (size_t)(i % 2 ? i : 0)) {
			a->ok++;
		}
		tsvc_free(r);
	}
	return NULL;
}

static void
test_many_threads(void **state)
{
	rpc_server_opts so = {.workers = 3, .contexts = 32};
	caller_arg args[THREADS];
	pthread_t th[THREADS];
	char url[128];
	rpc_server *srv;
	rpc_client *c;
	int i;

	(void)state;
	tsvc_url(url, sizeof(url), "ipc");
	srv = tsvc_server(url, &so);
	c = tsvc_client(url, 0);
	for (i = 0; i < THREADS; i++) {
		args[i] = (caller_arg){c, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, caller_main, &args[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ok, CALLS);
	}
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
	tsvc_join_later();
}

/* ---- slow and later answers ---- */

typedef struct bg_call {
	rpc_client *c;
	const char *method;
	uint32_t sleep_ms;
	int timeout_ms;
	int rc;
	int64_t done_ms;
	char msg[256];
} bg_call;

static void *
bg_main(void *p)
{
	bg_call *b = p;
	Rpctest__V1__EchoResponse *r = NULL;

	b->rc = tsvc_call(b->c, b->method, "bg", 0, b->sleep_ms, b->timeout_ms, &r, b->msg,
	                  sizeof(b->msg));
	if (b->rc == S_OK && strcmp(r->text, "bg") != 0) {
		b->rc = -1;
	}
	tsvc_free(r);
	b->done_ms = tsvc_now_ms();
	return NULL;
}

/* Fast calls are answered while the slow one holds its worker (or, for Later,
 * its own thread) for a second. */
static void
slow_vs_fast(const char *slow_method, int workers)
{
	rpc_server_opts so = {.workers = workers};
	bg_call slow = {.method = slow_method, .sleep_ms = 3000, .timeout_ms = 20000};
	char url[128], msg[256];
	rpc_server *srv;
	pthread_t th;
	int64_t t0, fast_done;
	int i;

	tsvc_url(url, sizeof(url), "ipc");
	srv = tsvc_server(url, &so);
	slow.c = tsvc_client(url, 0);
	assert_int_equal(pthread_create(&th, NULL, bg_main, &slow), 0);
	nng_msleep(200); /* the slow call is running */
	t0 = tsvc_now_ms();
	for (i = 0; i < 20; i++) {
		assert_int_equal(
		        tsvc_call(slow.c, "Echo", "fast", 0, 0, 5000, NULL, msg, sizeof(msg)),
		        S_OK);
	}
	fast_done = tsvc_now_ms();
	assert_true(fast_done - t0 < 2000);
	pthread_join(th, NULL);
	assert_int_equal(slow.rc, S_OK);
	assert_true(slow.done_ms > fast_done);
	rpc_client_destroy(slow.c);
	rpc_server_destroy(srv);
	tsvc_join_later();
}

static void
test_slow_handler_does_not_block_fast(void **state)
{
	(void)state;
	slow_vs_fast("Echo", 2);
}

static void
test_later_answer_from_other_thread(void **state)
{
	(void)state;
	/* one worker only: Later gives it back at once and answers from its thread */
	slow_vs_fast("Later", 1);
}

/* ---- reconnection and no server ---- */

static void
reconnect(const char *kind)
{
	char url[128], curl[128], msg[256];
	rpc_server *srv;
	rpc_client *c;
	int64_t t0;
	int port;

	tsvc_url(url, sizeof(url), kind);
	srv = tsvc_server(url, NULL);
	tsvc_bound_url(curl, sizeof(curl), url, srv);
	port = rpc_server_port(srv);
	c = tsvc_client(curl, 0);
	assert_int_equal(tsvc_call(c, "Echo", "one", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	                 S_OK);

	rpc_server_destroy(srv);
	for (int i = 0; i < 1000 && rpc_client_connected(c); i++) {
		nng_msleep(2); /* the pipe event of the server's end */
	}
	assert_false(rpc_client_connected(c));
	/* no server: fails at once, well before its 10 s deadline */
	t0 = tsvc_now_ms();
	assert_int_equal(tsvc_call(c, "Echo", "gone", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	                 S_UNAVAILABLE);
	assert_true(tsvc_now_ms() - t0 < TSVC_WAIT_MS / 4);
	assert_non_null(strstr(msg, "not connected"));

	/* same URL (same port for tcp) again; the client redials by itself */
	srv = tsvc_server(curl, NULL);
	if (port != 0) {
		assert_int_equal(rpc_server_port(srv), port);
	}
	tsvc_wait_connected(c);
	assert_int_equal(tsvc_call(c, "Echo", "two", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	                 S_OK);
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
}

static void
test_reconnect_ipc(void **state)
{
	(void)state;
	reconnect("ipc");
}

static void
test_reconnect_tcp(void **state)
{
	(void)state;
	reconnect("tcp");
}

static void
test_unavailable_without_server(void **state)
{
	char url[128], msg[256];
	rpc_client *c;
	int64_t t0, dt;

	(void)state;
	/* a call right after creation waits for the first connection attempt,
	 * which fails at once: so does the call, long before its deadline (it
	 * used to wait for the whole of it) */
	tsvc_url(url, sizeof(url), "ipc");
	c = tsvc_client(url, 0);
	t0 = tsvc_now_ms();
	assert_int_equal(tsvc_call(c, "Echo", "x", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	                 S_UNAVAILABLE);
	dt = tsvc_now_ms() - t0;
	assert_true(dt < TSVC_WAIT_MS / 4);
	assert_non_null(strstr(msg, url));
	assert_non_null(strstr(msg, "not connected"));
	/* and so does every later one, coalesced or not */
	assert_int_equal(
	        tsvc_call_coalesced(c, "Echo", "x", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	        S_UNAVAILABLE);
	assert_true(tsvc_now_ms() - t0 < TSVC_WAIT_MS / 4);
	rpc_client_destroy(c);
	/* tcp to a port nobody listens on: the refusal is in the message */
	c = tsvc_client("tcp://127.0.0.1:9", 0);
	assert_int_equal(tsvc_call(c, "Echo", "x", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	                 S_UNAVAILABLE);
	assert_non_null(strstr(msg, "refused"));
	rpc_client_destroy(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_ipc),
	        cmocka_unit_test(test_roundtrip_tcp),
	        cmocka_unit_test(test_roundtrip_tls),
	        cmocka_unit_test(test_many_threads),
	        cmocka_unit_test(test_slow_handler_does_not_block_fast),
	        cmocka_unit_test(test_later_answer_from_other_thread),
	        cmocka_unit_test(test_reconnect_ipc),
	        cmocka_unit_test(test_reconnect_tcp),
	        cmocka_unit_test(test_unavailable_without_server),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini(); /* NNG's own threads, so valgrind sees nothing left */
	return rc;
}
