/* core_explain.c - per-wallet views for the API: explain (for hop_exposure/v1
 * exact per-hop counts, contributions and shortest paths to the contributing
 * illicit wallets; flow_exposure/v1's part is core_flow_explain.c) and the
 * capped neighbourhood subgraph. One bounded BFS per request; ~ms on 1M wallets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_impl.h"

#define EXPLAIN_PER_HOP_DEFAULT 10
#define EXPLAIN_MAX_DEFAULT     100
#define EXPLAIN_MAX_CAP         10000

/* Which arcs a view's BFS follows from its start wallet. */
typedef enum walk { WALK_OUT, WALK_IN, WALK_ANY } walk;

/* A BFS from one wallet to a depth: dist[v] is the depth + 1 (0 = unreached),
 * parent[v] the node it was reached from; list holds the reached nodes by depth,
 * level[d] .. level[d+1]-1 those at depth d. */
typedef struct bfs {
	uint8_t *dist;    /* n, zeroed between uses through the list */
	uint32_t *parent; /* n */
	uint32_t *list;   /* reached nodes */
	size_t len, cap;
	size_t level[CORE_HOPS_MAX + 2];
	unsigned depth;    /* levels filled: level[0 .. depth+1] valid */
	uint64_t work;     /* arcs examined (the per-request bound counts these) */
	uint64_t work_max; /* 0: no bound */
	bool capped;       /* the bound stopped a walk before its end */
} bfs;

/* Whether examining need more arcs stays within b's bound; if not, marks b
 * capped. Counts them when they fit. */
static bool
bfs_spend(bfs *b, size_t need)
{
	if (b->work_max != 0 && b->work + need > b->work_max) {
		b->capped = true;
		return false;
	}
	b->work += need;
	return true;
}

static int
bfs_init(bfs *b, uint32_t n)
{
	memset(b, 0, sizeof *b);
	b->dist = calloc(n ? n : 1, 1);
	b->parent = malloc((n ? n : 1) * sizeof(uint32_t));
	b->cap = 1024;
	b->list = malloc(b->cap * sizeof(uint32_t));
	if (b->dist == NULL || b->parent == NULL || b->list == NULL)
		return AMLRISK_ENOMEM;
	return AMLRISK_OK;
}

static void
bfs_fini(bfs *b)
{
	free(b->dist);
	free(b->parent);
	free(b->list);
}

static void
bfs_reset(bfs *b)
{
	for (size_t i = 0; i < b->len; i++)
		b->dist[b->list[i]] = 0;
	b->len = 0;
}

static int
bfs_push(bfs *b, uint32_t v, uint32_t parent, unsigned d)
{
	if (b->len == b->cap) {
		uint32_t *nl = realloc(b->list, b->cap * 2 * sizeof(uint32_t));
		if (nl == NULL)
			return AMLRISK_ENOMEM;
		b->list = nl;
		b->cap *= 2;
	}
	b->dist[v] = (uint8_t)(d + 1);
	b->parent[v] = parent;
	b->list[b->len++] = v;
	return AMLRISK_OK;
}

/* Expands the BFS from start by whole levels until depth maxd, or until
 * stop_at nodes are reached (0: no limit), whichever is first; a node whose
 * arcs would pass b->work_max is not expanded and ends the walk (b->capped):
 * the last level is then partial. */
static int
bfs_run(bfs *b, const core_graph *g, uint32_t start, walk w, unsigned maxd, size_t stop_at)
{
	int rv;
	bfs_reset(b);
	if ((rv = bfs_push(b, start, start, 0)) != 0)
		return rv;
	b->level[0] = 0;
	b->level[1] = 1;
	b->depth = 0;
	for (unsigned d = 1; d <= maxd; d++) {
		if (stop_at > 0 && b->len >= stop_at)
			break;
		for (size_t i = b->level[d - 1]; i < b->level[d]; i++) {
			uint32_t u = b->list[i];
			for (int side = 0; side < 2; side++) {
				const uint32_t *nb;
				size_t cnt;
				if (side == 0 && w != WALK_IN)
					cnt = core_graph_out_edges(g, u, &nb, NULL, NULL);
				else if (side == 1 && w != WALK_OUT)
					cnt = core_graph_in_edges(g, u, &nb);
				else
					continue;
				if (!bfs_spend(b, cnt))
					goto capped;
				for (size_t e = 0; e < cnt; e++)
					if (b->dist[nb[e]] == 0 &&
					    (rv = bfs_push(b, nb[e], u, d)) != 0)
						return rv;
			}
		}
		b->level[d + 1] = b->len;
		b->depth = d;
		if (b->level[d + 1] == b->level[d])
			break;
		continue;
	capped:
		b->level[d + 1] = b->len;
		b->depth = d;
		break;
	}
	return AMLRISK_OK;
}

