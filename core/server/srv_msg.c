/* srv_msg.c - builders of the few messages more than one handler answers with.
 * Strings are copied, so the source may go away before the answer is packed. */
#include "srv_msg.h"

#include <string.h>

#include "srv_time.h"

static char *
str(srv_arena *a, const char *s)
{
	return srv_arena_strdup(a, s != NULL ? s : "");
}

/* The flow_exposure/v1 fields of m from ws: the model, R_K, S_K and per hop
 * R_k, S_k. 0, or -1 when out of memory. */
static int
wallet_flow(srv_arena *a, const core_wallet_score *ws, Aml__V1__WalletScore *m)
{
	Aml__V1__FlowHop *hops = srv_arena_calloc(a, ws->hops + 1, sizeof(*hops));
	Aml__V1__FlowHop **ptrs = srv_arena_calloc(a, ws->hops + 1, sizeof(*ptrs));

	if (hops == NULL || ptrs == NULL)
		return -1;
	m->model = (char *)CORE_MODEL_FLOW_NAME;
	m->received_exposure = ws->received_exposure;
	m->sent_exposure = ws->sent_exposure;
	for (unsigned k = 0; k < ws->hops; k++) {
		aml__v1__flow_hop__init(&hops[k]);
		hops[k].hop = k + 1;
		hops[k].received = ws->received[k];
		hops[k].sent = ws->sent[k];
		ptrs[k] = &hops[k];
	}
	m->n_flow_hops = ws->hops;
	m->flow_hops = ptrs;
	return 0;
}

/* The hop_exposure/v1 fields of m from ws: exposures and per hop c_k with its
 * weight. 0, or -1 when out of memory. */
static int
wallet_hop(srv_arena *a, const core_wallet_score *ws, const double *weights,
           Aml__V1__WalletScore *m)
{
	Aml__V1__HopCount *hops = srv_arena_calloc(a, ws->hops + 1, sizeof(*hops));
	Aml__V1__HopCount **ptrs = srv_arena_calloc(a, ws->hops + 1, sizeof(*ptrs));

	if (hops == NULL || ptrs == NULL)
		return -1;
	m->exposures = ws->exposures;
	for (unsigned k = 0; k <= ws->hops; k++) {
		aml__v1__hop_count__init(&hops[k]);
		hops[k].hop = k;
		hops[k].weight = weights[k];
		hops[k].illicit_count = ws->counts[k];
		ptrs[k] = &hops[k];
	}
	m->n_hops = ws->hops + 1;
	m->hops = ptrs;
	return 0;
}

Aml__V1__WalletScore *
srv_msg_wallet(srv_arena *a, const core_wallet_score *ws, const double *weights)
{
	Aml__V1__WalletScore *m = srv_arena_alloc(a, sizeof(*m));

	if (m == NULL)
		return NULL;
	aml__v1__wallet_score__init(m);
	if ((m->wallet = srv_arena_strndup(a, ws->wallet, ws->wallet_len)) == NULL)
		return NULL;
	m->risk_score = ws->risk_score;
	m->in_degree = ws->in_degree;
	m->out_degree = ws->out_degree;
	m->is_illicit = ws->is_illicit;
	if ((ws->model == CORE_MODEL_FLOW ? wallet_flow(a, ws, m)
	                                  : wallet_hop(a, ws, weights, m)) != 0)
		return NULL;
	return m;
}

Aml__V1__RunSummary *
srv_msg_run(srv_arena *a, const srv_summary *s)
{
	Aml__V1__RunSummary *m = srv_arena_alloc(a, sizeof(*m));

	if (m == NULL)
		return NULL;
	aml__v1__run_summary__init(m);
	m->run_id = s->id;
	m->status = str(a, srv_run_status_name(s->status));
	m->created_at_us = s->created_us;
	m->completed_at_us = s->completed_us;
	m->model = str(a, s->model);
	m->config_json = str(a, s->config_json);
	m->tx_source = str(a, s->tx_source);
	m->watermark = s->watermark;
	m->transactions = s->transactions;
	m->wallets = s->wallets;
	m->illicit = s->illicit;
	m->load_seconds = s->load_s;
	m->score_seconds = s->score_s;
	m->store_seconds = s->store_s;
	m->error = str(a, s->error);
	m->pinned = s->pinned;
	return srv_arena_failed(a) ? NULL : m;
}

Aml__V1__GraphInfo *
srv_msg_graph(srv_arena *a, const srv_graph_info *g)
{
	Aml__V1__GraphInfo *m = srv_arena_alloc(a, sizeof(*m));

	if (m == NULL)
		return NULL;
	aml__v1__graph_info__init(m);
	m->loaded = g->loaded;
	m->wallets = g->wallets;
	m->edges = g->edges;
	m->transactions = g->transactions;
	m->watermark = g->watermark;
	m->loaded_at_us = g->loaded_at_us;
	m->load_seconds = g->load_s;
	return m;
}

Aml__V1__LiveInfo *
srv_msg_live(srv_arena *a, const srv_live_info *li, int64_t graph_watermark, int64_t now_us)
{
	Aml__V1__LiveInfo *m = srv_arena_alloc(a, sizeof(*m));

	if (m == NULL)
		return NULL;
	aml__v1__live_info__init(m);
	m->enabled = li->enabled;
	m->model = srv_arena_strdup(a, li->model != NULL ? li->model : "");
	m->config_json = srv_arena_strdup(a, li->enabled ? li->config_json : "");
	m->watermark = li->watermark;
	m->updated_at_us = li->updated_at_us;
	m->graph_watermark = graph_watermark;
	m->newest_sequence = li->newest;
	m->lag_rows = li->lag_rows;
	m->lag_seconds = li->behind_since_us > 0 && now_us > li->behind_since_us
	                         ? (double)(now_us - li->behind_since_us) / 1e6
	                         : 0;
	m->current = li->watermark >= 0 && li->watermark >= li->newest;
	m->alerts_pending = li->alerts_pending;
	return m->model != NULL && m->config_json != NULL ? m : NULL;
}

Aml__V1__LiveInfo *
srv_msg_live_state(srv_arena *a, srv_state *st, srv_run **run)
{
	srv_live_info li;
	srv_graph_info gi;
	srv_run *r = srv_state_live(st, &li);
	core_graph *g = srv_state_graph(st, &gi);

	core_graph_unref(g); /* only its watermark */
	if (run != NULL)
		*run = r;
	else
		srv_run_unref(r);
	return srv_msg_live(a, &li, g != NULL ? gi.watermark : -1, srv_unix_us());
}
