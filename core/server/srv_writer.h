/* srv_writer.h - the server's one writer: a thread that runs start-up
 * (recover interrupted runs, load the latest run, the graph), ReloadGraph and
 * RunScore one at a time, each on its own database connection, and answers
 * their RPCs when done. Handlers only queue work here and return. */
#ifndef SRV_WRITER_H
#define SRV_WRITER_H

#include <stddef.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_retain.h"
#include "core_engine.h"
#include "srv_leader.h"
#include "srv_metrics.h"
#include "srv_state.h"

typedef enum srv_job_kind {
	SRV_JOB_RELOAD,
	SRV_JOB_SCORE,
} srv_job_kind;

/* A queued call: the RPC's closure (answered exactly once by the writer) and
 * what it needs, copied out of the request. */
typedef struct srv_job {
	srv_job_kind kind;
	core_config cfg; /* SCORE: the validated config of the run */
	Aml__V1__ReloadGraphResponse_Closure reload_done;
	Aml__V1__RunScoreResponse_Closure score_done;
	void *closure_data;
} srv_job;

typedef struct srv_writer_conf {
	const char *database_url; /* borrowed; outlives the writer */
	unsigned threads;         /* graph build and scoring */
	size_t labels_max;
	srv_metrics *metrics; /* borrowed; NULL: metrics off */
	srv_leader *leader;   /* borrowed; the election (NULL: always the writer) */
	int follow_ms;        /* a reader looks for a newer completed run this often */
	int elect_poll_ms;    /* the election's poll period */
	const amlrisk_retain *retain; /* borrowed; NULL or no rule: no retention */
} srv_writer_conf;

typedef struct srv_writer srv_writer;

/* Starts the writer thread, which begins with start-up work. Borrows state. */
int srv_writer_create(srv_writer **out, const srv_writer_conf *conf, srv_state *state);

/* Queues job. AMLRISK_ESTATE when another instance is the writer;
 * AMLRISK_EBUSY when a ReloadGraph or RunScore is already running
 * or queued (start-up work does not count: a job waits for it), AMLRISK_ECANCELED
 * when stopping. On success the writer owns the answer; on failure the caller
 * still does. */
int srv_writer_submit(srv_writer *w, const srv_job *job);

/* Stops taking jobs, cancels the one running at its next check (a COPY chunk;
 * scoring itself runs to its end) and answers it and any queued one
 * CANCELLED. Returns at once; srv_writer_destroy() waits for the thread. */
void srv_writer_stop(srv_writer *w);
/* Stops (if not yet) and joins the thread, then frees. NULL is a no-op. */
void srv_writer_destroy(srv_writer *w);

/* srv_leader_fn: the election changed the role (arg is the writer). A new
 * writer marks runs left running failed and loads the newest completed run
 * before its first job; a reader follows completed runs (every follow_ms) and
 * refuses ReloadGraph and RunScore with AMLRISK_ESTATE "not the writer; ...". */
void srv_writer_on_role(void *arg, srv_role role);

/* 1 while start-up work is still to do (or being retried). */
int srv_writer_starting(srv_writer *w);

#endif
