/* rpc_client.c - the RPC client: one req socket whose dialer redials by itself,
 * one NNG context per call in flight so calling threads never wait on each
 * other. Built for the gateway's thread pool: thousands of small synchronous
 * calls a second, so the contexts, their aios and the request messages are
 * kept in a small pool and reused instead of made and freed per call. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_err.h"
#include "rpc.h"
#include "rpc_impl.h"

#include <nng/protocol/reqrep0/req.h>

#define TIMEOUT_DEFAULT_MS       5000
#define RECONNECT_MIN_DEFAULT_MS 10
#define RECONNECT_MAX_DEFAULT_MS 250
#define URL_MAX                  256
#define CALLER_MAX               128
#define GRPC_MAX                 16 /* UNAUTHENTICATED, the last gRPC code */
#define COALESCE_BATCHES_DEFAULT 1
#define COALESCE_BATCHES_MAX     64

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
	atomic_int pipes; /* connections up or being added, from pipe events */
	char caller[CALLER_MAX];
	Aml__V1__MetadataEntry caller_md;
	Aml__V1__MetadataEntry *md[1];
	size_t n_md;
	pthread_mutex_t pool_mtx; /* guards idle and n_idle, held for a push or a pop */
	bool pool_mtx_init;
	call_slot *idle; /* at most POOL_MAX */
	int n_idle;
	/* coalesced calls waiting for a batch, and batches out */
	pthread_mutex_t co_mtx;
	bool co_mtx_init;
	struct call_req *co_head, *co_tail;
	int co_running, co_max;
	atomic_uint_fast64_t calls, exchanges, batches, retries;
};

/* Writes the message of a local failure into msg and returns err's gRPC code. */
static int __attribute__((format(printf, 4, 5)))
call_error(char *msg, size_t msglen, int err, const char *fmt, ...)
{
	va_list ap;

	if (msg != NULL && msglen > 0) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return amlrisk_err_to_grpc(err);
}

/* A fresh request id; never 0, which is what a server answers when it could
 * not read the id. */
static uint64_t
next_id(rpc_client *c)
{
	uint64_t id;

	while ((id = atomic_fetch_add(&c->next_id, 1)) == 0) {
	}
	return id;
}

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	rpc_client *c = arg;

	(void)p;
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		atomic_fetch_add(&c->pipes, 1);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&c->pipes, 1);
	}
}

