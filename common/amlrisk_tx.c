/* amlrisk_tx.c - Transaction decoding, validation and length-delimited
 * streams. The consumer decodes every Kafka message through here (thousands a
 * second, any of them hostile), so the bounds and the rules live once. */
#include "amlrisk_tx.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"

int
amlrisk_tx_check_id(const char *s, size_t len, size_t max, const char **why)
{
	if (s == NULL || len == 0) {
		*why = "empty";
		return -1;
	}
	if (len > max) {
		*why = "too long";
		return -1;
	}
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p;
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f) {
				*why = "control character";
				return -1;
			}
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			*why = "invalid UTF-8";
			return -1;
		}
		if ((size_t)(end - p) <= n) {
			*why = "invalid UTF-8";
			return -1;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				*why = "invalid UTF-8";
				return -1;
			}
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0)) {
			*why = "invalid UTF-8";
			return -1;
		}
		p += n + 1;
	}
	return 0;
}

int
amlrisk_tx_check_amount(const char *s, const char **why)
{
	size_t ip = 0, fp = 0;
	const char *p = s;
	if (s == NULL || *s == '\0') {
		*why = "empty";
		return -1;
	}
	while (*p == '0' && p[1] >= '0' && p[1] <= '9')
		p++; /* leading zeros take no room in the column */
	while (*p >= '0' && *p <= '9') {
		p++;
		ip++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			fp++;
		}
		if (fp == 0) {
			*why = "not a non-negative decimal";
			return -1;
		}
	}
	if (*p != '\0' || ip == 0) {
		*why = "not a non-negative decimal";
		return -1;
	}
	if (ip > 20 || fp > 18) {
		*why = "out of range for numeric(38,18) (at most 20 integer and 18 fractional "
		       "digits)";
		return -1;
	}
	return 0;
}

int
amlrisk_tx_validate(const Aml__V1__Transaction *tx, char *why, size_t whylen)
{
	const char *r = NULL, *field = NULL;
	if (tx->tx_id == NULL ||
	    amlrisk_tx_check_id(tx->tx_id, strlen(tx->tx_id), AMLRISK_TXID_MAX, &r) != 0)
		field = "tx_id";
	else if (tx->sender == NULL ||
	         amlrisk_tx_check_id(tx->sender, strlen(tx->sender), AMLRISK_WALLET_MAX, &r) != 0)
		field = "sender";
	else if (tx->receiver == NULL || amlrisk_tx_check_id(tx->receiver, strlen(tx->receiver),
	                                                     AMLRISK_WALLET_MAX, &r) != 0)
		field = "receiver";
	else if (tx->amount == NULL || amlrisk_tx_check_amount(tx->amount, &r) != 0)
		field = "amount";
	else if (strlen(tx->amount) > AMLRISK_AMOUNT_MAX) {
		field = "amount";
		r = "too long";
	} else if (tx->timestamp_us < AMLRISK_TS_MIN_US || tx->timestamp_us >= AMLRISK_TS_MAX_US) {
		field = "timestamp_us";
		r = tx->timestamp_us == 0 ? "missing" : "implausible (before 2009 or after 2099)";
	} else if (tx->asset != NULL && tx->asset[0] != '\0' &&
	           amlrisk_tx_check_id(tx->asset, strlen(tx->asset), AMLRISK_ASSET_MAX, &r) != 0)
		field = "asset";
	if (field == NULL)
		return AMLRISK_OK;
	if (r == NULL)
		r = "missing";
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s: %s", field, r);
	return AMLRISK_EINVAL;
}

/* ---- decoding ---- */

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

/* The string fields of aml.v1.Transaction by number, with their bounds. */
static const struct {
	const char *name;
	size_t max;
} tx_fields[7] = {
        {NULL, 0},
        {"tx_id", AMLRISK_TXID_MAX},
        {"sender", AMLRISK_WALLET_MAX},
        {"receiver", AMLRISK_WALLET_MAX},
        {"amount", AMLRISK_AMOUNT_MAX},
        {NULL, 0}, /* timestamp_us: a varint */
        {"asset", AMLRISK_ASSET_MAX},
};

static const char *NOT_DECODABLE = "message: not a decodable aml.v1.Transaction";

/* Walks the top-level fields of an encoded message without allocating: the
 * encoding must be well-formed (wire types 0, 1, 2, 5; field numbers > 0) with
 * at most AMLRISK_TX_FIELDS_MAX fields; when strings is set, every occurrence
 * of a known string field must fit its bound and hold no NUL. Returns
 * AMLRISK_OK or an error with the reason in why. */
