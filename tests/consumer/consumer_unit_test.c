/* consumer_unit_test.c - the consumer's modules without services: config
 * bounds and precedence, the codec (binary numeric and COPY tuples; decoding
 * is tested with common/ in proto_test), and the batch (bounds, dropping
 * revoked partitions, lifecycle). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "cons.h"

/* ---- config ---- */

static const char *env_names[] = {"DATABASE_URL",
                                  "KAFKA_BOOTSTRAP_SERVERS",
                                  "KAFKA_TOPIC",
                                  "KAFKA_GROUP_ID",
                                  "KAFKA_DLQ_TOPIC",
                                  "CONSUMER_ID",
                                  "KAFKA_AUTO_OFFSET_RESET",
                                  "CONSUMER_BATCH_SIZE",
                                  "CONSUMER_BATCH_MS",
                                  "CONSUMER_BATCH_BYTES",
                                  "CONSUMER_RETRY_MIN_MS",
                                  "CONSUMER_RETRY_MAX_MS",
                                  "KAFKA_SESSION_TIMEOUT_MS",
                                  "CONSUMER_SHUTDOWN_TIMEOUT_MS",
                                  "CONSUMER_STATE_INTERVAL_MS"};

static int
clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
		unsetenv(env_names[i]);
	return 0;
}

static int
load(cons_config *c, int *help, char *err, const char **args)
{
	char *argv[32];
	int n = 0;
	argv[n++] = "amlrisk-consumer";
	for (int i = 0; args != NULL && args[i] != NULL; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	return cons_config_load(c, n, argv, help, err, 256);
}

static void
test_config_defaults_and_precedence(void **state)
{
	(void)state;
	static cons_config c;
	char err[256];
	int help;
	setenv("DATABASE_URL", "postgresql://x@h/db", 1);
	assert_int_equal(load(&c, &help, err, NULL), AMLRISK_OK);
	assert_string_equal(c.topic, "transactions");
	assert_string_equal(c.group, "amlrisk-consumer");
	assert_string_equal(c.dlq_topic, "transactions.dlq");
	assert_int_equal(c.batch_rows, 20000);
	assert_int_equal(c.batch_ms, 200);
	/* the default id is stable across restarts of this instance: the host's
	 * name, not hostname-pid (it is the static group.instance.id) */
	char host[256];
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(c.consumer_id, host);
	/* environment, then flags over it */
	setenv("KAFKA_TOPIC", "tx2", 1);
	setenv("CONSUMER_BATCH_SIZE", "100", 1);
	const char *a1[] = {"--batch-size", "7", "--kafka-opt", "fetch.wait.max.ms=10", NULL};
	assert_int_equal(load(&c, &help, err, a1), AMLRISK_OK);
	assert_string_equal(c.topic, "tx2");
	assert_string_equal(c.dlq_topic, "tx2.dlq");
	assert_int_equal(c.batch_rows, 7);
	assert_int_equal(c.n_kafka_opts, 1);
	assert_string_equal(c.kafka_opts[0][0], "fetch.wait.max.ms");
	assert_string_equal(c.kafka_opts[0][1], "10");
	const char *a2[] = {"--help", NULL};
	assert_int_equal(load(&c, &help, err, a2), AMLRISK_OK);
	assert_int_equal(help, 1);
}

static void
test_config_rejects(void **state)
{
	(void)state;
	static cons_config c;
	char err[256];
	int help;
	/* no database */
	assert_int_equal(load(&c, &help, err, NULL), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "DATABASE_URL"));
	setenv("DATABASE_URL", "postgresql://x@h/db", 1);
	const char *bad[][4] = {
	        {"--batch-size", "0", NULL},
	        {"--batch-size", "100001", NULL},
	        {"--batch-ms", "ten", NULL},
	        {"--batch-bytes", "1000", NULL},
	        {"--session-timeout-ms", "100", NULL},
	        {"--retry-min-ms", "2000", "--retry-max-ms", "1000"},
	        {"--offset-reset", "middle", NULL},
	        {"--dlq-topic", "transactions", NULL},
	        {"--kafka-opt", "novalue", NULL},
	        {"--kafka-opt", "enable.auto.commit=true", NULL},
	        {"--no-such-flag", NULL},
	        {"stray", NULL},
	        {"--topic", "", NULL},
	        {"--consumer-id", "two words", NULL},
	        {"--consumer-id", "w\xc3\xa4llet", NULL},
	        {"--kafka-opt", "group.instance.id=x", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[5] = {bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL};
		err[0] = '\0';
		if (load(&c, &help, err, a) != AMLRISK_EINVAL)
			fail_msg("case %zu (%s) accepted", i, bad[i][0]);
		assert_true(err[0] != '\0');
	}
	setenv("CONSUMER_BATCH_MS", "0", 1);
	assert_int_equal(load(&c, &help, err, NULL), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "CONSUMER_BATCH_MS"));
	/* a cap on repeated options */
	const char *many[2 * CONS_KAFKA_OPTS_MAX + 4];
	unsetenv("CONSUMER_BATCH_MS");
	int n = 0;
	for (int i = 0; i <= CONS_KAFKA_OPTS_MAX; i++) {
		many[n++] = "--kafka-opt";
		many[n++] = "a=b";
	}
	many[n] = NULL;
	char *argv[2 * CONS_KAFKA_OPTS_MAX + 4];
	argv[0] = "amlrisk-consumer";
	for (int i = 0; i < n; i++)
		argv[i + 1] = (char *)many[i];
	argv[n + 1] = NULL;
	assert_int_equal(cons_config_load(&c, n + 1, argv, &help, err, sizeof(err)),
	                 AMLRISK_EINVAL);
}

