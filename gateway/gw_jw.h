/* gw_jw.h - a small streaming JSON writer for the gateway's hottest answers
 * (score rows: GET /scores/{wallet}, /scores/top): text straight into one
 * growing buffer, no tree, no per-value allocation. Numbers come out exactly
 * as Jansson's json_dumps(JSON_REAL_PRECISION(17)) writes them, so every
 * endpoint formats the same value the same way. Not thread-safe: one writer
 * per answer. */
#ifndef GW_JW_H
#define GW_JW_H

#include <stddef.h>
#include <stdint.h>

#include "amlrisk_buf.h"
#include "gw.h"

#define GW_JW_DEPTH 16 /* nesting of objects and arrays at most */

typedef struct gw_jw {
	amlrisk_buf b; /* the text so far (owned) */
	int failed;    /* misuse (too deep, a key or value out of place) or a string not UTF-8;
	                * b.failed: out of memory */
	int depth;     /* open containers */
	unsigned char kind[GW_JW_DEPTH]; /* per open container: '{' or '[' */
	unsigned char n[GW_JW_DEPTH];    /* per open container: has it a member yet */
	int after_key;                   /* a key was written; its value comes next */
	int top;                         /* the one top-level value has begun */
} gw_jw;

/* An empty writer (no memory held yet). */
void gw_jw_init(gw_jw *w);
/* Frees what w holds; w can be used again after gw_jw_init(). */
void gw_jw_free(gw_jw *w);

void gw_jw_obj(gw_jw *w);     /* { */
void gw_jw_obj_end(gw_jw *w); /* } */
void gw_jw_arr(gw_jw *w);     /* [ */
void gw_jw_arr_end(gw_jw *w); /* ] */
/* A member's key inside an object (s: NUL-terminated UTF-8). */
void gw_jw_key(gw_jw *w, const char *s);
/* Values. A string must be valid UTF-8 (else the writer fails, as Jansson
 * refuses it); a double that is not finite is written as null. */
void gw_jw_str(gw_jw *w, const char *s);
void gw_jw_int(gw_jw *w, int64_t v);
void gw_jw_num(gw_jw *w, double v);
void gw_jw_bool(gw_jw *w, int v);

/* Moves the finished document into rep with status (500 when the writer
 * failed or a container is still open). w is left empty. */
void gw_jw_reply(gw_jw *w, gw_reply *rep, int status);

#endif
