/* server_alerts_test.c - ListAlerts over RPC against a real PostgreSQL: the
 * risk_alerts outbox read newest first in pages (before_id), oldest first
 * after a cursor (after_id), filtered by wallet, rule and time, each answer
 * checked against a count made in the database; the payload decoded with its
 * row's id; and every bad argument refused. A rule that does not parse or a
 * live config invalid for its model stops the core at start, named. The
 * outbox relay publishes every alert to Kafka exactly once, keyed by wallet,
 * across a kill -9 between delivery and marking, and across a broker outage
 * (a private broker stopped while alerts are due and started again); a
 * payload that cannot be decoded is skipped, never blocking the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>

#include "aml/v1/alert.pb-c.h"
#include "ct.h"
#include "srv_th.h"
#include "th.h"

#define N_ALERTS 23
#define T0_US    1767225600000000LL /* 2026-01-01T00:00:00Z */

static const char *RULES[2] = {"threshold>=0.5", "top<=10"};

/* Inserts alert i (wallet w<i%4>, rule RULES[i%2], created at T0 + i min). */
static void
insert_alert(PGconn *conn, int i)
{
	Aml__V1__RiskAlert a = AML__V1__RISK_ALERT__INIT;
	Aml__V1__AlertContributor k = AML__V1__ALERT_CONTRIBUTOR__INIT;
	Aml__V1__AlertContributor *ks[1] = {&k};
	char wallet[16], ts[24], buf[512];
	snprintf(wallet, sizeof(wallet), "w%d", i % 4);
	snprintf(ts, sizeof(ts), "%lld", (long long)(T0_US + (int64_t)i * 60000000));
	a.wallet = wallet;
	a.model = "hop_exposure/v1";
	a.score = i / 100.0;
	a.rule = (char *)RULES[i % 2];
	a.watermark = 1000 + i;
	a.rank = (uint64_t)i + 1;
	k.wallet = "A";
	k.side = "in";
	k.hops = 2;
	k.contribution = 0.25;
	a.n_contributors = 1;
	a.contributors = ks;
	size_t len = aml__v1__risk_alert__pack(&a, (uint8_t *)buf);
	const char *p[4] = {wallet, a.rule, buf, ts};
	int lens[4] = {0, 0, (int)len, 0}, fmts[4] = {0, 0, 1, 0};
	PGresult *r = PQexecParams(conn,
	                           "INSERT INTO risk_alerts (wallet, rule, payload, created_at)"
	                           " VALUES ($1, $2, $3, to_timestamp($4::bigint / 1e6))",
	                           4, NULL, p, lens, fmts, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
}

/* ListAlerts with req; NULL unless the status is want. */
static Aml__V1__ListAlertsResponse *
list(ts_core *c, const Aml__V1__ListAlertsRequest *req, int want)
{
	Aml__V1__ListAlertsResponse *resp = NULL;
	char msg[256] = "";
	int rc = ts_call(c, "ListAlerts", &req->base, (ProtobufCMessage **)&resp, 10000, msg,
	                 sizeof(msg));
	if (rc != want)
		fail_msg("ListAlerts: status %d (%s), want %d", rc, msg, want);
	if (want != TS_OK)
		assert_true(msg[0] != '\0'); /* a refusal names its reason */
	return resp;
}

/* Pages of limit rows through req (newest first): the ids are every stored
 * id matching sql (a count query's WHERE) in descending order. */
static void
page_all(ts_core *c, PGconn *conn, Aml__V1__ListAlertsRequest req, uint32_t limit,
         const char *where)
{
	char sql[512];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM risk_alerts WHERE %s", where);
	int64_t want = th_db_int(conn, sql), got = 0, prev = INT64_MAX;
	req.limit = limit;
	for (;;) {
		Aml__V1__ListAlertsResponse *r = list(c, &req, TS_OK);
		assert_true(r->n_alerts <= limit);
		for (size_t i = 0; i < r->n_alerts; i++) {
			assert_true(r->alerts[i]->alert_id < prev);
			prev = r->alerts[i]->alert_id;
			if (req.wallet[0] != '\0')
				assert_string_equal(r->alerts[i]->wallet, req.wallet);
			if (req.rule[0] != '\0')
				assert_string_equal(r->alerts[i]->rule, req.rule);
			got++;
		}
		req.before_id = r->next_before_id;
		assert_int_equal(r->next_before_id != 0, r->n_alerts == limit && got < want);
		aml__v1__list_alerts_response__free_unpacked(r, NULL);
		if (req.before_id == 0)
			break;
	}
	assert_int_equal(got, want);
}

static void
test_list_alerts(void **st)
{
	ts_core c;
	(void)st;
	PGconn *conn = ts_core_fixture(&c, 0, "spec-example.pb", "A", NULL);
	Aml__V1__ListAlertsRequest req = AML__V1__LIST_ALERTS_REQUEST__INIT;

	/* none stored: an empty answer, last_id 0 */
	Aml__V1__ListAlertsResponse *r = list(&c, &req, TS_OK);
	assert_int_equal(r->n_alerts, 0);
	assert_int_equal(r->last_id, 0);
	assert_int_equal(r->next_before_id, 0);
	aml__v1__list_alerts_response__free_unpacked(r, NULL);

	for (int i = 0; i < N_ALERTS; i++)
		insert_alert(conn, i);
	int64_t first = th_db_int(conn, "SELECT min(id) FROM risk_alerts");
	int64_t last = th_db_int(conn, "SELECT max(id) FROM risk_alerts");

	/* the newest, decoded: the row's id and time, the payload's fields */
	req.limit = 1;
	r = list(&c, &req, TS_OK);
	assert_int_equal(r->n_alerts, 1);
	assert_int_equal(r->last_id, last);
	const Aml__V1__RiskAlert *a = r->alerts[0];
	assert_int_equal(a->alert_id, last);
	assert_string_equal(a->wallet, "w2"); /* i = 22 */
	assert_string_equal(a->rule, RULES[0]);
	assert_string_equal(a->model, "hop_exposure/v1");
	assert_true(a->score == 22 / 100.0);
	assert_int_equal(a->watermark, 1022);
	assert_int_equal(a->rank, 23);
	assert_int_equal(a->created_at_us, T0_US + 22LL * 60000000);
	assert_int_equal(a->n_contributors, 1);
	assert_string_equal(a->contributors[0]->wallet, "A");
	assert_int_equal(a->contributors[0]->hops, 2);
	assert_int_equal(r->next_before_id, last);
	aml__v1__list_alerts_response__free_unpacked(r, NULL);

	/* newest first in pages, whole and filtered */
	req = (Aml__V1__ListAlertsRequest)AML__V1__LIST_ALERTS_REQUEST__INIT;
	page_all(&c, conn, req, 5, "true");
	page_all(&c, conn, req, 1000, "true");
	page_all(&c, conn, req, 23, "true");
	req.wallet = "w1";
	page_all(&c, conn, req, 2, "wallet = 'w1'");
	req.wallet = "";
	req.rule = (char *)RULES[1];
	page_all(&c, conn, req, 4, "rule = 'top<=10'");
	req.rule = "";
	req.since_us = T0_US + 5LL * 60000000;
	req.until_us = T0_US + 15LL * 60000000;
	page_all(&c, conn, req, 3,
	         "created_at >= '2026-01-01T00:05:00Z' AND created_at < '2026-01-01T00:15:00Z'");
	req.wallet = "w3";
	page_all(&c, conn, req, 1,
	         "wallet = 'w3' AND created_at >= '2026-01-01T00:05:00Z'"
	         " AND created_at < '2026-01-01T00:15:00Z'");

	/* oldest first after a cursor (a stream's catch-up), no next page cursor */
	req = (Aml__V1__ListAlertsRequest)AML__V1__LIST_ALERTS_REQUEST__INIT;
	req.after_id = first + 9;
	req.limit = 10;
	r = list(&c, &req, TS_OK);
	assert_int_equal(r->n_alerts, 10);
	for (size_t i = 0; i < r->n_alerts; i++)
		assert_int_equal(r->alerts[i]->alert_id, first + 10 + (int64_t)i);
	assert_int_equal(r->next_before_id, 0);
	aml__v1__list_alerts_response__free_unpacked(r, NULL);
	req.after_id = last;
	r = list(&c, &req, TS_OK);
	assert_int_equal(r->n_alerts, 0);
	assert_int_equal(r->last_id, last);
	aml__v1__list_alerts_response__free_unpacked(r, NULL);

	/* bad arguments */
	char rule[200];
	memset(rule, 'r', sizeof(rule) - 1);
	rule[sizeof(rule) - 1] = '\0';
	Aml__V1__ListAlertsRequest bad = AML__V1__LIST_ALERTS_REQUEST__INIT;
	bad.limit = 1001;
	assert_null(list(&c, &bad, TS_INVALID));
	bad.limit = 0;
	bad.before_id = -1;
	assert_null(list(&c, &bad, TS_INVALID));
	bad.before_id = 0;
	bad.after_id = -3;
	assert_null(list(&c, &bad, TS_INVALID));
	bad.after_id = 0;
	bad.since_us = -1;
	assert_null(list(&c, &bad, TS_INVALID));
	bad.since_us = 0;
	bad.rule = rule;
	assert_null(list(&c, &bad, TS_INVALID));
	bad.rule = "";
	char *wallet = malloc(70000); /* above the 64 KiB of a wallet id */
	assert_non_null(wallet);
	memset(wallet, 'w', 69999);
	wallet[69999] = '\0';
	bad.wallet = wallet;
	assert_null(list(&c, &bad, TS_INVALID));
	free(wallet);

	/* a payload that is not a RiskAlert is an error naming the alert */
	ts_exec(conn, "INSERT INTO risk_alerts (wallet, rule, payload)"
	              " VALUES ('w9', 'top<=10', '\\xffffffff'::bytea)");
	req = (Aml__V1__ListAlertsRequest)AML__V1__LIST_ALERTS_REQUEST__INIT;
	req.wallet = "w9";
	Aml__V1__ListAlertsResponse *resp = NULL;
	char msg[256] = "";
	int rc = ts_call(&c, "ListAlerts", &req.base, (ProtobufCMessage **)&resp, 10000, msg,
	                 sizeof(msg));
	assert_int_not_equal(rc, TS_OK);
	assert_non_null(strstr(msg, "not an aml.v1.RiskAlert"));
	PQfinish(conn);
	ts_core_fini(&c);
}

/* The core exits 2 at start with a message for a bad rule or live config,
 * and serves with good ones. */
static void
test_bad_live_config(void **st)
{
	ts_core c;
	char db[1100], listen_env[300], log[256];
	static const struct {
		const char *live, *rules, *says;
	} bad[] = {
	        {"LIVE_SCORING_CONFIG={}", "ALERT_RULES=threshold>=half",
	         "ALERT_RULES: 'threshold>=half': the threshold must be a number > 0"},
	        {"LIVE_SCORING_CONFIG={}", "ALERT_RULES=top<=10,rank<=3",
	         "ALERT_RULES: 'rank<=3' is not a rule"},
	        {"LIVE_SCORING_CONFIG={\"model\": \"flow_exposure/v1\", \"hop_weights\": [1]}",
	         "ALERT_RULES=top<=10", "LIVE_SCORING_CONFIG: hop_weights"},
	        {"LIVE_SCORING_CONFIG={\"hops\": 99, \"model\": \"flow_exposure/v1\"}",
	         "ALERT_RULES=", "LIVE_SCORING_CONFIG: hops"},
	        {"LIVE_SCORING_CONFIG=", "ALERT_RULES=top<=10", "set LIVE_SCORING_CONFIG"},
	        {"LIVE_SCORING_CONFIG={}", "ALERTS_PER_UPDATE_MAX=0",
	         "ALERTS_PER_UPDATE_MAX: '0' is not an integer in [1, 100000]"},
	        {"LIVE_SCORING_CONFIG={}", "ALERT_STATE_MAX=10",
	         "ALERT_STATE_MAX: '10' is not an integer in [1000, 100000000]"},
	};
	pid_t pid;
	(void)st;
	ts_core_init(&c, 0);
	snprintf(db, sizeof(db), "DATABASE_URL=%s", c.db_url);
	snprintf(listen_env, sizeof(listen_env), "RPC_LISTEN=%s", c.rpc_url);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *env[] = {db, listen_env, (char *)bad[i].live, (char *)bad[i].rules, NULL};
		snprintf(log, sizeof(log), "%s/bad%zu.log", c.dir, i);
		int status = ts_core_run(env, log, 30000, &pid);
		assert_true(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2);
		if (!ts_file_has(log, bad[i].says, 1))
			fail_msg("case %zu: the log does not say '%s'", i, bad[i].says);
	}
	char *good[] = {"LIVE_SCORING_CONFIG={\"model\": \"flow_exposure/v1\"}",
	                "ALERT_RULES=threshold>=0.5,top<=100", "ALERT_REARM_MARGIN=0.1", NULL};
	ts_core_start(&c, good);
	ts_core_fini(&c);
}

