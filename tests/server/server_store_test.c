/* server_store_test.c - what amlrisk-core writes, against a real PostgreSQL:
 * stored rows equal the engine's on the same transactions (and the spec's
 * worked example) for both models, a run is reproducible from its stored
 * config and watermark, a flow_exposure/v1 run reads back the same after a
 * restart (from the table loaded at start-up, then from its rebuilt result),
 * and "latest" never points at a failed or half-written run, also when the
 * server is killed with SIGKILL in the middle of storing one. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
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
#include "core_engine.h"
#include "srv_load.h"
#include "srv_runs.h"
#include "srv_th.h"
#include "th.h"

/* One query with text parameters; fails the test on error. Caller PQclear()s. */
static PGresult *
query(PGconn *c, const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	return r;
}

/* The graph of tx's rows (sender, receiver, amount). The caller unrefs it. */
static core_graph *
graph_of(const PGresult *tx)
{
	core_graph_builder *b = NULL;
	core_graph *g = NULL;

	assert_int_equal(core_graph_builder_create(&b, (size_t)PQntuples(tx)), 0);
	for (int i = 0; i < PQntuples(tx); i++)
		assert_int_equal(core_graph_builder_add(
		                         b, PQgetvalue(tx, i, 0), (size_t)PQgetlength(tx, i, 0),
		                         PQgetvalue(tx, i, 1), (size_t)PQgetlength(tx, i, 1),
		                         strtod(PQgetvalue(tx, i, 2), NULL)),
		                 0);
	assert_int_equal(core_graph_builder_finish(&g, b, 2), 0);
	return g;
}

/* Row i of rows (check_against_engine's columns) is ws of a hop run: exposures
 * and c_0..c_K with cfg's weights, nothing in the flow columns. */
static void
check_hop_row(const PGresult *rows, int i, const core_wallet_score *ws, const core_config *cfg)
{
	uint32_t counts[CORE_HOPS_MAX + 1];
	double w[CORE_HOPS_MAX + 1];
	unsigned n;
	const char *json = PQgetvalue(rows, i, 3);

	assert_int_equal(strtoll(PQgetvalue(rows, i, 2), NULL, 10), ws->exposures);
	assert_int_equal(srv_exposures_parse(json, strlen(json), CORE_HOPS_MAX + 1, counts, w, &n),
	                 0);
	assert_int_equal(n, ws->hops + 1);
	for (unsigned k = 0; k < n; k++) {
		assert_int_equal(counts[k], ws->counts[k]);
		assert_true(w[k] == cfg->hop_weights[k]);
	}
	for (int col = 7; col <= 10; col++)
		assert_true(PQgetisnull(rows, i, col));
}

/* Row i of rows is ws of a flow run, exactly: R_K, S_K and every R_k, S_k
 * (stored %.17g, read back as the same doubles), nothing in the hop columns. */
static void
check_flow_row(const PGresult *rows, int i, const core_wallet_score *ws)
{
	double r[CORE_FLOW_HOPS_MAX], s[CORE_FLOW_HOPS_MAX];
	unsigned nr, ns;
	const char *rt = PQgetvalue(rows, i, 9), *st = PQgetvalue(rows, i, 10);

	assert_true(PQgetisnull(rows, i, 2) && PQgetisnull(rows, i, 3));
	assert_true(strtod(PQgetvalue(rows, i, 7), NULL) == ws->received_exposure);
	assert_true(strtod(PQgetvalue(rows, i, 8), NULL) == ws->sent_exposure);
	assert_int_equal(srv_f64_array_parse(rt, strlen(rt), CORE_FLOW_HOPS_MAX, r, &nr), 0);
	assert_int_equal(srv_f64_array_parse(st, strlen(st), CORE_FLOW_HOPS_MAX, s, &ns), 0);
	assert_int_equal(nr, ws->hops);
	assert_int_equal(ns, ws->hops);
	for (unsigned k = 0; k < nr; k++) {
		assert_true(r[k] == ws->received[k]);
		assert_true(s[k] == ws->sent[k]);
	}
}

