/* amlrisk_fmt.c - shortest round-trip doubles (see amlrisk_fmt.h) from glibc's
 * correctly rounded printf: one "%.16e" gives 17 digits, the 15- and 16-digit
 * candidates are rounded from them and checked by reading them back (one exact
 * IEEE operation in the common range, else strtod). Subnormals and powers of
 * two take a short search. Every JSON number the gateway writes passes here. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_fmt.h"

#define SCI_MAX 40 /* "%.16e" of any double, with room */

/* A decimal of p significant digits d[0..p) (also as the integer m):
 * m * 10^(x - p + 1), 10^(p-1) <= m < 10^p. */
typedef struct dec {
	char d[17];
	int p, x;
	uint64_t m;
} dec;

/* Exact powers of ten as doubles (10^22 is the last one that is). */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* 1 when d reads back as a. With m at most 2^53 and |e| at most 22, both are
 * exact doubles and one IEEE multiplication or division rounds the decimal
 * once, as strtod() does (Clinger's fast path); otherwise strtod() decides. */
static int
reads_back(const dec *d, double a)
{
	int e = d->x - d->p + 1;
	char t[SCI_MAX];

#if FLT_EVAL_METHOD == 0
	if (d->m <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
		return (e < 0 ? (double)d->m / pow10_exact[-e] : (double)d->m * pow10_exact[e]) ==
		       a;
	}
#endif
	snprintf(t, sizeof(t), "%llue%d", (unsigned long long)d->m, e);
	return strtod(t, NULL) == a;
}

/* printf's "%.{p-1}e" of a (> 0): the nearest decimal of p digits. */
static dec
printf_dec(double a, int p)
{
	char sci[SCI_MAX];
	dec d = {.p = p};
	int i, n = 0;

	snprintf(sci, sizeof(sci), "%.*e", p - 1, a);
	for (i = 0; sci[i] != 'e'; i++) {
		if (sci[i] != '.') {
			d.d[n++] = sci[i];
			d.m = d.m * 10 + (uint64_t)(sci[i] - '0');
		}
	}
	d.x = atoi(sci + i + 1);
	return d;
}

/* One unit more in the last digit of d. */
static dec
dec_up(dec d)
{
	int i = d.p - 1;

	d.m++;
	for (; i >= 0 && d.d[i] == '9'; i--) {
		d.d[i] = '0';
	}
	if (i >= 0) {
		d.d[i]++;
		return d;
	}
	d.d[0] = '1'; /* 9.99 became 10.00: 1.00 one decade up */
	d.m /= 10;
	d.x++;
	return d;
}

/* d17 (17 digits) rounded to p digits. Rounding the 17-digit text again is
 * a's correct rounding, except when exactly 5, 50 is cut: a may lie on either
 * side of that, so printf decides. */
static dec
round_17(double a, const dec *d17, int p)
{
	dec d = {.p = p, .x = d17->x};
	int i, tie = d17->d[p] == '5';

	for (i = p + 1; tie && i < 17; i++) {
		tie = d17->d[i] == '0';
	}
	if (tie) {
		return printf_dec(a, p);
	}
	for (i = 0; i < p; i++) {
		d.d[i] = d17->d[i];
		d.m = d.m * 10 + (uint64_t)(d.d[i] - '0');
	}
	return d17->d[p] >= '5' ? dec_up(d) : d;
}

/* The shortest decimal that reads back as a (finite, > 0), the nearest to a
 * among those. */
static dec
shortest(double a)
{
	int bexp, pow2 = frexp(a, &bexp) == 0.5;
	dec d, d17;

	if (a < DBL_MIN || pow2) {
		/* Subnormals have fewer bits, so fewer digits may do. Around a power
		 * of two the values that round to it reach twice as far above as
		 * below, so the nearest p digits can miss below while the next
		 * decimal up is inside. An exact search for both. */
		for (int p = 1; p < 17; p++) {
			d = printf_dec(a, p);
			if (reads_back(&d, a)) {
				return d;
			}
			if (pow2) {
				d = dec_up(d);
				if (reads_back(&d, a)) {
					return d;
				}
			}
		}
		return printf_dec(a, 17);
	}
	/* Normal numbers: 15 digits are finer than half a double's spacing, so
	 * when any decimal of 15 digits or fewer reads back as a, the nearest one
	 * of 15 is it (padded with zeros); at 16 the nearest is the best; 17
	 * always read back. */
	d17 = printf_dec(a, 17);
	d = round_17(a, &d17, 15);
	if (reads_back(&d, a)) {
		return d;
	}
	d = round_17(a, &d17, 16);
	return reads_back(&d, a) ? d : d17;
}

size_t
amlrisk_fmt_double(char *buf, size_t cap, double v)
{
	const char *digits;
	size_t n = 0, nd;
	dec d;

	if (cap < AMLRISK_FMT_DOUBLE_MAX) {
		if (cap > 0) {
			buf[0] = '\0';
		}
		return 0;
	}
	if (isnan(v)) {
		return (size_t)snprintf(buf, cap, "nan");
	}
	if (signbit(v)) {
		buf[n++] = '-';
		v = -v;
	}
	if (isinf(v)) {
		return n + (size_t)snprintf(buf + n, cap - n, "inf");
	}
	if (v == 0) {
		return n + (size_t)snprintf(buf + n, cap - n, "0.0");
	}
	d = shortest(v);
	for (nd = (size_t)d.p; nd > 1 && d.d[nd - 1] == '0'; nd--) {
	} /* trailing zeros */
	digits = d.d;
	if (d.x < -4 || d.x >= 16) { /* d.ddd e+XX */
		buf[n++] = digits[0];
		if (nd > 1) {
			buf[n++] = '.';
			memcpy(buf + n, digits + 1, nd - 1);
			n += nd - 1;
		}
		return n +
		       (size_t)snprintf(buf + n, cap - n, "e%c%02d", d.x < 0 ? '-' : '+', abs(d.x));
	}
	if (d.x < 0) { /* 0.000ddd */
		memcpy(buf + n, "0.0000", (size_t)(1 - d.x));
		n += (size_t)(1 - d.x);
		memcpy(buf + n, digits, nd);
		n += nd;
	} else { /* ddd.ddd, at least one digit after the point */
		for (size_t i = 0; i <= (size_t)d.x; i++) {
			buf[n++] = i < nd ? digits[i] : '0';
		}
		buf[n++] = '.';
		if (nd > (size_t)d.x + 1) {
			memcpy(buf + n, digits + d.x + 1, nd - (size_t)d.x - 1);
			n += nd - (size_t)d.x - 1;
		} else {
			buf[n++] = '0';
		}
	}
	buf[n] = '\0';
	return n;
}
