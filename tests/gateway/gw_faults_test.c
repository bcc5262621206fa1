/* gw_faults_test.c - amlrisk-gateway when the core is not there: /health,
 * /ready and every call answer 503 at once (they took the whole 5 s RPC
 * deadline, POST /reload-graph did not answer in 20 s), and a write request
 * made while the core was down, even one whose caller hung up, never runs
 * when the core comes back (one used to run 30 s later, and a live request
 * then got 409). Against the real core and PostgreSQL. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gwt.h"
#include "th.h"

#define PROBES   30
#define FAST_MS  1000 /* generous: the old answer took the 5000 ms deadline */
#define READY_MS 60000

static char db_url[512], rpc_url[96], core_log[256], gw_log[256], logs[600];
static pid_t core_pid, gw_pid;
static int gw_port;

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* PROBES requests of method target: each must answer 503 within FAST_MS;
 * prints the median. */
static void
all_fast_503(const char *method, const char *target)
{
	int64_t ms[PROBES];

	for (int i = 0; i < PROBES; i++) {
		gwt_resp r = gwt_http(gw_port, method, target, NULL, NULL, 0, 30000);

		gwt_assert_error(&r, 503);
		ms[i] = r.ms;
		if (r.ms >= FAST_MS) {
			fail_msg("%s %s took %lld ms with no core", method, target,
			         (long long)r.ms);
		}
		gwt_resp_free(&r);
	}
	qsort(ms, PROBES, sizeof(ms[0]), cmp_i64);
	print_message("%s %s, no core: 503, median %lld ms, max %lld ms of %d\n", method, target,
	              (long long)ms[PROBES / 2], (long long)ms[PROBES - 1], PROBES);
}

/* Sends a POST and hangs up without reading the answer: a caller that gave up. */
static void
post_and_hang_up(const char *target)
{
	static const char fmt[] = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
	char req[256];
	int fd = gwt_dial(gw_port), n;

	assert_true(fd >= 0);
	n = snprintf(req, sizeof(req), fmt, target);
	assert_int_equal(write(fd, req, (size_t)n), n);
	close(fd);
}

/* A few transactions (A -> B -> C, A labelled illicit): a graph to load and score. */
static void
db_load(void)
{
	PGconn *c = th_db_connect(db_url);
	PGresult *res = PQexec(
	        c,
	        "BEGIN; SELECT transactions_append_lock();"
	        "INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\") VALUES"
	        " ('t1', 'A', 'B', 1, now()), ('t2', 'B', 'C', 2, now());"
	        "INSERT INTO wallet_labels (wallet, label) VALUES ('A', 'illicit'); COMMIT");

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fail_msg("loading: %s", PQerrorMessage(c));
	}
	PQclear(res);
	PQfinish(c);
}

static int
setup(void **state)
{
	/* the 5 s query deadline of the defaults: what a call used to wait */
	static char *env[] = {"GATEWAY_RPC_TIMEOUT_MS=5000", NULL};

	(void)state;
	th_db_create(db_url, sizeof(db_url), 1);
	db_load();
	/* a path of its own: a TCP port found free could be taken by another
	 * test's server meanwhile, and then the "no core" address would answer */
	snprintf(rpc_url, sizeof(rpc_url), "ipc:///tmp/gw_faults_test.%d.ipc", (int)getpid());
	gwt_log_path(core_log, sizeof(core_log), "gw_faults_test", "core");
	gwt_log_path(gw_log, sizeof(gw_log), "gw_faults_test", "gw");
	snprintf(logs, sizeof(logs), "%s and %s", core_log, gw_log);
	gw_port = gwt_free_port();
	gw_pid = gwt_gateway_start(gw_port, rpc_url, env, gw_log); /* no core yet */
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	gwt_teardown(gw_pid, core_pid, db_url);
	return 0;
}

/* No core has ever run: every answer is an immediate 503. */
static void
test_no_core_fails_fast(void **state)
{
	gwt_resp r;

	(void)state;
	all_fast_503("GET", "/health");
	all_fast_503("GET", "/ready");
	all_fast_503("GET", "/scores/top");
	r = gwt_http(gw_port, "POST", "/reload-graph", NULL, NULL, 0, 30000);
	gwt_assert_error(&r, 503);
	assert_true(r.ms < FAST_MS);
	assert_non_null(strstr(r.body, "not connected"));
	gwt_resp_free(&r);
	/* every one of them counted as failed with no core connected */
	r = gwt_http(gw_port, "GET", "/metrics", NULL, NULL, 0, 30000);
	assert_int_equal(r.status, 200);
	{
		const char *v = strstr(r.body, "\namlrisk_gateway_rpc_unconnected_total ");

		assert_non_null(v);
		assert_true(strtoull(v + 39, NULL, 10) >= 3 * PROBES + 1);
	}
	gwt_resp_free(&r);
}

/* Write requests made while the core is down, one answered and one whose
 * caller hung up: none runs when the core comes back, and a new one runs at
 * once (not 409: nothing else is running). */
static void
test_write_while_down_never_runs(void **state)
{
	PGconn *conn;
	json_t *j;
	gwt_resp r;

	(void)state;
	r = gwt_http(gw_port, "POST", "/run-score", NULL, "{}", 2, 30000);
	gwt_assert_error(&r, 503);
	assert_true(r.ms < FAST_MS);
	gwt_resp_free(&r);
	post_and_hang_up("/run-score");
	post_and_hang_up("/reload-graph");
	core_pid = gwt_core_start(db_url, rpc_url, core_log);
	gwt_wait_status(gw_port, "/ready", 200, READY_MS, logs);
	/* a read through the same connection: anything left queued was before it */
	json_decref(gwt_get_json(gw_port, "/runs", 200));
	conn = th_db_connect(db_url);
	usleep(500000);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"), 0);
	j = gwt_post_json(gw_port, "/run-score", NULL, NULL, 200);
	json_decref(j);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"), 1);
	PQfinish(conn);
}

/* The core stops: health says so at once; it comes back: ready again. */
static void
test_core_stops(void **state)
{
	(void)state;
	gwt_wait_status(gw_port, "/ready", 200, READY_MS, logs);
	assert_true(th_stop(core_pid, SIGTERM, 30000) != -1);
	core_pid = 0;
	all_fast_503("GET", "/health");
	all_fast_503("GET", "/ready");
	core_pid = gwt_core_start(db_url, rpc_url, core_log);
	gwt_wait_status(gw_port, "/ready", 200, READY_MS, logs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_no_core_fails_fast),
	        cmocka_unit_test(test_write_while_down_never_runs),
	        cmocka_unit_test(test_core_stops),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
