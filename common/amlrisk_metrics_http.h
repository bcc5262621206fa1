/* amlrisk_metrics_http.h - GET /metrics of a registry on its own address
 * (host:port), served by a libmicrohttpd thread; the consumer's and the
 * core's METRICS_LISTEN / --metrics-listen. */
#ifndef AMLRISK_METRICS_HTTP_H
#define AMLRISK_METRICS_HTTP_H

#include <stddef.h>

#include "amlrisk_metrics.h"

typedef struct amlrisk_metrics_http amlrisk_metrics_http;

/* Checks that addr is "host:port" (IPv4 host or name, port 1..65535) without
 * binding. AMLRISK_OK or AMLRISK_EINVAL with a message in err. */
int amlrisk_metrics_http_check(const char *addr, char *err, size_t errlen);

/* Binds addr and serves r (borrowed: outlives the server) on GET /metrics.
 * *out written only on success. Errors (message in err): AMLRISK_EINVAL (bad
 * address), AMLRISK_EIO ("metrics: address already in use: HOST:PORT" and the
 * like). Stop with amlrisk_metrics_http_destroy(); NULL is a no-op. */
int amlrisk_metrics_http_start(amlrisk_metrics *r, const char *addr, amlrisk_metrics_http **out,
                               char *err, size_t errlen);
void amlrisk_metrics_http_destroy(amlrisk_metrics_http *h);

/* The port actually bound (useful with port 0). */
int amlrisk_metrics_http_port(const amlrisk_metrics_http *h);

#endif
