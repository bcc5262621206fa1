/* ct.c - the consumer tests' helpers: librdkafka for producing and reading
 * back, libpq for the table, th_spawn for the service. Any failure fails the
 * running test (cmocka), nothing is skipped. */
#include "ct.h"

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "th.h"

void
ct_tx_make(ct_tx *t, int i)
{
	static const char *assets[] = {"", "BTC", "USDT", "ETH"};
	memset(t, 0, sizeof(*t));
	Aml__V1__Transaction init = AML__V1__TRANSACTION__INIT;
	t->tx = init;
	snprintf(t->id, sizeof(t->id), "ct-%08d", i);
	int s = (int)(((unsigned)i * 7919u) % 997u),
	    r = (int)(((unsigned)i * 104729u + 13u) % 991u);
	if (s % 50 == 0) /* a 200-byte wallet id */
		snprintf(t->sender, sizeof(t->sender), "%0200d", s);
	else if (s % 7 == 0) /* non-ASCII */
		snprintf(t->sender, sizeof(t->sender), "w\xc3\xa4llet-\xe2\x82\xbf-%d", s);
	else
		snprintf(t->sender, sizeof(t->sender), "0x%040x", (unsigned)s * 2654435761u);
	snprintf(t->receiver, sizeof(t->receiver), "0x%040x", (unsigned)r * 2654435761u);
	if (i % 13 == 0)
		snprintf(t->amount, sizeof(t->amount), "0");
	else if (i % 17 == 0)
		snprintf(t->amount, sizeof(t->amount), "12345678901234567890.123456789012345678");
	else if (i % 5 == 0)
		snprintf(t->amount, sizeof(t->amount), "%d", i);
	else
		snprintf(t->amount, sizeof(t->amount), "%d.%06d", i % 100000, (i * 31) % 1000000);
	snprintf(t->asset, sizeof(t->asset), "%s", assets[i % 4]);
	t->tx.tx_id = t->id;
	t->tx.sender = t->sender;
	t->tx.receiver = t->receiver;
	t->tx.amount = t->amount;
	t->tx.asset = t->asset;
	t->tx.timestamp_us = INT64_C(1767225600000000) + (int64_t)i * 1000003;
}

void
ct_txs_make(int first, int n, ct_tx **txs, Aml__V1__Transaction ***ptrs)
{
	ct_tx *t = malloc((size_t)n * sizeof(*t));
	Aml__V1__Transaction **p = malloc((size_t)n * sizeof(*p));
	assert_non_null(t);
	assert_non_null(p);
	for (int i = 0; i < n; i++) {
		ct_tx_make(&t[i], first + i);
		p[i] = &t[i].tx;
	}
	*txs = t;
	*ptrs = p;
}

void
ct_case_setup(ct_case *k, const char *name, int partitions)
{
	char prefix[96];
	th_db_create(k->url, sizeof(k->url), 1);
	snprintf(prefix, sizeof(prefix), "cons.%s", name);
	th_topic_name(k->topic, sizeof(k->topic), prefix);
	snprintf(prefix, sizeof(prefix), "cons.%s.g", name);
	th_topic_name(k->group, sizeof(k->group), prefix);
	th_topic_create(k->topic, partitions);
	ct_log_path(k->log, sizeof(k->log), name);
}

void
ct_case_done(ct_case *k)
{
	th_db_drop(k->url);
}

void
ct_case_end(ct_case *k, PGconn *c, ct_tx *txs, Aml__V1__Transaction **ptrs)
{
	if (c != NULL)
		PQfinish(c);
	free(ptrs);
	free(txs);
	ct_case_done(k);
}

static th_delivery delivered;

rd_kafka_t *
ct_producer(void)
{
	char err[256];
	rd_kafka_conf_t *c = th_kafka_conf();
	th_kafka_set(c, "enable.idempotence", "true");
	th_kafka_set(c, "acks", "all");
	th_kafka_set(c, "linger.ms", "5");
	th_kafka_set(c, "compression.type", "lz4");
	th_kafka_set(c, "message.max.bytes", "8388608");
	th_kafka_count_deliveries(c, &delivered);
	rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (p == NULL)
		fail_msg("producer: %s", err);
	delivered.ok = delivered.err = 0;
	return p;
}

