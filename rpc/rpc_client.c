/* rpc_client.c - the RPC client: one req socket whose dialer redials by itself,
 * and the lone call (rpc_client_call): one NNG context per call in flight, so
 * calling threads never wait on each other; the contexts, their aios and the
 * request messages are kept in a small pool and reused instead of made and
 * freed per call. Pipe events tell whether a server is connected, so a call
 * with none fails at once. Coalesced and asynchronous calls are in rpc_coalesce.c. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_err.h"
#include "rpc_client_impl.h"

#include <nng/protocol/reqrep0/req.h>

/* Writes the message of a local failure into msg and returns err's gRPC code. */
int
rpc_cli_error(char *msg, size_t msglen, int err, const char *fmt, ...)
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
uint64_t
rpc_cli_next_id(rpc_client *c)
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
	/* NNG runs REM_POST for every pipe that had ADD_PRE (not ADD_POST), so
	 * those two count; ADD_POST, the pipe ready, wakes waiting calls */
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		atomic_fetch_add(&c->pipes, 1);
	} else if (ev == NNG_PIPE_EV_ADD_POST) {
		pthread_mutex_lock(&c->conn_mtx);
		atomic_store(&c->first_err, 0); /* a later loss is "connection lost" */
		atomic_store(&c->settled, true);
		pthread_cond_broadcast(&c->conn_cv);
		pthread_mutex_unlock(&c->conn_mtx);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&c->pipes, 1);
	}
}

/* The first connection attempt, made synchronously so that its end is known
 * (a refused or failed handshake as well as a connection); then the dialer
 * redials in the background. A server that never answers the attempt (a
 * black hole) keeps this thread until the client is destroyed or the
 * kernel gives up; calls meanwhile wait for their start deadline only. */
static void *
dial_main(void *arg)
{
	rpc_client *c = arg;
	int rv = nng_dialer_start(c->dialer, 0);

	pthread_mutex_lock(&c->conn_mtx);
	atomic_store(&c->first_err, rv);
	atomic_store(&c->settled, true);
	pthread_cond_broadcast(&c->conn_cv);
	pthread_mutex_unlock(&c->conn_mtx);
	if (rv != 0 && rv != NNG_ECLOSED) {
		(void)nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK);
	}
	return NULL;
}

static int
client_setup(rpc_client *c, const char *url, const rpc_client_opts *o)
{
	size_t recv_max;
	int rv, err;

	if (o->timeout_ms < 0 || o->start_timeout_ms < 0 || o->send_timeout_ms < 0 ||
	    o->reconnect_min_ms < 0 || o->reconnect_max_ms < 0 || o->coalesce_batches < 0 ||
	    o->coalesce_batches > COALESCE_BATCHES_MAX || o->coalesce_queue < 0 ||
	    o->coalesce_queue > COALESCE_QUEUE_MAX || strlen(url) >= sizeof(c->url) ||
	    (o->caller != NULL && strlen(o->caller) >= sizeof(c->caller)) ||
	    (o->secret != NULL && strlen(o->secret) > sizeof(c->secret))) {
		return AMLRISK_EINVAL;
	}
	memcpy(c->url, url, strlen(url) + 1);
	c->timeout_ms = o->timeout_ms != 0 ? o->timeout_ms : TIMEOUT_DEFAULT_MS;
	c->start_ms = o->start_timeout_ms != 0 ? o->start_timeout_ms : START_DEFAULT_MS;
	c->send_ms = o->send_timeout_ms;
	c->co_max = o->coalesce_batches != 0 ? o->coalesce_batches : COALESCE_BATCHES_DEFAULT;
	c->co_queue_max = o->coalesce_queue != 0 ? o->coalesce_queue : COALESCE_QUEUE_DEFAULT;
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
	if (o->secret != NULL) {
		c->auth.len = strlen(o->secret);
		c->auth.data = memcpy(c->secret, o->secret, c->auth.len);
	}
	if (rpc_url_is_tls(url) &&
	    (err = rpc_tls_config_make(&c->tls, 0, url, o->tls_cert_key_file, o->tls_ca_file,
	                               o->tls_server_name)) != 0) {
		return err;
	}
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		return rpc_err_from_nng(rv);
	}
	c->sock_open = true;
	recv_max = c->max_msg + RPC_MSG_SLACK;
	/* never resend on our own: a request that may have run is not repeated, a
	 * lost connection ends the call with UNAVAILABLE instead (NNG 1.5's req
	 * then fails the receive with ECONNRESET rather than queueing a resend) */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, recv_max)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, c)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, c)) != 0 ||
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
	if ((err = rpc_co_init(c)) != AMLRISK_OK) {
		return err;
	}
	if (pthread_create(&c->dial_thread, NULL, dial_main, c) != 0) {
		return AMLRISK_ENOMEM;
	}
	c->dial_started = true;
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
	atomic_init(&c->settled, false);
	atomic_init(&c->first_err, 0);
	if (pthread_mutex_init(&c->pool_mtx, NULL) != 0) {
		free(c);
		return AMLRISK_ENOMEM;
	}
	c->pool_mtx_init = true;
	if (pthread_mutex_init(&c->conn_mtx, NULL) != 0 ||
	    pthread_cond_init(&c->conn_cv, NULL) != 0) {
		rpc_client_destroy(c);
		return AMLRISK_ENOMEM;
	}
	c->conn_init = true;
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
	rpc_co_fini(c);
	if (c->co_mtx_init) {
		pthread_mutex_destroy(&c->co_mtx);
	}
	if (c->sock_open) {
		nng_close(c->sock); /* the dialer goes with it, ending a first attempt */
	}
	if (c->dial_started) {
		pthread_join(c->dial_thread, NULL);
	}
	if (c->conn_init) {
		pthread_cond_destroy(&c->conn_cv);
		pthread_mutex_destroy(&c->conn_mtx);
	}
	if (c->tls != NULL) {
		nng_tls_config_free(c->tls);
	}
	memset(c->secret, 0, sizeof(c->secret));
	free(c);
}

