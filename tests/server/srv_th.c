/* srv_th.c - the core server test helpers: process control over th_spawn,
 * RPC calls over one rpc_client per server, and COPY loaders for fixtures and
 * generated transaction sets (200k rows in about a second). */
#include "srv_th.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "th.h"

#define REDIAL_MS        15000
#define READY_TIMEOUT_MS 60000

int
ts_free_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(s >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

Aml__V1__RpcResponse *
ts_raw(const char *url, const void *data, size_t len)
{
	nng_socket s;
	void *buf = NULL;
	size_t blen = 0;
	Aml__V1__RpcResponse *r;

	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE), 0);
	assert_int_equal(nng_dial(s, url, NULL, 0), 0);
	assert_int_equal(nng_send(s, (void *)data, len, 0), 0);
	assert_int_equal(nng_recv(s, &buf, &blen, NNG_FLAG_ALLOC), 0);
	r = aml__v1__rpc_response__unpack(NULL, blen, buf);
	assert_non_null(r);
	assert_non_null(r->reply);
	nng_free(buf, blen);
	nng_close(s);
	return r;
}

void
ts_auth(Aml__V1__RpcRequest *req)
{
	const char *s = th_rpc_secret();

	req->auth.data = (uint8_t *)s;
	req->auth.len = s != NULL ? strlen(s) : 0;
}

/* c's RPC client to c->rpc_url (replacing one it had). */
static void
client_open(ts_core *c)
{
	rpc_client_opts o = {0};

	rpc_client_destroy(c->client);
	c->client = NULL;
	o.timeout_ms = 10000;
	o.caller = "server-test";
	o.secret = th_rpc_secret();
	assert_int_equal(rpc_client_create(&c->client, c->rpc_url, &o), 0);
}

void
ts_core_init(ts_core *c, int tcp)
{
	memset(c, 0, sizeof(*c));
	th_db_create(c->db_url, sizeof(c->db_url), 1);
	snprintf(c->dir, sizeof(c->dir), "/tmp/amlsrv.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->log, sizeof(c->log), "%s/core.log", c->dir);
	if (tcp)
		snprintf(c->rpc_url, sizeof(c->rpc_url), "tcp://127.0.0.1:%d", ts_free_port());
	else
		snprintf(c->rpc_url, sizeof(c->rpc_url), "ipc://%s/core.ipc", c->dir);
	client_open(c);
}

void
ts_core_dump_log(const ts_core *c)
{
	char line[1024];
	FILE *f = fopen(c->log, "r");

	if (f == NULL)
		return;
	fprintf(stderr, "---- %s\n", c->log);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fclose(f);
}

void
ts_core_start(ts_core *c, char *const env[])
{
	ts_core_start_args(c, NULL, env);
}

void
ts_core_start_args(ts_core *c, char *const argv[], char *const env[])
{
	static char db[1100], listen[300];
	char *full[16];
	int n = 0;
	int64_t end = th_now_ms() + READY_TIMEOUT_MS;

	snprintf(db, sizeof(db), "DATABASE_URL=%s", c->db_url);
	snprintf(listen, sizeof(listen), "RPC_LISTEN=%s", c->rpc_url);
	full[n++] = db;
	full[n++] = listen;
	full[n++] = "HEALTH_MS=200";
	for (int i = 0; env != NULL && env[i] != NULL && n < 15; i++)
		full[n++] = env[i];
	full[n] = NULL;
	c->pid = th_spawn("amlrisk-core", argv, full, c->log);
	int64_t redial = th_now_ms() + REDIAL_MS;
	for (;;) {
		Aml__V1__HealthRequest req = AML__V1__HEALTH_REQUEST__INIT;
		Aml__V1__HealthResponse *r = NULL;
		char msg[256];
		int status, ready = 0;
		if (ts_call(c, "Health", &req.base, (ProtobufCMessage **)&r, 1000, msg,
		            sizeof(msg)) == TS_OK) {
			ready = r->graph != NULL && r->graph->loaded;
			aml__v1__health_response__free_unpacked(r, NULL);
		}
		if (ready)
			return;
		if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
			c->pid = 0;
			ts_core_dump_log(c);
			fail_msg("amlrisk-core exited during start-up (status %d)", status);
		}
		if (th_now_ms() > end) {
			ts_core_dump_log(c);
			fail_msg("amlrisk-core not ready within %d ms", READY_TIMEOUT_MS);
		}
		if (redial != 0 && th_now_ms() > redial) {
			/* seen under ASan in CI: after two kill -9 restarts on one ipc
			 * path within 0.3 s, the test's client never reached the new
			 * core although it served (known issue, see the closing note);
			 * a fresh client, once, separates that from a core not ready */
			fprintf(stderr, "ts_core_start: not ready after %d ms: a new client\n",
			        REDIAL_MS);
			client_open(c);
			redial = 0;
		}
		usleep(20000);
	}
}

