/* core_append_test.c - the incremental graph (issue 14): random graphs with
 * random batches appended (new wallets, repeated edges, self-transfers, zero
 * amounts); after every batch the appended version equals a from-scratch build
 * of the same transactions (structure by wallet bytes, and the scores of both
 * models under several configs), the changes list is right, bad batches change
 * nothing, and readers holding versions on other threads see them whole. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "core_engine.h"
#include "core_test_util.h"

/* The batch rows [from, t->n) of t as core_tx (borrowing t's strings), seq
 * numbered from their index + 1. Caller frees. */
static core_tx *
batch_of(const tu_txs *t, size_t from)
{
	core_tx *b = calloc(t->n - from + 1, sizeof *b);
	assert_non_null(b);
	for (size_t i = from; i < t->n; i++)
		b[i - from] = (core_tx){t->snd[i],    t->slen[i], t->rcv[i], t->rlen[i],
		                        t->amount[i], 0,          i + 1};
	return b;
}

static uint32_t
id_in(const core_graph *g, const core_graph *from, uint32_t id)
{
	size_t len;
	const char *w = core_graph_wallet(from, id, &len);
	uint32_t o;
	assert_int_equal(core_graph_find(g, w, len, &o), AMLRISK_OK);
	return o;
}

/* a (appended) and s (from scratch) hold the same graph, by wallet bytes. */
static void
check_same_graph(const core_graph *a, const core_graph *s)
{
	core_graph_stats sa, ss;
	core_graph_stats_get(a, &sa);
	core_graph_stats_get(s, &ss);
	assert_int_equal(sa.wallets, ss.wallets);
	assert_int_equal(sa.edges, ss.edges);
	assert_int_equal(sa.txs, ss.txs);
	assert_int_equal(sa.self_txs, ss.self_txs);
	for (uint32_t u = 0; u < sa.wallets; u++) {
		uint32_t su = id_in(s, a, u);
		assert_int_equal(core_graph_in_degree(a, u), core_graph_in_degree(s, su));
		assert_int_equal(core_graph_out_degree(a, u), core_graph_out_degree(s, su));
		const uint32_t *ad, *at, *sd, *st, *ain;
		const double *aa, *sam;
		size_t na = core_graph_out_edges(a, u, &ad, &at, &aa);
		size_t ns = core_graph_out_edges(s, su, &sd, &st, &sam);
		assert_int_equal(na, ns);
		for (size_t i = 0; i < na; i++) {
			if (i > 0)
				assert_true(ad[i - 1] < ad[i]); /* rows stay sorted */
			uint32_t sv = id_in(s, a, ad[i]);
			size_t j = 0;
			while (j < ns && sd[j] != sv)
				j++;
			assert_true(j < ns);
			assert_int_equal(at[i], st[j]);
			assert_memory_equal(&aa[i], &sam[j], sizeof(double)); /* same bits */
		}
		size_t nin = core_graph_in_edges(a, u, &ain);
		for (size_t i = 0; i < nin; i++) {
			if (i > 0)
				assert_true(ain[i - 1] < ain[i]);
			const uint32_t *od;
			size_t no = core_graph_out_edges(a, ain[i], &od, NULL, NULL);
			size_t j = 0;
			while (j < no && od[j] != u)
				j++;
			assert_true(j < no); /* an in-edge is an out-edge of its sender */
		}
	}
}

/* The scores of a and s under c equal: hop_exposure/v1 in bits (integer
 * counts), flow_exposure/v1 within the spec's 1e-9; then the changes of a
 * against prev (a run of the version before, or NULL). */
