/* cons_main.c - amlrisk-consumer: reads its configuration, installs the
 * SIGTERM/SIGINT handlers that ask the loop to stop, and runs the worker. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "amlrisk_err.h"
#include "amlrisk_log.h"
#include "cons.h"

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int
main(int argc, char **argv)
{
	static cons_config cfg; /* large: not on the stack */
	char err[512];
	int help = 0;
	amlrisk_log_init(-1);
	if (cons_config_load(&cfg, argc, argv, &help, err, sizeof(err)) != AMLRISK_OK) {
		fprintf(stderr, "amlrisk-consumer: %s\n", err);
		return 2;
	}
	if (help) {
		cons_config_usage(stdout);
		return 0;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return cons_worker_run(&cfg, &stop_requested);
}
