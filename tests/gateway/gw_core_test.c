/* gw_core_test.c - amlrisk-gateway over real HTTP against the real core
 * (build/bin/amlrisk-core) and PostgreSQL: the spec's worked examples scored
 * and read back through every endpoint, a flow_exposure/v1 run in its own
 * JSON shape beside hop_exposure/v1 answers unchanged, bad input (a key of
 * the other model too) rejected by the core as 422, schemathesis fuzzing from
 * /openapi.json (no 500, answers as documented, no crash), core down/up. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aml/v1/alert.pb-c.h"
#include "gwt.h"
#include "th.h"

#define TOKEN       "core-test-token"
#define DEADLINE_MS 2000
#define READY_MS    60000

static char db_url[512], rpc_url[64], core_log[256], gw_log[256];
static pid_t core_pid, gw_pid;
static int gw_port;
static int64_t first_run;

static void
db_load(void)
{
	PGconn *c = th_db_connect(db_url);
	Aml__V1__Transaction **txs = NULL;
	size_t n = th_fixture_load("spec-example.pb", &txs), i;
	PGresult *res;

	res = PQexec(c, "BEGIN; SELECT transactions_append_lock()");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	for (i = 0; i < n; i++) {
		char ts[32];
		const char *vals[5] = {txs[i]->tx_id, txs[i]->sender, txs[i]->receiver,
		                       txs[i]->amount, ts};

		snprintf(ts, sizeof(ts), "%lld", (long long)txs[i]->timestamp_us);
		res = PQexecParams(
		        c,
		        "INSERT INTO transactions (tx_id, sender, receiver, amount, "
		        "\"timestamp\") VALUES ($1, $2, $3, $4::numeric, 'epoch'::timestamptz"
		        " + $5::bigint * interval '1 microsecond')",
		        5, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fail_msg("insert: %s", PQerrorMessage(c));
		}
		PQclear(res);
	}
	/* S = {A}: the spec's worked example, through the labels (illicit_ratio 0) */
	res = PQexec(c,
	             "INSERT INTO wallet_labels (wallet, label) VALUES ('A', 'illicit'); COMMIT");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	th_fixture_free(txs, n);
	PQfinish(c);
}

static void
core_start(void)
{
	core_pid = gwt_core_start(db_url, rpc_url, core_log);
}

/* Polls target until it answers want (or fails the test after READY_MS). */
static void
wait_status(const char *target, int want)
{
	char logs[600];

	snprintf(logs, sizeof(logs), "%s and %s", core_log, gw_log);
	gwt_wait_status(gw_port, target, want, READY_MS, logs);
}

static int
setup(void **state)
{
	static char *env[] = {"AML_API_TOKEN=" TOKEN, "GATEWAY_RPC_TIMEOUT_MS=2000", NULL};

	(void)state;
	th_db_create(db_url, sizeof(db_url), 1);
	db_load();
	snprintf(rpc_url, sizeof(rpc_url), "tcp://127.0.0.1:%d", gwt_free_port());
	gwt_log_path(core_log, sizeof(core_log), "gw_core_test", "core");
	gwt_log_path(gw_log, sizeof(gw_log), "gw_core_test", "gw");
	core_start();
	gw_port = gwt_free_port();
	gw_pid = gwt_gateway_start(gw_port, rpc_url, env, gw_log);
	wait_status("/health", 200);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	gwt_teardown(gw_pid, core_pid, db_url);
	return 0;
}

static double
num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void
assert_close(double got, double want)
{
	if (fabs(got - want) > 1e-9 * fmax(1.0, fabs(want))) {
		fail_msg("got %.17g, want %.17g", got, want);
	}
}

/* GET /scores/{wallet}[?run_id=] and check its risk_score. */
static void
score_is(const char *wallet, int64_t run_id, double want)
{
	char target[128];
	json_t *j;

	if (run_id > 0) {
		snprintf(target, sizeof(target), "/scores/%s?run_id=%lld", wallet,
		         (long long)run_id);
	} else {
		snprintf(target, sizeof(target), "/scores/%s", wallet);
	}
	j = gwt_get_json(gw_port, target, 200);
	assert_string_equal(json_string_value(json_object_get(j, "wallet")), wallet);
	assert_close(num(j, "risk_score"), want);
	json_decref(j);
}

