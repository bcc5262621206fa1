/* gw_console.c - serves the console's embedded files (gw_console_files, made
 * by embed.cmake) by name, with a content type from the extension. Files are
 * answered without copying; "no-cache" makes a browser revalidate, so a new
 * gateway build's console is used at once. */
#include <string.h>

#include "gw_assets.h"
#include "gw_console.h"

#define CONSOLE_CACHE "no-cache"

static const struct {
	const char *ext;
	const char *ctype;
} ctypes[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
};

const char *
gw_console_ctype(const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++) {
		size_t e = strlen(ctypes[i].ext);

		if (n > e && strcmp(name + n - e, ctypes[i].ext) == 0) {
			return ctypes[i].ctype;
		}
	}
	return "application/octet-stream";
}

/* Answers the embedded file name, or 404. */
static void
serve(const char *name, gw_reply *rep)
{
	size_t i;

	for (i = 0; i < gw_console_files_n; i++) {
		if (strcmp(gw_console_files[i].name, name) == 0) {
			gw_reply_static(rep, 200, gw_console_ctype(name), gw_console_files[i].data,
			                gw_console_files[i].len);
			rep->cache = CONSOLE_CACHE;
			return;
		}
	}
	gw_reply_error(rep, 404, "no such console file: %s", name);
}

void
gw_console_home(const gw_request *rq, gw_reply *rep)
{
	(void)rq;
	gw_reply_static(rep, 200, "text/html; charset=utf-8", gw_asset_home_html,
	                gw_asset_home_html_len);
	rep->cache = CONSOLE_CACHE;
}

void
gw_console_index(const gw_request *rq, gw_reply *rep)
{
	(void)rq;
	serve("index.html", rep);
}

void
gw_console_asset(const gw_request *rq, gw_reply *rep)
{
	serve(rq->param, rep);
}
