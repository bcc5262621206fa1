/* core_intern.c - wallet id interning: a contiguous string arena plus an
 * open-addressing hash table. Sized for tens of millions of lookups per second
 * while a graph streams in (two lookups per transaction). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define INTERN_SLOTS_MIN 64
#define HUGE_PAGE (2u << 20)

void
core_mem_huge(void *p, size_t size)
{
	uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	uintptr_t e = ((uintptr_t)p + size) & ~(uintptr_t)(HUGE_PAGE - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

/* A fast non-cryptographic hash, 8 bytes a step, finished with splitmix64. */
static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ (len * 0x9e3779b97f4a7c15ull);
	const unsigned char *p = (const unsigned char *)s;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		uint64_t w = 0;
		memcpy(&w, p, len);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	return core_mix64(h);
}

static size_t
pow2_at_least(size_t v)
{
	size_t p = INTERN_SLOTS_MIN;
	while (p < v)
		p <<= 1;
	return p;
}

int
core_intern_init(core_intern *t, size_t hint)
{
	memset(t, 0, sizeof *t);
	size_t nslots = pow2_at_least(hint * 2);
	t->slots = calloc(nslots, 2 * sizeof(uint32_t));
	t->id_cap = hint + 1;
	t->off = malloc(t->id_cap * sizeof(uint64_t));
	t->len = malloc(t->id_cap * sizeof(uint32_t));
	t->arena_cap = hint * 16 + 64;
	t->arena = malloc(t->arena_cap);
	if (t->slots == NULL || t->off == NULL || t->len == NULL || t->arena == NULL) {
		core_intern_fini(t);
		return AMLRISK_ENOMEM;
	}
	t->mask = nslots - 1;
	return AMLRISK_OK;
}

void
core_intern_fini(core_intern *t)
{
	free(t->slots);
	free(t->off);
	free(t->len);
	free(t->arena);
	memset(t, 0, sizeof *t);
}

static int
table_grow(core_intern *t)
{
	size_t nslots = (t->mask + 1) * 2;
	uint32_t *ns = calloc(nslots, 2 * sizeof(uint32_t));
	if (ns == NULL)
		return AMLRISK_ENOMEM;
	size_t nmask = nslots - 1;
	core_mem_huge(ns, nslots * 2 * sizeof(uint32_t));
	for (size_t i = 0; i <= t->mask; i++) {
		uint32_t idp1 = t->slots[2 * i];
		if (idp1 == 0)
			continue;
		uint32_t hb = t->slots[2 * i + 1];
		size_t j = hb & nmask;
		while (ns[2 * j] != 0)
			j = (j + 1) & nmask;
		ns[2 * j] = idp1;
		ns[2 * j + 1] = hb;
	}
	free(t->slots);
	t->slots = ns;
	t->mask = nmask;
	return AMLRISK_OK;
}

/* The slot holding s, or the empty slot where it would go. */
static size_t
slot_find(const core_intern *t, const char *s, size_t len, uint32_t hb)
{
	size_t j = hb & t->mask;
	for (;;) {
		uint32_t idp1 = t->slots[2 * j];
		if (idp1 == 0)
			return j;
		if (t->slots[2 * j + 1] == hb) {
			uint32_t id = idp1 - 1;
			if (t->len[id] == len && memcmp(t->arena + t->off[id], s, len) == 0)
				return j;
		}
		j = (j + 1) & t->mask;
	}
}

static int
ensure(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return AMLRISK_OK;
	size_t nc = *cap * 2;
	if (nc < need)
		nc = need;
	void *np = realloc(*p, nc * elem);
	if (np == NULL)
		return AMLRISK_ENOMEM;
	*p = np;
	*cap = nc;
	core_mem_huge(np, nc * elem);
	return AMLRISK_OK;
}

static int
ids_grow(core_intern *t)
{
	size_t nc = t->id_cap * 2;
	uint64_t *o = realloc(t->off, nc * sizeof(uint64_t));
	if (o == NULL)
		return AMLRISK_ENOMEM;
	t->off = o;
	uint32_t *l = realloc(t->len, nc * sizeof(uint32_t));
	if (l == NULL)
		return AMLRISK_ENOMEM;
	t->len = l;
	t->id_cap = nc;
	return AMLRISK_OK;
}

/* Puts s whose hash bits are hb; the table has room (see table_room). */
static int
put_hashed(core_intern *t, const char *s, size_t len, uint32_t hb, uint32_t *id, bool *added)
{
	int rv;
	size_t j = slot_find(t, s, len, hb);
	if (t->slots[2 * j] != 0) {
		*id = t->slots[2 * j] - 1;
		if (added != NULL)
			*added = false;
		return AMLRISK_OK;
	}
	if (t->count >= CORE_WALLETS_MAX)
		return AMLRISK_ETOOBIG;
	if ((rv = ensure((void **)&t->arena, &t->arena_cap, t->arena_len + len + 1, 1)) != 0)
		return rv;
	if (t->count == t->id_cap && (rv = ids_grow(t)) != 0)
		return rv;
	uint32_t nid = t->count++;
	t->off[nid] = t->arena_len;
	t->len[nid] = (uint32_t)len;
	memcpy(t->arena + t->arena_len, s, len);
	t->arena[t->arena_len + len] = '\0';
	t->arena_len += len + 1;
	t->slots[2 * j] = nid + 1;
	t->slots[2 * j + 1] = hb;
	*id = nid;
	if (added != NULL)
		*added = true;
	return AMLRISK_OK;
}

