/* sim_gen.c - the deterministic generator: background transactions streamed one
 * at a time (Zipf-active wallets, log-normal amounts, stratified timestamps),
 * merged in timestamp order with the planted typology transactions planned up
 * front (camouflaged amounts and the labelled sources chosen then too). Built
 * for 10M+ rows: no allocation and a few libm calls per row. */
#include "sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "sim_rng.h"

#define US_PER_S   INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_S)
#define MICROS_MAX UINT64_C(1000000000000000000) /* 1e12 units, 6 decimals */

/* RNG streams: one per purpose, so changing one never shifts another */
enum {
	STREAM_PERM = 1,
	STREAM_PLAN = 2,
	STREAM_BACKGROUND = 3,
	STREAM_CAMOUFLAGE = 4,
	STREAM_LABELS = 5
};

/* one planted transaction, before the merge */
typedef struct planted {
	int64_t ts;
	uint64_t sender, receiver, micros;
	uint64_t order; /* plan order: the tie-breaker that keeps the sort stable */
} planted;

struct sim_gen {
	sim_gen_opts o;
	char asset[AMLRISK_ASSET_MAX + 1];
	int width; /* digits of a wallet index */

	/* activity: Zipf rank (0-based position p) -> wallet perm(p) */
	sim_zipf zipf;
	sim_perm perm;

	/* planted typologies: owned arrays */
	sim_member *members;
	size_t nmembers, members_cap;
	planted *pl;
	size_t npl, pl_cap, pl_next;
	uint64_t instances[SIM_TYPOLOGY_COUNT];
	/* members: positions tail_lo + tail(i) for the i-th member, all distinct */
	uint64_t tail_lo, tail_n, tail_used;
	sim_perm tail;
	sim_rng camo; /* the camouflaged amounts, apart from the plan's stream */

	/* background: item i lies at start + (i + u) * step */
	sim_rng bg;
	uint64_t bg_total, bg_next;
	double step;
	int have_bg;
	planted bg_item; /* the lookahead */

	uint64_t total, emitted;

	/* the row handed out by sim_gen_next */
	char prefix[32];
	size_t prefix_len;
	char tx_id[64], sender[24], receiver[24], amount[48];
};

static const char *typology_names[SIM_TYPOLOGY_COUNT] = {
        "fan_out", "fan_in", "cycle", "scatter_gather", "gather_scatter", "peel_chain",
};
static const char *role_names[] = {"source", "mule", "sink"};

const char *
sim_typology_name(sim_typology t)
{
	return (unsigned)t < SIM_TYPOLOGY_COUNT ? typology_names[t] : "?";
}

const char *
sim_role_name(sim_role r)
{
	return (unsigned)r <= SIM_ROLE_SINK ? role_names[r] : "?";
}

void
sim_gen_opts_default(sim_gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->wallets = 200;
	o->transactions = 2000;
	o->seed = 42;
	o->window_us = 30 * US_PER_DAY;
	o->start_us = SIM_REF_END_US - o->window_us;
	o->zipf = 1.0;
	o->amount_mu = 0.0;
	o->amount_sigma = 1.5;
	o->asset = "BTC";
	for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
		o->typologies[t] = -1;
	o->size_min = 3;
	o->size_max = 8;
	o->label_fraction = 1.0;
}

/* Writes v in decimal at p, zero-padded to width digits; returns the length. */
static size_t
put_u64(char *p, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width)
		tmp[n++] = '0';
	for (int i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return (size_t)n;
}

