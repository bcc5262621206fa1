/* th.h - the shared test harness for black-box tests against the real services
 * started by scripts/stack: fresh databases, unique Kafka topics, fixtures and
 * child processes. A missing service fails the test; nothing here skips. */
#ifndef TH_H
#define TH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <libpq-fe.h>

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

/* Loads tests/fixtures/<name> (length-delimited aml.v1.Transaction). Returns the
 * count; *out is an array the caller frees with th_fixture_free(). */
size_t th_fixture_load(const char *name, Aml__V1__Transaction ***out);
void th_fixture_free(Aml__V1__Transaction **txs, size_t n);

/* Starts build/bin/<prog> (AMLRISK_BIN) with argv (NULL-terminated, argv[0]
 * ignored), extra environment entries "K=V" (NULL-terminated, may be NULL),
 * stdout+stderr appended to logpath. Returns the pid. */
pid_t th_spawn(const char *prog, char *const argv[], char *const env[], const char *logpath);
/* Sends sig and waits up to timeout_ms; returns the exit status as from waitpid
 * or -1 if it did not exit in time (then it is SIGKILLed). */
int th_stop(pid_t pid, int sig, int timeout_ms);
/* Monotonic milliseconds. */
int64_t th_now_ms(void);

#endif
