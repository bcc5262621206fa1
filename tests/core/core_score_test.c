/* core_score_test.c - hop_exposure/v1 against the spec: its hash vectors and
 * worked examples, every vector file, a plain per-wallet BFS on random graphs
 * (every direction x count, several weights), edge cases, threads and order. */
#include <dirent.h>
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
#include "core_impl.h" /* core_score_tuning_set: the private blocking knobs */
#include "core_test_util.h"

static void
test_hash_vectors(void **state)
{
	(void)state;
	assert_true(core_fnv1a64("", 0) == 0xcbf29ce484222325ull);
	assert_true(core_fnv1a64("A", 1) == 0xaf63fc4c860222ecull);
	assert_true(core_fnv1a64("wallet_000001", 13) == 0xf8867c83cc64abaeull);
	assert_true(core_mix64(core_fnv1a64("A", 1) ^ 42) == 0xc80fb939281f3e92ull);
	/* ratio 0.02, seed 42: exactly these of w0 .. w999 */
	static const unsigned want[] = {57,  262, 318, 510, 587, 609, 638,
	                                640, 650, 866, 909, 916, 968};
	size_t next = 0;
	core_graph_builder *b;
	core_graph *g;
	assert_int_equal(core_graph_builder_create(&b, 1000), AMLRISK_OK);
	for (unsigned i = 0; i < 1000; i++) {
		char w[16];
		int len = snprintf(w, sizeof w, "w%u", i);
		bool seeded = core_seeded_illicit(w, (size_t)len, 0.02, 42);
		bool expect = next < sizeof want / sizeof want[0] && want[next] == i;
		assert_int_equal(seeded, expect);
		next += expect;
		assert_int_equal(core_graph_builder_add(b, w, (size_t)len, w, (size_t)len, 0),
		                 AMLRISK_OK);
	}
	assert_int_equal(next, sizeof want / sizeof want[0]);
	/* the same through a run */
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);
	core_config c;
	core_config_defaults(&c);
	c.illicit_ratio = 0.02;
	c.illicit_seed = 42;
	core_run_result *r = tu_run(g, &c, NULL, 2);
	assert_int_equal(core_run_result_illicit_count(r), 13);
	assert_true(tu_get(r, "w57").is_illicit && tu_get(r, "w968").is_illicit &&
	            !tu_get(r, "w58").is_illicit);
	/* ratio 1: everyone; ratio 0: no one */
	assert_true(core_seeded_illicit("x", 1, 1.0, 0));
	assert_false(core_seeded_illicit("A", 1, 0.0, 42));
	core_run_result_unref(r);
	core_graph_unref(g);
}

static const char *const spec_pairs[] = {"A>B", "B>C", "C>D", "A>C", "E>A", "D>D", NULL};

static void
test_spec_defaults(void **state)
{
	(void)state;
	static const char *const S[] = {"A", NULL};
	static const struct {
		const char *w;
		uint32_t c[3];
		double score;
	} want[] = {
	        {"A", {1, 1, 1}, 1.0969655114602888},
	        {"B", {0, 1, 1}, 0.6363961030678927},
	        {"C", {0, 1, 1}, 0.5196152422706631},
	        {"D", {0, 0, 1}, 0.3},
	        {"E", {0, 1, 1}, 0.9},
	};
	core_graph *g = tu_graph_pairs(spec_pairs);
	core_labels *l = tu_labels(S);
	core_config c;
	core_config_defaults(&c);
	c.illicit_ratio = 0;
	core_run_result *r = tu_run(g, &c, l, 2);
	for (size_t i = 0; i < 5; i++) {
		core_wallet_score s = tu_get(r, want[i].w);
		assert_int_equal(s.hops, 2);
		for (int k = 0; k < 3; k++)
			assert_int_equal(s.counts[k], want[i].c[k]);
		assert_true(tu_rel(s.risk_score, want[i].score) < 1e-12);
		assert_int_equal(s.exposures, 1);
		assert_int_equal(s.is_illicit, i == 0);
	}
	/* top order: A, E, B, C, D */
	const uint32_t *o = core_run_result_order(r);
	const char *top[] = {"A", "E", "B", "C", "D"};
	for (int i = 0; i < 5; i++) {
		core_wallet_score s;
		core_run_result_get(r, o[i], &s);
		assert_string_equal(s.wallet, top[i]);
	}
	tu_check_order(r);
	assert_ptr_equal(core_run_result_graph(r), g);
	assert_true(core_run_result_seconds(r) >= 0);
	/* labels off: no one is illicit */
	c.use_labels = false;
	core_run_result *r2 = tu_run(g, &c, l, 2);
	assert_int_equal(core_run_result_illicit_count(r2), 0);
	assert_true(tu_get(r2, "A").risk_score == 0);
	core_run_result_unref(r2);
	core_run_result_unref(r);
	core_labels_destroy(l);
	core_graph_unref(g);
}