static int
digits(uint64_t v)
{
	int d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static uint64_t
wallet_of_position(const sim_gen *g, uint64_t p)
{
	return sim_perm_map(&g->perm, p);
}

static uint64_t
draw_wallet(sim_gen *g, sim_rng *r)
{
	uint64_t p =
	        g->o.zipf > 0 ? sim_zipf_sample(&g->zipf, r) - 1 : sim_rng_below(r, g->o.wallets);
	return wallet_of_position(g, p);
}

/* exp(N(mu, sigma^2)) units as micro-units in [1, MICROS_MAX) */
static uint64_t
draw_micros(sim_rng *r, double mu, double sigma)
{
	double v = exp(mu + sigma * sim_rng_normal(r)) * 1e6;
	if (!(v >= 1.0))
		return 1;
	if (v >= (double)MICROS_MAX)
		return MICROS_MAX - 1;
	return (uint64_t)llround(v);
}

size_t
sim_gen_wallet_name(const sim_gen *g, uint64_t idx, char *buf, size_t buflen)
{
	if (buflen < (size_t)g->width + 2 || buflen < (size_t)digits(idx) + 2)
		return 0;
	buf[0] = 'w';
	size_t n = 1 + put_u64(buf + 1, idx, g->width);
	buf[n] = '\0';
	return n;
}

/* ---- planning ------------------------------------------------------------------- */

/* Makes room for one more element of size elem in *arr (n used of *cap),
 * doubling; AMLRISK_ENOMEM leaves *arr as it was. */
static int
grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return AMLRISK_OK;
	size_t ncap = *cap ? *cap * 2 : 256;
	void *p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return AMLRISK_ENOMEM;
	*arr = p;
	*cap = ncap;
	return AMLRISK_OK;
}

static int
member_add(sim_gen *g, sim_typology t, uint32_t instance, sim_role role, uint64_t *wallet)
{
	if (g->tail_used >= g->tail_n)
		return AMLRISK_EFULL; /* no unused wallet left for a member */
	if (grow((void **)&g->members, &g->members_cap, g->nmembers, sizeof(*g->members)) != 0)
		return AMLRISK_ENOMEM;
	/* distinct positions among the rarely active tail, spread by a bijection */
	uint64_t p = g->tail_lo + sim_perm_map(&g->tail, g->tail_used);
	g->tail_used++;
	*wallet = wallet_of_position(g, p);
	g->members[g->nmembers++] = (sim_member){.wallet = *wallet,
	                                         .instance = instance,
	                                         .typology = (uint8_t)t,
	                                         .role = (uint8_t)role,
	                                         .labelled = 0};
	return AMLRISK_OK;
}

static int
planted_add(sim_gen *g, uint64_t s, uint64_t r, uint64_t micros)
{
	if (grow((void **)&g->pl, &g->pl_cap, g->npl, sizeof(*g->pl)) != 0)
		return AMLRISK_ENOMEM;
	g->pl[g->npl] = (planted){.sender = s, .receiver = r, .micros = micros, .order = g->npl};
	g->npl++;
	return AMLRISK_OK;
}

/* Splits total into k parts with random weights in [0.5, 1.5); each >= 1. */
static void
split(sim_rng *r, uint64_t total, uint32_t k, uint64_t *parts)
{
	double w[SIM_SIZE_MAX], sum = 0;
	for (uint32_t i = 0; i < k; i++)
		sum += (w[i] = 0.5 + sim_rng_unit(r));
	for (uint32_t i = 0; i < k; i++) {
		double v = floor((double)total * w[i] / sum);
		parts[i] = v >= 1.0 ? (uint64_t)v : 1;
	}
}

/* a - a fee of 0.5% .. 3%, at least one micro-unit less, at least 1 */
static uint64_t
less_fee(sim_rng *r, uint64_t a)
{
	uint64_t fee = (uint64_t)((double)a * (0.005 + 0.025 * sim_rng_unit(r)));
	if (fee < 1)
		fee = 1;
	return a > fee + 1 ? a - fee : 1;
}

static uint32_t
draw_size(sim_gen *g, sim_rng *r)
{
	return g->o.size_min + (uint32_t)sim_rng_below(r, g->o.size_max - g->o.size_min + 1);
}

/* --camouflage: replaces the amounts of the planted transactions [first, npl)
 * (one instance, at most 2 * SIM_SIZE_MAX) by as many ordinary draws from the
 * camouflage stream, the largest draw to the largest planned amount and so on
 * (equal amounts in plan order): every planted amount is then an ordinary one,
 * and the order relations of the typology (a chain's decreasing holdings, a
 * mule forwarding less than it got) still hold. Sums are not kept. */
