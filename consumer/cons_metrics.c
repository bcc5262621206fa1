/* cons_metrics.c - the consumer's families in a shared registry; the hot-path
 * series (no labels) are looked up once at start, the labelled ones (partition,
 * reason) per batch or per dead letter, which is lock-free once they exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_metrics.h"
#include "amlrisk_metrics_http.h"
#include "cons_metrics.h"

struct cons_metrics {
	amlrisk_metrics *reg;
	amlrisk_metrics_http *http;
	amlrisk_metric *lag, *dead;
	amlrisk_series *batch_size, *flush_secs, *rows, *batches, *db_re, *broker_re;
};

static const double size_bounds[] = {1,    10,    100,   500,   1000,  2000,
                                     5000, 10000, 20000, 50000, 100000};

int
cons_metrics_create(cons_metrics **out, const char *addr, char *err, size_t errlen)
{
	static const char *const partition[] = {"partition", NULL};
	static const char *const reason[] = {"reason", NULL};
	amlrisk_metric *f[8];
	cons_metrics *m;
	int rv;

	if ((m = calloc(1, sizeof(*m))) == NULL || amlrisk_metrics_create(&m->reg) != AMLRISK_OK) {
		free(m);
		snprintf(err, errlen, "metrics: out of memory");
		return AMLRISK_ENOMEM;
	}
	if ((rv = amlrisk_metrics_add(m->reg, AMLRISK_GAUGE, "amlrisk_consumer_lag_messages",
	                              "Messages behind the partition's high watermark, as of the "
	                              "last batch written.",
	                              partition, NULL, 0, &m->lag)) != AMLRISK_OK ||
	    (rv = amlrisk_metrics_add(m->reg, AMLRISK_COUNTER,
	                              "amlrisk_consumer_dead_lettered_total",
	                              "Messages sent to the dead-letter topic, by reason (the "
	                              "field at fault, message, conflicting_duplicate).",
	                              reason, NULL, 0, &m->dead)) != AMLRISK_OK ||
	    (rv = amlrisk_metrics_add(
	             m->reg, AMLRISK_HISTOGRAM, "amlrisk_consumer_batch_messages",
	             "Messages per batch written (valid and dead-lettered).", NULL, size_bounds,
	             (int)(sizeof(size_bounds) / sizeof(size_bounds[0])), &f[0])) != AMLRISK_OK ||
	    (rv = amlrisk_metrics_add(m->reg, AMLRISK_HISTOGRAM,
	                              "amlrisk_consumer_flush_duration_seconds",
	                              "Time to write a batch: database transaction, dead letters "
	                              "confirmed, offsets handed over.",
	                              NULL, amlrisk_metrics_latency_bounds,
	                              amlrisk_metrics_latency_nbounds, &f[1])) != AMLRISK_OK ||
	    (rv = amlrisk_metrics_add(m->reg, AMLRISK_COUNTER, "amlrisk_consumer_rows_stored_total",
	                              "Transactions stored as new rows (duplicates not counted).",
	                              NULL, NULL, 0, &f[2])) != AMLRISK_OK ||
	    (rv = amlrisk_metrics_add(m->reg, AMLRISK_COUNTER, "amlrisk_consumer_batches_total",
	                              "Batches written.", NULL, NULL, 0, &f[3])) != AMLRISK_OK ||
	    (rv = amlrisk_metrics_add(m->reg, AMLRISK_COUNTER,
	                              "amlrisk_consumer_db_reconnects_total",
	                              "Times a database write worked again after a failure.", NULL,
	                              NULL, 0, &f[4])) != AMLRISK_OK ||
	    (rv = amlrisk_metrics_add(m->reg, AMLRISK_COUNTER,
	                              "amlrisk_consumer_broker_reconnects_total",
	                              "Times Kafka worked again after a broker error.", NULL, NULL,
	                              0, &f[5])) != AMLRISK_OK) {
		snprintf(err, errlen, "metrics: cannot register: %s", amlrisk_errname(rv));
		goto fail;
	}
	m->batch_size = amlrisk_metric_series(f[0], NULL, NULL);
	m->flush_secs = amlrisk_metric_series(f[1], NULL, NULL);
	m->rows = amlrisk_metric_series(f[2], NULL, NULL);
	m->batches = amlrisk_metric_series(f[3], NULL, NULL);
	m->db_re = amlrisk_metric_series(f[4], NULL, NULL);
	m->broker_re = amlrisk_metric_series(f[5], NULL, NULL);
	if ((rv = amlrisk_metrics_http_start(m->reg, addr, &m->http, err, errlen)) != AMLRISK_OK) {
		goto fail;
	}
	*out = m;
	return AMLRISK_OK;
fail:
	cons_metrics_destroy(m);
	return rv;
}

void
cons_metrics_destroy(cons_metrics *m)
{
	if (m == NULL) {
		return;
	}
	amlrisk_metrics_http_destroy(m->http);
	amlrisk_metrics_destroy(m->reg);
	free(m);
}

void
cons_metrics_batch(cons_metrics *m, int messages, int64_t inserted, double seconds)
{
	if (m == NULL) {
		return;
	}
	amlrisk_series_observe(m->batch_size, messages);
	amlrisk_series_observe(m->flush_secs, seconds);
	amlrisk_series_add(m->rows, inserted);
	amlrisk_series_add(m->batches, 1);
}

void
cons_metrics_lag(cons_metrics *m, int32_t partition, int64_t lag)
{
	char p[16];

	if (m == NULL) {
		return;
	}
	snprintf(p, sizeof(p), "%d", (int)partition);
	amlrisk_series_set(amlrisk_metric_series(m->lag, p, NULL), (double)lag);
}

void
cons_metrics_dead(cons_metrics *m, const char *why, int64_t n)
{
	char r[32];
	size_t len;

	if (m == NULL || n <= 0) {
		return;
	}
	len = strcspn(why, ": ");
	if (len >= sizeof(r)) {
		len = sizeof(r) - 1;
	}
	memcpy(r, why, len);
	r[len] = '\0';
	amlrisk_series_add(amlrisk_metric_series(m->dead, r, NULL), n);
}

void
cons_metrics_db_reconnect(cons_metrics *m)
{
	if (m != NULL) {
		amlrisk_series_add(m->db_re, 1);
	}
}

void
cons_metrics_broker_reconnect(cons_metrics *m)
{
	if (m != NULL) {
		amlrisk_series_add(m->broker_re, 1);
	}
}
