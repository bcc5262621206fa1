/* srv_monitor.c - the database health loop: SELECT 1 each period, redial when
 * the connection is gone. One log line per transition (db.up / db.down). A
 * ping unanswered within a bound counts as down, so Health reports a database
 * that stopped answering within seconds, not only one that refuses. */
#include "srv_monitor.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "srv_db.h"
#include "srv_time.h"

#define PING_MIN_MS 1000

struct srv_monitor {
	const char *url;
	int period_ms;
	srv_state *state;
	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool stop;
};

/* How long a ping may go unanswered before the database counts as down: two
 * periods, at least PING_MIN_MS (a busy server is not a dead one), at most
 * the I/O timeout of every other statement. */
static int
ping_ms(const srv_monitor *m)
{
	int ms = 2 * m->period_ms, io = srv_db_io_timeout();

	if (ms < PING_MIN_MS)
		ms = PING_MIN_MS;
	return ms < io ? ms : io;
}

static void *
monitor_main(void *arg)
{
	srv_monitor *m = arg;
	PGconn *c = NULL;
	int last = -1; /* unknown, down, up */
	char err[256];

	pthread_mutex_lock(&m->mtx);
	while (!m->stop) {
		struct timespec ts;
		bool ok;
		pthread_mutex_unlock(&m->mtx);
		err[0] = '\0';
		if (!srv_db_ok(c)) {
			PQfinish(c);
			c = NULL;
		}
		ok = (c != NULL ||
		      srv_db_connect(m->url, m->period_ms * 5, &c, err, sizeof(err)) == 0) &&
		     srv_db_exec_ms(c, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, NULL, ping_ms(m), err,
		                    sizeof(err)) == 0;
		srv_state_set_db(m->state, ok, err);
		if (ok && last != 1)
			amlrisk_log(AMLRISK_LOG_INFO, "core", "db.up", "ok=1");
		else if (!ok && last != 0)
			amlrisk_log(AMLRISK_LOG_WARN, "core", "db.down", "error=\"%s\"", err);
		last = ok;
		srv_deadline(&ts, m->period_ms);
		pthread_mutex_lock(&m->mtx);
		if (!m->stop)
			pthread_cond_timedwait(&m->cv, &m->mtx, &ts);
	}
	pthread_mutex_unlock(&m->mtx);
	PQfinish(c);
	return NULL;
}

int
srv_monitor_create(srv_monitor **out, const char *url, int period_ms, srv_state *state)
{
	srv_monitor *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return AMLRISK_ENOMEM;
	m->url = url;
	m->period_ms = period_ms;
	m->state = state;
	pthread_mutex_init(&m->mtx, NULL);
	pthread_cond_init(&m->cv, NULL);
	if (pthread_create(&m->thread, NULL, monitor_main, m) != 0) {
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mtx);
		free(m);
		return AMLRISK_ENOMEM;
	}
	*out = m;
	return AMLRISK_OK;
}

void
srv_monitor_destroy(srv_monitor *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mtx);
	m->stop = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mtx);
	pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mtx);
	free(m);
}
