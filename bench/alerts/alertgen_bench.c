/* alertgen_bench.c - the cost of the risk alerts' commit step
 * (srv_alertgen_commit: plan, payloads, one PostgreSQL transaction) per live
 * update, against the cost of re-scoring the same update, on a generated
 * graph: a base of --txs transactions, then --updates batches of --batch
 * appended. Medians. Needs DATABASE_URL of a migrated, empty database
 * (run.sh makes one). Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "core_engine.h"
#include "srv_alertgen.h"
#include "srv_db.h"

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* n random transactions over wallets w0..w<wallets-1> (names in buf). */
static void
make_txs(core_tx *tx, char (*names)[2][16], size_t n, uint32_t wallets, uint64_t *rng,
         uint64_t *seq)
{
	for (size_t i = 0; i < n; i++) {
		/* a skew: half the transactions among the first tenth of wallets */
		uint32_t span = rnd(rng) % 2 ? wallets / 10 : wallets;
		int a = snprintf(names[i][0], 16, "w%u", (unsigned)(rnd(rng) % span));
		int b = snprintf(names[i][1], 16, "w%u", (unsigned)(rnd(rng) % span));
		tx[i] = (core_tx){.sender = names[i][0],
		                  .sender_len = (size_t)a,
		                  .receiver = names[i][1],
		                  .receiver_len = (size_t)b,
		                  .amount = (double)(1 + rnd(rng) % 10000) / 100.0,
		                  .seq = ++*seq};
	}
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	size_t ntx = 1000000, batch = 1000;
	uint32_t wallets = 200000;
	int updates = 20;
	const char *model = "flow_exposure/v1";
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--txs") == 0)
			ntx = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--wallets") == 0)
			wallets = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--batch") == 0)
			batch = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--updates") == 0)
			updates = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--model") == 0)
			model = argv[i + 1];
		else {
			fprintf(stderr, "usage: alertgen_bench [--txs N] [--wallets W] [--batch B]"
			                " [--updates U] [--model M]\n");
			return 2;
		}
	}
	if (ntx == 0 || batch == 0 || wallets < 10 || updates < 1 || updates > 1000) {
		fprintf(stderr, "alertgen_bench: bad arguments\n");
		return 2;
	}
	const char *url = getenv("DATABASE_URL");
	char err[512], cfg_json[CORE_CONFIG_JSON_MAX], json[128];
	core_config cfg;
	snprintf(json, sizeof(json), "{\"model\": \"%s\", \"illicit_ratio\": 0.01}", model);
	if (url == NULL || core_config_parse(&cfg, json, strlen(json), err, sizeof(err)) != 0 ||
	    core_config_to_json(&cfg, cfg_json, sizeof(cfg_json), NULL) != 0) {
		fprintf(stderr, "alertgen_bench: DATABASE_URL unset or bad --model\n");
		return 2;
	}
	PGconn *c = NULL;
	if (srv_db_connect(url, 0, &c, err, sizeof(err)) != AMLRISK_OK) {
		fprintf(stderr, "alertgen_bench: %s\n", err);
		return 1;
	}
	size_t cap = ntx > batch ? ntx : batch;
	core_tx *tx = malloc(cap * sizeof(*tx));
	char(*names)[2][16] = malloc(cap * sizeof(*names));
	uint64_t rng = 2026, seq = 0;
	core_graph_builder *gb = NULL;
	core_graph *g = NULL;
	if (tx == NULL || names == NULL || core_graph_builder_create(&gb, ntx) != 0)
		return 1;
	make_txs(tx, names, ntx, wallets, &rng, &seq);
	for (size_t i = 0; i < ntx; i++)
		core_graph_builder_add_tx(gb, &tx[i]);
	if (core_graph_builder_finish(&g, gb, 2) != 0)
		return 1;
	core_run_result *prev = NULL, *cur = NULL;
	if (core_score_run(&cur, g, &cfg, NULL, 2, err, sizeof(err)) != 0)
		return 1;
	/* rules: the score at the top 5% as the threshold, and the top 100 */
	core_wallet_score ws;
	uint32_t at = core_run_result_count(cur) / 20;
	core_run_result_get(cur, core_run_result_order(cur)[at], &ws);
	char spec[96];
	snprintf(spec, sizeof(spec), "threshold>=%.4g,top<=100",
	         ws.risk_score > 0 ? ws.risk_score : 0.5);
	srv_rules rs;
	srv_alertgen *ag = NULL;
	int64_t wm = 0;
	if (srv_rules_parse(&rs, spec, 0.05 * ws.risk_score, err, sizeof(err)) != 0 ||
	    srv_alertgen_create(&ag, &rs, core_model_name(cfg.model), cfg_json) != 0 ||
	    srv_alertgen_load(ag, c, &wm, err, sizeof(err)) != 0) {
		fprintf(stderr, "alertgen_bench: %s\n", err);
		return 1;
	}
	double t0 = now_ms();
	uint32_t fired = 0;
	if (srv_alertgen_commit(ag, c, NULL, cur, (int64_t)seq, &fired, err, sizeof(err)) != 0) {
		fprintf(stderr, "alertgen_bench: %s\n", err);
		return 1;
	}
	double first_ms = now_ms() - t0;
	double *score_ms = calloc((size_t)updates, sizeof(double));
	double *commit_ms = calloc((size_t)updates, sizeof(double));
	uint64_t alerts = 0;
	for (int u = 0; u < updates; u++) {
		core_graph *g2 = NULL;
		make_txs(tx, names, batch, wallets, &rng, &seq);
		t0 = now_ms();
		if (core_graph_append(&g2, g, tx, batch, 2, NULL) != 0)
			return 1;
		core_graph_unref(g);
		g = g2;
		core_run_result_unref(prev);
		prev = cur;
		if (core_score_run(&cur, g, &cfg, NULL, 2, err, sizeof(err)) != 0)
			return 1;
		score_ms[u] = now_ms() - t0;
		t0 = now_ms();
		if (srv_alertgen_commit(ag, c, prev, cur, (int64_t)seq, &fired, err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "alertgen_bench: %s\n", err);
			return 1;
		}
		commit_ms[u] = now_ms() - t0;
		alerts += fired;
	}
	srv_alertgen_stats st;
	srv_alertgen_stats_get(ag, &st);
	double ms = median(commit_ms, updates), sms = median(score_ms, updates);
	printf("| model | txs | wallets | batch | updates | rules | first view (baseline) ms |"
	       " append+score ms (median) | commit ms (median) | commit / score | alerts |"
	       " disarmed |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	printf("| %s | %zu | %u | %zu | %d | %s | %.1f | %.1f | %.2f | %.3f | %llu | %zu |\n",
	       model, ntx, core_run_result_count(cur), batch, updates, spec, first_ms, sms, ms,
	       ms / sms, (unsigned long long)alerts, st.disarmed);
	srv_alertgen_destroy(ag);
	core_run_result_unref(prev);
	core_run_result_unref(cur);
	core_graph_unref(g);
	PQfinish(c);
	free(tx);
	free(names);
	free(score_ms);
	free(commit_ms);
	return 0;
}
