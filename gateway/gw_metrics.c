/* gw_metrics.c - fixed arrays of atomic counters indexed by route, status class
 * and latency bucket: no lock, no label lookup and no allocation on the request
 * path. Rendering (a scrape every few seconds) walks them once through the
 * shared exposition writer (common/amlrisk_metrics) into a bounded buffer. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_err.h"
#include "amlrisk_metrics.h"
#include "gw_metrics.h"
#include "gw_sse.h"
#include "gw_route.h"

#define ROUTES_MAX  32
#define GRPC_CODES  17
#define METHODS_MAX 16
#define RENDER_MAX  (256 * 1024)

/* The statuses the gateway answers; anything else counts as "other" (index N). */
static const int statuses[] = {200, 400, 401, 404, 405, 409, 413,
                               414, 422, 499, 500, 501, 503, 504};
#define N_STATUS ((int)(sizeof(statuses) / sizeof(statuses[0])))

/* The latency buckets: the shared ones (amlrisk_metrics_latency_bounds). */
#define N_BUCKET 15
#define buckets  amlrisk_metrics_latency_bounds

/* The live view's integer gauges, in LiveInfo order of gw_metrics_live(). */
#define LIVE_GAUGES 4
static const char *const live_names[LIVE_GAUGES][2] = {
        {"amlrisk_live_watermark", "ingest seq the core's live scores reflect"},
        {"amlrisk_live_graph_watermark", "ingest seq the core's in-memory graph holds"},
        {"amlrisk_live_newest_sequence", "newest committed transactions.seq the core knows of"},
        {"amlrisk_live_lag_rows", "committed rows not yet in the live view"},
};

struct gw_metrics {
	int nroutes; /* routes of the table; slot nroutes is "unmatched" */
	atomic_uint_fast64_t requests[ROUTES_MAX + 1][N_STATUS + 1];
	atomic_uint_fast64_t hist[ROUTES_MAX + 1][N_BUCKET];
	atomic_uint_fast64_t hist_count[ROUTES_MAX + 1];
	atomic_uint_fast64_t hist_sum_us[ROUTES_MAX + 1];
	atomic_uint_fast64_t rpc_errors[METHODS_MAX][GRPC_CODES + 1];
	atomic_uint_fast64_t aborted;
	atomic_int in_flight;
	atomic_uint_fast64_t conn_events[GW_CONN_EVENTS];
	atomic_int conns_open;
	/* the core's live view as last seen in an answer (0 = never) */
	atomic_int live_seen;
	atomic_int_fast64_t live[LIVE_GAUGES];
	atomic_uint_fast64_t live_lag_bits; /* lag_seconds, a double's bits */
};

int
gw_metrics_create(gw_metrics **out)
{
	gw_metrics *m;

	if (gw_route_count() > ROUTES_MAX || amlrisk_metrics_latency_nbounds != N_BUCKET ||
	    aml__v1__risk_service__descriptor.n_methods > METHODS_MAX) {
		return AMLRISK_EINVAL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		return AMLRISK_ENOMEM;
	}
	m->nroutes = gw_route_count();
	*out = m;
	return AMLRISK_OK;
}

void
gw_metrics_destroy(gw_metrics *m)
{
	free(m);
}

void
gw_metrics_begin(gw_metrics *m)
{
	atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_relaxed);
}

static int
status_slot(int status)
{
	int i;

	for (i = 0; i < N_STATUS; i++) {
		if (statuses[i] == status) {
			return i;
		}
	}
	return N_STATUS;
}

int
gw_metrics_in_flight(const gw_metrics *m)
{
	return atomic_load_explicit(&m->in_flight, memory_order_relaxed);
}

