/* rpc_server.c - the RPC server: a fixed set of NNG rep contexts, each a small
 * aio state machine, feeding a bounded backlog served by a fixed worker pool.
 * Tuned for many short calls in flight; long ones are answered later by their owner.
 * A batch (several calls in one exchange, see rpc.proto) takes one context and
 * one worker, which runs its calls in order; the last answer sends the reply.
 * Every envelope is decoded within rpc_decode.h's bounds and authenticated
 * before it is routed; write calls (with a call id) run once (rpc_once.h). */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_err.h"
#include "rpc.h"
#include "rpc_impl.h"
#include "rpc_once.h"

#include <nng/protocol/reqrep0/rep.h>

#define MAX_SERVICES     16
#define WORKERS_DEFAULT  4
#define WORKERS_MAX      256
#define CONTEXTS_DEFAULT 128
#define CONTEXTS_MAX     4096
#define BACKLOG_DEFAULT  64
#define BACKLOG_MAX      65536
#define ONCE_DEFAULT     256
#define ONCE_MAX         65536
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
	ProtobufCService *services[MAX_SERVICES];
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
	atomic_ullong st_exchanges, st_unauth, st_rejected, st_late, st_replayed;
};

static void call_reply(rpc_call *call, int grpc, const char *message, const ProtobufCMessage *out);
static void call_reply_bin(rpc_call *call, int grpc, const char *message,
                           const ProtobufCBinaryData *payload);
static void batch_answer(rpc_call *batch);

static void
call_failv(rpc_call *call, int err, const char *fmt, va_list ap)
{
	vsnprintf(call->fail_msg, sizeof(call->fail_msg), fmt, ap);
	call_reply(call, amlrisk_err_to_grpc(err), call->fail_msg, NULL);
}

static void __attribute__((format(printf, 3, 4)))
call_fail(rpc_call *call, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_failv(call, err, fmt, ap);
	va_end(ap);
}

static void
server_idle_add(rpc_server *srv)
{
	pthread_mutex_lock(&srv->mtx);
	srv->n_idle++;
	pthread_cond_broadcast(&srv->idle_cv);
	pthread_mutex_unlock(&srv->mtx);
}

/* Moves a context whose exchange is over to next (CALL_RECV or CALL_BACKOFF)
 * and starts that operation, or to CALL_IDLE when the server is closing. */
static void
call_arm(rpc_call *call, call_state next)
{
	rpc_server *srv = call->srv;
	bool closing;

	pthread_mutex_lock(&call->mtx);
	closing = atomic_load(&srv->closing);
	call->state = closing ? CALL_IDLE : next;
	if (!closing) {
		/* NNG runs the completion on its own threads, never inside these */
		nng_aio_set_timeout(call->aio, NNG_DURATION_INFINITE);
		if (next == CALL_RECV) {
			nng_ctx_recv(call->ctx, call->aio);
		} else {
			nng_sleep_aio(BACKOFF_MS, call->aio);
		}
	}
	pthread_mutex_unlock(&call->mtx);
	if (closing) {
		server_idle_add(srv);
	}
}

static void
call_set_state(rpc_call *call, call_state st)
{
	pthread_mutex_lock(&call->mtx);
	call->state = st;
	pthread_mutex_unlock(&call->mtx);
}

/* Frees a batch's calls and answers (after its reply is packed). */
static void
batch_free(rpc_call *call)
{
	for (size_t i = 0; call->replies != NULL && i < call->n_subs; i++) {
		free(call->replies[i]);
	}
	free(call->replies);
	free(call->subs);
	call->replies = NULL;
	call->subs = NULL;
	call->n_subs = 0;
}

/* The request id an answer of call carries: the call's own, a batch's, or 0
 * when the envelope could not be read. */
static uint64_t
call_request_id(const rpc_call *call)
{
	if (call->req != NULL) {
		return call->req->request_id;
	}
	return call->env != NULL ? call->env->batch_id : 0;
}

/* Sends reply (and a batch's n replies; all borrowed) on call's context:
 * packs them (a response over the size limit goes as RESOURCE_EXHAUSTED
 * without payload), frees the envelope and a batch's parts, then sends; the
 * context then goes back to receiving. */
