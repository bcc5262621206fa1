/* core_config.c - the run config of both models (hop_exposure/v1 and
 * flow_exposure/v1): defaults per model, validation, a strict reader for its
 * JSON object (the "model" key, wherever it stands, picks the keys allowed),
 * and the canonical JSON stored in scoring_runs.config_json. Read once per run;
 * clarity over speed. The reader is our own because illicit_seed is a uint64
 * and jansson's integers stop at 2^63-1. */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_fmt.h"
#include "core_impl.h"

#define KEY_MAX   64  /* longer keys are unknown anyway; reported truncated */
#define STR_MAX   64  /* longest string value a key accepts */
#define NUM_MAX   400 /* characters of one number token */
#define DEPTH_MAX 32

static _Atomic uint64_t default_seed = 42;
static _Atomic int default_model = CORE_MODEL_HOP;

static const char *const dir_names[] = {"any", "in", "out", "both"};
static const char *const count_names[] = {"within", "exact"};
static const char *const model_names[] = {CORE_MODEL_HOP_NAME, CORE_MODEL_FLOW_NAME};
static const char *const side_names[] = {"both", "received", "sent"};

void
core_config_default_seed_set(uint64_t seed)
{
	atomic_store(&default_seed, seed);
}

uint64_t
core_config_default_seed(void)
{
	return atomic_load(&default_seed);
}

void
core_config_default_model_set(core_model m)
{
	atomic_store(&default_model, (int)m);
}

core_model
core_config_default_model(void)
{
	return (core_model)atomic_load(&default_model);
}

/* Every field has its model's default; the fields of the other model keep
 * theirs (they are ignored), so two configs of one model compare equal. */
void
core_config_defaults_model(core_config *out, core_model m)
{
	memset(out, 0, sizeof *out);
	out->model = CORE_MODEL_HOP;
	out->illicit_ratio = 0.05;
	out->illicit_seed = core_config_default_seed();
	out->use_labels = true;
	out->hops = 2;
	out->hop_weights[0] = 1.0;
	out->hop_weights[1] = 0.6;
	out->hop_weights[2] = 0.3;
	out->direction = CORE_DIR_ANY;
	out->count = CORE_COUNT_WITHIN;
	out->degree_normalize = true;
	out->side = CORE_SIDE_BOTH;
	out->smoothing = 1.0;
	if (m == CORE_MODEL_FLOW) {
		out->model = CORE_MODEL_FLOW;
		out->illicit_ratio = 0.0;
		out->hops = 6;
	}
}

void
core_config_defaults(core_config *out)
{
	core_config_defaults_model(out, core_config_default_model());
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return AMLRISK_EINVAL;
}

int
core_config_validate(const core_config *c, char *err, size_t errlen)
{
	if ((unsigned)c->model > CORE_MODEL_FLOW)
		return fail(err, errlen, "model: must be one of %s, %s", CORE_MODEL_HOP_NAME,
		            CORE_MODEL_FLOW_NAME);
	if (!(c->illicit_ratio >= 0.0 && c->illicit_ratio <= 1.0))
		return fail(err, errlen, "illicit_ratio: must be a number in [0, 1]");
	if (c->model == CORE_MODEL_FLOW) {
		if (c->hops < 1 || c->hops > CORE_FLOW_HOPS_MAX)
			return fail(err, errlen, "hops: must be an integer in [1, %d]",
			            CORE_FLOW_HOPS_MAX);
		if ((unsigned)c->side > CORE_SIDE_SENT)
			return fail(err, errlen, "side: must be one of both, received, sent");
		if (!isfinite(c->smoothing) || c->smoothing < 0)
			return fail(err, errlen, "smoothing: must be a finite number >= 0");
		return AMLRISK_OK;
	}
	if (c->hops > CORE_HOPS_MAX)
		return fail(err, errlen, "hop_weights: must hold 1 to %d numbers",
		            CORE_HOPS_MAX + 1);
	for (unsigned k = 0; k <= c->hops; k++)
		if (!isfinite(c->hop_weights[k]) || c->hop_weights[k] < 0)
			return fail(err, errlen, "hop_weights[%u]: must be a finite number >= 0",
			            k);
	if ((unsigned)c->direction > CORE_DIR_BOTH)
		return fail(err, errlen, "direction: must be one of any, in, out, both");
	if ((unsigned)c->count > CORE_COUNT_EXACT)
		return fail(err, errlen, "count: must be one of within, exact");
	return AMLRISK_OK;
}

