/* gw_sse.h - GET /alerts/stream: server-sent events of new risk alerts. One
 * poller thread asks the core ListAlerts(after_id) for all subscribers; each
 * subscriber is a suspended connection with a bounded buffer, woken when its
 * buffer has bytes; one whose buffer stays full is dropped with an event
 * "close". */
#ifndef GW_SSE_H
#define GW_SSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gw.h"

typedef struct gw_sse_sub gw_sse_sub;

typedef struct gw_sse_opts {
	int max_subs;     /* subscribers at once; one more is answered 503 */
	size_t buf_max;   /* bytes buffered per subscriber (plus at most one page of
	                   * alerts) before the stream waits for it */
	int slow_ms;      /* a subscriber full this long is dropped */
	int poll_ms;      /* ListAlerts period while anyone listens */
	int heartbeat_ms; /* comment line period (keeps proxies and clients from timing out) */
} gw_sse_opts;

/* Starts the hub and its poller thread; app (borrowed, outlives the hub) gives
 * the RPC client and deadline. Returns AMLRISK_OK or AMLRISK_ENOMEM/EIO. */
int gw_sse_hub_create(gw_sse_hub **out, const gw_app *app, const gw_sse_opts *o);

/* Closes every stream (event "close", reason "gateway stopping"), refuses new
 * ones and joins the poller. Call before the HTTP server stops. NULL: no-op. */
void gw_sse_hub_shutdown(gw_sse_hub *h);

/* Frees the hub, after the HTTP server has stopped (its streams are gone).
 * NULL: no-op. */
void gw_sse_hub_destroy(gw_sse_hub *h);

/* Subscribers now (for /metrics and tests). */
int gw_sse_hub_subscribers(gw_sse_hub *h);

/* The handler of GET /alerts/stream: checks Last-Event-ID (rq->last_event_id),
 * registers a subscriber (its backlog after Last-Event-ID, else from the
 * newest stored alert) and sets rep->stream; or the error reply (503 when
 * full or stopping, 422 for a bad Last-Event-ID, the core's status). */
void gw_sse_handle(const gw_request *rq, gw_reply *rep);

/* The server's side of a stream reply: attach gives the subscriber its
 * connection (a struct MHD_Connection *) before the response is queued; read
 * is the MHD content reader (suspends the connection when the buffer is
 * empty); release is its free callback and unregisters the subscriber. */
void gw_sse_attach(gw_sse_sub *s, void *mhd_conn);
ssize_t gw_sse_read(void *cls, uint64_t pos, char *out, size_t max);
void gw_sse_release(void *cls);

#endif
