/* rpc_batch_test.c - coalesced calls and batches: concurrent callers share
 * exchanges yet each gets its own answer (or its own error); a batch's calls
 * fail one by one, never together; malformed batches are refused; answers too
 * big for the batch's reply are fetched again alone. */
#include "rpc_testsvc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include "amlrisk_err.h"

enum {
	S_OK = AML__V1__STATUS_CODE__OK,
	S_INVALID = AML__V1__STATUS_CODE__INVALID_ARGUMENT,
	S_NOT_FOUND = AML__V1__STATUS_CODE__NOT_FOUND,
	S_UNIMPLEMENTED = AML__V1__STATUS_CODE__UNIMPLEMENTED,
	S_UNAVAILABLE = AML__V1__STATUS_CODE__UNAVAILABLE,
};

#define THREADS 12
#define CALLS   150

typedef struct caller {
	rpc_client *c;
	int id;
	int wrong; /* answers that were not this caller's own */
} caller;

/* Makes CALLS coalesced calls of three kinds (answered at once, answered
 * later from another thread, failing) and checks every answer is its own. */
static void *
caller_main(void *p)
{
	caller *k = p;
	char text[64], msg[256];

	for (int i = 0; i < CALLS; i++) {
		Rpctest__V1__EchoResponse *r = NULL;
		const char *method = i % 3 == 0 ? "Echo" : i % 3 == 1 ? "Later" : "Fail";
		size_t blob = (size_t)(k->id * 7 + i) % 300;
		int rc;

		snprintf(text, sizeof(text), "caller %d call %d", k->id, i);
		rc = tsvc_call_coalesced(k->c, method, text, blob, 0, TSVC_WAIT_MS, &r, msg,
		                         sizeof(msg));
		if (i % 3 == 2) {
			k->wrong += rc != S_NOT_FOUND || strstr(msg, "not found") == NULL;
		} else if (i % 3 == 1) { /* Later answers the text only */
			k->wrong += rc != S_OK || strcmp(r->text, text) != 0;
		} else {
			k->wrong += rc != S_OK || strcmp(r->text, text) != 0 ||
			            r->blob.len != blob || strcmp(r->caller, "tester") != 0;
		}
		tsvc_free(r);
	}
	return NULL;
}

/* Holds the client's one batch slot with a slow call, so the next callers
 * queue behind it and go out together. */
typedef struct holder {
	rpc_client *c;
	uint32_t sleep_ms;
	int timeout_ms; /* 0: TSVC_WAIT_MS */
	int rc;
} holder;

static void *
holder_main(void *p)
{
	holder *h = p;

	h->rc = tsvc_call_coalesced(h->c, "Echo", "holder", 0, h->sleep_ms,
	                            h->timeout_ms ? h->timeout_ms : TSVC_WAIT_MS, NULL, NULL, 0);
	return NULL;
}

/* One short call to a server that is not there. */
static void *
down_main(void *p)
{
	caller *k = p;
	char msg[256];

	k->wrong = tsvc_call_coalesced(k->c, "Echo", "down", 0, 0, 300, NULL, msg, sizeof(msg)) !=
	           S_UNAVAILABLE;
	return NULL;
}

/* A started test server of kind; bound gets the URL clients use. */
static rpc_server *
serve(const char *kind, const rpc_server_opts *so, char *bound, size_t len)
{
	char url[128];
	rpc_server *srv;

	tsvc_url(url, sizeof(url), kind);
	srv = tsvc_server(url, so);
	tsvc_bound_url(bound, len, url, srv);
	return srv;
}

/* Waits until the client has made want calls (exchanges false) or sent want
 * exchanges (true: the holder's call is in the client's one batch slot, so
 * the calls after it queue). */
static void
wait_stat(rpc_client *c, bool exchanges, unsigned long long want)
{
	rpc_client_stats_t st;

	for (int i = 0; i < 2000; i++) {
		rpc_client_stats(c, &st);
		if ((exchanges ? st.exchanges : st.calls) >= want) {
			return;
		}
		nng_msleep(5);
	}
	fail_msg("only %llu %s, expected %llu", exchanges ? st.exchanges : st.calls,
	         exchanges ? "exchanges out" : "calls started", want);
}

