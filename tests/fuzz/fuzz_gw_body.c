/* fuzz_gw_body.c - the POST /run-score body on its way to a run: the
 * gateway's check (gw_param_overrides: a NUL refused at its offset, a blank
 * body the defaults, anything else passed on byte for byte), then what the
 * core's RunScore does with the text (core_config_merge over the defaults;
 * a config it accepts must validate). A broken invariant aborts. The input is
 * the body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "core_engine.h"
#include "fuzz.h"
#include "gw_param.h"

#define OVERRIDES_MAX 65536 /* the core's bound (SRV_OVERRIDES_MAX) */

/* The gateway's answer must say what the bytes are. */
static void
check_gateway(const uint8_t *data, size_t size, int rv, const char *text, const char *why)
{
	const uint8_t *nul = size > 0 ? memchr(data, 0, size) : NULL;
	char want[64];
	size_t blank = 0;

	while (blank < size && strchr(" \t\r\n", data[blank]) != NULL && data[blank] != 0)
		blank++;
	if (nul != NULL) {
		snprintf(want, sizeof(want), "NUL byte at byte %zu ", (size_t)(nul - data));
		if (rv != AMLRISK_EINVAL || strstr(why, want) == NULL)
			abort();
	} else if (rv != AMLRISK_OK) {
		abort();
	} else if (blank == size ? text[0] != '\0'
	                         : strlen(text) != size || memcmp(text, data, size) != 0) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256] = "", err[512];
	char *text = NULL;
	core_config base, cfg;
	int rv = gw_param_overrides((const char *)data, size, &text, why, sizeof(why));

	if (rv == AMLRISK_ENOMEM)
		return 0;
	check_gateway(data, size, rv, text, why);
	if (rv == AMLRISK_OK && strlen(text) <= OVERRIDES_MAX) {
		core_config_defaults(&base);
		if (text[0] != '\0' &&
		    core_config_merge(&cfg, &base, text, strlen(text), err, sizeof(err)) ==
		            AMLRISK_OK &&
		    core_config_validate(&cfg, err, sizeof(err)) != AMLRISK_OK)
			abort();
	}
	free(text);
	return 0;
}
