/* consumer_brokerdown_test.c - the Kafka broker stopped mid-stream and
 * started again: the consumer keeps running and reconnecting, reports the
 * outage in ingestion_consumers.last_error and clears it once Kafka works
 * again, and in the end every message is stored once with the offsets
 * committed; a static member back for another topic after the broker's
 * restart is not left on its old partitions. Uses its own private broker (scripts/stack start-kafka
 * on free ports); the database is the shared test cluster's. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct.h"
#include "th.h"

static ct_stack stk;

static int
setup(void **state)
{
	(void)state;
	char brokers[64];
	if (ct_stack_init(&stk) != 0 || ct_stack_run(&stk, "start-kafka") != 0)
		return -1;
	/* every helper of this process now talks to the private broker */
	snprintf(brokers, sizeof(brokers), "127.0.0.1:%d", stk.kafka_port);
	return setenv("KAFKA_BOOTSTRAP_SERVERS", brokers, 1);
}

static int
teardown(void **state)
{
	(void)state;
	return ct_stack_cleanup(&stk);
}

static void
test_broker_stopped_mid_stream(void **state)
{
	(void)state;
	enum { N = 30000, PARTS = 2 };
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "brokerdown", PARTS);
	ct_txs_make(6000000, N, &txs, &ptrs);
	const char *extra[] = {"--batch-size", "500", "--state-interval-ms", "200", NULL};
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-brokerdown", extra, k.log);
	ct_feeder f;
	ct_feed_start(&f, k.topic, ptrs, N / 2, 5000);
	PGconn *c = th_db_connect(k.url);
	assert_true(ct_wait_rows_min(c, N / 4, 60000) >= N / 4);
	ct_feed_join(&f);
	assert_int_equal(ct_stack_run(&stk, "stop-kafka"), 0);
	/* the consumer notices, says so where IngestionStatus reads it, and
	 * keeps running */
	assert_int_equal(ct_wait_int(c,
	                             "SELECT count(*) FROM ingestion_consumers"
	                             " WHERE last_error IS NOT NULL AND last_error_at IS NOT NULL",
	                             1, 60000),
	                 1);
	assert_true(ct_alive(pid));
	assert_int_equal(ct_stack_run(&stk, "start-kafka"), 0);
	/* the second half after the restart */
	ct_feed_start(&f, k.topic, ptrs + N / 2, N - N / 2, 0);
	ct_feed_join(&f);
	assert_int_equal(ct_wait_rows(c, N, 120000), N);
	assert_true(ct_alive(pid));
	/* the condition has passed: the error is cleared, its time kept */
	assert_int_equal(ct_wait_int(c,
	                             "SELECT count(*) FROM ingestion_consumers"
	                             " WHERE last_error IS NULL AND last_error_at IS NOT NULL",
	                             1, 60000),
	                 1);
	assert_true(ct_wait_log(k.log, "error.cleared", 1000));
	ct_assert_rows(c, ptrs, N);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);
	ct_case_end(&k, c, txs, ptrs);
}

/* A static member is remembered by the broker across its restart, with its
 * assignment: started again, for another topic, within its session timeout,
 * the consumer is handed its old topic's partitions. It must take only its
 * own topic's and rejoin, not sit on the old ones. */
static void
test_static_member_back_with_another_topic(void **state)
{
	(void)state;
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	char topic2[128];
	ct_case_setup(&k, "static-topic", 2);
	ct_txs_make(6100000, 30, &txs, &ptrs);
	/* a session long enough to outlive the broker's restart */
	const char *extra[] = {"--session-timeout-ms", "60000", NULL};
	rd_kafka_t *p = ct_producer();
	for (int i = 0; i < 10; i++)
		ct_produce_tx(p, k.topic, ptrs[i]);
	ct_producer_close(p);
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-static-topic", extra, k.log);
	PGconn *c = th_db_connect(k.url);
	assert_int_equal(ct_wait_rows(c, 10, 60000), 10);
	ct_stop_committed(pid, c, k.group, k.topic, 2);

	assert_int_equal(ct_stack_run(&stk, "stop-kafka"), 0);
	assert_int_equal(ct_stack_run(&stk, "start-kafka"), 0);
	th_topic_name(topic2, sizeof(topic2), "cons.static-topic2");
	th_topic_create(topic2, 2);
	p = ct_producer();
	for (int i = 10; i < 30; i++)
		ct_produce_tx(p, topic2, ptrs[i]);
	ct_producer_close(p);
	pid = ct_consumer_start(k.url, topic2, k.group, "c-static-topic", extra, k.log);
	assert_int_equal(ct_wait_rows(c, 30, 60000), 30);
	assert_true(ct_wait_log(k.log, "rebalance.foreign_topic", 1000));
	ct_assert_rows(c, ptrs, 30);
	ct_stop_committed(pid, c, k.group, topic2, 2);
	ct_case_end(&k, c, txs, ptrs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_broker_stopped_mid_stream, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_static_member_back_with_another_topic, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
