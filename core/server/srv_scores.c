/* srv_scores.c - TopScores and GetWalletScore. The latest completed run is
 * answered from memory (no database round trip); an explicit older run id is
 * read from risk_scores through its index. TopScores pages (offset) and ranks
 * its rows in another run on request: from memory when that run is the
 * latest, else counted in PostgreSQL (srv_compare.h). view = LIVE reads the
 * live view (issue 14) from memory and names its watermark (LiveInfo). */
#include "srv_ctx.h"

#include <stdio.h>
#include <string.h>

#include "amlrisk_err.h"
#include "rpc.h"
#include "srv_arena.h"
#include "srv_compare.h"
#include "srv_msg.h"
#include "srv_runs.h"

/* The latest run when the call asks for it (run_id 0 or its id), with a new
 * reference; NULL with *rv AMLRISK_OK when an older run is asked for, or NULL
 * with *rv and err set when there is no latest run to give. */
static srv_run *
latest_for(srv_ctx *ctx, int64_t run_id, int *rv, char *err, size_t errlen)
{
	bool known;
	srv_run *latest = srv_state_latest(ctx->state, &known);

	*rv = AMLRISK_OK;
	if (run_id < 0) {
		snprintf(err, errlen, "run_id: must be positive (0 = the latest completed run)");
		*rv = AMLRISK_EINVAL;
	} else if (latest != NULL && (run_id == 0 || srv_run_summary(latest)->id == run_id)) {
		return latest;
	} else if (run_id == 0 && !known) {
		snprintf(err, errlen,
		         "the latest run is not loaded yet (start-up in progress or the"
		         " database unavailable)");
		*rv = AMLRISK_EUNAVAIL;
	} else if (run_id == 0) {
		snprintf(err, errlen, "no completed run yet: run RunScore first");
		*rv = AMLRISK_ESTATE;
	}
	srv_run_unref(latest);
	return NULL;
}

/* The live view for a view = LIVE read (a new reference) with its LiveInfo
 * in *live; NULL with the call answered when the request also names a run
 * (run_args) or there is no live view to read. */
static srv_run *
live_for(srv_ctx *ctx, bool run_args, srv_arena *a, Aml__V1__LiveInfo **live, void *closure_data)
{
	srv_run *run = NULL;

	if (run_args) {
		rpc_call_fail(
		        closure_data, AMLRISK_EINVAL,
		        "view LIVE reads the live view, not a stored run: run_id, known_run_id"
		        " and compare_run_id must be 0 and compare_previous false");
		return NULL;
	}
	if (!ctx->opts->live_on) {
		rpc_call_fail(closure_data, AMLRISK_ESTATE,
		              "live scoring is off: the core runs without LIVE_SCORING_CONFIG"
		              " (--live-scoring-config)");
		return NULL;
	}
	if ((*live = srv_msg_live_state(a, ctx->state, &run)) == NULL) {
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "live view: out of memory");
		srv_run_unref(run);
		return NULL;
	}
	if (run == NULL)
		rpc_call_fail(closure_data, AMLRISK_ESTATE,
		              "the live view is not built yet (start-up in progress or the database"
		              " unavailable); try again shortly");
	return run;
}

typedef struct scores_arg {
	srv_arena *a;
	int64_t id;
	uint32_t offset, n;
	const char *wallet;
	srv_score_row *rows;
	size_t count;
	uint64_t total;
	/* ranks in another run */
	const char *model;    /* the run's (NULL: not known yet), to find the previous one */
	int64_t cmp;          /* the run compared with; 0 until known */
	const char **wallets; /* the rows' wallets */
	uint64_t *ranks, cap;
} scores_arg;

static int
db_top(PGconn *c, void *arg, char *err, size_t errlen)
{
	scores_arg *s = arg;

	return srv_runs_top(c, s->id, s->offset, s->n, s->a, &s->rows, &s->count, &s->total, err,
	                    errlen);
}

/* The run to compare with (when only "the previous" was asked) and the ranks
 * of the wallets in it, counted in the database. */
static int
db_ranks(PGconn *c, void *arg, char *err, size_t errlen)
{
	scores_arg *s = arg;
	int rv;

	/* an empty page of a stored run has no row to tell its model */
	if (s->cmp == 0 && s->model == NULL &&
	    (rv = srv_runs_completed(c, s->id, s->a, NULL, &s->model, err, errlen)) != 0)
		return rv;
	if (s->cmp == 0 &&
	    (rv = srv_compare_previous(c, s->id, s->model, &s->cmp, err, errlen)) != 0)
		return rv;
	if (s->cmp == 0 || s->ranks == NULL)
		return AMLRISK_OK;
	return srv_compare_ranks(c, s->cmp, s->wallets, s->count, s->cap, s->ranks, err, errlen);
}

