/* ctl_cmds.c - amlctl's commands: each builds its request, makes one RPC (or,
 * for migrate, talks to PostgreSQL) and prints the answer as a table or JSON. */
#include "ctl.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "amlrisk_pg.h"
#include "rpc_multi.h"
#include "sql_migrate.h"

#define TIMEOUT_READ_MS  10000
#define TIMEOUT_WRITE_MS 3600000
#define OVERRIDES_MAX    4096

int
ctl_fail(const ctl_args *a, const char *code, const char *msg)
{
	fprintf(stderr, "amlctl: %s: %s\n", code, msg);
	if (a->json) {
		json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
		if (e != NULL)
			ctl_json_print(e);
	}
	return 1;
}

int
ctl_call(const ctl_args *a, const char *method, const ProtobufCMessage *req,
         ProtobufCMessage **resp, int default_timeout_ms)
{
	rpc_client_opts o = {0};
	/* the write calls run at most once, and once more with the same call id
	 * should the connection drop while they run; with several cores they go
	 * to the writer */
	bool write = strcmp(method, "ReloadGraph") == 0 || strcmp(method, "RunScore") == 0;
	rpc_call_opts co = {.once = write, .retries = 1};
	rpc_multi *m = NULL;
	rpc_secret secret;
	char msg[1024], why[512];
	int rv;

	if (rpc_secret_from_env(&secret, msg, sizeof(msg)) != 0)
		return ctl_fail(a, "EINVAL", msg);
	o.caller = "amlctl";
	o.timeout_ms = a->timeout_ms > 0 ? a->timeout_ms : default_timeout_ms;
	o.secret = secret.current[0] != '\0' ? secret.current : NULL;
	o.tls_ca_file = getenv("RPC_TLS_CA");
	o.tls_cert_key_file = getenv("RPC_TLS_CERT_KEY");
	o.tls_server_name = getenv("RPC_TLS_SERVER_NAME");
	if ((rv = rpc_multi_create(&m, a->url, &o, why, sizeof(why))) != 0) {
		snprintf(msg, sizeof(msg), "--url / RPC_URL: %s", why);
		return ctl_fail(a, amlrisk_errname(rv), msg);
	}
	if (write)
		rv = rpc_multi_write(m, &aml__v1__risk_service__descriptor, method, req, resp, &co,
		                     msg, sizeof(msg));
	else
		rv = rpc_multi_read(m, &aml__v1__risk_service__descriptor, method, req, resp,
		                    o.timeout_ms, 0, msg, sizeof(msg));
	rpc_multi_destroy(m);
	if (rv != 0)
		return ctl_fail(a, amlrisk_grpc_name(rv), msg);
	return 0;
}

/* Strict decimal in [lo, hi] for option name. */
static int
num_arg(const char *name, const char *s, long long lo, long long hi, long long *out)
{
	int64_t v;

	if (amlrisk_parse_i64(&v, s, lo, hi) != AMLRISK_OK)
		return ctl_usage_error("%s: '%s' is not an integer in [%lld, %lld]", name, s, lo,
		                       hi);
	*out = v;
	return 0;
}

int
ctl_opt_u32(const char *name, const char *s, uint32_t *out)
{
	long long v = 0;

	if (s != NULL && num_arg(name, s, 0, UINT32_MAX, &v) != 0)
		return 2;
	*out = (uint32_t)v;
	return 0;
}

int
ctl_opt_i64(const char *name, const char *s, int64_t *out)
{
	long long v = 0;

	if (s != NULL && num_arg(name, s, 0, INT64_MAX, &v) != 0)
		return 2;
	*out = v;
	return 0;
}

static void
print_json(const ProtobufCMessage *m)
{
	ctl_json_print(ctl_json_from_msg(m));
}

static const char *
fmt6(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.6g", v);
	return buf;
}

/* c_0/c_1/... of a wallet */
static const char *
counts_str(char *buf, size_t len, const Aml__V1__WalletScore *w)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < w->n_hops && off < len; k++)
		off += (size_t)snprintf(buf + off, len - off, "%s%llu", k ? "/" : "",
		                        (unsigned long long)w->hops[k]->illicit_count);
	return buf;
}

