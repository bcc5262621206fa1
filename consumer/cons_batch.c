/* cons_batch.c - the batch between Kafka and PostgreSQL: binary COPY tuples of
 * the valid messages with a copy of each one's source (so a conflicting
 * duplicate the database finds can still be dead-lettered), copies of the
 * invalid messages, and per partition the offsets covered. Bounded in rows and
 * bytes; its lifecycle changes in one function. */
#include <stdlib.h>
#include <string.h>

#include "amlrisk_buf.h"
#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "amlrisk_tx.h"
#include "cons.h"

#define PARTS_MAX           65536      /* partitions of one topic in one batch */
#define KEEP_BYTES          (4u << 20) /* a buffer grown beyond this is given back when emptied */
#define DLQ_OVERHEAD        256        /* bytes counted per dead letter besides value and key */
#define ROW_HEADER_OVERHEAD 16         /* bytes counted per kept header besides name and value */

/* One valid message: its COPY tuple and its source. */
typedef struct row {
	size_t pos;   /* tuple at data + pos */
	size_t src;   /* value, then key, at src + src */
	size_t vlen;  /* value bytes */
	int64_t klen; /* key bytes, -1: no key */
	int64_t offset;
	int32_t partition;
	rd_kafka_headers_t *headers; /* owned copy, NULL when it had none */
	size_t hbytes;               /* what the headers count for */
} row;

struct cons_batch {
	cons_batch_state state;
	int max_rows;
	size_t max_bytes;
	amlrisk_buf data; /* COPY tuples, back to back */
	amlrisk_buf src;  /* the rows' values and keys */
	row *rows;
	int nrows, rows_cap;
	size_t hdr_bytes; /* the rows' kept headers */
	/* dead letters (owned), ids increasing */
	cons_dlq *dlq;
	int ndlq, dlq_cap;
	int ninvalid; /* dead letters of invalid messages (not conflicts) */
	size_t dlq_bytes;
	uint64_t next_dlq_id;
	/* partitions, sorted */
	cons_part *parts;
	int nparts, parts_cap;
	int64_t started_ms;
	int stored;
};

