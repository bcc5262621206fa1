/* rpc_coalesce.c - coalesced calls. rpc_client_call_async() queues a call;
 * a client has coalesce_batches batch slots, each an NNG context with a
 * callback aio. An idle slot takes the queue (up to RPC_BATCH_MAX calls and
 * max_msg bytes) and sends it as one exchange; its callback answers every
 * call, then takes what queued meanwhile or goes idle. No thread waits per
 * call: under load, one exchange and its NNG hand-offs serve many calls. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_err.h"
#include "rpc_client_impl.h"

/* One exchange's worth of calls, and the context that carries it. */
typedef struct batch_slot {
	rpc_client *c;
	nng_ctx ctx;
	bool ctx_open; /* closed after a failed exchange, reopened on the next send */
	nng_aio *aio;
	bool receiving; /* the send is done, the reply is awaited */
	call_req *members[RPC_BATCH_MAX];
	size_t n;
	uint64_t id;             /* the exchange's request id */
	nng_time deadline;       /* the latest of the members' */
	nng_time start_deadline; /* the latest of the members' start deadlines */
	int timeout_ms;          /* that member's, for messages */
	int start_ms;
	int send_ms; /* what the send may wait (start_ms, or less: rpc_cli_send_left) */
	char label[RPC_METHOD_MAX];
	struct batch_slot *next; /* in c->co_free */
} batch_slot;

/* Runs cr's callback with its outcome and frees it. */
static void
call_finish(call_req *cr)
{
	rpc_done_fn done = cr->done;
	void *arg = cr->arg;

	done(arg, cr->grpc, cr->grpc == AML__V1__STATUS_CODE__OK ? cr->out : NULL, cr->msgbuf);
	rpc_packed_release(&cr->payload);
	free(cr);
}

/* Moves queued calls into s (none if the queue is empty): a call refused in
 * a batch goes alone, others up to RPC_BATCH_MAX and max_msg bytes. Under
 * c->co_mtx. Returns how many. */
static size_t
queue_take(rpc_client *c, batch_slot *s)
{
	size_t bytes = 0;

	s->n = 0;
	while (c->co_head != NULL && s->n < RPC_BATCH_MAX) {
		call_req *h = c->co_head;

		if (s->n > 0 && (h->alone || bytes + h->size + 16 > c->max_msg)) {
			break;
		}
		bytes += h->size + 16; /* its tag and length in the batch */
		s->members[s->n++] = h;
		c->co_len--;
		if ((c->co_head = h->next) == NULL) {
			c->co_tail = NULL;
		}
		h->next = NULL;
		if (h->alone) {
			break;
		}
	}
	return s->n;
}

/* Sends s's members as one exchange (a lone call as itself). Returns OK, or
 * a gRPC code with the message in msg when nothing could be sent. */
static int
slot_send(batch_slot *s, char *msg, size_t msglen)
{
	rpc_client *c = s->c;
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcCall *calls[RPC_BATCH_MAX];
	nng_msg *out = NULL;
	int err, rv;

	s->deadline = s->start_deadline = 0;
	for (size_t i = 0; i < s->n; i++) {
		call_req *cr = s->members[i];

		/* the server's deadlines are what is left of the call's, not its
		 * whole timeout: some of it went by in the queue */
		rpc_cli_timeouts(cr);
		calls[i] = &cr->call;
		if (cr->deadline > s->deadline) { /* the batch waits for its latest */
			s->deadline = cr->deadline;
			s->timeout_ms = cr->timeout_ms;
		}
		if (cr->start_deadline > s->start_deadline) {
			s->start_deadline = cr->start_deadline;
			s->start_ms = cr->start_ms;
		}
	}
	rpc_cli_envelope(c, &env);
	if (s->n > 1) {
		env.batch_id = s->id = rpc_cli_next_id(c);
		env.n_calls = s->n;
		env.calls = calls;
		snprintf(s->label, sizeof(s->label), "batch of %zu calls", s->n);
		atomic_fetch_add(&c->batches, 1);
	} else {
		env.call = calls[0];
		s->id = calls[0]->request_id;
		snprintf(s->label, sizeof(s->label), "%s", s->members[0]->full);
	}
	atomic_fetch_add(&c->exchanges, 1);
	if ((err = rpc_msg_pack(&out, &env.base, c->max_msg)) != AMLRISK_OK) {
		return rpc_cli_error(msg, msglen, err, "%s: request: %s", s->label,
		                     amlrisk_strerror(err));
	}
	if (!s->ctx_open) {
		if ((rv = nng_ctx_open(&s->ctx, c->sock)) != 0) {
			nng_msg_free(out);
			return rpc_cli_error(msg, msglen, rpc_err_from_nng(rv), "%s: %s", s->label,
			                     nng_strerror(rv));
		}
		s->ctx_open = true;
	}
	s->receiving = false;
	nng_aio_set_msg(s->aio, out);
	nng_aio_set_timeout(s->aio,
	                    rpc_cli_send_left(c, s->start_deadline, s->start_ms, &s->send_ms));
	nng_ctx_send(s->ctx, s->aio);
	return AML__V1__STATUS_CODE__OK;
}

