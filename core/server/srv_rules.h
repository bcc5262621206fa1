/* srv_rules.h - the risk alert rules of the live view (issue 14): parsed once
 * at start-up from ALERT_RULES ("threshold>=0.5,top<=100") and
 * ALERT_REARM_MARGIN, and the per-wallet hysteresis step: one alert per
 * crossing, re-armed only after the wallet fell back by the margin. */
#ifndef SRV_RULES_H
#define SRV_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_RULES_MAX                 16
#define SRV_RULE_NAME_MAX             64
#define SRV_RULE_TOP_MAX              100000
#define SRV_REARM_MARGIN_DEFAULT      0.05
#define SRV_ALERTS_PER_UPDATE_DEFAULT 100     /* alerts one live update writes */
#define SRV_ALERT_STATE_DEFAULT       1000000 /* disarmed (rule, wallet) pairs kept */

typedef enum srv_rule_kind {
	SRV_RULE_THRESHOLD, /* live score >= threshold */
	SRV_RULE_TOP,       /* live rank <= top */
} srv_rule_kind;

typedef struct srv_rule {
	srv_rule_kind kind;
	double threshold;             /* SRV_RULE_THRESHOLD: finite, > 0 */
	uint32_t top;                 /* SRV_RULE_TOP: 1..SRV_RULE_TOP_MAX */
	char name[SRV_RULE_NAME_MAX]; /* canonical: "threshold>=0.5", "top<=100" */
} srv_rule;

typedef struct srv_rules {
	int n;
	srv_rule rule[SRV_RULES_MAX];
	double margin; /* >= 0: hysteresis (below) */
	/* bounds of the alert generator (srv_alertgen.h); 0 = the defaults above */
	uint32_t per_update_max; /* ALERTS_PER_UPDATE_MAX: alerts written per update */
	uint32_t state_max;      /* ALERT_STATE_MAX: disarmed pairs held, all rules */
} srv_rules;

/* Parses spec (borrowed; comma-separated rules, blanks around items allowed,
 * "" = no rules) into out with margin. AMLRISK_OK, or AMLRISK_EINVAL with
 * err naming the rule and what is wrong (unknown kind, bad number, out of
 * range, duplicate, too many); *out is written only on success. */
int srv_rules_parse(srv_rules *out, const char *spec, double margin, char *err, size_t errlen);

/* Parses a margin: a finite decimal >= 0 and < 1. 0 or AMLRISK_EINVAL. */
int srv_rules_margin_parse(const char *s, double *out);

/* One wallet's step of rule r at a new live view: score and 1-based rank
 * (0 = not ranked). *armed (true for a wallet never seen) is updated.
 * Returns true when the rule fires (it was armed and the wallet crossed).
 * A threshold rule re-arms once score < threshold - margin; a top rule once
 * rank > top + ceil(margin * top) (or the wallet left the ranking). */
bool srv_rule_step(const srv_rule *r, double margin, double score, uint64_t rank, bool *armed);

#endif
