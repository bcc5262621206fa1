/* srv_compare.h - a run's rows ranked in another run (the leaderboard's rank
 * change, the runs comparison): which run is the previous one of a model, and
 * a wallet's 1-based rank in a stored run, counted in PostgreSQL along the
 * risk_scores_top index with a bound on the work. Handler threads use it with
 * pooled connections; the latest run's ranks come from memory (srv_run_rank). */
#ifndef SRV_COMPARE_H
#define SRV_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define SRV_RANK_CAP_MAX  100000   /* ranks counted exactly up to this */
#define SRV_RANK_WORK_MAX 10000000 /* index entries one answer may count */

/* The cap of ranks counted for n rows: SRV_RANK_CAP_MAX, lowered so that n
 * ranks count at most SRV_RANK_WORK_MAX entries in all (at least 1000). */
uint64_t srv_compare_cap(size_t n);

/* The latest completed run before id whose model is model, into *prev (0 when
 * there is none). AMLRISK_EDB. */
int srv_compare_previous(PGconn *c, int64_t id, const char *model, int64_t *prev, char *err,
                         size_t errlen);

/* The 1-based ranks in completed run id of wallets[0..n) (valid wallet ids,
 * borrowed) into ranks: 0 for a wallet not in the run, cap + 1 for one ranked
 * beyond cap. One statement. AMLRISK_ENOTFOUND or AMLRISK_ESTATE for the run
 * (err names it), AMLRISK_EDB, AMLRISK_ENOMEM. */
int srv_compare_ranks(PGconn *c, int64_t id, const char *const *wallets, size_t n, uint64_t cap,
                      uint64_t *ranks, char *err, size_t errlen);

#endif
