/* proto_test.c - the wire contracts: protobuf round trips of the Kafka value and
 * the RPC envelope, fixtures, Transaction validation, and decoding garbage and
 * truncated messages, which must fail cleanly and never crash; decoding
 * untrusted Transactions (amlrisk_tx_decode, _unpack, _read): every bound is
 * checked before memory is spent (size, field count, each string's length, NUL
 * in a string), no message costs more heap than AMLRISK_TX_DECODE_BUDGET(len),
 * and the reasons name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "aml/v1/risk_service.pb-c.h"
#include "aml/v1/rpc.pb-c.h"
#include "th.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A valid transaction with a non-ASCII wallet and the largest amount. */
static Aml__V1__Transaction
valid_tx(void)
{
	Aml__V1__Transaction tx = AML__V1__TRANSACTION__INIT;
	tx.tx_id = "t-1";
	tx.sender = "wallet_日本";
	tx.receiver = "0xabc";
	tx.amount = "12345678901234567890.123456789012345678";
	tx.timestamp_us = INT64_C(1767225600123456);
	tx.asset = "BTC";
	return tx;
}

static void
test_transaction_roundtrip(void **state)
{
	(void)state;
	Aml__V1__Transaction tx = valid_tx();
	uint8_t buf[512];
	size_t n = aml__v1__transaction__pack(&tx, buf);
	assert_int_equal(n, aml__v1__transaction__get_packed_size(&tx));
	Aml__V1__Transaction *back = aml__v1__transaction__unpack(NULL, n, buf);
	assert_non_null(back);
	assert_string_equal(back->tx_id, tx.tx_id);
	assert_string_equal(back->sender, tx.sender);
	assert_string_equal(back->receiver, tx.receiver);
	assert_string_equal(back->amount, tx.amount);
	assert_true(back->timestamp_us == tx.timestamp_us);
	assert_string_equal(back->asset, tx.asset);
	aml__v1__transaction__free_unpacked(back, NULL);
}

static void
test_envelope_roundtrip(void **state)
{
	(void)state;
	Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
	req.n = 20;
	req.run_id = 7;
	uint8_t payload[64];
	size_t pn = aml__v1__top_scores_request__pack(&req, payload);

	Aml__V1__MetadataEntry md = AML__V1__METADATA_ENTRY__INIT, *mds[1] = {&md};
	md.key = "caller";
	md.value = "test";
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	call.request_id = UINT64_C(0xfeedface12345678);
	call.method = "aml.v1.RiskService/TopScores";
	call.timeout_ms = 1500;
	call.n_metadata = 1;
	call.metadata = mds;
	call.payload.data = payload;
	call.payload.len = pn;
	env.call = &call;
	uint8_t buf[256];
	size_t n = aml__v1__rpc_request__pack(&env, buf);
	Aml__V1__RpcRequest *e = aml__v1__rpc_request__unpack(NULL, n, buf);
	assert_non_null(e);
	assert_non_null(e->call);
	assert_true(e->call->request_id == call.request_id);
	assert_string_equal(e->call->method, call.method);
	assert_int_equal(e->call->timeout_ms, 1500);
	assert_int_equal(e->call->n_metadata, 1);
	assert_string_equal(e->call->metadata[0]->value, "test");
	Aml__V1__TopScoresRequest *r = aml__v1__top_scores_request__unpack(
	        NULL, e->call->payload.len, e->call->payload.data);
	assert_non_null(r);
	assert_int_equal(r->n, 20);
	assert_int_equal(r->run_id, 7);
	aml__v1__top_scores_request__free_unpacked(r, NULL);
	aml__v1__rpc_request__free_unpacked(e, NULL);

	/* every RiskService method resolves by name through the descriptor */
	const ProtobufCServiceDescriptor *sd = &aml__v1__risk_service__descriptor;
	assert_string_equal(sd->name, "aml.v1.RiskService");
	static const char *methods[] = {
	        "Health",        "ReloadGraph", "RunScore", "TopScores", "GetWalletScore",
	        "ExplainWallet", "WalletGraph", "ListRuns", "GetRun",    "IngestionStatus"};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		assert_non_null(protobuf_c_service_descriptor_get_method_by_name(sd, methods[i]));
}

/* Random bytes and every truncation of valid messages: unpack returns NULL or a
 * message, never crashes (the sanitizer build checks the memory). */
