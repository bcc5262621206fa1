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
#include "amlrisk_tx.h"
#include "cons.h"

#define DLQ_TRUNCATE    65536 /* a dead letter the broker refuses whole is resent cut to this */
#define DLQ_WAIT_MS     5000  /* per flush attempt: wait this long for dead-letter reports */
#define COMMIT_RETRY_MS 1000

/* Per partition: the offset after the last stored row, and the offset the
 * broker confirmed as committed (-1 none). Committed never passes stored. */
typedef struct part_off {
	int32_t partition;
	int64_t stored;
	int64_t committed;
} part_off;

typedef struct worker {
	const cons_config *cfg; /* borrowed */
	volatile sig_atomic_t *stop;
	rd_kafka_t *rk;  /* the group consumer */
	rd_kafka_t *dlq; /* the dead-letter producer */
	cons_batch *batch;
	cons_db *db;
	int cooperative; /* incremental rebalance protocol */
	int paused;      /* consumption paused while a batch waits to be written */
	int giving_up;   /* shutdown deadline passed: drop, do not write */
	int fatal;       /* librdkafka failed fatally: the exit status, 0 while not */
	int backoff_ms;
	int64_t next_retry_ms;
	/* per partition: stored offsets and what Kafka confirmed */
	part_off *offs;
	int noffs, offs_cap;
	rd_kafka_queue_t *commitq; /* results of asynchronous commits */
	int commits_inflight;
	int64_t next_commit_ms;
	/* the last error, written with the next batch or idle refresh, and
	 * cleared once what it was about works again */
	char last_error[256];
	int err_kind;          /* ERR_*, ERR_NONE once cleared */
	int64_t last_error_us; /* when it happened */
	int error_unsaved;     /* last_error (or its clearing) not yet in the database */
	int pause_failing;     /* a pause or resume failed: logged once until one works */
	int64_t started_us;
	int64_t last_state_ms;
	/* totals for the log */
	int64_t total_rows, total_inserted, total_dead, total_conflicts, batches;
	cons_db_counts counts; /* what the batch being flushed added, once stored */
} worker;

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* What the last error is about: what must work again to clear it. */
enum { ERR_NONE = 0, ERR_KAFKA, ERR_COMMIT, ERR_DLQ, ERR_DB };
#define ERR_BIT(k) (1u << (k))

/* Remembers an error (kind ERR_*) for ingestion_consumers.last_error
 * (IngestionStatus): "what: msg". */
static void
record_error(worker *w, int kind, const char *what, const char *msg)
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
static void
clear_error(worker *w, unsigned kinds)
{
	if (w->err_kind == ERR_NONE || (kinds & ERR_BIT(w->err_kind)) == 0)
		return;
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "error.cleared", "was=\"%s\"", w->last_error);
	w->last_error[0] = '\0';
	w->err_kind = ERR_NONE;
	w->error_unsaved = 1;
}

/* ---- librdkafka callbacks ---- */

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	amlrisk_log_level l = level <= 3   ? AMLRISK_LOG_ERROR
	                      : level <= 5 ? AMLRISK_LOG_WARN
	                      : level <= 6 ? AMLRISK_LOG_INFO
	                                   : AMLRISK_LOG_DEBUG;
	/* connection failures also reach on_error: one line per event */
	if (strcmp(fac, "FAIL") == 0)
		l = AMLRISK_LOG_DEBUG;
	amlrisk_log(l, "consumer", "rdkafka.log", "fac=%s msg=\"%s\"", fac, buf);
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	worker *w = opaque;
	amlrisk_log(AMLRISK_LOG_WARN, "consumer", "kafka.error", "client=%s error=%s reason=\"%s\"",
	            rd_kafka_name(rk), rd_kafka_err2name(err), reason);
	record_error(w, ERR_KAFKA, "kafka", reason);
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	worker *w = opaque;
	cons_dlq *d = cons_batch_dlq_find(w->batch, (uint64_t)(uintptr_t)m->_private);
	if (d == NULL)
		return; /* its batch was dropped in a rebalance */
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
	record_error(w, ERR_DLQ, "dead-letter delivery", rd_kafka_err2str(m->err));
}