static void
camouflage(sim_gen *g, size_t first)
{
	uint64_t draws[2 * SIM_SIZE_MAX];
	uint32_t idx[2 * SIM_SIZE_MAX];
	size_t n = g->npl - first;
	const planted *pl = g->pl + first;
	for (size_t i = 0; i < n; i++) {
		uint64_t d = draw_micros(&g->camo, g->o.amount_mu, g->o.amount_sigma);
		size_t j = i; /* insertion sorts: draws descending, idx by amount */
		for (; j > 0 && draws[j - 1] < d; j--)
			draws[j] = draws[j - 1];
		draws[j] = d;
		for (j = i; j > 0 && pl[idx[j - 1]].micros < pl[i].micros; j--)
			idx[j] = idx[j - 1];
		idx[j] = (uint32_t)i;
	}
	for (size_t i = 0; i < n; i++)
		g->pl[first + idx[i]].micros = draws[i];
}

/* Plans one instance: members in flow order and its transactions in causal
 * order, then gives those transactions timestamps inside the window. */
static int
plan_instance(sim_gen *g, sim_rng *r, sim_typology t, uint32_t inst)
{
	uint64_t w[2 * SIM_SIZE_MAX + 2], parts[SIM_SIZE_MAX];
	uint32_t k = draw_size(g, r), nw = 0;
	size_t first = g->npl;
	int rv = AMLRISK_OK;
	/* the laundered amount: about 20 times a typical transfer, at least 1 unit */
	uint64_t x = draw_micros(r, g->o.amount_mu + 3.0, 0.5);
	if (x < 1000000)
		x = 1000000;
#define MEMBER(role)                                                                               \
	do {                                                                                       \
		if ((rv = member_add(g, t, inst, (role), &w[nw])) != AMLRISK_OK)                   \
			return rv;                                                                 \
		nw++;                                                                              \
	} while (0)
#define TX(s, d, a)                                                                                \
	do {                                                                                       \
		if ((rv = planted_add(g, (s), (d), (a))) != AMLRISK_OK)                            \
			return rv;                                                                 \
	} while (0)
	switch (t) {
	case SIM_FAN_OUT: /* w0 source; w1..wk mules */
		MEMBER(SIM_ROLE_SOURCE);
		for (uint32_t i = 0; i < k; i++)
			MEMBER(SIM_ROLE_MULE);
		split(r, x, k, parts);
		for (uint32_t i = 0; i < k; i++)
			TX(w[0], w[1 + i], parts[i]);
		break;
	case SIM_FAN_IN: /* w0..wk-1 sources; wk sink */
		for (uint32_t i = 0; i < k; i++)
			MEMBER(SIM_ROLE_SOURCE);
		MEMBER(SIM_ROLE_SINK);
		split(r, x, k, parts);
		for (uint32_t i = 0; i < k; i++)
			TX(w[i], w[k], parts[i]);
		break;
	case SIM_CYCLE: { /* w0 source; w1..wk-1 mules; back to w0 */
		MEMBER(SIM_ROLE_SOURCE);
		for (uint32_t i = 1; i < k; i++)
			MEMBER(SIM_ROLE_MULE);
		uint64_t a = x;
		for (uint32_t i = 0; i < k; i++) {
			TX(w[i], w[(i + 1) % k], a);
			a = less_fee(r, a);
		}
		break;
	}
	case SIM_SCATTER_GATHER: /* w0 source; w1..wk mules; wk+1 sink */
		MEMBER(SIM_ROLE_SOURCE);
		for (uint32_t i = 0; i < k; i++)
			MEMBER(SIM_ROLE_MULE);
		MEMBER(SIM_ROLE_SINK);
		split(r, x, k, parts);
		for (uint32_t i = 0; i < k; i++)
			TX(w[0], w[1 + i], parts[i]);
		for (uint32_t i = 0; i < k; i++)
			TX(w[1 + i], w[k + 1], less_fee(r, parts[i]));
		break;
	case SIM_GATHER_SCATTER: { /* w0..wk-1 sources; wk hub (mule); wk+1..wk+j sinks */
		uint32_t j = draw_size(g, r);
		uint64_t in = 0;
		for (uint32_t i = 0; i < k; i++)
			MEMBER(SIM_ROLE_SOURCE);
		MEMBER(SIM_ROLE_MULE);
		for (uint32_t i = 0; i < j; i++)
			MEMBER(SIM_ROLE_SINK);
		split(r, x, k, parts);
		for (uint32_t i = 0; i < k; i++) {
			TX(w[i], w[k], parts[i]);
			in += parts[i];
		}
		split(r, less_fee(r, in), j, parts);
		for (uint32_t i = 0; i < j; i++)
			TX(w[k], w[k + 1 + i], parts[i]);
		break;
	}
	case SIM_PEEL_CHAIN: { /* w0 source; w1..wk chain mules; wk+1..w2k peel sinks */
		MEMBER(SIM_ROLE_SOURCE);
		for (uint32_t i = 0; i < k; i++)
			MEMBER(SIM_ROLE_MULE);
		for (uint32_t i = 0; i < k; i++)
			MEMBER(SIM_ROLE_SINK);
		/* what node i holds, strictly decreasing along the chain: peels of 5..20%
		 * of it, smaller on chains over 8 hops, so at least e^-1.6 of x is left */
		uint64_t a = x;
		double most = k > 8 ? 0.2 * 8.0 / k : 0.2;
		for (uint32_t i = 0; i < k; i++) {
			uint64_t peel =
			        (uint64_t)((double)a * most * (0.25 + 0.75 * sim_rng_unit(r)));
			if (peel < 1)
				peel = 1;
			if (peel >= a)
				peel = a - 1;
			TX(w[i], w[k + 1 + i], peel);
			a -= peel;
			TX(w[i], w[i + 1], a);
		}
		break;
	}
	default:
		return AMLRISK_EINTERNAL;
	}
#undef MEMBER
#undef TX
	if (g->o.camouflage)
		camouflage(g, first);
	/* timestamps: exponential delays (mean up to an hour) from a uniform start,
	 * squeezed to fit the window */
	size_t nt = g->npl - first;
	double mean = (double)g->o.window_us / (4.0 * (double)(nt + 1));
	if (mean > 3600.0 * US_PER_S)
		mean = 3600.0 * US_PER_S;
	double off = 0;
	for (size_t i = 0; i < nt; i++) {
		off += sim_rng_exp(r) * mean;
		g->pl[first + i].ts = (int64_t)off;
	}
	int64_t dur = (int64_t)off;
	if (dur >= g->o.window_us) { /* astronomically unlikely; keep it inside */
		for (size_t i = 0; i < nt; i++)
			g->pl[first + i].ts = (int64_t)((double)g->pl[first + i].ts *
			                                ((double)(g->o.window_us - 1) / off));
		dur = g->pl[first + nt - 1].ts;
	}
	int64_t t0 = g->o.start_us + (int64_t)sim_rng_below(r, (uint64_t)(g->o.window_us - dur));
	for (size_t i = 0; i < nt; i++)
		g->pl[first + i].ts += t0;
	return AMLRISK_OK;
}

