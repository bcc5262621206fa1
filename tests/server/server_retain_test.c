/* server_retain_test.c - the core's automatic run retention against a real
 * PostgreSQL: RUN_RETENTION_KEEP prunes after each completed run yet keeps a
 * pinned run, the latest completed run of each model and a run another
 * session is reading (pruned by the pass after it is released); the pruned
 * runs are logged and counted in /metrics; RUN_RETENTION_OLDER_THAN alone
 * prunes by age; `pinned` is shown by ListRuns, GetRun (the latest run too,
 * pinned after it was stored) and amlctl; bad settings stop the core. */
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

#include "srv_th.h"
#include "th.h"

#define DEADLINE_MS 30000
#define FLOW        "{\"model\": \"flow_exposure/v1\"}"

/* The value of the unlabelled sample name in the core's /metrics on port, or
 * -1 when the page or the sample is missing. */
static double
metric(int port, const char *name)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	static char page[256 * 1024];
	const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	size_t n = 0;
	ssize_t got;
	char line[160];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	double v = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (n < sizeof(page) - 1 && (got = read(fd, page + n, sizeof(page) - 1 - n)) > 0)
		n += (size_t)got;
	close(fd);
	page[n] = '\0';
	snprintf(line, sizeof(line), "\n%s ", name);
	const char *p = strstr(page, line);
	if (p != NULL)
		v = strtod(p + strlen(line), NULL);
	return v;
}

/* Polls until sql (one integer) gives want; fails the test at the deadline. */
static void
wait_db(PGconn *conn, const char *sql, int64_t want)
{
	int64_t end = th_now_ms() + DEADLINE_MS, got;

	while ((got = th_db_int(conn, sql)) != want && th_now_ms() < end)
		usleep(50000);
	if (got != want)
		fail_msg("%s: %lld, wanted %lld", sql, (long long)got, (long long)want);
}

/* Runs prog with argv (argv[0] ignored; NULL: none) and extra env entries
 * until it exits; its wait status, and its output (stdout and stderr) in out. */
static int
run_capture(const char *prog, char *const argv[], char *const env[], char *out, size_t outlen)
{
	char log[] = "/tmp/amlrisk-retain-XXXXXX";
	int fd = mkstemp(log);

	assert_true(fd >= 0);
	close(fd);
	int st = th_stop(th_spawn(prog, argv, env, log), 0, DEADLINE_MS);
	FILE *f = fopen(log, "r");
	size_t n = f != NULL ? fread(out, 1, outlen - 1, f) : 0;
	out[n] = '\0';
	if (f != NULL)
		fclose(f);
	unlink(log);
	return st;
}

/* Runs amlctl with argv on c's database and address; its exit status, and
 * its output in out. */
