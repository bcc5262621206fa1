/* sim_pub.c - the Kafka producer: an idempotent librdkafka producer (acks=all,
 * lz4 by default, linger/batch tuned for throughput) keyed by sender, with a
 * bounded local queue and every delivery report counted. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_tx.h"

#define POLL_EVERY 256 /* sends between non-blocking polls for delivery reports */

struct sim_pub {
	rd_kafka_t *rk;        /* owned */
	rd_kafka_topic_t *rkt; /* owned */
	volatile sig_atomic_t *stop;
	uint64_t sent, delivered, failed;
	char first_error[256];
	char fatal_error[256];
	int fatal;
	uint8_t buf[AMLRISK_TX_MSG_MAX];
};

void
sim_pub_opts_default(sim_pub_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->topic = "transactions";
	o->compression = "lz4";
	o->linger_ms = 20;
	o->batch_size = 1000000;
	o->queue_max = 100000;
	o->timeout_ms = 120000;
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	sim_pub *p = opaque;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		p->delivered++;
		return;
	}
	if (p->failed++ == 0)
		snprintf(p->first_error, sizeof(p->first_error), "%s", rd_kafka_err2str(m->err));
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	sim_pub *p = opaque;
	char buf[256];
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		/* the idempotent producer cannot go on (e.g. a sequence gap) */
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		snprintf(p->fatal_error, sizeof(p->fatal_error), "%s", buf);
		p->fatal = 1;
		amlrisk_log(AMLRISK_LOG_ERROR, "sim", "kafka.fatal", "reason=\"%s\"", buf);
		return;
	}
	amlrisk_log(AMLRISK_LOG_WARN, "sim", "kafka.error", "err=%s reason=\"%s\"",
	            rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	amlrisk_log(level <= 3   ? AMLRISK_LOG_ERROR
	            : level <= 4 ? AMLRISK_LOG_WARN
	                         : AMLRISK_LOG_DEBUG,
	            "sim", "kafka.log", "fac=%s msg=\"%s\"", fac, buf);
}

static int
conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
	char e[256];
	if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "%s=%s: %s", k, v, e);
		return AMLRISK_EINVAL;
	}
	return AMLRISK_OK;
}

int
sim_pub_create(sim_pub **out, const sim_pub_opts *o, char *err, size_t errlen)
{
	int rv = AMLRISK_EINVAL;
	char num[32], e[512];
	rd_kafka_conf_t *c = NULL;
	sim_pub *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return AMLRISK_ENOMEM;
	}
	p->stop = o->stop;
	if (o->bootstrap == NULL || o->bootstrap[0] == '\0') {
		snprintf(err, errlen, "no broker: set KAFKA_BOOTSTRAP_SERVERS or --bootstrap");
		goto fail;
	}
	if (o->topic == NULL || o->topic[0] == '\0') {
		snprintf(err, errlen, "--topic: empty");
		goto fail;
	}
	if ((c = rd_kafka_conf_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		rv = AMLRISK_ENOMEM;
		goto fail;
	}
	if ((rv = conf_set(c, "bootstrap.servers", o->bootstrap, err, errlen)) != 0 ||
	    (rv = conf_set(c, "client.id", "amlrisk-sim", err, errlen)) != 0 ||
	    (rv = conf_set(c, "enable.idempotence", "true", err, errlen)) != 0 ||
	    (rv = conf_set(c, "acks", "all", err, errlen)) != 0 ||
	    (rv = conf_set(c, "compression.type", o->compression, err, errlen)) != 0)
		goto fail;
	snprintf(num, sizeof(num), "%d", o->linger_ms);
	if ((rv = conf_set(c, "linger.ms", num, err, errlen)) != 0)
		goto fail;
	snprintf(num, sizeof(num), "%d", o->batch_size);
	if ((rv = conf_set(c, "batch.size", num, err, errlen)) != 0)
		goto fail;
	snprintf(num, sizeof(num), "%d", o->queue_max);
	if ((rv = conf_set(c, "queue.buffering.max.messages", num, err, errlen)) != 0)
		goto fail;
	snprintf(num, sizeof(num), "%d", o->timeout_ms);
	if ((rv = conf_set(c, "message.timeout.ms", num, err, errlen)) != 0)
		goto fail;
	for (size_t i = 0; i < o->nconf; i++) {
		char kv[512];
		const char *eq = strchr(o->conf[i], '=');
		if (eq == NULL || eq == o->conf[i] || strlen(o->conf[i]) >= sizeof(kv)) {
			snprintf(err, errlen, "-X %s: expected key=value", o->conf[i]);
			rv = AMLRISK_EINVAL;
			goto fail;
		}
		memcpy(kv, o->conf[i], strlen(o->conf[i]) + 1);
		kv[eq - o->conf[i]] = '\0';
		if ((rv = conf_set(c, kv, kv + (eq - o->conf[i]) + 1, err, errlen)) != 0)
			goto fail;
	}
	rd_kafka_conf_set_opaque(c, p);
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_error_cb(c, on_error);
	rd_kafka_conf_set_log_cb(c, on_log);
	if ((p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e))) == NULL) {
		snprintf(err, errlen, "creating the producer: %s", e);
		rv = AMLRISK_EKAFKA;
		goto fail;
	}
	c = NULL; /* rd_kafka_new took it */
	if ((p->rkt = rd_kafka_topic_new(p->rk, o->topic, NULL)) == NULL) {
		snprintf(err, errlen, "--topic %s: %s", o->topic,
		         rd_kafka_err2str(rd_kafka_last_error()));
		rv = AMLRISK_EINVAL;
		goto fail;
	}
	*out = p;
	return AMLRISK_OK;