static void
test_decode_garbage(void **state)
{
	(void)state;
	uint8_t buf[600];
	int decoded = 0, rejected = 0;
	for (int i = 0; i < 20000; i++) {
		size_t n = next() % sizeof(buf);
		for (size_t j = 0; j < n; j++)
			buf[j] = (uint8_t)next();
		Aml__V1__Transaction *t = aml__v1__transaction__unpack(NULL, n, buf);
		Aml__V1__RpcRequest *e = aml__v1__rpc_request__unpack(NULL, n, buf);
		Aml__V1__HealthResponse *h = aml__v1__health_response__unpack(NULL, n, buf);
		decoded += (t != NULL) + (e != NULL) + (h != NULL);
		rejected += (t == NULL) + (e == NULL) + (h == NULL);
		if (t)
			aml__v1__transaction__free_unpacked(t, NULL);
		if (e)
			aml__v1__rpc_request__free_unpacked(e, NULL);
		if (h)
			aml__v1__health_response__free_unpacked(h, NULL);
	}
	assert_true(rejected > 0);
	assert_true(decoded + rejected == 60000);

	Aml__V1__Transaction tx = AML__V1__TRANSACTION__INIT;
	tx.tx_id = "truncate-me";
	tx.sender = "sender-wallet";
	tx.receiver = "receiver-wallet";
	tx.amount = "1.5";
	tx.timestamp_us = INT64_C(1767225600000000);
	size_t n = aml__v1__transaction__pack(&tx, buf);
	for (size_t cut = 1; cut < n; cut++) {
		Aml__V1__Transaction *t = aml__v1__transaction__unpack(NULL, cut, buf);
		/* a cut inside a field must fail; a cut on a field boundary is a valid,
		 * shorter message that validation then rejects for the missing field */
		if (t != NULL) {
			char why[128];
			assert_int_equal(amlrisk_tx_validate(t, why, sizeof(why)), AMLRISK_EINVAL);
			aml__v1__transaction__free_unpacked(t, NULL);
		}
	}
}

static void
test_stream_and_fixtures(void **state)
{
	(void)state;
	Aml__V1__Transaction **txs;
	size_t n = th_fixture_load("spec-example.pb", &txs);
	assert_int_equal(n, 6);
	assert_string_equal(txs[0]->sender, "A");
	assert_string_equal(txs[5]->receiver, "D");
	assert_true(txs[0]->timestamp_us == INT64_C(1767225600000000));
	char why[128];
	for (size_t i = 0; i < n; i++)
		assert_int_equal(amlrisk_tx_validate(txs[i], why, sizeof(why)), AMLRISK_OK);

	/* write them to a stream and read them back */
	FILE *f = tmpfile();
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(amlrisk_tx_write(f, txs[i]), AMLRISK_OK);
	long size = ftell(f);
	rewind(f);
	Aml__V1__Transaction *t;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(amlrisk_tx_read(f, &t), AMLRISK_OK);
		assert_string_equal(t->tx_id, txs[i]->tx_id);
		aml__v1__transaction__free_unpacked(t, NULL);
	}
	assert_int_equal(amlrisk_tx_read(f, &t), AMLRISK_ENOTFOUND);
	/* a stream cut in the middle of the last record is an error, not an end */
	fflush(f);
	assert_int_equal(ftruncate(fileno(f), size - 3), 0);
	rewind(f);
	int rv = AMLRISK_OK;
	size_t got = 0;
	while ((rv = amlrisk_tx_read(f, &t)) == AMLRISK_OK) {
		aml__v1__transaction__free_unpacked(t, NULL);
		got++;
	}
	assert_int_equal(got, n - 1);
	assert_int_equal(rv, AMLRISK_EPROTO);
	/* an absurd length prefix is refused before reading */
	rewind(f);
	assert_int_equal(ftruncate(fileno(f), 0), 0);
	fputc(0xff, f);
	fputc(0xff, f);
	fputc(0x7f, f);
	rewind(f);
	assert_int_equal(amlrisk_tx_read(f, &t), AMLRISK_ETOOBIG);
	fclose(f);
	th_fixture_free(txs, n);

	n = th_fixture_load("mixed.pb", &txs);
	assert_int_equal(n, 120);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(amlrisk_tx_validate(txs[i], why, sizeof(why)), AMLRISK_OK);
	th_fixture_free(txs, n);
}