PGconn *
ts_core_fixture(ts_core *c, int tcp, const char *fixture, const char *illicit, char *const env[])
{
	PGconn *conn;

	ts_core_init(c, tcp);
	conn = th_db_connect(c->db_url);
	ts_load_fixture(conn, fixture);
	if (illicit != NULL)
		ts_label(conn, illicit);
	ts_core_start(c, env);
	return conn;
}

int
ts_core_stop(ts_core *c, int sig)
{
	int st;

	if (c->pid <= 0)
		return -1;
	st = th_stop(c->pid, sig, 30000);
	c->pid = 0;
	return st;
}

void
ts_core_fini(ts_core *c)
{
	char path[256];

	if (c->pid > 0) {
		int st = ts_core_stop(c, SIGTERM);
		if (!(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			ts_core_dump_log(c);
			fail_msg("amlrisk-core did not exit cleanly on SIGTERM (status %d)", st);
		}
	}
	rpc_client_destroy(c->client);
	c->client = NULL;
	th_db_drop(c->db_url);
	if (getenv("AMLRISK_KEEP_LOGS") == NULL) {
		snprintf(path, sizeof(path), "%s/core.ipc", c->dir);
		unlink(path);
		unlink(c->log);
		rmdir(c->dir);
	}
}

int
ts_call(ts_core *c, const char *method, const ProtobufCMessage *req, ProtobufCMessage **resp,
        int timeout_ms, char *msg, size_t msglen)
{
	return rpc_client_call(c->client, &aml__v1__risk_service__descriptor, method, req, resp,
	                       timeout_ms, msg, msglen);
}

/* Calls method and fails the test unless OK. */
static ProtobufCMessage *
must(ts_core *c, const char *method, const ProtobufCMessage *req, int timeout_ms)
{
	ProtobufCMessage *r = NULL;
	char msg[512];
	int rc = ts_call(c, method, req, &r, timeout_ms, msg, sizeof(msg));

	if (rc != TS_OK) {
		ts_core_dump_log(c);
		fail_msg("%s: status %d: %s", method, rc, msg);
	}
	return r;
}

Aml__V1__HealthResponse *
ts_health(ts_core *c)
{
	Aml__V1__HealthRequest req = AML__V1__HEALTH_REQUEST__INIT;

	return (Aml__V1__HealthResponse *)must(c, "Health", &req.base, 5000);
}

Aml__V1__RunScoreResponse *
ts_score(ts_core *c, const char *overrides)
{
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;

	req.config_overrides_json = (char *)(overrides != NULL ? overrides : "");
	return (Aml__V1__RunScoreResponse *)must(c, "RunScore", &req.base, 300000);
}

Aml__V1__ReloadGraphResponse *
ts_reload(ts_core *c)
{
	Aml__V1__ReloadGraphRequest req = AML__V1__RELOAD_GRAPH_REQUEST__INIT;

	return (Aml__V1__ReloadGraphResponse *)must(c, "ReloadGraph", &req.base, 300000);
}

Aml__V1__TopScoresResponse *
ts_top(ts_core *c, uint32_t n, int64_t run_id)
{
	Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;

	req.n = n;
	req.run_id = run_id;
	return (Aml__V1__TopScoresResponse *)must(c, "TopScores", &req.base, 10000);
}

int
ts_wallet(ts_core *c, const char *wallet, int64_t run_id, Aml__V1__GetWalletScoreResponse **out)
{
	Aml__V1__GetWalletScoreRequest req = AML__V1__GET_WALLET_SCORE_REQUEST__INIT;
	char msg[256];

	req.wallet = (char *)wallet;
	req.run_id = run_id;
	return ts_call(c, "GetWalletScore", &req.base, (ProtobufCMessage **)out, 10000, msg,
	               sizeof(msg));
}

static void *
bg_main(void *arg)
{
	ts_bg *b = arg;
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *r = NULL;

	req.config_overrides_json = (char *)b->overrides;
	b->rc = ts_call(b->c, "RunScore", &req.base, (ProtobufCMessage **)&r, 300000, b->msg,
	                sizeof(b->msg));
	if (r != NULL) {
		b->run_id = r->run->run_id;
		aml__v1__run_score_response__free_unpacked(r, NULL);
	}
	return NULL;
}

void
ts_bg_score(ts_bg *b, ts_core *c, const char *overrides)
{
	memset(b, 0, sizeof(*b));
	b->c = c;
	b->overrides = overrides != NULL ? overrides : "";
	assert_int_equal(pthread_create(&b->thread, NULL, bg_main, b), 0);
}

void
ts_bg_join(ts_bg *b)
{
	pthread_join(b->thread, NULL);
}

int64_t
ts_wait_storing(PGconn *conn, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms, copied = 0;

	while (copied == 0 && th_now_ms() < end) {
		if (th_db_int(conn, "SELECT count(*) FROM scoring_runs WHERE status = 'running'") >
		    0)
			copied = th_db_int(conn, "SELECT coalesce(max(tuples_processed), 0)"
			                         " FROM pg_stat_progress_copy"
			                         " WHERE datname = current_database()");
		if (copied == 0)
			usleep(2000);
	}
	return copied;
}

void
ts_exec(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		PQclear(r);
		fail_msg("%s: %s", sql, msg);
	}
	PQclear(r);
}

