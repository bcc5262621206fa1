/* ctl.h - amlctl's pieces: the parsed command line, the commands (ctl_cmds.c)
 * and the output helpers (ctl_out.c): aligned tables for people, JSON made
 * from the protobuf descriptors for scripts. */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "aml/v1/risk_service.pb-c.h"
#include "rpc.h"

#define CTL_ARGS_MAX  4
#define CTL_CELLS_MAX 16

/* The command line after parsing. */
typedef struct ctl_args {
	const char *url;
	bool json;
	int timeout_ms; /* 0 = the command's default */
	const char *cmd;
	const char *operand[CTL_ARGS_MAX];
	int n_operands;
	/* command options; NULL/0 = not given */
	const char *n, *run, *limit, *before, *sources;
	const char *hops, *node_limit, *edge_limit;
	const char *hop_weights, *direction, *count, *illicit_ratio, *illicit_seed, *config_json;
	const char *model, *side, *smoothing; /* score: flow_exposure/v1 (and --hops) */
	bool no_degree_normalize, no_labels;
	bool live, follow;         /* top/wallet --live; alerts --follow */
	const char *wallet, *rule; /* alerts filters */
	const char *database_url;
	const char *keep, *older_than; /* runs prune */
} ctl_args;

/* amlctl runs prune|pin|unpin (ctl_retain.c); returns the exit status. */
int ctl_runs_retention(const ctl_args *a);

/* Runs a command; returns the exit status (0 ok, 1 error, 2 usage). */
int ctl_run(const ctl_args *a);

/* Calls method on the RiskService at a->url; prints the error and returns
 * non-zero when the call fails (then *resp is untouched). */
int ctl_call(const ctl_args *a, const char *method, const ProtobufCMessage *req,
             ProtobufCMessage **resp, int default_timeout_ms);

/* Prints the failure: "amlctl: CODE: message" on stderr and, with --json, an
 * {"error":{...}} object on stdout. Returns 1. */
int ctl_fail(const ctl_args *a, const char *code, const char *msg);
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option name's value s (NULL: not given, *out = 0) as an integer in
 * [0, UINT32_MAX] or [0, INT64_MAX]; 2 after the usage error. */
int ctl_opt_u32(const char *name, const char *s, uint32_t *out);
int ctl_opt_i64(const char *name, const char *s, int64_t *out);

/* ---- the live view and alerts (ctl_live.c) ---- */

#define CTL_LIVE_OFF "the core has no live view (LIVE_SCORING_CONFIG unset, or a core without it)"

/* --live as the request's view; 2 after the usage error when given with --run. */
int ctl_live_view(const ctl_args *a, Aml__V1__ScoreView *view);
/* The live view's lines (model, watermark, graph watermark, lag); nothing for
 * NULL. */
void ctl_print_live(const Aml__V1__LiveInfo *l);
/* amlctl alerts [--wallet W] [--rule R] [--limit N] [--before ID] [--follow] */
int ctl_cmd_alerts(const ctl_args *a);

/* ---- output ---- */

/* m as a JSON object: proto field names, every field, int64 as integers. */
json_t *ctl_json_from_msg(const ProtobufCMessage *m);
/* Prints v (consumed) to stdout, indented, with a newline. */
void ctl_json_print(json_t *v);

/* A table: a header row, then rows of cells (copied), printed with columns
 * padded to their widest cell. Numeric columns (header starting with '#' in
 * ctl_table_create's spec, e.g. "#SCORE") are right-aligned. */
typedef struct ctl_table ctl_table;
ctl_table *ctl_table_create(int ncols, const char *const *headers);
void ctl_table_row(ctl_table *t, ...); /* ncols const char * cells */
void ctl_table_print(ctl_table *t);    /* prints (nothing without rows) and frees */

/* "key  value" lines with the keys padded; value printf-style. */
void ctl_kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Unix microseconds as "2026-01-02T03:04:05.678Z" ("-" for 0) into buf. */
const char *ctl_time(char *buf, size_t len, int64_t us);
/* A double as the shortest text that reads back the same (amlrisk_fmt_double:
 * 0.05, 1.0, 1e+16) into buf (len >= AMLRISK_FMT_DOUBLE_MAX); returns buf. */
const char *ctl_num(char *buf, size_t len, double v);

#endif
