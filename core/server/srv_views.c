/* srv_views.c - ExplainWallet and WalletGraph: the engine's explain (either
 * model) and neighbourhood views over the latest run's graph and result,
 * bounded (sources per hop or contributors, the flow explain's work, hops,
 * nodes, edges) so an answer stays well under the message cap. */
#include "srv_ctx.h"

#include <stdio.h>
#include <string.h>

#include "amlrisk_err.h"
#include "rpc.h"
#include "srv_arena.h"
#include "srv_msg.h"

/* A wallet id of g as an arena string. */
static char *
wallet_str(srv_arena *a, const core_graph *g, uint32_t id)
{
	size_t len;
	const char *w = core_graph_wallet(g, id, &len);

	return srv_arena_strndup(a, w, len);
}

/* Builds resp's hops from e. */
static void
explain_hops(srv_arena *a, const core_explain *e, Aml__V1__ExplainWalletResponse *resp)
{
	const core_graph *g = core_explain_graph(e);
	const core_explain_hop *hops;
	const core_explain_source *src;
	size_t nh = core_explain_hops(e, &hops);

	core_explain_sources(e, &src);
	resp->capped = core_explain_capped(e);
	resp->hops = srv_arena_calloc(a, nh + 1, sizeof(*resp->hops));
	for (size_t k = 0; resp->hops != NULL && k < nh; k++) {
		Aml__V1__ExplainHop *h = srv_arena_alloc(a, sizeof(*h));
		if (h == NULL)
			return;
		aml__v1__explain_hop__init(h);
		h->hop = hops[k].hop;
		h->weight = hops[k].weight;
		h->exact_count = hops[k].exact;
		h->count = hops[k].count;
		h->contribution = hops[k].contribution;
		h->truncated = hops[k].source_count < hops[k].exact;
		h->sources = srv_arena_calloc(a, hops[k].source_count + 1, sizeof(*h->sources));
		for (size_t i = 0; h->sources != NULL && i < hops[k].source_count; i++) {
			const core_explain_source *s = &src[hops[k].first_source + i];
			Aml__V1__ExplainSource *m = srv_arena_alloc(a, sizeof(*m));
			if (m == NULL)
				return;
			aml__v1__explain_source__init(m);
			m->wallet = wallet_str(a, g, s->id);
			m->direction = (char *)core_direction_name(s->direction);
			m->path = srv_arena_calloc(a, (size_t)s->hop + 2, sizeof(*m->path));
			for (unsigned j = 0; m->path != NULL && j <= s->hop; j++)
				m->path[j] = wallet_str(a, g, s->path[j]);
			m->n_path = m->path != NULL ? (size_t)s->hop + 1 : 0;
			h->sources[i] = m;
			h->n_sources = i + 1;
		}
		resp->hops[k] = h;
		resp->n_hops = k + 1;
	}
}

/* Builds resp's flow_exposure/v1 explain from e: the contributors with their
 * heaviest walks, others, capped, truncated (the per-hop R_k, S_k are the
 * score's). */
static void
explain_flow(srv_arena *a, const core_explain *e, Aml__V1__ExplainWalletResponse *resp)
{
	const core_graph *g = core_explain_graph(e);
	const core_explain_contrib *c;
	size_t n = core_explain_contribs(e, &c);

	resp->others = core_explain_others(e);
	resp->capped = core_explain_capped(e);
	resp->contributors = srv_arena_calloc(a, n + 1, sizeof(*resp->contributors));
	for (size_t i = 0; resp->contributors != NULL && i < n; i++) {
		Aml__V1__ExplainContributor *m = srv_arena_alloc(a, sizeof(*m));
		if (m == NULL)
			return;
		aml__v1__explain_contributor__init(m);
		m->source = wallet_str(a, g, c[i].source);
		m->side = (char *)core_side_name(c[i].side);
		m->contribution = c[i].contribution;
		m->walk_weight = c[i].walk_weight;
		m->walk = srv_arena_calloc(a, (size_t)c[i].walk_len + 2, sizeof(*m->walk));
		for (unsigned j = 0; m->walk != NULL && j <= c[i].walk_len; j++)
			m->walk[j] = wallet_str(a, g, c[i].walk[j]);
		m->n_walk = m->walk != NULL ? (size_t)c[i].walk_len + 1 : 0;
		resp->contributors[i] = m;
		resp->n_contributors = i + 1;
	}
}