static int
amlctl(ts_core *c, char *const argv[], char *out, size_t outlen)
{
	char db[1100], rpc[300];
	char *env[] = {db, rpc, NULL};

	snprintf(db, sizeof(db), "DATABASE_URL=%s", c->db_url);
	snprintf(rpc, sizeof(rpc), "RPC_URL=%s", c->rpc_url);
	int st = run_capture("amlctl", argv, env, out, outlen);
	assert_true(st >= 0 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* A run of the given overrides; its id. */
static int64_t
score(ts_core *c, const char *overrides)
{
	Aml__V1__RunScoreResponse *r = ts_score(c, overrides);
	int64_t id = r->run->run_id;

	assert_false(r->run->pinned);
	aml__v1__run_score_response__free_unpacked(r, NULL);
	return id;
}

/* GetRun's pinned flag of run id. */
static int
get_pinned(ts_core *c, int64_t id)
{
	Aml__V1__GetRunRequest req = AML__V1__GET_RUN_REQUEST__INIT;
	Aml__V1__GetRunResponse *r = NULL;
	char msg[256];
	int pinned;

	req.run_id = id;
	assert_int_equal(
	        ts_call(c, "GetRun", &req.base, (ProtobufCMessage **)&r, 10000, msg, sizeof(msg)),
	        TS_OK);
	pinned = r->run->pinned;
	aml__v1__get_run_response__free_unpacked(r, NULL);
	return pinned;
}

static void
test_keep_policy(void **st)
{
	(void)st;
	ts_core c;
	char metrics_env[64], out[8192];
	int port = ts_free_port();
	char *env[] = {"RUN_RETENTION_KEEP=2", metrics_env, "LOG_LEVEL=debug", NULL};
	char *pin1[] = {"amlctl", "runs", "pin", "1", NULL};
	char *runs[] = {"amlctl", "runs", NULL};
	char *run1[] = {"amlctl", "run", "1", NULL};

	snprintf(metrics_env, sizeof(metrics_env), "METRICS_LISTEN=127.0.0.1:%d", port);
	PGconn *conn = ts_core_fixture(&c, 0, "spec-example.pb", "A", env);
	assert_true(ts_file_has(c.log, "retention.policy enabled=1 keep=2 older_than=\"\"",
	                        DEADLINE_MS));
	assert_int_equal(score(&c, "{}"), 1);
	assert_int_equal(amlctl(&c, pin1, out, sizeof(out)), 0);
	assert_int_equal(score(&c, FLOW), 2);
	assert_int_equal(score(&c, "{}"), 3);
	assert_int_equal(score(&c, "{}"), 4);
	/* beyond the newest two: 1 pinned, 2 the latest flow run; nothing pruned */
	assert_true(ts_file_has(c.log,
	                        "run_id=2 reason=\"latest completed run of flow_exposure/v1\"",
	                        DEADLINE_MS));
	assert_true(ts_file_has(c.log, "run_id=1 reason=\"pinned\"", DEADLINE_MS));
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"), 4);
	/* another session reads run 3 in a transaction it keeps open: a new run
	 * is still stored (006: its partition is attached, not created under
	 * risk_scores' exclusive lock), and run 3 is kept, said so */
	PGconn *reader = th_db_connect(c.db_url);
	ts_exec(reader, "BEGIN");
	assert_int_equal(th_db_int(reader, "SELECT count(*) FROM risk_scores WHERE run_id = 3"),
	                 th_db_int(conn, "SELECT wallet_count FROM scoring_runs WHERE id = 3"));
	assert_int_equal(score(&c, "{}"), 5);
	assert_true(ts_file_has(c.log, "run_id=3 reason=\"in use", DEADLINE_MS));
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs WHERE id = 3"), 1);
	ts_exec(reader, "COMMIT");
	PQfinish(reader);
	/* the next pass prunes 3 and 4: rows, partitions and metrics */
	assert_int_equal(score(&c, "{}"), 6);
	wait_db(conn, "SELECT count(*) FROM scoring_runs WHERE id IN (3, 4)", 0);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"
	                                 " WHERE id NOT IN (1, 2, 5, 6)"),
	                 0);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM pg_class WHERE relname IN"
	                                 " ('risk_scores_r3', 'risk_scores_r4')"),
	                 0);
	assert_int_equal(th_db_int(conn, "SELECT count(DISTINCT run_id) FROM risk_scores"), 4);
	assert_true(ts_file_has(c.log, "core run.pruned run_id=3\n", DEADLINE_MS));
	assert_true(ts_file_has(c.log, "core run.pruned run_id=4\n", DEADLINE_MS));
	assert_true(ts_file_has(c.log, "pruned=2 kept=2", DEADLINE_MS));
	int64_t end = th_now_ms() + DEADLINE_MS;
	while (metric(port, "amlrisk_core_runs_pruned_total") != 2 && th_now_ms() < end)
		usleep(50000);
	assert_true(metric(port, "amlrisk_core_runs_pruned_total") == 2);
	assert_true(metric(port, "amlrisk_core_retention_errors_total") == 0);
	/* pinned as every reader shows it; the latest run (in memory) pinned later */
	assert_true(get_pinned(&c, 1));
	assert_false(get_pinned(&c, 6));
	ts_exec(conn, "UPDATE scoring_runs SET pinned = true WHERE id = 6");
	assert_true(get_pinned(&c, 6));
	Aml__V1__ListRunsRequest lreq = AML__V1__LIST_RUNS_REQUEST__INIT;
	Aml__V1__ListRunsResponse *lr = NULL;
	char msg[256];
	assert_int_equal(ts_call(&c, "ListRuns", &lreq.base, (ProtobufCMessage **)&lr, 10000, msg,
	                         sizeof(msg)),
	                 TS_OK);
	assert_int_equal(lr->n_runs, 4);
	for (size_t i = 0; i < lr->n_runs; i++)
		assert_int_equal(lr->runs[i]->pinned,
		                 lr->runs[i]->run_id == 1 || lr->runs[i]->run_id == 6);
	aml__v1__list_runs_response__free_unpacked(lr, NULL);
	assert_int_equal(amlctl(&c, runs, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "PINNED"));
	assert_int_equal(amlctl(&c, run1, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "yes (never pruned)"));
	/* the latest run still answers from memory */
	Aml__V1__TopScoresResponse *top = ts_top(&c, 3, 0);
	assert_int_equal(top->run_id, 6);
	aml__v1__top_scores_response__free_unpacked(top, NULL);

	/* RUN_RETENTION_OLDER_THAN alone: old runs go, the latest of each model
	 * stays whatever its age */
	assert_int_equal(ts_core_stop(&c, SIGTERM), 0);
	ts_exec(conn, "UPDATE scoring_runs SET pinned = false");
	ts_exec(conn, "UPDATE scoring_runs SET created_at = now() - interval '3 days'");
	char *age_env[] = {"RUN_RETENTION_OLDER_THAN=2d", NULL};
	ts_core_start(&c, age_env);
	assert_int_equal(score(&c, "{}"), 7);
	wait_db(conn, "SELECT count(*) FROM scoring_runs WHERE id IN (1, 5, 6)", 0);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs WHERE id IN (2, 7)"),
	                 2);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* Unknown or malformed retention settings, as variables or flags: exit 2
 * with a message naming the setting, before anything is touched. */