static int
planted_cmp(const void *a, const void *b)
{
	const planted *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* the most members and transactions an instance of t with k members can need */
static void
worst_case(sim_typology t, uint64_t k, uint64_t *members, uint64_t *txs)
{
	switch (t) {
	case SIM_FAN_OUT:
	case SIM_FAN_IN:
		*members = k + 1;
		*txs = k;
		break;
	case SIM_CYCLE:
		*members = k;
		*txs = k;
		break;
	case SIM_SCATTER_GATHER:
		*members = k + 2;
		*txs = 2 * k;
		break;
	default: /* gather_scatter, peel_chain */
		*members = 2 * k + 1;
		*txs = 2 * k;
		break;
	}
}

static const char *typology_flags[SIM_TYPOLOGY_COUNT] = {
        "--fan-out", "--fan-in", "--cycle", "--scatter-gather", "--gather-scatter", "--peel-chain",
};

static int
check_opts(const sim_gen_opts *o, char *err, size_t errlen)
{
	const char *why = NULL;
	if (o->wallets < 2 || o->wallets > SIM_WALLETS_MAX)
		snprintf(err, errlen, "--wallets: must be 2 .. %llu",
		         (unsigned long long)SIM_WALLETS_MAX);
	else if (o->transactions > SIM_TRANSACTIONS_MAX)
		snprintf(err, errlen, "--transactions: must be at most %llu",
		         (unsigned long long)SIM_TRANSACTIONS_MAX);
	else if (o->window_us < US_PER_S || o->window_us > 36525 * US_PER_DAY)
		snprintf(err, errlen, "--days: the window must be 1 second .. 100 years");
	else if (o->start_us < AMLRISK_TS_MIN_US || o->start_us > AMLRISK_TS_MAX_US - o->window_us)
		snprintf(err, errlen,
		         "--start/--days: the window must lie between 2009-01-03 and "
		         "2100-01-01 (timestamps the consumer accepts)");
	else if (!(o->zipf >= 0 && o->zipf <= 5))
		snprintf(err, errlen, "--zipf: must be 0 .. 5");
	else if (!(o->amount_mu >= -10 && o->amount_mu <= 20))
		snprintf(err, errlen, "--amount-mu: must be -10 .. 20");
	else if (!(o->amount_sigma >= 0 && o->amount_sigma <= 5))
		snprintf(err, errlen, "--amount-sigma: must be 0 .. 5");
	else if (o->asset == NULL ||
	         (o->asset[0] != '\0' &&
	          amlrisk_tx_check_id(o->asset, strlen(o->asset), AMLRISK_ASSET_MAX, &why) != 0))
		snprintf(err, errlen, "--asset: %s", why ? why : "missing");
	else if (o->size_min < 3 || o->size_max > SIM_SIZE_MAX || o->size_min > o->size_max)
		snprintf(err, errlen, "--size-min/--size-max: need 3 <= min <= max <= %d",
		         SIM_SIZE_MAX);
	else if (!(o->label_fraction > 0 && o->label_fraction <= 1))
		snprintf(err, errlen,
		         "--label-fraction: the share of sources labelled must be > 0 and <= 1");
	else {
		for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
			if (o->typologies[t] < -1 || o->typologies[t] > 1000000) {
				snprintf(err, errlen, "%s: must be 0 .. 1000000",
				         typology_flags[t]);
				return AMLRISK_EINVAL;
			}
		return AMLRISK_OK;
	}
	return AMLRISK_EINVAL;
}

/* Marks round(label_fraction * sources) sources labelled, at least one when
 * there is a source: a uniform choice by the seed (selection sampling over the
 * sources in flow order), from its own stream so nothing else moves. */
static void
choose_labels(sim_gen *g)
{
	uint64_t sources = 0, want, chosen = 0;
	sim_rng r;
	for (size_t i = 0; i < g->nmembers; i++)
		sources += g->members[i].role == SIM_ROLE_SOURCE;
	if (sources == 0)
		return;
	want = (uint64_t)floor(g->o.label_fraction * (double)sources + 0.5);
	want = want < 1 ? 1 : want > sources ? sources : want;
	sim_rng_seed(&r, g->o.seed, STREAM_LABELS);
	for (size_t i = 0; i < g->nmembers && chosen < want; i++) {
		if (g->members[i].role != SIM_ROLE_SOURCE)
			continue;
		if (sim_rng_below(&r, sources) < want - chosen) {
			g->members[i].labelled = 1;
			chosen++;
		}
		sources--;
	}
}

/* Chooses the instance counts: explicit ones as given, the rest one per 2000
 * wallets (at least one) and one per 1000 transactions, shrunk until the
 * worst case fits in half the tail wallets and a tenth of the transactions. */
static void
choose_counts(sim_gen *g)
{
	const sim_gen_opts *o = &g->o;
	uint64_t c = o->wallets / 2000;
	if (c < 1)
		c = 1;
	if (c > o->transactions / 1000)
		c = o->transactions / 1000;
	for (; c > 0; c--) {
		uint64_t mem = 0, txs = 0;
		for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++) {
			uint64_t m, x, n = o->typologies[t] >= 0 ? (uint64_t)o->typologies[t] : c;
			worst_case((sim_typology)t, o->size_max, &m, &x);
			mem += n * m;
			txs += n * x;
		}
		if (mem <= g->tail_n / 2 && txs <= o->transactions / 10)
			break;
	}
	for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
		g->instances[t] = o->typologies[t] >= 0 ? (uint64_t)o->typologies[t] : c;
}