static int
name_find(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* The index of s among names into *out (an enum in the names' order):
 * AMLRISK_OK, or AMLRISK_EINVAL and *out left alone. */
static int
name_parse(const char *s, const char *const *names, int n, int *out)
{
	int i = name_find(s, names, n);
	if (i < 0)
		return AMLRISK_EINVAL;
	*out = i;
	return AMLRISK_OK;
}

int
core_direction_parse(const char *s, core_direction *out)
{
	return name_parse(s, dir_names, 4, (int *)out);
}

int
core_count_parse(const char *s, core_count *out)
{
	return name_parse(s, count_names, 2, (int *)out);
}

int
core_model_parse(const char *s, core_model *out)
{
	return name_parse(s, model_names, 2, (int *)out);
}

const char *
core_model_name(core_model m)
{
	return (unsigned)m <= CORE_MODEL_FLOW ? model_names[m] : "?";
}

int
core_side_parse(const char *s, core_side *out)
{
	return name_parse(s, side_names, 3, (int *)out);
}

const char *
core_side_name(core_side s)
{
	return (unsigned)s <= CORE_SIDE_SENT ? side_names[s] : "?";
}

const char *
core_direction_name(core_direction d)
{
	return (unsigned)d <= CORE_DIR_BOTH ? dir_names[d] : "?";
}

const char *
core_count_name(core_count c)
{
	return (unsigned)c <= CORE_COUNT_EXACT ? count_names[c] : "?";
}

int
core_config_seed_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (s == NULL || *s == '\0')
		return AMLRISK_EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return AMLRISK_EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return AMLRISK_EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return AMLRISK_OK;
}

/* ------------------------------------------------------ the JSON reader --- */

typedef struct reader {
	const char *p, *start, *end;
	char *err;
	size_t errlen;
	const char *key; /* whose value is being read, for messages */
} reader;

typedef enum { V_NUMBER, V_STRING, V_TRUE, V_FALSE, V_NULL, V_ARRAY, V_OBJECT } vtype;

static int
syntax(reader *r, const char *what)
{
	return fail(r->err, r->errlen, "%s%sinvalid JSON at byte %zu: %s", r->key ? r->key : "",
	            r->key ? ": " : "", (size_t)(r->p - r->start), what);
}

static void
skip_ws(reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static vtype
peek_type(const reader *r)
{
	if (r->p >= r->end)
		return V_NULL;
	switch (*r->p) {
	case '"':
		return V_STRING;
	case '[':
		return V_ARRAY;
	case '{':
		return V_OBJECT;
	case 't':
		return V_TRUE;
	case 'f':
		return V_FALSE;
	case 'n':
		return V_NULL;
	default:
		return V_NUMBER;
	}
}

static int
hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads a string at r->p into out (NUL-terminated, at most cap-1 bytes kept;
 * *truncated set when more were there). */
static int
read_string(reader *r, char *out, size_t cap, bool *truncated)
{
	size_t n = 0;
	*truncated = false;
	r->p++; /* the quote */
	for (;;) {
		char buf[4];
		size_t bl;
		if (r->p >= r->end)
			return syntax(r, "unterminated string");
		unsigned char c = (unsigned char)*r->p;
		if (c == '"') {
			r->p++;
			break;
		}
		if (c < 0x20)
			return syntax(r, "control character in string");
		if (c != '\\') {
			buf[0] = (char)c;
			bl = 1;
			r->p++;
		} else {
			if (r->end - r->p < 2)
				return syntax(r, "unterminated string");
			char e = r->p[1];
			const char *esc = strchr("\"\\/bfnrt", e);
			if (e != 'u') {
				if (e == '\0' || esc == NULL)
					return syntax(r, "bad escape in string");
				buf[0] = "\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrt"];
				bl = 1;
				r->p += 2;
			} else {
				unsigned cp, lo;
				if (r->end - r->p < 6 || hex4(r->p + 2, &cp) != 0)
					return syntax(r, "bad \\u escape");
				r->p += 6;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (r->end - r->p < 6 || r->p[0] != '\\' ||
					    r->p[1] != 'u' || hex4(r->p + 2, &lo) != 0 ||
					    lo < 0xdc00 || lo > 0xdfff)
						return syntax(r, "unpaired surrogate");
					r->p += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					return syntax(r, "unpaired surrogate");
				}
				bl = utf8_put(buf, cp);
			}
		}
		if (n + bl < cap) {
			memcpy(out + n, buf, bl);
			n += bl;
		} else {
			*truncated = true;
		}
	}
	out[n] = '\0';
	return AMLRISK_OK;
}

