/* srv_db.c - connections and query helpers over libpq. The pool is a fixed
 * array guarded by one mutex; a handful of handler threads share it, so a
 * simple scan beats anything clever. Dials happen outside the lock. Every
 * connection runs in libpq's non-blocking mode and every wait on its socket is
 * bounded, so a database that stops answering (a silent partition, a frozen
 * proxy) becomes an error after the I/O timeout instead of a blocked thread. */
#include "srv_db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_pg.h"
#include "srv_time.h"

#define POOL_MAX  64
#define REDIAL_MS 250 /* a failed dial is answered from memory this long */

static atomic_int io_timeout_ms = SRV_DB_IO_TIMEOUT_DEFAULT;

typedef struct slot {
	PGconn *conn;
	bool busy;
} slot;

struct srv_db {
	const char *url;
	int stmt_ms;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	slot slots[POOL_MAX];
	int size;
	long long failed_at_ms; /* last failed dial, 0 = none */
	char failed_msg[256];
};

static void
one_line(char *err, size_t errlen, const char *what, const char *msg)
{
	amlrisk_pg_oneline(err, errlen, what, msg);
}

void
srv_db_io_timeout_set(int ms)
{
	atomic_store(&io_timeout_ms, ms > 0 ? ms : SRV_DB_IO_TIMEOUT_DEFAULT);
}

int
srv_db_io_timeout(void)
{
	return atomic_load(&io_timeout_ms);
}

void
srv_db_errmsg(PGconn *c, const char *what, char *err, size_t errlen)
{
	one_line(err, errlen, what, c != NULL ? PQerrorMessage(c) : "no connection");
}

bool
srv_db_ok(PGconn *c)
{
	return c != NULL && PQstatus(c) == CONNECTION_OK;
}

int
srv_db_connect(const char *url, int statement_timeout_ms, PGconn **out, char *err, size_t errlen)
{
	char sql[64], msg[256];
	PGconn *c = NULL;

	if (amlrisk_pg_connect(url, "amlrisk-core", &c, msg, sizeof(msg)) != 0) {
		one_line(err, errlen, "database unavailable", msg);
		return AMLRISK_EDB;
	}
	if (PQsetnonblocking(c, 1) != 0) {
		srv_db_errmsg(c, "database", err, errlen);
		PQfinish(c);
		return AMLRISK_EDB;
	}
	if (statement_timeout_ms > 0) {
		snprintf(sql, sizeof(sql), "SET statement_timeout = %d", statement_timeout_ms);
		if (srv_db_exec(c, sql, 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen) != 0) {
			PQfinish(c);
			return AMLRISK_EDB;
		}
	}
	*out = c;
	return AMLRISK_OK;
}

int
srv_db_create(srv_db **out, const char *url, int size, int statement_timeout_ms)
{
	srv_db *db;

	if (size < 1 || size > POOL_MAX)
		return AMLRISK_EINVAL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return AMLRISK_ENOMEM;
	db->url = url;
	db->size = size;
	db->stmt_ms = statement_timeout_ms;
	pthread_mutex_init(&db->mtx, NULL);
	pthread_cond_init(&db->cv, NULL);
	*out = db;
	return AMLRISK_OK;
}

void
srv_db_destroy(srv_db *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < db->size; i++)
		PQfinish(db->slots[i].conn);
	pthread_cond_destroy(&db->cv);
	pthread_mutex_destroy(&db->mtx);
	free(db);
}

int
srv_db_acquire(srv_db *db, PGconn **out, int wait_ms, char *err, size_t errlen)
{
	struct timespec until;
	slot *s = NULL;
	int rv;

	srv_deadline(&until, wait_ms);
	pthread_mutex_lock(&db->mtx);
	for (;;) {
		/* a connected free slot first, then any free slot */
		for (int i = 0; i < db->size && s == NULL; i++) {
			if (!db->slots[i].busy && db->slots[i].conn != NULL)
				s = &db->slots[i];
		}
		for (int i = 0; i < db->size && s == NULL; i++) {
			if (!db->slots[i].busy)
				s = &db->slots[i];
		}
		if (s != NULL)
			break;
		if (pthread_cond_timedwait(&db->cv, &db->mtx, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&db->mtx);
			one_line(err, errlen, "database", "every pooled connection is busy");
			return AMLRISK_EBUSY;
		}
	}
	if (s->conn == NULL && db->failed_at_ms != 0 &&
	    srv_mono_ms() - db->failed_at_ms < REDIAL_MS) {
		snprintf(err, errlen, "%s", db->failed_msg);
		pthread_mutex_unlock(&db->mtx);
		return AMLRISK_EDB;
	}
	s->busy = true;
	pthread_mutex_unlock(&db->mtx);
	if (s->conn != NULL) {
		*out = s->conn;
		return AMLRISK_OK;
	}
	rv = srv_db_connect(db->url, db->stmt_ms, &s->conn, err, errlen);
	pthread_mutex_lock(&db->mtx);
	if (rv != AMLRISK_OK) {
		s->conn = NULL;
		s->busy = false;
		db->failed_at_ms = srv_mono_ms();
		snprintf(db->failed_msg, sizeof(db->failed_msg), "%s", err);
		pthread_cond_signal(&db->cv);
	} else {
		db->failed_at_ms = 0;
		*out = s->conn;
	}
	pthread_mutex_unlock(&db->mtx);
	return rv;
}