static void
test_spec_in_exact(void **state)
{
	(void)state;
	static const char *const S[] = {"A", NULL};
	core_graph *g = tu_graph_pairs(spec_pairs);
	core_labels *l = tu_labels(S);
	core_config c;
	char err[128];
	const char *j = "{\"illicit_ratio\":0,\"direction\":\"in\",\"count\":\"exact\","
	                "\"hop_weights\":[0,1,0.5,0.25]}";
	assert_int_equal(core_config_parse(&c, j, strlen(j), err, sizeof err), AMLRISK_OK);
	core_run_result *r = tu_run(g, &c, l, 1);
	assert_true(tu_rel(tu_get(r, "B").risk_score, 1 / sqrt(2)) < 1e-12);
	assert_true(tu_rel(tu_get(r, "C").risk_score, 1 / sqrt(3)) < 1e-12);
	assert_true(tu_get(r, "C").counts[1] == 1 && tu_get(r, "C").counts[2] == 0);
	assert_true(tu_rel(tu_get(r, "D").risk_score, 0.5) < 1e-12);
	assert_true(tu_get(r, "A").risk_score == 0);
	assert_true(tu_get(r, "E").risk_score == 0);
	core_run_result_unref(r);
	core_labels_destroy(l);
	core_graph_unref(g);
}

/* Every spec vector (tests/fixtures/vectors): each NAME.config.json with its
 * NAME.tx.csv and NAME.expected.csv. */
static void
test_vectors(void **state)
{
	(void)state;
	const char *dir = tu_vectors_dir();
	DIR *d = opendir(dir);
	if (d == NULL)
		fail_msg("spec vectors missing: cannot open %s", dir);
	struct dirent *e;
	int count = 0, flow = 0;
	while ((e = readdir(d)) != NULL) {
		const char *suffix = ".config.json";
		size_t n = strlen(e->d_name), sl = strlen(suffix);
		if (n <= sl || strcmp(e->d_name + n - sl, suffix) != 0)
			continue;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(n - sl), e->d_name);
		tu_vector v;
		tu_vector_load(&v, name);
		core_graph *g = tu_graph(&v.txs);
		flow += v.cfg.model == CORE_MODEL_FLOW;
		for (unsigned threads = 1; threads <= 2; threads++) {
			core_run_result *r = tu_run(g, &v.cfg, v.labels, threads);
			tu_vector_check(&v, r);
			tu_check_order(r);
			core_run_result_unref(r);
		}
		core_graph_unref(g);
		tu_vector_free(&v);
		count++;
	}
	closedir(d);
	if (count - flow < 11 || flow < 6)
		fail_msg("only %d vectors (%d of flow_exposure/v1) found in %s", count, flow, dir);
}

/* The engine against the per-wallet BFS on one graph and config. */
static void
check_against_reference(const tu_txs *t, core_graph *g, const core_config *c, const core_labels *l,
                        unsigned threads)
{
	tu_ref ref;
	core_run_result *r = tu_run(g, c, l, threads);
	uint32_t n = core_graph_wallet_count(g);
	uint8_t *ill = calloc(n + 1, 1);
	assert_non_null(ill);
	for (uint32_t v = 0; v < n; v++) {
		core_wallet_score s;
		core_run_result_get(r, v, &s);
		size_t len;
		const char *w = core_graph_wallet(g, v, &len);
		bool want = core_seeded_illicit(w, len, c->illicit_ratio, c->illicit_seed) ||
		            (c->use_labels && l != NULL && core_labels_has(l, w, len));
		assert_int_equal(s.is_illicit, want);
		ill[v] = want;
	}
	tu_ref_build(&ref, t, g);
	uint32_t *x = tu_ref_exact(&ref, c, ill);
	unsigned w = c->hops + 1;
	for (uint32_t v = 0; v < n; v++) {
		core_wallet_score s;
		core_run_result_get(r, v, &s);
		assert_int_equal(s.in_degree, ref.nin[v]);
		assert_int_equal(s.out_degree, ref.nout[v]);
		uint32_t sum = 0;
		double weighted = 0;
		for (unsigned k = 0; k <= c->hops; k++) {
			sum += x[(size_t)v * w + k];
			uint32_t want = c->count == CORE_COUNT_WITHIN ? sum : x[(size_t)v * w + k];
			if (s.counts[k] != want)
				fail_msg("wallet %s hop %u: c=%u, reference %u (dir %d count %d K "
				         "%u)",
				         s.wallet, k, s.counts[k], want, c->direction, c->count,
				         c->hops);
			weighted += c->hop_weights[k] * want;
		}
		assert_int_equal(s.exposures, sum);
		uint32_t deg = ref.nin[v] + ref.nout[v];
		double score = c->degree_normalize ? weighted / sqrt(deg ? deg : 1) : weighted;
		if (tu_rel(s.risk_score, score) > 1e-9)
			fail_msg("wallet %s: score %.17g, reference %.17g", s.wallet, s.risk_score,
			         score);
	}
	tu_check_order(r);
	free(x);
	free(ill);
	tu_ref_free(&ref);
	core_run_result_unref(r);
}