static int
client_setup(rpc_client *c, const char *url, const rpc_client_opts *o)
{
	size_t recv_max;
	int rv, err;

	if (o->timeout_ms < 0 || o->reconnect_min_ms < 0 || o->reconnect_max_ms < 0 ||
	    o->coalesce_batches < 0 || o->coalesce_batches > COALESCE_BATCHES_MAX ||
	    strlen(url) >= sizeof(c->url) ||
	    (o->caller != NULL && strlen(o->caller) >= sizeof(c->caller))) {
		return AMLRISK_EINVAL;
	}
	memcpy(c->url, url, strlen(url) + 1);
	c->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : TIMEOUT_DEFAULT_MS;
	c->co_max = o->coalesce_batches != 0 ? o->coalesce_batches : COALESCE_BATCHES_DEFAULT;
	c->max_msg = o->max_msg != 0 ? o->max_msg : RPC_MAX_MSG_DEFAULT;
	if (c->max_msg < RPC_MAX_MSG_MIN || c->max_msg > RPC_MAX_MSG_MAX) {
		return AMLRISK_EINVAL;
	}
	if (o->caller != NULL) {
		memcpy(c->caller, o->caller, strlen(o->caller) + 1);
		aml__v1__metadata_entry__init(&c->caller_md);
		c->caller_md.key = "caller";
		c->caller_md.value = c->caller;
		c->md[0] = &c->caller_md;
		c->n_md = 1;
	}
	if (rpc_url_is_tls(url) && (err = rpc_tls_config_make(&c->tls, url, NULL, o->tls_ca_file,
	                                                      o->tls_server_name)) != 0) {
		return err;
	}
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		return rpc_err_from_nng(rv);
	}
	c->sock_open = true;
	recv_max = c->max_msg + RPC_MSG_SLACK;
	/* never resend on our own: a request that may have run is not repeated, a
	 * lost connection ends the call with UNAVAILABLE instead */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, recv_max)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, c)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_cb, c)) != 0) {
		return rpc_err_from_nng(rv);
	}
	if ((rv = nng_dialer_create(&c->dialer, c->sock, url)) != 0) {
		return rv == NNG_ENOTSUP ? AMLRISK_EINVAL : rpc_err_from_nng(rv);
	}
	if ((rv = nng_dialer_set_ms(c->dialer, NNG_OPT_RECONNMINT,
	                            o->reconnect_min_ms ? o->reconnect_min_ms
	                                                : RECONNECT_MIN_DEFAULT_MS)) != 0 ||
	    (rv = nng_dialer_set_ms(c->dialer, NNG_OPT_RECONNMAXT,
	                            o->reconnect_max_ms ? o->reconnect_max_ms
	                                                : RECONNECT_MAX_DEFAULT_MS)) != 0) {
		return rpc_err_from_nng(rv);
	}
	if (c->tls != NULL &&
	    (rv = nng_dialer_set_ptr(c->dialer, NNG_OPT_TLS_CONFIG, c->tls)) != 0) {
		return rpc_err_from_nng(rv);
	}
	/* non-blocking: the first dial may fail, the dialer keeps trying */
	if ((rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		return rpc_err_from_nng(rv);
	}
	return AMLRISK_OK;
}

int
rpc_client_create(rpc_client **out, const char *url, const rpc_client_opts *opts)
{
	static const rpc_client_opts defaults = {0};
	rpc_client *c;
	uint64_t seed;
	int err;

	if (out == NULL) {
		return AMLRISK_EINVAL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return AMLRISK_ENOMEM;
	}
	/* ids start at a random point so a restarted client does not repeat them */
	seed = ((uint64_t)nng_random() << 32) | nng_random();
	atomic_init(&c->next_id, seed);
	atomic_init(&c->pipes, 0);
	if (pthread_mutex_init(&c->pool_mtx, NULL) != 0) {
		free(c);
		return AMLRISK_ENOMEM;
	}
	c->pool_mtx_init = true;
	if (pthread_mutex_init(&c->co_mtx, NULL) != 0) {
		rpc_client_destroy(c);
		return AMLRISK_ENOMEM;
	}
	c->co_mtx_init = true;
	if ((err = client_setup(c, url != NULL ? url : RPC_DEFAULT_URL,
	                        opts != NULL ? opts : &defaults)) != AMLRISK_OK) {
		rpc_client_destroy(c);
		return err;
	}
	*out = c;
	return AMLRISK_OK;
}

/* Closes s's context and frees s with its aio and spare message. NULL is fine. */
static void
slot_free(call_slot *s)
{
	if (s == NULL) {
		return;
	}
	nng_ctx_close(s->ctx);
	nng_aio_free(s->aio);
	nng_msg_free(s->spare);
	free(s);
}

/* Takes an idle slot or makes one (*out written on success, owned by the
 * call until slot_put). Returns 0 or an NNG error. */
static int
slot_get(rpc_client *c, call_slot **out)
{
	call_slot *s;
	int rv;

	pthread_mutex_lock(&c->pool_mtx);
	if ((s = c->idle) != NULL) {
		c->idle = s->next;
		c->n_idle--;
	}
	pthread_mutex_unlock(&c->pool_mtx);
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			return NNG_ENOMEM;
		}
		if ((rv = nng_aio_alloc(&s->aio, NULL, NULL)) != 0) {
			free(s);
			return rv;
		}
		if ((rv = nng_ctx_open(&s->ctx, c->sock)) != 0) {
			nng_aio_free(s->aio);
			free(s);
			return rv;
		}
	}
	s->next = NULL;
	*out = s;
	return 0;
}

