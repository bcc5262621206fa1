/* cons_worker.c - the consumer loop: poll, decode, batch, and per batch write
 * to PostgreSQL, confirm the dead letters, commit exactly the batch's offsets.
 * Single-threaded: librdkafka callbacks (rebalance, delivery) run inside our
 * poll calls. While a batch cannot be written, consumption is paused. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_cli.h"
#include "amlrisk_tx.h"
#include "cons_wk.h"

static int64_t
wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Remembers an error (kind ERR_*) for ingestion_consumers.last_error
 * (IngestionStatus): "what: msg". */
void
cons_wk_error(worker *w, int kind, const char *what, const char *msg)
{
	int n = snprintf(w->last_error, sizeof(w->last_error), "%s: ", what);
	if (n > 0 && (size_t)n < sizeof(w->last_error))
		snprintf(w->last_error + n, sizeof(w->last_error) - (size_t)n, "%.*s",
		         (int)(sizeof(w->last_error) - (size_t)n - 1), msg);
	w->err_kind = kind;
	w->last_error_us = wall_us();
	w->error_unsaved = 1;
}

/* What the last error was about has just worked (kinds: ERR_BIT()s): the
 * error is cleared, in ingestion_consumers too (its time stays). */
void
cons_wk_clear(worker *w, unsigned kinds)
{
	if (w->err_kind == ERR_NONE || (kinds & ERR_BIT(w->err_kind)) == 0)
		return;
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "error.cleared", "was=\"%s\"", w->last_error);
	w->last_error[0] = '\0';
	w->err_kind = ERR_NONE;
	w->error_unsaved = 1;
}

/* ---- librdkafka callbacks ---- */

void
cons_wk_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	amlrisk_log_level l = level <= 3   ? AMLRISK_LOG_ERROR
	                      : level <= 5 ? AMLRISK_LOG_WARN
	                      : level <= 6 ? AMLRISK_LOG_INFO
	                                   : AMLRISK_LOG_DEBUG;
	/* connection failures also reach cons_wk_on_error: one line per event */
	if (strcmp(fac, "FAIL") == 0)
		l = AMLRISK_LOG_DEBUG;
	amlrisk_log(l, "consumer", "rdkafka.log", "fac=%s msg=\"%s\"", fac, buf);
}

void
cons_wk_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	worker *w = opaque;
	amlrisk_log(AMLRISK_LOG_WARN, "consumer", "kafka.error", "client=%s error=%s reason=\"%s\"",
	            rd_kafka_name(rk), rd_kafka_err2name(err), reason);
	cons_wk_error(w, ERR_KAFKA, "kafka", reason);
}

/* ---- the batch ---- */

/* This consumer's row for the next write: the last error (or "" once it was
 * cleared) only when the database has not seen it yet. */
static cons_db_state
db_state(worker *w)
{
	return (cons_db_state){.consumer_id = w->cfg->consumer_id,
	                       .group = w->cfg->group,
	                       .topic = w->cfg->topic,
	                       .started_us = w->started_us,
	                       .last_error = w->error_unsaved ? w->last_error : NULL,
	                       .last_error_us = w->last_error_us};
}

/* Drives the batch to COMMITTED and back to FILLING: database transaction,
 * dead letters confirmed, offsets committed. Returns AMLRISK_OK when the batch
 * is done (or empty); otherwise the batch stays FLUSHING, keeping what was
 * already achieved, and the caller retries. */
