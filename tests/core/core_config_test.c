/* core_config_test.c - the run config of both models: defaults, every key,
 * validation errors that name the key (the other model's keys among them),
 * malformed JSON, the "model" key anywhere, merging across models, uint64 seeds
 * past 2^63, and the canonical JSON reading back to the same config. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "core_engine.h"
#include "core_test_util.h"

static int
parse(core_config *c, const char *json, char *err, size_t errlen)
{
	return core_config_parse(c, json, strlen(json), err, errlen);
}

/* The fields of a's model are equal in b. */
static void
assert_config_equal(const core_config *a, const core_config *b)
{
	assert_int_equal(a->model, b->model);
	assert_true(a->illicit_ratio == b->illicit_ratio);
	assert_true(a->illicit_seed == b->illicit_seed);
	assert_int_equal(a->use_labels, b->use_labels);
	assert_int_equal(a->hops, b->hops);
	if (a->model == CORE_MODEL_FLOW) {
		assert_int_equal(a->side, b->side);
		assert_true(a->smoothing == b->smoothing);
		return;
	}
	for (unsigned k = 0; k <= a->hops; k++)
		assert_true(a->hop_weights[k] == b->hop_weights[k]);
	assert_int_equal(a->direction, b->direction);
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->degree_normalize, b->degree_normalize);
}

static void
test_defaults(void **state)
{
	(void)state;
	core_config c, d;
	char json[CORE_CONFIG_JSON_MAX], err[128];
	size_t len;
	core_config_defaults(&d);
	assert_int_equal(d.model, CORE_MODEL_HOP);
	assert_true(d.illicit_ratio == 0.05);
	assert_true(d.illicit_seed == 42);
	assert_true(d.use_labels);
	assert_int_equal(d.hops, 2);
	assert_true(d.hop_weights[0] == 1.0 && d.hop_weights[1] == 0.6 && d.hop_weights[2] == 0.3);
	assert_int_equal(d.direction, CORE_DIR_ANY);
	assert_int_equal(d.count, CORE_COUNT_WITHIN);
	assert_true(d.degree_normalize);
	assert_int_equal(core_config_validate(&d, err, sizeof err), AMLRISK_OK);
	assert_int_equal(core_config_to_json(&d, json, sizeof json, &len), AMLRISK_OK);
	assert_string_equal(
	        json, "{\"model\":\"hop_exposure/v1\",\"illicit_ratio\":0.05,\"illicit_seed\":42,"
	              "\"use_labels\":true,\"hop_weights\":[1.0,0.6,0.3],\"direction\":\"any\","
	              "\"count\":\"within\",\"degree_normalize\":true}");
	assert_int_equal(len, strlen(json));
	/* {} and whitespace give the defaults */
	assert_int_equal(parse(&c, " { } ", err, sizeof err), AMLRISK_OK);
	assert_config_equal(&c, &d);
	/* too small a buffer */
	assert_int_equal(core_config_to_json(&d, json, 20, NULL), AMLRISK_ETOOBIG);
}

static void
test_default_seed(void **state)
{
	(void)state;
	core_config c;
	char err[128];
	core_config_default_seed_set(777);
	core_config_defaults(&c);
	assert_true(c.illicit_seed == 777);
	assert_int_equal(parse(&c, "{}", err, sizeof err), AMLRISK_OK);
	assert_true(c.illicit_seed == 777);
	assert_int_equal(parse(&c, "{\"illicit_seed\":5}", err, sizeof err), AMLRISK_OK);
	assert_true(c.illicit_seed == 5);
	core_config_default_seed_set(42);
	assert_true(core_config_default_seed() == 42);
}

