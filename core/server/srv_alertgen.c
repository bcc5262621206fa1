/* srv_alertgen.c - the live view's commit step (srv_alertgen.h). This first
 * version records the live watermark only; rule evaluation and the alert
 * rows come with the alert generation work of issue 14. */
#include "srv_alertgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "srv_db.h"

struct srv_alertgen {
	srv_rules rules;
	char *model;
	char *config_json;
};

int
srv_alertgen_create(srv_alertgen **out, const srv_rules *rules, const char *model,
                    const char *config_json)
{
	srv_alertgen *ag = calloc(1, sizeof(*ag));

	if (ag == NULL)
		return AMLRISK_ENOMEM;
	if (rules != NULL)
		ag->rules = *rules;
	ag->model = strdup(model);
	ag->config_json = strdup(config_json);
	if (ag->model == NULL || ag->config_json == NULL) {
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
	free(ag->model);
	free(ag->config_json);
	free(ag);
}

int
srv_alertgen_load(srv_alertgen *ag, PGconn *c, int64_t *watermark, char *err, size_t errlen)
{
	static const char *SQL = "SELECT watermark FROM live_state"
	                         " WHERE id = 1 AND model = $1 AND config = $2::jsonb";
	const char *p[2] = {ag->model, ag->config_json};
	PGresult *res = NULL;
	int rv;

	if ((rv = srv_db_exec(c, SQL, 2, p, PGRES_TUPLES_OK, &res, err, errlen)) != 0)
		return rv;
	*watermark = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
	PQclear(res);
	return AMLRISK_OK;
}

int
srv_alertgen_commit(srv_alertgen *ag, PGconn *c, const core_run_result *prev,
                    const core_run_result *cur, int64_t watermark, uint32_t *fired, char *err,
                    size_t errlen)
{
	static const char *SQL = "INSERT INTO live_state (id, model, config, watermark, updated_at)"
	                         " VALUES (1, $1, $2::jsonb, $3, clock_timestamp())"
	                         " ON CONFLICT (id) DO UPDATE SET model = EXCLUDED.model,"
	                         " config = EXCLUDED.config, watermark = EXCLUDED.watermark,"
	                         " updated_at = EXCLUDED.updated_at";
	char wm[32];
	const char *p[3] = {ag->model, ag->config_json, wm};
	int rv;

	(void)prev;
	(void)cur;
	snprintf(wm, sizeof(wm), "%lld", (long long)watermark);
	rv = srv_db_exec(c, SQL, 3, p, PGRES_COMMAND_OK, NULL, err, errlen);
	if (rv == AMLRISK_OK && fired != NULL)
		*fired = 0;
	return rv;
}