int
sim_gen_create(sim_gen **out, const sim_gen_opts *o, char *err, size_t errlen)
{
	int rv;
	sim_gen *g = NULL;
	sim_rng r;
	if ((rv = check_opts(o, err, errlen)) != AMLRISK_OK)
		return rv;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return AMLRISK_ENOMEM;
	}
	g->o = *o;
	snprintf(g->asset, sizeof(g->asset), "%s", o->asset);
	g->o.asset = g->asset;
	g->width = digits(o->wallets - 1);
	if (o->zipf > 0)
		sim_zipf_init(&g->zipf, o->wallets, o->zipf);

	sim_rng_seed(&r, o->seed, STREAM_PERM);
	sim_perm_init(&g->perm, o->wallets, &r);
	/* members come from the least active 95% of positions */
	g->tail_lo = o->wallets / 20;
	g->tail_n = o->wallets - g->tail_lo;
	sim_perm_init(&g->tail, g->tail_n, &r);

	choose_counts(g);
	sim_rng_seed(&g->camo, o->seed, STREAM_CAMOUFLAGE);
	sim_rng_seed(&r, o->seed, STREAM_PLAN);
	for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
		for (uint64_t i = 0; i < g->instances[t]; i++) {
			if ((rv = plan_instance(g, &r, (sim_typology)t, (uint32_t)(i + 1))) ==
			    AMLRISK_EFULL) {
				snprintf(err, errlen,
				         "%s etc.: the typologies need more than the %llu wallets "
				         "available to them (the least active 95%% of --wallets); "
				         "ask for fewer instances or more wallets",
				         typology_flags[t], (unsigned long long)g->tail_n);
				rv = AMLRISK_EINVAL;
				goto fail;
			} else if (rv != AMLRISK_OK) {
				snprintf(err, errlen, "planning typologies: %s",
				         amlrisk_strerror(rv));
				goto fail;
			}
			if (g->npl > SIM_PLANTED_MAX || g->npl > o->transactions) {
				snprintf(err, errlen,
				         "%s etc.: the typologies plant more transactions than %s "
				         "(%llu); ask for fewer instances or more --transactions",
				         typology_flags[t],
				         g->npl > o->transactions ? "--transactions" : "the cap",
				         (unsigned long long)(g->npl > o->transactions
				                                      ? o->transactions
				                                      : SIM_PLANTED_MAX));
				rv = AMLRISK_EINVAL;
				goto fail;
			}
		}
	if (g->npl > 0)
		qsort(g->pl, g->npl, sizeof(*g->pl), planted_cmp);
	choose_labels(g);

	sim_rng_seed(&g->bg, o->seed, STREAM_BACKGROUND);
	g->total = o->transactions;
	g->bg_total = o->transactions - g->npl;
	g->step = g->bg_total ? (double)o->window_us / (double)g->bg_total : 0;
	g->prefix_len = (size_t)snprintf(g->prefix, sizeof(g->prefix), "sim-%llu-",
	                                 (unsigned long long)o->seed);
	*out = g;
	return AMLRISK_OK;
