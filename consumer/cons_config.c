/* cons_config.c - the consumer's configuration: defaults, then the environment
 * (the compose file's names), then flags. Every number has a bound, every string
 * a length; a value outside them is an error, never silently clamped. */
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_metrics_http.h"
#include "cons.h"

/* One numeric setting: flag, environment name, bounds. */
typedef struct num_opt {
	const char *flag;
	const char *env;
	long long min, max, def;
	size_t off; /* into cons_config; an int unless is_size */
	int is_size;
} num_opt;

static const num_opt num_opts[] = {
        {"batch-size", "CONSUMER_BATCH_SIZE", 1, CONS_BATCH_ROWS_MAX, 20000,
         offsetof(cons_config, batch_rows), 0},
        {"batch-ms", "CONSUMER_BATCH_MS", 1, 60000, 200, offsetof(cons_config, batch_ms), 0},
        {"batch-bytes", "CONSUMER_BATCH_BYTES", 1 << 20, 256 << 20, 32 << 20,
         offsetof(cons_config, batch_bytes), 1},
        {"retry-min-ms", "CONSUMER_RETRY_MIN_MS", 10, 10000, 100,
         offsetof(cons_config, retry_min_ms), 0},
        {"retry-max-ms", "CONSUMER_RETRY_MAX_MS", 10, 300000, 5000,
         offsetof(cons_config, retry_max_ms), 0},
        {"session-timeout-ms", "KAFKA_SESSION_TIMEOUT_MS", 6000, 300000, 10000,
         offsetof(cons_config, session_timeout_ms), 0},
        {"shutdown-timeout-ms", "CONSUMER_SHUTDOWN_TIMEOUT_MS", 0, 600000, 30000,
         offsetof(cons_config, shutdown_timeout_ms), 0},
        {"state-interval-ms", "CONSUMER_STATE_INTERVAL_MS", 100, 600000, 5000,
         offsetof(cons_config, state_interval_ms), 0},
};
#define N_NUM ((int)(sizeof(num_opts) / sizeof(num_opts[0])))

