/* score_main.c - amlrisk-score: scores a transactions file offline with
 * hop_exposure/v1 or flow_exposure/v1 and writes every wallet's result (or the
 * top N) as CSV. No server, no database; millions of rows in seconds. */
#include <float.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"
#include "core_engine.h"
#include "score_input.h"

#define EXIT_USAGE 2
#define ERR_MAX    512

static const char usage_text[] =
        "usage: amlrisk-score [options] FILE\n"
        "\n"
        "Scores the transactions in FILE ('-' for standard input) with a risk model\n"
        "(spec/scoring.md, spec/flow_exposure.md) and writes one CSV row per wallet,\n"
        "for hop_exposure/v1 (the default):\n"
        "\n"
        "  wallet,risk_score,exposures,in_degree,out_degree,is_illicit,c_0,...,c_K\n"
        "\n"
        "for flow_exposure/v1:\n"
        "\n"
        "  wallet,risk_score,received_exposure,sent_exposure,in_degree,out_degree,\n"
        "  is_illicit,r_1,...,r_K,s_1,...,s_K\n"
        "\n"
        "in \"top N\" order (risk_score descending, then wallet ascending bytewise);\n"
        "scores, exposures and per-hop values are printed with 17 significant digits,\n"
        "is_illicit as 0 or 1.\n"
        "\n"
        "Input:\n"
        "  FILE                    CSV with a header naming the columns (tx_id, sender,\n"
        "                          receiver, amount, timestamp; found by name, others\n"
        "                          ignored; sender and receiver required), JSON lines\n"
        "                          (objects with tx_id, sender, receiver, amount as a\n"
        "                          string, timestamp_us) or length-delimited protobuf\n"
        "                          aml.v1.Transaction records: the simulator's formats\n"
        "  --format FMT            auto (default: by file name, then content), csv,\n"
        "                          jsonl or protobuf\n"
        "  --labels FILE           wallets labelled illicit, one per line\n"
        "\n"
        "Model config (defaults as in the spec; flags override --config):\n"
        "  --model NAME            hop_exposure/v1 (default) or flow_exposure/v1\n"
        "  --config FILE           a JSON object of config keys, e.g. a stored\n"
        "                          scoring_runs.config_json (its \"model\" key picks the\n"
        "                          model when --model is not given)\n"
        "  --illicit-ratio R       share of wallets seeded illicit, 0..1 (default 0.05\n"
        "                          for hop_exposure/v1, 0 for flow_exposure/v1)\n"
        "  --illicit-seed N        uint64 seed of the selection (default: env\n"
        "                          ILLICIT_SEED, else 42)\n"
        "  --use-labels            labelled wallets are illicit too (default)\n"
        "  --no-labels             ignore --labels\n"
        "hop_exposure/v1 only:\n"
        "  --hop-weights W0,W1,..  1 to 11 weights >= 0 (default 1,0.6,0.3); K = count-1\n"
        "  --direction DIR         any (default), in, out or both\n"
        "  --count MODE            within (default) or exact\n"
        "  --degree-normalize      divide by sqrt(in+out degree) (default)\n"
        "  --no-degree-normalize   do not\n"
        "flow_exposure/v1 only:\n"
        "  --hops K                how far value is traced, 1..32 (default 6)\n"
        "  --side SIDE             both (default: R_K + S_K), received (R_K) or sent (S_K)\n"
        "  --smoothing X           clean opening balance in mean transaction amounts,\n"
        "                          finite, >= 0 (default 1)\n"
        "\n"
        "Output:\n"
        "  --top N                 only the first N rows\n"
        "  -o, --output FILE       write there instead of standard output\n"
        "  --show-config           print the canonical config JSON and exit\n"
        "  --stats                 print wallets, edges, illicit count and timings to\n"
        "                          standard error\n"
        "  --threads N             worker threads (default 2)\n"
        "  -h, --help              this text\n"
        "\n"
        "Exit status: 0 done, 1 bad input (the message names the file and line or\n"
        "record), 2 bad usage (the message names the flag).\n";

enum {
	OPT_FORMAT = 256,
	OPT_LABELS,
	OPT_CONFIG,
	OPT_WEIGHTS,
	OPT_DIRECTION,
	OPT_COUNT,
	OPT_RATIO,
	OPT_SEED,
	OPT_NORM,
	OPT_NO_NORM,
	OPT_USE_LABELS,
	OPT_NO_LABELS,
	OPT_TOP,
	OPT_SHOW_CONFIG,
	OPT_STATS,
	OPT_THREADS,
	OPT_MODEL,
	OPT_HOPS,
	OPT_SIDE,
	OPT_SMOOTHING,
};

