/* A glibc program (linked statically at test time, not committed): floating
 * point as real programs see it. Built both for riscv64 and for the host, it
 * must print the same bytes on both (tests/fp_programs.rs):
 *
 *   printf   doubles and floats with %a, %.17g, %g, %e, %f (zeros, subnormals,
 *            DBL_MIN/MAX, inf, nan, 0.1, 1/3, powers of ten and of two);
 *   strtod   strtod/strtof of decimal and hex strings: the bits, ERANGE, and
 *            whether %.17g (%.9g) of the result parses back to the same bits;
 *   libm     sin cos tan exp log log2 log10 pow fma sqrt cbrt atan2 hypot
 *            nextafter fmod remainder floor ceil trunc round lrint llrint and
 *            float variants, round to nearest;
 *   round    for FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO: rint,
 *            nearbyint, lrint of halfway and other values; + - * / sqrt fma
 *            and conversions whose result is inexact (printed with %a, so the
 *            direction shows in the last bit); printf and strtod, which
 *            honour the rounding mode in glibc;
 *   flags    fetestexcept after feclearexcept around operations raising
 *            FE_INEXACT, FE_DIVBYZERO, FE_INVALID, FE_OVERFLOW, FE_UNDERFLOW
 *            (in every rounding mode), and fenv save/restore calls.
 *
 * Operands are volatile so that nothing is folded at compile time; build with
 * -ffp-contract=off (riscv64 GCC would fuse a*b+c into fmadd, x86-64 does
 * not) and -frounding-math. NaN results are printed as "nan" whatever their
 * sign and payload (x86's default NaN is negative, RISC-V's canonical NaN is
 * positive); NaNs read from strings keep their bits.
 *
 * The argument selects one part ("printf", "strtod", "libm", "round",
 * "flags"); none runs them all. "riscv" runs the part whose results differ
 * between riscv64 and x86-64 glibc (see part_riscv), checked against
 * qemu-riscv64 and a checked-in file instead. */
#define _GNU_SOURCE /* roundeven */
#include <errno.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t bits_d(double x)
{
	uint64_t u;
	memcpy(&u, &x, 8);
	return u;
}

static uint32_t bits_f(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	return u;
}

static double from_bits_d(uint64_t u)
{
	double x;
	memcpy(&x, &u, 8);
	return x;
}

static float from_bits_f(uint32_t u)
{
	float x;
	memcpy(&x, &u, 4);
	return x;
}

/* A computed double: NaNs print as "nan" (their sign and payload differ by
 * architecture), everything else with %a. */
static void pr(const char *what, double x)
{
	if (isnan(x))
		printf("%-28s nan\n", what);
	else
		printf("%-28s %a\n", what, x);
}

static void prf(const char *what, float x)
{
	if (isnan(x))
		printf("%-28s nan\n", what);
	else
		printf("%-28s %a\n", what, (double)x);
}

static const char *fmt(double x)
{
	static char buf[64];
	if (isnan(x))
		return "nan";
	snprintf(buf, sizeof buf, "%a", x);
	return buf;
}

static const char *flag_names(int f)
{
	static char buf[64];
	buf[0] = 0;
	if (f & FE_INVALID)
		strcat(buf, " NV");
	if (f & FE_DIVBYZERO)
		strcat(buf, " DZ");
	if (f & FE_OVERFLOW)
		strcat(buf, " OF");
	if (f & FE_UNDERFLOW)
		strcat(buf, " UF");
	if (f & FE_INEXACT)
		strcat(buf, " NX");
	if (!buf[0])
		strcat(buf, " -");
	return buf;
}

static int flags(void)
{
	return fetestexcept(FE_ALL_EXCEPT);
}

/* ---------------------------------------------------------------- printf */

static void print_double(double x)
{
	printf("%a | %.17g | %g | %e | %.3a | %+.0e\n", x, x, x, x, x, x);
}

