/* core_engine.h - the scoring engine: the wallet graph (interned ids, CSR both
 * ways), the two risk models (hop_exposure/v1 of spec/scoring.md, the default,
 * and flow_exposure/v1 of spec/flow_exposure.md), explain and neighbourhood
 * views. No I/O; built for 1M-10M transactions scored in seconds. */
#ifndef CORE_ENGINE_H
#define CORE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CORE_MODEL_NAME      "hop_exposure/v1" /* the default model */
#define CORE_MODEL_HOP_NAME  "hop_exposure/v1"
#define CORE_MODEL_FLOW_NAME "flow_exposure/v1"
#define CORE_HOPS_MAX        10                /* hop_exposure/v1: K at most; 1..11 weights */
#define CORE_FLOW_HOPS_MAX   32                /* flow_exposure/v1: K in 1..32 */
#define CORE_WALLET_LEN_MAX  65536             /* bytes of one wallet id */
#define CORE_WALLETS_MAX     (UINT32_MAX - 1u) /* distinct wallets of one graph */
#define CORE_CONFIG_JSON_MAX 1024              /* bytes core_config_to_json() may need */
#define CORE_THREADS_MAX     64

/* ---------------------------------------------------------------- graph --- */

typedef struct core_graph core_graph;
typedef struct core_graph_builder core_graph_builder;

/* One transaction as the builder takes it. Strings are borrowed for the call
 * only; they need not be NUL-terminated and are compared as raw bytes. */
typedef struct core_tx {
	const char *sender;
	size_t sender_len;
	const char *receiver;
	size_t receiver_len;
	double amount;
	int64_t timestamp_us; /* 0 when unknown */
	uint64_t seq;         /* ingest sequence number; 0 when unknown */
} core_tx;

typedef struct core_graph_stats {
	uint32_t wallets;
	uint64_t edges; /* distinct directed edges u -> v, u != v */
	uint64_t txs;   /* transactions added, self-transfers included */
	uint64_t self_txs;
	uint64_t max_seq;             /* highest seq added (the watermark); 0 if none given */
	int64_t min_ts_us, max_ts_us; /* over the timestamps given; 0 if none */
	size_t bytes;                 /* heap bytes the graph holds */
} core_graph_stats;

/* Starts a builder; tx_hint (may be 0) presizes for that many transactions.
 * Caller ends it with core_graph_builder_finish() or core_graph_builder_destroy().
 * From 200k rows on, with more than one CPU, the builder interns wallet ids on
 * a second thread of its own while the caller adds rows (the ids come out the
 * same). */
int core_graph_builder_create(core_graph_builder **out, size_t tx_hint);
/* Adds one transaction. AMLRISK_EINVAL for an empty or over-long wallet id or a
 * negative or non-finite amount (nothing is added). Rows are interned in
 * batches, so AMLRISK_ENOMEM, or AMLRISK_ETOOBIG past CORE_WALLETS_MAX wallets
 * or 2^32-1 transactions, may concern earlier rows; after one the builder only
 * fails and the caller destroys it. */
int core_graph_builder_add(core_graph_builder *b, const char *sender, size_t sender_len,
                           const char *receiver, size_t receiver_len, double amount);
/* The same with timestamp and sequence. Borrows tx. */
int core_graph_builder_add_tx(core_graph_builder *b, const core_tx *tx);
/* Number of transactions added so far. */
uint64_t core_graph_builder_tx_count(const core_graph_builder *b);
/* Builds the immutable graph. Always consumes b (also on error); on success
 * *out holds one reference, dropped with core_graph_unref(). threads (0 = 2)
 * bounds the threads used; a second one helps from 200k rows on. */
int core_graph_builder_finish(core_graph **out, core_graph_builder *b, unsigned threads);
/* Frees an unfinished builder; NULL is a no-op. */
void core_graph_builder_destroy(core_graph_builder *b);

/* Reference counting (atomic): a reader takes a reference for as long as it
 * reads; the last unref frees. core_graph_destroy() is core_graph_unref(), and
 * like it a no-op for NULL. */
