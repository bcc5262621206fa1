/* rpc_decode_test.c - the bounded decoder (rpc_decode.h) against hostile bytes:
 * nesting 100 to 200,000 deep, a 4 MiB flood of empty metadata entries, floods
 * of unknown fields, duplicated singular messages, every truncation and random
 * mutations of a valid envelope; and the legitimate large answers it must
 * still accept. Plus the shared secret's file format and comparison. */
#include "rpc_testsvc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_err.h"
#include "rpc_decode.h"
#include "th.h"

static const size_t DEPTHS[] = {100, 1000, 20000, 200000};

/* A recursive message nested past the bound is refused without recursing
 * further (200,000 levels would overflow the stack of a plain unpack). */
static void
test_recursive_depth(void **state)
{
	ProtobufCMessage *m = NULL;
	char why[256];
	size_t len;
	uint8_t *buf;

	(void)state;
	/* 15 kids inside the outermost Tree: 16 messages, the bound */
	buf = th_pb_nest(0x0a, 15, NULL, 0, &len);
	assert_int_equal(rpc_decode(&rpctest__v1__tree__descriptor, buf, len, &rpc_request_limits,
	                            &m, why, sizeof(why)),
	                 AMLRISK_OK);
	protobuf_c_message_free_unpacked(m, NULL);
	free(buf);
	for (size_t i = 0; i < sizeof(DEPTHS) / sizeof(DEPTHS[0]); i++) {
		buf = th_pb_nest(0x0a, DEPTHS[i], NULL, 0, &len);
		m = NULL;
		assert_int_equal(rpc_decode(&rpctest__v1__tree__descriptor, buf, len,
		                            &rpc_request_limits, &m, why, sizeof(why)),
		                 AMLRISK_ETOOBIG);
		assert_null(m);
		assert_non_null(strstr(why, "nested deeper than 16"));
		free(buf);
	}
}

/* The envelope has no recursion left: nesting any of its message fields, or
 * the old recursive field 6, is refused at every depth. */
static void
test_envelope_nested(void **state)
{
	static const uint8_t tags[] = {0x0a /* call */, 0x1a /* calls */, 0x32 /* old calls */};
	Aml__V1__RpcRequest *r = NULL;
	char why[256];
	size_t len;

	(void)state;
	for (size_t t = 0; t < sizeof(tags); t++) {
		for (size_t i = 0; i < sizeof(DEPTHS) / sizeof(DEPTHS[0]); i++) {
			uint8_t *buf = th_pb_nest(tags[t], DEPTHS[i], NULL, 0, &len);
			int err = rpc_decode_request(buf, len, &r, why, sizeof(why));

			assert_true(err == AMLRISK_EPROTO || err == AMLRISK_ETOOBIG);
			assert_null(r);
			free(buf);
		}
	}
}

/* An RpcRequest{call{metadata x n}} of empty entries; *len set, caller frees. */
static uint8_t *
metadata_flood(size_t n, size_t *len)
{
	uint8_t *body = malloc(2 * n), *buf;

	assert_non_null(body);
	for (size_t i = 0; i < n; i++) {
		body[2 * i] = 0x22; /* field 4, length-delimited */
		body[2 * i + 1] = 0x00;
	}
	buf = th_pb_nest(0x0a, 1, body, 2 * n, len);
	free(body);
	return buf;
}

/* 4 MiB of empty metadata entries (2 bytes each, about 56 unpacked: 112 MiB
 * for the whole) is refused by the pre-scan at the 65th entry, before any
 * allocation; 17 entries decode but are refused as an envelope. */
