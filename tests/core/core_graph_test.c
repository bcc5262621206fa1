/* core_graph_test.c - the wallet graph: interning, parallel transactions and
 * self-transfers, CSR rows both ways, degrees, per-edge totals, reference
 * counting, bad input, long and non-ASCII ids, and a graph of 200k wallets. */
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

static void
test_spec_example(void **state)
{
	(void)state;
	/* A->B twice (3 and 4.5), B->C, C->D, A->C, E->A, D->D */
	core_graph_builder *b;
	core_graph *g;
	core_graph_stats st;
	assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
	core_tx txs[] = {
	        {"A", 1, "B", 1, 3.0, 1767225600000000, 10},
	        {"B", 1, "C", 1, 1.0, 1767225601000000, 11},
	        {"C", 1, "D", 1, 1.0, 1767225602000000, 12},
	        {"A", 1, "C", 1, 1.0, 1767225603000000, 13},
	        {"E", 1, "A", 1, 1.0, 1767225604000000, 14},
	        {"D", 1, "D", 1, 1.0, 1767225599000000, 9},
	        {"A", 1, "B", 1, 4.5, 0, 0},
	};
	for (size_t i = 0; i < sizeof txs / sizeof txs[0]; i++)
		assert_int_equal(core_graph_builder_add_tx(b, &txs[i]), AMLRISK_OK);
	assert_int_equal(core_graph_builder_tx_count(b), 7);
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);

	core_graph_stats_get(g, &st);
	assert_int_equal(st.wallets, 5);
	assert_int_equal(st.edges, 5);
	assert_int_equal(st.txs, 7);
	assert_int_equal(st.self_txs, 1);
	assert_int_equal(st.max_seq, 14);
	assert_int_equal(st.min_ts_us, 1767225599000000);
	assert_int_equal(st.max_ts_us, 1767225604000000);
	assert_true(st.bytes > 0);
	assert_int_equal(core_graph_wallet_count(g), 5);

	const char *names[] = {"A", "B", "C", "D", "E"};
	const uint32_t in[] = {1, 1, 2, 1, 0}, out[] = {2, 1, 1, 0, 1};
	for (int i = 0; i < 5; i++) {
		uint32_t id = tu_id(g, names[i]);
		size_t len;
		assert_string_equal(core_graph_wallet(g, id, &len), names[i]);
		assert_int_equal(len, 1);
		assert_int_equal(core_graph_in_degree(g, id), in[i]);
		assert_int_equal(core_graph_out_degree(g, id), out[i]);
	}
	const uint32_t *dst, *txc, *src;
	const double *amt;
	uint32_t a = tu_id(g, "A"), bb = tu_id(g, "B"), c = tu_id(g, "C");
	size_t n = core_graph_out_edges(g, a, &dst, &txc, &amt);
	assert_int_equal(n, 2);
	assert_true(dst[0] < dst[1]);
	for (size_t i = 0; i < n; i++) {
		if (dst[i] == bb) {
			assert_int_equal(txc[i], 2);
			assert_true(amt[i] == 7.5);
		} else {
			assert_int_equal(dst[i], c);
			assert_int_equal(txc[i], 1);
			assert_true(amt[i] == 1.0);
		}
	}
	n = core_graph_in_edges(g, c, &src);
	assert_int_equal(n, 2);
	assert_true(src[0] < src[1]);
	assert_true((src[0] == a && src[1] == bb) || (src[0] == bb && src[1] == a));
	/* D's self-transfer: a node, no edge */
	assert_int_equal(core_graph_out_edges(g, tu_id(g, "D"), NULL, NULL, NULL), 0);

	uint32_t id;
	assert_int_equal(core_graph_find(g, "F", 1, &id), AMLRISK_ENOTFOUND);
	assert_int_equal(core_graph_find(g, "", 0, &id), AMLRISK_ENOTFOUND);
	assert_int_equal(core_graph_find(g, "AB", 1, &id), AMLRISK_OK); /* only "A" */
	core_graph_unref(g);
}

static void
test_empty_and_null(void **state)
{
	(void)state;
	core_graph_builder *b;
	core_graph *g;
	core_graph_stats st;
	uint32_t id;
	core_graph_destroy(NULL);
	core_graph_unref(NULL);
	core_graph_builder_destroy(NULL);
	core_labels_destroy(NULL);
	assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);
	core_graph_stats_get(g, &st);
	assert_int_equal(st.wallets, 0);
	assert_int_equal(st.edges, 0);
	assert_int_equal(core_graph_find(g, "A", 1, &id), AMLRISK_ENOTFOUND);
	core_graph_destroy(g);
	/* an abandoned builder with rows in it */
	assert_int_equal(core_graph_builder_create(&b, 5), AMLRISK_OK);
	assert_int_equal(core_graph_builder_add(b, "A", 1, "B", 1, 1.0), AMLRISK_OK);
	core_graph_builder_destroy(b);
}

