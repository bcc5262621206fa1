/* server_console_test.c - the core's reads behind the console, over RPC
 * against a real PostgreSQL: TopScores pages (offset) and ranks in another
 * run (compare_run_id, compare_previous), counted in the database for a
 * stored run and read from memory for the latest, each checked against the
 * run's whole top list; ScoreDistribution from memory and from PostgreSQL
 * giving the same counts as a count made here; WalletHistory across runs,
 * paged, with wallets absent from older runs; and every bad argument. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "srv_th.h"
#include "th.h"

#define CALL(c, m, req, resp)                                                                      \
	ts_call((c), (m), &(req).base, (ProtobufCMessage **)&(resp), 10000, msg, sizeof(msg))

#define WALLETS_MAX 1000

/* A run's whole top order (n <= 1000 wallets): wallets and scores. */
typedef struct order {
	size_t n;
	char *wallet[WALLETS_MAX];
	double score[WALLETS_MAX];
} order;

static void
order_load(ts_core *c, int64_t run, order *o)
{
	Aml__V1__TopScoresResponse *t = ts_top(c, WALLETS_MAX, run);

	assert_true(t->n_scores < WALLETS_MAX); /* the whole run */
	o->n = t->n_scores;
	for (size_t i = 0; i < o->n; i++) {
		o->wallet[i] = strdup(t->scores[i]->wallet);
		o->score[i] = t->scores[i]->risk_score;
	}
	aml__v1__top_scores_response__free_unpacked(t, NULL);
}

static void
order_free(order *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->wallet[i]);
	o->n = 0;
}

/* The 1-based rank of wallet in o, 0 when absent. */
static uint64_t
order_rank(const order *o, const char *wallet)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->wallet[i], wallet) == 0)
			return i + 1;
	return 0;
}

/* TopScores of run in pages of page rows, each ranked in cmp (a run id, or
 * -1 for compare_previous): the rows are run's whole order page by page, and
 * every rank is the one in want (NULL: no run to compare with, want_cmp 0). */
static void
pages_ranked(ts_core *c, int64_t run, uint32_t page, int64_t cmp, const order *all,
             const order *want, int64_t want_cmp)
{
	char msg[256];

	for (uint32_t off = 0; off < all->n + page; off += page) {
		Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
		Aml__V1__TopScoresResponse *t = NULL;
		size_t rows = off < all->n ? all->n - off : 0;

		req.run_id = run;
		req.n = page;
		req.offset = off;
		req.compare_previous = cmp < 0;
		req.compare_run_id = cmp > 0 ? cmp : 0;
		assert_int_equal(CALL(c, "TopScores", req, t), TS_OK);
		assert_int_equal(t->run_id, run);
		assert_int_equal(t->offset, off);
		assert_int_equal(t->total, all->n);
		assert_int_equal(t->n_scores, rows < page ? rows : page);
		assert_int_equal(t->compare_run_id, want_cmp);
		assert_int_equal(t->n_compare_ranks, want_cmp != 0 ? t->n_scores : 0);
		for (size_t i = 0; i < t->n_scores; i++) {
			assert_string_equal(t->scores[i]->wallet, all->wallet[off + i]);
			if (want != NULL) {
				assert_true(t->compare_rank_cap >= 1000);
				assert_int_equal(t->compare_ranks[i],
				                 order_rank(want, t->scores[i]->wallet));
			}
		}
		aml__v1__top_scores_response__free_unpacked(t, NULL);
	}
}

/* A TopScores call expected to fail with code. */
static void
top_fails(ts_core *c, int64_t run, uint32_t offset, int64_t cmp, int code)
{
	Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
	Aml__V1__TopScoresResponse *t = NULL;
	char msg[256];

	req.run_id = run;
	req.offset = offset;
	req.compare_run_id = cmp;
	assert_int_equal(CALL(c, "TopScores", req, t), code);
}

/* Two hop runs and a flow run over one graph, then a hop run over a graph
 * with more wallets: the ranks of each in the others, from PostgreSQL (ties
 * at score 0 included) and from memory, match their whole top lists. */