void
cons_config_usage(FILE *f)
{
	fprintf(f,
	        "usage: amlrisk-consumer [options]\n"
	        "\n"
	        "Reads aml.v1.Transaction messages from a Kafka topic as a member of a consumer\n"
	        "group, validates each one, and writes them to PostgreSQL in batches: one\n"
	        "transaction per batch (COPY into a staging table, INSERT ... ON CONFLICT (tx_id)\n"
	        "DO NOTHING, ingestion state), then commits exactly the batch's offsets. Invalid\n"
	        "messages go to a dead-letter topic with the reason in headers, and so do\n"
	        "conflicting duplicates (a stored tx_id with other content; the stored row\n"
	        "stays as it is). Runs until SIGTERM/SIGINT, then flushes, commits and exits 0.\n"
	        "\n"
	        "  --database-url URL        libpq connection string     [DATABASE_URL]\n"
	        "  --bootstrap-servers LIST  Kafka brokers               "
	        "[KAFKA_BOOTSTRAP_SERVERS]\n"
	        "                            (default 127.0.0.1:9092)\n"
	        "  --topic NAME              source topic                [KAFKA_TOPIC] "
	        "(transactions)\n"
	        "  --group NAME              consumer group              [KAFKA_GROUP_ID]\n"
	        "                            (amlrisk-consumer)\n"
	        "  --dlq-topic NAME          dead-letter topic           [KAFKA_DLQ_TOPIC] "
	        "(<topic>.dlq)\n"
	        "  --consumer-id ID          this instance: its row in ingestion_consumers and\n"
	        "                            its static group membership (group.instance.id), so\n"
	        "                            a restart resumes at once [CONSUMER_ID] "
	        "(<hostname>).\n"
	        "                            Each instance needs its own, kept across its\n"
	        "                            restarts: a second process with the same id fences\n"
	        "                            the first out of the group (it exits with status 3)\n"
	        "  --offset-reset WHERE      earliest|latest, where a new group starts\n"
	        "                            [KAFKA_AUTO_OFFSET_RESET] (earliest)\n"
	        "  --batch-size N            flush at N messages, 1..%d [CONSUMER_BATCH_SIZE] "
	        "(20000)\n"
	        "  --batch-ms MS             or MS after the batch's first message, 1..60000\n"
	        "                            [CONSUMER_BATCH_MS] (200)\n"
	        "  --batch-bytes N           or N bytes held, 1 MiB..256 MiB "
	        "[CONSUMER_BATCH_BYTES]\n"
	        "                            (32 MiB)\n"
	        "  --retry-min-ms MS         first database retry wait, 10..10000\n"
	        "                            [CONSUMER_RETRY_MIN_MS] (100)\n"
	        "  --retry-max-ms MS         retry wait cap (doubling), 10..300000\n"
	        "                            [CONSUMER_RETRY_MAX_MS] (5000)\n"
	        "  --session-timeout-ms MS   group session timeout, 6000..300000\n"
	        "                            [KAFKA_SESSION_TIMEOUT_MS] (10000)\n"
	        "  --shutdown-timeout-ms MS  on SIGTERM, keep retrying the last batch this long,\n"
	        "                            0..600000 [CONSUMER_SHUTDOWN_TIMEOUT_MS] (30000)\n"
	        "  --state-interval-ms MS    idle refresh of lag in ingestion_offsets, "
	        "100..600000\n"
	        "                            [CONSUMER_STATE_INTERVAL_MS] (5000)\n"
	        "  --kafka-opt KEY=VALUE     extra librdkafka consumer property, repeatable (at\n"
	        "                            most %d), e.g. partition.assignment.strategy=\n"
	        "                            cooperative-sticky\n"
	        "  --metrics-listen HOST:PORT  serve Prometheus GET /metrics there (off by\n"
	        "                            default)                    [METRICS_LISTEN]\n"
	        "  --help                    this text\n"
	        "\n"
	        "Other environment: LOG_LEVEL (debug|info|warn|error).\n"
	        "Exit status: 0 after a clean shutdown, 1 when the last batch could not be\n"
	        "written before --shutdown-timeout-ms (it is re-read on restart) or Kafka\n"
	        "failed fatally, 2 on bad configuration, 3 when another instance with the same\n"
	        "CONSUMER_ID took this one's place in the group.\n",
	        CONS_BATCH_ROWS_MAX, CONS_KAFKA_OPTS_MAX);
}

/* Copies s into dst (cap bytes); AMLRISK_EINVAL with a message if too long or empty. */
static int
set_str(char *dst, size_t cap, const char *s, const char *what, char *err, size_t errlen)
{
	size_t n = strlen(s);
	if (n == 0 || n >= cap) {
		snprintf(err, errlen, "%s: %s", what, n == 0 ? "empty" : "too long");
		return AMLRISK_EINVAL;
	}
	memcpy(dst, s, n + 1);
	return AMLRISK_OK;
}

static int
set_num(cons_config *c, const num_opt *o, const char *s, const char *src, char *err, size_t errlen)
{
	int64_t v;
	if (amlrisk_parse_i64(&v, s, o->min, o->max) != AMLRISK_OK) {
		snprintf(err, errlen, "%s=%s: expected an integer in %lld..%lld", src, s, o->min,
		         o->max);
		return AMLRISK_EINVAL;
	}
	if (o->is_size)
		*(size_t *)((char *)c + o->off) = (size_t)v;
	else
		*(int *)((char *)c + o->off) = (int)v;
	return AMLRISK_OK;
}

