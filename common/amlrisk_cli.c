/* amlrisk_cli.c - strict number parsing, usage errors and a monotonic clock for
 * the command-line programs. Called a few times per start-up; clarity over speed. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"

int
amlrisk_parse_u64(uint64_t *out, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return AMLRISK_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return AMLRISK_EINVAL;
	*out = (uint64_t)v;
	return AMLRISK_OK;
}

int
amlrisk_parse_i64(int64_t *out, const char *s, int64_t min, int64_t max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		return AMLRISK_EINVAL;
	*out = (int64_t)v;
	return AMLRISK_OK;
}

int
amlrisk_parse_double(double *out, const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max)
		return AMLRISK_EINVAL;
	*out = v;
	return AMLRISK_OK;
}

int
amlrisk_usage_error(const char *head, const char *tail, const char *fmt, ...)
{
	va_list ap;

	fputs(head, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(tail, stderr);
	return AMLRISK_EXIT_USAGE;
}

double
amlrisk_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t
amlrisk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
amlrisk_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}
