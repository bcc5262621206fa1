/* amlrisk_cli.h - small helpers the command-line programs share: numbers parsed
 * whole and in range (a flag or environment value, read once at start-up), the
 * usage-error line every binary prints, and clocks for timings. */
#ifndef AMLRISK_CLI_H
#define AMLRISK_CLI_H

#include <stdint.h>

/* Exit status of a usage error in every amlrisk binary. */
#define AMLRISK_EXIT_USAGE 2

/* Strict decimal: s is one or more digits 0-9 and nothing else (no sign, no
 * white space), its value fits uint64_t and lies in [min, max]. Writes *out and
 * returns AMLRISK_OK, else returns AMLRISK_EINVAL and leaves *out alone. */
int amlrisk_parse_u64(uint64_t *out, const char *s, uint64_t min, uint64_t max);

/* Decimal as strtoll(3) reads it (optional leading white space and sign), but
 * the whole of a non-empty s, without overflow, and in [min, max]. Writes *out
 * and returns AMLRISK_OK, else returns AMLRISK_EINVAL and leaves *out alone. */
int amlrisk_parse_i64(int64_t *out, const char *s, int64_t min, int64_t max);

/* A number as strtod(3) reads it, but the whole of a non-empty s, finite, not
 * out of double's range (ERANGE) and in [min, max]. Writes *out and returns
 * AMLRISK_OK, else returns AMLRISK_EINVAL and leaves *out alone. */
int amlrisk_parse_double(double *out, const char *s, double min, double max);

/* Prints head, the formatted message and tail to standard error (the caller's
 * own wording, e.g. "prog: " and "\n(see prog --help)\n"); returns
 * AMLRISK_EXIT_USAGE. */
int amlrisk_usage_error(const char *head, const char *tail, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Seconds on CLOCK_MONOTONIC, for measuring durations. */
double amlrisk_now_s(void);
/* Milliseconds on CLOCK_MONOTONIC, for deadlines and backoff. */
int64_t amlrisk_now_ms(void);

/* CPU seconds (user + system) this process has used so far, all threads. */
double amlrisk_cpu_s(void);

#endif
