/* gw_json.c - one encoder per RiskService message, built with json_pack so each
 * answer is one allocation tree, written by gw_jw (numbers as the shortest text
 * that reads back exactly); stored JSON documents are embedded verbatim;
 * timestamps become RFC 3339 UTC strings. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw_json.h"
#include "gw_jw.h"

typedef json_t *(*item_encoder)(const void *item);

void
gw_json_reply(gw_reply *rep, int status, json_t *obj)
{
	gw_jw w;

	if (obj == NULL) {
		gw_reply_unencodable(rep);
		return;
	}
	gw_jw_init(&w);
	gw_jw_json(&w, obj);
	json_decref(obj);
	gw_jw_reply(&w, rep, status);
}

/* A JSON array of n items, each encoded by enc; NULL when out of memory. */
static json_t *
json_list(void *const *items, size_t n, item_encoder enc)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr != NULL && i < n; i++) {
		if (json_array_append_new(arr, enc(items[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

/* A JSON document stored as text (config_json, tx_source) embedded verbatim:
 * a uint64 seed and every number keep their stored text; null when empty, the
 * text as a string when it is not JSON. */
static json_t *
json_embedded(const char *text)
{
	json_t *v;

	if (text == NULL || text[0] == '\0') {
		return json_null();
	}
	if ((v = gw_jw_raw_new(text)) != NULL) {
		return v;
	}
	return json_string(text);
}

/* A double; JSON has no infinity or NaN, so those become null (a score can
 * overflow when a run's hop weights are near DBL_MAX). */
static json_t *
json_num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* An optional string: null when empty. */
static json_t *
json_opt(const char *s)
{
	return (s == NULL || s[0] == '\0') ? json_null() : json_string(s);
}

json_t *
gw_json_time(int64_t us)
{
	char buf[96];
	struct tm tm;
	time_t secs;
	int64_t frac;

	if (us == 0) {
		return json_null();
	}
	secs = (time_t)(us / 1000000);
	frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL) {
		return json_null();
	}
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	return json_string(buf);
}

json_t *
gw_json_graph_info(const Aml__V1__GraphInfo *g)
{
	static const Aml__V1__GraphInfo none = AML__V1__GRAPH_INFO__INIT;

	if (g == NULL) {
		g = &none;
	}
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:o, s:o}", "loaded", g->loaded, "wallets",
	                 (json_int_t)g->wallets, "edges", (json_int_t)g->edges, "transactions",
	                 (json_int_t)g->transactions, "watermark", (json_int_t)g->watermark,
	                 "loaded_at", gw_json_time(g->loaded_at_us), "load_seconds",
	                 json_num(g->load_seconds));
}

json_t *
gw_json_run_summary(const Aml__V1__RunSummary *r)
{
	if (r == NULL) {
		return json_null();
	}
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:o, "
	                 "s:o, s:o, s:b}",
	                 "run_id", (json_int_t)r->run_id, "status", r->status, "model", r->model,
	                 "created_at", gw_json_time(r->created_at_us), "completed_at",
	                 gw_json_time(r->completed_at_us), "config", json_embedded(r->config_json),
	                 "tx_source", json_embedded(r->tx_source), "watermark",
	                 (json_int_t)r->watermark, "transactions", (json_int_t)r->transactions,
	                 "wallets", (json_int_t)r->wallets, "illicit", (json_int_t)r->illicit,
	                 "load_seconds", json_num(r->load_seconds), "score_seconds",
	                 json_num(r->score_seconds), "store_seconds", json_num(r->store_seconds),
	                 "error", json_opt(r->error), "pinned", r->pinned);
}

json_t *
gw_json_live(const Aml__V1__LiveInfo *l)
{
	if (l == NULL) {
		return json_null();
	}
	return json_pack("{s:b, s:o, s:o, s:I, s:o, s:I, s:I, s:I, s:o, s:b, s:I}", "enabled",
	                 l->enabled, "model", json_opt(l->model), "config",
	                 json_embedded(l->config_json), "watermark", (json_int_t)l->watermark,
	                 "updated_at", gw_json_time(l->updated_at_us), "graph_watermark",
	                 (json_int_t)l->graph_watermark, "newest_sequence",
	                 (json_int_t)l->newest_sequence, "lag_rows", (json_int_t)l->lag_rows,
	                 "lag_seconds", json_num(l->lag_seconds), "current", l->current,
	                 "alerts_pending", (json_int_t)l->alerts_pending);
}

/* Adds "live" to obj (a new reference, released on failure) when the core sent
 * one: the core's live view, as /health and /ingestion/status show it. */
static json_t *
with_live(json_t *obj, const Aml__V1__LiveInfo *l)
{
	if (obj != NULL && l != NULL && json_object_set_new(obj, "live", gw_json_live(l)) != 0) {
		json_decref(obj);
		obj = NULL;
	}
	return obj;
}

/* The head of a live answer into the object open in w: "view":"live", the
 * watermark the scores reflect and the live view's state. */
static void
jw_live(gw_jw *w, const Aml__V1__LiveInfo *l)
{
	json_t *info = gw_json_live(l);

	gw_jw_key(w, "view");
	gw_jw_str(w, "live");
	gw_jw_key(w, "watermark");
	gw_jw_int(w, l->watermark);
	gw_jw_key(w, "live");
	if (info == NULL) {
		w->failed = 1;
	} else {
		gw_jw_json(w, info);
		json_decref(info);
	}
}

static json_t *
enc_run(const void *item)
{
	return gw_json_run_summary(item);
}

/* Whether s is a flow_exposure/v1 row (hop rows leave WalletScore.model empty). */
static int
is_flow(const Aml__V1__WalletScore *s)
{
	return s->model != NULL && strcmp(s->model, "flow_exposure/v1") == 0;
}

/* The per-hop members of a score row: hop: [{hop, weight, illicit_count}]
 * (c_0..c_K); flow: [{hop, received, sent}] (R_k, S_k for k = 1..K). */
static void
jw_hops(gw_jw *w, const Aml__V1__WalletScore *s)
{
	size_t i;

	gw_jw_key(w, "hops");
	gw_jw_arr(w);
	for (i = 0; is_flow(s) && i < s->n_flow_hops; i++) {
		gw_jw_obj(w);
		gw_jw_key(w, "hop");
		gw_jw_int(w, s->flow_hops[i]->hop);
		gw_jw_key(w, "received");
		gw_jw_num(w, s->flow_hops[i]->received);
		gw_jw_key(w, "sent");
		gw_jw_num(w, s->flow_hops[i]->sent);
		gw_jw_obj_end(w);
	}
	for (i = 0; !is_flow(s) && i < s->n_hops; i++) {
		gw_jw_obj(w);
		gw_jw_key(w, "hop");
		gw_jw_int(w, s->hops[i]->hop);
		gw_jw_key(w, "weight");
		gw_jw_num(w, s->hops[i]->weight);
		gw_jw_key(w, "illicit_count");
		gw_jw_int(w, s->hops[i]->illicit_count);
		gw_jw_obj_end(w);
	}
	gw_jw_arr_end(w);
}

/* The members of a score row into the object open in w: the one encoder of
 * that shape, for /scores/{wallet}, /scores/top rows and the head of
 * /scores/explain. hop_exposure/v1: wallet, risk_score, exposures, degrees,
 * is_illicit; flow_exposure/v1: wallet, model, risk_score, received_exposure,
 * sent_exposure, degrees, is_illicit. Then run_id when > 0, and the per-hop
 * values when hops. */
static void
jw_score(gw_jw *w, const Aml__V1__WalletScore *s, int64_t run_id, int hops)
{
	static const Aml__V1__WalletScore none = AML__V1__WALLET_SCORE__INIT;

	if (s == NULL) {
		s = &none;
	}
	gw_jw_key(w, "wallet");
	gw_jw_str(w, s->wallet);
	if (is_flow(s)) {
		gw_jw_key(w, "model");
		gw_jw_str(w, s->model);
	}
	gw_jw_key(w, "risk_score");
	gw_jw_num(w, s->risk_score);
	if (is_flow(s)) {
		gw_jw_key(w, "received_exposure");
		gw_jw_num(w, s->received_exposure);
		gw_jw_key(w, "sent_exposure");
		gw_jw_num(w, s->sent_exposure);
	} else {
		gw_jw_key(w, "exposures");
		gw_jw_int(w, s->exposures);
	}
	gw_jw_key(w, "in_degree");
	gw_jw_int(w, s->in_degree);
	gw_jw_key(w, "out_degree");
	gw_jw_int(w, s->out_degree);
	gw_jw_key(w, "is_illicit");
	gw_jw_bool(w, s->is_illicit);
	if (run_id > 0) {
		gw_jw_key(w, "run_id");
		gw_jw_int(w, run_id);
	}
	if (hops) {
		jw_hops(w, s);
	}
}

json_t *
gw_json_health(const Aml__V1__HealthResponse *h, int healthy, const char *detail)
{
	if (h == NULL) {
		return json_pack("{s:s, s:s, s:s, s:s, s:n, s:n, s:s}", "status", "down", "gateway",
		                 "ok", "core", "unavailable", "database", "unknown", "graph",
		                 "latest_run", "detail", detail);
	}
	return with_live(json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:s, s:s, s:o}",
	                           "status", healthy ? "ok" : "degraded", "gateway", "ok", "core",
	                           h->status, "database", h->database_ok ? "ok" : "error",
	                           "database_error", json_opt(h->database_error), "graph",
	                           gw_json_graph_info(h->graph), "latest_run",
	                           gw_json_run_summary(h->latest_run), "core_version", h->version,
	                           "core_uptime_seconds", json_num(h->uptime_seconds),
	                           "core_instance", h->instance_id, "core_role",
	                           h->role[0] != '\0' ? h->role : "writer", "core_writer",
	                           json_opt(h->writer_id)),
	                 h->live);
}

