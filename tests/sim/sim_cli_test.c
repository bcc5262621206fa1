/* sim_cli_test.c - amlrisk-sim as a user runs it: byte-identical files from
 * the same seed in every format (and equal to the library's), the truth file,
 * the demo size, --help, and a clear message with exit 2 for each bad flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"
#include "sim_tutil.h"

static void
test_help(void **state)
{
	(void)state;
	char out[512], *err = NULL;
	const char *args[] = {"--help", NULL};
	tu_path(out, sizeof(out), "help.txt");
	assert_int_equal(tu_run(args, NULL, out, &err, 30), 0);
	char *text = tu_slurp(out, NULL);
	const char *want[] = {"--wallets",
	                      "--transactions",
	                      "--days",
	                      "--start",
	                      "--seed",
	                      "--zipf",
	                      "--amount-mu",
	                      "--amount-sigma",
	                      "--asset",
	                      "--self-transfers",
	                      "--fan-out",
	                      "--fan-in",
	                      "--cycle",
	                      "--scatter-gather",
	                      "--gather-scatter",
	                      "--peel-chain",
	                      "--no-typologies",
	                      "--size-min",
	                      "--size-max",
	                      "--truth",
	                      "--camouflage",
	                      "--label-sources",
	                      "--labels-out",
	                      "--label-fraction",
	                      "--database-url",
	                      "--format",
	                      "--out",
	                      "--publish",
	                      "--in",
	                      "--no-validate",
	                      "--bootstrap",
	                      "--topic",
	                      "--compression",
	                      "--linger-ms",
	                      "--batch-size",
	                      "--queue-max",
	                      "--timeout-ms",
	                      "-X",
	                      "--rate",
	                      "--probe-every",
	                      "--probe-log",
	                      "--quiet",
	                      "--version",
	                      "KAFKA_BOOTSTRAP_SERVERS",
	                      "DATABASE_URL"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(text, want[i]) == NULL)
			fail_msg("--help does not mention %s", want[i]);
	free(text);
	free(err);
	const char *h[] = {"-h", NULL};
	assert_int_equal(tu_run(h, NULL, NULL, NULL, 30), 0);
}

static void
test_bad_flags(void **state)
{
	(void)state;
	static const struct {
		const char *args[8];
		const char *msg;
	} cases[] = {
	        {{"--bogus", NULL}, "unknown flag --bogus"},
	        {{"--wallets", "abc", NULL}, "--wallets"},
	        {{"--wallets", "1", NULL}, "--wallets"},
	        {{"--wallets=", NULL}, "--wallets"},
	        {{"--transactions", "-5", NULL}, "--transactions"},
	        {{"--days", "0", NULL}, "--days"},
	        {{"--days", "x", NULL}, "--days"},
	        {{"--start", "last tuesday", NULL}, "--start"},
	        {{"--start", "1999-01-01", NULL}, "--start"},
	        {{"--seed", "1.5", NULL}, "--seed"},
	        {{"--zipf", "7", NULL}, "--zipf"},
	        {{"--format", "xml", NULL}, "--format"},
	        {{"--format", "auto", NULL}, "--format"},
	        {{"--fan-out", "1000", NULL}, "--fan-out"},
	        {{"--size-min", "2", NULL}, "--size-min"},
	        {{"--size-min", "9", "--size-max", "4", NULL}, "--size-min"},
	        {{"--asset", "WAY-TOO-LONG-AN-ASSET", NULL}, "--asset"},
	        {{"--wallets", NULL}, "--wallets needs a value"},
	        {{"--self-transfers=yes", NULL}, "--self-transfers takes no value"},
	        {{"stray", NULL}, "unexpected argument"},
	        {{"--topic", "t", NULL}, "--topic: only with --publish"},
	        {{"--in", "f.csv", NULL}, "--in: only with --publish"},
	        {{"--publish", "--out", "x", NULL}, "--out"},
	        {{"--publish", "--format", "csv", NULL}, "--format"},
	        {{"--publish", "--in", "f", "--wallets", "5", NULL}, "--wallets"},
	        {{"--publish", "--compression", "brotli", NULL}, "--compression"},
	        {{"--publish", "--linger-ms", "-1", NULL}, "--linger-ms"},
	        {{"--publish", "-X", "novalue", NULL}, "-X"},
	        {{"--publish", "--rate", "0", NULL}, "--rate"},
	        {{"--publish", "--rate", "fast", NULL}, "--rate"},
	        {{"--rate", "100", NULL}, "--rate: only with --publish"},
	        {{"--publish", "--probe-every", "0", "--probe-log", "p", NULL}, "--probe-every"},
	        {{"--publish", "--probe-every", "10", NULL}, "go together"},
	        {{"--publish", "--probe-log", "p", NULL}, "go together"},
	        {{"--publish", "--in", "f", "--probe-every", "5", "--probe-log", "p", NULL},
	         "--probe-every: not with --in"},
	        {{"--publish", "-Xno.such.property=1", NULL}, "no.such.property"},
	        {{"--no-validate", NULL}, "--no-validate: only with --publish --in"},
	        {{"--database-url", "x", NULL}, "--database-url"},
	        {{"--labels-out", "l", "--label-fraction", "0", NULL}, "--label-fraction"},
	        {{"--labels-out", "l", "--label-fraction", "-0.5", NULL}, "--label-fraction"},
	        {{"--labels-out", "l", "--label-fraction", "1.01", NULL}, "--label-fraction"},
	        {{"--labels-out", "l", "--label-fraction", "half", NULL}, "--label-fraction"},
	        {{"--labels-out", "l", "--label-fraction", "nan", NULL}, "--label-fraction"},
	        {{"--label-fraction", "0.5", NULL},
	         "--label-fraction: only with --label-sources or --labels-out"},
	        {{"--camouflage=yes", NULL}, "--camouflage takes no value"},
	        {{"--publish", "--in", "f", "--camouflage", NULL}, "--camouflage: not with --in"},
	        {{"--publish", "--in", "f", "--labels-out", "l", NULL},
	         "--labels-out: not with --in"},
	};
	const char *env[] = {"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1", NULL};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		int st = tu_run(cases[i].args, env, NULL, &err, 30);
		if (st != 2 || strstr(err, cases[i].msg) == NULL)
			fail_msg(
			        "case %zu (%s ...): exit %d, stderr \"%s\", want exit 2 and \"%s\"",
			        i, cases[i].args[0], st, err, cases[i].msg);
		free(err);
	}
	/* the environment a mode needs */
	char *err = NULL;
	const char *pub[] = {"--publish", NULL}, *unset_k[] = {"KAFKA_BOOTSTRAP_SERVERS", NULL};
	assert_int_equal(tu_run(pub, unset_k, NULL, &err, 30), 2);
	assert_non_null(strstr(err, "KAFKA_BOOTSTRAP_SERVERS"));
	free(err);
	const char *lab[] = {"--label-sources", NULL}, *unset_d[] = {"DATABASE_URL", NULL};
	assert_int_equal(tu_run(lab, unset_d, NULL, &err, 30), 2);
	assert_non_null(strstr(err, "DATABASE_URL"));
	free(err);
}