static void
print_run(const Aml__V1__RunSummary *r)
{
	char t1[40], t2[40];

	ctl_kv("run", "%lld", (long long)r->run_id);
	ctl_kv("status", "%s", r->status);
	ctl_kv("created", "%s", ctl_time(t1, sizeof(t1), r->created_at_us));
	ctl_kv("completed", "%s", ctl_time(t2, sizeof(t2), r->completed_at_us));
	ctl_kv("model", "%s", r->model);
	ctl_kv("config", "%s", r->config_json);
	ctl_kv("tx_source", "%s", r->tx_source);
	ctl_kv("watermark", "%lld", (long long)r->watermark);
	ctl_kv("transactions", "%llu", (unsigned long long)r->transactions);
	ctl_kv("wallets", "%llu", (unsigned long long)r->wallets);
	ctl_kv("illicit", "%llu", (unsigned long long)r->illicit);
	ctl_kv("seconds", "load %.3f, score %.3f, store %.3f", r->load_seconds, r->score_seconds,
	       r->store_seconds);
	ctl_kv("pinned", "%s", r->pinned ? "yes (never pruned)" : "no");
	if (r->error != NULL && *r->error != '\0')
		ctl_kv("error", "%s", r->error);
}

static void
print_graph_info(const Aml__V1__GraphInfo *g)
{
	char t[40];

	if (g == NULL || !g->loaded) {
		ctl_kv("graph", "not loaded");
		return;
	}
	ctl_kv("graph", "%llu wallets, %llu edges, %llu transactions",
	       (unsigned long long)g->wallets, (unsigned long long)g->edges,
	       (unsigned long long)g->transactions);
	ctl_kv("watermark", "%lld", (long long)g->watermark);
	ctl_kv("loaded", "%s in %.3f s", ctl_time(t, sizeof(t), g->loaded_at_us), g->load_seconds);
}

static int
cmd_health(const ctl_args *a)
{
	Aml__V1__HealthRequest req = AML__V1__HEALTH_REQUEST__INIT;
	Aml__V1__HealthResponse *r = NULL;
	char t[40];

	if (ctl_call(a, "Health", &req.base, (ProtobufCMessage **)&r, TIMEOUT_READ_MS) != 0)
		return 1;
	if (a->json) {
		print_json(&r->base);
	} else {
		ctl_kv("status", "%s", r->status);
		ctl_kv("database", "%s%s%s", r->database_ok ? "ok" : "unavailable",
		       r->database_ok ? "" : ": ", r->database_ok ? "" : r->database_error);
		print_graph_info(r->graph);
		if (r->latest_run != NULL)
			ctl_kv("latest run", "%lld (completed %s, %llu wallets)",
			       (long long)r->latest_run->run_id,
			       ctl_time(t, sizeof(t), r->latest_run->completed_at_us),
			       (unsigned long long)r->latest_run->wallets);
		else
			ctl_kv("latest run", "none");
		ctl_kv("version", "%s", r->version);
		ctl_kv("uptime", "%.1f s", r->uptime_seconds);
		if (r->role[0] != '\0')
			ctl_kv("instance", "%s, %s (writer: %s)", r->instance_id, r->role,
			       r->writer_id[0] != '\0' ? r->writer_id : "unknown");
		if (r->rpc != NULL)
			ctl_kv("rpc refused",
			       "%llu unauthenticated, %llu malformed or too big, "
			       "%llu late",
			       (unsigned long long)r->rpc->unauthenticated,
			       (unsigned long long)r->rpc->rejected,
			       (unsigned long long)r->rpc->late);
	}
	aml__v1__health_response__free_unpacked(r, NULL);
	return 0;
}

static int
cmd_reload(const ctl_args *a)
{
	Aml__V1__ReloadGraphRequest req = AML__V1__RELOAD_GRAPH_REQUEST__INIT;
	Aml__V1__ReloadGraphResponse *r = NULL;

	if (ctl_call(a, "ReloadGraph", &req.base, (ProtobufCMessage **)&r, TIMEOUT_WRITE_MS) != 0)
		return 1;
	if (a->json) {
		print_json(&r->base);
	} else {
		print_graph_info(r->graph);
		ctl_kv("elapsed", "%.3f s", r->elapsed_seconds);
	}
	aml__v1__reload_graph_response__free_unpacked(r, NULL);
	return 0;
}

/* Appends ,"key":value to buf (value already JSON). */
static int
add_key(char *buf, size_t len, const char *key, const char *value)
{
	size_t off = strlen(buf);
	int n = snprintf(buf + off, len - off, "%s\"%s\":%s", off > 1 ? "," : "", key, value);

	return n < 0 || (size_t)n >= len - off ? ctl_usage_error("overrides too long") : 0;
}

/* A strict finite number argument, as JSON text in out. */
static int
json_number(const char *name, const char *s, char *out, size_t len)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !isfinite(v))
		return ctl_usage_error("%s: '%s' is not a number", name, s);
	ctl_num(out, len, v);
	return 0;
}

/* A JSON string of s in out. */
static int
json_str(const char *s, char *out, size_t len)
{
	json_t *v = json_string(s);
	char *t = v != NULL ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
	int rv = t != NULL && strlen(t) < len ? 0 : ctl_usage_error("bad string '%s'", s);

	if (rv == 0)
		snprintf(out, len, "%s", t);
	free(t);
	json_decref(v);
	return rv;
}

