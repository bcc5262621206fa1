/* gw_jw_test.c - the gateway's JSON writer: strings (escapes, control bytes,
 * multi-byte UTF-8) and nesting byte for byte as Jansson's json_dumps writes
 * them; numbers as amlrisk_fmt_double() (random bit patterns, the edges of
 * double and int64) that read back exactly; Jansson trees written through it,
 * with stored documents embedded as they are (a uint64 seed); invalid UTF-8,
 * unbalanced containers and misplaced keys give a 500, never a body. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "amlrisk_fmt.h"
#include "gw_jw.h"

/* json_dumps writes reals with 17 digits: compared documents hold only reals
 * exact in binary (0.25), which both write alike. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17))

/* Takes obj; asserts the writer's document equals json_dumps(obj). */
static void
assert_same(gw_jw *w, json_t *obj)
{
	gw_reply rep = {0};
	char *want = json_dumps(obj, DUMP_FLAGS);

	assert_non_null(want);
	json_decref(obj);
	gw_jw_reply(w, &rep, 200);
	assert_int_equal(rep.status, 200);
	assert_string_equal(rep.body, want);
	assert_int_equal(rep.len, strlen(want));
	free(want);
	gw_reply_clear(&rep);
}

/* Asserts the writer refuses its document: a 500 with a {"detail"} body. */
static void
assert_refused(gw_jw *w)
{
	gw_reply rep = {0};

	gw_jw_reply(w, &rep, 200);
	assert_int_equal(rep.status, 500);
	assert_non_null(strstr(rep.body, "\"detail\""));
	gw_reply_clear(&rep);
}

/* Takes w's document; asserts it is want. */
static void
assert_text(gw_jw *w, const char *want)
{
	gw_reply rep = {0};

	gw_jw_reply(w, &rep, 200);
	assert_int_equal(rep.status, 200);
	assert_string_equal(rep.body, want);
	assert_int_equal(rep.len, strlen(want));
	gw_reply_clear(&rep);
}

/* One double as a one-element array: amlrisk_fmt_double()'s text (null when
 * not finite), read back by Jansson as the same double. */
static void
check_num(double v)
{
	char num[AMLRISK_FMT_DOUBLE_MAX], want[AMLRISK_FMT_DOUBLE_MAX + 2];
	gw_reply rep = {0};
	json_t *back;
	gw_jw w;

	amlrisk_fmt_double(num, sizeof(num), v);
	snprintf(want, sizeof(want), "[%s]", isfinite(v) ? num : "null");
	gw_jw_init(&w);
	gw_jw_arr(&w);
	gw_jw_num(&w, v);
	gw_jw_arr_end(&w);
	gw_jw_reply(&w, &rep, 200);
	assert_string_equal(rep.body, want);
	back = json_loads(rep.body, 0, NULL);
	assert_non_null(back);
	if (isfinite(v)) {
		assert_true(json_is_real(json_array_get(back, 0)));
		assert_true(json_real_value(json_array_get(back, 0)) == v);
	} else {
		assert_true(json_is_null(json_array_get(back, 0)));
	}
	json_decref(back);
	gw_reply_clear(&rep);
}

static void
test_numbers(void **state)
{
	static const double edges[] = {0.0,     -0.0,    1.0,      -1.0,      0.1,
	                               0.6,     2.45,    1e-7,     1e-5,      1e-4,
	                               1e15,    1e16,    1e17,     1e21,      1e300,
	                               1e-300,  DBL_MAX, DBL_MIN,  4.9e-324,  123456789012345678.0,
	                               1.0 / 3, 100.0,   INFINITY, -INFINITY, NAN};
	uint64_t x = 0x9e3779b97f4a7c15u;
	gw_jw w;

	(void)state;
	gw_jw_init(&w);
	gw_jw_arr(&w);
	gw_jw_num(&w, 0.05);
	gw_jw_num(&w, 76.0 - 1.4210854715202004e-14);
	gw_jw_num(&w, 1.0);
	gw_jw_num(&w, 1e16);
	gw_jw_num(&w, -0.0);
	gw_jw_arr_end(&w);
	assert_text(&w, "[0.05,75.99999999999999,1.0,1e+16,-0.0]");
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		check_num(edges[i]);
	}
	for (int i = 0; i < 20000; i++) {
		double d;

		x ^= x << 13; /* xorshift64: every exponent, sign and mantissa */
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(&d, &x, sizeof(d));
		check_num(d);
		check_num((double)(int64_t)(x >> 20) / 1024.0); /* short decimal fractions */
	}
}

static void
test_integers_and_bools(void **state)
{
	static const int64_t v[] = {0, 1, -1, 9, 10, 99, 100, INT64_MAX, INT64_MIN, -1234567890123};
	json_t *arr = json_array();
	gw_jw w;

	(void)state;
	gw_jw_init(&w);
	gw_jw_arr(&w);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		gw_jw_int(&w, v[i]);
		json_array_append_new(arr, json_integer(v[i]));
	}
	gw_jw_bool(&w, 1);
	gw_jw_bool(&w, 0);
	json_array_append_new(arr, json_true());
	json_array_append_new(arr, json_false());
	gw_jw_arr_end(&w);
	assert_same(&w, arr);
}

