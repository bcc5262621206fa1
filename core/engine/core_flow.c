/* core_flow.c - flow_exposure/v1 (spec/flow_exposure.md) over a whole graph:
 * the in-edges' amounts and the clean balance c, then K synchronous steps of
 * the received exposure (pulled over in-edges) and the sent one (pulled over
 * out-edges), node ranges on up to `threads` threads. O(K x edges) a run, no
 * atomics; ~1M wallets and 10M edges in a fraction of a second.
 *
 * Memory: the result keeps 16 K + 16 bytes a wallet (R_1..R_K, S_1..S_K and
 * the two denominators) beside the 17 of either model (score, flag, order,
 * rank); while it runs, 8 bytes an edge (the in-edges' amounts) and 36 bytes a
 * wallet (two steps of R and S, the scatter cursors) more.
 *
 * Large and small amounts: the spec's sums may pass DBL_MAX (an edge's own
 * total is kept as DBL_MAX by the graph when it would), so when the largest
 * edge amount lies beyond 2^600 or below 2^-600 every amount is multiplied by
 * the power of two (at most 2^1000) that brings it near 1: exact, and shares
 * are ratios of amounts, so nothing else changes. Sums then stay finite; c = smoothing x mean
 * may still overflow to +inf, which gives shares of 0 (the exact ones are
 * below 2^-390). Amounts 2^1000 times smaller than the largest then count as
 * 0. Subnormal amounts are as exact as the doubles that carry them. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define SCALE_EXP 600 /* amounts rescaled beyond 2^+-600 */

typedef struct flow_job {
	core_run_result *r;
	const double *in_amt;  /* in-edge amounts, scaled, parallel to in_src */
	double *rv[2], *sv[2]; /* R and S of steps k-1 and k, by k's parity */
} flow_job;

/* One thread's share of a phase: the wallets whose R ([rlo, rhi)) and S
 * ([slo, shi)) it computes, ranges of about equal rows and edges. */
typedef struct flow_part {
	flow_job *j;
	unsigned k; /* the phase: 0 prepares, k >= 1 computes step k */
	uint32_t rlo, rhi, slo, shi;
} flow_part;

/* The amount scale (a power of two) and c = smoothing x the mean amount of
 * the non-self transactions, both into r. The mean is a compensated sum, so
 * 10M amounts lose nothing measurable. */
static void
flow_balance(core_run_result *r)
{
	const core_graph *g = r->g;
	double mx = 0.0, scale = 1.0, sum = 0.0, comp = 0.0;
	for (uint64_t e = 0; e < g->m; e++)
		mx = g->edge_amount[e] > mx ? g->edge_amount[e] : mx;
	if (mx > 0.0) {
		int ex = ilogb(mx);
		if (ex > SCALE_EXP || ex < -SCALE_EXP) /* 2^1000 at most: a double */
			scale = ldexp(1.0, ex > -1000 ? -ex : 1000);
	}
	for (uint64_t e = 0; e < g->m; e++) { /* Neumaier */
		double a = g->edge_amount[e] * scale, t = sum + a;
		comp += fabs(sum) >= a ? (sum - t) + a : (a - t) + sum;
		sum = t;
	}
	sum += comp;
	uint64_t txs = g->stats.txs - g->stats.self_txs;
	r->flow_scale = scale;
	r->flow_c = r->cfg.smoothing * (txs > 0 ? sum / (double)txs : 0.0);
}

/* The in-edges' amounts (scaled), parallel to in_src: the out rows read in
 * sender order fill each in row in its (ascending sender) order. cur: n
 * cursors of scratch. */
static void
flow_in_amounts(const core_graph *g, double scale, uint32_t *cur, double *in_amt)
{
	memcpy(cur, g->in_off, (size_t)g->n * sizeof(uint32_t));
	for (uint32_t u = 0; u < g->n; u++)
		for (uint32_t e = g->out_off[u]; e < g->out_off[u + 1]; e++)
			in_amt[cur[g->out_dst[e]]++] = g->edge_amount[e] * scale;
}

/* den[v] = the sum of v's row of amt (times scale) + c, for v in [lo, hi). */
static void
flow_dens(const uint32_t *off, const double *amt, double scale, double c, double *den, uint32_t lo,
          uint32_t hi)
{
	for (uint32_t v = lo; v < hi; v++) {
		double s = 0.0;
		for (uint32_t e = off[v]; e < off[v + 1]; e++)
			s += amt[e] * scale;
		den[v] = s + c;
	}
}

/* One step of one side for v in [lo, hi): 1 for the illicit, 0 with a zero
 * denominator, else the row's amounts (times scale) weighting the previous
 * step, over the denominator. Written to cur[v] and keep[v * stride]. */
static void
flow_pull(const uint32_t *off, const uint32_t *nbr, const double *amt, double scale,
          const double *den, const uint8_t *ill, const double *prev, double *cur, double *keep,
          size_t stride, uint32_t lo, uint32_t hi)
{
	for (uint32_t v = lo; v < hi; v++) {
		double x = 1.0;
		if (!ill[v]) {
			double s = 0.0;
			for (uint32_t e = off[v], end = off[v + 1]; e < end; e++)
				s += amt[e] * scale * prev[nbr[e]];
			x = den[v] > 0.0 ? s / den[v] : 0.0;
			x = x < 1.0 ? x : 1.0; /* the exact share is at most 1 */
		}
		cur[v] = x;
		keep[(size_t)v * stride] = x;
	}
}