static int
flush(worker *w)
{
	cons_batch *b = w->batch;
	int rv, nparts, rows = cons_batch_rows(b);
	int64_t t0 = amlrisk_now_ms();
	char err[512];
	if (cons_batch_state_get(b) == CONS_BATCH_FILLING) {
		if (cons_batch_messages(b) == 0)
			return AMLRISK_OK;
		if ((rv = cons_batch_set_state(b, CONS_BATCH_FLUSHING)) != 0)
			return rv;
	}
	cons_part *parts = cons_batch_parts(b, &nparts);
	int dead = cons_batch_messages(b) - rows;
	if (!cons_batch_stored(b)) {
		/* a database error passes the moment this write succeeds: say so
		 * in the same transaction */
		int db_err = w->err_kind == ERR_DB;
		cons_db_state st = db_state(w);
		if (db_err)
			st.last_error = "";
		cons_kafka_watermarks(w, parts, nparts);
		if ((rv = cons_db_write(w->db, b, &st, &w->counts, err, sizeof(err))) != 0) {
			amlrisk_log(AMLRISK_LOG_WARN, "consumer", "db.write_failed",
			            "rows=%d error=\"%s\"", rows, err);
			cons_wk_error(w, ERR_DB, "database", err);
			return rv;
		}
		if (db_err) {
			cons_wk_clear(w, ERR_BIT(ERR_DB));
			cons_metrics_db_reconnect(w->metrics);
		}
		if (st.last_error != NULL)
			w->error_unsaved = 0;
		/* before the batch counts as stored, so a failure here writes it
		 * again (harmless: it is all duplicates, counted once) */
		if ((rv = cons_dlq_conflicts(w)) != 0)
			return rv;
		cons_batch_set_stored(b);
		w->total_rows += rows;
		w->total_inserted += w->counts.inserted;
		w->total_dead += w->counts.dead_lettered;
		w->total_conflicts += w->counts.conflicts;
		cons_metrics_dead(w->metrics, CONS_REASON_CONFLICT, w->counts.conflicts);
	}
	if ((rv = cons_dlq_settle(w, DLQ_WAIT_MS)) != 0) {
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "dlq.unconfirmed", "dead=%d", dead);
		return rv;
	}
	int64_t lag = 0;
	for (int i = 0; i < nparts; i++) {
		if ((rv = cons_offs_stored(w, parts[i].partition, parts[i].next)) != 0)
			return rv;
		if (parts[i].hwm >= parts[i].next) {
			lag += parts[i].hwm - parts[i].next;
			cons_metrics_lag(w->metrics, parts[i].partition,
			                 parts[i].hwm - parts[i].next);
		}
	}
	/* asynchronous, at most one in flight: the next batch fills meanwhile;
	 * the loop commits what is outstanding once the broker answered (a
	 * failure is retried; a later commit carries earlier offsets too) */
	if (w->commits_inflight == 0)
		cons_offs_commit(w, 1, NULL);
	if ((rv = cons_batch_set_state(b, CONS_BATCH_COMMITTED)) != 0)
		return rv;
	w->batches++;
	cons_metrics_batch(w->metrics, rows + dead, w->counts.inserted,
	                   (double)(amlrisk_now_ms() - t0) / 1e3);
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "batch.committed",
	            "rows=%d inserted=%" PRId64 " duplicates=%" PRId64 " dead=%" PRId64
	            " conflicts=%" PRId64 " partitions=%d ms=%" PRId64 " lag=%" PRId64
	            " uncommitted=%d",
	            rows, w->counts.inserted, w->counts.duplicates, w->counts.dead_lettered,
	            w->counts.conflicts, nparts, amlrisk_now_ms() - t0, lag,
	            cons_offs_outstanding(w));
	return cons_batch_set_state(b, CONS_BATCH_FILLING);
}

/* One flush attempt from the loop: on failure pause consumption and back off
 * (doubling, capped); on success resume. */
static int
attempt(worker *w)
{
	int rv = flush(w);
	if (rv == AMLRISK_OK) {
		w->backoff_ms = 0;
		cons_kafka_set_paused(w, 0);
		return rv;
	}
	w->backoff_ms = w->backoff_ms == 0 ? w->cfg->retry_min_ms : w->backoff_ms * 2;
	if (w->backoff_ms > w->cfg->retry_max_ms)
		w->backoff_ms = w->cfg->retry_max_ms;
	w->next_retry_ms = amlrisk_now_ms() + w->backoff_ms;
	cons_kafka_set_paused(w, 1);
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "batch.retry", "in_ms=%d messages=%d error=%s",
	            w->backoff_ms, cons_batch_messages(w->batch), amlrisk_errname(rv));
	return rv;
}

/* ---- rebalances ---- */

