/* server_amlctl_test.c - the operator CLI against a real amlrisk-core: aligned tables
 * for people, JSON for scripts, for either model, the server's status and
 * message on stderr with a non-zero exit on any error, usage errors (exit 2),
 * top/wallet --live on a core keeping a live view, and migrate. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "srv_th.h"
#include "th.h"

#define OUT_MAX (256 * 1024)

typedef struct ctl_out {
	int status; /* exit status */
	char out[OUT_MAX], err[8192];
} ctl_out;

static void
slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f != NULL ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = '\0';
	if (f != NULL)
		fclose(f);
}

/* Runs amlctl with argv (NULL-terminated) against c, waits, captures. */
static void
ctl(ts_core *c, ctl_out *o, const char *const *argv)
{
	char bin[512], outp[256], errp[256], url[300];
	const char *args[32];
	int n = 0, status;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/amlctl", th_env("AMLRISK_BIN"));
	snprintf(outp, sizeof(outp), "%s/ctl.out", c->dir);
	snprintf(errp, sizeof(errp), "%s/ctl.err", c->dir);
	snprintf(url, sizeof(url), "RPC_URL=%s", c->rpc_url);
	args[n++] = "amlctl";
	for (; *argv != NULL && n < 31; argv++)
		args[n++] = *argv;
	args[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fo, 1);
		dup2(fe, 2);
		putenv(url);
		execv(bin, (char *const *)args);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	o->status = WEXITSTATUS(status);
	slurp(outp, o->out, sizeof(o->out));
	slurp(errp, o->err, sizeof(o->err));
	unlink(outp);
	unlink(errp);
}

#define CTL(c, o, ...) ctl((c), (o), (const char *const[]){__VA_ARGS__, NULL})

static void
expect_ok(const ctl_out *o, const char *part)
{
	if (o->status != 0 || (part != NULL && strstr(o->out, part) == NULL))
		fail_msg("exit %d, wanted 0 and \"%s\" in:\n%s\nstderr: %s", o->status,
		         part != NULL ? part : "", o->out, o->err);
}

static void
expect_fail(const ctl_out *o, int status, const char *err_part)
{
	if (o->status != status || strstr(o->err, err_part) == NULL)
		fail_msg("exit %d (wanted %d), stderr \"%s\" (wanted \"%s\")", o->status, status,
		         o->err, err_part);
}

/* Parses o->out as JSON; the caller json_decref()s. */
static json_t *
out_json(const ctl_out *o)
{
	json_error_t e;
	json_t *v = json_loads(o->out, 0, &e);

	if (v == NULL)
		fail_msg("not JSON (%s): %s", e.text, o->out);
	return v;
}

/* True when the line of o->out starting with first also holds second after
 * runs of spaces, i.e. the columns are aligned under the header. */
static int
column_aligned(const char *text, const char *header, const char *row)
{
	const char *h = strstr(text, header), *r = strstr(text, row);
	const char *hc, *rc;

	if (h == NULL || r == NULL)
		return 0;
	/* the WALLET column starts at the same offset in the header and the row */
	hc = strstr(h, "WALLET");
	rc = r + strspn(r, " 0123456789");
	return hc != NULL && (hc - h) == (rc - r);
}

