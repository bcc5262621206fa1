/* srv_dist.c - ScoreDistribution: the latest run's scores counted from memory
 * (one pass over its rows), an older run's streamed with a binary COPY of its
 * two columns (8 + 1 bytes a row, no number parsing), both through
 * srv_dist_add. The largest finite score comes first: the top row in memory,
 * the first entry of the risk_scores_top index below infinity in SQL. */
#include "srv_dist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "rpc.h"
#include "srv_arena.h"
#include "srv_ctx.h"
#include "srv_runs.h"

void
srv_dist_init(srv_dist *d, uint32_t bins, double max, uint64_t *counts)
{
	memset(d, 0, sizeof(*d));
	memset(counts, 0, (size_t)bins * sizeof(*counts));
	d->bins = bins;
	d->max = max > 0 && isfinite(max) ? max : 0;
	d->width = d->max / bins;
	d->counts = counts;
}

void
srv_dist_add(srv_dist *d, double score, bool illicit)
{
	double b;

	d->wallets++;
	d->illicit += illicit;
	if (!isfinite(score)) {
		d->nonfinite++;
		return;
	}
	d->zero += score == 0;
	b = d->width > 0 && score > 0 ? floor(score / d->width) : 0;
	d->counts[b >= d->bins ? d->bins - 1 : (uint32_t)b]++;
}

typedef struct dist_arg {
	srv_arena *a;
	int64_t id;
	const char *model;
	srv_dist *d;
	uint32_t bins;
	char *err;
	size_t errlen;
} dist_arg;

/* risk_score float8, is_illicit bool */
static int
dist_row(void *arg, const srv_copy_field *f, int n)
{
	dist_arg *x = arg;

	if (n != 2 || f[0].len != 8 || f[1].len != 1) {
		snprintf(x->err, x->errlen, "distribution: unexpected row shape");
		return AMLRISK_EPROTO;
	}
	srv_dist_add(x->d, srv_copy_f64(f[0].data), f[1].data[0] != 0);
	return AMLRISK_OK;
}

static int
db_dist(PGconn *c, void *arg, char *err, size_t errlen)
{
	dist_arg *x = arg;
	char v[24];
	const char *p[1] = {v};
	PGresult *r = NULL;
	double max = 0;
	int rv;

	x->err = err;
	x->errlen = errlen;
	if ((rv = srv_runs_completed(c, x->id, x->a, NULL, &x->model, err, errlen)) != 0)
		return rv;
	snprintf(v, sizeof(v), "%lld", (long long)x->id);
	if ((rv = srv_db_exec(c,
	                      "SELECT risk_score FROM risk_scores WHERE run_id = $1"
	                      " AND risk_score < 'Infinity'::float8"
	                      " ORDER BY risk_score DESC LIMIT 1",
	                      1, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	if (PQntuples(r) > 0)
		max = strtod(PQgetvalue(r, 0, 0), NULL);
	PQclear(r);
	srv_dist_init(x->d, x->bins, max, x->d->counts);
	/* the run id goes in as a setting: COPY takes no parameters */
	if ((rv = srv_db_exec(c, "BEGIN READ ONLY", 0, NULL, PGRES_COMMAND_OK, NULL, err,
	                      errlen)) ||
	    (rv = srv_db_exec(c, "SELECT set_config('amlrisk.run_id', $1, true)", 1, p,
	                      PGRES_TUPLES_OK, NULL, err, errlen)) ||
	    (rv = srv_db_copy_out(c,
	                          "COPY (SELECT risk_score, is_illicit FROM risk_scores WHERE"
	                          " run_id = current_setting('amlrisk.run_id')::bigint)"
	                          " TO STDOUT (FORMAT binary)",
	                          dist_row, x, NULL, err, errlen)) ||
	    (rv = srv_db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)))
		srv_db_rollback(c);
	return rv;
}

/* Counts the rows of run (the latest, in memory) into d. */
static void
dist_memory(const srv_run *run, uint32_t bins, srv_dist *d)
{
	uint32_t n = srv_run_count(run), first = 0;
	core_wallet_score ws;

	/* the top order is by score: the first finite one is the largest */
	for (; first < n; first++) {
		srv_run_at(run, first, &ws);
		if (isfinite(ws.risk_score))
			break;
	}
	srv_dist_init(d, bins, first < n ? ws.risk_score : 0, d->counts);
	for (uint32_t i = 0; i < n; i++) {
		srv_run_at(run, i, &ws);
		srv_dist_add(d, ws.risk_score, ws.is_illicit);
	}
}

SRV_HANDLER(score_distribution, ScoreDistributionRequest, ScoreDistributionResponse)
{
	srv_ctx *ctx = (srv_ctx *)service;
	Aml__V1__ScoreDistributionResponse resp = AML__V1__SCORE_DISTRIBUTION_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	uint32_t bins = input->bins != 0 ? input->bins : SRV_DIST_BINS_DEFAULT;
	srv_dist d;
	srv_arena a;
	dist_arg x = {.a = &a, .id = input->run_id, .d = &d, .bins = bins};
	bool known;
	srv_run *latest = NULL;
	int rv;

	if (bins > SRV_DIST_BINS_MAX) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "bins: at most %d", SRV_DIST_BINS_MAX);
		return;
	}
	if (input->run_id < 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL,
		              "run_id: must be positive (0 = the latest completed run)");
		return;
	}
	srv_arena_init(&a, 0);
	if ((d.counts = srv_arena_calloc(&a, bins, sizeof(*d.counts))) == NULL) {
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "distribution: out of memory");
		goto out;
	}
	latest = srv_state_latest(ctx->state, &known);
	if (latest != NULL &&
	    (input->run_id == 0 || srv_run_summary(latest)->id == input->run_id)) {
		x.id = srv_run_summary(latest)->id;
		x.model = core_model_name(srv_run_config(latest)->model);
		dist_memory(latest, bins, &d);
	} else if (input->run_id == 0) {
		rpc_call_fail(closure_data, known ? AMLRISK_ESTATE : AMLRISK_EUNAVAIL, "%s",
		              known ? "no completed run yet: run RunScore first"
		                    : "the latest run is not loaded yet");
		goto out;
	} else if ((rv = srv_with_db(ctx, closure_data, db_dist, &x, err, sizeof(err))) != 0) {
		rpc_call_fail(closure_data, rv, "%s", err);
		goto out;
	}
	resp.run_id = x.id;
	resp.model = (char *)x.model;
	resp.wallets = d.wallets;
	resp.zero = d.zero;
	resp.illicit = d.illicit;
	resp.nonfinite = d.nonfinite;
	resp.max = d.max;
	resp.width = d.width;
	resp.counts = d.counts;
	resp.n_counts = d.bins;
	closure(&resp, closure_data);
out:
	srv_run_unref(latest);
	srv_arena_free(&a);
}