/* Reads a number token (JSON grammar) into tok; *integer tells whether it has
 * neither fraction nor exponent. */
static int
read_number(reader *r, char *tok, size_t cap, bool *integer)
{
	const char *s = r->p, *p = r->p;
	*integer = true;
	if (p < r->end && *p == '-')
		p++;
	if (p >= r->end || *p < '0' || *p > '9')
		return syntax(r, "expected a value");
	if (*p == '0')
		p++;
	else
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	if (p < r->end && *p == '.') {
		*integer = false;
		p++;
		if (p >= r->end || *p < '0' || *p > '9')
			return syntax(r, "digits expected after '.'");
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < r->end && (*p == 'e' || *p == 'E')) {
		*integer = false;
		p++;
		if (p < r->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= r->end || *p < '0' || *p > '9')
			return syntax(r, "digits expected in exponent");
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	if ((size_t)(p - s) >= cap)
		return syntax(r, "number too long");
	memcpy(tok, s, (size_t)(p - s));
	tok[p - s] = '\0';
	r->p = p;
	return AMLRISK_OK;
}

static int
read_literal(reader *r, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
		return syntax(r, "expected a value");
	r->p += n;
	return AMLRISK_OK;
}

/* Skips any JSON value (used only to check a document's syntax before
 * reporting a key's wrong type would be misleading: never needed for valid
 * keys, which read their own values). */
static int
skip_value(reader *r, int depth)
{
	char tmp[NUM_MAX];
	bool b;
	int rv;
	if (depth > DEPTH_MAX)
		return syntax(r, "nested too deeply");
	skip_ws(r);
	if (r->p >= r->end)
		return syntax(r, "expected a value");
	switch (peek_type(r)) {
	case V_STRING:
		return read_string(r, tmp, sizeof tmp, &b);
	case V_TRUE:
		return read_literal(r, "true");
	case V_FALSE:
		return read_literal(r, "false");
	case V_NULL:
		return read_literal(r, "null");
	case V_NUMBER:
		return read_number(r, tmp, sizeof tmp, &b);
	case V_ARRAY:
	case V_OBJECT: {
		char close = *r->p == '[' ? ']' : '}';
		bool obj = close == '}';
		r->p++;
		skip_ws(r);
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return AMLRISK_OK;
		}
		for (;;) {
			if (obj) {
				skip_ws(r);
				if (r->p >= r->end || *r->p != '"')
					return syntax(r, "expected a key");
				if ((rv = read_string(r, tmp, sizeof tmp, &b)) != 0)
					return rv;
				skip_ws(r);
				if (r->p >= r->end || *r->p != ':')
					return syntax(r, "expected ':'");
				r->p++;
			}
			if ((rv = skip_value(r, depth + 1)) != 0)
				return rv;
			skip_ws(r);
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				continue;
			}
			if (r->p < r->end && *r->p == close) {
				r->p++;
				return AMLRISK_OK;
			}
			return syntax(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		}
	}
	}
	return syntax(r, "expected a value");
}

/* ------------------------------------------------------ the config keys --- */

enum {
	K_MODEL,
	K_RATIO,
	K_SEED,
	K_LABELS,
	K_WEIGHTS,
	K_DIRECTION,
	K_COUNT,
	K_NORMALIZE,
	K_HOPS,
	K_SIDE,
	K_SMOOTHING,
	K_COUNT_OF_KEYS
};

static const char *const key_names[K_COUNT_OF_KEYS] = {
        "model", "illicit_ratio",    "illicit_seed", "use_labels", "hop_weights", "direction",
        "count", "degree_normalize", "hops",         "side",       "smoothing",
};

/* The model a key belongs to; -1 for the keys of both. */
static const int key_model[K_COUNT_OF_KEYS] = {
        -1,
        -1,
        -1,
        -1,
        CORE_MODEL_HOP,
        CORE_MODEL_HOP,
        CORE_MODEL_HOP,
        CORE_MODEL_HOP,
        CORE_MODEL_FLOW,
        CORE_MODEL_FLOW,
        CORE_MODEL_FLOW,
};

static int
wrong_type(reader *r, const char *key, const char *want)
{
	return fail(r->err, r->errlen, "%s: expected %s", key, want);
}