static void
call_send(rpc_call *call, Aml__V1__RpcReply *reply, Aml__V1__RpcReply **replies, size_t n)
{
	Aml__V1__RpcResponse resp = AML__V1__RPC_RESPONSE__INIT;
	rpc_server *srv = call->srv;
	nng_msg *msg = NULL;
	int err;

	resp.reply = reply;
	resp.n_replies = n;
	resp.replies = replies;
	if ((err = rpc_msg_pack(&msg, &resp.base, srv->max_msg)) == AMLRISK_ETOOBIG) {
		reply->payload.data = NULL;
		reply->payload.len = 0;
		resp.n_replies = 0;
		reply->status = (Aml__V1__StatusCode)amlrisk_err_to_grpc(err);
		reply->message = "response over the message size limit";
		err = rpc_msg_pack(&msg, &resp.base, srv->max_msg);
	}
	batch_free(call);
	if (call->env != NULL) {
		protobuf_c_message_free_unpacked(&call->env->base, NULL);
		call->env = NULL;
	}
	call->req = NULL;
	if (err != AMLRISK_OK) {
		/* no memory even for the status: drop it, the caller's deadline ends it */
		call_arm(call, CALL_RECV);
		return;
	}
	call_set_state(call, CALL_SEND);
	nng_aio_set_msg(call->aio, msg);
	nng_aio_set_timeout(call->aio, SEND_TIMEOUT_MS);
	atomic_fetch_add(&srv->in_send, 1);
	nng_ctx_send(call->ctx, call->aio);
	atomic_fetch_sub(&srv->in_send, 1);
}

/* Keeps the answer of a call of a batch (a copy of r in one allocation;
 * NULL when out of memory, answered INTERNAL by the batch); the last answer
 * sends the batch's reply. */
static void
sub_answer(rpc_call *sub, const Aml__V1__RpcReply *r)
{
	rpc_call *batch = sub->parent;
	size_t mlen = strlen(r->message);
	Aml__V1__RpcReply *c = malloc(sizeof(*c) + mlen + 1 + r->payload.len);

	if (c != NULL) {
		aml__v1__rpc_reply__init(c);
		c->request_id = r->request_id;
		c->status = r->status;
		c->message = memcpy((char *)(c + 1), r->message, mlen + 1);
		c->payload.len = r->payload.len;
		c->payload.data = (uint8_t *)(c + 1) + mlen + 1;
		if (r->payload.len > 0) {
			memcpy(c->payload.data, r->payload.data, r->payload.len);
		}
	}
	batch->replies[sub->index] = c;
	/* the batch is answered once, by the thread of its last answer */
	if (atomic_fetch_sub(&batch->pending, 1) == 1) {
		batch_answer(batch);
	}
}

/* Answers call with status grpc, message (borrowed; may be the call's own
 * fail_msg) and payload (borrowed, NULL = none). A write call's first
 * execution also keeps the answer and hands it to the repeats waiting on it. */
static void
call_reply_bin(rpc_call *call, int grpc, const char *message, const ProtobufCBinaryData *payload)
{
	Aml__V1__RpcReply r = AML__V1__RPC_REPLY__INIT;
	void *waiters[RPC_ONCE_WAITERS];
	size_t i, nw = 0;

	r.request_id = call_request_id(call);
	r.status = (Aml__V1__StatusCode)grpc;
	r.message = (char *)(message != NULL ? message : "");
	if (payload != NULL) {
		r.payload = *payload;
	}
	if (call->once != NULL) {
		rpc_once_finish(call->srv->once, call->once, grpc, r.message, &r.payload, waiters,
		                &nw);
		call->once = NULL;
		for (i = 0; i < nw; i++) {
			atomic_fetch_add(&call->srv->st_replayed, 1);
			call_reply_bin(waiters[i], grpc, r.message, &r.payload);
		}
	}
	if (call->parent != NULL) {
		sub_answer(call, &r);
	} else {
		call_send(call, &r, NULL, 0);
	}
}

/* Answers call with status grpc and message (borrowed; may be the call's own
 * fail_msg); out (borrowed, NULL unless OK) becomes the payload. */
static void
call_reply(rpc_call *call, int grpc, const char *message, const ProtobufCMessage *out)
{
	uint8_t stack[RPC_STACK_PAYLOAD];
	rpc_packed payload = {{0, NULL}, NULL};
	char why[160];
	int err;

	if (out != NULL) {
		err = rpc_packed_make(&payload, out, stack, sizeof(stack), call->srv->max_msg);
		if (err != AMLRISK_OK) {
			snprintf(why, sizeof(why), "response %s: %s", out->descriptor->name,
			         amlrisk_strerror(err));
			grpc = amlrisk_err_to_grpc(err);
			message = why;
		}
	}
	call_reply_bin(call, grpc, message, out != NULL ? &payload.bin : NULL);
	rpc_packed_release(&payload);
}

