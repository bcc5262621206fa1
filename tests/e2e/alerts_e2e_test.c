/* alerts_e2e_test.c - risk alerts end to end on the real stack: transactions
 * produced to Kafka -> amlrisk-consumer -> PostgreSQL -> amlrisk-core (live
 * view of LIVE_SCORING_CONFIG, ALERT_RULES, the outbox relay to a private
 * broker) -> Kafka risk.alerts keyed by wallet, and through amlrisk-gateway
 * GET /alerts and GET /alerts/stream (SSE). A wallet pushed over the
 * threshold alerts exactly once everywhere; faults: the core killed (-9)
 * between delivering an alert and marking it, and the alerts broker down
 * while alerts are due: each alert published exactly once afterwards. */
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
#include <nng/nng.h>

#include "aml/v1/alert.pb-c.h"
#include "ct.h"
#include "gwt.h"
#include "srv_th.h"
#include "th.h"

#define RULE    "threshold>=0.5"
#define WAIT_MS 60000

/* The live model: flow_exposure/v1, one hop, received side, no smoothing,
 * X labelled illicit: a wallet's score is what X sent it / all it got. */
static char *LIVE = "LIVE_SCORING_CONFIG={\"model\": \"flow_exposure/v1\", \"hops\": 1,"
                    " \"side\": \"received\", \"smoothing\": 0, \"use_labels\": true,"
                    " \"illicit_ratio\": 0}";

typedef struct e2e {
	ts_core c;
	PGconn *conn;
	ct_stack stk;          /* the private broker of the alerts */
	char main_kafka[256];  /* the shared stack's broker: transactions */
	char alerts_kafka[64]; /* host:port of the private one */
	char tx_topic[128], alerts_topic[128], group[192];
	char env_topic[160], env_kafka[96], env_metrics[64];
	int metrics_port; /* the core's /metrics */
	pid_t consumer, gw;
	int gw_port;
	rd_kafka_t *prod;
	int ntx;
} e2e;

/* Runs fn's Kafka helpers against the private broker. */
static void
use_alerts_broker(e2e *e, int on)
{
	setenv("KAFKA_BOOTSTRAP_SERVERS", on ? e->alerts_kafka : e->main_kafka, 1);
}

/* Produces the "S>R:amount" items of spec (blank-separated) as transactions. */
static void
produce(e2e *e, const char *spec)
{
	const char *p = spec;
	int used = 0;
	while (*p != '\0') {
		char s[16], r[16], amount[24], id[32];
		if (sscanf(p, " %15[^>]>%15[^:]:%23s%n", s, r, amount, &used) != 3)
			fail_msg("bad spec at '%s'", p);
		Aml__V1__Transaction tx = AML__V1__TRANSACTION__INIT;
		snprintf(id, sizeof(id), "e2e-alert-%d", ++e->ntx);
		tx.tx_id = id;
		tx.sender = s;
		tx.receiver = r;
		tx.amount = amount;
		tx.timestamp_us = 1767225600000000LL + e->ntx;
		ct_produce_tx(e->prod, e->tx_topic, &tx);
		p += used;
		while (*p == ' ')
			p++;
	}
	rd_kafka_flush(e->prod, 10000);
}

/* Waits until every transaction produced is stored and the live view has
 * committed their watermark. */
static void
live_caught_up(e2e *e)
{
	assert_int_equal(ct_wait_rows(e->conn, e->ntx, WAIT_MS), e->ntx);
	assert_int_equal(ct_wait_int(e->conn,
	                             "SELECT count(*) FROM live_state"
	                             " WHERE watermark >= (SELECT max(seq) FROM transactions)",
	                             1, WAIT_MS),
	                 1);
}

static void
start_core(e2e *e, int faulty)
{
	char *env[] = {LIVE,
	               "ALERT_RULES=" RULE,
	               e->env_topic,
	               e->env_kafka,
	               e->env_metrics,
	               faulty ? "AMLRISK_RELAY_FAULT=kill_after_delivery" : NULL,
	               NULL};
	ts_core_start(&e->c, env);
}

