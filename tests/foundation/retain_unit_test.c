/* retain_unit_test.c - the retention policy's parsers in
 * common/amlrisk_retain.h, shared by amlctl runs prune and the core's
 * RUN_RETENTION_* settings: accepted counts and durations, their PostgreSQL
 * interval text, bounds, junk, and outputs untouched on error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "amlrisk_retain.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static void
test_keep(void **state)
{
	static const struct {
		const char *s;
		int64_t want; /* -7: refused */
	} CASES[] = {
	        {"0", 0},           {"10", 10}, {"0042", 42}, {"1000000000", 1000000000},
	        {"1000000001", -7}, {"-1", -7}, {"+3", -7},   {" 3", -7},
	        {"3 ", -7},         {"3x", -7}, {"", -7},     {"99999999999999999999", -7},
	};
	(void)state;
	for (size_t i = 0; i < NCASES(CASES); i++) {
		int64_t v = -7;
		int rv = amlrisk_retain_parse_keep(CASES[i].s, &v);
		if (rv != (CASES[i].want != -7 ? AMLRISK_OK : AMLRISK_EINVAL) || v != CASES[i].want)
			fail_msg("keep '%s': rv %d value %lld", CASES[i].s, rv, (long long)v);
	}
}

static void
test_duration(void **state)
{
	static const struct {
		const char *s, *want; /* NULL: refused */
	} CASES[] = {
	        {"7d", "7 days"},
	        {"12h", "12 hours"},
	        {"30m", "30 minutes"},
	        {"45s", "45 seconds"},
	        {"007d", "7 days"},
	        {"1000000000s", "1000000000 seconds"},
	        {"1000000001s", NULL},
	        {"0h", NULL},
	        {"d", NULL},
	        {"7", NULL},
	        {"7x", NULL},
	        {"7D", NULL},
	        {"7 d", NULL},
	        {"-1d", NULL},
	        {"+1d", NULL},
	        {"7dd", NULL},
	        {"1.5h", NULL},
	        {"", NULL},
	        {"123456789012345678d", NULL},
	};
	char out[AMLRISK_RETAIN_INTERVAL_MAX];
	(void)state;
	for (size_t i = 0; i < NCASES(CASES); i++) {
		strcpy(out, "untouched");
		int rv = amlrisk_retain_parse_duration(CASES[i].s, out, sizeof(out));
		const char *want = CASES[i].want != NULL ? CASES[i].want : "untouched";
		if (rv != (CASES[i].want != NULL ? AMLRISK_OK : AMLRISK_EINVAL) ||
		    strcmp(out, want) != 0)
			fail_msg("duration '%s': rv %d text '%s'", CASES[i].s, rv, out);
	}
	/* a buffer too small for the text: refused, left alone */
	char small[6] = "xxxxx";
	assert_int_equal(amlrisk_retain_parse_duration("7d", small, sizeof(small)), AMLRISK_EINVAL);
	assert_string_equal(small, "xxxxx");
	assert_int_equal(amlrisk_retain_parse_duration(NULL, out, sizeof(out)), AMLRISK_EINVAL);
}

static void
test_active(void **state)
{
	amlrisk_retain off = {.keep = -1}, keep0 = {.keep = 0}, age = {.keep = -1};
	(void)state;
	strcpy(age.older_than, "7 days");
	assert_false(amlrisk_retain_active(NULL));
	assert_false(amlrisk_retain_active(&off));
	assert_true(amlrisk_retain_active(&keep0));
	assert_true(amlrisk_retain_active(&age));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keep),
	        cmocka_unit_test(test_duration),
	        cmocka_unit_test(test_active),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
