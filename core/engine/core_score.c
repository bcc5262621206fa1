/* core_score.c - hop_exposure/v1 over a whole graph: the illicit set, then a
 * bit-parallel multi-source BFS from the illicit wallets, 256 sources a batch
 * (Then et al., VLDB 2015), batches shared out to threads; then scores and the
 * top order. Sized for ~1M wallets, 10M edges and 5% illicit in a few seconds. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define LANES 4                  /* 64-bit words per mask: sources per batch / 64 */
#define BATCH (64 * LANES)
#define PULL_SHARE 8             /* pull a level when its frontier touches > 1/8 of the arcs */

typedef struct mask {
	uint64_t w[LANES];
} mask;

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
	const uint32_t *sources;
	uint32_t nsources;
	uint32_t nbatches;
	int ntravs;
	trav travs[2];
	atomic_uint next;     /* next job: batch + nbatches * traversal */
} job;

typedef struct worker {
	job *j;
	void *raw[3];
	mask *seen, *visit, *next;
	uint32_t *front, *nfront;
	uint64_t *fbits;      /* frontier bitmap for pull levels */
	uint64_t *tbits;      /* nodes touched by this level's pushes */
	uint64_t *sbits;      /* nodes with seen bits, cleared after the batch */
	size_t words;         /* of each bitmap */
	uint32_t *x;          /* hops * n: x[(k-1) * n + v] for k = 1..hops */
	pthread_t thread;
	bool started;
	int rv;
} worker;

static inline bool
mask_zero(const mask *m)
{
	uint64_t a = 0;
	for (int i = 0; i < LANES; i++)
		a |= m->w[i];
	return a == 0;
}

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
adj_init(adj *a, const core_graph *g, trav t, bool reverse)
{
	bool out = (t == TRAV_OUT) != reverse;
	a->count = 1;
	a->arcs = g->m;
	if (t == TRAV_ANY) {
		a->off[0] = g->out_off;
		a->nbr[0] = g->out_dst;
		a->off[1] = g->in_off;
		a->nbr[1] = g->in_src;
		a->count = 2;
		a->arcs = 2 * g->m;
	} else if (out) {
		a->off[0] = g->out_off;
		a->nbr[0] = g->out_dst;
	} else {
		a->off[0] = g->in_off;
		a->nbr[0] = g->in_src;
	}
}

static inline uint64_t
adj_degree(const adj *a, uint32_t u)
{
	uint64_t d = 0;
	for (int s = 0; s < a->count; s++)
		d += a->off[s][u + 1] - a->off[s][u];
	return d;
}

/* A zeroed array of size bytes aligned to 64; *raw is what to free. */
static void *
calloc_aligned(size_t size, void **raw)
{
	*raw = calloc(1, size + 64);
	if (*raw == NULL)
		return NULL;
	return (void *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
}

static void
worker_fini(worker *w)
{
	for (int i = 0; i < 3; i++)
		free(w->raw[i]);
	free(w->front);
	free(w->nfront);
	free(w->fbits);
	free(w->tbits);
	free(w->sbits);
	free(w->x);
}

static int
worker_init(worker *w, job *j)
{
	size_t n = j->g->n ? j->g->n : 1;
	memset(w, 0, sizeof *w);
	w->j = j;
	w->seen = calloc_aligned(n * sizeof(mask), &w->raw[0]);
	w->visit = calloc_aligned(n * sizeof(mask), &w->raw[1]);
	w->next = calloc_aligned(n * sizeof(mask), &w->raw[2]);
	w->front = malloc(n * sizeof(uint32_t));
	w->nfront = malloc(n * sizeof(uint32_t));
	w->words = (n + 63) / 64;
	w->fbits = calloc(w->words, sizeof(uint64_t));
	w->tbits = calloc(w->words, sizeof(uint64_t));
	w->sbits = calloc(w->words, sizeof(uint64_t));
	w->x = calloc(n * j->hops, sizeof(uint32_t));
	if (w->seen == NULL || w->visit == NULL || w->next == NULL || w->front == NULL ||
	    w->nfront == NULL || w->fbits == NULL || w->tbits == NULL || w->sbits == NULL ||
	    w->x == NULL) {
		worker_fini(w);
		return AMLRISK_ENOMEM;
	}
	return AMLRISK_OK;
}

/* Records the new bits nw (pop of them) of node v found at level k. */
static inline void
level_found(worker *w, uint32_t v, const mask *nw, unsigned pop, unsigned k)
{
	w->sbits[v >> 6] |= 1ull << (v & 63);
	mask_or(&w->seen[v], nw);
	w->x[(size_t)(k - 1) * w->j->g->n + v] += pop;
}

/* One level by pushing the frontier's masks along its arcs. No branch depends
 * on the masks, so the random updates overlap; the touched nodes are then
 * finished in address order. Leaves the new frontier's masks in visit and its
 * nodes, ascending, in nfront. */
static uint32_t
level_push(worker *w, const adj *a, uint32_t nf, unsigned k, bool last)
{
	uint32_t nn = 0;
	uint64_t *tb = w->tbits;
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t u = w->front[i];
		const mask m = w->visit[u];
		for (int s = 0; s < a->count; s++) {
			const uint32_t *nb = a->nbr[s];
			for (uint32_t e = a->off[s][u], end = a->off[s][u + 1]; e < end; e++) {
				uint32_t v = nb[e];
				mask_or(&w->next[v], &m);
				tb[v >> 6] |= 1ull << (v & 63);
			}
		}
	}
	for (uint32_t i = 0; i < nf; i++)
		mask_clear(&w->visit[w->front[i]]);
	for (size_t wi = 0; wi < w->words; wi++) {
		uint64_t bits = tb[wi];
		if (bits == 0)
			continue;
		tb[wi] = 0;
		do {
			uint32_t v = (uint32_t)(wi * 64 + (size_t)__builtin_ctzll(bits));
			bits &= bits - 1;
			mask nw;
			unsigned pop = mask_new(&nw, &w->next[v], &w->seen[v]);
			mask_clear(&w->next[v]);
			if (pop == 0)
				continue;
			level_found(w, v, &nw, pop, k);
			if (!last) {
				w->visit[v] = nw;
				w->nfront[nn++] = v;
			}
		} while (bits != 0);
	}
	return nn;
}

