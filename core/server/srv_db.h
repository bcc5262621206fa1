/* srv_db.h - PostgreSQL access for the core server: a small pool of reader
 * connections for RPC handlers, private connections for the writer and the
 * health monitor, and helpers that turn libpq failures into AMLRISK_EDB with a
 * one-line message. A lost connection is dropped and redialled on next use.
 * No call waits on a silent database longer than the I/O timeout: a
 * connection that neither takes nor gives a byte that long is closed. */
#ifndef SRV_DB_H
#define SRV_DB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "srv_copy.h"

typedef struct srv_db srv_db;

#define SRV_DB_IO_TIMEOUT_DEFAULT 15000

/* Sets the I/O timeout (ms; <= 0 restores the default) of every helper below:
 * how long a statement may go without a byte sent or received before its
 * connection is closed as unreachable. Process-wide, thread-safe. */
void srv_db_io_timeout_set(int ms);
int srv_db_io_timeout(void);

/* A pool of size reader connections to url (borrowed; must outlive the pool),
 * dialled lazily. statement_timeout_ms (0 = none) is set on each. */
int srv_db_create(srv_db **out, const char *url, int size, int statement_timeout_ms);
/* Closes every connection; all must have been released. NULL is a no-op. */
void srv_db_destroy(srv_db *db);

/* Takes a connection, waiting up to wait_ms for one to be free and dialling it
 * when needed. AMLRISK_EDB with the reason in err when the database cannot be
 * reached (a failed dial is remembered for a short while, so a down database
 * answers at once), AMLRISK_EBUSY when none was free in time. Hand it back
 * with srv_db_release(). */
int srv_db_acquire(srv_db *db, PGconn **out, int wait_ms, char *err, size_t errlen);
/* Returns c to the pool; a broken connection is closed and redialled later. */
void srv_db_release(srv_db *db, PGconn *c);

/* A private connection (caller PQfinish()es it), dialled with the shared
 * keepalive and timeout settings (amlrisk_pg.h) and put in non-blocking mode:
 * use it only through the helpers below. */
int srv_db_connect(const char *url, int statement_timeout_ms, PGconn **out, char *err,
                   size_t errlen);

/* Runs sql with n text parameters (may be NULL). want is PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK. On success *out (may be NULL to discard) gets the result,
 * which the caller PQclear()s. AMLRISK_EDB with the server's message. */
int srv_db_exec(PGconn *c, const char *sql, int n, const char *const *params, int want,
                PGresult **out, char *err, size_t errlen);
/* The same with its own I/O timeout io_ms (<= 0: the process-wide one). */
int srv_db_exec_ms(PGconn *c, const char *sql, int n, const char *const *params, int want,
                   PGresult **out, int io_ms, char *err, size_t errlen);

/* COPY FROM STDIN on c (after srv_db_exec(..., PGRES_COPY_IN, ...)): sends
 * len bytes of data, then ends the COPY with errmsg (NULL = success; a message
 * makes the server abort the COPY) and collects its outcome. AMLRISK_EDB. */
int srv_db_copy_put(PGconn *c, const char *data, size_t len, char *err, size_t errlen);
int srv_db_copy_end(PGconn *c, const char *errmsg, char *err, size_t errlen);

/* Runs "COPY (...) TO STDOUT (FORMAT binary)" sql and hands every row to fn.
 * Stops with AMLRISK_ECANCELED when *cancel becomes true (checked per chunk),
 * or with fn's non-zero return; the connection is then closed (its owner
 * redials). AMLRISK_EDB, AMLRISK_EPROTO. */
int srv_db_copy_out(PGconn *c, const char *sql, srv_copy_row_fn fn, void *arg,
                    const atomic_bool *cancel, char *err, size_t errlen);

/* Ends whatever transaction c holds (ROLLBACK); harmless when none or broken. */
void srv_db_rollback(PGconn *c);

/* Writes "<what>: <libpq message>" (one line) into err. */
void srv_db_errmsg(PGconn *c, const char *what, char *err, size_t errlen);

/* true when c is usable. */
bool srv_db_ok(PGconn *c);

#endif
