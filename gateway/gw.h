/* gw.h - the gateway's shared request types: what a route handler is given (a
 * parsed, validated request) and what it fills in (one reply). Handlers run on
 * libmicrohttpd's pool threads, many at once; everything here is per request. */
#ifndef GW_H
#define GW_H

#include <stddef.h>
#include <stdint.h>

#include "rpc.h"
#include "rpc_multi.h"

typedef struct gw_metrics gw_metrics;
typedef struct gw_static gw_static;
typedef struct gw_topcache gw_topcache;
typedef struct gw_sse_hub gw_sse_hub;

/* What every handler may use; built once in main, read-only while serving. */
typedef struct gw_app {
	rpc_multi *rpc;        /* thread-safe; a connection to each core instance */
	gw_metrics *metrics;   /* counters, updated with atomics */
	const gw_static *docs; /* OpenAPI document and Swagger UI assets */
	int rpc_timeout_ms;    /* deadline of a query RPC */
	int long_timeout_ms;   /* deadline of ReloadGraph and RunScore */
	int coalesce;          /* query RPCs go through rpc_client_call_coalesced() */
	gw_topcache *topcache; /* recent /scores/top answers (thread-safe), or NULL */
	gw_sse_hub *sse;       /* /alerts/stream subscribers and poller (thread-safe) */
} gw_app;

struct gw_reply;

/* How a handler waits for an RPC without holding its pool thread: suspend
 * (called on the pool thread, before the RPC starts) parks the connection;
 * resume (called once, from any thread) hands it the finished reply (moved:
 * the reply's body goes with it) and wakes it. conn is the server's. */
typedef void (*gw_suspend_fn)(void *conn);
typedef void (*gw_resume_fn)(void *conn, struct gw_reply *rep);

/* One parsed request. The strings are borrowed from the connection and live
 * until the request is answered. */
typedef struct gw_request {
	const gw_app *app;
	const char *param; /* the decoded, validated path parameter ({wallet},
	                    * {run_id}, {asset}), NUL-terminated; NULL if none */
	const char *query; /* raw query string after '?' (still percent-encoded), or "" */
	const char *body;  /* request body (not NUL-terminated), body_len bytes */
	size_t body_len;
	const char *last_event_id; /* the Last-Event-ID header, or NULL */
	gw_suspend_fn suspend;     /* NULL: the handler answers before it returns */
	gw_resume_fn resume;
	void *conn;
} gw_request;

/* The one answer to a request. body is heap memory owned by the reply unless
 * is_static; gw_reply_* below fill it, the server sends and frees it. */
typedef struct gw_reply {
	int status;
	const char *ctype; /* static string */
	char *body;
	size_t len;
	int is_static;
	const char *cache;                /* Cache-Control value (static string) or NULL */
	const char *hdr_name, *hdr_value; /* one more header (Allow, WWW-Authenticate)
	                                   * or NULL; borrowed until the reply is sent */
	int deferred; /* the handler suspended the request: the reply comes by resume */
	struct gw_sse_sub *stream; /* an event stream (gw_sse.h) instead of body: the
	                            * server sends it with gw_sse_read */
} gw_reply;

typedef void (*gw_handler)(const gw_request *rq, gw_reply *rep);

#define GW_CT_JSON "application/json" /* the content type of every JSON answer */

/* Sets rep to a JSON error {"detail": "<printf text>"} with status. The one
 * builder of error bodies: every 4xx/5xx of the gateway goes through it. */
void gw_reply_error(gw_reply *rep, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Sets rep to the 500 of an answer that could not be encoded (out of memory,
 * or a string that is not UTF-8): the one wording for both JSON encoders. */
void gw_reply_unencodable(gw_reply *rep);

/* Sets rep to status with a borrowed body that outlives the reply. */
void gw_reply_static(gw_reply *rep, int status, const char *ctype, const void *body, size_t len);

/* Sets rep to status with a heap body (malloc'd; the reply takes ownership). */
void gw_reply_owned(gw_reply *rep, int status, const char *ctype, char *body, size_t len);

/* Frees what rep owns and resets it. */
void gw_reply_clear(gw_reply *rep);

#endif