static void
expect_invalid(Aml__V1__Transaction *tx, const char *field)
{
	char why[160];
	assert_int_equal(amlrisk_tx_validate(tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_true(strncmp(why, field, strlen(field)) == 0);
}

static void
test_validation(void **state)
{
	(void)state;
	Aml__V1__Transaction tx = AML__V1__TRANSACTION__INIT;
	tx.tx_id = "t";
	tx.sender = "a";
	tx.receiver = "b";
	tx.amount = "0.5";
	tx.timestamp_us = INT64_C(1767225600000000);
	char why[160];
	assert_int_equal(amlrisk_tx_validate(&tx, why, sizeof(why)), AMLRISK_OK);

	static const char *bad_amounts[] = {"",
	                                    "-1",
	                                    "NaN",
	                                    "nan",
	                                    "inf",
	                                    "1e5",
	                                    "1.",
	                                    ".5",
	                                    "1,5",
	                                    " 1",
	                                    "0x10",
	                                    "1.0000000000000000001",
	                                    "123456789012345678901234567890123456789"};
	for (size_t i = 0; i < sizeof(bad_amounts) / sizeof(bad_amounts[0]); i++) {
		tx.amount = (char *)bad_amounts[i];
		expect_invalid(&tx, "amount");
	}
	tx.amount = "12345678901234567890.123456789012345678"; /* NUMERIC(38,18)'s largest */
	assert_int_equal(amlrisk_tx_validate(&tx, why, sizeof(why)), AMLRISK_OK);
	tx.amount = "123456789012345678901"; /* 21 integer digits do not fit */
	expect_invalid(&tx, "amount");
	tx.amount = "0000012345678901234567890.5"; /* leading zeros do */
	assert_int_equal(amlrisk_tx_validate(&tx, why, sizeof(why)), AMLRISK_OK);

	tx.sender = "";
	expect_invalid(&tx, "sender");
	char big[AMLRISK_WALLET_MAX + 2];
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tx.sender = big;
	expect_invalid(&tx, "sender");
	tx.sender = "a\tb";
	expect_invalid(&tx, "sender");
	tx.sender = "\xc3\x28"; /* invalid UTF-8 */
	expect_invalid(&tx, "sender");
	tx.sender = "\xed\xa0\x80"; /* a surrogate */
	expect_invalid(&tx, "sender");
	tx.sender = "wälletß";
	assert_int_equal(amlrisk_tx_validate(&tx, why, sizeof(why)), AMLRISK_OK);
	tx.receiver = NULL;
	expect_invalid(&tx, "receiver");
	tx.receiver = "b";
	tx.tx_id = "";
	expect_invalid(&tx, "tx_id");
	tx.tx_id = "t";
	tx.timestamp_us = 0;
	expect_invalid(&tx, "timestamp_us");
	tx.timestamp_us = INT64_C(4102444800000000);
	expect_invalid(&tx, "timestamp_us");
	tx.timestamp_us = INT64_C(1767225600000000);
	tx.asset = "BTC\n";
	expect_invalid(&tx, "asset");
}

static void
test_error_tables(void **state)
{
	(void)state;
	for (int e = 0; e < AMLRISK_ERR_COUNT; e++) {
		assert_non_null(amlrisk_strerror(e));
		int g = amlrisk_err_to_grpc(e);
		assert_true(g >= 0 && g <= 16);
		assert_true(amlrisk_grpc_to_http(g) >= 200);
		assert_string_not_equal(amlrisk_grpc_name(g), "");
	}
	assert_int_equal(amlrisk_err_to_grpc(AMLRISK_OK), AML__V1__STATUS_CODE__OK);
	assert_int_equal(amlrisk_err_to_grpc(AMLRISK_EINVAL),
	                 AML__V1__STATUS_CODE__INVALID_ARGUMENT);
	assert_int_equal(amlrisk_err_to_grpc(AMLRISK_ENOTFOUND), AML__V1__STATUS_CODE__NOT_FOUND);
	assert_int_equal(amlrisk_err_to_grpc(AMLRISK_EBUSY), AML__V1__STATUS_CODE__ABORTED);
	assert_int_equal(amlrisk_err_to_grpc(AMLRISK_ETIMEDOUT),
	                 AML__V1__STATUS_CODE__DEADLINE_EXCEEDED);
	assert_int_equal(amlrisk_grpc_to_http(AML__V1__STATUS_CODE__NOT_FOUND), 404);
	assert_int_equal(amlrisk_grpc_to_http(AML__V1__STATUS_CODE__UNAVAILABLE), 503);
	assert_int_equal(amlrisk_grpc_to_http(AML__V1__STATUS_CODE__DEADLINE_EXCEEDED), 504);
	assert_int_equal(amlrisk_grpc_to_http(99), 500);
	assert_string_equal(amlrisk_grpc_name(AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED),
	                    "RESOURCE_EXHAUSTED");
	assert_int_equal(amlrisk_err_from_grpc(AML__V1__STATUS_CODE__NOT_FOUND), AMLRISK_ENOTFOUND);
	assert_string_equal(amlrisk_strerror(-5), "unknown error");
}

/* ---- decoding untrusted Transactions ---- */

/* Decodes buf and checks the outcome: code, reason (when want_why is not
 * NULL) and heap (exactly want_heap when >= 0, else within the budget). */
static void
expect(const uint8_t *buf, size_t len, int code, const char *want_why, long want_heap)
{
	Aml__V1__Transaction *tx = NULL;
	char why[160] = "";
	size_t heap = 12345;
	int rv = amlrisk_tx_decode(buf, len, &tx, &heap, why, sizeof(why));
	if (rv != code)
		fail_msg("decode: %d (%s), want %d", rv, why, code);
	if (want_why != NULL && strcmp(why, want_why) != 0)
		fail_msg("reason \"%s\", want \"%s\"", why, want_why);
	if (want_heap >= 0)
		assert_int_equal(heap, (size_t)want_heap);
	assert_true(heap <= AMLRISK_TX_DECODE_BUDGET(len));
	if (code == AMLRISK_OK) {
		assert_non_null(tx);
		aml__v1__transaction__free_unpacked(tx, NULL);
	} else {
		assert_null(tx);
	}
}

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	return n;
}

/* Appends string field f of n bytes of c at buf + *at. */
static void
put_string(uint8_t *buf, size_t *at, int f, size_t n, char c)
{
	*at += put_varint(buf + *at, (uint64_t)f << 3 | 2);
	*at += put_varint(buf + *at, n);
	memset(buf + *at, c, n);
	*at += n;
}

static void
test_valid_and_bounds_of_each_field(void **state)
{
	(void)state;
	uint8_t buf[8192];
	Aml__V1__Transaction t = valid_tx();
	size_t n = aml__v1__transaction__pack(&t, buf);
	expect(buf, n, AMLRISK_OK, NULL, -1);
	Aml__V1__Transaction *out = NULL;
	size_t heap = 0;
	char why[160];
	assert_int_equal(amlrisk_tx_decode(buf, n, &out, &heap, why, sizeof(why)), AMLRISK_OK);
	assert_string_equal(out->receiver, "0xabc");
	assert_true(heap > 0 && heap < n + 512);
	aml__v1__transaction__free_unpacked(out, NULL);

	/* every string one byte over its bound: refused before unpacking */
	static const struct {
		int field;
		size_t max;
		const char *why;
	} over[] = {
	        {1, AMLRISK_TXID_MAX, "tx_id: too long (129 bytes, at most 128)"},
	        {2, AMLRISK_WALLET_MAX, "sender: too long (257 bytes, at most 256)"},
	        {3, AMLRISK_WALLET_MAX, "receiver: too long (257 bytes, at most 256)"},
	        {4, AMLRISK_AMOUNT_MAX, "amount: too long (65 bytes, at most 64)"},
	        {6, AMLRISK_ASSET_MAX, "asset: too long (17 bytes, at most 16)"},
	};
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		n = aml__v1__transaction__pack(&t, buf);
		size_t at = n;
		/* the last occurrence of a field wins in protobuf; every one is checked */
		put_string(buf, &at, over[i].field, over[i].max + 1, '1');
		put_string(buf, &at, over[i].field, 1, '1');
		expect(buf, at, AMLRISK_EINVAL, over[i].why, 0);
		/* at the bound it is the field's own rules that decide */
		at = n;
		put_string(buf, &at, over[i].field, over[i].max, '1');
		Aml__V1__Transaction *tx = NULL;
		heap = 0;
		int rv = amlrisk_tx_decode(buf, at, &tx, &heap, why, sizeof(why));
		assert_true(heap > 0);
		if (rv == AMLRISK_OK)
			aml__v1__transaction__free_unpacked(tx, NULL);
		else
			assert_null(strstr(why, "too long"));
	}
	/* a 64-character amount: leading zeros are allowed up to the bound */
	char amt[AMLRISK_AMOUNT_MAX + 1];
	memset(amt, '0', AMLRISK_AMOUNT_MAX);
	amt[AMLRISK_AMOUNT_MAX - 1] = '7';
	amt[AMLRISK_AMOUNT_MAX] = '\0';
	t.amount = amt;
	n = aml__v1__transaction__pack(&t, buf);
	expect(buf, n, AMLRISK_OK, NULL, -1);

	/* a NUL inside a string, which a C string would cut silently */
	t = valid_tx();
	t.sender = "alice-x";
	n = aml__v1__transaction__pack(&t, buf);
	uint8_t *p = memmem(buf, n, "alice-x", 7);
	assert_non_null(p);
	p[5] = '\0';
	expect(buf, n, AMLRISK_EPROTO, "sender: embedded NUL", 0);
	/* in an unknown field, bytes are bytes */
	t = valid_tx();
	n = aml__v1__transaction__pack(&t, buf);
	size_t at = n;
	put_string(buf, &at, 9, 4, '\0');
	expect(buf, at, AMLRISK_OK, NULL, -1);

	/* size first: nothing is read beyond the bound */
	memset(buf, 'a', sizeof(buf));
	expect(buf, AMLRISK_TX_MSG_MAX + 1, AMLRISK_ETOOBIG,
	       "message: too large (4097 bytes, at most 4096)", 0);
	expect((const uint8_t *)"", 0, AMLRISK_EINVAL, "tx_id: empty", -1);
}

