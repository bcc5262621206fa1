/* rpc.h - gRPC-style RPC over NNG req/rep: protobuf-c services called and served
 * in the aml.v1.RpcRequest/RpcResponse envelope, dispatched by descriptor name.
 * Many short calls in flight; a few long ones answered later from another thread. */
#ifndef AMLRISK_RPC_H
#define AMLRISK_RPC_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Local only by default; the port is the one `scripts/stack env` exports. */
#define RPC_DEFAULT_URL "tcp://127.0.0.1:57100"

typedef struct rpc_server rpc_server;
typedef struct rpc_client rpc_client;

/* Server options; a zero field (or a NULL opts) takes the default. */
typedef struct rpc_server_opts {
	int workers;                   /* handler threads; default 4, at most 256 */
	int contexts;                  /* calls in flight, queued, running or answered later (NNG
	                                * rep contexts); default 128, at most 4096; beyond it
	                                * requests wait in NNG's pipes */
	int backlog;                   /* calls waiting for a worker; default 64; beyond it a call
	                                * is answered RESOURCE_EXHAUSTED at once (so keep contexts
	                                * above workers + backlog) */
	size_t max_msg;                /* largest envelope in either direction; default 4 MiB */
	const char *tls_cert_key_file; /* tls+tcp:// only: PEM with certificate and key */
} rpc_server_opts;

/* Client options; a zero field (or a NULL opts) takes the default. */
typedef struct rpc_client_opts {
	int timeout_ms;              /* deadline of a call given timeout_ms <= 0; default 5000 */
	size_t max_msg;              /* largest envelope in either direction; default 4 MiB */
	int reconnect_min_ms;        /* first redial delay after a lost connection; default 10 */
	int reconnect_max_ms;        /* cap of the doubling redial delay; default 250 */
	const char *caller;          /* sent as metadata "caller" with every call; NULL = none */
	const char *tls_ca_file;     /* tls+tcp:// only: CA that signed the server */
	const char *tls_server_name; /* tls+tcp:// only: name to verify; default URL host */
	int coalesce_batches;        /* batches of coalesced calls out at once; default 1, at most 64 */
	int coalesce_queue;          /* coalesced calls waiting for a batch, at most; beyond it a call
	                              * fails RESOURCE_EXHAUSTED at once; default 4096, at most 65536 */
} rpc_client_opts;

/* What a client has done since it was created (rpc_client_stats). */
typedef struct rpc_client_stats_t {
	unsigned long long calls;     /* rpc_client_call and _coalesced calls made */
	unsigned long long exchanges; /* NNG request/reply exchanges, batches included */
	unsigned long long batches;   /* exchanges that carried two calls or more */
	unsigned long long retries;   /* calls made again alone: no room in a batch reply */
} rpc_client_stats_t;

/* ---- server ---------------------------------------------------------------
 * Lifecycle: create -> add_service... -> start -> destroy. Each received call is
 * decoded in NNG's callback, queued for a worker (or refused when the backlog is
 * full), its payload unpacked with the method's input descriptor, and the
 * implementation invoked through svc->invoke with closure data naming the call.
 *
 * Handler contract (protobuf-c closure style):
 *  - answer exactly once, either closure(output, closure_data) or
 *    rpc_call_fail(closure_data, ...), from the handler or later from any thread;
 *  - closure borrows output: it is packed before closure returns, so a stack
 *    message is fine and the handler frees its own output afterwards;
 *  - closure(NULL, closure_data) answers INTERNAL;
 *  - the library frees the unpacked input as soon as the handler returns: a
 *    handler answering later copies what it needs first;
 *  - after the answer, closure_data is dead (it is reused for the next call).
 * A method slot left NULL in a generated service struct answers UNIMPLEMENTED.
 * Handlers that block keep a worker: long work belongs on the caller's threads. */

/* Creates a server on url (NULL = RPC_DEFAULT_URL; ipc://, tcp://, tls+tcp://)
 * that does not yet listen. *out is written only on success; the caller destroys
 * it with rpc_server_destroy(). Returns AMLRISK_OK, AMLRISK_EINVAL (bad url or
 * option), AMLRISK_EUNIMPL (tls+tcp:// without TLS in NNG), AMLRISK_ENOMEM. */
int rpc_server_create(rpc_server **out, const char *url, const rpc_server_opts *opts);

/* Registers svc (e.g. an initialised Aml__V1__RiskService_Service's base) under
 * its descriptor's full name. Borrows svc: it must outlive the server. Only
 * before rpc_server_start() (else AMLRISK_ESTATE); at most 16 services
 * (AMLRISK_EFULL), each name once (AMLRISK_EINVAL). */
int rpc_server_add_service(rpc_server *srv, ProtobufCService *svc);

/* Binds the address and starts serving. AMLRISK_EBUSY when the address is in
 * use, AMLRISK_EIO and others from the transport, AMLRISK_ESTATE if started. */
int rpc_server_start(rpc_server *srv);

/* The TCP port bound by a started tcp:// or tls+tcp:// server (useful with port
 * 0); 0 for ipc:// or before start. */
int rpc_server_port(const rpc_server *srv);

/* Stops taking calls, answers queued ones UNAVAILABLE, waits for every call
 * already running to be answered (handlers answering later must still do so),
 * then frees everything. NULL and never-started servers are fine. Not from a
 * handler; create, add_service, start and destroy belong to one thread. */
void rpc_server_destroy(rpc_server *srv);

