/* cons_metrics.h - the consumer's Prometheus metrics (common/amlrisk_metrics)
 * on --metrics-listen: lag per partition, batch size and flush latency,
 * rows stored, dead letters by reason, database and broker reconnects. Every
 * hook takes NULL (metrics off) and then costs one test. */
#ifndef CONS_METRICS_H
#define CONS_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cons_metrics cons_metrics;

/* Registers the families and serves them on addr ("host:port"). *out written
 * only on success; AMLRISK_EIO with "metrics: address already in use: ..." in
 * err when the port is taken. Free with cons_metrics_destroy() (NULL: no-op). */
int cons_metrics_create(cons_metrics **out, const char *addr, char *err, size_t errlen);
void cons_metrics_destroy(cons_metrics *m);

/* A batch was written: messages (valid + dead letters), new rows stored,
 * seconds from the start of the flush to its commit. */
void cons_metrics_batch(cons_metrics *m, int messages, int64_t inserted, double seconds);
/* The lag of partition: high watermark - next offset to store. */
void cons_metrics_lag(cons_metrics *m, int32_t partition, int64_t lag);
/* n messages dead-lettered; why is its reason ("field: ..."; the label is the
 * part before the colon, a bounded set). */
void cons_metrics_dead(cons_metrics *m, const char *why, int64_t n);
/* The database / the brokers worked again after a failure. */
void cons_metrics_db_reconnect(cons_metrics *m);
void cons_metrics_broker_reconnect(cons_metrics *m);

#endif