int
rpc_cli_send_error(rpc_client *c, int rv, const char *label, int timeout_ms, char *msg,
                   size_t msglen)
{
	if (rv == NNG_ETIMEDOUT && atomic_load(&c->pipes) > 0) {
		return rpc_cli_error(msg, msglen, AMLRISK_ETIMEDOUT,
		                     "%s: connected to %s but could not send within %d ms", label,
		                     c->url, timeout_ms);
	}
	if (rv == NNG_ETIMEDOUT) {
		return rpc_cli_error(msg, msglen, AMLRISK_EUNAVAIL, "%s: no server at %s within %d ms",
		                     label, c->url, timeout_ms);
	}
	return rpc_cli_error(msg, msglen, rv == NNG_ECLOSED ? AMLRISK_ECANCELED : rpc_err_from_nng(rv),
	                     "%s: send to %s: %s", label, c->url, nng_strerror(rv));
}

int
rpc_cli_recv_error(rpc_client *c, int rv, const char *label, int timeout_ms, char *msg,
                   size_t msglen)
{
	switch (rv) {
	case NNG_ETIMEDOUT:
		return rpc_cli_error(msg, msglen, AMLRISK_ETIMEDOUT,
		                     "%s: no answer from %s within %d ms", label, c->url, timeout_ms);
	case NNG_ECONNRESET:
		return rpc_cli_error(msg, msglen, AMLRISK_EUNAVAIL,
		                     "%s: connection to %s lost during the call", label, c->url);
	case NNG_ECLOSED:
		return rpc_cli_error(msg, msglen, AMLRISK_ECANCELED, "%s: client closed", label);
	default:
		return rpc_cli_error(msg, msglen, rpc_err_from_nng(rv), "%s: receive from %s: %s",
		                     label, c->url, nng_strerror(rv));
	}
}

nng_duration
rpc_cli_left(nng_time deadline)
{
	nng_time now = nng_clock();

	return now < deadline ? (nng_duration)(deadline - now) : NNG_DURATION_ZERO;
}

nng_duration
rpc_cli_send_left(const rpc_client *c, nng_time start_deadline, int start_ms, int *ms)
{
	nng_duration left = rpc_cli_left(start_deadline);
	int bound = start_ms;

	if (c->send_ms > 0 && c->send_ms < left) {
		left = c->send_ms;
		bound = c->send_ms;
	}
	if (ms != NULL)
		*ms = bound;
	return left;
}

