/* rpc_client_impl.h - what the client's two files share: the client itself,
 * one call's state, and the helpers both the lone path (rpc_client.c) and
 * the coalescing one (rpc_coalesce.c) build on. Not for the library's users. */
#ifndef AMLRISK_RPC_CLIENT_IMPL_H
#define AMLRISK_RPC_CLIENT_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aml/v1/rpc.pb-c.h"
#include "rpc.h"
#include "rpc_impl.h"

#define TIMEOUT_DEFAULT_MS       5000
#define START_DEFAULT_MS         5000
#define CALL_ID_LEN              16
#define RECONNECT_MIN_DEFAULT_MS 10
#define RECONNECT_MAX_DEFAULT_MS 250
#define URL_MAX                  256
#define CALLER_MAX               128
#define GRPC_MAX                 16 /* UNAUTHENTICATED, the last gRPC code */
#define COALESCE_BATCHES_DEFAULT 1
#define COALESCE_BATCHES_MAX     64
#define COALESCE_QUEUE_DEFAULT   4096
#define COALESCE_QUEUE_MAX       65536

/* Idle slots kept (callers beyond them open and close their own) and the
 * largest reply kept as the next request's buffer. */
#define POOL_MAX  256
#define SPARE_MAX ((size_t)16 << 10)

/* A req context with its aio and a spare message for the next request. Idle,
 * it belongs to the pool (c->idle); taken, to one call, which returns it only
 * after a completed exchange: the context then has no request pending, so no
 * late reply can reach a later call (and the request-id check stays). A call
 * that failed or timed out closes its slot instead. */
typedef struct call_slot {
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *spare; /* a consumed reply, reused as the next request; NULL = none */
	struct call_slot *next;
} call_slot;

struct rpc_client {
	nng_socket sock;
	bool sock_open;
	nng_dialer dialer;
	nng_tls_config *tls;
	size_t max_msg;
	int timeout_ms;
	char url[URL_MAX];
	atomic_uint_fast64_t next_id;
	int start_ms; /* start_timeout_ms */
	int send_ms;  /* send_timeout_ms; 0 = by the start deadline only */
	/* the connection: pipes counts connections up (pipe events); settled is
	 * set once the first attempt ended (first_err its NNG error, 0 = it
	 * connected); conn_cv is signalled on both */
	atomic_int pipes;
	atomic_bool settled;
	atomic_int first_err;
	pthread_mutex_t conn_mtx;
	pthread_cond_t conn_cv;
	bool conn_init;
	pthread_t dial_thread; /* makes the first attempt, then starts redialling */
	bool dial_started;
	uint8_t secret[RPC_SECRET_MAX];
	ProtobufCBinaryData auth; /* secret, sent with every exchange; empty = none */
	char caller[CALLER_MAX];
	Aml__V1__MetadataEntry caller_md;
	Aml__V1__MetadataEntry *md[1];
	size_t n_md;
	pthread_mutex_t pool_mtx; /* guards idle and n_idle, held for a push or a pop */
	bool pool_mtx_init;
	call_slot *idle; /* at most POOL_MAX */
	int n_idle;
	/* coalesced calls (rpc_coalesce.c): those waiting, and the idle batch slots */
	pthread_mutex_t co_mtx;
	bool co_mtx_init;
	struct call_req *co_head, *co_tail;
	int co_len, co_queue_max; /* calls queued, and at most */
	struct batch_slot *co_free;
	int co_max;
	atomic_uint_fast64_t calls, exchanges, batches, retries, unconnected;
};

/* One call: its envelope with the packed payload, and where its outcome goes.
 * On the caller's stack for rpc_client_call(); on the heap, owned by the
 * queue and then its batch, for coalesced calls. */
