/* sim_camouflage_test.c - what makes the simulator hard to game: --camouflage
 * changes only the planted amounts, which then follow the ordinary amount
 * distribution (quantiles compared), members take part in ordinary traffic at
 * the rate of other wallets, and --label-fraction labels the share it says. */
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
#include "sim.h"
#include "sim_tutil.h"

#define WALLETS 20000

/* 40 instances of each typology among 20k wallets and 100k transactions:
 * about 2000 planted transactions and 1000 members */
static void
opts_many(sim_gen_opts *o, int camouflage)
{
	sim_gen_opts_default(o);
	o->wallets = WALLETS;
	o->transactions = 100000;
	o->seed = 5;
	for (int t = 0; t < SIM_TYPOLOGY_COUNT; t++)
		o->typologies[t] = 40;
	o->camouflage = camouflage;
}

/* inst[w] = 1 + the index of the instance wallet w is a member of, or 0; from
 * the truth o's generator reports. Caller frees. */
static uint32_t *
member_instances(const sim_gen_opts *o)
{
	char err[512];
	sim_gen *g = NULL;
	const sim_member *m;
	uint32_t *inst = calloc(o->wallets, sizeof(*inst));
	assert_non_null(inst);
	if (sim_gen_create(&g, o, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("sim_gen_create: %s", err);
	size_t n = sim_gen_members(g, &m);
	for (size_t i = 0; i < n; i++)
		inst[m[i].wallet] = (uint32_t)(m[i].typology * 1000000 + m[i].instance);
	sim_gen_destroy(g);
	return inst;
}

static uint64_t
wallet_index(const char *id)
{
	assert_true(id[0] == 'w');
	return strtoull(id + 1, NULL, 10);
}

/* planted: both ends members of one instance (the typology's own edges) */
static int
is_planted(const uint32_t *inst, const tu_tx *t)
{
	uint32_t a = inst[wallet_index(t->sender)], b = inst[wallet_index(t->receiver)];
	return a != 0 && a == b;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* the q-quantile of the sorted v[0..n) (nearest rank below) */
static double
quantile(const double *v, size_t n, double q)
{
	return v[(size_t)(q * (double)(n - 1))];
}

/* the largest |quantile difference| of log(amount) between planted and
 * ordinary transactions of o, over the 5% .. 95% quantiles; *planted set */
static double
quantile_gap(const sim_gen_opts *o, size_t *planted)
{
	static const double qs[] = {0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95};
	size_t n, np = 0, nb = 0;
	tu_tx *v = tu_gen_all(o, &n);
	uint32_t *inst = member_instances(o);
	double *pl = malloc(n * sizeof(*pl)), *bg = malloc(n * sizeof(*bg)), gap = 0;
	assert_true(pl != NULL && bg != NULL);
	for (size_t i = 0; i < n; i++) {
		double l = log(strtod(v[i].amount, NULL));
		if (is_planted(inst, &v[i]))
			pl[np++] = l;
		else
			bg[nb++] = l;
	}
	qsort(pl, np, sizeof(*pl), cmp_double);
	qsort(bg, nb, sizeof(*bg), cmp_double);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double d = fabs(quantile(pl, np, qs[i]) - quantile(bg, nb, qs[i]));
		gap = d > gap ? d : gap;
	}
	*planted = np;
	free(pl);
	free(bg);
	free(inst);
	free(v);
	return gap;
}

static void
test_camouflaged_amounts_are_ordinary(void **state)
{
	(void)state;
	sim_gen_opts o;
	size_t np;
	/* without camouflage planted amounts are far bigger (about 20 times a
	 * typical transfer, split): a gap of over 0.8 in log units at every
	 * quantile, which is what this comparison must be able to see */
	opts_many(&o, 0);
	double plain = quantile_gap(&o, &np);
	assert_true(np > 1500);
	if (!(plain > 0.8))
		fail_msg("without --camouflage the largest quantile gap is only %.3f", plain);
	/* with it, log(amount) of ~2000 planted transactions has the ordinary
	 * quantiles within 0.25 (sigma is 1.5; sampling error alone is ~0.07) */
	opts_many(&o, 1);
	double camo = quantile_gap(&o, &np);
	assert_true(np > 1500);
	if (!(camo < 0.25))
		fail_msg("camouflaged amounts: largest quantile gap %.3f (want < 0.25)", camo);
	/* on other seeds and another ordinary distribution too */
	o.seed = 6;
	o.amount_mu = 2;
	o.amount_sigma = 0.7;
	camo = quantile_gap(&o, &np);
	if (!(camo < 0.15))
		fail_msg("camouflaged amounts, mu 2 sigma 0.7: gap %.3f (want < 0.15)", camo);
}

static void
test_camouflage_changes_only_planted_amounts(void **state)
{
	(void)state;
	sim_gen_opts plain, camo;
	size_t n1, n2, changed = 0;
	char err[512];
	sim_gen *g = NULL;
	opts_many(&plain, 0);
	opts_many(&camo, 1);
	/* the same members and labels */
	char *t1 = tu_truth(&plain), *t2 = tu_truth(&camo);
	char *l1 = tu_labels(&plain), *l2 = tu_labels(&camo);
	assert_string_equal(t1, t2);
	assert_string_equal(l1, l2);
	/* the same rows but for the amounts of the planted ones */
	tu_tx *a = tu_gen_all(&plain, &n1), *b = tu_gen_all(&camo, &n2);
	uint32_t *inst = member_instances(&plain);
	assert_int_equal(n1, n2);
	for (size_t i = 0; i < n1; i++) {
		assert_string_equal(a[i].tx_id, b[i].tx_id);
		assert_string_equal(a[i].sender, b[i].sender);
		assert_string_equal(a[i].receiver, b[i].receiver);
		assert_true(a[i].ts == b[i].ts);
		if (strcmp(a[i].amount, b[i].amount) != 0) {
			changed++;
			assert_true(is_planted(inst, &a[i]));
		}
	}
	assert_int_equal(sim_gen_create(&g, &plain, err, sizeof(err)), AMLRISK_OK);
	assert_int_equal(changed, sim_gen_planted(g));
	sim_gen_destroy(g);
	/* deterministic */
	size_t len1, len2;
	char *c1 = tu_generate(&camo, SIM_FORMAT_CSV, &len1);
	char *c2 = tu_generate(&camo, SIM_FORMAT_CSV, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(c1, c2, len1);
	free(c1);
	free(c2);
	free(inst);
	free(a);
	free(b);
	free(t1);
	free(t2);
	free(l1);
	free(l2);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
test_members_take_part_in_ordinary_traffic(void **state)
{
	(void)state;
	sim_gen_opts o;
	size_t n, nm = 0, nn = 0;
	opts_many(&o, 1);
	tu_tx *v = tu_gen_all(&o, &n);
	uint32_t *inst = member_instances(&o);
	uint32_t *act = calloc(WALLETS, sizeof(*act));
	uint32_t *mem = malloc(WALLETS * sizeof(*mem)), *non = malloc(WALLETS * sizeof(*non));
	assert_true(act != NULL && mem != NULL && non != NULL);
	/* ordinary activity: transactions outside the wallet's own instance */
	for (size_t i = 0; i < n; i++) {
		if (is_planted(inst, &v[i]))
			continue;
		act[wallet_index(v[i].sender)]++;
		act[wallet_index(v[i].receiver)]++;
	}
	for (uint64_t w = 0; w < WALLETS; w++) {
		if (inst[w] != 0)
			mem[nm++] = act[w];
		else
			non[nn++] = act[w];
	}
	assert_true(nm > 800);
	qsort(mem, nm, sizeof(*mem), cmp_u32);
	qsort(non, nn, sizeof(*non), cmp_u32);
	/* members are drawn from the least active 95% of wallets: compare them
	 * with the least active 95% of the others */
	size_t tail = nn * 95 / 100, mem_active = 0, non_active = 0;
	double mem_sum = 0, non_sum = 0;
	for (size_t i = 0; i < nm; i++) {
		mem_active += mem[i] > 0;
		mem_sum += mem[i];
	}
	for (size_t i = 0; i < tail; i++) {
		non_active += non[i] > 0;
		non_sum += non[i];
	}
	double mem_share = (double)mem_active / (double)nm;
	double non_share = (double)non_active / (double)tail;
	double mem_mean = mem_sum / (double)nm, non_mean = non_sum / (double)tail;
	if (fabs(mem_share - non_share) > 0.05 || fabs(mem_mean / non_mean - 1) > 0.15 ||
	    mem[nm / 2] + 1 < non[tail / 2] || mem[nm / 2] > non[tail / 2] + 1)
		fail_msg("ordinary activity: members %.3f active, mean %.2f, median %u; "
		         "others %.3f, mean %.2f, median %u",
		         mem_share, mem_mean, mem[nm / 2], non_share, non_mean, non[tail / 2]);
	free(act);
	free(mem);
	free(non);
	free(inst);
	free(v);
}

/* the labelled sources of o: checks that only sources are labelled and that
 * the labels file lists exactly them in flow order; returns how many of how
 * many (*sources) */
static size_t
check_labels(const sim_gen_opts *o, size_t *sources)
{
	char err[512], *buf = NULL;
	size_t len = 0, labelled = 0, off = 0;
	sim_gen *g = NULL;
	const sim_member *m;
	if (sim_gen_create(&g, o, err, sizeof(err)) != AMLRISK_OK)
		fail_msg("sim_gen_create: %s", err);
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(sim_gen_labels_write(g, f), AMLRISK_OK);
	assert_int_equal(fclose(f), 0);
	size_t n = sim_gen_members(g, &m);
	*sources = 0;
	for (size_t i = 0; i < n; i++) {
		*sources += m[i].role == SIM_ROLE_SOURCE;
		if (!m[i].labelled)
			continue;
		assert_int_equal(m[i].role, SIM_ROLE_SOURCE);
		char w[32], line[40];
		sim_gen_wallet_name(g, m[i].wallet, w, sizeof(w));
		int k = snprintf(line, sizeof(line), "%s\n", w);
		assert_true(off + (size_t)k <= len);
		assert_memory_equal(buf + off, line, (size_t)k);
		off += (size_t)k;
		labelled++;
	}
	assert_int_equal(off, len);
	sim_gen_destroy(g);
	free(buf);
	return labelled;
}

static void
test_label_fraction(void **state)
{
	(void)state;
	static const double fractions[] = {1.0, 0.5, 0.2, 1e-6};
	sim_gen_opts o;
	size_t sources;
	opts_many(&o, 0);
	for (size_t i = 0; i < sizeof(fractions) / sizeof(fractions[0]); i++) {
		o.label_fraction = fractions[i];
		size_t got = check_labels(&o, &sources);
		size_t want = (size_t)floor(fractions[i] * (double)sources + 0.5);
		assert_true(sources > 200);
		assert_int_equal(got, want > 0 ? want : 1);
	}
	/* a share is a choice by the seed: the same each time, another for
	 * another seed, the same with or without camouflage */
	o.label_fraction = 0.5;
	char *a = tu_labels(&o), *b = tu_labels(&o);
	assert_string_equal(a, b);
	o.camouflage = 1;
	char *c = tu_labels(&o);
	assert_string_equal(a, c);
	/* ... and not simply the first half of the sources */
	o.label_fraction = 1;
	char *all = tu_labels(&o);
	assert_true(strncmp(a, all, strlen(a)) != 0);
	o.seed = 6;
	o.label_fraction = 0.5;
	char *d = tu_labels(&o);
	assert_string_not_equal(a, d);
	free(a);
	free(b);
	free(c);
	free(d);
	free(all);
	/* every source of a small run is labelled by default */
	sim_gen_opts_default(&o);
	size_t labelled = check_labels(&o, &sources);
	assert_int_equal(labelled, sources);
	assert_true(sources >= 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_camouflaged_amounts_are_ordinary),
	        cmocka_unit_test(test_camouflage_changes_only_planted_amounts),
	        cmocka_unit_test(test_members_take_part_in_ordinary_traffic),
	        cmocka_unit_test(test_label_fraction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
