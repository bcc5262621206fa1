/* srv_load.c - graph and label loads. Rows arrive as binary COPY (no text
 * escapes, amounts as float8) and go straight into the builder; the snapshot
 * is REPEATABLE READ so max(seq) read first is the watermark of exactly the
 * rows streamed (transactions_append_lock() makes seq order commit order). */
#include "srv_load.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "amlrisk_err.h"
#include "srv_db.h"
#include "srv_time.h"

typedef struct tx_sink {
	core_graph_builder *b;
	char *err;
	size_t errlen;
} tx_sink;

/* One transactions row of the two COPYs below (sender text, receiver text,
 * amount float8, seq int8) into *tx, borrowing the row's bytes. */
static int
tx_decode(const srv_copy_field *f, int n, core_tx *tx, char *err, size_t errlen)
{
	if (n != 4 || f[0].len < 0 || f[1].len < 0 || f[2].len != 8 || f[3].len != 8) {
		snprintf(err, errlen, "load: unexpected transactions row shape");
		return AMLRISK_EPROTO;
	}
	tx->sender = f[0].data;
	tx->sender_len = (size_t)f[0].len;
	tx->receiver = f[1].data;
	tx->receiver_len = (size_t)f[1].len;
	tx->amount = srv_copy_f64(f[2].data);
	tx->timestamp_us = 0;
	tx->seq = (uint64_t)srv_copy_i64(f[3].data);
	return AMLRISK_OK;
}

static int
tx_row(void *arg, const srv_copy_field *f, int n)
{
	tx_sink *s = arg;
	core_tx tx;
	int rv;

	if ((rv = tx_decode(f, n, &tx, s->err, s->errlen)) != AMLRISK_OK)
		return rv;
	if ((rv = core_graph_builder_add_tx(s->b, &tx)) != AMLRISK_OK) {
		snprintf(s->err, s->errlen, "load: transaction seq %llu: %s",
		         (unsigned long long)tx.seq, amlrisk_strerror(rv));
		return rv;
	}
	return AMLRISK_OK;
}

