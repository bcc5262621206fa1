/* sim_publish_test.c - amlrisk-sim against the real services: generated and
 * file transactions published to a fresh topic come back exactly once, keyed by
 * sender and in per-sender order; bad input lines are reported by number and
 * skipped; --label-sources fills wallet_labels of a fresh database; --rate
 * with --probe-every sends every K-th transaction to a fresh receiver, logged
 * with its send time, never ahead of the schedule. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "sim.h"
#include "sim_tutil.h"
#include "th.h"

typedef struct got {
	tu_tx tx;
	char key[64];
	int32_t partition;
} got;

typedef struct got_vec {
	got *v;
	size_t cnt, cap;
} got_vec;

/* Copies one message into the vector arg; every message counts. */
static int
keep_msg(const rd_kafka_message_t *m, void *arg)
{
	got_vec *gv = arg;
	Aml__V1__Transaction *t = aml__v1__transaction__unpack(NULL, m->len, m->payload);
	assert_non_null(t);
	if (gv->cnt == gv->cap) {
		gv->cap *= 2;
		gv->v = realloc(gv->v, gv->cap * sizeof(*gv->v));
		assert_non_null(gv->v);
	}
	got *g = &gv->v[gv->cnt++];
	snprintf(g->tx.tx_id, sizeof(g->tx.tx_id), "%s", t->tx_id);
	snprintf(g->tx.sender, sizeof(g->tx.sender), "%s", t->sender);
	snprintf(g->tx.receiver, sizeof(g->tx.receiver), "%s", t->receiver);
	snprintf(g->tx.amount, sizeof(g->tx.amount), "%s", t->amount);
	snprintf(g->tx.asset, sizeof(g->tx.asset), "%s", t->asset);
	g->tx.ts = t->timestamp_us;
	assert_true(m->key_len < sizeof(g->key));
	memcpy(g->key, m->key, m->key_len);
	g->key[m->key_len] = '\0';
	g->partition = m->partition;
	aml__v1__transaction__free_unpacked(t, NULL);
	return 1;
}

/* Consumes topic from the start until want messages arrived (or 120 s passed)
 * and 2 s longer to catch extras. Returns them; *n set. */
static got *
consume(const char *topic, size_t want, size_t *n)
{
	char group[128];
	th_topic_name(group, sizeof(group), "sim.test.group");
	rd_kafka_t *rk = th_kafka_subscribe(topic, group);
	got_vec gv = {NULL, 0, want + 16};
	gv.v = malloc(gv.cap * sizeof(*gv.v));
	assert_non_null(gv.v);
	/* anything doubled would show up in the quiet 2 s */
	th_kafka_consume(rk, want, 120000, 2000, keep_msg, &gv);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	*n = gv.cnt;
	return gv.v;
}

/* index of "sim-<seed>-<i>" */
static size_t
tx_index(const char *id, uint64_t seed)
{
	char prefix[64];
	int n = snprintf(prefix, sizeof(prefix), "sim-%llu-", (unsigned long long)seed);
	if (strncmp(id, prefix, (size_t)n) != 0)
		fail_msg("unexpected tx_id %s", id);
	return strtoull(id + n, NULL, 10);
}

/* The transactions amlrisk-sim generates with these options (the others
 * default); *o is filled with them. Caller frees. */
static tu_tx *
generated(sim_gen_opts *o, uint64_t wallets, uint64_t transactions, uint64_t seed, size_t *n)
{
	sim_gen_opts_default(o);
	o->wallets = wallets;
	o->transactions = transactions;
	o->seed = seed;
	return tu_gen_all(o, n);
}

static void
test_publish_generated(void **state)
{
	(void)state;
	char topic[128], *err = NULL;
	th_topic_name(topic, sizeof(topic), "sim.pub");
	th_topic_create(topic, 4);
	const char *args[] = {"--publish",      "--topic", topic,    "--wallets", "2000",
	                      "--transactions", "20000",   "--seed", "99",        NULL};
	const char *env[] = {"LOG_LEVEL=warn", NULL};
	assert_int_equal(tu_run(args, env, NULL, &err, 180), 0);
	assert_null(strchr(err, '\r')); /* no progress bar when stderr is not a terminal */
	free(err);

	sim_gen_opts o;
	size_t n, m;
	tu_tx *want = generated(&o, 2000, 20000, 99, &n);
	got *v = consume(topic, n, &m);
	assert_int_equal(m, n);
	char *seen = calloc(n, 1);
	int32_t *part = malloc(o.wallets * sizeof(*part));
	int64_t *last = malloc(o.wallets * sizeof(*last));
	assert_true(seen && part && last);
	for (size_t w = 0; w < o.wallets; w++) {
		part[w] = -1;
		last[w] = -1;
	}
	for (size_t i = 0; i < m; i++) {
		size_t k = tx_index(v[i].tx.tx_id, o.seed);
		assert_true(k < n);
		assert_false(seen[k]); /* exactly once */
		seen[k] = 1;
		tu_assert_tx_equal(&v[i].tx, &want[k]);
		assert_string_equal(v[i].key, want[k].sender); /* keyed by sender */
		size_t w = strtoull(want[k].sender + 1, NULL, 10);
		/* one partition per sender, and its transactions in generated order */
		assert_true(part[w] < 0 || part[w] == v[i].partition);
		part[w] = v[i].partition;
		assert_true((int64_t)k > last[w]);
		last[w] = (int64_t)k;
	}
	free(last);
	free(part);
	free(seen);
	free(v);
	free(want);
}

