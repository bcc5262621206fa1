/* rpc.h - gRPC-style RPC over NNG req/rep: protobuf-c services called and served
 * in the aml.v1.RpcRequest/RpcResponse envelope, dispatched by descriptor name.
 * Many short calls in flight; a few long ones answered later from another thread.
 * Every byte received is hostile until rpc_decode.h has bounded it: decoding a
 * message of n bytes costs a server at most 16 n + 64 KiB of memory (a client
 * reading its server's replies 64 n + 64 KiB), or it is refused first. */
#ifndef AMLRISK_RPC_H
#define AMLRISK_RPC_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Local only by default; the port is the one `scripts/stack env` exports. */
#define RPC_DEFAULT_URL "tcp://127.0.0.1:57100"

typedef struct rpc_server rpc_server;
typedef struct rpc_client rpc_client;

/* Bytes of a shared secret: at least RPC_SECRET_MIN, at most RPC_SECRET_MAX. */
#define RPC_SECRET_MIN 16
#define RPC_SECRET_MAX 256

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
	const char *tls_ca_file;       /* tls+tcp:// only: when set, every client must present a
	                                * certificate this CA signed (else the handshake fails) */
	const char *secret;            /* when set, every exchange must carry it (or
	                                * secret_previous): others are answered UNAUTHENTICATED;
	                                * RPC_SECRET_MIN..MAX bytes, copied */
	const char *secret_previous;   /* also accepted, while clients move to a new secret */
	int insecure;                  /* 1: allow a non-local address (not ipc://, not loopback)
	                                * with neither a secret nor client certificates */
	int once_max;                  /* write calls (with a call id) whose answers are kept;
	                                * default 256, at most 65536 */
	/* when set, called on the answering thread once per call of a known method
	 * with its index in the service, the status sent and the seconds since the
	 * call was routed (metrics); must be quick and thread-safe */
	void (*observe)(void *arg, unsigned method_index, int grpc, double seconds);
	void *observe_arg;
} rpc_server_opts;

/* Client options; a zero field (or a NULL opts) takes the default. */
typedef struct rpc_client_opts {
	int timeout_ms;                /* deadline of a call given timeout_ms <= 0; default 5000 */
	int start_timeout_ms;          /* how long a call may take to reach a connected server and
	                                * start there (rpc_call_opts.start_ms); default 5000 */
	size_t max_msg;                /* largest envelope in either direction; default 4 MiB */
	int reconnect_min_ms;          /* first redial delay after a lost connection; default 10 */
	int reconnect_max_ms;          /* cap of the doubling redial delay; default 250 */
	const char *caller;            /* sent as metadata "caller" with every call; NULL = none */
	const char *secret;            /* sent with every exchange (the server's secret); copied */
	const char *tls_ca_file;       /* tls+tcp:// only: CA that signed the server */
	const char *tls_server_name;   /* tls+tcp:// only: name to verify; default URL host */
	const char *tls_cert_key_file; /* tls+tcp:// only: PEM with the client's certificate and
	                                * key, for servers that require one */
	int send_timeout_ms;  /* how long a request may wait to be handed to a connection, at
	                       * most; default (0) its start deadline. A connection that has
	                       * just gone can still count as connected for a moment: a
	                       * request sent then waits for a new one, so a caller that has
	                       * other servers to try (rpc_multi) sets this short */
	int coalesce_batches; /* batches of coalesced calls out at once; default 1, at most 64 */
	int coalesce_queue;   /* coalesced calls waiting for a batch, at most; beyond it a call
	                       * fails RESOURCE_EXHAUSTED at once; default 4096, at most 65536 */
} rpc_client_opts;

/* Per-call options of rpc_client_call_opts(); a zero field takes the default. */
typedef struct rpc_call_opts {
	int timeout_ms; /* the whole call; default the client's timeout_ms */
	int start_ms;   /* to reach a connected server, be sent and start running there; past
	                 * it the call fails (UNAVAILABLE or DEADLINE_EXCEEDED) and the server
	                 * never starts it. Default min(timeout_ms, the client's
	                 * start_timeout_ms): a long call keeps its long deadline only once it
	                 * runs */
	int once;       /* 1: a write call. It carries a fresh call id, and the server runs
	                 * that id at most once: a repeat waits for the first execution or
	                 * gets its answer (kept for the server's last once_max write calls,
	                 * in memory: a restarted server has forgotten them) */
	int retries;    /* once calls: repeats of the same call id after the connection was
	                 * lost with the call sent (it may have run), each once a connection
	                 * is back within start_ms; default 0 */
} rpc_call_opts;

/* What a client has done since it was created (rpc_client_stats). */
typedef struct rpc_client_stats_t {
	unsigned long long calls;       /* rpc_client_call and _coalesced calls made */
	unsigned long long exchanges;   /* NNG request/reply exchanges, batches included */
	unsigned long long batches;     /* exchanges that carried two calls or more */
	unsigned long long retries;     /* calls made again alone: no room in a batch reply, or
	                                 * a write call repeated after a lost connection */
	unsigned long long unconnected; /* calls failed at once: no server connected */
} rpc_client_stats_t;

