/* Dies of SIGSEGV: loads from address 0x8, which is never mapped.  Exit
 * status seen by a shell: 128 + 11 = 139. */
#include "rt.h"

int main(void)
{
	pf("about to load from address 0x8\n");
	flush();
	u64 v;
	asm volatile("li t0, 8\n\tld %0, 0(t0)" : "=r"(v) : : "t0", "memory");
	pf("still alive after the load: %x\n", v);
	return 1;
}
