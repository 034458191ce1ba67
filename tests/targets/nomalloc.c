/* No allocator at all: built -static -nostdlib, it only sleeps. */
#include <sys/syscall.h>

void _start(void)
{
	for (;;)
		__asm__ volatile("syscall" : : "a"(SYS_pause) : "rcx", "r11", "memory");
}
