/* core_cli_test.c - build/bin/amlrisk-score as a black box ($AMLRISK_BIN):
 * the spec vectors of both models through flags and --config, the simulator's
 * formats giving the same output, --top, --help, and clear errors for bad rows
 * and flags (a flag of the other model among them). */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core_engine.h"
#include "core_test_util.h"

static char tmpdir[256];

typedef struct result {
	int status; /* exit code, or -1 if killed */
	char *out, *err;
} result;

static void
result_free(result *r)
{
	free(r->out);
	free(r->err);
}

static void
write_file(const char *name, const char *text, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs amlrisk-score with args (NULL-terminated), stdin from in_path (or
 * /dev/null) and extra environment entry env (may be NULL). */
static result
cli(const char *in_path, const char *env, const char *const *args)
{
	const char *bin = getenv("AMLRISK_BIN");
	char prog[512], outp[512], errp[512];
	const char *argv[64];
	result r = {0};
	if (bin == NULL)
		fail_msg("AMLRISK_BIN is not set (run the test through ctest)");
	snprintf(prog, sizeof prog, "%s/amlrisk-score", bin);
	snprintf(outp, sizeof outp, "%s/stdout", tmpdir);
	snprintf(errp, sizeof errp, "%s/stderr", tmpdir);
	int n = 0;
	argv[n++] = prog;
	for (size_t i = 0; args[i] != NULL && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
		int out = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int err = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || out < 0 || err < 0)
			_exit(127);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		if (env != NULL)
			putenv((char *)env);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	assert_int_not_equal(r.status, 127);
	r.out = tu_slurp(outp, NULL);
	r.err = tu_slurp(errp, NULL);
	return r;
}

/* Whether the expected.csv column named col holds a number compared within
 * the spec's tolerance (the others are compared as text). */
static bool
numeric_column(const char *col)
{
	return strcmp(col, "risk_score") == 0 || strcmp(col, "received_exposure") == 0 ||
	       strcmp(col, "sent_exposure") == 0 || (col[0] == 'r' && col[1] == '_') ||
	       (col[0] == 's' && col[1] == '_');
}

/* Compares CSV output with a vector's expected rows (numbers within the
 * spec's tolerance, the rest exactly). */
static void
check_vector_output(const char *out, const char *name)
{
	tu_vector v;
	tu_vector_load(&v, name);
	char *copy = strdup(out), *save = NULL, *head = strdup(v.header), *cols[80];
	int ncols = tu_csv_split(head, cols, 80);
	char *line = strtok_r(copy, "\n", &save);
	assert_string_equal(line, v.header);
	for (size_t i = 0; i < v.nrows; i++) {
		char *f[80], *g[80], want[4096];
		line = strtok_r(NULL, "\n", &save);
		assert_non_null(line);
		snprintf(want, sizeof want, "%s", v.rows[i]);
		int nf = tu_csv_split(line, f, 80), ng = tu_csv_split(want, g, 80);
		assert_int_equal(nf, ng);
		assert_int_equal(nf, ncols);
		for (int k = 0; k < nf; k++) {
			if (!numeric_column(cols[k]))
				assert_string_equal(f[k], g[k]);
			else if (!tu_close(strtod(f[k], NULL), strtod(g[k], NULL)))
				fail_msg("%s row %zu %s: %s, expected %s", name, i, cols[k], f[k],
				         g[k]);
		}
	}
	assert_null(strtok_r(NULL, "\n", &save));
	free(copy);
	free(head);
	tu_vector_free(&v);
}

/* Runs amlrisk-score with args and checks its output against vector name. */
static void
cli_vector(const char *const *args, const char *name)
{
	result r = cli(NULL, NULL, args);
	if (r.status != 0)
		fail_msg("%s: exit %d: %s", name, r.status, r.err);
	check_vector_output(r.out, name);
	result_free(&r);
}

static void
vector_path(char *path, size_t cap, const char *name, const char *ext)
{
	snprintf(path, cap, "%s/%s.%s", tu_vectors_dir(), name, ext);
}

static void
test_help(void **state)
{
	(void)state;
	static const char *const args[] = {"--help", NULL};
	result r = cli(NULL, NULL, args);
	assert_int_equal(r.status, 0);
	static const char *const flags[] = {"--format",
	                                    "--labels",
	                                    "--config",
	                                    "--hop-weights",
	                                    "--direction",
	                                    "--count",
	                                    "--illicit-ratio",
	                                    "--illicit-seed",
	                                    "--no-degree-normalize",
	                                    "--no-labels",
	                                    "--top",
	                                    "--output",
	                                    "--threads",
	                                    "ILLICIT_SEED",
	                                    "wallet,risk_score,exposures",
	                                    "protobuf",
	                                    "jsonl",
	                                    "--model",
	                                    "flow_exposure/v1",
	                                    "--hops",
	                                    "--side",
	                                    "--smoothing",
	                                    "received_exposure,sent_exposure"};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strstr(r.out, flags[i]) == NULL)
			fail_msg("--help does not mention %s", flags[i]);
	result_free(&r);
}

