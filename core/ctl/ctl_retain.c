/* ctl_retain.c - amlctl runs prune / pin / unpin: run retention straight on
 * PostgreSQL (like migrate), through the functions of migration 005, which
 * drop a run's risk_scores partition or name why the run must stay. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_pg.h"
#include "amlrisk_retain.h"
#include "ctl.h"

/* Connects to a->database_url into *c; returns 0, or the exit status. */
static int
connect_db(const ctl_args *a, PGconn **c)
{
	char err[512];
	if (a->database_url == NULL || *a->database_url == '\0')
		return ctl_usage_error("runs: set DATABASE_URL or --database-url");
	if (amlrisk_pg_connect(a->database_url, "amlctl", c, err, sizeof(err)) != 0)
		return ctl_fail(a, "UNAVAILABLE", err);
	return 0;
}

static int
cmd_pin(const ctl_args *a, const char *id, bool pin)
{
	PGconn *c = NULL;
	const char *p[2] = {id, pin ? "true" : "false"};
	uint64_t run_id;
	int rv;

	if (amlrisk_parse_u64(&run_id, id, 1, INT64_MAX) != AMLRISK_OK)
		return ctl_usage_error("runs %s: run id '%s' is not a positive integer",
		                       pin ? "pin" : "unpin", id);
	if ((rv = connect_db(a, &c)) != 0)
		return rv;
	PGresult *r = PQexecParams(c,
	                           "UPDATE scoring_runs SET pinned = $2::boolean"
	                           " WHERE id = $1::bigint",
	                           2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rv = ctl_fail(a, "UNAVAILABLE", PQerrorMessage(c));
	else if (strcmp(PQcmdTuples(r), "1") != 0)
		rv = ctl_fail(a, "NOT_FOUND", "no such run");
	else if (a->json)
		ctl_json_print(json_pack("{s:I,s:b}", "run_id", (json_int_t)run_id, "pinned", pin));
	else
		printf("run %s %s\n", id, pin ? "pinned" : "unpinned");
	PQclear(r);
	PQfinish(c);
	return rv;
}

/* One candidate's line, or its element in the --json array arg. */
static void
prune_report(void *arg, int64_t run_id, const char *why)
{
	json_t *arr = arg;

	if (arr != NULL)
		json_array_append_new(arr, json_pack("{s:I,s:b,s:s?}", "run_id", (json_int_t)run_id,
		                                     "pruned", why == NULL, "kept_because", why));
	else if (why == NULL)
		printf("pruned run %" PRId64 "\n", run_id);
	else
		printf("kept run %" PRId64 ": %s\n", run_id, why);
}

static int
cmd_prune(const ctl_args *a)
{
	amlrisk_retain policy = {.keep = -1};
	char err[512];
	PGconn *c = NULL;
	json_t *arr = NULL;
	int rv;

	if (a->keep == NULL && a->older_than == NULL)
		return ctl_usage_error("runs prune: give --keep N and/or --older-than DURATION");
	if (a->keep != NULL && amlrisk_retain_parse_keep(a->keep, &policy.keep) != AMLRISK_OK)
		return ctl_usage_error("runs prune: --keep '%s' is not a count >= 0", a->keep);
	if (a->older_than != NULL &&
	    amlrisk_retain_parse_duration(a->older_than, policy.older_than,
	                                  sizeof(policy.older_than)) != AMLRISK_OK)
		return ctl_usage_error("runs prune: --older-than '%s' is not a duration like 7d,"
		                       " 12h, 30m or 45s",
		                       a->older_than);
	if ((rv = connect_db(a, &c)) != 0)
		return rv;
	arr = a->json ? json_array() : NULL;
	/* risk_runs_prune keeps those that must stay and says why */
	if (amlrisk_retain_prune(c, &policy, prune_report, arr, NULL, err, sizeof(err)) !=
	    AMLRISK_OK)
		rv = ctl_fail(a, "UNAVAILABLE", err);
	else if (arr != NULL)
		ctl_json_print(json_pack("{s:O}", "runs", arr));
	json_decref(arr);
	PQfinish(c);
	return rv;
}

int
ctl_runs_retention(const ctl_args *a)
{
	const char *sub = a->operand[0];

	if (strcmp(sub, "prune") == 0 && a->n_operands == 1)
		return cmd_prune(a);
	if ((strcmp(sub, "pin") == 0 || strcmp(sub, "unpin") == 0) && a->n_operands == 2)
		return cmd_pin(a, a->operand[1], sub[0] == 'p');
	return ctl_usage_error("runs: unknown subcommand or arguments: use runs prune"
	                       " [--keep N] [--older-than D], runs pin ID, runs unpin ID");
}
