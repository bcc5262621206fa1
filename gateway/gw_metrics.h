/* gw_metrics.h - the gateway's Prometheus metrics: requests by route and status,
 * a latency histogram per route, RPC errors by method and code, requests in
 * flight. Updated with relaxed atomics from every pool thread; rendered on GET /metrics. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "gw.h"

/* Creates the counters for the routing table's routes (plus one "unmatched"
 * slot). *out is written only on success; free with gw_metrics_destroy(). */
int gw_metrics_create(gw_metrics **out);
void gw_metrics_destroy(gw_metrics *m);

/* A request started / ended. route is gw_route_index() or -1 (unmatched);
 * status 0 means the connection closed before an answer. */
void gw_metrics_begin(gw_metrics *m);
void gw_metrics_end(gw_metrics *m, int route, int status, double seconds);

/* Requests received and not yet answered (and logged). */
int gw_metrics_in_flight(const gw_metrics *m);

/* An RPC returned grpc_code != OK; method is the RiskService method index. */
void gw_metrics_rpc_error(gw_metrics *m, int method, int grpc_code);

/* GET /metrics: the text exposition format 0.0.4. */
void gw_metrics_handle(const gw_request *rq, gw_reply *rep);

#endif
