/* gw_sse.c - the alert stream's hub: subscribers with bounded buffers, one
 * poller thread calling ListAlerts(after_id) for all of them, wake-ups of
 * their suspended connections, heartbeats, drops of slow ones. No thread is
 * held per subscriber: a connection with nothing to send is suspended. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aml/v1/risk_service.pb-c.h"
#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "gw_json.h"
#include "gw_sse.h"

#define PAGE        1000 /* alerts per ListAlerts call */
#define PAGES_TICK  8    /* pages one poll may read while catching up */
#define MSG_MAX     512
#define REASON_MAX  256
#define ID_TEXT_MAX 24
#define HELLO       "retry: 2000\n: connected\n\n"
#define HEARTBEAT   ": heartbeat\n\n"

struct gw_sse_sub {
	gw_sse_hub *hub;
	struct MHD_Connection *conn; /* set by gw_sse_attach */
	char *buf;                   /* pending bytes are [off, len) */
	size_t off, len, cap;
	int64_t next;       /* alerts with a larger id go to this subscriber */
	int64_t full_since; /* monotonic ms its buffer is full since; 0 = not full */
	int suspended;      /* its connection waits for bytes */
	int closing;        /* the close event is queued: end once the buffer is sent */
	gw_sse_sub *prev, *nextsub;
};

struct gw_sse_hub {
	const gw_app *app;
	gw_sse_opts o;
	pthread_mutex_t mu;      /* everything below and every subscriber */
	pthread_mutex_t poll_mu; /* one ListAlerts reader at a time: the poller or a joiner */
	pthread_cond_t cv;
	pthread_t poller;
	int started;
	int stopping;
	int nsubs;
	int64_t cursor; /* alerts up to it were delivered; -1 = unknown (nobody listens) */
	gw_sse_sub *subs;
};

static const ProtobufCServiceDescriptor *const svc = &aml__v1__risk_service__descriptor;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends len bytes to s's buffer; over the hub's bound (unless force) returns
 * -1 and appends nothing. Under mu. */
