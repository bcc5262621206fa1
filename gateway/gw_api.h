/* gw_api.h - the handlers of the RiskService endpoints: each validates its
 * parameters, makes exactly one RPC with a deadline, and encodes the answer. */
#ifndef GW_API_H
#define GW_API_H

#include "gw.h"

void gw_api_health(const gw_request *rq, gw_reply *rep);
void gw_api_ready(const gw_request *rq, gw_reply *rep);
void gw_api_reload_graph(const gw_request *rq, gw_reply *rep);
void gw_api_run_score(const gw_request *rq, gw_reply *rep);
void gw_api_top_scores(const gw_request *rq, gw_reply *rep);
void gw_api_wallet_score(const gw_request *rq, gw_reply *rep);
void gw_api_explain(const gw_request *rq, gw_reply *rep);
void gw_api_wallet_graph(const gw_request *rq, gw_reply *rep);
void gw_api_list_runs(const gw_request *rq, gw_reply *rep);
void gw_api_get_run(const gw_request *rq, gw_reply *rep);
void gw_api_ingestion_status(const gw_request *rq, gw_reply *rep);
void gw_api_wallet_history(const gw_request *rq, gw_reply *rep);
void gw_api_distribution(const gw_request *rq, gw_reply *rep);
/* GET /alerts: ListAlerts newest first, paged by cursor (next_cursor), filters
 * wallet, rule, since and until (RFC 3339). */
void gw_api_alerts(const gw_request *rq, gw_reply *rep);

#endif
