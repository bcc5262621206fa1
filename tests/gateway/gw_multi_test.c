/* gw_multi_test.c - several amlrisk-core instances on one database (issue 17):
 * exactly one writer, readers that follow its runs and refuse writes; the
 * writer's lock session ended while it stores a run (the run is fenced out:
 * refused, failed, never completed); the writer killed with SIGKILL in the
 * middle of storing a run (another takes over, the half-written run is failed
 * and never the latest, a new run succeeds); a reader killed under read load
 * through one gateway (no failed request beyond the ones in flight, each a
 * clear 503); writes sent to a reader reach the writer (gateway, amlctl,
 * rpc_multi); the live view on every instance with alerts recorded once, by
 * the writer alone, also across a writer killed while a wallet crosses the
 * threshold; bad settings stop each process at start. Real PostgreSQL, real
 * processes. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gwt.h"
#include "rpc_multi.h"
#include "srv_th.h"
#include "th.h"

#define N          3
#define TOKEN      "multi-test-token"
#define ELECT_MS   20000 /* bound of an election (the poll is 200 ms here) */
#define FOLLOW_MAX 60000 /* bound of a reader's catching up (it rescores the run) */
#define LOADERS    4
#define LIVE_KEY   "7170417" /* the election lock key of the live test */
#define LIVE_RULE  "threshold>=0.5"

static ts_core cores[N];
static int alive[N];
static char list[N * 300];

static const char *const IDS[N] = {"core-a", "core-b", "core-c"};
static bool live_on; /* the cores run the live view with alerts (cluster_run) */

/* cores[i] on cores[0]'s database with its own ipc address (no port to race
 * for with the tests running beside), not started. */
static void
peer_init(int i)
{
	ts_core *c = &cores[i];
	rpc_client_opts o = {.timeout_ms = 10000, .caller = "multi-test"};

	memset(c, 0, sizeof(*c));
	snprintf(c->db_url, sizeof(c->db_url), "%s", cores[0].db_url);
	snprintf(c->dir, sizeof(c->dir), "/tmp/amlmulti.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->log, sizeof(c->log), "%s/core.log", c->dir);
	snprintf(c->rpc_url, sizeof(c->rpc_url), "ipc://%s/core.ipc", c->dir);
	o.secret = th_rpc_secret();
	assert_int_equal(rpc_client_create(&c->client, c->rpc_url, &o), 0);
}

static void
core_start(int i)
{
	static char id[N][64];
	/* flow_exposure/v1, one hop, received side, X labelled illicit: a
	 * wallet's score is what X sent it / all it got */
	char *env[] = {
	        id[i],
	        "ELECTION_POLL_MS=200",
	        "FOLLOW_MS=200",
	        live_on ? "LIVE_SCORING_CONFIG={\"model\": \"flow_exposure/v1\", \"hops\": 1,"
	                  " \"side\": \"received\", \"smoothing\": 0,"
	                  " \"use_labels\": true, \"illicit_ratio\": 0}"
	                : NULL,
	        "ALERT_RULES=" LIVE_RULE,
	        "LIVE_POLL_MS=100",
	        "ELECTION_LOCK_KEY=" LIVE_KEY,
	        NULL};

	snprintf(id[i], sizeof(id[i]), "CORE_INSTANCE_ID=%s", IDS[i]);
	ts_core_start(&cores[i], env);
	alive[i] = 1;
}

/* One fresh database holding n generated transactions; starts nothing. */
static PGconn *
cluster_db(size_t n, unsigned wallets)
{
	PGconn *conn;

	ts_core_init(&cores[0], 1);
	conn = th_db_connect(cores[0].db_url);
	ts_load_generated(conn, "m", n, wallets, 17);
	return conn;
}

/* Starts the three cores on cluster_db()'s database, with the live view and
 * alerts when live. */
static void
cluster_run(bool live)
{
	live_on = live;
	for (int i = 1; i < N; i++)
		peer_init(i);
	list[0] = '\0';
	for (int i = 0; i < N; i++) {
		core_start(i);
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
		         cores[i].rpc_url);
	}
}

