/* amlrisk_log.c - event-per-line logging to stderr, one write(2) per line so
 * lines from many threads never interleave. The key=value text is formatted
 * here, conversion by conversion, so every string value can be escaped: libpq
 * and librdkafka messages and hostile ids carry quotes, newlines and control
 * characters, and each event must stay one parseable line. */
#include "amlrisk_log.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048

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
	static const char *names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++)
		if (strcasecmp(v, names[i]) == 0)
			min_level = i;
}

/* The line being built; at never passes cap, and what is written is whole. */
typedef struct line {
	char *p;
	size_t at, cap;
} line;

static int
put(line *l, const char *s, size_t n)
{
	if (n > l->cap - l->at)
		return -1;
	memcpy(l->p + l->at, s, n);
	l->at += n;
	return 0;
}

/* 1 when s[0..n) cannot stand unquoted after "key=": empty, or holding a
 * space, '=', a quote, a backslash or a control character. */
static int
needs_quotes(const char *s, size_t n)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
			return 1;
	}
	return 0;
}

/* Appends s[0..n) with '"' and '\' backslash-escaped, \n \r \t as such and
 * every other control byte as \xHH; an escape is never cut by truncation. */
static void
put_escaped(line *l, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[4] = {'\\', 0, 0, 0};
		size_t en = 2;
		if (c == '"' || c == '\\')
			e[1] = (char)c;
		else if (c == '\n')
			e[1] = 'n';
		else if (c == '\r')
			e[1] = 'r';
		else if (c == '\t')
			e[1] = 't';
		else if (c < 0x20 || c == 0x7f) {
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			en = 4;
		} else {
			e[0] = (char)c;
			en = 1;
		}
		if (put(l, e, en) != 0)
			return;
	}
}

/* Where a string value stands in the format. */
enum { CTX_TEXT, CTX_VALUE, CTX_QUOTED };

/* A string value: inside quotes written by the format (key="%s"), escaped;
 * right after '=' (key=%s), as it is when it can be, else quoted and escaped;
 * elsewhere (text the caller composed), only control characters escaped. */
static void
put_value(line *l, const char *s, size_t n, int ctx)
{
	if (ctx == CTX_QUOTED) {
		put_escaped(l, s, n);
	} else if (ctx == CTX_TEXT) {
		size_t i = 0;
		while (i < n) {
			size_t j = i;
			while (j < n && (unsigned char)s[j] >= 0x20 && s[j] != 0x7f)
				j++;
			if (put(l, s + i, j - i) != 0)
				return;
			if (j < n)
				put_escaped(l, s + j, 1);
			i = j + 1;
		}
	} else if (needs_quotes(s, n)) {
		if (put(l, "\"", 1) != 0)
			return;
		put_escaped(l, s, n);
		put(l, "\"", 1);
	} else {
		put(l, s, n);
	}
}

/* Formats fmt with ap into l like vsnprintf, except that %s and %c values go
 * through put_value() and a line too long is cut (never inside an escape). Takes the arguments by
 * the conversion's type (the format attribute on amlrisk_log() has the compiler check them). */
static void
format(line *l, const char *fmt, va_list ap)
{
	const char *f = fmt;
	while (*f != '\0') {
		if (*f != '%') {
			const char *pct = strchr(f, '%');
			size_t n = pct != NULL ? (size_t)(pct - f) : strlen(f);
			put(l, f, n);
			f += n;
			continue;
		}
		int ctx = f == fmt       ? CTX_TEXT
		          : f[-1] == '"' ? CTX_QUOTED
		          : f[-1] == '=' ? CTX_VALUE
		                         : CTX_TEXT;
		const char *start = f++;
		if (*f == '%') {
			put(l, "%", 1);
			f++;
			continue;
		}
		/* rebuild the conversion with '*' replaced by its argument */
		char spec[64];
		size_t sn = 0;
		int prec = -1;
		spec[sn++] = '%';
		while (*f != '\0' && strchr("-+ #0", *f) != NULL && sn < 8)
			spec[sn++] = *f++;
		for (int part = 0; part < 2; part++) {
			if (part == 1) {
				if (*f != '.')
					break;
				spec[sn++] = *f++;
				prec = 0;
			}
			if (*f == '*') {
				int v = va_arg(ap, int);
				if (part == 1)
					prec = v < 0 ? -1 : v;
				sn += (size_t)snprintf(spec + sn, sizeof(spec) - sn, "%d", v);
				f++;
			} else {
				int v = 0;
				while (*f >= '0' && *f <= '9' && sn < 40) {
					v = v * 10 + (*f - '0');
					spec[sn++] = *f++;
				}
				if (part == 1)
					prec = v;
			}
		}
		char len[3] = {0, 0, 0};
		if (*f == 'h' || *f == 'l') {
			len[0] = *f++;
			if (*f == len[0])
				len[1] = *f++;
		} else if (*f == 'z' || *f == 'j' || *f == 't' || *f == 'L') {
			len[0] = *f++;
		}
		char conv = *f;
		if (conv == '\0' || sn + 4 >= sizeof(spec)) {
			put(l, start, strlen(start)); /* not a conversion: as written */
			return;
		}
		f++;
		memcpy(spec + sn, len, strlen(len));
		sn += strlen(len);
		spec[sn++] = conv;
		spec[sn] = '\0';
		char tmp[512];
		int tn = -1;
		switch (conv) {
		case 's': {
			const char *v = va_arg(ap, const char *);
			if (v == NULL)
				v = "(null)";
			size_t n = prec >= 0 ? strnlen(v, (size_t)prec) : strlen(v);
			put_value(l, v, n, ctx);
			continue;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			put_value(l, &c, 1, ctx);
			continue;
		}
		case 'd':
		case 'i':
			if (len[0] == 'l' && len[1] == 'l')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, long long));
			else if (len[0] == 'l')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, long));
			else if (len[0] == 'z')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, ssize_t));
			else if (len[0] == 'j')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, intmax_t));
			else if (len[0] == 't')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, ptrdiff_t));
			else
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, int));
			break;
		case 'u':
		case 'o':
		case 'x':
		case 'X':
			if (len[0] == 'l' && len[1] == 'l')
				tn = snprintf(tmp, sizeof(tmp), spec,
				              va_arg(ap, unsigned long long));
			else if (len[0] == 'l')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, unsigned long));
			else if (len[0] == 'z')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, size_t));
			else if (len[0] == 'j')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, uintmax_t));
			else if (len[0] == 't')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, ptrdiff_t));
			else
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, unsigned));
			break;
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
		case 'a':
		case 'A':
			if (len[0] == 'L')
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, long double));
			else
				tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, double));
			break;
		case 'p':
			tn = snprintf(tmp, sizeof(tmp), spec, va_arg(ap, void *));
			break;
		default: /* %n and unknown conversions: written as they are, no argument */
			put(l, start, (size_t)(f - start));
			continue;
		}
		if (tn > 0)
			put(l, tmp, (size_t)tn < sizeof(tmp) ? (size_t)tn : sizeof(tmp) - 1);
	}
}

void
amlrisk_log(amlrisk_log_level level, const char *component, const char *event, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	if ((int)level < min_level)
		return;
	char buf[LINE_MAX_BYTES];
	line l = {buf, 0, sizeof(buf) - 1}; /* room for the newline */
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s %s ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, ts.tv_nsec / 1000000L, names[level & 3], component, event);
	if (n < 0 || (size_t)n >= l.cap)
		return;
	l.at = (size_t)n;
	va_list ap;
	va_start(ap, fmt);
	format(&l, fmt, ap);
	va_end(ap);
	buf[l.at++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, l.at);
	(void)w;
}
