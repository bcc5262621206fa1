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

static inline int64_t
srv_unix_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