static void
test_every_key(void **state)
{
	(void)state;
	core_config c;
	char err[128];
	const char *j =
	        "{\"model\":\"hop_exposure/v1\",\"illicit_ratio\":1,\"illicit_seed\":"
	        "18446744073709551615,\"use_labels\":false,\"hop_weights\":[0,1e0,0.5,2.5E-1],"
	        "\"direction\":\"both\",\"count\":\"exact\",\"degree_normalize\":false}";
	assert_int_equal(parse(&c, j, err, sizeof err), AMLRISK_OK);
	assert_true(c.illicit_ratio == 1.0);
	assert_true(c.illicit_seed == UINT64_MAX);
	assert_false(c.use_labels);
	assert_int_equal(c.hops, 3);
	assert_true(c.hop_weights[1] == 1.0 && c.hop_weights[3] == 0.25);
	assert_int_equal(c.direction, CORE_DIR_BOTH);
	assert_int_equal(c.count, CORE_COUNT_EXACT);
	assert_false(c.degree_normalize);
	/* escaped key names are still the key */
	assert_int_equal(parse(&c, "{\"\\u0064irection\":\"in\"}", err, sizeof err), AMLRISK_OK);
	assert_int_equal(c.direction, CORE_DIR_IN);
	/* K = 0 and K = 10 */
	assert_int_equal(parse(&c, "{\"hop_weights\":[2]}", err, sizeof err), AMLRISK_OK);
	assert_int_equal(c.hops, 0);
	assert_int_equal(parse(&c, "{\"hop_weights\":[1,1,1,1,1,1,1,1,1,1,1]}", err, sizeof err),
	                 AMLRISK_OK);
	assert_int_equal(c.hops, 10);
}

/* Case i, document json, gives EINVAL with want in the message and leaves
 * *out alone. */
static void
check_rejected(size_t i, const char *json, const char *want)
{
	core_config c, before;
	char err[256] = "";
	memset(&c, 0xab, sizeof c);
	before = c;
	int rv = parse(&c, json, err, sizeof err);
	if (rv != AMLRISK_EINVAL || strstr(err, want) == NULL)
		fail_msg("case %zu %s: rv %d, err \"%s\", want \"%s\"", i, json, rv, err, want);
	assert_memory_equal(&c, &before, sizeof c);
}

/* Each bad document gives EINVAL, leaves *out alone and names what is wrong. */
static void
test_errors_name_the_key(void **state)
{
	(void)state;
	static const struct {
		const char *json, *want;
	} cases[] = {
	        {"{\"colour\":1}", "colour: unknown key"},
	        {"{\"hop_weight\":[1]}", "hop_weight: unknown key"},
	        {"{\"model\":\"hop_exposure/v2\"}", "model: unknown model"},
	        {"{\"model\":1}", "model: expected"},
	        {"{\"illicit_ratio\":1.5}", "illicit_ratio: must be in [0, 1]"},
	        {"{\"illicit_ratio\":-0.1}", "illicit_ratio"},
	        {"{\"illicit_ratio\":\"0.1\"}", "illicit_ratio: expected a number"},
	        {"{\"illicit_ratio\":1e999}", "illicit_ratio: 1e999 is out of range"},
	        {"{\"illicit_seed\":-1}", "illicit_seed: expected an integer"},
	        {"{\"illicit_seed\":1.5}", "illicit_seed: expected an integer"},
	        {"{\"illicit_seed\":18446744073709551616}", "illicit_seed: expected an integer"},
	        {"{\"illicit_seed\":\"42\"}", "illicit_seed: expected an integer"},
	        {"{\"use_labels\":1}", "use_labels: expected true or false"},
	        {"{\"use_labels\":null}", "use_labels: expected true or false"},
	        {"{\"hop_weights\":[]}", "hop_weights: expected"},
	        {"{\"hop_weights\":1}", "hop_weights: expected an array"},
	        {"{\"hop_weights\":[1,1,1,1,1,1,1,1,1,1,1,1]}", "hop_weights: more than 11"},
	        {"{\"hop_weights\":[1,-0.5]}", "hop_weights[1]: must be >= 0"},
	        {"{\"hop_weights\":[1,\"x\"]}", "hop_weights[1]: expected a number"},
	        {"{\"hop_weights\":[1,1e400]}", "hop_weights[1]: 1e400 is out of range"},
	        {"{\"direction\":\"up\"}",
	         "direction: expected one of any, in, out, both, got \"up\""},
	        {"{\"direction\":[\"in\"]}", "direction: expected one of"},
	        {"{\"count\":\"all\"}", "count: expected one of within, exact"},
	        {"{\"degree_normalize\":\"yes\"}", "degree_normalize: expected true or false"},
	        {"{\"count\":\"exact\",\"count\":\"within\"}", "count: duplicate key"},
	        {"", "invalid JSON at byte 0"},
	        {"[]", "the config must be a JSON object"},
	        {"{\"count\":\"exact\",}", "invalid JSON"},
	        {"{\"count\":\"exact\"", "invalid JSON"},
	        {"{\"count\" \"exact\"}", "expected ':'"},
	        {"{\"count\":\"exact\"} x", "trailing characters"},
	        {"{\"illicit_ratio\":01}", "invalid JSON"},
	        {"{\"illicit_ratio\":.5}", "illicit_ratio: invalid JSON"},
	        {"{\"colour\":[1,}", "invalid JSON"},
	        {"{\"direction\":\"in\x01\"}", "direction: invalid JSON at byte 16: control"},
	        {"{\"direction\":\"\\x\"}", "bad escape"},
	        {"{\"direction\":\"\\ud800\"}", "unpaired surrogate"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_rejected(i, cases[i].json, cases[i].want);
	/* a NULL buffer or a tiny one is fine */
	core_config c;
	char tiny[4];
	assert_int_equal(parse(&c, "{\"x\":1}", NULL, 0), AMLRISK_EINVAL);
	assert_int_equal(parse(&c, "{\"x\":1}", tiny, sizeof tiny), AMLRISK_EINVAL);
	assert_int_equal(strlen(tiny), 3);
	/* the length is honoured: the text past len is not read */
	assert_int_equal(core_config_parse(&c, "{}garbage", 2, NULL, 0), AMLRISK_OK);
}

static void
test_validate(void **state)
{
	(void)state;
	core_config c;
	char err[128];
	core_config_defaults(&c);
	c.hop_weights[1] = -1;
	assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "hop_weights[1]"));
	core_config_defaults(&c);
	c.hop_weights[2] = 1.0 / 0.0;
	assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_EINVAL);
	core_config_defaults(&c);
	c.hops = 11;
	assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "hop_weights"));
	core_config_defaults(&c);
	c.illicit_ratio = 0.0 / 0.0;
	assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "illicit_ratio"));
	core_config_defaults(&c);
	c.direction = (core_direction)7;
	assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "direction"));
	assert_int_equal(core_config_to_json(&c, err, sizeof err, NULL), AMLRISK_EINVAL);
}

