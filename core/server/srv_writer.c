/* srv_writer.c - the writer thread. It owns one database connection and runs
 * start-up work, then queued jobs, strictly one at a time; a second
 * ReloadGraph/RunScore while one is queued or running is refused (ABORTED) at
 * once rather than queued, so a caller never waits minutes behind another's run. */
#include "srv_writer.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "rpc.h"
#include "srv_arena.h"
#include "srv_db.h"
#include "srv_load.h"
#include "srv_msg.h"
#include "srv_retain.h"
#include "srv_runs.h"
#include "srv_store.h"
#include "srv_time.h"

#define ERR_MAX             512
#define RETRY_MIN_MS        500
#define RETRY_MAX_MS        10000
#define TX_SOURCE_MAX       160
#define STARTUP_ELECTION_MS 5000 /* start-up waits this long for the first election */
#define ELECT_WAIT_MIN_MS   1000 /* + 4 polls: a write waits for a lost lock to come back */

struct srv_writer {
	srv_writer_conf conf;
	srv_state *state;
	PGconn *conn; /* writer thread only */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t mtx; /* guards the fields below up to cancel */
	pthread_cond_t cv;
	srv_job job;
	bool has_job;     /* job is queued */
	bool running_job; /* a job is being run */
	bool stopping;
	bool role_changed; /* the election changed this instance's role */
	atomic_bool cancel;

	/* start-up progress (writer thread), and its retry schedule */
	atomic_int starting;
	bool recovered, latest_done, attach_done;
	int retry_ms;
	long long retry_at_ms;
	long long follow_at_ms; /* a reader's next look for a newer completed run */
	bool follow_failing;    /* its last look failed (logged once, not each time) */
};

/* The writer's connection, redialled when lost. */
static int
conn_get(srv_writer *w, char *err, size_t errlen)
{
	if (srv_db_ok(w->conn))
		return AMLRISK_OK;
	PQfinish(w->conn);
	w->conn = NULL;
	return srv_db_connect(w->conf.database_url, 0, &w->conn, err, errlen);
}

/* Loads a graph of every transaction up to max_seq (< 0: all) and logs it. */
static int
load_graph(srv_writer *w, int64_t max_seq, const char *why, core_graph **g, srv_graph_info *info,
           char *err, size_t errlen)
{
	int rv;

	if ((rv = conn_get(w, err, errlen)) != 0 ||
	    (rv = srv_load_graph(w->conn, max_seq, w->conf.threads, &w->cancel, g, info, err,
	                         errlen)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "graph.load_failed",
		            "reason=%s error=\"%s\"", why, err);
		return rv;
	}
	amlrisk_log(
	        AMLRISK_LOG_INFO, "core", "graph.loaded",
	        "reason=%s wallets=%llu edges=%llu transactions=%llu watermark=%lld seconds=%.3f",
	        why, (unsigned long long)info->wallets, (unsigned long long)info->edges,
	        (unsigned long long)info->transactions, (long long)info->watermark, info->load_s);
	return AMLRISK_OK;
}

/* Marks every run left 'running' failed: nothing else writes runs, so when the
 * writer is between jobs a running row is one a crash or an outage abandoned. */
static int
recover(srv_writer *w, char *err, size_t errlen)
{
	srv_summary all = {0};
	int rv, changed = 0;

	if ((rv = conn_get(w, err, errlen)) != 0 ||
	    (rv = srv_store_transition(w->conn, &all, SRV_RUN_FAILED,
	                               "interrupted: the core server stopped or lost the database"
	                               " while storing the run",
	                               &changed, err, errlen)) != 0)
		return rv;
	if (changed > 0)
		amlrisk_log(AMLRISK_LOG_WARN, "core", "runs.recovered", "marked_failed=%d",
		            changed);
	return AMLRISK_OK;
}