int
cons_batch_create(cons_batch **out, int max_rows, size_t max_bytes)
{
	cons_batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return AMLRISK_ENOMEM;
	b->max_rows = max_rows;
	b->max_bytes = max_bytes;
	b->next_dlq_id = 1;
	/* both bounded by the batch's own accounting (has_room) */
	amlrisk_buf_init(&b->data, 0);
	amlrisk_buf_init(&b->src, 0);
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

/* Gives back a buffer a large batch grew. */
static void
buf_trim(amlrisk_buf *buf)
{
	buf->len = 0;
	buf->failed = 0;
	if (buf->cap > KEEP_BYTES)
		amlrisk_buf_free(buf);
}

/* Empties the batch (rows, dead letters, partitions); keeps small buffers. */
static void
batch_clear(cons_batch *b)
{
	for (int i = 0; i < b->ndlq; i++)
		dlq_free(&b->dlq[i]);
	for (int i = 0; i < b->nrows; i++)
		if (b->rows[i].headers != NULL)
			rd_kafka_headers_destroy(b->rows[i].headers);
	b->ndlq = b->ninvalid = 0;
	b->dlq_bytes = 0;
	b->nrows = 0;
	b->hdr_bytes = 0;
	b->nparts = 0;
	b->started_ms = 0;
	b->stored = 0;
	buf_trim(&b->data);
	buf_trim(&b->src);
}

void
cons_batch_destroy(cons_batch *b)
{
	if (b == NULL)
		return;
	batch_clear(b);
	amlrisk_buf_free(&b->data);
	amlrisk_buf_free(&b->src);
	free(b->rows);
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
	b->parts[lo] = (cons_part){.partition = p, .first = offset, .next = offset, .hwm = -1};
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
		b->started_ms = amlrisk_now_ms();
}

size_t
cons_batch_bytes(const cons_batch *b)
{
	return b->data.len + b->src.len + b->hdr_bytes + b->dlq_bytes;
}

int
cons_batch_full(const cons_batch *b)
{
	return b->nrows + b->ninvalid >= b->max_rows ||
	       cons_batch_bytes(b) + CONS_ROW_MAX + AMLRISK_TX_MSG_MAX > b->max_bytes;
}

/* Room for a message of need bytes: the row bound, and the byte bound
 * unless the batch is empty (one oversized message is always taken). */
static int
has_room(const cons_batch *b, size_t need)
{
	if (b->nrows + b->ninvalid >= b->max_rows)
		return 0;
	return b->nrows + b->ninvalid == 0 || cons_batch_bytes(b) + need <= b->max_bytes;
}

/* What headers h count for in the batch's bytes. */
static size_t
headers_bytes(const rd_kafka_headers_t *h)
{
	size_t n = 0, vlen;
	const char *name;
	const void *value;
	for (size_t i = 0; h != NULL && rd_kafka_header_get_all(h, i, &name, &value, &vlen) ==
	                                        RD_KAFKA_RESP_ERR_NO_ERROR;
	     i++)
		n += strlen(name) + vlen + ROW_HEADER_OVERHEAD;
	return n;
}

int
cons_batch_add_row(cons_batch *b, int32_t partition, int64_t offset, const Aml__V1__Transaction *tx,
                   const cons_src *src)
{
	if (b->state != CONS_BATCH_FILLING)
		return AMLRISK_ESTATE;
	size_t hb = headers_bytes(src->headers);
	if (!has_room(b, CONS_ROW_MAX + src->len + src->key_len + hb))
		return AMLRISK_EFULL;
	if (b->nrows == b->rows_cap) {
		int cap = b->rows_cap == 0 ? 1024 : b->rows_cap * 2;
		if (cap > b->max_rows)
			cap = b->max_rows;
		row *nr = realloc(b->rows, (size_t)cap * sizeof(*nr));
		if (nr == NULL)
			return AMLRISK_ENOMEM;
		b->rows = nr;
		b->rows_cap = cap;
	}
	row r = {.pos = b->data.len,
	         .src = b->src.len,
	         .vlen = src->len,
	         .klen = src->key != NULL ? (int64_t)src->key_len : -1,
	         .offset = offset,
	         .partition = partition};
	if (amlrisk_buf_reserve(&b->data, CONS_ROW_MAX) != 0 ||
	    amlrisk_buf_reserve(&b->src, src->len + src->key_len) != 0)
		goto nomem;
	size_t n = cons_codec_row((uint8_t *)b->data.data + b->data.len, CONS_ROW_MAX, tx);
	if (n == 0)
		return AMLRISK_EINVAL;
	if (src->headers != NULL && (r.headers = rd_kafka_headers_copy(src->headers)) == NULL)
		goto nomem;
	cons_part *pp = part_get(b, partition, offset);
	if (pp == NULL) {
		if (r.headers != NULL)
			rd_kafka_headers_destroy(r.headers);
		goto nomem;
	}
	b->data.len += n;
	amlrisk_buf_add(&b->src, src->value, src->len);
	if (src->key != NULL)
		amlrisk_buf_add(&b->src, src->key, src->key_len);
	r.hbytes = r.headers != NULL ? hb : 0;
	b->hdr_bytes += r.hbytes;
	b->rows[b->nrows++] = r;
	pp->rows++;
	note(b, pp, offset);
	return AMLRISK_OK;
nomem:
	b->data.failed = b->src.failed = 0;
	return AMLRISK_ENOMEM;
}

static void *
dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n > 0 ? n : 1);
	if (q != NULL && n > 0)
		memcpy(q, p, n);
	return q;
}

/* Fills d with copies of value, key and headers; extra (may be NULL) goes
 * after the original headers. Returns AMLRISK_OK or AMLRISK_ENOMEM (d then
 * holds what was copied, for dlq_free()). */
static int
dlq_copy(cons_dlq *d, const void *value, size_t len, const void *key, size_t key_len,
         const rd_kafka_headers_t *headers, const rd_kafka_headers_t *extra)
{
	if ((d->value = dup_bytes(value, len)) == NULL)
		return AMLRISK_ENOMEM;
	d->value_len = len;
	if (key != NULL) {
		if ((d->key = dup_bytes(key, key_len)) == NULL)
			return AMLRISK_ENOMEM;
		d->key_len = key_len;
	}
	if (headers != NULL && (d->headers = rd_kafka_headers_copy(headers)) == NULL)
		return AMLRISK_ENOMEM;
	if (extra != NULL) {
		const char *name;
		const void *v;
		size_t vlen;
		if (d->headers == NULL && (d->headers = rd_kafka_headers_new(8)) == NULL)
			return AMLRISK_ENOMEM;
		for (size_t i = 0; rd_kafka_header_get_all(extra, i, &name, &v, &vlen) ==
		                   RD_KAFKA_RESP_ERR_NO_ERROR;
		     i++)
			rd_kafka_header_add(d->headers, name, -1, v, (ssize_t)vlen);
	}
	return AMLRISK_OK;
}

/* Appends d (taken over) to the dead letters, with the next id. */
static int
dlq_append(cons_batch *b, cons_dlq *d, cons_dlq **out)
{
	if (b->ndlq == b->dlq_cap) {
		int cap = b->dlq_cap == 0 ? 16 : b->dlq_cap * 2;
		cons_dlq *nd = realloc(b->dlq, (size_t)cap * sizeof(*nd));
		if (nd == NULL)
			return AMLRISK_ENOMEM;
		b->dlq = nd;
		b->dlq_cap = cap;
	}
	d->id = b->next_dlq_id++;
	d->status = CONS_DLQ_NEW;
	b->dlq[b->ndlq++] = *d;
	b->dlq_bytes += d->value_len + d->key_len + DLQ_OVERHEAD;
	if (!d->conflict)
		b->ninvalid++;
	if (out != NULL)
		*out = &b->dlq[b->ndlq - 1];
	return AMLRISK_OK;
}

