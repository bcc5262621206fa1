/* sim_read.c - reads back any format amlrisk-sim writes (or a compatible file):
 * length-delimited protobuf through amlrisk_tx_read(), JSON Lines through
 * jansson, CSV with columns found by name. Bounded lines; errors by number. */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"

#define PEEK_SIZE      4096
#define LINE_MAX_BYTES 65536 /* a longer line is a bad record, skipped */
#define CSV_COLS_MAX   64

enum { COL_TXID, COL_SENDER, COL_RECEIVER, COL_AMOUNT, COL_TS, COL_ASSET, COL_COUNT };
static const char *col_names[COL_COUNT] = {"tx_id",  "sender",    "receiver",
                                           "amount", "timestamp", "asset"};

struct sim_reader {
	FILE *in; /* borrowed: the caller's stream */
	FILE *cf; /* owned: reads the peeked bytes, then the rest of in */
	sim_format fmt;
	unsigned char peek[PEEK_SIZE];
	size_t peek_len, peek_pos;
	uint64_t bytes;  /* handed from in to cf */
	uint64_t number; /* line or record of the last record returned */
	uint64_t lines;  /* lines read so far (text formats) */
	int failed;      /* a fatal error happened: every later call repeats it */

	Aml__V1__Transaction *pb; /* owned: the last protobuf record */
	json_t *js;               /* owned: the last JSON object, tx borrows its strings */
	Aml__V1__Transaction tx;  /* the view handed out for text formats */
	int col[COL_COUNT];       /* CSV column of each field, -1 when absent */
	int ncols;
	char *line; /* owned, LINE_MAX_BYTES + 2 bytes */
};

static ssize_t
cookie_read(void *cookie, char *buf, size_t size)
{
	sim_reader *r = cookie;
	if (r->peek_pos < r->peek_len) {
		size_t n = r->peek_len - r->peek_pos;
		if (n > size)
			n = size;
		memcpy(buf, r->peek + r->peek_pos, n);
		r->peek_pos += n;
		return (ssize_t)n;
	}
	size_t n = fread(buf, 1, size, r->in);
	if (n == 0 && ferror(r->in))
		return -1;
	r->bytes += n;
	return (ssize_t)n;
}

/* guesses the format from the first bytes (see sim.h) */
static sim_format
detect(const unsigned char *p, size_t n)
{
	if (n >= 1 && p[0] == '{' && (n < 2 || p[1] != 0x0a))
		return SIM_FORMAT_JSONL; /* a protobuf record of length 123 starts "{\n" */
	size_t i = 0;
	for (; i < n && p[i] != '\n'; i++)
		if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\r')
			return SIM_FORMAT_PROTOBUF;
	/* a protobuf stream's first "line" is its 1- or 2-byte length: 0x0a is the
	 * tag of field 1 */
	if (i >= 3 && memchr(p, ',', i) != NULL)
		return SIM_FORMAT_CSV;
	return SIM_FORMAT_PROTOBUF;
}