/* Ranks the rows of resp in the run the request names (compare_run_id, or
 * the previous run of resp's model when compare_previous), filling
 * compare_run_id, compare_ranks and compare_rank_cap. The latest run's ranks
 * are read from memory, an older run's counted in PostgreSQL. 0, or -1 with
 * the call answered. */
static int
top_compare(srv_ctx *ctx, const Aml__V1__TopScoresRequest *in, const char *model, srv_arena *a,
            Aml__V1__TopScoresResponse *resp, void *closure_data)
{
	char err[SRV_ERR_MAX] = "";
	scores_arg s = {.a = a,
	                .id = resp->run_id,
	                .model = model,
	                .cmp = in->compare_run_id,
	                .count = resp->n_scores};
	srv_run *latest = NULL;
	int rv = AMLRISK_OK;

	if (in->compare_run_id == 0 && !in->compare_previous)
		return 0;
	if (in->compare_run_id < 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "compare_run_id: must be positive");
		return -1;
	}
	s.wallets = srv_arena_calloc(a, s.count + 1, sizeof(*s.wallets));
	s.ranks = srv_arena_calloc(a, s.count + 1, sizeof(*s.ranks));
	if (s.wallets == NULL || s.ranks == NULL) {
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "top scores: out of memory");
		return -1;
	}
	for (size_t i = 0; i < s.count; i++)
		s.wallets[i] = resp->scores[i]->wallet;
	s.cap = srv_compare_cap(s.count);
	latest = srv_state_latest(ctx->state, NULL);
	if (s.cmp != 0 && latest != NULL && srv_run_summary(latest)->id == s.cmp) {
		for (size_t i = 0; i < s.count; i++) {
			uint32_t rank;
			s.ranks[i] = srv_run_rank(latest, s.wallets[i], strlen(s.wallets[i]),
			                          &rank) == AMLRISK_OK
			                     ? (uint64_t)rank + 1
			                     : 0;
		}
		if (srv_run_count(latest) > s.cap)
			s.cap = srv_run_count(latest); /* every rank exact */
	} else {
		rv = srv_with_db(ctx, closure_data, db_ranks, &s, err, sizeof(err));
	}
	srv_run_unref(latest);
	if (rv != AMLRISK_OK) {
		rpc_call_fail(closure_data, rv, "compare: %s", err);
		return -1;
	}
	resp->compare_run_id = s.cmp;
	if (s.cmp != 0) {
		resp->compare_ranks = s.ranks;
		resp->n_compare_ranks = s.count;
		resp->compare_rank_cap = s.cap;
	}
	return 0;
}

static int
db_wallet(PGconn *c, void *arg, char *err, size_t errlen)
{
	scores_arg *s = arg;

	s->count = 1;
	if ((s->rows = srv_arena_alloc(s->a, sizeof(*s->rows))) == NULL)
		return AMLRISK_ENOMEM;
	return srv_runs_wallet(c, s->id, s->wallet, s->a, s->rows, err, errlen);
}

