/* core_main.c - amlrisk-core: wires options, the database pool, the health
 * monitor, the writer and the RiskService handlers to an RPC server, then
 * waits for SIGTERM/SIGINT and shuts down in dependency order. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "core_engine.h"
#include "rpc.h"
#include "srv_ctx.h"
#include "srv_follow.h"
#include "srv_leader.h"
#include "srv_monitor.h"
#include "srv_relay.h"
#include "srv_retain.h"
#include "srv_rpcwatch.h"
#include "srv_time.h"

#ifndef AMLRISK_VERSION
#define AMLRISK_VERSION "0.0.0"
#endif

/* How the RPC server authenticates its callers, for the start-up line. */
static const char *
auth_mode(const srv_opts *o)
{
	int secret = o->secret.current[0] != '\0', certs = o->tls_client_ca != NULL;

	if (secret && certs)
		return "secret+client-cert";
	if (secret || certs)
		return secret ? "secret" : "client-cert";
	return "none";
}

/* The outbox relay runs on the writer only: started when this instance is
 * elected, stopped (in flight deliveries waited for) when it is not. The
 * follower kicks it after a live update wrote alerts; the lock keeps a kick
 * off a relay being stopped. */
typedef struct relay_role {
	const srv_opts *opts;
	pthread_mutex_t lock;
	srv_relay *relay; /* under lock: the election thread's, then main's */
} relay_role;

static void
relay_on_role(void *arg, srv_role role)
{
	relay_role *r = arg;
	int rv;

	pthread_mutex_lock(&r->lock);
	if (role == SRV_ROLE_WRITER && r->relay == NULL &&
	    (rv = srv_relay_create(&r->relay, r->opts->database_url, r->opts->kafka,
	                           r->opts->alerts_topic)) != 0)
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "relay.start_failed", "error=\"%s\"",
		            amlrisk_strerror(rv));
	if (role != SRV_ROLE_WRITER && r->relay != NULL) {
		srv_relay_destroy(r->relay);
		r->relay = NULL;
	}
	pthread_mutex_unlock(&r->lock);
}

/* The follower's kick (srv_follow_kick_fn): wakes the relay when it runs. */
static void
relay_kick(void *arg)
{
	relay_role *r = arg;

	pthread_mutex_lock(&r->lock);
	if (r->relay != NULL)
		srv_relay_kick(r->relay);
	pthread_mutex_unlock(&r->lock);
}

/* Waits for SIGTERM/SIGINT, looking at the RPC server once a second. */
static int
serve(const sigset_t *sigs, srv_rpcwatch *watch)
{
	const struct timespec tick = {1, 0};
	int sig;

	while ((sig = sigtimedwait(sigs, NULL, &tick)) < 0)
		srv_rpcwatch_tick(watch);
	return sig;
}

