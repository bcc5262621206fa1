/* gw_conn.h - the gateway's client connections: limits per address and in
 * total that answer 503 with a JSON body instead of closing silently, and
 * deadlines for receiving a whole request (slowloris) on top of
 * libmicrohttpd's inactivity timeout, enforced by a watchdog thread. Hooked
 * into the daemon's accept-policy and connection-notify callbacks; one record
 * per open connection (at most gw_conn_hard_total()). */
#ifndef GW_CONN_H
#define GW_CONN_H

#include <sys/socket.h>

#include <microhttpd.h>

#include "gw.h"

typedef struct gw_conns gw_conns;
typedef struct gw_conn gw_conn;

typedef struct gw_conn_limits {
	int max_connections;  /* served at once; up to gw_conn_hard_total() get a 503 */
	int per_ip;           /* served per client address; the next few get a 503, the
	                       * rest are closed unanswered */
	int header_timeout_s; /* a new connection's first request whole (headers and
	                       * body) within this */
	int idle_timeout_s;   /* each later request whole within this of the answer before */
} gw_conn_limits;

/* Connections open at most: max_connections and the headroom answered 503
 * (an eighth, at least 16). libmicrohttpd's own limit: past it new connections
 * wait in the listen backlog. */
unsigned int gw_conn_hard_total(const gw_conn_limits *lim);

/* Starts the watchdog. Borrows lim and m (both outlive the result). *out is
 * written only on success; stop with gw_conns_destroy(). Returns AMLRISK_OK,
 * AMLRISK_ENOMEM or AMLRISK_EIO (no thread). */
int gw_conns_create(gw_conns **out, const gw_conn_limits *lim, gw_metrics *m);

/* Stops the watchdog and frees c; call after the daemon has stopped (every
 * connection closed). NULL is fine. */
void gw_conns_destroy(gw_conns *c);

/* MHD_AcceptPolicyCallback (cls: the gw_conns): refuses, counted and logged,
 * a client address already past its limit and its 503 headroom. */
enum MHD_Result gw_conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);

/* MHD_NotifyConnectionCallback (cls: the gw_conns): the record of a new
 * connection (over a limit or not, with its first request's deadline) in
 * *socket_context, freed when it closes. */
void gw_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);

/* The record of conn, or NULL (none could be allocated: no limits apply). */
gw_conn *gw_conn_get(struct MHD_Connection *conn);

/* When requests on c are to be refused (c opened past a limit): 1 with the
 * reason in why (whylen bytes), else 0. c may be NULL. */
int gw_conn_refused(const gw_conn *c, char *why, size_t whylen);

/* The request on c is whole: no deadline while it is handled. NULL is fine. */
void gw_conn_busy(gw_conn *c);

/* The request on c was answered: the next one must be whole within the idle
 * timeout. NULL is fine. */
void gw_conn_idle(gw_conn *c);

#endif
