/* wake_cost.c - amlrisk-bench-wake: what one thread hand-off costs on this
 * machine. Two threads pass a turn back and forth through a mutex and a
 * condition variable, first free to run on any CPU, then both pinned to one.
 * Every RPC message crosses several such hand-offs inside NNG and the worker
 * pool, on each side, so this price sets the floor under an exchange; the
 * gateway report quotes it next to its ratios. Prints wall and CPU time per
 * hand-off. Usage: amlrisk-bench-wake [HANDOFFS] (default 200000; an odd
 * count is rounded down). */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "amlrisk_cli.h"
#include "amlrisk_err.h"

#define HANDOFFS_DEFAULT 200000
#define HANDOFFS_MAX     100000000

typedef struct pingpong {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int turn; /* 0: the main thread's, 1: the peer's */
	long rounds;
} pingpong;

/* Waits for side's turn, then hands the turn to the other side. */
static void
pass(pingpong *pp, int side)
{
	pthread_mutex_lock(&pp->mtx);
	while (pp->turn != side) {
		pthread_cond_wait(&pp->cv, &pp->mtx);
	}
	pp->turn = !side;
	pthread_cond_signal(&pp->cv);
	pthread_mutex_unlock(&pp->mtx);
}

static void *
peer_main(void *arg)
{
	pingpong *pp = arg;

	for (long i = 0; i < pp->rounds; i++) {
		pass(pp, 1);
	}
	return NULL;
}

/* Runs rounds round trips (two hand-offs each), both threads on the CPUs of
 * set (borrowed); prints the cost of one hand-off. Returns 0, or 1 when a
 * thread could not be started or placed. */
static int
measure(const char *label, long rounds, const cpu_set_t *set)
{
	pingpong pp = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, rounds};
	pthread_attr_t attr;
	pthread_t peer;
	double t0, c0, wall, cpu;
	int rv = 1;

	if (pthread_attr_init(&attr) != 0) {
		return 1;
	}
	if (pthread_attr_setaffinity_np(&attr, sizeof(*set), set) != 0 ||
	    pthread_setaffinity_np(pthread_self(), sizeof(*set), set) != 0) {
		fprintf(stderr, "amlrisk-bench-wake: cannot place threads (%s)\n", label);
		goto out;
	}
	c0 = amlrisk_cpu_s();
	t0 = amlrisk_now_s();
	if (pthread_create(&peer, &attr, peer_main, &pp) != 0) {
		fprintf(stderr, "amlrisk-bench-wake: cannot start a thread\n");
		goto out;
	}
	for (long i = 0; i < rounds; i++) {
		pass(&pp, 0);
	}
	pthread_join(peer, NULL);
	wall = amlrisk_now_s() - t0;
	cpu = amlrisk_cpu_s() - c0;
	printf("%s: %.2f us wall, %.2f us CPU per hand-off (%ld hand-offs)\n", label,
	       wall * 1e6 / (double)(2 * rounds), cpu * 1e6 / (double)(2 * rounds), 2 * rounds);
	rv = 0;
out:
	pthread_attr_destroy(&attr);
	return rv;
}

int
main(int argc, char **argv)
{
	uint64_t handoffs = HANDOFFS_DEFAULT;
	cpu_set_t all, one;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: amlrisk-bench-wake [HANDOFFS]   (2..%d, default %d)\n", HANDOFFS_MAX,
		       HANDOFFS_DEFAULT);
		return 0;
	}
	if (argc > 2 ||
	    (argc == 2 && amlrisk_parse_u64(&handoffs, argv[1], 2, HANDOFFS_MAX) != AMLRISK_OK)) {
		return amlrisk_usage_error("amlrisk-bench-wake: ", "\n(see amlrisk-bench-wake --help)\n",
		                           "HANDOFFS must be one number, 2..%d", HANDOFFS_MAX);
	}
	/* the CPUs this process may use (a container or taskset may limit them),
	 * then the first of them alone */
	if (sched_getaffinity(0, sizeof(all), &all) != 0) {
		perror("amlrisk-bench-wake: sched_getaffinity");
		return 1;
	}
	CPU_ZERO(&one);
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &all)) {
			CPU_SET(i, &one);
			break;
		}
	}
	if (CPU_COUNT(&all) < 2) {
		printf("only one CPU available: no hand-off between CPUs to measure\n");
	} else if (measure("any CPU", (long)handoffs / 2, &all) != 0) {
		return 1;
	}
	return measure("one CPU", (long)handoffs / 2, &one);
}
