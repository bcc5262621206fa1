/* core_impl.h - private layouts shared by the engine's files: the string
 * interner, the CSR graph and the run result. Not installed; callers use
 * core_engine.h only. */
#ifndef CORE_IMPL_H
#define CORE_IMPL_H

#include <stdatomic.h>
#include <stdint.h>

#include "core_engine.h"

/* Wallet ids interned into one arena (each id followed by a NUL) and an
 * open-addressing table (linear probing, load <= 1/2) of {id + 1, hash bits}.
 * Lookups compare the hash bits first, the bytes only on a match. */
typedef struct core_intern {
	char *arena;          /* ids back to back, each NUL-terminated */
	size_t arena_len, arena_cap;
	uint64_t *off;        /* per id: where its bytes start in the arena */
	uint32_t *len;        /* per id: its length */
	size_t id_cap;
	uint32_t *slots;      /* 2 words a slot: id + 1 (0 = empty), hash bits */
	size_t mask;          /* slot count - 1 (a power of two) */
	uint32_t count;
} core_intern;

int core_intern_init(core_intern *t, size_t hint);
void core_intern_fini(core_intern *t);
/* The id of s, adding it when new (*added set if given). AMLRISK_ENOMEM,
 * AMLRISK_ETOOBIG at CORE_WALLETS_MAX. */
int core_intern_put(core_intern *t, const char *s, size_t len, uint32_t *id, bool *added);
/* Interns n (at most CORE_INTERN_BATCH) strings into ids[], prefetching
 * in stages so their cache misses overlap; the builder's hot path. */
#define CORE_INTERN_BATCH 512
int core_intern_put_many(core_intern *t, const char *const *s, const size_t *len, size_t n,
                         uint32_t *ids);
/* The id of s, or AMLRISK_ENOTFOUND. */
int core_intern_find(const core_intern *t, const char *s, size_t len, uint32_t *id);
/* Renumbers the ids: id i becomes perm[i] (perm is a permutation of 0..count-1). */
int core_intern_permute(core_intern *t, const uint32_t *perm);
/* Frees growth slack once no more ids are added. */
void core_intern_shrink(core_intern *t);
size_t core_intern_bytes(const core_intern *t);

static inline const char *
core_intern_str(const core_intern *t, uint32_t id, size_t *len)
{
	if (len != NULL)
		*len = t->len[id];
	return t->arena + t->off[id];
}

/* Checks a wallet id: non-empty and at most CORE_WALLET_LEN_MAX bytes. */
static inline int
core_wallet_ok(const char *s, size_t len)
{
	return s != NULL && len > 0 && len <= CORE_WALLET_LEN_MAX;
}

struct core_graph {
	atomic_uint refs;
	core_intern ids;
	uint32_t n;
	uint64_t m;
	uint32_t *out_off;    /* n + 1 */
	uint32_t *out_dst;    /* m, sorted within a row */
	uint32_t *edge_txs;   /* m, parallel to out_dst */
	double *edge_amount;  /* m, parallel to out_dst */
	uint32_t *in_off;     /* n + 1 */
	uint32_t *in_src;     /* m, sorted within a row */
	core_graph_stats stats;
};

struct core_labels {
	core_intern ids;
};

struct core_run_result {
	atomic_uint refs;
	core_graph *g;        /* owned reference */
	core_config cfg;
	uint32_t n;
	unsigned width;       /* hops + 1 */
	uint32_t *counts;     /* n * width: c_0 .. c_K per wallet */
	uint32_t *exposures;  /* n */
	double *scores;       /* n */
	uint8_t *illicit;     /* n */
	uint32_t *order;      /* n: ids in top order */
	uint32_t *rank;       /* n: position of each id in order */
	uint32_t illicit_count;
	double seconds;
};

/* The divisor of wallet id's weighted sum under cfg. */
double core_score_normaliser(const core_graph *g, const core_config *cfg, uint32_t id);

/* Asks for transparent huge pages over the 2 MiB-aligned part of [p, p+size):
 * big randomly-probed arrays miss the TLB far less (a VM's page walks are dear). */
void core_mem_huge(void *p, size_t size);

/* Monotonic seconds. */
double core_now(void);

#endif
