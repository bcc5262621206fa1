/* srv_copy.h - PostgreSQL COPY wire formats without a connection: a parser of
 * the binary format (graph and run loads stream millions of rows through it)
 * and a growable text-format buffer with the escaping rows need (run stores). */
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

/* A text-format COPY buffer (common/amlrisk_buf.h: init, free, add, add_u64). */
typedef amlrisk_buf srv_copybuf;

/* Appends a text value escaped for COPY text format (backslash, tab, newline,
 * carriage return). On allocation failure sets b->failed. */
void srv_copybuf_add_text(srv_copybuf *b, const char *s, size_t len);
/* %.17g: parses back to the same double. */
void srv_copybuf_add_f64(srv_copybuf *b, double v);

#endif
