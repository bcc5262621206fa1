/* gw_param.h - request input parsing: percent-decoding, the query string's
 * syntax and lookup, bounded integer parameters, the wallet id and run id
 * checks. Pure functions over borrowed strings, no I/O; every output buffer is
 * bounded by its caller; each is a fuzz entry point (any bytes in, a clear
 * error out). */
#ifndef GW_PARAM_H
#define GW_PARAM_H

#include <stddef.h>
#include <stdint.h>

#define GW_QUERY_PARAMS_MAX 32 /* parameters in one query string */

/* Percent-decodes src (len bytes) into out (cap bytes, NUL-terminated), '+' as
 * a space when plus_is_space (query strings). *outlen gets the decoded length.
 * Returns AMLRISK_OK, AMLRISK_EINVAL for a bad escape ("%zz", "%4"), or
 * AMLRISK_ETOOBIG when the result does not fit. */
int gw_param_decode(const char *src, size_t len, int plus_is_space, char *out, size_t cap,
                    size_t *outlen);

/* Checks a raw query string (after '?', NUL-terminated) before any parameter
 * is read: at most GW_QUERY_PARAMS_MAX parameters ("a=1&b=2"; empty ones
 * between '&' are skipped), each name given once, every '%' followed by two
 * hex digits, no %00 and no control byte. Returns AMLRISK_OK, or
 * AMLRISK_EINVAL with the reason (and the byte offset) in why. Linear. */
int gw_param_query_check(const char *query, char *why, size_t whylen);

/* Finds the last occurrence of parameter name in query ("a=1&b=2", raw; names
 * compared as sent) and decodes its value into out (cap bytes). Returns
 * AMLRISK_OK, AMLRISK_ENOTFOUND when absent, the errors of gw_param_decode(),
 * or AMLRISK_EINVAL when the value decodes to a NUL byte. */
int gw_param_get(const char *query, const char *name, char *out, size_t cap);

/* Reads the integer parameter name of query into *out: dflt when absent, else
 * a decimal in [min, max]. Returns AMLRISK_OK or AMLRISK_EINVAL with a message
 * naming the parameter in why (whylen bytes). */
int gw_param_int(const char *query, const char *name, int64_t min, int64_t max, int64_t dflt,
                 int64_t *out, char *why, size_t whylen);

/* Decodes the path segment seg (len bytes) into out (cap bytes) and checks it as
 * a wallet id: at most AMLRISK_WALLET_MAX bytes of UTF-8 without control
 * characters (amlrisk_tx_check_id, what the consumer accepts). Returns
 * AMLRISK_OK, or AMLRISK_EINVAL with the reason in why. */
int gw_param_wallet(const char *seg, size_t len, char *out, size_t cap, char *why, size_t whylen);

/* Decodes the path segment seg (len bytes) as a run id: decimal digits only,
 * in [1, INT64_MAX], into *out. Returns AMLRISK_OK, or AMLRISK_EINVAL with
 * the reason in why. */
int gw_param_run_id(const char *seg, size_t len, int64_t *out, char *why, size_t whylen);

/* Reads the time parameter name of query into *out as Unix microseconds: 0
 * when absent, else an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SS[.fraction]Z"
 * from 1970 on. Returns AMLRISK_OK or AMLRISK_EINVAL with a message naming
 * the parameter in why. */
int gw_param_time(const char *query, const char *name, int64_t *out, char *why, size_t whylen);

/* The POST /run-score body (len bytes, not NUL-terminated) as the text the
 * core's RunScore reads (its exact JSON reader judges the rest): the body as
 * sent, or "" (the defaults) when it is blank. A NUL byte, which the RPC field
 * (a C string) cannot carry, is refused. Returns AMLRISK_OK with *out a
 * malloc()ed string the caller frees, AMLRISK_EINVAL with the byte offset of
 * the NUL in why, or AMLRISK_ENOMEM. */
int gw_param_overrides(const char *body, size_t len, char **out, char *why, size_t whylen);

#endif
