/* cons_bench.c - the ingest benchmark's tools (bench/consumer/run.sh drives
 * them): fill a topic with N transactions and write the same rows as CSV for
 * psql \copy; time amlrisk-consumer through its ingestion state; and the
 * row-at-a-time INSERT loop the original consumer used, for contrast. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "aml/v1/transaction.pb-c.h"

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Transaction i: 1000 wallets with heavy-tailed activity, ids as on chain. */
typedef struct btx {
	char id[24], s[48], r[48], amount[32], asset[8];
	int64_t ts;
} btx;

static void
make(btx *t, int i)
{
	static const char *assets[] = {"", "BTC", "ETH", "USDT"};
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15u;
	x ^= x >> 29;
	unsigned s = (unsigned)(x % 1000), r = (unsigned)((x >> 20) % 100000);
	s = s * s / 1000; /* skewed: low ids far more active */
	snprintf(t->id, sizeof(t->id), "tx-%010d", i);
	snprintf(t->s, sizeof(t->s), "0x%08x%032x", s * 2654435761u, s);
	snprintf(t->r, sizeof(t->r), "0x%08x%032x", r * 2654435761u, r);
	snprintf(t->amount, sizeof(t->amount), "%u.%06u", (unsigned)(x >> 40) % 100000,
	         (unsigned)(x >> 8) % 1000000);
	snprintf(t->asset, sizeof(t->asset), "%s", assets[i % 4]);
	t->ts = INT64_C(1767225600000000) + (int64_t)i * 2591;
}

static void
iso(char *out, size_t cap, int64_t us)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
}

static int delivery_errors;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err)
		delivery_errors++;
}

static int
create_topic(rd_kafka_t *rk, const char *topic, int parts)
{
	char err[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, err, sizeof(err));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	int rv = ev == NULL || rd_kafka_event_error(ev) ? -1 : 0;
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	sleep(1); /* leaders elected */
	return rv;
}

/* gen: N messages to topic (parts partitions) and the same rows as CSV. */
static int
gen(const char *brokers, const char *topic, int parts, int n, const char *csv)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof(err)) != 0 ||
	    rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err)) != 0 ||
	    rd_kafka_conf_set(c, "compression.type", "lz4", err, sizeof(err)) != 0 ||
	    rd_kafka_conf_set(c, "linger.ms", "20", err, sizeof(err)) != 0) {
		fprintf(stderr, "cons-bench: %s\n", err);
		return 1;
	}
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (p == NULL) {
		fprintf(stderr, "cons-bench: %s\n", err);
		return 1;
	}
	if (create_topic(p, topic, parts) != 0) {
		fprintf(stderr, "cons-bench: cannot create topic %s\n", topic);
		rd_kafka_destroy(p);
		return 1;
	}
	FILE *f = fopen(csv, "w");
	if (f == NULL) {
		perror(csv);
		rd_kafka_destroy(p);
		return 1;
	}
	uint8_t buf[1024];
	char ts[96];
	for (int i = 0; i < n; i++) {
		btx t;
		make(&t, i);
		Aml__V1__Transaction m = AML__V1__TRANSACTION__INIT;
		m.tx_id = t.id;
		m.sender = t.s;
		m.receiver = t.r;
		m.amount = t.amount;
		m.timestamp_us = t.ts;
		m.asset = t.asset;
		size_t len = aml__v1__transaction__pack(&m, buf);
		rd_kafka_resp_err_t e;
		while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
		                              RD_KAFKA_V_KEY(t.s, strlen(t.s)),
		                              RD_KAFKA_V_VALUE(buf, len),
		                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                              RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(p, 10);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "cons-bench: produce: %s\n", rd_kafka_err2str(e));
			break;
		}
		iso(ts, sizeof(ts), t.ts);
		fprintf(f, "%s,%s,%s,%s,%s,%s\n", t.id, t.s, t.r, t.amount, ts, t.asset);
	}
	int rv = fclose(f) != 0;
	if (rd_kafka_flush(p, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR || delivery_errors > 0)
		rv = 1;
	rd_kafka_destroy(p);
	return rv;
}

/* The first column of sql's one row as an integer, with parameter p1 (may
 * be NULL when sql has none); -1 on error. */
static int64_t
query_int(PGconn *c, const char *sql, const char *p1)
{
	PGresult *r = PQexecParams(c, sql, p1 != NULL, NULL, &p1, NULL, NULL, 0);
	int64_t v = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* wait: polls the consumers' inserted count (or, with consumer, the messages
 * that one consumed, as when it replays a topic already stored) until n;
 * prints the sustained rate between the first stored batch and the last. */
