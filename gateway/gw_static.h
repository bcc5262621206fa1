/* gw_static.h - the documents the gateway serves as they are: the checked-in
 * OpenAPI document and the /docs page (both embedded at build time), and the
 * Swagger UI assets of the swagger-ui-dist npm package, read once at start-up. */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include "gw.h"

/* Loads the Swagger UI assets from dir (swagger-ui-dist's folder). A missing
 * folder or file is not an error: its route then answers 503, and
 * gw_static_missing() names it for the start-up log. *out is written only on
 * success; free with gw_static_destroy(). Returns AMLRISK_OK or AMLRISK_ENOMEM. */
int gw_static_create(gw_static **out, const char *dir);
void gw_static_destroy(gw_static *s);

/* The first asset that could not be read, or NULL when all were. */
const char *gw_static_missing(const gw_static *s);

/* Handlers: GET /openapi.json, GET /docs, GET /docs/{asset}. */
void gw_static_openapi(const gw_request *rq, gw_reply *rep);
void gw_static_docs(const gw_request *rq, gw_reply *rep);
void gw_static_asset(const gw_request *rq, gw_reply *rep);

#endif
