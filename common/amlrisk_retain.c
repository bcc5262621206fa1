/* amlrisk_retain.c - run retention shared by amlctl and the core (see the
 * header): strict parsing of the policy, one candidate query, and each
 * candidate through risk_runs_prune() in its own statement. */
#include "amlrisk_retain.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_pg.h"

#define RETAIN_VALUE_MAX 1000000000LL

int
amlrisk_retain_parse_keep(const char *s, int64_t *out)
{
	uint64_t v;

	if (amlrisk_parse_u64(&v, s, 0, RETAIN_VALUE_MAX) != AMLRISK_OK)
		return AMLRISK_EINVAL;
	*out = (int64_t)v;
	return AMLRISK_OK;
}

int
amlrisk_retain_parse_duration(const char *s, char *out, size_t outlen)
{
	static const struct {
		char suffix;
		const char *unit;
	} UNITS[] = {{'d', "days"}, {'h', "hours"}, {'m', "minutes"}, {'s', "seconds"}};
	char digits[16];
	size_t n = s != NULL ? strlen(s) : 0;
	uint64_t v;

	if (n < 2 || n - 1 >= sizeof(digits))
		return AMLRISK_EINVAL;
	memcpy(digits, s, n - 1);
	digits[n - 1] = '\0';
	if (amlrisk_parse_u64(&v, digits, 1, RETAIN_VALUE_MAX) != AMLRISK_OK)
		return AMLRISK_EINVAL;
	for (size_t i = 0; i < sizeof(UNITS) / sizeof(UNITS[0]); i++) {
		char text[AMLRISK_RETAIN_INTERVAL_MAX];
		int w;
		if (s[n - 1] != UNITS[i].suffix)
			continue;
		w = snprintf(text, sizeof(text), "%" PRIu64 " %s", v, UNITS[i].unit);
		if (w <= 0 || (size_t)w >= outlen)
			return AMLRISK_EINVAL;
		memcpy(out, text, (size_t)w + 1);
		return AMLRISK_OK;
	}
	return AMLRISK_EINVAL;
}

int
amlrisk_retain_active(const amlrisk_retain *p)
{
	return p != NULL && (p->keep >= 0 || p->older_than[0] != '\0');
}

int
amlrisk_retain_prune(PGconn *c, const amlrisk_retain *p, amlrisk_retain_fn fn, void *arg,
                     int *pruned, char *err, size_t errlen)
{
	char keep[24], id[24];
	const char *cp[2] = {NULL, p->older_than[0] != '\0' ? p->older_than : NULL};
	PGresult *cand = NULL, *r = NULL;
	int rv = AMLRISK_OK, dropped = 0;

	if (p->keep >= 0) {
		snprintf(keep, sizeof(keep), "%" PRId64, p->keep);
		cp[0] = keep;
	}
	/* candidates: beyond the newest keep runs and created before older_than */
	cand = PQexecParams(c,
	                    "SELECT id FROM scoring_runs"
	                    " WHERE ($1::bigint IS NULL OR id NOT IN"
	                    "  (SELECT id FROM scoring_runs ORDER BY id DESC LIMIT $1::bigint))"
	                    " AND ($2::interval IS NULL OR created_at < now() - $2::interval)"
	                    " ORDER BY id",
	                    2, NULL, cp, NULL, NULL, 0);
	if (PQresultStatus(cand) != PGRES_TUPLES_OK) {
		amlrisk_pg_oneline(err, errlen, "prune: candidate runs", PQerrorMessage(c));
		rv = AMLRISK_EDB;
		goto out;
	}
	for (int i = 0; i < PQntuples(cand); i++) {
		const char *rp[1] = {id};
		int64_t run_id = strtoll(PQgetvalue(cand, i, 0), NULL, 10);

		snprintf(id, sizeof(id), "%" PRId64, run_id);
		r = PQexecParams(c, "SELECT risk_runs_prune($1::bigint)", 1, NULL, rp, NULL, NULL,
		                 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			char what[48];
			snprintf(what, sizeof(what), "prune: run %" PRId64, run_id);
			amlrisk_pg_oneline(err, errlen, what, PQerrorMessage(c));
			rv = AMLRISK_EDB;
			goto out;
		}
		if (PQgetisnull(r, 0, 0))
			dropped++;
		if (fn != NULL)
			fn(arg, run_id, PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0));
		PQclear(r);
		r = NULL;
	}
out:
	if (pruned != NULL)
		*pruned = dropped;
	PQclear(r);
	PQclear(cand);
	return rv;
}
