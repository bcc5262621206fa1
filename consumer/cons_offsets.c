/* cons_offsets.c - the consumer's Kafka side of a batch: which offsets are
 * stored and which Kafka confirmed, committing exactly those (asynchronously
 * while the next batch fills), pausing and resuming the assignment while a
 * batch waits, putting a message back, reading high watermarks. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "cons_wk.h"

static part_off *
offs_get(worker *w, int32_t partition)
{
	for (int i = 0; i < w->noffs; i++)
		if (w->offs[i].partition == partition)
			return &w->offs[i];
	return NULL;
}

/* Records that rows of partition below next are stored. */
int
cons_offs_stored(worker *w, int32_t partition, int64_t next)
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
void
cons_offs_forget(worker *w, const rd_kafka_topic_partition_list_t *l)
{
	int kept = 0;
	for (int i = 0; i < w->noffs; i++)
		if (!in_list(l, w->cfg->topic, w->offs[i].partition))
			w->offs[kept++] = w->offs[i];
	w->noffs = kept;
}

/* Partitions stored but not confirmed committed. */
int
cons_offs_outstanding(const worker *w)
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
		cons_wk_error(w, ERR_COMMIT, "offset commit", rd_kafka_err2str(err));
		w->next_commit_ms = amlrisk_now_ms() + COMMIT_RETRY_MS;
	} else {
		/* the group coordinator answered: Kafka works again */
		cons_wk_clear(w, ERR_BIT(ERR_COMMIT) | ERR_BIT(ERR_KAFKA));
	}
}

/* Commits the stored offsets not yet confirmed (of the partitions in only,
 * or all when NULL): exactly what was written, never beyond. Asynchronous
 * commits report through on_commit; a synchronous one returns the outcome. */
int
cons_offs_commit(worker *w, int async, const rd_kafka_topic_partition_list_t *only)
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
		cons_wk_error(w, ERR_COMMIT, "offset commit", rd_kafka_err2str(err));
		w->next_commit_ms = amlrisk_now_ms() + COMMIT_RETRY_MS;
		return AMLRISK_EKAFKA;
	}
	if (!async)
		cons_wk_clear(w, ERR_BIT(ERR_COMMIT) | ERR_BIT(ERR_KAFKA));
	return AMLRISK_OK;
}

/* Pauses or resumes the partitions of l. librdkafka answers per partition
 * (the call itself returns NO_ERROR): every one must have worked. A failure
 * is logged (once until one works again) and recorded. Returns AMLRISK_OK or
 * AMLRISK_EKAFKA. */
int
cons_kafka_pause(worker *w, rd_kafka_topic_partition_list_t *l, int pause)
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
	cons_wk_error(w, ERR_KAFKA, pause ? "pause" : "resume", rd_kafka_err2str(e));
	return AMLRISK_EKAFKA;
}

/* Pauses or resumes the whole assignment. w->paused follows only when it
 * worked, so a failed resume is tried again by the loop (a partition left
 * paused would never be read again); a failed pause is harmless (a message
 * that arrives while a batch waits is put back with cons_kafka_seek_back()). */
void
cons_kafka_set_paused(worker *w, int pause)
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
	if (cons_kafka_pause(w, l, pause) == AMLRISK_OK) {
		amlrisk_log(AMLRISK_LOG_INFO, "consumer",
		            pause ? "consumption.paused" : "consumption.resumed", "partitions=%d",
		            l->cnt);
		w->paused = pause;
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* Puts partition back to offset so a message we could not take is read again. */
void
cons_kafka_seek_back(worker *w, int32_t partition, int64_t offset)
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

void
cons_kafka_watermarks(worker *w, cons_part *p, int n)
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
