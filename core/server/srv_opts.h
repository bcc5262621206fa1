/* srv_opts.h - amlrisk-core's configuration: environment first, then flags over
 * it, every knob bounded and listed in --help. Parsed once at start-up. */
#ifndef SRV_OPTS_H
#define SRV_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "amlrisk_retain.h"
#include "core_engine.h"
#include "rpc.h"
#include "srv_leader.h"
#include "srv_rules.h"

typedef struct srv_opts {
	const char *database_url;       /* libpq conninfo or URI; "" = libpq's PG* defaults */
	const char *listen;             /* RPC URL */
	uint64_t illicit_seed;          /* default seed of RunScore's config */
	core_model scoring_model;       /* model of a RunScore config without "model" */
	int workers;                    /* RPC handler threads */
	int contexts;                   /* RPC calls in flight */
	int backlog;                    /* RPC calls waiting for a worker */
	size_t max_msg;                 /* RPC message bytes */
	int db_pool;                    /* reader connections (handlers); 0 = workers */
	unsigned score_threads;         /* graph build and scoring threads */
	int health_ms;                  /* database ping period */
	int statement_timeout_ms;       /* readers' statement timeout */
	int db_io_timeout_ms;           /* no progress on a connection this long = unreachable */
	size_t labels_max;              /* wallet_labels rows one run may use */
	uint64_t explain_work_max;      /* arcs / walk steps one ExplainWallet may examine */
	uint64_t graph_work_max;        /* arcs one WalletGraph may examine */
	const char *tls_cert_key;       /* tls+tcp://: the server's certificate and key (PEM) */
	const char *tls_client_ca;      /* tls+tcp://: CA every client certificate must come from */
	int insecure;                   /* serve a non-local address without authentication */
	rpc_secret secret;              /* RPC_SECRET(_FILE), RPC_SECRET_PREVIOUS; empty = none */
	const char *metrics_listen;     /* host:port of GET /metrics; NULL = off */
	int live_on;                    /* LIVE_SCORING_CONFIG set: keep a live view */
	core_config live;               /* its effective config (valid) when live_on */
	int live_poll_ms;               /* follower: look for new transactions this often */
	srv_rules rules;                /* ALERT_RULES, ALERT_REARM_MARGIN (n = 0: none) */
	const char *kafka;              /* KAFKA_BOOTSTRAP_SERVERS: alert relay; NULL = none */
	const char *alerts_topic;       /* ALERTS_TOPIC */
	uint32_t alerts_per_update_max; /* ALERTS_PER_UPDATE_MAX (copied into rules) */
	uint32_t alert_state_max;       /* ALERT_STATE_MAX (copied into rules) */
	amlrisk_retain retain;          /* RUN_RETENTION_KEEP, _OLDER_THAN; no rule = off */
	char instance_id[SRV_LEADER_ID_MAX + 1]; /* CORE_INSTANCE_ID; default host-pid */
	int64_t election_key;                    /* ELECTION_LOCK_KEY: the advisory lock's key */
	int election_poll_ms;                    /* ELECTION_POLL_MS */
	int follow_ms;                           /* FOLLOW_MS: a reader's look for a newer run */
} srv_opts;

/* Fills o from the environment and argv (borrowed: strings point into them).
 * Returns 0 to run, 1 when --help/--version was printed (exit 0), 2 on a usage
 * error (printed to stderr). */
int srv_opts_parse(srv_opts *o, int argc, char **argv);
void srv_opts_usage(FILE *f);

#endif