core_graph *core_graph_ref(core_graph *g);
void core_graph_unref(core_graph *g);
void core_graph_destroy(core_graph *g);

void core_graph_stats_get(const core_graph *g, core_graph_stats *out);
uint32_t core_graph_wallet_count(const core_graph *g);
/* The dense id of wallet (0 .. wallet_count-1), or AMLRISK_ENOTFOUND. */
int core_graph_find(const core_graph *g, const char *wallet, size_t len, uint32_t *id);
/* The bytes of wallet id (NUL-terminated for convenience; ids may hold NUL
 * bytes, so use *len). Borrowed from g. */
const char *core_graph_wallet(const core_graph *g, uint32_t id, size_t *len);
uint32_t core_graph_in_degree(const core_graph *g, uint32_t id);
uint32_t core_graph_out_degree(const core_graph *g, uint32_t id);
/* The out-edges of id, sorted by receiver id: *dst[i] is the receiver, *txs[i]
 * the number of transactions and *amount[i] their total (kept at DBL_MAX when
 * it would pass it). Any pointer may be NULL. Returns the count. Borrowed
 * from g. */
size_t core_graph_out_edges(const core_graph *g, uint32_t id, const uint32_t **dst,
                            const uint32_t **txs, const double **amount);
/* The senders of id's in-edges, sorted. Borrowed from g. */
size_t core_graph_in_edges(const core_graph *g, uint32_t id, const uint32_t **src);

/* ------------------------------------------------------------ appending --- */

/* Incremental graph (issue 14). A graph is immutable; appending a batch makes
 * a NEW version and leaves the old one untouched, so a reader that holds a
 * reference to a version (scoring, explain, neighbourhood on any thread) sees
 * it whole for as long as it holds it, never a half-applied batch.
 *
 * Ids are stable along a chain of appends: every wallet of g keeps its id in
 * the new version, and new wallets get ids g's count, count + 1, ... in order
 * of first appearance in the batch (sender before receiver). A graph built from
 * scratch from the same transactions may number wallets differently; compare
 * by wallet bytes. Per-edge amounts are summed in transaction order, as the
 * builder does, so degrees, tx counts and amounts equal a from-scratch build.
 *
 * Layout: the new version is one compacted CSR (the old rows merged with the
 * batch's, O(wallets + edges + batch log batch) work, no delta to compact
 * later): memory per edge is the engine's usual bound; while an old version is
 * still referenced both are held (at most 2x during an append). */

/* Appends the n transactions txs (borrowed for the call) to g, making a new
 * version. All or nothing: every row is checked first; a bad row (empty or
 * over-long wallet, negative or non-finite amount) gives AMLRISK_EINVAL with
 * its index in *bad_row (may be NULL) and nothing is made. AMLRISK_ETOOBIG
 * past CORE_WALLETS_MAX wallets or 2^32-1 edges/transactions, AMLRISK_ENOMEM.
 * g is borrowed (not consumed, not changed); on success *out holds one new
 * reference (core_graph_unref()). n == 0 gives a new version equal to g.
 * The watermark (stats.max_seq) becomes the highest seq of g and the batch.
 * threads: as for core_graph_builder_finish(). Thread-safe against readers
 * of g; appends to one chain are meant to come from one writer at a time. */
int core_graph_append(core_graph **out, core_graph *g, const core_tx *txs, size_t n,
                      unsigned threads, size_t *bad_row);

/* Whether b is g or a version appended from g (directly or through others):
 * then ids 0 .. core_graph_wallet_count(g) - 1 name the same wallets in b.
 * Meant for one chain (one writer, as core_live_graph keeps): two versions
 * appended separately to the same graph are not told apart. */
bool core_graph_descends(const core_graph *b, const core_graph *g);

/* The published current version of a live graph: a single writer appends
 * (or swaps in a rebuilt graph), any number of readers acquire the current
 * version. Publication is a pointer swap under a short lock, with reference
 * counts; readers never block on an append in progress (it is built aside). */