static int
prescan(const uint8_t *p, size_t len, int strings, char *why, size_t whylen)
{
	const uint8_t *end = p + len;
	int nfields = 0;
	while (p < end) {
		uint64_t key, n;
		if (++nfields > AMLRISK_TX_FIELDS_MAX) {
			snprintf(why, whylen, "message: more than %d fields",
			         AMLRISK_TX_FIELDS_MAX);
			return AMLRISK_ETOOBIG;
		}
		if (read_varint(&p, end, &key) != 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
			goto malformed;
		switch (key & 7) {
		case 0:
			if (read_varint(&p, end, &n) != 0)
				goto malformed;
			break;
		case 1:
			if (end - p < 8)
				goto malformed;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				goto malformed;
			p += 4;
			break;
		case 2: {
			if (read_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
				goto malformed;
			uint64_t f = key >> 3;
			if (strings && f < 7 && tx_fields[f].name != NULL) {
				if (n > tx_fields[f].max) {
					snprintf(why, whylen,
					         "%s: too long (%" PRIu64 " bytes, at most %zu)",
					         tx_fields[f].name, n, tx_fields[f].max);
					return AMLRISK_EINVAL;
				}
				if (memchr(p, 0, (size_t)n) != NULL) {
					snprintf(why, whylen, "%s: embedded NUL",
					         tx_fields[f].name);
					return AMLRISK_EPROTO;
				}
			}
			p += n;
			break;
		}
		default:
			goto malformed;
		}
	}
	return AMLRISK_OK;
malformed:
	snprintf(why, whylen, "%s", NOT_DECODABLE);
	return AMLRISK_EPROTO;
}

/* A ProtobufCAllocator over malloc that refuses to hand out more than cap
 * bytes in total; blocks it gave stay freeable with free(). */
typedef struct budget {
	size_t used, cap;
	int refused;
} budget;

static void *
budget_alloc(void *data, size_t n)
{
	budget *b = data;
	if (n > b->cap - b->used) {
		b->refused = 1;
		return NULL;
	}
	void *p = malloc(n);
	if (p != NULL)
		b->used += n;
	return p;
}

static void
budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

/* The common part of unpack and decode; strings as in prescan(). */
static int
decode(const void *buf, size_t len, int strings, Aml__V1__Transaction **out, size_t *heap,
       char *why, size_t whylen)
{
	budget b = {0, AMLRISK_TX_DECODE_BUDGET(len), 0};
	int rv;
	if (heap != NULL)
		*heap = 0;
	if (len > AMLRISK_TX_MSG_MAX) {
		snprintf(why, whylen, "message: too large (%zu bytes, at most %d)", len,
		         AMLRISK_TX_MSG_MAX);
		return AMLRISK_ETOOBIG;
	}
	const uint8_t *p = len > 0 ? buf : (const uint8_t *)"";
	if ((rv = prescan(p, len, strings, why, whylen)) != AMLRISK_OK)
		return rv;
	ProtobufCAllocator a = {budget_alloc, budget_free, &b};
	Aml__V1__Transaction *tx = aml__v1__transaction__unpack(&a, len, p);
	if (heap != NULL)
		*heap = b.used;
	if (tx == NULL) {
		if (b.refused)
			snprintf(why, whylen, "message: decoding needs more than %zu bytes", b.cap);
		else
			snprintf(why, whylen, "%s", NOT_DECODABLE);
		return b.refused ? AMLRISK_ETOOBIG : AMLRISK_EPROTO;
	}
	*out = tx;
	return AMLRISK_OK;
}

int
amlrisk_tx_unpack(const void *buf, size_t len, Aml__V1__Transaction **out, size_t *heap, char *why,
                  size_t whylen)
{
	return decode(buf, len, 0, out, heap, why, whylen);
}

int
amlrisk_tx_decode(const void *buf, size_t len, Aml__V1__Transaction **out, size_t *heap, char *why,
                  size_t whylen)
{
	Aml__V1__Transaction *tx;
	int rv = decode(buf, len, 1, &tx, heap, why, whylen);
	if (rv != AMLRISK_OK)
		return rv;
	if ((rv = amlrisk_tx_validate(tx, why, whylen)) != AMLRISK_OK) {
		aml__v1__transaction__free_unpacked(tx, NULL);
		return rv;
	}
	*out = tx;
	return AMLRISK_OK;
}

/* ---- streams ---- */

int
amlrisk_tx_write(FILE *f, const Aml__V1__Transaction *tx)
{
	uint8_t buf[10 + AMLRISK_TX_MSG_MAX];
	size_t n = aml__v1__transaction__get_packed_size(tx);
	if (n > AMLRISK_TX_MSG_MAX)
		return AMLRISK_ETOOBIG;
	size_t h = 0;
	uint64_t v = n;
	do {
		buf[h++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	aml__v1__transaction__pack(tx, buf + h);
	return fwrite(buf, 1, h + n, f) == h + n ? AMLRISK_OK : AMLRISK_EIO;
}

int
amlrisk_tx_read(FILE *f, Aml__V1__Transaction **out)
{
	uint8_t buf[AMLRISK_TX_MSG_MAX];
	uint64_t len = 0;
	int shift = 0, c;
	for (;;) {
		c = fgetc(f);
		if (c == EOF)
			return shift == 0 ? AMLRISK_ENOTFOUND : AMLRISK_EPROTO;
		len |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0)
			break;
		shift += 7;
		if (shift > 56)
			return AMLRISK_EPROTO;
	}
	if (len > AMLRISK_TX_MSG_MAX)
		return AMLRISK_ETOOBIG;
	if (fread(buf, 1, (size_t)len, f) != (size_t)len)
		return AMLRISK_EPROTO;
	/* a record over the field or heap bounds is undecodable like any other:
	 * the stream goes on after it */
	char why[96];
	return amlrisk_tx_unpack(buf, (size_t)len, out, NULL, why, sizeof(why)) == AMLRISK_OK
	               ? AMLRISK_OK
	               : AMLRISK_EPROTO;
}
