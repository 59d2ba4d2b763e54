/* Zicsr: the floating-point CSRs (fcsr, frm, fflags) through every csr*
 * instruction form, fflags raised by ordinary arithmetic, and the user
 * counters (cycle, time, instret), of which only properties are printed. */
#include "rt.h"

#define CSRR(name) ({ u64 v_; asm volatile("csrr %0, " #name : "=r"(v_)); v_; })

static void show(const char *what)
{
	pf("%s: fcsr=%h frm=%h fflags=%h\n", what, CSRR(fcsr), CSRR(frm), CSRR(fflags));
}

int main(void)
{
	u64 old;
	show("initial");

	asm volatile("csrwi frm, 3");
	show("csrwi frm 3");
	asm volatile("csrw fflags, %0" : : "r"(0x1fUL));
	show("csrw fflags 0x1f");
	asm volatile("csrc fflags, %0" : : "r"(0x5UL));
	show("csrc fflags 0x5");
	asm volatile("csrs fflags, %0" : : "r"(0x1UL));
	show("csrs fflags 0x1");
	asm volatile("csrrw %0, fcsr, %1" : "=r"(old) : "r"(0xffUL));
	pf("csrrw fcsr 0xff: old=%h\n", old);
	show("after");
	/* Writes to fcsr keep only bits 7:0. */
	asm volatile("csrrw %0, fcsr, %1" : "=r"(old) : "r"(0xffffffffffffffffUL));
	pf("csrrw fcsr -1: old=%h\n", old);
	show("after");
	asm volatile("csrrwi %0, fcsr, 0" : "=r"(old));
	pf("csrrwi fcsr 0: old=%h\n", old);
	asm volatile("csrrsi %0, fflags, 0x12" : "=r"(old));
	pf("csrrsi fflags 0x12: old=%h\n", old);
	asm volatile("csrrci %0, fflags, 0x2" : "=r"(old));
	pf("csrrci fflags 0x2: old=%h\n", old);
	asm volatile("csrrs %0, frm, %1" : "=r"(old) : "r"(0x2UL));
	pf("csrrs frm 0x2: old=%h\n", old);
	asm volatile("csrrc %0, fcsr, %1" : "=r"(old) : "r"(0x40UL));
	pf("csrrc fcsr 0x40: old=%h\n", old);
	show("after");
	asm volatile("csrrsi %0, frm, 0" : "=r"(old));
	pf("csrrsi frm 0 (read only): %h\n", old);
	/* Pseudo-instructions for the same CSRs. */
	asm volatile("fsrm %0, %1" : "=r"(old) : "r"(1UL));
	pf("fsrm 1: old=%h\n", old);
	asm volatile("fsflags %0, %1" : "=r"(old) : "r"(0UL));
	pf("fsflags 0: old=%h\n", old);
	asm volatile("frrm %0" : "=r"(old));
	pf("frrm = %h\n", old);
	asm volatile("fsrmi 0");
	asm volatile("frflags %0" : "=r"(old));
	pf("frflags = %h\n", old);
	asm volatile("frcsr %0" : "=r"(old));
	pf("frcsr = %h\n", old);

	/* Accrued exception flags from ordinary arithmetic (round to nearest). */
	double r;
	asm volatile("fsflags zero\n\tfadd.d %0, %1, %2" : "=f"(r) : "f"(1.0), "f"(2.0));
	pf("1+2: fflags=%h\n", CSRR(fflags));
	asm volatile("fsflags zero\n\tfdiv.d %0, %1, %2" : "=f"(r) : "f"(1.0), "f"(3.0));
	pf("1/3: fflags=%h (NX)\n", CSRR(fflags));
	asm volatile("fsflags zero\n\tfdiv.d %0, %1, %2" : "=f"(r) : "f"(1.0), "f"(0.0));
	pf("1/0: fflags=%h (DZ)\n", CSRR(fflags));
	asm volatile("fsflags zero\n\tfmul.d %0, %1, %2" : "=f"(r) : "f"(1e300), "f"(1e300));
	pf("1e300*1e300: fflags=%h (OF NX)\n", CSRR(fflags));
	asm volatile("fsflags zero\n\tfsqrt.d %0, %1" : "=f"(r) : "f"(-1.0));
	pf("sqrt(-1): fflags=%h (NV)\n", CSRR(fflags));
	u64 i;
	asm volatile("fsflags zero\n\tfcvt.w.d %0, %1, rtz" : "=r"(i) : "f"(2.5));
	pf("fcvt.w.d 2.5: %d fflags=%h (NX)\n", i, CSRR(fflags));
	/* Flags accrue until cleared. */
	asm volatile("fdiv.d %0, %1, %2" : "=f"(r) : "f"(1.0), "f"(0.0));
	pf("accrued: fflags=%h\n", CSRR(fflags));
	asm volatile("fsflags zero");

	/* Counters: only properties, never values. */
	u64 c0, c1, t0, t1, n0, n1;
	asm volatile("rdcycle %0" : "=r"(c0));
	asm volatile("rdtime %0" : "=r"(t0));
	asm volatile("rdinstret %0" : "=r"(n0));
	volatile u64 sink = 0;
	for (int k = 0; k < 100000; k++)
		sink += k;
	asm volatile("rdcycle %0" : "=r"(c1));
	asm volatile("rdtime %0" : "=r"(t1));
	asm volatile("rdinstret %0" : "=r"(n1));
	pf("rdcycle nonzero=%d monotonic=%d\n", (u64)(c1 != 0), (u64)(c1 >= c0));
	pf("rdtime nonzero=%d monotonic=%d\n", (u64)(t1 != 0), (u64)(t1 >= t0));
	pf("rdinstret nonzero=%d monotonic=%d\n", (u64)(n1 != 0), (u64)(n1 >= n0));
	asm volatile("csrr %0, cycle" : "=r"(c0));
	asm volatile("csrr %0, time" : "=r"(t0));
	asm volatile("csrr %0, instret" : "=r"(n0));
	pf("csrr cycle/time/instret monotonic=%d\n", (u64)(c0 >= c1 && t0 >= t1 && n0 >= n1));
	return 0;
}
