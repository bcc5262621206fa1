/* sim_gen_test.c - the generator and its formats in-process: determinism to the
 * byte, the three formats decoding to the same transactions, the invariants of
 * every row, heavy-tailed activity, and the planted typologies' shapes checked
 * from the output and the ground truth alone. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "sim.h"
#include "sim_tutil.h"

static const sim_format formats[] = {SIM_FORMAT_PROTOBUF, SIM_FORMAT_JSONL, SIM_FORMAT_CSV};

static void
opts_small(sim_gen_opts *o)
{
	sim_gen_opts_default(o);
	o->wallets = 1000;
	o->transactions = 20000;
	o->seed = 7;
}

static void
test_same_seed_same_bytes(void **state)
{
	(void)state;
	sim_gen_opts o;
	opts_small(&o);
	for (size_t i = 0; i < 3; i++) {
		size_t n1, n2, n3;
		char *a = tu_generate(&o, formats[i], &n1);
		char *b = tu_generate(&o, formats[i], &n2);
		assert_true(n1 > 0);
		assert_int_equal(n1, n2);
		assert_memory_equal(a, b, n1);
		o.seed++;
		char *c = tu_generate(&o, formats[i], &n3);
		o.seed--;
		assert_true(n1 != n3 || memcmp(a, c, n1) != 0);
		free(a);
		free(b);
		free(c);
	}
	/* the truth too */
	char *t1 = tu_truth(&o), *t2 = tu_truth(&o);
	assert_string_equal(t1, t2);
	o.seed++;
	char *t3 = tu_truth(&o);
	assert_string_not_equal(t1, t3);
	free(t1);
	free(t2);
	free(t3);
}

static void
test_formats_decode_same(void **state)
{
	(void)state;
	sim_gen_opts o;
	opts_small(&o);
	size_t n;
	tu_tx *want = tu_gen_all(&o, &n);
	assert_int_equal(n, o.transactions);
	for (size_t i = 0; i < 3; i++) {
		size_t len, m;
		sim_format detected;
		char *buf = tu_generate(&o, formats[i], &len);
		tu_tx *got = tu_read(buf, len, SIM_FORMAT_AUTO, &detected, &m);
		assert_int_equal(detected, formats[i]);
		assert_int_equal(m, n);
		for (size_t j = 0; j < n; j++)
			tu_assert_tx_equal(&got[j], &want[j]);
		free(got);
		free(buf);
	}
	free(want);
}

