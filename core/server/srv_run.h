/* srv_run.h - a scoring run as the server holds it: its summary (the
 * scoring_runs row) and, for the latest completed run, its per-wallet results
 * in memory, either the engine's result or a table loaded from risk_scores at
 * start-up, of either model. Immutable once built and reference counted, so readers keep
 * using a run while the writer swaps in the next. */
#ifndef SRV_RUN_H
#define SRV_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core_engine.h"

/* The lifecycle of a run (scoring_runs.status); srv_store_transition() is the
 * one place that changes it in the database. */
typedef enum srv_run_status {
	SRV_RUN_RUNNING = 0,
	SRV_RUN_COMPLETED,
	SRV_RUN_FAILED,
} srv_run_status;

const char *srv_run_status_name(srv_run_status s);
/* 0, or -1 for an unknown name. */
int srv_run_status_parse(const char *s, srv_run_status *out);

/* One scoring_runs row. Strings are owned by whoever filled the struct (an
 * arena, or the srv_run holding it); NULL reads as "". */
typedef struct srv_summary {
	int64_t id;
	srv_run_status status;
	int64_t created_us, completed_us; /* Unix microseconds; 0 = none */
	const char *model, *config_json, *tx_source, *labels_json, *error;
	int64_t watermark;
	uint64_t transactions, wallets, illicit;
	double load_s, score_s, store_s;
	bool pinned; /* scoring_runs.pinned: never pruned */
} srv_summary;

typedef struct srv_run srv_run;

/* A run backed by the engine's result res (the run takes its own reference).
 * Copies sum's strings. *out holds one reference. */
int srv_run_from_result(srv_run **out, const srv_summary *sum, core_run_result *res);

/* A run backed by a table filled row by row (srv_run_table_add) in "top N"
 * order, then sealed with srv_run_table_finish(); cfg (copied) gives the
 * model, K and the hop weights. rows_hint presizes. Until finished only the
 * filler may touch it. */
int srv_run_table_create(srv_run **out, const srv_summary *sum, const core_config *cfg,
                         uint64_t rows_hint);
/* Adds the next row, copied from ws (borrowed): wallet, score, degrees,
 * is_illicit and the model's own fields (hop: exposures, counts c_0..c_K;
 * flow: the two exposures, received and sent R_1..R_K, S_1..S_K). AMLRISK_EINVAL
 * for an empty wallet or a row of another model or K, AMLRISK_ENOMEM,
 * AMLRISK_ETOOBIG past CORE_WALLETS_MAX rows. */
int srv_run_table_add(srv_run *r, const core_wallet_score *ws);
/* Indexes the table by wallet. AMLRISK_EPROTO when the rows were not in top
 * order or a wallet repeats, AMLRISK_ENOMEM. */
int srv_run_table_finish(srv_run *r);

srv_run *srv_run_ref(srv_run *r);
/* Drops a reference; the last frees. NULL is a no-op. */
void srv_run_unref(srv_run *r);

/* Borrowed from r. */
const srv_summary *srv_run_summary(const srv_run *r);
const core_config *srv_run_config(const srv_run *r);
/* The engine result, or NULL for a table-backed run. Borrowed from r. */
core_run_result *srv_run_result(const srv_run *r);
uint32_t srv_run_count(const srv_run *r);
/* The wallet's row: AMLRISK_OK or AMLRISK_ENOTFOUND. out borrows from r. */
int srv_run_find(const srv_run *r, const char *wallet, size_t len, core_wallet_score *out);
/* The row at position rank (< count) of the top order. out borrows from r. */
void srv_run_at(const srv_run *r, uint32_t rank, core_wallet_score *out);
/* The wallet's position in the top order (0 = riskiest) into *rank:
 * AMLRISK_OK or AMLRISK_ENOTFOUND. O(1). */
int srv_run_rank(const srv_run *r, const char *wallet, size_t len, uint32_t *rank);

#endif
