/* Runs inside the Linux guest of tests/system_linux.rs (built statically
 * with riscv64-linux-gnu-gcc and glibc, added to the initramfs by the test):
 *
 *   smp_threads N
 *
 *  - counters: N threads, each pinned to CPU i (sched_setaffinity), add 1
 *    to shared counters K times with __atomic_fetch_add (amoadd), with a
 *    compare-and-swap loop (lr/sc) and under a pthread mutex (futex); the
 *    totals must be exactly N * K;
 *  - pipe: a thread pinned to CPU 0 and one pinned to CPU N-1 exchange
 *    ROUNDS numbered messages through two pipes, each checking the
 *    sequence it receives.
 *
 * Prints one line per check ("ok NAME" or "FAIL NAME: ..."), then "PASS"
 * or "FAILED", and exits 0 or 1.
 *
 *   smp_threads bench N
 *
 * is benches/smp.sh's measurement (also run natively on the host): the wall
 * time of N threads (one per CPU) each doing the same fixed integer work,
 * and the round trip of a message between threads pinned to CPU 0 and CPU
 * N-1 through two pipes (median and 99th percentile), as one line
 * "@@R threads N work_ms MS rtt_median_ns A rtt_p99_ns B". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define K 50000
#define ROUNDS 20000

static long ncpu;
static unsigned long c_amo, c_cas, c_mutex;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static int fails;

static int pin(long cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set);
}

static void *counter(void *arg)
{
	long cpu = (long)arg;
	if (pin(cpu) != 0 || sched_getcpu() != cpu) {
		printf("FAIL pin to cpu %ld: running on %d\n", cpu, sched_getcpu());
		__atomic_fetch_add(&fails, 1, __ATOMIC_SEQ_CST);
	}
	pthread_barrier_wait(&start);
	for (int i = 0; i < K; i++) {
		__atomic_fetch_add(&c_amo, 1, __ATOMIC_RELAXED);
		unsigned long old = __atomic_load_n(&c_cas, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(&c_cas, &old, old + 1, 1,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
		pthread_mutex_lock(&mutex);
		c_mutex++;
		pthread_mutex_unlock(&mutex);
	}
	return NULL;
}

struct end {
	long cpu;
	int in, out;	/* read from in, write to out */
	int first;	/* sends first */
	long bad;
	long rounds;	/* 0: ROUNDS */
};

static void *pipe_end(void *arg)
{
	struct end *e = arg;
	if (pin(e->cpu) != 0 || sched_getcpu() != e->cpu)
		e->bad++;
	long rounds = e->rounds ? e->rounds : ROUNDS;
	for (long n = 0; n < rounds; n++) {
		long got;
		if (e->first && write(e->out, &n, sizeof n) != sizeof n)
			e->bad++;
		if (read(e->in, &got, sizeof got) != sizeof got || got != n)
			e->bad++;
		if (!e->first && write(e->out, &n, sizeof n) != sizeof n)
			e->bad++;
	}
	return NULL;
}

#define WORK 200000000UL	/* LCG steps per thread */
#define BENCH_ROUNDS 5000

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void *work(void *arg)
{
	long cpu = (long)arg;
	pin(cpu % sysconf(_SC_NPROCESSORS_ONLN));
	pthread_barrier_wait(&start);
	unsigned long x = cpu + 1;
	for (unsigned long i = 0; i < WORK; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return (void *)x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double rtt[BENCH_ROUNDS];

static int bench(long n)
{
	pthread_t t[64];
	pthread_barrier_init(&start, NULL, n + 1);
	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, work, (void *)i);
	pthread_barrier_wait(&start);
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	double work_ms = (now_ns() - t0) / 1e6;

	int ab[2], ba[2];
	if (pipe(ab) || pipe(ba))
		return 1;
	/* The last CPU there is (natively, N may exceed the host's CPUs). */
	long far = (n - 1) % sysconf(_SC_NPROCESSORS_ONLN);
	struct end b = {far, ab[0], ba[1], 0, 0, BENCH_ROUNDS};
	pthread_create(&t[0], NULL, pipe_end, &b);
	pin(0);
	for (long i = 0; i < BENCH_ROUNDS; i++) {
		long got;
		double s = now_ns();
		if (write(ab[1], &i, sizeof i) != sizeof i || read(ba[0], &got, sizeof got) != sizeof got)
			return 1;
		rtt[i] = now_ns() - s;
	}
	pthread_join(t[0], NULL);
	qsort(rtt, BENCH_ROUNDS, sizeof rtt[0], cmp_double);
	printf("@@R threads %ld work_ms %.1f rtt_median_ns %.0f rtt_p99_ns %.0f\n", n, work_ms,
	       rtt[BENCH_ROUNDS / 2], rtt[BENCH_ROUNDS * 99 / 100]);
	return b.bad != 0;
}

static void check(const char *name, unsigned long got, unsigned long want)
{
	if (got == want) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: got %lu want %lu\n", name, got, want);
		fails++;
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "bench")) {
		long n = atol(argv[2]);
		return n < 1 || n > 64 ? 2 : bench(n);
	}
	ncpu = argc > 1 ? atol(argv[1]) : sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1 || ncpu > 64) {
		fprintf(stderr, "usage: smp_threads N (1 to 64)\n");
		return 2;
	}
	check("online CPUs", sysconf(_SC_NPROCESSORS_ONLN), ncpu);

	pthread_t t[64];
	pthread_barrier_init(&start, NULL, ncpu);
	for (long i = 0; i < ncpu; i++)
		pthread_create(&t[i], NULL, counter, (void *)i);
	for (long i = 0; i < ncpu; i++)
		pthread_join(t[i], NULL);
	check("amoadd total", c_amo, ncpu * K);
	check("compare-and-swap total", c_cas, ncpu * K);
	check("mutex total", c_mutex, ncpu * K);

	int ab[2], ba[2];
	if (pipe(ab) || pipe(ba)) {
		perror("pipe");
		return 1;
	}
	struct end a = {0, ba[0], ab[1], 1, 0, 0}, b = {ncpu - 1, ab[0], ba[1], 0, 0, 0};
	pthread_create(&t[0], NULL, pipe_end, &a);
	pthread_create(&t[1], NULL, pipe_end, &b);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	check("pipe messages out of sequence (cpu 0 end)", a.bad, 0);
	check("pipe messages out of sequence (last cpu end)", b.bad, 0);

	puts(fails ? "FAILED" : "PASS");
	return fails != 0;
}