/* Sends a batch's reply once every call of it is answered. Answers that would
 * take the reply over the size limit lose their payload, last first, and say
 * RESOURCE_EXHAUSTED: the caller makes those calls again on their own. */
static void
batch_answer(rpc_call *batch)
{
	static const char no_room[] = "answer does not fit in the batch reply: call alone";
	Aml__V1__RpcResponse resp = AML__V1__RPC_RESPONSE__INIT;
	Aml__V1__RpcReply top = AML__V1__RPC_REPLY__INIT;
	Aml__V1__RpcReply nomem = AML__V1__RPC_REPLY__INIT; /* id 0: see rpc.h */
	Aml__V1__RpcReply *list[RPC_BATCH_MAX];
	size_t i, n = batch->n_subs;

	nomem.status = AML__V1__STATUS_CODE__INTERNAL;
	nomem.message = "out of memory for the answer";
	for (i = 0; i < n; i++) {
		list[i] = batch->replies[i] != NULL ? batch->replies[i] : &nomem;
	}
	top.request_id = batch->env->batch_id;
	top.status = AML__V1__STATUS_CODE__OK;
	top.message = "";
	resp.reply = &top;
	resp.n_replies = n;
	resp.replies = list;
	for (i = n; i-- > 0 && protobuf_c_message_get_packed_size(&resp.base) > batch->srv->max_msg;) {
		if (list[i]->payload.len > 0) {
			list[i]->payload.len = 0;
			list[i]->status = AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED;
			list[i]->message = (char *)no_room;
		}
	}
	call_send(batch, &top, list, n);
}

/* The closure handed to every handler: packs and sends out, or INTERNAL when
 * the handler gave nothing or a message of the wrong type. */
static void
call_closure(const ProtobufCMessage *out, void *closure_data)
{
	rpc_call *call = closure_data;

	if (out == NULL) {
		call_fail(call, AMLRISK_EINTERNAL, "%s: handler answered without a result",
		          call->method->name);
	} else if (out->descriptor != call->method->output) {
		call_fail(call, AMLRISK_EINTERNAL, "%s: handler answered %s, expected %s",
		          call->method->name, out->descriptor->name, call->method->output->name);
	} else {
		call_reply(call, AML__V1__STATUS_CODE__OK, NULL, out);
	}
}

void
rpc_call_fail(void *closure_data, int err, const char *fmt, ...)
{
	rpc_call *call = closure_data;
	va_list ap;

	if (err == AMLRISK_OK) {
		call_fail(call, AMLRISK_EINTERNAL, "%s: failed with no error code",
		          call->method->name);
		return;
	}
	va_start(ap, fmt);
	call_failv(call, err, fmt, ap);
	va_end(ap);
}

int
rpc_call_time_left_ms(const void *closure_data)
{
	const rpc_call *call = closure_data;
	nng_time now;

	if (call->deadline == 0) {
		return -1;
	}
	now = nng_clock();
	if (now >= call->deadline) {
		return 0;
	}
	return (call->deadline - now > INT_MAX) ? INT_MAX : (int)(call->deadline - now);
}

const char *
rpc_call_metadata(const void *closure_data, const char *key)
{
	const rpc_call *call = closure_data;
	size_t i;

	for (i = 0; call->req != NULL && i < call->req->n_metadata; i++) {
		if (strcmp(call->req->metadata[i]->key, key) == 0) {
			return call->req->metadata[i]->value;
		}
	}
	return NULL;
}

/* Finds the service and method named by "package.Service/Method"; answers the
 * call itself (INVALID_ARGUMENT, UNIMPLEMENTED) and returns false when none. */