#define RELAY_ALERTS 60

typedef struct seen {
	int count[RELAY_ALERTS + 2];
	int bad;
} seen;

/* Counts each alert_id read from the topic; the key must be the wallet. */
static int
count_alert(const rd_kafka_message_t *m, void *arg)
{
	seen *s = arg;
	Aml__V1__RiskAlert *a = aml__v1__risk_alert__unpack(NULL, m->len, m->payload);
	if (a == NULL || a->alert_id < 1 || a->alert_id > RELAY_ALERTS || m->key_len == 0 ||
	    strlen(a->wallet) != m->key_len || memcmp(a->wallet, m->key, m->key_len) != 0)
		s->bad++;
	else
		s->count[a->alert_id]++;
	aml__v1__risk_alert__free_unpacked(a, NULL);
	return 1;
}

/* Waits until no alert is unpublished; returns how many still are. */
static int64_t
wait_published(PGconn *conn, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms, left;
	while ((left = th_db_int(conn, "SELECT count(*) FROM risk_alerts WHERE NOT published")) >
	               0 &&
	       th_now_ms() < end)
		usleep(50000);
	return left;
}

/* Reads topic from the start: alerts 1..RELAY_ALERTS each exactly once
 * except skip (0: none), which never, keyed by their wallet, nothing else. */
