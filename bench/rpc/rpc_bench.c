/* rpc_bench.c - latency and calls/s of RiskService round trips through the RPC
 * layer at N callers, next to bare NNG req/rep of the same sizes in the same run;
 * against fake Health/GetWalletScore handlers in-process, or a server at --url. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "aml/v1/risk_service.pb-c.h"
#include "aml/v1/rpc.pb-c.h"
#include "amlrisk_err.h"
#include "rpc.h"

#define MAX_CALLERS     256
#define MAX_SETS        16
#define ECHO_CONTEXTS   256
#define SAMPLES_MAX     ((size_t)1 << 22) /* per run: 32 MiB of latencies at most */
#define WALLET_LEN      197               /* GetWalletScoreRequest of 200 bytes */
#define CALL_TIMEOUT_MS 10000

typedef struct opts {
	const char *url;   /* NULL: serve the fake RiskService in-process */
	const char *serve; /* only serve the fake RiskService here until SIGINT/SIGTERM */
	const char *methods[4];
	int n_methods;
	const char *sets[MAX_SETS];
	int n_sets;
	int callers[8];
	int n_callers;
	const char *transports[2];
	int n_transports;
	double seconds;
	int repeat;
	int workers;
} opts;

/* ---- the fake RiskService served in-process ---- */

static void
fake_health(Aml__V1__RiskService_Service *svc, const Aml__V1__HealthRequest *in,
            Aml__V1__HealthResponse_Closure closure, void *cd)
{
	Aml__V1__HealthResponse out = AML__V1__HEALTH_RESPONSE__INIT;
	Aml__V1__GraphInfo g = AML__V1__GRAPH_INFO__INIT;

	(void)svc;
	(void)in;
	g.loaded = 1;
	g.wallets = 1000000;
	g.edges = 2900000;
	out.status = "ok";
	out.database_ok = 1;
	out.graph = &g;
	out.version = "bench";
	closure(&out, cd);
}

static void
fake_wallet(Aml__V1__RiskService_Service *svc, const Aml__V1__GetWalletScoreRequest *in,
            Aml__V1__GetWalletScoreResponse_Closure closure, void *cd)
{
	Aml__V1__GetWalletScoreResponse out = AML__V1__GET_WALLET_SCORE_RESPONSE__INIT;
	Aml__V1__WalletScore s = AML__V1__WALLET_SCORE__INIT;

	(void)svc;
	s.wallet = in->wallet;
	s.risk_score = 0.4375;
	s.exposures = 12;
	s.in_degree = 3;
	s.out_degree = 5;
	out.run_id = 1;
	out.score = &s;
	closure(&out, cd);
}

static Aml__V1__RiskService_Service fake_service = {
        .base = AML__V1__RISK_SERVICE__BASE_INIT,
        .health = fake_health,
        .get_wallet_score = fake_wallet,
};

/* ---- a bare NNG rep server: answers every request with reply_len bytes ---- */

typedef struct echo_ctx {
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
	atomic_size_t *reply_len;
} echo_ctx;

typedef struct echo_srv {
	nng_socket sock;
	echo_ctx ctxs[ECHO_CONTEXTS];
	int n;
	atomic_size_t reply_len;
} echo_srv;

