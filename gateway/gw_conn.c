/* gw_conn.c - connection records, limits and the deadline watchdog (see
 * gw_conn.h). Records sit in one list under one mutex, taken once when a
 * connection opens and once when it closes (a scan of at most the hard limit,
 * ~1 us per 1000 open: far below accept's own cost) and by the watchdog four
 * times a second; requests on a connection only store its deadline (atomic). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "gw_conn.h"
#include "gw_metrics.h"

#define TICK_MS           250 /* watchdog period: deadlines are kept to this */
#define REFUSED_TIMEOUT_S 2   /* a connection past a limit: its request within this */
#define LOG_EVERY_S       1.0 /* at most one line per event kind this often */

enum phase { PH_FIRST = 0, PH_BUSY, PH_NEXT, PH_CUT };

struct gw_conn {
	gw_conn *prev, *next;
	int fd;
	uint32_t addr;     /* IPv4, network order; 0 for another family */
	gw_conn_event why; /* GW_CONN_EVENTS: not refused */
	int idle_s;        /* the limits' idle timeout */
	_Atomic int phase;
	_Atomic int64_t deadline_ms; /* monotonic; meaningful in PH_FIRST and PH_NEXT */
};

/* Rate limit of one event kind's log line. */
typedef struct log_gate {
	double last_s;
	unsigned long suppressed;
} log_gate;

struct gw_conns {
	const gw_conn_limits *lim;
	gw_metrics *metrics;
	unsigned int hard_per_ip; /* past it a connection is closed unanswered */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	gw_conn *head; /* open connections */
	unsigned int open;
	int stop, thread_started;
	pthread_t watchdog;
	log_gate gates[GW_CONN_EVENTS];
};

static int64_t
now_ms(void)
{
	return (int64_t)(amlrisk_now_s() * 1e3);
}

static unsigned int
headroom(unsigned int limit, unsigned int share, unsigned int least)
{
	return limit / share > least ? limit / share : least;
}

unsigned int
gw_conn_hard_total(const gw_conn_limits *lim)
{
	unsigned int max = (unsigned int)lim->max_connections;

	return max + headroom(max, 8, 16);
}

static uint32_t
addr_key(const struct sockaddr *sa)
{
	return sa != NULL && sa->sa_family == AF_INET
	               ? ((const struct sockaddr_in *)sa)->sin_addr.s_addr
	               : 0;
}

/* Connections open from addr; c->mu held. */
static unsigned int
count_from(const gw_conns *c, uint32_t addr)
{
	unsigned int n = 0;

	for (const gw_conn *k = c->head; k != NULL; k = k->next) {
		n += k->addr == addr;
	}
	return n;
}

/* Counts event e and logs it (warn; next_request cuts, the normal end of an
 * idle keep-alive connection, at info), at most once per LOG_EVERY_S per kind
 * with the number left unlogged; c->mu held. */
static void
event(gw_conns *c, gw_conn_event e, uint32_t addr, unsigned int open_from)
{
	log_gate *g = &c->gates[e];
	double t = amlrisk_now_s();
	char text[INET_ADDRSTRLEN] = "-";
	struct in_addr ia = {.s_addr = addr};

	gw_metrics_conn_event(c->metrics, e);
	if (g->last_s != 0 && t - g->last_s < LOG_EVERY_S) {
		g->suppressed++;
		return;
	}
	if (addr != 0) {
		inet_ntop(AF_INET, &ia, text, sizeof(text));
	}
	amlrisk_log(e == GW_CONN_CUT_NEXT ? AMLRISK_LOG_INFO : AMLRISK_LOG_WARN, "gateway",
	            e <= GW_CONN_DROPPED_ADDRESS ? "http.conn_refused" : "http.conn_cut",
	            "reason=%s addr=%s open_from_addr=%u open=%u max_connections=%d "
	            "per_ip=%d not_logged=%lu",
	            gw_metrics_conn_reason(e), text, open_from, c->open, c->lim->max_connections,
	            c->lim->per_ip, g->suppressed);
	g->last_s = t;
	g->suppressed = 0;
}