static void part_printf(void)
{
	static const uint64_t d[] = {
		0x0000000000000000, 0x8000000000000000, /* +-0 */
		0x0000000000000001, 0x8000000000000001, /* min subnormal */
		0x000fffffffffffff, 0x0008000000000000, /* max subnormal, half */
		0x0000000000001234,
		0x0010000000000000, 0x8010000000000000, /* DBL_MIN */
		0x7fefffffffffffff, 0xffefffffffffffff, /* DBL_MAX */
		0x7ff0000000000000, 0xfff0000000000000, /* inf */
		0x7ff8000000000000, 0x3ff0000000000000, 0x3ff0000000000001,
		0x3fefffffffffffff, 0x3fb999999999999a, /* 0.1 */
		0x3fd5555555555555, /* 1/3 */
		0x400921fb54442d18, /* pi */
		0x4340000000000000, 0x4340000000000001, /* 2^53, +1ulp */
		0x3cb0000000000000, /* 2^-52 */
		0x44b52d02c7e14af6, /* 1e23 */
		0x3e7ad7f29abcaf48, /* 1e-7 */
		0x4415af1d78b58c40, /* 1e20 */
		0x7e37e43c8800759c, /* 1e300 */
		0x0197d4df19d60576, /* 1e-300 */
	};
	static const double dec[] = {
		1.5, 2.5, -2.5, 0.5, 0.05, 0.15, 0.25, 0.35, 1234.5, 99999.95,
		123456789.0, 1e15, 1e16, 1e17, 1e21, 1e22, 5e-324, 2.5e-308,
		0.000123456, 1e-5, 1e-4, 9.9999999e-5, 6.02214076e23,
	};
	static const uint32_t f[] = {
		0x00000000, 0x80000000, 0x00000001, 0x007fffff, 0x00800000,
		0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000,
		0x3dcccccd, /* 0.1f */ 0x3eaaaaab, /* 1/3f */ 0x4b800001,
		0x3f7fffff, 0x4effffff,
	};
	volatile double one = 1.0, three = 3.0, ten = 10.0;
	volatile float onef = 1.0f, threef = 3.0f;
	unsigned i;

	printf("== printf\n");
	for (i = 0; i < sizeof d / sizeof d[0]; i++)
		print_double(from_bits_d(d[i]));
	for (i = 0; i < sizeof dec / sizeof dec[0]; i++)
		print_double(dec[i]);
	for (i = 0; i < sizeof f / sizeof f[0]; i++) {
		float x = from_bits_f(f[i]);
		printf("float %08x: %a | %.9g | %g\n", (unsigned)f[i], (double)x,
		       (double)x, (double)x);
	}
	/* Powers of ten and two, computed at run time. */
	{
		volatile double p = 1.0, q = 1.0;
		for (i = 0; i < 23; i++) {
			p *= ten;
			q /= ten;
		}
		printf("1e23 computed: %a %.17g; 1e-23: %a %.17g\n", p, p, q, q);
		p = 1.0;
		for (i = 0; i < 1074; i++) {
			p /= 2.0;
			if (i % 97 == 0 || i >= 1070)
				printf("2^-%u = %a = %.17g\n", i + 1, p, p);
		}
		p = 1.0;
		for (i = 0; i < 1024; i++) {
			p *= 2.0;
			if (i % 113 == 0 || i >= 1022)
				printf("2^%u = %a = %.17g = %g\n", i + 1, p, p, p);
		}
	}
	printf("1/3 = %a %.17g %.40f\n", one / three, one / three, one / three);
	printf("1/3f = %a %.9g\n", (double)(onef / threef), (double)(onef / threef));
	printf("DBL_MAX %%.0f: %.0f\n", DBL_MAX);
	printf("DBL_MIN %%.330f: %.330f\n", DBL_MIN);
	printf("0.1 %%.60f: %.60f\n", 0.1);
	{
		char buf[1200];
		snprintf(buf, sizeof buf, "%.1100g", 5e-324);
		printf("5e-324 %%.1100g: %zu chars, ends %s\n", strlen(buf),
		       buf + strlen(buf) - 20);
	}
}

/* ---------------------------------------------------------------- strtod */

