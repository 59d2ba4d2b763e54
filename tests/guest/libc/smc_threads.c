/* Cross-thread self-modifying code: one thread rewrites a function that
 * another keeps calling. The writer stores a new `li a0, V` into the
 * function, calls __builtin___clear_cache (glibc: the riscv_flush_icache
 * syscall, which flushes every hart's instruction cache), then publishes V.
 * The caller, having read version V, must get at least V from its next
 * call, and never anything but a version that was written (no stale or torn
 * instruction). Then two threads each rewrite and call their own function,
 * both in one page: their stores to the page race with each other's (a
 * store that found the page write-protected for its translated code may
 * find it released by the other thread's store meanwhile), and every call
 * must return what its thread just wrote. Prints summary lines that do not
 * depend on scheduling. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define VERSIONS 200

static volatile int version;
static volatile int done;
static volatile long caller_calls;
static uint32_t *code;
typedef long (*fn_t)(void);

/* addi a0, zero, v */
static uint32_t li_a0(int v)
{
	return ((uint32_t)v << 20) | (10 << 7) | 0x13;
}

static void *writer(void *arg)
{
	(void)arg;
	/* Start once the caller is calling, so that it sees the rewrites. */
	while (__atomic_load_n(&caller_calls, __ATOMIC_SEQ_CST) < 100)
		;
	for (int v = 1; v <= VERSIONS; v++) {
		__atomic_store_n(&code[0], li_a0(v), __ATOMIC_SEQ_CST);
		__builtin___clear_cache((char *)code, (char *)(code + 2));
		__atomic_store_n(&version, v, __ATOMIC_SEQ_CST);
		for (volatile int spin = 0; spin < 2000; spin++)
			;
	}
	__atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

#define REWRITES 20000

/* Thread `id` rewrites its function (a `li a0, k; ret` in its own 256
 * bytes of the page, at one of 32 places in turn) and calls it; returns
 * how many calls gave something else than k. */
static void *rewriter(void *arg)
{
	long id = (long)arg, wrong = 0;
	for (int i = 0; i < REWRITES; i++) {
		uint32_t *p = code + id * 64 + (i % 32) * 2;
		int k = (i * 7 + (int)id) % 2000;
		p[0] = li_a0(k);
		p[1] = 0x00008067; /* ret */
		__builtin___clear_cache((char *)p, (char *)(p + 2));
		if (((fn_t)p)() != k)
			wrong++;
	}
	return (void *)wrong;
}

int main(void)
{
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	code[0] = li_a0(0);
	code[1] = 0x00008067; /* ret */
	__builtin___clear_cache((char *)code, (char *)(code + 2));
	fn_t f = (fn_t)code;

	pthread_t t;
	pthread_create(&t, NULL, writer, NULL);
	long calls = 0, stale = 0, bad = 0, last = 0;
	while (!__atomic_load_n(&done, __ATOMIC_SEQ_CST)) {
		int v = __atomic_load_n(&version, __ATOMIC_SEQ_CST);
		long r = f();
		calls++;
		__atomic_store_n(&caller_calls, calls, __ATOMIC_SEQ_CST);
		if (r < v)
			stale++;
		if (r < 0 || r > VERSIONS || r < last)
			bad++;
		last = r;
	}
	pthread_join(t, NULL);
	long final = f();
	printf("smc: final %ld, stale %ld, bad %ld, calls %s\n", final, stale, bad,
	       calls > 0 ? "some" : "none");

	pthread_t two[2];
	void *wrong[2];
	for (long id = 0; id < 2; id++)
		pthread_create(&two[id], NULL, rewriter, (void *)id);
	for (int id = 0; id < 2; id++)
		pthread_join(two[id], &wrong[id]);
	printf("smc, two writers in one page: wrong results %ld and %ld\n",
	       (long)wrong[0], (long)wrong[1]);
	return 0;
}
