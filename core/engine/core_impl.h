/* core_impl.h - private layouts shared by the engine's files: the string
 * interner, the CSR graph, the run result of either model and the explain.
 * Not installed; callers use core_engine.h only. */
#ifndef CORE_IMPL_H
#define CORE_IMPL_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core_engine.h"

/* Wallet ids interned into one arena and an open-addressing table (linear
 * probing, load <= 1/2). An arena entry is [id u32][len u32][bytes][NUL]; a
 * slot is the entry's offset (40 bits) and 24 bits of the hash, so a lookup
 * touches one slot and one entry, and compares bytes only on a tag match. */
typedef struct core_intern {
	char *arena; /* entries back to back after an 8-byte pad */
	size_t arena_len, arena_cap;
	uint64_t *off; /* per id: its entry's offset */
	size_t id_cap;
	uint64_t *slots; /* 0 = empty, else offset << 24 | tag */
	size_t mask;     /* slot count - 1 (a power of two); of each region if merged */
	uint32_t count;
	unsigned shard_bits; /* merged from 2^shard_bits tables: one region each */
} core_intern;

/* The shard of a string whose hash is h, among 2^bits: hash bits clear of
 * a table's index (low) and tag (high 24) bits. */
#define CORE_INTERN_SHARD(h, bits) ((unsigned)((h) >> 36) & ((1u << (bits)) - 1))

#define CORE_INTERN_HEAD 8 /* bytes before an entry's id bytes */

int core_intern_init(core_intern *t, size_t hint);
void core_intern_fini(core_intern *t);
/* The id of s, adding it when new (*added set if given). AMLRISK_ENOMEM,
 * AMLRISK_ETOOBIG at CORE_WALLETS_MAX. */
int core_intern_put(core_intern *t, const char *s, size_t len, uint32_t *id, bool *added);
/* The table's hash of s. */
uint64_t core_intern_hash(const char *s, size_t len);
/* Interns n (at most CORE_INTERN_BATCH) strings whose hashes are h[] into
 * ids[], prefetching in stages so their cache misses overlap; the builder's
 * hot path. */
#define CORE_INTERN_BATCH 512
int core_intern_put_many(core_intern *t, const char *const *s, const size_t *len, const uint64_t *h,
                         size_t n, uint32_t *ids);
/* The id of s, or AMLRISK_ENOTFOUND. */
int core_intern_find(const core_intern *t, const char *s, size_t len, uint32_t *id);
/* Initialises out, for lookups only, with the 2^shard_bits tables parts[p],
 * each holding the strings of shard p (CORE_INTERN_SHARD), id i of part p
 * renumbered perm[(i << shard_bits) + p] (the new ids are 0 .. total-1).
 * Frees each part once merged; on failure out is empty and the parts not
 * merged remain for the caller to free. */
int core_intern_merge(core_intern *out, core_intern *parts, unsigned shard_bits,
                      const uint32_t *perm);
/* Initialises out as a growable copy of src (merged or not) with room for
 * extra more ids; the ids stay. AMLRISK_ENOMEM leaves out empty. */
int core_intern_copy(core_intern *out, const core_intern *src, size_t extra);
/* Frees growth slack once no more ids are added. */
void core_intern_shrink(core_intern *t);
size_t core_intern_bytes(const core_intern *t);

static inline const char *
core_intern_str(const core_intern *t, uint32_t id, size_t *len)
{
	const char *e = t->arena + t->off[id];
	if (len != NULL) {
		uint32_t l;
		memcpy(&l, e + 4, 4);
		*len = l;
	}
	return e + CORE_INTERN_HEAD;
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
	uint32_t *out_off;   /* n + 1 */
	uint32_t *out_dst;   /* m, sorted within a row */
	uint32_t *edge_txs;  /* m, parallel to out_dst */
	double *edge_amount; /* m, parallel to out_dst; finite (a sum past DBL_MAX is kept
	                      * as DBL_MAX) */
	uint32_t *in_off;    /* n + 1 */
	uint32_t *in_src;    /* m, sorted within a row */
	core_graph_stats stats;
	uint64_t lineage; /* the build this version was appended from (its own for a build) */
	uint64_t version; /* appends since that build */
};

/* A fresh lineage number for a graph built from scratch. */
uint64_t core_graph_lineage_next(void);
/* Fills g->stats' wallets, edges and bytes from its arrays. */
void core_graph_stats_finish(core_graph *g);

