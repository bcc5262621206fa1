/* schema_test.c - the migrations against a real PostgreSQL: they apply to an
 * empty database, re-apply as a no-op, roll back whole when one fails, and the
 * schema enforces what it promises (unique tx_id, amount >= 0, bytewise ids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "sql_migrate.h"
#include "th.h"

static const char *INSERT_TX =
    "INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\")"
    " VALUES ($1, $2, $3, $4, '2026-01-01T00:00:00Z')";

/* Inserts one row; returns the SQLSTATE ("00000" on success) in state. */
static void
insert_tx(PGconn *c, const char *id, const char *s, const char *r, const char *amount,
          char state[6])
{
	const char *p[4] = { id, s, r, amount };
	PGresult *res = PQexecParams(c, INSERT_TX, 4, NULL, p, NULL, NULL, 0);
	const char *st = PQresultStatus(res) == PGRES_COMMAND_OK
	                     ? "00000"
	                     : PQresultErrorField(res, PG_DIAG_SQLSTATE);
	snprintf(state, 6, "%s", st ? st : "?????");
	PQclear(res);
}

static void
test_apply_then_noop(void **st)
{
	(void)st;
	char url[1024], err[512];
	int applied = -1;
	th_db_create(url, sizeof(url), 0);
	PGconn *c = th_db_connect(url);
	assert_int_equal(sql_migrate(c, &applied, err, sizeof(err)), AMLRISK_OK);
	assert_true(applied >= 1);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM schema_migrations"), applied);
	assert_int_equal(th_db_int(c, "SELECT max(version) FROM schema_migrations"),
	                 sql_migrate_latest());
	int64_t tables = th_db_int(c, "SELECT count(*) FROM pg_tables WHERE schemaname='public' AND "
	                              "tablename IN ('transactions','scoring_runs','risk_scores',"
	                              "'wallet_labels','ingestion_consumers','ingestion_offsets')");
	assert_int_equal(tables, 6);
	assert_int_equal(sql_migrate(c, &applied, err, sizeof(err)), AMLRISK_OK);
	assert_int_equal(applied, 0);
	PQfinish(c);
	th_db_drop(url);
}

static void
test_failed_migration_rolls_back(void **st)
{
	(void)st;
	char url[1024], err[512];
	th_db_create(url, sizeof(url), 0);
	PGconn *c = th_db_connect(url);
	/* an object in the way makes 001 fail part-way through */
	PQclear(PQexec(c, "CREATE TABLE risk_scores (squatter int)"));
	assert_int_equal(sql_migrate(c, NULL, err, sizeof(err)), AMLRISK_EDB);
	assert_non_null(strstr(err, "001_schema.sql"));
	assert_non_null(strstr(err, "risk_scores"));
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM schema_migrations"), 0);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM pg_tables WHERE tablename='transactions'"),
	                 0);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM information_schema.columns WHERE "
	                              "table_name='risk_scores' AND column_name='squatter'"),
	                 1);
	/* the connection is usable afterwards, and the migration applies once cleared */
	PQclear(PQexec(c, "DROP TABLE risk_scores"));
	assert_int_equal(sql_migrate(c, NULL, err, sizeof(err)), AMLRISK_OK);
	PQfinish(c);
	th_db_drop(url);
}

static void
test_constraints(void **st)
{
	(void)st;
	char url[1024], state[6];
	th_db_create(url, sizeof(url), 1);
	PGconn *c = th_db_connect(url);
	insert_tx(c, "t1", "A", "B", "1.50", state);
	assert_string_equal(state, "00000");
	insert_tx(c, "t1", "C", "D", "2", state); /* duplicate tx_id */
	assert_string_equal(state, "23505");
	insert_tx(c, "t2", "A", "B", "-0.01", state); /* negative amount */
	assert_string_equal(state, "23514");
	insert_tx(c, "t3", "", "B", "1", state); /* empty sender */
	assert_string_equal(state, "23514");
	insert_tx(c, "", "A", "B", "1", state); /* empty tx_id */
	assert_string_equal(state, "23514");
	insert_tx(c, "t4", "A", "B", "12345678901234567890.123456789012345678", state);
	assert_string_equal(state, "00000");
	/* exact decimals, not floats */
	PGresult *r = PQexec(c, "SELECT amount::text FROM transactions WHERE tx_id='t4'");
	assert_string_equal(PQgetvalue(r, 0, 0), "12345678901234567890.123456789012345678");
	PQclear(r);
	/* the ingest sequence increases with insertion */
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM transactions"), 2);
	assert_true(th_db_int(c, "SELECT (max(seq) > min(seq))::int FROM transactions") == 1);
	/* wallet ids order bytewise, as the spec's top N needs */
	insert_tx(c, "t5", "b", "B", "1", state);
	insert_tx(c, "t6", "\xc3\xa9", "a", "1", state);
	r = PQexec(c, "SELECT string_agg(sender, ',' ORDER BY sender) FROM transactions");
	assert_string_equal(PQgetvalue(r, 0, 0), "A,A,b,\xc3\xa9");
	PQclear(r);
	/* scores cascade away with their run; statuses are constrained */
	PQclear(PQexec(c, "INSERT INTO scoring_runs (model, config_json, tx_source, watermark)"
	                  " VALUES ('hop_exposure/v1', '{}', '{}', 0)"));
	PQclear(PQexec(c, "INSERT INTO risk_scores (run_id, wallet, risk_score, exposures,"
	                  " exposures_json, in_degree, out_degree, is_illicit)"
	                  " SELECT id, 'A', 1.0, 1, '[]', 0, 1, true FROM scoring_runs"));
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM risk_scores"), 1);
	r = PQexec(c, "UPDATE scoring_runs SET status = 'bogus'");
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23514");
	PQclear(r);
	PQclear(PQexec(c, "DELETE FROM scoring_runs"));
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM risk_scores"), 0);
	PQfinish(c);
	th_db_drop(url);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_then_noop),
		cmocka_unit_test(test_failed_migration_rolls_back),
		cmocka_unit_test(test_constraints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
