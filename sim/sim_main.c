/* sim_main.c - amlrisk-sim: generates synthetic transactions to a file or
 * stdout, or publishes them (or a file of them) to Kafka. Flags are parsed from
 * one table so every bad flag gets a message naming it and exit status 2. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_tx.h"
#include "sim.h"

#ifndef AMLRISK_VERSION
#define AMLRISK_VERSION "0"
#endif

#define EXIT_USAGE     2
#define CONF_MAX       64
#define BAD_REPORT_MAX 20 /* bad records reported one by one; the rest counted */
#define OUT_BUF_SIZE   (1u << 20)

static const char usage_text[] =
        "Usage: amlrisk-sim [OPTIONS]                     generate to --out (default stdout)\n"
        "       amlrisk-sim --publish [OPTIONS]           generate and publish to Kafka\n"
        "       amlrisk-sim --publish --in FILE [OPTIONS] publish a file amlrisk-sim wrote\n"
        "\n"
        "Generates synthetic crypto transactions deterministically: the same seed and\n"
        "options give byte-identical output. Wallet activity is Zipf-distributed (a few\n"
        "wallets very active, most rarely), amounts log-normal, timestamps in order. Known\n"
        "laundering typologies (AMLSim, AMLworld, crypto peel chains) are planted among\n"
        "the least active 95% of wallets and written to a ground-truth file.\n"
        "\n"
        "Generation:\n"
        "  --wallets N           wallets, ids w0..w(N-1) zero-padded to one width,\n"
        "                        e.g. w000..w199 (default 200)\n"
        "  --transactions M      transactions in total, planted ones included (default 2000)\n"
        "  --days D              window length in days, may be fractional (default 30)\n"
        "  --start TIME          window start, ISO-8601 UTC (2025-12-02T00:00:00Z or\n"
        "                        2025-12-02); default: the window ends at 2026-01-01T00:00:00Z\n"
        "  --seed S              64-bit seed (default 42); tx ids are sim-<seed>-<n>\n"
        "  --zipf S              activity exponent: P(k-th most active) ~ k^-S;\n"
        "                        0 = uniform (default 1)\n"
        "  --amount-mu X         amounts are exp(N(X, Y^2)) units, 6 decimals (default 0)\n"
        "  --amount-sigma Y      (default 1.5)\n"
        "  --asset A             asset of every transaction, \"\" for none (default BTC)\n"
        "  --self-transfers      allow sender = receiver in background transactions\n"
        "\n"
        "Typologies (instances of each; default: one per 2000 wallets, at least one, at\n"
        "most one per 1000 transactions, fewer if they would not fit):\n"
        "  --fan-out N           source -> k mules\n"
        "  --fan-in N            k sources -> sink\n"
        "  --cycle N             source -> mule -> ... -> mule -> source (k members)\n"
        "  --scatter-gather N    source -> k mules -> sink\n"
        "  --gather-scatter N    k sources -> hub (mule) -> j sinks\n"
        "  --peel-chain N        source -> mule_1 -> ... -> mule_k, every hop peeling a\n"
        "                        part to a sink; amounts along the chain strictly decrease\n"
        "  --no-typologies       plant none (same as all six set to 0)\n"
        "  --size-min K          members k (and j) per instance, at least 3 (default 3)\n"
        "  --size-max K          at most 64 (default 8)\n"
        "  --camouflage          planted amounts look ordinary: each is a draw from the\n"
        "                        ordinary amount distribution (--amount-mu/--amount-sigma),\n"
        "                        handed out in the order the typology needs (decreasing\n"
        "                        along a chain, a mule forwarding less than it got), so\n"
        "                        sums are not kept; members, edges and timestamps stay\n"
        "                        those of the same seed without it. Members always take\n"
        "                        part in ordinary traffic too, at the rate of their\n"
        "                        activity rank\n"
        "  --truth FILE          write the ground truth CSV: typology,instance,wallet,role\n"
        "                        (roles source, mule, sink), members in flow order; it\n"
        "                        lists every member, labelled or not\n"
        "  --label-sources       insert the labelled sources into wallet_labels as\n"
        "                        'illicit' (source 'amlrisk-sim') at DATABASE_URL\n"
        "  --labels-out FILE     write the labelled sources, one wallet a line (the file\n"
        "                        amlrisk-score --labels reads)\n"
        "  --label-fraction F    label only this share of the sources, 0 < F <= 1\n"
        "                        (default 1): round(F x sources), at least one, chosen by\n"
        "                        the seed, as with an incomplete watch list; needs\n"
        "                        --label-sources or --labels-out\n"
        "  --database-url URL    libpq URL or conninfo; overrides DATABASE_URL\n"
        "\n"
        "Output (without --publish):\n"
        "  --format F            protobuf (length-delimited aml.v1.Transaction, default),\n"
        "                        jsonl ({\"tx_id\":..,\"sender\":..,\"receiver\":..,\n"
        "                        \"amount\":\"12.500000\",\"timestamp_us\":..,\"asset\":..}) or\n"
        "                        csv (tx_id,sender,receiver,amount,timestamp,asset with\n"
        "                        timestamps like 2026-01-01T00:00:00.000000Z)\n"
        "  --out FILE            output file (default stdout)\n"
        "\n"
        "Publishing (--publish): protobuf Transactions keyed by sender, idempotent\n"
        "producer, acks=all. A progress bar with the rate is shown when stderr is a\n"
        "terminal. Exits 1 if any message was not delivered.\n"
        "  --publish             publish instead of writing a file\n"
        "  --in FILE             publish FILE ('-' for stdin) instead of generating;\n"
        "                        every record is validated, bad ones are reported by line\n"
        "                        (record for protobuf), skipped, and make the exit status 1\n"
        "  --format F            with --in: the input format, protobuf|jsonl|csv|auto\n"
        "                        (default auto: detected from the first bytes)\n"
        "  --no-validate         with --in: publish records that fail validation too\n"
        "  --bootstrap HOSTS     brokers (default $KAFKA_BOOTSTRAP_SERVERS)\n"
        "  --topic T             (default transactions)\n"
        "  --compression C       lz4 (default), zstd, gzip, snappy or none\n"
        "  --linger-ms N         linger.ms (default 20)\n"
        "  --batch-size BYTES    batch.size (default 1000000)\n"
        "  --queue-max N         local queue bound, messages (default 100000)\n"
        "  --timeout-ms N        message.timeout.ms: undelivered by then = failed\n"
        "                        (default 120000)\n"
        "  -X KEY=VALUE          any other librdkafka property (repeatable)\n"
        "  --rate N              send at most N messages a second, on a fixed schedule\n"
        "                        (message n is due n/N s after the first; a late one is\n"
        "                        followed at once by the next until caught up);\n"
        "                        default: as fast as the producer goes\n"
        "  --probe-every K       generated data only: every K-th transaction goes to a\n"
        "                        fresh receiver probe-<seed>-<n> (n its 0-based number),\n"
        "                        a wallet no other transaction names; needs --probe-log\n"
        "  --probe-log FILE      one line per probe as it is handed to the producer:\n"
        "                        \"<wallet> <tx_id> <unix time, microseconds>\", flushed\n"
        "                        at once (benchmarks measure freshness from it)\n"
        "\n"
        "Other:\n"
        "  --quiet               no progress bar and no summary line\n"
        "  -h, --help            this text\n"
        "  --version             print the version\n"
        "\n"
        "Exit status: 0 success, 1 failure (I/O, database, undelivered messages, bad\n"
        "input records), 2 bad flags.\n"
        "\n"
        "Examples:\n"
        "  amlrisk-sim --wallets 200 --transactions 2000 --days 30 --format csv   (demo size)\n"
        "  amlrisk-sim --wallets 1000000 --transactions 10000000 --out tx.pb --truth truth.csv\n"
        "  amlrisk-sim --wallets 20000 --transactions 200000 --camouflage --format csv \\\n"
        "      --out tx.csv --truth truth.csv --label-fraction 0.5 --labels-out labels.txt\n"
        "  amlrisk-sim --publish --transactions 100000 --label-sources\n"
        "  amlrisk-sim --publish --in tx.csv --topic transactions\n";