static void
test_compare_ranks(void **st)
{
	ts_core c;
	PGconn *conn;
	order o1, o2, o3, o4;
	int64_t r1, r2, r3, r4;
	Aml__V1__RunScoreResponse *run;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "g", 1500, 300, 11);
	ts_label(conn, "w7");
	ts_label(conn, "w42");
	ts_core_start(&c, NULL);
	run = ts_score(&c, "{\"illicit_ratio\": 0.02}");
	r1 = run->run->run_id;
	aml__v1__run_score_response__free_unpacked(run, NULL);
	run = ts_score(&c, "{\"illicit_ratio\": 0.02, \"hop_weights\": [1, 0.1]}");
	r2 = run->run->run_id;
	aml__v1__run_score_response__free_unpacked(run, NULL);
	run = ts_score(&c, "{\"model\": \"flow_exposure/v1\", \"illicit_ratio\": 0.02}");
	r3 = run->run->run_id;
	aml__v1__run_score_response__free_unpacked(run, NULL);
	order_load(&c, r1, &o1);
	order_load(&c, r2, &o2);
	order_load(&c, r3, &o3);
	assert_true(o1.n > 200 && o1.score[o1.n - 1] == 0); /* ties at 0 */

	pages_ranked(&c, r2, 64, -1, &o2, &o1, r1);   /* previous hop run: PostgreSQL */
	pages_ranked(&c, r2, 100, r3, &o2, &o3, r3);  /* the latest run: memory */
	pages_ranked(&c, r1, 1000, r1, &o1, &o1, r1); /* itself: 1..n */
	pages_ranked(&c, r3, 50, r3, &o3, &o3, r3);   /* itself, from memory */
	pages_ranked(&c, r3, 200, -1, &o3, NULL, 0);  /* no earlier flow run */
	pages_ranked(&c, r1, 300, -1, &o1, NULL, 0);  /* no earlier run at all */

	/* more wallets: a run over them ranks wallets its predecessor lacks as 0 */
	ts_load_generated(conn, "h", 500, 400, 12);
	aml__v1__reload_graph_response__free_unpacked(ts_reload(&c), NULL);
	run = ts_score(&c, "{\"illicit_ratio\": 0.02}");
	r4 = run->run->run_id;
	aml__v1__run_score_response__free_unpacked(run, NULL);
	order_load(&c, r4, &o4);
	assert_true(o4.n > o2.n);
	pages_ranked(&c, r4, 128, -1, &o4, &o2, r2); /* hop: r2 is the previous hop run */
	pages_ranked(&c, r2, 128, r4, &o2, &o4, r4);

	top_fails(&c, r2, 0, 987654, TS_NOT_FOUND);
	top_fails(&c, r2, 0, -1, TS_INVALID);
	top_fails(&c, r2, 100001, 0, TS_INVALID);
	top_fails(&c, 987654, 0, 0, TS_NOT_FOUND);
	order_free(&o1);
	order_free(&o2);
	order_free(&o3);
	order_free(&o4);
	PQfinish(conn);
	ts_core_fini(&c);
}

static Aml__V1__ScoreDistributionResponse *
dist(ts_core *c, int64_t run, uint32_t bins, int want)
{
	Aml__V1__ScoreDistributionRequest req = AML__V1__SCORE_DISTRIBUTION_REQUEST__INIT;
	Aml__V1__ScoreDistributionResponse *d = NULL;
	char msg[256];

	req.run_id = run;
	req.bins = bins;
	assert_int_equal(CALL(c, "ScoreDistribution", req, d), want);
	return d;
}

/* d counts o as a count made here: bin floor(score / width), the last closed. */
static void
dist_expect(const Aml__V1__ScoreDistributionResponse *d, const order *o, uint32_t bins)
{
	uint64_t counts[64] = {0}, zero = 0;
	double max = o->score[0], width = max / bins;

	assert_true(bins <= 64);
	for (size_t i = 0; i < o->n; i++) {
		double b = width > 0 && o->score[i] > 0 ? floor(o->score[i] / width) : 0;
		counts[b >= bins ? bins - 1 : (uint32_t)b]++;
		zero += o->score[i] == 0;
	}
	assert_int_equal(d->wallets, o->n);
	assert_int_equal(d->zero, zero);
	assert_int_equal(d->nonfinite, 0);
	assert_true(d->max == max);
	assert_true(d->width == width);
	assert_int_equal(d->n_counts, bins);
	for (uint32_t i = 0; i < bins; i++)
		assert_int_equal(d->counts[i], counts[i]);
}

/* The latest run's histogram from memory equals the same run's from
 * PostgreSQL once a later run is latest, and both equal a count made here. */
static void
test_distribution(void **st)
{
	ts_core c;
	PGconn *conn;
	order o;
	Aml__V1__RunScoreResponse *run;
	Aml__V1__ScoreDistributionResponse *mem, *db;
	int64_t r1;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "g", 1200, 250, 5);
	ts_label(conn, "w3");
	ts_core_start(&c, NULL);
	run = ts_score(&c, "{\"model\": \"flow_exposure/v1\", \"illicit_ratio\": 0.03}");
	r1 = run->run->run_id;
	assert_true(run->run->illicit > 1);
	mem = dist(&c, 0, 16, TS_OK); /* 0: the latest */
	assert_int_equal(mem->run_id, r1);
	assert_string_equal(mem->model, "flow_exposure/v1");
	assert_int_equal(mem->illicit, run->run->illicit);
	aml__v1__run_score_response__free_unpacked(run, NULL);
	order_load(&c, r1, &o);
	dist_expect(mem, &o, 16);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{}"), NULL);
	db = dist(&c, r1, 16, TS_OK);
	dist_expect(db, &o, 16);
	assert_int_equal(db->illicit, mem->illicit);
	assert_string_equal(db->model, "flow_exposure/v1");
	aml__v1__score_distribution_response__free_unpacked(db, NULL);
	db = dist(&c, r1, 0, TS_OK); /* the default */
	assert_int_equal(db->n_counts, 40);
	aml__v1__score_distribution_response__free_unpacked(db, NULL);
	aml__v1__score_distribution_response__free_unpacked(mem, NULL);
	assert_null(dist(&c, r1, 1001, TS_INVALID));
	assert_null(dist(&c, 987654, 8, TS_NOT_FOUND));
	assert_null(dist(&c, -1, 8, TS_INVALID));
	order_free(&o);
	PQfinish(conn);
	ts_core_fini(&c);
}

