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

/* One case: a fresh database and topic, N transactions from first, and the
 * fault-injecting consumer with faults running against them. */
typedef struct fcase {
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	PGconn *c;
	pid_t pid;
} fcase;

static void
fcase_start(fcase *f, const char *name, int first, const char *faults)
{
	char id[64];
	snprintf(id, sizeof(id), "c-%s", name);
	ct_case_setup(&f->k, name, PARTS);
	ct_txs_make(first, N, &f->txs, &f->ptrs);
	f->pid = ct_consumer_start_faulty(faults, f->k.url, f->k.topic, f->k.group, id, extra,
	                                  f->k.log);
	f->c = th_db_connect(f->k.url);
}

/* Produces transactions [from, to) and waits for the table to hold `to` rows. */
static void
fcase_feed(fcase *f, int from, int to)
{
	rd_kafka_t *p = ct_producer();
	for (int i = from; i < to; i++)
		ct_produce_tx(p, f->k.topic, f->ptrs[i]);
	ct_producer_close(p);
	assert_int_equal(ct_wait_rows(f->c, to, 60000), to);
}

/* The end of every case: all N stored as sent, the consumer stops with its
 * offsets committed, and every counter is as if nothing had happened. */
static void
fcase_end(fcase *f)
{
	ct_assert_rows(f->c, f->ptrs, N);
	ct_stop_committed(f->pid, f->c, f->k.group, f->k.topic, PARTS);
	static const char *zero[] = {"duplicates", "dead_lettered", "conflicts"};
	assert_int_equal(th_db_int(f->c, "SELECT consumed FROM ingestion_consumers"), N);
	assert_int_equal(th_db_int(f->c, "SELECT inserted FROM ingestion_consumers"), N);
	for (int i = 0; i < 3; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "SELECT %s FROM ingestion_consumers", zero[i]);
		assert_int_equal(th_db_int(f->c, sql), 0);
	}
	ct_case_end(&f->k, f->c, f->txs, f->ptrs);
}

static void
test_copy_abandoned_with_an_error(void **state)
{
	(void)state;
	fcase f;
	fcase_start(&f, "copyfail", 8000000, "copy_fail=1");
	fcase_feed(&f, 0, N);
	/* the server was told why (PQputCopyEnd with a message) and says so back */
	assert_true(ct_wait_log(f.k.log, "fault: copy_fail fires", 1000));
	assert_true(ct_wait_log(
	        f.k.log, "COPY from stdin failed: amlrisk-consumer abandoned the batch", 1000));
	fcase_end(&f);
}

static void
test_commit_outcome_lost_counts_once(void **state)
{
	(void)state;
	fcase f;
	fcase_start(&f, "commitlost", 8100000, "commit_lost=2");
	fcase_feed(&f, 0, N);
	/* both faults fired, and the batches were written again */
	assert_int_equal(ct_wait_log_count(f.k.log, "fault: commit_lost fires", 2, 30000), 2);
	assert_true(ct_wait_log_count(f.k.log, "db.write_failed", 2, 1000) >= 2);
	fcase_end(&f);
}

static void
test_failed_resume_is_retried(void **state)
{
	(void)state;
	fcase f;
	/* the first batch fails (consumption pauses), the resume after its
	 * retry fails too */
	fcase_start(&f, "resumefail", 8200000, "copy_fail=1,resume_fail=1");
	fcase_feed(&f, 0, N / 2);
	assert_true(ct_wait_log(f.k.log, "consumption.resume_failed", 10000));
	/* still consuming: what comes next is stored */
	fcase_feed(&f, N / 2, N);
	assert_true(ct_wait_log(f.k.log, "consumption.resumed", 1000));
	fcase_end(&f);
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
