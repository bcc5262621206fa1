/* rpc_multi_test.c - several servers as one client (rpc_multi.h): the URL
 * list's check and its messages; reads spread over the servers and passing
 * over one that is down (sync, coalesced and asynchronous), also after a
 * server stops; writes passing over a dead server and remembered on the one
 * that took them. The "not the writer" answer of a real core is tested in
 * tests/gateway/gw_multi_test.c. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>

#include "amlrisk_err.h"
#include "rpc_multi.h"
#include "rpc_testsvc.h"

#define CALLS 40

static void
refused(const char *list, const char *says)
{
	char why[256] = "";

	assert_int_equal(rpc_multi_check(list, why, sizeof(why)), AMLRISK_EINVAL);
	if (strstr(why, says) == NULL)
		fail_msg("'%s': said \"%s\", not \"%s\"", list, why, says);
}

static void
test_list_check(void **st)
{
	char why[256], many[17 * 32] = "";

	(void)st;
	assert_int_equal(rpc_multi_check("ipc:///tmp/a", why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(rpc_multi_check("tcp://127.0.0.1:1,tls+tcp://[::1]:65535,ipc:///x,"
	                                 "tcp://core-0.core-peers:57100",
	                                 why, sizeof(why)),
	                 AMLRISK_OK);
	refused("", "no RPC URL given");
	refused(",", "URL 1 of the list is empty");
	refused("tcp://a:1,", "URL 2 of the list is empty");
	refused("tcp://a:1,,tcp://b:2", "URL 2 of the list is empty");
	refused("tcp://a", "URL 1 of the list, 'tcp://a', is not an RPC address");
	refused("tcp://a:0", "'tcp://a:0', is not an RPC address");
	refused("tcp://a:65536", "is not an RPC address");
	refused("tcp://a:1x", "is not an RPC address");
	refused("tcp://:1", "is not an RPC address");
	refused("tcp://a b:1", "is not an RPC address");
	refused("http://a:1", "'http://a:1', is not an RPC address (ipc://PATH");
	refused("ipc://", "is not an RPC address");
	refused(" tcp://a:1", "is not an RPC address");
	refused("tcp://a:1,tcp://b:2,tcp://a:1", "URL 3 of the list, 'tcp://a:1', repeats URL 1");
	for (int i = 0; i < 17; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%stcp://h%d:1",
		         i ? "," : "", i);
	refused(many, "more than 16 URLs");
}

static rpc_multi *
multi(const char *list)
{
	rpc_client_opts o = {.timeout_ms = TSVC_WAIT_MS, .caller = "tester"};
	rpc_multi *m = NULL;
	char why[256];

	if (rpc_multi_create(&m, list, &o, why, sizeof(why)) != AMLRISK_OK)
		fail_msg("%s: %s", list, why);
	return m;
}

static int
echo(rpc_multi *m, int coalesced, const char *text)
{
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	Rpctest__V1__EchoResponse *r = NULL;
	char msg[256];
	int rc;

	req.text = (char *)text;
	rc = rpc_multi_read(m, &rpctest__v1__test_service__descriptor, "Echo", &req.base,
	                    (ProtobufCMessage **)&r, 0, coalesced, msg, sizeof(msg));
	if (rc == 0) {
		assert_string_equal(r->text, text);
		tsvc_free(r);
	}
	return rc;
}

/* Asynchronous reads: the outcomes counted when each done has run. */
typedef struct async_count {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int done, ok;
} async_count;

static void
async_done(void *arg, int grpc, ProtobufCMessage *resp, const char *msg)
{
	async_count *a = arg;

	(void)msg;
	if (resp != NULL)
		protobuf_c_message_free_unpacked(resp, NULL);
	pthread_mutex_lock(&a->mtx);
	a->done++;
	a->ok += grpc == 0;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mtx);
}

static int
echo_async(rpc_multi *m, int n)
{
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	async_count a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

	req.text = "async";
	for (int i = 0; i < n; i++)
		rpc_multi_read_async(m, &rpctest__v1__test_service__descriptor, "Echo", &req.base,
		                     0, async_done, &a);
	pthread_mutex_lock(&a.mtx);
	while (a.done < n)
		pthread_cond_wait(&a.cv, &a.mtx);
	pthread_mutex_unlock(&a.mtx);
	return a.ok;
}