static int
add_kafka_opt(cons_config *c, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	if (eq == NULL || eq == kv) {
		snprintf(err, errlen, "--kafka-opt %s: expected KEY=VALUE", kv);
		return AMLRISK_EINVAL;
	}
	if (c->n_kafka_opts >= CONS_KAFKA_OPTS_MAX) {
		snprintf(err, errlen, "--kafka-opt: at most %d", CONS_KAFKA_OPTS_MAX);
		return AMLRISK_EINVAL;
	}
	/* what exactly-once rests on is not negotiable */
	static const char *managed[] = {
	        "enable.auto.commit", "enable.auto.offset.store", "group.id",
	        "bootstrap.servers",  "enable.partition.eof",     "group.instance.id"};
	for (size_t i = 0; i < sizeof(managed) / sizeof(managed[0]); i++) {
		size_t ml = strlen(managed[i]);
		if ((size_t)(eq - kv) == ml && strncmp(kv, managed[i], ml) == 0) {
			snprintf(err, errlen, "--kafka-opt %s: set by the consumer itself",
			         managed[i]);
			return AMLRISK_EINVAL;
		}
	}
	size_t kl = (size_t)(eq - kv), vl = strlen(eq + 1);
	if (kl >= sizeof(c->kafka_opts[0][0]) || vl >= sizeof(c->kafka_opts[0][1])) {
		snprintf(err, errlen, "--kafka-opt %s: too long", kv);
		return AMLRISK_EINVAL;
	}
	memcpy(c->kafka_opts[c->n_kafka_opts][0], kv, kl);
	c->kafka_opts[c->n_kafka_opts][0][kl] = '\0';
	memcpy(c->kafka_opts[c->n_kafka_opts][1], eq + 1, vl + 1);
	c->n_kafka_opts++;
	return AMLRISK_OK;
}

/* String settings: flag, environment name, field, capacity. */
typedef struct str_opt {
	const char *flag;
	const char *env;
	size_t off, cap;
} str_opt;

static const str_opt str_opts[] = {
        {"database-url", "DATABASE_URL", offsetof(cons_config, database_url),
         sizeof(((cons_config *)0)->database_url)},
        {"bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", offsetof(cons_config, bootstrap),
         sizeof(((cons_config *)0)->bootstrap)},
        {"topic", "KAFKA_TOPIC", offsetof(cons_config, topic), sizeof(((cons_config *)0)->topic)},
        {"group", "KAFKA_GROUP_ID", offsetof(cons_config, group),
         sizeof(((cons_config *)0)->group)},
        {"dlq-topic", "KAFKA_DLQ_TOPIC", offsetof(cons_config, dlq_topic),
         sizeof(((cons_config *)0)->dlq_topic)},
        {"consumer-id", "CONSUMER_ID", offsetof(cons_config, consumer_id),
         sizeof(((cons_config *)0)->consumer_id)},
        {"offset-reset", "KAFKA_AUTO_OFFSET_RESET", offsetof(cons_config, offset_reset),
         sizeof(((cons_config *)0)->offset_reset)},
        {"metrics-listen", "METRICS_LISTEN", offsetof(cons_config, metrics_listen),
         sizeof(((cons_config *)0)->metrics_listen)},
};
#define N_STR ((int)(sizeof(str_opts) / sizeof(str_opts[0])))