static void
expect_all_but(const char *topic, int skip)
{
	seen s = {.bad = 0};
	char group[160];
	snprintf(group, sizeof(group), "%s.check", topic);
	rd_kafka_t *rk = th_kafka_subscribe(topic, group);
	size_t want = RELAY_ALERTS - (skip > 0);
	size_t got = th_kafka_consume(rk, want, 60000, 1000, count_alert, &s);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	assert_int_equal(s.bad, 0);
	for (int id = 1; id <= RELAY_ALERTS; id++)
		if (s.count[id] != (id != skip))
			fail_msg("alert %d arrived %d times", id, s.count[id]);
	assert_int_equal(got, want);
}

static void
expect_each_once(const char *topic)
{
	expect_all_but(topic, 0);
}

/* A core's database (not started) and a fresh topic of parts partitions
 * named after prefix; topic_env gets "ALERTS_TOPIC=<it>" (160 bytes).
 * Returns a connection to the database (the caller PQfinish()es). */
static PGconn *
relay_setup(ts_core *c, const char *prefix, int parts, char *topic, char *topic_env)
{
	ts_core_init(c, 0);
	PGconn *conn = th_db_connect(c->db_url);
	th_topic_name(topic, 128, prefix);
	th_topic_create(topic, parts);
	snprintf(topic_env, 160, "ALERTS_TOPIC=%s", topic);
	return conn;
}