void
ct_produce(rd_kafka_t *p, const char *topic, int32_t partition, const void *key, size_t keylen,
           const void *value, size_t len)
{
	rd_kafka_resp_err_t e;
	while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
	                              RD_KAFKA_V_KEY(key, keylen),
	                              RD_KAFKA_V_VALUE((void *)value, len),
	                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
	       RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(p, 20);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		fail_msg("produce to %s: %s", topic, rd_kafka_err2str(e));
	rd_kafka_poll(p, 0);
}

void
ct_produce_tx(rd_kafka_t *p, const char *topic, const Aml__V1__Transaction *tx)
{
	uint8_t buf[4096];
	size_t n = aml__v1__transaction__get_packed_size(tx);
	assert_true(n <= sizeof(buf));
	aml__v1__transaction__pack(tx, buf);
	ct_produce(p, topic, RD_KAFKA_PARTITION_UA, tx->sender, strlen(tx->sender), buf, n);
}

void
ct_producer_close(rd_kafka_t *p)
{
	assert_int_equal(rd_kafka_flush(p, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(delivered.err, 0);
	rd_kafka_destroy(p);
}

static void *
feed(void *arg)
{
	ct_feeder *f = arg;
	rd_kafka_t *p = ct_producer();
	int64_t t0 = th_now_ms();
	for (int i = 0; i < f->n; i++) {
		ct_produce_tx(p, f->topic, f->txs[i]);
		if (f->rate > 0 && i % 250 == 249) {
			int64_t due = t0 + (int64_t)(i + 1) * 1000 / f->rate, now = th_now_ms();
			if (due > now)
				usleep((useconds_t)(due - now) * 1000);
		}
	}
	ct_producer_close(p);
	return NULL;
}

void
ct_feed_start(ct_feeder *f, const char *topic, Aml__V1__Transaction **txs, int n, int rate)
{
	f->topic = topic;
	f->txs = txs;
	f->n = n;
	f->rate = rate;
	assert_int_equal(pthread_create(&f->thread, NULL, feed, f), 0);
}

void
ct_feed_join(ct_feeder *f)
{
	pthread_join(f->thread, NULL);
}

int
ct_alive(pid_t pid)
{
	int st;
	return waitpid(pid, &st, WNOHANG) == 0;
}

/* Starts prog (under AMLRISK_BIN) as the consumer, with env (may be NULL). */
static pid_t
consumer_spawn(const char *prog, char **env, const char *url, const char *topic, const char *group,
               const char *id, const char *const *extra, const char *log)
{
	char *argv[48];
	int n = 0;
	argv[n++] = "amlrisk-consumer";
	argv[n++] = "--database-url";
	argv[n++] = (char *)url;
	argv[n++] = "--bootstrap-servers";
	argv[n++] = (char *)th_env("KAFKA_BOOTSTRAP_SERVERS");
	argv[n++] = "--topic";
	argv[n++] = (char *)topic;
	argv[n++] = "--group";
	argv[n++] = (char *)group;
	argv[n++] = "--consumer-id";
	argv[n++] = (char *)id;
	argv[n++] = "--session-timeout-ms";
	argv[n++] = "6000";
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 46; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	return th_spawn(prog, argv, env, log);
}

pid_t
ct_consumer_start(const char *url, const char *topic, const char *group, const char *id,
                  const char *const *extra, const char *log)
{
	static char *env[] = {"LOG_LEVEL=debug", NULL};
	return consumer_spawn("amlrisk-consumer", env, url, topic, group, id, extra, log);
}

pid_t
ct_consumer_start_faulty(const char *faults, const char *url, const char *topic, const char *group,
                         const char *id, const char *const *extra, const char *log)
{
	static char fenv[256];
	snprintf(fenv, sizeof(fenv), "AMLRISK_FAULTS=%s", faults);
	char *env[] = {"LOG_LEVEL=debug", fenv, NULL};
	/* built beside the tests, never installed */
	return consumer_spawn("../tests/amlrisk-consumer-faults", env, url, topic, group, id, extra,
	                      log);
}

int64_t
ct_wait_rows(PGconn *c, int64_t want, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms, n = -1;
	for (;;) {
		n = th_db_int(c, "SELECT count(*) FROM transactions");
		if (n == want || th_now_ms() >= end)
			return n;
		usleep(100000);
	}
}

int64_t
ct_wait_rows_min(PGconn *c, int64_t min, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms, n;
	while ((n = th_db_int(c, "SELECT count(*) FROM transactions")) < min && th_now_ms() < end)
		usleep(20000);
	return n;
}

int
ct_wait_log(const char *path, const char *needle, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;
	size_t cap = 1 << 20;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	int found = 0;
	while (!found && th_now_ms() < end) {
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			/* scan in overlapping windows */
			size_t keep = 0, n;
			while (!found && (n = fread(buf + keep, 1, cap - keep, f)) > 0) {
				buf[keep + n] = '\0';
				found = strstr(buf, needle) != NULL;
				size_t total = keep + n, tail = strlen(needle);
				keep = tail < total ? tail : total;
				memmove(buf, buf + total - keep, keep);
			}
			fclose(f);
		}
		if (!found)
			usleep(50000);
	}
	free(buf);
	return found;
}

/* Occurrences of needle in the file at path (0 if it cannot be read). */
static int
count_in_file(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	int n = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		for (const char *p = line; (p = strstr(p, needle)) != NULL; p += strlen(needle))
			n++;
	if (f != NULL)
		fclose(f);
	return n;
}

int
ct_wait_log_count(const char *path, const char *needle, int n, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;
	int got;
	while ((got = count_in_file(path, needle)) < n && th_now_ms() < end)
		usleep(50000);
	return got;
}

int64_t
ct_wait_int(PGconn *c, const char *sql, int64_t want, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms, v;
	while ((v = th_db_int(c, sql)) != want && th_now_ms() < end)
		usleep(50000);
	return v;
}

int
ct_wait_assigned(const char *path, int timeout_ms)
{
	static const char *needle = "rebalance.assigned partitions=";
	int64_t end = th_now_ms() + timeout_ms;
	char line[4096];
	do {
		FILE *f = fopen(path, "r");
		int found = 0;
		while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL) {
			const char *p = strstr(line, needle);
			found = p != NULL && p[strlen(needle)] >= '0' && p[strlen(needle)] <= '9';
		}
		if (f != NULL)
			fclose(f);
		if (found)
			return 1;
		usleep(50000);
	} while (th_now_ms() < end);
	return 0;
}

