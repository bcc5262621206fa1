/* core_flow_explain.c - explain of flow_exposure/v1 for one wallet: its
 * per-hop R_k and S_k, and the illicit sources its exposure comes from (the
 * spec's "What a contribution is"). One bounded trace per request: at most
 * work_max edges examined (4M by default), memory 24 bytes a wallet reached
 * per hop plus 36 bytes a wallet of the graph (the step being built is a
 * dense array, so an edge costs one random access).
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
 * the spec's sum does. When the work bound would cut a hop short, its
 * wallets are expanded heaviest first, so the untraced rest (in the others
 * line) weighs as little as the bound allows.
 *
 * A wallet in S: its score is 1 (R_K) and 1 (S_K) by definition, so it is
 * listed as its own contributor on each side the score uses, with
 * contribution 1 and a walk of no edges (walk_len 0, walk = the wallet). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define CONTRIBS_DEFAULT 10
#define ENTRIES_MAX      (UINT32_MAX - 1) /* back pointers are 32-bit */
#define NONE             UINT32_MAX

/* A wallet reached at one step: the sum of the walks' weights into it, the
 * entry it was reached from on its heaviest walk (NONE for the wallet
 * explained) and that walk's weight; one cache line or less, as the trace
 * updates entries in no particular order. */
typedef struct trace_ent {
	uint32_t node, back;
	double best, sum;
} trace_ent;

/* A source found on one side: its summed contribution and the entry that
 * ends its heaviest walk. */
typedef struct trace_src {
	uint32_t source, ent;
	double sum, best;
} trace_src;

/* One side's trace. Entries of every step are kept (the walks' back
 * pointers); the current step is ents[lo, hi). */
typedef struct trace {
	core_side side;
	trace_ent *ents;
	size_t nents, cap;
	size_t lo, hi;
	trace_src *src;
	size_t nsrc, srccap;
	uint32_t *srcidx; /* per wallet: its index in src + 1, 0 when absent */
} trace;

/* A wallet in the step being built: the sum of the walks into it, its
 * heaviest one's weight and entry of the step before; current when mark is
 * the step's stamp (so slots need no clearing between steps). */
typedef struct step_slot {
	double sum, best;
	uint32_t back, mark;
} step_slot;

/* The shared state of one explain's traces (one side's step at a time). */
typedef struct tracer {
	const core_run_result *r;
	step_slot *slot;   /* per wallet */
	uint32_t *touched; /* the wallets the step reached, in order: n at most */
	uint32_t ntouched, stamp;
	uint64_t work, work_max;
	bool capped;
} tracer;

static void
trace_fini(trace *t)
{
	core_mem_free(t->ents);
	core_mem_free(t->src);
	core_mem_free(t->srcidx);
}

/* Starts t at wallet v: one entry, sum 1. */
static int
trace_init(trace *t, core_side side, uint32_t n, uint32_t v)
{
	memset(t, 0, sizeof *t);
	t->side = side;
	t->srcidx = core_mem_alloc((n ? n : 1) * sizeof *t->srcidx);
	if (t->srcidx == NULL ||
	    core_mem_ensure((void **)&t->ents, &t->cap, 1, sizeof *t->ents) != 0)
		return AMLRISK_ENOMEM;
	t->ents[0] = (trace_ent){v, NONE, 1.0, 1.0};
	t->nents = t->hi = 1;
	return AMLRISK_OK;
}

/* Adds walks into y of weight add, the heaviest of them best, coming from
 * entry from, to the step being built. */
static inline void
trace_reach(tracer *tr, uint32_t y, double add, double best, uint32_t from)
{
	step_slot *s = &tr->slot[y];
	if (s->mark != tr->stamp) {
		*s = (step_slot){add, best, from, tr->stamp};
		tr->touched[tr->ntouched++] = y;
		return;
	}
	s->sum += add;
	if (best > s->best) {
		s->best = best;
		s->back = from;
	}
}

/* Ends the step built: the wallets it reached become its entries (the
 * current step), and its illicit wallets' sums go to their contributions. */
static int
trace_close(trace *t, tracer *tr)
{
	const core_run_result *r = tr->r;
	size_t next_lo = t->nents;
	if (t->nents + tr->ntouched > ENTRIES_MAX ||
	    core_mem_ensure((void **)&t->ents, &t->cap, t->nents + tr->ntouched, sizeof *t->ents) !=
	            0)
		return AMLRISK_ENOMEM;
	for (uint32_t k = 0; k < tr->ntouched; k++) {
		uint32_t y = tr->touched[k];
		const step_slot *sl = &tr->slot[y];
		trace_ent *e = &t->ents[t->nents++];
		*e = (trace_ent){y, sl->back, sl->best, sl->sum};
		if (!r->illicit[y])
			continue;
		uint32_t si = t->srcidx[y];
		if (si == 0) {
			if (core_mem_ensure((void **)&t->src, &t->srccap, t->nsrc + 1,
			                    sizeof *t->src) != 0)
				return AMLRISK_ENOMEM;
			t->src[t->nsrc++] = (trace_src){y, NONE, 0.0, 0.0};
			si = t->srcidx[y] = (uint32_t)t->nsrc;
		}
		trace_src *s = &t->src[si - 1];
		s->sum += e->sum;
		if (s->ent == NONE || e->best > s->best) {
			s->best = e->best;
			s->ent = (uint32_t)(t->nents - 1);
		}
	}
	t->lo = next_lo;
	t->hi = t->nents;
	return AMLRISK_OK;
}

