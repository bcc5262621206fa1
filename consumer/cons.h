/* cons.h - the consumer worker's modules: configuration, message codec (decode,
 * check, binary COPY rows), the batch and its lifecycle, the database writer and
 * the Kafka loop. Shared by consumer/ and its unit tests, nobody else. Workload:
 * one thread, batches of thousands of ~200-byte messages, one transaction each. */
#ifndef CONS_H
#define CONS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "aml/v1/transaction.pb-c.h"

/* ---- configuration (cons_config.c) ---- */

#define CONS_KAFKA_OPTS_MAX 32         /* --kafka-opt entries */
#define CONS_BATCH_ROWS_MAX 100000     /* upper bound of --batch-size */
#define CONS_MSG_MAX        (8u << 20) /* largest Kafka message accepted (broker cap) */

typedef struct cons_config {
	char database_url[1024];
	char bootstrap[512];
	char topic[250]; /* Kafka topic names are at most 249 characters */
	char group[250];
	char dlq_topic[256];
	char consumer_id[128];
	char offset_reset[16]; /* earliest | latest */
	int batch_rows;        /* flush at this many messages, 1..CONS_BATCH_ROWS_MAX */
	int batch_ms;          /* or this long after the batch's first message */
	size_t batch_bytes;    /* or this many bytes of COPY data and dead letters */
	int retry_min_ms;      /* database retry backoff: first wait ... */
	int retry_max_ms;      /* ... doubling up to this cap */
	int session_timeout_ms;
	int shutdown_timeout_ms;  /* on SIGTERM: how long to keep retrying the last batch */
	int state_interval_ms;    /* idle refresh of ingestion_offsets.high_watermark */
	char metrics_listen[256]; /* host:port of GET /metrics, "" off */
	int n_kafka_opts;
	char kafka_opts[CONS_KAFKA_OPTS_MAX][2][256]; /* extra librdkafka key, value */
} cons_config;

/* Fills *out from the environment, then argv (flags override the environment).
 * Returns AMLRISK_OK; AMLRISK_EINVAL with a message in err for a bad or
 * out-of-range value; sets *help when --help was given (out is then partial). */
int cons_config_load(cons_config *out, int argc, char **argv, int *help, char *err, size_t errlen);
/* Prints the --help text to f. */
void cons_config_usage(FILE *f);

/* ---- codec (cons_codec.c): binary COPY tuples ---- */

/* Messages are decoded and validated by amlrisk_tx_decode() (common/). */

/* Encodes decimal string dec (already valid: digits[.digits]) as a PostgreSQL
 * binary numeric into out (cap bytes). Returns the length, or 0 if it does not fit. */
size_t cons_codec_numeric(uint8_t *out, size_t cap, const char *dec);

/* The binary COPY header and trailer of cons_stage. */
extern const uint8_t cons_copy_header[19];
extern const uint8_t cons_copy_trailer[2];

/* Encodes tx (borrowed, valid) as one binary COPY tuple of cons_stage into out
 * (cap bytes). Returns the length, or 0 if it does not fit. */
size_t cons_codec_row(uint8_t *out, size_t cap, const Aml__V1__Transaction *tx);
/* Upper bound of cons_codec_row() for any valid message. */
#define CONS_ROW_MAX 1024

/* ---- batch (cons_batch.c) ---- */

/* A batch's lifecycle; cons_batch_set_state() is the one place it changes.
 * FILLING -> FLUSHING (being written; retried while the database is down)
 * FLUSHING -> COMMITTED (rows stored, dead letters delivered, offsets handed over)
 * COMMITTED -> FILLING (emptied for the next batch)
 * FLUSHING -> FILLING (every row dropped after a rebalance: nothing to write) */
typedef enum cons_batch_state {
	CONS_BATCH_FILLING = 0,
	CONS_BATCH_FLUSHING,
	CONS_BATCH_COMMITTED,
} cons_batch_state;

typedef struct cons_batch cons_batch;

/* Per source partition of a batch: the offsets it covers. */
typedef struct cons_part {
	int32_t partition;
	int64_t first; /* first offset in the batch */
	int64_t next;  /* last offset + 1: what is committed after the batch */
	int64_t hwm;   /* high watermark seen when the batch was written, -1 unknown */
	int rows;      /* valid messages */
	int dead;      /* invalid messages (dead letters) */
} cons_part;

/* A Kafka message as it arrived (all borrowed): what a dead letter copies. */
typedef struct cons_src {
	const void *value;
	size_t len;
	const void *key; /* NULL: no key */
	size_t key_len;
	const rd_kafka_headers_t *headers; /* may be NULL */
} cons_src;

