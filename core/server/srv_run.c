/* srv_run.c - in-memory runs. The table form mirrors the engine's result
 * layout (arrays per column, per-hop values n * width; only the run's model's
 * columns are allocated) with an open-addressing index on wallet bytes; it
 * serves lookups for as long as the engine result of a restarted server is
 * not rebuilt. Sized for 10M wallets. */
#include "srv_run.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"

typedef struct srv_table {
	uint32_t n, cap;
	core_model model;
	unsigned width; /* per-hop values a row: hop c_0..c_K (K + 1), flow K each side */
	char *chars;    /* wallet ids back to back */
	size_t chars_len, chars_cap;
	uint64_t *off; /* n + 1 offsets into chars */
	double *scores;
	uint32_t *in_deg, *out_deg;
	uint8_t *illicit;
	uint32_t *exposures, *counts;                  /* hop_exposure/v1 only */
	double *recv_exp, *sent_exp, *received, *sent; /* flow_exposure/v1 only */
	uint32_t *slots;                               /* row + 1, 0 = empty; mask + 1 entries */
	size_t mask;
} srv_table;

struct srv_run {
	atomic_uint refs;
	srv_summary sum; /* strings owned, in strs */
	char *strs;
	core_config cfg;
	core_run_result *res; /* owned reference, or NULL */
	srv_table t;
};

static const char *const STATUS_NAMES[] = {"running", "completed", "failed"};

const char *
srv_run_status_name(srv_run_status s)
{
	return (unsigned)s < 3 ? STATUS_NAMES[s] : "unknown";
}

int
srv_run_status_parse(const char *s, srv_run_status *out)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(s, STATUS_NAMES[i]) == 0) {
			*out = (srv_run_status)i;
			return 0;
		}
	}
	return -1;
}

/* Copies sum into r->sum with its strings in one block. */
static int
summary_copy(srv_run *r, const srv_summary *sum)
{
	const char *src[5] = {sum->model, sum->config_json, sum->tx_source, sum->labels_json,
	                      sum->error};
	const char **dst[5] = {&r->sum.model, &r->sum.config_json, &r->sum.tx_source,
	                       &r->sum.labels_json, &r->sum.error};
	size_t total = 0, off = 0;

	r->sum = *sum;
	for (int i = 0; i < 5; i++)
		total += (src[i] != NULL ? strlen(src[i]) : 0) + 1;
	if ((r->strs = malloc(total)) == NULL)
		return AMLRISK_ENOMEM;
	for (int i = 0; i < 5; i++) {
		size_t len = src[i] != NULL ? strlen(src[i]) : 0;
		memcpy(r->strs + off, src[i] != NULL ? src[i] : "", len + 1);
		*dst[i] = r->strs + off;
		off += len + 1;
	}
	return AMLRISK_OK;
}

static srv_run *
run_alloc(const srv_summary *sum)
{
	srv_run *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	atomic_init(&r->refs, 1);
	if (summary_copy(r, sum) != AMLRISK_OK) {
		free(r);
		return NULL;
	}
	return r;
}

int
srv_run_from_result(srv_run **out, const srv_summary *sum, core_run_result *res)
{
	srv_run *r = run_alloc(sum);

	if (r == NULL)
		return AMLRISK_ENOMEM;
	r->res = core_run_result_ref(res);
	r->cfg = *core_run_result_config(res);
	*out = r;
	return AMLRISK_OK;
}

static void
table_free(srv_table *t)
{
	free(t->chars);
	free(t->off);
	free(t->scores);
	free(t->exposures);
	free(t->in_deg);
	free(t->out_deg);
	free(t->counts);
	free(t->recv_exp);
	free(t->sent_exp);
	free(t->received);
	free(t->sent);
	free(t->illicit);
	free(t->slots);
}

