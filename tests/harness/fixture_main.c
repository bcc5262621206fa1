/* fixture_main.c - amlrisk-fixture: converts a small transactions CSV
 * (tx_id,sender,receiver,amount,timestamp[,asset]; ISO-8601 UTC timestamps; no
 * quoting) from stdin into length-delimited aml.v1.Transaction records on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"

static int
parse_ts(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int usec = 0, n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	           &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	s += n;
	if (*s == '.') {
		int digits = 0;
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 6)
				usec = usec * 10 + (*s - '0');
		for (; digits < 6; digits++)
			usec *= 10;
	}
	if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) * 1000000 + usec;
	return 0;
}

int
main(void)
{
	char line[4096];
	long lineno = 0;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (lineno == 1 && strncmp(line, "tx_id,", 6) == 0)
			continue;
		if (line[0] == '\0')
			continue;
		char *f[6] = { 0 }, *save = NULL;
		int nf = 0;
		for (char *t = strtok_r(line, ",", &save); t != NULL && nf < 6;
		     t = strtok_r(NULL, ",", &save))
			f[nf++] = t;
		Aml__V1__Transaction tx = AML__V1__TRANSACTION__INIT;
		if (nf < 5 || parse_ts(f[4], &tx.timestamp_us) != 0) {
			fprintf(stderr, "amlrisk-fixture: line %ld: expected tx_id,sender,receiver,amount,"
			                "timestamp[,asset]\n",
			        lineno);
			return 1;
		}
		tx.tx_id = f[0];
		tx.sender = f[1];
		tx.receiver = f[2];
		tx.amount = f[3];
		tx.asset = nf > 5 ? f[5] : "";
		if (amlrisk_tx_write(stdout, &tx) != AMLRISK_OK) {
			fprintf(stderr, "amlrisk-fixture: line %ld: write failed\n", lineno);
			return 1;
		}
	}
	return 0;
}
