/* srv_alertplan.c - which wallets fire and re-arm at one live update
 * (srv_alertplan.h). Candidates to fire: on a chain (cur appended from the
 * last committed result) the wallets whose score changed
 * (core_run_result_changes) and, for top<=N, those that entered the top N
 * (core_run_result_top_entered); otherwise (start-up, full reload, a rule's
 * first view, or a rule with deferred crossings) a scan of cur's top order
 * down to the threshold or N. Re-arming: every disarmed wallet of every rule
 * is checked each update (a rank moves without the wallet's own score
 * moving). The bounds: ALERTS_PER_UPDATE_MAX alerts, ALERT_STATE_MAX
 * disarmed pairs; the riskiest go first, the rest are deferred. */
#include "srv_alertplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "srv_alertpay.h"
#include "srv_time.h"

/* What the plan knows about the update while it is made. */
typedef struct ctx {
	srv_alertgen *ag;
	const core_run_result *cur, *base; /* base: ag->last or NULL */
	bool chain;                        /* cur's graph descends from base's */
	core_score_change *ch;             /* chain: the changed wallets */
	size_t nch;
} ctx;

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return AMLRISK_OK;
	size_t cap2 = *cap < 64 ? 64 : *cap * 2;
	while (cap2 < need)
		cap2 *= 2;
	void *q = realloc(*p, cap2 * size);
	if (q == NULL)
		return AMLRISK_ENOMEM;
	*p = q;
	*cap = cap2;
	return AMLRISK_OK;
}

/* id's score in the previous live view: 0 when there is none (start-up) or
 * the wallet is new. */
static double
prev_score(const ctx *x, uint32_t id)
{
	core_wallet_score ws;
	size_t len;

	if (x->base == NULL)
		return 0.0;
	if (x->chain) {
		if (id >= core_run_result_count(x->base))
			return 0.0;
		core_run_result_get(x->base, id, &ws);
		return ws.risk_score;
	}
	const char *w = core_graph_wallet(core_run_result_graph(x->cur), id, &len);
	return core_run_result_find(x->base, w, len, &ws) == AMLRISK_OK ? ws.risk_score : 0.0;
}

static double
score_of(const core_run_result *r, uint32_t id)
{
	core_wallet_score ws;
	core_run_result_get(r, id, &ws);
	return ws.risk_score;
}

/* A candidate of rule r: added unless the wallet is disarmed already or is
 * itself illicit (a labelled or seeded source: known, its score is 1 or 2
 * by definition, an alert about it is noise). */
static int
candidate(srv_alertplan *pl, const ctx *x, int r, uint32_t id, bool silent)
{
	core_wallet_score ws;

	core_run_result_get(x->cur, id, &ws);
	if (ws.is_illicit || srv_alertset_find(x->ag->set[r], ws.wallet, ws.wallet_len) >= 0)
		return AMLRISK_OK;
	if (grow((void **)&pl->fire, &pl->capfire, pl->nfire + 1, sizeof(*pl->fire)) != 0)
		return AMLRISK_ENOMEM;
	pl->fire[pl->nfire++] = (srv_alertplan_fire){.rule = r,
	                                             .id = id,
	                                             .score = ws.risk_score,
	                                             .prev = prev_score(x, id),
	                                             .silent = silent};
	return AMLRISK_OK;
}

static int
id_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* top<=N on a chain: entered the top N, or changed while in it (a wallet
 * already in it at score 0 never fired), without repeats. */
static int
top_chain(srv_alertplan *pl, const ctx *x, int r, uint32_t n)
{
	uint32_t *ids = NULL;
	size_t k = 0;
	int rv;

	if ((rv = core_run_result_top_entered(x->base, x->cur, n, &ids, &k)) != AMLRISK_OK)
		return rv;
	uint32_t *all = realloc(ids, (k + x->nch + 1) * sizeof(*all));
	if (all == NULL) {
		free(ids);
		return AMLRISK_ENOMEM;
	}
	for (size_t i = 0; i < x->nch; i++)
		if (x->ch[i].rank < n)
			all[k++] = x->ch[i].id;
	qsort(all, k, sizeof(*all), id_cmp);
	for (size_t i = 0; rv == AMLRISK_OK && i < k; i++)
		if ((i == 0 || all[i] != all[i - 1]) && score_of(x->cur, all[i]) > 0.0)
			rv = candidate(pl, x, r, all[i], false);
	free(all);
	return rv;
}

