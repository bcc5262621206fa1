/* server_live_test.c - the core follows ingestion (issue 14) against a real
 * PostgreSQL: batches committed with the consumer's NOTIFY reach the live
 * view with no call; after every batch the live view (every wallet's score
 * and the top order) equals a RunScore of the same graph at the same
 * watermark in bits, for both models and several configs, also across
 * ReloadGraphs racing the follower, and a rebuild from scratch as the spec
 * defines (hop in bits, flow within 1e-9); rows inserted without a notice
 * are caught by the poll; with the database partitioned the view keeps its
 * last good watermark and catches up afterwards, the batches that waited
 * coalesced into one round; live_state records the watermark; a restart
 * resumes; bad settings stop the core at start; view = LIVE is refused
 * clearly when it cannot be answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "srv_th.h"
#include "th.h"
#include "th_proxy.h"

#define WALLETS     120 /* every wallet fits one TopScores page */
#define DEADLINE_MS 60000

/* Commits n generated rows the way the consumer does: under the append lock,
 * with a NOTIFY of the new high-water seq in the same transaction. */
static void
insert_notified(PGconn *conn, const char *prefix, size_t n, uint64_t seed)
{
	ts_exec(conn, "BEGIN");
	ts_exec(conn, "SELECT transactions_append_lock()");
	ts_load_generated(conn, prefix, n, WALLETS, seed);
	ts_exec(conn, "SELECT pg_notify('amlrisk_ingest', max(seq)::text) FROM transactions");
	ts_exec(conn, "COMMIT");
}

static int64_t
max_seq(PGconn *conn)
{
	return th_db_int(conn, "SELECT coalesce(max(seq), 0) FROM transactions");
}

/* Health's LiveInfo (caller frees the response), or NULL when Health fails. */
static Aml__V1__HealthResponse *
health(ts_core *c)
{
	Aml__V1__HealthRequest req = AML__V1__HEALTH_REQUEST__INIT;
	Aml__V1__HealthResponse *r = NULL;
	char msg[256];

	if (ts_call(c, "Health", &req.base, (ProtobufCMessage **)&r, 5000, msg, sizeof(msg)) !=
	    TS_OK)
		return NULL;
	return r;
}

typedef int (*health_pred)(const Aml__V1__HealthResponse *h, int64_t arg);

/* Polls Health until pred(h, arg) holds; fails past the deadline, saying
 * what was awaited and what Health showed last. */
static void
wait_health(ts_core *c, health_pred pred, int64_t arg, const char *what)
{
	int64_t t0 = th_now_ms();
	char last[256] = "no answer";

	for (;;) {
		Aml__V1__HealthResponse *h = health(c);
		int done = h != NULL && pred(h, arg);
		if (h != NULL && h->live != NULL)
			snprintf(last, sizeof(last),
			         "database_ok %d, live watermark %lld newest %lld lag %llu current "
			         "%d,"
			         " graph %lld",
			         h->database_ok, (long long)h->live->watermark,
			         (long long)h->live->newest_sequence,
			         (unsigned long long)h->live->lag_rows, h->live->current,
			         (long long)h->live->graph_watermark);
		if (h != NULL)
			aml__v1__health_response__free_unpacked(h, NULL);
		if (done)
			return;
		if (th_now_ms() - t0 > DEADLINE_MS) {
			ts_core_dump_log(c);
			fail_msg("%s %lld: not within %d ms (%s)", what, (long long)arg,
			         DEADLINE_MS, last);
		}
		usleep(20000);
	}
}

static int
live_current_at(const Aml__V1__HealthResponse *h, int64_t wm)
{
	return h->live != NULL && h->live->current && h->live->watermark == wm &&
	       h->live->newest_sequence == wm && h->live->lag_rows == 0 &&
	       h->live->lag_seconds == 0;
}

static int
database_ok_is(const Aml__V1__HealthResponse *h, int64_t want)
{
	return h->database_ok == (protobuf_c_boolean)want;
}

static int
graph_current_at(const Aml__V1__HealthResponse *h, int64_t wm)
{
	return h->graph != NULL && h->graph->watermark == wm && h->live != NULL &&
	       h->live->current && h->live->graph_watermark == wm;
}

/* Waits until the live view is current at watermark wm. */
static void
wait_live(ts_core *c, int64_t wm)
{
	wait_health(c, live_current_at, wm, "live view current at");
}

