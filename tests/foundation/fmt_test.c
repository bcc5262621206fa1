/* fmt_test.c - amlrisk_fmt_double(): known shortest forms, Python's repr() of
 * 4098 doubles (tests/fixtures/shortest_doubles.txt: every power of two,
 * subnormals, random bit patterns), and random doubles that must read back
 * exactly with no shorter nearest form that also would. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_fmt.h"
#include "th.h"

#define RANDOM_DOUBLES 100000

static double
from_bits(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

static void
is(double v, const char *want)
{
	char buf[AMLRISK_FMT_DOUBLE_MAX];
	size_t n = amlrisk_fmt_double(buf, sizeof(buf), v);

	if (strcmp(buf, want) != 0 || n != strlen(want)) {
		fail_msg("%a: got '%s' (%zu), want '%s'", v, buf, n, want);
	}
}

static void
test_known(void **state)
{
	(void)state;
	is(0.05, "0.05");
	is(0.1, "0.1");
	is(0.6, "0.6");
	is(1.0 / 3.0, "0.3333333333333333");
	is(76.0 - 2 * 7.105427357601002e-15, "75.99999999999999");
	is(0.6363961030678927, "0.6363961030678927");
	is(1.0969655114602888, "1.0969655114602888");
	is(1.0, "1.0");
	is(-2.0, "-2.0");
	is(100.0, "100.0");
	is(0.0, "0.0");
	is(-0.0, "-0.0");
	is(123456.789, "123456.789");
	is(1e15, "1000000000000000.0");
	is(1e16, "1e+16");
	is(1.5e300, "1.5e+300");
	is(0.0001, "0.0001");
	is(0.00001, "1e-05");
	is(1.2345e-7, "1.2345e-07");
	is(DBL_MAX, "1.7976931348623157e+308");
	is(DBL_MIN, "2.2250738585072014e-308");
	is(from_bits(1), "5e-324");                      /* the smallest subnormal */
	is(ldexp(1.0, -1017), "7.120236347223045e-307"); /* a power of two: next decimal up */
	is(9007199254740993.0, "9007199254740992.0");    /* 2^53 + 1 is not a double */
	is(18446744073709551615.0, "1.8446744073709552e+19");
	is(NAN, "nan");
	is(INFINITY, "inf");
	is(-INFINITY, "-inf");
}

static void
test_small_buffer(void **state)
{
	char buf[AMLRISK_FMT_DOUBLE_MAX] = "x";

	(void)state;
	assert_int_equal(amlrisk_fmt_double(buf, AMLRISK_FMT_DOUBLE_MAX - 1, 1.5), 0);
	assert_string_equal(buf, "");
	assert_int_equal(amlrisk_fmt_double(NULL, 0, 1.5), 0);
	assert_true(amlrisk_fmt_double(buf, sizeof(buf), -DBL_MIN) < AMLRISK_FMT_DOUBLE_MAX);
}

/* Every line of the fixture: "<hex bits> <repr>". */
static void
test_python_repr(void **state)
{
	char path[1024], line[128], hex[32], want[64];
	size_t lines = 0;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/shortest_doubles.txt", th_env("AMLRISK_FIXTURES"));
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		assert_int_equal(sscanf(line, "%31s %63s", hex, want), 2);
		is(from_bits(strtoull(hex, NULL, 16)), want);
		lines++;
	}
	fclose(f);
	assert_int_equal(lines, 4098);
}

/* Significant digits of the text s: those of its mantissa without leading
 * and trailing zeros ("0.050" and "50.0" have 1). */
static int
sig_digits(const char *s)
{
	int n = 0, last = 0;

	for (; *s != '\0' && *s != 'e'; s++) {
		if (*s >= '0' && *s <= '9' && (n > 0 || *s != '0')) {
			n++;
			if (*s != '0') {
				last = n;
			}
		}
	}
	return last;
}

/* Random finite doubles (bit patterns, and values in [0, 2) like scores): each
 * reads back exactly, and the nearest decimal one digit shorter would not
 * (powers of two excepted: their shortest may lie off the nearest). */
static void
test_random(void **state)
{
	char buf[AMLRISK_FMT_DOUBLE_MAX], shorter[64];
	uint64_t x = 0x9e3779b97f4a7c15u;
	int bexp;

	(void)state;
	for (int i = 0; i < RANDOM_DOUBLES; i++) {
		double v;
		int nd;

		x ^= x << 13; /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		v = i % 2 ? from_bits(x) : (double)(x >> 11) / (double)(UINT64_C(1) << 52);
		if (!isfinite(v)) {
			continue;
		}
		amlrisk_fmt_double(buf, sizeof(buf), v);
		if (strtod(buf, NULL) != v) {
			fail_msg("%a: '%s' reads back as %a", v, buf, strtod(buf, NULL));
		}
		nd = sig_digits(buf);
		if (nd > 1 && v != 0 && frexp(v, &bexp) != 0.5) {
			snprintf(shorter, sizeof(shorter), "%.*e", nd - 2, v);
			if (strtod(shorter, NULL) == v) {
				fail_msg("%a: '%s' but '%s' is shorter", v, buf, shorter);
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known),
	        cmocka_unit_test(test_small_buffer),
	        cmocka_unit_test(test_python_repr),
	        cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
