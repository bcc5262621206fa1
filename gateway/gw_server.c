/* gw_server.c - libmicrohttpd glue: one request context per request (created
 * by the URI callback, which sees the raw request-target), the access handler's
 * state machine (headers -> body -> [waiting -> ready] -> answered), replies,
 * the access log and the metrics; connection limits and deadlines are
 * gw_conn's, target parsing gw_target's. A query suspends its connection while
 * its RPC is out, so pool threads serve other connections meanwhile; each
 * request is bounded by its deadline. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "gw_auth.h"
#include "gw_conn.h"
#include "gw_metrics.h"
#include "gw_pool.h"
#include "gw_route.h"
#include "gw_server.h"
#include "gw_sse.h"
#include "gw_target.h"

#define MEMORY_LIMIT                                                                               \
	(32 * 1024) /* per connection: request line, headers, read buffer (MHD zeroes it per       \
	               request) */
#define LISTEN_BACKLOG 1024
#define LOG_PATH_MAX   200 /* bytes of the path quoted in the access log */
#define WHY_MAX        160
#define SSE_BLOCK      4096 /* bytes of an event stream handed to MHD at a time */

struct gw_server {
	struct MHD_Daemon *mhd;
	const gw_app *app;
	const gw_config *cfg;
	gw_conn_limits limits;
	gw_conns *conns; /* limits and deadlines of the client connections */
	int port;
	atomic_int suspended; /* requests waiting for their RPC */
};

typedef enum rq_state {
	RQ_HEADERS = 0, /* first call of the access handler */
	RQ_BODY,        /* receiving the body */
	RQ_WAITING,     /* suspended while its RPC is out */
	RQ_READY,       /* resumed: the reply is in later */
	RQ_ANSWERED,    /* a reply is queued; further body bytes are dropped */
} rq_state;

/* One request, from the URI callback to the completion callback. */
typedef struct request {
	gw_server *srv;
	struct MHD_Connection *conn;
	int64_t t0_us;
	rq_state state;
	const gw_route *route; /* NULL until matched */
	int status;            /* queued status; 0 none yet */
	const char *method;    /* MHD's string, valid for the request */
	char *uri;             /* raw request-target (owned; target points into it);
	                        * over the limit, only its start (for the log) */
	int uri_too_long;
	char *body; /* owned, at most GW_BODY_MAX bytes */
	size_t body_len;
	gw_target target; /* route, decoded path parameter, query */
	gw_reply early;   /* a refusal decided on the headers, sent on the last call */
	int has_early;
	gw_reply later; /* the reply of a suspended request, set by rq_resume */
	gw_conn *cn;    /* the connection's record (limits, deadline), or NULL */
	int close;      /* answer with Connection: close */
} request;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* MHD's URI callback: the request's context, before MHD unescapes anything. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	gw_server *s = cls;
	request *r;
	size_t len = strlen(uri);

	gw_metrics_begin(s->app->metrics);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return NULL;
	}
	r->srv = s;
	r->conn = conn;
	r->cn = gw_conn_get(conn);
	r->t0_us = now_us();
	r->uri_too_long = len > GW_URL_MAX;
	if ((r->uri = strndup(uri, r->uri_too_long ? LOG_PATH_MAX : len)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

/* Writes path for the access log: at most LOG_PATH_MAX bytes, with spaces,
 * quotes, backslashes and non-ASCII bytes percent-escaped. */
static void
log_path(char *out, size_t cap, const char *path)
{
	size_t i, n = 0;

	for (i = 0; path[i] != '\0' && n + 5 < cap && i < LOG_PATH_MAX; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
}

/* MHD's completion callback: one access-log line and the metrics, then free. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	gw_server *s = cls;
	request *r = *con_cls;
	char path[LOG_PATH_MAX * 3 + 8];
	double secs;

	(void)conn;
	if (r == NULL) {
		gw_metrics_end(s->app->metrics, -1, 0, 0);
		return;
	}
	secs = (double)(now_us() - r->t0_us) / 1e6;
	log_path(path, sizeof(path), r->uri);
	amlrisk_log(r->status != 0 && r->status < 500 ? AMLRISK_LOG_INFO : AMLRISK_LOG_WARN,
	            "gateway", "http.request", "method=%s path=%s status=%d ms=%.3f%s",
	            r->method != NULL ? r->method : "-", path, r->status, secs * 1e3,
	            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " closed=early");
	gw_metrics_end(s->app->metrics, gw_route_index(r->route), r->status, secs);
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		gw_conn_idle(r->cn); /* the next request's deadline starts */
	}
	gw_reply_clear(&r->early);
	gw_reply_clear(&r->later);
	free(r->uri);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* Queues rep (its body handed to MHD) and records the status in r (NULL when
 * the request has no context). */
static enum MHD_Result
reply_send(struct MHD_Connection *conn, request *r, gw_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rep->stream != NULL) { /* an event stream: read from its buffer as it fills */
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, gw_sse_read,
		                                         rep->stream, gw_sse_release);
		if (resp != NULL) {
			gw_sse_attach(rep->stream, conn);
			rep->stream = NULL; /* MHD releases it with the response */
		}
	} else {
		resp = MHD_create_response_from_buffer(rep->len, rep->body,
		                                       rep->is_static ? MHD_RESPMEM_PERSISTENT
		                                                      : MHD_RESPMEM_MUST_FREE);
	}
	if (resp == NULL) {
		gw_reply_clear(rep);
		return MHD_NO;
	}
	rep->body = NULL; /* MHD owns it now */
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            rep->ctype != NULL ? rep->ctype : GW_CT_JSON) != MHD_YES ||
	    (rep->cache != NULL &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, rep->cache) != MHD_YES) ||
	    (rep->hdr_name != NULL &&
	     MHD_add_response_header(resp, rep->hdr_name, rep->hdr_value) != MHD_YES) ||
	    (r != NULL && r->close &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, (unsigned int)rep->status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES && r != NULL) {
		r->status = rep->status;
		r->state = RQ_ANSWERED;
	}
	return ret;
}