/* Whether an undirected BFS that stopped early had nodes left to reach (true
 * when the work bound stops the search). */
static bool
bfs_has_more(bfs *b, const core_graph *g)
{
	for (size_t i = b->level[b->depth]; i < b->level[b->depth + 1]; i++) {
		const uint32_t *nb;
		size_t cnt = core_graph_out_edges(g, b->list[i], &nb, NULL, NULL);
		if (!bfs_spend(b, cnt + core_graph_in_degree(g, b->list[i])))
			return true;
		for (size_t e = 0; e < cnt; e++)
			if (b->dist[nb[e]] == 0)
				return true;
		cnt = core_graph_in_edges(g, b->list[i], &nb);
		for (size_t e = 0; e < cnt; e++)
			if (b->dist[nb[e]] == 0)
				return true;
	}
	return false;
}

/* Wallet-bytes order of graph ids, for qsort_r. */
static int
id_cmp(const void *a, const void *b, void *ctx)
{
	return core_graph_wallet_cmp(ctx, *(const uint32_t *)a, *(const uint32_t *)b);
}

/* ------------------------------------------------------------- explain --- */

void
core_explain_destroy(core_explain *e)
{
	if (e == NULL)
		return;
	core_graph_unref(e->g);
	free(e->sources);
	free(e->paths);
	free(e->flow_values);
	free(e->contribs);
	free(e->walks);
	free(e);
}

/* Lists the illicit wallets at depth k of b (sorted by bytes) into e, up to
 * the caps; the paths are stored at e->paths + *plen. */
static int
explain_list(core_explain *e, const core_run_result *r, const bfs *b, unsigned k,
             core_direction dir, uint32_t per_hop_left, uint32_t total_max, size_t *plen,
             uint32_t *found)
{
	const core_graph *g = r->g;
	*found = 0;
	if (k > b->depth)
		return AMLRISK_OK;
	size_t lo = b->level[k], hi = b->level[k + 1], cnt = 0;
	uint32_t *cand = malloc((hi - lo ? hi - lo : 1) * sizeof(uint32_t));
	if (cand == NULL)
		return AMLRISK_ENOMEM;
	for (size_t i = lo; i < hi; i++)
		if (r->illicit[b->list[i]])
			cand[cnt++] = b->list[i];
	*found = (uint32_t)cnt;
	qsort_r(cand, cnt, sizeof *cand, id_cmp, (void *)g);
	for (size_t i = 0; i < cnt && i < per_hop_left && e->nsources < total_max; i++) {
		core_explain_source *s = &e->sources[e->nsources++];
		uint32_t *p = e->paths + *plen;
		s->id = cand[i];
		s->hop = k;
		s->direction = dir;
		for (uint32_t v = cand[i], j = k;; j--) {
			p[j] = v;
			if (j == 0)
				break;
			v = b->parent[v];
		}
		*plen += k + 1;
	}
	free(cand);
	return AMLRISK_OK;
}