/* Three cores on one fresh database holding n generated transactions. */
static PGconn *
cluster_start(size_t n, unsigned wallets)
{
	PGconn *conn = cluster_db(n, wallets);

	cluster_run(false);
	return conn;
}

static void
cluster_stop(PGconn *conn)
{
	PQfinish(conn);
	for (int i = N - 1; i >= 0; i--) {
		if (i == 0) {
			ts_core_fini(&cores[0]); /* drops the database, last */
			continue;
		}
		if (cores[i].pid > 0)
			ts_core_stop(&cores[i], SIGTERM);
		rpc_client_destroy(cores[i].client);
		unlink(cores[i].log);
		unlink(cores[i].rpc_url + strlen("ipc://"));
		rmdir(cores[i].dir);
	}
}

static void
dump_logs(void)
{
	for (int i = 0; i < N; i++)
		ts_core_dump_log(&cores[i]);
}

/* The index of the one live core whose Health says writer while every other
 * live core says reader and names it; -1 until then. */
static int
writer_now(void)
{
	int w = -1, writers = 0, agree = 1;
	char writer_of[N][64] = {{0}};

	for (int i = 0; i < N; i++) {
		Aml__V1__HealthRequest req = AML__V1__HEALTH_REQUEST__INIT;
		Aml__V1__HealthResponse *h = NULL;
		char msg[256];
		if (!alive[i])
			continue;
		if (ts_call(&cores[i], "Health", &req.base, (ProtobufCMessage **)&h, 2000, msg,
		            sizeof(msg)) != TS_OK)
			return -1;
		assert_string_equal(h->instance_id, IDS[i]);
		if (strcmp(h->role, "writer") == 0) {
			w = i;
			writers++;
		} else if (strcmp(h->role, "reader") != 0) {
			agree = 0;
		}
		snprintf(writer_of[i], sizeof(writer_of[i]), "%s", h->writer_id);
		aml__v1__health_response__free_unpacked(h, NULL);
	}
	if (writers != 1 || !agree)
		return -1;
	for (int i = 0; i < N; i++)
		if (alive[i] && strcmp(writer_of[i], IDS[w]) != 0)
			return -1;
	return w;
}

static int
wait_writer(void)
{
	int64_t end = th_now_ms() + ELECT_MS;
	int w;

	while ((w = writer_now()) < 0) {
		if (th_now_ms() > end) {
			dump_logs();
			fail_msg("no single writer within %d ms", ELECT_MS);
		}
		usleep(20000);
	}
	return w;
}

/* Waits until every live core serves run_id as its latest run. */
static void
wait_followed(int64_t run_id)
{
	int64_t end = th_now_ms() + FOLLOW_MAX;

	for (int i = 0; i < N; i++) {
		for (;;) {
			Aml__V1__HealthResponse *h;
			int64_t have;
			if (!alive[i])
				break;
			h = ts_health(&cores[i]);
			have = h->latest_run != NULL ? h->latest_run->run_id : 0;
			aml__v1__health_response__free_unpacked(h, NULL);
			if (have == run_id)
				break;
			if (th_now_ms() > end) {
				dump_logs();
				fail_msg("%s serves run %lld, not %lld", IDS[i], (long long)have,
				         (long long)run_id);
			}
			usleep(20000);
		}
	}
}

/* RunScore through rpc_multi on urls; asserts OK, returns the run id. */
static int64_t
multi_score(const char *urls)
{
	rpc_client_opts o = {.timeout_ms = 120000, .caller = "multi-test"};
	rpc_call_opts co = {.once = 1, .retries = 1};
	Aml__V1__RunScoreRequest req = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__RunScoreResponse *r = NULL;
	rpc_multi *m = NULL;
	char why[256], msg[512];
	int64_t id;
	int rc;

	o.secret = th_rpc_secret();
	req.config_overrides_json = "";
	assert_int_equal(rpc_multi_create(&m, urls, &o, why, sizeof(why)), 0);
	rc = rpc_multi_write(m, &aml__v1__risk_service__descriptor, "RunScore", &req.base,
	                     (ProtobufCMessage **)&r, &co, msg, sizeof(msg));
	if (rc != TS_OK) {
		dump_logs();
		fail_msg("RunScore on %s: %d %s", urls, rc, msg);
	}
	id = r->run->run_id;
	aml__v1__run_score_response__free_unpacked(r, NULL);
	rpc_multi_destroy(m);
	return id;
}

