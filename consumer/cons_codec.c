/* cons_codec.c - one Kafka message in, one binary COPY tuple out: bound the
 * size, reject what protobuf-c cannot represent (NUL inside a string), decode,
 * validate with amlrisk_tx_validate(), and encode numeric and timestamptz in
 * PostgreSQL's binary format so the server parses no text. */
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "cons.h"

/* PGCOPY signature, flags, header extension length */
const uint8_t cons_copy_header[19] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0,
	                               0,   0,   0,   0,   0,   0,   0,    0 };
const uint8_t cons_copy_trailer[2] = { 0xff, 0xff };

/* numeric(38,18) holds at most 38 - 18 integer digits */
/* microseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define PG_EPOCH_US INT64_C(946684800000000)

static int
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t c = *(*p)++;
		r |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* Walks the top-level fields of an encoded message. Returns the number of the
 * first length-delimited field holding a NUL byte, 0 if none, -1 if the
 * encoding is malformed (left for the decoder to reject). */
static int
nul_field(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	while (p < end) {
		uint64_t key, n;
		if (read_varint(&p, end, &key) != 0)
			return -1;
		switch (key & 7) {
		case 0:
			if (read_varint(&p, end, &n) != 0)
				return -1;
			break;
		case 1:
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		case 2:
			if (read_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
				return -1;
			if (memchr(p, 0, (size_t)n) != NULL)
				return (int)(key >> 3);
			p += n;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static const char *
field_name(int f)
{
	static const char *names[] = { "field", "tx_id", "sender", "receiver", "amount",
		                       "timestamp_us", "asset" };
	return f > 0 && f < 7 ? names[f] : "field";
}

int
cons_codec_decode(const void *buf, size_t len, Aml__V1__Transaction **out, char *why,
                  size_t whylen)
{
	if (len > AMLRISK_TX_MSG_MAX) {
		snprintf(why, whylen, "message: too large (%zu bytes, at most %d)", len,
		         AMLRISK_TX_MSG_MAX);
		return AMLRISK_ETOOBIG;
	}
	int f = len > 0 ? nul_field(buf, len) : 0;
	if (f > 0) {
		snprintf(why, whylen, "%s: embedded NUL", field_name(f));
		return AMLRISK_EPROTO;
	}
	Aml__V1__Transaction *tx =
	    aml__v1__transaction__unpack(NULL, len, len > 0 ? buf : (const uint8_t *)"");
	if (tx == NULL) {
		snprintf(why, whylen, "message: not a decodable aml.v1.Transaction");
		return AMLRISK_EPROTO;
	}
	if (amlrisk_tx_validate(tx, why, whylen) != AMLRISK_OK) {
		aml__v1__transaction__free_unpacked(tx, NULL);
		return AMLRISK_EINVAL;
	}
	*out = tx;
	return AMLRISK_OK;
}

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
