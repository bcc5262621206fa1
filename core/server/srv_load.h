/* srv_load.h - reading the core's inputs out of PostgreSQL: every transaction
 * into a new graph (binary COPY streamed into the engine's builder, one
 * REPEATABLE READ snapshot that also yields the watermark), and the wallets
 * labelled illicit. Workload: 1M-10M rows in seconds, on the writer thread. */
#ifndef SRV_LOAD_H
#define SRV_LOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core_engine.h"
#include "srv_state.h"

/* Builds the graph of every transaction with seq <= max_seq (max_seq < 0: all
 * of them; the watermark is then max(seq) of the snapshot). Borrows c (idle,
 * left idle). On success *out holds one reference and *info describes it.
 * AMLRISK_EDB, AMLRISK_ECANCELED (*cancel set), AMLRISK_ENOMEM, AMLRISK_EINVAL
 * (a row the engine refuses), AMLRISK_ETOOBIG; err says which. */
int srv_load_graph(PGconn *c, int64_t max_seq, unsigned threads, const atomic_bool *cancel,
                   core_graph **out, srv_graph_info *info, char *err, size_t errlen);

/* The distinct wallets labelled 'illicit' in wallet_labels (at most max, else
 * AMLRISK_ETOOBIG), as a set and as the JSON array stored with a run
 * (ascending; *json malloc()ed, caller frees). */
int srv_load_labels(PGconn *c, size_t max, core_labels **out, char **json, char *err,
                    size_t errlen);

/* The set of a stored run's labels JSON array (scoring_runs.labels). */
int srv_labels_from_json(const char *json, core_labels **out, char *err, size_t errlen);

#endif