json_t *
gw_json_ready(const Aml__V1__HealthResponse *h, int ready, const char *detail)
{
	json_t *obj = json_pack("{s:b, s:b, s:b, s:b}", "ready", ready, "core", h != NULL,
	                        "graph_loaded", h != NULL && h->graph != NULL && h->graph->loaded,
	                        "database_ok", h != NULL && h->database_ok);

	if (obj != NULL && !ready && json_object_set_new(obj, "detail", json_string(detail)) != 0) {
		json_decref(obj);
		obj = NULL;
	}
	return obj;
}

json_t *
gw_json_reload(const Aml__V1__ReloadGraphResponse *r)
{
	json_t *obj = gw_json_graph_info(r->graph);

	if (obj != NULL &&
	    json_object_set_new(obj, "elapsed_seconds", json_num(r->elapsed_seconds)) != 0) {
		json_decref(obj);
		obj = NULL;
	}
	return obj;
}

json_t *
gw_json_run_score(const Aml__V1__RunScoreResponse *r)
{
	static const Aml__V1__RunSummary none = AML__V1__RUN_SUMMARY__INIT;
	const Aml__V1__RunSummary *s = r->run != NULL ? r->run : &none;

	return json_pack("{s:I, s:s, s:I, s:I, s:I, s:o, s:o}", "run_id", (json_int_t)s->run_id,
	                 "status", s->status, "wallets_scored", (json_int_t)s->wallets,
	                 "illicit_count", (json_int_t)s->illicit, "transactions",
	                 (json_int_t)s->transactions, "elapsed_seconds",
	                 json_num(r->elapsed_seconds), "run", gw_json_run_summary(s));
}