static void part_strtod(void)
{
	static const char *s[] = {
		"0", "-0", "0.1", "0.2", "0.3", "1e-310", "4.9e-324",
		"2.4703282292062327e-324", "2.4703282292062328e-324",
		"2.2250738585072011e-308", "2.2250738585072014e-308",
		"1.7976931348623157e308", "1.7976931348623158e308",
		"1.7976931348623159e308", "1e400", "-1e400", "1e-400",
		"inf", "-infinity", "nan", "-nan", "nan(0x123)", "nan(0xfffffffffffff)",
		"0x1.fffffffffffffp1023", "0x1p-1074", "0x1.8p-1074", "0x1p-1075",
		"0x1.0000000000000fp0", "0x1.00000000000008p0", "0x1.00000000000018p0",
		"9007199254740993", "9007199254740995", "123456789012345678901234567890",
		"3.14159265358979323846264338327950288", "2.5", "1e23", "8.5e-5",
		"0.1e1", ".5", "1e", "12abc", "   -7.25", "0x", "1.00000000000000011102230246251565404236316680908203125",
		"1.00000000000000011102230246251565404236316680908203124",
		"1.00000000000000011102230246251565404236316680908203126",
	};
	unsigned i;

	printf("== strtod\n");
	for (i = 0; i < sizeof s / sizeof s[0]; i++) {
		char *end, buf[64];
		double x, y;
		float xf, yf;
		int e, ef;

		errno = 0;
		x = strtod(s[i], &end);
		e = errno;
		snprintf(buf, sizeof buf, "%.17g", x);
		y = strtod(buf, NULL);
		printf("strtod(\"%s\") = %016llx end+%d%s; %%.17g %s %s\n", s[i],
		       (unsigned long long)bits_d(x), (int)(end - s[i]),
		       e == ERANGE ? " ERANGE" : "", buf,
		       isnan(x) ? "(nan)" :
		       bits_d(x) == bits_d(y) ? "round-trips" : "DIFFERS");
		errno = 0;
		xf = strtof(s[i], &end);
		ef = errno;
		/* (double) of a float NaN keeps its sign on x86, not on
		 * RISC-V (fcvt.d.s gives the canonical NaN). */
		snprintf(buf, sizeof buf, "%.9g", isnan(xf) ? 0.0 : (double)xf);
		yf = strtof(buf, NULL);
		printf("strtof(\"%s\") = %08x end+%d%s; %%.9g %s %s\n", s[i],
		       (unsigned)bits_f(xf), (int)(end - s[i]),
		       ef == ERANGE ? " ERANGE" : "", buf,
		       isnan(xf) ? "(nan)" :
		       bits_f(xf) == bits_f(yf) ? "round-trips" : "DIFFERS");
	}
}

/* ------------------------------------------------------------------ libm */

static const double args[] = {
	0.0, -0.0, 1e-300, 1e-8, 0.1, 0.5, 0.75, 1.0, -1.0, 1.5, 2.0, 3.0,
	3.141592653589793, 10.0, -10.0, 100.5, 1e6, 1e22, 1e300, 5e-324,
	-2.5, 0.7853981633974483, 709.78, 710.0, -745.0, -746.0,
};
#define NARGS (sizeof args / sizeof args[0])

static void part_libm(void)
{
	volatile double v, w;
	volatile float vf;
	char name[64];
	unsigned i, j;

	printf("== libm\n");
	for (i = 0; i < NARGS; i++) {
		v = args[i];
		printf("x = %a\n", v);
		pr("  sin", sin(v));
		pr("  cos", cos(v));
		pr("  tan", tan(v));
		pr("  exp", exp(v));
		pr("  log", log(v));
		pr("  log2", log2(v));
		pr("  log10", log10(v));
		pr("  sqrt", sqrt(v));
		pr("  floor", floor(v));
		pr("  ceil", ceil(v));
		pr("  trunc", trunc(v));
		pr("  round", round(v));
		pr("  rint", rint(v));
		pr("  nearbyint", nearbyint(v));
		if (fabs(v) < 1e18) {
			printf("  lrint %ld llrint %lld lround %ld\n", lrint(v),
			       llrint(v), lround(v));
		}
		pr("  nextafter(x, inf)", nextafter(v, INFINITY));
		pr("  nextafter(x, -inf)", nextafter(v, -INFINITY));
		vf = (float)v;
		prf("  sinf", sinf(vf));
		prf("  cosf", cosf(vf));
		prf("  expf", expf(vf));
		prf("  logf", logf(vf));
		prf("  sqrtf", sqrtf(vf));
		prf("  nextafterf(x, 0)", nextafterf(vf, 0.0f));
	}
	for (i = 0; i < NARGS; i += 2) {
		for (j = 1; j < NARGS; j += 3) {
			v = args[i];
			w = args[j];
			printf("x = %a, y = %a\n", v, w);
			pr("  pow", pow(v, w));
			pr("  atan2", atan2(v, w));
			pr("  fmod", fmod(v, w));
			pr("  remainder", remainder(v, w));
			pr("  fma(x, y, -1)", fma(v, w, -1.0));
			pr("  fma(x, x, -x*x)", fma(v, v, -(v * v)));
			prf("  powf", powf((float)v, (float)w));
			prf("  fmaf(x, y, 1/3)", fmaf((float)v, (float)w, 1.0f / 3));
		}
	}
	/* pow with exact and special cases. */
	{
		static const double pw[][2] = {
			{2, 10}, {2, -1074}, {2, 1024}, {-2, 3}, {-2, 0.5},
			{0, -1}, {-0.0, -3}, {1, NAN}, {NAN, 0}, {10, 308},
			{10, -323}, {1.0000001, 1e9}, {-1, INFINITY}, {0.5, -1075},
		};
		for (i = 0; i < sizeof pw / sizeof pw[0]; i++) {
			snprintf(name, sizeof name, "pow(%g, %g)", pw[i][0], pw[i][1]);
			v = pw[i][0];
			w = pw[i][1];
			pr(name, pow(v, w));
		}
	}
	/* A deterministic sweep: sum of results over many arguments. */
	{
		double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
		for (i = 1; i <= 2000; i++) {
			v = i * 0.0123456789;
			s1 += sin(v) * cos(v);
			s2 += exp(-v) + log(v);
			s3 += pow(v, 1.37) + atan2(v, 3.0);
			s4 += sqrt(v) + tan(v);
		}
		printf("sweep sums: %a %a %a %a\n", s1, s2, s3, s4);
	}
}