static void
log_parts(const char *event, const rd_kafka_topic_partition_list_t *parts, const char *extra)
{
	char buf[512];
	size_t at = 0;
	buf[0] = '\0';
	for (int i = 0; i < parts->cnt && at + 16 < sizeof(buf); i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%" PRId32, i ? "," : "",
		                       parts->elems[i].partition);
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", event, "partitions=%s %s", buf, extra);
}

static void
on_revoke(worker *w, rd_kafka_topic_partition_list_t *parts)
{
	int lost = rd_kafka_assignment_lost(w->rk);
	log_parts("rebalance.revoked", parts, lost ? "lost=1" : "lost=0");
	/* write what we hold; if that fails, drop the revoked partitions' share
	 * (its offsets are not committed, so the next owner reads it again) */
	if (cons_batch_messages(w->batch) > 0 && (w->giving_up || flush(w) != AMLRISK_OK)) {
		int32_t *ps = malloc((size_t)parts->cnt * sizeof(*ps) + 1);
		if (ps != NULL) {
			int n = 0;
			for (int i = 0; i < parts->cnt; i++)
				if (strcmp(parts->elems[i].topic, w->cfg->topic) == 0)
					ps[n++] = parts->elems[i].partition;
			int before = cons_batch_messages(w->batch);
			cons_batch_drop_partitions(w->batch, ps, n);
			amlrisk_log(AMLRISK_LOG_WARN, "consumer", "batch.dropped_revoked",
			            "messages=%d kept=%d", before - cons_batch_messages(w->batch),
			            cons_batch_messages(w->batch));
			free(ps);
		}
		if (cons_batch_messages(w->batch) == 0 &&
		    cons_batch_state_get(w->batch) == CONS_BATCH_FLUSHING) {
			/* nothing held any more: the loop resumes consumption */
			cons_batch_set_state(w->batch, CONS_BATCH_FILLING);
			w->backoff_ms = 0;
		}
	}
	/* nothing held back any more: resume while the partitions are still
	 * assigned, so none keeps a stale pause into its next assignment */
	if (cons_batch_state_get(w->batch) == CONS_BATCH_FILLING)
		cons_kafka_set_paused(w, 0);
	if (!lost)
		cons_offs_commit(w, 0, parts);
	cons_offs_forget(w, parts);
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
             void *opaque)
{
	worker *w = opaque;
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t re = RD_KAFKA_RESP_ERR_NO_ERROR;
	/* known only once the group has formed */
	const char *proto = rd_kafka_rebalance_protocol(rk);
	w->cooperative = proto != NULL && strcmp(proto, "COOPERATIVE") == 0;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		log_parts("rebalance.assigned", parts, w->paused ? "paused=1" : "paused=0");
		/* a static member that rejoins a group the broker reloaded is
		 * handed its previous assignment as it was, even when it now
		 * subscribes to another topic: take only our topic's partitions
		 * and rejoin with the subscription (from the loop) */
		char foreign[256] = "";
		for (int i = parts->cnt - 1; i >= 0; i--)
			if (strcmp(parts->elems[i].topic, w->cfg->topic) != 0) {
				snprintf(foreign, sizeof(foreign), "%s", parts->elems[i].topic);
				rd_kafka_topic_partition_list_del_by_idx(parts, i);
			}
		if (foreign[0] != '\0') {
			amlrisk_log(AMLRISK_LOG_WARN, "consumer", "rebalance.foreign_topic",
			            "topic=%s subscribed=%s will=rejoin", foreign, w->cfg->topic);
			w->resubscribe = 1;
		}
		if (w->cooperative)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			re = rd_kafka_assign(rk, parts);
		/* set the new partitions' pause state explicitly: librdkafka keeps
		 * a partition's pause across unassign and assign, so a partition
		 * paused before a rebalance would otherwise come back paused */
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(parts);
		if (l == NULL)
			w->paused = 1; /* the loop resumes the whole assignment */
		else if (w->paused && cons_batch_state_get(w->batch) == CONS_BATCH_FLUSHING)
			cons_kafka_pause(w, l, 1);
		else if (cons_kafka_pause(w, l, 0) != AMLRISK_OK)
			w->paused = 1; /* the loop resumes the whole assignment again */
		if (l != NULL)
			rd_kafka_topic_partition_list_destroy(l);
	} else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
		on_revoke(w, parts);
		if (w->cooperative)
			e = rd_kafka_incremental_unassign(rk, parts);
		else
			re = rd_kafka_assign(rk, NULL);
	} else {
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "rebalance.error", "error=%s",
		            rd_kafka_err2name(err));
		re = rd_kafka_assign(rk, NULL);
	}
	if (e != NULL) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "rebalance.assign_failed",
		            "error=\"%s\"", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	} else if (re != RD_KAFKA_RESP_ERR_NO_ERROR) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "rebalance.assign_failed", "error=%s",
		            rd_kafka_err2name(re));
	}
}