SRV_HANDLER(explain_wallet, ExplainWalletRequest, ExplainWalletResponse)
{
	srv_ctx *ctx = (srv_ctx *)service;
	Aml__V1__ExplainWalletResponse resp = AML__V1__EXPLAIN_WALLET_RESPONSE__INIT;
	core_explain_params params = {0};
	char err[SRV_ERR_MAX];
	core_explain *e = NULL;
	core_wallet_score ws;
	bool known;
	srv_run *run = NULL;
	srv_arena a;
	int rv;

	srv_arena_init(&a, 0);
	if (srv_wallet_check(input->wallet, err, sizeof(err)) != 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "%s", err);
		goto out;
	}
	if (input->max_sources_per_hop > SRV_EXPLAIN_SOURCES_MAX) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "max_sources_per_hop: at most %d",
		              SRV_EXPLAIN_SOURCES_MAX);
		goto out;
	}
	run = srv_state_latest(ctx->state, &known);
	if (run == NULL) {
		rpc_call_fail(closure_data, known ? AMLRISK_ESTATE : AMLRISK_EUNAVAIL, "%s",
		              known ? "no completed run yet: run RunScore first"
		                    : "the latest run is not loaded yet");
		goto out;
	}
	if (srv_run_result(run) == NULL) {
		rpc_call_fail(
		        closure_data, AMLRISK_ESTATE,
		        "run %lld was loaded from the database at start-up and its graph is not"
		        " rebuilt yet (or could not be: see the server log); try again shortly or"
		        " run RunScore",
		        (long long)srv_run_summary(run)->id);
		goto out;
	}
	params.sources_per_hop = input->max_sources_per_hop != 0 ? input->max_sources_per_hop
	                                                         : SRV_EXPLAIN_SOURCES_DEFAULT;
	/* hop: over all hops; flow: the contributors listed */
	params.sources_max = srv_run_config(run)->model == CORE_MODEL_FLOW ? params.sources_per_hop
	                                                                   : SRV_EXPLAIN_TOTAL_MAX;
	params.work_max = ctx->opts->explain_work_max; /* EXPLAIN_WORK_MAX */
	rv = core_explain_build(&e, srv_run_result(run), input->wallet, strlen(input->wallet),
	                        &params);
	if (rv != AMLRISK_OK) {
		if (rv == AMLRISK_ENOTFOUND)
			rpc_call_fail(closure_data, rv, "wallet %.200s not in run %lld",
			              input->wallet, (long long)srv_run_summary(run)->id);
		else
			rpc_call_fail(closure_data, rv, "explain %.200s: %s", input->wallet,
			              amlrisk_strerror(rv));
		goto out;
	}
	srv_run_find(run, input->wallet, strlen(input->wallet), &ws);
	resp.run_id = srv_run_summary(run)->id;
	resp.score = srv_msg_wallet(&a, &ws, srv_run_config(run)->hop_weights);
	resp.config_json = srv_arena_strdup(&a, srv_run_summary(run)->config_json);
	resp.model = (char *)core_model_name(core_explain_model(e));
	resp.truncated = core_explain_truncated(e);
	if (core_explain_model(e) == CORE_MODEL_FLOW) {
		explain_flow(&a, e, &resp);
	} else {
		resp.normaliser = core_explain_normaliser(e);
		explain_hops(&a, e, &resp);
	}
	if (srv_arena_failed(&a) || resp.score == NULL)
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "explain: out of memory");
	else
		closure(&resp, closure_data);
out:
	core_explain_destroy(e);
	srv_run_unref(run);
	srv_arena_free(&a);
}

/* Resolves the request's limits, or answers INVALID_ARGUMENT and returns -1. */
static int
graph_limits(const Aml__V1__WalletGraphRequest *in, void *closure_data, unsigned *hops,
             size_t *nodes, size_t *edges)
{
	*hops = in->hops != 0 ? in->hops : SRV_GRAPH_HOPS_DEFAULT;
	*nodes = in->node_limit != 0 ? in->node_limit : SRV_GRAPH_NODES_DEFAULT;
	*edges = in->edge_limit != 0 ? in->edge_limit : SRV_GRAPH_EDGES_DEFAULT;
	if (*hops > CORE_NEIGH_HOPS_MAX)
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "hops: at most %d",
		              CORE_NEIGH_HOPS_MAX);
	else if (*nodes > SRV_GRAPH_NODES_MAX)
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "node_limit: at most %d",
		              SRV_GRAPH_NODES_MAX);
	else if (*edges > SRV_GRAPH_EDGES_MAX)
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "edge_limit: at most %d",
		              SRV_GRAPH_EDGES_MAX);
	else
		return 0;
	return -1;
}

