/* amlrisk_metrics_http.c - binds the metrics address itself (so a port in use
 * is reported by name) and hands the socket to a libmicrohttpd daemon with one
 * internal thread: scrapes are rare and small. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "amlrisk_err.h"
#include "amlrisk_metrics_http.h"

#define RENDER_MAX (4u << 20) /* bytes of one exposition at most */

struct amlrisk_metrics_http {
	struct MHD_Daemon *d;
	amlrisk_metrics *reg; /* borrowed */
	int port;
};

/* Splits "host:port" into host (cap bytes) and port. */
static int
split(const char *addr, char *host, size_t cap, int *port, char *err, size_t errlen)
{
	const char *colon = addr != NULL ? strrchr(addr, ':') : NULL;
	char *end;
	long p;

	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= cap) {
		snprintf(err, errlen, "metrics: expected HOST:PORT, got '%s'",
		         addr != NULL ? addr : "");
		return AMLRISK_EINVAL;
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535) {
		snprintf(err, errlen, "metrics: bad port in '%s' (0..65535)", addr);
		return AMLRISK_EINVAL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	*port = (int)p;
	return AMLRISK_OK;
}

int
amlrisk_metrics_http_check(const char *addr, char *err, size_t errlen)
{
	char host[256];
	int port;

	return split(addr, host, sizeof(host), &port, err, errlen);
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_len, void **state)
{
	amlrisk_metrics_http *h = cls;
	struct MHD_Response *rsp;
	enum MHD_Result ret;
	amlrisk_buf b;
	unsigned status = MHD_HTTP_OK;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	amlrisk_buf_init(&b, RENDER_MAX);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		amlrisk_buf_add(&b, "GET only\n", 9);
	} else if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		amlrisk_buf_add(&b, "not found: see /metrics\n", 24);
	} else {
		amlrisk_metrics_render(h->reg, &b);
		if (b.failed) {
			amlrisk_buf_free(&b);
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			amlrisk_buf_add(&b, "metrics: exposition too large\n", 30);
		}
	}
	rsp = MHD_create_response_from_buffer(b.len, b.len > 0 ? b.data : (void *)"",
	                                      MHD_RESPMEM_MUST_COPY);
	amlrisk_buf_free(&b);
	if (rsp == NULL) {
		return MHD_NO;
	}
	MHD_add_response_header(rsp, "Content-Type",
	                        status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
	                                              : "text/plain; charset=utf-8");
	ret = MHD_queue_response(c, status, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

/* A socket bound to host:port and listening; -1 with err set. */
static int
bind_addr(const char *addr, const char *host, int port, int *bound, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char ports[16];
	int fd = -1, one = 1, rc;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(ports, sizeof(ports), "%d", port);
	if ((rc = getaddrinfo(host, ports, &hints, &res)) != 0) {
		snprintf(err, errlen, "metrics: cannot resolve %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0) {
		snprintf(err, errlen, "metrics: socket: %s", strerror(errno));
		goto cleanup;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		snprintf(err, errlen, "metrics: %s: %s",
		         errno == EADDRINUSE ? "address already in use" : strerror(errno), addr);
		close(fd);
		fd = -1;
		goto cleanup;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET) {
		*bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
cleanup:
	freeaddrinfo(res);
	return fd;
}

int
amlrisk_metrics_http_start(amlrisk_metrics *r, const char *addr, amlrisk_metrics_http **out,
                           char *err, size_t errlen)
{
	amlrisk_metrics_http *h = NULL;
	char host[256];
	int port, fd = -1, rc;

	if ((rc = split(addr, host, sizeof(host), &port, err, errlen)) != AMLRISK_OK) {
		return rc;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return AMLRISK_ENOMEM;
	}
	h->reg = r;
	h->port = port;
	if ((fd = bind_addr(addr, host, port, &h->port, err, errlen)) < 0) {
		rc = AMLRISK_EIO;
		goto cleanup;
	}
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	                        answer, h, MHD_OPTION_LISTEN_SOCKET, fd,
	                        MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT,
	                        10u, MHD_OPTION_END);
	if (h->d == NULL) {
		snprintf(err, errlen, "metrics: cannot start the HTTP server on %s", addr);
		close(fd);
		rc = AMLRISK_EIO;
		goto cleanup;
	}
	*out = h;
	return AMLRISK_OK;
cleanup:
	free(h);
	return rc;
}

void
amlrisk_metrics_http_destroy(amlrisk_metrics_http *h)
{
	if (h == NULL) {
		return;
	}
	MHD_stop_daemon(h->d); /* closes the listening socket */
	free(h);
}

int
amlrisk_metrics_http_port(const amlrisk_metrics_http *h)
{
	return h->port;
}