/* The readers' URLs first, then the writer's. */
static void
readers_first(int w, char *out, size_t len)
{
	out[0] = '\0';
	for (int k = 0; k <= N; k++) {
		int i = k < N ? k : w;
		if ((k < N && i == w) || !alive[i])
			continue;
		snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? "," : "",
		         cores[i].rpc_url);
	}
}

static void
test_one_writer(void **st)
{
	PGconn *conn = cluster_start(3000, 800);
	Aml__V1__RunScoreRequest sreq = AML__V1__RUN_SCORE_REQUEST__INIT;
	Aml__V1__ReloadGraphRequest rreq = AML__V1__RELOAD_GRAPH_REQUEST__INIT;
	Aml__V1__RunScoreResponse *sr = NULL;
	Aml__V1__ReloadGraphResponse *rr = NULL;
	Aml__V1__TopScoresResponse *tw, *tr;
	char msg[512], want[128], urls[sizeof(list)], log[256], arg[sizeof(list) + 8];
	char *argv[] = {"amlctl", arg, "--json", "score", NULL};
	int w = wait_writer(), r = (w + 1) % N, status;
	int64_t run1, run2;
	pid_t pid;

	(void)st;
	/* a reader refuses both writes, naming the writer */
	sreq.config_overrides_json = "";
	snprintf(want, sizeof(want), "not the writer; the writer is %s", IDS[w]);
	assert_int_equal(ts_call(&cores[r], "RunScore", &sreq.base, (ProtobufCMessage **)&sr, 10000,
	                         msg, sizeof(msg)),
	                 TS_PRECONDITION);
	assert_non_null(strstr(msg, want));
	assert_int_equal(ts_call(&cores[r], "ReloadGraph", &rreq.base, (ProtobufCMessage **)&rr,
	                         10000, msg, sizeof(msg)),
	                 TS_PRECONDITION);
	assert_non_null(strstr(msg, want));
	assert_int_equal(th_db_int(conn, "SELECT count(*) FROM scoring_runs"), 0);
	/* rpc_multi with the readers first reaches the writer; readers follow */
	readers_first(w, urls, sizeof(urls));
	run1 = multi_score(urls);
	wait_followed(run1);
	tw = ts_top(&cores[w], 20, 0);
	tr = ts_top(&cores[r], 20, 0);
	assert_int_equal(tw->n_scores, tr->n_scores);
	for (size_t i = 0; i < tw->n_scores; i++) {
		assert_string_equal(tw->scores[i]->wallet, tr->scores[i]->wallet);
		assert_true(tw->scores[i]->risk_score == tr->scores[i]->risk_score);
	}
	aml__v1__top_scores_response__free_unpacked(tw, NULL);
	aml__v1__top_scores_response__free_unpacked(tr, NULL);
	/* amlctl with the same list */
	snprintf(arg, sizeof(arg), "--url=%s", urls);
	gwt_log_path(log, sizeof(log), "gw_multi_test", "amlctl");
	pid = th_spawn("amlctl", argv, NULL, log);
	status = th_stop(pid, 0, 120000);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		fail_msg("amlctl score on %s: status %d, see %s", urls, status, log);
	run2 = th_db_int(conn, "SELECT max(id) FROM scoring_runs WHERE status = 'completed'");
	assert_true(run2 > run1);
	wait_followed(run2);
	cluster_stop(conn);
}

/* Polls until run id has status, failing the test after ELECT_MS. */
static void
wait_status(PGconn *conn, int64_t id, const char *status)
{
	char sql[160];

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM scoring_runs WHERE id = %lld AND status = '%s'",
	         (long long)id, status);
	for (int64_t end = th_now_ms() + ELECT_MS; th_db_int(conn, sql) != 1; usleep(20000)) {
		if (th_now_ms() > end) {
			dump_logs();
			fail_msg("run %lld not %s", (long long)id, status);
		}
	}
}

