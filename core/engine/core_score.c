/* core_score.c - a scoring run over a whole graph: the illicit set; then, for
 * hop_exposure/v1, a bit-parallel multi-source BFS from the illicit wallets,
 * 256 sources a batch (Then et al., VLDB 2015) with propagation-blocked pushes
 * (Beamer et al., IPDPS 2017), batches shared out to threads (flow_exposure/v1
 * is core_flow.c); then the top order. Sized for ~1M wallets, 10M edges and 5%
 * illicit in a few seconds. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "core_impl.h"

#define LANES           4 /* 64-bit words per mask: sources per batch / 64 */
#define BATCH           (64 * LANES)
#define BLOCK_SHIFT     15           /* pushes land in blocks of 32k nodes: 1 MiB of masks */
#define PAIRS_MAX       (1u << 22)   /* pushes sorted per round: 32 MiB */
#define WORK_PER_THREAD (1ull << 27) /* batches x arcs that pay for another worker */
#define CHUNK           2048         /* pairs per chunk of a block's list */
#define FLOW_WORK       (1ull << 22) /* flow: edge steps that pay for another thread */
#define NONE            UINT32_MAX

_Static_assert(BATCH <= 256, "a bit push names its source bit in 8 bits");

static core_score_tuning tuning = {BLOCK_SHIFT, PAIRS_MAX, WORK_PER_THREAD, FLOW_WORK};

const core_score_tuning *
core_score_tuning_get(void)
{
	return &tuning;
}

void
core_score_tuning_set(const core_score_tuning *t)
{
	core_score_tuning d = {BLOCK_SHIFT, PAIRS_MAX, WORK_PER_THREAD, FLOW_WORK};
	tuning = t != NULL ? *t : d;
	if (tuning.block_shift < 6) /* a block holds whole bitmap words */
		tuning.block_shift = 6;
	if (tuning.pairs_max < 1)
		tuning.pairs_max = 1;
	if (tuning.work_per_thread < 1)
		tuning.work_per_thread = 1;
	if (tuning.flow_work_per_thread < 1)
		tuning.flow_work_per_thread = FLOW_WORK;
}

/* The traversal is built for several x86-64 levels and picked at run time
 * (hardware popcount, AVX2, AVX-512); its helpers are inlined into it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT_CLONES                                                                                 \
	__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "popcnt", "default")))
#else
#define HOT_CLONES
#endif
#define HOT static inline __attribute__((always_inline))

typedef struct mask {
	uint64_t w[LANES];
} mask;

static const mask mask_none;

/* Which arcs a traversal follows from an illicit wallet. */
typedef enum trav { TRAV_OUT = 0, TRAV_IN, TRAV_ANY } trav;

/* Up to two CSR arrays a traversal reads per node. */
typedef struct adj {
	const uint32_t *off[2], *nbr[2];
	int count;
	uint64_t arcs;
} adj;

typedef struct job {
	const core_graph *g;
	unsigned hops;
	const uint32_t *sources[2]; /* per traversal, in batch order */
	uint32_t nsources;
	uint32_t nbatches;
	int ntravs;
	trav travs[2];
	atomic_uint next; /* next job: batch + nbatches * traversal */
} job;

/* A pending push: frontier entry fi reaches node v. */
typedef struct pair {
	uint32_t v, fi;
} pair;

/* One thread's traversal state. Dense per node: seen and the bitmaps; the
 * frontier's masks are compact (fm[i] for node front[i], ascending). */
typedef struct worker {
	job *j;
	uint32_t n;
	mask *seen;     /* sources that reached each node so far in the batch */
	mask *scratch;  /* the masks pushed into the block being finished */
	mask *fm, *nfm; /* masks of the frontier and of the next one */
	uint32_t *front, *nfront;
	size_t fcap;     /* capacity of fm, nfm, front, nfront */
	uint64_t *tbits; /* nodes pushed to, per level */
	uint64_t *sbits; /* nodes with seen bits, cleared after the batch */
	size_t words;    /* of each bitmap */
	pair *pairs;
	size_t pairs_cap;
	uint32_t *bpos; /* per block: count, then fill position */
	/* per block b, two chunk lists: b of pairs, nblocks + b of bit pushes;
	 * each list's first and last chunk and the last one's fill */
	uint32_t *bhead, *btail, *blen;
	uint32_t *cnext; /* per chunk of pairs: the next one of its block */
	uint32_t nblocks;
	unsigned shift; /* log2 of the nodes in a block */
	uint32_t *x;    /* hops * n: x[(k-1) * n + v] for k = 1..hops */
	pthread_t thread;
	bool started;
	int rv;
} worker;

static inline void
mask_or(mask *t, const mask *s)
{
	for (int i = 0; i < LANES; i++)
		t->w[i] |= s->w[i];
}

static inline void
mask_clear(mask *m)
{
	for (int i = 0; i < LANES; i++)
		m->w[i] = 0;
}

/* nw := acc & ~seen; returns its popcount. */
static inline unsigned
mask_new(mask *nw, const mask *acc, const mask *seen)
{
	unsigned c = 0;
	for (int i = 0; i < LANES; i++) {
		nw->w[i] = acc->w[i] & ~seen->w[i];
		c += (unsigned)__builtin_popcountll(nw->w[i]);
	}
	return c;
}

