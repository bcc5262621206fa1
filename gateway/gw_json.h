/* gw_json.h - JSON encoding of each RiskService response, in the shapes of the
 * original FastAPI platform (flat score rows, {"detail"} errors). Each encoder
 * borrows its message and returns a new reference, or NULL when out of memory. */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <jansson.h>

#include "aml/v1/risk_service.pb-c.h"
#include "gw.h"

/* Dumps obj (taking the reference; NULL means out of memory -> 500) as the
 * reply body with status. */
void gw_json_reply(gw_reply *rep, int status, json_t *obj);

/* Unix microseconds as an RFC 3339 UTC string ("2026-11-25T14:21:03.123456Z");
 * JSON null for 0 (never set). */
json_t *gw_json_time(int64_t us);

json_t *gw_json_graph_info(const Aml__V1__GraphInfo *g);
json_t *gw_json_run_summary(const Aml__V1__RunSummary *r);
/* The core's live view (LiveInfo): enabled, model, config, watermark, updated_at,
 * graph_watermark, newest_sequence, lag_rows, lag_seconds, current,
 * alerts_pending; null for NULL. /health and /ingestion/status carry it as
 * "live" when the core sends one; live answers of /scores/top and
 * /scores/{wallet} (view=live) carry "view":"live", "watermark" and it. */
json_t *gw_json_live(const Aml__V1__LiveInfo *l);
/* A RiskAlert as GET /alerts and /alerts/stream send it. */
json_t *gw_json_alert(const Aml__V1__RiskAlert *a);
/* GET /alerts: {"alerts": [...], "next_cursor": "<id>" or null, "last_id"}. */
json_t *gw_json_alerts(const Aml__V1__ListAlertsResponse *r);

/* GET /health from the core's answer, or with h NULL (core unreachable) the
 * "down" document carrying detail. */
json_t *gw_json_health(const Aml__V1__HealthResponse *h, int healthy, const char *detail);
/* GET /ready: ready, graph_loaded, database_ok (h NULL: core unreachable), and
 * detail when not ready. */
json_t *gw_json_ready(const Aml__V1__HealthResponse *h, int ready, const char *detail);
json_t *gw_json_reload(const Aml__V1__ReloadGraphResponse *r);
json_t *gw_json_run_score(const Aml__V1__RunScoreResponse *r);
/* The two hottest answers, written straight into rep (200, or 500 when the
 * text cannot be built) by the streaming writer of gw_jw.h. */
/* /scores/top: run_id, n, offset, total and the rows; with compare (ranks
 * were asked for) also compare_run_id (null when there was no run to compare
 * with), compare_rank_cap and each row's compare_rank (null: not in that run). */
void gw_json_top_reply(gw_reply *rep, const Aml__V1__TopScoresResponse *r, int compare);
/* /scores/{wallet}/history: per run its summary and the wallet's row (with
 * per-hop values) or null. */
void gw_json_history_reply(gw_reply *rep, const Aml__V1__WalletHistoryResponse *r);
void gw_json_wallet_reply(gw_reply *rep, const Aml__V1__GetWalletScoreResponse *r);
json_t *gw_json_explain(const Aml__V1__ExplainWalletResponse *r);
json_t *gw_json_graph(const Aml__V1__WalletGraphResponse *r);
json_t *gw_json_runs(const Aml__V1__ListRunsResponse *r);
json_t *gw_json_ingestion(const Aml__V1__IngestionStatusResponse *r);
/* /runs/{run_id}/distribution: counts and bins [{lo, hi, count}]. */
json_t *gw_json_distribution(const Aml__V1__ScoreDistributionResponse *r);

#endif
