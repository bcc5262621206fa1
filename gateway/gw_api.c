/* gw_api.c - RiskService endpoints: parse and bound the query, one RPC through
 * the shared client with the request's deadline, status mapped by
 * amlrisk_grpc_to_http(), answer encoded by gw_json. No scoring logic here. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml/v1/risk_service.pb-c.h"
#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "gw_api.h"
#include "gw_json.h"
#include "gw_metrics.h"
#include "gw_param.h"
#include "gw_topcache.h"

#define MSG_MAX     512
#define GW_LIVE_OFF "live scoring is off on the core (no LIVE_SCORING_CONFIG, or a core without it)"
#define WHY_MAX     160

/* Bounds of the query parameters (documented in openapi.json). */
#define TOP_N_MAX          1000
#define TOP_N_DEFAULT      20
#define RUNS_LIMIT_MAX     1000
#define RUNS_LIMIT_DEFAULT 50
#define HOPS_MAX           6
#define HOPS_DEFAULT       2
#define NODE_LIMIT_MAX     10000
#define NODE_LIMIT_DEFAULT 100
#define EDGE_LIMIT_MAX     50000
#define EDGE_LIMIT_DEFAULT 600
#define SOURCES_MAX        1000
#define TOP_OFFSET_MAX     100000
#define HISTORY_LIMIT_MAX  500
#define HISTORY_DEFAULT    50
#define DIST_BINS_MAX      1000
#define DIST_BINS_DEFAULT  40
#define COMPARE_TEXT_MAX   24
#define VIEW_TEXT_MAX      8
#define ALERTS_LIMIT_MAX   1000
#define ALERTS_DEFAULT     50
#define RULE_TEXT_MAX      64

static const ProtobufCServiceDescriptor *const svc = &aml__v1__risk_service__descriptor;

/* Counts a failed call of method in the metrics. */
static void
count_error(const gw_app *app, const char *method, int code)
{
	const ProtobufCMethodDescriptor *md =
	        protobuf_c_service_descriptor_get_method_by_name(svc, method);

	gw_metrics_rpc_error(app->metrics, md != NULL ? (int)(md - svc->methods) : -1, code);
}

/* The error reply of a failed call: the HTTP status of the gRPC code and the
 * core's (or the client's) message as detail. */
static void
reply_rpc_error(gw_reply *rep, int code, const char *msg, int timeout_ms)
{
	switch (code) {
	case AML__V1__STATUS_CODE__UNAVAILABLE:
		gw_reply_error(rep, amlrisk_grpc_to_http(code), "core unavailable: %s", msg);
		break;
	case AML__V1__STATUS_CODE__FAILED_PRECONDITION:
		if (strstr(msg, RPC_NOT_WRITER) != NULL) {
			/* every instance was asked: none is the writer (one is being elected) */
			gw_reply_error(rep, 503, "no core instance took the write: %s", msg);
			break;
		}
		gw_reply_error(rep, amlrisk_grpc_to_http(code), "%s",
		               msg[0] != '\0' ? msg : amlrisk_grpc_name(code));
		break;
	case AML__V1__STATUS_CODE__DEADLINE_EXCEEDED:
		gw_reply_error(rep, amlrisk_grpc_to_http(code),
		               "core did not answer within %d ms: %s", timeout_ms, msg);
		break;
	default:
		gw_reply_error(rep, amlrisk_grpc_to_http(code), "%s",
		               msg[0] != '\0' ? msg : amlrisk_grpc_name(code));
	}
}

/* Calls method with req and waits; returns the gRPC code. A query (long
 * false) has the query deadline and may share an exchange with other
 * requests' queries (rpc_client_call_coalesced); ReloadGraph and RunScore
 * (long) go alone as write calls: run at most once, with the long deadline
 * only once running (until then the query deadline), repeated once with the
 * same call id if the connection drops mid-call. On a failure the message (the
 * core's, or the client's for local outcomes) is in msg. */