static void
adj_init(adj *a, const core_graph *g, trav t)
{
	a->count = 1;
	a->arcs = g->m;
	if (t == TRAV_ANY) {
		a->off[0] = g->out_off;
		a->nbr[0] = g->out_dst;
		a->off[1] = g->in_off;
		a->nbr[1] = g->in_src;
		a->count = 2;
		a->arcs = 2 * g->m;
	} else if (t == TRAV_OUT) {
		a->off[0] = g->out_off;
		a->nbr[0] = g->out_dst;
	} else {
		a->off[0] = g->in_off;
		a->nbr[0] = g->in_src;
	}
}

static void
worker_fini(worker *w)
{
	core_mem_free(w->seen);
	core_mem_free(w->scratch);
	core_mem_free(w->fm);
	core_mem_free(w->nfm);
	core_mem_free(w->front);
	core_mem_free(w->nfront);
	core_mem_free(w->tbits);
	core_mem_free(w->sbits);
	core_mem_free(w->pairs);
	core_mem_free(w->bpos);
	core_mem_free(w->bhead);
	core_mem_free(w->btail);
	core_mem_free(w->blen);
	core_mem_free(w->cnext);
	core_mem_free(w->x);
}

/* Room for a frontier of need nodes (grown on demand: most stay small). */
static int
front_reserve(worker *w, size_t need)
{
	if (need > w->n)
		need = w->n;
	if (need <= w->fcap)
		return AMLRISK_OK;
	size_t cap = w->fcap * 2 > need ? w->fcap * 2 : need;
	if (cap > w->n)
		cap = w->n;
	mask *fm = core_mem_realloc(w->fm, cap * sizeof(mask));
	if (fm != NULL)
		w->fm = fm;
	mask *nfm = core_mem_realloc(w->nfm, cap * sizeof(mask));
	if (nfm != NULL)
		w->nfm = nfm;
	uint32_t *f = core_mem_realloc(w->front, cap * sizeof(uint32_t));
	if (f != NULL)
		w->front = f;
	uint32_t *nf = core_mem_realloc(w->nfront, cap * sizeof(uint32_t));
	if (nf != NULL)
		w->nfront = nf;
	if (fm == NULL || nfm == NULL || f == NULL || nf == NULL)
		return AMLRISK_ENOMEM;
	w->fcap = cap;
	return AMLRISK_OK;
}

static int
worker_init(worker *w, job *j)
{
	size_t n = j->g->n ? j->g->n : 1;
	memset(w, 0, sizeof *w);
	w->j = j;
	w->n = j->g->n;
	w->shift = tuning.block_shift;
	w->seen = core_mem_alloc(n * sizeof(mask));
	w->scratch = core_mem_alloc(((size_t)1 << w->shift) * sizeof(mask));
	w->words = (n + 63) / 64;
	w->tbits = core_mem_alloc(w->words * sizeof(uint64_t));
	w->sbits = core_mem_alloc(w->words * sizeof(uint64_t));
	w->nblocks = (uint32_t)((n + (1u << w->shift) - 1) >> w->shift);
	w->bpos = core_mem_alloc(((size_t)w->nblocks + 1) * sizeof(uint32_t));
	/* as many pairs as edges: most levels fit; bigger ones go in counted rounds */
	size_t want = (size_t)j->g->m + (size_t)w->nblocks * 2 * CHUNK + 1;
	w->pairs_cap = want < tuning.pairs_max ? want : tuning.pairs_max;
	w->pairs = core_mem_alloc(w->pairs_cap * sizeof(pair));
	w->bhead = core_mem_alloc(w->nblocks * 2 * sizeof(uint32_t));
	w->btail = core_mem_alloc(w->nblocks * 2 * sizeof(uint32_t));
	w->blen = core_mem_alloc(w->nblocks * 2 * sizeof(uint32_t));
	w->cnext = core_mem_alloc((w->pairs_cap / CHUNK + 1) * sizeof(uint32_t));
	w->x = core_mem_alloc(n * j->hops * sizeof(uint32_t));
	if (w->seen == NULL || w->scratch == NULL || w->tbits == NULL || w->sbits == NULL ||
	    w->bpos == NULL || w->pairs == NULL || w->bhead == NULL || w->btail == NULL ||
	    w->blen == NULL || w->cnext == NULL || w->x == NULL ||
	    front_reserve(w, BATCH < n ? BATCH : n) != 0) {
		worker_fini(w);
		return AMLRISK_ENOMEM;
	}
	return AMLRISK_OK;
}

/* Finishes block b of a level: each node pushed to, in address order, keeps
 * the bits it had not seen; they count at level k and, unless last, make the
 * node's mask on the next frontier. */
