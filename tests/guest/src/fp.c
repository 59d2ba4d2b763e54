/* RV64F and RV64D under round-to-nearest-even with ordinary operands:
 * arithmetic, fused multiply-add, min/max, sign injection, compares, fclass,
 * conversions, moves, loads and stores.  Operands are built from bit patterns
 * and every result is printed as its bit pattern in hex. */
#include "rt.h"

static u64 dbits(double x) { u64 b; memcpy(&b, &x, 8); return b; }
static u64 sbits(float x) { u32 b; memcpy(&b, &x, 4); return b; }
static double dval(u64 b) { double x; memcpy(&x, &b, 8); return x; }
static float sval(u32 b) { float x; memcpy(&x, &b, 4); return x; }

/* 1.5, -2.25, 3.0, 0.1, 1e10, -7.0, 0.5, 1/3, -0.0, 0.0 */
static const u64 dv[] = {
	0x3ff8000000000000UL, 0xc002000000000000UL, 0x4008000000000000UL,
	0x3fb999999999999aUL, 0x4202a05f20000000UL, 0xc01c000000000000UL,
	0x3fe0000000000000UL, 0x3fd5555555555555UL, 0x8000000000000000UL, 0,
};
static const u32 sv[] = {
	0x3fc00000, 0xc0100000, 0x40400000, 0x3dcccccd, 0x501502f9, 0xc0e00000,
	0x3f000000, 0x3eaaaaab, 0x80000000, 0,
};