fail:
	sim_gen_destroy(g);
	return rv;
}

void
sim_gen_destroy(sim_gen *g)
{
	if (g == NULL)
		return;
	free(g->members);
	free(g->pl);
	free(g);
}

/* draws background item bg_next into the lookahead */
static void
background_draw(sim_gen *g)
{
	sim_rng *r = &g->bg;
	double pos = ((double)g->bg_next + sim_rng_unit(r)) * g->step;
	int64_t off = (int64_t)pos;
	if (off >= g->o.window_us)
		off = g->o.window_us - 1;
	g->bg_item.ts = g->o.start_us + off;
	g->bg_item.sender = draw_wallet(g, r);
	g->bg_item.receiver = draw_wallet(g, r);
	for (int tries = 0; !g->o.self_transfers && g->bg_item.receiver == g->bg_item.sender;
	     tries++) {
		if (tries == 64) { /* only with an extreme --zipf: step to another wallet */
			g->bg_item.receiver =
			        (g->bg_item.sender + 1 + sim_rng_below(r, g->o.wallets - 1)) %
			        g->o.wallets;
			break;
		}
		g->bg_item.receiver = draw_wallet(g, r);
	}
	g->bg_item.micros = draw_micros(r, g->o.amount_mu, g->o.amount_sigma);
	g->bg_next++;
	g->have_bg = 1;
}

