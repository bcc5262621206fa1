/* fmt_bench.c - amlrisk-bench-fmt: the cost of one JSON number, the gateway's
 * former snprintf("%.17g") against amlrisk_fmt_double() (shortest round-trip
 * text), over the doubles of the answers: risk scores in [0, 2) alone (a
 * /scores/top row), and scores with their hop weights 1.0, 0.6, 0.3 (a
 * /scores/{wallet} answer); the two ways alternate in each of ROUNDS rounds.
 *   amlrisk-bench-fmt [NUMBERS (200000)] [ROUNDS (9)]
 * Prints the median ns per number of each and their ratio, per mix. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "amlrisk_cli.h"
#include "amlrisk_fmt.h"

#define ROUNDS_MAX 99

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ns per number to format all n of v one way; sink keeps the work. */
static double
run(const double *v, size_t n, int shortest, size_t *sink)
{
	char buf[AMLRISK_FMT_DOUBLE_MAX];
	double t0 = amlrisk_now_s();

	for (size_t i = 0; i < n; i++) {
		*sink += shortest ? amlrisk_fmt_double(buf, sizeof(buf), v[i])
		                  : (size_t)snprintf(buf, sizeof(buf), "%.17g", v[i]);
	}
	return (amlrisk_now_s() - t0) * 1e9 / (double)n;
}

/* Measures v (n numbers) both ways, rounds times, and prints the medians. */
static void
compare(const char *what, const double *v, size_t n, uint64_t rounds)
{
	double old_ns[ROUNDS_MAX], new_ns[ROUNDS_MAX];
	size_t sink = 0;

	for (uint64_t r = 0; r < rounds; r++) {
		old_ns[r] = run(v, n, 0, &sink);
		new_ns[r] = run(v, n, 1, &sink);
	}
	qsort(old_ns, rounds, sizeof(double), cmp_double);
	qsort(new_ns, rounds, sizeof(double), cmp_double);
	printf("%-28s %%.17g %4.0f ns, amlrisk_fmt_double %4.0f ns per number: %.2fx "
	       "(checksum %zu)\n",
	       what, old_ns[rounds / 2], new_ns[rounds / 2],
	       new_ns[rounds / 2] / old_ns[rounds / 2], sink);
}

int
main(int argc, char **argv)
{
	static const double weights[] = {1.0, 0.6, 0.3};
	uint64_t n = 200000, rounds = 9, x = 0x9e3779b97f4a7c15u;
	double *scores, *rows;

	if ((argc > 1 && amlrisk_parse_u64(&n, argv[1], 1, 100000000) != 0) ||
	    (argc > 2 && amlrisk_parse_u64(&rounds, argv[2], 1, ROUNDS_MAX) != 0) || argc > 3) {
		fprintf(stderr, "usage: %s [NUMBERS (1..1e8)] [ROUNDS (1..%d)]\n", argv[0],
		        ROUNDS_MAX);
		return 2;
	}
	scores = malloc(n * sizeof(*scores));
	rows = malloc(n * sizeof(*rows));
	if (scores == NULL || rows == NULL) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		free(scores);
		free(rows);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13; /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		scores[i] = 2.0 * (double)(x >> 11) / (double)(UINT64_C(1) << 53);
		rows[i] = i % 4 == 0 ? scores[i] : weights[i % 4 - 1];
	}
	printf("%llu numbers, median of %llu rounds\n", (unsigned long long)n,
	       (unsigned long long)rounds);
	compare("scores (top rows)", scores, n, rounds);
	compare("score + 3 hop weights", rows, n, rounds);
	free(scores);
	free(rows);
	return 0;
}
