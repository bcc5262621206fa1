/* server_rpc_test.c - amlrisk-core over RPC against a real PostgreSQL: every
 * RiskService method round trip for both models (flow_exposure/v1 runs served
 * from memory and, as older runs, from PostgreSQL; its explain adding up),
 * every error path (bad config, a key of the other model, unknown wallet and
 * run, out-of-bound arguments, RunScore during RunScore, garbage and unknown
 * methods straight on the socket), the deployment's default model
 * (SCORING_MODEL), reads answered correctly during a reload and a run, a
 * client that reconnects after a restart, and a database that goes away and
 * comes back. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "aml/v1/rpc.pb-c.h"
#include "srv_th.h"
#include "th.h"

#define CALL(c, m, req, resp)                                                                      \
	ts_call((c), (m), &(req).base, (ProtobufCMessage **)&(resp), 10000, msg, sizeof(msg))

/* TopScores naming the run of a list the caller holds (known_run_id):
 * asserts whether the core says it is current, the run and the rows sent. */
static void
top_known(ts_core *c, int64_t known, bool unchanged, int64_t run, size_t rows)
{
	Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
	Aml__V1__TopScoresResponse *top = NULL;
	char msg[256];

	req.known_run_id = known;
	assert_int_equal(ts_call(c, "TopScores", &req.base, (ProtobufCMessage **)&top, 10000, msg,
	                         sizeof(msg)),
	                 TS_OK);
	assert_int_equal(top->unchanged, unchanged);
	assert_int_equal(top->run_id, run);
	assert_int_equal(top->n_scores, rows);
	aml__v1__top_scores_response__free_unpacked(top, NULL);
}