void
ct_log_path(char *out, size_t outlen, const char *name)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/consumer-tests",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		fail_msg("cannot create %s: %s", dir, strerror(errno));
	snprintf(out, outlen, "%s/%s.%d.%lld.log", dir, name, (int)getpid(),
	         (long long)th_now_ms());
	unlink(out);
}

/* s as a canonical decimal (no leading zeros, no trailing fractional zeros) */
static void
canon(char *out, size_t cap, const char *s)
{
	while (*s == '0' && s[1] >= '0' && s[1] <= '9')
		s++;
	snprintf(out, cap, "%s", s);
	char *dot = strchr(out, '.');
	if (dot != NULL) {
		char *e = out + strlen(out) - 1;
		while (e > dot && *e == '0')
			*e-- = '\0';
		if (e == dot)
			*e = '\0';
	}
}

static int
cmp_tx(const void *a, const void *b)
{
	return strcmp((*(Aml__V1__Transaction *const *)a)->tx_id,
	              (*(Aml__V1__Transaction *const *)b)->tx_id);
}

void
ct_assert_rows(PGconn *c, Aml__V1__Transaction *const *txs, size_t n)
{
	Aml__V1__Transaction **sorted = malloc((n + 1) * sizeof(*sorted));
	assert_non_null(sorted);
	memcpy(sorted, txs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_tx);
	PGresult *r =
	        PQexec(c, "SELECT tx_id, sender, receiver, amount::text,"
	                  " (extract(epoch FROM \"timestamp\") * 1000000)::bigint,"
	                  " asset IS NULL, coalesce(asset, '') FROM transactions ORDER BY tx_id");
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("select: %s", PQerrorMessage(c));
	assert_int_equal((size_t)PQntuples(r), n);
	for (size_t i = 0; i < n; i++) {
		const Aml__V1__Transaction *t = sorted[i];
		char want[64], got[64];
		int row = (int)i;
		if (strcmp(PQgetvalue(r, row, 0), t->tx_id) != 0)
			fail_msg("row %zu: tx_id %s, want %s", i, PQgetvalue(r, row, 0), t->tx_id);
		assert_string_equal(PQgetvalue(r, row, 1), t->sender);
		assert_string_equal(PQgetvalue(r, row, 2), t->receiver);
		canon(want, sizeof(want), t->amount);
		canon(got, sizeof(got), PQgetvalue(r, row, 3));
		if (strcmp(want, got) != 0)
			fail_msg("%s: amount %s, want %s", t->tx_id, PQgetvalue(r, row, 3),
			         t->amount);
		if (strtoll(PQgetvalue(r, row, 4), NULL, 10) != t->timestamp_us)
			fail_msg("%s: timestamp %s, want %" PRId64, t->tx_id, PQgetvalue(r, row, 4),
			         t->timestamp_us);
		const char *asset = t->asset != NULL ? t->asset : "";
		assert_string_equal(PQgetvalue(r, row, 6), asset);
		/* an unknown asset is stored as NULL, never as '' */
		assert_string_equal(PQgetvalue(r, row, 5), asset[0] == '\0' ? "t" : "f");
	}
	PQclear(r);
	free(sorted);
}

