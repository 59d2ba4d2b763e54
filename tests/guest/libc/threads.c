/* Guest threads (clone with CLONE_THREAD): glibc pthreads on cranemu.
 *
 * Each part prints a line whose values do not depend on scheduling, so
 * the output can be compared with a checked-in file and with qemu-riscv64:
 * counters incremented with AMOs and with LR/SC loops from several threads
 * (exact totals), a mutex-protected counter, a condition variable
 * ping-pong, a barrier, thread-local storage, distinct thread ids, return
 * values through pthread_join, pthread_exit, a signal sent to one thread
 * with pthread_kill, a fault signal (SIGFPE, SIGSEGV) sent to a thread
 * spinning or blocked in pause(), thread affinity and membarrier, a futex
 * wait interrupted by a signal (EINTR, or restarted with SA_RESTART),
 * pthread_cancel, setuid/setgid with threads alive (the two use the
 * signals glibc reserves, 32 and 33), a signal sent to the process
 * reaching a sigwait thread, a robust mutex whose owner exited,
 * and a thread that calls exit() for the whole process.
 *
 * Usage: threads [PART]   (no argument: every part but "exit") */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NT 4
#define ITERS 200000

static long amo_counter;
static long lrsc_counter;
static long mutex_counter;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void lrsc_add(long *p, long v)
{
	long old, tmp;
	__asm__ volatile("1: lr.d %0, (%2)\n"
			 "   add %1, %0, %3\n"
			 "   sc.d %1, %1, (%2)\n"
			 "   bnez %1, 1b\n"
			 : "=&r"(old), "=&r"(tmp)
			 : "r"(p), "r"(v)
			 : "memory");
}

static void *counters(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < ITERS; i++) {
		__atomic_fetch_add(&amo_counter, 1, __ATOMIC_RELAXED);
		lrsc_add(&lrsc_counter, 1);
		if ((i & 15) == 0) {
			pthread_mutex_lock(&lock);
			mutex_counter += 2;
			pthread_mutex_unlock(&lock);
		}
	}
	return (void *)(id * 10);
}

static void part_counters(void)
{
	pthread_t t[NT];
	long sum = 0;
	for (long i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, counters, (void *)i);
	for (int i = 0; i < NT; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (long)r;
	}
	printf("counters: amo %ld lrsc %ld mutex %ld joined %ld\n", amo_counter,
	       lrsc_counter, mutex_counter, sum);
}

static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static int turn, rounds_done;

static void *pong(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&pp_lock);
		while (turn != 1)
			pthread_cond_wait(&pp_cond, &pp_lock);
		turn = 0;
		rounds_done++;
		pthread_cond_signal(&pp_cond);
		pthread_mutex_unlock(&pp_lock);
	}
	return NULL;
}

static void part_condvar(void)
{
	pthread_t t;
	pthread_create(&t, NULL, pong, NULL);
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&pp_lock);
		turn = 1;
		pthread_cond_signal(&pp_cond);
		while (turn != 0)
			pthread_cond_wait(&pp_cond, &pp_lock);
		pthread_mutex_unlock(&pp_lock);
	}
	pthread_join(t, NULL);
	printf("condvar: %d round trips\n", rounds_done);
}

static pthread_barrier_t barrier;
static __thread long tls_value;
static long seen[NT];
static pid_t tids[NT];

static void *phases(void *arg)
{
	long id = (long)arg;
	tls_value = 100 + id;
	tids[id] = (pid_t)syscall(SYS_gettid);
	for (int phase = 0; phase < 50; phase++) {
		__atomic_fetch_add(&seen[phase % NT], 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&barrier);
	}
	if (id == NT - 1)
		pthread_exit((void *)(tls_value * 2));
	return (void *)tls_value;
}

static void part_barrier(void)
{
	pthread_t t[NT];
	long r[NT];
	pthread_barrier_init(&barrier, NULL, NT);
	for (long i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, phases, (void *)i);
	for (int i = 0; i < NT; i++) {
		void *v;
		pthread_join(t[i], &v);
		r[i] = (long)v;
	}
	int distinct = 1;
	pid_t me = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < NT; i++) {
		if (tids[i] == me || tids[i] <= 0 || syscall(SYS_gettid) != me)
			distinct = 0;
		for (int j = 0; j < i; j++)
			if (tids[i] == tids[j])
				distinct = 0;
	}
	printf("barrier: seen %ld %ld %ld %ld; tls %ld %ld %ld %ld; distinct tids %s; getpid same %s\n",
	       seen[0], seen[1], seen[2], seen[3], r[0], r[1], r[2], r[3],
	       distinct ? "yes" : "no", getpid() == me ? "yes" : "no");
}

static volatile sig_atomic_t got_signal;
static volatile pid_t handler_tid;
static pid_t target_tid;
static volatile int stop_spin;

