/* bench_engine.c - benchmark of the scoring engine (not a test): generated
 * heavy-tailed wallet graphs of 100k, 1M and 10M transactions (~10 per wallet),
 * graph build and scoring times of both models, peak memory, and a per-wallet
 * BFS baseline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "core_engine.h"

#define ID_LEN    42 /* "0x" + 40 hex digits, as Ethereum addresses */
#define REPS_MAX  15
#define SIZES_MAX 8

/* The rows as the server meets them in a COPY stream: contiguous, the
 * sender's and receiver's ids of row i at rows + i * 2 * ID_LEN. */
typedef struct dataset {
	uint32_t wallets;
	size_t txs;
	char *rows;     /* txs * 2 * ID_LEN */
	double *amount; /* txs */
} dataset;

typedef struct opts {
	size_t sizes[SIZES_MAX];
	int nsizes;
	int reps;
	unsigned threads;
	double alpha;        /* wallet activity ~ rank^-alpha */
	size_t baseline_max; /* per-wallet BFS only up to this many transactions */
	unsigned baseline_sample;
	uint64_t seed;
	bool append; /* only the append benchmark (issue 14) */
	bool hub_only; /* --hub 1: only the hub request table */
} opts;

static uint64_t
rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return core_mix64(*s);
}

static double
rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* A rank in [0, n) drawn with P(r) ~ (r + 1)^-alpha (inverse of the
 * continuous CDF). */
static uint32_t
rank_draw(uint64_t *s, uint32_t n, double alpha)
{
	double a1 = 1.0 - alpha, top = pow((double)n + 1.0, a1) - 1.0;
	double r = pow(1.0 + rng_unit(s) * top, 1.0 / a1) - 1.0;
	uint32_t v = (uint32_t)r;
	return v < n ? v : n - 1;
}

/* Heavy-tailed: wallet activity follows a power law in its rank (alpha 0.6
 * gives degree exponent ~2.7 and hubs of ~1% of all transactions); ranks map
 * to wallets through a random permutation and rows come in random order. */
static int
dataset_make(dataset *d, size_t txs, double alpha, uint64_t seed)
{
	uint64_t s = seed;
	int rv = AMLRISK_ENOMEM;
	memset(d, 0, sizeof *d);
	d->txs = txs;
	d->wallets = (uint32_t)(txs / 10 > 2 ? txs / 10 : 2);
	char *ids = malloc((size_t)d->wallets * (ID_LEN + 1));
	uint32_t *perm = malloc((size_t)d->wallets * sizeof(uint32_t));
	d->rows = malloc(txs * 2 * ID_LEN);
	d->amount = malloc(txs * sizeof(double));
	if (ids == NULL || perm == NULL || d->rows == NULL || d->amount == NULL)
		goto out;
	for (uint32_t i = 0; i < d->wallets; i++) {
		uint64_t a = rng_next(&s), b = rng_next(&s);
		snprintf(ids + (size_t)i * (ID_LEN + 1), ID_LEN + 1, "0x%016llx%016llx%08x",
		         (unsigned long long)a, (unsigned long long)b, (unsigned)(i * 2654435761u));
		perm[i] = i;
	}
	for (uint32_t i = d->wallets - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rng_next(&s) % (i + 1));
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < txs; i++) {
		uint32_t a = perm[rank_draw(&s, d->wallets, alpha)];
		uint32_t b = perm[rank_draw(&s, d->wallets, alpha)];
		memcpy(d->rows + i * 2 * ID_LEN, ids + (size_t)a * (ID_LEN + 1), ID_LEN);
		memcpy(d->rows + i * 2 * ID_LEN + ID_LEN, ids + (size_t)b * (ID_LEN + 1), ID_LEN);
		d->amount[i] = exp(rng_unit(&s) * 10.0) / 100.0;
	}
	rv = AMLRISK_OK;
out:
	free(ids);
	free(perm);
	return rv;
}

