/* gwt.h - the gateway tests' helpers: a tiny blocking HTTP/1.1 client over a
 * socket (one request per connection), free ports, and starting
 * build/bin/amlrisk-gateway until it answers. Every helper asserts with cmocka. */
#ifndef GWT_H
#define GWT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>
#include <jansson.h>

typedef struct gwt_resp {
	int status; /* 0 when the connection closed without an answer */
	char *head; /* status line and headers, NUL-terminated */
	char *body; /* NUL-terminated (body_len bytes before the NUL) */
	size_t body_len;
	int64_t ms; /* time to the full answer */
} gwt_resp;

/* Where tests write the logs of the processes they start: GW_TEST_LOGDIR
 * (the build's tests/ folder under CTest) or /tmp. Kept for a failure's reading. */
const char *gwt_log_dir(void);

/* A TCP port free on 127.0.0.1 right now. */
int gwt_free_port(void);

/* A TCP connection to 127.0.0.1:port, or -1 when refused. */
int gwt_dial(int port);
/* The same from the local address src ("127.0.0.2": another client address
 * on loopback; NULL: any). */
int gwt_dial_from(const char *src, int port);

/* Sends method target to 127.0.0.1:port with extra header lines (each ending
 * "\r\n", or NULL) and body (body_len bytes, Content-Length set when body is
 * non-NULL), reads the answer until the server closes. Asserts the exchange
 * finishes within timeout_ms. Caller frees with gwt_resp_free(). */
gwt_resp gwt_http(int port, const char *method, const char *target, const char *headers,
                  const char *body, size_t body_len, int timeout_ms);
/* gwt_http() from the local address src (as gwt_dial_from). */
gwt_resp gwt_http_from(const char *src, int port, const char *method, const char *target,
                       const char *headers, const char *body, size_t body_len, int timeout_ms);
void gwt_resp_free(gwt_resp *r);

/* GET target; asserts the status and, for JSON answers, returns the parsed body
 * (caller json_decref()s; NULL when want_json is 0). */
json_t *gwt_get_json(int port, const char *target, int want_status);
/* The same for POST with a body (may be NULL) and an Authorization token (may be NULL). */
json_t *gwt_post_json(int port, const char *target, const char *body, const char *token,
                      int want_status);

/* Asserts the answer is JSON {"detail": <string>} with status; returns nothing. */
void gwt_assert_error(const gwt_resp *r, int status);

/* The value of header name in r (case-insensitive), copied into buf; NULL if absent. */
const char *gwt_header(const gwt_resp *r, const char *name, char *buf, size_t cap);

/* The value after name (a sample with its labels and the space, or "\nname ")
 * in GET /metrics of the gateway on port; fails the test when absent. */
double gwt_metric(int port, const char *name);

/* Starts amlrisk-gateway on port talking to rpc_url, with extra environment
 * entries (NULL-terminated, may be NULL), logging to logpath, and waits until
 * GET /openapi.json answers 200. Returns the pid (stop with th_stop). */
pid_t gwt_gateway_start(int port, const char *rpc_url, char *const env[], const char *logpath);

/* The log path of process what of test: <gwt_log_dir()>/<test>.<what>.<pid>.log */
void gwt_log_path(char *buf, size_t len, const char *test, const char *what);

/* Stops the gateway and the core (pids <= 0 are skipped), drops db_url. */
void gwt_teardown(pid_t gw_pid, pid_t core_pid, const char *db_url);

/* Starts build/bin/amlrisk-core on db_url and rpc_url (extra environment
 * inherited), logging to logpath; does not wait. Returns the pid. */
pid_t gwt_core_start(const char *db_url, const char *rpc_url, const char *logpath);

/* Polls GET target on the gateway at port until it answers want; fails the
 * test after timeout_ms, naming the logs (a free text) to read. */
void gwt_wait_status(int port, const char *target, int want, int timeout_ms, const char *logs);

/* A client of GET /alerts/stream: all bytes read so far (NUL-terminated). */
typedef struct gwt_sse {
	int fd;
	char *buf;
	size_t len, cap;
	int eof;
} gwt_sse;

/* Opens GET /alerts/stream on port (HTTP/1.0: no chunks between the events)
 * with extra header lines (each ending "\r\n", or ""); rcvbuf > 0 shrinks the
 * socket's receive buffer first (a client that reads slowly). */
void gwt_sse_open(int port, gwt_sse *c, const char *headers, int rcvbuf);
/* Reads until needle is in what came (1), or the server closes or timeout_ms
 * passes (0). */
int gwt_sse_wait(gwt_sse *c, const char *needle, int timeout_ms);
void gwt_sse_close(gwt_sse *c);
/* Opens streams until one is answered 200 (a gateway releases closed
 * subscribers at their next heartbeat), asserting one is within timeout_ms. */
void gwt_sse_open_ok(int port, gwt_sse *c, const char *headers, int timeout_ms);

#endif