/* ---- dead letters ---- */

/* Produces d to the dead-letter topic: original key and bytes, original
 * headers plus dlq.reason, dlq.topic, dlq.partition, dlq.offset, dlq.consumer. */
static int
dlq_produce(worker *w, cons_dlq *d)
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
	record_error(w, ERR_DLQ, "dead-letter produce", rd_kafka_err2str(err));
	return AMLRISK_EKAFKA;
}

/* Sends the batch's dead letters not yet in flight, then serves delivery
 * reports until every one is delivered or timeout_ms passes. */
static int
dlq_settle(worker *w, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	for (;;) {
		int n, waiting = 0;
		cons_dlq *d = cons_batch_dlqs(w->batch, &n);
		for (int i = 0; i < n; i++) {
			if (d[i].status == CONS_DLQ_NEW || d[i].status == CONS_DLQ_FAILED)
				dlq_produce(w, &d[i]);
			if (d[i].status != CONS_DLQ_DELIVERED)
				waiting++;
		}
		if (waiting == 0) {
			if (n > 0)
				clear_error(w, ERR_BIT(ERR_DLQ));
			return AMLRISK_OK;
		}
		if (mono_ms() >= end) {
			record_error(w, ERR_DLQ, "dead-letter delivery", "not confirmed in time");
			return AMLRISK_ETIMEDOUT;
		}
		rd_kafka_poll(w->dlq, 50);
	}
}

/* ---- Kafka offsets ---- */

static part_off *
offs_get(worker *w, int32_t partition)
{
	for (int i = 0; i < w->noffs; i++)
		if (w->offs[i].partition == partition)
			return &w->offs[i];
	return NULL;
}

/* Records that rows of partition below next are stored. */
static int
offs_stored(worker *w, int32_t partition, int64_t next)
{
	part_off *o = offs_get(w, partition);
	if (o == NULL) {
		if (w->noffs == w->offs_cap) {
			int cap = w->offs_cap == 0 ? 16 : w->offs_cap * 2;
			part_off *p = realloc(w->offs, (size_t)cap * sizeof(*p));
			if (p == NULL)
				return AMLRISK_ENOMEM;
			w->offs = p;
			w->offs_cap = cap;
		}
		o = &w->offs[w->noffs++];
		*o = (part_off){.partition = partition, .stored = next, .committed = -1};
	}
	if (next > o->stored)
		o->stored = next;
	return AMLRISK_OK;
}

static int
in_list(const rd_kafka_topic_partition_list_t *l, const char *topic, int32_t partition)
{
	for (int j = 0; l != NULL && j < l->cnt; j++)
		if (l->elems[j].partition == partition && strcmp(l->elems[j].topic, topic) == 0)
			return 1;
	return 0;
}

/* Forgets the partitions of l (revoked): a later owner commits them. */
static void
offs_forget(worker *w, const rd_kafka_topic_partition_list_t *l)
{
	int kept = 0;
	for (int i = 0; i < w->noffs; i++)
		if (!in_list(l, w->cfg->topic, w->offs[i].partition))
			w->offs[kept++] = w->offs[i];
	w->noffs = kept;
}

/* Partitions stored but not confirmed committed. */
static int
offs_outstanding(const worker *w)
{
	int n = 0;
	for (int i = 0; i < w->noffs; i++)
		n += w->offs[i].committed < w->offs[i].stored;
	return n;
}

/* The result of an asynchronous commit (served from w->commitq). */
static void
on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *l, void *opaque)
{
	(void)rk;
	worker *w = opaque;
	int failed = 0;
	if (w->commits_inflight > 0)
		w->commits_inflight--;
	for (int i = 0; l != NULL && i < l->cnt; i++) {
		part_off *o = offs_get(w, l->elems[i].partition);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    l->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (o != NULL && l->elems[i].offset > o->committed)
				o->committed = l->elems[i].offset;
		} else {
			failed++;
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
				err = l->elems[i].err;
		}
	}
	if (failed > 0 || err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "kafka.commit_failed",
		            "partitions=%d error=%s will=retry", failed, rd_kafka_err2name(err));
		record_error(w, ERR_COMMIT, "offset commit", rd_kafka_err2str(err));
		w->next_commit_ms = mono_ms() + COMMIT_RETRY_MS;
	} else {
		/* the group coordinator answered: Kafka works again */
		clear_error(w, ERR_BIT(ERR_COMMIT) | ERR_BIT(ERR_KAFKA));
	}
}