/* The overrides JSON object from the score flags. */
static int
score_overrides(const ctl_args *a, char *buf, size_t len)
{
	char v[OVERRIDES_MAX];

	snprintf(buf, len, "{");
	if (a->model != NULL &&
	    (json_str(a->model, v, sizeof(v)) != 0 || add_key(buf, len, "model", v) != 0))
		return 2;
	if (a->hop_weights != NULL) {
		char tmp[OVERRIDES_MAX], *save = NULL, *tok;
		size_t off = 1;
		snprintf(tmp, sizeof(tmp), "%s", a->hop_weights);
		v[0] = '[';
		v[1] = '\0';
		for (tok = strtok_r(tmp, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save)) {
			char num[40];
			if (json_number("--hop-weights", tok, num, sizeof(num)) != 0)
				return 2;
			off += (size_t)snprintf(v + off, sizeof(v) - off, "%s%s",
			                        off > 1 ? "," : "", num);
			if (off >= sizeof(v) - 2)
				return ctl_usage_error("--hop-weights: too long");
		}
		snprintf(v + off, sizeof(v) - off, "]");
		if (add_key(buf, len, "hop_weights", v) != 0)
			return 2;
	}
	if (a->direction != NULL &&
	    (json_str(a->direction, v, sizeof(v)) != 0 || add_key(buf, len, "direction", v) != 0))
		return 2;
	if (a->count != NULL &&
	    (json_str(a->count, v, sizeof(v)) != 0 || add_key(buf, len, "count", v) != 0))
		return 2;
	if (a->illicit_ratio != NULL &&
	    (json_number("--illicit-ratio", a->illicit_ratio, v, sizeof(v)) != 0 ||
	     add_key(buf, len, "illicit_ratio", v) != 0))
		return 2;
	if (a->illicit_seed != NULL) {
		/* a uint64 does not fit a JSON double or jansson integer: pass the digits */
		if (strspn(a->illicit_seed, "0123456789") != strlen(a->illicit_seed) ||
		    *a->illicit_seed == '\0' || strlen(a->illicit_seed) > 20)
			return ctl_usage_error("--illicit-seed: '%s' is not a decimal uint64",
			                       a->illicit_seed);
		if (add_key(buf, len, "illicit_seed", a->illicit_seed) != 0)
			return 2;
	}
	if (a->no_degree_normalize && add_key(buf, len, "degree_normalize", "false") != 0)
		return 2;
	if (a->hops != NULL) {
		long long k = 0;
		/* the range (1..32) is the server's to check, naming the key */
		if (num_arg("--hops", a->hops, 0, INT32_MAX, &k) != 0)
			return 2;
		snprintf(v, sizeof(v), "%lld", k);
		if (add_key(buf, len, "hops", v) != 0)
			return 2;
	}
	if (a->side != NULL &&
	    (json_str(a->side, v, sizeof(v)) != 0 || add_key(buf, len, "side", v) != 0))
		return 2;
	if (a->smoothing != NULL && (json_number("--smoothing", a->smoothing, v, sizeof(v)) != 0 ||
	                             add_key(buf, len, "smoothing", v) != 0))
		return 2;
	if (a->no_labels && add_key(buf, len, "use_labels", "false") != 0)
		return 2;
	if (strlen(buf) + 2 > len)
		return ctl_usage_error("overrides too long");
	strcat(buf, "}");
	if (strcmp(buf, "{}") == 0)
		buf[0] = '\0';
	return 0;
}

static int
cmd_score(const ctl_args *a)
{
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *r = NULL;
	char overrides[OVERRIDES_MAX];

	if (a->config_json != NULL) {
		if (a->hop_weights || a->direction || a->count || a->illicit_ratio ||
		    a->illicit_seed || a->no_degree_normalize || a->no_labels || a->model ||
		    a->hops || a->side || a->smoothing)
			return ctl_usage_error("--config-json replaces the other score options");
		req.config_overrides_json = (char *)a->config_json;
	} else {
		if (score_overrides(a, overrides, sizeof(overrides)) != 0)
			return 2;
		req.config_overrides_json = overrides;
	}
	if (ctl_call(a, "RunScore", &req.base, (ProtobufCMessage **)&r, TIMEOUT_WRITE_MS) != 0)
		return 1;
	if (a->json) {
		print_json(&r->base);
	} else {
		if (r->run != NULL)
			print_run(r->run);
		ctl_kv("elapsed", "%.3f s", r->elapsed_seconds);
	}
	aml__v1__run_score_response__free_unpacked(r, NULL);
	return 0;
}

/* Whether w is a flow_exposure/v1 row (hop rows leave the model empty). */
static bool
is_flow(const Aml__V1__WalletScore *w)
{
	return w->model != NULL && strcmp(w->model, "flow_exposure/v1") == 0;
}