/* Answers the call with the gRPC status that err (an amlrisk_err other than
 * AMLRISK_OK) maps to in common/amlrisk_err.h and a printf-style message (cut
 * at 511 bytes). This is the call's one answer. */
void rpc_call_fail(void *closure_data, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Milliseconds left before the caller's deadline (0 once passed), or -1 when
 * the caller sent none. Valid until the call is answered. */
int rpc_call_time_left_ms(const void *closure_data);

/* The value of the caller's metadata entry key, or NULL. The string belongs to
 * the call and lives until it is answered. */
const char *rpc_call_metadata(const void *closure_data, const char *key);

/* ---- client ---------------------------------------------------------------
 * One req socket with a dialer that redials by itself. A lone call
 * (rpc_client_call) borrows its own NNG context from a bounded pool (reused
 * after a clean reply, closed after a failure), so any number of threads may
 * call at once; a mutex is held only to take a context from the pool or put
 * it back. Coalesced calls (rpc_client_call_async, _coalesced) share
 * exchanges through the client's batch slots instead. */

/* Creates a client of url (NULL = RPC_DEFAULT_URL). Does not wait for the
 * server: calls made while it is away return UNAVAILABLE at their deadline.
 * *out is written only on success; destroy with rpc_client_destroy(). Returns
 * AMLRISK_OK, AMLRISK_EINVAL, AMLRISK_EUNIMPL (no TLS), AMLRISK_ENOMEM. */
int rpc_client_create(rpc_client **out, const char *url, const rpc_client_opts *opts);

/* Calls svc's method (its short name, e.g. "Health", sent as
 * "aml.v1.RiskService/Health") with req, which must be of the method's input type
 * and is only read. Waits at most timeout_ms (<= 0: the client's default); the
 * server sees the remaining time as the call's deadline.
 *
 * Returns a gRPC status code (aml.v1.StatusCode, 0 = OK; amlrisk_err_from_grpc()
 * gives the project error, amlrisk_grpc_name() its name). On OK, *resp is the
 * unpacked output, owned by the caller, freed with
 * protobuf_c_message_free_unpacked(*resp, NULL); otherwise *resp is untouched.
 * msg (msglen bytes, may be NULL/0) gets "" on OK, else the server's message or
 * a local one. Local outcomes: UNAVAILABLE (no server within the deadline, or
 * the connection dropped mid-call), DEADLINE_EXCEEDED (sent, no answer in time),
 * INVALID_ARGUMENT (bad arguments, unknown method, wrong request type),
 * RESOURCE_EXHAUSTED (request over max_msg, no memory), INTERNAL (a reply that
 * does not decode or carries another request id; id 0 is accepted on errors,
 * the server's answer to an envelope it could not read), CANCELLED (client
 * destroyed).
 * Thread-safe; c must not be destroyed while calls are running. */
int rpc_client_call(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                    const ProtobufCMessage *req, ProtobufCMessage **resp, int timeout_ms, char *msg,
                    size_t msglen);

/* The outcome of an asynchronous call: grpc as rpc_client_call() returns it;
 * resp (NULL unless OK) belongs to the callback, freed with
 * protobuf_c_message_free_unpacked(); msg ("" on OK) lives until it returns. */
typedef void (*rpc_done_fn)(void *arg, int grpc, ProtobufCMessage *resp, const char *msg);

/* Calls svc's method with req (only read, packed before this returns) and
 * returns at once; done(arg, ...) runs exactly once with the outcome: on an
 * NNG thread, or on this thread before the return when the call fails at once
 * (bad arguments, no memory). Keep done short: it runs where replies are read.
 *
 * The call is coalesced: while coalesce_batches exchanges are out, calls
 * queue; when one comes back, everything queued meanwhile (up to 64 calls and
 * max_msg bytes) goes out as the next batch, one NNG exchange. A call made
 * when an exchange is free goes out at once, so nothing waits on a quiet
 * client; under load many calls share one exchange and its thread hand-offs.
 * The server runs a batch's calls in order on one worker and answers when the
 * last is done, so send only short calls this way: a long one holds up its
 * batch, which waits for its latest deadline. With coalesce_queue calls
 * already waiting, a new one fails RESOURCE_EXHAUSTED at once. A call that meets
 * RESOURCE_EXHAUSTED in a batch (its answer too big to share the reply, the
 * batch over the server's limit, a full backlog) is made once more alone:
 * coalesced calls should be safe to repeat, as reads are. c must not be
 * destroyed before every done has run. */
void rpc_client_call_async(rpc_client *c, const ProtobufCServiceDescriptor *svc,
                           const char *method, const ProtobufCMessage *req, int timeout_ms,
                           rpc_done_fn done, void *arg);

/* rpc_client_call() through rpc_client_call_async(): the same arguments and
 * results, the call coalesced with other threads' calls. */
int rpc_client_call_coalesced(rpc_client *c, const ProtobufCServiceDescriptor *svc,
                              const char *method, const ProtobufCMessage *req,
                              ProtobufCMessage **resp, int timeout_ms, char *msg, size_t msglen);

/* Copies c's counters into *out. Counters only grow; read without a lock. */
void rpc_client_stats(const rpc_client *c, rpc_client_stats_t *out);

/* Closes the connection and frees c. NULL is fine. */
void rpc_client_destroy(rpc_client *c);

/* 1 when this NNG offers tls+tcp:// (checked at run time), else 0. */
int rpc_tls_supported(void);

#endif
