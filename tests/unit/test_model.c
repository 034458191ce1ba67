/* The model: windowed growth, ranking, merging of ids. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* One snapshot at time t of ids[i] holding bytes[i] (n of them). */
static void snapshot_of(struct model *m, double t, const uint64_t *ids, const int64_t *bytes, size_t n)
{
	model_begin(m, t);
	for (size_t i = 0; i < n; i++)
		model_add(m, ids[i], bytes[i], 1, NULL);
	model_end(m);
}

static double growth_of(const struct model *m, uint64_t id)
{
	struct model_row rows[16];
	size_t n = model_rank(m, SORT_GROWTH, rows, 16);

	for (size_t i = 0; i < n; i++)
		if (rows[i].id == id)
			return rows[i].growth;
	return 0;
}

/* model_recent(id, max) gives want[0..n). */
static void check_recent(const struct model *m, uint64_t id, size_t max, const double *want, size_t n)
{
	double got[32];

	CHECK_INT(model_recent(m, id, got, max), n);
	for (size_t i = 0; i < n; i++)
		CHECK(got[i] == want[i]);
}

TEST(stack_changing_now_and_then_has_the_slope_of_every_snapshot)
{
	struct model *m = model_new(10);
	uint64_t id = 42;
	int64_t bytes;

	/* 1000 at t = 0..3, 3000 at 4..7, 2000 at 8..10: three change points.
	 * By hand: mean t 5, mean bytes 2000, sum (t-5)(v-2000) = 16000,
	 * sum (t-5)^2 = 110. */
	for (int t = 0; t <= 10; t++) {
		bytes = t < 4 ? 1000 : t < 8 ? 3000 : 2000;
		snapshot_of(m, t, &id, &bytes, 1);
	}
	CHECK(fabs(growth_of(m, id) - 16000.0 / 110) < 1e-9);
	check_recent(m, id, 4, (double[]){ 3000, 2000, 2000, 2000 }, 4);
	model_free(m);
}

TEST(late_stack_starts_at_zero_at_the_snapshot_before)
{
	struct model *m = model_new(10);
	uint64_t ids[] = { 1, 2 };
	int64_t bytes[2] = { 7, 0 };

	for (int t = 0; t <= 4; t++)
		snapshot_of(m, t, ids, bytes, 1);
	for (int t = 5; t <= 7; t++) {
		bytes[1] = (t - 4) * 100;
		snapshot_of(m, t, ids, bytes, 2);
	}
	/* Its series is 0, 100, 200, 300 at t = 4..7: nothing before. */
	CHECK(fabs(growth_of(m, 2) - 100) < 1e-9);
	check_recent(m, 2, 32, (double[]){ 0, 100, 200, 300 }, 4);
	CHECK(growth_of(m, 1) == 0);
	check_recent(m, 1, 32, (double[]){ 7, 7, 7, 7, 7, 7, 7, 7 }, 8);
	model_free(m);
}

TEST(stack_that_vanishes_and_comes_back)
{
	struct model *m = model_new(10);
	uint64_t id = 9;
	int64_t bytes = 100;

	snapshot_of(m, 0, &id, &bytes, 1);
	snapshot_of(m, 1, &id, &bytes, 1);
	snapshot_of(m, 2, &id, &bytes, 0);
	snapshot_of(m, 3, &id, &bytes, 0);
	/* 100, 100, 0, 0: mean t 1.5, mean 50, sum (t-1.5)(v-50) = -200, sum (t-1.5)^2 = 5 */
	CHECK(fabs(growth_of(m, id) + 40) < 1e-9);
	CHECK_INT(model_count(m), 0);
	snapshot_of(m, 4, &id, &bytes, 1);
	/* 100, 100, 0, 0, 100: sum (t-2)(v-60) = -100, sum (t-2)^2 = 10 */
	CHECK(fabs(growth_of(m, id) + 10) < 1e-9);
	check_recent(m, id, 32, (double[]){ 100, 100, 0, 0, 100 }, 5);
	check_recent(m, id, 2, (double[]){ 0, 100 }, 2);
	model_free(m);
}

/* Spread ids, as the hashes of real stacks are (splitmix64). */
static uint64_t hashed(uint64_t i)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