/* Gives s back: to the pool when reusable (its exchange completed) and the
 * pool has room, else closed and freed. */
static void
slot_put(rpc_client *c, call_slot *s, bool reusable)
{
	if (reusable) {
		pthread_mutex_lock(&c->pool_mtx);
		if (c->n_idle < POOL_MAX) {
			s->next = c->idle;
			c->idle = s;
			c->n_idle++;
			s = NULL;
		}
		pthread_mutex_unlock(&c->pool_mtx);
	}
	slot_free(s);
}

void
rpc_client_destroy(rpc_client *c)
{
	call_slot *s;

	if (c == NULL) {
		return;
	}
	/* no call is running (the contract), so every slot is idle */
	while ((s = c->idle) != NULL) {
		c->idle = s->next;
		slot_free(s);
	}
	if (c->pool_mtx_init) {
		pthread_mutex_destroy(&c->pool_mtx);
	}
	if (c->co_mtx_init) {
		pthread_mutex_destroy(&c->co_mtx);
	}
	if (c->sock_open) {
		nng_close(c->sock); /* the dialer goes with it */
	}
	if (c->tls != NULL) {
		nng_tls_config_free(c->tls);
	}
	free(c);
}

/* Sends out (ownership taken) on ctx and waits for the reply (*in, owned by
 * the caller on OK) until deadline. Returns a gRPC code, msg set on failure. */
static int
call_exchange(rpc_client *c, nng_ctx ctx, nng_aio *aio, nng_msg *out, nng_msg **in,
              nng_time deadline, int timeout_ms, const char *method, char *msg, size_t msglen)
{
	nng_time now;
	int rv;

	now = nng_clock();
	nng_aio_set_msg(aio, out);
	/* a coalesced call may have spent some of its time queued */
	nng_aio_set_timeout(aio,
	                    now < deadline ? (nng_duration)(deadline - now) : NNG_DURATION_ZERO);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(aio)); /* a failed send leaves it with us */
		nng_aio_set_msg(aio, NULL);
		if (rv == NNG_ETIMEDOUT && atomic_load(&c->pipes) > 0) {
			return call_error(msg, msglen, AMLRISK_ETIMEDOUT,
			                  "%s: connected to %s but could not send within %d ms",
			                  method, c->url, timeout_ms);
		}
		if (rv == NNG_ETIMEDOUT) {
			return call_error(msg, msglen, AMLRISK_EUNAVAIL,
			                  "%s: no server at %s within %d ms", method, c->url,
			                  timeout_ms);
		}
		return call_error(msg, msglen,
		                  rv == NNG_ECLOSED ? AMLRISK_ECANCELED : rpc_err_from_nng(rv),
		                  "%s: send to %s: %s", method, c->url, nng_strerror(rv));
	}
	now = nng_clock();
	nng_aio_set_timeout(aio,
	                    now < deadline ? (nng_duration)(deadline - now) : NNG_DURATION_ZERO);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	switch ((rv = nng_aio_result(aio))) {
	case 0:
		*in = nng_aio_get_msg(aio);
		nng_aio_set_msg(aio, NULL);
		return 0;
	case NNG_ETIMEDOUT:
		return call_error(msg, msglen, AMLRISK_ETIMEDOUT,
		                  "%s: no answer from %s within %d ms", method, c->url, timeout_ms);
	case NNG_ECONNRESET:
		return call_error(msg, msglen, AMLRISK_EUNAVAIL,
		                  "%s: connection to %s lost during the call", method, c->url);
	case NNG_ECLOSED:
		return call_error(msg, msglen, AMLRISK_ECANCELED, "%s: client closed", method);
	default:
		return call_error(msg, msglen, rpc_err_from_nng(rv), "%s: receive from %s: %s",
		                  method, c->url, nng_strerror(rv));
	}
}

/* Packs envelope env into *out (the caller's on success), reusing s's spare
 * message when there is one. Fails with AMLRISK_ETOOBIG over max bytes. */