/* The candidates of rule r. */
static int
candidates(srv_alertplan *pl, const ctx *x, int r)
{
	const srv_rule *rule = &x->ag->rules.rule[r];
	bool silent = !x->ag->established[r];
	bool scan = silent || !x->chain || x->ag->backlog[r];
	uint32_t count = core_run_result_count(x->cur);
	const uint32_t *order = core_run_result_order(x->cur);
	int rv = AMLRISK_OK;

	if (rule->kind == SRV_RULE_THRESHOLD && scan) {
		for (uint32_t i = 0; rv == AMLRISK_OK && i < count; i++) {
			if (score_of(x->cur, order[i]) < rule->threshold)
				break;
			rv = candidate(pl, x, r, order[i], silent);
		}
	} else if (rule->kind == SRV_RULE_THRESHOLD) {
		for (size_t i = 0; rv == AMLRISK_OK && i < x->nch; i++)
			if (x->ch[i].score >= rule->threshold)
				rv = candidate(pl, x, r, x->ch[i].id, false);
	} else if (scan) {
		/* a wallet scoring 0 is ranked by name only: it never fires */
		for (uint32_t i = 0; rv == AMLRISK_OK && i < count && i < rule->top; i++) {
			if (score_of(x->cur, order[i]) <= 0.0)
				break;
			rv = candidate(pl, x, r, order[i], silent);
		}
	} else {
		rv = top_chain(pl, x, r, rule->top);
	}
	return rv;
}

/* The disarmed wallets of rule r that re-arm at cur. */
static int
rearms(srv_alertplan *pl, const ctx *x, int r)
{
	const srv_rule *rule = &x->ag->rules.rule[r];
	srv_alertset *s = x->ag->set[r];

	for (size_t i = 0; i < srv_alertset_count(s); i++) {
		uint32_t id = srv_alertset_at(s, i)->id;
		double score = id != SRV_ALERTSET_NO_ID ? score_of(x->cur, id) : 0.0;
		uint64_t rank = score > 0.0 ? (uint64_t)core_run_result_rank(x->cur, id) + 1 : 0;
		bool armed = false;
		(void)srv_rule_step(rule, x->ag->rules.margin, score, rank, &armed);
		if (!armed)
			continue;
		if (grow((void **)&pl->rearm[r], &pl->caprearm[r], pl->nrearm[r] + 1,
		         sizeof(*pl->rearm[r])) != 0)
			return AMLRISK_ENOMEM;
		pl->rearm[r][pl->nrearm[r]++] = (srv_alertplan_rearm){.index = i, .score = score};
	}
	pl->rearmed += pl->nrearm[r];
	return AMLRISK_OK;
}

