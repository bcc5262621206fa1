/* server_guard_test.c - a running amlrisk-core against hostile and unlucky
 * callers: envelopes nested 100 to 200,000 deep (a 75 KB one used to crash
 * it), a 4 MiB flood of empty metadata entries (its memory must not grow by
 * the 112 MiB that used to be unpacked), calls without or with a wrong
 * secret, a secret file rotated while serving, TLS client certificates, the
 * address policy, a port already taken, a write call repeated, and amlctl with
 * no core. Each test has its own database and address. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "srv_th.h"
#include "th.h"

#define TS_UNAUTH    16
#define OTHER_SECRET "a-secret-the-core-does-not-know"
#define NEW_SECRET   "the-rotated-secret-0123456789"

/* The core's peak resident memory (VmHWM), in KiB. */
static long
peak_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void
assert_refused(const Aml__V1__RpcResponse *r)
{
	int status = (int)r->reply->status;

	assert_true(status == TS_INVALID || status == TS_EXHAUSTED);
	assert_true(r->reply->message[0] != '\0');
}

/* Nested envelopes of every kind and depth: each answered with an error, the
 * core serving on; the old recursive field at 20,000 levels killed it. */
static void
test_nested_envelopes(void **st)
{
	static const uint8_t tags[] = {0x32 /* the old RpcRequest.calls */, 0x0a, 0x1a, 0x22};
	static const size_t depths[] = {100, 1000, 20000, 200000};
	Aml__V1__HealthResponse *h;
	ts_core c;

	(void)st;
	ts_core_init(&c, 1);
	ts_core_start(&c, NULL);
	for (size_t t = 0; t < sizeof(tags); t++) {
		for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
			size_t len;
			uint8_t *buf = th_pb_nest(tags[t], depths[d], NULL, 0, &len);
			Aml__V1__RpcResponse *r = ts_raw(c.rpc_url, buf, len);

			assert_refused(r);
			aml__v1__rpc_response__free_unpacked(r, NULL);
			free(buf);
		}
	}
	h = ts_health(&c);
	assert_non_null(h->rpc);
	assert_true(h->rpc->rejected >= 16);
	aml__v1__health_response__free_unpacked(h, NULL);
	assert_int_equal(kill(c.pid, 0), 0);
	assert_true(ts_file_has(c.log, "rpc.rejected", 5000));
	ts_core_fini(&c);
}

/* Just under the 4 MiB message limit of empty metadata entries, three
 * times: refused RESOURCE_EXHAUSTED, the core's peak memory grows by about
 * the messages themselves (each used to unpack into 112 MiB). */
static void
test_metadata_flood(void **st)
{
	size_t n = ((size_t)4 << 20) / 2 - 32, len;
	uint8_t *entries = malloc(2 * n), *body;
	long before, after;
	ts_core c;

	(void)st;
	assert_non_null(entries);
	for (size_t i = 0; i < n; i++) {
		entries[2 * i] = 0x22; /* RpcCall.metadata, empty */
		entries[2 * i + 1] = 0x00;
	}
	body = th_pb_nest(0x0a, 1, entries, 2 * n, &len); /* RpcRequest.call */
	free(entries);
	assert_true(len <= ((size_t)4 << 20));
	ts_core_init(&c, 1);
	ts_core_start(&c, NULL);
	before = peak_kib(c.pid);
	for (int i = 0; i < 3; i++) {
		Aml__V1__RpcResponse *r = ts_raw(c.rpc_url, body, len);

		assert_int_equal(r->reply->status, TS_EXHAUSTED);
		assert_non_null(strstr(r->reply->message, "metadata: more than 64"));
		aml__v1__rpc_response__free_unpacked(r, NULL);
	}
	after = peak_kib(c.pid);
	print_message("core peak RSS %ld KiB -> %ld KiB over three 4 MiB floods\n", before, after);
	assert_true(after - before < 48 * 1024);
	aml__v1__health_response__free_unpacked(ts_health(&c), NULL);
	free(body);
	ts_core_fini(&c);
}

