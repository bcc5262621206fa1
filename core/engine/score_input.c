/* score_input.c - readers for amlrisk-score: CSV (header, columns by name),
 * JSON lines and length-delimited protobuf, each validated row by row with the
 * consumer's rules, streamed into the graph builder (millions of rows). */
#include "score_input.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"

#define LINE_MAX_BYTES (1u << 20) /* one CSV or JSON line */
#define FIELDS_MAX     64         /* CSV columns */
#define HEAD_BYTES     4096       /* what format sniffing looks at */

static const char *const fmt_names[] = {"auto", "csv", "jsonl", "protobuf"};

int
score_format_parse(const char *s, score_format *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, fmt_names[i]) == 0) {
			*out = (score_format)i;
			return AMLRISK_OK;
		}
	}
	if (strcmp(s, "pb") == 0) {
		*out = SCORE_FMT_PROTOBUF;
		return AMLRISK_OK;
	}
	return AMLRISK_EINVAL;
}

const char *
score_format_name(score_format f)
{
	return fmt_names[f];
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return AMLRISK_EINVAL;
}

/* Maps a builder error onto the message for record `where`. */
static int
add_fail(int rv, char *err, size_t errlen, const char *name, const char *unit, size_t where)
{
	snprintf(err, errlen, "%s:%s%zu: %s", name, unit, where,
	         rv == AMLRISK_ENOMEM    ? "out of memory"
	         : rv == AMLRISK_ETOOBIG ? "too many wallets or transactions"
	                                 : "rejected by the graph builder");
	return rv;
}

/* ---------------------------------------------------- the replay stream --- */

/* A stream that serves the sniffed head again, then the rest of the file, so
 * sniffing works on pipes too. */
typedef struct replay {
	FILE *f;
	char head[HEAD_BYTES];
	size_t len, pos;
} replay;

static ssize_t
replay_read(void *cookie, char *buf, size_t size)
{
	replay *r = cookie;
	if (r->pos < r->len) {
		size_t n = r->len - r->pos < size ? r->len - r->pos : size;
		memcpy(buf, r->head + r->pos, n);
		r->pos += n;
		return (ssize_t)n;
	}
	size_t n = fread(buf, 1, size, r->f);
	return n == 0 && ferror(r->f) ? -1 : (ssize_t)n;
}

static bool
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Whether a header line names both a sender and a receiver column. */
static bool
looks_like_header(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\r')
			return false;
	char line[HEAD_BYTES + 1];
	memcpy(line, s, len);
	line[len] = '\0';
	return strstr(line, "sender") != NULL && strstr(line, "receiver") != NULL;
}