/* Start-up step: learn the latest completed run and load its rows. */
static int
latest_load(srv_writer *w, char *err, size_t errlen)
{
	srv_arena a;
	srv_summary sum;
	srv_run *run = NULL;
	double t0 = srv_mono_s();
	int rv;

	srv_arena_init(&a, 0);
	if ((rv = conn_get(w, err, errlen)) != 0)
		goto out;
	rv = srv_runs_latest(w->conn, &a, &sum, err, errlen);
	if (rv == AMLRISK_ENOTFOUND) {
		amlrisk_log(AMLRISK_LOG_INFO, "core", "latest.none", "runs=0");
		srv_state_set_latest(w->state, NULL);
		rv = AMLRISK_OK;
		goto out;
	}
	if (rv != AMLRISK_OK ||
	    (rv = srv_runs_load(w->conn, &sum, &w->cancel, &run, err, errlen)) != 0)
		goto out;
	amlrisk_log(AMLRISK_LOG_INFO, "core", "latest.loaded",
	            "run_id=%lld wallets=%u seconds=%.3f", (long long)sum.id, srv_run_count(run),
	            srv_mono_s() - t0);
	srv_state_set_latest(w->state, run);
out:
	if (rv != AMLRISK_OK && rv != AMLRISK_EDB && rv != AMLRISK_ECANCELED) {
		/* rows that do not load will not load next time either: go on without */
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "latest.load_failed", "error=\"%s\"", err);
		srv_state_set_latest(w->state, NULL);
		rv = AMLRISK_OK;
	}
	srv_arena_free(&a);
	return rv;
}

/* Makes g (a reference is taken) the graph in memory when it is newer: a
 * reader following the writer's runs has no other way to see new transactions. */
static void
keep_newer_graph(srv_writer *w, core_graph *g, const srv_graph_info *info)
{
	srv_graph_info cur;
	core_graph *have = srv_state_graph(w->state, &cur);

	if (have == NULL || cur.watermark < info->watermark)
		srv_state_set_graph(w->state, core_graph_ref(g), info);
	core_graph_unref(have);
}

/* A reader's step: when the newest completed run is not the one in memory,
 * start-up's run steps are done again for it (its rows, then its rebuild). */
static int
follow(srv_writer *w, char *err, size_t errlen)
{
	srv_arena a;
	srv_summary sum;
	bool known;
	srv_run *cur = srv_state_latest(w->state, &known);
	int64_t have = cur != NULL ? srv_run_summary(cur)->id : 0, newest = 0;
	int rv;

	srv_run_unref(cur);
	srv_arena_init(&a, 0);
	if ((rv = conn_get(w, err, errlen)) == 0 &&
	    (rv = srv_runs_latest(w->conn, &a, &sum, err, errlen)) == 0)
		newest = sum.id;
	srv_arena_free(&a);
	if (rv != AMLRISK_OK && rv != AMLRISK_ENOTFOUND)
		return rv;
	if (known && newest != have) {
		amlrisk_log(AMLRISK_LOG_INFO, "core", "follow.newer_run", "run_id=%lld had=%lld",
		            (long long)newest, (long long)have);
		w->latest_done = w->attach_done = false;
		w->retry_ms = 0;
		w->retry_at_ms = srv_mono_ms();
		atomic_store(&w->starting, 1);
	}
	return AMLRISK_OK;
}

/* On the writer thread after the election changed the role: a new writer
 * marks the runs its predecessor left running failed and loads the latest
 * completed run if it is newer than the one followed; one that lost the lock
 * will have to do the same should it win again. */
static void
role_changed(srv_writer *w)
{
	char err[ERR_MAX];

	w->recovered = false;
	if (srv_leader_is_writer(w->conf.leader)) {
		w->retry_ms = 0;
		w->retry_at_ms = srv_mono_ms();
		atomic_store(&w->starting, 1);
		if (follow(w, err, sizeof(err)) != 0)
			amlrisk_log(AMLRISK_LOG_WARN, "core", "follow.failed", "error=\"%s\"", err);
	}
}

