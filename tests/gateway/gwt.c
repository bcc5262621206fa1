/* gwt.c - HTTP client and process helpers of the gateway tests. Requests are
 * small and answers at most a few MiB, so one blocking socket per request with
 * Connection: close keeps the client obviously correct. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gwt.h"
#include "th.h"

#define ANSWER_MAX       (16 * 1024 * 1024)
#define START_TIMEOUT_MS 10000

const char *
gwt_log_dir(void)
{
	const char *d = getenv("GW_TEST_LOGDIR");

	return d != NULL && d[0] != '\0' ? d : "/tmp";
}

int
gwt_free_port(void)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int
gwt_dial(int port)
{
	return gwt_dial_from(NULL, port);
}

int
gwt_dial_from(const char *src, int port)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (src != NULL) {
		sa.sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, src, &sa.sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		memset(&sa, 0, sizeof(sa));
	}
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes all of buf; a reset by the server (it may answer before reading
 * everything, e.g. 413) ends the write quietly. */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

gwt_resp
gwt_http(int port, const char *method, const char *target, const char *headers, const char *body,
         size_t body_len, int timeout_ms)
{
	return gwt_http_from(NULL, port, method, target, headers, body, body_len, timeout_ms);
}

gwt_resp
gwt_http_from(const char *src, int port, const char *method, const char *target,
              const char *headers, const char *body, size_t body_len, int timeout_ms)
{
	gwt_resp r = {0};
	char *req, *buf, *sep;
	size_t cap = 65536, len = 0, reqlen;
	int64_t t0 = th_now_ms();
	int fd;

	fd = gwt_dial_from(src, port);
	assert_true(fd >= 0);
	reqlen = strlen(target) + (headers != NULL ? strlen(headers) : 0) + 256;
	req = malloc(reqlen);
	assert_non_null(req);
	if (body != NULL) {
		snprintf(req, reqlen,
		         "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
		         "Content-Length: %zu\r\n\r\n",
		         method, target, headers != NULL ? headers : "", body_len);
	} else {
		snprintf(req, reqlen,
		         "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method,
		         target, headers != NULL ? headers : "");
	}
	write_all(fd, req, strlen(req));
	free(req);
	if (body != NULL) {
		write_all(fd, body, body_len);
	}
	buf = malloc(cap + 1);
	assert_non_null(buf);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(t0 + timeout_ms - th_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0) {
			fail_msg("%s %.80s: no full answer within %d ms", method, target,
			         timeout_ms);
		}
		if (len == cap) {
			assert_true(cap < ANSWER_MAX);
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break; /* closed (or reset after an early answer) */
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	r.ms = th_now_ms() - t0;
	if ((sep = strstr(buf, "\r\n\r\n")) == NULL) {
		free(buf);
		return r;
	}
	*sep = '\0';
	r.head = buf;
	r.body = sep + 4;
	r.body_len = len - (size_t)(r.body - buf);
	assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r.status), 1);
	return r;
}

void
gwt_resp_free(gwt_resp *r)
{
	free(r->head);
	memset(r, 0, sizeof(*r));
}

const char *
gwt_header(const gwt_resp *r, const char *name, char *buf, size_t cap)
{
	const char *p = r->head;
	size_t nlen = strlen(name);

	while (p != NULL && (p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1, *end = strstr(v, "\r\n");
			size_t n = end != NULL ? (size_t)(end - v) : strlen(v);

			while (n > 0 && *v == ' ') {
				v++;
				n--;
			}
			snprintf(buf, cap, "%.*s", (int)n, v);
			return buf;
		}
	}
	return NULL;
}

void
gwt_assert_error(const gwt_resp *r, int status)
{
	json_t *j;

	if (r->status != status) {
		fail_msg("expected %d, got %d: %s", status, r->status,
		         r->body != NULL ? r->body : "");
	}
	j = json_loadb(r->body, r->body_len, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_string(json_object_get(j, "detail")));
	json_decref(j);
}

static json_t *
answer_json(gwt_resp *r, const char *what, int want_status)
{
	json_t *j;
	json_error_t err;

	if (r->status != want_status) {
		fail_msg("%s: expected %d, got %d: %.300s", what, want_status, r->status,
		         r->body != NULL ? r->body : "");
	}
	if ((j = json_loadb(r->body, r->body_len, 0, &err)) == NULL) {
		fail_msg("%s: not JSON (%s): %.300s", what, err.text, r->body);
	}
	gwt_resp_free(r);
	return j;
}

json_t *
gwt_get_json(int port, const char *target, int want_status)
{
	gwt_resp r = gwt_http(port, "GET", target, NULL, NULL, 0, 30000);

	return answer_json(&r, target, want_status);
}

json_t *
gwt_post_json(int port, const char *target, const char *body, const char *token, int want_status)
{
	char auth[256] = "";
	gwt_resp r;

	if (token != NULL) {
		snprintf(auth, sizeof(auth),
		         "Authorization: Bearer %s\r\n"
		         "Content-Type: application/json\r\n",
		         token);
	}
	r = gwt_http(port, "POST", target, auth, body, body != NULL ? strlen(body) : 0, 120000);
	return answer_json(&r, target, want_status);
}