static int
read_double(reader *r, const char *key, const char *want, double *out)
{
	char tok[NUM_MAX];
	bool integer;
	int rv;
	if (peek_type(r) != V_NUMBER)
		return wrong_type(r, key, want);
	if ((rv = read_number(r, tok, sizeof tok, &integer)) != 0)
		return rv;
	*out = strtod(tok, NULL);
	if (!isfinite(*out))
		return fail(r->err, r->errlen, "%s: %s is out of range", key, tok);
	if (*out == 0.0)
		*out = 0.0; /* no -0 */
	return AMLRISK_OK;
}

static int
read_bool(reader *r, const char *key, bool *out)
{
	vtype t = peek_type(r);
	if (t != V_TRUE && t != V_FALSE)
		return wrong_type(r, key, "true or false");
	*out = t == V_TRUE;
	return read_literal(r, *out ? "true" : "false");
}

static int
read_name(reader *r, const char *key, const char *const *names, int n, const char *want, int *out)
{
	char s[STR_MAX];
	bool trunc;
	int rv;
	if (peek_type(r) != V_STRING)
		return wrong_type(r, key, want);
	if ((rv = read_string(r, s, sizeof s, &trunc)) != 0)
		return rv;
	int i = trunc ? -1 : name_find(s, names, n);
	if (i < 0)
		return fail(r->err, r->errlen, "%s: expected %s, got \"%s%s\"", key, want, s,
		            trunc ? "..." : "");
	*out = i;
	return AMLRISK_OK;
}

static int
read_weights(reader *r, core_config *c)
{
	const char *want = "an array of 1 to 11 numbers >= 0";
	unsigned n = 0;
	int rv;
	if (peek_type(r) != V_ARRAY)
		return wrong_type(r, "hop_weights", want);
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == ']')
		return fail(r->err, r->errlen, "hop_weights: expected %s, got []", want);
	for (;;) {
		double w;
		char key[32];
		skip_ws(r);
		if (n > CORE_HOPS_MAX)
			return fail(r->err, r->errlen, "hop_weights: more than %d weights",
			            CORE_HOPS_MAX + 1);
		snprintf(key, sizeof key, "hop_weights[%u]", n);
		if ((rv = read_double(r, key, "a number >= 0", &w)) != 0)
			return rv;
		if (w < 0)
			return fail(r->err, r->errlen, "%s: must be >= 0", key);
		c->hop_weights[n++] = w;
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == ']') {
			r->p++;
			break;
		}
		return syntax(r, "expected ',' or ']'");
	}
	c->hops = n - 1;
	for (unsigned k = n; k <= CORE_HOPS_MAX; k++)
		c->hop_weights[k] = 0.0;
	return AMLRISK_OK;
}

static int
read_key_value(reader *r, int key, core_config *c)
{
	int rv, i;
	uint64_t seed;
	switch (key) {
	case K_MODEL:
		return skip_value(r, 0); /* read by model_find() */
	case K_RATIO:
		if ((rv = read_double(r, "illicit_ratio", "a number in [0, 1]",
		                      &c->illicit_ratio)) != 0)
			return rv;
		if (c->illicit_ratio < 0 || c->illicit_ratio > 1)
			return fail(r->err, r->errlen, "illicit_ratio: must be in [0, 1]");
		return AMLRISK_OK;
	case K_SEED: {
		char tok[NUM_MAX];
		bool integer;
		const char *want = "an integer in [0, 18446744073709551615]";
		if (peek_type(r) != V_NUMBER)
			return wrong_type(r, "illicit_seed", want);
		if ((rv = read_number(r, tok, sizeof tok, &integer)) != 0)
			return rv;
		if (!integer || core_config_seed_parse(tok, &seed) != 0)
			return fail(r->err, r->errlen, "illicit_seed: expected %s, got %s", want,
			            tok);
		c->illicit_seed = seed;
		return AMLRISK_OK;
	}
	case K_LABELS:
		return read_bool(r, "use_labels", &c->use_labels);
	case K_WEIGHTS:
		return read_weights(r, c);
	case K_DIRECTION:
		if ((rv = read_name(r, "direction", dir_names, 4, "one of any, in, out, both",
		                    &i)) != 0)
			return rv;
		c->direction = (core_direction)i;
		return AMLRISK_OK;
	case K_COUNT:
		if ((rv = read_name(r, "count", count_names, 2, "one of within, exact", &i)) != 0)
			return rv;
		c->count = (core_count)i;
		return AMLRISK_OK;
	case K_NORMALIZE:
		return read_bool(r, "degree_normalize", &c->degree_normalize);
	case K_HOPS: {
		char tok[NUM_MAX];
		bool integer;
		uint64_t h;
		if (peek_type(r) != V_NUMBER)
			return wrong_type(r, "hops", "an integer in [1, 32]");
		if ((rv = read_number(r, tok, sizeof tok, &integer)) != 0)
			return rv;
		if (!integer || core_config_seed_parse(tok, &h) != 0 || h < 1 ||
		    h > CORE_FLOW_HOPS_MAX)
			return fail(r->err, r->errlen,
			            "hops: expected an integer in [1, %d], got %s",
			            CORE_FLOW_HOPS_MAX, tok);
		c->hops = (unsigned)h;
		return AMLRISK_OK;
	}
	case K_SIDE:
		if ((rv = read_name(r, "side", side_names, 3, "one of both, received, sent", &i)) !=
		    0)
			return rv;
		c->side = (core_side)i;
		return AMLRISK_OK;
	case K_SMOOTHING:
		if ((rv = read_double(r, "smoothing", "a finite number >= 0", &c->smoothing)) != 0)
			return rv;
		if (c->smoothing < 0)
			return fail(r->err, r->errlen, "smoothing: must be >= 0");
		return AMLRISK_OK;
	}
	return AMLRISK_EINTERNAL;
}

