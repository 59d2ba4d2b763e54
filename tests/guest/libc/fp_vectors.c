/* A glibc program (linked statically at test time, not committed): the
 * RISC-V F and D instructions one by one, in inline assembly, on edge and
 * pseudo-random operands, with every rounding mode (tests/fp_programs.rs runs
 * it under cranemu and qemu-riscv64 and requires the same output).
 *
 * Instructions: fadd fsub fmul fdiv fsqrt fmin fmax fmadd fmsub fnmsub fnmadd
 * feq flt fle fclass fsgnj fsgnjn fsgnjx fmv, and fcvt between s, d, w, wu,
 * l, lu, in S and D. Rounding modes, for the instructions that have one: the
 * static rne rtz rdn rup rmm, and dyn after setting frm to each of 0..4
 * ("dyn0".."dyn4"), and "dyn*": frm set to (vector index % 5) before each
 * vector, so frm changes inside a hot loop. The exact conversions
 * (fcvt.d.s, fcvt.d.w, fcvt.d.wu), whose rm the assembler refuses, are
 * encoded with .insn.
 *
 * Operands: an edge list (+-0, subnormals, min and max normal, +-inf, quiet
 * and signalling NaNs with payloads, single-precision operands that are not
 * properly NaN-boxed, integer-limit neighbours, halfway values) crossed with
 * itself (the third operand of fused ops from a short list), then 20000
 * vectors from a fixed-seed PRNG biased towards interesting exponents.
 *
 * For each vector: `csrw fflags, zero`, the instruction, `frflags`. Output,
 * per (instruction, rm): name, rm, vector count, and an FNV-1a hash (over
 * 64-bit words) of the result bits (the register as a whole: NaN-boxing
 * shows) and fflags of every vector; per instruction, the first 3 vectors of
 * the first rm in hex. Then rm values 5, 6 (static) and frm 5, 6, 7 (dyn),
 * which are illegal instructions.
 *
 * `fp_vectors NAME RM` prints every vector of one instruction and mode
 * instead (operands, result, fflags), to find where two runs differ.
 *
 * Built for x86-64 instead, it computes the same lines with the host's FPU
 * for the instructions and modes the host can do (see the x86-64 section):
 * a check of the expected output that does not depend on qemu.
 * `fp_vectors -p PART NPARTS` runs every NPARTS-th instruction from PART. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t u64;

/* ---------------------------------------------------------- instructions */

/* The vectors of the instruction being run: operands (64-bit patterns
 * moved into f or x registers as the instruction needs), then results and
 * fflags. */
static u64 *va, *vb, *vc, *vr, *vf;
static long nvec;

/* Operand kinds, for generating vectors. */
enum kind { S, D, X };

#if defined(__riscv)
static void set_frm(u64 m)
{
	__asm__ volatile("fsrm %0" : : "r"(m));
}

/* An instruction in one rounding mode, run over all the vectors; with
 * `cycle`, frm is set to (index % 5) before each. */
typedef void (*opfn)(int cycle);

/* The loop around one instruction: the body (an asm statement) computes r
 * and f from a, b and c. One loop per function keeps the per-vector cost
 * low, which matters under the interpreter tier. */
#define LOOP(fn, ...)                                                       \
	static void fn(int cycle)                                           \
	{                                                                   \
		long i, n = nvec;                                           \
		u64 k = 0;                                                  \
		for (i = 0; i < n; i++) {                                   \
			u64 a = va[i], b = vb[i], c = vc[i], r, f;          \
			double x, y, w, z;                                  \
			(void)a, (void)b, (void)c, (void)x, (void)y;        \
			(void)w, (void)z;                                   \
			if (cycle) {                                        \
				set_frm(k);                                 \
				k = k == 4 ? 0 : k + 1;                     \
			}                                                   \
			__VA_ARGS__;                                        \
			vr[i] = r;                                          \
			vf[i] = f;                                          \
		}                                                           \
	}

#define PRE "csrw fflags, zero\n\t"
#define POST "\n\tfrflags %[f]"

/* f, f -> f */
#define FFF(fn, insn, rm)                                                   \
	LOOP(fn, __asm__ volatile("fmv.d.x %[x], %[a]\n\tfmv.d.x %[y], %[b]\n\t" PRE \
				  insn " %[z], %[x], %[y]" rm POST          \
				  "\n\tfmv.x.d %[r], %[z]"                  \
				  : [r] "=r"(r), [f] "=r"(f), [x] "=&f"(x), \
				    [y] "=&f"(y), [z] "=&f"(z)              \
				  : [a] "r"(a), [b] "r"(b)))

/* f, f, f -> f */
#define FFFF(fn, insn, rm)                                                  \
	LOOP(fn, __asm__ volatile("fmv.d.x %[x], %[a]\n\tfmv.d.x %[y], %[b]\n\t" \
				  "fmv.d.x %[w], %[c]\n\t" PRE insn         \
				  " %[z], %[x], %[y], %[w]" rm POST         \
				  "\n\tfmv.x.d %[r], %[z]"                  \
				  : [r] "=r"(r), [f] "=r"(f), [x] "=&f"(x), \
				    [y] "=&f"(y), [w] "=&f"(w), [z] "=&f"(z) \
				  : [a] "r"(a), [b] "r"(b), [c] "r"(c)))

/* f -> f */
#define FF(fn, insn, rm)                                                    \
	LOOP(fn, __asm__ volatile("fmv.d.x %[x], %[a]\n\t" PRE insn         \
				  " %[z], %[x]" rm POST                     \
				  "\n\tfmv.x.d %[r], %[z]"                  \
				  : [r] "=r"(r), [f] "=r"(f), [x] "=&f"(x), \
				    [z] "=&f"(z)                            \
				  : [a] "r"(a)))

