/* sim_write.c - format names, ISO-8601 timestamps and the writers of the three
 * file formats. Rows are formatted by hand into one 1 MiB buffer handed to
 * fwrite() whole, so a writer keeps up with the generator at millions of rows/s. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"

#define US_PER_DAY (INT64_C(86400) * 1000000)
#define WBUF_SIZE  (1u << 20)
/* the longest row the bounds of amlrisk_tx.h allow, every byte escaped 6 to 1 */
#define ROW_MAX                                                                                    \
	(6 * (AMLRISK_TXID_MAX + 2 * AMLRISK_WALLET_MAX + AMLRISK_AMOUNT_MAX +                     \
	      AMLRISK_ASSET_MAX) +                                                                 \
	 160)

static const char csv_header[] = "tx_id,sender,receiver,amount,timestamp,asset\n";

struct sim_writer {
	FILE *f; /* borrowed */
	sim_format fmt;
	char *buf; /* owned, WBUF_SIZE bytes */
	size_t len;
	int header_done;
	int64_t day; /* day number whose "YYYY-MM-DDT" is cached in day_str */
	char day_str[16];
};

int
sim_format_parse(const char *name, int allow_auto, sim_format *out)
{
	if (strcmp(name, "protobuf") == 0 || strcmp(name, "pb") == 0)
		*out = SIM_FORMAT_PROTOBUF;
	else if (strcmp(name, "jsonl") == 0)
		*out = SIM_FORMAT_JSONL;
	else if (strcmp(name, "csv") == 0)
		*out = SIM_FORMAT_CSV;
	else if (allow_auto && strcmp(name, "auto") == 0)
		*out = SIM_FORMAT_AUTO;
	else
		return -1;
	return 0;
}

const char *
sim_format_name(sim_format f)
{
	switch (f) {
	case SIM_FORMAT_PROTOBUF:
		return "protobuf";
	case SIM_FORMAT_JSONL:
		return "jsonl";
	case SIM_FORMAT_CSV:
		return "csv";
	default:
		return "auto";
	}
}

/* ---- civil time (Howard Hinnant's algorithms; proleptic Gregorian, UTC) ---- */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DDT" of day number day into p (11 bytes) */
static void
format_day(int64_t day, char *p)
{
	int64_t y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = y < 0 ? 0 : 9999; /* outside what validation accepts anyway */
	put2(p, (unsigned)(y / 100));
	put2(p + 2, (unsigned)(y % 100));
	p[4] = '-';
	put2(p + 5, m);
	p[7] = '-';
	put2(p + 8, d);
	p[10] = 'T';
}