/* --rate 20000 --probe-every 100: 3000 messages, the 30 probes logged in
 * order with their send times, each the generated transaction but for its
 * fresh receiver, the others untouched; no probe sent ahead of its due time. */
static void
test_publish_paced_probes(void **state)
{
	(void)state;
	char topic[128], plog[512], *err = NULL;
	th_topic_name(topic, sizeof(topic), "sim.probe");
	th_topic_create(topic, 2);
	tu_path(plog, sizeof(plog), "probes.log");
	const char *args[] = {"--publish", "--topic",        topic,   "--wallets",
	                      "500",       "--transactions", "3000",  "--seed",
	                      "7",         "--rate",         "20000", "--probe-every",
	                      "100",       "--probe-log",    plog,    NULL};
	const char *env[] = {"LOG_LEVEL=warn", NULL};
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* the probe log's clock */
	long long start_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (tu_run(args, env, NULL, &err, 180) != 0)
		fail_msg("amlrisk-sim: %s", err);
	free(err);

	sim_gen_opts o;
	size_t n, m;
	tu_tx *want = generated(&o, 500, 3000, 7, &n);
	assert_int_equal(n, 3000);
	char *log = tu_slurp(plog, NULL), *save = NULL;
	size_t probes = 0;
	long long prev_us = start_us;
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char wallet[64], txid[64], expect[64];
		long long us;
		assert_int_equal(sscanf(line, "%63s %63s %lld", wallet, txid, &us), 3);
		size_t k = 100 * probes + 99; /* every 100th, 0-based */
		snprintf(expect, sizeof(expect), "probe-7-%zu", k);
		assert_string_equal(wallet, expect);
		assert_string_equal(txid, want[k].tx_id);
		/* message k is due k / 20000 s after message 0, which is not sent
		 * before the process started: no probe goes ahead of that (1 ms for
		 * the wall clock against the schedule's monotonic one). A late
		 * probe's successors may follow it closer than 5 ms (catching up). */
		assert_true(us - start_us >= (long long)k * 50 - 1000);
		assert_true(us >= prev_us);
		prev_us = us;
		snprintf(want[k].receiver, sizeof(want[k].receiver), "%s", wallet);
		probes++;
	}
	free(log);
	assert_int_equal(probes, 30);
	got *v = consume(topic, n, &m);
	assert_int_equal(m, n);
	char *seen = calloc(n, 1);
	assert_non_null(seen);
	for (size_t i = 0; i < m; i++) {
		size_t k = tx_index(v[i].tx.tx_id, o.seed);
		assert_true(k < n);
		assert_false(seen[k]);
		seen[k] = 1;
		tu_assert_tx_equal(&v[i].tx, &want[k]); /* probes with their fresh receiver */
	}
	free(seen);
	free(v);
	free(want);
}

