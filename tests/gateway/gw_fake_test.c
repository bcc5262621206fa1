/* gw_fake_test.c - amlrisk-gateway over real HTTP against a fake RiskService
 * served here with the rpc library: every endpoint, and every error status
 * forced through the wallet id (missing -> NOT_FOUND, slow -> deadline, ...),
 * limits, auth, metrics, the access log, core down/up, clean SIGTERM. */
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_err.h"
#include "gwt.h"
#include "rpc.h"
#include "th.h"

#define TOKEN       "s3cret-token"
#define DEADLINE_MS 1000

static rpc_server *fake;
static char fake_url[64];
static int gw_port;
static pid_t gw_pid;
static char gw_log[256];
static char last_overrides[1024];
static atomic_int run_score_calls;
static atomic_int ingestion_calls;

/* ---- the fake RiskService ------------------------------------------------ */

static Aml__V1__GraphInfo graph = AML__V1__GRAPH_INFO__INIT;
/* The live view the fake reports; in /health and /ingestion/status only while
 * live_on (the other tests compare their exact text). */
static Aml__V1__LiveInfo live = AML__V1__LIVE_INFO__INIT;
static atomic_int live_on;
static atomic_int live_ignored; /* answer view=live from the run, as a core before issue 14 */

static void
fake_health(Aml__V1__RiskService_Service *svc, const Aml__V1__HealthRequest *in,
            Aml__V1__HealthResponse_Closure closure, void *cd)
{
	Aml__V1__HealthResponse r = AML__V1__HEALTH_RESPONSE__INIT;

	(void)svc;
	(void)in;
	r.status = "ok";
	r.database_ok = 1;
	r.graph = &graph;
	r.version = "fake";
	r.uptime_seconds = 1.5;
	r.live = atomic_load(&live_on) ? &live : NULL;
	closure(&r, cd);
}

static void
fake_reload_graph(Aml__V1__RiskService_Service *svc, const Aml__V1__ReloadGraphRequest *in,
                  Aml__V1__ReloadGraphResponse_Closure closure, void *cd)
{
	Aml__V1__ReloadGraphResponse r = AML__V1__RELOAD_GRAPH_RESPONSE__INIT;

	(void)svc;
	(void)in;
	r.graph = &graph;
	r.elapsed_seconds = 0.25;
	closure(&r, cd);
}

static void
fake_run_score(Aml__V1__RiskService_Service *svc, const Aml__V1__RunScoreRequest *in,
               Aml__V1__RunScoreResponse_Closure closure, void *cd)
{
	Aml__V1__RunScoreResponse r = AML__V1__RUN_SCORE_RESPONSE__INIT;
	Aml__V1__RunSummary run = AML__V1__RUN_SUMMARY__INIT;

	(void)svc;
	atomic_fetch_add(&run_score_calls, 1);
	snprintf(last_overrides, sizeof(last_overrides), "%s", in->config_overrides_json);
	if (strstr(in->config_overrides_json, "bogus") != NULL) {
		rpc_call_fail(cd, AMLRISK_EINVAL, "config: unknown key 'bogus'");
		return;
	}
	/* as the core's reader: an object or nothing */
	size_t lead = strspn(in->config_overrides_json, " \t\r\n");
	if (in->config_overrides_json[lead] != '{' && in->config_overrides_json[lead] != '\0') {
		rpc_call_fail(cd, AMLRISK_EINVAL,
		              "invalid JSON at byte %zu: the config must be a JSON object", lead);
		return;
	}
	run.run_id = 7;
	run.status = "completed";
	run.model = "hop_exposure/v1";
	run.config_json = "{\"illicit_ratio\":0.05,\"illicit_seed\":18446744073709551615}";
	run.tx_source = "{\"watermark\":6,\"transactions\":6}";
	run.wallets = 5;
	run.illicit = 1;
	run.transactions = 6;
	run.created_at_us = INT64_C(1764080463123456);
	r.run = &run;
	r.elapsed_seconds = 0.5;
	closure(&r, cd);
}

static void
fake_top_scores(Aml__V1__RiskService_Service *svc, const Aml__V1__TopScoresRequest *in,
                Aml__V1__TopScoresResponse_Closure closure, void *cd)
{
	Aml__V1__TopScoresResponse r = AML__V1__TOP_SCORES_RESPONSE__INIT;
	Aml__V1__WalletScore rows[5], *ptrs[5];
	static const char *names[5] = {"A", "E", "B", "C", "D"};
	size_t i;

	(void)svc;
	for (i = 0; i < 5 && i < in->n; i++) {
		aml__v1__wallet_score__init(&rows[i]);
		rows[i].wallet = (char *)names[i];
		rows[i].risk_score = 1.0 / (double)(i + 1);
		rows[i].exposures = 5 - i;
		ptrs[i] = &rows[i];
	}
	r.run_id = in->run_id != 0 ? in->run_id : 7;
	if (in->view == AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE && !atomic_load(&live_ignored)) {
		if (!atomic_load(&live_on)) {
			rpc_call_fail(cd, AMLRISK_ESTATE,
			              "live scoring is off (LIVE_SCORING_CONFIG)");
			return;
		}
		assert_true(in->run_id == 0 && in->known_run_id == 0 && in->compare_run_id == 0);
		r.run_id = 0;
		r.live = &live;
	}
	/* as the core: the caller's copy is current when it names this run; run
	 * 4242 claims so whatever the caller holds (a broken core) */
	if ((in->known_run_id != 0 && in->known_run_id == r.run_id) || in->run_id == 4242) {
		r.unchanged = 1;
		closure(&r, cd);
		return;
	}
	r.n_scores = i;
	r.scores = ptrs;
	r.offset = in->offset;
	r.total = 5;
	if (in->compare_previous || in->compare_run_id != 0) {
		/* row 0 was 2nd, row 1 absent, the others beyond the cap */
		static uint64_t ranks[5] = {2, 0, 1001, 1001, 1001};

		r.compare_run_id = in->compare_previous ? 6 : in->compare_run_id;
		r.compare_ranks = ranks;
		r.n_compare_ranks = i;
		r.compare_rank_cap = 1000;
	}
	closure(&r, cd);
}

/* The status a wallet id asks for; 0 = answer normally. */
static int
forced(const char *wallet, void *cd)
{
	if (strcmp(wallet, "missing") == 0) {
		rpc_call_fail(cd, AMLRISK_ENOTFOUND, "wallet missing not found");
	} else if (strcmp(wallet, "unavail") == 0) {
		rpc_call_fail(cd, AMLRISK_EDB, "database down");
	} else if (strcmp(wallet, "bad") == 0) {
		rpc_call_fail(cd, AMLRISK_EINVAL, "wallet: rejected by the core");
	} else if (strcmp(wallet, "conflict") == 0) {
		rpc_call_fail(cd, AMLRISK_ESTATE, "no completed run");
	} else if (strcmp(wallet, "internal") == 0) {
		rpc_call_fail(cd, AMLRISK_EINTERNAL, "boom");
	} else if (strcmp(wallet, "slow") == 0) {
		int left = rpc_call_time_left_ms(cd);

		usleep((useconds_t)((left > 0 ? left : DEADLINE_MS) + 300) * 1000);
		rpc_call_fail(cd, AMLRISK_EINTERNAL, "too late");
	} else {
		return 0;
	}
	return 1;
}

static void
fake_get_wallet_score(Aml__V1__RiskService_Service *svc, const Aml__V1__GetWalletScoreRequest *in,
                      Aml__V1__GetWalletScoreResponse_Closure closure, void *cd)
{
	Aml__V1__GetWalletScoreResponse r = AML__V1__GET_WALLET_SCORE_RESPONSE__INIT;
	Aml__V1__WalletScore s = AML__V1__WALLET_SCORE__INIT;
	Aml__V1__HopCount h[2] = {AML__V1__HOP_COUNT__INIT, AML__V1__HOP_COUNT__INIT};
	Aml__V1__HopCount *hp[2] = {&h[0], &h[1]};

	(void)svc;
	if (forced(in->wallet, cd)) {
		return;
	}
	s.wallet = in->wallet;
	s.risk_score = strcmp(in->wallet, "inf") == 0 ? INFINITY : 0.6363961030678927;
	s.exposures = 1;
	s.in_degree = 1;
	s.out_degree = 1;
	h[0].hop = 0;
	h[0].weight = 1.0;
	h[1].hop = 1;
	h[1].weight = 0.6;
	h[1].illicit_count = 1;
	s.n_hops = 2;
	s.hops = hp;
	r.run_id = in->run_id != 0 ? in->run_id : 7;
	if (in->view == AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE && !atomic_load(&live_ignored)) {
		if (!atomic_load(&live_on)) {
			rpc_call_fail(cd, AMLRISK_ESTATE,
			              "live scoring is off (LIVE_SCORING_CONFIG)");
			return;
		}
		r.run_id = 0;
		r.live = &live;
	}
	r.score = &s;
	closure(&r, cd);
}

static void
fake_explain_wallet(Aml__V1__RiskService_Service *svc, const Aml__V1__ExplainWalletRequest *in,
                    Aml__V1__ExplainWalletResponse_Closure closure, void *cd)
{
	Aml__V1__ExplainWalletResponse r = AML__V1__EXPLAIN_WALLET_RESPONSE__INIT;
	Aml__V1__WalletScore s = AML__V1__WALLET_SCORE__INIT;
	Aml__V1__ExplainHop hop = AML__V1__EXPLAIN_HOP__INIT, *hops[1] = {&hop};
	Aml__V1__ExplainSource src = AML__V1__EXPLAIN_SOURCE__INIT, *srcs[1] = {&src};
	char *path[2] = {in->wallet, "A"};

	(void)svc;
	if (forced(in->wallet, cd)) {
		return;
	}
	s.wallet = in->wallet;
	s.risk_score = 0.9;
	src.wallet = "A";
	src.direction = "any";
	src.n_path = 2;
	src.path = path;
	hop.hop = 1;
	hop.weight = 0.6;
	hop.exact_count = 1;
	hop.count = 1;
	hop.contribution = 0.6;
	hop.n_sources = 1;
	hop.sources = srcs;
	hop.truncated = in->max_sources_per_hop == 1;
	r.run_id = 7;
	r.capped = in->max_sources_per_hop == 1; /* the work bound's flag, echoed */
	r.score = &s;
	r.config_json = "{\"hop_weights\":[1.0,0.6,0.3]}";
	r.normaliser = 1.0;
	r.n_hops = 1;
	r.hops = hops;
	closure(&r, cd);
}

