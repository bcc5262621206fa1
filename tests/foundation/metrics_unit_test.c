/* metrics_unit_test.c - common/amlrisk_metrics without services: names and
 * bounds refused, label values escaped, the label-set bound ("other"),
 * histogram buckets cumulative with +Inf = count, counters never going down,
 * concurrent adds not lost, and the HTTP listener: GET /metrics answered, a
 * port in use reported by name, malformed addresses refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "amlrisk_err.h"
#include "amlrisk_metrics.h"
#include "amlrisk_metrics_http.h"

/* The exposition of r as a NUL-terminated string in b (caller frees b). */
static const char *
render(amlrisk_metrics *r, amlrisk_buf *b)
{
	amlrisk_buf_init(b, 1 << 20);
	amlrisk_metrics_render(r, b);
	amlrisk_buf_add(b, "", 1);
	assert_false(b->failed);
	return b->data;
}

static void
test_refused(void **state)
{
	static const char *const three[] = {"a", "b", "c", NULL};
	static const char *const le[] = {"le", NULL};
	static const char *const bad[] = {"a:b", NULL};
	static const double down[] = {1, 0.5};
	amlrisk_metrics *r;
	amlrisk_metric *m = NULL;

	(void)state;
	assert_int_equal(amlrisk_metrics_create(&r), AMLRISK_OK);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_COUNTER, "9x", "h", NULL, NULL, 0, &m),
	                 AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_COUNTER, "a-b", "h", NULL, NULL, 0, &m),
	                 AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_COUNTER, "x", "h", three, NULL, 0, &m),
	                 AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_HISTOGRAM, "x", "h", le, down, 1, &m),
	                 AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_COUNTER, "x", "h", bad, NULL, 0, &m),
	                 AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_HISTOGRAM, "x", "h", NULL, down, 2, &m),
	                 AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_HISTOGRAM, "x", "h", NULL, down, 0, &m),
	                 AMLRISK_EINVAL);
	assert_null(m);
	amlrisk_metrics_destroy(r);
	amlrisk_metrics_destroy(NULL);
}

static void
test_text(void **state)
{
	static const char *const reason[] = {"reason", NULL};
	static const double bounds[] = {0.1, 1};
	amlrisk_metrics *r;
	amlrisk_metric *c, *g, *h;
	amlrisk_buf b;
	char v[16];

	(void)state;
	assert_int_equal(amlrisk_metrics_create(&r), AMLRISK_OK);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_COUNTER, "t_total", "a \\ help\nline",
	                                     reason, NULL, 0, &c),
	                 AMLRISK_OK);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_GAUGE, "t_gauge", "g", NULL, NULL, 0, &g),
	                 AMLRISK_OK);
	assert_int_equal(
	        amlrisk_metrics_add(r, AMLRISK_HISTOGRAM, "t_seconds", "h", NULL, bounds, 2, &h),
	        AMLRISK_OK);
	amlrisk_series_add(amlrisk_metric_series(c, "q\"b\\n\nx", NULL), 3);
	amlrisk_series_add(amlrisk_metric_series(c, "q\"b\\n\nx", NULL), -5); /* ignored */
	amlrisk_series_set(amlrisk_metric_series(g, NULL, NULL), 2.5);
	amlrisk_series_add(amlrisk_metric_series(g, NULL, NULL), -3);
	amlrisk_series_observe(amlrisk_metric_series(h, NULL, NULL), 0.05);
	amlrisk_series_observe(amlrisk_metric_series(h, NULL, NULL), 0.5);
	amlrisk_series_observe(amlrisk_metric_series(h, NULL, NULL), 7);
	const char *t = render(r, &b);
	assert_non_null(strstr(t, "# HELP t_total a \\\\ help\\nline\n# TYPE t_total counter\n"));
	assert_non_null(strstr(t, "t_total{reason=\"q\\\"b\\\\n\\nx\"} 3\n"));
	assert_non_null(strstr(t, "# TYPE t_gauge gauge\nt_gauge -0.5\n"));
	assert_non_null(strstr(t, "t_seconds_bucket{le=\"0.1\"} 1\n"
	                          "t_seconds_bucket{le=\"1.0\"} 2\n"
	                          "t_seconds_bucket{le=\"+Inf\"} 3\n"
	                          "t_seconds_sum 7.55\n"
	                          "t_seconds_count 3\n"));
	amlrisk_buf_free(&b);

	/* the label-set bound: past it, one "other" series */
	for (int i = 0; i < AMLRISK_METRICS_SERIES_MAX + 10; i++) {
		snprintf(v, sizeof(v), "r%d", i);
		amlrisk_series_add(amlrisk_metric_series(c, v, NULL), 1);
	}
	t = render(r, &b);
	assert_non_null(strstr(t, "t_total{reason=\"other\"} 11\n"));
	assert_null(strstr(t, "reason=\"r63\""));
	assert_non_null(strstr(t, "reason=\"r62\""));
	amlrisk_buf_free(&b);
	amlrisk_metrics_destroy(r);
}

