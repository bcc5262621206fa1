/* rpc_errors_test.c - every way a call can go wrong gets its status code and the
 * server goes on serving: deadlines, unknown methods, malformed envelopes, garbage
 * on the socket, bad payloads, oversize messages, a full backlog, bad handlers. */
#include "rpc_testsvc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_err.h"

enum {
	S_OK = AML__V1__STATUS_CODE__OK,
	S_INVALID = AML__V1__STATUS_CODE__INVALID_ARGUMENT,
	S_DEADLINE = AML__V1__STATUS_CODE__DEADLINE_EXCEEDED,
	S_NOT_FOUND = AML__V1__STATUS_CODE__NOT_FOUND,
	S_EXHAUSTED = AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED,
	S_UNIMPLEMENTED = AML__V1__STATUS_CODE__UNIMPLEMENTED,
	S_INTERNAL = AML__V1__STATUS_CODE__INTERNAL,
	S_UNAVAILABLE = AML__V1__STATUS_CODE__UNAVAILABLE,
};

#define ECHO "rpctest.v1.TestService/Echo"

typedef struct fixture {
	char url[128];
	rpc_server *srv;
	rpc_client *c;
} fixture;

static fixture *
fixture_new(const char *kind, const rpc_server_opts *so, int client_max)
{
	fixture *f = calloc(1, sizeof(*f));
	char url[128];

	assert_non_null(f);
	tsvc_url(url, sizeof(url), kind);
	f->srv = tsvc_server(url, so);
	tsvc_bound_url(f->url, sizeof(f->url), url, f->srv);
	f->c = tsvc_client(f->url, client_max);
	tsvc_wait_connected(f->c); /* the tests time calls, not the first connection */
	return f;
}