/* The memory floods protobuf-c allows: a 4 KiB message of 2-byte unknown
 * fields unpacks into ~180 KiB, one of a 1-byte string repeated into ~67 KiB. */
static void
test_field_floods_refused_before_unpacking(void **state)
{
	(void)state;
	uint8_t buf[AMLRISK_TX_MSG_MAX];
	size_t n = 0;
	while (n + 2 <= sizeof(buf)) {
		buf[n++] = 7 << 3; /* field 7, varint */
		buf[n++] = 1;
	}
	expect(buf, n, AMLRISK_ETOOBIG, "message: more than 32 fields", 0);
	n = 0;
	while (n + 3 <= sizeof(buf)) {
		buf[n++] = 2 << 3 | 2; /* sender, 1 byte */
		buf[n++] = 1;
		buf[n++] = 'a';
	}
	expect(buf, n, AMLRISK_ETOOBIG, "message: more than 32 fields", 0);

	/* a valid message with unknown fields up to the bound still decodes */
	Aml__V1__Transaction t = valid_tx();
	n = aml__v1__transaction__pack(&t, buf);
	for (int i = 6; i < AMLRISK_TX_FIELDS_MAX; i++) {
		n += put_varint(buf + n, (uint64_t)(1000 + i) << 3);
		buf[n++] = 1;
	}
	expect(buf, n, AMLRISK_OK, NULL, -1);
	buf[n++] = 9 << 3;
	buf[n++] = 1;
	expect(buf, n, AMLRISK_ETOOBIG, "message: more than 32 fields", 0);
}