static Aml__V1__WalletHistoryResponse *
history(ts_core *c, const char *wallet, uint32_t limit, int64_t before, int want)
{
	Aml__V1__WalletHistoryRequest req = AML__V1__WALLET_HISTORY_REQUEST__INIT;
	Aml__V1__WalletHistoryResponse *h = NULL;
	char msg[256];

	req.wallet = (char *)wallet;
	req.limit = limit;
	req.before_run_id = before;
	assert_int_equal(CALL(c, "WalletHistory", req, h), want);
	return h;
}

/* One wallet across runs of both models: each entry is that run's row, newest
 * first, paged; a wallet that arrived later has no row in the older runs. */
static void
test_history(void **st)
{
	ts_core c;
	PGconn *conn;
	Aml__V1__WalletHistoryResponse *h;
	Aml__V1__GetWalletScoreResponse *w;
	const char *late = NULL;
	order o1, o3;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "g", 800, 150, 9);
	ts_label(conn, "w1");
	ts_core_start(&c, NULL);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{}"), NULL);
	aml__v1__run_score_response__free_unpacked(
	        ts_score(&c, "{\"model\": \"flow_exposure/v1\"}"), NULL);
	ts_load_generated(conn, "h", 400, 220, 10);
	aml__v1__reload_graph_response__free_unpacked(ts_reload(&c), NULL);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"hop_weights\": [1, 0.5]}"),
	                                           NULL);
	order_load(&c, 1, &o1);
	order_load(&c, 3, &o3);
	for (size_t i = 0; late == NULL && i < o3.n; i++)
		if (order_rank(&o1, o3.wallet[i]) == 0)
			late = o3.wallet[i];
	assert_non_null(late);

	h = history(&c, "w1", 0, 0, TS_OK);
	assert_string_equal(h->wallet, "w1");
	assert_int_equal(h->n_entries, 3);
	assert_int_equal(h->found, 3);
	assert_int_equal(h->next_before_run_id, 0);
	for (size_t i = 0; i < 3; i++) {
		int64_t id = 3 - (int64_t)i;
		assert_int_equal(h->entries[i]->run->run_id, id);
		assert_string_equal(h->entries[i]->run->status, "completed");
		assert_int_equal(ts_wallet(&c, "w1", id, &w), TS_OK);
		assert_true(h->entries[i]->score->risk_score == w->score->risk_score);
		assert_string_equal(h->entries[i]->score->model, w->score->model);
		assert_int_equal(h->entries[i]->score->n_hops, w->score->n_hops);
		assert_int_equal(h->entries[i]->score->n_flow_hops, w->score->n_flow_hops);
		assert_true(h->entries[i]->score->is_illicit);
		aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	}
	assert_string_equal(h->entries[1]->run->model, "flow_exposure/v1");
	aml__v1__wallet_history_response__free_unpacked(h, NULL);

	h = history(&c, late, 2, 0, TS_OK); /* a page of two: runs 3 and 2 */
	assert_int_equal(h->n_entries, 2);
	assert_int_equal(h->next_before_run_id, 2);
	assert_int_equal(h->found, 1);
	assert_non_null(h->entries[0]->score);
	assert_null(h->entries[1]->score); /* not in run 2's graph */
	aml__v1__wallet_history_response__free_unpacked(h, NULL);
	h = history(&c, late, 2, 2, TS_OK);
	assert_int_equal(h->n_entries, 1);
	assert_int_equal(h->entries[0]->run->run_id, 1);
	assert_null(h->entries[0]->score);
	assert_int_equal(h->next_before_run_id, 0);
	aml__v1__wallet_history_response__free_unpacked(h, NULL);
	h = history(&c, "nobody", 10, 0, TS_OK);
	assert_int_equal(h->n_entries, 3);
	assert_int_equal(h->found, 0);
	aml__v1__wallet_history_response__free_unpacked(h, NULL);
	assert_null(history(&c, "w1", 501, 0, TS_INVALID));
	assert_null(history(&c, "", 1, 0, TS_INVALID));
	assert_null(history(&c, "w1", 1, -5, TS_INVALID));
	order_free(&o1);
	order_free(&o3);
	PQfinish(conn);
	ts_core_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_compare_ranks),
	        cmocka_unit_test(test_distribution),
	        cmocka_unit_test(test_history),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini();
	return rv;
}