static score_format
sniff(const char *name, const char *head, size_t len)
{
	if (has_suffix(name, ".csv"))
		return SCORE_FMT_CSV;
	if (has_suffix(name, ".jsonl") || has_suffix(name, ".ndjson") || has_suffix(name, ".json"))
		return SCORE_FMT_JSONL;
	if (has_suffix(name, ".pb") || has_suffix(name, ".protobuf") || has_suffix(name, ".bin"))
		return SCORE_FMT_PROTOBUF;
	size_t i = 0;
	if (len >= 3 && memcmp(head, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
		i++;
	if (i < len && head[i] == '{')
		return SCORE_FMT_JSONL;
	const char *nl = memchr(head + i, '\n', len - i);
	size_t ll = nl ? (size_t)(nl - head) - i : len - i;
	if (looks_like_header(head + i, ll))
		return SCORE_FMT_CSV;
	return SCORE_FMT_PROTOBUF;
}

/* ------------------------------------------------------------ helpers --- */

/* Reads one line (without its \n and a trailing \r) into *buf; 1 at a line,
 * 0 at the end, -1 for a line over LINE_MAX_BYTES or a read error. */
static int
line_read(FILE *f, char **buf, size_t *cap, size_t *len)
{
	ssize_t n = getline(buf, cap, f);
	if (n < 0)
		return ferror(f) ? -1 : 0;
	if ((size_t)n > LINE_MAX_BYTES)
		return -1;
	if (n > 0 && (*buf)[n - 1] == '\n')
		n--;
	if (n > 0 && (*buf)[n - 1] == '\r')
		n--;
	(*buf)[n] = '\0';
	*len = (size_t)n;
	return 1;
}

static int
days_from_civil(int y, unsigned m, unsigned d, int64_t *days)
{
	/* Howard Hinnant's algorithm; proleptic Gregorian */
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*days = (int64_t)era * 146097 + (int64_t)doe - 719468;
	return 0;
}

/* ISO-8601 UTC "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+00:00)" or integer
 * microseconds since the epoch; -1 if neither. */
static int
parse_timestamp(const char *s, int64_t *us)
{
	int y, mo, d, h, mi, se, n = 0;
	if (*s >= '0' && *s <= '9' && strchr(s, '-') == NULL) {
		uint64_t v;
		if (core_config_seed_parse(s, &v) != 0 || v > INT64_MAX)
			return -1;
		*us = (int64_t)v;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	const char *p = s + 19;
	int64_t frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 6)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (; digits < 6; digits++)
			frac *= 10;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -1;
	int64_t days;
	days_from_civil(y, (unsigned)mo, (unsigned)d, &days);
	*us = ((days * 86400) + h * 3600 + mi * 60 + se) * 1000000 + frac;
	return 0;
}

/* Checks a transaction's fields the way the consumer does (rules of
 * amlrisk_tx.h); *why names the field. Fields that are NULL are absent. */
static int
check_fields(const char *tx_id, const char *sender, size_t slen, const char *receiver, size_t rlen,
             const char *amount, char *why, size_t whylen)
{
	const char *r = NULL;
	if (tx_id != NULL && amlrisk_tx_check_id(tx_id, strlen(tx_id), AMLRISK_TXID_MAX, &r) != 0)
		return snprintf(why, whylen, "tx_id: %s", r), -1;
	if (amlrisk_tx_check_id(sender, slen, AMLRISK_WALLET_MAX, &r) != 0)
		return snprintf(why, whylen, "sender: %s", r), -1;
	if (amlrisk_tx_check_id(receiver, rlen, AMLRISK_WALLET_MAX, &r) != 0)
		return snprintf(why, whylen, "receiver: %s", r), -1;
	if (amount != NULL && amlrisk_tx_check_amount(amount, &r) != 0)
		return snprintf(why, whylen, "amount: %s", r), -1;
	return 0;
}

/* ----------------------------------------------------------------- CSV --- */

/* Splits an RFC 4180 line in place into fields (quotes removed, "" -> ").
 * Returns the field count, or -1 for a malformed quote (*why set). */
static int
csv_split(char *s, char **fields, size_t *lens, int max, const char **why)
{
	int n = 0;
	char *p = s;
	for (;;) {
		if (n == max) {
			*why = "too many fields";
			return -1;
		}
		char *start = p, *o = p;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0') {
					*why = "unterminated quoted field";
					return -1;
				}
				if (*p == '"') {
					if (p[1] == '"') {
						*o++ = '"';
						p += 2;
						continue;
					}
					p++;
					break;
				}
				*o++ = *p++;
			}
			if (*p != ',' && *p != '\0') {
				*why = "text after a closing quote";
				return -1;
			}
		} else {
			while (*p != ',' && *p != '\0') {
				if (*p == '"') {
					*why = "quote inside an unquoted field";
					return -1;
				}
				*o++ = *p++;
			}
		}
		char sep = *p;
		*o = '\0';
		fields[n] = start;
		lens[n] = (size_t)(o - start);
		n++;
		if (sep == '\0')
			return n;
		p++;
	}
}

/* Parses one non-empty line into *tx (its strings may point into line or into
 * the parser's state, valid until the next call). Returns 0, ROW_SKIP for a
 * line that is no transaction (a header), or AMLRISK_EINVAL with why set. */
typedef int (*row_parse_fn)(void *ctx, char *line, size_t len, core_tx *tx, char *why,
                            size_t whylen);
#define ROW_SKIP (-1)

/* Reads f line by line through parse into b; messages name the line. */
static int
read_lines(FILE *f, const char *name, core_graph_builder *b, row_parse_fn parse, void *ctx,
           char *err, size_t errlen)
{
	char *line = NULL, why[256];
	size_t cap = 0, len, lineno = 0;
	int rv = AMLRISK_OK, rl;
	while ((rl = line_read(f, &line, &cap, &len)) > 0) {
		lineno++;
		if (len == 0)
			continue;
		core_tx tx = {.seq = lineno};
		if ((rv = parse(ctx, line, len, &tx, why, sizeof why)) == ROW_SKIP) {
			rv = AMLRISK_OK;
			continue;
		}
		if (rv != AMLRISK_OK) {
			fail(err, errlen, "%s:%zu: %s", name, lineno, why);
			break;
		}
		if ((rv = core_graph_builder_add_tx(b, &tx)) != AMLRISK_OK) {
			add_fail(rv, err, errlen, name, "", lineno);
			break;
		}
	}
	if (rv == AMLRISK_OK && rl < 0)
		rv = fail(err, errlen, "%s:%zu: unreadable or over-long line", name, lineno + 1);
	free(line);
	return rv;
}

/* ----------------------------------------------------------------- CSV --- */

enum { COL_TXID, COL_SENDER, COL_RECEIVER, COL_AMOUNT, COL_TS, COL_COUNT };

typedef struct csv_state {
	bool header;        /* seen */
	int col[COL_COUNT]; /* field index of each known column, or -1 */
	int nhead;
	char *fields[FIELDS_MAX];
	size_t lens[FIELDS_MAX];
} csv_state;

