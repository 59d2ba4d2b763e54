/* A glibc program (linked statically at test time, not committed): signal
 * delivery to guest handlers. raise/kill with SA_SIGINFO, blocking then
 * unblocking, sigsuspend, alarm + pause, SIGSEGV + siglongjmp, a SIGSEGV
 * handler that reads the registers at a faulting load and resumes after
 * it, SIGILL,
 * SA_RESETHAND, SIGCHLD from a child, a child killed by SIGSEGV, a
 * read restarted after an SA_RESTART handler, and the fault signals sent
 * by another process (kill -SEGV ...), which go to the handlers as any
 * signal does. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t got, got_sig, got_code, got_pid_ok, chld;
static sigjmp_buf env;
static volatile void *fault_addr;

static void on_info(int sig, siginfo_t *si, void *uc)
{
	got++;
	got_sig = sig;
	got_code = si->si_code;
	got_pid_ok = si->si_pid == getpid();
	(void)uc;
}

static void on_refault(int sig)
{
	(void)sig;
	*(volatile int *)0 = 1;
}

static void on_plain(int sig)
{
	got++;
	got_sig = sig;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	fault_addr = si->si_addr;
	siglongjmp(env, 1);
}

/* What on_segv_skip saw: the pc and t1, t2 of the faulting load. */
static volatile unsigned long seen_pc, seen_t1, seen_t2;

/* Resumes after the faulting instruction (a 4-byte load). */
static void on_segv_skip(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	(void)si;
	seen_pc = uc->uc_mcontext.__gregs[0];
	seen_t1 = uc->uc_mcontext.__gregs[6];
	seen_t2 = uc->uc_mcontext.__gregs[7];
	uc->uc_mcontext.__gregs[0] += 4;
}

/* Registers written just before a load that faults: the handler must
 * see them, and the pc of the load itself (an emulator that stores
 * registers late must still make them exact there). Looped, so that a
 * JIT compiles it. */
static void segv_resume(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv_skip;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, &old);
	int ok = 0;
	for (int i = 0; i < 3; i++) {
		unsigned long t1, t2, at;
		__asm__ volatile("li t0, 24\n\t"
				 "addi t1, zero, 41\n\t"
				 "addi t1, t1, 1\n\t"
				 "addi t2, t1, 1\n\t"
				 "1: ld t3, 0(t0)\n\t"
				 "addi t1, t1, 100\n\t"
				 "la %2, 1b\n\t"
				 "mv %0, t1\n\t"
				 "mv %1, t2"
				 : "=r"(t1), "=r"(t2), "=r"(at)
				 :
				 : "t0", "t1", "t2", "t3", "memory");
		ok += seen_pc == at && seen_t1 == 42 && seen_t2 == 43 && t1 == 142 && t2 == 43;
	}
	sigaction(SIGSEGV, &old, NULL);
	printf("segv resume: ok=%d of 3\n", ok);
}

static volatile sig_atomic_t on_alt, alt_flags;
static char *alt_lo, *alt_hi;

static void on_stack(int sig)
{
	char here;
	stack_t cur;
	(void)sig;
	on_alt = &here >= alt_lo && &here < alt_hi;
	sigaltstack(NULL, &cur);
	alt_flags = cur.ss_flags;
}

static void on_chld(int sig)
{
	(void)sig;
	chld++;
}

