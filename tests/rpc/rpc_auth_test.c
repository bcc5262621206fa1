/* rpc_auth_test.c - authenticated RPC: a server with a secret answers calls
 * without it or with a wrong one UNAUTHENTICATED (and says no more), accepts
 * the current and the previous secret during a rotation, changes secrets
 * while serving; TLS with client certificates refuses clients without one or
 * with one from another CA; a non-local address needs one or the other. */
#include "rpc_testsvc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "amlrisk_err.h"

enum {
	S_OK = AML__V1__STATUS_CODE__OK,
	S_UNAVAILABLE = AML__V1__STATUS_CODE__UNAVAILABLE,
	S_UNAUTHENTICATED = AML__V1__STATUS_CODE__UNAUTHENTICATED,
};

#define NEW_SECRET  "the-new-secret-0123456789abcdef"
#define OLD_SECRET  "the-old-secret-0123456789abcdef"
#define CLIENT_CERT RPCTEST_TLS_DIR "/client.pem"
#define ROGUE_CERT  RPCTEST_TLS_DIR "/rogue-client.pem"

/* A client of url sending secret (NULL = none), and for tls+tcp:// the test
 * CA and, when cert is set, that client certificate. */
static rpc_client *
client(const char *url, const char *secret, const char *cert)
{
	rpc_client_opts o = {
	        .caller = "tester", .secret = secret, .start_timeout_ms = TSVC_WAIT_MS};
	rpc_client *c = NULL;

	if (strncmp(url, "tls", 3) == 0) {
		o.tls_ca_file = RPCTEST_TLS_DIR "/ca.pem";
		o.tls_server_name = "localhost";
		o.tls_cert_key_file = cert;
	}
	assert_int_equal(rpc_client_create(&c, url, &o), AMLRISK_OK);
	return c;
}

/* One Echo from a fresh client(url, secret, cert); returns the status, msg set. */
static int
echo_as(const char *url, const char *secret, const char *cert, char *msg, size_t msglen)
{
	rpc_client *c = client(url, secret, cert);
	int rc = tsvc_call(c, "Echo", "hello", 0, 0, TSVC_WAIT_MS, NULL, msg, msglen);

	rpc_client_destroy(c);
	return rc;
}

static int
echo_with(const char *url, const char *secret, char *msg, size_t msglen)
{
	return echo_as(url, secret, NULL, msg, msglen);
}

static void
test_secret_required(void **state)
{
	rpc_server_opts so = {.secret = NEW_SECRET};
	rpc_server_stats_t st;
	char url[128], bound[128], msg[256];
	rpc_server *srv;
	Aml__V1__RpcResponse *r;

	(void)state;
	tsvc_url(url, sizeof(url), "tcp");
	srv = tsvc_server(url, &so);
	tsvc_bound_url(bound, sizeof(bound), url, srv);
	assert_int_equal(echo_with(bound, NULL, msg, sizeof(msg)), S_UNAUTHENTICATED);
	assert_string_equal(msg, "unauthenticated");
	assert_int_equal(echo_with(bound, OLD_SECRET, msg, sizeof(msg)), S_UNAUTHENTICATED);
	assert_string_equal(msg, "unauthenticated");
	/* one byte short, one byte more */
	assert_int_equal(echo_with(bound, "the-new-secret-0123456789abcde", msg, sizeof(msg)),
	                 S_UNAUTHENTICATED);
	assert_int_equal(echo_with(bound, NEW_SECRET "f", msg, sizeof(msg)), S_UNAUTHENTICATED);
	assert_int_equal(echo_with(bound, NEW_SECRET, msg, sizeof(msg)), S_OK);
	/* an unknown method without the secret: not told that it is unknown */
	r = tsvc_raw_envelope(bound, 9, "rpctest.v1.TestService/Nope", 0, NULL, 0);
	assert_int_equal(r->reply->status, S_UNAUTHENTICATED);
	assert_string_equal(r->reply->message, "unauthenticated");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	rpc_server_stats(srv, &st);
	assert_int_equal(st.unauthenticated, 5);
	/* a coalesced call carries it too */
	{
		rpc_client *c = client(bound, NEW_SECRET, NULL);

		assert_int_equal(tsvc_call_coalesced(c, "Echo", "x", 0, 0, TSVC_WAIT_MS, NULL, msg,
		                                     sizeof(msg)),
		                 S_OK);
		rpc_client_destroy(c);
	}
	rpc_server_destroy(srv);
}

/* Rotation: the server takes both, clients move over, the old one is dropped;
 * all while serving. */
