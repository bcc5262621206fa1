/* srv_retain.c - the core's run retention: its settings (variables and
 * flags, checked at start) and the writer's pass after a completed run (the
 * shared prune, amlrisk_retain_prune: risk_runs_prune per run), each run
 * dropped or kept logged, the outcome counted in the core's metrics. */
#include "srv_retain.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "srv_time.h"

#define ERR_MAX 512

int
srv_retain_set_keep(amlrisk_retain *p, const char *name, const char *s)
{
	if (amlrisk_retain_parse_keep(s, &p->keep) != AMLRISK_OK) {
		fprintf(stderr,
		        "amlrisk-core: %s: '%s' is not a count of runs in [0, 1000000000]\n", name,
		        s);
		return -1;
	}
	return 0;
}

int
srv_retain_set_age(amlrisk_retain *p, const char *name, const char *s)
{
	if (amlrisk_retain_parse_duration(s, p->older_than, sizeof(p->older_than)) != AMLRISK_OK) {
		fprintf(stderr,
		        "amlrisk-core: %s: '%s' is not a duration like 7d, 12h, 30m or 45s (a "
		        "positive integer and one unit)\n",
		        name, s);
		return -1;
	}
	return 0;
}

/* A RUN_RETENTION_* variable the core does not know is a typo that would
 * silently leave storage growing: refused. */
static int
check_env_names(void)
{
	extern char **environ;
	static const char *const KNOWN[] = {"RUN_RETENTION_KEEP", "RUN_RETENTION_OLDER_THAN"};
	static const char PREFIX[] = "RUN_RETENTION_";

	for (char **e = environ; e != NULL && *e != NULL; e++) {
		size_t n = strcspn(*e, "=");
		bool known = strncmp(*e, PREFIX, sizeof(PREFIX) - 1) != 0;
		for (size_t i = 0; !known && i < sizeof(KNOWN) / sizeof(KNOWN[0]); i++)
			known = n == strlen(KNOWN[i]) && strncmp(*e, KNOWN[i], n) == 0;
		if (!known) {
			fprintf(stderr,
			        "amlrisk-core: %.*s: unknown retention setting (known: "
			        "RUN_RETENTION_KEEP, RUN_RETENTION_OLDER_THAN)\n",
			        (int)(n < 64 ? n : 64), *e);
			return -1;
		}
	}
	return 0;
}

int
srv_retain_from_env(amlrisk_retain *p)
{
	const char *v;

	if (check_env_names() != 0)
		return -1;
	if ((v = getenv("RUN_RETENTION_KEEP")) != NULL && *v != '\0' &&
	    srv_retain_set_keep(p, "RUN_RETENTION_KEEP", v) != 0)
		return -1;
	if ((v = getenv("RUN_RETENTION_OLDER_THAN")) != NULL && *v != '\0' &&
	    srv_retain_set_age(p, "RUN_RETENTION_OLDER_THAN", v) != 0)
		return -1;
	return 0;
}

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
