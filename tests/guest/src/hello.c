/* cranemu's embedded default guest (`cranemu run` with no program): computes
 * a few things that are easy to check by eye and prints them. */
#include "rt.h"

static u32 crc32(const char *s)
{
	u32 crc = 0xffffffffU;
	for (; *s; s++) {
		crc ^= (u8)*s;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return ~crc;
}

int main(int argc, char **argv)
{
	pf("hello from cranemu's default guest\n");

	static u8 composite[100];
	int found = 0;
	pf("first 20 primes:");
	for (u64 n = 2; found < 20 && n < sizeof(composite); n++) {
		if (composite[n])
			continue;
		pf(" %u", n);
		found++;
		for (u64 m = n * n; m < sizeof(composite); m += n)
			composite[m] = 1;
	}
	pf("\n");

	u64 a = 0, b = 1;
	for (int i = 0; i < 50; i++) {
		u64 t = a + b;
		a = b;
		b = t;
	}
	pf("fib(50) = %u\n", a);

	const char *text = "The quick brown fox jumps over the lazy dog";
	pf("crc32(\"%s\") = %w\n", text, (u64)crc32(text));

	for (int i = 1; i < argc; i++)
		pf("argv[%d] = %s\n", (i64)i, argv[i]);
	return 0;
}
