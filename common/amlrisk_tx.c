/* amlrisk_tx.c - Transaction validation and length-delimited streams. The
 * consumer validates every Kafka message through here, so the rules live once. */
#include "amlrisk_tx.h"

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
	else if (tx->receiver == NULL ||
	         amlrisk_tx_check_id(tx->receiver, strlen(tx->receiver), AMLRISK_WALLET_MAX, &r) != 0)
		field = "receiver";
	else if (tx->amount == NULL || amlrisk_tx_check_amount(tx->amount, &r) != 0)
		field = "amount";
	else if (tx->timestamp_us < AMLRISK_TS_MIN_US || tx->timestamp_us >= AMLRISK_TS_MAX_US) {
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
	Aml__V1__Transaction *tx = aml__v1__transaction__unpack(NULL, (size_t)len, buf);
	if (tx == NULL)
		return AMLRISK_EPROTO;
	*out = tx;
	return AMLRISK_OK;
}