HOT int
block_finish(worker *w, uint32_t b, unsigned k, bool last, uint32_t *nn)
{
	int rv;
	size_t base = (size_t)b << w->shift, wend = (base + ((size_t)1 << w->shift)) / 64;
	uint32_t *xk = w->x + (size_t)(k - 1) * w->n;
	if (wend > w->words)
		wend = w->words;
	for (size_t wi = base / 64; wi < wend; wi++) {
		uint64_t bits = w->tbits[wi];
		if (bits == 0)
			continue;
		w->tbits[wi] = 0;
		if (!last && (rv = front_reserve(w, *nn + 64)) != 0)
			return rv;
		/* the nodes nothing reached before need no seen[] read (most, at the
		 * last level); the others are read ascending, prefetched ahead */
		uint64_t seen_any = w->sbits[wi];
		if (seen_any != 0)
			__builtin_prefetch(
			        &w->seen[wi * 64 + 64 + (size_t)__builtin_ctzll(seen_any)]);
		do {
			uint32_t v = (uint32_t)(wi * 64 + (size_t)__builtin_ctzll(bits));
			bits &= bits - 1;
			mask *acc = &w->scratch[v - base], nw;
			bool was_seen = (seen_any >> (v & 63)) & 1;
			if (was_seen)
				__builtin_prefetch(&w->seen[v + 16]);
			unsigned pop = mask_new(&nw, acc, was_seen ? &w->seen[v] : &mask_none);
			mask_clear(acc);
			if (pop == 0)
				continue;
			xk[v] += pop;
			if (last)
				continue;
			w->sbits[v >> 6] |= 1ull << (v & 63);
			if (was_seen)
				mask_or(&w->seen[v], &nw);
			else
				w->seen[v] = nw;
			w->nfm[*nn] = nw;
			w->nfront[(*nn)++] = v;
		} while (bits != 0);
	}
	return AMLRISK_OK;
}

/* Blocks [b0, b1) in one round: the frontier's arcs into them are sorted by
 * block (a counting sort into pairs), then each block's pushes are applied into
 * the scratch while it sits in cache, and the block is finished at once
 * (propagation blocking, Beamer et al., IPDPS 2017). */
HOT int
round_run(worker *w, const adj *a, uint32_t nf, uint32_t b0, uint32_t b1, unsigned k, bool last,
          uint32_t *nn)
{
	int rv;
	uint32_t *pos = w->bpos, sum = 0;
	unsigned sh = w->shift;
	bool all = b0 == 0 && b1 == w->nblocks;
	for (uint32_t b = b0; b < b1; b++) {
		uint32_t c = pos[b];
		pos[b] = sum;
		sum += c;
	}
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t u = w->front[i];
		for (int s = 0; s < a->count; s++) {
			const uint32_t *nb = a->nbr[s];
			for (uint32_t e = a->off[s][u], end = a->off[s][u + 1]; e < end; e++) {
				uint32_t b = nb[e] >> sh;
				if (all || (b >= b0 && b < b1))
					w->pairs[pos[b]++] = (pair){nb[e], i};
			}
		}
	}
	/* pos[b] now ends block b, which starts where block b-1 ends */
	for (uint32_t b = b0, start = 0; b < b1; start = pos[b], b++) {
		size_t base = (size_t)b << sh;
		for (uint32_t p = start; p < pos[b]; p++) {
			uint32_t v = w->pairs[p].v;
			mask_or(&w->scratch[v - base], &w->fm[w->pairs[p].fi]);
			w->tbits[v >> 6] |= 1ull << (v & 63);
		}
		if ((rv = block_finish(w, b, k, last, nn)) != 0)
			return rv;
	}
	return AMLRISK_OK;
}

/* A block with more pushes than one round holds takes them straight from the
 * arcs (its scratch still fits in cache). */
HOT int
block_run_direct(worker *w, const adj *a, uint32_t nf, uint32_t b, unsigned k, bool last,
                 uint32_t *nn)
{
	unsigned sh = w->shift;
	size_t base = (size_t)b << sh;
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t u = w->front[i];
		for (int s = 0; s < a->count; s++) {
			const uint32_t *nb = a->nbr[s];
			for (uint32_t e = a->off[s][u], end = a->off[s][u + 1]; e < end; e++) {
				uint32_t v = nb[e];
				if (v >> sh != b)
					continue;
				mask_or(&w->scratch[v - base], &w->fm[i]);
				w->tbits[v >> 6] |= 1ull << (v & 63);
			}
		}
	}
	return block_finish(w, b, k, last, nn);
}

/* Applies block b's chunk lists into the scratch: its pairs, then its bit
 * pushes. */
HOT void
chunks_apply(worker *w, uint32_t b)
{
	size_t base = (size_t)b << w->shift;
	uint32_t l = w->nblocks + b;
	for (uint32_t c = w->bhead[b]; c != NONE; c = w->cnext[c]) {
		const pair *p = w->pairs + (size_t)c * CHUNK;
		uint32_t len = c == w->btail[b] ? w->blen[b] : CHUNK;
		for (uint32_t i = 0; i < len; i++) {
			uint32_t v = p[i].v;
			mask_or(&w->scratch[v - base], &w->fm[p[i].fi]);
			w->tbits[v >> 6] |= 1ull << (v & 63);
		}
	}
	for (uint32_t c = w->bhead[l]; c != NONE; c = w->cnext[c]) {
		const uint32_t *p = (const uint32_t *)(w->pairs + (size_t)c * CHUNK);
		uint32_t len = c == w->btail[l] ? w->blen[l] : 2 * CHUNK;
		for (uint32_t i = 0; i < len; i++) {
			uint32_t o = p[i] >> 8, bit = p[i] & 255, v = (uint32_t)base + o;
			w->scratch[o].w[bit >> 6] |= 1ull << (bit & 63);
			w->tbits[v >> 6] |= 1ull << (v & 63);
		}
	}
}