typedef struct core_live_graph core_live_graph;

/* Creates the holder with g as its first version (takes its own reference on
 * g; g may be NULL: no version yet). Destroy with core_live_graph_destroy(). */
int core_live_graph_create(core_live_graph **out, core_graph *g);
/* Drops the holder's reference on its current version; NULL is a no-op. */
void core_live_graph_destroy(core_live_graph *lv);
/* The current version with a new reference for the caller (unref it when
 * done), or NULL when there is none. Any thread. */
core_graph *core_live_graph_acquire(core_live_graph *lv);
/* Appends txs to the current version (core_graph_append()) and publishes the
 * result; on error the current version stays. AMLRISK_ESTATE without a
 * version. If out is not NULL it receives a new reference on the published
 * version. One writer at a time (serialised by the holder: a second caller
 * waits). */
int core_live_graph_append(core_live_graph *lv, const core_tx *txs, size_t n, unsigned threads,
                           size_t *bad_row, core_graph **out);
/* Publishes g (e.g. a full reload) in place of the current version; takes
 * its own reference on g. */
void core_live_graph_publish(core_live_graph *lv, core_graph *g);

/* --------------------------------------------------------------- labels --- */

/* A set of wallets labelled illicit (wallet_labels), owned by the caller. */
typedef struct core_labels core_labels;

int core_labels_create(core_labels **out);
/* Adds a wallet (copied); adding one twice is fine. AMLRISK_EINVAL for an empty
 * or over-long id. */
int core_labels_add(core_labels *l, const char *wallet, size_t len);
size_t core_labels_count(const core_labels *l);
bool core_labels_has(const core_labels *l, const char *wallet, size_t len);
void core_labels_destroy(core_labels *l);

/* --------------------------------------------------------------- config --- */

typedef enum core_direction {
	CORE_DIR_ANY = 0, /* every edge taken both ways */
	CORE_DIR_IN,      /* illicit s -> ... -> v */
	CORE_DIR_OUT,     /* v -> ... -> illicit s */
	CORE_DIR_BOTH,    /* x_k(in) + x_k(out) for k >= 1 */
} core_direction;

typedef enum core_count {
	CORE_COUNT_WITHIN = 0, /* c_k = x_0 + ... + x_k */
	CORE_COUNT_EXACT,      /* c_k = x_k */
} core_count;

typedef enum core_model {
	CORE_MODEL_HOP = 0, /* hop_exposure/v1 (spec/scoring.md), the default */
	CORE_MODEL_FLOW,    /* flow_exposure/v1 (spec/flow_exposure.md) */
} core_model;

typedef enum core_side {
	CORE_SIDE_BOTH = 0, /* flow: risk_score = R_K + S_K */
	CORE_SIDE_RECEIVED, /* R_K */
	CORE_SIDE_SENT,     /* S_K */
} core_side;

/* The run config: a plain value (copy it freely). model says which of the
 * fields below apply; the others keep their defaults and are ignored. Fill it
 * with core_config_defaults*() or core_config_parse(). */
typedef struct core_config {
	core_model model;
	double illicit_ratio; /* [0, 1] */
	uint64_t illicit_seed;
	bool use_labels;
	/* hop: K = number of hop_weights - 1 (0..CORE_HOPS_MAX);
	 * flow: K, the "hops" key (1..CORE_FLOW_HOPS_MAX) */
	unsigned hops;
	/* hop_exposure/v1 only */
	double hop_weights[CORE_HOPS_MAX + 1]; /* finite, >= 0; [0..hops] used */
	core_direction direction;
	core_count count;
	bool degree_normalize;
	/* flow_exposure/v1 only */
	core_side side;
	double smoothing; /* finite, >= 0: c = smoothing * mean amount */
} core_config;

/* Sets the illicit_seed that core_config_defaults() gives (42 until set; the
 * service passes env ILLICIT_SEED here at start-up). Thread-safe. */
