/* rpc_decode.h - every protobuf message the RPC layer accepts goes through
 * here: a pre-scan of the wire format (tags, lengths, nesting depth, repeated
 * counts, the memory unpacking would take) and then an unpack whose allocator
 * holds the same budget. Public so that fuzz harnesses call what the server
 * and the client call.
 *
 * The cost bound: decoding n bytes allocates at most
 *     mul * n + RPC_DECODE_COST_BASE
 * bytes, counted as protobuf-c asks for them plus RPC_DECODE_BLOCK_OVERHEAD per
 * block (malloc's bookkeeping), every block counted even if freed again; mul is
 * RPC_DECODE_COST_MUL (16) for what a server accepts (envelopes, request
 * payloads) and RPC_DECODE_REPLY_COST_MUL (64) for the replies a client
 * accepts from its server (protobuf-c takes about 70 bytes for an empty
 * 2-byte element of a repeated message field, so answers made of many tiny
 * records legitimately reach 40x). A message that would need more is refused
 * by the pre-scan before a byte is allocated (RESOURCE_EXHAUSTED), and the
 * allocator refuses the rest should the pre-scan ever underestimate. The
 * pre-scan itself is one pass over the bytes with recursion no deeper than
 * max_depth and no allocation: a refused message costs no memory beyond its
 * own bytes and time linear in them. */
#ifndef AMLRISK_RPC_DECODE_H
#define AMLRISK_RPC_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "aml/v1/rpc.pb-c.h"

#define RPC_DECODE_COST_MUL       16
#define RPC_DECODE_REPLY_COST_MUL 64
#define RPC_DECODE_COST_BASE      ((size_t)64 << 10)
#define RPC_DECODE_BLOCK_OVERHEAD 16
#define RPC_DECODE_DEPTH_MAX      32 /* the largest max_depth accepted */

/* Envelope bounds (rpc.proto). */
#define RPC_BATCH_MAX    64  /* calls in one batch */
#define RPC_METADATA_MAX 16  /* metadata entries of one call */
#define RPC_METHOD_MAX   256 /* "package.Service/Method", with its NUL */
#define RPC_CALL_ID_MAX  32  /* bytes of a call id */
#define RPC_AUTH_MAX     256 /* bytes of the auth field */

/* What one decode may take. */
typedef struct rpc_decode_limits {
	unsigned max_depth;  /* nested messages, the outermost counted as 1; 1..32 */
	size_t max_repeated; /* elements of any one repeated field */
	size_t cost_mul;     /* budget = cost_mul * len + RPC_DECODE_COST_BASE */
} rpc_decode_limits;

/* The limits of a method's payload: depth 16, 1M elements per repeated
 * field, and the RPC_DECODE_COST_MUL budget for a request (server side) or
 * the RPC_DECODE_REPLY_COST_MUL one for a reply (client side). */
extern const rpc_decode_limits rpc_request_limits;
extern const rpc_decode_limits rpc_reply_limits;

/* Checks buf (len bytes) as a message of d against lim without allocating:
 * *cost gets the bytes unpacking it would allocate (as counted above). Returns
 * AMLRISK_OK; AMLRISK_EPROTO for bytes that are not such a message (truncated,
 * a bad varint or wire type, a singular message field repeated); AMLRISK_ETOOBIG
 * for one that is too deep, has too many elements in a repeated field or
 * would cost more than lim's budget. why (whylen bytes, may be NULL) says which. */
int rpc_decode_scan(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                    const rpc_decode_limits *lim, size_t *cost, char *why, size_t whylen);

/* rpc_decode_scan(), then protobuf-c's unpack with an allocator that holds the
 * same budget. On AMLRISK_OK *out is the message, the caller's to free with
 * protobuf_c_message_free_unpacked(*out, NULL). Errors as rpc_decode_scan(),
 * and AMLRISK_ENOMEM when malloc fails. */
int rpc_decode(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
               const rpc_decode_limits *lim, ProtobufCMessage **out, char *why, size_t whylen);

/* The bytes one element of a repeated field of type t takes in an unpacked
 * message (protobuf-c's layout). */
size_t rpc_decode_elt_size(ProtobufCType t);

/* Decodes a request envelope: rpc_decode() with the envelope's bounds (depth
 * 3, at most RPC_BATCH_MAX calls and RPC_METADATA_MAX entries), then its shape:
 * exactly one of call and calls, method names shorter than RPC_METHOD_MAX,
 * call ids and auth within their bounds. Errors as rpc_decode(); on success
 * *out is the caller's (protobuf_c_message_free_unpacked). */
int rpc_decode_request(const uint8_t *buf, size_t len, Aml__V1__RpcRequest **out, char *why,
                       size_t whylen);

/* Decodes a response envelope: the envelope's bounds, reply present, at most
 * RPC_BATCH_MAX replies. As rpc_decode_request() otherwise. */
int rpc_decode_response(const uint8_t *buf, size_t len, Aml__V1__RpcResponse **out, char *why,
                        size_t whylen);

#endif
