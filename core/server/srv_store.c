/* srv_store.c - run rows into PostgreSQL, each model into its own columns.
 * Rows go as COPY in ~1 MiB chunks: hop rows as text (scores as %.17g so they
 * parse back to the same double), flow rows binary (their doubles as is); the run row is inserted
 * as running first, so a crash mid-store leaves evidence that start-up turns into "failed". */
#include "srv_store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_err.h"
#include "amlrisk_fmt.h"
#include "srv_copy.h"
#include "srv_db.h"
#include "srv_time.h"

#define CHUNK          ((size_t)1 << 20)
#define HOP_PREFIX_MAX 96

int
srv_store_transition(PGconn *c, srv_summary *sum, srv_run_status to, const char *error,
                     int *changed, char *err, size_t errlen)
{
	static const char *INSERT_SQL =
	        "INSERT INTO scoring_runs (status, model, config_json, tx_source, labels, "
	        "watermark,"
	        " transaction_count, wallet_count, illicit_count, load_ms, score_ms)"
	        " VALUES ('running', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	        " RETURNING id, (extract(epoch FROM created_at) * 1000000)::bigint";
	static const char *COMPLETE_SQL =
	        "UPDATE scoring_runs SET status = 'completed', completed_at = clock_timestamp(),"
	        " store_ms = $2 WHERE id = $1 AND status = 'running'"
	        " RETURNING (extract(epoch FROM completed_at) * 1000000)::bigint";
	static const char *FAIL_SQL =
	        "UPDATE scoring_runs SET status = 'failed', completed_at = clock_timestamp(), "
	        "error = $2"
	        " WHERE ($1::bigint = 0 OR id = $1::bigint) AND status = 'running' RETURNING id";
	char v[10][32];
	const char *p[10];
	PGresult *res = NULL;
	int rv;

	switch (to) {
	case SRV_RUN_RUNNING:
		p[0] = sum->model;
		p[1] = sum->config_json;
		p[2] = sum->tx_source;
		p[3] = sum->labels_json != NULL && *sum->labels_json != '\0' ? sum->labels_json
		                                                             : "[]";
		snprintf(v[4], sizeof(v[4]), "%lld", (long long)sum->watermark);
		snprintf(v[5], sizeof(v[5]), "%llu", (unsigned long long)sum->transactions);
		snprintf(v[6], sizeof(v[6]), "%llu", (unsigned long long)sum->wallets);
		snprintf(v[7], sizeof(v[7]), "%llu", (unsigned long long)sum->illicit);
		snprintf(v[8], sizeof(v[8]), "%.17g", sum->load_s * 1000.0);
		snprintf(v[9], sizeof(v[9]), "%.17g", sum->score_s * 1000.0);
		for (int i = 4; i < 10; i++)
			p[i] = v[i];
		if ((rv = srv_db_exec(c, INSERT_SQL, 10, p, PGRES_TUPLES_OK, &res, err, errlen)) !=
		    0)
			return rv;
		sum->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		sum->created_us = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		break;
	case SRV_RUN_COMPLETED:
		snprintf(v[0], sizeof(v[0]), "%lld", (long long)sum->id);
		snprintf(v[1], sizeof(v[1]), "%.17g", sum->store_s * 1000.0);
		p[0] = v[0];
		p[1] = v[1];
		if ((rv = srv_db_exec(c, COMPLETE_SQL, 2, p, PGRES_TUPLES_OK, &res, err, errlen)) !=
		    0)
			return rv;
		if (PQntuples(res) != 1) {
			snprintf(err, errlen, "run %lld: no longer running", (long long)sum->id);
			PQclear(res);
			return AMLRISK_ESTATE;
		}
		sum->completed_us = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		break;
	case SRV_RUN_FAILED:
		snprintf(v[0], sizeof(v[0]), "%lld", (long long)sum->id);
		p[0] = v[0];
		p[1] = error != NULL ? error : "failed";
		if ((rv = srv_db_exec(c, FAIL_SQL, 2, p, PGRES_TUPLES_OK, &res, err, errlen)) != 0)
			return rv;
		if (changed != NULL)
			*changed = PQntuples(res);
		break;
	default:
		return AMLRISK_EINVAL;
	}
	PQclear(res);
	sum->status = to;
	return AMLRISK_OK;
}

