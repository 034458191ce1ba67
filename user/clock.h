/* Seconds on a clock, as a double: CLOCK_MONOTONIC for intervals,
 * CLOCK_REALTIME for the reports' time stamps. */
#ifndef LEAKTOP_CLOCK_H
#define LEAKTOP_CLOCK_H

#include <time.h>

static inline double now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
