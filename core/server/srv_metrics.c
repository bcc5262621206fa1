/* srv_metrics.c - the core's families in a shared registry and its /metrics
 * listener. RPC methods are labelled by their RiskService names (a fixed set);
 * graph sizes are read from the state at scrape time. */
#include <stdio.h>
#include <stdlib.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_err.h"
#include "amlrisk_metrics.h"
#include "amlrisk_metrics_http.h"
#include "srv_metrics.h"
#include "srv_time.h"

#define RPC_METHODS_MAX 32

struct srv_metrics {
	amlrisk_metrics *reg;
	amlrisk_metrics_http *http;
	srv_state *state; /* borrowed */
	amlrisk_metric *rpc_secs, *rpc_errors, *runs, *load, *score, *store, *live_lag;
	amlrisk_series *pruned, *prune_errors;
	amlrisk_series *rpc_ok[RPC_METHODS_MAX]; /* per method, looked up once */
	amlrisk_series *wallets, *edges, *transactions, *graph_loaded;
	amlrisk_series *graph_wm, *live_wm, *lag_rows; /* the follower (issue 14) */
	amlrisk_series *alerts, *alerts_deferred;
};

static const double run_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                    5,    10,   30,  60,   120, 300, 600};
#define N_RUN_BOUNDS ((int)(sizeof(run_bounds) / sizeof(run_bounds[0])))

/* Brings counter s up to v, a total kept elsewhere (scrapes are serial). */
static void
counter_to(amlrisk_series *s, uint64_t v)
{
	double now = amlrisk_series_value(s);
	if ((double)v > now)
		amlrisk_series_add(s, (int64_t)((double)v - now));
}

/* Graph sizes and the follower's watermarks and lag, at every scrape. */
static void
collect(void *arg)
{
	srv_metrics *m = arg;
	srv_graph_info info = {0};
	srv_live_info li;
	core_graph *g = srv_state_graph(m->state, &info);
	srv_run *live = srv_state_live(m->state, &li);
	int64_t now = srv_unix_us();

	core_graph_unref(g);
	srv_run_unref(live);
	amlrisk_series_set(m->graph_loaded, g != NULL ? 1 : 0);
	amlrisk_series_set(m->wallets, (double)info.wallets);
	amlrisk_series_set(m->edges, (double)info.edges);
	amlrisk_series_set(m->transactions, (double)info.transactions);
	amlrisk_series_set(m->graph_wm, g != NULL ? (double)info.watermark : -1);
	amlrisk_series_set(m->live_wm, (double)li.watermark);
	amlrisk_series_set(m->lag_rows, (double)li.lag_rows);
	counter_to(m->alerts, li.alerts_fired);
	counter_to(m->alerts_deferred, li.alerts_waits);
	if (li.enabled)
		srv_metrics_live_lag(m, li.model,
		                     li.behind_since_us > 0 && now > li.behind_since_us
		                             ? (double)(now - li.behind_since_us) / 1e6
		                             : 0);
}

static int
add(srv_metrics *m, amlrisk_metric_type t, const char *name, const char *help,
    const char *const *labels, amlrisk_metric **f)
{
	const double *b = t == AMLRISK_HISTOGRAM ? run_bounds : NULL;

	return amlrisk_metrics_add(m->reg, t, name, help, labels, b, N_RUN_BOUNDS, f);
}

