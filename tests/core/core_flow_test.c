/* core_flow_test.c - flow_exposure/v1 against a plain reference (the spec's
 * recurrence over a dense amount matrix built from the transactions
 * themselves, tu_flow_ref_build): random graphs with zero, wide-ranging, huge and
 * subnormal amounts, self-transfers and parallel transactions, every side,
 * hops 1 to 32, smoothing 0 and above, labels and seeded shares; edge cases;
 * threads 1, 2 and 3 giving the same bits. Graphs of at most a few hundred
 * wallets. */
#include <float.h>
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
#include "core_impl.h" /* core_score_tuning_set: threads even for small runs */
#include "core_test_util.h"

static void
check_value(const char *what, const core_wallet_score *s, unsigned k, double got, double want)
{
	if (!isfinite(got) || got < 0 || got > 1 || !tu_close(got, want))
		fail_msg("%s %s_%u: %.17g, reference %.17g", s->wallet, what, k, got, want);
}

/* The engine against the reference on one graph and config (scale: see
 * tu_flow_ref_build); returns the run for more checks (caller unrefs). */
static core_run_result *
check_flow(const tu_txs *t, core_graph *g, const core_config *c, const core_labels *l,
           unsigned threads, double scale)
{
	tu_flow_ref f;
	core_run_result *r = tu_run(g, c, l, threads);
	uint8_t *ill = tu_illicit(g, c, l);
	tu_flow_ref_build(&f, t, g, c, ill, scale);
	unsigned kk = c->hops;
	for (uint32_t v = 0; v < f.n; v++) {
		core_wallet_score s;
		core_run_result_get(r, v, &s);
		assert_int_equal(s.model, CORE_MODEL_FLOW);
		assert_int_equal(s.hops, kk);
		assert_null(s.counts);
		assert_int_equal(s.exposures, 0);
		assert_int_equal(s.is_illicit, ill[v]);
		assert_int_equal(s.in_degree, f.in_deg[v]);
		assert_int_equal(s.out_degree, f.out_deg[v]);
		for (unsigned k = 1; k <= kk; k++) {
			check_value("r", &s, k, s.received[k - 1], f.r[(size_t)v * kk + k - 1]);
			check_value("s", &s, k, s.sent[k - 1], f.s[(size_t)v * kk + k - 1]);
		}
		assert_true(s.received_exposure == s.received[kk - 1]);
		assert_true(s.sent_exposure == s.sent[kk - 1]);
		double want = c->side == CORE_SIDE_RECEIVED ? s.received_exposure
		              : c->side == CORE_SIDE_SENT   ? s.sent_exposure
		                                            : s.received_exposure + s.sent_exposure;
		assert_true(s.risk_score == want);
		if (ill[v])
			assert_true(s.received_exposure == 1 && s.sent_exposure == 1);
	}
	tu_check_order(r);
	free(ill);
	tu_flow_ref_free(&f);
	return r;
}

/* Amount styles of the random graphs. */
enum { AM_PLAIN, AM_ZEROS, AM_WIDE, AM_ALL_ZERO, AM_HUGE, AM_TINY, AM_SUBNORMAL, AM_STYLES };

/* Rewrites t's amounts in style st; returns the reference's scale. */
static double
amounts_style(tu_txs *t, uint64_t *rng, int st)
{
	for (size_t i = 0; i < t->n; i++) {
		uint64_t x = tu_rand(rng);
		double u = (double)(x >> 11) / 9007199254740992.0;
		switch (st) {
		case AM_ZEROS:
			if (x % 3 == 0)
				t->amount[i] = 0;
			break;
		case AM_WIDE:
			t->amount[i] = exp((u - 0.5) * 30.0); /* 3e-7 .. 3e6 */
			break;
		case AM_ALL_ZERO:
			t->amount[i] = 0;
			break;
		case AM_HUGE: /* sums pass DBL_MAX; few parallel rows, so no edge does */
			t->amount[i] = 1e306 * (1 + 9 * u);
			break;
		case AM_TINY:
			t->amount[i] = 1e-300 * (1 + 9 * u);
			break;
		case AM_SUBNORMAL:
			t->amount[i] = 4.9406564584124654e-324 * (double)(x % 100000);
			break;
		}
	}
	return st == AM_HUGE ? ldexp(1.0, -1000) : st == AM_SUBNORMAL ? ldexp(1.0, 1000) : 1.0;
}

/* Random graphs of 1 to 120 wallets, sparse to dense, with self-transfers and
 * parallel rows, every amount style; per graph several configs: every side,
 * hops 1 to 32, smoothing 0 or not, labels and seeded shares. */
