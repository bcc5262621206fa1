/* gw_auth.h - bearer tokens: the write token of the POST endpoints
 * (AML_API_TOKEN) and the optional read token of the query endpoints
 * (AML_READ_TOKEN), each checked in time that does not depend on where a
 * given value differs. */
#ifndef GW_AUTH_H
#define GW_AUTH_H

/* What a route needs. */
typedef enum gw_auth_level {
	GW_AUTH_NONE = 0, /* open: health, readiness, metrics, the API document */
	GW_AUTH_WRITE,    /* the write token, when one is set */
	GW_AUTH_READ,     /* the read token or the write token, when a read token is set */
} gw_auth_level;

/* 1 when header (the Authorization value, may be NULL) is "Bearer <token>" with
 * exactly token, else 0. The comparison time depends only on token's length. */
int gw_auth_check(const char *token, const char *header);

/* 1 when a request needing level may go on with header. write_token and
 * read_token are NULL when unset. Reads: open without a read token, else
 * either token. Writes: the write token; without one, the read token (setting
 * a read token never leaves writes more open than reads); open without both.
 * Both tokens are compared whenever both are set. */
int gw_auth_allowed(gw_auth_level level, const char *write_token, const char *read_token,
                    const char *header);

#endif
