/* server_unit_test.c - the core server's pure pieces without any service:
 * binary COPY parsing (float8[] included), COPY text escaping, number
 * formatting, exposures_json and float8[] text parsing, the in-memory run
 * table of either model and the response arena. */
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "srv_alertset.h"
#include "srv_arena.h"
#include "srv_copy.h"
#include "srv_opts.h"
#include "srv_rules.h"
#include "srv_run.h"
#include "srv_runs.h"
#include "srv_store.h"

/* ---- binary COPY ---- */

typedef struct rows_seen {
	int rows;
	char last[64];
	int64_t last_i64;
	double last_f64;
	int nulls;
} rows_seen;

static int
on_row(void *arg, const srv_copy_field *f, int n)
{
	rows_seen *s = arg;

	s->rows++;
	assert_int_equal(n, 3);
	if (f[0].len < 0) {
		s->nulls++;
	} else {
		memcpy(s->last, f[0].data, (size_t)f[0].len);
		s->last[f[0].len] = '\0';
	}
	assert_int_equal(f[1].len, 8);
	s->last_i64 = srv_copy_i64(f[1].data);
	assert_int_equal(f[2].len, 8);
	s->last_f64 = srv_copy_f64(f[2].data);
	return 0;
}

static size_t
put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
	return (size_t)bytes;
}

/* One row (text, int8, float8) in binary COPY form at p. */
static size_t
row(unsigned char *p, const char *text, int64_t i, double d)
{
	size_t off = 0;
	uint64_t bits;

	memcpy(&bits, &d, 8);
	off += put_be(p + off, 3, 2);
	if (text == NULL) {
		off += put_be(p + off, 0xffffffffu, 4);
	} else {
		off += put_be(p + off, strlen(text), 4);
		memcpy(p + off, text, strlen(text));
		off += strlen(text);
	}
	off += put_be(p + off, 8, 4);
	off += put_be(p + off, (uint64_t)i, 8);
	off += put_be(p + off, 8, 4);
	off += put_be(p + off, bits, 8);
	return off;
}

static void
test_copy_binary(void **st)
{
	static const unsigned char HDR[19] = {'P',  'G',  'C',  'O',  'P', 'Y',
	                                      '\n', 0xff, '\r', '\n', 0};
	unsigned char buf[512];
	size_t off = 0;
	srv_copy_parser p;
	rows_seen seen = {0};

	(void)st;
	memcpy(buf, HDR, sizeof(HDR)); /* flags and extension length zero */
	off = sizeof(HDR);
	off += row(buf + off, "wallet\tA", -5, 2.5);
	srv_copy_parser_init(&p);
	assert_int_equal(srv_copy_parse(&p, (char *)buf, off, on_row, &seen), AMLRISK_OK);
	assert_int_equal(seen.rows, 1);
	assert_string_equal(seen.last, "wallet\tA");
	assert_int_equal(seen.last_i64, -5);
	assert_true(seen.last_f64 == 2.5);
	/* a chunk of two rows, one NULL */
	off = row(buf, NULL, INT64_MAX, -0.125);
	off += row(buf + off, "B", 7, 1e300);
	assert_int_equal(srv_copy_parse(&p, (char *)buf, off, on_row, &seen), AMLRISK_OK);
	assert_int_equal(seen.rows, 3);
	assert_int_equal(seen.nulls, 1);
	assert_string_equal(seen.last, "B");
	assert_true(seen.last_f64 == 1e300);
	/* a cut row */
	off = row(buf, "C", 1, 1);
	assert_int_equal(srv_copy_parse(&p, (char *)buf, off - 3, on_row, &seen), AMLRISK_EPROTO);
	/* the trailer, then nothing more is allowed */
	off = put_be(buf, 0xffff, 2);
	assert_int_equal(srv_copy_parse(&p, (char *)buf, off, on_row, &seen), AMLRISK_OK);
	assert_int_equal(srv_copy_parse(&p, (char *)buf, off, on_row, &seen), AMLRISK_EPROTO);
	/* a bad signature */
	srv_copy_parser_init(&p);
	memcpy(buf, "PGCOPY\nXXXXXXXXXXXXXXXXX", 24);
	assert_int_equal(srv_copy_parse(&p, (char *)buf, 24, on_row, &seen), AMLRISK_EPROTO);
	/* too many fields */
	srv_copy_parser_init(&p);
	memcpy(buf, HDR, sizeof(HDR));
	put_be(buf + sizeof(HDR), SRV_COPY_FIELDS_MAX + 1, 2);
	assert_int_equal(srv_copy_parse(&p, (char *)buf, sizeof(HDR) + 2, on_row, &seen),
	                 AMLRISK_EPROTO);
}