/* Start-up step: rescore the latest run from its stored config, labels and
 * watermark, so ExplainWallet and WalletGraph have the engine's result (the
 * spec makes the stored results reproducible this way). */
static int
latest_attach(srv_writer *w, char *err, size_t errlen)
{
	srv_run *latest = srv_state_latest(w->state, NULL), *run = NULL;
	core_graph *g = NULL;
	core_labels *labels = NULL;
	core_run_result *res = NULL;
	srv_graph_info info;
	char *labels_json = NULL;
	const srv_summary *sum;
	double t0 = srv_mono_s();
	int rv = AMLRISK_OK;

	if (latest == NULL || srv_run_result(latest) != NULL)
		goto out;
	sum = srv_run_summary(latest);
	g = srv_state_graph(w->state, &info);
	if (g == NULL || info.watermark != sum->watermark) {
		core_graph_unref(g);
		g = NULL;
		if ((rv = load_graph(w, sum->watermark, "latest_run", &g, &info, err, errlen)) != 0)
			goto out;
		keep_newer_graph(w, g, &info);
	}
	if (srv_run_config(latest)->use_labels &&
	    ((rv = conn_get(w, err, errlen)) != 0 ||
	     (rv = srv_runs_labels(w->conn, sum->id, &labels_json, err, errlen)) != 0 ||
	     (rv = srv_labels_from_json(labels_json, &labels, err, errlen)) != 0))
		goto out;
	if ((rv = core_score_run(&res, g, srv_run_config(latest), labels, w->conf.threads, err,
	                         errlen)) != 0)
		goto out;
	if (core_run_result_count(res) != sum->wallets ||
	    core_run_result_illicit_count(res) != sum->illicit) {
		snprintf(err, errlen,
		         "rescoring run %lld gave %u wallets / %u illicit, stored %llu / %llu",
		         (long long)sum->id, core_run_result_count(res),
		         core_run_result_illicit_count(res), (unsigned long long)sum->wallets,
		         (unsigned long long)sum->illicit);
		rv = AMLRISK_EINTERNAL;
		goto out;
	}
	if ((rv = srv_run_from_result(&run, sum, res)) != 0)
		goto out;
	srv_state_set_latest(w->state, run);
	amlrisk_log(AMLRISK_LOG_INFO, "core", "latest.rebuilt",
	            "run_id=%lld wallets=%u seconds=%.3f", (long long)sum->id,
	            core_run_result_count(res), srv_mono_s() - t0);
out:
	if (rv != AMLRISK_OK && rv != AMLRISK_EDB && rv != AMLRISK_ECANCELED) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "latest.rebuild_failed",
		            "error=\"%s\" effect=\"explain and graph views unavailable until the "
		            "next run\"",
		            err);
		rv = AMLRISK_OK;
	}
	free(labels_json);
	core_labels_destroy(labels);
	core_run_result_unref(res);
	core_graph_unref(g);
	srv_run_unref(latest);
	return rv;
}

/* Runs whatever start-up work is left; each step is done once. */
static int
startup(srv_writer *w, char *err, size_t errlen)
{
	srv_graph_info info;
	core_graph *g;
	int rv;

	if (!w->recovered && srv_leader_is_writer(w->conf.leader)) {
		/* a reader never marks runs: they may be the writer's, in progress */
		if ((rv = recover(w, err, errlen)) != 0)
			return rv;
		w->recovered = true;
	}
	if (!w->latest_done) {
		if ((rv = latest_load(w, err, errlen)) != 0)
			return rv;
		w->latest_done = true;
	}
	if ((g = srv_state_graph(w->state, NULL)) == NULL) {
		if ((rv = load_graph(w, -1, "startup", &g, &info, err, errlen)) != 0)
			return rv;
		srv_state_set_graph(w->state, g, &info);
	} else {
		core_graph_unref(g);
	}
	if (!w->attach_done) {
		if ((rv = latest_attach(w, err, errlen)) != 0)
			return rv;
		w->attach_done = true;
	}
	atomic_store(&w->starting, 0);
	amlrisk_log(AMLRISK_LOG_INFO, "core", "startup.done", "ok=1");
	return AMLRISK_OK;
}