enum flag_id {
	F_WALLETS,
	F_TRANSACTIONS,
	F_DAYS,
	F_START,
	F_SEED,
	F_ZIPF,
	F_MU,
	F_SIGMA,
	F_ASSET,
	F_SELF,
	F_FAN_OUT,
	F_FAN_IN,
	F_CYCLE,
	F_SCATTER_GATHER,
	F_GATHER_SCATTER,
	F_PEEL_CHAIN,
	F_NO_TYPOLOGIES,
	F_SIZE_MIN,
	F_SIZE_MAX,
	F_CAMOUFLAGE,
	F_TRUTH,
	F_LABEL_SOURCES,
	F_LABELS_OUT,
	F_LABEL_FRACTION,
	F_DATABASE_URL,
	F_FORMAT,
	F_OUT,
	F_PUBLISH,
	F_IN,
	F_NO_VALIDATE,
	F_BOOTSTRAP,
	F_TOPIC,
	F_COMPRESSION,
	F_LINGER,
	F_BATCH,
	F_QUEUE,
	F_TIMEOUT,
	F_X,
	F_RATE,
	F_PROBE_EVERY,
	F_PROBE_LOG,
	F_QUIET,
	F_HELP,
	F_VERSION,
	F_COUNT
};

/* what a flag applies to, to reject flags that would be silently ignored */
enum { K_GEN = 1, K_FILE = 2, K_PUB = 4, K_IN = 8, K_ANY = 16 };

