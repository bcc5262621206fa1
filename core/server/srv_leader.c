/* srv_leader.c - the writer election: one thread with its own session holds
 * (or retries) pg_try_advisory_lock(key) every poll period, pings the session
 * while it is the writer, and tells the listeners whenever the role changes.
 * PostgreSQL drops the lock the moment the session ends (a killed process). */
#include "srv_leader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "rpc_multi.h"
#include "srv_db.h"
#include "srv_time.h"

#define ERR_MAX        256
#define SETTLE_TICK_MS 50
/* the advisory lock of this key, granted, in this database: the single
 * bigint form keeps its high half in classid, its low half in objid */
#define LOCK_WHERE                                                                                 \
	" l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted"                                \
	" AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint"                          \
	" AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"

struct srv_leader {
	srv_leader_conf conf;
	char app_name[SRV_LEADER_ID_MAX + 16]; /* the lock session's application_name */
	char key[24];
	struct {
		srv_leader_fn fn;
		void *arg;
	} listeners[SRV_LEADER_LISTENERS];
	int n_listeners;
	PGconn *conn; /* election thread only */
	int old_pid;  /* the backend of a lock session lost from our side */
	atomic_int role;
	/* while writer: the lock session's backend pid (low 32 bits) and how many
	 * times the lock was taken (high bits); else 0 */
	atomic_llong term;
	long long taken;
	pthread_t thread;
	bool started;
	pthread_mutex_t mtx; /* guards what follows */
	pthread_cond_t cv;
	bool stop, settled, kicked;
	unsigned long attempts; /* election steps done */
	char writer[SRV_LEADER_ID_MAX + 1];
	char error[ERR_MAX]; /* why the last step failed ("" when it did not) */
};

bool
srv_leader_id_valid(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0;

	if (n == 0 || n > SRV_LEADER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-'))
			return false;
	}
	return true;
}

const char *
srv_role_name(srv_role r)
{
	return r == SRV_ROLE_WRITER ? "writer" : r == SRV_ROLE_READER ? "reader" : "electing";
}

static void
set_role(srv_leader *l, srv_role to, const char *why)
{
	srv_role from = (srv_role)atomic_exchange(&l->role, (int)to);

	if (from == to)
		return;
	amlrisk_log(to == SRV_ROLE_WRITER ? AMLRISK_LOG_INFO : AMLRISK_LOG_WARN, "core",
	            "election.role", "instance=%s from=%s to=%s reason=\"%s\"", l->conf.instance_id,
	            srv_role_name(from), srv_role_name(to), why);
	for (int i = 0; i < l->n_listeners; i++)
		l->listeners[i].fn(l->listeners[i].arg, to);
}

static void
set_writer(srv_leader *l, const char *id)
{
	pthread_mutex_lock(&l->mtx);
	snprintf(l->writer, sizeof(l->writer), "%s", id);
	pthread_mutex_unlock(&l->mtx);
}

/* Drops the lock session (the writer stops being one at once). */
static void
session_lost(srv_leader *l, const char *err)
{
	if (atomic_load(&l->role) == SRV_ROLE_WRITER)
		l->old_pid = (int)(atomic_load(&l->term) & 0xffffffff);
	atomic_store(&l->term, 0);
	PQfinish(l->conn);
	l->conn = NULL;
	set_role(l, SRV_ROLE_ELECTING, err);
}

/* A fresh lock session named after the instance. A backend of ours that held
 * the lock when we lost its connection (the database may not have noticed
 * yet) is ended, so the lock is free again within a poll. */
static int
session_open(srv_leader *l, char *err, size_t errlen)
{
	const char *p[2] = {l->app_name, NULL};
	char pid[16];
	int rv;

	if ((rv = srv_db_connect(l->conf.database_url, 0, &l->conn, err, errlen)) != 0 ||
	    (rv = srv_db_exec(l->conn, "SELECT set_config('application_name', $1, false)", 1, p,
	                      PGRES_TUPLES_OK, NULL, err, errlen)) != 0)
		return rv;
	if (l->old_pid != 0) {
		snprintf(pid, sizeof(pid), "%d", l->old_pid);
		p[0] = pid;
		p[1] = l->app_name;
		(void)srv_db_exec(l->conn,
		                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
		                  " WHERE pid = $1::int AND application_name = $2",
		                  2, p, PGRES_TUPLES_OK, NULL, err, errlen);
		l->old_pid = 0;
	}
	return AMLRISK_OK;
}