void core_config_default_seed_set(uint64_t seed);
uint64_t core_config_default_seed(void);
/* Sets the model that core_config_defaults() and a config without a "model"
 * key get (CORE_MODEL_HOP until set; the service passes its deployment
 * default here at start-up). Thread-safe. */
void core_config_default_model_set(core_model m);
core_model core_config_default_model(void);
/* The spec's defaults of the default model. */
void core_config_defaults(core_config *out);
/* The spec's defaults of model m. */
void core_config_defaults_model(core_config *out, core_model m);
/* Names: "hop_exposure/v1", "flow_exposure/v1"; "both", "received", "sent".
 * Parsers return 0 or AMLRISK_EINVAL; name functions return "?" when out of range. */
int core_model_parse(const char *s, core_model *out);
const char *core_model_name(core_model m);
int core_side_parse(const char *s, core_side *out);
const char *core_side_name(core_side s);
/* AMLRISK_OK, or AMLRISK_EINVAL with "key: reason" in err (errlen bytes). */
int core_config_validate(const core_config *c, char *err, size_t errlen);
/* The defaults of the model the JSON object json (len bytes) names in its
 * "model" key (the default model without one), then its keys over them.
 * AMLRISK_EINVAL naming the key for an unknown key, a key of the other model,
 * a wrong type or an out-of-range value, or saying where the JSON is
 * malformed. *out is written only on success. */
int core_config_parse(core_config *out, const char *json, size_t len, char *err, size_t errlen);
/* The same over base instead of the defaults (base and out may alias). When
 * json names a model other than base's, that model's defaults are the base. */
int core_config_merge(core_config *out, const core_config *base, const char *json, size_t len,
                      char *err, size_t errlen);
/* Writes the canonical full JSON (every key, fixed order, numbers that parse
 * back to the same values) into buf. Returns AMLRISK_OK and sets *outlen (may
 * be NULL) to its length, or AMLRISK_ETOOBIG when buflen is too small
 * (CORE_CONFIG_JSON_MAX always suffices). */
int core_config_to_json(const core_config *c, char *buf, size_t buflen, size_t *outlen);
/* Strict parsers for flags and environment values: decimal uint64 (no sign,
 * no spaces), and the direction and count names. 0 or AMLRISK_EINVAL. */
int core_config_seed_parse(const char *s, uint64_t *out);
int core_direction_parse(const char *s, core_direction *out);
int core_count_parse(const char *s, core_count *out);
const char *core_direction_name(core_direction d);
const char *core_count_name(core_count c);

/* -------------------------------------------------------------- scoring --- */

/* The result of one scoring run: every wallet of the graph. Immutable and
 * reference counted like the graph; it holds a reference to its graph. */
typedef struct core_run_result core_run_result;

/* One wallet's result. Pointers are borrowed from the result. */
typedef struct core_wallet_score {
	uint32_t id;
	const char *wallet;
	size_t wallet_len;
	double risk_score; /* unrounded */
	uint32_t in_degree, out_degree;
	bool is_illicit;
	core_model model;
	unsigned hops; /* K */
	/* hop_exposure/v1 (NULL and 0 for flow) */
	uint32_t exposures;     /* x_0 + ... + x_K */
	const uint32_t *counts; /* c_0 .. c_K */
	/* flow_exposure/v1 (NULL and 0 for hop) */
	double received_exposure; /* R_K */
	double sent_exposure;     /* S_K */
	const double *received;   /* R_1 .. R_K */
	const double *sent;       /* S_1 .. S_K */
} core_wallet_score;

/* Scores every wallet of g with cfg's model; labels (may be NULL) are illicit
 * too when cfg->use_labels. threads (0 = 2, at most CORE_THREADS_MAX) bounds
 * the worker threads; a small run uses fewer (a hop_exposure/v1 worker costs
 * ~40 bytes a wallet). flow_exposure/v1 does O(K x edges) work; its result
 * keeps 16 K + 16 bytes a wallet (R_1..R_K, S_1..S_K) and 8 bytes an edge
 * (the in-edges' amounts) more. Borrows cfg and labels; takes its own
 * reference on g. On success *out holds one reference
 * (core_run_result_unref()). AMLRISK_EINVAL with err for a bad config,
 * AMLRISK_ENOMEM. */