/* ---- messages ---- */

/* Takes one polled message (ownership: destroys it). */
static void
handle_message(worker *w, rd_kafka_message_t *m)
{
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			amlrisk_log(AMLRISK_LOG_DEBUG, "consumer", "partition.eof",
			            "partition=%" PRId32 " offset=%" PRId64 " batch=%d",
			            m->partition, m->offset, cons_batch_messages(w->batch));
		else {
			amlrisk_log(AMLRISK_LOG_WARN, "consumer", "kafka.consume_error",
			            "error=%s msg=\"%s\"", rd_kafka_err2name(m->err),
			            rd_kafka_message_errstr(m));
			cons_wk_error(w, ERR_KAFKA, "kafka", rd_kafka_message_errstr(m));
		}
		rd_kafka_message_destroy(m);
		return;
	}
	Aml__V1__Transaction *tx = NULL;
	char why[160];
	int bad = amlrisk_tx_decode(m->payload, m->len, &tx, NULL, why, sizeof(why));
	rd_kafka_headers_t *h = NULL;
	if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
		h = NULL;
	cons_src src = {m->payload, m->len, m->key, m->key_len, h};
	for (int tries = 0; tries < 2; tries++) {
		int rv;
		cons_dlq *d = NULL;
		if (cons_batch_state_get(w->batch) != CONS_BATCH_FILLING)
			rv = AMLRISK_ESTATE;
		else if (bad == AMLRISK_OK)
			rv = cons_batch_add_row(w->batch, m->partition, m->offset, tx, &src);
		else
			rv = cons_batch_add_dlq(w->batch, m->partition, m->offset, &src, why, &d);
		if (rv == AMLRISK_OK) {
			if (d != NULL) {
				amlrisk_log(AMLRISK_LOG_WARN, "consumer", "message.dead_lettered",
				            "partition=%" PRId32 " offset=%" PRId64
				            " bytes=%zu reason=\"%s\"",
				            m->partition, m->offset, m->len, why);
				cons_metrics_dead(w->metrics, why, 1);
				cons_dlq_produce(
				        w, d); /* a failure is retried when the batch flushes */
			}
			goto done;
		}
		/* full (or a flush is pending): write the batch, then take it */
		if (tries == 0 && rv == AMLRISK_EFULL && attempt(w) == AMLRISK_OK)
			continue;
		break;
	}
	/* could not take it: read it again once the batch is written */
	cons_kafka_seek_back(w, m->partition, m->offset);
done:
	if (tx != NULL)
		aml__v1__transaction__free_unpacked(tx, NULL);
	rd_kafka_message_destroy(m);
}

/* Idle, with a Kafka error on record: asks the group coordinator for the
 * committed offsets of the assignment l (or, with none, any broker for
 * metadata), at most 2 s. An answer means the condition has passed. */
static void
probe_kafka(worker *w, const rd_kafka_topic_partition_list_t *l)
{
	rd_kafka_resp_err_t e;
	if (l->cnt > 0) {
		rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_copy(l);
		if (q == NULL)
			return;
		e = rd_kafka_committed(w->rk, q, 2000);
		for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < q->cnt; i++)
			e = q->elems[i].err;
		rd_kafka_topic_partition_list_destroy(q);
	} else {
		const struct rd_kafka_metadata *md = NULL;
		e = rd_kafka_metadata(w->rk, 0, NULL, &md, 2000);
		if (md != NULL)
			rd_kafka_metadata_destroy(md);
	}
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (w->err_kind == ERR_KAFKA)
			cons_metrics_broker_reconnect(w->metrics);
		cons_wk_clear(w, ERR_BIT(ERR_KAFKA) | ERR_BIT(ERR_COMMIT));
	} else
		amlrisk_log(AMLRISK_LOG_DEBUG, "consumer", "kafka.probe_failed", "error=%s",
		            rd_kafka_err2name(e));
}