void
gw_metrics_end(gw_metrics *m, int route, int status, double seconds)
{
	int r = (route >= 0 && route < m->nroutes) ? route : m->nroutes;
	int b;

	atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);
	if (status == 0) {
		atomic_fetch_add_explicit(&m->aborted, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&m->requests[r][status_slot(status)], 1, memory_order_relaxed);
	for (b = 0; b < N_BUCKET && seconds > buckets[b]; b++) {
	}
	if (b < N_BUCKET) {
		atomic_fetch_add_explicit(&m->hist[r][b], 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&m->hist_count[r], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->hist_sum_us[r], (uint64_t)(seconds * 1e6),
	                          memory_order_relaxed);
}

void
gw_metrics_rpc_error(gw_metrics *m, int method, int grpc_code)
{
	if (method < 0 || method >= METHODS_MAX) {
		return;
	}
	if (grpc_code < 0 || grpc_code > GRPC_CODES) {
		grpc_code = GRPC_CODES;
	}
	atomic_fetch_add_explicit(&m->rpc_errors[method][grpc_code], 1, memory_order_relaxed);
}

void
gw_metrics_conn_event(gw_metrics *m, gw_conn_event e)
{
	if (e >= 0 && e < GW_CONN_EVENTS) {
		atomic_fetch_add_explicit(&m->conn_events[e], 1, memory_order_relaxed);
	}
}

void
gw_metrics_conn_open(gw_metrics *m, int delta)
{
	atomic_fetch_add_explicit(&m->conns_open, delta, memory_order_relaxed);
}

static void
route_labels(const gw_metrics *m, int r, const char **pairs)
{
	const gw_route *rt = gw_route_at(r);

	pairs[0] = "method";
	pairs[1] = r < m->nroutes ? rt->method : "";
	pairs[2] = "route";
	pairs[3] = r < m->nroutes ? rt->path : "unmatched";
	pairs[4] = NULL;
}

static uint64_t
load(const atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static void
render_requests(const gw_metrics *m, amlrisk_buf *b)
{
	const char *pairs[7];
	char code[8];
	int r, s;

	amlrisk_metrics_write_header(b, "amlrisk_gateway_requests_total",
	                             "HTTP requests answered, by route and status.",
	                             AMLRISK_COUNTER);
	for (r = 0; r <= m->nroutes; r++) {
		route_labels(m, r, pairs);
		pairs[4] = "status";
		pairs[5] = code;
		pairs[6] = NULL;
		for (s = 0; s <= N_STATUS; s++) {
			uint64_t v = load(&m->requests[r][s]);

			if (v == 0) {
				continue;
			}
			if (s < N_STATUS) {
				snprintf(code, sizeof(code), "%d", statuses[s]);
			} else {
				snprintf(code, sizeof(code), "other");
			}
			amlrisk_metrics_write_sample(b, "amlrisk_gateway_requests_total", pairs,
			                             (double)v);
		}
	}
}

static void
render_latency(const gw_metrics *m, amlrisk_buf *b)
{
	const char *pairs[5];
	uint64_t counts[N_BUCKET];
	int r, i;

	amlrisk_metrics_write_header(b, "amlrisk_gateway_request_duration_seconds",
	                             "Time from the request line to the answer being queued.",
	                             AMLRISK_HISTOGRAM);
	for (r = 0; r <= m->nroutes; r++) {
		uint64_t count = load(&m->hist_count[r]);

		if (count == 0) {
			continue;
		}
		route_labels(m, r, pairs);
		for (i = 0; i < N_BUCKET; i++) {
			counts[i] = load(&m->hist[r][i]);
		}
		amlrisk_metrics_write_histogram(b, "amlrisk_gateway_request_duration_seconds",
		                                pairs, buckets, N_BUCKET, counts, count,
		                                (double)load(&m->hist_sum_us[r]) / 1e6);
	}
}

static void
render_rpc(const gw_metrics *m, amlrisk_buf *b)
{
	const ProtobufCServiceDescriptor *d = &aml__v1__risk_service__descriptor;
	const char *pairs[5] = {"method", NULL, "code", NULL, NULL};
	unsigned i;
	int c;

	amlrisk_metrics_write_header(b, "amlrisk_gateway_rpc_errors_total",
	                             "RiskService calls that did not return OK, by method and "
	                             "gRPC code.",
	                             AMLRISK_COUNTER);
	for (i = 0; i < d->n_methods; i++) {
		for (c = 0; c <= GRPC_CODES; c++) {
			uint64_t v = load(&m->rpc_errors[i][c]);

			if (v != 0) {
				pairs[1] = d->methods[i].name;
				pairs[3] = amlrisk_grpc_name(c);
				amlrisk_metrics_write_sample(b, "amlrisk_gateway_rpc_errors_total",
				                             pairs, (double)v);
			}
		}
	}
}

/* One counter without labels, with its header. */
static void
write_one(amlrisk_buf *b, const char *name, const char *help, amlrisk_metric_type t, double v)
{
	amlrisk_metrics_write_header(b, name, help, t);
	amlrisk_metrics_write_sample(b, name, NULL, v);
}

/* The RPC client's own counters: how many calls shared an exchange. */
static void
render_exchanges(const rpc_multi *c, amlrisk_buf *b)
{
	rpc_client_stats_t st = {0};

	if (c == NULL) {
		return;
	}
	rpc_multi_stats(c, &st);
	write_one(b, "amlrisk_gateway_rpc_calls_total", "RiskService calls made.", AMLRISK_COUNTER,
	          (double)st.calls);
	write_one(b, "amlrisk_gateway_rpc_exchanges_total",
	          "request/reply exchanges with the core (a batch is one).", AMLRISK_COUNTER,
	          (double)st.exchanges);
	write_one(b, "amlrisk_gateway_rpc_batches_total",
	          "exchanges that carried several coalesced calls.", AMLRISK_COUNTER,
	          (double)st.batches);
	write_one(b, "amlrisk_gateway_rpc_retries_total",
	          "calls made again: alone, their answer not fitting a batch, or a write call "
	          "with its call id after a dropped connection.",
	          AMLRISK_COUNTER, (double)st.retries);
	write_one(b, "amlrisk_gateway_rpc_unconnected_total",
	          "calls failed at once because no core was connected.", AMLRISK_COUNTER,
	          (double)st.unconnected);
}

const char *
gw_metrics_conn_reason(gw_conn_event e)
{
	static const char *const reason[GW_CONN_EVENTS] = {
	        [GW_CONN_REFUSED_ADDRESS] = "per_address",
	        [GW_CONN_REFUSED_TOTAL] = "total",
	        [GW_CONN_DROPPED_ADDRESS] = "per_address_hard",
	        [GW_CONN_CUT_FIRST] = "first_request",
	        [GW_CONN_CUT_NEXT] = "next_request",
	};

	return e >= 0 && e < GW_CONN_EVENTS ? reason[e] : "other";
}

/* The connection events first..last, every reason always shown. */
static void
render_events(const gw_metrics *m, amlrisk_buf *b, const char *name, const char *help,
              gw_conn_event first, gw_conn_event last)
{
	const char *pairs[3] = {"reason", NULL, NULL};

	amlrisk_metrics_write_header(b, name, help, AMLRISK_COUNTER);
	for (int e = first; e <= (int)last; e++) {
		pairs[1] = gw_metrics_conn_reason((gw_conn_event)e);
		amlrisk_metrics_write_sample(b, name, pairs, (double)load(&m->conn_events[e]));
	}
}

void
gw_metrics_live(gw_metrics *m, const Aml__V1__LiveInfo *l)
{
	int64_t v[LIVE_GAUGES];
	uint64_t bits;
	int i;

	if (m == NULL || l == NULL || !l->enabled) {
		return;
	}
	v[0] = l->watermark;
	v[1] = l->graph_watermark;
	v[2] = l->newest_sequence;
	v[3] = (int64_t)l->lag_rows;
	for (i = 0; i < LIVE_GAUGES; i++) {
		atomic_store_explicit(&m->live[i], v[i], memory_order_relaxed);
	}
	memcpy(&bits, &l->lag_seconds, sizeof(bits));
	atomic_store_explicit(&m->live_lag_bits, bits, memory_order_relaxed);
	atomic_store_explicit(&m->live_seen, 1, memory_order_relaxed);
}

/* The live view's gauges, once one was seen; and the alert streams. */
static void
render_live(const gw_metrics *m, const gw_app *app, amlrisk_buf *b)
{
	char help[160];
	uint64_t bits;
	double lag;

	if (app->sse != NULL)
		write_one(b, "amlrisk_gateway_sse_subscribers", "/alerts/stream subscribers now.",
		          AMLRISK_GAUGE, gw_sse_hub_subscribers(app->sse));
	if (!atomic_load_explicit(&m->live_seen, memory_order_relaxed))
		return;
	for (int i = 0; i < LIVE_GAUGES; i++) {
		snprintf(help, sizeof(help),
		         "The core's live view: %s (as of the last answer that carried it).",
		         live_names[i][1]);
		write_one(b, live_names[i][0], help, AMLRISK_GAUGE,
		          (double)atomic_load_explicit(&m->live[i], memory_order_relaxed));
	}
	bits = atomic_load_explicit(&m->live_lag_bits, memory_order_relaxed);
	memcpy(&lag, &bits, sizeof(lag));
	write_one(b, "amlrisk_live_lag_seconds",
	          "The core's live view: age of the oldest committed row not in it (as of the "
	          "last answer that carried it).",
	          AMLRISK_GAUGE, lag);
}

void
gw_metrics_handle(const gw_request *rq, gw_reply *rep)
{
	const gw_metrics *m = rq->app->metrics;
	amlrisk_buf b;

	amlrisk_buf_init(&b, RENDER_MAX);
	render_requests(m, &b);
	render_latency(m, &b);
	render_rpc(m, &b);
	render_exchanges(rq->app->rpc, &b);
	write_one(&b, "amlrisk_gateway_connections_open", "Client connections open.", AMLRISK_GAUGE,
	          atomic_load_explicit(&m->conns_open, memory_order_relaxed));
	render_events(m, &b, "amlrisk_gateway_connections_refused_total",
	              "Connections opened past a limit: their request answered 503 and the "
	              "connection closed (per_address, total), or closed unanswered past the "
	              "per-address headroom (per_address_hard).",
	              GW_CONN_REFUSED_ADDRESS, GW_CONN_DROPPED_ADDRESS);
	render_events(m, &b, "amlrisk_gateway_connections_cut_total",
	              "Connections closed because a request was not whole in time: the first "
	              "within the header timeout, a later one within the idle timeout.",
	              GW_CONN_CUT_FIRST, GW_CONN_CUT_NEXT);
	render_live(m, rq->app, &b);
	write_one(&b, "amlrisk_gateway_requests_in_flight",
	          "Requests received and not yet answered.", AMLRISK_GAUGE,
	          atomic_load_explicit(&m->in_flight, memory_order_relaxed));
	write_one(&b, "amlrisk_gateway_requests_aborted_total",
	          "Connections closed before an answer.", AMLRISK_COUNTER,
	          (double)load(&m->aborted));
	if (b.failed) {
		amlrisk_buf_free(&b);
		gw_reply_error(rep, 500, "metrics exposition over %d bytes (or out of memory)",
		               RENDER_MAX);
		return;
	}
	gw_reply_owned(rep, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}