/* Sets the outcome of s's members from a failure (grpc, msg) or from reply
 * r, and sorts them into fin (answered) and the queue's head (to go again
 * alone). Returns how many went to fin. */
static size_t
slot_settle(batch_slot *s, int grpc, const char *msg, const Aml__V1__RpcResponse *r,
            call_req **fin)
{
	rpc_client *c = s->c;
	char why[512];
	call_req *retry_head = NULL, *retry_last = NULL;
	int n_retry = 0;
	size_t i, nf = 0;

	if (grpc == AML__V1__STATUS_CODE__OK && s->n > 1) {
		grpc = rpc_cli_decode(r->reply, s->id, NULL, s->label, NULL, why, sizeof(why));
		if (grpc == AML__V1__STATUS_CODE__OK && r->n_replies != s->n) {
			grpc = rpc_cli_error(why, sizeof(why), AMLRISK_EINTERNAL,
			                     "%s: reply holds %zu answers", s->label, r->n_replies);
		}
		msg = why;
	}
	for (i = 0; i < s->n; i++) {
		call_req *cr = s->members[i];

		if (grpc != AML__V1__STATUS_CODE__OK) {
			cr->grpc = grpc;
			snprintf(cr->msgbuf, sizeof(cr->msgbuf), "%s", msg);
		} else {
			cr->grpc = rpc_cli_decode(s->n > 1 ? r->replies[i] : r->reply,
			                          cr->call.request_id, cr->m, cr->full, cr->resp,
			                          cr->msgbuf, sizeof(cr->msgbuf));
		}
		if (s->n > 1 && cr->grpc == AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED) {
			/* too big to share a batch, or a full backlog: once more, alone */
			atomic_fetch_add(&c->retries, 1);
			cr->alone = true;
			cr->grpc = AML__V1__STATUS_CODE__OK;
			cr->msgbuf[0] = '\0';
			if (retry_last != NULL) {
				retry_last->next = cr;
			} else {
				retry_head = cr;
			}
			retry_last = cr;
			n_retry++;
		} else {
			fin[nf++] = cr;
		}
	}
	s->n = 0;
	if (retry_head != NULL) {
		/* back at the head, past the queue's bound: they were in it already */
		pthread_mutex_lock(&c->co_mtx);
		c->co_len += n_retry;
		retry_last->next = c->co_head;
		if (c->co_head == NULL) {
			c->co_tail = retry_last;
		}
		c->co_head = retry_head;
		pthread_mutex_unlock(&c->co_mtx);
	}
	return nf;
}

/* Keeps slot s busy while calls are queued: sends the next batch, or goes
 * idle. A batch that cannot be sent is answered at once and the next tried. */
static void
slot_run(batch_slot *s)
{
	rpc_client *c = s->c;
	call_req *fin[RPC_BATCH_MAX];
	char msg[512];
	size_t n, nf, i;
	int grpc;

	for (;;) {
		pthread_mutex_lock(&c->co_mtx);
		if ((n = queue_take(c, s)) == 0) {
			s->next = c->co_free;
			c->co_free = s;
		}
		pthread_mutex_unlock(&c->co_mtx);
		if (n == 0 || (grpc = slot_send(s, msg, sizeof(msg))) == AML__V1__STATUS_CODE__OK) {
			return;
		}
		nf = slot_settle(s, grpc, msg, NULL, fin);
		for (i = 0; i < nf; i++) {
			call_finish(fin[i]);
		}
	}
}

/* The slot's aio callback: the send done, await the reply; the reply (or a
 * failure) in, settle the members, start the next batch, then answer. */