static const struct option long_opts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"hop-weights", required_argument, NULL, OPT_WEIGHTS},
        {"direction", required_argument, NULL, OPT_DIRECTION},
        {"count", required_argument, NULL, OPT_COUNT},
        {"illicit-ratio", required_argument, NULL, OPT_RATIO},
        {"illicit-seed", required_argument, NULL, OPT_SEED},
        {"degree-normalize", no_argument, NULL, OPT_NORM},
        {"no-degree-normalize", no_argument, NULL, OPT_NO_NORM},
        {"use-labels", no_argument, NULL, OPT_USE_LABELS},
        {"no-labels", no_argument, NULL, OPT_NO_LABELS},
        {"top", required_argument, NULL, OPT_TOP},
        {"output", required_argument, NULL, 'o'},
        {"show-config", no_argument, NULL, OPT_SHOW_CONFIG},
        {"stats", no_argument, NULL, OPT_STATS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"model", required_argument, NULL, OPT_MODEL},
        {"hops", required_argument, NULL, OPT_HOPS},
        {"side", required_argument, NULL, OPT_SIDE},
        {"smoothing", required_argument, NULL, OPT_SMOOTHING},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

/* Model flags, applied over the defaults and --config in this order. */
typedef struct flags {
	const char *format, *labels, *config, *output, *input;
	const char *model, *ratio, *seed;
	const char *weights, *direction, *count; /* hop_exposure/v1 */
	const char *hops, *side, *smoothing;     /* flow_exposure/v1 */
	int normalize, use_labels;               /* -1 unset */
	const char *hop_flag;                    /* the first hop-only flag given */
	const char *flow_flag;                   /* the first flow-only flag given */
	const char *top, *threads;
	bool show_config, stats;
} flags;

/* Prints "amlrisk-score: <message>" and a pointer to --help; returns 2. */
#define usage_error(...)                                                                           \
	amlrisk_usage_error("amlrisk-score: ", "\n(see amlrisk-score --help)\n", __VA_ARGS__)

static int
parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (s[0] < '0' || s[0] > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || v > max)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

static int
parse_double(const char *s, double *out)
{
	char *end;
	if (*s == '\0')
		return -1;
	*out = strtod(s, &end);
	return *end == '\0' ? 0 : -1;
}

static int
parse_weights(const char *s, core_config *c)
{
	unsigned n = 0;
	const char *p = s;
	for (;;) {
		char tok[64], *end;
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof tok || n > CORE_HOPS_MAX)
			return -1;
		memcpy(tok, p, len);
		tok[len] = '\0';
		c->hop_weights[n] = strtod(tok, &end);
		if (*end != '\0')
			return -1;
		n++;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	c->hops = n - 1;
	for (unsigned k = n; k <= CORE_HOPS_MAX; k++)
		c->hop_weights[k] = 0.0;
	return 0;
}