int
cons_batch_add_dlq(cons_batch *b, int32_t partition, int64_t offset, const cons_src *src,
                   const char *reason, cons_dlq **out)
{
	if (b->state != CONS_BATCH_FILLING)
		return AMLRISK_ESTATE;
	if (!has_room(b, src->len + src->key_len + DLQ_OVERHEAD))
		return AMLRISK_EFULL;
	cons_dlq d = {.partition = partition, .offset = offset};
	cons_part *pp;
	if (dlq_copy(&d, src->value, src->len, src->key, src->key_len, src->headers, NULL) != 0 ||
	    (pp = part_get(b, partition, offset)) == NULL)
		goto fail;
	snprintf(d.reason, sizeof(d.reason), "%s", reason);
	if (dlq_append(b, &d, out) != 0)
		goto fail;
	pp->dead++;
	note(b, pp, offset);
	return AMLRISK_OK;
fail:
	dlq_free(&d);
	return AMLRISK_ENOMEM;
}

int
cons_batch_add_conflict(cons_batch *b, int row_i, const char *reason,
                        const rd_kafka_headers_t *extra, cons_dlq **out)
{
	if (b->state != CONS_BATCH_FLUSHING || b->stored)
		return AMLRISK_ESTATE;
	if (row_i < 0 || row_i >= b->nrows)
		return AMLRISK_EINVAL;
	const row *r = &b->rows[row_i];
	const uint8_t *s = (const uint8_t *)b->src.data + r->src;
	cons_dlq d = {.partition = r->partition, .offset = r->offset, .conflict = 1};
	if (dlq_copy(&d, s, r->vlen, r->klen >= 0 ? s + r->vlen : NULL,
	             r->klen >= 0 ? (size_t)r->klen : 0, r->headers, extra) != 0 ||
	    dlq_append(b, &d, out) != 0) {
		dlq_free(&d);
		return AMLRISK_ENOMEM;
	}
	snprintf(b->dlq[b->ndlq - 1].reason, sizeof(d.reason), "%s", reason);
	return AMLRISK_OK;
}

void
cons_batch_drop_conflicts(cons_batch *b)
{
	if (b->state != CONS_BATCH_FLUSHING || b->stored)
		return;
	int kept = 0;
	for (int i = 0; i < b->ndlq; i++) {
		if (b->dlq[i].conflict) {
			b->dlq_bytes -= b->dlq[i].value_len + b->dlq[i].key_len + DLQ_OVERHEAD;
			dlq_free(&b->dlq[i]);
			continue;
		}
		b->dlq[kept++] = b->dlq[i];
	}
	b->ndlq = kept;
}

void
cons_batch_row_at(const cons_batch *b, int row_i, int32_t *partition, int64_t *offset)
{
	*partition = b->rows[row_i].partition;
	*offset = b->rows[row_i].offset;
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
	/* rows: compact both buffers in place */
	size_t w = 0, ws = 0;
	int kept = 0;
	for (int i = 0; i < b->nrows; i++) {
		row *r = &b->rows[i];
		size_t end = i + 1 < b->nrows ? b->rows[i + 1].pos : b->data.len;
		size_t slen = r->vlen + (r->klen > 0 ? (size_t)r->klen : 0);
		if (in_set(r->partition, parts, n)) {
			if (r->headers != NULL)
				rd_kafka_headers_destroy(r->headers);
			b->hdr_bytes -= r->hbytes;
			continue;
		}
		if (w != r->pos)
			memmove(b->data.data + w, b->data.data + r->pos, end - r->pos);
		if (ws != r->src)
			memmove(b->src.data + ws, b->src.data + r->src, slen);
		row nr = *r;
		nr.pos = w;
		nr.src = ws;
		w += end - r->pos;
		ws += slen;
		b->rows[kept++] = nr;
	}
	b->nrows = kept;
	b->data.len = w;
	b->src.len = ws;
	/* dead letters */
	kept = 0;
	for (int i = 0; i < b->ndlq; i++) {
		cons_dlq *d = &b->dlq[i];
		if (in_set(d->partition, parts, n)) {
			b->dlq_bytes -= d->value_len + d->key_len + DLQ_OVERHEAD;
			b->ninvalid -= !d->conflict;
			dlq_free(d);
			continue;
		}
		b->dlq[kept++] = *d;
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
	return b->nrows + b->ninvalid;
}

const uint8_t *
cons_batch_copy_data(const cons_batch *b, size_t *len)
{
	*len = b->data.len;
	return (const uint8_t *)b->data.data;
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
