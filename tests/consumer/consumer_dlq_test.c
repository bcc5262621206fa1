/* consumer_dlq_test.c - bad messages between good ones: random bytes, a
 * truncated protobuf, missing fields, negative / NaN / non-numeric amounts, a
 * 1 MB wallet id, a 300-byte one, an embedded NUL, an amount numeric(38,18)
 * cannot hold, a flood of unknown fields, an empty and an 8 MB message. Each lands in the
 * dead-letter topic with its original bytes, key and reason; every good message around them is
 * stored. */
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

#define MAX_CASES 32

typedef struct tcase {
	uint8_t *value; /* owned */
	size_t len;
	const char *reason; /* NULL: a valid message */
} tcase;

static tcase cases[MAX_CASES];
static int ncases;

static void
add(const void *v, size_t len, const char *reason)
{
	assert_true(ncases < MAX_CASES);
	tcase *c = &cases[ncases++];
	c->value = malloc(len + 1);
	assert_non_null(c->value);
	if (len > 0)
		memcpy(c->value, v, len);
	c->len = len;
	c->reason = reason;
}

static void
add_tx(const Aml__V1__Transaction *tx, const char *reason)
{
	size_t n = aml__v1__transaction__get_packed_size(tx);
	uint8_t *buf = malloc(n + 1);
	assert_non_null(buf);
	aml__v1__transaction__pack(tx, buf);
	add(buf, n, reason);
	free(buf);
}

static void
add_valid(int i)
{
	ct_tx t;
	ct_tx_make(&t, 900000 + i);
	add_tx(&t.tx, NULL);
}

/* a valid transaction with one field changed */
static void
add_bad(const char *field, const char *value, int64_t ts, const char *reason)
{
	ct_tx t;
	ct_tx_make(&t, 990000 + ncases);
	if (strcmp(field, "tx_id") == 0)
		t.tx.tx_id = (char *)value;
	else if (strcmp(field, "sender") == 0)
		t.tx.sender = (char *)value;
	else if (strcmp(field, "amount") == 0)
		t.tx.amount = (char *)value;
	else if (strcmp(field, "timestamp_us") == 0)
		t.tx.timestamp_us = ts;
	add_tx(&t.tx, reason);
}

static void
build_cases(void)
{
	ncases = 0;
	add_valid(0);
	/* random bytes: starts with wire type 7, which no encoder writes */
	uint8_t rnd[64];
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		rnd[i] = (uint8_t)x;
	}
	rnd[0] = 0x07;
	add(rnd, sizeof(rnd), "message: not a decodable aml.v1.Transaction");
	add_valid(1);
	{ /* truncated in the middle of the sender */
		ct_tx t;
		ct_tx_make(&t, 990100);
		uint8_t buf[1024];
		size_t n = aml__v1__transaction__pack(&t.tx, buf);
		add(buf, n / 3, "message: not a decodable aml.v1.Transaction");
	}
	add_bad("tx_id", "", 0, "tx_id: empty");
	add_bad("amount", "", 0, "amount: empty");
	add_bad("timestamp_us", NULL, 0, "timestamp_us: missing");
	add_valid(2);
	add_bad("amount", "-1.5", 0, "amount: not a non-negative decimal");
	add_bad("amount", "NaN", 0, "amount: not a non-negative decimal");
	add_bad("amount", "twelve", 0, "amount: not a non-negative decimal");
	add_bad("amount", "1e5", 0, "amount: not a non-negative decimal");
	{ /* a 1 MB wallet id */
		size_t n = 1 << 20;
		char *big = malloc(n + 1);
		assert_non_null(big);
		memset(big, 'w', n);
		big[n] = '\0';
		ct_tx t;
		ct_tx_make(&t, 990200);
		t.tx.sender = big;
		size_t len = aml__v1__transaction__get_packed_size(&t.tx);
		uint8_t *buf = malloc(len);
		assert_non_null(buf);
		aml__v1__transaction__pack(&t.tx, buf);
		static char why[96];
		snprintf(why, sizeof(why), "message: too large (%zu bytes, at most 4096)", len);
		add(buf, len, why);
		free(buf);
		free(big);
	}
	add_valid(3);
	{ /* a NUL inside the receiver, which a C string would silently cut */
		ct_tx t;
		ct_tx_make(&t, 990300);
		uint8_t buf[1024];
		size_t n = aml__v1__transaction__pack(&t.tx, buf);
		uint8_t *r = memmem(buf, n, t.receiver, strlen(t.receiver));
		assert_non_null(r);
		r[5] = '\0';
		add(buf, n, "receiver: embedded NUL");
	}
	add_bad("amount", "123456789012345678901", 0,
	        "amount: out of range for numeric(38,18) (at most 20 integer and 18 fractional "
	        "digits)");
	add_bad("timestamp_us", NULL, INT64_C(946684800000000), /* year 2000 */
	        "timestamp_us: implausible (before 2009 or after 2099)");
	add_valid(4);
	add("", 0, "tx_id: empty");
	{ /* a sender over its bound in a message under the size bound */
		char w[301];
		memset(w, 's', 300);
		w[300] = '\0';
		ct_tx t;
		ct_tx_make(&t, 990400);
		t.tx.sender = w;
		add_tx(&t.tx, "sender: too long (300 bytes, at most 256)");
	}
	{ /* 4 KiB of 2-byte unknown fields: protobuf-c would spend ~180 KiB on it */
		uint8_t flood[4096];
		for (size_t i = 0; i < sizeof(flood); i += 2) {
			flood[i] = 9 << 3;
			flood[i + 1] = 1;
		}
		add(flood, sizeof(flood), "message: more than 32 fields");
	}
	{ /* just under the broker's 8 MiB: its dead letter (plus headers) is not */
		size_t n = 8388608 - 128;
		uint8_t *big = malloc(n);
		assert_non_null(big);
		memset(big, 'x', n);
		static char why[96];
		snprintf(why, sizeof(why), "message: too large (%zu bytes, at most 4096)", n);
		add(big, n, why);
		free(big);
	}
	add_valid(5);
}

