/* srv_ctx.h - the core server's context as the RiskService handlers see it,
 * and the handlers themselves (srv_service.c, srv_scores.c, srv_views.c,
 * srv_history.c, srv_dist.c).
 * The service struct comes first, so a handler's service pointer is the ctx. */
#ifndef SRV_CTX_H
#define SRV_CTX_H

#include <stddef.h>

#include <libpq-fe.h>

#include "aml/v1/risk_service.pb-c.h"
#include "srv_db.h"
#include "srv_opts.h"
#include "srv_state.h"
#include "srv_writer.h"
#include "rpc.h"

/* Bounds of the read calls. */
#define SRV_TOP_DEFAULT             10
#define SRV_TOP_MAX                 1000
#define SRV_TOP_OFFSET_MAX          100000
#define SRV_HISTORY_DEFAULT         50
#define SRV_HISTORY_MAX             500
#define SRV_ALERTS_DEFAULT          50
#define SRV_ALERTS_MAX              1000
#define SRV_ALERT_RULE_MAX          128
#define SRV_DIST_BINS_DEFAULT       40
#define SRV_DIST_BINS_MAX           1000
#define SRV_RUNS_DEFAULT            20
#define SRV_RUNS_MAX                100
#define SRV_EXPLAIN_SOURCES_DEFAULT 10
#define SRV_EXPLAIN_SOURCES_MAX     100
#define SRV_EXPLAIN_TOTAL_MAX       300
#define SRV_GRAPH_HOPS_DEFAULT      2
#define SRV_GRAPH_NODES_DEFAULT     200
#define SRV_GRAPH_NODES_MAX         2000
#define SRV_GRAPH_EDGES_DEFAULT     1000
#define SRV_GRAPH_EDGES_MAX         10000
#define SRV_OVERRIDES_MAX           65536
#define SRV_ERR_MAX                 512

typedef struct srv_ctx {
	Aml__V1__RiskService_Service svc; /* first: handlers cast back */
	const srv_opts *opts;             /* borrowed, like the three below */
	srv_state *state;
	srv_db *db;
	srv_writer *writer;
	srv_leader *leader; /* the election; NULL: always the writer */
	rpc_server *rpc;    /* the server answering, for its counters in Health; may be NULL */
	double started_s;   /* monotonic */
} srv_ctx;

/* Fills ctx->svc with the handlers; the other fields are the caller's. */
void srv_service_init(srv_ctx *ctx);

/* Runs fn on a pooled connection, waiting at most the call's remaining time
 * for one; a connection found dead is replaced and fn retried once (reads
 * only). Returns fn's result, or AMLRISK_EDB/EUNAVAIL with err set. */
typedef int (*srv_db_fn)(PGconn *c, void *arg, char *err, size_t errlen);
int srv_with_db(srv_ctx *ctx, void *closure_data, srv_db_fn fn, void *arg, char *err,
                size_t errlen);

/* The wallet of a request: AMLRISK_OK, or AMLRISK_EINVAL with err set. */
int srv_wallet_check(const char *wallet, char *err, size_t errlen);

#define SRV_HANDLER(name, in, out)                                                                 \
	void srv_rpc_##name(Aml__V1__RiskService_Service *service, const Aml__V1__##in *input,     \
	                    Aml__V1__##out##_Closure closure, void *closure_data)

SRV_HANDLER(health, HealthRequest, HealthResponse);
SRV_HANDLER(reload_graph, ReloadGraphRequest, ReloadGraphResponse);
SRV_HANDLER(run_score, RunScoreRequest, RunScoreResponse);
SRV_HANDLER(top_scores, TopScoresRequest, TopScoresResponse);
SRV_HANDLER(get_wallet_score, GetWalletScoreRequest, GetWalletScoreResponse);
SRV_HANDLER(explain_wallet, ExplainWalletRequest, ExplainWalletResponse);
SRV_HANDLER(wallet_graph, WalletGraphRequest, WalletGraphResponse);
SRV_HANDLER(list_runs, ListRunsRequest, ListRunsResponse);
SRV_HANDLER(get_run, GetRunRequest, GetRunResponse);
SRV_HANDLER(ingestion_status, IngestionStatusRequest, IngestionStatusResponse);
SRV_HANDLER(score_distribution, ScoreDistributionRequest, ScoreDistributionResponse);
SRV_HANDLER(wallet_history, WalletHistoryRequest, WalletHistoryResponse);
SRV_HANDLER(list_alerts, ListAlertsRequest, ListAlertsResponse);

#endif