static const struct flag {
	const char *name;
	int arg;
	int kind;
} flags[F_COUNT] = {
        [F_WALLETS] = {"--wallets", 1, K_GEN},
        [F_TRANSACTIONS] = {"--transactions", 1, K_GEN},
        [F_DAYS] = {"--days", 1, K_GEN},
        [F_START] = {"--start", 1, K_GEN},
        [F_SEED] = {"--seed", 1, K_GEN},
        [F_ZIPF] = {"--zipf", 1, K_GEN},
        [F_MU] = {"--amount-mu", 1, K_GEN},
        [F_SIGMA] = {"--amount-sigma", 1, K_GEN},
        [F_ASSET] = {"--asset", 1, K_GEN},
        [F_SELF] = {"--self-transfers", 0, K_GEN},
        [F_FAN_OUT] = {"--fan-out", 1, K_GEN},
        [F_FAN_IN] = {"--fan-in", 1, K_GEN},
        [F_CYCLE] = {"--cycle", 1, K_GEN},
        [F_SCATTER_GATHER] = {"--scatter-gather", 1, K_GEN},
        [F_GATHER_SCATTER] = {"--gather-scatter", 1, K_GEN},
        [F_PEEL_CHAIN] = {"--peel-chain", 1, K_GEN},
        [F_NO_TYPOLOGIES] = {"--no-typologies", 0, K_GEN},
        [F_SIZE_MIN] = {"--size-min", 1, K_GEN},
        [F_SIZE_MAX] = {"--size-max", 1, K_GEN},
        [F_CAMOUFLAGE] = {"--camouflage", 0, K_GEN},
        [F_TRUTH] = {"--truth", 1, K_GEN},
        [F_LABEL_SOURCES] = {"--label-sources", 0, K_GEN},
        [F_LABELS_OUT] = {"--labels-out", 1, K_GEN},
        [F_LABEL_FRACTION] = {"--label-fraction", 1, K_GEN},
        [F_DATABASE_URL] = {"--database-url", 1, K_GEN},
        [F_FORMAT] = {"--format", 1, K_FILE | K_IN},
        [F_OUT] = {"--out", 1, K_FILE},
        [F_PUBLISH] = {"--publish", 0, K_ANY},
        [F_IN] = {"--in", 1, K_IN},
        [F_NO_VALIDATE] = {"--no-validate", 0, K_IN},
        [F_BOOTSTRAP] = {"--bootstrap", 1, K_PUB},
        [F_TOPIC] = {"--topic", 1, K_PUB},
        [F_COMPRESSION] = {"--compression", 1, K_PUB},
        [F_LINGER] = {"--linger-ms", 1, K_PUB},
        [F_BATCH] = {"--batch-size", 1, K_PUB},
        [F_QUEUE] = {"--queue-max", 1, K_PUB},
        [F_TIMEOUT] = {"--timeout-ms", 1, K_PUB},
        [F_X] = {"-X", 1, K_PUB},
        [F_RATE] = {"--rate", 1, K_PUB},
        [F_PROBE_EVERY] = {"--probe-every", 1, K_PUB},
        [F_PROBE_LOG] = {"--probe-log", 1, K_PUB},
        [F_QUIET] = {"--quiet", 0, K_ANY},
        [F_HELP] = {"--help", 0, K_ANY},
        [F_VERSION] = {"--version", 0, K_ANY},
};

typedef struct cli {
	sim_gen_opts gen;
	sim_pub_opts pub;
	int given[F_COUNT];
	double days;
	int64_t start_us;
	sim_format format;
	const char *out, *truth, *labels_out, *in, *database_url, *probe_log;
	double rate;          /* --rate, messages/s; 0 = unpaced */
	uint64_t probe_every; /* --probe-every; 0 = no probes */
	int publish, label_sources, no_validate, quiet;
	const char *conf[CONF_MAX];
	size_t nconf;
} cli;

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Prints "amlrisk-sim: <message>" and a pointer to --help; returns 2. */
#define usage_error(...)                                                                           \
	amlrisk_usage_error("amlrisk-sim: ", "\nTry 'amlrisk-sim --help'.\n", __VA_ARGS__)

static int
parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (amlrisk_parse_u64(out, s, min, max) != AMLRISK_OK)
		return usage_error("%s: expected an integer %llu .. %llu, got \"%s\"", flag,
		                   (unsigned long long)min, (unsigned long long)max, s);
	return 0;
}

static int
parse_int(const char *flag, const char *s, int min, int max, int *out)
{
	uint64_t v;
	int rv;
	if ((rv = parse_u64(flag, s, (uint64_t)min, (uint64_t)max, &v)) != 0)
		return rv;
	*out = (int)v;
	return 0;
}

static int
parse_double(const char *flag, const char *s, double min, double max, double *out)
{
	if (amlrisk_parse_double(out, s, min, max) != AMLRISK_OK)
		return usage_error("%s: expected a number %g .. %g, got \"%s\"", flag, min, max, s);
	return 0;
}