/* POST /run-score with body; retried while the core answers 409 (its one
 * writer slot frees just after the previous run's answer). Caller frees. */
static gwt_resp
run_score_http(const char *body, int want)
{
	int64_t end = th_now_ms() + 30000;

	for (;;) {
		size_t len = body != NULL ? strlen(body) : 0;
		gwt_resp r = gwt_http(gw_port, "POST", "/run-score",
		                      "Authorization: Bearer " TOKEN "\r\n", body, len, 120000);

		if (r.status == 409 && want != 409 && th_now_ms() < end) {
			gwt_resp_free(&r);
			usleep(50000);
			continue;
		}
		if (r.status != want) {
			fail_msg("/run-score %s: expected %d, got %d: %s", body, want, r.status,
			         r.body);
		}
		return r;
	}
}

/* run_score_http(), the answer parsed. */
static json_t *
run_score(const char *body, int want)
{
	gwt_resp r = run_score_http(body, want);
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);

	assert_non_null(j);
	gwt_resp_free(&r);
	return j;
}

/* Asserts the 422 detail names key. */
static void
rejected(const char *body, const char *key)
{
	json_t *j = run_score(body, 422);

	assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), key));
	json_decref(j);
}

static void
test_reload_and_score(void **state)
{
	json_t *j;

	(void)state;
	j = gwt_post_json(gw_port, "/reload-graph", NULL, TOKEN, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "wallets")), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "edges")), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "transactions")), 6);
	json_decref(j);
	json_decref(gwt_get_json(gw_port, "/ready", 200));
	j = run_score("{\"illicit_ratio\": 0}", 200);
	first_run = json_integer_value(json_object_get(j, "run_id"));
	assert_true(first_run > 0);
	assert_int_equal(json_integer_value(json_object_get(j, "wallets_scored")), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "illicit_count")), 1);
	json_decref(j);
}

static void
test_worked_example(void **state)
{
	static const char *order[5] = {"A", "E", "B", "C", "D"};
	static const double want[5] = {1.0969655114602888, 0.9, 0.6363961030678927,
	                               0.5196152422706631, 0.3};
	json_t *j, *rows, *hops;
	size_t i;

	(void)state;
	j = gwt_get_json(gw_port, "/scores/top?n=20", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), first_run);
	rows = json_object_get(j, "scores");
	assert_int_equal(json_array_size(rows), 5);
	for (i = 0; i < 5; i++) {
		json_t *row = json_array_get(rows, i);

		assert_string_equal(json_string_value(json_object_get(row, "wallet")), order[i]);
		assert_close(num(row, "risk_score"), want[i]);
	}
	assert_true(json_is_true(json_object_get(json_array_get(rows, 0), "is_illicit")));
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/top?limit=2", 200);
	assert_int_equal(json_array_size(json_object_get(j, "scores")), 2);
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/C", 200);
	assert_close(num(j, "risk_score"), 0.5196152422706631);
	assert_int_equal(json_integer_value(json_object_get(j, "in_degree")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "out_degree")), 1);
	hops = json_object_get(j, "hops");
	assert_int_equal(json_array_size(hops), 3);
	assert_int_equal(
	        json_integer_value(json_object_get(json_array_get(hops, 2), "illicit_count")), 1);
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/explain/B", 200);
	assert_close(num(j, "normaliser"), sqrt(2.0));
	assert_true(json_array_size(json_object_get(j, "hops")) >= 1);
	json_decref(j);
	j = gwt_get_json(gw_port, "/graph/wallet/A?hops=1", 200);
	assert_string_equal(json_string_value(json_object_get(j, "center")), "A");
	assert_int_equal(json_array_size(json_object_get(j, "nodes")), 4); /* A, B, C, E */
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/nobody", 404);
	json_decref(j);
}

/* One client of test_concurrent_reads: mixed reads, each answer checked. */
typedef struct reader {
	int id;
	int wrong;
} reader;

#define READERS    8
#define READS_EACH 60

