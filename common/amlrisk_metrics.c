/* amlrisk_metrics.c - fixed arrays of atomic values per family and series: no
 * lock and no allocation once a series exists (creation takes the family's
 * lock once). Rendering walks them into an amlrisk_buf. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_fmt.h"
#include "amlrisk_metrics.h"

const double amlrisk_metrics_latency_bounds[] = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
const int amlrisk_metrics_latency_nbounds =
        (int)(sizeof(amlrisk_metrics_latency_bounds) / sizeof(amlrisk_metrics_latency_bounds[0]));

struct amlrisk_series {
	amlrisk_metric_type type; /* its family's */
	const amlrisk_metric *family;
	char values[2][AMLRISK_METRICS_LABEL_MAX];
	_Atomic uint64_t bits; /* counter: integer; gauge: double bits; histogram: count */
	_Atomic uint64_t sum;  /* histogram: double bits of the sum */
	_Atomic uint64_t buckets[AMLRISK_METRICS_BUCKETS_MAX];
};

struct amlrisk_metric {
	amlrisk_metric_type type;
	char name[128];
	char help[256];
	int nlabels;
	char labels[2][32];
	int nbounds;
	double bounds[AMLRISK_METRICS_BUCKETS_MAX];
	pthread_mutex_t lock; /* creation of series */
	_Atomic int nseries;  /* published series (release after filling) */
	amlrisk_series series[AMLRISK_METRICS_SERIES_MAX + 1]; /* the last: "other" */
};

struct amlrisk_metrics {
	pthread_mutex_t lock; /* families and the collect hook */
	int nfam;
	amlrisk_metric *fam[AMLRISK_METRICS_FAMILIES_MAX];
	void (*collect)(void *arg);
	void *collect_arg;
};

static uint64_t
d2u(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double
u2d(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

int
amlrisk_metrics_create(amlrisk_metrics **out)
{
	amlrisk_metrics *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		return AMLRISK_ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return AMLRISK_OK;
}

void
amlrisk_metrics_destroy(amlrisk_metrics *r)
{
	int i;

	if (r == NULL) {
		return;
	}
	for (i = 0; i < r->nfam; i++) {
		pthread_mutex_destroy(&r->fam[i]->lock);
		free(r->fam[i]);
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no colon). */
static int
valid_name(const char *s, size_t max, int colon)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) >= max || (s[0] >= '0' && s[0] <= '9')) {
		return 0;
	}
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (colon && c == ':'))) {
			return 0;
		}
	}
	return 1;
}

int
amlrisk_metrics_add(amlrisk_metrics *r, amlrisk_metric_type type, const char *name,
                    const char *help, const char *const *labels, const double *bounds, int nbounds,
                    amlrisk_metric **out)
{
	amlrisk_metric *m;
	int i, n = 0;

	if (!valid_name(name, sizeof(m->name), 1) || help == NULL ||
	    strlen(help) >= sizeof(m->help)) {
		return AMLRISK_EINVAL;
	}
	while (labels != NULL && labels[n] != NULL) {
		if (n == 2 || !valid_name(labels[n], sizeof(m->labels[0]), 0) ||
		    strcmp(labels[n], "le") == 0) {
			return AMLRISK_EINVAL;
		}
		n++;
	}
	if (type == AMLRISK_HISTOGRAM) {
		if (nbounds < 1 || nbounds > AMLRISK_METRICS_BUCKETS_MAX || bounds == NULL) {
			return AMLRISK_EINVAL;
		}
		for (i = 1; i < nbounds; i++) {
			if (!(bounds[i] > bounds[i - 1])) {
				return AMLRISK_EINVAL;
			}
		}
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		return AMLRISK_ENOMEM;
	}
	m->type = type;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->help, sizeof(m->help), "%s", help);
	m->nlabels = n;
	for (i = 0; i < n; i++) {
		snprintf(m->labels[i], sizeof(m->labels[i]), "%s", labels[i]);
	}
	if (type == AMLRISK_HISTOGRAM) {
		m->nbounds = nbounds;
		memcpy(m->bounds, bounds, (size_t)nbounds * sizeof(double));
	}
	pthread_mutex_init(&m->lock, NULL);
	for (i = 0; i <= AMLRISK_METRICS_SERIES_MAX; i++) {
		m->series[i].type = type;
		m->series[i].family = m;
	}
	snprintf(m->series[AMLRISK_METRICS_SERIES_MAX].values[0], AMLRISK_METRICS_LABEL_MAX,
	         "other");
	snprintf(m->series[AMLRISK_METRICS_SERIES_MAX].values[1], AMLRISK_METRICS_LABEL_MAX,
	         "other");
	pthread_mutex_lock(&r->lock);
	if (r->nfam == AMLRISK_METRICS_FAMILIES_MAX) {
		pthread_mutex_unlock(&r->lock);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return AMLRISK_EINVAL;
	}
	r->fam[r->nfam++] = m;
	pthread_mutex_unlock(&r->lock);
	if (n == 0) {
		(void)amlrisk_metric_series(m, NULL, NULL); /* always rendered */
	}
	*out = m;
	return AMLRISK_OK;
}