static int
call_sync(const gw_app *app, const char *method, const ProtobufCMessage *req,
          ProtobufCMessage **resp, bool long_call, char *msg, size_t msglen)
{
	if (long_call) {
		rpc_call_opts o = {.timeout_ms = app->long_timeout_ms, .once = 1, .retries = 1};

		return rpc_multi_write(app->rpc, svc, method, req, resp, &o, msg, msglen);
	}
	return rpc_multi_read(app->rpc, svc, method, req, resp, app->rpc_timeout_ms, app->coalesce,
	                      msg, msglen);
}

/* What an answer needs besides the core's message: the request's path
 * parameter (NULL if none) and, for /scores/top, the key of its cached answer
 * and the reference to it that the call named (owned; released once answered). */
typedef struct answer_ctx {
	const gw_app *app;
	const char *param; /* the request's, alive until it is answered */
	uint32_t n;        /* /scores/top: rows asked for */
	int64_t asked;     /* /scores/top: run_id asked for (0 = the latest) */
	gw_topbody *held;  /* /scores/top: the cached answer the call named, or NULL */
	int compare;       /* /scores/top: ranks in another run were asked for */
	int cacheable;     /* /scores/top: a first page without ranks, kept in the cache */
	int live;          /* a read of the live view or of alerts: needs live scoring */
} answer_ctx;

/* Turns a query's OK answer (borrowed) into the reply. */
typedef void (*answer_fn)(const ProtobufCMessage *resp, const answer_ctx *ax, gw_reply *rep);

/* A query waiting for its RPC while its connection is suspended. */
typedef struct pending {
	const char *method; /* static */
	answer_ctx ax;
	answer_fn answer;
	gw_resume_fn resume;
	void *conn;
} pending;

/* The outcome of a call: the answer, or the error reply (counted in the
 * metrics; timeout_ms is the call's deadline, for the message); then frees
 * resp and drops ax's cached answer. */
static void
query_finish(const answer_ctx *ax, gw_reply *rep, const char *method, answer_fn answer, int code,
             ProtobufCMessage *resp, const char *msg, int timeout_ms)
{
	if (code == 0) {
		answer(resp, ax, rep);
		protobuf_c_message_free_unpacked(resp, NULL);
	} else if (ax->live && (code == AML__V1__STATUS_CODE__UNIMPLEMENTED ||
	                        code == AML__V1__STATUS_CODE__FAILED_PRECONDITION)) {
		/* a core without live scoring (or one older than it): the caller's
		 * precondition, not a server fault */
		count_error(ax->app, method, code);
		gw_reply_error(rep, 409, "%s: %s", GW_LIVE_OFF, msg);
	} else {
		count_error(ax->app, method, code);
		reply_rpc_error(rep, code, msg, timeout_ms);
	}
	gw_topbody_release(ax->held);
}

/* rpc_client_call_async()'s callback of a query: builds the reply on NNG's
 * thread and hands it back to the suspended connection. */
static void
query_done(void *arg, int code, ProtobufCMessage *resp, const char *msg)
{
	pending *p = arg;
	gw_reply rep = {0};

	query_finish(&p->ax, &rep, p->method, p->answer, code, resp, msg,
	             p->ax.app->rpc_timeout_ms);
	p->resume(p->conn, &rep);
	free(p);
}

/* The one RPC of a request, answered by answer when OK. A query (long false)
 * with coalescing on and a server that can suspend the connection is
 * asynchronous: the pool thread goes on to other connections and the reply is
 * built when the answer comes (rep is then marked deferred). Otherwise, and
 * for the long calls, the call is made here and waited for (call_sync). */
static void
query_ax(const gw_request *rq, gw_reply *rep, const char *method, const ProtobufCMessage *req,
         answer_fn answer, bool long_call, const answer_ctx *ax)
{
	const gw_app *app = rq->app;
	ProtobufCMessage *resp = NULL;
	char msg[MSG_MAX] = "";
	pending *p;
	int code;

	if (!long_call && app->coalesce && rq->suspend != NULL &&
	    (p = malloc(sizeof(*p))) != NULL) {
		*p = (pending){method, *ax, answer, rq->resume, rq->conn};
		rq->suspend(rq->conn); /* before the call: its answer may come at once */
		rep->deferred = 1;
		rpc_multi_read_async(app->rpc, svc, method, req, app->rpc_timeout_ms, query_done,
		                     p);
		return;
	}
	code = call_sync(app, method, req, &resp, long_call, msg, sizeof(msg));
	query_finish(ax, rep, method, answer, code, resp, msg,
	             long_call ? app->long_timeout_ms : app->rpc_timeout_ms);
}

