/* Duty-cycled tracing (--duty-cycle PCT): the allocation probes are attached
 * for PCT% of each period and detached for the rest, so a target whose
 * allocations are too frequent to trap every one runs near full speed.  The
 * free probes stay attached throughout, so each allocation seen is matched
 * with its free whenever that comes (so do the realloc family's, which free
 * their old block, but record nothing then: user/probes.c); the figures are scaled up by the share
 * of time the allocation probes were on (an estimate that assumes the
 * allocation pattern does not follow the duty cycle's phase).
 *
 * Pure logic on times in seconds (CLOCK_MONOTONIC); main.c acts on it. */
#ifndef LEAKTOP_DUTY_CYCLE_H
#define LEAKTOP_DUTY_CYCLE_H

#include <stdbool.h>

#define DUTY_CYCLE_PERIOD_S 1.0

struct duty_cycle {
	double fraction;    /* wanted share of time on, (0, 1] */
	double period_s;
	bool on;	    /* allocation probes attached now */
	double since;	    /* when the current phase began */
	double on_s;	    /* on-time of finished on-phases */
	double started;	    /* when the first on-phase began */
};

/* Starts in the on-phase at `now`. */
void duty_cycle_init(struct duty_cycle *d, double fraction, double period_s, double now);

/* When the current phase should end (never, with fraction 1). */
double duty_cycle_next_switch(const struct duty_cycle *d);

/* Records a switch to the other phase at `now` (after the probes were
 * attached or detached). */
void duty_cycle_switch(struct duty_cycle *d, double now);

/* The share of time the allocation probes were on since the start, as
 * measured (attach and detach take time too); 1 when not cycling. */
double duty_cycle_measured(const struct duty_cycle *d, double now);

#endif
