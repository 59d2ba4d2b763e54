/* A glibc program (linked statically at test time, not committed):
 * real-time signals queue. sigqueue to itself while the signal is blocked,
 * then unblocked (each value delivered once, in order, lowest signal
 * first), kill of a real-time signal twice (two deliveries) against a
 * standard signal twice (one), sigwaitinfo taking queued values one at a
 * time, pthread_sigqueue to a thread waiting in sigwaitinfo, a child
 * queueing values to its parent, a handler run before sigqueue returns,
 * one signal per sigsuspend, a thread's own signals before the process's,
 * and the errors (EINVAL, EPERM, EFAULT). Linux kernel/signal.c
 * semantics. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXREC 16

static volatile sig_atomic_t nrec;
static volatile int rec_sig[MAXREC], rec_val[MAXREC], rec_code[MAXREC], rec_pid[MAXREC];

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (nrec < MAXREC) {
		rec_sig[nrec] = sig;
		rec_val[nrec] = si->si_value.sival_int;
		rec_code[nrec] = si->si_code;
		rec_pid[nrec] = si->si_pid;
		nrec++;
	}
}

static const char *code_name(int code)
{
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_TKILL: return "SI_TKILL";
	default: return "other";
	}
}

/* Prints what the handler recorded since the last call; signals are named
 * relative to SIGRTMIN (glibc's, 34: two are its own). */
static void dump(const char *what, pid_t sender)
{
	printf("%s: %d\n", what, (int)nrec);
	for (int i = 0; i < nrec; i++) {
		int s = rec_sig[i];
		if (s >= SIGRTMIN)
			printf("  SIGRTMIN+%d", s - SIGRTMIN);
		else
			printf("  %s", s == SIGUSR1 ? "SIGUSR1" : "?");
		printf(" value %d %s sender %s\n", rec_val[i], code_name(rec_code[i]),
		       rec_pid[i] == sender ? "ok" : "wrong");
	}
	nrec = 0;
}

/* Takes n occurrences of sig with sigwaitinfo and prints each. */
static void wait_print(const char *what, int sig, int n, pid_t sender)
{
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, sig);
	for (int i = 0; i < n; i++) {
		siginfo_t si;
		int got = sigwaitinfo(&w, &si);
		printf("%s: SIGRTMIN+%d value %d %s sender %s\n", what, got - SIGRTMIN,
		       si.si_value.sival_int, code_name(si.si_code),
		       si.si_pid == sender ? "ok" : "wrong");
	}
}

static void install(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO;
	/* No handler nests in another: deliveries come lowest signal first. */
	sigfillset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void block(int sig, int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, NULL);
}

static int queue(pid_t pid, int sig, int v)
{
	union sigval sv;
	sv.sival_int = v;
	return sigqueue(pid, sig, sv);
}

static void *waiter(void *arg)
{
	sigset_t s;
	siginfo_t si;
	(void)arg;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 4);
	int sig = sigwaitinfo(&s, &si);
	printf("thread: SIGRTMIN+%d value %d %s\n", sig - SIGRTMIN, si.si_value.sival_int,
	       code_name(si.si_code));
	return NULL;
}