static void
test_bad_settings(void **st)
{
	(void)st;
	static const struct {
		const char *env, *flag, *value, *says;
	} BAD[] = {
	        {"RUN_RETENTION_KEEP=-1", NULL, NULL, "RUN_RETENTION_KEEP: '-1' is not a count"},
	        {"RUN_RETENTION_KEEP=3x", NULL, NULL, "RUN_RETENTION_KEEP: '3x' is not a count"},
	        {"RUN_RETENTION_KEEP= 3", NULL, NULL, "RUN_RETENTION_KEEP: ' 3' is not a count"},
	        {"RUN_RETENTION_OLDER_THAN=7x", NULL, NULL,
	         "RUN_RETENTION_OLDER_THAN: '7x' is not a duration"},
	        {"RUN_RETENTION_OLDER_THAN=0d", NULL, NULL,
	         "RUN_RETENTION_OLDER_THAN: '0d' is not a duration"},
	        {"RUN_RETENTION_OLDER_THAN=7 days", NULL, NULL,
	         "RUN_RETENTION_OLDER_THAN: '7 days' is not a duration"},
	        {"RUN_RETENTION_KEPP=3", NULL, NULL,
	         "RUN_RETENTION_KEPP: unknown retention setting"},
	        {NULL, "--run-retention-keep", "many",
	         "--run-retention-keep: 'many' is not a count"},
	        {NULL, "--run-retention-older-than", "d",
	         "--run-retention-older-than: 'd' is not a duration"},
	};
	char text[4096];

	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		char *env[] = {(char *)BAD[i].env, NULL};
		char *argv[] = {"amlrisk-core", (char *)BAD[i].flag, (char *)BAD[i].value, NULL};
		int status = run_capture("amlrisk-core", BAD[i].flag != NULL ? argv : NULL,
		                         BAD[i].env != NULL ? env : NULL, text, sizeof(text));
		if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 2 ||
		    strstr(text, BAD[i].says) == NULL)
			fail_msg("case %zu: status %d, output \"%s\", wanted exit 2 and \"%s\"", i,
			         status, text, BAD[i].says);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_settings),
	        cmocka_unit_test(test_keep_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