/* A positive id (a run, a rank) or null for 0: "none". */
static void
jw_id(gw_jw *w, int64_t v)
{
	if (v > 0) {
		gw_jw_int(w, v);
	} else {
		gw_jw_null(w);
	}
}

void
gw_json_top_reply(gw_reply *rep, const Aml__V1__TopScoresResponse *r, int compare)
{
	int ranked = compare && r->compare_run_id > 0 && r->n_compare_ranks == r->n_scores;
	gw_jw w;
	size_t i;

	gw_jw_init(&w);
	gw_jw_obj(&w);
	if (r->live != NULL) {
		jw_live(&w, r->live);
	} else {
		gw_jw_key(&w, "run_id");
		gw_jw_int(&w, r->run_id);
	}
	gw_jw_key(&w, "n");
	gw_jw_int(&w, (int64_t)r->n_scores);
	gw_jw_key(&w, "offset");
	gw_jw_int(&w, r->offset);
	gw_jw_key(&w, "total");
	gw_jw_int(&w, (int64_t)r->total);
	if (compare) {
		gw_jw_key(&w, "compare_run_id");
		jw_id(&w, ranked ? r->compare_run_id : 0);
		if (ranked) {
			gw_jw_key(&w, "compare_rank_cap");
			gw_jw_int(&w, (int64_t)r->compare_rank_cap);
		}
	}
	gw_jw_key(&w, "scores");
	gw_jw_arr(&w);
	for (i = 0; i < r->n_scores; i++) {
		gw_jw_obj(&w);
		jw_score(&w, r->scores[i], 0, 0);
		if (ranked) {
			gw_jw_key(&w, "compare_rank");
			jw_id(&w, (int64_t)r->compare_ranks[i]);
		}
		gw_jw_obj_end(&w);
	}
	gw_jw_arr_end(&w);
	gw_jw_obj_end(&w);
	gw_jw_reply(&w, rep, 200);
}