static void
test_ctl(void **st)
{
	ts_core c;
	PGconn *conn;
	ctl_out *o = malloc(sizeof(*o));
	json_t *j;

	(void)st;
	assert_non_null(o);
	conn = ts_core_fixture(&c, 0, "spec-example.pb", "A", NULL);

	CTL(&c, o, "health");
	expect_ok(o, "status          ok");
	assert_non_null(strstr(o->out, "5 wallets, 5 edges, 6 transactions"));
	CTL(&c, o, "--json", "health");
	expect_ok(o, NULL);
	j = out_json(o);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(j, "graph"), "wallets")), 5);
	json_decref(j);

	CTL(&c, o, "reload");
	expect_ok(o, "watermark       6");
	CTL(&c, o, "score", "--illicit-ratio", "0", "--hop-weights", "1,0.6,0.3", "--direction",
	    "any", "--count", "within", "--illicit-seed", "18446744073709551615");
	expect_ok(o, "status          completed");
	assert_non_null(strstr(o->out, "\"illicit_seed\":18446744073709551615"));
	CTL(&c, o, "--json", "score", "--no-labels", "--no-degree-normalize");
	expect_ok(o, NULL);
	j = out_json(o);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "run"), "run_id")),
	                 2);
	json_decref(j);
	CTL(&c, o, "score", "--config-json", "{\"illicit_ratio\":0}");
	expect_ok(o, "run             3");

	CTL(&c, o, "top", "-n", "3");
	expect_ok(o, "RANK  WALLET  RISK_SCORE");
	assert_non_null(
	        strstr(o->out, "   1  A          1.09697          1   1    2  yes      1/1/1"));
	assert_true(column_aligned(o->out, "RANK", "   2  E"));
	assert_null(strstr(o->out, "   4  "));
	CTL(&c, o, "--json", "top", "--run", "1");
	expect_ok(o, NULL);
	j = out_json(o);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(j, "scores"), 0), "wallet")),
	                    "A");
	assert_true(json_real_value(json_object_get(json_array_get(json_object_get(j, "scores"), 0),
	                                            "risk_score")) > 1.0969655);
	json_decref(j);

	CTL(&c, o, "wallet", "C");
	expect_ok(o, "risk_score      0.5196152422706631");
	assert_non_null(strstr(o->out, "degree          in 2, out 1"));
	CTL(&c, o, "wallet", "C", "--run", "2");
	expect_ok(o, "run             2");
	CTL(&c, o, "explain", "C");
	expect_ok(o, "hop 1: A (any): C - A");
	CTL(&c, o, "graph", "C", "--hops", "1", "--node-limit", "10", "--edge-limit", "10");
	expect_ok(o, "center C, run 3, 4 nodes, 4 edges");
	CTL(&c, o, "runs");
	expect_ok(o, "ID  STATUS");
	assert_non_null(strstr(o->out, " 3  completed"));
	CTL(&c, o, "runs", "--limit", "1");
	expect_ok(o, "more: amlctl runs --before 3");
	CTL(&c, o, "run", "1");
	expect_ok(o, "status          completed");
	CTL(&c, o, "--json", "run", "1");
	expect_ok(o, "\"run_id\": 1");
	CTL(&c, o, "ingestion");
	expect_ok(o, "transactions    6");
	CTL(&c, o, "--json", "ingestion");
	expect_ok(o, "\"max_sequence\": 6");

	/* errors: the server's status and message, exit 1 */
	CTL(&c, o, "wallet", "nobody");
	expect_fail(o, 1, "amlctl: NOT_FOUND: wallet nobody not in run 3");
	CTL(&c, o, "--json", "wallet", "nobody");
	expect_fail(o, 1, "NOT_FOUND");
	j = out_json(o);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
	                    "NOT_FOUND");
	json_decref(j);
	CTL(&c, o, "score", "--config-json", "{\"bogus\":1}");
	expect_fail(o, 1, "INVALID_ARGUMENT: bogus");
	CTL(&c, o, "score", "--direction", "sideways");
	expect_fail(o, 1, "direction");
	CTL(&c, o, "top", "-n", "5000");
	expect_fail(o, 1, "n: at most 1000");
	CTL(&c, o, "run", "77");
	expect_fail(o, 1, "NOT_FOUND: run 77 not found");
	CTL(&c, o, "--url", "ipc:///nonexistent/amlrisk.ipc", "--timeout", "300", "health");
	expect_fail(o, 1, "UNAVAILABLE");
	/* usage errors: exit 2 */
	CTL(&c, o, "frobnicate");
	expect_fail(o, 2, "unknown command");
	CTL(&c, o, "wallet");
	expect_fail(o, 2, "wallet takes 1 argument");
	CTL(&c, o, "top", "--hops", "2");
	expect_fail(o, 2, "top does not take --hops");
	CTL(&c, o, "score", "--config-json", "{}", "--no-labels");
	expect_fail(o, 2, "--config-json replaces");
	CTL(&c, o, "top", "-n", "x");
	expect_fail(o, 2, "-n");
	CTL(&c, o, "--help");
	expect_ok(o, "usage: amlctl");
	free(o);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* amlctl with flow_exposure/v1: score by flags, the flow columns of top,
 * wallet, explain and runs, their JSON, and the other model's flags refused
 * by the server naming the key. The values are the spec's vector
 * flow-example-received (hops 2, side received, S = {X}). */
