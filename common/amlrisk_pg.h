/* amlrisk_pg.h - how every amlrisk process dials PostgreSQL: one set of
 * connection settings (connect timeout, TCP keepalives, tcp_user_timeout) so a
 * database behind a silent network partition becomes an error in seconds
 * instead of a connection blocked in libpq. The URL's own settings win. */
#ifndef AMLRISK_PG_H
#define AMLRISK_PG_H

#include <stddef.h>

#include <libpq-fe.h>

#define AMLRISK_PG_CONNECT_TIMEOUT_S 5     /* connect_timeout */
#define AMLRISK_PG_KEEPALIVE_IDLE_S  10    /* keepalives_idle */
#define AMLRISK_PG_KEEPALIVE_INTVL_S 5     /* keepalives_interval */
#define AMLRISK_PG_KEEPALIVE_COUNT   3     /* keepalives_count */
#define AMLRISK_PG_USER_TIMEOUT_MS   15000 /* tcp_user_timeout: unacknowledged data */

/* The channel the consumer NOTIFYs in each batch's transaction that inserted
 * rows (payload: the new high-water ingest seq) and the core LISTENs on. */
#define AMLRISK_PG_INGEST_CHANNEL "amlrisk_ingest"

/* Dials url (a URI or conninfo string; borrowed) as application app with the
 * settings above placed before the URL, so that anything the URL sets itself
 * overrides them. On success *out is a connected PGconn the caller
 * PQfinish()es; on failure *out is untouched and err holds one line
 * "<libpq message>". Returns 0 or -1. */
int amlrisk_pg_connect(const char *url, const char *app, PGconn **out, char *err, size_t errlen);

/* Copies libpq's message msg into err on one line (newlines and tabs become
 * spaces, trailing blanks dropped), prefixed with "what: " when what is not
 * NULL. An empty msg reads "unknown error". */
void amlrisk_pg_oneline(char *err, size_t errlen, const char *what, const char *msg);

#endif
