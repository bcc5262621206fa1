/* core_test_util.c - shared helpers of the engine's tests (see the header).
 * Clarity over speed: inputs are at most a few thousand wallets. */
#include "core_test_util.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	assert_non_null(p);
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
tu_txs_add(tu_txs *t, const char *s, size_t slen, const char *r, size_t rlen, double amt)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->snd = realloc(t->snd, t->cap * sizeof *t->snd);
		t->rcv = realloc(t->rcv, t->cap * sizeof *t->rcv);
		t->slen = realloc(t->slen, t->cap * sizeof *t->slen);
		t->rlen = realloc(t->rlen, t->cap * sizeof *t->rlen);
		t->amount = realloc(t->amount, t->cap * sizeof *t->amount);
		assert_true(t->snd && t->rcv && t->slen && t->rlen && t->amount);
	}
	t->snd[t->n] = xstrndup(s, slen);
	t->rcv[t->n] = xstrndup(r, rlen);
	t->slen[t->n] = slen;
	t->rlen[t->n] = rlen;
	t->amount[t->n] = amt;
	t->n++;
}

void
tu_txs_free(tu_txs *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->snd[i]);
		free(t->rcv[i]);
	}
	free(t->snd);
	free(t->rcv);
	free(t->slen);
	free(t->rlen);
	free(t->amount);
	memset(t, 0, sizeof *t);
}

core_graph *
tu_graph(const tu_txs *t)
{
	core_graph_builder *b;
	core_graph *g;
	assert_int_equal(core_graph_builder_create(&b, t->n), AMLRISK_OK);
	for (size_t i = 0; i < t->n; i++)
		assert_int_equal(core_graph_builder_add(b, t->snd[i], t->slen[i], t->rcv[i],
		                                        t->rlen[i], t->amount[i]),
		                 AMLRISK_OK);
	assert_int_equal(core_graph_builder_finish(&g, b, 2), AMLRISK_OK);
	return g;
}

static uint32_t
ref_id(const core_graph *g, const char *s, size_t len)
{
	uint32_t id;
	if (core_graph_find(g, s, len, &id) != AMLRISK_OK)
		fail_msg("wallet %.*s is not in the graph", (int)len, s);
	return id;
}

uint32_t
tu_id(const core_graph *g, const char *w)
{
	return ref_id(g, w, strlen(w));
}

core_graph *
tu_graph_pairs(const char *const *pairs)
{
	tu_txs t = {0};
	for (size_t i = 0; pairs[i] != NULL; i++) {
		const char *gt = strchr(pairs[i], '>');
		assert_non_null(gt);
		tu_txs_add(&t, pairs[i], (size_t)(gt - pairs[i]), gt + 1, strlen(gt + 1), 1.0);
	}
	core_graph *g = tu_graph(&t);
	tu_txs_free(&t);
	return g;
}

core_run_result *
tu_run(core_graph *g, const core_config *c, const core_labels *l, unsigned threads)
{
	core_run_result *r = NULL;
	char err[256];
	if (core_score_run(&r, g, c, l, threads, err, sizeof err) != AMLRISK_OK)
		fail_msg("core_score_run: %s", err);
	return r;
}

core_labels *
tu_labels(const char *const *w)
{
	core_labels *l;
	assert_int_equal(core_labels_create(&l), AMLRISK_OK);
	for (size_t i = 0; w[i] != NULL; i++)
		assert_int_equal(core_labels_add(l, w[i], strlen(w[i])), AMLRISK_OK);
	return l;
}

core_wallet_score
tu_get(const core_run_result *r, const char *w)
{
	core_wallet_score s;
	assert_int_equal(core_run_result_find(r, w, strlen(w), &s), AMLRISK_OK);
	return s;
}

uint64_t
tu_rand(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return core_mix64(*s);
}

void
tu_txs_random(tu_txs *t, uint64_t *rng, uint32_t nw, size_t ntx)
{
	unsigned self_pct = (unsigned)(tu_rand(rng) % 20);
	for (size_t i = 0; i < ntx; i++) {
		char a[32], b[32];
		uint32_t u = (uint32_t)(tu_rand(rng) % nw), v = (uint32_t)(tu_rand(rng) % nw);
		if (tu_rand(rng) % 100 < self_pct)
			v = u;
		snprintf(a, sizeof a, "w%u", u);
		snprintf(b, sizeof b, "w%u", v);
		tu_txs_add(t, a, strlen(a), b, strlen(b), (double)(tu_rand(rng) % 1000) / 8.0);
		if (tu_rand(rng) % 10 == 0) /* a duplicate */
			tu_txs_add(t, a, strlen(a), b, strlen(b), 1.0);
	}
}

