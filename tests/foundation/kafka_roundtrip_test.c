/* kafka_roundtrip_test.c - the real broker end to end: 10,000 protobuf
 * Transactions produced with librdkafka (idempotent, acks=all, keyed by sender)
 * come back through a consumer group, every one equal to what was sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "aml/v1/transaction.pb-c.h"
#include "th.h"

#define N_TX 10000


static void
make_tx(int i, Aml__V1__Transaction *tx, char *id, char *s, char *r, char *amt)
{
	sprintf(id, "rt-%06d", i);
	sprintf(s, "wallet_%04d", (i * 7919) % 997);
	sprintf(r, "wallet_%04d", (i * 104729 + 13) % 991);
	sprintf(amt, "%d.%06d", i % 5000, (i * 31) % 1000000);
	tx->tx_id = id;
	tx->sender = s;
	tx->receiver = r;
	tx->amount = amt;
	tx->timestamp_us = INT64_C(1767225600000000) + (int64_t)i * 1000;
	tx->asset = (i % 3) ? "BTC" : "";
}

typedef struct seen_set {
	char *seen; /* N_TX flags */
	int dup;
} seen_set;

/* Checks one consumed message against what make_tx() made for its index;
 * counts it (returns 1) unless seen before, else counts it in arg's dup. */
static int
check_msg(const rd_kafka_message_t *m, void *arg)
{
	seen_set *ss = arg;
	Aml__V1__Transaction *t = aml__v1__transaction__unpack(NULL, m->len, m->payload);
	assert_non_null(t);
	int i = atoi(t->tx_id + 3);
	assert_true(i >= 0 && i < N_TX);
	Aml__V1__Transaction want = AML__V1__TRANSACTION__INIT;
	char id[32], s[32], r[32], amt[32];
	make_tx(i, &want, id, s, r, amt);
	assert_string_equal(t->tx_id, want.tx_id);
	assert_string_equal(t->sender, want.sender);
	assert_string_equal(t->receiver, want.receiver);
	assert_string_equal(t->amount, want.amount);
	assert_true(t->timestamp_us == want.timestamp_us);
	assert_string_equal(t->asset, want.asset);
	/* keyed by sender */
	assert_int_equal(m->key_len, strlen(want.sender));
	assert_memory_equal(m->key, want.sender, m->key_len);
	aml__v1__transaction__free_unpacked(t, NULL);
	int fresh = !ss->seen[i];
	if (!fresh)
		ss->dup++;
	ss->seen[i] = 1;
	return fresh;
}

static void
test_roundtrip_10k(void **state)
{
	(void)state;
	char topic[128], group[128], err[256];
	th_topic_name(topic, sizeof(topic), "foundation.rt");
	th_topic_name(group, sizeof(group), "foundation.rt.group");
	th_topic_create(topic, 4);

	rd_kafka_conf_t *pc = th_kafka_conf();
	th_kafka_set(pc, "enable.idempotence", "true");
	th_kafka_set(pc, "acks", "all");
	th_kafka_set(pc, "compression.type", "lz4");
	th_kafka_set(pc, "linger.ms", "5");
	th_delivery delivered = {0, 0};
	th_kafka_count_deliveries(pc, &delivered);
	rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
	assert_non_null(p);

	uint8_t buf[512];
	for (int i = 0; i < N_TX; i++) {
		Aml__V1__Transaction tx = AML__V1__TRANSACTION__INIT;
		char id[32], s[32], r[32], amt[32];
		make_tx(i, &tx, id, s, r, amt);
		size_t n = aml__v1__transaction__pack(&tx, buf);
		rd_kafka_resp_err_t e;
		while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(s, strlen(s)),
		                              RD_KAFKA_V_VALUE(buf, n),
		                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
		       RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(p, 50);
		assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
		rd_kafka_poll(p, 0);
	}
	assert_int_equal(rd_kafka_flush(p, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(delivered.err, 0);
	assert_int_equal(delivered.ok, N_TX);
	rd_kafka_destroy(p);

	rd_kafka_t *c = th_kafka_subscribe(topic, group);
	seen_set ss = {calloc(N_TX, 1), 0};
	assert_non_null(ss.seen);
	size_t got = th_kafka_consume(c, N_TX, 120000, 0, check_msg, &ss);
	int dup = ss.dup;
	free(ss.seen);
	assert_int_equal(got, N_TX);
	assert_int_equal(dup, 0);
	assert_int_equal(rd_kafka_commit(c, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_10k),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