static void *
flow_phase(void *arg)
{
	flow_part *p = arg;
	flow_job *j = p->j;
	core_run_result *r = j->r;
	const core_graph *g = r->g;
	unsigned kk = r->cfg.hops, k = p->k;
	double scale = r->flow_scale;
	if (k == 0) {
		flow_dens(g->in_off, j->in_amt, 1.0, r->flow_c, r->den_recv, p->rlo, p->rhi);
		flow_dens(g->out_off, g->edge_amount, scale, r->flow_c, r->den_sent, p->slo,
		          p->shi);
		for (uint32_t v = p->rlo; v < p->rhi; v++)
			j->rv[0][v] = r->illicit[v];
		for (uint32_t v = p->slo; v < p->shi; v++)
			j->sv[0][v] = r->illicit[v];
		return NULL;
	}
	size_t stride = 2 * (size_t)kk;
	flow_pull(g->in_off, g->in_src, j->in_amt, 1.0, r->den_recv, r->illicit, j->rv[(k - 1) & 1],
	          j->rv[k & 1], r->flow + (k - 1), stride, p->rlo, p->rhi);
	flow_pull(g->out_off, g->out_dst, g->edge_amount, scale, r->den_sent, r->illicit,
	          j->sv[(k - 1) & 1], j->sv[k & 1], r->flow + kk + (k - 1), stride, p->slo, p->shi);
	return NULL;
}

/* Runs phase k over the parts, the first on this thread (so is any part
 * whose thread cannot be started), and waits for them all. */
static void
flow_phase_run(flow_part *parts, unsigned nparts, unsigned k)
{
	pthread_t t[CORE_THREADS_MAX];
	bool started[CORE_THREADS_MAX] = {false};
	for (unsigned i = 0; i < nparts; i++)
		parts[i].k = k;
	for (unsigned i = 1; i < nparts; i++)
		started[i] = pthread_create(&t[i], NULL, flow_phase, &parts[i]) == 0;
	for (unsigned i = 0; i < nparts; i++)
		if (i == 0 || !started[i])
			flow_phase(&parts[i]);
	for (unsigned i = 1; i < nparts; i++)
		if (started[i])
			pthread_join(t[i], NULL);
}

/* The first v in [0, n] with off[v] + v >= target: rows split by edges and
 * wallets alike. */
static uint32_t
flow_split(const uint32_t *off, uint32_t n, uint64_t target)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if ((uint64_t)off[mid] + mid < target)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
core_flow_run(core_run_result *r, unsigned threads)
{
	int rv = AMLRISK_ENOMEM;
	const core_graph *g = r->g;
	const core_config *cfg = &r->cfg;
	unsigned kk = cfg->hops;
	size_t n1 = g->n ? g->n : 1, m1 = g->m ? g->m : 1;
	flow_job j = {.r = r};
	flow_part parts[CORE_THREADS_MAX];
	double *in_amt = core_mem_alloc(m1 * sizeof(double));
	double *vec = core_mem_alloc(4 * n1 * sizeof(double));
	uint32_t *cur = core_mem_alloc(n1 * sizeof(uint32_t));
	r->flow = core_mem_alloc(n1 * 2 * kk * sizeof(double));
	r->den_recv = core_mem_alloc(n1 * sizeof(double));
	r->den_sent = core_mem_alloc(n1 * sizeof(double));
	if (in_amt == NULL || vec == NULL || cur == NULL || r->flow == NULL ||
	    r->den_recv == NULL || r->den_sent == NULL)
		goto out;
	flow_balance(r);
	flow_in_amounts(g, r->flow_scale, cur, in_amt);
	core_mem_free(cur);
	cur = NULL;
	j.in_amt = in_amt;
	for (int i = 0; i < 2; i++) {
		j.rv[i] = vec + (size_t)i * n1;
		j.sv[i] = vec + (size_t)(2 + i) * n1;
	}

	/* another thread pays from a few million edge steps on */
	uint64_t work = 2 * (uint64_t)g->m * kk + g->n;
	uint64_t useful = 1 + work / core_score_tuning_get()->flow_work_per_thread;
	unsigned np = threads < useful ? threads : (unsigned)useful;
	uint64_t rtotal = (uint64_t)g->in_off[g->n] + g->n, stotal = (uint64_t)g->m + g->n;
	for (unsigned i = 0; i < np; i++) {
		parts[i].j = &j;
		parts[i].rlo = i == 0 ? 0 : parts[i - 1].rhi;
		parts[i].slo = i == 0 ? 0 : parts[i - 1].shi;
		parts[i].rhi =
		        i + 1 == np ? g->n : flow_split(g->in_off, g->n, rtotal * (i + 1) / np);
		parts[i].shi =
		        i + 1 == np ? g->n : flow_split(g->out_off, g->n, stotal * (i + 1) / np);
	}
	for (unsigned k = 0; k <= kk; k++)
		flow_phase_run(parts, np, k);

	const double *rk = j.rv[kk & 1], *sk = j.sv[kk & 1];
	for (uint32_t v = 0; v < g->n; v++)
		r->scores[v] = cfg->side == CORE_SIDE_RECEIVED ? rk[v]
		               : cfg->side == CORE_SIDE_SENT   ? sk[v]
		                                               : rk[v] + sk[v];
	rv = AMLRISK_OK;
out:
	core_mem_free(in_amt);
	core_mem_free(vec);
	core_mem_free(cur);
	return rv;
}