static void
check_same_scores(core_graph *a, core_graph *s, const core_config *c, const core_labels *l,
                  core_run_result *prev)
{
	core_run_result *ra = tu_run(a, c, l, 2), *rs = tu_run(s, c, l, 1);
	uint32_t n = core_run_result_count(ra);
	assert_int_equal(n, core_run_result_count(rs));
	assert_int_equal(core_run_result_illicit_count(ra), core_run_result_illicit_count(rs));
	for (uint32_t v = 0; v < n; v++) {
		core_wallet_score x, y;
		core_run_result_get(ra, v, &x);
		assert_int_equal(core_run_result_find(rs, x.wallet, x.wallet_len, &y), AMLRISK_OK);
		assert_int_equal(x.is_illicit, y.is_illicit);
		assert_int_equal(x.in_degree, y.in_degree);
		assert_int_equal(x.out_degree, y.out_degree);
		if (c->model == CORE_MODEL_HOP) {
			assert_memory_equal(&x.risk_score, &y.risk_score, sizeof(double));
			assert_memory_equal(x.counts, y.counts, (c->hops + 1) * sizeof(uint32_t));
			/* exact scores: the same top order by wallet bytes */
			assert_int_equal(core_run_result_rank(ra, v),
			                 core_run_result_rank(rs, y.id));
		} else if (!tu_close(x.risk_score, y.risk_score)) {
			fail_msg("%s: appended %.17g, scratch %.17g", x.wallet, x.risk_score,
			         y.risk_score);
		}
	}
	tu_check_order(ra);
	if (prev != NULL) {
		core_score_change *ch;
		size_t nch, k = 0;
		assert_int_equal(core_run_result_changes(prev, ra, &ch, &nch), AMLRISK_OK);
		uint32_t pn = core_run_result_count(prev);
		for (uint32_t v = 0; v < n; v++) {
			core_wallet_score x;
			core_run_result_get(ra, v, &x);
			bool listed = k < nch && ch[k].id == v;
			if (v >= pn) {
				assert_true(listed);
				assert_int_equal(ch[k].prev_rank, UINT32_MAX);
			} else {
				core_wallet_score p;
				core_run_result_get(prev, v, &p);
				assert_int_equal(listed, memcmp(&p.risk_score, &x.risk_score,
				                                sizeof(double)) != 0);
				if (listed) {
					assert_true(ch[k].prev_score == p.risk_score);
					assert_int_equal(ch[k].prev_rank,
					                 core_run_result_rank(prev, v));
				}
			}
			if (listed) {
				assert_true(ch[k].score == x.risk_score);
				assert_int_equal(ch[k].rank, core_run_result_rank(ra, v));
				k++;
			}
		}
		assert_int_equal(k, nch);
		free(ch);
		/* entered the top 5: in cur's first 5, not in prev's */
		uint32_t *ent;
		size_t nent, e = 0;
		assert_int_equal(core_run_result_top_entered(prev, ra, 5, &ent, &nent), AMLRISK_OK);
		const uint32_t *order = core_run_result_order(ra);
		for (uint32_t i = 0; i < n && i < 5; i++) {
			uint32_t v = order[i];
			if (v >= pn || core_run_result_rank(prev, v) >= 5) {
				assert_true(e < nent);
				assert_int_equal(ent[e++], v);
			}
		}
		assert_int_equal(e, nent);
		free(ent);
	}
	core_run_result_unref(ra);
	core_run_result_unref(rs);
}

enum { NCFG = 8 };

static void
configs(core_config *c)
{
	core_config_defaults_model(&c[0], CORE_MODEL_HOP);
	core_config_defaults_model(&c[1], CORE_MODEL_HOP);
	c[1].direction = CORE_DIR_IN;
	c[1].count = CORE_COUNT_EXACT;
	core_config_defaults_model(&c[2], CORE_MODEL_HOP);
	c[2].direction = CORE_DIR_OUT;
	c[2].degree_normalize = true;
	c[2].hops = 4;
	c[2].hop_weights[3] = 0.25;
	c[2].hop_weights[4] = 0.125;
	core_config_defaults_model(&c[3], CORE_MODEL_HOP);
	c[3].direction = CORE_DIR_BOTH;
	c[3].use_labels = true;
	core_config_defaults_model(&c[4], CORE_MODEL_FLOW);
	core_config_defaults_model(&c[5], CORE_MODEL_FLOW);
	c[5].side = CORE_SIDE_RECEIVED;
	c[5].hops = 1;
	c[5].smoothing = 0;
	core_config_defaults_model(&c[6], CORE_MODEL_FLOW);
	c[6].side = CORE_SIDE_SENT;
	c[6].hops = 7;
	c[6].smoothing = 2.5;
	c[6].use_labels = true;
	core_config_defaults_model(&c[7], CORE_MODEL_FLOW);
	c[7].hops = 3;
	c[7].illicit_ratio = 0.3;
	for (int i = 0; i < NCFG; i++)
		assert_int_equal(core_config_validate(&c[i], NULL, 0), AMLRISK_OK);
}

/* Random graphs, random batches; after every batch: structure and the scores
 * of every config against a from-scratch build. */