int
srv_load_graph(PGconn *c, int64_t max_seq, unsigned threads, const atomic_bool *cancel,
               core_graph **out, srv_graph_info *info, char *err, size_t errlen)
{
	static const char *COPY_SQL =
	        "COPY (SELECT sender, receiver, amount::float8, seq FROM transactions"
	        " WHERE seq <= current_setting('amlrisk.max_seq')::bigint) TO STDOUT (FORMAT "
	        "binary)";
	double t0 = srv_mono_s();
	PGresult *res = NULL;
	core_graph_builder *b = NULL;
	core_graph *g = NULL;
	core_graph_stats st;
	char wm[24];
	const char *p[1] = {wm};
	int64_t watermark, rows;
	tx_sink sink;
	int rv;

	err[0] = '\0';
	if ((rv = srv_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
	                      PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		goto out;
	if ((rv = srv_db_exec(c, "SELECT coalesce(max(seq), 0), count(*) FROM transactions", 0,
	                      NULL, PGRES_TUPLES_OK, &res, err, errlen)) != 0)
		goto out;
	watermark = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	rows = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	res = NULL;
	if (max_seq >= 0 && max_seq < watermark)
		watermark = max_seq;
	snprintf(wm, sizeof(wm), "%lld", (long long)watermark);
	if ((rv = srv_db_exec(c, "SELECT set_config('amlrisk.max_seq', $1, true)", 1, p,
	                      PGRES_TUPLES_OK, NULL, err, errlen)) != 0)
		goto out;
	if ((rv = core_graph_builder_create(&b, (size_t)rows)) != 0) {
		snprintf(err, errlen, "load: graph builder: %s", amlrisk_strerror(rv));
		goto out;
	}
	sink = (tx_sink){b, err, errlen};
	if ((rv = srv_db_copy_out(c, COPY_SQL, tx_row, &sink, cancel, err, errlen)) != 0)
		goto out;
	if ((rv = srv_db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		goto out;
	rv = core_graph_builder_finish(&g, b, threads);
	b = NULL; /* consumed */
	if (rv != AMLRISK_OK) {
		snprintf(err, errlen, "load: building the graph: %s", amlrisk_strerror(rv));
		goto out;
	}
	core_graph_stats_get(g, &st);
	memset(info, 0, sizeof(*info));
	info->loaded = true;
	info->wallets = st.wallets;
	info->edges = st.edges;
	info->transactions = st.txs;
	info->watermark = watermark;
	info->loaded_at_us = srv_unix_us();
	info->load_s = srv_mono_s() - t0;
	*out = g;
out:
	PQclear(res);
	core_graph_builder_destroy(b);
	srv_db_rollback(c);
	return rv;
}

void
srv_txbatch_init(srv_txbatch *b)
{
	memset(b, 0, sizeof(*b));
	amlrisk_buf_init(&b->bytes, 0);
}

void
srv_txbatch_free(srv_txbatch *b)
{
	if (b == NULL)
		return;
	free(b->tx);
	amlrisk_buf_free(&b->bytes);
	srv_txbatch_init(b);
}

typedef struct batch_sink {
	srv_txbatch *b;
	char *err;
	size_t errlen;
} batch_sink;

/* Keeps a row with its wallet bytes copied into the batch; the pointers are
 * offsets into b->bytes until batch_resolve() (the buffer moves as it grows). */
static int
batch_row(void *arg, const srv_copy_field *f, int n)
{
	batch_sink *s = arg;
	srv_txbatch *b = s->b;
	core_tx tx;
	int rv;

	if ((rv = tx_decode(f, n, &tx, s->err, s->errlen)) != AMLRISK_OK)
		return rv;
	if (b->n == b->cap) {
		size_t cap = b->cap == 0 ? 1024 : b->cap * 2;
		core_tx *t = realloc(b->tx, cap * sizeof(*t));
		if (t == NULL) {
			snprintf(s->err, s->errlen, "follow: out of memory");
			return AMLRISK_ENOMEM;
		}
		b->tx = t;
		b->cap = cap;
	}
	b->tx[b->n] = tx;
	b->tx[b->n].sender = (const char *)(uintptr_t)b->bytes.len;
	amlrisk_buf_add(&b->bytes, tx.sender, tx.sender_len);
	b->tx[b->n].receiver = (const char *)(uintptr_t)b->bytes.len;
	amlrisk_buf_add(&b->bytes, tx.receiver, tx.receiver_len);
	if (b->bytes.failed) {
		snprintf(s->err, s->errlen, "follow: out of memory");
		return AMLRISK_ENOMEM;
	}
	b->n++;
	b->last_seq = (int64_t)tx.seq;
	return AMLRISK_OK;
}

static void
batch_resolve(srv_txbatch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		b->tx[i].sender = b->bytes.data + (uintptr_t)b->tx[i].sender;
		b->tx[i].receiver = b->bytes.data + (uintptr_t)b->tx[i].receiver;
	}
}

int
srv_load_after(PGconn *c, int64_t after, size_t max_rows, const atomic_bool *cancel, srv_txbatch *b,
               char *err, size_t errlen)
{
	static const char *COPY_SQL =
	        "COPY (SELECT sender, receiver, amount::float8, seq FROM transactions"
	        " WHERE seq > current_setting('amlrisk.after')::bigint ORDER BY seq"
	        " LIMIT current_setting('amlrisk.rows')::bigint) TO STDOUT (FORMAT binary)";
	char a[24], r[24];
	const char *p[2] = {a, r};
	batch_sink sink = {b, err, errlen};
	int rv;

	srv_txbatch_free(b);
	err[0] = '\0';
	snprintf(a, sizeof(a), "%lld", (long long)after);
	snprintf(r, sizeof(r), "%zu", max_rows);
	if ((rv = srv_db_exec(c, "BEGIN READ ONLY", 0, NULL, PGRES_COMMAND_OK, NULL, err,
	                      errlen)) != 0 ||
	    (rv = srv_db_exec(c,
	                      "SELECT set_config('amlrisk.after', $1, true),"
	                      " set_config('amlrisk.rows', $2, true)",
	                      2, p, PGRES_TUPLES_OK, NULL, err, errlen)) != 0 ||
	    (rv = srv_db_copy_out(c, COPY_SQL, batch_row, &sink, cancel, err, errlen)) != 0 ||
	    (rv = srv_db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)) != 0) {
		srv_db_rollback(c);
		srv_txbatch_free(b);
		return rv;
	}
	batch_resolve(b);
	return AMLRISK_OK;
}

typedef struct label_sink {
	core_labels *set;
	json_t *arr;
	size_t max;
	char *err;
	size_t errlen;
} label_sink;

static int
label_row(void *arg, const srv_copy_field *f, int n)
{
	label_sink *s = arg;
	json_t *v;
	int rv;

	if (n != 1 || f[0].len <= 0)
		return AMLRISK_EPROTO;
	if (core_labels_count(s->set) >= s->max) {
		snprintf(s->err, s->errlen,
		         "labels: more than %zu wallets labelled illicit (LABELS_MAX)", s->max);
		return AMLRISK_ETOOBIG;
	}
	if ((rv = core_labels_add(s->set, f[0].data, (size_t)f[0].len)) != 0) {
		snprintf(s->err, s->errlen, "labels: %s", amlrisk_strerror(rv));
		return rv;
	}
	if ((v = json_stringn(f[0].data, (size_t)f[0].len)) == NULL ||
	    json_array_append_new(s->arr, v) != 0) {
		snprintf(s->err, s->errlen, "labels: wallet id is not UTF-8, or out of memory");
		return AMLRISK_ENOMEM;
	}
	return AMLRISK_OK;
}

int
srv_load_labels(PGconn *c, size_t max, core_labels **out, char **json, char *err, size_t errlen)
{
	static const char *SQL =
	        "COPY (SELECT DISTINCT wallet FROM wallet_labels"
	        " WHERE label = 'illicit' ORDER BY wallet) TO STDOUT (FORMAT binary)";
	label_sink s = {NULL, NULL, max, err, errlen};
	char *text = NULL;
	int rv;

	err[0] = '\0';
	if ((rv = core_labels_create(&s.set)) != 0 || (s.arr = json_array()) == NULL) {
		rv = AMLRISK_ENOMEM;
		snprintf(err, errlen, "labels: out of memory");
		goto out;
	}
	if ((rv = srv_db_copy_out(c, SQL, label_row, &s, NULL, err, errlen)) != 0)
		goto out;
	if ((text = json_dumps(s.arr, JSON_COMPACT)) == NULL) {
		rv = AMLRISK_ENOMEM;
		snprintf(err, errlen, "labels: out of memory");
		goto out;
	}
	*out = s.set;
	*json = text;
	s.set = NULL;
out:
	core_labels_destroy(s.set);
	json_decref(s.arr);
	return rv;
}

int
srv_labels_from_json(const char *json, core_labels **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *arr = json_loads(json, 0, &jerr), *v;
	core_labels *set = NULL;
	size_t i;
	int rv = AMLRISK_OK;

	if (arr == NULL || !json_is_array(arr)) {
		snprintf(err, errlen, "stored labels: not a JSON array");
		rv = AMLRISK_EPROTO;
		goto out;
	}
	if ((rv = core_labels_create(&set)) != 0)
		goto out;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) ||
		    (rv = core_labels_add(set, json_string_value(v), json_string_length(v))) != 0) {
			snprintf(err, errlen, "stored labels: entry %zu is not a wallet id", i);
			rv = rv != 0 ? rv : AMLRISK_EPROTO;
			goto out;
		}
	}
	*out = set;
	set = NULL;
out:
	core_labels_destroy(set);
	json_decref(arr);
	return rv;
}
