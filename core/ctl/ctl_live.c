/* ctl_live.c - amlctl's side of real-time scoring (issue 14): --live of top and
 * wallet (the view and the watermark it reflects) and the alerts command
 * (a page newest first, or --follow: new alerts as they are stored). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define TIMEOUT_MS      10000
#define FOLLOW_PAUSE_MS 250 /* between two ListAlerts calls of --follow */

int
ctl_live_view(const ctl_args *a, Aml__V1__ScoreView *view)
{
	*view = AML__V1__SCORE_VIEW__SCORE_VIEW_RUN;
	if (!a->live)
		return 0;
	if (a->run != NULL)
		return ctl_usage_error("--live reads the live view, which has no run: drop --run");
	*view = AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
	return 0;
}

void
ctl_print_live(const Aml__V1__LiveInfo *l)
{
	char t[40];

	if (l == NULL)
		return;
	ctl_kv("view", "live (%s)", l->model);
	ctl_kv("watermark", "%lld (updated %s)", (long long)l->watermark,
	       ctl_time(t, sizeof(t), l->updated_at_us));
	ctl_kv("graph", "watermark %lld, newest committed %lld", (long long)l->graph_watermark,
	       (long long)l->newest_sequence);
	ctl_kv("lag", "%llu rows, %.3f s%s", (unsigned long long)l->lag_rows, l->lag_seconds,
	       l->current ? " (current)" : "");
}

static volatile sig_atomic_t stop_follow;

static void
on_signal(int sig)
{
	(void)sig;
	stop_follow = 1;
}

/* One table row per alert, rows[from] to rows[to - 1] stepping by step. */
static void
print_alerts(Aml__V1__RiskAlert *const *rows, long from, long to, long step)
{
	static const char *const H[] = {"#ID",       "CREATED", "WALLET",     "RULE", "#SCORE",
	                                "#PREVIOUS", "#RANK",   "#WATERMARK", "MODEL"};
	ctl_table *t = ctl_table_create(9, H);

	for (long i = from; i != to; i += step) {
		const Aml__V1__RiskAlert *al = rows[i];
		char id[24], cr[40], sc[40], pr[40], rk[24], wm[24];
		snprintf(id, sizeof(id), "%lld", (long long)al->alert_id);
		snprintf(rk, sizeof(rk), "%llu", (unsigned long long)al->rank);
		snprintf(wm, sizeof(wm), "%lld", (long long)al->watermark);
		ctl_table_row(t, id, ctl_time(cr, sizeof(cr), al->created_at_us), al->wallet,
		              al->rule, ctl_num(sc, sizeof(sc), al->score),
		              ctl_num(pr, sizeof(pr), al->previous_score), rk, wm, al->model);
	}
	ctl_table_print(t);
}

/* --json --follow: one alert per line. */
static void
print_alert_lines(Aml__V1__RiskAlert *const *rows, long from, long to, long step)
{
	for (long i = from; i != to; i += step) {
		json_t *j = ctl_json_from_msg(&rows[i]->base);
		char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(j);
	}
	fflush(stdout);
}

/* --follow: every FOLLOW_PAUSE_MS the alerts after the newest seen, oldest
 * first, until SIGINT or SIGTERM (exit 0) or a failed call (exit 1). */
static int
follow(const ctl_args *a, Aml__V1__ListAlertsRequest *req, int64_t last)
{
	struct timespec pause = {0, FOLLOW_PAUSE_MS * 1000000L};

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	req->before_id = 0;
	while (!stop_follow) {
		Aml__V1__ListAlertsResponse *r = NULL;

		req->after_id = last;
		if (ctl_call(a, "ListAlerts", &req->base, (ProtobufCMessage **)&r, TIMEOUT_MS) != 0)
			return 1;
		if (r->n_alerts > 0) {
			if (a->json)
				print_alert_lines(r->alerts, 0, (long)r->n_alerts, 1);
			else
				print_alerts(r->alerts, 0, (long)r->n_alerts, 1);
			fflush(stdout);
			last = r->alerts[r->n_alerts - 1]->alert_id;
		}
		aml__v1__list_alerts_response__free_unpacked(r, NULL);
		if (!stop_follow)
			nanosleep(&pause, NULL);
	}
	return 0;
}

int
ctl_cmd_alerts(const ctl_args *a)
{
	Aml__V1__ListAlertsRequest req = AML__V1__LIST_ALERTS_REQUEST__INIT;
	Aml__V1__ListAlertsResponse *r = NULL;
	int64_t last;
	long n;

	if (ctl_opt_u32("--limit", a->limit, &req.limit) != 0 ||
	    ctl_opt_i64("--before", a->before, &req.before_id) != 0)
		return 2;
	if (req.limit > 1000)
		return ctl_usage_error("--limit: at most 1000");
	if (a->follow && a->before != NULL)
		return ctl_usage_error("--follow starts from the newest alerts: drop --before");
	req.wallet = (char *)(a->wallet != NULL ? a->wallet : "");
	req.rule = (char *)(a->rule != NULL ? a->rule : "");
	if (ctl_call(a, "ListAlerts", &req.base, (ProtobufCMessage **)&r, TIMEOUT_MS) != 0)
		return 1;
	n = (long)r->n_alerts;
	last = r->last_id;
	if (a->follow) {
		/* the latest page oldest first, then what comes */
		if (a->json)
			print_alert_lines(r->alerts, n - 1, -1, -1);
		else
			print_alerts(r->alerts, n - 1, -1, -1);
		fflush(stdout);
		if (n > 0 && r->alerts[0]->alert_id > last)
			last = r->alerts[0]->alert_id;
		aml__v1__list_alerts_response__free_unpacked(r, NULL);
		return follow(a, &req, last);
	}
	if (a->json) {
		ctl_json_print(ctl_json_from_msg(&r->base));
	} else {
		print_alerts(r->alerts, 0, n, 1);
		if (n == 0)
			printf("no alerts\n");
		if (r->next_before_id != 0)
			printf("more: amlctl alerts --before %lld\n", (long long)r->next_before_id);
	}
	aml__v1__list_alerts_response__free_unpacked(r, NULL);
	return 0;
}