static Aml__V1__TopScoresResponse *
top_live(ts_core *c, uint32_t n, int want)
{
	Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
	Aml__V1__TopScoresResponse *r = NULL;
	char msg[256] = "";
	int rc;

	req.n = n;
	req.view = AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
	rc = ts_call(c, "TopScores", &req.base, (ProtobufCMessage **)&r, 10000, msg, sizeof(msg));
	if (rc != want)
		fail_msg("TopScores LIVE: status %d (%s), want %d", rc, msg, want);
	return r;
}

/* The live view equals a RunScore of its own config at its watermark: the
 * same wallets in the same top order with the same scores in bits, and the
 * same answers wallet by wallet. Returns the live watermark. */
static int64_t
check_live_equals_run(ts_core *c)
{
	Aml__V1__TopScoresResponse *live = top_live(c, 1000, TS_OK), *run;
	Aml__V1__RunScoreResponse *rs;

	assert_non_null(live->live);
	assert_true(live->live->enabled);
	assert_int_equal(live->run_id, 0);
	rs = ts_score(c, live->live->config_json);
	/* nothing was inserted meanwhile: the run covers the same watermark */
	assert_int_equal(rs->run->watermark, live->live->watermark);
	assert_string_equal(rs->run->model, live->live->model);
	run = ts_top(c, 1000, rs->run->run_id);
	assert_int_equal(run->total, live->total);
	assert_int_equal(run->n_scores, live->n_scores);
	assert_true(live->n_scores > 0 && live->total <= 1000);
	for (size_t i = 0; i < live->n_scores; i++) {
		const Aml__V1__WalletScore *a = live->scores[i], *b = run->scores[i];
		if (strcmp(a->wallet, b->wallet) != 0 ||
		    memcmp(&a->risk_score, &b->risk_score, sizeof(double)) != 0 ||
		    a->in_degree != b->in_degree || a->out_degree != b->out_degree ||
		    a->is_illicit != b->is_illicit)
			fail_msg("rank %zu: live %s %.17g, run %s %.17g", i, a->wallet,
			         a->risk_score, b->wallet, b->risk_score);
	}
	/* one wallet through GetWalletScore view = LIVE */
	{
		Aml__V1__GetWalletScoreRequest req = AML__V1__GET_WALLET_SCORE_REQUEST__INIT;
		Aml__V1__GetWalletScoreResponse *w = NULL;
		char msg[256];
		req.wallet = live->scores[live->n_scores / 2]->wallet;
		req.view = AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
		assert_int_equal(ts_call(c, "GetWalletScore", &req.base, (ProtobufCMessage **)&w,
		                         10000, msg, sizeof(msg)),
		                 TS_OK);
		assert_non_null(w->live);
		assert_int_equal(w->live->watermark, live->live->watermark);
		assert_memory_equal(&w->score->risk_score,
		                    &live->scores[live->n_scores / 2]->risk_score, sizeof(double));
		aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	}
	int64_t wm = live->live->watermark;
	aml__v1__top_scores_response__free_unpacked(run, NULL);
	aml__v1__run_score_response__free_unpacked(rs, NULL);
	aml__v1__top_scores_response__free_unpacked(live, NULL);
	return wm;
}

/* The live view (of versions appended one batch after another) against a
 * graph rebuilt from scratch by ReloadGraph and scored by RunScore at the same
 * watermark: the same wallets, degrees and illicit flags; hop_exposure/v1
 * scores and order in bits, flow_exposure/v1 scores within the spec's 1e-9
 * (its sums follow wallet ids, which a rebuild numbers differently). */
static void
check_live_equals_scratch(ts_core *c)
{
	Aml__V1__TopScoresResponse *live = top_live(c, 1000, TS_OK), *run;
	Aml__V1__ReloadGraphResponse *rl = ts_reload(c);
	Aml__V1__RunScoreResponse *rs = ts_score(c, live->live->config_json);
	int hop = strcmp(live->live->model, "hop_exposure/v1") == 0;

	assert_int_equal(rl->graph->watermark, live->live->watermark);
	assert_int_equal(rs->run->watermark, live->live->watermark);
	run = ts_top(c, 1000, rs->run->run_id);
	assert_int_equal(run->n_scores, live->n_scores);
	for (size_t i = 0; i < live->n_scores; i++) {
		const Aml__V1__WalletScore *a = live->scores[i], *b = NULL;
		for (size_t k = 0; k < run->n_scores && b == NULL; k++)
			if (strcmp(run->scores[k]->wallet, a->wallet) == 0)
				b = run->scores[k];
		if (b == NULL)
			fail_msg("%s: in the live view, not in the rebuilt run", a->wallet);
		assert_int_equal(a->in_degree, b->in_degree);
		assert_int_equal(a->out_degree, b->out_degree);
		assert_int_equal(a->is_illicit, b->is_illicit);
		if (hop ? (memcmp(&a->risk_score, &b->risk_score, sizeof(double)) != 0 ||
		           strcmp(run->scores[i]->wallet, a->wallet) != 0)
		        : !ts_close(a->risk_score, b->risk_score, 1e-9))
			fail_msg("rank %zu: live %s %.17g, rebuilt %s %.17g", i, a->wallet,
			         a->risk_score, b->wallet, b->risk_score);
	}
	aml__v1__top_scores_response__free_unpacked(run, NULL);
	aml__v1__run_score_response__free_unpacked(rs, NULL);
	aml__v1__reload_graph_response__free_unpacked(rl, NULL);
	aml__v1__top_scores_response__free_unpacked(live, NULL);
}