/* f, f -> x */
#define FFX(fn, insn, rm)                                                   \
	LOOP(fn, __asm__ volatile("fmv.d.x %[x], %[a]\n\tfmv.d.x %[y], %[b]\n\t" PRE \
				  insn " %[r], %[x], %[y]" rm POST          \
				  : [r] "=&r"(r), [f] "=r"(f), [x] "=&f"(x), \
				    [y] "=&f"(y)                            \
				  : [a] "r"(a), [b] "r"(b)))

/* f -> x */
#define FX(fn, insn, rm)                                                    \
	LOOP(fn, __asm__ volatile("fmv.d.x %[x], %[a]\n\t" PRE insn         \
				  " %[r], %[x]" rm POST                     \
				  : [r] "=&r"(r), [f] "=r"(f), [x] "=&f"(x) \
				  : [a] "r"(a)))

/* x -> f */
#define XF(fn, insn, rm)                                                    \
	LOOP(fn, __asm__ volatile(PRE insn " %[z], %[a]" rm POST            \
				  "\n\tfmv.x.d %[r], %[z]"                  \
				  : [r] "=r"(r), [f] "=r"(f), [z] "=&f"(z)  \
				  : [a] "r"(a)))

/* The exact conversions, whose rm field the assembler will not take:
 * .insn r OP-FP, rm, funct7, rd, rs1, rs2. */
#define XF_INSN(fn, f7, rs2, rm)                                            \
	LOOP(fn, __asm__ volatile(PRE ".insn r 0x53, " #rm ", " #f7         \
				  ", %[z], %[a], " #rs2 POST                \
				  "\n\tfmv.x.d %[r], %[z]"                  \
				  : [r] "=r"(r), [f] "=r"(f), [z] "=&f"(z)  \
				  : [a] "r"(a)))
#define FF_INSN(fn, f7, rs2, rm)                                            \
	LOOP(fn, __asm__ volatile("fmv.d.x %[x], %[a]\n\t" PRE              \
				  ".insn r 0x53, " #rm ", " #f7             \
				  ", %[z], %[x], " #rs2 POST                \
				  "\n\tfmv.x.d %[r], %[z]"                  \
				  : [r] "=r"(r), [f] "=r"(f), [x] "=&f"(x), \
				    [z] "=&f"(z)                            \
				  : [a] "r"(a)))

/* Six variants of an instruction with a rounding mode: rne rtz rdn rup rmm
 * dyn (dyn serves dyn0..dyn4 and dyn*). */