enum MHD_Result
gw_conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	gw_conns *c = cls;
	uint32_t key = addr_key(addr);
	unsigned int from;
	enum MHD_Result ok = MHD_YES;

	(void)addrlen;
	pthread_mutex_lock(&c->mu);
	if ((from = count_from(c, key)) >= c->hard_per_ip) {
		event(c, GW_CONN_DROPPED_ADDRESS, key, from);
		ok = MHD_NO;
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* A new connection's record: limits checked, first deadline set, linked. */
static gw_conn *
conn_open(gw_conns *c, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *fd =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ca =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	gw_conn *k = calloc(1, sizeof(*k));
	int timeout_s = c->lim->header_timeout_s;
	unsigned int from;

	if (k == NULL || fd == NULL) {
		free(k);
		return NULL;
	}
	k->fd = fd->connect_fd;
	k->addr = addr_key(ca != NULL ? ca->client_addr : NULL);
	k->why = GW_CONN_EVENTS;
	k->idle_s = c->lim->idle_timeout_s;
	pthread_mutex_lock(&c->mu);
	from = count_from(c, k->addr);
	if (c->open >= (unsigned int)c->lim->max_connections) {
		k->why = GW_CONN_REFUSED_TOTAL;
	} else if (from >= (unsigned int)c->lim->per_ip) {
		k->why = GW_CONN_REFUSED_ADDRESS;
	}
	if (k->why != GW_CONN_EVENTS) {
		timeout_s = timeout_s < REFUSED_TIMEOUT_S ? timeout_s : REFUSED_TIMEOUT_S;
		event(c, k->why, k->addr, from);
	}
	atomic_init(&k->phase, PH_FIRST);
	atomic_init(&k->deadline_ms, now_ms() + 1000 * (int64_t)timeout_s);
	k->next = c->head;
	if (c->head != NULL) {
		c->head->prev = k;
	}
	c->head = k;
	c->open++;
	pthread_mutex_unlock(&c->mu);
	gw_metrics_conn_open(c->metrics, 1);
	return k;
}

static void
conn_close(gw_conns *c, gw_conn *k)
{
	pthread_mutex_lock(&c->mu);
	if (k->prev != NULL) {
		k->prev->next = k->next;
	} else {
		c->head = k->next;
	}
	if (k->next != NULL) {
		k->next->prev = k->prev;
	}
	c->open--;
	pthread_mutex_unlock(&c->mu);
	gw_metrics_conn_open(c->metrics, -1);
	free(k);
}

void
gw_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                enum MHD_ConnectionNotificationCode code)
{
	gw_conns *c = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = conn_open(c, conn);
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL) {
		/* MHD closes the socket after this returns: the watchdog, which
		 * shuts sockets down under c->mu, never reaches a reused one */
		conn_close(c, *socket_context);
		*socket_context = NULL;
	}
}

gw_conn *
gw_conn_get(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *i =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i != NULL ? i->socket_context : NULL;
}

int
gw_conn_refused(const gw_conn *k, char *why, size_t whylen)
{
	if (k == NULL || k->why == GW_CONN_EVENTS) {
		return 0;
	}
	snprintf(why, whylen, "%s; try again later",
	         k->why == GW_CONN_REFUSED_TOTAL ? "too many open connections"
	                                         : "too many open connections from this address");
	return 1;
}

/* Moves k from phase from to to; 0 when k was elsewhere (cut meanwhile). */
static int
phase_move(gw_conn *k, int from, int to)
{
	return atomic_compare_exchange_strong(&k->phase, &from, to);
}

void
gw_conn_busy(gw_conn *k)
{
	if (k != NULL && !phase_move(k, PH_FIRST, PH_BUSY)) {
		phase_move(k, PH_NEXT, PH_BUSY);
	}
}

void
gw_conn_idle(gw_conn *k)
{
	if (k != NULL && atomic_load(&k->phase) == PH_BUSY) {
		atomic_store(&k->deadline_ms, now_ms() + 1000 * (int64_t)k->idle_s);
		phase_move(k, PH_BUSY, PH_NEXT);
	}
}

/* The watchdog: shuts down (not closes: the socket stays MHD's) every
 * connection whose request is not whole by its deadline; MHD sees the end of
 * the stream and closes it. */
static void *
watchdog_main(void *arg)
{
	gw_conns *c = arg;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		struct timespec until;
		int64_t t = now_ms();

		for (gw_conn *k = c->head; k != NULL; k = k->next) {
			int ph = atomic_load(&k->phase);

			if ((ph != PH_FIRST && ph != PH_NEXT) || atomic_load(&k->deadline_ms) > t ||
			    !phase_move(k, ph, PH_CUT)) {
				continue;
			}
			shutdown(k->fd, SHUT_RDWR);
			if (k->why == GW_CONN_EVENTS) { /* a refused one is counted already */
				event(c, ph == PH_FIRST ? GW_CONN_CUT_FIRST : GW_CONN_CUT_NEXT,
				      k->addr, count_from(c, k->addr));
			}
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cv, &c->mu, &until);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int
gw_conns_create(gw_conns **out, const gw_conn_limits *lim, gw_metrics *m)
{
	gw_conns *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		return AMLRISK_ENOMEM;
	}
	c->lim = lim;
	c->metrics = m;
	c->hard_per_ip = (unsigned int)lim->per_ip + headroom((unsigned int)lim->per_ip, 4, 8);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->watchdog, NULL, watchdog_main, c) != 0) {
		gw_conns_destroy(c);
		return AMLRISK_EIO;
	}
	c->thread_started = 1;
	*out = c;
	return AMLRISK_OK;
}

void
gw_conns_destroy(gw_conns *c)
{
	if (c == NULL) {
		return;
	}
	if (c->thread_started) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->watchdog, NULL);
	}
	while (c->head != NULL) { /* none once the daemon has stopped */
		gw_conn *k = c->head;

		c->head = k->next;
		free(k);
	}
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