void
srv_db_release(srv_db *db, PGconn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&db->mtx);
	for (int i = 0; i < db->size; i++) {
		if (db->slots[i].conn != c)
			continue;
		if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE) {
			/* broken, or left mid-transaction by an error path: start afresh */
			PQfinish(c);
			db->slots[i].conn = NULL;
		}
		db->slots[i].busy = false;
		break;
	}
	pthread_cond_signal(&db->cv);
	pthread_mutex_unlock(&db->mtx);
}

/* Makes c unusable at once: its socket is shut down under libpq, which then
 * reads end-of-file and marks the connection bad (the owner redials). */
static void
conn_kill(PGconn *c)
{
	int fd = PQsocket(c);

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	(void)PQconsumeInput(c);
}

/* Waits up to ms for c's socket to become readable (or writable too when
 * out). 1 ready, 0 timed out, -1 error. */
static int
sock_wait(PGconn *c, bool out, int ms)
{
	struct pollfd p = {.fd = PQsocket(c), .events = (short)(POLLIN | (out ? POLLOUT : 0))};
	int n;

	if (p.fd < 0)
		return -1;
	while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return n < 0 ? -1 : n;
}

/* The error of a connection that made no progress for ms: closed, reported. */
static int
stalled(PGconn *c, int ms, char *err, size_t errlen)
{
	char msg[96];

	conn_kill(c);
	snprintf(msg, sizeof(msg), "no answer for %d ms; connection closed", ms);
	one_line(err, errlen, "database unavailable", msg);
	return AMLRISK_EDB;
}

/* Waits, at most ms, until c's socket takes more of what libpq holds, and
 * hands it more; input is consumed meanwhile, as libpq asks in non-blocking
 * mode. */
static int
make_room(PGconn *c, int ms, char *err, size_t errlen)
{
	int w = sock_wait(c, true, ms);

	if (w == 0)
		return stalled(c, ms, err, errlen);
	if (w < 0 || PQconsumeInput(c) == 0 || PQflush(c) < 0) {
		srv_db_errmsg(c, "database unavailable", err, errlen);
		return AMLRISK_EDB;
	}
	return AMLRISK_OK;
}

/* Sends everything libpq holds for c, each stall bounded by ms. */
static int
send_all(PGconn *c, int ms, char *err, size_t errlen)
{
	int f, rv;

	while ((f = PQflush(c)) == 1) {
		if ((rv = make_room(c, ms, err, errlen)) != 0)
			return rv;
	}
	if (f < 0) {
		srv_db_errmsg(c, "database unavailable", err, errlen);
		return AMLRISK_EDB;
	}
	return AMLRISK_OK;
}

/* The next result of c (NULL when the command is done), each silence
 * bounded by ms. */
static int
next_result(PGconn *c, int ms, PGresult **out, char *err, size_t errlen)
{
	int w;

	while (PQisBusy(c)) {
		if ((w = sock_wait(c, false, ms)) == 0)
			return stalled(c, ms, err, errlen);
		if (w < 0 || PQconsumeInput(c) == 0) {
			srv_db_errmsg(c, "database unavailable", err, errlen);
			return AMLRISK_EDB;
		}
	}
	*out = PQgetResult(c);
	return AMLRISK_OK;
}

/* Collects the results of a command whose data phase is over; the first one
 * that is not want (if any) decides the error. */
static int
finish_command(PGconn *c, int ms, int want, PGresult **out, char *err, size_t errlen)
{
	PGresult *r, *keep = NULL;
	int rv = AMLRISK_OK;

	for (;;) {
		ExecStatusType st;
		if ((rv = next_result(c, ms, &r, err, errlen)) != 0) {
			PQclear(keep);
			return rv;
		}
		if (r == NULL)
			break;
		st = PQresultStatus(r);
		/* the first result decides, unless a later one is an error */
		if (keep == NULL ||
		    (st == PGRES_FATAL_ERROR && PQresultStatus(keep) != PGRES_FATAL_ERROR)) {
			PQclear(keep);
			keep = r;
		} else {
			PQclear(r);
		}
		/* a COPY's data phase starts: no further result until it ends */
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
			break;
	}
	if (keep == NULL || PQresultStatus(keep) != (ExecStatusType)want) {
		const char *msg = keep != NULL ? PQresultErrorMessage(keep) : "";
		one_line(err, errlen, srv_db_ok(c) ? "database" : "database unavailable",
		         *msg != '\0' ? msg : PQerrorMessage(c));
		PQclear(keep);
		return AMLRISK_EDB;
	}
	if (out != NULL)
		*out = keep;
	else
		PQclear(keep);
	return AMLRISK_OK;
}

