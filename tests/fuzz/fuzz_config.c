/* fuzz_config.c - the run config reader (core_config_parse/merge): the JSON
 * object every RunScore body, --config file and stored config_json goes
 * through, under both deployment default models (hop_exposure/v1 and
 * flow_exposure/v1) and merged over both models' defaults. A config that
 * parses must pass core_config_validate and write canonical JSON that parses
 * back to the same config (a mismatch aborts: it would make a stored run
 * unreplayable). */
#include <stdlib.h>
#include <string.h>

#include "core_engine.h"
#include "fuzz.h"

/* Aborts unless c is valid and its canonical JSON reads back to itself. */
static void
round_trip(const core_config *c)
{
	char err[256], json[CORE_CONFIG_JSON_MAX], again[CORE_CONFIG_JSON_MAX];
	core_config back;
	size_t len, len2;

	if (core_config_validate(c, err, sizeof(err)) != 0 ||
	    core_config_to_json(c, json, sizeof(json), &len) != 0 ||
	    core_config_parse(&back, json, len, err, sizeof(err)) != 0 ||
	    core_config_to_json(&back, again, sizeof(again), &len2) != 0 || len != len2 ||
	    memcmp(json, again, len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const core_model models[] = {CORE_MODEL_HOP, CORE_MODEL_FLOW};
	core_config c, base, merged;
	char err[256];

	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		core_config_default_model_set(models[m]);
		if (core_config_parse(&c, (const char *)data, size, err, sizeof(err)) == 0)
			round_trip(&c);
		/* the same bytes over a model's defaults (a RunScore body in the core) */
		core_config_defaults_model(&base, models[m]);
		if (core_config_merge(&merged, &base, (const char *)data, size, err, sizeof(err)) ==
		    0)
			round_trip(&merged);
	}
	core_config_default_model_set(CORE_MODEL_HOP);
	return 0;
}
