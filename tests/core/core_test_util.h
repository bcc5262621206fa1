/* core_test_util.h - helpers for the engine's tests: graphs from edge lists,
 * the spec's vector files, random graphs, and a plain per-wallet BFS scorer to
 * hold the engine against. Small inputs only (at most a few thousand wallets). */
#ifndef CORE_TEST_UTIL_H
#define CORE_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core_engine.h"

/* A transaction list with owned copies of the wallet ids. */
typedef struct tu_txs {
	char **snd, **rcv;
	size_t *slen, *rlen;
	double *amount;
	size_t n, cap;
} tu_txs;

void tu_txs_add(tu_txs *t, const char *s, size_t slen, const char *r, size_t rlen, double amt);
void tu_txs_free(tu_txs *t);
/* Builds a graph of t (fails the test on error). */
core_graph *tu_graph(const tu_txs *t);
/* The graph id of wallet w (fails the test when absent). */
uint32_t tu_id(const core_graph *g, const char *w);
/* A graph from "A>B" strings (NULL-terminated list). */
core_graph *tu_graph_pairs(const char *const *pairs);

/* Scores g (fails the test on error); caller unrefs. */
core_run_result *tu_run(core_graph *g, const core_config *c, const core_labels *l,
                        unsigned threads);
/* Labels of the NULL-terminated wallet list w; caller destroys. */
core_labels *tu_labels(const char *const *w);
/* The result of wallet w (fails the test when absent). */
core_wallet_score tu_get(const core_run_result *r, const char *w);

/* Random transactions over wallets w0..w{nw-1}: ntx rows, a share of them
 * self-transfers, some duplicates. */
void tu_txs_random(tu_txs *t, uint64_t *rng, uint32_t nw, size_t ntx);
uint64_t tu_rand(uint64_t *s);

/* An independent model of the graph, made from the transactions themselves
 * (not from the engine's CSR), with ids mapped to the engine's by name. */
typedef struct tu_ref {
	uint32_t n;
	uint8_t *adj;         /* n * n: adj[u * n + v] = edge u -> v */
	uint32_t **out, **in; /* neighbour lists */
	uint32_t *nout, *nin;
} tu_ref;

void tu_ref_build(tu_ref *r, const tu_txs *t, const core_graph *g);
void tu_ref_free(tu_ref *r);
/* Distances from v (UINT32_MAX unreached): ANY both ways, IN along in-edges
 * (so d = length of a path ending at v), OUT along out-edges. Caller frees. */
uint32_t *tu_ref_dist(const tu_ref *r, uint32_t v, core_direction dir);
/* x[v * (K+1) + k]: illicit wallets at distance exactly k from v under cfg's
 * direction (both: in + out for k >= 1); illicit is per graph id. Caller frees. */
uint32_t *tu_ref_exact(const tu_ref *r, const core_config *cfg, const uint8_t *illicit);

/* Fails unless r's order holds the spec's rule (score descending, then
 * wallet bytes ascending) and rank is its inverse. */
void tu_check_order(const core_run_result *r);

/* flow_exposure/v1 done plainly, for the engine to be held against: A(u, v)
 * summed from the transactions themselves (not the engine's CSR) with every
 * amount times scale (a power of two keeping huge or subnormal test amounts
 * in range; shares are ratios and do not change), an edge's total kept at
 * DBL_MAX x scale as the graph documents, then recv, sent, the mean, c and
 * the spec's K synchronous steps over the dense matrix. */
typedef struct tu_flow_ref {
	uint32_t n;
	unsigned K;
	double *a;     /* n * n: A(u, v) at a[u * n + v] */
	uint8_t *edge; /* n * n: an edge u -> v (any amount) */
	double *recv, *sent, c, total;
	uint64_t txs;  /* non-self transactions */
	double *r, *s; /* n * K: R_k(v) at r[v * K + k - 1], S_k likewise */
	uint32_t *in_deg, *out_deg;
} tu_flow_ref;

/* The spec's illicit set per graph id; caller frees. */
uint8_t *tu_illicit(const core_graph *g, const core_config *c, const core_labels *l);
void tu_flow_ref_build(tu_flow_ref *f, const tu_txs *t, const core_graph *g, const core_config *c,
                       const uint8_t *ill, double scale);
void tu_flow_ref_free(tu_flow_ref *f);
/* The spec's share of one step a -> b: A(a, b) / (recv(b) + c) on the
 * RECEIVED side, A(a, b) / (sent(a) + c) on the SENT side (0 when the
 * denominator is). */
double tu_flow_ref_share(const tu_flow_ref *f, core_side side, uint32_t a, uint32_t b);

/* Relative difference. */
double tu_rel(double a, double b);

/* The spec vectors directory, copied into the repository:
 * $AMLRISK_FIXTURES/vectors (fails the test when unset). */
const char *tu_vectors_dir(void);
/* Reads a whole file (fails the test on error); caller frees. */
char *tu_slurp(const char *path, size_t *len);
/* Loads a vector: its transactions (tx.csv), its config (config.json's
 * "config" object, parsed by core_config_parse) and labels. */
typedef struct tu_vector {
	tu_txs txs;
	core_config cfg;
	core_labels *labels;
	char **rows; /* expected.csv lines after the header */
	size_t nrows;
	char *header;
} tu_vector;
void tu_vector_load(tu_vector *v, const char *name);
void tu_vector_free(tu_vector *v);
/* Checks r against the vector's expected rows in order, for either model:
 * scores, exposures and per-hop values within the spec's tolerance
 * (tu_close), everything else exactly. */
void tu_vector_check(const tu_vector *v, const core_run_result *r);
/* The spec's tolerance: 1e-9 relative, or 1e-12 absolute near 0. */
bool tu_close(double got, double want);

/* Splits a simple CSV line (no quotes) in place; returns the field count. */
int tu_csv_split(char *line, char **f, int max);

#endif
