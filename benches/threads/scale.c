/* Fixed work per thread, for scaling figures: each of N threads runs the
 * same compute kernel (an integer hash chain over a private 64 KiB table,
 * calls and branches included) W times; the main thread joins them and
 * prints a checksum. With perfect scaling the wall time does not depend on
 * N (up to the number of cores).
 *
 * Usage: scale N [W]      (W default 300) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static long work_units = 300;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void *worker(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg + 1;
	uint32_t *table = malloc(16384 * sizeof *table);
	uint64_t h = seed;
	for (int i = 0; i < 16384; i++)
		table[i] = (uint32_t)mix(seed + i);
	for (long w = 0; w < work_units; w++)
		for (int i = 0; i < 200000; i++) {
			uint32_t k = table[h & 16383];
			h = mix(h + k) ^ (h >> 7);
			if (k & 1)
				table[(h >> 20) & 16383] = (uint32_t)h;
		}
	free(table);
	return (void *)(uintptr_t)h;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2)
		work_units = atol(argv[2]);
	if (n < 1 || n > 256)
		return 2;
	pthread_t t[256];
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i % 4));
	uint64_t sum = 0;
	for (int i = 0; i < n; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (uint64_t)(uintptr_t)r;
	}
	printf("threads %d checksum %016llx\n", n, (unsigned long long)sum);
	return 0;
}