#define CHECK(desc, expr)                                                   \
	do {                                                                \
		volatile double r_;                                         \
		int f_;                                                     \
		feclearexcept(FE_ALL_EXCEPT);                               \
		r_ = (expr);                                                \
		f_ = flags();                                               \
		printf("  %-26s flags%-15s %s\n", desc, flag_names(f_),   \
		       fmt(r_));                                            \
	} while (0)

#define CHECKF(desc, expr)                                                  \
	do {                                                                \
		volatile float r_;                                          \
		int f_;                                                     \
		feclearexcept(FE_ALL_EXCEPT);                               \
		r_ = (expr);                                                \
		f_ = flags();                                               \
		printf("  %-26s flags%-15s %s\n", desc, flag_names(f_),   \
		       fmt(r_));                                            \
	} while (0)

/* Results that legitimately differ between riscv64 and x86-64 glibc, checked
 * against qemu-riscv64 and tests/guest/expected/fp_libm_riscv.out instead of
 * the host: cbrt and hypot (different implementations, 1-2 ulp apart), fmin
 * and fmax of zeros of both signs (either is allowed; RISC-V's fmin.d orders
 * -0 < +0), the flags of floor/ceil/trunc/round (x86 glibc's floor raises
 * inexact; riscv64 glibc saves and restores the flags around fcvt). */
static void part_riscv(void)
{
	static const double z[] = {0.0, -0.0, 1.0, -1.0, NAN};
	volatile double v, w;
	unsigned i, j;

	printf("== libm (riscv64 glibc)\n");
	for (i = 0; i < NARGS; i++) {
		v = args[i];
		printf("x = %a\n", v);
		pr("  cbrt", cbrt(v));
		prf("  cbrtf", cbrtf((float)v));
		for (j = 0; j < NARGS; j += 4) {
			w = args[j];
			pr("  hypot(x, y)", hypot(v, w));
		}
		CHECK("floor", floor(v));
		CHECK("ceil", ceil(v));
		CHECK("trunc", trunc(v));
		CHECK("round", round(v));
		CHECK("roundeven", roundeven(v));
		CHECK("rint", rint(v));
		CHECK("nearbyint", nearbyint(v));
		CHECKF("floorf", floorf((float)v));
		CHECKF("roundf", roundf((float)v));
	}
	for (i = 0; i < 5; i++)
		for (j = 0; j < 5; j++) {
			v = z[i];
			w = z[j];
			printf("fmin(%g, %g) = %g fmax = %g fminf = %g fmaxf = %g\n",
			       v, w, fmin(v, w), fmax(v, w),
			       (double)fminf((float)v, (float)w),
			       (double)fmaxf((float)v, (float)w));
		}
	{
		double s = 0;
		for (i = 1; i <= 2000; i++) {
			v = i * 0.0123456789;
			s += cbrt(v) + hypot(v, 1.0);
		}
		printf("sweep sum: %a\n", s);
	}
}

