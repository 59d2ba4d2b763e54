#include <ctype.h>
#include "wordstat.h"

void gen_text(char *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (x % 7 == 0) ? ' ' : (char)('a' + x % 26);
	}
}

size_t count_words(const char *buf, size_t len, size_t *longest)
{
	size_t n = 0, cur = 0;
	*longest = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && !isspace((unsigned char)buf[i])) {
			cur++;
			continue;
		}
		if (cur) {
			n++;
			if (cur > *longest)
				*longest = cur;
		}
		cur = 0;
	}
	return n;
}
