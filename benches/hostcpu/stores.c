/* How many stores, loads and ALU operations this host's cores retire per
 * cycle, in the patterns translated code makes: a guest-register store to
 * the CPU state per guest instruction that writes a register, a load per
 * read, and a value kept in memory from one loop iteration to the next.
 * The reference is a chain of dependent adds, one cycle each, so no clock
 * frequency is needed.  benches/hostcpu.sh builds and runs it; BENCHMARKS.md
 * ("Issue 12, tenth step") has its figures and what follows from them.
 *
 * Each measurement runs an unrolled loop body of OPS operations N times
 * and reports cycles per operation: time per operation over time per
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

/* Seconds per operation of CODE (OPS operations, `state` in %1) run N
 * times; the remaining arguments are the clobbers. */
#define SECONDS_PER_OP(OPS, CODE, ...)                                       \
    ({                                                                       \
        long n_ = N;                                                         \
        double t_ = now();                                                   \
        __asm__ volatile("1:\n" CODE "dec %0\n jnz 1b"                      \
                         : "+r"(n_) : "r"(state) : __VA_ARGS__);             \
        (now() - t_) / (N * (double)(OPS));                                  \
    })

int main(void)
{
    double cycle = SECONDS_PER_OP(24, R8("add $1, %%rax\n add $1, %%rax\n add $1, %%rax\n"), "rax");
    printf("dependent add (the reference)          1.00 cycles\n");
    printf("independent add, 6 chains              %.2f cycles each\n",
           SECONDS_PER_OP(48,
                          R8("add %%rsi, %%rax\n add %%rsi, %%rbx\n add %%rsi, %%rcx\n"
                             "add %%rsi, %%rdx\n add %%rsi, %%r8\n add %%rsi, %%r9\n"),
                          "rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9") / cycle);
    printf("store, 8 bytes, 3 lines                %.2f cycles each\n",
           SECONDS_PER_OP(24, R8("mov %%rax, 0x78(%1)\n mov %%rbx, 0x180(%1)\n mov %%rcx, 0x288(%1)\n"),
                          "rax", "rbx", "rcx", "memory") / cycle);
    printf("store, 8 bytes, adjacent words         %.2f cycles each\n",
           SECONDS_PER_OP(24, R8("mov %%rax, 0x78(%1)\n mov %%rbx, 0x80(%1)\n mov %%rcx, 0x88(%1)\n"),
                          "rax", "rbx", "rcx", "memory") / cycle);
    printf("load, 8 bytes                          %.2f cycles each\n",
           SECONDS_PER_OP(24, R8("mov 0x78(%1), %%rax\n mov 0x180(%1), %%rbx\n mov 0x288(%1), %%rcx\n"),
                          "rax", "rbx", "rcx", "memory") / cycle);
    /* A value carried through memory: load, add, store (a guest register
     * that translated code keeps in the CPU state); one round trip is one
     * operation here. */
    printf("load-add-store round trip              %.2f cycles each\n",
           SECONDS_PER_OP(8, R8("mov 0x78(%1), %%rax\n add $1, %%rax\n mov %%rax, 0x78(%1)\n"),
                          "rax", "memory") / cycle);
    return 0;
}
