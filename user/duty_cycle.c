/* Phase bookkeeping of the duty cycle; see duty_cycle.h. */
#include <math.h>
#include "duty_cycle.h"

void duty_cycle_init(struct duty_cycle *d, double fraction, double period_s, double now)
{
	d->fraction = fraction > 0 && fraction < 1 ? fraction : 1;
	d->period_s = period_s;
	d->on = true;
	d->since = now;
	d->on_s = 0;
	d->started = now;
}

double duty_cycle_next_switch(const struct duty_cycle *d)
{
	double off_s, catch_up;

	if (d->fraction >= 1)
		return INFINITY;
	if (d->on)
		return d->since + d->period_s * d->fraction;
	/* An off-phase ends when the share since the start is back to the
	 * one asked for: on-phases that ran long (a late wake-up on a loaded
	 * machine) are made up for, so the target pays what it was promised.
	 * Within half to twice a phase, so a very late one is spread out. */
	off_s = d->period_s * (1 - d->fraction);
	catch_up = d->started + d->on_s / d->fraction;
	return fmin(fmax(catch_up, d->since + off_s / 2), d->since + 2 * off_s);
}

void duty_cycle_switch(struct duty_cycle *d, double now)
{
	if (d->on)
		d->on_s += now - d->since;
	d->on = !d->on;
	d->since = now;
}

double duty_cycle_measured(const struct duty_cycle *d, double now)
{
	double total = now - d->started;
	double on = d->on_s + (d->on ? now - d->since : 0);

	/* All on so far (the first on-phase): everything was seen. */
	if (d->fraction >= 1 || total <= 0 || on >= total)
		return 1;
	return on / total;
}