static amlrisk_series *
find(amlrisk_metric *m, int n, const char *v1, const char *v2)
{
	int i;

	for (i = 0; i < n; i++) {
		amlrisk_series *s = &m->series[i];
		if ((m->nlabels < 1 ||
		     strncmp(s->values[0], v1, AMLRISK_METRICS_LABEL_MAX - 1) == 0) &&
		    (m->nlabels < 2 ||
		     strncmp(s->values[1], v2, AMLRISK_METRICS_LABEL_MAX - 1) == 0)) {
			return s;
		}
	}
	return NULL;
}

amlrisk_series *
amlrisk_metric_series(amlrisk_metric *m, const char *v1, const char *v2)
{
	amlrisk_series *s;
	int n;

	v1 = v1 != NULL ? v1 : "";
	v2 = v2 != NULL ? v2 : "";
	n = atomic_load_explicit(&m->nseries, memory_order_acquire);
	if ((s = find(m, n, v1, v2)) != NULL) {
		return s;
	}
	pthread_mutex_lock(&m->lock);
	n = atomic_load_explicit(&m->nseries, memory_order_relaxed);
	if ((s = find(m, n, v1, v2)) == NULL) {
		if (n == AMLRISK_METRICS_SERIES_MAX) {
			s = &m->series[AMLRISK_METRICS_SERIES_MAX];
		} else {
			s = &m->series[n];
			snprintf(s->values[0], AMLRISK_METRICS_LABEL_MAX, "%s", v1);
			snprintf(s->values[1], AMLRISK_METRICS_LABEL_MAX, "%s", v2);
			atomic_store_explicit(&m->nseries, n + 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return s;
}

static void
add_double(_Atomic uint64_t *a, double d)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(a, &old, d2u(u2d(old) + d),
	                                              memory_order_relaxed, memory_order_relaxed)) {
	}
}

void
amlrisk_series_add(amlrisk_series *s, int64_t n)
{
	if (s->type == AMLRISK_COUNTER) {
		if (n > 0) { /* a counter never goes down */
			atomic_fetch_add_explicit(&s->bits, (uint64_t)n, memory_order_relaxed);
		}
	} else if (s->type == AMLRISK_GAUGE) {
		add_double(&s->bits, (double)n);
	}
}

void
amlrisk_series_set(amlrisk_series *s, double v)
{
	if (s->type == AMLRISK_GAUGE) {
		atomic_store_explicit(&s->bits, d2u(v), memory_order_relaxed);
	}
}

void
amlrisk_series_observe(amlrisk_series *s, double v)
{
	const amlrisk_metric *m = s->family;
	int b;

	if (s->type != AMLRISK_HISTOGRAM) {
		return;
	}
	for (b = 0; b < m->nbounds && v > m->bounds[b]; b++) {
	}
	if (b < m->nbounds) {
		atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
	}
	add_double(&s->sum, v);
	atomic_fetch_add_explicit(&s->bits, 1, memory_order_relaxed);
}

double
amlrisk_series_value(const amlrisk_series *s)
{
	uint64_t u = atomic_load_explicit(&s->bits, memory_order_relaxed);

	return s->type == AMLRISK_GAUGE ? u2d(u) : (double)u;
}

void
amlrisk_metrics_on_collect(amlrisk_metrics *r, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&r->lock);
	r->collect = fn;
	r->collect_arg = arg;
	pthread_mutex_unlock(&r->lock);
}

static void
add_str(amlrisk_buf *out, const char *s)
{
	amlrisk_buf_add(out, s, strlen(s));
}

/* A label value or help text with \\, \n (and \" in label values) escaped. */
static void
add_escaped(amlrisk_buf *out, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\') {
			add_str(out, "\\\\");
		} else if (*s == '\n') {
			add_str(out, "\\n");
		} else if (quote && *s == '"') {
			add_str(out, "\\\"");
		} else {
			amlrisk_buf_add(out, s, 1);
		}
	}
}

/* Integral values as integers, the others as the shortest round-trip text;
 * NaN and infinities as the exposition format spells them. */
static void
add_value(amlrisk_buf *out, double v)
{
	char tmp[AMLRISK_FMT_DOUBLE_MAX];
	size_t n;

	if (isnan(v)) {
		add_str(out, "NaN");
	} else if (isinf(v)) {
		add_str(out, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		n = (size_t)snprintf(tmp, sizeof(tmp), "%.0f", v);
		amlrisk_buf_add(out, tmp, n);
	} else {
		n = amlrisk_fmt_double(tmp, sizeof(tmp), v);
		amlrisk_buf_add(out, tmp, n);
	}
}

void
amlrisk_metrics_write_header(amlrisk_buf *out, const char *name, const char *help,
                             amlrisk_metric_type type)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};

	add_str(out, "# HELP ");
	add_str(out, name);
	amlrisk_buf_add(out, " ", 1);
	add_escaped(out, help, 0);
	add_str(out, "\n# TYPE ");
	add_str(out, name);
	amlrisk_buf_add(out, " ", 1);
	add_str(out, types[type]);
	amlrisk_buf_add(out, "\n", 1);
}