static void set(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t s, old;
	setvbuf(stdout, NULL, _IONBF, 0);

	/* raise and kill to an SA_SIGINFO handler. */
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("raise: got=%d sig=%d code=%d\n", got, got_sig, got_code);
	kill(getpid(), SIGUSR1);
	printf("kill: got=%d sig=%d code=%d pid_ok=%d\n", got, got_sig, got_code, got_pid_ok);

	/* Blocked, then delivered when unblocked. */
	got = 0;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, &old);
	kill(getpid(), SIGUSR1);
	sigset_t pend;
	sigpending(&pend);
	printf("blocked: got=%d pending=%d\n", got, sigismember(&pend, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("unblocked: got=%d\n", got);

	/* sigsuspend: blocked signal delivered inside, mask restored after. */
	got = 0;
	sigprocmask(SIG_BLOCK, &s, &old);
	kill(getpid(), SIGUSR1);
	sigset_t empty;
	sigemptyset(&empty);
	int r = sigsuspend(&empty);
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("sigsuspend: r=%d got=%d still_blocked=%d\n", r, got, sigismember(&now, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* alarm + pause. */
	got = 0;
	set(SIGALRM, on_plain, 0);
	alarm(1);
	pause();
	printf("alarm: got=%d sig=%d\n", got, got_sig);

	/* SIGSEGV + siglongjmp from a NULL write. */
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	got_sig = 0;
	if (sigsetjmp(env, 1) == 0) {
		*(volatile int *)0 = 1;
		printf("segv: not raised\n");
	} else {
		printf("segv: sig=%d addr=%p\n", got_sig, (void *)fault_addr);
	}
	/* The mask was restored by siglongjmp: a second fault is caught too. */
	got_sig = 0;
	if (sigsetjmp(env, 1) == 0) {
		*(volatile int *)16 = 1;
	} else {
		printf("segv again: sig=%d addr=%p\n", got_sig, (void *)fault_addr);
	}

	segv_resume();

	/* SIGILL. */
	sigaction(SIGILL, &sa, NULL);
	got_sig = 0;
	if (sigsetjmp(env, 1) == 0) {
		__asm__ volatile(".word 0");
		printf("sigill: not raised\n");
	} else {
		printf("sigill: sig=%d\n", got_sig);
	}

	/* SA_RESETHAND: the second one is default (ignored for SIGURG? use
	 * SIGUSR2 and check the disposition instead). */
	got = 0;
	set(SIGUSR2, on_plain, SA_RESETHAND);
	raise(SIGUSR2);
	sigaction(SIGUSR2, NULL, &sa);
	printf("resethand: got=%d now_default=%d\n", got, sa.sa_handler == SIG_DFL);

	/* SA_ONSTACK: the handler runs on the alternate stack. */
	static char alt[65536];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0 };
	sigaltstack(&ss, NULL);
	alt_lo = alt;
	alt_hi = alt + sizeof alt;
	set(SIGUSR2, on_stack, SA_ONSTACK);
	raise(SIGUSR2);
	printf("onstack: in_alt=%d flags_in_handler=%d\n", on_alt, alt_flags);

	/* fork: the child exits, SIGCHLD runs, waitpid reaps it. */
	set(SIGCHLD, on_chld, 0);
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		;
	printf("child: exited=%d status=%d chld=%d\n", WIFEXITED(st), WEXITSTATUS(st), chld > 0);

	/* A child killed by SIGSEGV. */
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile int *)0 = 1;
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0)
		;
	printf("segv child: signaled=%d sig=%d\n", WIFSIGNALED(st), WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	/* SA_RESTART: a read interrupted by a handler is restarted. */
	int fds[2];
	pipe(fds);
	got = 0;
	set(SIGALRM, on_plain, SA_RESTART);
	pid = fork();
	if (pid == 0) {
		usleep(200000);
		write(fds[1], "x", 1);
		_exit(0);
	}
	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	char c = 0;
	ssize_t n = read(fds[0], &c, 1);
	printf("restart: n=%zd c=%c got=%d\n", n, c, got);
	while (waitpid(pid, &st, 0) < 0)
		;
	/* sigwait / sigtimedwait on blocked signals. */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	got = 0;
	raise(SIGUSR1);
	int w = 0;
	sigwait(&s, &w);
	struct timespec ts = { 0, 10000000 };
	int tw = sigtimedwait(&s, NULL, &ts);
	printf("sigwait: sig=%d got=%d timedwait=%d\n", w, got, tw);

	/* A SIGSEGV handler on the alternate stack that faults again
	 * (SA_NODEFER): once a frame no longer fits the alternate stack, the
	 * process dies of SIGSEGV (it once looped forever, writing frames
	 * below the stack). */
	pid = fork();
	if (pid == 0) {
		static char small[16384];
		stack_t ss2 = { .ss_sp = small, .ss_size = sizeof small, .ss_flags = 0 };
		sigaltstack(&ss2, NULL);
		set(SIGSEGV, on_refault, SA_ONSTACK | SA_NODEFER);
		*(volatile int *)0 = 1;
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0)
		;
	printf("altstack overflow child: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));

	/* Fault signals sent by a child: handled as sent signals (SI_USER,
	 * the child's pid), not taken for faults (SIGSEGV and SIGBUS were
	 * once lost, the others killed the process past its handler). */
	/* With the argument "all", SIGILL, SIGFPE and SIGTRAP too, which
	 * qemu-riscv64 (7.2 and 10) takes for faults of its own and dies of. */
	static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP };
	unsigned nfaults = argc > 1 && strcmp(argv[1], "all") == 0 ? 5 : 2;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	for (unsigned i = 0; i < nfaults; i++) {
		sigaction(faults[i], &sa, NULL);
		sigemptyset(&s);
		sigaddset(&s, faults[i]);
		sigprocmask(SIG_BLOCK, &s, &old);
		got = 0;
		pid = fork();
		if (pid == 0) {
			kill(getppid(), faults[i]);
			_exit(0);
		}
		while (waitpid(pid, &st, 0) < 0)
			;
		sigprocmask(SIG_SETMASK, &old, NULL);
		printf("sent %d: got=%d sig=%d code=%d\n", faults[i], got, got_sig, got_code);
	}
	printf("done\n");
	return 0;
}
