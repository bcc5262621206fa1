/* core_explain_test.c - explain (counts, contributions summing to the score,
 * listed illicit wallets with paths that exist and are shortest, caps) and the
 * neighbourhood view (distances, relevance caps, edges, truncation, errors). */
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

static const char *const spec_pairs[] = {"A>B", "B>C", "C>D", "A>C", "E>A", "D>D", "A>B", NULL};

static core_run_result *
run_labels(core_graph *g, const core_config *c, const char *label)
{
	core_labels *l;
	core_run_result *r;
	char err[128];
	assert_int_equal(core_labels_create(&l), AMLRISK_OK);
	if (label != NULL)
		assert_int_equal(core_labels_add(l, label, strlen(label)), AMLRISK_OK);
	assert_int_equal(core_score_run(&r, g, c, l, 2, err, sizeof err), AMLRISK_OK);
	core_labels_destroy(l);
	return r;
}

/* The spec example scored with A labelled illicit (ratio 0) and direction d,
 * count n, default weights. */
static core_run_result *
spec_run(core_graph **g, core_direction d, core_count n)
{
	core_config c;
	core_config_defaults(&c);
	c.illicit_ratio = 0;
	c.direction = d;
	c.count = n;
	*g = tu_graph_pairs(spec_pairs);
	return run_labels(*g, &c, "A");
}

static core_explain *
explain(const core_run_result *r, const char *w, uint32_t per_hop, uint32_t max)
{
	core_explain *e = NULL;
	core_explain_params p = {per_hop, max, 0};
	assert_int_equal(core_explain_build(&e, r, w, strlen(w), &p), AMLRISK_OK);
	return e;
}

static void
test_explain_spec(void **state)
{
	(void)state;
	core_graph *g;
	core_run_result *r = spec_run(&g, CORE_DIR_ANY, CORE_COUNT_WITHIN);
	const core_explain_hop *h;
	const core_explain_source *s;

	core_explain *e = explain(r, "D", 0, 0);
	assert_int_equal(core_explain_hops(e, &h), 3);
	assert_int_equal(h[0].exact + h[1].exact, 0);
	assert_int_equal(h[2].exact, 1);
	assert_int_equal(h[2].count, 1);
	assert_true(h[2].weight == 0.3 && h[2].contribution == 0.3);
	assert_true(core_explain_score(e) == 0.3 && core_explain_normaliser(e) == 1.0);
	assert_int_equal(core_explain_sources(e, &s), 1);
	assert_int_equal(h[2].first_source, 0);
	assert_int_equal(h[2].source_count, 1);
	assert_int_equal(s[0].id, tu_id(g, "A"));
	assert_int_equal(s[0].hop, 2);
	assert_int_equal(s[0].direction, CORE_DIR_ANY);
	assert_int_equal(s[0].path[0], tu_id(g, "D"));
	assert_int_equal(s[0].path[1], tu_id(g, "C"));
	assert_int_equal(s[0].path[2], tu_id(g, "A"));
	assert_false(core_explain_truncated(e));
	assert_int_equal(core_explain_wallet(e), tu_id(g, "D"));
	assert_ptr_equal(core_explain_graph(e), g);
	core_explain_destroy(e);

	/* A explains itself at hop 0; within counts carry it to every hop */
	e = explain(r, "A", 0, 0);
	core_explain_hops(e, &h);
	assert_int_equal(core_explain_sources(e, &s), 1);
	assert_int_equal(s[0].hop, 0);
	assert_int_equal(s[0].path[0], tu_id(g, "A"));
	assert_true(h[0].count == 1 && h[1].count == 1 && h[2].count == 1);
	assert_true(tu_rel(h[0].contribution + h[1].contribution + h[2].contribution,
	                   core_explain_score(e)) < 1e-12);
	assert_true(tu_rel(core_explain_normaliser(e), sqrt(3)) < 1e-15);
	core_explain_destroy(e);

	core_explain *bad = NULL;
	assert_int_equal(core_explain_build(&bad, r, "Z", 1, NULL), AMLRISK_ENOTFOUND);
	core_explain_params p = {1, 10001, 0};
	assert_int_equal(core_explain_build(&bad, r, "A", 1, &p), AMLRISK_EINVAL);
	assert_null(bad);
	core_explain_destroy(NULL);
	core_run_result_unref(r);

	core_graph_unref(g);
	/* direction in: C is reached by A in one hop (A->C), listed as IN */
	r = spec_run(&g, CORE_DIR_IN, CORE_COUNT_EXACT);
	e = explain(r, "C", 0, 0);
	core_explain_hops(e, &h);
	assert_int_equal(h[1].exact, 1);
	assert_int_equal(h[2].exact, 0);
	assert_int_equal(core_explain_sources(e, &s), 1);
	assert_int_equal(s[0].direction, CORE_DIR_IN);
	assert_int_equal(s[0].path[1], tu_id(g, "A"));
	core_explain_destroy(e);
	core_run_result_unref(r);
	core_graph_unref(g);
}