static void
test_secret_rotation(void **state)
{
	rpc_server_opts so = {.secret = OLD_SECRET};
	char url[128], msg[256];
	rpc_server *srv;

	(void)state;
	tsvc_url(url, sizeof(url), "ipc");
	srv = tsvc_server(url, &so);
	assert_int_equal(echo_with(url, OLD_SECRET, msg, sizeof(msg)), S_OK);
	assert_int_equal(echo_with(url, NEW_SECRET, msg, sizeof(msg)), S_UNAUTHENTICATED);
	assert_int_equal(rpc_server_set_secret(srv, NEW_SECRET, OLD_SECRET), AMLRISK_OK);
	assert_int_equal(echo_with(url, OLD_SECRET, msg, sizeof(msg)), S_OK);
	assert_int_equal(echo_with(url, NEW_SECRET, msg, sizeof(msg)), S_OK);
	assert_int_equal(echo_with(url, "a-third-secret-0123456789", msg, sizeof(msg)),
	                 S_UNAUTHENTICATED);
	assert_int_equal(rpc_server_set_secret(srv, NEW_SECRET, NULL), AMLRISK_OK);
	assert_int_equal(echo_with(url, OLD_SECRET, msg, sizeof(msg)), S_UNAUTHENTICATED);
	assert_int_equal(echo_with(url, NEW_SECRET, msg, sizeof(msg)), S_OK);
	/* bad secrets are refused, the good one stays */
	assert_int_equal(rpc_server_set_secret(srv, "short", NULL), AMLRISK_EINVAL);
	assert_int_equal(rpc_server_set_secret(srv, NEW_SECRET, "line\nbreak-0123456789"),
	                 AMLRISK_EINVAL);
	assert_int_equal(echo_with(url, NEW_SECRET, msg, sizeof(msg)), S_OK);
	/* and turned off */
	assert_int_equal(rpc_server_set_secret(srv, NULL, NULL), AMLRISK_OK);
	assert_int_equal(echo_with(url, NULL, msg, sizeof(msg)), S_OK);
	rpc_server_destroy(srv);
}

/* Without authentication a server binds only where other hosts cannot reach. */
static void
test_exposed_address_needs_auth(void **state)
{
	rpc_server_opts none = {0}, secret = {.secret = NEW_SECRET}, insecure = {.insecure = 1};
	rpc_server_opts certs = {.tls_cert_key_file = RPCTEST_TLS_DIR "/server.pem",
	                         .tls_ca_file = RPCTEST_TLS_DIR "/ca.pem"};
	rpc_server *srv = NULL;

	(void)state;
	assert_int_equal(rpc_server_create(&srv, "tcp://0.0.0.0:0", &none), AMLRISK_EAUTH);
	assert_int_equal(rpc_server_create(&srv, "tcp://[::]:0", &none), AMLRISK_EAUTH);
	assert_null(srv);
	assert_int_equal(rpc_server_create(&srv, "tcp://0.0.0.0:0", &secret), AMLRISK_OK);
	rpc_server_destroy(srv);
	assert_int_equal(rpc_server_create(&srv, "tcp://0.0.0.0:0", &insecure), AMLRISK_OK);
	rpc_server_destroy(srv);
	if (rpc_tls_supported()) {
		assert_int_equal(rpc_server_create(&srv, "tls+tcp://0.0.0.0:0", &certs),
		                 AMLRISK_OK);
		rpc_server_destroy(srv);
	}
	assert_int_equal(rpc_server_create(&srv, "tcp://127.0.0.2:0", &none), AMLRISK_OK);
	rpc_server_destroy(srv);
	assert_true(rpc_url_is_local("ipc:///tmp/x.sock"));
	assert_true(rpc_url_is_local("tcp://localhost:1"));
	assert_true(rpc_url_is_local("tcp://[::1]:1"));
	assert_false(rpc_url_is_local("tcp://127.example.com:1"));
	assert_false(rpc_url_is_local("tcp://:1"));
	assert_false(rpc_url_is_local("tls+tcp://10.0.0.1:1"));
}

/* TLS with client certificates: a client with the CA's certificate is
 * served; one without, or with one from another CA, never connects and its
 * calls fail at once, naming the handshake. */
static void
test_tls_client_certificates(void **state)
{
	rpc_server_opts so = {.tls_ca_file = RPCTEST_TLS_DIR "/ca.pem"};
	char url[128], bound[128], msg[256];
	rpc_server *srv;
	int64_t t0;

	(void)state;
	if (!rpc_tls_supported()) {
		fail_msg("this NNG has no TLS");
	}
	tsvc_url(url, sizeof(url), "tls");
	srv = tsvc_server(url, &so);
	tsvc_bound_url(bound, sizeof(bound), url, srv);
	assert_int_equal(echo_as(bound, NULL, CLIENT_CERT, msg, sizeof(msg)), S_OK);
	t0 = tsvc_now_ms();
	assert_int_equal(echo_as(bound, NULL, NULL, msg, sizeof(msg)), S_UNAVAILABLE);
	assert_true(tsvc_now_ms() - t0 < TSVC_WAIT_MS / 2);
	assert_non_null(strstr(msg, "not connected"));
	assert_int_equal(echo_as(bound, NULL, ROGUE_CERT, msg, sizeof(msg)), S_UNAVAILABLE);
	rpc_server_destroy(srv);
	/* both: a certificate and the secret */
	so.secret = NEW_SECRET;
	srv = tsvc_server(url, &so);
	tsvc_bound_url(bound, sizeof(bound), url, srv);
	assert_int_equal(echo_as(bound, NULL, CLIENT_CERT, msg, sizeof(msg)), S_UNAUTHENTICATED);
	assert_int_equal(echo_as(bound, NEW_SECRET, CLIENT_CERT, msg, sizeof(msg)), S_OK);
	rpc_server_destroy(srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_secret_required),
	        cmocka_unit_test(test_secret_rotation),
	        cmocka_unit_test(test_exposed_address_needs_auth),
	        cmocka_unit_test(test_tls_client_certificates),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini();
	return rc;
}