static rd_kafka_t *
plain_consumer(const char *group)
{
	rd_kafka_conf_t *c = th_kafka_conf();
	th_kafka_set(c, "fetch.message.max.bytes", "10485760");
	return th_kafka_consumer(c, group);
}

void
ct_committed(const char *group, const char *topic, int n, int64_t *out)
{
	rd_kafka_t *rk = plain_consumer(group);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, topic, i);
	rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 20000);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		fail_msg("committed: %s", rd_kafka_err2str(e));
	for (int i = 0; i < n; i++)
		out[i] = l->elems[i].offset;
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
}

void
ct_high_watermarks(const char *topic, int n, int64_t *out)
{
	rd_kafka_t *rk = plain_consumer("ct-watermarks");
	for (int i = 0; i < n; i++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t e =
		        rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 20000);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
			fail_msg("watermarks: %s", rd_kafka_err2str(e));
		out[i] = hi;
	}
	rd_kafka_destroy(rk);
}

static void
header_str(rd_kafka_headers_t *h, const char *name, char *out, size_t cap)
{
	const void *v;
	size_t n;
	out[0] = '\0';
	if (h != NULL && rd_kafka_header_get_last(h, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
		snprintf(out, cap, "%.*s", (int)n, (const char *)v);
}

typedef struct msg_vec {
	ct_msg *v;
	size_t cnt, cap;
} msg_vec;

/* Copies one message (value, key, partition, offset, headers) into the
 * vector arg. */
static int
keep_msg(const rd_kafka_message_t *m, void *arg)
{
	msg_vec *mv = arg;
	if (mv->cnt == mv->cap) {
		mv->cap *= 2;
		mv->v = realloc(mv->v, mv->cap * sizeof(*mv->v));
		assert_non_null(mv->v);
	}
	ct_msg *c = &mv->v[mv->cnt++];
	memset(c, 0, sizeof(*c));
	c->value = malloc(m->len + 1);
	assert_non_null(c->value);
	memcpy(c->value, m->payload, m->len);
	c->len = m->len;
	if (m->key != NULL) {
		c->key = malloc(m->key_len + 1);
		assert_non_null(c->key);
		memcpy(c->key, m->key, m->key_len);
		c->key_len = m->key_len;
	}
	c->partition = m->partition;
	c->offset = m->offset;
	rd_kafka_headers_t *h = NULL;
	char num[32];
	rd_kafka_message_headers(m, &h);
	header_str(h, "dlq.reason", c->reason, sizeof(c->reason));
	header_str(h, "dlq.topic", c->src_topic, sizeof(c->src_topic));
	header_str(h, "dlq.partition", num, sizeof(num));
	c->src_partition = num[0] ? strtoll(num, NULL, 10) : -1;
	header_str(h, "dlq.offset", num, sizeof(num));
	c->src_offset = num[0] ? strtoll(num, NULL, 10) : -1;
	if (h != NULL)
		assert_non_null(c->headers = rd_kafka_headers_copy(h));
	return 1;
}

void
ct_msg_header(const ct_msg *m, const char *name, char *out, size_t cap)
{
	header_str(m->headers, name, out, cap);
}

size_t
ct_read_topic(const char *topic, int n, int timeout_ms, ct_msg **out)
{
	rd_kafka_t *rk = plain_consumer("ct-reader");
	msg_vec mv = {NULL, 0, 16};
	mv.v = calloc(mv.cap, sizeof(*mv.v));
	assert_non_null(mv.v);
	int64_t end = th_now_ms() + timeout_ms;
	/* one partition at a time, from its low to its high watermark */
	for (int i = 0; i < n; i++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t e =
		        rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 20000);
		if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
			fail_msg("watermarks of %s: %s", topic, rd_kafka_err2str(e));
		if (hi <= lo)
			continue;
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, topic, i)->offset = lo;
		assert_int_equal(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
		rd_kafka_topic_partition_list_destroy(l);
		int64_t next = lo;
		while (next < hi && th_now_ms() < end) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
			if (m == NULL)
				continue;
			if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				keep_msg(m, &mv);
				next = m->offset + 1;
			}
			rd_kafka_message_destroy(m);
		}
		if (next < hi)
			fail_msg("%s/%d: read up to offset %lld of %lld in time", topic, i,
			         (long long)next, (long long)hi);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	*out = mv.v;
	return mv.cnt;
}