/* Every listed path starts at the wallet, ends at the source, follows arcs in
 * the source's direction and is as short as the reference distance. */
static void
check_explain(const tu_ref *ref, const core_run_result *r, uint32_t v, uint32_t per_hop,
              uint32_t max)
{
	const core_config *c = core_run_result_config(r);
	const core_graph *g = core_run_result_graph(r);
	core_wallet_score ws;
	core_run_result_get(r, v, &ws);
	core_explain *e = explain(r, ws.wallet, per_hop, max);
	const core_explain_hop *h;
	const core_explain_source *s;
	size_t nh = core_explain_hops(e, &h), ns = core_explain_sources(e, &s);
	assert_int_equal(nh, c->hops + 1);
	assert_true(ns <= max);
	double sum = 0;
	bool trunc = false;
	uint32_t within = 0;
	for (size_t k = 0; k < nh; k++) {
		within += h[k].exact;
		assert_int_equal(h[k].count, ws.counts[k]);
		assert_int_equal(h[k].count, c->count == CORE_COUNT_WITHIN ? within : h[k].exact);
		assert_true(h[k].source_count <= per_hop || k == 0);
		if (c->direction == CORE_DIR_BOTH && k > 0)
			assert_int_equal(h[k].exact_in + h[k].exact_out, h[k].exact);
		trunc |= h[k].source_count < h[k].exact;
		sum += h[k].contribution;
		for (size_t i = h[k].first_source; i < h[k].first_source + h[k].source_count; i++) {
			assert_int_equal(s[i].hop, k);
			if (i > h[k].first_source && s[i].direction == s[i - 1].direction) {
				size_t la, lb;
				const char *a = core_graph_wallet(g, s[i - 1].id, &la);
				const char *b = core_graph_wallet(g, s[i].id, &lb);
				int cmp = memcmp(a, b, la < lb ? la : lb);
				assert_true(cmp < 0 || (cmp == 0 && la < lb));
			}
		}
	}
	assert_int_equal(core_explain_truncated(e), trunc);
	assert_int_equal(within, ws.exposures);
	if (tu_rel(sum, ws.risk_score) > 1e-9)
		fail_msg("%s: contributions %.17g, score %.17g", ws.wallet, sum, ws.risk_score);
	for (size_t i = 0; i < ns; i++) {
		core_wallet_score src;
		core_run_result_get(r, s[i].id, &src);
		assert_true(src.is_illicit);
		assert_int_equal(s[i].path[0], v);
		assert_int_equal(s[i].path[s[i].hop], s[i].id);
		core_direction walk = s[i].direction; /* IN: against the arcs from v */
		uint32_t *d = tu_ref_dist(ref, v,
		                          walk == CORE_DIR_ANY  ? CORE_DIR_ANY
		                          : walk == CORE_DIR_IN ? CORE_DIR_IN
		                                                : CORE_DIR_OUT);
		assert_int_equal(d[s[i].id], s[i].hop);
		free(d);
		for (unsigned j = 0; j < s[i].hop; j++) {
			uint32_t a = s[i].path[j], b = s[i].path[j + 1];
			bool fwd = ref->adj[(size_t)a * ref->n + b],
			     back = ref->adj[(size_t)b * ref->n + a];
			if (walk == CORE_DIR_IN)
				assert_true(back);
			else if (walk == CORE_DIR_OUT)
				assert_true(fwd);
			else
				assert_true(fwd || back);
		}
	}
	core_explain_destroy(e);
}

