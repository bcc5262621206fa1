/* th.h - the shared test harness for black-box tests against the real services
 * started by scripts/stack: fresh databases, unique Kafka topics, fixtures and
 * child processes. A missing service fails the test; nothing here skips. */
#ifndef TH_H
#define TH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "aml/v1/transaction.pb-c.h"

/* The value of environment variable name; fails the running test when unset. */
const char *th_env(const char *name);

/* Creates an empty database with a unique name on the cluster at DATABASE_URL,
 * applies the migrations when migrate is non-zero, and writes a libpq conninfo for it into url (urllen
 * bytes). Fails the test on any error. */
void th_db_create(char *url, size_t urllen, int migrate);
/* Drops a database made by th_db_create (terminating its sessions). */
void th_db_drop(const char *url);
/* Connects to url; fails the test when it cannot. Caller PQfinish()es. */
PGconn *th_db_connect(const char *url);
/* Runs sql (no parameters) and returns the first column of the first row as
 * int64; fails the test on error or no row. */
int64_t th_db_int(PGconn *conn, const char *sql);

/* Writes a fresh topic name "prefix.<pid>.<n>.<rand>" into out. */
void th_topic_name(char *out, size_t outlen, const char *prefix);
/* Creates topic with the given partitions on KAFKA_BOOTSTRAP_SERVERS and waits
 * until its metadata shows every partition. Fails the test on error. */
void th_topic_create(const char *topic, int partitions);

/* A new librdkafka config with bootstrap.servers = KAFKA_BOOTSTRAP_SERVERS;
 * rd_kafka_new() takes it over. */
rd_kafka_conf_t *th_kafka_conf(void);
/* Sets k=v on c; fails the test when librdkafka refuses it. */
void th_kafka_set(rd_kafka_conf_t *c, const char *k, const char *v);
/* Delivery report counts of a producer. */
typedef struct th_delivery {
	int ok, err;
} th_delivery;
/* Makes the producer made from c count its delivery reports in *d (borrowed;
 * it must outlive the producer). Uses c's opaque. */
void th_kafka_count_deliveries(rd_kafka_conf_t *c, th_delivery *d);
/* A consumer in group made from c (taken over; from th_kafka_conf() with the
 * caller's extra settings), reading from the earliest offset with auto commit
 * off. Fails the test on error. Caller closes and destroys. */
rd_kafka_t *th_kafka_consumer(rd_kafka_conf_t *c, const char *group);
/* th_kafka_consumer(th_kafka_conf(), group), subscribed to topic. */
rd_kafka_t *th_kafka_subscribe(const char *topic, const char *group);
/* Called by th_kafka_consume for each message without error (borrowed for the
 * call); returns 1 when the message counts towards want, 0 when not. */
typedef int (*th_kafka_msg_fn)(const rd_kafka_message_t *m, void *arg);
/* Polls consumer rk until fn has counted want messages and then quiet_ms more
 * (extras, e.g. duplicates, would show up then), or until timeout_ms passed.
 * Returns how many fn counted. */
size_t th_kafka_consume(rd_kafka_t *rk, size_t want, int timeout_ms, int quiet_ms,
                        th_kafka_msg_fn fn, void *arg);

/* Loads tests/fixtures/<name> (length-delimited aml.v1.Transaction). Returns the
 * count; *out is an array the caller frees with th_fixture_free(). */
size_t th_fixture_load(const char *name, Aml__V1__Transaction ***out);
void th_fixture_free(Aml__V1__Transaction **txs, size_t n);

/* Starts build/bin/<prog> (AMLRISK_BIN) with argv (NULL-terminated, argv[0]
 * ignored), extra environment entries "K=V" (NULL-terminated, may be NULL),
 * stdout+stderr appended to logpath. Returns the pid. Children still running
 * when the test process exits are killed (a failed assertion leaves no orphan). */
pid_t th_spawn(const char *prog, char *const argv[], char *const env[], const char *logpath);
/* Sends sig and waits up to timeout_ms; returns the exit status as from waitpid
 * or -1 if it did not exit in time (then it is SIGKILLed). */
int th_stop(pid_t pid, int sig, int timeout_ms);
/* Monotonic milliseconds. */
int64_t th_now_ms(void);

/* The next number of a splitmix64 stream whose state is *s: deterministic
 * test data from a seed. */
uint64_t th_rand(uint64_t *s);

/* Protobuf bytes of depth fields of tag tag nested in one another around core
 * (core_len bytes, may be NULL/0): tag len (tag len (... core)), hostile
 * nesting for decoder tests. *len set; the caller frees the result. */
uint8_t *th_pb_nest(uint8_t tag, size_t depth, const uint8_t *core, size_t core_len, size_t *len);

/* The RPC secret of the test stack (RPC_SECRET_FILE or RPC_SECRET, which
 * scripts/stack env exports and every spawned process inherits), or NULL when
 * none is set. Fails the test when it is set but unreadable. */
const char *th_rpc_secret(void);

#endif