static void
test_strings(void **state)
{
	static const char *const s[] = {
	        "",
	        "w0000001",
	        "quote \" backslash \\ slash /",
	        "\b\f\n\r\t\x01\x1f\x7f",
	        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb0",  /* 2-, 3- and 4-byte sequences */
	        "\xef\xbf\xbf \xf4\x8f\xbf\xbf \xed\x9f\xbf", /* U+FFFF, U+10FFFF, U+D7FF */
	};
	json_t *obj = json_object();
	gw_jw w;

	(void)state;
	gw_jw_init(&w);
	gw_jw_obj(&w);
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%zu\n", i);
		gw_jw_key(&w, key);
		gw_jw_str(&w, s[i]);
		json_object_set_new(obj, key, json_string(s[i]));
	}
	gw_jw_obj_end(&w);
	assert_same(&w, obj);
}

/* Byte strings Jansson refuses as UTF-8 are refused here too. */
static void
test_bad_utf8(void **state)
{
	static const char *const bad[] = {
	        "\x80",         "\xc0\xaf",         "\xc1\xbf",
	        "\xe0\x80\xaf",                                         /* overlong */
	        "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", /* surrogate, > U+10FFFF */
	        "ab\xc3",       "\xe2\x82",         "\xf0\x9f\x92",
	        "x\xffy",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		gw_jw w;

		assert_null(json_string(bad[i]));
		gw_jw_init(&w);
		gw_jw_obj(&w);
		gw_jw_key(&w, "wallet");
		gw_jw_str(&w, bad[i]);
		gw_jw_obj_end(&w);
		assert_refused(&w);
	}
}

/* Nesting like the answers: objects in arrays in objects, empty containers. */
static void
test_nesting(void **state)
{
	gw_jw w;

	(void)state;
	gw_jw_init(&w);
	gw_jw_obj(&w);
	gw_jw_key(&w, "run_id");
	gw_jw_int(&w, 7);
	gw_jw_key(&w, "scores");
	gw_jw_arr(&w);
	for (int i = 0; i < 3; i++) {
		gw_jw_obj(&w);
		gw_jw_key(&w, "hop");
		gw_jw_int(&w, i);
		gw_jw_key(&w, "weight");
		gw_jw_num(&w, 1.0 / (1 << i)); /* 1.0, 0.5, 0.25: the same text both ways */
		gw_jw_key(&w, "empty");
		gw_jw_arr(&w);
		gw_jw_arr_end(&w);
		gw_jw_obj_end(&w);
	}
	gw_jw_arr_end(&w);
	gw_jw_key(&w, "none");
	gw_jw_obj(&w);
	gw_jw_obj_end(&w);
	gw_jw_obj_end(&w);
	assert_same(&w,
	            json_pack("{s:i, s:[{s:i, s:f, s:[]}, {s:i, s:f, s:[]}, {s:i, s:f, s:[]}], "
	                      "s:{}}",
	                      "run_id", 7, "scores", "hop", 0, "weight", 1.0, "empty", "hop", 1,
	                      "weight", 0.5, "empty", "hop", 2, "weight", 0.25, "empty", "none"));
}

/* Misuse is a refused document, not broken JSON: unclosed, closed twice or
 * with the other bracket, a key outside an object or with no value, a value
 * with no key in an object, two top-level values, nesting past the limit,
 * nothing at all. */
static void
test_misuse(void **state)
{
	gw_jw w;

	(void)state;
	gw_jw_init(&w);
	gw_jw_obj(&w);
	assert_refused(&w);

	gw_jw_init(&w);
	gw_jw_arr(&w);
	gw_jw_arr_end(&w);
	gw_jw_arr_end(&w);
	assert_refused(&w);

	gw_jw_init(&w);
	gw_jw_key(&w, "k");
	assert_refused(&w);

	gw_jw_init(&w);
	gw_jw_obj(&w);
	gw_jw_key(&w, "k");
	gw_jw_obj_end(&w);
	assert_refused(&w);

	gw_jw_init(&w);
	for (int i = 0; i <= GW_JW_DEPTH; i++) {
		gw_jw_arr(&w);
	}
	for (int i = 0; i <= GW_JW_DEPTH; i++) {
		gw_jw_arr_end(&w);
	}
	assert_refused(&w);

	gw_jw_init(&w);
	assert_refused(&w);

	gw_jw_init(&w); /* a value with no key in an object */
	gw_jw_obj(&w);
	gw_jw_int(&w, 1);
	gw_jw_obj_end(&w);
	assert_refused(&w);

	gw_jw_init(&w); /* a key in an array */
	gw_jw_arr(&w);
	gw_jw_key(&w, "k");
	gw_jw_int(&w, 1);
	gw_jw_arr_end(&w);
	assert_refused(&w);

	gw_jw_init(&w); /* two values at the top */
	gw_jw_int(&w, 1);
	gw_jw_int(&w, 2);
	assert_refused(&w);

	gw_jw_init(&w); /* closed with the other bracket */
	gw_jw_obj(&w);
	gw_jw_arr_end(&w);
	assert_refused(&w);
}

