/* srv_alertgen.c - the live view's commit step (srv_alertgen.h): plans the
 * rules' transitions from the last committed live result to the new one
 * (srv_alertplan.c), writes alerts, alert_state and live_state in one
 * transaction (binary COPY and parameters only), and only after COMMIT
 * applies the plan to the in-memory disarmed sets. */
#include "srv_alertgen.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "srv_alertplan.h"
#include "srv_copy.h"
#include "srv_db.h"
#include "srv_time.h"

#define LOG_EVERY_MS 10000 /* capped-update warnings at most this often */
/* microseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define PG_EPOCH_US 946684800000000LL

static const char *SQL_LIVE = "INSERT INTO live_state (id, model, config, watermark, updated_at)"
                              " VALUES (1, $1, $2::jsonb, $3, clock_timestamp())"
                              " ON CONFLICT (id) DO UPDATE SET model = EXCLUDED.model,"
                              " config = EXCLUDED.config, watermark = EXCLUDED.watermark,"
                              " updated_at = EXCLUDED.updated_at";
static const char *SQL_COPY_ALERTS =
        "COPY risk_alerts (wallet, rule, payload, created_at) FROM STDIN (FORMAT binary)";
/* the state rows go through a session temp table, then one upsert */
static const char *SQL_TEMP = "CREATE TEMP TABLE IF NOT EXISTS alertgen_state (rule text,"
                              " wallet text, armed boolean, last_score double precision,"
                              " watermark bigint) ON COMMIT DELETE ROWS";
static const char *SQL_COPY_STATE = "COPY alertgen_state FROM STDIN (FORMAT binary)";
static const char *SQL_UPSERT =
        "INSERT INTO alert_state SELECT rule, wallet, armed, last_score, watermark"
        " FROM alertgen_state ON CONFLICT (rule, wallet) DO UPDATE SET armed = EXCLUDED.armed,"
        " last_score = EXCLUDED.last_score, watermark = EXCLUDED.watermark";
static const char *SQL_RESET = "DELETE FROM alert_state";
static const char *SQL_PURGE = "DELETE FROM alert_state WHERE NOT (rule = ANY ($1::text[]))";
static const char *SQL_LOAD_LIVE = "SELECT watermark FROM live_state"
                                   " WHERE id = 1 AND model = $1 AND config = $2::jsonb";
static const char *SQL_LOAD_STATE =
        "COPY (SELECT rule, wallet, last_score FROM alert_state WHERE NOT armed OR wallet = '')"
        " TO STDOUT (FORMAT binary)";

int
srv_alertgen_create(srv_alertgen **out, const srv_rules *rules, const char *model,
                    const char *config_json)
{
	srv_alertgen *ag = calloc(1, sizeof(*ag));

	if (ag == NULL)
		return AMLRISK_ENOMEM;
	if (rules != NULL)
		ag->rules = *rules;
	if (ag->rules.per_update_max == 0)
		ag->rules.per_update_max = SRV_ALERTS_PER_UPDATE_DEFAULT;
	if (ag->rules.state_max == 0)
		ag->rules.state_max = SRV_ALERT_STATE_DEFAULT;
	ag->model = strdup(model);
	ag->config_json = strdup(config_json);
	int ok = ag->model != NULL && ag->config_json != NULL;
	for (int r = 0; ok && r < ag->rules.n; r++)
		ok = srv_alertset_create(&ag->set[r]) == AMLRISK_OK;
	if (!ok) {
		srv_alertgen_destroy(ag);
		return AMLRISK_ENOMEM;
	}
	*out = ag;
	return AMLRISK_OK;
}

void
srv_alertgen_destroy(srv_alertgen *ag)
{
	if (ag == NULL)
		return;
	for (int r = 0; r < SRV_RULES_MAX; r++)
		srv_alertset_destroy(ag->set[r]);
	core_run_result_unref(ag->last);
	core_graph_unref(ag->ids_graph);
	free(ag->model);
	free(ag->config_json);
	free(ag);
}

void
srv_alertgen_stats_get(const srv_alertgen *ag, srv_alertgen_stats *out)
{
	*out = ag->stats;
	out->disarmed = 0;
	for (int r = 0; r < ag->rules.n; r++)
		out->disarmed += srv_alertset_count(ag->set[r]);
}

/* One row of SQL_LOAD_STATE: a rule's mark (wallet '') or a disarmed wallet
 * of a configured rule. */