static void on_usr1(int sig)
{
	got_signal = sig;
	handler_tid = (pid_t)syscall(SYS_gettid);
}

static void *spinner(void *arg)
{
	(void)arg;
	target_tid = (pid_t)syscall(SYS_gettid);
	while (!stop_spin && !got_signal)
		;
	return NULL;
}

static void part_signal(void)
{
	pthread_t t;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&t, NULL, spinner, NULL);
	while (!__atomic_load_n(&target_tid, __ATOMIC_SEQ_CST))
		;
	/* Directed at the spinner: only it may take the signal, although the
	 * main thread does not block it and keeps entering the kernel (where
	 * a process-directed signal could be delivered to it). */
	pthread_kill(t, SIGUSR1);
	while (!got_signal)
		sched_yield();
	stop_spin = 1;
	pthread_join(t, NULL);
	printf("signal: %d taken by the target thread: %s\n", got_signal,
	       handler_tid == target_tid ? "yes" : "no");
}

/* The same with SIGFPE, one of the signals the emulator owns on the host
 * for its fault handling: it must still reach the target's handler. */
static void part_fault_signal(void)
{
	pthread_t t;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGFPE, &sa, NULL);
	got_signal = 0;
	stop_spin = 0;
	target_tid = 0;
	pthread_create(&t, NULL, spinner, NULL);
	while (!__atomic_load_n(&target_tid, __ATOMIC_SEQ_CST))
		;
	pthread_kill(t, SIGFPE);
	while (!got_signal)
		sched_yield();
	stop_spin = 1;
	pthread_join(t, NULL);
	printf("fault signal: %d taken by the target thread: %s\n", got_signal,
	       handler_tid == target_tid ? "yes" : "no");
}

/* A thread blocked in FUTEX_WAIT and a signal with a handler: without
 * SA_RESTART the wait fails with EINTR; with SA_RESTART it is restarted and
 * goes on waiting until the word changes (Linux: futex_wait returns
 * -ERESTARTSYS). The signal is sent until the waiter reports, since it may
 * land just before the waiter enters the kernel. */
static int futex_word;
static volatile int waiter_eintr, waiter_done;
static volatile int handler_runs;

static long futex_wait(int *word, int val)
{
	return syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void on_usr1_count(int sig)
{
	(void)sig;
	handler_runs++;
}

static void *futex_waiter(void *arg)
{
	int restart = arg != NULL;
	target_tid = (pid_t)syscall(SYS_gettid);
	while (!__atomic_load_n(&futex_word, __ATOMIC_SEQ_CST)) {
		long r = futex_wait(&futex_word, 0);
		if (r == -1 && errno == EINTR) {
			waiter_eintr = 1;
			if (!restart)
				break;
		}
	}
	waiter_done = 1;
	return NULL;
}

static void part_futex_signal(void)
{
	for (int restart = 0; restart <= 1; restart++) {
		pthread_t t;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1_count;
		sa.sa_flags = restart ? SA_RESTART : 0;
		sigaction(SIGUSR1, &sa, NULL);
		futex_word = 0;
		waiter_eintr = waiter_done = handler_runs = 0;
		target_tid = 0;
		pthread_create(&t, NULL, futex_waiter, restart ? (void *)1 : NULL);
		while (!__atomic_load_n(&target_tid, __ATOMIC_SEQ_CST))
			;
		/* Without SA_RESTART: until the wait fails. With it: three
		 * handler runs, then the word changes and a wake ends the wait. */
		while (restart ? handler_runs < 3 : !waiter_done) {
			pthread_kill(t, SIGUSR1);
			usleep(20000);
		}
		if (restart) {
			__atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
			syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		}
		pthread_join(t, NULL);
		printf("futex wait and a signal, %s: EINTR %s\n",
		       restart ? "SA_RESTART" : "no SA_RESTART",
		       waiter_eintr ? "yes" : "no");
	}
}

/* sched_getaffinity/sched_setaffinity of a thread by tid, and
 * membarrier's global and private expedited barriers. */
static void part_sched(void)
{
	cpu_set_t set, again;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	CPU_ZERO(&set);
	CPU_ZERO(&again);
	int g = sched_getaffinity(tid, sizeof set, &set);
	int s = sched_setaffinity(tid, sizeof set, &set);
	int g2 = sched_getaffinity(0, sizeof again, &again);
	long q = syscall(SYS_membarrier, 0 /* QUERY */, 0, 0);
	long global = syscall(SYS_membarrier, 1 /* GLOBAL */, 0, 0);
	long reg = syscall(SYS_membarrier, 16 /* REGISTER_PRIVATE_EXPEDITED */, 0, 0);
	long priv = syscall(SYS_membarrier, 8 /* PRIVATE_EXPEDITED */, 0, 0);
	printf("sched: affinity get %d set %d same %s; membarrier query has global %s, "
	       "global %ld, private expedited %ld %ld\n",
	       g, s, g == 0 && g2 == 0 && CPU_EQUAL(&set, &again) ? "yes" : "no",
	       q > 0 && (q & 1) ? "yes" : "no", global, reg, priv);
}

/* The same with the target blocked in a system call (pause): a fault
 * signal from another thread must interrupt the call and run the handler
 * (it is sent again until it lands inside the call). */
static volatile int blocked_done;

static void *pauser(void *arg)
{
	(void)arg;
	target_tid = (pid_t)syscall(SYS_gettid);
	while (!got_signal)
		pause();
	blocked_done = 1;
	return NULL;
}

static void part_fault_signal_blocked(void)
{
	pthread_t t;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGSEGV, &sa, NULL);
	got_signal = 0;
	target_tid = 0;
	blocked_done = 0;
	pthread_create(&t, NULL, pauser, NULL);
	while (!__atomic_load_n(&target_tid, __ATOMIC_SEQ_CST))
		;
	usleep(20000);
	while (!blocked_done) {
		pthread_kill(t, SIGSEGV);
		usleep(20000);
	}
	pthread_join(t, NULL);
	printf("fault signal to a thread in pause(): %d taken by it: %s\n", got_signal,
	       handler_tid == target_tid ? "yes" : "no");
	signal(SIGSEGV, SIG_DFL);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		sleep(10);
	return NULL;
}