size_t
srv_store_exposures_json(char *buf, size_t buflen, const core_config *cfg, const uint32_t *counts)
{
	size_t off = 0;

	for (unsigned k = 0; k <= cfg->hops; k++) {
		char w[40];
		int n;
		amlrisk_fmt_double(w, sizeof(w), cfg->hop_weights[k]);
		n = snprintf(buf + off, buflen - off,
		             "%s{\"hop\":%u,\"weight\":%s,\"illicit_count\":%u}",
		             k == 0 ? "[" : ",", k, w, counts[k]);
		if (n < 0 || (size_t)n >= buflen - off)
			return 0;
		off += (size_t)n;
	}
	if (buflen - off < 2)
		return 0;
	buf[off++] = ']';
	buf[off] = '\0';
	return off;
}

/* Sends b's content as COPY data and empties it. */
static int
flush(PGconn *c, srv_copybuf *b, char *err, size_t errlen)
{
	if (b->failed) {
		snprintf(err, errlen, "store: out of memory");
		return AMLRISK_ENOMEM;
	}
	if (b->len > 0 && srv_db_copy_put(c, b->data, b->len, err, errlen) != 0)
		return AMLRISK_EDB;
	b->len = 0;
	return AMLRISK_OK;
}

/* The per-hop JSON pieces of a hop run's exposures_json, the same for every
 * row: formatted once. */
typedef struct hop_prefixes {
	char text[CORE_HOPS_MAX + 1][HOP_PREFIX_MAX];
	size_t len[CORE_HOPS_MAX + 1];
} hop_prefixes;

static void
hop_prefixes_init(hop_prefixes *h, const core_config *cfg)
{
	for (unsigned k = 0; cfg->model == CORE_MODEL_HOP && k <= cfg->hops; k++) {
		char w[40];
		amlrisk_fmt_double(w, sizeof(w), cfg->hop_weights[k]);
		h->len[k] = (size_t)snprintf(
		        h->text[k], sizeof(h->text[k]),
		        "%s{\"hop\":%u,\"weight\":%s,\"illicit_count\":", k == 0 ? "[" : ",", k, w);
	}
}

/* One hop row in COPY text: run id, wallet, risk_score, exposures,
 * exposures_json, in_degree, out_degree, is_illicit (COPY_HOP). */
static void
hop_row(srv_copybuf *b, const char *runid, size_t runid_len, const core_wallet_score *ws,
        const hop_prefixes *h)
{
	amlrisk_buf_add(b, runid, runid_len);
	amlrisk_buf_add(b, "\t", 1);
	srv_copybuf_add_text(b, ws->wallet, ws->wallet_len);
	amlrisk_buf_add(b, "\t", 1);
	srv_copybuf_add_f64(b, ws->risk_score);
	amlrisk_buf_add(b, "\t", 1);
	amlrisk_buf_add_u64(b, ws->exposures);
	amlrisk_buf_add(b, "\t", 1);
	for (unsigned k = 0; k <= ws->hops; k++) {
		amlrisk_buf_add(b, h->text[k], h->len[k]);
		amlrisk_buf_add_u64(b, ws->counts[k]);
		amlrisk_buf_add(b, "}", 1);
	}
	amlrisk_buf_add(b, "]\t", 2);
	amlrisk_buf_add_u64(b, ws->in_degree);
	amlrisk_buf_add(b, "\t", 1);
	amlrisk_buf_add_u64(b, ws->out_degree);
	amlrisk_buf_add(b, ws->is_illicit ? "\tt\n" : "\tf\n", 3);
}

/* One flow row in binary COPY (doubles go as their 8 bytes, so ~14 a row
 * cost no formatting here and no parsing in PostgreSQL): run id, wallet,
 * risk_score, received_exposure, sent_exposure, received_hops, sent_hops,
 * in_degree, out_degree, is_illicit (COPY_FLOW). */
static void
flow_row(srv_copybuf *b, int64_t run_id, const core_wallet_score *ws)
{
	srv_copybin_row(b, 10);
	srv_copybin_i64(b, run_id);
	srv_copybin_text(b, ws->wallet, ws->wallet_len);
	srv_copybin_f64(b, ws->risk_score);
	srv_copybin_f64(b, ws->received_exposure);
	srv_copybin_f64(b, ws->sent_exposure);
	srv_copybin_f64_array(b, ws->received, ws->hops);
	srv_copybin_f64_array(b, ws->sent, ws->hops);
	srv_copybin_i32(b, (int32_t)ws->in_degree);
	srv_copybin_i32(b, (int32_t)ws->out_degree);
	srv_copybin_bool(b, ws->is_illicit);
}

