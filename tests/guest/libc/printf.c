/* A glibc program (linked statically at test time, not committed): printf
 * widths and floats, malloc/free, qsort, strtod, snprintf of doubles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	printf("[%5d|%-5d|%05d|%+d|%x|%#o|%lld]\n", 42, 42, 42, 42, 255, 8, -1234567890123LL);
	printf("[%s|%10s|%-10s|%.3s|%c]\n", "abc", "right", "left", "truncate", 'Z');
	printf("[%f|%.2f|%10.4f|%e|%g|%g|%a]\n", 3.14159265358979, 2.675, -1.5, 12345.678, 0.0001, 1e20, 1.0);

	unsigned seed = 12345;
	int n = 1000, *v = malloc(n * sizeof(int));
	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		v[i] = (int)(seed >> 8) % 100000;
	}
	qsort(v, n, sizeof(int), cmp_int);
	long sum = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	printf("qsort: min=%d median=%d max=%d sum=%ld\n", v[0], v[n / 2], v[n - 1], sum);
	free(v);

	/* Many allocations of varying sizes. */
	char *blocks[256];
	size_t total = 0;
	for (int i = 0; i < 256; i++) {
		size_t sz = (size_t)(i * 37 % 200 + 1) * 64;
		blocks[i] = malloc(sz);
		memset(blocks[i], i, sz);
		total += sz;
	}
	int ok = 1;
	for (int i = 0; i < 256; i++) {
		if (blocks[i][0] != (char)i)
			ok = 0;
		free(blocks[i]);
	}
	printf("malloc: %zu bytes in 256 blocks ok=%d\n", total, ok);
	void *big = malloc(64 << 20);
	memset(big, 1, 64 << 20);
	printf("malloc 64 MiB: %s\n", big ? "ok" : "failed");
	free(big);

	const char *nums[] = { "3.5", "-0.125", "1e-3", "6.02214076e23", "0x1.8p1", "  42abc" };
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char *end;
		double d = strtod(nums[i], &end);
		char buf[64];
		snprintf(buf, sizeof(buf), "%.17g", d);
		printf("strtod(\"%s\") = %s rest=\"%s\"\n", nums[i], buf, end);
	}
	char buf[8];
	int len = snprintf(buf, sizeof(buf), "%f", 123456.789);
	printf("snprintf truncated: \"%s\" len=%d\n", buf, len);
	printf("argc=%d argv[0] ends with printf: %d\n", argc,
	       strlen(argv[0]) >= 6 && strcmp(argv[0] + strlen(argv[0]) - 6, "printf") == 0);
	return 0;
}