/* Recomputes run id with the engine from the transactions up to its stored
 * watermark, its stored config and labels, and compares every stored row
 * exactly (scores included: %.17g round-trips). */
static void
check_against_engine(PGconn *c, int64_t id)
{
	char ids[24], err[256];
	const char *p[1] = {ids};
	PGresult *run, *tx, *rows;
	core_config cfg;
	core_labels *labels = NULL;
	core_graph *g = NULL;
	core_run_result *res = NULL;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	run = query(
	        c,
	        "SELECT config_json::text, watermark, labels::text, wallet_count, illicit_count,"
	        " (tx_source->>'transactions')::bigint, transaction_count, status,"
	        " tx_source->>'table', (tx_source->>'watermark')::bigint = watermark"
	        " FROM scoring_runs WHERE id = $1",
	        1, p);
	assert_int_equal(PQntuples(run), 1);
	assert_string_equal(PQgetvalue(run, 0, 7), "completed");
	assert_string_equal(PQgetvalue(run, 0, 8), "transactions");
	assert_string_equal(PQgetvalue(run, 0, 9), "t");
	assert_int_equal(core_config_parse(&cfg, PQgetvalue(run, 0, 0),
	                                   strlen(PQgetvalue(run, 0, 0)), err, sizeof(err)),
	                 0);
	assert_int_equal(srv_labels_from_json(PQgetvalue(run, 0, 2), &labels, err, sizeof(err)), 0);
	{
		const char *wp[1] = {PQgetvalue(run, 0, 1)};
		tx = query(c,
		           "SELECT sender, receiver, amount::float8 FROM transactions"
		           " WHERE seq <= $1 ORDER BY seq",
		           1, wp);
	}
	assert_int_equal(PQntuples(tx), strtoll(PQgetvalue(run, 0, 5), NULL, 10));
	assert_int_equal(PQntuples(tx), strtoll(PQgetvalue(run, 0, 6), NULL, 10));
	g = graph_of(tx);
	assert_int_equal(core_score_run(&res, g, &cfg, labels, 2, err, sizeof(err)), 0);
	assert_int_equal(core_run_result_count(res), strtoll(PQgetvalue(run, 0, 3), NULL, 10));
	assert_int_equal(core_run_result_illicit_count(res),
	                 strtoll(PQgetvalue(run, 0, 4), NULL, 10));
	rows = query(c,
	             "SELECT wallet, risk_score, exposures, exposures_json::text, in_degree,"
	             " out_degree, is_illicit, received_exposure, sent_exposure,"
	             " received_hops::text, sent_hops::text FROM risk_scores WHERE run_id = $1",
	             1, p);
	assert_int_equal(PQntuples(rows), core_run_result_count(res));
	for (int i = 0; i < PQntuples(rows); i++) {
		core_wallet_score ws;
		assert_int_equal(core_run_result_find(res, PQgetvalue(rows, i, 0),
		                                      (size_t)PQgetlength(rows, i, 0), &ws),
		                 0);
		if (strtod(PQgetvalue(rows, i, 1), NULL) != ws.risk_score)
			fail_msg("run %lld wallet %s: stored %s, engine %.17g", (long long)id,
			         PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 1), ws.risk_score);
		if (cfg.model == CORE_MODEL_FLOW)
			check_flow_row(rows, i, &ws);
		else
			check_hop_row(rows, i, &ws, &cfg);
		assert_int_equal(strtoll(PQgetvalue(rows, i, 4), NULL, 10), ws.in_degree);
		assert_int_equal(strtoll(PQgetvalue(rows, i, 5), NULL, 10), ws.out_degree);
		assert_int_equal(PQgetvalue(rows, i, 6)[0] == 't', ws.is_illicit);
	}
	PQclear(rows);
	PQclear(tx);
	PQclear(run);
	core_run_result_unref(res);
	core_graph_unref(g);
	core_labels_destroy(labels);
}