/* ------------------------------------------------------------ reference --- */

void
tu_ref_build(tu_ref *r, const tu_txs *t, const core_graph *g)
{
	uint32_t n = core_graph_wallet_count(g);
	memset(r, 0, sizeof *r);
	r->n = n;
	r->adj = calloc((size_t)n * n + 1, 1);
	r->out = calloc(n + 1, sizeof *r->out);
	r->in = calloc(n + 1, sizeof *r->in);
	r->nout = calloc(n + 1, sizeof *r->nout);
	r->nin = calloc(n + 1, sizeof *r->nin);
	assert_true(r->adj && r->out && r->in && r->nout && r->nin);
	for (size_t i = 0; i < t->n; i++) {
		uint32_t u = ref_id(g, t->snd[i], t->slen[i]), v = ref_id(g, t->rcv[i], t->rlen[i]);
		if (u != v)
			r->adj[(size_t)u * n + v] = 1;
	}
	for (uint32_t u = 0; u < n; u++) {
		r->out[u] = xmalloc(n * sizeof(uint32_t));
		r->in[u] = xmalloc(n * sizeof(uint32_t));
	}
	for (uint32_t u = 0; u < n; u++)
		for (uint32_t v = 0; v < n; v++)
			if (r->adj[(size_t)u * n + v]) {
				r->out[u][r->nout[u]++] = v;
				r->in[v][r->nin[v]++] = u;
			}
}

void
tu_ref_free(tu_ref *r)
{
	for (uint32_t u = 0; u < r->n; u++) {
		free(r->out[u]);
		free(r->in[u]);
	}
	free(r->adj);
	free(r->out);
	free(r->in);
	free(r->nout);
	free(r->nin);
	memset(r, 0, sizeof *r);
}

uint32_t *
tu_ref_dist(const tu_ref *r, uint32_t v, core_direction dir)
{
	uint32_t *d = xmalloc(r->n * sizeof(uint32_t)), *q = xmalloc(r->n * sizeof(uint32_t));
	uint32_t head = 0, tail = 0;
	for (uint32_t i = 0; i < r->n; i++)
		d[i] = UINT32_MAX;
	d[v] = 0;
	q[tail++] = v;
	while (head < tail) {
		uint32_t u = q[head++];
		for (int side = 0; side < 2; side++) {
			bool use = side == 0 ? dir != CORE_DIR_IN : dir != CORE_DIR_OUT;
			uint32_t cnt = side == 0 ? r->nout[u] : r->nin[u];
			const uint32_t *nb = side == 0 ? r->out[u] : r->in[u];
			for (uint32_t e = 0; use && e < cnt; e++) {
				if (d[nb[e]] == UINT32_MAX) {
					d[nb[e]] = d[u] + 1;
					q[tail++] = nb[e];
				}
			}
		}
	}
	free(q);
	return d;
}

uint32_t *
tu_ref_exact(const tu_ref *r, const core_config *cfg, const uint8_t *illicit)
{
	unsigned w = cfg->hops + 1;
	uint32_t *x = calloc((size_t)r->n * w + 1, sizeof(uint32_t));
	assert_non_null(x);
	core_direction walks[2];
	int nwalks = 0;
	/* exposure "in" arrives along paths s -> v: walk from v against the arcs */
	if (cfg->direction == CORE_DIR_ANY)
		walks[nwalks++] = CORE_DIR_ANY;
	if (cfg->direction == CORE_DIR_IN || cfg->direction == CORE_DIR_BOTH)
		walks[nwalks++] = CORE_DIR_IN;
	if (cfg->direction == CORE_DIR_OUT || cfg->direction == CORE_DIR_BOTH)
		walks[nwalks++] = CORE_DIR_OUT;
	for (uint32_t v = 0; v < r->n; v++) {
		x[(size_t)v * w] = illicit[v];
		for (int i = 0; i < nwalks; i++) {
			uint32_t *d = tu_ref_dist(r, v, walks[i]);
			for (uint32_t s = 0; s < r->n; s++)
				if (illicit[s] && d[s] >= 1 && d[s] <= cfg->hops)
					x[(size_t)v * w + d[s]]++;
			free(d);
		}
	}
	return x;
}

double
tu_rel(double a, double b)
{
	double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
	return m == 0 ? 0 : fabs(a - b) / m;
}