static void
test_roundtrip(void **st)
{
	static const char *ORDER[] = {"A", "E", "B", "C", "D"};
	static const double SCORES[] = {1.0969655114602888, 0.9, 0.6363961030678927,
	                                0.5196152422706631, 0.3};
	ts_core c;
	PGconn *conn;
	char msg[512];
	Aml__V1__HealthResponse *h;
	Aml__V1__ReloadGraphResponse *rl;
	Aml__V1__RunScoreResponse *run;
	Aml__V1__TopScoresResponse *top;
	Aml__V1__GetWalletScoreResponse *w;
	Aml__V1__GetRunRequest greq = AML__V1__GET_RUN_REQUEST__INIT;
	Aml__V1__GetRunResponse *gr;
	Aml__V1__ListRunsRequest lreq = AML__V1__LIST_RUNS_REQUEST__INIT;
	Aml__V1__ListRunsResponse *lr;
	Aml__V1__ExplainWalletRequest ereq = AML__V1__EXPLAIN_WALLET_REQUEST__INIT;
	Aml__V1__ExplainWalletResponse *er;
	Aml__V1__WalletGraphRequest wreq = AML__V1__WALLET_GRAPH_REQUEST__INIT;
	Aml__V1__WalletGraphResponse *wr;
	Aml__V1__IngestionStatusRequest ireq = AML__V1__INGESTION_STATUS_REQUEST__INIT;
	Aml__V1__IngestionStatusResponse *ir;
	double sum = 0;

	(void)st;
	conn = ts_core_fixture(&c, 1, "spec-example.pb", "A", NULL);
	h = ts_health(&c);
	assert_string_equal(h->status, "ok");
	assert_true(h->database_ok);
	assert_true(h->graph->loaded);
	assert_int_equal(h->graph->wallets, 5);
	assert_int_equal(h->graph->edges, 5);
	assert_int_equal(h->graph->transactions, 6);
	assert_int_equal(h->graph->watermark, 6);
	assert_null(h->latest_run);
	assert_string_not_equal(h->version, "");
	aml__v1__health_response__free_unpacked(h, NULL);
	rl = ts_reload(&c);
	assert_int_equal(rl->graph->wallets, 5);
	assert_int_equal(rl->graph->watermark, 6);
	assert_true(rl->graph->loaded_at_us > 0);
	aml__v1__reload_graph_response__free_unpacked(rl, NULL);

	run = ts_score(&c, "{\"illicit_ratio\":0}");
	assert_int_equal(run->run->run_id, 1);
	assert_string_equal(run->run->status, "completed");
	assert_string_equal(run->run->model, "hop_exposure/v1");
	assert_non_null(strstr(run->run->config_json, "\"illicit_ratio\":0"));
	assert_non_null(strstr(run->run->tx_source, "\"watermark\": 6"));
	assert_true(run->run->completed_at_us >= run->run->created_at_us);
	aml__v1__run_score_response__free_unpacked(run, NULL);

	top = ts_top(&c, 0, 0);
	assert_int_equal(top->run_id, 1);
	assert_int_equal(top->n_scores, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(top->scores[i]->wallet, ORDER[i]);
		assert_true(ts_close(top->scores[i]->risk_score, SCORES[i], 1e-9));
		assert_int_equal(top->scores[i]->n_hops, 3);
	}
	aml__v1__top_scores_response__free_unpacked(top, NULL);
	/* a caller holding run 1's list is told it is still current, without rows;
	 * one holding another run's gets the rows */
	top_known(&c, 1, true, 1, 0);
	top_known(&c, 7, false, 1, 5);
	assert_int_equal(ts_wallet(&c, "C", 0, &w), TS_OK);
	assert_int_equal(w->run_id, 1);
	assert_int_equal(w->score->in_degree, 2);
	assert_int_equal(w->score->out_degree, 1);
	assert_false(w->score->is_illicit);
	assert_int_equal(w->score->hops[0]->illicit_count, 0);
	assert_int_equal(w->score->hops[1]->illicit_count, 1);
	assert_int_equal(w->score->hops[2]->illicit_count, 1);
	assert_true(w->score->hops[1]->weight == 0.6);
	aml__v1__get_wallet_score_response__free_unpacked(w, NULL);

	/* two more runs; the first is then read back from PostgreSQL */
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"illicit_ratio\":1}"), NULL);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"use_labels\":false,"
	                                                        "\"illicit_ratio\":0}"),
	                                           NULL);
	top = ts_top(&c, 2, 1);
	assert_int_equal(top->run_id, 1);
	assert_int_equal(top->n_scores, 2);
	assert_string_equal(top->scores[0]->wallet, "A");
	assert_string_equal(top->scores[1]->wallet, "E");
	assert_true(ts_close(top->scores[0]->risk_score, SCORES[0], 1e-9));
	assert_int_equal(top->scores[0]->hops[2]->illicit_count, 1);
	aml__v1__top_scores_response__free_unpacked(top, NULL);
	assert_int_equal(ts_wallet(&c, "B", 1, &w), TS_OK);
	assert_true(ts_close(w->score->risk_score, SCORES[2], 1e-9));
	aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	assert_int_equal(ts_wallet(&c, "B", 0, &w), TS_OK); /* latest: nothing illicit */
	assert_int_equal(w->run_id, 3);
	assert_true(w->score->risk_score == 0);
	aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	/* run 1's list is no longer the latest: the rows of run 3 come back */
	top_known(&c, 1, false, 3, 5);

	greq.run_id = 2;
	assert_int_equal(CALL(&c, "GetRun", greq, gr), TS_OK);
	assert_int_equal(gr->run->run_id, 2);
	assert_string_equal(gr->run->status, "completed");
	assert_int_equal(gr->run->illicit, 5);
	assert_non_null(strstr(gr->run->config_json, "\"illicit_ratio\":1"));
	aml__v1__get_run_response__free_unpacked(gr, NULL);
	lreq.limit = 2;
	assert_int_equal(CALL(&c, "ListRuns", lreq, lr), TS_OK);
	assert_int_equal(lr->n_runs, 2);
	assert_int_equal(lr->runs[0]->run_id, 3);
	assert_int_equal(lr->runs[1]->run_id, 2);
	assert_int_equal(lr->next_before_id, 2);
	lreq.before_id = lr->next_before_id;
	aml__v1__list_runs_response__free_unpacked(lr, NULL);
	assert_int_equal(CALL(&c, "ListRuns", lreq, lr), TS_OK);
	assert_int_equal(lr->n_runs, 1);
	assert_int_equal(lr->runs[0]->run_id, 1);
	assert_int_equal(lr->next_before_id, 0);
	aml__v1__list_runs_response__free_unpacked(lr, NULL);

	/* explain and graph views on the latest run (run 3 has S empty: rescore run 1's config) */
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"illicit_ratio\":0}"), NULL);
	ereq.wallet = "C";
	assert_int_equal(CALL(&c, "ExplainWallet", ereq, er), TS_OK);
	assert_int_equal(er->run_id, 4);
	assert_true(ts_close(er->score->risk_score, SCORES[3], 1e-9));
	assert_true(ts_close(er->normaliser, sqrt(3), 1e-12));
	assert_int_equal(er->n_hops, 3);
	assert_int_equal(er->hops[1]->exact_count, 1);
	assert_int_equal(er->hops[1]->n_sources, 1);
	assert_string_equal(er->hops[1]->sources[0]->wallet, "A");
	assert_int_equal(er->hops[1]->sources[0]->n_path, 2);
	assert_string_equal(er->hops[1]->sources[0]->path[0], "C");
	assert_string_equal(er->hops[1]->sources[0]->path[1], "A");
	for (size_t k = 0; k < er->n_hops; k++)
		sum += er->hops[k]->contribution;
	assert_true(ts_close(sum, er->score->risk_score, 1e-12));
	aml__v1__explain_wallet_response__free_unpacked(er, NULL);
	wreq.wallet = "C";
	wreq.hops = 1;
	assert_int_equal(CALL(&c, "WalletGraph", wreq, wr), TS_OK);
	assert_string_equal(wr->center, "C");
	assert_int_equal(wr->run_id, 4);
	assert_int_equal(wr->n_nodes, 4); /* C and A, B, D */
	assert_string_equal(wr->nodes[0]->wallet, "C");
	assert_int_equal(wr->nodes[0]->distance, 0);
	assert_true(ts_close(wr->nodes[0]->risk_score, SCORES[3], 1e-9));
	assert_int_equal(wr->n_edges, 4); /* A->B, A->C, B->C, C->D */
	assert_false(wr->truncated);
	aml__v1__wallet_graph_response__free_unpacked(wr, NULL);

	ts_exec(conn, "INSERT INTO ingestion_consumers (consumer_id, group_id, topic, consumed,"
	              " inserted, duplicates, dead_lettered, last_error, last_error_at)"
	              " VALUES ('c1', 'g', 'transactions', 10, 6, 3, 1, 'bad record', now())");
	ts_exec(conn, "INSERT INTO ingestion_offsets (topic, partition, consumer_id,"
	              " committed_offset, high_watermark) VALUES ('transactions', 0, 'c1', 10, 14),"
	              " ('transactions', 1, 'c1', 5, NULL)");
	assert_int_equal(CALL(&c, "IngestionStatus", ireq, ir), TS_OK);
	assert_int_equal(ir->consumed, 10);
	assert_int_equal(ir->inserted, 6);
	assert_int_equal(ir->duplicates, 3);
	assert_int_equal(ir->dead_lettered, 1);
	assert_int_equal(ir->transactions_total, 6);
	assert_int_equal(ir->max_sequence, 6);
	assert_string_equal(ir->last_error, "bad record");
	assert_int_equal(ir->n_partitions, 2);
	assert_int_equal(ir->partitions[0]->lag, 4);
	assert_int_equal(ir->partitions[1]->lag, -1);
	aml__v1__ingestion_status_response__free_unpacked(ir, NULL);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* Expects code and, when given, a message containing part. */