fail:
	if (c != NULL)
		rd_kafka_conf_destroy(c);
	sim_pub_destroy(p);
	return rv;
}

void
sim_pub_destroy(sim_pub *p)
{
	if (p == NULL)
		return;
	if (p->rkt != NULL)
		rd_kafka_topic_destroy(p->rkt);
	if (p->rk != NULL)
		rd_kafka_destroy(p->rk);
	free(p);
}

int
sim_pub_send(sim_pub *p, const Aml__V1__Transaction *tx, char *err, size_t errlen)
{
	size_t n = aml__v1__transaction__get_packed_size(tx);
	if (n > sizeof(p->buf)) {
		snprintf(err, errlen, "encoded transaction over %d bytes", AMLRISK_TX_MSG_MAX);
		return AMLRISK_ETOOBIG;
	}
	aml__v1__transaction__pack(tx, p->buf);
	const char *key = tx->sender ? tx->sender : "";
	for (;;) {
		if (p->fatal) {
			snprintf(err, errlen, "producer failed fatally: %s", p->fatal_error);
			return AMLRISK_EKAFKA;
		}
		rd_kafka_resp_err_t e = rd_kafka_producev(
		        p->rk, RD_KAFKA_V_RKT(p->rkt), RD_KAFKA_V_KEY(key, strlen(key)),
		        RD_KAFKA_V_VALUE(p->buf, n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		        RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			snprintf(err, errlen, "%s", rd_kafka_err2str(e));
			return AMLRISK_EKAFKA;
		}
		/* the bounded local queue is full: serve delivery reports, retry */
		if (p->stop != NULL && *p->stop) {
			snprintf(err, errlen, "interrupted");
			return AMLRISK_ECANCELED;
		}
		rd_kafka_poll(p->rk, 100);
	}
	if (++p->sent % POLL_EVERY == 0)
		rd_kafka_poll(p->rk, 0);
	return AMLRISK_OK;
}

void
sim_pub_poll(sim_pub *p)
{
	rd_kafka_poll(p->rk, 0);
}

uint64_t
sim_pub_wait(sim_pub *p, int ms)
{
	rd_kafka_flush(p->rk, ms);
	return p->sent - p->delivered - p->failed;
}

int
sim_pub_flush(sim_pub *p, int timeout_ms)
{
	rd_kafka_flush(p->rk, timeout_ms);
	if (p->delivered + p->failed < p->sent) {
		/* still undelivered: fail them now so their reports are counted */
		rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(p->rk, 1000);
		rd_kafka_poll(p->rk, 0);
	}
	if (p->delivered + p->failed < p->sent) {
		uint64_t lost = p->sent - p->delivered - p->failed;
		if (p->failed == 0)
			snprintf(p->first_error, sizeof(p->first_error),
			         "no delivery report within the flush timeout");
		p->failed += lost;
	}
	return p->failed == 0 ? AMLRISK_OK : AMLRISK_EKAFKA;
}

void
sim_pub_stats(const sim_pub *p, uint64_t *sent, uint64_t *delivered, uint64_t *failed,
              const char **first_error)
{
	if (sent)
		*sent = p->sent;
	if (delivered)
		*delivered = p->delivered;
	if (failed)
		*failed = p->failed;
	if (first_error)
		*first_error = p->failed ? p->first_error : NULL;
}
