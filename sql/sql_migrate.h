/* sql_migrate.h - applies the embedded migrations that a database lacks, each in
 * its own transaction, recording versions in schema_migrations. Re-running is a
 * no-op; a failing migration leaves the database as it was before it. */
#ifndef SQL_MIGRATE_H
#define SQL_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* Migrates the database behind conn (borrowed). On success returns AMLRISK_OK
 * and the number of migrations applied now in *applied (may be NULL). On failure
 * returns AMLRISK_EDB with the failing migration and the server's message in err. */
int sql_migrate(PGconn *conn, int *applied, char *err, size_t errlen);

/* The newest migration version this build knows. */
int sql_migrate_latest(void);

#endif