/* Whether this instance may write now. A role lost with the lock session (a
 * database restart ends every session) is given a moment to come back
 * (srv_leader_settle); with fence, the lock is also checked in pg_locks on the
 * writer's connection (the election thread may not have noticed a loss yet)
 * and *fence gets the term the write begins in.
 * AMLRISK_ESTATE (a reader) or AMLRISK_EUNAVAIL (no writer elected) with the
 * refusal (srv_leader_refusal), AMLRISK_EDB; err set. */
static int
writer_check(srv_writer *w, srv_fence *fence, char *err, size_t errlen)
{
	srv_leader *l = w->conf.leader;
	int wait_ms = 4 * w->conf.elect_poll_ms + ELECT_WAIT_MIN_MS, rv;

	if (l == NULL)
		return AMLRISK_OK;
	if (srv_leader_role(l) == SRV_ROLE_ELECTING)
		srv_leader_settle(l, wait_ms);
	if (srv_leader_is_writer(l) && fence != NULL) {
		if ((rv = conn_get(w, err, errlen)) != 0)
			return rv;
		*fence = (srv_fence){l, srv_leader_term(l)};
		rv = srv_leader_fence(fence, w->conn, err, errlen);
		/* the lock gone but the election thread not yet aware: give it its moment */
		if (rv == AMLRISK_ESTATE && srv_leader_settle(l, wait_ms) == SRV_ROLE_WRITER) {
			*fence = (srv_fence){l, srv_leader_term(l)};
			rv = srv_leader_fence(fence, w->conn, err, errlen);
		}
		if (rv != AMLRISK_OK)
			return rv;
	}
	if (!srv_leader_is_writer(l))
		return srv_leader_refusal(l, err, errlen);
	return AMLRISK_OK;
}

/* Frees the job slot. Called right before a job is answered, so a caller that
 * sends its next RunScore the moment it has the answer is not refused. */
static void
job_release(srv_writer *w)
{
	pthread_mutex_lock(&w->mtx);
	w->running_job = false;
	pthread_mutex_unlock(&w->mtx);
}

static void
job_fail(srv_writer *w, const srv_job *job, int rv, const char *msg)
{
	job_release(w);
	rpc_call_fail(job->closure_data, rv, "%s", msg);
}

static void
job_reload(srv_writer *w, const srv_job *job)
{
	Aml__V1__ReloadGraphResponse resp = AML__V1__RELOAD_GRAPH_RESPONSE__INIT;
	char err[ERR_MAX] = "";
	srv_graph_info info;
	core_graph *g = NULL;
	srv_arena a;
	double t0 = srv_mono_s();
	int rv;

	if ((rv = load_graph(w, -1, "reload", &g, &info, err, sizeof(err))) != 0) {
		job_fail(w, job, rv, err);
		return;
	}
	srv_state_set_graph(w->state, g, &info);
	srv_arena_init(&a, 0);
	if ((resp.graph = srv_msg_graph(&a, &info)) == NULL) {
		job_fail(w, job, AMLRISK_ENOMEM, "reload: out of memory building the answer");
	} else {
		resp.elapsed_seconds = srv_mono_s() - t0;
		job_release(w);
		job->reload_done(&resp, job->closure_data);
	}
	srv_arena_free(&a);
}

