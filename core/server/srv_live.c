/* srv_live.c - one live update: labels, full re-scoring, the alertgen commit,
 * the run readers get. A result scored but not committed (database down) is
 * kept and committed as is when the graph has not moved meanwhile. */
#include "srv_live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "srv_alertgen.h"
#include "srv_load.h"
#include "srv_time.h"

struct srv_live {
	core_config cfg;
	char cfg_json[CORE_CONFIG_JSON_MAX];
	unsigned threads;
	size_t labels_max;
	srv_alertgen *ag;
	bool loaded;              /* alert state read since start or the last failure */
	core_run_result *last;    /* committed (one reference); NULL before the first */
	core_run_result *pending; /* scored, not committed yet (one reference) */
	bool unrecorded;          /* last was published by a non-writer, not committed */
};

int
srv_live_create(srv_live **out, const core_config *cfg, const srv_rules *rules, unsigned threads,
                size_t labels_max)
{
	srv_live *lv = calloc(1, sizeof(*lv));
	int rv;

	if (lv == NULL)
		return AMLRISK_ENOMEM;
	lv->cfg = *cfg;
	lv->threads = threads;
	lv->labels_max = labels_max;
	if ((rv = core_config_to_json(cfg, lv->cfg_json, sizeof(lv->cfg_json), NULL)) != 0 ||
	    (rv = srv_alertgen_create(&lv->ag, rules, core_model_name(cfg->model), lv->cfg_json)) !=
	            0) {
		srv_live_destroy(lv);
		return rv;
	}
	*out = lv;
	return AMLRISK_OK;
}

void
srv_live_destroy(srv_live *lv)
{
	if (lv == NULL)
		return;
	srv_alertgen_destroy(lv->ag);
	core_run_result_unref(lv->last);
	core_run_result_unref(lv->pending);
	free(lv);
}

const char *
srv_live_model(const srv_live *lv)
{
	return core_model_name(lv->cfg.model);
}

const char *
srv_live_config_json(const srv_live *lv)
{
	return lv->cfg_json;
}

void
srv_live_alert_stats(const srv_live *lv, srv_alertgen_stats *out)
{
	srv_alertgen_stats_get(lv->ag, out);
}

int
srv_live_load(srv_live *lv, PGconn *c, int64_t *watermark, char *err, size_t errlen)
{
	int rv = srv_alertgen_load(lv->ag, c, watermark, err, errlen);

	lv->loaded = rv == AMLRISK_OK;
	return rv;
}

bool
srv_live_needs_load(const srv_live *lv)
{
	return !lv->loaded;
}

bool
srv_live_stale(const srv_live *lv, const core_graph *g, bool record)
{
	return lv->last == NULL || core_run_result_graph(lv->last) != g ||
	       (record && lv->unrecorded);
}

/* The run readers see: the result with a summary naming the live view. */
static int
make_run(const srv_live *lv, core_run_result *res, const srv_graph_info *info, srv_run **out)
{
	srv_summary sum = {0};

	sum.status = SRV_RUN_COMPLETED;
	sum.created_us = sum.completed_us = srv_unix_us();
	sum.model = core_model_name(lv->cfg.model);
	sum.config_json = lv->cfg_json;
	sum.tx_source = "";
	sum.labels_json = "";
	sum.error = "";
	sum.watermark = info->watermark;
	sum.transactions = info->transactions;
	sum.wallets = core_run_result_count(res);
	sum.illicit = core_run_result_illicit_count(res);
	sum.load_s = info->load_s;
	sum.score_s = core_run_result_seconds(res);
	return srv_run_from_result(out, &sum, res);
}

int
srv_live_update(srv_live *lv, PGconn *c, core_graph *g, const srv_graph_info *info, bool record,
                srv_run **out, uint32_t *fired, char *err, size_t errlen)
{
	core_labels *labels = NULL;
	char *labels_json = NULL;
	const core_run_result *prev = lv->last;
	srv_run *run = NULL;
	int rv;

	*fired = 0;
	if (lv->pending != NULL && core_run_result_graph(lv->pending) != g) {
		core_run_result_unref(lv->pending);
		lv->pending = NULL;
	}
	if (lv->pending == NULL && lv->last != NULL && core_run_result_graph(lv->last) == g)
		lv->pending = core_run_result_ref(lv->last); /* a reader's view, now recorded */
	if (lv->pending == NULL) {
		if (lv->cfg.use_labels && (rv = srv_load_labels(c, lv->labels_max, &labels,
		                                                &labels_json, err, errlen)) != 0)
			goto out;
		if ((rv = core_score_run(&lv->pending, g, &lv->cfg, labels, lv->threads, err,
		                         errlen)) != 0)
			goto out;
	}
	/* alerts compare with the previous view only along one chain of appends;
	 * after a ReloadGraph the stored alert state is the only history */
	if (prev != NULL && !core_graph_descends(g, core_run_result_graph(prev)))
		prev = NULL;
	if ((rv = make_run(lv, lv->pending, info, &run)) != 0) {
		snprintf(err, errlen, "live: %s", amlrisk_strerror(rv));
		goto out;
	}
	if (!record) {
		/* not the writer: the view is served, the writer records and alerts;
		 * the stored state is read again before this instance records */
		lv->loaded = false;
	} else if ((rv = srv_alertgen_commit(lv->ag, c, prev, lv->pending, info->watermark, fired,
	                                     err, errlen)) != 0) {
		lv->loaded = false;
		goto out;
	}
	lv->unrecorded = !record;
	core_run_result_unref(lv->last);
	lv->last = lv->pending;
	lv->pending = NULL;
	*out = run;
	run = NULL;
out:
	srv_run_unref(run);
	core_labels_destroy(labels);
	free(labels_json);
	return rv;
}
