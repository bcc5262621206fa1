/* srv_metrics.h - amlrisk-core's Prometheus metrics (common/amlrisk_metrics)
 * on --metrics-listen: graph size, load/score/store durations per model, RPC
 * latency and errors per method, runs by status. Every hook takes NULL
 * (metrics off). The live view (issue 14) reports its lag through
 * srv_metrics_live_lag(). */
#ifndef SRV_METRICS_H
#define SRV_METRICS_H

#include <stddef.h>

#include "srv_state.h"

typedef struct srv_metrics srv_metrics;

/* Registers the families, reading graph sizes from state (borrowed) at each
 * scrape, and serves them on addr ("host:port"). *out written only on success;
 * AMLRISK_EIO with "metrics: address already in use: ..." in err when the port
 * is taken. Free with srv_metrics_destroy() (NULL: no-op). */
int srv_metrics_create(srv_metrics **out, const char *addr, srv_state *state, char *err,
                       size_t errlen);
void srv_metrics_destroy(srv_metrics *m);

/* rpc_server_opts.observe: one answered call (arg: the srv_metrics). */
void srv_metrics_rpc(void *arg, unsigned method_index, int grpc, double seconds);

/* A RunScore ended with status ("completed", "failed"); the durations (< 0:
 * not reached) of its graph load, scoring and store, for model. */
void srv_metrics_run(srv_metrics *m, const char *model, const char *status, double load_s,
                     double score_s, double store_s);

/* A retention pass dropped pruned runs; failed: it stopped on a database
 * error. */
void srv_metrics_pruned(srv_metrics *m, int pruned, int failed);

/* Live view (issue 14): seconds between the newest transaction stored and the
 * live scores covering it, per model. Set at each scrape from the state (the
 * follower's bookkeeping); the family appears with its first value. */
void srv_metrics_live_lag(srv_metrics *m, const char *model, double seconds);

#endif
