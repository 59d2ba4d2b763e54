/* fork() from a multi-threaded guest: while worker threads keep running
 * (and keep the emulator translating and compiling new code), the main
 * thread forks repeatedly; each child runs code of its own (so it needs
 * the translator) and exits with a status the parent checks. One worker
 * keeps rewriting code and flushing the instruction cache. A child that
 * inherited a lock held by a worker at the moment of the fork (the
 * emulator's, or the host allocator's) would hang. Then threads that
 * start and end at once while the main thread forks (each registers in
 * and leaves the emulator's list of guest threads, whose lock a child
 * once inherited held).
 * Prints two summary lines. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 40
#define SHORT_FORKS 200

static volatile int stop;

/* Many small distinct functions, so that workers keep translating. */
#define F(n) static long f##n(long x) { return x * (n + 3) + (x >> (n % 7)); }
F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13)
F(14) F(15)
static long (*const fs[16])(long) = {f0, f1, f2, f3, f4, f5, f6, f7, f8, f9,
				     f10, f11, f12, f13, f14, f15};

static void *worker(void *arg)
{
	long x = (long)arg;
	while (!stop)
		for (int i = 0; i < 16; i++)
			x = fs[i](x) & 0xffffff;
	return (void *)x;
}

/* Rewrites code and flushes the instruction cache in a loop: every flush
 * makes the emulator drop and retranslate code (allocating as it goes), so
 * a fork often lands while another thread holds an allocator lock. */
static void *churn(void *arg)
{
	uint32_t *code = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long s = (long)arg;
	for (int k = 0; !stop; k++) {
		for (int j = 0; j < 64; j++) {
			code[j * 4] = ((uint32_t)((k + j) & 0x7ff) << 20) | (10 << 7) | 0x13;
			code[j * 4 + 1] = 0x00008067; /* ret */
		}
		__builtin___clear_cache((char *)code, (char *)code + 1024);
		for (int j = 0; j < 64; j++)
			s += ((long (*)(void))(code + j * 4))();
	}
	return (void *)s;
}

static void *short_lived(void *arg)
{
	return arg;
}

static int child_work(int k)
{
	long x = k;
	for (int i = 0; i < 1000; i++)
		x = fs[(i + k) % 16](x) & 0xffff;
	return (int)(x % 100) >= 0 ? k % 50 : 99;
}

int main(void)
{
	pthread_t t[3];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)(i + 1));
	pthread_create(&t[2], NULL, churn, NULL);
	usleep(20000);
	int ok = 0;
	for (int k = 0; k < FORKS; k++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_work(k));
		int status;
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == k % 50)
			ok++;
	}
	stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("fork from threads: %d of %d children ok\n", ok, FORKS);

	ok = 0;
	for (int k = 0; k < SHORT_FORKS; k++) {
		pthread_t s;
		pthread_create(&s, NULL, short_lived, NULL);
		pid_t pid = fork();
		if (pid == 0)
			_exit(7);
		int status;
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 7)
			ok++;
		pthread_join(s, NULL);
	}
	printf("fork while threads start and end: %d of %d children ok\n", ok,
	       SHORT_FORKS);
	return 0;
}