static void
test_spec_example(void **st)
{
	static const struct {
		const char *w;
		double score;
		const char *json;
		int in, out;
	} DEF[] = {
	        {"A", 1.0969655114602888,
	         "[{\"hop\":0,\"weight\":1.0,\"illicit_count\":1},{\"hop\":1,\"weight\":0.6,"
	         "\"illicit_count\":1},{\"hop\":2,\"weight\":0.3,\"illicit_count\":1}]",
	         1, 2},
	        {"B", 0.6363961030678927,
	         "[{\"hop\":0,\"weight\":1.0,\"illicit_count\":0},{\"hop\":1,\"weight\":0.6,"
	         "\"illicit_count\":1},{\"hop\":2,\"weight\":0.3,\"illicit_count\":1}]",
	         1, 1},
	        {"C", 0.5196152422706631,
	         "[{\"hop\":0,\"weight\":1.0,\"illicit_count\":0},{\"hop\":1,\"weight\":0.6,"
	         "\"illicit_count\":1},{\"hop\":2,\"weight\":0.3,\"illicit_count\":1}]",
	         2, 1},
	        {"D", 0.3,
	         "[{\"hop\":0,\"weight\":1.0,\"illicit_count\":0},{\"hop\":1,\"weight\":0.6,"
	         "\"illicit_count\":0},{\"hop\":2,\"weight\":0.3,\"illicit_count\":1}]",
	         1, 0},
	        {"E", 0.9,
	         "[{\"hop\":0,\"weight\":1.0,\"illicit_count\":0},{\"hop\":1,\"weight\":0.6,"
	         "\"illicit_count\":1},{\"hop\":2,\"weight\":0.3,\"illicit_count\":1}]",
	         0, 1},
	};
	static const struct {
		const char *w;
		double score;
	} IN_EXACT[] = {{"A", 0},
	                {"B", 0.70710678118654746},
	                {"C", 0.57735026918962584},
	                {"D", 0.5},
	                {"E", 0}};
	ts_core c;
	PGconn *conn;
	PGresult *r;
	Aml__V1__RunScoreResponse *run;
	int64_t id1, id2;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	assert_int_equal(ts_load_fixture(conn, "spec-example.pb"), 6);
	ts_label(conn, "A");
	ts_core_start(&c, NULL);
	/* S = {A}: ratio 0, A labelled */
	run = ts_score(&c, "{\"illicit_ratio\": 0}");
	id1 = run->run->run_id;
	assert_string_equal(run->run->status, "completed");
	assert_int_equal(run->run->wallets, 5);
	assert_int_equal(run->run->illicit, 1);
	assert_int_equal(run->run->watermark, 6);
	assert_int_equal(run->run->transactions, 6);
	aml__v1__run_score_response__free_unpacked(run, NULL);
	r = query(
	        conn,
	        "SELECT wallet, risk_score, exposures_json::text, in_degree, out_degree, exposures"
	        " FROM risk_scores WHERE run_id = 1 ORDER BY wallet",
	        0, NULL);
	assert_int_equal(PQntuples(r), 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(PQgetvalue(r, i, 0), DEF[i].w);
		assert_true(ts_close(strtod(PQgetvalue(r, i, 1), NULL), DEF[i].score, 1e-9));
		assert_string_equal(PQgetvalue(r, i, 2), DEF[i].json);
		assert_int_equal(atoi(PQgetvalue(r, i, 3)), DEF[i].in);
		assert_int_equal(atoi(PQgetvalue(r, i, 4)), DEF[i].out);
		assert_int_equal(atoi(PQgetvalue(r, i, 5)), 1);
	}
	PQclear(r);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs WHERE id = 1 AND"
	                                 " labels = '[\"A\"]' AND status = 'completed' AND"
	                                 " completed_at IS NOT NULL AND model = 'hop_exposure/v1'"),
	                 1);
	check_against_engine(conn, id1);
	/* the second worked example */
	run = ts_score(&c, "{\"illicit_ratio\":0,\"direction\":\"in\",\"count\":\"exact\","
	                   "\"hop_weights\":[0,1,0.5,0.25]}");
	id2 = run->run->run_id;
	assert_int_equal(id2, id1 + 1);
	aml__v1__run_score_response__free_unpacked(run, NULL);
	for (size_t i = 0; i < 5; i++)
		assert_true(ts_close(ts_stored_score(conn, id2, IN_EXACT[i].w), IN_EXACT[i].score,
		                     1e-9));
	check_against_engine(conn, id2);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* Every stored row equals the engine's, over two fixtures and two configs,
 * and a run stays reproducible after more transactions arrive. */
