/* RVC: drives the hand-written compressed instructions of compressed_asm.S
 * and prints each result. */
#include "rt.h"

#define F1(name) u64 name(u64);
#define F2(name) u64 name(u64, u64);
F1(c_addi_m17) F1(c_addi_31) F1(c_addiw_1) F1(c_addiw_0) F1(c_slli_1) F1(c_slli_63)
F1(c_slli_32) F1(c_srli_1) F1(c_srli_63) F1(c_srli_32) F1(c_srai_1) F1(c_srai_63)
F1(c_srai_32) F1(c_andi_m1) F1(c_andi_m32) F1(c_andi_31) F1(c_j) F1(c_beqz)
F1(c_bnez) F1(c_jr_table)
F2(c_sub) F2(c_xor) F2(c_or) F2(c_and) F2(c_subw) F2(c_addw) F2(c_mv) F2(c_add)
F2(c_sp_mem)
u64 c_li_m32(void), c_li_31(void), c_lui_1(void), c_lui_1f(void), c_lui_neg(void),
	c_lui_m1(void), c_addi16sp(void), c_addi16sp_big(void), c_addi4spn(void),
	c_addi4spn_4(void);
u64 c_lw_0(void *), c_lw_124(void *), c_ld_8(void *), c_ld_248(void *);
void c_sw_4(void *, u64), c_sw_124(void *, u64), c_sd_16(void *, u64), c_sd_248(void *, u64);
double c_fp_copy(double *dst, const double *src);
u64 c_jalr(u64 (*fn)(u64), u64 x);

static const u64 vals[] = {
	0, 1, (u64)-1, 0x7fffffffUL, 0x80000000UL, 0xffffffffUL,
	0x8000000000000000UL, 0x123456789abcdef0UL,
};

static u64 triple(u64 x) { return 3 * x; }

static u64 bits(double x) { u64 b; memcpy(&b, &x, 8); return b; }

int main(void)
{
	static const struct { const char *name; u64 (*fn)(u64); } un[] = {
		{ "c.addi -17", c_addi_m17 }, { "c.addi 31", c_addi_31 },
		{ "c.addiw 1", c_addiw_1 }, { "c.addiw 0", c_addiw_0 },
		{ "c.slli 1", c_slli_1 }, { "c.slli 63", c_slli_63 }, { "c.slli 32", c_slli_32 },
		{ "c.srli 1", c_srli_1 }, { "c.srli 63", c_srli_63 }, { "c.srli 32", c_srli_32 },
		{ "c.srai 1", c_srai_1 }, { "c.srai 63", c_srai_63 }, { "c.srai 32", c_srai_32 },
		{ "c.andi -1", c_andi_m1 }, { "c.andi -32", c_andi_m32 }, { "c.andi 31", c_andi_31 },
		{ "c.j", c_j }, { "c.beqz", c_beqz }, { "c.bnez", c_bnez },
	};
	static const struct { const char *name; u64 (*fn)(u64, u64); } bin[] = {
		{ "c.sub", c_sub }, { "c.xor", c_xor }, { "c.or", c_or }, { "c.and", c_and },
		{ "c.subw", c_subw }, { "c.addw", c_addw }, { "c.mv", c_mv }, { "c.add", c_add },
		{ "c.sp_mem", c_sp_mem },
	};
	for (u64 k = 0; k < ARRAY_LEN(un); k++)
		for (u64 i = 0; i < ARRAY_LEN(vals); i++)
			pf("%s %x = %x\n", un[k].name, vals[i], un[k].fn(vals[i]));
	for (u64 k = 0; k < ARRAY_LEN(bin); k++)
		for (u64 i = 0; i < ARRAY_LEN(vals); i++)
			for (u64 j = 0; j < ARRAY_LEN(vals); j += 3)
				pf("%s %x %x = %x\n", bin[k].name, vals[i], vals[j],
				   bin[k].fn(vals[i], vals[j]));

	pf("c.li -32 = %x\n", c_li_m32());
	pf("c.li 31 = %x\n", c_li_31());
	pf("c.lui 1 = %x\n", c_lui_1());
	pf("c.lui 0x1f = %x\n", c_lui_1f());
	pf("c.lui 0xfffe0 = %x\n", c_lui_neg());
	pf("c.lui 0xfffff = %x\n", c_lui_m1());
	pf("c.addi16sp -64 = %d\n", c_addi16sp());
	pf("c.addi16sp -496 = %d\n", c_addi16sp_big());
	pf("c.addi4spn 1020 = %d\n", c_addi4spn());
	pf("c.addi4spn 4 = %d\n", c_addi4spn_4());

	static u64 buf[32];
	for (int i = 0; i < 32; i++)
		buf[i] = 0x8070605040302010UL + (u64)i * 0x0101010101010101UL;
	pf("c.lw 0 = %x\n", c_lw_0(buf));
	pf("c.lw 124 = %x\n", c_lw_124(buf));
	pf("c.ld 8 = %x\n", c_ld_8(buf));
	pf("c.ld 248 = %x\n", c_ld_248(buf));
	memset(buf, 0, sizeof(buf));
	c_sw_4(buf, 0xdeadbeefcafef00dUL);
	c_sw_124(buf, 0x11223344UL);
	c_sd_16(buf, 0xdeadbeefcafef00dUL);
	c_sd_248(buf, (u64)-2);
	pf("c.sw/c.sd: %x %x %x %x\n", buf[0], buf[2], buf[15], buf[31]);

	double src[3] = { 1.5, 0, -2.25 }, dst[32];
	memset(dst, 0, sizeof(dst));
	double r = c_fp_copy(dst, src);
	pf("c.fld/c.fsd/c.fldsp/c.fsdsp: %x %x %x\n", bits(dst[1]), bits(dst[31]), bits(r));

	for (u64 i = 0; i < 4; i++)
		pf("c.jr table %d = %d\n", i, c_jr_table(i));
	pf("c.jalr triple(7) + 1000 = %d\n", c_jalr(triple, 7));
	return 0;
}
