/* amlrisk_tx.h - aml.v1.Transaction helpers shared by the simulator, the
 * consumer, the core's readers, the fixtures and the tests: bounded decoding of
 * hostile bytes, validation (what the consumer accepts) and length-delimited
 * protobuf streams (varint length, then the message).
 *
 * Entry points for fuzz harnesses (each takes any bytes, never crashes, never
 * allocates more than AMLRISK_TX_DECODE_BUDGET(len) while decoding):
 *   amlrisk_tx_decode()  one Kafka message value: bounds, decode, validation
 *   amlrisk_tx_unpack()  one encoded message: bounds and decode only
 *   amlrisk_tx_read()    a length-delimited stream (e.g. through fmemopen()) */
#ifndef AMLRISK_TX_H
#define AMLRISK_TX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aml/v1/transaction.pb-c.h"

#define AMLRISK_TXID_MAX   128   /* bytes */
#define AMLRISK_WALLET_MAX 256   /* bytes */
#define AMLRISK_ASSET_MAX  16    /* bytes */
#define AMLRISK_AMOUNT_MAX 64    /* characters of the decimal string */
#define AMLRISK_TX_MSG_MAX 4096  /* bytes of one encoded Transaction (Kafka value, stream record)  \
	                          */
#define AMLRISK_TX_FIELDS_MAX 32 /* fields of one encoded Transaction, unknown ones included */
/* The most heap one decode may use: protobuf-c allocates per field (unknown
 * fields are kept, a repeated string is allocated again), so a 4 KiB message of
 * 2-byte fields would otherwise cost ~180 KiB. With at most AMLRISK_TX_FIELDS_MAX
 * fields a valid message needs about len + 300 bytes. */
#define AMLRISK_TX_DECODE_BUDGET(len) (4 * (size_t)(len) + 4096)
/* plausible timestamps: 2009-01-03 (first block) .. 2100-01-01, microseconds */
#define AMLRISK_TS_MIN_US INT64_C(1230940800000000)
#define AMLRISK_TS_MAX_US INT64_C(4102444800000000)

/* Decodes an untrusted encoded message (buf, len bytes; borrowed), unknown
 * fields allowed, without validating the fields: checks len against
 * AMLRISK_TX_MSG_MAX and the number of fields against AMLRISK_TX_FIELDS_MAX
 * before unpacking, and unpacks with an allocator that refuses to go past
 * AMLRISK_TX_DECODE_BUDGET(len) bytes in total. On AMLRISK_OK *out is the
 * message (caller frees with aml__v1__transaction__free_unpacked(*out, NULL)).
 * Otherwise returns AMLRISK_ETOOBIG (size, field count, budget) or
 * AMLRISK_EPROTO (not a Transaction) with a reason in why ("message: ...",
 * NUL-terminated, at most whylen bytes). *heap (may be NULL) receives the bytes
 * allocated during the call, whatever the outcome. */
int amlrisk_tx_unpack(const void *buf, size_t len, Aml__V1__Transaction **out, size_t *heap,
                      char *why, size_t whylen);

/* amlrisk_tx_unpack() plus everything the consumer requires of a message, with
 * the cheap checks first: before anything is allocated, every string field's
 * length against its bound ("sender: too long (300 bytes, at most 256)") and
 * no NUL inside one ("receiver: embedded NUL", which a C string would cut);
 * after unpacking, amlrisk_tx_validate(). Returns AMLRISK_OK with *out as
 * above, or AMLRISK_ETOOBIG, AMLRISK_EPROTO or AMLRISK_EINVAL (a field breaks
 * a rule) with the dead-letter reason in why. *heap as above. */
int amlrisk_tx_decode(const void *buf, size_t len, Aml__V1__Transaction **out, size_t *heap,
                      char *why, size_t whylen);

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
 * aml__v1__transaction__free_unpacked(*out, NULL)), decoded by
 * amlrisk_tx_unpack(); not validated. Returns AMLRISK_OK, AMLRISK_ENOTFOUND at
 * a clean end of stream, AMLRISK_EPROTO for a truncated or undecodable record
 * (over the field or heap bounds included; the next record follows it),
 * AMLRISK_ETOOBIG for a length over AMLRISK_TX_MSG_MAX (refused before it is
 * read; the stream cannot be read further). */
int amlrisk_tx_read(FILE *f, Aml__V1__Transaction **out);

#endif