static void *
adder(void *arg)
{
	for (int i = 0; i < 100000; i++) {
		amlrisk_series_add(arg, 1);
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	amlrisk_metrics *r;
	amlrisk_metric *c;
	pthread_t t[4];

	(void)state;
	assert_int_equal(amlrisk_metrics_create(&r), AMLRISK_OK);
	assert_int_equal(amlrisk_metrics_add(r, AMLRISK_COUNTER, "n_total", "n", NULL, NULL, 0, &c),
	                 AMLRISK_OK);
	amlrisk_series *s = amlrisk_metric_series(c, NULL, NULL);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, adder, s), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
	}
	assert_true(amlrisk_series_value(s) == 400000);
	amlrisk_metrics_destroy(r);
}

/* GET path on 127.0.0.1:port; the whole answer into out. */
static void
http_get(int port, const char *path, char *out, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[256];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0) {
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fd);
}

static void
test_http(void **state)
{
	amlrisk_metrics *r;
	amlrisk_metric *c;
	amlrisk_metrics_http *h = NULL, *h2 = NULL;
	char addr[64], want[128], err[256], body[4096];

	(void)state;
	assert_int_equal(amlrisk_metrics_create(&r), AMLRISK_OK);
	assert_int_equal(
	        amlrisk_metrics_add(r, AMLRISK_COUNTER, "up_total", "u", NULL, NULL, 0, &c),
	        AMLRISK_OK);
	amlrisk_series_add(amlrisk_metric_series(c, NULL, NULL), 42);
	assert_int_equal(amlrisk_metrics_http_start(r, "127.0.0.1:0", &h, err, sizeof(err)),
	                 AMLRISK_OK);
	int port = amlrisk_metrics_http_port(h);
	assert_true(port > 0);
	http_get(port, "/metrics", body, sizeof(body));
	assert_non_null(strstr(body, "200 OK"));
	assert_non_null(strstr(body, "text/plain; version=0.0.4"));
	assert_non_null(strstr(body, "\nup_total 42\n"));
	http_get(port, "/nope", body, sizeof(body));
	assert_non_null(strstr(body, " 404 "));

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(amlrisk_metrics_http_start(r, addr, &h2, err, sizeof(err)), AMLRISK_EIO);
	snprintf(want, sizeof(want), "metrics: address already in use: %s", addr);
	assert_string_equal(err, want);
	assert_null(h2);
	assert_int_equal(amlrisk_metrics_http_start(r, "9101", &h2, err, sizeof(err)),
	                 AMLRISK_EINVAL);
	assert_string_equal(err, "metrics: expected HOST:PORT, got '9101'");
	assert_int_equal(amlrisk_metrics_http_check("h:70000", err, sizeof(err)), AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_http_check("h:1x", err, sizeof(err)), AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_http_check("h:", err, sizeof(err)), AMLRISK_EINVAL);
	assert_int_equal(amlrisk_metrics_http_check("0.0.0.0:9101", err, sizeof(err)), AMLRISK_OK);
	amlrisk_metrics_http_destroy(h);
	amlrisk_metrics_http_destroy(NULL);
	amlrisk_metrics_destroy(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_text),
	        cmocka_unit_test(test_concurrent),
	        cmocka_unit_test(test_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