/* The bytewise order of wallets a and b of g (<0, 0, >0; a prefix first). */
int core_graph_wallet_cmp(const core_graph *g, uint32_t a, uint32_t b);

struct core_labels {
	core_intern ids;
};

struct core_run_result {
	atomic_uint refs;
	core_graph *g; /* owned reference */
	core_config cfg;
	uint32_t n;
	double *scores;   /* n */
	uint8_t *illicit; /* n */
	uint32_t *order;  /* n: ids in top order */
	uint32_t *rank;   /* n: position of each id in order */
	uint32_t illicit_count;
	double seconds;
	/* hop_exposure/v1 (NULL for flow) */
	unsigned width;      /* hops + 1 */
	uint32_t *counts;    /* n * width: c_0 .. c_K per wallet */
	uint32_t *exposures; /* n */
	/* flow_exposure/v1 (NULL for hop) */
	double *flow;      /* n * 2K: R_1 .. R_K, then S_1 .. S_K, per wallet */
	double *in_amount; /* m: the in-edges' amounts in the run's scale, parallel
	                    * to the graph's in_src (explain reads them too) */
	double *den_recv;  /* n: recv(v) + c, in the run's amount scale */
	double *den_sent;  /* n: sent(v) + c, likewise */
	double flow_scale; /* the power of two amounts were multiplied by */
	double flow_c;     /* c, in that scale */
};

/* flow_exposure/v1 over r's graph (core_flow.c): fills r->flow, in_amount,
 * den_recv, den_sent, flow_scale, flow_c and r->scores from r->illicit. At most
 * threads threads. AMLRISK_ENOMEM. */
int core_flow_run(core_run_result *r, unsigned threads);

/* The explain of either model (core_explain.c builds it; core_flow_explain.c
 * fills the flow part). */
struct core_explain {
	core_graph *g; /* owned reference */
	core_model model;
	uint32_t wallet;
	double score, norm;
	bool truncated;
	/* hop_exposure/v1 */
	size_t nhops;
	core_explain_hop hops[CORE_HOPS_MAX + 1];
	core_explain_source *sources;
	size_t nsources;
	uint32_t *paths; /* the sources' paths back to back */
	/* flow_exposure/v1 */
	unsigned flow_hops;
	double *flow_values; /* R_1 .. R_K, then S_1 .. S_K */
	core_explain_contrib *contribs;
	size_t ncontribs;
	uint32_t *walks; /* the contributors' walks back to back */
	double others;
	bool capped;
	uint64_t work; /* arcs or walk steps examined */
};

/* Fills e's flow part for wallet v of r (core_flow_explain.c). e->g, model,
 * wallet and score are set. AMLRISK_EINVAL, AMLRISK_ENOMEM. */
int core_flow_explain_fill(core_explain *e, const core_run_result *r, uint32_t v,
                           const core_explain_params *params);

/* The traversal's blocking, private: tests shrink it to reach every path.
 * Not to be changed while a run is going on. NULL restores the defaults. */
typedef struct core_score_tuning {
	unsigned block_shift;          /* log2 of the nodes whose masks a push block holds */
	size_t pairs_max;              /* pushes sorted per round */
	uint64_t work_per_thread;      /* batches x arcs that make a second worker pay */
	uint64_t flow_work_per_thread; /* flow: edge steps that pay for another
	                                * thread; 0 = the default */
} core_score_tuning;
void core_score_tuning_set(const core_score_tuning *t);
const core_score_tuning *core_score_tuning_get(void);

/* The divisor of wallet id's weighted sum under cfg. */
double core_score_normaliser(const core_graph *g, const core_config *cfg, uint32_t id);

/* The big arrays: 64-byte aligned and zeroed; from 8 MiB up, 2 MiB-aligned
 * mappings with transparent huge pages (randomly accessed arrays miss the TLB
 * far less). realloc keeps the contents up to the smaller size, moving pages
 * rather than bytes; what lies past the old size is unspecified. NULL on
 * failure; core_mem_free(NULL) is a no-op. */
void *core_mem_alloc(size_t size);
void *core_mem_realloc(void *p, size_t size);
void core_mem_free(void *p);
/* Room in *p (an array from core_mem_alloc, or NULL) for need items of elem
 * bytes, *cap of them now: grown to twice *cap at least. AMLRISK_ENOMEM
 * leaves *p and *cap as they were. */
int core_mem_ensure(void **p, size_t *cap, size_t need, size_t elem);

#endif
