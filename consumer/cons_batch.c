/* cons_batch.c - the batch between Kafka and PostgreSQL: binary COPY tuples of
 * the valid messages, copies of the dead letters, and per partition the offsets
 * covered. Bounded in rows and bytes; its lifecycle changes in one function. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_tx.h"
#include "cons.h"

#define PARTS_MAX 65536 /* partitions of one topic in one batch */

struct cons_batch {
	cons_batch_state state;
	int max_rows;
	size_t max_bytes;
	/* COPY tuples, back to back; row i starts at row_pos[i] */
	uint8_t *data;
	size_t len, cap;
	size_t *row_pos;
	int32_t *row_part;
	int nrows;
	/* dead letters (owned), ids increasing */
	cons_dlq *dlq;
	int ndlq, dlq_cap;
	size_t dlq_bytes;
	uint64_t next_dlq_id;
	/* partitions, sorted */
	cons_part *parts;
	int nparts, parts_cap;
	int64_t started_ms;
	int stored;
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cons_batch_create(cons_batch **out, int max_rows, size_t max_bytes)
{
	cons_batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return AMLRISK_ENOMEM;
	b->max_rows = max_rows;
	b->max_bytes = max_bytes;
	b->next_dlq_id = 1;
	/* the COPY buffer grows on demand up to max_bytes; row index up front */
	b->cap = 64 * 1024;
	b->data = malloc(b->cap);
	b->row_pos = malloc((size_t)max_rows * sizeof(*b->row_pos));
	b->row_part = malloc((size_t)max_rows * sizeof(*b->row_part));
	if (b->data == NULL || b->row_pos == NULL || b->row_part == NULL) {
		cons_batch_destroy(b);
		return AMLRISK_ENOMEM;
	}
	*out = b;
	return AMLRISK_OK;
}

static void
dlq_free(cons_dlq *d)
{
	free(d->value);
	free(d->key);
	if (d->headers != NULL)
		rd_kafka_headers_destroy(d->headers);
}

/* Empties the batch (rows, dead letters, partitions); keeps the buffers. */
static void
batch_clear(cons_batch *b)
{
	for (int i = 0; i < b->ndlq; i++)
		dlq_free(&b->dlq[i]);
	b->ndlq = 0;
	b->dlq_bytes = 0;
	b->len = 0;
	b->nrows = 0;
	b->nparts = 0;
	b->started_ms = 0;
	b->stored = 0;
	/* give back a buffer grown by a large batch */
	if (b->cap > (4u << 20)) {
		uint8_t *p = realloc(b->data, 4u << 20);
		if (p != NULL) {
			b->data = p;
			b->cap = 4u << 20;
		}
	}
}

void
cons_batch_destroy(cons_batch *b)
{
	if (b == NULL)
		return;
	batch_clear(b);
	free(b->data);
	free(b->row_pos);
	free(b->row_part);
	free(b->dlq);
	free(b->parts);
	free(b);
}

const char *
cons_batch_state_name(cons_batch_state s)
{
	switch (s) {
	case CONS_BATCH_FILLING:
		return "filling";
	case CONS_BATCH_FLUSHING:
		return "flushing";
	case CONS_BATCH_COMMITTED:
		return "committed";
	}
	return "?";
}

cons_batch_state
cons_batch_state_get(const cons_batch *b)
{
	return b->state;
}

int
cons_batch_set_state(cons_batch *b, cons_batch_state to)
{
	cons_batch_state from = b->state;
	int ok = (from == CONS_BATCH_FILLING && to == CONS_BATCH_FLUSHING) ||
	         (from == CONS_BATCH_FLUSHING && to == CONS_BATCH_COMMITTED) ||
	         (from == CONS_BATCH_COMMITTED && to == CONS_BATCH_FILLING) ||
	         (from == CONS_BATCH_FLUSHING && to == CONS_BATCH_FILLING && b->nrows == 0 &&
	          b->ndlq == 0);
	if (!ok) {
		amlrisk_log(AMLRISK_LOG_ERROR, "consumer", "batch.bad_transition", "from=%s to=%s",
		            cons_batch_state_name(from), cons_batch_state_name(to));
		return AMLRISK_ESTATE;
	}
	if (to == CONS_BATCH_FILLING)
		batch_clear(b);
	b->state = to;
	amlrisk_log(AMLRISK_LOG_DEBUG, "consumer", "batch.state", "from=%s to=%s rows=%d dead=%d",
	            cons_batch_state_name(from), cons_batch_state_name(to), b->nrows, b->ndlq);
	return AMLRISK_OK;
}

/* The entry of partition p, created (sorted) if new; NULL if out of memory. */
static cons_part *
part_get(cons_batch *b, int32_t p, int64_t offset)
{
	int lo = 0, hi = b->nparts;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (b->parts[mid].partition < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->nparts && b->parts[lo].partition == p)
		return &b->parts[lo];
	if (b->nparts == b->parts_cap) {
		int cap = b->parts_cap == 0 ? 16 : b->parts_cap * 2;
		if (cap > PARTS_MAX)
			return NULL;
		cons_part *np = realloc(b->parts, (size_t)cap * sizeof(*np));
		if (np == NULL)
			return NULL;
		b->parts = np;
		b->parts_cap = cap;
	}
	memmove(&b->parts[lo + 1], &b->parts[lo], (size_t)(b->nparts - lo) * sizeof(*b->parts));
	b->nparts++;
	b->parts[lo] = (cons_part){ .partition = p, .first = offset, .next = offset, .hwm = -1 };
	return &b->parts[lo];
}

static void
note(cons_batch *b, cons_part *pp, int64_t offset)
{
	if (offset < pp->first)
		pp->first = offset;
	if (offset + 1 > pp->next)
		pp->next = offset + 1;
	if (b->started_ms == 0)
		b->started_ms = now_ms();
}

int
cons_batch_full(const cons_batch *b)
{
	return b->nrows + b->ndlq >= b->max_rows ||
	       b->len + b->dlq_bytes + CONS_ROW_MAX > b->max_bytes;
}

int
cons_batch_add_row(cons_batch *b, int32_t partition, int64_t offset,
                   const Aml__V1__Transaction *tx)
{
	if (b->state != CONS_BATCH_FILLING)
		return AMLRISK_ESTATE;
	if (b->nrows + b->ndlq >= b->max_rows || b->len + b->dlq_bytes + CONS_ROW_MAX > b->max_bytes)
		return AMLRISK_EFULL;
	if (b->cap - b->len < CONS_ROW_MAX) {
		size_t cap = b->cap * 2;
		if (cap > b->max_bytes)
			cap = b->max_bytes;
		uint8_t *p = realloc(b->data, cap);
		if (p == NULL)
			return AMLRISK_ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	size_t n = cons_codec_row(b->data + b->len, b->cap - b->len, tx);
	if (n == 0)
		return AMLRISK_EINVAL;
	cons_part *pp = part_get(b, partition, offset);
	if (pp == NULL)
		return AMLRISK_ENOMEM;
	b->row_pos[b->nrows] = b->len;
	b->row_part[b->nrows] = partition;
	b->nrows++;
	b->len += n;
	pp->rows++;
	note(b, pp, offset);
	return AMLRISK_OK;
}

static void *
dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n > 0 ? n : 1);
	if (q != NULL && n > 0)
		memcpy(q, p, n);
	return q;
}