static void
test_merge(void **state)
{
	(void)state;
	core_config base, c;
	char err[128];
	assert_int_equal(
	        parse(&base, "{\"direction\":\"out\",\"hop_weights\":[1,2]}", err, sizeof err),
	        AMLRISK_OK);
	const char *over = "{\"count\":\"exact\"}";
	assert_int_equal(core_config_merge(&c, &base, over, strlen(over), err, sizeof err),
	                 AMLRISK_OK);
	assert_int_equal(c.direction, CORE_DIR_OUT);
	assert_int_equal(c.count, CORE_COUNT_EXACT);
	assert_int_equal(c.hops, 1);
	/* in place, and a failure leaves it as it was */
	over = "{\"hop_weights\":[3]}";
	assert_int_equal(core_config_merge(&base, &base, over, strlen(over), err, sizeof err),
	                 AMLRISK_OK);
	assert_int_equal(base.hops, 0);
	assert_true(base.hop_weights[0] == 3 && base.hop_weights[1] == 0);
	c = base;
	over = "{\"direction\":\"in\",\"bogus\":true}";
	assert_int_equal(core_config_merge(&base, &base, over, strlen(over), err, sizeof err),
	                 AMLRISK_EINVAL);
	assert_config_equal(&base, &c);
}

/* c's canonical JSON parses back to c. */
static void
round_trip(const core_config *c)
{
	core_config back;
	char json[CORE_CONFIG_JSON_MAX], err[128];
	size_t len;
	assert_int_equal(core_config_to_json(c, json, sizeof json, &len), AMLRISK_OK);
	assert_true(len < CORE_CONFIG_JSON_MAX);
	if (core_config_parse(&back, json, len, err, sizeof err) != AMLRISK_OK)
		fail_msg("%s: %s", json, err);
	assert_config_equal(&back, c);
}

/* Random configs: the canonical JSON parses back to the same values. */
static void
test_round_trip(void **state)
{
	(void)state;
	uint64_t rng = 3;
	for (int i = 0; i < 2000; i++) {
		core_config c;
		core_config_defaults(&c);
		c.illicit_ratio = (double)(tu_rand(&rng) >> 11) / 9007199254740992.0;
		if (i % 7 == 0)
			c.illicit_ratio = (double)(i % 3) / 2;
		c.illicit_seed = tu_rand(&rng);
		c.use_labels = tu_rand(&rng) & 1;
		c.hops = (unsigned)(tu_rand(&rng) % (CORE_HOPS_MAX + 1));
		for (unsigned k = 0; k <= c.hops; k++) {
			uint64_t r = tu_rand(&rng);
			c.hop_weights[k] =
			        r % 4 == 0 ? (double)(r % 10) : (double)(r >> 11) * 1e-10;
		}
		c.direction = (core_direction)(tu_rand(&rng) % 4);
		c.count = (core_count)(tu_rand(&rng) % 2);
		c.degree_normalize = tu_rand(&rng) & 1;
		round_trip(&c);
	}
}