/* applies one flag's value; returns 0 or an exit status */
static int
apply(cli *c, int id, const char *v)
{
	const char *name = flags[id].name;
	uint64_t u;
	int rv = 0;
	switch (id) {
	case F_WALLETS:
		return parse_u64(name, v, 2, SIM_WALLETS_MAX, &c->gen.wallets);
	case F_TRANSACTIONS:
		return parse_u64(name, v, 0, SIM_TRANSACTIONS_MAX, &c->gen.transactions);
	case F_DAYS:
		return parse_double(name, v, 1.0 / 86400, 36500, &c->days);
	case F_START:
		if (sim_time_parse(v, &c->start_us) != 0)
			return usage_error("%s: expected ISO-8601 UTC like 2025-12-02T00:00:00Z, "
			                   "got \"%s\"",
			                   name, v);
		return 0;
	case F_SEED:
		return parse_u64(name, v, 0, UINT64_MAX, &c->gen.seed);
	case F_ZIPF:
		return parse_double(name, v, 0, 5, &c->gen.zipf);
	case F_MU:
		return parse_double(name, v, -10, 20, &c->gen.amount_mu);
	case F_SIGMA:
		return parse_double(name, v, 0, 5, &c->gen.amount_sigma);
	case F_ASSET:
		c->gen.asset = v;
		return 0;
	case F_FAN_OUT:
	case F_FAN_IN:
	case F_CYCLE:
	case F_SCATTER_GATHER:
	case F_GATHER_SCATTER:
	case F_PEEL_CHAIN:
		if ((rv = parse_u64(name, v, 0, 1000000, &u)) == 0)
			c->gen.typologies[id - F_FAN_OUT] = (int64_t)u;
		return rv;
	case F_SIZE_MIN:
		if ((rv = parse_u64(name, v, 3, SIM_SIZE_MAX, &u)) == 0)
			c->gen.size_min = (uint32_t)u;
		return rv;
	case F_SIZE_MAX:
		if ((rv = parse_u64(name, v, 3, SIM_SIZE_MAX, &u)) == 0)
			c->gen.size_max = (uint32_t)u;
		return rv;
	case F_TRUTH:
		c->truth = v;
		return 0;
	case F_LABELS_OUT:
		c->labels_out = v;
		return 0;
	case F_LABEL_FRACTION:
		if (amlrisk_parse_double(&c->gen.label_fraction, v, 0, 1) != AMLRISK_OK ||
		    c->gen.label_fraction == 0)
			return usage_error("%s: expected a share > 0 and <= 1, got \"%s\"", name,
			                   v);
		return 0;
	case F_DATABASE_URL:
		c->database_url = v;
		return 0;
	case F_FORMAT:
		if (sim_format_parse(v, 1, &c->format) != 0)
			return usage_error(
			        "%s: expected protobuf, jsonl or csv (or auto with --in), "
			        "got \"%s\"",
			        name, v);
		return 0;
	case F_OUT:
		c->out = v;
		return 0;
	case F_IN:
		c->in = v;
		return 0;
	case F_BOOTSTRAP:
		c->pub.bootstrap = v;
		return 0;
	case F_TOPIC:
		if (*v == '\0')
			return usage_error("%s: empty", name);
		c->pub.topic = v;
		return 0;
	case F_COMPRESSION:
		if (strcmp(v, "lz4") && strcmp(v, "zstd") && strcmp(v, "gzip") &&
		    strcmp(v, "snappy") && strcmp(v, "none"))
			return usage_error(
			        "%s: expected lz4, zstd, gzip, snappy or none, got \"%s\"", name,
			        v);
		c->pub.compression = v;
		return 0;
	case F_LINGER:
		return parse_int(name, v, 0, 900000, &c->pub.linger_ms);
	case F_BATCH:
		return parse_int(name, v, 1, 2147483647, &c->pub.batch_size);
	case F_QUEUE:
		return parse_int(name, v, 1, 2147483647, &c->pub.queue_max);
	case F_TIMEOUT:
		return parse_int(name, v, 1, 2147483647, &c->pub.timeout_ms);
	case F_RATE:
		if (amlrisk_parse_double(&c->rate, v, 0, 1e9) != AMLRISK_OK || c->rate == 0)
			return usage_error("%s: expected messages per second > 0 and <= 1e9, "
			                   "got \"%s\"",
			                   name, v);
		return 0;
	case F_PROBE_EVERY:
		return parse_u64(name, v, 1, UINT64_MAX, &c->probe_every);
	case F_PROBE_LOG:
		c->probe_log = v;
		return 0;
	case F_X:
		if (c->nconf == CONF_MAX)
			return usage_error("-X: at most %d", CONF_MAX);
		if (strchr(v, '=') == NULL || *v == '=')
			return usage_error("-X: expected KEY=VALUE, got \"%s\"", v);
		c->conf[c->nconf++] = v;
		return 0;
	case F_SELF:
		c->gen.self_transfers = 1;
		return 0;
	case F_CAMOUFLAGE:
		c->gen.camouflage = 1;
		return 0;
	case F_NO_TYPOLOGIES:
		for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
			c->gen.typologies[t] = 0;
		return 0;
	case F_LABEL_SOURCES:
		c->label_sources = 1;
		return 0;
	case F_PUBLISH:
		c->publish = 1;
		return 0;
	case F_NO_VALIDATE:
		c->no_validate = 1;
		return 0;
	case F_QUIET:
		c->quiet = 1;
		return 0;
	default:
		return 0;
	}
}

/* Parses argv into c. Returns 0, or an exit status (2 for a bad flag, 0 with
 * *done set after --help or --version). */
