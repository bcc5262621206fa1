/* rpc_server.c - the RPC server: a fixed set of NNG rep contexts, each a small
 * aio state machine, feeding a bounded backlog served by a fixed worker pool.
 * Tuned for many short calls in flight; long ones are answered later by their owner.
 * This file holds the contexts, the backlog, the workers and the server's
 * lifecycle; what happens to one call, from its bytes to its answer, is in
 * rpc_call.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "rpc_server_impl.h"

#include <nng/protocol/reqrep0/rep.h>

#define WORKERS_DEFAULT  4
#define WORKERS_MAX      256
#define CONTEXTS_DEFAULT 128
#define CONTEXTS_MAX     4096
#define BACKLOG_DEFAULT  64
#define BACKLOG_MAX      65536
#define ONCE_DEFAULT     256
#define ONCE_MAX         65536

static void
server_idle_add(rpc_server *srv)
{
	pthread_mutex_lock(&srv->mtx);
	srv->n_idle++;
	pthread_cond_broadcast(&srv->idle_cv);
	pthread_mutex_unlock(&srv->mtx);
}

void
rpc_srv_arm(rpc_call *call, call_state next)
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

void
rpc_srv_set_state(rpc_call *call, call_state st)
{
	pthread_mutex_lock(&call->mtx);
	call->state = st;
	pthread_mutex_unlock(&call->mtx);
}

bool
rpc_srv_queue_push(rpc_server *srv, rpc_call *call)
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
		rpc_srv_call_run(call);
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
			rpc_srv_arm(call, CALL_BACKOFF);
			return;
		}
		msg = nng_aio_get_msg(call->aio);
		nng_aio_set_msg(call->aio, NULL);
		rpc_srv_call_start(call, msg);
		return;
	case CALL_BACKOFF:
		rpc_srv_arm(call, CALL_RECV);
		return;
	case CALL_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(call->aio));
			nng_aio_set_msg(call->aio, NULL);
		}
		rpc_srv_arm(call, CALL_RECV);
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
	srv->observe = o->observe;
	srv->observe_arg = o->observe_arg;
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
	if (srv->n_services == RPC_SERVICES_MAX) {
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
		rpc_srv_arm(&srv->calls[i], CALL_RECV);
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
