/* Dies of SIGILL: executes the all-zero 16-bit parcel, which the ISA defines
 * as an illegal instruction.  Exit status seen by a shell: 128 + 4 = 132. */
#include "rt.h"

int main(void)
{
	pf("about to execute an illegal instruction\n");
	flush();
	asm volatile(".2byte 0x0000");
	pf("still alive after the illegal instruction\n");
	return 1;
}
