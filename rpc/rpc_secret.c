/* rpc_secret.c - the shared secret of authenticated RPC: read from the
 * environment or a file (rpc.h), compared in constant time. Read once at
 * start-up (and by the core when its file changes); compared once per exchange. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "rpc.h"
#include "rpc_impl.h"

static int __attribute__((format(printf, 3, 4)))
secret_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return AMLRISK_EINVAL;
}

int
rpc_secret_check(const char *s, const char *name, char *why, size_t whylen)
{
	size_t n = strlen(s);

	if (n < RPC_SECRET_MIN || n > RPC_SECRET_MAX) {
		return secret_fail(why, whylen, "%s: %zu bytes; a secret has %d to %d", name, n,
		                   RPC_SECRET_MIN, RPC_SECRET_MAX);
	}
	if (strpbrk(s, "\r\n") != NULL) {
		return secret_fail(why, whylen, "%s: a secret is one line", name);
	}
	return AMLRISK_OK;
}

/* Copies s into dst (RPC_SECRET_MAX + 1 bytes) after checking it. */
static int
secret_set(char *dst, const char *s, const char *name, char *why, size_t whylen)
{
	int err;

	if ((err = rpc_secret_check(s, name, why, whylen)) == AMLRISK_OK) {
		memcpy(dst, s, strlen(s) + 1);
	}
	return err;
}

/* The next line of text at *p (its end-of-line and trailing blanks cut, in
 * place); NULL at the end. */
static char *
next_line(char **p)
{
	char *line = *p, *end;

	if (line == NULL || *line == '\0') {
		return NULL;
	}
	if ((end = strchr(line, '\n')) != NULL) {
		*end = '\0';
		*p = end + 1;
	} else {
		*p = NULL;
	}
	for (end = line + strlen(line); end > line && strchr(" \t\r", end[-1]) != NULL;) {
		*--end = '\0';
	}
	return line;
}

int
rpc_secret_from_file(rpc_secret *out, const char *path, char *why, size_t whylen)
{
	char buf[2 * RPC_SECRET_MAX + 16], *p = buf, *line;
	const char *names[2] = {"secret file line 1", "secret file line 2"};
	char *dst[2] = {out->current, out->previous};
	size_t n;
	FILE *f;
	int err = AMLRISK_OK, i = 0;

	memset(out, 0, sizeof(*out));
	if (strlen(path) >= sizeof(out->file)) {
		return secret_fail(why, whylen, "RPC_SECRET_FILE: path too long");
	}
	if ((f = fopen(path, "r")) == NULL) {
		return secret_fail(why, whylen, "RPC_SECRET_FILE %s: %s", path, strerror(errno));
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f) || !feof(f)) {
		err = secret_fail(why, whylen, "RPC_SECRET_FILE %s: unreadable or over %zu bytes",
		                  path, sizeof(buf) - 2);
	}
	fclose(f);
	buf[n] = '\0';
	while (err == AMLRISK_OK && (line = next_line(&p)) != NULL) {
		if (*line == '\0' && i > 0) {
			continue; /* blank lines after the secret */
		}
		if (i == 2) {
			err = secret_fail(why, whylen, "RPC_SECRET_FILE %s: more than two lines",
			                  path);
			break;
		}
		err = secret_set(dst[i], line, names[i], why, whylen);
		i++;
	}
	if (err == AMLRISK_OK && i == 0) {
		err = secret_fail(why, whylen, "RPC_SECRET_FILE %s: empty", path);
	}
	if (err != AMLRISK_OK) {
		memset(out, 0, sizeof(*out));
		return err;
	}
	memcpy(out->file, path, strlen(path) + 1);
	return AMLRISK_OK;
}

int
rpc_secret_from_env(rpc_secret *out, char *why, size_t whylen)
{
	const char *file = getenv("RPC_SECRET_FILE");
	const char *cur = getenv("RPC_SECRET"), *prev = getenv("RPC_SECRET_PREVIOUS");
	int err;

	memset(out, 0, sizeof(*out));
	if (file != NULL && *file != '\0') {
		return rpc_secret_from_file(out, file, why, whylen);
	}
	if (cur != NULL && *cur != '\0' &&
	    (err = secret_set(out->current, cur, "RPC_SECRET", why, whylen)) != AMLRISK_OK) {
		return err;
	}
	if (prev != NULL && *prev != '\0') {
		if (out->current[0] == '\0') {
			return secret_fail(why, whylen, "RPC_SECRET_PREVIOUS without RPC_SECRET");
		}
		if ((err = secret_set(out->previous, prev, "RPC_SECRET_PREVIOUS", why, whylen)) !=
		    AMLRISK_OK) {
			memset(out, 0, sizeof(*out));
			return err;
		}
	}
	return AMLRISK_OK;
}

int
rpc_secret_equal(const uint8_t *got, size_t len, const char *secret)
{
	size_t n = strlen(secret);
	unsigned diff = (len != n) | (n == 0);

	/* time depends on the secret's length only, never on where bytes differ */
	for (size_t i = 0; i < n; i++) {
		uint8_t g = len > 0 ? got[i < len ? i : 0] : 0;

		diff |= (uint8_t)secret[i] ^ g;
	}
	return diff == 0;
}