static void
test_metadata_flood(void **state)
{
	Aml__V1__RpcRequest *r = NULL;
	char why[256];
	size_t len, cost = 0;
	uint8_t *buf = metadata_flood((size_t)2 << 20, &len);

	(void)state;
	assert_true(len > ((size_t)4 << 20));
	assert_int_equal(rpc_decode_scan(&aml__v1__rpc_request__descriptor, buf, len,
	                                 &(rpc_decode_limits){3, 64, RPC_DECODE_COST_MUL}, &cost,
	                                 why, sizeof(why)),
	                 AMLRISK_ETOOBIG);
	assert_int_equal(rpc_decode_request(buf, len, &r, why, sizeof(why)), AMLRISK_ETOOBIG);
	assert_null(r);
	assert_non_null(strstr(why, "aml.v1.RpcCall.metadata: more than 64 elements"));
	free(buf);
	/* within the scan's bound, over the envelope's */
	buf = metadata_flood(RPC_METADATA_MAX + 1, &len);
	assert_int_equal(rpc_decode_request(buf, len, &r, why, sizeof(why)), AMLRISK_EPROTO);
	assert_non_null(strstr(why, "too many metadata entries"));
	free(buf);
	/* the largest allowed still decodes */
	buf = metadata_flood(RPC_METADATA_MAX, &len);
	assert_int_equal(rpc_decode_request(buf, len, &r, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(r->call->n_metadata, RPC_METADATA_MAX);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	free(buf);
}

/* Unknown fields are kept by protobuf-c (about 100 bytes for an empty
 * 2-byte one): a flood of them is over the budget and refused unallocated;
 * the scan's count of the cost is what the allocator would see. */
static void
test_unknown_field_flood(void **state)
{
	size_t n = (size_t)1 << 20, len, cost = 0;
	uint8_t *buf = malloc(2 * n);
	ProtobufCMessage *m = NULL;
	char why[256];

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = 0x7a; /* field 15: unknown to Other */
		buf[2 * i + 1] = 0x00;
	}
	len = 2 * n;
	assert_int_equal(rpc_decode(&rpctest__v1__other__descriptor, buf, len, &rpc_request_limits,
	                            &m, why, sizeof(why)),
	                 AMLRISK_ETOOBIG);
	assert_non_null(strstr(why, "unpacking would take over"));
	/* 1000 of them fit the 64 KiB base: decoded, and the scan counted at
	 * least what they take */
	assert_int_equal(rpc_decode_scan(&rpctest__v1__other__descriptor, buf, 2000,
	                                 &rpc_request_limits, &cost, why, sizeof(why)),
	                 AMLRISK_OK);
	assert_true(cost >= 1000 * (32 + 24) &&
	            cost <= RPC_DECODE_COST_MUL * 2000 + RPC_DECODE_COST_BASE);
	assert_int_equal(rpc_decode(&rpctest__v1__other__descriptor, buf, 2000, &rpc_request_limits,
	                            &m, why, sizeof(why)),
	                 AMLRISK_OK);
	assert_int_equal(m->n_unknown_fields, 1000);
	protobuf_c_message_free_unpacked(m, NULL);
	free(buf);
}

/* A singular message field twice (protobuf-c would merge, copying arrays:
 * quadratic in the count) is malformed; so are wire types that do not fit. */
static void
test_malformed_shapes(void **state)
{
	static const uint8_t twice[] = {0x0a, 0x00, 0x0a, 0x00};     /* call, call */
	static const uint8_t wrong_wire[] = {0x0a, 0x02, 0x08, 0x01, /* call{request_id 1} */
	                                     0x20, 0x05};            /* auth as a varint */
	static const uint8_t group[] = {0x0b, 0x0c};                 /* a group */
	static const uint8_t overlong[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
	static const uint8_t tag0[] = {0x00, 0x00};
	const uint8_t *bad[] = {twice, wrong_wire, group, overlong, tag0};
	const size_t lens[] = {sizeof(twice), sizeof(wrong_wire), sizeof(group), sizeof(overlong),
	                       sizeof(tag0)};
	Aml__V1__RpcRequest *r = NULL;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rpc_decode_request(bad[i], lens[i], &r, why, sizeof(why)),
		                 AMLRISK_EPROTO);
		assert_null(r);
	}
	assert_int_equal(rpc_decode_request(twice, sizeof(twice), &r, why, sizeof(why)),
	                 AMLRISK_EPROTO);
	assert_non_null(strstr(why, "appears more than once"));
}

/* A valid envelope with every field set, packed into *len bytes. */
static uint8_t *
full_envelope(size_t *len)
{
	static uint8_t payload[300];
	Aml__V1__MetadataEntry md[2] = {AML__V1__METADATA_ENTRY__INIT,
	                                AML__V1__METADATA_ENTRY__INIT};
	Aml__V1__MetadataEntry *mdp[2] = {&md[0], &md[1]};
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	uint8_t *buf;

	memset(payload, 0x5a, sizeof(payload));
	md[0].key = "caller";
	md[0].value = "tester";
	md[1].key = "trace";
	md[1].value = "0123456789abcdef";
	call.request_id = UINT64_MAX - 7;
	call.method = "rpctest.v1.TestService/Echo";
	call.timeout_ms = 5000;
	call.start_timeout_ms = 1000;
	call.n_metadata = 2;
	call.metadata = mdp;
	call.payload.data = payload;
	call.payload.len = sizeof(payload);
	call.call_id.data = (uint8_t *)"0123456789abcdef";
	call.call_id.len = 16;
	env.call = &call;
	env.auth.data = (uint8_t *)"a secret of some thirty-two byte";
	env.auth.len = 32;
	*len = aml__v1__rpc_request__get_packed_size(&env);
	buf = malloc(*len);
	assert_non_null(buf);
	aml__v1__rpc_request__pack(&env, buf);
	return buf;
}

