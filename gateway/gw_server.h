/* gw_server.h - the HTTP side of the gateway: a libmicrohttpd daemon with a
 * thread pool that checks limits, routes, authenticates, validates the path
 * parameter, calls the route's handler, and logs and counts every request. */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <stddef.h>

#include "gw.h"
#include "gw_config.h"

typedef struct gw_server gw_server;

/* Starts listening on cfg's address with cfg's limits. Borrows app and cfg:
 * both must outlive the server. *out is written only on success; stop with
 * gw_server_stop(). Returns AMLRISK_OK, AMLRISK_EINVAL (bad address),
 * AMLRISK_ENOMEM or AMLRISK_EIO (MHD could not start: message in err). */
int gw_server_start(gw_server **out, const gw_app *app, const gw_config *cfg, char *err,
                    size_t errlen);

/* The bound TCP port (useful with port 0). */
int gw_server_port(const gw_server *s);

/* Stops accepting new connections, lets the requests under way finish and
 * send their answers (a suspended one when its RPC ends, by its deadline;
 * all within twice the RPC deadline plus 5 s), then stops the pool threads
 * and frees everything. NULL is fine. */
void gw_server_stop(gw_server *s);

#endif
