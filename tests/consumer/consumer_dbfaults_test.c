/* consumer_dbfaults_test.c - faults at the consumer's library boundaries
 * (amlrisk-consumer-faults, see cons_faults.c) against the real database and
 * broker: a COPY that cannot be sent whole is ended with an error the server
 * acknowledges, not left open; a COMMIT whose answer is lost and that is
 * therefore written again counts nothing twice; a resume that fails after a
 * pause is tried again instead of leaving the partitions paused for good. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct.h"
#include "th.h"

enum { N = 3000, PARTS = 2 };

static const char *extra[] = {"--batch-size", "1000", "--retry-min-ms", "50", NULL};

/* Produces txs[from, to) and waits for the table to hold `to` rows. */
static void
feed(ct_case *k, PGconn *c, Aml__V1__Transaction **txs, int from, int to)
{
	rd_kafka_t *p = ct_producer();
	for (int i = from; i < to; i++)
		ct_produce_tx(p, k->topic, txs[i]);
	ct_producer_close(p);
	assert_int_equal(ct_wait_rows(c, to, 60000), to);
}

/* Every counter of the one consumer exactly as if nothing had happened. */
static void
assert_counted_once(PGconn *c, int64_t n)
{
	assert_int_equal(th_db_int(c, "SELECT consumed FROM ingestion_consumers"), n);
	assert_int_equal(th_db_int(c, "SELECT inserted FROM ingestion_consumers"), n);
	assert_int_equal(th_db_int(c, "SELECT duplicates FROM ingestion_consumers"), 0);
	assert_int_equal(th_db_int(c, "SELECT dead_lettered FROM ingestion_consumers"), 0);
	assert_int_equal(th_db_int(c, "SELECT conflicts FROM ingestion_consumers"), 0);
}

static void
test_copy_abandoned_with_an_error(void **state)
{
	(void)state;
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "copyfail", PARTS);
	ct_txs_make(8000000, N, &txs, &ptrs);
	pid_t pid = ct_consumer_start_faulty("copy_fail=1", k.url, k.topic, k.group, "c-copyfail",
	                                     extra, k.log);
	PGconn *c = th_db_connect(k.url);
	feed(&k, c, ptrs, 0, N);
	/* the server was told why (PQputCopyEnd with a message) and says so back */
	assert_true(ct_wait_log(k.log, "fault: copy_fail fires", 1000));
	assert_true(ct_wait_log(
	        k.log, "COPY from stdin failed: amlrisk-consumer abandoned the batch", 1000));
	ct_assert_rows(c, ptrs, N);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);
	assert_counted_once(c, N);
	ct_case_end(&k, c, txs, ptrs);
}

static void
test_commit_outcome_lost_counts_once(void **state)
{
	(void)state;
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "commitlost", PARTS);
	ct_txs_make(8100000, N, &txs, &ptrs);
	pid_t pid = ct_consumer_start_faulty("commit_lost=2", k.url, k.topic, k.group,
	                                     "c-commitlost", extra, k.log);
	PGconn *c = th_db_connect(k.url);
	feed(&k, c, ptrs, 0, N);
	/* both faults fired, and the batches were written again */
	assert_int_equal(ct_wait_log_count(k.log, "fault: commit_lost fires", 2, 30000), 2);
	assert_true(ct_wait_log_count(k.log, "db.write_failed", 2, 1000) >= 2);
	ct_assert_rows(c, ptrs, N);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);
	assert_counted_once(c, N);
	ct_case_end(&k, c, txs, ptrs);
}

static void
test_failed_resume_is_retried(void **state)
{
	(void)state;
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "resumefail", PARTS);
	ct_txs_make(8200000, N, &txs, &ptrs);
	/* the first batch fails (consumption pauses), the resume after its
	 * retry fails too */
	pid_t pid = ct_consumer_start_faulty("copy_fail=1,resume_fail=1", k.url, k.topic, k.group,
	                                     "c-resumefail", extra, k.log);
	PGconn *c = th_db_connect(k.url);
	feed(&k, c, ptrs, 0, N / 2);
	assert_true(ct_wait_log(k.log, "consumption.resume_failed", 10000));
	/* still consuming: what comes next is stored */
	feed(&k, c, ptrs, N / 2, N);
	assert_true(ct_wait_log(k.log, "consumption.resumed", 1000));
	ct_assert_rows(c, ptrs, N);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);
	assert_counted_once(c, N);
	ct_case_end(&k, c, txs, ptrs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_copy_abandoned_with_an_error),
	        cmocka_unit_test(test_commit_outcome_lost_counts_once),
	        cmocka_unit_test(test_failed_resume_is_retried),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