/* query_ax() for the answers that need only the path parameter. */
static void
query(const gw_request *rq, gw_reply *rep, const char *method, const ProtobufCMessage *req,
      answer_fn answer, bool long_call)
{
	const answer_ctx ax = {.app = rq->app, .param = rq->param};

	query_ax(rq, rep, method, req, answer, long_call, &ax);
}

/* answer_fn of a query whose OK answer is encoded whole by one gw_json call. */
#define ANSWER_JSON(name, type, enc)                                                               \
	static void name(const ProtobufCMessage *resp, const answer_ctx *ax, gw_reply *rep)        \
	{                                                                                          \
		(void)ax;                                                                          \
		gw_json_reply(rep, 200, enc((const type *)resp));                                  \
	}
ANSWER_JSON(answer_explain, Aml__V1__ExplainWalletResponse, gw_json_explain)
ANSWER_JSON(answer_graph, Aml__V1__WalletGraphResponse, gw_json_graph)
ANSWER_JSON(answer_runs, Aml__V1__ListRunsResponse, gw_json_runs)
ANSWER_JSON(answer_reload, Aml__V1__ReloadGraphResponse, gw_json_reload)
ANSWER_JSON(answer_run_score, Aml__V1__RunScoreResponse, gw_json_run_score)
ANSWER_JSON(answer_distribution, Aml__V1__ScoreDistributionResponse, gw_json_distribution)
ANSWER_JSON(answer_alerts, Aml__V1__ListAlertsResponse, gw_json_alerts)

/* IngestionStatus' answer; its live view goes to the metrics too. */
static void
answer_ingestion(const ProtobufCMessage *resp, const answer_ctx *ax, gw_reply *rep)
{
	const Aml__V1__IngestionStatusResponse *r = (const Aml__V1__IngestionStatusResponse *)resp;

	gw_metrics_live(ax->app->metrics, r->live);
	gw_json_reply(rep, 200, gw_json_ingestion(r));
}

/* GetWalletScore's answer, written by the streaming writer. */
static void
answer_wallet(const ProtobufCMessage *resp, const answer_ctx *ax, gw_reply *rep)
{
	const Aml__V1__GetWalletScoreResponse *r = (const Aml__V1__GetWalletScoreResponse *)resp;

	if (ax->live && r->live == NULL) {
		gw_reply_error(rep, 409, "%s: the core answered from a run", GW_LIVE_OFF);
		return;
	}
	gw_metrics_live(ax->app->metrics, r->live);
	gw_json_wallet_reply(rep, r);
}

/* TopScores' answer: the cached copy when the core says the run it came from
 * is still the one asked for, else the rows written out (and kept). */
static void
answer_top(const ProtobufCMessage *resp, const answer_ctx *ax, gw_reply *rep)
{
	const Aml__V1__TopScoresResponse *r = (const Aml__V1__TopScoresResponse *)resp;
	gw_topcache *cache = ax->app->topcache;

	if (ax->live && r->live == NULL) {
		gw_reply_error(rep, 409, "%s: the core answered from a run", GW_LIVE_OFF);
		return;
	}
	gw_metrics_live(ax->app->metrics, r->live);
	if (r->unchanged) {
		if (ax->held == NULL || gw_topbody_run(ax->held) != r->run_id) {
			gw_reply_error(rep, 502,
			               "the core answered 'unchanged' for run %lld, which "
			               "this gateway did not name",
			               (long long)r->run_id);
			return;
		}
		gw_topbody_reply(ax->held, rep);
		rep->hdr_name = "X-Amlrisk-Cache";
		rep->hdr_value = "hit";
		return;
	}
	gw_json_top_reply(rep, r, ax->compare);
	if (cache != NULL && rep->status == 200 && ax->cacheable) {
		gw_topcache_put(cache, ax->n, ax->asked, r->run_id, rep->body, rep->len);
	}
}