/* Fills resp's nodes and edges from n; scores come from run when the engine
 * had no result to give (a run loaded at start-up). */
static void
graph_fill(srv_arena *a, const core_neigh *n, const srv_run *run, bool engine_scores,
           Aml__V1__WalletGraphResponse *resp)
{
	const core_graph *g = core_neigh_graph(n);
	const core_neigh_node *nodes;
	const core_neigh_edge *edges;
	size_t nn = core_neigh_nodes(n, &nodes), ne = core_neigh_edges(n, &edges);

	resp->nodes = srv_arena_calloc(a, nn + 1, sizeof(*resp->nodes));
	resp->edges = srv_arena_calloc(a, ne + 1, sizeof(*resp->edges));
	if (resp->nodes == NULL || resp->edges == NULL)
		return;
	for (size_t i = 0; i < nn; i++) {
		Aml__V1__GraphNode *m = srv_arena_alloc(a, sizeof(*m));
		core_wallet_score ws;
		if (m == NULL)
			return;
		aml__v1__graph_node__init(m);
		m->wallet = wallet_str(a, g, nodes[i].id);
		m->risk_score = nodes[i].risk_score;
		m->is_illicit = nodes[i].is_illicit;
		if (!engine_scores && run != NULL && m->wallet != NULL &&
		    srv_run_find(run, m->wallet, strlen(m->wallet), &ws) == AMLRISK_OK) {
			m->risk_score = ws.risk_score;
			m->is_illicit = ws.is_illicit;
		}
		m->in_degree = nodes[i].in_degree;
		m->out_degree = nodes[i].out_degree;
		m->distance = nodes[i].distance;
		resp->nodes[i] = m;
	}
	resp->n_nodes = nn;
	for (size_t i = 0; i < ne; i++) {
		Aml__V1__GraphEdge *m = srv_arena_alloc(a, sizeof(*m));
		if (m == NULL)
			return;
		aml__v1__graph_edge__init(m);
		m->sender = resp->nodes[edges[i].from]->wallet;
		m->receiver = resp->nodes[edges[i].to]->wallet;
		m->tx_count = edges[i].tx_count;
		m->total_amount = edges[i].amount;
		resp->edges[i] = m;
	}
	resp->n_edges = ne;
	resp->truncated = core_neigh_truncated(n);
	resp->capped = core_neigh_capped(n);
}

SRV_HANDLER(wallet_graph, WalletGraphRequest, WalletGraphResponse)
{
	srv_ctx *ctx = (srv_ctx *)service;
	Aml__V1__WalletGraphResponse resp = AML__V1__WALLET_GRAPH_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	srv_run *run = NULL;
	core_run_result *res = NULL;
	core_graph *g = NULL;
	core_neigh *n = NULL;
	unsigned hops;
	size_t nodes, edges;
	srv_arena a;
	int rv;

	srv_arena_init(&a, 0);
	if (srv_wallet_check(input->wallet, err, sizeof(err)) != 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "%s", err);
		goto out;
	}
	if (graph_limits(input, closure_data, &hops, &nodes, &edges) != 0)
		goto out;
	/* the latest run's own graph when it has one, else the current graph */
	run = srv_state_latest(ctx->state, NULL);
	if (run != NULL && (res = srv_run_result(run)) != NULL)
		g = core_graph_ref(core_run_result_graph(res));
	else
		g = srv_state_graph(ctx->state, NULL);
	if (g == NULL) {
		rpc_call_fail(closure_data, AMLRISK_ESTATE,
		              "no graph loaded yet: ReloadGraph first");
		goto out;
	}
	if ((rv = core_neigh_build(&n, g, res, input->wallet, strlen(input->wallet), hops, nodes,
	                           edges, ctx->opts->graph_work_max, err, sizeof(err))) != 0) {
		if (rv == AMLRISK_ENOTFOUND)
			rpc_call_fail(closure_data, rv, "wallet %.200s not in the graph",
			              input->wallet);
		else
			rpc_call_fail(closure_data, rv, "%s",
			              err[0] != '\0' ? err : amlrisk_strerror(rv));
		goto out;
	}
	resp.center = (char *)input->wallet;
	resp.run_id = run != NULL ? srv_run_summary(run)->id : 0;
	graph_fill(&a, n, run, res != NULL, &resp);
	if (srv_arena_failed(&a))
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "wallet graph: out of memory");
	else
		closure(&resp, closure_data);
out:
	core_neigh_destroy(n);
	core_graph_unref(g);
	srv_run_unref(run);
	srv_arena_free(&a);
}