static void
test_alone_when_quiet(void **state)
{
	char bound[128], msg[256];
	rpc_server *srv;
	rpc_client *c;
	rpc_client_stats_t st;
	Rpctest__V1__EchoResponse *r = NULL;

	(void)state;
	srv = serve("ipc", NULL, bound, sizeof(bound));
	c = tsvc_client(bound, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tsvc_call_coalesced(c, "Echo", "one", 10, 0, TSVC_WAIT_MS, &r, msg,
		                                     sizeof(msg)),
		                 S_OK);
		assert_string_equal(r->text, "one");
		tsvc_free(r);
		r = NULL;
	}
	/* errors of a lone call are its own, as with rpc_client_call */
	assert_int_equal(tsvc_call_coalesced(c, "Missing", "x", 0, 0, TSVC_WAIT_MS, NULL, msg,
	                                     sizeof(msg)),
	                 S_UNIMPLEMENTED);
	assert_int_equal(tsvc_call_coalesced(c, "NoSuchMethod", "x", 0, 0, TSVC_WAIT_MS, NULL, msg,
	                                     sizeof(msg)),
	                 S_INVALID);
	rpc_client_stats(c, &st);
	assert_int_equal(st.calls, 7);
	assert_int_equal(st.exchanges, 6); /* the unknown method never left */
	assert_int_equal(st.batches, 0);
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
}