void
ts_label(PGconn *conn, const char *wallet)
{
	const char *p[1] = {wallet};
	PGresult *r = PQexecParams(
	        conn, "INSERT INTO wallet_labels (wallet, label) VALUES ($1, 'illicit')", 1, NULL,
	        p, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
}

/* Appends s escaped for COPY text to buf at *off. */
static void
put_text(char *buf, size_t cap, size_t *off, const char *s)
{
	for (; *s != '\0'; s++) {
		assert_true(*off + 3 < cap);
		switch (*s) {
		case '\\':
			buf[(*off)++] = '\\';
			buf[(*off)++] = '\\';
			break;
		case '\t':
			buf[(*off)++] = '\\';
			buf[(*off)++] = 't';
			break;
		case '\n':
			buf[(*off)++] = '\\';
			buf[(*off)++] = 'n';
			break;
		case '\r':
			buf[(*off)++] = '\\';
			buf[(*off)++] = 'r';
			break;
		default:
			buf[(*off)++] = *s;
		}
	}
}

static void
copy_begin(PGconn *conn)
{
	PGresult *r =
	        PQexec(conn, "COPY transactions (tx_id, sender, receiver, amount, \"timestamp\","
	                     " asset) FROM STDIN");

	assert_int_equal(PQresultStatus(r), PGRES_COPY_IN);
	PQclear(r);
}

static void
copy_end(PGconn *conn)
{
	PGresult *r;

	assert_int_equal(PQputCopyEnd(conn, NULL), 1);
	r = PQgetResult(conn);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("COPY transactions: %s", PQerrorMessage(conn));
	PQclear(r);
	while ((r = PQgetResult(conn)) != NULL)
		PQclear(r);
}

size_t
ts_load_fixture(PGconn *conn, const char *name)
{
	Aml__V1__Transaction **txs;
	size_t n = th_fixture_load(name, &txs);
	char *buf = malloc(1 << 20);

	assert_non_null(buf);
	copy_begin(conn);
	for (size_t i = 0; i < n; i++) {
		const Aml__V1__Transaction *t = txs[i];
		time_t s = (time_t)(t->timestamp_us / 1000000);
		struct tm tm;
		size_t off = 0;
		gmtime_r(&s, &tm);
		put_text(buf, 1 << 20, &off, t->tx_id);
		buf[off++] = '\t';
		put_text(buf, 1 << 20, &off, t->sender);
		buf[off++] = '\t';
		put_text(buf, 1 << 20, &off, t->receiver);
		off += (size_t)snprintf(buf + off, 200,
		                        "\t%s\t%04d-%02d-%02d %02d:%02d:%02d.%06d+00\t", t->amount,
		                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		                        tm.tm_min, tm.tm_sec, (int)(t->timestamp_us % 1000000));
		if (t->asset != NULL && *t->asset != '\0')
			put_text(buf, 1 << 20, &off, t->asset);
		else
			off += (size_t)snprintf(buf + off, 8, "\\N");
		buf[off++] = '\n';
		assert_int_equal(PQputCopyData(conn, buf, (int)off), 1);
	}
	copy_end(conn);
	free(buf);
	th_fixture_free(txs, n);
	return n;
}

void
ts_load_generated(PGconn *conn, const char *prefix, size_t n, unsigned wallets, uint64_t seed)
{
	size_t cap = 1 << 20, off = 0;
	char *buf = malloc(cap);

	assert_non_null(buf);
	copy_begin(conn);
	for (size_t i = 0; i < n; i++) {
		unsigned s = (unsigned)(th_rand(&seed) % wallets);
		unsigned r = (unsigned)(th_rand(&seed) % wallets);
		off += (size_t)snprintf(buf + off, cap - off,
		                        "%s-%zu\tw%u\tw%u\t%u.25\t2026-01-01 00:00:00+00\t\\N\n",
		                        prefix, i, s, r, (unsigned)(th_rand(&seed) % 1000));
		if (off > cap - 256) {
			assert_int_equal(PQputCopyData(conn, buf, (int)off), 1);
			off = 0;
		}
	}
	if (off > 0)
		assert_int_equal(PQputCopyData(conn, buf, (int)off), 1);
	copy_end(conn);
	free(buf);
}

double
ts_stored_score(PGconn *conn, int64_t id, const char *wallet)
{
	char ids[24];
	const char *p[2] = {ids, wallet};
	PGresult *r;
	double v;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	r = PQexecParams(conn,
	                 "SELECT risk_score FROM risk_scores WHERE run_id = $1 AND wallet = $2", 2,
	                 NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("no stored score of %s in run %lld: %s", wallet, (long long)id,
		         PQerrorMessage(conn));
	v = strtod(PQgetvalue(r, 0, 0), NULL);
	PQclear(r);
	return v;
}

int
ts_close(double a, double b, double rel)
{
	double d = fabs(a - b), m = fmax(fabs(a), fabs(b));

	return d <= rel * (m > 0 ? m : 1);
}

/* the vector's values, named to fit the table */
#define A_T 0.24347981502822288
#define A_R 0.23337222870478413
#define A_S 0.010107586323438765
#define C_T 0.17606571641358074
#define C_R 0.15025978508155116
#define C_S 0.025805931332029595
#define E_T 0.12967502835949174
#define E_R 0.04677347395534666
#define E_S 0.08290155440414508
#define B_S 0.007384537953197271

const ts_flow_row TS_FLOW_EXAMPLE[TS_FLOW_WALLETS] = {
        /* wallet, score, R_K, S_K, in, out, illicit, R_1..R_6, S_1..S_6 */
        {"X", 2.0, 1, 1, 1, 1, 1, {1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1}},
        {"A", A_T, A_R, A_S, 2, 2, 0, {A_R, A_R, A_R, A_R, A_R, A_R}, {0, 0, A_S, A_S, A_S, A_S}},
        {"C", C_T, C_R, C_S, 1, 1, 0, {0, C_R, C_R, C_R, C_R, C_R}, {0, C_S, C_S, C_S, C_S, C_S}},
        {"D", C_R, C_R, 0, 1, 0, 0, {0, C_R, C_R, C_R, C_R, C_R}, {0}},
        {"E", E_T, E_R, E_S, 1, 1, 0, {0, 0, E_R, E_R, E_R, E_R}, {E_S, E_S, E_S, E_S, E_S, E_S}},
        {"B", B_S, 0, B_S, 0, 1, 0, {0}, {0, 0, 0, B_S, B_S, B_S}},
        {"F", 0, 0, 0, 0, 1, 0, {0}, {0}},
        {"G", 0, 0, 0, 1, 0, 0, {0}, {0}},
};

/* The spec's tolerance: 1e-9 relative, 1e-12 absolute near 0. */
static int
flow_close(double got, double want)
{
	return fabs(got - want) <= fmax(1e-9 * fmax(fabs(got), fabs(want)), 1e-12);
}

void
ts_expect_flow(const Aml__V1__WalletScore *w, const ts_flow_row *e)
{
	int ok = w != NULL && strcmp(w->wallet, e->wallet) == 0 &&
	         strcmp(w->model, "flow_exposure/v1") == 0 && flow_close(w->risk_score, e->score) &&
	         flow_close(w->received_exposure, e->received) &&
	         flow_close(w->sent_exposure, e->sent) && w->in_degree == e->in &&
	         w->out_degree == e->out && w->is_illicit == (e->illicit != 0) &&
	         w->n_flow_hops == TS_FLOW_HOPS && w->n_hops == 0 && w->exposures == 0;

	for (size_t k = 0; ok && k < TS_FLOW_HOPS; k++)
		ok = w->flow_hops[k]->hop == k + 1 &&
		     flow_close(w->flow_hops[k]->received, e->r[k]) &&
		     flow_close(w->flow_hops[k]->sent, e->s[k]);
	if (!ok)
		fail_msg("wallet %s: got %s score %.17g R %.17g S %.17g in %u out %u (%zu flow "
		         "hops),"
		         " want %s %.17g %.17g %.17g %u %u",
		         e->wallet, w != NULL ? w->wallet : "(none)", w != NULL ? w->risk_score : 0,
		         w != NULL ? w->received_exposure : 0, w != NULL ? w->sent_exposure : 0,
		         w != NULL ? w->in_degree : 0, w != NULL ? w->out_degree : 0,
		         w != NULL ? w->n_flow_hops : 0, e->wallet, e->score, e->received, e->sent,
		         e->in, e->out);
}

int
ts_core_run(char *const env[], const char *log, int timeout_ms, pid_t *pid)
{
	int64_t end = th_now_ms() + timeout_ms;
	int status;

	*pid = th_spawn("amlrisk-core", NULL, env, log);
	while (th_now_ms() < end) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			return status;
		}
		usleep(20000);
	}
	return -1;
}

