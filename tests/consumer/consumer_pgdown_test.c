/* consumer_pgdown_test.c - PostgreSQL stopped mid-stream and started again:
 * the consumer keeps running, pauses, retries with backoff, reconnects, and in
 * the end every message is stored once. Uses its own private PostgreSQL
 * (scripts/stack start-pg on a free port) so the shared test cluster is untouched. */
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ct.h"
#include "th.h"

static char var_dir[256];
static int pg_port;

static int
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* scripts/stack start-pg|stop-pg for the private cluster */
static int
stack(const char *what)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "AMLRISK_VAR='%s' AMLRISK_PG_PORT=%d '%s/scripts/stack' %s >>'%s/stack.log' 2>&1",
	         var_dir, pg_port, th_env("AMLRISK_SOURCE_DIR"), what, var_dir);
	return system(cmd);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(var_dir, sizeof(var_dir), "/tmp/ct-pg-XXXXXX");
	if (mkdtemp(var_dir) == NULL)
		return -1;
	chmod(var_dir, 0755); /* the cluster runs as user postgres when we are root */
	pg_port = free_port();
	return stack("start-pg") == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	char cmd[512];
	stack("stop-pg");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", var_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* count(*) on a fresh connection: the server restarts under us */
static int64_t
rows(const char *url)
{
	PGconn *c = th_db_connect(url);
	int64_t n = th_db_int(c, "SELECT count(*) FROM transactions");
	PQfinish(c);
	return n;
}

typedef struct feeder {
	const char *topic;
	Aml__V1__Transaction **txs;
	int n, rate;
} feeder;

static void *
feed_run(void *arg)
{
	feeder *f = arg;
	rd_kafka_t *p = ct_producer();
	int64_t t0 = th_now_ms();
	for (int i = 0; i < f->n; i++) {
		ct_produce_tx(p, f->topic, f->txs[i]);
		if (i % 250 == 249) {
			int64_t due = t0 + (int64_t)(i + 1) * 1000 / f->rate, now = th_now_ms();
			if (due > now)
				usleep((useconds_t)(due - now) * 1000);
		}
	}
	ct_producer_close(p);
	return NULL;
}

static int
alive(pid_t pid)
{
	int st;
	return waitpid(pid, &st, WNOHANG) == 0;
}

static void
test_postgres_stopped_mid_stream(void **state)
{
	(void)state;
	enum { N = 30000, PARTS = 2 };
	char url[256], topic[128], group[128], log[512], port[16];
	snprintf(url, sizeof(url), "postgresql://amlrisk@127.0.0.1:%d/amlrisk", pg_port);
	snprintf(port, sizeof(port), "%d", pg_port);
	char *margv[] = { "amlrisk-migrate", "--database-url", url, NULL };
	snprintf(log, sizeof(log), "%s/migrate.log", var_dir);
	int st = th_stop(th_spawn("amlrisk-migrate", margv, NULL, log), 0, 60000);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	th_topic_name(topic, sizeof(topic), "cons.pgdown");
	th_topic_name(group, sizeof(group), "cons.pgdown.g");
	th_topic_create(topic, PARTS);
	ct_log_path(log, sizeof(log), "pgdown");
	ct_tx *txs;
	Aml__V1__Transaction **ptrs;
	ct_txs_make(5000000, N, &txs, &ptrs);

	const char *extra[] = { "--batch-size", "500", "--retry-max-ms", "1000", NULL };
	pid_t pid = ct_consumer_start(url, topic, group, "c-pgdown", extra, log);
	feeder f = { .topic = topic, .txs = ptrs, .n = N, .rate = 5000 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, feed_run, &f), 0);

	int64_t end = th_now_ms() + 60000;
	while (rows(url) < 5000 && th_now_ms() < end)
		usleep(50000);
	assert_int_equal(stack("stop-pg"), 0);
	int64_t down_at = th_now_ms();
	/* down for a while: the consumer notices, pauses, retries, stays up */
	assert_true(ct_wait_log(log, "consumption.paused", 20000));
	while (th_now_ms() - down_at < 4000)
		usleep(100000);
	assert_true(alive(pid));
	assert_int_equal(stack("start-pg"), 0);
	pthread_join(t, NULL);

	PGconn *c = th_db_connect(url);
	assert_int_equal(ct_wait_rows(c, N, 90000), N);
	assert_true(alive(pid));
	assert_true(ct_wait_log(log, "consumption.resumed", 1000));
	ct_assert_rows(c, ptrs, N);
	/* the outage is on record for IngestionStatus */
	assert_int_equal(th_db_int(c, "SELECT count(*) FROM ingestion_consumers "
	                              "WHERE last_error LIKE 'database:%' AND last_error_at IS NOT NULL"),
	                 1);
	ct_stop_committed(pid, c, group, topic, PARTS);
	PQfinish(c);
	free(ptrs);
	free(txs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_postgres_stopped_mid_stream, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
