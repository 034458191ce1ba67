/* Duty-cycle phases and the measured on-share that scales the figures. */
#include <math.h>
#include "duty_cycle.h"
#include "unit.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

TEST(duty_cycle_full_never_switches)
{
	struct duty_cycle d;

	duty_cycle_init(&d, 1, 1, 100);
	CHECK(isinf(duty_cycle_next_switch(&d)));
	CHECK(NEAR(duty_cycle_measured(&d, 150), 1));
}

TEST(duty_cycle_out_of_range_fraction_means_full)
{
	struct duty_cycle d;

	duty_cycle_init(&d, 0, 1, 0);
	CHECK(isinf(duty_cycle_next_switch(&d)));
	duty_cycle_init(&d, 1.5, 1, 0);
	CHECK(isinf(duty_cycle_next_switch(&d)));
}

TEST(duty_cycle_alternates_on_and_off_phases)
{
	struct duty_cycle d;

	duty_cycle_init(&d, 0.2, 1, 10);
	CHECK(d.on);
	CHECK(NEAR(duty_cycle_next_switch(&d), 10.2));
	duty_cycle_switch(&d, 10.2);
	CHECK(!d.on);
	CHECK(NEAR(duty_cycle_next_switch(&d), 11.0));
	duty_cycle_switch(&d, 11.0);
	CHECK(d.on);
	CHECK(NEAR(duty_cycle_next_switch(&d), 11.2));
}

TEST(duty_cycle_measures_the_real_on_share)
{
	struct duty_cycle d;

	duty_cycle_init(&d, 0.25, 1, 0);
	/* The first on-phase is still running: everything so far was seen. */
	CHECK(NEAR(duty_cycle_measured(&d, 0.1), 1));
	/* Attaching was slow: switches come late; the share is what happened. */
	duty_cycle_switch(&d, 0.3);
	duty_cycle_switch(&d, 1.0);
	CHECK(NEAR(duty_cycle_measured(&d, 1.0), 0.3));
	/* Mid on-phase: its time so far counts. */
	CHECK(NEAR(duty_cycle_measured(&d, 1.1), 0.4 / 1.1));
	duty_cycle_switch(&d, 1.25);
	CHECK(NEAR(duty_cycle_measured(&d, 2.0), 0.55 / 2.0));
}

TEST(duty_cycle_makes_up_for_on_phases_that_ran_long)
{
	struct duty_cycle d;
	double t = 0;

	duty_cycle_init(&d, 0.2, 1, 0);
	/* Every detach comes 50 ms late (a loaded machine): the off-phases that
	 * follow are longer, and the share stays the one asked for. */
	for (int i = 0; i < 20; i++) {
		t = duty_cycle_next_switch(&d) + 0.05;
		duty_cycle_switch(&d, t);
		t = duty_cycle_next_switch(&d);
		CHECK(t - d.since >= 0.8 && t - d.since <= 1.6);
		duty_cycle_switch(&d, t);
	}
	CHECK(fabs(duty_cycle_measured(&d, t) - 0.2) < 1e-9);
}

TEST(duty_cycle_spreads_a_very_late_phase_over_the_next_ones)
{
	struct duty_cycle d;

	duty_cycle_init(&d, 0.2, 1, 0);
	duty_cycle_switch(&d, 2.0); /* an on-phase of 2 s instead of 0.2 */
	/* At most twice an off-phase, not the 8 s that would make it up at once. */
	CHECK(NEAR(duty_cycle_next_switch(&d), 3.6));
	duty_cycle_switch(&d, 3.6);
	/* On-phases keep their length. */
	CHECK(NEAR(duty_cycle_next_switch(&d), 3.8));
}