/* ----------------------------------------------------------------- round */

static const struct {
	int mode;
	const char *name;
} modes[] = {
	{FE_TONEAREST, "FE_TONEAREST"},
	{FE_UPWARD, "FE_UPWARD"},
	{FE_DOWNWARD, "FE_DOWNWARD"},
	{FE_TOWARDZERO, "FE_TOWARDZERO"},
};

static void round_mode(int m)
{
	static const double half[] = {
		0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.3, -0.7, 1.7, -1.2,
		4503599627370495.5, -4503599627370495.5, 1e15 + 0.5, 2147483647.5,
	};
	volatile double a, b, c, one = 1.0, three = 3.0, tenth = 0.1,
				 two = 2.0, big = 1e308, tiny = 0x1p-1074;
	volatile float af, bf, onef = 1.0f, threef = 3.0f;
	volatile long long ll;
	volatile int ii;
	char buf[80];
	unsigned i;

	int set = fesetround(modes[m].mode);

	printf("== round %s: fesetround %d fegetround ok %d\n", modes[m].name,
	       set, fegetround() == modes[m].mode);
	for (i = 0; i < sizeof half / sizeof half[0]; i++) {
		a = half[i];
		printf("  %-22.1f rint %-22.1f nearbyint %-22.1f lrint %ld llrint %lld rintf %.1f\n",
		       a, rint(a), nearbyint(a), lrint(a), llrint(a),
		       (double)rintf((float)a));
	}
	pr("  1/3", one / three);
	pr("  -1/3", -one / three);
	pr("  2/3", two / three);
	pr("  0.1+0.2", tenth + 0.2);
	pr("  0.1*3", tenth * three);
	pr("  1-2^-60", one - 0x1p-60);
	pr("  -1+2^-60", -one + 0x1p-60);
	pr("  1+2^-60", one + 0x1p-60);
	pr("  0.1-1/3", tenth - one / three);
	pr("  1e308*10", big * 10.0);
	pr("  -1e308*10", -big * 10.0);
	pr("  tiny/2", tiny / two);
	pr("  -tiny/2", -tiny / two);
	pr("  tiny*0.75", tiny * 0.75);
	pr("  sqrt(2)", sqrt(two));
	pr("  sqrt(3)", sqrt(three));
	pr("  sqrt(0.1)", sqrt(tenth));
	a = 0.1;
	b = 10.0;
	c = -1.0;
	pr("  fma(0.1, 10, -1)", fma(a, b, c));
	pr("  fma(1/3, 3, -1)", fma(one / three, three, c));
	pr("  0.1*10-1", a * b + c);
	prf("  1/3f", onef / threef);
	prf("  -1/3f", -onef / threef);
	prf("  sqrtf(2)", sqrtf((float)two));
	af = 0.1f;
	bf = 0.2f;
	prf("  0.1f+0.2f", af + bf);
	prf("  (float)0.1", (float)tenth);
	prf("  (float)-0.1", (float)-tenth);
	prf("  (float)1e308", (float)big);
	prf("  (float)(1+2^-30)", (float)(one + 0x1p-30));
	ll = 9007199254740993LL;
	pr("  (double)(2^53+1)", (double)ll);
	ll = -9007199254740993LL;
	pr("  (double)-(2^53+1)", (double)ll);
	ll = 0x7fffffffffffffffLL;
	pr("  (double)INT64_MAX", (double)ll);
	pr("  (double)(uint64)-1", (double)(unsigned long long)-1LL);
	ii = 16777217;
	prf("  (float)16777217", (float)ii);
	ii = -16777219;
	prf("  (float)-16777219", (float)ii);
	/* Truncating conversions ignore the mode. */
	a = -2.7;
	printf("  (int)-2.7 %d (long)2.7 %ld\n", (int)a, (long)-a);
	/* glibc's printf and strtod round in the current mode. */
	a = 0.125;
	b = 2.675;
	printf("  printf %%.2f 0.125 %.2f 2.675 %.2f -0.125 %.2f %%.3g 1/3 %.3g %%.17g 0.1 %.17g\n",
	       a, b, -a, one / three, tenth);
	printf("  strtod 0.1 %016llx -0.1 %016llx 1e400 %016llx 1e-400 %016llx strtof 0.1 %08x\n",
	       (unsigned long long)bits_d(strtod("0.1", NULL)),
	       (unsigned long long)bits_d(strtod("-0.1", NULL)),
	       (unsigned long long)bits_d(strtod("1e400", NULL)),
	       (unsigned long long)bits_d(strtod("-1e-400", NULL)),
	       (unsigned)bits_f(strtof("0.1", NULL)));
	snprintf(buf, sizeof buf, "%.20e", one / three);
	printf("  1/3 %%.20e %s\n", buf);
	fesetround(FE_TONEAREST);
}