static void
test_exact_text(void **state)
{
	(void)state;
	/* the exact shapes the offline scorer reads */
	sim_gen_opts o;
	sim_gen_opts_default(&o);
	size_t len;
	char *csv = tu_generate(&o, SIM_FORMAT_CSV, &len);
	assert_memory_equal(csv, "tx_id,sender,receiver,amount,timestamp,asset\nsim-42-0,w", 54);
	char *second = strchr(csv, '\n') + 1, *eol = strchr(second, '\n');
	*eol = '\0';
	/* sim-42-0,wNNN,wNNN,D.DDDDDD,YYYY-MM-DDTHH:MM:SS.ffffffZ,BTC */
	char *f[6], *save = NULL;
	int nf = 0;
	for (char *t = strtok_r(second, ",", &save); t && nf < 6; t = strtok_r(NULL, ",", &save))
		f[nf++] = t;
	assert_int_equal(nf, 6);
	assert_int_equal(strlen(f[1]), 4); /* 200 wallets: w000..w199 */
	assert_int_equal(strlen(strchr(f[3], '.') + 1), 6);
	assert_int_equal(strlen(f[4]), SIM_TIME_LEN);
	assert_true(f[4][10] == 'T' && f[4][19] == '.' && f[4][26] == 'Z');
	assert_string_equal(f[5], "BTC");
	free(csv);

	char *js = tu_generate(&o, SIM_FORMAT_JSONL, &len);
	const char *keys[] = {"{\"tx_id\":\"sim-42-0\",\"sender\":\"w", "\",\"receiver\":\"w",
	                      "\",\"amount\":\"", "\",\"timestamp_us\":1", ",\"asset\":\"BTC\"}\n"};
	const char *p = js;
	for (size_t i = 0; i < 5; i++) {
		const char *q = strstr(p, keys[i]);
		assert_non_null(q);
		assert_true(i > 0 || q == js);
		p = q + strlen(keys[i]);
	}
	free(js);

	char buf[SIM_TIME_LEN + 1];
	int64_t us;
	sim_time_format(INT64_C(1767225600000000), buf);
	assert_string_equal(buf, "2026-01-01T00:00:00.000000Z");
	sim_time_format(INT64_C(1709210096123456), buf);
	assert_string_equal(buf, "2024-02-29T12:34:56.123456Z");
	assert_int_equal(sim_time_parse("2024-02-29T12:34:56.123456Z", &us), 0);
	assert_true(us == INT64_C(1709210096123456));
	assert_int_equal(sim_time_parse("2024-02-29T12:34:56Z", &us), 0);
	assert_true(us == INT64_C(1709210096000000));
	assert_int_equal(sim_time_parse("2024-02-29T12:34:56.5+00:00", &us), 0);
	assert_true(us == INT64_C(1709210096500000));
	assert_int_equal(sim_time_parse("2026-01-01", &us), 0);
	assert_true(us == INT64_C(1767225600000000));
	assert_int_equal(sim_time_parse("2023-02-29T00:00:00Z", &us), -1);
	assert_int_equal(sim_time_parse("2024-01-01T00:00:00", &us), -1);
	assert_int_equal(sim_time_parse("2024-01-01T24:00:00Z", &us), -1);
	assert_int_equal(sim_time_parse("yesterday", &us), -1);
}

static int
count_self(const tu_tx *v, size_t n)
{
	int self = 0;
	for (size_t i = 0; i < n; i++)
		self += strcmp(v[i].sender, v[i].receiver) == 0;
	return self;
}

static void
check_invariants(const sim_gen_opts *o)
{
	size_t n;
	tu_tx *v = tu_gen_all(o, &n);
	assert_int_equal(n, o->transactions);
	for (size_t i = 0; i < n; i++) {
		char id[64], why[256];
		snprintf(id, sizeof(id), "sim-%llu-%zu", (unsigned long long)o->seed, i);
		assert_string_equal(v[i].tx_id, id); /* unique per seed */
		assert_true(v[i].ts >= o->start_us && v[i].ts < o->start_us + o->window_us);
		assert_true(i == 0 || v[i].ts >= v[i - 1].ts);
		Aml__V1__Transaction tx = AML__V1__TRANSACTION__INIT;
		tx.tx_id = v[i].tx_id;
		tx.sender = v[i].sender;
		tx.receiver = v[i].receiver;
		tx.amount = v[i].amount;
		tx.timestamp_us = v[i].ts;
		tx.asset = v[i].asset;
		if (amlrisk_tx_validate(&tx, why, sizeof(why)) != AMLRISK_OK)
			fail_msg("row %zu: %s", i, why);
		uint64_t w = strtoull(v[i].sender + 1, NULL, 10);
		assert_true(v[i].sender[0] == 'w' && w < o->wallets);
		assert_int_equal(strlen(v[i].sender), strlen(v[i].receiver));
	}
	if (!o->self_transfers)
		assert_int_equal(count_self(v, n), 0);
	free(v);
}

