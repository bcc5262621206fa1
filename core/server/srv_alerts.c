/* srv_alerts.c - ListAlerts: the risk alerts of the live view from the
 * risk_alerts outbox (004_risk_alerts.sql), filtered by wallet, rule and
 * time; newest first paged by before_id, or oldest first after after_id (a
 * stream's catch-up). One indexed statement per page plus the newest id. */
#include "srv_ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml/v1/alert.pb-c.h"
#include "amlrisk_err.h"
#include "rpc.h"
#include "srv_arena.h"

/* $1 wallet ("" any) $2 rule ("" any) $3 since_us $4 until_us (0 no bound)
 * $5 before_id $6 after_id (0 none) $7 rows. The order is a constant chosen
 * by the request's mode, never built from input. */
#define ALERTS_SQL_WHERE                                                                           \
	"SELECT id, payload, (extract(epoch FROM created_at) * 1000000)::bigint"                   \
	" FROM risk_alerts WHERE ($1 = '' OR wallet = $1) AND ($2 = '' OR rule = $2)"              \
	" AND ($3::bigint = 0 OR created_at >= to_timestamp($3::bigint / 1e6))"                    \
	" AND ($4::bigint = 0 OR created_at < to_timestamp($4::bigint / 1e6))"                     \
	" AND ($5::bigint = 0 OR id < $5::bigint) AND ($6::bigint = 0 OR id > $6::bigint)"
static const char *SQL_NEWEST_FIRST = ALERTS_SQL_WHERE " ORDER BY id DESC LIMIT $7";
static const char *SQL_OLDEST_FIRST = ALERTS_SQL_WHERE " ORDER BY id ASC LIMIT $7";
static const char *SQL_LAST_ID = "SELECT COALESCE(max(id), 0) FROM risk_alerts";

typedef struct alerts_arg {
	srv_arena *a;
	const Aml__V1__ListAlertsRequest *in;
	uint32_t limit;
	Aml__V1__ListAlertsResponse *resp;
} alerts_arg;

/* protobuf-c allocations from the request's arena (freed with it) */
static void *
arena_pb_alloc(void *data, size_t size)
{
	return srv_arena_alloc(data, size);
}

static void
arena_pb_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

/* Alert i of r decoded into the arena: the row's id and time win over the
 * payload's (the payload is written before its id is known). */
static int
alert_row(const PGresult *r, int i, srv_arena *a, Aml__V1__RiskAlert **out, char *err,
          size_t errlen)
{
	ProtobufCAllocator pa = {
	        .alloc = arena_pb_alloc, .free = arena_pb_free, .allocator_data = a};
	size_t len = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 1), &len);
	int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	if (raw == NULL) {
		snprintf(err, errlen, "list alerts: out of memory");
		return AMLRISK_ENOMEM;
	}
	*out = aml__v1__risk_alert__unpack(&pa, len, raw);
	PQfreemem(raw);
	if (*out == NULL) {
		snprintf(err, errlen, "list alerts: alert %lld: payload is not an aml.v1.RiskAlert",
		         (long long)id);
		return AMLRISK_EDB;
	}
	(*out)->alert_id = id;
	(*out)->created_at_us = strtoll(PQgetvalue(r, i, 2), NULL, 10);
	return AMLRISK_OK;
}

