/* core_append.c - incremental graph versions (issue 14): a batch of
 * transactions merged into a copy of a graph's CSR (unchanged rows copied in
 * spans, changed rows merged), and the live holder that publishes versions. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define EDGES_MAX (UINT32_MAX - 1u) /* CSR offsets are 32-bit */

/* One transaction of the batch that is not a self-transfer: u -> v, row i. */
typedef struct arc {
	uint32_t u, v, i;
} arc;

static int
arc_cmp_uv(const void *pa, const void *pb)
{
	const arc *a = pa, *b = pb;
	if (a->u != b->u)
		return a->u < b->u ? -1 : 1;
	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

static int
arc_cmp_vu(const void *pa, const void *pb)
{
	const arc *a = pa, *b = pb;
	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	return (a->u > b->u) - (a->u < b->u);
}

/* The builder's sum: kept at DBL_MAX when it would pass it. */
static inline double
amount_add(double a, double b)
{
	double s = a + b;
	return s <= DBL_MAX ? s : DBL_MAX;
}

/* The position of v in the sorted row [lo, hi) of dst, or where it would go. */
static void
row_find(const uint32_t *dst, uint32_t lo, uint32_t hi, uint32_t v, uint32_t *at)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (dst[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
}

/* The new offsets (nn + 1) of a CSR of on rows (ooff, om items) that gains
 * one item in each row rows[0 .. nrows) (ascending) and rows on .. nn - 1. */
static void
offsets_build(uint32_t *noff, const uint32_t *ooff, uint32_t on, uint64_t om, uint32_t nn,
              const uint32_t *rows, size_t stride, size_t nrows)
{
	size_t k = 0;
	for (uint32_t r = 0; r <= nn; r++) {
		while (k < nrows && *(const uint32_t *)((const char *)rows + k * stride) < r)
			k++;
		noff[r] = (uint32_t)((r < on ? ooff[r] : om) + k);
	}
}

/* Row r of a CSR of on rows and om items (ooff): [*start, *end); empty at
 * the end for a row past on. */
static inline void
row_bounds(const uint32_t *ooff, uint32_t on, uint64_t om, uint32_t r, uint64_t *start,
           uint64_t *end)
{
	*start = r < on ? ooff[r] : om;
	*end = r < on ? ooff[r + 1] : om;
}

/* Copies g's out edges [op, op + len) to ng's at np. */
static void
out_span(core_graph *ng, uint64_t np, const core_graph *g, uint64_t op, size_t len)
{
	memcpy(ng->out_dst + np, g->out_dst + op, len * sizeof(uint32_t));
	memcpy(ng->edge_txs + np, g->edge_txs + op, len * sizeof(uint32_t));
	memcpy(ng->edge_amount + np, g->edge_amount + op, len * sizeof(double));
}

/* The out rows of ng: g's, with the batch's arcs a (sorted by u, v, row)
 * merged in. fresh (sorted by u, v) lists the edges g lacks. */
static int
append_out(core_graph *ng, const core_graph *g, const arc *a, size_t na, const double *amount,
           const arc *fresh, size_t nfresh)
{
	uint32_t n = ng->n;
	ng->m = g->m + nfresh;
	size_t m = ng->m ? ng->m : 1;
	ng->out_off = core_mem_alloc(((size_t)n + 1) * sizeof(uint32_t));
	ng->out_dst = core_mem_alloc(m * sizeof(uint32_t));
	ng->edge_txs = core_mem_alloc(m * sizeof(uint32_t));
	ng->edge_amount = core_mem_alloc(m * sizeof(double));
	if (ng->out_off == NULL || ng->out_dst == NULL || ng->edge_txs == NULL ||
	    ng->edge_amount == NULL)
		return AMLRISK_ENOMEM;
	offsets_build(ng->out_off, g->out_off, g->n, g->m, n, &fresh[0].u, sizeof(arc), nfresh);
	uint64_t op = 0, np = 0;
	for (size_t k = 0; k < na;) {
		uint32_t u = a[k].u;
		uint64_t ostart, oend;
		row_bounds(g->out_off, g->n, g->m, u, &ostart, &oend);
		/* the unchanged rows before u, in one span */
		out_span(ng, np, g, op, ostart - op);
		np += ostart - op;
		op = ostart;
		/* row u: its old edges and the batch's groups, by receiver */
		while (op < oend || (k < na && a[k].u == u)) {
			bool grp = k < na && a[k].u == u;
			if (grp && (op == oend || a[k].v <= g->out_dst[op])) {
				uint32_t v = a[k].v, txs = 0;
				double sum = 0;
				bool old = op < oend && g->out_dst[op] == v;
				if (old) {
					txs = g->edge_txs[op];
					sum = g->edge_amount[op];
					op++;
				}
				for (bool first = !old; k < na && a[k].u == u && a[k].v == v;
				     k++, first = false) {
					sum = first ? amount[a[k].i]
					            : amount_add(sum, amount[a[k].i]);
					txs++;
				}
				ng->out_dst[np] = v;
				ng->edge_txs[np] = txs;
				ng->edge_amount[np] = sum;
			} else {
				ng->out_dst[np] = g->out_dst[op];
				ng->edge_txs[np] = g->edge_txs[op];
				ng->edge_amount[np] = g->edge_amount[op];
				op++;
			}
			np++;
		}
	}
	out_span(ng, np, g, op, g->m - op);
	return np + (g->m - op) == ng->m ? AMLRISK_OK : AMLRISK_EINTERNAL;
}

/* The in rows of ng: g's with the fresh edges (sorted by v, u) merged in. */
static int
append_in(core_graph *ng, const core_graph *g, const arc *fresh, size_t nfresh)
{
	uint32_t n = ng->n;
	ng->in_off = core_mem_alloc(((size_t)n + 1) * sizeof(uint32_t));
	ng->in_src = core_mem_alloc((ng->m ? ng->m : 1) * sizeof(uint32_t));
	if (ng->in_off == NULL || ng->in_src == NULL)
		return AMLRISK_ENOMEM;
	offsets_build(ng->in_off, g->in_off, g->n, g->m, n, &fresh[0].v, sizeof(arc), nfresh);
	uint64_t op = 0, np = 0;
	for (size_t k = 0; k < nfresh;) {
		uint32_t v = fresh[k].v;
		uint64_t ostart, oend;
		row_bounds(g->in_off, g->n, g->m, v, &ostart, &oend);
		memcpy(ng->in_src + np, g->in_src + op, (ostart - op) * sizeof(uint32_t));
		np += ostart - op;
		op = ostart;
		while (op < oend || (k < nfresh && fresh[k].v == v)) {
			if (k < nfresh && fresh[k].v == v &&
			    (op == oend || fresh[k].u < g->in_src[op]))
				ng->in_src[np++] = fresh[k++].u;
			else
				ng->in_src[np++] = g->in_src[op++];
		}
	}
	memcpy(ng->in_src + np, g->in_src + op, (g->m - op) * sizeof(uint32_t));
	return np + (g->m - op) == ng->m ? AMLRISK_OK : AMLRISK_EINTERNAL;
}

/* Interns the batch into ng's ids and counts its stats; the arcs of the rows
 * that are not self-transfers go to a (*na of them). */
static int
append_intern(core_graph *ng, const core_tx *txs, size_t n, arc *a, size_t *na)
{
	int rv;
	bool have_ts = ng->stats.min_ts_us != 0 || ng->stats.max_ts_us != 0;
	*na = 0;
	for (size_t i = 0; i < n; i++) {
		const core_tx *t = &txs[i];
		uint32_t u, v;
		if ((rv = core_intern_put(&ng->ids, t->sender, t->sender_len, &u, NULL)) != 0 ||
		    (rv = core_intern_put(&ng->ids, t->receiver, t->receiver_len, &v, NULL)) != 0)
			return rv;
		ng->stats.txs++;
		if (u == v)
			ng->stats.self_txs++;
		else
			a[(*na)++] = (arc){u, v, (uint32_t)i};
		if (t->seq > ng->stats.max_seq)
			ng->stats.max_seq = t->seq;
		if (t->timestamp_us != 0) {
			if (!have_ts || t->timestamp_us < ng->stats.min_ts_us)
				ng->stats.min_ts_us = t->timestamp_us;
			if (!have_ts || t->timestamp_us > ng->stats.max_ts_us)
				ng->stats.max_ts_us = t->timestamp_us;
			have_ts = true;
		}
	}
	ng->n = ng->ids.count;
	return AMLRISK_OK;
}

int
core_graph_append(core_graph **out, core_graph *g, const core_tx *txs, size_t n, unsigned threads,
                  size_t *bad_row)
{
	(void)threads; /* the merge is one pass; a batch is small next to the graph */
	int rv = AMLRISK_ENOMEM;
	core_graph *ng = NULL;
	arc *a = NULL, *fresh = NULL;
	double *amount = NULL;
	for (size_t i = 0; i < n; i++)
		if (!core_wallet_ok(txs[i].sender, txs[i].sender_len) ||
		    !core_wallet_ok(txs[i].receiver, txs[i].receiver_len) ||
		    !isfinite(txs[i].amount) || txs[i].amount < 0) {
			if (bad_row != NULL)
				*bad_row = i;
			return AMLRISK_EINVAL;
		}
	if (n > UINT32_MAX || g->stats.txs + n > EDGES_MAX)
		return AMLRISK_ETOOBIG;
	size_t nn = n ? n : 1;
	if ((ng = calloc(1, sizeof *ng)) == NULL || (a = malloc(nn * sizeof *a)) == NULL ||
	    (fresh = malloc(nn * sizeof *fresh)) == NULL ||
	    (amount = malloc(nn * sizeof *amount)) == NULL)
		goto fail;
	atomic_init(&ng->refs, 1);
	ng->stats = g->stats;
	ng->lineage = g->lineage;
	ng->version = g->version + 1;
	if ((rv = core_intern_copy(&ng->ids, &g->ids, 2 * n)) != 0)
		goto fail;
	size_t na, nfresh = 0;
	if ((rv = append_intern(ng, txs, n, a, &na)) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		amount[i] = txs[i].amount;
	qsort(a, na, sizeof *a, arc_cmp_uv);
	for (size_t k = 0; k < na; k++) {
		if (k > 0 && a[k].u == a[k - 1].u && a[k].v == a[k - 1].v)
			continue;
		uint32_t at, u = a[k].u;
		if (u < g->n) {
			row_find(g->out_dst, g->out_off[u], g->out_off[u + 1], a[k].v, &at);
			if (at < g->out_off[u + 1] && g->out_dst[at] == a[k].v)
				continue;
		}
		fresh[nfresh++] = a[k];
	}
	rv = AMLRISK_ETOOBIG;
	if (g->m + nfresh > EDGES_MAX)
		goto fail;
	if ((rv = append_out(ng, g, a, na, amount, fresh, nfresh)) != 0)
		goto fail;
	qsort(fresh, nfresh, sizeof *fresh, arc_cmp_vu);
	if ((rv = append_in(ng, g, fresh, nfresh)) != 0)
		goto fail;
	core_intern_shrink(&ng->ids);
	core_graph_stats_finish(ng);
	free(a);
	free(fresh);
	free(amount);
	*out = ng;
	return AMLRISK_OK;
fail:
	free(a);
	free(fresh);
	free(amount);
	core_graph_unref(ng);
	return rv;
}

bool
core_graph_descends(const core_graph *b, const core_graph *g)
{
	return b->lineage == g->lineage && b->version >= g->version && b->n >= g->n;
}

/* ------------------------------------------------------------ live --- */

struct core_live_graph {
	pthread_mutex_t mu;  /* guards cur: held for a pointer read or swap */
	pthread_mutex_t wmu; /* one writer at a time */
	core_graph *cur;     /* owned reference, or NULL */
};

int
core_live_graph_create(core_live_graph **out, core_graph *g)
{
	core_live_graph *lv = calloc(1, sizeof *lv);
	if (lv == NULL)
		return AMLRISK_ENOMEM;
	pthread_mutex_init(&lv->mu, NULL);
	pthread_mutex_init(&lv->wmu, NULL);
	lv->cur = g != NULL ? core_graph_ref(g) : NULL;
	*out = lv;
	return AMLRISK_OK;
}

void
core_live_graph_destroy(core_live_graph *lv)
{
	if (lv == NULL)
		return;
	core_graph_unref(lv->cur);
	pthread_mutex_destroy(&lv->mu);
	pthread_mutex_destroy(&lv->wmu);
	free(lv);
}

core_graph *
core_live_graph_acquire(core_live_graph *lv)
{
	pthread_mutex_lock(&lv->mu);
	core_graph *g = lv->cur != NULL ? core_graph_ref(lv->cur) : NULL;
	pthread_mutex_unlock(&lv->mu);
	return g;
}

void
core_live_graph_publish(core_live_graph *lv, core_graph *g)
{
	core_graph *ref = g != NULL ? core_graph_ref(g) : NULL;
	pthread_mutex_lock(&lv->mu);
	core_graph *old = lv->cur;
	lv->cur = ref;
	pthread_mutex_unlock(&lv->mu);
	core_graph_unref(old);
}

int
core_live_graph_append(core_live_graph *lv, const core_tx *txs, size_t n, unsigned threads,
                       size_t *bad_row, core_graph **out)
{
	int rv = AMLRISK_ESTATE;
	core_graph *ng = NULL;
	pthread_mutex_lock(&lv->wmu);
	core_graph *base = core_live_graph_acquire(lv);
	if (base != NULL && (rv = core_graph_append(&ng, base, txs, n, threads, bad_row)) == 0) {
		core_live_graph_publish(lv, ng);
		if (out != NULL)
			*out = ng;
		else
			core_graph_unref(ng);
	}
	core_graph_unref(base);
	pthread_mutex_unlock(&lv->wmu);
	return rv;
}

/* ---------------------------------------------------------- changes --- */

int
core_run_result_changes(const core_run_result *prev, const core_run_result *cur,
                        core_score_change **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	if (prev->cfg.model != cur->cfg.model || !core_graph_descends(cur->g, prev->g))
		return AMLRISK_EINVAL;
	size_t k = 0, cap = 0;
	core_score_change *ch = NULL;
	for (uint32_t id = 0; id < cur->n; id++) {
		bool fresh = id >= prev->n;
		if (!fresh && memcmp(&prev->scores[id], &cur->scores[id], sizeof(double)) == 0)
			continue;
		if (k == cap) {
			size_t nc = cap ? 2 * cap : 64;
			core_score_change *p = realloc(ch, nc * sizeof *p);
			if (p == NULL) {
				free(ch);
				return AMLRISK_ENOMEM;
			}
			ch = p;
			cap = nc;
		}
		ch[k++] = (core_score_change){.id = id,
		                              .prev_score = fresh ? 0 : prev->scores[id],
		                              .score = cur->scores[id],
		                              .prev_rank = fresh ? UINT32_MAX : prev->rank[id],
		                              .rank = cur->rank[id]};
	}
	*out = ch;
	*count = k;
	return AMLRISK_OK;
}

int
core_run_result_top_entered(const core_run_result *prev, const core_run_result *cur, uint32_t n,
                            uint32_t **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	if (prev->cfg.model != cur->cfg.model || !core_graph_descends(cur->g, prev->g))
		return AMLRISK_EINVAL;
	uint32_t top = n < cur->n ? n : cur->n;
	if (top == 0)
		return AMLRISK_OK;
	uint32_t *ids = malloc((size_t)top * sizeof *ids);
	if (ids == NULL)
		return AMLRISK_ENOMEM;
	size_t k = 0;
	for (uint32_t i = 0; i < top; i++) {
		uint32_t id = cur->order[i];
		if (id >= prev->n || prev->rank[id] >= n)
			ids[k++] = id;
	}
	if (k == 0) {
		free(ids);
		ids = NULL;
	}
	*out = ids;
	*count = k;
	return AMLRISK_OK;
}
