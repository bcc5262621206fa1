/* server_alertgen_test.c - the live view's commit step (srv_alertgen) against
 * a real PostgreSQL: engine results of appended batches go through
 * srv_alertgen_commit and the test reads back risk_alerts, alert_state and
 * live_state. One alert per threshold crossing, re-armed only below the
 * margin; top<=N entries, a wallet re-armed by others' moves; the payload
 * against the engine (scores, rank, explain's contributors); the first view
 * silent; restart from the stored state; failed commits rolled back and
 * retried exactly once; the per-update bound; and a randomised run held
 * against a plain every-wallet reference of the hysteresis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aml/v1/alert.pb-c.h"
#include "amlrisk_err.h"
#include "core_engine.h"
#include "srv_alertgen.h"
#include "srv_alertpay.h"
#include "srv_db.h"
#include "th.h"

/* ---------------------------------------------------------------- graphs --- */

/* A batch of "S>R:amount" items separated by blanks into txs (at most max;
 * wallet names up to 15 bytes, kept in names). Returns the count. */
typedef struct batch {
	core_tx tx[64];
	char names[128][16];
	size_t n;
} batch;

static uint64_t g_seq;

static void
batch_parse(batch *b, const char *spec)
{
	const char *p = spec;
	int used = 0;
	b->n = 0;
	while (*p != '\0') {
		char s[16], r[16];
		double amt;
		if (sscanf(p, " %15[^>]>%15[^:]:%lf%n", s, r, &amt, &used) != 3)
			fail_msg("bad batch spec at '%s'", p);
		assert_true(b->n < 64);
		snprintf(b->names[2 * b->n], 16, "%s", s);
		snprintf(b->names[2 * b->n + 1], 16, "%s", r);
		b->tx[b->n] = (core_tx){.sender = b->names[2 * b->n],
		                        .sender_len = strlen(s),
		                        .receiver = b->names[2 * b->n + 1],
		                        .receiver_len = strlen(r),
		                        .amount = amt,
		                        .seq = ++g_seq};
		b->n++;
		p += used;
		while (*p == ' ')
			p++;
	}
}

/* A new graph of the transactions of spec. */
static core_graph *
graph_of(const char *spec)
{
	batch b;
	core_graph_builder *gb = NULL;
	core_graph *g = NULL;
	batch_parse(&b, spec);
	assert_int_equal(core_graph_builder_create(&gb, b.n), AMLRISK_OK);
	for (size_t i = 0; i < b.n; i++)
		assert_int_equal(core_graph_builder_add_tx(gb, &b.tx[i]), AMLRISK_OK);
	assert_int_equal(core_graph_builder_finish(&g, gb, 1), AMLRISK_OK);
	return g;
}

/* g with the transactions of spec appended (g is unref'ed). */
static core_graph *
append(core_graph *g, const char *spec)
{
	batch b;
	core_graph *out = NULL;
	batch_parse(&b, spec);
	assert_int_equal(core_graph_append(&out, g, b.tx, b.n, 1, NULL), AMLRISK_OK);
	core_graph_unref(g);
	return out;
}

/* The test's live model: flow_exposure/v1, one hop, received side, no
 * smoothing, X labelled illicit: V's score is (what X sent V) / (all V got). */
typedef struct live {
	core_config cfg;
	core_labels *labels;
	char cfg_json[CORE_CONFIG_JSON_MAX];
} live;

static void
live_init(live *l, const char *json, const char *label)
{
	char err[256];
	assert_int_equal(core_config_parse(&l->cfg, json, strlen(json), err, sizeof(err)),
	                 AMLRISK_OK);
	assert_int_equal(core_config_to_json(&l->cfg, l->cfg_json, sizeof(l->cfg_json), NULL),
	                 AMLRISK_OK);
	assert_int_equal(core_labels_create(&l->labels), AMLRISK_OK);
	if (label != NULL)
		assert_int_equal(core_labels_add(l->labels, label, strlen(label)), AMLRISK_OK);
}

static const char *FLOW1 = "{\"model\": \"flow_exposure/v1\", \"hops\": 1, \"side\": \"received\","
                           " \"smoothing\": 0, \"use_labels\": true, \"illicit_ratio\": 0}";

static core_run_result *
score(const live *l, core_graph *g)
{
	core_run_result *r = NULL;
	char err[256];
	assert_int_equal(core_score_run(&r, g, &l->cfg, l->labels, 1, err, sizeof(err)),
	                 AMLRISK_OK);
	return r;
}

static double
score_of(const core_run_result *r, const char *w)
{
	core_wallet_score ws;
	assert_int_equal(core_run_result_find(r, w, strlen(w), &ws), AMLRISK_OK);
	return ws.risk_score;
}

/* ------------------------------------------------------------ database --- */

typedef struct db {
	char url[1024];
	PGconn *c;    /* the generator's connection (srv_db) */
	PGconn *look; /* the test's own */
} db;

