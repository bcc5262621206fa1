/* rpc_floor.c - amlrisk-bench-rpc-floor: what the RPC layer alone costs the
 * gateway's hot path, without HTTP. One driver thread keeps N coalesced
 * GetWalletScore calls (random wallets) out against a running core, the way the
 * gateway's HTTP threads do with their suspended requests: each answer wakes
 * the driver, which sends the next call. Prints calls/s, calls per exchange,
 * and the CPU time per call of this process and of the server (--server-pid),
 * so the report can set the RPC's share against an HTTP request's. */
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aml/v1/risk_service.pb-c.h"
#include "amlrisk_cli.h"
#include "rpc.h"

#define TIMEOUT_MS   5000
#define INFLIGHT_MAX 4096

static sem_t done_sem;
static atomic_ullong answered, failed;

static void
on_done(void *arg, int grpc, ProtobufCMessage *resp, const char *msg)
{
	(void)arg;
	(void)msg;
	if (grpc == 0) {
		atomic_fetch_add(&answered, 1);
	} else {
		atomic_fetch_add(&failed, 1);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	sem_post(&done_sem);
}

/* One random-wallet call, as bench/gateway/scores.lua asks for. */
static void
call_one(rpc_client *c, unsigned long wallets, unsigned *seed)
{
	Aml__V1__GetWalletScoreRequest req = AML__V1__GET_WALLET_SCORE_REQUEST__INIT;
	char wallet[32];

	snprintf(wallet, sizeof(wallet), "w%07lu", (unsigned long)rand_r(seed) % wallets);
	req.wallet = wallet;
	rpc_client_call_async(c, &aml__v1__risk_service__descriptor, "GetWalletScore", &req.base,
	                      TIMEOUT_MS, on_done, NULL);
}

/* CPU seconds used so far by this process, or by pid (from /proc; -1 if unreadable). */
static double
cpu_s(int64_t pid)
{
	char path[64];
	unsigned long ut, st;
	FILE *f;
	int n;

	if (pid == 0) {
		return amlrisk_cpu_s();
	}
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if ((f = fopen(path, "r")) == NULL) {
		return -1;
	}
	/* the command name may hold spaces: skip to the ')' that ends it */
	n = fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	fclose(f);
	return n == 2 ? (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) : -1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: amlrisk-bench-rpc-floor --url URL [--wallets N] [--inflight N]\n"
	        "                               [--batches B] [--seconds S] [--server-pid PID]\n"
	        "  N coalesced GetWalletScore calls (random wallets w0000000..) kept out\n"
	        "  against a running core, B batches out at once (the gateway's\n"
	        "  --rpc-batches, default 1); prints calls/s, calls per exchange and CPU us per\n"
	        "  call of this process and of PID (the server). RPC_SECRET_FILE or\n"
	        "  RPC_SECRET: the secret sent with every call.\n");
}

int
main(int argc, char **argv)
{
	const char *url = NULL;
	int64_t wallets = 1000000, inflight = 32, server = 0, batches = 1;
	double seconds = 5, t0, c0, s0, el;
	rpc_client_opts o = {0};
	static rpc_secret sec;
	char why[256];
	rpc_client_stats_t st0, st1;
	rpc_client *c = NULL;
	unsigned seed = 42;
	unsigned long long calls;
	int rv = 2;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (v == NULL) {
			usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--url") == 0) {
			url = v;
		} else if ((strcmp(a, "--wallets") == 0 &&
		            amlrisk_parse_i64(&wallets, v, 1, 100000000) == 0) ||
		           (strcmp(a, "--inflight") == 0 &&
		            amlrisk_parse_i64(&inflight, v, 1, INFLIGHT_MAX) == 0) ||
		           (strcmp(a, "--batches") == 0 &&
		            amlrisk_parse_i64(&batches, v, 1, 64) == 0) ||
		           (strcmp(a, "--server-pid") == 0 &&
		            amlrisk_parse_i64(&server, v, 1, 1L << 30) == 0) ||
		           (strcmp(a, "--seconds") == 0 &&
		            amlrisk_parse_double(&seconds, v, 0.1, 3600) == 0)) {
			continue;
		} else {
			return amlrisk_usage_error("amlrisk-bench-rpc-floor: ", "\n(see --help)\n",
			                           "bad option %s %s", a, v);
		}
	}
	if (url == NULL) {
		usage(stderr);
		return 2;
	}
	if (rpc_secret_from_env(&sec, why, sizeof(why)) != 0) {
		fprintf(stderr, "amlrisk-bench-rpc-floor: %s\n", why);
		return 2;
	}
	sem_init(&done_sem, 0, 0);
	o.caller = "bench-rpc-floor";
	o.secret = sec.current[0] != '\0' ? sec.current : NULL;
	o.coalesce_batches = (int)batches;
	if (rpc_client_create(&c, url, &o) != 0) {
		fprintf(stderr, "amlrisk-bench-rpc-floor: cannot open %s\n", url);
		return 1;
	}
	for (int64_t i = 0; i < inflight; i++) {
		call_one(c, (unsigned long)wallets, &seed);
	}
	/* 0.5 s of warm-up, then the measured window */
	for (t0 = amlrisk_now_s(); amlrisk_now_s() - t0 < 0.5;) {
		sem_wait(&done_sem);
		call_one(c, (unsigned long)wallets, &seed);
	}
	rpc_client_stats(c, &st0);
	calls = atomic_load(&answered) + atomic_load(&failed);
	c0 = cpu_s(0);
	s0 = server != 0 ? cpu_s(server) : 0;
	t0 = amlrisk_now_s();
	while (amlrisk_now_s() - t0 < seconds) {
		while (sem_wait(&done_sem) != 0 && errno == EINTR) {
		}
		call_one(c, (unsigned long)wallets, &seed);
	}
	el = amlrisk_now_s() - t0;
	rpc_client_stats(c, &st1);
	calls = atomic_load(&answered) + atomic_load(&failed) - calls;
	printf("inflight %lld: %.0f calls/s, %.1f calls per exchange, CPU per call: client %.1f us",
	       (long long)inflight, (double)calls / el,
	       (double)(st1.calls - st0.calls) / (double)(st1.exchanges - st0.exchanges),
	       (cpu_s(0) - c0) * 1e6 / (double)calls);
	if (server != 0) {
		printf(", server %.1f us", (cpu_s(server) - s0) * 1e6 / (double)calls);
	}
	printf("\n");
	printf("failed calls: %llu\n", atomic_load(&failed));
	/* let the calls still out finish before the client goes */
	for (int64_t i = 0; i < inflight; i++) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += TIMEOUT_MS / 1000 + 1;
		if (sem_timedwait(&done_sem, &ts) != 0) {
			break;
		}
	}
	rv = atomic_load(&failed) == 0 ? 0 : 1;
	rpc_client_destroy(c);
	sem_destroy(&done_sem);
	return rv;
}