static int
sub_append(gw_sse_sub *s, const char *text, size_t len, bool force)
{
	size_t pending = s->len - s->off;

	if (!force && pending + len > s->hub->o.buf_max) {
		return -1;
	}
	if (s->off > 0) {
		memmove(s->buf, s->buf + s->off, pending);
		s->off = 0;
		s->len = pending;
	}
	if (s->len + len > s->cap) {
		size_t cap = s->cap != 0 ? s->cap : 4096;
		char *nb;

		while (cap < s->len + len) {
			cap *= 2;
		}
		if ((nb = realloc(s->buf, cap)) == NULL) {
			return -1;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, text, len);
	s->len += len;
	return 0;
}

/* Wakes s's connection if it waits. Under mu. */
static void
sub_wake(gw_sse_sub *s)
{
	if (s->suspended && s->conn != NULL) {
		s->suspended = 0;
		MHD_resume_connection(s->conn);
	}
}

/* Queues the close event with reason (JSON-escaped by Jansson) and ends s. */
static void
sub_close(gw_sse_sub *s, const char *reason)
{
	json_t *j = json_pack("{s:s}", "reason", reason);
	char *data = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	char text[REASON_MAX + 64];
	int n;

	n = snprintf(text, sizeof(text), "event: close\ndata: %s\n\n",
	             data != NULL ? data : "{\"reason\":\"closed\"}");
	if (n > 0 && (size_t)n < sizeof(text)) {
		(void)sub_append(s, text, (size_t)n, true);
	}
	s->closing = 1;
	sub_wake(s);
	free(data);
	json_decref(j);
}

/* The event text of alert a (malloc'd), or NULL when out of memory. */
static char *
event_text(const Aml__V1__RiskAlert *a, size_t *len)
{
	json_t *j = gw_json_alert(a);
	char *data = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	char *text = NULL;
	int n;

	if (data != NULL) {
		size_t cap = strlen(data) + 64;

		if ((text = malloc(cap)) != NULL) {
			n = snprintf(text, cap, "id: %lld\nevent: alert\ndata: %s\n\n",
			             (long long)a->alert_id, data);
			*len = (size_t)n;
		}
	}
	free(data);
	json_decref(j);
	return text;
}

/* Queues alert a to s when it is new to s. The poller reads a page only when
 * every subscriber has room (pages_room), so a buffer holds at most buf_max
 * plus one page. Under mu. */
static void
sub_offer(gw_sse_sub *s, const Aml__V1__RiskAlert *a, const char *text, size_t len)
{
	if (s->closing || a->alert_id <= s->next) {
		return;
	}
	if (sub_append(s, text, len, true) != 0) {
		sub_close(s, "out of memory");
		return;
	}
	s->next = a->alert_id;
	sub_wake(s);
}

/* Whether every subscriber has room for another page. One whose buffer has
 * stayed full for slow_ms is dropped (event "close": reconnect with
 * Last-Event-ID); until then the stream waits for it (the alerts wait in the
 * core's table: nothing is lost). Under mu. */
static int
pages_room(gw_sse_hub *h, int64_t now)
{
	char reason[REASON_MAX];
	int room = 1;
	gw_sse_sub *s;

	for (s = h->subs; s != NULL; s = s->nextsub) {
		if (s->closing || s->len - s->off < h->o.buf_max) {
			s->full_since = 0;
			continue;
		}
		if (s->full_since == 0) {
			s->full_since = now;
		}
		if (now - s->full_since < h->o.slow_ms) {
			room = 0;
			continue;
		}
		snprintf(reason, sizeof(reason),
		         "slow subscriber: %zu bytes not read for %d ms; reconnect with "
		         "Last-Event-ID %lld",
		         s->len - s->off, h->o.slow_ms, (long long)s->next);
		amlrisk_log(AMLRISK_LOG_WARN, "gateway", "sse.dropped",
		            "last_id=%lld pending=%zu slow_ms=%d", (long long)s->next,
		            s->len - s->off, h->o.slow_ms);
		sub_close(s, reason);
	}
	return room;
}

/* One ListAlerts call; the code, the answer in *out, the message in msg. */
static int
list_alerts(gw_sse_hub *h, int64_t after, uint32_t limit, Aml__V1__ListAlertsResponse **out,
            char *msg, size_t msglen)
{
	Aml__V1__ListAlertsRequest req = AML__V1__LIST_ALERTS_REQUEST__INIT;

	req.after_id = after;
	req.limit = limit;
	*out = NULL;
	return rpc_multi_read(h->app->rpc, svc, "ListAlerts", &req.base, (ProtobufCMessage **)out,
	                      h->app->rpc_timeout_ms, 0, msg, msglen);
}

/* Offers the alerts of r to one subscriber (only) or to all. Under mu. */
static void
deliver(gw_sse_hub *h, const Aml__V1__ListAlertsResponse *r, gw_sse_sub *only)
{
	size_t i, len = 0;

	for (i = 0; i < r->n_alerts; i++) {
		char *text = event_text(r->alerts[i], &len);
		gw_sse_sub *s;

		if (text == NULL) {
			continue; /* out of memory: the next poll cannot redo it; logged */
		}
		for (s = only != NULL ? only : h->subs; s != NULL;
		     s = only != NULL ? NULL : s->nextsub) {
			sub_offer(s, r->alerts[i], text, len);
		}
		free(text);
	}
}

/* The newest stored alert id, or -1 with msg set. */
static int64_t
newest_id(gw_sse_hub *h, int *code, char *msg, size_t msglen)
{
	Aml__V1__ListAlertsResponse *r = NULL;
	int64_t id = -1;

	if ((*code = list_alerts(h, 0, 1, &r, msg, msglen)) == 0) {
		id = r->last_id;
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	return id;
}

/* One poll: the alerts after the cursor, page by page, to every subscriber. */
static void
poll_once(gw_sse_hub *h)
{
	char msg[MSG_MAX] = "";
	int64_t cursor;
	int pages, code = 0;

	pthread_mutex_lock(&h->mu);
	cursor = h->nsubs > 0 ? h->cursor : -2;
	if (h->nsubs == 0) {
		h->cursor = -1; /* nobody listens: the next one starts from the newest */
	}
	pthread_mutex_unlock(&h->mu);
	if (cursor == -2) {
		return;
	}
	if (cursor < 0 && (cursor = newest_id(h, &code, msg, sizeof(msg))) < 0) {
		amlrisk_log(AMLRISK_LOG_WARN, "gateway", "sse.poll_failed", "code=%s msg=\"%s\"",
		            amlrisk_grpc_name(code), msg);
		return;
	}
	for (pages = 0; pages < PAGES_TICK; pages++) {
		Aml__V1__ListAlertsResponse *r = NULL;
		size_t n;
		int room;

		pthread_mutex_lock(&h->mu);
		room = pages_room(h, mono_ms());
		pthread_mutex_unlock(&h->mu);
		if (!room) {
			break; /* the next tick tries again */
		}
		if ((code = list_alerts(h, cursor, PAGE, &r, msg, sizeof(msg))) != 0) {
			amlrisk_log(AMLRISK_LOG_WARN, "gateway", "sse.poll_failed",
			            "code=%s msg=\"%s\"", amlrisk_grpc_name(code), msg);
			break;
		}
		n = r->n_alerts;
		pthread_mutex_lock(&h->mu);
		deliver(h, r, NULL);
		if (n > 0) {
			cursor = r->alerts[n - 1]->alert_id;
		}
		h->cursor = cursor;
		pthread_mutex_unlock(&h->mu);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (n < PAGE) {
			break;
		}
	}
	pthread_mutex_lock(&h->mu);
	h->cursor = cursor;
	pthread_mutex_unlock(&h->mu);
}

/* A heartbeat comment to every subscriber with room for it. Under mu. */
static void
heartbeat(gw_sse_hub *h)
{
	gw_sse_sub *s;

	for (s = h->subs; s != NULL; s = s->nextsub) {
		if (!s->closing && sub_append(s, HEARTBEAT, sizeof(HEARTBEAT) - 1, false) == 0) {
			sub_wake(s);
		}
	}
}

/* The poller: every poll_ms while anyone listens, and the heartbeats. */
static void *
poller_main(void *arg)
{
	gw_sse_hub *h = arg;
	int64_t next_beat = mono_ms() + h->o.heartbeat_ms;

	pthread_mutex_lock(&h->mu);
	while (!h->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(h->o.poll_ms % 1000) * 1000000L;
		until.tv_sec += h->o.poll_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		(void)pthread_cond_timedwait(&h->cv, &h->mu, &until);
		if (h->stopping) {
			break;
		}
		if (mono_ms() >= next_beat) {
			heartbeat(h);
			next_beat = mono_ms() + h->o.heartbeat_ms;
		}
		pthread_mutex_unlock(&h->mu);
		pthread_mutex_lock(&h->poll_mu);
		poll_once(h);
		pthread_mutex_unlock(&h->poll_mu);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int
gw_sse_hub_create(gw_sse_hub **out, const gw_app *app, const gw_sse_opts *o)
{
	gw_sse_hub *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (h == NULL) {
		return AMLRISK_ENOMEM;
	}
	h->app = app;
	h->o = *o;
	h->cursor = -1;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->poll_mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->poller, NULL, poller_main, h) != 0) {
		gw_sse_hub_destroy(h);
		return AMLRISK_EIO;
	}
	h->started = 1;
	*out = h;
	return AMLRISK_OK;
}

void
gw_sse_hub_shutdown(gw_sse_hub *h)
{
	gw_sse_sub *s;

	if (h == NULL) {
		return;
	}
	pthread_mutex_lock(&h->mu);
	h->stopping = 1;
	for (s = h->subs; s != NULL; s = s->nextsub) {
		if (!s->closing) {
			sub_close(s, "gateway stopping");
		}
	}
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->started) {
		pthread_join(h->poller, NULL);
		h->started = 0;
	}
}

void
gw_sse_hub_destroy(gw_sse_hub *h)
{
	if (h == NULL) {
		return;
	}
	gw_sse_hub_shutdown(h);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->poll_mu);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int
gw_sse_hub_subscribers(gw_sse_hub *h)
{
	int n;

	pthread_mutex_lock(&h->mu);
	n = h->nsubs;
	pthread_mutex_unlock(&h->mu);
	return n;
}

/* The subscriber's backlog: the alerts after `after` up to the hub's cursor,
 * page by page, until its buffer is full (then it is closed, to resume from
 * where it got). Under poll_mu and mu. Returns the gRPC code. */
static int
backlog(gw_sse_hub *h, gw_sse_sub *s, int64_t after, int64_t cursor, char *msg, size_t msglen)
{
	while (!s->closing && s->next < cursor) {
		Aml__V1__ListAlertsResponse *r = NULL;
		size_t n;
		int code;

		pthread_mutex_unlock(&h->mu);
		code = list_alerts(h, s->next > after ? s->next : after, PAGE, &r, msg, msglen);
		pthread_mutex_lock(&h->mu);
		if (code != 0) {
			return code;
		}
		n = r->n_alerts;
		deliver(h, r, s);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		if (n < PAGE) {
			break;
		}
	}
	if (!s->closing && s->next < cursor) {
		s->next = cursor;
	}
	return 0;
}

/* Registers a subscriber resuming after `after` (-1: from the newest alert).
 * Returns it, or NULL with the HTTP error in rep. */
static gw_sse_sub *
subscribe(gw_sse_hub *h, int64_t after, gw_reply *rep)
{
	char msg[MSG_MAX] = "";
	gw_sse_sub *s = calloc(1, sizeof(*s));
	int64_t cursor;
	int code = 0;

	if (s == NULL) {
		gw_reply_error(rep, 503, "out of memory");
		return NULL;
	}
	s->hub = h;
	pthread_mutex_lock(&h->poll_mu);
	pthread_mutex_lock(&h->mu);
	if (h->stopping || h->nsubs >= h->o.max_subs) {
		if (h->stopping) {
			gw_reply_error(rep, 503, "the gateway is stopping");
		} else {
			gw_reply_error(rep, 503,
			               "too many alert stream subscribers (GATEWAY_SSE_MAX %d): "
			               "retry later",
			               h->o.max_subs);
		}
		rep->hdr_name = "Retry-After";
		rep->hdr_value = "5";
		goto fail;
	}
	cursor = h->cursor;
	pthread_mutex_unlock(&h->mu);
	if (cursor < 0) {
		cursor = newest_id(h, &code, msg, sizeof(msg));
	}
	pthread_mutex_lock(&h->mu);
	if (code != 0) {
		goto rpc_fail;
	}
	h->cursor = cursor;
	(void)sub_append(s, HELLO, sizeof(HELLO) - 1, true);
	s->next = after >= 0 ? after : cursor;
	if (after >= 0 && (code = backlog(h, s, after, cursor, msg, sizeof(msg))) != 0) {
		goto rpc_fail;
	}
	s->nextsub = h->subs;
	if (h->subs != NULL) {
		h->subs->prev = s;
	}
	h->subs = s;
	h->nsubs++;
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_unlock(&h->poll_mu);
	return s;
rpc_fail:
	if (code == AML__V1__STATUS_CODE__UNIMPLEMENTED ||
	    code == AML__V1__STATUS_CODE__FAILED_PRECONDITION) {
		gw_reply_error(rep, 409,
		               "live scoring is off on the core: no alerts to stream (%s)", msg);
	} else {
		gw_reply_error(rep, amlrisk_grpc_to_http(code), "%s", msg);
	}
fail:
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_unlock(&h->poll_mu);
	free(s->buf);
	free(s);
	return NULL;
}

void
gw_sse_handle(const gw_request *rq, gw_reply *rep)
{
	gw_sse_hub *h = rq->app->sse;
	int64_t after = -1;
	gw_sse_sub *s;

	if (h == NULL) {
		gw_reply_error(rep, 503, "the alert stream is not running");
		return;
	}
	if (rq->last_event_id != NULL &&
	    (rq->last_event_id[0] < '0' || rq->last_event_id[0] > '9' ||
	     amlrisk_parse_i64(&after, rq->last_event_id, 0, INT64_MAX) != AMLRISK_OK)) {
		gw_reply_error(rep, 422,
		               "Last-Event-ID: must be an alert id (a non-negative integer)");
		return;
	}
	if ((s = subscribe(h, after, rep)) == NULL) {
		return;
	}
	rep->status = 200;
	rep->ctype = "text/event-stream";
	rep->cache = "no-cache";
	rep->stream = s;
}

void
gw_sse_attach(gw_sse_sub *s, void *mhd_conn)
{
	pthread_mutex_lock(&s->hub->mu);
	s->conn = mhd_conn;
	pthread_mutex_unlock(&s->hub->mu);
}

ssize_t
gw_sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	gw_sse_sub *s = cls;
	ssize_t n;

	(void)pos;
	pthread_mutex_lock(&s->hub->mu);
	if (s->off < s->len) {
		size_t k = s->len - s->off < max ? s->len - s->off : max;

		memcpy(out, s->buf + s->off, k);
		s->off += k;
		n = (ssize_t)k;
	} else if (s->closing) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* nothing to send: park the connection until sub_wake */
		s->suspended = 1;
		MHD_suspend_connection(s->conn);
		n = 0;
	}
	pthread_mutex_unlock(&s->hub->mu);
	return n;
}

void
gw_sse_release(void *cls)
{
	gw_sse_sub *s = cls;
	gw_sse_hub *h = s->hub;

	pthread_mutex_lock(&h->mu);
	if (s->prev != NULL) {
		s->prev->nextsub = s->nextsub;
	} else if (h->subs == s) {
		h->subs = s->nextsub;
	}
	if (s->nextsub != NULL) {
		s->nextsub->prev = s->prev;
	}
	h->nsubs--;
	pthread_mutex_unlock(&h->mu);
	free(s->buf);
	free(s);
}