static void
test_random_vs_reference(void **state)
{
	(void)state;
	uint64_t rng = 1313;
	static const double smoothings[] = {0.0, 1.0, 0.5, 3.75, 1e-3, 40.0};
	for (int round = 0; round < 140; round++) {
		tu_txs t = {0};
		int st = round % AM_STYLES;
		uint32_t nw = round < 4 ? (uint32_t)round + 1 : 1 + (uint32_t)(tu_rand(&rng) % 120);
		if (st == AM_HUGE && nw < 60)
			nw = 60 + nw % 60;
		double density = (double)(tu_rand(&rng) % 600) / 100.0;
		if (round % 11 == 0)
			density = 20;
		tu_txs_random(&t, &rng, nw, (size_t)(nw * density) + 1);
		double scale = amounts_style(&t, &rng, st);
		core_graph *g = tu_graph(&t);
		core_labels *l;
		assert_int_equal(core_labels_create(&l), AMLRISK_OK);
		for (int i = 0; i < 4; i++) {
			char w[16];
			int len = snprintf(w, sizeof w, "w%u", (unsigned)(tu_rand(&rng) % nw));
			assert_int_equal(core_labels_add(l, w, (size_t)len), AMLRISK_OK);
		}
		for (int ci = 0; ci < 6; ci++) {
			core_config c;
			core_config_defaults_model(&c, CORE_MODEL_FLOW);
			c.side = (core_side)(ci % 3);
			c.hops = ci == 0 ? 32 : 1 + (unsigned)(tu_rand(&rng) % 32);
			c.smoothing = smoothings[tu_rand(&rng) % 6];
			c.use_labels = tu_rand(&rng) % 4 != 0;
			c.illicit_ratio =
			        tu_rand(&rng) % 2 ? 0.0 : (double)(tu_rand(&rng) % 30) / 100;
			c.illicit_seed = tu_rand(&rng);
			core_run_result_unref(
			        check_flow(&t, g, &c, l, 1 + (unsigned)(ci % 2), scale));
		}
		core_labels_destroy(l);
		core_graph_unref(g);
		tu_txs_free(&t);
	}
}

/* A hand-written case: transactions "S>R:amount", their graph, labels and a
 * flow config (the model's defaults until the test changes it). */
typedef struct fcase {
	tu_txs t;
	core_graph *g;
	core_labels *l;
	core_config c;
} fcase;

static void
fcase_open(fcase *f, const char *const *rows, const char *const *labels)
{
	memset(f, 0, sizeof *f);
	for (size_t i = 0; rows[i] != NULL; i++) {
		const char *gt = strchr(rows[i], '>'), *colon = strchr(rows[i], ':');
		assert_true(gt != NULL && colon != NULL);
		tu_txs_add(&f->t, rows[i], (size_t)(gt - rows[i]), gt + 1, (size_t)(colon - gt - 1),
		           strtod(colon + 1, NULL));
	}
	f->g = tu_graph(&f->t);
	f->l = tu_labels(labels);
	core_config_defaults_model(&f->c, CORE_MODEL_FLOW);
}

static void
fcase_close(fcase *f)
{
	core_labels_destroy(f->l);
	core_graph_unref(f->g);
	tu_txs_free(&f->t);
}

/* The case's run, checked against the reference (caller unrefs). */
static core_run_result *
fcase_run(fcase *f, unsigned threads, double scale)
{
	return check_flow(&f->t, f->g, &f->c, f->l, threads, scale);
}

static const char *const no_labels[] = {NULL}, *const x_label[] = {"X", NULL};

/* The spec's hand example: A gets 12.5 from the illicit X and 30 from B, so
 * with no smoothing R_1(A) = 12.5 / 42.5; D's self-transfer carries nothing. */
static void
test_spec_example(void **state)
{
	(void)state;
	static const char *const rows[] = {"X>A:10", "B>A:30", "A>C:20", "A>D:20",  "C>E:5",
	                                   "D>D:3",  "E>X:1",  "F>G:0",  "X>A:2.5", NULL};
	fcase f;
	fcase_open(&f, rows, x_label);
	f.c.smoothing = 0;
	f.c.hops = 3;
	core_run_result *r = fcase_run(&f, 2, 1.0);
	core_wallet_score a = tu_get(r, "A");
	assert_true(tu_rel(a.received[0], 12.5 / 42.5) < 1e-15);
	assert_true(tu_rel(tu_get(r, "C").received[1], 12.5 / 42.5) < 1e-15);
	assert_true(a.sent[0] == 0 && tu_rel(a.sent[2], 0.5) < 1e-15); /* A>C>E>X */
	assert_true(tu_get(r, "E").sent[0] == 1.0);
	/* D: its self-transfer adds no value; F, G: a zero amount is an edge */
	core_wallet_score d = tu_get(r, "D"), fw = tu_get(r, "F"), gw = tu_get(r, "G");
	assert_true(d.in_degree == 1 && d.out_degree == 0 && d.sent_exposure == 0);
	assert_true(fw.out_degree == 1 && gw.in_degree == 1);
	assert_true(fw.risk_score == 0 && gw.risk_score == 0);
	core_run_result_unref(r);
	fcase_close(&f);
}

