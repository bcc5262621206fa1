/* consumer_conflict_test.c - a tx_id that arrives again with other content (a
 * replayed, forged or corrupted message) is a conflicting duplicate: it goes to
 * the dead-letter topic with reason conflicting_duplicate, what differs and
 * the stored version's key fields in headers, is counted and logged as a
 * warning, and nothing stored changes. Identical replays stay silent: no dead
 * letter, no line above debug, only the duplicates counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ct.h"
#include "th.h"

enum { N = 400, PARTS = 2, MAXC = 16 };

/* One message of the second wave and what the consumer must make of it. */
typedef struct conflict {
	ct_tx t;            /* what is produced */
	int of;             /* the stored transaction it clashes with (index), -1: none */
	const char *fields; /* what differs, NULL: an identical replay */
} conflict;

static conflict wave[MAXC];
static int nwave;

/* A copy of transaction i of the first wave, then changed by the caller. */
static ct_tx *
again(int i, const char *fields)
{
	conflict *w = &wave[nwave++];
	ct_tx_make(&w->t, 9000000 + i);
	w->of = i;
	w->fields = fields;
	return &w->t;
}

static void
build_wave(void)
{
	nwave = 0;
	snprintf(again(3, "sender")->sender, 256, "0xforged-sender");
	ct_tx *t = again(7, "amount");
	snprintf(t->amount, sizeof(t->amount), "999999.5");
	t = again(11, "receiver,amount");
	snprintf(t->receiver, 256, "0xforged-receiver");
	snprintf(t->amount, sizeof(t->amount), "1");
	again(20, "timestamp_us")->tx.timestamp_us += 1;
	t = again(21, "asset"); /* 21 % 4 == 1: BTC, now none */
	t->asset[0] = '\0';
	again(30, NULL); /* identical replays */
	again(31, NULL);
	again(32, NULL);
	/* the same amount written another way is the same amount */
	t = again(40, NULL);
	strcat(t->amount, strchr(t->amount, '.') != NULL ? "000" : ".000");
}