/* The top table's rows: hop_exposure/v1 with exposures and c_0/../c_K,
 * flow_exposure/v1 with the received and sent exposures. */
static void
print_top(const Aml__V1__TopScoresResponse *r)
{
	static const char *const HH[] = {"#RANK", "WALLET", "#RISK_SCORE", "#EXPOSURES",
	                                 "#IN",   "#OUT",   "ILLICIT",     "C_0/../C_K"};
	static const char *const HF[] = {"#RANK", "WALLET", "#RISK_SCORE", "#RECEIVED",
	                                 "#SENT", "#IN",    "#OUT",        "ILLICIT"};
	bool flow = r->n_scores > 0 && is_flow(r->scores[0]);
	ctl_table *t = ctl_table_create(8, flow ? HF : HH);

	if (r->live == NULL)
		printf("run %lld%s\n", (long long)r->run_id, flow ? " (flow_exposure/v1)" : "");
	for (size_t i = 0; i < r->n_scores; i++) {
		const Aml__V1__WalletScore *w = r->scores[i];
		char rank[24], sc[32], ex[24], in[16], out[16], cs[256], re[32], se[32];
		snprintf(rank, sizeof(rank), "%zu", i + 1);
		snprintf(in, sizeof(in), "%u", w->in_degree);
		snprintf(out, sizeof(out), "%u", w->out_degree);
		fmt6(sc, sizeof(sc), w->risk_score);
		if (flow) {
			ctl_table_row(t, rank, w->wallet, sc,
			              fmt6(re, sizeof(re), w->received_exposure),
			              fmt6(se, sizeof(se), w->sent_exposure), in, out,
			              w->is_illicit ? "yes" : "no");
			continue;
		}
		snprintf(ex, sizeof(ex), "%llu", (unsigned long long)w->exposures);
		ctl_table_row(t, rank, w->wallet, sc, ex, in, out, w->is_illicit ? "yes" : "no",
		              counts_str(cs, sizeof(cs), w));
	}
	ctl_table_print(t);
}

static int
cmd_top(const ctl_args *a)
{
	Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
	Aml__V1__TopScoresResponse *r = NULL;

	if (ctl_opt_u32("-n", a->n, &req.n) != 0 ||
	    ctl_opt_i64("--run", a->run, &req.run_id) != 0 || ctl_live_view(a, &req.view) != 0)
		return 2;
	if (ctl_call(a, "TopScores", &req.base, (ProtobufCMessage **)&r, TIMEOUT_READ_MS) != 0)
		return 1;
	if (a->live && r->live == NULL) {
		aml__v1__top_scores_response__free_unpacked(r, NULL);
		return ctl_fail(a, "FAILED_PRECONDITION", CTL_LIVE_OFF);
	}
	if (a->json) {
		print_json(&r->base);
	} else {
		ctl_print_live(r->live);
		print_top(r);
	}
	aml__v1__top_scores_response__free_unpacked(r, NULL);
	return 0;
}

/* A flow_exposure/v1 row's per-hop shares R_k, S_k as a table. */
static void
print_flow_hops(const Aml__V1__WalletScore *w)
{
	static const char *const H[] = {"#HOP", "#RECEIVED", "#SENT"};
	ctl_table *t = ctl_table_create(3, H);

	for (size_t k = 0; k < w->n_flow_hops; k++) {
		char hop[16], re[40], se[40];
		snprintf(hop, sizeof(hop), "%u", w->flow_hops[k]->hop);
		ctl_table_row(t, hop, ctl_num(re, sizeof(re), w->flow_hops[k]->received),
		              ctl_num(se, sizeof(se), w->flow_hops[k]->sent));
	}
	ctl_table_print(t);
}

static void
print_wallet(const Aml__V1__WalletScore *w)
{
	static const char *const H[] = {"#HOP", "#WEIGHT", "#ILLICIT_COUNT"};
	char num[40];
	ctl_table *t;

	ctl_kv("wallet", "%s", w->wallet);
	ctl_kv("model", "%s", is_flow(w) ? w->model : "hop_exposure/v1");
	ctl_kv("risk_score", "%s", ctl_num(num, sizeof(num), w->risk_score));
	if (is_flow(w)) {
		ctl_kv("received", "%s", ctl_num(num, sizeof(num), w->received_exposure));
		ctl_kv("sent", "%s", ctl_num(num, sizeof(num), w->sent_exposure));
	} else {
		ctl_kv("exposures", "%llu", (unsigned long long)w->exposures);
	}
	ctl_kv("degree", "in %u, out %u", w->in_degree, w->out_degree);
	ctl_kv("illicit", "%s", w->is_illicit ? "yes" : "no");
	if (is_flow(w)) {
		print_flow_hops(w);
		return;
	}
	t = ctl_table_create(3, H);
	for (size_t k = 0; k < w->n_hops; k++) {
		char hop[16], wt[40], c[24];
		snprintf(hop, sizeof(hop), "%u", w->hops[k]->hop);
		snprintf(c, sizeof(c), "%llu", (unsigned long long)w->hops[k]->illicit_count);
		ctl_table_row(t, hop, ctl_num(wt, sizeof(wt), w->hops[k]->weight), c);
	}
	ctl_table_print(t);
}

