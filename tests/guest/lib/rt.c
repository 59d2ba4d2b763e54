/* The freestanding guest programs' tiny runtime.  See rt.h. */
#include "rt.h"

long sys_call6(long n, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long r_a0 asm("a0") = a0;
	register long r_a1 asm("a1") = a1;
	register long r_a2 asm("a2") = a2;
	register long r_a3 asm("a3") = a3;
	register long r_a4 asm("a4") = a4;
	register long r_a5 asm("a5") = a5;
	register long r_a7 asm("a7") = n;
	asm volatile("ecall"
		     : "+r"(r_a0)
		     : "r"(r_a1), "r"(r_a2), "r"(r_a3), "r"(r_a4), "r"(r_a5), "r"(r_a7)
		     : "memory");
	return r_a0;
}

long sys_write(int fd, const void *buf, u64 len)
{
	return sys_call6(SYS_write, fd, (long)buf, (long)len, 0, 0, 0);
}

void *sys_mmap(void *addr, u64 len, int prot, int flags, int fd, long off)
{
	return (void *)sys_call6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
}

void sys_exit_group(int status)
{
	for (;;)
		sys_call6(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

static char out_buf[4096];
static u64 out_len;

void flush(void)
{
	u64 done = 0;
	while (done < out_len) {
		long n = sys_write(1, out_buf + done, out_len - done);
		if (n <= 0)
			sys_exit_group(120);
		done += (u64)n;
	}
	out_len = 0;
}

static void putc_(char c)
{
	if (out_len == sizeof(out_buf))
		flush();
	out_buf[out_len++] = c;
}

static void put_str(const char *s)
{
	while (*s)
		putc_(*s++);
}

static void put_udec(u64 v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		putc_(tmp[--n]);
}

static void put_hex(u64 v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	put_str("0x");
	if (digits == 0) {
		digits = 1;
		while (digits < 16 && (v >> (4 * digits)))
			digits++;
	}
	for (int i = digits - 1; i >= 0; i--)
		putc_(hex[(v >> (4 * i)) & 0xf]);
}

void vpf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			putc_(*fmt);
			continue;
		}
		switch (*++fmt) {
		case 's': put_str(va_arg(ap, const char *)); break;
		case 'c': putc_((char)va_arg(ap, int)); break;
		case 'd': {
			i64 v = va_arg(ap, i64);
			if (v < 0) {
				putc_('-');
				put_udec(-(u64)v);
			} else {
				put_udec((u64)v);
			}
			break;
		}
		case 'u': put_udec(va_arg(ap, u64)); break;
		case 'x': put_hex(va_arg(ap, u64), 16); break;
		case 'w': put_hex(va_arg(ap, u64) & 0xffffffffUL, 8); break;
		case 'h': put_hex(va_arg(ap, u64), 0); break;
		case '%': putc_('%'); break;
		case 0: return;
		default: putc_('?'); break;
		}
	}
}

void pf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vpf(fmt, ap);
	va_end(ap);
}

void rt_exit(int status)
{
	flush();
	sys_exit_group(status);
}

void *memcpy(void *d, const void *s, u64 n)
{
	u8 *dp = d;
	const u8 *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, u64 n)
{
	u8 *dp = d;
	while (n--)
		*dp++ = (u8)c;
	return d;
}

int memcmp(const void *a, const void *b, u64 n)
{
	const u8 *ap = a, *bp = b;
	for (; n; n--, ap++, bp++)
		if (*ap != *bp)
			return *ap < *bp ? -1 : 1;
	return 0;
}

u64 strlen(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	return n;
}