int
core_explain_build(core_explain **out, const core_run_result *r, const char *wallet, size_t len,
                   const core_explain_params *params)
{
	int rv;
	uint32_t v;
	bfs b[2];
	int nb = 0;
	const core_config *c = &r->cfg;
	uint32_t per_hop = params && params->sources_per_hop ? params->sources_per_hop
	                                                     : EXPLAIN_PER_HOP_DEFAULT;
	uint32_t total = params && params->sources_max ? params->sources_max : EXPLAIN_MAX_DEFAULT;
	if (total > EXPLAIN_MAX_CAP)
		return AMLRISK_EINVAL;
	if ((rv = core_graph_find(r->g, wallet, len, &v)) != 0)
		return rv;
	core_explain *e = calloc(1, sizeof *e);
	if (e == NULL)
		return AMLRISK_ENOMEM;
	e->g = core_graph_ref(r->g);
	e->model = c->model;
	e->wallet = v;
	e->score = r->scores[v];
	e->norm = 1.0;
	if (c->model == CORE_MODEL_FLOW) {
		if ((rv = core_flow_explain_fill(e, r, v, params)) != 0)
			goto fail;
		*out = e;
		return AMLRISK_OK;
	}
	e->norm = core_score_normaliser(r->g, c, v);
	e->nhops = c->hops + 1;
	e->sources = calloc(total, sizeof *e->sources);
	e->paths = malloc((size_t)total * (c->hops + 1) * sizeof(uint32_t));
	rv = AMLRISK_ENOMEM;
	if (e->sources == NULL || e->paths == NULL)
		goto fail;

	/* the walks: from the wallet against the direction exposure flows */
	core_direction dirs[2];
	walk walks[2];
	if (c->direction == CORE_DIR_ANY) {
		dirs[nb] = CORE_DIR_ANY;
		walks[nb++] = WALK_ANY;
	}
	if (c->direction == CORE_DIR_IN || c->direction == CORE_DIR_BOTH) {
		dirs[nb] = CORE_DIR_IN;
		walks[nb++] = WALK_IN;
	}
	if (c->direction == CORE_DIR_OUT || c->direction == CORE_DIR_BOTH) {
		dirs[nb] = CORE_DIR_OUT;
		walks[nb++] = WALK_OUT;
	}
	for (int i = 0; i < nb; i++) {
		if ((rv = bfs_init(&b[i], r->g->n)) != 0) {
			for (int j = 0; j <= i; j++)
				bfs_fini(&b[j]);
			goto fail;
		}
	}
	size_t plen = 0;
	uint32_t sum = 0;
	uint64_t work_max =
	        params && params->work_max ? params->work_max : CORE_EXPLAIN_WORK_DEFAULT;
	rv = AMLRISK_OK;
	for (int i = 0; i < nb && rv == 0; i++) {
		/* the walks share one bound: each counts on from the last */
		b[i].work = e->work;
		b[i].work_max = work_max;
		rv = bfs_run(&b[i], r->g, v, walks[i], c->hops, 0);
		e->work = b[i].work;
		if (b[i].capped) {
			e->capped = true;
			break;
		}
	}
	/* capped: a walk not run lists nothing (depth 0), the partial level of
	 * the one stopped counts what it reached */
	for (unsigned k = 0; k <= c->hops && rv == 0; k++) {
		core_explain_hop *h = &e->hops[k];
		h->hop = k;
		h->weight = c->hop_weights[k];
		h->first_source = e->nsources;
		if (k == 0) {
			h->exact = r->illicit[v];
			if (h->exact && e->nsources < total) {
				core_explain_source *s = &e->sources[e->nsources++];
				s->id = v;
				s->hop = 0;
				s->direction = nb == 1 ? dirs[0] : CORE_DIR_ANY;
				e->paths[plen++] = v;
			}
		} else {
			for (int i = 0; i < nb && rv == 0; i++) {
				uint32_t found, listed = (uint32_t)(e->nsources - h->first_source);
				rv = explain_list(e, r, &b[i], k, dirs[i],
				                  per_hop > listed ? per_hop - listed : 0, total,
				                  &plen, &found);
				h->exact += found;
				if (c->direction == CORE_DIR_BOTH)
					*(i == 0 ? &h->exact_in : &h->exact_out) = found;
			}
		}
		h->source_count = e->nsources - h->first_source;
		if (h->source_count < h->exact)
			e->truncated = true;
		sum += h->exact;
		h->count = c->count == CORE_COUNT_WITHIN ? sum : h->exact;
		h->contribution = h->weight * h->count / e->norm;
	}
	if (e->capped)
		e->truncated = true;
	for (int i = 0; i < nb; i++)
		bfs_fini(&b[i]);
	if (rv != 0)
		goto fail;
	/* paths were written per source in order; point at them */
	plen = 0;
	for (size_t i = 0; i < e->nsources; i++) {
		e->sources[i].path = e->paths + plen;
		plen += e->sources[i].hop + 1;
	}
	*out = e;
	return AMLRISK_OK;
fail:
	core_explain_destroy(e);
	return rv;
}

