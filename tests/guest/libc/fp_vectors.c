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

/* Operand kinds, for generating vectors. */
enum kind { S, D, X };

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

/* Runs every vector of `in` in mode `m` (an index into mode_names); with
 * `dump`, prints each. Returns the hash. */
static u64 run(const struct insn *in, int m, int dump)
{
	opfn op = in->rm[in->has_rm ? (m < 5 ? m : 5) : 0];
	u64 h = FNV_OFFSET;
	long i;

	if (m >= 5 && m < 10)
		set_frm(m - 5);
	op(m == 10);
	set_frm(0);
	for (i = 0; i < nvec; i++) {
		h = fnv(fnv(h, vr[i]), vf[i]);
		if (dump)
			printf("%ld %016llx %016llx %016llx -> %016llx %02llx\n", i,
			       (unsigned long long)va[i], (unsigned long long)vb[i],
			       (unsigned long long)vc[i], (unsigned long long)vr[i],
			       (unsigned long long)vf[i]);
	}
	return h;
}

static void run_insn(const struct insn *in)
{
	u64 first[3][2];
	int m, i;

	build_vectors(in);
	for (m = 0; m < (in->has_rm ? NMODES : 1); m++) {
		u64 h = run(in, m, 0);
		if (m == 0)
			for (i = 0; i < 3; i++)
				first[i][0] = vr[i], first[i][1] = vf[i];
		printf("%-10s %-4s n=%ld hash=%016llx\n", in->name,
		       in->has_rm ? mode_names[m] : "-", nvec,
		       (unsigned long long)h);
	}
	for (i = 0; i < 3; i++)
		printf("  %s #%d %016llx %016llx %016llx -> %016llx fflags %02llx\n",
		       in->name, i, (unsigned long long)va[i],
		       (unsigned long long)vb[i], (unsigned long long)vc[i],
		       (unsigned long long)first[i][0],
		       (unsigned long long)first[i][1]);
}

/* ------------------------------------------------- illegal rounding modes */

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

int main(int argc, char **argv)
{
	unsigned i, part = 0, nparts = 1;
	int m;

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
	if (part == 0)
		illegal_modes();
	return 0;
}
