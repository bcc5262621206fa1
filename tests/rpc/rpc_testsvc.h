/* rpc_testsvc.h - the RPC tests' fixture: rpctest.v1.TestService handlers, server
 * and URL helpers, and a raw NNG req socket for bytes the client would never send.
 * Every helper asserts with cmocka, so tests read as a list of expectations. */
#ifndef RPC_TESTSVC_H
#define RPC_TESTSVC_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>

#include <cmocka.h>

#include "aml/v1/rpc.pb-c.h"
#include "rpc.h"
#include "rpctest.pb-c.h"

/* Deadline of calls that should succeed: generous, as valgrind and a loaded
 * machine make a TLS handshake or a redial take seconds. */
#define TSVC_WAIT_MS 10000

/* What the handlers saw, for tests to check. */
extern atomic_int tsvc_echo_started; /* Echo handlers entered */
extern atomic_int tsvc_echo_running; /* Echo handlers inside their sleep */
extern atomic_int tsvc_write_runs;   /* Write handlers entered */

/* The service, initialised with the test handlers (Missing left NULL). */
ProtobufCService *tsvc_service(void);

/* Waits for the threads Later handlers started to finish. */
void tsvc_join_later(void);

/* A fresh URL of kind "ipc", "tcp" or "tls" (tcp and tls with port 0). */
void tsvc_url(char *buf, size_t len, const char *kind);
/* The URL clients use for srv, started on url (port 0 replaced by the bound one). */
void tsvc_bound_url(char *buf, size_t len, const char *url, const rpc_server *srv);

/* Creates, registers the service on, and starts a server; asserts success. */
rpc_server *tsvc_server(const char *url, const rpc_server_opts *opts);
/* Creates a client with caller "tester" (and the test CA for tls); asserts. */
rpc_client *tsvc_client(const char *url, int max_msg);

/* Waits (up to TSVC_WAIT_MS) until c is connected to a server; asserts it is. */
void tsvc_wait_connected(rpc_client *c);

/* Calls method of TestService with an EchoRequest{text, blob of blob_len 'x',
 * sleep_ms}. Returns the gRPC code; *out (may be NULL to discard) is the reply
 * on OK, to be freed with tsvc_free(). */
int tsvc_call(rpc_client *c, const char *method, const char *text, size_t blob_len,
              uint32_t sleep_ms, int timeout_ms, Rpctest__V1__EchoResponse **out, char *msg,
              size_t msglen);
/* The same through rpc_client_call_coalesced(). */
int tsvc_call_coalesced(rpc_client *c, const char *method, const char *text, size_t blob_len,
                        uint32_t sleep_ms, int timeout_ms, Rpctest__V1__EchoResponse **out,
                        char *msg, size_t msglen);
void tsvc_free(Rpctest__V1__EchoResponse *r);

/* Sends len raw bytes on a fresh req socket dialled to url, waits up to
 * timeout_ms for the reply. Returns the NNG error (0 when a reply came); on 0
 * *reply is the unpacked envelope (NULL when the bytes are not one), freed
 * with protobuf_c_message_free_unpacked(). */
int tsvc_raw(const char *url, const void *buf, size_t len, int timeout_ms,
             Aml__V1__RpcResponse **reply);
/* Packs an RpcRequest{call {id, method, timeout_ms, payload}} and sends it
 * with tsvc_raw(); asserts a reply came and returns it. */
Aml__V1__RpcResponse *tsvc_raw_envelope(const char *url, uint64_t id, const char *method,
                                        uint32_t timeout_ms, const void *payload, size_t len);

/* Packs req (a batch, say) and sends it with tsvc_raw(); asserts a reply came
 * carrying req's id (or 0, the answer to an unreadable envelope) and returns it. */
Aml__V1__RpcResponse *tsvc_raw_request(const char *url, const Aml__V1__RpcRequest *req);

/* Milliseconds of a monotonic clock. */
int64_t tsvc_now_ms(void);

#endif
