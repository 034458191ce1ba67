/* The id map: values found again after many insertions and removals. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include "id_map.h"
#include "unit.h"

TEST(id_map_matches_a_plain_array_through_inserts_and_removals)
{
	enum { N = 3000 };
	static uint64_t want[N];
	struct id_map m = { 0 };
	uint64_t x = 7;
	bool same = true;
	size_t count = 0;

	for (int step = 0; step < 200000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t i = x % N, value = x % 3 ? x >> 8 | 1 : 0;

		/* Ids alike in their low bits: long probe runs. */
		CHECK_INT(id_map_set(&m, i << 20, value), 0);
		count += (value != 0) - (want[i] != 0);
		want[i] = value;
	}
	for (uint64_t i = 0; i < N; i++)
		same &= id_map_get(&m, i << 20) == want[i];
	CHECK(same);
	CHECK_INT(m.count, count);
	id_map_free(&m);
	CHECK_INT(id_map_get(&m, 1), 0);
}
