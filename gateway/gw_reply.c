/* gw_reply.c - filling the one reply of a request: owned or static bodies, and
 * the single builder of {"detail": "..."} error bodies. Called once per request;
 * error bodies are small (the detail is cut at DETAIL_MAX bytes). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw.h"
#include "gw_sse.h"

#define DETAIL_MAX 512

/* The answer when even the error body cannot be built (no memory). */
static const char oom_body[] = "{\"detail\":\"out of memory\"}";

void
gw_reply_clear(gw_reply *rep)
{
	if (!rep->is_static) {
		free(rep->body);
	}
	if (rep->stream != NULL) {
		gw_sse_release(rep->stream);
	}
	memset(rep, 0, sizeof(*rep));
}

void
gw_reply_static(gw_reply *rep, int status, const char *ctype, const void *body, size_t len)
{
	gw_reply_clear(rep);
	rep->status = status;
	rep->ctype = ctype;
	rep->body = (char *)body;
	rep->len = len;
	rep->is_static = 1;
}

void
gw_reply_owned(gw_reply *rep, int status, const char *ctype, char *body, size_t len)
{
	gw_reply_clear(rep);
	rep->status = status;
	rep->ctype = ctype;
	rep->body = body;
	rep->len = len;
}

/* Replaces every byte outside printable ASCII by '?': the fallback for a detail
 * that is not valid UTF-8 (messages may quote client input, or be cut mid-character). */
static void
detail_ascii(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
			*s = '?';
		}
	}
}

void
gw_reply_error(gw_reply *rep, int status, const char *fmt, ...)
{
	char detail[DETAIL_MAX];
	json_t *obj;
	char *body;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if ((obj = json_pack("{s:s}", "detail", detail)) == NULL) {
		detail_ascii(detail);
		obj = json_pack("{s:s}", "detail", detail);
	}
	body = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (body == NULL) {
		gw_reply_static(rep, status, GW_CT_JSON, oom_body, sizeof(oom_body) - 1);
		return;
	}
	gw_reply_owned(rep, status, GW_CT_JSON, body, strlen(body));
}

void
gw_reply_unencodable(gw_reply *rep)
{
	gw_reply_error(rep, 500, "could not encode the answer (out of memory or invalid UTF-8)");
}
