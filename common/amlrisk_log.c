/* amlrisk_log.c - event-per-line logging to stderr, one write(2) per line so
 * lines from many threads never interleave. */
#include "amlrisk_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int min_level = AMLRISK_LOG_INFO;

void
amlrisk_log_init(int level)
{
	if (level >= 0) {
		min_level = level;
		return;
	}
	const char *v = getenv("LOG_LEVEL");
	if (v == NULL)
		return;
	static const char *names[] = { "debug", "info", "warn", "error" };
	for (int i = 0; i < 4; i++)
		if (strcasecmp(v, names[i]) == 0)
			min_level = i;
}

void
amlrisk_log(amlrisk_log_level level, const char *component, const char *event,
            const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	if ((int)level < min_level)
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s %s ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, ts.tv_nsec / 1000000L, names[level & 3], component, event);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line)) {
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		va_end(ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2; /* truncated: keep one line */
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