static void
test_edge_cases(void **state)
{
	(void)state;
	static const char *const rows[] = {"A>B:5", "B>C:7", "C>A:1", "D>D:9", "D>D:2",
	                                   "E>F:0", "Z>F:0", "F>A:3", NULL};
	static const char *const zd[] = {"Z", "D", NULL};
	fcase f, z;
	fcase_open(&f, rows, no_labels);

	/* no illicit wallet: every value 0 */
	core_run_result *r = fcase_run(&f, 2, 1.0);
	assert_int_equal(core_run_result_illicit_count(r), 0);
	for (uint32_t v = 0; v < core_run_result_count(r); v++) {
		core_wallet_score s;
		core_run_result_get(r, v, &s);
		for (unsigned k = 0; k < f.c.hops; k++)
			assert_true(s.received[k] == 0 && s.sent[k] == 0);
		assert_true(s.risk_score == 0);
	}
	core_run_result_unref(r);
	/* ... and D, not illicit, gets nothing from its self-transfers */
	f.c.smoothing = 0;
	r = fcase_run(&f, 1, 1.0);
	assert_true(tu_get(r, "D").risk_score == 0);
	core_run_result_unref(r);

	/* every wallet illicit: 1 and 1, the score 2 (1 with one side) */
	f.c.illicit_ratio = 1.0;
	r = fcase_run(&f, 1, 1.0);
	for (uint32_t v = 0; v < core_run_result_count(r); v++) {
		core_wallet_score s;
		core_run_result_get(r, v, &s);
		assert_true(s.is_illicit && s.risk_score == 2.0);
	}
	core_run_result_unref(r);
	f.c.side = CORE_SIDE_SENT;
	r = fcase_run(&f, 1, 1.0);
	assert_true(tu_get(r, "D").risk_score == 1.0);
	core_run_result_unref(r);
	fcase_close(&f);

	/* D only sends to itself; Z's and E's value to F is zero: with smoothing 0,
	 * F's received value is 0 (its share is 0, not 0/0), and D, illicit, is 1 */
	fcase_open(&z, rows, zd);
	z.c.smoothing = 0;
	r = fcase_run(&z, 2, 1.0);
	core_wallet_score d = tu_get(r, "D"), fw = tu_get(r, "F");
	assert_true(d.in_degree == 0 && d.out_degree == 0 && d.risk_score == 2.0);
	assert_true(fw.in_degree == 2 && fw.received_exposure == 0);
	assert_true(tu_get(r, "Z").sent_exposure == 1 && tu_get(r, "E").sent_exposure == 0);
	core_run_result_unref(r);
	fcase_close(&z);

	/* no transactions at all */
	core_graph_builder *b;
	core_graph *g;
	core_config c;
	assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	r = tu_run(g, &c, NULL, 2);
	assert_int_equal(core_run_result_count(r), 0);
	core_run_result_unref(r);
	core_graph_unref(g);
}

/* Amounts at the ends of the double range: edge totals past DBL_MAX (kept as
 * DBL_MAX), receipts summing past it, c overflowing, subnormal amounts. */