void
gw_json_history_reply(gw_reply *rep, const Aml__V1__WalletHistoryResponse *r)
{
	gw_jw w;
	size_t i;

	gw_jw_init(&w);
	gw_jw_obj(&w);
	gw_jw_key(&w, "wallet");
	gw_jw_str(&w, r->wallet);
	gw_jw_key(&w, "found");
	gw_jw_int(&w, r->found);
	gw_jw_key(&w, "next_before_run_id");
	jw_id(&w, r->next_before_run_id);
	gw_jw_key(&w, "entries");
	gw_jw_arr(&w);
	for (i = 0; i < r->n_entries; i++) {
		json_t *run = gw_json_run_summary(r->entries[i]->run);

		gw_jw_obj(&w);
		gw_jw_key(&w, "run");
		if (run == NULL) {
			w.failed = 1;
		} else {
			gw_jw_json(&w, run);
			json_decref(run);
		}
		gw_jw_key(&w, "score");
		if (r->entries[i]->score != NULL) {
			gw_jw_obj(&w);
			jw_score(&w, r->entries[i]->score, 0, 1);
			gw_jw_obj_end(&w);
		} else {
			gw_jw_null(&w);
		}
		gw_jw_obj_end(&w);
	}
	gw_jw_arr_end(&w);
	gw_jw_obj_end(&w);
	gw_jw_reply(&w, rep, 200);
}

json_t *
gw_json_distribution(const Aml__V1__ScoreDistributionResponse *r)
{
	json_t *bins = json_array();
	size_t i;

	for (i = 0; bins != NULL && i < r->n_counts; i++) {
		/* the last bin ends at max exactly, not at bins x width */
		double hi = i + 1 == r->n_counts ? r->max : r->width * (double)(i + 1);

		if (json_array_append_new(bins, json_pack("{s:o, s:o, s:I}", "lo",
		                                          json_num(r->width * (double)i), "hi",
		                                          json_num(hi), "count",
		                                          (json_int_t)r->counts[i])) != 0) {
			json_decref(bins);
			bins = NULL;
		}
	}
	return json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "run_id",
	                 (json_int_t)r->run_id, "model", r->model, "wallets",
	                 (json_int_t)r->wallets, "zero", (json_int_t)r->zero, "illicit",
	                 (json_int_t)r->illicit, "nonfinite", (json_int_t)r->nonfinite, "max",
	                 json_num(r->max), "width", json_num(r->width), "bins", bins);
}