/* ---- codec ---- */

static void
expect_numeric(const char *dec, int nd, int weight, int dscale, const int *digits)
{
	uint8_t out[128];
	size_t n = cons_codec_numeric(out, sizeof(out), dec);
	assert_int_equal(n, 8 + 2 * (size_t)nd);
	assert_int_equal((out[0] << 8) | out[1], nd);
	assert_int_equal((int16_t)((out[2] << 8) | out[3]), weight);
	assert_int_equal((out[4] << 8) | out[5], 0);
	assert_int_equal((out[6] << 8) | out[7], dscale);
	for (int i = 0; i < nd; i++)
		assert_int_equal((out[8 + 2 * i] << 8) | out[9 + 2 * i], digits[i]);
}

static void
test_codec_numeric(void **state)
{
	(void)state;
	expect_numeric("0", 0, 0, 0, NULL);
	expect_numeric("0.000", 0, 0, 3, NULL);
	expect_numeric("12.5", 2, 0, 1, (int[]){12, 5000});
	expect_numeric("0.0001", 1, -1, 4, (int[]){1});
	expect_numeric("0.00000001", 1, -2, 8, (int[]){1});
	expect_numeric("10000", 1, 1, 0, (int[]){1});
	expect_numeric("007", 1, 0, 0, (int[]){7});
	expect_numeric("12345678901234567890.123456789012345678", 10, 4, 18,
	               (int[]){1234, 5678, 9012, 3456, 7890, 1234, 5678, 9012, 3456, 7800});
	uint8_t small[8];
	assert_int_equal(cons_codec_numeric(small, sizeof(small), "1"), 0);
}

static Aml__V1__Transaction
valid_tx(void)
{
	Aml__V1__Transaction t = AML__V1__TRANSACTION__INIT;
	t.tx_id = "t-1";
	t.sender = "alice";
	t.receiver = "bob";
	t.amount = "1.5";
	t.timestamp_us = INT64_C(1767225600000000);
	t.asset = "BTC";
	return t;
}

