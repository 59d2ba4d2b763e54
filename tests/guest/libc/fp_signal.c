/* A glibc program (linked statically at test time, not committed): signals
 * and the floating-point state, as riscv64 Linux defines them.
 *
 * Linux saves f0-f31 and fcsr in the signal frame
 * (uc_mcontext.__fpregs.__d), leaves the live FP state as it was (so the
 * handler starts with the interrupted code's frm and fflags) and on
 * sigreturn restores f0-f31 and fcsr from the frame, whatever the handler
 * did to the live registers.
 *
 *   sync:  kill(getpid(), SIGUSR1) as a bare ecall inside an asm block that
 *          holds values in fs0, ft0, ft1 and fa5 and sets fcsr first, so the
 *          signal arrives at a known instruction with known FP state. The
 *          handler reports what it sees (live fcsr, the frame's registers and
 *          fcsr, 1/3 in the inherited rounding mode), then either clobbers
 *          only the live state (which must not leak back) or rewrites the
 *          frame (which the interrupted code must see).
 *   async: a loop in asm adds in fs0 until fs2 == fs3; SIGALRM from a timer
 *          interrupts it wherever it is; the handler sets fs2 and fcsr in
 *          the frame, which ends the loop with the handler's fcsr.
 *   float: a single-precision value in the frame is NaN-boxed; a value the
 *          handler puts in the frame comes back bit for bit, boxed or not. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

typedef uint64_t u64;

#define F_FT0 0
#define F_FT1 1
#define F_FS0 8
#define F_FA5 15
#define F_FS1 9
#define F_FS2 18
#define F_FS3 19

static u64 bits(double x)
{
	u64 u;
	memcpy(&u, &x, 8);
	return u;
}

/* What the handler saw and does. */
enum { LIVE_ONLY, REWRITE, ASYNC };
static volatile int mode;
static volatile int ran;
static volatile u64 h_fcsr, h_third, fr_fcsr, fr_fs0, fr_ft0, fr_ft1, fr_fa5,
		  fr_fs1, fr_fs3;

static void handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	struct __riscv_mc_d_ext_state *fp = &uc->uc_mcontext.__fpregs.__d;
	volatile double one = 1.0, three = 3.0;
	u64 fcsr;

	(void)sig;
	(void)si;
	/* Before anything else can touch it: the live fcsr. */
	__asm__ volatile("frcsr %0" : "=r"(fcsr));
	h_fcsr = fcsr;
	ran++;
	fr_fcsr = fp->__fcsr;
	fr_fs0 = fp->__f[F_FS0];
	fr_ft0 = fp->__f[F_FT0];
	fr_ft1 = fp->__f[F_FT1];
	fr_fa5 = fp->__f[F_FA5];
	fr_fs1 = fp->__f[F_FS1];
	fr_fs3 = fp->__f[F_FS3];
	if (mode == ASYNC) {
		fp->__f[F_FS2] = bits(7.0);
		fp->__fcsr = 3 << 5 | 0x08; /* rup, DZ */
		return;
	}
	/* Division in the inherited rounding mode. */
	h_third = bits(one / three);
	/* Clobber the live state: fcsr and caller-saved f registers. */
	__asm__ volatile("fscsr %0\n\t"
			 "fmv.d.x ft0, %1\n\tfmv.d.x ft1, %1\n\tfmv.d.x fa5, %1"
			 :
			 : "r"(2 << 5 | 0x1f), "r"(bits(-99.0))
			 : "ft0", "ft1", "fa5");
	if (mode == REWRITE) {
		fp->__f[F_FS0] = bits(42.25);
		fp->__f[F_FT0] = bits(-7.5);
		fp->__f[F_FT1] = 0x000000004048f5c3; /* 3.14f, not NaN-boxed */
		/* fa5 left alone: it must come back as it was. */
		fp->__fcsr = 1 << 5 | 0x04 | 0x01; /* rtz, OF, NX */
	}
}

static const char *mode_name(u64 fcsr)
{
	static const char *const n[] = {"rne", "rtz", "rdn", "rup", "rmm", "5", "6", "7"};
	return n[fcsr >> 5 & 7];
}

