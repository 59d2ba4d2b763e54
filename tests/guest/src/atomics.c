/* RV64A: lr/sc success and failure paths, and every AMO in its .w and .d
 * forms with negative and positive operands.  Each AMO line prints the old
 * value (rd: sign-extended for .w) and the new memory value. */
#include "rt.h"

static volatile u32 w[4] __attribute__((aligned(16)));
static volatile u64 d[4] __attribute__((aligned(16)));

static const u32 wmem[] = { 5, 0xfffffffbU, 0x7fffffffU, 0x80000000U, 0xffffffffU, 0 };
static const u64 wsrc[] = { 3, (u64)-3, 1, 0xffffffffUL, 0x100000001UL, 0x80000000UL };
static const u64 dmem[] = { 5, (u64)-5, 0x7fffffffffffffffUL, 0x8000000000000000UL, (u64)-1, 0x80000000UL };
static const u64 dsrc[] = { 3, (u64)-3, 1, (u64)-1, 0x100000001UL, 0x7fffffffffffffffUL };

#define AMO_W(op)                                                              \
	for (u64 i = 0; i < ARRAY_LEN(wmem); i++)                              \
		for (u64 j = 0; j < ARRAY_LEN(wsrc); j++) {                    \
			u64 old;                                               \
			w[1] = wmem[i];                                        \
			asm volatile(#op " %0, %2, (%1)"                       \
				     : "=r"(old) : "r"(&w[1]), "r"(wsrc[j]) : "memory"); \
			pf(#op " mem=%w src=%x: old=%x new=%w\n", (u64)wmem[i], wsrc[j], old, (u64)w[1]); \
		}

#define AMO_D(op)                                                              \
	for (u64 i = 0; i < ARRAY_LEN(dmem); i++)                              \
		for (u64 j = 0; j < ARRAY_LEN(dsrc); j++) {                    \
			u64 old;                                               \
			d[1] = dmem[i];                                        \
			asm volatile(#op " %0, %2, (%1)"                       \
				     : "=r"(old) : "r"(&d[1]), "r"(dsrc[j]) : "memory"); \
			pf(#op " mem=%x src=%x: old=%x new=%x\n", dmem[i], dsrc[j], old, d[1]); \
		}

static void lr_sc(void)
{
	u64 v, rc;

	/* sc with no reservation at all (none taken yet in this program). */
	w[0] = 11;
	asm volatile("sc.w %0, %1, (%2)" : "=r"(rc) : "r"(22L), "r"(&w[0]) : "memory");
	pf("sc.w without lr: rc=%d mem=%d\n", rc, (u64)w[0]);

	/* lr then sc to the same address: succeeds, rd=0. */
	w[0] = 0x80000000U;
	asm volatile("lr.w %0, (%2)\n\tsc.w %1, %3, (%2)"
		     : "=&r"(v), "=&r"(rc) : "r"(&w[0]), "r"(0x1234L) : "memory");
	pf("lr.w = %x; sc.w rc=%d mem=%w\n", v, rc, (u64)w[0]);

	/* a second sc: the first one consumed the reservation. */
	asm volatile("sc.w %0, %1, (%2)" : "=r"(rc) : "r"(0x5678L), "r"(&w[0]) : "memory");
	pf("sc.w again: rc=%d mem=%w\n", rc, (u64)w[0]);

	/* lr of one word, sc to another: fails, memory unchanged. */
	w[0] = 1; w[2] = 2;
	asm volatile("lr.w %0, (%2)\n\tsc.w %1, %4, (%3)"
		     : "=&r"(v), "=&r"(rc) : "r"(&w[0]), "r"(&w[2]), "r"(99L) : "memory");
	pf("lr.w w0 = %d; sc.w w2 rc=%d w0=%d w2=%d\n", v, rc, (u64)w[0], (u64)w[2]);

	/* The same for doublewords, with aq/rl bits. */
	d[0] = 0xfedcba9876543210UL;
	asm volatile("sc.d %0, %1, (%2)" : "=r"(rc) : "r"(7L), "r"(&d[0]) : "memory");
	pf("sc.d without lr: rc=%d mem=%x\n", rc, d[0]);
	asm volatile("lr.d.aq %0, (%2)\n\tsc.d.rl %1, %3, (%2)"
		     : "=&r"(v), "=&r"(rc) : "r"(&d[0]), "r"(-2L) : "memory");
	pf("lr.d.aq = %x; sc.d.rl rc=%d mem=%x\n", v, rc, d[0]);
	asm volatile("sc.d %0, %1, (%2)" : "=r"(rc) : "r"(3L), "r"(&d[0]) : "memory");
	pf("sc.d again: rc=%d mem=%x\n", rc, d[0]);
	d[0] = 10; d[2] = 20;
	asm volatile("lr.d %0, (%2)\n\tsc.d %1, %4, (%3)"
		     : "=&r"(v), "=&r"(rc) : "r"(&d[0]), "r"(&d[2]), "r"(99L) : "memory");
	pf("lr.d d0 = %d; sc.d d2 rc=%d d0=%d d2=%d\n", v, rc, d[0], d[2]);

	/* A classic lr/sc retry loop: atomic increment, 1000 times. */
	d[3] = 0;
	for (int i = 0; i < 1000; i++) {
		asm volatile("1: lr.d.aqrl %0, (%1)\n\t"
			     "addi %0, %0, 3\n\t"
			     "sc.d.aqrl %0, %0, (%1)\n\t"
			     "bnez %0, 1b"
			     : "=&r"(v) : "r"(&d[3]) : "memory");
	}
	pf("lr/sc loop: %d\n", d[3]);
	/* And a compare-and-swap built from lr.w/sc.w that fails on compare. */
	w[3] = 42;
	asm volatile("1: lr.w %0, (%2)\n\t"
		     "li %1, 1\n\t"
		     "bne %0, %3, 2f\n\t"
		     "sc.w %1, %4, (%2)\n\t"
		     "bnez %1, 1b\n"
		     "2:"
		     : "=&r"(v), "=&r"(rc) : "r"(&w[3]), "r"(41L), "r"(7L) : "memory");
	pf("cas 41->7 on 42: seen=%d failed=%d mem=%d\n", v, rc, (u64)w[3]);
	asm volatile("1: lr.w %0, (%2)\n\t"
		     "li %1, 1\n\t"
		     "bne %0, %3, 2f\n\t"
		     "sc.w %1, %4, (%2)\n\t"
		     "bnez %1, 1b\n"
		     "2:"
		     : "=&r"(v), "=&r"(rc) : "r"(&w[3]), "r"(42L), "r"(7L) : "memory");
	pf("cas 42->7 on 42: seen=%d failed=%d mem=%d\n", v, rc, (u64)w[3]);
}

int main(void)
{
	lr_sc();
	AMO_W(amoswap.w) AMO_W(amoadd.w) AMO_W(amoxor.w) AMO_W(amoand.w)
	AMO_W(amoor.w) AMO_W(amomin.w) AMO_W(amomax.w) AMO_W(amominu.w)
	AMO_W(amomaxu.w)
	AMO_D(amoswap.d) AMO_D(amoadd.d) AMO_D(amoxor.d) AMO_D(amoand.d)
	AMO_D(amoor.d) AMO_D(amomin.d) AMO_D(amomax.d) AMO_D(amominu.d)
	AMO_D(amomaxu.d)

	/* aq/rl variants, and rd = x0 (the value is still written). */
	u64 old;
	d[1] = 100;
	asm volatile("amoadd.d.aq %0, %2, (%1)" : "=r"(old) : "r"(&d[1]), "r"(1L) : "memory");
	asm volatile("amoadd.d.rl %0, %2, (%1)" : "=r"(old) : "r"(&d[1]), "r"(1L) : "memory");
	asm volatile("amoadd.d.aqrl %0, %2, (%1)" : "=r"(old) : "r"(&d[1]), "r"(1L) : "memory");
	asm volatile("amoadd.d zero, %1, (%0)" : : "r"(&d[1]), "r"(1L) : "memory");
	pf("amoadd.d aq/rl/aqrl/x0: old=%d mem=%d\n", old, d[1]);
	w[1] = 0;
	asm volatile("amoswap.w.aqrl zero, %1, (%0)" : : "r"(&w[1]), "r"(-9L) : "memory");
	pf("amoswap.w.aqrl x0: mem=%w\n", (u64)w[1]);
	return 0;
}