/* One election step: take the lock, or learn who holds it. */
static int
try_lock(srv_leader *l, int io_ms, char *err, size_t errlen)
{
	const char *p[1] = {l->key};
	PGresult *r = NULL;
	int rv;

	if ((rv = srv_db_exec_ms(l->conn, "SELECT pg_try_advisory_lock($1::bigint)", 1, p,
	                         PGRES_TUPLES_OK, &r, io_ms, err, errlen)) != 0)
		return rv;
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		PQclear(r);
		l->taken++;
		atomic_store(&l->term, (l->taken << 32) | (long long)PQbackendPID(l->conn));
		set_writer(l, l->conf.instance_id);
		set_role(l, SRV_ROLE_WRITER, "took the election lock");
		return AMLRISK_OK;
	}
	PQclear(r);
	if ((rv = srv_db_exec_ms(l->conn,
	                         "SELECT coalesce(a.application_name, '') FROM pg_locks l"
	                         " LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE" LOCK_WHERE,
	                         1, p, PGRES_TUPLES_OK, &r, io_ms, err, errlen)) != 0)
		return rv;
	/* application_name is "amlrisk-core/<id>" */
	if (PQntuples(r) > 0) {
		const char *name = PQgetvalue(r, 0, 0), *slash = strchr(name, '/');
		set_writer(l, slash != NULL ? slash + 1 : name);
	} else {
		set_writer(l, "");
	}
	PQclear(r);
	set_role(l, SRV_ROLE_READER, "another instance holds the election lock");
	return AMLRISK_OK;
}

static void *
leader_main(void *arg)
{
	srv_leader *l = arg;
	/* a ping may take two periods (at least a second) before the session counts as lost */
	int io_ms = l->conf.poll_ms * 2 < 1000 ? 1000 : l->conf.poll_ms * 2;
	char err[ERR_MAX];

	pthread_mutex_lock(&l->mtx);
	while (!l->stop) {
		struct timespec ts;
		int rv = AMLRISK_OK;
		pthread_mutex_unlock(&l->mtx);
		err[0] = '\0';
		if (l->conn == NULL || !srv_db_ok(l->conn)) {
			if (l->conn != NULL)
				session_lost(l, "the election session was lost");
			rv = session_open(l, err, sizeof(err));
		}
		if (rv == AMLRISK_OK && atomic_load(&l->role) != SRV_ROLE_WRITER)
			rv = try_lock(l, io_ms, err, sizeof(err));
		else if (rv == AMLRISK_OK)
			rv = srv_db_exec_ms(l->conn, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, NULL,
			                    io_ms, err, sizeof(err));
		if (rv != AMLRISK_OK)
			session_lost(l, err);
		srv_deadline(&ts, l->conf.poll_ms);
		pthread_mutex_lock(&l->mtx);
		snprintf(l->error, sizeof(l->error), "%s", rv != AMLRISK_OK ? err : "");
		l->settled = true;
		l->attempts++;
		pthread_cond_broadcast(&l->cv);
		if (!l->stop && !l->kicked)
			pthread_cond_timedwait(&l->cv, &l->mtx, &ts);
		l->kicked = false;
	}
	pthread_mutex_unlock(&l->mtx);
	atomic_store(&l->term, 0);
	set_role(l, SRV_ROLE_READER, "stopping");
	PQfinish(l->conn); /* ends the session: the lock goes with it */
	l->conn = NULL;
	return NULL;
}

int
srv_leader_create(srv_leader **out, const srv_leader_conf *conf)
{
	srv_leader *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return AMLRISK_ENOMEM;
	l->conf = *conf;
	snprintf(l->app_name, sizeof(l->app_name), "amlrisk-core/%s", conf->instance_id);
	snprintf(l->key, sizeof(l->key), "%lld", (long long)conf->lock_key);
	atomic_init(&l->role, SRV_ROLE_ELECTING);
	atomic_init(&l->term, 0);
	pthread_mutex_init(&l->mtx, NULL);
	pthread_cond_init(&l->cv, NULL);
	*out = l;
	return AMLRISK_OK;
}

int
srv_leader_listen(srv_leader *l, srv_leader_fn fn, void *arg)
{
	if (l->started)
		return AMLRISK_ESTATE;
	if (l->n_listeners == SRV_LEADER_LISTENERS)
		return AMLRISK_EFULL;
	l->listeners[l->n_listeners].fn = fn;
	l->listeners[l->n_listeners].arg = arg;
	l->n_listeners++;
	return AMLRISK_OK;
}

int
srv_leader_start(srv_leader *l)
{
	if (pthread_create(&l->thread, NULL, leader_main, l) != 0)
		return AMLRISK_ENOMEM;
	l->started = true;
	return AMLRISK_OK;
}

void
srv_leader_stop(srv_leader *l)
{
	if (l == NULL || !l->started)
		return;
	pthread_mutex_lock(&l->mtx);
	l->stop = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mtx);
	pthread_join(l->thread, NULL);
	l->started = false;
}