double
gwt_metric(int port, const char *name)
{
	gwt_resp r = gwt_http(port, "GET", "/metrics", NULL, NULL, 0, 10000);
	const char *at = r.body;
	size_t len = strlen(name);
	double v;

	assert_int_equal(r.status, 200);
	/* the sample line: name at a line's start (or given with its "\n"), then
	 * a space or its labels (not the # HELP and # TYPE lines) */
	bool whole = len > 0 && (name[len - 1] == ' ' || name[len - 1] == '}');

	while ((at = strstr(at, name)) != NULL &&
	       ((name[0] != '\n' && at != r.body && at[-1] != '\n') ||
	        (!whole && at[len] != ' ' && at[len] != '{'))) {
		at += len;
	}
	if (at == NULL) {
		fail_msg("no %s in /metrics", name);
	}
	v = strtod(at + len, NULL);
	gwt_resp_free(&r);
	return v;
}

pid_t
gwt_gateway_start(int port, const char *rpc_url, char *const env[], const char *logpath)
{
	char listen[64];
	char *argv[] = {"amlrisk-gateway", "--listen", listen, "--rpc-url", (char *)rpc_url, NULL};
	pid_t pid;
	int64_t end = th_now_ms() + START_TIMEOUT_MS;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	pid = th_spawn("amlrisk-gateway", argv, env, logpath);
	while (th_now_ms() < end) {
		int fd = gwt_dial(port);

		if (fd >= 0) {
			gwt_resp r;

			close(fd);
			r = gwt_http(port, "GET", "/openapi.json", NULL, NULL, 0, 5000);
			assert_int_equal(r.status, 200);
			gwt_resp_free(&r);
			return pid;
		}
		usleep(20000);
	}
	fail_msg("amlrisk-gateway did not listen on %d within %d ms; see %s", port,
	         START_TIMEOUT_MS, logpath);
	return -1;
}

void
gwt_log_path(char *buf, size_t len, const char *test, const char *what)
{
	snprintf(buf, len, "%s/%s.%s.%d.log", gwt_log_dir(), test, what, (int)getpid());
}

void
gwt_teardown(pid_t gw_pid, pid_t core_pid, const char *db_url)
{
	if (gw_pid > 0) {
		th_stop(gw_pid, SIGTERM, 10000);
	}
	if (core_pid > 0) {
		th_stop(core_pid, SIGTERM, 30000);
	}
	th_db_drop(db_url);
}

pid_t
gwt_core_start(const char *db_url, const char *rpc_url, const char *logpath)
{
	char env_db[600], env_rpc[300];
	char *env[] = {env_db, env_rpc, NULL};
	char *argv[] = {"amlrisk-core", NULL};

	snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db_url);
	snprintf(env_rpc, sizeof(env_rpc), "RPC_LISTEN=%s", rpc_url);
	return th_spawn("amlrisk-core", argv, env, logpath);
}

void
gwt_wait_status(int port, const char *target, int want, int timeout_ms, const char *logs)
{
	int64_t end = th_now_ms() + timeout_ms;
	int last = 0;

	while (th_now_ms() < end) {
		gwt_resp r = gwt_http(port, "GET", target, NULL, NULL, 0, 30000);

		last = r.status;
		gwt_resp_free(&r);
		if (last == want) {
			return;
		}
		usleep(50000);
	}
	fail_msg("%s: still %d after %d ms (want %d); see %s", target, last, timeout_ms, want,
	         logs);
}

void
gwt_sse_open(int port, gwt_sse *c, const char *headers, int rcvbuf)
{
	struct sockaddr_in sa = {0};
	char req[256];
	int n;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	if (rcvbuf > 0) {
		assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)),
		                 0);
	}
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = snprintf(req, sizeof(req), "GET /alerts/stream HTTP/1.0\r\nHost: x\r\n%s\r\n", headers);
	assert_int_equal(write(c->fd, req, (size_t)n), n);
}

int
gwt_sse_wait(gwt_sse *c, const char *needle, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int left = (int)(end - th_now_ms());
		ssize_t n;

		if (c->buf != NULL && strstr(c->buf, needle) != NULL) {
			return 1;
		}
		if (c->eof || left <= 0 || poll(&p, 1, left) <= 0) {
			return 0;
		}
		if (c->cap - c->len < 65537) {
			c->cap = c->cap * 2 + 131072;
			c->buf = realloc(c->buf, c->cap);
			assert_non_null(c->buf);
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n <= 0) {
			c->eof = 1;
			n = 0;
		}
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
	}
}

void
gwt_sse_close(gwt_sse *c)
{
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

void
gwt_sse_open_ok(int port, gwt_sse *c, const char *headers, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;

	for (;;) {
		gwt_sse_open(port, c, headers, 0);
		if (gwt_sse_wait(c, "\r\n\r\n", 5000) && strncmp(c->buf + 8, " 200 ", 5) == 0) {
			return;
		}
		gwt_sse_close(c);
		assert_true(th_now_ms() < end);
		usleep(50 * 1000);
	}
}
