/* gw_config.c - flags, environment variables and defaults of amlrisk-gateway,
 * described in one table so --help and the parser cannot disagree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "gw_config.h"
#include "rpc.h"
#include "rpc_multi.h"

#ifndef GW_DOCS_DIR_DEFAULT
#define GW_DOCS_DIR_DEFAULT "gateway/node_modules/swagger-ui-dist"
#endif

typedef enum opt_kind { OPT_STR, OPT_INT, OPT_FLAG } opt_kind;

/* One setting: its flag, its environment variable (or NULL), where it goes. */
typedef struct opt {
	const char *flag;
	const char *env;
	opt_kind kind;
	size_t off; /* offset in gw_config */
	int min, max;
	const char *help;
} opt;

#define OFF(f) offsetof(gw_config, f)

static const opt opts[] = {
        {"--listen", "HTTP_LISTEN", OPT_STR, OFF(listen), 0, 0,
         "HOST:PORT to listen on (numeric IPv4; default " GW_LISTEN_DEFAULT ")"},
        {"--rpc-url", "RPC_URL", OPT_STR, OFF(rpc_url), 0, 0,
         "the core's RPC address, or several instances' comma-separated (reads spread "
         "over them, writes go to the elected writer; default " RPC_DEFAULT_URL ")"},
        {"--rpc-tls-ca", "RPC_TLS_CA", OPT_STR, OFF(rpc_tls_ca), 0, 0,
         "tls+tcp:// RPC: the CA that signed the core's certificate"},
        {"--rpc-tls-cert-key", "RPC_TLS_CERT_KEY", OPT_STR, OFF(rpc_tls_cert_key), 0, 0,
         "tls+tcp:// RPC: this gateway's certificate and key (PEM), for a core that requires "
         "client certificates"},
        {"--rpc-tls-server-name", "RPC_TLS_SERVER_NAME", OPT_STR, OFF(rpc_tls_server_name), 0, 0,
         "tls+tcp:// RPC: the name the core's certificate must carry (default the URL's host)"},
        {"--token", "AML_API_TOKEN", OPT_STR, OFF(token), 0, 0,
         "when set, POST endpoints need 'Authorization: Bearer <token>'"},
        {"--read-token", "AML_READ_TOKEN", OPT_STR, OFF(read_token), 0, 0,
         "when set, the query endpoints (scores, explain, graph, runs, ingestion) need "
         "'Authorization: Bearer <read token or write token>'; /health, /ready, /metrics, "
         "/openapi.json and /docs stay open (default unset: open)"},
        {"--docs-dir", "GATEWAY_DOCS_DIR", OPT_STR, OFF(docs_dir), 0, 0,
         "swagger-ui-dist folder served under /docs (default the one bootstrap installs)"},
        {"--threads", "GATEWAY_THREADS", OPT_INT, OFF(threads), 1, 1024,
         "HTTP worker threads (default 16; raised so that none holds over 125 connections)"},
        {"--rpc-timeout-ms", "GATEWAY_RPC_TIMEOUT_MS", OPT_INT, OFF(rpc_timeout_ms), 1, 3600000,
         "deadline of a query RPC (default 5000)"},
        {"--rpc-batches", "GATEWAY_RPC_BATCHES", OPT_INT, OFF(rpc_batches), 0, 64,
         "query RPCs of concurrent requests share exchanges with the core, this many "
         "batches out at once; 0 sends each alone (default 1)"},
        {"--top-cache", "GATEWAY_TOP_CACHE", OPT_INT, OFF(top_cache), 0, 1,
         "resend a recent /scores/top answer while the core says its run is still the one "
         "asked for; 0 rebuilds every answer (default 1)"},
        {"--long-timeout-ms", "GATEWAY_LONG_TIMEOUT_MS", OPT_INT, OFF(long_timeout_ms), 1, 86400000,
         "deadline of /reload-graph and /run-score once running on the core; reaching it "
         "and starting has --rpc-timeout-ms (default 600000)"},
        {"--max-connections", "GATEWAY_MAX_CONNECTIONS", OPT_INT, OFF(max_connections), 1, 100000,
         "connections served at once; an eighth more (at least 16) are answered 503 and "
         "closed, beyond that new ones wait in the listen backlog (default 1024)"},
        {"--per-ip-connections", "GATEWAY_PER_IP_CONNECTIONS", OPT_INT, OFF(per_ip_connections), 1,
         100000,
         "connections served per client address; a quarter more (at least 8) are answered "
         "503 and closed, beyond that closed unanswered (default 256)"},
        {"--connection-timeout", "GATEWAY_CONNECTION_TIMEOUT_S", OPT_INT, OFF(conn_timeout_s), 1,
         3600,
         "seconds a connection may be silent, and for the next whole request after an "
         "answer (keep-alive; default 30)"},
        {"--header-timeout", "GATEWAY_HEADER_TIMEOUT_S", OPT_INT, OFF(header_timeout_s), 1, 3600,
         "seconds a new connection has to send its whole first request, however it "
         "trickles (slowloris; default 10)"},
        {"--sse-max", "GATEWAY_SSE_MAX", OPT_INT, OFF(sse_max), 1, 10000,
         "/alerts/stream subscribers at once; one more is answered 503 (default 64)"},
        {"--sse-buffer", "GATEWAY_SSE_BUFFER", OPT_INT, OFF(sse_buffer), 1024, 64 * 1024 * 1024,
         "bytes of events held for one /alerts/stream subscriber (plus one page of at "
         "most 1000 alerts); while one is full the stream waits for it (default 262144)"},
        {"--sse-slow-ms", "GATEWAY_SSE_SLOW_MS", OPT_INT, OFF(sse_slow_ms), 100, 600000,
         "an /alerts/stream subscriber whose buffer stays full this long is sent an event "
         "'close' and dropped (default 5000)"},
        {"--sse-poll-ms", "GATEWAY_SSE_POLL_MS", OPT_INT, OFF(sse_poll_ms), 10, 60000,
         "how often the one poller asks the core for new alerts while anyone listens "
         "(default 250)"},
        {"--sse-heartbeat-ms", "GATEWAY_SSE_HEARTBEAT_MS", OPT_INT, OFF(sse_heartbeat_ms), 100,
         600000, "period of the heartbeat comment on every alert stream (default 15000)"},
        {"--list-routes", NULL, OPT_FLAG, OFF(list_routes), 0, 0,
         "print 'METHOD PATH ACCESS' (open, read or write) of every route and exit"},
        {"--help", NULL, OPT_FLAG, OFF(help), 0, 0, "print this text and exit"},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

void
gw_config_usage(const char *prog)
{
	size_t i;

	printf("usage: %s [options]\n"
	       "The amlrisk REST gateway: the HTTP API over the core's RiskService RPC.\n\n"
	       "options (each also read from the environment variable shown; a flag wins):\n",
	       prog);
	for (i = 0; i < N_OPTS; i++) {
		printf("  %-24s %-30s %s\n", opts[i].flag, opts[i].env != NULL ? opts[i].env : "",
		       opts[i].help);
	}
	printf("\nother environment: LOG_LEVEL (debug|info|warn|error; info logs one line "
	       "per request)\n"
	       "  RPC_SECRET_FILE (its first line) or RPC_SECRET: the secret sent with every RPC,\n"
	       "  when the core requires one (see amlrisk-core --help)\n"
	       "limits: body %d bytes, URL %d bytes\n",
	       GW_BODY_MAX, GW_URL_MAX);
}

/* Stores text as the value of o. */
static int
opt_set(gw_config *cfg, const opt *o, const char *text, char *err, size_t errlen)
{
	int64_t v;

	if (o->kind == OPT_STR) {
		*(const char **)((char *)cfg + o->off) = text[0] != '\0' ? text : NULL;
		return AMLRISK_OK;
	}
	if (amlrisk_parse_i64(&v, text, o->min, o->max) != AMLRISK_OK) {
		snprintf(err, errlen, "%s: expected an integer in [%d, %d], got '%s'", o->flag,
		         o->min, o->max, text);
		return AMLRISK_EINVAL;
	}
	*(int *)((char *)cfg + o->off) = (int)v;
	return AMLRISK_OK;
}

/* Splits "HOST:PORT" into cfg->host and cfg->port. */
static int
listen_split(gw_config *cfg, const char *text, char *err, size_t errlen)
{
	const char *colon = strrchr(text, ':');
	int64_t port;

	if (colon == NULL || (size_t)(colon - text) >= sizeof(cfg->host) || colon == text) {
		snprintf(err, errlen, "listen address '%s': expected HOST:PORT", text);
		return AMLRISK_EINVAL;
	}
	memcpy(cfg->host, text, (size_t)(colon - text));
	cfg->host[colon - text] = '\0';
	if (amlrisk_parse_i64(&port, colon + 1, 0, 65535) != AMLRISK_OK) {
		snprintf(err, errlen, "listen address '%s': bad port", text);
		return AMLRISK_EINVAL;
	}
	cfg->port = (int)port;
	return AMLRISK_OK;
}

int
gw_config_parse(gw_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	char why[256];
	size_t i;
	int a, rv;

	memset(cfg, 0, sizeof(*cfg));
	cfg->rpc_url = RPC_DEFAULT_URL;
	cfg->docs_dir = GW_DOCS_DIR_DEFAULT;
	cfg->threads = 16;
	cfg->rpc_timeout_ms = 5000;
	cfg->long_timeout_ms = 600000;
	cfg->rpc_batches = 1;
	cfg->top_cache = 1;
	cfg->max_connections = 1024;
	cfg->per_ip_connections = 256;
	cfg->conn_timeout_s = 30;
	cfg->header_timeout_s = 10;
	cfg->sse_max = 64;
	cfg->sse_buffer = 262144;
	cfg->sse_slow_ms = 5000;
	cfg->sse_poll_ms = 250;
	cfg->sse_heartbeat_ms = 15000;
	cfg->listen = GW_LISTEN_DEFAULT;
	for (i = 0; i < N_OPTS; i++) {
		const char *v = opts[i].env != NULL ? getenv(opts[i].env) : NULL;

		if (v != NULL && (rv = opt_set(cfg, &opts[i], v, err, errlen)) != AMLRISK_OK) {
			return rv;
		}
	}
	for (a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq = strchr(arg, '=');
		size_t flen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);

		for (i = 0; i < N_OPTS; i++) {
			if (strlen(opts[i].flag) == flen && strncmp(arg, opts[i].flag, flen) == 0) {
				break;
			}
		}
		if (i == N_OPTS) {
			snprintf(err, errlen, "unknown option '%s' (see --help)", arg);
			return AMLRISK_EINVAL;
		}
		if (opts[i].kind == OPT_FLAG) {
			*(int *)((char *)cfg + opts[i].off) = 1;
			continue;
		}
		if (eq == NULL && a + 1 >= argc) {
			snprintf(err, errlen, "%s needs a value", opts[i].flag);
			return AMLRISK_EINVAL;
		}
		if ((rv = opt_set(cfg, &opts[i], eq != NULL ? eq + 1 : argv[++a], err, errlen)) !=
		    AMLRISK_OK) {
			return rv;
		}
	}
	if (cfg->rpc_url == NULL) {
		cfg->rpc_url = RPC_DEFAULT_URL;
	}
	if (rpc_multi_check(cfg->rpc_url, why, sizeof(why)) != AMLRISK_OK) {
		snprintf(err, errlen, "RPC_URL (--rpc-url): %s", why);
		return AMLRISK_EINVAL;
	}
	if (cfg->docs_dir == NULL) {
		cfg->docs_dir = GW_DOCS_DIR_DEFAULT;
	}
	return listen_split(cfg, cfg->listen != NULL ? cfg->listen : GW_LISTEN_DEFAULT, err,
	                    errlen);
}