static void
test_malformed(void **state)
{
	(void)state;
	static const char *nd = "message: not a decodable aml.v1.Transaction";
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
	        {"\x07\x01", 2},         /* wire type 7 */
	        {"\x0b\x0c", 2},         /* groups (wire types 3, 4) */
	        {"\x02\x01\x61", 3},     /* field number 0 */
	        {"\x0a\x05\x61\x62", 4}, /* a string running past the end */
	        {"\x28\xff\xff", 3},     /* a varint cut short */
	        {"\x28\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12}, /* 11-byte varint */
	        {"\x2d\x01\x02", 3},                                      /* a fixed32 cut short */
	        {"\x0a\xff\xff\xff\xff\x0f", 6},                          /* a 4 GiB length */
	        {"\x28\x01\x0a", 3}, /* a key with nothing after it */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect((const uint8_t *)bad[i].bytes, bad[i].len, AMLRISK_EPROTO, nd, 0);
	/* a known field with the wrong wire type: protobuf-c refuses it */
	expect((const uint8_t *)"\x08\x05", 2, AMLRISK_EPROTO, nd, -1);
}

/* Mutations of valid messages (bytes changed, inserted, cut, fields appended):
 * whatever comes out, the heap used stays within the budget. */
static void
test_mutations_stay_within_budget(void **state)
{
	(void)state;
	uint8_t base[1024], buf[AMLRISK_TX_MSG_MAX + 64];
	char id[AMLRISK_TXID_MAX + 1], w[AMLRISK_WALLET_MAX + 1];
	memset(id, 'i', AMLRISK_TXID_MAX);
	id[AMLRISK_TXID_MAX] = '\0';
	memset(w, 'w', AMLRISK_WALLET_MAX);
	w[AMLRISK_WALLET_MAX] = '\0';
	Aml__V1__Transaction t = valid_tx();
	t.tx_id = id;
	t.sender = w;
	t.receiver = w;
	size_t bn = aml__v1__transaction__pack(&t, base);
	int outcomes[AMLRISK_ERR_COUNT] = {0};
	double worst = 0;
	for (int i = 0; i < 20000; i++) {
		size_t n = bn;
		memcpy(buf, base, bn);
		int edits = 1 + (int)(next() % 8);
		for (int e = 0; e < edits; e++) {
			uint64_t r = next();
			size_t at = n > 0 ? (size_t)(r >> 8) % n : 0;
			switch (r % 4) {
			case 0:
				if (n > 0)
					buf[at] = (uint8_t)(r >> 40);
				break;
			case 1:
				if (n < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, n - at);
					buf[at] = (uint8_t)(r >> 40);
					n++;
				}
				break;
			case 2:
				n = at;
				break;
			default: /* an unknown or repeated field at the end */
				if (n + 16 < sizeof(buf)) {
					buf[n++] = (uint8_t)((r >> 40) & 0x7f);
					buf[n++] = (uint8_t)((r >> 48) & 0x0f);
				}
				break;
			}
		}
		Aml__V1__Transaction *tx = NULL;
		char why[160];
		size_t heap = 0;
		int rv = amlrisk_tx_decode(buf, n, &tx, &heap, why, sizeof(why));
		outcomes[rv]++;
		if (heap > AMLRISK_TX_DECODE_BUDGET(n))
			fail_msg("%zu bytes used %zu of heap, budget %zu", n, heap,
			         AMLRISK_TX_DECODE_BUDGET(n));
		if (n > 0 && (double)heap / (double)n > worst)
			worst = (double)heap / (double)n;
		assert_true(rv == AMLRISK_OK ? tx != NULL : tx == NULL);
		if (tx != NULL)
			aml__v1__transaction__free_unpacked(tx, NULL);
		/* the same bytes through the unvalidated entry point */
		tx = NULL;
		rv = amlrisk_tx_unpack(buf, n, &tx, &heap, why, sizeof(why));
		assert_true(heap <= AMLRISK_TX_DECODE_BUDGET(n));
		if (tx != NULL)
			aml__v1__transaction__free_unpacked(tx, NULL);
	}
	print_message("outcomes: ok %d, einval %d, eproto %d, etoobig %d; worst heap/size %.1f\n",
	              outcomes[AMLRISK_OK], outcomes[AMLRISK_EINVAL], outcomes[AMLRISK_EPROTO],
	              outcomes[AMLRISK_ETOOBIG], worst);
	assert_true(outcomes[AMLRISK_OK] > 0);
	assert_true(outcomes[AMLRISK_EPROTO] > 0);
	assert_true(outcomes[AMLRISK_EINVAL] > 0);
}