static const double weight_sets[][4] = {
        {1.0, 0.6, 0.3, -1},
        {0, 1, 0.5, 0.25},
        {2.5, -1, 0, 0},
        {1, 0, 0, 1},
};

static void
set_weights(core_config *c, int set)
{
	c->hops = 0;
	for (int k = 0; k < 4 && weight_sets[set][k] >= 0; k++) {
		c->hop_weights[k] = weight_sets[set][k];
		c->hops = (unsigned)k;
	}
}

/* Random graphs of 1 to 500 wallets, sparse to dense, with duplicates and
 * self-transfers; every direction and count; several weight vectors. */
static void
test_random_vs_bfs(void **state)
{
	(void)state;
	uint64_t rng = 2024;
	for (int round = 0; round < 40; round++) {
		tu_txs t = {0};
		uint32_t nw = round < 5 ? (uint32_t)round + 1 : 1 + (uint32_t)(tu_rand(&rng) % 500);
		double density = (double)(tu_rand(&rng) % 1000) / 100.0; /* tx per wallet, 0..10 */
		if (round % 9 == 0)
			density = 40;
		tu_txs_random(&t, &rng, nw, (size_t)(nw * density) + 1);
		core_graph *g = tu_graph(&t);
		core_labels *l;
		assert_int_equal(core_labels_create(&l), AMLRISK_OK);
		for (int i = 0; i < 3; i++) {
			char w[16];
			int len = snprintf(w, sizeof w, "w%u", (unsigned)(tu_rand(&rng) % nw));
			core_labels_add(l, w, (size_t)len);
		}
		for (int dir = 0; dir < 4; dir++) {
			for (int cnt = 0; cnt < 2; cnt++) {
				core_config c;
				core_config_defaults(&c);
				c.direction = (core_direction)dir;
				c.count = (core_count)cnt;
				c.illicit_ratio = (double)(tu_rand(&rng) % 40) / 100.0;
				c.illicit_seed = tu_rand(&rng);
				c.use_labels = tu_rand(&rng) % 4 != 0;
				c.degree_normalize = tu_rand(&rng) % 3 != 0;
				set_weights(&c, (int)(tu_rand(&rng) % 4));
				check_against_reference(&t, g, &c, l, 1 + (unsigned)(round % 3));
			}
		}
		core_labels_destroy(l);
		core_graph_unref(g);
		tu_txs_free(&t);
	}
}

/* Enough sources for several batches and frontiers big enough for the
 * traversal to switch to pulling, on threads 1..3. */
static void
test_many_sources(void **state)
{
	(void)state;
	uint64_t rng = 77;
	tu_txs t = {0};
	tu_txs_random(&t, &rng, 2000, 12000);
	core_graph *g = tu_graph(&t);
	for (int dir = 0; dir < 4; dir++) {
		core_config c;
		core_config_defaults(&c);
		c.direction = (core_direction)dir;
		c.illicit_ratio = dir == 3 ? 1.0 : 0.45;
		c.hops = 3;
		c.hop_weights[3] = 0.1;
		c.count = dir % 2 ? CORE_COUNT_EXACT : CORE_COUNT_WITHIN;
		check_against_reference(&t, g, &c, NULL, 1 + (unsigned)dir % 3);
	}
	core_graph_unref(g);
	tu_txs_free(&t);
}

/* Tiny blocks and rounds reach every push path: many blocks, several rounds a
 * level, and blocks with more pushes than a round holds. */