/* pthread_cancel: glibc signals the target with SIGCANCEL (32), which the
 * host's glibc reserves for itself. */
static void part_cancel(void)
{
	pthread_t t;
	void *r;
	pthread_create(&t, NULL, sleeper, NULL);
	usleep(20000);
	pthread_cancel(t);
	pthread_join(t, &r);
	printf("cancel: %s\n", r == PTHREAD_CANCELED ? "canceled" : "not canceled");
}

/* setuid/setgid with other threads alive: glibc runs the syscall on every
 * thread through SIGSETXID (33). */
static void part_setxid(void)
{
	pthread_t t;
	pthread_create(&t, NULL, sleeper, NULL);
	usleep(20000);
	int g = setgid(getgid());
	int u = setuid(getuid());
	printf("setxid: setgid %d setuid %d\n", g, u);
}

/* A signal sent to the process (kill) while the sending thread blocks it
 * reaches the thread waiting for it in sigwait. */
static void *waiter(void *arg)
{
	sigset_t *set = arg;
	int sig = 0;
	sigwait(set, &sig);
	return (void *)(long)sig;
}

/* main() blocks SIGUSR2 before creating any thread, so every thread
 * inherits the block and only sigwait takes it. */
static sigset_t usr2_set;

static void part_sigwait(void)
{
	pthread_t t;
	void *r;
	pthread_create(&t, NULL, waiter, &usr2_set);
	usleep(20000);
	kill(getpid(), SIGUSR2);
	pthread_join(t, &r);
	printf("sigwait: got %ld\n", (long)r);
}

/* A robust mutex whose owner thread exits: the next locker gets
 * EOWNERDEAD. */
static pthread_mutex_t robust;

static void *lock_and_leave(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust);
	return NULL;
}

static void part_robust(void)
{
	pthread_mutexattr_t a;
	pthread_t t;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &a);
	pthread_create(&t, NULL, lock_and_leave, NULL);
	pthread_join(t, NULL);
	int r = pthread_mutex_lock(&robust);
	printf("robust: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r));
}

static void *exiter(void *arg)
{
	(void)arg;
	printf("exit: worker calls exit(7)\n");
	fflush(stdout);
	exit(7);
}

static void part_exit(void)
{
	pthread_t t;
	pthread_create(&t, NULL, exiter, NULL);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	const char *part = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&usr2_set);
	sigaddset(&usr2_set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2_set, NULL);
	if (!strcmp(part, "exit")) {
		part_exit();
		return 1;
	}
	if (!*part || !strcmp(part, "counters"))
		part_counters();
	if (!*part || !strcmp(part, "condvar"))
		part_condvar();
	if (!*part || !strcmp(part, "barrier"))
		part_barrier();
	if (!*part || !strcmp(part, "signal"))
		part_signal();
	if (!*part || !strcmp(part, "faultsig"))
		part_fault_signal();
	if (!*part || !strcmp(part, "faultsigblocked"))
		part_fault_signal_blocked();
	if (!*part || !strcmp(part, "sched"))
		part_sched();
	if (!*part || !strcmp(part, "futexsig"))
		part_futex_signal();
	if (!*part || !strcmp(part, "cancel"))
		part_cancel();
	if (!*part || !strcmp(part, "setxid"))
		part_setxid();
	if (!*part || !strcmp(part, "sigwait"))
		part_sigwait();
	if (!*part || !strcmp(part, "robust"))
		part_robust();
	return 0;
}
