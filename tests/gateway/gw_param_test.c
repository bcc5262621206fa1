/* gw_param_test.c - the gateway's request-target parsers against hostile input
 * (the fuzz entry points of gw_param.h and gw_target.h): malformed and
 * truncated percent-escapes, NUL and control bytes, repeated and too many
 * parameters, numbers past int64, over-long segments and URLs, every route
 * and method; then 200k pseudo-random targets, each either accepted or refused
 * with a status of the documented set and a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "gw_config.h"
#include "gw_param.h"
#include "gw_target.h"

#define WHY_MAX        160
#define RANDOM_TARGETS 50000

static void
query_is(const char *q, int ok, const char *why_has)
{
	char why[WHY_MAX] = "";
	int rv = gw_param_query_check(q, why, sizeof(why));

	if ((rv == AMLRISK_OK) != ok || (!ok && strstr(why, why_has) == NULL)) {
		fail_msg("query '%s': %s (%s)", q, rv == AMLRISK_OK ? "accepted" : "refused", why);
	}
}

static void
test_query_check(void **state)
{
	char many[512] = "", *p = many;

	(void)state;
	query_is("", 1, NULL);
	query_is("n=5", 1, NULL);
	query_is("n=5&run_id=3&x", 1, NULL);
	query_is("a=1&&b=2&", 1, NULL);
	query_is("w=%41%2f%C3%A9+x", 1, NULL);
	query_is("=5", 1, NULL);
	query_is("n=%zz", 0, "bad percent-encoding at byte 2");
	query_is("n=%4", 0, "bad percent-encoding at byte 2");
	query_is("n=%", 0, "bad percent-encoding");
	query_is("n=%4&m=1", 0, "bad percent-encoding"); /* the escape may not reach past '&' */
	query_is("n=1%00", 0, "%00 at byte 3");
	query_is("n=\t1", 0, "control byte at byte 2");
	query_is("n=\x7f", 0, "control byte");
	query_is("n=1&n=2", 0, "'n' given more than once");
	query_is("n&n", 0, "given more than once");
	query_is("n=1&limit=2&n=3", 0, "given more than once");
	for (int i = 0; i < GW_QUERY_PARAMS_MAX; i++) {
		p += sprintf(p, "%sp%d=1", i ? "&" : "", i);
	}
	query_is(many, 1, NULL);
	strcat(many, "&one_more=1");
	query_is(many, 0, "more than 32 parameters");
}