static bool
call_route(rpc_call *call)
{
	typedef void (*generic_handler)(void);
	rpc_server *srv = call->srv;
	const char *full = call->req->method;
	const char *slash = strrchr(full, '/');
	const ProtobufCServiceDescriptor *d = NULL;
	const ProtobufCMethodDescriptor *m = NULL;
	ProtobufCService *svc = NULL;
	size_t n;
	int i;

	if (slash == NULL || slash == full || slash[1] == '\0' || strlen(full) >= RPC_METHOD_MAX) {
		call_fail(call, AMLRISK_EINVAL,
		          "method \"%.64s\" is not \"package.Service/Method\"", full);
		return false;
	}
	n = (size_t)(slash - full);
	for (i = 0; i < srv->n_services && svc == NULL; i++) {
		d = srv->services[i]->descriptor;
		if (strlen(d->name) == n && memcmp(d->name, full, n) == 0) {
			svc = srv->services[i];
		}
	}
	if (svc == NULL ||
	    (m = protobuf_c_service_descriptor_get_method_by_name(d, slash + 1)) == NULL) {
		call_fail(call, AMLRISK_EUNIMPL, "unknown method %s", full);
		return false;
	}
	call->svc = svc;
	call->method = m;
	call->method_index = (unsigned)(m - d->methods);
	/* a generated service struct holds one handler pointer per method after its
	 * base, which is how protobuf-c's own invoke finds them; NULL = not there */
	if (svc->invoke == protobuf_c_service_invoke_internal &&
	    ((const generic_handler *)(svc + 1))[call->method_index] == NULL) {
		call_fail(call, AMLRISK_EUNIMPL, "method %s is not implemented", full);
		return false;
	}
	return true;
}

static bool
queue_push(rpc_server *srv, rpc_call *call)
{
	bool ok;

	pthread_mutex_lock(&srv->q_mtx);
	ok = srv->q_len < srv->backlog;
	if (ok) {
		srv->queue[(srv->q_head + srv->q_len) % srv->backlog] = call;
		srv->q_len++;
		pthread_cond_signal(&srv->q_cv);
	}
	pthread_mutex_unlock(&srv->q_mtx);
	return ok;
}

/* The deadlines of a call received at now: the whole call's and the one by
 * which it must have started (its start_timeout_ms, else the whole). */
static void
call_deadlines(rpc_call *call, nng_time now)
{
	const Aml__V1__RpcCall *r = call->req;

	call->deadline = r->timeout_ms != 0 ? now + r->timeout_ms : 0;
	call->start_deadline =
	        r->start_timeout_ms != 0 ? now + r->start_timeout_ms : call->deadline;
}

/* Sets up a batch's calls (answering the batch itself when memory is short);
 * true when it is ready to queue. The decoder bounded their number. */
static bool
batch_start(rpc_call *call)
{
	const Aml__V1__RpcRequest *env = call->env;
	nng_time now = nng_clock();
	size_t i, n = env->n_calls;

	if ((call->subs = calloc(n, sizeof(*call->subs))) == NULL ||
	    (call->replies = calloc(n, sizeof(*call->replies))) == NULL) {
		call_fail(call, AMLRISK_ENOMEM, "no memory for a batch of %zu calls", n);
		return false;
	}
	call->n_subs = n;
	atomic_init(&call->pending, n);
	for (i = 0; i < n; i++) {
		rpc_call *sub = &call->subs[i];
		sub->srv = call->srv;
		sub->parent = call;
		sub->index = i;
		sub->req = env->calls[i];
		call_deadlines(sub, now);
	}
	return true;
}

/* 1 when env carries one of the server's secrets (or none is needed). Both
 * are compared, so the time taken says nothing about which one matched. */
static bool
call_authentic(rpc_server *srv, const Aml__V1__RpcRequest *env)
{
	int ok;

	if (!atomic_load(&srv->auth)) {
		return true;
	}
	pthread_mutex_lock(&srv->secret_mtx);
	ok = rpc_secret_equal(env->auth.data, env->auth.len, srv->secrets[0]);
	ok |= rpc_secret_equal(env->auth.data, env->auth.len,
	                       srv->secrets[1][0] != '\0' ? srv->secrets[1] : srv->secrets[0]);
	pthread_mutex_unlock(&srv->secret_mtx);
	return ok != 0;
}

/* A request arrived on call's context (takes ownership of msg): decodes,
 * authenticates and routes it in NNG's callback, then queues it for a worker. */