static void
test_equals_engine(void **st)
{
	static const char *FIXTURES[] = {"random60.pb", "mixed.pb"};
	ts_core c;
	PGconn *conn;

	(void)st;
	for (size_t f = 0; f < 2; f++) {
		Aml__V1__RunScoreResponse *r1, *r2, *r3;
		Aml__V1__ReloadGraphResponse *rl;
		ts_core_init(&c, 0);
		conn = th_db_connect(c.db_url);
		ts_load_fixture(conn, FIXTURES[f]);
		ts_label(conn, "w7");
		ts_core_start(&c, (char *const[]){"ILLICIT_SEED=7", NULL});
		r1 = ts_score(&c, NULL);
		assert_true(strstr(r1->run->config_json, "\"illicit_seed\":7") != NULL);
		r2 = ts_score(&c, "{\"direction\":\"both\",\"count\":\"exact\",\"hop_weights\":"
		                  "[0.5,1,0.25,0.125,2],\"degree_normalize\":false,"
		                  "\"illicit_ratio\":0.3,\"use_labels\":false}");
		check_against_engine(conn, r1->run->run_id);
		check_against_engine(conn, r2->run->run_id);
		/* more transactions: the old runs still reproduce from their watermark */
		ts_load_generated(conn, "more", 500, 80, 99);
		rl = ts_reload(&c);
		assert_true(rl->graph->watermark > r1->run->watermark);
		r3 = ts_score(&c, "{\"illicit_ratio\":0.1}");
		assert_int_equal(r3->run->watermark, rl->graph->watermark);
		check_against_engine(conn, r1->run->run_id);
		check_against_engine(conn, r3->run->run_id);
		aml__v1__run_score_response__free_unpacked(r1, NULL);
		aml__v1__run_score_response__free_unpacked(r2, NULL);
		aml__v1__run_score_response__free_unpacked(r3, NULL);
		aml__v1__reload_graph_response__free_unpacked(rl, NULL);
		PQfinish(conn);
		ts_core_fini(&c);
	}
}

/* A store that fails marks the run failed and leaves the previous one latest. */
static void
test_store_failure(void **st)
{
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *run = NULL;
	Aml__V1__HealthResponse *h;
	Aml__V1__GetWalletScoreResponse *w = NULL;
	ts_core c;
	PGconn *conn;
	char msg[512];

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_fixture(conn, "spec-example.pb");
	ts_core_start(&c, NULL);
	run = ts_score(&c, "{\"illicit_ratio\":1}");
	assert_int_equal(run->run->run_id, 1);
	aml__v1__run_score_response__free_unpacked(run, NULL);
	/* a trigger that refuses one row in the middle of the COPY */
	ts_exec(conn, "CREATE FUNCTION refuse_c() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
	              " IF NEW.wallet = 'C' THEN RAISE EXCEPTION 'no C today'; END IF;"
	              " RETURN NEW; END $$");
	ts_exec(conn, "CREATE TRIGGER refuse_c BEFORE INSERT ON risk_scores FOR EACH ROW"
	              " EXECUTE FUNCTION refuse_c()");
	req.config_overrides_json = "{\"illicit_ratio\":0}";
	assert_int_equal(ts_call(&c, "RunScore", &req.base, (ProtobufCMessage **)&run, 60000, msg,
	                         sizeof(msg)),
	                 TS_UNAVAILABLE);
	assert_non_null(strstr(msg, "run 2 failed"));
	assert_non_null(strstr(msg, "no C today"));
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs WHERE id = 2 AND"
	                                 " status = 'failed' AND error LIKE '%no C today%'"),
	                 1);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM risk_scores WHERE run_id = 2"), 0);
	h = ts_health(&c);
	assert_non_null(h->latest_run);
	assert_int_equal(h->latest_run->run_id, 1);
	aml__v1__health_response__free_unpacked(h, NULL);
	assert_int_equal(ts_wallet(&c, "C", 0, &w), TS_OK);
	assert_int_equal(w->run_id, 1);
	assert_true(w->score->is_illicit); /* run 1 had ratio 1 */
	aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	/* the failed run has no scores to read */
	assert_int_equal(ts_wallet(&c, "C", 2, &w), TS_PRECONDITION);
	ts_exec(conn, "DROP TRIGGER refuse_c ON risk_scores");
	run = ts_score(&c, "{\"illicit_ratio\":0}");
	assert_int_equal(run->run->run_id, 3);
	aml__v1__run_score_response__free_unpacked(run, NULL);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* SIGKILL while the rows of run 2 are being COPYed: after a restart run 2 is
 * failed, run 1 is latest, and its results are served as before. */
