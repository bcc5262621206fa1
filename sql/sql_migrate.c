/* sql_migrate.c - the migrator. Concurrent migrators (compose's one-shot
 * service and a developer) serialise on an advisory lock. */
#include "sql_migrate.h"

#include <stdio.h>
#include <stdlib.h>

#include "amlrisk_err.h"
#include "sql_migrations.h"

#define MIGRATE_LOCK "727000"

static int
exec_ok(PGconn *conn, const char *sql, ExecStatusType want, char *err, size_t errlen,
        const char *what)
{
	PGresult *r = PQexec(conn, sql);
	int ok = r != NULL && PQresultStatus(r) == want;
	if (!ok)
		snprintf(err, errlen, "%s: %s", what, PQerrorMessage(conn));
	PQclear(r);
	return ok ? AMLRISK_OK : AMLRISK_EDB;
}

static int
is_applied(PGconn *conn, int version, int *yes, char *err, size_t errlen)
{
	char v[16];
	const char *params[1] = { v };
	snprintf(v, sizeof(v), "%d", version);
	PGresult *r = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
	                           NULL, params, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading schema_migrations: %s", PQerrorMessage(conn));
		PQclear(r);
		return AMLRISK_EDB;
	}
	*yes = PQntuples(r) > 0;
	PQclear(r);
	return AMLRISK_OK;
}

static int
apply_one(PGconn *conn, const sql_migration *m, char *err, size_t errlen)
{
	char v[16];
	const char *params[2] = { v, m->name };
	int rv;
	snprintf(v, sizeof(v), "%d", m->version);
	if ((rv = exec_ok(conn, "BEGIN", PGRES_COMMAND_OK, err, errlen, m->name)) != 0)
		return rv;
	PGresult *r = PQexec(conn, m->text);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "migration %s failed: %s", m->name, PQerrorMessage(conn));
		rv = AMLRISK_EDB;
		goto out;
	}
	PQclear(r);
	r = PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
	                 NULL, params, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "recording %s: %s", m->name, PQerrorMessage(conn));
		rv = AMLRISK_EDB;
		goto out;
	}
	rv = exec_ok(conn, "COMMIT", PGRES_COMMAND_OK, err, errlen, m->name);
out:
	PQclear(r);
	if (rv != AMLRISK_OK) {
		PGresult *rb = PQexec(conn, "ROLLBACK");
		PQclear(rb);
	}
	return rv;
}

int
sql_migrate(PGconn *conn, int *applied, char *err, size_t errlen)
{
	int rv, n = 0, locked = 0;
	if ((rv = exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", PGRES_TUPLES_OK, err,
	                  errlen, "taking the migration lock")) != 0)
		return rv;
	locked = 1;
	PGresult *r = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NULL");
	int missing = r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	              PQgetvalue(r, 0, 0)[0] == 't';
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading the catalog: %s", PQerrorMessage(conn));
		rv = AMLRISK_EDB;
	}
	PQclear(r);
	if (rv != AMLRISK_OK)
		goto out;
	if (missing &&
	    (rv = exec_ok(conn,
	                  "CREATE TABLE schema_migrations ("
	                  " version integer PRIMARY KEY, name text NOT NULL,"
	                  " applied_at timestamptz NOT NULL DEFAULT now())",
	                  PGRES_COMMAND_OK, err, errlen, "creating schema_migrations")) != 0)
		goto out;
	for (int i = 0; i < sql_migrations_count; i++) {
		int yes = 0;
		if ((rv = is_applied(conn, sql_migrations[i].version, &yes, err, errlen)) != 0)
			goto out;
		if (yes)
			continue;
		if ((rv = apply_one(conn, &sql_migrations[i], err, errlen)) != 0)
			goto out;
		n++;
	}
	if (applied != NULL)
		*applied = n;
out:
	if (locked) {
		PGresult *r = PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
		PQclear(r);
	}
	return rv;
}

int
sql_migrate_latest(void)
{
	return sql_migrations_count > 0 ? sql_migrations[sql_migrations_count - 1].version : 0;
}