/* Every truncation of a valid envelope: never a crash or a leak (ASan and
 * valgrind watch), an error or a smaller valid message; the whole decodes. */
static void
test_truncations(void **state)
{
	Aml__V1__RpcRequest *r = NULL;
	char why[256];
	size_t len;
	uint8_t *buf = full_envelope(&len);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n + 1); /* exactly n readable bytes for the sanitizer */
		int err;

		assert_non_null(cut);
		memcpy(cut, buf, n);
		err = rpc_decode_request(cut, n, &r, why, sizeof(why));
		assert_true(err == AMLRISK_OK || err == AMLRISK_EPROTO);
		if (err == AMLRISK_OK) {
			protobuf_c_message_free_unpacked(&r->base, NULL);
		}
		free(cut);
	}
	assert_int_equal(rpc_decode_request(buf, len, &r, why, sizeof(why)), AMLRISK_OK);
	assert_string_equal(r->call->method, "rpctest.v1.TestService/Echo");
	assert_int_equal(r->call->call_id.len, 16);
	assert_int_equal(r->auth.len, 32);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	free(buf);
}

/* Random byte changes, insertions of huge lengths and deletions of a valid
 * envelope and reply: decoded or refused, never more. */
static void
test_mutations(void **state)
{
	uint64_t seed = 20261204;
	size_t len;
	uint8_t *orig = full_envelope(&len), *buf = malloc(len + 16);
	char why[256];

	(void)state;
	assert_non_null(buf);
	for (int i = 0; i < 20000; i++) {
		size_t n = len;
		Aml__V1__RpcRequest *r = NULL;
		Aml__V1__RpcResponse *resp = NULL;
		int k = 1 + (int)(th_rand(&seed) % 4);

		memcpy(buf, orig, len);
		while (k-- > 0) {
			size_t at = th_rand(&seed) % n;

			switch (th_rand(&seed) % 3) {
			case 0:
				buf[at] = (uint8_t)th_rand(&seed);
				break;
			case 1:
				buf[at] = 0xff; /* a length or varint that runs on */
				break;
			default:
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
			}
		}
		if (rpc_decode_request(buf, n, &r, why, sizeof(why)) == AMLRISK_OK) {
			protobuf_c_message_free_unpacked(&r->base, NULL);
		}
		if (rpc_decode_response(buf, n, &resp, why, sizeof(why)) == AMLRISK_OK) {
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		}
	}
	free(buf);
	free(orig);
}

/* Packs m and decodes it back as a reply; asserts that works. Caller frees. */
static ProtobufCMessage *
reply_roundtrip(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len);
	ProtobufCMessage *out = NULL;
	char why[256];

	assert_non_null(buf);
	protobuf_c_message_pack(m, buf);
	if (rpc_decode(m->descriptor, buf, len, &rpc_reply_limits, &out, why, sizeof(why)) !=
	    AMLRISK_OK) {
		fail_msg("%s of %zu bytes refused: %s", m->descriptor->name, len, why);
	}
	free(buf);
	return out;
}

/* What the core legitimately answers still decodes on the client: the
 * largest top list with every hop, and a neighbourhood of tiny records. */
