/* srv_follow.c - the follower thread. Each round: take the notices that
 * arrived, count the rows above the view's watermark, append every row above
 * the graph's watermark (bounded batches, several coalesced into one round),
 * publish the new version unless a ReloadGraph replaced the graph meanwhile,
 * re-score the live view once for the round, then sleep until a notice, the
 * poll period or stop. A database failure keeps the last good view and
 * retries with backoff on a fresh connection. */
#include "srv_follow.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_pg.h"
#include "srv_db.h"
#include "srv_live.h"
#include "srv_load.h"
#include "srv_time.h"

#define ERR_MAX      512
#define BATCH_ROWS   100000  /* rows per COPY and per append */
#define ROUND_ROWS   1000000 /* rows one round appends before scoring */
#define NOTICES_MAX  64      /* notices not yet covered by the view */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 10000
#define NO_GRAPH_MS  50   /* the writer's start-up load is awaited this often */
#define CHECK_MIN_MS 5000 /* the per-round count waits at least this on a silent database */

/* A notice of rows up to seq first seen at us (Unix microseconds). */
typedef struct notice {
	int64_t seq, us;
} notice;

struct srv_follow {
	const srv_opts *opts;
	srv_leader *leader;      /* may be NULL: always the writer */
	srv_follow_kick_fn kick; /* may be NULL */
	void *kick_arg;
	srv_metrics *metrics; /* may be NULL */
	srv_state *state;
	srv_live *live; /* NULL: no live view */
	PGconn *conn;   /* follower thread only, LISTENing */
	int wake[2];    /* pipe: a byte written = stop */
	atomic_bool stop;
	pthread_t thread;
	bool started;

	/* follower thread only */
	srv_live_info info;
	notice notices[NOTICES_MAX]; /* ascending seq */
	int n_notices;
	int retry_ms;
	bool failing; /* the last round failed (logged once) */
};

/* Remembers that rows up to seq are committed, first seen now. */
static void
notice_add(srv_follow *f, int64_t seq, int64_t now_us)
{
	if (seq > f->info.newest)
		f->info.newest = seq;
	if (seq <= f->info.watermark ||
	    (f->n_notices > 0 && seq <= f->notices[f->n_notices - 1].seq))
		return;
	if (f->n_notices == NOTICES_MAX) {
		/* full: the newest entry covers more rows with its older time, so
		 * lag_seconds can only be over-stated, never under */
		f->notices[f->n_notices - 1].seq = seq;
		return;
	}
	f->notices[f->n_notices++] = (notice){seq, now_us};
}

/* The view reached watermark: drops the notices it covers. */
static void
notices_cover(srv_follow *f, int64_t watermark)
{
	int i = 0;

	while (i < f->n_notices && f->notices[i].seq <= watermark)
		i++;
	memmove(f->notices, f->notices + i, (size_t)(f->n_notices - i) * sizeof(notice));
	f->n_notices -= i;
	f->info.behind_since_us = f->n_notices > 0 ? f->notices[0].us : 0;
}

static void
publish_info(srv_follow *f, srv_run *run)
{
	f->info.behind_since_us = f->n_notices > 0 ? f->notices[0].us : 0;
	srv_state_set_live(f->state, run, &f->info);
}

/* The connection, dialled and LISTENing. */
static int
conn_get(srv_follow *f, char *err, size_t errlen)
{
	int rv;

	if (srv_db_ok(f->conn))
		return AMLRISK_OK;
	PQfinish(f->conn);
	f->conn = NULL;
	if ((rv = srv_db_connect(f->opts->database_url, 0, &f->conn, err, errlen)) != 0)
		return rv;
	/* the channel is an identifier, fixed at build time (amlrisk_pg.h) */
	if ((rv = srv_db_exec(f->conn, "LISTEN " AMLRISK_PG_INGEST_CHANNEL, 0, NULL,
	                      PGRES_COMMAND_OK, NULL, err, errlen)) != 0) {
		PQfinish(f->conn);
		f->conn = NULL;
	}
	return rv;
}

/* Takes the notices libpq has collected (during any statement or wait). */
static void
drain_notices(srv_follow *f)
{
	PGnotify *n;
	int64_t now = srv_unix_us();

	while ((n = PQnotifies(f->conn)) != NULL) {
		char *end;
		long long seq = strtoll(n->extra, &end, 10);
		if (end != n->extra && *end == '\0' && seq > 0)
			notice_add(f, seq, now);
		PQfreemem(n);
	}
}

