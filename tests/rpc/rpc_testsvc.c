/* rpc_testsvc.c - rpctest.v1.TestService for the RPC tests: handlers that answer
 * at once, later from a thread of their own, with a failure, or wrongly; plus
 * server/client/raw-socket helpers. A few hundred calls per test at most. */
#include "rpc_testsvc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "amlrisk_err.h"

atomic_int tsvc_echo_started;
atomic_int tsvc_echo_running;
atomic_int tsvc_write_runs;

static atomic_int later_live; /* Later threads not yet finished */

int64_t
tsvc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
svc_echo(Rpctest__V1__TestService_Service *svc, const Rpctest__V1__EchoRequest *in,
         Rpctest__V1__EchoResponse_Closure closure, void *cd)
{
	Rpctest__V1__EchoResponse out = RPCTEST__V1__ECHO_RESPONSE__INIT;
	const char *caller = rpc_call_metadata(cd, "caller");

	(void)svc;
	atomic_fetch_add(&tsvc_echo_started, 1);
	if (in->sleep_ms != 0) {
		atomic_fetch_add(&tsvc_echo_running, 1);
		nng_msleep(in->sleep_ms);
		atomic_fetch_sub(&tsvc_echo_running, 1);
	}
	out.text = in->text; /* borrowed: closure packs before returning */
	out.blob = in->blob;
	if (in->reply_blob != 0) {
		out.blob.len = in->reply_blob;
		out.blob.data = calloc(1, in->reply_blob);
		assert_non_null(out.blob.data);
	}
	out.time_left_ms = rpc_call_time_left_ms(cd);
	out.caller = (char *)(caller != NULL ? caller : "");
	closure(&out, cd);
	if (in->reply_blob != 0) {
		free(out.blob.data);
	}
}

/* A Later call handed to a thread, as a long RunScore is: the handler copies
 * what it needs, the library frees the input when the handler returns. */
typedef struct later_job {
	Rpctest__V1__EchoResponse_Closure closure;
	void *cd;
	char *text;
	uint32_t sleep_ms;
	int time_left_ms;
} later_job;

static void *
later_main(void *arg)
{
	later_job *job = arg;
	Rpctest__V1__EchoResponse out = RPCTEST__V1__ECHO_RESPONSE__INIT;

	nng_msleep(job->sleep_ms);
	out.text = job->text;
	out.time_left_ms = job->time_left_ms;
	job->closure(&out, job->cd);
	free(job->text);
	free(job);
	atomic_fetch_sub(&later_live, 1);
	return NULL;
}