static void
test_extreme_amounts(void **state)
{
	(void)state;
	fcase f;

	/* X>A twice 1.5e308: the edge's total is DBL_MAX; A also gets 1e308 from B */
	static const char *const big[] = {"X>A:1.5e308", "X>A:1.5e308", "B>A:1e308",
	                                  "A>C:1.7e308", "C>X:1e308",   "B>C:1e300",
	                                  "D>D:1.7e308", NULL};
	fcase_open(&f, big, x_label);
	f.c.hops = 4;
	const double *amt;
	assert_int_equal(core_graph_out_edges(f.g, tu_id(f.g, "X"), NULL, NULL, &amt), 1);
	assert_true(amt[0] == DBL_MAX);
	for (int sm = 0; sm < 2; sm++) {
		f.c.smoothing = sm;
		core_run_result *r = fcase_run(&f, 2, ldexp(1.0, -1000));
		if (sm == 0) /* DBL_MAX of DBL_MAX + 1e308 */
			assert_true(
			        tu_close(tu_get(r, "A").received[0], 1 / (1 + 1e308 / DBL_MAX)));
		core_run_result_unref(r);
	}
	fcase_close(&f);

	/* c = 1e308 x a mean of 1e180 overflows: every share is 0 (the exact ones
	 * are below 1e-127), never NaN */
	static const char *const mid[] = {"X>A:1e180", "A>B:1e180", "B>X:2e180", NULL};
	fcase_open(&f, mid, x_label);
	f.c.smoothing = 1e308;
	core_run_result *r = tu_run(f.g, &f.c, f.l, 1);
	assert_true(tu_get(r, "A").risk_score == 0 && tu_get(r, "B").risk_score == 0);
	assert_true(tu_get(r, "X").risk_score == 2);
	core_run_result_unref(r);
	fcase_close(&f);

	/* subnormal and tiny normal amounts */
	static const char *const tiny[] = {"X>A:4.9406564584124654e-324",
	                                   "B>A:1.5e-323",
	                                   "A>C:1e-320",
	                                   "C>X:2e-310",
	                                   "B>C:1e-300",
	                                   NULL};
	fcase_open(&f, tiny, x_label);
	for (int sm = 0; sm < 2; sm++) {
		f.c.smoothing = sm ? 0.25 : 0;
		r = fcase_run(&f, 1, ldexp(1.0, 1000));
		if (sm == 0) /* 1 of 4 units of 2^-1074 */
			assert_true(tu_get(r, "A").received[0] == 0.25);
		core_run_result_unref(r);
	}
	fcase_close(&f);
}

/* Threads 1, 2 and 3 give the same bits, the work split forced even on
 * small graphs. */
static void
test_threads_agree(void **state)
{
	(void)state;
	uint64_t rng = 99;
	tu_txs t = {0};
	tu_txs_random(&t, &rng, 1500, 9000);
	amounts_style(&t, &rng, AM_WIDE);
	core_graph *g = tu_graph(&t);
	core_config c;
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.illicit_ratio = 0.05;
	c.hops = 9;
	core_score_tuning many = {15, 1u << 22, 1u << 27, 1};
	core_score_tuning_set(&many);
	core_run_result *r[3];
	for (unsigned i = 0; i < 3; i++)
		r[i] = tu_run(g, &c, NULL, i + 1);
	core_score_tuning_set(NULL);
	uint32_t n = core_graph_wallet_count(g);
	for (unsigned i = 1; i < 3; i++) {
		for (uint32_t v = 0; v < n; v++) {
			core_wallet_score x, y;
			core_run_result_get(r[0], v, &x);
			core_run_result_get(r[i], v, &y);
			assert_memory_equal(&x.risk_score, &y.risk_score, sizeof(double));
			assert_memory_equal(x.received, y.received, c.hops * sizeof(double));
			assert_memory_equal(x.sent, y.sent, c.hops * sizeof(double));
			assert_int_equal(core_run_result_order(r[0])[v],
			                 core_run_result_order(r[i])[v]);
		}
	}
	for (unsigned i = 0; i < 3; i++)
		core_run_result_unref(r[i]);
	/* and the split threads against the reference */
	core_score_tuning_set(&many);
	core_run_result_unref(check_flow(&t, g, &c, NULL, 2, 1.0));
	core_score_tuning_set(NULL);
	core_graph_unref(g);
	tu_txs_free(&t);
}

/* Ties order by wallet bytes, as for hop_exposure/v1. */
static void
test_order_and_ties(void **state)
{
	(void)state;
	static const char *const rows[] = {"X>b:1", "X>a:1", "X>c:2", "c>d:1", "e>e:1", NULL};
	fcase f;
	fcase_open(&f, rows, x_label);
	f.c.smoothing = 0;
	f.c.side = CORE_SIDE_RECEIVED;
	core_run_result *r = fcase_run(&f, 2, 1.0);
	static const char *const want[] = {"X", "a", "b", "c", "d", "e"};
	for (uint32_t i = 0; i < 6; i++) {
		core_wallet_score s;
		core_run_result_get(r, core_run_result_order(r)[i], &s);
		assert_string_equal(s.wallet, want[i]);
		assert_int_equal(core_run_result_rank(r, s.id), i);
	}
	core_run_result_unref(r);
	fcase_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_example),  cmocka_unit_test(test_random_vs_reference),
	        cmocka_unit_test(test_edge_cases),    cmocka_unit_test(test_extreme_amounts),
	        cmocka_unit_test(test_threads_agree), cmocka_unit_test(test_order_and_ties),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