static void *
reader_main(void *p)
{
	static const char *wallets[5] = {"A", "B", "C", "D", "E"};
	static const double scores[5] = {1.0969655114602888, 0.6363961030678927, 0.5196152422706631,
	                                 0.3, 0.9};
	reader *rd = p;

	for (int i = 0; i < READS_EACH; i++) {
		int w = (rd->id + i) % 5, kind = i % 4;
		char target[64];
		json_t *j;
		json_error_t err;
		gwt_resp r;

		if (kind == 3) {
			snprintf(target, sizeof(target), "/scores/nobody%d", i);
		} else if (kind == 2) {
			snprintf(target, sizeof(target), "/scores/top?n=%d", 1 + w);
		} else {
			snprintf(target, sizeof(target), "/scores/%s", wallets[w]);
		}
		r = gwt_http(gw_port, "GET", target, NULL, NULL, 0, 10000);
		j = json_loadb(r.body, r.body_len, 0, &err);
		if (kind == 3) {
			rd->wrong += r.status != 404 || j == NULL ||
			             strstr(json_string_value(json_object_get(j, "detail")),
			                    target + 8) == NULL;
		} else if (kind == 2) {
			rd->wrong +=
			        r.status != 200 ||
			        json_array_size(json_object_get(j, "scores")) != (size_t)(1 + w);
		} else {
			rd->wrong += r.status != 200 ||
			             strcmp(json_string_value(json_object_get(j, "wallet")),
			                    wallets[w]) != 0 ||
			             fabs(json_real_value(json_object_get(j, "risk_score")) -
			                  scores[w]) > 1e-12;
		}
		json_decref(j);
		gwt_resp_free(&r);
	}
	return NULL;
}

/* Concurrent requests share exchanges with the core (coalesced query RPCs),
 * yet each gets its own answer: scores, top lists of its own length, 404s
 * naming its own wallet. */
static void
test_concurrent_reads(void **state)
{
	reader rd[READERS];
	pthread_t th[READERS];
	double calls0 = gwt_metric(gw_port, "\namlrisk_gateway_rpc_calls_total ");

	(void)state;
	for (int i = 0; i < READERS; i++) {
		rd[i] = (reader){.id = i};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	for (int i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(rd[i].wrong, 0);
	}
	assert_true(gwt_metric(gw_port, "\namlrisk_gateway_rpc_calls_total ") - calls0 >=
	            READERS * READS_EACH);
	assert_true(gwt_metric(gw_port, "\namlrisk_gateway_rpc_batches_total ") >= 1);
	assert_true(gwt_metric(gw_port, "\namlrisk_gateway_rpc_exchanges_total ") <
	            gwt_metric(gw_port, "\namlrisk_gateway_rpc_calls_total "));
}

static void
test_other_config_and_runs(void **state)
{
	json_t *j;
	char target[64];
	gwt_resp r;

	(void)state;
	j = run_score("{\"illicit_ratio\": 0, \"direction\": \"in\", \"count\": \"exact\", "
	              "\"hop_weights\": [0, 1, 0.5, 0.25]}",
	              200);
	json_decref(j);
	score_is("B", 0, 1 / sqrt(2.0));
	score_is("C", 0, 1 / sqrt(3.0));
	score_is("D", 0, 0.5);
	score_is("A", 0, 0);
	score_is("E", 0, 0);
	score_is("B", first_run, 0.6363961030678927); /* an older run, from PostgreSQL */
	rejected("{\"bogus\": 1}", "bogus");
	rejected("{\"illicit_ratio\": 2}", "illicit_ratio");
	rejected("{\"direction\": \"sideways\"}", "direction");
	/* the body reaches the core as it came: its reader says where it breaks */
	rejected("{bad", "invalid JSON at byte 1");
	rejected("[1]", "invalid JSON at byte 0: the config must be a JSON object");
	rejected("{\"illicit_seed\": 18446744073709551616}", "illicit_seed");
	j = gwt_get_json(gw_port, "/runs", 200);
	assert_true(json_array_size(json_object_get(j, "runs")) >= 2);
	json_decref(j);
	snprintf(target, sizeof(target), "/runs/%lld", (long long)first_run);
	j = gwt_get_json(gw_port, target, 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "completed");
	assert_int_equal(json_integer_value(json_object_get(j, "wallets")), 5);
	json_decref(j);
	json_decref(gwt_get_json(gw_port, "/runs/987654321", 404));
	json_decref(gwt_get_json(gw_port, "/ingestion/status", 200));
	json_decref(gwt_get_json(gw_port, "/scores/top?n=0", 422));
	json_decref(gwt_get_json(gw_port, "/scores/%FF", 422));
	r = gwt_http(gw_port, "POST", "/run-score", NULL, "{}", 2, 10000);
	gwt_assert_error(&r, 401);
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "PUT", "/runs", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 405);
	gwt_resp_free(&r);
}

