/* rpc_multi.c - several servers as one client (rpc_multi.h): the URL list's
 * check, the choice of server (round robin for reads, the last writer for
 * writes) and the failover of each call to the next server within its
 * deadline. A list of one URL adds nothing to rpc_client's own calls. */
#include "rpc_multi.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "rpc_client_impl.h"

#define ROUND_PAUSE_MS 250
#define METHOD_MAX     64

struct rpc_multi {
	int n;
	int timeout_ms; /* the clients' default deadline */
	rpc_client *c[RPC_MULTI_MAX];
	char url[RPC_MULTI_MAX][URL_MAX];
	atomic_uint next;  /* round robin of reads */
	atomic_int writer; /* the server that last accepted a write */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Digits only, 1..65535. */
static bool
port_ok(const char *p)
{
	long v = 0;

	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
			return false;
	}
	return v > 0;
}

/* One URL of the list (len bytes at u) into out, checked; why names it. */
static int
url_check(const char *u, size_t len, int i, char *out, char *why, size_t whylen)
{
	static const char *const ADDR = "ipc://PATH, tcp://HOST:PORT or tls+tcp://HOST:PORT";
	const char *rest, *colon;

	if (len == 0) {
		snprintf(why, whylen,
		         "URL %d of the list is empty (a list is URLs separated by "
		         "single commas)",
		         i + 1);
		return AMLRISK_EINVAL;
	}
	if (len >= URL_MAX) {
		snprintf(why, whylen, "URL %d of the list is longer than %d bytes", i + 1,
		         URL_MAX - 1);
		return AMLRISK_EINVAL;
	}
	memcpy(out, u, len);
	out[len] = '\0';
	if (strncmp(out, "ipc://", 6) == 0 || strncmp(out, "inproc://", 9) == 0) {
		if (out[strlen(out) - 1] != '/')
			return AMLRISK_OK;
	} else if ((strncmp(out, "tcp://", 6) == 0 && (rest = out + 6)) ||
	           (strncmp(out, "tls+tcp://", 10) == 0 && (rest = out + 10))) {
		colon = strrchr(rest, ':');
		if (colon != NULL && colon > rest && strpbrk(rest, " \t/?#") == NULL &&
		    port_ok(colon + 1))
			return AMLRISK_OK;
	}
	snprintf(why, whylen, "URL %d of the list, '%s', is not an RPC address (%s)", i + 1, out,
	         ADDR);
	return AMLRISK_EINVAL;
}

/* Splits list into urls (n set); every element checked. */
static int
split(const char *list, char urls[RPC_MULTI_MAX][URL_MAX], int *n, char *why, size_t whylen)
{
	const char *p = list;
	int rv;

	*n = 0;
	if (list == NULL || *list == '\0') {
		snprintf(why, whylen, "no RPC URL given");
		return AMLRISK_EINVAL;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (*n == RPC_MULTI_MAX) {
			snprintf(why, whylen, "more than %d URLs in the list", RPC_MULTI_MAX);
			return AMLRISK_EINVAL;
		}
		if ((rv = url_check(p, len, *n, urls[*n], why, whylen)) != AMLRISK_OK)
			return rv;
		for (int j = 0; j < *n; j++) {
			if (strcmp(urls[j], urls[*n]) == 0) {
				snprintf(why, whylen, "URL %d of the list, '%s', repeats URL %d",
				         *n + 1, urls[*n], j + 1);
				return AMLRISK_EINVAL;
			}
		}
		(*n)++;
		if (end == NULL)
			return AMLRISK_OK;
		p = end + 1;
	}
}

int
rpc_multi_check(const char *list, char *why, size_t whylen)
{
	char urls[RPC_MULTI_MAX][URL_MAX];
	int n;

	return split(list, urls, &n, why, whylen);
}

int
rpc_multi_create(rpc_multi **out, const char *list, const rpc_client_opts *opts, char *why,
                 size_t whylen)
{
	rpc_multi *m = calloc(1, sizeof(*m));
	rpc_client_opts o = opts != NULL ? *opts : (rpc_client_opts){0};
	int rv;

	if (m == NULL)
		return AMLRISK_ENOMEM;
	if ((rv = split(list, m->url, &m->n, why, whylen)) != AMLRISK_OK)
		goto fail;
	/* a request handed to a server that has just gone waits for a new
	 * connection: with others to try, not for long */
	if (m->n > 1 && o.send_timeout_ms == 0)
		o.send_timeout_ms = RPC_MULTI_SEND_MS;
	for (int i = 0; i < m->n; i++) {
		if ((rv = rpc_client_create(&m->c[i], m->url[i], &o)) != AMLRISK_OK) {
			snprintf(why, whylen, "%s: %s", m->url[i], amlrisk_strerror(rv));
			goto fail;
		}
	}
	m->timeout_ms =
	        opts != NULL && opts->timeout_ms > 0 ? opts->timeout_ms : TIMEOUT_DEFAULT_MS;
	atomic_init(&m->next, 0);
	atomic_init(&m->writer, 0);
	*out = m;
	return AMLRISK_OK;
fail:
	rpc_multi_destroy(m);
	return rv;
}

