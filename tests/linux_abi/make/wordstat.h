/* wordstat: counts words of generated text and checksums it. */
#include <stddef.h>
#include <stdint.h>

/* Fills buf (len bytes) with deterministic text: words and spaces. */
void gen_text(char *buf, size_t len, uint32_t seed);
/* Number of words in buf, and the length of the longest. */
size_t count_words(const char *buf, size_t len, size_t *longest);
/* CRC-32 (IEEE 802.3, reflected, polynomial 0xedb88320) of buf. */
uint32_t crc32(const void *buf, size_t len);