static int
parse_args(cli *c, int argc, char **argv, int *done)
{
	int rv;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		size_t alen = strlen(a);
		int id = -1;
		if (strcmp(a, "-h") == 0)
			a = "--help", alen = 6;
		if (strncmp(a, "-X", 2) == 0 && a[2] != '\0') { /* -Xkey=value */
			id = F_X;
			val = a + 2;
		} else {
			const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
			size_t nlen = eq ? (size_t)(eq - a) : alen;
			for (int f = 0; f < F_COUNT; f++)
				if (strlen(flags[f].name) == nlen &&
				    strncmp(flags[f].name, a, nlen) == 0)
					id = f;
			if (id < 0) {
				if (a[0] == '-')
					return usage_error("unknown flag %.*s", (int)nlen, a);
				return usage_error("unexpected argument \"%s\"", a);
			}
			if (eq != NULL) {
				if (!flags[id].arg)
					return usage_error("%s takes no value", flags[id].name);
				val = eq + 1;
			} else if (flags[id].arg) {
				if (i + 1 >= argc)
					return usage_error("%s needs a value", flags[id].name);
				val = argv[++i];
			}
		}
		if (id == F_HELP) {
			fputs(usage_text, stdout);
			*done = 1;
			return 0;
		}
		if (id == F_VERSION) {
			printf("amlrisk-sim %s\n", AMLRISK_VERSION);
			*done = 1;
			return 0;
		}
		c->given[id] = 1;
		if ((rv = apply(c, id, val)) != 0)
			return rv;
	}

	/* every flag must mean something in the chosen mode */
	if (c->in && !c->publish)
		return usage_error("--in: only with --publish");
	int mode = c->in ? K_IN | K_PUB : c->publish ? K_PUB | K_GEN : K_FILE | K_GEN;
	for (int f = 0; f < F_COUNT; f++) {
		if (!c->given[f] || (flags[f].kind & (mode | K_ANY)))
			continue;
		if (flags[f].kind == K_IN)
			return usage_error("%s: only with --publish --in", flags[f].name);
		if (flags[f].kind & K_PUB)
			return usage_error("%s: only with --publish", flags[f].name);
		if (f == F_OUT)
			return usage_error("--out: not with --publish (messages go to Kafka)");
		if (f == F_FORMAT)
			return usage_error("--format: not with --publish of generated data (always "
			                   "protobuf); with --in it names the input format");
		if (flags[f].kind & K_GEN)
			return usage_error(
			        "%s: not with --in (the file's transactions are published "
			        "as they are)",
			        flags[f].name);
		return usage_error("%s: not used in this mode", flags[f].name);
	}
	if (c->in && c->given[F_PROBE_EVERY])
		return usage_error("--probe-every: not with --in (probes are generated)");
	if (c->given[F_PROBE_EVERY] != c->given[F_PROBE_LOG])
		return usage_error("--probe-every and --probe-log go together");
	if (c->format == SIM_FORMAT_AUTO && !c->in && c->given[F_FORMAT])
		return usage_error("--format: auto only with --in");
	if (!c->in)
		if (!c->given[F_FORMAT])
			c->format = SIM_FORMAT_PROTOBUF;
	c->gen.window_us = llround(c->days * 86400e6);
	c->gen.start_us = c->given[F_START] ? c->start_us : SIM_REF_END_US - c->gen.window_us;
	if (c->gen.size_min > c->gen.size_max)
		return usage_error("--size-min (%u) is above --size-max (%u)", c->gen.size_min,
		                   c->gen.size_max);
	if (c->label_sources && c->database_url == NULL) {
		c->database_url = getenv("DATABASE_URL");
		if (c->database_url == NULL || c->database_url[0] == '\0')
			return usage_error("--label-sources: set DATABASE_URL or --database-url");
	} else if (c->given[F_DATABASE_URL] && !c->label_sources) {
		return usage_error("--database-url: only with --label-sources");
	}
	if (c->given[F_LABEL_FRACTION] && !c->label_sources && c->labels_out == NULL)
		return usage_error("--label-fraction: only with --label-sources or --labels-out "
		                   "(it chooses the sources they label)");
	if (c->publish && c->pub.bootstrap == NULL) {
		c->pub.bootstrap = getenv("KAFKA_BOOTSTRAP_SERVERS");
		if (c->pub.bootstrap == NULL || c->pub.bootstrap[0] == '\0')
			return usage_error("--publish: set KAFKA_BOOTSTRAP_SERVERS or --bootstrap");
	}
	c->pub.conf = c->conf;
	c->pub.nconf = c->nconf;
	c->pub.stop = &stop_flag;
	return 0;
}

/* ---- progress ---------------------------------------------------------------- */

typedef struct progress {
	int on;
	double t0, last;
	const char *unit;
} progress;

static void
progress_init(progress *p, int quiet, const char *unit)
{
	p->on = !quiet && isatty(STDERR_FILENO);
	p->t0 = p->last = amlrisk_now_s();
	p->unit = unit;
}