static void
test_blocking_paths(void **state)
{
	(void)state;
	static const core_score_tuning tunes[] = {
	        {6, 1u << 20, 1, 0}, {6, 40, 1, 0}, {7, 1, 1, 0}, {8, 300, 1, 0}};
	uint64_t rng = 31;
	tu_txs t = {0};
	tu_txs_random(&t, &rng, 900, 5000);
	core_graph *g = tu_graph(&t);
	for (size_t i = 0; i < sizeof tunes / sizeof tunes[0]; i++) {
		core_score_tuning_set(&tunes[i]);
		for (int dir = 0; dir < 4; dir++) {
			core_config c;
			core_config_defaults(&c);
			c.direction = (core_direction)dir;
			c.illicit_ratio = 0.4;
			c.hops = 3;
			c.hop_weights[3] = 0.1;
			c.count = (core_count)(i % 2);
			check_against_reference(&t, g, &c, NULL, 1 + (unsigned)(i % 2));
		}
	}
	core_score_tuning_set(NULL);
	core_graph_unref(g);
	tu_txs_free(&t);
}

static void
test_threads_agree(void **state)
{
	(void)state;
	uint64_t rng = 5;
	tu_txs t = {0};
	tu_txs_random(&t, &rng, 1500, 6000);
	core_graph *g = tu_graph(&t);
	core_config c;
	core_config_defaults(&c);
	c.illicit_ratio = 0.5;
	c.direction = CORE_DIR_BOTH;
	core_score_tuning many = {15, 1u << 22, 1, 0}; /* threads even for this small run */
	core_score_tuning_set(&many);
	core_run_result *a = tu_run(g, &c, NULL, 1), *b = tu_run(g, &c, NULL, 3);
	core_score_tuning_set(NULL);
	for (uint32_t v = 0; v < core_graph_wallet_count(g); v++) {
		core_wallet_score x, y;
		core_run_result_get(a, v, &x);
		core_run_result_get(b, v, &y);
		assert_true(x.risk_score == y.risk_score);
		assert_memory_equal(x.counts, y.counts, 3 * sizeof(uint32_t));
		assert_int_equal(core_run_result_order(a)[v], core_run_result_order(b)[v]);
	}
	core_run_result_unref(a);
	core_run_result_unref(b);
	core_graph_unref(g);
	tu_txs_free(&t);
}

static void
test_edge_cases(void **state)
{
	(void)state;
	core_config c;
	core_config_defaults(&c);
	/* no transactions */
	core_graph_builder *b;
	core_graph *g;
	assert_int_equal(core_graph_builder_create(&b, 0), AMLRISK_OK);
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);
	core_run_result *r = tu_run(g, &c, NULL, 2);
	assert_int_equal(core_run_result_count(r), 0);
	assert_non_null(core_run_result_order(r));
	core_wallet_score s;
	assert_int_equal(core_run_result_find(r, "A", 1, &s), AMLRISK_ENOTFOUND);
	core_run_result_unref(r);
	core_graph_unref(g);

	/* one wallet, only self-transfers, every wallet illicit, K = 0 */
	static const char *const one[] = {"A>A", "A>A", NULL};
	g = tu_graph_pairs(one);
	c.illicit_ratio = 1;
	c.hops = 0;
	c.hop_weights[0] = 2.5;
	r = tu_run(g, &c, NULL, 2);
	s = tu_get(r, "A");
	assert_true(s.is_illicit && s.counts[0] == 1 && s.exposures == 1);
	assert_true(s.risk_score == 2.5);
	assert_int_equal(s.in_degree + s.out_degree, 0);
	core_run_result_unref(r);
	core_graph_unref(g);

	/* ratio 0, no labels: every score 0, order by wallet bytes */
	static const char *const some[] = {"b>a", "c>c", "a>d", NULL};
	g = tu_graph_pairs(some);
	core_config_defaults(&c);
	c.illicit_ratio = 0;
	r = tu_run(g, &c, NULL, 2);
	const char *want[] = {"a", "b", "c", "d"};
	for (uint32_t i = 0; i < 4; i++) {
		core_run_result_get(r, core_run_result_order(r)[i], &s);
		assert_string_equal(s.wallet, want[i]);
		assert_true(s.risk_score == 0 && s.exposures == 0);
	}
	core_run_result_unref(r);
	core_graph_unref(g);
}

