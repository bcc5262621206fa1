/* gw_param.c - percent-decoding, the query string's check and lookup, and
 * bounded parameters for the gateway's handlers. Inputs are at most the URL
 * limit (8 KiB) with at most GW_QUERY_PARAMS_MAX parameters, checked once per
 * request, so a linear scan of the query per parameter is cheaper than
 * building a map. */
#define _DEFAULT_SOURCE /* timegm */
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "gw_param.h"

#define INT_TEXT_MAX 32
#define NAME_SHOWN   40 /* bytes of a parameter name quoted in an error */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int
gw_param_decode(const char *src, size_t len, int plus_is_space, char *out, size_t cap,
                size_t *outlen)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		char c = src[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len) {
				return AMLRISK_EINVAL;
			}
			if ((hi = hexval(src[i + 1])) < 0 || (lo = hexval(src[i + 2])) < 0) {
				return AMLRISK_EINVAL;
			}
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (n + 1 >= cap) {
			return AMLRISK_ETOOBIG;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	*outlen = n;
	return AMLRISK_OK;
}

/* The end of the parameter that starts at q: its '&' or the end of the query. */
static const char *
pair_end(const char *q)
{
	const char *e = strchr(q, '&');

	return e != NULL ? e : q + strlen(q);
}

/* Length of the name part of the parameter [p, e): up to '=' or e. */
static size_t
name_len(const char *p, const char *e)
{
	const char *eq = memchr(p, '=', (size_t)(e - p));

	return (size_t)((eq != NULL ? eq : e) - p);
}

int
gw_param_query_check(const char *query, char *why, size_t whylen)
{
	const char *names[GW_QUERY_PARAMS_MAX], *p, *e;
	size_t lens[GW_QUERY_PARAMS_MAX], n = 0;

	for (p = query; *p != '\0'; p = *e == '&' ? e + 1 : e) {
		e = pair_end(p);
		for (const char *c = p; c < e; c++) {
			unsigned char b = (unsigned char)*c;

			if (b < 0x20 || b == 0x7f) {
				snprintf(why, whylen, "query: control byte at byte %zu",
				         (size_t)(c - query));
				return AMLRISK_EINVAL;
			}
			if (b == '%' && (e - c < 3 || hexval(c[1]) < 0 || hexval(c[2]) < 0)) {
				snprintf(why, whylen, "query: bad percent-encoding at byte %zu",
				         (size_t)(c - query));
				return AMLRISK_EINVAL;
			}
			if (b == '%' && c[1] == '0' && c[2] == '0') {
				snprintf(why, whylen, "query: %%00 at byte %zu",
				         (size_t)(c - query));
				return AMLRISK_EINVAL;
			}
		}
		if (e == p) {
			continue; /* "a=1&&b=2" */
		}
		if (n == GW_QUERY_PARAMS_MAX) {
			snprintf(why, whylen, "query: more than %d parameters",
			         GW_QUERY_PARAMS_MAX);
			return AMLRISK_EINVAL;
		}
		names[n] = p;
		lens[n] = name_len(p, e);
		for (size_t i = 0; i < n; i++) {
			if (lens[i] == lens[n] && memcmp(names[i], p, lens[n]) == 0) {
				snprintf(why, whylen,
				         "query: parameter '%.*s' given more than once",
				         (int)(lens[n] < NAME_SHOWN ? lens[n] : NAME_SHOWN), p);
				return AMLRISK_EINVAL;
			}
		}
		n++;
	}
	return AMLRISK_OK;
}

int
gw_param_get(const char *query, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name), vlen = 0, dlen;
	const char *p, *e, *val = NULL;
	int rv;

	for (p = query; *p != '\0'; p = *e == '&' ? e + 1 : e) {
		size_t nl;

		e = pair_end(p);
		nl = name_len(p, e);
		if (nl == nlen && memcmp(p, name, nlen) == 0) {
			val = p + nl < e ? p + nl + 1 : e; /* after '=', or "" */
			vlen = (size_t)(e - val);
		}
	}
	if (val == NULL) {
		return AMLRISK_ENOTFOUND;
	}
	if ((rv = gw_param_decode(val, vlen, 1, out, cap, &dlen)) != AMLRISK_OK) {
		return rv;
	}
	return memchr(out, '\0', dlen) != NULL ? AMLRISK_EINVAL : AMLRISK_OK;
}

