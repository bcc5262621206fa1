/* consumer_faults_test.c - amlrisk-consumer under process faults: kill -9
 * mid-stream then a restart; two consumers sharing four partitions, one killed
 * half-way; SIGTERM with a whole batch still in memory. Each time every
 * message ends up stored exactly once, counted once (what is read again after
 * a kill is not counted again) and the group's offsets are committed. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct.h"
#include "th.h"

static void
assert_killed(pid_t pid)
{
	int st = th_stop(pid, SIGKILL, 10000);
	assert_true(st != -1 && WIFSIGNALED(st));
}

static void
test_kill9_then_restart(void **state)
{
	(void)state;
	enum { N = 60000, PARTS = 4 };
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "kill9", PARTS);
	ct_txs_make(2000000, N, &txs, &ptrs);
	const char *extra[] = {"--batch-size", "500", NULL};

	ct_feeder f;
	ct_feed_start(&f, k.topic, ptrs, 40000, 20000);
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-kill9", extra, k.log);
	PGconn *c = th_db_connect(k.url);
	/* mid-stream: some rows stored, more arriving */
	assert_true(ct_wait_rows_min(c, 10000, 60000) >= 10000);
	assert_killed(pid);
	int64_t at_kill = th_db_int(c, "SELECT count(*) FROM transactions");
	print_message("killed at %lld rows\n", (long long)at_kill);
	assert_true(at_kill >= 10000 && at_kill < 40000);
	ct_feed_join(&f);
	/* more while it is down */
	ct_feed_start(&f, k.topic, ptrs + 40000, N - 40000, 0);
	ct_feed_join(&f);

	pid = ct_consumer_start(k.url, k.topic, k.group, "c-kill9", extra, k.log);
	assert_int_equal(ct_wait_rows(c, N, 120000), N);
	ct_assert_rows(c, ptrs, N);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);
	assert_int_equal(th_db_int(c, "SELECT inserted FROM ingestion_consumers"), N);
	/* what was stored before the kill but not committed in Kafka was read
	 * again: counted once all the same */
	assert_int_equal(th_db_int(c, "SELECT consumed FROM ingestion_consumers"), N);
	assert_int_equal(th_db_int(c, "SELECT duplicates FROM ingestion_consumers"), 0);
	ct_case_end(&k, c, txs, ptrs);
}

/* Two consumers of one group on four partitions, A killed half-way; strategy
 * is the partition.assignment.strategy (eager or cooperative rebalancing). */
static void
two_consumers_one_killed(const char *strategy, int first)
{
	enum { N = 80000, PARTS = 4 };
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	char opt[128];
	snprintf(opt, sizeof(opt), "partition.assignment.strategy=%s", strategy);
	ct_case_setup(&k, "pair", PARTS);
	ct_txs_make(first, N, &txs, &ptrs);
	const char *extra[] = {"--batch-size", "1000", "--kafka-opt", opt, NULL};
	char log_b[600];
	snprintf(log_b, sizeof(log_b), "%s.b", k.log);

	pid_t a = ct_consumer_start(k.url, k.topic, k.group, "c-a", extra, k.log);
	pid_t b = ct_consumer_start(k.url, k.topic, k.group, "c-b", extra, log_b);
	/* both in the group, each with partitions, before the stream starts */
	assert_true(ct_wait_assigned(k.log, 30000));
	assert_true(ct_wait_assigned(log_b, 30000));
	ct_feeder f;
	ct_feed_start(&f, k.topic, ptrs, N, 16000);
	PGconn *c = th_db_connect(k.url);
	assert_true(ct_wait_rows_min(c, N / 2, 60000) >= N / 2);
	/* the work was shared */
	assert_int_equal(
	        th_db_int(c, "SELECT count(*) FROM ingestion_consumers WHERE consumed > 0"), 2);
	assert_killed(a);
	int64_t at_kill = th_db_int(c, "SELECT count(*) FROM transactions");
	print_message("killed one of two at %lld rows\n", (long long)at_kill);
	assert_true(at_kill < N);
	ct_feed_join(&f);

	assert_int_equal(ct_wait_rows(c, N, 120000), N);
	ct_assert_rows(c, ptrs, N);
	ct_stop_committed(b, c, k.group, k.topic, PARTS);
	assert_int_equal(th_db_int(c, "SELECT sum(inserted) FROM ingestion_consumers"), N);
	assert_int_equal(th_db_int(c, "SELECT sum(consumed) FROM ingestion_consumers"), N);
	assert_int_equal(th_db_int(c, "SELECT sum(duplicates) FROM ingestion_consumers"), 0);
	ct_case_end(&k, c, txs, ptrs);
}

static void
test_two_consumers_one_killed(void **state)
{
	(void)state;
	two_consumers_one_killed("range,roundrobin", 3000000);
}

static void
test_two_cooperative_consumers_one_killed(void **state)
{
	(void)state;
	two_consumers_one_killed("cooperative-sticky", 3100000);
}

static void
test_sigterm_flushes_held_batch(void **state)
{
	(void)state;
	enum { N = 3000, PARTS = 1 };
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "sigterm", PARTS);
	ct_txs_make(4000000, N, &txs, &ptrs);
	rd_kafka_t *p = ct_producer();
	for (int i = 0; i < N; i++)
		ct_produce_tx(p, k.topic, ptrs[i]);
	ct_producer_close(p);

	/* a batch that would only be written a minute from now */
	const char *extra[] = {"--batch-ms", "60000", NULL};
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-sigterm", extra, k.log);
	assert_true(ct_wait_log(k.log, "partition.eof partition=0 offset=3000 batch=3000", 30000));
	PGconn *c = th_db_connect(k.url);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM transactions"), 0);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM transactions"), N);
	ct_assert_rows(c, ptrs, N);
	ct_case_end(&k, c, txs, ptrs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sigterm_flushes_held_batch),
	        cmocka_unit_test(test_kill9_then_restart),
	        cmocka_unit_test(test_two_consumers_one_killed),
	        cmocka_unit_test(test_two_cooperative_consumers_one_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
