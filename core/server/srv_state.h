/* srv_state.h - what every handler reads and only the background threads
 * replace: the current graph (the writer's loads, the follower's appends),
 * the latest completed run (writer), the live view (follower) and the
 * database health the monitor last saw. Swaps happen under a mutex held for a
 * few instructions; readers leave with their own reference and never block
 * a writer. */
#ifndef SRV_STATE_H
#define SRV_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core_engine.h"
#include "srv_run.h"

typedef struct srv_graph_info {
	bool loaded;
	uint64_t wallets, edges, transactions;
	int64_t watermark;    /* max(seq) covered */
	int64_t loaded_at_us; /* Unix microseconds */
	double load_s;
} srv_graph_info;

/* The live view (issue 14) as the follower last published it. When live
 * scoring is off the follower still keeps the graph current: watermark is
 * then the graph's. */
typedef struct srv_live_info {
	bool enabled;      /* LIVE_SCORING_CONFIG set */
	const char *model; /* static (core_model_name()); NULL when off */
	char config_json[CORE_CONFIG_JSON_MAX];
	int64_t watermark;       /* seq the live scores reflect; -1 before the first */
	int64_t updated_at_us;   /* when they reached it (Unix us; 0: never) */
	int64_t newest;          /* newest committed seq the follower knows of */
	uint64_t lag_rows;       /* committed rows above watermark, as last counted */
	int64_t behind_since_us; /* Unix us of the oldest notice of rows not yet in
	                          * the view; 0 when current */
	uint64_t alerts_fired;   /* alerts the live updates wrote since start */
	uint64_t alerts_waits;   /* crossings the bounds deferred to later updates */
	uint64_t alerts_pending; /* risk_alerts not yet published, as last counted */
} srv_live_info;

typedef struct srv_state srv_state;

int srv_state_create(srv_state **out);
/* Drops the references held. NULL is a no-op. */
void srv_state_destroy(srv_state *s);

/* A new reference to the current graph (NULL when none) and its info (may be
 * NULL). The caller core_graph_unref()s it. */
core_graph *srv_state_graph(srv_state *s, srv_graph_info *info);
/* Replaces the graph; takes ownership of the caller's reference to g. */
void srv_state_set_graph(srv_state *s, core_graph *g, const srv_graph_info *info);

/* Replaces the graph only if the current one is still expected (the
 * follower's append raced with no ReloadGraph); takes ownership of g on
 * success (returns true), leaves it with the caller otherwise. */
bool srv_state_advance_graph(srv_state *s, const core_graph *expected, core_graph *g,
                             const srv_graph_info *info);

/* The live result (a run with id 0; NULL before the first live update) with a
 * new reference, and the live info (may be NULL) copied. */
srv_run *srv_state_live(srv_state *s, srv_live_info *info);
/* Sets the live info and, when r is not NULL, replaces the live result
 * (ownership of the caller's reference passes). */
void srv_state_set_live(srv_state *s, srv_run *r, const srv_live_info *info);

/* A new reference to the latest completed run, or NULL. *known (may be NULL)
 * is false until start-up has learnt from the database which run is latest. */
srv_run *srv_state_latest(srv_state *s, bool *known);
/* Replaces the latest run (NULL = none) and marks it known; takes ownership
 * of the caller's reference. */
void srv_state_set_latest(srv_state *s, srv_run *r);

/* The number of rows in transactions with seq <= *seq, as last counted
 * (0 and 0 before any count). Rows are appended in sequence order and never
 * change (see sql/migrations), so a count up to a sequence number stays true
 * and IngestionStatus only counts the rows above it. The graph's load sets it
 * too. _set keeps the higher sequence. */
void srv_state_tx_count(srv_state *s, int64_t *seq, uint64_t *count);
void srv_state_set_tx_count(srv_state *s, int64_t seq, uint64_t count);
/* Database health as the monitor saw it last (err gets "" when fine). */
void srv_state_set_db(srv_state *s, bool ok, const char *err);
bool srv_state_db(srv_state *s, char *err, size_t errlen);

#endif