/* A dead letter: a copy of the source message and why it was rejected. */
typedef struct cons_dlq {
	uint64_t id; /* unique per process: delivery reports find it by id */
	int32_t partition;
	int64_t offset;
	int conflict; /* 0: an invalid message; 1: a conflicting duplicate (a row) */
	void *value;  /* owned copy of the original bytes */
	size_t value_len;
	void *key; /* owned copy of the original key, may be NULL */
	size_t key_len;
	rd_kafka_headers_t *headers; /* owned: the original headers and any the
	                              * batch added (a conflict's stored version) */
	char reason[160];
	int status;    /* CONS_DLQ_* */
	int too_large; /* the broker refused it whole: resend truncated */
} cons_dlq;

enum { CONS_DLQ_NEW = 0, CONS_DLQ_SENT, CONS_DLQ_DELIVERED, CONS_DLQ_FAILED };

/* Creates an empty FILLING batch of at most max_rows messages and about
 * max_bytes bytes (one oversized message is always accepted). Caller
 * destroys with cons_batch_destroy(). */
int cons_batch_create(cons_batch **out, int max_rows, size_t max_bytes);
/* Frees b and everything it holds; NULL is a no-op. */
void cons_batch_destroy(cons_batch *b);

/* Appends a valid message (tx borrowed) of partition/offset, keeping a copy
 * of its source (value, key, headers) in case the database finds it a
 * conflicting duplicate. Returns AMLRISK_OK, AMLRISK_EFULL when full,
 * AMLRISK_ENOMEM, AMLRISK_ESTATE when not FILLING. */
int cons_batch_add_row(cons_batch *b, int32_t partition, int64_t offset,
                       const Aml__V1__Transaction *tx, const cons_src *src);
/* Appends a dead letter: the message src (copied) at partition/offset,
 * rejected for reason. Returns AMLRISK_OK, AMLRISK_EFULL, AMLRISK_ENOMEM,
 * AMLRISK_ESTATE; on success *out (may be NULL) points at the entry, valid
 * until the batch next changes. */
int cons_batch_add_dlq(cons_batch *b, int32_t partition, int64_t offset, const cons_src *src,
                       const char *reason, cons_dlq **out);
/* Turns row (0 .. rows-1) into a dead letter as well, from its kept source,
 * with reason and the headers in extra (borrowed, copied after the
 * original ones): a conflicting duplicate the database found. The row stays
 * a row (it was written, as a duplicate). Only while FLUSHING and before the
 * batch is stored. Returns AMLRISK_OK, AMLRISK_EINVAL (no such row),
 * AMLRISK_ENOMEM or AMLRISK_ESTATE; *out as for cons_batch_add_dlq(). */
int cons_batch_add_conflict(cons_batch *b, int row, const char *reason,
                            const rd_kafka_headers_t *extra, cons_dlq **out);
/* Takes out every conflict dead letter again (cons_batch_add_conflict()
 * could not add them all); only while FLUSHING and before stored. */
void cons_batch_drop_conflicts(cons_batch *b);
/* The dead-letter reason of a conflicting duplicate. */
#define CONS_REASON_CONFLICT "conflicting_duplicate"
/* Partition and offset of row (0 .. rows-1). */
void cons_batch_row_at(const cons_batch *b, int row, int32_t *partition, int64_t *offset);
/* True when the next message might not fit: time to flush. */
int cons_batch_full(const cons_batch *b);

/* Removes every row and dead letter of the n partitions in parts (after they
 * were revoked before the batch could be written). */
void cons_batch_drop_partitions(cons_batch *b, const int32_t *parts, int n);

int cons_batch_rows(const cons_batch *b);     /* valid messages */
int cons_batch_messages(const cons_batch *b); /* valid + invalid (conflicts are rows) */
size_t cons_batch_bytes(const cons_batch *b);
/* The binary COPY tuples (without header and trailer). */
const uint8_t *cons_batch_copy_data(const cons_batch *b, size_t *len);
/* Partitions of the batch, *n of them, sorted by partition. */
cons_part *cons_batch_parts(cons_batch *b, int *n);
/* Dead letters, *n of them, in arrival order (ids increasing). */
cons_dlq *cons_batch_dlqs(cons_batch *b, int *n);
/* The dead letter with this id, or NULL (dropped). */
cons_dlq *cons_batch_dlq_find(cons_batch *b, uint64_t id);
/* Monotonic ms when the first message was added, 0 when empty. */
int64_t cons_batch_started_ms(const cons_batch *b);
/* Set once the database transaction of the batch committed. */
int cons_batch_stored(const cons_batch *b);
void cons_batch_set_stored(cons_batch *b);