static int
load_row(void *arg, const srv_copy_field *f, int n)
{
	srv_alertgen *ag = arg;

	if (n != 3 || f[0].len < 0 || f[1].len < 0 || f[2].len != 8)
		return AMLRISK_EPROTO;
	for (int r = 0; r < ag->rules.n; r++) {
		if ((size_t)f[0].len != strlen(ag->rules.rule[r].name) ||
		    memcmp(f[0].data, ag->rules.rule[r].name, (size_t)f[0].len) != 0)
			continue;
		if (f[1].len == 0) {
			ag->established[r] = true;
			return AMLRISK_OK;
		}
		char *w = malloc((size_t)f[1].len + 1);
		if (w == NULL || srv_alertset_reserve(ag->set[r], 1) != AMLRISK_OK) {
			free(w);
			return AMLRISK_ENOMEM;
		}
		memcpy(w, f[1].data, (size_t)f[1].len);
		w[f[1].len] = '\0';
		srv_alertset_add(ag->set[r], w, (size_t)f[1].len, SRV_ALERTSET_NO_ID,
		                 srv_copy_f64(f[2].data));
		return AMLRISK_OK;
	}
	return AMLRISK_OK; /* a rule no longer configured: purged at the next commit */
}

int
srv_alertgen_load(srv_alertgen *ag, PGconn *c, int64_t *watermark, char *err, size_t errlen)
{
	const char *p[2] = {ag->model, ag->config_json};
	PGresult *res = NULL;
	size_t held = 0;
	int rv;

	ag->loaded = false;
	for (int r = 0; r < ag->rules.n; r++) {
		srv_alertset_clear(ag->set[r]);
		ag->established[r] = false;
		/* the stored state may be newer than the last result this process
		 * committed (a COMMIT whose outcome was unknown): the next update
		 * scans cur instead of trusting the changes since that result */
		ag->backlog[r] = true;
	}
	/* the loaded entries have no ids yet: found again at the next commit */
	core_graph_unref(ag->ids_graph);
	ag->ids_graph = NULL;
	if ((rv = srv_db_exec(c, SQL_LOAD_LIVE, 2, p, PGRES_TUPLES_OK, &res, err, errlen)) != 0)
		return rv;
	*watermark = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
	PQclear(res);
	/* no live view stored for this model and config: the stored alert state
	 * belongs to another scale; it is discarded and the rules start over
	 * with a silent baseline at the next commit */
	ag->reset = *watermark < 0;
	if (!ag->reset && (rv = srv_db_copy_out(c, SQL_LOAD_STATE, load_row, ag, NULL, err,
	                                        errlen)) != AMLRISK_OK) {
		for (int r = 0; r < ag->rules.n; r++)
			srv_alertset_clear(ag->set[r]);
		return rv == AMLRISK_ENOMEM ? rv : AMLRISK_EDB;
	}
	for (int r = 0; r < ag->rules.n; r++) {
		if (!ag->established[r]) /* a rule new here: its old rows are purged */
			srv_alertset_clear(ag->set[r]);
		held += srv_alertset_count(ag->set[r]);
	}
	if (held > ag->rules.state_max)
		amlrisk_log(AMLRISK_LOG_WARN, "core", "alertgen.state_over",
		            "disarmed=%zu alert_state_max=%" PRIu32
		            " new crossings wait until wallets re-arm",
		            held, ag->rules.state_max);
	ag->loaded = true;
	ag->purge = true;
	return AMLRISK_OK;
}

/* Ends an open COPY IN with b's content (or aborts it when b failed). */
static int
copy_in(PGconn *c, const char *sql, srv_copybuf *b, char *err, size_t errlen)
{
	char end_err[128];
	int rv;

	if ((rv = srv_db_exec(c, sql, 0, NULL, PGRES_COPY_IN, NULL, err, errlen)) != 0)
		return rv;
	if (b->failed) {
		(void)srv_db_copy_end(c, "out of memory in amlrisk-core", end_err, sizeof(end_err));
		snprintf(err, errlen, "alerts: out of memory");
		return AMLRISK_ENOMEM;
	}
	if ((rv = srv_db_copy_put(c, b->data, b->len, err, errlen)) != 0)
		return rv;
	return srv_db_copy_end(c, NULL, err, errlen);
}