int
main(int argc, char **argv)
{
	srv_opts opts;
	srv_ctx ctx;
	srv_state *state = NULL;
	srv_db *db = NULL;
	srv_monitor *mon = NULL;
	relay_role relay = {&opts, PTHREAD_MUTEX_INITIALIZER, NULL};
	srv_leader *leader = NULL;
	srv_leader_conf lconf;
	srv_writer *writer = NULL;
	srv_follow *follow = NULL;
	srv_metrics *metrics = NULL;
	char merr[256];
	rpc_server *srv = NULL;
	rpc_server_opts ropts = {0};
	srv_rpcwatch watch;
	srv_writer_conf wconf;
	sigset_t sigs;
	int rv, sig = 0, status = 1;

	amlrisk_log_init(-1);
	if ((rv = srv_opts_parse(&opts, argc, argv)) != 0)
		return rv == 1 ? 0 : 2;
	core_config_default_seed_set(opts.illicit_seed);
	core_config_default_model_set(opts.scoring_model);
	srv_db_io_timeout_set(opts.db_io_timeout_ms);
	/* every thread started below inherits the mask; only sigwait() sees these */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&ctx, 0, sizeof(ctx));
	ctx.opts = &opts;
	ctx.started_s = srv_mono_s();
	lconf = (srv_leader_conf){opts.database_url, opts.instance_id, opts.election_key,
	                          opts.election_poll_ms};
	wconf = (srv_writer_conf){.database_url = opts.database_url,
	                          .threads = opts.score_threads,
	                          .labels_max = opts.labels_max,
	                          .follow_ms = opts.follow_ms,
	                          .elect_poll_ms = opts.election_poll_ms,
	                          .retain = &opts.retain};
	if ((rv = srv_state_create(&state)) != 0 ||
	    (rv = srv_leader_create(&leader, &lconf)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "server.init_failed", "error=\"%s\"",
		            amlrisk_strerror(rv));
		goto out;
	}
	if (opts.metrics_listen != NULL &&
	    srv_metrics_create(&metrics, opts.metrics_listen, state, merr, sizeof(merr)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "server.init_failed", "error=\"%s\"", merr);
		fprintf(stderr, "amlrisk-core: %s\n", merr);
		status = 2;
		goto out;
	}
	wconf.metrics = metrics;
	wconf.leader = leader;
	if ((rv = srv_db_create(&db, opts.database_url, opts.db_pool, opts.statement_timeout_ms)) !=
	            0 ||
	    (rv = srv_monitor_create(&mon, opts.database_url, opts.health_ms, state)) != 0 ||
	    (rv = srv_writer_create(&writer, &wconf, state)) != 0 ||
	    (rv = srv_leader_listen(leader, srv_writer_on_role, writer)) != 0 ||
	    (opts.live_on && opts.kafka != NULL &&
	     (rv = srv_leader_listen(leader, relay_on_role, &relay)) != 0) ||
	    (rv = srv_follow_create(&follow, &opts, state, leader, relay_kick, &relay, metrics)) !=
	            0 ||
	    (rv = srv_leader_start(leader)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "server.init_failed", "error=\"%s\"",
		            amlrisk_strerror(rv));
		goto out;
	}
	ctx.state = state;
	ctx.db = db;
	ctx.writer = writer;
	ctx.leader = leader;
	srv_service_init(&ctx);
	ropts.workers = opts.workers;
	ropts.contexts = opts.contexts;
	ropts.backlog = opts.backlog;
	ropts.max_msg = opts.max_msg;
	ropts.tls_cert_key_file = opts.tls_cert_key;
	ropts.tls_ca_file = opts.tls_client_ca;
	ropts.insecure = opts.insecure;
	ropts.observe = metrics != NULL ? srv_metrics_rpc : NULL;
	ropts.observe_arg = metrics;
	ropts.secret = opts.secret.current[0] != '\0' ? opts.secret.current : NULL;
	ropts.secret_previous = opts.secret.previous[0] != '\0' ? opts.secret.previous : NULL;
	if ((rv = rpc_server_create(&srv, opts.listen, &ropts)) == AMLRISK_EAUTH) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "server.listen_refused",
		            "listen=%s error=\"other hosts can reach this address and no "
		            "authentication is set\" hint=\"set RPC_SECRET_FILE or RPC_SECRET, or "
		            "listen on tls+tcp:// with RPC_TLS_CLIENT_CA; RPC_INSECURE=1 to serve "
		            "anyone\"",
		            opts.listen);
		goto out;
	}
	ctx.rpc = srv;
	if (rv != 0 || (rv = rpc_server_add_service(srv, &ctx.svc.base)) != 0 ||
	    (rv = rpc_server_start(srv)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "core", "server.listen_failed",
		            "listen=%s error=\"%s\"", opts.listen, rpc_strerror(rv));
		goto out;
	}
	amlrisk_log(AMLRISK_LOG_INFO, "core", "server.started",
	            "version=%s listen=%s auth=%s workers=%d db_pool=%d score_threads=%u "
	            "illicit_seed=%llu scoring_model=%s instance=%s",
	            AMLRISK_VERSION, opts.listen, auth_mode(&opts), opts.workers, opts.db_pool,
	            opts.score_threads, (unsigned long long)opts.illicit_seed,
	            core_model_name(opts.scoring_model), opts.instance_id);
	if (opts.insecure && !rpc_url_is_local(opts.listen) &&
	    strcmp(auth_mode(&opts), "none") == 0)
		amlrisk_log(AMLRISK_LOG_WARN, "core", "server.insecure",
		            "listen=%s hint=\"anyone who reaches this address can run and reload\"",
		            opts.listen);
	srv_retain_log_policy(&opts.retain);
	srv_rpcwatch_init(&watch, srv, &opts.secret);
	sig = serve(&sigs, &watch);
	amlrisk_log(AMLRISK_LOG_INFO, "core", "server.stopping", "signal=%s",
	            sig == SIGINT ? "SIGINT" : "SIGTERM");
	status = 0;
out:
	/* the writer first refuses and cancels, so destroying the RPC server (which
	 * waits for every call in progress to be answered) never waits on a store */
	if (writer != NULL)
		srv_writer_stop(writer);
	rpc_server_destroy(srv);
	/* the lock goes (the relay stops with it) while the writer it tells is
	 * there; the writer thread and the follower read the role until joined */
	srv_leader_stop(leader);
	srv_writer_destroy(writer);
	srv_follow_destroy(follow); /* before the relay it kicks */
	srv_leader_destroy(leader);
	srv_relay_destroy(relay.relay);
	srv_monitor_destroy(mon);
	srv_db_destroy(db);
	srv_metrics_destroy(metrics); /* before the state its scrapes read */
	srv_state_destroy(state);
	amlrisk_log(AMLRISK_LOG_INFO, "core", "server.stopped", "status=%d", status);
	return status;
}