static int
families(srv_metrics *m)
{
	static const char *const method[] = {"method", NULL};
	static const char *const method_code[] = {"method", "code", NULL};
	static const char *const model[] = {"model", NULL};
	static const char *const model_status[] = {"model", "status", NULL};
	const ProtobufCServiceDescriptor *d = &aml__v1__risk_service__descriptor;
	amlrisk_metric *f[11];
	unsigned i;
	int rv;

	if ((rv = amlrisk_metrics_add(m->reg, AMLRISK_HISTOGRAM,
	                              "amlrisk_core_rpc_duration_seconds",
	                              "Time from routing a RiskService call to its answer, by "
	                              "method.",
	                              method, amlrisk_metrics_latency_bounds,
	                              amlrisk_metrics_latency_nbounds, &m->rpc_secs)) != 0 ||
	    (rv = add(m, AMLRISK_COUNTER, "amlrisk_core_rpc_errors_total",
	              "RiskService calls answered with a status other than OK, by method and "
	              "gRPC code name.",
	              method_code, &m->rpc_errors)) != 0 ||
	    (rv = add(m, AMLRISK_COUNTER, "amlrisk_core_runs_total",
	              "Scoring runs ended, by model and status (completed, failed).", model_status,
	              &m->runs)) != 0 ||
	    (rv = add(m, AMLRISK_HISTOGRAM, "amlrisk_core_run_load_duration_seconds",
	              "Graph load time of the runs, by model (0 when the graph was loaded "
	              "already).",
	              model, &m->load)) != 0 ||
	    (rv = add(m, AMLRISK_HISTOGRAM, "amlrisk_core_run_score_duration_seconds",
	              "Scoring time of the runs, by model.", model, &m->score)) != 0 ||
	    (rv = add(m, AMLRISK_HISTOGRAM, "amlrisk_core_run_store_duration_seconds",
	              "Time to store a run's scores, by model.", model, &m->store)) != 0 ||
	    (rv = add(m, AMLRISK_GAUGE, "amlrisk_core_live_lag_seconds",
	              "Seconds the live scores trail the newest stored transaction, by model.",
	              model, &m->live_lag)) != 0 ||
	    (rv = add(m, AMLRISK_GAUGE, "amlrisk_core_graph_loaded",
	              "1 when a transaction graph is in memory.", NULL, &f[0])) != 0 ||
	    (rv = add(m, AMLRISK_GAUGE, "amlrisk_core_graph_wallets",
	              "Wallets in the graph in memory.", NULL, &f[1])) != 0 ||
	    (rv = add(m, AMLRISK_GAUGE, "amlrisk_core_graph_edges",
	              "Distinct sender-receiver edges in the graph in memory.", NULL, &f[2])) !=
	            0 ||
	    (rv = add(m, AMLRISK_GAUGE, "amlrisk_core_graph_transactions",
	              "Transactions the graph in memory was built from.", NULL, &f[3])) != 0 ||
	    (rv = add(m, AMLRISK_GAUGE, "amlrisk_core_graph_watermark",
	              "Highest ingest sequence number in the graph in memory (-1: no graph).", NULL,
	              &f[4])) != 0 ||
	    (rv = add(m, AMLRISK_GAUGE, "amlrisk_core_live_watermark",
	              "Ingest sequence number the live view reflects (the graph's without live "
	              "scoring; -1: none yet).",
	              NULL, &f[5])) != 0 ||
	    (rv = add(m, AMLRISK_GAUGE, "amlrisk_core_live_lag_rows",
	              "Committed transactions not yet in the live view, as last counted.", NULL,
	              &f[6])) != 0 ||
	    (rv = add(m, AMLRISK_COUNTER, "amlrisk_core_alerts_total",
	              "Risk alerts the live updates wrote since start.", NULL, &f[7])) != 0 ||
	    (rv = add(m, AMLRISK_COUNTER, "amlrisk_core_alerts_deferred_total",
	              "Rule crossings left to a later live update by ALERTS_PER_UPDATE_MAX or "
	              "ALERT_STATE_MAX (counted at each update that defers them).",
	              NULL, &f[8])) != 0 ||
	    (rv = add(m, AMLRISK_COUNTER, "amlrisk_core_runs_pruned_total",
	              "Runs dropped by the retention policy (RUN_RETENTION_KEEP, "
	              "RUN_RETENTION_OLDER_THAN).",
	              NULL, &f[9])) != 0 ||
	    (rv = add(m, AMLRISK_COUNTER, "amlrisk_core_retention_errors_total",
	              "Retention passes stopped by a database error.", NULL, &f[10])) != 0) {
		return rv;
	}
	m->graph_loaded = amlrisk_metric_series(f[0], NULL, NULL);
	m->wallets = amlrisk_metric_series(f[1], NULL, NULL);
	m->edges = amlrisk_metric_series(f[2], NULL, NULL);
	m->transactions = amlrisk_metric_series(f[3], NULL, NULL);
	m->graph_wm = amlrisk_metric_series(f[4], NULL, NULL);
	m->live_wm = amlrisk_metric_series(f[5], NULL, NULL);
	m->lag_rows = amlrisk_metric_series(f[6], NULL, NULL);
	m->alerts = amlrisk_metric_series(f[7], NULL, NULL);
	m->alerts_deferred = amlrisk_metric_series(f[8], NULL, NULL);
	m->pruned = amlrisk_metric_series(f[9], NULL, NULL);
	m->prune_errors = amlrisk_metric_series(f[10], NULL, NULL);
	for (i = 0; i < d->n_methods && i < RPC_METHODS_MAX; i++) {
		m->rpc_ok[i] = amlrisk_metric_series(m->rpc_secs, d->methods[i].name, NULL);
	}
	return AMLRISK_OK;
}