static void
test_codec_row(void **state)
{
	(void)state;
	uint8_t row[CONS_ROW_MAX];
	Aml__V1__Transaction t = valid_tx();
	size_t n = cons_codec_row(row, sizeof(row), &t);
	/* 6 fields; 3 + 5 + 3 text bytes, numeric 12, timestamp 8, asset 3 */
	assert_int_equal(n, 2 + 6 * 4 + 3 + 5 + 3 + 12 + 8 + 3);
	assert_int_equal((row[0] << 8) | row[1], 6);
	assert_memory_equal(row + 6, "t-1", 3);
	/* timestamp: microseconds since 2000-01-01 */
	const uint8_t *ts = row + n - 3 - 4 - 8;
	int64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | ts[i];
	assert_true(v == INT64_C(1767225600000000) - INT64_C(946684800000000));
	/* an empty asset is NULL */
	t.asset = "";
	n = cons_codec_row(row, sizeof(row), &t);
	assert_memory_equal(row + n - 4, "\xff\xff\xff\xff", 4);
	assert_int_equal(cons_codec_row(row, 20, &t), 0);
	/* the largest valid message fits CONS_ROW_MAX */
	char id[129], w1[257], w2[257], amt[40];
	memset(id, 'i', 128);
	id[128] = '\0';
	memset(w1, 's', 256);
	w1[256] = '\0';
	memset(w2, 'r', 256);
	w2[256] = '\0';
	snprintf(amt, sizeof(amt), "12345678901234567890.123456789012345678");
	t.tx_id = id;
	t.sender = w1;
	t.receiver = w2;
	t.amount = amt;
	t.asset = "ABCDEFGHIJKLMNOP";
	assert_true(cons_codec_row(row, sizeof(row), &t) > 0);
}

/* ---- batch ---- */

/* A message's source: value "v<partition>.<offset>", key "k<offset>". */
typedef struct src_buf {
	char value[32], key[32];
	cons_src src;
} src_buf;

static const cons_src *
src_of(src_buf *s, int32_t part, int64_t offset, const rd_kafka_headers_t *h)
{
	snprintf(s->value, sizeof(s->value), "v%d.%lld", (int)part, (long long)offset);
	snprintf(s->key, sizeof(s->key), "k%lld", (long long)offset);
	s->src = (cons_src){s->value, strlen(s->value), s->key, strlen(s->key), h};
	return &s->src;
}

static void
add_rows(cons_batch *b, int32_t part, int64_t first, int n)
{
	Aml__V1__Transaction t = valid_tx();
	src_buf sb;
	for (int i = 0; i < n; i++)
		assert_int_equal(cons_batch_add_row(b, part, first + i, &t,
		                                    src_of(&sb, part, first + i, NULL)),
		                 AMLRISK_OK);
}

static void
test_batch_bounds_and_parts(void **state)
{
	(void)state;
	cons_batch *b;
	int n;
	assert_int_equal(cons_batch_create(&b, 10, 1 << 20), AMLRISK_OK);
	add_rows(b, 3, 100, 4);
	add_rows(b, 1, 7, 3);
	src_buf sb;
	assert_int_equal(cons_batch_add_dlq(b, 1, 10, src_of(&sb, 1, 10, NULL), "bad", NULL),
	                 AMLRISK_OK);
	add_rows(b, 1, 11, 2);
	assert_int_equal(cons_batch_messages(b), 10);
	assert_true(cons_batch_full(b));
	Aml__V1__Transaction t = valid_tx();
	assert_int_equal(cons_batch_add_row(b, 1, 13, &t, src_of(&sb, 1, 13, NULL)), AMLRISK_EFULL);
	cons_part *p = cons_batch_parts(b, &n);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].partition, 1);
	assert_int_equal(p[0].first, 7);
	assert_int_equal(p[0].next, 13);
	assert_int_equal(p[0].rows, 5);
	assert_int_equal(p[0].dead, 1);
	assert_int_equal(p[1].partition, 3);
	assert_int_equal(p[1].next, 104);

	/* dropping partition 1 leaves exactly partition 3's tuples */
	int32_t drop[] = {1};
	cons_batch_drop_partitions(b, drop, 1);
	assert_int_equal(cons_batch_rows(b), 4);
	assert_int_equal(cons_batch_messages(b), 4);
	cons_batch_dlqs(b, &n);
	assert_int_equal(n, 0);
	p = cons_batch_parts(b, &n);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].partition, 3);
	size_t len, one;
	const uint8_t *d = cons_batch_copy_data(b, &len);
	uint8_t row[CONS_ROW_MAX];
	one = cons_codec_row(row, sizeof(row), &t);
	assert_int_equal(len, 4 * one);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(d + (size_t)i * one, row, one);
	/* and their sources: row i is what arrived at 3/100+i */
	for (int i = 0; i < 4; i++) {
		int32_t part;
		int64_t off;
		cons_batch_row_at(b, i, &part, &off);
		assert_int_equal(part, 3);
		assert_int_equal(off, 100 + i);
	}
	cons_batch_destroy(b);

	/* the byte bound: rows stop fitting before max_bytes is passed */
	assert_int_equal(cons_batch_create(&b, 100000, 1 << 20), AMLRISK_OK);
	int added = 0;
	while (cons_batch_add_row(b, 0, added, &t, src_of(&sb, 0, added, NULL)) == AMLRISK_OK)
		added++;
	assert_true(cons_batch_bytes(b) <= 1 << 20);
	assert_true(added > 1000);
	cons_batch_destroy(b);
	cons_batch_destroy(NULL);
}

