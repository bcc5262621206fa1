/* proto_test.c - the wire contracts: protobuf round trips of the Kafka value and
 * the RPC envelope, fixtures, Transaction validation, and decoding garbage and
 * truncated messages, which must fail cleanly and never crash. */
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

static void
test_transaction_roundtrip(void **state)
{
	(void)state;
	Aml__V1__Transaction tx = AML__V1__TRANSACTION__INIT;
	tx.tx_id = "t-1";
	tx.sender = "wallet_日本";
	tx.receiver = "0xabc";
	tx.amount = "12345678901234567890.123456789012345678";
	tx.timestamp_us = INT64_C(1767225600123456);
	tx.asset = "BTC";
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

	Aml__V1__MetadataEntry md = AML__V1__METADATA_ENTRY__INIT, *mds[1] = { &md };
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
	static const char *methods[] = { "Health", "ReloadGraph", "RunScore", "TopScores",
		                         "GetWalletScore", "ExplainWallet", "WalletGraph",
		                         "ListRuns", "GetRun", "IngestionStatus" };
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

	static const char *bad_amounts[] = { "", "-1", "NaN", "nan", "inf", "1e5", "1.", ".5",
		                             "1,5", " 1", "0x10", "1.0000000000000000001",
		                             "123456789012345678901234567890123456789" };
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
	assert_int_equal(amlrisk_err_to_grpc(AMLRISK_EINVAL), AML__V1__STATUS_CODE__INVALID_ARGUMENT);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