static int
request_pack(nng_msg **out, call_slot *s, const ProtobufCMessage *env, size_t max)
{
	size_t n = protobuf_c_message_get_packed_size(env);
	nng_msg *m;
	int rv;

	if (n > max) {
		return AMLRISK_ETOOBIG;
	}
	if ((m = s->spare) != NULL) {
		s->spare = NULL;
		nng_msg_header_clear(m);
		nng_msg_clear(m);
		if ((rv = nng_msg_realloc(m, n)) != 0) {
			nng_msg_free(m);
			return rpc_err_from_nng(rv);
		}
	} else if ((rv = nng_msg_alloc(&m, n)) != 0) {
		return rpc_err_from_nng(rv);
	}
	(void)protobuf_c_message_pack(env, nng_msg_body(m));
	*out = m;
	return AMLRISK_OK;
}

/* Checks reply r for request id and decodes it: on OK unpacks the payload as
 * m's output into *resp. Returns a gRPC code, msg set otherwise. */
static int
reply_decode(const Aml__V1__RpcResponse *r, uint64_t id, const ProtobufCMethodDescriptor *m,
             const char *method, ProtobufCMessage **resp, char *msg, size_t msglen)
{
	ProtobufCMessage *out;
	int grpc;

	/* id 0 is a server that could not read our envelope (oversize, malformed):
	 * NNG matched the reply to this call already, so its status stands */
	if (r->request_id != id && (r->request_id != 0 || r->status == AML__V1__STATUS_CODE__OK)) {
		return call_error(msg, msglen, AMLRISK_EINTERNAL,
		                  "%s: reply for request %llu, expected %llu", method,
		                  (unsigned long long)r->request_id, (unsigned long long)id);
	}
	if (r->status != AML__V1__STATUS_CODE__OK) {
		grpc = (r->status > 0 && r->status <= GRPC_MAX) ? (int)r->status
		                                                : AML__V1__STATUS_CODE__UNKNOWN;
		if (msg != NULL && msglen > 0) {
			snprintf(msg, msglen, "%s",
			         r->message[0] != '\0' ? r->message : amlrisk_grpc_name(grpc));
		}
		return grpc;
	}
	if (m == NULL) {
		return AML__V1__STATUS_CODE__OK; /* a batch: its replies are decoded one by one */
	}
	if ((out = protobuf_c_message_unpack(m->output, NULL, r->payload.len, r->payload.data)) ==
	    NULL) {
		return call_error(msg, msglen, AMLRISK_EINTERNAL,
		                  "%s: reply payload is not a valid %s", method, m->output->name);
	}
	*resp = out;
	return AML__V1__STATUS_CODE__OK;
}

/* Unpacks reply envelope in (borrowed) into *r (the caller's to free on OK).
 * Returns a gRPC code, msg set otherwise. */
static int
reply_unpack(nng_msg *in, Aml__V1__RpcResponse **r, const char *method, char *msg, size_t msglen)
{
	*r = (Aml__V1__RpcResponse *)protobuf_c_message_unpack(
	        &aml__v1__rpc_response__descriptor, NULL, nng_msg_len(in), nng_msg_body(in));
	if (*r == NULL) {
		return call_error(msg, msglen, AMLRISK_EINTERNAL, "%s: malformed reply envelope",
		                  method);
	}
	return AML__V1__STATUS_CODE__OK;
}

/* One call, set up on its caller's stack: the envelope with its payload, and
 * where the answer goes. A coalesced call also waits here for its batch. */
typedef struct call_req {
	Aml__V1__RpcRequest env;
	const ProtobufCMethodDescriptor *m;
	char full[RPC_METHOD_MAX];
	uint8_t stack[RPC_STACK_PAYLOAD];
	rpc_packed payload;
	size_t size; /* of the packed envelope */
	int timeout_ms;
	nng_time deadline;
	ProtobufCMessage **resp;
	char *msg;
	size_t msglen;
	int grpc; /* the outcome */
	/* coalescing, under c->co_mtx */
	pthread_cond_t cv;
	bool lead;  /* this caller sends the next batch */
	bool done;  /* grpc is set */
	bool retry; /* the batch had no room for the answer: call alone */
	struct call_req *next;
} call_req;