static void
test_kill_mid_store(void **st)
{
	ts_core c;
	PGconn *conn;
	ts_bg bg;
	Aml__V1__HealthResponse *h;
	Aml__V1__TopScoresResponse *top1, *top2;
	Aml__V1__RunScoreResponse *run;
	int st_kill;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_fixture(conn, "spec-example.pb");
	ts_core_start(&c, NULL);
	run = ts_score(&c, "{\"illicit_ratio\":0.5}");
	assert_int_equal(run->run->run_id, 1);
	aml__v1__run_score_response__free_unpacked(run, NULL);
	top1 = ts_top(&c, 5, 0);
	/* enough wallets that storing them takes a while */
	ts_load_generated(conn, "big", 300000, 200000, 1234);
	aml__v1__reload_graph_response__free_unpacked(ts_reload(&c), NULL);
	ts_bg_score(&bg, &c, "{\"illicit_ratio\":0.02}");
	assert_true(ts_wait_storing(conn, 120000) > 0);
	st_kill = ts_core_stop(&c, SIGKILL);
	assert_true(WIFSIGNALED(st_kill) && WTERMSIG(st_kill) == SIGKILL);
	ts_bg_join(&bg);
	assert_int_not_equal(bg.rc, TS_OK);
	/* the crash left the evidence: a running run, none of its rows */
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs WHERE id = 2 AND"
	                                 " status = 'running'"),
	                 1);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM risk_scores WHERE run_id = 2"), 0);
	ts_core_start(&c, NULL);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs WHERE id = 2 AND"
	                                 " status = 'failed' AND error LIKE 'interrupted%'"),
	                 1);
	h = ts_health(&c);
	assert_non_null(h->latest_run);
	assert_int_equal(h->latest_run->run_id, 1);
	aml__v1__health_response__free_unpacked(h, NULL);
	top2 = ts_top(&c, 5, 0);
	assert_int_equal(top2->run_id, 1);
	assert_int_equal(top2->n_scores, top1->n_scores);
	for (size_t i = 0; i < top1->n_scores; i++) {
		assert_string_equal(top2->scores[i]->wallet, top1->scores[i]->wallet);
		assert_true(top2->scores[i]->risk_score == top1->scores[i]->risk_score);
		assert_int_equal(top2->scores[i]->n_hops, top1->scores[i]->n_hops);
	}
	aml__v1__top_scores_response__free_unpacked(top1, NULL);
	aml__v1__top_scores_response__free_unpacked(top2, NULL);
	/* and the next run completes and becomes latest */
	run = ts_score(&c, "{\"illicit_ratio\":0.01}");
	assert_int_equal(run->run->run_id, 3);
	assert_int_equal(run->run->wallets,
	                 th_db_int(conn, "SELECT count(*) FROM risk_scores WHERE run_id = 3"));
	aml__v1__run_score_response__free_unpacked(run, NULL);
	h = ts_health(&c);
	assert_int_equal(h->latest_run->run_id, 3);
	aml__v1__health_response__free_unpacked(h, NULL);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* SIGTERM while a run is being stored: the store is abandoned, the run marked
 * failed by the server itself, the caller answered CANCELLED, and the exit clean. */