/* The checks made once the headers are in: connection limits, URL limit,
 * route, body limit, token, then query and path parameter. Returns 0 when the
 * request may go on, else -1 with rep set. */
static int
request_check(gw_server *s, request *r, struct MHD_Connection *conn, gw_reply *rep)
{
	const char *clen;
	char *end, why[WHY_MAX];
	unsigned long long n;
	int status;

	if (gw_conn_refused(r->cn, why, sizeof(why))) {
		/* opened past a connection limit: answered, then closed */
		gw_reply_error(rep, 503, "%s", why);
		rep->hdr_name = "Retry-After";
		rep->hdr_value = "1";
		r->close = 1;
		return -1;
	}
	if (r->uri_too_long) {
		gw_reply_error(rep, 414, "URL longer than %d bytes", GW_URL_MAX);
		return -1;
	}
	switch ((status = gw_target_route(&r->target, r->method, r->uri, strlen(r->uri)))) {
	case 0:
		break;
	case 405:
		gw_reply_error(rep, 405, "Method Not Allowed");
		rep->hdr_name = MHD_HTTP_HEADER_ALLOW;
		rep->hdr_value = r->target.match.allow;
		return -1;
	case 414:
		gw_reply_error(rep, 414, "URL longer than %d bytes", GW_URL_MAX);
		return -1;
	default:
		gw_reply_error(rep, 404, "Not Found");
		return -1;
	}
	r->route = r->target.match.route;
	clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen != NULL && ((n = strtoull(clen, &end, 10)) > GW_BODY_MAX || *end != '\0')) {
		gw_reply_error(rep, 413, "body over %d bytes", GW_BODY_MAX);
		return -1;
	}
	if (!gw_auth_allowed(r->route->auth, s->cfg->token, s->cfg->read_token,
	                     MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                                 MHD_HTTP_HEADER_AUTHORIZATION))) {
		gw_reply_error(rep, 401, "missing or wrong bearer token (%s)",
		               r->route->auth == GW_AUTH_READ ? "the read or the write token"
		                                              : "the write token");
		rep->hdr_name = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
		rep->hdr_value = "Bearer";
		return -1;
	}
	if ((status = gw_target_check(&r->target, why, sizeof(why))) != 0) {
		gw_reply_error(rep, status, "%s", why);
		return -1;
	}
	return 0;
}

/* Appends a chunk of the body; -1 (and rep set to 413) over the limit. */
static int
body_append(request *r, const char *data, size_t len, gw_reply *rep)
{
	char *grown;

	if (len > GW_BODY_MAX - r->body_len) {
		gw_reply_error(rep, 413, "body over %d bytes", GW_BODY_MAX);
		return -1;
	}
	if ((grown = realloc(r->body, r->body_len + len)) == NULL) {
		gw_reply_error(rep, 503, "out of memory");
		return -1;
	}
	memcpy(grown + r->body_len, data, len);
	r->body = grown;
	r->body_len += len;
	return 0;
}

