/* consumer_ingest_test.c - amlrisk-consumer against the real broker and
 * database: 100k messages become exactly 100k rows equal field by field; the
 * same messages twice are stored once; the shared fixtures are stored as they
 * are; SIGTERM exits 0 with the Kafka offsets committed; each committed batch
 * NOTIFYs amlrisk_ingest with its high-water seq. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "amlrisk_pg.h"
#include "ct.h"
#include "th.h"

static void
test_100k_exact(void **state)
{
	(void)state;
	enum { N = 100000, PARTS = 4 };
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "100k", PARTS);
	ct_txs_make(0, N, &txs, &ptrs);
	rd_kafka_t *p = ct_producer();
	for (int i = 0; i < N; i++)
		ct_produce_tx(p, k.topic, ptrs[i]);
	ct_producer_close(p);

	int64_t t0 = th_now_ms();
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-100k", NULL, k.log);
	PGconn *c = th_db_connect(k.url);
	assert_int_equal(ct_wait_rows(c, N, 120000), N);
	print_message("100k rows stored in %lld ms\n", (long long)(th_now_ms() - t0));
	ct_assert_rows(c, ptrs, N);
	assert_int_equal(th_db_int(c, "SELECT count(DISTINCT tx_id) FROM transactions"), N);
	/* every row was written under the append lock: seq dense in commit order */
	assert_int_equal(th_db_int(c, "SELECT max(seq) - min(seq) + 1 FROM transactions"), N);
	ct_wait_consumed(c, N, 10000);
	assert_int_equal(th_db_int(c, "SELECT consumed FROM ingestion_consumers"), N);
	assert_int_equal(th_db_int(c, "SELECT inserted FROM ingestion_consumers"), N);
	assert_int_equal(th_db_int(c, "SELECT duplicates FROM ingestion_consumers"), 0);
	assert_int_equal(th_db_int(c, "SELECT dead_lettered FROM ingestion_consumers"), 0);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);
	assert_int_equal(
	        th_db_int(c, "SELECT count(*) FROM ingestion_offsets "
	                     "WHERE high_watermark IS NULL OR high_watermark < committed_offset"),
	        0);
	ct_case_end(&k, c, txs, ptrs);
}

static void
test_produced_twice(void **state)
{
	(void)state;
	enum { N = 20000, PARTS = 2 };
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "twice", PARTS);
	ct_txs_make(500000, N, &txs, &ptrs);
	rd_kafka_t *p = ct_producer();
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < N; i++)
			ct_produce_tx(p, k.topic, ptrs[i]);
	ct_producer_close(p);

	/* small batches, so the copies land in different batches too */
	const char *extra[] = {"--batch-size", "1500", NULL};
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-twice", extra, k.log);
	PGconn *c = th_db_connect(k.url);
	assert_int_equal(ct_wait_consumed(c, 2 * N, 120000), 2 * N);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM transactions"), N);
	ct_assert_rows(c, ptrs, N);
	assert_int_equal(th_db_int(c, "SELECT inserted FROM ingestion_consumers"), N);
	assert_int_equal(th_db_int(c, "SELECT duplicates FROM ingestion_consumers"), N);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);

	/* a replay from the start by a new group: still stored once */
	char group2[160];
	snprintf(group2, sizeof(group2), "%s.replay", k.group);
	pid = ct_consumer_start(k.url, k.topic, group2, "c-twice-replay", NULL, k.log);
	assert_int_equal(ct_wait_consumed(c, 4 * N, 120000), 4 * N);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM transactions"), N);
	ct_stop_committed(pid, c, group2, k.topic, PARTS);
	ct_case_end(&k, c, txs, ptrs);
}

/* Waits up to timeout_ms for notifications on c; each payload must be a seq
 * above *last (batches commit in seq order), which becomes *last. Returns
 * the number received. */