/* Split brain, fenced: the writer's lock session is ended while it stores a
 * run, its completing UPDATE held back (a table lock) until the session is
 * gone. The run must not complete, whoever holds the lock by then (the same
 * instance on a new session is a new term). */
static void
lock_lost_mid_store(PGconn *conn, int w)
{
	PGconn *hold = th_db_connect(cores[0].db_url);
	int64_t running, lockpid;
	char sql[128];
	ts_bg bg;

	ts_bg_score(&bg, &cores[w], "{\"illicit_ratio\":0.03}");
	if (ts_wait_storing(conn, 120000) <= 0) {
		dump_logs();
		fail_msg("the run was never seen storing");
	}
	ts_exec(hold, "BEGIN");
	ts_exec(hold, "LOCK TABLE scoring_runs IN EXCLUSIVE MODE");
	running = th_db_int(conn, "SELECT max(id) FROM scoring_runs WHERE status = 'running'");
	assert_true(running > 0);
	lockpid = th_db_int(conn, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
	                          " AND database = (SELECT oid FROM pg_database"
	                          " WHERE datname = current_database())");
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", (long long)lockpid);
	ts_exec(conn, sql);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld",
	         (long long)lockpid);
	for (int64_t end = th_now_ms() + ELECT_MS; th_db_int(conn, sql) != 0; usleep(5000))
		if (th_now_ms() > end)
			fail_msg("backend %lld not gone", (long long)lockpid);
	ts_exec(hold, "COMMIT");
	PQfinish(hold);
	ts_bg_join(&bg);
	if (bg.rc != TS_PRECONDITION || strstr(bg.msg, "not the writer") == NULL) {
		dump_logs();
		fail_msg("a run whose writer lost its lock answered %d: %s", bg.rc, bg.msg);
	}
	wait_status(conn, running, "failed");
	print_message("lock lost mid-store: run %lld refused (%s)\n", (long long)running, bg.msg);
}

static void
test_writer_killed_mid_run(void **st)
{
	PGconn *conn = cluster_start(60000, 40000);
	int w = wait_writer(), w2, status;
	int64_t t0, running, latest, run3;
	ts_bg bg;
	char urls[sizeof(list)];

	(void)st;
	wait_followed(multi_score(list));
	lock_lost_mid_store(conn, w);
	w = wait_writer();
	wait_followed(multi_score(list));
	ts_bg_score(&bg, &cores[w], "{\"illicit_ratio\":0.02}");
	if (ts_wait_storing(conn, 120000) <= 0) {
		dump_logs();
		fail_msg("the run was never seen storing");
	}
	running = th_db_int(conn, "SELECT max(id) FROM scoring_runs WHERE status = 'running'");
	status = ts_core_stop(&cores[w], SIGKILL);
	t0 = th_now_ms();
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	alive[w] = 0;
	ts_bg_join(&bg);
	assert_int_not_equal(bg.rc, TS_OK);
	w2 = wait_writer();
	print_message("takeover after SIGKILL of %s: %s is the writer after %lld ms\n", IDS[w],
	              IDS[w2], (long long)(th_now_ms() - t0));
	assert_int_not_equal(w2, w);
	/* the new writer marked the half-written run failed; it never was the latest */
	wait_status(conn, running, "failed");
	{
		char sql[160];
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM scoring_runs WHERE id = %lld AND error LIKE "
		         "'interrupted%%'",
		         (long long)running);
		assert_int_equal(th_db_int(conn, sql), 1);
	}
	latest = th_db_int(conn, "SELECT max(id) FROM scoring_runs WHERE status = 'completed'");
	assert_true(latest < running);
	for (int i = 0; i < N; i++) {
		Aml__V1__HealthResponse *h;
		if (!alive[i])
			continue;
		h = ts_health(&cores[i]);
		assert_int_equal(h->latest_run->run_id, latest);
		aml__v1__health_response__free_unpacked(h, NULL);
	}
	/* a new run succeeds on the new writer, named in a list with the dead one first */
	snprintf(urls, sizeof(urls), "%s,%s,%s", cores[w].rpc_url, cores[(w + 1) % N].rpc_url,
	         cores[(w + 2) % N].rpc_url);
	run3 = multi_score(urls);
	assert_true(run3 > running);
	wait_followed(run3);
	/* the killed one comes back as a reader of the newest run */
	core_start(w);
	assert_int_equal(wait_writer(), w2);
	wait_followed(run3);
	cluster_stop(conn);
}