core_model
core_explain_model(const core_explain *e)
{
	return e->model;
}

const core_graph *
core_explain_graph(const core_explain *e)
{
	return e->g;
}

uint32_t
core_explain_wallet(const core_explain *e)
{
	return e->wallet;
}

double
core_explain_score(const core_explain *e)
{
	return e->score;
}

double
core_explain_normaliser(const core_explain *e)
{
	return e->norm;
}

size_t
core_explain_hops(const core_explain *e, const core_explain_hop **hops)
{
	*hops = e->hops;
	return e->nhops;
}

size_t
core_explain_sources(const core_explain *e, const core_explain_source **sources)
{
	*sources = e->sources;
	return e->nsources;
}

bool
core_explain_truncated(const core_explain *e)
{
	return e->truncated;
}

uint64_t
core_explain_work(const core_explain *e)
{
	return e->work;
}

/* ------------------------------------------------------- neighbourhood --- */

struct core_neigh {
	core_graph *g; /* owned reference */
	core_neigh_node *nodes;
	size_t nnodes;
	core_neigh_edge *edges;
	size_t nedges;
	bool truncated;
	bool capped;
	uint64_t work;
};

void
core_neigh_destroy(core_neigh *n)
{
	if (n == NULL)
		return;
	core_graph_unref(n->g);
	free(n->nodes);
	free(n->edges);
	free(n);
}

/* Relevance: closest, illicit, riskiest, then wallet bytes. */
static int
node_cmp(const void *a, const void *b, void *ctx)
{
	const core_neigh_node *x = a, *y = b;
	if (x->distance != y->distance)
		return x->distance < y->distance ? -1 : 1;
	if (x->is_illicit != y->is_illicit)
		return x->is_illicit ? -1 : 1;
	if (x->risk_score != y->risk_score)
		return x->risk_score > y->risk_score ? -1 : 1;
	return id_cmp(&x->id, &y->id, ctx);
}

/* Edges between the most relevant nodes first. */
static int
edge_cmp(const void *a, const void *b)
{
	const core_neigh_edge *x = a, *y = b;
	uint32_t xh = x->from > x->to ? x->from : x->to, yh = y->from > y->to ? y->from : y->to;
	uint32_t xl = x->from ^ x->to ^ xh, yl = y->from ^ y->to ^ yh;
	if (xh != yh)
		return xh < yh ? -1 : 1;
	if (xl != yl)
		return xl < yl ? -1 : 1;
	return (x->from > y->from) - (x->from < y->from);
}

static int
neigh_fail(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return AMLRISK_EINVAL;
}