static void
test_refcount(void **state)
{
	(void)state;
	const char *pairs[] = {"A>B", NULL};
	core_graph *g = tu_graph_pairs(pairs);
	assert_ptr_equal(core_graph_ref(g), g);
	core_graph_unref(g);
	assert_int_equal(core_graph_wallet_count(g), 2); /* still alive */
	core_graph_unref(g);
}

static void
test_bad_rows(void **state)
{
	(void)state;
	core_graph_builder *b;
	core_graph *g;
	static char longid[CORE_WALLET_LEN_MAX + 2];
	memset(longid, 'x', sizeof longid);
	assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
	assert_int_equal(core_graph_builder_add(b, "", 0, "B", 1, 1.0), AMLRISK_EINVAL);
	assert_int_equal(core_graph_builder_add(b, "A", 1, NULL, 0, 1.0), AMLRISK_EINVAL);
	assert_int_equal(core_graph_builder_add(b, "A", 1, "B", 1, -1.0), AMLRISK_EINVAL);
	assert_int_equal(core_graph_builder_add(b, "A", 1, "B", 1, 0.0 / 0.0), AMLRISK_EINVAL);
	assert_int_equal(core_graph_builder_add(b, "A", 1, "B", 1, 1.0 / 0.0), AMLRISK_EINVAL);
	assert_int_equal(core_graph_builder_add(b, longid, CORE_WALLET_LEN_MAX + 1, "B", 1, 1.0),
	                 AMLRISK_EINVAL);
	/* nothing of the rejected rows went in */
	assert_int_equal(core_graph_builder_tx_count(b), 0);
	assert_int_equal(core_graph_builder_add(b, longid, CORE_WALLET_LEN_MAX, "B", 1, 0.0),
	                 AMLRISK_OK);
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);
	assert_int_equal(core_graph_wallet_count(g), 2);
	uint32_t id;
	size_t len;
	assert_int_equal(core_graph_find(g, longid, CORE_WALLET_LEN_MAX, &id), AMLRISK_OK);
	assert_non_null(core_graph_wallet(g, id, &len));
	assert_int_equal(len, CORE_WALLET_LEN_MAX);
	assert_int_equal(core_graph_out_degree(g, id), 1);
	core_graph_unref(g);
}

static void
test_raw_bytes(void **state)
{
	(void)state;
	/* ids are raw bytes: UTF-8, embedded NUL, prefixes of each other */
	const char u1[] = "\xc3\xa9t\xc3\xa9", u2[] = "\xe2\x82\xbf\xf0\x9f\x92\xb0";
	const char z1[] = {'a', '\0', 'b'}, z2[] = {'a'};
	core_graph_builder *b;
	core_graph *g;
	assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
	assert_int_equal(core_graph_builder_add(b, u1, strlen(u1), u2, strlen(u2), 1), AMLRISK_OK);
	assert_int_equal(core_graph_builder_add(b, z1, 3, z2, 1, 1), AMLRISK_OK);
	assert_int_equal(core_graph_builder_add(b, z2, 1, z1, 2, 1), AMLRISK_OK); /* "a\0" */
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);
	assert_int_equal(core_graph_wallet_count(g), 5);
	uint32_t a, c;
	size_t len;
	assert_int_equal(core_graph_find(g, z1, 3, &a), AMLRISK_OK);
	assert_int_equal(core_graph_find(g, z1, 2, &c), AMLRISK_OK);
	assert_int_not_equal(a, c);
	const char *s = core_graph_wallet(g, a, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, z1, 3);
	assert_int_equal(s[3], '\0');
	assert_int_equal(core_graph_find(g, u2, strlen(u2), &a), AMLRISK_OK);
	assert_int_equal(core_graph_in_degree(g, a), 1);
	core_graph_unref(g);
}

/* Many wallets: table growth, staging batches, relabelling; each id maps back
 * to its bytes and the degrees add up. */