int
gw_param_int(const char *query, const char *name, int64_t min, int64_t max, int64_t dflt,
             int64_t *out, char *why, size_t whylen)
{
	char text[INT_TEXT_MAX];
	int64_t v;
	int rv;

	if ((rv = gw_param_get(query, name, text, sizeof(text))) == AMLRISK_ENOTFOUND) {
		*out = dflt;
		return AMLRISK_OK;
	}
	/* a sign or a digit first: no space or '+' that strtoll would take */
	if (rv != AMLRISK_OK || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) ||
	    amlrisk_parse_i64(&v, text, min, max) != AMLRISK_OK) {
		snprintf(why, whylen, "%s: must be an integer between %" PRId64 " and %" PRId64,
		         name, min, max);
		return AMLRISK_EINVAL;
	}
	*out = v;
	return AMLRISK_OK;
}

int
gw_param_wallet(const char *seg, size_t len, char *out, size_t cap, char *why, size_t whylen)
{
	const char *reason = NULL;
	size_t n = 0;
	int rv;

	if ((rv = gw_param_decode(seg, len, 0, out, cap, &n)) != AMLRISK_OK) {
		if (rv == AMLRISK_EINVAL) {
			snprintf(why, whylen, "wallet: bad percent-encoding");
		} else {
			snprintf(why, whylen, "wallet: longer than %d bytes", AMLRISK_WALLET_MAX);
		}
		return AMLRISK_EINVAL;
	}
	if (amlrisk_tx_check_id(out, n, AMLRISK_WALLET_MAX, &reason) != 0) {
		snprintf(why, whylen, "wallet: %s", reason != NULL ? reason : "invalid");
		return AMLRISK_EINVAL;
	}
	return AMLRISK_OK;
}

int
gw_param_run_id(const char *seg, size_t len, int64_t *out, char *why, size_t whylen)
{
	char text[INT_TEXT_MAX];
	size_t n = 0;
	int64_t id;

	if (gw_param_decode(seg, len, 0, text, sizeof(text), &n) != AMLRISK_OK || n == 0 ||
	    strspn(text, "0123456789") != n || amlrisk_parse_i64(&id, text, 1, INT64_MAX) != 0) {
		snprintf(why, whylen, "run_id: must be an integer between 1 and %" PRId64,
		         INT64_MAX);
		return AMLRISK_EINVAL;
	}
	*out = id;
	return AMLRISK_OK;
}

#define TIME_TEXT_MAX 40

int
gw_param_time(const char *query, const char *name, int64_t *out, char *why, size_t whylen)
{
	char text[TIME_TEXT_MAX], frac[8] = "";
	struct tm tm = {0};
	int consumed = 0, rv, fl = 0, i;
	int64_t us = 0;
	time_t secs;

	*out = 0;
	if ((rv = gw_param_get(query, name, text, sizeof(text))) == AMLRISK_ENOTFOUND) {
		return AMLRISK_OK;
	}
	if (rv == AMLRISK_OK &&
	    sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) == 6 &&
	    consumed == 19) {
		const char *p = text + consumed;

		if (*p == '.') {
			for (p++; *p >= '0' && *p <= '9'; p++) {
				if (fl < 6) {
					frac[fl++] = *p;
				}
			}
			if (fl == 0) {
				p = "bad";
			}
		}
		for (i = 0; i < 6; i++) {
			us = us * 10 + (i < fl ? frac[i] - '0' : 0);
		}
		if (strcmp(p, "Z") == 0 && tm.tm_year >= 1970 && tm.tm_mon >= 1 &&
		    tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 && tm.tm_hour <= 23 &&
		    tm.tm_min <= 59 && tm.tm_sec <= 60) {
			tm.tm_year -= 1900;
			tm.tm_mon -= 1;
			secs = timegm(&tm);
			if (secs >= 0) {
				*out = (int64_t)secs * 1000000 + us;
				return AMLRISK_OK;
			}
		}
	}
	snprintf(why, whylen,
	         "%s: must be an RFC 3339 UTC time such as 2026-12-04T12:30:00Z (fraction "
	         "optional)",
	         name);
	return AMLRISK_EINVAL;
}

int
gw_param_overrides(const char *body, size_t len, char **out, char *why, size_t whylen)
{
	const char *nul = len > 0 ? memchr(body, '\0', len) : NULL;
	char *text;
	size_t i;

	if (nul != NULL) {
		snprintf(why, whylen,
		         "body: NUL byte at byte %zu (expected a JSON object of config overrides)",
		         (size_t)(nul - body));
		return AMLRISK_EINVAL;
	}
	for (i = 0; i < len && strchr(" \t\r\n", body[i]) != NULL; i++) {
	}
	text = i == len ? strdup("") : strndup(body, len);
	if (text == NULL) {
		snprintf(why, whylen, "out of memory");
		return AMLRISK_ENOMEM;
	}
	*out = text;
	return AMLRISK_OK;
}