TEST(many_ids_are_found_again_after_the_index_grows)
{
	enum { N = 50000, SAME_LOW_BITS = 100 };
	struct model *m = model_new(10);
	struct model_row row;
	double got[4];
	int64_t sum = 0;
	bool all_found = true;

	model_begin(m, 1);
	for (uint64_t i = 0; i < N; i++)
		model_add(m, hashed(i), (int64_t)i + 1, 1, NULL);
	model_end(m);
	model_begin(m, 2);
	for (uint64_t i = 0; i < N; i++)
		model_add(m, hashed(i), 2 * ((int64_t)i + 1), 1, NULL);
	/* Ids alike in their low bits fall on one slot: found by probing. */
	for (uint64_t i = 0; i < SAME_LOW_BITS; i++)
		model_add(m, (i + 1) << 40 | 5, 1, 1, NULL);
	model_end(m);

	for (uint64_t i = 0; i < N; i++) {
		double v = (double)i + 1;

		all_found &= model_recent(m, hashed(i), got, 4) == 2 && got[0] == v && got[1] == 2 * v;
		sum += 2 * ((int64_t)i + 1);
	}
	for (uint64_t i = 0; i < SAME_LOW_BITS; i++)
		all_found &= model_recent(m, (i + 1) << 40 | 5, got, 4) == 2 && got[0] == 0 && got[1] == 1;
	CHECK(all_found);
	CHECK_INT(model_recent(m, hashed(N), got, 4), 0);
	CHECK_INT(model_count(m), N + SAME_LOW_BITS);
	CHECK_INT(model_total_bytes(m), sum + SAME_LOW_BITS);
	CHECK_INT(model_rank(m, SORT_GROWTH, &row, 1), 1);
	CHECK_INT(row.id, hashed(N - 1));
	CHECK(fabs(row.growth - N) < 1e-6);
	model_free(m);
}

TEST(window_trim_keeps_the_value_at_its_start)
{
	struct model *m = model_new(2);
	uint64_t ids[] = { 1, 2, 3 };
	int64_t bytes[3];

	/* 1: 500 throughout.  2: 100, then 200 from t = 5.  3: 100, then 400
	 * from t = 10. */
	for (int t = 0; t <= 11; t++) {
		bytes[0] = 500;
		bytes[1] = t < 5 ? 100 : 200;
		bytes[2] = t < 10 ? 100 : 400;
		snapshot_of(m, t, ids, bytes, 3);
	}
	/* The window holds t = 9, 10, 11 (t < 11 - 2 * 1.001 is out). */
	CHECK(growth_of(m, 1) == 0);
	check_recent(m, 1, 32, (double[]){ 500, 500, 500 }, 3);
	CHECK(growth_of(m, 2) == 0);
	check_recent(m, 2, 32, (double[]){ 200, 200, 200 }, 3);
	/* 100 at t = 9 comes from the point set at t = 0, before the window. */
	CHECK(fabs(growth_of(m, 3) - 150) < 1e-9);
	check_recent(m, 3, 32, (double[]){ 100, 400, 400 }, 3);
	model_free(m);
}

/* The model as it was before change points: every entry kept a sample (t,
 * bytes) per snapshot of the window.  Compared with it, no figure may differ.
 * (An entry at zero through its whole window, not added, is dropped: when
 * its id comes back it is new again.) */
enum { REF_IDS = 48, REF_SAMPLES = 64 };

struct ref_entry {
	bool exists, seen;
	int64_t bytes, allocs;
	size_t n;
	double t[REF_SAMPLES], v[REF_SAMPLES];
};

struct ref_model {
	double window, now, previous;
	int snapshot;
	struct ref_entry e[REF_IDS];
	struct ref_entry total;
};

static void ref_push(const struct ref_model *r, struct ref_entry *e, double t, double v)
{
	size_t drop = 0;

	while (drop < e->n && e->t[drop] < t - r->window * 1.001)
		drop++;
	e->n -= drop;
	memmove(e->t, e->t + drop, e->n * sizeof(double));
	memmove(e->v, e->v + drop, e->n * sizeof(double));
	e->t[e->n] = t;
	e->v[e->n++] = v;
}

static double ref_growth(const struct ref_entry *e)
{
	double t[REF_SAMPLES];

	for (size_t i = 0; i < e->n; i++)
		t[i] = e->t[i] - e->t[0];
	return slope(t, e->v, e->n);
}

static void ref_add(struct ref_model *r, int i, int64_t bytes)
{
	struct ref_entry *e = &r->e[i];

	if (!e->exists) {
		e->exists = true;
		if (r->snapshot > 1)
			ref_push(r, e, r->previous, 0);
	}
	if (!e->seen)
		e->bytes = e->allocs = 0;
	e->seen = true;
	e->bytes += bytes;
	e->allocs += 1;
}

