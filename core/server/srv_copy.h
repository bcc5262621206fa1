/* srv_copy.h - PostgreSQL COPY wire formats without a connection: a parser of
 * the binary format (graph and run loads stream millions of rows through it),
 * a growable text-format buffer with the escaping rows need (hop run stores)
 * and the binary format's writers (flow run stores: no number formatting on
 * either side). */
#ifndef SRV_COPY_H
#define SRV_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "amlrisk_buf.h"

#define SRV_COPY_FIELDS_MAX 16

/* One field of a binary COPY row; len -1 is SQL NULL. Borrowed from the chunk. */
typedef struct srv_copy_field {
	const char *data;
	int32_t len;
} srv_copy_field;

/* Called per row; a non-zero return stops the parse and is returned by it. */
typedef int (*srv_copy_row_fn)(void *arg, const srv_copy_field *fields, int n);

typedef struct srv_copy_parser {
	int header_done;
	int trailer_seen;
	uint64_t rows;
} srv_copy_parser;

void srv_copy_parser_init(srv_copy_parser *p);
/* Parses one chunk as PQgetCopyData returns it: the file header (first chunk
 * only), then whole rows, or the trailer. AMLRISK_EPROTO for anything else
 * (a cut row, more than SRV_COPY_FIELDS_MAX fields, data after the trailer). */
int srv_copy_parse(srv_copy_parser *p, const char *buf, size_t len, srv_copy_row_fn fn, void *arg);

/* Big-endian field decoders; the caller checks the length first. */
int64_t srv_copy_i64(const char *p);
int32_t srv_copy_i32(const char *p);
double srv_copy_f64(const char *p);

/* A one-dimensional float8[] without NULLs in binary form (f borrowed) into
 * out (at most max values; *n gets the count; an empty array has 0).
 * AMLRISK_EPROTO for anything else. */
int srv_copy_f64_array(const srv_copy_field *f, unsigned max, double *out, unsigned *n);

/* A text-format COPY buffer (common/amlrisk_buf.h: init, free, add, add_u64). */
typedef amlrisk_buf srv_copybuf;

/* Appends a text value escaped for COPY text format (backslash, tab, newline,
 * carriage return). On allocation failure sets b->failed. */
void srv_copybuf_add_text(srv_copybuf *b, const char *s, size_t len);
/* %.17g: parses back to the same double. */
void srv_copybuf_add_f64(srv_copybuf *b, double v);

/* Binary COPY out (into the same buffer type): the file header, then per row
 * its field count and each field, then the trailer. Big-endian, as the
 * parser above reads. On allocation failure b->failed is set. */
void srv_copybin_header(srv_copybuf *b);
void srv_copybin_row(srv_copybuf *b, int16_t fields);
void srv_copybin_i64(srv_copybuf *b, int64_t v);
void srv_copybin_i32(srv_copybuf *b, int32_t v);
void srv_copybin_f64(srv_copybuf *b, double v);
void srv_copybin_bool(srv_copybuf *b, int v);
void srv_copybin_text(srv_copybuf *b, const char *s, size_t len);
/* A one-dimensional float8[] of n values (n >= 1). */
void srv_copybin_f64_array(srv_copybuf *b, const double *v, unsigned n);
void srv_copybin_trailer(srv_copybuf *b);

#endif