/* What a server has refused or replayed since it started (rpc_server_stats). */
typedef struct rpc_server_stats_t {
	unsigned long long exchanges;       /* envelopes received */
	unsigned long long unauthenticated; /* exchanges answered UNAUTHENTICATED */
	unsigned long long rejected;        /* envelopes and payloads the decoder refused */
	unsigned long long late;            /* calls refused DEADLINE_EXCEEDED before starting */
	unsigned long long replayed;        /* write calls answered from a first execution */
} rpc_server_stats_t;

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
 * option, a secret of the wrong length), AMLRISK_EAUTH (url is reachable from
 * other hosts, rpc_url_is_local() false, and neither a secret nor client
 * certificates are asked for, without opts->insecure), AMLRISK_EUNIMPL
 * (tls+tcp:// without TLS in NNG), AMLRISK_ENOMEM.
 *
 * Authentication: with a secret, each exchange's auth field is compared in
 * constant time with the secret and secret_previous; a missing or wrong one
 * gets UNAUTHENTICATED ("unauthenticated", nothing more) before the envelope is
 * routed. With tls_ca_file the TLS handshake itself refuses clients without a
 * certificate from that CA. Both may be combined. */
int rpc_server_create(rpc_server **out, const char *url, const rpc_server_opts *opts);

/* Registers svc (e.g. an initialised Aml__V1__RiskService_Service's base) under
 * its descriptor's full name. Borrows svc: it must outlive the server. Only
 * before rpc_server_start() (else AMLRISK_ESTATE); at most 16 services
 * (AMLRISK_EFULL), each name once (AMLRISK_EINVAL). */
int rpc_server_add_service(rpc_server *srv, ProtobufCService *svc);

/* Binds the address and starts serving. AMLRISK_EBUSY when the address is in
 * use (rpc_strerror() says so), AMLRISK_EIO and others from the transport,
 * AMLRISK_ESTATE if started. */
int rpc_server_start(rpc_server *srv);

/* Replaces the accepted secrets (as in rpc_server_opts, copied) while serving;
 * NULL secret turns authentication off. AMLRISK_EINVAL for a wrong length. */
int rpc_server_set_secret(rpc_server *srv, const char *secret, const char *previous);

/* Copies srv's counters into *out. Counters only grow; read without a lock. */
void rpc_server_stats(const rpc_server *srv, rpc_server_stats_t *out);

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
 * the caller sent none. Valid until the call is answered. A call is never
 * started past its deadline or its start deadline: a worker that picks it up
 * late answers DEADLINE_EXCEEDED instead. */
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
 * exchanges through the client's batch slots instead.
 *
 * The client knows whether a server is connected (NNG pipe events). Until
 * its first connection attempt has ended, a call waits for it (within its
 * start deadline); after that, a call made while no server is connected
 * fails at once with UNAVAILABLE, so a caller never waits on a server that is
 * down. Requests are never resent by the transport: a call whose connection
 * is lost after sending fails UNAVAILABLE ("connection lost") unless it is a
 * write call with retries left (rpc_call_opts). */

/* Creates a client of url (NULL = RPC_DEFAULT_URL) and makes its first
 * connection attempt in the background. *out is written only on success;
 * destroy with rpc_client_destroy(). Returns AMLRISK_OK, AMLRISK_EINVAL,
 * AMLRISK_EUNIMPL (no TLS), AMLRISK_ENOMEM. */
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
 * a local one. Local outcomes: UNAVAILABLE (no server connected, none by the
 * start deadline, or the connection dropped mid-call), DEADLINE_EXCEEDED
 * (connected but not sent by the start deadline, or sent and no answer in
 * time), INVALID_ARGUMENT (bad arguments, unknown method, wrong request type),
 * RESOURCE_EXHAUSTED (request over max_msg, no memory), INTERNAL (a reply that
 * does not decode within the limits of rpc_decode.h or carries another request
 * id; id 0 is accepted on errors, the server's answer to an envelope it could
 * not read), CANCELLED (client destroyed).
 * Thread-safe; c must not be destroyed while calls are running. */
int rpc_client_call(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                    const ProtobufCMessage *req, ProtobufCMessage **resp, int timeout_ms, char *msg,
                    size_t msglen);

/* rpc_client_call() with per-call options (NULL = defaults): start deadline,
 * write calls run at most once, their retries. */
int rpc_client_call_opts(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                         const ProtobufCMessage *req, ProtobufCMessage **resp,
                         const rpc_call_opts *o, char *msg, size_t msglen);

/* 1 while a server is connected, else 0 (also before the first attempt ended). */
int rpc_client_connected(const rpc_client *c);

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
void rpc_client_call_async(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                           const ProtobufCMessage *req, int timeout_ms, rpc_done_fn done,
                           void *arg);

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

/* 1 when url cannot be reached from another host: ipc://, inproc://, or a
 * tcp/tls address on 127.0.0.0/8, ::1 or "localhost". */
int rpc_url_is_local(const char *url);

/* amlrisk_strerror(err) in the RPC layer's words where they are more precise
 * (AMLRISK_EBUSY from rpc_server_start: "address already in use"). */
const char *rpc_strerror(int err);

/* ---- shared secret --------------------------------------------------------
 * The binaries read it from the environment: RPC_SECRET_FILE names a file
 * whose first line is the secret and whose optional second line is the
 * previous one (servers accept both while clients move over; clients send the
 * first); without a file, RPC_SECRET and RPC_SECRET_PREVIOUS. */
typedef struct rpc_secret {
	char current[RPC_SECRET_MAX + 1];  /* "" = none */
	char previous[RPC_SECRET_MAX + 1]; /* "" = none */
	char file[512];                    /* the file read, "" when from variables */
} rpc_secret;

/* Fills *out from the environment as above (all empty when nothing is set).
 * AMLRISK_EINVAL with a message in why for an unreadable file or a secret of
 * the wrong length (RPC_SECRET_MIN..RPC_SECRET_MAX bytes, one line). */
int rpc_secret_from_env(rpc_secret *out, char *why, size_t whylen);

/* Reads path as RPC_SECRET_FILE is read. */
int rpc_secret_from_file(rpc_secret *out, const char *path, char *why, size_t whylen);

#endif