/* Commits the stored offsets not yet confirmed (of the partitions in only,
 * or all when NULL): exactly what was written, never beyond. Asynchronous
 * commits report through on_commit; a synchronous one returns the outcome. */
static int
commit_offsets(worker *w, int async, const rd_kafka_topic_partition_list_t *only)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(w->noffs + 1);
	rd_kafka_resp_err_t err;
	if (l == NULL)
		return AMLRISK_ENOMEM;
	for (int i = 0; i < w->noffs; i++)
		if (w->offs[i].committed < w->offs[i].stored &&
		    (only == NULL || in_list(only, w->cfg->topic, w->offs[i].partition)))
			rd_kafka_topic_partition_list_add(l, w->cfg->topic, w->offs[i].partition)
			        ->offset = w->offs[i].stored;
	if (l->cnt == 0) {
		rd_kafka_topic_partition_list_destroy(l);
		return AMLRISK_OK;
	}
	if (async) {
		err = rd_kafka_commit_queue(w->rk, l, w->commitq, on_commit, w);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			w->commits_inflight++;
	} else {
		err = rd_kafka_commit(w->rk, l, 0);
		for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++)
			err = l->elems[i].err;
		for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++) {
			part_off *o = offs_get(w, l->elems[i].partition);
			if (o != NULL && l->elems[i].offset > o->committed)
				o->committed = l->elems[i].offset;
		}
	}
	int n = l->cnt;
	rd_kafka_topic_partition_list_destroy(l);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "kafka.commit_failed",
		            "partitions=%d error=%s will=retry", n, rd_kafka_err2name(err));
		record_error(w, ERR_COMMIT, "offset commit", rd_kafka_err2str(err));
		w->next_commit_ms = mono_ms() + COMMIT_RETRY_MS;
		return AMLRISK_EKAFKA;
	}
	if (!async)
		clear_error(w, ERR_BIT(ERR_COMMIT) | ERR_BIT(ERR_KAFKA));
	return AMLRISK_OK;
}

/* ---- pause / resume ---- */

/* Pauses or resumes the partitions of l. librdkafka answers per partition
 * (the call itself returns NO_ERROR): every one must have worked. A failure
 * is logged (once until one works again) and recorded. Returns AMLRISK_OK or
 * AMLRISK_EKAFKA. */
static int
pause_resume(worker *w, rd_kafka_topic_partition_list_t *l, int pause)
{
	rd_kafka_resp_err_t e =
	        pause ? rd_kafka_pause_partitions(w->rk, l) : rd_kafka_resume_partitions(w->rk, l);
	int32_t part = -1;
	for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++)
		if ((e = l->elems[i].err) != RD_KAFKA_RESP_ERR_NO_ERROR)
			part = l->elems[i].partition;
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
		w->pause_failing = 0;
		return AMLRISK_OK;
	}
	if (!w->pause_failing)
		amlrisk_log(AMLRISK_LOG_WARN, "consumer",
		            pause ? "consumption.pause_failed" : "consumption.resume_failed",
		            "partition=%" PRId32 " error=%s will=retry", part,
		            rd_kafka_err2name(e));
	w->pause_failing = 1;
	record_error(w, ERR_KAFKA, pause ? "pause" : "resume", rd_kafka_err2str(e));
	return AMLRISK_EKAFKA;
}

/* Pauses or resumes the whole assignment. w->paused follows only when it
 * worked, so a failed resume is tried again by the loop (a partition left
 * paused would never be read again); a failed pause is harmless (a message
 * that arrives while a batch waits is put back with seek_back()). */