/* Idle: a Kafka error on record is checked again, then the high watermarks
 * (lag) of the assigned partitions and this consumer's row (with its last
 * error, or its clearing) are written. */
static void
refresh_state(worker *w)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	char err[512];
	if (rd_kafka_assignment(w->rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || l == NULL)
		return;
	if ((w->err_kind == ERR_KAFKA || w->err_kind == ERR_COMMIT) &&
	    cons_offs_outstanding(w) == 0)
		probe_kafka(w, l);
	cons_part *p = calloc((size_t)l->cnt + 1, sizeof(*p));
	if (p != NULL) {
		for (int i = 0; i < l->cnt; i++)
			p[i].partition = l->elems[i].partition;
		cons_kafka_watermarks(w, p, l->cnt);
		cons_db_state st = db_state(w);
		if (cons_db_refresh(w->db, &st, p, l->cnt, err, sizeof(err)) != 0)
			amlrisk_log(AMLRISK_LOG_DEBUG, "consumer", "db.refresh_failed",
			            "error=\"%s\"", err);
		else if (st.last_error != NULL)
			w->error_unsaved = 0;
	}
	free(p);
	rd_kafka_topic_partition_list_destroy(l);
}

/* ---- set-up ---- */

int
cons_wk_conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "config.kafka_invalid",
		            "key=%s value=\"%s\" error=\"%s\"", k, v, err);
		return AMLRISK_EINVAL;
	}
	return AMLRISK_OK;
}

/* Subscribes to the topic (again: a rejoin with the subscription). */
static int
subscribe(worker *w)
{
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	if (sub == NULL)
		return AMLRISK_ENOMEM;
	rd_kafka_topic_partition_list_add(sub, w->cfg->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(w->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "kafka.subscribe_failed", "error=%s",
		            rd_kafka_err2name(e));
		return AMLRISK_EKAFKA;
	}
	return AMLRISK_OK;
}

static int
make_consumer(worker *w)
{
	const cons_config *c = w->cfg;
	char err[512], sto[16], hb[16];
	int rv = AMLRISK_EINVAL;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	snprintf(sto, sizeof(sto), "%d", c->session_timeout_ms);
	snprintf(hb, sizeof(hb), "%d", c->session_timeout_ms / 4);
	if (conf == NULL)
		return AMLRISK_ENOMEM;
	if (cons_wk_conf_set(conf, "bootstrap.servers", c->bootstrap) != 0 ||
	    cons_wk_conf_set(conf, "group.id", c->group) != 0 ||
	    /* static membership: a restart within the session timeout gets
	     * its partitions back at once, without a rebalance */
	    cons_wk_conf_set(conf, "group.instance.id", c->consumer_id) != 0 ||
	    cons_wk_conf_set(conf, "client.id", "amlrisk-consumer") != 0 ||
	    cons_wk_conf_set(conf, "enable.auto.commit", "false") != 0 ||
	    cons_wk_conf_set(conf, "enable.auto.offset.store", "false") != 0 ||
	    cons_wk_conf_set(conf, "auto.offset.reset", c->offset_reset) != 0 ||
	    cons_wk_conf_set(conf, "session.timeout.ms", sto) != 0 ||
	    cons_wk_conf_set(conf, "heartbeat.interval.ms", hb) != 0 ||
	    cons_wk_conf_set(conf, "enable.partition.eof", "true") != 0 ||
	    cons_wk_conf_set(conf, "queued.max.messages.kbytes", "32768") != 0 ||
	    /* larger, more frequent fetches: a batch written in ~20 ms must find
	     * the next one already fetched (the defaults left ~200 ms gaps) */
	    cons_wk_conf_set(conf, "fetch.message.max.bytes", "4194304") != 0 ||
	    cons_wk_conf_set(conf, "fetch.wait.max.ms", "100") != 0)
		goto fail;
	for (int i = 0; i < c->n_kafka_opts; i++)
		if (cons_wk_conf_set(conf, c->kafka_opts[i][0], c->kafka_opts[i][1]) != 0)
			goto fail;
	rd_kafka_conf_set_opaque(conf, w);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_error_cb(conf, cons_wk_on_error);
	rd_kafka_conf_set_log_cb(conf, cons_wk_on_log);
	if ((w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err))) == NULL) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "kafka.create_failed", "error=\"%s\"",
		            err);
		goto fail;
	}
	conf = NULL; /* owned by w->rk now */
	rd_kafka_poll_set_consumer(w->rk);
	if ((w->commitq = rd_kafka_queue_new(w->rk)) == NULL) {
		rv = AMLRISK_ENOMEM;
		goto fail;
	}
	rv = subscribe(w);
