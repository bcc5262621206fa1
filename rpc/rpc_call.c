/* rpc_call.c - one call on the server, from its bytes to its answer: the
 * envelope decoded within bounds and authenticated in NNG's callback, routed
 * by descriptor name, its payload decoded and the handler invoked on a
 * worker, a write call run once, the answer packed and sent (a batch's calls
 * answered into its one reply). Every call of the server passes here. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "rpc_server_impl.h"

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
		rpc_srv_arm(call, CALL_RECV);
		return;
	}
	rpc_srv_set_state(call, CALL_SEND);
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

	if (call->srv->observe != NULL && call->method != NULL) {
		call->srv->observe(call->srv->observe_arg, call->method_index, grpc,
		                   amlrisk_now_s() - call->routed_s);
	}
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
	for (i = n;
	     i-- > 0 && protobuf_c_message_get_packed_size(&resp.base) > batch->srv->max_msg;) {
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
	call->routed_s = amlrisk_now_s();
	/* a generated service struct holds one handler pointer per method after its
	 * base, which is how protobuf-c's own invoke finds them; NULL = not there */
	if (svc->invoke == protobuf_c_service_invoke_internal &&
	    ((const generic_handler *)(svc + 1))[call->method_index] == NULL) {
		call_fail(call, AMLRISK_EUNIMPL, "method %s is not implemented", full);
		return false;
	}
	return true;
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

void
rpc_srv_call_start(rpc_call *call, nng_msg *msg)
{
	rpc_server *srv = call->srv;
	size_t len = nng_msg_len(msg);
	Aml__V1__RpcRequest *env = NULL;
	char why[FAIL_MSG_MAX - 32];
	int err;

	rpc_srv_set_state(call, CALL_BUSY);
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
	if (!rpc_srv_queue_push(srv, call)) {
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

/* Refuses a call when late or shutting down, decodes the payload within its
 * bounds, lets a write call run once, invokes the handler and frees the input
 * afterwards. A batch runs its calls in order. */
void
rpc_srv_call_run(rpc_call *call)
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
			rpc_srv_call_run(&subs[i]);
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
