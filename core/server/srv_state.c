/* srv_state.c - the shared pointers and their one mutex. Every operation is a
 * copy or a pointer swap; frees happen after the lock is dropped. */
#include "srv_state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "amlrisk_err.h"

struct srv_state {
	pthread_mutex_t mtx;
	core_graph *graph; /* one reference */
	srv_graph_info info;
	srv_run *latest; /* one reference */
	bool latest_known;
	bool db_ok;
	char db_err[256];
	srv_run *live; /* one reference */
	srv_live_info live_info;
	int64_t tx_seq; /* rows of transactions with seq <= tx_seq: tx_count */
	uint64_t tx_count;
};

int
srv_state_create(srv_state **out)
{
	srv_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return AMLRISK_ENOMEM;
	pthread_mutex_init(&s->mtx, NULL);
	snprintf(s->db_err, sizeof(s->db_err), "not checked yet");
	s->live_info.watermark = -1;
	*out = s;
	return AMLRISK_OK;
}

void
srv_state_destroy(srv_state *s)
{
	if (s == NULL)
		return;
	core_graph_unref(s->graph);
	srv_run_unref(s->latest);
	srv_run_unref(s->live);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

core_graph *
srv_state_graph(srv_state *s, srv_graph_info *info)
{
	core_graph *g;

	pthread_mutex_lock(&s->mtx);
	g = s->graph != NULL ? core_graph_ref(s->graph) : NULL;
	if (info != NULL)
		*info = s->info;
	pthread_mutex_unlock(&s->mtx);
	return g;
}

/* Swaps in g under the lock; returns the old graph to unref outside it. */
static core_graph *
swap_graph_locked(srv_state *s, core_graph *g, const srv_graph_info *info)
{
	core_graph *old = s->graph;

	s->graph = g;
	s->info = *info;
	s->info.loaded = g != NULL;
	if (g != NULL && info->watermark > s->tx_seq) {
		/* a graph covers every row up to its watermark */
		s->tx_seq = info->watermark;
		s->tx_count = info->transactions;
	}
	return old;
}

void
srv_state_set_graph(srv_state *s, core_graph *g, const srv_graph_info *info)
{
	core_graph *old;

	pthread_mutex_lock(&s->mtx);
	old = swap_graph_locked(s, g, info);
	pthread_mutex_unlock(&s->mtx);
	core_graph_unref(old);
}

bool
srv_state_advance_graph(srv_state *s, const core_graph *expected, core_graph *g,
                        const srv_graph_info *info)
{
	core_graph *old = NULL;
	bool same;

	/* only the writer and the follower set graphs: a ReloadGraph in between
	 * makes the follower start again from the reloaded graph */
	pthread_mutex_lock(&s->mtx);
	same = s->graph == expected;
	if (same)
		old = swap_graph_locked(s, g, info);
	pthread_mutex_unlock(&s->mtx);
	core_graph_unref(old);
	return same;
}

srv_run *
srv_state_live(srv_state *s, srv_live_info *info)
{
	srv_run *r;

	pthread_mutex_lock(&s->mtx);
	r = srv_run_ref(s->live);
	if (info != NULL)
		*info = s->live_info;
	pthread_mutex_unlock(&s->mtx);
	return r;
}

void
srv_state_set_live(srv_state *s, srv_run *r, const srv_live_info *info)
{
	srv_run *old = NULL;

	pthread_mutex_lock(&s->mtx);
	if (r != NULL) {
		old = s->live;
		s->live = r;
	}
	s->live_info = *info;
	pthread_mutex_unlock(&s->mtx);
	srv_run_unref(old);
}

void
srv_state_tx_count(srv_state *s, int64_t *seq, uint64_t *count)
{
	pthread_mutex_lock(&s->mtx);
	*seq = s->tx_seq;
	*count = s->tx_count;
	pthread_mutex_unlock(&s->mtx);
}

void
srv_state_set_tx_count(srv_state *s, int64_t seq, uint64_t count)
{
	pthread_mutex_lock(&s->mtx);
	if (seq > s->tx_seq) {
		s->tx_seq = seq;
		s->tx_count = count;
	}
	pthread_mutex_unlock(&s->mtx);
}

srv_run *
srv_state_latest(srv_state *s, bool *known)
{
	srv_run *r;

	pthread_mutex_lock(&s->mtx);
	r = srv_run_ref(s->latest);
	if (known != NULL)
		*known = s->latest_known;
	pthread_mutex_unlock(&s->mtx);
	return r;
}

void
srv_state_set_latest(srv_state *s, srv_run *r)
{
	srv_run *old;

	pthread_mutex_lock(&s->mtx);
	old = s->latest;
	s->latest = r;
	s->latest_known = true;
	pthread_mutex_unlock(&s->mtx);
	srv_run_unref(old);
}

void
srv_state_set_db(srv_state *s, bool ok, const char *err)
{
	pthread_mutex_lock(&s->mtx);
	s->db_ok = ok;
	snprintf(s->db_err, sizeof(s->db_err), "%s", ok || err == NULL ? "" : err);
	pthread_mutex_unlock(&s->mtx);
}

bool
srv_state_db(srv_state *s, char *err, size_t errlen)
{
	bool ok;

	pthread_mutex_lock(&s->mtx);
	ok = s->db_ok;
	if (errlen > 0)
		snprintf(err, errlen, "%s", s->db_err);
	pthread_mutex_unlock(&s->mtx);
	return ok;
}