/* The stored row of tx_id as "seq|sender|receiver|amount|timestamp_us|asset". */
static void
stored(PGconn *c, const char *tx_id, char *out, size_t cap)
{
	const char *p[1] = {tx_id};
	PGresult *r =
	        PQexecParams(c,
	                     "SELECT seq || '|' || sender || '|' || receiver || '|' ||"
	                     " trim_scale(amount)::text || '|' ||"
	                     " (extract(epoch FROM \"timestamp\") * 1000000)::bigint || '|' ||"
	                     " coalesce(asset, '') FROM transactions WHERE tx_id = $1",
	                     1, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* What the dead letter m says of the stored version, in the form of stored(). */
static void
stored_in_headers(const ct_msg *m, char *out, size_t cap)
{
	static const char *names[] = {"dlq.stored.seq",          "dlq.stored.sender",
	                              "dlq.stored.receiver",     "dlq.stored.amount",
	                              "dlq.stored.timestamp_us", "dlq.stored.asset"};
	size_t at = 0;
	for (int i = 0; i < 6; i++) {
		char v[300];
		ct_msg_header(m, names[i], v, sizeof(v));
		at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? "|" : "", v);
	}
}

static void
test_conflicting_duplicates(void **state)
{
	(void)state;
	ct_case k;
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	char dlq[160];
	ct_case_setup(&k, "conflict", PARTS);
	snprintf(dlq, sizeof(dlq), "%s.dlq", k.topic);
	th_topic_create(dlq, 1);
	ct_txs_make(9000000, N, &txs, &ptrs);
	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-conflict", NULL, k.log);
	PGconn *c = th_db_connect(k.url);

	/* the originals, stored */
	rd_kafka_t *p = ct_producer();
	for (int i = 0; i < N; i++)
		ct_produce_tx(p, k.topic, ptrs[i]);
	rd_kafka_flush(p, 10000);
	assert_int_equal(ct_wait_rows(c, N, 60000), N);
	char before[MAXC][600];
	build_wave();
	for (int i = 0; i < nwave; i++)
		stored(c, wave[i].t.id, before[i], sizeof(before[i]));

	/* then the second wave; and within one batch, two versions of a new
	 * tx_id: the first is stored, the second is a conflict */
	for (int i = 0; i < nwave; i++)
		ct_produce_tx(p, k.topic, &wave[i].t.tx);
	ct_tx fresh[2];
	ct_tx_make(&fresh[0], 9500000);
	ct_tx_make(&fresh[1], 9500000);
	snprintf(fresh[1].amount, sizeof(fresh[1].amount), "77");
	ct_produce_tx(p, k.topic, &fresh[0].tx);
	ct_produce_tx(p, k.topic, &fresh[1].tx);
	ct_producer_close(p);
	int nconf = 1;
	for (int i = 0; i < nwave; i++)
		nconf += wave[i].fields != NULL;
	int64_t total = N + nwave + 2;

	/* exits 0 only once every dead letter was delivered and offsets committed */
	assert_int_equal(ct_wait_consumed(c, total, 60000), total);
	ct_stop_committed(pid, c, k.group, k.topic, PARTS);

	/* nothing stored changed; the new tx_id holds its first version */
	for (int i = 0; i < nwave; i++) {
		char now[600];
		stored(c, wave[i].t.id, now, sizeof(now));
		assert_string_equal(now, before[i]);
	}
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM transactions"), N + 1);
	Aml__V1__Transaction *all[N + 1];
	memcpy(all, ptrs, N * sizeof(*all));
	all[N] = &fresh[0].tx;
	ct_assert_rows(c, all, N + 1);

	/* counted: identical replays as duplicates, the rest as conflicts */
	assert_int_equal(th_db_int(c, "SELECT consumed FROM ingestion_consumers"), total);
	assert_int_equal(th_db_int(c, "SELECT inserted FROM ingestion_consumers"), N + 1);
	assert_int_equal(th_db_int(c, "SELECT conflicts FROM ingestion_consumers"), nconf);
	assert_int_equal(th_db_int(c, "SELECT dead_lettered FROM ingestion_consumers"), nconf);
	assert_int_equal(th_db_int(c, "SELECT duplicates FROM ingestion_consumers"),
	                 nwave + 1 - nconf);

	/* the dead letters: one per conflict, the message as it came, the stored
	 * version in headers */
	ct_msg *m;
	size_t nm = ct_read_topic(dlq, 1, 60000, &m);
	assert_int_equal(nm, (size_t)nconf);
	for (size_t j = 0; j < nm; j++) {
		char fields[64], topic[256];
		assert_string_equal(m[j].reason, "conflicting_duplicate");
		ct_msg_header(&m[j], "dlq.topic", topic, sizeof(topic));
		assert_string_equal(topic, k.topic);
		ct_msg_header(&m[j], "dlq.conflict.fields", fields, sizeof(fields));
		Aml__V1__Transaction *got =
		        aml__v1__transaction__unpack(NULL, m[j].len, m[j].value);
		assert_non_null(got);
		assert_int_equal(m[j].key_len, strlen(got->sender));
		assert_memory_equal(m[j].key, got->sender, m[j].key_len);
		const Aml__V1__Transaction *want = NULL;
		const char *want_fields = NULL;
		for (int i = 0; i < nwave; i++)
			if (wave[i].fields != NULL && strcmp(wave[i].t.id, got->tx_id) == 0) {
				want = &wave[i].t.tx;
				want_fields = wave[i].fields;
			}
		if (want == NULL) { /* the second version of the fresh one */
			want = &fresh[1].tx;
			want_fields = "amount";
		}
		assert_string_equal(fields, want_fields);
		uint8_t buf[1024];
		size_t n = aml__v1__transaction__pack(want, buf);
		assert_int_equal(m[j].len, n);
		assert_memory_equal(m[j].value, buf, n);
		char hs[600], db[600];
		stored_in_headers(&m[j], hs, sizeof(hs));
		stored(c, got->tx_id, db, sizeof(db));
		assert_string_equal(hs, db);
		aml__v1__transaction__free_unpacked(got, NULL);
	}
	ct_msgs_free(m, nm);

	/* a warning per conflict; identical replays left no line above debug */
	assert_int_equal(ct_wait_log_count(k.log, "warn consumer message.conflicting_duplicate",
	                                   nconf, 1000),
	                 nconf);
	assert_int_equal(ct_wait_log_count(k.log, "warn consumer message.", 0, 0), nconf);
	assert_int_equal(ct_wait_log_count(k.log, " error consumer ", 0, 0), 0);
	ct_case_end(&k, c, txs, ptrs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_conflicting_duplicates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
