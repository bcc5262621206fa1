/* cons_dlq.c - the consumer's dead letters: the idempotent producer, the
 * topic, producing a rejected message with why in headers, waiting for every
 * one to be delivered before a batch's offsets may be committed, and turning
 * the database's conflicting duplicates into dead letters. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "cons_wk.h"

/* A delivery report of a dead letter (found by id; gone when its batch was
 * dropped in a rebalance): delivered, or failed and to be produced again. */
static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	worker *w = opaque;
	cons_dlq *d = cons_batch_dlq_find(w->batch, (uint64_t)(uintptr_t)m->_private);
	if (d == NULL)
		return;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		d->status = CONS_DLQ_DELIVERED;
		return;
	}
	d->status = CONS_DLQ_FAILED;
	if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
		d->too_large = 1;
	amlrisk_log(AMLRISK_LOG_WARN, "consumer", "dlq.delivery_failed",
	            "partition=%" PRId32 " offset=%" PRId64 " error=%s", d->partition, d->offset,
	            rd_kafka_err2name(m->err));
	cons_wk_error(w, ERR_DLQ, "dead-letter delivery", rd_kafka_err2str(m->err));
}

/* Produces d to the dead-letter topic: original key and bytes, original
 * headers plus dlq.reason, dlq.topic, dlq.partition, dlq.offset, dlq.consumer. */
int
cons_dlq_produce(worker *w, cons_dlq *d)
{
	char part[16], off[24], trunc[24];
	rd_kafka_resp_err_t err;
	for (int attempt = 0; attempt < 2; attempt++) {
		rd_kafka_headers_t *h = d->headers != NULL ? rd_kafka_headers_copy(d->headers)
		                                           : rd_kafka_headers_new(6);
		if (h == NULL)
			return AMLRISK_ENOMEM;
		size_t vlen = d->value_len;
		snprintf(part, sizeof(part), "%" PRId32, d->partition);
		snprintf(off, sizeof(off), "%" PRId64, d->offset);
		rd_kafka_header_add(h, "dlq.reason", -1, d->reason, -1);
		rd_kafka_header_add(h, "dlq.topic", -1, w->cfg->topic, -1);
		rd_kafka_header_add(h, "dlq.partition", -1, part, -1);
		rd_kafka_header_add(h, "dlq.offset", -1, off, -1);
		rd_kafka_header_add(h, "dlq.consumer", -1, w->cfg->consumer_id, -1);
		if (d->too_large && vlen > DLQ_TRUNCATE) {
			snprintf(trunc, sizeof(trunc), "%zu", vlen);
			rd_kafka_header_add(h, "dlq.truncated_from", -1, trunc, -1);
			vlen = DLQ_TRUNCATE;
		}
		for (int spins = 0;; spins++) {
			err = rd_kafka_producev(
			        w->dlq, RD_KAFKA_V_TOPIC(w->cfg->dlq_topic),
			        RD_KAFKA_V_KEY(d->key, d->key_len),
			        RD_KAFKA_V_VALUE(d->value, vlen),
			        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
			        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)d->id), RD_KAFKA_V_END);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || spins >= 100)
				break;
			rd_kafka_poll(w->dlq, 50);
		}
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			d->status = CONS_DLQ_SENT;
			return AMLRISK_OK;
		}
		rd_kafka_headers_destroy(h); /* not taken on failure */
		if (err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || d->too_large)
			break;
		d->too_large = 1;
	}
	d->status = CONS_DLQ_FAILED;
	cons_wk_error(w, ERR_DLQ, "dead-letter produce", rd_kafka_err2str(err));
	return AMLRISK_EKAFKA;
}

/* Sends the batch's dead letters not yet in flight, then serves delivery
 * reports until every one is delivered or timeout_ms passes. */
int
cons_dlq_settle(worker *w, int timeout_ms)
{
	int64_t end = amlrisk_now_ms() + timeout_ms;
	for (;;) {
		int n, waiting = 0;
		cons_dlq *d = cons_batch_dlqs(w->batch, &n);
		for (int i = 0; i < n; i++) {
			if (d[i].status == CONS_DLQ_NEW || d[i].status == CONS_DLQ_FAILED)
				cons_dlq_produce(w, &d[i]);
			if (d[i].status != CONS_DLQ_DELIVERED)
				waiting++;
		}
		if (waiting == 0) {
			if (n > 0)
				cons_wk_clear(w, ERR_BIT(ERR_DLQ));
			return AMLRISK_OK;
		}
		if (amlrisk_now_ms() >= end) {
			cons_wk_error(w, ERR_DLQ, "dead-letter delivery", "not confirmed in time");
			return AMLRISK_ETIMEDOUT;
		}
		rd_kafka_poll(w->dlq, 50);
	}
}

/* Turns the conflicting duplicates the last write found into dead letters
 * (reason "conflicting_duplicate", what differs and the stored version in
 * dlq.conflict.* and dlq.stored.* headers), each logged as a warning. All or
 * none: on failure they are taken out again and AMLRISK_ENOMEM returned. */