/* Grows the per-row columns of the table's model to cap rows. */
static int
table_grow(srv_table *t, uint32_t cap)
{
	void *p;

#define GROW(field, per_row)                                                                       \
	do {                                                                                       \
		if ((p = realloc(t->field, ((size_t)(per_row)) * sizeof(*t->field))) == NULL)      \
			return AMLRISK_ENOMEM;                                                     \
		t->field = p;                                                                      \
	} while (0)
	GROW(off, (size_t)cap + 1);
	GROW(scores, cap);
	GROW(in_deg, cap);
	GROW(out_deg, cap);
	GROW(illicit, cap);
	if (t->model == CORE_MODEL_FLOW) {
		GROW(recv_exp, cap);
		GROW(sent_exp, cap);
		GROW(received, (size_t)cap * t->width);
		GROW(sent, (size_t)cap * t->width);
	} else {
		GROW(exposures, cap);
		GROW(counts, (size_t)cap * t->width);
	}
#undef GROW
	t->cap = cap;
	return AMLRISK_OK;
}

int
srv_run_table_create(srv_run **out, const srv_summary *sum, const core_config *cfg,
                     uint64_t rows_hint)
{
	srv_run *r = run_alloc(sum);
	uint32_t cap = rows_hint > 0 && rows_hint < CORE_WALLETS_MAX ? (uint32_t)rows_hint : 1024;

	if (r == NULL)
		return AMLRISK_ENOMEM;
	r->cfg = *cfg;
	r->t.model = cfg->model;
	r->t.width = cfg->model == CORE_MODEL_FLOW ? cfg->hops : cfg->hops + 1;
	if (table_grow(&r->t, cap) != AMLRISK_OK) {
		srv_run_unref(r);
		return AMLRISK_ENOMEM;
	}
	r->t.off[0] = 0;
	*out = r;
	return AMLRISK_OK;
}

int
srv_run_table_add(srv_run *r, const core_wallet_score *ws)
{
	srv_table *t = &r->t;
	uint32_t i = t->n;
	size_t len = ws->wallet_len;

	if (len == 0 || len > CORE_WALLET_LEN_MAX || ws->model != t->model ||
	    ws->hops != r->cfg.hops ||
	    (t->model == CORE_MODEL_FLOW ? ws->received == NULL || ws->sent == NULL
	                                 : ws->counts == NULL))
		return AMLRISK_EINVAL;
	if (t->n == CORE_WALLETS_MAX)
		return AMLRISK_ETOOBIG;
	if (t->n == t->cap) {
		uint64_t cap = (uint64_t)t->cap * 2;
		if (table_grow(t, cap > CORE_WALLETS_MAX ? CORE_WALLETS_MAX : (uint32_t)cap) != 0)
			return AMLRISK_ENOMEM;
	}
	if (t->chars_cap - t->chars_len < len) {
		size_t cap = t->chars_cap != 0 ? t->chars_cap : 65536;
		char *p;
		while (cap - t->chars_len < len)
			cap *= 2;
		if ((p = realloc(t->chars, cap)) == NULL)
			return AMLRISK_ENOMEM;
		t->chars = p;
		t->chars_cap = cap;
	}
	memcpy(t->chars + t->chars_len, ws->wallet, len);
	t->chars_len += len;
	t->off[i + 1] = t->chars_len;
	t->scores[i] = ws->risk_score;
	t->in_deg[i] = ws->in_degree;
	t->out_deg[i] = ws->out_degree;
	t->illicit[i] = ws->is_illicit;
	if (t->model == CORE_MODEL_FLOW) {
		t->recv_exp[i] = ws->received_exposure;
		t->sent_exp[i] = ws->sent_exposure;
		memcpy(t->received + (size_t)i * t->width, ws->received,
		       t->width * sizeof(*ws->received));
		memcpy(t->sent + (size_t)i * t->width, ws->sent, t->width * sizeof(*ws->sent));
	} else {
		t->exposures[i] = ws->exposures;
		memcpy(t->counts + (size_t)i * t->width, ws->counts,
		       t->width * sizeof(*ws->counts));
	}
	t->n++;
	return AMLRISK_OK;
}

static const char *
table_wallet(const srv_table *t, uint32_t i, size_t *len)
{
	*len = (size_t)(t->off[i + 1] - t->off[i]);
	return t->chars + t->off[i];
}

/* Bytewise order of two ids, shorter first on a shared prefix. */
static int
wallet_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Finds wallet's slot: the slot holding it, or the empty one it would take. */
static size_t
table_probe(const srv_table *t, const char *wallet, size_t len)
{
	size_t i = (size_t)core_fnv1a64(wallet, len) & t->mask;

	for (;; i = (i + 1) & t->mask) {
		uint32_t row = t->slots[i];
		size_t wl;
		const char *w;
		if (row == 0)
			return i;
		w = table_wallet(t, row - 1, &wl);
		if (wl == len && memcmp(w, wallet, len) == 0)
			return i;
	}
}