/* The alert rows of plan as binary COPY data. */
static void
alert_rows(const srv_alertgen *ag, const srv_alertplan *pl, int64_t created_us, srv_copybuf *b)
{
	srv_copybin_header(b);
	for (size_t i = 0; i < pl->nfire; i++) {
		const srv_alertplan_fire *f = &pl->fire[i];
		if (f->silent || f->deferred)
			continue;
		srv_copybin_row(b, 4);
		srv_copybin_text(b, f->wallet, f->len);
		srv_copybin_text(b, ag->rules.rule[f->rule].name,
		                 strlen(ag->rules.rule[f->rule].name));
		srv_copybin_text(b, (const char *)f->payload, f->payload_len);
		srv_copybin_i64(b, created_us - PG_EPOCH_US); /* timestamptz */
	}
	srv_copybin_trailer(b);
}

/* One alertgen_state row. */
static void
state_row(srv_copybuf *b, const char *rule, const char *wallet, size_t len, int armed, double score,
          int64_t watermark)
{
	srv_copybin_row(b, 5);
	srv_copybin_text(b, rule, strlen(rule));
	srv_copybin_text(b, wallet, len);
	srv_copybin_bool(b, armed);
	srv_copybin_f64(b, score);
	srv_copybin_i64(b, watermark);
}

/* The alert_state rows that change: fired (disarmed), re-armed, and the
 * mark of each rule established now. Returns the row count. */
static size_t
state_rows(srv_alertgen *ag, const srv_alertplan *pl, int64_t watermark, srv_copybuf *b)
{
	size_t n = 0;

	srv_copybin_header(b);
	for (size_t i = 0; i < pl->nfire; i++) {
		const srv_alertplan_fire *f = &pl->fire[i];
		if (f->deferred)
			continue;
		state_row(b, ag->rules.rule[f->rule].name, f->wallet, f->len, 0, f->score,
		          watermark);
		n++;
	}
	for (int r = 0; r < ag->rules.n; r++) {
		for (size_t i = 0; i < pl->nrearm[r]; i++) {
			const srv_alertset_entry *e =
			        srv_alertset_at(ag->set[r], pl->rearm[r][i].index);
			state_row(b, ag->rules.rule[r].name, e->wallet, e->len, 1,
			          pl->rearm[r][i].score, watermark);
			n++;
		}
		if (pl->establish[r]) {
			state_row(b, ag->rules.rule[r].name, "", 0, 1, 0.0, watermark);
			n++;
		}
	}
	srv_copybin_trailer(b);
	return n;
}

/* The configured rule names as a text[] literal (canonical names hold only
 * letters, digits and "<=>.+-", quoted all the same). */
static void
rule_array(const srv_alertgen *ag, char *buf, size_t cap)
{
	size_t len = (size_t)snprintf(buf, cap, "{");
	for (int r = 0; r < ag->rules.n && len < cap; r++)
		len += (size_t)snprintf(buf + len, cap - len, "%s\"%s\"", r > 0 ? "," : "",
		                        ag->rules.rule[r].name);
	if (len < cap)
		snprintf(buf + len, cap - len, "}");
}

