/* srv_follow.h - the follower (issue 14): a thread with its own PostgreSQL
 * connection that LISTENs to the consumer's notices of committed batches and
 * polls as a fallback, appends the rows above the graph's watermark to the
 * current graph (a new version, published whole), and, with a live config,
 * brings the live view up to date after each catch-up. */
#ifndef SRV_FOLLOW_H
#define SRV_FOLLOW_H

#include "srv_leader.h"
#include "srv_metrics.h"
#include "srv_opts.h"
#include "srv_state.h"

typedef struct srv_follow srv_follow;

/* Called after a live update wrote alerts (wakes the outbox relay). */
typedef void (*srv_follow_kick_fn)(void *arg);

/* Starts the thread with o's database, LIVE_POLL_MS, threads, labels bound
 * and (live_on) live config and rules. It waits for the writer's start-up
 * graph, then follows. Borrows o, state, leader (the election of several
 * cores: only the writer records live updates and alerts; NULL = always),
 * kick(kick_arg) (may be NULL) and metrics (may be NULL); all outlive the
 * follower. AMLRISK_OK and *out, AMLRISK_ENOMEM, AMLRISK_EIO. */
int srv_follow_create(srv_follow **out, const srv_opts *o, srv_state *state, srv_leader *leader,
                      srv_follow_kick_fn kick, void *kick_arg, srv_metrics *metrics);
/* Stops the thread (an update in progress is abandoned at its next check,
 * a scoring runs to its end) and frees. NULL is a no-op. */
void srv_follow_destroy(srv_follow *f);

#endif
