/* Memory-management calls whose effects the guest can see, and code that
 * writes its own page:
 *   - madvise(MADV_DONTNEED) drops pages: private anonymous memory reads
 *     as zeros again, a private file mapping as the file again;
 *   - mremap moves a mapping with its contents, and refuses an old range
 *     that is not all mapped (without touching the mappings around it)
 *     or absurdly large;
 *   - a loop that stores into the page it runs from (code and data in
 *     one RWX page) runs to its end.
 * Prints only values that are the same under any correct emulator.
 *
 *   memory            all of the above
 *   memory deep MIB   recurses through MIB MiB of stack (more than the
 *                     default 8 MiB needs a larger `ulimit -s`)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void dontneed(void)
{
    size_t len = 1 << 20;
    unsigned char *d = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(d, 5, len);
    int r = madvise(d, len, MADV_DONTNEED);
    printf("anonymous: madvise %d, first %d, last %d\n", r, d[0], d[len - 1]);
    memset(d, 6, len);
    printf("a hint (MADV_WILLNEED): %d, still %d\n", madvise(d, len, MADV_WILLNEED), d[0]);
    r = madvise(d + 1, 4096, MADV_DONTNEED);
    printf("unaligned start: %d (%s)\n", r, r ? strerror(errno) : "-");
    munmap(d, len);

    FILE *f = tmpfile();
    fputs("filedata", f);
    fflush(f);
    char *fm = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(f), 0);
    fm[0] = 'X';
    printf("private file mapping written: %.8s\n", fm);
    madvise(fm, 4096, MADV_DONTNEED);
    printf("after MADV_DONTNEED: %.8s\n", fm);
    munmap(fm, 4096);
    fclose(f);
}

static void remap(void)
{
    size_t page = 4096;
    unsigned char *a = mmap(0, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t i = 0; i < 4 * page; i++)
        a[i] = (unsigned char)(i * 7);
    /* Not all mapped: a hole after the first two pages. */
    munmap(a + 2 * page, page);
    void *r = mremap(a, 4 * page, 8 * page, MREMAP_MAYMOVE);
    printf("over a hole: %s (%s); last page kept: %d\n", r == MAP_FAILED ? "failed" : "moved",
           r == MAP_FAILED ? strerror(errno) : "-", a[3 * page + 1] == (unsigned char)((3 * page + 1) * 7));
    r = mremap(a, 4 * page, page, 0);
    printf("shrinking over a hole: %s (%s); last page kept: %d\n", r == MAP_FAILED ? "failed" : "done",
           r == MAP_FAILED ? strerror(errno) : "-", a[3 * page + 1] == (unsigned char)((3 * page + 1) * 7));
    long huge = syscall(SYS_mremap, a, (long)1 << 62, (unsigned long)1 << 63, MREMAP_MAYMOVE, 0);
    printf("absurd sizes: %s\n", huge == -1 ? "failed" : "succeeded");
    /* A move that must copy: a mapping right after the first two pages. */
    unsigned char *b = mremap(a, 2 * page, 64 * page, MREMAP_MAYMOVE);
    int same = b != MAP_FAILED;
    for (size_t i = 0; same && i < 2 * page; i++)
        same = b[i] == (unsigned char)(i * 7);
    printf("moved: %s, contents kept: %d, new part zero: %d\n", b == MAP_FAILED ? "failed" : "yes", same,
           b != MAP_FAILED && b[63 * page] == 0);
}

/* addi rd, rs1, imm; sw rs2, imm(rs1); lw rd, imm(rs1); blt rs1, rs2, off */
static uint32_t addi(int rd, int rs1, int imm) { return ((uint32_t)(imm & 0xfff) << 20) | rs1 << 15 | rd << 7 | 0x13; }
static uint32_t sw(int rs2, int rs1, int imm) { return ((uint32_t)(imm >> 5 & 0x7f) << 25) | rs2 << 20 | rs1 << 15 | 2 << 12 | (imm & 0x1f) << 7 | 0x23; }
static uint32_t lw(int rd, int rs1, int imm) { return ((uint32_t)(imm & 0xfff) << 20) | rs1 << 15 | 2 << 12 | rd << 7 | 0x03; }
static uint32_t blt(int rs1, int rs2, int off)
{
    uint32_t o = (uint32_t)off;
    return (o >> 12 & 1) << 31 | (o >> 5 & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | 4 << 12 | (o >> 1 & 0xf) << 8 | (o >> 11 & 1) << 7 | 0x63;
}

static void store_into_own_page(void)
{
    uint32_t *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int i = 0;
    code[i++] = 0x00000297;          /* auipc t0, 0 */
    code[i++] = addi(5, 5, 0x400);   /* t0 = the page + 0x400 */
    code[i++] = addi(6, 0, 0);       /* t1 = 0 */
    code[i++] = sw(6, 5, 0);         /* loop: *t0 = t1 */
    code[i++] = addi(6, 6, 1);       /* t1 += 1 */
    code[i++] = addi(7, 0, 1000);    /* t2 = 1000 */
    code[i++] = blt(6, 7, -12);      /* blt t1, t2, loop */
    code[i++] = lw(10, 5, 0);        /* a0 = *t0 */
    code[i++] = 0x00008067;          /* ret */
    __builtin___clear_cache((char *)code, (char *)(code + i));
    int (*f)(void) = (int (*)(void))code;
    for (int k = 0; k < 3; k++)
        printf("a loop storing into its own page: %d\n", f());
}

/* Recursion with a KiB of stack a frame, `n` frames deep. */
__attribute__((noinline)) static long deep(long n)
{
    volatile char frame[1000];
    frame[0] = (char)n;
    if (n == 0)
        return 0;
    return deep(n - 1) + frame[0] % 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc > 2 && strcmp(argv[1], "deep") == 0) {
        long mib = atol(argv[2]);
        printf("recursed through %ld MiB of stack: %ld\n", mib, deep(mib * 1024));
        return 0;
    }
    dontneed();
    remap();
    store_into_own_page();
    return 0;
}
