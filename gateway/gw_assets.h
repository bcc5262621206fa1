/* gw_assets.h - files embedded into the binary at build time by embed.cmake
 * (gateway/openapi.json, gateway/docs.html, and the console: gateway/console/
 * and the front-end libraries it uses from gateway/node_modules), so the
 * gateway serves exactly the checked-in documents without reading them at run
 * time. */
#ifndef GW_ASSETS_H
#define GW_ASSETS_H

#include <stddef.h>

extern const unsigned char gw_asset_openapi_json[];
extern const size_t gw_asset_openapi_json_len;
extern const unsigned char gw_asset_docs_html[];
extern const size_t gw_asset_docs_html_len;
extern const unsigned char gw_asset_home_html[];
extern const size_t gw_asset_home_html_len;

/* One embedded file of a table: its name (no directory), bytes and length. */
typedef struct gw_embedded {
	const char *name;
	const unsigned char *data; /* NUL-terminated past len */
	size_t len;
} gw_embedded;

/* The console's files (/ui/...), in the order gateway/CMakeLists.txt lists them. */
extern const gw_embedded gw_console_files[];
extern const size_t gw_console_files_n;

#endif
