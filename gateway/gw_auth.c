/* gw_auth.c - constant-time bearer token checks. Called once per request that
 * needs a token; the cost is one pass over each configured token whatever the
 * client sent. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "gw_auth.h"

#define SCHEME "Bearer "

int
gw_auth_check(const char *token, const char *header)
{
	size_t tlen = strlen(token), glen, i;
	const char *given;
	volatile unsigned char diff = 0;

	if (header == NULL || strncasecmp(header, SCHEME, sizeof(SCHEME) - 1) != 0) {
		return 0;
	}
	given = header + sizeof(SCHEME) - 1;
	glen = strlen(given);
	/* every byte of the token is visited; a shorter or longer value differs */
	diff |= (unsigned char)(glen != tlen);
	for (i = 0; i < tlen; i++) {
		diff |= (unsigned char)(token[i] ^ given[i < glen ? i : 0]);
	}
	return tlen > 0 && diff == 0;
}

int
gw_auth_allowed(gw_auth_level level, const char *write_token, const char *read_token,
                const char *header)
{
	const char *t;
	int w, r;

	switch (level) {
	case GW_AUTH_NONE:
		return 1;
	case GW_AUTH_WRITE:
		t = write_token != NULL ? write_token : read_token;
		return t == NULL || gw_auth_check(t, header);
	case GW_AUTH_READ:
		if (read_token == NULL) {
			return 1;
		}
		w = write_token != NULL && gw_auth_check(write_token, header);
		r = gw_auth_check(read_token, header);
		return w | r;
	}
	return 0;
}