/* The next free item of chunk list l, whose chunks hold per items: a new
 * chunk when the last one is full (room is checked by the caller). Returns
 * the item's index counted in items of that size. */
static inline size_t
chunk_next(worker *w, uint32_t l, uint32_t per, uint32_t *free_chunk)
{
	if (w->blen[l] == per) {
		uint32_t c = (*free_chunk)++;
		w->cnext[c] = NONE;
		if (w->btail[l] == NONE)
			w->bhead[l] = c;
		else
			w->cnext[w->btail[l]] = c;
		w->btail[l] = c;
		w->blen[l] = 0;
	}
	return (size_t)w->btail[l] * per + w->blen[l]++;
}

/* The usual level, when all its pushes fit the pairs: one scan of the
 * frontier's arcs appends each push to its block's chunk list; then each
 * block is applied and finished. A frontier node with one source bit (about
 * half the pushes of a last level) pushes that bit, 4 bytes with no mask to
 * read back, rather than a pair naming its mask. */
HOT int
level_push_chunked(worker *w, const adj *a, uint32_t nf, unsigned k, bool last, uint32_t *nn)
{
	int rv;
	unsigned sh = w->shift;
	uint32_t free_chunk = 0, nb2 = 2 * w->nblocks;
	uint32_t *bits = (uint32_t *)w->pairs;
	for (uint32_t b = 0; b < nb2; b++) {
		w->bhead[b] = w->btail[b] = NONE;
		w->blen[b] = b < w->nblocks ? CHUNK : 2 * CHUNK;
	}
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t u = w->front[i];
		if (i + 8 < nf) /* rows come ascending, with gaps */
			for (int s = 0; s < a->count; s++)
				__builtin_prefetch(&a->nbr[s][a->off[s][w->front[i + 8]]]);
		unsigned pop = 0, bit = 0;
		for (int l = 0; l < LANES; l++) {
			pop += (unsigned)__builtin_popcountll(w->fm[i].w[l]);
			if (w->fm[i].w[l] != 0)
				bit = (unsigned)(l * 64 + __builtin_ctzll(w->fm[i].w[l]));
		}
		bool one = pop == 1 && sh <= 24; /* the offset in a block fits 24 bits */
		for (int s = 0; s < a->count; s++) {
			const uint32_t *nb = a->nbr[s];
			for (uint32_t e = a->off[s][u], end = a->off[s][u + 1]; e < end; e++) {
				uint32_t v = nb[e], b = v >> sh;
				if (one)
					bits[chunk_next(w, w->nblocks + b, 2 * CHUNK,
					                &free_chunk)] = (v - (b << sh)) << 8 | bit;
				else
					w->pairs[chunk_next(w, b, CHUNK, &free_chunk)] =
					        (pair){v, i};
			}
		}
	}
	for (uint32_t b = 0; b < w->nblocks; b++) {
		chunks_apply(w, b);
		if ((rv = block_finish(w, b, k, last, nn)) != 0)
			return rv;
	}
	return AMLRISK_OK;
}

/* One level: pushes the frontier's masks along its arcs, block by block. The
 * next frontier comes out ascending in nfront/nfm, *nn of them. */
HOT int
level_push(worker *w, const adj *a, uint32_t nf, unsigned k, bool last, uint32_t *nn)
{
	int rv;
	uint32_t *cnt = w->bpos;
	unsigned sh = w->shift;
	uint64_t vol = 0;
	*nn = 0;
	for (uint32_t i = 0; i < nf; i++)
		for (int s = 0; s < a->count; s++)
			vol += a->off[s][w->front[i] + 1] - a->off[s][w->front[i]];
	if (vol + (uint64_t)w->nblocks * 2 * CHUNK <= w->pairs_cap)
		return level_push_chunked(w, a, nf, k, last, nn);
	memset(cnt, 0, ((size_t)w->nblocks + 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t u = w->front[i];
		for (int s = 0; s < a->count; s++) {
			const uint32_t *nb = a->nbr[s];
			for (uint32_t e = a->off[s][u], end = a->off[s][u + 1]; e < end; e++)
				cnt[nb[e] >> sh]++;
		}
	}
	for (uint32_t b0 = 0; b0 < w->nblocks;) {
		uint64_t total = cnt[b0];
		uint32_t b1 = b0 + 1;
		if (total > w->pairs_cap) {
			if ((rv = block_run_direct(w, a, nf, b0, k, last, nn)) != 0)
				return rv;
			b0 = b1;
			continue;
		}
		while (b1 < w->nblocks && total + cnt[b1] <= w->pairs_cap)
			total += cnt[b1++];
		if ((rv = round_run(w, a, nf, b0, b1, k, last, nn)) != 0)
			return rv;
		b0 = b1;
	}
	return AMLRISK_OK;
}

/* One batch: up to BATCH sources of traversal ti traversed together for
 * levels 1..hops. */
HOT int
batch_run(worker *w, uint32_t b, int ti)
{
	const job *j = w->j;
	adj a;
	int rv = AMLRISK_OK;
	uint32_t first = b * BATCH, cnt = j->nsources - first, nf = 0;
	if (cnt > BATCH)
		cnt = BATCH;
	adj_init(&a, j->g, j->travs[ti]);
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t s = j->sources[ti][first + i];
		mask_clear(&w->fm[nf]);
		w->fm[nf].w[i / 64] = 1ull << (i % 64);
		w->seen[s] = w->fm[nf];
		w->sbits[s >> 6] |= 1ull << (s & 63);
		w->front[nf++] = s;
	}
	for (unsigned k = 1; k <= j->hops && nf > 0 && rv == 0; k++) {
		uint32_t nn;
		rv = level_push(w, &a, nf, k, k == j->hops, &nn);
		uint32_t *tf = w->front;
		w->front = w->nfront;
		w->nfront = tf;
		mask *tm = w->fm;
		w->fm = w->nfm;
		w->nfm = tm;
		nf = nn;
	}
	for (size_t wi = 0; wi < w->words; wi++) {
		uint64_t bits = w->sbits[wi];
		w->sbits[wi] = 0;
		for (; bits != 0; bits &= bits - 1)
			mask_clear(&w->seen[wi * 64 + (size_t)__builtin_ctzll(bits)]);
	}
	return rv;
}

