/* retention_schema_test.c - migration 005 against a real PostgreSQL: runs of
 * both models stored before it read the same from their own partitions, new
 * runs get a partition when stored, and risk_runs_prune drops a run's
 * partition or names why it may not (pinned, running, latest, in use);
 * amlctl runs prune/pin/unpin on it, and its bad options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "sql_migrate.h"
#include "sql_migrations.h"
#include "th.h"

/* Runs sql, which must succeed. */
static void
exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* The text risk_runs_prune(id) returns ("" when pruned). */
static void
prune(PGconn *c, const char *id, char *out, size_t outlen)
{
	const char *p[1] = {id};
	PGresult *r = PQexecParams(c, "SELECT coalesce(risk_runs_prune($1::bigint), '')", 1, NULL,
	                           p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("prune %s: %s", id, PQerrorMessage(c));
	snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

static void
test_005_partitions_and_prune(void **st)
{
	(void)st;
	char url[1024], err[512], why[128];
	int applied = -1;
	th_db_create(url, sizeof(url), 0);
	PGconn *c = th_db_connect(url);
	assert_true(sql_migrations_count >= 4);
	/* the schema as a 003-era deployment has it: runs 1 and 3 of hop, 2 of
	 * flow (all completed), 4 of hop failed, 5 of hop completed */
	exec_ok(c, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text"
	           " NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
	for (int i = 0; i < 3; i++) {
		char sql[128];
		assert_int_equal(sql_migrations[i].version, i + 1);
		exec_ok(c, sql_migrations[i].text);
		snprintf(sql, sizeof(sql),
		         "INSERT INTO schema_migrations (version, name) VALUES (%d, 'old')", i + 1);
		exec_ok(c, sql);
	}
	exec_ok(c, "INSERT INTO scoring_runs (model, config_json, tx_source, watermark, status)"
	           " VALUES ('hop_exposure/v1', '{}', '{}', 1, 'completed'),"
	           " ('flow_exposure/v1', '{}', '{}', 1, 'completed'),"
	           " ('hop_exposure/v1', '{}', '{}', 1, 'completed'),"
	           " ('hop_exposure/v1', '{}', '{}', 1, 'failed'),"
	           " ('hop_exposure/v1', '{}', '{}', 1, 'completed')");
	exec_ok(c, "INSERT INTO risk_scores (run_id, wallet, risk_score, exposures, exposures_json,"
	           " in_degree, out_degree, is_illicit) SELECT r, 'w' || g, g / 10.0, g,"
	           " '[{\"hop\":0,\"weight\":1,\"illicit_count\":1}]', 1, 2, g = 1"
	           " FROM unnest('{1,3,5}'::bigint[]) r, generate_series(1, 10) g");
	exec_ok(c, "INSERT INTO risk_scores (run_id, wallet, risk_score, received_exposure,"
	           " sent_exposure, received_hops, sent_hops, in_degree, out_degree, is_illicit)"
	           " SELECT 2, 'w' || g, 0.5, 0.25, 0.125, '{0.125,0.25}', '{0,0.125}', 1, 0, false"
	           " FROM generate_series(1, 7) g");
	int64_t before = th_db_int(c, "SELECT sum(hashtext(t::text)) FROM risk_scores t");
	assert_int_equal(sql_migrate(c, &applied, err, sizeof(err)), AMLRISK_OK);
	assert_true(applied >= 1);
	/* every old row, unchanged, in its run's partition */
	assert_int_equal(th_db_int(c, "SELECT sum(hashtext(t::text)) FROM risk_scores t"), before);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM risk_scores"), 37);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM risk_scores WHERE tableoid::regclass"
	                              "::text <> 'risk_scores_r' || run_id"),
	                 0);
	assert_int_equal(th_db_int(c,
	                           "SELECT count(*) FROM risk_scores_r2"
	                           " WHERE received_hops = '{0.125,0.25}' AND exposures IS NULL"),
	                 7);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM pg_inherits"
	                              " WHERE inhparent = 'risk_scores'::regclass"),
	                 5);
	/* a new run gets its partition; the one-model check still holds */
	exec_ok(c, "INSERT INTO scoring_runs (model, config_json, tx_source, watermark)"
	           " VALUES ('hop_exposure/v1', '{}', '{}', 1)");
	exec_ok(c, "INSERT INTO risk_scores (run_id, wallet, risk_score, exposures, exposures_json,"
	           " in_degree, out_degree, is_illicit) VALUES (6, 'a', 1, 1, '[]', 0, 0, false)");
	PGresult *r = PQexec(c, "INSERT INTO risk_scores (run_id, wallet, risk_score, in_degree,"
	                        " out_degree, is_illicit) VALUES (6, 'b', 1, 0, 0, false)");
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23514");
	PQclear(r);
	/* a reader's plan touches its run's partition only */
	r = PQexec(c, "EXPLAIN SELECT wallet FROM risk_scores WHERE run_id = 3"
	              " ORDER BY risk_score DESC, wallet LIMIT 5");
	for (int i = 0; i < PQntuples(r); i++) {
		const char *line = PQgetvalue(r, i, 0);
		if (strstr(line, "risk_scores_r") && !strstr(line, "risk_scores_r3"))
			fail_msg("plan reads another partition: %s", line);
	}
	PQclear(r);
	/* refusals name the reason */
	prune(c, "2", why, sizeof(why));
	assert_string_equal(why, "latest completed run of flow_exposure/v1");
	prune(c, "5", why, sizeof(why));
	assert_string_equal(why, "latest completed run of hop_exposure/v1");
	prune(c, "6", why, sizeof(why));
	assert_string_equal(why, "running");
	prune(c, "99", why, sizeof(why));
	assert_string_equal(why, "no such run");
	exec_ok(c, "UPDATE scoring_runs SET pinned = true WHERE id = 1");
	prune(c, "1", why, sizeof(why));
	assert_string_equal(why, "pinned");
	/* a run being read (another session's open transaction read it) */
	PGconn *reader = th_db_connect(url);
	exec_ok(reader, "BEGIN");
	exec_ok(reader, "SELECT count(*) FROM risk_scores WHERE run_id = 3");
	prune(c, "3", why, sizeof(why));
	assert_string_equal(why, "in use");
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM risk_scores WHERE run_id = 3"), 10);
	exec_ok(reader, "COMMIT");
	PQfinish(reader);
	/* pruned: partition and row gone, the rest untouched */
	prune(c, "3", why, sizeof(why));
	assert_string_equal(why, "");
	prune(c, "4", why, sizeof(why));
	assert_string_equal(why, "");
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM pg_class WHERE relname IN"
	                              " ('risk_scores_r3', 'risk_scores_r4')"),
	                 0);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM scoring_runs WHERE id IN (3, 4)"), 0);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM risk_scores"), 28);
	exec_ok(c, "UPDATE scoring_runs SET pinned = false WHERE id = 1");
	prune(c, "1", why, sizeof(why));
	assert_string_equal(why, "");
	PQfinish(c);
	th_db_drop(url);
}