int
core_neigh_build(core_neigh **out, core_graph *g, const core_run_result *r, const char *wallet,
                 size_t len, unsigned hops, size_t node_limit, size_t edge_limit, uint64_t work_max,
                 char *err, size_t errlen)
{
	int rv;
	uint32_t c;
	bfs b;
	uint32_t *index = NULL;
	if (hops < 1 || hops > CORE_NEIGH_HOPS_MAX)
		return neigh_fail(err, errlen, "hops: must be 1 to 6");
	if (node_limit < 1 || node_limit > CORE_NEIGH_NODES_MAX)
		return neigh_fail(err, errlen, "node_limit: must be 1 to 100000");
	if (edge_limit > CORE_NEIGH_EDGES_MAX)
		return neigh_fail(err, errlen, "edge_limit: must be 0 to 1000000");
	if (r != NULL && r->g != g)
		return neigh_fail(err, errlen, "run: scored another graph");
	if ((rv = core_graph_find(g, wallet, len, &c)) != 0)
		return rv;
	core_neigh *n = calloc(1, sizeof *n);
	if (n == NULL)
		return AMLRISK_ENOMEM;
	n->g = core_graph_ref(g);
	if ((rv = bfs_init(&b, g->n)) != 0)
		goto out;
	b.work_max = work_max != 0 ? work_max : CORE_NEIGH_WORK_DEFAULT;
	/* whole levels until the limit is reached: deeper nodes could not be kept */
	if ((rv = bfs_run(&b, g, c, WALK_ANY, hops, node_limit)) != 0)
		goto out;
	size_t cand = b.len;
	if (b.depth < hops && bfs_has_more(&b, g))
		n->truncated = true; /* stopped at the limit with nodes left */
	n->nodes = malloc(cand * sizeof *n->nodes);
	index = malloc((size_t)g->n * sizeof(uint32_t));
	rv = AMLRISK_ENOMEM;
	if (n->nodes == NULL || index == NULL)
		goto out;
	for (size_t i = 0; i < cand; i++) {
		core_neigh_node *nd = &n->nodes[i];
		uint32_t v = b.list[i];
		nd->id = v;
		nd->distance = b.dist[v] - 1u;
		nd->risk_score = r ? r->scores[v] : 0.0;
		nd->is_illicit = r ? r->illicit[v] != 0 : false;
		nd->in_degree = core_graph_in_degree(g, v);
		nd->out_degree = core_graph_out_degree(g, v);
	}
	qsort_r(n->nodes + 1, cand - 1, sizeof *n->nodes, node_cmp, g);
	n->nnodes = cand < node_limit ? cand : node_limit;
	if (cand > node_limit)
		n->truncated = true;
	for (size_t i = 0; i < cand; i++)
		b.dist[b.list[i]] = 0;
	b.len = 0;
	/* dist now marks kept nodes; index maps them to their position */
	for (size_t i = 0; i < n->nnodes; i++) {
		b.dist[n->nodes[i].id] = 1;
		index[n->nodes[i].id] = (uint32_t)i;
	}
	size_t ecount = 0, ecap = 64;
	n->edges = malloc(ecap * sizeof *n->edges);
	if (n->edges == NULL)
		goto out;
	for (size_t i = 0; i < n->nnodes; i++) {
		uint32_t u = n->nodes[i].id;
		const uint32_t *dst, *txs;
		const double *amt;
		size_t cnt = core_graph_out_edges(g, u, &dst, &txs, &amt);
		if (!bfs_spend(&b, cnt))
			break; /* the edges among the nodes kept so far */
		for (size_t e = 0; e < cnt; e++) {
			if (!b.dist[dst[e]])
				continue;
			if (ecount == ecap) {
				core_neigh_edge *ne = realloc(n->edges, ecap * 2 * sizeof *ne);
				if (ne == NULL)
					goto out;
				n->edges = ne;
				ecap *= 2;
			}
			n->edges[ecount++] =
			        (core_neigh_edge){(uint32_t)i, index[dst[e]], txs[e], amt[e]};
		}
	}
	for (size_t i = 0; i < n->nnodes; i++)
		b.dist[n->nodes[i].id] = 0;
	qsort(n->edges, ecount, sizeof *n->edges, edge_cmp);
	n->nedges = ecount < edge_limit ? ecount : edge_limit;
	if (ecount > edge_limit)
		n->truncated = true;
	n->capped = b.capped;
	n->work = b.work;
	if (n->capped)
		n->truncated = true;
	rv = AMLRISK_OK;
out:
	bfs_fini(&b);
	free(index);
	if (rv != 0) {
		core_neigh_destroy(n);
		return rv;
	}
	*out = n;
	return AMLRISK_OK;
}

const core_graph *
core_neigh_graph(const core_neigh *n)
{
	return n->g;
}

size_t
core_neigh_nodes(const core_neigh *n, const core_neigh_node **nodes)
{
	*nodes = n->nodes;
	return n->nnodes;
}

size_t
core_neigh_edges(const core_neigh *n, const core_neigh_edge **edges)
{
	*edges = n->edges;
	return n->nedges;
}

bool
core_neigh_truncated(const core_neigh *n)
{
	return n->truncated;
}

bool
core_neigh_capped(const core_neigh *n)
{
	return n->capped;
}

uint64_t
core_neigh_work(const core_neigh *n)
{
	return n->work;
}
