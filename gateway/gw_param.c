/* gw_param.c - percent-decoding, query lookup and bounded parameters for the
 * gateway's handlers. Inputs are at most the URL limit (8 KiB), so a linear
 * scan of the query per parameter is cheaper than building a map. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "gw_param.h"

#define INT_TEXT_MAX 32

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

int
gw_param_get(const char *query, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = query, *val = NULL;
	size_t vlen = 0, dlen;

	while (*p != '\0') {
		const char *end = strchr(p, '&');
		const char *eq;
		size_t plen = end != NULL ? (size_t)(end - p) : strlen(p);

		eq = memchr(p, '=', plen);
		if ((eq != NULL ? (size_t)(eq - p) : plen) == nlen && memcmp(p, name, nlen) == 0) {
			val = eq != NULL ? eq + 1 : p + plen;
			vlen = eq != NULL ? plen - nlen - 1 : 0;
		}
		p += plen;
		if (*p == '&') {
			p++;
		}
	}
	if (val == NULL) {
		return AMLRISK_ENOTFOUND;
	}
	return gw_param_decode(val, vlen, 1, out, cap, &dlen);
}

int
gw_param_int(const char *query, const char *name, int64_t min, int64_t max, int64_t dflt,
             int64_t *out, char *why, size_t whylen)
{
	char text[INT_TEXT_MAX], *end;
	long long v;
	int rv;

	if ((rv = gw_param_get(query, name, text, sizeof(text))) == AMLRISK_ENOTFOUND) {
		*out = dflt;
		return AMLRISK_OK;
	}
	errno = 0;
	v = rv == AMLRISK_OK ? strtoll(text, &end, 10) : 0;
	if (rv != AMLRISK_OK || text[0] == '\0' || *end != '\0' || errno != 0 || v < min ||
	    v > max || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9'))) {
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
