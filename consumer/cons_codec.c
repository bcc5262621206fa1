/* cons_codec.c - one decoded message (amlrisk_tx_decode()) in, one binary COPY
 * tuple out: numeric and timestamptz in PostgreSQL's binary format so the
 * server parses no text. */
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "cons.h"

/* PGCOPY signature, flags, header extension length */
const uint8_t cons_copy_header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n',
                                      0,   0,   0,   0,   0,   0,   0,    0,    0};
const uint8_t cons_copy_trailer[2] = {0xff, 0xff};

/* microseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define PG_EPOCH_US INT64_C(946684800000000)

static uint8_t *
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *
put64(uint8_t *p, uint64_t v)
{
	p = put32(p, (uint32_t)(v >> 32));
	return put32(p, (uint32_t)v);
}

/* value of n decimal digits at s (n <= 4), right-padded with zeros to 4 */
static int
group4(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < 4; i++)
		v = v * 10 + (i < n ? s[i] - '0' : 0);
	return v;
}

size_t
cons_codec_numeric(uint8_t *out, size_t cap, const char *dec)
{
	/* base-10000 digits, most significant first; weight is the power of
	 * 10000 of the first one (PostgreSQL's NumericVar) */
	int16_t d[32];
	int nd = 0, weight;
	const char *dot = strchr(dec, '.');
	size_t ip = dot != NULL ? (size_t)(dot - dec) : strlen(dec);
	size_t fp = dot != NULL ? strlen(dot + 1) : 0;
	const char *s = dec;
	while (ip > 0 && *s == '0') {
		s++;
		ip--;
	}
	if (ip > 64 || fp > 64)
		return 0;
	/* the integer part in groups aligned at the decimal point */
	size_t first = ip % 4 == 0 ? 4 : ip % 4;
	int ig = (int)((ip + 3) / 4);
	for (int g = 0; g < ig; g++) {
		size_t at = g == 0 ? 0 : first + (size_t)(g - 1) * 4;
		size_t n = g == 0 ? first : 4;
		int v = 0;
		for (size_t i = 0; i < n; i++)
			v = v * 10 + (s[at + i] - '0');
		d[nd++] = (int16_t)v;
	}
	weight = ig - 1;
	for (size_t at = 0; at < fp; at += 4)
		d[nd++] = (int16_t)group4(dot + 1 + at, fp - at < 4 ? fp - at : 4);
	/* strip zero groups at both ends */
	int lead = 0;
	while (lead < nd && d[lead] == 0)
		lead++;
	weight -= lead;
	while (nd > lead && d[nd - 1] == 0)
		nd--;
	nd -= lead;
	if (nd == 0)
		weight = 0;
	size_t len = 8 + 2 * (size_t)nd;
	if (len > cap)
		return 0;
	uint8_t *p = put16(out, (uint16_t)nd);
	p = put16(p, (uint16_t)(int16_t)weight);
	p = put16(p, 0x0000); /* NUMERIC_POS */
	p = put16(p, (uint16_t)fp);
	for (int i = 0; i < nd; i++)
		p = put16(p, (uint16_t)d[lead + i]);
	return len;
}

static uint8_t *
put_text(uint8_t *p, const char *s, size_t n)
{
	p = put32(p, (uint32_t)n);
	memcpy(p, s, n);
	return p + n;
}

size_t
cons_codec_row(uint8_t *out, size_t cap, const Aml__V1__Transaction *tx)
{
	size_t li = strlen(tx->tx_id), ls = strlen(tx->sender), lr = strlen(tx->receiver);
	size_t la = tx->asset != NULL ? strlen(tx->asset) : 0;
	uint8_t num[8 + 2 * 32];
	size_t ln = cons_codec_numeric(num, sizeof(num), tx->amount);
	size_t need = 2 + 6 * 4 + li + ls + lr + ln + 8 + la;
	if (ln == 0 || need > cap)
		return 0;
	uint8_t *p = put16(out, 6);
	p = put_text(p, tx->tx_id, li);
	p = put_text(p, tx->sender, ls);
	p = put_text(p, tx->receiver, lr);
	p = put32(p, (uint32_t)ln);
	memcpy(p, num, ln);
	p += ln;
	p = put32(p, 8);
	p = put64(p, (uint64_t)(tx->timestamp_us - PG_EPOCH_US));
	if (la == 0)
		p = put32(p, UINT32_MAX); /* -1: NULL, the asset is unknown */
	else
		p = put_text(p, tx->asset, la);
	return (size_t)(p - out);
}