void
amlrisk_metrics_write_sample(amlrisk_buf *out, const char *name, const char *const *label_pairs,
                             double value)
{
	int i;

	add_str(out, name);
	for (i = 0; label_pairs != NULL && label_pairs[i] != NULL && label_pairs[i + 1] != NULL;
	     i += 2) {
		add_str(out, i == 0 ? "{" : ",");
		add_str(out, label_pairs[i]);
		add_str(out, "=\"");
		add_escaped(out, label_pairs[i + 1], 1);
		amlrisk_buf_add(out, "\"", 1);
	}
	if (i > 0) {
		amlrisk_buf_add(out, "}", 1);
	}
	amlrisk_buf_add(out, " ", 1);
	add_value(out, value);
	amlrisk_buf_add(out, "\n", 1);
}

void
amlrisk_metrics_write_histogram(amlrisk_buf *out, const char *name, const char *const *label_pairs,
                                const double *bounds, int nbounds, const uint64_t *buckets,
                                uint64_t count, double sum)
{
	const char *pairs[2 * AMLRISK_METRICS_PAIRS_MAX + 1] = {NULL};
	char sname[160], le[AMLRISK_FMT_DOUBLE_MAX];
	uint64_t cum = 0;
	int i, k = 0;

	while (label_pairs != NULL && label_pairs[k] != NULL && label_pairs[k + 1] != NULL &&
	       k < 2 * (AMLRISK_METRICS_PAIRS_MAX - 1)) {
		pairs[k] = label_pairs[k];
		pairs[k + 1] = label_pairs[k + 1];
		k += 2;
	}
	snprintf(sname, sizeof(sname), "%s_bucket", name);
	pairs[k] = "le";
	pairs[k + 1] = le;
	for (i = 0; i < nbounds; i++) {
		cum += buckets[i];
		amlrisk_fmt_double(le, sizeof(le), bounds[i]);
		amlrisk_metrics_write_sample(out, sname, pairs, (double)cum);
	}
	/* counters are read one by one while others add: +Inf never below a bucket */
	count = count > cum ? count : cum;
	snprintf(le, sizeof(le), "+Inf");
	amlrisk_metrics_write_sample(out, sname, pairs, (double)count);
	pairs[k] = NULL;
	snprintf(sname, sizeof(sname), "%s_sum", name);
	amlrisk_metrics_write_sample(out, sname, pairs, sum);
	snprintf(sname, sizeof(sname), "%s_count", name);
	amlrisk_metrics_write_sample(out, sname, pairs, (double)count);
}

static void
render_series(const amlrisk_metric *m, const amlrisk_series *s, amlrisk_buf *out)
{
	const char *pairs[2 * AMLRISK_METRICS_PAIRS_MAX + 1] = {NULL};
	uint64_t b[AMLRISK_METRICS_BUCKETS_MAX];
	int i, k = 0;

	for (i = 0; i < m->nlabels; i++) {
		pairs[k++] = m->labels[i];
		pairs[k++] = s->values[i];
	}
	if (m->type != AMLRISK_HISTOGRAM) {
		amlrisk_metrics_write_sample(out, m->name, pairs, amlrisk_series_value(s));
		return;
	}
	for (i = 0; i < m->nbounds; i++) {
		b[i] = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
	}
	amlrisk_metrics_write_histogram(out, m->name, pairs, m->bounds, m->nbounds, b,
	                                atomic_load_explicit(&s->bits, memory_order_relaxed),
	                                u2d(atomic_load_explicit(&s->sum, memory_order_relaxed)));
}

void
amlrisk_metrics_render(amlrisk_metrics *r, amlrisk_buf *out)
{
	int f, i;

	pthread_mutex_lock(&r->lock);
	if (r->collect != NULL) {
		r->collect(r->collect_arg);
	}
	for (f = 0; f < r->nfam; f++) {
		const amlrisk_metric *m = r->fam[f];
		int n = atomic_load_explicit(&m->nseries, memory_order_acquire);
		const amlrisk_series *other = &m->series[AMLRISK_METRICS_SERIES_MAX];

		if (n == 0) {
			continue;
		}
		amlrisk_metrics_write_header(out, m->name, m->help, m->type);
		for (i = 0; i < n; i++) {
			render_series(m, &m->series[i], out);
		}
		if (atomic_load_explicit(&other->bits, memory_order_relaxed) != 0) {
			render_series(m, other, out);
		}
	}
	pthread_mutex_unlock(&r->lock);
}
