/* The allocation record word (bpf/leaktop.h): what goes in comes out, at
 * the edges of each field; sizes from ALLOC_SIZE_BIG up say "see big_sizes". */
#include <stdint.h>
#include <linux/types.h>
#include "leaktop.h"
#include "unit.h"

static void round_trip(__u64 size, __u32 slot, __u16 gen)
{
	struct alloc_info in = { size, slot, gen }, out;
	__u64 word = alloc_pack(&in);

	CHECK(word & ALLOC_PRESENT);
	alloc_unpack(word, &out);
	CHECK_INT(out.size, size < ALLOC_SIZE_BIG ? size : ALLOC_SIZE_BIG);
	CHECK_INT(out.slot, slot);
	CHECK_INT(out.slot_gen, gen & ((1u << ALLOC_GEN_BITS) - 1));
}

TEST(alloc_record_word_round_trips)
{
	round_trip(0, 0, 0); /* malloc(0): a record all the same */
	round_trip(1, 1, 1);
	round_trip(ALLOC_SIZE_BIG - 1, (1u << ALLOC_SLOT_BITS) - 1, 0xffff);
	round_trip(ALLOC_SIZE_BIG, 4194303, 511);
	round_trip(1ULL << 40, 12345, 0x1234);
	round_trip(123456789, 4194303, 65535);
	CHECK_INT(4194304, 1u << ALLOC_SLOT_BITS); /* --max-stacks' limit */
	CHECK(ALLOC_SIZE_BITS + ALLOC_SLOT_BITS + ALLOC_GEN_BITS < 64);
}