static void
test_batch_dlq_and_lifecycle(void **state)
{
	(void)state;
	cons_batch *b;
	cons_dlq *d;
	int n;
	rd_kafka_headers_t *h = rd_kafka_headers_new(2);
	rd_kafka_header_add(h, "trace", -1, "abc", -1);
	assert_int_equal(cons_batch_create(&b, 100, 1 << 20), AMLRISK_OK);
	assert_int_equal(cons_batch_state_get(b), CONS_BATCH_FILLING);
	/* one oversized dead letter is taken by an empty batch, then it is full */
	size_t big = 2 << 20;
	char *v = calloc(1, big);
	assert_non_null(v);
	cons_src big_src = {v, big, NULL, 0, h};
	assert_int_equal(cons_batch_add_dlq(b, 0, 5, &big_src, "too large", &d), AMLRISK_OK);
	assert_int_equal(d->id, 1);
	assert_null(d->key);
	assert_non_null(d->headers);
	src_buf sb;
	assert_int_equal(cons_batch_add_dlq(b, 0, 6, src_of(&sb, 0, 6, NULL), "r", NULL),
	                 AMLRISK_EFULL);
	assert_true(cons_batch_full(b));
	assert_ptr_equal(cons_batch_dlq_find(b, 1), d);
	assert_null(cons_batch_dlq_find(b, 2));
	free(v);
	rd_kafka_headers_destroy(h);

	/* lifecycle: only the transitions the design has */
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_COMMITTED), AMLRISK_ESTATE);
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_FLUSHING), AMLRISK_OK);
	Aml__V1__Transaction t = valid_tx();
	assert_int_equal(cons_batch_add_row(b, 0, 7, &t, src_of(&sb, 0, 7, NULL)), AMLRISK_ESTATE);
	/* not empty: cannot go back to filling without being written */
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_FILLING), AMLRISK_ESTATE);
	assert_int_equal(cons_batch_stored(b), 0);
	cons_batch_set_stored(b);
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_COMMITTED), AMLRISK_OK);
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_FLUSHING), AMLRISK_ESTATE);
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_FILLING), AMLRISK_OK);
	/* entering FILLING emptied it */
	assert_int_equal(cons_batch_messages(b), 0);
	assert_int_equal(cons_batch_stored(b), 0);
	assert_int_equal(cons_batch_started_ms(b), 0);
	cons_batch_dlqs(b, &n);
	assert_int_equal(n, 0);
	/* ids keep increasing across batches */
	assert_int_equal(cons_batch_add_dlq(b, 2, 9, src_of(&sb, 2, 9, NULL), "r", &d), AMLRISK_OK);
	assert_int_equal(d->id, 2);
	/* dropped after a revoke: back to FILLING is allowed once empty */
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_FLUSHING), AMLRISK_OK);
	int32_t drop[] = {2};
	cons_batch_drop_partitions(b, drop, 1);
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_FILLING), AMLRISK_OK);
	assert_string_equal(cons_batch_state_name(CONS_BATCH_FLUSHING), "flushing");
	cons_batch_destroy(b);
}

/* A row the database finds a conflicting duplicate becomes a dead letter
 * from its kept source (value, key, headers, plus the stored version's),
 * stays a row, and is not counted as a message twice. */
