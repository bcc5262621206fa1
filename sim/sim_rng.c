/* sim_rng.c - xoshiro256** (Blackman and Vigna) seeded by splitmix64, and the
 * samplers the generator draws from several times per row, so each is a few
 * arithmetic operations and at most a couple of libm calls. */
#include "sim_rng.h"

#include <math.h>

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void
sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * UINT64_C(0xd1342543de82ef95));
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = 1; /* the one state xoshiro cannot leave */
	r->has_spare = 0;
	r->spare = 0;
}

uint64_t
sim_rng_u64(sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double
sim_rng_unit(sim_rng *r)
{
	return (double)(sim_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t
sim_rng_below(sim_rng *r, uint64_t n)
{
	/* reject the top sliver so every residue is equally likely */
	uint64_t threshold = (0 - n) % n, x;
	do
		x = sim_rng_u64(r);
	while (x < threshold);
	return x % n;
}

double
sim_rng_normal(sim_rng *r)
{
	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	double u1 = 1.0 - sim_rng_unit(r); /* (0, 1]: log is finite */
	double u2 = sim_rng_unit(r);
	double rad = sqrt(-2.0 * log(u1));
	double th = 6.283185307179586476925 * u2;
	r->spare = rad * sin(th);
	r->has_spare = 1;
	return rad * cos(th);
}

double
sim_rng_exp(sim_rng *r)
{
	return -log(1.0 - sim_rng_unit(r));
}

void
sim_perm_init(sim_perm *p, uint64_t n, sim_rng *r)
{
	int bits = 1;
	while (bits < 64 && (UINT64_C(1) << bits) < n)
		bits++;
	p->n = n;
	p->mask = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
	p->shift = bits / 2 > 0 ? bits / 2 : 1;
	p->add = sim_rng_u64(r);
	p->mul1 = sim_rng_u64(r) | 1;
	p->mul2 = sim_rng_u64(r) | 1;
}

/* each step is a bijection of [0, 2^bits) */
static inline uint64_t
mix(const sim_perm *p, uint64_t x)
{
	x = (x + p->add) & p->mask;
	x ^= x >> p->shift;
	x = (x * p->mul1) & p->mask;
	x ^= x >> p->shift;
	x = (x * p->mul2) & p->mask;
	x ^= x >> p->shift;
	return x;
}

uint64_t
sim_perm_map(const sim_perm *p, uint64_t x)
{
	do
		x = mix(p, x);
	while (x >= p->n);
	return x;
}

/* log1p(x)/x, continuous at 0 */
static double
helper1(double x)
{
	return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

/* expm1(x)/x, continuous at 0 */
static double
helper2(double x)
{
	return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

/* H(x) = integral of x^-s: (x^(1-s) - 1) / (1 - s), log x when s = 1 */
static double
h_integral(const sim_zipf *z, double x)
{
	double lx = log(x);
	return helper2((1.0 - z->s) * lx) * lx;
}

static double
h(const sim_zipf *z, double x)
{
	return exp(-z->s * log(x));
}

static double
h_integral_inverse(const sim_zipf *z, double x)
{
	double t = x * (1.0 - z->s);
	if (t < -1.0)
		t = -1.0;
	return exp(helper1(t) * x);
}

void
sim_zipf_init(sim_zipf *z, uint64_t n, double s)
{
	z->s = s;
	z->n = (double)n;
	z->h_x1 = h_integral(z, 1.5) - 1.0;
	z->h_n = h_integral(z, z->n + 0.5);
	z->threshold = 2.0 - h_integral_inverse(z, h_integral(z, 2.5) - h(z, 2.0));
}

uint64_t
sim_zipf_sample(const sim_zipf *z, sim_rng *r)
{
	for (;;) {
		double u = z->h_n + sim_rng_unit(r) * (z->h_x1 - z->h_n);
		double x = h_integral_inverse(z, u);
		double kd = floor(x + 0.5);
		if (kd < 1.0)
			kd = 1.0;
		else if (kd > z->n)
			kd = z->n;
		if (kd - x <= z->threshold || u >= h_integral(z, kd + 0.5) - h(z, kd))
			return (uint64_t)kd;
	}
}