/* GET target's body, asserting 200 and that it is exactly want. */
static void
body_is(const char *target, const char *want)
{
	gwt_resp r = gwt_http(gw_port, "GET", target, NULL, NULL, 0, 10000);

	if (r.status != 200 || strcmp(r.body, want) != 0) {
		fail_msg("GET %s: %d\n%s\nwanted\n%s", target, r.status, r.body, want);
	}
	gwt_resp_free(&r);
}

/* flow_exposure/v1 on the worked example (S = {A}, every amount 1, so c = 1):
 * every endpoint answers in the flow shape (model, received/sent exposure,
 * per-hop R_k/S_k, no hop-only members); a hop run read back by run_id keeps
 * its shape byte for byte; a key of the other model is a 422 naming it. */
static void
test_flow(void **state)
{
	static const char *order[5] = {"A", "B", "C", "E", "D"};
	static const double want[5] = {2.0, 0.5, 0.5, 0.5, 0.25};
	char target[128], body[2048];
	json_t *j, *rows, *run, *con;
	int64_t id;
	double parts;
	size_t i;

	(void)state;
	j = run_score("{\"model\": \"flow_exposure/v1\"}", 200);
	id = json_integer_value(json_object_get(j, "run_id"));
	run = json_object_get(j, "run");
	assert_string_equal(json_string_value(json_object_get(run, "model")), "flow_exposure/v1");
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(run, "config"), "hops")), 6);
	assert_null(json_object_get(json_object_get(run, "config"), "hop_weights"));
	json_decref(j);
	/* the whole row, as written: R_1(C) = 1/3, then 1/2 */
	snprintf(body, sizeof(body),
	         "{\"wallet\":\"C\",\"model\":\"flow_exposure/v1\",\"risk_score\":0.5,"
	         "\"received_exposure\":0.5,\"sent_exposure\":0.0,\"in_degree\":2,"
	         "\"out_degree\":1,\"is_illicit\":false,\"run_id\":%lld,\"hops\":["
	         "{\"hop\":1,\"received\":0.3333333333333333,\"sent\":0.0},"
	         "{\"hop\":2,\"received\":0.5,\"sent\":0.0},{\"hop\":3,\"received\":0.5,"
	         "\"sent\":0.0},{\"hop\":4,\"received\":0.5,\"sent\":0.0},{\"hop\":5,"
	         "\"received\":0.5,\"sent\":0.0},{\"hop\":6,\"received\":0.5,\"sent\":0.0}]}",
	         (long long)id);
	body_is("/scores/C", body);
	j = gwt_get_json(gw_port, "/scores/top?n=5", 200);
	rows = json_object_get(j, "scores");
	assert_int_equal(json_array_size(rows), 5);
	for (i = 0; i < 5; i++) {
		json_t *row = json_array_get(rows, i);

		assert_string_equal(json_string_value(json_object_get(row, "wallet")), order[i]);
		assert_string_equal(json_string_value(json_object_get(row, "model")),
		                    "flow_exposure/v1");
		assert_close(num(row, "risk_score"), want[i]);
		assert_close(num(row, "received_exposure") + num(row, "sent_exposure"), want[i]);
		assert_null(json_object_get(row, "exposures"));
		assert_null(json_object_get(row, "hops"));
	}
	json_decref(j);
	j = gwt_get_json(gw_port, "/graph/wallet/D?hops=1", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), id);
	rows = json_object_get(j, "nodes");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "wallet")),
	                    "D");
	assert_close(num(json_array_get(rows, 0), "risk_score"), 0.25);
	json_decref(j);
	snprintf(target, sizeof(target), "/runs/%lld", (long long)id);
	j = gwt_get_json(gw_port, target, 200);
	assert_string_equal(json_string_value(json_object_get(j, "model")), "flow_exposure/v1");
	json_decref(j);
	/* the first (hop) run, read back from PostgreSQL in its own shape */
	snprintf(target, sizeof(target), "/scores/C?run_id=%lld", (long long)first_run);
	snprintf(body, sizeof(body),
	         "{\"wallet\":\"C\",\"risk_score\":0.5196152422706631,\"exposures\":1,"
	         "\"in_degree\":2,\"out_degree\":1,\"is_illicit\":false,\"run_id\":%lld,"
	         "\"hops\":[{\"hop\":0,\"weight\":1.0,\"illicit_count\":0},{\"hop\":1,"
	         "\"weight\":0.6,\"illicit_count\":1},{\"hop\":2,"
	         "\"weight\":0.3,\"illicit_count\":1}]}",
	         (long long)first_run);
	body_is(target, body);
	rejected("{\"model\": \"flow_exposure/v1\", \"hop_weights\": [1]}", "hop_weights");
	rejected("{\"model\": \"flow_exposure/v1\", \"hops\": 40}", "hops");
	rejected("{\"model\": \"flow_exposure/v1\", \"side\": \"up\"}", "side");
	rejected("{\"hops\": 3}", "hops"); /* the core's default model is hop_exposure/v1 */
	j = gwt_get_json(gw_port, "/scores/C", 200); /* nothing was run by them */
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), id);
	json_decref(j);
	/* E's sent value reaches A directly: one contributor, and nothing else */
	j = gwt_get_json(gw_port, "/scores/explain/E", 200);
	assert_string_equal(json_string_value(json_object_get(j, "model")), "flow_exposure/v1");
	assert_int_equal(json_array_size(json_object_get(j, "hops")), 6);
	assert_true(json_is_false(json_object_get(j, "capped")));
	assert_true(json_is_false(json_object_get(j, "truncated")));
	assert_null(json_object_get(j, "normaliser"));
	rows = json_object_get(j, "contributors");
	assert_int_equal(json_array_size(rows), 1);
	con = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(con, "source")), "A");
	assert_string_equal(json_string_value(json_object_get(con, "side")), "sent");
	assert_int_equal(json_array_size(json_object_get(con, "walk")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(con, "walk"), 0)),
	                    "E");
	assert_close(num(con, "walk_weight"), 0.5);
	parts = num(con, "contribution") + num(j, "others");
	assert_close(parts, num(j, "risk_score"));
	assert_close(parts, 0.5);
	json_decref(j);
}