/* "HH:MM:SS.ffffffZ" of the microseconds into a day into p (16 bytes) */
static void
format_tod(int64_t us, char *p)
{
	unsigned s = (unsigned)(us / 1000000), f = (unsigned)(us % 1000000);
	put2(p, s / 3600);
	p[2] = ':';
	put2(p + 3, s / 60 % 60);
	p[5] = ':';
	put2(p + 6, s % 60);
	p[8] = '.';
	for (int i = 14; i >= 9; i--, f /= 10)
		p[i] = (char)('0' + f % 10);
	p[15] = 'Z';
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

size_t
sim_time_format(int64_t us, char *out)
{
	int64_t day = floor_div(us, US_PER_DAY);
	format_day(day, out);
	format_tod(us - day * US_PER_DAY, out + 11);
	out[SIM_TIME_LEN] = '\0';
	return SIM_TIME_LEN;
}

static int
num(const char **s, int n, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (unsigned)(c - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

int
sim_time_parse(const char *s, int64_t *us)
{
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (num(&s, 4, &y) || *s++ != '-' || num(&s, 2, &mo) || *s++ != '-' || num(&s, 2, &d))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	if (*s != '\0') {
		if ((*s != 'T' && *s != ' ') || (s++, num(&s, 2, &h)) || *s++ != ':' ||
		    num(&s, 2, &mi) || *s++ != ':' || num(&s, 2, &sec))
			return -1;
		if (h > 23 || mi > 59 || sec > 59)
			return -1;
		if (*s == '.') {
			int n = 0;
			for (s++; *s >= '0' && *s <= '9'; s++, n++)
				if (n < 6)
					frac = frac * 10 + (unsigned)(*s - '0');
			if (n == 0 || n > 9)
				return -1;
			for (; n < 6; n++)
				frac *= 10;
		}
		if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0 && strcmp(s, "+0000") != 0)
			return -1;
	}
	int64_t days = days_from_civil((int64_t)y, mo, d);
	*us = ((days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + (int64_t)sec) * 1000000) +
	      (int64_t)frac;
	return 0;
}

/* ---- writer ----------------------------------------------------------------- */

int
sim_writer_create(sim_writer **out, FILE *f, sim_format fmt)
{
	if (fmt != SIM_FORMAT_PROTOBUF && fmt != SIM_FORMAT_JSONL && fmt != SIM_FORMAT_CSV)
		return AMLRISK_EINVAL;
	sim_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return AMLRISK_ENOMEM;
	if (fmt != SIM_FORMAT_PROTOBUF && (w->buf = malloc(WBUF_SIZE)) == NULL) {
		free(w);
		return AMLRISK_ENOMEM;
	}
	w->f = f;
	w->fmt = fmt;
	w->day = INT64_MIN;
	*out = w;
	return AMLRISK_OK;
}

void
sim_writer_destroy(sim_writer *w)
{
	if (w == NULL)
		return;
	free(w->buf);
	free(w);
}

static int
drain(sim_writer *w)
{
	if (w->len > 0 && fwrite(w->buf, 1, w->len, w->f) != w->len)
		return AMLRISK_EIO;
	w->len = 0;
	return AMLRISK_OK;
}

static char *
put_raw(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* s as a JSON string, quotes included */
static char *
put_json(char *p, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	*p++ = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			*p++ = '\\';
			*p++ = (char)*c;
		} else if (*c < 0x20) {
			*p++ = '\\';
			*p++ = 'u';
			*p++ = '0';
			*p++ = '0';
			*p++ = hex[*c >> 4];
			*p++ = hex[*c & 15];
		} else {
			*p++ = (char)*c;
		}
	}
	*p++ = '"';
	return p;
}

/* s as a CSV field: quoted (quotes doubled) only when it holds , " CR or LF */
static char *
put_csv(char *p, const char *s)
{
	size_t n = strlen(s);
	if (strpbrk(s, ",\"\r\n") == NULL)
		return put_raw(p, s, n);
	*p++ = '"';
	for (; *s; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	*p++ = '"';
	return p;
}

static char *
put_i64(char *p, int64_t v)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*p++ = '-';
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static int
fits(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}

int
sim_writer_write(sim_writer *w, const Aml__V1__Transaction *tx)
{
	int rv;
	if (w->fmt == SIM_FORMAT_PROTOBUF)
		return amlrisk_tx_write(w->f, tx);
	if (!fits(tx->tx_id, AMLRISK_TXID_MAX) || !fits(tx->sender, AMLRISK_WALLET_MAX) ||
	    !fits(tx->receiver, AMLRISK_WALLET_MAX) || !fits(tx->amount, AMLRISK_AMOUNT_MAX) ||
	    !fits(tx->asset, AMLRISK_ASSET_MAX))
		return AMLRISK_ETOOBIG;
	if (WBUF_SIZE - w->len < ROW_MAX && (rv = drain(w)) != AMLRISK_OK)
		return rv;
	const char *asset = tx->asset ? tx->asset : "";
	char *p = w->buf + w->len;
	if (w->fmt == SIM_FORMAT_JSONL) {
		p = put_raw(p, "{\"tx_id\":", 9);
		p = put_json(p, tx->tx_id ? tx->tx_id : "");
		p = put_raw(p, ",\"sender\":", 10);
		p = put_json(p, tx->sender ? tx->sender : "");
		p = put_raw(p, ",\"receiver\":", 12);
		p = put_json(p, tx->receiver ? tx->receiver : "");
		p = put_raw(p, ",\"amount\":", 10);
		p = put_json(p, tx->amount ? tx->amount : "");
		p = put_raw(p, ",\"timestamp_us\":", 16);
		p = put_i64(p, tx->timestamp_us);
		p = put_raw(p, ",\"asset\":", 9);
		p = put_json(p, asset);
		p = put_raw(p, "}\n", 2);
	} else {
		if (!w->header_done) {
			p = put_raw(p, csv_header, sizeof(csv_header) - 1);
			w->header_done = 1;
		}
		p = put_csv(p, tx->tx_id ? tx->tx_id : "");
		*p++ = ',';
		p = put_csv(p, tx->sender ? tx->sender : "");
		*p++ = ',';
		p = put_csv(p, tx->receiver ? tx->receiver : "");
		*p++ = ',';
		p = put_csv(p, tx->amount ? tx->amount : "");
		*p++ = ',';
		int64_t day = floor_div(tx->timestamp_us, US_PER_DAY);
		if (day != w->day) {
			format_day(day, w->day_str);
			w->day = day;
		}
		p = put_raw(p, w->day_str, 11);
		format_tod(tx->timestamp_us - day * US_PER_DAY, p);
		p += 16;
		*p++ = ',';
		p = put_csv(p, asset);
		*p++ = '\n';
	}
	w->len = (size_t)(p - w->buf);
	return AMLRISK_OK;
}

int
sim_writer_finish(sim_writer *w)
{
	int rv;
	/* an empty CSV still gets its header, so a reader sees the columns */
	if (w->fmt == SIM_FORMAT_CSV && !w->header_done) {
		memcpy(w->buf + w->len, csv_header, sizeof(csv_header) - 1);
		w->len += sizeof(csv_header) - 1;
		w->header_done = 1;
	}
	if (w->buf != NULL && (rv = drain(w)) != AMLRISK_OK)
		return rv;
	return fflush(w->f) == 0 ? AMLRISK_OK : AMLRISK_EIO;
}
