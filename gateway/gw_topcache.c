/* gw_topcache.c - the /scores/top answer cache (see gw_topcache.h): a fixed
 * array of slots indexed by a hash of (n, run_id asked), each holding one
 * reference-counted answer; one mutex, held only to swap references. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "gw_topcache.h"

#define SLOTS 64 /* answers kept at most (a few KiB each for n = 20) */

struct gw_topbody {
	atomic_int refs;
	uint32_t n;    /* the key: rows asked for */
	int64_t asked; /* the key: run_id asked for (0 = the latest) */
	int64_t run;   /* the run the answer was built from */
	size_t len;
	char text[]; /* len bytes, then a NUL */
};

struct gw_topcache {
	pthread_mutex_t mtx;
	gw_topbody *slot[SLOTS];
};

int
gw_topcache_create(gw_topcache **out)
{
	gw_topcache *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		return AMLRISK_ENOMEM;
	}
	pthread_mutex_init(&c->mtx, NULL);
	*out = c;
	return AMLRISK_OK;
}

void
gw_topcache_destroy(gw_topcache *c)
{
	if (c == NULL) {
		return;
	}
	for (size_t i = 0; i < SLOTS; i++) {
		gw_topbody_release(c->slot[i]);
	}
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

static size_t
slot_of(uint32_t n, int64_t run_id)
{
	uint64_t h = ((uint64_t)run_id * 0x9e3779b97f4a7c15u) ^ n;

	return (size_t)((h ^ (h >> 29)) % SLOTS);
}

gw_topbody *
gw_topcache_get(gw_topcache *c, uint32_t n, int64_t run_id)
{
	gw_topbody *b;

	pthread_mutex_lock(&c->mtx);
	b = c->slot[slot_of(n, run_id)];
	if (b != NULL && b->n == n && b->asked == run_id) {
		atomic_fetch_add(&b->refs, 1);
	} else {
		b = NULL;
	}
	pthread_mutex_unlock(&c->mtx);
	return b;
}

void
gw_topcache_put(gw_topcache *c, uint32_t n, int64_t run_id, int64_t of, const char *body,
                size_t len)
{
	gw_topbody *b = malloc(sizeof(*b) + len + 1), *old;
	size_t i = slot_of(n, run_id);

	if (b == NULL) {
		return;
	}
	atomic_init(&b->refs, 1);
	b->n = n;
	b->asked = run_id;
	b->run = of;
	b->len = len;
	memcpy(b->text, body, len);
	b->text[len] = '\0';
	pthread_mutex_lock(&c->mtx);
	old = c->slot[i];
	c->slot[i] = b;
	pthread_mutex_unlock(&c->mtx);
	gw_topbody_release(old);
}

int64_t
gw_topbody_run(const gw_topbody *b)
{
	return b->run;
}

void
gw_topbody_reply(const gw_topbody *b, gw_reply *rep)
{
	char *copy = malloc(b->len + 1);

	if (copy == NULL) {
		gw_reply_error(rep, 500, "out of memory");
		return;
	}
	memcpy(copy, b->text, b->len + 1);
	gw_reply_owned(rep, 200, GW_CT_JSON, copy, b->len);
}

void
gw_topbody_release(gw_topbody *b)
{
	if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1) {
		free(b);
	}
}
