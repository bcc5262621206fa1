/* consumer_static_test.c - static group membership (group.instance.id from
 * CONSUMER_ID): a consumer killed with SIGKILL and started again gets its
 * partitions back at once, long before the 15 s session timeout would hand
 * them to a new member; a second process with the same CONSUMER_ID takes the
 * first one's place, and the first exits with status 3 naming CONSUMER_ID. */
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

#define ROUNDS 5
/* generous next to the resume time measured (well under a second), far
 * below the session timeout a non-static member would wait for */
#define RESUME_DEADLINE_MS 3000

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Polls the (small) table every 5 ms until it holds want rows or timeout_ms
 * pass; returns the last count. */
static int64_t
wait_rows_fine(PGconn *c, int64_t want, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms, n;
	while ((n = th_db_int(c, "SELECT count(*) FROM transactions")) != want && th_now_ms() < end)
		usleep(5000);
	return n;
}

static void
test_kill9_restart_resumes_at_once(void **state)
{
	(void)state;
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "static", 2);
	ct_txs_make(7000000, ROUNDS + 1, &txs, &ptrs);
	const char *extra[] = {"--session-timeout-ms", "15000", "--batch-ms", "20", NULL};
	rd_kafka_t *p = ct_producer();
	PGconn *c = th_db_connect(k.url);

	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-static", extra, k.log);
	ct_produce_tx(p, k.topic, ptrs[0]);
	rd_kafka_flush(p, 10000);
	assert_int_equal(ct_wait_rows(c, 1, 60000), 1);
	int64_t took[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		int st = th_stop(pid, SIGKILL, 10000);
		assert_true(st != -1 && WIFSIGNALED(st));
		int64_t t0 = th_now_ms();
		pid = ct_consumer_start(k.url, k.topic, k.group, "c-static", extra, k.log);
		ct_produce_tx(p, k.topic, ptrs[r + 1]);
		rd_kafka_flush(p, 10000);
		/* the new message stored by the restarted process */
		int64_t n = wait_rows_fine(c, r + 2, RESUME_DEADLINE_MS);
		took[r] = th_now_ms() - t0;
		if (n != r + 2)
			fail_msg("round %d: %lld rows %lld ms after the restart, want %d (log %s)",
			         r, (long long)n, (long long)took[r], r + 2, k.log);
		print_message("round %d: restarted and the new message stored in %lld ms\n", r,
		              (long long)took[r]);
	}
	qsort(took, ROUNDS, sizeof(took[0]), cmp_i64);
	print_message("resume after kill -9 (process start to the new row stored, batch-ms 20): "
	              "median %lld ms, min %lld, max %lld over %d rounds\n",
	              (long long)took[ROUNDS / 2], (long long)took[0], (long long)took[ROUNDS - 1],
	              ROUNDS);
	ct_producer_close(p);
	ct_assert_rows(c, ptrs, ROUNDS + 1);
	ct_stop_committed(pid, c, k.group, k.topic, 2);
	ct_case_end(&k, c, txs, ptrs);
}

static void
test_same_id_fences_the_first(void **state)
{
	(void)state;
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	char log_b[600];
	ct_case_setup(&k, "fenced", 2);
	ct_txs_make(7100000, 2, &txs, &ptrs);
	snprintf(log_b, sizeof(log_b), "%s.b", k.log);
	pid_t a = ct_consumer_start(k.url, k.topic, k.group, "c-twin", NULL, k.log);
	assert_true(ct_wait_assigned(k.log, 30000));
	PGconn *c = th_db_connect(k.url);
	rd_kafka_t *p = ct_producer();
	ct_produce_tx(p, k.topic, ptrs[0]);
	rd_kafka_flush(p, 10000);
	assert_int_equal(ct_wait_rows(c, 1, 30000), 1);

	pid_t b = ct_consumer_start(k.url, k.topic, k.group, "c-twin", NULL, log_b);
	/* the first one is fenced out: it says why, naming the setting */
	int st = th_stop(a, 0, 30000);
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	assert_true(ct_wait_log(k.log, "kafka.fenced consumer_id=c-twin", 1000));
	assert_true(ct_wait_log(k.log, "give each instance its own CONSUMER_ID", 1000));
	/* the second one carries on */
	ct_produce_tx(p, k.topic, ptrs[1]);
	ct_producer_close(p);
	assert_int_equal(ct_wait_rows(c, 2, 30000), 2);
	ct_assert_rows(c, ptrs, 2);
	ct_stop_committed(b, c, k.group, k.topic, 2);
	ct_case_end(&k, c, txs, ptrs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kill9_restart_resumes_at_once),
	        cmocka_unit_test(test_same_id_fences_the_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