static void
echo_cb(void *arg)
{
	echo_ctx *e = arg;
	nng_msg *m;

	if (nng_aio_result(e->aio) != 0) {
		if (e->sending) {
			nng_msg_free(nng_aio_get_msg(e->aio));
		}
		return; /* closed */
	}
	if (e->sending) {
		e->sending = false;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	m = nng_aio_get_msg(e->aio);
	if (nng_msg_realloc(m, atomic_load(e->reply_len)) != 0) {
		nng_msg_free(m);
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	e->sending = true;
	nng_aio_set_msg(e->aio, m);
	nng_ctx_send(e->ctx, e->aio);
}

static void
echo_destroy(echo_srv *s)
{
	int i;

	if (s == NULL) {
		return;
	}
	for (i = 0; i < s->n; i++) {
		nng_aio_stop(s->ctxs[i].aio); /* no callback is inside NNG when it closes */
	}
	nng_close(s->sock);
	for (i = 0; i < s->n; i++) {
		nng_aio_free(s->ctxs[i].aio);
	}
	free(s);
}

/* Starts an echo server on url (port 0 allowed); *port gets the bound TCP port. */
static echo_srv *
echo_start(const char *url, int *port)
{
	echo_srv *s = calloc(1, sizeof(*s));
	nng_listener l;
	int i;

	if (s == NULL || nng_rep0_open(&s->sock) != 0) {
		free(s);
		return NULL;
	}
	for (i = 0; i < ECHO_CONTEXTS; i++) {
		echo_ctx *e = &s->ctxs[i];
		e->reply_len = &s->reply_len;
		if (nng_aio_alloc(&e->aio, echo_cb, e) != 0 ||
		    nng_ctx_open(&e->ctx, s->sock) != 0) {
			nng_aio_free(e->aio);
			break;
		}
		s->n++;
	}
	if (s->n < ECHO_CONTEXTS || nng_listen(s->sock, url, &l, 0) != 0) {
		echo_destroy(s);
		return NULL;
	}
	if (nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, port) != 0) {
		*port = 0;
	}
	for (i = 0; i < s->n; i++) {
		nng_ctx_recv(s->ctxs[i].ctx, s->ctxs[i].aio);
	}
	return s;
}

/* ---- load generation ---- */

typedef struct target {
	/* RPC: */
	rpc_client *client;
	const char *method;
	const ProtobufCMessage *req;
	/* bare NNG: */
	nng_socket sock;
	size_t req_len;
	bool bare;
} target;

typedef struct caller {
	pthread_t th;
	const target *t;
	uint64_t *lat; /* nanoseconds of each measured call */
	size_t n, cap;
	long errors;
	char first_error[256];
} caller;

enum { PHASE_WARM, PHASE_MEASURE, PHASE_STOP };
static atomic_int phase;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
call_rpc(const target *t, char *msg, size_t msglen)
{
	ProtobufCMessage *resp = NULL;
	int rc;

	rc = rpc_client_call(t->client, &aml__v1__risk_service__descriptor, t->method, t->req,
	                     &resp, CALL_TIMEOUT_MS, msg, msglen);
	if (rc == 0) {
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return rc;
}

static int
call_bare(const target *t, nng_ctx ctx, nng_aio *aio, char *msg, size_t msglen)
{
	nng_msg *m;
	int rv;

	if ((rv = nng_msg_alloc(&m, t->req_len)) != 0) {
		goto fail;
	}
	memset(nng_msg_body(m), 'x', t->req_len);
	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(aio));
		goto fail;
	}
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		goto fail;
	}
	nng_msg_free(nng_aio_get_msg(aio));
	return 0;
fail:
	snprintf(msg, msglen, "%s", nng_strerror(rv));
	return rv;
}

static void *
caller_main(void *arg)
{
	caller *c = arg;
	const target *t = c->t;
	nng_ctx ctx;
	nng_aio *aio = NULL;
	char msg[256];
	uint64_t t0;
	int rc, ph;

	if (t->bare) {
		/* a bare client keeps one context per thread, as one would write it */
		if (nng_aio_alloc(&aio, NULL, NULL) != 0 || nng_ctx_open(&ctx, t->sock) != 0) {
			snprintf(c->first_error, sizeof(c->first_error), "no context");
			c->errors++;
			nng_aio_free(aio);
			return NULL;
		}
		nng_aio_set_timeout(aio, CALL_TIMEOUT_MS);
	}
	while ((ph = atomic_load(&phase)) != PHASE_STOP) {
		t0 = now_ns();
		rc = t->bare ? call_bare(t, ctx, aio, msg, sizeof(msg))
		             : call_rpc(t, msg, sizeof(msg));
		if (rc != 0) {
			if (c->errors++ == 0) {
				snprintf(c->first_error, sizeof(c->first_error), "%s", msg);
			}
		} else if (ph == PHASE_MEASURE && c->n < c->cap) {
			c->lat[c->n++] = now_ns() - t0;
		}
	}
	if (t->bare) {
		nng_ctx_close(ctx);
		nng_aio_free(aio);
	}
	return NULL;
}

typedef struct result {
	double median_us, p99_us, calls_per_s;
	long errors;
} result;

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Starts n callers on t: 0.3 s of warm-up, then seconds of measurement; joins
 * them. Returns the number started (n unless a thread could not be made). */
