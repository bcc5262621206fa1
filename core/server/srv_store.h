/* srv_store.h - writing runs: the scoring_runs lifecycle (running -> completed
 * | failed, changed only by srv_store_transition) and the COPY of a run's
 * risk_scores rows, committed together with "completed" so that no reader ever
 * sees a completed run with missing rows. Runs on the writer thread only. */
#ifndef SRV_STORE_H
#define SRV_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core_engine.h"
#include "srv_leader.h"
#include "srv_run.h"

/* Moves a run to state to, the one function that changes scoring_runs.status:
 *  RUNNING:   inserts sum as a new row (model, config_json, tx_source, labels_json,
 *             watermark, counts, load/score seconds); sets sum->id, created_us;
 *  COMPLETED: running -> completed with sum->store_s, on c's open transaction
 *             (the caller commits it with the last risk_scores row); sets completed_us;
 *  FAILED:    running -> failed with error; sum->id 0 = every running run (the
 *             recovery after a crash), *changed (may be NULL) = rows moved.
 * sum->status follows. AMLRISK_EDB; AMLRISK_ESTATE when the run was not running. */
int srv_store_transition(PGconn *c, srv_summary *sum, srv_run_status to, const char *error,
                         int *changed, char *err, size_t errlen);

/* Stores every wallet of res as risk_scores rows of run sum->id with COPY and
 * completes the run in the same transaction. Stops with AMLRISK_ECANCELED when
 * *cancel becomes true. On failure nothing of it is visible (the caller marks
 * the run failed). With fence, the completing transaction commits only if this
 * instance still holds the election lock of the term the run began in
 * (srv_leader_fence: AMLRISK_ESTATE otherwise). Sets sum->store_s and, on success,
 * status/completed_us. AMLRISK_EDB, AMLRISK_ENOMEM, AMLRISK_ECANCELED. */
int srv_store_rows(PGconn *c, srv_summary *sum, const core_run_result *res,
                   const atomic_bool *cancel, const srv_fence *fence, char *err, size_t errlen);

/* The exposures_json text of one wallet into buf: [{"hop":k,"weight":w_k,
 * "illicit_count":c_k},...]. Returns the length, or 0 when buf is too small. */
size_t srv_store_exposures_json(char *buf, size_t buflen, const core_config *cfg,
                                const uint32_t *counts);

#endif
