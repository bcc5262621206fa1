/* core_flow_explain_test.c - explain of flow_exposure/v1: per-hop values, the
 * contribution of each listed source against a brute-force enumeration of
 * every walk on small graphs (and its heaviest walk), walks that exist edge
 * by edge, contributions plus others adding up to the score on random graphs,
 * the work bound (capped, the sum still holds), the listing cap, a wallet in
 * S, and the other model's accessors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "core_engine.h"
#include "core_test_util.h"

/* One graph scored with one flow config, its reference and illicit set. */
typedef struct world {
	tu_txs t;
	core_graph *g;
	core_config c;
	core_run_result *r;
	uint8_t *ill;
	tu_flow_ref f;
} world;

static void
world_open(world *w, uint64_t *rng, uint32_t nw, size_t ntx, const core_config *c)
{
	memset(w, 0, sizeof *w);
	tu_txs_random(&w->t, rng, nw, ntx);
	for (size_t i = 0; i < w->t.n; i++) /* some zero amounts too */
		if (tu_rand(rng) % 9 == 0)
			w->t.amount[i] = 0;
	w->g = tu_graph(&w->t);
	w->c = *c;
	w->r = tu_run(w->g, c, NULL, 2);
	w->ill = tu_illicit(w->g, c, NULL);
	tu_flow_ref_build(&w->f, &w->t, w->g, c, w->ill, 1.0);
}

static void
world_close(world *w)
{
	tu_flow_ref_free(&w->f);
	free(w->ill);
	core_run_result_unref(w->r);
	core_graph_unref(w->g);
	tu_txs_free(&w->t);
}

static core_explain *
explain(const core_run_result *r, uint32_t v, uint32_t max, uint64_t work)
{
	core_explain *e = NULL;
	core_explain_params p = {0, max, work};
	size_t len;
	const char *wallet = core_graph_wallet(core_run_result_graph(r), v, &len);
	assert_int_equal(core_explain_build(&e, r, wallet, len, &p), AMLRISK_OK);
	return e;
}

/* Every walk of 1..K steps from x (against the money for RECEIVED, with it for
 * SENT) whose wallets after the start are not in S until it ends at one:
 * sum[s] gets the products of the shares, best[s] the largest one. */
static void
brute_walks(const world *w, core_side side, uint32_t x, double weight, unsigned depth, double *sum,
            double *best)
{
	const tu_flow_ref *f = &w->f;
	for (uint32_t y = 0; y < f->n; y++) {
		bool recv = side == CORE_SIDE_RECEIVED;
		if (!f->edge[recv ? (size_t)y * f->n + x : (size_t)x * f->n + y])
			continue;
		double ww = weight * (recv ? tu_flow_ref_share(f, side, y, x)
		                           : tu_flow_ref_share(f, side, x, y));
		if (!(ww > 0))
			continue;
		if (w->ill[y]) {
			sum[y] += ww;
			best[y] = ww > best[y] ? ww : best[y];
		} else if (depth + 1 < f->K) {
			brute_walks(w, side, y, ww, depth + 1, sum, best);
		}
	}
}

/* A listed walk runs the way money moved, between the wallet and its source,
 * along edges of the graph, through wallets not in S, and weighs what it says. */
static void
check_walk(const world *w, uint32_t v, const core_explain_contrib *c)
{
	bool recv = c->side == CORE_SIDE_RECEIVED;
	assert_true(c->walk_len >= 1 && c->walk_len <= w->c.hops);
	assert_int_equal(c->walk[0], recv ? c->source : v);
	assert_int_equal(c->walk[c->walk_len], recv ? v : c->source);
	assert_true(w->ill[c->source]);
	double weight = 1;
	for (unsigned i = 0; i < c->walk_len; i++) {
		uint32_t a = c->walk[i], b = c->walk[i + 1];
		if (!w->f.edge[(size_t)a * w->f.n + b])
			fail_msg("walk step %u: no edge %u -> %u", i, a, b);
		const uint32_t *dst;
		size_t k = core_graph_out_edges(w->g, a, &dst, NULL, NULL), j = 0;
		while (j < k && dst[j] != b)
			j++;
		assert_true(j < k); /* and the engine's graph has it */
		if (i > 0)
			assert_false(w->ill[a]);
		weight *= tu_flow_ref_share(&w->f, c->side, a, b);
	}
	if (!tu_close(weight, c->walk_weight))
		fail_msg("walk weight %.17g, its shares give %.17g", c->walk_weight, weight);
}

