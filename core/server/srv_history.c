/* srv_history.c - WalletHistory: one wallet's row in each completed run,
 * newest first, for the console's score-over-time chart. One statement: a
 * page of runs from the scoring_runs_completed index, each joined to the
 * wallet's row by risk_scores' primary key, so the cost is the page size
 * whatever the runs' sizes. */
#include "srv_ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "rpc.h"
#include "srv_arena.h"
#include "srv_msg.h"
#include "srv_runs.h"

typedef struct history_arg {
	srv_arena *a;
	const char *wallet;
	int64_t before;
	uint32_t limit;
	Aml__V1__WalletHistoryResponse *resp;
} history_arg;

/* Entry i of the answer from row i of r (score columns, then the summary's). */
static int
history_entry(const PGresult *r, int i, srv_arena *a, Aml__V1__WalletHistoryEntry *e, char *err,
              size_t errlen)
{
	srv_summary sum;
	srv_score_row row;
	int rv;

	if ((rv = srv_runs_summary_row(r, i, SRV_RUNS_SCORE_NCOLS, a, &sum)) != AMLRISK_OK ||
	    (e->run = srv_msg_run(a, &sum)) == NULL) {
		snprintf(err, errlen, "wallet history: out of memory");
		return AMLRISK_ENOMEM;
	}
	if (PQgetisnull(r, i, 0))
		return AMLRISK_OK; /* the wallet is not in this run */
	if ((rv = srv_runs_score_row(r, i, 0, a, &row, err, errlen)) != AMLRISK_OK)
		return rv;
	if ((e->score = srv_msg_wallet(a, &row.ws, row.weights)) == NULL) {
		snprintf(err, errlen, "wallet history: out of memory");
		return AMLRISK_ENOMEM;
	}
	return AMLRISK_OK;
}

static int
db_history(PGconn *c, void *arg, char *err, size_t errlen)
{
	history_arg *h = arg;
	Aml__V1__WalletHistoryResponse *resp = h->resp;
	char v[2][24];
	const char *p[3] = {h->wallet, v[0], v[1]};
	PGresult *r = NULL;
	int rv, rows;

	resp->n_entries = 0; /* srv_with_db may call again on a fresh connection */
	resp->found = 0;
	resp->next_before_run_id = 0;
	snprintf(v[0], sizeof(v[0]), "%lld", (long long)h->before);
	snprintf(v[1], sizeof(v[1]), "%u", h->limit + 1); /* one more: is there a next page? */
	if ((rv = srv_db_exec(c,
	                      "SELECT " SRV_RUNS_SCORE_SQL ", " SRV_RUNS_SUMMARY_SQL
	                      " FROM (SELECT * FROM scoring_runs WHERE status = 'completed'"
	                      "  AND ($2::bigint <= 0 OR id < $2::bigint) ORDER BY id DESC"
	                      "  LIMIT $3) s"
	                      " LEFT JOIN risk_scores ON run_id = s.id AND wallet = $1"
	                      " ORDER BY s.id DESC",
	                      3, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	rows = PQntuples(r);
	if ((uint32_t)rows > h->limit) {
		rows = (int)h->limit;
		resp->next_before_run_id =
		        strtoll(PQgetvalue(r, rows - 1, SRV_RUNS_SCORE_NCOLS), NULL, 10);
	}
	resp->entries = srv_arena_calloc(h->a, (size_t)rows + 1, sizeof(*resp->entries));
	rv = resp->entries != NULL ? AMLRISK_OK : AMLRISK_ENOMEM;
	for (int i = 0; rv == AMLRISK_OK && i < rows; i++) {
		Aml__V1__WalletHistoryEntry *e = srv_arena_alloc(h->a, sizeof(*e));
		if (e == NULL) {
			rv = AMLRISK_ENOMEM;
			break;
		}
		aml__v1__wallet_history_entry__init(e);
		if ((rv = history_entry(r, i, h->a, e, err, errlen)) != AMLRISK_OK)
			break;
		resp->found += e->score != NULL;
		resp->entries[i] = e;
		resp->n_entries = (size_t)i + 1;
	}
	if (rv == AMLRISK_ENOMEM)
		snprintf(err, errlen, "wallet history: out of memory");
	PQclear(r);
	return rv;
}

SRV_HANDLER(wallet_history, WalletHistoryRequest, WalletHistoryResponse)
{
	Aml__V1__WalletHistoryResponse resp = AML__V1__WALLET_HISTORY_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	srv_arena a;
	history_arg h = {.a = &a,
	                 .wallet = input->wallet,
	                 .before = input->before_run_id,
	                 .limit = input->limit != 0 ? input->limit : SRV_HISTORY_DEFAULT,
	                 .resp = &resp};
	int rv;

	if (srv_wallet_check(input->wallet, err, sizeof(err)) != 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "%s", err);
		return;
	}
	if (h.limit > SRV_HISTORY_MAX) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "limit: at most %d", SRV_HISTORY_MAX);
		return;
	}
	if (input->before_run_id < 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "before_run_id: must be positive");
		return;
	}
	srv_arena_init(&a, 0);
	resp.wallet = (char *)input->wallet;
	if ((rv = srv_with_db((srv_ctx *)service, closure_data, db_history, &h, err,
	                      sizeof(err))) != 0)
		rpc_call_fail(closure_data, rv, "%s", err);
	else
		closure(&resp, closure_data);
	srv_arena_free(&a);
}
