/* gw_jw.h - the gateway's JSON writer: text straight into one growing buffer,
 * no per-value allocation. The hottest answers (score rows: GET /scores/{wallet},
 * /scores/top) are written with it directly; the others are built as Jansson
 * trees and written through it (gw_jw_json), so every answer formats a value
 * the same way: numbers as the shortest text that reads back exactly
 * (amlrisk_fmt.h), strings escaped as Jansson does. Not thread-safe: one
 * writer per answer. */
#ifndef GW_JW_H
#define GW_JW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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
 * refuses it); a double is written by amlrisk_fmt_double() (0.05, 1.0, 1e+16),
 * as null when it is not finite. */
void gw_jw_str(gw_jw *w, const char *s);
void gw_jw_int(gw_jw *w, int64_t v);
void gw_jw_num(gw_jw *w, double v);
void gw_jw_bool(gw_jw *w, int v);
void gw_jw_null(gw_jw *w);

/* The Jansson value v (borrowed) as one value: object members in their order,
 * numbers and strings as above, a gw_jw_raw_new() marker as its text. */
void gw_jw_json(gw_jw *w, const json_t *v);

/* A JSON text (text, NUL-terminated, copied) to embed in a Jansson tree that
 * gw_jw_json() writes as it is, only the whitespace between tokens dropped: a
 * stored document (a run's config) keeps its numbers exactly as stored,
 * integers past Jansson's int64 included (a uint64 illicit_seed). Returns a
 * new reference, or NULL when text is not exactly one JSON value (checked
 * here) or memory ran out. */
json_t *gw_jw_raw_new(const char *text);

/* Moves the finished document into rep with status (500 when the writer
 * failed or a container is still open). w is left empty. */
void gw_jw_reply(gw_jw *w, gw_reply *rep, int status);

#endif