/* A vector with its config given as flags. */
static void
test_vector_by_flags(void **state)
{
	(void)state;
	char tx[1024], labels[512];
	vector_path(tx, sizeof tx, "random60-both-within", "tx.csv");
	write_file("labels.txt", "w3\n\n", labels, sizeof labels);
	const char *const args[] = {"--illicit-ratio",
	                            "0.08",
	                            "--illicit-seed",
	                            "7",
	                            "--hop-weights",
	                            "1,0.6,0.3,0.1",
	                            "--direction",
	                            "both",
	                            "--count",
	                            "within",
	                            "--labels",
	                            labels,
	                            tx,
	                            NULL};
	cli_vector(args, "random60-both-within");
}

/* Writes a vector's config object to config.json and its labels, one a
 * line, to labels.txt in the temporary directory. */
static void
vector_files(const char *name, char *cfgfile, size_t cfgcap, char *labels, size_t labcap)
{
	char cfg[1024];
	vector_path(cfg, sizeof cfg, name, "config.json");
	char *doc = tu_slurp(cfg, NULL);
	/* "config": {...} is the first object inside; labels follow it */
	char *s = strchr(strstr(doc, "\"config\""), '{'), *e = strchr(s, '}');
	e[1] = '\0';
	write_file("config.json", s, cfgfile, cfgcap);
	char *lab = strstr(e + 2, "[");
	char list[1024] = "";
	for (char *q = strchr(lab, '"'); q != NULL && q < strchr(lab, ']');) {
		char *end = strchr(q + 1, '"');
		strncat(list, q + 1, (size_t)(end - q - 1));
		strcat(list, "\n");
		q = strchr(end + 1, '"');
	}
	write_file("labels.txt", list, labels, labcap);
	free(doc);
}

/* The names of the vectors whose name starts with prefix (at most max). */
static size_t
vector_names(const char *prefix, char names[][128], size_t max)
{
	DIR *d = opendir(tu_vectors_dir());
	struct dirent *e;
	size_t n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL && n < max) {
		const char *suffix = ".config.json";
		size_t len = strlen(e->d_name), sl = strlen(suffix);
		if (len > sl && strcmp(e->d_name + len - sl, suffix) == 0 &&
		    strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			snprintf(names[n++], 128, "%.*s", (int)(len - sl), e->d_name);
	}
	closedir(d);
	return n;
}

/* Vectors with their config object given by --config: three of
 * hop_exposure/v1 and every one of flow_exposure/v1. */
static void
test_vector_by_config(void **state)
{
	(void)state;
	char names[32][128] = {"random60-seeded-only", "example-in-exact", "random60-out-exact"};
	size_t n = 3 + vector_names("flow-", names + 3, 29);
	assert_true(n >= 3 + 6);
	for (size_t i = 0; i < n; i++) {
		char tx[1024], cfgfile[512], labels[512];
		vector_files(names[i], cfgfile, sizeof cfgfile, labels, sizeof labels);
		vector_path(tx, sizeof tx, names[i], "tx.csv");
		const char *const args[] = {"--config", cfgfile, "--labels", labels, tx, NULL};
		cli_vector(args, names[i]);
	}
}