void
srv_leader_destroy(srv_leader *l)
{
	if (l == NULL)
		return;
	srv_leader_stop(l);
	PQfinish(l->conn);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mtx);
	free(l);
}

srv_role
srv_leader_role(const srv_leader *l)
{
	return l == NULL ? SRV_ROLE_WRITER : (srv_role)atomic_load(&l->role);
}

bool
srv_leader_is_writer(const srv_leader *l)
{
	return srv_leader_role(l) == SRV_ROLE_WRITER;
}

srv_role
srv_leader_wait(srv_leader *l, int ms)
{
	struct timespec ts;

	if (l == NULL)
		return SRV_ROLE_WRITER;
	srv_deadline(&ts, ms);
	pthread_mutex_lock(&l->mtx);
	while (!l->settled && !l->stop && pthread_cond_timedwait(&l->cv, &l->mtx, &ts) == 0)
		;
	pthread_mutex_unlock(&l->mtx);
	return srv_leader_role(l);
}

srv_role
srv_leader_settle(srv_leader *l, int ms)
{
	int64_t end = srv_mono_ms() + ms;
	unsigned long target;

	if (l == NULL)
		return SRV_ROLE_WRITER;
	pthread_mutex_lock(&l->mtx);
	target = l->attempts + 2; /* one may be under way since before the call */
	while (!l->stop && srv_mono_ms() < end &&
	       (l->attempts < target || atomic_load(&l->role) == SRV_ROLE_ELECTING)) {
		struct timespec ts;
		l->kicked = true;
		pthread_cond_broadcast(&l->cv);
		srv_deadline(&ts, SETTLE_TICK_MS);
		pthread_cond_timedwait(&l->cv, &l->mtx, &ts);
	}
	pthread_mutex_unlock(&l->mtx);
	return srv_leader_role(l);
}

const char *
srv_leader_instance(const srv_leader *l)
{
	return l != NULL ? l->conf.instance_id : "";
}

void
srv_leader_writer_id(srv_leader *l, char *buf, size_t len)
{
	if (l == NULL) {
		snprintf(buf, len, "%s", "");
		return;
	}
	pthread_mutex_lock(&l->mtx);
	snprintf(buf, len, "%s", l->writer);
	pthread_mutex_unlock(&l->mtx);
}

int
srv_leader_refusal(srv_leader *l, char *buf, size_t len)
{
	char id[SRV_LEADER_ID_MAX + 1], error[ERR_MAX];

	if (l == NULL) {
		snprintf(buf, len, "%s", "");
		return AMLRISK_OK;
	}
	srv_leader_writer_id(l, id, sizeof(id));
	pthread_mutex_lock(&l->mtx);
	snprintf(error, sizeof(error), "%s", l->error);
	pthread_mutex_unlock(&l->mtx);
	if (srv_leader_role(l) == SRV_ROLE_READER) {
		snprintf(buf, len, RPC_NOT_WRITER "; the writer is %s",
		         id[0] != '\0' ? id : "unknown (it holds the lock, unnamed)");
		return AMLRISK_ESTATE;
	}
	if (error[0] != '\0') {
		snprintf(buf, len, RPC_NOT_WRITER "; no writer can be elected: %s", error);
		return AMLRISK_EUNAVAIL;
	}
	snprintf(buf, len, RPC_NOT_WRITER "; no writer is elected yet: try again");
	return AMLRISK_EUNAVAIL;
}

long long
srv_leader_term(const srv_leader *l)
{
	return l != NULL ? atomic_load(&l->term) : 0;
}

int
srv_leader_fence(const srv_fence *f, PGconn *c, char *err, size_t errlen)
{
	const char *p[2];
	char pid[16];
	PGresult *r = NULL;
	int rv, held;

	if (f == NULL || f->leader == NULL)
		return AMLRISK_OK;
	if (f->term == 0 || srv_leader_term(f->leader) != f->term) {
		snprintf(err, errlen, "%s: this instance lost the election lock it held",
		         RPC_NOT_WRITER);
		return AMLRISK_ESTATE;
	}
	snprintf(pid, sizeof(pid), "%d", (int)(f->term & 0xffffffff));
	p[0] = f->leader->key;
	p[1] = pid;
	if ((rv = srv_db_exec(
	             c, "SELECT count(*) FROM pg_locks l WHERE" LOCK_WHERE " AND l.pid = $2::int",
	             2, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	held = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
	PQclear(r);
	if (!held) {
		snprintf(err, errlen, "%s: this instance's election lock is gone", RPC_NOT_WRITER);
		return AMLRISK_ESTATE;
	}
	return AMLRISK_OK;
}
