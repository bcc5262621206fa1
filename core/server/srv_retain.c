/* srv_retain.c - the writer's retention pass after a completed run: the
 * shared prune (amlrisk_retain_prune, risk_runs_prune per run), each run
 * dropped or kept logged, the outcome counted in the core's metrics. */
#include "srv_retain.h"

#include <inttypes.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "srv_time.h"

#define ERR_MAX 512

void
srv_retain_log_policy(const amlrisk_retain *p)
{
	if (!amlrisk_retain_active(p)) {
		amlrisk_log(AMLRISK_LOG_INFO, "core", "retention.policy", "enabled=0");
		return;
	}
	amlrisk_log(AMLRISK_LOG_INFO, "core", "retention.policy",
	            "enabled=1 keep=%" PRId64 " older_than=\"%s\"", p->keep, p->older_than);
}

/* One candidate: pruned (why NULL) or kept, logged. arg: the count kept. */
static void
report(void *arg, int64_t run_id, const char *why)
{
	int *kept = arg;

	if (why == NULL) {
		amlrisk_log(AMLRISK_LOG_INFO, "core", "run.pruned", "run_id=%" PRId64, run_id);
		return;
	}
	(*kept)++;
	amlrisk_log(AMLRISK_LOG_DEBUG, "core", "run.prune_kept", "run_id=%" PRId64 " reason=\"%s\"",
	            run_id, why);
}

void
srv_retain_apply(const amlrisk_retain *p, PGconn *c, srv_metrics *m)
{
	char err[ERR_MAX] = "";
	int pruned = 0, kept = 0, rv;
	double t0 = srv_mono_s();

	if (!amlrisk_retain_active(p))
		return;
	rv = amlrisk_retain_prune(c, p, report, &kept, &pruned, err, sizeof(err));
	srv_metrics_pruned(m, pruned, rv != AMLRISK_OK);
	if (rv != AMLRISK_OK)
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "retention.failed",
		            "pruned=%d error=\"%s\" effect=\"tried again after the next run\"",
		            pruned, err);
	else if (pruned > 0 || kept > 0)
		amlrisk_log(AMLRISK_LOG_INFO, "core", "retention.applied",
		            "pruned=%d kept=%d seconds=%.3f", pruned, kept, srv_mono_s() - t0);
}