/* live_state.watermark as stored. */
static int64_t
stored_live_wm(PGconn *conn)
{
	return th_db_int(conn, "SELECT coalesce(max(watermark), -1) FROM live_state");
}

/* One live config: batches appear without a call and equal a full run after
 * each one, also after a ReloadGraph. */
static void
follow_config(const char *live_json, uint64_t seed)
{
	char cfg[512];
	char *env[] = {cfg, "LIVE_POLL_MS=60000", NULL}; /* notices only */
	ts_core c;
	PGconn *conn;

	snprintf(cfg, sizeof(cfg), "LIVE_SCORING_CONFIG=%s", live_json);
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "base-", 400, WALLETS, seed);
	ts_label(conn, "w3");
	ts_label(conn, "w17");
	ts_core_start(&c, env);
	wait_live(&c, max_seq(conn));
	assert_int_equal(check_live_equals_run(&c), max_seq(conn));
	assert_int_equal(stored_live_wm(conn), max_seq(conn));
	for (int b = 0; b < 3; b++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "b%d-", b);
		insert_notified(conn, prefix, 50 + 40 * (size_t)b, seed * 31 + (uint64_t)b);
		wait_live(&c, max_seq(conn));
		assert_int_equal(check_live_equals_run(&c), max_seq(conn));
		assert_int_equal(stored_live_wm(conn), max_seq(conn));
	}
	/* against a rebuild from scratch; the ReloadGraph replaces the chain and
	 * the live view follows the new graph */
	check_live_equals_scratch(&c);
	insert_notified(conn, "after-reload-", 30, seed + 5);
	wait_live(&c, max_seq(conn));
	assert_int_equal(check_live_equals_run(&c), max_seq(conn));
	ts_core_fini(&c);
	PQfinish(conn);
}

static void
test_follow_hop_defaults(void **st)
{
	(void)st;
	follow_config("{}", 11);
}

static void
test_follow_hop_out_exact(void **st)
{
	(void)st;
	follow_config("{\"model\": \"hop_exposure/v1\", \"direction\": \"out\", \"count\": "
	              "\"exact\", \"hop_weights\": [1, 0.5, 0.25, 0.125]}",
	              12);
}

static void
test_follow_hop_both_labels_only(void **st)
{
	(void)st;
	follow_config(
	        "{\"direction\": \"both\", \"illicit_ratio\": 0, \"degree_normalize\": false}", 13);
}

static void
test_follow_flow_defaults(void **st)
{
	(void)st;
	follow_config("{\"model\": \"flow_exposure/v1\"}", 14);
}

static void
test_follow_flow_sent_hops(void **st)
{
	(void)st;
	follow_config("{\"model\": \"flow_exposure/v1\", \"side\": \"sent\", \"hops\": 3, "
	              "\"illicit_ratio\": 0.1}",
	              15);
}

/* ReloadGraph calls interleaved with notified batches (the follower's
 * append and the writer's rebuild race for the graph): no row is lost or
 * counted twice, and the view ends equal to a run at the newest row. */