static void
test_reads_fail_over(void **st)
{
	char dead[128], url_a[128], url_b[128], list[512], bound_a[128], bound_b[128];
	rpc_server *a, *b;
	rpc_server_stats_t sa, sb;
	rpc_multi *m;

	(void)st;
	tsvc_url(dead, sizeof(dead), "ipc"); /* nobody listens there */
	tsvc_url(url_a, sizeof(url_a), "ipc");
	tsvc_url(url_b, sizeof(url_b), "tcp");
	a = tsvc_server(url_a, NULL);
	b = tsvc_server(url_b, NULL);
	tsvc_bound_url(bound_a, sizeof(bound_a), url_a, a);
	tsvc_bound_url(bound_b, sizeof(bound_b), url_b, b);
	snprintf(list, sizeof(list), "%s,%s,%s", dead, bound_a, bound_b);
	m = multi(list);
	assert_int_equal(rpc_multi_count(m), 3);
	assert_string_equal(rpc_multi_url(m, 0), dead);
	tsvc_wait_connected(rpc_multi_client(m, 1));
	tsvc_wait_connected(rpc_multi_client(m, 2));
	for (int i = 0; i < CALLS; i++) {
		assert_int_equal(echo(m, 0, "sync"), 0);
		assert_int_equal(echo(m, 1, "coalesced"), 0);
	}
	assert_int_equal(echo_async(m, CALLS), CALLS);
	/* spread over both live servers */
	rpc_server_stats(a, &sa);
	rpc_server_stats(b, &sb);
	assert_true(sa.exchanges >= CALLS / 2 && sb.exchanges >= CALLS / 2);
	/* one stops: every read still answers, from the other */
	rpc_server_destroy(a);
	for (int64_t end = tsvc_now_ms() + TSVC_WAIT_MS;
	     rpc_client_connected(rpc_multi_client(m, 1));)
		if (tsvc_now_ms() > end)
			fail_msg("the client still sees the stopped server");
	for (int i = 0; i < CALLS; i++) {
		assert_int_equal(echo(m, 0, "sync"), 0);
		assert_int_equal(echo(m, 1, "coalesced"), 0);
	}
	assert_int_equal(echo_async(m, CALLS), CALLS);
	/* none left: UNAVAILABLE at once, not a wait for the deadline */
	rpc_server_destroy(b);
	for (int64_t end = tsvc_now_ms() + TSVC_WAIT_MS;
	     rpc_client_connected(rpc_multi_client(m, 2));)
		if (tsvc_now_ms() > end)
			fail_msg("the client still sees the stopped server");
	{
		int64_t t0 = tsvc_now_ms();
		assert_int_equal(echo(m, 0, "none"), AML__V1__STATUS_CODE__UNAVAILABLE);
		assert_int_equal(echo_async(m, 4), 0);
		assert_true(tsvc_now_ms() - t0 < TSVC_WAIT_MS / 2);
	}
	rpc_multi_destroy(m);
}

static int
write_call(rpc_multi *m)
{
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	Rpctest__V1__EchoResponse *r = NULL;
	rpc_call_opts o = {.once = 1};
	char msg[256];
	int rc;

	req.text = "w";
	rc = rpc_multi_write(m, &rpctest__v1__test_service__descriptor, "Write", &req.base,
	                     (ProtobufCMessage **)&r, &o, msg, sizeof(msg));
	tsvc_free(r);
	return rc;
}

static void
test_write_finds_the_server(void **st)
{
	char dead[128], url[128], list[300];
	rpc_server *s;
	rpc_client_stats_t before, after;
	rpc_multi *m;
	int runs0 = atomic_load(&tsvc_write_runs);

	(void)st;
	tsvc_url(dead, sizeof(dead), "ipc");
	tsvc_url(url, sizeof(url), "ipc");
	s = tsvc_server(url, NULL);
	snprintf(list, sizeof(list), "%s,%s", dead, url);
	m = multi(list);
	tsvc_wait_connected(rpc_multi_client(m, 1));
	assert_int_equal(write_call(m), 0);
	assert_int_equal(atomic_load(&tsvc_write_runs), runs0 + 1);
	/* remembered: the next write goes straight there */
	rpc_client_stats(rpc_multi_client(m, 0), &before);
	assert_int_equal(write_call(m), 0);
	rpc_client_stats(rpc_multi_client(m, 0), &after);
	assert_int_equal(after.calls, before.calls);
	assert_int_equal(atomic_load(&tsvc_write_runs), runs0 + 2);
	rpc_multi_destroy(m);
	rpc_server_destroy(s);
	tsvc_join_later();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_list_check),
	        cmocka_unit_test(test_reads_fail_over),
	        cmocka_unit_test(test_write_finds_the_server),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini();
	return rv;
}