static void
test_same_seed_same_file(void **state)
{
	(void)state;
	static const char *fmts[] = {"protobuf", "jsonl", "csv"};
	sim_gen_opts o;
	sim_gen_opts_default(&o);
	o.wallets = 3000;
	o.transactions = 30000;
	o.seed = 1234;
	for (size_t i = 0; i < 3; i++) {
		char a[512], b[512], c[512], t[512];
		tu_path(a, sizeof(a), "a.out");
		tu_path(b, sizeof(b), "b.out");
		tu_path(c, sizeof(c), "c.out");
		tu_path(t, sizeof(t), "truth.csv");
		const char *args_a[] = {"--wallets", "3000", "--transactions", "30000",
		                        "--seed",    "1234", "--format",       fmts[i],
		                        "--out",     a,      "--truth",        t,
		                        NULL};
		const char *args_b[] = {"--seed=1234", "--format",       fmts[i], "--wallets",
		                        "3000",        "--transactions", "30000", NULL};
		const char *args_c[] = {
		        "--wallets", "3000",  "--transactions", "30000", "--seed", "1235",
		        "--format",  fmts[i], "--out",          c,       NULL};
		char *err = NULL;
		assert_int_equal(tu_run(args_a, NULL, NULL, &err, 120), 0);
		assert_string_equal(err, ""); /* quiet */
		free(err);
		assert_int_equal(tu_run(args_b, NULL, b, NULL, 120), 0); /* to stdout */
		assert_int_equal(tu_run(args_c, NULL, NULL, NULL, 120), 0);
		size_t la, lb, lc, ll;
		char *da = tu_slurp(a, &la), *db = tu_slurp(b, &lb), *dc = tu_slurp(c, &lc);
		assert_int_equal(la, lb);
		assert_memory_equal(da, db, la);
		assert_true(la != lc || memcmp(da, dc, la) != 0);
		/* the binary writes what the library generates */
		sim_format f;
		assert_int_equal(sim_format_parse(fmts[i], 0, &f), 0);
		char *lib = tu_generate(&o, f, &ll);
		assert_int_equal(la, ll);
		assert_memory_equal(da, lib, la);
		char *truth = tu_slurp(t, NULL), *want = tu_truth(&o);
		assert_string_equal(truth, want);
		free(truth);
		free(want);
		free(lib);
		free(da);
		free(db);
		free(dc);
	}
}