/* K = 10 on a chain x0 -> x1 -> ... -> x12 with x0 illicit. */
static void
test_eleven_weights(void **state)
{
	(void)state;
	tu_txs t = {0};
	for (int i = 0; i < 12; i++) {
		char a[8], b[8];
		snprintf(a, sizeof a, "x%d", i);
		snprintf(b, sizeof b, "x%d", i + 1);
		tu_txs_add(&t, a, strlen(a), b, strlen(b), 1);
	}
	core_graph *g = tu_graph(&t);
	core_labels *l;
	assert_int_equal(core_labels_create(&l), AMLRISK_OK);
	assert_int_equal(core_labels_add(l, "x0", 2), AMLRISK_OK);
	core_config c;
	core_config_defaults(&c);
	c.illicit_ratio = 0;
	c.hops = 10;
	c.direction = CORE_DIR_IN;
	c.count = CORE_COUNT_EXACT;
	c.degree_normalize = false;
	for (unsigned k = 0; k <= 10; k++)
		c.hop_weights[k] = k + 1;
	core_run_result *r = tu_run(g, &c, l, 2);
	for (int i = 0; i <= 12; i++) {
		char w[8];
		snprintf(w, sizeof w, "x%d", i);
		core_wallet_score s = tu_get(r, w);
		assert_int_equal(s.hops, 10);
		for (int k = 0; k <= 10; k++)
			assert_int_equal(s.counts[k], k == i ? 1 : 0);
		assert_true(s.risk_score == (i <= 10 ? i + 1 : 0));
	}
	c.direction = CORE_DIR_OUT; /* x0 reaches no illicit wallet but itself */
	core_run_result_unref(r);
	r = tu_run(g, &c, l, 2);
	assert_true(tu_get(r, "x5").risk_score == 0 && tu_get(r, "x0").risk_score == 1);
	check_against_reference(&t, g, &c, l, 2);
	core_run_result_unref(r);
	core_labels_destroy(l);
	core_graph_unref(g);
	tu_txs_free(&t);
}

/* Long (64 KiB) and non-ASCII ids score and order as raw bytes. */
static void
test_long_and_utf8_ids(void **state)
{
	(void)state;
	static char longid[CORE_WALLET_LEN_MAX];
	memset(longid, 'z', sizeof longid);
	tu_txs t = {0};
	const char *u = "\xc3\xa9t\xc3\xa9"; /* "été" sorts after every ASCII id */
	tu_txs_add(&t, longid, sizeof longid, "a", 1, 1);
	tu_txs_add(&t, u, strlen(u), "a", 1, 1);
	tu_txs_add(&t, "b", 1, u, strlen(u), 1);
	tu_txs_add(&t, "b", 1, "a", 1, 1);
	core_graph *g = tu_graph(&t);
	core_labels *l;
	assert_int_equal(core_labels_create(&l), AMLRISK_OK);
	assert_int_equal(core_labels_add(l, longid, sizeof longid), AMLRISK_OK);
	core_config c;
	core_config_defaults(&c);
	c.illicit_ratio = 0;
	c.degree_normalize = false;
	core_run_result *r = tu_run(g, &c, l, 2);
	core_wallet_score s;
	assert_int_equal(core_run_result_find(r, longid, sizeof longid, &s), AMLRISK_OK);
	assert_true(s.is_illicit && s.wallet_len == sizeof longid);
	assert_true(tu_get(r, "a").counts[1] == 1);
	assert_true(tu_get(r, u).counts[2] == 1);
	tu_check_order(r);
	check_against_reference(&t, g, &c, l, 1);
	/* equal scores 0.3: "b" then "été" (0xc3 > 'b') */
	const uint32_t *o = core_run_result_order(r);
	core_wallet_score last;
	core_run_result_get(r, o[3], &last);
	assert_string_equal(last.wallet, u);
	core_run_result_unref(r);
	core_labels_destroy(l);
	core_graph_unref(g);
	tu_txs_free(&t);
}

static void
test_bad_config(void **state)
{
	(void)state;
	static const char *const p[] = {"A>B", NULL};
	core_graph *g = tu_graph_pairs(p);
	core_config c;
	core_run_result *r = NULL;
	char err[128];
	core_config_defaults(&c);
	c.illicit_ratio = 2;
	assert_int_equal(core_score_run(&r, g, &c, NULL, 2, err, sizeof err), AMLRISK_EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "illicit_ratio"));
	/* flow_exposure/v1's own checks */
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.hops = 0;
	assert_int_equal(core_score_run(&r, g, &c, NULL, 2, err, sizeof err), AMLRISK_EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "hops"));
	c.hops = 6;
	c.smoothing = NAN;
	assert_int_equal(core_score_run(&r, g, &c, NULL, 2, err, sizeof err), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "smoothing"));
	core_graph_unref(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hash_vectors),      cmocka_unit_test(test_spec_defaults),
	        cmocka_unit_test(test_spec_in_exact),     cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_random_vs_bfs),     cmocka_unit_test(test_many_sources),
	        cmocka_unit_test(test_blocking_paths),    cmocka_unit_test(test_threads_agree),
	        cmocka_unit_test(test_edge_cases),        cmocka_unit_test(test_eleven_weights),
	        cmocka_unit_test(test_long_and_utf8_ids), cmocka_unit_test(test_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