static void
test_explain_random(void **state)
{
	(void)state;
	uint64_t rng = 11;
	for (int round = 0; round < 12; round++) {
		tu_txs t = {0};
		tu_ref ref;
		uint32_t nw = 2 + (uint32_t)(tu_rand(&rng) % 300);
		tu_txs_random(&t, &rng, nw, nw * (1 + tu_rand(&rng) % 4));
		core_graph *g = tu_graph(&t);
		tu_ref_build(&ref, &t, g);
		for (int dir = 0; dir < 4; dir++) {
			core_config c;
			core_config_defaults(&c);
			c.direction = (core_direction)dir;
			c.count = (core_count)(tu_rand(&rng) % 2);
			c.illicit_ratio = 0.05 + (double)(tu_rand(&rng) % 30) / 100;
			c.hops = 1 + (unsigned)(tu_rand(&rng) % 4);
			for (unsigned k = 0; k <= c.hops; k++)
				c.hop_weights[k] = 1.0 / (k + 1);
			c.degree_normalize = tu_rand(&rng) % 2;
			core_run_result *r = run_labels(g, &c, NULL);
			for (uint32_t v = 0; v < core_graph_wallet_count(g); v += 1 + v % 3) {
				uint32_t per_hop = round % 2 ? 3 : 1000,
				         max = round % 3 ? 10000 : 5;
				check_explain(&ref, r, v, per_hop, max);
			}
			core_run_result_unref(r);
		}
		tu_ref_free(&ref);
		core_graph_unref(g);
		tu_txs_free(&t);
	}
}

/* ------------------------------------------------------- neighbourhood --- */

static core_neigh *
neigh(core_graph *g, const core_run_result *r, const char *w, unsigned hops, size_t nl, size_t el)
{
	core_neigh *n = NULL;
	char err[128];
	if (core_neigh_build(&n, g, r, w, strlen(w), hops, nl, el, 0, err, sizeof err) !=
	    AMLRISK_OK)
		fail_msg("core_neigh_build: %s", err);
	return n;
}