static void
call_start(rpc_call *call, nng_msg *msg)
{
	rpc_server *srv = call->srv;
	size_t len = nng_msg_len(msg);
	Aml__V1__RpcRequest *env = NULL;
	char why[FAIL_MSG_MAX - 32];
	int err;

	call_set_state(call, CALL_BUSY);
	call->env = NULL;
	call->req = NULL;
	call->method = NULL;
	call->once = NULL;
	call->deadline = call->start_deadline = 0;
	atomic_fetch_add(&srv->st_exchanges, 1);
	if (len > srv->max_msg) {
		nng_msg_free(msg);
		atomic_fetch_add(&srv->st_rejected, 1);
		call_fail(call, AMLRISK_ETOOBIG, "request of %zu bytes over the %zu-byte limit",
		          len, srv->max_msg);
		return;
	}
	err = rpc_decode_request(nng_msg_body(msg), len, &env, why, sizeof(why));
	nng_msg_free(msg);
	if (err != AMLRISK_OK) {
		atomic_fetch_add(&srv->st_rejected, 1);
		call_fail(call, err, "malformed envelope: %s", why);
		return;
	}
	call->env = env;
	if (!call_authentic(srv, env)) {
		atomic_fetch_add(&srv->st_unauth, 1);
		call_fail(call, AMLRISK_EAUTH, "unauthenticated");
		return;
	}
	if (atomic_load(&srv->closing)) {
		call_fail(call, AMLRISK_EUNAVAIL, "server shutting down");
		return;
	}
	if (env->call != NULL) {
		call->req = env->call;
		if (!call_route(call)) {
			return;
		}
		call_deadlines(call, nng_clock());
	} else if (!batch_start(call)) {
		return;
	}
	if (!queue_push(srv, call)) {
		call_fail(call, AMLRISK_EFULL, "server busy: backlog of %d calls full",
		          srv->backlog);
	}
}

/* A write call (with a call id) about to run: true when it should run now
 * (call->once then keeps its answer); else it was answered from, or waits
 * for, its first execution, or was refused. */
static bool
call_once(rpc_call *call)
{
	rpc_server *srv = call->srv;
	rpc_once_answer ans = {0};

	switch (rpc_once_begin(srv->once, call->req->call_id.data, call->req->call_id.len,
	                       call->method, call, &call->once, &ans)) {
	case RPC_ONCE_RUN:
		return true;
	case RPC_ONCE_DONE:
		atomic_fetch_add(&srv->st_replayed, 1);
		call_reply_bin(call, ans.grpc, ans.message, &ans.payload);
		rpc_once_answer_free(&ans);
		return false;
	case RPC_ONCE_WAIT:
		return false; /* the first execution's answer is this call's too */
	case RPC_ONCE_FULL:
		call_fail(call, AMLRISK_EFULL, "%s: too many write calls running or waiting",
		          call->method->name);
		return false;
	case RPC_ONCE_MISMATCH:
		call_fail(call, AMLRISK_EINVAL, "%s: call_id already used by another method",
		          call->method->name);
		return false;
	default:
		call_fail(call, AMLRISK_ENOMEM, "%s: no memory for the kept answer",
		          call->method->name);
		return false;
	}
}

/* Runs a queued call on a worker: refuses it when late or shutting down,
 * decodes the payload within its bounds, lets a write call run once, invokes
 * the handler and frees the input afterwards. A batch runs its calls in order. */
static void
call_run(rpc_call *call)
{
	rpc_server *srv = call->srv;
	ProtobufCService *svc;
	const ProtobufCMethodDescriptor *m;
	unsigned index;
	ProtobufCMessage *in = NULL;
	nng_time now;
	char why[FAIL_MSG_MAX - 32];
	int err;

	if (call->subs != NULL) {
		rpc_call *subs = call->subs;
		/* the last call's answer may send the batch's reply and free subs:
		 * nothing of the batch is read after the last call starts */
		for (size_t i = 0, n = call->n_subs; i < n; i++) {
			call_run(&subs[i]);
		}
		return;
	}
	if (call->parent != NULL && !call_route(call)) {
		return;
	}
	svc = call->svc;
	m = call->method;
	index = call->method_index;
	if (atomic_load(&srv->closing)) {
		call_fail(call, AMLRISK_EUNAVAIL, "server shutting down");
		return;
	}
	now = nng_clock();
	if ((call->deadline != 0 && now >= call->deadline) ||
	    (call->start_deadline != 0 && now >= call->start_deadline)) {
		atomic_fetch_add(&srv->st_late, 1);
		call_fail(call, AMLRISK_ETIMEDOUT, "deadline of %u ms passed before %s started",
		          now >= call->deadline && call->deadline != 0
		                  ? call->req->timeout_ms
		                  : call->req->start_timeout_ms,
		          m->name);
		return;
	}
	err = rpc_decode(m->input, call->req->payload.data, call->req->payload.len,
	                 &rpc_request_limits, &in, why, sizeof(why));
	if (err != AMLRISK_OK) {
		atomic_fetch_add(&srv->st_rejected, 1);
		call_fail(call, err, "payload: %s", why);
		return;
	}
	if (call->req->call_id.len > 0 && !call_once(call)) {
		protobuf_c_message_free_unpacked(in, NULL);
		return;
	}
	/* the handler may answer (and the context move on) before invoke returns:
	 * nothing of call is touched after this line */
	svc->invoke(svc, index, in, call_closure, call);
	protobuf_c_message_free_unpacked(in, NULL);
}

