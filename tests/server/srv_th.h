/* srv_th.h - helpers of the core server tests: an amlrisk-core process on its
 * own fresh database and RPC address, RPC calls into it, and transactions
 * loaded into its database with COPY (fixtures or generated sets). */
#ifndef SRV_TH_H
#define SRV_TH_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "aml/v1/risk_service.pb-c.h"
#include "aml/v1/rpc.pb-c.h"
#include "rpc.h"

/* gRPC codes used by the tests */
enum {
	TS_OK = 0,
	TS_CANCELLED = 1,
	TS_INVALID = 3,
	TS_DEADLINE = 4,
	TS_NOT_FOUND = 5,
	TS_EXHAUSTED = 8,
	TS_PRECONDITION = 9,
	TS_ABORTED = 10,
	TS_UNIMPLEMENTED = 12,
	TS_UNAVAILABLE = 14,
};

typedef struct ts_core {
	char db_url[1024];
	char rpc_url[256];
	char dir[128]; /* temp dir: ipc socket, logs */
	char log[192];
	pid_t pid;
	rpc_client *client;
} ts_core;

/* A TCP port free on 127.0.0.1 right now. */
int ts_free_port(void);

/* A fresh migrated database and an address: ipc:// in a temp dir, or tcp://
 * on a free loopback port when tcp is non-zero. Starts nothing. */
void ts_core_init(ts_core *c, int tcp);
/* Starts amlrisk-core (extra "K=V" env entries, may be NULL) and waits until
 * Health answers with the graph loaded. */
void ts_core_start(ts_core *c, char *const env[]);
/* The same with flags: argv[0] is the program name, NULL-terminated. */
void ts_core_start_args(ts_core *c, char *const argv[], char *const env[]);
/* ts_core_init(c, tcp), then fixture (tests/fixtures/<name>) loaded into its
 * database, illicit (may be NULL) labelled, and the server started with env.
 * Returns a connection to the database (the caller PQfinish()es). */
PGconn *ts_core_fixture(ts_core *c, int tcp, const char *fixture, const char *illicit,
                        char *const env[]);
/* The port of a libpq URL or conninfo (5432 when it names none). */
int ts_url_port(const char *url);
/* ts_core_start() with the core's database reached on 127.0.0.1:port (a
 * th_proxy in front of it; later conninfo keywords win); c->db_url stays the
 * direct one. */
void ts_core_start_via(ts_core *c, int port, char *const env[]);
/* Starts amlrisk-core on c's database and address with env (extra "K=V"
 * entries, NULL-terminated) and fails the test unless it exits 2 at start
 * with says in its log. */
void ts_core_start_refused(ts_core *c, char *const env[], const char *says);
/* Sends sig and waits; returns the exit status (as waitpid) or -1. */
int ts_core_stop(ts_core *c, int sig);
/* Stops the server if running, drops the database, removes the temp dir. */
void ts_core_fini(ts_core *c);
/* Starts amlrisk-core with env (NULL-terminated) and returns its exit status
 * when it ends within timeout_ms, or -1 (it is then left running in *pid). */
int ts_core_run(char *const env[], const char *log, int timeout_ms, pid_t *pid);
/* Whether the file at path contains text; retried until timeout_ms passes. */
int ts_file_has(const char *path, const char *text, int timeout_ms);
/* Prints the server log (to help a failing test). */
void ts_core_dump_log(const ts_core *c);

/* Sends len raw bytes to url on a fresh req socket and returns the envelope
 * answered (asserts one came within 10 s and decodes); the caller frees it
 * with aml__v1__rpc_response__free_unpacked(). */
Aml__V1__RpcResponse *ts_raw(const char *url, const void *data, size_t len);

/* Puts the test stack's RPC secret (th_rpc_secret()) into a hand-made
 * envelope's auth field (borrowed). */
void ts_auth(Aml__V1__RpcRequest *req);

/* A call on c's client (method short name); msg gets the server's message. */
int ts_call(ts_core *c, const char *method, const ProtobufCMessage *req, ProtobufCMessage **resp,
            int timeout_ms, char *msg, size_t msglen);
/* Shorthands that fail the test unless the call is OK; the caller frees. */
Aml__V1__HealthResponse *ts_health(ts_core *c);
Aml__V1__RunScoreResponse *ts_score(ts_core *c, const char *overrides);
Aml__V1__ReloadGraphResponse *ts_reload(ts_core *c);
Aml__V1__TopScoresResponse *ts_top(ts_core *c, uint32_t n, int64_t run_id);
/* GetWalletScore; returns the status, *out set on OK (caller frees). */
int ts_wallet(ts_core *c, const char *wallet, int64_t run_id,
              Aml__V1__GetWalletScoreResponse **out);

/* A RunScore made on a thread of its own (a long run while the test acts). */
typedef struct ts_bg {
	pthread_t thread;
	ts_core *c;
	const char *overrides; /* borrowed */
	int rc;
	int64_t run_id;
	char msg[256];
} ts_bg;

void ts_bg_score(ts_bg *b, ts_core *c, const char *overrides);
void ts_bg_join(ts_bg *b);
/* Waits until a run's rows are being COPYed (a running run whose COPY has
 * processed rows); returns the rows so far, 0 when it did not happen in time. */
int64_t ts_wait_storing(PGconn *conn, int timeout_ms);

/* Loads tests/fixtures/<name> into transactions with COPY. Returns the count. */
size_t ts_load_fixture(PGconn *conn, const char *name);
/* COPYs n generated transactions (ids prefix-0.., wallets w0..w<wallets-1>,
 * a deterministic stream from seed) into transactions. */
void ts_load_generated(PGconn *conn, const char *prefix, size_t n, unsigned wallets, uint64_t seed);
/* Labels wallet illicit in wallet_labels. */
void ts_label(PGconn *conn, const char *wallet);
/* Runs sql (no parameters), failing the test on error. */
void ts_exec(PGconn *conn, const char *sql);

/* risk_scores.risk_score of wallet in run id; fails the test when absent. */
double ts_stored_score(PGconn *conn, int64_t id, const char *wallet);

/* Relative difference check of two doubles. */
int ts_close(double a, double b, double rel);

/* The example of spec/flow_exposure.md (fixture flow-example.pb, X labelled
 * illicit) under flow_exposure/v1's defaults (vector flow-example-defaults):
 * every wallet in top order with R_1..R_6, S_1..S_6. */
#define TS_FLOW_WALLETS 8
#define TS_FLOW_HOPS    6
typedef struct ts_flow_row {
	const char *wallet;
	double score, received, sent;
	uint32_t in, out;
	int illicit;
	double r[TS_FLOW_HOPS], s[TS_FLOW_HOPS];
} ts_flow_row;
extern const ts_flow_row TS_FLOW_EXAMPLE[TS_FLOW_WALLETS];
/* Fails the test unless w is e's row of a flow_exposure/v1 run (within the
 * spec's 1e-9; degrees and is_illicit exactly). */
void ts_expect_flow(const Aml__V1__WalletScore *w, const ts_flow_row *e);

#endif