/* One level by pulling: every node ORs the masks of its frontier neighbours
 * (along the reversed arcs). Better than pushing once the frontier is big. */
static uint32_t
level_pull(worker *w, const adj *ra, uint32_t nf, unsigned k, bool last)
{
	uint32_t n = w->j->g->n, nn = 0;
	for (uint32_t i = 0; i < nf; i++)
		w->fbits[w->front[i] >> 6] |= 1ull << (w->front[i] & 63);
	for (uint32_t v = 0; v < n; v++) {
		mask acc = {{0}};
		bool any = false;
		for (int s = 0; s < ra->count; s++) {
			const uint32_t *nb = ra->nbr[s];
			for (uint32_t e = ra->off[s][v], end = ra->off[s][v + 1]; e < end; e++) {
				uint32_t u = nb[e];
				if ((w->fbits[u >> 6] >> (u & 63)) & 1) {
					mask_or(&acc, &w->visit[u]);
					any = true;
				}
			}
		}
		if (!any)
			continue;
		mask nw;
		unsigned pop = mask_new(&nw, &acc, &w->seen[v]);
		if (pop == 0)
			continue;
		level_found(w, v, &nw, pop, k);
		if (!last) {
			w->next[v] = nw;
			w->nfront[nn++] = v;
		}
	}
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t u = w->front[i];
		w->fbits[u >> 6] = 0;
		mask_clear(&w->visit[u]);
	}
	for (uint32_t i = 0; i < nn; i++) {
		uint32_t v = w->nfront[i];
		w->visit[v] = w->next[v];
		mask_clear(&w->next[v]);
	}
	return nn;
}

/* One batch: up to BATCH sources traversed together for levels 1..hops. */
static void
batch_run(worker *w, uint32_t b, trav t)
{
	const job *j = w->j;
	adj a, ra;
	uint32_t first = b * BATCH, cnt = j->nsources - first, nf = 0;
	if (cnt > BATCH)
		cnt = BATCH;
	adj_init(&a, j->g, t, false);
	adj_init(&ra, j->g, t, true);
	uint64_t vol = 0;
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t s = j->sources[first + i];
		w->seen[s].w[i / 64] |= 1ull << (i % 64);
		w->visit[s].w[i / 64] |= 1ull << (i % 64);
		w->sbits[s >> 6] |= 1ull << (s & 63);
		w->front[nf++] = s;
		vol += adj_degree(&a, s);
	}
	for (unsigned k = 1; k <= j->hops && nf > 0; k++) {
		bool last = k == j->hops;
		uint32_t nn;
		if (vol * PULL_SHARE > a.arcs)
			nn = level_pull(w, &ra, nf, k, last);
		else
			nn = level_push(w, &a, nf, k, last);
		uint32_t *tmp = w->front;
		w->front = w->nfront;
		w->nfront = tmp;
		nf = nn;
		vol = 0;
		for (uint32_t i = 0; i < nf; i++)
			vol += adj_degree(&a, w->front[i]);
	}
	for (uint32_t i = 0; i < nf; i++)
		mask_clear(&w->visit[w->front[i]]);
	for (size_t wi = 0; wi < w->words; wi++) {
		uint64_t bits = w->sbits[wi];
		w->sbits[wi] = 0;
		for (; bits != 0; bits &= bits - 1)
			mask_clear(&w->seen[wi * 64 + (size_t)__builtin_ctzll(bits)]);
	}
}