int
srv_metrics_create(srv_metrics **out, const char *addr, srv_state *state, char *err, size_t errlen)
{
	srv_metrics *m;
	int rv;

	if ((m = calloc(1, sizeof(*m))) == NULL || amlrisk_metrics_create(&m->reg) != AMLRISK_OK) {
		free(m);
		snprintf(err, errlen, "metrics: out of memory");
		return AMLRISK_ENOMEM;
	}
	m->state = state;
	if ((rv = families(m)) != AMLRISK_OK) {
		snprintf(err, errlen, "metrics: cannot register: %s", amlrisk_errname(rv));
		goto fail;
	}
	amlrisk_metrics_on_collect(m->reg, collect, m);
	if ((rv = amlrisk_metrics_http_start(m->reg, addr, &m->http, err, errlen)) != AMLRISK_OK)
		goto fail;
	*out = m;
	return AMLRISK_OK;
fail:
	srv_metrics_destroy(m);
	return rv;
}

void
srv_metrics_destroy(srv_metrics *m)
{
	if (m == NULL)
		return;
	amlrisk_metrics_http_destroy(m->http);
	amlrisk_metrics_destroy(m->reg);
	free(m);
}

void
srv_metrics_rpc(void *arg, unsigned method_index, int grpc, double seconds)
{
	srv_metrics *m = arg;
	const ProtobufCServiceDescriptor *d = &aml__v1__risk_service__descriptor;

	if (m == NULL || method_index >= d->n_methods || method_index >= RPC_METHODS_MAX)
		return;
	amlrisk_series_observe(m->rpc_ok[method_index], seconds);
	if (grpc != 0)
		amlrisk_series_add(amlrisk_metric_series(m->rpc_errors,
		                                         d->methods[method_index].name,
		                                         amlrisk_grpc_name(grpc)),
		                   1);
}

void
srv_metrics_run(srv_metrics *m, const char *model, const char *status, double load_s,
                double score_s, double store_s)
{
	if (m == NULL)
		return;
	amlrisk_series_add(amlrisk_metric_series(m->runs, model, status), 1);
	if (load_s >= 0)
		amlrisk_series_observe(amlrisk_metric_series(m->load, model, NULL), load_s);
	if (score_s >= 0)
		amlrisk_series_observe(amlrisk_metric_series(m->score, model, NULL), score_s);
	if (store_s >= 0)
		amlrisk_series_observe(amlrisk_metric_series(m->store, model, NULL), store_s);
}

void
srv_metrics_pruned(srv_metrics *m, int pruned, int failed)
{
	if (m == NULL)
		return;
	amlrisk_series_add(m->pruned, pruned);
	amlrisk_series_add(m->prune_errors, failed ? 1 : 0);
}

void
srv_metrics_live_lag(srv_metrics *m, const char *model, double seconds)
{
	if (m != NULL)
		amlrisk_series_set(amlrisk_metric_series(m->live_lag, model, NULL), seconds);
}
