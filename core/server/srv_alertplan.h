/* srv_alertplan.h - internal to srv_alertgen: the generator's state and the
 * plan of one live update (which wallets fire, silently or not, which
 * re-arm, which wait for a later update), computed without changing that
 * state, so a failed transaction leaves it as it was. */
#ifndef SRV_ALERTPLAN_H
#define SRV_ALERTPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core_engine.h"
#include "srv_alertgen.h"
#include "srv_alertset.h"
#include "srv_rules.h"

struct srv_alertgen {
	srv_rules rules; /* per_update_max and state_max set (defaults applied) */
	char *model, *config_json;
	srv_alertset *set[SRV_RULES_MAX]; /* the disarmed wallets of each rule */
	bool established[SRV_RULES_MAX];  /* the rule has seen a live view (its mark row) */
	bool backlog[SRV_RULES_MAX];      /* crossings were deferred: scan cur next time */
	bool loaded;                      /* srv_alertgen_load() done */
	bool reset;                       /* next commit: discard the stored alert_state */
	bool purge;                       /* next commit: drop rules no longer configured */
	core_run_result *last;            /* the last committed live result (own ref) */
	core_graph *ids_graph;            /* the sets' ids are valid on its chain (own ref) */
	srv_alertgen_stats stats;
	long long last_log_ms;
};

typedef struct srv_alertplan_fire {
	int rule;
	uint32_t id; /* in cur */
	double score, prev;
	bool silent;   /* a rule's first view: disarmed without an alert */
	bool deferred; /* over a bound: not written, the rule scans again next time */
	char *wallet;  /* owned copy (kept fires), taken over by the set on apply */
	size_t len;
	uint8_t *payload; /* owned: the packed RiskAlert (kept, not silent) */
	size_t payload_len;
} srv_alertplan_fire;

typedef struct srv_alertplan_rearm {
	size_t index; /* in the rule's set, ascending */
	double score; /* in cur */
} srv_alertplan_rearm;

typedef struct srv_alertplan {
	srv_alertplan_fire *fire;
	size_t nfire, capfire;
	srv_alertplan_rearm *rearm[SRV_RULES_MAX];
	size_t nrearm[SRV_RULES_MAX], caprearm[SRV_RULES_MAX];
	bool establish[SRV_RULES_MAX]; /* write the rule's mark row */
	bool backlog[SRV_RULES_MAX];
	size_t alerts, silent, rearmed, deferred;
	int64_t created_us;
} srv_alertplan;

/* Plans the update of ag to cur (borrowed) at watermark. Refreshes the
 * sets' cached ids when cur is not on their chain (a cache, not state).
 * AMLRISK_OK (free with srv_alertplan_free), AMLRISK_ENOMEM with err. */
int srv_alertplan_make(srv_alertplan *pl, srv_alertgen *ag, const core_run_result *cur,
                       int64_t watermark, char *err, size_t errlen);
void srv_alertplan_free(srv_alertplan *pl);

#endif