static int
callers_run(caller *cs, const target *t, int n, double seconds, uint64_t *elapsed_ns)
{
	uint64_t t0;
	int i, started = 0;

	atomic_store(&phase, PHASE_WARM);
	for (i = 0; i < n; i++) {
		cs[i].t = t;
		cs[i].cap = SAMPLES_MAX / (size_t)n;
		if ((cs[i].lat = malloc(cs[i].cap * sizeof(uint64_t))) == NULL ||
		    pthread_create(&cs[i].th, NULL, caller_main, &cs[i]) != 0) {
			break;
		}
		started++;
	}
	if (started == n) {
		nng_msleep(300);
		t0 = now_ns();
		atomic_store(&phase, PHASE_MEASURE);
		nng_msleep((nng_duration)(seconds * 1000));
		*elapsed_ns = now_ns() - t0;
	}
	atomic_store(&phase, PHASE_STOP);
	for (i = 0; i < started; i++) {
		pthread_join(cs[i].th, NULL);
	}
	return started;
}

/* Measures n callers against t into out: the median and p99 of every call's
 * latency and the calls per second, over all callers. */
static int
measure(const target *t, int n, double seconds, result *out)
{
	caller *cs = calloc((size_t)n, sizeof(*cs));
	uint64_t *all = NULL, elapsed = 0;
	size_t total = 0;
	int i, rv = -1;

	if (cs == NULL) {
		return -1;
	}
	if (callers_run(cs, t, n, seconds, &elapsed) != n) {
		goto out;
	}
	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		total += cs[i].n;
		out->errors += cs[i].errors;
		if (cs[i].errors != 0) {
			fprintf(stderr, "rpc_bench: %ld errors, first: %s\n", cs[i].errors,
			        cs[i].first_error);
		}
	}
	if (total == 0 || (all = malloc(total * sizeof(uint64_t))) == NULL) {
		goto out;
	}
	for (i = 0, total = 0; i < n; i++) {
		memcpy(all + total, cs[i].lat, cs[i].n * sizeof(uint64_t));
		total += cs[i].n;
	}
	qsort(all, total, sizeof(uint64_t), cmp_u64);
	out->median_us = (double)all[total / 2] / 1000.0;
	out->p99_us = (double)all[(total * 99) / 100] / 1000.0;
	out->calls_per_s = (double)total / ((double)elapsed / 1e9);
	rv = 0;
out:
	for (i = 0; i < n; i++) {
		free(cs[i].lat);
	}
	free(all);
	free(cs);
	return rv;
}

/* ---- requests ---- */

/* Sets field name=value (scalar fields only) of m; the string stays borrowed. */
static int
req_set(ProtobufCMessage *m, const char *kv)
{
	const ProtobufCFieldDescriptor *f;
	const char *eq = strchr(kv, '=');
	char name[64];
	void *p;

	if (eq == NULL || (size_t)(eq - kv) >= sizeof(name)) {
		return -1;
	}
	memcpy(name, kv, (size_t)(eq - kv));
	name[eq - kv] = '\0';
	if ((f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name)) == NULL ||
	    f->label == PROTOBUF_C_LABEL_REPEATED) {
		return -1;
	}
	p = (char *)m + f->offset;
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		*(const char **)p = eq + 1;
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		*(int32_t *)p = (int32_t)strtol(eq + 1, NULL, 10);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		*(uint32_t *)p = (uint32_t)strtoul(eq + 1, NULL, 10);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		*(int64_t *)p = strtoll(eq + 1, NULL, 10);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *)p = strtoull(eq + 1, NULL, 10);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)p = strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "1") == 0;
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		*(double *)p = strtod(eq + 1, NULL);
		break;
	default:
		return -1;
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0) {
		*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
	}
	return 0;
}

/* A request for method; the bench's own 200-byte wallet for GetWalletScore
 * unless --set gives one. Freed with free(). */
static ProtobufCMessage *
req_make(const char *method, const opts *o, const char *wallet)
{
	const ProtobufCMethodDescriptor *m;
	ProtobufCMessage *req;
	int i;

	m = protobuf_c_service_descriptor_get_method_by_name(&aml__v1__risk_service__descriptor,
	                                                     method);
	if (m == NULL || (req = malloc(m->input->sizeof_message)) == NULL) {
		return NULL;
	}
	protobuf_c_message_init(m->input, req);
	if (m->input == &aml__v1__get_wallet_score_request__descriptor) {
		((Aml__V1__GetWalletScoreRequest *)req)->wallet = (char *)wallet;
	}
	for (i = 0; i < o->n_sets; i++) {
		if (req_set(req, o->sets[i]) != 0) {
			fprintf(stderr, "rpc_bench: cannot set %s on %s\n", o->sets[i],
			        m->input->name);
			free(req);
			return NULL;
		}
	}
	return req;
}