/* A Health envelope with auth (NULL = none), packed and sent raw. */
static Aml__V1__RpcResponse *
health_raw(const char *url, const char *auth)
{
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;
	uint8_t buf[512];

	call.request_id = 7;
	call.method = "aml.v1.RiskService/Health";
	env.call = &call;
	env.auth.data = (uint8_t *)auth;
	env.auth.len = auth != NULL ? strlen(auth) : 0;
	return ts_raw(url, buf, aml__v1__rpc_request__pack(&env, buf));
}

/* The test stack gives the core a secret: calls without it or with another
 * get UNAUTHENTICATED and nothing else, are counted in Health and logged. */
static void
test_unauthenticated(void **st)
{
	Aml__V1__HealthResponse *h;
	Aml__V1__RpcResponse *r;
	ts_core c;

	(void)st;
	th_env("RPC_SECRET_FILE"); /* the stack's; every process here inherits it */
	ts_core_init(&c, 1);
	ts_core_start(&c, NULL);
	r = health_raw(c.rpc_url, NULL);
	assert_int_equal(r->reply->status, TS_UNAUTH);
	assert_string_equal(r->reply->message, "unauthenticated");
	assert_int_equal(r->reply->payload.len, 0);
	aml__v1__rpc_response__free_unpacked(r, NULL);
	r = health_raw(c.rpc_url, OTHER_SECRET);
	assert_int_equal(r->reply->status, TS_UNAUTH);
	aml__v1__rpc_response__free_unpacked(r, NULL);
	r = health_raw(c.rpc_url, th_rpc_secret());
	assert_int_equal(r->reply->status, TS_OK);
	aml__v1__rpc_response__free_unpacked(r, NULL);
	h = ts_health(&c);
	assert_int_equal(h->rpc->unauthenticated, 2);
	aml__v1__health_response__free_unpacked(h, NULL);
	assert_true(ts_file_has(c.log, "rpc.unauthenticated calls=2 total=2", 5000));
	assert_true(ts_file_has(c.log, "auth=secret", 1));
	ts_core_fini(&c);
}