/* GetRun answers without a run when there is none: a 404. */
static void
answer_run(const ProtobufCMessage *resp, const answer_ctx *ax, gw_reply *rep)
{
	const Aml__V1__GetRunResponse *r = (const Aml__V1__GetRunResponse *)resp;

	if (r->run == NULL) {
		gw_reply_error(rep, 404, "run %s not found", ax->param);
	} else {
		gw_json_reply(rep, 200, gw_json_run_summary(r->run));
	}
}

/* Reads a bounded integer query parameter; on bad input sets the 422 reply and
 * returns -1. */
static int
query_int(const gw_request *rq, gw_reply *rep, const char *name, int64_t min, int64_t max,
          int64_t dflt, int64_t *out)
{
	char why[WHY_MAX];

	if (gw_param_int(rq->query, name, min, max, dflt, out, why, sizeof(why)) != AMLRISK_OK) {
		gw_reply_error(rep, 422, "%s", why);
		return -1;
	}
	return 0;
}

/* The optional run_id query parameter (0 = latest completed run). */
static int
query_run_id(const gw_request *rq, gw_reply *rep, int64_t *out)
{
	return query_int(rq, rep, "run_id", 1, INT64_MAX, 0, out);
}

/* Health is asked by /health and /ready: a Health RPC whose failure is an
 * answer (503), not an error. Returns the response or NULL with msg set. */
static Aml__V1__HealthResponse *
health_get(const gw_request *rq, char *msg, size_t msglen)
{
	Aml__V1__HealthRequest req = AML__V1__HEALTH_REQUEST__INIT;
	Aml__V1__HealthResponse *resp = NULL;
	int code;

	code = call_sync(rq->app, "Health", &req.base, (ProtobufCMessage **)&resp, false, msg,
	                 msglen);
	if (code != 0) {
		count_error(rq->app, "Health", code);
		char tmp[MSG_MAX];

		snprintf(tmp, sizeof(tmp), "core %s: %s", amlrisk_grpc_name(code), msg);
		snprintf(msg, msglen, "%s", tmp);
		return NULL;
	}
	gw_metrics_live(rq->app->metrics, resp->live);
	return resp;
}

void
gw_api_health(const gw_request *rq, gw_reply *rep)
{
	char msg[MSG_MAX] = "";
	Aml__V1__HealthResponse *h = health_get(rq, msg, sizeof(msg));
	int healthy = h != NULL && h->database_ok && strcmp(h->status, "ok") == 0;

	gw_json_reply(rep, healthy ? 200 : 503, gw_json_health(h, healthy, msg));
	if (h != NULL) {
		protobuf_c_message_free_unpacked(&h->base, NULL);
	}
}

void
gw_api_ready(const gw_request *rq, gw_reply *rep)
{
	char msg[MSG_MAX] = "";
	Aml__V1__HealthResponse *h = health_get(rq, msg, sizeof(msg));
	int ready = 0;

	if (h != NULL && !h->database_ok) {
		snprintf(msg, sizeof(msg), "database not answering: %s", h->database_error);
	} else if (h != NULL && (h->graph == NULL || !h->graph->loaded)) {
		snprintf(msg, sizeof(msg), "no graph loaded (POST /reload-graph)");
	} else if (h != NULL && h->live != NULL && h->live->enabled && !h->live->current) {
		snprintf(msg, sizeof(msg),
		         "live view not current: at watermark %lld, newest committed %lld"
		         " (start-up or catching up)",
		         (long long)h->live->watermark, (long long)h->live->newest_sequence);
	} else if (h != NULL) {
		ready = 1;
	}
	gw_json_reply(rep, ready ? 200 : 503, gw_json_ready(h, ready, msg));
	if (h != NULL) {
		protobuf_c_message_free_unpacked(&h->base, NULL);
	}
}

void
gw_api_reload_graph(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__ReloadGraphRequest req = AML__V1__RELOAD_GRAPH_REQUEST__INIT;

	query(rq, rep, "ReloadGraph", &req.base, answer_reload, true);
}