/* Runs amlctl with argv (NULL-terminated) against url; returns its exit
 * status, its output (stdout and stderr) in out. */
static int
amlctl(const char *url, const char *const *argv, char *out, size_t outlen)
{
	char env0[1100], log[] = "/tmp/amlrisk-retention-XXXXXX";
	char *env[] = {env0, NULL};
	int fd = mkstemp(log);
	assert_true(fd >= 0);
	close(fd);
	snprintf(env0, sizeof(env0), "DATABASE_URL=%s", url);
	pid_t pid = th_spawn("amlctl", (char *const *)argv, env, log);
	int st = th_stop(pid, 0, 30000);
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
	unlink(log);
	assert_true(st >= 0 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* amlctl: bad options exit 2 naming the value, pin/unpin, prune by count
 * and by age keeps the latest and the pinned run and says why. */
static void
test_amlctl_prune_pin(void **st)
{
	(void)st;
	char url[1024], out[4096];
	th_db_create(url, sizeof(url), 1);
	PGconn *c = th_db_connect(url);
	exec_ok(c, "INSERT INTO scoring_runs (model, config_json, tx_source, watermark, status,"
	           " created_at) SELECT 'hop_exposure/v1', '{}', '{}', 1, 'completed',"
	           " now() - interval '10 days' FROM generate_series(1, 4)");
	exec_ok(c, "INSERT INTO risk_scores (run_id, wallet, risk_score, exposures, exposures_json,"
	           " in_degree, out_degree, is_illicit) SELECT r, 'w', 0, 0, '[]', 0, 0, false"
	           " FROM generate_series(1, 4) r");
	static const struct {
		const char *argv[6];
		const char *says;
	} BAD[] = {
	        {{"amlctl", "runs", "prune", "--older-than", "7x", NULL}, "'7x' is not a duration"},
	        {{"amlctl", "runs", "prune", "--older-than", "d", NULL}, "'d' is not a duration"},
	        {{"amlctl", "runs", "prune", "--older-than", "0h", NULL}, "'0h' is not a duration"},
	        {{"amlctl", "runs", "prune", "--keep", "-1", NULL}, "'-1' is not a count"},
	        {{"amlctl", "runs", "prune", "--keep", "2x", NULL}, "'2x' is not a count"},
	        {{"amlctl", "runs", "prune", NULL}, "give --keep N and/or --older-than"},
	        {{"amlctl", "runs", "pin", "abc", NULL}, "'abc' is not a positive integer"},
	        {{"amlctl", "runs", "--keep", "1", NULL}, "runs does not take --keep"},
	        {{"amlctl", "runs", "drop", "1", NULL}, "unknown subcommand"},
	};
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		assert_int_equal(amlctl(url, BAD[i].argv, out, sizeof(out)), 2);
		if (strstr(out, BAD[i].says) == NULL)
			fail_msg("case %zu: '%s' does not say '%s'", i, out, BAD[i].says);
	}
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM scoring_runs"), 4);
	const char *pin[] = {"amlctl", "runs", "pin", "1", NULL};
	assert_int_equal(amlctl(url, pin, out, sizeof(out)), 0);
	const char *pin99[] = {"amlctl", "runs", "pin", "99", NULL};
	assert_int_equal(amlctl(url, pin99, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "no such run"));
	const char *keep[] = {"amlctl", "runs", "prune", "--keep", "3", NULL};
	assert_int_equal(amlctl(url, keep, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "kept run 1: pinned"));
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM scoring_runs"), 4);
	const char *unpin[] = {"amlctl", "runs", "unpin", "1", NULL};
	assert_int_equal(amlctl(url, unpin, out, sizeof(out)), 0);
	const char *age[] = {"amlctl", "runs", "prune", "--older-than", "7d", NULL};
	assert_int_equal(amlctl(url, age, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "pruned run 1"));
	assert_non_null(strstr(out, "pruned run 3"));
	assert_non_null(strstr(out, "kept run 4: latest completed run of hop_exposure/v1"));
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM scoring_runs"), 1);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM pg_class WHERE relname LIKE"
	                              " 'risk\\_scores\\_r%' AND relkind = 'r'"),
	                 1);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM risk_scores"), 1);
	/* --json: one object per candidate, the run id a number */
	const char *json[] = {"amlctl", "--json", "runs", "prune", "--keep", "0", NULL};
	assert_int_equal(amlctl(url, json, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"run_id\": 4"));
	assert_non_null(strstr(out, "\"pruned\": false"));
	assert_non_null(
	        strstr(out, "\"kept_because\": \"latest completed run of hop_exposure/v1\""));
	PQfinish(c);
	th_db_drop(url);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_005_partitions_and_prune),
	        cmocka_unit_test(test_amlctl_prune_pin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
