/* gw_console.h - the analyst's console and the landing page: GET / (links to
 * the console, the API docs and the probes), GET /ui and GET /ui/ (the
 * console's page) and GET /ui/{asset} (its scripts, styles and libraries), all
 * embedded at build time. The console reads data only through the API. */
#ifndef GW_CONSOLE_H
#define GW_CONSOLE_H

#include "gw.h"

/* The content type of an asset by its file name's extension. */
const char *gw_console_ctype(const char *name);

void gw_console_home(const gw_request *rq, gw_reply *rep);
void gw_console_index(const gw_request *rq, gw_reply *rep);
void gw_console_asset(const gw_request *rq, gw_reply *rep);

#endif