void
gw_api_run_score(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	char *overrides, why[WHY_MAX];
	int rv;

	/* the body goes to the core as it came: the core reads it with its exact
	 * reader (illicit_seed is a uint64, which no Jansson integer holds) and
	 * answers INVALID_ARGUMENT (422) naming the key, or the byte where the
	 * JSON breaks; the server bounds its size (GW_BODY_MAX, the core's own
	 * limit) */
	if ((rv = gw_param_overrides(rq->body, rq->body_len, &overrides, why, sizeof(why))) !=
	    AMLRISK_OK) {
		gw_reply_error(rep, rv == AMLRISK_ENOMEM ? 503 : 422, "%s", why);
		return;
	}
	req.config_overrides_json = overrides;
	query(rq, rep, "RunScore", &req.base, answer_run_score, true);
	free(overrides);
}

/* The optional compare parameter of /scores/top: "previous" (the previous
 * run of the same model) or a run id. Sets req; -1 with the 422 in rep. */
static int
query_compare(const gw_request *rq, gw_reply *rep, Aml__V1__TopScoresRequest *req, int *asked)
{
	char text[COMPARE_TEXT_MAX], why[WHY_MAX];
	int rv = gw_param_get(rq->query, "compare", text, sizeof(text));

	*asked = 0;
	if (rv == AMLRISK_ENOTFOUND) {
		return 0;
	}
	if (rv == AMLRISK_OK && strcmp(text, "previous") == 0) {
		req->compare_previous = true;
		*asked = 1;
		return 0;
	}
	if (rv == AMLRISK_OK && gw_param_run_id(text, strlen(text), &req->compare_run_id, why,
	                                        sizeof(why)) == AMLRISK_OK) {
		*asked = 1;
		return 0;
	}
	gw_reply_error(rep, 422, "compare: must be \"previous\" or a run id (a positive integer)");
	return -1;
}

/* The optional view parameter: "run" (the default: the latest completed run or
 * run_id) or "live" (the core's live view; then no run_id, and has_run says
 * whether one was given). Sets *out; -1 with the 422 in rep. */
static int
query_view(const gw_request *rq, gw_reply *rep, int has_run, Aml__V1__ScoreView *out)
{
	char text[VIEW_TEXT_MAX];
	int rv = gw_param_get(rq->query, "view", text, sizeof(text));

	*out = AML__V1__SCORE_VIEW__SCORE_VIEW_RUN;
	if (rv == AMLRISK_ENOTFOUND || (rv == AMLRISK_OK && strcmp(text, "run") == 0)) {
		return 0;
	}
	if (rv != AMLRISK_OK || strcmp(text, "live") != 0) {
		gw_reply_error(rep, 422, "view: must be \"run\" or \"live\"");
		return -1;
	}
	if (has_run) {
		gw_reply_error(rep, 422,
		               "view=live reads the live view, which has no run: drop run_id "
		               "(and compare)");
		return -1;
	}
	*out = AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
	return 0;
}

void
gw_api_top_scores(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
	answer_ctx ax = {.app = rq->app, .param = rq->param};
	char probe[2];
	int64_t n, offset;
	const char *name = gw_param_get(rq->query, "n", probe, sizeof(probe)) != AMLRISK_ENOTFOUND
	                           ? "n"
	                           : "limit";

	if (query_int(rq, rep, name, 1, TOP_N_MAX, TOP_N_DEFAULT, &n) != 0 ||
	    query_run_id(rq, rep, &req.run_id) != 0 ||
	    query_int(rq, rep, "offset", 0, TOP_OFFSET_MAX, 0, &offset) != 0 ||
	    query_compare(rq, rep, &req, &ax.compare) != 0 ||
	    query_view(rq, rep, req.run_id != 0 || ax.compare, &req.view) != 0) {
		return;
	}
	req.n = (uint32_t)n;
	req.offset = (uint32_t)offset;
	ax.n = req.n;
	ax.asked = req.run_id;
	/* only first pages of runs without ranks are kept: the dashboards' poll;
	 * the live view changes with every batch */
	ax.live = req.view == AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
	ax.cacheable = req.offset == 0 && !ax.compare && !ax.live;
	if (ax.cacheable && rq->app->topcache != NULL &&
	    (ax.held = gw_topcache_get(rq->app->topcache, ax.n, ax.asked)) != NULL) {
		req.known_run_id = gw_topbody_run(ax.held);
	}
	query_ax(rq, rep, "TopScores", &req.base, answer_top, false, &ax);
}

