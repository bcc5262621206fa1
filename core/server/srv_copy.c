/* srv_copy.c - COPY binary parsing and text building. The parser sees a chunk
 * per PQgetCopyData call (libpq hands out one CopyData message, which holds
 * whole rows), so no row ever spans two chunks. */
#include "srv_copy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"

static const char SIGNATURE[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

int64_t
srv_copy_i64(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | u[i];
	return (int64_t)v;
}

int32_t
srv_copy_i32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (int32_t)((uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3]);
}

double
srv_copy_f64(const char *p)
{
	uint64_t v = (uint64_t)srv_copy_i64(p);
	double d;

	memcpy(&d, &v, sizeof(d));
	return d;
}

static int16_t
get_i16(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (int16_t)((uint16_t)u[0] << 8 | u[1]);
}

void
srv_copy_parser_init(srv_copy_parser *p)
{
	memset(p, 0, sizeof(*p));
}

int
srv_copy_parse(srv_copy_parser *p, const char *buf, size_t len, srv_copy_row_fn fn, void *arg)
{
	srv_copy_field fields[SRV_COPY_FIELDS_MAX];
	size_t off = 0;
	int rv;

	if (!p->header_done) {
		uint32_t ext;
		if (len < 19 || memcmp(buf, SIGNATURE, sizeof(SIGNATURE)) != 0)
			return AMLRISK_EPROTO;
		ext = (uint32_t)srv_copy_i32(buf + 15);
		if (ext > len - 19)
			return AMLRISK_EPROTO;
		off = 19 + ext;
		p->header_done = 1;
	}
	while (off < len) {
		int16_t n;
		if (p->trailer_seen || len - off < 2)
			return AMLRISK_EPROTO;
		n = get_i16(buf + off);
		off += 2;
		if (n == -1) {
			p->trailer_seen = 1;
			continue;
		}
		if (n < 0 || n > SRV_COPY_FIELDS_MAX)
			return AMLRISK_EPROTO;
		for (int i = 0; i < n; i++) {
			int32_t flen;
			if (len - off < 4)
				return AMLRISK_EPROTO;
			flen = srv_copy_i32(buf + off);
			off += 4;
			if (flen < -1 || (flen > 0 && (size_t)flen > len - off))
				return AMLRISK_EPROTO;
			fields[i].data = buf + off;
			fields[i].len = flen;
			if (flen > 0)
				off += (size_t)flen;
		}
		p->rows++;
		if ((rv = fn(arg, fields, n)) != 0)
			return rv;
	}
	return AMLRISK_OK;
}

#define FLOAT8_OID 701

int
srv_copy_f64_array(const srv_copy_field *f, unsigned max, double *out, unsigned *n)
{
	const char *p = f->data;
	size_t len = f->len >= 0 ? (size_t)f->len : 0;
	int32_t ndim, count;

	/* ndim, has-null flag, element type; per dimension its size and lower bound */
	if (f->len < 12 || (ndim = srv_copy_i32(p)) < 0 || ndim > 1 ||
	    (uint32_t)srv_copy_i32(p + 8) != FLOAT8_OID)
		return AMLRISK_EPROTO;
	if (ndim == 0) {
		*n = 0;
		return len == 12 ? AMLRISK_OK : AMLRISK_EPROTO;
	}
	if (len < 20 || (count = srv_copy_i32(p + 12)) < 0 || (uint32_t)count > max ||
	    len != 20 + (size_t)count * 12)
		return AMLRISK_EPROTO;
	for (int32_t i = 0; i < count; i++) {
		const char *e = p + 20 + (size_t)i * 12;
		if (srv_copy_i32(e) != 8)
			return AMLRISK_EPROTO; /* a NULL or not a float8 */
		out[i] = srv_copy_f64(e + 4);
	}
	*n = (unsigned)count;
	return AMLRISK_OK;
}

void
srv_copybuf_add_text(srv_copybuf *b, const char *s, size_t len)
{
	size_t start = 0;

	if (amlrisk_buf_reserve(b, len) != 0)
		return;
	for (size_t i = 0; i < len; i++) {
		char esc;
		switch (s[i]) {
		case '\\':
			esc = '\\';
			break;
		case '\t':
			esc = 't';
			break;
		case '\n':
			esc = 'n';
			break;
		case '\r':
			esc = 'r';
			break;
		default:
			continue;
		}
		amlrisk_buf_add(b, s + start, i - start);
		amlrisk_buf_add(b, (const char[]){'\\', esc}, 2);
		start = i + 1;
	}
	amlrisk_buf_add(b, s + start, len - start);
}

/* v as %.17g into tmp (40 bytes); +0 without the call (many values are 0). */
static int
fmt17(char *tmp, double v)
{
	if (v == 0 && !signbit(v)) {
		memcpy(tmp, "0", 2);
		return 1;
	}
	return snprintf(tmp, 40, "%.17g", v);
}

void
srv_copybuf_add_f64(srv_copybuf *b, double v)
{
	char tmp[40];
	int n = fmt17(tmp, v);

	amlrisk_buf_add(b, tmp, (size_t)n);
}

/* v big-endian in bytes bytes. */
static void
put_be(srv_copybuf *b, uint64_t v, int bytes)
{
	char p[8];

	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (char)(v & 0xff);
	amlrisk_buf_add(b, p, (size_t)bytes);
}

void
srv_copybin_header(srv_copybuf *b)
{
	amlrisk_buf_add(b, SIGNATURE, sizeof(SIGNATURE));
	put_be(b, 0, 4); /* flags */
	put_be(b, 0, 4); /* header extension length */
}

void
srv_copybin_row(srv_copybuf *b, int16_t fields)
{
	put_be(b, (uint16_t)fields, 2);
}

void
srv_copybin_i64(srv_copybuf *b, int64_t v)
{
	put_be(b, 8, 4);
	put_be(b, (uint64_t)v, 8);
}

void
srv_copybin_i32(srv_copybuf *b, int32_t v)
{
	put_be(b, 4, 4);
	put_be(b, (uint32_t)v, 4);
}

void
srv_copybin_f64(srv_copybuf *b, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	put_be(b, 8, 4);
	put_be(b, bits, 8);
}

void
srv_copybin_bool(srv_copybuf *b, int v)
{
	put_be(b, 1, 4);
	amlrisk_buf_add(b, v ? "\1" : "\0", 1);
}

void
srv_copybin_text(srv_copybuf *b, const char *s, size_t len)
{
	put_be(b, (uint32_t)len, 4);
	amlrisk_buf_add(b, s, len);
}

void
srv_copybin_f64_array(srv_copybuf *b, const double *v, unsigned n)
{
	put_be(b, 20 + (uint64_t)n * 12, 4);
	put_be(b, 1, 4);          /* dimensions */
	put_be(b, 0, 4);          /* no NULLs */
	put_be(b, FLOAT8_OID, 4); /* element type */
	put_be(b, n, 4);          /* size */
	put_be(b, 1, 4);          /* lower bound */
	for (unsigned i = 0; i < n; i++) {
		uint64_t bits;
		memcpy(&bits, &v[i], sizeof(bits));
		put_be(b, 8, 4);
		put_be(b, bits, 8);
	}
}

void
srv_copybin_trailer(srv_copybuf *b)
{
	put_be(b, 0xffff, 2);
}