static void
test_many_wallets(void **state)
{
	(void)state;
	enum { W = 200000, T = 600001 };
	core_graph_builder *b;
	core_graph *g;
	uint64_t rng = 7;
	uint64_t deg_sum = 0;
	assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
	for (uint32_t i = 0; i < T; i++) {
		char s[32], r[32];
		uint32_t u = i < W ? i : (uint32_t)(tu_rand(&rng) % W);
		uint32_t v = (uint32_t)(tu_rand(&rng) % W);
		int sl = snprintf(s, sizeof s, "wallet-%u", u),
		    rl = snprintf(r, sizeof r, "wallet-%u", v);
		assert_int_equal(core_graph_builder_add(b, s, (size_t)sl, r, (size_t)rl, 1),
		                 AMLRISK_OK);
	}
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);
	uint32_t n = core_graph_wallet_count(g);
	assert_int_equal(n, W);
	for (uint32_t id = 0; id < n; id++) {
		size_t len;
		uint32_t back;
		const char *s = core_graph_wallet(g, id, &len);
		assert_int_equal(strlen(s), len);
		assert_int_equal(core_graph_find(g, s, len, &back), AMLRISK_OK);
		assert_int_equal(back, id);
		deg_sum += core_graph_out_degree(g, id);
		const uint32_t *dst;
		size_t k = core_graph_out_edges(g, id, &dst, NULL, NULL);
		for (size_t e = 1; e < k; e++)
			assert_true(dst[e - 1] < dst[e]);
	}
	core_graph_stats st;
	core_graph_stats_get(g, &st);
	assert_int_equal(deg_sum, st.edges);
	assert_int_equal(st.txs, T);
	core_graph_unref(g);
}

/* The two-thread finish (from 200k rows on) builds the same graph as one
 * thread: ids, rows both ways, tx counts and amounts. */
static void
test_parallel_finish_agrees(void **state)
{
	(void)state;
	core_graph *g[2];
	for (unsigned t = 1; t <= 2; t++) {
		core_graph_builder *b;
		uint64_t rng = 5;
		assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
		for (uint32_t i = 0; i < 400000; i++) {
			char s[32], r[32];
			uint32_t u = (uint32_t)(tu_rand(&rng) % 30000),
			         v = (uint32_t)(tu_rand(&rng) % 3000);
			int sl = snprintf(s, sizeof s, "s%u", u),
			    rl = snprintf(r, sizeof r, "s%u", v);
			assert_int_equal(
			        core_graph_builder_add(b, s, (size_t)sl, r, (size_t)rl, i % 7),
			        AMLRISK_OK);
		}
		assert_int_equal(core_graph_builder_finish(&g[t - 1], b, t), AMLRISK_OK);
	}
	uint32_t n = core_graph_wallet_count(g[0]);
	assert_int_equal(core_graph_wallet_count(g[1]), n);
	for (uint32_t id = 0; id < n; id++) {
		const uint32_t *d0, *d1, *t0, *t1, *s0, *s1;
		const double *a0, *a1;
		assert_string_equal(core_graph_wallet(g[0], id, NULL),
		                    core_graph_wallet(g[1], id, NULL));
		size_t k = core_graph_out_edges(g[0], id, &d0, &t0, &a0);
		assert_int_equal(core_graph_out_edges(g[1], id, &d1, &t1, &a1), k);
		assert_memory_equal(d0, d1, k * sizeof *d0);
		assert_memory_equal(t0, t1, k * sizeof *t0);
		assert_memory_equal(a0, a1, k * sizeof *a0);
		k = core_graph_in_edges(g[0], id, &s0);
		assert_int_equal(core_graph_in_edges(g[1], id, &s1), k);
		assert_memory_equal(s0, s1, k * sizeof *s0);
	}
	core_graph_unref(g[0]);
	core_graph_unref(g[1]);
}

/* The ids: busiest wallet (most transactions, self-transfers excluded)
 * first, ties in order of first appearance, whatever threads interned them
 * (enough rows here for the builder's second thread). */