static void part_round(void)
{
	unsigned m;

	printf("== round\n");
	for (m = 0; m < 4; m++)
		round_mode(m);
	printf("after: fegetround is FE_TONEAREST %d\n", fegetround() == FE_TONEAREST);
}

/* ----------------------------------------------------------------- flags */

static void flags_mode(int m)
{
	volatile double zero = 0.0, one = 1.0, three = 3.0, minus1 = -1.0,
			inf = INFINITY, nan = NAN, max = DBL_MAX, min = DBL_MIN,
			big = 1e300, tiny = 0x1p-1074, below = 1.0 - 0x1p-53,
			up27 = 0x1p-1022 * (1 + 0x1p-27), down27 = 1 - 0x1p-27;
	volatile float onef = 1.0f, zerof = 0.0f, maxf = FLT_MAX, minf = FLT_MIN;
	volatile long l;

	fesetround(modes[m].mode);
	printf("== flags %s\n", modes[m].name);
	CHECK("1+1", one + one);
	CHECK("1/3", one / three);
	CHECK("1/0", one / zero);
	CHECK("-1/0", minus1 / zero);
	CHECK("0/0", zero / zero);
	CHECK("inf-inf", inf - inf);
	CHECK("0*inf", zero * inf);
	CHECK("inf/inf", inf / inf);
	CHECK("sqrt(-1)", sqrt(minus1));
	CHECK("sqrt(-0)", sqrt(-zero));
	CHECK("nan+1", nan + one);
	CHECK("DBL_MAX*2", max * 2.0);
	CHECK("DBL_MAX+DBL_MAX/2^53", max + max * 0x1p-53);
	CHECK("-DBL_MAX*2", -max * 2.0);
	CHECK("1e300*1e300", big * big);
	CHECK("DBL_MIN*DBL_MIN", min * min);
	CHECK("DBL_MIN/2 (exact)", min / 2.0);
	CHECK("DBL_MIN*(1-2^-53)", min * below);
	CHECK("-DBL_MIN*(1-2^-53)", -min * below);
	/* DBL_MIN*(1-2^-54) exactly: tiny before rounding; rounds to DBL_MIN
	 * (not tiny after rounding: no UF) in rne and rup. */
	CHECK("DBL_MIN(1+2^-27)*(1-2^-27)", up27 * down27);
	CHECK("-DBL_MIN(1+2^-27)*(1-2^-27)", -up27 * down27);
	CHECK("tiny/2", tiny / 2.0);
	CHECK("tiny*2 (exact)", tiny * 2.0);
	CHECK("inf+1 (exact)", inf + one);
	CHECK("1/inf (exact)", one / inf);
	CHECKF("1f/0f", onef / zerof);
	CHECKF("FLT_MAX*2", maxf * 2.0f);
	CHECKF("FLT_MIN/3", minf / 3.0f);
	CHECKF("(float)1e300", (float)big);
	CHECKF("(float)1e-300", (float)(one / big));
	CHECKF("(float)DBL_MIN*(1-2^-53)", (float)(min * below));
	CHECKF("(float)nan", (float)nan);
	CHECKF("(float)1/3", (float)(one / three));
	CHECK("(double)(1/3f)", (double)(onef / 3.0f));
	CHECK("isless(1, nan)", isless(one, nan));
	CHECK("1 == nan", one == nan);
	CHECK("rint(2.5)", rint(2.5 + zero));
	CHECK("nearbyint(2.5)", nearbyint(2.5 + zero));
	CHECK("rint(2.0)", rint(2.0 + zero));
	CHECK("nextafter(DBL_MAX, inf)", nextafter(max, inf));
	CHECK("nextafter(0, 1)", nextafter(zero, one));
	CHECK("log(0)", log(zero));
	CHECK("log(-1)", log(minus1));
	CHECK("exp(1000)", exp(1000.0 + zero));
	CHECK("exp(-1000)", exp(-1000.0 + zero));
	CHECK("exp(0)", exp(zero));
	CHECK("pow(0, -1)", pow(zero, minus1));
	CHECK("fma(inf, 0, 1)", fma(inf, zero, one));
	CHECK("fmod(1, 0)", fmod(one, zero));
	feclearexcept(FE_ALL_EXCEPT);
	l = lrint(2.5 + zero);
	printf("  %-26s flags%s\n", "lrint(2.5)", flag_names(flags()));
	feclearexcept(FE_ALL_EXCEPT);
	l = lrint(3.0 + zero);
	printf("  %-26s flags%s\n", "lrint(3.0)", flag_names(flags()));
	feclearexcept(FE_ALL_EXCEPT);
	l = lrint(1e30 + zero);
	printf("  %-26s flags%s\n", "lrint(1e30)", flag_names(flags()));
	feclearexcept(FE_ALL_EXCEPT);
	l = lrint(nan);
	printf("  %-26s flags%s\n", "lrint(nan)", flag_names(flags()));
	(void)l;
	/* Flags accumulate until cleared. */
	feclearexcept(FE_ALL_EXCEPT);
	{
		volatile double r = one / zero;
		r = max * 2.0;
		r = zero / zero;
		(void)r;
	}
	printf("  %-26s flags%s\n", "DZ then OF then NV", flag_names(flags()));
	feclearexcept(FE_OVERFLOW | FE_INEXACT);
	printf("  %-26s flags%s\n", "clear OF|NX", flag_names(flags()));
	fesetround(FE_TONEAREST);
}