static int
cmd_wallet(const ctl_args *a)
{
	Aml__V1__GetWalletScoreRequest req = AML__V1__GET_WALLET_SCORE_REQUEST__INIT;
	Aml__V1__GetWalletScoreResponse *r = NULL;

	if (ctl_opt_i64("--run", a->run, &req.run_id) != 0 || ctl_live_view(a, &req.view) != 0)
		return 2;
	req.wallet = (char *)a->operand[0];
	if (ctl_call(a, "GetWalletScore", &req.base, (ProtobufCMessage **)&r, TIMEOUT_READ_MS) != 0)
		return 1;
	if (a->live && r->live == NULL) {
		aml__v1__get_wallet_score_response__free_unpacked(r, NULL);
		return ctl_fail(a, "FAILED_PRECONDITION", CTL_LIVE_OFF);
	}
	if (a->json) {
		print_json(&r->base);
	} else if (r->live != NULL) {
		ctl_print_live(r->live);
		if (r->score != NULL)
			print_wallet(r->score);
	} else {
		ctl_kv("run", "%lld", (long long)r->run_id);
		if (r->score != NULL)
			print_wallet(r->score);
	}
	aml__v1__get_wallet_score_response__free_unpacked(r, NULL);
	return 0;
}

/* hop_exposure/v1's explain: per hop counts and contributions, then each
 * listed source with its shortest path. */
static void
print_explain_hop(const Aml__V1__ExplainWalletResponse *r)
{
	static const char *const H[] = {"#HOP",   "#WEIGHT",       "#EXACT",
	                                "#COUNT", "#CONTRIBUTION", "#LISTED"};
	ctl_table *t = ctl_table_create(6, H);
	char num[40];

	ctl_kv("normaliser", "%s", ctl_num(num, sizeof(num), r->normaliser));
	ctl_kv("config", "%s", r->config_json);
	for (size_t k = 0; k < r->n_hops; k++) {
		const Aml__V1__ExplainHop *h = r->hops[k];
		char hop[16], w[40], ex[24], c[24], con[40], l[32];
		snprintf(hop, sizeof(hop), "%u", h->hop);
		snprintf(ex, sizeof(ex), "%llu", (unsigned long long)h->exact_count);
		snprintf(c, sizeof(c), "%llu", (unsigned long long)h->count);
		snprintf(l, sizeof(l), "%zu%s", h->n_sources, h->truncated ? "+" : "");
		ctl_table_row(t, hop, ctl_num(w, sizeof(w), h->weight), ex, c,
		              fmt6(con, sizeof(con), h->contribution), l);
	}
	ctl_table_print(t);
	if (r->capped)
		printf("capped: the search stopped at the server's work bound; the counts are"
		       " those reached\n");
	for (size_t k = 0; k < r->n_hops; k++) {
		for (size_t i = 0; i < r->hops[k]->n_sources; i++) {
			const Aml__V1__ExplainSource *s = r->hops[k]->sources[i];
			printf("hop %u: %s (%s):", r->hops[k]->hop, s->wallet, s->direction);
			for (size_t j = 0; j < s->n_path; j++)
				printf("%s%s", j ? " - " : " ", s->path[j]);
			printf("\n");
		}
	}
}

/* flow_exposure/v1's explain: the exposures, per hop R_k and S_k, the
 * contributors with their heaviest walks, and the rest as one line. */
static void
print_explain_flow(const Aml__V1__ExplainWalletResponse *r)
{
	static const char *const H[] = {"SOURCE", "SIDE", "#CONTRIBUTION", "#WALK_WEIGHT", "WALK"};
	ctl_table *t = ctl_table_create(5, H);
	char num[40];

	if (r->score != NULL) {
		ctl_kv("received", "%s", ctl_num(num, sizeof(num), r->score->received_exposure));
		ctl_kv("sent", "%s", ctl_num(num, sizeof(num), r->score->sent_exposure));
	}
	ctl_kv("config", "%s", r->config_json);
	if (r->score != NULL)
		print_flow_hops(r->score);
	printf("\n");
	for (size_t i = 0; i < r->n_contributors; i++) {
		const Aml__V1__ExplainContributor *c = r->contributors[i];
		char con[40], ww[40], walk[1024];
		size_t off = 0;
		walk[0] = '\0';
		for (size_t j = 0; j < c->n_walk && off < sizeof(walk); j++)
			off += (size_t)snprintf(walk + off, sizeof(walk) - off, "%s%s",
			                        j ? " -> " : "", c->walk[j]);
		ctl_table_row(t, c->source, c->side, fmt6(con, sizeof(con), c->contribution),
		              fmt6(ww, sizeof(ww), c->walk_weight), walk);
	}
	ctl_table_print(t);
	/* the table shows 6 digits: a rest below the spec's 1e-9 of the score
	 * is the rounding of the sum, not a contributor left out (--json has it) */
	double others = r->others;
	if (r->score != NULL && fabs(others) <= 1e-9 * fabs(r->score->risk_score))
		others = 0;
	printf("others: %s%s%s\n", fmt6(num, sizeof(num), others),
	       r->truncated ? " (more contributors than listed)" : "",
	       r->capped ? " (tracing stopped at the server's work bound)" : "");
}