/* Redraws the bar at most 5 times a second (always when final). done counts
 * rows written or messages sent, of total (0 when unknown); frac is the share
 * done in [0,1], negative when unknown; pub (may be NULL) adds the delivered
 * count, and the rate is then of deliveries. */
static void
progress_show(progress *p, uint64_t done, uint64_t total, double frac, const sim_pub *pub,
              int final)
{
	if (!p->on)
		return;
	double t = amlrisk_now_s();
	if (!final && t - p->last < 0.2)
		return;
	p->last = t;
	uint64_t delivered = done;
	if (pub != NULL)
		sim_pub_stats(pub, NULL, &delivered, NULL, NULL);
	double rate = t > p->t0 ? (double)delivered / (t - p->t0) : 0;
	char bar[31], of[32] = "";
	int fill = frac < 0 ? 0 : (int)(frac * 30 + 0.5);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	if (total > 0)
		snprintf(of, sizeof(of), "/%llu", (unsigned long long)total);
	if (pub != NULL)
		fprintf(stderr, "\r[%s] %5.1f%% %llu%s sent, %llu delivered, %.0f/s ", bar,
		        frac < 0 ? 0 : frac * 100, (unsigned long long)done, of,
		        (unsigned long long)delivered, rate);
	else
		fprintf(stderr, "\r[%s] %5.1f%% %llu%s %s, %.0f/s ", bar, frac < 0 ? 0 : frac * 100,
		        (unsigned long long)done, of, p->unit, rate);
	if (final)
		fputc('\n', stderr);
}

/* ---- modes ------------------------------------------------------------------- */

/* Waits for the outstanding delivery reports (the bar moving meanwhile), logs
 * the summary and returns the exit status: 1 if anything failed or was bad. */
static int
finish_publish(cli *c, sim_pub *p, progress *pr, uint64_t total, int bad)
{
	uint64_t sent, delivered, failed;
	const char *first;
	double deadline = amlrisk_now_s() + (c->pub.timeout_ms + 5000) / 1000.0;
	sim_pub_stats(p, &sent, NULL, NULL, NULL);
	while (sim_pub_wait(p, 200) > 0 && amlrisk_now_s() < deadline)
		progress_show(pr, sent, total, total ? (double)sent / (double)total : 1, p, 0);
	sim_pub_flush(p, 0);
	progress_show(pr, sent, total, total ? (double)sent / (double)total : 1, p, 1);
	sim_pub_stats(p, &sent, &delivered, &failed, &first);
	double secs = amlrisk_now_s() - pr->t0;
	if (!c->quiet)
		amlrisk_log(AMLRISK_LOG_INFO, "sim", "publish.done",
		            "topic=%s sent=%llu delivered=%llu failed=%llu bad=%d seconds=%.3f "
		            "rate=%.0f",
		            c->pub.topic, (unsigned long long)sent, (unsigned long long)delivered,
		            (unsigned long long)failed, bad, secs,
		            secs > 0 ? (double)delivered / secs : 0);
	if (failed > 0)
		fprintf(stderr,
		        "amlrisk-sim: %llu of %llu messages not delivered (first error: %s)\n",
		        (unsigned long long)failed, (unsigned long long)sent, first ? first : "?");
	if (stop_flag)
		fprintf(stderr, "amlrisk-sim: interrupted after %llu messages\n",
		        (unsigned long long)sent);
	return failed > 0 || stop_flag || bad > 0 ? 1 : 0;
}

/* --rate: waits until message n is due on pace's schedule, serving delivery
 * reports first so the wait does not hold them up. */
static void
pace_wait(const sim_pace *pace, sim_pub *p, uint64_t n)
{
	double w = sim_pace_wait_s(pace, n, amlrisk_now_s());
	if (w <= 0)
		return;
	sim_pub_poll(p);
	sim_pace_sleep(sim_pace_wait_s(pace, n, amlrisk_now_s()));
}

