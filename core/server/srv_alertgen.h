/* srv_alertgen.h - the live view's commit step (issue 14): after each live
 * re-scoring, the alerts its rules fire, the per-wallet alert state and the
 * live watermark are written to PostgreSQL in one transaction (risk_alerts,
 * alert_state, live_state), so a restart continues from what is stored and
 * an alert is never lost nor written twice. The relay publishes them. */
#ifndef SRV_ALERTGEN_H
#define SRV_ALERTGEN_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core_engine.h"
#include "srv_rules.h"

typedef struct srv_alertgen srv_alertgen;

/* Creates the generator for rules (copied; n == 0: no alerts, only the live
 * watermark is recorded), the live model name and its effective config JSON
 * (both copied). AMLRISK_OK and *out (srv_alertgen_destroy), AMLRISK_ENOMEM. */
int srv_alertgen_create(srv_alertgen **out, const srv_rules *rules, const char *model,
                        const char *config_json);
/* NULL is a no-op. */
void srv_alertgen_destroy(srv_alertgen *ag);

/* Reads the stored state (live_state's watermark, alert_state) on c, at
 * start-up and after a failed commit. *watermark gets the stored live
 * watermark (-1 when none, or when the stored model/config differ from
 * this generator's: then the stored alert state is discarded at the next
 * commit). AMLRISK_OK, or AMLRISK_EDB with err. */
int srv_alertgen_load(srv_alertgen *ag, PGconn *c, int64_t *watermark, char *err, size_t errlen);

/* One live update, from prev (the previous live result, borrowed; NULL at
 * start-up or after a full reload) to cur (borrowed) at watermark: in one
 * transaction on c, inserts the alerts that fire, updates alert_state and
 * sets live_state to watermark. On AMLRISK_OK *fired (may be NULL) gets the
 * number of alerts written and the in-memory state advances; on error the
 * transaction is rolled back, nothing changes, and the caller retries the
 * same update (with a later cur) once the database is back: AMLRISK_EDB,
 * AMLRISK_ENOMEM, with err. The generator keeps a reference to the last
 * result it committed and compares cur with that one (prev only says what
 * the caller saw), so a retry after a failure never skips an update; when
 * cur's graph was not appended from it (a full reload) the rules scan cur. */
int srv_alertgen_commit(srv_alertgen *ag, PGconn *c, const core_run_result *prev,
                        const core_run_result *cur, int64_t watermark, uint32_t *fired, char *err,
                        size_t errlen);

/* Counters since create (for logs and metrics). */
typedef struct srv_alertgen_stats {
	uint64_t commits;  /* updates committed */
	uint64_t failures; /* updates rolled back */
	uint64_t alerts;   /* alerts written */
	uint64_t baseline; /* wallets disarmed silently by a rule's first view */
	uint64_t rearmed;  /* wallets re-armed */
	uint64_t deferred; /* crossings left for a later update by the bounds */
	size_t disarmed;   /* disarmed (rule, wallet) pairs held now */
} srv_alertgen_stats;

/* Copies the counters into *out; call from the thread that commits. */
void srv_alertgen_stats_get(const srv_alertgen *ag, srv_alertgen_stats *out);

#endif