static int
cmd_explain(const ctl_args *a)
{
	Aml__V1__ExplainWalletRequest req = AML__V1__EXPLAIN_WALLET_REQUEST__INIT;
	Aml__V1__ExplainWalletResponse *r = NULL;
	char num[40];

	if (ctl_opt_u32("--sources", a->sources, &req.max_sources_per_hop) != 0)
		return 2;
	req.wallet = (char *)a->operand[0];
	if (ctl_call(a, "ExplainWallet", &req.base, (ProtobufCMessage **)&r, TIMEOUT_READ_MS) != 0)
		return 1;
	if (a->json) {
		print_json(&r->base);
	} else {
		ctl_kv("run", "%lld", (long long)r->run_id);
		ctl_kv("model", "%s", r->model);
		if (r->score != NULL) {
			ctl_kv("wallet", "%s", r->score->wallet);
			ctl_kv("risk_score", "%s", ctl_num(num, sizeof(num), r->score->risk_score));
		}
		if (r->score != NULL && is_flow(r->score))
			print_explain_flow(r);
		else
			print_explain_hop(r);
	}
	aml__v1__explain_wallet_response__free_unpacked(r, NULL);
	return 0;
}

static int
cmd_graph(const ctl_args *a)
{
	static const char *const HN[] = {"#DIST",   "WALLET", "#RISK_SCORE",
	                                 "ILLICIT", "#IN",    "#OUT"};
	static const char *const HE[] = {"SENDER", "RECEIVER", "#TXS", "#AMOUNT"};
	Aml__V1__WalletGraphRequest req = AML__V1__WALLET_GRAPH_REQUEST__INIT;
	Aml__V1__WalletGraphResponse *r = NULL;

	if (ctl_opt_u32("--hops", a->hops, &req.hops) != 0 ||
	    ctl_opt_u32("--node-limit", a->node_limit, &req.node_limit) != 0 ||
	    ctl_opt_u32("--edge-limit", a->edge_limit, &req.edge_limit) != 0)
		return 2;
	req.wallet = (char *)a->operand[0];
	if (ctl_call(a, "WalletGraph", &req.base, (ProtobufCMessage **)&r, TIMEOUT_READ_MS) != 0)
		return 1;
	if (a->json) {
		print_json(&r->base);
	} else {
		ctl_table *tn = ctl_table_create(6, HN), *te = ctl_table_create(4, HE);
		printf("center %s, run %lld, %zu nodes, %zu edges%s\n", r->center,
		       (long long)r->run_id, r->n_nodes, r->n_edges,
		       r->capped      ? " (search stopped at the server's work bound)"
		       : r->truncated ? " (truncated by the limits)"
		                      : "");
		for (size_t i = 0; i < r->n_nodes; i++) {
			const Aml__V1__GraphNode *n = r->nodes[i];
			char d[16], sc[32], in[16], out[16];
			snprintf(d, sizeof(d), "%u", n->distance);
			snprintf(in, sizeof(in), "%u", n->in_degree);
			snprintf(out, sizeof(out), "%u", n->out_degree);
			ctl_table_row(tn, d, n->wallet, fmt6(sc, sizeof(sc), n->risk_score),
			              n->is_illicit ? "yes" : "no", in, out);
		}
		ctl_table_print(tn);
		printf("\n");
		for (size_t i = 0; i < r->n_edges; i++) {
			const Aml__V1__GraphEdge *e = r->edges[i];
			char c[24], am[40];
			snprintf(c, sizeof(c), "%llu", (unsigned long long)e->tx_count);
			ctl_table_row(te, e->sender, e->receiver, c,
			              fmt6(am, sizeof(am), e->total_amount));
		}
		ctl_table_print(te);
	}
	aml__v1__wallet_graph_response__free_unpacked(r, NULL);
	return 0;
}