static void
test_sigterm_mid_store(void **st)
{
	ts_core c;
	PGconn *conn;
	ts_bg bg;
	int status;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "big", 300000, 200000, 4321);
	ts_core_start(&c, NULL);
	ts_bg_score(&bg, &c, NULL);
	assert_true(ts_wait_storing(conn, 120000) > 0);
	status = ts_core_stop(&c, SIGTERM);
	if (!(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		ts_core_dump_log(&c);
		fail_msg("exit status %d after SIGTERM", status);
	}
	ts_bg_join(&bg);
	assert_int_equal(bg.rc, TS_CANCELLED);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs WHERE id = 1 AND"
	                                 " status = 'failed' AND error LIKE '%shutting down%'"),
	                 1);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM risk_scores"), 0);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* The run's rows as GetWalletScore answers them equal the engine's result
 * res, exactly (the same doubles), whether the core serves them from its
 * engine result or from a table loaded from PostgreSQL. */
static void
served_equals(ts_core *c, int64_t run, const core_run_result *res)
{
	for (uint32_t id = 0; id < core_run_result_count(res); id++) {
		Aml__V1__GetWalletScoreResponse *w = NULL;
		core_wallet_score ws;
		core_run_result_get(res, id, &ws);
		assert_int_equal(ts_wallet(c, ws.wallet, 0, &w), TS_OK);
		assert_int_equal(w->run_id, run);
		assert_string_equal(w->score->model, "flow_exposure/v1");
		assert_true(w->score->risk_score == ws.risk_score);
		assert_true(w->score->received_exposure == ws.received_exposure);
		assert_true(w->score->sent_exposure == ws.sent_exposure);
		assert_int_equal(w->score->in_degree, ws.in_degree);
		assert_int_equal(w->score->is_illicit, ws.is_illicit);
		assert_int_equal(w->score->n_flow_hops, ws.hops);
		for (unsigned k = 0; k < ws.hops; k++) {
			assert_true(w->score->flow_hops[k]->received == ws.received[k]);
			assert_true(w->score->flow_hops[k]->sent == ws.sent[k]);
		}
		aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	}
}

/* The engine's result of config (JSON) over every stored transaction with
 * labels illicit, scored here. The caller unrefs it. */
static core_run_result *
engine_result(PGconn *c, const char *config, const char *const *labels, size_t nlabels)
{
	char err[256];
	core_config cfg;
	core_labels *set = NULL;
	core_graph *g = NULL;
	core_run_result *res = NULL;
	PGresult *tx =
	        query(c, "SELECT sender, receiver, amount::float8 FROM transactions", 0, NULL);

	assert_int_equal(core_config_parse(&cfg, config, strlen(config), err, sizeof(err)), 0);
	assert_int_equal(core_labels_create(&set), 0);
	for (size_t i = 0; i < nlabels; i++)
		assert_int_equal(core_labels_add(set, labels[i], strlen(labels[i])), 0);
	g = graph_of(tx);
	assert_int_equal(core_score_run(&res, g, &cfg, set, 2, err, sizeof(err)), 0);
	core_graph_unref(g);
	core_labels_destroy(set);
	PQclear(tx);
	return res;
}

/* flow_exposure/v1 stored: rows equal the engine's (three configs of the
 * spec's flow-random60 vectors), and after a restart the latest run is served
 * the same from its rebuilt engine result (explain answers) and, when it
 * cannot be rebuilt, from the table loaded from risk_scores, in the engine's
 * TopScores order. */
