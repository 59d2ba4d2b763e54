/* A guest that writes code as it runs, as a JIT does: N small functions,
 * each written to a new place in one RWX buffer, made visible with
 * __builtin___clear_cache (fence.i), then called a few times and checked.
 * Every function lands in a page that holds translated code (the ones
 * before it), so each write invalidates that page's TBs.
 *
 *   riscv64-linux-gnu-gcc -O2 -static benches/jit/jitgen.c -o jitgen
 *   cranemu run jitgen 200000      # or qemu-riscv64 jitgen 200000
 *
 * Prints "jitgen: N functions, 0 wrong" when every call returned what
 * the function was written to compute. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

/* addi rd, rs, imm */
static uint32_t addi(int rd, int rs, int imm)
{
	return ((uint32_t)(imm & 0xfff) << 20) | (rs << 15) | (rd << 7) | 0x13;
}

/* xori rd, rs, imm */
static uint32_t xori(int rd, int rs, int imm)
{
	return ((uint32_t)(imm & 0xfff) << 20) | (rs << 15) | (4 << 12) | (rd << 7) | 0x13;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	size_t size = 32 << 20;
	uint8_t *buf = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	long wrong = 0;
	for (long i = 0; i < n; i++) {
		/* f(x) = (x + a) ^ b: addi a0, a0, a; xori a0, a0, b; ret */
		uint32_t *p = (uint32_t *)(buf + (i * 16) % size);
		int a = (int)(i % 2000) - 1000, b = (int)((i * 7) % 2000) - 1000;
		p[0] = addi(10, 10, a);
		p[1] = xori(10, 10, b);
		p[2] = 0x00008067; /* ret */
		__builtin___clear_cache((char *)p, (char *)(p + 3));
		long (*f)(long) = (long (*)(long))p;
		for (long x = -3; x <= 3; x++)
			if (f(x) != ((x + a) ^ b))
				wrong++;
	}
	printf("jitgen: %ld functions, %ld wrong\n", n, wrong);
	return wrong != 0;
}