int
cons_dlq_conflicts(worker *w)
{
	int n = cons_db_conflicts(w->db);
	for (int i = 0; i < n; i++) {
		cons_db_conflict c;
		cons_db_conflict_get(w->db, i, &c);
		rd_kafka_headers_t *h = rd_kafka_headers_new(8);
		cons_dlq *d = NULL;
		int rv = AMLRISK_ENOMEM;
		if (h != NULL) {
			rd_kafka_header_add(h, "dlq.conflict.fields", -1, c.fields, -1);
			rd_kafka_header_add(h, "dlq.stored.seq", -1, c.seq, -1);
			rd_kafka_header_add(h, "dlq.stored.sender", -1, c.sender, -1);
			rd_kafka_header_add(h, "dlq.stored.receiver", -1, c.receiver, -1);
			rd_kafka_header_add(h, "dlq.stored.amount", -1, c.amount, -1);
			rd_kafka_header_add(h, "dlq.stored.timestamp_us", -1, c.timestamp_us, -1);
			rd_kafka_header_add(h, "dlq.stored.asset", -1,
			                    c.asset != NULL ? c.asset : "", -1);
			rv = cons_batch_add_conflict(w->batch, c.row, CONS_REASON_CONFLICT, h, &d);
			rd_kafka_headers_destroy(h);
		}
		if (rv != AMLRISK_OK) {
			cons_batch_drop_conflicts(w->batch);
			return rv;
		}
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "message.conflicting_duplicate",
		            "partition=%" PRId32 " offset=%" PRId64
		            " tx_id=%s differs=%s stored_seq=%s",
		            d->partition, d->offset, c.tx_id, c.fields, c.seq);
	}
	return AMLRISK_OK;
}

int
cons_dlq_producer_create(worker *w)
{
	const cons_config *c = w->cfg;
	char err[512], max[24];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (conf == NULL)
		return AMLRISK_ENOMEM;
	snprintf(max, sizeof(max), "%u", CONS_MSG_MAX + 65536);
	if (cons_wk_conf_set(conf, "bootstrap.servers", c->bootstrap) != 0 ||
	    cons_wk_conf_set(conf, "client.id", "amlrisk-consumer-dlq") != 0 ||
	    cons_wk_conf_set(conf, "enable.idempotence", "true") != 0 ||
	    cons_wk_conf_set(conf, "acks", "all") != 0 ||
	    cons_wk_conf_set(conf, "linger.ms", "5") != 0 ||
	    cons_wk_conf_set(conf, "message.max.bytes", max) != 0 ||
	    cons_wk_conf_set(conf, "message.timeout.ms", "30000") != 0) {
		rd_kafka_conf_destroy(conf);
		return AMLRISK_EINVAL;
	}
	rd_kafka_conf_set_opaque(conf, w);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, cons_wk_on_error);
	rd_kafka_conf_set_log_cb(conf, cons_wk_on_log);
	if ((w->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "kafka.create_failed", "error=\"%s\"",
		            err);
		rd_kafka_conf_destroy(conf);
		return AMLRISK_EKAFKA;
	}
	return AMLRISK_OK;
}

/* Creates the dead-letter topic if it does not exist (broker's default
 * partitions and replication), so dead letters do not depend on the broker
 * auto-creating topics. Best effort: a broker that is down now is logged and
 * the topic is tried again by every produce. */
void
cons_dlq_topic_ensure(worker *w)
{
	char err[256];
	rd_kafka_NewTopic_t *nt =
	        rd_kafka_NewTopic_new(w->cfg->dlq_topic, -1, -1, err, sizeof(err));
	rd_kafka_queue_t *q = rd_kafka_queue_new(w->dlq);
	rd_kafka_AdminOptions_t *ao =
	        rd_kafka_AdminOptions_new(w->dlq, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_event_t *ev = NULL;
	const char *problem = NULL;
	if (nt == NULL || q == NULL || ao == NULL) {
		problem = nt == NULL ? err : "out of memory";
		goto end;
	}
	rd_kafka_AdminOptions_set_request_timeout(ao, 10000, err, sizeof(err));
	rd_kafka_CreateTopics(w->dlq, &nt, 1, ao, q);
	if ((ev = rd_kafka_queue_poll(q, 15000)) == NULL) {
		problem = "timed out";
		goto end;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		problem = rd_kafka_event_error_string(ev);
		goto end;
	}
	size_t n = 0;
	const rd_kafka_topic_result_t **res =
	        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	if (n == 1 && rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		problem = rd_kafka_topic_result_error_string(res[0]);
	else if (n == 1 && rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR)
		amlrisk_log(AMLRISK_LOG_INFO, "consumer", "dlq.topic_created", "topic=%s",
		            w->cfg->dlq_topic);
end:
	if (problem != NULL)
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "dlq.topic_unchecked",
		            "topic=%s error=\"%s\"", w->cfg->dlq_topic, problem);
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (ao != NULL)
		rd_kafka_AdminOptions_destroy(ao);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (nt != NULL)
		rd_kafka_NewTopic_destroy(nt);
}
