/* srv_rules.c - parsing of ALERT_RULES / ALERT_REARM_MARGIN and the
 * hysteresis step of each rule. Pure: no I/O, unit-tested. */
#include "srv_rules.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_fmt.h"

/* A strict finite decimal filling [s, end). */
static int
parse_double(const char *s, const char *end, double *out)
{
	char buf[64], *e = NULL;
	size_t len = (size_t)(end - s);
	if (len == 0 || len >= sizeof(buf))
		return AMLRISK_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!isdigit((unsigned char)buf[0]) && buf[0] != '.')
		return AMLRISK_EINVAL; /* no sign, no blanks, no "inf"/"nan" */
	errno = 0;
	double v = strtod(buf, &e);
	if (errno != 0 || *e != '\0' || !isfinite(v))
		return AMLRISK_EINVAL;
	*out = v;
	return AMLRISK_OK;
}

int
srv_rules_margin_parse(const char *s, double *out)
{
	double v;
	if (s == NULL || parse_double(s, s + strlen(s), &v) != AMLRISK_OK || v >= 1.0)
		return AMLRISK_EINVAL;
	*out = v;
	return AMLRISK_OK;
}

/* One rule in [s, end) (trimmed) into r. */
static int
parse_rule(const char *s, const char *end, srv_rule *r, char *err, size_t errlen)
{
	int len = (int)(end - s);
	static const char TH[] = "threshold>=", TOP[] = "top<=";
	double v;
	if ((size_t)len > strlen(TH) && strncmp(s, TH, strlen(TH)) == 0) {
		if (parse_double(s + strlen(TH), end, &v) != AMLRISK_OK || v <= 0.0) {
			snprintf(err, errlen, "'%.*s': the threshold must be a number > 0", len, s);
			return AMLRISK_EINVAL;
		}
		char num[AMLRISK_FMT_DOUBLE_MAX];
		amlrisk_fmt_double(num, sizeof(num), v);
		r->kind = SRV_RULE_THRESHOLD;
		r->threshold = v;
		snprintf(r->name, sizeof(r->name), "%s%s", TH, num);
		return AMLRISK_OK;
	}
	if ((size_t)len > strlen(TOP) && strncmp(s, TOP, strlen(TOP)) == 0) {
		const char *d = s + strlen(TOP);
		unsigned long n = 0;
		int ok = d < end && end - d <= 6;
		for (const char *p = d; ok && p < end; p++) {
			ok = isdigit((unsigned char)*p);
			n = n * 10 + (unsigned long)(*p - '0');
		}
		if (!ok || n < 1 || n > SRV_RULE_TOP_MAX) {
			snprintf(err, errlen, "'%.*s': N of top<=N must be 1..%d", len, s,
			         SRV_RULE_TOP_MAX);
			return AMLRISK_EINVAL;
		}
		r->kind = SRV_RULE_TOP;
		r->top = (uint32_t)n;
		snprintf(r->name, sizeof(r->name), "%s%lu", TOP, n);
		return AMLRISK_OK;
	}
	snprintf(err, errlen, "'%.*s' is not a rule (threshold>=SCORE or top<=N, comma-separated)",
	         len > 80 ? 80 : len, s);
	return AMLRISK_EINVAL;
}

int
srv_rules_parse(srv_rules *out, const char *spec, double margin, char *err, size_t errlen)
{
	srv_rules rs = {.n = 0, .margin = margin};
	const char *s = spec != NULL ? spec : "";
	while (*s != '\0') {
		const char *end = strchr(s, ',');
		if (end == NULL)
			end = s + strlen(s);
		const char *a = s, *b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a == b) {
			snprintf(err, errlen, "an empty rule (two commas, or one at an end)");
			return AMLRISK_EINVAL;
		}
		if (rs.n == SRV_RULES_MAX) {
			snprintf(err, errlen, "more than %d rules", SRV_RULES_MAX);
			return AMLRISK_EINVAL;
		}
		srv_rule *r = &rs.rule[rs.n];
		if (parse_rule(a, b, r, err, errlen) != AMLRISK_OK)
			return AMLRISK_EINVAL;
		for (int i = 0; i < rs.n; i++)
			if (strcmp(rs.rule[i].name, r->name) == 0) {
				snprintf(err, errlen, "'%s' is given twice", r->name);
				return AMLRISK_EINVAL;
			}
		rs.n++;
		s = *end == ',' ? end + 1 : end;
		if (*end == ',' && *s == '\0') {
			snprintf(err, errlen, "an empty rule (two commas, or one at an end)");
			return AMLRISK_EINVAL;
		}
	}
	*out = rs;
	return AMLRISK_OK;
}

bool
srv_rule_step(const srv_rule *r, double margin, double score, uint64_t rank, bool *armed)
{
	bool in, out;
	if (r->kind == SRV_RULE_THRESHOLD) {
		in = score >= r->threshold;
		out = score < r->threshold - margin;
	} else {
		uint64_t back = r->top + (uint64_t)ceil(margin * (double)r->top);
		in = rank >= 1 && rank <= r->top;
		out = rank == 0 || rank > back;
	}
	if (*armed && in) {
		*armed = false;
		return true;
	}
	if (!*armed && out)
		*armed = true;
	return false;
}