int
sim_reader_create(sim_reader **out, FILE *f, sim_format fmt, char *err, size_t errlen)
{
	int rv = AMLRISK_ENOMEM;
	sim_reader *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->line = malloc(LINE_MAX_BYTES + 2)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r->in = f;
	r->peek_len = fread(r->peek, 1, sizeof(r->peek), f);
	if (r->peek_len < sizeof(r->peek) && ferror(f)) {
		snprintf(err, errlen, "read error");
		rv = AMLRISK_EIO;
		goto fail;
	}
	r->bytes = r->peek_len;
	r->fmt = fmt == SIM_FORMAT_AUTO ? detect(r->peek, r->peek_len) : fmt;
	cookie_io_functions_t io = {.read = cookie_read};
	if ((r->cf = fopencookie(r, "r", io)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < COL_COUNT; i++)
		r->col[i] = -1;
	*out = r;
	return AMLRISK_OK;
fail:
	sim_reader_destroy(r);
	return rv;
}

void
sim_reader_destroy(sim_reader *r)
{
	if (r == NULL)
		return;
	if (r->cf != NULL)
		fclose(r->cf);
	if (r->pb != NULL)
		aml__v1__transaction__free_unpacked(r->pb, NULL);
	json_decref(r->js);
	free(r->line);
	free(r);
}

sim_format
sim_reader_format(const sim_reader *r)
{
	return r->fmt;
}

const char *
sim_reader_unit(const sim_reader *r)
{
	return r->fmt == SIM_FORMAT_PROTOBUF ? "record" : "line";
}

uint64_t
sim_reader_number(const sim_reader *r)
{
	return r->number;
}

uint64_t
sim_reader_bytes(const sim_reader *r)
{
	return r->bytes;
}

/* Reads one line without its end-of-line into r->line. Returns 1 with *len
 * set, 0 at the end, -1 for a line over LINE_MAX_BYTES or holding a NUL byte
 * (consumed; *why set), -2 on a read error. */
static int
read_line(sim_reader *r, size_t *len, const char **why)
{
	size_t n = 0;
	int c, nul = 0, got = 0;
	while ((c = getc_unlocked(r->cf)) != EOF) {
		got = 1;
		if (c == '\n')
			break;
		if (c == '\0')
			nul = 1;
		if (n <= LINE_MAX_BYTES)
			r->line[n++] = (char)c;
	}
	if (c == EOF && ferror(r->cf))
		return -2;
	if (!got)
		return 0;
	r->lines++;
	if (n > LINE_MAX_BYTES) {
		*why = "line longer than 65536 bytes";
		return -1;
	}
	if (nul) {
		*why = "NUL byte in line";
		return -1;
	}
	if (n > 0 && r->line[n - 1] == '\r')
		n--;
	r->line[n] = '\0';
	*len = n;
	return 1;
}

/* Splits a CSV line in place into at most max fields (RFC 4180 quoting within
 * the line). Returns the field count, or -1 for a stray quote or too many. */
static int
csv_split(char *s, char **fields, int max)
{
	int n = 0;
	for (;;) {
		if (n == max)
			return -1;
		if (*s == '"') {
			char *w = ++s;
			fields[n++] = w;
			for (;;) {
				if (*s == '\0')
					return -1; /* unterminated */
				if (*s == '"') {
					if (s[1] == '"') {
						*w++ = '"';
						s += 2;
						continue;
					}
					s++;
					break;
				}
				*w++ = *s++;
			}
			if (*s != ',' && *s != '\0')
				return -1;
			char end = *s;
			*w = '\0';
			if (end == '\0')
				return n;
			s++;
		} else {
			fields[n++] = s;
			char *c = strchr(s, ',');
			if (c == NULL) {
				if (strchr(s, '"') != NULL)
					return -1;
				return n;
			}
			*c = '\0';
			if (strchr(s, '"') != NULL)
				return -1;
			s = c + 1;
		}
	}
}

static int
csv_header(sim_reader *r, char *why, size_t whylen)
{
	char *f[CSV_COLS_MAX];
	int n = csv_split(r->line, f, CSV_COLS_MAX);
	if (n < 0) {
		snprintf(why, whylen, "line %llu: CSV header: bad quoting or over %d columns",
		         (unsigned long long)r->lines, CSV_COLS_MAX);
		return AMLRISK_EIO;
	}
	for (int i = 0; i < n; i++)
		for (int c = 0; c < COL_COUNT; c++)
			if (strcmp(f[i], col_names[c]) == 0 && r->col[c] < 0)
				r->col[c] = i;
	for (int c = 0; c < COL_ASSET; c++)
		if (r->col[c] < 0) {
			snprintf(why, whylen,
			         "line %llu: CSV header has no column \"%s\" (need tx_id,sender,"
			         "receiver,amount,timestamp[,asset])",
			         (unsigned long long)r->lines, col_names[c]);
			return AMLRISK_EIO;
		}
	r->ncols = n;
	return AMLRISK_OK;
}

static int
csv_record(sim_reader *r, char *why, size_t whylen)
{
	char *f[CSV_COLS_MAX];
	int n = csv_split(r->line, f, CSV_COLS_MAX);
	unsigned long long ln = (unsigned long long)r->number;
	if (n < 0) {
		snprintf(why, whylen, "line %llu: bad CSV quoting or over %d fields", ln,
		         CSV_COLS_MAX);
		return AMLRISK_EINVAL;
	}
	if (n != r->ncols) {
		snprintf(why, whylen, "line %llu: %d fields, the header has %d", ln, n, r->ncols);
		return AMLRISK_EINVAL;
	}
	Aml__V1__Transaction *tx = &r->tx;
	aml__v1__transaction__init(tx);
	if (sim_time_parse(f[r->col[COL_TS]], &tx->timestamp_us) != 0) {
		snprintf(
		        why, whylen,
		        "line %llu: timestamp: not ISO-8601 UTC (like 2026-01-01T00:00:00.000000Z)",
		        ln);
		return AMLRISK_EINVAL;
	}
	tx->tx_id = f[r->col[COL_TXID]];
	tx->sender = f[r->col[COL_SENDER]];
	tx->receiver = f[r->col[COL_RECEIVER]];
	tx->amount = f[r->col[COL_AMOUNT]];
	tx->asset = r->col[COL_ASSET] >= 0 ? f[r->col[COL_ASSET]] : "";
	return AMLRISK_OK;
}

static int
json_record(sim_reader *r, size_t len, char *why, size_t whylen)
{
	json_error_t je;
	unsigned long long ln = (unsigned long long)r->number;
	json_decref(r->js);
	r->js = json_loadb(r->line, len, JSON_REJECT_DUPLICATES, &je);
	if (r->js == NULL) {
		snprintf(why, whylen, "line %llu: JSON: %s (column %d)", ln, je.text, je.column);
		return AMLRISK_EINVAL;
	}
	if (!json_is_object(r->js)) {
		snprintf(why, whylen, "line %llu: not a JSON object", ln);
		return AMLRISK_EINVAL;
	}
	Aml__V1__Transaction *tx = &r->tx;
	aml__v1__transaction__init(tx);
	const char **str[] = {(const char **)&tx->tx_id, (const char **)&tx->sender,
	                      (const char **)&tx->receiver, (const char **)&tx->amount};
	int seen[COL_COUNT] = {0};
	const char *key;
	json_t *v;
	json_object_foreach(r->js, key, v)
	{
		int c;
		for (c = 0; c < COL_COUNT; c++)
			if (strcmp(key, c == COL_TS ? "timestamp_us" : col_names[c]) == 0)
				break;
		if (c == COL_COUNT) {
			snprintf(why, whylen, "line %llu: unknown field \"%.64s\"", ln, key);
			return AMLRISK_EINVAL;
		}
		seen[c] = 1;
		if (c == COL_TS) {
			if (json_is_integer(v)) {
				tx->timestamp_us = (int64_t)json_integer_value(v);
			} else if (json_is_string(v)) { /* proto3 JSON writes int64 as a string */
				const char *s = json_string_value(v);
				char *end;
				errno = 0;
				long long t = strtoll(s, &end, 10);
				if (*s == '\0' || *end != '\0' || errno != 0) {
					snprintf(why, whylen,
					         "line %llu: timestamp_us: not an integer", ln);
					return AMLRISK_EINVAL;
				}
				tx->timestamp_us = t;
			} else {
				snprintf(why, whylen, "line %llu: timestamp_us: not an integer",
				         ln);
				return AMLRISK_EINVAL;
			}
		} else if (c == COL_ASSET && json_is_null(v)) {
			tx->asset = "";
		} else if (!json_is_string(v)) {
			snprintf(why, whylen, "line %llu: %s: not a string", ln, col_names[c]);
			return AMLRISK_EINVAL;
		} else if (strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(why, whylen, "line %llu: %s: NUL character", ln, col_names[c]);
			return AMLRISK_EINVAL;
		} else if (c == COL_ASSET) {
			tx->asset = (char *)json_string_value(v);
		} else {
			*str[c] = json_string_value(v);
		}
	}
	for (int c = 0; c < COL_ASSET; c++)
		if (!seen[c]) {
			snprintf(why, whylen, "line %llu: field \"%s\" missing", ln,
			         c == COL_TS ? "timestamp_us" : col_names[c]);
			return AMLRISK_EINVAL;
		}
	return AMLRISK_OK;
}

static int
read_protobuf(sim_reader *r, Aml__V1__Transaction **tx, char *why, size_t whylen)
{
	if (r->pb != NULL) {
		aml__v1__transaction__free_unpacked(r->pb, NULL);
		r->pb = NULL;
	}
	int rv = amlrisk_tx_read(r->cf, &r->pb);
	if (rv == AMLRISK_ENOTFOUND && ferror(r->cf))
		rv = AMLRISK_EIO;
	if (rv == AMLRISK_ENOTFOUND)
		return rv;
	unsigned long long rec = (unsigned long long)++r->number;
	switch (rv) {
	case AMLRISK_OK:
		*tx = r->pb;
		return AMLRISK_OK;
	case AMLRISK_EPROTO: /* the stream goes on after the record's length */
		snprintf(why, whylen, "record %llu: truncated or undecodable protobuf", rec);
		return AMLRISK_EINVAL;
	case AMLRISK_ETOOBIG:
		snprintf(why, whylen,
		         "record %llu: length over %d bytes (not a length-delimited Transaction "
		         "stream?); cannot read further",
		         rec, AMLRISK_TX_MSG_MAX);
		r->failed = rv;
		return rv;
	default:
		snprintf(why, whylen, "record %llu: read error", rec);
		r->failed = AMLRISK_EIO;
		return AMLRISK_EIO;
	}
}

int
sim_reader_next(sim_reader *r, Aml__V1__Transaction **tx, char *why, size_t whylen)
{
	int rv;
	if (r->failed) {
		snprintf(why, whylen, "stream already failed");
		return r->failed;
	}
	if (r->fmt == SIM_FORMAT_PROTOBUF)
		return read_protobuf(r, tx, why, whylen);
	for (;;) {
		size_t len = 0;
		const char *bad = NULL;
		int lr = read_line(r, &len, &bad);
		if (lr == 0)
			return AMLRISK_ENOTFOUND;
		if (lr == -2) {
			snprintf(why, whylen, "line %llu: read error",
			         (unsigned long long)r->lines + 1);
			r->failed = AMLRISK_EIO;
			return AMLRISK_EIO;
		}
		r->number = r->lines;
		if (lr == -1) {
			snprintf(why, whylen, "line %llu: %s", (unsigned long long)r->number, bad);
			if (r->fmt == SIM_FORMAT_CSV && r->ncols == 0) {
				r->failed = AMLRISK_EIO; /* no header: nothing can be read */
				return AMLRISK_EIO;
			}
			return AMLRISK_EINVAL;
		}
		if (len == 0 || (r->fmt == SIM_FORMAT_JSONL && strspn(r->line, " \t") == len))
			continue; /* blank lines carry nothing */
		if (r->fmt == SIM_FORMAT_CSV && r->ncols == 0) {
			if ((rv = csv_header(r, why, whylen)) != AMLRISK_OK) {
				r->failed = rv;
				return rv;
			}
			continue;
		}
		rv = r->fmt == SIM_FORMAT_CSV ? csv_record(r, why, whylen)
		                              : json_record(r, len, why, whylen);
		if (rv == AMLRISK_OK)
			*tx = &r->tx;
		return rv;
	}
}