static void
test_labels_out(void **state)
{
	(void)state;
	char labels[512], truth[512], *err = NULL;
	sim_gen_opts o;
	tu_path(labels, sizeof(labels), "labels.txt");
	tu_path(truth, sizeof(truth), "labels-truth.csv");
	/* every source by default, in the truth file's order */
	const char *all[] = {
	        "--wallets", "5000", "--transactions", "50000", "--seed", "3", "--out", "/dev/null",
	        "--truth",   truth,  "--labels-out",   labels,  NULL};
	assert_int_equal(tu_run(all, NULL, NULL, &err, 60), 0);
	free(err);
	char *got = tu_slurp(labels, NULL), *t = tu_slurp(truth, NULL), *save = NULL;
	char want[8192] = "";
	size_t sources = 0;
	for (char *l = strtok_r(t, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		char *role = strrchr(l, ','), *wallet;
		if (strcmp(role, ",source") != 0)
			continue;
		*role = '\0';
		wallet = strrchr(l, ',') + 1;
		assert_true(strlen(want) + strlen(wallet) + 2 < sizeof(want));
		strcat(want, wallet);
		strcat(want, "\n");
		sources++;
	}
	assert_true(sources > 10);
	assert_string_equal(got, want);
	free(got);
	free(t);
	/* a share of them, camouflaged: what the library chooses */
	const char *half[] = {"--wallets",    "5000",      "--transactions",
	                      "50000",        "--seed",    "3",
	                      "--out",        "/dev/null", "--camouflage",
	                      "--labels-out", labels,      "--label-fraction",
	                      "0.5",          NULL};
	assert_int_equal(tu_run(half, NULL, NULL, NULL, 60), 0);
	sim_gen_opts_default(&o);
	o.wallets = 5000;
	o.transactions = 50000;
	o.seed = 3;
	o.camouflage = 1;
	o.label_fraction = 0.5;
	got = tu_slurp(labels, NULL);
	char *lib = tu_labels(&o);
	assert_string_equal(got, lib);
	size_t lines = 0;
	for (const char *p = got; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, (sources + 1) / 2);
	free(got);
	free(lib);
	/* a labels file that cannot be written is a failure, exit 1, naming it */
	const char *bad[] = {"--out", "/dev/null", "--labels-out", "/nonexistent/dir/l.txt", NULL};
	assert_int_equal(tu_run(bad, NULL, NULL, &err, 60), 1);
	assert_non_null(strstr(err, "--labels-out /nonexistent/dir/l.txt"));
	free(err);
}

static void
test_demo_size(void **state)
{
	(void)state;
	char out[512], truth[512];
	tu_path(out, sizeof(out), "demo.csv");
	tu_path(truth, sizeof(truth), "demo-truth.csv");
	const char *args[] = {"--wallets", "200", "--transactions", "2000", "--days",  "30",
	                      "--format",  "csv", "--out",          out,    "--truth", truth,
	                      NULL};
	assert_int_equal(tu_run(args, NULL, NULL, NULL, 60), 0);
	size_t len, n;
	char *csv = tu_slurp(out, &len);
	tu_tx *v = tu_read(csv, len, SIM_FORMAT_AUTO, NULL, &n);
	assert_int_equal(n, 2000);
	/* 30 days ending at 2026-01-01T00:00:00Z */
	assert_true(v[0].ts >= INT64_C(1767225600000000) - INT64_C(30) * 86400 * 1000000);
	assert_true(v[n - 1].ts < INT64_C(1767225600000000));
	char *t = tu_slurp(truth, NULL);
	const char *typ[] = {"fan_out,1,",        "fan_in,1,",         "cycle,1,",
	                     "scatter_gather,1,", "gather_scatter,1,", "peel_chain,1,"};
	for (size_t i = 0; i < 6; i++)
		assert_non_null(strstr(t, typ[i]));
	free(t);
	free(v);
	free(csv);
}

static void
test_undeliverable_fails(void **state)
{
	(void)state;
	/* nothing listens on port 1: every message times out and the exit says so */
	char *err = NULL;
	const char *args[] = {"--publish",      "--bootstrap", "127.0.0.1:1",
	                      "--transactions", "50",          "--timeout-ms",
	                      "1500",           "--quiet",     NULL};
	const char *env[] = {"LOG_LEVEL=error", NULL};
	assert_int_equal(tu_run(args, env, NULL, &err, 60), 1);
	if (strstr(err, "50 of 50 messages not delivered") == NULL)
		fail_msg("stderr: %s", err);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_help),
	        cmocka_unit_test(test_bad_flags),
	        cmocka_unit_test(test_same_seed_same_file),
	        cmocka_unit_test(test_labels_out),
	        cmocka_unit_test(test_demo_size),
	        cmocka_unit_test(test_undeliverable_fails),
	};
	return cmocka_run_group_tests(tests, tu_dir_setup, tu_dir_teardown);
}