static void
test_batch_conflicts(void **state)
{
	(void)state;
	cons_batch *b;
	cons_dlq *d;
	int n;
	src_buf sb;
	Aml__V1__Transaction t = valid_tx();
	rd_kafka_headers_t *h = rd_kafka_headers_new(2), *extra = rd_kafka_headers_new(2);
	rd_kafka_header_add(h, "trace", -1, "abc", -1);
	rd_kafka_header_add(extra, "dlq.stored.seq", -1, "42", -1);
	assert_int_equal(cons_batch_create(&b, 100, 1 << 20), AMLRISK_OK);
	add_rows(b, 0, 10, 3);
	assert_int_equal(cons_batch_add_row(b, 1, 20, &t, src_of(&sb, 1, 20, h)), AMLRISK_OK);
	add_rows(b, 2, 30, 2);
	/* keyless */
	cons_src nokey = {"plain", 5, NULL, 0, NULL};
	assert_int_equal(cons_batch_add_row(b, 2, 32, &t, &nokey), AMLRISK_OK);
	assert_int_equal(cons_batch_add_dlq(b, 0, 13, src_of(&sb, 0, 13, NULL), "bad", NULL),
	                 AMLRISK_OK);
	/* only while flushing, before stored */
	assert_int_equal(cons_batch_add_conflict(b, 3, CONS_REASON_CONFLICT, extra, &d),
	                 AMLRISK_ESTATE);
	assert_int_equal(cons_batch_set_state(b, CONS_BATCH_FLUSHING), AMLRISK_OK);
	assert_int_equal(cons_batch_add_conflict(b, 7, CONS_REASON_CONFLICT, extra, &d),
	                 AMLRISK_EINVAL);
	assert_int_equal(cons_batch_add_conflict(b, 3, CONS_REASON_CONFLICT, extra, &d),
	                 AMLRISK_OK);
	assert_int_equal(d->conflict, 1);
	assert_int_equal(d->partition, 1);
	assert_int_equal(d->offset, 20);
	assert_int_equal(d->value_len, strlen("v1.20"));
	assert_memory_equal(d->value, "v1.20", d->value_len);
	assert_int_equal(d->key_len, strlen("k20"));
	assert_memory_equal(d->key, "k20", d->key_len);
	assert_string_equal(d->reason, CONS_REASON_CONFLICT);
	const void *v;
	size_t vlen;
	assert_int_equal(rd_kafka_header_get_last(d->headers, "trace", &v, &vlen), 0);
	assert_memory_equal(v, "abc", 3);
	assert_int_equal(rd_kafka_header_get_last(d->headers, "dlq.stored.seq", &v, &vlen), 0);
	assert_memory_equal(v, "42", 2);
	assert_int_equal(cons_batch_add_conflict(b, 6, CONS_REASON_CONFLICT, NULL, &d), AMLRISK_OK);
	assert_null(d->key);
	assert_int_equal(d->value_len, 5);
	assert_memory_equal(d->value, "plain", 5);
	assert_int_equal(cons_batch_messages(b), 8); /* 7 rows, 1 invalid */
	cons_batch_dlqs(b, &n);
	assert_int_equal(n, 3);
	/* all or none: taken out again, the invalid one stays */
	cons_batch_drop_conflicts(b);
	d = cons_batch_dlqs(b, &n);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].conflict, 0);
	assert_int_equal(cons_batch_add_conflict(b, 4, CONS_REASON_CONFLICT, NULL, &d), AMLRISK_OK);
	assert_memory_equal(d->value, "v2.30", 5);
	/* a revoke drops partition 1: the rows after it keep their sources */
	int32_t drop[] = {1};
	cons_batch_drop_partitions(b, drop, 1);
	assert_int_equal(cons_batch_rows(b), 6);
	assert_int_equal(cons_batch_add_conflict(b, 4, CONS_REASON_CONFLICT, NULL, &d), AMLRISK_OK);
	assert_int_equal(d->offset, 31);
	assert_memory_equal(d->value, "v2.31", 5);
	assert_memory_equal(d->key, "k31", 3);
	cons_batch_set_stored(b);
	assert_int_equal(cons_batch_add_conflict(b, 0, CONS_REASON_CONFLICT, NULL, &d),
	                 AMLRISK_ESTATE);
	rd_kafka_headers_destroy(h);
	rd_kafka_headers_destroy(extra);
	cons_batch_destroy(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_config_defaults_and_precedence, clear_env),
	        cmocka_unit_test_setup(test_config_rejects, clear_env),
	        cmocka_unit_test(test_codec_numeric),
	        cmocka_unit_test(test_codec_row),
	        cmocka_unit_test(test_batch_bounds_and_parts),
	        cmocka_unit_test(test_batch_dlq_and_lifecycle),
	        cmocka_unit_test(test_batch_conflicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
