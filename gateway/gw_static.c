/* gw_static.c - serves the embedded OpenAPI document and /docs page, and the
 * Swagger UI assets held in memory: a few MiB read once at start-up, then
 * answered without copying or touching the disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "gw_assets.h"
#include "gw_static.h"

#define ASSET_MAX    (16 * 1024 * 1024) /* larger than any swagger-ui-dist file */
#define PATH_MAX_LEN 4096

/* The files of swagger-ui-dist that docs.html loads. */
static const struct {
	const char *name;
	const char *ctype;
} asset_files[] = {
        {"swagger-ui.css", "text/css; charset=utf-8"},
        {"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
        {"swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8"},
        {"favicon-32x32.png", "image/png"},
        {"favicon-16x16.png", "image/png"},
};
#define N_ASSETS (sizeof(asset_files) / sizeof(asset_files[0]))

struct gw_static {
	char *data[N_ASSETS]; /* owned; NULL when the file could not be read */
	size_t len[N_ASSETS];
	const char *missing;
};

/* Reads path whole into *out (malloc'd). Returns AMLRISK_OK, AMLRISK_EIO,
 * AMLRISK_ETOOBIG or AMLRISK_ENOMEM. */
static int
file_read(const char *path, char **out, size_t *outlen)
{
	FILE *f;
	char *buf = NULL;
	long n;
	int rv = AMLRISK_EIO;

	if ((f = fopen(path, "rb")) == NULL) {
		return AMLRISK_EIO;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		goto out;
	}
	if (n > ASSET_MAX) {
		rv = AMLRISK_ETOOBIG;
		goto out;
	}
	if ((buf = malloc((size_t)n + 1)) == NULL) {
		rv = AMLRISK_ENOMEM;
		goto out;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		goto out;
	}
	*out = buf;
	*outlen = (size_t)n;
	buf = NULL;
	rv = AMLRISK_OK;
out:
	free(buf);
	fclose(f);
	return rv;
}

int
gw_static_create(gw_static **out, const char *dir)
{
	gw_static *s;
	char path[PATH_MAX_LEN];
	size_t i;
	int rv;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return AMLRISK_ENOMEM;
	}
	for (i = 0; i < N_ASSETS; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, asset_files[i].name) >=
		    sizeof(path)) {
			rv = AMLRISK_EINVAL;
		} else {
			rv = file_read(path, &s->data[i], &s->len[i]);
		}
		if (rv == AMLRISK_ENOMEM) {
			gw_static_destroy(s);
			return rv;
		}
		if (rv != AMLRISK_OK && s->missing == NULL) {
			s->missing = asset_files[i].name;
		}
	}
	*out = s;
	return AMLRISK_OK;
}

void
gw_static_destroy(gw_static *s)
{
	size_t i;

	if (s == NULL) {
		return;
	}
	for (i = 0; i < N_ASSETS; i++) {
		free(s->data[i]);
	}
	free(s);
}

const char *
gw_static_missing(const gw_static *s)
{
	return s->missing;
}

void
gw_static_openapi(const gw_request *rq, gw_reply *rep)
{
	(void)rq;
	gw_reply_static(rep, 200, "application/json", gw_asset_openapi_json,
	                gw_asset_openapi_json_len);
}

void
gw_static_docs(const gw_request *rq, gw_reply *rep)
{
	(void)rq;
	gw_reply_static(rep, 200, "text/html; charset=utf-8", gw_asset_docs_html,
	                gw_asset_docs_html_len);
}

void
gw_static_asset(const gw_request *rq, gw_reply *rep)
{
	const gw_static *s = rq->app->docs;
	size_t i;

	for (i = 0; i < N_ASSETS; i++) {
		if (strcmp(rq->param, asset_files[i].name) != 0) {
			continue;
		}
		if (s->data[i] == NULL) {
			gw_reply_error(
			        rep, 503,
			        "Swagger UI asset %s is not installed (run scripts/bootstrap)",
			        asset_files[i].name);
			return;
		}
		gw_reply_static(rep, 200, asset_files[i].ctype, s->data[i], s->len[i]);
		rep->cache = "public, max-age=86400";
		return;
	}
	gw_reply_error(rep, 404, "no such asset: %s", rq->param);
}