static void sync_test(int m, u64 fcsr_in)
{
	long pid = getpid(), ret;
	u64 fcsr_out, r_fs0, r_ft0, r_ft1, r_fa5;

	mode = m;
	ran = 0;
	/* Register variables are bound only in asm operands, and a call
	 * between here and the asm could clobber the caller-saved ones: no
	 * calls until the values are read back. */
	register double fs0 __asm__("fs0") = 1.5;
	register double ft0 __asm__("ft0") = 2.5;
	register float ft1 __asm__("ft1") = 0.75f;
	register double fa5 __asm__("fa5") = 3.5;
	register long a0 __asm__("a0") = pid;
	register long a1 __asm__("a1") = SIGUSR1;
	register long a7 __asm__("a7") = SYS_kill;
	__asm__ volatile("fscsr %[in]\n\t"
			 "ecall\n\t"
			 "frcsr %[out]"
			 : "+f"(fs0), "+f"(ft0), "+f"(ft1), "+f"(fa5), "+r"(a0),
			   [out] "=&r"(fcsr_out)
			 : [in] "r"(fcsr_in), "r"(a1), "r"(a7)
			 : "memory");
	ret = a0;
	/* Read the registers as they came back, before any FP code runs. */
	__asm__ volatile("fmv.x.d %0, fs0\n\tfmv.x.d %1, ft0\n\t"
			 "fmv.x.d %2, ft1\n\tfmv.x.d %3, fa5"
			 : "=r"(r_fs0), "=r"(r_ft0), "=r"(r_ft1), "=r"(r_fa5)
			 : "f"(fs0), "f"(ft0), "f"(ft1), "f"(fa5));
	__asm__ volatile("fscsr zero");

	printf("== sync %s, fcsr in %02llx (%s)\n", m == LIVE_ONLY ? "live-only" : "rewrite",
	       (unsigned long long)fcsr_in, mode_name(fcsr_in));
	printf("kill returned %ld, handler ran %d\n", ret, ran);
	printf("handler: live fcsr %02llx (%s), 1/3 = %016llx\n",
	       (unsigned long long)h_fcsr, mode_name(h_fcsr),
	       (unsigned long long)h_third);
	printf("frame: fcsr %02llx fs0 %016llx ft0 %016llx ft1 %016llx fa5 %016llx\n",
	       (unsigned long long)fr_fcsr, (unsigned long long)fr_fs0,
	       (unsigned long long)fr_ft0, (unsigned long long)fr_ft1,
	       (unsigned long long)fr_fa5);
	printf("after: fcsr %02llx fs0 %016llx ft0 %016llx ft1 %016llx fa5 %016llx\n",
	       (unsigned long long)fcsr_out, (unsigned long long)r_fs0,
	       (unsigned long long)r_ft0, (unsigned long long)r_ft1,
	       (unsigned long long)r_fa5);
}

static void async_test(void)
{
	register double fs0 __asm__("fs0") = 0.0;
	register double fs1 __asm__("fs1") = 1.0;
	register double fs2 __asm__("fs2") = 0.0;
	register double fs3 __asm__("fs3") = 7.0;
	struct itimerval it = {{0, 0}, {0, 20000}};
	u64 fcsr_out, r_fs2, left = 2000000000;

	mode = ASYNC;
	ran = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	__asm__ volatile("fscsr %[in]\n"
			 "1:\n\t"
			 "fadd.d fs0, fs0, fs1\n\t"
			 "feq.d t0, fs2, fs3\n\t"
			 "addi %[left], %[left], -1\n\t"
			 "beqz %[left], 2f\n\t"
			 "beqz t0, 1b\n"
			 "2:\n\t"
			 "frcsr %[out]\n\t"
			 "fmv.x.d %[r2], fs2"
			 : "+f"(fs0), "+f"(fs2), [left] "+r"(left),
			   [out] "=&r"(fcsr_out), [r2] "=&r"(r_fs2)
			 : "f"(fs1), "f"(fs3), [in] "r"(1 << 5 | 0x01)
			 : "t0", "memory");
	__asm__ volatile("fscsr zero");
	printf("== async\n");
	printf("handler ran %d, loop ended by %s\n", ran,
	       left ? "the handler's fs2" : "the iteration cap");
	printf("handler: live fcsr %02llx (%s)\n", (unsigned long long)h_fcsr,
	       mode_name(h_fcsr));
	printf("frame: fcsr %02llx fs1 %016llx fs3 %016llx\n",
	       (unsigned long long)fr_fcsr, (unsigned long long)fr_fs1,
	       (unsigned long long)fr_fs3);
	printf("after: fcsr %02llx (%s) fs2 %016llx\n", (unsigned long long)fcsr_out,
	       mode_name(fcsr_out), (unsigned long long)r_fs2);
}

int main(void)
{
	struct sigaction sa;

	setvbuf(stdout, NULL, _IONBF, 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);

	/* Each rounding mode with some flags, then none. */
	sync_test(LIVE_ONLY, 0 << 5 | 0x00);
	sync_test(LIVE_ONLY, 3 << 5 | 0x01);
	sync_test(LIVE_ONLY, 1 << 5 | 0x10);
	sync_test(REWRITE, 2 << 5 | 0x09);
	sync_test(REWRITE, 4 << 5 | 0x00);
	async_test();
	/* After all that, the program's own FP state is the default. */
	{
		u64 fcsr;
		__asm__ volatile("frcsr %0" : "=r"(fcsr));
		printf("end: fcsr %02llx\n", (unsigned long long)fcsr);
	}
	return 0;
}