/* A binary float8[] of n values (nulls: the index of a NULL element, or -1),
 * as COPY sends it, at p. Returns its length. */
static size_t
f64_array(unsigned char *p, const double *v, int n, int null_at)
{
	size_t off = 0;

	off += put_be(p + off, n > 0, 4);        /* ndim */
	off += put_be(p + off, null_at >= 0, 4); /* has nulls */
	off += put_be(p + off, 701, 4);          /* float8 */
	if (n > 0) {
		off += put_be(p + off, (uint64_t)n, 4); /* size */
		off += put_be(p + off, 1, 4);           /* lower bound */
	}
	for (int i = 0; i < n; i++) {
		uint64_t bits;
		if (i == null_at) {
			off += put_be(p + off, 0xffffffffu, 4);
			continue;
		}
		memcpy(&bits, &v[i], 8);
		off += put_be(p + off, 8, 4);
		off += put_be(p + off, bits, 8);
	}
	return off;
}

static void
test_f64_arrays(void **st)
{
	static const double V[3] = {0.125, 1.0 / 3.0, 1e-300};
	unsigned char buf[256];
	double out[4];
	unsigned n = 99;
	srv_copy_field f = {(const char *)buf, 0};

	(void)st;
	f.len = (int32_t)f64_array(buf, V, 3, -1);
	assert_int_equal(srv_copy_f64_array(&f, 4, out, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, V, sizeof(V));
	assert_int_equal(srv_copy_f64_array(&f, 2, out, &n), AMLRISK_EPROTO); /* over max */
	f.len--;
	assert_int_equal(srv_copy_f64_array(&f, 4, out, &n), AMLRISK_EPROTO); /* cut */
	f.len = (int32_t)f64_array(buf, V, 3, 1);
	assert_int_equal(srv_copy_f64_array(&f, 4, out, &n), AMLRISK_EPROTO); /* a NULL */
	f.len = (int32_t)f64_array(buf, V, 0, -1);
	assert_int_equal(srv_copy_f64_array(&f, 4, out, &n), 0); /* empty */
	assert_int_equal(n, 0);
	f.len = (int32_t)f64_array(buf, V, 3, -1);
	put_be(buf + 8, 700, 4); /* float4 */
	assert_int_equal(srv_copy_f64_array(&f, 4, out, &n), AMLRISK_EPROTO);
	f.len = -1; /* SQL NULL */
	assert_int_equal(srv_copy_f64_array(&f, 4, out, &n), AMLRISK_EPROTO);
	/* the text form, as PostgreSQL prints it */
	assert_int_equal(srv_f64_array_parse("{0.125,0.3333333333333333,1e-300}", 33, 4, out, &n),
	                 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, V, sizeof(V));
	assert_int_equal(srv_f64_array_parse(" { 0 , 1e-07 } ", 15, 4, out, &n), 0);
	assert_int_equal(n, 2);
	assert_true(out[1] == 1e-7);
	assert_int_equal(srv_f64_array_parse("{}", 2, 4, out, &n), 0);
	assert_int_equal(n, 0);
	const char *bad[] = {"",     "{",   "{1,}",        "{1 2}",  "{NULL}",
	                     "{1}x", "[1]", "{1,2,3,4,5}", "{\"1\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(srv_f64_array_parse(bad[i], strlen(bad[i]), 4, out, &n),
		                 AMLRISK_EPROTO);
}

/* One row as the flow store writes it, parsed back by the COPY parser. */
static int
on_flow_row(void *arg, const srv_copy_field *f, int n)
{
	double out[4];
	unsigned k;

	assert_int_equal(n, 7);
	assert_int_equal(srv_copy_i64(f[0].data), -42);
	assert_int_equal(f[1].len, 3);
	assert_memory_equal(f[1].data, "w\tx", 3);
	assert_true(srv_copy_f64(f[2].data) == 1.0 / 3.0);
	assert_int_equal(srv_copy_f64_array(&f[3], 4, out, &k), 0);
	assert_int_equal(k, 2);
	assert_true(out[0] == 0.5 && out[1] == 1e-300);
	assert_int_equal(srv_copy_i32(f[4].data), 2000000000);
	assert_int_equal(f[5].len, 1);
	assert_int_equal(f[5].data[0], 1);
	assert_int_equal(f[6].data[0], 0);
	(*(int *)arg)++;
	return 0;
}

static void
test_copy_binary_out(void **st)
{
	static const double V[2] = {0.5, 1e-300};
	srv_copybuf b;
	srv_copy_parser p;
	int rows = 0;

	(void)st;
	amlrisk_buf_init(&b, 0);
	srv_copybin_header(&b);
	for (int i = 0; i < 2; i++) {
		srv_copybin_row(&b, 7);
		srv_copybin_i64(&b, -42);
		srv_copybin_text(&b, "w\tx", 3);
		srv_copybin_f64(&b, 1.0 / 3.0);
		srv_copybin_f64_array(&b, V, 2);
		srv_copybin_i32(&b, 2000000000);
		srv_copybin_bool(&b, 1);
		srv_copybin_bool(&b, 0);
	}
	srv_copybin_trailer(&b);
	assert_false(b.failed);
	srv_copy_parser_init(&p);
	assert_int_equal(srv_copy_parse(&p, b.data, b.len, on_flow_row, &rows), 0);
	assert_int_equal(rows, 2);
	assert_true(p.trailer_seen);
	amlrisk_buf_free(&b);
}

static void
test_copy_text(void **st)
{
	srv_copybuf b;

	(void)st;
	amlrisk_buf_init(&b, 0);
	srv_copybuf_add_text(&b, "a\\b\tc\nd\re", 9);
	amlrisk_buf_add(&b, "|", 1);
	amlrisk_buf_add_u64(&b, 0);
	amlrisk_buf_add(&b, "|", 1);
	amlrisk_buf_add_u64(&b, UINT64_MAX);
	amlrisk_buf_add(&b, "|", 1);
	srv_copybuf_add_f64(&b, 0.1);
	assert_false(b.failed);
	assert_int_equal(b.len,
	                 strlen("a\\\\b\\tc\\nd\\re|0|18446744073709551615|0.10000000000000001"));
	assert_memory_equal(b.data, "a\\\\b\\tc\\nd\\re|0|18446744073709551615|0.10000000000000001",
	                    b.len);
	amlrisk_buf_free(&b);
}

static void
test_exposures_json(void **st)
{
	uint32_t counts[11];
	double w[11];
	unsigned n = 0;
	core_config cfg;
	char buf[512];
	uint32_t c3[3] = {1, 2, 4000000000u};

	(void)st;
	const char *ok = "[{\"hop\":0,\"weight\":1,\"illicit_count\":1},"
	                 " { \"illicit_count\" : 3 , \"weight\" : 0.6, \"hop\" : 1 }]";
	assert_int_equal(srv_exposures_parse(ok, strlen(ok), 11, counts, w, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(counts[0], 1);
	assert_int_equal(counts[1], 3);
	assert_true(w[1] == 0.6);
	assert_int_equal(srv_exposures_parse("[]", 2, 11, counts, w, &n), 0);
	assert_int_equal(n, 0);
	const char *bad[] = {
	        "",
	        "[",
	        "[{\"hop\":1,\"weight\":1,\"illicit_count\":1}]",   /* hops out of order */
	        "[{\"hop\":0,\"weight\":1,\"illicit_count\":-1}]",  /* negative count */
	        "[{\"hop\":0,\"weight\":1,\"illicit_count\":1.5}]", /* fractional count */
	        "[{\"hop\":0,\"illicit_count\":1}]",                /* no weight */
	        "[{\"hop\":0,\"weight\":1,\"illicit_count\":1}] x", /* trailing bytes */
	        "[{\"hop\":0,\"weight\":\"1\",\"illicit_count\":1}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(srv_exposures_parse(bad[i], strlen(bad[i]), 11, counts, w, &n),
		                 AMLRISK_EPROTO);
	/* more entries than max */
	assert_int_equal(srv_exposures_parse(ok, strlen(ok), 1, counts, w, &n), AMLRISK_EPROTO);
	/* what the store writes parses back */
	core_config_defaults(&cfg);
	assert_true(srv_store_exposures_json(buf, sizeof(buf), &cfg, c3) > 0);
	assert_string_equal(buf, "[{\"hop\":0,\"weight\":1.0,\"illicit_count\":1},"
	                         "{\"hop\":1,\"weight\":0.6,\"illicit_count\":2},"
	                         "{\"hop\":2,\"weight\":0.3,\"illicit_count\":4000000000}]");
	assert_int_equal(srv_exposures_parse(buf, strlen(buf), 11, counts, w, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(counts[2], 4000000000u);
	assert_int_equal(srv_store_exposures_json(buf, 20, &cfg, c3), 0);
}

/* Adds a hop row to r: wallet, score, in/out degree, illicit, counts. */
static int
add_hop(srv_run *r, const char *w, double score, uint32_t in, uint32_t out, bool illicit,
        const uint32_t *counts)
{
	core_wallet_score ws = {.wallet = w,
	                        .wallet_len = strlen(w),
	                        .risk_score = score,
	                        .in_degree = in,
	                        .out_degree = out,
	                        .is_illicit = illicit,
	                        .model = CORE_MODEL_HOP,
	                        .hops = 2,
	                        .exposures = 1,
	                        .counts = counts};

	return srv_run_table_add(r, &ws);
}

static void
test_run_table(void **st)
{
	srv_summary sum = {.id = 7, .status = SRV_RUN_COMPLETED, .config_json = "{}"};
	core_config cfg;
	srv_run *r = NULL;
	core_wallet_score ws;
	uint32_t c[3] = {1, 1, 1};
	char name[32];

	(void)st;
	core_config_defaults_model(&cfg, CORE_MODEL_HOP);
	assert_int_equal(srv_run_table_create(&r, &sum, &cfg, 2), 0);
	assert_int_equal(add_hop(r, "A", 2.0, 1, 2, true, c), 0);
	assert_int_equal(add_hop(r, "B", 1.0, 1, 1, false, c), 0);
	assert_int_equal(add_hop(r, "C", 1.0, 2, 1, false, c), 0);
	for (int i = 0; i < 5000; i++) { /* growth past the hint and the first string block */
		snprintf(name, sizeof(name), "z%06d", i);
		assert_int_equal(add_hop(r, name, 0.5, 0, 0, false, c), 0);
	}
	assert_int_equal(add_hop(r, "", 0.1, 0, 0, false, c), AMLRISK_EINVAL);
	assert_int_equal(srv_run_table_finish(r), 0);
	assert_int_equal(srv_run_count(r), 5003);
	assert_null(srv_run_result(r));
	assert_int_equal(srv_run_summary(r)->id, 7);
	assert_int_equal(srv_run_find(r, "C", 1, &ws), 0);
	assert_int_equal(ws.in_degree, 2);
	assert_true(ws.risk_score == 1.0);
	assert_int_equal(ws.hops, 2);
	assert_int_equal(ws.model, CORE_MODEL_HOP);
	assert_int_equal(ws.exposures, 1);
	assert_null(ws.received);
	assert_int_equal(srv_run_find(r, "z004999", 7, &ws), 0);
	assert_int_equal(srv_run_find(r, "D", 1, &ws), AMLRISK_ENOTFOUND);
	assert_int_equal(srv_run_find(r, "AB", 2, &ws), AMLRISK_ENOTFOUND);
	srv_run_at(r, 0, &ws);
	assert_memory_equal(ws.wallet, "A", 1);
	assert_true(ws.is_illicit);
	srv_run_at(r, 2, &ws);
	assert_memory_equal(ws.wallet, "C", 1);
	srv_run_unref(srv_run_ref(r));
	srv_run_unref(r);
	srv_run_unref(NULL);
	/* rows out of top order are refused */
	assert_int_equal(srv_run_table_create(&r, &sum, &cfg, 0), 0);
	assert_int_equal(add_hop(r, "B", 1.0, 1, 1, false, c), 0);
	assert_int_equal(add_hop(r, "A", 1.0, 1, 1, false, c), 0);
	assert_int_equal(srv_run_table_finish(r), AMLRISK_EPROTO);
	srv_run_unref(r);
	/* a repeated wallet too */
	assert_int_equal(srv_run_table_create(&r, &sum, &cfg, 0), 0);
	assert_int_equal(add_hop(r, "A", 2.0, 1, 1, false, c), 0);
	assert_int_equal(add_hop(r, "A", 1.0, 1, 1, false, c), 0);
	assert_int_equal(srv_run_table_finish(r), AMLRISK_EPROTO);
	srv_run_unref(r);
}

/* A flow_exposure/v1 table keeps the exposures and per-hop shares, and
 * refuses a row of the other model or of another K. */
static void
test_run_table_flow(void **st)
{
	srv_summary sum = {.id = 8, .status = SRV_RUN_COMPLETED, .config_json = "{}"};
	core_config cfg;
	srv_run *r = NULL;
	core_wallet_score ws = {0}, got;
	double rec[32], snt[32];
	uint32_t c[3] = {1, 1, 1};

	(void)st;
	core_config_defaults_model(&cfg, CORE_MODEL_FLOW);
	cfg.hops = 3;
	assert_int_equal(srv_run_table_create(&r, &sum, &cfg, 1), 0);
	ws.model = CORE_MODEL_FLOW;
	ws.hops = 3;
	ws.received = rec;
	ws.sent = snt;
	for (int i = 0; i < 3000; i++) { /* past the hint */
		char name[16];
		snprintf(name, sizeof(name), "f%05d", i);
		for (int k = 0; k < 3; k++) {
			rec[k] = (i + k) / 10000.0;
			snt[k] = (i * k) / 1e7;
		}
		ws.wallet = name;
		ws.wallet_len = strlen(name);
		ws.received_exposure = rec[2];
		ws.sent_exposure = snt[2];
		ws.risk_score = 1.0 - i / 3000.0;
		ws.in_degree = (uint32_t)i;
		ws.is_illicit = i == 0;
		assert_int_equal(srv_run_table_add(r, &ws), 0);
	}
	ws.wallet = "x";
	ws.wallet_len = 1;
	ws.risk_score = 0;
	ws.hops = 4; /* another K */
	assert_int_equal(srv_run_table_add(r, &ws), AMLRISK_EINVAL);
	assert_int_equal(add_hop(r, "y", 0, 0, 0, false, c), AMLRISK_EINVAL); /* other model */
	assert_int_equal(srv_run_table_finish(r), 0);
	assert_int_equal(srv_run_count(r), 3000);
	assert_int_equal(srv_run_find(r, "f01234", 6, &got), 0);
	assert_int_equal(got.model, CORE_MODEL_FLOW);
	assert_int_equal(got.hops, 3);
	assert_int_equal(got.in_degree, 1234);
	assert_true(got.received_exposure == 1236 / 10000.0);
	assert_true(got.sent_exposure == 1234 * 2 / 1e7);
	assert_true(got.received[0] == 1234 / 10000.0);
	assert_true(got.sent[1] == 1234 / 1e7);
	assert_null(got.counts);
	srv_run_at(r, 0, &got);
	assert_memory_equal(got.wallet, "f00000", 6);
	assert_true(got.is_illicit);
	srv_run_unref(r);
	/* a hop table refuses a flow row */
	core_config_defaults_model(&cfg, CORE_MODEL_HOP);
	assert_int_equal(srv_run_table_create(&r, &sum, &cfg, 0), 0);
	ws.hops = 2;
	assert_int_equal(srv_run_table_add(r, &ws), AMLRISK_EINVAL);
	srv_run_unref(r);
}

static void
test_arena(void **st)
{
	srv_arena a;
	char *p;

	(void)st;
	srv_arena_init(&a, 100000);
	for (int i = 0; i < 1000; i++) {
		p = srv_arena_alloc(&a, 24);
		assert_non_null(p);
		assert_int_equal(
		        ((uintptr_t)p) % sizeof(max_align_t) == 0 || ((uintptr_t)p) % 16 == 0, 1);
	}
	assert_non_null(srv_arena_alloc(&a, 20000)); /* a block of its own */
	assert_string_equal(srv_arena_strdup(&a, "hello"), "hello");
	assert_null(srv_arena_alloc(&a, 200000)); /* over the cap */
	assert_true(srv_arena_failed(&a));
	assert_null(srv_arena_alloc(&a, 1)); /* stays failed */
	assert_null(srv_arena_calloc(&a, SIZE_MAX / 2, 4));
	srv_arena_free(&a);
	assert_false(srv_arena_failed(&a));
	assert_non_null(srv_arena_alloc(&a, 1));
	srv_arena_free(&a);
	assert_true(srv_run_status_name(SRV_RUN_FAILED)[0] == 'f');
}

/* ALERT_RULES: canonical names, blanks, every kind of bad rule named. */
static void
test_rules_parse(void **st)
{
	srv_rules r;
	char err[256];
	(void)st;
	assert_int_equal(srv_rules_parse(&r, "", 0.05, err, sizeof(err)), AMLRISK_OK);
	assert_int_equal(r.n, 0);
	assert_int_equal(srv_rules_parse(&r, " threshold>=0.50 , top<=100", 0.1, err, sizeof(err)),
	                 AMLRISK_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.rule[0].kind, SRV_RULE_THRESHOLD);
	assert_true(r.rule[0].threshold == 0.5);
	assert_string_equal(r.rule[0].name, "threshold>=0.5");
	assert_int_equal(r.rule[1].kind, SRV_RULE_TOP);
	assert_int_equal(r.rule[1].top, 100);
	assert_string_equal(r.rule[1].name, "top<=100");
	assert_true(r.margin == 0.1);
	static const struct {
		const char *spec, *says;
	} bad[] = {
	        {"threshold>0.5", "is not a rule"},
	        {"threshold>=", "is not a rule"},
	        {"threshold>=abc", "must be a number > 0"},
	        {"threshold>=-1", "must be a number > 0"},
	        {"threshold>=0", "must be a number > 0"},
	        {"threshold>=nan", "must be a number > 0"},
	        {"threshold>=1e999", "must be a number > 0"},
	        {"top<=0", "must be 1..100000"},
	        {"top<=100001", "must be 1..100000"},
	        {"top<=1x", "must be 1..100000"},
	        {"top<=10,,threshold>=1", "an empty rule"},
	        {"top<=10,", "an empty rule"},
	        {"top<=10,top<=10", "given twice"},
	        {"threshold>=0.5,threshold>=.5", "given twice"},
	        {"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "is not a rule"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		r.n = 7;
		assert_int_equal(srv_rules_parse(&r, bad[i].spec, 0.05, err, sizeof(err)),
		                 AMLRISK_EINVAL);
		assert_int_equal(r.n, 7); /* untouched */
		if (strstr(err, bad[i].says) == NULL)
			fail_msg("'%s': '%s' does not say '%s'", bad[i].spec, err, bad[i].says);
	}
	char many[256] = "";
	for (int i = 1; i <= SRV_RULES_MAX + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%stop<=%d",
		         i > 1 ? "," : "", i);
	assert_int_equal(srv_rules_parse(&r, many, 0.05, err, sizeof(err)), AMLRISK_EINVAL);
	assert_non_null(strstr(err, "more than 16 rules"));
	double m = -1;
	assert_int_equal(srv_rules_margin_parse("0.2", &m), AMLRISK_OK);
	assert_true(m == 0.2);
	assert_int_equal(srv_rules_margin_parse("1", &m), AMLRISK_EINVAL);
	assert_int_equal(srv_rules_margin_parse("-0.1", &m), AMLRISK_EINVAL);
	assert_int_equal(srv_rules_margin_parse("", &m), AMLRISK_EINVAL);
	assert_true(m == 0.2);
}

/* One alert per crossing: no repeat while above, re-armed below the margin. */
static void
test_rules_step(void **st)
{
	srv_rules r;
	char err[256];
	bool armed = true;
	(void)st;
	assert_int_equal(srv_rules_parse(&r, "threshold>=0.5,top<=10", 0.1, err, sizeof(err)),
	                 AMLRISK_OK);
	const srv_rule *th = &r.rule[0], *top = &r.rule[1];
	static const struct {
		double score;
		bool fires, armed;
	} seq[] = {
	        {0.2, false, true},  {0.5, true, false},
	        {0.9, false, false}, {0.45, false, false}, /* below threshold, within the margin */
	        {0.6, false, false}, {0.39, false, true},
	        {0.41, false, true}, {0.55, true, false},
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		assert_int_equal(srv_rule_step(th, r.margin, seq[i].score, 0, &armed),
		                 seq[i].fires);
		assert_int_equal(armed, seq[i].armed);
	}
	/* top<=10 with margin 0.1: re-armed above rank 11 or unranked */
	static const struct {
		uint64_t rank;
		bool fires, armed;
	} ranks[] = {
	        {0, false, true},   {12, false, true}, {10, true, false}, {1, false, false},
	        {11, false, false}, {9, false, false}, {12, false, true}, {3, true, false},
	        {0, false, true},   {10, true, false},
	};
	armed = true;
	for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++) {
		assert_int_equal(srv_rule_step(top, r.margin, 1.0, ranks[i].rank, &armed),
		                 ranks[i].fires);
		assert_int_equal(armed, ranks[i].armed);
	}
}

/* LIVE_SCORING_CONFIG and the alert settings through srv_opts_parse: a valid
 * config of either model, a bad one, rules without a live view; LIVE_POLL_MS
 * bounds. */
static void
test_live_opts(void **st)
{
	srv_opts o;
	char a0[] = "amlrisk-core", f1[] = "--live-scoring-config",
	     v1[] = "{\"model\": \"flow_exposure/v1\", \"hops\": 3}";
	char *argv[] = {a0, f1, v1, NULL};
	(void)st;
	unsetenv("LIVE_SCORING_CONFIG");
	unsetenv("ALERT_RULES");
	unsetenv("ALERT_REARM_MARGIN");
	assert_int_equal(srv_opts_parse(&o, 1, argv), 0);
	assert_int_equal(o.live_on, 0);
	assert_int_equal(o.rules.n, 0);
	assert_int_equal(srv_opts_parse(&o, 3, argv), 0);
	assert_int_equal(o.live_on, 1);
	assert_int_equal(o.live.model, CORE_MODEL_FLOW);
	assert_int_equal(o.live.hops, 3);
	setenv("LIVE_SCORING_CONFIG", "{\"hop_weights\": [1, 0.5]}", 1);
	setenv("ALERT_RULES", "threshold>=0.3", 1);
	assert_int_equal(srv_opts_parse(&o, 1, argv), 0);
	assert_int_equal(o.live.model, CORE_MODEL_HOP);
	assert_int_equal(o.live.hops, 1);
	assert_int_equal(o.rules.n, 1);
	assert_true(o.rules.margin == SRV_REARM_MARGIN_DEFAULT);
	setenv("ALERT_REARM_MARGIN", "0.2", 1);
	assert_int_equal(srv_opts_parse(&o, 1, argv), 0);
	assert_true(o.rules.margin == 0.2);
	assert_int_equal(o.rules.per_update_max, SRV_ALERTS_PER_UPDATE_DEFAULT);
	assert_int_equal(o.rules.state_max, SRV_ALERT_STATE_DEFAULT);
	setenv("ALERTS_PER_UPDATE_MAX", "7", 1);
	setenv("ALERT_STATE_MAX", "5000", 1);
	assert_int_equal(srv_opts_parse(&o, 1, argv), 0);
	assert_int_equal(o.rules.per_update_max, 7);
	assert_int_equal(o.rules.state_max, 5000);
	setenv("ALERTS_PER_UPDATE_MAX", "100001", 1);
	assert_int_equal(srv_opts_parse(&o, 1, argv), 2);
	unsetenv("ALERTS_PER_UPDATE_MAX");
	unsetenv("ALERT_STATE_MAX");
	/* the model's config is checked: a flow key in a hop config */
	setenv("LIVE_SCORING_CONFIG", "{\"model\": \"hop_exposure/v1\", \"smoothing\": 1}", 1);
	assert_int_equal(srv_opts_parse(&o, 1, argv), 2);
	setenv("LIVE_SCORING_CONFIG", "{\"hop_weights\": [1, 0.5]", 1); /* malformed */
	assert_int_equal(srv_opts_parse(&o, 1, argv), 2);
	unsetenv("LIVE_SCORING_CONFIG");
	assert_int_equal(srv_opts_parse(&o, 1, argv), 2); /* rules need a live view */
	assert_int_equal(srv_opts_parse(&o, 3, argv), 0); /* the flag gives one */
	setenv("ALERT_RULES", "threshold>=x", 1);
	assert_int_equal(srv_opts_parse(&o, 3, argv), 2);
	setenv("ALERT_RULES", "top<=5", 1);
	setenv("ALERT_REARM_MARGIN", "2", 1);
	assert_int_equal(srv_opts_parse(&o, 3, argv), 2);
	unsetenv("ALERT_RULES");
	unsetenv("ALERT_REARM_MARGIN");
	/* the follower's poll period: 1000 by default, 50..60000, flag over env */
	assert_int_equal(srv_opts_parse(&o, 1, argv), 0);
	assert_int_equal(o.live_poll_ms, 1000);
	setenv("LIVE_POLL_MS", "49", 1);
	assert_int_equal(srv_opts_parse(&o, 1, argv), 2);
	setenv("LIVE_POLL_MS", "60001", 1);
	assert_int_equal(srv_opts_parse(&o, 1, argv), 2);
	setenv("LIVE_POLL_MS", "60000", 1);
	assert_int_equal(srv_opts_parse(&o, 1, argv), 0);
	assert_int_equal(o.live_poll_ms, 60000);
	char f2[] = "--live-poll-ms", v2[] = "50";
	char *argv2[] = {a0, f2, v2, NULL};
	assert_int_equal(srv_opts_parse(&o, 3, argv2), 0);
	assert_int_equal(o.live_poll_ms, 50);
	unsetenv("LIVE_POLL_MS");
}

/* ---- the disarmed set of a rule ---- */

/* Random adds and removes against a plain array: find agrees for present
 * and absent wallets, indexes stay dense, reserve makes room ahead. */
static void
test_alertset(void **st)
{
	enum { N = 600 };
	static bool in[N];
	srv_alertset *s = NULL;
	uint64_t rng = 99;
	(void)st;
	memset(in, 0, sizeof(in));
	assert_int_equal(srv_alertset_create(&s), AMLRISK_OK);
	assert_int_equal(srv_alertset_find(s, "w1", 2), -1);
	for (int step = 0; step < 20000; step++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned k = (unsigned)(rng >> 33) % N;
		char w[16];
		int len = snprintf(w, sizeof(w), "w%u", k);
		long at = srv_alertset_find(s, w, (size_t)len);
		assert_int_equal(at >= 0, in[k]);
		if (at >= 0) {
			srv_alertset_entry *e = srv_alertset_at(s, (size_t)at);
			assert_memory_equal(e->wallet, w, (size_t)len);
			assert_int_equal(e->id, k);
			srv_alertset_remove(s, (size_t)at);
			in[k] = false;
		} else {
			assert_int_equal(srv_alertset_reserve(s, 1), AMLRISK_OK);
			srv_alertset_add(s, strdup(w), (size_t)len, k, k / 10.0);
			in[k] = true;
		}
		if (step % 997 == 0) { /* every member is found at its index */
			size_t n = 0;
			for (unsigned j = 0; j < N; j++)
				n += in[j];
			assert_int_equal(srv_alertset_count(s), n);
			for (size_t i = 0; i < n; i++) {
				srv_alertset_entry *e = srv_alertset_at(s, i);
				assert_int_equal(srv_alertset_find(s, e->wallet, e->len), (long)i);
				assert_true(e->score == e->id / 10.0);
			}
		}
	}
	srv_alertset_clear(s);
	assert_int_equal(srv_alertset_count(s), 0);
	assert_int_equal(srv_alertset_find(s, "w1", 2), -1);
	srv_alertset_destroy(s);
	srv_alertset_destroy(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_copy_binary),    cmocka_unit_test(test_copy_binary_out),
	        cmocka_unit_test(test_f64_arrays),     cmocka_unit_test(test_copy_text),
	        cmocka_unit_test(test_exposures_json), cmocka_unit_test(test_run_table),
	        cmocka_unit_test(test_run_table_flow), cmocka_unit_test(test_arena),
	        cmocka_unit_test(test_rules_parse),    cmocka_unit_test(test_rules_step),
	        cmocka_unit_test(test_live_opts),      cmocka_unit_test(test_alertset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
