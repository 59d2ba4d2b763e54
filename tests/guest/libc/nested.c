/* GCC's nested functions: taking the address of one that uses its
 * parent's locals builds a trampoline on the stack, so the linker marks
 * the program's stack executable (PT_GNU_STACK with PF_X), and Linux maps
 * the initial stack executable for it. Without that, the first call
 * through the pointer faults.
 */
#include <stdio.h>

static long apply(long (*f)(long), long x)
{
    return f(x);
}

__attribute__((noinline)) static long outer(long k)
{
    long base = k;
    long add(long x)
    {
        return x + base;
    }
    long s = 0;
    for (int i = 0; i < 100; i++)
        s += apply(add, i);
    return s;
}

int main(void)
{
    long t = 0;
    for (long k = 0; k < 2000; k++)
        t += outer(k);
    printf("nested functions through stack trampolines: %ld\n", t);
    return 0;
}
