/* sim_label.c - marks the planted sources as illicit in wallet_labels, so the
 * scorer can seed from them: one transaction, one prepared parameterised INSERT
 * per source (thousands at most), ON CONFLICT DO NOTHING so reruns are harmless. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "amlrisk_err.h"
#include "amlrisk_pg.h"

static const char insert_sql[] =
        "INSERT INTO wallet_labels (wallet, label, source) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING";

/* runs a parameterless command; on failure writes what into err */
static int
exec_cmd(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(c, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "%s: %s", what, PQerrorMessage(c));
	PQclear(res);
	return ok ? AMLRISK_OK : AMLRISK_EDB;
}

int
sim_labels_store(const sim_gen *g, const char *conninfo, const char *label, const char *source,
                 uint64_t *inserted, char *err, size_t errlen)
{
	int rv = AMLRISK_EDB;
	uint64_t added = 0;
	const sim_member *m;
	size_t n = sim_gen_members(g, &m);
	PGresult *res = NULL;
	PGconn *c = NULL;
	char msg[256];
	if (amlrisk_pg_connect(conninfo, "amlrisk-sim", &c, msg, sizeof(msg)) != 0) {
		snprintf(err, errlen, "connecting to PostgreSQL: %s", msg);
		goto done;
	}
	if ((rv = exec_cmd(c, "BEGIN", "BEGIN", err, errlen)) != AMLRISK_OK)
		goto done;
	res = PQprepare(c, "", insert_sql, 3, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "preparing the wallet_labels insert: %s", PQerrorMessage(c));
		rv = AMLRISK_EDB;
		goto done;
	}
	PQclear(res);
	res = NULL;
	for (size_t i = 0; i < n; i++) {
		char w[32];
		if (m[i].role != SIM_ROLE_SOURCE)
			continue;
		sim_gen_wallet_name(g, m[i].wallet, w, sizeof(w));
		const char *params[3] = {w, label, source};
		res = PQexecPrepared(c, "", 3, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "inserting into wallet_labels: %s",
			         PQerrorMessage(c));
			rv = AMLRISK_EDB;
			goto done;
		}
		added += strtoull(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		res = NULL;
	}
	if ((rv = exec_cmd(c, "COMMIT", "COMMIT", err, errlen)) != AMLRISK_OK)
		goto done;
	if (inserted != NULL)
		*inserted = added;
done:
	PQclear(res);
	PQfinish(c);
	return rv;
}