static void *
worker_main(void *arg)
{
	rpc_server *srv = arg;
	rpc_call *call;

	for (;;) {
		pthread_mutex_lock(&srv->q_mtx);
		while (srv->q_len == 0 && !srv->q_stop) {
			pthread_cond_wait(&srv->q_cv, &srv->q_mtx);
		}
		if (srv->q_len == 0) {
			pthread_mutex_unlock(&srv->q_mtx);
			return NULL;
		}
		call = srv->queue[srv->q_head];
		srv->q_head = (srv->q_head + 1) % srv->backlog;
		srv->q_len--;
		pthread_mutex_unlock(&srv->q_mtx);
		call_run(call);
	}
}

/* The aio callback of a context: one step of its state machine. */
static void
call_cb(void *arg)
{
	rpc_call *call = arg;
	int rv = nng_aio_result(call->aio);
	call_state st;
	nng_msg *msg;

	pthread_mutex_lock(&call->mtx);
	st = call->state;
	pthread_mutex_unlock(&call->mtx);
	switch (st) {
	case CALL_RECV:
		if (rv != 0) {
			/* cancelled by destroy (goes idle), or a transient failure */
			call_arm(call, CALL_BACKOFF);
			return;
		}
		msg = nng_aio_get_msg(call->aio);
		nng_aio_set_msg(call->aio, NULL);
		call_start(call, msg);
		return;
	case CALL_BACKOFF:
		call_arm(call, CALL_RECV);
		return;
	case CALL_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(call->aio));
			nng_aio_set_msg(call->aio, NULL);
		}
		call_arm(call, CALL_RECV);
		return;
	case CALL_IDLE:
	case CALL_BUSY:
		return; /* no operation is ever pending in these */
	}
}

static int
call_init(rpc_call *call, rpc_server *srv)
{
	int rv;

	call->srv = srv;
	call->state = CALL_IDLE;
	if (pthread_mutex_init(&call->mtx, NULL) != 0) {
		return AMLRISK_ENOMEM;
	}
	if ((rv = nng_aio_alloc(&call->aio, call_cb, call)) != 0) {
		goto fail;
	}
	if ((rv = nng_ctx_open(&call->ctx, srv->sock)) != 0) {
		nng_aio_free(call->aio);
		goto fail;
	}
	return AMLRISK_OK;
fail:
	pthread_mutex_destroy(&call->mtx);
	return rpc_err_from_nng(rv);
}

/* Picks opts' value or the default, rejecting out-of-range values. */
static int
opt_int(int v, int def, int max, int *out)
{
	if (v < 0 || v > max) {
		return AMLRISK_EINVAL;
	}
	*out = v == 0 ? def : v;
	return AMLRISK_OK;
}

/* Copies the accepted secrets into srv (cur NULL or "": none). */
static int
secrets_set(rpc_server *srv, const char *cur, const char *prev)
{
	bool on = cur != NULL && cur[0] != '\0';

	if ((on && rpc_secret_check(cur, "secret", NULL, 0) != AMLRISK_OK) ||
	    (prev != NULL && prev[0] != '\0' &&
	     (!on || rpc_secret_check(prev, "previous secret", NULL, 0) != AMLRISK_OK))) {
		return AMLRISK_EINVAL;
	}
	pthread_mutex_lock(&srv->secret_mtx);
	memset(srv->secrets, 0, sizeof(srv->secrets));
	if (on) {
		memcpy(srv->secrets[0], cur, strlen(cur) + 1);
		if (prev != NULL) {
			memcpy(srv->secrets[1], prev, strlen(prev) + 1);
		}
	}
	atomic_store(&srv->auth, on);
	pthread_mutex_unlock(&srv->secret_mtx);
	return AMLRISK_OK;
}