int
cons_batch_add_dlq(cons_batch *b, int32_t partition, int64_t offset, const void *value,
                   size_t len, const void *key, size_t key_len,
                   const rd_kafka_headers_t *headers, const char *reason, cons_dlq **out)
{
	if (b->state != CONS_BATCH_FILLING)
		return AMLRISK_ESTATE;
	size_t need = len + key_len + 256;
	int empty = b->nrows + b->ndlq == 0;
	if (b->nrows + b->ndlq >= b->max_rows ||
	    (!empty && b->len + b->dlq_bytes + need > b->max_bytes))
		return AMLRISK_EFULL;
	if (b->ndlq == b->dlq_cap) {
		int cap = b->dlq_cap == 0 ? 16 : b->dlq_cap * 2;
		cons_dlq *nd = realloc(b->dlq, (size_t)cap * sizeof(*nd));
		if (nd == NULL)
			return AMLRISK_ENOMEM;
		b->dlq = nd;
		b->dlq_cap = cap;
	}
	cons_dlq d = { .partition = partition, .offset = offset };
	cons_part *pp;
	if ((d.value = dup_bytes(value, len)) == NULL)
		goto fail;
	d.value_len = len;
	if (key != NULL) {
		if ((d.key = dup_bytes(key, key_len)) == NULL)
			goto fail;
		d.key_len = key_len;
	}
	if (headers != NULL && (d.headers = rd_kafka_headers_copy(headers)) == NULL)
		goto fail;
	if ((pp = part_get(b, partition, offset)) == NULL)
		goto fail;
	snprintf(d.reason, sizeof(d.reason), "%s", reason);
	d.id = b->next_dlq_id++;
	d.status = CONS_DLQ_NEW;
	b->dlq[b->ndlq++] = d;
	b->dlq_bytes += need;
	pp->dead++;
	note(b, pp, offset);
	if (out != NULL)
		*out = &b->dlq[b->ndlq - 1];
	return AMLRISK_OK;
fail:
	dlq_free(&d);
	return AMLRISK_ENOMEM;
}