static void
test_publish_files_every_format(void **state)
{
	(void)state;
	static const char *fmts[] = {"protobuf", "jsonl", "csv"};
	char topic[128], file[512];
	th_topic_name(topic, sizeof(topic), "sim.file");
	th_topic_create(topic, 2);
	sim_gen_opts o;
	sim_gen_opts_default(&o);
	o.transactions = 3000;
	for (int i = 0; i < 3; i++) {
		char seed[8], *err = NULL;
		snprintf(seed, sizeof(seed), "%d", i + 1);
		snprintf(file, sizeof(file), "%s/in.%s", tu_dir, fmts[i]);
		const char *gen[] = {"--transactions", "3000",  "--seed", seed, "--format",
		                     fmts[i],          "--out", file,     NULL};
		assert_int_equal(tu_run(gen, NULL, NULL, NULL, 60), 0);
		const char *pub[] = {"--publish", "--in", file, "--topic", topic, NULL};
		const char *env[] = {"LOG_LEVEL=warn", NULL};
		if (tu_run(pub, env, NULL, &err, 120) != 0)
			fail_msg("publishing %s: %s", file, err);
		free(err);
	}
	/* stdin too, with the format named */
	{
		char *err = NULL;
		tu_path(file, sizeof(file), "in.csv");
		const char *args[] = {"--publish", "--in", "-",       "--format", "csv",
		                      "--topic",   topic,  "--quiet", NULL};
		int st = tu_run_in(args, NULL, file, NULL, &err, 120);
		if (st != 0)
			fail_msg("publishing stdin: %s", err);
		free(err);
	}
	size_t m;
	got *v = consume(topic, 4 * 3000, &m);
	assert_int_equal(m, 4 * 3000);
	for (int i = 0; i < 3; i++) {
		size_t n;
		o.seed = (uint64_t)i + 1;
		tu_tx *want = tu_gen_all(&o, &n);
		int *seen = calloc(n, sizeof(int));
		assert_non_null(seen);
		for (size_t j = 0; j < m; j++) {
			char prefix[32];
			snprintf(prefix, sizeof(prefix), "sim-%d-", i + 1);
			if (strncmp(v[j].tx.tx_id, prefix, strlen(prefix)) != 0)
				continue;
			size_t k = tx_index(v[j].tx.tx_id, o.seed);
			assert_true(k < n);
			seen[k]++;
			tu_assert_tx_equal(&v[j].tx, &want[k]);
			assert_string_equal(v[j].key, want[k].sender);
		}
		/* seed 3 was published twice (csv file, then csv on stdin) */
		for (size_t k = 0; k < n; k++)
			assert_int_equal(seen[k], i == 2 ? 2 : 1);
		free(seen);
		free(want);
	}
	free(v);
}