static void
test_name_parsers(void **state)
{
	(void)state;
	core_direction d;
	core_count n;
	uint64_t s;
	assert_int_equal(core_direction_parse("both", &d), AMLRISK_OK);
	assert_int_equal(d, CORE_DIR_BOTH);
	assert_int_equal(core_direction_parse("BOTH", &d), AMLRISK_EINVAL);
	assert_int_equal(core_count_parse("exact", &n), AMLRISK_OK);
	assert_int_equal(core_count_parse("", &n), AMLRISK_EINVAL);
	assert_string_equal(core_direction_name(CORE_DIR_OUT), "out");
	assert_string_equal(core_count_name(CORE_COUNT_WITHIN), "within");
	assert_int_equal(core_config_seed_parse("0", &s), AMLRISK_OK);
	assert_int_equal(core_config_seed_parse("12345678901234567890", &s), AMLRISK_OK);
	assert_true(s == 12345678901234567890ull);
	assert_int_equal(core_config_seed_parse("18446744073709551616", &s), AMLRISK_EINVAL);
	assert_int_equal(core_config_seed_parse("-1", &s), AMLRISK_EINVAL);
	assert_int_equal(core_config_seed_parse(" 1", &s), AMLRISK_EINVAL);
	assert_int_equal(core_config_seed_parse("", &s), AMLRISK_EINVAL);
}

static void
test_flow_defaults(void **state)
{
	(void)state;
	core_config c, d;
	char json[CORE_CONFIG_JSON_MAX], err[128];
	core_config_defaults_model(&d, CORE_MODEL_FLOW);
	assert_int_equal(d.model, CORE_MODEL_FLOW);
	assert_true(d.illicit_ratio == 0.0);
	assert_true(d.illicit_seed == 42);
	assert_true(d.use_labels);
	assert_int_equal(d.hops, 6);
	assert_int_equal(d.side, CORE_SIDE_BOTH);
	assert_true(d.smoothing == 1.0);
	assert_int_equal(core_config_validate(&d, err, sizeof err), AMLRISK_OK);
	assert_int_equal(core_config_to_json(&d, json, sizeof json, NULL), AMLRISK_OK);
	assert_string_equal(json, "{\"model\":\"flow_exposure/v1\",\"illicit_ratio\":0.0,"
	                          "\"illicit_seed\":42,\"use_labels\":true,\"hops\":6,"
	                          "\"side\":\"both\",\"smoothing\":1.0}");
	/* the model key alone gives that model's defaults */
	assert_int_equal(parse(&c, "{\"model\":\"flow_exposure/v1\"}", err, sizeof err),
	                 AMLRISK_OK);
	assert_config_equal(&c, &d);
	/* the process-wide default model: defaults() and a config without "model" */
	assert_int_equal(core_config_default_model(), CORE_MODEL_HOP);
	core_config_default_model_set(CORE_MODEL_FLOW);
	core_config_defaults(&c);
	assert_config_equal(&c, &d);
	assert_int_equal(parse(&c, "{\"hops\":2}", err, sizeof err), AMLRISK_OK);
	assert_int_equal(c.model, CORE_MODEL_FLOW);
	assert_int_equal(c.hops, 2);
	assert_int_equal(parse(&c, "{\"direction\":\"in\"}", err, sizeof err), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "direction: not a key of flow_exposure/v1"));
	assert_int_equal(parse(&c, "{\"model\":\"hop_exposure/v1\"}", err, sizeof err), AMLRISK_OK);
	assert_int_equal(c.model, CORE_MODEL_HOP);
	assert_true(c.illicit_ratio == 0.05);
	core_config_default_model_set(CORE_MODEL_HOP);
	assert_int_equal(core_config_default_model(), CORE_MODEL_HOP);
	core_config_defaults(&c);
	assert_int_equal(c.model, CORE_MODEL_HOP);
}

