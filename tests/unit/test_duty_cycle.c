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
