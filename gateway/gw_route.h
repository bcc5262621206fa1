/* gw_route.h - the routing table: every (method, path template) the gateway
 * answers, the handler of each, and matching of a raw request path against it.
 * The table is static and read-only; --list-routes prints it for the OpenAPI test. */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include <stddef.h>

#include "gw.h"
#include "gw_auth.h"

/* What the one path parameter of a template holds, and how it is checked. */
typedef enum gw_param_kind {
	GW_PARAM_NONE = 0,
	GW_PARAM_WALLET, /* percent-decoded, amlrisk_tx_check_id */
	GW_PARAM_RUN_ID, /* decimal int64 >= 1 */
	GW_PARAM_ASSET,  /* a file name of the Swagger UI assets or of the console */
} gw_param_kind;

typedef struct gw_route {
	const char *method; /* "GET" or "POST" */
	const char *path;   /* template: literal segments and at most one {param} */
	gw_param_kind param;
	gw_auth_level auth; /* the token it needs (gw_auth.h) */
	gw_handler handler;
} gw_route;

typedef enum gw_route_result {
	GW_ROUTE_FOUND = 0,
	GW_ROUTE_NOT_FOUND,
	GW_ROUTE_BAD_METHOD, /* the path exists for other methods: see allow */
} gw_route_result;

typedef struct gw_match {
	const gw_route *route; /* when FOUND */
	const char *seg;       /* raw (still percent-encoded) parameter segment */
	size_t seg_len;
	char allow[32]; /* when BAD_METHOD: "GET" / "POST" / "GET, POST" */
} gw_match;

/* Matches method and the raw path (path_len bytes, no query) against the table.
 * Borrows path: m->seg points into it. */
gw_route_result gw_route_find(const char *method, const char *path, size_t path_len, gw_match *m);

/* Number of routes, and the route at index i (0 <= i < count); the index is
 * the route's metrics label slot. */
int gw_route_count(void);
const gw_route *gw_route_at(int i);
int gw_route_index(const gw_route *r);

#endif
