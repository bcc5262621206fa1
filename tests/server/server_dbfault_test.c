/* server_dbfault_test.c - amlrisk-core against a database that goes silent:
 * the core reaches PostgreSQL through a relay that the test freezes (every
 * byte stops, connections stay open: a network partition as the core sees
 * it). Health must report it within seconds, a run must fail with a clear
 * error instead of blocking the writer, reads from memory must go on, and
 * everything must recover once the relay thaws. Also: IngestionStatus counts
 * transactions incrementally and exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "srv_th.h"
#include "th.h"
#include "th_proxy.h"

#define FREEZE_DEADLINE_MS 20000 /* generous: the core is set to notice in ~3 s */

/* The port of conninfo url. */
/* Health's database_ok, or -1 when Health itself fails. */
static int
db_ok(ts_core *c)
{
	Aml__V1__HealthRequest req = AML__V1__HEALTH_REQUEST__INIT;
	Aml__V1__HealthResponse *r = NULL;
	char msg[256];
	int ok;

	if (ts_call(c, "Health", &req.base, (ProtobufCMessage **)&r, 2000, msg, sizeof(msg)) !=
	    TS_OK)
		return -1;
	ok = r->database_ok;
	aml__v1__health_response__free_unpacked(r, NULL);
	return ok;
}

/* Polls Health until database_ok is want; returns the milliseconds it took,
 * failing the test past the deadline. */
static int64_t
wait_db(ts_core *c, int want, int deadline_ms)
{
	int64_t t0 = th_now_ms();

	while (db_ok(c) != want) {
		if (th_now_ms() - t0 > deadline_ms) {
			ts_core_dump_log(c);
			fail_msg("Health did not report database_ok=%d within %d ms", want,
			         deadline_ms);
		}
		usleep(50000);
	}
	return th_now_ms() - t0;
}

static void
test_database_goes_silent(void **state)
{
	char *env[] = {"DB_IO_TIMEOUT_MS=3000", NULL};
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *run = NULL, *again;
	Aml__V1__GetWalletScoreResponse *w = NULL;
	Aml__V1__TopScoresResponse *top;
	ts_core c;
	th_proxy *px;
	PGconn *conn;
	char msg[256];
	int64_t t0, took;
	int rc;

	(void)state;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_fixture(conn, "random60.pb");
	px = th_proxy_start("127.0.0.1", ts_url_port(c.db_url));
	ts_core_start_via(&c, th_proxy_port(px), env);
	run = ts_score(&c, NULL);
	top = ts_top(&c, 1, 0);
	assert_int_equal(top->n_scores, 1);

	th_proxy_freeze(px, true);
	took = wait_db(&c, 0, FREEZE_DEADLINE_MS);
	fprintf(stderr, "health reported the silent database after %lld ms\n", (long long)took);

	/* a run cannot store: it fails with the database named, it does not hang */
	t0 = th_now_ms();
	rc = ts_call(&c, "RunScore", &req.base, (ProtobufCMessage **)&again, 60000, msg,
	             sizeof(msg));
	fprintf(stderr, "RunScore during the partition: status %d after %lld ms: %s\n", rc,
	        (long long)(th_now_ms() - t0), msg);
	assert_int_not_equal(rc, TS_OK);
	assert_int_not_equal(rc, TS_DEADLINE);
	assert_non_null(strstr(msg, "database"));

	/* the latest run is served from memory meanwhile */
	assert_int_equal(ts_wallet(&c, top->scores[0]->wallet, 0, &w), TS_OK);
	assert_true(ts_close(w->score->risk_score, top->scores[0]->risk_score, 0));
	aml__v1__get_wallet_score_response__free_unpacked(w, NULL);

	/* the partition heals: health recovers and the next run is not refused */
	th_proxy_freeze(px, false);
	wait_db(&c, 1, FREEZE_DEADLINE_MS);
	again = ts_score(&c, NULL);
	assert_true(again->run->run_id > run->run->run_id);
	assert_string_equal(again->run->status, "completed");

	aml__v1__run_score_response__free_unpacked(again, NULL);
	aml__v1__run_score_response__free_unpacked(run, NULL);
	aml__v1__top_scores_response__free_unpacked(top, NULL);
	ts_core_fini(&c);
	th_proxy_stop(px);
	PQfinish(conn);
}

/* IngestionStatus's transactions_total, checked against count(*). */
static uint64_t
ingested(ts_core *c)
{
	Aml__V1__IngestionStatusRequest req = AML__V1__INGESTION_STATUS_REQUEST__INIT;
	Aml__V1__IngestionStatusResponse *r = NULL;
	char msg[256];
	uint64_t n;

	assert_int_equal(ts_call(c, "IngestionStatus", &req.base, (ProtobufCMessage **)&r, 10000,
	                         msg, sizeof(msg)),
	                 TS_OK);
	n = r->transactions_total;
	aml__v1__ingestion_status_response__free_unpacked(r, NULL);
	return n;
}

static void
test_ingestion_count_incremental(void **state)
{
	ts_core c;
	PGconn *conn;

	(void)state;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_fixture(conn, "random60.pb");
	ts_core_start(&c, NULL); /* the graph's load gives the first count */
	assert_int_equal(ingested(&c), th_db_int(conn, "SELECT count(*) FROM transactions"));
	ts_load_generated(conn, "inc-a-", 1234, 50, 7);
	assert_int_equal(ingested(&c), th_db_int(conn, "SELECT count(*) FROM transactions"));
	/* a rolled-back insert leaves a gap in seq: the count stays exact */
	ts_exec(conn, "BEGIN");
	ts_exec(conn, "INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\")"
	              " VALUES ('gap', 'a', 'b', 1, now())");
	ts_exec(conn, "ROLLBACK");
	ts_load_generated(conn, "inc-b-", 10, 50, 8);
	assert_int_equal(ingested(&c), th_db_int(conn, "SELECT count(*) FROM transactions"));
	assert_int_equal(ingested(&c), th_db_int(conn, "SELECT count(*) FROM transactions"));
	ts_core_fini(&c);
	PQfinish(conn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_database_goes_silent),
	        cmocka_unit_test(test_ingestion_count_incremental),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