/* Read load through the gateway: each loader sends GETs until told to stop. */
typedef struct load {
	pthread_t thread;
	int port;
	atomic_bool *stop;
	atomic_long *done;
	long ok, failed, bad; /* bad: a failure that is not a clear 503 */
	char first_bad[256];
} load;

static void *
load_main(void *arg)
{
	load *l = arg;
	static const char *const targets[] = {"/scores/top?n=10", "/scores/w1", "/runs?limit=5"};

	for (unsigned k = 0; !atomic_load(l->stop); k++) {
		gwt_resp r = gwt_http(l->port, "GET", targets[k % 3], NULL, NULL, 0, 30000);
		if (r.status == 200) {
			l->ok++;
		} else {
			l->failed++;
			if (r.status != 503 || r.body == NULL ||
			    strstr(r.body, "core unavailable") == NULL) {
				if (l->bad++ == 0)
					snprintf(l->first_bad, sizeof(l->first_bad), "%d %s",
					         r.status, r.body != NULL ? r.body : "");
			}
		}
		atomic_fetch_add(l->done, 1);
		gwt_resp_free(&r);
	}
	return NULL;
}

static void
wait_done(atomic_long *done, long n)
{
	int64_t end = th_now_ms() + 60000;

	while (atomic_load(done) < n) {
		if (th_now_ms() > end)
			fail_msg("the load made %ld requests of %ld", atomic_load(done), n);
		usleep(5000);
	}
}

static void
test_reader_killed_under_load(void **st)
{
	PGconn *conn = cluster_start(3000, 800);
	static char *gw_env[] = {"AML_API_TOKEN=" TOKEN, NULL};
	char gw_log[256], urls[sizeof(list)], body[64];
	int w = wait_writer(), r = (w + 1) % N, port = gwt_free_port();
	atomic_bool stop = false;
	atomic_long done = 0;
	load l[LOADERS];
	long ok = 0, failed = 0, bad = 0, before;
	pid_t gw;
	gwt_resp resp;
	json_t *j;

	(void)st;
	wait_followed(multi_score(list));
	/* the gateway's list starts with a reader: its write is retried on the writer */
	readers_first(w, urls, sizeof(urls));
	gwt_log_path(gw_log, sizeof(gw_log), "gw_multi_test", "gateway");
	gw = gwt_gateway_start(port, urls, gw_env, gw_log);
	resp = gwt_http(port, "POST", "/run-score", "Authorization: Bearer " TOKEN "\r\n", NULL, 0,
	                120000);
	if (resp.status != 200)
		fail_msg("POST /run-score through a reader: %d %s", resp.status, resp.body);
	j = json_loads(resp.body, 0, NULL);
	assert_non_null(j);
	wait_followed(json_integer_value(json_object_get(json_object_get(j, "run"), "run_id")));
	json_decref(j);
	gwt_resp_free(&resp);
	/* the gateway's /health shows the instance it asked */
	j = gwt_get_json(port, "/health", 200);
	assert_true(json_is_string(json_object_get(j, "core_role")));
	assert_string_equal(json_string_value(json_object_get(j, "core_writer")), IDS[w]);
	json_decref(j);
	for (int i = 0; i < LOADERS; i++) {
		l[i] = (load){.port = port, .stop = &stop, .done = &done};
		assert_int_equal(pthread_create(&l[i].thread, NULL, load_main, &l[i]), 0);
	}
	wait_done(&done, 300);
	before = atomic_load(&done);
	assert_true(WIFSIGNALED(ts_core_stop(&cores[r], SIGKILL)));
	alive[r] = 0;
	wait_done(&done, before + 600);
	atomic_store(&stop, true);
	for (int i = 0; i < LOADERS; i++) {
		pthread_join(l[i].thread, NULL);
		ok += l[i].ok;
		failed += l[i].failed;
		bad += l[i].bad;
		if (l[i].bad > 0)
			fail_msg("a failure that is not a clear 503: %s", l[i].first_bad);
	}
	print_message("reader killed under load: %ld ok, %ld failed (%d in flight at most)\n", ok,
	              failed, LOADERS);
	assert_int_equal(bad, 0);
	assert_true(failed <= LOADERS);
	/* writes still reach the writer */
	snprintf(body, sizeof(body), "{\"illicit_ratio\":0.05}");
	resp = gwt_http(port, "POST", "/run-score", "Authorization: Bearer " TOKEN "\r\n", body,
	                strlen(body), 120000);
	assert_int_equal(resp.status, 200);
	gwt_resp_free(&resp);
	th_stop(gw, SIGTERM, 10000);
	cluster_stop(conn);
}