static int
drain_notifies(PGconn *c, int64_t *last, int timeout_ms)
{
	int n = 0;
	int64_t deadline = th_now_ms() + timeout_ms;
	while (th_now_ms() < deadline) {
		fd_set fds;
		struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
		FD_ZERO(&fds);
		FD_SET(PQsocket(c), &fds);
		select(PQsocket(c) + 1, &fds, NULL, NULL, &tv);
		assert_int_equal(PQconsumeInput(c), 1);
		PGnotify *nt;
		while ((nt = PQnotifies(c)) != NULL) {
			assert_string_equal(nt->relname, AMLRISK_PG_INGEST_CHANNEL);
			int64_t seq = strtoll(nt->extra, NULL, 10);
			assert_true(seq > *last);
			*last = seq;
			n++;
			PQfreemem(nt);
		}
		if (n > 0)
			return n;
	}
	return n;
}

/* Every batch that inserts rows NOTIFYs amlrisk_ingest in its transaction
 * with the new high-water seq: a listener sees increasing seqs ending at the
 * table's max(seq), at least one per batch of the small batch size. */
static void
test_notify(void **state)
{
	(void)state;
	enum { N = 6000, PARTS = 2 };
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_case_setup(&k, "notify", PARTS);
	ct_txs_make(900000, N, &txs, &ptrs);
	PGconn *l = th_db_connect(k.url);
	PQclear(PQexec(l, "LISTEN " AMLRISK_PG_INGEST_CHANNEL));
	rd_kafka_t *p = ct_producer();
	for (int i = 0; i < N; i++)
		ct_produce_tx(p, k.topic, ptrs[i]);
	ct_producer_close(p);

	const char *extra[] = {"--batch-size", "1000", NULL};
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-notify", extra, k.log);
	PGconn *c = th_db_connect(k.url);
	assert_int_equal(ct_wait_rows(c, N, 120000), N);
	int64_t max = th_db_int(c, "SELECT max(seq) FROM transactions"), last = 0;
	int got = 0;
	while (last < max) {
		int n = drain_notifies(l, &last, 30000);
		assert_true(n > 0); /* the last batch's notification arrives */
		got += n;
	}
	assert_int_equal(last, max);
	assert_true(got >= N / 1000);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);
	PQfinish(l);
	ct_case_end(&k, c, txs, ptrs);
}

/* Produces fixture name, consumes it, and checks the table holds its first
 * `distinct` records. */
static void
fixture_case(const char *name, size_t distinct, int64_t duplicates)
{
	ct_case k;
	Aml__V1__Transaction **txs;
	size_t n = th_fixture_load(name, &txs);
	assert_true(n >= distinct);
	ct_case_setup(&k, "fixture", 3);
	rd_kafka_t *p = ct_producer();
	for (size_t i = 0; i < n; i++)
		ct_produce_tx(p, k.topic, txs[i]);
	ct_producer_close(p);
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-fixture", NULL, k.log);
	PGconn *c = th_db_connect(k.url);
	assert_int_equal(ct_wait_consumed(c, (int64_t)n, 60000), (int64_t)n);
	ct_assert_rows(c, txs, distinct);
	assert_int_equal(th_db_int(c, "SELECT duplicates FROM ingestion_consumers"), duplicates);
	assert_int_equal(th_db_int(c, "SELECT dead_lettered FROM ingestion_consumers"), 0);
	ct_stop_committed(pid, c, k.group, k.topic, 3);
	PQfinish(c);
	th_fixture_free(txs, n);
	ct_case_done(&k);
}

static void
test_fixture_mixed(void **state)
{
	(void)state;
	fixture_case("mixed.pb", 120, 0);
}

static void
test_fixture_replay(void **state)
{
	(void)state;
	fixture_case("replay.pb", 30, 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_100k_exact),     cmocka_unit_test(test_produced_twice),
	        cmocka_unit_test(test_notify),         cmocka_unit_test(test_fixture_mixed),
	        cmocka_unit_test(test_fixture_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