/* Fills the parts of a new run's summary known before it is stored. */
static int
score_summary(srv_summary *sum, const core_config *cfg, const srv_graph_info *info,
              const core_run_result *res, const char *labels_json, char *cfg_json, size_t cfg_len,
              char *tx_source, size_t tx_len)
{
	int rv;

	if ((rv = core_config_to_json(cfg, cfg_json, cfg_len, NULL)) != 0)
		return rv;
	/* the text jsonb gives back (keys by length, ": " and ", "), so a summary
	 * reads the same from memory and from the database */
	snprintf(tx_source, tx_len,
	         "{\"table\": \"transactions\", \"watermark\": %lld, \"transactions\": %llu}",
	         (long long)info->watermark, (unsigned long long)info->transactions);
	memset(sum, 0, sizeof(*sum));
	sum->status = SRV_RUN_RUNNING;
	sum->model = core_model_name(cfg->model);
	sum->config_json = cfg_json;
	sum->tx_source = tx_source;
	sum->labels_json = labels_json;
	sum->error = "";
	sum->watermark = info->watermark;
	sum->transactions = info->transactions;
	sum->wallets = core_run_result_count(res);
	sum->illicit = core_run_result_illicit_count(res);
	sum->load_s = info->load_s;
	sum->score_s = core_run_result_seconds(res);
	return AMLRISK_OK;
}

static void
job_score(srv_writer *w, const srv_job *job)
{
	Aml__V1__RunScoreResponse resp = AML__V1__RUN_SCORE_RESPONSE__INIT;
	char err[ERR_MAX] = "", ferr[ERR_MAX], cfg_json[CORE_CONFIG_JSON_MAX],
	     tx_source[TX_SOURCE_MAX];
	char *labels_json = NULL;
	core_labels *labels = NULL;
	core_run_result *res = NULL;
	core_graph *g = NULL;
	srv_run *run = NULL;
	srv_graph_info info;
	srv_summary sum = {0};
	srv_fence fence = {0};
	srv_arena a;
	double t0 = srv_mono_s();
	int rv;

	srv_arena_init(&a, 0);
	if ((rv = recover(w, err, sizeof(err))) != 0)
		goto out;
	if ((g = srv_state_graph(w->state, &info)) == NULL) {
		if ((rv = load_graph(w, -1, "score", &g, &info, err, sizeof(err))) != 0)
			goto out;
		srv_state_set_graph(w->state, core_graph_ref(g), &info);
	}
	if (job->cfg.use_labels && ((rv = conn_get(w, err, sizeof(err))) != 0 ||
	                            (rv = srv_load_labels(w->conn, w->conf.labels_max, &labels,
	                                                  &labels_json, err, sizeof(err))) != 0))
		goto out;
	if ((rv = core_score_run(&res, g, &job->cfg, labels, w->conf.threads, err, sizeof(err))) !=
	    0)
		goto out;
	if ((rv = score_summary(&sum, &job->cfg, &info, res,
	                        labels_json != NULL ? labels_json : "[]", cfg_json,
	                        sizeof(cfg_json), tx_source, sizeof(tx_source))) != 0) {
		snprintf(err, sizeof(err), "run config: %s", amlrisk_strerror(rv));
		goto out;
	}
	if ((rv = writer_check(w, &fence, err, sizeof(err))) != 0)
		goto out;
	if ((rv = conn_get(w, err, sizeof(err))) != 0 ||
	    (rv = srv_store_transition(w->conn, &sum, SRV_RUN_RUNNING, NULL, NULL, err,
	                               sizeof(err))) != 0)
		goto out;
	amlrisk_log(AMLRISK_LOG_INFO, "core", "run.started",
	            "run_id=%lld wallets=%llu illicit=%llu watermark=%lld score_seconds=%.3f",
	            (long long)sum.id, (unsigned long long)sum.wallets,
	            (unsigned long long)sum.illicit, (long long)sum.watermark, sum.score_s);
	if ((rv = srv_store_rows(w->conn, &sum, res, &w->cancel, &fence, err, sizeof(err))) != 0) {
		/* best effort: if the database is gone, the next job's recover() does it */
		if (sum.status == SRV_RUN_RUNNING && conn_get(w, ferr, sizeof(ferr)) == 0)
			srv_store_transition(w->conn, &sum, SRV_RUN_FAILED, err, NULL, ferr,
			                     sizeof(ferr));
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "run.failed", "run_id=%lld error=\"%s\"",
		            (long long)sum.id, err);
		goto out;
	}
	if ((rv = srv_run_from_result(&run, &sum, res)) != 0) {
		snprintf(err, sizeof(err), "run %lld stored, but keeping it in memory failed: %s",
		         (long long)sum.id, amlrisk_strerror(rv));
		goto out;
	}
	srv_state_set_latest(w->state, srv_run_ref(run));
	srv_metrics_run(w->conf.metrics, core_model_name(job->cfg.model), "completed", sum.load_s,
	                sum.score_s, sum.store_s);
	amlrisk_log(AMLRISK_LOG_INFO, "core", "run.completed",
	            "run_id=%lld wallets=%llu illicit=%llu load_seconds=%.3f score_seconds=%.3f"
	            " store_seconds=%.3f",
	            (long long)sum.id, (unsigned long long)sum.wallets,
	            (unsigned long long)sum.illicit, sum.load_s, sum.score_s, sum.store_s);
	if ((resp.run = srv_msg_run(&a, srv_run_summary(run))) == NULL) {
		rv = AMLRISK_ENOMEM;
		snprintf(err, sizeof(err), "run %lld stored; out of memory building the answer",
		         (long long)sum.id);
		goto out;
	}
	resp.elapsed_seconds = srv_mono_s() - t0;
	job_release(w);
	job->score_done(&resp, job->closure_data);
	srv_retain_apply(w->conf.retain, w->conn, w->conf.metrics); /* after the answer */
