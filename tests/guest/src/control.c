/* Control transfer: every conditional branch taken and not taken at signed
 * and unsigned edges, jal/jalr with computed targets and offsets, a loop,
 * recursion, fences, and fence.i after rewriting code (self-modifying code
 * in an mmap'ed RWX page). */
#include "rt.h"

static const u64 vals[] = {
	0, 1, (u64)-1, 0x7fffffffffffffffUL, 0x8000000000000000UL, 0x80000000UL,
};

#define BR(op)                                                                 \
	static u64 br_##op(u64 a, u64 b)                                       \
	{                                                                      \
		u64 r;                                                         \
		asm volatile("li %0, 1\n\t" #op " %1, %2, 1f\n\tli %0, 0\n1:"  \
			     : "=&r"(r) : "r"(a), "r"(b));                     \
		return r;                                                      \
	}
BR(beq) BR(bne) BR(blt) BR(bge) BR(bltu) BR(bgeu)

typedef u64 (*br_fn)(u64, u64);
static const struct { const char *name; br_fn fn; } brs[] = {
	{ "beq", br_beq }, { "bne", br_bne }, { "blt", br_blt },
	{ "bge", br_bge }, { "bltu", br_bltu }, { "bgeu", br_bgeu },
};

/* Backward branches: count down with each branch kind as the loop test. */
static u64 loop_bne(u64 n)
{
	u64 count = 0;
	asm volatile("1: addi %0, %0, 1\n\taddi %1, %1, -1\n\tbnez %1, 1b"
		     : "+r"(count), "+r"(n));
	return count;
}

static u64 ackermann(u64 m, u64 n)
{
	if (m == 0)
		return n + 1;
	if (n == 0)
		return ackermann(m - 1, 1);
	return ackermann(m - 1, ackermann(m, n - 1));
}

static u64 __attribute__((noinline)) fib_rec(u64 n)
{
	return n < 2 ? n : fib_rec(n - 1) + fib_rec(n - 2);
}

static u64 hanoi(int n, int from, int to, int via, u64 *checksum)
{
	if (n == 0)
		return 0;
	u64 moves = hanoi(n - 1, from, via, to, checksum);
	*checksum = *checksum * 31 + (u64)(from * 3 + to);
	return moves + 1 + hanoi(n - 1, via, to, from, checksum);
}

static u64 __attribute__((noinline)) add1(u64 x) { return x + 1; }
static u64 __attribute__((noinline)) dbl(u64 x) { return x * 2; }
static u64 __attribute__((noinline)) neg(u64 x) { return -x; }

int main(void)
{
	for (u64 k = 0; k < ARRAY_LEN(brs); k++)
		for (u64 i = 0; i < ARRAY_LEN(vals); i++)
			for (u64 j = 0; j < ARRAY_LEN(vals); j++)
				pf("%s %d %d = %s\n", brs[k].name, vals[i], vals[j],
				   brs[k].fn(vals[i], vals[j]) ? "taken" : "not taken");

	/* Branches against x0, and the pseudo-forms the assembler expands. */
	static const u64 z[] = { 0, 5, (u64)-5 };
	for (u64 i = 0; i < 3; i++) {
		u64 r = 0;
		asm volatile("beqz %1, 1f\n\tori %0, %0, 1\n1:\tbnez %1, 2f\n\tori %0, %0, 2\n"
			     "2:\tbltz %1, 3f\n\tori %0, %0, 4\n3:\tbgez %1, 4f\n\tori %0, %0, 8\n"
			     "4:\tblez %1, 5f\n\tori %0, %0, 16\n5:\tbgtz %1, 6f\n\tori %0, %0, 32\n6:"
			     : "+r"(r) : "r"(z[i]));
		pf("branches vs zero on %d: not-taken mask = %h\n", z[i], r);
	}

	/* jal: a forward jump over code, and a jal that links. */
	u64 r, link, here;
	asm volatile("li %0, 1\n\tj 1f\n\tli %0, 2\n1:" : "=r"(r));
	pf("j skips: %d\n", r);
	asm volatile("jal %1, 1f\n2:\tnop\n1:\tla %2, 2b" : "=r"(r), "=&r"(link), "=&r"(here));
	pf("jal link = address after jal: %d\n", (u64)(link == here));

	/* jalr through a table of function pointers, with and without offsets. */
	static u64 (*const table[])(u64) = { add1, dbl, neg };
	for (u64 i = 0; i < 3; i++)
		for (u64 x = 5; x < 8; x++) {
			u64 (*volatile fnp)(u64) = table[i];
			pf("table[%d](%d) = %d\n", i, x, fnp(x));
		}
	/* jalr with a nonzero immediate; bit 0 of the target is cleared. */
	asm volatile("la t0, 1f - 8\n\tjalr %1, 8(t0)\n\tli %0, 99\n1:\tli %0, 7\n"
		     "la t0, 2f\n\taddi t0, t0, -3\n\tjalr zero, 4(t0)\n\tli %0, 98\n2:\taddi %0, %0, 1"
		     : "=&r"(r), "=&r"(link) : : "t0");
	pf("jalr offset/odd target: %d\n", r);

	pf("loop 1000 = %d\n", loop_bne(1000));
	u64 sum = 0;
	for (volatile u64 i = 1; i <= 10000; i++)
		sum += i * i;
	pf("sum of squares 1..10000 = %d\n", sum);
	pf("ackermann(2, 3) = %d\n", ackermann(2, 3));
	pf("ackermann(3, 3) = %d\n", ackermann(3, 3));
	pf("fib_rec(25) = %d\n", fib_rec(25));
	u64 cs = 0;
	u64 moves = hanoi(12, 0, 2, 1, &cs);
	pf("hanoi(12) = %d moves, checksum %x\n", moves, cs);

	/* Fences: no visible effect in one thread, but they must execute. */
	asm volatile("fence\n\tfence rw, rw\n\tfence r, r\n\tfence w, w\n\tfence iorw, iorw\n\tfence.tso\n\tfence.i" ::: "memory");
	pf("fences ok\n");

	/* Self-modifying code: write "addi a0, a0, IMM; ret" into an RWX page,
	 * call it, patch the immediate, fence.i, call it again. */
	u32 *code = sys_mmap(0, 4096, 7 /* RWX */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
	if ((long)code < 0 && (long)code > -4096) {
		pf("mmap RWX failed: %d\n", (i64)code);
		return 1;
	}
	for (u64 imm = 1; imm <= 3; imm++) {
		code[0] = (u32)(imm * 100) << 20 | 10 << 15 | 0 << 12 | 10 << 7 | 0x13; /* addi a0, a0, imm*100 */
		code[1] = 0x00008067; /* jalr x0, 0(ra) */
		asm volatile("fence.i" ::: "memory");
		u64 (*fn)(u64) = (u64 (*)(u64))(void *)code;
		pf("smc addi %d: f(5) = %d\n", imm * 100, fn(5));
	}
	return 0;
}