static int64_t
unix_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
run_publish_gen(cli *c, sim_gen *g)
{
	char err[512], probe[64];
	sim_pub *p = NULL;
	FILE *plog = NULL;
	Aml__V1__Transaction tx;
	progress pr;
	sim_pace pace;
	int rv = AMLRISK_OK, status = 1;
	if (c->probe_log != NULL && (plog = fopen(c->probe_log, "w")) == NULL) {
		fprintf(stderr, "amlrisk-sim: --probe-log %s: %s\n", c->probe_log, strerror(errno));
		return 1;
	}
	if ((rv = sim_pub_create(&p, &c->pub, err, sizeof(err))) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-sim: %s\n", err);
		status = rv == AMLRISK_EINVAL ? EXIT_USAGE : 1;
		goto done;
	}
	uint64_t total = sim_gen_total(g), n = 0;
	progress_init(&pr, c->quiet, "messages");
	sim_pace_start(&pace, c->rate, amlrisk_now_s());
	while (!stop_flag && sim_gen_next(g, &tx) == AMLRISK_OK) {
		int64_t sent_us = 0;
		int is_probe = c->probe_every && n % c->probe_every == c->probe_every - 1;
		if (c->rate > 0)
			pace_wait(&pace, p, n);
		if (is_probe) {
			snprintf(probe, sizeof(probe), "probe-%llu-%llu",
			         (unsigned long long)c->gen.seed, (unsigned long long)n);
			tx.receiver = probe;
			sent_us = unix_us();
		}
		if ((rv = sim_pub_send(p, &tx, err, sizeof(err))) != AMLRISK_OK) {
			if (rv != AMLRISK_ECANCELED)
				fprintf(stderr, "amlrisk-sim: publishing %s: %s\n", tx.tx_id, err);
			break;
		}
		if (is_probe &&
		    (fprintf(plog, "%s %s %lld\n", probe, tx.tx_id, (long long)sent_us) < 0 ||
		     fflush(plog) != 0)) {
			fprintf(stderr, "amlrisk-sim: writing --probe-log %s: %s\n", c->probe_log,
			        strerror(errno));
			rv = AMLRISK_EIO;
			break;
		}
		if ((++n & 1023) == 0)
			progress_show(&pr, n, total, (double)n / (double)total, p, 0);
	}
	status = finish_publish(c, p, &pr, total, 0);
	if (rv != AMLRISK_OK && rv != AMLRISK_ECANCELED)
		status = 1;
done:
	sim_pub_destroy(p);
	if (plog != NULL && fclose(plog) != 0 && status == 0) {
		fprintf(stderr, "amlrisk-sim: closing --probe-log %s: %s\n", c->probe_log,
		        strerror(errno));
		status = 1;
	}
	return status;
}

static int
run_publish_file(cli *c)
{
	char err[256], why[512];
	sim_pub *p = NULL;
	sim_reader *r = NULL;
	FILE *f = NULL;
	progress pr;
	int rv, status = 1, bad = 0;
	uint64_t size = 0, n = 0;
	const char *name = strcmp(c->in, "-") == 0 ? "stdin" : c->in;

	if (strcmp(c->in, "-") == 0) {
		f = stdin;
	} else if ((f = fopen(c->in, "rb")) == NULL) {
		fprintf(stderr, "amlrisk-sim: --in %s: %s\n", c->in, strerror(errno));
		return 1;
	}
	if (f != stdin && fseeko(f, 0, SEEK_END) == 0) {
		off_t end = ftello(f);
		size = end > 0 ? (uint64_t)end : 0;
		rewind(f);
	}
	if ((rv = sim_reader_create(&r, f, c->format, err, sizeof(err))) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-sim: %s: %s\n", name, err);
		goto done;
	}
	if ((rv = sim_pub_create(&p, &c->pub, err, sizeof(err))) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-sim: %s\n", err);
		status = rv == AMLRISK_EINVAL ? EXIT_USAGE : 1;
		goto done;
	}
	progress_init(&pr, c->quiet, "messages");
	sim_pace pace;
	sim_pace_start(&pace, c->rate, amlrisk_now_s());
	Aml__V1__Transaction *tx;
	int fatal = 0;
	while (!stop_flag) {
		rv = sim_reader_next(r, &tx, why, sizeof(why));
		if (rv == AMLRISK_ENOTFOUND)
			break;
		if (rv == AMLRISK_OK && !c->no_validate) {
			char vwhy[256];
			if (amlrisk_tx_validate(tx, vwhy, sizeof(vwhy)) != AMLRISK_OK) {
				snprintf(why, sizeof(why), "%s %llu: %s", sim_reader_unit(r),
				         (unsigned long long)sim_reader_number(r), vwhy);
				rv = AMLRISK_EINVAL;
			}
		}
		if (rv == AMLRISK_OK && c->rate > 0)
			pace_wait(&pace, p, n);
		if (rv == AMLRISK_OK &&
		    (rv = sim_pub_send(p, tx, err, sizeof(err))) != AMLRISK_OK) {
			if (rv == AMLRISK_ECANCELED)
				break;
			snprintf(why, sizeof(why), "%s %llu: %s", sim_reader_unit(r),
			         (unsigned long long)sim_reader_number(r), err);
			if (rv != AMLRISK_ETOOBIG) { /* the producer cannot go on */
				fprintf(stderr, "amlrisk-sim: %s: %s\n", name, why);
				fatal = 1;
				break;
			}
			rv = AMLRISK_EINVAL; /* only with --no-validate: skip it */
		}
		if (rv == AMLRISK_EINVAL) {
			if (bad++ < BAD_REPORT_MAX)
				fprintf(stderr, "amlrisk-sim: %s: %s (skipped)\n", name, why);
			else if (bad == BAD_REPORT_MAX + 1)
				fprintf(stderr,
				        "amlrisk-sim: %s: more bad records; counting them\n", name);
			continue;
		}
		if (rv != AMLRISK_OK) { /* the input cannot be read further */
			fprintf(stderr, "amlrisk-sim: %s: %s\n", name, why);
			fatal = 1;
			break;
		}
		if ((++n & 1023) == 0)
			progress_show(&pr, n, 0,
			              size ? (double)sim_reader_bytes(r) / (double)size : -1, p, 0);
	}
	if (bad > 0)
		fprintf(stderr, "amlrisk-sim: %s: %d bad record%s skipped (not published)\n", name,
		        bad, bad == 1 ? "" : "s");
	status = finish_publish(c, p, &pr, 0, bad);
	if (fatal)
		status = 1;
done:
	sim_pub_destroy(p);
	sim_reader_destroy(r);
	if (f != NULL && f != stdin)
		fclose(f);
	return status;
}