fail:
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	return rv;
}

/* ---- the loop ---- */

/* Non-zero once librdkafka has failed fatally (logged once): 1, or
 * CONS_EXIT_FENCED when another process joined with our CONSUMER_ID. */
static int
fatal_error(worker *w)
{
	char err[512];
	rd_kafka_resp_err_t e;
	if (w->fatal != 0)
		return w->fatal;
	if ((e = rd_kafka_fatal_error(w->dlq, err, sizeof(err))) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    (e = rd_kafka_fatal_error(w->rk, err, sizeof(err))) == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	if (e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID) {
		amlrisk_log(
		        AMLRISK_LOG_ERROR, "consumer", "kafka.fenced",
		        "consumer_id=%s group=%s reason=\"another consumer joined the group with "
		        "the same CONSUMER_ID (group.instance.id) and took this one's place: "
		        "give each instance its own CONSUMER_ID\" detail=\"%s\"",
		        w->cfg->consumer_id, w->cfg->group, err);
		w->fatal = CONS_EXIT_FENCED;
	} else {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "kafka.fatal", "error=%s reason=\"%s\"",
		            rd_kafka_err2name(e), err);
		w->fatal = 1;
	}
	return w->fatal;
}

static void
loop(worker *w)
{
	const cons_config *c = w->cfg;
	while (!*w->stop && !fatal_error(w)) {
		int64_t now = amlrisk_now_ms();
		if (w->resubscribe) {
			/* leave the stale assignment, then join with our topic */
			w->resubscribe = 0;
			rd_kafka_unsubscribe(w->rk);
			if (subscribe(w) != AMLRISK_OK)
				w->resubscribe = 1;
		}
		rd_kafka_poll(w->dlq, 0);
		/* paused only while a batch waits to be written (a rebalance may
		 * have written or dropped it) */
		if (w->paused && cons_batch_state_get(w->batch) == CONS_BATCH_FILLING)
			cons_kafka_set_paused(w, 0);
		if (cons_batch_state_get(w->batch) == CONS_BATCH_FLUSHING) {
			/* waiting to retry: keep serving the group (rebalances, liveness) */
			if (now >= w->next_retry_ms) {
				attempt(w);
				continue;
			}
			int64_t wait = w->next_retry_ms - now;
			rd_kafka_message_t *m =
			        rd_kafka_consumer_poll(w->rk, wait > 100 ? 100 : (int)wait);
			if (m != NULL)
				handle_message(w, m);
			continue;
		}
		int64_t started = cons_batch_started_ms(w->batch);
		int64_t timeout = started == 0 ? 200 : started + c->batch_ms - now;
		if (timeout > 200)
			timeout = 200;
		rd_kafka_message_t *m =
		        rd_kafka_consumer_poll(w->rk, timeout < 0 ? 0 : (int)timeout);
		if (m != NULL)
			handle_message(w, m);
		now = amlrisk_now_ms();
		started = cons_batch_started_ms(w->batch);
		if (cons_batch_state_get(w->batch) == CONS_BATCH_FILLING && started != 0 &&
		    (cons_batch_full(w->batch) || now - started >= c->batch_ms))
			attempt(w);
		rd_kafka_queue_poll_callback(w->commitq, 0);
		if (w->commits_inflight == 0 && now >= w->next_commit_ms &&
		    cons_offs_outstanding(w) > 0)
			cons_offs_commit(w, 1, NULL);
		if (started == 0 && now - w->last_state_ms >= c->state_interval_ms) {
			w->last_state_ms = now;
			refresh_state(w);
		}
	}
}

