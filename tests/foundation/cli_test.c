/* cli_test.c - the command-line helpers in common/amlrisk_cli.h: strict
 * numbers (accepted forms, bounds, overflow, junk, *out untouched on error),
 * the usage-error line and exit status, and the monotonic clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* One text for each parser; ok says whether it is accepted in [min, max] with
 * the value want, else *out keeps its sentinel. */
static const struct {
	const char *s;
	uint64_t min, max, want;
	int ok;
} u64_cases[] = {
        {"0", 0, 10, 0, 1},
        {"0042", 0, 100, 42, 1},
        {"18446744073709551615", 0, UINT64_MAX, UINT64_MAX, 1},
        {"3", 3, 3, 3, 1},
        {"", 0, UINT64_MAX, 0, 0},
        {" 1", 0, UINT64_MAX, 0, 0},
        {"+1", 0, UINT64_MAX, 0, 0},
        {"-1", 0, UINT64_MAX, 0, 0},
        {"1 ", 0, UINT64_MAX, 0, 0},
        {"1x", 0, UINT64_MAX, 0, 0},
        {"0x10", 0, UINT64_MAX, 0, 0},
        {"1.0", 0, UINT64_MAX, 0, 0},
        {"18446744073709551616", 0, UINT64_MAX, 0, 0},
        {"99999999999999999999999", 0, UINT64_MAX, 0, 0},
        {"2", 3, 10, 0, 0},
        {"11", 3, 10, 0, 0},
};

static const struct {
	const char *s;
	int64_t min, max, want;
	int ok;
} i64_cases[] = {
        {"-5", -10, 10, -5, 1},
        {"65535", 0, 65535, 65535, 1},
        {"-9223372036854775808", INT64_MIN, 0, INT64_MIN, 1},
        {" +12", 0, 100, 12, 1}, /* strtoll's syntax: leading space and sign */
        {"", INT64_MIN, INT64_MAX, 0, 0},
        {" ", INT64_MIN, INT64_MAX, 0, 0},
        {"-", INT64_MIN, INT64_MAX, 0, 0},
        {"12 ", INT64_MIN, INT64_MAX, 0, 0},
        {"12x", INT64_MIN, INT64_MAX, 0, 0},
        {"1e3", INT64_MIN, INT64_MAX, 0, 0},
        {"0x10", INT64_MIN, INT64_MAX, 0, 0},
        {"9223372036854775808", INT64_MIN, INT64_MAX, 0, 0},
        {"-9223372036854775809", INT64_MIN, INT64_MAX, 0, 0},
        {"-1", 0, 10, 0, 0},
        {"65536", 0, 65535, 0, 0},
};

static const struct {
	const char *s;
	double min, max, want;
	int ok;
} double_cases[] = {
        {"0.25", 0, 1, 0.25, 1},         {"-10", -10, 20, -10, 1},
        {"1e1", 0, 20, 10, 1},           {"", -1e308, 1e308, 0, 0},
        {"x", -1e308, 1e308, 0, 0},      {"1.5x", -1e308, 1e308, 0, 0},
        {"nan", -1e308, 1e308, 0, 0},    {"inf", -1e308, 1e308, 0, 0},
        {"-inf", -1e308, 1e308, 0, 0},   {"1e999", -1e308, 1e308, 0, 0},
        {"1e-320", -1e308, 1e308, 0, 0}, /* ERANGE */
        {"1.0001", 0, 1, 0, 0},          {"-0.5", 0, 1, 0, 0},
};

static void
test_numbers(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES(u64_cases); i++) {
		uint64_t v = 7;
		int rv = amlrisk_parse_u64(&v, u64_cases[i].s, u64_cases[i].min, u64_cases[i].max);
		if (rv != (u64_cases[i].ok ? AMLRISK_OK : AMLRISK_EINVAL) ||
		    v != (u64_cases[i].ok ? u64_cases[i].want : 7))
			fail_msg("u64 '%s': rv %d", u64_cases[i].s, rv);
	}
	for (size_t i = 0; i < NCASES(i64_cases); i++) {
		int64_t v = 7;
		int rv = amlrisk_parse_i64(&v, i64_cases[i].s, i64_cases[i].min, i64_cases[i].max);
		if (rv != (i64_cases[i].ok ? AMLRISK_OK : AMLRISK_EINVAL) ||
		    v != (i64_cases[i].ok ? i64_cases[i].want : 7))
			fail_msg("i64 '%s': rv %d", i64_cases[i].s, rv);
	}
	for (size_t i = 0; i < NCASES(double_cases); i++) {
		double v = 7;
		int rv = amlrisk_parse_double(&v, double_cases[i].s, double_cases[i].min,
		                              double_cases[i].max);
		if (rv != (double_cases[i].ok ? AMLRISK_OK : AMLRISK_EINVAL) ||
		    v != (double_cases[i].ok ? double_cases[i].want : 7))
			fail_msg("double '%s': rv %d", double_cases[i].s, rv);
	}
}

static void
test_usage_and_clock(void **state)
{
	(void)state;
	FILE *saved = stderr;
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	stderr = tmp;
	int rv = amlrisk_usage_error("prog: ", " (see prog --help)\n", "--x: bad '%s'", "y");
	stderr = saved;
	assert_int_equal(rv, AMLRISK_EXIT_USAGE);
	assert_int_equal(rv, 2);
	char buf[128] = {0};
	rewind(tmp);
	assert_non_null(fgets(buf, sizeof buf, tmp));
	assert_string_equal(buf, "prog: --x: bad 'y' (see prog --help)\n");
	fclose(tmp);

	double a = amlrisk_now_s(), b = amlrisk_now_s();
	assert_true(a > 0);
	assert_true(b >= a);

	/* CPU time grows with work done, not with time slept */
	double c0 = amlrisk_cpu_s();
	volatile unsigned long spin = 0;
	while (amlrisk_cpu_s() - c0 < 0.05) {
		spin++;
	}
	assert_true(spin > 0);
	double c1 = amlrisk_cpu_s();
	struct timespec nap = {0, 100 * 1000 * 1000};
	nanosleep(&nap, NULL);
	assert_true(amlrisk_cpu_s() - c1 < 0.05);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_numbers),
	        cmocka_unit_test(test_usage_and_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