/* Polls until sql (one integer) gives want, failing the test after FOLLOW_MAX. */
static void
wait_int(PGconn *conn, const char *sql, int64_t want)
{
	int64_t end = th_now_ms() + FOLLOW_MAX, have;

	while ((have = th_db_int(conn, sql)) != want) {
		if (th_now_ms() > end) {
			dump_logs();
			fail_msg("%s gives %lld, not %lld", sql, (long long)have, (long long)want);
		}
		usleep(20000);
	}
}

/* Commits the "S>R:amount" items of spec (blank-separated) the way the
 * consumer does: under the append lock, with a NOTIFY of the new high-water
 * seq in the same transaction. Returns that seq. */
static int64_t
append_notified(PGconn *conn, const char *spec)
{
	static int next;
	const char *p = spec;
	int used = 0;

	ts_exec(conn, "BEGIN");
	ts_exec(conn, "SELECT transactions_append_lock()");
	while (*p != '\0') {
		char s[16], r[16], amt[24], id[32];
		const char *vals[4] = {id, s, r, amt};
		PGresult *res;
		if (sscanf(p, " %15[^>]>%15[^:]:%23s%n", s, r, amt, &used) != 3)
			fail_msg("bad spec at '%s'", p);
		snprintf(id, sizeof(id), "live-%d", next++);
		res = PQexecParams(conn,
		                   "INSERT INTO transactions (tx_id, sender, receiver, amount,"
		                   " \"timestamp\") VALUES ($1, $2, $3, $4::numeric, now())",
		                   4, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fail_msg("insert: %s", PQerrorMessage(conn));
		PQclear(res);
		for (p += used; *p == ' '; p++)
			;
	}
	ts_exec(conn, "SELECT pg_notify('amlrisk_ingest', max(seq)::text) FROM transactions");
	ts_exec(conn, "COMMIT");
	return th_db_int(conn, "SELECT max(seq) FROM transactions");
}

/* Fails the test unless core i's live top r shows wallet at or above 0.5. */
static void
expect_alerting(const Aml__V1__TopScoresResponse *r, int i, const char *wallet)
{
	for (size_t k = 0; k < r->n_scores; k++) {
		if (strcmp(r->scores[k]->wallet, wallet) != 0)
			continue;
		if (r->scores[k]->risk_score < 0.5)
			fail_msg("%s: %s at %g in the live view", IDS[i], wallet,
			         r->scores[k]->risk_score);
		return;
	}
	fail_msg("%s: %s not in the live top", IDS[i], wallet);
}

/* Waits until every live core's live view (TopScores view=LIVE) is current
 * at watermark wm; each then shows wallet (may be NULL) at or above 0.5. */
static void
wait_live_all(int64_t wm, const char *wallet)
{
	int64_t end = th_now_ms() + FOLLOW_MAX;

	for (int i = 0; i < N; i++) {
		for (;;) {
			Aml__V1__TopScoresRequest req = AML__V1__TOP_SCORES_REQUEST__INIT;
			Aml__V1__TopScoresResponse *r = NULL;
			int64_t have = -1, done = 0;
			char msg[256];
			if (!alive[i])
				break;
			req.n = 10;
			req.view = AML__V1__SCORE_VIEW__SCORE_VIEW_LIVE;
			if (ts_call(&cores[i], "TopScores", &req.base, (ProtobufCMessage **)&r,
			            10000, msg, sizeof(msg)) == TS_OK) {
				have = r->live != NULL ? r->live->watermark : -1;
				done = have == wm && r->live->current;
				if (done && wallet != NULL)
					expect_alerting(r, i, wallet);
				aml__v1__top_scores_response__free_unpacked(r, NULL);
			}
			if (done)
				break;
			if (th_now_ms() > end) {
				dump_logs();
				fail_msg("%s: live view at %lld, not current at %lld", IDS[i],
				         (long long)have, (long long)wm);
			}
			usleep(20000);
		}
	}
}

#define LIVE_WM "SELECT coalesce(max(watermark), -1) FROM live_state"

/* The stored alerts of LIVE_RULE for wallet (a test's constant), or of all
 * wallets when wallet is NULL. */
static int64_t
alerts_of(PGconn *conn, const char *wallet)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM risk_alerts WHERE rule = '%s'%s%s%s",
	         LIVE_RULE, wallet != NULL ? " AND wallet = '" : "", wallet != NULL ? wallet : "",
	         wallet != NULL ? "'" : "");
	return th_db_int(conn, sql);
}