/* Listed in order, adding up with the others to the score. */
static void
check_sum_and_order(const world *w, const core_explain *e)
{
	const core_explain_contrib *cs;
	size_t n = core_explain_contribs(e, &cs);
	double listed = 0;
	for (size_t i = 0; i < n; i++) {
		listed += cs[i].contribution;
		assert_true(cs[i].contribution > 0);
		if (i == 0)
			continue;
		assert_true(cs[i - 1].contribution >= cs[i].contribution);
		if (cs[i - 1].contribution == cs[i].contribution && cs[i - 1].side == cs[i].side) {
			size_t la, lb;
			const char *a = core_graph_wallet(w->g, cs[i - 1].source, &la);
			const char *b = core_graph_wallet(w->g, cs[i].source, &lb);
			int cmp = memcmp(a, b, la < lb ? la : lb);
			assert_true(cmp < 0 || (cmp == 0 && la < lb));
		}
	}
	double score = core_explain_score(e);
	if (fabs(listed + core_explain_others(e) - score) > 1e-9 * (score > 1 ? score : 1))
		fail_msg("listed %.17g + others %.17g != score %.17g", listed,
		         core_explain_others(e), score);
	/* nothing left out: the contributions alone are the score */
	if (!core_explain_truncated(e) && fabs(core_explain_others(e)) > 1e-9 * score + 1e-12)
		fail_msg("others %.17g of score %.17g with every source listed",
		         core_explain_others(e), score);
}

/* The per-hop values are the run's. */
static void
check_hops(const world *w, const core_explain *e, uint32_t v)
{
	const double *rk, *sk;
	core_wallet_score s;
	core_run_result_get(w->r, v, &s);
	assert_int_equal(core_explain_model(e), CORE_MODEL_FLOW);
	assert_int_equal(core_explain_flow_hops(e, &rk, &sk), w->c.hops);
	assert_memory_equal(rk, s.received, w->c.hops * sizeof(double));
	assert_memory_equal(sk, s.sent, w->c.hops * sizeof(double));
	assert_true(core_explain_score(e) == s.risk_score);
	const core_explain_hop *h;
	const core_explain_source *src;
	assert_int_equal(core_explain_hops(e, &h), 0);
	assert_int_equal(core_explain_sources(e, &src), 0);
	assert_true(core_explain_normaliser(e) == 1.0);
}

/* A flow config for round: each side in turn, hops 1..max_hops, smoothing 0
 * every fourth round, a seeded share from ratio up. */
static core_config
random_config(uint64_t *rng, int round, unsigned max_hops, double ratio)
{
	core_config c;
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.side = (core_side)(round % 3);
	c.hops = 1 + (unsigned)(tu_rand(rng) % max_hops);
	c.smoothing = round % 4 == 0 ? 0.0 : (double)(tu_rand(rng) % 300) / 100;
	c.illicit_ratio = ratio + (double)(tu_rand(rng) % 30) / 100;
	c.illicit_seed = tu_rand(rng);
	return c;
}

/* Small graphs: each listed source's contribution and heaviest walk are the
 * brute-force enumeration's, and every source is listed. */