int core_score_run(core_run_result **out, core_graph *g, const core_config *cfg,
                   const core_labels *labels, unsigned threads, char *err, size_t errlen);

core_run_result *core_run_result_ref(core_run_result *r);
/* Drops one reference; the last frees (and drops the graph reference). NULL is
 * a no-op; core_run_result_destroy() is the same. */
void core_run_result_unref(core_run_result *r);
void core_run_result_destroy(core_run_result *r);

/* Borrowed from r. */
core_graph *core_run_result_graph(const core_run_result *r);
const core_config *core_run_result_config(const core_run_result *r);
uint32_t core_run_result_count(const core_run_result *r);
uint32_t core_run_result_illicit_count(const core_run_result *r);
/* Seconds the run took (traversal, scores, order). */
double core_run_result_seconds(const core_run_result *r);
/* Fills *out for wallet id (< count). */
void core_run_result_get(const core_run_result *r, uint32_t id, core_wallet_score *out);
/* By wallet id bytes: AMLRISK_OK or AMLRISK_ENOTFOUND. */
int core_run_result_find(const core_run_result *r, const char *wallet, size_t len,
                         core_wallet_score *out);
/* Every id in "top N" order: risk_score descending, then wallet ascending
 * bytewise. count entries, borrowed from r; top N is its first N. */
const uint32_t *core_run_result_order(const core_run_result *r);
/* The position of id in that order (0 = riskiest). */
uint32_t core_run_result_rank(const core_run_result *r, uint32_t id);

/* Live alerts support: the wallets whose score changed between prev and cur,
 * two runs of the same model over versions of one chain
 * (core_graph_descends(cur graph, prev graph)). A wallet of cur counts as
 * changed when it is new (id >= prev's count; previous score 0, previous
 * rank UINT32_MAX) or its risk_score differs in bits. O(wallets). */
typedef struct core_score_change {
	uint32_t id;        /* in cur's graph (and prev's, unless new) */
	double prev_score;  /* 0 for a new wallet */
	double score;       /* in cur */
	uint32_t prev_rank; /* in prev's top order; UINT32_MAX when new */
	uint32_t rank;      /* in cur's top order */
} core_score_change;

/* Fills *out (a malloc'ed array the caller frees with free(); NULL when
 * *count is 0) with the changed wallets in id order. AMLRISK_EINVAL when cur
 * does not descend from prev's graph or the models differ, AMLRISK_ENOMEM.
 * Borrows prev and cur. */
int core_run_result_changes(const core_run_result *prev, const core_run_result *cur,
                            core_score_change **out, size_t *count);
/* The wallets of cur's top n (ids of cur, in top order) that were not in
 * prev's top n (new wallets included): the "entered the top N" rule. A wallet
 * can enter without its own score changing, so this reads both orders' first n
 * entries, O(n). *out is malloc'ed (caller frees; NULL when *count is 0).
 * AMLRISK_EINVAL as core_run_result_changes(), AMLRISK_ENOMEM. */
int core_run_result_top_entered(const core_run_result *prev, const core_run_result *cur, uint32_t n,
                                uint32_t **out, size_t *count);

/* -------------------------------------------------------------- explain --- */

typedef struct core_explain core_explain;

typedef struct core_explain_params {
	uint32_t sources_per_hop; /* hop: illicit wallets listed per hop; 0 = 10 */
	uint32_t sources_max;     /* hop: over all hops; 0 = 100; at most 10000;
	                           * flow: contributors listed; 0 = 10; at most 10000 */
	uint64_t work_max;        /* flow: walk steps (edges examined over all hops),
	                           * hop: arcs its BFS examines, the explain may
	                           * spend; 0 = CORE_EXPLAIN_WORK_DEFAULT */
} core_explain_params;

