/* The model: windowed growth, ranking, merging of ids. */
#include <math.h>
#include "model.h"
#include "unit.h"

static void snapshot(struct model *m, double t, uint64_t id, int64_t bytes)
{
	model_begin(m, t);
	model_add(m, id, bytes, bytes / 100, NULL);
	model_end(m);
}

TEST(slope_of_a_line_is_exact)
{
	double t[] = { 0, 1, 2, 3 }, v[] = { 10, 30, 50, 70 };

	CHECK(fabs(slope(t, v, 4) - 20) < 1e-9);
	CHECK(slope(t, v, 1) == 0);
	CHECK(slope(t, v, 0) == 0);
}

TEST(slope_of_equal_times_is_zero)
{
	double t[] = { 5, 5 }, v[] = { 1, 100 };

	CHECK(slope(t, v, 2) == 0);
}

TEST(steady_leak_grows_at_its_rate)
{
	struct model *m = model_new(10);
	struct model_row row;

	for (int i = 0; i < 20; i++)
		snapshot(m, 100 + i * 0.5, 7, 1000 + i * 512); /* 1024 B/s */
	CHECK_INT(model_rank(m, SORT_GROWTH, &row, 1), 1);
	CHECK_INT(row.id, 7);
	CHECK_INT(row.bytes, 1000 + 19 * 512);
	CHECK(fabs(row.growth - 1024) < 1e-6);
	model_free(m);
}

TEST(window_forgets_old_samples)
{
	struct model *m = model_new(2);
	struct model_row row;

	/* Fast growth first, then flat for longer than the window. */
	for (int i = 0; i <= 10; i++)
		snapshot(m, i, 1, i * 1000);
	for (int i = 11; i <= 15; i++)
		snapshot(m, i, 1, 10000);
	model_rank(m, SORT_GROWTH, &row, 1);
	CHECK(fabs(row.growth) < 1e-9);
	model_free(m);
}

TEST(first_snapshot_has_no_growth)
{
	struct model *m = model_new(10);
	struct model_row row;

	snapshot(m, 1, 3, 4096);
	CHECK_INT(model_rank(m, SORT_GROWTH, &row, 1), 1);
	CHECK(row.growth == 0);
	CHECK_INT(row.bytes, 4096);
	model_free(m);
}

TEST(new_stack_starts_from_zero_at_previous_snapshot)
{
	struct model *m = model_new(10);
	struct model_row row;

	snapshot(m, 1, 3, 100);
	model_begin(m, 2);
	model_add(m, 3, 100, 1, NULL);
	model_add(m, 9, 500, 1, NULL); /* appeared during the last second */
	model_end(m);
	model_rank(m, SORT_GROWTH, &row, 1);
	CHECK_INT(row.id, 9);
	CHECK(fabs(row.growth - 500) < 1e-9);
	model_free(m);
}

TEST(vanished_stack_is_zero_and_dropped_from_ranking)
{
	struct model *m = model_new(10);
	struct model_row rows[4];

	snapshot(m, 1, 3, 100);
	model_begin(m, 2);
	model_end(m);
	/* It shrank to zero: still listed while its growth is non-zero. */
	CHECK_INT(model_rank(m, SORT_GROWTH, rows, 4), 1);
	CHECK_INT(rows[0].bytes, 0);
	CHECK(rows[0].growth < 0);
	CHECK_INT(model_total_bytes(m), 0);
	CHECK_INT(model_count(m), 0);
	model_free(m);
}

TEST(same_id_is_summed)
{
	struct model *m = model_new(10);
	struct model_row row;

	model_begin(m, 1);
	model_add(m, 5, 100, 1, NULL);
	model_add(m, 5, 50, 2, NULL);
	model_end(m);
	model_rank(m, SORT_BYTES, &row, 1);
	CHECK_INT(row.bytes, 150);
	CHECK_INT(row.allocs, 3);
	CHECK_INT(model_total_bytes(m), 150);
	CHECK_INT(model_total_allocs(m), 3);
	model_free(m);
}

TEST(ranking_orders_by_growth_then_bytes)
{
	struct model *m = model_new(10);
	struct model_row rows[3];

	for (int i = 0; i < 5; i++) {
		model_begin(m, i);
		model_add(m, 1, 10 << 20, 1, NULL);	/* big, static */
		model_add(m, 2, i * 1000, i, NULL);	/* small, growing */
		model_add(m, 3, 5 << 20, 1, NULL);	/* medium, static */
		model_end(m);
	}
	CHECK_INT(model_rank(m, SORT_GROWTH, rows, 3), 3);
	CHECK_INT(rows[0].id, 2);
	CHECK_INT(rows[1].id, 1);
	CHECK_INT(rows[2].id, 3);
	CHECK_INT(model_rank(m, SORT_BYTES, rows, 3), 3);
	CHECK_INT(rows[0].id, 1);
	CHECK_INT(model_rank(m, SORT_ALLOCS, rows, 1), 1);
	CHECK_INT(rows[0].id, 2);
	CHECK(fabs(model_total_growth(m) - 1000) < 1e-6);
	model_free(m);
}

TEST(reset_forgets_history)
{
	struct model *m = model_new(10);
	struct model_row row;

	snapshot(m, 1, 1, 0);
	snapshot(m, 2, 1, 1000);
	model_reset(m);
	snapshot(m, 3, 1, 5000);
	model_rank(m, SORT_GROWTH, &row, 1);
	CHECK(row.growth == 0);
	CHECK_INT(row.bytes, 5000);
	model_free(m);
}