/* The relay delivers a batch, the core is killed (-9, injected) before it
 * marks it; after a restart the tails show the batch delivered: it is marked,
 * not sent again, and later alerts follow. Each id arrives exactly once. */
static void
test_relay_exactly_once(void **st)
{
	ts_core c;
	char topic[128], topic_env[160];
	(void)st;
	PGconn *conn = relay_setup(&c, "alerts", 3, topic, topic_env);
	char *faulty[] = {"LIVE_SCORING_CONFIG={}", "ALERT_RULES=top<=10", topic_env,
	                  "AMLRISK_RELAY_FAULT=kill_after_delivery", NULL};
	char *env[] = {"LIVE_SCORING_CONFIG={}", "ALERT_RULES=top<=10", topic_env, NULL};
	ts_core_start(&c, faulty);
	for (int i = 0; i < RELAY_ALERTS / 2; i++)
		insert_alert(conn, i);
	/* the relay delivers them, then the injected kill -9 */
	int status = 0;
	for (int64_t end = th_now_ms() + 30000; th_now_ms() < end;) {
		if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
			c.pid = 0;
			break;
		}
		usleep(20000);
	}
	assert_int_equal(c.pid, 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM risk_alerts WHERE published"), 0);
	/* restarted: recovers from the tails, then publishes the rest */
	ts_core_start(&c, env);
	for (int i = RELAY_ALERTS / 2; i < RELAY_ALERTS; i++)
		insert_alert(conn, i);
	assert_int_equal(wait_published(conn, 30000), 0);
	assert_int_equal(th_db_int(conn, "SELECT max(id) FROM risk_alerts"), RELAY_ALERTS);
	assert_true(ts_file_has(c.log, "relay.recovered", 1));

	expect_each_once(topic);
	PQfinish(conn);
	ts_core_fini(&c);
}