/* Every flow_exposure/v1 vector with its config given as flags. */
static void
test_flow_vectors_by_flags(void **state)
{
	(void)state;
	char names[32][128];
	size_t n = vector_names("flow-", names, 32);
	assert_true(n >= 6);
	for (size_t i = 0; i < n; i++) {
		char tx[1024], cfgfile[512], labels[512], hops[16], ratio[40], seed[32], sm[40];
		tu_vector v;
		tu_vector_load(&v, names[i]);
		vector_files(names[i], cfgfile, sizeof cfgfile, labels, sizeof labels);
		vector_path(tx, sizeof tx, names[i], "tx.csv");
		snprintf(hops, sizeof hops, "%u", v.cfg.hops);
		snprintf(ratio, sizeof ratio, "%.17g", v.cfg.illicit_ratio);
		snprintf(seed, sizeof seed, "%llu", (unsigned long long)v.cfg.illicit_seed);
		snprintf(sm, sizeof sm, "%.17g", v.cfg.smoothing);
		const char *const args[] = {"--model",
		                            CORE_MODEL_FLOW_NAME,
		                            "--hops",
		                            hops,
		                            "--side",
		                            core_side_name(v.cfg.side),
		                            "--smoothing",
		                            sm,
		                            "--illicit-ratio",
		                            ratio,
		                            "--illicit-seed",
		                            seed,
		                            v.cfg.use_labels ? "--use-labels" : "--no-labels",
		                            "--labels",
		                            labels,
		                            tx,
		                            NULL};
		cli_vector(args, names[i]);
		tu_vector_free(&v);
	}
}

/* CSV, JSON lines, protobuf (the fixture) and stdin give the same output. */
static void
test_formats_agree(void **state)
{
	(void)state;
	char csv[512], jsonl[512], pb[1024];
	const char *fx = getenv("AMLRISK_FIXTURES");
	if (fx == NULL)
		fail_msg("AMLRISK_FIXTURES is not set");
	snprintf(pb, sizeof pb, "%s/spec-example.pb", fx);
	write_file("sim.csv",
	           "tx_id,sender,receiver,amount,timestamp,asset\n"
	           "t0,A,B,1.00,2026-01-01T00:00:00.000000Z,BTC\r\n"
	           "t1,B,C,1.00,2026-01-01T00:00:01.000000Z,\n"
	           "t2,C,D,1.00,2026-01-01T00:00:02.5Z,BTC\n"
	           "t3,A,C,1.00,2026-01-01T00:00:03Z,BTC\n"
	           "\"t4\",\"E\",A,1.00,1767225604000000,BTC\n"
	           "t5,D,D,1.00,2026-01-01T00:00:05.000000Z,BTC\n",
	           csv, sizeof csv);
	write_file("sim.jsonl",
	           "{\"tx_id\":\"t0\",\"sender\":\"A\",\"receiver\":\"B\",\"amount\":\"1.00\","
	           "\"timestamp_us\":1767225600000000,\"asset\":\"BTC\"}\n"
	           "{\"tx_id\":\"t1\",\"sender\":\"B\",\"receiver\":\"C\",\"amount\":\"1.00\","
	           "\"timestamp_us\":1767225601000000}\n"
	           "{\"tx_id\":\"t2\",\"sender\":\"C\",\"receiver\":\"D\",\"amount\":\"1\","
	           "\"timestamp_us\":\"1767225602000000\"}\n"
	           "\n"
	           "{\"tx_id\":\"t3\",\"sender\":\"A\",\"receiver\":\"C\",\"amount\":\"1.00\","
	           "\"timestamp_us\":1767225603000000}\n"
	           "{\"tx_id\":\"t4\",\"sender\":\"E\",\"receiver\":\"A\",\"amount\":\"1.00\","
	           "\"timestamp_us\":1767225604000000}\n"
	           "{\"tx_id\":\"t5\",\"sender\":\"D\",\"receiver\":\"D\",\"amount\":\"1.00\","
	           "\"timestamp_us\":1767225605000000}\n",
	           jsonl, sizeof jsonl);
	const char *const a_csv[] = {"--illicit-ratio", "0.5", csv, NULL};
	const char *const a_jsonl[] = {"--illicit-ratio", "0.5", jsonl, NULL};
	const char *const a_pb[] = {"--illicit-ratio", "0.5", pb, NULL};
	const char *const a_pbf[] = {"--illicit-ratio", "0.5", "--format", "protobuf", "-", NULL};
	const char *const a_stdin[] = {"--illicit-ratio", "0.5", "-", NULL};
	result r0 = cli(NULL, NULL, a_csv), r1 = cli(NULL, NULL, a_jsonl),
	       r2 = cli(NULL, NULL, a_pb);
	result r3 = cli(pb, NULL, a_pbf), r4 = cli(jsonl, NULL, a_stdin),
	       r5 = cli(csv, NULL, a_stdin);
	result r6 = cli(pb, NULL, a_stdin);
	result *all[] = {&r0, &r1, &r2, &r3, &r4, &r5, &r6};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (all[i]->status != 0)
			fail_msg("run %zu: exit %d: %s", i, all[i]->status, all[i]->err);
		assert_string_equal(all[i]->out, r0.out);
	}
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		result_free(all[i]);
}