static void
test_ctl_flow(void **st)
{
	ts_core c;
	PGconn *conn;
	ctl_out *o = malloc(sizeof(*o));
	json_t *j, *score;

	(void)st;
	assert_non_null(o);
	conn = ts_core_fixture(&c, 0, "flow-example.pb", "X", NULL);

	CTL(&c, o, "score", "--model", "flow_exposure/v1", "--hops", "2", "--side", "received",
	    "--smoothing", "1");
	expect_ok(o, "model           flow_exposure/v1");
	expect_ok(o, "\"hops\":2,\"side\":\"received\",\"smoothing\":1.0");
	CTL(&c, o, "top", "-n", "4");
	expect_ok(o, "run 1 (flow_exposure/v1)");
	assert_non_null(
	        strstr(o->out, "RANK  WALLET  RISK_SCORE  RECEIVED       SENT  IN  OUT  ILLICIT"));
	assert_non_null(
	        strstr(o->out, "   2  A         0.233372  0.233372          0   2    2  no"));
	expect_ok(o, "   3  C          0.15026   0.15026  0.0258059   1    1  no");
	assert_true(column_aligned(o->out, "RANK", "   4  D"));
	CTL(&c, o, "wallet", "E");
	expect_ok(o, "model           flow_exposure/v1");
	expect_ok(o, "risk_score      0.0\n");
	expect_ok(o, "received        0.0\n");
	expect_ok(o, "sent            0.08290155440414508\n");
	expect_ok(o, "HOP  RECEIVED                 SENT");
	expect_ok(o, "  2       0.0  0.08290155440414508");
	assert_null(strstr(o->out, "exposures"));
	CTL(&c, o, "--json", "wallet", "A");
	expect_ok(o, NULL);
	j = out_json(o);
	score = json_object_get(j, "score");
	assert_string_equal(json_string_value(json_object_get(score, "model")), "flow_exposure/v1");
	assert_true(json_real_value(json_object_get(score, "received_exposure")) ==
	            0.23337222870478413);
	assert_int_equal(json_array_size(json_object_get(score, "flow_hops")), 2);
	assert_int_equal(json_array_size(json_object_get(score, "hops")), 0);
	json_decref(j);
	CTL(&c, o, "runs");
	expect_ok(o, "ID  STATUS     MODEL             CREATED");
	expect_ok(o, " 1  completed  flow_exposure/v1");
	CTL(&c, o, "--json", "runs");
	expect_ok(o, "\"model\": \"flow_exposure/v1\"");
	/* the other model's keys, named by the server; a flag amlctl does not take */
	CTL(&c, o, "score", "--model", "flow_exposure/v1", "--direction", "in");
	expect_fail(o, 1, "INVALID_ARGUMENT: direction");
	CTL(&c, o, "score", "--hops", "3");
	expect_fail(o, 1, "INVALID_ARGUMENT: hops");
	CTL(&c, o, "score", "--smoothing", "much");
	expect_fail(o, 2, "--smoothing: 'much' is not a number");
	CTL(&c, o, "top", "--side", "sent");
	expect_fail(o, 2, "top does not take --side");
	CTL(&c, o, "score", "--config-json", "{}", "--model", "flow_exposure/v1");
	expect_fail(o, 2, "--config-json replaces");
	CTL(&c, o, "explain", "A");
	expect_ok(o, "model           flow_exposure/v1");
	expect_ok(o, "SOURCE  SIDE      CONTRIBUTION  WALK_WEIGHT  WALK");
	expect_ok(o, "X       received      0.233372     0.233372  X -> A");
	expect_ok(o, "others: 0\n");
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"), 1);
	free(o);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* amlctl --json top --live: the live view's watermark when it is current
 * (0 while it is not, or the call fails). */
static int64_t
live_current_wm(ts_core *c, ctl_out *o)
{
	json_t *j, *l;
	int64_t wm = 0;

	CTL(c, o, "--json", "top", "--live", "-n", "3");
	if (o->status != 0)
		return 0;
	j = out_json(o);
	l = json_object_get(j, "live");
	if (json_is_true(json_object_get(l, "current")))
		wm = json_integer_value(json_object_get(l, "watermark"));
	json_decref(j);
	return wm;
}

/* amlctl top --live / wallet --live against a core keeping a live view: the
 * view named with the watermark it reflects, and rows inserted later shown
 * without any reload or run. */
static void
test_ctl_live(void **st)
{
	char *env[] = {"LIVE_SCORING_CONFIG={}", "LIVE_POLL_MS=100", NULL};
	static ctl_out o;
	ts_core c;
	PGconn *conn;
	int64_t t0, want;

	(void)st;
	conn = ts_core_fixture(&c, 0, "spec-example.pb", "A", env);
	want = th_db_int(conn, "SELECT max(seq) FROM transactions");
	for (t0 = th_now_ms(); live_current_wm(&c, &o) != want;) {
		if (th_now_ms() - t0 > 60000)
			fail_msg("amlctl top --live never showed watermark %lld current: %s %s",
			         (long long)want, o.out, o.err);
		usleep(50000);
	}
	CTL(&c, &o, "top", "--live", "-n", "3");
	expect_ok(&o, "live (hop_exposure/v1)");
	expect_ok(&o, "(current)");
	ts_exec(conn, "INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\")"
	              " VALUES ('ctl-live-1', 'A', 'newcomer', 5, now())");
	want = th_db_int(conn, "SELECT max(seq) FROM transactions");
	for (t0 = th_now_ms(); live_current_wm(&c, &o) != want;) {
		if (th_now_ms() - t0 > 60000)
			fail_msg("the live view did not reach %lld: %s %s", (long long)want, o.out,
			         o.err);
		usleep(50000);
	}
	CTL(&c, &o, "wallet", "newcomer", "--live");
	expect_ok(&o, "live (hop_exposure/v1)");
	expect_ok(&o, "newcomer");
	CTL(&c, &o, "wallet", "newcomer"); /* no run yet: the run view has none */
	assert_int_not_equal(o.status, 0);
	ts_core_fini(&c);
	PQfinish(conn);
}

static void
test_migrate(void **st)
{
	char url[1024], env[1100], bin[512], outp[] = "/tmp/amlctl-migrate.XXXXXX";
	char out[512];
	int fd, status;
	pid_t pid;
	PGconn *conn;

	(void)st;
	th_db_create(url, sizeof(url), 0);
	snprintf(bin, sizeof(bin), "%s/amlctl", th_env("AMLRISK_BIN"));
	snprintf(env, sizeof(env), "DATABASE_URL=%s", url);
	fd = mkstemp(outp);
	assert_true(fd >= 0);
	for (int round = 0; round < 2; round++) {
		pid = fork();
		if (pid == 0) {
			dup2(fd, 1);
			putenv(env);
			execl(bin, "amlctl", "migrate", (char *)NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(fd);
	slurp(outp, out, sizeof(out));
	unlink(outp);
	assert_non_null(strstr(out, "applied 0 migration(s)"));
	/* the first round applied the ones not there yet: at least one, at most
	 * every migration now recorded (any number of them, as more are added) */
	const char *first = strstr(out, "applied ");
	int applied = 0;
	assert_non_null(first);
	assert_int_equal(sscanf(first, "applied %d migration(s)", &applied), 1);
	conn = th_db_connect(url);
	assert_true(applied >= 1 &&
	            applied <= th_db_int(conn, "SELECT count(*) FROM schema_migrations"));
	assert_int_equal(
	        th_db_int(conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'scoring_runs'"),
	        1);
	PQfinish(conn);
	th_db_drop(url);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ctl),
	        cmocka_unit_test(test_ctl_flow),
	        cmocka_unit_test(test_ctl_live),
	        cmocka_unit_test(test_migrate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
