/* srv_copy.c - COPY binary parsing and text building. The parser sees a chunk
 * per PQgetCopyData call (libpq hands out one CopyData message, which holds
 * whole rows), so no row ever spans two chunks. */
#include "srv_copy.h"

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

void
srv_copybuf_init(srv_copybuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
srv_copybuf_free(srv_copybuf *b)
{
	free(b->data);
	srv_copybuf_init(b);
}

/* Makes room for n more bytes; 0 or -1 (and b->failed). */
static int
reserve(srv_copybuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return -1;
	if (b->cap - b->len >= n)
		return 0;
	cap = b->cap != 0 ? b->cap : 4096;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	if ((p = realloc(b->data, cap)) == NULL)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

void
srv_copybuf_add(srv_copybuf *b, const char *s, size_t len)
{
	if (reserve(b, len) != 0)
		return;
	memcpy(b->data + b->len, s, len);
	b->len += len;
}

void
srv_copybuf_add_text(srv_copybuf *b, const char *s, size_t len)
{
	size_t start = 0;

	if (reserve(b, len) != 0)
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
		srv_copybuf_add(b, s + start, i - start);
		srv_copybuf_add(b, (const char[]){'\\', esc}, 2);
		start = i + 1;
	}
	srv_copybuf_add(b, s + start, len - start);
}

void
srv_copybuf_add_u64(srv_copybuf *b, uint64_t v)
{
	char tmp[24];
	size_t n = sizeof(tmp);

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	srv_copybuf_add(b, tmp + n, sizeof(tmp) - n);
}

void
srv_copybuf_add_f64(srv_copybuf *b, double v)
{
	char tmp[40];
	int n = snprintf(tmp, sizeof(tmp), "%.17g", v);

	srv_copybuf_add(b, tmp, (size_t)n);
}

int
srv_fmt_double(char *buf, size_t buflen, double v)
{
	int n = 0;

	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, buflen, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return n;
}
