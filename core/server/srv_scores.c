/* srv_scores.c - TopScores and GetWalletScore. The latest completed run is
 * answered from memory (no database round trip); an explicit older run id is
 * read from risk_scores through its index. */
#include "srv_ctx.h"

#include <stdio.h>
#include <string.h>

#include "amlrisk_err.h"
#include "rpc.h"
#include "srv_arena.h"
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

typedef struct scores_arg {
	srv_arena *a;
	int64_t id;
	uint32_t n;
	const char *wallet;
	srv_score_row *rows;
	size_t count;
} scores_arg;

static int
db_top(PGconn *c, void *arg, char *err, size_t errlen)
{
	scores_arg *s = arg;

	return srv_runs_top(c, s->id, s->n, s->a, &s->rows, &s->count, err, errlen);
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
	srv_arena a;
	scores_arg s = {.a = &a, .id = input->run_id};
	srv_run *run;
	int rv;

	if (n > SRV_TOP_MAX) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "n: at most %d", SRV_TOP_MAX);
		return;
	}
	srv_arena_init(&a, 0);
	if ((run = latest_for(ctx, input->run_id, &rv, err, sizeof(err))) != NULL) {
		uint32_t count = srv_run_count(run);
		resp.run_id = srv_run_summary(run)->id;
		if (input->known_run_id != 0 && input->known_run_id == resp.run_id) {
			resp.unchanged = true; /* the caller holds these rows already */
			closure(&resp, closure_data);
			goto out;
		}
		resp.n_scores = n < count ? n : count;
		resp.scores = srv_arena_calloc(&a, resp.n_scores + 1, sizeof(*resp.scores));
		for (uint32_t i = 0; resp.scores != NULL && i < resp.n_scores; i++) {
			core_wallet_score ws;
			srv_run_at(run, i, &ws);
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
		resp.n_scores = s.count;
		resp.scores = srv_arena_calloc(&a, s.count + 1, sizeof(*resp.scores));
		for (size_t i = 0; resp.scores != NULL && i < s.count; i++)
			resp.scores[i] = srv_msg_wallet(&a, &s.rows[i].ws, s.rows[i].weights);
	}
	if (srv_arena_failed(&a))
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "top scores: out of memory");
	else
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
	int rv;

	if (srv_wallet_check(input->wallet, err, sizeof(err)) != 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "%s", err);
		return;
	}
	srv_arena_init(&a, 0);
	if ((run = latest_for(ctx, input->run_id, &rv, err, sizeof(err))) != NULL) {
		core_wallet_score ws;
		resp.run_id = srv_run_summary(run)->id;
		if (srv_run_find(run, input->wallet, strlen(input->wallet), &ws) != AMLRISK_OK) {
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