static PGconn *
connect_srv(const char *url)
{
	PGconn *c = NULL;
	char err[256];
	if (srv_db_connect(url, 0, &c, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("connect: %s", err);
	return c;
}

static void
db_init(db *d)
{
	th_db_create(d->url, sizeof(d->url), 1);
	d->c = connect_srv(d->url);
	d->look = th_db_connect(d->url);
}

static void
db_fini(db *d)
{
	PQfinish(d->c);
	PQfinish(d->look);
	th_db_drop(d->url);
}

static int64_t
count(db *d, const char *sql)
{
	return th_db_int(d->look, sql);
}

/* The alerts with id > after, oldest first (caller frees each). */
static size_t
alerts_after(db *d, int64_t after, Aml__V1__RiskAlert **out, size_t max)
{
	char a[24];
	const char *p[1] = {a};
	snprintf(a, sizeof(a), "%lld", (long long)after);
	PGresult *r = PQexecParams(d->look,
	                           "SELECT id, wallet, rule, payload,"
	                           " (extract(epoch FROM created_at) * 1000000)::bigint"
	                           " FROM risk_alerts WHERE id > $1 ORDER BY id",
	                           1, NULL, p, NULL, NULL, 1);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	size_t n = (size_t)PQntuples(r);
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		out[i] = aml__v1__risk_alert__unpack(NULL, (size_t)PQgetlength(r, (int)i, 3),
		                                     (const uint8_t *)PQgetvalue(r, (int)i, 3));
		assert_non_null(out[i]);
		/* the row's columns agree with the payload */
		assert_int_equal(PQgetlength(r, (int)i, 1), strlen(out[i]->wallet));
		assert_memory_equal(PQgetvalue(r, (int)i, 1), out[i]->wallet,
		                    strlen(out[i]->wallet));
		assert_memory_equal(PQgetvalue(r, (int)i, 2), out[i]->rule, strlen(out[i]->rule));
		out[i]->alert_id = (int64_t)__builtin_bswap64(
		        *(const uint64_t *)(const void *)PQgetvalue(r, (int)i, 0));
	}
	PQclear(r);
	return n;
}

static void
free_alerts(Aml__V1__RiskAlert **a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		aml__v1__risk_alert__free_unpacked(a[i], NULL);
}

/* alert_state's armed flag of (rule, wallet): 1, 0, or -1 without a row. */
static int
armed(db *d, const char *rule, const char *wallet)
{
	const char *p[2] = {rule, wallet};
	PGresult *r = PQexecParams(d->look,
	                           "SELECT armed FROM alert_state WHERE rule = $1 AND wallet = $2",
	                           2, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	int v = PQntuples(r) == 0 ? -1 : PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return v;
}

static srv_alertgen *
gen(const live *l, const char *rules, double margin)
{
	srv_rules rs;
	srv_alertgen *ag = NULL;
	char err[256];
	assert_int_equal(srv_rules_parse(&rs, rules, margin, err, sizeof(err)), AMLRISK_OK);
	assert_int_equal(srv_alertgen_create(&ag, &rs, core_model_name(l->cfg.model), l->cfg_json),
	                 AMLRISK_OK);
	return ag;
}

static int64_t
load(srv_alertgen *ag, db *d)
{
	int64_t wm = -2;
	char err[256];
	if (srv_alertgen_load(ag, d->c, &wm, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("load: %s", err);
	return wm;
}

/* Commits prev -> cur at wm; returns the alerts written (fails on error). */
static uint32_t
commit(srv_alertgen *ag, db *d, const core_run_result *prev, const core_run_result *cur, int64_t wm)
{
	uint32_t fired = 999;
	char err[256];
	if (srv_alertgen_commit(ag, d->c, prev, cur, wm, &fired, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("commit: %s", err);
	char sql[96];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM live_state WHERE watermark = %lld",
	         (long long)wm);
	assert_int_equal(count(d, sql), 1);
	return fired;
}

/* The live view's step: cur becomes prev. */
typedef struct view {
	live *l;
	core_graph *g;
	core_run_result *prev, *cur;
	int64_t wm;
} view;

static void
view_start(view *v, live *l, const char *spec)
{
	memset(v, 0, sizeof(*v));
	v->l = l;
	v->g = graph_of(spec);
	v->cur = score(l, v->g);
	v->wm = 1;
}

/* Appends spec and re-scores. */
static void
view_step(view *v, const char *spec)
{
	core_run_result_unref(v->prev);
	v->prev = v->cur;
	v->g = append(v->g, spec);
	v->cur = score(v->l, v->g);
	v->wm++;
}

static void
view_fini(view *v)
{
	core_run_result_unref(v->prev);
	core_run_result_unref(v->cur);
	core_graph_unref(v->g);
}

/* One alert of rule for wallet in a (n alerts): checks the payload against
 * the engine's results (prev may be NULL: previous score 0) and returns it. */
static const Aml__V1__RiskAlert *
expect_alert(Aml__V1__RiskAlert **a, size_t n, const char *rule, const char *wallet,
             const core_run_result *prev, const core_run_result *cur, int64_t wm)
{
	const Aml__V1__RiskAlert *x = NULL;
	core_wallet_score ws;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i]->wallet, wallet) == 0 && strcmp(a[i]->rule, rule) == 0) {
			if (x != NULL)
				fail_msg("%s fired %s twice", wallet, rule);
			x = a[i];
		}
	if (x == NULL)
		fail_msg("no alert %s for %s", rule, wallet);
	assert_int_equal(core_run_result_find(cur, wallet, strlen(wallet), &ws), AMLRISK_OK);
	assert_true(x->score == ws.risk_score);
	assert_true(x->previous_score == (prev != NULL ? score_of(prev, wallet) : 0.0));
	assert_int_equal(x->rank, core_run_result_rank(cur, ws.id) + 1);
	assert_int_equal(x->watermark, wm);
	assert_string_equal(x->model, core_model_name(core_run_result_config(cur)->model));
	assert_true(x->alert_id > 0);
	return x;
}

/* The contributors of x against the engine's explain of the wallet in cur:
 * flow: explain's first five as listed; hop: each one a listed source at
 * its hop with that hop's weight / normaliser, largest first. */
static void
expect_contributors(const Aml__V1__RiskAlert *x, const core_run_result *cur)
{
	core_explain *e = NULL;
	core_explain_params ep = {.sources_per_hop = 100, .sources_max = 1000};
	const core_graph *g = core_run_result_graph(cur);
	size_t len;
	assert_int_equal(core_explain_build(&e, cur, x->wallet, strlen(x->wallet), &ep),
	                 AMLRISK_OK);
	assert_true(x->n_contributors <= 5);
	if (core_explain_model(e) == CORE_MODEL_FLOW) {
		const core_explain_contrib *c;
		size_t n = core_explain_contribs(e, &c);
		assert_int_equal(x->n_contributors, n < 5 ? n : 5);
		for (size_t i = 0; i < x->n_contributors; i++) {
			const Aml__V1__AlertContributor *k = x->contributors[i];
			assert_string_equal(k->wallet, core_graph_wallet(g, c[i].source, &len));
			assert_string_equal(k->side, core_side_name(c[i].side));
			assert_int_equal(k->hops, c[i].walk_len);
			assert_true(k->contribution == c[i].contribution);
		}
	} else {
		const core_explain_hop *h;
		const core_explain_source *s;
		size_t nh = core_explain_hops(e, &h), ns = core_explain_sources(e, &s);
		assert_int_equal(x->n_contributors, ns < 5 ? ns : 5);
		for (size_t i = 0; i < x->n_contributors; i++) {
			const Aml__V1__AlertContributor *k = x->contributors[i];
			int found = 0;
			for (size_t j = 0; j < ns; j++)
				if (strcmp(core_graph_wallet(g, s[j].id, &len), k->wallet) == 0 &&
				    s[j].hop == k->hops)
					found = 1;
			assert_true(found);
			assert_true(k->hops < nh);
			assert_true(k->contribution ==
			            h[k->hops].weight / core_explain_normaliser(e));
			if (i > 0)
				assert_true(k->contribution <=
				            x->contributors[i - 1]->contribution);
		}
	}
	core_explain_destroy(e);
}

/* One test's database, live model (FLOW1, X illicit), view and generator. */
typedef struct fx {
	db d;
	live l;
	view v;
	srv_alertgen *ag;
} fx;

/* A fresh database, a generator of rules that finds no stored state, and
 * the view of the graph of spec (not committed yet). */
static void
fx_start(fx *f, const char *rules, double margin, const char *spec)
{
	db_init(&f->d);
	live_init(&f->l, FLOW1, "X");
	f->ag = gen(&f->l, rules, margin);
	assert_int_equal(load(f->ag, &f->d), -1);
	view_start(&f->v, &f->l, spec);
}

static void
fx_end(fx *f)
{
	srv_alertgen_destroy(f->ag);
	view_fini(&f->v);
	core_labels_destroy(f->l.labels);
	db_fini(&f->d);
}

/* ----------------------------------------------------------------- tests --- */

#define TH "threshold>=0.5"

/* V's score goes 0.1 -> 0.7 (alert) -> 0.775 -> 0.477 (below, not by the
 * margin 0.1) -> 0.547 (no alert: not re-armed) -> 0.328 (re-armed) ->
 * 0.627 (the second alert). X (illicit, score 1) is a source: never
 * alerted, never in the state. */
static void
test_threshold_hysteresis(void **st)
{
	fx f;
	Aml__V1__RiskAlert *a[16];
	size_t n;
	(void)st;
	fx_start(&f, TH, 0.1, "X>V:1 Y>V:9 Y>Z:3");
	db *d = &f.d;
	view *v = &f.v;
	srv_alertgen *ag = f.ag;
	/* the first view: a baseline, no alert */
	assert_int_equal(commit(ag, d, NULL, v->cur, v->wm), 0);
	assert_int_equal(count(d, "SELECT count(*) FROM risk_alerts"), 0);
	assert_int_equal(armed(d, TH, "X"), -1); /* illicit itself: never alerted */
	assert_int_equal(armed(d, TH, ""), 1);   /* the rule's mark */
	assert_int_equal(armed(d, TH, "V"), -1);

	static const struct {
		const char *batch;
		uint32_t alerts;
		int v_armed; /* V's alert_state afterwards */
	} steps[] = {
	        {"X>V:20", 1, 0}, {"X>V:10", 0, 0}, {"Y>V:25", 0, 0},
	        {"X>V:10", 0, 0}, {"Y>V:50", 0, 1}, {"X>V:100", 1, 0},
	};
	int64_t last = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		view_step(v, steps[i].batch);
		assert_int_equal(commit(ag, d, v->prev, v->cur, v->wm), steps[i].alerts);
		n = alerts_after(d, last, a, 16);
		assert_int_equal(n, steps[i].alerts);
		if (n == 1) {
			const Aml__V1__RiskAlert *x =
			        expect_alert(a, n, TH, "V", v->prev, v->cur, v->wm);
			expect_contributors(x, v->cur);
			assert_int_equal(x->n_contributors, 1);
			assert_string_equal(x->contributors[0]->wallet, "X");
			assert_string_equal(x->contributors[0]->side, "received");
			last = x->alert_id;
		}
		free_alerts(a, n);
		assert_int_equal(armed(d, TH, "V"), steps[i].v_armed);
	}
	assert_true(score_of(v->cur, "V") > 0.6);
	assert_int_equal(count(d, "SELECT count(*) FROM risk_alerts"), 2);
	assert_int_equal(count(d, "SELECT count(*) FROM risk_alerts WHERE wallet = 'X'"), 0);
	srv_alertgen_stats s;
	srv_alertgen_stats_get(ag, &s);
	assert_int_equal(s.alerts, 2);
	assert_int_equal(s.baseline, 0);
	assert_int_equal(s.rearmed, 1);
	assert_int_equal(s.disarmed, 1); /* V */
	f.ag = ag;
	fx_end(&f);
}

/* top<=2 with margin 0.5 (re-armed past rank 3): C enters (A pushed to 3
 * stays disarmed), B enters (A at 4 re-arms though its score never moved),
 * A enters again: one alert each. */
static void
test_top_enter(void **st)
{
	fx f;
	Aml__V1__RiskAlert *a[16];
	static const char *TOP = "top<=2";
	(void)st;
	fx_start(&f, TOP, 0.5, "X>A:9 Y>A:1 X>B:5 Y>B:5 X>C:1 Y>C:9 X>D:1 Y>D:99");
	db *d = &f.d;
	view *v = &f.v;
	srv_alertgen *ag = f.ag;
	assert_int_equal(commit(ag, d, NULL, v->cur, v->wm), 0);
	assert_int_equal(armed(d, TOP, "X"), -1); /* illicit: ranked, never alerted */
	assert_int_equal(armed(d, TOP, "A"), 0);

	static const struct {
		const char *batch, *enters;
	} steps[] = {{"X>C:100", "C"}, {"X>B:100", "B"}, {"X>A:1000", "A"}};
	int64_t last = 0;
	for (size_t i = 0; i < 3; i++) {
		view_step(v, steps[i].batch);
		assert_int_equal(commit(ag, d, v->prev, v->cur, v->wm), 1);
		size_t n = alerts_after(d, last, a, 16);
		assert_int_equal(n, 1);
		const Aml__V1__RiskAlert *x =
		        expect_alert(a, n, TOP, steps[i].enters, v->prev, v->cur, v->wm);
		assert_int_equal(x->rank, 2);
		expect_contributors(x, v->cur);
		last = x->alert_id;
		free_alerts(a, n);
		if (i == 0) /* A at rank 3 = 2 + ceil(0.5 * 2): still disarmed */
			assert_int_equal(armed(d, TOP, "A"), 0);
		if (i == 1) { /* A at rank 4 re-armed; C at 3 not */
			assert_true(score_of(v->cur, "A") == score_of(v->prev, "A"));
			assert_int_equal(armed(d, TOP, "A"), 1);
			assert_int_equal(armed(d, TOP, "C"), 0);
		}
	}
	assert_int_equal(armed(d, TOP, "C"), 1); /* rank 4 now */
	/* nothing moves: nothing fires */
	view_step(v, "Y>Q:1");
	assert_int_equal(commit(ag, d, v->prev, v->cur, v->wm), 0);
	f.ag = ag;
	fx_end(&f);
}

/* A new generator loads the stored state and continues from a fully
 * rebuilt result (prev NULL): the wallets alerted before stay quiet, one
 * that crossed in the gap alerts once (previous score 0: no view before it
 * in this process), one that fell below the margin in the gap re-arms. */
static void
test_restart(void **st)
{
	fx f;
	Aml__V1__RiskAlert *a[16];
	static const char *ALL = "X>V:1 Y>V:9 X>U:9 Y>U:1 X>V:20";
	(void)st;
	fx_start(&f, TH, 0.1, "X>V:1 Y>V:9 X>U:9 Y>U:1");
	db *d = &f.d;
	view *v = &f.v;
	srv_alertgen *ag = f.ag;
	assert_int_equal(commit(ag, d, NULL, v->cur, v->wm), 0); /* U: baseline */
	view_step(v, "X>V:20");
	assert_int_equal(commit(ag, d, v->prev, v->cur, v->wm), 1); /* V */
	int64_t wm = v->wm;
	srv_alertgen_destroy(ag);
	view_fini(v);

	/* restart: the same state, a graph rebuilt from every transaction plus
	 * the batches of the gap (W crosses, U falls to 9/109) */
	ag = gen(&f.l, TH, 0.1);
	assert_int_equal(load(ag, d), wm);
	char spec[256];
	snprintf(spec, sizeof(spec), "%s X>W:5 Y>W:1 Y>U:99", ALL);
	memset(v, 0, sizeof(*v));
	v->l = &f.l;
	v->g = graph_of(spec);
	v->cur = score(&f.l, v->g);
	v->wm = wm + 2;
	assert_int_equal(commit(ag, d, NULL, v->cur, v->wm), 1);
	size_t n = alerts_after(d, 1, a, 16);
	assert_int_equal(n, 1);
	expect_alert(a, n, TH, "W", NULL, v->cur, v->wm);
	free_alerts(a, n);
	assert_int_equal(armed(d, TH, "U"), 1);
	assert_int_equal(armed(d, TH, "V"), 0);
	/* and on from there: U back above alerts, V and W stay quiet */
	view_step(v, "X>U:500 X>V:5 X>W:5");
	assert_int_equal(commit(ag, d, v->prev, v->cur, v->wm), 1);
	n = alerts_after(d, 2, a, 16);
	expect_alert(a, n, TH, "U", v->prev, v->cur, v->wm);
	free_alerts(a, n);
	assert_int_equal(count(d, "SELECT count(*) FROM risk_alerts"), 3);
	assert_int_equal(count(d, "SELECT count(DISTINCT wallet) FROM risk_alerts"), 3);

	/* a generator with another config discards the stored state: silent again */
	srv_alertgen_destroy(ag);
	live l2;
	live_init(&l2,
	          "{\"model\": \"flow_exposure/v1\", \"hops\": 2, \"side\": \"received\","
	          " \"smoothing\": 0, \"use_labels\": true, \"illicit_ratio\": 0}",
	          "X");
	ag = gen(&l2, TH, 0.1);
	assert_int_equal(load(ag, d), -1);
	core_run_result *r2 = score(&l2, v->g);
	assert_int_equal(commit(ag, d, NULL, r2, v->wm), 0);
	assert_int_equal(count(d, "SELECT count(*) FROM alert_state WHERE armed"), 1); /* mark */
	core_run_result_unref(r2);
	core_labels_destroy(l2.labels);
	f.ag = ag;
	fx_end(&f);
}

static void
snapshot(db *d, int64_t out[3])
{
	out[0] = count(d, "SELECT count(*) FROM risk_alerts");
	out[1] = count(d, "SELECT coalesce(sum(hashtext(rule || wallet || armed::text"
	                  " || watermark::text)), 0) FROM alert_state");
	out[2] = count(d, "SELECT watermark FROM live_state");
}

/* A commit on a connection the server terminated, and one failing after
 * its alerts were written (a trigger on live_state): each rolls back and
 * leaves tables and memory as they were; the retry writes the alert once. */
static void
test_failed_commit(void **st)
{
	fx f;
	int64_t before[3], after[3];
	uint32_t fired = 7;
	char err[256];
	Aml__V1__RiskAlert *a[4];
	(void)st;
	fx_start(&f, TH, 0.1, "X>V:1 Y>V:9");
	db *d = &f.d;
	view *v = &f.v;
	srv_alertgen *ag = f.ag;
	assert_int_equal(commit(ag, d, NULL, v->cur, v->wm), 0);
	view_step(v, "X>V:20"); /* V crosses */
	snapshot(d, before);

	/* the session is killed before the update */
	char pid[64];
	snprintf(pid, sizeof(pid), "SELECT pg_terminate_backend(%d)::int", PQbackendPID(d->c));
	assert_int_equal(count(d, pid), 1);
	assert_int_equal(
	        srv_alertgen_commit(ag, d->c, v->prev, v->cur, v->wm, &fired, err, sizeof(err)),
	        AMLRISK_EDB);
	assert_int_equal(fired, 7);
	snapshot(d, after);
	assert_memory_equal(before, after, sizeof(before));
	PQfinish(d->c);
	d->c = connect_srv(d->url);

	/* the update fails after its alert rows went in */
	PGresult *r = PQexec(d->look,
	                     "CREATE TABLE fail_live (x int);"
	                     " INSERT INTO fail_live VALUES (1);"
	                     " CREATE FUNCTION fail_live() RETURNS trigger LANGUAGE plpgsql AS $$"
	                     " BEGIN IF EXISTS (SELECT 1 FROM fail_live) AND"
	                     " (SELECT count(*) FROM risk_alerts) > 0 THEN"
	                     " RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;"
	                     " CREATE TRIGGER fail_live BEFORE INSERT OR UPDATE ON live_state"
	                     " FOR EACH ROW EXECUTE FUNCTION fail_live()");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_int_equal(
	        srv_alertgen_commit(ag, d->c, v->prev, v->cur, v->wm, &fired, err, sizeof(err)),
	        AMLRISK_EDB);
	assert_non_null(strstr(err, "injected failure"));
	snapshot(d, after);
	assert_memory_equal(before, after, sizeof(before));
	srv_alertgen_stats s;
	srv_alertgen_stats_get(ag, &s);
	assert_int_equal(s.failures, 2);
	assert_int_equal(s.alerts, 0);

	/* the database is back: the retry (after a reload of the stored state,
	 * as the follower does) writes the alert once; the next update none */
	PQclear(PQexec(d->look, "DELETE FROM fail_live"));
	assert_int_equal(load(ag, d), v->wm - 1);
	assert_int_equal(commit(ag, d, v->prev, v->cur, v->wm), 1);
	size_t n = alerts_after(d, 0, a, 4);
	assert_int_equal(n, 1);
	expect_alert(a, n, TH, "V", v->prev, v->cur, v->wm);
	free_alerts(a, n);
	view_step(v, "X>V:5");
	assert_int_equal(commit(ag, d, v->prev, v->cur, v->wm), 0);
	assert_int_equal(count(d, "SELECT count(*) FROM risk_alerts"), 1);
	f.ag = ag;
	fx_end(&f);
}

/* Five wallets cross at once under ALERTS_PER_UPDATE_MAX 2: the riskiest two
 * now, two more at the next update, the last after; each exactly once.
 * Under a state bound of 2 pairs, the third waits until a
 * disarmed wallet re-arms (its room counts in the same update). */
static void
test_bounds(void **st)
{
	fx f;
	Aml__V1__RiskAlert *a[8];
	static const char *CROSS = "X>A:100 X>B:50 X>C:30 X>D:20 X>E:15";
	static const char *ORDER[5] = {"A", "B", "C", "D", "E"};
	(void)st;
	fx_start(&f, TH, 0.1, "X>A:1 Y>A:9 X>B:1 Y>B:9 X>C:1 Y>C:9 X>D:1 Y>D:9 X>E:1 Y>E:9");
	srv_alertgen_destroy(f.ag);
	srv_rules rs;
	char err[128];
	assert_int_equal(srv_rules_parse(&rs, TH, 0.1, err, sizeof(err)), AMLRISK_OK);
	rs.per_update_max = 2;
	assert_int_equal(srv_alertgen_create(&f.ag, &rs, CORE_MODEL_FLOW_NAME, f.l.cfg_json),
	                 AMLRISK_OK);
	assert_int_equal(load(f.ag, &f.d), -1);
	assert_int_equal(commit(f.ag, &f.d, NULL, f.v.cur, f.v.wm), 0);
	view_step(&f.v, CROSS);
	static const uint32_t per[4] = {2, 2, 1, 0};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(commit(f.ag, &f.d, f.v.prev, f.v.cur, f.v.wm), per[i]);
		view_step(&f.v, ""); /* an empty batch: a new version, nothing moves */
	}
	size_t n = alerts_after(&f.d, 0, a, 8);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(a[i]->wallet, ORDER[i]);
	free_alerts(a, n);
	srv_alertgen_stats s;
	srv_alertgen_stats_get(f.ag, &s);
	assert_int_equal(s.deferred, 3 + 1);
	assert_int_equal(s.alerts, 5);
	fx_end(&f);

	/* the state bound */
	fx_start(&f, TH, 0.1, "X>A:1 Y>A:9 X>B:1 Y>B:9 X>C:1 Y>C:9 X>D:1 Y>D:9 X>E:1 Y>E:9");
	srv_alertgen_destroy(f.ag);
	rs.per_update_max = 0;
	rs.state_max = 2;
	assert_int_equal(srv_alertgen_create(&f.ag, &rs, CORE_MODEL_FLOW_NAME, f.l.cfg_json),
	                 AMLRISK_OK);
	assert_int_equal(commit(f.ag, &f.d, NULL, f.v.cur, f.v.wm), 0);
	view_step(&f.v, CROSS);
	assert_int_equal(commit(f.ag, &f.d, f.v.prev, f.v.cur, f.v.wm), 2); /* A, B */
	view_step(&f.v, "");
	assert_int_equal(commit(f.ag, &f.d, f.v.prev, f.v.cur, f.v.wm), 0); /* full */
	view_step(&f.v, "Y>A:1000"); /* A re-arms: room for C in the same update */
	assert_int_equal(commit(f.ag, &f.d, f.v.prev, f.v.cur, f.v.wm), 1);
	view_step(&f.v, "");
	assert_int_equal(commit(f.ag, &f.d, f.v.prev, f.v.cur, f.v.wm), 0);
	n = alerts_after(&f.d, 0, a, 8);
	assert_int_equal(n, 3);
	assert_string_equal(a[2]->wallet, "C");
	free_alerts(a, n);
	assert_int_equal(count(&f.d, "SELECT count(*) FROM alert_state WHERE NOT armed"), 2);
	fx_end(&f);
}

