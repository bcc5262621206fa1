/* sim_rng.h - the simulator's own seeded random numbers (private to sim/):
 * xoshiro256** seeded through splitmix64, so a seed gives the same stream on
 * every run; log-normal and Zipf (rejection-inversion) samplers on top. */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdint.h>

typedef struct sim_rng {
	uint64_t s[4];
	double spare; /* second normal deviate of the last Box-Muller pair */
	int has_spare;
} sim_rng;

/* Seeds r from seed and a stream number (independent streams per purpose). */
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_u64(sim_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double sim_rng_unit(sim_rng *r);
/* Uniform integer in [0, n) for n >= 1 (Lemire's nearly divisionless method). */
uint64_t sim_rng_below(sim_rng *r, uint64_t n);
/* Standard normal deviate (Box-Muller). */
double sim_rng_normal(sim_rng *r);
/* Exponential deviate with mean 1. */
double sim_rng_exp(sim_rng *r);

/* A keyed pseudo-random bijection of [0, n): a keyed integer hash made of
 * bijective steps (add, xor-shift, multiply by odd) on the b bits covering n,
 * cycle-walking back into range (under 2 evaluations on average). */
typedef struct sim_perm {
	uint64_t n, mask;
	int shift;
	uint64_t add, mul1, mul2;
} sim_perm;

void sim_perm_init(sim_perm *p, uint64_t n, sim_rng *r);
uint64_t sim_perm_map(const sim_perm *p, uint64_t x);

/* Zipf over ranks 1..n with P(k) proportional to k^-s, s > 0: rejection-
 * inversion (Hoermann and Derflinger 1996), O(1) expected, no tables. */
typedef struct sim_zipf {
	double s, n;
	double h_x1, h_n, threshold;
} sim_zipf;

void sim_zipf_init(sim_zipf *z, uint64_t n, double s);
/* A rank in [1, n]. */
uint64_t sim_zipf_sample(const sim_zipf *z, sim_rng *r);

#endif
