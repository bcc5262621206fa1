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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define HANDOFFS_DEFAULT 200000L
#define HANDOFFS_MAX     100000000L

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

static double
seconds_of(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Runs rounds round trips (two hand-offs each), both threads on the CPUs of
 * set (borrowed); prints the cost of one hand-off. Returns 0, or 1 when a
 * thread could not be started or placed. */
static int
measure(const char *label, long rounds, const cpu_set_t *set)
{
	pingpong pp = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, rounds};
	pthread_attr_t attr;
	struct timespec t0, t1;
	struct rusage r0, r1;
	pthread_t peer;
	double wall, cpu_s;
	int rv = 1;

	if (pthread_attr_init(&attr) != 0) {
		return 1;
	}
	if (pthread_attr_setaffinity_np(&attr, sizeof(*set), set) != 0 ||
	    pthread_setaffinity_np(pthread_self(), sizeof(*set), set) != 0) {
		fprintf(stderr, "amlrisk-bench-wake: cannot place threads (%s)\n", label);
		goto out;
	}
	getrusage(RUSAGE_SELF, &r0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pthread_create(&peer, &attr, peer_main, &pp) != 0) {
		fprintf(stderr, "amlrisk-bench-wake: cannot start a thread\n");
		goto out;
	}
	for (long i = 0; i < rounds; i++) {
		pass(&pp, 0);
	}
	pthread_join(peer, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &r1);
	wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu_s = seconds_of(r1.ru_utime) + seconds_of(r1.ru_stime) - seconds_of(r0.ru_utime) -
	        seconds_of(r0.ru_stime);
	printf("%s: %.2f us wall, %.2f us CPU per hand-off (%ld hand-offs)\n", label,
	       wall * 1e6 / (double)(2 * rounds), cpu_s * 1e6 / (double)(2 * rounds), 2 * rounds);
	rv = 0;
out:
	pthread_attr_destroy(&attr);
	return rv;
}

int
main(int argc, char **argv)
{
	long handoffs = HANDOFFS_DEFAULT;
	cpu_set_t all, one;
	char *end;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		int help = argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);

		fprintf(help ? stdout : stderr,
		        "usage: amlrisk-bench-wake [HANDOFFS]   (2..%ld, default %ld)\n", HANDOFFS_MAX,
		        HANDOFFS_DEFAULT);
		return help ? 0 : 2;
	}
	if (argc == 2) {
		handoffs = strtol(argv[1], &end, 10);
		if (*end != '\0' || handoffs < 2 || handoffs > HANDOFFS_MAX) {
			fprintf(stderr, "amlrisk-bench-wake: HANDOFFS must be 2..%ld\n", HANDOFFS_MAX);
			return 2;
		}
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
	} else if (measure("any CPU", handoffs / 2, &all) != 0) {
		return 1;
	}
	return measure("one CPU", handoffs / 2, &one);
}