static void
test_id_order(void **state)
{
	(void)state;
	enum { W = 50000, T = 300000 };
	core_graph_builder *b;
	core_graph *g;
	uint64_t rng = 11;
	uint32_t *act = calloc(W, sizeof *act), *first = malloc(W * sizeof *first);
	uint32_t *want = malloc(W * sizeof *want), seen = 0, maxa = 0, at = 0;
	bool *known = calloc(W, sizeof *known);
	assert_non_null(act);
	assert_non_null(first);
	assert_non_null(want);
	assert_non_null(known);
	assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
	for (uint32_t i = 0; i < T; i++) {
		char s[32], r[32];
		uint32_t w[2] = {(uint32_t)(tu_rand(&rng) % W),
		                 (uint32_t)(tu_rand(&rng) % (W / 8))};
		int sl = snprintf(s, sizeof s, "w%u", w[0]),
		    rl = snprintf(r, sizeof r, "w%u", w[1]);
		assert_int_equal(core_graph_builder_add(b, s, (size_t)sl, r, (size_t)rl, 1),
		                 AMLRISK_OK);
		for (int k = 0; k < 2; k++) {
			if (!known[w[k]])
				first[seen++] = w[k];
			known[w[k]] = true;
			act[w[k]] +=
			        w[0] != w[1]; /* activity: transactions, self-transfers aside */
		}
	}
	assert_int_equal(core_graph_builder_finish(&g, b, 1), AMLRISK_OK);
	uint32_t n = core_graph_wallet_count(g);
	assert_int_equal(n, seen);
	for (uint32_t i = 0; i < seen; i++)
		if (act[first[i]] > maxa)
			maxa = act[first[i]];
	for (uint32_t a = maxa + 1; a-- > 0;)
		for (uint32_t i = 0; i < seen; i++)
			if (act[first[i]] == a)
				want[at++] = first[i];
	assert_int_equal(at, n);
	for (uint32_t id = 0; id < n; id++) {
		char name[32];
		snprintf(name, sizeof name, "w%u", want[id]);
		assert_string_equal(core_graph_wallet(g, id, NULL), name);
	}
	core_graph_unref(g);
	free(act);
	free(first);
	free(want);
	free(known);
}

/* Random graphs against the reference built straight from the rows. */
static void
test_random_against_rows(void **state)
{
	(void)state;
	uint64_t rng = 99;
	for (int round = 0; round < 30; round++) {
		tu_txs t = {0};
		tu_ref ref;
		uint32_t nw = 1 + (uint32_t)(tu_rand(&rng) % 120);
		tu_txs_random(&t, &rng, nw, tu_rand(&rng) % (4 * nw + 1));
		core_graph *g = tu_graph(&t);
		tu_ref_build(&ref, &t, g);
		for (uint32_t u = 0; u < ref.n; u++) {
			const uint32_t *dst, *txc, *src;
			const double *amt;
			size_t k = core_graph_out_edges(g, u, &dst, &txc, &amt);
			assert_int_equal(k, ref.nout[u]);
			assert_int_equal(core_graph_in_edges(g, u, &src), ref.nin[u]);
			for (size_t e = 0; e < k; e++) {
				assert_true(ref.adj[(size_t)u * ref.n + dst[e]]);
				uint32_t cnt = 0;
				double sum = 0;
				for (size_t i = 0; i < t.n; i++) {
					uint32_t a, c;
					core_graph_find(g, t.snd[i], t.slen[i], &a);
					core_graph_find(g, t.rcv[i], t.rlen[i], &c);
					if (a == u && c == dst[e]) {
						cnt++;
						sum += t.amount[i];
					}
				}
				assert_int_equal(txc[e], cnt);
				assert_true(tu_rel(amt[e], sum) < 1e-12);
			}
		}
		tu_ref_free(&ref);
		core_graph_unref(g);
		tu_txs_free(&t);
	}
}

static void
test_labels(void **state)
{
	(void)state;
	core_labels *l;
	assert_int_equal(core_labels_create(&l), AMLRISK_OK);
	assert_int_equal(core_labels_add(l, "A", 1), AMLRISK_OK);
	assert_int_equal(core_labels_add(l, "A", 1), AMLRISK_OK);
	assert_int_equal(core_labels_add(l, "B", 1), AMLRISK_OK);
	assert_int_equal(core_labels_add(l, "", 0), AMLRISK_EINVAL);
	assert_int_equal(core_labels_count(l), 2);
	assert_true(core_labels_has(l, "B", 1));
	assert_false(core_labels_has(l, "C", 1));
	core_labels_destroy(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_example),
	        cmocka_unit_test(test_empty_and_null),
	        cmocka_unit_test(test_refcount),
	        cmocka_unit_test(test_bad_rows),
	        cmocka_unit_test(test_raw_bytes),
	        cmocka_unit_test(test_many_wallets),
	        cmocka_unit_test(test_parallel_finish_agrees),
	        cmocka_unit_test(test_id_order),
	        cmocka_unit_test(test_random_against_rows),
	        cmocka_unit_test(test_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
