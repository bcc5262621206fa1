/* consumer_pgdown_test.c - PostgreSQL stopped mid-stream and started again,
 * with a rebalance during the outage: the consumers keep running, pause, retry
 * with backoff, drop what a rebalance took from them, reconnect, clear their
 * last_error once writing works again, and in the end every message is
 * stored once. Uses its own private PostgreSQL
 * (scripts/stack start-pg on a free port) so the shared test cluster is untouched. */
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

static ct_stack stk;

static int
setup(void **state)
{
	(void)state;
	if (ct_stack_init(&stk) != 0)
		return -1;
	return ct_stack_run(&stk, "start-pg") == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	return ct_stack_cleanup(&stk);
}

/* count(*) on a fresh connection: the server restarts under us */
static int64_t
rows(const char *url)
{
	PGconn *c = th_db_connect(url);
	int64_t n = th_db_int(c, "SELECT count(*) FROM transactions");
	PQfinish(c);
	return n;
}

static void
test_postgres_stopped_mid_stream(void **state)
{
	(void)state;
	enum { N = 30000, PARTS = 2 };
	char url[256], topic[128], group[128], log[512];
	snprintf(url, sizeof(url), "postgresql://amlrisk@127.0.0.1:%d/amlrisk", stk.pg_port);
	char *margv[] = {"amlrisk-migrate", "--database-url", url, NULL};
	snprintf(log, sizeof(log), "%s/migrate.log", stk.var);
	int st = th_stop(th_spawn("amlrisk-migrate", margv, NULL, log), 0, 60000);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	th_topic_name(topic, sizeof(topic), "cons.pgdown");
	th_topic_name(group, sizeof(group), "cons.pgdown.g");
	th_topic_create(topic, PARTS);
	ct_log_path(log, sizeof(log), "pgdown");
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_txs_make(5000000, N, &txs, &ptrs);

	const char *extra[] = {"--batch-size", "500", "--retry-max-ms", "1000", NULL};
	pid_t pid = ct_consumer_start(url, topic, group, "c-pgdown", extra, log);
	ct_feeder f;
	ct_feed_start(&f, topic, ptrs, N, 5000);

	int64_t end = th_now_ms() + 60000;
	while (rows(url) < 5000 && th_now_ms() < end)
		usleep(50000);
	assert_int_equal(ct_stack_run(&stk, "stop-pg"), 0);
	/* down for a while: the consumer notices, pauses, retries, stays up */
	assert_true(ct_wait_log(log, "consumption.paused", 20000));
	/* a second member joins meanwhile: the rebalance revokes partitions
	 * whose rows cannot be written, which are dropped and read again */
	char log_b[600];
	snprintf(log_b, sizeof(log_b), "%s.b", log);
	pid_t pid_b = ct_consumer_start(url, topic, group, "c-pgdown-b", extra, log_b);
	assert_true(ct_wait_log(log, "batch.dropped_revoked", 30000));
	assert_true(ct_wait_log(log_b, "rebalance.assigned partitions=", 30000));
	/* down for a while: each has failed to write and backed off, A twice */
	assert_true(ct_wait_log_count(log, "db.write_failed", 2, 30000) >= 2);
	assert_true(ct_wait_log(log_b, "db.write_failed", 30000));
	assert_true(ct_alive(pid));
	assert_true(ct_alive(pid_b));
	assert_int_equal(ct_stack_run(&stk, "start-pg"), 0);
	ct_feed_join(&f);

	PGconn *c = th_db_connect(url);
	assert_int_equal(ct_wait_rows(c, N, 90000), N);
	assert_true(ct_alive(pid));
	assert_true(ct_alive(pid_b));
	assert_true(ct_wait_log(log, "consumption.resumed", 1000));
	ct_assert_rows(c, ptrs, N);
	/* the outage has passed: no error reported any more, its time kept */
	assert_int_equal(ct_wait_int(c,
	                             "SELECT count(*) FROM ingestion_consumers"
	                             " WHERE last_error IS NULL AND last_error_at IS NOT NULL",
	                             2, 30000),
	                 2);
	assert_true(ct_wait_log(log, "error.cleared was=\"database: ", 1000));
	st = th_stop(pid_b, SIGTERM, 30000);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ct_stop_committed(pid, c, group, topic, PARTS);
	PQfinish(c);
	free(ptrs);
	free(txs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_postgres_stopped_mid_stream, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
