/* srv_runs.c - stored runs out of PostgreSQL, of either model. Small reads
 * are parameterised SELECTs in text form; the whole-run load is a binary COPY
 * in the index's order, so the in-memory table needs no sort. */
#include "srv_runs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "srv_db.h"

static int64_t
col_i64(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static double
col_f64(const PGresult *r, int row, int col)
{
	return strtod(PQgetvalue(r, row, col), NULL);
}

int
srv_runs_config(const char *model, const char *json, core_config *out, char *err, size_t errlen)
{
	core_model m;
	core_config base;

	if (core_model_parse(model, &m) != 0) {
		snprintf(err, errlen, "stored run: unknown model \"%.100s\"", model);
		return AMLRISK_EPROTO;
	}
	core_config_defaults_model(&base, m);
	return core_config_merge(out, &base, json, strlen(json), err, errlen);
}

/* The stored config (jsonb's rendering) in the canonical form RunScore
 * answers with; as stored when it does not parse. */
static const char *
canonical_config(srv_arena *a, const char *model, const char *stored)
{
	char buf[CORE_CONFIG_JSON_MAX], err[128];
	core_config cfg;

	if (srv_runs_config(model, stored, &cfg, err, sizeof(err)) != 0 ||
	    core_config_to_json(&cfg, buf, sizeof(buf), NULL) != 0)
		return srv_arena_strdup(a, stored);
	return srv_arena_strdup(a, buf);
}

int
srv_runs_summary_row(const PGresult *r, int row, int b, srv_arena *a, srv_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->id = col_i64(r, row, b);
	if (srv_run_status_parse(PQgetvalue(r, row, b + 1), &out->status) != 0)
		out->status = SRV_RUN_FAILED;
	out->created_us = col_i64(r, row, b + 2);
	out->completed_us = col_i64(r, row, b + 3);
	out->model = srv_arena_strdup(a, PQgetvalue(r, row, b + 4));
	out->config_json =
	        canonical_config(a, PQgetvalue(r, row, b + 4), PQgetvalue(r, row, b + 5));
	out->tx_source = srv_arena_strdup(a, PQgetvalue(r, row, b + 6));
	out->watermark = col_i64(r, row, b + 7);
	out->transactions = (uint64_t)col_i64(r, row, b + 8);
	out->wallets = (uint64_t)col_i64(r, row, b + 9);
	out->illicit = (uint64_t)col_i64(r, row, b + 10);
	out->load_s = col_f64(r, row, b + 11) / 1000.0;
	out->score_s = col_f64(r, row, b + 12) / 1000.0;
	out->store_s = col_f64(r, row, b + 13) / 1000.0;
	out->error = srv_arena_strdup(a, PQgetvalue(r, row, b + 14));
	out->pinned = PQgetvalue(r, row, b + 15)[0] == 't';
	out->labels_json = "";
	return srv_arena_failed(a) ? AMLRISK_ENOMEM : AMLRISK_OK;
}

/* Runs a query returning at most one summary row. */
static int
summary_one(PGconn *c, const char *sql, int n, const char *const *p, srv_arena *a, srv_summary *out,
            char *err, size_t errlen)
{
	PGresult *r = NULL;
	int rv;

	if ((rv = srv_db_exec(c, sql, n, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	if (PQntuples(r) == 0)
		rv = AMLRISK_ENOTFOUND;
	else
		rv = srv_runs_summary_row(r, 0, 0, a, out);
	PQclear(r);
	return rv;
}

int
srv_runs_get(PGconn *c, int64_t id, srv_arena *a, srv_summary *out, char *err, size_t errlen)
{
	char v[24];
	const char *p[1] = {v};
	int rv;

	snprintf(v, sizeof(v), "%lld", (long long)id);
	rv = summary_one(c, "SELECT " SRV_RUNS_SUMMARY_SQL " FROM scoring_runs WHERE id = $1", 1, p,
	                 a, out, err, errlen);
	if (rv == AMLRISK_ENOTFOUND)
		snprintf(err, errlen, "run %lld not found", (long long)id);
	return rv;
}

int
srv_runs_latest(PGconn *c, srv_arena *a, srv_summary *out, char *err, size_t errlen)
{
	int rv = summary_one(c,
	                     "SELECT " SRV_RUNS_SUMMARY_SQL
	                     " FROM scoring_runs WHERE status = 'completed'"
	                     " ORDER BY id DESC LIMIT 1",
	                     0, NULL, a, out, err, errlen);

	if (rv == AMLRISK_ENOTFOUND)
		snprintf(err, errlen, "no completed run");
	return rv;
}

int
srv_runs_list(PGconn *c, int64_t before, uint32_t limit, srv_arena *a, srv_summary **out, size_t *n,
              int64_t *next, char *err, size_t errlen)
{
	char v[2][24];
	const char *p[2] = {v[0], v[1]};
	PGresult *r = NULL;
	srv_summary *s;
	int rv, rows;

	snprintf(v[0], sizeof(v[0]), "%lld", (long long)before);
	snprintf(v[1], sizeof(v[1]), "%u", limit + 1); /* one more: is there a next page? */
	if ((rv = srv_db_exec(c,
	                      "SELECT " SRV_RUNS_SUMMARY_SQL " FROM scoring_runs"
	                      " WHERE $1::bigint <= 0 OR id < $1::bigint ORDER BY id DESC LIMIT $2",
	                      2, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	rows = PQntuples(r);
	*next = 0;
	if ((uint32_t)rows > limit) {
		rows = (int)limit;
		*next = col_i64(r, rows - 1, 0);
	}
	if ((s = srv_arena_calloc(a, (size_t)rows + 1, sizeof(*s))) == NULL)
		rv = AMLRISK_ENOMEM;
	for (int i = 0; rv == AMLRISK_OK && i < rows; i++)
		rv = srv_runs_summary_row(r, i, 0, a, &s[i]);
	PQclear(r);
	if (rv != AMLRISK_OK) {
		snprintf(err, errlen, "list runs: out of memory");
		return rv;
	}
	*out = s;
	*n = (size_t)rows;
	return AMLRISK_OK;
}

int
srv_runs_labels(PGconn *c, int64_t id, char **json, char *err, size_t errlen)
{
	char v[24];
	const char *p[1] = {v};
	PGresult *r = NULL;
	int rv;

	snprintf(v, sizeof(v), "%lld", (long long)id);
	if ((rv = srv_db_exec(c, "SELECT labels::text FROM scoring_runs WHERE id = $1", 1, p,
	                      PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	if (PQntuples(r) == 0) {
		snprintf(err, errlen, "run %lld not found", (long long)id);
		rv = AMLRISK_ENOTFOUND;
	} else if ((*json = strdup(PQgetvalue(r, 0, 0))) == NULL) {
		rv = AMLRISK_ENOMEM;
	}
	PQclear(r);
	return rv;
}

/* ---- exposures_json and float8[] text ---------------------------------- */

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A JSON number at p into *v; NULL when there is none. */
static const char *
number(const char *p, const char *end, double *v)
{
	char tmp[48], *e;
	size_t n = 0;

	while (p + n < end && n < sizeof(tmp) - 1 && strchr("+-0123456789.eE", p[n]) != NULL &&
	       p[n] != '\0')
		n++;
	if (n == 0 || n == sizeof(tmp) - 1)
		return NULL;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	*v = strtod(tmp, &e);
	return *e == '\0' && isfinite(*v) ? p + n : NULL;
}

/* Parses one list item at p (the k-th, k < the caller's max) into arg;
 * returns where it ends, or NULL when it is malformed. */
typedef const char *(*list_item_fn)(const char *p, const char *end, unsigned k, void *arg);

/* A whole text of len bytes that is open, items separated by commas, close
 * (whitespace allowed around each): at most max items, each read by item;
 * *n gets their count. 0 or AMLRISK_EPROTO. */
static int
list_parse(const char *text, size_t len, char open, char close, unsigned max, list_item_fn item,
           void *arg, unsigned *n)
{
	const char *p = skip_ws(text, text + len), *end = text + len;
	unsigned k = 0;

	if (p == end || *p++ != open)
		return AMLRISK_EPROTO;
	p = skip_ws(p, end);
	if (p < end && *p == close) {
		p++;
	} else {
		for (;;) {
			if (k == max || (p = item(skip_ws(p, end), end, k, arg)) == NULL)
				return AMLRISK_EPROTO;
			k++;
			p = skip_ws(p, end);
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			if (p == end || *p++ != close)
				return AMLRISK_EPROTO;
			break;
		}
	}
	if (skip_ws(p, end) != end)
		return AMLRISK_EPROTO;
	*n = k;
	return AMLRISK_OK;
}

typedef struct exposures_out {
	uint32_t *counts;
	double *weights;
} exposures_out;

/* One {"hop":k,"weight":w,"illicit_count":c} (keys in any order). */
static const char *
exposure_item(const char *p, const char *end, unsigned k, void *arg)
{
	exposures_out *o = arg;
	double hop = -1, weight = NAN, count = -1;

	if (p == end || *p++ != '{')
		return NULL;
	for (;;) {
		const char *key;
		size_t klen;
		double v;
		p = skip_ws(p, end);
		if (p == end || *p++ != '"')
			return NULL;
		key = p;
		while (p < end && *p != '"' && *p != '\\')
			p++;
		if (p == end || *p != '"')
			return NULL;
		klen = (size_t)(p++ - key);
		p = skip_ws(p, end);
		if (p == end || *p++ != ':')
			return NULL;
		if ((p = number(skip_ws(p, end), end, &v)) == NULL)
			return NULL;
		if (klen == 3 && memcmp(key, "hop", 3) == 0)
			hop = v;
		else if (klen == 6 && memcmp(key, "weight", 6) == 0)
			weight = v;
		else if (klen == 13 && memcmp(key, "illicit_count", 13) == 0)
			count = v;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p == end || *p++ != '}')
			return NULL;
		break;
	}
	if (hop != (double)k || isnan(weight) || count < 0 || count > UINT32_MAX ||
	    count != floor(count))
		return NULL;
	o->counts[k] = (uint32_t)count;
	o->weights[k] = weight;
	return p;
}

int
srv_exposures_parse(const char *json, size_t len, unsigned max, uint32_t *counts, double *weights,
                    unsigned *n)
{
	exposures_out o = {counts, weights};

	return list_parse(json, len, '[', ']', max, exposure_item, &o, n);
}

/* One number into ((double *)arg)[k]. */
static const char *
number_item(const char *p, const char *end, unsigned k, void *arg)
{
	return number(p, end, (double *)arg + k);
}

int
srv_f64_array_parse(const char *text, size_t len, unsigned max, double *out, unsigned *n)
{
	return list_parse(text, len, '{', '}', max, number_item, out, n);
}

/* ---- scores of stored runs --------------------------------------------- */

int
srv_runs_completed(PGconn *c, int64_t id, srv_arena *a, uint64_t *wallets, const char **model,
                   char *err, size_t errlen)
{
	char v[24];
	const char *p[1] = {v};
	PGresult *r = NULL;
	int rv;

	snprintf(v, sizeof(v), "%lld", (long long)id);
	if ((rv = srv_db_exec(c,
	                      "SELECT status, wallet_count, model FROM scoring_runs WHERE id = $1",
	                      1, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	if (PQntuples(r) == 0) {
		snprintf(err, errlen, "run %lld not found", (long long)id);
		rv = AMLRISK_ENOTFOUND;
	} else if (strcmp(PQgetvalue(r, 0, 0), "completed") != 0) {
		snprintf(err, errlen, "run %lld is %s: it has no scores", (long long)id,
		         PQgetvalue(r, 0, 0));
		rv = AMLRISK_ESTATE;
	} else {
		if (wallets != NULL)
			*wallets = (uint64_t)col_i64(r, 0, 1);
		if (model != NULL && (*model = srv_arena_strdup(a, PQgetvalue(r, 0, 2))) == NULL)
			rv = AMLRISK_ENOMEM;
	}
	PQclear(r);
	return rv;
}

/* The per-hop columns of row i of r (SRV_RUNS_SCORE_SQL) into out: a hop row's
 * counts and weights, or a flow row's exposures and R_k, S_k, in a. */
static int
score_hops(const PGresult *r, int i, int b, srv_arena *a, srv_score_row *out)
{
	unsigned n, ns;

	if (PQgetisnull(r, i, b + 3)) { /* flow_exposure/v1 */
		double *rec = srv_arena_calloc(a, CORE_FLOW_HOPS_MAX, sizeof(*rec));
		double *snt = srv_arena_calloc(a, CORE_FLOW_HOPS_MAX, sizeof(*snt));
		const char *rt = PQgetvalue(r, i, b + 9), *st = PQgetvalue(r, i, b + 10);
		if (rec == NULL || snt == NULL)
			return AMLRISK_ENOMEM;
		if (PQgetisnull(r, i, b + 7) || PQgetisnull(r, i, b + 8) ||
		    srv_f64_array_parse(rt, strlen(rt), CORE_FLOW_HOPS_MAX, rec, &n) != 0 ||
		    srv_f64_array_parse(st, strlen(st), CORE_FLOW_HOPS_MAX, snt, &ns) != 0 ||
		    n == 0 || ns != n)
			return AMLRISK_EPROTO;
		out->ws.model = CORE_MODEL_FLOW;
		out->ws.received_exposure = col_f64(r, i, b + 7);
		out->ws.sent_exposure = col_f64(r, i, b + 8);
		out->ws.received = rec;
		out->ws.sent = snt;
		out->ws.hops = n;
	} else {
		uint32_t *counts = srv_arena_calloc(a, CORE_HOPS_MAX + 1, sizeof(*counts));
		const char *json = PQgetvalue(r, i, b + 3);
		if (counts == NULL)
			return AMLRISK_ENOMEM;
		if (srv_exposures_parse(json, strlen(json), CORE_HOPS_MAX + 1, counts, out->weights,
		                        &n) != 0 ||
		    n == 0)
			return AMLRISK_EPROTO;
		out->ws.model = CORE_MODEL_HOP;
		out->ws.exposures = (uint32_t)col_i64(r, i, b + 2);
		out->ws.hops = n - 1;
		out->ws.counts = counts;
	}
	return AMLRISK_OK;
}

int
srv_runs_score_row(const PGresult *r, int i, int b, srv_arena *a, srv_score_row *out, char *err,
                   size_t errlen)
{
	int rv;

	memset(out, 0, sizeof(*out));
	out->ws.wallet_len = (size_t)PQgetlength(r, i, b);
	out->ws.wallet = srv_arena_strndup(a, PQgetvalue(r, i, b), out->ws.wallet_len);
	if (out->ws.wallet == NULL || (rv = score_hops(r, i, b, a, out)) == AMLRISK_ENOMEM) {
		snprintf(err, errlen, "scores: out of memory");
		return AMLRISK_ENOMEM;
	}
	if (rv != AMLRISK_OK) {
		snprintf(err, errlen, "scores: wallet %.200s: malformed per-hop columns",
		         out->ws.wallet);
		return rv;
	}
	out->ws.risk_score = col_f64(r, i, b + 1);
	out->ws.in_degree = (uint32_t)col_i64(r, i, b + 4);
	out->ws.out_degree = (uint32_t)col_i64(r, i, b + 5);
	out->ws.is_illicit = PQgetvalue(r, i, b + 6)[0] == 't';
	return AMLRISK_OK;
}

int
srv_runs_top(PGconn *c, int64_t id, uint32_t offset, uint32_t n, srv_arena *a, srv_score_row **rows,
             size_t *count, uint64_t *total, char *err, size_t errlen)
{
	char v[3][24];
	const char *p[3] = {v[0], v[1], v[2]};
	PGresult *r = NULL;
	srv_score_row *out;
	int rv;

	if ((rv = srv_runs_completed(c, id, a, total, NULL, err, errlen)) != 0)
		return rv;
	snprintf(v[0], sizeof(v[0]), "%lld", (long long)id);
	snprintf(v[1], sizeof(v[1]), "%u", n);
	snprintf(v[2], sizeof(v[2]), "%u", offset);
	if ((rv = srv_db_exec(c,
	                      "SELECT " SRV_RUNS_SCORE_SQL " FROM risk_scores WHERE run_id = $1"
	                      " ORDER BY risk_score DESC, wallet LIMIT $2 OFFSET $3",
	                      3, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	if ((out = srv_arena_calloc(a, (size_t)PQntuples(r) + 1, sizeof(*out))) == NULL) {
		snprintf(err, errlen, "scores: out of memory");
		rv = AMLRISK_ENOMEM;
	}
	for (int i = 0; rv == AMLRISK_OK && i < PQntuples(r); i++)
		rv = srv_runs_score_row(r, i, 0, a, &out[i], err, errlen);
	if (rv == AMLRISK_OK) {
		*rows = out;
		*count = (size_t)PQntuples(r);
	}
	PQclear(r);
	return rv;
}

int
srv_runs_wallet(PGconn *c, int64_t id, const char *wallet, srv_arena *a, srv_score_row *row,
                char *err, size_t errlen)
{
	char v[24];
	const char *p[2] = {v, wallet};
	PGresult *r = NULL;
	int rv;

	if ((rv = srv_runs_completed(c, id, a, NULL, NULL, err, errlen)) != 0)
		return rv;
	snprintf(v, sizeof(v), "%lld", (long long)id);
	if ((rv = srv_db_exec(c,
	                      "SELECT " SRV_RUNS_SCORE_SQL
	                      " FROM risk_scores WHERE run_id = $1 AND wallet = $2",
	                      2, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	if (PQntuples(r) == 0) {
		snprintf(err, errlen, "wallet %.200s not in run %lld", wallet, (long long)id);
		rv = AMLRISK_ENOTFOUND;
	} else {
		rv = srv_runs_score_row(r, 0, 0, a, row, err, errlen);
	}
	PQclear(r);
	return rv;
}

/* ---- the whole run into memory ----------------------------------------- */

typedef struct load_sink {
	srv_run *run;
	core_model model;
	unsigned hops;
	char *err;
	size_t errlen;
} load_sink;

/* The model's fields of a COPY row (from f[5] on, see load_row) into ws, with
 * its arrays in counts or received/sent. 0 or AMLRISK_EPROTO. */
static int
load_hops(const load_sink *s, const srv_copy_field *f, core_wallet_score *ws, uint32_t *counts,
          double *received, double *sent)
{
	double weights[CORE_HOPS_MAX + 1];
	unsigned n, ns;

	ws->model = s->model;
	ws->hops = s->hops;
	if (s->model == CORE_MODEL_FLOW) {
		if (f[5].len != 8 || f[6].len != 8 ||
		    srv_copy_f64_array(&f[7], CORE_FLOW_HOPS_MAX, received, &n) != 0 ||
		    srv_copy_f64_array(&f[8], CORE_FLOW_HOPS_MAX, sent, &ns) != 0 || n != s->hops ||
		    ns != s->hops)
			return AMLRISK_EPROTO;
		ws->received_exposure = srv_copy_f64(f[5].data);
		ws->sent_exposure = srv_copy_f64(f[6].data);
		ws->received = received;
		ws->sent = sent;
		return AMLRISK_OK;
	}
	if (f[5].len != 8 || f[6].len < 0 ||
	    srv_exposures_parse(f[6].data, (size_t)f[6].len, CORE_HOPS_MAX + 1, counts, weights,
	                        &n) != 0 ||
	    n != s->hops + 1)
		return AMLRISK_EPROTO;
	ws->exposures = (uint32_t)srv_copy_i64(f[5].data);
	ws->counts = counts;
	return AMLRISK_OK;
}

/* wallet text, risk_score float8, in int4, out int4, is_illicit bool, then
 * hop: exposures int8, exposures_json json; flow: received_exposure float8,
 * sent_exposure float8, received_hops float8[], sent_hops float8[] */
static int
load_row(void *arg, const srv_copy_field *f, int n)
{
	load_sink *s = arg;
	uint32_t counts[CORE_HOPS_MAX + 1];
	double received[CORE_FLOW_HOPS_MAX], sent[CORE_FLOW_HOPS_MAX];
	core_wallet_score ws = {0};
	int rv;

	if (n != (s->model == CORE_MODEL_FLOW ? 9 : 7) || f[0].len <= 0 || f[1].len != 8 ||
	    f[2].len != 4 || f[3].len != 4 || f[4].len != 1) {
		snprintf(s->err, s->errlen, "latest run: unexpected risk_scores row shape");
		return AMLRISK_EPROTO;
	}
	if (load_hops(s, f, &ws, counts, received, sent) != 0) {
		snprintf(s->err, s->errlen, "latest run: malformed per-hop columns");
		return AMLRISK_EPROTO;
	}
	ws.wallet = f[0].data;
	ws.wallet_len = (size_t)f[0].len;
	ws.risk_score = srv_copy_f64(f[1].data);
	ws.in_degree = (uint32_t)srv_copy_i32(f[2].data);
	ws.out_degree = (uint32_t)srv_copy_i32(f[3].data);
	ws.is_illicit = f[4].data[0] != 0;
	if ((rv = srv_run_table_add(s->run, &ws)) != AMLRISK_OK)
		snprintf(s->err, s->errlen, "latest run: %s", amlrisk_strerror(rv));
	return rv;
}

int
srv_runs_load(PGconn *c, const srv_summary *sum, const atomic_bool *cancel, srv_run **out,
              char *err, size_t errlen)
{
#define LOAD_SQL(cols)                                                                             \
	"COPY (SELECT wallet, risk_score, in_degree, out_degree, is_illicit, " cols                \
	" FROM risk_scores WHERE run_id = current_setting('amlrisk.run_id')::bigint"               \
	" ORDER BY risk_score DESC, wallet) TO STDOUT (FORMAT binary)"
	static const char *COPY_HOP = LOAD_SQL("exposures, exposures_json");
	static const char *COPY_FLOW =
	        LOAD_SQL("received_exposure, sent_exposure, received_hops, sent_hops");
#undef LOAD_SQL
	core_config cfg;
	load_sink s = {NULL, CORE_MODEL_HOP, 0, err, errlen};
	char v[24];
	const char *p[1] = {v};
	int rv;

	err[0] = '\0';
	if ((rv = srv_runs_config(sum->model, sum->config_json, &cfg, err, errlen)) != 0)
		return rv;
	if ((rv = srv_run_table_create(&s.run, sum, &cfg, sum->wallets)) != 0) {
		snprintf(err, errlen, "latest run: out of memory");
		return rv;
	}
	s.model = cfg.model;
	s.hops = cfg.hops;
	snprintf(v, sizeof(v), "%lld", (long long)sum->id);
	if ((rv = srv_db_exec(c, "BEGIN READ ONLY", 0, NULL, PGRES_COMMAND_OK, NULL, err,
	                      errlen)) ||
	    (rv = srv_db_exec(c, "SELECT set_config('amlrisk.run_id', $1, true)", 1, p,
	                      PGRES_TUPLES_OK, NULL, err, errlen)) ||
	    (rv = srv_db_copy_out(c, cfg.model == CORE_MODEL_FLOW ? COPY_FLOW : COPY_HOP, load_row,
	                          &s, cancel, err, errlen)) ||
	    (rv = srv_db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)))
		goto out;
	if (srv_run_count(s.run) != sum->wallets) {
		snprintf(err, errlen, "latest run %lld: %u rows stored, %llu expected",
		         (long long)sum->id, srv_run_count(s.run),
		         (unsigned long long)sum->wallets);
		rv = AMLRISK_EPROTO;
		goto out;
	}
	if ((rv = srv_run_table_finish(s.run)) != 0) {
		snprintf(err, errlen, "latest run %lld: rows out of order or repeated",
		         (long long)sum->id);
		goto out;
	}
	*out = s.run;
	s.run = NULL;
out:
	srv_db_rollback(c);
	srv_run_unref(s.run);
	return rv;
}