/* How long the per-round count may wait on a silent database: it runs
 * while the follower is otherwise idle, so a partition found here (the
 * common case) is found quickly and never holds up shutdown for long. */
static int
check_ms(const srv_follow *f)
{
	int ms = 2 * f->opts->live_poll_ms, io = srv_db_io_timeout();

	if (ms < CHECK_MIN_MS)
		ms = CHECK_MIN_MS;
	return ms < io ? ms : io;
}

/* Counts the committed rows above the view's watermark (a range of the
 * primary key) and notes the newest. */
static int
check(srv_follow *f, int64_t view_wm, char *err, size_t errlen)
{
	char wm[24];
	const char *p[1] = {wm};
	PGresult *r = NULL;
	int64_t newest;
	int rv;

	snprintf(wm, sizeof(wm), "%lld", (long long)(view_wm < 0 ? 0 : view_wm));
	/* alerts not yet published: the outbox's partial index, a few rows */
	if ((rv = srv_db_exec_ms(f->conn,
	                         "SELECT coalesce(max(seq), 0), count(*),"
	                         " (SELECT count(*) FROM risk_alerts WHERE NOT published)"
	                         " FROM transactions WHERE seq > $1::bigint",
	                         1, p, PGRES_TUPLES_OK, &r, check_ms(f), err, errlen)) != 0)
		return rv;
	f->info.alerts_pending = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
	newest = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	if (newest < view_wm)
		newest = view_wm; /* no row above it */
	/* the table is the truth: a notice naming rows that are not there
	 * (none should) is forgotten rather than waited for */
	while (f->n_notices > 0 && f->notices[f->n_notices - 1].seq > newest)
		f->n_notices--;
	f->info.newest = newest;
	notice_add(f, newest, srv_unix_us());
	f->info.lag_rows = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return AMLRISK_OK;
}

/* Appends the rows above g's watermark, up to ROUND_ROWS, to a new version
 * and publishes it. *g (a reference) is replaced by the new version; *more is
 * set when rows are left for another round. AMLRISK_ESTATE when a
 * ReloadGraph replaced the graph meanwhile (nothing published). */
static int
catch_up(srv_follow *f, core_graph **g, srv_graph_info *info, bool *more, char *err, size_t errlen)
{
	core_graph *start = *g, *cur = core_graph_ref(*g);
	srv_graph_info ni = *info;
	srv_txbatch b;
	core_graph_stats st;
	double t0 = srv_mono_s();
	size_t total = 0, bad = 0;
	int rv = AMLRISK_OK;

	*more = false;
	srv_txbatch_init(&b);
	for (;;) {
		core_graph *next = NULL;
		if ((rv = srv_load_after(f->conn, ni.watermark, BATCH_ROWS, &f->stop, &b, err,
		                         errlen)) != 0)
			goto out;
		if (b.n == 0)
			break;
		if ((rv = core_graph_append(&next, cur, b.tx, b.n, f->opts->score_threads, &bad)) !=
		    0) {
			snprintf(err, errlen, "follow: appending transaction seq %llu: %s",
			         (unsigned long long)(bad < b.n ? b.tx[bad].seq : 0),
			         amlrisk_strerror(rv));
			goto out;
		}
		core_graph_unref(cur);
		cur = next;
		ni.watermark = b.last_seq;
		total += b.n;
		if (b.n < BATCH_ROWS)
			break;
		if (total >= ROUND_ROWS) {
			*more = true;
			break;
		}
	}
	if (total == 0)
		goto out;
	core_graph_stats_get(cur, &st);
	ni.loaded = true;
	ni.wallets = st.wallets;
	ni.edges = st.edges;
	ni.transactions = st.txs;
	ni.loaded_at_us = srv_unix_us();
	ni.load_s = srv_mono_s() - t0;
	if (!srv_state_advance_graph(f->state, start, core_graph_ref(cur), &ni)) {
		core_graph_unref(cur); /* the reference offered */
		rv = AMLRISK_ESTATE;
		snprintf(err, errlen, "follow: the graph was reloaded meanwhile");
		goto out;
	}
	amlrisk_log(AMLRISK_LOG_DEBUG, "core", "follow.appended",
	            "rows=%zu watermark=%lld wallets=%llu seconds=%.3f", total,
	            (long long)ni.watermark, (unsigned long long)ni.wallets, ni.load_s);
	core_graph_unref(*g);
	*g = cur;
	cur = NULL;
	*info = ni;
out:
	core_graph_unref(cur);
	srv_txbatch_free(&b);
	return rv;
}