/* Checks that the server still answers, then frees everything. */
static void
fixture_free(fixture *f)
{
	char msg[256];

	assert_int_equal(
	        tsvc_call(f->c, "Echo", "still here", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	        S_OK);
	rpc_client_destroy(f->c);
	rpc_server_destroy(f->srv);
	tsvc_join_later();
	free(f);
}

typedef struct bg_call {
	rpc_client *c;
	uint32_t sleep_ms;
	int rc;
	char msg[256];
} bg_call;

static void *
bg_main(void *p)
{
	bg_call *b = p;

	b->rc = tsvc_call(b->c, "Echo", "bg", 0, b->sleep_ms, 2 * TSVC_WAIT_MS, NULL, b->msg,
	                  sizeof(b->msg));
	return NULL;
}

static void
wait_for(atomic_int *v, int want)
{
	int i;

	for (i = 0; i < 1000 && atomic_load(v) != want; i++) {
		nng_msleep(5);
	}
	assert_int_equal(atomic_load(v), want);
}

/* ---- deadlines ---- */

static void
test_deadline_exceeded(void **state)
{
	fixture *f = fixture_new("ipc", NULL, 0);
	char msg[256];
	int64_t t0, dt;

	(void)state;
	t0 = tsvc_now_ms();
	assert_int_equal(tsvc_call(f->c, "Echo", "slow", 0, 2500, 150, NULL, msg, sizeof(msg)),
	                 S_DEADLINE);
	dt = tsvc_now_ms() - t0;
	assert_true(dt >= 140 && dt < 1500);
	fixture_free(f);
}

/* A call whose deadline passes while it waits for a worker is refused without
 * running its handler. */
static void
test_deadline_passed_in_backlog(void **state)
{
	rpc_server_opts so = {.workers = 1};
	fixture *f = fixture_new("ipc", &so, 0);
	bg_call slow = {.c = f->c, .sleep_ms = 600};
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	Aml__V1__RpcResponse *r;
	uint8_t payload[64];
	pthread_t th;
	int started;

	(void)state;
	atomic_store(&tsvc_echo_running, 0);
	assert_int_equal(pthread_create(&th, NULL, bg_main, &slow), 0);
	wait_for(&tsvc_echo_running, 1);
	started = atomic_load(&tsvc_echo_started);
	req.text = "late";
	r = tsvc_raw_envelope(f->url, 77, ECHO, 100, payload,
	                      rpctest__v1__echo_request__pack(&req, payload));
	assert_int_equal(r->reply->status, S_DEADLINE);
	assert_non_null(strstr(r->reply->message, "deadline"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	pthread_join(th, NULL);
	assert_int_equal(slow.rc, S_OK);
	assert_int_equal(atomic_load(&tsvc_echo_started), started); /* never ran */
	fixture_free(f);
}

/* ---- methods ---- */

static void
test_unknown_method(void **state)
{
	fixture *f = fixture_new("tcp", NULL, 0);
	Aml__V1__HealthRequest hreq = AML__V1__HEALTH_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	Aml__V1__RpcResponse *r;
	char msg[256];

	(void)state;
	/* a service the server does not have */
	assert_int_equal(rpc_client_call(f->c, &aml__v1__risk_service__descriptor, "Health",
	                                 &hreq.base, &resp, TSVC_WAIT_MS, msg, sizeof(msg)),
	                 S_UNIMPLEMENTED);
	assert_null(resp);
	assert_non_null(strstr(msg, "aml.v1.RiskService/Health"));
	/* a method the service does not have, straight on the wire */
	r = tsvc_raw_envelope(f->url, 5, "rpctest.v1.TestService/Nope", 0, NULL, 0);
	assert_int_equal(r->reply->status, S_UNIMPLEMENTED);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* not "Service/Method" at all */
	r = tsvc_raw_envelope(f->url, 6, "Echo", 0, NULL, 0);
	assert_int_equal(r->reply->status, S_INVALID);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* declared in the .proto, left NULL in the service struct */
	assert_int_equal(
	        tsvc_call(f->c, "Missing", "x", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	        S_UNIMPLEMENTED);
	/* unknown to the descriptor: refused before sending */
	assert_int_equal(tsvc_call(f->c, "Nope", "x", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	                 S_INVALID);
	fixture_free(f);
}

static void
test_bad_arguments(void **state)
{
	Rpctest__V1__Other other = RPCTEST__V1__OTHER__INIT;
	ProtobufCMessage *resp = NULL;
	rpc_server_opts bad = {.workers = -1};
	rpc_server *srv = NULL;
	rpc_client *c = NULL;
	char msg[256];

	(void)state;
	assert_int_equal(rpc_server_create(&srv, NULL, &bad), AMLRISK_EINVAL);
	assert_int_equal(rpc_server_create(&srv, "nope://x", NULL), AMLRISK_EINVAL);
	assert_int_equal(rpc_server_create(&srv, "tls+tcp://127.0.0.1:0", NULL), AMLRISK_EINVAL);
	assert_null(srv);
	assert_int_equal(rpc_server_create(&srv, "tcp://127.0.0.1:0", NULL), AMLRISK_OK);
	assert_int_equal(rpc_server_add_service(srv, tsvc_service()), AMLRISK_OK);
	assert_int_equal(rpc_server_add_service(srv, tsvc_service()), AMLRISK_EINVAL);
	assert_int_equal(rpc_server_start(srv), AMLRISK_OK);
	assert_int_equal(rpc_server_add_service(srv, tsvc_service()), AMLRISK_ESTATE);
	rpc_server_destroy(srv);
	rpc_server_destroy(NULL);
	rpc_client_destroy(NULL);

	assert_int_equal(rpc_client_create(&c, "nope://x", NULL), AMLRISK_EINVAL);
	assert_int_equal(rpc_client_create(&c, "ipc:///tmp/amlrisk-rpctest-none.sock", NULL),
	                 AMLRISK_OK);
	/* wrong request type for the method */
	assert_int_equal(rpc_client_call(c, &rpctest__v1__test_service__descriptor, "Echo",
	                                 &other.base, &resp, 100, msg, sizeof(msg)),
	                 S_INVALID);
	assert_non_null(strstr(msg, "rpctest.v1.Other"));
	assert_int_equal(
	        rpc_client_call(c, NULL, "Echo", &other.base, &resp, 100, msg, sizeof(msg)),
	        S_INVALID);
	assert_null(resp);
	rpc_client_destroy(c);
}

/* ---- bytes the client would never send ---- */

static void
test_malformed_envelope(void **state)
{
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x13, 0x37};
	fixture *f = fixture_new("ipc", NULL, 0);
	Aml__V1__RpcResponse *r = NULL;

	(void)state;
	assert_int_equal(tsvc_raw(f->url, junk, sizeof(junk), 5000, &r), 0);
	assert_non_null(r);
	assert_int_equal(r->reply->status, S_INVALID);
	assert_int_equal(r->reply->request_id, 0);
	assert_non_null(strstr(r->reply->message, "malformed envelope"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* an empty message decodes as an envelope without a method */
	assert_int_equal(tsvc_raw(f->url, "", 0, 5000, &r), 0);
	assert_non_null(r);
	assert_int_equal(r->reply->status, S_INVALID);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	fixture_free(f);
}

/* Bytes that are not even NNG's protocol, straight into the TCP port. */
static void
test_garbage_on_tcp_socket(void **state)
{
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02\xff\xfe";
	fixture *f = fixture_new("tcp", NULL, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd, i;

	(void)state;
	sa.sin_port = htons((uint16_t)rpc_server_port(f->srv));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 3; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
		nng_msleep(20);
		close(fd);
	}
	fixture_free(f);
}

static void
test_payload_does_not_decode(void **state)
{
	static const uint8_t bad[] = {0x0a, 0x50, 'a', 'b'}; /* field 1, 80 bytes; 2 follow */
	fixture *f = fixture_new("ipc", NULL, 0);
	Aml__V1__RpcResponse *r;

	(void)state;
	r = tsvc_raw_envelope(f->url, 9, ECHO, 0, bad, sizeof(bad));
	assert_int_equal(r->reply->status, S_INVALID);
	assert_non_null(strstr(r->reply->message, "rpctest.v1.EchoRequest"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = tsvc_raw_envelope(f->url, 10, "rpctest.v1.TestService/Strict", 0, bad, sizeof(bad));
	assert_int_equal(r->reply->status, S_INVALID);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	fixture_free(f);
}

static void
test_oversized_message(void **state)
{
	rpc_server_opts so = {.max_msg = 4096};
	fixture *f = fixture_new("tcp", &so, 0);
	Aml__V1__RpcResponse *r = NULL;
	rpc_client *small;
	uint8_t *huge;
	size_t n = 4096 + (128 << 10);
	char msg[256];

	(void)state;
	/* over the server's limit: answered RESOURCE_EXHAUSTED */
	assert_int_equal(
	        tsvc_call(f->c, "Echo", "big", 8000, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	        S_EXHAUSTED);
	assert_non_null(strstr(msg, "limit"));
	/* over the client's own limit: refused before sending */
	small = tsvc_client(f->url, 4096);
	assert_int_equal(
	        tsvc_call(small, "Echo", "big", 8000, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	        S_EXHAUSTED);
	assert_int_equal(
	        tsvc_call(small, "Echo", "fits", 3000, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	        S_OK);
	rpc_client_destroy(small);
	/* far over: NNG drops that connection; nothing comes back */
	huge = calloc(1, n);
	assert_non_null(huge);
	assert_int_not_equal(tsvc_raw(f->url, huge, n, 500, &r), 0);
	assert_null(r);
	free(huge);
	fixture_free(f);
}

/* ---- load ---- */

static void
test_backlog_full(void **state)
{
	rpc_server_opts so = {.workers = 1, .backlog = 2, .contexts = 16};
	fixture *f = fixture_new("ipc", &so, 0);
	bg_call bg[3] = {{.c = f->c, .sleep_ms = 2000}, {.c = f->c}, {.c = f->c}};
	pthread_t th[3];
	char msg[256];
	int64_t t0;
	int i;

	(void)state;
	atomic_store(&tsvc_echo_running, 0);
	assert_int_equal(pthread_create(&th[0], NULL, bg_main, &bg[0]), 0);
	wait_for(&tsvc_echo_running, 1); /* the only worker is busy */
	for (i = 1; i < 3; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, bg_main, &bg[i]), 0);
	}
	nng_msleep(150); /* both wait in the backlog */
	t0 = tsvc_now_ms();
	assert_int_equal(
	        tsvc_call(f->c, "Echo", "one too many", 0, 0, 5000, NULL, msg, sizeof(msg)),
	        S_EXHAUSTED);
	assert_true(tsvc_now_ms() - t0 < 1500);
	assert_non_null(strstr(msg, "backlog"));
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(bg[i].rc, S_OK);
	}
	fixture_free(f);
}

/* Destroying a server answers what waits in the backlog UNAVAILABLE and lets
 * the running call finish. */
static void
test_destroy_with_calls_in_flight(void **state)
{
	rpc_server_opts so = {.workers = 1};
	char url[128];
	rpc_server *srv;
	rpc_client *c;
	bg_call bg[2] = {{.sleep_ms = 500}, {.sleep_ms = 0}};
	pthread_t th[2];
	int i;

	(void)state;
	tsvc_url(url, sizeof(url), "ipc");
	srv = tsvc_server(url, &so);
	c = tsvc_client(url, 0);
	atomic_store(&tsvc_echo_running, 0);
	bg[0].c = bg[1].c = c;
	assert_int_equal(pthread_create(&th[0], NULL, bg_main, &bg[0]), 0);
	wait_for(&tsvc_echo_running, 1);
	assert_int_equal(pthread_create(&th[1], NULL, bg_main, &bg[1]), 0);
	nng_msleep(300);
	rpc_server_destroy(srv);
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
	}
	assert_int_equal(bg[0].rc, S_OK);
	assert_int_equal(bg[1].rc, S_UNAVAILABLE);
	/* "server shutting down" from the backlog, or, on a machine too slow to
	 * queue it in time, the connection's end */
	assert_true(strstr(bg[1].msg, "shutting down") != NULL ||
	            strstr(bg[1].msg, "lost") != NULL || strstr(bg[1].msg, "no server") != NULL);
	rpc_client_destroy(c);
}

/* ---- handlers that fail or misbehave ---- */

static void
test_handler_failures(void **state)
{
	fixture *f = fixture_new("ipc", NULL, 0);
	char msg[256];

	(void)state;
	assert_int_equal(tsvc_call(f->c, "Fail", "w1", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	                 S_NOT_FOUND);
	assert_string_equal(msg, "wallet w1 not found");
	assert_int_equal(amlrisk_err_from_grpc(S_NOT_FOUND), AMLRISK_ENOTFOUND);
	assert_int_equal(
	        tsvc_call(f->c, "Nothing", "x", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	        S_INTERNAL);
	assert_non_null(strstr(msg, "without a result"));
	assert_int_equal(
	        tsvc_call(f->c, "WrongType", "x", 0, 0, TSVC_WAIT_MS, NULL, msg, sizeof(msg)),
	        S_INTERNAL);
	assert_non_null(strstr(msg, "rpctest.v1.Other"));
	fixture_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_deadline_exceeded),
	        cmocka_unit_test(test_deadline_passed_in_backlog),
	        cmocka_unit_test(test_unknown_method),
	        cmocka_unit_test(test_bad_arguments),
	        cmocka_unit_test(test_malformed_envelope),
	        cmocka_unit_test(test_garbage_on_tcp_socket),
	        cmocka_unit_test(test_payload_does_not_decode),
	        cmocka_unit_test(test_oversized_message),
	        cmocka_unit_test(test_backlog_full),
	        cmocka_unit_test(test_destroy_with_calls_in_flight),
	        cmocka_unit_test(test_handler_failures),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini(); /* NNG's own threads, so valgrind sees nothing left */
	return rc;
}