HOT_CLONES static void *
worker_main(void *arg)
{
	worker *w = arg;
	job *j = w->j;
	uint32_t total = j->nbatches * (uint32_t)j->ntravs;
	for (;;) {
		uint32_t i = atomic_fetch_add(&j->next, 1);
		if (i >= total || w->rv != 0)
			break;
		w->rv = batch_run(w, i % j->nbatches, (int)(i / j->nbatches));
	}
	return NULL;
}

/* Runs the job on nthreads workers and sums their level counts into x
 * (hops * n, level-major). */
static int
traverse(job *j, unsigned nthreads, uint32_t *x)
{
	int rv = AMLRISK_OK;
	size_t n = j->g->n;
	worker *ws = calloc(nthreads, sizeof *ws);
	if (ws == NULL)
		return AMLRISK_ENOMEM;
	unsigned ready = 0;
	for (; ready < nthreads; ready++) {
		if ((rv = worker_init(&ws[ready], j)) != 0)
			break;
	}
	if (ready == 0)
		goto out;
	rv = AMLRISK_OK;
	for (unsigned i = 1; i < ready; i++)
		ws[i].started = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) == 0;
	worker_main(&ws[0]);
	for (unsigned i = 1; i < ready; i++)
		if (ws[i].started)
			pthread_join(ws[i].thread, NULL);
	for (unsigned i = 0; i < ready; i++) {
		const uint32_t *wx = ws[i].x;
		if (ws[i].rv != 0)
			rv = ws[i].rv;
		for (size_t e = 0; e < n * j->hops; e++)
			x[e] += wx[e];
	}
out:
	for (unsigned i = 0; i < ready; i++)
		worker_fini(&ws[i]);
	free(ws);
	return rv;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The batch order of traversal t's n sources src (ascending ids) in *out
 * (caller frees): grouped by their busiest neighbour (the lowest id, as ids
 * go busiest first), ids ascending within a group and within a batch. A hub
 * next to many sources then sits in few batches' frontiers instead of
 * nearly all, and with it the hub's own neighbours at the next level: on
 * the bench's 10M graph the last level pushes 42% fewer masks (defaults and
 * 3 directed hops alike). The counts do not depend on how sources are
 * batched. */
static int
sources_order(const core_graph *g, trav t, const uint32_t *src, uint32_t n, uint32_t **out)
{
	adj a;
	uint64_t *key = malloc((n ? n : 1) * sizeof *key);
	uint32_t *o = malloc((n ? n : 1) * sizeof *o);
	if (key == NULL || o == NULL) {
		free(key);
		free(o);
		return AMLRISK_ENOMEM;
	}
	adj_init(&a, g, t);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = src[i], first = UINT32_MAX; /* no neighbour: last */
		for (int k = 0; k < a.count; k++)
			if (a.off[k][s] < a.off[k][s + 1] && a.nbr[k][a.off[k][s]] < first)
				first = a.nbr[k][a.off[k][s]]; /* rows are sorted */
		key[i] = (uint64_t)first << 32 | s;
	}
	qsort(key, n, sizeof *key, u64_cmp);
	for (uint32_t i = 0; i < n; i++)
		o[i] = (uint32_t)key[i];
	for (uint32_t b = 0; b < n; b += BATCH)
		qsort(o + b, n - b < BATCH ? n - b : BATCH, sizeof *o, u32_cmp);
	free(key);
	*out = o;
	return AMLRISK_OK;
}

/* ------------------------------------------------------- illicit seeds --- */

uint64_t
core_fnv1a64(const void *bytes, size_t len)
{
	const unsigned char *p = bytes;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

uint64_t
core_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* T = floor(ratio * 2^64); ratio 1 means everyone (flag *all). */
static uint64_t
seed_threshold(double ratio, bool *all)
{
	*all = ratio >= 1.0;
	if (*all || !(ratio > 0.0))
		return 0;
	return (uint64_t)(ratio * 18446744073709551616.0); /* exact: a power-of-two scale */
}

bool
core_seeded_illicit(const char *wallet, size_t len, double ratio, uint64_t seed)
{
	bool all;
	uint64_t t = seed_threshold(ratio, &all);
	return all || core_mix64(core_fnv1a64(wallet, len) ^ seed) < t;
}

/* --------------------------------------------------------------- order --- */

typedef struct sortrec {
	uint64_t key; /* ascending key of the score: descending scores first */
	uint64_t pfx; /* first 8 wallet bytes, big-endian, zero-padded */
	uint32_t id;
} sortrec;

typedef struct sorter {
	const core_intern *ids;
	sortrec *a, *tmp;
	size_t lo, hi;
} sorter;

static inline int
rec_cmp(const core_intern *ids, const sortrec *x, const sortrec *y)
{
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->pfx != y->pfx)
		return x->pfx < y->pfx ? -1 : 1;
	size_t lx, ly;
	const char *sx = core_intern_str(ids, x->id, &lx);
	const char *sy = core_intern_str(ids, y->id, &ly);
	int c = memcmp(sx, sy, lx < ly ? lx : ly);
	if (c != 0)
		return c;
	return lx < ly ? -1 : lx > ly;
}

