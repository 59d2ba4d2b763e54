/* Floating-point kernels for benches/fp.sh: the same source runs natively,
 * under qemu-riscv64 and under cranemu, and every kernel prints a checksum
 * so the three can be compared (build with -ffp-contract=off: riscv64 GCC
 * would otherwise fuse a*b+c, x86-64 without -march=... does not).
 *
 *   fpbench matmul [REPS]   200x200 double matrix multiply, REPS times
 *   fpbench nbody [STEPS]   the benchmarks game's 5-body simulation
 *   fpbench libm [N]        sin, exp, log, pow over N arguments
 *   fpbench frm [N]         N rounds of: fesetround to each of the four
 *                           modes, then a little arithmetic in that mode
 *
 * The default sizes take roughly 0.5-2 s under qemu-riscv64. */
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MN 200

static double ma[MN][MN], mb[MN][MN], mc[MN][MN];

static void matmul(long reps)
{
	double sum = 0;
	long r;
	int i, j, k;

	for (i = 0; i < MN; i++)
		for (j = 0; j < MN; j++) {
			ma[i][j] = (double)((i * 7 + j * 3) % 17) / 16.0 - 0.5;
			mb[i][j] = (double)((i * 5 + j * 11) % 23) / 11.0 + 0.25;
		}
	for (r = 0; r < reps; r++) {
		for (i = 0; i < MN; i++) {
			for (j = 0; j < MN; j++)
				mc[i][j] = 0;
			for (k = 0; k < MN; k++) {
				double a = ma[i][k];
				for (j = 0; j < MN; j++)
					mc[i][j] += a * mb[k][j];
			}
		}
		/* Feed the result back so that every repetition differs. */
		for (i = 0; i < MN; i++)
			ma[i][(i + r) % MN] += mc[i][i] * 1e-6;
		sum += mc[r % MN][(r * 7) % MN];
	}
	for (i = 0; i < MN; i++)
		for (j = 0; j < MN; j++)
			sum += mc[i][j];
	printf("matmul %dx%d x%ld: checksum %a (%.17g)\n", MN, MN, reps, sum, sum);
}

/* The benchmarks game's n-body (nbody.c, straightforward version). */
#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24

struct planet {
	double x, y, z, vx, vy, vz, mass;
};

static void advance(int n, struct planet *b, double dt)
{
	int i, j;
	for (i = 0; i < n; i++) {
		struct planet *p = &b[i];
		for (j = i + 1; j < n; j++) {
			struct planet *q = &b[j];
			double dx = p->x - q->x, dy = p->y - q->y, dz = p->z - q->z;
			double d2 = dx * dx + dy * dy + dz * dz;
			double mag = dt / (d2 * sqrt(d2));
			p->vx -= dx * q->mass * mag;
			p->vy -= dy * q->mass * mag;
			p->vz -= dz * q->mass * mag;
			q->vx += dx * p->mass * mag;
			q->vy += dy * p->mass * mag;
			q->vz += dz * p->mass * mag;
		}
	}
	for (i = 0; i < n; i++) {
		b[i].x += dt * b[i].vx;
		b[i].y += dt * b[i].vy;
		b[i].z += dt * b[i].vz;
	}
}

static double energy(int n, const struct planet *b)
{
	double e = 0;
	int i, j;
	for (i = 0; i < n; i++) {
		e += 0.5 * b[i].mass * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
		for (j = i + 1; j < n; j++) {
			double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
			e -= b[i].mass * b[j].mass / sqrt(dx * dx + dy * dy + dz * dz);
		}
	}
	return e;
}

static void nbody(long steps)
{
	struct planet b[5] = {
		{0, 0, 0, 0, 0, 0, SOLAR_MASS},
		{4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
		 1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
		 -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS},
		{8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
		 -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
		 2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS},
		{1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
		 2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
		 -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS},
		{1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
		 2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
		 -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS},
	};
	double px = 0, py = 0, pz = 0, e0, e1;
	long s;
	int i;

	for (i = 0; i < 5; i++) {
		px += b[i].vx * b[i].mass;
		py += b[i].vy * b[i].mass;
		pz += b[i].vz * b[i].mass;
	}
	b[0].vx = -px / SOLAR_MASS;
	b[0].vy = -py / SOLAR_MASS;
	b[0].vz = -pz / SOLAR_MASS;
	e0 = energy(5, b);
	for (s = 0; s < steps; s++)
		advance(5, b, 0.01);
	e1 = energy(5, b);
	printf("nbody %ld steps: energy %.9f -> %.9f checksum %a\n", steps, e0, e1, e1);
}

static void libm(long n)
{
	double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
	long i;

	for (i = 1; i <= n; i++) {
		double x = (double)i * 0.000123456789;
		s1 += sin(x);
		s2 += exp(-x * 0.01);
		s3 += log(x);
		s4 += pow(x, 0.75);
	}
	printf("libm %ld: checksum %a %a %a %a\n", n, s1, s2, s3, s4);
}

static void frm(long n)
{
	static const int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
	volatile double seed = 1.0 / 3.0;
	double acc[4] = {0, 0, 0, 0}, x = seed;
	long i;
	int m, k;

	for (i = 0; i < n; i++) {
		for (m = 0; m < 4; m++) {
			fesetround(modes[m]);
			double y = x;
			for (k = 0; k < 4; k++)
				y = y * 1.0000001 + 0.1 / (y + 3.0);
			acc[m] += y;
		}
		fesetround(FE_TONEAREST);
		x = seed + (double)(i & 1023) * 1e-3;
	}
	printf("frm %ld: checksum %a %a %a %a\n", n, acc[0], acc[1], acc[2], acc[3]);
}

int main(int argc, char **argv)
{
	const char *k = argc > 1 ? argv[1] : "";
	long n = argc > 2 ? atol(argv[2]) : 0;

	if (!strcmp(k, "matmul"))
		matmul(n ? n : 10);
	else if (!strcmp(k, "nbody"))
		nbody(n ? n : 300000);
	else if (!strcmp(k, "libm"))
		libm(n ? n : 1000000);
	else if (!strcmp(k, "frm"))
		frm(n ? n : 1000000);
	else {
		fprintf(stderr, "usage: fpbench matmul|nbody|libm|frm [SIZE]\n");
		return 2;
	}
	return 0;
}
