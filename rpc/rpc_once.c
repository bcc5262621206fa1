/* rpc_once.c - the write-call memory of rpc_once.h: a fixed array of entries
 * under one mutex, searched linearly. Write calls are rare (a ReloadGraph or
 * RunScore now and then), so a few hundred entries cost microseconds. */
#include "rpc_once.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_err.h"
#include "rpc_decode.h"

struct rpc_once_entry {
	bool used, done;
	uint8_t id[RPC_CALL_ID_MAX];
	size_t len;
	const void *method;
	uint64_t seq; /* when it finished: the oldest finished entry goes first */
	rpc_once_answer kept;
	void *waiters[RPC_ONCE_WAITERS];
	size_t n_waiters;
};

struct rpc_once {
	pthread_mutex_t mtx;
	rpc_once_entry *e;
	int max;
	uint64_t seq;
};

int
rpc_once_create(rpc_once **out, int max)
{
	rpc_once *o = calloc(1, sizeof(*o));

	if (o == NULL || (o->e = calloc((size_t)max, sizeof(*o->e))) == NULL) {
		free(o);
		return AMLRISK_ENOMEM;
	}
	pthread_mutex_init(&o->mtx, NULL);
	o->max = max;
	*out = o;
	return AMLRISK_OK;
}

void
rpc_once_answer_free(rpc_once_answer *a)
{
	free(a->message);
	free(a->payload.data);
	memset(a, 0, sizeof(*a));
}

void
rpc_once_destroy(rpc_once *o)
{
	if (o == NULL) {
		return;
	}
	for (int i = 0; i < o->max; i++) {
		rpc_once_answer_free(&o->e[i].kept);
	}
	pthread_mutex_destroy(&o->mtx);
	free(o->e);
	free(o);
}

/* Copies src into dst (heap); false when out of memory. */
static bool
answer_copy(rpc_once_answer *dst, int grpc, const char *message, const ProtobufCBinaryData *p)
{
	dst->grpc = grpc;
	dst->payload.len = 0;
	dst->payload.data = NULL;
	if ((dst->message = strdup(message != NULL ? message : "")) == NULL) {
		return false;
	}
	if (p != NULL && p->len > 0) {
		if ((dst->payload.data = malloc(p->len)) == NULL) {
			free(dst->message);
			dst->message = NULL;
			return false;
		}
		memcpy(dst->payload.data, p->data, p->len);
		dst->payload.len = p->len;
	}
	return true;
}

/* A free entry, or the oldest finished one emptied; NULL when all run. */
static rpc_once_entry *
entry_take(rpc_once *o)
{
	rpc_once_entry *old = NULL;

	for (int i = 0; i < o->max; i++) {
		rpc_once_entry *e = &o->e[i];

		if (!e->used) {
			return e;
		}
		if (e->done && (old == NULL || e->seq < old->seq)) {
			old = e;
		}
	}
	if (old != NULL) {
		rpc_once_answer_free(&old->kept);
	}
	return old;
}

rpc_once_verdict
rpc_once_begin(rpc_once *o, const uint8_t *id, size_t len, const void *method, void *waiter,
               rpc_once_entry **entry, rpc_once_answer *answer)
{
	rpc_once_verdict v = RPC_ONCE_FULL;
	rpc_once_entry *e = NULL;

	pthread_mutex_lock(&o->mtx);
	for (int i = 0; i < o->max && e == NULL; i++) {
		if (o->e[i].used && o->e[i].len == len && memcmp(o->e[i].id, id, len) == 0) {
			e = &o->e[i];
		}
	}
	if (e != NULL) {
		if (e->method != method) {
			v = RPC_ONCE_MISMATCH;
		} else if (e->done) {
			v = answer_copy(answer, e->kept.grpc, e->kept.message, &e->kept.payload)
			            ? RPC_ONCE_DONE
			            : RPC_ONCE_NOMEM;
		} else if (e->n_waiters < RPC_ONCE_WAITERS) {
			e->waiters[e->n_waiters++] = waiter;
			v = RPC_ONCE_WAIT;
		}
	} else if ((e = entry_take(o)) != NULL) {
		memset(e, 0, sizeof(*e));
		e->used = true;
		memcpy(e->id, id, len);
		e->len = len;
		e->method = method;
		*entry = e;
		v = RPC_ONCE_RUN;
	}
	pthread_mutex_unlock(&o->mtx);
	return v;
}

void
rpc_once_finish(rpc_once *o, rpc_once_entry *e, int grpc, const char *message,
                const ProtobufCBinaryData *payload, void **waiters, size_t *n)
{
	char big[160];
	bool ok;

	pthread_mutex_lock(&o->mtx);
	if (payload != NULL && payload->len > RPC_ONCE_ANSWER_MAX) {
		snprintf(big, sizeof(big),
		         "this call ran already; its answer of %zu bytes is too large to repeat",
		         payload->len);
		ok = answer_copy(&e->kept, AML__V1__STATUS_CODE__ALREADY_EXISTS, big, NULL);
	} else {
		ok = answer_copy(&e->kept, grpc, message, payload);
	}
	if (!ok) {
		/* a static message: nothing to free */
		e->kept.grpc = AML__V1__STATUS_CODE__INTERNAL;
	}
	e->done = true;
	e->seq = ++o->seq;
	memcpy(waiters, e->waiters, e->n_waiters * sizeof(*waiters));
	*n = e->n_waiters;
	e->n_waiters = 0;
	pthread_mutex_unlock(&o->mtx);
}