static int
cmd_runs(const ctl_args *a)
{
	static const char *const H[] = {"#ID",      "STATUS",   "MODEL",      "CREATED",
	                                "#WALLETS", "#ILLICIT", "#WATERMARK", "#LOAD_S",
	                                "#SCORE_S", "#STORE_S", "PINNED",     "ERROR"};
	Aml__V1__ListRunsRequest req = AML__V1__LIST_RUNS_REQUEST__INIT;
	Aml__V1__ListRunsResponse *r = NULL;

	if (ctl_opt_u32("--limit", a->limit, &req.limit) != 0 ||
	    ctl_opt_i64("--before", a->before, &req.before_id) != 0)
		return 2;
	if (ctl_call(a, "ListRuns", &req.base, (ProtobufCMessage **)&r, TIMEOUT_READ_MS) != 0)
		return 1;
	if (a->json) {
		print_json(&r->base);
	} else {
		ctl_table *t = ctl_table_create(12, H);
		for (size_t i = 0; i < r->n_runs; i++) {
			const Aml__V1__RunSummary *s = r->runs[i];
			char id[24], cr[40], w[24], il[24], wm[24], l[24], sc[24], st[24];
			snprintf(id, sizeof(id), "%lld", (long long)s->run_id);
			snprintf(w, sizeof(w), "%llu", (unsigned long long)s->wallets);
			snprintf(il, sizeof(il), "%llu", (unsigned long long)s->illicit);
			snprintf(wm, sizeof(wm), "%lld", (long long)s->watermark);
			snprintf(l, sizeof(l), "%.3f", s->load_seconds);
			snprintf(sc, sizeof(sc), "%.3f", s->score_seconds);
			snprintf(st, sizeof(st), "%.3f", s->store_seconds);
			ctl_table_row(t, id, s->status, s->model,
			              ctl_time(cr, sizeof(cr), s->created_at_us), w, il, wm, l, sc,
			              st, s->pinned ? "yes" : "", s->error);
		}
		ctl_table_print(t);
		if (r->next_before_id != 0)
			printf("more: amlctl runs --before %lld\n", (long long)r->next_before_id);
	}
	aml__v1__list_runs_response__free_unpacked(r, NULL);
	return 0;
}

static int
cmd_run(const ctl_args *a)
{
	Aml__V1__GetRunRequest req = AML__V1__GET_RUN_REQUEST__INIT;
	Aml__V1__GetRunResponse *r = NULL;

	if (ctl_opt_i64("run ID", a->operand[0], &req.run_id) != 0)
		return 2;
	if (ctl_call(a, "GetRun", &req.base, (ProtobufCMessage **)&r, TIMEOUT_READ_MS) != 0)
		return 1;
	if (a->json)
		print_json(&r->base);
	else if (r->run != NULL)
		print_run(r->run);
	aml__v1__get_run_response__free_unpacked(r, NULL);
	return 0;
}

static int
cmd_ingestion(const ctl_args *a)
{
	static const char *const H[] = {"TOPIC",           "#PARTITION", "#COMMITTED",
	                                "#HIGH_WATERMARK", "#LAG",       "CONSUMER"};
	Aml__V1__IngestionStatusRequest req = AML__V1__INGESTION_STATUS_REQUEST__INIT;
	Aml__V1__IngestionStatusResponse *r = NULL;
	char t[40];

	if (ctl_call(a, "IngestionStatus", &req.base, (ProtobufCMessage **)&r, TIMEOUT_READ_MS) !=
	    0)
		return 1;
	if (a->json) {
		print_json(&r->base);
	} else {
		ctl_table *tb = ctl_table_create(6, H);
		ctl_kv("consumed", "%llu", (unsigned long long)r->consumed);
		ctl_kv("inserted", "%llu", (unsigned long long)r->inserted);
		ctl_kv("duplicates", "%llu", (unsigned long long)r->duplicates);
		ctl_kv("dead_lettered", "%llu", (unsigned long long)r->dead_lettered);
		ctl_kv("transactions", "%llu", (unsigned long long)r->transactions_total);
		ctl_kv("max_sequence", "%lld", (long long)r->max_sequence);
		ctl_kv("updated", "%s", ctl_time(t, sizeof(t), r->updated_at_us));
		ctl_kv("last_error", "%s", *r->last_error ? r->last_error : "-");
		for (size_t i = 0; i < r->n_partitions; i++) {
			const Aml__V1__PartitionState *p = r->partitions[i];
			char pa[16], co[24], hw[24], lag[24];
			snprintf(pa, sizeof(pa), "%d", p->partition);
			snprintf(co, sizeof(co), "%lld", (long long)p->committed_offset);
			snprintf(hw, sizeof(hw), "%lld", (long long)p->high_watermark);
			snprintf(lag, sizeof(lag), "%lld", (long long)p->lag);
			ctl_table_row(tb, p->topic, pa, co, hw, lag, p->consumer_id);
		}
		ctl_table_print(tb);
	}
	aml__v1__ingestion_status_response__free_unpacked(r, NULL);
	return 0;
}

