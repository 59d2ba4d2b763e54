/* RV64I integer ALU: every register-register and register-immediate op, the
 * 32-bit W forms, lui/auipc, shifts at their edges, and loads/stores of every
 * width and signedness.  Each op runs in inline asm so the compiler cannot
 * fold it; one result per line, "op a b = result" (operands in signed decimal,
 * the full 64-bit result register in hex). */
#include "rt.h"

static const u64 vals[] = {
	0, 1, 2, (u64)-1, (u64)-2, 0x7fffffffffffffffUL, 0x8000000000000000UL,
	0x7fffffffUL, 0x80000000UL, 0xffffffffUL, 0x123456789abcdef0UL,
	0xfedcba9876543210UL,
};

static const u64 shamts[] = { 0, 1, 5, 31, 32, 33, 63, 64, 65, (u64)-1, 0x80000000UL };

#define RR(op)                                                                 \
	static u64 op_##op(u64 a, u64 b)                                       \
	{                                                                      \
		u64 r;                                                         \
		asm volatile(#op " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));    \
		return r;                                                      \
	}
RR(add) RR(sub) RR(and) RR(or) RR(xor) RR(slt) RR(sltu)
RR(sll) RR(srl) RR(sra) RR(addw) RR(subw) RR(sllw) RR(srlw) RR(sraw)

typedef u64 (*rr_fn)(u64, u64);
static const struct { const char *name; rr_fn fn; } arith[] = {
	{ "add", op_add }, { "sub", op_sub }, { "and", op_and }, { "or", op_or },
	{ "xor", op_xor }, { "slt", op_slt }, { "sltu", op_sltu },
	{ "addw", op_addw }, { "subw", op_subw },
};
static const struct { const char *name; rr_fn fn; } shifts[] = {
	{ "sll", op_sll }, { "srl", op_srl }, { "sra", op_sra },
	{ "sllw", op_sllw }, { "srlw", op_srlw }, { "sraw", op_sraw },
};

/* Register-immediate op over every value in vals[]. */
#define RI(op, imm)                                                            \
	for (u64 i = 0; i < ARRAY_LEN(vals); i++) {                            \
		u64 r;                                                         \
		asm volatile(#op " %0, %1, " #imm : "=r"(r) : "r"(vals[i]));   \
		pf(#op " %d %d = %x\n", vals[i], (i64)(imm), r);               \
	}

#define LUI(imm)                                                               \
	do {                                                                   \
		u64 r;                                                         \
		asm volatile("lui %0, " #imm : "=r"(r));                       \
		pf("lui " #imm " = %x\n", r);                                  \
	} while (0)

/* auipc's result minus the address of the auipc itself. */
#define AUIPC(imm)                                                             \
	do {                                                                   \
		u64 r, pc;                                                     \
		asm volatile("1: auipc %0, " #imm "\n\tla %1, 1b"             \
			     : "=&r"(r), "=&r"(pc));                           \
		pf("auipc " #imm " - pc = %x\n", r - pc);                      \
	} while (0)

static u8 mem[32] __attribute__((aligned(16)));

static void loads_stores(void)
{
	static const u64 pattern = 0x8899aabbccddeeffUL;
	u64 r;
	for (int i = 0; i < 32; i++)
		mem[i] = (u8)(0x80 + i * 7);
	u8 *p = mem + 8;
#define LD(op, off)                                                            \
	asm volatile(#op " %0, " #off "(%1)" : "=r"(r) : "r"(p) : "memory");  \
	pf(#op " [" #off "] = %x\n", r);
	LD(lb, 0) LD(lb, 3) LD(lbu, 0) LD(lbu, -1) LD(lh, 0) LD(lh, 2) LD(lhu, 0)
	LD(lhu, -2) LD(lw, 0) LD(lw, 4) LD(lwu, 0) LD(lwu, -4) LD(ld, 0) LD(ld, -8)
	LD(ld, 16)
#define ST(op, off)                                                            \
	memset(mem, 0, sizeof(mem));                                           \
	asm volatile(#op " %0, " #off "(%1)" : : "r"(pattern), "r"(p) : "memory"); \
	pf(#op " [" #off "]: %x %x %x\n", *(u64 *)mem, *(u64 *)(mem + 8), *(u64 *)(mem + 16));
	ST(sb, 0) ST(sb, 7) ST(sh, 0) ST(sh, -2) ST(sw, 4) ST(sw, -4) ST(sd, 0) ST(sd, -8)
	/* Misaligned accesses are allowed in Linux user mode (emulated or not). */
	for (int i = 0; i < 32; i++)
		mem[i] = (u8)i;
	LD(lw, 1) LD(ld, 3) LD(lh, 7)
}

int main(void)
{
	for (u64 k = 0; k < ARRAY_LEN(arith); k++)
		for (u64 i = 0; i < ARRAY_LEN(vals); i++)
			for (u64 j = 0; j < ARRAY_LEN(vals); j++)
				pf("%s %d %d = %x\n", arith[k].name, vals[i], vals[j],
				   arith[k].fn(vals[i], vals[j]));
	for (u64 k = 0; k < ARRAY_LEN(shifts); k++)
		for (u64 i = 0; i < ARRAY_LEN(vals); i++)
			for (u64 j = 0; j < ARRAY_LEN(shamts); j++)
				pf("%s %d %d = %x\n", shifts[k].name, vals[i], shamts[j],
				   shifts[k].fn(vals[i], shamts[j]));

	RI(addi, 0) RI(addi, 1) RI(addi, -1) RI(addi, 2047) RI(addi, -2048)
	RI(slti, 0) RI(slti, 1) RI(slti, -1) RI(slti, 2047) RI(slti, -2048)
	RI(sltiu, 0) RI(sltiu, 1) RI(sltiu, -1) RI(sltiu, 2047) RI(sltiu, -2048)
	RI(xori, 0) RI(xori, -1) RI(xori, 0x555) RI(xori, -2048)
	RI(ori, 0) RI(ori, -1) RI(ori, 0x555) RI(ori, -2048)
	RI(andi, 0) RI(andi, -1) RI(andi, 0x555) RI(andi, -2048)
	RI(slli, 0) RI(slli, 1) RI(slli, 31) RI(slli, 32) RI(slli, 63)
	RI(srli, 0) RI(srli, 1) RI(srli, 31) RI(srli, 32) RI(srli, 63)
	RI(srai, 0) RI(srai, 1) RI(srai, 31) RI(srai, 32) RI(srai, 63)
	RI(addiw, 0) RI(addiw, 1) RI(addiw, -1) RI(addiw, 2047) RI(addiw, -2048)
	RI(slliw, 0) RI(slliw, 1) RI(slliw, 31)
	RI(srliw, 0) RI(srliw, 1) RI(srliw, 31)
	RI(sraiw, 0) RI(sraiw, 1) RI(sraiw, 31)

	LUI(0); LUI(1); LUI(0x12345); LUI(0x7ffff); LUI(0x80000); LUI(0xfffff);
	AUIPC(0); AUIPC(1); AUIPC(0x7ffff); AUIPC(0x80000); AUIPC(0xfffff);

	loads_stores();
	return 0;
}
