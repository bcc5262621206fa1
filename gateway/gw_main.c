/* gw_main.c - amlrisk-gateway: reads its settings, connects the RPC client to
 * the core, serves HTTP until SIGTERM/SIGINT, then stops cleanly. All request
 * work happens on libmicrohttpd's pool threads; this thread only waits for a signal. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "gw_config.h"
#include "gw_metrics.h"
#include "gw_route.h"
#include "gw_server.h"
#include "gw_static.h"
#include "gw_sse.h"
#include "gw_topcache.h"

#define ERR_MAX 256

/* "METHOD PATH ACCESS" per route; ACCESS is open, read or write (gw_auth.h). */
static void
routes_print(void)
{
	static const char *const access[] = {
	        [GW_AUTH_NONE] = "open", [GW_AUTH_WRITE] = "write", [GW_AUTH_READ] = "read"};
	int i;

	for (i = 0; i < gw_route_count(); i++) {
		const gw_route *r = gw_route_at(i);

		printf("%s %s %s\n", r->method, r->path, access[r->auth]);
	}
}

int
main(int argc, char **argv)
{
	gw_config cfg;
	gw_app app = {0};
	gw_static *docs = NULL;
	gw_server *srv = NULL;
	rpc_client_opts ropts = {0};
	gw_sse_opts sse_opts = {0};
	static rpc_secret secret;
	sigset_t sigs;
	char err[ERR_MAX];
	int rv, sig = 0, status = 1;

	if (gw_config_parse(&cfg, argc, argv, err, sizeof(err)) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-gateway: %s\n", err);
		return 2;
	}
	if (cfg.help) {
		gw_config_usage(argv[0]);
		return 0;
	}
	if (cfg.list_routes) {
		routes_print();
		return 0;
	}
	if (rpc_secret_from_env(&secret, err, sizeof(err)) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-gateway: %s\n", err);
		return 2;
	}
	amlrisk_log_init(-1);
	/* signals are taken by sigwait below; every thread started after this
	 * inherits the mask, so none of them is interrupted */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	ropts.timeout_ms = cfg.rpc_timeout_ms;
	ropts.start_timeout_ms = cfg.rpc_timeout_ms; /* long calls too, until they run */
	ropts.caller = "amlrisk-gateway";
	ropts.secret = secret.current[0] != '\0' ? secret.current : NULL;
	ropts.tls_ca_file = cfg.rpc_tls_ca;
	ropts.tls_cert_key_file = cfg.rpc_tls_cert_key;
	ropts.tls_server_name = cfg.rpc_tls_server_name;
	ropts.coalesce_batches = cfg.rpc_batches;
	app.coalesce = cfg.rpc_batches > 0;
	if ((rv = rpc_multi_create(&app.rpc, cfg.rpc_url, &ropts, err, sizeof(err))) !=
	    AMLRISK_OK) {
		amlrisk_log(AMLRISK_LOG_ERROR, "gateway", "rpc.client_failed",
		            "url=%s err=%s msg=\"%s\"", cfg.rpc_url, amlrisk_errname(rv), err);
		goto out;
	}
	if ((rv = gw_metrics_create(&app.metrics)) != AMLRISK_OK ||
	    (rv = gw_static_create(&docs, cfg.docs_dir)) != AMLRISK_OK ||
	    (cfg.top_cache && (rv = gw_topcache_create(&app.topcache)) != AMLRISK_OK)) {
		amlrisk_log(AMLRISK_LOG_ERROR, "gateway", "start.failed", "err=%s",
		            amlrisk_errname(rv));
		goto out;
	}
	if (gw_static_missing(docs) != NULL) {
		amlrisk_log(AMLRISK_LOG_WARN, "gateway", "docs.missing",
		            "dir=%s file=%s hint=\"run scripts/bootstrap\"", cfg.docs_dir,
		            gw_static_missing(docs));
	}
	app.docs = docs;
	app.rpc_timeout_ms = cfg.rpc_timeout_ms;
	app.long_timeout_ms = cfg.long_timeout_ms;
	sse_opts.max_subs = cfg.sse_max;
	sse_opts.buf_max = (size_t)cfg.sse_buffer;
	sse_opts.slow_ms = cfg.sse_slow_ms;
	sse_opts.poll_ms = cfg.sse_poll_ms;
	sse_opts.heartbeat_ms = cfg.sse_heartbeat_ms;
	if ((rv = gw_sse_hub_create(&app.sse, &app, &sse_opts)) != AMLRISK_OK) {
		amlrisk_log(AMLRISK_LOG_ERROR, "gateway", "start.failed", "err=%s",
		            amlrisk_errname(rv));
		goto out;
	}
	if ((rv = gw_server_start(&srv, &app, &cfg, err, sizeof(err))) != AMLRISK_OK) {
		amlrisk_log(AMLRISK_LOG_ERROR, "gateway", "http.start_failed", "err=%s msg=\"%s\"",
		            amlrisk_errname(rv), err);
		goto out;
	}
	amlrisk_log(AMLRISK_LOG_INFO, "gateway", "started",
	            "listen=%s:%d rpc=%s threads=%d auth=%s read_auth=%s", cfg.host,
	            gw_server_port(srv), cfg.rpc_url, cfg.threads,
	            cfg.token != NULL ? "bearer" : "off",
	            cfg.read_token != NULL ? "bearer" : "off");
	if (cfg.read_token != NULL && cfg.token == NULL) {
		amlrisk_log(AMLRISK_LOG_WARN, "gateway", "auth.read_token_only",
		            "msg=\"AML_READ_TOKEN without AML_API_TOKEN: the write endpoints take "
		            "the read token\"");
	}
	if (sigwait(&sigs, &sig) != 0) {
		goto out;
	}
	amlrisk_log(AMLRISK_LOG_INFO, "gateway", "stopping", "signal=%d", sig);
	status = 0;
out:
	gw_sse_hub_shutdown(app.sse); /* the streams end before the server waits for them */
	gw_server_stop(srv);
	gw_sse_hub_destroy(app.sse);
	gw_static_destroy(docs);
	gw_metrics_destroy(app.metrics);
	gw_topcache_destroy(app.topcache);
	rpc_multi_destroy(app.rpc);
	if (status == 0) {
		amlrisk_log(AMLRISK_LOG_INFO, "gateway", "stopped", "signal=%d", sig);
	}
	return status;
}
