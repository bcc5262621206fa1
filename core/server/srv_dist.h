/* srv_dist.h - a histogram of a run's scores (ScoreDistribution): equal-width
 * bins over [0, max], the same arithmetic for the latest run in memory and for
 * an older run streamed out of PostgreSQL, so both answer the same counts. */
#ifndef SRV_DIST_H
#define SRV_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct srv_dist {
	uint32_t bins;
	double max, width; /* the largest finite score; max / bins (0 when max is 0) */
	uint64_t *counts;  /* bins entries, owned by the caller */
	uint64_t wallets, zero, illicit, nonfinite;
} srv_dist;

/* Starts d over bins (>= 1) bins of [0, max] into counts (bins entries,
 * zeroed here; borrowed). */
void srv_dist_init(srv_dist *d, uint32_t bins, double max, uint64_t *counts);
/* Counts one score: bin floor(score / width), the last bin closed; a score
 * of 0 (or below: none should be) in the first; a score that is not finite
 * in nonfinite only. */
void srv_dist_add(srv_dist *d, double score, bool illicit);

#endif
