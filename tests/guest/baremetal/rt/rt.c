/* Bare-metal runtime, C half: console, checks, power-off, trap handlers. */
#include "rt.h"

volatile struct trap_rec mtrap, strap;
void (*volatile m_irq)(u64 cause);
void (*volatile s_irq)(u64 cause);
volatile int m_abort, s_abort;
int fails;
u64 boot_hartid, boot_fdt;

void putc_(char c)
{
	while (!(*(volatile u8 *)(UART0 + 5) & 0x20))
		;
	*(volatile u8 *)UART0 = c;
}

void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

void puthex(u64 v)
{
	puts_("0x");
	int i = 60;
	while (i > 0 && !((v >> i) & 0xf))
		i -= 4;
	for (; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 0xf]);
}

void check(const char *name, u64 got, u64 want)
{
	if (got == want) {
		puts_("ok ");
		puts_(name);
	} else {
		fails++;
		puts_("FAIL ");
		puts_(name);
		puts_(": got ");
		puthex(got);
		puts_(" want ");
		puthex(want);
	}
	putc_('\n');
}

void check_cond(const char *name, int cond, u64 got, const char *want)
{
	if (cond) {
		puts_("ok ");
		puts_(name);
	} else {
		fails++;
		puts_("FAIL ");
		puts_(name);
		puts_(": got ");
		puthex(got);
		puts_(" want ");
		puts_(want);
	}
	putc_('\n');
}

void memset_(void *d, int c, u64 n)
{
	volatile u8 *p = d;
	while (n--)
		*p++ = c;
}

void memcpy_(void *d, const void *s, u64 n)
{
	volatile u8 *p = d;
	const volatile u8 *q = s;
	while (n--)
		*p++ = *q++;
}

u64 insn_at(u64 pc)
{
	u64 lo = *(volatile u16 *)pc;
	if ((lo & 3) != 3)
		return lo;
	return lo | ((u64) * (volatile u16 *)(pc + 2) << 16);
}

int illegal_tval_ok(u64 tval, u64 pc)
{
	return tval == 0 || tval == insn_at(pc);
}

void trap_reset(void)
{
	mtrap.count = strap.count = 0;
	mtrap.cause = strap.cause = mtrap.epc = strap.epc = ~0UL;
	mtrap.tval = strap.tval = mtrap.status = strap.status = ~0UL;
	mtrap.vec = strap.vec = -2;
	mtrap.mode = strap.mode = ~0UL;
	for (int i = 0; i < 8; i++)
		mtrap.log[i] = strap.log[i] = ~0UL;
	m_abort = s_abort = 0;
}

static void record(volatile struct trap_rec *r, u64 cause, u64 epc, u64 tval, u64 status, long vec, u64 mode)
{
	if (r->count < 8)
		r->log[r->count] = cause;
	r->count++;
	r->cause = cause;
	r->epc = epc;
	r->tval = tval;
	r->status = status;
	r->vec = vec;
	r->mode = mode;
}

static int is_ecall(u64 cause)
{
	return cause == 8 || cause == 9 || cause == 11;
}

static void __attribute__((noreturn)) power_off(u32 v);
static volatile int in_m_trap, in_s_trap;

/* A trap inside a trap handler: the handler state is gone, so report it
 * and fail at once (rather than loop until the harness's timeout). */
static void __attribute__((noreturn)) nested(const char *which, u64 cause, u64 epc, u64 tval)
{
	puts_("FAIL nested trap in the ");
	puts_(which);
	puts_(" handler: cause ");
	puthex(cause);
	puts_(" epc ");
	puthex(epc);
	puts_(" tval ");
	puthex(tval);
	putc_('\n');
	power_off((1u << 16) | 0x3333);
}

void m_trap(u64 *f, long vec)
{
	u64 cause = csr_read(mcause), epc = csr_read(mepc);
	u64 status = csr_read(mstatus);
	if (in_m_trap)
		nested("M", cause, epc, csr_read(mtval));
	if (!(cause & INTR) && is_ecall(cause) && f[17] == RT_MAGIC)
		rt_resume_m(f[10]);
	in_m_trap = 1;
	record(&mtrap, cause, epc, csr_read(mtval), status, vec, (status >> 11) & 3);
	if (cause & INTR) {
		u64 code = cause & 0xff;
		if (m_irq)
			m_irq(code);
		else
			csr_clear(mie, 1UL << code);
		in_m_trap = 0;
		return;
	}
	if (m_abort) {
		m_abort = 0;
		in_m_trap = 0;
		rt_resume_m(RT_ABORTED);
	}
	if (cause == 0 || cause == 1 || cause == 12)
		csr_write(mepc, f[1]);
	else
		csr_write(mepc, epc + ((insn_at(epc) & 3) == 3 ? 4 : 2));
	in_m_trap = 0;
}

void s_trap(u64 *f, long vec)
{
	u64 cause = csr_read(scause), epc = csr_read(sepc);
	u64 status = csr_read(sstatus);
	if (in_s_trap)
		nested("S", cause, epc, csr_read(stval));
	if (!(cause & INTR) && is_ecall(cause) && f[17] == RT_MAGIC) {
		register u64 a0 asm("a0") = f[10];
		register u64 a7 asm("a7") = RT_MAGIC;
		asm volatile("ecall" :: "r"(a0), "r"(a7) : "memory");
	}
	in_s_trap = 1;
	record(&strap, cause, epc, csr_read(stval), status, vec, (status >> 8) & 1);
	if (cause & INTR) {
		u64 code = cause & 0xff;
		if (s_irq)
			s_irq(code);
		else
			csr_clear(sie, 1UL << code);
		in_s_trap = 0;
		return;
	}
	if (s_abort) {
		s_abort = 0;
		in_s_trap = 0;
		register u64 a0 asm("a0") = RT_ABORTED;
		register u64 a7 asm("a7") = RT_MAGIC;
		asm volatile("ecall" :: "r"(a0), "r"(a7) : "memory");
	}
	if (cause == 0 || cause == 1 || cause == 12)
		csr_write(sepc, f[1]);
	else
		csr_write(sepc, epc + ((insn_at(epc) & 3) == 3 ? 4 : 2));
	in_s_trap = 0;
}

static void power_off(u32 v)
{
	for (;;)
		mmio_write32(TEST_DEV, v);
}

void rt_main(u64 hartid, u64 fdt)
{
	boot_hartid = hartid;
	boot_fdt = fdt;
	/* PMP entry 0: NAPOT over the whole address space, RWX, so that S and
	 * U may access memory (Privileged ISA 3.7.1: with PMP implemented and
	 * no entry matching, S/U accesses fail). */
	csr_write(pmpaddr0, ~0UL >> 10);
	csr_write(pmpcfg0, 0x1f);
	csr_write(stvec, (u64)s_trap_entry);
	/* FS = Initial (3.1.6.6: Off at reset on QEMU), so that compiled code
	 * may use FP registers; misc.c tests FS itself. */
	csr_set(mstatus, 1UL << 13);
	trap_reset();
	main(hartid, fdt);
	if (fails) {
		puts_("FAILED: ");
		puthex(fails);
		puts_(" checks\n");
		power_off((1u << 16) | 0x3333);
	}
	puts_("PASS\n");
	power_off(0x5555);
}
