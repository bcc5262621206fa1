/* srv_retain.h - the core's automatic run retention (RUN_RETENTION_KEEP,
 * RUN_RETENTION_OLDER_THAN): applied by the writer thread after each completed
 * run, through the same rule as amlctl runs prune (common/amlrisk_retain.h). */
#ifndef SRV_RETAIN_H
#define SRV_RETAIN_H

#include <libpq-fe.h>

#include "amlrisk_retain.h"
#include "srv_metrics.h"

/* Logs the policy in force ("retention.policy"), or that there is none. */
void srv_retain_log_policy(const amlrisk_retain *p);

/* Applies p (borrowed; NULL or without a rule: nothing) on c, the writer's
 * connection (borrowed, no transaction open). Each pruned run is logged
 * ("run.pruned") and counted in m (NULL: metrics off); a run kept for being
 * in use is pruned by a later pass. A database error is logged and counted,
 * never fatal: the next completed run tries again. */
void srv_retain_apply(const amlrisk_retain *p, PGconn *c, srv_metrics *m);

#endif