int
sim_gen_next(sim_gen *g, Aml__V1__Transaction *tx)
{
	const planted *it;
	if (g->emitted >= g->total)
		return AMLRISK_ENOTFOUND;
	if (!g->have_bg && g->bg_next < g->bg_total)
		background_draw(g);
	if (g->pl_next < g->npl && (!g->have_bg || g->pl[g->pl_next].ts < g->bg_item.ts)) {
		it = &g->pl[g->pl_next++];
	} else {
		it = &g->bg_item;
		g->have_bg = 0;
	}

	memcpy(g->tx_id, g->prefix, g->prefix_len);
	g->tx_id[g->prefix_len + put_u64(g->tx_id + g->prefix_len, g->emitted, 1)] = '\0';
	g->sender[0] = 'w';
	g->sender[1 + put_u64(g->sender + 1, it->sender, g->width)] = '\0';
	g->receiver[0] = 'w';
	g->receiver[1 + put_u64(g->receiver + 1, it->receiver, g->width)] = '\0';
	size_t n = put_u64(g->amount, it->micros / 1000000, 1);
	g->amount[n++] = '.';
	n += put_u64(g->amount + n, it->micros % 1000000, 6);
	g->amount[n] = '\0';

	aml__v1__transaction__init(tx);
	tx->tx_id = g->tx_id;
	tx->sender = g->sender;
	tx->receiver = g->receiver;
	tx->amount = g->amount;
	tx->timestamp_us = it->ts;
	tx->asset = g->asset;
	g->emitted++;
	return AMLRISK_OK;
}

uint64_t
sim_gen_total(const sim_gen *g)
{
	return g->total;
}

uint64_t
sim_gen_planted(const sim_gen *g)
{
	return g->npl;
}

uint64_t
sim_gen_instances(const sim_gen *g, sim_typology t)
{
	return (unsigned)t < SIM_TYPOLOGY_COUNT ? g->instances[t] : 0;
}

size_t
sim_gen_members(const sim_gen *g, const sim_member **out)
{
	*out = g->members;
	return g->nmembers;
}

int
sim_gen_truth_write(const sim_gen *g, FILE *f)
{
	char w[32];
	if (fputs("typology,instance,wallet,role\n", f) == EOF)
		return AMLRISK_EIO;
	for (size_t i = 0; i < g->nmembers; i++) {
		const sim_member *m = &g->members[i];
		sim_gen_wallet_name(g, m->wallet, w, sizeof(w));
		if (fprintf(f, "%s,%u,%s,%s\n", sim_typology_name((sim_typology)m->typology),
		            m->instance, w, sim_role_name((sim_role)m->role)) < 0)
			return AMLRISK_EIO;
	}
	return fflush(f) == 0 ? AMLRISK_OK : AMLRISK_EIO;
}

int
sim_gen_labels_write(const sim_gen *g, FILE *f)
{
	char w[32];
	for (size_t i = 0; i < g->nmembers; i++) {
		if (!g->members[i].labelled)
			continue;
		sim_gen_wallet_name(g, g->members[i].wallet, w, sizeof(w));
		if (fprintf(f, "%s\n", w) < 0)
			return AMLRISK_EIO;
	}
	return fflush(f) == 0 ? AMLRISK_OK : AMLRISK_EIO;
}