static void
test_neigh_spec(void **state)
{
	(void)state;
	core_graph *g;
	core_run_result *r = spec_run(&g, CORE_DIR_ANY, CORE_COUNT_WITHIN);
	const core_neigh_node *nd;
	const core_neigh_edge *ed;

	core_neigh *n = neigh(g, r, "A", 1, 100, 100);
	assert_int_equal(core_neigh_nodes(n, &nd), 4); /* A; then E 0.9, B 0.64, C 0.52 */
	assert_int_equal(nd[0].id, tu_id(g, "A"));
	assert_int_equal(nd[0].distance, 0);
	assert_true(nd[0].is_illicit);
	assert_int_equal(nd[1].id, tu_id(g, "E"));
	assert_int_equal(nd[2].id, tu_id(g, "B"));
	assert_int_equal(nd[3].id, tu_id(g, "C"));
	assert_int_equal(nd[3].in_degree, 2);
	assert_true(tu_rel(nd[2].risk_score, 0.6363961030678927) < 1e-12);
	assert_int_equal(core_neigh_edges(n, &ed), 4); /* A>B (2 tx), A>C, E>A, B>C */
	for (size_t i = 0; i < 4; i++) {
		if (nd[ed[i].from].id == tu_id(g, "A") && nd[ed[i].to].id == tu_id(g, "B")) {
			assert_int_equal(ed[i].tx_count, 2);
			assert_true(ed[i].amount == 2.0);
		}
	}
	assert_false(core_neigh_truncated(n));
	assert_ptr_equal(core_neigh_graph(n), g);
	core_neigh_destroy(n);

	n = neigh(g, r, "A", 2, 100, 100);
	assert_int_equal(core_neigh_nodes(n, &nd), 5);
	assert_int_equal(nd[4].id, tu_id(g, "D"));
	assert_int_equal(nd[4].distance, 2);
	assert_int_equal(core_neigh_edges(n, &ed), 5);
	core_neigh_destroy(n);

	/* limits: the riskiest neighbour stays, the rest is cut */
	n = neigh(g, r, "A", 2, 2, 100);
	assert_int_equal(core_neigh_nodes(n, &nd), 2);
	assert_int_equal(nd[1].id, tu_id(g, "E"));
	assert_int_equal(core_neigh_edges(n, &ed), 1);
	assert_true(core_neigh_truncated(n));
	core_neigh_destroy(n);
	n = neigh(g, r, "A", 1, 100, 1);
	assert_int_equal(core_neigh_edges(n, &ed), 1);
	assert_true(nd != NULL && core_neigh_truncated(n));
	core_neigh_destroy(n);
	n = neigh(g, r, "D", 1, 1, 0);
	assert_int_equal(core_neigh_nodes(n, &nd), 1);
	assert_int_equal(core_neigh_edges(n, &ed), 0);
	assert_true(core_neigh_truncated(n));
	core_neigh_destroy(n);

	/* without a run: no scores */
	n = neigh(g, NULL, "C", 1, 100, 100);
	assert_int_equal(core_neigh_nodes(n, &nd), 4);
	for (size_t i = 0; i < 4; i++)
		assert_true(nd[i].risk_score == 0 && !nd[i].is_illicit);
	core_neigh_destroy(n);
	core_neigh_destroy(NULL);

	/* bad parameters name themselves */
	static const struct {
		unsigned hops;
		size_t nl, el;
		const char *want;
	} bad[] = {{0, 10, 10, "hops"},
	           {7, 10, 10, "hops"},
	           {1, 0, 10, "node_limit"},
	           {1, 100001, 10, "node_limit"},
	           {1, 10, 1000001, "edge_limit"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		core_neigh *x = NULL;
		char err[128] = "";
		assert_int_equal(core_neigh_build(&x, g, r, "A", 1, bad[i].hops, bad[i].nl,
		                                  bad[i].el, 0, err, sizeof err),
		                 AMLRISK_EINVAL);
		assert_non_null(strstr(err, bad[i].want));
		assert_null(x);
	}
	core_neigh *x = NULL;
	assert_int_equal(core_neigh_build(&x, g, r, "Q", 1, 1, 10, 10, 0, NULL, 0),
	                 AMLRISK_ENOTFOUND);
	core_graph *other = tu_graph_pairs(spec_pairs);
	assert_int_equal(core_neigh_build(&x, other, r, "A", 1, 1, 10, 10, 0, NULL, 0),
	                 AMLRISK_EINVAL);
	core_graph_unref(other);
	core_run_result_unref(r);
	core_graph_unref(g);
}

/* Relevance as the view defines it, for the reference ordering. */
typedef struct cand {
	uint32_t id, dist;
	double score;
	bool ill;
	const core_graph *g;
} cand;

static int
cand_cmp(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	if (x->ill != y->ill)
		return x->ill ? -1 : 1;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	size_t la, lb;
	const char *sa = core_graph_wallet(x->g, x->id, &la),
	           *sb = core_graph_wallet(y->g, y->id, &lb);
	int c = memcmp(sa, sb, la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

static void
test_neigh_random(void **state)
{
	(void)state;
	uint64_t rng = 17;
	for (int round = 0; round < 20; round++) {
		tu_txs t = {0};
		tu_ref ref;
		uint32_t nw = 2 + (uint32_t)(tu_rand(&rng) % 400);
		tu_txs_random(&t, &rng, nw, nw * (1 + tu_rand(&rng) % 3));
		core_graph *g = tu_graph(&t);
		tu_ref_build(&ref, &t, g);
		core_config c;
		core_config_defaults(&c);
		c.illicit_ratio = 0.2;
		core_run_result *r = run_labels(g, &c, NULL);
		uint32_t centre = (uint32_t)(tu_rand(&rng) % ref.n);
		unsigned hops = 1 + (unsigned)(tu_rand(&rng) % 3);
		size_t nl = 1 + tu_rand(&rng) % 60, el = tu_rand(&rng) % 80;
		uint32_t *d = tu_ref_dist(&ref, centre, CORE_DIR_ANY);
		cand *cs = calloc(ref.n, sizeof *cs);
		size_t nc = 0;
		for (uint32_t v = 0; v < ref.n; v++) {
			if (d[v] > hops)
				continue;
			core_wallet_score ws;
			core_run_result_get(r, v, &ws);
			cs[nc++] = (cand){v, d[v], ws.risk_score, ws.is_illicit, g};
		}
		qsort(cs, nc, sizeof *cs, cand_cmp);
		size_t len;
		const char *w = core_graph_wallet(g, centre, &len);
		core_neigh *n = neigh(g, r, w, hops, nl, el);
		const core_neigh_node *nd;
		const core_neigh_edge *ed;
		size_t nn = core_neigh_nodes(n, &nd), ne = core_neigh_edges(n, &ed);
		assert_int_equal(nn, nc < nl ? nc : nl);
		for (size_t i = 0; i < nn; i++) {
			assert_int_equal(nd[i].id, cs[i].id);
			assert_int_equal(nd[i].distance, cs[i].dist);
		}
		/* the edges among the kept nodes, all of them when under the limit */
		size_t among = 0;
		for (size_t i = 0; i < nn; i++)
			for (size_t j = 0; j < nn; j++)
				among += ref.adj[(size_t)nd[i].id * ref.n + nd[j].id];
		assert_int_equal(ne, among < el ? among : el);
		for (size_t i = 0; i < ne; i++) {
			assert_true(ed[i].from < nn && ed[i].to < nn);
			assert_true(ref.adj[(size_t)nd[ed[i].from].id * ref.n + nd[ed[i].to].id]);
			assert_true(ed[i].tx_count >= 1);
		}
		assert_int_equal(core_neigh_truncated(n), nc > nl || among > el);
		core_neigh_destroy(n);
		free(cs);
		free(d);
		core_run_result_unref(r);
		tu_ref_free(&ref);
		core_graph_unref(g);
		tu_txs_free(&t);
	}
}

/* A hub with spokes fanned out to a second ring, 2 * spokes + 1 wallets. */
static core_graph *
hub_graph(unsigned spokes)
{
	tu_txs t = {0};
	char a[32], b[32];
	for (unsigned i = 0; i < spokes; i++) {
		int la = snprintf(a, sizeof a, "s%u", i), lb = snprintf(b, sizeof b, "t%u", i);
		tu_txs_add(&t, "H", 1, a, (size_t)la, 1.0);
		tu_txs_add(&t, a, (size_t)la, b, (size_t)lb, 1.0);
	}
	core_graph *g = tu_graph(&t);
	tu_txs_free(&t);
	return g;
}

/* The hub's explain and neighbourhood stop at the work bound, examine no more
 * arcs than it allows and say so; under the bound nothing changes. */
static void
test_work_bound(void **state)
{
	(void)state;
	core_graph *g = hub_graph(3000);
	core_config c;
	core_config_defaults(&c);
	c.illicit_ratio = 0.3;
	core_run_result *r = run_labels(g, &c, NULL);
	core_explain *full = NULL, *cut = NULL;
	core_explain_params p = {10, 100, 0};
	assert_int_equal(core_explain_build(&full, r, "H", 1, &p), AMLRISK_OK);
	assert_false(core_explain_capped(full));
	/* 3000 arcs of the hub, 2 of each spoke */
	assert_int_equal(core_explain_work(full), 9000);
	p.work_max = 4000;
	assert_int_equal(core_explain_build(&cut, r, "H", 1, &p), AMLRISK_OK);
	assert_true(core_explain_capped(cut));
	assert_true(core_explain_truncated(cut));
	assert_true(core_explain_work(cut) <= 4000);
	assert_true(core_explain_work(cut) >= 3000);
	const core_explain_hop *hf, *hc;
	core_explain_hops(full, &hf);
	core_explain_hops(cut, &hc);
	assert_int_equal(hc[1].exact, hf[1].exact); /* the hub's level is whole */
	assert_true(hc[2].exact <= hf[2].exact);
	assert_true(hc[2].exact < hf[2].exact || hf[2].exact == 0);
	assert_true(core_explain_score(cut) == core_explain_score(full));
	core_explain_destroy(full);
	core_explain_destroy(cut);
	/* flow explain reports its steps under the same bound */
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.illicit_ratio = 0.3;
	core_run_result *rf = run_labels(g, &c, NULL);
	p.work_max = 1000;
	assert_int_equal(core_explain_build(&cut, rf, "H", 1, &p), AMLRISK_OK);
	assert_true(core_explain_work(cut) <= 1000);
	core_explain_destroy(cut);
	core_run_result_unref(rf);

	core_neigh *n = NULL;
	char err[128];
	assert_int_equal(core_neigh_build(&n, g, r, "H", 1, 2, 100000, 100000, 0, err, sizeof err),
	                 AMLRISK_OK);
	assert_false(core_neigh_capped(n));
	assert_false(core_neigh_truncated(n));
	const core_neigh_node *nodes;
	assert_int_equal(core_neigh_nodes(n, &nodes), 6001);
	core_neigh_destroy(n);
	assert_int_equal(
	        core_neigh_build(&n, g, r, "H", 1, 2, 100000, 100000, 5000, err, sizeof err),
	        AMLRISK_OK);
	assert_true(core_neigh_capped(n));
	assert_true(core_neigh_truncated(n));
	assert_true(core_neigh_work(n) <= 5000);
	size_t nn = core_neigh_nodes(n, &nodes);
	assert_true(nn > 3000 && nn < 6001);
	core_neigh_destroy(n);
	core_run_result_unref(r);
	core_graph_unref(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_explain_spec), cmocka_unit_test(test_explain_random),
	        cmocka_unit_test(test_neigh_spec),   cmocka_unit_test(test_neigh_random),
	        cmocka_unit_test(test_work_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