static void
fake_wallet_graph(Aml__V1__RiskService_Service *svc, const Aml__V1__WalletGraphRequest *in,
                  Aml__V1__WalletGraphResponse_Closure closure, void *cd)
{
	Aml__V1__WalletGraphResponse r = AML__V1__WALLET_GRAPH_RESPONSE__INIT;
	Aml__V1__GraphNode n[2] = {AML__V1__GRAPH_NODE__INIT, AML__V1__GRAPH_NODE__INIT};
	Aml__V1__GraphNode *np[2] = {&n[0], &n[1]};
	Aml__V1__GraphEdge e = AML__V1__GRAPH_EDGE__INIT, *ep[1] = {&e};

	(void)svc;
	if (forced(in->wallet, cd)) {
		return;
	}
	n[0].wallet = in->wallet;
	n[1].wallet = "A";
	n[1].is_illicit = 1;
	n[1].distance = in->hops; /* echoed so the test sees the parameter arrive */
	e.sender = "A";
	e.receiver = in->wallet;
	e.tx_count = in->node_limit;
	e.total_amount = (double)in->edge_limit;
	r.center = in->wallet;
	r.run_id = 7;
	r.capped = in->hops == 3; /* the work bound's flag, echoed */
	r.truncated = r.capped;
	r.n_nodes = 2;
	r.nodes = np;
	r.n_edges = 1;
	r.edges = ep;
	closure(&r, cd);
}

static Aml__V1__RunSummary *
summary_make(Aml__V1__RunSummary *run, int64_t id)
{
	aml__v1__run_summary__init(run);
	run->run_id = id;
	run->status = "completed";
	run->model = "hop_exposure/v1";
	run->config_json = "{}";
	run->created_at_us = INT64_C(1764080463000000);
	run->completed_at_us = INT64_C(1764080464000000);
	return run;
}

static void
fake_list_runs(Aml__V1__RiskService_Service *svc, const Aml__V1__ListRunsRequest *in,
               Aml__V1__ListRunsResponse_Closure closure, void *cd)
{
	Aml__V1__ListRunsResponse r = AML__V1__LIST_RUNS_RESPONSE__INIT;
	Aml__V1__RunSummary runs[2],
	        *rp[2] = {summary_make(&runs[0], 7), summary_make(&runs[1], 6)};

	(void)svc;
	runs[1].pinned = 1; /* run 6 */
	r.n_runs = in->limit < 2 ? in->limit : 2;
	r.runs = rp;
	r.next_before_id = in->limit < 2 ? 7 : 0;
	closure(&r, cd);
}

static void
fake_get_run(Aml__V1__RiskService_Service *svc, const Aml__V1__GetRunRequest *in,
             Aml__V1__GetRunResponse_Closure closure, void *cd)
{
	Aml__V1__GetRunResponse r = AML__V1__GET_RUN_RESPONSE__INIT;
	Aml__V1__RunSummary run;

	(void)svc;
	if (in->run_id == 404) {
		rpc_call_fail(cd, AMLRISK_ENOTFOUND, "run 404 not found");
		return;
	}
	r.run = summary_make(&run, in->run_id);
	run.pinned = in->run_id == 5;
	closure(&r, cd);
}

static void
fake_ingestion_status(Aml__V1__RiskService_Service *svc, const Aml__V1__IngestionStatusRequest *in,
                      Aml__V1__IngestionStatusResponse_Closure closure, void *cd)
{
	Aml__V1__IngestionStatusResponse r = AML__V1__INGESTION_STATUS_RESPONSE__INIT;
	Aml__V1__PartitionState p = AML__V1__PARTITION_STATE__INIT, *pp[1] = {&p};

	(void)svc;
	(void)in;
	atomic_fetch_add(&ingestion_calls, 1);
	p.topic = "transactions";
	p.partition = 3;
	p.committed_offset = 10;
	p.high_watermark = 12;
	p.lag = 2;
	p.consumer_id = "c1";
	r.consumed = 12;
	r.inserted = 10;
	r.duplicates = 2;
	r.n_partitions = 1;
	r.partitions = pp;
	closure(&r, cd);
}

static void
fake_score_distribution(Aml__V1__RiskService_Service *svc,
                        const Aml__V1__ScoreDistributionRequest *in,
                        Aml__V1__ScoreDistributionResponse_Closure closure, void *cd)
{
	Aml__V1__ScoreDistributionResponse r = AML__V1__SCORE_DISTRIBUTION_RESPONSE__INIT;
	uint64_t counts[1000] = {0};

	(void)svc;
	if (in->run_id == 404) {
		rpc_call_fail(cd, AMLRISK_ENOTFOUND, "run 404 not found");
		return;
	}
	counts[0] = 6;
	counts[in->bins - 1] += 4;
	r.run_id = in->run_id;
	r.model = "hop_exposure/v1";
	r.wallets = 10;
	r.zero = 6;
	r.illicit = 1;
	r.max = 2.0;
	r.width = 2.0 / in->bins;
	r.counts = counts;
	r.n_counts = in->bins;
	closure(&r, cd);
}

static void
fake_wallet_history(Aml__V1__RiskService_Service *svc, const Aml__V1__WalletHistoryRequest *in,
                    Aml__V1__WalletHistoryResponse_Closure closure, void *cd)
{
	Aml__V1__WalletHistoryResponse r = AML__V1__WALLET_HISTORY_RESPONSE__INIT;
	Aml__V1__WalletHistoryEntry e[2] = {AML__V1__WALLET_HISTORY_ENTRY__INIT,
	                                    AML__V1__WALLET_HISTORY_ENTRY__INIT};
	Aml__V1__WalletHistoryEntry *ep[2] = {&e[0], &e[1]};
	Aml__V1__RunSummary runs[2];
	Aml__V1__WalletScore w = AML__V1__WALLET_SCORE__INIT;
	Aml__V1__HopCount hc = AML__V1__HOP_COUNT__INIT, *hcp[1] = {&hc};

	(void)svc;
	if (forced(in->wallet, cd)) {
		return;
	}
	w.wallet = in->wallet;
	w.risk_score = 0.5;
	w.exposures = 1;
	w.n_hops = 1;
	w.hops = hcp;
	hc.weight = 1.0;
	hc.illicit_count = 1;
	e[0].run = summary_make(&runs[0], 7);
	e[0].score = &w;
	e[1].run = summary_make(&runs[1], 6); /* the wallet is not in run 6 */
	r.wallet = in->wallet;
	r.entries = ep;
	r.n_entries = in->limit < 2 ? in->limit : 2;
	r.found = 1;
	r.next_before_run_id = in->before_run_id; /* echoed */
	closure(&r, cd);
}

/* The fake's alerts: ids 1..alerts_n, alert i on wallet "W<i % 3>" with rule
 * "threshold>=0.5" (odd i) or "top<=10" (even i), created at ALERT_T0 + i s. */
#define ALERT_T0 INT64_C(1764080000000000)
static atomic_int alerts_n;
static atomic_int alerts_off; /* answer UNIMPLEMENTED, as a core without live scoring */
static const char *const alert_wallets[3] = {"W0", "W1", "W2"};

static const char *
alert_rule(int i)
{
	return i % 2 ? "threshold>=0.5" : "top<=10";
}

static int
alert_matches(const Aml__V1__ListAlertsRequest *in, int i)
{
	int64_t t = ALERT_T0 + (int64_t)i * 1000000;

	return (in->wallet[0] == '\0' || strcmp(in->wallet, alert_wallets[i % 3]) == 0) &&
	       (in->rule[0] == '\0' || strcmp(in->rule, alert_rule(i)) == 0) &&
	       (in->since_us == 0 || t >= in->since_us) && (in->until_us == 0 || t < in->until_us);
}

static void
fake_list_alerts(Aml__V1__RiskService_Service *svc, const Aml__V1__ListAlertsRequest *in,
                 Aml__V1__ListAlertsResponse_Closure closure, void *cd)
{
	Aml__V1__ListAlertsResponse r = AML__V1__LIST_ALERTS_RESPONSE__INIT;
	Aml__V1__AlertContributor c = AML__V1__ALERT_CONTRIBUTOR__INIT;
	Aml__V1__AlertContributor *cp[1] = {&c};
	int n = atomic_load(&alerts_n), i, step, limit = in->limit != 0 ? (int)in->limit : 50;
	Aml__V1__RiskAlert *a, **ap;
	size_t k = 0;

	(void)svc;
	if (atomic_load(&alerts_off)) {
		rpc_call_fail(cd, AMLRISK_EUNIMPL, "ListAlerts: live scoring is off");
		return;
	}
	assert_true(limit >= 1 && limit <= 1000);
	a = calloc((size_t)limit, sizeof(*a));
	ap = calloc((size_t)limit, sizeof(*ap));
	assert_true(a != NULL && ap != NULL);
	c.wallet = "X";
	c.side = "received";
	c.hops = 1;
	c.contribution = 0.5;
	/* after_id: oldest first from it; else newest first below before_id */
	i = in->after_id > 0    ? (int)in->after_id + 1
	    : in->before_id > 0 ? (int)in->before_id - 1
	                        : n;
	step = in->after_id > 0 ? 1 : -1;
	for (; i >= 1 && i <= n && (int)k < limit; i += step) {
		if (!alert_matches(in, i)) {
			continue;
		}
		aml__v1__risk_alert__init(&a[k]);
		a[k].alert_id = i;
		a[k].wallet = (char *)alert_wallets[i % 3];
		a[k].model = "hop_exposure/v1";
		a[k].score = 0.75;
		a[k].previous_score = 0.25;
		a[k].rule = (char *)alert_rule(i);
		a[k].watermark = 100 + i;
		a[k].created_at_us = ALERT_T0 + (int64_t)i * 1000000;
		a[k].rank = 3;
		a[k].n_contributors = 1;
		a[k].contributors = cp;
		ap[k] = &a[k];
		k++;
	}
	r.n_alerts = k;
	r.alerts = ap;
	r.next_before_id = step < 0 && (int)k == limit && i >= 1 ? i + 1 : 0;
	r.last_id = n;
	closure(&r, cd);
	free(ap);
	free(a);
}

static Aml__V1__RiskService_Service fake_service = AML__V1__RISK_SERVICE__INIT(fake_);

static void
fake_start(void)
{
	rpc_server_opts o = {.secret = th_rpc_secret()}; /* the gateway's, from the stack */

	assert_int_equal(rpc_server_create(&fake, fake_url, &o), AMLRISK_OK);
	assert_int_equal(rpc_server_add_service(fake, &fake_service.base), AMLRISK_OK);
	assert_int_equal(rpc_server_start(fake), AMLRISK_OK);
}

static void
fake_stop(void)
{
	rpc_server_destroy(fake);
	fake = NULL;
}

/* ---- fixtures ------------------------------------------------------------- */