/* Checks the arguments and builds cr's envelope. Returns OK or a gRPC code
 * with cr->msg set. */
static int
req_prepare(rpc_client *c, call_req *cr, const ProtobufCServiceDescriptor *svc, const char *method,
            const ProtobufCMessage *req, int timeout_ms)
{
	int err, n;

	if ((cr->m = protobuf_c_service_descriptor_get_method_by_name(svc, method)) == NULL) {
		return call_error(cr->msg, cr->msglen, AMLRISK_EINVAL, "%s has no method %.64s",
		                  svc->name, method);
	}
	if (req->descriptor != cr->m->input) {
		return call_error(cr->msg, cr->msglen, AMLRISK_EINVAL, "%s/%s takes %s, not %s",
		                  svc->name, cr->m->name, cr->m->input->name, req->descriptor->name);
	}
	n = snprintf(cr->full, sizeof(cr->full), "%s/%s", svc->name, cr->m->name);
	if (n < 0 || (size_t)n >= sizeof(cr->full)) {
		return call_error(cr->msg, cr->msglen, AMLRISK_EINVAL, "method name too long");
	}
	cr->timeout_ms = timeout_ms > 0 ? timeout_ms : c->timeout_ms;
	cr->deadline = nng_clock() + (nng_time)cr->timeout_ms;
	if ((err = rpc_packed_make(&cr->payload, req, cr->stack, sizeof(cr->stack), c->max_msg)) !=
	    0) {
		return call_error(cr->msg, cr->msglen, err, "%s: request: %s", cr->full,
		                  amlrisk_strerror(err));
	}
	aml__v1__rpc_request__init(&cr->env);
	cr->env.request_id = next_id(c);
	cr->env.method = cr->full;
	cr->env.timeout_ms = (uint32_t)cr->timeout_ms;
	cr->env.n_metadata = c->n_md;
	cr->env.metadata = c->md;
	cr->env.payload = cr->payload.bin;
	cr->size = protobuf_c_message_get_packed_size(&cr->env.base);
	if (cr->size > c->max_msg) {
		return call_error(cr->msg, cr->msglen, AMLRISK_ETOOBIG,
		                  "%s: request of %zu bytes: %s", cr->full, cr->size,
		                  amlrisk_strerror(AMLRISK_ETOOBIG));
	}
	return AML__V1__STATUS_CODE__OK;
}

/* Sends env (borrowed) and waits for its reply until deadline; on OK *r is
 * the unpacked reply envelope, the caller's to free. Returns a gRPC code. */
static int
exchange(rpc_client *c, const Aml__V1__RpcRequest *env, nng_time deadline, int timeout_ms,
         const char *label, Aml__V1__RpcResponse **r, char *msg, size_t msglen)
{
	nng_msg *out = NULL, *in = NULL;
	call_slot *slot = NULL;
	bool slot_idle = true; /* false once the exchange failed: the slot is closed */
	int grpc, err, rv;

	atomic_fetch_add(&c->exchanges, 1);
	if ((rv = slot_get(c, &slot)) != 0) {
		return call_error(msg, msglen, rpc_err_from_nng(rv), "%s: %s", label,
		                  nng_strerror(rv));
	}
	if ((err = request_pack(&out, slot, &env->base, c->max_msg)) != 0) {
		grpc = call_error(msg, msglen, err, "%s: request of %zu bytes: %s", label,
		                  protobuf_c_message_get_packed_size(&env->base),
		                  amlrisk_strerror(err));
		goto out;
	}
	grpc = call_exchange(c, slot->ctx, slot->aio, out, &in, deadline, timeout_ms, label, msg,
	                     msglen);
	slot_idle = grpc == AML__V1__STATUS_CODE__OK;
	if (grpc == AML__V1__STATUS_CODE__OK) {
		grpc = reply_unpack(in, r, label, msg, msglen);
		if (nng_msg_len(in) <= SPARE_MAX) {
			slot->spare = in; /* unpacked: only its buffer is reused */
			in = NULL;
		}
	}
out:
	/* a reply received (or no exchange) leaves the context idle; a failed or
	 * timed-out exchange closes it */
	slot_put(c, slot, slot_idle);
	nng_msg_free(in);
	return grpc;
}