#define D2(op)                                                                 \
	for (u64 i = 0; i < ARRAY_LEN(dv); i++)                                \
		for (u64 j = 0; j < ARRAY_LEN(dv); j++) {                      \
			double r;                                              \
			asm volatile(#op " %0, %1, %2" : "=f"(r) : "f"(dval(dv[i])), "f"(dval(dv[j]))); \
			pf(#op " %x %x = %x\n", dv[i], dv[j], dbits(r));       \
		}
#define S2(op)                                                                 \
	for (u64 i = 0; i < ARRAY_LEN(sv); i++)                                \
		for (u64 j = 0; j < ARRAY_LEN(sv); j++) {                      \
			float r;                                               \
			asm volatile(#op " %0, %1, %2" : "=f"(r) : "f"(sval(sv[i])), "f"(sval(sv[j]))); \
			pf(#op " %w %w = %w\n", (u64)sv[i], (u64)sv[j], sbits(r)); \
		}
/* Compares: integer result. */
#define DC(op)                                                                 \
	for (u64 i = 0; i < ARRAY_LEN(dv); i++)                                \
		for (u64 j = 0; j < ARRAY_LEN(dv); j++) {                      \
			u64 r;                                                 \
			asm volatile(#op " %0, %1, %2" : "=r"(r) : "f"(dval(dv[i])), "f"(dval(dv[j]))); \
			pf(#op " %x %x = %d\n", dv[i], dv[j], r);              \
		}
#define SC(op)                                                                 \
	for (u64 i = 0; i < ARRAY_LEN(sv); i++)                                \
		for (u64 j = 0; j < ARRAY_LEN(sv); j++) {                      \
			u64 r;                                                 \
			asm volatile(#op " %0, %1, %2" : "=r"(r) : "f"(sval(sv[i])), "f"(sval(sv[j]))); \
			pf(#op " %w %w = %d\n", (u64)sv[i], (u64)sv[j], r);    \
		}
/* Fused multiply-add over a few triples. */
#define D3(op)                                                                 \
	for (u64 i = 0; i < 8; i++) {                                          \
		double r;                                                      \
		u64 a = dv[i], b = dv[(i + 3) % 8], c = dv[(i + 5) % 8];       \
		asm volatile(#op " %0, %1, %2, %3" : "=f"(r)                   \
			     : "f"(dval(a)), "f"(dval(b)), "f"(dval(c)));       \
		pf(#op " %x %x %x = %x\n", a, b, c, dbits(r));                 \
	}
#define S3(op)                                                                 \
	for (u64 i = 0; i < 8; i++) {                                          \
		float r;                                                       \
		u32 a = sv[i], b = sv[(i + 3) % 8], c = sv[(i + 5) % 8];       \
		asm volatile(#op " %0, %1, %2, %3" : "=f"(r)                   \
			     : "f"(sval(a)), "f"(sval(b)), "f"(sval(c)));       \
		pf(#op " %w %w %w = %w\n", (u64)a, (u64)b, (u64)c, sbits(r));  \
	}

/* float/double -> integer, with the dynamic rounding mode (RNE) and rtz. */
static const u64 cvt_d[] = {
	0x3ff8000000000000UL /* 1.5 */, 0x4004000000000000UL /* 2.5 */,
	0xc00d99999999999aUL /* -3.7 */, 0x408f400000000000UL /* 1000 */,
	0xc1e0000000000000UL /* -2^31 */, 0x41dfffffffc00000UL /* 2^31-1 */,
	0x41efffffffe00000UL /* 2^32-1 */, 0x43dfffffffffffffUL /* < 2^63 */,
	0x0000000000000000UL, 0x8000000000000000UL /* -0.0 */,
	0xbfe0000000000000UL /* -0.5 */, 0x3fe0000000000000UL /* 0.5 */,
};
#define CVT_D2I(op, rm)                                                        \
	for (u64 i = 0; i < ARRAY_LEN(cvt_d); i++) {                           \
		u64 r;                                                         \
		asm volatile(#op " %0, %1" rm : "=r"(r) : "f"(dval(cvt_d[i]))); \
		pf(#op rm " %x = %x\n", cvt_d[i], r);                          \
	}
static const u32 cvt_s[] = {
	0x3fc00000 /* 1.5 */, 0x40200000 /* 2.5 */, 0xc06ccccd /* -3.7 */,
	0x447a0000 /* 1000 */, 0xcf000000 /* -2^31 */, 0x4effffff /* < 2^31 */,
	0x4f7fffff /* < 2^32 */, 0x5effffff /* < 2^63 */, 0, 0x80000000,
	0xbf000000 /* -0.5 */, 0x3f000000 /* 0.5 */,
};
#define CVT_S2I(op, rm)                                                        \
	for (u64 i = 0; i < ARRAY_LEN(cvt_s); i++) {                           \
		u64 r;                                                         \
		asm volatile(#op " %0, %1" rm : "=r"(r) : "f"(sval(cvt_s[i]))); \
		pf(#op rm " %w = %x\n", (u64)cvt_s[i], r);                     \
	}
/* integer -> float/double: results may be inexact (rounded to nearest). */
static const u64 ints[] = {
	0, 1, (u64)-1, 7, (u64)-7, 0x7fffffffUL, 0x80000000UL, 0xffffffffUL,
	0x7fffffffffffffffUL, 0x8000000000000000UL, 0x123456789abcdef0UL, 16777217,
	0x20000000000001UL,
};
#define CVT_I2D(op)                                                            \
	for (u64 i = 0; i < ARRAY_LEN(ints); i++) {                            \
		double r;                                                      \
		asm volatile(#op " %0, %1" : "=f"(r) : "r"(ints[i]));          \
		pf(#op " %x = %x\n", ints[i], dbits(r));                       \
	}
#define CVT_I2S(op)                                                            \
	for (u64 i = 0; i < ARRAY_LEN(ints); i++) {                            \
		float r;                                                       \
		asm volatile(#op " %0, %1" : "=f"(r) : "r"(ints[i]));          \
		pf(#op " %x = %w\n", ints[i], sbits(r));                       \
	}

static void fclass(void)
{
	static const u64 d[] = {
		0xfff0000000000000UL, 0xbff0000000000000UL, 0x800fffffffffffffUL,
		0x8000000000000000UL, 0, 0x0000000000000001UL, 0x3ff0000000000000UL,
		0x7ff0000000000000UL, 0x7ff4000000000000UL /* sNaN */,
		0x7ff8000000000000UL /* qNaN */,
	};
	static const u32 s[] = {
		0xff800000, 0xbf800000, 0x807fffff, 0x80000000, 0, 1, 0x3f800000,
		0x7f800000, 0x7fa00000, 0x7fc00000,
	};
	for (u64 i = 0; i < ARRAY_LEN(d); i++) {
		u64 r;
		asm volatile("fclass.d %0, %1" : "=r"(r) : "f"(dval(d[i])));
		pf("fclass.d %x = %h\n", d[i], r);
	}
	for (u64 i = 0; i < ARRAY_LEN(s); i++) {
		u64 r;
		asm volatile("fclass.s %0, %1" : "=r"(r) : "f"(sval(s[i])));
		pf("fclass.s %w = %h\n", (u64)s[i], r);
	}
}

static void moves_and_memory(void)
{
	u64 r;
	double d;
	float f;
	for (u64 i = 0; i < ARRAY_LEN(sv); i++) {
		asm volatile("fmv.w.x %1, %2\n\tfmv.x.w %0, %1" : "=r"(r), "=&f"(f) : "r"(sv[i] | 0xabcd000000000000UL));
		pf("fmv.w.x/fmv.x.w %w = %x\n", (u64)sv[i], r);
	}
	for (u64 i = 0; i < ARRAY_LEN(dv); i++) {
		asm volatile("fmv.d.x %1, %2\n\tfmv.x.d %0, %1" : "=r"(r), "=&f"(d) : "r"(dv[i]));
		pf("fmv.d.x/fmv.x.d %x = %x\n", dv[i], r);
	}
	/* A single in a D register is NaN-boxed: the upper 32 bits are ones. */
	static u32 wmem[4] = { 0x40490fdb, 0, 0, 0 };
	asm volatile("flw %1, 0(%2)\n\tfmv.x.d %0, %1" : "=r"(r), "=&f"(d) : "r"(wmem) : "memory");
	pf("flw then fmv.x.d = %x\n", r);
	asm volatile("fmv.w.x %1, %2\n\tfmv.x.d %0, %1" : "=r"(r), "=&f"(d) : "r"(0x3f800000UL));
	pf("fmv.w.x then fmv.x.d = %x\n", r);
	asm volatile("flw %0, 0(%1)\n\tfsw %0, 8(%1)" : "=&f"(f) : "r"(wmem) : "memory");
	pf("flw/fsw: %w %w\n", (u64)wmem[0], (u64)wmem[2]);
	static u64 dmem[4] = { 0x400921fb54442d18UL, 0, 0, 0 };
	asm volatile("fld %0, 0(%1)\n\tfsd %0, 24(%1)" : "=&f"(d) : "r"(dmem) : "memory");
	pf("fld/fsd: %x %x\n", dmem[0], dmem[3]);
	/* fsw of a NaN-boxed single stores the low 32 bits. */
	asm volatile("fld %0, 0(%1)\n\tfsw %0, 8(%1)" : "=&f"(d) : "r"(dmem) : "memory");
	pf("fld then fsw: %x\n", dmem[1]);
}

int main(void)
{
	D2(fadd.d) D2(fsub.d) D2(fmul.d) D2(fdiv.d) D2(fmin.d) D2(fmax.d)
	D2(fsgnj.d) D2(fsgnjn.d) D2(fsgnjx.d)
	S2(fadd.s) S2(fsub.s) S2(fmul.s) S2(fdiv.s) S2(fmin.s) S2(fmax.s)
	S2(fsgnj.s) S2(fsgnjn.s) S2(fsgnjx.s)
	DC(feq.d) DC(flt.d) DC(fle.d)
	SC(feq.s) SC(flt.s) SC(fle.s)
	D3(fmadd.d) D3(fmsub.d) D3(fnmadd.d) D3(fnmsub.d)
	S3(fmadd.s) S3(fmsub.s) S3(fnmadd.s) S3(fnmsub.s)

	static const u64 sq[] = { 0x4000000000000000UL, 0x4010000000000000UL, 0x3fb999999999999aUL, 0x4202a05f20000000UL, 0 };
	for (u64 i = 0; i < ARRAY_LEN(sq); i++) {
		double r;
		float s, tmp;
		asm volatile("fsqrt.d %0, %1" : "=f"(r) : "f"(dval(sq[i])));
		pf("fsqrt.d %x = %x\n", sq[i], dbits(r));
		asm volatile("fcvt.s.d %1, %2\n\tfsqrt.s %0, %1" : "=f"(s), "=&f"(tmp) : "f"(dval(sq[i])));
		pf("fsqrt.s (float)%x = %w\n", sq[i], sbits(s));
	}

	CVT_D2I(fcvt.w.d, "") CVT_D2I(fcvt.wu.d, "") CVT_D2I(fcvt.l.d, "") CVT_D2I(fcvt.lu.d, "")
	CVT_D2I(fcvt.w.d, ", rtz") CVT_D2I(fcvt.l.d, ", rtz") CVT_D2I(fcvt.lu.d, ", rtz")
	CVT_S2I(fcvt.w.s, "") CVT_S2I(fcvt.wu.s, "") CVT_S2I(fcvt.l.s, "") CVT_S2I(fcvt.lu.s, "")
	CVT_S2I(fcvt.w.s, ", rtz") CVT_S2I(fcvt.l.s, ", rtz")
	CVT_I2D(fcvt.d.w) CVT_I2D(fcvt.d.wu) CVT_I2D(fcvt.d.l) CVT_I2D(fcvt.d.lu)
	CVT_I2S(fcvt.s.w) CVT_I2S(fcvt.s.wu) CVT_I2S(fcvt.s.l) CVT_I2S(fcvt.s.lu)

	for (u64 i = 0; i < ARRAY_LEN(dv); i++) {
		float s;
		double d;
		asm volatile("fcvt.s.d %0, %1" : "=f"(s) : "f"(dval(dv[i])));
		pf("fcvt.s.d %x = %w\n", dv[i], sbits(s));
		asm volatile("fcvt.d.s %0, %1" : "=f"(d) : "f"(sval(sv[i])));
		pf("fcvt.d.s %w = %x\n", (u64)sv[i], dbits(d));
	}

	fclass();
	moves_and_memory();
	return 0;
}