void
rpc_multi_destroy(rpc_multi *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < m->n; i++)
		rpc_client_destroy(m->c[i]);
	free(m);
}

int
rpc_multi_count(const rpc_multi *m)
{
	return m->n;
}

const char *
rpc_multi_url(const rpc_multi *m, int i)
{
	return i >= 0 && i < m->n ? m->url[i] : NULL;
}

rpc_client *
rpc_multi_client(rpc_multi *m, int i)
{
	return i >= 0 && i < m->n ? m->c[i] : NULL;
}

void
rpc_multi_stats(const rpc_multi *m, rpc_client_stats_t *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < m->n; i++) {
		rpc_client_stats_t s;
		rpc_client_stats(m->c[i], &s);
		out->calls += s.calls;
		out->exchanges += s.exchanges;
		out->batches += s.batches;
		out->retries += s.retries;
		out->unconnected += s.unconnected;
	}
}

/* The next server for a read that has not tried those in *tried: from start
 * on, a connected one first, else the first untried. Marks it tried; -1 when
 * all were. */
static int
pick(rpc_multi *m, unsigned start, unsigned *tried)
{
	int first = -1;

	for (int k = 0; k < m->n; k++) {
		int i = (int)((start + (unsigned)k) % (unsigned)m->n);
		if (*tried & (1u << i))
			continue;
		if (rpc_client_connected(m->c[i])) {
			first = i;
			break;
		}
		if (first < 0)
			first = i;
	}
	if (first >= 0)
		*tried |= 1u << first;
	return first;
}

int
rpc_multi_read(rpc_multi *m, const ProtobufCServiceDescriptor *svc, const char *method,
               const ProtobufCMessage *req, ProtobufCMessage **resp, int timeout_ms, int coalesced,
               char *msg, size_t msglen)
{
	int64_t end = now_ms() + (timeout_ms > 0 ? timeout_ms : m->timeout_ms);
	unsigned start = atomic_fetch_add(&m->next, 1), tried = 0;
	int rc = AML__V1__STATUS_CODE__UNAVAILABLE, i;

	for (int attempt = 0; (i = pick(m, start, &tried)) >= 0; attempt++) {
		int left = (int)(end - now_ms());
		if (left <= 0 && attempt > 0)
			break; /* the deadline went on an earlier server: its answer stands */
		if (left <= 0)
			left = 1;
		rc = coalesced
		             ? rpc_client_call_coalesced(m->c[i], svc, method, req, resp, left, msg,
		                                         msglen)
		             : rpc_client_call(m->c[i], svc, method, req, resp, left, msg, msglen);
		if (rc != AML__V1__STATUS_CODE__UNAVAILABLE)
			break;
	}
	return rc;
}

/* An asynchronous read going from server to server: the request packed, to
 * be sent again after an UNAVAILABLE. */
typedef struct multi_call {
	rpc_multi *m;
	const ProtobufCServiceDescriptor *svc;
	const ProtobufCMessageDescriptor *in;
	char method[METHOD_MAX];
	uint8_t *packed;
	size_t len;
	int64_t end;
	unsigned start, tried;
	rpc_done_fn done;
	void *arg;
} multi_call;

static void multi_done(void *arg, int grpc, ProtobufCMessage *resp, const char *msg);

/* Sends mc's request to server i with what is left of its deadline. */
static void
multi_send(multi_call *mc, int i)
{
	int left = (int)(mc->end - now_ms());
	ProtobufCMessage *req = protobuf_c_message_unpack(mc->in, NULL, mc->len, mc->packed);

	if (req == NULL) {
		multi_done(mc, AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED, NULL,
		           "no memory to send the call again");
		return;
	}
	rpc_client_call_async(mc->m->c[i], mc->svc, mc->method, req, left > 0 ? left : 1,
	                      multi_done, mc);
	protobuf_c_message_free_unpacked(req, NULL);
}

