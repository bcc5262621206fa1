/* schema_test.c - the migrations against a real PostgreSQL: they apply to an
 * empty database, re-apply as a no-op, roll back whole when one fails, the
 * schema enforces what it promises (unique tx_id, amount >= 0, bytewise ids,
 * a risk_scores row of one model only), and rows stored before 002 read the
 * same after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "sql_migrate.h"
#include "sql_migrations.h"
#include "th.h"

static const char *INSERT_TX =
        "INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\")"
        " VALUES ($1, $2, $3, $4, '2026-01-01T00:00:00Z')";

/* The SQLSTATE of res ("00000" on success) into state; clears res. */
static void
sqlstate(PGresult *res, char state[6])
{
	ExecStatusType st = PQresultStatus(res);
	const char *code = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
	                           ? "00000"
	                           : PQresultErrorField(res, PG_DIAG_SQLSTATE);

	snprintf(state, 6, "%s", code ? code : "?????");
	PQclear(res);
}

/* Inserts one row; returns the SQLSTATE ("00000" on success) in state. */
static void
insert_tx(PGconn *c, const char *id, const char *s, const char *r, const char *amount,
          char state[6])
{
	const char *p[4] = {id, s, r, amount};

	sqlstate(PQexecParams(c, INSERT_TX, 4, NULL, p, NULL, NULL, 0), state);
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
	int64_t tables =
	        th_db_int(c, "SELECT count(*) FROM pg_tables WHERE schemaname='public' AND "
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
	assert_int_equal(
	        th_db_int(c, "SELECT count(*) FROM pg_tables WHERE tablename='transactions'"), 0);
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

/* Runs sql; returns the SQLSTATE ("00000" on success) in state. */
static void
exec_state(PGconn *c, const char *sql, char state[6])
{
	sqlstate(PQexec(c, sql), state);
}

/* A database at 001 with a stored hop run, then 002: the old rows read the
 * same, flow rows store their exposures and per-hop shares, and a row that
 * mixes the two models' columns, or lacks its model's, is refused. */
static void
test_002_flow_scores(void **st)
{
	(void)st;
	char url[1024], err[512], state[6];
	int applied = -1;
	th_db_create(url, sizeof(url), 0);
	PGconn *c = th_db_connect(url);
	assert_true(sql_migrations_count >= 2);
	assert_int_equal(sql_migrations[0].version, 1);
	assert_int_equal(sql_migrations[1].version, 2);
	/* the schema as a 001-era deployment has it, with one stored hop run */
	exec_state(c, sql_migrations[0].text, state);
	assert_string_equal(state, "00000");
	exec_state(c,
	           "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text"
	           " NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
	           " INSERT INTO schema_migrations (version, name) VALUES (1, '001_schema.sql');"
	           " INSERT INTO scoring_runs (model, config_json, tx_source, watermark, status)"
	           " VALUES ('hop_exposure/v1', '{\"model\":\"hop_exposure/v1\"}', '{}', 6,"
	           " 'completed');"
	           " INSERT INTO risk_scores (run_id, wallet, risk_score, exposures,"
	           " exposures_json, in_degree, out_degree, is_illicit) VALUES"
	           " (1, 'A', 1.0969655114602888, 3,"
	           " '[{\"hop\":0,\"weight\":1,\"illicit_count\":1}]', 1, 2, true)",
	           state);
	assert_string_equal(state, "00000");
	assert_int_equal(sql_migrate(c, &applied, err, sizeof(err)), AMLRISK_OK);
	assert_int_equal(applied, sql_migrations_count - 1);
	/* the old row, unchanged, and NULL in the flow columns */
	PGresult *r = PQexec(c, "SELECT risk_score::text, exposures, exposures_json::text,"
	                        " received_exposure IS NULL AND sent_exposure IS NULL AND"
	                        " received_hops IS NULL AND sent_hops IS NULL"
	                        " FROM risk_scores WHERE run_id = 1 AND wallet = 'A'");
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), "1.0969655114602888");
	assert_string_equal(PQgetvalue(r, 0, 1), "3");
	assert_string_equal(PQgetvalue(r, 0, 2), "[{\"hop\":0,\"weight\":1,\"illicit_count\":1}]");
	assert_string_equal(PQgetvalue(r, 0, 3), "t");
	PQclear(r);
	/* a flow run's row */
	exec_state(c,
	           "INSERT INTO scoring_runs (model, config_json, tx_source, watermark)"
	           " VALUES ('flow_exposure/v1', '{}', '{}', 6)",
	           state);
	assert_string_equal(state, "00000");
	exec_state(c,
	           "INSERT INTO risk_scores (run_id, wallet, risk_score, received_exposure,"
	           " sent_exposure, received_hops, sent_hops, in_degree, out_degree, is_illicit)"
	           " VALUES (2, 'A', 0.5, 0.25, 0.25, '{0.125,0.25}', '{0,0.25}', 1, 0, false)",
	           state);
	assert_string_equal(state, "00000");
	r = PQexec(c, "SELECT received_hops[2], sent_hops::text, exposures IS NULL"
	              " FROM risk_scores WHERE run_id = 2");
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), "0.25");
	assert_string_equal(PQgetvalue(r, 0, 1), "{0,0.25}");
	assert_string_equal(PQgetvalue(r, 0, 2), "t");
	PQclear(r);
	/* one model's columns per row, each complete */
	static const char *const BAD[] = {
	        /* hop columns and flow columns together */
	        "(2, 'B', 0, 0, '[]', 0.1, 0.1, '{0.1}', '{0.1}', 0, 0, false)",
	        /* neither */
	        "(2, 'B', 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, false)",
	        /* flow without its per-hop shares */
	        "(2, 'B', 0, NULL, NULL, 0.1, 0.1, NULL, NULL, 0, 0, false)",
	        /* per-hop arrays of different lengths */
	        "(2, 'B', 0, NULL, NULL, 0.1, 0.1, '{0.1}', '{0.1,0.2}', 0, 0, false)",
	        /* a NULL share */
	        "(2, 'B', 0, NULL, NULL, 0.1, 0.1, '{NULL}', '{0.1}', 0, 0, false)",
	        /* hop without exposures_json */
	        "(1, 'B', 0, 1, NULL, NULL, NULL, NULL, NULL, 0, 0, false)",
	};
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		char sql[512];
		snprintf(sql, sizeof(sql),
		         "INSERT INTO risk_scores (run_id, wallet, risk_score, exposures,"
		         " exposures_json, received_exposure, sent_exposure, received_hops,"
		         " sent_hops, in_degree, out_degree, is_illicit) VALUES %s",
		         BAD[i]);
		exec_state(c, sql, state);
		if (strcmp(state, "23514") != 0)
			fail_msg("row %zu: SQLSTATE %s, want 23514 (check_violation)", i, state);
	}
	/* re-applying is a no-op */
	assert_int_equal(sql_migrate(c, &applied, err, sizeof(err)), AMLRISK_OK);
	assert_int_equal(applied, 0);
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
	        cmocka_unit_test(test_002_flow_scores),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