/* Brings the live view to g, publishing the new result. */
static int
live_round(srv_follow *f, core_graph *g, const srv_graph_info *info, char *err, size_t errlen)
{
	srv_run *run = NULL;
	uint32_t fired = 0;
	int64_t wm;
	srv_role role = srv_leader_role(f->leader);
	bool record = role == SRV_ROLE_WRITER;
	int rv;

	if (role == SRV_ROLE_ELECTING) {
		/* the lock session is away (the database, say): the view waits at its
		 * last good watermark rather than run ahead of what is recorded */
		snprintf(err, errlen, "live: no writer elected yet");
		return AMLRISK_EUNAVAIL;
	}
	if (record && srv_live_needs_load(f->live) &&
	    (rv = srv_live_load(f->live, f->conn, &wm, err, errlen)) != 0)
		return rv;
	if (!srv_live_stale(f->live, g, record))
		return AMLRISK_OK;
	if ((rv = srv_live_update(f->live, f->conn, g, info, record, &run, &fired, err, errlen)) !=
	    0)
		return rv;
	amlrisk_log(f->info.watermark < 0 ? AMLRISK_LOG_INFO : AMLRISK_LOG_DEBUG, "core",
	            f->info.watermark < 0 ? "live.built" : "live.updated",
	            "model=%s watermark=%lld wallets=%u alerts=%u score_seconds=%.3f",
	            f->info.model, (long long)info->watermark, srv_run_count(run), fired,
	            srv_run_summary(run)->score_s);
	f->info.watermark = info->watermark;
	f->info.updated_at_us = srv_unix_us();
	f->info.alerts_fired += fired;
	srv_alertgen_stats st;
	srv_live_alert_stats(f->live, &st);
	f->info.alerts_waits = st.deferred;
	notices_cover(f, f->info.watermark);
	publish_info(f, run);
	if (f->kick != NULL && fired > 0)
		f->kick(f->kick_arg);
	return AMLRISK_OK;
}

/* One round. *again is set when work is left (another round at once),
 * *no_graph while the writer has not loaded the first graph. */
static int
round_run(srv_follow *f, bool *again, bool *no_graph, char *err, size_t errlen)
{
	srv_graph_info info;
	core_graph *g = srv_state_graph(f->state, &info);
	int64_t view_wm, old_wm;
	uint64_t old_tx;
	bool more = false;
	int rv;

	*again = false;
	*no_graph = g == NULL;
	if (g == NULL)
		return AMLRISK_OK; /* the writer's start-up has not loaded it yet */
	if ((rv = conn_get(f, err, errlen)) != 0)
		goto out;
	drain_notices(f);
	view_wm = f->live != NULL ? f->info.watermark : info.watermark;
	if (view_wm < 0)
		view_wm = info.watermark;
	if ((rv = check(f, view_wm, err, errlen)) != 0)
		goto out;
	old_wm = info.watermark;
	old_tx = info.transactions;
	if (f->info.newest > info.watermark &&
	    (rv = catch_up(f, &g, &info, &more, err, errlen)) != 0) {
		if (rv == AMLRISK_ESTATE) {
			*again = true; /* start again from the reloaded graph */
			rv = AMLRISK_OK;
		}
		goto out;
	}
	if (f->live != NULL) {
		if ((rv = live_round(f, g, &info, err, errlen)) != 0)
			goto out;
	} else if (f->info.watermark != info.watermark) {
		f->info.watermark = info.watermark;
		f->info.updated_at_us = srv_unix_us();
		notices_cover(f, info.watermark);
	}
	if (f->info.watermark >= f->info.newest)
		f->info.lag_rows = 0;
	else if (info.transactions - old_tx < f->info.lag_rows)
		f->info.lag_rows -= info.transactions - old_tx; /* recounted next round */
	/* rows committed during the round: look again at once */
	*again = more || info.watermark > old_wm;
out:
	publish_info(f, NULL);
	core_graph_unref(g);
	return rv;
}