static void part_flags(void)
{
	fexcept_t saved;
	fenv_t env;
	unsigned m;
	volatile double one = 1.0, three = 3.0, zero = 0.0, r;

	printf("== flags\n");
	for (m = 0; m < 4; m++)
		flags_mode(m);
	printf("== fenv\n");
	feclearexcept(FE_ALL_EXCEPT);
	feraiseexcept(FE_OVERFLOW);
	printf("feraiseexcept(OF): flags%s\n", flag_names(flags()));
	feraiseexcept(FE_DIVBYZERO | FE_INVALID);
	printf("feraiseexcept(DZ|NV): flags%s\n", flag_names(flags()));
	fegetexceptflag(&saved, FE_ALL_EXCEPT);
	feclearexcept(FE_ALL_EXCEPT);
	printf("cleared: flags%s\n", flag_names(flags()));
	fesetexceptflag(&saved, FE_DIVBYZERO);
	printf("fesetexceptflag(saved, DZ): flags%s\n", flag_names(flags()));
	fesetround(FE_UPWARD);
	fegetenv(&env);
	fesetround(FE_DOWNWARD);
	r = one / three;
	printf("down: 1/3 %a flags%s\n", r, flag_names(flags()));
	fesetenv(&env);
	r = one / three;
	printf("fesetenv(up, DZ): round up %d 1/3 %a flags%s\n",
	       fegetround() == FE_UPWARD, r, flag_names(flags()));
	feholdexcept(&env);
	printf("feholdexcept: flags%s round up %d\n", flag_names(flags()),
	       fegetround() == FE_UPWARD);
	r = one / zero;
	feupdateenv(&env);
	printf("feupdateenv: flags%s round up %d\n", flag_names(flags()),
	       fegetround() == FE_UPWARD);
	fesetenv(FE_DFL_ENV);
	printf("FE_DFL_ENV: flags%s nearest %d\n", flag_names(flags()),
	       fegetround() == FE_TONEAREST);
	(void)r;
}

int main(int argc, char **argv)
{
	const char *part = argc > 1 ? argv[1] : "all";
	int all = !strcmp(part, "all");

	if (all || !strcmp(part, "printf"))
		part_printf();
	if (all || !strcmp(part, "strtod"))
		part_strtod();
	if (all || !strcmp(part, "libm"))
		part_libm();
	if (all || !strcmp(part, "round"))
		part_round();
	if (all || !strcmp(part, "flags"))
		part_flags();
	if (!strcmp(part, "riscv"))
		part_riscv();
	return 0;
}
