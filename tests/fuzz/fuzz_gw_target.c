/* fuzz_gw_target.c - the gateway's parsing of request bytes: the request
 * target through gw_target_route (path, route, method) and gw_target_check
 * (query syntax, path parameter), then the query read as the handlers read it
 * (gw_param_get, gw_param_int), and the raw bytes as a path segment
 * (gw_param_wallet, gw_param_run_id) and as an encoded value (gw_param_decode).
 * Byte 0: bit 0 picks GET or POST; the rest is the target. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "fuzz.h"
#include "gw_param.h"
#include "gw_target.h"

/* the parameter names the handlers read */
static const char *const names[] = {"n",           "offset",    "compare",    "run_id",
                                    "max_sources", "hops",      "node_limit", "edge_limit",
                                    "limit",       "before_id", "bins",       "before_run_id"};

static void
read_query(const char *query)
{
	char out[512], why[256];
	int64_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)gw_param_get(query, names[i], out, sizeof(out));
		(void)gw_param_int(query, names[i], 1, INT64_MAX, 0, &v, why, sizeof(why));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256], out[GW_TARGET_PARAM_MAX], dec[64];
	gw_target t;
	int64_t id;
	size_t len;
	char *s;

	if (size == 0 || (s = fuzz_strndup(data + 1, size - 1)) == NULL)
		return 0;
	len = size - 1;
	if (gw_target_route(&t, (data[0] & 1) ? "POST" : "GET", s, len) == 0 &&
	    gw_target_check(&t, why, sizeof(why)) == 0)
		read_query(t.query);
	(void)gw_param_wallet(s, len, out, sizeof(out), why, sizeof(why));
	(void)gw_param_run_id(s, len, &id, why, sizeof(why));
	(void)gw_param_decode(s, len, data[0] & 2, dec, sizeof(dec), &len);
	if (gw_param_query_check(s, why, sizeof(why)) == AMLRISK_OK)
		read_query(s);
	free(s);
	return 0;
}