static void
test_flow_every_key(void **state)
{
	(void)state;
	core_config c;
	char err[128];
	/* the model key last: the keys before it are still the flow model's */
	const char *j = "{\"illicit_ratio\":0.5,\"illicit_seed\":18446744073709551615,"
	                "\"use_labels\":false,\"hops\":32,\"side\":\"received\","
	                "\"smoothing\":2.5e-1,\"model\":\"flow_exposure/v1\"}";
	assert_int_equal(parse(&c, j, err, sizeof err), AMLRISK_OK);
	assert_int_equal(c.model, CORE_MODEL_FLOW);
	assert_true(c.illicit_ratio == 0.5);
	assert_true(c.illicit_seed == UINT64_MAX);
	assert_false(c.use_labels);
	assert_int_equal(c.hops, 32);
	assert_int_equal(c.side, CORE_SIDE_RECEIVED);
	assert_true(c.smoothing == 0.25);
	/* in the middle, with white space; hops 1; smoothing 0 */
	j = " { \"hops\" : 1 , \"model\" : \"flow_exposure/v1\" , \"side\" : \"sent\" , "
	    "\"smoothing\" : 0 } ";
	assert_int_equal(parse(&c, j, err, sizeof err), AMLRISK_OK);
	assert_int_equal(c.hops, 1);
	assert_int_equal(c.side, CORE_SIDE_SENT);
	assert_true(c.smoothing == 0.0 && !signbit(c.smoothing));
	j = "{\"model\":\"flow_exposure/v1\",\"smoothing\":-0.0}";
	assert_int_equal(parse(&c, j, err, sizeof err), AMLRISK_OK);
	assert_true(c.smoothing == 0.0 && !signbit(c.smoothing));
}

/* Flow documents with one bad key: EINVAL naming it, *out untouched. */
static void
test_flow_errors_name_the_key(void **state)
{
	(void)state;
#define FLOW "{\"model\":\"flow_exposure/v1\","
	static const struct {
		const char *json, *want;
	} cases[] = {
	        {FLOW "\"hops\":0}", "hops: expected an integer in [1, 32], got 0"},
	        {FLOW "\"hops\":33}", "hops: expected an integer in [1, 32], got 33"},
	        {FLOW "\"hops\":-1}", "hops: expected an integer"},
	        {FLOW "\"hops\":1.5}", "hops: expected an integer"},
	        {FLOW "\"hops\":6.0}", "hops: expected an integer"},
	        {FLOW "\"hops\":1e1}", "hops: expected an integer"},
	        {FLOW "\"hops\":\"6\"}", "hops: expected an integer"},
	        {FLOW "\"hops\":99999999999999999999999}", "hops: expected an integer"},
	        {FLOW "\"side\":\"in\"}", "side: expected one of both, received, sent, got \"in\""},
	        {FLOW "\"side\":1}", "side: expected one of both, received, sent"},
	        {FLOW "\"side\":\"Both\"}", "side: expected"},
	        {FLOW "\"smoothing\":-1}", "smoothing: must be >= 0"},
	        {FLOW "\"smoothing\":-1e-300}", "smoothing: must be >= 0"},
	        {FLOW "\"smoothing\":1e999}", "smoothing: 1e999 is out of range"},
	        {FLOW "\"smoothing\":\"1\"}", "smoothing: expected a finite number"},
	        {FLOW "\"smoothing\":null}", "smoothing: expected a finite number"},
	        {FLOW "\"illicit_ratio\":2}", "illicit_ratio: must be in [0, 1]"},
	        {FLOW "\"use_labels\":\"yes\"}", "use_labels: expected true or false"},
	        {FLOW "\"illicit_seed\":-3}", "illicit_seed: expected an integer"},
	        /* the other model's keys, before or after the model key */
	        {FLOW "\"hop_weights\":[1]}",
	         "hop_weights: not a key of flow_exposure/v1 (it is one of hop_exposure/v1)"},
	        {"{\"direction\":\"in\",\"model\":\"flow_exposure/v1\"}",
	         "direction: not a key of flow_exposure/v1"},
	        {FLOW "\"count\":\"exact\"}", "count: not a key of flow_exposure/v1"},
	        {FLOW "\"degree_normalize\":true}",
	         "degree_normalize: not a key of flow_exposure/v1"},
	        {"{\"hops\":3}",
	         "hops: not a key of hop_exposure/v1 (it is one of flow_exposure/v1)"},
	        {"{\"side\":\"both\",\"model\":\"hop_exposure/v1\"}",
	         "side: not a key of hop_exposure/v1"},
	        {"{\"smoothing\":1}", "smoothing: not a key of hop_exposure/v1"},
	        /* unknown keys, duplicates, the model key itself */
	        {FLOW "\"colour\":1}", "colour: unknown key"},
	        {FLOW "\"hop\":1}", "hop: unknown key"},
	        {FLOW "\"hops\":2,\"hops\":3}", "hops: duplicate key"},
	        {FLOW "\"model\":\"flow_exposure/v1\"}", "model: duplicate key"},
	        {FLOW "\"model\":\"hop_exposure/v1\"}", "model: duplicate key"},
	        {"{\"hops\":2,\"model\":\"flow_exposure/v2\"}", "model: unknown model"},
	        {"{\"hops\":2,\"model\":null}", "model: expected"},
	        {"{\"hops\":2,\"model\":[\"flow_exposure/v1\"]}", "model: expected"},
	        /* a broken document is reported as such, the model key after it */
	        {"{\"hops\":[1,,\"model\":\"flow_exposure/v1\"}", "hops: invalid JSON"},
	        {FLOW "\"hops\":2", "invalid JSON"},
	        {FLOW "\"hops\":2} {}", "trailing characters"},
	};
#undef FLOW
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_rejected(i, cases[i].json, cases[i].want);
}