static int
server_setup(rpc_server *srv, const char *url, const rpc_server_opts *o)
{
	int contexts, once_max, err, rv, i;

	if ((err = opt_int(o->workers, WORKERS_DEFAULT, WORKERS_MAX, &srv->n_workers_opt)) != 0 ||
	    (err = opt_int(o->contexts, CONTEXTS_DEFAULT, CONTEXTS_MAX, &contexts)) != 0 ||
	    (err = opt_int(o->backlog, BACKLOG_DEFAULT, BACKLOG_MAX, &srv->backlog)) != 0 ||
	    (err = opt_int(o->once_max, ONCE_DEFAULT, ONCE_MAX, &once_max)) != 0 ||
	    (err = secrets_set(srv, o->secret, o->secret_previous)) != 0) {
		return err;
	}
	srv->max_msg = o->max_msg == 0 ? RPC_MAX_MSG_DEFAULT : o->max_msg;
	if (srv->max_msg < RPC_MAX_MSG_MIN || srv->max_msg > RPC_MAX_MSG_MAX) {
		return AMLRISK_EINVAL;
	}
	if ((srv->queue = calloc((size_t)srv->backlog, sizeof(*srv->queue))) == NULL ||
	    (srv->calls = calloc((size_t)contexts, sizeof(*srv->calls))) == NULL ||
	    (srv->workers = calloc((size_t)srv->n_workers_opt, sizeof(*srv->workers))) == NULL ||
	    rpc_once_create(&srv->once, once_max) != AMLRISK_OK) {
		return AMLRISK_ENOMEM;
	}
	if (rpc_url_is_tls(url)) {
		err = rpc_tls_config_make(&srv->tls, 1, url, o->tls_cert_key_file, o->tls_ca_file,
		                          NULL);
		if (err != AMLRISK_OK) {
			return err;
		}
	}
	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		return rpc_err_from_nng(rv);
	}
	srv->sock_open = true;
	if ((rv = nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ,
	                              srv->max_msg + RPC_MSG_SLACK)) != 0) {
		return rpc_err_from_nng(rv);
	}
	if ((rv = nng_listener_create(&srv->listener, srv->sock, url)) != 0) {
		return rv == NNG_ENOTSUP ? AMLRISK_EINVAL : rpc_err_from_nng(rv);
	}
	/* an address other hosts reach needs a secret or client certificates */
	if (!o->insecure && !rpc_url_is_local(url) && !atomic_load(&srv->auth) &&
	    !(rpc_url_is_tls(url) && o->tls_ca_file != NULL)) {
		return AMLRISK_EAUTH;
	}
	if (srv->tls != NULL &&
	    (rv = nng_listener_set_ptr(srv->listener, NNG_OPT_TLS_CONFIG, srv->tls)) != 0) {
		return rpc_err_from_nng(rv);
	}
	for (i = 0; i < contexts; i++) {
		if ((err = call_init(&srv->calls[i], srv)) != 0) {
			return err;
		}
		srv->n_calls++;
		srv->n_idle++; /* idle until started */
	}
	return AMLRISK_OK;
}

int
rpc_server_create(rpc_server **out, const char *url, const rpc_server_opts *opts)
{
	static const rpc_server_opts defaults = {0};
	rpc_server *srv;
	int err;

	if (out == NULL) {
		return AMLRISK_EINVAL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		return AMLRISK_ENOMEM;
	}
	/* glibc's init with default attributes cannot fail */
	pthread_mutex_init(&srv->mtx, NULL);
	pthread_cond_init(&srv->idle_cv, NULL);
	pthread_mutex_init(&srv->q_mtx, NULL);
	pthread_cond_init(&srv->q_cv, NULL);
	pthread_mutex_init(&srv->secret_mtx, NULL);
	atomic_init(&srv->closing, false);
	atomic_init(&srv->in_send, 0);
	if ((err = server_setup(srv, url != NULL ? url : RPC_DEFAULT_URL,
	                        opts != NULL ? opts : &defaults)) != AMLRISK_OK) {
		rpc_server_destroy(srv);
		return err;
	}
	*out = srv;
	return AMLRISK_OK;
}

int
rpc_server_add_service(rpc_server *srv, ProtobufCService *svc)
{
	int i;

	if (srv == NULL || svc == NULL || svc->descriptor == NULL ||
	    svc->descriptor->magic != PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC) {
		return AMLRISK_EINVAL;
	}
	if (srv->started) {
		return AMLRISK_ESTATE;
	}
	if (srv->n_services == MAX_SERVICES) {
		return AMLRISK_EFULL;
	}
	for (i = 0; i < srv->n_services; i++) {
		if (strcmp(srv->services[i]->descriptor->name, svc->descriptor->name) == 0) {
			return AMLRISK_EINVAL;
		}
	}
	srv->services[srv->n_services++] = svc;
	return AMLRISK_OK;
}