static void
svc_later(Rpctest__V1__TestService_Service *svc, const Rpctest__V1__EchoRequest *in,
          Rpctest__V1__EchoResponse_Closure closure, void *cd)
{
	pthread_attr_t attr;
	pthread_t th;
	later_job *job;
	int rv;

	(void)svc;
	if ((job = calloc(1, sizeof(*job))) == NULL || (job->text = strdup(in->text)) == NULL) {
		free(job);
		rpc_call_fail(cd, AMLRISK_ENOMEM, "no memory for the job");
		return;
	}
	job->closure = closure;
	job->cd = cd;
	job->sleep_ms = in->sleep_ms;
	job->time_left_ms = rpc_call_time_left_ms(cd);
	atomic_fetch_add(&later_live, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rv = pthread_create(&th, &attr, later_main, job);
	pthread_attr_destroy(&attr);
	if (rv != 0) {
		atomic_fetch_sub(&later_live, 1);
		free(job->text);
		free(job);
		rpc_call_fail(cd, AMLRISK_EFULL, "no thread for the job");
	}
}

void
tsvc_join_later(void)
{
	while (atomic_load(&later_live) > 0) {
		nng_msleep(1);
	}
}

static void
svc_fail(Rpctest__V1__TestService_Service *svc, const Rpctest__V1__EchoRequest *in,
         Rpctest__V1__EchoResponse_Closure closure, void *cd)
{
	(void)svc;
	(void)closure;
	rpc_call_fail(cd, AMLRISK_ENOTFOUND, "wallet %s not found", in->text);
}

static void
svc_nothing(Rpctest__V1__TestService_Service *svc, const Rpctest__V1__EchoRequest *in,
            Rpctest__V1__EchoResponse_Closure closure, void *cd)
{
	(void)svc;
	(void)in;
	closure(NULL, cd);
}

static void
svc_wrong_type(Rpctest__V1__TestService_Service *svc, const Rpctest__V1__EchoRequest *in,
               Rpctest__V1__EchoResponse_Closure closure, void *cd)
{
	Rpctest__V1__Other other = RPCTEST__V1__OTHER__INIT;

	(void)svc;
	(void)in;
	closure((const Rpctest__V1__EchoResponse *)(const void *)&other, cd);
}

static void
svc_strict(Rpctest__V1__TestService_Service *svc, const Rpctest__V1__Other *in,
           Rpctest__V1__Other_Closure closure, void *cd)
{
	Rpctest__V1__Other out = RPCTEST__V1__OTHER__INIT;

	(void)svc;
	out.name = in->name;
	closure(&out, cd);
}

/* A write call: every run is counted and answered with its number. */
static void
svc_write(Rpctest__V1__TestService_Service *svc, const Rpctest__V1__EchoRequest *in,
          Rpctest__V1__EchoResponse_Closure closure, void *cd)
{
	Rpctest__V1__EchoResponse out = RPCTEST__V1__ECHO_RESPONSE__INIT;
	char text[32];

	(void)svc;
	snprintf(text, sizeof(text), "run %d", atomic_fetch_add(&tsvc_write_runs, 1) + 1);
	if (in->sleep_ms != 0) {
		nng_msleep(in->sleep_ms);
	}
	out.text = text;
	closure(&out, cd);
}

#define svc_missing NULL
static Rpctest__V1__TestService_Service test_service = RPCTEST__V1__TEST_SERVICE__INIT(svc_);

ProtobufCService *
tsvc_service(void)
{
	return &test_service.base;
}

void
tsvc_url(char *buf, size_t len, const char *kind)
{
	static atomic_int seq;
	int n = atomic_fetch_add(&seq, 1);

	if (strcmp(kind, "ipc") == 0) {
		snprintf(buf, len, "ipc:///tmp/amlrisk-rpctest-%d-%d.sock", (int)getpid(), n);
	} else if (strcmp(kind, "tls") == 0) {
		snprintf(buf, len, "tls+tcp://127.0.0.1:0");
	} else {
		snprintf(buf, len, "tcp://127.0.0.1:0");
	}
}

void
tsvc_bound_url(char *buf, size_t len, const char *url, const rpc_server *srv)
{
	const char *colon = strrchr(url, ':');

	if (strncmp(url, "ipc", 3) == 0 || strcmp(colon, ":0") != 0) {
		snprintf(buf, len, "%s", url);
	} else {
		snprintf(buf, len, "%.*s:%d", (int)(colon - url), url, rpc_server_port(srv));
	}
}

rpc_server *
tsvc_server(const char *url, const rpc_server_opts *opts)
{
	rpc_server_opts o = {0};
	rpc_server *srv = NULL;

	if (opts != NULL) {
		o = *opts;
	}
	if (strncmp(url, "tls", 3) == 0) {
		o.tls_cert_key_file = RPCTEST_TLS_DIR "/server.pem";
	}
	assert_int_equal(rpc_server_create(&srv, url, &o), AMLRISK_OK);
	assert_int_equal(rpc_server_add_service(srv, tsvc_service()), AMLRISK_OK);
	assert_int_equal(rpc_server_start(srv), AMLRISK_OK);
	return srv;
}

rpc_client *
tsvc_client(const char *url, int max_msg)
{
	rpc_client_opts o = {0};
	rpc_client *c = NULL;

	o.caller = "tester";
	o.max_msg = (size_t)max_msg;
	/* as generous as the calls that should succeed: under valgrind a first
	 * connection (a TLS handshake above all) can take seconds */
	o.start_timeout_ms = TSVC_WAIT_MS;
	if (strncmp(url, "tls", 3) == 0) {
		o.tls_ca_file = RPCTEST_TLS_DIR "/ca.pem";
		o.tls_server_name = "localhost";
	}
	assert_int_equal(rpc_client_create(&c, url, &o), AMLRISK_OK);
	return c;
}

void
tsvc_wait_connected(rpc_client *c)
{
	int64_t end = tsvc_now_ms() + TSVC_WAIT_MS;

	while (!rpc_client_connected(c) && tsvc_now_ms() < end) {
		nng_msleep(2);
	}
	assert_true(rpc_client_connected(c));
}

/* tsvc_call() and tsvc_call_coalesced(): the one body of both. */
static int
call_any(rpc_client *c, const char *method, const char *text, size_t blob_len, uint32_t sleep_ms,
         int timeout_ms, Rpctest__V1__EchoResponse **out, char *msg, size_t msglen, bool co)
{
	Rpctest__V1__EchoRequest req = RPCTEST__V1__ECHO_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	uint8_t *blob = NULL;
	int rc;

	if (blob_len > 0) {
		blob = malloc(blob_len);
		assert_non_null(blob);
		memset(blob, 'x', blob_len);
	}
	req.text = (char *)text;
	req.blob.data = blob;
	req.blob.len = blob_len;
	req.sleep_ms = sleep_ms;
	rc = (co ? rpc_client_call_coalesced : rpc_client_call)(
	        c, &rpctest__v1__test_service__descriptor, method, &req.base, &resp, timeout_ms, msg,
	        msglen);
	free(blob);
	if (rc == 0) {
		assert_non_null(resp);
		assert_ptr_equal(resp->descriptor, &rpctest__v1__echo_response__descriptor);
		if (out != NULL) {
			*out = (Rpctest__V1__EchoResponse *)resp;
		} else {
			protobuf_c_message_free_unpacked(resp, NULL);
		}
	} else {
		assert_null(resp);
	}
	return rc;
}

int
tsvc_call(rpc_client *c, const char *method, const char *text, size_t blob_len, uint32_t sleep_ms,
          int timeout_ms, Rpctest__V1__EchoResponse **out, char *msg, size_t msglen)
{
	return call_any(c, method, text, blob_len, sleep_ms, timeout_ms, out, msg, msglen, false);
}

int
tsvc_call_coalesced(rpc_client *c, const char *method, const char *text, size_t blob_len,
                    uint32_t sleep_ms, int timeout_ms, Rpctest__V1__EchoResponse **out, char *msg,
                    size_t msglen)
{
	return call_any(c, method, text, blob_len, sleep_ms, timeout_ms, out, msg, msglen, true);
}

void
tsvc_free(Rpctest__V1__EchoResponse *r)
{
	if (r != NULL) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
}

int
tsvc_raw(const char *url, const void *buf, size_t len, int timeout_ms, Aml__V1__RpcResponse **reply)
{
	nng_socket s;
	nng_msg *m = NULL;
	int rv;

	*reply = NULL;
	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms), 0);
	/* no redial after the server drops us: NNG 1.5.2 can leak a connection
	 * attempt that a close races with */
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 600000), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 600000), 0);
	assert_int_equal(nng_dial(s, url, NULL, 0), 0);
	assert_int_equal(nng_msg_alloc(&m, 0), 0);
	assert_int_equal(nng_msg_append(m, buf, len), 0);
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
	} else if ((rv = nng_recvmsg(s, &m, 0)) == 0) {
		*reply = aml__v1__rpc_response__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
		nng_msg_free(m);
	}
	nng_close(s);
	return rv;
}