static void
slot_cb(void *arg)
{
	batch_slot *s = arg;
	Aml__V1__RpcResponse *r = NULL;
	call_req *fin[RPC_BATCH_MAX];
	char msg[512] = "";
	size_t nf, i;
	int rv = nng_aio_result(s->aio), grpc;
	nng_msg *in;

	if (!s->receiving && rv == 0) {
		s->receiving = true;
		nng_aio_set_timeout(s->aio, rpc_cli_left(s->deadline));
		nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	if (rv != 0) {
		if (!s->receiving) {
			nng_msg_free(nng_aio_get_msg(s->aio)); /* a failed send leaves it with us */
			nng_aio_set_msg(s->aio, NULL);
			grpc = rpc_cli_send_error(s->c, rv, s->label, s->send_ms, msg,
			                          sizeof(msg));
		} else {
			grpc = rpc_cli_recv_error(s->c, rv, s->label, s->timeout_ms, msg, sizeof(msg));
		}
		/* a request may still be pending: no late reply may meet a later batch */
		nng_ctx_close(s->ctx);
		s->ctx_open = false;
	} else {
		in = nng_aio_get_msg(s->aio);
		nng_aio_set_msg(s->aio, NULL);
		grpc = rpc_cli_unpack(in, &r, s->label, msg, sizeof(msg));
		nng_msg_free(in);
	}
	nf = slot_settle(s, grpc, msg, r, fin);
	if (r != NULL) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	slot_run(s); /* the next batch goes out before the answers are handed out */
	for (i = 0; i < nf; i++) {
		call_finish(fin[i]);
	}
}

int
rpc_co_init(rpc_client *c)
{
	int rv;

	for (int i = 0; i < c->co_max; i++) {
		batch_slot *s = calloc(1, sizeof(*s));

		if (s == NULL) {
			return AMLRISK_ENOMEM;
		}
		s->c = c;
		if ((rv = nng_aio_alloc(&s->aio, slot_cb, s)) != 0) {
			free(s);
			return rpc_err_from_nng(rv);
		}
		s->next = c->co_free;
		c->co_free = s;
	}
	return AMLRISK_OK;
}

void
rpc_co_fini(rpc_client *c)
{
	batch_slot *s;

	/* no call is running (the contract), so every slot is idle */
	while ((s = c->co_free) != NULL) {
		c->co_free = s->next;
		nng_aio_free(s->aio);
		if (s->ctx_open) {
			nng_ctx_close(s->ctx);
		}
		free(s);
	}
}

void
rpc_client_call_async(rpc_client *c, const ProtobufCServiceDescriptor *svc, const char *method,
                      const ProtobufCMessage *req, int timeout_ms, rpc_done_fn done, void *arg)
{
	call_req *cr = malloc(sizeof(*cr));
	rpc_call_opts o = {.timeout_ms = timeout_ms};
	batch_slot *s = NULL;

	if (cr == NULL) {
		done(arg, amlrisk_err_to_grpc(AMLRISK_ENOMEM), NULL, "no memory for the call");
		return;
	}
	rpc_cli_req_init(cr, cr->msgbuf, sizeof(cr->msgbuf));
	cr->resp = &cr->out;
	cr->done = done;
	cr->arg = arg;
	if (c == NULL || svc == NULL || method == NULL || req == NULL) {
		cr->grpc = rpc_cli_error(cr->msgbuf, sizeof(cr->msgbuf), AMLRISK_EINVAL,
		                         "rpc_client_call_async: missing argument");
		call_finish(cr);
		return;
	}
	atomic_fetch_add(&c->calls, 1);
	if ((cr->grpc = rpc_cli_prepare(c, cr, svc, method, req, &o)) != AML__V1__STATUS_CODE__OK ||
	    /* no server: fail at once, unless the first attempt is still under way
	     * (then the send waits for it, by the start deadline) */
	    (atomic_load(&c->settled) &&
	     (cr->grpc = rpc_cli_connected(c, 0, false, cr->full, cr->msgbuf,
	                                   sizeof(cr->msgbuf))) != AML__V1__STATUS_CODE__OK)) {
		call_finish(cr);
		return;
	}
	pthread_mutex_lock(&c->co_mtx);
	if (c->co_len >= c->co_queue_max) {
		pthread_mutex_unlock(&c->co_mtx);
		cr->grpc = rpc_cli_error(cr->msgbuf, sizeof(cr->msgbuf), AMLRISK_EFULL,
		                         "%s: %d calls already wait for an exchange with %s",
		                         cr->full, c->co_queue_max, c->url);
		call_finish(cr);
		return;
	}
	if (c->co_tail != NULL) {
		c->co_tail->next = cr;
	} else {
		c->co_head = cr;
	}
	c->co_tail = cr;
	c->co_len++;
	if ((s = c->co_free) != NULL) {
		c->co_free = s->next;
	}
	pthread_mutex_unlock(&c->co_mtx);
	if (s != NULL) {
		slot_run(s);
	}
}

/* rpc_client_call_coalesced()'s wait for its call. */
typedef struct waiter {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool done;
	int grpc;
	ProtobufCMessage *resp;
	char *msg;
	size_t msglen;
} waiter;

static void
waiter_done(void *arg, int grpc, ProtobufCMessage *resp, const char *msg)
{
	waiter *w = arg;

	pthread_mutex_lock(&w->mtx);
	w->grpc = grpc;
	w->resp = resp;
	if (w->msg != NULL && w->msglen > 0) {
		snprintf(w->msg, w->msglen, "%s", msg);
	}
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

int
rpc_client_call_coalesced(rpc_client *c, const ProtobufCServiceDescriptor *svc,
                          const char *method, const ProtobufCMessage *req,
                          ProtobufCMessage **resp, int timeout_ms, char *msg, size_t msglen)
{
	waiter w = {.msg = msg, .msglen = msglen};

	if (resp == NULL) {
		return rpc_cli_error(msg, msglen, AMLRISK_EINVAL,
		                     "rpc_client_call_coalesced: missing argument");
	}
	pthread_mutex_init(&w.mtx, NULL);
	pthread_cond_init(&w.cv, NULL);
	rpc_client_call_async(c, svc, method, req, timeout_ms, waiter_done, &w);
	pthread_mutex_lock(&w.mtx);
	while (!w.done) {
		pthread_cond_wait(&w.cv, &w.mtx);
	}
	pthread_mutex_unlock(&w.mtx);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mtx);
	if (w.grpc == AML__V1__STATUS_CODE__OK) {
		*resp = w.resp;
	}
	return w.grpc;
}
