/* sim_pace_test.c - the fixed-rate schedule of amlrisk-sim --rate in-process:
 * message n is due n / rate after the start, an overdue message goes at once
 * without moving the schedule, rate 0 never waits, and the sleep returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "amlrisk_cli.h"
#include "sim.h"

/* fails unless a is within eps of b */
#define assert_near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

static void
test_schedule(void **state)
{
	(void)state;
	sim_pace p;
	sim_pace_start(&p, 1000, 50.0);
	assert_near(sim_pace_wait_s(&p, 0, 50.0), 0, 1e-12);
	/* message 10 is due at 50.010: 4 ms to go at 50.006 */
	assert_near(sim_pace_wait_s(&p, 10, 50.006), 0.004, 1e-9);
	assert_near(sim_pace_wait_s(&p, 10, 50.010), 0, 1e-12);
	/* late: message 10 at 50.5 goes at once, and message 600 (due 50.6)
	 * still waits its turn: the schedule is kept, not restarted */
	assert_near(sim_pace_wait_s(&p, 10, 50.5), 0, 1e-12);
	assert_near(sim_pace_wait_s(&p, 600, 50.5), 0.1, 1e-9);
	/* 60 s at 50k/s: the last message is due 60 s after the start */
	sim_pace_start(&p, 50000, 0);
	assert_near(sim_pace_wait_s(&p, 3000000 - 1, 0), 59.99998, 1e-9);
}

static void
test_unpaced(void **state)
{
	(void)state;
	sim_pace p;
	sim_pace_start(&p, 0, 10.0);
	assert_near(sim_pace_wait_s(&p, 1000000, 10.0), 0, 1e-12);
	sim_pace_start(&p, -5, 10.0); /* a negative rate is no pacing, not a wait */
	assert_near(sim_pace_wait_s(&p, 1000000, 10.0), 0, 1e-12);
}

static void
test_sleep(void **state)
{
	(void)state;
	double t0 = amlrisk_now_s();
	sim_pace_sleep(0.02);
	assert_true(amlrisk_now_s() - t0 >= 0.02); /* never shorter than asked */
	sim_pace_sleep(0);
	sim_pace_sleep(-1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_schedule),
	        cmocka_unit_test(test_unpaced),
	        cmocka_unit_test(test_sleep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