/* The transaction of one update; ROLLBACK by the caller on error. */
static int
write_update(srv_alertgen *ag, PGconn *c, const srv_alertplan *pl, int64_t watermark, char *err,
             size_t errlen)
{
	char wm[32], rules[SRV_RULES_MAX * (SRV_RULE_NAME_MAX + 3) + 4];
	const char *lp[3] = {ag->model, ag->config_json, wm};
	const char *rp[1] = {rules};
	srv_copybuf b;
	int rv;

	snprintf(wm, sizeof(wm), "%" PRId64, watermark);
	amlrisk_buf_init(&b, 0);
	if ((rv = srv_db_exec(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		goto out;
	if (ag->reset &&
	    (rv = srv_db_exec(c, SQL_RESET, 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		goto out;
	rule_array(ag, rules, sizeof(rules));
	if (ag->purge &&
	    (rv = srv_db_exec(c, SQL_PURGE, 1, rp, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		goto out;
	if (pl->alerts > 0) {
		alert_rows(ag, pl, pl->created_us, &b);
		if ((rv = copy_in(c, SQL_COPY_ALERTS, &b, err, errlen)) != 0)
			goto out;
		b.len = 0;
	}
	if (state_rows(ag, pl, watermark, &b) > 0) {
		if ((rv = srv_db_exec(c, "SET LOCAL client_min_messages = warning", 0, NULL,
		                      PGRES_COMMAND_OK, NULL, err, errlen)) != 0 ||
		    (rv = srv_db_exec(c, SQL_TEMP, 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen)) !=
		            0 ||
		    (rv = copy_in(c, SQL_COPY_STATE, &b, err, errlen)) != 0 ||
		    (rv = srv_db_exec(c, SQL_UPSERT, 0, NULL, PGRES_COMMAND_OK, NULL, err,
		                      errlen)) != 0)
			goto out;
	}
	if ((rv = srv_db_exec(c, SQL_LIVE, 3, lp, PGRES_COMMAND_OK, NULL, err, errlen)) != 0)
		goto out;
	/* a connection lost during COMMIT leaves the outcome unknown: the caller
	 * reloads (srv_alertgen_load), and the stored state decides */
	rv = srv_db_exec(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
out:
	amlrisk_buf_free(&b);
	return rv;
}

/* After COMMIT: the plan becomes the in-memory state. Cannot fail (the
 * sets' room was reserved by the plan). */
static void
apply(srv_alertgen *ag, srv_alertplan *pl, const core_run_result *cur)
{
	for (int r = 0; r < ag->rules.n; r++) {
		/* descending indexes: the entry moved into a hole is never pending */
		for (size_t i = pl->nrearm[r]; i-- > 0;)
			srv_alertset_remove(ag->set[r], pl->rearm[r][i].index);
		if (pl->establish[r])
			ag->established[r] = true;
		ag->backlog[r] = pl->backlog[r];
	}
	for (size_t i = 0; i < pl->nfire; i++) {
		srv_alertplan_fire *f = &pl->fire[i];
		if (f->deferred)
			continue;
		srv_alertset_add(ag->set[f->rule], f->wallet, f->len, f->id, f->score);
		f->wallet = NULL; /* taken over */
	}
	core_run_result_unref(ag->last);
	ag->last = core_run_result_ref((core_run_result *)cur);
	/* the ids just added are cur's: valid on its descendants */
	core_graph_unref(ag->ids_graph);
	ag->ids_graph = core_graph_ref(core_run_result_graph(cur));
	ag->reset = false;
	ag->purge = false;
	ag->stats.commits++;
	ag->stats.alerts += pl->alerts;
	ag->stats.baseline += pl->silent;
	ag->stats.rearmed += pl->rearmed;
	ag->stats.deferred += pl->deferred;
}

int
srv_alertgen_commit(srv_alertgen *ag, PGconn *c, const core_run_result *prev,
                    const core_run_result *cur, int64_t watermark, uint32_t *fired, char *err,
                    size_t errlen)
{
	srv_alertplan pl;
	int64_t ignored;
	int rv;

	(void)prev; /* the base is the generator's own last committed result */
	if (!ag->loaded && (rv = srv_alertgen_load(ag, c, &ignored, err, errlen)) != 0)
		return rv;
	if ((rv = srv_alertplan_make(&pl, ag, cur, watermark, err, errlen)) != 0)
		return rv;
	rv = write_update(ag, c, &pl, watermark, err, errlen);
	if (rv != AMLRISK_OK) {
		srv_db_rollback(c);
		ag->stats.failures++;
		amlrisk_log(AMLRISK_LOG_WARN, "core", "alertgen.rollback",
		            "watermark=%" PRId64 " alerts=%zu error=\"%s\"", watermark, pl.alerts,
		            err);
		srv_alertplan_free(&pl);
		return rv;
	}
	apply(ag, &pl, cur);
	for (int r = 0; r < ag->rules.n; r++)
		if (pl.establish[r])
			amlrisk_log(AMLRISK_LOG_INFO, "core", "alertgen.baseline",
			            "rule=%s watermark=%" PRId64 " disarmed=%zu"
			            " (wallets already in at the first live view: no alert)",
			            ag->rules.rule[r].name, watermark,
			            srv_alertset_count(ag->set[r]));
	if (pl.deferred > 0) {
		int64_t now = (int64_t)srv_mono_ms();
		if (ag->last_log_ms == 0 || now - ag->last_log_ms >= LOG_EVERY_MS) {
			amlrisk_log(AMLRISK_LOG_WARN, "core", "alertgen.capped",
			            "watermark=%" PRId64
			            " alerts=%zu deferred=%zu deferred_total=%" PRIu64
			            " alerts_per_update_max=%" PRIu32 " alert_state_max=%" PRIu32
			            " (the riskiest go first; the rest follow in later updates)",
			            watermark, pl.alerts, pl.deferred, ag->stats.deferred,
			            ag->rules.per_update_max, ag->rules.state_max);
			ag->last_log_ms = now;
		}
	}
	if (fired != NULL)
		*fired = (uint32_t)pl.alerts;
	srv_alertplan_free(&pl);
	return AMLRISK_OK;
}
