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
 * or "FAILED", and exits 0 or 1. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
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
};

static void *pipe_end(void *arg)
{
	struct end *e = arg;
	if (pin(e->cpu) != 0 || sched_getcpu() != e->cpu)
		e->bad++;
	for (long n = 0; n < ROUNDS; n++) {
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
	struct end a = {0, ba[0], ab[1], 1, 0}, b = {ncpu - 1, ab[0], ba[1], 0, 0};
	pthread_create(&t[0], NULL, pipe_end, &a);
	pthread_create(&t[1], NULL, pipe_end, &b);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	check("pipe messages out of sequence (cpu 0 end)", a.bad, 0);
	check("pipe messages out of sequence (last cpu end)", b.bad, 0);

	puts(fails ? "FAILED" : "PASS");
	return fails != 0;
}