static int
db_alerts(PGconn *c, void *arg, char *err, size_t errlen)
{
	alerts_arg *h = arg;
	const Aml__V1__ListAlertsRequest *in = h->in;
	Aml__V1__ListAlertsResponse *resp = h->resp;
	char v[5][24];
	const char *p[7] = {in->wallet, in->rule, v[0], v[1], v[2], v[3], v[4]};
	PGresult *r = NULL;
	int rv, rows, oldest = in->after_id > 0;

	resp->n_alerts = 0; /* srv_with_db may call again on a fresh connection */
	resp->next_before_id = 0;
	snprintf(v[0], sizeof(v[0]), "%lld", (long long)in->since_us);
	snprintf(v[1], sizeof(v[1]), "%lld", (long long)in->until_us);
	snprintf(v[2], sizeof(v[2]), "%lld", (long long)in->before_id);
	snprintf(v[3], sizeof(v[3]), "%lld", (long long)in->after_id);
	snprintf(v[4], sizeof(v[4]), "%u", h->limit + 1); /* one more: is there a next page? */
	if ((rv = srv_db_exec(c, SQL_LAST_ID, 0, NULL, PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	resp->last_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if ((rv = srv_db_exec(c, oldest ? SQL_OLDEST_FIRST : SQL_NEWEST_FIRST, 7, p,
	                      PGRES_TUPLES_OK, &r, err, errlen)) != 0)
		return rv;
	rows = PQntuples(r);
	if ((uint32_t)rows > h->limit) {
		rows = (int)h->limit;
		if (!oldest)
			resp->next_before_id = strtoll(PQgetvalue(r, rows - 1, 0), NULL, 10);
	}
	resp->alerts = srv_arena_calloc(h->a, (size_t)rows + 1, sizeof(*resp->alerts));
	rv = resp->alerts != NULL ? AMLRISK_OK : AMLRISK_ENOMEM;
	if (rv == AMLRISK_ENOMEM)
		snprintf(err, errlen, "list alerts: out of memory");
	for (int i = 0; rv == AMLRISK_OK && i < rows; i++) {
		if ((rv = alert_row(r, i, h->a, &resp->alerts[i], err, errlen)) == AMLRISK_OK)
			resp->n_alerts = (size_t)i + 1;
	}
	PQclear(r);
	return rv;
}

/* The request's bounds; 0 or an error code with err set. */
static int
check_request(const Aml__V1__ListAlertsRequest *in, char *err, size_t errlen)
{
	if (in->limit > SRV_ALERTS_MAX) {
		snprintf(err, errlen, "limit: at most %d", SRV_ALERTS_MAX);
		return AMLRISK_EINVAL;
	}
	if (in->before_id < 0 || in->after_id < 0) {
		snprintf(err, errlen, "%s: must not be negative",
		         in->before_id < 0 ? "before_id" : "after_id");
		return AMLRISK_EINVAL;
	}
	if (in->since_us < 0 || in->until_us < 0) {
		snprintf(err, errlen, "%s: must not be negative",
		         in->since_us < 0 ? "since_us" : "until_us");
		return AMLRISK_EINVAL;
	}
	if (in->wallet[0] != '\0' && srv_wallet_check(in->wallet, err, errlen) != 0)
		return AMLRISK_EINVAL;
	if (strlen(in->rule) > SRV_ALERT_RULE_MAX) {
		snprintf(err, errlen, "rule: at most %d bytes", SRV_ALERT_RULE_MAX);
		return AMLRISK_EINVAL;
	}
	return AMLRISK_OK;
}

SRV_HANDLER(list_alerts, ListAlertsRequest, ListAlertsResponse)
{
	Aml__V1__ListAlertsResponse resp = AML__V1__LIST_ALERTS_RESPONSE__INIT;
	char err[SRV_ERR_MAX] = "";
	srv_arena a;
	alerts_arg h = {.a = &a,
	                .in = input,
	                .limit = input->limit != 0 ? input->limit : SRV_ALERTS_DEFAULT,
	                .resp = &resp};
	int rv;

	if ((rv = check_request(input, err, sizeof(err))) != AMLRISK_OK) {
		rpc_call_fail(closure_data, rv, "%s", err);
		return;
	}
	srv_arena_init(&a, 0);
	if ((rv = srv_with_db((srv_ctx *)service, closure_data, db_alerts, &h, err, sizeof(err))) !=
	    0)
		rpc_call_fail(closure_data, rv, "%s", err);
	else
		closure(&resp, closure_data);
	srv_arena_free(&a);
}
