/* gw_metrics.c - fixed arrays of atomic counters indexed by route, status class
 * and latency bucket: no lock and no allocation on the request path. Rendering
 * (a scrape every few seconds) walks them once into a bounded text buffer. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_err.h"
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

/* The live view's integer gauges, in LiveInfo order of gw_metrics_live(). */
#define LIVE_GAUGES 4
static const char *const live_names[LIVE_GAUGES][2] = {
        {"amlrisk_live_watermark", "ingest seq the core's live scores reflect"},
        {"amlrisk_live_graph_watermark", "ingest seq the core's in-memory graph holds"},
        {"amlrisk_live_newest_sequence", "newest committed transactions.seq the core knows of"},
        {"amlrisk_live_lag_rows", "committed rows not yet in the live view"},
};

/* Upper bounds of the latency buckets, seconds (+Inf is the count). */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,   0.5,   1,      2.5,   5,    10,    30};
#define N_BUCKET ((int)(sizeof(buckets) / sizeof(buckets[0])))

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

	if (gw_route_count() > ROUTES_MAX ||
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

/* A bounded text buffer; a write that does not fit sets overflow. */
typedef struct textbuf {
	char *buf;
	size_t len, cap;
	int overflow;
} textbuf;

static void __attribute__((format(printf, 2, 3))) tb_printf(textbuf *tb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (tb->overflow) {
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(tb->buf + tb->len, tb->cap - tb->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= tb->cap - tb->len) {
		tb->overflow = 1;
		return;
	}
	tb->len += (size_t)n;
}

static void
route_labels(const gw_metrics *m, int r, const char **method, const char **path)
{
	const gw_route *rt = gw_route_at(r);

	*method = r < m->nroutes ? rt->method : "";
	*path = r < m->nroutes ? rt->path : "unmatched";
}

static void
render_requests(const gw_metrics *m, textbuf *tb)
{
	int r, s;

	tb_printf(tb, "# HELP amlrisk_gateway_requests_total HTTP requests answered, by route "
	              "and status.\n# TYPE amlrisk_gateway_requests_total counter\n");
	for (r = 0; r <= m->nroutes; r++) {
		const char *method, *path;

		route_labels(m, r, &method, &path);
		for (s = 0; s <= N_STATUS; s++) {
			uint64_t v = atomic_load_explicit(&m->requests[r][s], memory_order_relaxed);
			char code[8];

			if (v == 0) {
				continue;
			}
			snprintf(code, sizeof(code), "%d", s < N_STATUS ? statuses[s] : 0);
			tb_printf(tb,
			          "amlrisk_gateway_requests_total{method=\"%s\",route=\"%s\","
			          "status=\"%s\"} %llu\n",
			          method, path, s < N_STATUS ? code : "other",
			          (unsigned long long)v);
		}
	}
}

static void
render_latency(const gw_metrics *m, textbuf *tb)
{
	int r, b;

	tb_printf(tb, "# HELP amlrisk_gateway_request_duration_seconds Time from the request "
	              "line to the answer being queued.\n"
	              "# TYPE amlrisk_gateway_request_duration_seconds histogram\n");
	for (r = 0; r <= m->nroutes; r++) {
		uint64_t cum = 0,
		         count = atomic_load_explicit(&m->hist_count[r], memory_order_relaxed);
		const char *method, *path;

		if (count == 0) {
			continue;
		}
		route_labels(m, r, &method, &path);
		for (b = 0; b < N_BUCKET; b++) {
			cum += atomic_load_explicit(&m->hist[r][b], memory_order_relaxed);
			tb_printf(tb,
			          "amlrisk_gateway_request_duration_seconds_bucket{method=\"%s\","
			          "route=\"%s\",le=\"%g\"} %llu\n",
			          method, path, buckets[b], (unsigned long long)cum);
		}
		tb_printf(
		        tb,
		        "amlrisk_gateway_request_duration_seconds_bucket{method=\"%s\",route=\"%"
		        "s\","
		        "le=\"+Inf\"} %llu\n"
		        "amlrisk_gateway_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} "
		        "%.6f\n"
		        "amlrisk_gateway_request_duration_seconds_count{method=\"%s\",route=\"%s\"}"
		        " "
		        "%llu\n",
		        method, path, (unsigned long long)count, method, path,
		        (double)atomic_load_explicit(&m->hist_sum_us[r], memory_order_relaxed) /
		                1e6,
		        method, path, (unsigned long long)count);
	}
}

static void
render_rpc(const gw_metrics *m, textbuf *tb)
{
	const ProtobufCServiceDescriptor *d = &aml__v1__risk_service__descriptor;
	unsigned i;
	int c;

	tb_printf(tb, "# HELP amlrisk_gateway_rpc_errors_total RiskService calls that did not "
	              "return OK, by method and gRPC code.\n"
	              "# TYPE amlrisk_gateway_rpc_errors_total counter\n");
	for (i = 0; i < d->n_methods; i++) {
		for (c = 0; c <= GRPC_CODES; c++) {
			uint64_t v =
			        atomic_load_explicit(&m->rpc_errors[i][c], memory_order_relaxed);

			if (v != 0) {
				tb_printf(tb,
				          "amlrisk_gateway_rpc_errors_total{method=\"%s\",code=\"%"
				          "s\"} "
				          "%llu\n",
				          d->methods[i].name, amlrisk_grpc_name(c),
				          (unsigned long long)v);
			}
		}
	}
}

/* The RPC client's own counters: how many calls shared an exchange. */
static void
render_exchanges(const rpc_client *c, textbuf *tb)
{
	static const char *const what[] = {
	        "calls",
	        "RiskService calls made",
	        "exchanges",
	        "request/reply exchanges with the core (a batch is one)",
	        "batches",
	        "exchanges that carried several coalesced calls",
	        "retries",
	        ("calls made again: alone, their answer not fitting a batch, or a write "
	         "call with its call id after a dropped connection"),
	        "unconnected",
	        "calls failed at once because no core was connected",
	};
	rpc_client_stats_t st = {0};
	unsigned long long v[5];

	if (c == NULL) {
		return;
	}
	rpc_client_stats(c, &st);
	v[0] = st.calls;
	v[1] = st.exchanges;
	v[2] = st.batches;
	v[3] = st.retries;
	v[4] = st.unconnected;
	for (int i = 0; i < 5; i++) {
		tb_printf(tb,
		          "# HELP amlrisk_gateway_rpc_%s_total %s.\n"
		          "# TYPE amlrisk_gateway_rpc_%s_total counter\n"
		          "amlrisk_gateway_rpc_%s_total %llu\n",
		          what[2 * i], what[2 * i + 1], what[2 * i], what[2 * i], v[i]);
	}
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

/* Connections open, refused and cut, every reason always shown. */
static void
render_connections(const gw_metrics *m, textbuf *tb)
{
	tb_printf(tb,
	          "# HELP amlrisk_gateway_connections_open Client connections open.\n"
	          "# TYPE amlrisk_gateway_connections_open gauge\n"
	          "amlrisk_gateway_connections_open %d\n"
	          "# HELP amlrisk_gateway_connections_refused_total Connections opened past a "
	          "limit: their request answered 503 and the connection closed (per_address, "
	          "total), or closed unanswered past the per-address headroom "
	          "(per_address_hard).\n"
	          "# TYPE amlrisk_gateway_connections_refused_total counter\n",
	          atomic_load_explicit(&m->conns_open, memory_order_relaxed));
	for (int e = GW_CONN_REFUSED_ADDRESS; e <= GW_CONN_DROPPED_ADDRESS; e++) {
		tb_printf(tb, "amlrisk_gateway_connections_refused_total{reason=\"%s\"} %llu\n",
		          gw_metrics_conn_reason((gw_conn_event)e),
		          (unsigned long long)atomic_load_explicit(&m->conn_events[e],
		                                                   memory_order_relaxed));
	}
	tb_printf(tb, "# HELP amlrisk_gateway_connections_cut_total Connections closed because a "
	              "request was not whole in time: the first within the header timeout, a "
	              "later one within the idle timeout.\n"
	              "# TYPE amlrisk_gateway_connections_cut_total counter\n");
	for (int e = GW_CONN_CUT_FIRST; e <= GW_CONN_CUT_NEXT; e++) {
		tb_printf(tb, "amlrisk_gateway_connections_cut_total{reason=\"%s\"} %llu\n",
		          gw_metrics_conn_reason((gw_conn_event)e),
		          (unsigned long long)atomic_load_explicit(&m->conn_events[e],
		                                                   memory_order_relaxed));
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
render_live(const gw_metrics *m, const gw_app *app, textbuf *tb)
{
	uint64_t bits;
	double lag;
	int i;

	if (app->sse != NULL) {
		tb_printf(tb,
		          "# HELP amlrisk_gateway_sse_subscribers /alerts/stream subscribers now.\n"
		          "# TYPE amlrisk_gateway_sse_subscribers gauge\n"
		          "amlrisk_gateway_sse_subscribers %d\n",
		          gw_sse_hub_subscribers(app->sse));
	}
	if (!atomic_load_explicit(&m->live_seen, memory_order_relaxed)) {
		return;
	}
	for (i = 0; i < LIVE_GAUGES; i++) {
		tb_printf(tb,
		          "# HELP %s The core's live view: %s (as of the last answer that "
		          "carried it).\n# TYPE %s gauge\n%s %lld\n",
		          live_names[i][0], live_names[i][1], live_names[i][0], live_names[i][0],
		          (long long)atomic_load_explicit(&m->live[i], memory_order_relaxed));
	}
	bits = atomic_load_explicit(&m->live_lag_bits, memory_order_relaxed);
	memcpy(&lag, &bits, sizeof(lag));
	tb_printf(tb,
	          "# HELP amlrisk_live_lag_seconds The core's live view: age of the oldest "
	          "committed row not in it (as of the last answer that carried it).\n"
	          "# TYPE amlrisk_live_lag_seconds gauge\namlrisk_live_lag_seconds %.6f\n",
	          lag);
}

void
gw_metrics_handle(const gw_request *rq, gw_reply *rep)
{
	const gw_metrics *m = rq->app->metrics;
	textbuf tb = {0};

	if ((tb.buf = malloc(RENDER_MAX)) == NULL) {
		gw_reply_error(rep, 503, "out of memory");
		return;
	}
	tb.cap = RENDER_MAX;
	render_requests(m, &tb);
	render_latency(m, &tb);
	render_rpc(m, &tb);
	render_exchanges(rq->app->rpc, &tb);
	render_connections(m, &tb);
	render_live(m, rq->app, &tb);
	tb_printf(&tb,
	          "# HELP amlrisk_gateway_requests_in_flight Requests received and not yet "
	          "answered.\n# TYPE amlrisk_gateway_requests_in_flight gauge\n"
	          "amlrisk_gateway_requests_in_flight %d\n"
	          "# HELP amlrisk_gateway_requests_aborted_total Connections closed before an "
	          "answer.\n# TYPE amlrisk_gateway_requests_aborted_total counter\n"
	          "amlrisk_gateway_requests_aborted_total %llu\n",
	          atomic_load_explicit(&m->in_flight, memory_order_relaxed),
	          (unsigned long long)atomic_load_explicit(&m->aborted, memory_order_relaxed));
	if (tb.overflow) {
		free(tb.buf);
		gw_reply_error(rep, 500, "metrics exposition over %d bytes", RENDER_MAX);
		return;
	}
	gw_reply_owned(rep, 200, "text/plain; version=0.0.4; charset=utf-8", tb.buf, tb.len);
}