static void
write_file(const char *path, const char *text)
{
	char tmp[300];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_non_null(f = fopen(tmp, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* Rotation without downtime: the core's file names the new secret and the
 * stack's as the previous one, both served; the file then drops the old one
 * and the core, still running, refuses it within a few seconds. */
static void
test_secret_rotation(void **st)
{
	char path[256], env_file[300], text[600];
	char *env[] = {env_file, NULL};
	Aml__V1__RpcResponse *r;
	int64_t end;
	int status = TS_OK;
	ts_core c;

	(void)st;
	assert_non_null(th_rpc_secret());
	ts_core_init(&c, 1);
	snprintf(path, sizeof(path), "%s/secret", c.dir);
	snprintf(text, sizeof(text), "%s\n%s\n", NEW_SECRET, th_rpc_secret());
	write_file(path, text);
	snprintf(env_file, sizeof(env_file), "RPC_SECRET_FILE=%s", path);
	ts_core_start(&c, env); /* its client sends the stack's secret: the previous one */
	r = health_raw(c.rpc_url, NEW_SECRET);
	assert_int_equal(r->reply->status, TS_OK);
	aml__v1__rpc_response__free_unpacked(r, NULL);
	write_file(path, NEW_SECRET "\n");
	for (end = th_now_ms() + 10000; status == TS_OK && th_now_ms() < end; usleep(50000)) {
		r = health_raw(c.rpc_url, th_rpc_secret());
		status = (int)r->reply->status;
		aml__v1__rpc_response__free_unpacked(r, NULL);
	}
	assert_int_equal(status, TS_UNAUTH);
	r = health_raw(c.rpc_url, NEW_SECRET);
	assert_int_equal(r->reply->status, TS_OK);
	aml__v1__rpc_response__free_unpacked(r, NULL);
	assert_true(ts_file_has(c.log, "rpc.secret_reloaded", 1000));
	/* a broken file keeps the secret in use */
	write_file(path, "short\n");
	assert_true(ts_file_has(c.log, "rpc.secret_reload_failed", 10000));
	r = health_raw(c.rpc_url, NEW_SECRET);
	assert_int_equal(r->reply->status, TS_OK);
	aml__v1__rpc_response__free_unpacked(r, NULL);
	ts_core_fini(&c);
}

/* An address other hosts reach needs authentication (or RPC_INSECURE=1); a
 * port taken by someone else is reported as such. */
static void
test_listen_policy(void **st)
{
	char db[1100], listen_env[100], log[256];
	char *open_env[] = {db, listen_env, "RPC_SECRET_FILE=", "RPC_SECRET=", NULL};
	char *insecure_env[] = {
	        db, listen_env, "RPC_SECRET_FILE=", "RPC_SECRET=", "RPC_INSECURE=1", NULL};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int status, fd;
	pid_t pid;
	ts_core c;

	(void)st;
	ts_core_init(&c, 1);
	snprintf(db, sizeof(db), "DATABASE_URL=%s", c.db_url);
	snprintf(log, sizeof(log), "%s/policy.log", c.dir);
	snprintf(listen_env, sizeof(listen_env), "RPC_LISTEN=tcp://0.0.0.0:%d", ts_free_port());
	status = ts_core_run(open_env, log, 30000, &pid);
	assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
	assert_true(ts_file_has(log, "server.listen_refused", 1));
	assert_true(ts_file_has(log, "RPC_INSECURE=1", 1));
	assert_int_equal(ts_core_run(insecure_env, log, 1000, &pid), -1); /* it serves */
	assert_true(ts_file_has(log, "server.insecure", 10000));
	assert_true(WIFEXITED(th_stop(pid, SIGTERM, 30000)));
	/* a port someone holds */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(listen_env, sizeof(listen_env), "RPC_LISTEN=tcp://127.0.0.1:%d",
	         ntohs(a.sin_port));
	status = ts_core_run(open_env, log, 30000, &pid);
	assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
	assert_true(ts_file_has(log, "error=\"address already in use\"", 1));
	close(fd);
	ts_core_fini(&c);
}

/* Runs amlctl (argv NULL-terminated, argv[0] ignored) with env; returns its
 * exit status; its output goes to log. */
static int
amlctl(char *const argv[], char *const env[], const char *log, int64_t *ms)
{
	int64_t t0 = th_now_ms();
	pid_t pid = th_spawn("amlctl", argv, env, log);
	int status = th_stop(pid, 0, 60000);

	if (ms != NULL)
		*ms = th_now_ms() - t0;
	assert_true(status != -1 && WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* No core: amlctl fails at once (it used to wait for the deadline, up to an
 * hour for reload), naming the state. */
static void
test_amlctl_without_core(void **st)
{
	char url[100], log[] = "/tmp/amlctl-nocore-XXXXXX";
	char *reload[] = {"amlctl", "--url", url, "reload", NULL};
	char *health[] = {"amlctl", "--url", url, "--timeout", "60000", "health", NULL};
	int64_t ms;
	int fd;

	(void)st;
	assert_true((fd = mkstemp(log)) >= 0);
	close(fd);
	/* a path nobody serves (a TCP port found free could be taken meanwhile) */
	snprintf(url, sizeof(url), "ipc://%s.ipc", log);
	assert_int_equal(amlctl(reload, NULL, log, &ms), 1);
	print_message("amlctl reload with no core: exit 1 after %lld ms\n", (long long)ms);
	assert_true(ms < 5000);
	assert_true(ts_file_has(log, "UNAVAILABLE", 1));
	assert_true(ts_file_has(log, "not connected", 1));
	assert_int_equal(amlctl(health, NULL, log, &ms), 1);
	assert_true(ms < 5000);
	unlink(log);
}

/* TLS with client certificates, through amlctl: with the test CA's client
 * certificate it is served, without one it fails at once. */
static void
test_tls_client_certificates(void **st)
{
	char dir[512], db[1100], listen_env[128], cert[600], ca[600], log[256], ctl_log[256];
	char url[100], ctl_ca[600], ctl_cert[600];
	char *core_env[] = {db, listen_env, cert, ca, NULL};
	char *with_cert[] = {ctl_ca, ctl_cert, "RPC_TLS_SERVER_NAME=localhost", NULL};
	char *without[] = {ctl_ca, "RPC_TLS_SERVER_NAME=localhost", NULL};
	char *health[] = {"amlctl", "--url", url, "--timeout", "2000", "health", NULL};
	int64_t end;
	pid_t pid;
	ts_core c;

	(void)st;
	snprintf(dir, sizeof(dir), "%s/tests/rpc/tls", th_env("AMLRISK_SOURCE_DIR"));
	ts_core_init(&c, 1);
	snprintf(db, sizeof(db), "DATABASE_URL=%s", c.db_url);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", ts_free_port());
	snprintf(listen_env, sizeof(listen_env), "RPC_LISTEN=%s", url);
	snprintf(cert, sizeof(cert), "RPC_TLS_CERT_KEY=%s/server.pem", dir);
	snprintf(ca, sizeof(ca), "RPC_TLS_CLIENT_CA=%s/ca.pem", dir);
	snprintf(ctl_ca, sizeof(ctl_ca), "RPC_TLS_CA=%s/ca.pem", dir);
	snprintf(ctl_cert, sizeof(ctl_cert), "RPC_TLS_CERT_KEY=%s/client.pem", dir);
	snprintf(log, sizeof(log), "%s/tls-core.log", c.dir);
	snprintf(ctl_log, sizeof(ctl_log), "%s/tls-ctl.log", c.dir);
	assert_int_equal(ts_core_run(core_env, log, 500, &pid), -1);
	for (end = th_now_ms() + 60000; th_now_ms() < end; usleep(100000))
		if (amlctl(health, with_cert, ctl_log, NULL) == 0)
			break;
	assert_int_equal(amlctl(health, with_cert, ctl_log, NULL), 0);
	assert_true(ts_file_has(log, "auth=secret+client-cert", 1));
	assert_int_equal(amlctl(health, without, ctl_log, NULL), 1);
	assert_true(ts_file_has(ctl_log, "UNAVAILABLE", 1));
	assert_true(WIFEXITED(th_stop(pid, SIGTERM, 30000)));
	ts_core_fini(&c);
}

/* RunScore sent twice with the same call id (a client's retry): one run,
 * both answered with it. */
static void
test_write_call_runs_once(void **st)
{
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;
	Aml__V1__RunScoreResponse *run[2];
	uint8_t payload[64], buf[512];
	PGconn *conn;
	ts_core c;

	(void)st;
	ts_core_init(&c, 1);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "once", 2000, 200, 7);
	ts_core_start(&c, NULL);
	call.method = "aml.v1.RiskService/RunScore";
	call.timeout_ms = 120000;
	call.payload.data = payload;
	call.payload.len = aml__v1__run_score_request__pack(&req, payload);
	call.call_id.data = (uint8_t *)"gateway-retry-01";
	call.call_id.len = 16;
	env.call = &call;
	ts_auth(&env);
	for (int i = 0; i < 2; i++) {
		Aml__V1__RpcResponse *r;

		call.request_id = 100 + (uint64_t)i;
		r = ts_raw(c.rpc_url, buf, aml__v1__rpc_request__pack(&env, buf));
		assert_int_equal(r->reply->status, TS_OK);
		run[i] = aml__v1__run_score_response__unpack(NULL, r->reply->payload.len,
		                                             r->reply->payload.data);
		assert_non_null(run[i]);
		aml__v1__rpc_response__free_unpacked(r, NULL);
	}
	assert_int_equal(run[0]->run->run_id, run[1]->run->run_id);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"), 1);
	for (int i = 0; i < 2; i++)
		aml__v1__run_score_response__free_unpacked(run[i], NULL);
	PQfinish(conn);
	ts_core_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_nested_envelopes),
	        cmocka_unit_test(test_metadata_flood),
	        cmocka_unit_test(test_unauthenticated),
	        cmocka_unit_test(test_secret_rotation),
	        cmocka_unit_test(test_listen_policy),
	        cmocka_unit_test(test_amlctl_without_core),
	        cmocka_unit_test(test_tls_client_certificates),
	        cmocka_unit_test(test_write_call_runs_once),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini();
	return rc;
}
