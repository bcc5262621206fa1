/* core_intern.c - wallet id interning: a contiguous string arena plus an
 * open-addressing hash table. Sized for tens of millions of lookups per second
 * while a graph streams in (two lookups per transaction). */
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define INTERN_SLOTS_MIN 64

/* A fast non-cryptographic hash, 8 bytes a step, finished with splitmix64. */
uint64_t
core_intern_hash(const char *s, size_t len)
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

#define TAG_BITS  24
#define TAG_MASK  ((1ull << TAG_BITS) - 1)
#define ARENA_MAX (1ull << 40) /* offsets are 40 bits */

/* The table index of a hash takes its low bits, the tag its high ones. */
static inline uint64_t
tag_of(uint64_t h)
{
	return h >> (64 - TAG_BITS);
}

int
core_intern_init(core_intern *t, size_t hint)
{
	memset(t, 0, sizeof *t);
	size_t nslots = pow2_at_least(hint * 2);
	t->slots = core_mem_alloc(nslots * sizeof(uint64_t));
	t->id_cap = hint + 1;
	t->off = core_mem_alloc(t->id_cap * sizeof(uint64_t));
	t->arena_cap = hint * 32 + 64;
	t->arena = core_mem_alloc(t->arena_cap);
	if (t->slots == NULL || t->off == NULL || t->arena == NULL) {
		core_intern_fini(t);
		return AMLRISK_ENOMEM;
	}
	t->mask = nslots - 1;
	memset(t->arena, 0, 8); /* no entry sits at offset 0, so a slot is never 0 */
	t->arena_len = 8;
	return AMLRISK_OK;
}

void
core_intern_fini(core_intern *t)
{
	core_mem_free(t->slots);
	core_mem_free(t->off);
	core_mem_free(t->arena);
	memset(t, 0, sizeof *t);
}

/* Byte equality without a call for the usual short ids. */
static inline bool
bytes_eq(const char *a, const char *b, size_t n)
{
	while (n >= 8) {
		uint64_t x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
		a += 8;
		b += 8;
		n -= 8;
	}
	while (n > 0) {
		if (*a++ != *b++)
			return false;
		n--;
	}
	return true;
}

static inline bool
entry_is(const core_intern *t, uint64_t slot, const char *s, size_t len)
{
	const char *e = t->arena + (slot >> TAG_BITS);
	uint32_t l;
	memcpy(&l, e + 4, 4);
	return l == len && bytes_eq(e + CORE_INTERN_HEAD, s, len);
}

static inline uint32_t
entry_id(const core_intern *t, uint64_t slot)
{
	uint32_t id;
	memcpy(&id, t->arena + (slot >> TAG_BITS), 4);
	return id;
}

/* Rehashes into twice the slots; entries are read in arena order. */
static int
table_grow(core_intern *t)
{
	size_t nslots = (t->mask + 1) * 2;
	uint64_t *ns = core_mem_alloc(nslots * sizeof(uint64_t));
	if (ns == NULL)
		return AMLRISK_ENOMEM;
	size_t nmask = nslots - 1;
	for (size_t i = 0; i <= t->mask; i++) {
		uint64_t sl = t->slots[i];
		if (sl == 0)
			continue;
		const char *e = t->arena + (sl >> TAG_BITS);
		uint32_t l;
		memcpy(&l, e + 4, 4);
		size_t j = core_intern_hash(e + CORE_INTERN_HEAD, l) & nmask;
		while (ns[j] != 0)
			j = (j + 1) & nmask;
		ns[j] = sl;
	}
	core_mem_free(t->slots);
	t->slots = ns;
	t->mask = nmask;
	return AMLRISK_OK;
}

/* The slot holding s, or the empty slot where it would go: in a merged
 * table, within the region of s's shard. */