static int
setup(void **state)
{
	static char *env[] = {"AML_API_TOKEN=" TOKEN,
	                      "GATEWAY_RPC_TIMEOUT_MS=1000",
	                      "GATEWAY_SSE_MAX=3",
	                      "GATEWAY_SSE_BUFFER=65536",
	                      "GATEWAY_SSE_HEARTBEAT_MS=300",
	                      "GATEWAY_SSE_SLOW_MS=1000",
	                      "GATEWAY_LONG_TIMEOUT_MS=3000",
	                      "LOG_LEVEL=info",
	                      NULL};

	(void)state;
	graph.loaded = 1;
	graph.wallets = 5;
	graph.edges = 5;
	graph.transactions = 6;
	graph.watermark = 6;
	graph.loaded_at_us = INT64_C(1764080463123456);
	live.enabled = 1;
	live.model = "hop_exposure/v1";
	live.config_json = "{\"max_hops\":3}";
	live.watermark = 120;
	live.updated_at_us = INT64_C(1764080463123456);
	live.graph_watermark = 125;
	live.newest_sequence = 130;
	live.lag_rows = 10;
	live.lag_seconds = 0.25;
	snprintf(fake_url, sizeof(fake_url), "tcp://127.0.0.1:%d", gwt_free_port());
	fake_start();
	snprintf(gw_log, sizeof(gw_log), "%s/gw_fake_test.%d.log", gwt_log_dir(), (int)getpid());
	gw_port = gwt_free_port();
	gw_pid = gwt_gateway_start(gw_port, fake_url, env, gw_log);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (gw_pid > 0) {
		th_stop(gw_pid, SIGKILL, 5000);
	}
	fake_stop();
	return 0;
}

/* GET target and assert an error status with a {"detail"} body. */
static void
get_error(const char *target, int status)
{
	gwt_resp r = gwt_http(gw_port, "GET", target, NULL, NULL, 0, 10000);

	gwt_assert_error(&r, status);
	gwt_resp_free(&r);
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_health_ready(void **state)
{
	json_t *j;

	(void)state;
	j = gwt_get_json(gw_port, "/health", 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(j, "database")), "ok");
	assert_true(json_is_true(json_object_get(json_object_get(j, "graph"), "loaded")));
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(j, "graph"), "wallets")), 5);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(j, "graph"), "loaded_at")),
	        "2025-11-25T14:21:03.123456Z");
	json_decref(j);
	j = gwt_get_json(gw_port, "/ready", 200);
	assert_true(json_is_true(json_object_get(j, "ready")));
	json_decref(j);
}

static void
test_top_scores(void **state)
{
	json_t *j, *rows;
	gwt_resp a, b;
	char hdr[16];

	(void)state;
	j = gwt_get_json(gw_port, "/scores/top?n=3", 200);
	rows = json_object_get(j, "scores");
	assert_int_equal(json_array_size(rows), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 7);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "wallet")),
	                    "A");
	assert_true(json_is_real(json_object_get(json_array_get(rows, 1), "risk_score")));
	assert_true(json_is_boolean(json_object_get(json_array_get(rows, 1), "is_illicit")));
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/top?limit=2&run_id=3", 200);
	assert_int_equal(json_array_size(json_object_get(j, "scores")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 3);
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/top", 200); /* default n=20: the fake has 5 */
	assert_int_equal(json_array_size(json_object_get(j, "scores")), 5);
	json_decref(j);
	/* asked again: the fake says run 7 is current, the kept copy goes out */
	a = gwt_http(gw_port, "GET", "/scores/top?n=3", NULL, NULL, 0, 10000);
	b = gwt_http(gw_port, "GET", "/scores/top?n=3", NULL, NULL, 0, 10000);
	assert_int_equal(b.status, 200);
	assert_non_null(gwt_header(&b, "X-Amlrisk-Cache", hdr, sizeof(hdr)));
	assert_string_equal(a.body, b.body);
	gwt_resp_free(&a);
	gwt_resp_free(&b);
	/* "unchanged" for a list the gateway never named: 502, not an empty list */
	a = gwt_http(gw_port, "GET", "/scores/top?n=3&run_id=4242", NULL, NULL, 0, 10000);
	gwt_assert_error(&a, 502);
	assert_non_null(strstr(a.body, "did not name"));
	gwt_resp_free(&a);
	get_error("/scores/top?n=0", 422);
	get_error("/scores/top?n=1001", 422);
	get_error("/scores/top?n=abc", 422);
	get_error("/scores/top?n=", 422);
	get_error("/scores/top?n=5&run_id=-1", 422);
	get_error("/scores/top?limit=99999999999999999999", 422);
}

/* A row's compare_rank: the integer, or -1 for null. */
static int64_t
compare_rank(json_t *rows, size_t i)
{
	json_t *v = json_object_get(json_array_get(rows, i), "compare_rank");

	assert_non_null(v);
	return json_is_null(v) ? -1 : json_integer_value(v);
}

/* Paging and ranks in another run: passed to the core, answered in the JSON,
 * never served from the kept copies; bad values refused before any RPC. */
static void
test_top_paging_compare(void **state)
{
	json_t *j, *rows;
	gwt_resp a;
	char hdr[16];

	(void)state;
	j = gwt_get_json(gw_port, "/scores/top?n=3&offset=2", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "offset")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 5);
	assert_null(json_object_get(j, "compare_run_id"));
	assert_null(
	        json_object_get(json_array_get(json_object_get(j, "scores"), 0), "compare_rank"));
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/top?n=3&compare=previous", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "compare_run_id")), 6);
	assert_int_equal(json_integer_value(json_object_get(j, "compare_rank_cap")), 1000);
	rows = json_object_get(j, "scores");
	assert_int_equal(compare_rank(rows, 0), 2);
	assert_int_equal(compare_rank(rows, 1), -1);
	assert_int_equal(compare_rank(rows, 2), 1001);
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/top?n=2&run_id=9&compare=5", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "compare_run_id")), 5);
	json_decref(j);
	for (int i = 0; i < 2; i++) { /* asked twice: never the kept copy */
		a = gwt_http(gw_port, "GET", "/scores/top?n=3&compare=previous", NULL, NULL, 0,
		             10000);
		assert_int_equal(a.status, 200);
		assert_null(gwt_header(&a, "X-Amlrisk-Cache", hdr, sizeof(hdr)));
		gwt_resp_free(&a);
		a = gwt_http(gw_port, "GET", "/scores/top?n=3&offset=1", NULL, NULL, 0, 10000);
		assert_int_equal(a.status, 200);
		assert_null(gwt_header(&a, "X-Amlrisk-Cache", hdr, sizeof(hdr)));
		gwt_resp_free(&a);
	}
	get_error("/scores/top?compare=bogus", 422);
	get_error("/scores/top?compare=0", 422);
	get_error("/scores/top?compare=-3", 422);
	get_error("/scores/top?compare=", 422);
	get_error("/scores/top?offset=100001", 422);
	get_error("/scores/top?offset=-1", 422);
}

/* GET /runs/{run_id}/distribution and GET /scores/{wallet}/history: their
 * bounds, their JSON, the core's errors. */
static void
test_distribution_history(void **state)
{
	json_t *j, *bins, *e;

	(void)state;
	j = gwt_get_json(gw_port, "/runs/7/distribution?bins=4", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "wallets")), 10);
	assert_int_equal(json_integer_value(json_object_get(j, "zero")), 6);
	bins = json_object_get(j, "bins");
	assert_int_equal(json_array_size(bins), 4);
	assert_true(json_number_value(json_object_get(json_array_get(bins, 1), "lo")) == 0.5);
	assert_true(json_number_value(json_object_get(json_array_get(bins, 3), "hi")) == 2.0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(bins, 3), "count")), 4);
	json_decref(j);
	j = gwt_get_json(gw_port, "/runs/7/distribution", 200); /* default: 40 bins */
	assert_int_equal(json_array_size(json_object_get(j, "bins")), 40);
	json_decref(j);
	get_error("/runs/7/distribution?bins=0", 422);
	get_error("/runs/7/distribution?bins=1001", 422);
	get_error("/runs/0/distribution", 422);
	get_error("/runs/404/distribution", 404);

	j = gwt_get_json(gw_port, "/scores/W%201/history?limit=5&before_run_id=9", 200);
	assert_string_equal(json_string_value(json_object_get(j, "wallet")), "W 1");
	assert_int_equal(json_integer_value(json_object_get(j, "found")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "next_before_run_id")), 9);
	e = json_object_get(j, "entries");
	assert_int_equal(json_array_size(e), 2);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(json_array_get(e, 0), "run"), "run_id")),
	                 7);
	assert_true(json_number_value(json_object_get(
	                    json_object_get(json_array_get(e, 0), "score"), "risk_score")) == 0.5);
	assert_int_equal(json_array_size(json_object_get(
	                         json_object_get(json_array_get(e, 0), "score"), "hops")),
	                 1);
	assert_true(json_is_null(json_object_get(json_array_get(e, 1), "score")));
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/A/history", 200);
	assert_true(json_is_null(json_object_get(j, "next_before_run_id")));
	json_decref(j);
	get_error("/scores/A/history?limit=0", 422);
	get_error("/scores/A/history?limit=501", 422);
	get_error("/scores/A/history?before_run_id=0", 422);
	get_error("/scores/missing/history", 404);
	get_error("/scores/unavail/history", 503);
	get_error("/scores/%FF/history", 422);
}

/* The landing page and the console: embedded, open, typed by extension. */
static void
test_console_files(void **state)
{
	gwt_resp r;
	char hdr[64];

	(void)state;
	r = gwt_http(gw_port, "GET", "/", NULL, NULL, 0, 10000);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "href=\"/ui/\""));
	assert_string_equal(gwt_header(&r, "Content-Type", hdr, sizeof(hdr)),
	                    "text/html; charset=utf-8");
	gwt_resp_free(&r);
	for (int i = 0; i < 2; i++) { /* with and without the slash */
		r = gwt_http(gw_port, "GET", i ? "/ui" : "/ui/", NULL, NULL, 0, 10000);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "/ui/app.js"));
		assert_non_null(strstr(r.body, "/ui/cytoscape.min.js"));
		gwt_resp_free(&r);
	}
	r = gwt_http(gw_port, "GET", "/ui/cytoscape.min.js", NULL, NULL, 0, 10000);
	assert_int_equal(r.status, 200);
	assert_true(r.body_len > 100000);
	assert_string_equal(gwt_header(&r, "Content-Type", hdr, sizeof(hdr)),
	                    "text/javascript; charset=utf-8");
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "GET", "/ui/console.css", NULL, NULL, 0, 10000);
	assert_int_equal(r.status, 200);
	assert_string_equal(gwt_header(&r, "Content-Type", hdr, sizeof(hdr)),
	                    "text/css; charset=utf-8");
	assert_string_equal(gwt_header(&r, "Cache-Control", hdr, sizeof(hdr)), "no-cache");
	gwt_resp_free(&r);
	get_error("/ui/nope.js", 404);
	get_error("/ui/%2e%2e%2fopenapi.json", 404);
	get_error("/ui/../openapi.json", 404);
	r = gwt_http(gw_port, "POST", "/ui/", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 405);
	gwt_resp_free(&r);
}

