/* gw_metrics.h - the gateway's Prometheus metrics: requests by route and status,
 * a latency histogram per route, RPC errors by method and code, requests in
 * flight, connections open, refused and cut. Updated with relaxed atomics from
 * every pool thread; rendered on GET /metrics. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include "aml/v1/risk_service.pb-c.h"
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

/* What happened to a connection (gw_conn.c), counted by reason. */
typedef enum gw_conn_event {
	GW_CONN_REFUSED_ADDRESS = 0, /* past the per-address limit: 503, closed */
	GW_CONN_REFUSED_TOTAL,       /* past the total limit: 503, closed */
	GW_CONN_DROPPED_ADDRESS,     /* past the per-address limit and its headroom:
	                              * closed unanswered */
	GW_CONN_CUT_FIRST,           /* first request not whole within the header timeout */
	GW_CONN_CUT_NEXT,            /* a later one not whole within the idle timeout */
	GW_CONN_EVENTS
} gw_conn_event;

void gw_metrics_conn_event(gw_metrics *m, gw_conn_event e);
/* The reason label of e ("per_address", "first_request", ...; static). */
const char *gw_metrics_conn_reason(gw_conn_event e);
/* A connection opened (+1) or closed (-1). */
void gw_metrics_conn_open(gw_metrics *m, int delta);

/* GET /metrics: the text exposition format 0.0.4. */
void gw_metrics_handle(const gw_request *rq, gw_reply *rep);

/* Records the core's live view l (borrowed; NULL or not enabled: ignored) as
 * the amlrisk_live_* gauges of /metrics: called with each answer that carries
 * one (/health, /ready, /ingestion/status, view=live reads), so the gauges are
 * as of the last such answer. Thread-safe. */
void gw_metrics_live(gw_metrics *m, const Aml__V1__LiveInfo *l);

#endif