static void
expect(int rc, int code, const char *msg, const char *part)
{
	if (rc != code || (part != NULL && strstr(msg, part) == NULL))
		fail_msg("got status %d \"%s\", expected %d with \"%s\"", rc, msg, code,
		         part != NULL ? part : "");
}

static Aml__V1__RpcResponse *
raw_envelope(const char *url, const char *method, const void *payload, size_t plen)
{
	Aml__V1__RpcRequest req = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;
	uint8_t buf[1024];

	call.request_id = 42;
	call.method = (char *)method;
	call.payload.data = (uint8_t *)payload;
	call.payload.len = plen;
	req.call = &call;
	ts_auth(&req);
	assert_true(aml__v1__rpc_request__get_packed_size(&req) < sizeof(buf));
	return ts_raw(url, buf, aml__v1__rpc_request__pack(&req, buf));
}

static void
test_errors(void **st)
{
	ts_core c;
	PGconn *conn;
	char msg[512];
	Aml__V1__RunScoreRequest sreq = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *sr = NULL;
	Aml__V1__TopScoresRequest treq = AML__V1__TOP_SCORES_REQUEST__INIT;
	Aml__V1__TopScoresResponse *tr = NULL;
	Aml__V1__GetWalletScoreResponse *w = NULL;
	Aml__V1__GetRunRequest greq = AML__V1__GET_RUN_REQUEST__INIT;
	Aml__V1__GetRunResponse *gr = NULL;
	Aml__V1__ListRunsRequest lreq = AML__V1__LIST_RUNS_REQUEST__INIT;
	Aml__V1__ListRunsResponse *lr = NULL;
	Aml__V1__ExplainWalletRequest ereq = AML__V1__EXPLAIN_WALLET_REQUEST__INIT;
	Aml__V1__ExplainWalletResponse *er = NULL;
	Aml__V1__WalletGraphRequest wreq = AML__V1__WALLET_GRAPH_REQUEST__INIT;
	Aml__V1__WalletGraphResponse *wr = NULL;
	Aml__V1__RpcResponse *raw;
	static const uint8_t GARBAGE[] = {0xff, 0xff, 0xff, 0x07, 'g', 'a', 'r', 'b', 0x00, 0x9c};

	(void)st;
	conn = ts_core_fixture(&c, 0, "spec-example.pb", "A", NULL);
	/* before any run */
	expect(CALL(&c, "TopScores", treq, tr), TS_PRECONDITION, msg, "no completed run");
	ereq.wallet = "A";
	expect(CALL(&c, "ExplainWallet", ereq, er), TS_PRECONDITION, msg, "no completed run");
	expect(ts_wallet(&c, "A", 0, &w), TS_PRECONDITION, "", NULL);
	/* config errors name the key, and nothing is written */
	sreq.config_overrides_json = "{\"bogus_key\": 1}";
	expect(CALL(&c, "RunScore", sreq, sr), TS_INVALID, msg, "bogus_key");
	sreq.config_overrides_json = "{\"illicit_ratio\": 2}";
	expect(CALL(&c, "RunScore", sreq, sr), TS_INVALID, msg, "illicit_ratio");
	sreq.config_overrides_json = "{\"hop_weights\": [1, -1]}";
	expect(CALL(&c, "RunScore", sreq, sr), TS_INVALID, msg, "hop_weights");
	sreq.config_overrides_json = "{\"direction\": \"sideways\"}";
	expect(CALL(&c, "RunScore", sreq, sr), TS_INVALID, msg, "direction");
	sreq.config_overrides_json = "not json";
	expect(CALL(&c, "RunScore", sreq, sr), TS_INVALID, msg, NULL);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"), 0);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"illicit_ratio\":0}"), NULL);
	/* reads */
	expect(ts_wallet(&c, "nope", 0, &w), TS_NOT_FOUND, "", NULL);
	expect(ts_wallet(&c, "", 0, &w), TS_INVALID, "", NULL);
	expect(ts_wallet(&c, "A", 99, &w), TS_NOT_FOUND, "", NULL);
	expect(ts_wallet(&c, "nope", 1, &w), TS_NOT_FOUND, "", NULL);
	treq.n = 1001;
	expect(CALL(&c, "TopScores", treq, tr), TS_INVALID, msg, "n: at most 1000");
	treq.n = 1;
	treq.run_id = 99;
	expect(CALL(&c, "TopScores", treq, tr), TS_NOT_FOUND, msg, "run 99");
	treq.run_id = -1;
	expect(CALL(&c, "TopScores", treq, tr), TS_INVALID, msg, "run_id");
	greq.run_id = 99;
	expect(CALL(&c, "GetRun", greq, gr), TS_NOT_FOUND, msg, "run 99");
	greq.run_id = 0;
	expect(CALL(&c, "GetRun", greq, gr), TS_INVALID, msg, "run_id");
	lreq.limit = 101;
	expect(CALL(&c, "ListRuns", lreq, lr), TS_INVALID, msg, "limit");
	ereq.wallet = "nope";
	expect(CALL(&c, "ExplainWallet", ereq, er), TS_NOT_FOUND, msg, "nope");
	ereq.wallet = "A";
	ereq.max_sources_per_hop = 1000;
	expect(CALL(&c, "ExplainWallet", ereq, er), TS_INVALID, msg, "max_sources_per_hop");
	wreq.wallet = "A";
	wreq.hops = 7;
	expect(CALL(&c, "WalletGraph", wreq, wr), TS_INVALID, msg, "hops");
	wreq.hops = 1;
	wreq.node_limit = 1000000;
	expect(CALL(&c, "WalletGraph", wreq, wr), TS_INVALID, msg, "node_limit");
	wreq.node_limit = 0;
	wreq.edge_limit = 1000000;
	expect(CALL(&c, "WalletGraph", wreq, wr), TS_INVALID, msg, "edge_limit");
	wreq.edge_limit = 0;
	wreq.wallet = "nope";
	expect(CALL(&c, "WalletGraph", wreq, wr), TS_NOT_FOUND, msg, "nope");
	/* straight on the socket: garbage, an unknown method and service, a payload
	 * that does not decode; the server answers each and goes on serving */
	raw = ts_raw(c.rpc_url, GARBAGE, sizeof(GARBAGE));
	assert_int_equal(raw->reply->status, TS_INVALID);
	aml__v1__rpc_response__free_unpacked(raw, NULL);
	raw = raw_envelope(c.rpc_url, "aml.v1.RiskService/Nope", NULL, 0);
	assert_int_equal(raw->reply->status, TS_UNIMPLEMENTED);
	assert_int_equal(raw->reply->request_id, 42);
	aml__v1__rpc_response__free_unpacked(raw, NULL);
	raw = raw_envelope(c.rpc_url, "aml.v1.NoService/Health", NULL, 0);
	assert_int_equal(raw->reply->status, TS_UNIMPLEMENTED);
	aml__v1__rpc_response__free_unpacked(raw, NULL);
	raw = raw_envelope(c.rpc_url, "aml.v1.RiskService/GetWalletScore", GARBAGE,
	                   sizeof(GARBAGE));
	assert_int_equal(raw->reply->status, TS_INVALID);
	aml__v1__rpc_response__free_unpacked(raw, NULL);
	raw = raw_envelope(c.rpc_url, "aml.v1.RiskService/Health", NULL, 0);
	assert_int_equal(raw->reply->status, TS_OK);
	aml__v1__rpc_response__free_unpacked(raw, NULL);
	aml__v1__health_response__free_unpacked(ts_health(&c), NULL);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* ---- reads during writes --------------------------------------------- */