static void
test_wallet_score(void **state)
{
	json_t *j;
	char big[400];
	gwt_resp r;

	(void)state;
	/* numbers as the shortest text that reads back: 0.6, not 0.59999999999999998 */
	r = gwt_http(gw_port, "GET", "/scores/B", NULL, NULL, 0, 10000);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"risk_score\":0.6363961030678927,"));
	assert_non_null(strstr(r.body, "{\"hop\":1,\"weight\":0.6,\"illicit_count\":1}"));
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "GET", "/health", NULL, NULL, 0, 10000);
	assert_non_null(strstr(r.body, "\"core_uptime_seconds\":1.5,"));
	/* a core that names no role (one from before the election) is its own writer */
	assert_non_null(strstr(r.body, "\"core_role\":\"writer\""));
	gwt_resp_free(&r);
	j = gwt_get_json(gw_port, "/scores/B", 200);
	assert_string_equal(json_string_value(json_object_get(j, "wallet")), "B");
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 7);
	assert_true(json_real_value(json_object_get(j, "risk_score")) == 0.6363961030678927);
	assert_int_equal(json_array_size(json_object_get(j, "hops")), 2);
	json_decref(j);
	/* percent-decoded: '/', space and UTF-8 reach the core intact */
	j = gwt_get_json(gw_port, "/scores/a%2Fb%20%C3%A9+?run_id=2", 200);
	assert_string_equal(json_string_value(json_object_get(j, "wallet")), "a/b \xc3\xa9+");
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 2);
	json_decref(j);
	/* JSON has no infinity: an overflowed score is null, not an encoding failure */
	j = gwt_get_json(gw_port, "/scores/inf", 200);
	assert_true(json_is_null(json_object_get(j, "risk_score")));
	json_decref(j);
	get_error("/scores/missing", 404);
	get_error("/scores/unavail", 503);
	get_error("/scores/bad", 422);
	get_error("/scores/conflict", 409);
	get_error("/scores/internal", 500);
	get_error("/scores/B?run_id=x", 422);
	/* bad wallet ids never reach the core */
	get_error("/scores/%00x", 422);
	get_error("/scores/%FF", 422);
	get_error("/scores/%C3", 422);
	get_error("/scores/%zz", 422);
	get_error("/scores/%4", 422);
	get_error("/scores/a%09b", 422);
	memset(big, 'w', sizeof(big));
	snprintf(big, sizeof(big), "/scores/%0*d", 257, 0);
	get_error(big, 422);
	snprintf(big, sizeof(big), "/scores/%0*d", 256, 0);
	j = gwt_get_json(gw_port, big, 200);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "wallet"))), 256);
	json_decref(j);
}

/* view=live of /scores/top and /scores/{wallet}: the watermark and live state
 * in the answer; bad views and view=live with a run refused before the core;
 * a core without live scoring answers 409; /health, /ingestion/status carry
 * the live view. */
static void
test_live_view(void **state)
{
	json_t *j, *l;

	(void)state;
	atomic_store(&live_on, 1);
	j = gwt_get_json(gw_port, "/scores/top?view=live&n=3", 200);
	assert_string_equal(json_string_value(json_object_get(j, "view")), "live");
	assert_int_equal(json_integer_value(json_object_get(j, "watermark")), 120);
	assert_null(json_object_get(j, "run_id"));
	l = json_object_get(j, "live");
	assert_int_equal(json_integer_value(json_object_get(l, "graph_watermark")), 125);
	assert_int_equal(json_integer_value(json_object_get(l, "lag_rows")), 10);
	assert_int_equal(
	        json_integer_value(json_object_get(json_object_get(l, "config"), "max_hops")), 3);
	assert_int_equal(json_array_size(json_object_get(j, "scores")), 3);
	json_decref(j);
	/* a second live read is never the run's cached answer */
	j = gwt_get_json(gw_port, "/scores/top?view=live&n=3", 200);
	assert_string_equal(json_string_value(json_object_get(j, "view")), "live");
	json_decref(j);
	j = gwt_get_json(gw_port, "/scores/B?view=live", 200);
	assert_string_equal(json_string_value(json_object_get(j, "view")), "live");
	assert_int_equal(json_integer_value(json_object_get(j, "watermark")), 120);
	assert_null(json_object_get(j, "run_id"));
	json_decref(j);
	/* /ready waits for the live view to be current (watermark 120 < 130) */
	j = gwt_get_json(gw_port, "/ready", 503);
	assert_true(json_is_false(json_object_get(j, "ready")));
	assert_non_null(
	        strstr(json_string_value(json_object_get(j, "detail")), "live view not current"));
	json_decref(j);
	live.current = 1;
	j = gwt_get_json(gw_port, "/ready", 200);
	assert_true(json_is_true(json_object_get(j, "ready")));
	json_decref(j);
	live.current = 0;
	/* view=run is the default: unchanged answers */
	j = gwt_get_json(gw_port, "/scores/B?view=run", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 7);
	assert_null(json_object_get(j, "view"));
	json_decref(j);
	j = gwt_get_json(gw_port, "/health", 200);
	l = json_object_get(j, "live");
	assert_int_equal(json_integer_value(json_object_get(l, "watermark")), 120);
	/* and the metrics have it, as of that answer */
	assert_true(gwt_metric(gw_port, "amlrisk_live_watermark") == 120);
	assert_true(gwt_metric(gw_port, "amlrisk_live_graph_watermark") == 125);
	assert_true(gwt_metric(gw_port, "amlrisk_live_lag_rows") == 10);
	assert_true(gwt_metric(gw_port, "amlrisk_live_lag_seconds") == 0.25);
	assert_true(json_real_value(json_object_get(l, "lag_seconds")) == 0.25);
	json_decref(j);
	get_error("/scores/top?view=now", 422);
	get_error("/scores/top?view=", 422);
	get_error("/scores/top?view=live&run_id=3", 422);
	get_error("/scores/top?view=live&compare=previous", 422);
	get_error("/scores/B?view=LIVE", 422);
	get_error("/scores/B?view=live&run_id=2", 422);
	atomic_store(&live_on, 0);
	get_error("/scores/top?view=live", 409);
	get_error("/scores/B?view=live", 409);
	/* a core that ignores view answers from its run: never passed off as live */
	atomic_store(&live_ignored, 1);
	get_error("/scores/top?view=live", 409);
	get_error("/scores/B?view=live", 409);
	atomic_store(&live_ignored, 0);
	j = gwt_get_json(gw_port, "/health", 200);
	assert_null(json_object_get(j, "live"));
	json_decref(j);
}

/* GET /alerts: newest first, paged by next_cursor to the end, filters, bad
 * input 422, a core without live scoring 409. */
static void
test_alerts(void **state)
{
	json_t *j, *arr;
	char target[128];
	const char *cursor;
	int seen = 0, expect = 12;

	(void)state;
	atomic_store(&alerts_n, 12);
	j = gwt_get_json(gw_port, "/alerts?limit=5", 200);
	for (;;) {
		size_t i;

		arr = json_object_get(j, "alerts");
		assert_int_equal(json_integer_value(json_object_get(j, "last_id")), 12);
		for (i = 0; i < json_array_size(arr); i++) {
			json_t *a = json_array_get(arr, i);

			assert_int_equal(json_integer_value(json_object_get(a, "alert_id")),
			                 expect--);
			seen++;
		}
		cursor = json_string_value(json_object_get(j, "next_cursor"));
		if (cursor == NULL) {
			break;
		}
		snprintf(target, sizeof(target), "/alerts?limit=5&cursor=%s", cursor);
		json_decref(j);
		j = gwt_get_json(gw_port, target, 200);
	}
	json_decref(j);
	assert_int_equal(seen, 12);
	j = gwt_get_json(gw_port, "/alerts?wallet=W1&rule=threshold%3E%3D0.5", 200);
	arr = json_object_get(j, "alerts");
	assert_int_equal(json_array_size(arr), 2); /* 7 and 1 */
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "wallet")),
	                    "W1");
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(arr, 0), "created_at")),
	        "2025-11-25T14:13:27.000000Z");
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(json_array_get(arr, 0), "contributors"), 0),
	                "side")),
	        "received");
	json_decref(j);
	/* since 14:13:25 until 14:13:28: alerts 5, 6, 7 */
	j = gwt_get_json(gw_port,
	                 "/alerts?since=2025-11-25T14:13:25Z&until=2025-11-25T14:13:28.000Z", 200);
	assert_int_equal(json_array_size(json_object_get(j, "alerts")), 3);
	json_decref(j);
	get_error("/alerts?cursor=abc", 422);
	get_error("/alerts?cursor=0", 422);
	get_error("/alerts?limit=0", 422);
	get_error("/alerts?limit=1001", 422);
	get_error("/alerts?since=yesterday", 422);
	get_error("/alerts?since=2025-11-25T14:13:25", 422);
	get_error("/alerts?since=2025-11-25T14:13:25Z&until=2025-11-25T14:13:25Z", 422);
	get_error("/alerts?wallet=a%09b", 422);
	get_error("/alerts?rule=", 422);
	atomic_store(&alerts_off, 1);
	get_error("/alerts", 409);
	atomic_store(&alerts_off, 0);
}

/* /alerts/stream: new alerts after the newest stored, each once, id = alert_id;
 * Last-Event-ID resumes (backlog from the core); heartbeats; a bad
 * Last-Event-ID 422; no live scoring 409; GATEWAY_SSE_MAX (3) + 1 is 503. */
static void
test_alerts_stream(void **state)
{
	gwt_sse a, b, c, d;
	char *p13, *p14;

	(void)state;
	atomic_store(&alerts_off, 1);
	get_error("/alerts/stream", 409);
	atomic_store(&alerts_off, 0);
	{
		gwt_resp r = gwt_http(gw_port, "GET", "/alerts/stream", "Last-Event-ID: x1\r\n",
		                      NULL, 0, 10000);

		gwt_assert_error(&r, 422);
		gwt_resp_free(&r);
	}
	atomic_store(&alerts_n, 12);
	gwt_sse_open_ok(gw_port, &a, "", 10000);
	assert_true(gwt_sse_wait(&a, ": connected\n\n", 5000));
	assert_non_null(strstr(a.buf, "Content-Type: text/event-stream"));
	atomic_store(&alerts_n, 14);
	assert_true(gwt_sse_wait(&a, "id: 14\nevent: alert\ndata: {", 10000));
	p13 = strstr(a.buf, "id: 13\nevent: alert\ndata: {\"alert_id\":13");
	p14 = strstr(a.buf, "id: 14\n");
	assert_true(p13 != NULL && p13 < p14);
	assert_null(strstr(a.buf, "id: 12\n")); /* stored before it came: not sent */
	/* resume after 10: 11..14 from the core, in order, then live */
	gwt_sse_open_ok(gw_port, &b, "Last-Event-ID: 10\r\n", 10000);
	assert_true(gwt_sse_wait(&b, "id: 14\n", 10000));
	assert_null(strstr(b.buf, "id: 10\n"));
	assert_true(strstr(b.buf, "id: 11\n") < strstr(b.buf, "id: 12\n"));
	assert_true(strstr(b.buf, "id: 12\n") < strstr(b.buf, "id: 13\n"));
	atomic_store(&alerts_n, 15);
	assert_true(gwt_sse_wait(&a, "id: 15\n", 10000));
	assert_true(gwt_sse_wait(&b, "id: 15\n", 10000));
	assert_null(strstr(strstr(a.buf, "id: 15\n") + 1, "id: 15\n")); /* once */
	assert_true(gwt_sse_wait(&a, ": heartbeat\n\n", 10000));
	assert_true(gwt_metric(gw_port, "amlrisk_gateway_sse_subscribers") == 2);
	/* the third is served, the fourth refused */
	gwt_sse_open_ok(gw_port, &c, "", 10000);
	gwt_sse_open(gw_port, &d, "", 0);
	assert_true(gwt_sse_wait(&d, "\r\n\r\n", 5000));
	assert_int_equal(strncmp(d.buf + 8, " 503 ", 5), 0);
	assert_true(gwt_sse_wait(&d, "GATEWAY_SSE_MAX", 5000));
	gwt_sse_close(&d);
	gwt_sse_close(&a);
	gwt_sse_close(&b);
	gwt_sse_close(&c);
	/* closed ones are released: a stream opens again */
	gwt_sse_open_ok(gw_port, &a, "", 10000);
	gwt_sse_open_ok(gw_port, &b, "", 10000);
	gwt_sse_open_ok(gw_port, &c, "", 10000);
	gwt_sse_close(&a);
	gwt_sse_close(&b);
	gwt_sse_close(&c);
}

