/* srv_time.h - the two clocks the server reads: monotonic seconds for
 * durations and Unix microseconds for timestamps shown to callers. */
#ifndef SRV_TIME_H
#define SRV_TIME_H

#include <stdint.h>
#include <time.h>

static inline double
srv_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline long long
srv_mono_ms(void)
{
	return (long long)(srv_mono_s() * 1000.0);
}

static inline int64_t
srv_unix_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The CLOCK_REALTIME instant ms milliseconds from now, for
 * pthread_cond_timedwait(). */
static inline void
srv_deadline(struct timespec *ts, long long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

#endif
