/* th.c - harness implementation: libpq for databases, librdkafka's admin API
 * for topics, fork/exec for services under test. */
#include "th.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include <setjmp.h>
#include <cmocka.h>

#include "amlrisk_err.h"
#include "amlrisk_tx.h"
#include "rpc.h"
#include "sql_migrate.h"

int64_t
th_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
th_env(const char *name)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		fail_msg("environment variable %s is not set: run the tests through `make test` "
		         "(or eval \"$(scripts/stack env)\" after scripts/stack up)",
		         name);
	return v;
}

static unsigned
uniq(void)
{
	static unsigned counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned)(ts.tv_nsec ^ (unsigned)getpid() * 2654435761u) + ++counter * 7919u;
}

/* conninfo of base with dbname replaced */
static void
url_with_db(char *out, size_t outlen, const char *base, const char *db)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(base, &err);
	if (opts == NULL)
		fail_msg("cannot parse DATABASE_URL: %s", err ? err : "?");
	size_t n = 0;
	out[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
		if (v == NULL || *v == '\0')
			continue;
		int w = snprintf(out + n, outlen - n, "%s%s='%s'", n ? " " : "", o->keyword, v);
		if (w < 0 || (size_t)w >= outlen - n)
			fail_msg("conninfo too long");
		n += (size_t)w;
	}
	PQconninfoFree(opts);
}

PGconn *
th_db_connect(const char *url)
{
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		PQfinish(c);
		fail_msg("cannot connect to PostgreSQL (%s): %s", url, msg);
	}
	return c;
}

static void
admin_exec(const char *sql)
{
	char url[1024];
	url_with_db(url, sizeof(url), th_env("DATABASE_URL"), "postgres");
	PGconn *c = th_db_connect(url);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		fail_msg("%s: %s", sql, msg);
	}
	PQclear(r);
	PQfinish(c);
}

void
th_db_create(char *url, size_t urllen, int migrate)
{
	char db[64], sql[160], err[1024];
	snprintf(db, sizeof(db), "t_%d_%08x", (int)getpid(), uniq());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db); /* name made here, not input */
	admin_exec(sql);
	url_with_db(url, urllen, th_env("DATABASE_URL"), db);
	if (!migrate)
		return;
	PGconn *c = th_db_connect(url);
	int rv = sql_migrate(c, NULL, err, sizeof(err));
	PQfinish(c);
	if (rv != AMLRISK_OK)
		fail_msg("migrating %s: %s", db, err);
}

void
th_db_drop(const char *url)
{
	char *err = NULL, sql[160];
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	if (opts == NULL)
		return;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL && strncmp(o->val, "t_", 2) == 0) {
			snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", o->val);
			admin_exec(sql);
		}
	}
	PQconninfoFree(opts);
}

int64_t
th_db_int(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		PQclear(r);
		fail_msg("%s: %s", sql, msg);
	}
	int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

void
th_topic_name(char *out, size_t outlen, const char *prefix)
{
	snprintf(out, outlen, "%s.%d.%08x", prefix, (int)getpid(), uniq());
}

void
th_kafka_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
		fail_msg("kafka conf %s=%s: %s", k, v, err);
}

rd_kafka_conf_t *
th_kafka_conf(void)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	assert_non_null(c);
	th_kafka_set(c, "bootstrap.servers", th_env("KAFKA_BOOTSTRAP_SERVERS"));
	return c;
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	th_delivery *d = opaque;
	(void)rk;
	if (m->err)
		d->err++;
	else
		d->ok++;
}

void
th_kafka_count_deliveries(rd_kafka_conf_t *c, th_delivery *d)
{
	rd_kafka_conf_set_opaque(c, d);
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
}

rd_kafka_t *
th_kafka_consumer(rd_kafka_conf_t *c, const char *group)
{
	char err[256];
	th_kafka_set(c, "group.id", group);
	th_kafka_set(c, "auto.offset.reset", "earliest");
	th_kafka_set(c, "enable.auto.commit", "false");
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (rk == NULL)
		fail_msg("consumer: %s", err);
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

rd_kafka_t *
th_kafka_subscribe(const char *topic, const char *group)
{
	rd_kafka_t *rk = th_kafka_consumer(th_kafka_conf(), group);
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
	assert_int_equal(rd_kafka_subscribe(rk, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(sub);
	return rk;
}

size_t
th_kafka_consume(rd_kafka_t *rk, size_t want, int timeout_ms, int quiet_ms, th_kafka_msg_fn fn,
                 void *arg)
{
	size_t cnt = 0;
	int64_t end = th_now_ms() + timeout_ms, quiet_until = 0;
	while (th_now_ms() < end) {
		if (cnt >= want && quiet_until == 0)
			quiet_until = th_now_ms() + quiet_ms;
		if (quiet_until != 0 && th_now_ms() >= quiet_until)
			break;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && fn(m, arg))
			cnt++;
		rd_kafka_message_destroy(m);
	}
	return cnt;
}

void
th_topic_create(const char *topic, int partitions)
{
	char errstr[512];
	rd_kafka_conf_t *conf = th_kafka_conf();
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		fail_msg("rd_kafka_new: %s", errstr);
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof(errstr));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, errstr, sizeof(errstr));
	rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 60000);
	const char *problem = NULL;
	char pbuf[512];
	if (ev == NULL)
		problem = "CreateTopics timed out";
	else if (rd_kafka_event_error(ev))
		problem = rd_kafka_event_error_string(ev);
	else {
		size_t cnt;
		const rd_kafka_topic_result_t **res =
		    rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
		if (cnt == 1 && rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			snprintf(pbuf, sizeof(pbuf), "%s", rd_kafka_topic_result_error_string(res[0]));
			problem = pbuf;
		}
	}
	if (problem != NULL && problem != pbuf) {
		snprintf(pbuf, sizeof(pbuf), "%s", problem);
		problem = pbuf;
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_NewTopic_destroy(nt);
	/* wait until the leader of every partition is known */
	for (int i = 0; problem == NULL && i < 200; i++) {
		rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
		const rd_kafka_metadata_t *md = NULL;
		int ready = 0;
		if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			ready = md->topic_cnt == 1 && md->topics[0].err == 0 &&
			        md->topics[0].partition_cnt == partitions;
			for (int p = 0; ready && p < md->topics[0].partition_cnt; p++)
				ready = md->topics[0].partitions[p].leader >= 0;
			rd_kafka_metadata_destroy(md);
		}
		rd_kafka_topic_destroy(t);
		if (ready)
			break;
		usleep(50000);
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	if (problem != NULL)
		fail_msg("creating topic %s: %s", topic, problem);
}