#define OBS_MAX 200000

typedef struct observer {
	ts_core *c;
	atomic_bool stop;
	int64_t run[OBS_MAX];
	double score[OBS_MAX];
	size_t n;
	int64_t max_ms;
	int failures;
	char failure[256];
} observer;

static void *
observer_main(void *arg)
{
	observer *o = arg;

	while (!atomic_load(&o->stop) && o->n < OBS_MAX) {
		Aml__V1__GetWalletScoreResponse *w = NULL;
		Aml__V1__HealthRequest hreq = AML__V1__HEALTH_REQUEST__INIT;
		Aml__V1__HealthResponse *h = NULL;
		char msg[256];
		int64_t t0 = th_now_ms(), dt;
		int rc = ts_wallet(o->c, "w1", 0, &w);
		if (rc == TS_OK) {
			o->run[o->n] = w->run_id;
			o->score[o->n] = w->score->risk_score;
			o->n++;
			aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
		} else if (o->failures++ == 0) {
			snprintf(o->failure, sizeof(o->failure), "GetWalletScore: %d", rc);
		}
		rc = ts_call(o->c, "Health", &hreq.base, (ProtobufCMessage **)&h, 10000, msg,
		             sizeof(msg));
		if (rc == TS_OK)
			aml__v1__health_response__free_unpacked(h, NULL);
		else if (o->failures++ == 0)
			snprintf(o->failure, sizeof(o->failure), "Health: %d %.200s", rc, msg);
		dt = th_now_ms() - t0;
		if (dt > o->max_ms)
			o->max_ms = dt;
		usleep(1000);
	}
	return NULL;
}

static void
test_reads_during_writes(void **st)
{
	ts_core c;
	PGconn *conn;
	pthread_t ot;
	observer *o = calloc(1, sizeof(*o));
	ts_bg bg;
	Aml__V1__RunScoreRequest sreq = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *sr = NULL;
	Aml__V1__ReloadGraphRequest rreq = AML__V1__RELOAD_GRAPH_REQUEST__INIT;
	Aml__V1__ReloadGraphResponse *rr = NULL;
	char msg[512];
	size_t before_reload, before_run;
	int aborted = 0;
	double s1, s2;

	(void)st;
	assert_non_null(o);
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	ts_load_generated(conn, "g", 300000, 200000, 77);
	ts_core_start(&c, NULL);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, NULL), NULL);
	o->c = &c;
	assert_int_equal(pthread_create(&ot, NULL, observer_main, o), 0);
	for (int64_t end = th_now_ms() + 10000; o->n == 0 && th_now_ms() < end;)
		usleep(1000); /* the observer's first answer, however loaded the machine */
	before_reload = o->n;
	aml__v1__reload_graph_response__free_unpacked(ts_reload(&c), NULL);
	before_run = o->n;
	ts_bg_score(&bg, &c, "{\"illicit_ratio\":0.2}");
	/* once run 2 is storing, a second RunScore and a ReloadGraph are refused */
	assert_true(ts_wait_storing(conn, 120000) > 0);
	sreq.config_overrides_json = "";
	expect(CALL(&c, "RunScore", sreq, sr), TS_ABORTED, msg, "already running");
	expect(CALL(&c, "ReloadGraph", rreq, rr), TS_ABORTED, msg, "already running");
	aborted = 1;
	ts_bg_join(&bg);
	if (bg.rc != TS_OK) {
		ts_core_dump_log(&c);
		fail_msg("the background RunScore: status %d: %s", bg.rc, bg.msg);
	}
	assert_int_equal(bg.run_id, 2);
	usleep(100000);
	atomic_store(&o->stop, true);
	pthread_join(ot, NULL);
	if (o->failures != 0)
		fail_msg("%d reads failed, first: %s", o->failures, o->failure);
	/* answered throughout, never held up behind the writer, always right */
	assert_true(before_reload > 0);
	assert_true(before_run > before_reload);
	assert_true(o->n > before_run);
	assert_true(o->max_ms < 2000);
	s1 = ts_stored_score(conn, 1, "w1");
	s2 = ts_stored_score(conn, 2, "w1");
	for (size_t i = 0; i < o->n; i++) {
		assert_true(o->run[i] == 1 || o->run[i] == 2);
		assert_true(o->score[i] == (o->run[i] == 1 ? s1 : s2));
		assert_true(i == 0 || o->run[i] >= o->run[i - 1]);
	}
	assert_int_equal(o->run[o->n - 1], 2);
	assert_true(aborted);
	free(o);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* The same client works again after the server restarts; the restarted server
 * serves run 1 from PostgreSQL and rebuilds its engine result at run 1's
 * watermark although newer transactions have arrived since. */
