/* srv_service.c - RiskService: Health, the two writer calls (ReloadGraph and
 * RunScore, queued to the writer and answered by it), and the run catalogue
 * (ListRuns, GetRun, IngestionStatus). Handlers run on the RPC worker pool and
 * never wait for the writer. */
#include "srv_ctx.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "rpc.h"
#include "srv_arena.h"
#include "srv_ingest.h"
#include "srv_msg.h"
#include "srv_runs.h"
#include "srv_time.h"

#ifndef AMLRISK_VERSION
#define AMLRISK_VERSION "0.0.0"
#endif

#define DB_WAIT_MAX_MS 5000

void
srv_service_init(srv_ctx *ctx)
{
	Aml__V1__RiskService_Service svc = AML__V1__RISK_SERVICE__INIT(srv_rpc_);

	ctx->svc = svc;
}

int
srv_with_db(srv_ctx *ctx, void *closure_data, srv_db_fn fn, void *arg, char *err, size_t errlen)
{
	int rv = AMLRISK_EDB;

	for (int attempt = 0; attempt < 2; attempt++) {
		int left = rpc_call_time_left_ms(closure_data);
		PGconn *c = NULL;
		bool broken;
		if ((rv = srv_db_acquire(ctx->db, &c,
		                         left < 0 || left > DB_WAIT_MAX_MS ? DB_WAIT_MAX_MS : left,
		                         err, errlen)) != 0)
			return rv == AMLRISK_EBUSY ? AMLRISK_EUNAVAIL : rv;
		rv = fn(c, arg, err, errlen);
		broken = !srv_db_ok(c);
		srv_db_release(ctx->db, c);
		if (!(rv == AMLRISK_EDB && broken))
			break;
		/* a pooled connection the database dropped (a restart): once more afresh */
	}
	return rv;
}

int
srv_wallet_check(const char *wallet, char *err, size_t errlen)
{
	size_t len = wallet != NULL ? strlen(wallet) : 0;

	if (len == 0) {
		snprintf(err, errlen, "wallet: required");
		return AMLRISK_EINVAL;
	}
	if (len > CORE_WALLET_LEN_MAX) {
		snprintf(err, errlen, "wallet: longer than %d bytes", CORE_WALLET_LEN_MAX);
		return AMLRISK_EINVAL;
	}
	return AMLRISK_OK;
}

SRV_HANDLER(health, HealthRequest, HealthResponse)
{
	srv_ctx *ctx = (srv_ctx *)service;
	Aml__V1__HealthResponse resp = AML__V1__HEALTH_RESPONSE__INIT;
	char dberr[256], writer[SRV_LEADER_ID_MAX + 1];
	srv_graph_info info;
	core_graph *g = srv_state_graph(ctx->state, &info);
	srv_run *latest = srv_state_latest(ctx->state, NULL);
	Aml__V1__RpcServerStats rpc = AML__V1__RPC_SERVER_STATS__INIT;
	rpc_server_stats_t st;
	srv_arena a;

	(void)input;
	core_graph_unref(g); /* only its info is needed */
	srv_arena_init(&a, 0);
	resp.database_ok = srv_state_db(ctx->state, dberr, sizeof(dberr));
	resp.status = resp.database_ok ? "ok" : "degraded";
	resp.database_error = srv_arena_strdup(&a, dberr);
	resp.graph = srv_msg_graph(&a, &info);
	if (latest != NULL)
		resp.latest_run = srv_msg_run(&a, srv_run_summary(latest));
	resp.live = srv_msg_live_state(&a, ctx->state, NULL);
	resp.version = AMLRISK_VERSION;
	resp.instance_id = (char *)srv_leader_instance(ctx->leader);
	resp.role = (char *)srv_role_name(srv_leader_role(ctx->leader));
	srv_leader_writer_id(ctx->leader, writer, sizeof(writer));
	resp.writer_id = writer;
	resp.uptime_seconds = srv_mono_s() - ctx->started_s;
	if (ctx->rpc != NULL) {
		rpc_server_stats(ctx->rpc, &st);
		rpc.exchanges = st.exchanges;
		rpc.unauthenticated = st.unauthenticated;
		rpc.rejected = st.rejected;
		rpc.late = st.late;
		rpc.replayed = st.replayed;
		resp.rpc = &rpc;
	}
	if (srv_arena_failed(&a))
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "health: out of memory");
	else
		closure(&resp, closure_data);
	srv_arena_free(&a);
	srv_run_unref(latest);
}

/* Queues job, or answers the refusal. */
static void
submit(srv_ctx *ctx, const srv_job *job, const char *what)
{
	int rv = srv_writer_submit(ctx->writer, job);

	if (rv == AMLRISK_ESTATE) {
		char why[SRV_ERR_MAX];
		srv_leader_refusal(ctx->leader, why, sizeof(why));
		rpc_call_fail(job->closure_data, rv, "%s refused: %s", what, why);
	} else if (rv == AMLRISK_EBUSY)
		rpc_call_fail(
		        job->closure_data, rv,
		        "%s refused: a ReloadGraph or RunScore is already running (one writer at"
		        " a time); try again when it has finished",
		        what);
	else if (rv != AMLRISK_OK)
		rpc_call_fail(job->closure_data, rv, "%s refused: the core server is shutting down",
		              what);
}

SRV_HANDLER(reload_graph, ReloadGraphRequest, ReloadGraphResponse)
{
	srv_job job = {
	        .kind = SRV_JOB_RELOAD, .reload_done = closure, .closure_data = closure_data};

	(void)input;
	submit((srv_ctx *)service, &job, "ReloadGraph");
}