/* Stable merge sort of a[lo, hi) using tmp; insertion sort below 24. */
static void
rec_sort(const core_intern *ids, sortrec *a, sortrec *tmp, size_t lo, size_t hi)
{
	if (hi - lo <= 24) {
		for (size_t i = lo + 1; i < hi; i++) {
			sortrec r = a[i];
			size_t j = i;
			while (j > lo && rec_cmp(ids, &a[j - 1], &r) > 0) {
				a[j] = a[j - 1];
				j--;
			}
			a[j] = r;
		}
		return;
	}
	size_t mid = lo + (hi - lo) / 2;
	rec_sort(ids, a, tmp, lo, mid);
	rec_sort(ids, a, tmp, mid, hi);
	if (rec_cmp(ids, &a[mid - 1], &a[mid]) <= 0)
		return;
	size_t i = lo, j = mid, o = lo;
	while (i < mid && j < hi)
		tmp[o++] = rec_cmp(ids, &a[j], &a[i]) < 0 ? a[j++] : a[i++];
	while (i < mid)
		tmp[o++] = a[i++];
	memcpy(a + lo, tmp + lo, (o - lo) * sizeof *a);
}

static void *
sorter_main(void *arg)
{
	sorter *s = arg;
	rec_sort(s->ids, s->a, s->tmp, s->lo, s->hi);
	return NULL;
}

/* One thread's share of a pass over the wallets, ids [lo, hi). */
typedef struct idspan {
	core_run_result *r;
	sortrec *a; /* result_order's records */
	uint32_t lo, hi;
} idspan;

/* Runs fn over the wallets of r in two halves, the second on another thread
 * for big runs. */
static void
ids_split(void *(*fn)(void *), core_run_result *r, sortrec *a, unsigned nthreads)
{
	idspan s[2] = {{r, a, 0, r->n / 2}, {r, a, r->n / 2, r->n}};
	pthread_t t;
	if (nthreads > 1 && r->n > 65536 && pthread_create(&t, NULL, fn, &s[1]) == 0) {
		fn(&s[0]);
		pthread_join(t, NULL);
		return;
	}
	fn(&s[0]);
	fn(&s[1]);
}

/* The arena entry of wallet v, fetched ahead of a pass by id (which reads
 * the arena in no particular order). */
static inline void
wallet_prefetch(const core_intern *ids, uint32_t v, uint32_t hi)
{
	if (v < hi)
		__builtin_prefetch(ids->arena + ids->off[v]);
}

static void *
order_part(void *arg)
{
	idspan *sp = arg;
	const core_intern *ids = &sp->r->g->ids;
	for (uint32_t v = sp->lo; v < sp->hi; v++) {
		wallet_prefetch(ids, v + 16, sp->hi);
		uint64_t bits;
		memcpy(&bits, &sp->r->scores[v], 8);
		size_t len;
		const unsigned char *s = (const unsigned char *)core_intern_str(ids, v, &len);
		uint64_t p = 0;
		for (size_t i = 0; i < 8; i++)
			p = (p << 8) | (i < len ? s[i] : 0);
		sp->a[v].key = ~bits; /* scores are >= 0, so their bits order as the values */
		sp->a[v].pfx = p;
		sp->a[v].id = v;
	}
	return NULL;
}

/* r->order and r->rank; the two halves are sorted on two threads. */
static int
result_order(core_run_result *r, unsigned nthreads)
{
	size_t n = r->n;
	const core_intern *ids = &r->g->ids;
	sortrec *a = core_mem_alloc((n ? n : 1) * sizeof *a);
	sortrec *tmp = core_mem_alloc((n ? n : 1) * sizeof *tmp);
	if (a == NULL || tmp == NULL) {
		core_mem_free(a);
		core_mem_free(tmp);
		return AMLRISK_ENOMEM;
	}
	ids_split(order_part, r, a, nthreads);
	size_t mid = n / 2;
	sorter hi = {ids, a, tmp, mid, n};
	pthread_t t;
	bool threaded =
	        nthreads > 1 && n > 65536 && pthread_create(&t, NULL, sorter_main, &hi) == 0;
	rec_sort(ids, a, tmp, 0, threaded ? mid : n);
	if (threaded) {
		pthread_join(t, NULL);
		size_t i = 0, j = mid, o = 0;
		while (i < mid && j < n)
			tmp[o++] = rec_cmp(ids, &a[j], &a[i]) < 0 ? a[j++] : a[i++];
		while (i < mid)
			tmp[o++] = a[i++];
		while (j < n)
			tmp[o++] = a[j++];
		sortrec *sw = a;
		a = tmp;
		tmp = sw;
	}
	for (uint32_t i = 0; i < n; i++) {
		r->order[i] = a[i].id;
		r->rank[a[i].id] = i;
	}
	core_mem_free(a);
	core_mem_free(tmp);
	return AMLRISK_OK;
}