/* A stream record over the field bound is undecodable, and the next one is read. */
static void
test_stream_record_over_bounds(void **state)
{
	(void)state;
	uint8_t rec[256];
	size_t n = 0;
	for (int i = 0; i < 40; i++) {
		rec[n++] = 7 << 3;
		rec[n++] = 1;
	}
	FILE *f = tmpfile();
	assert_non_null(f);
	fputc((int)n, f);
	assert_int_equal(fwrite(rec, 1, n, f), n);
	Aml__V1__Transaction t = valid_tx();
	assert_int_equal(amlrisk_tx_write(f, &t), AMLRISK_OK);
	rewind(f);
	Aml__V1__Transaction *out = NULL;
	assert_int_equal(amlrisk_tx_read(f, &out), AMLRISK_EPROTO);
	assert_int_equal(amlrisk_tx_read(f, &out), AMLRISK_OK);
	assert_string_equal(out->tx_id, "t-1");
	aml__v1__transaction__free_unpacked(out, NULL);
	assert_int_equal(amlrisk_tx_read(f, &out), AMLRISK_ENOTFOUND);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_transaction_roundtrip),
	        cmocka_unit_test(test_envelope_roundtrip),
	        cmocka_unit_test(test_decode_garbage),
	        cmocka_unit_test(test_stream_and_fixtures),
	        cmocka_unit_test(test_validation),
	        cmocka_unit_test(test_error_tables),
	        cmocka_unit_test(test_valid_and_bounds_of_each_field),
	        cmocka_unit_test(test_field_floods_refused_before_unpacking),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_mutations_stay_within_budget),
	        cmocka_unit_test(test_stream_record_over_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
