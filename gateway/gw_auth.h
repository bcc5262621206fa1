/* gw_auth.h - the bearer token of the POST endpoints (AML_API_TOKEN): a header
 * value checked against the token in time that does not depend on where they differ. */
#ifndef GW_AUTH_H
#define GW_AUTH_H

/* 1 when header (the Authorization value, may be NULL) is "Bearer <token>" with
 * exactly token, else 0. The comparison time depends only on token's length. */
int gw_auth_check(const char *token, const char *header);

#endif