static void
test_reload_races_follower(void **st)
{
	char *env[] = {"LIVE_SCORING_CONFIG={\"model\": \"flow_exposure/v1\", \"hops\": 4}",
	               "LIVE_POLL_MS=100", NULL};
	ts_core c;
	PGconn *conn;
	Aml__V1__HealthResponse *h;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "base-", 500, WALLETS, 21);
	ts_label(conn, "w5");
	ts_core_start(&c, env);
	for (int i = 0; i < 6; i++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "race%d-", i);
		insert_notified(conn, prefix, 2000, 100 + (uint64_t)i);
		Aml__V1__ReloadGraphResponse *rl = ts_reload(&c);
		aml__v1__reload_graph_response__free_unpacked(rl, NULL);
	}
	/* one more batch, so the view and RunScore score one version */
	insert_notified(conn, "race-last-", 10, 99);
	wait_live(&c, max_seq(conn));
	h = health(&c);
	assert_int_equal(h->graph->transactions,
	                 th_db_int(conn, "SELECT count(*) FROM transactions"));
	assert_int_equal(h->graph->watermark, max_seq(conn));
	aml__v1__health_response__free_unpacked(h, NULL);
	assert_int_equal(check_live_equals_run(&c), max_seq(conn));
	check_live_equals_scratch(&c);
	ts_core_fini(&c);
	PQfinish(conn);
}

/* Rows committed without a NOTIFY (a missed notice) are found by the poll. */
static void
test_missed_notice_polled(void **st)
{
	char *env[] = {"LIVE_SCORING_CONFIG={}", "LIVE_POLL_MS=200", NULL};
	ts_core c;
	PGconn *conn;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "base-", 300, WALLETS, 3);
	ts_core_start(&c, env);
	wait_live(&c, max_seq(conn));
	ts_load_generated(conn, "silent-", 77, WALLETS, 4); /* no NOTIFY */
	wait_live(&c, max_seq(conn));
	check_live_equals_run(&c);
	ts_core_fini(&c);
	PQfinish(conn);
}

/* The database goes silent while rows wait: the live view keeps answering at
 * its last good watermark, then catches up once the database is back. */
static void
test_database_down_during_update(void **st)
{
	char *env[] = {"LIVE_SCORING_CONFIG={\"model\": \"flow_exposure/v1\"}",
	               "LIVE_POLL_MS=200",
	               "DB_IO_TIMEOUT_MS=2000",
	               "HEALTH_MS=200",
	               "LOG_LEVEL=debug",
	               NULL};
	char line[128];
	Aml__V1__TopScoresResponse *t;
	th_proxy *px;
	ts_core c;
	PGconn *conn;
	int64_t good;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "base-", 300, WALLETS, 5);
	ts_label(conn, "w1");
	px = th_proxy_start("127.0.0.1", ts_url_port(c.db_url));
	ts_core_start_via(&c, th_proxy_port(px), env);
	good = max_seq(conn);
	wait_live(&c, good);

	th_proxy_freeze(px, true);
	wait_health(&c, database_ok_is, 0, "database_ok ==");
	/* three batches straight to the database, each notified */
	insert_notified(conn, "during-a-", 60, 6);
	insert_notified(conn, "during-b-", 25, 16);
	insert_notified(conn, "during-c-", 40, 26);
	/* the view answers from memory at its last good watermark */
	t = top_live(&c, 5, TS_OK);
	assert_int_equal(t->live->watermark, good);
	assert_false(t->live->current && t->live->newest_sequence > good);
	aml__v1__top_scores_response__free_unpacked(t, NULL);
	assert_int_equal(stored_live_wm(conn), good);
	/* the follower met the outage (its statement timed out) and said so */
	assert_true(ts_file_has(c.log, "follow.failed", DEADLINE_MS));
	t = top_live(&c, 5, TS_OK);
	assert_int_equal(t->live->watermark, good);
	aml__v1__top_scores_response__free_unpacked(t, NULL);

	th_proxy_freeze(px, false);
	wait_health(&c, database_ok_is, 1, "database_ok ==");
	wait_live(&c, max_seq(conn));
	assert_int_equal(stored_live_wm(conn), max_seq(conn));
	/* coalesced: the three waiting batches were appended in one round, and
	 * that round re-scored once */
	snprintf(line, sizeof(line), "follow.appended rows=125 watermark=%lld",
	         (long long)max_seq(conn));
	assert_true(ts_file_has(c.log, line, 1));
	snprintf(line, sizeof(line), "live.updated model=flow_exposure/v1 watermark=%lld",
	         (long long)max_seq(conn));
	assert_true(ts_file_has(c.log, line, 1));
	check_live_equals_run(&c);
	ts_core_fini(&c);
	th_proxy_stop(px);
	PQfinish(conn);
}