/* The header line: finds the columns by name. */
static int
csv_header(csv_state *cs, char *line, size_t len, char *why, size_t whylen)
{
	static const char *const colnames[COL_COUNT] = {"tx_id", "sender", "receiver", "amount",
	                                                "timestamp"};
	const char *r;
	if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
		line += 3;
	if ((cs->nhead = csv_split(line, cs->fields, cs->lens, FIELDS_MAX, &r)) < 0)
		return fail(why, whylen, "header: %s", r);
	for (int i = 0; i < cs->nhead; i++) {
		for (int c = 0; c < COL_COUNT; c++) {
			bool ts_us = c == COL_TS && strcmp(cs->fields[i], "timestamp_us") == 0;
			if (strcmp(cs->fields[i], colnames[c]) != 0 && !ts_us)
				continue;
			if (cs->col[c] >= 0)
				return fail(why, whylen, "header names column '%s' twice",
				            colnames[c]);
			cs->col[c] = i;
		}
	}
	if (cs->col[COL_SENDER] < 0 || cs->col[COL_RECEIVER] < 0)
		return fail(
		        why, whylen,
		        "unknown column layout: the header needs 'sender' and 'receiver' columns "
		        "(expected tx_id,sender,receiver,amount,timestamp)");
	cs->header = true;
	return ROW_SKIP;
}

static int
csv_row(void *ctx, char *line, size_t len, core_tx *tx, char *why, size_t whylen)
{
	csv_state *cs = ctx;
	const char *r;
	int nf;
	if (!cs->header)
		return csv_header(cs, line, len, why, whylen);
	if ((nf = csv_split(line, cs->fields, cs->lens, FIELDS_MAX, &r)) < 0)
		return fail(why, whylen, "%s", r);
	if (nf != cs->nhead)
		return fail(why, whylen, "expected %d fields as in the header, got %d", cs->nhead,
		            nf);
	const int *col = cs->col;
	const char *amount = col[COL_AMOUNT] >= 0 ? cs->fields[col[COL_AMOUNT]] : NULL;
	const char *txid = col[COL_TXID] >= 0 ? cs->fields[col[COL_TXID]] : NULL;
	tx->sender = cs->fields[col[COL_SENDER]];
	tx->sender_len = cs->lens[col[COL_SENDER]];
	tx->receiver = cs->fields[col[COL_RECEIVER]];
	tx->receiver_len = cs->lens[col[COL_RECEIVER]];
	if (check_fields(txid, tx->sender, tx->sender_len, tx->receiver, tx->receiver_len, amount,
	                 why, whylen) != 0)
		return AMLRISK_EINVAL;
	if (col[COL_TS] >= 0 && parse_timestamp(cs->fields[col[COL_TS]], &tx->timestamp_us) != 0)
		return fail(
		        why, whylen,
		        "timestamp: expected ISO-8601 UTC (2026-01-01T00:00:00Z) or microseconds, "
		        "got '%.40s'",
		        cs->fields[col[COL_TS]]);
	tx->amount = amount != NULL ? strtod(amount, NULL) : 0.0;
	return AMLRISK_OK;
}

static int
read_csv(FILE *f, const char *name, core_graph_builder *b, char *err, size_t errlen)
{
	csv_state cs = {.col = {-1, -1, -1, -1, -1}};
	int rv = read_lines(f, name, b, csv_row, &cs, err, errlen);
	if (rv == AMLRISK_OK && !cs.header)
		return fail(err, errlen,
		            "%s:1: empty input: expected a header line "
		            "tx_id,sender,receiver,amount,timestamp",
		            name);
	return rv;
}

/* --------------------------------------------------------------- JSONL --- */

