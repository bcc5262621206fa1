/* srv_runs.h - reading stored runs back: summaries (GetRun, ListRuns, the
 * latest completed run at start-up), the scores of older runs (TopScores and
 * GetWalletScore with a run id, via the risk_scores_top index and the primary
 * key) and the whole latest run as an in-memory table. Handler threads use it
 * with pooled connections; start-up with the writer's. */
#ifndef SRV_RUNS_H
#define SRV_RUNS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core_engine.h"
#include "srv_arena.h"
#include "srv_run.h"

/* One stored wallet score of either model (ws.model); pointers borrow from
 * the arena it was read into. */
typedef struct srv_score_row {
	core_wallet_score ws;
	double weights[CORE_HOPS_MAX + 1]; /* hop: w_0 .. w_K as stored with the counts */
} srv_score_row;

/* A stored run's config: model (scoring_runs.model) gives the defaults the
 * stored JSON (NUL-terminated) is read over. AMLRISK_EPROTO for an unknown
 * model, AMLRISK_EINVAL as core_config_merge(). */
int srv_runs_config(const char *model, const char *json, core_config *out, char *err,
                    size_t errlen);

/* The run's summary (strings in a). AMLRISK_ENOTFOUND, AMLRISK_EDB. */
int srv_runs_get(PGconn *c, int64_t id, srv_arena *a, srv_summary *out, char *err, size_t errlen);
/* The newest completed run's summary, or AMLRISK_ENOTFOUND when none. */
int srv_runs_latest(PGconn *c, srv_arena *a, srv_summary *out, char *err, size_t errlen);
/* Up to limit runs with id < before (0 = from the newest), newest first: *out
 * (in a) holds *n; *next is the cursor of the following page, 0 when none. */
int srv_runs_list(PGconn *c, int64_t before, uint32_t limit, srv_arena *a, srv_summary **out,
                  size_t *n, int64_t *next, char *err, size_t errlen);
/* The labels JSON array stored with run id; *json malloc()ed. */
int srv_runs_labels(PGconn *c, int64_t id, char **json, char *err, size_t errlen);

/* Whether run id is completed: AMLRISK_OK, AMLRISK_ENOTFOUND, AMLRISK_ESTATE
 * (not completed: it has no scores), AMLRISK_EDB, each with err set. On OK
 * *wallets gets its row count and *model its model (in a); either may be NULL. */
int srv_runs_completed(PGconn *c, int64_t id, srv_arena *a, uint64_t *wallets, const char **model,
                       char *err, size_t errlen);
/* n rows of run id in top order from position offset; *total gets the run's
 * wallet count. AMLRISK_ENOTFOUND (no such run), AMLRISK_ESTATE (the run is
 * not completed: no rows are visible), AMLRISK_EDB. */
int srv_runs_top(PGconn *c, int64_t id, uint32_t offset, uint32_t n, srv_arena *a,
                 srv_score_row **rows, size_t *count, uint64_t *total, char *err, size_t errlen);
/* One wallet of run id. AMLRISK_ENOTFOUND naming the run or the wallet,
 * AMLRISK_ESTATE, AMLRISK_EDB. */
int srv_runs_wallet(PGconn *c, int64_t id, const char *wallet, srv_arena *a, srv_score_row *row,
                    char *err, size_t errlen);

/* The columns of a run summary (of scoring_runs, 15 columns) and of a score
 * row (of risk_scores, 11 columns; a hop row fills exposures and
 * exposures_json, a flow row the last four). No name is in both tables. */
#define SRV_RUNS_SUMMARY_SQL                                                                       \
	"id, status, (extract(epoch FROM created_at) * 1000000)::bigint,"                          \
	" coalesce((extract(epoch FROM completed_at) * 1000000)::bigint, 0), model,"               \
	" config_json::text, tx_source::text, watermark, transaction_count, wallet_count,"         \
	" illicit_count, coalesce(load_ms, 0), coalesce(score_ms, 0), coalesce(store_ms, 0),"      \
	" coalesce(error, ''), pinned"

/* hop rows fill exposures and exposures_json, flow rows the last four */
#define SRV_RUNS_SCORE_SQL                                                                         \
	"wallet, risk_score, exposures, exposures_json, in_degree, out_degree, is_illicit,"        \
	" received_exposure, sent_exposure, received_hops::text, sent_hops::text"
#define SRV_RUNS_SUMMARY_NCOLS 16
#define SRV_RUNS_SCORE_NCOLS   11

/* Row i of r into out: the summary (SRV_RUNS_SUMMARY_SQL) or a score row
 * (SRV_RUNS_SCORE_SQL, either model), read from column b on; strings and
 * per-hop values in a. For queries that select these beside other columns. */
int srv_runs_summary_row(const PGresult *r, int i, int b, srv_arena *a, srv_summary *out);
int srv_runs_score_row(const PGresult *r, int i, int b, srv_arena *a, srv_score_row *out, char *err,
                       size_t errlen);

/* Every row of completed run sum, of either model (read with binary COPY in
 * top order), as a table-backed srv_run with summary sum. *out holds one
 * reference. */
int srv_runs_load(PGconn *c, const srv_summary *sum, const atomic_bool *cancel, srv_run **out,
                  char *err, size_t errlen);

/* Parses an exposures_json array of len bytes ([{"hop":k,"weight":w,
 * "illicit_count":c}, ...], hops in order 0..) into counts and weights (max
 * entries each); *n gets the entry count. 0 or AMLRISK_EPROTO. */
int srv_exposures_parse(const char *json, size_t len, unsigned max, uint32_t *counts,
                        double *weights, unsigned *n);
/* Parses a float8[] in PostgreSQL's text form ({0.5,1e-07}) of len bytes
 * into out (max entries); *n gets the count. 0 or AMLRISK_EPROTO. */
int srv_f64_array_parse(const char *text, size_t len, unsigned max, double *out, unsigned *n);

#endif