/* The secret of RPC_SECRET(_FILE), sent and (in-process) required; NULL = none. */
static const char *bench_secret;

/* Envelope sizes of one call of method with req: what the bare run sends and
 * gets back. Makes one call to learn the response. */
static int
envelope_sizes(rpc_client *c, const char *method, const ProtobufCMessage *req, size_t *req_len,
               size_t *resp_len)
{
	Aml__V1__RpcRequest env = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcResponse renv = AML__V1__RPC_RESPONSE__INIT;
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;
	Aml__V1__RpcReply reply = AML__V1__RPC_REPLY__INIT;
	ProtobufCMessage *resp = NULL;
	uint8_t *buf;
	char full[256], msg[256];
	int rc;

	if ((rc = rpc_client_call(c, &aml__v1__risk_service__descriptor, method, req, &resp,
	                          CALL_TIMEOUT_MS, msg, sizeof(msg))) != 0) {
		fprintf(stderr, "rpc_bench: %s: %s: %s\n", method, amlrisk_grpc_name(rc), msg);
		return -1;
	}
	snprintf(full, sizeof(full), "%s/%s", aml__v1__risk_service__descriptor.name, method);
	call.request_id = UINT64_MAX / 3; /* a random id takes about 9 bytes */
	call.method = full;
	call.timeout_ms = CALL_TIMEOUT_MS;
	call.start_timeout_ms = CALL_TIMEOUT_MS;
	call.payload.len = protobuf_c_message_get_packed_size(req);
	env.call = &call;
	env.auth.len = bench_secret != NULL ? strlen(bench_secret) : 0;
	reply.request_id = call.request_id;
	reply.payload.len = protobuf_c_message_get_packed_size(resp);
	renv.reply = &reply;
	/* sizes only depend on lengths: a zeroed buffer of the largest stands in */
	buf = calloc(1, call.payload.len + reply.payload.len + env.auth.len + 1);
	if (buf == NULL) {
		protobuf_c_message_free_unpacked(resp, NULL);
		return -1;
	}
	call.payload.data = reply.payload.data = env.auth.data = buf;
	*req_len = protobuf_c_message_get_packed_size(&env.base);
	*resp_len = protobuf_c_message_get_packed_size(&renv.base);
	free(buf);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

/* ---- driver ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of each figure over the repeats. */
static void
result_median(result *rs, int n, result *out)
{
	double v[3][32];
	int i;

	out->errors = 0;
	for (i = 0; i < n; i++) {
		v[0][i] = rs[i].median_us;
		v[1][i] = rs[i].p99_us;
		v[2][i] = rs[i].calls_per_s;
		out->errors += rs[i].errors;
	}
	for (i = 0; i < 3; i++) {
		qsort(v[i], (size_t)n, sizeof(double), cmp_double);
	}
	out->median_us = v[0][n / 2];
	out->p99_us = v[1][n / 2];
	out->calls_per_s = v[2][n / 2];
}

/* Measures every method and caller count against the RPC server at url, and a
 * bare echo server at echo_url, alternating the two each repeat. */
static int
run_against(const opts *o, const char *label, const char *url, const char *echo_url, echo_srv *echo)
{
	rpc_client_opts co = {.caller = "rpc_bench", .secret = bench_secret};
	char wallet[WALLET_LEN + 1];
	rpc_client *c = NULL;
	ProtobufCMessage *req;
	target rt, bt;
	result r[2][32], med[2];
	size_t req_len, resp_len;
	int m, k, i, rv;

	memset(wallet, 'w', WALLET_LEN);
	wallet[WALLET_LEN] = '\0';
	if ((rv = rpc_client_create(&c, url, &co)) != 0) {
		fprintf(stderr, "rpc_bench: client %s: %s\n", url, amlrisk_strerror(rv));
		return -1;
	}
	memset(&bt, 0, sizeof(bt));
	bt.bare = true;
	if (nng_req0_open(&bt.sock) != 0 ||
	    nng_socket_set_ms(bt.sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) != 0 ||
	    nng_dial(bt.sock, echo_url, NULL, 0) != 0) {
		fprintf(stderr, "rpc_bench: cannot dial the echo server at %s\n", echo_url);
		rpc_client_destroy(c);
		return -1;
	}
	for (m = 0; m < o->n_methods; m++) {
		if ((req = req_make(o->methods[m], o, wallet)) == NULL ||
		    envelope_sizes(c, o->methods[m], req, &req_len, &resp_len) != 0) {
			free(req);
			rv = -1;
			break;
		}
		rt = (target){.client = c, .method = o->methods[m], .req = req};
		bt.req_len = req_len;
		atomic_store(&echo->reply_len, resp_len);
		for (k = 0; k < o->n_callers; k++) {
			for (i = 0; i < o->repeat; i++) {
				if (measure(&rt, o->callers[k], o->seconds, &r[0][i]) != 0 ||
				    measure(&bt, o->callers[k], o->seconds, &r[1][i]) != 0) {
					fprintf(stderr, "rpc_bench: measurement failed\n");
					free(req);
					rv = -1;
					goto out;
				}
			}
			result_median(r[0], o->repeat, &med[0]);
			result_median(r[1], o->repeat, &med[1]);
			printf("| %s | %s (%zu/%zu B) | %d | %.0f | %.0f | %.0f | %.0f | %.0f | "
			       "%.0f | %.2f |"
			       "%s\n",
			       label, o->methods[m], req_len, resp_len, o->callers[k],
			       med[0].median_us, med[0].p99_us, med[0].calls_per_s,
			       med[1].median_us, med[1].p99_us, med[1].calls_per_s,
			       med[0].calls_per_s / med[1].calls_per_s,
			       med[0].errors + med[1].errors ? " errors!" : "");
			fflush(stdout);
		}
		free(req);
	}
out:
	nng_close(bt.sock);
	rpc_client_destroy(c);
	return rv;
}

static int
run_transport(const opts *o, const char *kind)
{
	rpc_server_opts so = {.workers = o->workers, .secret = bench_secret};
	char url[128], echo_url[128], rurl[128];
	rpc_server *srv = NULL;
	echo_srv *echo;
	int port, rv;

	if (strcmp(kind, "ipc") == 0) {
		snprintf(url, sizeof(url), "ipc:///tmp/amlrisk-bench-rpc-%d.sock", (int)getpid());
		snprintf(echo_url, sizeof(echo_url), "ipc:///tmp/amlrisk-bench-echo-%d.sock",
		         (int)getpid());
	} else {
		snprintf(url, sizeof(url), "tcp://127.0.0.1:0");
		snprintf(echo_url, sizeof(echo_url), "tcp://127.0.0.1:0");
	}
	if ((echo = echo_start(echo_url, &port)) == NULL) {
		fprintf(stderr, "rpc_bench: echo server on %s failed\n", echo_url);
		return -1;
	}
	if (port != 0) {
		snprintf(echo_url, sizeof(echo_url), "tcp://127.0.0.1:%d", port);
	}
	if (o->url == NULL) {
		if ((rv = rpc_server_create(&srv, url, &so)) != 0 ||
		    (rv = rpc_server_add_service(srv, &fake_service.base)) != 0 ||
		    (rv = rpc_server_start(srv)) != 0) {
			fprintf(stderr, "rpc_bench: server on %s: %s\n", url, amlrisk_strerror(rv));
			rpc_server_destroy(srv);
			echo_destroy(echo);
			return -1;
		}
		if (rpc_server_port(srv) != 0) {
			snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rpc_server_port(srv));
		}
	} else {
		snprintf(url, sizeof(url), "%s", o->url);
	}
	snprintf(rurl, sizeof(rurl), "%s", kind);
	rv = run_against(o, rurl, url, echo_url, echo);
	rpc_server_destroy(srv);
	echo_destroy(echo);
	return rv;
}