/* After the stop signal: keep retrying the last batch until the deadline. */
static int
drain(worker *w)
{
	int64_t deadline = amlrisk_now_ms() + w->cfg->shutdown_timeout_ms;
	for (;;) {
		if (cons_batch_messages(w->batch) == 0 ||
		    (amlrisk_now_ms() >= w->next_retry_ms && attempt(w) == AMLRISK_OK))
			break;
		if (amlrisk_now_ms() >= deadline) {
			amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "shutdown.gave_up",
			            "messages=%d reason=\"%s\"", cons_batch_messages(w->batch),
			            w->last_error);
			w->giving_up = 1;
			return 1;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, 100);
		if (m != NULL)
			handle_message(w, m);
	}
	/* let asynchronous commits land, then commit what is left, synchronously */
	for (int64_t end = amlrisk_now_ms() + 5000;
	     w->commits_inflight > 0 && amlrisk_now_ms() < end;)
		rd_kafka_queue_poll_callback(w->commitq, 100);
	if (cons_offs_commit(w, 0, NULL) != AMLRISK_OK) {
		/* one more try: the coordinator may just have moved */
		rd_kafka_poll(w->dlq, 500);
		if (cons_offs_commit(w, 0, NULL) != AMLRISK_OK)
			return 1;
	}
	return 0;
}

int
cons_worker_run(const cons_config *cfg, volatile sig_atomic_t *stop)
{
	worker w;
	int rv, status = 2;
	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.stop = stop;
	w.started_us = wall_us();
	if (cfg->metrics_listen[0] != '\0') {
		char err[512];
		if (cons_metrics_create(&w.metrics, cfg->metrics_listen, err, sizeof(err)) !=
		    AMLRISK_OK) {
			amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "start.failed", "error=\"%s\"",
			            err);
			fprintf(stderr, "amlrisk-consumer: %s\n", err);
			return 2;
		}
	}
	if ((rv = cons_batch_create(&w.batch, cfg->batch_rows, cfg->batch_bytes)) != 0 ||
	    (rv = cons_db_create(&w.db, cfg->database_url)) != 0 ||
	    (rv = cons_dlq_producer_create(&w)) != 0 || (rv = make_consumer(&w)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "start.failed", "error=%s",
		            amlrisk_errname(rv));
		goto end;
	}
	cons_dlq_topic_ensure(&w);
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "started",
	            "consumer_id=%s group=%s topic=%s dlq=%s batch_size=%d batch_ms=%d "
	            "batch_bytes=%zu librdkafka=%s",
	            cfg->consumer_id, cfg->group, cfg->topic, cfg->dlq_topic, cfg->batch_rows,
	            cfg->batch_ms, cfg->batch_bytes, rd_kafka_version_str());
	loop(&w);
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "shutdown.begin", "messages=%d",
	            cons_batch_messages(w.batch));
	status = fatal_error(&w) != 0 ? fatal_error(&w) : drain(&w);
	rd_kafka_consumer_close(w.rk);
	if (rd_kafka_flush(w.dlq, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		status = status == 0 ? 1 : status;
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "shutdown.done",
	            "status=%d batches=%" PRId64 " rows=%" PRId64 " inserted=%" PRId64
	            " dead=%" PRId64,
	            status, w.batches, w.total_rows, w.total_inserted, w.total_dead);
end:
	if (w.commitq != NULL)
		rd_kafka_queue_destroy(w.commitq); /* before its client */
	if (w.rk != NULL)
		rd_kafka_destroy(w.rk);
	if (w.dlq != NULL)
		rd_kafka_destroy(w.dlq);
	cons_db_destroy(w.db);
	cons_batch_destroy(w.batch);
	free(w.offs);
	cons_metrics_destroy(w.metrics);
	return status;
}