static void
test_dead_letters(void **state)
{
	(void)state;
	ct_case k;
	char dlq[160];
	ct_case_setup(&k, "dlq", 1);
	snprintf(dlq, sizeof(dlq), "%s.dlq", k.topic);
	th_topic_create(dlq, 1);
	build_cases();

	rd_kafka_t *p = ct_producer();
	int nbad = 0, ngood = 0;
	for (int i = 0; i < ncases; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k-%d", i);
		ct_produce(p, k.topic, 0, key, strlen(key), cases[i].value, cases[i].len);
		nbad += cases[i].reason != NULL;
		ngood += cases[i].reason == NULL;
	}
	ct_producer_close(p);

	pid_t pid = ct_consumer_start(k.url, k.topic, k.group, "c-dlq", NULL, k.log);
	PGconn *c = th_db_connect(k.url);
	assert_int_equal(ct_wait_consumed(c, ncases, 60000), ncases);
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM transactions"), ngood);
	assert_int_equal(th_db_int(c, "SELECT dead_lettered FROM ingestion_consumers"), nbad);
	assert_int_equal(th_db_int(c, "SELECT inserted FROM ingestion_consumers"), ngood);
	/* the good ones, field by field */
	Aml__V1__Transaction *good[MAX_CASES];
	int ng = 0;
	for (int i = 0; i < ncases; i++)
		if (cases[i].reason == NULL)
			good[ng++] =
			        aml__v1__transaction__unpack(NULL, cases[i].len, cases[i].value);
	ct_assert_rows(c, good, (size_t)ng);
	for (int i = 0; i < ng; i++)
		aml__v1__transaction__free_unpacked(good[i], NULL);

	/* the consumer exits 0 only once every dead letter was delivered */
	ct_stop_committed(pid, c, k.group, k.topic, 1);
	/* the dead letters: one per bad message, in order, with its reason */
	ct_msg *m;
	size_t nm = ct_read_topic(dlq, 1, 60000, &m);
	assert_int_equal(nm, (size_t)nbad);
	size_t j = 0;
	for (int i = 0; i < ncases; i++) {
		if (cases[i].reason == NULL)
			continue;
		char key[16];
		snprintf(key, sizeof(key), "k-%d", i);
		if (strcmp(m[j].reason, cases[i].reason) != 0)
			fail_msg("offset %d: reason \"%s\", want \"%s\"", i, m[j].reason,
			         cases[i].reason);
		assert_string_equal(m[j].src_topic, k.topic);
		assert_int_equal(m[j].src_partition, 0);
		assert_int_equal(m[j].src_offset, i);
		assert_int_equal(m[j].key_len, strlen(key));
		assert_memory_equal(m[j].key, key, strlen(key));
		if (cases[i].len > 4 << 20) {
			/* refused whole by the broker: sent cut, with the full size */
			assert_int_equal(m[j].len, 65536);
			assert_memory_equal(m[j].value, cases[i].value, 65536);
		} else {
			assert_int_equal(m[j].len, cases[i].len);
			if (cases[i].len > 0)
				assert_memory_equal(m[j].value, cases[i].value, cases[i].len);
		}
		j++;
	}
	ct_msgs_free(m, nm);
	assert_true(ct_wait_log(k.log, "message.dead_lettered", 1000));
	PQfinish(c);
	for (int i = 0; i < ncases; i++)
		free(cases[i].value);
	ct_case_done(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dead_letters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