void
tu_check_order(const core_run_result *r)
{
	const uint32_t *o = core_run_result_order(r);
	uint32_t n = core_run_result_count(r);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(core_run_result_rank(r, o[i]), i);
		if (i == 0)
			continue;
		core_wallet_score a, b;
		core_run_result_get(r, o[i - 1], &a);
		core_run_result_get(r, o[i], &b);
		assert_true(a.risk_score >= b.risk_score);
		if (a.risk_score == b.risk_score) {
			size_t m = a.wallet_len < b.wallet_len ? a.wallet_len : b.wallet_len;
			int c = memcmp(a.wallet, b.wallet, m);
			assert_true(c < 0 || (c == 0 && a.wallet_len < b.wallet_len));
		}
	}
}

/* -------------------------------------------------------- flow reference --- */

uint8_t *
tu_illicit(const core_graph *g, const core_config *c, const core_labels *l)
{
	uint32_t n = core_graph_wallet_count(g);
	uint8_t *ill = calloc(n + 1, 1);
	assert_non_null(ill);
	for (uint32_t v = 0; v < n; v++) {
		size_t len;
		const char *w = core_graph_wallet(g, v, &len);
		ill[v] = core_seeded_illicit(w, len, c->illicit_ratio, c->illicit_seed) ||
		         (c->use_labels && l != NULL && core_labels_has(l, w, len));
	}
	return ill;
}

void
tu_flow_ref_free(tu_flow_ref *f)
{
	free(f->a);
	free(f->recv);
	free(f->sent);
	free(f->r);
	free(f->s);
	free(f->in_deg);
	free(f->out_deg);
	free(f->edge);
	memset(f, 0, sizeof *f);
}

/* A(u, v) of t's transactions times scale, the edges, the degrees. */
static void
flow_ref_amounts(tu_flow_ref *f, const tu_txs *t, const core_graph *g, double scale)
{
	uint32_t n = f->n;
	for (size_t i = 0; i < t->n; i++) {
		uint32_t u = ref_id(g, t->snd[i], t->slen[i]), v = ref_id(g, t->rcv[i], t->rlen[i]);
		if (u == v)
			continue;
		f->a[(size_t)u * n + v] += t->amount[i] * scale;
		f->edge[(size_t)u * n + v] = 1;
		f->txs++;
	}
	for (uint32_t u = 0; u < n; u++) {
		for (uint32_t v = 0; v < n; v++) {
			double *x = &f->a[(size_t)u * n + v];
			if (*x > DBL_MAX * scale)
				*x = DBL_MAX * scale;
			f->recv[v] += *x;
			f->sent[u] += *x;
			f->total += *x;
			f->in_deg[v] += f->edge[(size_t)u * n + v];
			f->out_deg[u] += f->edge[(size_t)u * n + v];
		}
	}
}

void
tu_flow_ref_build(tu_flow_ref *f, const tu_txs *t, const core_graph *g, const core_config *c,
                  const uint8_t *ill, double scale)
{
	uint32_t n = core_graph_wallet_count(g);
	unsigned kk = c->hops;
	memset(f, 0, sizeof *f);
	f->n = n;
	f->K = kk;
	f->a = calloc((size_t)n * n + 1, sizeof *f->a);
	f->edge = calloc((size_t)n * n + 1, 1);
	f->recv = calloc(n + 1, sizeof *f->recv);
	f->sent = calloc(n + 1, sizeof *f->sent);
	f->r = calloc((size_t)n * kk + 1, sizeof *f->r);
	f->s = calloc((size_t)n * kk + 1, sizeof *f->s);
	f->in_deg = calloc(n + 1, sizeof *f->in_deg);
	f->out_deg = calloc(n + 1, sizeof *f->out_deg);
	double *rp = calloc(n + 1, sizeof *rp), *sp = calloc(n + 1, sizeof *sp);
	double *rc = calloc(n + 1, sizeof *rc), *sc = calloc(n + 1, sizeof *sc);
	assert_true(f->a && f->edge && f->recv && f->sent && f->r && f->s && f->in_deg &&
	            f->out_deg && rp && sp && rc && sc);
	flow_ref_amounts(f, t, g, scale);
	f->c = c->smoothing * (f->txs ? f->total / (double)f->txs : 0.0);
	for (uint32_t v = 0; v < n; v++)
		rp[v] = sp[v] = ill[v];
	for (unsigned k = 1; k <= kk; k++) {
		for (uint32_t v = 0; v < n; v++) {
			double sr = 0, ss = 0;
			for (uint32_t u = 0; u < n; u++) {
				sr += f->a[(size_t)u * n + v] * rp[u];
				ss += f->a[(size_t)v * n + u] * sp[u];
			}
			rc[v] = ill[v] ? 1 : f->recv[v] + f->c == 0 ? 0 : sr / (f->recv[v] + f->c);
			sc[v] = ill[v] ? 1 : f->sent[v] + f->c == 0 ? 0 : ss / (f->sent[v] + f->c);
			f->r[(size_t)v * kk + k - 1] = rc[v];
			f->s[(size_t)v * kk + k - 1] = sc[v];
		}
		memcpy(rp, rc, n * sizeof *rp);
		memcpy(sp, sc, n * sizeof *sp);
	}
	free(rp);
	free(sp);
	free(rc);
	free(sc);
}