int main(void)
{
	pid_t me = getpid();
	setvbuf(stdout, NULL, _IONBF, 0);
	install(SIGRTMIN);
	install(SIGRTMIN + 1);
	install(SIGUSR1);

	/* Three values queued while blocked: three deliveries, in order. */
	block(SIGRTMIN, SIG_BLOCK);
	for (int v = 10; v <= 30; v += 10)
		queue(me, SIGRTMIN, v);
	sigset_t p;
	sigpending(&p);
	printf("pending while blocked: %d, delivered: %d\n", sigismember(&p, SIGRTMIN), (int)nrec);
	block(SIGRTMIN, SIG_UNBLOCK);
	dump("sigqueue x3 while blocked", me);

	/* Two real-time signals: the lower one first, whatever the order sent. */
	block(SIGRTMIN, SIG_BLOCK);
	block(SIGRTMIN + 1, SIG_BLOCK);
	queue(me, SIGRTMIN + 1, 1);
	queue(me, SIGRTMIN, 2);
	queue(me, SIGRTMIN + 1, 3);
	sigset_t both;
	sigemptyset(&both);
	sigaddset(&both, SIGRTMIN);
	sigaddset(&both, SIGRTMIN + 1);
	sigprocmask(SIG_UNBLOCK, &both, NULL);
	dump("two signals, lowest first", me);

	/* kill queues a real-time signal too, but not a standard one. */
	block(SIGRTMIN, SIG_BLOCK);
	kill(me, SIGRTMIN);
	kill(me, SIGRTMIN);
	block(SIGRTMIN, SIG_UNBLOCK);
	dump("kill x2 of SIGRTMIN", me);
	block(SIGUSR1, SIG_BLOCK);
	kill(me, SIGUSR1);
	kill(me, SIGUSR1);
	block(SIGUSR1, SIG_UNBLOCK);
	dump("kill x2 of SIGUSR1", me);

	/* Unblocked: the handler runs before sigqueue returns. */
	queue(me, SIGRTMIN, 77);
	printf("handled before sigqueue returned: %d\n", (int)nrec);
	dump("sigqueue unblocked", me);
	queue(me, SIGUSR1, 78);
	dump("sigqueue of SIGUSR1", me);

	/* rt_sigsuspend delivers one signal; the next occurrence of it stays
	 * queued behind a lower signal sent meanwhile. */
	sigset_t all, old, m;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	queue(me, SIGRTMIN, 10);
	queue(me, SIGRTMIN, 12);
	kill(me, SIGUSR1);
	sigfillset(&m);
	sigdelset(&m, SIGRTMIN);
	sigsuspend(&m);
	sigemptyset(&m);
	sigsuspend(&m);
	sigsuspend(&m);
	sigprocmask(SIG_SETMASK, &old, NULL);
	dump("sigsuspend, one at a time", me);

	/* A signal sent to the thread goes before one sent to the process,
	 * whatever their numbers. */
	sigprocmask(SIG_BLOCK, &all, &old);
	kill(me, SIGUSR1);
	raise(SIGRTMIN);
	sigprocmask(SIG_SETMASK, &old, NULL);
	dump("the thread's own signal first", me);

	/* sigwaitinfo takes the queued values one at a time. */
	block(SIGRTMIN + 2, SIG_BLOCK);
	queue(me, SIGRTMIN + 2, 7);
	queue(me, SIGRTMIN + 2, 8);
	wait_print("sigwaitinfo", SIGRTMIN + 2, 2, me);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN + 2);
	struct timespec zero = {0, 0};
	int tr = sigtimedwait(&w, NULL, &zero);
	printf("third sigtimedwait: %d (%s)\n", tr, errno == EAGAIN ? "EAGAIN" : strerror(errno));

	/* pthread_sigqueue to a thread waiting for it. */
	block(SIGRTMIN + 4, SIG_BLOCK);
	pthread_t t;
	pthread_create(&t, NULL, waiter, NULL);
	union sigval sv;
	sv.sival_int = 99;
	int r = pthread_sigqueue(t, SIGRTMIN + 4, sv);
	pthread_join(t, NULL);
	printf("pthread_sigqueue: %d\n", r);

	/* A child queues three values to its parent, which blocks them. */
	block(SIGRTMIN + 3, SIG_BLOCK);
	pid_t child = fork();
	if (child == 0) {
		for (int v = 42; v <= 44; v++)
			queue(getppid(), SIGRTMIN + 3, v);
		_exit(0);
	}
	int st;
	waitpid(child, &st, 0);
	wait_print("from child", SIGRTMIN + 3, 3, child);

	/* Errors: a signal number out of range; a kill-like si_code to another
	 * process (the target is a child that blocks the signal and exits). */
	r = queue(me, 65, 0);
	printf("sigqueue(65): %d %s\n", r, r < 0 && errno == EINVAL ? "EINVAL" : strerror(errno));
	child = fork();
	if (child == 0) {
		sleep(1);
		_exit(0);
	}
	siginfo_t fake;
	memset(&fake, 0, sizeof fake);
	fake.si_signo = SIGRTMIN + 3;
	fake.si_code = SI_USER;
	fake.si_pid = me;
	long lr = syscall(SYS_rt_sigqueueinfo, child, SIGRTMIN + 3, &fake);
	printf("rt_sigqueueinfo SI_USER to another process: %ld %s\n", lr,
	       lr < 0 && errno == EPERM ? "EPERM" : strerror(errno));
	lr = syscall(SYS_rt_sigqueueinfo, me, SIGRTMIN + 3, (void *)16);
	printf("rt_sigqueueinfo bad pointer: %ld %s\n", lr,
	       lr < 0 && errno == EFAULT ? "EFAULT" : strerror(errno));
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	printf("done\n");
	return 0;
}
