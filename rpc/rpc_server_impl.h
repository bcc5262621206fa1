/* rpc_server_impl.h - what the server's two files share: a context's state
 * machine and call (rpc_call), the server itself, and the hand-offs between
 * the contexts and workers (rpc_server.c) and the calls (rpc_call.c). */
#ifndef AMLRISK_RPC_SERVER_IMPL_H
#define AMLRISK_RPC_SERVER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "aml/v1/rpc.pb-c.h"
#include "rpc.h"
#include "rpc_impl.h"
#include "rpc_once.h"

#define RPC_SERVICES_MAX 16
#define SEND_TIMEOUT_MS  10000 /* a peer that stops reading loses its reply */
#define BACKOFF_MS       10    /* pause after a failed receive (out of memory) */
#define FAIL_MSG_MAX     512

/* The lifecycle of one context; changed only under call->mtx. */
typedef enum call_state {
	CALL_IDLE,    /* not receiving: before start, or the server is closing */
	CALL_RECV,    /* a receive is pending on the context */
	CALL_BACKOFF, /* a receive failed; sleeping before the next */
	CALL_BUSY,    /* a request is queued, running, or waiting to be answered */
	CALL_SEND,    /* the reply is being sent */
} call_state;

/* One rep context and the call it is serving; the closure data handlers see.
 * A call of a batch is one too, without a context of its own: parent is the
 * batch, req points into the batch's request, and its answer goes to the
 * batch's replies. */
typedef struct rpc_call {
	rpc_server *srv;
	struct rpc_call *parent; /* a call of a batch: the batch; else NULL */
	size_t index;            /* a call of a batch: its place in it */
	/* a batch, set while CALL_BUSY: its calls and their answers (owned) */
	struct rpc_call *subs;
	Aml__V1__RpcReply **replies;
	size_t n_subs;
	atomic_size_t pending; /* calls of the batch not answered yet */
	nng_ctx ctx;
	nng_aio *aio;
	pthread_mutex_t mtx;
	call_state state;
	/* the call being served, set while CALL_BUSY */
	Aml__V1__RpcRequest *env;    /* the exchange's envelope, owned, freed when answered;
	                              * NULL in a batch's call */
	const Aml__V1__RpcCall *req; /* the call (in env or the batch's env); NULL for a
	                              * batch itself and before the envelope is read */
	ProtobufCService *svc;
	const ProtobufCMethodDescriptor *method;
	unsigned method_index;
	double routed_s;         /* monotonic seconds when the method was found */
	nng_time deadline;       /* 0 = the caller sent none */
	nng_time start_deadline; /* not started by then: refused; 0 = none */
	rpc_once_entry *once;    /* a write call's first execution: its answer is kept */
	char fail_msg[FAIL_MSG_MAX];
} rpc_call;

struct rpc_server {
	nng_socket sock;
	bool sock_open;
	nng_listener listener;
	nng_tls_config *tls;
	int n_workers_opt, backlog;
	size_t max_msg;
	ProtobufCService *services[RPC_SERVICES_MAX];
	int n_services;
	rpc_call *calls;
	int n_calls; /* fully initialised entries of calls */
	bool started;
	int port;
	atomic_bool closing;
	atomic_int in_send; /* threads inside nng_ctx_send(), see rpc_server_destroy */

	pthread_mutex_t mtx; /* guards n_idle, for destroy's wait */
	pthread_cond_t idle_cv;
	int n_idle;

	pthread_mutex_t q_mtx; /* the backlog: a ring of calls waiting for a worker */
	pthread_cond_t q_cv;
	rpc_call **queue;
	int q_head, q_len;
	bool q_stop;
	pthread_t *workers;
	int n_workers;

	rpc_once *once;                      /* answers of recent write calls */
	pthread_mutex_t secret_mtx;          /* guards secrets, replaced while serving */
	char secrets[2][RPC_SECRET_MAX + 1]; /* current, previous; "" = none */
	atomic_bool auth;                    /* secrets[0] is set */
	void (*observe)(void *arg, unsigned method_index, int grpc, double seconds);
	void *observe_arg;
	atomic_ullong st_exchanges, st_unauth, st_rejected, st_late, st_replayed;
};

/* Moves a context whose exchange is over to next (CALL_RECV or CALL_BACKOFF)
 * and starts that operation, or to CALL_IDLE when the server is closing. */
void rpc_srv_arm(rpc_call *call, call_state next);
void rpc_srv_set_state(rpc_call *call, call_state st);
/* Queues call for a worker; false when the backlog is full. */
bool rpc_srv_queue_push(rpc_server *srv, rpc_call *call);

/* A request arrived on call's context (takes ownership of msg): decodes,
 * authenticates and routes it in NNG's callback, then queues it. */
void rpc_srv_call_start(rpc_call *call, nng_msg *msg);
/* Runs a queued call (or a batch's calls) on a worker. */
void rpc_srv_call_run(rpc_call *call);

#endif
