/* cons_wk.h - the worker's private parts, shared by its three files only:
 * the loop (cons_worker.c), the dead letters (cons_dlq.c) and Kafka offsets
 * and flow control (cons_offsets.c). One thread runs them all; librdkafka's
 * callbacks run inside its poll calls. */
#ifndef CONS_WK_H
#define CONS_WK_H

#include <signal.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cons.h"
#include "cons_metrics.h"

#define DLQ_TRUNCATE    65536 /* a dead letter the broker refuses whole is resent cut to this */
#define DLQ_WAIT_MS     5000  /* per flush attempt: wait this long for dead-letter reports */
#define COMMIT_RETRY_MS 1000

/* Per partition: the offset after the last stored row, and the offset the
 * broker confirmed as committed (-1 none). Committed never passes stored. */
typedef struct part_off {
	int32_t partition;
	int64_t stored;
	int64_t committed;
} part_off;

typedef struct worker {
	const cons_config *cfg; /* borrowed */
	volatile sig_atomic_t *stop;
	rd_kafka_t *rk;  /* the group consumer */
	rd_kafka_t *dlq; /* the dead-letter producer */
	cons_batch *batch;
	cons_db *db;
	cons_metrics *metrics; /* NULL: metrics off */
	int cooperative;       /* incremental rebalance protocol */
	int paused;            /* consumption paused while a batch waits to be written */
	int giving_up;         /* shutdown deadline passed: drop, do not write */
	int fatal;             /* librdkafka failed fatally: the exit status, 0 while not */
	int resubscribe;       /* given another topic's partitions: rejoin from the loop */
	int backoff_ms;
	int64_t next_retry_ms;
	/* per partition: stored offsets and what Kafka confirmed */
	part_off *offs;
	int noffs, offs_cap;
	rd_kafka_queue_t *commitq; /* results of asynchronous commits */
	int commits_inflight;
	int64_t next_commit_ms;
	/* the last error, written with the next batch or idle refresh, and
	 * cleared once what it was about works again */
	char last_error[256];
	int err_kind;          /* ERR_*, ERR_NONE once cleared */
	int64_t last_error_us; /* when it happened */
	int error_unsaved;     /* last_error (or its clearing) not yet in the database */
	int pause_failing;     /* a pause or resume failed: logged once until one works */
	int64_t started_us;
	int64_t last_state_ms;
	/* totals for the log */
	int64_t total_rows, total_inserted, total_dead, total_conflicts, batches;
	cons_db_counts counts; /* what the batch being flushed added, once stored */
} worker;

/* What the last error is about: what must work again to clear it. */
enum { ERR_NONE = 0, ERR_KAFKA, ERR_COMMIT, ERR_DLQ, ERR_DB };
#define ERR_BIT(k) (1u << (k))

/* ---- cons_worker.c ---- */

/* Remembers an error of kind ERR_* for ingestion_consumers.last_error
 * (IngestionStatus): "what: msg" (msg borrowed, copied). */
void cons_wk_error(worker *w, int kind, const char *what, const char *msg);
/* What the last error was about (kinds: ERR_BIT()s) has just worked: the
 * error is cleared, in ingestion_consumers too (its time stays). */
void cons_wk_clear(worker *w, unsigned kinds);
/* Sets k=v on c (logged when librdkafka refuses it): AMLRISK_OK or EINVAL. */
int cons_wk_conf_set(rd_kafka_conf_t *c, const char *k, const char *v);
/* librdkafka's error and log callbacks of both clients (opaque: the worker). */
void cons_wk_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque);
void cons_wk_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* ---- cons_dlq.c: the dead-letter producer ---- */

/* Creates w->dlq, the idempotent producer of dead letters. */
int cons_dlq_producer_create(worker *w);
/* Creates the dead-letter topic if it is missing (best effort, logged). */
void cons_dlq_topic_ensure(worker *w);
/* Produces d: its bytes and key, its headers plus dlq.reason, dlq.topic,
 * dlq.partition, dlq.offset, dlq.consumer. AMLRISK_OK once queued. */
int cons_dlq_produce(worker *w, cons_dlq *d);
/* Sends the batch's dead letters not yet in flight and serves delivery
 * reports until all are delivered (AMLRISK_OK) or timeout_ms passes. */
int cons_dlq_settle(worker *w, int timeout_ms);
/* Turns the conflicting duplicates of the last database write into dead
 * letters of the batch, each logged as a warning; all or none. */
int cons_dlq_conflicts(worker *w);

/* ---- cons_offsets.c: offsets, pause and resume ---- */

/* Records that rows of partition below next are stored. */
int cons_offs_stored(worker *w, int32_t partition, int64_t next);
/* Forgets the partitions of l (revoked): a later owner commits them. */
void cons_offs_forget(worker *w, const rd_kafka_topic_partition_list_t *l);
/* Partitions stored but not confirmed committed. */
int cons_offs_outstanding(const worker *w);
/* Commits the stored offsets not yet confirmed (of the partitions in only,
 * or all when NULL), asynchronously (confirmed later) or not. */
int cons_offs_commit(worker *w, int async, const rd_kafka_topic_partition_list_t *only);
/* Pauses or resumes the partitions of l; every one must have worked. */
int cons_kafka_pause(worker *w, rd_kafka_topic_partition_list_t *l, int pause);
/* Pauses or resumes the whole assignment; w->paused follows when it worked. */
void cons_kafka_set_paused(worker *w, int pause);
/* Puts partition back to offset so a message not taken is read again. */
void cons_kafka_seek_back(worker *w, int32_t partition, int64_t offset);
/* The high watermarks librdkafka last saw of the n partitions of p. */
void cons_kafka_watermarks(worker *w, cons_part *p, int n);

#endif