/* A restart loads the graph, rebuilds the view and follows on. */
static void
test_restart_resumes(void **st)
{
	char *env[] = {"LIVE_SCORING_CONFIG={\"direction\": \"in\"}", "LIVE_POLL_MS=200", NULL};
	ts_core c;
	PGconn *conn;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "base-", 300, WALLETS, 7);
	ts_core_start(&c, env);
	wait_live(&c, max_seq(conn));
	assert_int_equal(ts_core_stop(&c, SIGTERM), 0);
	insert_notified(conn, "while-down-", 45, 8);
	ts_core_start(&c, env);
	wait_live(&c, max_seq(conn));
	assert_int_equal(stored_live_wm(conn), max_seq(conn));
	insert_notified(conn, "after-", 20, 9);
	wait_live(&c, max_seq(conn));
	check_live_equals_run(&c);
	ts_core_fini(&c);
	PQfinish(conn);
}

/* view = LIVE without a live view, or naming a run, is refused clearly. */
static void
test_live_view_refusals(void **st)
{
	Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
	Aml__V1__GetWalletScoreRequest wreq = AML__V1__GET_WALLET_SCORE_REQUEST__INIT;
	ProtobufCMessage *r = NULL;
	char msg[256];
	ts_core c;
	PGconn *conn;

	(void)st;
	conn = ts_core_fixture(&c, 0, "random60.pb", NULL, NULL);
	req.view = AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
	assert_int_equal(ts_call(&c, "TopScores", &req.base, &r, 10000, msg, sizeof(msg)),
	                 TS_PRECONDITION);
	assert_non_null(strstr(msg, "LIVE_SCORING_CONFIG"));
	wreq.wallet = "w1";
	wreq.view = AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
	assert_int_equal(ts_call(&c, "GetWalletScore", &wreq.base, &r, 10000, msg, sizeof(msg)),
	                 TS_PRECONDITION);
	/* without live scoring the graph still follows ingestion */
	Aml__V1__HealthResponse *h = health(&c);
	assert_false(h->live->enabled);
	aml__v1__health_response__free_unpacked(h, NULL);
	ts_load_generated(conn, "more-", 10, 20, 1);
	wait_health(&c, graph_current_at, max_seq(conn), "graph following, current at");
	ts_core_fini(&c);
	PQfinish(conn);

	char *env[] = {"LIVE_SCORING_CONFIG={}", NULL};
	conn = ts_core_fixture(&c, 0, "random60.pb", NULL, env);
	wait_live(&c, max_seq(conn));
	req.run_id = 1;
	assert_int_equal(ts_call(&c, "TopScores", &req.base, &r, 10000, msg, sizeof(msg)),
	                 TS_INVALID);
	assert_non_null(strstr(msg, "run_id"));
	req.run_id = 0;
	req.compare_previous = 1;
	assert_int_equal(ts_call(&c, "TopScores", &req.base, &r, 10000, msg, sizeof(msg)),
	                 TS_INVALID);
	wreq.run_id = 2;
	assert_int_equal(ts_call(&c, "GetWalletScore", &wreq.base, &r, 10000, msg, sizeof(msg)),
	                 TS_INVALID);
	wreq.run_id = 0;
	wreq.wallet = "no-such-wallet";
	assert_int_equal(ts_call(&c, "GetWalletScore", &wreq.base, &r, 10000, msg, sizeof(msg)),
	                 TS_NOT_FOUND);
	assert_non_null(strstr(msg, "live view"));
	ts_core_fini(&c);
	PQfinish(conn);
}

/* A bad poll period or live config stops the core at start, named. */
static void
test_bad_settings_stop_start(void **st)
{
	char *low[] = {"LIVE_POLL_MS=10", "LIVE_SCORING_CONFIG={}", NULL};
	char *word[] = {"LIVE_POLL_MS=soon", NULL};
	char *flag_env[] = {"LIVE_SCORING_CONFIG={\"direction\": \"sideways\"}", NULL};
	ts_core c;

	(void)st;
	ts_core_init(&c, 0);
	ts_core_start_refused(&c, low, "LIVE_POLL_MS: '10' is not an integer in [50, 60000]");
	ts_core_start_refused(&c, word, "LIVE_POLL_MS: 'soon'");
	ts_core_start_refused(&c, flag_env, "LIVE_SCORING_CONFIG: direction");
	ts_core_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_settings_stop_start),
	        cmocka_unit_test(test_live_view_refusals),
	        cmocka_unit_test(test_follow_hop_defaults),
	        cmocka_unit_test(test_follow_hop_out_exact),
	        cmocka_unit_test(test_follow_hop_both_labels_only),
	        cmocka_unit_test(test_follow_flow_defaults),
	        cmocka_unit_test(test_follow_flow_sent_hops),
	        cmocka_unit_test(test_reload_races_follower),
	        cmocka_unit_test(test_missed_notice_polled),
	        cmocka_unit_test(test_database_down_during_update),
	        cmocka_unit_test(test_restart_resumes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