static void
test_invariants(void **state)
{
	(void)state;
	sim_gen_opts o;
	opts_small(&o);
	check_invariants(&o);
	/* the original's demo size */
	sim_gen_opts_default(&o);
	check_invariants(&o);
	/* a short window, a set start, uniform activity, no asset, sharp tail */
	opts_small(&o);
	o.window_us = INT64_C(3600000000);
	assert_int_equal(sim_time_parse("2020-03-01T12:00:00Z", &o.start_us), 0);
	o.zipf = 0;
	o.asset = "";
	check_invariants(&o);
	opts_small(&o);
	o.zipf = 3;
	o.wallets = 2;
	o.transactions = 500;
	check_invariants(&o);
	/* zero transactions is an empty, valid output */
	opts_small(&o);
	o.transactions = 0;
	check_invariants(&o);
	size_t len, m;
	char *csv = tu_generate(&o, SIM_FORMAT_CSV, &len);
	tu_tx *v = tu_read(csv, len, SIM_FORMAT_AUTO, NULL, &m);
	assert_int_equal(m, 0);
	free(v);
	free(csv);
}

static void
test_self_transfers_on_request(void **state)
{
	(void)state;
	sim_gen_opts o;
	opts_small(&o);
	o.zipf = 1.5; /* concentrated: the busiest wallets meet themselves */
	o.self_transfers = 1;
	size_t n;
	tu_tx *v = tu_gen_all(&o, &n);
	assert_true(count_self(v, n) > 0);
	free(v);
	o.self_transfers = 0;
	v = tu_gen_all(&o, &n);
	assert_int_equal(count_self(v, n), 0);
	free(v);
}

static int
cmp_desc_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void
test_heavy_tail_and_amounts(void **state)
{
	(void)state;
	sim_gen_opts o;
	opts_small(&o);
	o.wallets = 10000;
	o.transactions = 100000;
	size_t n;
	tu_tx *v = tu_gen_all(&o, &n);
	uint32_t *act = calloc(o.wallets, sizeof(*act));
	assert_non_null(act);
	double sum = 0, sum2 = 0;
	for (size_t i = 0; i < n; i++) {
		act[strtoul(v[i].sender + 1, NULL, 10)]++;
		act[strtoul(v[i].receiver + 1, NULL, 10)]++;
		double l = log(strtod(v[i].amount, NULL));
		sum += l;
		sum2 += l * l;
	}
	qsort(act, o.wallets, sizeof(*act), cmp_desc_u32);
	uint64_t top = 0, all = 2 * n;
	for (size_t i = 0; i < o.wallets / 100; i++)
		top += act[i];
	/* a few wallets very active: the top 1% take over a third of all activity,
	 * the busiest alone over 100 times the median */
	assert_true(top * 3 > all);
	assert_true(act[0] > 100 * (act[o.wallets / 2] + 1));
	/* most rarely: the median wallet appears in at most a handful */
	assert_true(act[o.wallets / 2] <= 5);
	/* log-normal amounts: log(amount) ~ N(mu, sigma^2), planted ones aside */
	double mean = sum / (double)n, sd = sqrt(sum2 / (double)n - mean * mean);
	assert_true(fabs(mean - o.amount_mu) < 0.1);
	assert_true(fabs(sd - o.amount_sigma) < 0.1);
	free(act);
	free(v);
}

/* ---- typologies --------------------------------------------------------------- */

typedef struct member {
	uint64_t wallet;
	char role[16];
} member;

typedef struct instance {
	char typology[32];
	int number;
	member m[2 * SIM_SIZE_MAX + 2];
	int n;
} instance;