/* One call in its own exchange. Returns a gRPC code. */
static int
call_alone(rpc_client *c, call_req *cr)
{
	Aml__V1__RpcResponse *r = NULL;
	int grpc;

	grpc = exchange(c, &cr->env, cr->deadline, cr->timeout_ms, cr->full, &r, cr->msg,
	                cr->msglen);
	if (grpc == AML__V1__STATUS_CODE__OK) {
		grpc = reply_decode(r, cr->env.request_id, cr->m, cr->full, cr->resp, cr->msg,
		                    cr->msglen);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	return grpc;
}

/* Calls batch[0..n) (n >= 2) in one exchange and sets each one's outcome; a
 * call that met RESOURCE_EXHAUSTED (its answer did not fit the batch's reply,
 * the batch was over the server's limit, or the backlog was full) is marked
 * to be made once more alone. */
static void
call_batch(rpc_client *c, call_req **batch, size_t n)
{
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcRequest *calls[RPC_BATCH_MAX];
	Aml__V1__RpcResponse *r = NULL;
	nng_time deadline = 0;
	char label[64], msg[512] = "";
	int grpc, timeout_ms = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		calls[i] = &batch[i]->env;
		if (batch[i]->deadline > deadline) { /* the batch waits for its latest */
			deadline = batch[i]->deadline;
			timeout_ms = batch[i]->timeout_ms;
		}
	}
	snprintf(label, sizeof(label), "batch of %zu calls", n);
	env.request_id = next_id(c);
	env.method = "";
	env.timeout_ms = (uint32_t)timeout_ms;
	env.n_calls = n;
	env.calls = calls;
	atomic_fetch_add(&c->batches, 1);
	grpc = exchange(c, &env, deadline, timeout_ms, label, &r, msg, sizeof(msg));
	if (grpc == AML__V1__STATUS_CODE__OK) {
		grpc = reply_decode(r, env.request_id, NULL, label, NULL, msg, sizeof(msg));
	}
	if (grpc == AML__V1__STATUS_CODE__OK && r->n_replies != n) {
		grpc = call_error(msg, sizeof(msg), AMLRISK_EINTERNAL,
		                  "%s: reply holds %zu answers", label, r->n_replies);
	}
	for (i = 0; i < n; i++) {
		call_req *cr = batch[i];
		if (grpc != AML__V1__STATUS_CODE__OK) {
			cr->grpc = grpc;
			if (cr->msg != NULL && cr->msglen > 0) {
				snprintf(cr->msg, cr->msglen, "%s", msg);
			}
		} else {
			cr->grpc = reply_decode(r->replies[i], cr->env.request_id, cr->m, cr->full,
			                        cr->resp, cr->msg, cr->msglen);
		}
		/* a batch or an answer too big for the server (whose limit may be
		 * lower than ours), or a full backlog: once more, alone */
		cr->retry = cr->grpc == AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED;
	}
	if (r != NULL) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
}

/* A coalesced call: queued; the first caller when fewer than co_max batches
 * are out leads: it takes the queue (up to RPC_BATCH_MAX calls and max_msg
 * bytes), sends it as one exchange, hands out the answers, and makes the next
 * waiting caller the leader of what queued meanwhile. Returns a gRPC code. */
