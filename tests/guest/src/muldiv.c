/* RV64M: mul/mulh/mulhsu/mulhu/div/divu/rem/remu and the W forms over a table
 * of edge operands, including division by zero and INT_MIN / -1 (64- and
 * 32-bit), where RISC-V defines results instead of trapping.  Each op runs in
 * inline asm so the compiler cannot fold it.  "op a b = result" with operands
 * in signed decimal and the full 64-bit result register in hex. */
#include "rt.h"

static const u64 vals[] = {
	0, 1, (u64)-1, 2, (u64)-7, 7, 0x7fffffffffffffffUL, 0x8000000000000000UL,
	0x7fffffffUL, 0x80000000UL, 0xffffffffUL, 0xffffffff80000000UL,
	0x123456789abcdef0UL, 0xfedcba9876543210UL,
};

#define RR(op)                                                                 \
	static u64 op_##op(u64 a, u64 b)                                       \
	{                                                                      \
		u64 r;                                                         \
		asm volatile(#op " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));    \
		return r;                                                      \
	}
RR(mul) RR(mulh) RR(mulhsu) RR(mulhu) RR(div) RR(divu) RR(rem) RR(remu)
RR(mulw) RR(divw) RR(divuw) RR(remw) RR(remuw)

typedef u64 (*rr_fn)(u64, u64);
static const struct { const char *name; rr_fn fn; } ops[] = {
	{ "mul", op_mul }, { "mulh", op_mulh }, { "mulhsu", op_mulhsu },
	{ "mulhu", op_mulhu }, { "div", op_div }, { "divu", op_divu },
	{ "rem", op_rem }, { "remu", op_remu }, { "mulw", op_mulw },
	{ "divw", op_divw }, { "divuw", op_divuw }, { "remw", op_remw },
	{ "remuw", op_remuw },
};

int main(void)
{
	for (u64 k = 0; k < ARRAY_LEN(ops); k++)
		for (u64 i = 0; i < ARRAY_LEN(vals); i++)
			for (u64 j = 0; j < ARRAY_LEN(vals); j++)
				pf("%s %d %d = %x\n", ops[k].name, vals[i], vals[j],
				   ops[k].fn(vals[i], vals[j]));

	/* The same register as source and destination, and x0 as a source. */
	u64 r = 12345;
	asm volatile("mul %0, %0, %0" : "+r"(r));
	pf("mul r r (r=12345) = %x\n", r);
	r = 99;
	asm volatile("div %0, %0, zero" : "+r"(r));
	pf("div 99 x0 = %x\n", r);
	r = 99;
	asm volatile("remw %0, %0, zero" : "+r"(r));
	pf("remw 99 x0 = %x\n", r);
	/* A result written to x0 is discarded. */
	r = 5;
	asm volatile("mul zero, %0, %0\n\tmv %0, zero" : "+r"(r));
	pf("mul x0 = %x\n", r);
	return 0;
}