/* Reads a whole small file into a NUL-terminated buffer (caller frees). */
static char *
slurp(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (buf == NULL || n > max) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Reads --config over c (already the defaults of --model, if given). */
static int
config_file(const flags *fl, core_config *c)
{
	char err[ERR_MAX];
	core_model want = c->model;
	size_t len;
	char *text = slurp(fl->config, 65536, &len);
	if (text == NULL)
		return usage_error("--config: cannot read '%s'", fl->config);
	int rv = core_config_merge(c, c, text, len, err, sizeof err);
	free(text);
	if (rv != 0)
		return usage_error("--config: %s: %s", fl->config, err);
	if (fl->model != NULL && c->model != want)
		return usage_error("--config: %s names model %s, but --model is %s", fl->config,
		                   core_model_name(c->model), core_model_name(want));
	return 0;
}

/* Applies the flags of c's model; a flag of the other model is an error. */
static int
config_model_flags(const flags *fl, core_config *c)
{
	if (c->model == CORE_MODEL_FLOW) {
		uint64_t h;
		if (fl->hop_flag != NULL)
			return usage_error("--%s: not an option of %s (only of %s)", fl->hop_flag,
			                   CORE_MODEL_FLOW_NAME, CORE_MODEL_HOP_NAME);
		if (fl->hops != NULL) {
			if (amlrisk_parse_u64(&h, fl->hops, 1, CORE_FLOW_HOPS_MAX) != 0)
				return usage_error(
				        "--hops: expected an integer in [1, %d], got '%s'",
				        CORE_FLOW_HOPS_MAX, fl->hops);
			c->hops = (unsigned)h;
		}
		if (fl->side != NULL && core_side_parse(fl->side, &c->side) != 0)
			return usage_error("--side: expected both, received or sent, got '%s'",
			                   fl->side);
		if (fl->smoothing != NULL &&
		    amlrisk_parse_double(&c->smoothing, fl->smoothing, 0.0, DBL_MAX) != 0)
			return usage_error("--smoothing: expected a finite number >= 0, got '%s'",
			                   fl->smoothing);
		return 0;
	}
	if (fl->flow_flag != NULL)
		return usage_error("--%s: not an option of %s (only of %s)", fl->flow_flag,
		                   CORE_MODEL_HOP_NAME, CORE_MODEL_FLOW_NAME);
	if (fl->weights != NULL && parse_weights(fl->weights, c) != 0)
		return usage_error(
		        "--hop-weights: expected 1 to 11 comma-separated numbers, got '%s'",
		        fl->weights);
	if (fl->direction != NULL && core_direction_parse(fl->direction, &c->direction) != 0)
		return usage_error("--direction: expected any, in, out or both, got '%s'",
		                   fl->direction);
	if (fl->count != NULL && core_count_parse(fl->count, &c->count) != 0)
		return usage_error("--count: expected within or exact, got '%s'", fl->count);
	if (fl->normalize >= 0)
		c->degree_normalize = fl->normalize != 0;
	return 0;
}

/* Builds the config: the defaults of --model (ILLICIT_SEED), --config, then
 * the flags. */
static int
config_from_flags(const flags *fl, core_config *c)
{
	char err[ERR_MAX];
	const char *env = getenv("ILLICIT_SEED");
	uint64_t seed;
	core_model model = CORE_MODEL_HOP;
	int rv;
	if (env != NULL && *env != '\0') {
		if (core_config_seed_parse(env, &seed) != 0)
			return usage_error(
			        "ILLICIT_SEED: expected an integer in [0, 2^64-1], got '%s'", env);
		core_config_default_seed_set(seed);
	}
	if (fl->model != NULL && core_model_parse(fl->model, &model) != 0)
		return usage_error("--model: expected %s or %s, got '%s'", CORE_MODEL_HOP_NAME,
		                   CORE_MODEL_FLOW_NAME, fl->model);
	core_config_defaults_model(c, model);
	if (fl->config != NULL && (rv = config_file(fl, c)) != 0)
		return rv;
	if ((rv = config_model_flags(fl, c)) != 0)
		return rv;
	if (fl->ratio != NULL && (parse_double(fl->ratio, &c->illicit_ratio) != 0 ||
	                          !(c->illicit_ratio >= 0 && c->illicit_ratio <= 1)))
		return usage_error("--illicit-ratio: expected a number in [0, 1], got '%s'",
		                   fl->ratio);
	if (fl->seed != NULL && core_config_seed_parse(fl->seed, &c->illicit_seed) != 0)
		return usage_error("--illicit-seed: expected an integer in [0, 2^64-1], got '%s'",
		                   fl->seed);
	if (fl->use_labels >= 0)
		c->use_labels = fl->use_labels != 0;
	if (core_config_validate(c, err, sizeof err) != 0) {
		const char *flag =
		        strncmp(err, "hop_weights", 11) == 0 ? "--hop-weights" : "config";
		return usage_error("%s: %s", flag, err);
	}
	return 0;
}

/* Notes the first flag given of each model, for the error when it does not
 * belong to the run's model. */
static void
model_flag_note(flags *fl, int opt)
{
	bool hop = opt == OPT_WEIGHTS || opt == OPT_DIRECTION || opt == OPT_COUNT ||
	           opt == OPT_NORM || opt == OPT_NO_NORM;
	bool flow = opt == OPT_HOPS || opt == OPT_SIDE || opt == OPT_SMOOTHING;
	const char **slot = hop ? &fl->hop_flag : flow ? &fl->flow_flag : NULL;
	for (size_t i = 0; slot != NULL && *slot == NULL && long_opts[i].name != NULL; i++)
		if (long_opts[i].val == opt)
			*slot = long_opts[i].name;
}

static int
parse_flags(int argc, char **argv, flags *fl)
{
	int c;
	memset(fl, 0, sizeof *fl);
	fl->normalize = fl->use_labels = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			fl->format = optarg;
			break;
		case OPT_LABELS:
			fl->labels = optarg;
			break;
		case OPT_CONFIG:
			fl->config = optarg;
			break;
		case OPT_WEIGHTS:
			fl->weights = optarg;
			break;
		case OPT_DIRECTION:
			fl->direction = optarg;
			break;
		case OPT_COUNT:
			fl->count = optarg;
			break;
		case OPT_MODEL:
			fl->model = optarg;
			break;
		case OPT_HOPS:
			fl->hops = optarg;
			break;
		case OPT_SIDE:
			fl->side = optarg;
			break;
		case OPT_SMOOTHING:
			fl->smoothing = optarg;
			break;
		case OPT_RATIO:
			fl->ratio = optarg;
			break;
		case OPT_SEED:
			fl->seed = optarg;
			break;
		case OPT_NORM:
			fl->normalize = 1;
			break;
		case OPT_NO_NORM:
			fl->normalize = 0;
			break;
		case OPT_USE_LABELS:
			fl->use_labels = 1;
			break;
		case OPT_NO_LABELS:
			fl->use_labels = 0;
			break;
		case OPT_TOP:
			fl->top = optarg;
			break;
		case 'o':
			fl->output = optarg;
			break;
		case OPT_SHOW_CONFIG:
			fl->show_config = true;
			break;
		case OPT_STATS:
			fl->stats = true;
			break;
		case OPT_THREADS:
			fl->threads = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
		model_flag_note(fl, c);
	}
	if (fl->show_config)
		return 0;
	if (optind + 1 != argc)
		return optind == argc
		               ? usage_error("no input FILE given ('-' reads standard input)")
		               : usage_error("one input FILE expected, got '%s' and more",
		                             argv[optind]);
	fl->input = argv[optind];
	return 0;
}