static void
test_publish_file_bad_lines(void **state)
{
	(void)state;
	char topic[128], good[512], bad[512], *err = NULL;
	th_topic_name(topic, sizeof(topic), "sim.bad");
	th_topic_create(topic, 1);
	tu_path(good, sizeof(good), "good.jsonl");
	tu_path(bad, sizeof(bad), "bad.jsonl");
	const char *gen[] = {"--transactions", "200",   "--seed", "5", "--format",
	                     "jsonl",          "--out", good,     NULL};
	assert_int_equal(tu_run(gen, NULL, NULL, NULL, 60), 0);
	/* bad lines inserted so they land on these line numbers */
	static const struct {
		int line;
		const char *text, *msg;
	} ins[] = {
	        {3, "{\"tx_id\": oops}", "line 3: JSON"},
	        {10,
	         "{\"tx_id\":\"b1\",\"sender\":\"a\",\"receiver\":\"b\",\"amount\":\"-1\","
	         "\"timestamp_us\":1767225600000000}",
	         "line 10: amount: not a non-negative decimal"},
	        {50, "{\"tx_id\":\"b2\",\"sender\":\"a\",\"amount\":\"1\",\"timestamp_us\":1}",
	         "line 50: field \"receiver\" missing"},
	        {120,
	         "{\"tx_id\":\"b3\",\"sender\":\"\",\"receiver\":\"b\",\"amount\":\"1\","
	         "\"timestamp_us\":1767225600000000}",
	         "line 120: sender: empty"},
	        {150,
	         "{\"tx_id\":\"b4\",\"sender\":\"a\",\"receiver\":\"b\",\"amount\":\"NaN\","
	         "\"timestamp_us\":0}",
	         "line 150: amount"},
	};
	char *src = tu_slurp(good, NULL), *save = NULL;
	FILE *f = fopen(bad, "w");
	assert_non_null(f);
	int line = 1;
	size_t next = 0;
	for (char *l = strtok_r(src, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		while (next < 5 && ins[next].line == line) {
			fprintf(f, "%s\n", ins[next++].text);
			line++;
		}
		fprintf(f, "%s\n", l);
		line++;
	}
	fclose(f);
	free(src);
	const char *pub[] = {"--publish", "--in", bad, "--topic", topic, NULL};
	const char *env[] = {"LOG_LEVEL=warn", NULL};
	assert_int_equal(tu_run(pub, env, NULL, &err, 120), 1);
	for (size_t i = 0; i < 5; i++)
		if (strstr(err, ins[i].msg) == NULL)
			fail_msg("stderr lacks \"%s\":\n%s", ins[i].msg, err);
	assert_non_null(strstr(err, "5 bad records skipped"));
	free(err);
	/* the good ones around them were all published */
	size_t m;
	got *v = consume(topic, 200, &m);
	assert_int_equal(m, 200);
	free(v);
}

static void
test_label_sources(void **state)
{
	(void)state;
	char url[1024], truth[512], env_url[1100];
	th_db_create(url, sizeof(url), 1);
	tu_path(truth, sizeof(truth), "truth.csv");
	const char *args[] = {"--wallets", "5000",      "--transactions",  "50000",
	                      "--seed",    "11",        "--truth",         truth,
	                      "--out",     "/dev/null", "--label-sources", "--database-url",
	                      url,         NULL};
	char *err = NULL;
	if (tu_run(args, NULL, NULL, &err, 120) != 0)
		fail_msg("amlrisk-sim --label-sources: %s", err);
	free(err);

	/* the sources of the truth file, exactly */
	char *t = tu_slurp(truth, NULL), *save = NULL;
	size_t nsrc = 0;
	PGconn *c = th_db_connect(url);
	for (char *l = strtok_r(t, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		char typ[32], wallet[32], role[16];
		int inst;
		if (sscanf(l, "%31[^,],%d,%31[^,],%15s", typ, &inst, wallet, role) != 4 ||
		    strcmp(role, "source") != 0)
			continue;
		nsrc++;
		const char *p[1] = {wallet};
		PGresult *r = PQexecParams(c,
		                           "SELECT count(*) FROM wallet_labels WHERE wallet = $1 "
		                           "AND label = 'illicit' AND source = 'amlrisk-sim'",
		                           1, NULL, p, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_string_equal(PQgetvalue(r, 0, 0), "1");
		PQclear(r);
	}
	free(t);
	assert_true(nsrc > 10);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM wallet_labels"), (int64_t)nsrc);

	/* again, through DATABASE_URL: harmless, nothing doubled */
	snprintf(env_url, sizeof(env_url), "DATABASE_URL=%s", url);
	const char *env[] = {env_url, NULL};
	const char *again[] = {"--wallets", "5000",  "--transactions", "50000",           "--seed",
	                       "11",        "--out", "/dev/null",      "--label-sources", NULL};
	assert_int_equal(tu_run(again, env, NULL, NULL, 120), 0);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM wallet_labels"), (int64_t)nsrc);

	/* an unreachable database is a clear failure, exit 1 */
	const char *down[] = {"--out",
	                      "/dev/null",
	                      "--label-sources",
	                      "--database-url",
	                      "postgresql://127.0.0.1:1/none?connect_timeout=2",
	                      NULL};
	assert_int_equal(tu_run(down, NULL, NULL, &err, 60), 1);
	assert_non_null(strstr(err, "--label-sources"));
	free(err);
	PQfinish(c);
	th_db_drop(url);

	/* --label-fraction: only the chosen share is stored, the wallets the
	 * labels file lists, no other */
	char labels[512];
	tu_path(labels, sizeof(labels), "labels.txt");
	th_db_create(url, sizeof(url), 1);
	const char *part[] = {"--wallets",
	                      "5000",
	                      "--transactions",
	                      "50000",
	                      "--seed",
	                      "11",
	                      "--out",
	                      "/dev/null",
	                      "--label-sources",
	                      "--labels-out",
	                      labels,
	                      "--label-fraction",
	                      "0.2",
	                      "--database-url",
	                      url,
	                      NULL};
	if (tu_run(part, NULL, NULL, &err, 120) != 0)
		fail_msg("amlrisk-sim --label-fraction 0.2: %s", err);
	free(err);
	c = th_db_connect(url);
	char *l = tu_slurp(labels, NULL);
	size_t nl = 0;
	save = NULL;
	for (char *w = strtok_r(l, "\n", &save); w != NULL; w = strtok_r(NULL, "\n", &save)) {
		const char *p[1] = {w};
		PGresult *r =
		        PQexecParams(c, "SELECT count(*) FROM wallet_labels WHERE wallet = $1", 1,
		                     NULL, p, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_string_equal(PQgetvalue(r, 0, 0), "1");
		PQclear(r);
		nl++;
	}
	free(l);
	assert_int_equal(nl, (size_t)floor(0.2 * (double)nsrc + 0.5));
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM wallet_labels"), (int64_t)nl);
	PQfinish(c);
	th_db_drop(url);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_publish_generated),
	        cmocka_unit_test(test_publish_paced_probes),
	        cmocka_unit_test(test_publish_files_every_format),
	        cmocka_unit_test(test_publish_file_bad_lines),
	        cmocka_unit_test(test_label_sources),
	};
	return cmocka_run_group_tests(tests, tu_dir_setup, tu_dir_teardown);
}
