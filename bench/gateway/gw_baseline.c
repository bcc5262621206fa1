/* gw_baseline.c - the gateway benchmark's baseline: a libmicrohttpd handler
 * answering every request with one fixed JSON body of a given size, run with
 * the gateway's own daemon flags, pool size (gw_pool.h: the same rule against
 * libmicrohttpd's stall) and connection limit. What HTTP alone costs here.
 * usage: amlrisk-gw-baseline PORT BODY_BYTES [THREADS] */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "gw_pool.h"

#define CONN_LIMIT 1024u /* the gateway's default --max-connections */

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	static int seen;
	struct MHD_Response *resp = cls;

	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	/* the first call comes with the headers: answering then makes MHD close
	 * the connection (it will not read what may follow); the answer goes in
	 * the last call, once the request is whole, so the connection stays open */
	if (*con_cls == NULL) {
		*con_cls = &seen;
		return MHD_YES;
	}
	*upload_size = 0;
	return MHD_queue_response(conn, MHD_HTTP_OK, resp);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct MHD_Response *resp;
	sigset_t sigs;
	char *body;
	long port, len, threads;
	int sig;

	if (argc < 3 || (port = strtol(argv[1], NULL, 10)) <= 0 ||
	    (len = strtol(argv[2], NULL, 10)) < 16 || len > 1 << 20) {
		fprintf(stderr, "usage: %s PORT BODY_BYTES [THREADS]\n", argv[0]);
		return 2;
	}
	threads = argc > 3 ? strtol(argv[3], NULL, 10) : 16;
	if ((body = malloc((size_t)len)) == NULL) {
		return 1;
	}
	/* {"detail":"xxxx...x"}: valid JSON of exactly len bytes */
	memset(body, 'x', (size_t)len);
	memcpy(body, "{\"detail\":\"", 11);
	memcpy(body + len - 2, "\"}", 2);
	resp = MHD_create_response_from_buffer((size_t)len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL || MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                                            "application/json") != MHD_YES) {
		return 1;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	d = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
	        (uint16_t)port, NULL, NULL, on_request, resp, MHD_OPTION_THREAD_POOL_SIZE,
	        gw_pool_threads((unsigned int)threads, CONN_LIMIT), MHD_OPTION_CONNECTION_LIMIT,
	        CONN_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "%s: cannot listen on %ld\n", argv[0], port);
		return 1;
	}
	sigwait(&sigs, &sig);
	MHD_stop_daemon(d);
	MHD_destroy_response(resp);
	return 0;
}