static void
test_client_reconnects(void **st)
{
	ts_core c;
	PGconn *conn;
	Aml__V1__HealthRequest req = AML__V1__HEALTH_REQUEST__INIT;
	Aml__V1__HealthResponse *h = NULL;
	Aml__V1__ExplainWalletRequest ereq = AML__V1__EXPLAIN_WALLET_REQUEST__INIT;
	Aml__V1__ExplainWalletResponse *er = NULL;
	char msg[512];
	int st_stop, rc = -1;
	int64_t end;

	(void)st;
	conn = ts_core_fixture(&c, 1, "spec-example.pb", "A", NULL);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"illicit_ratio\":0}"), NULL);
	aml__v1__health_response__free_unpacked(ts_health(&c), NULL);
	st_stop = ts_core_stop(&c, SIGTERM);
	assert_true(WIFEXITED(st_stop) && WEXITSTATUS(st_stop) == 0);
	rc = ts_call(&c, "Health", &req.base, (ProtobufCMessage **)&h, 300, msg, sizeof(msg));
	assert_true(rc == TS_UNAVAILABLE || rc == TS_DEADLINE);
	ts_load_generated(conn, "later", 50, 10, 5);
	ts_core_start(&c, NULL);
	/* the same client, no new connection made by the test */
	end = th_now_ms() + 10000;
	do {
		rc = ts_call(&c, "Health", &req.base, (ProtobufCMessage **)&h, 1000, msg,
		             sizeof(msg));
	} while (rc != TS_OK && th_now_ms() < end);
	assert_int_equal(rc, TS_OK);
	assert_non_null(h->latest_run); /* run 1 came back from PostgreSQL */
	assert_int_equal(h->latest_run->run_id, 1);
	assert_int_equal(h->latest_run->watermark, 6);
	assert_int_equal(h->graph->watermark, 56);
	aml__v1__health_response__free_unpacked(h, NULL);
	/* explain needs run 1's engine result, rebuilt on a graph at watermark 6 */
	ereq.wallet = "C";
	end = th_now_ms() + 20000;
	while ((rc = CALL(&c, "ExplainWallet", ereq, er)) == TS_PRECONDITION && th_now_ms() < end)
		usleep(50000);
	assert_int_equal(rc, TS_OK);
	assert_int_equal(er->run_id, 1);
	assert_true(ts_close(er->score->risk_score, 0.5196152422706631, 1e-9));
	assert_int_equal(er->score->in_degree, 2);
	aml__v1__explain_wallet_response__free_unpacked(er, NULL);
	{
		char line[1024];
		int seen = 0;
		FILE *f = fopen(c.log, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f) != NULL)
			seen |= strstr(line, "graph.loaded reason=latest_run") != NULL &&
			        strstr(line, "watermark=6 ") != NULL;
		fclose(f);
		assert_true(seen);
	}
	PQfinish(conn);
	ts_core_fini(&c);
}

/* The database refuses connections, then comes back. */
static void
test_database_away(void **st)
{
	ts_core c;
	PGconn *conn, *admin;
	char sql[256], msg[512], db[64];
	Aml__V1__ListRunsRequest lreq = AML__V1__LIST_RUNS_REQUEST__INIT;
	Aml__V1__ListRunsResponse *lr = NULL;
	Aml__V1__RunScoreRequest sreq = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *sr = NULL;
	Aml__V1__GetWalletScoreResponse *w = NULL;
	Aml__V1__HealthResponse *h;
	int64_t end;
	int rc;

	(void)st;
	conn = ts_core_fixture(&c, 0, "spec-example.pb", "A", NULL);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"illicit_ratio\":0}"), NULL);
	admin = th_db_connect(th_env("DATABASE_URL"));
	snprintf(db, sizeof(db), "%s", PQdb(conn));
	snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false", db);
	ts_exec(admin, sql);
	snprintf(sql, sizeof(sql),
	         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'"
	         " AND pid <> pg_backend_pid()",
	         db);
	PQfinish(conn);
	ts_exec(admin, sql);
	expect(CALL(&c, "ListRuns", lreq, lr), TS_UNAVAILABLE, msg, "database");
	sreq.config_overrides_json = "";
	expect(CALL(&c, "RunScore", sreq, sr), TS_UNAVAILABLE, msg, "database");
	/* memory still answers */
	assert_int_equal(ts_wallet(&c, "A", 0, &w), TS_OK);
	aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	end = th_now_ms() + 10000;
	for (;;) {
		h = ts_health(&c);
		if (!h->database_ok || th_now_ms() > end)
			break;
		aml__v1__health_response__free_unpacked(h, NULL);
		usleep(50000);
	}
	assert_false(h->database_ok);
	assert_string_equal(h->status, "degraded");
	assert_string_not_equal(h->database_error, "");
	assert_int_equal(h->latest_run->run_id, 1);
	aml__v1__health_response__free_unpacked(h, NULL);
	snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true", db);
	ts_exec(admin, sql);
	PQfinish(admin);
	end = th_now_ms() + 10000;
	do {
		rc = CALL(&c, "ListRuns", lreq, lr);
		if (rc != TS_OK)
			usleep(50000);
	} while (rc != TS_OK && th_now_ms() < end);
	assert_int_equal(rc, TS_OK);
	assert_int_equal(lr->n_runs, 1);
	aml__v1__list_runs_response__free_unpacked(lr, NULL);
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"illicit_ratio\":0}"), NULL);
	end = th_now_ms() + 10000;
	for (;;) {
		h = ts_health(&c);
		if (h->database_ok || th_now_ms() > end)
			break;
		aml__v1__health_response__free_unpacked(h, NULL);
		usleep(50000);
	}
	assert_true(h->database_ok);
	assert_int_equal(h->latest_run->run_id, 2);
	aml__v1__health_response__free_unpacked(h, NULL);
	ts_core_fini(&c);
}