static int
cmd_migrate(const ctl_args *a)
{
	char err[1024];
	int applied = 0, rv;
	PGconn *c = NULL;

	if (a->database_url == NULL || *a->database_url == '\0')
		return ctl_usage_error("migrate: set DATABASE_URL or --database-url");
	if (amlrisk_pg_connect(a->database_url, "amlctl", &c, err, sizeof(err)) != 0)
		return ctl_fail(a, "UNAVAILABLE", err);
	rv = sql_migrate(c, &applied, err, sizeof(err));
	PQfinish(c);
	if (rv != AMLRISK_OK)
		return ctl_fail(a, "UNAVAILABLE", err);
	if (a->json) {
		json_t *o =
		        json_pack("{s:i,s:i}", "applied", applied, "version", sql_migrate_latest());
		if (o != NULL)
			ctl_json_print(o);
	} else {
		printf("applied %d migration(s); schema at version %d\n", applied,
		       sql_migrate_latest());
	}
	return 0;
}

typedef struct command {
	const char *name;
	int operands;        /* exactly this many */
	const char *options; /* the command options it takes, space separated */
	int (*run)(const ctl_args *a);
} command;

static const command COMMANDS[] = {
        {"health", 0, "", cmd_health},
        {"reload", 0, "", cmd_reload},
        {"score", 0,
         "model hop-weights direction count illicit-ratio illicit-seed config-json"
         " no-degree-normalize no-labels hops side smoothing",
         cmd_score},
        {"top", 0, "n run live", cmd_top},
        {"wallet", 1, "run live", cmd_wallet},
        {"explain", 1, "sources", cmd_explain},
        {"graph", 1, "hops node-limit edge-limit", cmd_graph},
        {"runs", 0, "limit before", cmd_runs},
        {"run", 1, "", cmd_run},
        {"ingestion", 0, "", cmd_ingestion},
        {"alerts", 0, "wallet rule limit before follow", ctl_cmd_alerts},
        {"migrate", 0, "database-url", cmd_migrate},
};

/* The command option given that cmd does not take, or NULL. */
static const char *
stray_option(const ctl_args *a, const command *cmd)
{
	const struct {
		const char *name;
		bool given;
	} given[] = {
	        {"n", a->n != NULL},
	        {"run", a->run != NULL},
	        {"limit", a->limit != NULL},
	        {"before", a->before != NULL},
	        {"sources", a->sources != NULL},
	        {"hops", a->hops != NULL},
	        {"node-limit", a->node_limit != NULL},
	        {"edge-limit", a->edge_limit != NULL},
	        {"hop-weights", a->hop_weights != NULL},
	        {"direction", a->direction != NULL},
	        {"count", a->count != NULL},
	        {"illicit-ratio", a->illicit_ratio != NULL},
	        {"illicit-seed", a->illicit_seed != NULL},
	        {"config-json", a->config_json != NULL},
	        {"no-degree-normalize", a->no_degree_normalize},
	        {"no-labels", a->no_labels},
	        {"model", a->model != NULL},
	        {"side", a->side != NULL},
	        {"smoothing", a->smoothing != NULL},
	        {"keep", a->keep != NULL},
	        {"older-than", a->older_than != NULL},
	        {"live", a->live},
	        {"wallet", a->wallet != NULL},
	        {"rule", a->rule != NULL},
	        {"follow", a->follow},
	};

	for (size_t i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
		const char *p = cmd->options;
		size_t len = strlen(given[i].name);
		bool ok = false;
		if (!given[i].given)
			continue;
		while ((p = strstr(p, given[i].name)) != NULL) {
			if ((p == cmd->options || p[-1] == ' ') &&
			    (p[len] == ' ' || p[len] == '\0')) {
				ok = true;
				break;
			}
			p += len;
		}
		if (!ok)
			return given[i].name;
	}
	return NULL;
}

int
ctl_run(const ctl_args *a)
{
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++) {
		const command *c = &COMMANDS[i];
		const char *stray;
		if (strcmp(a->cmd, c->name) != 0)
			continue;
		if (strcmp(c->name, "runs") == 0 && a->n_operands > 0)
			return ctl_runs_retention(a);
		if (a->n_operands != c->operands)
			return ctl_usage_error("%s takes %d argument(s), %d given", c->name,
			                       c->operands, a->n_operands);
		if ((stray = stray_option(a, c)) != NULL)
			return ctl_usage_error("%s does not take --%s", c->name, stray);
		return c->run(a);
	}
	return ctl_usage_error("unknown command '%s'", a->cmd);
}
