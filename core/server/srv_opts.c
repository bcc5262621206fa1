/* srv_opts.c - environment and flag parsing for amlrisk-core. Every integer is
 * parsed strictly (decimal, in range); a bad value stops start-up with a message
 * naming the variable or flag. */
#include "srv_opts.h"

#include "srv_db.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_metrics_http.h"
#include "core_engine.h"
#include "rpc.h"
#include "srv_retain.h"

#ifndef AMLRISK_VERSION
#define AMLRISK_VERSION "0.0.0"
#endif

#define LABELS_MAX_DEFAULT ((size_t)1000000)

void
srv_opts_usage(FILE *f)
{
	fprintf(f,
	        "usage: amlrisk-core [options]\n"
	        "\n"
	        "The core scoring server: answers aml.v1.RiskService over NNG req/rep, keeps the\n"
	        "wallet graph and the latest completed run in memory, stores runs in PostgreSQL.\n"
	        "\n"
	        "options (environment variable and default in brackets):\n"
	        "  --database-url URL      libpq conninfo or URI [DATABASE_URL; libpq PG* vars]\n"
	        "  --listen URL            RPC address, ipc://, tcp:// or tls+tcp:// [RPC_LISTEN;\n"
	        "                          %s]\n"
	        "  --illicit-seed N        default illicit_seed of a run [ILLICIT_SEED; 42]\n"
	        "  --scoring-model M       model of a RunScore without a body or without a\n"
	        "                          \"model\" key: %s or %s\n"
	        "                          [SCORING_MODEL; %s]\n"
	        "  --workers N             RPC handler threads, 1..256 [RPC_WORKERS; 4]\n"
	        "  --contexts N            RPC calls in flight, 1..4096 [RPC_CONTEXTS; 128]\n"
	        "  --backlog N             calls waiting for a worker [RPC_BACKLOG; 64]\n"
	        "  --max-msg BYTES         largest RPC message [RPC_MAX_MSG; 4194304]\n"
	        "  --db-pool N             reader connections, 1..64 [DB_POOL; = workers]\n"
	        "  --score-threads N       build/score threads, 1..%d [SCORE_THREADS; 2]\n"
	        "  --health-ms MS          database ping period [HEALTH_MS; 1000]\n"
	        "  --statement-timeout-ms MS  readers' SQL timeout [STATEMENT_TIMEOUT_MS; 30000]\n"
	        "  --db-io-timeout-ms MS   a database connection that neither sends nor\n"
	        "                          receives a byte this long while a statement is\n"
	        "                          under way is closed as unreachable (a silent\n"
	        "                          network partition) [DB_IO_TIMEOUT_MS; 300000]\n"
	        "  --labels-max N          wallet_labels one run may use [LABELS_MAX; %zu]\n"
	        "  --explain-work-max N    arcs or walk steps one ExplainWallet may examine,\n"
	        "                          1000..4e9; past it the answer says capped\n"
	        "                          [EXPLAIN_WORK_MAX; %u]\n"
	        "  --graph-work-max N      arcs one WalletGraph may examine, 1000..4e9; past it\n"
	        "                          the answer says capped [GRAPH_WORK_MAX; %u]\n"
	        "  --tls-cert-key FILE     tls+tcp://: certificate and key, PEM "
	        "[RPC_TLS_CERT_KEY]\n"
	        "  --tls-client-ca FILE    tls+tcp://: every client needs a certificate from this\n"
	        "                          CA [RPC_TLS_CLIENT_CA]\n"
	        "  --insecure-rpc          serve a non-local address with no authentication\n"
	        "                          [RPC_INSECURE=1]\n"
	        "  --metrics-listen HOST:PORT  serve Prometheus GET /metrics there (off by\n"
	        "                          default) [METRICS_LISTEN]\n"
	        "  --live-scoring-config J keep a live view scored with the JSON config J of\n"
	        "                          either model (\"model\" key; the scoring model's\n"
	        "                          defaults under the keys given) [LIVE_SCORING_CONFIG;\n"
	        "                          unset = no live view]\n"
	        "  --live-poll-ms MS       the core follows ingestion: it LISTENs to the\n"
	        "                          consumer's NOTIFY and also looks for new\n"
	        "                          transactions this often, 50..60000 (a missed\n"
	        "                          notice, a lost connection) [LIVE_POLL_MS; 1000]\n"
	        "  --alert-rules R         alert rules of the live view, comma-separated:\n"
	        "                          threshold>=SCORE, top<=N (at most %d) [ALERT_RULES]\n"
	        "  --alert-rearm-margin M  a fired rule re-arms once the score is below\n"
	        "                          threshold - M, or the rank above N + ceil(M*N);\n"
	        "                          0 <= M < 1 [ALERT_REARM_MARGIN; 0.05]\n"
	        "  --alerts-per-update-max N  alerts one live update writes, 1..100000; the\n"
	        "                          rest (riskiest first) follow in later updates\n"
	        "                          [ALERTS_PER_UPDATE_MAX; 100]\n"
	        "  --alert-state-max N     fired (disarmed) rule/wallet pairs held, all rules,\n"
	        "                          1000..1e8; past it crossings wait\n"
	        "                          [ALERT_STATE_MAX; 1000000]\n"
	        "  --run-retention-keep N  after each completed run, prune the runs beyond the\n"
	        "                          newest N, 0..1e9 [RUN_RETENTION_KEEP; unset = off]\n"
	        "  --run-retention-older-than D  ... and/or those created more than D ago:\n"
	        "                          7d, 12h, 30m, 45s [RUN_RETENTION_OLDER_THAN; unset =\n"
	        "                          off]; never the latest completed run of a model, a\n"
	        "                          pinned run (amlctl runs pin) or a run being read\n"
	        "  --instance-id ID        this instance's name in Health and in a refused\n"
	        "                          write's message [CORE_INSTANCE_ID; <host>-<pid>]\n"
	        "  --election-lock-key K   several cores on one database elect their one\n"
	        "                          writer with pg_try_advisory_lock(K)\n"
	        "                          [ELECTION_LOCK_KEY; %lld]\n"
	        "  --election-poll-ms MS   a reader retries the lock, the writer checks its\n"
	        "                          lock session, this often, 100..10000\n"
	        "                          [ELECTION_POLL_MS; %d]\n"
	        "  --follow-ms MS          a reader looks for a newer completed run this\n"
	        "                          often, 100..600000 [FOLLOW_MS; 1000]\n"
	        "  alerts are published by the outbox relay to ALERTS_TOPIC [risk.alerts] on\n"
	        "  KAFKA_BOOTSTRAP_SERVERS (with a live view; unset = kept in risk_alerts)\n"
	        "  --help, --version\n"
	        "\n"
	        "Authentication: every call must carry the shared secret when one is set:\n"
	        "RPC_SECRET_FILE (line 1 the secret, an optional line 2 the previous one, also\n"
	        "accepted while clients move over; re-read within a second when the file\n"
	        "changes) or RPC_SECRET and RPC_SECRET_PREVIOUS; 16 to 256 bytes. Others get\n"
	        "UNAUTHENTICATED, counted in Health. A --listen address other hosts can reach\n"
	        "(not ipc://, not loopback) needs a secret or --tls-client-ca, or\n"
	        "--insecure-rpc.\n"
	        "Other environment: LOG_LEVEL (debug|info|warn|error).\n"
	        "At start-up the server takes part in the writer election; the writer marks\n"
	        "interrupted ('running') runs failed; every instance loads the latest completed\n"
	        "run from PostgreSQL, then the graph in the background. Readers follow newer\n"
	        "runs and refuse ReloadGraph/RunScore (FAILED_PRECONDITION, not the writer).\n"
	        "SIGTERM/SIGINT: stops taking calls, cancels a run being stored, exits 0.\n",
	        RPC_DEFAULT_URL, CORE_MODEL_HOP_NAME, CORE_MODEL_FLOW_NAME, CORE_MODEL_HOP_NAME,
	        CORE_THREADS_MAX, LABELS_MAX_DEFAULT, CORE_EXPLAIN_WORK_DEFAULT,
	        CORE_NEIGH_WORK_DEFAULT, SRV_RULES_MAX, (long long)SRV_LEADER_KEY_DEFAULT,
	        SRV_LEADER_POLL_DEFAULT);
}