static void
e2e_start(e2e *e)
{
	char log[256];
	memset(e, 0, sizeof(*e));
	snprintf(e->main_kafka, sizeof(e->main_kafka), "%s", th_env("KAFKA_BOOTSTRAP_SERVERS"));
	assert_int_equal(ct_stack_init(&e->stk), 0);
	assert_int_equal(ct_stack_run(&e->stk, "start-kafka"), 0);
	snprintf(e->alerts_kafka, sizeof(e->alerts_kafka), "127.0.0.1:%d", e->stk.kafka_port);
	snprintf(e->env_kafka, sizeof(e->env_kafka), "KAFKA_BOOTSTRAP_SERVERS=%s", e->alerts_kafka);
	e->metrics_port = gwt_free_port();
	snprintf(e->env_metrics, sizeof(e->env_metrics), "METRICS_LISTEN=127.0.0.1:%d",
	         e->metrics_port);
	ts_core_init(&e->c, 0);
	e->conn = th_db_connect(e->c.db_url);
	ts_label(e->conn, "X");
	th_topic_name(e->tx_topic, sizeof(e->tx_topic), "e2e-alerts-tx");
	th_topic_create(e->tx_topic, 1);
	snprintf(e->group, sizeof(e->group), "%s.group", e->tx_topic);
	use_alerts_broker(e, 1);
	th_topic_name(e->alerts_topic, sizeof(e->alerts_topic), "risk.alerts");
	th_topic_create(e->alerts_topic, 2);
	use_alerts_broker(e, 0);
	snprintf(e->env_topic, sizeof(e->env_topic), "ALERTS_TOPIC=%s", e->alerts_topic);
	snprintf(log, sizeof(log), "%s/consumer.log", e->c.dir);
	e->consumer = ct_consumer_start(e->c.db_url, e->tx_topic, e->group, "e2e", NULL, log);
	e->prod = ct_producer();
	start_core(e, 0);
	e->gw_port = gwt_free_port();
	snprintf(log, sizeof(log), "%s/gateway.log", e->c.dir);
	e->gw = gwt_gateway_start(e->gw_port, e->c.rpc_url, NULL, log);
}

static void
e2e_end(e2e *e)
{
	ct_producer_close(e->prod);
	th_stop(e->gw, SIGTERM, 30000);
	th_stop(e->consumer, SIGTERM, 30000);
	PQfinish(e->conn);
	ts_core_fini(&e->c);
	ct_stack_cleanup(&e->stk);
	use_alerts_broker(e, 0);
}

/* Alerts read from the topic, by wallet. */
typedef struct seen {
	char wallet[8][16];
	int count[8], n, bad;
} seen;

static int
count_alert(const rd_kafka_message_t *m, void *arg)
{
	seen *s = arg;
	Aml__V1__RiskAlert *a = aml__v1__risk_alert__unpack(NULL, m->len, m->payload);
	int i = 0;
	if (a == NULL || strcmp(a->rule, RULE) != 0 || a->alert_id < 1 ||
	    m->key_len != strlen(a->wallet) || memcmp(m->key, a->wallet, m->key_len) != 0) {
		s->bad++;
		aml__v1__risk_alert__free_unpacked(a, NULL);
		return 1;
	}
	while (i < s->n && strcmp(s->wallet[i], a->wallet) != 0)
		i++;
	if (i == s->n && s->n < 8)
		snprintf(s->wallet[s->n++], 16, "%s", a->wallet);
	if (i < 8)
		s->count[i]++;
	aml__v1__risk_alert__free_unpacked(a, NULL);
	return 1;
}

/* The alerts topic read from the start holds exactly one alert for each of
 * wallets (a comma-free list "V W U") and nothing else. */
static void
expect_topic(e2e *e, const char *const *wallets, int n)
{
	seen s = {.n = 0};
	char group[200];
	use_alerts_broker(e, 1);
	snprintf(group, sizeof(group), "%s.check.%d", e->alerts_topic, n);
	rd_kafka_t *rk = th_kafka_subscribe(e->alerts_topic, group);
	size_t got = th_kafka_consume(rk, (size_t)n, WAIT_MS, 2000, count_alert, &s);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	use_alerts_broker(e, 0);
	assert_int_equal(s.bad, 0);
	assert_int_equal(got, n);
	assert_int_equal(s.n, n);
	for (int i = 0; i < n; i++) {
		int k = 0;
		while (k < s.n && strcmp(s.wallet[k], wallets[i]) != 0)
			k++;
		if (k == s.n || s.count[k] != 1)
			fail_msg("alert for %s arrived %d times", wallets[i],
			         k < s.n ? s.count[k] : 0);
	}
}

static int64_t
wait_published(e2e *e, int64_t alerts)
{
	assert_int_equal(ct_wait_int(e->conn, "SELECT count(*) FROM risk_alerts", alerts, WAIT_MS),
	                 alerts);
	return ct_wait_int(e->conn, "SELECT count(*) FROM risk_alerts WHERE NOT published", 0,
	                   WAIT_MS);
}