/* Serves the fake RiskService on url until SIGINT or SIGTERM: a stand-in core
 * for --url runs and for clients under development. */
static int
serve(const opts *o)
{
	rpc_server_opts so = {.workers = o->workers, .secret = bench_secret};
	rpc_server *srv = NULL;
	sigset_t set;
	int rv, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* before NNG starts its threads */
	if ((rv = rpc_server_create(&srv, o->serve, &so)) != 0 ||
	    (rv = rpc_server_add_service(srv, &fake_service.base)) != 0 ||
	    (rv = rpc_server_start(srv)) != 0) {
		fprintf(stderr, "rpc_bench: server on %s: %s\n", o->serve, amlrisk_strerror(rv));
		rpc_server_destroy(srv);
		return -1;
	}
	fprintf(stderr, "rpc_bench: serving the fake RiskService on %s\n", o->serve);
	sigwait(&set, &sig);
	rpc_server_destroy(srv);
	return 0;
}

static int
parse_list(const char *s, int *out, int max)
{
	char *end;
	int n = 0;
	long v;

	while (*s != '\0' && n < max) {
		v = strtol(s, &end, 10);
		if (end == s || v < 1 || v > MAX_CALLERS) {
			return -1;
		}
		out[n++] = (int)v;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: amlrisk-bench-rpc [options]\n"
	        "  Round trips of aml.v1.RiskService calls through the RPC layer at N concurrent\n"
	        "  callers, next to a bare NNG req/rep exchange of the same sizes in the same "
	        "run.\n"
	        "  Prints one Markdown table row per method and caller count (latencies in us).\n"
	        "  --url URL         call a running server (e.g. amlrisk-core) instead of the\n"
	        "                    fake Health/GetWalletScore served in-process\n"
	        "  --serve URL       only serve that fake RiskService on URL until SIGTERM\n"
	        "  --method NAME     RiskService method; repeatable (default Health and\n"
	        "                    GetWalletScore with a 197-byte wallet)\n"
	        "  --set FIELD=VAL   set a scalar field of the request; repeatable\n"
	        "  --callers LIST    concurrent callers (default 1,8,64)\n"
	        "  --transport LIST  ipc,tcp (default both; with --url, the URL's own is used)\n"
	        "  --seconds S       measured time of each run (default 2)\n"
	        "  --repeat N        runs per figure, the median is printed (default 3)\n"
	        "  --workers N       worker threads of the in-process server (default 4)\n"
	        "Environment: RPC_SECRET_FILE or RPC_SECRET, sent with every call (and\n"
	        "required by the in-process server).\n");
}