/* ------------------------------------------------------------- the run --- */

double
core_score_normaliser(const core_graph *g, const core_config *cfg, uint32_t id)
{
	if (!cfg->degree_normalize)
		return 1.0;
	uint64_t d = (uint64_t)core_graph_in_degree(g, id) + core_graph_out_degree(g, id);
	return sqrt((double)(d > 0 ? d : 1));
}

static void *
seeded_part(void *arg)
{
	idspan *sp = arg;
	const core_intern *ids = &sp->r->g->ids;
	bool all;
	uint64_t t = seed_threshold(sp->r->cfg.illicit_ratio, &all);
	for (uint32_t v = sp->lo; v < sp->hi; v++) {
		wallet_prefetch(ids, v + 16, sp->hi);
		size_t len;
		const char *s = core_intern_str(ids, v, &len);
		if (all ||
		    (t > 0 && core_mix64(core_fnv1a64(s, len) ^ sp->r->cfg.illicit_seed) < t))
			sp->r->illicit[v] = 1;
	}
	return NULL;
}

/* Marks S in r->illicit and lists it in *sources (caller frees). */
static int
illicit_set(core_run_result *r, const core_labels *labels, unsigned nthreads, uint32_t **sources)
{
	const core_graph *g = r->g;
	uint32_t cnt = 0;
	ids_split(seeded_part, r, NULL, nthreads);
	if (r->cfg.use_labels && labels != NULL) {
		for (uint32_t i = 0; i < labels->ids.count; i++) {
			size_t len;
			const char *s = core_intern_str(&labels->ids, i, &len);
			uint32_t v;
			if (core_intern_find(&g->ids, s, len, &v) == AMLRISK_OK)
				r->illicit[v] = 1;
		}
	}
	for (uint32_t v = 0; v < g->n; v++)
		cnt += r->illicit[v];
	*sources = malloc((cnt ? cnt : 1) * sizeof(uint32_t));
	if (*sources == NULL)
		return AMLRISK_ENOMEM;
	cnt = 0;
	for (uint32_t v = 0; v < g->n; v++)
		if (r->illicit[v])
			(*sources)[cnt++] = v;
	r->illicit_count = cnt;
	return AMLRISK_OK;
}

/* Counts and scores from the illicit flags and the summed level counts x. */
static void
result_fill(core_run_result *r, const uint32_t *x)
{
	const core_config *c = &r->cfg;
	size_t n = r->n;
	for (uint32_t v = 0; v < n; v++) {
		uint32_t *cv = r->counts + (size_t)v * r->width, sum = 0;
		double weighted = 0.0;
		for (unsigned k = 0; k <= c->hops; k++) {
			uint32_t xk = k == 0 ? r->illicit[v] : x[(size_t)(k - 1) * n + v];
			sum += xk;
			cv[k] = c->count == CORE_COUNT_WITHIN ? sum : xk;
			weighted += c->hop_weights[k] * cv[k];
		}
		r->exposures[v] = sum;
		r->scores[v] = weighted / core_score_normaliser(r->g, c, v);
	}
}

/* hop_exposure/v1 from the illicit set: the traversal's counts, then r->counts,
 * exposures and scores. sources lists S ascending. */
static int
hop_run(core_run_result *r, const uint32_t *sources, unsigned threads)
{
	int rv = AMLRISK_ENOMEM;
	const core_config *cfg = &r->cfg;
	const core_graph *g = r->g;
	uint32_t *x = NULL, *batched[2] = {NULL, NULL};
	size_t n1 = g->n ? g->n : 1;
	r->width = cfg->hops + 1;
	r->counts = core_mem_alloc(n1 * r->width * sizeof(uint32_t));
	r->exposures = core_mem_alloc(n1 * sizeof(uint32_t));
	x = core_mem_alloc(n1 * (cfg->hops ? cfg->hops : 1) * sizeof(uint32_t));
	if (r->counts == NULL || r->exposures == NULL || x == NULL)
		goto out;
	if (cfg->hops > 0 && r->illicit_count > 0) {
		job j = {.g = g, .hops = cfg->hops, .nsources = r->illicit_count};
		j.nbatches = (r->illicit_count + BATCH - 1) / BATCH;
		atomic_init(&j.next, 0);
		switch (cfg->direction) {
		case CORE_DIR_ANY:
			j.travs[j.ntravs++] = TRAV_ANY;
			break;
		case CORE_DIR_IN:
			j.travs[j.ntravs++] = TRAV_OUT;
			break;
		case CORE_DIR_OUT:
			j.travs[j.ntravs++] = TRAV_IN;
			break;
		case CORE_DIR_BOTH:
			j.travs[j.ntravs++] = TRAV_OUT;
			j.travs[j.ntravs++] = TRAV_IN;
			break;
		}
		for (int ti = 0; ti < j.ntravs; ti++) {
			if ((rv = sources_order(g, j.travs[ti], sources, j.nsources,
			                        &batched[ti])) != 0)
				goto out;
			j.sources[ti] = batched[ti];
		}
		/* a worker holds ~40 bytes per wallet: only big runs get more than one */
		uint64_t jobs = (uint64_t)j.nbatches * (unsigned)j.ntravs;
		uint64_t useful = 1 + jobs * (2 * g->m) / tuning.work_per_thread;
		if (useful > jobs)
			useful = jobs;
		if ((rv = traverse(&j, threads < useful ? threads : (unsigned)useful, x)) != 0)
			goto out;
	}
	result_fill(r, x);
	rv = AMLRISK_OK;
out:
	core_mem_free(x);
	free(batched[0]);
	free(batched[1]);
	return rv;
}