/* Every row of a TopScores answer is the flow example's, in its order. */
static void
expect_flow_top(const Aml__V1__TopScoresResponse *top, int64_t run)
{
	assert_int_equal(top->run_id, run);
	assert_int_equal(top->n_scores, TS_FLOW_WALLETS);
	for (size_t i = 0; i < TS_FLOW_WALLETS; i++)
		ts_expect_flow(top->scores[i], &TS_FLOW_EXAMPLE[i]);
}

/* TopScores and GetWalletScore of every wallet, asking for run asked (0 = the
 * latest), answer run with the flow example's rows. */
static void
expect_flow_run(ts_core *c, int64_t asked, int64_t run)
{
	Aml__V1__TopScoresResponse *top = ts_top(c, 0, asked);
	Aml__V1__GetWalletScoreResponse *w = NULL;

	expect_flow_top(top, run);
	aml__v1__top_scores_response__free_unpacked(top, NULL);
	for (size_t i = 0; i < TS_FLOW_WALLETS; i++) {
		assert_int_equal(ts_wallet(c, TS_FLOW_EXAMPLE[i].wallet, asked, &w), TS_OK);
		assert_int_equal(w->run_id, run);
		ts_expect_flow(w->score, &TS_FLOW_EXAMPLE[i]);
		aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	}
}

/* The explain of wallet in the latest (flow) run: its contributors and
 * others add up to the score, each source is illicit (X here) and each walk
 * runs from the source to the wallet (received) or from the wallet to the
 * source (sent). Returns how many contributors of each side were listed. */
static void
expect_flow_explain(ts_core *c, const ts_flow_row *e, int64_t run, size_t *received, size_t *sent)
{
	Aml__V1__ExplainWalletRequest req = AML__V1__EXPLAIN_WALLET_REQUEST__INIT;
	Aml__V1__ExplainWalletResponse *r = NULL;
	char msg[512];
	double sum;

	req.wallet = (char *)e->wallet;
	assert_int_equal(CALL(c, "ExplainWallet", req, r), TS_OK);
	assert_int_equal(r->run_id, run);
	assert_string_equal(r->model, "flow_exposure/v1");
	ts_expect_flow(r->score, e);
	assert_non_null(strstr(r->config_json, "\"model\":\"flow_exposure/v1\""));
	assert_int_equal(r->n_hops, 0); /* hop_exposure/v1's per-hop counts */
	assert_false(r->capped);
	assert_false(r->truncated);
	sum = r->others;
	*received = *sent = 0;
	for (size_t i = 0; i < r->n_contributors; i++) {
		const Aml__V1__ExplainContributor *k = r->contributors[i];
		bool in = strcmp(k->side, "received") == 0;
		assert_true(in || strcmp(k->side, "sent") == 0);
		assert_string_equal(k->source, "X");
		assert_true(k->n_walk >= 2);
		assert_string_equal(k->walk[0], in ? "X" : e->wallet);
		assert_string_equal(k->walk[k->n_walk - 1], in ? e->wallet : "X");
		assert_true(k->contribution > 0 && k->walk_weight > 0);
		assert_true(k->walk_weight <= k->contribution * (1 + 1e-12));
		assert_true(i == 0 || k->contribution <= r->contributors[i - 1]->contribution);
		sum += k->contribution;
		*received += in;
		*sent += !in;
	}
	if (fabs(sum - r->score->risk_score) > 1e-9 * fmax(1.0, r->score->risk_score))
		fail_msg("%s: contributors + others = %.17g, score %.17g", e->wallet, sum,
		         r->score->risk_score);
	assert_true(fabs(r->others) <= 1e-12);
	aml__v1__explain_wallet_response__free_unpacked(r, NULL);
}

/* flow_exposure/v1 through every read: the run, its rows from memory, then
 * (once a later run is latest) from PostgreSQL, its explain and graph view;
 * a hop run between them answers in its own shape. */