static void ref_end(struct ref_model *r)
{
	int64_t total = 0;

	for (int i = 0; i < REF_IDS; i++) {
		struct ref_entry *e = &r->e[i];

		if (!e->exists)
			continue;
		bool seen = e->seen, zero = true;

		if (!e->seen)
			e->bytes = e->allocs = 0;
		e->seen = false;
		ref_push(r, e, r->now, (double)e->bytes);
		total += e->bytes;
		for (size_t j = 0; j < e->n; j++)
			zero &= e->v[j] == 0;
		if (!seen && zero) {
			e->exists = false;
			e->n = 0;
		}
	}
	ref_push(r, &r->total, r->now, (double)total);
}

/* Every figure of the model equals the reference's, bit for bit. */
static bool same_as_ref(const struct model *m, const struct ref_model *r)
{
	struct model_row rows[REF_IDS];
	size_t ranked = 0, n = model_rank(m, SORT_GROWTH, rows, REF_IDS);
	double recent[REF_SAMPLES];
	bool same = true;

	for (int i = 0; i < REF_IDS; i++) {
		const struct ref_entry *e = &r->e[i];
		size_t k = model_recent(m, hashed((uint64_t)i), recent, 8);
		size_t want = e->n < 8 ? e->n : 8;

		same &= k == (e->exists ? want : 0);
		for (size_t j = 0; j < k && j < want; j++)
			same &= recent[j] == e->v[e->n - want + j];
		ranked += e->exists && (e->bytes || e->allocs || ref_growth(e) != 0);
	}
	same &= n == ranked;
	same &= model_total_growth(m) == ref_growth(&r->total);
	same &= (double)model_total_bytes(m) == r->total.v[r->total.n - 1];
	for (size_t j = 0; j < n; j++) {
		const struct ref_entry *e = NULL;

		for (int i = 0; i < REF_IDS; i++)
			if (hashed((uint64_t)i) == rows[j].id)
				e = &r->e[i];
		same &= e && rows[j].bytes == e->bytes && rows[j].allocs == e->allocs &&
			rows[j].growth == ref_growth(e);
	}
	return same;
}

TEST(figures_match_the_model_that_kept_every_sample)
{
	struct model *m = model_new(3);
	struct ref_model *r = calloc(1, sizeof(*r));
	uint64_t x = 88172645463325252ULL;
	double t = 1000;
	int mismatches = 0;

	r->window = 3;
	for (int s = 0; s < 400; s++) {
		/* xorshift64: deterministic. */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		t += x % 50 == 0 ? 5 : 0.2 + (double)(x % 1000) / 1000; /* gaps beyond the window too */
		if (s == 200) {
			model_reset(m);
			memset(r, 0, sizeof(*r));
			r->window = 3;
		}
		model_begin(m, t);
		r->previous = r->now, r->now = t, r->snapshot++;
		for (int i = 0; i < REF_IDS; i++) {
			int64_t v = r->e[i].bytes;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (!r->e[i].exists && x % 8 != 0)
				continue;	/* not born yet */
			if (x % 16 == 1)
				continue;	/* vanished in this snapshot */
			if (x % 4 == 2)
				v = (int64_t)(x >> 40) - (1 << 20);	/* changed, now and then below zero */
			model_add(m, hashed((uint64_t)i), v, 1, NULL);
			ref_add(r, i, v);
			if (x % 32 == 3) {	/* the same id twice */
				model_add(m, hashed((uint64_t)i), 17, 1, NULL);
				ref_add(r, i, 17);
			}
		}
		model_end(m);
		ref_end(r);
		mismatches += !same_as_ref(m, r);
	}
	CHECK_INT(mismatches, 0);
	free(r);
	model_free(m);
}

static void count_dropped(void *ctx, const void *stack)
{
	((int *)ctx)[(intptr_t)stack]++;
}

TEST(entries_at_zero_through_the_window_are_dropped_with_their_stack)
{
	struct model *m = model_new(2);
	int dropped[4] = { 0 };
	double got[4];

	model_set_dropped(m, count_dropped, dropped);
	model_begin(m, 1);
	CHECK_INT(model_add(m, 10, 100, 1, (void *)1), MODEL_NEW_ENTRY);
	CHECK_INT(model_add(m, 20, 100, 1, (void *)2), MODEL_NEW_ENTRY);
	CHECK_INT(model_add(m, 20, 5, 1, (void *)3), 0); /* the entry keeps stack 2 */
	model_end(m);
	/* 10 goes to zero at t = 2; 20 stays. */
	for (int t = 2; t <= 3; t++) {
		model_begin(m, t);
		CHECK_INT(model_add(m, 20, 105, 1, (void *)3), 0);
		model_end(m);
		CHECK_INT(dropped[1], 0); /* its fall is still in the window */
		CHECK_INT(model_entries(m), 2);
	}
	model_begin(m, 4);
	model_add(m, 20, 105, 1, (void *)3);
	model_end(m);
	CHECK_INT(dropped[1], 1); /* zero at t = 2, 3, 4: the whole window */
	CHECK_INT(model_entries(m), 1);
	CHECK_INT(model_recent(m, 10, got, 4), 0);
	CHECK_INT(model_recent(m, 20, got, 4), 3);
	/* Back: a new entry, zero at the snapshot before. */
	model_begin(m, 5);
	CHECK_INT(model_add(m, 10, 50, 1, (void *)1), MODEL_NEW_ENTRY);
	model_add(m, 20, 105, 1, (void *)3);
	model_end(m);
	CHECK(fabs(growth_of(m, 10) - 50) < 1e-9);
	model_reset(m);
	CHECK_INT(dropped[1], 2);
	CHECK_INT(dropped[2], 1);
	CHECK_INT(dropped[3], 0);
	model_free(m);
}

