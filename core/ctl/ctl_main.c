/* ctl_main.c - amlctl: the operator's RPC client of amlrisk-core. Parses the
 * command line (global and command options in any order), then runs one
 * command. Exit 0 on success, 1 with the server's message on any error, 2 on
 * a usage error. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_log.h"
#include "ctl.h"

#ifndef AMLRISK_VERSION
#define AMLRISK_VERSION "0.0.0"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: amlctl [--url URL] [--json] [--timeout MS] COMMAND [ARGS]\n"
	        "\n"
	        "The operator's client of amlrisk-core (RiskService over NNG RPC).\n"
	        "\n"
	        "commands:\n"
	        "  health                         database, graph and latest run state\n"
	        "  reload                         reload the graph from PostgreSQL\n"
	        "  score [OVERRIDES]              run a model and store the run; overrides:\n"
	        "        [--model hop_exposure/v1|flow_exposure/v1] (default: the server's)\n"
	        "        [--illicit-ratio R] [--illicit-seed N] [--no-labels]\n"
	        "        hop_exposure/v1: [--hop-weights W0,W1,..] [--direction any|in|out|both]\n"
	        "        [--count within|exact] [--no-degree-normalize]\n"
	        "        flow_exposure/v1: [--hops K] [--side both|received|sent]\n"
	        "        [--smoothing X]             or   [--config-json JSON]\n"
	        "  top [-n N] [--run ID | --live] the riskiest wallets (N <= 1000, default 10) of\n"
	        "                                 a run, or of the live view (its watermark "
	        "shown)\n"
	        "  wallet W [--run ID | --live]   one wallet's score and per-hop values\n"
	        "  explain W [--sources N]        why W scores what it does (latest run): per hop\n"
	        "                                 sources, or the N largest contributors (flow)\n"
	        "  graph W [--hops H] [--node-limit N] [--edge-limit E]\n"
	        "                                 W's neighbourhood (latest run)\n"
	        "  runs [--limit N] [--before ID] stored runs, newest first (paged)\n"
	        "  runs prune [--keep N] [--older-than 7d|12h|30m|45s] [--database-url URL]\n"
	        "                                 drop old runs' scores (never pinned, running,\n"
	        "                                 in-use or a model's latest completed run)\n"
	        "  runs pin ID | runs unpin ID    keep a run from pruning (DATABASE_URL)\n"
	        "  run ID                         one run's summary\n"
	        "  ingestion                      the consumer's progress\n"
	        "  alerts [--wallet W] [--rule R] [--limit N] [--before ID] [--follow]\n"
	        "                                 risk alerts of the live view, newest first;\n"
	        "                                 --follow: then each new one (Ctrl-C ends)\n"
	        "  migrate [--database-url URL]   apply the SQL migrations (DATABASE_URL)\n"
	        "\n"
	        "options:\n"
	        "  --url URL      core server, or several instances comma-separated: reads\n"
	        "                 go to one and fail over, writes to the elected writer\n"
	        "                 (env RPC_URL, default %s)\n"
	        "  --json         print JSON (the RPC response, field names as in the .proto)\n"
	        "  --timeout MS   deadline of the call (default 10000; reload and score 3600000,\n"
	        "                 which they keep once running: reaching the core and starting\n"
	        "                 there takes at most 5000)\n"
	        "  --help, --version\n"
	        "\n"
	        "environment: RPC_SECRET_FILE (its first line) or RPC_SECRET, the core's secret;\n"
	        "RPC_TLS_CA, RPC_TLS_CERT_KEY, RPC_TLS_SERVER_NAME for a tls+tcp:// URL.\n"
	        "With no core connected a command fails at once (UNAVAILABLE); reload and\n"
	        "score run at most once, even when repeated after a dropped connection.\n"
	        "\n"
	        "Tables round scores to 6 significant digits; --json gives them exactly.\n"
	        "Exit status: 0 ok, 1 error (the server's status and message on stderr), 2 "
	        "usage.\n",
	        RPC_DEFAULT_URL);
}

int
ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "amlctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see amlctl --help)\n");
	return 2;
}

int
main(int argc, char **argv)
{
	enum {
		O_URL = 1000,
		O_JSON,
		O_TIMEOUT,
		O_RUN,
		O_LIMIT,
		O_BEFORE,
		O_SOURCES,
		O_HOPS,
		O_NODES,
		O_EDGES,
		O_WEIGHTS,
		O_DIR,
		O_COUNT,
		O_RATIO,
		O_SEED,
		O_CFG,
		O_NONORM,
		O_NOLABELS,
		O_MODEL,
		O_SIDE,
		O_SMOOTHING,
		O_DBURL,
		O_KEEP,
		O_OLDER,
		O_LIVE,
		O_WALLET,
		O_RULE,
		O_FOLLOW,
		O_HELP,
		O_VERSION
	};
	static const struct option opts[] = {
	        {"url", required_argument, NULL, O_URL},
	        {"json", no_argument, NULL, O_JSON},
	        {"timeout", required_argument, NULL, O_TIMEOUT},
	        {"run", required_argument, NULL, O_RUN},
	        {"limit", required_argument, NULL, O_LIMIT},
	        {"before", required_argument, NULL, O_BEFORE},
	        {"sources", required_argument, NULL, O_SOURCES},
	        {"hops", required_argument, NULL, O_HOPS},
	        {"node-limit", required_argument, NULL, O_NODES},
	        {"edge-limit", required_argument, NULL, O_EDGES},
	        {"hop-weights", required_argument, NULL, O_WEIGHTS},
	        {"direction", required_argument, NULL, O_DIR},
	        {"count", required_argument, NULL, O_COUNT},
	        {"illicit-ratio", required_argument, NULL, O_RATIO},
	        {"illicit-seed", required_argument, NULL, O_SEED},
	        {"config-json", required_argument, NULL, O_CFG},
	        {"no-degree-normalize", no_argument, NULL, O_NONORM},
	        {"no-labels", no_argument, NULL, O_NOLABELS},
	        {"model", required_argument, NULL, O_MODEL},
	        {"side", required_argument, NULL, O_SIDE},
	        {"smoothing", required_argument, NULL, O_SMOOTHING},
	        {"database-url", required_argument, NULL, O_DBURL},
	        {"keep", required_argument, NULL, O_KEEP},
	        {"older-than", required_argument, NULL, O_OLDER},
	        {"live", no_argument, NULL, O_LIVE},
	        {"wallet", required_argument, NULL, O_WALLET},
	        {"rule", required_argument, NULL, O_RULE},
	        {"follow", no_argument, NULL, O_FOLLOW},
	        {"help", no_argument, NULL, O_HELP},
	        {"version", no_argument, NULL, O_VERSION},
	        {NULL, 0, NULL, 0},
	};
	ctl_args a;
	const char *env = getenv("RPC_URL");
	char *end;
	int c;

	memset(&a, 0, sizeof(a));
	a.url = env != NULL && *env != '\0' ? env : RPC_DEFAULT_URL;
	a.database_url = getenv("DATABASE_URL");
	amlrisk_log_init(AMLRISK_LOG_WARN);
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case O_URL:
			a.url = optarg;
			break;
		case O_JSON:
			a.json = true;
			break;
		case O_TIMEOUT:
			a.timeout_ms = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || a.timeout_ms <= 0)
				return ctl_usage_error("--timeout: '%s' is not a positive integer",
				                       optarg);
			break;
		case 'n':
			a.n = optarg;
			break;
		case O_RUN:
			a.run = optarg;
			break;
		case O_LIMIT:
			a.limit = optarg;
			break;
		case O_BEFORE:
			a.before = optarg;
			break;
		case O_SOURCES:
			a.sources = optarg;
			break;
		case O_HOPS:
			a.hops = optarg;
			break;
		case O_NODES:
			a.node_limit = optarg;
			break;
		case O_EDGES:
			a.edge_limit = optarg;
			break;
		case O_WEIGHTS:
			a.hop_weights = optarg;
			break;
		case O_DIR:
			a.direction = optarg;
			break;
		case O_COUNT:
			a.count = optarg;
			break;
		case O_RATIO:
			a.illicit_ratio = optarg;
			break;
		case O_SEED:
			a.illicit_seed = optarg;
			break;
		case O_CFG:
			a.config_json = optarg;
			break;
		case O_NONORM:
			a.no_degree_normalize = true;
			break;
		case O_NOLABELS:
			a.no_labels = true;
			break;
		case O_MODEL:
			a.model = optarg;
			break;
		case O_SIDE:
			a.side = optarg;
			break;
		case O_SMOOTHING:
			a.smoothing = optarg;
			break;
		case O_DBURL:
			a.database_url = optarg;
			break;
		case O_KEEP:
			a.keep = optarg;
			break;
		case O_OLDER:
			a.older_than = optarg;
			break;
		case O_LIVE:
			a.live = true;
			break;
		case O_WALLET:
			a.wallet = optarg;
			break;
		case O_RULE:
			a.rule = optarg;
			break;
		case O_FOLLOW:
			a.follow = true;
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			return 0;
		case O_VERSION:
			printf("amlctl %s\n", AMLRISK_VERSION);
			return 0;
		default:
			return ctl_usage_error("bad option");
		}
	}
	if (optind >= argc)
		return ctl_usage_error("no command");
	a.cmd = argv[optind++];
	for (; optind < argc; optind++) {
		if (a.n_operands == CTL_ARGS_MAX)
			return ctl_usage_error("too many arguments");
		a.operand[a.n_operands++] = argv[optind];
	}
	return ctl_run(&a);
}
