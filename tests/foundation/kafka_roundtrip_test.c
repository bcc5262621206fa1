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

static int delivered_ok, delivered_err;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err)
		delivered_err++;
	else
		delivered_ok++;
}

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

static rd_kafka_conf_t *
base_conf(void)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", th_env("KAFKA_BOOTSTRAP_SERVERS"),
	                                   err, sizeof(err)),
	                 RD_KAFKA_CONF_OK);
	return c;
}

static void
test_roundtrip_10k(void **state)
{
	(void)state;
	char topic[128], group[128], err[256];
	th_topic_name(topic, sizeof(topic), "foundation.rt");
	th_topic_name(group, sizeof(group), "foundation.rt.group");
	th_topic_create(topic, 4);

	rd_kafka_conf_t *pc = base_conf();
	assert_int_equal(rd_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof(err)), 0);
	assert_int_equal(rd_kafka_conf_set(pc, "acks", "all", err, sizeof(err)), 0);
	assert_int_equal(rd_kafka_conf_set(pc, "compression.type", "lz4", err, sizeof(err)), 0);
	assert_int_equal(rd_kafka_conf_set(pc, "linger.ms", "5", err, sizeof(err)), 0);
	rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
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
	assert_int_equal(delivered_err, 0);
	assert_int_equal(delivered_ok, N_TX);
	rd_kafka_destroy(p);

	rd_kafka_conf_t *cc = base_conf();
	assert_int_equal(rd_kafka_conf_set(cc, "group.id", group, err, sizeof(err)), 0);
	assert_int_equal(rd_kafka_conf_set(cc, "auto.offset.reset", "earliest", err, sizeof(err)), 0);
	assert_int_equal(rd_kafka_conf_set(cc, "enable.auto.commit", "false", err, sizeof(err)), 0);
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
	assert_non_null(c);
	rd_kafka_poll_set_consumer(c);
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(c, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(sub);

	char *seen = calloc(N_TX, 1);
	int got = 0, dup = 0;
	int64_t deadline = th_now_ms() + 120000;
	while (got < N_TX && th_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 500);
		if (m == NULL)
			continue;
		if (m->err) {
			rd_kafka_message_destroy(m);
			continue;
		}
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
		if (seen[i])
			dup++;
		else
			got++;
		seen[i] = 1;
		aml__v1__transaction__free_unpacked(t, NULL);
		rd_kafka_message_destroy(m);
	}
	assert_int_equal(got, N_TX);
	assert_int_equal(dup, 0);
	assert_int_equal(rd_kafka_commit(c, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
	free(seen);
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
