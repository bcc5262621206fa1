/* ct.h - test-local helpers for the consumer's black-box tests: a librdkafka
 * producer, deterministic transactions, spawning amlrisk-consumer, waiting on
 * the database, reading the dead-letter topic and the group's committed offsets. */
#ifndef CT_H
#define CT_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "aml/v1/transaction.pb-c.h"

/* A generated transaction and the storage its strings point into. */
typedef struct ct_tx {
	Aml__V1__Transaction tx;
	char id[32], sender[256], receiver[256], amount[48], asset[8];
} ct_tx;

/* Fills t with transaction i of a deterministic set (varied amounts including
 * 0 and 20.18-digit ones, non-ASCII and 200-byte wallets, empty assets). */
void ct_tx_make(ct_tx *t, int i);

/* n transactions first..first+n-1 in *txs and pointers to them in *ptrs
 * (caller frees both with free()). */
void ct_txs_make(int first, int n, ct_tx **txs, Aml__V1__Transaction ***ptrs);

/* One test's world: a fresh migrated database, a fresh topic with partitions,
 * a group name and a log file. */
typedef struct ct_case {
	char url[1024], topic[128], group[128], log[512];
} ct_case;
void ct_case_setup(ct_case *k, const char *name, int partitions);
/* Drops the case's database. */
void ct_case_done(ct_case *k);
/* The end of a case: closes c (may be NULL), frees txs and ptrs (from
 * ct_txs_make, may be NULL) and drops the case's database. */
void ct_case_end(ct_case *k, PGconn *c, ct_tx *txs, Aml__V1__Transaction **ptrs);

/* A producer (idempotent, acks=all, 8 MiB messages). Caller destroys with
 * ct_producer_close(), which flushes and asserts every delivery succeeded. */
rd_kafka_t *ct_producer(void);
/* Produces value (copied) with key to topic; partition -1 = by key. */
void ct_produce(rd_kafka_t *p, const char *topic, int32_t partition, const void *key, size_t keylen,
                const void *value, size_t len);
/* Packs tx and produces it keyed by sender. */
void ct_produce_tx(rd_kafka_t *p, const char *topic, const Aml__V1__Transaction *tx);
void ct_producer_close(rd_kafka_t *p);

/* A producer thread: txs[0..n) to topic at about rate messages per second
 * (0: as fast as it can). */
typedef struct ct_feeder {
	pthread_t thread;
	const char *topic;
	Aml__V1__Transaction **txs;
	int n, rate;
} ct_feeder;
void ct_feed_start(ct_feeder *f, const char *topic, Aml__V1__Transaction **txs, int n, int rate);
void ct_feed_join(ct_feeder *f);

/* True while process pid (a child) has not exited. */
int ct_alive(pid_t pid);

/* Starts amlrisk-consumer for db url, topic and group as consumer_id, plus the
 * NULL-terminated extra flags (may be NULL); output appended to log. */
pid_t ct_consumer_start(const char *url, const char *topic, const char *group, const char *id,
                        const char *const *extra, const char *log);
/* The same with the fault-injecting build (amlrisk-consumer-faults, see
 * cons_faults.c) and AMLRISK_FAULTS=faults. */
pid_t ct_consumer_start_faulty(const char *faults, const char *url, const char *topic,
                               const char *group, const char *id, const char *const *extra,
                               const char *log);

/* Polls SELECT count(*) FROM transactions until it is want or timeout_ms pass;
 * returns the last count. */
int64_t ct_wait_rows(PGconn *c, int64_t want, int timeout_ms);
/* Polls SELECT count(*) FROM transactions until it is at least min or
 * timeout_ms pass; returns the last count. */
int64_t ct_wait_rows_min(PGconn *c, int64_t min, int timeout_ms);
/* Polls the sum of ingestion_consumers.consumed until it reaches want or
 * timeout_ms pass; returns the last sum. */
int64_t ct_wait_consumed(PGconn *c, int64_t want, int timeout_ms);
/* SIGTERMs the consumer pid and asserts: exit status 0, and partitions
 * 0..parts-1 of topic committed by group at their high watermark, in Kafka and
 * in ingestion_offsets. */
void ct_stop_committed(pid_t pid, PGconn *c, const char *group, const char *topic, int parts);
/* Waits until the file at path contains needle; returns 1 if it did. */
int ct_wait_log(const char *path, const char *needle, int timeout_ms);
/* Waits until the file at path contains needle at least n times; returns the
 * last count seen. */
int ct_wait_log_count(const char *path, const char *needle, int n, int timeout_ms);
/* Polls the query's first column (an integer) on c until it equals want or
 * timeout_ms pass; returns the last value. */
int64_t ct_wait_int(PGconn *c, const char *sql, int64_t want, int timeout_ms);
/* Waits until the consumer log at path shows an assignment of at least one
 * partition; returns 1 if it did. */
int ct_wait_assigned(const char *path, int timeout_ms);
/* Path of a fresh log file for this test in out. */
void ct_log_path(char *out, size_t outlen, const char *name);

/* Asserts the table holds exactly the n transactions txs (any order, each
 * field equal: amounts compared as decimals, empty asset stored as NULL). */
void ct_assert_rows(PGconn *c, Aml__V1__Transaction *const *txs, size_t n);

/* The group's committed offsets of partitions 0..n-1 of topic into out
 * (RD_KAFKA_OFFSET_INVALID when none). */
void ct_committed(const char *group, const char *topic, int n, int64_t *out);
/* High watermarks of partitions 0..n-1 into out. */
void ct_high_watermarks(const char *topic, int n, int64_t *out);

/* A private PostgreSQL or Kafka started with scripts/stack in a fresh
 * directory on free ports, apart from the shared test stack (for tests that
 * stop and start a service). */
typedef struct ct_stack {
	char var[256];
	int pg_port, kafka_port; /* kafka_port + 1 is its controller */
} ct_stack;
/* Makes the directory (with a link to the Kafka jars) and picks the ports.
 * A stack not cleaned up by its test (a failed assertion) is at exit. */
int ct_stack_init(ct_stack *s);
/* Runs `scripts/stack what` (start-pg, stop-pg, start-kafka, stop-kafka) for
 * s; returns its exit status. */
int ct_stack_run(const ct_stack *s, const char *what);
/* Stops both services and removes the directory. */
int ct_stack_cleanup(ct_stack *s);

/* One message read back from a topic. */
typedef struct ct_msg {
	void *value;
	size_t len;
	void *key;
	size_t key_len;
	int32_t partition;
	int64_t offset;
	char reason[256], src_topic[256];
	int64_t src_partition, src_offset; /* from the dlq.* headers, -1 if absent */
	rd_kafka_headers_t *headers;       /* all of them (owned), NULL if none */
} ct_msg;

/* Reads every message of topic (all n partitions) from the beginning up to
 * the high watermarks it has now, in partition order, within timeout_ms.
 * Whoever produced them must be done (for a consumer's dead letters: it
 * exited after committing, which it does only once they are delivered).
 * Returns the count; *out is freed with ct_msgs_free(). */
size_t ct_read_topic(const char *topic, int n, int timeout_ms, ct_msg **out);
/* The value of header name of m as a string in out ("" if absent). */
void ct_msg_header(const ct_msg *m, const char *name, char *out, size_t cap);
void ct_msgs_free(ct_msg *m, size_t n);

#endif