/* Waits until the gateway has released every stream (a closed one is let go
 * when the gateway next writes to it or polls it, not at once). */
static void
sse_wait_released(void)
{
	int64_t end = th_now_ms() + 20000;

	while (gwt_metric(gw_port, "amlrisk_gateway_sse_subscribers") != 0) {
		if (th_now_ms() > end)
			fail_msg("streams closed by the client still held after 20 s");
		usleep(50 * 1000);
	}
}

/* A subscriber that stops reading is dropped once its buffer is full, with an
 * event "close" saying why and where to resume; the others go on. */
static void
test_alerts_stream_slow(void **state)
{
	gwt_sse slow, fast;
	int64_t end;

	(void)state;
	sse_wait_released(); /* the test before's streams: the limit is 3 */
	atomic_store(&alerts_n, 100);
	gwt_sse_open_ok(gw_port, &fast, "", 10000);
	gwt_sse_open(gw_port, &slow, "", 4096);
	assert_true(gwt_sse_wait(&slow, ": connected\n\n", 10000));
	/* megabytes of alerts: the kernel's buffers fill, then the gateway's */
	atomic_store(&alerts_n, 60000);
	assert_true(gwt_sse_wait(&fast, "id: 60000\n", 60000));
	end = th_now_ms() + 60000;
	/* the slow one now reads all it was sent: the close event ends it */
	assert_true(
	        gwt_sse_wait(&slow, "event: close\ndata: {\"reason\":\"slow subscriber", 60000));
	assert_true(gwt_sse_wait(&slow, "Last-Event-ID", 5000));
	while (!slow.eof && th_now_ms() < end) {
		gwt_sse_wait(&slow, "never-there", 1000);
	}
	assert_true(slow.eof);
	assert_null(strstr(slow.buf, "id: 60000\n"));
	gwt_sse_close(&slow);
	gwt_sse_close(&fast);
	sse_wait_released(); /* before the next test counts requests in flight */
}

/* ---- amlctl against the fake core ------------------------------------------ */

/* Reads the whole file path into out (cap bytes, NUL-terminated). */
static void
slurp(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(out, 1, cap - 1, f);
		fclose(f);
	}
	out[n] = '\0';
}

/* Runs amlctl with argv against the fake core; its output into out; returns
 * its exit status (asserts it exits within 20 s). */
static int
amlctl(char *const argv[], char *out, size_t cap, const char *log)
{
	char url[96];
	char *env[] = {url, NULL};
	int64_t end = th_now_ms() + 20000;
	pid_t pid;
	int st;

	snprintf(url, sizeof(url), "RPC_URL=%s", fake_url);
	unlink(log);
	pid = th_spawn("amlctl", argv, env, log);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		assert_true(th_now_ms() < end);
		usleep(10 * 1000);
	}
	slurp(log, out, cap);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Alert i was created at 14:13:(20 + i) (ALERT_T0): its row is found by that
 * time. amlctl top --live / wallet W --live (the watermark shown, --run with it a
 * usage error, a core without live scoring an error), amlctl alerts (filters,
 * paging hint, --json) and alerts --follow (new alerts as they come, SIGINT
 * ends it with 0). */
static void
test_amlctl_live_alerts(void **state)
{
	char out[65536], log[300], url[96];
	char *env[] = {url, NULL};
	int64_t end;
	pid_t pid;
	int st;

	(void)state;
	snprintf(log, sizeof(log), "%s/gw_fake_test.amlctl.%d.log", gwt_log_dir(), (int)getpid());
	snprintf(url, sizeof(url), "RPC_URL=%s", fake_url);
	atomic_store(&live_on, 1);
	assert_int_equal(amlctl((char *[]){"amlctl", "top", "--live", "-n", "3", NULL}, out,
	                        sizeof(out), log),
	                 0);
	assert_non_null(strstr(out, "live (hop_exposure/v1)"));
	assert_non_null(strstr(out, "120 (updated 2025-11-25T14:21:03"));
	assert_non_null(strstr(out, "lag"));
	assert_non_null(strstr(out, "10 rows, 0.250 s"));
	assert_null(strstr(out, "run 7"));
	assert_int_equal(
	        amlctl((char *[]){"amlctl", "wallet", "B", "--live", NULL}, out, sizeof(out), log),
	        0);
	assert_non_null(strstr(out, "watermark"));
	assert_non_null(strstr(out, "risk_score"));
	assert_int_equal(amlctl((char *[]){"amlctl", "--json", "wallet", "B", "--live", NULL}, out,
	                        sizeof(out), log),
	                 0);
	assert_non_null(strstr(out, "\"graph_watermark\": 125"));
	assert_int_equal(amlctl((char *[]){"amlctl", "top", "--live", "--run", "3", NULL}, out,
	                        sizeof(out), log),
	                 2);
	assert_non_null(strstr(out, "drop --run"));
	assert_int_equal(
	        amlctl((char *[]){"amlctl", "runs", "--live", NULL}, out, sizeof(out), log), 2);
	atomic_store(&live_ignored, 1);
	assert_int_equal(amlctl((char *[]){"amlctl", "top", "--live", NULL}, out, sizeof(out), log),
	                 1);
	assert_non_null(strstr(out, "live view"));
	atomic_store(&live_ignored, 0);
	atomic_store(&live_on, 0);
	assert_int_equal(
	        amlctl((char *[]){"amlctl", "wallet", "B", "--live", NULL}, out, sizeof(out), log),
	        1);
	assert_non_null(strstr(out, "FAILED_PRECONDITION"));
	/* alerts */
	atomic_store(&alerts_n, 12);
	assert_int_equal(
	        amlctl((char *[]){"amlctl", "alerts", "--limit", "5", NULL}, out, sizeof(out), log),
	        0);
	assert_true(strstr(out, "14:13:32.") != NULL && strstr(out, "14:13:28.") != NULL);
	assert_null(strstr(out, "14:13:27."));
	assert_non_null(strstr(out, "more: amlctl alerts --before 8"));
	assert_int_equal(amlctl((char *[]){"amlctl", "alerts", "--wallet", "W1", "--rule",
	                                   "threshold>=0.5", NULL},
	                        out, sizeof(out), log),
	                 0);
	assert_true(strstr(out, "14:13:27.") != NULL && strstr(out, "14:13:21.") != NULL);
	assert_null(strstr(out, "14:13:24."));
	assert_int_equal(amlctl((char *[]){"amlctl", "--json", "alerts", "--limit", "1", NULL}, out,
	                        sizeof(out), log),
	                 0);
	assert_non_null(strstr(out, "\"alert_id\": 12"));
	assert_int_equal(
	        amlctl((char *[]){"amlctl", "alerts", "--limit", "x", NULL}, out, sizeof(out), log),
	        2);
	assert_int_equal(amlctl((char *[]){"amlctl", "alerts", "--follow", "--before", "3", NULL},
	                        out, sizeof(out), log),
	                 2);
	atomic_store(&alerts_off, 1);
	assert_int_equal(amlctl((char *[]){"amlctl", "alerts", NULL}, out, sizeof(out), log), 1);
	assert_non_null(strstr(out, "UNIMPLEMENTED"));
	atomic_store(&alerts_off, 0);
	/* --follow: the latest page, then each new alert once */
	unlink(log);
	pid = th_spawn("amlctl", (char *[]){"amlctl", "alerts", "--follow", "--limit", "3", NULL},
	               env, log);
	end = th_now_ms() + 20000;
	for (slurp(log, out, sizeof(out)); strstr(out, "14:13:32.") == NULL;
	     slurp(log, out, sizeof(out))) {
		assert_true(th_now_ms() < end);
		usleep(20 * 1000);
	}
	assert_true(strstr(out, "14:13:30.") != NULL &&
	            strstr(out, "14:13:30.") < strstr(out, "14:13:32."));
	atomic_store(&alerts_n, 14);
	for (; strstr(out, "14:13:34.") == NULL; slurp(log, out, sizeof(out))) {
		assert_true(th_now_ms() < end);
		usleep(20 * 1000);
	}
	assert_true(strstr(out, "14:13:33.") != NULL &&
	            strstr(out, "14:13:33.") < strstr(out, "14:13:34."));
	st = th_stop(pid, SIGINT, 5000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	slurp(log, out, sizeof(out));
	assert_null(strstr(strstr(out, "14:13:33.") + 1, "14:13:33.")); /* once */
	unlink(log);
}

static void
test_deadline(void **state)
{
	gwt_resp r;

	(void)state;
	r = gwt_http(gw_port, "GET", "/scores/slow", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 504);
	assert_true(r.ms >= DEADLINE_MS - 50 && r.ms < DEADLINE_MS + 1500);
	gwt_resp_free(&r);
}

static void
test_explain_graph(void **state)
{
	json_t *j, *hop;

	(void)state;
	j = gwt_get_json(gw_port, "/scores/explain/B?max_sources=1", 200);
	assert_string_equal(json_string_value(json_object_get(j, "wallet")), "B");
	assert_true(json_is_object(json_object_get(j, "config")));
	hop = json_array_get(json_object_get(j, "hops"), 0);
	assert_true(json_is_true(json_object_get(hop, "truncated")));
	assert_true(json_is_true(json_object_get(j, "capped")));
	assert_string_equal(
	        json_string_value(json_array_get(
	                json_object_get(json_array_get(json_object_get(hop, "sources"), 0), "path"),
	                1)),
	        "A");
	json_decref(j);
	get_error("/scores/explain/missing", 404);
	get_error("/scores/explain/B?max_sources=0", 422);
	j = gwt_get_json(gw_port, "/graph/wallet/B", 200);
	assert_string_equal(json_string_value(json_object_get(j, "center")), "B");
	assert_int_equal(json_integer_value(json_object_get(
	                         json_array_get(json_object_get(j, "nodes"), 1), "distance")),
	                 2);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_array_get(json_object_get(j, "edges"), 0), "tx_count")),
	                 100);
	assert_true(json_is_false(json_object_get(j, "capped")));
	assert_true(json_is_false(json_object_get(j, "truncated")));
	json_decref(j);
	j = gwt_get_json(gw_port, "/graph/wallet/B?hops=3&node_limit=10&edge_limit=20", 200);
	assert_true(json_is_true(json_object_get(j, "capped")));
	assert_true(json_is_true(json_object_get(j, "truncated")));
	assert_int_equal(json_integer_value(json_object_get(
	                         json_array_get(json_object_get(j, "nodes"), 1), "distance")),
	                 3);
	json_decref(j);
	get_error("/graph/wallet/B?hops=0", 422);
	get_error("/graph/wallet/B?hops=7", 422);
	get_error("/graph/wallet/B?node_limit=0", 422);
	get_error("/graph/wallet/B?edge_limit=50001", 422);
	get_error("/graph/wallet/missing", 404);
}

