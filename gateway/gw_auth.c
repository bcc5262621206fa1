/* gw_auth.c - constant-time bearer token check. Called once per POST; the cost
 * is one pass over the configured token whatever the client sent. */
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
