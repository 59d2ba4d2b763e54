/* misc: boot state, misa, misaligned accesses, FENCE.I, counters and their
 * enables, the FP context status (mstatus.FS/SD), EBREAK, PMP, and access
 * faults for a physical address no memory or device claims.
 *
 * References: RISC-V Privileged ISA v1.12 (20211203):
 *   3.1.1  misa (MXL = 2 for RV64; extension bits), 3.1.5 mhartid,
 *   3.1.6.2 SXL/UXL, 3.1.6.6 FS and SD ("any instruction that attempts to
 *          read or write the corresponding state will cause an illegal
 *          instruction exception" when Off; Dirty after state is modified),
 *   3.1.11 mcounteren, 4.1.5 scounteren, 3.1.10 mcycle/minstret,
 *   3.1.15/3.1.16 causes 3 (breakpoint), 4/6 (misaligned), 5/7 (access
 *          fault) and mtval = the faulting address,
 *   3.7    PMP (NAPOT regions; S/U accesses checked, M not unless locked).
 * Unprivileged ISA 20191213: 2.6 misaligned loads/stores may be handled or
 * trap (address-misaligned or access fault); 8.2/8.4 AMOs and LR/SC must be
 * naturally aligned, else address-misaligned or access-fault; 3 Zifencei.
 * virt machine boot (-bios none): a0 = hartid, a1 = FDT address.
 *
 * QEMU 7.2: misaligned scalar loads/stores are handled (no trap); a
 * misaligned AMO raises LOAD address-misaligned (cause 4) instead of
 * store/AMO address-misaligned (6), and a misaligned SC without a
 * reservation just fails without trapping — both accepted as QEMU 7.2
 * quirks (the checks say so in their names).
 */
#include "rt.h"

