/* amlrisk_retain.h - run retention as amlctl runs prune and the core's
 * automatic policy share it: the policy's settings parsed the same way, the
 * candidate runs chosen by one query, and each pruned through migration 005's
 * risk_runs_prune(), which refuses the latest completed run of a model, a
 * pinned or running run and a run being read. */
#ifndef AMLRISK_RETAIN_H
#define AMLRISK_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define AMLRISK_RETAIN_INTERVAL_MAX 48 /* bytes of a policy's interval text */

/* A retention policy: runs beyond the newest keep (all models, any status)
 * and created more than older_than ago are candidates; both rules given means
 * both must hold. */
typedef struct amlrisk_retain {
	int64_t keep;                                 /* < 0: no count rule */
	char older_than[AMLRISK_RETAIN_INTERVAL_MAX]; /* PostgreSQL interval; "": no age rule */
} amlrisk_retain;

/* A count of runs to keep: decimal digits, 0..1e9, nothing else. Writes *out
 * and returns AMLRISK_OK, else AMLRISK_EINVAL (*out untouched). */
int amlrisk_retain_parse_keep(const char *s, int64_t *out);

/* A duration "7d", "12h", "30m" or "45s" (a positive integer <= 1e9 and one
 * unit) as a PostgreSQL interval text ("7 days") into out; AMLRISK_OK, else
 * AMLRISK_EINVAL (out untouched). */
int amlrisk_retain_parse_duration(const char *s, char *out, size_t outlen);

/* 1 when p has a rule (it would prune something some day), else 0. */
int amlrisk_retain_active(const amlrisk_retain *p);

/* Called once per candidate run, oldest first: run_id, and why it was kept
 * (borrowed, e.g. "pinned", "in use", "latest completed run of M") or NULL
 * when it was pruned. */
typedef void (*amlrisk_retain_fn)(void *arg, int64_t run_id, const char *kept_because);

/* Applies policy p on c (connected, no transaction open): each candidate is
 * pruned in its own statement, so one prune never holds another's locks and
 * an error keeps what was pruned before it. *pruned (may be NULL) counts the
 * runs dropped. AMLRISK_OK, or AMLRISK_EDB with libpq's reason in err. */
int amlrisk_retain_prune(PGconn *c, const amlrisk_retain *p, amlrisk_retain_fn fn, void *arg,
                         int *pruned, char *err, size_t errlen);

#endif