/* The riskiest first, then rule, then id: who goes first under the bounds. */
static int
fire_cmp(const void *a, const void *b)
{
	const srv_alertplan_fire *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Applies the bounds (deferred fires), copies the kept wallets, builds
 * their payloads and reserves the sets' room. */
static int
bound_and_build(srv_alertplan *pl, const ctx *x, int64_t watermark)
{
	srv_alertgen *ag = x->ag;
	size_t held = 0, room, alerts_left = ag->rules.per_update_max;
	size_t add[SRV_RULES_MAX] = {0};
	int rv;

	for (int r = 0; r < ag->rules.n; r++)
		held += srv_alertset_count(ag->set[r]) - pl->nrearm[r];
	room = held < ag->rules.state_max ? ag->rules.state_max - held : 0;
	if (pl->nfire > 1)
		qsort(pl->fire, pl->nfire, sizeof(*pl->fire), fire_cmp);
	for (size_t i = 0; i < pl->nfire; i++) {
		srv_alertplan_fire *f = &pl->fire[i];
		if (room == 0 || (!f->silent && alerts_left == 0)) {
			f->deferred = true;
			pl->deferred++;
			pl->backlog[f->rule] = true;
			if (f->silent) /* the baseline is not complete yet */
				pl->establish[f->rule] = false;
			continue;
		}
		room--;
		add[f->rule]++;
		const char *w = core_graph_wallet(core_run_result_graph(x->cur), f->id, &f->len);
		if ((f->wallet = malloc(f->len + 1)) == NULL)
			return AMLRISK_ENOMEM;
		memcpy(f->wallet, w, f->len + 1);
		if (f->silent) {
			pl->silent++;
			continue;
		}
		alerts_left--;
		srv_alertpay_in in = {.id = f->id,
		                      .rule = ag->rules.rule[f->rule].name,
		                      .previous_score = f->prev,
		                      .watermark = watermark,
		                      .created_at_us = pl->created_us};
		if ((rv = srv_alertpay_build(x->cur, &in, &f->payload, &f->payload_len)) != 0)
			return rv;
		pl->alerts++;
	}
	for (int r = 0; r < ag->rules.n; r++)
		if (add[r] > 0 && srv_alertset_reserve(ag->set[r], add[r]) != AMLRISK_OK)
			return AMLRISK_ENOMEM;
	return AMLRISK_OK;
}

/* Finds the sets' wallets in cur's graph unless their ids are valid there. */
static void
refresh_ids(srv_alertgen *ag, const core_run_result *cur)
{
	core_graph *g = core_run_result_graph(cur);

	if (ag->ids_graph != NULL && core_graph_descends(g, ag->ids_graph))
		return;
	for (int r = 0; r < ag->rules.n; r++)
		for (size_t i = 0; i < srv_alertset_count(ag->set[r]); i++) {
			srv_alertset_entry *e = srv_alertset_at(ag->set[r], i);
			if (core_graph_find(g, e->wallet, e->len, &e->id) != AMLRISK_OK)
				e->id = SRV_ALERTSET_NO_ID;
		}
	core_graph_unref(ag->ids_graph);
	ag->ids_graph = core_graph_ref(g);
}

int
srv_alertplan_make(srv_alertplan *pl, srv_alertgen *ag, const core_run_result *cur,
                   int64_t watermark, char *err, size_t errlen)
{
	ctx x = {.ag = ag, .cur = cur, .base = ag->last};
	int rv = AMLRISK_OK;

	memset(pl, 0, sizeof(*pl));
	pl->created_us = srv_unix_us();
	refresh_ids(ag, cur);
	x.chain = x.base != NULL &&
	          core_graph_descends(core_run_result_graph(cur), core_run_result_graph(x.base)) &&
	          core_run_result_config(cur)->model == core_run_result_config(x.base)->model;
	bool need_changes = false;
	for (int r = 0; r < ag->rules.n; r++) {
		pl->establish[r] = !ag->established[r];
		need_changes |= ag->established[r] && !ag->backlog[r];
	}
	if (x.chain && need_changes)
		rv = core_run_result_changes(x.base, cur, &x.ch, &x.nch);
	for (int r = 0; rv == AMLRISK_OK && r < ag->rules.n; r++)
		if ((rv = candidates(pl, &x, r)) == AMLRISK_OK)
			rv = rearms(pl, &x, r);
	free(x.ch);
	if (rv == AMLRISK_OK)
		rv = bound_and_build(pl, &x, watermark);
	if (rv != AMLRISK_OK) {
		snprintf(err, errlen, "alerts: %s while planning the live update",
		         rv == AMLRISK_ENOMEM ? "out of memory" : "an engine error");
		srv_alertplan_free(pl);
	}
	return rv;
}

void
srv_alertplan_free(srv_alertplan *pl)
{
	for (size_t i = 0; i < pl->nfire; i++) {
		free(pl->fire[i].wallet);
		free(pl->fire[i].payload);
	}
	free(pl->fire);
	for (int r = 0; r < SRV_RULES_MAX; r++)
		free(pl->rearm[r]);
	memset(pl, 0, sizeof(*pl));
}
