/* rpc_impl.h - what rpc_server.c and rpc_client.c share and nobody else sees:
 * limits, NNG error mapping, TLS set-up and envelope packing into nng_msg. */
#ifndef AMLRISK_RPC_IMPL_H
#define AMLRISK_RPC_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <protobuf-c/protobuf-c.h>

#include "rpc_decode.h"

#define RPC_MAX_MSG_DEFAULT ((size_t)4 << 20)
#define RPC_MAX_MSG_MIN     ((size_t)1024)
#define RPC_MAX_MSG_MAX     ((size_t)64 << 20)
/* NNG drops a connection whose message passes max_msg + this; between max_msg
 * and that the receiver still answers RESOURCE_EXHAUSTED. */
#define RPC_MSG_SLACK ((size_t)64 << 10)
/* Payloads up to this size are packed on the stack. */
#define RPC_STACK_PAYLOAD 1024

/* Maps an NNG error onto the project enum (amlrisk_err). */
int rpc_err_from_nng(int nng_rv);

/* 1 when url names the TLS transport (tls+tcp://, tls+tcp4://, tls+tcp6://). */
int rpc_url_is_tls(const char *url);

/* Builds the TLS configuration of a listener (server: cert_key required; ca,
 * when set, makes client certificates required) or a dialer (ca required;
 * cert_key, when set, is the client's certificate; server_name NULL = url's
 * host). *out is written on success and freed by the caller with
 * nng_tls_config_free(). */
int rpc_tls_config_make(nng_tls_config **out, int server, const char *url, const char *cert_key,
                        const char *ca, const char *server_name);

/* AMLRISK_OK when s (named name in the message) can be a secret: one line of
 * RPC_SECRET_MIN..RPC_SECRET_MAX bytes; else AMLRISK_EINVAL with why set. */
int rpc_secret_check(const char *s, const char *name, char *why, size_t whylen);

/* 1 when got (len bytes) equals secret (a non-empty string), compared in
 * time that depends on the secret's length only. */
int rpc_secret_equal(const uint8_t *got, size_t len, const char *secret);

/* A message packed to bytes: data points at the caller's stack buffer when it
 * fitted, else at heap memory that rpc_packed_release() frees. */
typedef struct rpc_packed {
	ProtobufCBinaryData bin;
	uint8_t *heap;
} rpc_packed;

/* Packs m into p, using stack (stack_len bytes) when it fits. Fails with
 * AMLRISK_ETOOBIG over max bytes, AMLRISK_ENOMEM. */
int rpc_packed_make(rpc_packed *p, const ProtobufCMessage *m, uint8_t *stack, size_t stack_len,
                    size_t max);
void rpc_packed_release(rpc_packed *p);

/* Packs envelope env into a new nng_msg; AMLRISK_ETOOBIG over max bytes. *out is
 * written on success; the caller owns it (nng_msg_free or hands it to NNG). */
int rpc_msg_pack(nng_msg **out, const ProtobufCMessage *env, size_t max);

#endif