#define CORE_EXPLAIN_WORK_DEFAULT 4000000u

typedef struct core_explain_hop {
	unsigned hop;
	uint32_t exact;      /* x_k: illicit wallets at distance exactly k */
	uint32_t exact_in;   /* for direction both: x_k(in) and x_k(out); */
	uint32_t exact_out;  /*   otherwise 0 */
	uint32_t count;      /* c_k */
	double weight;       /* w_k */
	double contribution; /* w_k * c_k / normaliser; they sum to the score */
	size_t first_source; /* this hop's listed sources: sources[first .. */
	size_t source_count; /*   first + source_count) */
} core_explain_hop;

typedef struct core_explain_source {
	uint32_t id;              /* the illicit wallet */
	unsigned hop;             /* its distance */
	core_direction direction; /* ANY, or for in/out/both: IN (it reaches the wallet) or OUT */
	/* hop + 1 wallet ids, path[0] the explained wallet, path[hop] the source.
	 * IN: edges path[i+1] -> path[i]; OUT: path[i] -> path[i+1]; ANY: either. */
	const uint32_t *path;
} core_explain_source;

/* flow_exposure/v1: one contributing illicit source on one side. */
typedef struct core_explain_contrib {
	uint32_t source;     /* the illicit wallet */
	core_side side;      /* RECEIVED: its value reached the wallet; SENT: the
	                      * wallet's value reached it */
	double contribution; /* its part of R_K (RECEIVED) or S_K (SENT) */
	/* its heaviest walk (the largest product of the spec's per-edge shares),
	 * walk_len edges, walk_len + 1 wallet ids in the direction money moved:
	 * RECEIVED: walk[0] = source .. walk[walk_len] = the wallet;
	 * SENT: walk[0] = the wallet .. walk[walk_len] = source. */
	double walk_weight;
	unsigned walk_len;
	const uint32_t *walk;
} core_explain_contrib;

/* Explains wallet's score in r, for either model (core_explain_model()).
 * hop_exposure/v1: recomputes its exact per-hop counts by a traversal from it
 * and lists up to the capped number of contributing illicit wallets per hop
 * (by wallet bytes ascending), each with one shortest path.
 * flow_exposure/v1: per hop R_k and S_k from r, and the contributions of
 * illicit sources by walks traced from the wallet (at most params->work_max
 * steps: core_explain_capped() tells when the bound stopped the tracing), the
 * largest listed by contribution descending (then side, then wallet bytes),
 * each with its heaviest walk; core_explain_others() is the score minus the
 * listed contributions, so the listed parts and the others add up to the score.
 * Borrows r for the call; the explain holds its own reference on r's graph.
 * AMLRISK_ENOTFOUND, AMLRISK_EINVAL, AMLRISK_ENOMEM. */
int core_explain_build(core_explain **out, const core_run_result *r, const char *wallet, size_t len,
                       const core_explain_params *params);
void core_explain_destroy(core_explain *e);
core_model core_explain_model(const core_explain *e);
const core_graph *core_explain_graph(const core_explain *e);
uint32_t core_explain_wallet(const core_explain *e);
double core_explain_score(const core_explain *e);
/* hop_exposure/v1 */
double core_explain_normaliser(const core_explain *e); /* the divisor (1 without normalising) */
size_t core_explain_hops(const core_explain *e, const core_explain_hop **hops);
size_t core_explain_sources(const core_explain *e, const core_explain_source **sources);
/* True when a cap left contributing illicit wallets unlisted (either model;
 * for flow, sources_max or the work bound: core_explain_capped()). */
bool core_explain_truncated(const core_explain *e);
/* flow_exposure/v1: K and R_1..R_K, S_1..S_K (borrowed); 0 for hop. */
unsigned core_explain_flow_hops(const core_explain *e, const double **received,
                                const double **sent);