static void
test_brute_force(void **state)
{
	(void)state;
	uint64_t rng = 404;
	for (int round = 0; round < 60; round++) {
		core_config c = random_config(&rng, round, 5, 0.15);
		uint32_t nw = 2 + (uint32_t)(tu_rand(&rng) % 9);
		world w;
		world_open(&w, &rng, nw, nw * (1 + tu_rand(&rng) % 3), &c);
		uint32_t n = w.f.n;
		double *sum = calloc(2 * (size_t)n, sizeof *sum), *best = calloc(2 * (size_t)n, 8);
		assert_true(sum != NULL && best != NULL);
		for (uint32_t v = 0; v < n; v++) {
			core_explain *e = explain(w.r, v, 10000, 0);
			const core_explain_contrib *cs;
			size_t nc = core_explain_contribs(e, &cs);
			check_hops(&w, e, v);
			check_sum_and_order(&w, e);
			assert_false(core_explain_capped(e));
			assert_false(core_explain_truncated(e));
			if (w.ill[v]) {
				assert_int_equal(nc, c.side == CORE_SIDE_BOTH ? 2 : 1);
				for (size_t i = 0; i < nc; i++)
					assert_true(cs[i].source == v && cs[i].walk_len == 0 &&
					            cs[i].walk[0] == v && cs[i].contribution == 1);
				core_explain_destroy(e);
				continue;
			}
			memset(sum, 0, 2 * (size_t)n * sizeof *sum);
			memset(best, 0, 2 * (size_t)n * sizeof *best);
			size_t want = 0;
			for (int side = 0; side < 2; side++) {
				core_side sd = side ? CORE_SIDE_SENT : CORE_SIDE_RECEIVED;
				if (c.side != CORE_SIDE_BOTH && c.side != sd)
					continue;
				brute_walks(&w, sd, v, 1.0, 0, sum + side * n, best + side * n);
				for (uint32_t s = 0; s < n; s++)
					want += sum[side * n + s] > 0;
			}
			assert_int_equal(nc, want);
			for (size_t i = 0; i < nc; i++) {
				size_t at = (cs[i].side == CORE_SIDE_SENT ? n : 0) + cs[i].source;
				if (!tu_close(cs[i].contribution, sum[at]))
					fail_msg("round %d wallet %u source %u: %.17g, walks give "
					         "%.17g",
					         round, v, cs[i].source, cs[i].contribution,
					         sum[at]);
				assert_true(tu_close(cs[i].walk_weight, best[at]));
				check_walk(&w, v, &cs[i]);
			}
			core_explain_destroy(e);
		}
		free(sum);
		free(best);
		world_close(&w);
	}
}

/* Bigger random graphs: the sum holds, walks are real, caps and bounds are
 * reported. */
static void
test_random_sums(void **state)
{
	(void)state;
	uint64_t rng = 77;
	for (int round = 0; round < 16; round++) {
		core_config c = random_config(&rng, round, 8, 0.02);
		uint32_t nw = 50 + (uint32_t)(tu_rand(&rng) % 350);
		world w;
		world_open(&w, &rng, nw, nw * (2 + tu_rand(&rng) % 5), &c);
		for (uint32_t v = 0; v < w.f.n; v += 1 + (uint32_t)(tu_rand(&rng) % 5)) {
			uint32_t max = round % 2 ? 3 : 10000;
			core_explain *e = explain(w.r, v, max, 0);
			const core_explain_contrib *cs;
			size_t nc = core_explain_contribs(e, &cs);
			check_hops(&w, e, v);
			check_sum_and_order(&w, e);
			assert_false(core_explain_capped(e));
			assert_true(nc <= max);
			for (size_t i = 0; i < nc && !w.ill[v]; i++)
				check_walk(&w, v, &cs[i]);
			core_explain_destroy(e);
		}
		world_close(&w);
	}
}

/* The work bound: capped, the traced contributions no more than the full
 * ones, and the listed parts with the others still the score. */
static void
test_work_bound(void **state)
{
	(void)state;
	uint64_t rng = 5;
	core_config c;
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.illicit_ratio = 0.05;
	world w;
	world_open(&w, &rng, 300, 3000, &c);
	int capped = 0;
	for (uint32_t v = 0; v < w.f.n; v += 7) {
		if (w.ill[v])
			continue;
		core_explain *full = explain(w.r, v, 10000, 0);
		const core_explain_contrib *fc, *cc;
		size_t nf = core_explain_contribs(full, &fc);
		assert_false(core_explain_capped(full));
		static const uint64_t bounds[] = {1, 5, 40, 300};
		for (size_t b = 0; b < 4; b++) {
			core_explain *e = explain(w.r, v, 10000, bounds[b]);
			size_t nc = core_explain_contribs(e, &cc);
			check_sum_and_order(&w, e);
			capped += core_explain_capped(e);
			if (core_explain_capped(e))
				assert_true(core_explain_truncated(e));
			assert_true(core_explain_others(e) >= -1e-12);
			for (size_t i = 0; i < nc; i++) {
				check_walk(&w, v, &cc[i]);
				size_t j = 0;
				while (j < nf &&
				       (fc[j].source != cc[i].source || fc[j].side != cc[i].side))
					j++;
				assert_true(j < nf);
				assert_true(cc[i].contribution <= fc[j].contribution * (1 + 1e-12));
			}
			/* a bound of 1 edge cannot expand a wallet with two neighbours */
			if (bounds[b] == 1 &&
			    core_graph_in_degree(w.g, v) + core_graph_out_degree(w.g, v) > 2) {
				assert_true(core_explain_capped(e));
			}
			core_explain_destroy(e);
		}
		core_explain_destroy(full);
	}
	assert_true(capped > 10);
	world_close(&w);
}

