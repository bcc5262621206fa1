/* gw_jw.c - the gateway's JSON writer (see gw_jw.h). Escaping and UTF-8
 * checks follow what Jansson's dump does, numbers are amlrisk_fmt_double()'s;
 * tests/gateway/gw_jw_test.c compares strings and nesting with json_dumps
 * byte for byte. Trees are the gateway's own (at most a few levels deep). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_fmt.h"
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
	char tmp[AMLRISK_FMT_DOUBLE_MAX];

	if (!isfinite(v)) {
		gw_jw_null(w);
		return;
	}
	value_start(w);
	put(w, tmp, amlrisk_fmt_double(tmp, sizeof(tmp), v));
}

void
gw_jw_null(gw_jw *w)
{
	value_start(w);
	put(w, "null", 4);
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

/* The key of a raw marker's one member: it begins with a NUL, which no key the
 * gateway writes has, and the trees written here hold no parsed client text. */
static const char raw_key[] = "\0amlrisk:raw";
#define RAW_KEY_LEN (sizeof(raw_key) - 1)

json_t *
gw_jw_raw_new(const char *text)
{
	/* integers as reals: the check must not refuse a uint64 */
	json_t *parsed = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
	json_t *marker;

	if (parsed == NULL) {
		return NULL;
	}
	json_decref(parsed);
	if ((marker = json_object()) == NULL ||
	    json_object_setn_new(marker, raw_key, RAW_KEY_LEN, json_string(text)) != 0) {
		json_decref(marker);
		return NULL;
	}
	return marker;
}

/* The text of v when it is a raw marker, else NULL. */
static const char *
raw_text(const json_t *v)
{
	return json_object_size(v) == 1
	               ? json_string_value(json_object_getn(v, raw_key, RAW_KEY_LEN))
	               : NULL;
}

/* Writes raw (one valid JSON value) as one value, compact: the whitespace
 * between tokens dropped, everything else as it is. */
static void
raw_put(gw_jw *w, const char *raw)
{
	const char *run = raw, *s;
	int in_str = 0;

	value_start(w);
	for (s = raw; *s != '\0'; s++) {
		if (in_str) {
			if (*s == '\\' && s[1] != '\0') {
				s++;
			} else if (*s == '"') {
				in_str = 0;
			}
		} else if (*s == '"') {
			in_str = 1;
		} else if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			put(w, run, (size_t)(s - run));
			run = s + 1;
		}
	}
	put(w, run, (size_t)(s - run));
}

void
gw_jw_json(gw_jw *w, const json_t *v)
{
	const char *key, *raw;
	json_t *item;
	size_t i;

	if (w->failed) {
		return; /* also bounds the recursion: nesting past GW_JW_DEPTH fails */
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if ((raw = raw_text(v)) != NULL) {
			raw_put(w, raw);
			return;
		}
		gw_jw_obj(w);
		json_object_foreach((json_t *)v, key, item)
		{
			gw_jw_key(w, key);
			gw_jw_json(w, item);
		}
		gw_jw_obj_end(w);
		return;
	case JSON_ARRAY:
		gw_jw_arr(w);
		json_array_foreach(v, i, item)
		{
			gw_jw_json(w, item);
		}
		gw_jw_arr_end(w);
		return;
	case JSON_STRING:
		gw_jw_str(w, json_string_value(v));
		return;
	case JSON_INTEGER:
		gw_jw_int(w, json_integer_value(v));
		return;
	case JSON_REAL:
		gw_jw_num(w, json_real_value(v));
		return;
	case JSON_TRUE:
	case JSON_FALSE:
		gw_jw_bool(w, json_is_true(v));
		return;
	case JSON_NULL:
		gw_jw_null(w);
		return;
	}
}
