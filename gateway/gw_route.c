/* gw_route.c - the gateway's routing table and its matcher. Some twenty routes
 * of at most three segments: a linear scan segment by segment is a few hundred
 * nanoseconds, less than building any index would save. */
#include <stdio.h>
#include <string.h>

#include "gw_api.h"
#include "gw_console.h"
#include "gw_metrics.h"
#include "gw_route.h"
#include "gw_sse.h"
#include "gw_static.h"

/* Order matters where templates overlap: literal routes come before the
 * parameterised one they shadow (/scores/top before /scores/{wallet}).
 * Health, readiness, metrics (counters, no wallet or run data) and the API
 * document stay open whatever tokens are set: probes and scrapers need them;
 * so do the landing page and the console's files (no data: the console asks
 * for the token and sends it with each API call). */
static const gw_route routes[] = {
        {"GET", "/health", GW_PARAM_NONE, GW_AUTH_NONE, gw_api_health},
        {"GET", "/ready", GW_PARAM_NONE, GW_AUTH_NONE, gw_api_ready},
        {"POST", "/reload-graph", GW_PARAM_NONE, GW_AUTH_WRITE, gw_api_reload_graph},
        {"POST", "/run-score", GW_PARAM_NONE, GW_AUTH_WRITE, gw_api_run_score},
        {"GET", "/scores/top", GW_PARAM_NONE, GW_AUTH_READ, gw_api_top_scores},
        {"GET", "/scores/explain/{wallet}", GW_PARAM_WALLET, GW_AUTH_READ, gw_api_explain},
        {"GET", "/scores/{wallet}/history", GW_PARAM_WALLET, GW_AUTH_READ, gw_api_wallet_history},
        {"GET", "/scores/{wallet}", GW_PARAM_WALLET, GW_AUTH_READ, gw_api_wallet_score},
        {"GET", "/graph/wallet/{wallet}", GW_PARAM_WALLET, GW_AUTH_READ, gw_api_wallet_graph},
        {"GET", "/runs", GW_PARAM_NONE, GW_AUTH_READ, gw_api_list_runs},
        {"GET", "/runs/{run_id}", GW_PARAM_RUN_ID, GW_AUTH_READ, gw_api_get_run},
        {"GET", "/runs/{run_id}/distribution", GW_PARAM_RUN_ID, GW_AUTH_READ, gw_api_distribution},
        {"GET", "/alerts", GW_PARAM_NONE, GW_AUTH_READ, gw_api_alerts},
        {"GET", "/alerts/stream", GW_PARAM_NONE, GW_AUTH_READ, gw_sse_handle},
        {"GET", "/ingestion/status", GW_PARAM_NONE, GW_AUTH_READ, gw_api_ingestion_status},
        {"GET", "/metrics", GW_PARAM_NONE, GW_AUTH_NONE, gw_metrics_handle},
        {"GET", "/openapi.json", GW_PARAM_NONE, GW_AUTH_NONE, gw_static_openapi},
        {"GET", "/docs", GW_PARAM_NONE, GW_AUTH_NONE, gw_static_docs},
        {"GET", "/docs/{asset}", GW_PARAM_ASSET, GW_AUTH_NONE, gw_static_asset},
        {"GET", "/", GW_PARAM_NONE, GW_AUTH_NONE, gw_console_home},
        {"GET", "/ui", GW_PARAM_NONE, GW_AUTH_NONE, gw_console_index},
        {"GET", "/ui/", GW_PARAM_NONE, GW_AUTH_NONE, gw_console_index},
        {"GET", "/ui/{asset}", GW_PARAM_ASSET, GW_AUTH_NONE, gw_console_asset},
};

#define N_ROUTES ((int)(sizeof(routes) / sizeof(routes[0])))

/* Matches path against template t. On success, the parameter segment (if the
 * template has one) is returned in *seg and *seg_len. */
static int
path_match(const char *t, const char *path, size_t len, const char **seg, size_t *seg_len)
{
	const char *p = path, *end = path + len;

	*seg = NULL;
	*seg_len = 0;
	while (*t != '\0') {
		const char *tslash, *pslash;
		size_t tl, pl;

		if (*t != '/' || p >= end || *p != '/') {
			return 0;
		}
		t++;
		p++;
		tslash = strchr(t, '/');
		tl = tslash != NULL ? (size_t)(tslash - t) : strlen(t);
		pslash = memchr(p, '/', (size_t)(end - p));
		pl = pslash != NULL ? (size_t)(pslash - p) : (size_t)(end - p);
		if (t[0] == '{') {
			if (pl == 0) {
				return 0;
			}
			*seg = p;
			*seg_len = pl;
		} else if (tl != pl || memcmp(t, p, tl) != 0) {
			return 0;
		}
		t += tl;
		p += pl;
	}
	return p == end;
}

gw_route_result
gw_route_find(const char *method, const char *path, size_t path_len, gw_match *m)
{
	int i, seen = 0;
	const char *seg;
	size_t seg_len;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < N_ROUTES; i++) {
		if (!path_match(routes[i].path, path, path_len, &seg, &seg_len)) {
			continue;
		}
		if (strcmp(routes[i].method, method) == 0) {
			m->route = &routes[i];
			m->seg = seg;
			m->seg_len = seg_len;
			return GW_ROUTE_FOUND;
		}
		/* another method answers this path: collect it for Allow */
		if (strstr(m->allow, routes[i].method) == NULL) {
			size_t n = strlen(m->allow);

			snprintf(m->allow + n, sizeof(m->allow) - n, "%s%s", seen ? ", " : "",
			         routes[i].method);
			seen = 1;
		}
	}
	return seen ? GW_ROUTE_BAD_METHOD : GW_ROUTE_NOT_FOUND;
}

int
gw_route_count(void)
{
	return N_ROUTES;
}

const gw_route *
gw_route_at(int i)
{
	return (i >= 0 && i < N_ROUTES) ? &routes[i] : NULL;
}

int
gw_route_index(const gw_route *r)
{
	return r != NULL ? (int)(r - routes) : -1;
}