cons_batch_state cons_batch_state_get(const cons_batch *b);
/* The one function that changes a batch's state (see cons_batch_state); entering
 * FILLING empties the batch. Returns AMLRISK_OK or AMLRISK_ESTATE for a
 * transition the lifecycle does not have. */
int cons_batch_set_state(cons_batch *b, cons_batch_state to);
const char *cons_batch_state_name(cons_batch_state s);

/* ---- database (cons_db.c) ---- */

typedef struct cons_db cons_db;

/* This consumer in ingestion_consumers. */
typedef struct cons_db_state {
	const char *consumer_id;
	const char *group;
	const char *topic;
	int64_t started_us;     /* process start, Unix microseconds */
	const char *last_error; /* NULL: unchanged; "": cleared (the condition passed) */
	int64_t last_error_us;  /* when the last error happened, also with "" (an
	                         * outage stays on record); 0: never */
} cons_db_state;

/* What writing a batch added to the counters. Messages at offsets the group
 * had already counted (a batch written again after a COMMIT whose outcome was
 * lost, or re-read after a crash) are left out, so nothing counts twice. */
typedef struct cons_db_counts {
	int64_t consumed;      /* valid + invalid messages */
	int64_t inserted;      /* rows stored */
	int64_t duplicates;    /* identical replays of stored rows */
	int64_t dead_lettered; /* invalid messages + conflicts */
	int64_t conflicts;     /* same tx_id stored with other content */
} cons_db_counts;

/* A conflicting duplicate found by the last cons_db_write(): the batch row,
 * and the stored version (strings owned by db, valid until the next write). */
typedef struct cons_db_conflict {
	int row;
	const char *tx_id;
	const char *fields; /* what differs, e.g. "sender,amount" */
	const char *seq, *sender, *receiver, *amount, *timestamp_us;
	const char *asset; /* NULL: stored without one */
} cons_db_conflict;

/* Creates the writer for url (copied); it connects on first use and reconnects
 * after a failure. Caller destroys with cons_db_destroy(). */
int cons_db_create(cons_db **out, const char *url);
void cons_db_destroy(cons_db *db);

/* Writes the batch in one transaction holding transactions_append_lock()
 * from its first row to COMMIT: COPY straight into transactions under a
 * savepoint; if a tx_id is already stored (a replay), COPY into the session's
 * staging table and one statement that looks each tx_id up once, inserts the
 * new ones (the first version of each, in batch order) and returns the staged
 * rows whose stored version differs (conflicting duplicates: nothing stored
 * changes); then the counters (only offsets the group has not counted yet),
 * offsets and ingestion state; COMMIT. Borrows everything. On AMLRISK_OK
 * *counts holds what was added and cons_db_conflicts() lists the conflicts.
 * On AMLRISK_EDB nothing was written (or, after a COMMIT whose outcome was
 * lost, all of it: writing the batch again is then harmless); err holds the
 * reason and the connection is dropped if it broke. */
int cons_db_write(cons_db *db, cons_batch *b, const cons_db_state *st, cons_db_counts *counts,
                  char *err, size_t errlen);
/* The conflicts of the last successful cons_db_write(): how many, and the i-th. */
int cons_db_conflicts(const cons_db *db);
void cons_db_conflict_get(const cons_db *db, int i, cons_db_conflict *out);
/* Idle refresh: high watermarks of parts (n), the consumer's row (created if
 * new, with st's last_error) and updated_at. */
int cons_db_refresh(cons_db *db, const cons_db_state *st, const cons_part *parts, int n, char *err,
                    size_t errlen);

/* ---- the worker (cons_worker.c) ---- */

#define CONS_EXIT_FENCED 3 /* exit status: another instance has our CONSUMER_ID */

/* Runs the consumer until *stop becomes non-zero (SIGTERM/SIGINT), then
 * flushes, commits and closes. Returns the process exit status: 0 when every
 * stored batch was committed, 1 when shutdown had to give up on a batch (its
 * offsets stay uncommitted, so it is re-read) or Kafka failed fatally, 2 when
 * start-up failed, CONS_EXIT_FENCED when another process joined the group
 * with the same CONSUMER_ID (static membership) and took our place. */
int cons_worker_run(const cons_config *cfg, volatile sig_atomic_t *stop);

#endif