static void
test_top_and_show_config(void **state)
{
	(void)state;
	char tx[1024];
	vector_path(tx, sizeof tx, "random60-any-within", "tx.csv");
	const char *const a_top[] = {"--top", "3", "-o", "/dev/stdout", tx, NULL};
	result r = cli(NULL, NULL, a_top);
	assert_int_equal(r.status, 0);
	int lines = 0;
	for (const char *p = r.out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4);
	result_free(&r);

	const char *const a_cfg[] = {
	        "--show-config",         "--direction", "out", "--hop-weights", "2",
	        "--no-degree-normalize", NULL};
	r = cli(NULL, "ILLICIT_SEED=99", a_cfg);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "{\"model\":\"hop_exposure/v1\",\"illicit_ratio\":0.05,"
	                           "\"illicit_seed\":99,\"use_labels\":true,\"hop_weights\":[2.0],"
	                           "\"direction\":\"out\",\"count\":\"within\","
	                           "\"degree_normalize\":false}\n");
	result_free(&r);

	/* flow_exposure/v1: its defaults, then flags over them */
	const char *const a_flow[] = {"--show-config", "--model", "flow_exposure/v1", NULL};
	r = cli(NULL, NULL, a_flow);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "{\"model\":\"flow_exposure/v1\",\"illicit_ratio\":0.0,"
	                           "\"illicit_seed\":42,\"use_labels\":true,\"hops\":6,"
	                           "\"side\":\"both\",\"smoothing\":1.0}\n");
	result_free(&r);
	const char *const a_flow2[] = {"--show-config",
	                               "--model",
	                               "flow_exposure/v1",
	                               "--hops",
	                               "32",
	                               "--side",
	                               "sent",
	                               "--smoothing",
	                               "2.5e-3",
	                               "--no-labels",
	                               "--illicit-ratio",
	                               "0.25",
	                               NULL};
	r = cli(NULL, "ILLICIT_SEED=7", a_flow2);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "{\"model\":\"flow_exposure/v1\",\"illicit_ratio\":0.25,"
	                           "\"illicit_seed\":7,\"use_labels\":false,\"hops\":32,"
	                           "\"side\":\"sent\",\"smoothing\":0.0025}\n");
	result_free(&r);

	/* --top with flow: the header and the first rows of the vector */
	char cfgfile[512], labels[512];
	vector_files("flow-random60-defaults", cfgfile, sizeof cfgfile, labels, sizeof labels);
	vector_path(tx, sizeof tx, "flow-random60-defaults", "tx.csv");
	const char *const a_ftop[] = {"--config", cfgfile, "--labels", labels,
	                              "--top",    "2",     tx,         NULL};
	r = cli(NULL, NULL, a_ftop);
	assert_int_equal(r.status, 0);
	tu_vector v;
	tu_vector_load(&v, "flow-random60-defaults");
	char *l1 = strchr(r.out, '\n') + 1, *l2 = strchr(l1, '\n') + 1;
	assert_memory_equal(r.out, v.header, strlen(v.header));
	assert_memory_equal(l1, v.rows[0], strcspn(v.rows[0], ","));
	assert_memory_equal(l2, v.rows[1], strcspn(v.rows[1], ","));
	assert_string_equal(strchr(l2, '\n'), "\n");
	tu_vector_free(&v);
	result_free(&r);
}

