/* migrate_main.c - amlrisk-migrate: brings the database at DATABASE_URL (or
 * --database-url) to the newest schema. Safe to run any number of times. */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_pg.h"
#include "sql_migrate.h"

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: amlrisk-migrate [--database-url URL] [--help]\n"
	        "\n"
	        "Applies the schema migrations this build carries (newest version %d)\n"
	        "that the database lacks, each in its own transaction, and records them in\n"
	        "schema_migrations. Re-running is a no-op.\n"
	        "\n"
	        "  --database-url URL  libpq connection string (default: $DATABASE_URL)\n"
	        "  --help              this text\n"
	        "\n"
	        "environment: DATABASE_URL, LOG_LEVEL (debug|info|warn|error)\n",
	        sql_migrate_latest());
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"database-url", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *url = getenv("DATABASE_URL");
	int c;
	amlrisk_log_init(-1);
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			url = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "amlrisk-migrate: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (url == NULL || *url == '\0') {
		fprintf(stderr,
		        "amlrisk-migrate: no database: set DATABASE_URL or --database-url\n");
		return 2;
	}
	PGconn *conn = NULL;
	char err[1024];
	if (amlrisk_pg_connect(url, "amlrisk-migrate", &conn, err, sizeof(err)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "migrate", "db.connect_failed", "error=\"%s\"", err);
		return 1;
	}
	int applied = 0, rv = sql_migrate(conn, &applied, err, sizeof(err));
	PQfinish(conn);
	if (rv != AMLRISK_OK) {
		amlrisk_log(AMLRISK_LOG_ERROR, "migrate", "migrate.failed", "error=\"%s\"", err);
		return 1;
	}
	amlrisk_log(AMLRISK_LOG_INFO, "migrate", "migrate.done", "applied=%d version=%d", applied,
	            sql_migrate_latest());
	return 0;
}