static int
run_file(cli *c, sim_gen *g)
{
	static char obuf[OUT_BUF_SIZE]; /* stdio buffer of the output; one run a process */
	FILE *f = stdout;
	sim_writer *w = NULL;
	Aml__V1__Transaction tx;
	progress pr;
	int rv, status = 1;
	const char *name = c->out ? c->out : "stdout";
	if (c->out == NULL && c->format == SIM_FORMAT_PROTOBUF && isatty(STDOUT_FILENO)) {
		fprintf(stderr,
		        "amlrisk-sim: not writing protobuf to a terminal; use --out FILE or "
		        "--format jsonl|csv\n");
		return EXIT_USAGE;
	}
	if (c->out != NULL && (f = fopen(c->out, "wb")) == NULL) {
		fprintf(stderr, "amlrisk-sim: --out %s: %s\n", c->out, strerror(errno));
		return 1;
	}
	setvbuf(f, obuf, _IOFBF, sizeof(obuf));
	if ((rv = sim_writer_create(&w, f, c->format)) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-sim: out of memory\n");
		goto done;
	}
	uint64_t total = sim_gen_total(g), n = 0;
	progress_init(&pr, c->quiet || c->out == NULL, "rows");
	while (sim_gen_next(g, &tx) == AMLRISK_OK) {
		if ((rv = sim_writer_write(w, &tx)) != AMLRISK_OK) {
			fprintf(stderr, "amlrisk-sim: writing %s: %s\n", name,
			        rv == AMLRISK_EIO ? strerror(errno) : amlrisk_strerror(rv));
			goto done;
		}
		if ((++n & 65535) == 0)
			progress_show(&pr, n, total, (double)n / (double)total, NULL, 0);
	}
	if ((rv = sim_writer_finish(w)) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-sim: writing %s: %s\n", name, strerror(errno));
		goto done;
	}
	progress_show(&pr, n, total, 1, NULL, 1);
	status = 0;
done:
	sim_writer_destroy(w);
	if (f != stdout) {
		if (fclose(f) != 0 && status == 0) {
			fprintf(stderr, "amlrisk-sim: closing %s: %s\n", name, strerror(errno));
			status = 1;
		}
	} else if (fflush(f) != 0 && status == 0) {
		fprintf(stderr, "amlrisk-sim: writing stdout: %s\n", strerror(errno));
		status = 1;
	}
	return status;
}

/* Writes path (named by flag in messages) with fn: the truth or labels file.
 * Returns 0 or the exit status 1. */
static int
write_side_file(const char *flag, const char *path, const sim_gen *g,
                int (*fn)(const sim_gen *, FILE *))
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "amlrisk-sim: %s %s: %s\n", flag, path, strerror(errno));
		return 1;
	}
	int rv = fn(g, f);
	if (fclose(f) != 0 || rv != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-sim: writing %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	cli c;
	char err[512];
	sim_gen *g = NULL;
	int rv, done = 0, status;

	memset(&c, 0, sizeof(c));
	sim_gen_opts_default(&c.gen);
	sim_pub_opts_default(&c.pub);
	c.days = 30;
	amlrisk_log_init(-1);
	if ((rv = parse_args(&c, argc, argv, &done)) != 0 || done)
		return rv;

	if (c.publish) {
		struct sigaction sa = {.sa_handler = on_signal};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (c.in != NULL)
		return run_publish_file(&c);

	if ((rv = sim_gen_create(&g, &c.gen, err, sizeof(err))) != AMLRISK_OK) {
		if (rv == AMLRISK_EINVAL)
			return usage_error("%s", err);
		fprintf(stderr, "amlrisk-sim: %s\n", err);
		return 1;
	}
	if (c.truth != NULL &&
	    (status = write_side_file("--truth", c.truth, g, sim_gen_truth_write)) != 0)
		goto done;
	if (c.labels_out != NULL &&
	    (status = write_side_file("--labels-out", c.labels_out, g, sim_gen_labels_write)) != 0)
		goto done;
	if (c.label_sources) {
		uint64_t added = 0;
		if ((rv = sim_labels_store(g, c.database_url, "illicit", "amlrisk-sim", &added, err,
		                           sizeof(err))) != AMLRISK_OK) {
			fprintf(stderr, "amlrisk-sim: --label-sources: %s\n", err);
			status = 1;
			goto done;
		}
		if (!c.quiet)
			amlrisk_log(AMLRISK_LOG_INFO, "sim", "labels.stored", "inserted=%llu",
			            (unsigned long long)added);
	}
	status = c.publish ? run_publish_gen(&c, g) : run_file(&c, g);
done:
	sim_gen_destroy(g);
	return status;
}