static void
multi_done(void *arg, int grpc, ProtobufCMessage *resp, const char *msg)
{
	multi_call *mc = arg;
	int i;

	if (grpc == AML__V1__STATUS_CODE__UNAVAILABLE && mc->end > now_ms() &&
	    (i = pick(mc->m, mc->start, &mc->tried)) >= 0) {
		multi_send(mc, i);
		return;
	}
	mc->done(mc->arg, grpc, resp, msg);
	free(mc->packed);
	free(mc);
}

void
rpc_multi_read_async(rpc_multi *m, const ProtobufCServiceDescriptor *svc, const char *method,
                     const ProtobufCMessage *req, int timeout_ms, rpc_done_fn done, void *arg)
{
	const ProtobufCMethodDescriptor *md;
	multi_call *mc;
	int i;

	if (m->n == 1) {
		rpc_client_call_async(m->c[0], svc, method, req, timeout_ms, done, arg);
		return;
	}
	md = svc != NULL && method != NULL
	             ? protobuf_c_service_descriptor_get_method_by_name(svc, method)
	             : NULL;
	if (md == NULL || req == NULL || strlen(method) >= METHOD_MAX) {
		/* the client words the refusal of bad arguments */
		rpc_client_call_async(m->c[0], svc, method, req, timeout_ms, done, arg);
		return;
	}
	if ((mc = calloc(1, sizeof(*mc))) == NULL) {
		done(arg, AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED, NULL, "no memory for the call");
		return;
	}
	mc->m = m;
	mc->svc = svc;
	mc->in = md->input;
	memcpy(mc->method, method, strlen(method) + 1);
	mc->len = protobuf_c_message_get_packed_size(req);
	mc->end = now_ms() + (timeout_ms > 0 ? timeout_ms : m->timeout_ms);
	mc->start = atomic_fetch_add(&m->next, 1);
	mc->done = done;
	mc->arg = arg;
	if ((mc->packed = malloc(mc->len > 0 ? mc->len : 1)) == NULL) {
		free(mc);
		done(arg, AML__V1__STATUS_CODE__RESOURCE_EXHAUSTED, NULL, "no memory for the call");
		return;
	}
	protobuf_c_message_pack(req, mc->packed);
	i = pick(m, mc->start, &mc->tried);
	rpc_client_call_async(m->c[i], svc, method, req, timeout_ms, multi_done, mc);
}

/* Whether a write answered rc/msg should go to the next server. */
static bool
not_writer(int rc, const char *msg)
{
	return rc == AML__V1__STATUS_CODE__UNAVAILABLE ||
	       (rc == AML__V1__STATUS_CODE__FAILED_PRECONDITION && msg != NULL &&
	        strstr(msg, RPC_NOT_WRITER) != NULL);
}

int
rpc_multi_write(rpc_multi *m, const ProtobufCServiceDescriptor *svc, const char *method,
                const ProtobufCMessage *req, ProtobufCMessage **resp, const rpc_call_opts *o,
                char *msg, size_t msglen)
{
	rpc_call_opts co = o != NULL ? *o : (rpc_call_opts){0};
	int64_t t0 = now_ms(), end = t0 + (co.timeout_ms > 0 ? co.timeout_ms : m->timeout_ms);
	int64_t wait_end = t0 + RPC_MULTI_WRITER_WAIT_MS;
	char local[512];
	int rc = AML__V1__STATUS_CODE__DEADLINE_EXCEEDED;

	if (msg == NULL || msglen == 0) {
		msg = local;
		msglen = sizeof(local);
	}
	for (;;) {
		int start = atomic_load(&m->writer);
		for (int k = 0; k < m->n; k++) {
			int i = (start + k) % m->n;
			int64_t left = end - now_ms();
			if (left <= 0) {
				if (rc == AML__V1__STATUS_CODE__DEADLINE_EXCEEDED)
					snprintf(msg, msglen,
					         "no server accepted the write in time");
				return rc;
			}
			co.timeout_ms = (int)left;
			rc = rpc_client_call_opts(m->c[i], svc, method, req, resp, &co, msg,
			                          msglen);
			if (m->n == 1)
				return rc;
			if (!not_writer(rc, msg)) {
				atomic_store(&m->writer, i);
				return rc;
			}
		}
		if (now_ms() + ROUND_PAUSE_MS >= (wait_end < end ? wait_end : end))
			return rc;
		nanosleep(&(struct timespec){0, ROUND_PAUSE_MS * 1000000L}, NULL);
	}
}
