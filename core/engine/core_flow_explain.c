/* core_flow_explain.c - explain of flow_exposure/v1 for one wallet: its
 * per-hop R_k and S_k, and the illicit sources its exposure comes from (the
 * spec's "What a contribution is"). One bounded trace per request: at most
 * work_max edges examined (4M by default, tens of ms), memory about 32 bytes
 * a wallet reached per hop plus 12 bytes a wallet of the graph.
 *
 * RECEIVED: a backward trace from the wallet over in-edges. Step j holds, per
 * wallet x reached, the sum over walks x -> ... -> wallet of j edges, no
 * intermediate in S, of the product of A(a, b) / (recv(b) + c) along them;
 * an illicit x ends its walks there (its sum is its contribution at length
 * j) and is not expanded. SENT: the same forward over out-edges with
 * A(a, b) / (sent(a) + c). A source's contribution is its sums over j = 1..K,
 * and the contributions add up to R_K and S_K. Beside each sum the trace
 * keeps the heaviest single walk (largest product) with a back pointer, which
 * is the listed walk. Walks may revisit wallets (the wallet itself too), as
 * the spec's sum does.
 *
 * A wallet in S: its score is 1 (R_K) and 1 (S_K) by definition, so it is
 * listed as its own contributor on each side the score uses, with
 * contribution 1 and a walk of no edges (walk_len 0, walk = the wallet). */
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define CONTRIBS_DEFAULT 10
#define ENTRIES_MAX      (UINT32_MAX - 1) /* back pointers are 32-bit */
#define NONE             UINT32_MAX

/* A wallet reached at one step: the entry it was reached from on its
 * heaviest walk (NONE for the wallet explained) and that walk's weight. */
typedef struct trace_ent {
	uint32_t node, back;
	double best;
} trace_ent;

/* A source found on one side: its summed contribution and the entry that
 * ends its heaviest walk. */
typedef struct trace_src {
	uint32_t source, ent;
	double sum, best;
} trace_src;

/* One side's trace. Entries of every step are kept (the walks' back
 * pointers); the current step is ents[lo, hi), its sums in sum[0, hi - lo). */
typedef struct trace {
	core_side side;
	trace_ent *ents;
	size_t nents, cap;
	double *sum, *nsum;
	size_t scap, nscap;
	size_t lo, hi;
	trace_src *src;
	size_t nsrc, srccap;
	uint32_t *srcidx; /* per wallet: its index in src + 1, 0 when absent */
} trace;

/* The shared state of one explain's traces. */
typedef struct tracer {
	const core_run_result *r;
	uint32_t *pos; /* per wallet: its entry in the step being built + 1 */
	uint64_t work, work_max;
	bool capped;
} tracer;

static void
trace_fini(trace *t)
{
	free(t->ents);
	free(t->sum);
	free(t->nsum);
	free(t->src);
	free(t->srcidx);
}

/* Doubles *cap (from 64) until it holds need items of size each, moving *p. */
static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return AMLRISK_OK;
	size_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, nc * size);
	if (np == NULL)
		return AMLRISK_ENOMEM;
	*p = np;
	*cap = nc;
	return AMLRISK_OK;
}

/* Starts t at wallet v: one entry, sum 1. */
static int
trace_init(trace *t, core_side side, uint32_t n, uint32_t v)
{
	memset(t, 0, sizeof *t);
	t->side = side;
	t->srcidx = calloc(n ? n : 1, sizeof *t->srcidx);
	if (t->srcidx == NULL || grow((void **)&t->ents, &t->cap, 1, sizeof *t->ents) != 0 ||
	    grow((void **)&t->sum, &t->scap, 1, sizeof *t->sum) != 0)
		return AMLRISK_ENOMEM;
	t->ents[0] = (trace_ent){v, NONE, 1.0};
	t->sum[0] = 1.0;
	t->nents = t->hi = 1;
	return AMLRISK_OK;
}