/* parses the truth CSV into instances; *count set */
static instance *
parse_truth(char *csv, size_t *count)
{
	size_t cap = 64, n = 0;
	instance *v = calloc(cap, sizeof(*v));
	assert_non_null(v);
	char *save = NULL, *line = strtok_r(csv, "\n", &save);
	assert_non_null(line);
	assert_string_equal(line, "typology,instance,wallet,role");
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char typ[32], wallet[32], role[16];
		int num;
		assert_int_equal(sscanf(line, "%31[^,],%d,%31[^,],%15s", typ, &num, wallet, role),
		                 4);
		if (n == 0 || strcmp(v[n - 1].typology, typ) != 0 || v[n - 1].number != num) {
			if (n == cap) {
				cap *= 2;
				v = realloc(v, cap * sizeof(*v));
				assert_non_null(v);
			}
			memset(&v[n], 0, sizeof(v[n]));
			snprintf(v[n].typology, sizeof(v[n].typology), "%s", typ);
			v[n].number = num;
			n++;
		}
		instance *in = &v[n - 1];
		assert_true(in->n < 2 * SIM_SIZE_MAX + 2);
		assert_true(wallet[0] == 'w');
		in->m[in->n].wallet = strtoull(wallet + 1, NULL, 10);
		snprintf(in->m[in->n].role, sizeof(in->m[in->n].role), "%s", role);
		in->n++;
	}
	*count = n;
	return v;
}

/* transactions indexed by (sender, receiver) */
typedef struct edge {
	uint64_t key;
	size_t tx;
} edge;

typedef struct edges {
	edge *e;
	size_t n;
	uint64_t wallets;
	const tu_tx *txs;
} edges;

static int
edge_cmp(const void *a, const void *b)
{
	const edge *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->tx < y->tx ? -1 : x->tx > y->tx;
}

static void
edges_build(edges *es, const tu_tx *v, size_t n, uint64_t wallets)
{
	es->e = malloc(n * sizeof(*es->e));
	assert_non_null(es->e);
	for (size_t i = 0; i < n; i++)
		es->e[i] = (edge){strtoull(v[i].sender + 1, NULL, 10) * wallets +
		                          strtoull(v[i].receiver + 1, NULL, 10),
		                  i};
	qsort(es->e, n, sizeof(*es->e), edge_cmp);
	es->n = n;
	es->wallets = wallets;
	es->txs = v;
}