static void
test_flow_validate(void **state)
{
	(void)state;
	static const struct {
		unsigned hops;
		int side;
		double smoothing;
		const char *want;
	} cases[] = {
	        {0, 0, 1, "hops"},
	        {33, 0, 1, "hops"},
	        {6, 3, 1, "side"},
	        {6, -1, 1, "side"},
	        {6, 0, -1, "smoothing"},
	        {6, 0, 1.0 / 0.0, "smoothing"},
	        {6, 0, 0.0 / 0.0, "smoothing"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		core_config c;
		char err[128] = "", json[CORE_CONFIG_JSON_MAX];
		core_config_defaults_model(&c, CORE_MODEL_FLOW);
		c.hops = cases[i].hops;
		c.side = (core_side)cases[i].side;
		c.smoothing = cases[i].smoothing;
		assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_EINVAL);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: %s", i, err);
		assert_int_equal(core_config_to_json(&c, json, sizeof json, NULL), AMLRISK_EINVAL);
	}
	core_config c;
	char err[128];
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.model = (core_model)2;
	assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "model"));
	/* a flow config ignores the hop fields, and a hop config the flow fields */
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.hop_weights[0] = -1;
	c.direction = (core_direction)9;
	c.hops = 32;
	assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_OK);
	core_config_defaults_model(&c, CORE_MODEL_HOP);
	c.smoothing = -1;
	c.side = (core_side)9;
	assert_int_equal(core_config_validate(&c, err, sizeof err), AMLRISK_OK);
}

static void
test_flow_merge(void **state)
{
	(void)state;
	core_config base, c, d;
	char err[128];
	/* hop base, flow document: flow's defaults under it */
	core_config_defaults_model(&base, CORE_MODEL_HOP);
	base.illicit_ratio = 0.3;
	const char *j = "{\"side\":\"sent\",\"model\":\"flow_exposure/v1\"}";
	assert_int_equal(core_config_merge(&c, &base, j, strlen(j), err, sizeof err), AMLRISK_OK);
	core_config_defaults_model(&d, CORE_MODEL_FLOW);
	d.side = CORE_SIDE_SENT;
	assert_config_equal(&c, &d);
	/* flow base, no model: over the base */
	j = "{\"hops\":3}";
	assert_int_equal(core_config_merge(&c, &c, j, strlen(j), err, sizeof err), AMLRISK_OK);
	assert_int_equal(c.hops, 3);
	assert_int_equal(c.side, CORE_SIDE_SENT);
	/* flow base, the same model named: still over the base */
	j = "{\"model\":\"flow_exposure/v1\",\"smoothing\":0}";
	assert_int_equal(core_config_merge(&c, &c, j, strlen(j), err, sizeof err), AMLRISK_OK);
	assert_int_equal(c.hops, 3);
	assert_true(c.smoothing == 0);
	/* flow base, a hop key without the model: rejected, base unchanged */
	d = c;
	j = "{\"count\":\"exact\"}";
	assert_int_equal(core_config_merge(&c, &c, j, strlen(j), err, sizeof err), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "count: not a key of flow_exposure/v1"));
	assert_config_equal(&c, &d);
	/* flow base, hop named: hop's defaults */
	j = "{\"model\":\"hop_exposure/v1\",\"count\":\"exact\"}";
	assert_int_equal(core_config_merge(&c, &c, j, strlen(j), err, sizeof err), AMLRISK_OK);
	core_config_defaults_model(&d, CORE_MODEL_HOP);
	d.count = CORE_COUNT_EXACT;
	assert_config_equal(&c, &d);
}