static void
concurrent(const char *kind)
{
	char bound[128];
	rpc_server *srv;
	rpc_client *c;
	rpc_client_stats_t st;
	caller k[THREADS];
	pthread_t th[THREADS], hth;
	holder h = {.sleep_ms = 300};

	srv = serve(kind, NULL, bound, sizeof(bound));
	c = tsvc_client(bound, 0);
	h.c = c;
	/* the holder's call is out: every caller's first call queues behind it */
	assert_int_equal(pthread_create(&hth, NULL, holder_main, &h), 0);
	wait_stat(c, true, 1);
	for (int i = 0; i < THREADS; i++) {
		k[i] = (caller){.c = c, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, caller_main, &k[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(k[i].wrong, 0);
	}
	pthread_join(hth, NULL);
	assert_int_equal(h.rc, S_OK);
	rpc_client_stats(c, &st);
	assert_int_equal(st.calls, 1 + THREADS * CALLS);
	assert_true(st.batches >= 1);
	assert_true(st.exchanges < st.calls);
	assert_int_equal(st.retries, 0);
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
	tsvc_join_later();
}

static void
test_concurrent_ipc(void **state)
{
	(void)state;
	concurrent("ipc");
}

static void
test_concurrent_tcp(void **state)
{
	(void)state;
	concurrent("tcp");
}

/* A batch sent by hand: its calls succeed or fail one by one, in order. */
static void
test_batch_calls_fail_alone(void **state)
{
	static const uint8_t bad[] = {0x0a, 0x50, 'a', 'b'}; /* field 1, 80 bytes; 2 follow */
	Rpctest__V1__EchoRequest echo = RPCTEST__V1__ECHO_REQUEST__INIT;
	Aml__V1__RpcCall calls[6], *cp[6];
	Aml__V1__RpcRequest batch = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcResponse *r;
	Rpctest__V1__EchoResponse *out;
	uint8_t payload[64];
	char bound[128];
	rpc_server *srv;
	static const struct {
		const char *method;
		int status;
	} want[6] = {
	        {"rpctest.v1.TestService/Echo", S_OK},
	        {"rpctest.v1.TestService/NoSuch", S_UNIMPLEMENTED},
	        {"rpctest.v1.TestService/Fail", S_NOT_FOUND},
	        {"rpctest.v1.TestService/Echo", S_INVALID}, /* payload does not decode */
	        {"", S_INVALID},                            /* no method */
	        {"rpctest.v1.TestService/Later", S_OK},
	};

	(void)state;
	srv = serve("ipc", NULL, bound, sizeof(bound));
	echo.text = "in a batch";
	assert_true(rpctest__v1__echo_request__get_packed_size(&echo) <= sizeof(payload));
	size_t plen = rpctest__v1__echo_request__pack(&echo, payload);
	for (int i = 0; i < 6; i++) {
		aml__v1__rpc_call__init(&calls[i]);
		calls[i].request_id = 100 + (uint64_t)i;
		calls[i].method = (char *)want[i].method;
		calls[i].payload.data = i == 3 ? (uint8_t *)bad : payload;
		calls[i].payload.len = i == 3 ? sizeof(bad) : plen;
		cp[i] = &calls[i];
	}
	batch.batch_id = 7;
	batch.n_calls = 6;
	batch.calls = cp;
	r = tsvc_raw_request(bound, &batch);
	assert_int_equal(r->reply->status, S_OK);
	assert_int_equal(r->n_replies, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(r->replies[i]->request_id, 100 + i);
		assert_int_equal(r->replies[i]->status, want[i].status);
		if (want[i].status == S_OK) {
			out = rpctest__v1__echo_response__unpack(NULL, r->replies[i]->payload.len,
			                                         r->replies[i]->payload.data);
			assert_non_null(out);
			assert_string_equal(out->text, "in a batch");
			rpctest__v1__echo_response__free_unpacked(out, NULL);
		} else {
			assert_true(r->replies[i]->message[0] != '\0');
			assert_int_equal(r->replies[i]->payload.len, 0);
		}
	}
	assert_non_null(strstr(r->replies[4]->message, "package.Service/Method"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	rpc_server_destroy(srv);
	tsvc_join_later();
}

/* Batches the server refuses as a whole: too many calls (counted before a
 * byte is unpacked), a call and a batch at once; a call holds no calls. */
static void
test_batch_refused(void **state)
{
	Aml__V1__RpcCall calls[65], *cp[65];
	Aml__V1__RpcRequest batch = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcResponse *r;
	char bound[128];
	rpc_server *srv;

	(void)state;
	srv = serve("ipc", NULL, bound, sizeof(bound));
	for (int i = 0; i < 65; i++) {
		aml__v1__rpc_call__init(&calls[i]);
		calls[i].request_id = 1 + (uint64_t)i;
		calls[i].method = "rpctest.v1.TestService/Echo";
		cp[i] = &calls[i];
	}
	batch.batch_id = 5;
	batch.n_calls = 65;
	batch.calls = cp;
	r = tsvc_raw_request(bound, &batch);
	assert_int_equal(r->reply->status, AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED);
	assert_non_null(strstr(r->reply->message, "more than 64"));
	assert_int_equal(r->n_replies, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* a lone call and a batch in one envelope */
	batch.call = &calls[0];
	batch.n_calls = 2;
	r = tsvc_raw_request(bound, &batch);
	assert_int_equal(r->reply->status, S_INVALID);
	assert_non_null(strstr(r->reply->message, "one call or a batch"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* 64 calls is fine */
	batch.call = NULL;
	batch.n_calls = 64;
	r = tsvc_raw_request(bound, &batch);
	assert_int_equal(r->reply->status, S_OK);
	assert_int_equal(r->n_replies, 64);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	rpc_server_destroy(srv);
}

/* One asynchronous call's outcome: the callers of the tests below call from
 * one thread, back to back, so that none can be late on a loaded machine. */
typedef struct async_out {
	atomic_int done;
	int rc;
	size_t len; /* an EchoResponse's blob */
	char msg[256];
} async_out;

static void
async_done(void *arg, int grpc, ProtobufCMessage *resp, const char *msg)
{
	async_out *o = arg;

	o->rc = grpc;
	snprintf(o->msg, sizeof(o->msg), "%s", msg);
	if (resp != NULL) {
		o->len = ((Rpctest__V1__EchoResponse *)resp)->blob.len;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	atomic_store(&o->done, 1);
}

/* Waits for o's outcome (TSVC_WAIT_MS at most); asserts it came. */
static void
async_wait(async_out *o)
{
	for (int w = 0; w < TSVC_WAIT_MS / 2 && !atomic_load(&o->done); w++) {
		nng_msleep(2);
	}
	assert_true(atomic_load(&o->done));
}

/* n calls queue behind a slow call on a server whose limit is 64 kB, through
 * a client whose limit is client_max; each must get its answer. */
static void
bigs(size_t n, size_t send, size_t answer, int client_max)
{
	rpc_server_opts so = {.max_msg = 64 << 10};
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	uint8_t *blob = calloc(1, send + 1);
	char bound[128];
	rpc_server *srv;
	rpc_client *c;
	rpc_client_stats_t st;
	async_out b[8];
	pthread_t hth;
	holder h = {.sleep_ms = 1000};

	assert_non_null(blob);
	srv = serve("tcp", &so, bound, sizeof(bound));
	c = tsvc_client(bound, client_max);
	h.c = c;
	assert_int_equal(pthread_create(&hth, NULL, holder_main, &h), 0);
	wait_stat(c, true, 1);
	req.text = "big";
	req.blob.data = blob;
	req.blob.len = send;
	req.reply_blob = (uint32_t)answer;
	memset(b, 0, sizeof(b));
	for (size_t i = 0; i < n; i++) { /* packed before each returns */
		rpc_client_call_async(c, &rpctest__v1__test_service__descriptor, "Echo", &req.base,
		                      TSVC_WAIT_MS, async_done, &b[i]);
	}
	for (size_t i = 0; i < n; i++) {
		async_wait(&b[i]);
		assert_int_equal(b[i].rc, S_OK);
		assert_int_equal(b[i].len, answer ? answer : send);
	}
	pthread_join(hth, NULL);
	assert_int_equal(h.rc, S_OK);
	rpc_client_stats(c, &st);
	assert_true(st.batches >= 1);
	assert_true(st.retries >= 1);
	free(blob);
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
}

/* Eight 20 kB answers to small requests do not fit a 64 kB reply: those left
 * out come back RESOURCE_EXHAUSTED from the batch and are fetched again alone,
 * unseen by their callers. */
static void
test_answers_too_big_for_batch(void **state)
{
	(void)state;
	bigs(8, 0, 20000, 64 << 10);
}

/* Five 20 kB requests make a batch over the server's 64 kB limit (the
 * client's is 256 kB): refused as a whole, each call then goes alone. */
static void
test_batch_over_server_limit(void **state)
{
	(void)state;
	bigs(5, 20000, 0, 256 << 10);
}

/* A call that waited in the queue tells the server only the time it has
 * left, so the handler's deadline is the caller's own. */
static void
test_queued_call_keeps_its_deadline(void **state)
{
	char bound[128], msg[256];
	rpc_server *srv;
	rpc_client *c;
	pthread_t hth;
	holder h = {.sleep_ms = 500};
	Rpctest__V1__EchoResponse *r = NULL;

	(void)state;
	srv = serve("ipc", NULL, bound, sizeof(bound));
	c = tsvc_client(bound, 0);
	h.c = c;
	assert_int_equal(pthread_create(&hth, NULL, holder_main, &h), 0);
	for (int i = 0; i < 2000 && atomic_load(&tsvc_echo_running) == 0; i++) {
		nng_msleep(2); /* the holder's handler is asleep: the slot is taken */
	}
	assert_int_equal(atomic_load(&tsvc_echo_running), 1);
	assert_int_equal(tsvc_call_coalesced(c, "Echo", "queued", 0, 0, 2000, &r, msg, sizeof(msg)),
	                 S_OK);
	/* queued behind the 500 ms holder: well under the 2000 ms it started with */
	assert_true(r->time_left_ms > 0 && r->time_left_ms <= 1700);
	tsvc_free(r);
	pthread_join(hth, NULL);
	assert_int_equal(h.rc, S_OK);
	rpc_client_destroy(c);
	rpc_server_destroy(srv);
}

/* ---- a server that answers batches wrongly ---- */

typedef enum bad_kind {
	BAD_GARBAGE,    /* bytes that are no RpcResponse */
	BAD_COUNT,      /* one answer short */
	BAD_BATCH_ID,   /* the batch's reply carries another id */
	BAD_CALL_ID,    /* the second call's answer carries another id */
	BAD_CALL_BYTES, /* the second call's payload is no EchoResponse */
} bad_kind;

typedef struct bad_server {
	nng_socket sock;
	bad_kind kind;
	int answered;
} bad_server;

/* Answers a lone call properly (the first one 300 ms late, so that the
 * callers behind it queue into one batch) and each batch the bad way. */
static void *
bad_main(void *arg)
{
	bad_server *b = arg;
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x0f, 0x07};
	uint8_t echo[16];
	size_t elen;
	nng_msg *m;
	Rpctest__V1__EchoResponse er = RPCTEST__V1__ECHO_RESPONSE__INIT;

	er.text = "ok";
	elen = rpctest__v1__echo_response__pack(&er, echo);
	while (nng_recvmsg(b->sock, &m, 0) == 0) {
		Aml__V1__RpcRequest *rq = aml__v1__rpc_request__unpack(NULL, nng_msg_len(m),
		                                                       nng_msg_body(m));
		Aml__V1__RpcResponse resp = AML__V1__RPC_RESPONSE__INIT;
		Aml__V1__RpcReply top = AML__V1__RPC_REPLY__INIT, subs[64];
		Aml__V1__RpcReply *sp[64];
		size_t n;

		assert_non_null(rq);
		nng_msg_clear(m);
		if (b->answered++ == 0) {
			nng_msleep(300);
		}
		resp.reply = &top;
		top.request_id = rq->call != NULL ? rq->call->request_id : rq->batch_id;
		top.payload.data = echo;
		top.payload.len = elen;
		n = rq->n_calls;
		for (size_t i = 0; i < n; i++) {
			aml__v1__rpc_reply__init(&subs[i]);
			subs[i].request_id = rq->calls[i]->request_id;
			subs[i].payload.data = echo;
			subs[i].payload.len = elen;
			sp[i] = &subs[i];
		}
		if (n > 0) {
			top.payload.len = 0;
			resp.n_replies = b->kind == BAD_COUNT ? n - 1 : n;
			resp.replies = sp;
			if (b->kind == BAD_BATCH_ID) {
				top.request_id++;
			} else if (b->kind == BAD_CALL_ID) {
				subs[1].request_id++;
			} else if (b->kind == BAD_CALL_BYTES) {
				subs[1].payload.data = (uint8_t *)junk;
				subs[1].payload.len = sizeof(junk);
			}
		}
		if (n > 0 && b->kind == BAD_GARBAGE) {
			assert_int_equal(nng_msg_append(m, junk, sizeof(junk)), 0);
		} else {
			size_t len = aml__v1__rpc_response__get_packed_size(&resp);

			assert_int_equal(nng_msg_realloc(m, len), 0);
			aml__v1__rpc_response__pack(&resp, nng_msg_body(m));
		}
		aml__v1__rpc_request__free_unpacked(rq, NULL);
		if (nng_sendmsg(b->sock, m, 0) != 0) {
			nng_msg_free(m);
		}
	}
	return NULL;
}

/* Four calls queue behind a slow lone call into one batch that the server
 * answers badly: n_bad of them (all four, or the one the bad answer names)
 * get INTERNAL with a message holding need, the others their answer. */
static void
bad_batch(bad_kind kind, int n_bad, const char *need)
{
	bad_server b = {.kind = kind};
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	async_out k[4];
	pthread_t th, hth;
	char url[128];
	rpc_client *c;
	rpc_client_stats_t st;
	holder h = {0};
	int bad = 0;

	tsvc_url(url, sizeof(url), "ipc");
	assert_int_equal(nng_rep0_open(&b.sock), 0);
	assert_int_equal(nng_listen(b.sock, url, NULL, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, bad_main, &b), 0);
	c = tsvc_client(url, 0);
	h.c = c;
	assert_int_equal(pthread_create(&hth, NULL, holder_main, &h), 0);
	wait_stat(c, true, 1);
	req.text = "x";
	memset(k, 0, sizeof(k));
	for (int i = 0; i < 4; i++) {
		rpc_client_call_async(c, &rpctest__v1__test_service__descriptor, "Echo", &req.base,
		                      TSVC_WAIT_MS, async_done, &k[i]);
	}
	for (int i = 0; i < 4; i++) {
		async_wait(&k[i]);
		if (k[i].rc != S_OK) {
			bad++;
			assert_int_equal(k[i].rc, AML__V1__STATUS_CODE__INTERNAL);
			assert_non_null(strstr(k[i].msg, need));
		}
	}
	pthread_join(hth, NULL);
	assert_int_equal(h.rc, S_OK);
	rpc_client_stats(c, &st);
	assert_int_equal(st.exchanges, 2); /* the holder, then the four in one batch */
	assert_int_equal(bad, n_bad);
	rpc_client_destroy(c);
	nng_close(b.sock);
	pthread_join(th, NULL);
}

static void
test_bad_batch_replies(void **state)
{
	(void)state;
	bad_batch(BAD_GARBAGE, 4, "malformed reply");
	bad_batch(BAD_COUNT, 4, "reply holds 3 answers");
	bad_batch(BAD_BATCH_ID, 4, "reply for request");
	bad_batch(BAD_CALL_ID, 1, "reply for request");
	bad_batch(BAD_CALL_BYTES, 1, "reply payload: rpctest.v1.EchoResponse");
}

/* The queue of coalesced calls is bounded: with two waiting, a third fails
 * RESOURCE_EXHAUSTED at once and the two waiting get their answers. */
static void
test_queue_bound(void **state)
{
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	char bound[128];
	rpc_server *srv;
	rpc_client *c = NULL;
	rpc_client_opts o = {
	        .caller = "tester", .coalesce_queue = 2, .start_timeout_ms = TSVC_WAIT_MS};
	async_out k[5];
	pthread_t hth;
	holder h = {.sleep_ms = 1000};
	int ok = 0, full = 0;

	(void)state;
	srv = serve("ipc", NULL, bound, sizeof(bound));
	assert_int_equal(rpc_client_create(&c, bound, &o), AMLRISK_OK);
	h.c = c;
	assert_int_equal(pthread_create(&hth, NULL, holder_main, &h), 0);
	for (int i = 0; i < 5000 && atomic_load(&tsvc_echo_running) == 0; i++) {
		nng_msleep(2); /* the holder's handler is asleep: the slot is taken */
	}
	assert_int_equal(atomic_load(&tsvc_echo_running), 1);
	req.text = "x";
	memset(k, 0, sizeof(k));
	for (int i = 0; i < 5; i++) {
		rpc_client_call_async(c, &rpctest__v1__test_service__descriptor, "Echo", &req.base,
		                      TSVC_WAIT_MS, async_done, &k[i]);
	}
	for (int i = 0; i < 5; i++) {
		async_wait(&k[i]);
		if (k[i].rc == S_OK) {
			ok++;
		} else {
			full++;
			assert_int_equal(k[i].rc, AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED);
			assert_non_null(strstr(k[i].msg, "2 calls already wait"));
		}
	}
	pthread_join(hth, NULL);
	assert_int_equal(h.rc, S_OK);
	assert_int_equal(ok, 2);
	assert_int_equal(full, 3);
	/* bad values of the bound are refused */
	rpc_client_destroy(c);
	o.coalesce_queue = -1;
	assert_int_equal(rpc_client_create(&c, bound, &o), AMLRISK_EINVAL);
	o.coalesce_queue = 65537;
	assert_int_equal(rpc_client_create(&c, bound, &o), AMLRISK_EINVAL);
	rpc_server_destroy(srv);
}

/* No server: every caller of the batch gets UNAVAILABLE at its deadline. */
static void
test_batch_without_server(void **state)
{
	char url[128];
	rpc_client *c;
	caller k[4];
	pthread_t th[4], hth;
	holder h = {.timeout_ms = 600};
	rpc_client_stats_t st;

	(void)state;
	tsvc_url(url, sizeof(url), "ipc");
	c = tsvc_client(url, 0);
	h.c = c;
	assert_int_equal(pthread_create(&hth, NULL, holder_main, &h), 0);
	wait_stat(c, false, 1);
	for (int i = 0; i < 4; i++) {
		k[i] = (caller){.c = c, .id = i};
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, down_main, &k[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(k[i].wrong, 0);
	}
	pthread_join(hth, NULL);
	assert_int_equal(h.rc, S_UNAVAILABLE);
	rpc_client_stats(c, &st);
	assert_int_equal(st.calls, 5);
	rpc_client_destroy(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_alone_when_quiet),
	        cmocka_unit_test(test_concurrent_ipc),
	        cmocka_unit_test(test_concurrent_tcp),
	        cmocka_unit_test(test_batch_calls_fail_alone),
	        cmocka_unit_test(test_batch_refused),
	        cmocka_unit_test(test_answers_too_big_for_batch),
	        cmocka_unit_test(test_batch_over_server_limit),
	        cmocka_unit_test(test_queued_call_keeps_its_deadline),
	        cmocka_unit_test(test_bad_batch_replies),
	        cmocka_unit_test(test_queue_bound),
	        cmocka_unit_test(test_batch_without_server),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini();
	return rc;
}