static void
test_flow_roundtrip(void **st)
{
	ts_core c;
	PGconn *conn;
	char msg[512];
	Aml__V1__RunScoreResponse *run;
	Aml__V1__GetWalletScoreResponse *w;
	Aml__V1__GetRunRequest greq = AML__V1__GET_RUN_REQUEST__INIT;
	Aml__V1__GetRunResponse *gr;
	Aml__V1__WalletGraphRequest wreq = AML__V1__WALLET_GRAPH_REQUEST__INIT;
	Aml__V1__WalletGraphResponse *wr;
	Aml__V1__HealthResponse *h;
	size_t rec, snt;

	(void)st;
	conn = ts_core_fixture(&c, 0, "flow-example.pb", "X", NULL);
	run = ts_score(&c, "{\"model\": \"flow_exposure/v1\"}");
	assert_int_equal(run->run->run_id, 1);
	assert_string_equal(run->run->model, "flow_exposure/v1");
	assert_int_equal(run->run->wallets, TS_FLOW_WALLETS);
	assert_int_equal(run->run->illicit, 1);
	/* the full effective config, every key of the model and none of the other's */
	assert_non_null(strstr(run->run->config_json, "\"hops\":6"));
	assert_non_null(strstr(run->run->config_json, "\"side\":\"both\""));
	assert_non_null(strstr(run->run->config_json, "\"smoothing\":1"));
	assert_non_null(strstr(run->run->config_json, "\"illicit_ratio\":0"));
	assert_null(strstr(run->run->config_json, "hop_weights"));
	aml__v1__run_score_response__free_unpacked(run, NULL);
	h = ts_health(&c);
	assert_string_equal(h->latest_run->model, "flow_exposure/v1");
	aml__v1__health_response__free_unpacked(h, NULL);

	expect_flow_run(&c, 0, 1); /* from memory */
	/* A: received from X directly, sent to X through C and E */
	expect_flow_explain(&c, &TS_FLOW_EXAMPLE[1], 1, &rec, &snt);
	assert_int_equal(rec, 1);
	assert_int_equal(snt, 1);
	/* B: only its sent value reaches X */
	expect_flow_explain(&c, &TS_FLOW_EXAMPLE[5], 1, &rec, &snt);
	assert_int_equal(rec, 0);
	assert_int_equal(snt, 1);
	expect_flow_explain(&c, &TS_FLOW_EXAMPLE[6], 1, &rec, &snt); /* F: nothing */
	assert_int_equal(rec + snt, 0);
	wreq.wallet = "A";
	wreq.hops = 1;
	assert_int_equal(CALL(&c, "WalletGraph", wreq, wr), TS_OK);
	assert_int_equal(wr->run_id, 1);
	assert_int_equal(wr->n_nodes, 5); /* A and X, B, C, D */
	assert_string_equal(wr->nodes[0]->wallet, "A");
	assert_true(ts_close(wr->nodes[0]->risk_score, TS_FLOW_EXAMPLE[1].score, 1e-9));
	aml__v1__wallet_graph_response__free_unpacked(wr, NULL);

	/* a hop run is latest now: it answers in its own shape, and run 1 is read
	 * back from PostgreSQL */
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"illicit_ratio\": 0}"), NULL);
	assert_int_equal(ts_wallet(&c, "A", 0, &w), TS_OK);
	assert_int_equal(w->run_id, 2);
	assert_string_equal(w->score->model, "");
	assert_int_equal(w->score->n_flow_hops, 0);
	assert_int_equal(w->score->n_hops, 3);
	aml__v1__get_wallet_score_response__free_unpacked(w, NULL);
	expect_flow_run(&c, 1, 1); /* from PostgreSQL */
	greq.run_id = 1;
	assert_int_equal(CALL(&c, "GetRun", greq, gr), TS_OK);
	assert_string_equal(gr->run->model, "flow_exposure/v1");
	assert_non_null(strstr(gr->run->config_json, "\"side\":\"both\""));
	aml__v1__get_run_response__free_unpacked(gr, NULL);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* A config naming a model takes that model's keys only: a key of the other
 * model is INVALID_ARGUMENT naming it, and nothing is written. */
static void
test_flow_config_errors(void **st)
{
	static const struct {
		const char *json, *key;
	} BAD[] = {
	        {"{\"model\":\"flow_exposure/v1\",\"hop_weights\":[1,0.5]}", "hop_weights"},
	        {"{\"model\":\"flow_exposure/v1\",\"direction\":\"in\"}", "direction"},
	        {"{\"model\":\"flow_exposure/v1\",\"count\":\"exact\"}", "count"},
	        {"{\"model\":\"flow_exposure/v1\",\"degree_normalize\":false}", "degree_normalize"},
	        {"{\"model\":\"flow_exposure/v1\",\"hops\":33}", "hops"},
	        {"{\"model\":\"flow_exposure/v1\",\"hops\":0}", "hops"},
	        {"{\"model\":\"flow_exposure/v1\",\"side\":\"up\"}", "side"},
	        {"{\"model\":\"flow_exposure/v1\",\"smoothing\":-1}", "smoothing"},
	        {"{\"model\":\"flow_exposure/v1\",\"bogus\":1}", "bogus"},
	        {"{\"hops\":3}", "hops"}, /* the default model is hop_exposure/v1 */
	        {"{\"side\":\"sent\"}", "side"},
	        {"{\"model\":\"hop_exposure/v1\",\"smoothing\":1}", "smoothing"},
	        {"{\"model\":\"flow_exposure/v2\"}", "model"},
	};
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *r = NULL;
	ts_core c;
	PGconn *conn;
	char msg[512];

	(void)st;
	conn = ts_core_fixture(&c, 0, "flow-example.pb", "X", NULL);
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		req.config_overrides_json = (char *)BAD[i].json;
		expect(CALL(&c, "RunScore", req, r), TS_INVALID, msg, BAD[i].key);
	}
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"), 0);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* SCORING_MODEL chooses the model of a RunScore without a body or without a
 * "model" key; a body naming the other model starts from that model's
 * defaults; a bad value stops start-up with a message naming it. */