static void
dataset_free(dataset *d)
{
	free(d->rows);
	free(d->amount);
}

/* Builds the graph of rows [0, txs) of d. */
static int
graph_build_rows(core_graph **g, const dataset *d, size_t txs, unsigned threads)
{
	int rv;
	core_graph_builder *b;
	if ((rv = core_graph_builder_create(&b, 0)) != 0)
		return rv;
	for (size_t i = 0; i < txs; i++) {
		const char *row = d->rows + i * 2 * ID_LEN;
		if ((rv = core_graph_builder_add(b, row, ID_LEN, row + ID_LEN, ID_LEN,
		                                 d->amount[i])) != 0) {
			core_graph_builder_destroy(b);
			return rv;
		}
	}
	return core_graph_builder_finish(g, b, threads);
}

static int
graph_build(core_graph **g, const dataset *d, unsigned threads)
{
	return graph_build_rows(g, d, d->txs, threads);
}

static double
wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* What one measured run reports back to the parent. */
typedef struct run_report {
	double build_s, score_s;
	double build_cpu, score_cpu; /* CPU seconds, all threads */
	long engine_peak_kb;
	uint64_t edges;
	uint32_t wallets, illicit;
	size_t graph_bytes;
	int rv;
} run_report;

/* Builds and scores in a child process so that its peak RSS is its own. */
static int
run_measured(const dataset *d, const core_config *cfg, unsigned threads, run_report *rep)
{
	int fds[2];
	if (pipe(fds) != 0)
		return AMLRISK_EIO;
	pid_t pid = fork();
	if (pid < 0)
		return AMLRISK_EIO;
	if (pid == 0) {
		run_report r = {0};
		core_graph *g = NULL;
		core_run_result *res = NULL;
		char err[256];
		close(fds[0]);
		long base = rss_kb();
		double t0 = amlrisk_now_s(), c0 = cpu_now();
		r.rv = graph_build(&g, d, threads);
		double t1 = amlrisk_now_s(), c1 = cpu_now();
		if (r.rv == 0)
			r.rv = core_score_run(&res, g, cfg, NULL, threads, err, sizeof err);
		double t2 = amlrisk_now_s(), c2 = cpu_now();
		r.build_cpu = c1 - c0;
		r.score_cpu = c2 - c1;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		r.build_s = t1 - t0;
		r.score_s = t2 - t1;
		r.engine_peak_kb = ru.ru_maxrss - base;
		if (r.rv == 0) {
			core_graph_stats st;
			core_graph_stats_get(g, &st);
			r.edges = st.edges;
			r.wallets = st.wallets;
			r.graph_bytes = st.bytes;
			r.illicit = core_run_result_illicit_count(res);
		}
		if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], rep, sizeof *rep);
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	if (n != (ssize_t)sizeof *rep || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return AMLRISK_EINTERNAL;
	return rep->rv;
}

/* ------------------------------------------------- per-wallet baseline --- */

/* The original's method: one BFS per wallet to depth K, counting illicit
 * wallets per distance. Returns the seconds for the wallets in sample (every
 * wallet when sample is NULL) and checks their counts against res. */
