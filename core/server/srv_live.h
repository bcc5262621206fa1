/* srv_live.h - the live view's update step (issue 14): a full re-scoring of
 * one graph version with the live config and the current labels (so it
 * equals a RunScore of that version exactly), committed through
 * srv_alertgen (alerts, alert state, live watermark in one transaction), and
 * only then handed out as the new live result. Follower thread only. */
#ifndef SRV_LIVE_H
#define SRV_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core_engine.h"
#include "srv_alertgen.h"
#include "srv_rules.h"
#include "srv_run.h"
#include "srv_state.h"

typedef struct srv_live srv_live;

/* cfg (valid; copied) is the live config, rules (copied) its alert rules;
 * threads and labels_max as for RunScore. AMLRISK_OK and *out
 * (srv_live_destroy), AMLRISK_ENOMEM. */
int srv_live_create(srv_live **out, const core_config *cfg, const srv_rules *rules,
                    unsigned threads, size_t labels_max);
/* NULL is a no-op. */
void srv_live_destroy(srv_live *lv);

/* The model name and canonical config JSON (borrowed from lv). */
const char *srv_live_model(const srv_live *lv);
const char *srv_live_config_json(const srv_live *lv);

/* Reads the stored alert state on c (start-up, and after a failed commit
 * before the next): *watermark gets the stored live watermark (-1: none).
 * AMLRISK_OK, AMLRISK_EDB with err. */
int srv_live_load(srv_live *lv, PGconn *c, int64_t *watermark, char *err, size_t errlen);
/* Whether the stored state must be read before the next update. */
bool srv_live_needs_load(const srv_live *lv);

/* true when the last live result is not of version g, or (record) when it
 * was published without being committed (this instance was not the writer). */
bool srv_live_stale(const srv_live *lv, const core_graph *g, bool record);

/* Scores g (borrowed; described by info) with the live config and, when it
 * uses labels, the labels read now on c; when record (this instance is the
 * writer of several cores, or the only one) commits the update on c (a
 * reader publishes its view without writing alerts or the live watermark,
 * and reads the stored state again before it records); on success
 * *out gets a new run (id 0, one reference for the caller) of the result and
 * *fired the alerts written. On failure nothing is published and the last
 * good result stays; a database failure marks the stored state to be read
 * again. AMLRISK_EDB, AMLRISK_ENOMEM, AMLRISK_ETOOBIG (labels) with err. */
int srv_live_update(srv_live *lv, PGconn *c, core_graph *g, const srv_graph_info *info, bool record,
                    srv_run **out, uint32_t *fired, char *err, size_t errlen);

/* The alert generator's counters (srv_alertgen_stats_get). */
void srv_live_alert_stats(const srv_live *lv, srv_alertgen_stats *out);

#endif