static int
in_set(int32_t p, const int32_t *parts, int n)
{
	for (int i = 0; i < n; i++)
		if (parts[i] == p)
			return 1;
	return 0;
}

void
cons_batch_drop_partitions(cons_batch *b, const int32_t *parts, int n)
{
	/* rows: compact the COPY buffer in place */
	size_t w = 0;
	int kept = 0;
	for (int i = 0; i < b->nrows; i++) {
		size_t start = b->row_pos[i], end = i + 1 < b->nrows ? b->row_pos[i + 1] : b->len;
		if (in_set(b->row_part[i], parts, n))
			continue;
		if (w != start)
			memmove(b->data + w, b->data + start, end - start);
		b->row_pos[kept] = w;
		b->row_part[kept] = b->row_part[i];
		kept++;
		w += end - start;
	}
	b->nrows = kept;
	b->len = w;
	/* dead letters */
	kept = 0;
	for (int i = 0; i < b->ndlq; i++) {
		if (in_set(b->dlq[i].partition, parts, n)) {
			b->dlq_bytes -= b->dlq[i].value_len + b->dlq[i].key_len + 256;
			dlq_free(&b->dlq[i]);
			continue;
		}
		b->dlq[kept++] = b->dlq[i];
	}
	b->ndlq = kept;
	/* partitions */
	kept = 0;
	for (int i = 0; i < b->nparts; i++)
		if (!in_set(b->parts[i].partition, parts, n))
			b->parts[kept++] = b->parts[i];
	b->nparts = kept;
	if (b->nrows + b->ndlq == 0)
		b->started_ms = 0;
}

int
cons_batch_rows(const cons_batch *b)
{
	return b->nrows;
}

int
cons_batch_messages(const cons_batch *b)
{
	return b->nrows + b->ndlq;
}

size_t
cons_batch_bytes(const cons_batch *b)
{
	return b->len + b->dlq_bytes;
}

const uint8_t *
cons_batch_copy_data(const cons_batch *b, size_t *len)
{
	*len = b->len;
	return b->data;
}

cons_part *
cons_batch_parts(cons_batch *b, int *n)
{
	*n = b->nparts;
	return b->parts;
}

cons_dlq *
cons_batch_dlqs(cons_batch *b, int *n)
{
	*n = b->ndlq;
	return b->dlq;
}

cons_dlq *
cons_batch_dlq_find(cons_batch *b, uint64_t id)
{
	int lo = 0, hi = b->ndlq;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (b->dlq[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < b->ndlq && b->dlq[lo].id == id ? &b->dlq[lo] : NULL;
}

int64_t
cons_batch_started_ms(const cons_batch *b)
{
	return b->started_ms;
}

int
cons_batch_stored(const cons_batch *b)
{
	return b->stored;
}

void
cons_batch_set_stored(cons_batch *b)
{
	b->stored = 1;
}
