/* decode_cost.c - amlrisk-bench-rpc-decode: what a hostile message costs the
 * RPC decoder (rpc_decode.h) against what protobuf-c's plain unpack costs for
 * the same bytes: time per byte (median of the repeats) and every byte
 * malloc'd during the call (counted by wrapping malloc in this program), as
 * multiples of the message's size. One Markdown row per input. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_err.h"
#include "rpc_decode.h"
#include "th.h"

#define REPEAT 9

/* ---- counting every malloc of this process ---- */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

static atomic_size_t allocated;

void *
malloc(size_t n)
{
	atomic_fetch_add(&allocated, n);
	return __libc_malloc(n);
}

void *
calloc(size_t n, size_t m)
{
	atomic_fetch_add(&allocated, n * m);
	return __libc_calloc(n, m);
}

void *
realloc(void *p, size_t n)
{
	atomic_fetch_add(&allocated, n);
	return __libc_realloc(p, n);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* n copies of the two bytes a b, inside an RpcRequest.call when wrap. */
static uint8_t *
flood(uint8_t a, uint8_t b, size_t n, int wrap, size_t *len)
{
	uint8_t *pairs = malloc(2 * n), *buf;

	for (size_t i = 0; i < n; i++) {
		pairs[2 * i] = a;
		pairs[2 * i + 1] = b;
	}
	buf = th_pb_nest(0x0a, wrap ? 1 : 0, pairs, 2 * n, len);
	free(pairs);
	return buf;
}

/* A GetWalletScore call with a 197-byte wallet, caller metadata and a
 * 64-byte secret, packed as the gateway sends it. */
static uint8_t *
typical(size_t *len)
{
	static char wallet[198], secret[65];
	uint8_t payload[256], *buf;
	Aml__V1__MetadataEntry md = AML__V1__METADATA_ENTRY__INIT, *mdp = &md;
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	size_t plen;

	memset(wallet, 'w', sizeof(wallet) - 1);
	memset(secret, 's', sizeof(secret) - 1);
	/* GetWalletScoreRequest{wallet (field 1)}: tag, length, bytes */
	payload[0] = 0x0a;
	payload[1] = 0xc5;
	payload[2] = 0x01;
	memcpy(payload + 3, wallet, 197);
	plen = 200;
	md.key = "caller";
	md.value = "amlrisk-gateway";
	call.request_id = UINT64_MAX / 3;
	call.method = "aml.v1.RiskService/GetWalletScore";
	call.timeout_ms = 5000;
	call.start_timeout_ms = 5000;
	call.n_metadata = 1;
	call.metadata = &mdp;
	call.payload.data = payload;
	call.payload.len = plen;
	env.call = &call;
	env.auth.data = (uint8_t *)secret;
	env.auth.len = 64;
	*len = aml__v1__rpc_request__get_packed_size(&env);
	buf = malloc(*len);
	aml__v1__rpc_request__pack(&env, buf);
	return buf;
}

/* Decodes buf REPEAT times with rpc_decode_request() and with protobuf-c's
 * own unpack; prints the row. */
static void
row(const char *what, const uint8_t *buf, size_t len)
{
	double t[REPEAT], tp[REPEAT];
	size_t bytes = 0, pbytes = 0;
	const char *verdict = "";
	char why[256];

	for (int i = 0; i < REPEAT; i++) {
		Aml__V1__RpcRequest *r = NULL;
		size_t a0 = atomic_load(&allocated);
		double t0 = now_s();
		int err = rpc_decode_request(buf, len, &r, why, sizeof(why));

		t[i] = now_s() - t0;
		bytes = atomic_load(&allocated) - a0;
		verdict = err == AMLRISK_OK ? "accepted" : amlrisk_errname(err);
		if (r != NULL) {
			protobuf_c_message_free_unpacked(&r->base, NULL);
		}
		{
			ProtobufCMessage *m;

			a0 = atomic_load(&allocated);
			t0 = now_s();
			m = protobuf_c_message_unpack(&aml__v1__rpc_request__descriptor, NULL, len,
			                              buf);
			tp[i] = now_s() - t0;
			pbytes = atomic_load(&allocated) - a0;
			if (m != NULL) {
				protobuf_c_message_free_unpacked(m, NULL);
			}
		}
	}
	qsort(t, REPEAT, sizeof(t[0]), cmp_double);
	printf("| %s | %zu | %s | %.1f | %.3g | %.2f |", what, len, verdict, t[REPEAT / 2] * 1e6,
	       t[REPEAT / 2] * 1e9 / (double)len, (double)bytes / (double)len);
	qsort(tp, REPEAT, sizeof(tp[0]), cmp_double);
	printf(" %.1f | %.2f |\n", tp[REPEAT / 2] * 1e6, (double)pbytes / (double)len);
}

int
main(int argc, char **argv)
{
	size_t len;
	uint8_t *buf;

	(void)argv;
	if (argc > 1) {
		printf("usage: amlrisk-bench-rpc-decode\n"
		       "  Hostile envelopes through rpc_decode_request() and through protobuf-c's\n"
		       "  plain unpack: time (median of %d) and bytes malloc'd per byte of "
		       "input.\n",
		       REPEAT);
		return 0;
	}
	printf("| input | bytes | rpc_decode | us | ns/byte | malloc'd/byte | plain unpack us | "
	       "plain malloc'd/byte |\n|---|---:|---|---:|---:|---:|---:|---:|\n");
	buf = flood(0x22, 0x00, ((size_t)4 << 20) / 2 - 8, 1, &len);
	row("4 MiB of empty metadata entries", buf, len);
	free(buf);
	buf = flood(0x7a, 0x00, ((size_t)4 << 20) / 2 - 8, 1, &len);
	row("4 MiB of empty unknown fields in the call", buf, len);
	free(buf);
	buf = th_pb_nest(0x1a, 200000, NULL, 0, &len);
	row("calls nested 200,000 deep", buf, len);
	free(buf);
	buf = th_pb_nest(0x32, 200000, NULL, 0, &len);
	row("the old recursive field nested 200,000 deep", buf, len);
	free(buf);
	buf = typical(&len);
	row("a GetWalletScore call as the gateway sends it (accepted)", buf, len);
	free(buf);
	buf = flood(0x22, 0x00, 16, 1, &len); /* the most metadata a call may carry */
	row("a call with 16 empty metadata entries (accepted)", buf, len);
	free(buf);
	return 0;
}