/* ------------------------------------------------- randomised reference --- */

#define REF_MAX 256

/* The hysteresis done plainly: every wallet of every view stepped through
 * srv_rule_step (the pure, unit-tested step), keyed by wallet bytes. */
typedef struct ref {
	char name[REF_MAX][64];
	bool armed[REF_MAX][2];
	size_t n;
} ref;

static size_t
ref_slot(ref *r, const char *w)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->name[i], w) == 0)
			return i;
	assert_true(r->n < REF_MAX && strlen(w) < 64);
	snprintf(r->name[r->n], 64, "%s", w);
	r->armed[r->n][0] = r->armed[r->n][1] = true;
	return r->n++;
}

/* Steps every wallet of cur; fires[k] gets "rule\twallet" of each alert
 * expected (none on the first view). Returns the count. */
static size_t
ref_step(ref *r, const srv_rules *rs, const core_run_result *cur, bool first, char (*fires)[96],
         size_t max)
{
	size_t n = 0;
	for (uint32_t id = 0; id < core_run_result_count(cur); id++) {
		core_wallet_score ws;
		core_run_result_get(cur, id, &ws);
		size_t k = ref_slot(r, ws.wallet);
		if (ws.is_illicit) /* a source itself never alerts */
			continue;
		uint64_t rank = ws.risk_score > 0.0 ? core_run_result_rank(cur, id) + 1 : 0;
		for (int i = 0; i < rs->n; i++)
			if (srv_rule_step(&rs->rule[i], rs->margin, ws.risk_score, rank,
			                  &r->armed[k][i]) &&
			    !first) {
				assert_true(n < max);
				snprintf(fires[n++], 96, "%s\t%s", rs->rule[i].name, ws.wallet);
			}
	}
	return n;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The "rule\twallet" rows of sql, sorted, into out. */
static size_t
rows_of(db *d, const char *sql, char (*out)[96], size_t max)
{
	PGresult *res = PQexec(d->look, sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	size_t n = (size_t)PQntuples(res);
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++)
		snprintf(out[i], 96, "%s\t%s", PQgetvalue(res, (int)i, 0),
		         PQgetvalue(res, (int)i, 1));
	PQclear(res);
	qsort(out, n, sizeof(*out), str_cmp);
	return n;
}

/* The fixture's transactions random60.pb appended in random batches to a
 * graph of its first 80; after each commit the alerts written and the
 * disarmed pairs stored equal the plain reference's. Midway the generator
 * restarts from the stored state on a graph rebuilt from scratch. */
static void
random_run(const char *cfg_json, uint64_t seed)
{
	static char want[REF_MAX * 2][96], got[REF_MAX * 2][96];
	Aml__V1__Transaction **fx_tx = NULL;
	size_t ntx = th_fixture_load("random60.pb", &fx_tx), done = 80, batches = 0;
	core_tx *txs = calloc(ntx, sizeof(*txs));
	db d;
	live l;
	ref *r = calloc(1, sizeof(*r));
	char rules[96], err[256];
	uint64_t rng = seed;
	assert_non_null(txs);
	assert_non_null(r);
	for (size_t i = 0; i < ntx; i++)
		txs[i] = (core_tx){.sender = fx_tx[i]->sender,
		                   .sender_len = strlen(fx_tx[i]->sender),
		                   .receiver = fx_tx[i]->receiver,
		                   .receiver_len = strlen(fx_tx[i]->receiver),
		                   .amount = strtod(fx_tx[i]->amount, NULL),
		                   .seq = i + 1};
	db_init(&d);
	live_init(&l, cfg_json, NULL);
	core_graph *g = NULL;
	core_graph_builder *gb = NULL;
	assert_int_equal(core_graph_builder_create(&gb, done), AMLRISK_OK);
	for (size_t i = 0; i < done; i++)
		assert_int_equal(core_graph_builder_add_tx(gb, &txs[i]), AMLRISK_OK);
	assert_int_equal(core_graph_builder_finish(&g, gb, 1), AMLRISK_OK);
	core_run_result *prev = NULL, *cur = score(&l, g);
	/* a threshold a quarter down the base's order, a margin of a quarter of it */
	core_wallet_score q;
	core_run_result_get(cur, core_run_result_order(cur)[15], &q);
	double th = q.risk_score;
	assert_true(th > 0.0);
	snprintf(rules, sizeof(rules), "threshold>=%.6g,top<=5", th);
	srv_rules rs;
	assert_int_equal(srv_rules_parse(&rs, rules, th / 4, err, sizeof(err)), AMLRISK_OK);
	srv_alertgen *ag = NULL;
	assert_int_equal(srv_alertgen_create(&ag, &rs, core_model_name(l.cfg.model), l.cfg_json),
	                 AMLRISK_OK);
	assert_int_equal(load(ag, &d), -1);
	int64_t last_id = 0, fired_total = 0;
	for (bool first = true;; first = false) {
		uint32_t fired = commit(ag, &d, prev, cur, (int64_t)done);
		size_t nw = ref_step(r, &rs, cur, first, want, REF_MAX * 2);
		char sql[160];
		snprintf(sql, sizeof(sql), "SELECT rule, wallet FROM risk_alerts WHERE id > %lld",
		         (long long)last_id);
		size_t ng = rows_of(&d, sql, got, REF_MAX * 2);
		qsort(want, nw, sizeof(*want), str_cmp);
		assert_int_equal(ng, nw);
		assert_int_equal(fired, nw);
		for (size_t i = 0; i < nw; i++)
			assert_string_equal(got[i], want[i]);
		fired_total += (int64_t)nw;
		last_id = count(&d, "SELECT coalesce(max(id), 0) FROM risk_alerts");
		/* the stored disarmed pairs are the reference's */
		ng = rows_of(&d, "SELECT rule, wallet FROM alert_state WHERE NOT armed", got,
		             REF_MAX * 2);
		nw = 0;
		for (size_t k = 0; k < r->n; k++)
			for (int i = 0; i < rs.n; i++)
				if (!r->armed[k][i])
					snprintf(want[nw++], 96, "%s\t%s", rs.rule[i].name,
					         r->name[k]);
		qsort(want, nw, sizeof(*want), str_cmp);
		assert_int_equal(ng, nw);
		for (size_t i = 0; i < nw; i++)
			assert_string_equal(got[i], want[i]);
		if (done == ntx)
			break;
		size_t take = 1 + th_rand(&rng) % 16;
		take = take > ntx - done ? ntx - done : take;
		core_run_result_unref(prev);
		prev = cur;
		if (++batches == 6) {
			/* restart: a new generator, the graph rebuilt, no prev */
			srv_alertgen_destroy(ag);
			assert_int_equal(srv_alertgen_create(&ag, &rs, core_model_name(l.cfg.model),
			                                     l.cfg_json),
			                 AMLRISK_OK);
			assert_int_equal(load(ag, &d), (int64_t)done);
			core_graph_unref(g);
			assert_int_equal(core_graph_builder_create(&gb, done + take), AMLRISK_OK);
			for (size_t i = 0; i < done + take; i++)
				assert_int_equal(core_graph_builder_add_tx(gb, &txs[i]),
				                 AMLRISK_OK);
			assert_int_equal(core_graph_builder_finish(&g, gb, 1), AMLRISK_OK);
			core_run_result_unref(prev);
			prev = NULL;
		} else {
			core_graph *g2 = NULL;
			assert_int_equal(core_graph_append(&g2, g, txs + done, take, 1, NULL),
			                 AMLRISK_OK);
			core_graph_unref(g);
			g = g2;
		}
		done += take;
		cur = score(&l, g);
	}
	print_message("random run %s: %zu batches, %lld alerts\n", cfg_json, batches,
	              (long long)fired_total);
	assert_true(fired_total > 0);
	srv_alertgen_destroy(ag);
	core_run_result_unref(prev);
	core_run_result_unref(cur);
	core_graph_unref(g);
	core_labels_destroy(l.labels);
	db_fini(&d);
	free(txs);
	free(r);
	th_fixture_free(fx_tx, ntx);
}

static void
test_random_reference(void **st)
{
	(void)st;
	random_run("{\"model\": \"flow_exposure/v1\", \"illicit_ratio\": 0.1}", 7);
	random_run("{\"model\": \"flow_exposure/v1\", \"illicit_ratio\": 0.1, \"hops\": 2,"
	           " \"side\": \"received\"}",
	           11);
	random_run("{\"model\": \"hop_exposure/v1\", \"illicit_ratio\": 0.1}", 13);
	random_run("{\"model\": \"hop_exposure/v1\", \"illicit_ratio\": 0.1, \"direction\": \"in\","
	           " \"degree_normalize\": false}",
	           17);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_threshold_hysteresis),
	        cmocka_unit_test(test_top_enter),
	        cmocka_unit_test(test_restart),
	        cmocka_unit_test(test_failed_commit),
	        cmocka_unit_test(test_bounds),
	        cmocka_unit_test(test_random_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
