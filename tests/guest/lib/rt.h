/* The freestanding guest programs' tiny runtime: raw Linux syscalls and
 * buffered formatted output.  No libc. */
#ifndef CRANEMU_GUEST_RT_H
#define CRANEMU_GUEST_RT_H

#include <stdarg.h>

typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef int i32;
typedef unsigned char u8;

#define INT64_MIN_ ((i64)0x8000000000000000UL)
#define INT64_MAX_ ((i64)0x7fffffffffffffffUL)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Linux riscv64 syscall numbers (asm-generic). */
#define SYS_write 64
#define SYS_exit_group 94
#define SYS_mmap 222

long sys_call6(long n, long a0, long a1, long a2, long a3, long a4, long a5);
long sys_write(int fd, const void *buf, u64 len);
void *sys_mmap(void *addr, u64 len, int prot, int flags, int fd, long off);
__attribute__((noreturn)) void sys_exit_group(int status);

/* Formatted output to stdout, buffered until flush()/exit or a full buffer.
 *   %s string   %c char
 *   %d i64 in decimal      %u u64 in decimal
 *   %x u64 as 0x + 16 hex digits   %w u32 as 0x + 8 hex digits
 *   %h u64 as 0x + shortest hex    %% a percent sign */
void pf(const char *fmt, ...);
void vpf(const char *fmt, va_list ap);
void flush(void);
/* Flushes stdout and exits with the given status. */
__attribute__((noreturn)) void rt_exit(int status);

void *memcpy(void *d, const void *s, u64 n);
void *memset(void *d, int c, u64 n);
int memcmp(const void *a, const void *b, u64 n);
u64 strlen(const char *s);

#endif