void
gw_api_wallet_score(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__GetWalletScoreRequest req = AML__V1__GET_WALLET_SCORE_REQUEST__INIT;
	answer_ctx ax = {.app = rq->app, .param = rq->param};

	if (query_run_id(rq, rep, &req.run_id) != 0 ||
	    query_view(rq, rep, req.run_id != 0, &req.view) != 0) {
		return;
	}
	req.wallet = (char *)rq->param;
	ax.live = req.view == AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
	query_ax(rq, rep, "GetWalletScore", &req.base, answer_wallet, false, &ax);
}

void
gw_api_explain(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__ExplainWalletRequest req = AML__V1__EXPLAIN_WALLET_REQUEST__INIT;
	int64_t max_sources;

	if (query_int(rq, rep, "max_sources", 1, SOURCES_MAX, 0, &max_sources) != 0) {
		return;
	}
	req.wallet = (char *)rq->param;
	req.max_sources_per_hop = (uint32_t)max_sources;
	query(rq, rep, "ExplainWallet", &req.base, answer_explain, false);
}

void
gw_api_wallet_graph(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__WalletGraphRequest req = AML__V1__WALLET_GRAPH_REQUEST__INIT;
	int64_t hops, nodes, edges;

	if (query_int(rq, rep, "hops", 1, HOPS_MAX, HOPS_DEFAULT, &hops) != 0 ||
	    query_int(rq, rep, "node_limit", 1, NODE_LIMIT_MAX, NODE_LIMIT_DEFAULT, &nodes) != 0 ||
	    query_int(rq, rep, "edge_limit", 1, EDGE_LIMIT_MAX, EDGE_LIMIT_DEFAULT, &edges) != 0) {
		return;
	}
	req.wallet = (char *)rq->param;
	req.hops = (uint32_t)hops;
	req.node_limit = (uint32_t)nodes;
	req.edge_limit = (uint32_t)edges;
	query(rq, rep, "WalletGraph", &req.base, answer_graph, false);
}

void
gw_api_list_runs(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__ListRunsRequest req = AML__V1__LIST_RUNS_REQUEST__INIT;
	int64_t limit;

	if (query_int(rq, rep, "limit", 1, RUNS_LIMIT_MAX, RUNS_LIMIT_DEFAULT, &limit) != 0 ||
	    query_int(rq, rep, "before_id", 1, INT64_MAX, 0, &req.before_id) != 0) {
		return;
	}
	req.limit = (uint32_t)limit;
	query(rq, rep, "ListRuns", &req.base, answer_runs, false);
}

void
gw_api_get_run(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__GetRunRequest req = AML__V1__GET_RUN_REQUEST__INIT;

	req.run_id = strtoll(rq->param, NULL, 10); /* validated by the server */
	query(rq, rep, "GetRun", &req.base, answer_run, false);
}

void
gw_api_ingestion_status(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__IngestionStatusRequest req = AML__V1__INGESTION_STATUS_REQUEST__INIT;

	query(rq, rep, "IngestionStatus", &req.base, answer_ingestion, false);
}

/* WalletHistory's answer, written by the streaming writer. */
static void
answer_history(const ProtobufCMessage *resp, const answer_ctx *ax, gw_reply *rep)
{
	(void)ax;
	gw_json_history_reply(rep, (const Aml__V1__WalletHistoryResponse *)resp);
}