#define RM6(K, id, insn)                                                    \
	K(id##_rne, insn, ", rne") K(id##_rtz, insn, ", rtz")               \
	K(id##_rdn, insn, ", rdn") K(id##_rup, insn, ", rup")               \
	K(id##_rmm, insn, ", rmm") K(id##_dyn, insn, ", dyn")
#define RM6_INSN(K, id, f7, rs2)                                            \
	K(id##_rne, f7, rs2, 0) K(id##_rtz, f7, rs2, 1)                     \
	K(id##_rdn, f7, rs2, 2) K(id##_rup, f7, rs2, 3)                     \
	K(id##_rmm, f7, rs2, 4) K(id##_dyn, f7, rs2, 7)

/* The instruction list: X-macro of (id, name, shape, rm?, operand kind,
 * operand count). */
#define INSNS(R, N)                                                          \
	R(fadd_s, "fadd.s", FFF, S, 2) R(fadd_d, "fadd.d", FFF, D, 2)            \
	R(fsub_s, "fsub.s", FFF, S, 2) R(fsub_d, "fsub.d", FFF, D, 2)            \
	R(fmul_s, "fmul.s", FFF, S, 2) R(fmul_d, "fmul.d", FFF, D, 2)            \
	R(fdiv_s, "fdiv.s", FFF, S, 2) R(fdiv_d, "fdiv.d", FFF, D, 2)            \
	R(fsqrt_s, "fsqrt.s", FF, S, 1) R(fsqrt_d, "fsqrt.d", FF, D, 1)          \
	R(fmadd_s, "fmadd.s", FFFF, S, 3) R(fmadd_d, "fmadd.d", FFFF, D, 3)      \
	R(fmsub_s, "fmsub.s", FFFF, S, 3) R(fmsub_d, "fmsub.d", FFFF, D, 3)      \
	R(fnmsub_s, "fnmsub.s", FFFF, S, 3) R(fnmsub_d, "fnmsub.d", FFFF, D, 3)  \
	R(fnmadd_s, "fnmadd.s", FFFF, S, 3) R(fnmadd_d, "fnmadd.d", FFFF, D, 3)  \
	R(fcvt_w_s, "fcvt.w.s", FX, S, 1) R(fcvt_w_d, "fcvt.w.d", FX, D, 1)      \
	R(fcvt_wu_s, "fcvt.wu.s", FX, S, 1) R(fcvt_wu_d, "fcvt.wu.d", FX, D, 1)  \
	R(fcvt_l_s, "fcvt.l.s", FX, S, 1) R(fcvt_l_d, "fcvt.l.d", FX, D, 1)      \
	R(fcvt_lu_s, "fcvt.lu.s", FX, S, 1) R(fcvt_lu_d, "fcvt.lu.d", FX, D, 1)  \
	R(fcvt_s_w, "fcvt.s.w", XF, X, 1) R(fcvt_s_wu, "fcvt.s.wu", XF, X, 1)    \
	R(fcvt_s_l, "fcvt.s.l", XF, X, 1) R(fcvt_s_lu, "fcvt.s.lu", XF, X, 1)    \
	R(fcvt_d_l, "fcvt.d.l", XF, X, 1) R(fcvt_d_lu, "fcvt.d.lu", XF, X, 1)    \
	R(fcvt_s_d, "fcvt.s.d", FF, D, 1)                                        \
	N(fmin_s, "fmin.s", FFF, S, 2) N(fmin_d, "fmin.d", FFF, D, 2)            \
	N(fmax_s, "fmax.s", FFF, S, 2) N(fmax_d, "fmax.d", FFF, D, 2)            \
	N(feq_s, "feq.s", FFX, S, 2) N(feq_d, "feq.d", FFX, D, 2)                \
	N(flt_s, "flt.s", FFX, S, 2) N(flt_d, "flt.d", FFX, D, 2)                \
	N(fle_s, "fle.s", FFX, S, 2) N(fle_d, "fle.d", FFX, D, 2)                \
	N(fclass_s, "fclass.s", FX, S, 1) N(fclass_d, "fclass.d", FX, D, 1)      \
	N(fsgnj_s, "fsgnj.s", FFF, S, 2) N(fsgnj_d, "fsgnj.d", FFF, D, 2)        \
	N(fsgnjn_s, "fsgnjn.s", FFF, S, 2) N(fsgnjn_d, "fsgnjn.d", FFF, D, 2)    \
	N(fsgnjx_s, "fsgnjx.s", FFF, S, 2) N(fsgnjx_d, "fsgnjx.d", FFF, D, 2)    \
	N(fmv_x_w, "fmv.x.w", FX, S, 1) N(fmv_x_d, "fmv.x.d", FX, D, 1)          \
	N(fmv_w_x, "fmv.w.x", XF, X, 1) N(fmv_d_x, "fmv.d.x", XF, X, 1)

#define GEN_RM(id, name, K, kind, n) RM6(K, id, name)
#define GEN_NORM(id, name, K, kind, n) K(id, name, "")
INSNS(GEN_RM, GEN_NORM)
RM6_INSN(XF_INSN, fcvt_d_w, 0x69, x0)
RM6_INSN(XF_INSN, fcvt_d_wu, 0x69, x1)
RM6_INSN(FF_INSN, fcvt_d_s, 0x21, x0)

struct insn {
	const char *name;
	enum kind kind;
	int nops;
	opfn rm[6]; /* rne rtz rdn rup rmm dyn; only [0] without a mode */
	int has_rm;
};

#define TAB_RM(id, nm, K, k, n)                                                \
	{nm, k, n, {id##_rne, id##_rtz, id##_rdn, id##_rup, id##_rmm, id##_dyn}, 1},
#define TAB_NORM(id, nm, K, k, n) {nm, k, n, {id}, 0},
static const struct insn insns[] = {
	INSNS(TAB_RM, TAB_NORM)
	TAB_RM(fcvt_d_w, "fcvt.d.w", , X, 1)
	TAB_RM(fcvt_d_wu, "fcvt.d.wu", , X, 1)
	TAB_RM(fcvt_d_s, "fcvt.d.s", , S, 1)
};
#define NINSNS (sizeof insns / sizeof insns[0])

static int supported(const struct insn *in, int m)
{
	return in->has_rm || m == 0;
}

static void exec(const struct insn *in, int m)
{
	if (m >= 5 && m < 10)
		set_frm(m - 5);
	in->rm[in->has_rm ? (m < 5 ? m : 5) : 0](m == 10);
	set_frm(0);
}
#elif defined(__x86_64__)
/* ------------------------------------------- the host's FPU as a reference
 *
 * Built for x86-64, this program computes the same vectors with SSE (and
 * FMA3 where the CPU has it) for the instructions and modes the host can do
 * exactly: arithmetic, square root, fused multiply-add, compares, and the
 * conversions, in rne rtz rdn rup (MXCSR's rounding control) and dyn0..dyn3.
 * tests/fp_programs.rs compares those lines with the checked-in expected
 * output (qemu-riscv64's), an independent check of the reference. RISC-V's
 * own rules are applied on top, and only these: NaN results are the
 * canonical NaN; single-precision operands that are not NaN-boxed read as
 * the canonical NaN; fused ops raise NV for inf*0 even with a quiet NaN
 * addend; conversions to integers saturate (NaN to the maximum) and then
 * raise NV alone. Everything else (rounding, every other flag, tininess
 * after rounding) is the hardware's. */
#include <math.h>

enum hop {
	H_ADD, H_SUB, H_MUL, H_DIV, H_SQRT, H_MADD, H_MSUB, H_NMSUB, H_NMADD,
	H_EQ, H_LT, H_LE, H_CVT_S_D, H_CVT_D_S,
	H_CVT_W, H_CVT_WU, H_CVT_L, H_CVT_LU,     /* float -> integer */
	H_FROM_W, H_FROM_WU, H_FROM_L, H_FROM_LU, /* integer -> float */
};

struct insn {
	const char *name;
	enum kind kind;
	int nops;
	enum hop op;
	int dbl; /* the float format: the result's, or the source's for
		  * compares and conversions to integers */
	int has_rm;
};

static const struct insn insns[] = {
	{"fadd.s", S, 2, H_ADD, 0, 1}, {"fadd.d", D, 2, H_ADD, 1, 1},
	{"fsub.s", S, 2, H_SUB, 0, 1}, {"fsub.d", D, 2, H_SUB, 1, 1},
	{"fmul.s", S, 2, H_MUL, 0, 1}, {"fmul.d", D, 2, H_MUL, 1, 1},
	{"fdiv.s", S, 2, H_DIV, 0, 1}, {"fdiv.d", D, 2, H_DIV, 1, 1},
	{"fsqrt.s", S, 1, H_SQRT, 0, 1}, {"fsqrt.d", D, 1, H_SQRT, 1, 1},
	{"fmadd.s", S, 3, H_MADD, 0, 1}, {"fmadd.d", D, 3, H_MADD, 1, 1},
	{"fmsub.s", S, 3, H_MSUB, 0, 1}, {"fmsub.d", D, 3, H_MSUB, 1, 1},
	{"fnmsub.s", S, 3, H_NMSUB, 0, 1}, {"fnmsub.d", D, 3, H_NMSUB, 1, 1},
	{"fnmadd.s", S, 3, H_NMADD, 0, 1}, {"fnmadd.d", D, 3, H_NMADD, 1, 1},
	{"fcvt.w.s", S, 1, H_CVT_W, 0, 1}, {"fcvt.w.d", D, 1, H_CVT_W, 1, 1},
	{"fcvt.wu.s", S, 1, H_CVT_WU, 0, 1}, {"fcvt.wu.d", D, 1, H_CVT_WU, 1, 1},
	{"fcvt.l.s", S, 1, H_CVT_L, 0, 1}, {"fcvt.l.d", D, 1, H_CVT_L, 1, 1},
	{"fcvt.lu.s", S, 1, H_CVT_LU, 0, 1}, {"fcvt.lu.d", D, 1, H_CVT_LU, 1, 1},
	{"fcvt.s.w", X, 1, H_FROM_W, 0, 1}, {"fcvt.s.wu", X, 1, H_FROM_WU, 0, 1},
	{"fcvt.s.l", X, 1, H_FROM_L, 0, 1}, {"fcvt.s.lu", X, 1, H_FROM_LU, 0, 1},
	{"fcvt.d.l", X, 1, H_FROM_L, 1, 1}, {"fcvt.d.lu", X, 1, H_FROM_LU, 1, 1},
	{"fcvt.s.d", D, 1, H_CVT_S_D, 0, 1},
	{"feq.s", S, 2, H_EQ, 0, 0}, {"feq.d", D, 2, H_EQ, 1, 0},
	{"flt.s", S, 2, H_LT, 0, 0}, {"flt.d", D, 2, H_LT, 1, 0},
	{"fle.s", S, 2, H_LE, 0, 0}, {"fle.d", D, 2, H_LE, 1, 0},
	{"fcvt.d.w", X, 1, H_FROM_W, 1, 1}, {"fcvt.d.wu", X, 1, H_FROM_WU, 1, 1},
	{"fcvt.d.s", S, 1, H_CVT_D_S, 1, 1},
};
#define NINSNS (sizeof insns / sizeof insns[0])

static int has_fma;

/* rne rtz rdn rup rmm dyn0..dyn4 dyn*: rmm has no MXCSR equivalent. */
static int supported(const struct insn *in, int m)
{
	if (!in->has_rm)
		return m == 0;
	if (in->nops == 3 && !has_fma)
		return 0;
	return m != 4 && m != 9 && m != 10;
}

static unsigned mxcsr_for(int m)
{
	static const unsigned rc[4] = {0, 3, 1, 2}; /* rne rtz rdn rup */
	return 0x1f80 | rc[m < 5 ? m : m - 5] << 13;
}

static u64 fflags_of(unsigned mxcsr)
{
	return (mxcsr & 0x01 ? 0x10 : 0) | (mxcsr & 0x04 ? 0x08 : 0) |
	       (mxcsr & 0x08 ? 0x04 : 0) | (mxcsr & 0x10 ? 0x02 : 0) |
	       (mxcsr & 0x20 ? 0x01 : 0);
}

static double as_d(u64 x)
{
	double d;
	memcpy(&d, &x, 8);
	return d;
}

static float as_s(u64 x)
{
	uint32_t u = x >> 32 == 0xffffffff ? (uint32_t)x : 0x7fc00000;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static u64 bits_d(double d)
{
	u64 x;
	memcpy(&x, &d, 8);
	return isnan(d) ? 0x7ff8000000000000 : x;
}

static u64 bits_s(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return 0xffffffff00000000 | (isnan(f) ? 0x7fc00000 : u);
}

/* One SSE instruction between ldmxcsr and stmxcsr: dst = dst OP src. */
#define SSE(ins, dst, src)                                                  \
	__asm__ volatile("ldmxcsr %[c]\n\t" ins " %[s], %[d]\n\tstmxcsr %[o]" \
			 : [d] "+x"(dst), [o] "=m"(o)                       \
			 : [s] "x"(src), [c] "m"(c))
/* acc = a * b OP acc */
#define FMA3(ins, acc, a, b)                                                \
	__asm__ volatile("ldmxcsr %[c]\n\t" ins " %[y], %[x], %[z]\n\tstmxcsr %[o]" \
			 : [z] "+x"(acc), [o] "=m"(o)                       \
			 : [x] "x"(a), [y] "x"(b), [c] "m"(c))
/* integer result = convert(src) */
#define CVT(ins, dst, src)                                                  \
	__asm__ volatile("ldmxcsr %[c]\n\t" ins " %[s], %[d]\n\tstmxcsr %[o]" \
			 : [d] "=r"(dst), [o] "=m"(o)                       \
			 : [s] "x"(src), [c] "m"(c))
/* float result = convert(integer src) */
#define ICVT(ins, dst, src)                                                 \
	__asm__ volatile("ldmxcsr %[c]\n\t" ins " %[s], %[d]\n\tstmxcsr %[o]" \
			 : [d] "=x"(dst), [o] "=m"(o)                       \
			 : [s] "r"(src), [c] "m"(c))

/* A float (either format, widened: exact) to a 64-bit integer with
 * RISC-V's saturation; the range checks come from the exact value. */
static u64 to_int(const struct insn *in, u64 a, unsigned c, u64 *fl)
{
	unsigned o = 0;
	long long r = 0;
	double x = in->dbl ? as_d(a) : (double)as_s(a);
	int nan = isnan(x), lu_hi = 0, in64, out;

	if (!nan && in->op == H_CVT_LU && x >= 0x1p63 && x < 0x1p64) {
		x -= 0x1p63; /* exact: x is an integer here */
		lu_hi = 1;
	}
	in64 = !nan && x >= -0x1p63 && x < 0x1p63;
	if (in64) {
		if (in->dbl) {
			double d = x;
			CVT("cvtsd2si", r, d);
		} else {
			float f = (float)x;
			CVT("cvtss2si", r, f);
		}
	}
	*fl = fflags_of(o);
	if (lu_hi)
		return (u64)r + (1ULL << 63);
	/* Out of range after rounding, or NaN: saturate, NV alone. */
	switch (in->op) {
	case H_CVT_W: out = r < INT32_MIN || r > INT32_MAX; break;
	case H_CVT_WU: out = r < 0 || r > (long long)UINT32_MAX; break;
	case H_CVT_L: out = 0; break;
	default: out = r < 0; break;
	}
	if (!in64 || out) {
		*fl = 0x10;
		if (x < 0 && !nan)
			r = in->op == H_CVT_W ? INT32_MIN : in->op == H_CVT_L ? INT64_MIN : 0;
		else
			r = in->op == H_CVT_W ? INT32_MAX : in->op == H_CVT_L ? INT64_MAX :
			    in->op == H_CVT_WU ? (long long)UINT32_MAX : -1LL;
	}
	if (in->op == H_CVT_W || in->op == H_CVT_WU)
		return (u64)(long long)(int32_t)(uint32_t)r;
	return (u64)r;
}

static u64 from_int(const struct insn *in, u64 a, unsigned c, u64 *fl)
{
	unsigned o = 0;
	long long v;
	int half = 0;

	switch (in->op) {
	case H_FROM_W: v = (int32_t)a; break;
	case H_FROM_WU: v = (uint32_t)a; break;
	case H_FROM_L: v = (long long)a; break;
	default:
		/* Unsigned 64-bit: halve keeping a sticky bit, convert, double. */
		if (a >> 63) {
			v = (long long)(a >> 1 | (a & 1));
			half = 1;
		} else {
			v = (long long)a;
		}
		break;
	}
	*fl = 0;
	if (in->dbl) {
		double d;
		ICVT("cvtsi2sdq", d, v);
		*fl = fflags_of(o);
		return bits_d(half ? d * 2 : d);
	} else {
		float f;
		ICVT("cvtsi2ssq", f, v);
		*fl = fflags_of(o);
		return bits_s(half ? f * 2 : f);
	}
}

static u64 host_op(const struct insn *in, u64 a, u64 b, u64 cc, unsigned c, u64 *fl)
{
	unsigned o = 0;
	u64 r;
	int nv_fma = 0;

	if (in->op >= H_CVT_W && in->op <= H_CVT_LU)
		return to_int(in, a, c, fl);
	if (in->op >= H_FROM_W)
		return from_int(in, a, c, fl);
	if (in->dbl && in->op != H_CVT_S_D) {
		double x = in->op == H_CVT_D_S ? 0 : as_d(a), y = as_d(b), z = as_d(cc);
		if (in->nops == 3)
			nv_fma = (isinf(x) && y == 0) || (x == 0 && isinf(y));
		switch (in->op) {
		case H_ADD: SSE("addsd", x, y); break;
		case H_SUB: SSE("subsd", x, y); break;
		case H_MUL: SSE("mulsd", x, y); break;
		case H_DIV: SSE("divsd", x, y); break;
		case H_SQRT: y = x; SSE("sqrtsd", x, y); break;
		case H_MADD: FMA3("vfmadd231sd", z, x, y); x = z; break;
		case H_MSUB: FMA3("vfmsub231sd", z, x, y); x = z; break;
		case H_NMSUB: FMA3("vfnmadd231sd", z, x, y); x = z; break;
		case H_NMADD: FMA3("vfnmsub231sd", z, x, y); x = z; break;
		case H_EQ: SSE("ucomisd", y, x); r = x == y; goto cmp;
		case H_LT: SSE("comisd", y, x); r = x < y; goto cmp;
		case H_LE: SSE("comisd", y, x); r = x <= y; goto cmp;
		case H_CVT_D_S: {
			float f = as_s(a);
			SSE("cvtss2sd", x, f);
			break;
		}
		default: break;
		}
		r = bits_d(x);
	} else {
		float x = as_s(a), y = as_s(b), z = as_s(cc);
		if (in->nops == 3)
			nv_fma = (isinf(x) && y == 0) || (x == 0 && isinf(y));
		switch (in->op) {
		case H_ADD: SSE("addss", x, y); break;
		case H_SUB: SSE("subss", x, y); break;
		case H_MUL: SSE("mulss", x, y); break;
		case H_DIV: SSE("divss", x, y); break;
		case H_SQRT: y = x; SSE("sqrtss", x, y); break;
		case H_MADD: FMA3("vfmadd231ss", z, x, y); x = z; break;
		case H_MSUB: FMA3("vfmsub231ss", z, x, y); x = z; break;
		case H_NMSUB: FMA3("vfnmadd231ss", z, x, y); x = z; break;
		case H_NMADD: FMA3("vfnmsub231ss", z, x, y); x = z; break;
		case H_EQ: SSE("ucomiss", y, x); r = x == y; goto cmp;
		case H_LT: SSE("comiss", y, x); r = x < y; goto cmp;
		case H_LE: SSE("comiss", y, x); r = x <= y; goto cmp;
		case H_CVT_S_D: {
			double d = as_d(a);
			SSE("cvtsd2ss", x, d);
			break;
		}
		default: break;
		}
		r = bits_s(x);
	}
	*fl = fflags_of(o) | (nv_fma ? 0x10 : 0);
	return r;
cmp:
	*fl = fflags_of(o);
	return r;
}

static void exec(const struct insn *in, int m)
{
	unsigned c = mxcsr_for(in->has_rm ? m : 0);
	long i;

	for (i = 0; i < nvec; i++)
		vr[i] = host_op(in, va[i], vb[i], vc[i], c, &vf[i]);
}
#else
#error "fp_vectors.c is for riscv64 (the suite) or x86-64 (the host reference)"
#endif

/* Modes: static 0..4, then dyn with frm 0..4, then dyn with frm cycling. */
static const char *const mode_names[] = {
	"rne", "rtz", "rdn", "rup", "rmm",
	"dyn0", "dyn1", "dyn2", "dyn3", "dyn4", "dyn*",
};
#define NMODES 11

/* -------------------------------------------------------------- operands */

static const u64 edge_d[] = {
	0x0000000000000000, 0x8000000000000000, 0x0000000000000001,
	0x8000000000000001, 0x000fffffffffffff, 0x800fffffffffffff,
	0x0008000000000000, 0x0010000000000000, 0x8010000000000000,
	0x0010000000000001, 0x7fefffffffffffff, 0xffefffffffffffff,
	0x7fe0000000000000, 0x7ff0000000000000, 0xfff0000000000000,
	0x7ff8000000000000, 0x7ff8000000000123, 0xfff8000000000001,
	0x7ff0000000000001, 0x7ff4000000000000, 0xfff0000000000abc,
	0x3ff0000000000000, 0xbff0000000000000, 0x3ff8000000000000,
	0x4004000000000000, 0xc004000000000000, 0x3fe0000000000000,
	0xbfe0000000000000, 0x4008000000000000, 0x3fd5555555555555,
	0x3fb999999999999a, 0x3ff0000000000001, 0x3fefffffffffffff,
	0x41dfffffffc00000, 0x41dfffffffe00000, 0x41e0000000000000,
	0xc1e0000000000000, 0xc1e0000000100000, 0xc1e0000000200000,
	0x41efffffffe00000, 0x41efffffffffffff, 0x41f0000000000000,
	0x43dfffffffffffff, 0x43e0000000000000, 0xc3e0000000000000,
	0xc3e0000000000001, 0x43efffffffffffff, 0x43f0000000000000,
	0x4330000000000000, 0x432fffffffffffff, 0x4340000000000001,
	0x3ff0000010000000, 0x3ff0000010000001, 0x36a0000000000000,
	0x3690000000000000, 0x47efffffe0000000, 0x47effffff0000000,
	0x3810000000000000, 0x380fffffffffffff, 0x7e37e43c8800759c,
	0x0197d4df19d60576, 0xbcb0000000000000,
	/* Their product is DBL_MIN*(1-2^-54): tiny before rounding only. */
	0x0010000002000000, 0x3feffffffc000000,
};

static const u64 edge_s[] = {
	0xffffffff00000000, 0xffffffff80000000, 0xffffffff00000001,
	0xffffffff80000001, 0xffffffff007fffff, 0xffffffff807fffff,
	0xffffffff00400000, 0xffffffff00800000, 0xffffffff80800000,
	0xffffffff00800001, 0xffffffff7f7fffff, 0xffffffffff7fffff,
	0xffffffff7f000000, 0xffffffff7f800000, 0xffffffffff800000,
	0xffffffff7fc00000, 0xffffffff7fc00123, 0xffffffffffc00001,
	0xffffffff7f800001, 0xffffffff7fa00000, 0xffffffffff800abc,
	0xffffffff3f800000, 0xffffffffbf800000, 0xffffffff3fc00000,
	0xffffffff40200000, 0xffffffffc0200000, 0xffffffff3f000000,
	0xffffffffbf000000, 0xffffffff40400000, 0xffffffff3eaaaaab,
	0xffffffff3dcccccd, 0xffffffff3f800001, 0xffffffff3f7fffff,
	0xffffffff4effffff, 0xffffffff4f000000, 0xffffffffcf000000,
	0xffffffffcf000001, 0xffffffff4f7fffff, 0xffffffff4f800000,
	0xffffffff5effffff, 0xffffffff5f000000, 0xffffffffdf000000,
	0xffffffffdf000001, 0xffffffff5f7fffff, 0xffffffff5f800000,
	0xffffffff4b000000, 0xffffffff4affffff, 0xffffffff4b800001,
	0xffffffff3f800002, 0xffffffff33800000, 0xffffffff0c000000,
	/* Not properly NaN-boxed: read as the canonical NaN. */
	0x000000003f800000, 0x7ff8000000000000, 0xfffffffe3f800000,
	0x00000000ffffffff,
};

static const u64 edge_x[] = {
	0, 1, 2, 3, 0xffffffffffffffff, 0xfffffffffffffffe,
	0x7fffffff, 0x80000000, 0xffffffff80000000, 0xffffffff7fffffff,
	0xffffffff, 0x100000000, 0x1000001, 0x1000003, 0xffffffffff000001,
	0x20000001, 0x7fffff80, 0x7fffffc0, 0xffffff80, 0xffffffc0,
	0x20000000000001, 0x20000000000003, 0x7fffffffffffffff,
	0x8000000000000000, 0x8000000000000001, 0x7ffffffffffffc00,
	0x7ffffffffffffe00, 0xfffffffffffff800, 0xfffffffffffffc00,
	0x123456789abcdef0, 0xfedcba9876543210, 0x00000000fedcba98,
};

#define NEDGE(a) (sizeof a / sizeof a[0])
/* Third operands of the fused ops in the crossed part. */
static const int third[] = {0, 1, 3, 13, 16, 21};
#define NTHIRD 6
#define NRANDOM 20000

static u64 rng_state;

static u64 rng(void)
{
	/* splitmix64 */
	u64 z = (rng_state += 0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
	return z ^ (z >> 31);
}

/* A random operand of the given kind, biased: exponents near 1, near the
 * subnormal range, near overflow, or anywhere; mantissas sometimes with few
 * bits (exact and halfway results); `near` (if not ~0) an exponent to stay
 * close to, for cancellation. */
static u64 random_operand(enum kind k, long near)
{
	u64 r = rng(), m = rng();
	int sel = r & 15;
	long e;

	if (k == X) {
		switch (sel & 7) {
		case 0: return m;
		case 1: return m >> (r >> 8 & 63);
		case 2: return (u64)(int32_t)m;
		case 3: return (u64)-(int64_t)(m >> (r >> 8 & 63));
		case 4: return (m & 0xffffff) << (r >> 8 & 31);
		case 5: return (u64)-(int64_t)((m & 0xffffff) << (r >> 8 & 31));
		case 6: return m & 0xffffffff;
		default: return (m | 1) << (r >> 8 & 63);
		}
	}
	int ebits = k == D ? 11 : 8, mbits = k == D ? 52 : 23;
	long bias = (1L << (ebits - 1)) - 1, emax = (1L << ebits) - 1;
	if (near != -1 && (sel & 1)) {
		e = near + (long)((r >> 8) % 7) - 3;
	} else if (sel < 8) {
		e = bias + (long)((r >> 8) % 65) - 32;
	} else if (sel < 10) {
		e = (long)((r >> 8) % 4); /* subnormal or the first binades */
	} else if (sel < 12) {
		e = emax - 1 - (long)((r >> 8) % 3);
	} else if (sel < 13) {
		e = emax; /* inf and NaNs */
	} else {
		e = (long)((r >> 8) % (u64)(emax + 1));
	}
	if (e < 0)
		e = 0;
	if (e > emax)
		e = emax;
	if ((r >> 20) % 4 == 0) /* a short mantissa */
		m &= ~0ULL << (mbits - (int)((r >> 24) % 8));
	if (e == emax && (r >> 28) % 3 == 0)
		m = 0; /* infinity */
	m &= (1ULL << mbits) - 1;
	u64 bits = (r >> 40 & 1) << (ebits + mbits) | (u64)e << mbits | m;
	if (k == S) {
		bits |= 0xffffffff00000000;
		if ((r >> 41) % 97 == 0)
			bits &= 0x7fffffffffffffff; /* not NaN-boxed */
	}
	return bits;
}

static long exponent_of(enum kind k, u64 x)
{
	return k == D ? (long)(x >> 52 & 0x7ff) : (long)(x >> 23 & 0xff);
}

/* The vectors of an instruction, built once per instruction (the same for
 * every mode). */
static void build_vectors(const struct insn *in)
{
	const u64 *e = in->kind == D ? edge_d : in->kind == S ? edge_s : edge_x;
	long ne = in->kind == D ? NEDGE(edge_d) : in->kind == S ? NEDGE(edge_s) : NEDGE(edge_x);
	long i, j, t, n = 0, max = ne * ne * NTHIRD + NRANDOM;

	va = realloc(va, max * sizeof *va);
	vb = realloc(vb, max * sizeof *vb);
	vc = realloc(vc, max * sizeof *vc);
	vr = realloc(vr, max * sizeof *vr);
	vf = realloc(vf, max * sizeof *vf);
	if (in->nops == 1) {
		for (i = 0; i < ne; i++, n++)
			va[n] = e[i], vb[n] = vc[n] = 0;
	} else if (in->nops == 2) {
		for (i = 0; i < ne; i++)
			for (j = 0; j < ne; j++, n++)
				va[n] = e[i], vb[n] = e[j], vc[n] = 0;
	} else {
		for (i = 0; i < ne; i++)
			for (j = 0; j < ne; j++)
				for (t = 0; t < NTHIRD; t++, n++)
					va[n] = e[i], vb[n] = e[j], vc[n] = e[third[t]];
	}
	rng_state = 0x243f6a8885a308d3; /* the same stream for every insn */
	for (i = 0; i < NRANDOM; i++, n++) {
		va[n] = random_operand(in->kind, -1);
		vb[n] = in->nops > 1 ? random_operand(in->kind, exponent_of(in->kind, va[n])) : 0;
		if (in->nops > 2) {
			/* c near the exponent of a*b, for cancellation. */
			long bias = in->kind == D ? 1023 : 127;
			long ep = exponent_of(in->kind, va[n]) + exponent_of(in->kind, vb[n]) - bias;
			vc[n] = random_operand(in->kind, ep);
		} else {
			vc[n] = 0;
		}
	}
	nvec = n;
}

/* ------------------------------------------------------------------ runs */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* FNV-1a with 64-bit words for its units (bytes would take 9 rounds per
 * vector, which matters under the interpreter tier). */
static u64 fnv(u64 h, u64 w)
{
	return (h ^ w) * FNV_PRIME;
}

/* Appends x as `digits` hex digits. */
static char *hex(char *p, u64 x, int digits)
{
	while (digits--)
		*p++ = "0123456789abcdef"[x >> (4 * digits) & 15];
	return p;
}

/* "index a b c -> result fflags", formatted by hand: printf would cost more
 * than the rest of a dump, and dumps run under the interpreter tier too. */
static void dump_line(long i)
{
	char buf[128], *p = buf + sprintf(buf, "%ld ", i);
	p = hex(p, va[i], 16);
	*p++ = ' ';
	p = hex(p, vb[i], 16);
	*p++ = ' ';
	p = hex(p, vc[i], 16);
	memcpy(p, " -> ", 4);
	p = hex(p + 4, vr[i], 16);
	*p++ = ' ';
	p = hex(p, vf[i], 2);
	*p++ = '\n';
	fwrite(buf, 1, (size_t)(p - buf), stdout);
}

/* Runs every vector of `in` in mode `m` (an index into mode_names); with
 * `dump`, prints each. Returns the hash. */
static u64 run(const struct insn *in, int m, int dump)
{
	u64 h = FNV_OFFSET;
	long i;

	exec(in, m);
	for (i = 0; i < nvec; i++) {
		h = fnv(fnv(h, vr[i]), vf[i]);
		if (dump)
			dump_line(i);
	}
	return h;
}

static void run_insn(const struct insn *in)
{
	u64 first[3][2];
	int m, i;

	build_vectors(in);
	for (m = 0; m < (in->has_rm ? NMODES : 1); m++) {
		u64 h;
		if (!supported(in, m))
			continue;
		h = run(in, m, 0);
		if (m == 0)
			for (i = 0; i < 3; i++)
				first[i][0] = vr[i], first[i][1] = vf[i];
		printf("%-10s %-4s n=%ld hash=%016llx\n", in->name,
		       in->has_rm ? mode_names[m] : "-", nvec,
		       (unsigned long long)h);
	}
	if (!supported(in, 0))
		return;
	for (i = 0; i < 3; i++)
		printf("  %s #%d %016llx %016llx %016llx -> %016llx fflags %02llx\n",
		       in->name, i, (unsigned long long)va[i],
		       (unsigned long long)vb[i], (unsigned long long)vc[i],
		       (unsigned long long)first[i][0],
		       (unsigned long long)first[i][1]);
}

/* ------------------------------------------------- illegal rounding modes */
#if defined(__riscv)

static sigjmp_buf ill_env;

static void on_sigill(int sig)
{
	(void)sig;
	siglongjmp(ill_env, 1);
}

static void illegal_modes(void)
{
	struct sigaction sa;
	volatile u64 r = 0;
	u64 one = 0x3ff0000000000000;
	volatile int frm;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigill;
	sigaction(SIGILL, &sa, NULL);
	/* fadd.d with rm 5 and 6 (reserved). */
	if (!sigsetjmp(ill_env, 1)) {
		double x;
		__asm__ volatile("fmv.d.x %1, %2\n\t.insn r 0x53, 5, 0x01, %1, %1, %1\n\tfmv.x.d %0, %1"
				 : "=r"(r), "=&f"(x) : "r"(one));
		printf("fadd.d rm=5: no trap, %016llx\n", (unsigned long long)r);
	} else {
		printf("fadd.d rm=5: SIGILL\n");
	}
	if (!sigsetjmp(ill_env, 1)) {
		double x;
		__asm__ volatile("fmv.d.x %1, %2\n\t.insn r 0x53, 6, 0x01, %1, %1, %1\n\tfmv.x.d %0, %1"
				 : "=r"(r), "=&f"(x) : "r"(one));
		printf("fadd.d rm=6: no trap, %016llx\n", (unsigned long long)r);
	} else {
		printf("fadd.d rm=6: SIGILL\n");
	}
	/* dyn with frm 5, 6, 7. */
	for (frm = 5; frm <= 7; frm++) {
		if (!sigsetjmp(ill_env, 1)) {
			double x;
			set_frm(frm);
			__asm__ volatile("fmv.d.x %1, %2\n\tfadd.d %1, %1, %1, dyn\n\tfmv.x.d %0, %1"
					 : "=r"(r), "=&f"(x) : "r"(one));
			set_frm(0);
			printf("fadd.d dyn frm=%d: no trap, %016llx\n", frm, (unsigned long long)r);
		} else {
			u64 got;
			__asm__ volatile("frrm %0" : "=r"(got));
			set_frm(0);
			printf("fadd.d dyn frm=%d: SIGILL (frm reads %llu)\n", frm,
			       (unsigned long long)got);
		}
	}
	/* fmv and fsgnj have no rounding mode: they run whatever frm holds. */
	set_frm(7);
	{
		double x;
		__asm__ volatile("fmv.d.x %1, %2\n\tfsgnjn.d %1, %1, %1\n\tfmv.x.d %0, %1"
				 : "=r"(r), "=&f"(x) : "r"(one));
	}
	set_frm(0);
	printf("fsgnjn.d with frm=7: %016llx\n", (unsigned long long)r);
}
#endif

int main(int argc, char **argv)
{
	unsigned i, part = 0, nparts = 1;
	int m;

#if defined(__x86_64__)
	has_fma = __builtin_cpu_supports("fma");
#endif
	if (argc == 3) {
		for (i = 0; i < NINSNS; i++) {
			if (strcmp(insns[i].name, argv[1]))
				continue;
			for (m = 0; m < NMODES; m++) {
				if (!strcmp(mode_names[m], argv[2]) ||
				    (!insns[i].has_rm && !strcmp(argv[2], "-")))
					break;
			}
			if (m == NMODES) {
				fprintf(stderr, "unknown mode %s\n", argv[2]);
				return 2;
			}
			build_vectors(&insns[i]);
			run(&insns[i], m, 1);
			return 0;
		}
		fprintf(stderr, "unknown instruction %s\n", argv[1]);
		return 2;
	}
	if (argc == 4 && !strcmp(argv[1], "-p")) {
		part = (unsigned)atoi(argv[2]);
		nparts = (unsigned)atoi(argv[3]);
	}
	for (i = part; i < NINSNS; i += nparts)
		run_insn(&insns[i]);
#if defined(__riscv)
	if (part == 0)
		illegal_modes();
#else
	has_fma = __builtin_cpu_supports("fma");
	if (!has_fma)
		printf("(no FMA3 on this CPU: fused ops not computed)\n");
#endif
	return 0;
}