/* The amount (in the run's scale) of the edge from a to b, which exists. */
static double
edge_amount(const core_run_result *r, uint32_t a, uint32_t b)
{
	const core_graph *g = r->g;
	uint32_t lo = g->out_off[a], hi = g->out_off[a + 1];
	while (lo < hi) { /* rows are sorted by receiver */
		uint32_t mid = lo + (hi - lo) / 2;
		if (g->out_dst[mid] < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return g->edge_amount[lo] * r->flow_scale;
}

/* Adds the walks into y with weight add (heaviest best, from entry from) to
 * the step being built, whose entries start at next_lo. */
static int
trace_reach(trace *t, tracer *tr, size_t next_lo, uint32_t y, double add, double best,
            uint32_t from)
{
	uint32_t p = tr->pos[y];
	if (p != 0) {
		trace_ent *e = &t->ents[next_lo + p - 1];
		t->nsum[p - 1] += add;
		if (best > e->best) {
			e->best = best;
			e->back = from;
		}
		return AMLRISK_OK;
	}
	size_t k = t->nents - next_lo;
	if (t->nents >= ENTRIES_MAX ||
	    grow((void **)&t->ents, &t->cap, t->nents + 1, sizeof *t->ents) != 0 ||
	    grow((void **)&t->nsum, &t->nscap, k + 1, sizeof *t->nsum) != 0)
		return AMLRISK_ENOMEM;
	t->ents[t->nents++] = (trace_ent){y, from, best};
	t->nsum[k] = add;
	tr->pos[y] = (uint32_t)(k + 1);
	return AMLRISK_OK;
}

/* Ends the step built at next_lo: its illicit wallets' sums go to their
 * contributions, and it becomes the current step. */
static int
trace_close(trace *t, tracer *tr, size_t next_lo)
{
	const core_run_result *r = tr->r;
	for (size_t k = 0; next_lo + k < t->nents; k++) {
		const trace_ent *e = &t->ents[next_lo + k];
		tr->pos[e->node] = 0;
		if (!r->illicit[e->node])
			continue;
		uint32_t si = t->srcidx[e->node];
		if (si == 0) {
			if (grow((void **)&t->src, &t->srccap, t->nsrc + 1, sizeof *t->src) != 0)
				return AMLRISK_ENOMEM;
			t->src[t->nsrc++] = (trace_src){e->node, NONE, 0.0, 0.0};
			si = t->srcidx[e->node] = (uint32_t)t->nsrc;
		}
		trace_src *s = &t->src[si - 1];
		s->sum += t->nsum[k];
		if (s->ent == NONE || e->best > s->best) {
			s->best = e->best;
			s->ent = (uint32_t)(next_lo + k);
		}
	}
	double *sw = t->sum;
	size_t cw = t->scap;
	t->sum = t->nsum;
	t->scap = t->nscap;
	t->nsum = sw;
	t->nscap = cw;
	t->lo = next_lo;
	t->hi = t->nents;
	return AMLRISK_OK;
}

/* One hop more of t: every wallet of the current step not in S is expanded
 * over its in-edges (RECEIVED) or out-edges (SENT), as long as the work bound
 * allows (tr->capped set when it stops the step part way). */
static int
trace_step(trace *t, tracer *tr)
{
	const core_run_result *r = tr->r;
	const core_graph *g = r->g;
	bool recv = t->side == CORE_SIDE_RECEIVED;
	size_t next_lo = t->nents;
	int rv;
	for (size_t i = t->lo; i < t->hi; i++) {
		uint32_t x = t->ents[i].node;
		double w = t->sum[i - t->lo], best = t->ents[i].best;
		if (r->illicit[x] || !(w > 0))
			continue;
		const uint32_t *off = recv ? g->in_off : g->out_off;
		const uint32_t *nbr = recv ? g->in_src : g->out_dst;
		uint32_t lo = off[x], hi = off[x + 1];
		double den = recv ? r->den_recv[x] : r->den_sent[x];
		if (tr->work + (hi - lo) > tr->work_max) {
			tr->capped = true;
			break;
		}
		tr->work += hi - lo;
		for (uint32_t e = lo; e < hi && den > 0; e++) {
			uint32_t y = nbr[e];
			double a = recv ? edge_amount(r, y, x) : g->edge_amount[e] * r->flow_scale;
			double share = a / den;
			if (!(w * share > 0))
				continue;
			if ((rv = trace_reach(t, tr, next_lo, y, w * share, best * share,
			                      (uint32_t)i)) != 0)
				return rv;
		}
	}
	return trace_close(t, tr, next_lo);
}

/* A contributor before listing: where its heaviest walk ends. */
typedef struct cand {
	core_explain_contrib c;
	const trace *t;
	uint32_t ent;
} cand;

/* Listing order: contribution descending, then side, then wallet bytes. */
static int
cand_cmp(const void *a, const void *b, void *ctx)
{
	const core_explain_contrib *x = &((const cand *)a)->c, *y = &((const cand *)b)->c;
	if (x->contribution != y->contribution)
		return x->contribution > y->contribution ? -1 : 1;
	if (x->side != y->side)
		return x->side < y->side ? -1 : 1;
	return core_graph_wallet_cmp(ctx, x->source, y->source);
}

/* Writes c's heaviest walk into w (c->walk_len + 1 ids) from the entry ent
 * of t, in the direction money moved: the back pointers lead from the
 * source to the wallet explained. */
static void
walk_write(const trace *t, uint32_t ent, const core_explain_contrib *c, uint32_t *w)
{
	unsigned j = 0;
	for (uint32_t en = ent; en != NONE; en = t->ents[en].back, j++)
		w[t->side == CORE_SIDE_RECEIVED ? j : c->walk_len - j] = t->ents[en].node;
}

/* Lists the first max of the sources the traces found, in listing order,
 * each with its heaviest walk; the others line is the rest of the score. */
static int
explain_list(core_explain *e, const trace *t, int nt, uint32_t max)
{
	size_t total = 0, n, wlen = 0;
	for (int i = 0; i < nt; i++)
		total += t[i].nsrc;
	cand *all = calloc(total ? total : 1, sizeof *all);
	if (all == NULL)
		return AMLRISK_ENOMEM;
	total = 0;
	for (int i = 0; i < nt; i++) {
		for (size_t k = 0; k < t[i].nsrc; k++) {
			const trace_src *s = &t[i].src[k];
			unsigned len = 0;
			for (uint32_t en = t[i].ents[s->ent].back; en != NONE;
			     en = t[i].ents[en].back)
				len++;
			all[total++] = (cand){
			        {s->source, t[i].side, s->sum, s->best, len, NULL}, &t[i], s->ent};
		}
	}
	qsort_r(all, total, sizeof *all, cand_cmp, e->g);
	n = total < max ? total : max;
	for (size_t k = 0; k < n; k++)
		wlen += all[k].c.walk_len + 1;
	e->contribs = calloc(n ? n : 1, sizeof *e->contribs);
	e->walks = malloc((wlen ? wlen : 1) * sizeof *e->walks);
	if (e->contribs == NULL || e->walks == NULL) {
		free(all);
		return AMLRISK_ENOMEM;
	}
	double listed = 0;
	for (size_t k = 0, at = 0; k < n; k++) {
		walk_write(all[k].t, all[k].ent, &all[k].c, e->walks + at);
		e->contribs[k] = all[k].c;
		e->contribs[k].walk = e->walks + at;
		at += all[k].c.walk_len + 1;
		listed += all[k].c.contribution;
	}
	e->ncontribs = n;
	e->others = e->score - listed;
	e->truncated = total > n || e->capped;
	free(all);
	return AMLRISK_OK;
}

/* A wallet in S is its own contributor, 1 on each side the score uses. */
static int
explain_illicit(core_explain *e, const core_side *sides, int nsides, uint32_t max)
{
	e->contribs = calloc((size_t)nsides, sizeof *e->contribs);
	e->walks = malloc(sizeof *e->walks);
	if (e->contribs == NULL || e->walks == NULL)
		return AMLRISK_ENOMEM;
	e->walks[0] = e->wallet;
	for (int i = 0; i < nsides && (uint32_t)i < max; i++) {
		e->contribs[i] = (core_explain_contrib){e->wallet, sides[i], 1.0, 1.0, 0, e->walks};
		e->ncontribs++;
	}
	e->others = e->score - (double)e->ncontribs;
	e->truncated = e->ncontribs < (size_t)nsides;
	return AMLRISK_OK;
}

int
core_flow_explain_fill(core_explain *e, const core_run_result *r, uint32_t v,
                       const core_explain_params *params)
{
	int rv = AMLRISK_ENOMEM, nt = 0, nsides = 0;
	unsigned kk = r->cfg.hops;
	uint32_t max = params && params->sources_max ? params->sources_max : CONTRIBS_DEFAULT;
	tracer tr = {r, NULL, 0, CORE_EXPLAIN_WORK_DEFAULT, false};
	trace t[2];
	core_side sides[2];
	if (params != NULL && params->work_max != 0)
		tr.work_max = params->work_max;
	if (r->cfg.side != CORE_SIDE_SENT)
		sides[nsides++] = CORE_SIDE_RECEIVED;
	if (r->cfg.side != CORE_SIDE_RECEIVED)
		sides[nsides++] = CORE_SIDE_SENT;
	e->flow_hops = kk;
	e->flow_values = malloc(2 * (size_t)kk * sizeof(double));
	if (e->flow_values == NULL)
		return AMLRISK_ENOMEM;
	memcpy(e->flow_values, r->flow + (size_t)v * 2 * kk, 2 * (size_t)kk * sizeof(double));
	if (r->illicit[v])
		return explain_illicit(e, sides, nsides, max);
	if ((tr.pos = calloc(r->n ? r->n : 1, sizeof *tr.pos)) == NULL)
		goto out;
	for (; nt < nsides; nt++)
		if (trace_init(&t[nt], sides[nt], r->n, v) != 0) {
			trace_fini(&t[nt]);
			goto out;
		}
	/* the sides a hop at a time, so that a work bound cuts both alike */
	for (unsigned k = 1; k <= kk && !tr.capped; k++)
		for (int i = 0; i < nt && !tr.capped; i++)
			if ((rv = trace_step(&t[i], &tr)) != 0)
				goto out;
	e->capped = tr.capped;
	rv = explain_list(e, t, nt, max);
out:
	for (int i = 0; i < nt; i++)
		trace_fini(&t[i]);
	free(tr.pos);
	return rv;
}

unsigned
core_explain_flow_hops(const core_explain *e, const double **received, const double **sent)
{
	*received = e->flow_values;
	*sent = e->flow_values != NULL ? e->flow_values + e->flow_hops : NULL;
	return e->flow_hops;
}

size_t
core_explain_contribs(const core_explain *e, const core_explain_contrib **contribs)
{
	*contribs = e->contribs;
	return e->ncontribs;
}

double
core_explain_others(const core_explain *e)
{
	return e->others;
}

bool
core_explain_capped(const core_explain *e)
{
	return e->capped;
}