void
gw_json_wallet_reply(gw_reply *rep, const Aml__V1__GetWalletScoreResponse *r)
{
	gw_jw w;

	gw_jw_init(&w);
	gw_jw_obj(&w);
	jw_score(&w, r->score, r->run_id, 1);
	if (r->live != NULL) {
		jw_live(&w, r->live);
	}
	gw_jw_obj_end(&w);
	gw_jw_reply(&w, rep, 200);
}

static json_t *
enc_string(const void *item)
{
	return json_string(item);
}

static json_t *
enc_source(const void *item)
{
	const Aml__V1__ExplainSource *s = item;

	return json_pack("{s:s, s:s, s:o}", "wallet", s->wallet, "direction", s->direction, "path",
	                 json_list((void *const *)s->path, s->n_path, enc_string));
}

static json_t *
enc_explain_hop(const void *item)
{
	const Aml__V1__ExplainHop *h = item;

	return json_pack("{s:I, s:o, s:I, s:I, s:o, s:b, s:o}", "hop", (json_int_t)h->hop, "weight",
	                 json_num(h->weight), "exact_count", (json_int_t)h->exact_count, "count",
	                 (json_int_t)h->count, "contribution", json_num(h->contribution),
	                 "truncated", h->truncated, "sources",
	                 json_list((void *const *)h->sources, h->n_sources, enc_source));
}

static json_t *
enc_contributor(const void *item)
{
	const Aml__V1__ExplainContributor *c = item;

	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "source", c->source, "side", c->side,
	                 "contribution", json_num(c->contribution), "walk_weight",
	                 json_num(c->walk_weight), "walk",
	                 json_list((void *const *)c->walk, c->n_walk, enc_string));
}

/* What explain adds to the score row: hop_exposure/v1: normaliser, config,
 * hops (per hop count, weight, contribution, sources), capped; flow_exposure/v1:
 * config, contributors (with their heaviest walks), others, capped,
 * truncated (the row itself carries the per-hop R_k, S_k). */
static json_t *
explain_extra(const Aml__V1__ExplainWalletResponse *r, int flow)
{
	if (flow) {
		return json_pack("{s:o, s:o, s:o, s:b, s:b}", "config",
		                 json_embedded(r->config_json), "contributors",
		                 json_list((void *const *)r->contributors, r->n_contributors,
		                           enc_contributor),
		                 "others", json_num(r->others), "capped", r->capped, "truncated",
		                 r->truncated);
	}
	return json_pack("{s:o, s:o, s:o, s:b}", "normaliser", json_num(r->normaliser), "config",
	                 json_embedded(r->config_json), "hops",
	                 json_list((void *const *)r->hops, r->n_hops, enc_explain_hop), "capped",
	                 r->capped);
}

json_t *
gw_json_explain(const Aml__V1__ExplainWalletResponse *r)
{
	int flow = r->score != NULL && is_flow(r->score);
	json_t *obj = NULL, *extra = explain_extra(r, flow);
	gw_jw w;

	/* the score part from the one score encoder, read back as a tree */
	gw_jw_init(&w);
	gw_jw_obj(&w);
	jw_score(&w, r->score, r->run_id, flow);
	gw_jw_obj_end(&w);
	amlrisk_buf_add(&w.b, "", 1);
	if (!w.failed && !w.b.failed) {
		obj = json_loads(w.b.data, 0, NULL);
	}
	gw_jw_free(&w);
	if (obj == NULL || extra == NULL || json_object_update(obj, extra) != 0) {
		json_decref(obj);
		obj = NULL;
	}
	json_decref(extra);
	return obj;
}

static json_t *
enc_node(const void *item)
{
	const Aml__V1__GraphNode *n = item;

	return json_pack("{s:s, s:o, s:b, s:I, s:I, s:I}", "wallet", n->wallet, "risk_score",
	                 json_num(n->risk_score), "is_illicit", n->is_illicit, "in_degree",
	                 (json_int_t)n->in_degree, "out_degree", (json_int_t)n->out_degree,
	                 "distance", (json_int_t)n->distance);
}

