/* amlrisk_pg.c - the one PostgreSQL dial of every service (see the header).
 * Called once per connection, so clarity over speed. */
#include "amlrisk_pg.h"

#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

void
amlrisk_pg_oneline(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t n;

	if (err == NULL || errlen == 0)
		return;
	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	if (what != NULL)
		snprintf(err, errlen, "%s: %s", what, msg);
	else
		snprintf(err, errlen, "%s", msg);
	for (char *p = err; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	}
	n = strlen(err);
	while (n > 0 && err[n - 1] == ' ')
		err[--n] = '\0';
}

int
amlrisk_pg_connect(const char *url, const char *app, PGconn **out, char *err, size_t errlen)
{
	/* with expand_dbname, keywords after "dbname" would override the URL:
	 * ours come first, so the URL's own settings win */
	const char *keys[] = {"connect_timeout",
	                      "fallback_application_name",
	                      "keepalives",
	                      "keepalives_idle",
	                      "keepalives_interval",
	                      "keepalives_count",
	                      "tcp_user_timeout",
	                      "dbname",
	                      NULL};
	const char *vals[] = {STR(AMLRISK_PG_CONNECT_TIMEOUT_S),
	                      app,
	                      "1",
	                      STR(AMLRISK_PG_KEEPALIVE_IDLE_S),
	                      STR(AMLRISK_PG_KEEPALIVE_INTVL_S),
	                      STR(AMLRISK_PG_KEEPALIVE_COUNT),
	                      STR(AMLRISK_PG_USER_TIMEOUT_MS),
	                      url != NULL ? url : "",
	                      NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (c == NULL) {
		amlrisk_pg_oneline(err, errlen, NULL, "out of memory");
		return -1;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		amlrisk_pg_oneline(err, errlen, NULL, PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	*out = c;
	return 0;
}