/* Writes s as a CSV field, quoted when it must be. */
static void
csv_field(FILE *out, const char *s, size_t len)
{
	if (strcspn(s, ",\"\r\n") >= len && memchr(s, '\0', len) == NULL) {
		fwrite(s, 1, len, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

static void
write_header(FILE *out, const core_config *c)
{
	if (c->model == CORE_MODEL_FLOW) {
		fputs("wallet,risk_score,received_exposure,sent_exposure,in_degree,out_degree,"
		      "is_illicit",
		      out);
		for (unsigned k = 1; k <= c->hops; k++)
			fprintf(out, ",r_%u", k);
		for (unsigned k = 1; k <= c->hops; k++)
			fprintf(out, ",s_%u", k);
	} else {
		fputs("wallet,risk_score,exposures,in_degree,out_degree,is_illicit", out);
		for (unsigned k = 0; k <= c->hops; k++)
			fprintf(out, ",c_%u", k);
	}
	fputc('\n', out);
}

static int
write_results(FILE *out, const core_run_result *r, unsigned long top)
{
	const uint32_t *order = core_run_result_order(r);
	uint32_t n = core_run_result_count(r);
	write_header(out, core_run_result_config(r));
	for (uint32_t i = 0; i < n && i < top; i++) {
		core_wallet_score s;
		core_run_result_get(r, order[i], &s);
		csv_field(out, s.wallet, s.wallet_len);
		if (s.model == CORE_MODEL_FLOW) {
			fprintf(out, ",%.17g,%.17g,%.17g,%u,%u,%d", s.risk_score,
			        s.received_exposure, s.sent_exposure, s.in_degree, s.out_degree,
			        s.is_illicit ? 1 : 0);
			for (unsigned k = 0; k < s.hops; k++)
				fprintf(out, ",%.17g", s.received[k]);
			for (unsigned k = 0; k < s.hops; k++)
				fprintf(out, ",%.17g", s.sent[k]);
		} else {
			fprintf(out, ",%.17g,%u,%u,%u,%d", s.risk_score, s.exposures, s.in_degree,
			        s.out_degree, s.is_illicit ? 1 : 0);
			for (unsigned k = 0; k <= s.hops; k++)
				fprintf(out, ",%u", s.counts[k]);
		}
		fputc('\n', out);
	}
	return ferror(out) ? -1 : 0;
}

static FILE *
open_input(const char *path)
{
	return strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
}

int
main(int argc, char **argv)
{
	flags fl;
	core_config cfg;
	char err[ERR_MAX], json[CORE_CONFIG_JSON_MAX];
	int rv, status = 1;
	unsigned long top = (unsigned long)-1, threads = 2;
	score_format fmt = SCORE_FMT_AUTO, used;
	core_graph_builder *b = NULL;
	core_graph *g = NULL;
	core_labels *labels = NULL;
	core_run_result *r = NULL;
	FILE *in = NULL, *out = stdout;

	if ((rv = parse_flags(argc, argv, &fl)) != 0)
		return rv;
	if ((rv = config_from_flags(&fl, &cfg)) != 0)
		return rv;
	if (fl.show_config) {
		core_config_to_json(&cfg, json, sizeof json, NULL);
		printf("%s\n", json);
		return 0;
	}
	if (fl.format != NULL && score_format_parse(fl.format, &fmt) != 0)
		return usage_error("--format: expected auto, csv, jsonl or protobuf, got '%s'",
		                   fl.format);
	if (fl.top != NULL && parse_count(fl.top, (unsigned long)-1, &top) != 0)
		return usage_error("--top: expected a non-negative integer, got '%s'", fl.top);
	if (fl.threads != NULL &&
	    (parse_count(fl.threads, CORE_THREADS_MAX, &threads) != 0 || threads == 0))
		return usage_error("--threads: expected 1 to 64, got '%s'", fl.threads);

	if ((rv = core_labels_create(&labels)) != 0)
		goto fail_rv;
	if (fl.labels != NULL) {
		FILE *lf = fopen(fl.labels, "rb");
		if (lf == NULL) {
			fprintf(stderr, "amlrisk-score: --labels: cannot open '%s'\n", fl.labels);
			status = EXIT_USAGE;
			goto out;
		}
		rv = score_labels_read(lf, fl.labels, labels, err, sizeof err);
		fclose(lf);
		if (rv != 0)
			goto fail_msg;
	}
	if ((in = open_input(fl.input)) == NULL) {
		fprintf(stderr, "amlrisk-score: cannot open '%s'\n", fl.input);
		goto out;
	}
	double t0 = amlrisk_now_s();
	if ((rv = core_graph_builder_create(&b, 0)) != 0)
		goto fail_rv;
	if ((rv = score_input_read(in, strcmp(fl.input, "-") ? fl.input : "<stdin>", fmt, b, &used,
	                           err, sizeof err)) != 0)
		goto fail_msg;
	rv = core_graph_builder_finish(&g, b, (unsigned)threads);
	b = NULL;
	if (rv != 0)
		goto fail_rv;
	double t1 = amlrisk_now_s();
	if ((rv = core_score_run(&r, g, &cfg, labels, (unsigned)threads, err, sizeof err)) != 0)
		goto fail_msg;
	double t2 = amlrisk_now_s();
	if (fl.output != NULL && (out = fopen(fl.output, "w")) == NULL) {
		fprintf(stderr, "amlrisk-score: --output: cannot create '%s'\n", fl.output);
		goto out;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	if (write_results(out, r, top) != 0 || fflush(out) != 0) {
		fprintf(stderr, "amlrisk-score: cannot write the results\n");
		goto out;
	}
	if (fl.stats) {
		core_graph_stats st;
		core_graph_stats_get(g, &st);
		core_config_to_json(&cfg, json, sizeof json, NULL);
		fprintf(stderr,
		        "format=%s txs=%llu wallets=%u edges=%llu illicit=%u read_build_s=%.3f "
		        "score_s=%.3f config=%s\n",
		        score_format_name(used), (unsigned long long)st.txs, st.wallets,
		        (unsigned long long)st.edges, core_run_result_illicit_count(r), t1 - t0,
		        t2 - t1, json);
	}
	status = 0;
	goto out;
fail_rv:
	snprintf(err, sizeof err, "%s", amlrisk_strerror(rv));
fail_msg:
	fprintf(stderr, "amlrisk-score: %s\n", err);
out:
	if (in != NULL && in != stdin)
		fclose(in);
	if (out != stdout && out != NULL)
		fclose(out);
	core_graph_builder_destroy(b);
	core_run_result_unref(r);
	core_graph_unref(g);
	core_labels_destroy(labels);
	return status;
}
