/* core_flow_explain.c - explain of flow_exposure/v1: the wallet's per-hop R_k
 * and S_k. (Contributions of sources are not traced yet: the others line holds
 * the whole score.) */
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_impl.h"

int
core_flow_explain_fill(core_explain *e, const core_run_result *r, uint32_t v,
                       const core_explain_params *params)
{
	unsigned kk = r->cfg.hops;
	(void)params;
	e->flow_hops = kk;
	e->flow_values = malloc(2 * (size_t)kk * sizeof(double));
	if (e->flow_values == NULL)
		return AMLRISK_ENOMEM;
	memcpy(e->flow_values, r->flow + (size_t)v * 2 * kk, 2 * (size_t)kk * sizeof(double));
	e->others = e->score;
	return AMLRISK_OK;
}

unsigned
core_explain_flow_hops(const core_explain *e, const double **received, const double **sent)
{
	*received = e->flow_values;
	*sent = e->flow_values != NULL ? e->flow_values + e->flow_hops : NULL;
	return e->flow_hops;
}

size_t
core_explain_contribs(const core_explain *e, const core_explain_contrib **contribs)
{
	*contribs = e->contribs;
	return e->ncontribs;
}

double
core_explain_others(const core_explain *e)
{
	return e->others;
}

bool
core_explain_capped(const core_explain *e)
{
	return e->capped;
}