static void
test_append_random(void **state)
{
	(void)state;
	core_config cfg[NCFG];
	configs(cfg);
	const char *const lw[] = {"w1", "w7", "w30", NULL};
	core_labels *labels = tu_labels(lw);
	uint64_t rng = 0x5eed;
	for (int round = 0; round < 6; round++) {
		tu_txs t = {0};
		uint32_t nw = 5 + (uint32_t)(tu_rand(&rng) % 40);
		tu_txs_random(&t, &rng, nw, (size_t)(tu_rand(&rng) % 60));
		if (t.n == 0)
			tu_txs_add(&t, "w0", 2, "w1", 2, 0.0);
		core_graph *g = tu_graph(&t);
		core_run_result *prev[NCFG];
		for (int c = 0; c < NCFG; c++)
			prev[c] = tu_run(g, &cfg[c], labels, 1);
		for (int batch = 0; batch < 6; batch++) {
			size_t from = t.n;
			nw += (uint32_t)(tu_rand(&rng) % 8); /* new wallets come in */
			tu_txs_random(&t, &rng, nw, (size_t)(tu_rand(&rng) % 30));
			core_tx *b = batch_of(&t, from);
			core_graph *ng;
			assert_int_equal(core_graph_append(&ng, g, b, t.n - from, 2, NULL),
			                 AMLRISK_OK);
			assert_true(core_graph_descends(ng, g));
			assert_false(core_graph_descends(g, ng) && t.n > from);
			core_graph_stats st;
			core_graph_stats_get(ng, &st);
			if (t.n > from)
				assert_int_equal(st.max_seq, t.n);
			core_graph *s = tu_graph(&t);
			check_same_graph(ng, s);
			for (int c = 0; c < NCFG; c++) {
				check_same_scores(ng, s, &cfg[c], labels, prev[c]);
				core_run_result_unref(prev[c]);
				prev[c] = tu_run(ng, &cfg[c], labels, 1);
			}
			core_graph_unref(s);
			core_graph_unref(g); /* prev runs hold it still: versions are independent */
			g = ng;
			free(b);
		}
		for (int c = 0; c < NCFG; c++)
			core_run_result_unref(prev[c]);
		core_graph_unref(g);
		tu_txs_free(&t);
	}
	core_labels_destroy(labels);
}

/* A bad row anywhere fails the whole batch and names it; an empty batch is a
 * copy; results of other chains are refused by the changes list. */
static void
test_append_bad(void **state)
{
	(void)state;
	const char *const pairs[] = {"A>B", "B>C", NULL};
	core_graph *g = tu_graph_pairs(pairs), *ng = NULL, *other = tu_graph_pairs(pairs);
	core_tx b[3] = {{"A", 1, "D", 1, 1.0, 0, 5},
	                {"D", 1, "E", 1, 2.0, 0, 6},
	                {"E", 1, "F", 1, 3.0, 0, 7}};
	size_t bad = 99;
	b[1].amount = -1;
	assert_int_equal(core_graph_append(&ng, g, b, 3, 1, &bad), AMLRISK_EINVAL);
	assert_int_equal(bad, 1);
	b[1].amount = NAN;
	assert_int_equal(core_graph_append(&ng, g, b, 3, 1, &bad), AMLRISK_EINVAL);
	b[1].amount = 2;
	b[2].receiver_len = 0;
	assert_int_equal(core_graph_append(&ng, g, b, 3, 1, &bad), AMLRISK_EINVAL);
	assert_int_equal(bad, 2);
	assert_null(ng);
	assert_int_equal(core_graph_wallet_count(g), 3);
	assert_int_equal(core_graph_append(&ng, g, b, 0, 1, NULL), AMLRISK_OK);
	check_same_graph(ng, g);
	core_config c;
	core_config_defaults(&c);
	core_run_result *r1 = tu_run(ng, &c, NULL, 1), *r2 = tu_run(other, &c, NULL, 1);
	core_score_change *ch;
	size_t n;
	assert_int_equal(core_run_result_changes(r2, r1, &ch, &n), AMLRISK_EINVAL);
	assert_int_equal(core_run_result_changes(r1, r1, &ch, &n), AMLRISK_OK);
	assert_int_equal(n, 0);
	core_run_result_unref(r1);
	core_run_result_unref(r2);
	core_graph_unref(ng);
	core_graph_unref(other);
	core_graph_unref(g);
}

/* The spec's vectors, their transactions split into a base of a quarter and
 * three batches appended: the last version's run matches the expected rows. */
static void
test_append_vectors(void **state)
{
	(void)state;
	static const char *const names[] = {"example-defaults",     "example-in-exact",
	                                    "random60-both-within", "random60-out-exact",
	                                    "random60-seeded-only", "flow-example-defaults",
	                                    "flow-random60-seeded", "flow-random60-sent-h10"};
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		tu_vector v;
		tu_vector_load(&v, names[k]);
		size_t n = v.txs.n, cut = n / 4;
		tu_txs head = {0};
		for (size_t i = 0; i < cut; i++)
			tu_txs_add(&head, v.txs.snd[i], v.txs.slen[i], v.txs.rcv[i], v.txs.rlen[i],
			           v.txs.amount[i]);
		if (cut == 0) /* a builder needs no rows, but keep the base non-trivial */
			tu_txs_add(&head, v.txs.snd[0], v.txs.slen[0], v.txs.rcv[0], v.txs.rlen[0],
			           v.txs.amount[0]);
		size_t from = cut == 0 ? 1 : cut;
		core_graph *g = tu_graph(&head);
		core_tx *rows = batch_of(&v.txs, from);
		for (int b = 0; b < 3; b++) {
			size_t lo = (n - from) * (size_t)b / 3,
			       hi = (n - from) * (size_t)(b + 1) / 3;
			core_graph *ng;
			assert_int_equal(core_graph_append(&ng, g, rows + lo, hi - lo, 1, NULL),
			                 AMLRISK_OK);
			core_graph_unref(g);
			g = ng;
		}
		core_run_result *r = tu_run(g, &v.cfg, v.labels, 2);
		tu_vector_check(&v, r);
		core_run_result_unref(r);
		core_graph_unref(g);
		free(rows);
		tu_txs_free(&head);
		tu_vector_free(&v);
	}
}