/* How often needle occurs in s. */
static int
occurrences(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void
test_alerts_end_to_end(void **st)
{
	e2e e;
	gwt_sse sse;
	(void)st;
	e2e_start(&e);
	/* the first live view: V at 0.1, X (illicit) at 1 is the baseline */
	produce(&e, "X>V:1 Y>V:9 Y>Z:3");
	live_caught_up(&e);
	assert_int_equal(th_db_int(e.conn, "SELECT count(*) FROM risk_alerts"), 0);
	gwt_sse_open_ok(e.gw_port, &sse, "", 10000);
	assert_true(gwt_sse_wait(&sse, ": connected\n\n", 10000));

	/* V crosses 0.5 (21/30): one alert, on Kafka, /alerts and the stream */
	produce(&e, "X>V:20");
	live_caught_up(&e);
	assert_int_equal(wait_published(&e, 1), 0);
	static const char *V[] = {"V"};
	expect_topic(&e, V, 1);
	json_t *j = gwt_get_json(e.gw_port, "/alerts", 200);
	json_t *alerts = json_object_get(j, "alerts");
	assert_int_equal(json_array_size(alerts), 1);
	json_t *a = json_array_get(alerts, 0);
	assert_string_equal(json_string_value(json_object_get(a, "wallet")), "V");
	assert_string_equal(json_string_value(json_object_get(a, "rule")), RULE);
	assert_true(json_real_value(json_object_get(a, "score")) > 0.5);
	json_decref(j);
	assert_true(gwt_sse_wait(&sse, "event: alert\ndata: {", WAIT_MS));
	assert_true(gwt_sse_wait(&sse, "\"wallet\":\"V\"", WAIT_MS));

	/* V stays above: nothing more */
	produce(&e, "X>V:10");
	live_caught_up(&e);
	assert_int_equal(th_db_int(e.conn, "SELECT count(*) FROM risk_alerts"), 1);

	/* kill -9 between delivering W's alert and marking it: once after restart */
	assert_int_equal(ts_core_stop(&e.c, SIGTERM), 0);
	start_core(&e, 1);
	produce(&e, "X>W:5 Y>W:1");
	int status = 0;
	for (int64_t end = th_now_ms() + WAIT_MS; th_now_ms() < end;) {
		if (waitpid(e.c.pid, &status, WNOHANG) == e.c.pid) {
			e.c.pid = 0;
			break;
		}
		usleep(20000);
	}
	assert_int_equal(e.c.pid, 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(th_db_int(e.conn, "SELECT count(*) FROM risk_alerts WHERE NOT published"),
	                 1);
	start_core(&e, 0);
	live_caught_up(&e);
	assert_int_equal(wait_published(&e, 2), 0);
	assert_true(ts_file_has(e.c.log, "relay.recovered", 1));
	static const char *VW[] = {"V", "W"};
	expect_topic(&e, VW, 2);

	/* the alerts broker down while U's alert is due: published once it is back */
	assert_int_equal(ct_stack_run(&e.stk, "stop-kafka"), 0);
	produce(&e, "X>U:9 Y>U:1");
	live_caught_up(&e);
	assert_int_equal(ct_wait_int(e.conn, "SELECT count(*) FROM risk_alerts WHERE wallet = 'U'",
	                             1, WAIT_MS),
	                 1);
	assert_int_equal(th_db_int(e.conn, "SELECT count(*) FROM risk_alerts WHERE NOT published"),
	                 1);
	assert_int_equal(ct_stack_run(&e.stk, "start-kafka"), 0);
	assert_int_equal(wait_published(&e, 3), 0);
	static const char *VWU[] = {"V", "W", "U"};
	expect_topic(&e, VWU, 3);

	/* the stream saw each once too (it resumed across the core's restart) */
	assert_true(gwt_sse_wait(&sse, "\"wallet\":\"U\"", WAIT_MS));
	assert_int_equal(occurrences(sse.buf, "event: alert\n"), 3);
	assert_int_equal(occurrences(sse.buf, "\"wallet\":\"W\""), 1);
	gwt_sse_close(&sse);
	j = gwt_get_json(e.gw_port, "/alerts", 200);
	assert_int_equal(json_array_size(json_object_get(j, "alerts")), 3);
	json_decref(j);
	/* the core since its last start wrote U's alert; nothing was deferred */
	assert_true(gwt_metric(e.metrics_port, "\namlrisk_core_alerts_total ") == 1);
	assert_true(gwt_metric(e.metrics_port, "\namlrisk_core_alerts_deferred_total ") == 0);
	e2e_end(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_alerts_end_to_end),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);
	nng_fini();
	return rv;
}