int
ts_file_has(const char *path, const char *text, int timeout_ms)
{
	int64_t end = th_now_ms() + timeout_ms;
	char buf[65536];

	do {
		FILE *f = fopen(path, "r");
		size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f != NULL)
			fclose(f);
		buf[n] = '\0';
		if (strstr(buf, text) != NULL)
			return 1;
		usleep(20000);
	} while (th_now_ms() < end);
	return 0;
}

int
ts_url_port(const char *url)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	int port = 5432;

	assert_non_null(opts);
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "port") == 0 && o->val != NULL && *o->val != '\0')
			port = atoi(o->val);
	}
	PQconninfoFree(opts);
	return port;
}

void
ts_core_start_via(ts_core *c, int port, char *const env[])
{
	char direct[sizeof(c->db_url)];

	memcpy(direct, c->db_url, sizeof(direct));
	snprintf(c->db_url, sizeof(c->db_url), "%.960s host='127.0.0.1' port='%d'", direct, port);
	ts_core_start(c, env);
	memcpy(c->db_url, direct, sizeof(direct));
}

void
ts_core_start_refused(ts_core *c, char *const env[], const char *says)
{
	char db[sizeof(c->db_url) + 16], listen_env[sizeof(c->rpc_url) + 16],
	        log[sizeof(c->dir) + 32];
	char *all[16] = {db, listen_env};
	static unsigned seq;
	size_t n = 2;
	pid_t pid;
	int status;

	snprintf(db, sizeof(db), "DATABASE_URL=%s", c->db_url);
	snprintf(listen_env, sizeof(listen_env), "RPC_LISTEN=%s", c->rpc_url);
	for (size_t i = 0; env != NULL && env[i] != NULL && n < 15; i++)
		all[n++] = env[i];
	all[n] = NULL;
	snprintf(log, sizeof(log), "%s/refused%u.log", c->dir, seq++);
	status = ts_core_run(all, log, 30000, &pid);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 2)
		fail_msg("the core did not exit 2 at start (status %d)", status);
	if (!ts_file_has(log, says, 1))
		fail_msg("the core's start-up error does not say '%s'", says);
}