size_t
th_fixture_load(const char *name, Aml__V1__Transaction ***out)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", th_env("AMLRISK_FIXTURES"), name);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("fixture %s: %s", path, strerror(errno));
	size_t n = 0, cap = 64;
	Aml__V1__Transaction **v = malloc(cap * sizeof(*v)), *tx;
	assert_non_null(v);
	int rv;
	while ((rv = amlrisk_tx_read(f, &tx)) == AMLRISK_OK) {
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		v[n++] = tx;
	}
	fclose(f);
	if (rv != AMLRISK_ENOTFOUND)
		fail_msg("fixture %s: record %zu: %s", path, n, amlrisk_strerror(rv));
	*out = v;
	return n;
}

void
th_fixture_free(Aml__V1__Transaction **txs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		aml__v1__transaction__free_unpacked(txs[i], NULL);
	free(txs);
}

/* Children th_spawn started. At exit (a failed assertion jumps past the test's
 * own th_stop) those still running are killed, so a failing test leaves no
 * orphan service behind. A pid already reaped elsewhere is no longer our child
 * (waitpid says ECHILD) and is left alone. */
#define TH_CHILDREN_MAX 64
static pid_t children[TH_CHILDREN_MAX];

static void
kill_children(void)
{
	for (int i = 0; i < TH_CHILDREN_MAX; i++) {
		if (children[i] > 0 && waitpid(children[i], NULL, WNOHANG) == 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
		children[i] = 0;
	}
}

/* True when pid has exited or is no longer our child; never reaps it (the test
 * may still want its status). */
static int
child_gone(pid_t pid)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
		return 1;
	return info.si_pid == pid;
}

static void
children_add(pid_t pid)
{
	static int registered;

	if (!registered) {
		atexit(kill_children);
		registered = 1;
	}
	for (int i = 0; i < TH_CHILDREN_MAX; i++) {
		if (children[i] <= 0 || child_gone(children[i])) {
			children[i] = pid;
			return;
		}
	}
}

pid_t
th_spawn(const char *prog, char *const argv[], char *const env[], const char *logpath)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", th_env("AMLRISK_BIN"), prog);
	pid_t pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		for (int i = 0; env != NULL && env[i] != NULL; i++)
			putenv(env[i]);
		char *args[64];
		int n = 0;
		args[n++] = (char *)prog;
		for (int i = 1; argv != NULL && argv[i] != NULL && n < 63; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		execv(path, args);
		fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	children_add(pid);
	return pid;
}

int
th_stop(pid_t pid, int sig, int timeout_ms)
{
	int status;
	if (sig != 0)
		kill(pid, sig);
	int64_t end = th_now_ms() + timeout_ms;
	while (th_now_ms() < end) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

uint64_t
th_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Writes v as a varint ending at *pos (moving it back). */
static void
varint_before(uint8_t *buf, size_t *pos, size_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	*pos -= n;
	memcpy(buf + *pos, tmp, n);
}

uint8_t *
th_pb_nest(uint8_t tag, size_t depth, const uint8_t *core, size_t core_len, size_t *len)
{
	size_t cap = core_len + depth * 7 + 16, pos = cap;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	pos -= core_len;
	if (core_len > 0)
		memcpy(buf + pos, core, core_len);
	for (size_t i = 0; i < depth; i++) {
		varint_before(buf, &pos, cap - pos);
		buf[--pos] = tag;
	}
	memmove(buf, buf + pos, cap - pos);
	*len = cap - pos;
	return buf;
}

const char *
th_rpc_secret(void)
{
	static rpc_secret sec;
	static int loaded;
	char why[256];

	if (!loaded) {
		if (rpc_secret_from_env(&sec, why, sizeof(why)) != 0)
			fail_msg("%s", why);
		loaded = 1;
	}
	return sec.current[0] != '\0' ? sec.current : NULL;
}