/* Sleeps until a notice arrives, ms pass or stop; with pending, not at all
 * when a notice taken during the round names rows the view lacks. */
static void
wait_for(srv_follow *f, int ms, bool pending)
{
	struct pollfd p[2] = {{.fd = f->wake[0], .events = POLLIN}, {.fd = -1, .events = POLLIN}};

	if (f->conn != NULL && srv_db_ok(f->conn)) {
		drain_notices(f);
		if (pending && f->info.watermark >= 0 && f->info.newest > f->info.watermark)
			return;
		p[1].fd = PQsocket(f->conn);
	}
	if (poll(p, 2, ms) > 0 && p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP)) &&
	    PQconsumeInput(f->conn) == 1)
		drain_notices(f);
}

static void *
follow_main(void *arg)
{
	srv_follow *f = arg;
	char err[ERR_MAX];

	while (!atomic_load(&f->stop)) {
		bool again = false, no_graph = false;
		err[0] = '\0';
		if (round_run(f, &again, &no_graph, err, sizeof(err)) != 0) {
			if (!f->failing)
				amlrisk_log(
				        AMLRISK_LOG_WARN, "core", "follow.failed",
				        "error=\"%s\" effect=\"the live view stays at watermark "
				        "%lld; retrying\"",
				        err, (long long)f->info.watermark);
			f->failing = true;
			f->retry_ms = f->retry_ms == 0
			                      ? RETRY_MIN_MS
			                      : (f->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS
			                                                        : f->retry_ms * 2);
			if (!srv_db_ok(f->conn)) {
				PQfinish(f->conn);
				f->conn = NULL;
			}
			wait_for(f, f->retry_ms, false);
			continue;
		}
		if (f->failing)
			amlrisk_log(AMLRISK_LOG_INFO, "core", "follow.recovered", "watermark=%lld",
			            (long long)f->info.watermark);
		f->failing = false;
		f->retry_ms = 0;
		if (!again)
			wait_for(f, no_graph ? NO_GRAPH_MS : f->opts->live_poll_ms, true);
	}
	return NULL;
}

int
srv_follow_create(srv_follow **out, const srv_opts *o, srv_state *state, srv_leader *leader,
                  srv_follow_kick_fn kick, void *kick_arg, srv_metrics *metrics)
{
	srv_follow *f = calloc(1, sizeof(*f));
	int rv = AMLRISK_ENOMEM;

	if (f == NULL)
		return AMLRISK_ENOMEM;
	f->opts = o;
	f->state = state;
	f->leader = leader;
	f->kick = kick;
	f->kick_arg = kick_arg;
	f->metrics = metrics;
	f->wake[0] = f->wake[1] = -1;
	atomic_init(&f->stop, false);
	f->info.watermark = -1;
	if (o->live_on) {
		if ((rv = srv_live_create(&f->live, &o->live, &o->rules, o->score_threads,
		                          o->labels_max)) != 0)
			goto fail;
		f->info.enabled = true;
		f->info.model = srv_live_model(f->live);
		snprintf(f->info.config_json, sizeof(f->info.config_json), "%s",
		         srv_live_config_json(f->live));
	}
	if (pipe(f->wake) != 0) {
		rv = AMLRISK_EIO;
		goto fail;
	}
	srv_state_set_live(state, NULL, &f->info);
	if (pthread_create(&f->thread, NULL, follow_main, f) != 0) {
		rv = AMLRISK_ENOMEM;
		goto fail;
	}
	f->started = true;
	*out = f;
	return AMLRISK_OK;
fail:
	srv_follow_destroy(f);
	return rv;
}

void
srv_follow_destroy(srv_follow *f)
{
	if (f == NULL)
		return;
	if (f->started) {
		atomic_store(&f->stop, true);
		while (write(f->wake[1], "x", 1) < 0 && errno == EINTR)
			;
		pthread_join(f->thread, NULL);
	}
	PQfinish(f->conn);
	srv_live_destroy(f->live);
	if (f->wake[0] >= 0)
		close(f->wake[0]);
	if (f->wake[1] >= 0)
		close(f->wake[1]);
	free(f);
}