Aml__V1__RpcResponse *
tsvc_raw_envelope(const char *url, uint64_t id, const char *method, uint32_t timeout_ms,
                  const void *payload, size_t len)
{
	Aml__V1__RpcRequest req = AML__V1__RPC_REQUEST__INIT;
	Aml__V1__RpcCall call = AML__V1__RPC_CALL__INIT;

	call.request_id = id;
	call.method = (char *)method;
	call.timeout_ms = timeout_ms;
	call.payload.data = (uint8_t *)payload;
	call.payload.len = len;
	req.call = &call;
	return tsvc_raw_request(url, &req);
}

Aml__V1__RpcResponse *
tsvc_raw_request(const char *url, const Aml__V1__RpcRequest *req)
{
	Aml__V1__RpcResponse *reply = NULL;
	uint8_t *buf;
	size_t n;

	n = aml__v1__rpc_request__get_packed_size(req);
	buf = malloc(n + 1);
	assert_non_null(buf);
	aml__v1__rpc_request__pack(req, buf);
	assert_int_equal(tsvc_raw(url, buf, n, 5000, &reply), 0);
	free(buf);
	assert_non_null(reply);
	assert_non_null(reply->reply);
	/* 0 is the answer to an envelope the server could not read */
	if (reply->reply->request_id != 0 || reply->reply->status == AML__V1__STATUS_CODE__OK) {
		assert_int_equal(reply->reply->request_id,
		                 req->call != NULL ? req->call->request_id : req->batch_id);
	}
	return reply;
}