/* Reads the object's opening brace. */
static int
object_open(reader *r)
{
	if (r->start == NULL)
		return fail(r->err, r->errlen, "invalid JSON: no text");
	skip_ws(r);
	if (r->p >= r->end || *r->p != '{')
		return syntax(r, "the config must be a JSON object");
	r->p++;
	skip_ws(r);
	return AMLRISK_OK;
}

/* Reads a member's key and colon; *k is its index, or -1 for an unknown key
 * (name holds it, truncated when *trunc). */
static int
member_key(reader *r, char *name, size_t cap, bool *trunc, int *k)
{
	int rv;
	skip_ws(r);
	if (r->p >= r->end || *r->p != '"')
		return syntax(r, "expected a key");
	if ((rv = read_string(r, name, cap, trunc)) != 0)
		return rv;
	skip_ws(r);
	if (r->p >= r->end || *r->p != ':')
		return syntax(r, "expected ':'");
	r->p++;
	skip_ws(r);
	*k = *trunc ? -1 : name_find(name, key_names, K_COUNT_OF_KEYS);
	return AMLRISK_OK;
}

/* After a member: 1 when another follows (the comma read), 0 at the closing
 * brace (read, and nothing but white space after it). */
static int
member_next(reader *r, int *more)
{
	skip_ws(r);
	if (r->p < r->end && *r->p == ',') {
		r->p++;
		*more = 1;
		return AMLRISK_OK;
	}
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		skip_ws(r);
		if (r->p != r->end)
			return syntax(r, "trailing characters after the object");
		*more = 0;
		return AMLRISK_OK;
	}
	return syntax(r, "expected ',' or '}'");
}

/* The first pass: checks the whole document's syntax and reads its "model"
 * key, wherever it stands (*found false without one). A broken document is
 * reported as such, never as a bad key. */
static int
model_find(reader r, core_model *model, bool *found)
{
	int rv, more = 1;
	*found = false;
	if ((rv = object_open(&r)) != 0)
		return rv;
	if (r.p < r.end && *r.p == '}')
		return member_next(&r, &more);
	while (more) {
		char key[KEY_MAX], s[STR_MAX];
		bool trunc;
		int k;
		if ((rv = member_key(&r, key, sizeof key, &trunc, &k)) != 0)
			return rv;
		r.key = k >= 0 ? key_names[k] : NULL;
		if (k == K_MODEL && peek_type(&r) == V_STRING && !*found) {
			if ((rv = read_string(&r, s, sizeof s, &trunc)) != 0)
				return rv;
			if (trunc || core_model_parse(s, model) != 0)
				return fail(r.err, r.errlen,
				            "model: unknown model \"%s%s\" (one of %s, %s)", s,
				            trunc ? "..." : "", CORE_MODEL_HOP_NAME,
				            CORE_MODEL_FLOW_NAME);
			*found = true;
		} else if (k == K_MODEL && !*found) {
			if ((rv = skip_value(&r, 0)) != 0)
				return rv;
			return wrong_type(&r, "model",
			                  "one of \"" CORE_MODEL_HOP_NAME
			                  "\", \"" CORE_MODEL_FLOW_NAME "\"");
		} else if ((rv = skip_value(&r, 0)) != 0) {
			return rv;
		}
		r.key = NULL;
		if ((rv = member_next(&r, &more)) != 0)
			return rv;
	}
	return AMLRISK_OK;
}