SRV_HANDLER(top_scores, TopScoresRequest, TopScoresResponse)
{
	srv_ctx *ctx = (srv_ctx *)service;
	Aml__V1__TopScoresResponse resp = AML__V1__TOP_SCORES_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	uint32_t n = input->n != 0 ? input->n : SRV_TOP_DEFAULT;
	const char *model = NULL;
	srv_arena a;
	scores_arg s = {.a = &a, .id = input->run_id, .offset = input->offset};
	srv_run *run;
	int rv = AMLRISK_OK;

	if (n > SRV_TOP_MAX) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "n: at most %d", SRV_TOP_MAX);
		return;
	}
	if (input->offset > SRV_TOP_OFFSET_MAX) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "offset: at most %d",
		              SRV_TOP_OFFSET_MAX);
		return;
	}
	srv_arena_init(&a, 0);
	resp.offset = input->offset;
	if (input->view == AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE) {
		run = live_for(ctx,
		               input->run_id != 0 || input->known_run_id != 0 ||
		                       input->compare_run_id != 0 || input->compare_previous,
		               &a, &resp.live, closure_data);
		if (run == NULL)
			goto out;
	} else {
		run = latest_for(ctx, input->run_id, &rv, err, sizeof(err));
	}
	if (run != NULL) {
		uint32_t count = srv_run_count(run);
		resp.run_id = srv_run_summary(run)->id;
		resp.total = count;
		model = core_model_name(srv_run_config(run)->model);
		if (input->known_run_id != 0 && input->known_run_id == resp.run_id) {
			resp.unchanged = true; /* the caller holds these rows already */
			closure(&resp, closure_data);
			goto out;
		}
		count = input->offset < count ? count - input->offset : 0;
		resp.n_scores = n < count ? n : count;
		resp.scores = srv_arena_calloc(&a, resp.n_scores + 1, sizeof(*resp.scores));
		for (uint32_t i = 0; resp.scores != NULL && i < resp.n_scores; i++) {
			core_wallet_score ws;
			srv_run_at(run, input->offset + i, &ws);
			resp.scores[i] = srv_msg_wallet(&a, &ws, srv_run_config(run)->hop_weights);
		}
	} else if (rv != AMLRISK_OK) {
		rpc_call_fail(closure_data, rv, "%s", err);
		goto out;
	} else {
		s.n = n;
		if ((rv = srv_with_db(ctx, closure_data, db_top, &s, err, sizeof(err))) != 0) {
			rpc_call_fail(closure_data, rv, "%s", err);
			goto out;
		}
		resp.run_id = s.id;
		resp.total = s.total;
		resp.n_scores = s.count;
		resp.scores = srv_arena_calloc(&a, s.count + 1, sizeof(*resp.scores));
		for (size_t i = 0; resp.scores != NULL && i < s.count; i++)
			resp.scores[i] = srv_msg_wallet(&a, &s.rows[i].ws, s.rows[i].weights);
	}
	if (srv_arena_failed(&a)) {
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "top scores: out of memory");
		goto out;
	}
	if (model == NULL && s.count > 0)
		model = core_model_name(s.rows[0].ws.model);
	if (top_compare(ctx, input, model, &a, &resp, closure_data) == 0)
		closure(&resp, closure_data);
out:
	srv_run_unref(run);
	srv_arena_free(&a);
}

SRV_HANDLER(get_wallet_score, GetWalletScoreRequest, GetWalletScoreResponse)
{
	srv_ctx *ctx = (srv_ctx *)service;
	Aml__V1__GetWalletScoreResponse resp = AML__V1__GET_WALLET_SCORE_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	srv_arena a;
	scores_arg s = {.a = &a, .id = input->run_id, .wallet = input->wallet};
	srv_run *run = NULL;
	int rv = AMLRISK_OK;

	if (srv_wallet_check(input->wallet, err, sizeof(err)) != 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "%s", err);
		return;
	}
	srv_arena_init(&a, 0);
	if (input->view == AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE) {
		if ((run = live_for(ctx, input->run_id != 0, &a, &resp.live, closure_data)) == NULL)
			goto out;
	} else {
		run = latest_for(ctx, input->run_id, &rv, err, sizeof(err));
	}
	if (run != NULL) {
		core_wallet_score ws;
		resp.run_id = srv_run_summary(run)->id;
		if (srv_run_find(run, input->wallet, strlen(input->wallet), &ws) != AMLRISK_OK) {
			if (resp.live != NULL)
				rpc_call_fail(closure_data, AMLRISK_ENOTFOUND,
				              "wallet %.200s not in the live view (watermark %lld)",
				              input->wallet, (long long)resp.live->watermark);
			else
				rpc_call_fail(closure_data, AMLRISK_ENOTFOUND,
				              "wallet %.200s not in run %lld", input->wallet,
				              (long long)resp.run_id);
			goto out;
		}
		resp.score = srv_msg_wallet(&a, &ws, srv_run_config(run)->hop_weights);
	} else if (rv != AMLRISK_OK) {
		rpc_call_fail(closure_data, rv, "%s", err);
		goto out;
	} else {
		if ((rv = srv_with_db(ctx, closure_data, db_wallet, &s, err, sizeof(err))) != 0) {
			rpc_call_fail(closure_data, rv, "%s", err);
			goto out;
		}
		resp.run_id = s.id;
		resp.score = srv_msg_wallet(&a, &s.rows[0].ws, s.rows[0].weights);
	}
	if (resp.score == NULL)
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "wallet score: out of memory");
	else
		closure(&resp, closure_data);
out:
	srv_run_unref(run);
	srv_arena_free(&a);
}