int
srv_db_exec_ms(PGconn *c, const char *sql, int n, const char *const *params, int want,
               PGresult **out, int io_ms, char *err, size_t errlen)
{
	int rv;

	if (io_ms <= 0)
		io_ms = srv_db_io_timeout();
	if (!srv_db_ok(c) || PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0) == 0) {
		srv_db_errmsg(c, "database unavailable", err, errlen);
		return AMLRISK_EDB;
	}
	if ((rv = send_all(c, io_ms, err, errlen)) != 0)
		return rv;
	return finish_command(c, io_ms, want, out, err, errlen);
}

int
srv_db_exec(PGconn *c, const char *sql, int n, const char *const *params, int want, PGresult **out,
            char *err, size_t errlen)
{
	return srv_db_exec_ms(c, sql, n, params, want, out, 0, err, errlen);
}

void
srv_db_rollback(PGconn *c)
{
	char err[64];

	if (srv_db_ok(c) && PQtransactionStatus(c) != PQTRANS_IDLE)
		(void)srv_db_exec(c, "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof(err));
}

int
srv_db_copy_put(PGconn *c, const char *data, size_t len, char *err, size_t errlen)
{
	int ms = srv_db_io_timeout(), q, rv;

	/* 0: libpq's buffer is full until the socket takes more */
	while ((q = PQputCopyData(c, data, (int)len)) == 0) {
		if ((rv = make_room(c, ms, err, errlen)) != 0)
			return rv;
	}
	if (q < 0) {
		srv_db_errmsg(c, "database unavailable", err, errlen);
		return AMLRISK_EDB;
	}
	return AMLRISK_OK;
}

int
srv_db_copy_end(PGconn *c, const char *errmsg, char *err, size_t errlen)
{
	int ms = srv_db_io_timeout(), q, rv;

	while ((q = PQputCopyEnd(c, errmsg)) == 0) {
		if ((rv = make_room(c, ms, err, errlen)) != 0)
			return rv;
	}
	if (q < 0) {
		srv_db_errmsg(c, "database unavailable", err, errlen);
		return AMLRISK_EDB;
	}
	if ((rv = send_all(c, ms, err, errlen)) != 0)
		return rv;
	return finish_command(c, ms, PGRES_COMMAND_OK, NULL, err, errlen);
}

int
srv_db_copy_out(PGconn *c, const char *sql, srv_copy_row_fn fn, void *arg,
                const atomic_bool *cancel, char *err, size_t errlen)
{
	int ms = srv_db_io_timeout(), n, w, rv;
	srv_copy_parser p;
	char *buf;

	if ((rv = srv_db_exec(c, sql, 0, NULL, PGRES_COPY_OUT, NULL, err, errlen)) != 0)
		return rv;
	srv_copy_parser_init(&p);
	for (;;) {
		if ((n = PQgetCopyData(c, &buf, 1)) > 0) {
			rv = srv_copy_parse(&p, buf, (size_t)n, fn, arg);
			PQfreemem(buf);
			if (rv == AMLRISK_OK && cancel != NULL && atomic_load(cancel))
				rv = AMLRISK_ECANCELED;
			if (rv != AMLRISK_OK)
				break;
			continue;
		}
		if (n < 0)
			break;
		/* nothing complete buffered: wait for more, boundedly */
		if ((w = sock_wait(c, false, ms)) == 0)
			return stalled(c, ms, err, errlen);
		if (w < 0 || PQconsumeInput(c) == 0) {
			n = -2;
			break;
		}
	}
	if (rv != AMLRISK_OK) {
		/* leaving a COPY OUT early: the connection is closed rather than
		 * cancelled (a cancel request dials the server with no time bound);
		 * its owner redials */
		conn_kill(c);
		if (rv == AMLRISK_EPROTO)
			one_line(err, errlen, "database", "malformed binary COPY data");
		else if (rv == AMLRISK_ECANCELED)
			one_line(err, errlen, "load", "cancelled: shutting down");
		else if (err[0] == '\0')
			one_line(err, errlen, "load", amlrisk_strerror(rv));
		return rv;
	}
	if (n == -2) {
		srv_db_errmsg(c, "database unavailable", err, errlen);
		conn_kill(c);
		return AMLRISK_EDB;
	}
	return finish_command(c, ms, PGRES_COMMAND_OK, NULL, err, errlen);
}