static void
test_runs_ingestion(void **state)
{
	json_t *j;

	(void)state;
	j = gwt_get_json(gw_port, "/runs", 200);
	assert_int_equal(json_array_size(json_object_get(j, "runs")), 2);
	assert_true(json_is_false(
	        json_object_get(json_array_get(json_object_get(j, "runs"), 0), "pinned")));
	assert_true(json_is_true(
	        json_object_get(json_array_get(json_object_get(j, "runs"), 1), "pinned")));
	assert_true(json_is_null(json_object_get(j, "next_before_id")));
	json_decref(j);
	j = gwt_get_json(gw_port, "/runs?limit=1", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "next_before_id")), 7);
	json_decref(j);
	get_error("/runs?limit=0", 422);
	j = gwt_get_json(gw_port, "/runs/5", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "run_id")), 5);
	assert_true(json_is_true(json_object_get(j, "pinned")));
	assert_string_equal(json_string_value(json_object_get(j, "completed_at")),
	                    "2025-11-25T14:21:04.000000Z");
	json_decref(j);
	get_error("/runs/404", 404);
	get_error("/runs/0", 422);
	get_error("/runs/abc", 422);
	get_error("/runs/99999999999999999999", 422);
	j = gwt_get_json(gw_port, "/ingestion/status", 200);
	assert_int_equal(json_integer_value(json_object_get(j, "duplicates")), 2);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_array_get(json_object_get(j, "partitions"), 0), "lag")),
	                 2);
	assert_true(json_is_null(json_object_get(j, "last_error")));
	json_decref(j);
	/* hostile query strings and paths: refused before any RPC */
	int calls = atomic_load(&ingestion_calls);
	char many[512] = "/ingestion/status?", *p = many + strlen(many);
	for (int i = 0; i <= 32; i++) {
		p += sprintf(p, "%sp%d=1", i ? "&" : "", i);
	}
	const char *const refused[] = {
	        "/ingestion/status?%zz",   "/ingestion/status?x=%4", "/ingestion/status?a=1&a=2",
	        "/ingestion/status?x=%00", "/ingestion/status?x=%",  many,
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		get_error(refused[i], 400);
	}
	assert_int_equal(atomic_load(&ingestion_calls), calls);
	json_decref(gwt_get_json(gw_port, "/ingestion/status?unknown=1&&", 200));
	get_error("/ingestion/status/", 404);
	get_error("/ingestion/%73tatus", 404);
	get_error("/runs/1%00", 422);
	get_error("/runs/%2B1", 422);
	get_error("/scores/top?n=5&n=6", 400);
	get_error("/scores/top?n=5%00", 400);
	get_error("/graph/wallet/B?hops=1&hops=2", 400);
}

static void
test_post_endpoints(void **state)
{
	json_t *j;
	char *big;
	gwt_resp r;

	(void)state;
	j = gwt_post_json(gw_port, "/reload-graph", NULL, TOKEN, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "edges")), 5);
	assert_true(json_real_value(json_object_get(j, "elapsed_seconds")) == 0.25);
	json_decref(j);
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Bearer " TOKEN "\r\n", NULL, 0,
	             10000);
	assert_int_equal(r.status, 200);
	/* the stored config embedded as it is: a uint64 seed and 0.05 exactly */
	assert_non_null(strstr(r.body, "\"config\":{\"illicit_ratio\":0.05,\"illicit_seed\":"
	                               "18446744073709551615}"));
	assert_non_null(strstr(r.body, "\"elapsed_seconds\":0.5,"));
	j = json_loadb(r.body, r.body_len, JSON_DECODE_INT_AS_REAL, NULL);
	assert_non_null(j);
	gwt_resp_free(&r);
	/* read with integers as reals (the seed is past Jansson's int64) */
	assert_true(json_number_value(json_object_get(j, "run_id")) == 7);
	assert_true(json_number_value(json_object_get(j, "wallets_scored")) == 5);
	assert_true(json_number_value(json_object_get(j, "illicit_count")) == 1);
	assert_true(json_is_object(json_object_get(json_object_get(j, "run"), "config")));
	assert_string_equal(last_overrides, "");
	json_decref(j);
	/* the body reaches the core as it came (its exact reader decides) */
	static const char body[] = " {\"illicit_ratio\": 0.1, \"illicit_seed\": "
	                           "18446744073709551615, \"count\": \"exact\"}\n";
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Bearer " TOKEN "\r\n", body,
	             sizeof(body) - 1, 10000);
	assert_int_equal(r.status, 200);
	gwt_resp_free(&r);
	assert_string_equal(last_overrides, body);
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Bearer " TOKEN "\r\n",
	             "{\"bogus\": 1}", 12, 10000);
	gwt_assert_error(&r, 422);
	assert_non_null(strstr(r.body, "bogus"));
	gwt_resp_free(&r);
	/* not an object: the core's answer (422, where the JSON breaks) comes back */
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Bearer " TOKEN "\r\n", "[1]", 3,
	             10000);
	gwt_assert_error(&r, 422);
	assert_non_null(strstr(r.body, "at byte 0: the config must be a JSON object"));
	gwt_resp_free(&r);
	assert_string_equal(last_overrides, "[1]");
	/* a NUL byte cannot travel in the RPC's string: refused here */
	int calls = atomic_load(&run_score_calls);
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Bearer " TOKEN "\r\n",
	             "{\"a\":1}\0{}", 10, 10000);
	gwt_assert_error(&r, 422);
	assert_non_null(strstr(r.body, "NUL byte at byte 7"));
	gwt_resp_free(&r);
	assert_int_equal(atomic_load(&run_score_calls), calls); /* never sent to the core */
	big = calloc(1, 70000);
	assert_non_null(big);
	memset(big, ' ', 69999);
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Bearer " TOKEN "\r\n", big,
	             69999, 10000);
	gwt_assert_error(&r, 413);
	gwt_resp_free(&r);
	free(big);
}

static void
test_auth(void **state)
{
	char buf[64];
	gwt_resp r;

	(void)state;
	r = gwt_http(gw_port, "POST", "/reload-graph", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 401);
	assert_string_equal(gwt_header(&r, "WWW-Authenticate", buf, sizeof(buf)), "Bearer");
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Bearer s3cret-tokeN\r\n", "{}",
	             2, 10000);
	gwt_assert_error(&r, 401);
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Bearer s3cret-token2\r\n", NULL,
	             0, 10000);
	gwt_assert_error(&r, 401);
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "POST", "/run-score", "Authorization: Basic s3cret-token\r\n", NULL,
	             0, 10000);
	gwt_assert_error(&r, 401);
	gwt_resp_free(&r);
	json_decref(gwt_get_json(gw_port, "/scores/B", 200)); /* GETs need no token */
}

static void
test_methods_and_limits(void **state)
{
	char buf[64], *url;
	gwt_resp r;

	(void)state;
	r = gwt_http(gw_port, "DELETE", "/health", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 405);
	assert_string_equal(gwt_header(&r, "Allow", buf, sizeof(buf)), "GET");
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "GET", "/run-score", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 405);
	assert_string_equal(gwt_header(&r, "Allow", buf, sizeof(buf)), "POST");
	gwt_resp_free(&r);
	get_error("/nope", 404);
	get_error("/health/", 404);
	get_error("/scores/", 404);
	get_error("/docs/nothing.js", 404);
	url = malloc(9000);
	assert_non_null(url);
	memcpy(url, "/scores/top?pad=", 16);
	memset(url + 16, 'x', 9000 - 17);
	url[8999] = '\0';
	get_error(url, 414);
	free(url);
}

/* The answers in buf (len bytes) that are whole: headers and Content-Length
 * bytes of body each. */
static int
answers_whole(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int n = 0;

	while (p < end) {
		const char *hdr_end = strstr(p, "\r\n\r\n"), *cl = strcasestr(p, "Content-Length:");
		size_t body = 0;

		if (hdr_end == NULL) {
			break;
		}
		if (cl != NULL && cl < hdr_end) {
			body = strtoul(cl + 15, NULL, 10);
		}
		if ((size_t)(end - (hdr_end + 4)) < body) {
			break;
		}
		p = hdr_end + 4 + body;
		n++;
	}
	return n;
}

/* Reads from fd until want whole answers are in (bodies too, so the next
 * read starts at the next answer), or 10 s. */
static void
read_answers(int fd, char *buf, size_t cap, int want)
{
	size_t len = 0;
	int64_t t0 = th_now_ms();

	buf[0] = '\0';
	while (th_now_ms() - t0 < 10000) {
		ssize_t n;

		if (answers_whole(buf, len) >= want) {
			return;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0) {
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
	}
	fail_msg("only part of %d answers on one connection: %.300s", want, buf);
}

/* True when a line of the log at path contains needle. */
static int
log_has(const char *path, const char *needle)
{
	char line[1024];
	int seen = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (!seen && fgets(line, sizeof(line), f) != NULL) {
		seen = strstr(line, needle) != NULL;
	}
	fclose(f);
	return seen;
}

/* One connection carries many requests: answers (RPC-backed, static, and
 * refusals decided on the headers alone) keep it open. */
static void
test_keep_alive(void **state)
{
	static const char *const targets[] = {"/scores/w1", "/openapi.json", "/nowhere",
	                                      "/scores/top?n=0", "/health"};
	static const char *const status[] = {"HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 404",
	                                     "HTTP/1.1 422", "HTTP/1.1 200"};
	char *buf = malloc(1 << 20), req[256];
	int fd = gwt_dial(gw_port);

	(void)state;
	assert_non_null(buf);
	assert_true(fd >= 0);
	for (size_t i = 0; i < 5; i++) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		         targets[i]);
		assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
		read_answers(fd, buf, 1 << 20, 1);
		assert_true(strncmp(buf, status[i], strlen(status[i])) == 0);
		assert_null(strcasestr(buf, "Connection: close"));
	}
	close(fd);
	free(buf);
}

