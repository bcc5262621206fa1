/* srv_alertset.c - the disarmed wallets of one rule (srv_alertset.h): dense
 * entries, a linear-probing index (entry index + 1 per slot, 0 = empty, at
 * most half full) with backward-shift deletion, so no tombstones build up. */
#include "srv_alertset.h"

#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_engine.h"

struct srv_alertset {
	srv_alertset_entry *e; /* owned, count used of cap */
	size_t count, cap;
	uint32_t *slot; /* owned, mask + 1 slots (a power of 2), NULL while empty */
	size_t mask;
};

int
srv_alertset_create(srv_alertset **out)
{
	srv_alertset *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return AMLRISK_ENOMEM;
	*out = s;
	return AMLRISK_OK;
}

void
srv_alertset_clear(srv_alertset *s)
{
	for (size_t i = 0; i < s->count; i++)
		free(s->e[i].wallet);
	s->count = 0;
	if (s->slot != NULL)
		memset(s->slot, 0, (s->mask + 1) * sizeof(*s->slot));
}

void
srv_alertset_destroy(srv_alertset *s)
{
	if (s == NULL)
		return;
	srv_alertset_clear(s);
	free(s->e);
	free(s->slot);
	free(s);
}

size_t
srv_alertset_count(const srv_alertset *s)
{
	return s->count;
}

srv_alertset_entry *
srv_alertset_at(srv_alertset *s, size_t i)
{
	return &s->e[i];
}

static size_t
home(const srv_alertset *s, const char *wallet, size_t len)
{
	return (size_t)core_fnv1a64(wallet, len) & s->mask;
}

/* The slot holding wallet, or the empty slot where it would go. */
static size_t
probe(const srv_alertset *s, const char *wallet, size_t len)
{
	size_t i = home(s, wallet, len);

	while (s->slot[i] != 0) {
		const srv_alertset_entry *x = &s->e[s->slot[i] - 1];
		if (x->len == len && memcmp(x->wallet, wallet, len) == 0)
			break;
		i = (i + 1) & s->mask;
	}
	return i;
}

long
srv_alertset_find(const srv_alertset *s, const char *wallet, size_t len)
{
	if (s->count == 0)
		return -1;
	size_t i = probe(s, wallet, len);
	return s->slot[i] != 0 ? (long)s->slot[i] - 1 : -1;
}

int
srv_alertset_reserve(srv_alertset *s, size_t n)
{
	size_t want = s->count + n, slots = 16;

	if (want > UINT32_MAX - 1)
		return AMLRISK_ENOMEM;
	if (want > s->cap) {
		size_t cap = s->cap < 16 ? 16 : s->cap;
		while (cap < want)
			cap *= 2;
		srv_alertset_entry *e = realloc(s->e, cap * sizeof(*e));
		if (e == NULL)
			return AMLRISK_ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	while (slots < 2 * want)
		slots *= 2;
	if (s->slot != NULL && slots <= s->mask + 1)
		return AMLRISK_OK;
	uint32_t *slot = calloc(slots, sizeof(*slot));
	if (slot == NULL)
		return AMLRISK_ENOMEM;
	free(s->slot);
	s->slot = slot;
	s->mask = slots - 1;
	for (size_t i = 0; i < s->count; i++)
		s->slot[probe(s, s->e[i].wallet, s->e[i].len)] = (uint32_t)i + 1;
	return AMLRISK_OK;
}

void
srv_alertset_add(srv_alertset *s, char *wallet, size_t len, uint32_t id, double score)
{
	srv_alertset_entry *x = &s->e[s->count];

	x->wallet = wallet;
	x->len = len;
	x->id = id;
	x->score = score;
	s->slot[probe(s, wallet, len)] = (uint32_t)++s->count;
}

void
srv_alertset_remove(srv_alertset *s, size_t i)
{
	size_t at = probe(s, s->e[i].wallet, s->e[i].len), last = s->count - 1;

	/* backward shift: pull later members of the run into the hole */
	s->slot[at] = 0;
	for (size_t j = (at + 1) & s->mask; s->slot[j] != 0; j = (j + 1) & s->mask) {
		const srv_alertset_entry *x = &s->e[s->slot[j] - 1];
		size_t h = home(s, x->wallet, x->len);
		/* j may move to the hole when its home is not in (at, j] */
		if (((j - h) & s->mask) >= ((j - at) & s->mask)) {
			s->slot[at] = s->slot[j];
			s->slot[j] = 0;
			at = j;
		}
	}
	free(s->e[i].wallet);
	if (i != last) {
		s->e[i] = s->e[last];
		s->slot[probe(s, s->e[i].wallet, s->e[i].len)] = (uint32_t)i + 1;
	}
	s->count--;
}