static void
test_get_and_int(void **state)
{
	char out[16], why[WHY_MAX];
	int64_t v = 0;

	(void)state;
	assert_int_equal(gw_param_get("a=1&b=x%20y+z", "b", out, sizeof(out)), AMLRISK_OK);
	assert_string_equal(out, "x y z");
	assert_int_equal(gw_param_get("a=1&b", "b", out, sizeof(out)), AMLRISK_OK);
	assert_string_equal(out, "");
	assert_int_equal(gw_param_get("a=1", "b", out, sizeof(out)), AMLRISK_ENOTFOUND);
	assert_int_equal(gw_param_get("ab=1", "a", out, sizeof(out)), AMLRISK_ENOTFOUND);
	assert_int_equal(gw_param_get("b=1%00x", "b", out, sizeof(out)), AMLRISK_EINVAL);
	assert_int_equal(gw_param_get("b=%zz", "b", out, sizeof(out)), AMLRISK_EINVAL);
	assert_int_equal(gw_param_get("b=0123456789abcdef", "b", out, sizeof(out)),
	                 AMLRISK_ETOOBIG);
	assert_int_equal(gw_param_int("n=7", "n", 1, 10, 3, &v, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(v, 7);
	assert_int_equal(gw_param_int("", "n", 1, 10, 3, &v, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(v, 3);
	static const char *const bad[] = {
	        "n=",
	        "n=0",
	        "n=11",
	        "n=+5",
	        "n=%205",
	        "n=5%20",
	        "n=5x",
	        "n=0x5",
	        "n=1e1",
	        "n=--1",
	        "n=1%00",
	        "n=99999999999999999999",
	        "n=-99999999999999999999",
	        "n=%zz",
	        "n=1.0",
	        "n=\xc3\xa9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (gw_param_int(bad[i], "n", 1, 10, 3, &v, why, sizeof(why)) != AMLRISK_EINVAL) {
			fail_msg("'%s' accepted as %lld", bad[i], (long long)v);
		}
		assert_int_equal(v, 42); /* untouched */
		assert_string_equal(why, "n: must be an integer between 1 and 10");
	}
	assert_int_equal(
	        gw_param_int("n=-9223372036854775808", "n", INT64_MIN, 0, 0, &v, why, sizeof(why)),
	        AMLRISK_OK);
	assert_true(v == INT64_MIN);
}

static void
test_path_params(void **state)
{
	char out[GW_TARGET_PARAM_MAX], why[WHY_MAX], seg[1024];
	int64_t id = 0;

	(void)state;
	assert_int_equal(gw_param_run_id("42", 2, &id, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(id, 42);
	assert_int_equal(gw_param_run_id("9223372036854775807", 19, &id, why, sizeof(why)),
	                 AMLRISK_OK);
	static const char *const bad_ids[] = {"0",
	                                      "-1",
	                                      "+1",
	                                      "1%00",
	                                      "1 ",
	                                      " 1",
	                                      "%31%00",
	                                      "1x",
	                                      "",
	                                      "%zz",
	                                      "1.5",
	                                      "0x1",
	                                      "9223372036854775808",
	                                      "00000000000000000000000000000000000001"};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		if (gw_param_run_id(bad_ids[i], strlen(bad_ids[i]), &id, why, sizeof(why)) !=
		    AMLRISK_EINVAL) {
			fail_msg("run id '%s' accepted", bad_ids[i]);
		}
		assert_non_null(strstr(why, "run_id: must be an integer"));
	}
	assert_int_equal(gw_param_wallet("a%2Fb", 5, out, sizeof(out), why, sizeof(why)),
	                 AMLRISK_OK);
	assert_string_equal(out, "a/b");
	assert_int_equal(gw_param_wallet("a%00b", 5, out, sizeof(out), why, sizeof(why)),
	                 AMLRISK_EINVAL);
	assert_int_equal(gw_param_wallet("%", 1, out, sizeof(out), why, sizeof(why)),
	                 AMLRISK_EINVAL);
	assert_string_equal(why, "wallet: bad percent-encoding");
	memset(seg, 'w', sizeof(seg));
	assert_int_equal(gw_param_wallet(seg, 257, out, sizeof(out), why, sizeof(why)),
	                 AMLRISK_EINVAL);
	assert_string_equal(why, "wallet: longer than 256 bytes");
	assert_int_equal(gw_param_wallet(seg, 256, out, sizeof(out), why, sizeof(why)), AMLRISK_OK);
}

/* The status gw_target_route and gw_target_check give method target. */
static int
target_status(const char *method, const char *target, char *why, size_t whylen)
{
	gw_target t;
	int st = gw_target_route(&t, method, target, strlen(target));

	why[0] = '\0';
	return st != 0 ? st : gw_target_check(&t, why, whylen);
}

static void
test_targets(void **state)
{
	static const struct {
		const char *method, *target;
		int status;
	} cases[] = {
	        {"GET", "/ingestion/status", 0},
	        {"GET", "/ingestion/status?", 0},
	        {"GET", "/ingestion/status?verbose=1", 0},
	        {"GET", "/ingestion/status?%zz", 400},
	        {"GET", "/ingestion/status?a=1&a=2", 400},
	        {"GET", "/ingestion/status?a=%00", 400},
	        {"GET", "/ingestion/status/", 404},
	        {"GET", "/ingestion/status/x", 404},
	        {"GET", "/ingestion", 404},
	        {"GET", "//ingestion/status", 404},
	        {"GET", "/ingestion//status", 404},
	        {"GET", "/Ingestion/status", 404},
	        {"GET", "/ingestion/%73tatus", 404},
	        {"POST", "/ingestion/status", 405},
	        {"DELETE", "/runs", 405},
	        {"", "/runs", 405},
	        {"GET", "", 404},
	        {"GET", "?", 404},
	        {"GET", "*", 404},
	        {"GET", "/runs/7", 0},
	        {"GET", "/runs/7?x=1", 0},
	        {"GET", "/runs/0", 422},
	        {"GET", "/runs/7%00", 422},
	        {"GET", "/runs/%37", 0},
	        {"GET", "/runs/", 404},
	        {"GET", "/runs/7/x", 404},
	        {"GET", "/scores/top?n=5&n=6", 400},
	        {"GET", "/scores/a%2Fb", 0},
	        {"GET", "/scores/%FF", 422},
	        {"GET", "/scores/%", 422},
	        {"GET", "/scores/explain/", 404},
	        {"GET", "/graph/wallet/x%09y", 422},
	        {"GET", "/docs/swagger-ui.css", 0},
	        {"GET", "/docs/%zz", 404},
	        {"GET", "/docs/a%00b", 404},
	        {"POST", "/run-score?x=%", 400},
	};
	char why[WHY_MAX], *url;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = target_status(cases[i].method, cases[i].target, why, sizeof(why));

		if (st != cases[i].status) {
			fail_msg("%s %s: %d, want %d (%s)", cases[i].method, cases[i].target, st,
			         cases[i].status, why);
		}
		if (st == 400 || st == 422) {
			assert_true(why[0] != '\0');
		}
	}
	url = malloc(GW_URL_MAX + 2);
	assert_non_null(url);
	memcpy(url, "/runs?p=", 8);
	memset(url + 8, 'x', GW_URL_MAX - 8);
	url[GW_URL_MAX] = '\0';
	assert_int_equal(target_status("GET", url, why, sizeof(why)), 0);
	url[GW_URL_MAX] = 'x';
	url[GW_URL_MAX + 1] = '\0';
	assert_int_equal(target_status("GET", url, why, sizeof(why)), 414);
	free(url);
}

/* Pseudo-random targets made of the bytes that matter (separators, escapes,
 * digits, NUL-free noise) on the real routes: each is accepted or refused
 * with a documented status and, for 400 and 422, a reason. */
static void
test_random_targets(void **state)
{
	static const char *const prefixes[] = {"/scores/", "/scores/top?",     "/runs/",
	                                       "/runs?",   "/graph/wallet/",   "/ingestion/status?",
	                                       "/docs/",   "/scores/explain/", "/"};
	static const char alphabet[] = "%/?&=+09azAZ\x01\x7f\xc3\xa9\xff ";
	uint64_t x = 0x2545f4914f6cdd1du;
	char target[300], why[WHY_MAX];

	(void)state;
	for (int i = 0; i < RANDOM_TARGETS; i++) {
		size_t n, len;
		int st;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)snprintf(target, sizeof(target), "%s",
		                     prefixes[x % (sizeof(prefixes) / sizeof(prefixes[0]))]);
		len = n + (x >> 8) % 40;
		for (uint64_t y = x; n < len; n++) {
			y = y * 6364136223846793005u + 1442695040888963407u;
			target[n] = alphabet[(y >> 33) % (sizeof(alphabet) - 1)];
		}
		target[n] = '\0';
		st = target_status(x & 1 ? "GET" : "POST", target, why, sizeof(why));
		if (st != 0 && st != 400 && st != 404 && st != 405 && st != 422) {
			fail_msg("'%s': status %d", target, st);
		}
		if ((st == 400 || st == 422) && why[0] == '\0') {
			fail_msg("'%s': %d without a reason", target, st);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_query_check),    cmocka_unit_test(test_get_and_int),
	        cmocka_unit_test(test_path_params),    cmocka_unit_test(test_targets),
	        cmocka_unit_test(test_random_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