static inline size_t
slot_find(const core_intern *t, const char *s, size_t len, uint64_t h)
{
	uint64_t tag = tag_of(h);
	size_t j = h & t->mask;
	const uint64_t *slots = t->slots;
	if (t->shard_bits != 0)
		slots += (size_t)CORE_INTERN_SHARD(h, t->shard_bits) * (t->mask + 1);
	for (;;) {
		uint64_t sl = slots[j];
		if (sl == 0 || ((sl & TAG_MASK) == tag && entry_is(t, sl, s, len)))
			return (size_t)(slots - t->slots) + j;
		j = (j + 1) & t->mask;
	}
}

/* Puts s whose hash is h; the table has room (see table_room). */
static int
put_hashed(core_intern *t, const char *s, size_t len, uint64_t h, uint32_t *id, bool *added)
{
	int rv;
	size_t j = slot_find(t, s, len, h);
	if (t->slots[j] != 0) {
		*id = entry_id(t, t->slots[j]);
		if (added != NULL)
			*added = false;
		return AMLRISK_OK;
	}
	if (t->count >= CORE_WALLETS_MAX)
		return AMLRISK_ETOOBIG;
	size_t need = t->arena_len + CORE_INTERN_HEAD + len + 1;
	if (need > ARENA_MAX)
		return AMLRISK_ETOOBIG;
	if ((rv = core_mem_ensure((void **)&t->arena, &t->arena_cap, need, 1)) != 0)
		return rv;
	if ((rv = core_mem_ensure((void **)&t->off, &t->id_cap, (size_t)t->count + 1,
	                          sizeof(uint64_t))) != 0)
		return rv;
	uint32_t nid = t->count++, l = (uint32_t)len;
	char *e = t->arena + t->arena_len;
	memcpy(e, &nid, 4);
	memcpy(e + 4, &l, 4);
	memcpy(e + CORE_INTERN_HEAD, s, len);
	e[CORE_INTERN_HEAD + len] = '\0';
	t->off[nid] = t->arena_len;
	t->slots[j] = (uint64_t)t->arena_len << TAG_BITS | tag_of(h);
	t->arena_len = need;
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
core_intern_copy(core_intern *out, const core_intern *src, size_t extra)
{
	int rv;
	if ((rv = core_intern_init(out, (size_t)src->count + extra)) != 0)
		return rv;
	if (core_mem_ensure((void **)&out->arena, &out->arena_cap, src->arena_len, 1) != 0 ||
	    core_mem_ensure((void **)&out->off, &out->id_cap, (size_t)src->count + 1,
	                    sizeof(uint64_t)) != 0) {
		core_intern_fini(out);
		return AMLRISK_ENOMEM;
	}
	memcpy(out->arena, src->arena, src->arena_len);
	memcpy(out->off, src->off, (size_t)src->count * sizeof(uint64_t));
	out->arena_len = src->arena_len;
	out->count = src->count;
	/* one table, whatever src's regions: every id rehashed into it */
	for (uint32_t id = 0; id < src->count; id++) {
		const char *e = out->arena + out->off[id];
		uint32_t l;
		memcpy(&l, e + 4, 4);
		uint64_t h = core_intern_hash(e + CORE_INTERN_HEAD, l);
		size_t j = h & out->mask;
		while (out->slots[j] != 0)
			j = (j + 1) & out->mask;
		out->slots[j] = (uint64_t)out->off[id] << TAG_BITS | tag_of(h);
	}
	return AMLRISK_OK;
}

int
core_intern_put(core_intern *t, const char *s, size_t len, uint32_t *id, bool *added)
{
	int rv;
	if ((rv = table_room(t, 1)) != 0)
		return rv;
	return put_hashed(t, s, len, core_intern_hash(s, len), id, added);
}

int
core_intern_put_many(core_intern *t, const char *const *s, const size_t *len, const uint64_t *h,
                     size_t n, uint32_t *ids)
{
	enum { D = 16 }; /* pipeline distance: slot prefetched 2D ahead, entry D ahead */
	int rv;
	if (n > CORE_INTERN_BATCH)
		return AMLRISK_EINVAL;
	if ((rv = table_room(t, n)) != 0)
		return rv;
	/* a steady stream of misses in flight: hash and prefetch the slot of
	 * string i, prefetch the entry its slot names for i - D, resolve i - 2D */
	for (size_t i = 0; i < n + 2 * D; i++) {
		if (i < n)
			__builtin_prefetch(&t->slots[h[i] & t->mask]);
		if (i >= D && i - D < n) {
			uint64_t sl = t->slots[h[i - D] & t->mask];
			if (sl != 0 && (sl & TAG_MASK) == tag_of(h[i - D]))
				__builtin_prefetch(t->arena + (sl >> TAG_BITS));
		}
		if (i >= 2 * D && (rv = put_hashed(t, s[i - 2 * D], len[i - 2 * D], h[i - 2 * D],
		                                   &ids[i - 2 * D], NULL)) != 0)
			return rv;
	}
	return AMLRISK_OK;
}

int
core_intern_find(const core_intern *t, const char *s, size_t len, uint32_t *id)
{
	if (t->slots == NULL)
		return AMLRISK_ENOTFOUND;
	size_t j = slot_find(t, s, len, core_intern_hash(s, len));
	if (t->slots[j] == 0)
		return AMLRISK_ENOTFOUND;
	*id = entry_id(t, t->slots[j]);
	return AMLRISK_OK;
}

int
core_intern_merge(core_intern *out, core_intern *parts, unsigned shard_bits, const uint32_t *perm)
{
	int rv;
	unsigned nparts = 1u << shard_bits;
	size_t bytes = 8, n = 0, region = 0;
	for (unsigned p = 0; p < nparts; p++) {
		bytes += parts[p].arena_len - 8;
		n += parts[p].count;
		if (parts[p].mask + 1 > region)
			region = parts[p].mask + 1;
	}
	if (n > CORE_WALLETS_MAX)
		return AMLRISK_ETOOBIG;
	for (unsigned p = 0; p < nparts; p++) /* regions of one size */
		while (parts[p].mask + 1 < region)
			if ((rv = table_grow(&parts[p])) != 0)
				return rv;
	memset(out, 0, sizeof *out);
	out->arena = core_mem_alloc(bytes);
	out->off = core_mem_alloc((n ? n : 1) * sizeof(uint64_t));
	out->slots = core_mem_alloc(region * nparts * sizeof(uint64_t));
	if (out->arena == NULL || out->off == NULL || out->slots == NULL) {
		core_intern_fini(out);
		return AMLRISK_ENOMEM;
	}
	out->arena_cap = bytes;
	out->arena_len = 8;
	out->id_cap = n ? n : 1;
	out->mask = region - 1;
	out->shard_bits = shard_bits;
	for (unsigned p = 0; p < nparts; p++) {
		core_intern *t = &parts[p];
		uint64_t shift = out->arena_len - 8; /* part offsets -> merged offsets */
		memcpy(out->arena + out->arena_len, t->arena + 8, t->arena_len - 8);
		out->arena_len += t->arena_len - 8;
		for (uint32_t i = 0; i < t->count; i++) {
			uint64_t o = t->off[i] + shift;
			uint32_t nid = perm[(size_t)i * nparts + p];
			memcpy(out->arena + o, &nid, 4);
			out->off[nid] = o;
		}
		uint64_t *reg = out->slots + (size_t)p * region;
		for (size_t j = 0; j < region; j++)
			reg[j] = t->slots[j] == 0 ? 0 : t->slots[j] + (shift << TAG_BITS);
		core_intern_fini(t);
	}
	out->count = (uint32_t)n;
	return AMLRISK_OK;
}

void
core_intern_shrink(core_intern *t)
{
	size_t n = t->count ? t->count : 1;
	char *a = core_mem_realloc(t->arena, t->arena_len);
	if (a != NULL) {
		t->arena = a;
		t->arena_cap = t->arena_len;
	}
	if (n < t->id_cap) {
		uint64_t *o = core_mem_realloc(t->off, n * sizeof(uint64_t));
		if (o != NULL) {
			t->off = o;
			t->id_cap = n;
		}
	}
}

size_t
core_intern_bytes(const core_intern *t)
{
	return t->arena_cap + t->id_cap * sizeof(uint64_t) +
	       ((t->mask + 1) << t->shard_bits) * sizeof(uint64_t);
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