double
tu_flow_ref_share(const tu_flow_ref *f, core_side side, uint32_t a, uint32_t b)
{
	double x = f->a[(size_t)a * f->n + b];
	double den = side == CORE_SIDE_RECEIVED ? f->recv[b] + f->c : f->sent[a] + f->c;
	return den > 0 ? x / den : 0.0;
}

/* -------------------------------------------------------------- vectors --- */

const char *
tu_vectors_dir(void)
{
	static char dir[4096];
	const char *fx = getenv("AMLRISK_FIXTURES");
	if (fx == NULL)
		fail_msg("AMLRISK_FIXTURES is not set (run the test through ctest)");
	snprintf(dir, sizeof dir, "%s/vectors", fx);
	return dir;
}

char *
tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

int
tu_csv_split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;
	while (n < max) {
		f[n++] = p;
		char *c = strchr(p, ',');
		if (c == NULL)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

/* The text of the JSON value of "key" in doc (an object or array value:
 * brackets matched, strings skipped); *len set. */
static const char *
json_member_text(const char *doc, const char *key, size_t *len)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *p = strstr(doc, pat);
	assert_non_null(p);
	p = strchr(p + strlen(pat), ':');
	assert_non_null(p);
	p++;
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	const char *s = p;
	int depth = 0;
	bool str = false;
	for (; *p != '\0'; p++) {
		if (str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				str = false;
			continue;
		}
		if (*p == '"')
			str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			break;
	}
	assert_int_equal(depth, 0);
	*len = (size_t)(p + 1 - s);
	return s;
}

static void
vec_path(char *path, size_t cap, const char *name, const char *ext)
{
	int n = snprintf(path, cap, "%s/%s.%s", tu_vectors_dir(), name, ext);
	assert_true(n > 0 && (size_t)n < cap);
}

void
tu_vector_load(tu_vector *v, const char *name)
{
	char path[4096], err[256];
	size_t len;
	memset(v, 0, sizeof *v);
	vec_path(path, sizeof path, name, "tx.csv");
	char *csv = tu_slurp(path, NULL);
	char *save = NULL, *line = strtok_r(csv, "\n", &save);
	assert_non_null(line);
	int si = -1, ri = -1, ai = -1;
	char *f[16];
	int nf = tu_csv_split(line, f, 16);
	for (int i = 0; i < nf; i++) {
		if (strcmp(f[i], "sender") == 0)
			si = i;
		if (strcmp(f[i], "receiver") == 0)
			ri = i;
		if (strcmp(f[i], "amount") == 0)
			ai = i;
	}
	assert_true(si >= 0 && ri >= 0 && ai >= 0);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		line[strcspn(line, "\r")] = '\0';
		if (*line == '\0')
			continue;
		assert_int_equal(tu_csv_split(line, f, 16), nf);
		tu_txs_add(&v->txs, f[si], strlen(f[si]), f[ri], strlen(f[ri]), atof(f[ai]));
	}
	free(csv);

	vec_path(path, sizeof path, name, "config.json");
	char *doc = tu_slurp(path, NULL);
	const char *cfg = json_member_text(doc, "config", &len);
	if (core_config_parse(&v->cfg, cfg, len, err, sizeof err) != AMLRISK_OK)
		fail_msg("%s: config: %s", name, err);
	const char *lab = json_member_text(doc, "labels", &len);
	json_error_t je;
	json_t *arr = json_loadb(lab, len, 0, &je);
	assert_true(json_is_array(arr));
	assert_int_equal(core_labels_create(&v->labels), AMLRISK_OK);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		assert_true(json_is_string(e));
		assert_int_equal(
		        core_labels_add(v->labels, json_string_value(e), json_string_length(e)),
		        AMLRISK_OK);
	}
	json_decref(arr);
	free(doc);

	vec_path(path, sizeof path, name, "expected.csv");
	char *exp = tu_slurp(path, NULL);
	save = NULL;
	line = strtok_r(exp, "\n", &save);
	assert_non_null(line);
	v->header = xstrndup(line, strcspn(line, "\r"));
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		line[strcspn(line, "\r")] = '\0';
		if (*line == '\0')
			continue;
		v->rows = realloc(v->rows, (v->nrows + 1) * sizeof *v->rows);
		assert_non_null(v->rows);
		v->rows[v->nrows++] = xstrndup(line, strlen(line));
	}
	free(exp);
}