/* A string member; with buf, an integer member too, as its text. */
static const char *
json_text(json_t *o, const char *key, char *buf, size_t cap, size_t *len)
{
	json_t *v = json_object_get(o, key);
	if (json_is_string(v)) {
		*len = json_string_length(v);
		return json_string_value(v);
	}
	if (buf != NULL && json_is_integer(v)) {
		*len = (size_t)snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

typedef struct jsonl_state {
	json_t *obj; /* the current line's object: tx points into it */
	char amount[32], ts[32];
} jsonl_state;

static int
jsonl_row(void *ctx, char *line, size_t len, core_tx *tx, char *why, size_t whylen)
{
	jsonl_state *js = ctx;
	json_error_t je;
	size_t tl, al = 0, tsl = 0;
	json_decref(js->obj);
	if ((js->obj = json_loadb(line, len, 0, &je)) == NULL)
		return fail(why, whylen, "not a JSON object: %s", je.text);
	if (!json_is_object(js->obj))
		return fail(why, whylen, "not a JSON object");
	const char *txid = json_text(js->obj, "tx_id", NULL, 0, &tl);
	tx->sender = json_text(js->obj, "sender", NULL, 0, &tx->sender_len);
	tx->receiver = json_text(js->obj, "receiver", NULL, 0, &tx->receiver_len);
	const char *amount = json_text(js->obj, "amount", js->amount, sizeof js->amount, &al);
	const char *ts = json_text(js->obj, "timestamp_us", js->ts, sizeof js->ts, &tsl);
	const char *missing = txid == NULL           ? "tx_id"
	                      : tx->sender == NULL   ? "sender"
	                      : tx->receiver == NULL ? "receiver"
	                      : amount == NULL       ? "amount"
	                                             : NULL;
	if (missing != NULL)
		return fail(why, whylen, "%s: missing or not a string", missing);
	if (check_fields(txid, tx->sender, tx->sender_len, tx->receiver, tx->receiver_len, amount,
	                 why, whylen) != 0)
		return AMLRISK_EINVAL;
	if (ts != NULL && parse_timestamp(ts, &tx->timestamp_us) != 0)
		return fail(why, whylen, "timestamp_us: expected integer microseconds");
	tx->amount = strtod(amount, NULL);
	return AMLRISK_OK;
}

static int
read_jsonl(FILE *f, const char *name, core_graph_builder *b, char *err, size_t errlen)
{
	jsonl_state js = {0};
	int rv = read_lines(f, name, b, jsonl_row, &js, err, errlen);
	json_decref(js.obj);
	return rv;
}

/* ------------------------------------------------------------ protobuf --- */

static int
read_protobuf(FILE *f, const char *name, core_graph_builder *b, char *err, size_t errlen)
{
	for (size_t rec = 1;; rec++) {
		Aml__V1__Transaction *t = NULL;
		char why[160];
		int rv = amlrisk_tx_read(f, &t);
		if (rv == AMLRISK_ENOTFOUND)
			return AMLRISK_OK;
		if (rv != AMLRISK_OK)
			return fail(err, errlen, "%s:record %zu: %s", name, rec,
			            rv == AMLRISK_ETOOBIG
			                    ? "record length over 4096 bytes"
			                    : "truncated or undecodable protobuf record");
		if (amlrisk_tx_validate(t, why, sizeof why) != AMLRISK_OK) {
			aml__v1__transaction__free_unpacked(t, NULL);
			return fail(err, errlen, "%s:record %zu: %s", name, rec, why);
		}
		core_tx tx = {t->sender,
		              strlen(t->sender),
		              t->receiver,
		              strlen(t->receiver),
		              strtod(t->amount, NULL),
		              t->timestamp_us,
		              rec};
		rv = core_graph_builder_add_tx(b, &tx);
		aml__v1__transaction__free_unpacked(t, NULL);
		if (rv != AMLRISK_OK)
			return add_fail(rv, err, errlen, name, "record ", rec);
	}
}

int
score_input_read(FILE *f, const char *name, score_format fmt, core_graph_builder *b,
                 score_format *used, char *err, size_t errlen)
{
	int rv;
	replay rp = {.f = f};
	FILE *s = f;
	if (fmt == SCORE_FMT_AUTO) {
		rp.len = fread(rp.head, 1, sizeof rp.head, f);
		if (ferror(f))
			return fail(err, errlen, "%s: cannot read", name);
		fmt = sniff(name, rp.head, rp.len);
		cookie_io_functions_t io = {.read = replay_read};
		if ((s = fopencookie(&rp, "r", io)) == NULL)
			return fail(err, errlen, "%s: cannot open a stream", name);
	}
	if (used != NULL)
		*used = fmt;
	switch (fmt) {
	case SCORE_FMT_CSV:
		rv = read_csv(s, name, b, err, errlen);
		break;
	case SCORE_FMT_JSONL:
		rv = read_jsonl(s, name, b, err, errlen);
		break;
	default:
		rv = read_protobuf(s, name, b, err, errlen);
		break;
	}
	if (s != f)
		fclose(s);
	return rv;
}

int
score_labels_read(FILE *f, const char *name, core_labels *l, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0, len, lineno = 0;
	int rv = AMLRISK_OK, rl;
	while ((rl = line_read(f, &line, &cap, &len)) > 0) {
		const char *why;
		lineno++;
		if (len == 0)
			continue;
		if (amlrisk_tx_check_id(line, len, AMLRISK_WALLET_MAX, &why) != 0) {
			rv = fail(err, errlen, "%s:%zu: wallet: %s", name, lineno, why);
			break;
		}
		if ((rv = core_labels_add(l, line, len)) != 0) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, amlrisk_strerror(rv));
			break;
		}
	}
	if (rv == AMLRISK_OK && rl < 0)
		rv = fail(err, errlen, "%s:%zu: unreadable or over-long line", name, lineno + 1);
	free(line);
	return rv;
}