SRV_HANDLER(run_score, RunScoreRequest, RunScoreResponse)
{
	srv_job job = {.kind = SRV_JOB_SCORE, .score_done = closure, .closure_data = closure_data};
	const char *json = input->config_overrides_json != NULL ? input->config_overrides_json : "";
	size_t len = strlen(json);
	char err[SRV_ERR_MAX];
	core_config base;

	core_config_defaults(&base);
	if (len > SRV_OVERRIDES_MAX) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL,
		              "config_overrides_json: longer than %d bytes", SRV_OVERRIDES_MAX);
		return;
	}
	if (len == 0)
		job.cfg = base;
	else if (core_config_merge(&job.cfg, &base, json, len, err, sizeof(err)) != AMLRISK_OK) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "%s", err);
		return;
	}
	submit((srv_ctx *)service, &job, "RunScore");
}

typedef struct runs_arg {
	srv_arena *a;
	int64_t id, before;
	uint32_t limit;
	srv_summary one, *many;
	size_t n;
	int64_t next;
	Aml__V1__IngestionStatusResponse *ingest;
	srv_state *state;
} runs_arg;

static int
db_get_run(PGconn *c, void *arg, char *err, size_t errlen)
{
	runs_arg *r = arg;

	return srv_runs_get(c, r->id, r->a, &r->one, err, errlen);
}

static int
db_list_runs(PGconn *c, void *arg, char *err, size_t errlen)
{
	runs_arg *r = arg;

	return srv_runs_list(c, r->before, r->limit, r->a, &r->many, &r->n, &r->next, err, errlen);
}

static int
db_ingestion(PGconn *c, void *arg, char *err, size_t errlen)
{
	runs_arg *r = arg;

	return srv_ingest_status(c, r->state, r->a, r->ingest, err, errlen);
}

SRV_HANDLER(list_runs, ListRunsRequest, ListRunsResponse)
{
	Aml__V1__ListRunsResponse resp = AML__V1__LIST_RUNS_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	srv_arena a;
	runs_arg r = {.a = &a, .before = input->before_id, .limit = input->limit};
	int rv;

	if (r.limit == 0)
		r.limit = SRV_RUNS_DEFAULT;
	if (r.limit > SRV_RUNS_MAX) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "limit: at most %d", SRV_RUNS_MAX);
		return;
	}
	srv_arena_init(&a, 0);
	if ((rv = srv_with_db((srv_ctx *)service, closure_data, db_list_runs, &r, err,
	                      sizeof(err))) != 0) {
		rpc_call_fail(closure_data, rv, "%s", err);
		goto out;
	}
	resp.runs = srv_arena_calloc(&a, r.n + 1, sizeof(*resp.runs));
	for (size_t i = 0; resp.runs != NULL && i < r.n; i++)
		resp.runs[i] = srv_msg_run(&a, &r.many[i]);
	resp.n_runs = r.n;
	resp.next_before_id = r.next;
	if (srv_arena_failed(&a))
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "list runs: out of memory");
	else
		closure(&resp, closure_data);
out:
	srv_arena_free(&a);
}

SRV_HANDLER(get_run, GetRunRequest, GetRunResponse)
{
	srv_ctx *ctx = (srv_ctx *)service;
	Aml__V1__GetRunResponse resp = AML__V1__GET_RUN_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	srv_run *latest = NULL;
	srv_arena a;
	runs_arg r = {.a = &a, .id = input->run_id};
	int rv;

	if (r.id <= 0) {
		rpc_call_fail(closure_data, AMLRISK_EINVAL, "run_id: required (a positive run id)");
		return;
	}
	srv_arena_init(&a, 0);
	/* the database first, for what may change after a run is stored (pinned);
	 * the latest run from memory while the database is away */
	if ((rv = srv_with_db(ctx, closure_data, db_get_run, &r, err, sizeof(err))) == 0) {
		resp.run = srv_msg_run(&a, &r.one);
	} else if (rv != AMLRISK_ENOTFOUND &&
	           (latest = srv_state_latest(ctx->state, NULL)) != NULL &&
	           srv_run_summary(latest)->id == r.id) {
		resp.run = srv_msg_run(&a, srv_run_summary(latest));
	} else {
		rpc_call_fail(closure_data, rv, "%s", err);
		goto out;
	}
	if (resp.run == NULL)
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "get run: out of memory");
	else
		closure(&resp, closure_data);
out:
	srv_run_unref(latest);
	srv_arena_free(&a);
}

SRV_HANDLER(ingestion_status, IngestionStatusRequest, IngestionStatusResponse)
{
	Aml__V1__IngestionStatusResponse resp = AML__V1__INGESTION_STATUS_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	srv_arena a;
	runs_arg r = {.a = &a, .ingest = &resp, .state = ((srv_ctx *)service)->state};
	int rv;

	(void)input;
	srv_arena_init(&a, 0);
	if ((rv = srv_with_db((srv_ctx *)service, closure_data, db_ingestion, &r, err,
	                      sizeof(err))) != 0)
		rpc_call_fail(closure_data, rv, "%s", err);
	else if ((resp.live = srv_msg_live_state(&a, r.state, NULL)) == NULL)
		rpc_call_fail(closure_data, AMLRISK_ENOMEM, "ingestion status: out of memory");
	else
		closure(&resp, closure_data);
	srv_arena_free(&a);
}