static void
test_static(void **state)
{
	char buf[128];
	gwt_resp r;
	json_t *j;

	(void)state;
	j = gwt_get_json(gw_port, "/openapi.json", 200);
	assert_string_equal(json_string_value(json_object_get(j, "openapi")), "3.1.0");
	json_decref(j);
	r = gwt_http(gw_port, "GET", "/docs", NULL, NULL, 0, 10000);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "/docs/swagger-ui-bundle.js"));
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "GET", "/docs/swagger-ui-bundle.js", NULL, NULL, 0, 10000);
	assert_int_equal(r.status, 200);
	assert_true(r.body_len > 100000);
	assert_string_equal(gwt_header(&r, "Content-Type", buf, sizeof(buf)),
	                    "text/javascript; charset=utf-8");
	gwt_resp_free(&r);
}

static void
test_metrics_and_log(void **state)
{
	gwt_resp r;

	(void)state;
	get_error("/scores/missing", 404);
	r = gwt_http(gw_port, "GET", "/metrics", NULL, NULL, 0, 10000);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "amlrisk_gateway_requests_total{method=\"GET\",route=\"/"
	                               "scores/{wallet}\",status=\"404\"}"));
	assert_non_null(strstr(r.body, "amlrisk_gateway_request_duration_seconds_bucket{method="
	                               "\"GET\",route=\"/scores/{wallet}\",le=\"+Inf\"}"));
	assert_non_null(strstr(
	        r.body,
	        "amlrisk_gateway_rpc_errors_total{method=\"GetWalletScore\",code=\"NOT_FOUND\"}"));
	assert_non_null(strstr(r.body, "amlrisk_gateway_rpc_errors_total{method=\"GetWalletScore\","
	                               "code=\"DEADLINE_EXCEEDED\"}"));
	assert_non_null(strstr(r.body, "amlrisk_gateway_requests_in_flight 1\n"));
	gwt_resp_free(&r);
	assert_true(log_has(gw_log, "http.request method=GET path=/scores/missing status=404 ms="));
}

/* Core stopped: 503 within the deadline; core back: 200 with the same gateway. */
static void
test_core_down_and_back(void **state)
{
	gwt_resp r;
	int64_t end;
	int status = 0;

	(void)state;
	fake_stop();
	r = gwt_http(gw_port, "GET", "/scores/B", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 503);
	assert_true(r.ms < DEADLINE_MS + 1500);
	gwt_resp_free(&r);
	r = gwt_http(gw_port, "GET", "/health", NULL, NULL, 0, 10000);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "\"status\":\"down\""));
	gwt_resp_free(&r);
	fake_start();
	end = th_now_ms() + 10000;
	while (status != 200 && th_now_ms() < end) {
		r = gwt_http(gw_port, "GET", "/scores/B", NULL, NULL, 0, 10000);
		status = r.status;
		gwt_resp_free(&r);
	}
	assert_int_equal(status, 200);
}

static void
test_no_token_configured(void **state)
{
	char log[256];
	int port = gwt_free_port();
	pid_t pid;
	json_t *j;

	(void)state;
	snprintf(log, sizeof(log), "%s/gw_fake_test.open.%d.log", gwt_log_dir(), (int)getpid());
	pid = gwt_gateway_start(port, fake_url, NULL, log);
	j = gwt_post_json(port, "/reload-graph", NULL, NULL, 200);
	json_decref(j);
	assert_int_equal(th_stop(pid, SIGTERM, 10000), 0);
}

/* GET target on port with the Authorization value auth (NULL: none); the status. */
static int
get_with(int port, const char *target, const char *auth)
{
	char hdr[128] = "";
	gwt_resp r;
	int status;

	if (auth != NULL) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s\r\n", auth);
	}
	r = gwt_http(port, "GET", target, auth != NULL ? hdr : NULL, NULL, 0, 10000);
	status = r.status;
	if (status == 401) {
		char buf[32];

		gwt_assert_error(&r, 401);
		assert_non_null(strstr(r.body, "the read or the write token"));
		assert_string_equal(gwt_header(&r, "WWW-Authenticate", buf, sizeof(buf)), "Bearer");
	}
	gwt_resp_free(&r);
	return status;
}

/* AML_READ_TOKEN: the query endpoints need it or the write token; health,
 * readiness, metrics and the API document stay open; the read token does not
 * write. With a read token and no write token, writes take the read token. */
static void
test_read_token(void **state)
{
	static char *env[] = {"AML_API_TOKEN=w-token", "AML_READ_TOKEN=r-token", NULL};
	static char *env_read_only[] = {"AML_READ_TOKEN=r-token", NULL};
	static const char *const queries[] = {"/scores/top",
	                                      "/scores/B",
	                                      "/scores/explain/B",
	                                      "/graph/wallet/B",
	                                      "/runs",
	                                      "/runs/5",
	                                      "/ingestion/status",
	                                      "/scores/B/history",
	                                      "/runs/5/distribution"};
	static const char *const open[] = {"/health", "/ready", "/metrics", "/openapi.json",
	                                   "/docs",   "/",      "/ui/",     "/ui/app.js"};
	int port = gwt_free_port();
	char log[256];
	gwt_resp r;
	pid_t pid;

	(void)state;
	snprintf(log, sizeof(log), "%s/gw_fake_test.read.%d.log", gwt_log_dir(), (int)getpid());
	pid = gwt_gateway_start(port, fake_url, env, log);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		assert_int_equal(get_with(port, queries[i], NULL), 401);
		assert_int_equal(get_with(port, queries[i], "Bearer r-tokeN"), 401);
		assert_int_equal(get_with(port, queries[i], "Bearer r-token2"), 401);
		assert_int_equal(get_with(port, queries[i], "Basic r-token"), 401);
		assert_int_equal(get_with(port, queries[i], "Bearer r-token"), 200);
		assert_int_equal(get_with(port, queries[i], "Bearer w-token"), 200);
	}
	for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++) {
		assert_int_equal(get_with(port, open[i], NULL), 200);
	}
	r = gwt_http(port, "POST", "/reload-graph", "Authorization: Bearer r-token\r\n", NULL, 0,
	             10000);
	gwt_assert_error(&r, 401); /* a read token does not write */
	gwt_resp_free(&r);
	json_decref(gwt_post_json(port, "/reload-graph", NULL, "w-token", 200));
	assert_int_equal(th_stop(pid, SIGTERM, 10000), 0);
	assert_true(log_has(log, "auth=bearer read_auth=bearer"));

	pid = gwt_gateway_start(port, fake_url, env_read_only, log);
	assert_int_equal(get_with(port, "/runs", NULL), 401);
	r = gwt_http(port, "POST", "/reload-graph", NULL, NULL, 0, 10000);
	gwt_assert_error(&r, 401); /* reads closed: writes are not left open */
	gwt_resp_free(&r);
	json_decref(gwt_post_json(port, "/reload-graph", NULL, "r-token", 200));
	assert_int_equal(th_stop(pid, SIGTERM, 10000), 0);
	assert_true(log_has(log, "auth.read_token_only"));
}

/* True while the server has not closed fd (nothing to read, or data). */
static int
still_open(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	if (poll(&p, 1, 0) <= 0) {
		return 1;
	}
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Asks GET /health every 100 ms until it answers want (0: the connection is
 * closed unanswered), for 10 s at most; returns the last status seen. */
static int
health_until(int port, int want)
{
	int64_t t0 = th_now_ms();
	int status;

	do {
		gwt_resp r;

		usleep(100000);
		r = gwt_http(port, "GET", "/health", NULL, NULL, 0, 5000);
		status = r.status;
		gwt_resp_free(&r);
	} while (status != want && th_now_ms() - t0 < 10000);
	return status;
}

/* A request from src (NULL: 127.0.0.1) on a connection past a limit: 503 with
 * a JSON detail, Retry-After, and the connection closed after it. */
static void
refused_is_answered(int port, const char *src)
{
	gwt_resp r = gwt_http_from(src, port, "GET", "/health", NULL, NULL, 0, 10000);
	char buf[64];

	gwt_assert_error(&r, 503);
	assert_non_null(strstr(r.body, "too many open connections"));
	assert_non_null(gwt_header(&r, "Retry-After", buf, sizeof(buf)));
	assert_string_equal(gwt_header(&r, "Connection", buf, sizeof(buf)), "close");
	gwt_resp_free(&r);
}

/* The per-IP connection limit and the connection timeout against slow clients. */
static void
test_connection_limits(void **state)
{
	/* the idle timeout is what closes a and b on their own: long enough that
	 * a loaded machine still sees the third connection refused before it */
	static char *env[] = {"GATEWAY_PER_IP_CONNECTIONS=2", "GATEWAY_CONNECTION_TIMEOUT_S=3",
	                      NULL};
	char log[256], buf[64];
	int port = gwt_free_port(), a, b, slow;
	pid_t pid;
	int64_t t0;
	ssize_t n;

	(void)state;
	snprintf(log, sizeof(log), "%s/gw_fake_test.limits.%d.log", gwt_log_dir(), (int)getpid());
	pid = gwt_gateway_start(port, fake_url, env, log);
	/* two held connections: the readiness probe's may still count for a moment
	 * (more so under a sanitizer), so a pair the server refused is dialled again */
	for (int i = 0;; i++) {
		a = gwt_dial(port);
		b = gwt_dial(port);
		assert_true(a >= 0 && b >= 0);
		usleep(200000);
		if (still_open(a) && still_open(b)) {
			break;
		}
		close(a);
		close(b);
		assert_true(i < 25);
	}
	/* once the server has accepted both (a moment on a loaded machine), a third
	 * connection from 127.0.0.1 is answered 503 and closed, not dropped */
	assert_int_equal(health_until(port, 503), 503);
	refused_is_answered(port, NULL);
	close(a);
	close(b);
	/* once the server has seen both closes (it may take a moment on a loaded
	 * machine) a new connection is served again */
	assert_int_equal(health_until(port, 200), 200);
	/* a client that stops half-way through its headers is dropped after ~3 s */
	slow = gwt_dial(port);
	assert_true(slow >= 0);
	assert_int_equal(write(slow, "GET /health HTTP/1.1\r\n", 22), 22);
	t0 = th_now_ms();
	n = read(slow, buf, sizeof(buf)); /* blocks until the server closes */
	assert_true(n <= 0);
	assert_true(th_now_ms() - t0 < 12000); /* ~3 s, with room for a loaded machine */
	close(slow);
	assert_int_equal(th_stop(pid, SIGTERM, 10000), 0);
}

/* Waits (ms at most) until the server has closed fd; 1 when it has. */
static int
closed_within(int fd, int ms)
{
	int64_t end = th_now_ms() + ms;
	char buf[256];

	while (th_now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 100) > 0 && recv(fd, buf, sizeof(buf), 0) <= 0) {
			return 1;
		}
	}
	return 0;
}