out:
	if (rv != AMLRISK_OK) {
		srv_metrics_run(w->conf.metrics, core_model_name(job->cfg.model), "failed", -1, -1,
		                -1);
		if (sum.id != 0 && strncmp(err, "run ", 4) != 0) {
			char msg[ERR_MAX + 32];
			snprintf(msg, sizeof(msg), "run %lld failed: %s", (long long)sum.id, err);
			job_fail(w, job, rv, msg);
		} else {
			job_fail(w, job, rv, err);
		}
	}
	srv_arena_free(&a);
	srv_run_unref(run);
	core_run_result_unref(res);
	core_labels_destroy(labels);
	free(labels_json);
	core_graph_unref(g);
}

static void
job_run(srv_writer *w, const srv_job *job, const char *startup_err)
{
	char msg[ERR_MAX + 64];
	int rv;

	if (atomic_load(&w->cancel)) {
		job_fail(w, job, AMLRISK_ECANCELED, "the core server is shutting down");
		return;
	}
	if ((rv = writer_check(w, NULL, msg, sizeof(msg))) != 0) {
		job_fail(w, job, rv, msg);
		return;
	}
	if (!w->recovered || !w->latest_done) {
		/* elected a moment ago (the lock back after a database restart, say):
		 * the writer's start-up steps come first, once more now */
		char err[ERR_MAX];
		snprintf(err, sizeof(err), "%s", startup_err);
		if (startup(w, err, sizeof(err)) != 0) {
			snprintf(msg, sizeof(msg), "start-up is not complete: %s", err);
			job_fail(w, job, AMLRISK_EUNAVAIL, msg);
			return;
		}
	}
	if (job->kind == SRV_JOB_RELOAD)
		job_reload(w, job);
	else
		job_score(w, job);
}