static int
call_coalesced(rpc_client *c, call_req *cr)
{
	call_req *batch[RPC_BATCH_MAX];
	size_t n = 0, bytes = 0;

	pthread_cond_init(&cr->cv, NULL);
	pthread_mutex_lock(&c->co_mtx);
	if (c->co_tail != NULL) {
		c->co_tail->next = cr;
	} else {
		c->co_head = cr;
	}
	c->co_tail = cr;
	if (c->co_running < c->co_max) {
		c->co_running++;
		cr->lead = true;
	}
	while (!cr->lead && !cr->done) {
		pthread_cond_wait(&cr->cv, &c->co_mtx);
	}
	if (cr->lead) {
		/* the leader heads the queue: it came to an empty one, or was promoted */
		while (c->co_head != NULL && n < RPC_BATCH_MAX &&
		       (n == 0 || bytes + c->co_head->size + 16 <= c->max_msg)) {
			call_req *h = c->co_head;
			bytes += h->size + 16; /* its tag and length in the batch */
			batch[n++] = h;
			if ((c->co_head = h->next) == NULL) {
				c->co_tail = NULL;
			}
			h->next = NULL;
		}
		pthread_mutex_unlock(&c->co_mtx);
		if (n == 1) {
			cr->grpc = call_alone(c, cr);
		} else {
			call_batch(c, batch, n);
		}
		pthread_mutex_lock(&c->co_mtx);
		for (size_t i = 0; i < n; i++) {
			batch[i]->done = true;
			if (batch[i] != cr) {
				pthread_cond_signal(&batch[i]->cv);
			}
		}
		c->co_running--;
		if (c->co_head != NULL) {
			c->co_running++;
			c->co_head->lead = true;
			pthread_cond_signal(&c->co_head->cv);
		}
	}
	pthread_mutex_unlock(&c->co_mtx);
	pthread_cond_destroy(&cr->cv);
	if (cr->retry) {
		atomic_fetch_add(&c->retries, 1);
		cr->grpc = call_alone(c, cr);
	}
	return cr->grpc;
}

/* The one path of rpc_client_call and rpc_client_call_coalesced. */
static int
client_call(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
            const ProtobufCMessage *req, ProtobufCMessage **resp, int timeout_ms, char *msg,
            size_t msglen, bool coalesce)
{
	call_req cr;
	int grpc;

	if (msg != NULL && msglen > 0) {
		msg[0] = '\0';
	}
	if (c == NULL || svc == NULL || method == NULL || req == NULL || resp == NULL) {
		return call_error(msg, msglen, AMLRISK_EINVAL, "rpc_client_call: missing argument");
	}
	memset(&cr, 0, offsetof(call_req, stack));
	memset(&cr.payload, 0, sizeof(cr) - offsetof(call_req, payload));
	cr.resp = resp;
	cr.msg = msg;
	cr.msglen = msglen;
	atomic_fetch_add(&c->calls, 1);
	if ((grpc = req_prepare(c, &cr, svc, method, req, timeout_ms)) == AML__V1__STATUS_CODE__OK) {
		grpc = coalesce ? call_coalesced(c, &cr) : call_alone(c, &cr);
	}
	rpc_packed_release(&cr.payload);
	return grpc;
}

int
rpc_client_call(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                const ProtobufCMessage *req, ProtobufCMessage **resp, int timeout_ms, char *msg,
                size_t msglen)
{
	return client_call(c, svc, method, req, resp, timeout_ms, msg, msglen, false);
}

int
rpc_client_call_coalesced(rpc_client *c, const ProtobufCServiceDescriptor *svc,
                          const char *method, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, int timeout_ms, char *msg, size_t msglen)
{
	return client_call(c, svc, method, req, resp, timeout_ms, msg, msglen, true);
}

void
rpc_client_stats(const rpc_client *c, rpc_client_stats_t *out)
{
	out->calls = atomic_load(&c->calls);
	out->exchanges = atomic_load(&c->exchanges);
	out->batches = atomic_load(&c->batches);
	out->retries = atomic_load(&c->retries);
}