/* The listing cap: the largest first, truncated said. */
static void
test_listing_cap(void **state)
{
	(void)state;
	static const char *const rows[] = {"X>A", "Y>A", "Y>A", "Z>A", "Z>A", "Z>A", NULL};
	static const char *const S[] = {"X", "Y", "Z", NULL};
	core_graph *g = tu_graph_pairs(rows);
	core_labels *l = tu_labels(S);
	core_config c;
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.smoothing = 0;
	c.side = CORE_SIDE_RECEIVED;
	core_run_result *r = tu_run(g, &c, l, 1);
	core_explain *e = NULL;
	core_explain_params p = {0, 2, 0};
	assert_int_equal(core_explain_build(&e, r, "A", 1, &p), AMLRISK_OK);
	const core_explain_contrib *cs;
	assert_int_equal(core_explain_contribs(e, &cs), 2);
	assert_int_equal(cs[0].source, tu_id(g, "Z"));
	assert_true(tu_close(cs[0].contribution, 0.5));
	assert_int_equal(cs[1].source, tu_id(g, "Y"));
	assert_true(tu_close(core_explain_others(e), 1.0 / 6));
	assert_true(core_explain_truncated(e) && !core_explain_capped(e));
	core_explain_destroy(e);
	/* the default lists them all (10 at most); an illicit wallet lists itself */
	assert_int_equal(core_explain_build(&e, r, "A", 1, NULL), AMLRISK_OK);
	assert_int_equal(core_explain_contribs(e, &cs), 3);
	assert_false(core_explain_truncated(e));
	core_explain_destroy(e);
	assert_int_equal(core_explain_build(&e, r, "Y", 1, NULL), AMLRISK_OK);
	assert_int_equal(core_explain_contribs(e, &cs), 1);
	assert_true(cs[0].source == tu_id(g, "Y") && cs[0].side == CORE_SIDE_RECEIVED &&
	            cs[0].walk_len == 0 && core_explain_others(e) == 0);
	core_explain_destroy(e);
	/* bad parameters, an unknown wallet */
	p.sources_max = 10001;
	assert_int_equal(core_explain_build(&e, r, "A", 1, &p), AMLRISK_EINVAL);
	assert_int_equal(core_explain_build(&e, r, "Q", 1, NULL), AMLRISK_ENOTFOUND);
	core_run_result_unref(r);

	/* a hop run's explain has no flow part */
	core_config_defaults_model(&c, CORE_MODEL_HOP);
	r = tu_run(g, &c, l, 1);
	assert_int_equal(core_explain_build(&e, r, "A", 1, NULL), AMLRISK_OK);
	const double *rk, *sk;
	assert_int_equal(core_explain_model(e), CORE_MODEL_HOP);
	assert_int_equal(core_explain_flow_hops(e, &rk, &sk), 0);
	assert_true(rk == NULL && sk == NULL);
	assert_int_equal(core_explain_contribs(e, &cs), 0);
	assert_true(core_explain_others(e) == 0 && !core_explain_capped(e));
	core_explain_destroy(e);
	core_run_result_unref(r);
	core_labels_destroy(l);
	core_graph_unref(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_brute_force),
	        cmocka_unit_test(test_random_sums),
	        cmocka_unit_test(test_work_bound),
	        cmocka_unit_test(test_listing_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
