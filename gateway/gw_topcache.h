/* gw_topcache.h - the gateway's copies of recent GET /scores/top answers. A
 * completed run's scores never change, so the answer for (n, run_id asked)
 * stays right while the run it came from is still the one that request
 * resolves to. The gateway names the run it holds in the call
 * (TopScoresRequest.known_run_id); when the core answers "unchanged" the copy
 * is sent instead of rebuilding up to 1000 rows on both sides. Still one RPC
 * per request: the core decides, the gateway never guesses. Bounded: a fixed
 * number of slots, one answer each. Thread-safe. */
#ifndef GW_TOPCACHE_H
#define GW_TOPCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gw.h"

typedef struct gw_topcache gw_topcache;
typedef struct gw_topbody gw_topbody; /* one answer: immutable, reference-counted */

/* An empty cache; *out is written only on success (AMLRISK_OK or AMLRISK_ENOMEM).
 * Free with gw_topcache_destroy() (NULL is fine) once no request uses it. */
int gw_topcache_create(gw_topcache **out);
void gw_topcache_destroy(gw_topcache *c);

/* A new reference to the answer held for (n, run_id), or NULL when none; the
 * caller releases it with gw_topbody_release(). */
gw_topbody *gw_topcache_get(gw_topcache *c, uint32_t n, int64_t run_id);
/* Keeps a copy of body (len bytes) as the answer for (n, run_id), built from
 * run `of`, in place of what that slot held. Out of memory: nothing is kept. */
void gw_topcache_put(gw_topcache *c, uint32_t n, int64_t run_id, int64_t of, const char *body,
                     size_t len);

/* The run b was built from. */
int64_t gw_topbody_run(const gw_topbody *b);
/* Copies b's text into rep as a 200 JSON answer (500 when out of memory). */
void gw_topbody_reply(const gw_topbody *b, gw_reply *rep);
/* Drops a reference (NULL is fine); the last one frees b. */
void gw_topbody_release(gw_topbody *b);

#endif
