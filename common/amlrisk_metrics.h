/* amlrisk_metrics.h - the services' shared Prometheus metrics: a registry of
 * counter, gauge and histogram families (fixed buckets), each with at most two
 * label names and a bounded set of label values, updated with relaxed atomics
 * from any thread and rendered in the text exposition format 0.0.4. */
#ifndef AMLRISK_METRICS_H
#define AMLRISK_METRICS_H

#include <stdint.h>

#include "amlrisk_buf.h"

#define AMLRISK_METRICS_FAMILIES_MAX 64 /* families per registry */
#define AMLRISK_METRICS_SERIES_MAX   64 /* label-value sets per family (then "other") */
#define AMLRISK_METRICS_BUCKETS_MAX  24 /* histogram upper bounds (+Inf implied) */
#define AMLRISK_METRICS_LABEL_MAX    64 /* bytes of a label value (longer: cut) */
#define AMLRISK_METRICS_PAIRS_MAX    4  /* labels of one sample written (le included) */

typedef struct amlrisk_metrics amlrisk_metrics; /* a registry */
typedef struct amlrisk_metric amlrisk_metric;   /* a family, owned by its registry */
typedef struct amlrisk_series amlrisk_series;   /* one label-value set of a family */

typedef enum amlrisk_metric_type {
	AMLRISK_COUNTER = 0,
	AMLRISK_GAUGE,
	AMLRISK_HISTOGRAM,
} amlrisk_metric_type;

/* An empty registry; *out written only on success (AMLRISK_OK, AMLRISK_ENOMEM).
 * Free with amlrisk_metrics_destroy(); NULL is a no-op there. */
int amlrisk_metrics_create(amlrisk_metrics **out);
void amlrisk_metrics_destroy(amlrisk_metrics *r);

/* Adds a family. name and help are copied; labels: 0..2 label names (copied,
 * NULL-terminated list or NULL for none); bounds/nbounds: a histogram's
 * increasing upper bounds (copied; ignored for the others). *out belongs to r.
 * AMLRISK_OK, AMLRISK_EINVAL (bad name, too many labels/buckets/families),
 * AMLRISK_ENOMEM. Not on a hot path: takes the registry's lock. */
int amlrisk_metrics_add(amlrisk_metrics *r, amlrisk_metric_type type, const char *name,
                        const char *help, const char *const *labels, const double *bounds,
                        int nbounds, amlrisk_metric **out);

/* The series of label values v1, v2 (as many as the family has labels; the
 * others are ignored; NULL is ""), created on first use. Past
 * AMLRISK_METRICS_SERIES_MAX sets, every new set shares one series whose
 * values are all "other". Lock-free when the series exists; cache the pointer
 * on hot paths. Never NULL for a valid m. */
amlrisk_series *amlrisk_metric_series(amlrisk_metric *m, const char *v1, const char *v2);

/* Counter: adds n. Gauge: adds n (may be negative). */
void amlrisk_series_add(amlrisk_series *s, int64_t n);
/* Gauge: sets the value. */
void amlrisk_series_set(amlrisk_series *s, double v);
/* Histogram: records one observation v (seconds, rows, ...). */
void amlrisk_series_observe(amlrisk_series *s, double v);
/* The current value of a counter or gauge, the count of a histogram. */
double amlrisk_series_value(const amlrisk_series *s);

/* Called at the start of every render, with arg: sets gauges that are read
 * rather than counted (graph size, lag). One per registry; fn NULL removes it. */
void amlrisk_metrics_on_collect(amlrisk_metrics *r, void (*fn)(void *arg), void *arg);

/* Appends the exposition text of every family with at least one series (a
 * family without labels always has one) to out; failures set out->failed. */
void amlrisk_metrics_render(amlrisk_metrics *r, amlrisk_buf *out);

/* Writes the text of one series line: name{labels} value (labels NULL-ended
 * name/value pairs, values escaped). For exporters with their own storage
 * (the gateway's fixed arrays). */
void amlrisk_metrics_write_sample(amlrisk_buf *out, const char *name,
                                  const char *const *label_pairs, double value);
/* A histogram's _bucket (cumulative, le added to label_pairs), _sum and
 * _count lines; buckets[0..nbounds) are per-bucket (not cumulative) counts
 * of bounds' buckets, count all observations (+Inf), sum their total. */
void amlrisk_metrics_write_histogram(amlrisk_buf *out, const char *name,
                                     const char *const *label_pairs, const double *bounds,
                                     int nbounds, const uint64_t *buckets, uint64_t count,
                                     double sum);
/* "# HELP name help\n# TYPE name type\n". */
void amlrisk_metrics_write_header(amlrisk_buf *out, const char *name, const char *help,
                                  amlrisk_metric_type type);

/* Default latency buckets, seconds (0.5 ms .. 30 s). */
extern const double amlrisk_metrics_latency_bounds[];
extern const int amlrisk_metrics_latency_nbounds;

#endif