/* gw_suspend_fn: the handler's RPC is about to go out. On the pool thread,
 * inside the access handler, as MHD requires. */
static void
rq_suspend(void *conn)
{
	request *r = conn;

	r->state = RQ_WAITING;
	atomic_fetch_add(&r->srv->suspended, 1);
	MHD_suspend_connection(r->conn);
}

/* gw_resume_fn: the reply is ready (any thread). r may be answered and freed
 * as soon as MHD has it back: nothing of r is touched after the resume. */
static void
rq_resume(void *conn, gw_reply *rep)
{
	request *r = conn;
	gw_server *s = r->srv;

	r->later = *rep;
	r->state = RQ_READY;
	MHD_resume_connection(r->conn);
	atomic_fetch_sub(&s->suspended, 1);
}

static void
dispatch(gw_server *s, request *r, gw_reply *rep)
{
	gw_request rq = {
	        .app = s->app,
	        .param = r->route->param != GW_PARAM_NONE ? r->target.param : NULL,
	        .query = r->target.query,
	        .body = r->body,
	        .body_len = r->body_len,
	        .last_event_id =
	                MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID"),
	        .suspend = rq_suspend,
	        .resume = rq_resume,
	        .conn = r,
	};

	r->route->handler(&rq, rep);
}

static int
has_body(struct MHD_Connection *conn)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) !=
	               NULL ||
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                   MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	gw_server *s = cls;
	request *r = *con_cls;
	gw_reply rep = {0};

	(void)url;
	(void)version;
	if (r == NULL) { /* the URI callback could not allocate */
		gw_reply_error(&rep, 503, "out of memory");
		return reply_send(conn, NULL, &rep);
	}
	/* Answers wait for the last call, once the request is whole: a response
	 * queued on the first call (headers only) makes MHD close the connection,
	 * as it will not read what may follow. Keep-alive needs the wait; only a
	 * request whose body is refused is answered at once, and closed. */
	switch (r->state) {
	case RQ_HEADERS:
		r->method = method;
		r->state = RQ_BODY;
		if (request_check(s, r, conn, &rep) != 0) {
			if (has_body(conn)) {
				return reply_send(conn, r, &rep);
			}
			r->early = rep;
			r->has_early = 1;
		}
		return MHD_YES; /* the body, or the last call, comes next */
	case RQ_BODY:
		if (r->has_early) { /* no body: the request is whole */
			gw_conn_busy(r->cn);
			r->has_early = 0;
			*upload_size = 0;
			rep = r->early;
			memset(&r->early, 0, sizeof(r->early));
			return reply_send(conn, r, &rep);
		}
		if (*upload_size != 0) {
			if (body_append(r, upload, *upload_size, &rep) != 0) {
				/* answer now; if MHD cannot (mid-body), drop the connection */
				return reply_send(conn, r, &rep);
			}
			*upload_size = 0;
			return MHD_YES;
		}
		gw_conn_busy(r->cn); /* the last call: the request is whole */
		break;
	case RQ_WAITING: /* not called while suspended; nothing to do if it were */
		*upload_size = 0;
		return MHD_YES;
	case RQ_READY:
		rep = r->later;
		memset(&r->later, 0, sizeof(r->later));
		return reply_send(conn, r, &rep);
	case RQ_ANSWERED:
		*upload_size = 0;
		return MHD_YES;
	}
	dispatch(s, r, &rep);
	if (rep.deferred) {
		return MHD_YES; /* suspended: rq_resume brings the reply */
	}
	return reply_send(conn, r, &rep);
}

/* MHD's own error messages, into our log format. */
static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
		msg[--n] = '\0';
	}
	amlrisk_log(AMLRISK_LOG_WARN, "gateway", "mhd.error", "msg=\"%s\"", msg);
}

/* Resolves cfg's host (numeric or a name) to an IPv4 address. */
static int
address_make(const gw_config *cfg, struct sockaddr_in *sa, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	int rv;

	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(cfg->host, NULL, &hints, &res)) != 0 || res == NULL) {
		snprintf(err, errlen, "listen host '%s': %s", cfg->host, gai_strerror(rv));
		return AMLRISK_EINVAL;
	}
	memcpy(sa, res->ai_addr, sizeof(*sa));
	sa->sin_port = htons((uint16_t)cfg->port);
	freeaddrinfo(res);
	return AMLRISK_OK;
}

