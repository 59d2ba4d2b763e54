#include <stdio.h>
#include <stdlib.h>
#include "wordstat.h"

int main(void)
{
	static char buf[1 << 20];
	for (uint32_t seed = 1; seed <= 4; seed++) {
		size_t longest;
		gen_text(buf, sizeof(buf), seed);
		size_t n = count_words(buf, sizeof(buf), &longest);
		printf("seed %u: %zu words, longest %zu, crc32 %08x\n", seed, n, longest,
		       crc32(buf, sizeof(buf)));
	}
	printf("crc32(\"123456789\") = %08x\n", crc32("123456789", 9));
	return 0;
}