int
core_config_merge(core_config *out, const core_config *base, const char *json, size_t len,
                  char *err, size_t errlen)
{
	reader r = {json, json, json ? json + len : NULL, err, errlen, NULL};
	core_config c = *base;
	core_model model;
	bool seen[K_COUNT_OF_KEYS] = {false}, named;
	int rv, more = 1;
	if ((rv = model_find(r, &model, &named)) != 0)
		return rv;
	if (named && model != base->model)
		core_config_defaults_model(&c, model);
	object_open(&r);
	if (r.p < r.end && *r.p == '}')
		more = 0;
	while (more) {
		char key[KEY_MAX];
		bool trunc;
		int k;
		member_key(&r, key, sizeof key, &trunc, &k);
		if (k < 0)
			return fail(err, errlen, "%s%s: unknown key", key, trunc ? "..." : "");
		if (seen[k])
			return fail(err, errlen, "%s: duplicate key", key);
		seen[k] = true;
		if (key_model[k] >= 0 && key_model[k] != (int)c.model)
			return fail(err, errlen, "%s: not a key of %s (it is one of %s)", key,
			            model_names[c.model], model_names[key_model[k]]);
		r.key = key_names[k];
		if ((rv = read_key_value(&r, k, &c)) != 0)
			return rv;
		r.key = NULL;
		member_next(&r, &more); /* the first pass checked the syntax */
	}
	if ((rv = core_config_validate(&c, err, errlen)) != 0)
		return rv;
	*out = c;
	return AMLRISK_OK;
}

int
core_config_parse(core_config *out, const char *json, size_t len, char *err, size_t errlen)
{
	core_config d;
	core_config_defaults(&d);
	return core_config_merge(out, &d, json, len, err, errlen);
}

/* ------------------------------------------------------------- writing --- */

/* The shortest text that reads back as v; -0 is written 0.0, as the reader
 * makes it (the canonical config has no negative zero). */
static void
format_number(char num[AMLRISK_FMT_DOUBLE_MAX], double v)
{
	amlrisk_fmt_double(num, AMLRISK_FMT_DOUBLE_MAX, v == 0.0 ? 0.0 : v);
}

int
core_config_to_json(const core_config *c, char *buf, size_t buflen, size_t *outlen)
{
	char tmp[CORE_CONFIG_JSON_MAX], num[AMLRISK_FMT_DOUBLE_MAX];
	size_t n = 0;
	if (core_config_validate(c, NULL, 0) != 0)
		return AMLRISK_EINVAL;
	format_number(num, c->illicit_ratio);
	n += (size_t)snprintf(tmp + n, sizeof tmp - n,
	                      "{\"model\":\"%s\",\"illicit_ratio\":%s,\"illicit_seed\":%llu,"
	                      "\"use_labels\":%s,",
	                      model_names[c->model], num, (unsigned long long)c->illicit_seed,
	                      c->use_labels ? "true" : "false");
	if (c->model == CORE_MODEL_FLOW) {
		format_number(num, c->smoothing);
		n += (size_t)snprintf(tmp + n, sizeof tmp - n,
		                      "\"hops\":%u,\"side\":\"%s\",\"smoothing\":%s}", c->hops,
		                      side_names[c->side], num);
	} else {
		n += (size_t)snprintf(tmp + n, sizeof tmp - n, "\"hop_weights\":[");
		for (unsigned k = 0; k <= c->hops; k++) {
			format_number(num, c->hop_weights[k]);
			n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%s%s", k ? "," : "", num);
		}
		n += (size_t)snprintf(
		        tmp + n, sizeof tmp - n,
		        "],\"direction\":\"%s\",\"count\":\"%s\",\"degree_normalize\":%s}",
		        dir_names[c->direction], count_names[c->count],
		        c->degree_normalize ? "true" : "false");
	}
	if (n + 1 > buflen)
		return AMLRISK_ETOOBIG;
	memcpy(buf, tmp, n + 1);
	if (outlen != NULL)
		*outlen = n;
	return AMLRISK_OK;
}