void
tu_vector_free(tu_vector *v)
{
	tu_txs_free(&v->txs);
	core_labels_destroy(v->labels);
	for (size_t i = 0; i < v->nrows; i++)
		free(v->rows[i]);
	free(v->rows);
	free(v->header);
}

/* The expected header of a run's model and K. */
static void
vector_header(char *head, size_t cap, const core_config *c)
{
	int n;
	if (c->model == CORE_MODEL_FLOW) {
		n = snprintf(head, cap,
		             "wallet,risk_score,received_exposure,sent_exposure,"
		             "in_degree,out_degree,is_illicit");
		for (unsigned k = 1; k <= c->hops; k++)
			n += snprintf(head + n, cap - (size_t)n, ",r_%u", k);
		for (unsigned k = 1; k <= c->hops; k++)
			n += snprintf(head + n, cap - (size_t)n, ",s_%u", k);
		return;
	}
	n = snprintf(head, cap, "wallet,risk_score,exposures,in_degree,out_degree,is_illicit");
	for (unsigned k = 0; k <= c->hops; k++)
		n += snprintf(head + n, cap - (size_t)n, ",c_%u", k);
}

bool
tu_close(double got, double want)
{
	return fabs(got - want) <= 1e-12 || tu_rel(got, want) <= 1e-9;
}

/* Fails unless got is within the spec's tolerance of the field's value. */
static void
check_double(const char *what, size_t row, const char *wallet, double got, const char *field)
{
	double want = strtod(field, NULL);
	if (!tu_close(got, want))
		fail_msg("row %zu (%s): %s %.17g, expected %.17g", row, wallet, what, got, want);
}

void
tu_vector_check(const tu_vector *v, const core_run_result *r)
{
	const uint32_t *order = core_run_result_order(r);
	const core_config *c = core_run_result_config(r);
	unsigned hops = c->hops;
	bool flow = c->model == CORE_MODEL_FLOW;
	char head[1024];
	vector_header(head, sizeof head, c);
	assert_string_equal(head, v->header);
	assert_int_equal(core_run_result_count(r), v->nrows);
	for (size_t i = 0; i < v->nrows; i++) {
		char row[4096], *f[80];
		core_wallet_score s;
		snprintf(row, sizeof row, "%s", v->rows[i]);
		int nf = tu_csv_split(row, f, 80);
		assert_int_equal(nf, flow ? 7 + 2 * (int)hops : 6 + (int)hops + 1);
		core_run_result_get(r, order[i], &s);
		assert_string_equal(s.wallet, f[0]);
		assert_int_equal(s.model, c->model);
		assert_int_equal(s.hops, hops);
		check_double("risk_score", i, f[0], s.risk_score, f[1]);
		int deg = flow ? 4 : 3; /* the in_degree column */
		assert_int_equal(s.in_degree, strtoul(f[deg], NULL, 10));
		assert_int_equal(s.out_degree, strtoul(f[deg + 1], NULL, 10));
		assert_int_equal(s.is_illicit ? 1 : 0, strtoul(f[deg + 2], NULL, 10));
		if (!flow) {
			assert_int_equal(s.exposures, strtoul(f[2], NULL, 10));
			for (unsigned k = 0; k <= hops; k++)
				assert_int_equal(s.counts[k], strtoul(f[6 + k], NULL, 10));
			assert_null(s.received);
			continue;
		}
		assert_null(s.counts);
		assert_int_equal(s.exposures, 0);
		check_double("received_exposure", i, f[0], s.received_exposure, f[2]);
		check_double("sent_exposure", i, f[0], s.sent_exposure, f[3]);
		for (unsigned k = 0; k < hops; k++) {
			check_double("r_k", i, f[0], s.received[k], f[7 + k]);
			check_double("s_k", i, f[0], s.sent[k], f[7 + hops + k]);
		}
	}
}