#define IDLE_CONNS  300
#define FLOOD_CONNS (IDLE_CONNS + 100) /* past the per-address headroom (256 + 64) */

/* 300 idle connections from one address (the default limit is 256): that
 * address's next request is answered 503, not dropped; other addresses are
 * served; the idle ones are closed by the first-request deadline (8 s; the
 * inactivity timeout is 30 s), then the address is served again. Past the 503
 * headroom a connection is closed unanswered, counted; every refusal is in the
 * log and /metrics. */
static void
test_idle_connections(void **state)
{
	static char *env[] = {"GATEWAY_HEADER_TIMEOUT_S=8", NULL};
	int fds[FLOOD_CONNS], port = gwt_free_port(), open_left = 0;
	char log[256];
	pid_t pid;

	(void)state;
	snprintf(log, sizeof(log), "%s/gw_fake_test.idle.%d.log", gwt_log_dir(), (int)getpid());
	pid = gwt_gateway_start(port, fake_url, env, log);
	for (int i = 0; i < IDLE_CONNS; i++) {
		assert_true((fds[i] = gwt_dial(port)) >= 0);
	}
	assert_int_equal(health_until(port, 503), 503); /* once the server has them all */
	refused_is_answered(port, NULL);
	json_decref(gwt_get_json(gw_port, "/health", 200)); /* another gateway: unaffected */
	{
		gwt_resp r =
		        gwt_http_from("127.0.0.2", port, "GET", "/health", NULL, NULL, 0, 10000);

		assert_int_equal(r.status, 200); /* another address is served */
		gwt_resp_free(&r);
	}
	for (int i = IDLE_CONNS; i < FLOOD_CONNS; i++) {
		assert_true((fds[i] = gwt_dial(port)) >= 0);
	}
	/* the server closes every one: past the headroom at once, the refused
	 * ones after 2 s, the others at the 8 s first-request deadline */
	for (int i = 0; i < FLOOD_CONNS; i++) {
		open_left += !closed_within(fds[i], 20000);
		close(fds[i]);
	}
	assert_int_equal(open_left, 0);
	assert_int_equal(health_until(port, 200), 200);
	assert_true(
	        gwt_metric(port,
	                   "amlrisk_gateway_connections_refused_total{reason=\"per_address\"} ") >=
	        IDLE_CONNS - 256);
	assert_true(gwt_metric(port,
	                       "amlrisk_gateway_connections_refused_total{reason=\"per_address_"
	                       "hard\"} ") >= 1);
	assert_true(
	        gwt_metric(port,
	                   "amlrisk_gateway_connections_cut_total{reason=\"first_request\"} ") >=
	        200);
	assert_int_equal(th_stop(pid, SIGTERM, 10000), 0);
	assert_true(log_has(log, "http.conn_refused reason=per_address addr=127.0.0.1"));
	assert_true(log_has(log, "http.conn_refused reason=per_address_hard addr=127.0.0.1"));
	assert_true(log_has(log, "http.conn_cut reason=first_request addr=127.0.0.1"));
}

/* Writes a header line to fd every 300 ms (each byte resets libmicrohttpd's
 * inactivity timer) until the server closes fd; 1 when it did within 20 s. */
static int
trickle_until_closed(int fd)
{
	int64_t end = th_now_ms() + 20000;

	while (th_now_ms() < end) {
		if (send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) != 11 || closed_within(fd, 300)) {
			return 1;
		}
	}
	return 0;
}

/* Slowloris: a client that keeps sending header lines but never ends its
 * request is cut at the first-request deadline (3 s), and on a kept-alive
 * connection at the next-request deadline (4 s), though each byte resets the
 * inactivity timer; other clients are served meanwhile. */
static void
test_slow_headers(void **state)
{
	static char *env[] = {"GATEWAY_HEADER_TIMEOUT_S=3", "GATEWAY_CONNECTION_TIMEOUT_S=4", NULL};
	static const char start[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
	int port = gwt_free_port(), fd;
	char log[256], buf[4096];
	pid_t pid;

	(void)state;
	snprintf(log, sizeof(log), "%s/gw_fake_test.slow.%d.log", gwt_log_dir(), (int)getpid());
	pid = gwt_gateway_start(port, fake_url, env, log);
	fd = gwt_dial(port);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, start, sizeof(start) - 1, MSG_NOSIGNAL),
	                 (ssize_t)sizeof(start) - 1);
	{
		gwt_resp r =
		        gwt_http_from("127.0.0.2", port, "GET", "/health", NULL, NULL, 0, 10000);

		assert_int_equal(r.status, 200);
		gwt_resp_free(&r);
	}
	assert_true(trickle_until_closed(fd));
	close(fd);
	/* a kept-alive connection: one whole request answered, the next trickled */
	fd = gwt_dial(port);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, start, sizeof(start) - 1, MSG_NOSIGNAL),
	                 (ssize_t)sizeof(start) - 1);
	assert_int_equal(send(fd, "\r\n", 2, MSG_NOSIGNAL), 2);
	read_answers(fd, buf, sizeof(buf), 1);
	assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
	assert_int_equal(send(fd, start, sizeof(start) - 1, MSG_NOSIGNAL),
	                 (ssize_t)sizeof(start) - 1);
	assert_true(trickle_until_closed(fd));
	close(fd);
	assert_true(
	        gwt_metric(port,
	                   "amlrisk_gateway_connections_cut_total{reason=\"first_request\"} ") >=
	        1);
	assert_true(gwt_metric(port,
	                       "amlrisk_gateway_connections_cut_total{reason=\"next_request\"} ") >=
	            1);
	assert_int_equal(th_stop(pid, SIGTERM, 10000), 0);
	assert_true(log_has(log, "http.conn_cut reason=first_request"));
}

#define MANY_CONNS  128
#define MANY_ROUNDS 60

/* Reads one whole answer (headers, then Content-Length bytes) from fd into buf;
 * false when it is not in by deadline_ms. */
static int
read_answer(int fd, char *buf, size_t cap, int64_t deadline_ms)
{
	size_t got = 0;
	const char *end, *cl;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline_ms - th_now_ms();
		ssize_t n;

		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL &&
		    (cl = strcasestr(buf, "Content-Length:")) != NULL && cl < end &&
		    got >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10)) {
			return 1;
		}
		if (got + 1 >= cap || left <= 0 || poll(&p, 1, (int)left) <= 0 ||
		    (n = recv(fd, buf + got, cap - 1 - got, 0)) <= 0) {
			return 0;
		}
		got += (size_t)n;
	}
}

/* 128 keep-alive connections sending at once, with one HTTP thread asked for:
 * libmicrohttpd stalls a thread that finds 128 sockets ready in one round
 * (until the connection timeout), so the gateway raises its pool (and says
 * so in its log) and every round is answered at once. */
static void
test_many_ready_connections(void **state)
{
	static char *env[] = {"GATEWAY_THREADS=1", "GATEWAY_MAX_CONNECTIONS=250",
	                      "GATEWAY_PER_IP_CONNECTIONS=250", "GATEWAY_CONNECTION_TIMEOUT_S=60",
	                      NULL};
	static const char req[] = "GET /scores/w1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	int fds[MANY_CONNS], port = gwt_free_port();
	char log[256], buf[4096];
	pid_t pid;

	(void)state;
	snprintf(log, sizeof(log), "%s/gw_fake_test.many.%d.log", gwt_log_dir(), (int)getpid());
	pid = gwt_gateway_start(port, fake_url, env, log);
	for (int i = 0; i < MANY_CONNS; i++) {
		assert_true((fds[i] = gwt_dial(port)) >= 0);
	}
	for (int round = 0; round < MANY_ROUNDS; round++) {
		int64_t deadline = th_now_ms() + 10000;

		for (int i = 0; i < MANY_CONNS; i++) {
			assert_int_equal(write(fds[i], req, sizeof(req) - 1),
			                 (ssize_t)sizeof(req) - 1);
		}
		for (int i = 0; i < MANY_CONNS; i++) {
			if (!read_answer(fds[i], buf, sizeof(buf), deadline)) {
				fail_msg("round %d: connection %d not answered within 10 s", round,
				         i);
			}
			assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
		}
	}
	for (int i = 0; i < MANY_CONNS; i++) {
		close(fds[i]);
	}
	assert_int_equal(th_stop(pid, SIGTERM, 10000), 0);
	assert_true(log_has(log,
	                    "http.threads_raised threads=1 max_connections=250 open_at_most=281 "
	                    "pool=3"));
}

/* A request still waiting for its RPC when SIGTERM comes. */
static void *
slow_main(void *arg)
{
	gwt_resp *r = arg;

	*r = gwt_http(gw_port, "GET", "/scores/slow", NULL, NULL, 0, 10000);
	return NULL;
}

/* SIGTERM: the gateway answers the request whose RPC is out (suspended, its
 * pool thread long gone to other work) before it exits, cleanly. */
static void
test_sigterm(void **state)
{
	gwt_resp slow;
	pthread_t th;
	int st;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, slow_main, &slow), 0);
	usleep(300000); /* the request is in and suspended, its RPC out */
	st = th_stop(gw_pid, SIGTERM, 10000);
	pthread_join(th, NULL);
	gwt_assert_error(&slow, 504);
	gwt_resp_free(&slow);
	gw_pid = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_health_ready),
	        cmocka_unit_test(test_top_scores),
	        cmocka_unit_test(test_top_paging_compare),
	        cmocka_unit_test(test_distribution_history),
	        cmocka_unit_test(test_console_files),
	        cmocka_unit_test(test_wallet_score),
	        cmocka_unit_test(test_live_view),
	        cmocka_unit_test(test_alerts),
	        cmocka_unit_test(test_alerts_stream),
	        cmocka_unit_test(test_alerts_stream_slow),
	        cmocka_unit_test(test_amlctl_live_alerts),
	        cmocka_unit_test(test_deadline),
	        cmocka_unit_test(test_explain_graph),
	        cmocka_unit_test(test_runs_ingestion),
	        cmocka_unit_test(test_post_endpoints),
	        cmocka_unit_test(test_auth),
	        cmocka_unit_test(test_methods_and_limits),
	        cmocka_unit_test(test_keep_alive),
	        cmocka_unit_test(test_static),
	        cmocka_unit_test(test_metrics_and_log),
	        cmocka_unit_test(test_core_down_and_back),
	        cmocka_unit_test(test_no_token_configured),
	        cmocka_unit_test(test_read_token),
	        cmocka_unit_test(test_connection_limits),
	        cmocka_unit_test(test_idle_connections),
	        cmocka_unit_test(test_slow_headers),
	        cmocka_unit_test(test_many_ready_connections),
	        cmocka_unit_test(test_sigterm),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
