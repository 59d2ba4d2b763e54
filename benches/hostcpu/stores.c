/* How many stores, loads and ALU operations this host's cores retire per
 * cycle, in the patterns translated code makes: a guest-register store to
 * the CPU state per guest instruction that writes a register, a load per
 * read, and a value kept in memory from one loop iteration to the next.
 * The reference is a chain of dependent adds, one cycle each, so no clock
 * frequency is needed.  benches/hostcpu.sh builds and runs it; BENCHMARKS.md
 * ("Issue 12, tenth step") has its figures and what follows from them.
 *
 * Each measurement runs a loop of 24 operations (unrolled) for N rounds
 * and reports cycles per operation = time per operation / time per
 * dependent add.  x86-64 only (GNU inline assembly, AT&T syntax).
 */
#include <stdio.h>
#include <time.h>

#define N 20000000L
#define R8(x) x x x x x x x x

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static long state[512];

int main(void)
{
    double t, cycle, v;
    long n;

    /* 24 dependent adds: one cycle each. */
    t = now();
    n = N;
    __asm__ volatile("xor %%eax, %%eax\n"
                     "1:\n" R8("add $1, %%rax\n add $1, %%rax\n add $1, %%rax\n")
                     "dec %0\n jnz 1b"
                     : "+r"(n) : : "rax");
    cycle = (now() - t) / (N * 24.0);
    printf("dependent add (the reference)          1.00 cycles\n");

    /* 48 independent adds on 6 registers: the ALUs' throughput. */
    t = now();
    n = N;
    __asm__ volatile("1:\n" R8("add %%rsi, %%rax\n add %%rsi, %%rbx\n add %%rsi, %%rcx\n"
                               "add %%rsi, %%rdx\n add %%rsi, %%r8\n add %%rsi, %%r9\n")
                     "dec %0\n jnz 1b"
                     : "+r"(n) : : "rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9");
    v = (now() - t) / (N * 48.0) / cycle;
    printf("independent add, 6 chains              %.2f cycles each\n", v);

    /* 24 independent 8-byte stores to three lines of the state. */
    t = now();
    n = N;
    __asm__ volatile("1:\n" R8("mov %%rax, 0x78(%1)\n mov %%rbx, 0x180(%1)\n mov %%rcx, 0x288(%1)\n")
                     "dec %0\n jnz 1b"
                     : "+r"(n) : "r"(state) : "rax", "rbx", "rcx", "memory");
    v = (now() - t) / (N * 24.0) / cycle;
    printf("store, 8 bytes, 3 lines                %.2f cycles each\n", v);

    /* The same to adjacent words (two lines). */
    t = now();
    n = N;
    __asm__ volatile("1:\n" R8("mov %%rax, 0x78(%1)\n mov %%rbx, 0x80(%1)\n mov %%rcx, 0x88(%1)\n")
                     "dec %0\n jnz 1b"
                     : "+r"(n) : "r"(state) : "rax", "rbx", "rcx", "memory");
    v = (now() - t) / (N * 24.0) / cycle;
    printf("store, 8 bytes, adjacent words         %.2f cycles each\n", v);

    /* 24 independent 8-byte loads. */
    t = now();
    n = N;
    __asm__ volatile("1:\n" R8("mov 0x78(%1), %%rax\n mov 0x180(%1), %%rbx\n mov 0x288(%1), %%rcx\n")
                     "dec %0\n jnz 1b"
                     : "+r"(n) : "r"(state) : "rax", "rbx", "rcx", "memory");
    v = (now() - t) / (N * 24.0) / cycle;
    printf("load, 8 bytes                          %.2f cycles each\n", v);

    /* A value carried through memory: load, add, store, 8 times a round
     * (a guest register that translated code keeps in the CPU state). */
    t = now();
    n = N;
    __asm__ volatile("1:\n" R8("mov 0x78(%1), %%rax\n add $1, %%rax\n mov %%rax, 0x78(%1)\n")
                     "dec %0\n jnz 1b"
                     : "+r"(n) : "r"(state) : "rax", "memory");
    v = (now() - t) / (N * 8.0) / cycle;
    printf("load-add-store round trip              %.2f cycles each\n", v);
    return 0;
}
