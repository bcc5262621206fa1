/* gw_target.c - request-target parsing (see gw_target.h): at most GW_URL_MAX
 * bytes, one scan to split path and query, the route table's matcher, one
 * scan of the query, one decode of the path parameter. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "amlrisk_err.h"
#include "gw_config.h"
#include "gw_param.h"
#include "gw_target.h"

#define ASSET_NAME_MAX 64 /* a Swagger UI file name, NUL included */

int
gw_target_route(gw_target *t, const char *method, const char *target, size_t len)
{
	const char *q;

	memset(t, 0, sizeof(*t));
	t->query = "";
	if (len > GW_URL_MAX) {
		return 414;
	}
	q = memchr(target, '?', len);
	if (q != NULL) {
		t->query = q + 1;
	}
	switch (gw_route_find(method, target, q != NULL ? (size_t)(q - target) : len, &t->match)) {
	case GW_ROUTE_FOUND:
		return 0;
	case GW_ROUTE_BAD_METHOD:
		return 405;
	case GW_ROUTE_NOT_FOUND:
		break;
	}
	return 404;
}

int
gw_target_check(gw_target *t, char *why, size_t whylen)
{
	const gw_match *m = &t->match;
	int64_t id;
	size_t n;

	if (gw_param_query_check(t->query, why, whylen) != AMLRISK_OK) {
		return 400;
	}
	switch (m->route->param) {
	case GW_PARAM_NONE:
		return 0;
	case GW_PARAM_WALLET:
		return gw_param_wallet(m->seg, m->seg_len, t->param, sizeof(t->param), why,
		                       whylen) == AMLRISK_OK
		               ? 0
		               : 422;
	case GW_PARAM_RUN_ID:
		if (gw_param_run_id(m->seg, m->seg_len, &id, why, whylen) != AMLRISK_OK) {
			return 422;
		}
		snprintf(t->param, sizeof(t->param), "%lld", (long long)id);
		return 0;
	case GW_PARAM_ASSET:
		if (gw_param_decode(m->seg, m->seg_len, 0, t->param, ASSET_NAME_MAX, &n) !=
		            AMLRISK_OK ||
		    memchr(t->param, '\0', n) != NULL) {
			snprintf(why, whylen, "no such asset");
			return 404;
		}
		return 0;
	}
	snprintf(why, whylen, "unknown parameter kind");
	return 500;
}
