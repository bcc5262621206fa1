/* amlrisk_tx.h - aml.v1.Transaction helpers shared by the simulator, the
 * consumer, the fixtures and the tests: validation (what the consumer accepts)
 * and length-delimited protobuf streams (varint length, then the message). */
#ifndef AMLRISK_TX_H
#define AMLRISK_TX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aml/v1/transaction.pb-c.h"

#define AMLRISK_TXID_MAX 128     /* bytes */
#define AMLRISK_WALLET_MAX 256   /* bytes */
#define AMLRISK_ASSET_MAX 16     /* bytes */
#define AMLRISK_AMOUNT_MAX 64    /* characters of the decimal string */
#define AMLRISK_TX_MSG_MAX 4096  /* bytes of one encoded Transaction in a stream */
/* plausible timestamps: 2009-01-03 (first block) .. 2100-01-01, microseconds */
#define AMLRISK_TS_MIN_US INT64_C(1230940800000000)
#define AMLRISK_TS_MAX_US INT64_C(4102444800000000)

/* Validates tx. Returns AMLRISK_OK, or AMLRISK_EINVAL with a short reason
 * ("amount: not a non-negative decimal") written to why (at most whylen bytes,
 * NUL-terminated). Borrows tx. */
int amlrisk_tx_validate(const Aml__V1__Transaction *tx, char *why, size_t whylen);

/* Checks that s (len bytes) is a non-empty identifier of at most max bytes:
 * valid UTF-8 with no control characters. Returns 0 if fine, else sets *why to a
 * static reason. */
int amlrisk_tx_check_id(const char *s, size_t len, size_t max, const char **why);

/* Checks that s is a non-negative decimal: digits, optionally '.' and digits,
 * at most 20 integer and 18 fractional digits (what PostgreSQL NUMERIC(38,18)
 * holds). */
int amlrisk_tx_check_amount(const char *s, const char **why);

/* Writes tx to f as one length-delimited record. Returns AMLRISK_OK or
 * AMLRISK_EIO / AMLRISK_ETOOBIG. Borrows tx. */
int amlrisk_tx_write(FILE *f, const Aml__V1__Transaction *tx);

/* Reads the next length-delimited record from f into *out (caller frees with
 * aml__v1__transaction__free_unpacked(*out, NULL)). Returns AMLRISK_OK,
 * AMLRISK_ENOTFOUND at a clean end of stream, AMLRISK_EPROTO for a truncated or
 * undecodable record, AMLRISK_ETOOBIG for a length over AMLRISK_TX_MSG_MAX. */
int amlrisk_tx_read(FILE *f, Aml__V1__Transaction **out);

#endif