void
gw_api_wallet_history(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__WalletHistoryRequest req = AML__V1__WALLET_HISTORY_REQUEST__INIT;
	int64_t limit;

	if (query_int(rq, rep, "limit", 1, HISTORY_LIMIT_MAX, HISTORY_DEFAULT, &limit) != 0 ||
	    query_int(rq, rep, "before_run_id", 1, INT64_MAX, 0, &req.before_run_id) != 0) {
		return;
	}
	req.wallet = (char *)rq->param;
	req.limit = (uint32_t)limit;
	query(rq, rep, "WalletHistory", &req.base, answer_history, false);
}

void
gw_api_distribution(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__ScoreDistributionRequest req = AML__V1__SCORE_DISTRIBUTION_REQUEST__INIT;
	int64_t bins;

	if (query_int(rq, rep, "bins", 1, DIST_BINS_MAX, DIST_BINS_DEFAULT, &bins) != 0) {
		return;
	}
	req.run_id = strtoll(rq->param, NULL, 10); /* validated by the server */
	req.bins = (uint32_t)bins;
	query(rq, rep, "ScoreDistribution", &req.base, answer_distribution, false);
}

/* An optional text filter of /alerts into out (cap bytes, "" when absent);
 * wallet ids are checked as the consumer checks them. -1 with the 422. */
static int
query_filter(const gw_request *rq, gw_reply *rep, const char *name, char *out, size_t cap,
             int wallet)
{
	int rv = gw_param_get(rq->query, name, out, cap);
	const char *why = NULL;

	if (rv == AMLRISK_ENOTFOUND) {
		out[0] = '\0';
		return 0;
	}
	if (rv != AMLRISK_OK || out[0] == '\0' ||
	    (wallet && amlrisk_tx_check_id(out, strlen(out), cap - 1, &why) != 0)) {
		gw_reply_error(rep, 422, "%s: must be %s of at most %zu bytes", name,
		               wallet ? "a wallet id (UTF-8, no control characters)"
		                      : "a non-empty rule name",
		               cap - 1);
		return -1;
	}
	return 0;
}

/* The filters and page of GET /alerts into req (its strings in wallet and
 * rule); -1 with the 422 in rep. */
static int
alerts_request(const gw_request *rq, gw_reply *rep, Aml__V1__ListAlertsRequest *req, char *wallet,
               size_t wallet_cap, char *rule, size_t rule_cap)
{
	char why[WHY_MAX];
	int64_t limit;

	if (query_int(rq, rep, "limit", 1, ALERTS_LIMIT_MAX, ALERTS_DEFAULT, &limit) != 0) {
		return -1;
	}
	if (gw_param_int(rq->query, "cursor", 1, INT64_MAX, 0, &req->before_id, why, sizeof(why)) !=
	    AMLRISK_OK) {
		gw_reply_error(rep, 422,
		               "cursor: must be the next_cursor of a previous page "
		               "(a positive integer)");
		return -1;
	}
	if (gw_param_time(rq->query, "since", &req->since_us, why, sizeof(why)) != AMLRISK_OK ||
	    gw_param_time(rq->query, "until", &req->until_us, why, sizeof(why)) != AMLRISK_OK) {
		gw_reply_error(rep, 422, "%s", why);
		return -1;
	}
	if (req->since_us != 0 && req->until_us != 0 && req->until_us <= req->since_us) {
		gw_reply_error(rep, 422, "until: must be after since");
		return -1;
	}
	if (query_filter(rq, rep, "wallet", wallet, wallet_cap, 1) != 0 ||
	    query_filter(rq, rep, "rule", rule, rule_cap, 0) != 0) {
		return -1;
	}
	req->limit = (uint32_t)limit;
	req->wallet = wallet;
	req->rule = rule;
	return 0;
}

void
gw_api_alerts(const gw_request *rq, gw_reply *rep)
{
	Aml__V1__ListAlertsRequest req = AML__V1__LIST_ALERTS_REQUEST__INIT;
	const answer_ctx ax = {.app = rq->app, .live = 1};
	char wallet[AMLRISK_WALLET_MAX + 1], rule[RULE_TEXT_MAX + 1];

	if (alerts_request(rq, rep, &req, wallet, sizeof(wallet), rule, sizeof(rule)) != 0) {
		return;
	}
	query_ax(rq, rep, "ListAlerts", &req.base, answer_alerts, false, &ax);
}