/* Waits until live_state records watermark wm; then one alert is stored for
 * wallet (unless NULL) and total in all. */
static void
recorded(PGconn *conn, int64_t wm, const char *wallet, int64_t total)
{
	wait_int(conn, LIVE_WM, wm);
	if (wallet != NULL)
		assert_int_equal(alerts_of(conn, wallet), 1);
	assert_int_equal(alerts_of(conn, NULL), total);
}

/* spec appended: every live view serves wallet above the threshold, the
 * writer records it with one alert for wallet, total in all. Returns the
 * new watermark. */
static int64_t
cross(PGconn *conn, const char *spec, const char *wallet, int64_t total)
{
	int64_t wm = append_notified(conn, spec);

	wait_live_all(wm, wallet);
	recorded(conn, wm, wallet, total);
	return wm;
}

/* The live view on three instances: every one serves it, only the writer
 * records it (one alert per crossing, not one per instance, and live_state).
 * Then the writer is killed with SIGKILL while the test holds the next turn of
 * the election lock (queued behind the writer's), W crosses the threshold and
 * both readers serve it unrecorded; once the lock is let go a new writer reads
 * the stored state and records its view: W alerts once, V not again, and
 * live_state advances; a later crossing (U) alerts once under the new writer. */
static void
test_live_one_recorder(void **st)
{
	PGconn *conn = cluster_db(200, 50), *hold;
	PGresult *res;
	int64_t wm, before;
	int w, w2;
	char sql[200];

	(void)st;
	/* the first view (silent): X (illicit) at 1, V, W and U at 0.1 */
	ts_label(conn, "X");
	wm = append_notified(conn, "X>V:1 Y>V:9 X>W:1 Y>W:9 X>U:1 Y>U:9");
	cluster_run(true);
	w = wait_writer();
	wait_live_all(wm, NULL);
	recorded(conn, wm, NULL, 0);

	/* V crosses 0.5 (21/30): every view shows it, one alert, written by the writer */
	wm = cross(conn, "X>V:20", "V", 1);

	/* the test queues for the election lock behind the writer, then kills it */
	hold = th_db_connect(cores[0].db_url);
	ts_exec(hold, "SET statement_timeout = 60000");
	assert_int_equal(PQsendQuery(hold, "SELECT pg_advisory_lock(" LIVE_KEY ")"), 1);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
	         " AND pid = %d",
	         PQbackendPID(hold));
	wait_int(conn, sql, 1);
	assert_true(WIFSIGNALED(ts_core_stop(&cores[w], SIGKILL)));
	alive[w] = 0;
	res = PQgetResult(hold);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("pg_advisory_lock: %s", PQerrorMessage(hold));
	PQclear(res);
	assert_null(PQgetResult(hold));

	/* no writer: W crosses (21/30) and the readers serve it, recording nothing */
	before = wm;
	wm = append_notified(conn, "X>W:20");
	wait_live_all(wm, "W");
	assert_int_equal(th_db_int(conn, LIVE_WM), before);
	assert_int_equal(alerts_of(conn, NULL), 1);

	/* the lock let go: a new writer records its view from the stored state */
	PQfinish(hold);
	w2 = wait_writer();
	assert_int_not_equal(w2, w);
	recorded(conn, wm, "W", 2);
	assert_int_equal(alerts_of(conn, "V"), 1);

	/* the new writer alerts a later crossing once, nothing again for V or W */
	cross(conn, "X>U:20 Y>Z:1", "U", 3);
	print_message("live on %d instances: 3 alerts, each once; %s took over from %s\n", N,
	              IDS[w2], IDS[w]);
	cluster_stop(conn);
}