/* the first transaction s -> r; fails the test when there is none */
static const tu_tx *
edge_find(const edges *es, uint64_t s, uint64_t r)
{
	uint64_t key = s * es->wallets + r;
	size_t lo = 0, hi = es->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (es->e[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == es->n || es->e[lo].key != key)
		fail_msg("no transaction w%llu -> w%llu", (unsigned long long)s,
		         (unsigned long long)r);
	return &es->txs[es->e[lo].tx];
}

static uint64_t
micros(const tu_tx *t)
{
	unsigned long long units = 0, frac = 0;
	assert_int_equal(sscanf(t->amount, "%llu.%6llu", &units, &frac), 2);
	return units * 1000000 + frac;
}

/* members [from, from+count) all have role */
static void
roles_are(const instance *in, int from, int count, const char *role)
{
	for (int i = from; i < from + count; i++)
		if (strcmp(in->m[i].role, role) != 0)
			fail_msg("%s %d member %d: role %s, expected %s", in->typology, in->number,
			         i, in->m[i].role, role);
}

static int
count_role(const instance *in, const char *role)
{
	int c = 0;
	for (int i = 0; i < in->n; i++)
		c += strcmp(in->m[i].role, role) == 0;
	return c;
}

static void
check_instance(const instance *in, const edges *es, const sim_gen_opts *o)
{
	const member *m = in->m;
	int n = in->n;
	/* members distinct */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			assert_true(m[i].wallet != m[j].wallet);
	if (strcmp(in->typology, "fan_out") == 0) {
		/* one source to k distinct receivers */
		int k = n - 1;
		assert_true(k >= (int)o->size_min && k <= (int)o->size_max);
		roles_are(in, 0, 1, "source");
		roles_are(in, 1, k, "mule");
		for (int i = 1; i <= k; i++)
			edge_find(es, m[0].wallet, m[i].wallet);
	} else if (strcmp(in->typology, "fan_in") == 0) {
		/* k distinct senders to one */
		int k = n - 1;
		assert_true(k >= (int)o->size_min && k <= (int)o->size_max);
		roles_are(in, 0, k, "source");
		roles_are(in, k, 1, "sink");
		for (int i = 0; i < k; i++)
			edge_find(es, m[i].wallet, m[k].wallet);
	} else if (strcmp(in->typology, "cycle") == 0) {
		/* a directed cycle through every member, in order, back to the source */
		assert_true(n >= (int)o->size_min && n <= (int)o->size_max);
		roles_are(in, 0, 1, "source");
		roles_are(in, 1, n - 1, "mule");
		int64_t ts = INT64_MIN;
		for (int i = 0; i < n; i++) {
			const tu_tx *t = edge_find(es, m[i].wallet, m[(i + 1) % n].wallet);
			assert_true(t->ts >= ts);
			ts = t->ts;
		}
	} else if (strcmp(in->typology, "scatter_gather") == 0) {
		/* source -> k mules, then every mule -> sink */
		int k = n - 2;
		assert_true(k >= (int)o->size_min && k <= (int)o->size_max);
		roles_are(in, 0, 1, "source");
		roles_are(in, 1, k, "mule");
		roles_are(in, k + 1, 1, "sink");
		int64_t last_in = INT64_MIN, first_out = INT64_MAX;
		for (int i = 1; i <= k; i++) {
			const tu_tx *a = edge_find(es, m[0].wallet, m[i].wallet);
			const tu_tx *b = edge_find(es, m[i].wallet, m[k + 1].wallet);
			assert_true(micros(b) < micros(a)); /* the mule keeps a fee */
			last_in = a->ts > last_in ? a->ts : last_in;
			first_out = b->ts < first_out ? b->ts : first_out;
		}
		assert_true(last_in <= first_out);
	} else if (strcmp(in->typology, "gather_scatter") == 0) {
		/* k sources -> hub, then hub -> j sinks */
		int k = count_role(in, "source"), j = count_role(in, "sink");
		assert_int_equal(k + 1 + j, n);
		assert_true(k >= (int)o->size_min && k <= (int)o->size_max);
		assert_true(j >= (int)o->size_min && j <= (int)o->size_max);
		roles_are(in, 0, k, "source");
		roles_are(in, k, 1, "mule");
		roles_are(in, k + 1, j, "sink");
		uint64_t in_sum = 0, out_sum = 0;
		int64_t last_in = INT64_MIN, first_out = INT64_MAX;
		for (int i = 0; i < k; i++) {
			const tu_tx *a = edge_find(es, m[i].wallet, m[k].wallet);
			in_sum += micros(a);
			last_in = a->ts > last_in ? a->ts : last_in;
		}
		for (int i = k + 1; i < n; i++) {
			const tu_tx *b = edge_find(es, m[k].wallet, m[i].wallet);
			out_sum += micros(b);
			first_out = b->ts < first_out ? b->ts : first_out;
		}
		assert_true(last_in <= first_out);
		/* the hub forwards what it got less a fee (camouflage keeps no sums) */
		assert_true(o->camouflage || (out_sum < in_sum && out_sum * 10 > in_sum * 9));
	} else if (strcmp(in->typology, "peel_chain") == 0) {
		/* a path source -> mule_1 -> ... -> mule_k with strictly decreasing
		 * amounts; hop i also peels to sink_i, and forward + peel = holding
		 * (but for camouflage, which keeps the order and not the sums) */
		int k = (n - 1) / 2;
		assert_int_equal(2 * k + 1, n);
		assert_true(k >= (int)o->size_min && k <= (int)o->size_max);
		roles_are(in, 0, 1, "source");
		roles_are(in, 1, k, "mule");
		roles_are(in, k + 1, k, "sink");
		uint64_t prev = UINT64_MAX;
		int64_t ts = INT64_MIN;
		for (int i = 0; i < k; i++) {
			const tu_tx *fwd = edge_find(es, m[i].wallet, m[i + 1].wallet);
			const tu_tx *peel = edge_find(es, m[i].wallet, m[k + 1 + i].wallet);
			assert_true(micros(fwd) < prev);
			if (i > 0 && !o->camouflage)
				assert_true(micros(fwd) + micros(peel) == prev);
			assert_true(micros(peel) > 0);
			assert_true(fwd->ts >= ts);
			prev = micros(fwd);
			ts = fwd->ts;
		}
	} else {
		fail_msg("unknown typology %s", in->typology);
	}
}

/* generates o, checks every instance of the truth against the CSV output, and
 * that each typology has want[t] instances (when want is non-NULL) */
static void
check_typologies(const sim_gen_opts *o, const uint64_t *want)
{
	size_t len, n, ninst;
	char *csv = tu_generate(o, SIM_FORMAT_CSV, &len);
	tu_tx *v = tu_read(csv, len, SIM_FORMAT_CSV, NULL, &n);
	char *truth = tu_truth(o);
	instance *in = parse_truth(truth, &ninst);
	edges es;
	edges_build(&es, v, n, o->wallets);
	uint64_t per[SIM_TYPOLOGY_COUNT] = {0};
	for (size_t i = 0; i < ninst; i++) {
		int t;
		for (t = 0; t < SIM_TYPOLOGY_COUNT; t++)
			if (strcmp(in[i].typology, sim_typology_name((sim_typology)t)) == 0)
				break;
		assert_true(t < SIM_TYPOLOGY_COUNT);
		per[t]++;
		assert_int_equal(in[i].number, (int)per[t]); /* 1, 2, ... per typology */
		check_instance(&in[i], &es, o);
	}
	for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
		if (want != NULL)
			assert_int_equal(per[t], want[t]);
		else
			assert_true(per[t] >= 1);
	free(es.e);
	free(in);
	free(truth);
	free(v);
	free(csv);
}

static void
test_typologies_present_with_their_shapes(void **state)
{
	(void)state;
	sim_gen_opts o;
	/* the demo size plants at least one of each by default */
	sim_gen_opts_default(&o);
	check_typologies(&o, NULL);
	/* explicit counts, bigger instances */
	opts_small(&o);
	o.wallets = 5000;
	o.transactions = 50000;
	uint64_t want[SIM_TYPOLOGY_COUNT] = {7, 6, 5, 4, 3, 9};
	for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
		o.typologies[t] = (int64_t)want[t];
	o.size_min = 5;
	o.size_max = 20;
	check_typologies(&o, want);
	/* camouflaged: the same shapes and order relations (a mule forwards less
	 * than it got, a peel chain's holdings decrease) */
	o.camouflage = 1;
	check_typologies(&o, want);
	/* several seeds at the default sizes */
	for (uint64_t s = 100; s < 104; s++) {
		opts_small(&o);
		o.seed = s;
		o.wallets = 20000;
		o.transactions = 30000;
		check_typologies(&o, NULL);
	}
}

static void
test_typology_counts_and_members(void **state)
{
	(void)state;
	sim_gen_opts o;
	char err[512];
	sim_gen *g = NULL;
	const sim_member *m;
	/* defaults scale with the wallet count: one per 2000 wallets */
	sim_gen_opts_default(&o);
	o.wallets = 100000;
	o.transactions = 1000000;
	assert_int_equal(sim_gen_create(&g, &o, err, sizeof(err)), AMLRISK_OK);
	for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
		assert_int_equal(sim_gen_instances(g, (sim_typology)t), 50);
	size_t nm = sim_gen_members(g, &m);
	assert_true(nm > 6 * 50 * 3);
	assert_true(sim_gen_planted(g) > 0 && sim_gen_planted(g) < o.transactions / 10);
	sim_gen_destroy(g);
	/* tiny runs plant nothing rather than overflow */
	o.wallets = 10;
	o.transactions = 100;
	assert_int_equal(sim_gen_create(&g, &o, err, sizeof(err)), AMLRISK_OK);
	assert_int_equal(sim_gen_planted(g), 0);
	assert_int_equal(sim_gen_members(g, &m), 0);
	sim_gen_destroy(g);
	/* --no-typologies */
	sim_gen_opts_default(&o);
	for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
		o.typologies[t] = 0;
	assert_int_equal(sim_gen_create(&g, &o, err, sizeof(err)), AMLRISK_OK);
	assert_int_equal(sim_gen_planted(g), 0);
	sim_gen_destroy(g);
}

static void
test_bad_options(void **state)
{
	(void)state;
	sim_gen_opts o;
	char err[512];
	sim_gen *g = NULL;
#define BAD(stmt, flag)                                                                            \
	do {                                                                                       \
		sim_gen_opts_default(&o);                                                          \
		stmt;                                                                              \
		err[0] = '\0';                                                                     \
		assert_int_equal(sim_gen_create(&g, &o, err, sizeof(err)), AMLRISK_EINVAL);        \
		if (strstr(err, flag) == NULL)                                                     \
			fail_msg("error \"%s\" does not name %s", err, flag);                      \
	} while (0)
	BAD(o.wallets = 1, "--wallets");
	BAD(o.window_us = 10, "--days");
	BAD(o.start_us = 0, "--start");
	BAD(o.zipf = -1, "--zipf");
	BAD(o.amount_sigma = 9, "--amount-sigma");
	BAD(o.asset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "--asset");
	BAD(o.size_min = 2, "--size-min");
	BAD(o.label_fraction = 0, "--label-fraction");
	BAD(o.label_fraction = -0.5, "--label-fraction");
	BAD(o.label_fraction = 1.0000001, "--label-fraction");
	BAD(o.label_fraction = NAN, "--label-fraction");
	BAD(o.typologies[SIM_FAN_OUT] = 1000, "--fan-out");      /* 200 wallets cannot hold it */
	BAD(o.typologies[SIM_PEEL_CHAIN] = 300, "--peel-chain"); /* over --transactions */
#undef BAD
}

static void
test_reader_reports_bad_records(void **state)
{
	(void)state;
	char why[512];
	Aml__V1__Transaction *tx;
	sim_reader *r = NULL;
	/* CSV: columns by name in any order, extra ones ignored, asset optional */
	const char csv[] = "sender,tx_id,extra,receiver,amount,timestamp\n"
	                   "a,t1,x,b,1.5,2026-01-01T00:00:00Z\n"
	                   "a,t2,x,b,1.5,not-a-time\n"
	                   "a,t3,x,b\n"
	                   "\"a,1\",t4,\"q\"\"q\",b,2,2026-01-01T00:00:01.000001Z\n";
	FILE *f = fmemopen((void *)csv, sizeof(csv) - 1, "rb");
	assert_int_equal(sim_reader_create(&r, f, SIM_FORMAT_AUTO, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(sim_reader_format(r), SIM_FORMAT_CSV);
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_OK);
	assert_string_equal(tx->tx_id, "t1");
	assert_string_equal(tx->sender, "a");
	assert_string_equal(tx->asset, "");
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "line 3: timestamp"));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "line 4:"));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_OK);
	assert_string_equal(tx->sender, "a,1");
	assert_true(tx->timestamp_us == INT64_C(1767225601000001));
	assert_int_equal(sim_reader_number(r), 5);
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_ENOTFOUND);
	sim_reader_destroy(r);
	fclose(f);

	/* a CSV without the needed columns is named as such */
	const char nocol[] = "id,from,to,value,time\n1,a,b,1,2026-01-01\n";
	f = fmemopen((void *)nocol, sizeof(nocol) - 1, "rb");
	assert_int_equal(sim_reader_create(&r, f, SIM_FORMAT_AUTO, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(sim_reader_format(r), SIM_FORMAT_CSV);
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EIO);
	assert_non_null(strstr(why, "line 1: CSV header has no column \"tx_id\""));
	sim_reader_destroy(r);
	fclose(f);

	/* JSON Lines */
	const char js[] =
	        "{\"tx_id\":\"t1\",\"sender\":\"a\",\"receiver\":\"b\",\"amount\":\"1\","
	        "\"timestamp_us\":1767225600000000,\"asset\":\"BTC\"}\n"
	        "{\"tx_id\":\"t2\",\"sender\":\"a\"\n"
	        "{\"tx_id\":\"t3\",\"sender\":\"a\",\"receiver\":\"b\",\"amount\":1,"
	        "\"timestamp_us\":1}\n"
	        "{\"tx_id\":\"t4\",\"sender\":\"a\",\"receiver\":\"b\",\"amount\":\"1\"}\n"
	        "\n"
	        "{\"tx_id\":\"t5\",\"sender\":\"a\",\"receiver\":\"b\",\"amount\":\"1\","
	        "\"timestamp_us\":\"1767225600000001\",\"colour\":\"red\"}\n"
	        "{\"tx_id\":\"t6\",\"sender\":\"a\",\"receiver\":\"b\",\"amount\":\"1\","
	        "\"timestamp_us\":\"1767225600000001\"}\n";
	f = fmemopen((void *)js, sizeof(js) - 1, "rb");
	assert_int_equal(sim_reader_create(&r, f, SIM_FORMAT_AUTO, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(sim_reader_format(r), SIM_FORMAT_JSONL);
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_OK);
	assert_true(tx->timestamp_us == INT64_C(1767225600000000));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "line 2: JSON"));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "line 3: amount: not a string"));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "line 4: field \"timestamp_us\" missing"));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "line 6: unknown field \"colour\""));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_OK);
	assert_string_equal(tx->tx_id, "t6");
	assert_true(tx->timestamp_us == INT64_C(1767225600000001));
	assert_int_equal(sim_reader_number(r), 7);
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_ENOTFOUND);
	sim_reader_destroy(r);
	fclose(f);

	/* protobuf: an undecodable record is skipped, a truncated tail ends it */
	sim_gen_opts o;
	sim_gen_opts_default(&o);
	o.transactions = 3;
	o.typologies[0] = o.typologies[1] = o.typologies[2] = 0;
	o.typologies[3] = o.typologies[4] = o.typologies[5] = 0;
	size_t len;
	char *pb = tu_generate(&o, SIM_FORMAT_PROTOBUF, &len);
	size_t first = (size_t)(unsigned char)pb[0] + 1;
	char *bad = malloc(len + 8);
	assert_non_null(bad);
	memcpy(bad, pb, first);
	memcpy(bad + first, "\x03\xff\xff\xff", 4); /* 3 bytes that do not decode */
	memcpy(bad + first + 4, pb + first, len - first);
	bad[first + 4 + len - first] = '\x40'; /* a record of 64 bytes, cut off */
	f = fmemopen(bad, len + 5, "rb");
	assert_int_equal(sim_reader_create(&r, f, SIM_FORMAT_PROTOBUF, why, sizeof(why)),
	                 AMLRISK_OK);
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "record 2:"));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_OK);
	assert_string_equal(tx->tx_id, "sim-42-1");
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_OK);
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_EINVAL);
	assert_non_null(strstr(why, "record 5:"));
	assert_int_equal(sim_reader_next(r, &tx, why, sizeof(why)), AMLRISK_ENOTFOUND);
	sim_reader_destroy(r);
	fclose(f);
	free(bad);
	free(pb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_same_seed_same_bytes),
	        cmocka_unit_test(test_formats_decode_same),
	        cmocka_unit_test(test_exact_text),
	        cmocka_unit_test(test_invariants),
	        cmocka_unit_test(test_self_transfers_on_request),
	        cmocka_unit_test(test_heavy_tail_and_amounts),
	        cmocka_unit_test(test_typologies_present_with_their_shapes),
	        cmocka_unit_test(test_typology_counts_and_members),
	        cmocka_unit_test(test_bad_options),
	        cmocka_unit_test(test_reader_reports_bad_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
