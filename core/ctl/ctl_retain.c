/* ctl_retain.c - amlctl runs prune / pin / unpin: run retention straight on
 * PostgreSQL (like migrate), through the functions of migration 005, which
 * drop a run's risk_scores partition or name why the run must stay. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "amlrisk_pg.h"
#include "ctl.h"

/* "7d", "12h", "30m", "45s" as a PostgreSQL interval text into out; -1 when
 * malformed (no unit, not a positive integer, or out of range). */
static int
parse_duration(const char *s, char *out, size_t outlen)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	const char *unit = NULL;

	if (end == s || errno != 0 || v <= 0 || v > 1000000000LL || s[0] == '+' || s[0] == ' ')
		return -1;
	if (strcmp(end, "d") == 0)
		unit = "days";
	else if (strcmp(end, "h") == 0)
		unit = "hours";
	else if (strcmp(end, "m") == 0)
		unit = "minutes";
	else if (strcmp(end, "s") == 0)
		unit = "seconds";
	else
		return -1;
	snprintf(out, outlen, "%lld %s", v, unit);
	return 0;
}

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
	char *end;
	int rv;

	errno = 0;
	if (strtoll(id, &end, 10) <= 0 || *end != '\0' || errno != 0)
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
		ctl_json_print(json_pack("{s:s,s:b}", "run_id", id, "pinned", pin));
	else
		printf("run %s %s\n", id, pin ? "pinned" : "unpinned");
	PQclear(r);
	PQfinish(c);
	return rv;
}

static int
cmd_prune(const ctl_args *a)
{
	char older[64] = "", *end;
	const char *p[2];
	PGconn *c = NULL;
	int rv;

	if (a->keep == NULL && a->older_than == NULL)
		return ctl_usage_error("runs prune: give --keep N and/or --older-than DURATION");
	if (a->keep != NULL) {
		errno = 0;
		long long k = strtoll(a->keep, &end, 10);
		if (end == a->keep || *end != '\0' || errno != 0 || k < 0 || a->keep[0] == '+')
			return ctl_usage_error("runs prune: --keep '%s' is not a count >= 0",
			                       a->keep);
	}
	if (a->older_than != NULL && parse_duration(a->older_than, older, sizeof(older)) != 0)
		return ctl_usage_error("runs prune: --older-than '%s' is not a duration like 7d,"
		                       " 12h, 30m or 45s",
		                       a->older_than);
	if ((rv = connect_db(a, &c)) != 0)
		return rv;
	/* candidates: beyond the newest --keep runs and created before --older-than;
	 * risk_runs_prune keeps those that must stay and says why */
	p[0] = a->keep;
	p[1] = a->older_than != NULL ? older : NULL;
	PGresult *r =
	        PQexecParams(c,
	                     "SELECT id, coalesce(risk_runs_prune(id), '') FROM ("
	                     " SELECT id FROM scoring_runs"
	                     " WHERE ($1::bigint IS NULL OR id NOT IN"
	                     "  (SELECT id FROM scoring_runs ORDER BY id DESC LIMIT $1::bigint))"
	                     " AND ($2::interval IS NULL OR created_at < now() - $2::interval)"
	                     " ORDER BY id) c",
	                     2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rv = ctl_fail(a, "UNAVAILABLE", PQerrorMessage(c));
		goto done;
	}
	json_t *arr = a->json ? json_array() : NULL;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, 0), *why = PQgetvalue(r, i, 1);
		if (arr != NULL)
			json_array_append_new(arr, json_pack("{s:s,s:b,s:s?}", "run_id", id,
			                                     "pruned", *why == '\0', "kept_because",
			                                     *why ? why : NULL));
		else if (*why == '\0')
			printf("pruned run %s\n", id);
		else
			printf("kept run %s: %s\n", id, why);
	}
	if (arr != NULL)
		ctl_json_print(json_pack("{s:o}", "runs", arr));
done:
	PQclear(r);
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