/* A process that must stop at start with status 2 and say why. */
static void
refused(const char *prog, char *const argv[], char *const env[], int want, const char *says)
{
	char log[256], buf[4096];
	int status;
	pid_t pid;
	FILE *f;
	size_t n;

	gwt_log_path(log, sizeof(log), "gw_multi_test", prog);
	unlink(log);
	pid = th_spawn(prog, argv, env, log);
	status = th_stop(pid, 0, 10000);
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == want))
		fail_msg("%s: status %d, not exit %d (see %s)", prog, status, want, log);
	f = fopen(log, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strstr(buf, says) == NULL)
		fail_msg("%s said \"%s\", not \"%s\"", prog, buf, says);
}

static void
test_bad_settings(void **st)
{
	char *poll[] = {"ELECTION_POLL_MS=5", NULL}, *key[] = {"ELECTION_LOCK_KEY=abc", NULL};
	char *id[] = {"CORE_INSTANCE_ID=core a!", NULL}, *follow[] = {"FOLLOW_MS=0", NULL};
	char *flag[] = {"amlrisk-core", "--instance-id", "", NULL};
	char *gw_empty[] = {"amlrisk-gateway", "--rpc-url", "tcp://127.0.0.1:1,,tcp://127.0.0.1:2",
	                    NULL};
	char *gw_port[] = {"amlrisk-gateway", "--rpc-url", "tcp://127.0.0.1:1,tcp://127.0.0.1",
	                   NULL};
	char *gw_dup[] = {"amlrisk-gateway", "--rpc-url", "ipc:///tmp/a,ipc:///tmp/a", NULL};
	char *ctl[] = {"amlctl", "--url", "tcp://127.0.0.1:1,http://x:2", "health", NULL};

	(void)st;
	refused("amlrisk-core", NULL, poll, 2, "ELECTION_POLL_MS: '5' is not an integer in [100");
	refused("amlrisk-core", NULL, key, 2, "ELECTION_LOCK_KEY: 'abc' is not an integer");
	refused("amlrisk-core", NULL, id, 2, "CORE_INSTANCE_ID: 'core a!' is not an instance id");
	refused("amlrisk-core", NULL, follow, 2, "FOLLOW_MS: '0' is not an integer in [100");
	refused("amlrisk-core", flag, NULL, 2, "--instance-id: '' is not an instance id");
	refused("amlrisk-gateway", gw_empty, NULL, 2,
	        "RPC_URL (--rpc-url): URL 2 of the list is empty");
	refused("amlrisk-gateway", gw_port, NULL, 2,
	        "URL 2 of the list, 'tcp://127.0.0.1', is not an RPC address");
	refused("amlrisk-gateway", gw_dup, NULL, 2, "repeats URL 1");
	refused("amlctl", ctl, NULL, 1, "URL 2 of the list, 'http://x:2', is not an RPC address");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bad_settings),
	        cmocka_unit_test(test_one_writer),
	        cmocka_unit_test(test_writer_killed_mid_run),
	        cmocka_unit_test(test_reader_killed_under_load),
	        cmocka_unit_test(test_live_one_recorder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