/* Random flow configs read back the same; the longest configs of both models
 * fit CORE_CONFIG_JSON_MAX. */
static void
test_flow_round_trip(void **state)
{
	(void)state;
	uint64_t rng = 9;
	for (int i = 0; i < 2000; i++) {
		core_config c;
		core_config_defaults_model(&c, CORE_MODEL_FLOW);
		c.illicit_ratio = (double)(tu_rand(&rng) >> 11) / 9007199254740992.0;
		c.illicit_seed = tu_rand(&rng);
		c.use_labels = tu_rand(&rng) & 1;
		c.hops = 1 + (unsigned)(tu_rand(&rng) % CORE_FLOW_HOPS_MAX);
		c.side = (core_side)(tu_rand(&rng) % 3);
		uint64_t r = tu_rand(&rng);
		c.smoothing = r % 5 == 0   ? (double)(r % 7)
		              : r % 5 == 1 ? 1.7976931348623157e308 / (double)(1 + r % 3)
		              : r % 5 == 2 ? 4.9406564584124654e-324 * (double)(r % 1000)
		                           : (double)(r >> 11) * 1e-10;
		round_trip(&c);
	}
	/* the longest of each model */
	core_config c;
	char json[CORE_CONFIG_JSON_MAX];
	size_t len;
	core_config_defaults_model(&c, CORE_MODEL_HOP);
	c.illicit_ratio = 0.12345678901234568;
	c.illicit_seed = UINT64_MAX;
	c.hops = CORE_HOPS_MAX;
	for (unsigned k = 0; k <= CORE_HOPS_MAX; k++)
		c.hop_weights[k] = 1.2345678901234567e-300;
	c.direction = CORE_DIR_BOTH;
	c.use_labels = false;
	c.degree_normalize = false;
	assert_int_equal(core_config_to_json(&c, json, sizeof json, &len), AMLRISK_OK);
	assert_true(len < CORE_CONFIG_JSON_MAX / 2);
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.illicit_ratio = 0.12345678901234568;
	c.illicit_seed = UINT64_MAX;
	c.hops = 32;
	c.side = CORE_SIDE_RECEIVED;
	c.smoothing = 1.2345678901234567e-300;
	assert_int_equal(core_config_to_json(&c, json, sizeof json, &len), AMLRISK_OK);
	assert_true(len < CORE_CONFIG_JSON_MAX / 4);
}

static void
test_flow_name_parsers(void **state)
{
	(void)state;
	core_model m;
	core_side s;
	assert_int_equal(core_model_parse("flow_exposure/v1", &m), AMLRISK_OK);
	assert_int_equal(m, CORE_MODEL_FLOW);
	assert_int_equal(core_model_parse("hop_exposure/v1", &m), AMLRISK_OK);
	assert_int_equal(m, CORE_MODEL_HOP);
	assert_int_equal(core_model_parse("flow_exposure", &m), AMLRISK_EINVAL);
	assert_int_equal(core_model_parse("", &m), AMLRISK_EINVAL);
	assert_string_equal(core_model_name(CORE_MODEL_FLOW), CORE_MODEL_FLOW_NAME);
	assert_string_equal(core_model_name(CORE_MODEL_HOP), CORE_MODEL_HOP_NAME);
	assert_string_equal(core_model_name((core_model)7), "?");
	assert_int_equal(core_side_parse("received", &s), AMLRISK_OK);
	assert_int_equal(s, CORE_SIDE_RECEIVED);
	assert_int_equal(core_side_parse("sent", &s), AMLRISK_OK);
	assert_int_equal(core_side_parse("both", &s), AMLRISK_OK);
	assert_int_equal(s, CORE_SIDE_BOTH);
	assert_int_equal(core_side_parse("in", &s), AMLRISK_EINVAL);
	assert_string_equal(core_side_name(CORE_SIDE_SENT), "sent");
	assert_string_equal(core_side_name((core_side)3), "?");
}