typedef struct call_req {
	Aml__V1__RpcCall call;
	const ProtobufCMethodDescriptor *m;
	char full[RPC_METHOD_MAX];
	rpc_packed payload;
	size_t size; /* of the packed envelope, the call alone in it */
	int timeout_ms, start_ms;
	nng_time deadline, start_deadline;
	uint8_t call_id[CALL_ID_LEN]; /* a write call's (call.call_id points here) */
	bool lost;                    /* sent, then the connection went */
	ProtobufCMessage **resp; /* the unpacked output goes here on OK */
	char *msg;               /* the outcome's message (msglen bytes; may be NULL) */
	size_t msglen;
	/* coalesced calls */
	rpc_done_fn done;
	void *arg;
	ProtobufCMessage *out; /* resp points here */
	int grpc;
	bool alone; /* refused in a batch: goes alone next time */
	struct call_req *next;
	char msgbuf[512];
	uint8_t stack[RPC_STACK_PAYLOAD]; /* last: rpc_cli_req_init leaves it as is */
} call_req;

/* Writes the message of a local failure into msg and returns err's gRPC code. */
int rpc_cli_error(char *msg, size_t msglen, int err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* A fresh request id; never 0, which is what a server answers when it could
 * not read the id. */
uint64_t rpc_cli_next_id(rpc_client *c);

/* Zeroes cr (but its payload buffer) and points its message at msg. */
void rpc_cli_req_init(call_req *cr, char *msg, size_t msglen);

/* Checks the arguments and builds cr's call and payload (released with
 * rpc_packed_release(&cr->payload)) with o's options (never NULL). Returns OK
 * or a gRPC code, cr->msg set. */
int rpc_cli_prepare(rpc_client *c, call_req *cr, const ProtobufCServiceDescriptor *svc,
                    const char *method, const ProtobufCMessage *req, const rpc_call_opts *o);

/* Sets the time left of cr's deadlines into its call, as sent now. */
void rpc_cli_timeouts(call_req *cr);

/* An envelope around call (or the calls of a batch) with c's auth. */
void rpc_cli_envelope(const rpc_client *c, Aml__V1__RpcRequest *env);

/* OK when a server is connected; else waits for one until deadline when
 * wait is true or the first connection attempt has not ended, then fails
 * UNAVAILABLE (counted), msg set. */
int rpc_cli_connected(rpc_client *c, nng_time deadline, bool wait, const char *label, char *msg,
                      size_t msglen);

/* Unpacks reply envelope in (borrowed) into *r (the caller's to free on OK).
 * Returns a gRPC code, msg set otherwise. */
int rpc_cli_unpack(nng_msg *in, Aml__V1__RpcResponse **r, const char *label, char *msg,
                   size_t msglen);

/* Checks reply r for request id and, m non-NULL, unpacks its payload as m's
 * output into *resp. Returns a gRPC code, msg set otherwise. */
int rpc_cli_decode(const Aml__V1__RpcReply *r, uint64_t id, const ProtobufCMethodDescriptor *m,
                   const char *label, ProtobufCMessage **resp, char *msg, size_t msglen);

/* The gRPC code and message of a failed send or receive (NNG error rv);
 * timeout_ms is the send's (start) or the receive's deadline. */
int rpc_cli_send_error(rpc_client *c, int rv, const char *label, int timeout_ms, char *msg,
                       size_t msglen);
int rpc_cli_recv_error(rpc_client *c, int rv, const char *label, int timeout_ms, char *msg,
                       size_t msglen);

/* Time left before deadline, as an NNG timeout (zero once passed). */
nng_duration rpc_cli_left(nng_time deadline);
/* How long a send may wait: until start_deadline, and at most c's send_ms.
 * *ms (may be NULL) gets the bound in milliseconds for the failure's message. */
nng_duration rpc_cli_send_left(const rpc_client *c, nng_time start_deadline, int start_ms, int *ms);

/* The coalescing part's set-up (after the socket is open) and teardown. */
int rpc_co_init(rpc_client *c);
void rpc_co_fini(rpc_client *c);

#endif