#define INSN_FN(name, insn)                                                    \
	asm(".pushsection .text\n.option push\n.option norvc\n.balign 4\n"     \
	    ".globl " #name "\n" #name ":\n" insn "\nret\n.option pop\n.popsection"); \
	extern char name[];

INSN_FN(f_rdcycle, "rdcycle a0")
INSN_FN(f_rdtime, "rdtime a0")
INSN_FN(f_rdinstret, "rdinstret a0")
INSN_FN(f_rdhpm3, "csrr a0, hpmcounter3")
INSN_FN(f_fadd, "fadd.d fa0, fa0, fa1")
INSN_FN(f_fld, "fld fa0, 0(sp)")
INSN_FN(f_frcsr, "frcsr a0")
INSN_FN(f_fmvxd, "fmv.x.d a0, fa0")
INSN_FN(f_ebreak, "ebreak")
INSN_FN(f_scw, "sc.w a0, a1, (a0)")
asm(".pushsection .text\n.option push\n.option rvc\n.balign 4\n.globl f_cebreak\nf_cebreak:\n"
    "c.ebreak\nret\n.option pop\n.popsection");
extern char f_cebreak[];

extern u64 boot_hartid, boot_fdt;

static u64 buf[4] __attribute__((aligned(64)));

static void test_boot(void)
{
	check("boot.a0_hartid", boot_hartid, 0);
	check("boot.mhartid", csr_read(mhartid), 0);
	/* The FDT header starts with the big-endian magic 0xd00dfeed. */
	check("boot.a1_fdt_magic", boot_fdt ? *(volatile u32 *)boot_fdt : 0, 0xedfe0dd0);
	u64 misa = csr_read(misa);
	check("misa.mxl_rv64", misa >> 62, 2);
	static const char ext[] = "IMAFDCSU";
	for (const char *e = ext; *e; e++) {
		char name[16] = "misa.has_X";
		name[9] = *e;
		check(name, (misa >> (*e - 'A')) & 1, 1);
	}
	u64 ms = csr_read(mstatus);
	check("mstatus.uxl_64", (ms >> 32) & 3, 2);
	check("mstatus.sxl_64", (ms >> 34) & 3, 2);
}

static void test_misaligned(void)
{
	buf[0] = 0x1122334455667788UL;
	buf[1] = 0x99aabbccddeeff00UL;
	u64 a = (u64)buf + 3;
	/* Load: either the right value (handled) or cause 4 with mtval = a. */
	trap_reset();
	u64 v = mem_ld64(a);
	check_cond("misaligned.ld",
		   (mtrap.count == 0 && v == 0xeeff001122334455UL) ||
		   (mtrap.count == 1 && mtrap.cause == 4 && mtrap.tval == a),
		   v, "0xeeff001122334455 or cause 4 with mtval = address");
	trap_reset();
	mem_sd64(a, 0x0102030405060708UL);
	check_cond("misaligned.sd",
		   (mtrap.count == 0 && buf[0] == 0x0405060708667788UL && buf[1] == 0x99aabbccdd010203UL) ||
		   (mtrap.count == 1 && mtrap.cause == 6 && mtrap.tval == a),
		   buf[0], "stored bytes or cause 6 with mtval = address");
	/* AMO: address-misaligned (6) or access fault (7); QEMU 7.2 gives 4. */
	a = (u64)buf + 2;
	trap_reset();
	mem_amoadd64(a, 1);
	check_cond("misaligned.amo.cause(qemu7.2:4)",
		   mtrap.count == 1 && (mtrap.cause == 6 || mtrap.cause == 7 || mtrap.cause == 4),
		   mtrap.cause, "6 or 7 (QEMU 7.2: 4)");
	check("misaligned.amo.mtval", mtrap.tval, a);
	check("misaligned.amo.mepc", mtrap.epc, (u64)mem_amoadd64_insn);
	/* LR: load address-misaligned (4) or load access fault (5). */
	trap_reset();
	mem_lr64(a);
	check_cond("misaligned.lr.cause", mtrap.count == 1 && (mtrap.cause == 4 || mtrap.cause == 5),
		   mtrap.cause, "4 or 5");
	check("misaligned.lr.mtval", mtrap.tval, a);
	/* SC: store/AMO address-misaligned (6) or access fault (7).  QEMU 7.2
	 * checks the reservation first: with none (here) the SC just fails
	 * (rd != 0), no trap, memory unchanged — accepted as its quirk. */
	trap_reset();
	buf[0] = 0x1122334455667788UL;
	u64 sc_rd;
	{
		register u64 a0 asm("a0") = (u64)buf + 1;
		register u64 a1 asm("a1") = 5;
		asm volatile("call f_scw" : "+r"(a0) : "r"(a1) : "ra", "memory");
		sc_rd = a0;
	}
	check_cond("misaligned.sc(qemu7.2:fails_without_trap)",
		   (mtrap.count == 1 && (mtrap.cause == 6 || mtrap.cause == 7) && mtrap.tval == (u64)buf + 1) ||
		   (mtrap.count == 0 && sc_rd != 0 && buf[0] == 0x1122334455667788UL),
		   mtrap.cause, "cause 6 or 7, mtval = address (QEMU 7.2: SC fails, no trap)");
}

static u32 code_buf[16] __attribute__((aligned(64)));

static void test_fence_i(void)
{
	/* addi a0, zero, N ; ret */
	code_buf[0] = 0x00100513;	/* li a0, 1 */
	code_buf[1] = 0x00008067;	/* ret */
	asm volatile("fence.i" ::: "memory");
	check("fence_i.first", call_at((u64)code_buf, 0), 1);
	code_buf[0] = 0x00200513;	/* li a0, 2 */
	asm volatile("fence.i" ::: "memory");
	check("fence_i.rewritten", call_at((u64)code_buf, 0), 2);
	for (int i = 3; i < 8; i++) {
		code_buf[0] = 0x00000513 | (i << 20);
		asm volatile("fence.i" ::: "memory");
		if (call_at((u64)code_buf, 0) != i) {
			check("fence_i.loop", i, 0);
			return;
		}
	}
	check("fence_i.loop", 1, 1);
}

static void expect_counter(const char *name, long mode, char *fn, int illegal)
{
	trap_reset();
	if (mode == PRV_M)
		call_at((u64)fn, 0);
	else
		run_lower(mode, fn, 0);
	if (illegal)
		check(name, mtrap.count == 1 && mtrap.cause == 2 && mtrap.epc == (u64)fn, 1);
	else
		check(name, mtrap.count, 0);
}

static void test_counters(void)
{
	u64 c0 = csr_read(mcycle), i0 = csr_read(minstret);
	for (volatile int i = 0; i < 1000; i++)
		;
	check("mcycle.advances", csr_read(mcycle) > c0, 1);
	check("minstret.advances", csr_read(minstret) > i0, 1);
	u64 uc0, uc1;
	asm volatile("rdcycle %0" : "=r"(uc0));
	asm volatile("rdcycle %0" : "=r"(uc1));
	check("cycle.readable_in_m_and_monotonic", uc1 >= uc0, 1);
	expect_counter("m.rdtime", PRV_M, f_rdtime, 0);
	expect_counter("m.rdinstret", PRV_M, f_rdinstret, 0);
	/* 3.1.11: mcounteren bits CY(0) TM(1) IR(2) HPM3(3) gate S and U. */
	csr_write(mcounteren, 0);
	csr_write(scounteren, 0);
	expect_counter("s.rdcycle.mcounteren0", PRV_S, f_rdcycle, 1);
	expect_counter("s.rdtime.mcounteren0", PRV_S, f_rdtime, 1);
	expect_counter("s.rdinstret.mcounteren0", PRV_S, f_rdinstret, 1);
	expect_counter("u.rdcycle.mcounteren0", PRV_U, f_rdcycle, 1);
	csr_write(mcounteren, 7);
	expect_counter("s.rdcycle.mcounteren7", PRV_S, f_rdcycle, 0);
	expect_counter("s.rdtime.mcounteren7", PRV_S, f_rdtime, 0);
	expect_counter("s.rdinstret.mcounteren7", PRV_S, f_rdinstret, 0);
	expect_counter("s.hpmcounter3.mcounteren7", PRV_S, f_rdhpm3, 1);
	/* 4.1.5: scounteren further gates U. */
	expect_counter("u.rdcycle.scounteren0", PRV_U, f_rdcycle, 1);
	expect_counter("u.rdtime.scounteren0", PRV_U, f_rdtime, 1);
	csr_write(scounteren, 7);
	expect_counter("u.rdcycle.scounteren7", PRV_U, f_rdcycle, 0);
	expect_counter("u.rdtime.scounteren7", PRV_U, f_rdtime, 0);
	expect_counter("u.rdinstret.scounteren7", PRV_U, f_rdinstret, 0);
	csr_write(mcounteren, 5);	/* TM off: U is denied time whatever scounteren */
	expect_counter("u.rdtime.mcounteren5", PRV_U, f_rdtime, 1);
	expect_counter("u.rdcycle.mcounteren5", PRV_U, f_rdcycle, 0);
	csr_write(mcounteren, 0);
	csr_write(scounteren, 0);
}

static void set_fs(u64 fs)
{
	csr_clear(mstatus, MSTATUS_FS);
	csr_set(mstatus, fs << 13);
}

static u64 fs(void) { return (csr_read(mstatus) & MSTATUS_FS) >> 13; }

static void test_fs(void)
{
	/* FS = Off: FP instructions and fcsr accesses are illegal. */
	set_fs(0);
	expect_counter("fs_off.fadd_illegal", PRV_M, f_fadd, 1);
	expect_counter("fs_off.fld_illegal", PRV_M, f_fld, 1);
	expect_counter("fs_off.frcsr_illegal", PRV_M, f_frcsr, 1);
	expect_counter("fs_off.fmv_x_d_illegal", PRV_M, f_fmvxd, 1);
	check("fs_off.sd_clear", csr_read(mstatus) >> 63, 0);
	/* FS = Initial: an FP write makes it Dirty, and SD = 1. */
	set_fs(1);
	check("fs_initial.readback", fs(), 1);
	expect_counter("fs_initial.fadd_ok", PRV_M, f_fadd, 0);
	check("fs_initial.fadd_makes_dirty", fs(), 3);
	check("fs_dirty.sd_set", csr_read(mstatus) >> 63, 1);
	check("fs_dirty.sstatus_sd_set", csr_read(sstatus) >> 63, 1);
	check("fs_dirty.sstatus_fs", (csr_read(sstatus) & MSTATUS_FS) >> 13, 3);
	/* Clean, then an FP load (writes f registers): Dirty again. */
	set_fs(2);
	check("fs_clean.readback", fs(), 2);
	check("fs_clean.sd_clear(or_dirty)", (csr_read(mstatus) >> 63) == 0 || fs() == 3, 1);
	expect_counter("fs_clean.fld_ok", PRV_M, f_fld, 0);
	check("fs_clean.fld_makes_dirty", fs(), 3);
	/* FS = Off also makes FP illegal in S. */
	set_fs(0);
	expect_counter("fs_off.s_fadd_illegal", PRV_S, f_fadd, 1);
	set_fs(1);
	expect_counter("fs_initial.s_fadd_ok", PRV_S, f_fadd, 0);
	check("fs_initial.s_fadd_makes_dirty", fs(), 3);
	set_fs(3);
}

static void test_ebreak(void)
{
	/* 3.1.15: breakpoint = 3; mepc = the ebreak; 3.1.16: mtval is 0 or
	 * the faulting (here: the ebreak's) address.  QEMU 7.2 writes the pc. */
	trap_reset();
	call_at((u64)f_ebreak, 0);
	check("ebreak.mcause", mtrap.cause, 3);
	check("ebreak.mepc", mtrap.epc, (u64)f_ebreak);
	check_cond("ebreak.mtval", mtrap.tval == 0 || mtrap.tval == (u64)f_ebreak, mtrap.tval, "0 or the pc");
	trap_reset();
	call_at((u64)f_cebreak, 0);
	check("c_ebreak.mcause", mtrap.cause, 3);
	check("c_ebreak.mepc", mtrap.epc, (u64)f_cebreak);
	check("c_ebreak.resumed_after_2_bytes", mtrap.count, 1);
}

static u64 pmp_page[512] __attribute__((aligned(4096)));

static void pmp_protect(u64 perms)
{
	/* entry 0: the 4 KiB page, NAPOT (A = 3), perms; entry 1: everything RWX */
	csr_write(pmpaddr0, ((u64)pmp_page >> 2) | 0x1ff);
	csr_write(pmpaddr1, ~0UL >> 10);
	csr_write(pmpcfg0, (0x1fUL << 8) | 0x18 | perms);
	asm volatile("sfence.vma" ::: "memory");
}

static void test_pmp(void)
{
	pmp_page[0] = 0x5a5a;
	pmp_protect(1);	/* R only */
	check("pmp.s_load_r", run_lower(PRV_S, mem_ld64, (u64)pmp_page), 0x5a5a);
	trap_reset();
	{
		static u64 addr;
		addr = (u64)pmp_page + 8;
		run_lower(PRV_S, (void *)mem_sd64, addr);	/* stores a1 (whatever) */
	}
	check("pmp.s_store_r.mcause", mtrap.cause, 7);
	check("pmp.s_store_r.mtval", mtrap.tval, (u64)pmp_page + 8);
	check("pmp.s_store_r.mepc", mtrap.epc, (u64)mem_sd64_insn);
	pmp_protect(0);	/* no access for S/U */
	trap_reset();
	run_lower(PRV_U, mem_ld64, (u64)pmp_page + 16);
	check("pmp.u_load_none.mcause", mtrap.cause, 5);
	check("pmp.u_load_none.mtval", mtrap.tval, (u64)pmp_page + 16);
	/* Instruction fetch from a no-X region: access fault 1, mtval = pc. */
	pmp_page[0] = 0x00008067;	/* ret */
	asm volatile("fence.i" ::: "memory");
	trap_reset();
	run_lower(PRV_S, pmp_page, 0);
	check("pmp.s_fetch_none.mcause", mtrap.cause, 1);
	check("pmp.s_fetch_none.mtval", mtrap.tval, (u64)pmp_page);
	/* M is not checked against an unlocked entry. */
	trap_reset();
	pmp_page[2] = 7;
	check("pmp.m_unaffected", mem_ld64((u64)pmp_page + 16) == 7 && mtrap.count == 0, 1);
	csr_write(pmpaddr0, ~0UL >> 10);
	csr_write(pmpcfg0, 0x1f);
	asm volatile("sfence.vma" ::: "memory");
}

/* A physical address that no memory or device claims (between the RTC at
 * 0x101000 and the CLINT at 0x2000000 on the virt board): an access is an
 * access fault with mtval = the address (Privileged ISA 3.7 / 3.1.15,
 * "access-fault exceptions"), taken in M since nothing is delegated. */
#define HOLE 0x500000UL

static void test_unmapped(void)
{
	trap_reset();
	mem_ld64(HOLE);
	check("hole.load.mcause", mtrap.cause, 5);
	check("hole.load.mtval", mtrap.tval, HOLE);
	check("hole.load.mepc", mtrap.epc, (u64)mem_ld64_insn);
	trap_reset();
	mem_sd64(HOLE + 8, 1);
	check("hole.store.mcause", mtrap.cause, 7);
	check("hole.store.mtval", mtrap.tval, HOLE + 8);
	check("hole.store.mepc", mtrap.epc, (u64)mem_sd64_insn);
}

int main(u64 hartid, u64 fdt)
{
	(void)hartid;
	(void)fdt;
	test_boot();
	test_misaligned();
	test_fence_i();
	test_counters();
	test_fs();
	test_ebreak();
	test_pmp();
	test_unmapped();
	return 0;
}
