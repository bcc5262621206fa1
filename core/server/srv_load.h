/* srv_load.h - reading the core's inputs out of PostgreSQL: every transaction
 * into a new graph (binary COPY streamed into the engine's builder, one
 * REPEATABLE READ snapshot that also yields the watermark), and the wallets
 * labelled illicit, and the rows above a watermark (the follower). Workload: 1M-10M rows in
 * seconds, on the writer thread. */
#ifndef SRV_LOAD_H
#define SRV_LOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "amlrisk_buf.h"
#include "core_engine.h"
#include "srv_state.h"

/* Builds the graph of every transaction with seq <= max_seq (max_seq < 0: all
 * of them; the watermark is then max(seq) of the snapshot). Borrows c (idle,
 * left idle). On success *out holds one reference and *info describes it.
 * AMLRISK_EDB, AMLRISK_ECANCELED (*cancel set), AMLRISK_ENOMEM, AMLRISK_EINVAL
 * (a row the engine refuses), AMLRISK_ETOOBIG; err says which. */
int srv_load_graph(PGconn *c, int64_t max_seq, unsigned threads, const atomic_bool *cancel,
                   core_graph **out, srv_graph_info *info, char *err, size_t errlen);

/* Transactions read by srv_load_after(), in seq order: tx[i]'s wallet ids
 * point into bytes (owned by the batch). */
typedef struct srv_txbatch {
	core_tx *tx;
	size_t n, cap;
	amlrisk_buf bytes;
	int64_t last_seq; /* seq of tx[n - 1]; meaningless when n == 0 */
} srv_txbatch;

/* An empty batch; srv_txbatch_free() releases it (and leaves it empty again;
 * NULL is a no-op). */
void srv_txbatch_init(srv_txbatch *b);
void srv_txbatch_free(srv_txbatch *b);

/* The transactions with seq > after, in seq order, at most max_rows, into b
 * (emptied first; binary COPY, as srv_load_graph()). Rows commit in seq order
 * (transactions_append_lock()), so reading on from b->last_seq never skips a
 * row. Borrows c (idle, left idle). AMLRISK_EDB, AMLRISK_ECANCELED,
 * AMLRISK_ENOMEM, AMLRISK_EPROTO with err; b is then empty. */
int srv_load_after(PGconn *c, int64_t after, size_t max_rows, const atomic_bool *cancel,
                   srv_txbatch *b, char *err, size_t errlen);

/* The distinct wallets labelled 'illicit' in wallet_labels (at most max, else
 * AMLRISK_ETOOBIG), as a set and as the JSON array stored with a run
 * (ascending; *json malloc()ed, caller frees). */
int srv_load_labels(PGconn *c, size_t max, core_labels **out, char **json, char *err,
                    size_t errlen);

/* The set of a stored run's labels JSON array (scoring_runs.labels). */
int srv_labels_from_json(const char *json, core_labels **out, char *err, size_t errlen);

#endif