int
rpc_cli_connected(rpc_client *c, nng_time deadline, bool wait, const char *label, char *msg,
                  size_t msglen)
{
	int err;

	if (atomic_load(&c->pipes) > 0) {
		return AML__V1__STATUS_CODE__OK;
	}
	if (wait || !atomic_load(&c->settled)) {
		pthread_mutex_lock(&c->conn_mtx);
		while (atomic_load(&c->pipes) == 0 && (wait || !atomic_load(&c->settled))) {
			nng_time now = nng_clock();
			struct timespec ts;

			if (now >= deadline) {
				break;
			}
			/* CLOCK_REALTIME as the condition variable's default clock */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)((deadline - now) / 1000);
			ts.tv_nsec += (long)((deadline - now) % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c->conn_cv, &c->conn_mtx, &ts);
		}
		pthread_mutex_unlock(&c->conn_mtx);
		if (atomic_load(&c->pipes) > 0) {
			return AML__V1__STATUS_CODE__OK;
		}
	}
	atomic_fetch_add(&c->unconnected, 1);
	err = atomic_load(&c->first_err);
	if (!atomic_load(&c->settled)) {
		return rpc_cli_error(msg, msglen, AMLRISK_EUNAVAIL,
		                     "%s: not connected to %s: no answer to the connection attempt",
		                     label, c->url);
	}
	return rpc_cli_error(msg, msglen, AMLRISK_EUNAVAIL, "%s: not connected to %s%s%s", label,
	                     c->url, err != 0 ? ": " : " (connection lost; redialling)",
	                     err != 0 ? nng_strerror(err) : "");
}

int
rpc_client_connected(const rpc_client *c)
{
	return c != NULL && atomic_load(&c->pipes) > 0;
}

/* Sends out (ownership taken) on ctx by cr's start deadline and waits for the
 * reply (*in, owned by the caller on OK) until its deadline. Returns a gRPC
 * code, msg set on failure; cr->lost when the call was sent and the
 * connection then went. */
static int
call_exchange(rpc_client *c, call_req *cr, nng_ctx ctx, nng_aio *aio, nng_msg *out, nng_msg **in)
{
	int rv, send_ms;

	nng_aio_set_msg(aio, out);
	nng_aio_set_timeout(aio, rpc_cli_send_left(c, cr->start_deadline, cr->start_ms, &send_ms));
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(aio)); /* a failed send leaves it with us */
		nng_aio_set_msg(aio, NULL);
		return rpc_cli_send_error(c, rv, cr->full, send_ms, cr->msg, cr->msglen);
	}
	nng_aio_set_timeout(aio, rpc_cli_left(cr->deadline));
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		cr->lost = rv == NNG_ECONNRESET;
		return rpc_cli_recv_error(c, rv, cr->full, cr->timeout_ms, cr->msg, cr->msglen);
	}
	*in = nng_aio_get_msg(aio);
	nng_aio_set_msg(aio, NULL);
	return AML__V1__STATUS_CODE__OK;
}

/* Packs envelope env, n bytes packed (rpc_cli_prepare checked them against
 * max_msg), into *out (the caller's on success), reusing s's spare message
 * when there is one. */