TEST(top_rows_are_the_prefix_of_the_full_ranking)
{
	struct model *m = model_new(10);
	static struct model_row all[2000], top[17];
	enum model_sort sorts[] = { SORT_GROWTH, SORT_BYTES, SORT_ALLOCS };
	uint64_t x = 12345;

	for (int s = 0; s < 3; s++) {
		model_begin(m, s);
		for (uint64_t id = 1; id <= 2000; id++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			model_add(m, id, (int64_t)(x >> 50) % 500, (int64_t)(x >> 40) % 7, NULL);
		}
		model_end(m);
	}
	for (size_t k = 0; k < 3; k++) {
		size_t n = model_rank(m, sorts[k], all, 2000), t = model_rank(m, sorts[k], top, 17);

		CHECK(n > 17);
		CHECK_INT(t, 17);
		for (size_t i = 0; i < t; i++)
			CHECK(top[i].id == all[i].id);
	}
	CHECK_INT(model_rank(m, SORT_BYTES, top, 0), 0);
	model_free(m);
}

TEST(hinted_adds_find_the_entry_whatever_the_hint)
{
	struct model *m = model_new(10);
	uint32_t a = MODEL_NO_HINT, b = MODEL_NO_HINT;
	struct model_row rows[2];

	model_begin(m, 0);
	model_add_hinted(m, &a, 111, 100, 1, NULL);
	model_add_hinted(m, &b, 222, 200, 2, NULL);
	model_end(m);
	CHECK(a != MODEL_NO_HINT && b != MODEL_NO_HINT && a != b);
	model_begin(m, 1);
	model_add_hinted(m, &b, 111, 10, 1, NULL); /* a hint of another id */
	model_add_hinted(m, &a, 111, 5, 0, NULL);
	model_end(m);
	CHECK_INT(model_rank(m, SORT_BYTES, rows, 2), 2); /* 222: at zero, still shrinking */
	CHECK(rows[0].id == 111 && rows[0].bytes == 15 && rows[0].allocs == 1);
	CHECK(rows[1].id == 222 && rows[1].bytes == 0);
	model_reset(m); /* hints left over from before a reset */
	model_begin(m, 2);
	model_add_hinted(m, &a, 222, 7, 1, NULL);
	model_end(m);
	CHECK_INT(model_rank(m, SORT_BYTES, rows, 2), 1);
	CHECK(rows[0].id == 222 && rows[0].bytes == 7);
	model_free(m);
}

/* A forgotten stack (evicted: no longer tracked) leaves at once instead of
 * showing as falling for a window; added again, it starts afresh. */
TEST(forgotten_stack_leaves_and_starts_afresh)
{
	struct model *m = model_new(10);
	struct model_row rows[2];

	for (int i = 0; i < 4; i++) {
		model_begin(m, 100 + i);
		model_add(m, 1, 1000 * (i + 1), 1, NULL);
		model_add(m, 2, 50, 1, NULL);
		model_end(m);
	}
	model_begin(m, 104);
	model_forget(m, 1);
	model_add(m, 2, 50, 1, NULL);
	model_end(m);
	CHECK_INT(model_rank(m, SORT_GROWTH, rows, 2), 1);
	CHECK_INT(rows[0].id, 2);
	for (int i = 1; i <= 2; i++) {
		model_begin(m, 104 + i);
		model_add(m, 1, 300 * i, 1, NULL);
		model_add(m, 2, 50, 1, NULL);
		model_end(m);
	}
	CHECK_INT(model_rank(m, SORT_BYTES, rows, 2), 2);
	CHECK_INT(rows[0].id, 1);
	CHECK_INT(rows[0].bytes, 600);
	CHECK(fabs(rows[0].growth - 300) < 1e-6);
	model_free(m);
}