int
cons_config_load(cons_config *out, int argc, char **argv, int *help, char *err, size_t errlen)
{
	cons_config c;
	int rv;
	memset(&c, 0, sizeof(c));
	*help = 0;
	snprintf(c.bootstrap, sizeof(c.bootstrap), "127.0.0.1:9092");
	snprintf(c.topic, sizeof(c.topic), "transactions");
	snprintf(c.group, sizeof(c.group), "amlrisk-consumer");
	snprintf(c.offset_reset, sizeof(c.offset_reset), "earliest");
	for (int i = 0; i < N_NUM; i++) {
		if (num_opts[i].is_size)
			*(size_t *)((char *)&c + num_opts[i].off) = (size_t)num_opts[i].def;
		else
			*(int *)((char *)&c + num_opts[i].off) = (int)num_opts[i].def;
	}

	/* the environment */
	for (int i = 0; i < N_STR; i++) {
		const char *v = getenv(str_opts[i].env);
		if (v != NULL && *v != '\0' &&
		    (rv = set_str((char *)&c + str_opts[i].off, str_opts[i].cap, v, str_opts[i].env,
		                  err, errlen)) != 0)
			return rv;
	}
	for (int i = 0; i < N_NUM; i++) {
		const char *v = getenv(num_opts[i].env);
		if (v != NULL && *v != '\0' &&
		    (rv = set_num(&c, &num_opts[i], v, num_opts[i].env, err, errlen)) != 0)
			return rv;
	}

	/* flags: long options only; index into the tables via the option's val */
	struct option opts[N_STR + N_NUM + 3];
	int n = 0;
	for (int i = 0; i < N_STR; i++)
		opts[n++] = (struct option){str_opts[i].flag, required_argument, NULL, 1000 + i};
	for (int i = 0; i < N_NUM; i++)
		opts[n++] = (struct option){num_opts[i].flag, required_argument, NULL, 2000 + i};
	opts[n++] = (struct option){"kafka-opt", required_argument, NULL, 'k'};
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[n] = (struct option){NULL, 0, NULL, 0};
	optind = 1;
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'h') {
			*help = 1;
			return AMLRISK_OK;
		} else if (o == 'k') {
			if ((rv = add_kafka_opt(&c, optarg, err, errlen)) != 0)
				return rv;
		} else if (o >= 1000 && o < 1000 + N_STR) {
			const str_opt *s = &str_opts[o - 1000];
			if ((rv = set_str((char *)&c + s->off, s->cap, optarg, s->flag, err,
			                  errlen)) != 0)
				return rv;
		} else if (o >= 2000 && o < 2000 + N_NUM) {
			if ((rv = set_num(&c, &num_opts[o - 2000], optarg, num_opts[o - 2000].flag,
			                  err, errlen)) != 0)
				return rv;
		} else {
			snprintf(err, errlen, "unknown or incomplete option '%s' (see --help)",
			         argv[optind - 1]);
			return AMLRISK_EINVAL;
		}
	}
	if (optind != argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return AMLRISK_EINVAL;
	}

	/* derived and cross-field checks */
	if (c.database_url[0] == '\0') {
		snprintf(err, errlen, "no database: set DATABASE_URL or --database-url");
		return AMLRISK_EINVAL;
	}
	if (strcmp(c.offset_reset, "earliest") != 0 && strcmp(c.offset_reset, "latest") != 0) {
		snprintf(err, errlen, "offset-reset: expected earliest or latest");
		return AMLRISK_EINVAL;
	}
	if (c.metrics_listen[0] != '\0' &&
	    amlrisk_metrics_http_check(c.metrics_listen, err, errlen) != AMLRISK_OK)
		return AMLRISK_EINVAL;
	if (c.retry_min_ms > c.retry_max_ms) {
		snprintf(err, errlen, "retry-min-ms (%d) is above retry-max-ms (%d)",
		         c.retry_min_ms, c.retry_max_ms);
		return AMLRISK_EINVAL;
	}
	if (c.dlq_topic[0] == '\0')
		snprintf(c.dlq_topic, sizeof(c.dlq_topic), "%s.dlq", c.topic);
	if (strcmp(c.dlq_topic, c.topic) == 0) {
		snprintf(err, errlen, "dlq-topic must differ from topic");
		return AMLRISK_EINVAL;
	}
	if (c.consumer_id[0] == '\0') {
		/* stable across restarts of this instance (a container keeps its
		 * hostname), unlike the pid: static membership hinges on it */
		char host[128];
		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "amlrisk-consumer");
		host[sizeof(host) - 1] = '\0';
		snprintf(c.consumer_id, sizeof(c.consumer_id), "%s", host);
	}
	/* Kafka's rule for group.instance.id */
	if (strspn(c.consumer_id,
	           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
	    strlen(c.consumer_id)) {
		snprintf(
		        err, errlen,
		        "consumer-id '%s': only ASCII letters, digits, '.', '_' and '-' (it is the "
		        "Kafka group.instance.id)",
		        c.consumer_id);
		return AMLRISK_EINVAL;
	}
	*out = c;
	return AMLRISK_OK;
}
