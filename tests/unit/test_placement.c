/* Entry probe placement on machine code: where each prologue's probe goes.
 * The byte sequences are small functions assembled with `as` (the comments
 * give the source); several are modelled on glibc 2.36's and jemalloc's. */
#include <stdint.h>
#include "placement.h"
#include "unit.h"

#define BASE 0x98ef0
#define CHOOSE(code, args) placement_choose(code, sizeof(code), BASE, args)

TEST(placement_free_goes_to_the_null_check_branch)
{
	/* test rdi,rdi; je 1f; push rbp; lea rsi,[rdi-0x10]; push rbx; sub rsp,0x18;
	 * add rsp,0x18; pop rbx; pop rbp; 1: ret */
	static const uint8_t code[] = { 0x48, 0x85, 0xff, 0x74, 0x10, 0x55, 0x48, 0x8d, 0x77, 0xf0, 0x53,
					0x48, 0x83, 0xec, 0x18, 0x48, 0x83, 0xc4, 0x18, 0x5b, 0x5d, 0xc3 };

	CHECK_INT(CHOOSE(code, placement_args(ALLOC_FREE)), 3);
}

TEST(placement_push_at_entry_stays)
{
	/* push r12; push rbp; mov rbx,rdi; pop rbp; pop r12; ret (glibc malloc) */
	static const uint8_t code[] = { 0x41, 0x54, 0x55, 0x48, 0x89, 0xfb, 0x5d, 0x41, 0x5c, 0xc3 };

	CHECK_INT(CHOOSE(code, placement_args(FN_MALLOC)), 0);
}

TEST(placement_skips_a_flag_check_to_the_first_push)
{
	/* cmp byte [rip+0x1000],0; push r12; mov r12,rdx; push rbp; mov rbp,rdi; ...
	 * (glibc posix_memalign) */
	static const uint8_t code[] = { 0x80, 0x3d, 0x00, 0x10, 0x00, 0x00, 0x00, 0x41, 0x54, 0x49,
					0x89, 0xd4, 0x55, 0x48, 0x89, 0xfd, 0x5d, 0x41, 0x5c, 0xc3 };

	CHECK_INT(CHOOSE(code, placement_args(FN_POSIX_MEMALIGN)), 7);
}

TEST(placement_stops_at_a_write_to_an_argument_it_reads)
{
	/* mov rax,rsi; mul rdx; mov rsi,rax; jo 1f; jmp realloc; 1: xor eax,eax; ret
	 * (glibc reallocarray: rdx and rsi change before the first branch) */
	static const uint8_t code[] = { 0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48, 0x89, 0xc6, 0x70,
					0x05, 0xe9, 0xfb, 0x0f, 0x00, 0x00, 0x31, 0xc0, 0xc3 };

	CHECK_INT(CHOOSE(code, placement_args(FN_REALLOCARRAY)), 0);
	/* A function reading rdi alone could have its probe on the jo. */
	CHECK_INT(CHOOSE(code, ARG_RDI), 9);
}

TEST(placement_partial_register_write_counts)
{
	/* mov esi,1; push rbx; pop rbx; ret */
	static const uint8_t code[] = { 0xbe, 0x01, 0x00, 0x00, 0x00, 0x53, 0x5b, 0xc3 };

	CHECK_INT(CHOOSE(code, ARG_RDI | ARG_RSI), 0);
	CHECK_INT(CHOOSE(code, ARG_RDI), 5);
}

TEST(placement_endbr64_then_tail_jump)
{
	/* endbr64; jmp free (libstdc++'s operator delete) */
	static const uint8_t code[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0xe9, 0xfb, 0x1f, 0x00, 0x00 };

	CHECK_INT(CHOOSE(code, placement_args(ALLOC_FREE)), 4);
}

TEST(placement_keeps_the_entry_when_a_branch_joins_the_prologue)
{
	/* mov rax,[rip+0x100]; 1: test rax,rax; jne 2f; ret; 2: xor eax,eax; jmp 1b */
	static const uint8_t join[] = { 0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00, 0x48, 0x85,
					0xc0, 0x75, 0x01, 0xc3, 0x31, 0xc0, 0xeb, 0xf6 };
	/* the same without the jump back: the jne is the place */
	static const uint8_t no_join[] = { 0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00, 0x48,
					   0x85, 0xc0, 0x75, 0x01, 0xc3, 0x31, 0xc0, 0xc3 };
	/* test rdi,rdi; 1: push rbx; pop rbx; jmp 1b (a jump to the place itself) */
	static const uint8_t join_at[] = { 0x48, 0x85, 0xff, 0x53, 0x5b, 0xeb, 0xfc };

	CHECK_INT(CHOOSE(join, ARG_RDI), 0);
	CHECK_INT(CHOOSE(no_join, ARG_RDI), 10);
	CHECK_INT(CHOOSE(join_at, ARG_RDI), 0);
}

TEST(placement_stops_at_calls_and_stack_or_frame_pointer_changes)
{
	/* mov rax,[rip+0x100]; call f; push rbx; pop rbx; ret */
	static const uint8_t call[] = { 0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00, 0xe8,
					0xfb, 0x0f, 0x00, 0x00, 0x53, 0x5b, 0xc3 };
	/* sub rsp,8; push rbx; pop rbx; add rsp,8; ret */
	static const uint8_t sub_rsp[] = { 0x48, 0x83, 0xec, 0x08, 0x53, 0x5b, 0x48, 0x83, 0xc4, 0x08, 0xc3 };
	/* mov rbp,rdi; push rbx; pop rbx; ret */
	static const uint8_t rbp[] = { 0x48, 0x89, 0xfd, 0x53, 0x5b, 0xc3 };

	CHECK_INT(CHOOSE(call, ARG_RDI), 0);
	CHECK_INT(CHOOSE(sub_rsp, ARG_RDI), 0);
	CHECK_INT(CHOOSE(rbp, ARG_RDI), 0);
}

TEST(placement_undecodable_or_truncated_code_keeps_the_entry)
{
	/* test rdi,rdi; je ... then bytes that are no instruction (0x06 is
	 * invalid in 64-bit mode) */
	static const uint8_t bad[] = { 0x48, 0x85, 0xff, 0x74, 0x10, 0x06, 0xc3 };
	/* test rdi,rdi; je cut in half */
	static const uint8_t cut[] = { 0x48, 0x85, 0xff, 0x0f, 0x84 };

	CHECK_INT(CHOOSE(bad, ARG_RDI), 0);
	CHECK_INT(CHOOSE(cut, ARG_RDI), 0);
	CHECK_INT(placement_choose(bad, 0, BASE, ARG_RDI), 0);
}