static void *
worker_main(void *arg)
{
	worker *w = arg;
	job *j = w->j;
	uint32_t total = j->nbatches * (uint32_t)j->ntravs;
	for (;;) {
		uint32_t i = atomic_fetch_add(&j->next, 1);
		if (i >= total)
			break;
		batch_run(w, i % j->nbatches, j->travs[i / j->nbatches]);
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
		for (size_t e = 0; e < n * j->hops; e++)
			x[e] += wx[e];
	}
out:
	for (unsigned i = 0; i < ready; i++)
		worker_fini(&ws[i]);
	free(ws);
	return rv;
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
	uint64_t key;  /* ascending key of the score: descending scores first */
	uint64_t pfx;  /* first 8 wallet bytes, big-endian, zero-padded */
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

/* r->order and r->rank; the two halves are sorted on two threads. */
static int
result_order(core_run_result *r, unsigned nthreads)
{
	size_t n = r->n;
	const core_intern *ids = &r->g->ids;
	sortrec *a = malloc((n ? n : 1) * sizeof *a);
	sortrec *tmp = malloc((n ? n : 1) * sizeof *tmp);
	if (a == NULL || tmp == NULL) {
		free(a);
		free(tmp);
		return AMLRISK_ENOMEM;
	}
	for (uint32_t v = 0; v < n; v++) {
		uint64_t bits;
		memcpy(&bits, &r->scores[v], 8);
		size_t len;
		const unsigned char *s = (const unsigned char *)core_intern_str(ids, v, &len);
		uint64_t p = 0;
		for (size_t i = 0; i < 8; i++)
			p = (p << 8) | (i < len ? s[i] : 0);
		a[v].key = ~bits; /* scores are >= 0, so their bits order as the values */
		a[v].pfx = p;
		a[v].id = v;
	}
	size_t mid = n / 2;
	sorter hi = {ids, a, tmp, mid, n};
	pthread_t t;
	bool threaded = nthreads > 1 && n > 65536 && pthread_create(&t, NULL, sorter_main, &hi) == 0;
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
	free(a);
	free(tmp);
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

/* Marks S in r->illicit and lists it in *sources (caller frees). */
static int
illicit_set(core_run_result *r, const core_labels *labels, uint32_t **sources)
{
	const core_graph *g = r->g;
	bool all;
	uint64_t t = seed_threshold(r->cfg.illicit_ratio, &all);
	uint32_t cnt = 0;
	for (uint32_t v = 0; v < g->n; v++) {
		size_t len;
		const char *s = core_intern_str(&g->ids, v, &len);
		if (all || (t > 0 && core_mix64(core_fnv1a64(s, len) ^ r->cfg.illicit_seed) < t))
			r->illicit[v] = 1;
	}
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

int
core_score_run(core_run_result **out, core_graph *g, const core_config *cfg,
               const core_labels *labels, unsigned threads, char *err, size_t errlen)
{
	int rv;
	double t0 = core_now();
	uint32_t *sources = NULL, *x = NULL;
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
	r->width = cfg->hops + 1;
	size_t n1 = g->n ? g->n : 1;
	r->counts = malloc(n1 * r->width * sizeof(uint32_t));
	r->exposures = malloc(n1 * sizeof(uint32_t));
	r->scores = malloc(n1 * sizeof(double));
	r->illicit = calloc(n1, 1);
	r->order = malloc(n1 * sizeof(uint32_t));
	r->rank = malloc(n1 * sizeof(uint32_t));
	x = calloc(n1 * (cfg->hops ? cfg->hops : 1), sizeof(uint32_t));
	rv = AMLRISK_ENOMEM;
	if (r->counts == NULL || r->exposures == NULL || r->scores == NULL || r->illicit == NULL ||
	    r->order == NULL || r->rank == NULL || x == NULL)
		goto fail;
	if ((rv = illicit_set(r, labels, &sources)) != 0)
		goto fail;
	if (cfg->hops > 0 && r->illicit_count > 0) {
		job j = {.g = g, .hops = cfg->hops, .sources = sources, .nsources = r->illicit_count};
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
		unsigned jobs = j.nbatches * (unsigned)j.ntravs;
		if ((rv = traverse(&j, threads < jobs ? threads : jobs, x)) != 0)
			goto fail;
	}
	result_fill(r, x);
	free(x);
	x = NULL;
	free(sources);
	sources = NULL;
	if ((rv = result_order(r, threads)) != 0)
		goto fail;
	r->seconds = core_now() - t0;
	*out = r;
	return AMLRISK_OK;
fail:
	free(sources);
	free(x);
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
	free(r->counts);
	free(r->exposures);
	free(r->scores);
	free(r->illicit);
	free(r->order);
	free(r->rank);
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
	out->exposures = r->exposures[id];
	out->in_degree = core_graph_in_degree(r->g, id);
	out->out_degree = core_graph_out_degree(r->g, id);
	out->is_illicit = r->illicit[id] != 0;
	out->hops = r->cfg.hops;
	out->counts = r->counts + (size_t)id * r->width;
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