static double
baseline_run(const core_run_result *res, const uint32_t *sample, uint32_t nsample,
             uint32_t *mismatches)
{
	const core_graph *g = core_run_result_graph(res);
	const core_config *c = core_run_result_config(res);
	uint32_t n = core_graph_wallet_count(g);
	uint8_t *dist = calloc(n, 1);
	uint32_t *queue = malloc((size_t)n * sizeof(uint32_t));
	double t0 = amlrisk_now_s();
	*mismatches = 0;
	for (uint32_t si = 0; si < nsample && dist != NULL && queue != NULL; si++) {
		uint32_t v = sample[si], head = 0, tail = 0;
		uint32_t x[CORE_HOPS_MAX + 1] = {0};
		core_wallet_score ws;
		queue[tail++] = v;
		dist[v] = 1;
		while (head < tail) {
			uint32_t u = queue[head++];
			unsigned du = dist[u] - 1u;
			core_run_result_get(res, u, &ws);
			x[du] += ws.is_illicit;
			if (du == c->hops)
				continue;
			for (int side = 0; side < 2; side++) {
				const uint32_t *nb;
				size_t cnt;
				if (side == 0 && c->direction != CORE_DIR_IN)
					cnt = core_graph_out_edges(g, u, &nb, NULL, NULL);
				else if (side == 1 && c->direction != CORE_DIR_OUT)
					cnt = core_graph_in_edges(g, u, &nb);
				else
					continue;
				for (size_t e = 0; e < cnt; e++) {
					if (dist[nb[e]] == 0) {
						dist[nb[e]] = (uint8_t)(du + 2);
						queue[tail++] = nb[e];
					}
				}
			}
		}
		for (uint32_t i = 0; i < tail; i++)
			dist[queue[i]] = 0;
		core_run_result_get(res, v, &ws);
		uint32_t sum = 0;
		for (unsigned k = 0; k <= c->hops; k++) {
			sum += x[k];
			if (ws.counts[k] != (c->count == CORE_COUNT_WITHIN ? sum : x[k]))
				(*mismatches)++;
		}
	}
	double t = amlrisk_now_s() - t0;
	free(dist);
	free(queue);
	return t;
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The medians of one config's measured runs. */
typedef struct bench_row {
	double build[REPS_MAX], score[REPS_MAX], total[REPS_MAX], bcpu[REPS_MAX], scpu[REPS_MAX];
	long peak;
	run_report rep;
} bench_row;

/* Measures the configs on d, their runs interleaved (rep 1 of each, then rep
 * 2, ...) so that a change of load on the shared machine falls on all alike;
 * prints a row of medians per config; *totals gets each config's median
 * build + score seconds. */
static void
bench_configs(const dataset *d, const char *const *labels, const core_config *cfgs, int ncfg,
              const opts *o, double *totals)
{
	bench_row *rows = calloc((size_t)ncfg, sizeof *rows);
	int reps = d->txs >= 5000000 && o->reps > 3 ? 3 : o->reps;
	if (rows == NULL) {
		fprintf(stderr, "bench: out of memory\n");
		exit(1);
	}
	for (int i = 0; i < reps; i++) {
		for (int c = 0; c < ncfg; c++) {
			bench_row *b = &rows[c];
			int rv = run_measured(d, &cfgs[c], o->threads, &b->rep);
			if (rv != 0) {
				fprintf(stderr, "bench: run failed: %s\n", amlrisk_strerror(rv));
				exit(1);
			}
			b->build[i] = b->rep.build_s;
			b->score[i] = b->rep.score_s;
			b->total[i] = b->rep.build_s + b->rep.score_s;
			b->bcpu[i] = b->rep.build_cpu;
			b->scpu[i] = b->rep.score_cpu;
			if (b->rep.engine_peak_kb > b->peak)
				b->peak = b->rep.engine_peak_kb;
		}
	}
	for (int c = 0; c < ncfg; c++) {
		bench_row *b = &rows[c];
		const run_report *rep = &b->rep;
		double bm = median(b->build, reps), sm = median(b->score, reps);
		double tm = median(b->total, reps), bc = median(b->bcpu, reps);
		double sc = median(b->scpu, reps), edges = (double)(rep->edges ? rep->edges : 1);
		totals[c] = tm;
		printf("| %zu | %s | %u | %llu | %u | %.3f | %.3f | %.3f | %.2f / %.2f | %.0f | "
		       "%.1f | %.1f |\n",
		       d->txs, labels[c], rep->wallets, (unsigned long long)rep->edges,
		       rep->illicit, bm, sm, tm, bc, sc, (double)b->peak / 1024.0,
		       (double)b->peak * 1024.0 / edges, (double)rep->graph_bytes / edges);
	}
	fflush(stdout);
	free(rows);
}

static void
bench_baseline(const dataset *d, const char *label, const core_config *cfg, const opts *o)
{
	core_graph *g = NULL;
	core_run_result *res = NULL;
	char err[256];
	if (graph_build(&g, d, o->threads) != 0 ||
	    core_score_run(&res, g, cfg, NULL, o->threads, err, sizeof err) != 0) {
		fprintf(stderr, "bench: baseline setup failed\n");
		exit(1);
	}
	uint32_t n = core_graph_wallet_count(g), ns = n;
	uint32_t *sample = malloc((size_t)n * sizeof(uint32_t));
	uint64_t s = o->seed ^ 0xb5;
	for (uint32_t i = 0; i < n; i++)
		sample[i] = i;
	if (o->baseline_sample > 0 && o->baseline_sample < n) {
		ns = o->baseline_sample;
		for (uint32_t i = 0; i < ns; i++) { /* partial Fisher-Yates */
			uint32_t j = i + (uint32_t)(rng_next(&s) % (n - i));
			uint32_t t = sample[i];
			sample[i] = sample[j];
			sample[j] = t;
		}
	}
	uint32_t bad;
	double t = baseline_run(res, sample, ns, &bad);
	double full = t * (double)n / (double)ns;
	printf("| %zu | %s | %u of %u | %.3f | %.1f%s | %.2f | %u |\n", d->txs, label, ns, n, t,
	       full, ns < n ? " (extrapolated)" : "", core_run_result_seconds(res), bad);
	fflush(stdout);
	free(sample);
	core_run_result_unref(res);
	core_graph_unref(g);
}

static double
thread_cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* flow_exposure/v1 explain on d: the 100 riskiest wallets not in S and 100
 * drawn at random, each explained with the default bounds; prints median and
 * largest milliseconds (wall and CPU), the contributors listed, how many hit
 * the work bound and the mean share of the score left in the others line. */
static void
bench_explain(const dataset *d, const core_config *cfg, const opts *o)
{
	core_graph *g = NULL;
	core_run_result *res = NULL;
	char err[256];
	if (graph_build(&g, d, o->threads) != 0 ||
	    core_score_run(&res, g, cfg, NULL, o->threads, err, sizeof err) != 0) {
		fprintf(stderr, "bench: explain setup failed\n");
		exit(1);
	}
	uint32_t n = core_graph_wallet_count(g), skip = core_run_result_illicit_count(res);
	uint64_t s = o->seed ^ 0xe7;
	for (int set = 0; set < 2; set++) {
		double ms[100], cpu[100], listed = 0, others = 0;
		int capped = 0, cnt = 0;
		for (uint32_t i = 0; i < 100 && skip + i < n; i++, cnt++) {
			uint32_t v = set == 0 ? core_run_result_order(res)[skip + i]
			                      : (uint32_t)(rng_next(&s) % n);
			size_t len;
			const char *w = core_graph_wallet(g, v, &len);
			core_explain *e = NULL;
			const core_explain_contrib *cs;
			double t0 = amlrisk_now_s(), c0 = thread_cpu_now();
			if (core_explain_build(&e, res, w, len, NULL) != 0) {
				fprintf(stderr, "bench: explain failed\n");
				exit(1);
			}
			ms[i] = (amlrisk_now_s() - t0) * 1e3;
			cpu[i] = (thread_cpu_now() - c0) * 1e3;
			listed += (double)core_explain_contribs(e, &cs);
			capped += core_explain_capped(e);
			if (core_explain_score(e) > 0)
				others += core_explain_others(e) / core_explain_score(e);
			core_explain_destroy(e);
		}
		double med = median(ms, cnt), max = ms[cnt - 1]; /* median() sorts */
		double cmed = median(cpu, cnt), cmax = cpu[cnt - 1];
		printf("| %zu | %s | %.1f / %.1f | %.1f / %.1f | %.1f | %d of %d | %.3f |\n",
		       d->txs, set == 0 ? "the 100 riskiest not in S" : "100 at random", med, max,
		       cmed, cmax, listed / cnt, capped, cnt, others / cnt);
	}
	fflush(stdout);
	core_run_result_unref(res);
	core_graph_unref(g);
}

/* Seconds to score g with cfg (-1 on error). */
static double
score_time(core_graph *g, const core_config *cfg, unsigned threads)
{
	core_run_result *res;
	double t0 = wall_now();
	if (core_score_run(&res, g, cfg, NULL, threads, NULL, 0) != 0)
		return -1;
	double t = wall_now() - t0;
	core_run_result_unref(res);
	return t;
}

/* Issue 14: the last `batch` rows of d appended to a graph of the others
 * (core_graph_append) against a full rebuild of all d's rows, each then
 * scored with hop's and flow's defaults (cfgs[0], cfgs[1]); reps interleaved,
 * medians. */
static void
bench_append(const dataset *d, size_t batch, const core_config *cfgs, const opts *o)
{
	double app[REPS_MAX], app_hop[REPS_MAX], app_flow[REPS_MAX], reb[REPS_MAX],
	        reb_hop[REPS_MAX], reb_flow[REPS_MAX];
	core_graph *base = NULL;
	core_tx *rows = calloc(batch, sizeof *rows);
	size_t from = d->txs - batch, bytes_app = 0, bytes_reb = 0;
	uint64_t edges = 0;
	if (rows == NULL || batch > d->txs || graph_build_rows(&base, d, from, o->threads) != 0) {
		fprintf(stderr, "bench: cannot build the base graph\n");
		free(rows);
		return;
	}
	for (size_t i = 0; i < batch; i++) {
		const char *r = d->rows + (from + i) * 2 * ID_LEN;
		rows[i] = (core_tx){r, ID_LEN,      r + ID_LEN, ID_LEN, d->amount[from + i],
		                    0, from + i + 1};
	}
	for (int k = 0; k < o->reps; k++) {
		core_graph *g = NULL, *full = NULL;
		core_graph_stats st;
		double t0 = wall_now();
		if (core_graph_append(&g, base, rows, batch, o->threads, NULL) != 0)
			break;
		app[k] = wall_now() - t0;
		app_hop[k] = score_time(g, &cfgs[0], o->threads);
		app_flow[k] = score_time(g, &cfgs[1], o->threads);
		core_graph_stats_get(g, &st);
		bytes_app = st.bytes;
		edges = st.edges;
		core_graph_unref(g);
		t0 = wall_now();
		if (graph_build(&full, d, o->threads) != 0)
			break;
		reb[k] = wall_now() - t0;
		reb_hop[k] = score_time(full, &cfgs[0], o->threads);
		reb_flow[k] = score_time(full, &cfgs[1], o->threads);
		core_graph_stats_get(full, &st);
		bytes_reb = st.bytes;
		core_graph_unref(full);
	}
	double a = median(app, o->reps), ah = median(app_hop, o->reps),
	       af = median(app_flow, o->reps), r = median(reb, o->reps),
	       rh = median(reb_hop, o->reps), rf = median(reb_flow, o->reps);
	printf("| %zu | %zu | %.1f | %.1f | %.1f | %.3f | %.3f | %.3f | %.0fx | %.2fx | %.2fx | "
	       "%.1f / %.1f |\n",
	       d->txs, batch, a * 1e3, (a + ah) * 1e3, (a + af) * 1e3, r, r + rh, r + rf, r / a,
	       (r + rh) / (a + ah), (r + rf) / (a + af), (double)bytes_app / (double)edges,
	       (double)bytes_reb / (double)edges);
	core_graph_unref(base);
	free(rows);
}

/* One hub request: explain (hop config c) or, with c NULL, the neighbourhood
 * of hops / nodes / edges, with work bound wmax; returns wall ms, sets the
 * arcs examined and whether the bound was hit. */
static double
hub_once(core_graph *g, const core_run_result *res, const char *w, size_t len, bool expl,
         unsigned hops, size_t nodes, uint64_t wmax, uint64_t *work, bool *capped)
{
	double t0 = amlrisk_now_s();
	if (expl) {
		core_explain *e = NULL;
		core_explain_params p = {10, 300, wmax};
		if (core_explain_build(&e, res, w, len, &p) != 0)
			exit(1);
		*work = core_explain_work(e);
		*capped = core_explain_capped(e);
		core_explain_destroy(e);
	} else {
		core_neigh *n = NULL;
		if (core_neigh_build(&n, g, res, w, len, hops, nodes, 10000, wmax, NULL, 0) != 0)
			exit(1);
		*work = core_neigh_work(n);
		*capped = core_neigh_capped(n);
		core_neigh_destroy(n);
	}
	return (amlrisk_now_s() - t0) * 1e3;
}

/* The worst-case view requests: the wallet of most arcs, explained under hop
 * configs of 2 and 6 hops (direction any) and its neighbourhood at the
 * server's defaults (2 hops, 200 nodes) and limits (6 hops, 2000 nodes),
 * each without a work bound and with the default one, interleaved rep by
 * rep; prints medians, arcs examined and whether the bound was hit. */
static void
bench_hub(const dataset *d, const opts *o)
{
	core_graph *g = NULL;
	core_run_result *res[2] = {NULL, NULL};
	core_config cfg[2];
	char err[256];
	core_config_defaults_model(&cfg[0], CORE_MODEL_HOP);
	cfg[1] = cfg[0];
	cfg[1].hops = 6;
	for (unsigned k = 3; k <= 6; k++)
		cfg[1].hop_weights[k] = 0.1;
	if (graph_build(&g, d, o->threads) != 0 ||
	    core_score_run(&res[0], g, &cfg[0], NULL, o->threads, err, sizeof err) != 0 ||
	    core_score_run(&res[1], g, &cfg[1], NULL, o->threads, err, sizeof err) != 0) {
		fprintf(stderr, "bench: hub setup failed\n");
		exit(1);
	}
	uint32_t n = core_graph_wallet_count(g), hub = 0, best = 0;
	for (uint32_t v = 0; v < n; v++) {
		uint32_t deg = core_graph_in_degree(g, v) + core_graph_out_degree(g, v);
		if (deg > best) {
			best = deg;
			hub = v;
		}
	}
	size_t len;
	const char *w = core_graph_wallet(g, hub, &len);
	static const struct {
		const char *what;
		bool expl;
		int cfg;
		unsigned hops;
		size_t nodes;
	} req[] = {{"explain, hop defaults (2 hops)", true, 0, 2, 0},
	           {"explain, 6 hops", true, 1, 6, 0},
	           {"graph, 2 hops, 200 nodes", false, 0, 2, 200},
	           {"graph, 6 hops, 2000 nodes", false, 0, 6, 2000}};
	for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
		double ms[2][REPS_MAX];
		uint64_t work[2] = {0, 0};
		bool capped[2] = {false, false};
		uint64_t bound[2] = {UINT64_MAX, req[i].expl ? CORE_EXPLAIN_WORK_DEFAULT
		                                             : CORE_NEIGH_WORK_DEFAULT};
		for (int r = 0; r < o->reps; r++)
			for (int b = 0; b < 2; b++)
				ms[b][r] = hub_once(g, res[req[i].cfg], w, len, req[i].expl,
				                    req[i].hops, req[i].nodes, bound[b], &work[b],
				                    &capped[b]);
		double m0 = median(ms[0], o->reps), m1 = median(ms[1], o->reps);
		printf("| %zu | %u | %s | %.1f | %llu | %.1f | %llu | %s | %.2fx |\n", d->txs, best,
		       req[i].what, m0, (unsigned long long)work[0], m1,
		       (unsigned long long)work[1], capped[1] ? "yes" : "no",
		       m0 > 0 ? m1 / m0 : 0.0);
	}
	fflush(stdout);
	core_run_result_unref(res[0]);
	core_run_result_unref(res[1]);
	core_graph_unref(g);
}