static int
wait_rows(const char *url, int64_t n, int timeout_s, const char *consumer)
{
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "cons-bench: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	int64_t t0 = now_ms(), first_ms = -1, first_rows = 0, v = 0;
	while (now_ms() - t0 < (int64_t)timeout_s * 1000) {
		v = consumer != NULL ? query_int(c,
		                                 "SELECT coalesce(sum(consumed), 0) FROM"
		                                 " ingestion_consumers WHERE consumer_id = $1",
		                                 consumer)
		                     : query_int(c,
		                                 "SELECT coalesce(sum(inserted), 0) FROM"
		                                 " ingestion_consumers",
		                                 NULL);
		if (v > 0 && first_ms < 0) {
			first_ms = now_ms();
			first_rows = v;
		}
		if (v >= n)
			break;
		usleep(20000);
	}
	int64_t end = now_ms();
	PQfinish(c);
	if (v < n) {
		fprintf(stderr, "cons-bench: only %" PRId64 " of %" PRId64 " rows\n", v, n);
		return 1;
	}
	double s = (double)(end - first_ms) / 1000.0;
	printf("rows=%" PRId64 " seconds=%.3f rows_per_s=%.0f total_seconds=%.3f\n", n - first_rows,
	       s, s > 0 ? (double)(n - first_rows) / s : 0.0, (double)(end - t0) / 1000.0);
	return 0;
}

/* insert-loop: the first n rows of csv, one INSERT per row, autocommit. */
static int
insert_loop(const char *url, const char *csv, int n)
{
	PGconn *c = PQconnectdb(url);
	FILE *f = fopen(csv, "r");
	int rv = 1, done = 0;
	char line[512];
	if (PQstatus(c) != CONNECTION_OK || f == NULL) {
		fprintf(stderr, "cons-bench: cannot open database or %s\n", csv);
		goto end;
	}
	int64_t t0 = now_ms();
	while (done < n && fgets(line, sizeof(line), f) != NULL) {
		char *v[6], *save = NULL, *tok = line;
		line[strcspn(line, "\n")] = '\0';
		for (int i = 0; i < 6; i++) {
			v[i] = strsep(&tok, ",");
			if (v[i] == NULL)
				v[i] = "";
		}
		(void)save;
		const char *p[6] = {v[0], v[1], v[2], v[3], v[4], v[5][0] ? v[5] : NULL};
		PGresult *r = PQexecParams(
		        c,
		        "INSERT INTO transactions (tx_id, sender, receiver, amount, \"timestamp\", "
		        "asset)"
		        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tx_id) DO NOTHING",
		        6, NULL, p, NULL, NULL, 0);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok) {
			fprintf(stderr, "cons-bench: insert: %s", PQerrorMessage(c));
			goto end;
		}
		done++;
	}
	double s = (double)(now_ms() - t0) / 1000.0;
	printf("rows=%d seconds=%.3f rows_per_s=%.0f\n", done, s, s > 0 ? done / s : 0.0);
	rv = 0;
end:
	if (f != NULL)
		fclose(f);
	PQfinish(c);
	return rv;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cons-bench gen --brokers B --topic T --partitions P --n N --csv FILE\n"
	           "       cons-bench wait --database-url URL --n N [--timeout S] [--consumer ID]\n"
	           "       cons-bench insert-loop --database-url URL --csv FILE --n N\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"brokers", required_argument, NULL, 'b'},
	        {"topic", required_argument, NULL, 't'},
	        {"partitions", required_argument, NULL, 'p'},
	        {"n", required_argument, NULL, 'n'},
	        {"csv", required_argument, NULL, 'c'},
	        {"database-url", required_argument, NULL, 'd'},
	        {"timeout", required_argument, NULL, 'T'},
	        {"consumer", required_argument, NULL, 'C'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *brokers = NULL, *topic = NULL, *csv = NULL, *url = NULL, *consumer = NULL;
	int parts = 4, n = 0, timeout = 600, o;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			brokers = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'p':
			parts = atoi(optarg);
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'c':
			csv = optarg;
			break;
		case 'd':
			url = optarg;
			break;
		case 'T':
			timeout = atoi(optarg);
			break;
		case 'C':
			consumer = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(cmd, "gen") == 0 && brokers && topic && csv && n > 0 && parts > 0)
		return gen(brokers, topic, parts, n, csv);
	if (strcmp(cmd, "wait") == 0 && url && n > 0)
		return wait_rows(url, n, timeout, consumer);
	if (strcmp(cmd, "insert-loop") == 0 && url && csv && n > 0)
		return insert_loop(url, csv, n);
	usage(stderr);
	return 2;
}