/* Alerts due while the broker is down wait, unpublished, and are published
 * once it is back: none lost, none doubled. On a private broker. */
static void
test_relay_broker_down(void **st)
{
	ts_core c;
	ct_stack stk;
	char topic[128], topic_env[160], brokers[64], saved[512];
	const char *was = getenv("KAFKA_BOOTSTRAP_SERVERS");
	(void)st;
	snprintf(saved, sizeof(saved), "%s", was != NULL ? was : "");
	assert_int_equal(ct_stack_init(&stk), 0);
	assert_int_equal(ct_stack_run(&stk, "start-kafka"), 0);
	snprintf(brokers, sizeof(brokers), "127.0.0.1:%d", stk.kafka_port);
	setenv("KAFKA_BOOTSTRAP_SERVERS", brokers, 1); /* the core and the helpers */
	PGconn *conn = relay_setup(&c, "alerts-down", 2, topic, topic_env);
	char *env[] = {"LIVE_SCORING_CONFIG={}", "ALERT_RULES=top<=10", topic_env, NULL};
	ts_core_start(&c, env);
	for (int i = 0; i < RELAY_ALERTS / 3; i++)
		insert_alert(conn, i);
	assert_int_equal(wait_published(conn, 30000), 0);
	assert_int_equal(ct_stack_run(&stk, "stop-kafka"), 0);
	for (int i = RELAY_ALERTS / 3; i < RELAY_ALERTS; i++)
		insert_alert(conn, i);
	/* nothing can be delivered: the rest stays unpublished */
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM risk_alerts WHERE published"),
	                 RELAY_ALERTS / 3);
	assert_int_equal(ct_stack_run(&stk, "start-kafka"), 0);
	assert_int_equal(wait_published(conn, 120000), 0);

	expect_each_once(topic);
	PQfinish(conn);
	ts_core_fini(&c);
	ct_stack_cleanup(&stk);
	setenv("KAFKA_BOOTSTRAP_SERVERS", saved, 1);
}

/* A row whose payload is not a RiskAlert is skipped (logged, marked) and
 * never blocks the rows after it: every other alert arrives exactly once. */
static void
test_relay_bad_payload(void **st)
{
	ts_core c;
	char topic[128], topic_env[160];
	(void)st;
	PGconn *conn = relay_setup(&c, "alerts-bad", 2, topic, topic_env);
	char *env[] = {"LIVE_SCORING_CONFIG={}", "ALERT_RULES=top<=10", topic_env, NULL};
	for (int i = 0; i < RELAY_ALERTS / 2; i++)
		insert_alert(conn, i);
	/* id RELAY_ALERTS / 2 + 1: bytes that do not decode */
	ts_exec(conn, "INSERT INTO risk_alerts (wallet, rule, payload)"
	              " VALUES ('w9', 'top<=10', '\\xffffffff'::bytea)");
	for (int i = RELAY_ALERTS / 2 + 1; i < RELAY_ALERTS; i++)
		insert_alert(conn, i);
	ts_core_start(&c, env);
	assert_int_equal(wait_published(conn, 30000), 0);
	assert_true(ts_file_has(c.log, "relay.bad_payload alert_id=31 skipped=1", 1));
	expect_all_but(topic, RELAY_ALERTS / 2 + 1);
	PQfinish(conn);
	ts_core_fini(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_list_alerts),        cmocka_unit_test(test_bad_live_config),
	        cmocka_unit_test(test_relay_exactly_once), cmocka_unit_test(test_relay_broker_down),
	        cmocka_unit_test(test_relay_bad_payload),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);

	nng_fini();
	return rv;
}
