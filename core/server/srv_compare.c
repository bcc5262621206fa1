/* srv_compare.c - ranks of wallets in a stored run. The rank of w (score s) is
 * 1 + the rows ordered before it: those scoring more, then those scoring s
 * with a smaller wallet id; both are ranges of the risk_scores_top index
 * (run_id, risk_score DESC, wallet), each counted with a LIMIT, so a rank
 * costs at most 2 x cap index entries whatever the run's size. */
#include "srv_compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_buf.h"
#include "amlrisk_err.h"
#include "srv_arena.h"
#include "srv_db.h"
#include "srv_runs.h"

/* Separates the wallets of the one text parameter: a control character, which
 * no wallet id holds (amlrisk_tx_check_id), so no escaping is needed. */
#define WALLET_SEP "\x1f"

uint64_t
srv_compare_cap(size_t n)
{
	uint64_t cap = n > 0 ? SRV_RANK_WORK_MAX / n : SRV_RANK_CAP_MAX;

	if (cap > SRV_RANK_CAP_MAX)
		cap = SRV_RANK_CAP_MAX;
	return cap < 1000 ? 1000 : cap;
}

int
srv_compare_previous(PGconn *c, int64_t id, const char *model, int64_t *prev, char *err,
                     size_t errlen)
{
	char v[24];
	const char *p[2] = {v, model};
	PGresult *r = NULL;
	int rv;

	snprintf(v, sizeof(v), "%lld", (long long)id);
	if ((rv = srv_db_exec(c,
	                      "SELECT id FROM scoring_runs WHERE status = 'completed' AND id < $1"
	                      " AND model = $2 ORDER BY id DESC LIMIT 1",
	                      2, p, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	*prev = PQntuples(r) > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	return AMLRISK_OK;
}

int
srv_compare_ranks(PGconn *c, int64_t id, const char *const *wallets, size_t n, uint64_t cap,
                  uint64_t *ranks, char *err, size_t errlen)
{
	static const char *SQL =
	        "SELECT w.ord, CASE WHEN p.wallet IS NULL THEN 0 ELSE 1"
	        " + (SELECT count(*) FROM (SELECT 1 FROM risk_scores r WHERE r.run_id = $1"
	        "    AND r.risk_score > p.risk_score LIMIT $3) a)"
	        " + (SELECT count(*) FROM (SELECT 1 FROM risk_scores r WHERE r.run_id = $1"
	        "    AND r.risk_score = p.risk_score AND r.wallet < p.wallet LIMIT $3) b) END"
	        " FROM unnest(string_to_array($2, E'\\x1f')) WITH ORDINALITY AS w(wallet, ord)"
	        " LEFT JOIN risk_scores p ON p.run_id = $1 AND p.wallet = w.wallet"
	        " ORDER BY w.ord";
	char v[2][24];
	const char *p[3] = {v[0], NULL, v[1]};
	amlrisk_buf list;
	srv_arena a;
	PGresult *r = NULL;
	int rv;

	srv_arena_init(&a, 0);
	rv = srv_runs_completed(c, id, &a, NULL, NULL, err, errlen);
	srv_arena_free(&a);
	if (rv != AMLRISK_OK)
		return rv;
	if (n == 0)
		return AMLRISK_OK;
	amlrisk_buf_init(&list, 0);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			amlrisk_buf_add(&list, WALLET_SEP, 1);
		amlrisk_buf_add(&list, wallets[i], strlen(wallets[i]));
	}
	amlrisk_buf_add(&list, "", 1);
	if (list.failed) {
		amlrisk_buf_free(&list);
		snprintf(err, errlen, "ranks: out of memory");
		return AMLRISK_ENOMEM;
	}
	snprintf(v[0], sizeof(v[0]), "%lld", (long long)id);
	snprintf(v[1], sizeof(v[1]), "%llu", (unsigned long long)cap);
	p[1] = list.data;
	rv = srv_db_exec(c, SQL, 3, p, PGRES_TUPLES_OK, &r, err, errlen);
	amlrisk_buf_free(&list);
	if (rv != AMLRISK_OK)
		return rv;
	if ((size_t)PQntuples(r) != n) {
		snprintf(err, errlen, "ranks: %d rows for %zu wallets", PQntuples(r), n);
		PQclear(r);
		return AMLRISK_EPROTO;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t rank = strtoull(PQgetvalue(r, (int)i, 1), NULL, 10);
		/* either count stopped at cap: the rank is beyond it */
		ranks[i] = rank > cap ? cap + 1 : rank;
	}
	PQclear(r);
	return AMLRISK_OK;
}