/* The console's reads through HTTP, after test_flow (the latest run is its
 * flow run, the first run a hop run): a page of the top list, ranks in the
 * first run, the latest run's histogram, a wallet's history. */
static void
test_console_reads(void **state)
{
	static const int64_t want_counts[4] = {1, 3, 0, 1}; /* 0.25 | 0.5 x3 | | 2 */
	char target[128];
	json_t *j, *rows, *e;
	int64_t latest, sum = 0;

	(void)state;
	j = gwt_get_json(gw_port, "/scores/top?n=2&offset=1", 200);
	latest = json_integer_value(json_object_get(j, "run_id"));
	assert_int_equal(json_integer_value(json_object_get(j, "offset")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 5);
	rows = json_object_get(j, "scores");
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "wallet")),
	                    "B"); /* A, then B, C, E tied at 0.5 */
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/top?compare=previous", 200);
	assert_true(json_is_null(json_object_get(j, "compare_run_id"))); /* the first flow run */
	json_decref(j);
	snprintf(target, sizeof(target), "/scores/top?n=5&compare=%lld", (long long)first_run);
	j = gwt_get_json(gw_port, target, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "compare_run_id")), first_run);
	rows = json_object_get(j, "scores");
	/* first_run's order: A, E, B, C, D */
	assert_int_equal(
	        json_integer_value(json_object_get(json_array_get(rows, 0), "compare_rank")), 1);
	assert_int_equal(
	        json_integer_value(json_object_get(json_array_get(rows, 3), "compare_rank")), 2);
	json_decref(j);
	snprintf(target, sizeof(target), "/runs/%lld/distribution?bins=4", (long long)latest);
	j = gwt_get_json(gw_port, target, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "wallets")), 5);
	assert_string_equal(json_string_value(json_object_get(j, "model")), "flow_exposure/v1");
	rows = json_object_get(j, "bins");
	for (size_t i = 0; i < 4; i++) {
		json_t *b = json_array_get(rows, i);

		assert_int_equal(json_integer_value(json_object_get(b, "count")), want_counts[i]);
		sum += json_integer_value(json_object_get(b, "count"));
	}
	assert_int_equal(sum, 5);
	json_decref(j);
	json_decref(gwt_get_json(gw_port, "/runs/987654321/distribution", 404));
	j = gwt_get_json(gw_port, "/scores/C/history?limit=2", 200);
	e = json_object_get(j, "entries");
	assert_int_equal(json_array_size(e), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "found")), 2);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(json_array_get(e, 0), "run"), "run_id")),
	                 latest);
	assert_close(num(json_object_get(json_array_get(e, 0), "score"), "risk_score"), 0.5);
	assert_true(json_is_integer(json_object_get(j, "next_before_run_id")));
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/nobody/history", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "found")), 0);
	json_decref(j);
}