/* Whether entry i of t is expanded: reached with weight, not in S. */
static bool
trace_open(const trace *t, const core_run_result *r, size_t i)
{
	return !r->illicit[t->ents[i].node] && t->ents[i].sum > 0;
}

/* The edges expanding wallet x examines on t's side. */
static uint32_t
trace_deg(const trace *t, const core_graph *g, uint32_t x)
{
	const uint32_t *off = t->side == CORE_SIDE_RECEIVED ? g->in_off : g->out_off;
	return off[x + 1] - off[x];
}

#define WEIGHT_CLASSES 1076 /* sums in (0, 1] by binary exponent: 2^0 .. 2^-1074 */

/* The weight class of a sum in (0, 1]: 0 for the heaviest. */
static unsigned
weight_class(double w)
{
	int e = ilogb(w);
	return e >= 0 ? 0 : e < -1074 ? WEIGHT_CLASSES - 1 : (unsigned)-e;
}

/* When the current step would pass the work bound, *order (caller frees)
 * lists its open entries heaviest first (by binary exponent, a counting sort;
 * in their order within one), so that what the bound leaves untraced weighs
 * least; else *order is NULL (all in their order). */
static int
trace_order(const trace *t, const tracer *tr, uint32_t **order, size_t *norder)
{
	const core_run_result *r = tr->r;
	uint64_t need = 0;
	uint32_t start[WEIGHT_CLASSES + 1] = {0};
	*order = NULL;
	*norder = 0;
	for (size_t i = t->lo; i < t->hi; i++) {
		if (!trace_open(t, r, i))
			continue;
		need += trace_deg(t, r->g, t->ents[i].node);
		start[weight_class(t->ents[i].sum) + 1]++;
		(*norder)++;
	}
	if (tr->work + need <= tr->work_max)
		return AMLRISK_OK;
	if ((*order = malloc((*norder ? *norder : 1) * sizeof **order)) == NULL)
		return AMLRISK_ENOMEM;
	for (unsigned c = 1; c <= WEIGHT_CLASSES; c++)
		start[c] += start[c - 1];
	for (size_t i = t->lo; i < t->hi; i++)
		if (trace_open(t, r, i))
			(*order)[start[weight_class(t->ents[i].sum)]++] = (uint32_t)i;
	return AMLRISK_OK;
}

/* One hop more of t: every open wallet of the current step is expanded over
 * its in-edges (RECEIVED) or out-edges (SENT) while the work bound allows
 * (one that does not fit is left out and tr->capped set). */
static int
trace_step(trace *t, tracer *tr)
{
	const core_run_result *r = tr->r;
	const core_graph *g = r->g;
	bool recv = t->side == CORE_SIDE_RECEIVED;
	const uint32_t *off = recv ? g->in_off : g->out_off;
	const uint32_t *nbr = recv ? g->in_src : g->out_dst;
	size_t norder;
	uint32_t *order;
	int rv;
	if ((rv = trace_order(t, tr, &order, &norder)) != 0)
		return rv;
	tr->stamp++;
	tr->ntouched = 0;
	size_t steps = order != NULL ? norder : t->hi - t->lo;
	for (size_t q = 0; q < steps; q++) {
		size_t i = order != NULL ? order[q] : t->lo + q;
		uint32_t x = t->ents[i].node;
		double w = t->ents[i].sum, best = t->ents[i].best;
		if (!trace_open(t, r, i))
			continue;
		uint32_t lo = off[x], hi = off[x + 1];
		double den = recv ? r->den_recv[x] : r->den_sent[x];
		if (tr->work + (hi - lo) > tr->work_max) {
			tr->capped = true;
			continue;
		}
		tr->work += hi - lo;
		if (!(den > 0))
			continue;
		/* an edge's share is its amount (in the run's scale) over den */
		const double *amt = recv ? r->in_amount : g->edge_amount;
		double f = (recv ? 1.0 : r->flow_scale) / den, fw = w * f, fb = best * f;
		for (uint32_t e = lo; e < hi; e++) {
			double add = amt[e] * fw;
			if (add > 0)
				trace_reach(tr, nbr[e], add, amt[e] * fb, (uint32_t)i);
		}
	}
	free(order);
	return trace_close(t, tr);
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
	tracer tr = {r, NULL, NULL, 0, 0, 0, CORE_EXPLAIN_WORK_DEFAULT, false};
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
	tr.slot = core_mem_alloc((r->n ? r->n : 1) * sizeof *tr.slot);
	tr.touched = core_mem_alloc((r->n ? r->n : 1) * sizeof *tr.touched);
	if (tr.slot == NULL || tr.touched == NULL)
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
	e->work = tr.work;
	rv = explain_list(e, t, nt, max);
out:
	for (int i = 0; i < nt; i++)
		trace_fini(&t[i]);
	core_mem_free(tr.slot);
	core_mem_free(tr.touched);
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
