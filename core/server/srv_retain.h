/* srv_retain.h - the core's automatic run retention (RUN_RETENTION_KEEP,
 * RUN_RETENTION_OLDER_THAN): its settings, checked at start, and the pass the
 * writer thread applies after each completed run, through the same rule as
 * amlctl runs prune (common/amlrisk_retain.h). */
#ifndef SRV_RETAIN_H
#define SRV_RETAIN_H

#include <libpq-fe.h>

#include "amlrisk_retain.h"
#include "srv_metrics.h"

/* The settings, at start: RUN_RETENTION_KEEP and RUN_RETENTION_OLDER_THAN
 * from the environment into p (a RUN_RETENTION_* variable it does not know
 * is refused), and a count or duration given as name (a variable or flag,
 * for the message). 0, or -1 after printing "amlrisk-core: NAME: why" to
 * stderr (p's rule then unchanged). */
int srv_retain_from_env(amlrisk_retain *p);
int srv_retain_set_keep(amlrisk_retain *p, const char *name, const char *s);
int srv_retain_set_age(amlrisk_retain *p, const char *name, const char *s);

/* Logs the policy in force ("retention.policy"), or that there is none. */
void srv_retain_log_policy(const amlrisk_retain *p);

/* Applies p (borrowed; NULL or without a rule: nothing) on c, the writer's
 * connection (borrowed, no transaction open). Each pruned run is logged
 * ("run.pruned") and counted in m (NULL: metrics off); a run kept for being
 * in use is pruned by a later pass. A database error is logged and counted,
 * never fatal: the next completed run tries again. */
void srv_retain_apply(const amlrisk_retain *p, PGconn *c, srv_metrics *m);

#endif