static json_t *
enc_edge(const void *item)
{
	const Aml__V1__GraphEdge *e = item;

	return json_pack("{s:s, s:s, s:I, s:o}", "sender", e->sender, "receiver", e->receiver,
	                 "tx_count", (json_int_t)e->tx_count, "total_amount",
	                 json_num(e->total_amount));
}

json_t *
gw_json_graph(const Aml__V1__WalletGraphResponse *r)
{
	return json_pack("{s:s, s:I, s:b, s:b, s:o, s:o}", "center", r->center, "run_id",
	                 (json_int_t)r->run_id, "truncated", r->truncated, "capped", r->capped,
	                 "nodes", json_list((void *const *)r->nodes, r->n_nodes, enc_node), "edges",
	                 json_list((void *const *)r->edges, r->n_edges, enc_edge));
}

json_t *
gw_json_runs(const Aml__V1__ListRunsResponse *r)
{
	return json_pack("{s:o, s:o}", "runs",
	                 json_list((void *const *)r->runs, r->n_runs, enc_run), "next_before_id",
	                 r->next_before_id > 0 ? json_integer((json_int_t)r->next_before_id)
	                                       : json_null());
}

static json_t *
enc_partition(const void *item)
{
	const Aml__V1__PartitionState *p = item;

	return json_pack("{s:s, s:i, s:I, s:I, s:I, s:s}", "topic", p->topic, "partition",
	                 (int)p->partition, "committed_offset", (json_int_t)p->committed_offset,
	                 "high_watermark", (json_int_t)p->high_watermark, "lag", (json_int_t)p->lag,
	                 "consumer_id", p->consumer_id);
}

json_t *
gw_json_ingestion(const Aml__V1__IngestionStatusResponse *r)
{
	return with_live(
	        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "consumed",
	                  (json_int_t)r->consumed, "inserted", (json_int_t)r->inserted,
	                  "duplicates", (json_int_t)r->duplicates, "dead_lettered",
	                  (json_int_t)r->dead_lettered, "transactions_total",
	                  (json_int_t)r->transactions_total, "max_sequence",
	                  (json_int_t)r->max_sequence, "last_error", json_opt(r->last_error),
	                  "updated_at", gw_json_time(r->updated_at_us), "partitions",
	                  json_list((void *const *)r->partitions, r->n_partitions, enc_partition)),
	        r->live);
}

static json_t *
enc_alert_contributor(const void *item)
{
	const Aml__V1__AlertContributor *c = item;

	return json_pack("{s:s, s:s, s:I, s:o}", "wallet", c->wallet, "side", c->side, "hops",
	                 (json_int_t)c->hops, "contribution", json_num(c->contribution));
}

json_t *
gw_json_alert(const Aml__V1__RiskAlert *a)
{
	return json_pack("{s:I, s:s, s:s, s:o, s:o, s:s, s:I, s:o, s:I, s:o}", "alert_id",
	                 (json_int_t)a->alert_id, "wallet", a->wallet, "model", a->model, "score",
	                 json_num(a->score), "previous_score", json_num(a->previous_score), "rule",
	                 a->rule, "watermark", (json_int_t)a->watermark, "created_at",
	                 gw_json_time(a->created_at_us), "rank", (json_int_t)a->rank,
	                 "contributors",
	                 json_list((void *const *)a->contributors, a->n_contributors,
	                           enc_alert_contributor));
}

static json_t *
enc_alert(const void *item)
{
	return gw_json_alert(item);
}

json_t *
gw_json_alerts(const Aml__V1__ListAlertsResponse *r)
{
	char cursor[24];

	snprintf(cursor, sizeof(cursor), "%lld", (long long)r->next_before_id);
	return json_pack("{s:o, s:o, s:I}", "alerts",
	                 json_list((void *const *)r->alerts, r->n_alerts, enc_alert), "next_cursor",
	                 r->next_before_id > 0 ? json_string(cursor) : json_null(), "last_id",
	                 (json_int_t)r->last_id);
}
