/* srv_db.c - connections and query helpers over libpq. The pool is a fixed
 * array guarded by one mutex; a handful of handler threads share it, so a
 * simple scan beats anything clever. Dials happen outside the lock. */
#include "srv_db.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "srv_time.h"

#define POOL_MAX        64
#define REDIAL_MS       250 /* a failed dial is answered from memory this long */
#define CONNECT_TIMEOUT "5" /* seconds: a black-holed host does not hold a worker long */

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

/* Copies msg into err on one line (libpq ends messages with newlines). */
static void
one_line(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t n;

	if (errlen == 0)
		return;
	snprintf(err, errlen, "%s: %s", what, msg != NULL && *msg != '\0' ? msg : "unknown error");
	for (char *p = err; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	}
	n = strlen(err);
	while (n > 0 && err[n - 1] == ' ')
		err[--n] = '\0';
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
	/* later keywords override what the URL says, so connect_timeout comes first */
	const char *keys[] = {"connect_timeout", "dbname", "application_name", NULL};
	const char *vals[] = {CONNECT_TIMEOUT, url, "amlrisk-core", NULL};
	char sql[64];
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (c == NULL) {
		one_line(err, errlen, "database unavailable", "out of memory");
		return AMLRISK_EDB;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		srv_db_errmsg(c, "database unavailable", err, errlen);
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

int
srv_db_exec(PGconn *c, const char *sql, int n, const char *const *params, int want, PGresult **out,
            char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (r == NULL || PQresultStatus(r) != (ExecStatusType)want) {
		const char *msg = r != NULL ? PQresultErrorMessage(r) : "";
		one_line(err, errlen, srv_db_ok(c) ? "database" : "database unavailable",
		         *msg != '\0' ? msg : PQerrorMessage(c));
		PQclear(r);
		return AMLRISK_EDB;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return AMLRISK_OK;
}

void
srv_db_rollback(PGconn *c)
{
	if (srv_db_ok(c) && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

/* Leaves COPY OUT early: asks the server to cancel, then drains. */
static void
copy_abandon(PGconn *c)
{
	char errbuf[64];
	PGcancel *cn = PQgetCancel(c);
	char *buf;
	PGresult *r;

	if (cn != NULL) {
		PQcancel(cn, errbuf, sizeof(errbuf));
		PQfreeCancel(cn);
	}
	while (PQgetCopyData(c, &buf, 0) > 0)
		PQfreemem(buf);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
}

int
srv_db_copy_out(PGconn *c, const char *sql, srv_copy_row_fn fn, void *arg,
                const atomic_bool *cancel, char *err, size_t errlen)
{
	srv_copy_parser p;
	PGresult *r;
	char *buf;
	int n, rv = AMLRISK_OK;

	if ((rv = srv_db_exec(c, sql, 0, NULL, PGRES_COPY_OUT, NULL, err, errlen)) != 0)
		return rv;
	srv_copy_parser_init(&p);
	while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
		rv = srv_copy_parse(&p, buf, (size_t)n, fn, arg);
		PQfreemem(buf);
		if (rv == AMLRISK_OK && cancel != NULL && atomic_load(cancel))
			rv = AMLRISK_ECANCELED;
		if (rv != AMLRISK_OK) {
			copy_abandon(c);
			if (rv == AMLRISK_EPROTO)
				one_line(err, errlen, "database", "malformed binary COPY data");
			else if (rv == AMLRISK_ECANCELED)
				one_line(err, errlen, "load", "cancelled: shutting down");
			else if (err[0] == '\0')
				one_line(err, errlen, "load", amlrisk_strerror(rv));
			return rv;
		}
	}
	if (n == -2) {
		srv_db_errmsg(c, "database unavailable", err, errlen);
		copy_abandon(c);
		return AMLRISK_EDB;
	}
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rv == AMLRISK_OK) {
			one_line(err, errlen, srv_db_ok(c) ? "database" : "database unavailable",
			         PQresultErrorMessage(r));
			rv = AMLRISK_EDB;
		}
		PQclear(r);
	}
	return rv;
}