static int
request_pack(nng_msg **out, call_slot *s, const ProtobufCMessage *env, size_t n)
{
	nng_msg *m;
	int rv;

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

int
rpc_cli_decode(const Aml__V1__RpcReply *r, uint64_t id, const ProtobufCMethodDescriptor *m,
               const char *method, ProtobufCMessage **resp, char *msg, size_t msglen)
{
	ProtobufCMessage *out = NULL;
	char why[256];
	int grpc, err;

	/* id 0 is a server that could not read our envelope (oversize, malformed,
	 * unauthenticated): NNG matched the reply to this call already, so its
	 * status stands */
	if (r->request_id != id && (r->request_id != 0 || r->status == AML__V1__STATUS_CODE__OK)) {
		return rpc_cli_error(msg, msglen, AMLRISK_EINTERNAL,
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
	err = rpc_decode(m->output, r->payload.data, r->payload.len, &rpc_reply_limits, &out, why,
	                 sizeof(why));
	if (err != AMLRISK_OK) {
		return rpc_cli_error(msg, msglen, AMLRISK_EINTERNAL, "%s: reply payload: %s",
		                     method, why);
	}
	*resp = out;
	return AML__V1__STATUS_CODE__OK;
}

int
rpc_cli_unpack(nng_msg *in, Aml__V1__RpcResponse **r, const char *method, char *msg, size_t msglen)
{
	char why[256];

	if (rpc_decode_response(nng_msg_body(in), nng_msg_len(in), r, why, sizeof(why)) !=
	    AMLRISK_OK) {
		return rpc_cli_error(msg, msglen, AMLRISK_EINTERNAL,
		                     "%s: malformed reply envelope: %s", method, why);
	}
	return AML__V1__STATUS_CODE__OK;
}

void
rpc_cli_envelope(const rpc_client *c, Aml__V1__RpcRequest *env)
{
	env->auth = c->auth;
}

void
rpc_cli_timeouts(call_req *cr)
{
	nng_duration left = rpc_cli_left(cr->deadline), start = rpc_cli_left(cr->start_deadline);

	/* what is left, never 0 (that would mean none) */
	cr->call.timeout_ms = left > 0 ? (uint32_t)left : 1;
	cr->call.start_timeout_ms = start > 0 ? (uint32_t)start : 1;
}

/* A fresh call id for a write call (random: unique across clients and runs). */
static void
call_id_make(call_req *cr)
{
	for (size_t i = 0; i < CALL_ID_LEN; i += 4) {
		uint32_t r = nng_random();

		memcpy(cr->call_id + i, &r, 4);
	}
	cr->call.call_id.data = cr->call_id;
	cr->call.call_id.len = CALL_ID_LEN;
}

int
rpc_cli_prepare(rpc_client *c, call_req *cr, const ProtobufCServiceDescriptor *svc,
                const char *method, const ProtobufCMessage *req, const rpc_call_opts *o)
{
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	nng_time now;
	int err, n;

	if ((cr->m = protobuf_c_service_descriptor_get_method_by_name(svc, method)) == NULL) {
		return rpc_cli_error(cr->msg, cr->msglen, AMLRISK_EINVAL, "%s has no method %.64s",
		                     svc->name, method);
	}
	if (req->descriptor != cr->m->input) {
		return rpc_cli_error(cr->msg, cr->msglen, AMLRISK_EINVAL, "%s/%s takes %s, not %s",
		                     svc->name, cr->m->name, cr->m->input->name,
		                     req->descriptor->name);
	}
	n = snprintf(cr->full, sizeof(cr->full), "%s/%s", svc->name, cr->m->name);
	if (n < 0 || (size_t)n >= sizeof(cr->full)) {
		return rpc_cli_error(cr->msg, cr->msglen, AMLRISK_EINVAL, "method name too long");
	}
	cr->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : c->timeout_ms;
	cr->start_ms = o->start_ms > 0 ? o->start_ms : c->start_ms;
	if (cr->start_ms > cr->timeout_ms) {
		cr->start_ms = cr->timeout_ms;
	}
	now = nng_clock();
	cr->deadline = now + (nng_time)cr->timeout_ms;
	cr->start_deadline = now + (nng_time)cr->start_ms;
	if ((err = rpc_packed_make(&cr->payload, req, cr->stack, sizeof(cr->stack), c->max_msg)) !=
	    0) {
		return rpc_cli_error(cr->msg, cr->msglen, err, "%s: request: %s", cr->full,
		                     amlrisk_strerror(err));
	}
	aml__v1__rpc_call__init(&cr->call);
	cr->call.request_id = rpc_cli_next_id(c);
	cr->call.method = cr->full;
	cr->call.timeout_ms = (uint32_t)cr->timeout_ms;
	cr->call.start_timeout_ms = (uint32_t)cr->start_ms;
	cr->call.n_metadata = c->n_md;
	cr->call.metadata = c->md;
	cr->call.payload = cr->payload.bin;
	if (o->once) {
		call_id_make(cr);
	}
	env.call = &cr->call;
	rpc_cli_envelope(c, &env);
	cr->size = protobuf_c_message_get_packed_size(&env.base);
	if (cr->size > c->max_msg) {
		return rpc_cli_error(cr->msg, cr->msglen, AMLRISK_ETOOBIG,
		                     "%s: request of %zu bytes: %s", cr->full, cr->size,
		                     amlrisk_strerror(AMLRISK_ETOOBIG));
	}
	return AML__V1__STATUS_CODE__OK;
}

/* Sends cr's call alone and waits for its reply; decodes it into
 * *cr->resp. Returns a gRPC code, cr->msg set otherwise. */
static int
call_alone(rpc_client *c, call_req *cr)
{
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcResponse *r = NULL;
	nng_msg *out = NULL, *in = NULL;
	call_slot *slot = NULL;
	bool slot_idle = true; /* false once the exchange failed: the slot is closed */
	int grpc, err, rv;

	atomic_fetch_add(&c->exchanges, 1);
	if ((rv = slot_get(c, &slot)) != 0) {
		return rpc_cli_error(cr->msg, cr->msglen, rpc_err_from_nng(rv), "%s: %s", cr->full,
		                     nng_strerror(rv));
	}
	env.call = &cr->call;
	rpc_cli_envelope(c, &env);
	rpc_cli_timeouts(cr); /* time may have passed waiting for a connection */
	cr->size = protobuf_c_message_get_packed_size(&env.base);
	if (cr->size > c->max_msg) {
		err = AMLRISK_ETOOBIG;
	} else {
		err = request_pack(&out, slot, &env.base, cr->size);
	}
	if (err != 0) {
		grpc = rpc_cli_error(cr->msg, cr->msglen, err, "%s: request of %zu bytes: %s",
		                     cr->full, cr->size, amlrisk_strerror(err));
		goto out;
	}
	grpc = call_exchange(c, cr, slot->ctx, slot->aio, out, &in);
	slot_idle = grpc == AML__V1__STATUS_CODE__OK;
	if (grpc == AML__V1__STATUS_CODE__OK &&
	    (grpc = rpc_cli_unpack(in, &r, cr->full, cr->msg, cr->msglen)) ==
	            AML__V1__STATUS_CODE__OK) {
		grpc = rpc_cli_decode(r->reply, cr->call.request_id, cr->m, cr->full, cr->resp,
		                      cr->msg, cr->msglen);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	if (in != NULL && nng_msg_len(in) <= SPARE_MAX) {
		slot->spare = in; /* unpacked: only its buffer is reused */
		in = NULL;
	}
out:
	/* a reply received (or no exchange) leaves the context idle; a failed or
	 * timed-out exchange closes it */
	slot_put(c, slot, slot_idle);
	nng_msg_free(in);
	return grpc;
}

int
rpc_client_call_opts(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                     const ProtobufCMessage *req, ProtobufCMessage **resp, const rpc_call_opts *o,
                     char *msg, size_t msglen)
{
	static const rpc_call_opts defaults = {0};
	call_req cr;
	int grpc, retries;

	if (msg != NULL && msglen > 0) {
		msg[0] = '\0';
	}
	if (c == NULL || svc == NULL || method == NULL || req == NULL || resp == NULL) {
		return rpc_cli_error(msg, msglen, AMLRISK_EINVAL, "rpc_client_call: missing argument");
	}
	if (o == NULL) {
		o = &defaults;
	}
	retries = o->once && o->retries > 0 ? o->retries : 0;
	rpc_cli_req_init(&cr, msg, msglen);
	cr.resp = resp;
	atomic_fetch_add(&c->calls, 1);
	if ((grpc = rpc_cli_prepare(c, &cr, svc, method, req, o)) != AML__V1__STATUS_CODE__OK) {
		goto out;
	}
	grpc = rpc_cli_connected(c, cr.start_deadline, false, cr.full, msg, msglen);
	while (grpc == AML__V1__STATUS_CODE__OK) {
		grpc = call_alone(c, &cr);
		if (!(grpc == AML__V1__STATUS_CODE__UNAVAILABLE && cr.lost && retries-- > 0)) {
			break;
		}
		/* the call may have run: the same call id again, once a connection
		 * is back, and the server answers it from that first execution */
		atomic_fetch_add(&c->retries, 1);
		cr.lost = false;
		cr.start_deadline = nng_clock() + (nng_time)cr.start_ms;
		if (cr.start_deadline > cr.deadline) {
			cr.start_deadline = cr.deadline;
		}
		cr.call.request_id = rpc_cli_next_id(c);
		grpc = rpc_cli_connected(c, cr.start_deadline, true, cr.full, msg, msglen);
	}
out:
	rpc_packed_release(&cr.payload);
	return grpc;
}

int
rpc_client_call(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                const ProtobufCMessage *req, ProtobufCMessage **resp, int timeout_ms, char *msg,
                size_t msglen)
{
	rpc_call_opts o = {.timeout_ms = timeout_ms};

	return rpc_client_call_opts(c, svc, method, req, resp, &o, msg, msglen);
}

void
rpc_cli_req_init(call_req *cr, char *msg, size_t msglen)
{
	/* all but the payload's stack buffer, which packing fills as needed */
	memset(cr, 0, offsetof(call_req, stack));
	cr->msg = msg;
	cr->msglen = msglen;
}

void
rpc_client_stats(const rpc_client *c, rpc_client_stats_t *out)
{
	out->calls = atomic_load(&c->calls);
	out->exchanges = atomic_load(&c->exchanges);
	out->batches = atomic_load(&c->batches);
	out->retries = atomic_load(&c->retries);
	out->unconnected = atomic_load(&c->unconnected);
}