static void
test_legitimate_large_replies(void **state)
{
	Aml__V1__TopScoresResponse top = AML__V1__TOP_SCORES_RESPONSE__INIT;
	Aml__V1__WalletScore ws[1000], *wsp[1000];
	Aml__V1__HopCount hc[1000][6], *hcp[1000][6];
	Aml__V1__WalletGraphResponse g = AML__V1__WALLET_GRAPH_RESPONSE__INIT;
	Aml__V1__GraphEdge *edges = calloc(50000, sizeof(*edges)),
	                   **ep = calloc(50000, sizeof(*ep));
	ProtobufCMessage *m = NULL;
	char name[1000][8];

	(void)state;
	assert_true(edges != NULL && ep != NULL);
	for (int i = 0; i < 1000; i++) {
		aml__v1__wallet_score__init(&ws[i]);
		snprintf(name[i], sizeof(name[i]), "w%d", i);
		ws[i].wallet = name[i];
		for (int k = 0; k < 6; k++) { /* empty hops: 2 bytes each, the worst case */
			aml__v1__hop_count__init(&hc[i][k]);
			hcp[i][k] = &hc[i][k];
		}
		ws[i].n_hops = 6;
		ws[i].hops = hcp[i];
		wsp[i] = &ws[i];
	}
	top.n_scores = 1000;
	top.scores = wsp;
	m = reply_roundtrip(&top.base);
	assert_int_equal(((Aml__V1__TopScoresResponse *)m)->n_scores, 1000);
	protobuf_c_message_free_unpacked(m, NULL);
	for (int i = 0; i < 50000; i++) {
		aml__v1__graph_edge__init(&edges[i]);
		edges[i].sender = name[i % 1000];
		edges[i].receiver = name[(i * 7) % 1000];
		ep[i] = &edges[i];
	}
	g.n_edges = 50000;
	g.edges = ep;
	m = reply_roundtrip(&g.base);
	assert_int_equal(((Aml__V1__WalletGraphResponse *)m)->n_edges, 50000);
	protobuf_c_message_free_unpacked(m, NULL);
	free(edges);
	free(ep);
}

/* RPC_SECRET_FILE: line 1 the secret, an optional line 2 the previous one. */
static void
test_secret_file(void **state)
{
	static const struct {
		const char *text;
		int err;
		const char *cur, *prev;
	} cases[] = {
	        {"0123456789abcdef\n", AMLRISK_OK, "0123456789abcdef", ""},
	        {"0123456789abcdef  \r\nfedcba9876543210\n\n", AMLRISK_OK, "0123456789abcdef",
	         "fedcba9876543210"},
	        {"short\n", AMLRISK_EINVAL, "", ""},
	        {"", AMLRISK_EINVAL, "", ""},
	        {"0123456789abcdef\nfedcba9876543210\n0123456789abcdef\n", AMLRISK_EINVAL, "", ""},
	};
	char path[] = "/tmp/amlrisk-secret-XXXXXX", why[256];
	rpc_secret s;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true((fd = mkstemp(path)) >= 0);
		assert_int_equal(write(fd, cases[i].text, strlen(cases[i].text)),
		                 (ssize_t)strlen(cases[i].text));
		close(fd);
		assert_int_equal(rpc_secret_from_file(&s, path, why, sizeof(why)), cases[i].err);
		assert_string_equal(s.current, cases[i].cur);
		assert_string_equal(s.previous, cases[i].prev);
		unlink(path);
		memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	}
	assert_int_equal(rpc_secret_from_file(&s, "/nonexistent/secret", why, sizeof(why)),
	                 AMLRISK_EINVAL);
	assert_non_null(strstr(why, "/nonexistent/secret"));
	/* the environment: a file wins over the variables */
	setenv("RPC_SECRET", "from-the-variable-0123", 1);
	unsetenv("RPC_SECRET_FILE");
	assert_int_equal(rpc_secret_from_env(&s, why, sizeof(why)), AMLRISK_OK);
	assert_string_equal(s.current, "from-the-variable-0123");
	setenv("RPC_SECRET_PREVIOUS", "short", 1);
	assert_int_equal(rpc_secret_from_env(&s, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "RPC_SECRET_PREVIOUS"));
	unsetenv("RPC_SECRET");
	unsetenv("RPC_SECRET_PREVIOUS");
	assert_int_equal(rpc_secret_from_env(&s, why, sizeof(why)), AMLRISK_OK);
	assert_string_equal(s.current, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recursive_depth),
	        cmocka_unit_test(test_envelope_nested),
	        cmocka_unit_test(test_metadata_flood),
	        cmocka_unit_test(test_unknown_field_flood),
	        cmocka_unit_test(test_malformed_shapes),
	        cmocka_unit_test(test_truncations),
	        cmocka_unit_test(test_mutations),
	        cmocka_unit_test(test_legitimate_large_replies),
	        cmocka_unit_test(test_secret_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
