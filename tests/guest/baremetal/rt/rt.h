/* Bare-metal runtime for the privileged-architecture test programs
 * (QEMU-compatible `virt` machine, hart 0, entered in M mode).
 *
 * Conventions:
 *  - main() runs in M mode; check()/check_cond() print one line per check;
 *    main's return is ignored: the program powers off through the SiFive
 *    test device with pass if no check failed, else fail with code 1.
 *  - Every trap to M (direct mode or vector i) goes to m_trap(), every
 *    trap to S to s_trap(); each records it in mtrap / strap and then:
 *      an ecall with a7 == RT_MAGIC ends the current run_lower() (from S
 *      handler: forwarded to M by an ecall from S);
 *      an interrupt calls m_irq / s_irq (set by the test; the default turns
 *      the interrupt's enable bit off);
 *      with m_abort / s_abort set, an exception ends run_lower() returning
 *      RT_ABORTED (and clears the flag);
 *      an instruction fetch fault (cause 0, 1, 12) returns to ra;
 *      any other exception skips the trapping instruction (2 or 4 bytes,
 *      read at xepc: only for identity-mapped or bare code).
 *  - run_lower(PRV_S or PRV_U, fn, arg) runs fn(arg) in that mode.
 */
#ifndef RT_H
#define RT_H
#include "rt_asm.h"

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

#define RT_ABORTED 0xdeadULL

/* mstatus fields (Privileged ISA 3.1.6) */
#define MSTATUS_SIE  (1UL << 1)
#define MSTATUS_MIE  (1UL << 3)
#define MSTATUS_SPIE (1UL << 5)
#define MSTATUS_MPIE (1UL << 7)
#define MSTATUS_SPP  (1UL << 8)
#define MSTATUS_MPP  (3UL << 11)
#define MSTATUS_FS   (3UL << 13)
#define MSTATUS_MPRV (1UL << 17)
#define MSTATUS_SUM  (1UL << 18)
#define MSTATUS_MXR  (1UL << 19)
#define MSTATUS_TVM  (1UL << 20)
#define MSTATUS_TW   (1UL << 21)
#define MSTATUS_TSR  (1UL << 22)
#define MSTATUS_SD   (1UL << 63)

/* interrupt numbers (mip/mie bits, Privileged ISA 3.1.9, table 3.6) */
#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define INTR (1UL << 63)

/* virt machine devices */
#define UART0      0x10000000UL
#define TEST_DEV   0x00100000UL
#define CLINT      0x02000000UL
#define CLINT_MSIP     (CLINT + 0x0)
#define CLINT_MTIMECMP (CLINT + 0x4000)
#define CLINT_MTIME    (CLINT + 0xbff8)

#define STR_(x) #x
#define STR(x) STR_(x)
#define csr_read(csr) ({ u64 __v; asm volatile("csrr %0, " STR(csr) : "=r"(__v) :: "memory"); __v; })
#define csr_write(csr, v) asm volatile("csrw " STR(csr) ", %0" :: "r"((u64)(v)) : "memory")
#define csr_set(csr, v) asm volatile("csrs " STR(csr) ", %0" :: "r"((u64)(v)) : "memory")
#define csr_clear(csr, v) asm volatile("csrc " STR(csr) ", %0" :: "r"((u64)(v)) : "memory")
#define csr_swap(csr, v) ({ u64 __v; asm volatile("csrrw %0, " STR(csr) ", %1" : "=r"(__v) : "r"((u64)(v)) : "memory"); __v; })

static inline u64 mmio_read64(u64 a) { return *(volatile u64 *)a; }
static inline void mmio_write64(u64 a, u64 v) { *(volatile u64 *)a = v; }
static inline u32 mmio_read32(u64 a) { return *(volatile u32 *)a; }
static inline void mmio_write32(u64 a, u32 v) { *(volatile u32 *)a = v; }

struct trap_rec {
	u64 count;	/* traps recorded since trap_reset() */
	u64 cause, epc, tval, status;	/* of the last one; status = xstatus on entry */
	long vec;	/* vector entry used (-1: direct) */
	u64 mode;	/* privilege mode trapped from (M: from MPP; S: from SPP) */
	u64 log[8];	/* causes, in order (first 8) */
};
extern volatile struct trap_rec mtrap, strap;
extern void (*volatile m_irq)(u64 cause);
extern void (*volatile s_irq)(u64 cause);
extern volatile int m_abort, s_abort;
extern int fails;

void trap_reset(void);
long run_lower(long mode, void *fn, long arg);
void rt_resume_m(long v) __attribute__((noreturn));
extern char lower_return[];
extern char m_trap_entry[], s_trap_entry[], m_vector_table[], s_vector_table[];

/* leaf helpers (start.S); *_insn labels the trapping instruction */
u64 mem_ld64(u64 addr);
void mem_sd64(u64 addr, u64 v);
u64 mem_amoadd64(u64 addr, u64 v);
u64 mem_lr64(u64 addr);
extern char mem_ld64_insn[], mem_sd64_insn[], mem_amoadd64_insn[], mem_lr64_insn[];
long call_at(u64 pc, long arg);

void putc_(char c);
void puts_(const char *s);
void puthex(u64 v);
void check(const char *name, u64 got, u64 want);
/* For checks where the spec allows several answers: ok when cond. */
void check_cond(const char *name, int cond, u64 got, const char *want);
void memset_(void *d, int c, u64 n);
void memcpy_(void *d, const void *s, u64 n);
/* The 32-bit (or 16-bit) encoding at pc. */
u64 insn_at(u64 pc);
/* tval of an illegal-instruction trap: 0 or the instruction's encoding
 * (Privileged ISA 3.1.16: "mtval may be written with the first XLEN or ILEN
 * bits of the faulting instruction ... otherwise mtval is set to zero"). */
int illegal_tval_ok(u64 tval, u64 pc);

int main(u64 hartid, u64 fdt);

/* Several harts (QEMU virt starts them all at _start): harts other than 0
 * wait until hart 0 stores 1 to smp_release, then call secondary_main
 * (a weak symbol: by default they park in wfi) on their own stack and M
 * trap stack (mscratch).  The trap handlers of rt.c are for hart 0 only. */
extern volatile u64 smp_release;
void secondary_main(u64 hartid, u64 fdt);
extern u64 boot_hartid, boot_fdt;
#endif