/* The listed contributors (borrowed), largest first; 0 for hop. A wallet in S
 * (R_K = S_K = 1 by definition) is listed as its own contributor on each side
 * the score uses, contribution 1, a walk of no edges (walk_len 0, walk[0] the
 * wallet). A source with no positive contribution is not listed. Each walk
 * runs along edges of the graph through wallets not in S. */
size_t core_explain_contribs(const core_explain *e, const core_explain_contrib **contribs);
/* The score minus the listed contributions (>= 0 up to rounding). */
double core_explain_others(const core_explain *e);
/* True when the work bound stopped the tracing. flow: the contributions are
 * those of the walks traced, and the others line holds the rest. hop: the
 * BFS stopped before a node whose arcs would pass the bound; the per-hop
 * counts and sources are those reached (lower bounds; truncated is set),
 * the score is the run's. */
bool core_explain_capped(const core_explain *e);
/* Arcs (hop) or walk steps (flow) the explain examined: at most work_max. */
uint64_t core_explain_work(const core_explain *e);

/* --------------------------------------------------------- neighbourhood --- */

#define CORE_NEIGH_HOPS_MAX     6
#define CORE_NEIGH_NODES_MAX    100000
#define CORE_NEIGH_EDGES_MAX    1000000
#define CORE_NEIGH_WORK_DEFAULT 4000000u /* arcs examined per request */

typedef struct core_neigh core_neigh;

typedef struct core_neigh_node {
	uint32_t id;       /* graph wallet id */
	unsigned distance; /* undirected hops from the centre */
	double risk_score; /* 0 without a run */
	bool is_illicit;   /* false without a run */
	uint32_t in_degree, out_degree;
} core_neigh_node;

typedef struct core_neigh_edge {
	uint32_t from, to; /* indexes into the node array */
	uint32_t tx_count;
	double amount;
} core_neigh_edge;

/* The subgraph within hops (1..CORE_NEIGH_HOPS_MAX) undirected hops of wallet:
 * at most node_limit nodes (1..CORE_NEIGH_NODES_MAX), keeping the closest, then
 * illicit, then riskiest, then wallet ascending (node 0 is the centre), and at
 * most edge_limit (0..CORE_NEIGH_EDGES_MAX) edges among them, those between the
 * most relevant nodes first. r may be NULL (no scores); if given, its graph must
 * be g. At most work_max arcs are examined (0 = CORE_NEIGH_WORK_DEFAULT): a
 * node whose arcs would pass it is not expanded, the edges of the nodes
 * examined so far are kept, and core_neigh_capped() says so (truncated too).
 * Holds its own reference on g. AMLRISK_ENOTFOUND, AMLRISK_EINVAL naming
 * the bad parameter, AMLRISK_ENOMEM. */
int core_neigh_build(core_neigh **out, core_graph *g, const core_run_result *r, const char *wallet,
                     size_t len, unsigned hops, size_t node_limit, size_t edge_limit,
                     uint64_t work_max, char *err, size_t errlen);
void core_neigh_destroy(core_neigh *n);
const core_graph *core_neigh_graph(const core_neigh *n);
size_t core_neigh_nodes(const core_neigh *n, const core_neigh_node **nodes);
size_t core_neigh_edges(const core_neigh *n, const core_neigh_edge **edges);
/* True when a limit dropped nodes or edges within the hops. */
bool core_neigh_truncated(const core_neigh *n);
/* True when the work bound stopped the search or the edge collection. */
bool core_neigh_capped(const core_neigh *n);
/* Arcs examined (at most work_max). */
uint64_t core_neigh_work(const core_neigh *n);

/* ----------------------------------------------------------------- hash --- */

/* The spec's seeding functions, exposed for tests and tools. */
uint64_t core_fnv1a64(const void *bytes, size_t len);
uint64_t core_mix64(uint64_t x);
/* Whether wallet is seeded illicit under ratio and seed (labels aside). */
bool core_seeded_illicit(const char *wallet, size_t len, double ratio, uint64_t seed);

#endif