static void
set_paused(worker *w, int pause)
{
	if (w->paused == pause)
		return;
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t e = rd_kafka_assignment(w->rk, &l);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR || l == NULL) {
		if (!w->pause_failing)
			amlrisk_log(AMLRISK_LOG_WARN, "consumer", "kafka.assignment_failed",
			            "error=%s will=retry", rd_kafka_err2name(e));
		w->pause_failing = 1;
		return;
	}
	if (pause_resume(w, l, pause) == AMLRISK_OK) {
		amlrisk_log(AMLRISK_LOG_INFO, "consumer",
		            pause ? "consumption.paused" : "consumption.resumed", "partitions=%d",
		            l->cnt);
		w->paused = pause;
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* Puts partition back to offset so a message we could not take is read again. */
static void
seek_back(worker *w, int32_t partition, int64_t offset)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	if (l == NULL)
		return;
	rd_kafka_topic_partition_list_add(l, w->cfg->topic, partition)->offset = offset;
	rd_kafka_error_t *e = rd_kafka_seek_partitions(w->rk, l, 5000);
	if (e != NULL) {
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "kafka.seek_failed",
		            "partition=%" PRId32 " offset=%" PRId64 " error=\"%s\"", partition,
		            offset, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* ---- the batch ---- */

static void
fill_watermarks(worker *w, cons_part *p, int n)
{
	for (int i = 0; i < n; i++) {
		int64_t lo, hi;
		p[i].hwm = rd_kafka_get_watermark_offsets(w->rk, w->cfg->topic, p[i].partition, &lo,
		                                          &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		                           hi >= 0
		                   ? hi
		                   : -1;
	}
}

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

/* Turns the conflicting duplicates the last write found into dead letters
 * (reason "conflicting_duplicate", what differs and the stored version in
 * dlq.conflict.* and dlq.stored.* headers), each logged as a warning. All or
 * none: on failure they are taken out again and AMLRISK_ENOMEM returned. */
static int
dead_letter_conflicts(worker *w)
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

/* Drives the batch to COMMITTED and back to FILLING: database transaction,
 * dead letters confirmed, offsets committed. Returns AMLRISK_OK when the batch
 * is done (or empty); otherwise the batch stays FLUSHING, keeping what was
 * already achieved, and the caller retries. */
static int
flush(worker *w)
{
	cons_batch *b = w->batch;
	int rv, nparts, rows = cons_batch_rows(b);
	int64_t t0 = mono_ms();
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
		fill_watermarks(w, parts, nparts);
		if ((rv = cons_db_write(w->db, b, &st, &w->counts, err, sizeof(err))) != 0) {
			amlrisk_log(AMLRISK_LOG_WARN, "consumer", "db.write_failed",
			            "rows=%d error=\"%s\"", rows, err);
			record_error(w, ERR_DB, "database", err);
			return rv;
		}
		if (db_err)
			clear_error(w, ERR_BIT(ERR_DB));
		if (st.last_error != NULL)
			w->error_unsaved = 0;
		/* before the batch counts as stored, so a failure here writes it
		 * again (harmless: it is all duplicates, counted once) */
		if ((rv = dead_letter_conflicts(w)) != 0)
			return rv;
		cons_batch_set_stored(b);
		w->total_rows += rows;
		w->total_inserted += w->counts.inserted;
		w->total_dead += w->counts.dead_lettered;
		w->total_conflicts += w->counts.conflicts;
	}
	if ((rv = dlq_settle(w, DLQ_WAIT_MS)) != 0) {
		amlrisk_log(AMLRISK_LOG_WARN, "consumer", "dlq.unconfirmed", "dead=%d", dead);
		return rv;
	}
	int64_t lag = 0;
	for (int i = 0; i < nparts; i++) {
		if ((rv = offs_stored(w, parts[i].partition, parts[i].next)) != 0)
			return rv;
		if (parts[i].hwm >= parts[i].next)
			lag += parts[i].hwm - parts[i].next;
	}
	/* asynchronous, at most one in flight: the next batch fills meanwhile;
	 * the loop commits what is outstanding once the broker answered (a
	 * failure is retried; a later commit carries earlier offsets too) */
	if (w->commits_inflight == 0)
		commit_offsets(w, 1, NULL);
	if ((rv = cons_batch_set_state(b, CONS_BATCH_COMMITTED)) != 0)
		return rv;
	w->batches++;
	amlrisk_log(AMLRISK_LOG_INFO, "consumer", "batch.committed",
	            "rows=%d inserted=%" PRId64 " duplicates=%" PRId64 " dead=%" PRId64
	            " conflicts=%" PRId64 " partitions=%d ms=%" PRId64 " lag=%" PRId64
	            " uncommitted=%d",
	            rows, w->counts.inserted, w->counts.duplicates, w->counts.dead_lettered,
	            w->counts.conflicts, nparts, mono_ms() - t0, lag, offs_outstanding(w));
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
		set_paused(w, 0);
		return rv;
	}
	w->backoff_ms = w->backoff_ms == 0 ? w->cfg->retry_min_ms : w->backoff_ms * 2;
	if (w->backoff_ms > w->cfg->retry_max_ms)
		w->backoff_ms = w->cfg->retry_max_ms;
	w->next_retry_ms = mono_ms() + w->backoff_ms;
	set_paused(w, 1);
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
		set_paused(w, 0);
	if (!lost)
		commit_offsets(w, 0, parts);
	offs_forget(w, parts);
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
			pause_resume(w, l, 1);
		else if (pause_resume(w, l, 0) != AMLRISK_OK)
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
			record_error(w, ERR_KAFKA, "kafka", rd_kafka_message_errstr(m));
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
				dlq_produce(w, d); /* a failure is retried when the batch flushes */
			}
			goto done;
		}
		/* full (or a flush is pending): write the batch, then take it */
		if (tries == 0 && rv == AMLRISK_EFULL && attempt(w) == AMLRISK_OK)
			continue;
		break;
	}
	/* could not take it: read it again once the batch is written */
	seek_back(w, m->partition, m->offset);
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
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		clear_error(w, ERR_BIT(ERR_KAFKA) | ERR_BIT(ERR_COMMIT));
	else
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
	if ((w->err_kind == ERR_KAFKA || w->err_kind == ERR_COMMIT) && offs_outstanding(w) == 0)
		probe_kafka(w, l);
	cons_part *p = calloc((size_t)l->cnt + 1, sizeof(*p));
	if (p != NULL) {
		for (int i = 0; i < l->cnt; i++)
			p[i].partition = l->elems[i].partition;
		fill_watermarks(w, p, l->cnt);
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

static int
conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "config.kafka_invalid",
		            "key=%s value=\"%s\" error=\"%s\"", k, v, err);
		return AMLRISK_EINVAL;
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
	rd_kafka_topic_partition_list_t *sub = NULL;
	snprintf(sto, sizeof(sto), "%d", c->session_timeout_ms);
	snprintf(hb, sizeof(hb), "%d", c->session_timeout_ms / 4);
	if (conf == NULL)
		return AMLRISK_ENOMEM;
	if (conf_set(conf, "bootstrap.servers", c->bootstrap) != 0 ||
	    conf_set(conf, "group.id", c->group) != 0 ||
	    /* static membership: a restart within the session timeout gets
	     * its partitions back at once, without a rebalance */
	    conf_set(conf, "group.instance.id", c->consumer_id) != 0 ||
	    conf_set(conf, "client.id", "amlrisk-consumer") != 0 ||
	    conf_set(conf, "enable.auto.commit", "false") != 0 ||
	    conf_set(conf, "enable.auto.offset.store", "false") != 0 ||
	    conf_set(conf, "auto.offset.reset", c->offset_reset) != 0 ||
	    conf_set(conf, "session.timeout.ms", sto) != 0 ||
	    conf_set(conf, "heartbeat.interval.ms", hb) != 0 ||
	    conf_set(conf, "enable.partition.eof", "true") != 0 ||
	    conf_set(conf, "queued.max.messages.kbytes", "32768") != 0 ||
	    /* larger, more frequent fetches: a batch written in ~20 ms must find
	     * the next one already fetched (the defaults left ~200 ms gaps) */
	    conf_set(conf, "fetch.message.max.bytes", "4194304") != 0 ||
	    conf_set(conf, "fetch.wait.max.ms", "100") != 0)
		goto fail;
	for (int i = 0; i < c->n_kafka_opts; i++)
		if (conf_set(conf, c->kafka_opts[i][0], c->kafka_opts[i][1]) != 0)
			goto fail;
	rd_kafka_conf_set_opaque(conf, w);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);
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
	if ((sub = rd_kafka_topic_partition_list_new(1)) == NULL) {
		rv = AMLRISK_ENOMEM;
		goto fail;
	}
	rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(w->rk, sub);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "kafka.subscribe_failed", "error=%s",
		            rd_kafka_err2name(e));
		rv = AMLRISK_EKAFKA;
		goto fail;
	}
	rv = AMLRISK_OK;
