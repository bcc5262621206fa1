/* sim_pace.c - pacing of published messages at a fixed rate: message n
 * (0-based) is due n / rate seconds after the first, so a late message is
 * followed by the next ones at once until the schedule is caught up. */
#include "sim.h"

#include <errno.h>
#include <time.h>

void
sim_pace_start(sim_pace *p, double rate, double now)
{
	p->rate = rate > 0 ? rate : 0;
	p->t0 = now;
}

double
sim_pace_wait_s(const sim_pace *p, uint64_t n, double now)
{
	if (p->rate <= 0)
		return 0;
	double due = p->t0 + (double)n / p->rate;
	return due > now ? due - now : 0;
}

void
sim_pace_sleep(double seconds)
{
	if (seconds <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)seconds};
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		; /* a signal: the caller looks at its stop flag after the wait */
}