/* The stored config writes each weight as the shortest text that reads back
 * bit-exact (100.0, not 1e+02; 2^60 in its 16 digits; 5e-324; -0 as 0.0). */
static void
test_json_numbers_exact_and_shortest(void **state)
{
	(void)state;
	static const struct {
		double v;
		const char *text;
	} cases[] = {
	        {100.0, "100.0"},
	        {0.1, "0.1"},
	        {0x1p-1074, "5e-324"},
	        {0x1p60, "1.152921504606847e+18"},
	        {1e21, "1e+21"},
	        {DBL_MAX, "1.7976931348623157e+308"},
	        {0.0, "0.0"},
	        {0x1p-1022, "2.2250738585072014e-308"},
	        {1e15, "1000000000000000.0"},
	        {1e16, "1e+16"},
	};
	char json[CORE_CONFIG_JSON_MAX], want[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		core_config c, back;
		char err[256];
		core_config_defaults_model(&c, CORE_MODEL_HOP);
		c.hops = 1;
		c.hop_weights[0] = cases[i].v;
		c.hop_weights[1] = cases[i].v;
		assert_int_equal(core_config_to_json(&c, json, sizeof json, NULL), AMLRISK_OK);
		snprintf(want, sizeof want, "\"hop_weights\":[%s,%s]", cases[i].text,
		         cases[i].text);
		if (strstr(json, want) == NULL)
			fail_msg("%g: %s has no %s", cases[i].v, json, want);
		assert_int_equal(parse(&back, json, err, sizeof err), AMLRISK_OK);
		assert_memory_equal(&back.hop_weights[0], &cases[i].v, sizeof(double));
		assert_memory_equal(&back.hop_weights[1], &cases[i].v, sizeof(double));
	}
	/* negative zero: the reader makes it 0 ("no -0"), the writer too, so the
	 * stored text reads back as the canonical +0 */
	core_config z, zback;
	char zerr[256];
	const double pz = 0.0;
	core_config_defaults_model(&z, CORE_MODEL_HOP);
	z.hops = 1;
	z.hop_weights[1] = -0.0;
	assert_int_equal(core_config_to_json(&z, json, sizeof json, NULL), AMLRISK_OK);
	assert_non_null(strstr(json, "\"hop_weights\":[1.0,0.0]"));
	assert_int_equal(parse(&zback, json, zerr, sizeof zerr), AMLRISK_OK);
	assert_memory_equal(&zback.hop_weights[1], &pz, sizeof(double));
	assert_int_equal(parse(&zback, "{\"hop_weights\":[1,-0.0]}", zerr, sizeof zerr),
	                 AMLRISK_OK);
	assert_memory_equal(&zback.hop_weights[1], &pz, sizeof(double));
	/* illicit_ratio and smoothing go through the same writer */
	core_config c, back;
	char err[256];
	core_config_defaults_model(&c, CORE_MODEL_FLOW);
	c.illicit_ratio = 0x1p-1074;
	c.smoothing = 100.0;
	assert_int_equal(core_config_to_json(&c, json, sizeof json, NULL), AMLRISK_OK);
	assert_non_null(strstr(json, "\"illicit_ratio\":5e-324,"));
	assert_non_null(strstr(json, "\"smoothing\":100.0}"));
	assert_int_equal(parse(&back, json, err, sizeof err), AMLRISK_OK);
	assert_memory_equal(&back.illicit_ratio, &c.illicit_ratio, sizeof(double));
	assert_memory_equal(&back.smoothing, &c.smoothing, sizeof(double));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_default_seed),
	        cmocka_unit_test(test_every_key),
	        cmocka_unit_test(test_errors_name_the_key),
	        cmocka_unit_test(test_validate),
	        cmocka_unit_test(test_merge),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_name_parsers),
	        cmocka_unit_test(test_flow_defaults),
	        cmocka_unit_test(test_flow_every_key),
	        cmocka_unit_test(test_flow_errors_name_the_key),
	        cmocka_unit_test(test_flow_validate),
	        cmocka_unit_test(test_flow_merge),
	        cmocka_unit_test(test_flow_round_trip),
	        cmocka_unit_test(test_flow_name_parsers),
	        cmocka_unit_test(test_json_numbers_exact_and_shortest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
