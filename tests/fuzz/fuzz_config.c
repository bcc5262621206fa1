/* fuzz_config.c - the run config reader (core_config_parse/merge): the JSON
 * object every RunScore body, --config file and stored config_json goes
 * through. A config that parses must write canonical JSON that parses back to
 * the same config (a mismatch aborts: it would make a stored run unreplayable). */
#include <stdlib.h>
#include <string.h>

#include "core_engine.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	core_config c, back;
	char err[256], json[CORE_CONFIG_JSON_MAX], again[CORE_CONFIG_JSON_MAX];
	size_t len, len2;

	if (core_config_parse(&c, (const char *)data, size, err, sizeof(err)) == 0) {
		if (core_config_to_json(&c, json, sizeof(json), &len) != 0 ||
		    core_config_parse(&back, json, len, err, sizeof(err)) != 0 ||
		    core_config_to_json(&back, again, sizeof(again), &len2) != 0 || len != len2 ||
		    memcmp(json, again, len) != 0)
			abort();
		/* the same bytes over a parsed config (a body over a deployment default) */
		(void)core_config_merge(&back, &c, (const char *)data, size, err, sizeof(err));
	}
	return 0;
}
