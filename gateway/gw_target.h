/* gw_target.h - a request-target (the path and query a client sent) turned
 * into its route, its decoded path parameter and its checked query string:
 * the one parser of the request line's target, in two steps so that a token
 * is checked before the parameters are. Pure, bounded, no I/O: a fuzz entry
 * point (gw_target_route, then gw_target_check). */
#ifndef GW_TARGET_H
#define GW_TARGET_H

#include <stddef.h>

#include "amlrisk_tx.h"
#include "gw_route.h"

#define GW_TARGET_PARAM_MAX (AMLRISK_WALLET_MAX + 1) /* decoded path parameter, NUL included */

typedef struct gw_target {
	gw_match match;    /* the route when found; Allow when the method is not */
	const char *query; /* after '?' in the target, still percent-encoded; "" if none */
	char param[GW_TARGET_PARAM_MAX]; /* the decoded path parameter; "" if none */
} gw_target;

/* Splits target (len bytes, NUL-terminated; borrowed: t points into it) into
 * path and query and finds the route of method and path. Returns 0, or the
 * HTTP status of the refusal: 414 (over GW_URL_MAX bytes), 404 (no such
 * path), 405 (not with this method: t->match.allow lists those that are). */
int gw_target_route(gw_target *t, const char *method, const char *target, size_t len);

/* After gw_target_route() returned 0: checks the query string
 * (gw_param_query_check) and decodes and checks the path parameter into
 * t->param. Returns 0, or the status of the refusal with the reason in why:
 * 400 (malformed query), 422 (a bad wallet or run id), 404 (an asset name
 * that cannot be one). */
int gw_target_check(gw_target *t, char *why, size_t whylen);

#endif