int
core_score_run(core_run_result **out, core_graph *g, const core_config *cfg,
               const core_labels *labels, unsigned threads, char *err, size_t errlen)
{
	int rv;
	double t0 = amlrisk_now_s();
	uint32_t *sources = NULL;
	if ((rv = core_config_validate(cfg, err, errlen)) != 0)
		return rv;
	if (threads == 0)
		threads = 2;
	if (threads > CORE_THREADS_MAX)
		threads = CORE_THREADS_MAX;
	core_run_result *r = calloc(1, sizeof *r);
	if (r == NULL)
		return AMLRISK_ENOMEM;
	atomic_init(&r->refs, 1);
	r->g = core_graph_ref(g);
	r->cfg = *cfg;
	r->n = g->n;
	size_t n1 = g->n ? g->n : 1;
	r->scores = core_mem_alloc(n1 * sizeof(double));
	r->illicit = core_mem_alloc(n1);
	r->order = core_mem_alloc(n1 * sizeof(uint32_t));
	r->rank = core_mem_alloc(n1 * sizeof(uint32_t));
	rv = AMLRISK_ENOMEM;
	if (r->scores == NULL || r->illicit == NULL || r->order == NULL || r->rank == NULL)
		goto fail;
	if ((rv = illicit_set(r, labels, threads, &sources)) != 0)
		goto fail;
	if (cfg->model == CORE_MODEL_FLOW)
		rv = core_flow_run(r, threads);
	else
		rv = hop_run(r, sources, threads);
	free(sources);
	sources = NULL;
	if (rv != 0 || (rv = result_order(r, threads)) != 0)
		goto fail;
	r->seconds = amlrisk_now_s() - t0;
	*out = r;
	return AMLRISK_OK;
fail:
	free(sources);
	core_run_result_unref(r);
	if (rv == AMLRISK_ENOMEM && err != NULL && errlen > 0)
		snprintf(err, errlen, "out of memory scoring %u wallets", g->n);
	return rv;
}

core_run_result *
core_run_result_ref(core_run_result *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void
core_run_result_unref(core_run_result *r)
{
	if (r == NULL || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	core_graph_unref(r->g);
	core_mem_free(r->counts);
	core_mem_free(r->exposures);
	core_mem_free(r->flow);
	core_mem_free(r->den_recv);
	core_mem_free(r->den_sent);
	core_mem_free(r->scores);
	core_mem_free(r->illicit);
	core_mem_free(r->order);
	core_mem_free(r->rank);
	free(r);
}

void
core_run_result_destroy(core_run_result *r)
{
	core_run_result_unref(r);
}

core_graph *
core_run_result_graph(const core_run_result *r)
{
	return r->g;
}

const core_config *
core_run_result_config(const core_run_result *r)
{
	return &r->cfg;
}

uint32_t
core_run_result_count(const core_run_result *r)
{
	return r->n;
}

uint32_t
core_run_result_illicit_count(const core_run_result *r)
{
	return r->illicit_count;
}

double
core_run_result_seconds(const core_run_result *r)
{
	return r->seconds;
}

void
core_run_result_get(const core_run_result *r, uint32_t id, core_wallet_score *out)
{
	out->id = id;
	out->wallet = core_intern_str(&r->g->ids, id, &out->wallet_len);
	out->risk_score = r->scores[id];
	out->in_degree = core_graph_in_degree(r->g, id);
	out->out_degree = core_graph_out_degree(r->g, id);
	out->is_illicit = r->illicit[id] != 0;
	out->model = r->cfg.model;
	out->hops = r->cfg.hops;
	if (r->cfg.model == CORE_MODEL_FLOW) {
		unsigned k = r->cfg.hops;
		out->exposures = 0;
		out->counts = NULL;
		out->received = r->flow + (size_t)id * 2 * k;
		out->sent = out->received + k;
		out->received_exposure = out->received[k - 1];
		out->sent_exposure = out->sent[k - 1];
	} else {
		out->exposures = r->exposures[id];
		out->counts = r->counts + (size_t)id * r->width;
		out->received = out->sent = NULL;
		out->received_exposure = out->sent_exposure = 0.0;
	}
}

int
core_run_result_find(const core_run_result *r, const char *wallet, size_t len,
                     core_wallet_score *out)
{
	uint32_t id;
	int rv;
	if ((rv = core_graph_find(r->g, wallet, len, &id)) != 0)
		return rv;
	core_run_result_get(r, id, out);
	return AMLRISK_OK;
}

const uint32_t *
core_run_result_order(const core_run_result *r)
{
	return r->order;
}

uint32_t
core_run_result_rank(const core_run_result *r, uint32_t id)
{
	return r->rank[id];
}
