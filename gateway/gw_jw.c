/* gw_jw.c - the streaming JSON writer (see gw_jw.h). Escaping, UTF-8 checks and
 * number formats follow what Jansson's dump does with the flags gw_json.c uses
 * (compact, 17 significant digits), so a value reads the same whichever
 * encoder wrote it; tests/gateway/gw_jw_test.c compares the two byte for byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_jw.h"

#define JW_MAX (16u << 20) /* a document beyond this is refused (500) */

void
gw_jw_init(gw_jw *w)
{
	memset(w, 0, sizeof(*w));
	amlrisk_buf_init(&w->b, JW_MAX);
}

void
gw_jw_free(gw_jw *w)
{
	amlrisk_buf_free(&w->b);
	gw_jw_init(w);
}

static void
put(gw_jw *w, const char *s, size_t n)
{
	amlrisk_buf_add(&w->b, s, n);
}

/* The comma between members of the open container. */
static void
comma(gw_jw *w)
{
	if (w->n[w->depth - 1]) {
		put(w, ",", 1);
	}
	w->n[w->depth - 1] = 1;
}

/* Before a value (containers included): one value at the top; in an object
 * only right after its key; in an array after a comma. */
static void
value_start(gw_jw *w)
{
	if (w->depth == 0) {
		w->failed |= w->top;
		w->top = 1;
	} else if (w->kind[w->depth - 1] == '{') {
		w->failed |= !w->after_key;
		w->after_key = 0;
	} else {
		comma(w);
	}
}

static void
open_c(gw_jw *w, char c)
{
	value_start(w);
	if (w->depth == GW_JW_DEPTH) {
		w->failed = 1;
		return;
	}
	w->kind[w->depth] = (unsigned char)c;
	w->n[w->depth++] = 0;
	put(w, &c, 1);
}

static void
close_c(gw_jw *w, char c)
{
	if (w->depth == 0 || w->after_key || w->kind[w->depth - 1] != (c == '}' ? '{' : '[')) {
		w->failed = 1;
		return;
	}
	w->depth--;
	put(w, &c, 1);
}

void
gw_jw_obj(gw_jw *w)
{
	open_c(w, '{');
}

void
gw_jw_obj_end(gw_jw *w)
{
	close_c(w, '}');
}

void
gw_jw_arr(gw_jw *w)
{
	open_c(w, '[');
}

void
gw_jw_arr_end(gw_jw *w)
{
	close_c(w, ']');
}

/* Length of the UTF-8 sequence at s, or 0 when it is not one (overlong forms,
 * surrogates and code points past U+10FFFF included). */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned cp;
	size_t n, i;

	if (s[0] < 0x80) {
		return 1;
	}
	if (s[0] < 0xc2 || s[0] > 0xf4) {
		return 0;
	}
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0; /* also stops at the NUL */
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	return n;
}

/* A quoted, escaped string: ", \ and control characters escaped, the rest as is. */
static void
quoted(gw_jw *w, const char *str)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char short_from[] = "\"\\\b\f\n\r\t", short_to[] = "\"\\bfnrt";
	const char *e;
	const unsigned char *s = (const unsigned char *)str, *run = s;
	size_t n;

	put(w, "\"", 1);
	while (*s != '\0') {
		char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
		size_t elen = 2;

		if (*s >= 0x20 && *s != '"' && *s != '\\') {
			if ((n = utf8_len(s)) == 0) {
				w->failed = 1;
				return;
			}
			s += n;
			continue;
		}
		put(w, (const char *)run, (size_t)(s - run));
		if ((e = memchr(short_from, *s, sizeof(short_from) - 1)) != NULL) {
			esc[1] = short_to[e - short_from];
		} else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[*s >> 4];
			esc[5] = hex[*s & 0xf];
			elen = 6;
		}
		put(w, esc, elen);
		run = ++s;
	}
	put(w, (const char *)run, (size_t)(s - run));
	put(w, "\"", 1);
}

void
gw_jw_key(gw_jw *w, const char *s)
{
	if (w->depth == 0 || w->kind[w->depth - 1] != '{' || w->after_key) {
		w->failed = 1;
		return;
	}
	comma(w);
	quoted(w, s);
	put(w, ":", 1);
	w->after_key = 1;
}

void
gw_jw_str(gw_jw *w, const char *s)
{
	value_start(w);
	quoted(w, s != NULL ? s : "");
}

void
gw_jw_int(gw_jw *w, int64_t v)
{
	value_start(w);
	if (v < 0) {
		put(w, "-", 1);
	}
	amlrisk_buf_add_u64(&w->b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

void
gw_jw_num(gw_jw *w, double v)
{
	char tmp[40], *e;
	int n;

	if (!isfinite(v)) {
		value_start(w);
		put(w, "null", 4);
		return;
	}
	value_start(w);
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	if (n <= 0 || (size_t)n >= sizeof(tmp) - 3) {
		w->failed = 1;
		return;
	}
	if ((e = strchr(tmp, 'e')) == NULL) {
		if (strchr(tmp, '.') == NULL) {
			memcpy(tmp + n, ".0", 3); /* stays a real when read back */
			n += 2;
		}
	} else {
		/* exponent without '+' or leading zeros: 1e+300 -> 1e300, 1e-07 -> 1e-7 */
		char *d = e + 1, *s = e + 1;

		if (*s == '-') {
			d++;
			s++;
		} else if (*s == '+') {
			s++;
		}
		while (*s == '0' && s[1] != '\0') {
			s++;
		}
		memmove(d, s, strlen(s) + 1);
		n = (int)strlen(tmp);
	}
	put(w, tmp, (size_t)n);
}

void
gw_jw_bool(gw_jw *w, int v)
{
	value_start(w);
	if (v) {
		put(w, "true", 4);
	} else {
		put(w, "false", 5);
	}
}

void
gw_jw_reply(gw_jw *w, gw_reply *rep, int status)
{
	put(w, "", 1); /* the NUL, not counted in the body's length */
	if (w->failed || w->b.failed || w->depth != 0 || w->b.len < 2) {
		gw_jw_free(w);
		gw_reply_unencodable(rep);
		return;
	}
	gw_reply_owned(rep, status, GW_CT_JSON, w->b.data, w->b.len - 1);
	gw_jw_init(w);
}