fail:
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	if (sub != NULL)
		rd_kafka_topic_partition_list_destroy(sub);
	return rv;
}

static int
make_producer(worker *w)
{
	const cons_config *c = w->cfg;
	char err[512], max[24];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (conf == NULL)
		return AMLRISK_ENOMEM;
	snprintf(max, sizeof(max), "%u", CONS_MSG_MAX + 65536);
	if (conf_set(conf, "bootstrap.servers", c->bootstrap) != 0 ||
	    conf_set(conf, "client.id", "amlrisk-consumer-dlq") != 0 ||
	    conf_set(conf, "enable.idempotence", "true") != 0 ||
	    conf_set(conf, "acks", "all") != 0 || conf_set(conf, "linger.ms", "5") != 0 ||
	    conf_set(conf, "message.max.bytes", max) != 0 ||
	    conf_set(conf, "message.timeout.ms", "30000") != 0) {
		rd_kafka_conf_destroy(conf);
		return AMLRISK_EINVAL;
	}
	rd_kafka_conf_set_opaque(conf, w);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);
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
static void
ensure_dlq_topic(worker *w)
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
		int64_t now = mono_ms();
		rd_kafka_poll(w->dlq, 0);
		/* paused only while a batch waits to be written (a rebalance may
		 * have written or dropped it) */
		if (w->paused && cons_batch_state_get(w->batch) == CONS_BATCH_FILLING)
			set_paused(w, 0);
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
		now = mono_ms();
		started = cons_batch_started_ms(w->batch);
		if (cons_batch_state_get(w->batch) == CONS_BATCH_FILLING && started != 0 &&
		    (cons_batch_full(w->batch) || now - started >= c->batch_ms))
			attempt(w);
		rd_kafka_queue_poll_callback(w->commitq, 0);
		if (w->commits_inflight == 0 && now >= w->next_commit_ms && offs_outstanding(w) > 0)
			commit_offsets(w, 1, NULL);
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
	int64_t deadline = mono_ms() + w->cfg->shutdown_timeout_ms;
	for (;;) {
		if (cons_batch_messages(w->batch) == 0 ||
		    (mono_ms() >= w->next_retry_ms && attempt(w) == AMLRISK_OK))
			break;
		if (mono_ms() >= deadline) {
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
	for (int64_t end = mono_ms() + 5000; w->commits_inflight > 0 && mono_ms() < end;)
		rd_kafka_queue_poll_callback(w->commitq, 100);
	if (commit_offsets(w, 0, NULL) != AMLRISK_OK) {
		/* one more try: the coordinator may just have moved */
		rd_kafka_poll(w->dlq, 500);
		if (commit_offsets(w, 0, NULL) != AMLRISK_OK)
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
	if ((rv = cons_batch_create(&w.batch, cfg->batch_rows, cfg->batch_bytes)) != 0 ||
	    (rv = cons_db_create(&w.db, cfg->database_url)) != 0 || (rv = make_producer(&w)) != 0 ||
	    (rv = make_consumer(&w)) != 0) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "start.failed", "error=%s",
		            amlrisk_errname(rv));
		goto end;
	}
	ensure_dlq_topic(&w);
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
	return status;
}