/* GET /scores/top?n=7 once (no run_id: the latest); asserts its run and
 * whether the gateway sent its kept copy, returns the body (caller frees). */
static char *
top7(int64_t want_run, int want_hit)
{
	gwt_resp r = gwt_http(gw_port, "GET", "/scores/top?n=7", NULL, NULL, 0, 10000);
	char hdr[16];
	json_t *j;
	char *body;

	assert_int_equal(r.status, 200);
	assert_int_equal(gwt_header(&r, "X-Amlrisk-Cache", hdr, sizeof(hdr)) != NULL, want_hit);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), want_run);
	assert_int_equal(json_array_size(json_object_get(j, "scores")), 5);
	json_decref(j);
	body = strdup(r.body);
	gwt_resp_free(&r);
	return body;
}

/* The gateway keeps a /scores/top answer and sends it again, byte for byte,
 * while the core says the latest run is still the one it came from; a new
 * run (with other scores) is seen at once. */
static void
test_top_cache(void **state)
{
	json_t *j;
	int64_t run;
	char *a, *b, *c;

	(void)state;
	j = run_score("{\"illicit_ratio\": 0}", 200);
	run = json_integer_value(json_object_get(j, "run_id"));
	json_decref(j);
	a = top7(run, 0);
	b = top7(run, 1);
	assert_string_equal(a, b);
	j = run_score("{\"illicit_ratio\": 0, \"hop_weights\": [1, 0.1]}", 200);
	assert_true(json_integer_value(json_object_get(j, "run_id")) > run);
	run = json_integer_value(json_object_get(j, "run_id"));
	json_decref(j);
	c = top7(run, 0); /* the core named the new run: rows rebuilt */
	assert_string_not_equal(a, c);
	free(b);
	b = top7(run, 1);
	assert_string_equal(b, c);
	free(a);
	free(b);
	free(c);
}

/* Stores a RiskAlert for wallet with rule in risk_alerts, as the core's live
 * view does; returns its id. */
static int64_t
alert_insert(PGconn *c, const char *wallet, const char *rule)
{
	Aml__V1__RiskAlert a = AML__V1__RISK_ALERT__INIT;
	uint8_t buf[512];
	size_t len;
	PGresult *res;
	int64_t id;

	a.wallet = (char *)wallet;
	a.model = "hop_exposure/v1";
	a.score = 0.8;
	a.previous_score = 0.1;
	a.rule = (char *)rule;
	a.watermark = 6;
	a.rank = 1;
	len = aml__v1__risk_alert__pack(&a, buf);
	res = PQexecParams(c,
	                   "INSERT INTO risk_alerts (wallet, rule, payload) VALUES ($1, $2, $3) "
	                   "RETURNING id",
	                   3, NULL, (const char *const[]){wallet, rule, (const char *)buf},
	                   (const int[]){0, 0, (int)len}, (const int[]){0, 0, 1}, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fail_msg("insert alert: %s", PQerrorMessage(c));
	}
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return id;
}

/* The alerts the core stores, through the gateway: GET /alerts pages newest
 * first to the end and filters; /alerts/stream delivers a new one and resumes
 * by Last-Event-ID; view=live on a core without a live view is 409. */