static void
test_scoring_model_default(void **st)
{
	ts_core c;
	PGconn *conn;
	char msg[512], line[512];
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *run = NULL;
	Aml__V1__TopScoresResponse *top;
	int status, seen = 0;
	pid_t pid;
	FILE *f;

	(void)st;
	conn = ts_core_fixture(&c, 0, "flow-example.pb", "X",
	                       (char *const[]){"SCORING_MODEL=flow_exposure/v1", NULL});
	run = ts_score(&c, NULL);
	assert_string_equal(run->run->model, "flow_exposure/v1");
	aml__v1__run_score_response__free_unpacked(run, NULL);
	top = ts_top(&c, 0, 0);
	expect_flow_top(top, 1);
	aml__v1__top_scores_response__free_unpacked(top, NULL);
	run = ts_score(&c, "{\"hops\": 2, \"side\": \"received\"}");
	assert_string_equal(run->run->model, "flow_exposure/v1");
	assert_non_null(strstr(run->run->config_json, "\"hops\":2"));
	aml__v1__run_score_response__free_unpacked(run, NULL);
	req.config_overrides_json = "{\"hop_weights\": [1, 0.5]}";
	expect(CALL(&c, "RunScore", req, run), TS_INVALID, msg, "hop_weights");
	/* hop_exposure/v1 named: its defaults (illicit_ratio 0.05), not flow's 0 */
	run = ts_score(&c, "{\"model\": \"hop_exposure/v1\"}");
	assert_string_equal(run->run->model, "hop_exposure/v1");
	assert_non_null(strstr(run->run->config_json, "\"illicit_ratio\":0.05"));
	assert_non_null(strstr(run->run->config_json, "\"hop_weights\":[1.0,0.6,0.3]"));
	aml__v1__run_score_response__free_unpacked(run, NULL);
	assert_int_equal(ts_core_stop(&c, SIGTERM), 0);
	/* the flag of the same meaning, over the environment */
	ts_core_start_args(
	        &c, (char *const[]){"amlrisk-core", "--scoring-model", "hop_exposure/v1", NULL},
	        (char *const[]){"SCORING_MODEL=flow_exposure/v1", NULL});
	run = ts_score(&c, NULL);
	assert_string_equal(run->run->model, "hop_exposure/v1");
	aml__v1__run_score_response__free_unpacked(run, NULL);
	assert_int_equal(ts_core_stop(&c, SIGTERM), 0);
	/* a bad value: exit 2 naming it, before anything starts */
	pid = th_spawn("amlrisk-core", NULL,
	               (char *const[]){"SCORING_MODEL=flow_exposure", "DATABASE_URL=x", NULL},
	               c.log);
	status = th_stop(pid, 0, 10000);
	assert_true(status != -1 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_non_null(f = fopen(c.log, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		seen |= strstr(line, "SCORING_MODEL: 'flow_exposure' is not a scoring model") !=
		        NULL;
	fclose(f);
	assert_true(seen);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* EXPLAIN_WORK_MAX and GRAPH_WORK_MAX: a hub of 1500 spokes (each with a
 * wallet behind it) explained and drawn under a bound of 1000 arcs says
 * capped; a wallet at the rim, under the bound, does not; a bound out of
 * range stops start-up. */
static void
test_work_bounds(void **st)
{
	ts_core c;
	PGconn *conn;
	PGresult *res;
	char msg[512];
	Aml__V1__ExplainWalletRequest ereq = AML__V1__EXPLAIN_WALLET_REQUEST__INIT;
	Aml__V1__ExplainWalletResponse *er = NULL;
	Aml__V1__WalletGraphRequest wreq = AML__V1__WALLET_GRAPH_REQUEST__INIT;
	Aml__V1__WalletGraphResponse *wr = NULL;
	char line[512];
	int status, seen = 0;
	pid_t pid;
	FILE *f;

	(void)st;
	ts_core_init(&c, 0);
	conn = th_db_connect(c.db_url);
	res = PQexec(conn,
	             "INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\")"
	             " SELECT 'h' || i, 'H', 's' || i, 1, now() FROM generate_series(1, 1500) i"
	             " UNION ALL SELECT 'r' || i, 's' || i, 't' || i, 1, now()"
	             " FROM generate_series(1, 1500) i");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	ts_core_start(&c, (char *const[]){"EXPLAIN_WORK_MAX=1000", "GRAPH_WORK_MAX=1000", NULL});
	aml__v1__run_score_response__free_unpacked(ts_score(&c, "{\"illicit_ratio\":0.5}"), NULL);
	ereq.wallet = "H";
	assert_int_equal(CALL(&c, "ExplainWallet", ereq, er), TS_OK);
	assert_true(er->capped);
	assert_true(er->n_hops == 3 && er->hops[1]->exact_count == 0);
	aml__v1__explain_wallet_response__free_unpacked(er, NULL);
	ereq.wallet = "t7";
	assert_int_equal(CALL(&c, "ExplainWallet", ereq, er), TS_OK);
	assert_false(er->capped);
	aml__v1__explain_wallet_response__free_unpacked(er, NULL);
	wreq.wallet = "H";
	wreq.hops = 2;
	wreq.node_limit = 2000;
	assert_int_equal(CALL(&c, "WalletGraph", wreq, wr), TS_OK);
	assert_true(wr->capped);
	assert_true(wr->truncated);
	assert_int_equal(wr->n_nodes, 1); /* the hub's 1500 arcs pass the bound */
	aml__v1__wallet_graph_response__free_unpacked(wr, NULL);
	/* 2 hops from the rim reach the hub, whose 1500 out-arcs the edge
	 * collection would read: capped too; 1 hop stays under the bound */
	wreq.wallet = "t7";
	assert_int_equal(CALL(&c, "WalletGraph", wreq, wr), TS_OK);
	assert_true(wr->capped);
	aml__v1__wallet_graph_response__free_unpacked(wr, NULL);
	wreq.hops = 1;
	assert_int_equal(CALL(&c, "WalletGraph", wreq, wr), TS_OK);
	assert_false(wr->capped);
	assert_false(wr->truncated);
	assert_int_equal(wr->n_nodes, 2);
	aml__v1__wallet_graph_response__free_unpacked(wr, NULL);
	assert_int_equal(ts_core_stop(&c, SIGTERM), 0);
	/* below the range: exit 2 naming it */
	pid = th_spawn("amlrisk-core", NULL,
	               (char *const[]){"GRAPH_WORK_MAX=999", "DATABASE_URL=x", NULL}, c.log);
	status = th_stop(pid, 0, 10000);
	assert_true(status != -1 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	assert_non_null(f = fopen(c.log, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		seen |= strstr(line, "GRAPH_WORK_MAX: '999' is not an integer in [1000,") != NULL;
	fclose(f);
	assert_true(seen);
	PQfinish(conn);
	ts_core_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_flow_roundtrip),
	        cmocka_unit_test(test_flow_config_errors),
	        cmocka_unit_test(test_scoring_model_default),
	        cmocka_unit_test(test_reads_during_writes),
	        cmocka_unit_test(test_client_reconnects),
	        cmocka_unit_test(test_database_away),
	        cmocka_unit_test(test_work_bounds),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini();
	return rv;
}