int
srv_run_table_finish(srv_run *r)
{
	srv_table *t = &r->t;
	size_t slots = 16;

	for (uint32_t i = 1; i < t->n; i++) {
		size_t al, bl;
		const char *a = table_wallet(t, i - 1, &al), *b = table_wallet(t, i, &bl);
		if (t->scores[i - 1] < t->scores[i] ||
		    (t->scores[i - 1] == t->scores[i] && wallet_cmp(a, al, b, bl) >= 0))
			return AMLRISK_EPROTO;
	}
	while (slots < (size_t)t->n * 2)
		slots *= 2;
	if ((t->slots = calloc(slots, sizeof(*t->slots))) == NULL)
		return AMLRISK_ENOMEM;
	t->mask = slots - 1;
	for (uint32_t i = 0; i < t->n; i++) {
		size_t len;
		const char *w = table_wallet(t, i, &len);
		size_t s = table_probe(t, w, len);
		if (t->slots[s] != 0)
			return AMLRISK_EPROTO;
		t->slots[s] = i + 1;
	}
	return AMLRISK_OK;
}

srv_run *
srv_run_ref(srv_run *r)
{
	if (r != NULL)
		atomic_fetch_add(&r->refs, 1);
	return r;
}

void
srv_run_unref(srv_run *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	core_run_result_unref(r->res);
	table_free(&r->t);
	free(r->strs);
	free(r);
}

const srv_summary *
srv_run_summary(const srv_run *r)
{
	return &r->sum;
}

const core_config *
srv_run_config(const srv_run *r)
{
	return &r->cfg;
}

core_run_result *
srv_run_result(const srv_run *r)
{
	return r->res;
}

uint32_t
srv_run_count(const srv_run *r)
{
	return r->res != NULL ? core_run_result_count(r->res) : r->t.n;
}

static void
table_row(const srv_table *t, const core_config *cfg, uint32_t i, core_wallet_score *out)
{
	memset(out, 0, sizeof(*out));
	out->id = i;
	out->wallet = table_wallet(t, i, &out->wallet_len);
	out->risk_score = t->scores[i];
	out->in_degree = t->in_deg[i];
	out->out_degree = t->out_deg[i];
	out->is_illicit = t->illicit[i] != 0;
	out->model = t->model;
	out->hops = cfg->hops;
	if (t->model == CORE_MODEL_FLOW) {
		out->received_exposure = t->recv_exp[i];
		out->sent_exposure = t->sent_exp[i];
		out->received = t->received + (size_t)i * t->width;
		out->sent = t->sent + (size_t)i * t->width;
	} else {
		out->exposures = t->exposures[i];
		out->counts = t->counts + (size_t)i * t->width;
	}
}

int
srv_run_find(const srv_run *r, const char *wallet, size_t len, core_wallet_score *out)
{
	size_t s;

	if (r->res != NULL)
		return core_run_result_find(r->res, wallet, len, out);
	if (r->t.slots == NULL || len == 0)
		return AMLRISK_ENOTFOUND;
	s = table_probe(&r->t, wallet, len);
	if (r->t.slots[s] == 0)
		return AMLRISK_ENOTFOUND;
	table_row(&r->t, &r->cfg, r->t.slots[s] - 1, out);
	return AMLRISK_OK;
}

void
srv_run_at(const srv_run *r, uint32_t rank, core_wallet_score *out)
{
	if (r->res != NULL)
		core_run_result_get(r->res, core_run_result_order(r->res)[rank], out);
	else
		table_row(&r->t, &r->cfg, rank, out);
}

int
srv_run_rank(const srv_run *r, const char *wallet, size_t len, uint32_t *rank)
{
	core_wallet_score ws;

	if (srv_run_find(r, wallet, len, &ws) != AMLRISK_OK)
		return AMLRISK_ENOTFOUND;
	/* a table row's id is its position; an engine row's id is the wallet's */
	*rank = r->res != NULL ? core_run_result_rank(r->res, ws.id) : ws.id;
	return AMLRISK_OK;
}