int
main(int argc, char **argv)
{
	opts o = {.seconds = 2, .repeat = 3};
	static rpc_secret sec;
	char why[256];
	int i, rv = 0;

	if (rpc_secret_from_env(&sec, why, sizeof(why)) != 0) {
		fprintf(stderr, "rpc_bench: %s\n", why);
		return 2;
	}
	bench_secret = sec.current[0] != '\0' ? sec.current : NULL;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (v == NULL) {
			usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--url") == 0) {
			o.url = v;
		} else if (strcmp(a, "--serve") == 0) {
			o.serve = v;
		} else if (strcmp(a, "--method") == 0 && o.n_methods < 4) {
			o.methods[o.n_methods++] = v;
		} else if (strcmp(a, "--set") == 0 && o.n_sets < MAX_SETS) {
			o.sets[o.n_sets++] = v;
		} else if (strcmp(a, "--callers") == 0) {
			if ((o.n_callers = parse_list(v, o.callers, 8)) <= 0) {
				usage(stderr);
				return 2;
			}
		} else if (strcmp(a, "--transport") == 0) {
			o.n_transports = 0;
			if (strstr(v, "ipc") != NULL) {
				o.transports[o.n_transports++] = "ipc";
			}
			if (strstr(v, "tcp") != NULL) {
				o.transports[o.n_transports++] = "tcp";
			}
		} else if (strcmp(a, "--seconds") == 0) {
			o.seconds = strtod(v, NULL);
		} else if (strcmp(a, "--repeat") == 0) {
			o.repeat = atoi(v);
		} else if (strcmp(a, "--workers") == 0) {
			o.workers = atoi(v);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (o.seconds <= 0 || o.seconds > 600 || o.repeat < 1 || o.repeat > 31) {
		usage(stderr);
		return 2;
	}
	if (o.serve != NULL) {
		rv = serve(&o);
		nng_fini();
		return rv == 0 ? 0 : 1;
	}
	if (o.n_methods == 0) {
		o.methods[o.n_methods++] = "Health";
		o.methods[o.n_methods++] = "GetWalletScore";
	}
	if (o.n_callers == 0) {
		o.n_callers = parse_list("1,8,64", o.callers, 8);
	}
	if (o.url != NULL) {
		/* the bare baseline runs on the URL's kind of transport */
		o.n_transports = 1;
		o.transports[0] = strncmp(o.url, "ipc", 3) == 0 ? "ipc" : "tcp";
	} else if (o.n_transports == 0) {
		o.transports[o.n_transports++] = "ipc";
		o.transports[o.n_transports++] = "tcp";
	}
	printf("| transport | call (request/reply envelope) | callers | rpc median us | rpc p99 us "
	       "| rpc calls/s | nng median us | nng p99 us | nng calls/s | rpc/nng calls |\n"
	       "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < o.n_transports && rv == 0; i++) {
		rv = run_transport(&o, o.transports[i]);
	}
	nng_fini();
	return rv == 0 ? 0 : 1;
}