static void
usage(void)
{
	fputs("usage: bench_engine [--tx N]... [--reps R] [--threads T] [--alpha A]\n"
	      "                    [--baseline-max N] [--baseline-sample S] [--seed S]\n"
	      "                    [--append 1] [--hub 1]\n"
	      "Builds and scores generated heavy-tailed graphs (wallets = N/10) with\n"
	      "hop_exposure/v1's defaults, with direction=in, 3 hops, and with\n"
	      "flow_exposure/v1's defaults (illicit ratio 0.05, as hop's); prints markdown\n"
	      "tables of medians (the configs' runs interleaved) and flow / hop ratios.\n"
	      "Defaults: --tx 100000 --tx 1000000 --tx 10000000 --reps 5 --threads 2\n"
	      "--alpha 0.6 --baseline-max 1000000 --baseline-sample 10000 --seed 1\n"
	      "--append 1: instead, batches of 1k and 10k rows appended to each graph\n"
	      "(core_graph_append) and scored, against a full rebuild and scoring.\n"
	      "--hub 1: only the worst-case explain / graph requests on the busiest wallet,\n"
	      "without and with the default work bound\n",
	      stderr);
}

int
main(int argc, char **argv)
{
	opts o = {.reps = 5,
	          .threads = 2,
	          .alpha = 0.6,
	          .baseline_max = 1000000,
	          .baseline_sample = 10000,
	          .seed = 1};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL) {
			usage();
			return 2;
		}
		i++;
		if (strcmp(a, "--tx") == 0 && o.nsizes < SIZES_MAX)
			o.sizes[o.nsizes++] = strtoull(v, NULL, 10);
		else if (strcmp(a, "--reps") == 0)
			o.reps = atoi(v);
		else if (strcmp(a, "--threads") == 0)
			o.threads = (unsigned)atoi(v);
		else if (strcmp(a, "--alpha") == 0)
			o.alpha = atof(v);
		else if (strcmp(a, "--baseline-max") == 0)
			o.baseline_max = strtoull(v, NULL, 10);
		else if (strcmp(a, "--baseline-sample") == 0)
			o.baseline_sample = (unsigned)atoi(v);
		else if (strcmp(a, "--seed") == 0)
			o.seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--append") == 0)
			o.append = atoi(v) != 0;
		else if (strcmp(a, "--hub") == 0)
			o.hub_only = atoi(v) != 0;
		else {
			usage();
			return 2;
		}
	}
	if (o.nsizes == 0) {
		o.sizes[0] = 100000;
		o.sizes[1] = 1000000;
		o.sizes[2] = 10000000;
		o.nsizes = 3;
	}
	if (o.reps < 1 || o.reps > REPS_MAX || o.alpha <= 0 || o.alpha >= 1) {
		usage();
		return 2;
	}
	/* hop defaults, hop in 3 hops, and flow defaults with hop's illicit share
	 * (flow's own default share is 0: labels are its usual source), so that
	 * both models score the same illicit set */
	enum { C_DEF, C_IN3, C_FLOW, NCFG };
	static const char *const labels[NCFG] = {"defaults", "in, 3 hops",
	                                         "flow defaults (6 hops, both)"};
	core_config cfgs[NCFG];
	core_config_defaults_model(&cfgs[C_DEF], CORE_MODEL_HOP);
	cfgs[C_IN3] = cfgs[C_DEF];
	cfgs[C_IN3].direction = CORE_DIR_IN;
	cfgs[C_IN3].hops = 3;
	cfgs[C_IN3].hop_weights[3] = 0.1;
	core_config_defaults_model(&cfgs[C_FLOW], CORE_MODEL_FLOW);
	cfgs[C_FLOW].illicit_ratio = cfgs[C_DEF].illicit_ratio;
	double ratio[SIZES_MAX];
	if (o.append) {
		core_config both[2] = {cfgs[C_DEF], cfgs[C_FLOW]};
		printf("append: threads=%u alpha=%.2f reps=%d (median)\n\n| tx | batch | "
		       "append ms | + hop score ms | + flow score ms | rebuild s | + hop score s | "
		       "+ flow score s | rebuild / append | with hop score | with flow score | "
		       "graph B/edge appended / rebuilt |\n"
		       "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
		       o.threads, o.alpha, o.reps);
		for (int i = 0; i < o.nsizes; i++) {
			dataset d;
			if (dataset_make(&d, o.sizes[i], o.alpha, o.seed) != 0)
				return 1;
			bench_append(&d, 1000, both, &o);
			bench_append(&d, 10000, both, &o);
			dataset_free(&d);
		}
		return 0;
	}

	printf("view requests on the busiest wallet, without and with the default work "
	       "bound (%u arcs), medians of %d:\n\n| tx | hub arcs | request | unbounded ms | "
	       "arcs examined | bounded ms | arcs examined | capped | bounded / unbounded |\n"
	       "|---|---|---|---|---|---|---|---|---|\n",
	       (unsigned)CORE_EXPLAIN_WORK_DEFAULT, o.reps);
	for (int i = 0; i < o.nsizes; i++) {
		dataset d;
		if (dataset_make(&d, o.sizes[i], o.alpha, o.seed) != 0)
			return 1;
		bench_hub(&d, &o);
		dataset_free(&d);
	}
	if (o.hub_only)
		return 0;
	printf("\n");

	printf("engine: threads=%u alpha=%.2f reps=%d (median; 3 at >= 5M tx)\n\n", o.threads,
	       o.alpha, o.reps);
	printf("| tx | config | wallets | edges | illicit | build s | score s | total s | "
	       "CPU s build / score | peak MiB | peak B/edge | graph B/edge |\n"
	       "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < o.nsizes; i++) {
		dataset d;
		if (dataset_make(&d, o.sizes[i], o.alpha, o.seed) != 0) {
			fprintf(stderr, "bench: out of memory generating %zu tx\n", o.sizes[i]);
			return 1;
		}
		double totals[NCFG];
		bench_configs(&d, labels, cfgs, NCFG, &o, totals);
		ratio[i] = totals[C_FLOW] / totals[C_DEF];
		dataset_free(&d);
	}
	printf("\nflow_exposure/v1 defaults against hop_exposure/v1 defaults, build + score "
	       "medians of the same run:\n\n| tx | flow / hop |\n|---|---|\n");
	for (int i = 0; i < o.nsizes; i++)
		printf("| %zu | %.2fx |\n", o.sizes[i], ratio[i]);
	printf("\nflow_exposure/v1 explain (default bounds: 10 contributors, %u edges of "
	       "work):\n\n| tx | wallets | ms median / max | CPU ms median / max | "
	       "contributors listed | capped | others / score |\n|---|---|---|---|---|---|---|\n",
	       (unsigned)CORE_EXPLAIN_WORK_DEFAULT);
	for (int i = 0; i < o.nsizes; i++) {
		dataset d;
		if (dataset_make(&d, o.sizes[i], o.alpha, o.seed) != 0)
			return 1;
		bench_explain(&d, &cfgs[C_FLOW], &o);
		dataset_free(&d);
	}
	printf("\nper-wallet BFS baseline (one BFS per wallet, as the original):\n\n"
	       "| tx | config | wallets timed | seconds | all wallets s | engine score s | "
	       "count mismatches |\n|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < o.nsizes; i++) {
		dataset d;
		if (o.sizes[i] > o.baseline_max)
			continue;
		if (dataset_make(&d, o.sizes[i], o.alpha, o.seed) != 0)
			return 1;
		bench_baseline(&d, labels[C_DEF], &cfgs[C_DEF], &o);
		bench_baseline(&d, labels[C_IN3], &cfgs[C_IN3], &o);
		dataset_free(&d);
	}
	return 0;
}