void
ct_msgs_free(ct_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].value);
		free(m[i].key);
		if (m[i].headers != NULL)
			rd_kafka_headers_destroy(m[i].headers);
	}
	free(m);
}

/* Sum of ingestion_consumers.consumed, waited for until it reaches want. */
int64_t
ct_wait_consumed(PGconn *c, int64_t want, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms, n = -1;
	for (;;) {
		n = th_db_int(c, "SELECT coalesce(sum(consumed), 0) FROM ingestion_consumers");
		if (n >= want || th_now_ms() >= end)
			return n;
		usleep(100000);
	}
}

/* SIGTERM, then: exit 0, and every partition committed at its high watermark
 * both in Kafka and in ingestion_offsets. */
void
ct_stop_committed(pid_t pid, PGconn *c, const char *group, const char *topic, int parts)
{
	int st = th_stop(pid, SIGTERM, 30000);
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	int64_t committed[16], hwm[16];
	ct_committed(group, topic, parts, committed);
	ct_high_watermarks(topic, parts, hwm);
	for (int p = 0; p < parts; p++) {
		char part[16];
		if (hwm[p] == 0)
			continue;
		assert_int_equal(committed[p], hwm[p]);
		snprintf(part, sizeof(part), "%d", p);
		const char *params[2] = {topic, part};
		PGresult *r = PQexecParams(c,
		                           "SELECT committed_offset FROM ingestion_offsets"
		                           " WHERE topic = $1 AND partition = $2::int",
		                           2, NULL, params, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_int_equal(PQntuples(r), 1);
		assert_int_equal(strtoll(PQgetvalue(r, 0, 0), NULL, 10), hwm[p]);
		PQclear(r);
	}
}

/* A free loopback port whose successor is free too (Kafka's controller). */
static int
free_port_pair(void)
{
	for (int tries = 0; tries < 50; tries++) {
		int fds[2] = {-1, -1}, port = 0, ok = 1;
		for (int i = 0; i < 2 && ok; i++) {
			struct sockaddr_in a = {.sin_family = AF_INET,
			                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
			                        .sin_port =
			                                htons((uint16_t)(i == 0 ? 0 : port + 1))};
			socklen_t len = sizeof(a);
			fds[i] = socket(AF_INET, SOCK_STREAM, 0);
			ok = fds[i] >= 0 && bind(fds[i], (struct sockaddr *)&a, sizeof(a)) == 0 &&
			     getsockname(fds[i], (struct sockaddr *)&a, &len) == 0;
			if (ok && i == 0)
				port = ntohs(a.sin_port);
		}
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (ok && port > 0 && port < 65535)
			return port;
	}
	fail_msg("no free port pair");
	return -1;
}

/* Stacks not cleaned up yet, by value: a failed assertion leaves its test
 * function (cmocka longjmps) before the test's own ct_stack_cleanup, so the
 * process stops them at exit instead of leaking a broker or a cluster. */
#define LIVE_STACKS_MAX 8
static ct_stack live_stacks[LIVE_STACKS_MAX];

static void
live_stacks_cleanup(void)
{
	for (int i = 0; i < LIVE_STACKS_MAX; i++) {
		ct_stack s = live_stacks[i];

		live_stacks[i].var[0] = '\0';
		if (s.var[0] != '\0')
			ct_stack_cleanup(&s);
	}
}

static void
live_stacks_track(const ct_stack *s, bool add)
{
	static bool registered;

	if (!registered)
		registered = atexit(live_stacks_cleanup) == 0;
	for (int i = 0; i < LIVE_STACKS_MAX; i++) {
		if (add ? live_stacks[i].var[0] == '\0' : strcmp(live_stacks[i].var, s->var) == 0) {
			if (add)
				live_stacks[i] = *s;
			else
				live_stacks[i].var[0] = '\0';
			return;
		}
	}
}

int
ct_stack_init(ct_stack *s)
{
	char lib[512], link[300];
	snprintf(s->var, sizeof(s->var), "/tmp/ct-stack-XXXXXX");
	if (mkdtemp(s->var) == NULL)
		return -1;
	chmod(s->var, 0755); /* PostgreSQL runs as user postgres when we are root */
	s->pg_port = free_port_pair();
	s->kafka_port = free_port_pair();
	/* the broker jars of the running stack (scripts/test exports its AMLRISK_VAR) */
	const char *v = getenv("AMLRISK_VAR");
	snprintf(lib, sizeof(lib), "%s/kafka-lib", v != NULL ? v : "");
	if (v == NULL || access(lib, R_OK) != 0)
		snprintf(lib, sizeof(lib), "%s/var/kafka-lib", th_env("AMLRISK_SOURCE_DIR"));
	snprintf(link, sizeof(link), "%s/kafka-lib", s->var);
	live_stacks_track(s, true);
	return symlink(lib, link);
}

int
ct_stack_run(const ct_stack *s, const char *what)
{
	char cmd[1536];
	snprintf(
	        cmd, sizeof(cmd),
	        "AMLRISK_VAR='%s' AMLRISK_PG_PORT=%d AMLRISK_KAFKA_PORT=%d AMLRISK_KAFKA_HEAP=256m "
	        "'%s/scripts/stack' %s >>'%s/stack.log' 2>&1",
	        s->var, s->pg_port, s->kafka_port, th_env("AMLRISK_SOURCE_DIR"), what, s->var);
	return system(cmd);
}

int
ct_stack_cleanup(ct_stack *s)
{
	char cmd[512];
	if (s->var[0] == '\0')
		return 0;
	live_stacks_track(s, false);
	ct_stack_run(s, "stop-kafka");
	ct_stack_run(s, "stop-pg");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->var);
	s->var[0] = '\0';
	return system(cmd) == 0 ? 0 : -1;
}