/* The MHD pool size (gw_pool.h), logged when it had to exceed cfg's threads. */
static unsigned int
pool_size(const gw_config *cfg, unsigned int hard_total)
{
	unsigned int pool = gw_pool_threads((unsigned int)cfg->threads, hard_total);

	if (pool != (unsigned int)cfg->threads) {
		amlrisk_log(
		        AMLRISK_LOG_WARN, "gateway", "http.threads_raised",
		        "threads=%d max_connections=%d open_at_most=%u pool=%u why=\"at most %d "
		        "connections per thread: libmicrohttpd stalls a thread with 128 ready "
		        "sockets\"",
		        cfg->threads, cfg->max_connections, hard_total, pool,
		        GW_CONNS_PER_THREAD_MAX);
	}
	return pool;
}

int
gw_server_start(gw_server **out, const gw_app *app, const gw_config *cfg, char *err, size_t errlen)
{
	gw_server *s;
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	unsigned int pool, hard_total;
	int rv;

	if ((rv = address_make(cfg, &sa, err, errlen)) != AMLRISK_OK) {
		return rv;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return AMLRISK_ENOMEM;
	}
	s->app = app;
	s->cfg = cfg;
	s->limits = (gw_conn_limits){.max_connections = cfg->max_connections,
	                             .per_ip = cfg->per_ip_connections,
	                             .header_timeout_s = cfg->header_timeout_s,
	                             .idle_timeout_s = cfg->conn_timeout_s};
	if ((rv = gw_conns_create(&s->conns, &s->limits, app->metrics)) != AMLRISK_OK) {
		snprintf(err, errlen, "connection watchdog: %s", amlrisk_strerror(rv));
		free(s);
		return rv;
	}
	/* MHD's own limits are the hard ones: past gw_conn's (answered 503) new
	 * connections wait in the backlog; the per-address one is gw_conn's */
	hard_total = gw_conn_hard_total(&s->limits);
	pool = pool_size(cfg, hard_total); /* 1: MHD's single polling thread */
	s->mhd = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	                MHD_USE_ERROR_LOG,
	        0, gw_conns_accept, s->conns, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	        s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
	        pool > 1 ? pool : 0, MHD_OPTION_CONNECTION_LIMIT, hard_total,
	        MHD_OPTION_NOTIFY_CONNECTION, gw_conns_notify, s->conns,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->conn_timeout_s,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_LIMIT,
	        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)LISTEN_BACKLOG,
	        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_URI_LOG_CALLBACK,
	        on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	if (s->mhd == NULL) {
		snprintf(err, errlen, "libmicrohttpd could not start on %s:%d (address in use?)",
		         cfg->host, cfg->port);
		gw_conns_destroy(s->conns);
		free(s);
		return AMLRISK_EIO;
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info != NULL ? info->port : cfg->port;
	*out = s;
	return AMLRISK_OK;
}

int
gw_server_port(const gw_server *s)
{
	return s->port;
}

void
gw_server_stop(gw_server *s)
{
	MHD_socket lsock;
	int64_t end;

	if (s == NULL) {
		return;
	}
	if (s->mhd != NULL) {
		/* no new connections; then the requests under way get their answers
		 * (a suspended one when its RPC ends, by its deadline) and send them
		 * before MHD may stop; idle keep-alive connections are just closed */
		lsock = MHD_quiesce_daemon(s->mhd);
		end = now_us() + 1000 * (2 * (int64_t)s->app->rpc_timeout_ms + 5000);
		while ((atomic_load(&s->suspended) > 0 ||
		        gw_metrics_in_flight(s->app->metrics) > 0) &&
		       now_us() < end) {
			usleep(1000);
		}
		if (atomic_load(&s->suspended) > 0) {
			amlrisk_log(AMLRISK_LOG_ERROR, "gateway", "http.stop_waiting",
			            "suspended=%d in_flight=%d", atomic_load(&s->suspended),
			            gw_metrics_in_flight(s->app->metrics));
		}
		MHD_stop_daemon(s->mhd);
		if (lsock != MHD_INVALID_SOCKET) {
			close(lsock);
		}
	}
	gw_conns_destroy(s->conns);
	free(s);
}