/* Strict decimal in [lo, hi]. */
static int
parse_num(const char *name, const char *s, long long lo, long long hi, long long *out)
{
	int64_t v;

	if (amlrisk_parse_i64(&v, s, lo, hi) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-core: %s: '%s' is not an integer in [%lld, %lld]\n", name,
		        s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

typedef struct knob {
	const char *env, *flag;
	long long lo, hi;
} knob;

enum {
	K_WORKERS,
	K_CONTEXTS,
	K_BACKLOG,
	K_MAXMSG,
	K_POOL,
	K_THREADS,
	K_HEALTH,
	K_STMT,
	K_DBIO,
	K_LABELS,
	K_EXPLAIN_WORK,
	K_GRAPH_WORK,
	K_ALERTS_UPDATE,
	K_ALERT_STATE,
	K_LIVE_POLL,
	K_ELECT_POLL,
	K_ELECT_KEY,
	K_FOLLOW,
	K_COUNT
};

static const knob KNOBS[K_COUNT] = {
        [K_WORKERS] = {"RPC_WORKERS", "--workers", 1, 256},
        [K_CONTEXTS] = {"RPC_CONTEXTS", "--contexts", 1, 4096},
        [K_BACKLOG] = {"RPC_BACKLOG", "--backlog", 1, 65536},
        [K_MAXMSG] = {"RPC_MAX_MSG", "--max-msg", 1024, 64LL << 20},
        [K_POOL] = {"DB_POOL", "--db-pool", 1, 64},
        [K_THREADS] = {"SCORE_THREADS", "--score-threads", 1, CORE_THREADS_MAX},
        [K_HEALTH] = {"HEALTH_MS", "--health-ms", 50, 60000},
        [K_STMT] = {"STATEMENT_TIMEOUT_MS", "--statement-timeout-ms", 100, 3600000},
        [K_DBIO] = {"DB_IO_TIMEOUT_MS", "--db-io-timeout-ms", 500, 3600000},
        [K_LABELS] = {"LABELS_MAX", "--labels-max", 0, 100000000},
        [K_EXPLAIN_WORK] = {"EXPLAIN_WORK_MAX", "--explain-work-max", 1000, 4000000000LL},
        [K_GRAPH_WORK] = {"GRAPH_WORK_MAX", "--graph-work-max", 1000, 4000000000LL},
        [K_ALERTS_UPDATE] = {"ALERTS_PER_UPDATE_MAX", "--alerts-per-update-max", 1, 100000},
        [K_ALERT_STATE] = {"ALERT_STATE_MAX", "--alert-state-max", 1000, 100000000},
        [K_LIVE_POLL] = {"LIVE_POLL_MS", "--live-poll-ms", 50, 60000},
        [K_ELECT_POLL] = {"ELECTION_POLL_MS", "--election-poll-ms", 100, 10000},
        [K_ELECT_KEY] = {"ELECTION_LOCK_KEY", "--election-lock-key", INT64_MIN + 1, INT64_MAX},
        [K_FOLLOW] = {"FOLLOW_MS", "--follow-ms", 100, 600000},
};

static int
set_knob(srv_opts *o, int k, const char *name, const char *s)
{
	long long v;

	if (parse_num(name, s, KNOBS[k].lo, KNOBS[k].hi, &v) != 0)
		return -1;
	switch (k) {
	case K_WORKERS:
		o->workers = (int)v;
		break;
	case K_CONTEXTS:
		o->contexts = (int)v;
		break;
	case K_BACKLOG:
		o->backlog = (int)v;
		break;
	case K_MAXMSG:
		o->max_msg = (size_t)v;
		break;
	case K_POOL:
		o->db_pool = (int)v;
		break;
	case K_THREADS:
		o->score_threads = (unsigned)v;
		break;
	case K_HEALTH:
		o->health_ms = (int)v;
		break;
	case K_STMT:
		o->statement_timeout_ms = (int)v;
		break;
	case K_DBIO:
		o->db_io_timeout_ms = (int)v;
		break;
	case K_LABELS:
		o->labels_max = (size_t)v;
		break;
	case K_EXPLAIN_WORK:
		o->explain_work_max = (uint64_t)v;
		break;
	case K_GRAPH_WORK:
		o->graph_work_max = (uint64_t)v;
		break;
	case K_ALERTS_UPDATE:
		o->alerts_per_update_max = (uint32_t)v;
		break;
	case K_ALERT_STATE:
		o->alert_state_max = (uint32_t)v;
		break;
	case K_LIVE_POLL:
		o->live_poll_ms = (int)v;
		break;
	case K_ELECT_POLL:
		o->election_poll_ms = (int)v;
		break;
	case K_ELECT_KEY:
		o->election_key = v;
		break;
	case K_FOLLOW:
		o->follow_ms = (int)v;
		break;
	}
	return 0;
}

static int
set_seed(srv_opts *o, const char *name, const char *s)
{
	if (core_config_seed_parse(s, &o->illicit_seed) != 0) {
		fprintf(stderr, "amlrisk-core: %s: '%s' is not a decimal uint64\n", name, s);
		return -1;
	}
	return 0;
}

static int
set_model(srv_opts *o, const char *name, const char *s)
{
	if (core_model_parse(s, &o->scoring_model) != 0) {
		fprintf(stderr, "amlrisk-core: %s: '%s' is not a scoring model (%s or %s)\n", name,
		        s, CORE_MODEL_HOP_NAME, CORE_MODEL_FLOW_NAME);
		return -1;
	}
	return 0;
}

/* The live view's settings as given, checked together once all are read. */
typedef struct live_raw {
	const char *config, *config_name; /* NULL = unset */
	const char *rules, *rules_name;
	const char *margin, *margin_name;
} live_raw;

/* Validates the live view's settings into o; messages name the variable or
 * flag and what is wrong. */
static int
set_live(srv_opts *o, const live_raw *r)
{
	char err[512];
	double margin = SRV_REARM_MARGIN_DEFAULT;

	if (r->config != NULL) {
		core_config base;
		core_config_defaults_model(&base, o->scoring_model);
		base.illicit_seed = o->illicit_seed;
		if (core_config_merge(&o->live, &base, r->config, strlen(r->config), err,
		                      sizeof(err)) != 0) {
			fprintf(stderr, "amlrisk-core: %s: %s\n", r->config_name, err);
			return -1;
		}
		o->live_on = 1;
	}
	if (r->margin != NULL && srv_rules_margin_parse(r->margin, &margin) != 0) {
		fprintf(stderr, "amlrisk-core: %s: '%s' is not a number in [0, 1)\n",
		        r->margin_name, r->margin);
		return -1;
	}
	if (srv_rules_parse(&o->rules, r->rules, margin, err, sizeof(err)) != 0) {
		fprintf(stderr, "amlrisk-core: %s: %s\n", r->rules_name, err);
		return -1;
	}
	o->rules.per_update_max = o->alerts_per_update_max;
	o->rules.state_max = o->alert_state_max;
	if (o->rules.n > 0 && !o->live_on) {
		fprintf(stderr,
		        "amlrisk-core: %s: alerts fire on the live view: set LIVE_SCORING_CONFIG "
		        "(or --live-scoring-config) too\n",
		        r->rules_name);
		return -1;
	}
	return 0;
}

/* The instance id given (NULL: "<host>-<pid>", the host cut to 48 bytes). */
static int
set_instance(srv_opts *o, const char *id, const char *name)
{
	char host[256] = "core";

	if (id != NULL) {
		if (!srv_leader_id_valid(id)) {
			fprintf(stderr,
			        "amlrisk-core: %s: '%s' is not an instance id (1 to %d of "
			        "A-Z a-z 0-9 . _ : -)\n",
			        name, id, SRV_LEADER_ID_MAX);
			return -1;
		}
		snprintf(o->instance_id, sizeof(o->instance_id), "%s", id);
		return 0;
	}
	(void)gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if (!srv_leader_id_valid((char[]){*p, '\0'}))
			*p = '_';
	snprintf(o->instance_id, sizeof(o->instance_id), "%.48s-%ld", host, (long)getpid());
	return 0;
}

static int
from_env(srv_opts *o, live_raw *live)
{
	const char *v;

	if ((v = getenv("DATABASE_URL")) != NULL)
		o->database_url = v;
	if ((v = getenv("RPC_LISTEN")) != NULL && *v != '\0')
		o->listen = v;
	if ((v = getenv("RPC_TLS_CERT_KEY")) != NULL && *v != '\0')
		o->tls_cert_key = v;
	if ((v = getenv("RPC_TLS_CLIENT_CA")) != NULL && *v != '\0')
		o->tls_client_ca = v;
	if ((v = getenv("RPC_INSECURE")) != NULL && *v != '\0') {
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
			fprintf(stderr, "amlrisk-core: RPC_INSECURE: '%s' is not 0 or 1\n", v);
			return -1;
		}
		o->insecure = v[0] == '1';
	}
	if ((v = getenv("METRICS_LISTEN")) != NULL && *v != '\0')
		o->metrics_listen = v;
	if ((v = getenv("ILLICIT_SEED")) != NULL && *v != '\0' &&
	    set_seed(o, "ILLICIT_SEED", v) != 0)
		return -1;
	if ((v = getenv("SCORING_MODEL")) != NULL && *v != '\0' &&
	    set_model(o, "SCORING_MODEL", v) != 0)
		return -1;
	if ((v = getenv("LIVE_SCORING_CONFIG")) != NULL && *v != '\0')
		live->config = v;
	if ((v = getenv("ALERT_RULES")) != NULL && *v != '\0')
		live->rules = v;
	if ((v = getenv("ALERT_REARM_MARGIN")) != NULL && *v != '\0')
		live->margin = v;
	if ((v = getenv("KAFKA_BOOTSTRAP_SERVERS")) != NULL && *v != '\0')
		o->kafka = v;
	if ((v = getenv("ALERTS_TOPIC")) != NULL && *v != '\0')
		o->alerts_topic = v;
	if (srv_retain_from_env(&o->retain) != 0)
		return -1;
	for (int k = 0; k < K_COUNT; k++) {
		if ((v = getenv(KNOBS[k].env)) != NULL && *v != '\0' &&
		    set_knob(o, k, KNOBS[k].env, v) != 0)
			return -1;
	}
	return 0;
}

int
srv_opts_parse(srv_opts *o, int argc, char **argv)
{
	enum {
		O_DB = 1000,
		O_LISTEN,
		O_SEED,
		O_MODEL,
		O_CERT,
		O_CLIENT_CA,
		O_INSECURE,
		O_METRICS,
		O_LIVE,
		O_RULES,
		O_MARGIN,
		O_KEEP,
		O_AGE,
		O_INSTANCE,
		O_HELP,
		O_VERSION,
		O_KNOB
	};
	static const struct option longopts[] = {
	        {"database-url", required_argument, NULL, O_DB},
	        {"listen", required_argument, NULL, O_LISTEN},
	        {"illicit-seed", required_argument, NULL, O_SEED},
	        {"scoring-model", required_argument, NULL, O_MODEL},
	        {"workers", required_argument, NULL, O_KNOB + K_WORKERS},
	        {"contexts", required_argument, NULL, O_KNOB + K_CONTEXTS},
	        {"backlog", required_argument, NULL, O_KNOB + K_BACKLOG},
	        {"max-msg", required_argument, NULL, O_KNOB + K_MAXMSG},
	        {"db-pool", required_argument, NULL, O_KNOB + K_POOL},
	        {"score-threads", required_argument, NULL, O_KNOB + K_THREADS},
	        {"health-ms", required_argument, NULL, O_KNOB + K_HEALTH},
	        {"statement-timeout-ms", required_argument, NULL, O_KNOB + K_STMT},
	        {"db-io-timeout-ms", required_argument, NULL, O_KNOB + K_DBIO},
	        {"labels-max", required_argument, NULL, O_KNOB + K_LABELS},
	        {"explain-work-max", required_argument, NULL, O_KNOB + K_EXPLAIN_WORK},
	        {"graph-work-max", required_argument, NULL, O_KNOB + K_GRAPH_WORK},
	        {"alerts-per-update-max", required_argument, NULL, O_KNOB + K_ALERTS_UPDATE},
	        {"alert-state-max", required_argument, NULL, O_KNOB + K_ALERT_STATE},
	        {"live-poll-ms", required_argument, NULL, O_KNOB + K_LIVE_POLL},
	        {"election-poll-ms", required_argument, NULL, O_KNOB + K_ELECT_POLL},
	        {"election-lock-key", required_argument, NULL, O_KNOB + K_ELECT_KEY},
	        {"follow-ms", required_argument, NULL, O_KNOB + K_FOLLOW},
	        {"instance-id", required_argument, NULL, O_INSTANCE},
	        {"tls-cert-key", required_argument, NULL, O_CERT},
	        {"tls-client-ca", required_argument, NULL, O_CLIENT_CA},
	        {"insecure-rpc", no_argument, NULL, O_INSECURE},
	        {"metrics-listen", required_argument, NULL, O_METRICS},
	        {"live-scoring-config", required_argument, NULL, O_LIVE},
	        {"alert-rules", required_argument, NULL, O_RULES},
	        {"alert-rearm-margin", required_argument, NULL, O_MARGIN},
	        {"run-retention-keep", required_argument, NULL, O_KEEP},
	        {"run-retention-older-than", required_argument, NULL, O_AGE},
	        {"help", no_argument, NULL, O_HELP},
	        {"version", no_argument, NULL, O_VERSION},
	        {NULL, 0, NULL, 0},
	};
	char why[256];
	const char *instance = getenv("CORE_INSTANCE_ID"), *instance_name = "CORE_INSTANCE_ID";
	int c;
	live_raw live = {.config_name = "LIVE_SCORING_CONFIG",
	                 .rules_name = "ALERT_RULES",
	                 .margin_name = "ALERT_REARM_MARGIN"};

	memset(o, 0, sizeof(*o));
	if (instance != NULL && *instance == '\0')
		instance = NULL; /* an empty variable is an unset one, as everywhere */
	o->database_url = "";
	o->listen = RPC_DEFAULT_URL;
	o->illicit_seed = 42;
	o->scoring_model = CORE_MODEL_HOP;
	o->workers = 4;
	o->contexts = 128;
	o->backlog = 64;
	o->max_msg = (size_t)4 << 20;
	o->score_threads = 2;
	o->health_ms = 1000;
	o->statement_timeout_ms = 30000;
	o->db_io_timeout_ms = SRV_DB_IO_TIMEOUT_DEFAULT;
	o->labels_max = LABELS_MAX_DEFAULT;
	o->explain_work_max = CORE_EXPLAIN_WORK_DEFAULT;
	o->graph_work_max = CORE_NEIGH_WORK_DEFAULT;
	o->alerts_topic = "risk.alerts";
	o->alerts_per_update_max = SRV_ALERTS_PER_UPDATE_DEFAULT;
	o->alert_state_max = SRV_ALERT_STATE_DEFAULT;
	o->live_poll_ms = 1000;
	o->retain.keep = -1;
	o->election_key = SRV_LEADER_KEY_DEFAULT;
	o->election_poll_ms = SRV_LEADER_POLL_DEFAULT;
	o->follow_ms = 1000;
	if (from_env(o, &live) != 0)
		return 2;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c >= O_KNOB && c < O_KNOB + K_COUNT) {
			if (set_knob(o, c - O_KNOB, KNOBS[c - O_KNOB].flag, optarg) != 0)
				return 2;
			continue;
		}
		switch (c) {
		case O_DB:
			o->database_url = optarg;
			break;
		case O_LISTEN:
			o->listen = optarg;
			break;
		case O_SEED:
			if (set_seed(o, "--illicit-seed", optarg) != 0)
				return 2;
			break;
		case O_MODEL:
			if (set_model(o, "--scoring-model", optarg) != 0)
				return 2;
			break;
		case O_CERT:
			o->tls_cert_key = optarg;
			break;
		case O_CLIENT_CA:
			o->tls_client_ca = optarg;
			break;
		case O_INSECURE:
			o->insecure = 1;
			break;
		case O_METRICS:
			o->metrics_listen = optarg;
			break;
		case O_LIVE:
			live.config = optarg;
			live.config_name = "--live-scoring-config";
			break;
		case O_RULES:
			live.rules = optarg;
			live.rules_name = "--alert-rules";
			break;
		case O_MARGIN:
			live.margin = optarg;
			live.margin_name = "--alert-rearm-margin";
			break;
		case O_KEEP:
			if (srv_retain_set_keep(&o->retain, "--run-retention-keep", optarg) != 0)
				return 2;
			break;
		case O_AGE:
			if (srv_retain_set_age(&o->retain, "--run-retention-older-than", optarg) != 0)
				return 2;
			break;
		case O_INSTANCE:
			instance = optarg;
			instance_name = "--instance-id";
			break;
		case O_HELP:
			srv_opts_usage(stdout);
			return 1;
		case O_VERSION:
			printf("amlrisk-core %s\n", AMLRISK_VERSION);
			return 1;
		default:
			srv_opts_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "amlrisk-core: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->metrics_listen != NULL &&
	    amlrisk_metrics_http_check(o->metrics_listen, why, sizeof(why)) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-core: %s\n", why);
		return 2;
	}
	if (set_live(o, &live) != 0 || set_instance(o, instance, instance_name) != 0)
		return 2;
	if (o->db_pool == 0)
		o->db_pool = o->workers < 64 ? o->workers : 64;
	if (rpc_secret_from_env(&o->secret, why, sizeof(why)) != 0) {
		fprintf(stderr, "amlrisk-core: %s\n", why);
		return 2;
	}
	return 0;
}
