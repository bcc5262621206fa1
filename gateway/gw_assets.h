/* gw_assets.h - files embedded into the binary at build time by embed.cmake
 * (gateway/openapi.json and gateway/docs.html), so the gateway serves exactly
 * the checked-in documents without reading them at run time. */
#ifndef GW_ASSETS_H
#define GW_ASSETS_H

#include <stddef.h>

extern const unsigned char gw_asset_openapi_json[];
extern const size_t gw_asset_openapi_json_len;
extern const unsigned char gw_asset_docs_html[];
extern const size_t gw_asset_docs_html_len;

#endif