/* Grows the table first when extra more ids could push its load over 1/2, so
 * a failure leaves it as it was and slot positions stay put while they go in. */
static int
table_room(core_intern *t, size_t extra)
{
	int rv;
	while (((size_t)t->count + extra) * 2 > t->mask + 1)
		if ((rv = table_grow(t)) != 0)
			return rv;
	return AMLRISK_OK;
}

int
core_intern_put(core_intern *t, const char *s, size_t len, uint32_t *id, bool *added)
{
	int rv;
	if ((rv = table_room(t, 1)) != 0)
		return rv;
	return put_hashed(t, s, len, (uint32_t)(hash_bytes(s, len) >> 32), id, added);
}

int
core_intern_put_many(core_intern *t, const char *const *s, const size_t *len, size_t n,
                     uint32_t *ids)
{
	uint32_t hb[CORE_INTERN_BATCH], cand[CORE_INTERN_BATCH];
	int rv;
	if (n > CORE_INTERN_BATCH)
		return AMLRISK_EINVAL;
	if ((rv = table_room(t, n)) != 0)
		return rv;
	/* each stage only prefetches for the next, so misses overlap */
	for (size_t i = 0; i < n; i++) {
		hb[i] = (uint32_t)(hash_bytes(s[i], len[i]) >> 32);
		__builtin_prefetch(&t->slots[2 * (hb[i] & t->mask)]);
	}
	for (size_t i = 0; i < n; i++) {
		const uint32_t *sl = &t->slots[2 * (hb[i] & t->mask)];
		cand[i] = sl[0] != 0 && sl[1] == hb[i] ? sl[0] - 1 : UINT32_MAX;
		if (cand[i] != UINT32_MAX) {
			__builtin_prefetch(&t->off[cand[i]]);
			__builtin_prefetch(&t->len[cand[i]]);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (cand[i] != UINT32_MAX)
			__builtin_prefetch(t->arena + t->off[cand[i]]);
	for (size_t i = 0; i < n; i++)
		if ((rv = put_hashed(t, s[i], len[i], hb[i], &ids[i], NULL)) != 0)
			return rv;
	return AMLRISK_OK;
}

int
core_intern_find(const core_intern *t, const char *s, size_t len, uint32_t *id)
{
	if (t->slots == NULL)
		return AMLRISK_ENOTFOUND;
	uint32_t hb = (uint32_t)(hash_bytes(s, len) >> 32);
	size_t j = slot_find(t, s, len, hb);
	if (t->slots[2 * j] == 0)
		return AMLRISK_ENOTFOUND;
	*id = t->slots[2 * j] - 1;
	return AMLRISK_OK;
}

int
core_intern_permute(core_intern *t, const uint32_t *perm)
{
	size_t n = t->count ? t->count : 1;
	uint64_t *o = malloc(n * sizeof(uint64_t));
	uint32_t *l = malloc(n * sizeof(uint32_t));
	if (o == NULL || l == NULL) {
		free(o);
		free(l);
		return AMLRISK_ENOMEM;
	}
	for (uint32_t i = 0; i < t->count; i++) {
		o[perm[i]] = t->off[i];
		l[perm[i]] = t->len[i];
	}
	for (size_t j = 0; j <= t->mask; j++)
		if (t->slots[2 * j] != 0)
			t->slots[2 * j] = perm[t->slots[2 * j] - 1] + 1;
	free(t->off);
	free(t->len);
	t->off = o;
	t->len = l;
	t->id_cap = n;
	return AMLRISK_OK;
}

void
core_intern_shrink(core_intern *t)
{
	size_t n = t->count ? t->count : 1;
	char *a = realloc(t->arena, t->arena_len > 0 ? t->arena_len : 1);
	if (a != NULL) {
		t->arena = a;
		t->arena_cap = t->arena_len > 0 ? t->arena_len : 1;
	}
	if (n >= t->id_cap)
		return;
	uint64_t *o = realloc(t->off, n * sizeof(uint64_t));
	if (o != NULL)
		t->off = o;
	uint32_t *l = realloc(t->len, n * sizeof(uint32_t));
	if (l != NULL)
		t->len = l;
	if (o != NULL && l != NULL)
		t->id_cap = n;
}

size_t
core_intern_bytes(const core_intern *t)
{
	return t->arena_cap + t->id_cap * (sizeof(uint64_t) + sizeof(uint32_t)) +
	       (t->mask + 1) * 2 * sizeof(uint32_t);
}

/* ------------------------------------------------------------- labels --- */

int
core_labels_create(core_labels **out)
{
	int rv;
	core_labels *l = calloc(1, sizeof *l);
	if (l == NULL)
		return AMLRISK_ENOMEM;
	if ((rv = core_intern_init(&l->ids, 16)) != 0) {
		free(l);
		return rv;
	}
	*out = l;
	return AMLRISK_OK;
}

int
core_labels_add(core_labels *l, const char *wallet, size_t len)
{
	uint32_t id;
	if (!core_wallet_ok(wallet, len))
		return AMLRISK_EINVAL;
	return core_intern_put(&l->ids, wallet, len, &id, NULL);
}

size_t
core_labels_count(const core_labels *l)
{
	return l->ids.count;
}

bool
core_labels_has(const core_labels *l, const char *wallet, size_t len)
{
	uint32_t id;
	return core_intern_find(&l->ids, wallet, len, &id) == AMLRISK_OK;
}

void
core_labels_destroy(core_labels *l)
{
	if (l == NULL)
		return;
	core_intern_fini(&l->ids);
	free(l);
}
