/* The free list of unwind rows: first fit, and freed neighbours merged so
 * that churn does not fragment the table for good. */
#include "row_ranges.h"
#include "unit.h"

TEST(row_ranges_take_first_fit)
{
	struct row_ranges r;
	uint32_t a, b, c;

	CHECK(row_ranges_init(&r, 100));
	CHECK(row_ranges_take(&r, 30, &a) && a == 0);
	CHECK(row_ranges_take(&r, 30, &b) && b == 30);
	CHECK(row_ranges_take(&r, 30, &c) && c == 60);
	CHECK(!row_ranges_take(&r, 11, &c));
	CHECK(row_ranges_give(&r, a, 30));
	CHECK(!row_ranges_take(&r, 31, &a)); /* 30 + 10, not adjacent */
	CHECK(row_ranges_take(&r, 20, &a) && a == 0);
	CHECK(row_ranges_take(&r, 10, &a) && a == 20);
	CHECK(row_ranges_take(&r, 10, &a) && a == 90);
	CHECK_INT(r.n, 0);
	row_ranges_release(&r);
}

TEST(row_ranges_merge_neighbours)
{
	struct row_ranges r;
	uint32_t s[4], all;

	CHECK(row_ranges_init(&r, 40));
	for (int i = 0; i < 4; i++)
		CHECK(row_ranges_take(&r, 10, &s[i]) && s[i] == (uint32_t)i * 10);
	CHECK(row_ranges_give(&r, s[0], 10));
	CHECK(row_ranges_give(&r, s[2], 10));
	CHECK_INT(r.n, 2);
	CHECK(row_ranges_give(&r, s[1], 10)); /* joins both sides */
	CHECK_INT(r.n, 1);
	CHECK(row_ranges_give(&r, s[3], 10)); /* joins the one before */
	CHECK_INT(r.n, 1);
	CHECK(row_ranges_take(&r, 40, &all) && all == 0);
	row_ranges_release(&r);
}
