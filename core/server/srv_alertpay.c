/* srv_alertpay.c - one risk alert's protobuf payload (srv_alertpay.h). The
 * contributors come from the engine's explain: flow_exposure/v1 lists them
 * largest first already; for hop_exposure/v1 a source's part is its hop's
 * weight / normaliser (alert.proto), sorted largest first, then by hop, then
 * by wallet bytes (the explain's order within a hop). */
#include "srv_alertpay.h"

#include <stdlib.h>
#include <string.h>

#include "aml/v1/alert.pb-c.h"
#include "amlrisk_err.h"

typedef struct contrib {
	uint32_t source;
	const char *side;
	unsigned hops;
	double contribution;
	size_t order; /* the explain's listing order: the last tie-break */
} contrib;

static int
contrib_cmp(const void *a, const void *b)
{
	const contrib *x = a, *y = b;

	if (x->contribution != y->contribution)
		return x->contribution > y->contribution ? -1 : 1;
	if (x->hops != y->hops)
		return x->hops < y->hops ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

/* The hop_exposure/v1 sources of e into k (at most cap), largest first. */
static size_t
hop_contribs(const core_explain *e, contrib *k, size_t cap)
{
	const core_explain_hop *hops;
	const core_explain_source *src;
	size_t nh = core_explain_hops(e, &hops), ns = core_explain_sources(e, &src), n = 0;
	double norm = core_explain_normaliser(e);

	for (size_t i = 0; i < ns && n < cap; i++) {
		double w = 0.0;
		for (size_t h = 0; h < nh; h++)
			if (hops[h].hop == src[i].hop)
				w = hops[h].weight;
		k[n++] = (contrib){.source = src[i].id,
		                   .side = core_direction_name(src[i].direction),
		                   .hops = src[i].hop,
		                   .contribution = norm > 0.0 ? w / norm : 0.0,
		                   .order = i};
	}
	qsort(k, n, sizeof(*k), contrib_cmp);
	return n;
}

/* The flow_exposure/v1 contributors of e into k (at most cap), as listed. */
static size_t
flow_contribs(const core_explain *e, contrib *k, size_t cap)
{
	const core_explain_contrib *c;
	size_t nc = core_explain_contribs(e, &c), n = 0;

	for (size_t i = 0; i < nc && n < cap; i++)
		k[n++] = (contrib){.source = c[i].source,
		                   .side = core_side_name(c[i].side),
		                   .hops = c[i].walk_len,
		                   .contribution = c[i].contribution,
		                   .order = i};
	return n;
}

int
srv_alertpay_build(const core_run_result *cur, const srv_alertpay_in *in, uint8_t **out,
                   size_t *len)
{
	enum { HOP_LISTED = SRV_ALERT_CONTRIBUTORS_MAX * (CORE_HOPS_MAX + 1) };
	const core_config *cfg = core_run_result_config(cur);
	const core_graph *g = core_run_result_graph(cur);
	core_explain_params ep = {.sources_per_hop = SRV_ALERT_CONTRIBUTORS_MAX,
	                          .sources_max = cfg->model == CORE_MODEL_HOP
	                                                 ? HOP_LISTED
	                                                 : SRV_ALERT_CONTRIBUTORS_MAX,
	                          .work_max = SRV_ALERT_EXPLAIN_WORK};
	Aml__V1__RiskAlert a = AML__V1__RISK_ALERT__INIT;
	Aml__V1__AlertContributor kc[SRV_ALERT_CONTRIBUTORS_MAX], *kp[SRV_ALERT_CONTRIBUTORS_MAX];
	contrib k[HOP_LISTED];
	core_wallet_score ws;
	core_explain *e = NULL;
	size_t nk = 0, wlen;
	int rv = AMLRISK_ENOMEM;

	core_run_result_get(cur, in->id, &ws);
	if ((rv = core_explain_build(&e, cur, ws.wallet, ws.wallet_len, &ep)) != AMLRISK_OK)
		return rv;
	rv = AMLRISK_ENOMEM;
	nk = cfg->model == CORE_MODEL_HOP ? hop_contribs(e, k, HOP_LISTED)
	                                  : flow_contribs(e, k, HOP_LISTED);
	if (nk > SRV_ALERT_CONTRIBUTORS_MAX)
		nk = SRV_ALERT_CONTRIBUTORS_MAX;
	for (size_t i = 0; i < nk; i++) {
		aml__v1__alert_contributor__init(&kc[i]);
		kc[i].wallet = (char *)core_graph_wallet(g, k[i].source, &wlen);
		kc[i].side = (char *)k[i].side;
		kc[i].hops = k[i].hops;
		kc[i].contribution = k[i].contribution;
		kp[i] = &kc[i];
	}
	a.wallet = (char *)ws.wallet;
	a.model = (char *)core_model_name(cfg->model);
	a.score = ws.risk_score;
	a.previous_score = in->previous_score;
	a.rule = (char *)in->rule;
	a.watermark = in->watermark;
	a.created_at_us = in->created_at_us;
	a.rank = (uint64_t)core_run_result_rank(cur, in->id) + 1;
	a.n_contributors = nk;
	a.contributors = nk > 0 ? kp : NULL;
	*len = aml__v1__risk_alert__get_packed_size(&a);
	if ((*out = malloc(*len > 0 ? *len : 1)) != NULL) {
		aml__v1__risk_alert__pack(&a, *out);
		rv = AMLRISK_OK;
	}
	core_explain_destroy(e);
	return rv;
}