static void *
writer_main(void *arg)
{
	srv_writer *w = arg;
	char err[ERR_MAX];

	/* start-up marks interrupted runs failed only as the writer: know the role first */
	srv_leader_wait(w->conf.leader, STARTUP_ELECTION_MS);
	for (;;) {
		srv_job job;
		bool have = false, stop, changed, follow_due = false;
		pthread_mutex_lock(&w->mtx);
		for (;;) {
			long long now = srv_mono_ms(), wake = LLONG_MAX;
			struct timespec ts;
			if (w->stopping || w->has_job || w->role_changed)
				break;
			if (atomic_load(&w->starting)) {
				if (now >= w->retry_at_ms)
					break;
				wake = w->retry_at_ms;
			} else if (w->conf.leader != NULL &&
			           !srv_leader_is_writer(w->conf.leader)) {
				if ((follow_due = now >= w->follow_at_ms))
					break;
				wake = w->follow_at_ms;
			}
			if (wake == LLONG_MAX) {
				pthread_cond_wait(&w->cv, &w->mtx);
				continue;
			}
			srv_deadline(&ts, wake - now);
			pthread_cond_timedwait(&w->cv, &w->mtx, &ts);
		}
		stop = w->stopping;
		changed = w->role_changed;
		w->role_changed = false;
		if (w->has_job) {
			job = w->job;
			have = true;
			w->has_job = false;
			w->running_job = true;
		}
		pthread_mutex_unlock(&w->mtx);
		if (stop) {
			if (have)
				job_fail(w, &job, AMLRISK_ECANCELED,
				         "the core server is shutting down");
			break;
		}
		snprintf(err, sizeof(err), "database not reached yet");
		if (changed)
			role_changed(w);
		if (follow_due) {
			bool failed;
			w->follow_at_ms = srv_mono_ms() + w->conf.follow_ms;
			if ((failed = follow(w, err, sizeof(err)) != 0) && !w->follow_failing)
				amlrisk_log(AMLRISK_LOG_WARN, "core", "follow.failed",
				            "error=\"%s\" effect=\"retried every FOLLOW_MS\"", err);
			w->follow_failing = failed;
		}
		if (atomic_load(&w->starting) && startup(w, err, sizeof(err)) != 0) {
			w->retry_ms = w->retry_ms == 0
			                      ? RETRY_MIN_MS
			                      : (w->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS
			                                                        : w->retry_ms * 2);
			w->retry_at_ms = srv_mono_ms() + w->retry_ms;
			amlrisk_log(AMLRISK_LOG_WARN, "core", "startup.retry",
			            "in_ms=%d error=\"%s\"", w->retry_ms, err);
		}
		if (have)
			job_run(w, &job, err); /* answers, releasing the slot first */
	}
	PQfinish(w->conn);
	w->conn = NULL;
	return NULL;
}

int
srv_writer_create(srv_writer **out, const srv_writer_conf *conf, srv_state *state)
{
	srv_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return AMLRISK_ENOMEM;
	w->conf = *conf;
	w->state = state;
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cv, NULL);
	atomic_init(&w->cancel, false);
	atomic_init(&w->starting, 1);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		srv_writer_destroy(w);
		return AMLRISK_ENOMEM;
	}
	w->thread_started = true;
	*out = w;
	return AMLRISK_OK;
}

int
srv_writer_submit(srv_writer *w, const srv_job *job)
{
	int rv = AMLRISK_OK;

	pthread_mutex_lock(&w->mtx);
	if (w->stopping)
		rv = AMLRISK_ECANCELED;
	else if (srv_leader_role(w->conf.leader) == SRV_ROLE_READER)
		rv = AMLRISK_ESTATE;
	else if (w->has_job || w->running_job)
		rv = AMLRISK_EBUSY;
	else {
		w->job = *job;
		w->has_job = true;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mtx);
	return rv;
}

void
srv_writer_stop(srv_writer *w)
{
	pthread_mutex_lock(&w->mtx);
	w->stopping = true;
	atomic_store(&w->cancel, true);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

void
srv_writer_destroy(srv_writer *w)
{
	if (w == NULL)
		return;
	if (w->thread_started) {
		srv_writer_stop(w);
		pthread_join(w->thread, NULL);
	}
	PQfinish(w->conn);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mtx);
	free(w);
}

void
srv_writer_on_role(void *arg, srv_role role)
{
	srv_writer *w = arg;

	(void)role;
	pthread_mutex_lock(&w->mtx);
	w->role_changed = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

int
srv_writer_starting(srv_writer *w)
{
	return atomic_load(&w->starting);
}