/* Each bad input stops with a non-zero exit and a message naming the place. */
static void
test_errors(void **state)
{
	(void)state;
	char bad_row[512], bad_amt[512], layout[512], quote[512], pbtrunc[512], labels[512];
	write_file("bad_row.csv",
	           "tx_id,sender,receiver,amount,timestamp\n"
	           "t0,A,B,1.0,2026-01-01T00:00:00Z\n"
	           "t1,A,B,1.0\n",
	           bad_row, sizeof bad_row);
	write_file("bad_amt.csv", "sender,receiver,amount\nA,B,1.0\nA,C,-3\n", bad_amt,
	           sizeof bad_amt);
	write_file("layout.csv", "from,to,value\nA,B,1\n", layout, sizeof layout);
	write_file("quote.csv", "sender,receiver\n\"A,B\n", quote, sizeof quote);
	write_file("trunc.pb", "\x40\x0a\x02t0", pbtrunc, sizeof pbtrunc);
	write_file("labels_bad.txt", "A\nB\x01\n", labels, sizeof labels);
	static const struct {
		const char *args[6];
		const char *env;
		int status;
		const char *want;
	} cases[] = {
	        {{NULL, NULL}, NULL, 1, "bad_row.csv:3: expected 5 fields"},
	        {{NULL, NULL}, NULL, 1, "bad_amt.csv:3: amount: not a non-negative decimal"},
	        {{NULL, NULL}, NULL, 1, "layout.csv:1: unknown column layout"},
	        {{NULL, NULL}, NULL, 1, "quote.csv:2: unterminated quoted field"},
	        {{NULL, NULL}, NULL, 1, "trunc.pb:record 1: truncated"},
	        {{"--direction", "sideways", "x.csv", NULL}, NULL, 2, "--direction: expected any"},
	        {{"--hop-weights", "1,,2", "x.csv", NULL}, NULL, 2, "--hop-weights"},
	        {{"--hop-weights", "1,-2", "x.csv", NULL},
	         NULL,
	         2,
	         "--hop-weights: hop_weights[1]"},
	        {{"--illicit-ratio", "1.5", "x.csv", NULL}, NULL, 2, "--illicit-ratio"},
	        {{"--illicit-seed", "-4", "x.csv", NULL}, NULL, 2, "--illicit-seed"},
	        {{"--count", "some", "x.csv", NULL}, NULL, 2, "--count"},
	        {{"--top", "many", "x.csv", NULL}, NULL, 2, "--top"},
	        {{"--format", "xml", "x.csv", NULL}, NULL, 2, "--format"},
	        {{"--frobnicate", "x.csv", NULL}, NULL, 2, "unknown option '--frobnicate'"},
	        {{"x.csv", "--top", NULL}, NULL, 2, "option '--top' needs a value"},
	        {{NULL}, NULL, 2, "no input FILE"},
	        {{"--show-config", NULL}, "ILLICIT_SEED=abc", 2, "ILLICIT_SEED"},
	        {{"/nonexistent/tx.csv", NULL}, NULL, 1, "cannot open '/nonexistent/tx.csv'"},
	        /* the flags of the other model, and bad flow values */
	        {{"--hops", "3", "x.csv", NULL},
	         NULL,
	         2,
	         "--hops: not an option of hop_exposure/v1"},
	        {{"--model", "flow_exposure/v1", "--direction", "in", "x.csv", NULL},
	         NULL,
	         2,
	         "--direction: not an option of flow_exposure/v1"},
	        {{"--model", "flow_exposure/v1", "--no-degree-normalize", "x.csv", NULL},
	         NULL,
	         2,
	         "--no-degree-normalize: not an option of flow_exposure/v1"},
	        {{"--side", "sent", "--model", "hop_exposure/v1", "x.csv", NULL},
	         NULL,
	         2,
	         "--side: not an option of hop_exposure/v1"},
	        {{"--model", "flow_exposure/v2", "x.csv", NULL}, NULL, 2, "--model: expected"},
	        {{"--model", "flow_exposure/v1", "--hops", "0", "x.csv"},
	         NULL,
	         2,
	         "--hops: expected"},
	        {{"--model", "flow_exposure/v1", "--hops", "33", "x.csv"}, NULL, 2, "--hops"},
	        {{"--model", "flow_exposure/v1", "--hops", "6x", "x.csv"}, NULL, 2, "--hops"},
	        {{"--model", "flow_exposure/v1", "--side", "in", "x.csv"}, NULL, 2, "--side"},
	        {{"--model", "flow_exposure/v1", "--smoothing", "-1", "x.csv"},
	         NULL,
	         2,
	         "--smoothing: expected a finite number >= 0"},
	        {{"--model", "flow_exposure/v1", "--smoothing", "inf", "x.csv"},
	         NULL,
	         2,
	         "--smoothing"},
	        {{"--model", "flow_exposure/v1", "--smoothing", "nan", "x.csv"},
	         NULL,
	         2,
	         "--smoothing"},
	        {{"--model", "flow_exposure/v1", "--config", NULL, "x.csv"},
	         NULL,
	         2,
	         "names model hop_exposure/v1, but --model is flow_exposure/v1"},
	        {{"--config", NULL, "--hops", "2", "x.csv"},
	         NULL,
	         2,
	         "--hops: not an option of hop_exposure/v1"},
	};
	const char *files[] = {bad_row, bad_amt, layout, quote, pbtrunc};
	char hopcfg[512];
	write_file("hop.json", "{\"model\":\"hop_exposure/v1\"}", hopcfg, sizeof hopcfg);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *args[8] = {NULL};
		if (i < 5)
			args[0] = files[i];
		else
			memcpy(args, cases[i].args, sizeof cases[i].args);
		for (size_t a = 0; a + 1 < 6; a++) /* --config NULL: the hop config */
			if (args[a] != NULL && strcmp(args[a], "--config") == 0 &&
			    args[a + 1] == NULL)
				args[a + 1] = hopcfg;
		result r = cli(NULL, cases[i].env, args);
		if (r.status != cases[i].status || strstr(r.err, cases[i].want) == NULL)
			fail_msg("case %zu: exit %d, stderr \"%s\", want %d and \"%s\"", i,
			         r.status, r.err, cases[i].status, cases[i].want);
		assert_string_equal(r.out, "");
		result_free(&r);
	}
	const char *const a_lab[] = {"--labels", labels, bad_row, NULL};
	result r = cli(NULL, NULL, a_lab);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "labels_bad.txt:2: wallet: control character"));
	result_free(&r);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/core_cli_test.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_help),
	        cmocka_unit_test(test_vector_by_flags),
	        cmocka_unit_test(test_vector_by_config),
	        cmocka_unit_test(test_flow_vectors_by_flags),
	        cmocka_unit_test(test_formats_agree),
	        cmocka_unit_test(test_top_and_show_config),
	        cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