/* Whether shutdown asked the store to stop (err says so). */
static bool
cancelled(const atomic_bool *cancel, char *err, size_t errlen)
{
	if (cancel == NULL || !atomic_load(cancel))
		return false;
	snprintf(err, errlen, "store: cancelled: shutting down");
	return true;
}

/* Streams the rows into an open COPY FROM STDIN (text for a hop run, binary
 * for a flow run). */
static int
copy_rows(PGconn *c, const srv_summary *sum, const core_run_result *res, const atomic_bool *cancel,
          char *err, size_t errlen)
{
	const core_config *cfg = core_run_result_config(res);
	bool flow = cfg->model == CORE_MODEL_FLOW;
	hop_prefixes h;
	char runid[24];
	size_t runid_len;
	uint32_t n = core_run_result_count(res);
	srv_copybuf b;
	int rv = AMLRISK_OK;

	hop_prefixes_init(&h, cfg);
	runid_len = (size_t)snprintf(runid, sizeof(runid), "%lld", (long long)sum->id);
	amlrisk_buf_init(&b, 0);
	if (flow)
		srv_copybin_header(&b);
	for (uint32_t id = 0; id < n; id++) {
		core_wallet_score ws;
		core_run_result_get(res, id, &ws);
		if (flow)
			flow_row(&b, sum->id, &ws);
		else
			hop_row(&b, runid, runid_len, &ws, &h);
		if (b.len >= CHUNK || b.failed) {
			if ((rv = flush(c, &b, err, errlen)) != 0)
				goto out;
			if (cancelled(cancel, err, errlen)) {
				rv = AMLRISK_ECANCELED;
				goto out;
			}
		}
	}
	if (flow)
		srv_copybin_trailer(&b);
	rv = flush(c, &b, err, errlen);
out:
	amlrisk_buf_free(&b);
	return rv;
}

int
srv_store_rows(PGconn *c, srv_summary *sum, const core_run_result *res, const atomic_bool *cancel,
               const srv_fence *fence, char *err, size_t errlen)
{
	static const char *COPY_HOP = "COPY risk_scores (run_id, wallet, risk_score, exposures,"
	                              " exposures_json, in_degree, out_degree, is_illicit)"
	                              " FROM STDIN";
	static const char *COPY_FLOW =
	        "COPY risk_scores (run_id, wallet, risk_score, received_exposure, sent_exposure,"
	        " received_hops, sent_hops, in_degree, out_degree, is_illicit) FROM STDIN"
	        " (FORMAT binary)";
	bool flow = core_run_result_config(res)->model == CORE_MODEL_FLOW;
	double t0 = srv_mono_s();
	char end_err[128];
	int rv, copy_rv;

	if ((rv = srv_db_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		return rv;
	if ((rv = srv_db_exec(c, flow ? COPY_FLOW : COPY_HOP, 0, NULL, PGRES_COPY_IN, NULL, err,
	                      errlen)) != 0)
		goto out;
	copy_rv = copy_rows(c, sum, res, cancel, err, errlen);
	/* end the COPY either way: an error message makes the server abort it */
	if (copy_rv == AMLRISK_OK)
		copy_rv = srv_db_copy_end(c, NULL, err, errlen);
	else if (srv_db_ok(c))
		(void)srv_db_copy_end(c, "abandoned by amlrisk-core", end_err, sizeof(end_err));
	if ((rv = copy_rv) != 0)
		goto out;
	/* the server may still have been taking the rows in when shutdown came
	 * (the client's last chunk was sent long before): not committed yet, the
	 * run is abandoned like one stopped mid-COPY */
	if (cancelled(cancel, err, errlen)) {
		rv = AMLRISK_ECANCELED;
		goto out;
	}
	sum->store_s = srv_mono_s() - t0;
	/* the fence before the update says why clearly; after it (the row now
	 * locked, so a new writer's recovery waits on it) it closes the window */
	if ((rv = srv_leader_fence(fence, c, err, errlen)) != 0 ||
	    (rv = srv_store_transition(c, sum, SRV_RUN_COMPLETED, NULL, NULL, err, errlen)) != 0 ||
	    (rv = srv_leader_fence(fence, c, err, errlen)) != 0)
		goto out;
	if ((rv = srv_db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)) != 0) {
		/* the outcome is unknown when the connection died during COMMIT; a
		 * restart reads whatever the database kept */
		sum->status = SRV_RUN_RUNNING;
		goto out;
	}
out:
	srv_db_rollback(c);
	return rv;
}