/* ------------------------------------------------------------ threads --- */

enum { BATCHES = 40, BATCH_ROWS = 25, READERS = 2 };

typedef struct shared {
	core_live_graph *lv;
	tu_txs t;
	size_t base;
	_Atomic int done;
	_Atomic int bad;
} shared;

/* A version is whole: its transactions are the base plus whole batches, and
 * its out and in rows agree. */
static void *
reader(void *arg)
{
	shared *sh = arg;
	core_config c;
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	while (!atomic_load(&sh->done)) {
		core_graph *g = core_live_graph_acquire(sh->lv);
		core_graph_stats st;
		core_graph_stats_get(g, &st);
		uint64_t tx = st.self_txs, in = 0;
		for (uint32_t u = 0; u < st.wallets; u++) {
			const uint32_t *txs;
			size_t k = core_graph_out_edges(g, u, NULL, &txs, NULL);
			for (size_t i = 0; i < k; i++)
				tx += txs[i];
			in += core_graph_in_edges(g, u, NULL);
		}
		if (tx != st.txs || in != st.edges || (st.txs - sh->base) % BATCH_ROWS != 0)
			atomic_store(&sh->bad, 1);
		core_run_result *r = NULL;
		if (core_score_run(&r, g, &c, NULL, 1, NULL, 0) != AMLRISK_OK ||
		    core_run_result_count(r) != st.wallets)
			atomic_store(&sh->bad, 1);
		core_run_result_unref(r);
		core_graph_unref(g);
	}
	return NULL;
}

static void
test_append_readers(void **state)
{
	(void)state;
	shared sh = {0};
	uint64_t rng = 77;
	tu_txs_random(&sh.t, &rng, 50, 300);
	sh.base = sh.t.n;
	core_graph *g = tu_graph(&sh.t);
	assert_int_equal(core_live_graph_create(&sh.lv, g), AMLRISK_OK);
	core_graph_unref(g);
	pthread_t th[READERS];
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &sh), 0);
	for (int k = 0; k < BATCHES; k++) {
		size_t from = sh.t.n;
		char a[16], b[16];
		for (int i = 0; i < BATCH_ROWS; i++) {
			snprintf(a, sizeof a, "w%u", (unsigned)(tu_rand(&rng) % (60 + k)));
			snprintf(b, sizeof b, "w%u", (unsigned)(tu_rand(&rng) % (60 + k)));
			tu_txs_add(&sh.t, a, strlen(a), b, strlen(b), (double)(tu_rand(&rng) % 5));
		}
		core_tx *rows = batch_of(&sh.t, from);
		core_graph *ng = NULL;
		assert_int_equal(core_live_graph_append(sh.lv, rows, BATCH_ROWS, 1, NULL, &ng),
		                 AMLRISK_OK);
		core_graph_stats st;
		core_graph_stats_get(ng, &st);
		assert_int_equal(st.txs, sh.t.n);
		core_graph_unref(ng);
		free(rows);
	}
	atomic_store(&sh.done, 1);
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&sh.bad), 0);
	core_graph *last = core_live_graph_acquire(sh.lv), *s = tu_graph(&sh.t);
	check_same_graph(last, s);
	core_live_graph_publish(sh.lv, s); /* a reload replaces the chain */
	core_graph *now = core_live_graph_acquire(sh.lv);
	assert_ptr_equal(now, s);
	core_graph_unref(now);
	core_graph_unref(s);
	core_graph_unref(last);
	core_live_graph_destroy(sh.lv);
	core_live_graph_destroy(NULL);
	core_live_graph *empty;
	assert_int_equal(core_live_graph_create(&empty, NULL), AMLRISK_OK);
	assert_null(core_live_graph_acquire(empty));
	assert_int_equal(core_live_graph_append(empty, NULL, 0, 1, NULL, NULL), AMLRISK_ESTATE);
	core_live_graph_destroy(empty);
	tu_txs_free(&sh.t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_append_random),
	        cmocka_unit_test(test_append_bad),
	        cmocka_unit_test(test_append_vectors),
	        cmocka_unit_test(test_append_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