static void
test_alerts(void **state)
{
	PGconn *c = th_db_connect(db_url);
	int64_t ids[6], expect;
	char target[128], hdr[64], needle[64];
	const char *cursor;
	gwt_sse a, b;
	json_t *j;
	int i, seen = 0;

	(void)state;
	for (i = 0; i < 5; i++) {
		snprintf(target, sizeof(target), "G%d", i);
		ids[i] = alert_insert(c, target, i % 2 ? "top<=10" : "threshold>=0.5");
	}
	expect = ids[4];
	j = gwt_get_json(gw_port, "/alerts?limit=2", 200);
	for (;;) {
		json_t *arr = json_object_get(j, "alerts");
		size_t k;

		assert_int_equal(json_integer_value(json_object_get(j, "last_id")), ids[4]);
		for (k = 0; k < json_array_size(arr); k++) {
			assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, k),
			                                                    "alert_id")),
			                 expect--);
			seen++;
		}
		if ((cursor = json_string_value(json_object_get(j, "next_cursor"))) == NULL) {
			break;
		}
		snprintf(target, sizeof(target), "/alerts?limit=2&cursor=%s", cursor);
		json_decref(j);
		j = gwt_get_json(gw_port, target, 200);
	}
	json_decref(j);
	assert_true(seen >= 5);
	j = gwt_get_json(gw_port, "/alerts?wallet=G3&rule=top%3C%3D10", 200);
	assert_int_equal(json_array_size(json_object_get(j, "alerts")), 1);
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(j, "alerts"), 0), "wallet")),
	                    "G3");
	json_decref(j);
	/* a stream from now, and one resuming after the first alert */
	gwt_sse_open_ok(gw_port, &a, "", 10000);
	assert_true(gwt_sse_wait(&a, ": connected\n\n", 10000));
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %lld\r\n", (long long)ids[0]);
	gwt_sse_open_ok(gw_port, &b, hdr, 10000);
	ids[5] = alert_insert(c, "G5", "threshold>=0.5");
	snprintf(needle, sizeof(needle), "id: %lld\nevent: alert\n", (long long)ids[5]);
	assert_true(gwt_sse_wait(&a, needle, 10000));
	assert_non_null(strstr(a.buf, "\"wallet\":\"G5\""));
	snprintf(needle, sizeof(needle), "id: %lld\n", (long long)ids[4]);
	assert_null(strstr(a.buf, needle)); /* stored before the stream: not sent */
	for (i = 1; i <= 5; i++) {
		snprintf(needle, sizeof(needle), "id: %lld\n", (long long)ids[i]);
		assert_true(gwt_sse_wait(&b, needle, 10000));
	}
	snprintf(needle, sizeof(needle), "id: %lld\n", (long long)ids[0]);
	assert_null(strstr(b.buf, needle));
	gwt_sse_close(&a);
	gwt_sse_close(&b);
	PQfinish(c);
	/* the live view: this core has none (no LIVE_SCORING_CONFIG) */
	for (i = 0; i < 2; i++) {
		gwt_resp r = gwt_http(gw_port, "GET",
		                      i ? "/scores/B?view=live" : "/scores/top?view=live", NULL,
		                      NULL, 0, 10000);

		gwt_assert_error(&r, 409);
		assert_non_null(strstr(r.body, "live scoring is off"));
		gwt_resp_free(&r);
	}
}

/* schemathesis: property-based requests from /openapi.json against the real
 * core; any 5xx other than the documented 503/504, or a crash, fails. The
 * alert stream is left out: it never ends by design (test_alerts and
 * gw_fake_test cover it). */
static void
test_schemathesis(void **state)
{
	char cmd[2048];
	const char *src = th_env("AMLRISK_SOURCE_DIR");
	int st;

	(void)state;
	snprintf(cmd, sizeof(cmd),
	         "'%s/var/gw-venv/bin/schemathesis' run 'http://127.0.0.1:%d/openapi.json' "
	         "--checks not_a_server_error,response_schema_conformance --max-examples %s --seed "
	         "42 --workers 1 --exclude-path /alerts/stream "
	         "--request-timeout 30 -H 'Authorization: Bearer %s' --no-color >> '%s' 2>&1",
	         src, gw_port, getenv("GW_FUZZ_EXAMPLES") ? getenv("GW_FUZZ_EXAMPLES") : "25",
	         TOKEN, gw_log);
	st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fail_msg("schemathesis failed (status %d); its report is in %s", st, gw_log);
	}
	assert_int_equal(kill(gw_pid, 0), 0); /* the gateway is still up */
	wait_status("/health", 200); /* its body may hold a uint64 seed Jansson cannot read */
}

