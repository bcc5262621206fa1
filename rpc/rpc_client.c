/* rpc_client.c - the RPC client: one req socket whose dialer redials by itself,
 * one NNG context per call in flight so calling threads never wait on each
 * other. Built for the gateway's thread pool: thousands of small synchronous
 * calls a second, so the contexts, their aios and the request messages are
 * kept in a small pool and reused instead of made and freed per call. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
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
	    strlen(url) >= sizeof(c->url) ||
	    (o->caller != NULL && strlen(o->caller) >= sizeof(c->caller))) {
		return AMLRISK_EINVAL;
	}
	memcpy(c->url, url, strlen(url) + 1);
	c->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : TIMEOUT_DEFAULT_MS;
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

	nng_aio_set_msg(aio, out);
	nng_aio_set_timeout(aio, timeout_ms);
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

/* Decodes reply envelope in (borrowed) for request id; on OK unpacks the
 * payload as m's output into *resp. Returns a gRPC code, msg set otherwise. */
static int
call_decode(nng_msg *in, uint64_t id, const ProtobufCMethodDescriptor *m, const char *method,
            ProtobufCMessage **resp, char *msg, size_t msglen)
{
	Aml__V1__RpcResponse *r;
	ProtobufCMessage *out;
	int grpc;

	r = (Aml__V1__RpcResponse *)protobuf_c_message_unpack(
	        &aml__v1__rpc_response__descriptor, NULL, nng_msg_len(in), nng_msg_body(in));
	if (r == NULL) {
		return call_error(msg, msglen, AMLRISK_EINTERNAL, "%s: malformed reply envelope",
		                  method);
	}
	/* id 0 is a server that could not read our envelope (oversize, malformed):
	 * NNG matched the reply to this call already, so its status stands */
	if (r->request_id != id && (r->request_id != 0 || r->status == AML__V1__STATUS_CODE__OK)) {
		grpc = call_error(msg, msglen, AMLRISK_EINTERNAL,
		                  "%s: reply for request %llu, expected %llu", method,
		                  (unsigned long long)r->request_id, (unsigned long long)id);
	} else if (r->status != AML__V1__STATUS_CODE__OK) {
		grpc = (r->status > 0 && r->status <= GRPC_MAX) ? (int)r->status
		                                                : AML__V1__STATUS_CODE__UNKNOWN;
		if (msg != NULL && msglen > 0) {
			snprintf(msg, msglen, "%s",
			         r->message[0] != '\0' ? r->message : amlrisk_grpc_name(grpc));
		}
	} else if ((out = protobuf_c_message_unpack(m->output, NULL, r->payload.len,
	                                            r->payload.data)) == NULL) {
		grpc = call_error(msg, msglen, AMLRISK_EINTERNAL,
		                  "%s: reply payload is not a valid %s", method, m->output->name);
	} else {
		*resp = out;
		grpc = AML__V1__STATUS_CODE__OK;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return grpc;
}

int
rpc_client_call(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                const ProtobufCMessage *req, ProtobufCMessage **resp, int timeout_ms, char *msg,
                size_t msglen)
{
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	const ProtobufCMethodDescriptor *m;
	uint8_t stack[RPC_STACK_PAYLOAD];
	rpc_packed payload = {{0, NULL}, NULL};
	char full[RPC_METHOD_MAX];
	nng_msg *out = NULL, *in = NULL;
	call_slot *slot = NULL;
	bool slot_idle = true; /* false once the exchange failed: the slot is closed */
	nng_time deadline;
	uint64_t id;
	int grpc, err, rv, n;

	if (msg != NULL && msglen > 0) {
		msg[0] = '\0';
	}
	if (c == NULL || svc == NULL || method == NULL || req == NULL || resp == NULL) {
		return call_error(msg, msglen, AMLRISK_EINVAL, "rpc_client_call: missing argument");
	}
	if ((m = protobuf_c_service_descriptor_get_method_by_name(svc, method)) == NULL) {
		return call_error(msg, msglen, AMLRISK_EINVAL, "%s has no method %.64s", svc->name,
		                  method);
	}
	if (req->descriptor != m->input) {
		return call_error(msg, msglen, AMLRISK_EINVAL, "%s/%s takes %s, not %s", svc->name,
		                  m->name, m->input->name, req->descriptor->name);
	}
	n = snprintf(full, sizeof(full), "%s/%s", svc->name, m->name);
	if (n < 0 || (size_t)n >= sizeof(full)) {
		return call_error(msg, msglen, AMLRISK_EINVAL, "method name too long");
	}
	timeout_ms = timeout_ms > 0 ? timeout_ms : c->timeout_ms;
	deadline = nng_clock() + (nng_time)timeout_ms;

	if ((err = rpc_packed_make(&payload, req, stack, sizeof(stack), c->max_msg)) != 0) {
		grpc = call_error(msg, msglen, err, "%s: request: %s", full, amlrisk_strerror(err));
		goto out;
	}
	while ((id = atomic_fetch_add(&c->next_id, 1)) == 0) {
		/* 0 is what a server answers when it could not read the id */
	}
	env.request_id = id;
	env.method = full;
	env.timeout_ms = (uint32_t)timeout_ms;
	env.n_metadata = c->n_md;
	env.metadata = c->md;
	env.payload = payload.bin;
	if ((rv = slot_get(c, &slot)) != 0) {
		grpc = call_error(msg, msglen, rpc_err_from_nng(rv), "%s: %s", full,
		                  nng_strerror(rv));
		goto out;
	}
	if ((err = request_pack(&out, slot, &env.base, c->max_msg)) != 0) {
		grpc = call_error(msg, msglen, err, "%s: request of %zu bytes: %s", full,
		                  protobuf_c_message_get_packed_size(&env.base),
		                  amlrisk_strerror(err));
		goto out;
	}
	grpc = call_exchange(c, slot->ctx, slot->aio, out, &in, deadline, timeout_ms, full, msg,
	                     msglen);
	out = NULL; /* the exchange took it */
	slot_idle = grpc == AML__V1__STATUS_CODE__OK;
	if (grpc == AML__V1__STATUS_CODE__OK) {
		grpc = call_decode(in, id, m, full, resp, msg, msglen);
		if (nng_msg_len(in) <= SPARE_MAX) {
			slot->spare = in; /* decoded and freed: only its buffer is reused */
			in = NULL;
		}
	}
out:
	if (slot != NULL) {
		/* a reply received (or no exchange) leaves the context idle; a failed
		 * or timed-out exchange closes it */
		slot_put(c, slot, slot_idle);
	}
	nng_msg_free(in);
	nng_msg_free(out);
	rpc_packed_release(&payload);
	return grpc;
}