static void
workers_stop(rpc_server *srv)
{
	int i;

	pthread_mutex_lock(&srv->q_mtx);
	srv->q_stop = true;
	pthread_cond_broadcast(&srv->q_cv);
	pthread_mutex_unlock(&srv->q_mtx);
	for (i = 0; i < srv->n_workers; i++) {
		pthread_join(srv->workers[i], NULL);
	}
	srv->n_workers = 0;
	srv->q_stop = false;
}

int
rpc_server_start(rpc_server *srv)
{
	int rv, err, i;

	if (srv == NULL) {
		return AMLRISK_EINVAL;
	}
	if (srv->started) {
		return AMLRISK_ESTATE;
	}
	for (i = 0; i < srv->n_workers_opt; i++) {
		if (pthread_create(&srv->workers[i], NULL, worker_main, srv) != 0) {
			err = AMLRISK_ENOMEM;
			goto fail;
		}
		srv->n_workers++;
	}
	if ((rv = nng_listener_start(srv->listener, 0)) != 0) {
		err = rpc_err_from_nng(rv);
		goto fail;
	}
	srv->started = true;
	if (nng_listener_get_int(srv->listener, NNG_OPT_TCP_BOUND_PORT, &srv->port) != 0) {
		srv->port = 0;
	}
	pthread_mutex_lock(&srv->mtx);
	srv->n_idle = 0;
	pthread_mutex_unlock(&srv->mtx);
	for (i = 0; i < srv->n_calls; i++) {
		call_arm(&srv->calls[i], CALL_RECV);
	}
	return AMLRISK_OK;
fail:
	workers_stop(srv);
	return err;
}

int
rpc_server_set_secret(rpc_server *srv, const char *secret, const char *previous)
{
	return srv != NULL ? secrets_set(srv, secret, previous) : AMLRISK_EINVAL;
}

void
rpc_server_stats(const rpc_server *srv, rpc_server_stats_t *out)
{
	out->exchanges = atomic_load(&srv->st_exchanges);
	out->unauthenticated = atomic_load(&srv->st_unauth);
	out->rejected = atomic_load(&srv->st_rejected);
	out->late = atomic_load(&srv->st_late);
	out->replayed = atomic_load(&srv->st_replayed);
}

int
rpc_server_port(const rpc_server *srv)
{
	return srv != NULL ? srv->port : 0;
}

void
rpc_server_destroy(rpc_server *srv)
{
	rpc_call *call;
	int i;

	if (srv == NULL) {
		return;
	}
	atomic_store(&srv->closing, true);
	for (i = 0; i < srv->n_calls; i++) {
		call = &srv->calls[i];
		pthread_mutex_lock(&call->mtx);
		if (call->state == CALL_RECV || call->state == CALL_BACKOFF) {
			nng_aio_cancel(call->aio); /* its callback sees closing and goes idle */
		}
		pthread_mutex_unlock(&call->mtx);
	}
	pthread_mutex_lock(&srv->mtx);
	while (srv->n_idle < srv->n_calls) {
		pthread_cond_wait(&srv->idle_cv, &srv->mtx);
	}
	pthread_mutex_unlock(&srv->mtx);
	/* the reply's completion can run before the thread that sent it is out of
	 * nng_ctx_send(); NNG 1.5.2 tears a context down in whichever thread drops
	 * its last reference, so closing the socket under such a thread crashes */
	while (atomic_load(&srv->in_send) > 0) {
		nng_msleep(1);
	}
	workers_stop(srv);
	if (srv->sock_open) {
		nng_close(srv->sock); /* closes the listener and every context */
	}
	for (i = 0; i < srv->n_calls; i++) {
		nng_aio_free(srv->calls[i].aio);
		pthread_mutex_destroy(&srv->calls[i].mtx);
	}
	if (srv->tls != NULL) {
		nng_tls_config_free(srv->tls);
	}
	free(srv->calls);
	free(srv->queue);
	free(srv->workers);
	rpc_once_destroy(srv->once);
	memset(srv->secrets, 0, sizeof(srv->secrets));
	pthread_mutex_destroy(&srv->secret_mtx);
	pthread_cond_destroy(&srv->q_cv);
	pthread_mutex_destroy(&srv->q_mtx);
	pthread_cond_destroy(&srv->idle_cv);
	pthread_mutex_destroy(&srv->mtx);
	free(srv);
}