/* A document far past the first buffer (1000 score rows, as /scores/top?n=1000). */
static void
test_growth(void **state)
{
	json_t *arr = json_array();
	gw_jw w;

	(void)state;
	gw_jw_init(&w);
	gw_jw_arr(&w);
	for (int i = 0; i < 1000; i++) {
		char wallet[32];

		snprintf(wallet, sizeof(wallet), "w%07d", i);
		gw_jw_obj(&w);
		gw_jw_key(&w, "wallet");
		gw_jw_str(&w, wallet);
		gw_jw_key(&w, "risk_score");
		gw_jw_num(&w, i * 0.25); /* exact in binary: the same text both ways */
		gw_jw_obj_end(&w);
		json_array_append_new(
		        arr, json_pack("{s:s, s:f}", "wallet", wallet, "risk_score", i * 0.25));
	}
	gw_jw_arr_end(&w);
	assert_same(&w, arr);
}

/* A Jansson tree written through the writer: members in order, every kind of
 * value, numbers in the shortest form (not Jansson's 17 digits). */
static void
test_tree(void **state)
{
	json_t *tree = json_pack("{s:s, s:I, s:f, s:[b, b, n, f], s:{s:f}, s:{}, s:[]}", "wallet",
	                         "caf\xc3\xa9 \"q\"", "run_id", (json_int_t)INT64_MIN, "ratio",
	                         0.05, "list", 1, 0, 0.1, "nested", "w", 0.6, "empty", "none");
	json_t *deep = json_array();
	gw_jw w;

	(void)state;
	assert_non_null(tree);
	gw_jw_init(&w);
	gw_jw_json(&w, tree);
	assert_text(&w, "{\"wallet\":\"caf\xc3\xa9 \\\"q\\\"\",\"run_id\":-9223372036854775808,"
	                "\"ratio\":0.05,\"list\":[true,false,null,0.1],\"nested\":{\"w\":0.6},"
	                "\"empty\":{},\"none\":[]}");
	json_decref(tree);
	/* nesting past the writer's depth is refused, not written */
	for (int i = 0; i <= GW_JW_DEPTH; i++) {
		json_t *inner = json_array();

		json_array_append_new(inner, deep);
		deep = inner;
	}
	gw_jw_init(&w);
	gw_jw_json(&w, deep);
	assert_refused(&w);
	json_decref(deep);
}

/* Stored documents embedded as they are: a uint64 past Jansson's integers
 * keeps its digits, numbers their text, whitespace between tokens dropped
 * (not inside strings); text that is not one JSON value is refused. */
static void
test_raw(void **state)
{
	json_t *tree;
	gw_jw w;

	(void)state;
	tree = json_pack("{s:I, s:o, s:o}", "run_id", (json_int_t)7, "config",
	                 gw_jw_raw_new("{\"illicit_ratio\": 0.05, \"illicit_seed\":\n"
	                               "18446744073709551615, \"hop_weights\": [1.0, 0.6],"
	                               " \"s\": \"a \\\" b\"}"),
	                 "tx_source", gw_jw_raw_new(" 12345678901234567890123 "));
	assert_non_null(tree);
	gw_jw_init(&w);
	gw_jw_json(&w, tree);
	assert_text(&w, "{\"run_id\":7,\"config\":{\"illicit_ratio\":0.05,\"illicit_seed\":"
	                "18446744073709551615,\"hop_weights\":[1.0,0.6],\"s\":\"a \\\" b\"},"
	                "\"tx_source\":12345678901234567890123}");
	json_decref(tree);
	assert_null(gw_jw_raw_new(""));
	assert_null(gw_jw_raw_new("{\"a\":"));
	assert_null(gw_jw_raw_new("{} {}"));
	assert_null(gw_jw_raw_new("{\"a\":\"\xff\"}"));
	assert_null(gw_jw_raw_new("not json"));
}

/* A document past the writer's bound (16 MiB) is refused, not cut. */
static void
test_bound(void **state)
{
	char *big = malloc(1 << 20);
	gw_jw w;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	gw_jw_init(&w);
	gw_jw_arr(&w);
	for (int i = 0; i < 17; i++) {
		gw_jw_str(&w, big);
	}
	gw_jw_arr_end(&w);
	assert_refused(&w);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_numbers), cmocka_unit_test(test_integers_and_bools),
	        cmocka_unit_test(test_strings), cmocka_unit_test(test_bad_utf8),
	        cmocka_unit_test(test_nesting), cmocka_unit_test(test_misuse),
	        cmocka_unit_test(test_growth),  cmocka_unit_test(test_bound),
	        cmocka_unit_test(test_tree),    cmocka_unit_test(test_raw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
