/* gw_config.h - the gateway's settings: command-line flags over environment
 * variables over defaults, checked once at start-up. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>

#define GW_LISTEN_DEFAULT "127.0.0.1:8000"
#define GW_BODY_MAX       (64 * 1024) /* request body bytes */
#define GW_URL_MAX        (8 * 1024)  /* request-target bytes (path and query) */

typedef struct gw_config {
	const char *listen; /* "HOST:PORT" as given; split into host and port */
	char host[64];      /* numeric IPv4 address to bind */
	int port;
	const char *rpc_url;             /* borrowed from argv/environ */
	const char *rpc_tls_ca;          /* tls+tcp://: CA of the core's certificate */
	const char *rpc_tls_cert_key;    /* tls+tcp://: the gateway's certificate and key */
	const char *rpc_tls_server_name; /* tls+tcp://: name to verify; default the URL's host */
	const char *token;               /* AML_API_TOKEN, NULL when unset or empty */
	const char *read_token;          /* AML_READ_TOKEN, NULL when unset or empty */
	const char *docs_dir;            /* swagger-ui-dist folder */
	int threads;                     /* MHD thread pool size */
	int rpc_timeout_ms;              /* query RPCs */
	int long_timeout_ms;             /* ReloadGraph, RunScore */
	int rpc_batches;                 /* coalesced query RPC batches out at once; 0 = none */
	int top_cache;                   /* keep recent /scores/top answers (gw_topcache.h) */
	int max_connections;             /* all clients (gw_conn.h: answered 503 past it) */
	int per_ip_connections;
	int conn_timeout_s;   /* idle or slow client; the next request on a connection */
	int header_timeout_s; /* a new connection's first request (slowloris) */
	int sse_max;          /* /alerts/stream subscribers (gw_sse.h) */
	int sse_buffer;       /* bytes buffered per subscriber */
	int sse_slow_ms;      /* a subscriber full this long is dropped */
	int sse_poll_ms;      /* ListAlerts period */
	int sse_heartbeat_ms; /* heartbeat comment period */
	int list_routes;      /* --list-routes: print the table and exit */
	int help;             /* --help */
} gw_config;

/* Fills cfg from argv and the environment. Returns AMLRISK_OK or
 * AMLRISK_EINVAL with a message in err (errlen bytes). */
int gw_config_parse(gw_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Prints the usage text: every flag and environment variable. */
void gw_config_usage(const char *prog);

#endif