static void
test_flow_stored(void **st)
{
	static const char *LABELS[] = {"w08", "w24", "w28", "w40"};
	static const char *CONFIGS[] = {
	        "{\"model\":\"flow_exposure/v1\"}",
	        "{\"model\":\"flow_exposure/v1\",\"illicit_ratio\":0.1,\"illicit_seed\":7,"
	        "\"use_labels\":false,\"hops\":4}",
	        "{\"model\":\"flow_exposure/v1\",\"hops\":10,\"side\":\"sent\","
	        "\"smoothing\":0.5}",
	};
	Aml__V1__ExplainWalletRequest ereq = AML__V1__EXPLAIN_WALLET_REQUEST__INIT;
	Aml__V1__ExplainWalletResponse *er = NULL;
	Aml__V1__TopScoresResponse *top;
	core_run_result *res;
	ts_core c;
	PGconn *conn;
	int64_t run = 0, end;
	char msg[256];
	int rc;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	assert_int_equal(ts_load_fixture(conn, "flow-random60.pb"), 240);
	for (size_t i = 0; i < 4; i++)
		ts_label(conn, LABELS[i]);
	ts_core_start(&c, NULL);
	for (size_t i = 0; i < 3; i++) {
		Aml__V1__RunScoreResponse *r = ts_score(&c, CONFIGS[i]);
		assert_string_equal(r->run->model, "flow_exposure/v1");
		run = r->run->run_id;
		aml__v1__run_score_response__free_unpacked(r, NULL);
		check_against_engine(conn, run);
	}
	/* the latest (hops 10, sent, smoothing 0.5) after a restart, rebuilt
	 * from its stored config and watermark: explain answers */
	res = engine_result(conn, CONFIGS[2], LABELS, 4);
	assert_int_equal(ts_core_stop(&c, SIGTERM), 0);
	ts_core_start(&c, NULL);
	ereq.wallet = "w01";
	end = th_now_ms() + 30000;
	while ((rc = ts_call(&c, "ExplainWallet", &ereq.base, (ProtobufCMessage **)&er, 10000, msg,
	                     sizeof(msg))) == TS_PRECONDITION &&
	       th_now_ms() < end)
		usleep(50000);
	assert_int_equal(rc, TS_OK);
	assert_int_equal(er->run_id, run);
	assert_string_equal(er->model, "flow_exposure/v1");
	assert_int_equal(er->score->n_flow_hops, 10);
	aml__v1__explain_wallet_response__free_unpacked(er, NULL);
	served_equals(&c, run, res);
	/* once more with its transactions gone, so the run cannot be rebuilt: the
	 * table loaded from risk_scores serves it, the same to the last bit */
	assert_int_equal(ts_core_stop(&c, SIGTERM), 0);
	ts_exec(conn, "DELETE FROM transactions");
	ts_core_start(&c, NULL);
	served_equals(&c, run, res);
	top = ts_top(&c, 100, 0);
	assert_int_equal(top->run_id, run);
	assert_int_equal(top->n_scores, 60);
	for (uint32_t i = 0; i < 60; i++) {
		core_wallet_score ws;
		core_run_result_get(res, core_run_result_order(res)[i], &ws);
		assert_string_equal(top->scores[i]->wallet, ws.wallet);
	}
	aml__v1__top_scores_response__free_unpacked(top, NULL);
	rc = ts_call(&c, "ExplainWallet", &ereq.base, (ProtobufCMessage **)&er, 10000, msg,
	             sizeof(msg));
	assert_int_equal(rc, TS_PRECONDITION);
	assert_non_null(strstr(msg, "loaded from the database"));
	core_run_result_unref(res);
	PQfinish(conn);
	ts_core_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_example),      cmocka_unit_test(test_equals_engine),
	        cmocka_unit_test(test_store_failure),     cmocka_unit_test(test_kill_mid_store),
	        cmocka_unit_test(test_sigterm_mid_store), cmocka_unit_test(test_flow_stored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
