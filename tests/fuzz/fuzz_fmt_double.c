/* fuzz_fmt_double.c - amlrisk_fmt_double, the number format of every JSON
 * answer and stored document. Property (abort when broken): the text fits in
 * AMLRISK_FMT_DOUBLE_MAX, strtod() reads it back as the same double (bit for
 * bit; any NaN for "nan"), and one significant digit fewer does not (shortest).
 * Byte 0 even: the next 8 bytes are the double's bits; odd: the rest is text
 * read with strtod (decimal values near the ones users write). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_fmt.h"
#include "fuzz.h"

/* Significant digits in the mantissa of text (before any 'e'). */
static int
sig_digits(const char *text)
{
	int n = 0, lead = 1, trail = 0;

	for (const char *p = text; *p != '\0' && *p != 'e'; p++) {
		if (*p < '0' || *p > '9')
			continue;
		if (lead && *p == '0')
			continue;
		lead = 0;
		n++;
		trail = *p == '0' ? trail + 1 : 0;
	}
	return n - trail;
}

static void
check(double v)
{
	char buf[AMLRISK_FMT_DOUBLE_MAX], fewer[64];
	size_t len = amlrisk_fmt_double(buf, sizeof(buf), v);
	double back;
	int d;

	if (len == 0 || len >= sizeof(buf) || strlen(buf) != len)
		abort();
	back = strtod(buf, NULL);
	if (isnan(v)) {
		if (!isnan(back))
			abort();
		return;
	}
	if (memcmp(&back, &v, sizeof(v)) != 0)
		abort();
	if (!isfinite(v) || v == 0)
		return;
	if ((d = sig_digits(buf)) > 1) {
		snprintf(fewer, sizeof(fewer), "%.*e", d - 2, v);
		if (strtod(fewer, NULL) == v)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	double v;
	char *s;

	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		if (size < 1 + sizeof(v))
			return 0;
		memcpy(&v, data + 1, sizeof(v));
		check(v);
		return 0;
	}
	if ((s = fuzz_strndup(data + 1, size - 1)) == NULL)
		return 0;
	check(strtod(s, NULL));
	free(s);
	return 0;
}