/* Asserts the answer to GET target is a 200 whose text holds needle. */
static void
body_has(const char *target, const char *needle)
{
	gwt_resp r = gwt_http(gw_port, "GET", target, NULL, NULL, 0, 10000);

	if (r.status != 200 || strstr(r.body, needle) == NULL) {
		fail_msg("GET %s: %d, no %s in %.600s", target, r.status, needle, r.body);
	}
	gwt_resp_free(&r);
}

/* illicit_seed 2^64-1 (past every int64, so past Jansson's integers) through
 * HTTP into a stored run and back out of every answer that shows the run's
 * config, byte for byte, as a JSON object; illicit_ratio 0.05 stays 0.05. */
static void
test_uint64_seed(void **state)
{
	static const char seed[] = "\"illicit_seed\":18446744073709551615,";
	gwt_resp r;
	json_t *j;
	int64_t run;
	char target[64], *stored;
	PGconn *c;
	PGresult *res;

	(void)state;
	r = run_score_http("{\"illicit_ratio\": 0.05, \"illicit_seed\": 18446744073709551615}",
	                   200);
	j = json_loadb(r.body, r.body_len, JSON_DECODE_INT_AS_REAL, NULL);
	assert_non_null(j);
	run = (int64_t)json_number_value(json_object_get(j, "run_id"));
	assert_true(run > first_run);
	assert_true(json_is_object(json_object_get(json_object_get(j, "run"), "config")));
	json_decref(j);
	assert_non_null(strstr(r.body, "\"config\":{"));
	assert_non_null(strstr(r.body, seed));
	assert_non_null(strstr(r.body, "\"illicit_ratio\":0.05,"));
	gwt_resp_free(&r);
	/* stored so in PostgreSQL */
	c = th_db_connect(db_url);
	snprintf(target, sizeof(target), "%lld", (long long)run);
	res = PQexecParams(c, "SELECT config_json::text FROM scoring_runs WHERE id = $1::bigint", 1,
	                   NULL, (const char *const[]){target}, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	stored = PQgetvalue(res, 0, 0);
	if (strstr(stored, "18446744073709551615") == NULL || strstr(stored, "0.05") == NULL) {
		fail_msg("stored config_json: %s", stored);
	}
	PQclear(res);
	PQfinish(c);
	/* and served back: the run, the list, the latest run in /health, explain */
	snprintf(target, sizeof(target), "/runs/%lld", (long long)run);
	body_has(target, seed);
	body_has(target, "\"config\":{\"model\":");
	body_has(target, "\"illicit_ratio\":0.05,");
	body_has("/runs?limit=1", seed);
	body_has("/runs?limit=1", "\"illicit_ratio\":0.05,");
	body_has("/health", seed);
	body_has("/scores/explain/B", seed);
}

static void
test_core_down_and_back(void **state)
{
	gwt_resp r;

	(void)state;
	assert_int_equal(th_stop(core_pid, SIGTERM, 30000) == -1, 0);
	core_pid = 0;
	r = gwt_http(gw_port, "GET", "/scores/A", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 503);
	assert_true(r.ms < DEADLINE_MS + 1500);
	gwt_resp_free(&r);
	json_decref(gwt_get_json(gw_port, "/health", 503));
	core_start();
	wait_status("/scores/A", 200); /* the latest run comes back from PostgreSQL */
	wait_status("/health", 200);   /* once the core's first database ping is in */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reload_and_score),
	        cmocka_unit_test(test_worked_example),
	        cmocka_unit_test(test_concurrent_reads),
	        cmocka_unit_test(test_top_cache),
	        cmocka_unit_test(test_other_config_and_runs),
	        cmocka_unit_test(test_flow),
	        cmocka_unit_test(test_console_reads),
	        cmocka_unit_test(test_uint64_seed),
	        cmocka_unit_test(test_alerts),
	        cmocka_unit_test(test_schemathesis),
	        cmocka_unit_test(test_core_down_and_back),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
