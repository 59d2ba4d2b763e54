/* paging: Sv39, Sv48 and Sv57 translation, run from S (and U) mode with
 * page tables built here.
 *
 * References: RISC-V Privileged ISA v1.12 (20211203):
 *   4.1.11 satp (MODE WARL: a write with an unsupported MODE has no effect;
 *          ASID), 4.2.1 SFENCE.VMA,
 *   4.3.1  Sv32 PTE bits (V R W X U G A D; "R=0, W=1" reserved; the two A/D
 *          schemes), 4.3.2 the translation algorithm (page faults: invalid,
 *          reserved, non-leaf at level 0, misaligned superpage, U/SUM, MXR,
 *          permission), 4.4 Sv39 (bits 63-39 must equal bit 38), 4.5 Sv48,
 *          4.6 Sv57,
 *   3.1.6.3 MPRV, SUM and MXR, 3.7 PMP (checked on page-table reads too),
 *   3.1.15 mcause 12/13/15 (instruction/load/store-AMO page fault),
 *   3.1.16 mtval = the faulting virtual address for page faults; mepc = the
 *          faulting instruction (for a fetch fault: the fetched address).
 *
 * mtval: 3.1.16 also lets an implementation leave mtval zero (it may even
 * be read-only zero); these checks require the faulting address, as QEMU
 * writes it and as operating systems (Linux's stval use) depend on it.
 *
 * Faults are not delegated: they trap to M, which records them.  QEMU 7.2
 * supports Sv39, Sv48 and Sv57 with the default cpu, updates A and D in
 * hardware, and keeps satp unchanged on a write with MODE 1..7 or 11..15.
 */
#include "rt.h"

#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_U (1UL << 4)
#define PTE_G (1UL << 5)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define AD (PTE_A | PTE_D)

static u64 pool[48][512] __attribute__((aligned(4096)));
static int pool_used;
static u64 dpage[8][512] __attribute__((aligned(4096)));
static u64 known_value = 0x600dcafe12345678UL;

/* U-mode snippet (copied to a U page): a0 = *a0, back to M. */
asm(".pushsection .text\n.option push\n.option norvc\n.balign 4\n"
    ".globl u_snip\nu_snip:\nld a0, 0(a0)\nli a7, " STR(RT_MAGIC) "\necall\n"
    ".globl u_snip_end\nu_snip_end:\n"
    ".globl store_self\nstore_self:\n.globl store_self_insn\nstore_self_insn:\nsd a0, 0(a0)\nret\n"
    ".option pop\n.popsection");
extern char u_snip[], u_snip_end[], store_self[], store_self_insn[];

static u64 *alloc_pt(void)
{
	u64 *p = pool[pool_used++];
	memset_(p, 0, 4096);
	return p;
}

static int levels;	/* 3, 4, 5 */
static u64 satp_mode;	/* 8, 9, 10 */
static u64 *root;
static const char *pfx;

static char name_buf[96];
static const char *nm(const char *b)
{
	char *p = name_buf;
	const char *a = pfx;
	while (*a)
		*p++ = *a++;
	*p++ = '.';
	while (*b)
		*p++ = *b++;
	*p = 0;
	return name_buf;
}

/* Maps va -> pa with a leaf at `leaf` (0: 4 KiB, 1: 2 MiB, 2: 1 GiB, ...);
 * returns the leaf PTE. */
static u64 *map(u64 va, u64 pa, u64 flags, int leaf)
{
	u64 *t = root;
	for (int l = levels - 1; l > leaf; l--) {
		u64 *e = &t[(va >> (12 + 9 * l)) & 0x1ff];
		if (!(*e & PTE_V))
			*e = (((u64)alloc_pt() >> 12) << 10) | PTE_V;
		t = (u64 *)((*e >> 10) << 12);
	}
	u64 *e = &t[(va >> (12 + 9 * leaf)) & 0x1ff];
	*e = ((pa >> 12) << 10) | flags;
	return e;
}

static u64 pte_pa(u64 pa, u64 flags) { return ((pa >> 12) << 10) | flags; }

static void flush(void) { asm volatile("sfence.vma zero, zero" ::: "memory"); }

static void setup(int lv, u64 asid)
{
	levels = lv;
	satp_mode = lv + 5;
	pool_used = 0;
	root = alloc_pt();
	/* The program itself: identity 1 GiB page, S only. */
	map(0x80000000UL, 0x80000000UL, PTE_V | PTE_R | PTE_W | PTE_X | AD, 2);
	csr_write(satp, (satp_mode << 60) | (asid << 44) | ((u64)root >> 12));
	flush();
}

static u64 s_ld(u64 va)
{
	trap_reset();
	return run_lower(PRV_S, mem_ld64, va);
}

static void expect_fault(const char *name, u64 cause, u64 epc, u64 tval)
{
	char buf[64];
	const char *n = name;
	int i = 0;
	while (*n)
		buf[i++] = *n++;
	buf[i] = 0;
	char *tail = buf + i;
	const char *s;
	s = ".count"; for (i = 0; (tail[i] = s[i]); i++) ;
	check(nm(buf), mtrap.count, 1);
	s = ".mcause"; for (i = 0; (tail[i] = s[i]); i++) ;
	check(nm(buf), mtrap.cause, cause);
	s = ".mepc"; for (i = 0; (tail[i] = s[i]); i++) ;
	check(nm(buf), mtrap.epc, epc);
	s = ".mtval"; for (i = 0; (tail[i] = s[i]); i++) ;
	check(nm(buf), mtrap.tval, tval);
}

static long s_fence_va_load(long va)
{
	asm volatile("sfence.vma %0, zero" :: "r"(va) : "memory");
	return mem_ld64(va);
}

static long s_fence_asid_load(long va)
{
	u64 asid = (csr_read(satp) >> 44) & 0xffff;
	asm volatile("sfence.vma zero, %0" :: "r"(asid) : "memory");
	return mem_ld64(va);
}

static u32 code_page[2][1024] __attribute__((aligned(4096)));

static long s_call(long va) { return call_at(va, 0); }

/* Two pages for an instruction that crosses from one into the other. */
static u16 cross_page[2][2048] __attribute__((aligned(4096)));

static long s_fence_call(long va)
{
	asm volatile("sfence.vma %0, zero" :: "r"(va) : "memory");
	return call_at(va, 0);
}

/* In M with MPRV = 1, MPP = S: one load, MPRV cleared right after. */
static u64 mprv_ld(u64 va)
{
	u64 v = va;
	csr_clear(mstatus, MSTATUS_MPP);
	asm volatile("csrs mstatus, %1\n ld %0, 0(%0)\n csrc mstatus, %1"
		     : "+r"(v) : "r"(MSTATUS_MPRV | (1UL << 11)) : "memory");
	csr_clear(mstatus, MSTATUS_MPP | MSTATUS_MPRV);
	return v;
}

static void suite(int lv)
{
	static const char *names[] = { "sv39", "sv48", "sv57" };
	pfx = names[lv - 3];
	setup(lv, 0);
	check(nm("satp_readback"), csr_read(satp) >> 60, satp_mode);

	const u64 T = 0x100000000UL; /* test pages at 4 GiB */
	for (int i = 0; i < 8; i++) {
		memset_(dpage[i], 0, 4096);
		dpage[i][0] = 0x1000 + i;
	}
	const u64 RW = PTE_V | PTE_R | PTE_W | AD;
	map(T + 0x0000, (u64)dpage[0], RW, 0);
	map(T + 0x1000, (u64)dpage[1], PTE_V | PTE_R | AD, 0);		/* read-only */
	map(T + 0x2000, (u64)dpage[2], PTE_V | PTE_R | PTE_W | AD, 0);	/* no X */
	map(T + 0x3000, (u64)dpage[3], PTE_V | PTE_W | AD, 0);		/* W without R: reserved */
	map(T + 0x4000, (u64)dpage[4], PTE_R | PTE_W | AD, 0);		/* V = 0 */
	map(T + 0x5000, (u64)dpage[5], PTE_V | PTE_X | PTE_A, 0);	/* execute-only */
	map(T + 0x6000, (u64)dpage[6], PTE_V | PTE_R | PTE_W | PTE_U | AD, 0); /* user */
	u64 *ad_pte = map(T + 0x7000, (u64)dpage[7], PTE_V | PTE_R | PTE_W, 0); /* A = D = 0 */
	flush();

	/* 4 KiB pages: load, store. */
	check(nm("load_4k"), s_ld(T), 0x1000);
	check(nm("load_4k.no_trap"), mtrap.count, 0);
	trap_reset();
	run_lower(PRV_S, store_self, T + 8);
	check(nm("store_4k"), dpage[0][1], T + 8);
	check(nm("store_4k.no_trap"), mtrap.count, 0);

	/* MPRV (3.1.6.3): M loads and stores translated and checked as MPP
	 * (S here); fetches are not.  A fault is taken in M (MPP becomes M, so
	 * the handler's own accesses are untranslated). */
	trap_reset();
	check(nm("mprv.load_as_s"), mprv_ld(T), 0x1000);
	check(nm("mprv.load_as_s.no_trap"), mtrap.count, 0);
	mprv_ld(T + 0x4008);
	check(nm("mprv.fault.mcause"), mtrap.cause, 13);
	check(nm("mprv.fault.mtval"), mtrap.tval, T + 0x4008);
	check(nm("mprv.fault.from_m"), mtrap.mode, PRV_M);

	/* Page faults (4.3.2): cause, mepc, mtval = the virtual address. */
	s_ld(T + 0x4010);
	expect_fault("load_invalid_pte", 13, (u64)mem_ld64_insn, T + 0x4010);
	trap_reset();
	run_lower(PRV_S, store_self, T + 0x1008);
	expect_fault("store_readonly", 15, (u64)store_self_insn, T + 0x1008);
	check(nm("store_readonly.unchanged"), dpage[1][1], 0);
	trap_reset();
	run_lower(PRV_S, mem_amoadd64, T + 0x1000);
	expect_fault("amo_readonly", 15, (u64)mem_amoadd64_insn, T + 0x1000);
	trap_reset();
	run_lower(PRV_S, (void *)(T + 0x2000), 0);
	expect_fault("fetch_no_x", 12, T + 0x2000, T + 0x2000);
	s_ld(T + 0x3000);
	expect_fault("load_w_without_r", 13, (u64)mem_ld64_insn, T + 0x3000);
	/* A pointer PTE (V=1, R=W=X=0) at level 0: page fault (4.3.2 step 4). */
	map(T + 0x8000, (u64)dpage[0], PTE_V, 0);
	flush();
	s_ld(T + 0x8000);
	expect_fault("load_nonleaf_at_level0", 13, (u64)mem_ld64_insn, T + 0x8000);
	/* A PTE read that fails a PMP check is an access fault of the original
	 * access type (4.3.2 step 2): load access fault 5, mtval = the VA. */
	u64 *pte = map(T + 0x200000, (u64)dpage[0], RW, 0);
	u64 ptpage = (u64)pte & ~0xfffUL;
	flush();
	csr_write(pmpaddr0, (ptpage >> 2) | 0x1ff);	/* NAPOT 4 KiB, no access */
	csr_write(pmpaddr1, ~0UL >> 10);
	csr_write(pmpcfg0, (0x1fUL << 8) | 0x18);
	flush();
	s_ld(T + 0x200000);
	expect_fault("load_pte_pmp_denied", 5, (u64)mem_ld64_insn, T + 0x200000);
	csr_write(pmpaddr0, ~0UL >> 10);
	csr_write(pmpcfg0, 0x1f);
	flush();
	check(nm("load_pte_pmp_allowed"), s_ld(T + 0x200000), 0x1000);

	/* Non-canonical address: bits above the VA width must equal its top bit. */
	u64 noncanon = 1UL << (12 + 9 * levels - 1 + 1);	/* first bit above the VA */
	s_ld(noncanon);
	expect_fault("load_noncanonical", 13, (u64)mem_ld64_insn, noncanon);

	/* Negative (sign-extended) virtual addresses. */
	u64 high = ~0UL << (12 + 9 * levels - 1);	/* lowest negative canonical VA */
	map(high, (u64)dpage[0], RW, 0);
	flush();
	check(nm("load_high_va"), s_ld(high), 0x1000);

	/* Superpages: 2 MiB and 1 GiB (and 512 GiB with Sv48/Sv57) onto the
	 * start of RAM; a PTE at level i > 0 whose ppn[i-1:0] != 0 is a
	 * misaligned superpage -> page fault. */
	u64 off = (u64)&known_value - 0x80000000UL;
	map(0x140000000UL, 0x80000000UL, PTE_V | PTE_R | AD, 1);
	map(0x180000000UL, 0x80000000UL, PTE_V | PTE_R | AD, 2);
	u64 *mis = map(0x1c0000000UL, 0x80000000UL, PTE_V | PTE_R | AD, 1);
	*mis = pte_pa(0x80001000UL, PTE_V | PTE_R | AD);
	flush();
	check(nm("megapage"), s_ld(0x140000000UL + off), known_value);
	check(nm("gigapage"), s_ld(0x180000000UL + off), known_value);
	s_ld(0x1c0000000UL + 0x10);
	expect_fault("misaligned_megapage", 13, (u64)mem_ld64_insn, 0x1c0000000UL + 0x10);
	if (levels >= 4) {
		/* a level-3 leaf (512 GiB), PA 0: VA 0x8000000000 + 0x80000000 + off */
		map(0x8000000000UL, 0, PTE_V | PTE_R | AD, 3);
		flush();
		check(nm("terapage"), s_ld(0x8000000000UL + 0x80000000UL + off), known_value);
	}

	/* SUM (3.1.6.3): S loads from U pages fault unless SUM = 1; S never
	 * executes from a U page. */
	s_ld(T + 0x6000);
	expect_fault("s_load_user_sum0", 13, (u64)mem_ld64_insn, T + 0x6000);
	csr_set(mstatus, MSTATUS_SUM);
	check(nm("s_load_user_sum1"), s_ld(T + 0x6000), 0x1006);
	check(nm("s_load_user_sum1.no_trap"), mtrap.count, 0);
	map(T + 0x6000, (u64)dpage[6], PTE_V | PTE_R | PTE_X | PTE_U | AD, 0);
	flush();
	trap_reset();
	run_lower(PRV_S, (void *)(T + 0x6000), 0);
	expect_fault("s_exec_user_sum1", 12, T + 0x6000, T + 0x6000);
	csr_clear(mstatus, MSTATUS_SUM);

	/* MXR: loads from execute-only pages fault unless MXR = 1. */
	s_ld(T + 0x5000);
	expect_fault("load_xonly_mxr0", 13, (u64)mem_ld64_insn, T + 0x5000);
	csr_set(mstatus, MSTATUS_MXR);
	check(nm("load_xonly_mxr1"), s_ld(T + 0x5000), 0x1005);
	check(nm("load_xonly_mxr1.no_trap"), mtrap.count, 0);
	csr_clear(mstatus, MSTATUS_MXR);

	/* U mode: code on a U page (user R+X) loading from a U page works,
	 * from a non-U page faults; fetching from a non-U page faults. */
	memcpy_(dpage[6] + 64, u_snip, u_snip_end - u_snip);
	dpage[6][1] = 0x7777;
	asm volatile("fence.i" ::: "memory");
	u64 ucode = T + 0x6000 + 64 * 8;
	trap_reset();
	check(nm("u_load_user"), run_lower(PRV_U, (void *)ucode, T + 0x6008), 0x7777);
	trap_reset();
	m_abort = 1;
	run_lower(PRV_U, (void *)ucode, T);
	expect_fault("u_load_supervisor", 13, ucode, T);
	trap_reset();
	m_abort = 1;
	run_lower(PRV_U, mem_ld64, T);
	expect_fault("u_exec_supervisor", 12, (u64)mem_ld64, (u64)mem_ld64);

	/* A/D (4.3.1): either the hardware sets A (and D on a store) in the
	 * PTE, or the access page-faults (Svade).  QEMU 7.2 sets them.  A load
	 * must not set D. */
	u64 v = s_ld(T + 0x7000);
	int faulted = mtrap.count == 1 && mtrap.cause == 13;
	check_cond(nm("a_bit_on_load"),
		   faulted || (v == 0x1007 && (*ad_pte & PTE_A) && !(*ad_pte & PTE_D)), *ad_pte,
		   "A set and D clear, or a load page fault");
	*ad_pte = pte_pa((u64)dpage[7], PTE_V | PTE_R | PTE_W | PTE_A);
	flush();
	trap_reset();
	run_lower(PRV_S, store_self, T + 0x7008);
	faulted = mtrap.count == 1 && mtrap.cause == 15;
	check_cond(nm("d_bit_on_store"),
		   faulted || (dpage[7][1] == T + 0x7008 && (*ad_pte & PTE_D)), *ad_pte,
		   "D set, or a store page fault");

	/* SFENCE.VMA (4.2.1): after changing a PTE, a fence of that address
	 * makes the new mapping visible (the old one may be cached until then,
	 * so nothing is checked in between). */
	u64 *p0 = map(T, (u64)dpage[0], RW, 0);
	flush();
	check(nm("sfence_va.before"), s_ld(T), 0x1000);
	*p0 = pte_pa((u64)dpage[2], RW);
	trap_reset();
	check(nm("sfence_va.after"), run_lower(PRV_S, s_fence_va_load, T), 0x1002);

	/* By ASID: satp.ASID = 5 (WARL: use what reads back), fence that ASID. */
	csr_write(satp, (satp_mode << 60) | (5UL << 44) | ((u64)root >> 12));
	flush();
	u64 asid = (csr_read(satp) >> 44) & 0xffff;
	/* ASIDLEN may be 0..16: the low ASIDLEN bits of 5 read back
	 * (QEMU 7.2: 16 bits, so 5). */
	check_cond(nm("asid_readback"), asid == 5 || asid == 1 || asid == 0, asid, "5 & (2^ASIDLEN - 1)");
	check(nm("sfence_asid.before"), s_ld(T), 0x1002);
	*p0 = pte_pa((u64)dpage[3], RW);
	trap_reset();
	check(nm("sfence_asid.after"), run_lower(PRV_S, s_fence_asid_load, T), 0x1003);

	/* Code through translations (what a binary translator caches): the
	 * same VA remapped to other code (after SFENCE.VMA), two VAs aliasing
	 * one page, and code rewritten through its physical address (after
	 * FENCE.I, Zifencei) all execute what the page now holds. */
	csr_write(satp, (satp_mode << 60) | ((u64)root >> 12));
	flush();
	code_page[0][0] = 0x11100513;	/* li a0, 0x111 */
	code_page[0][1] = 0x00008067;	/* ret */
	code_page[1][0] = 0x22200513;	/* li a0, 0x222 */
	code_page[1][1] = 0x00008067;
	asm volatile("fence.i" ::: "memory");
	const u64 XP = PTE_V | PTE_X | PTE_A;
	u64 *cx = map(T + 0x9000, (u64)code_page[0], XP, 0);
	map(T + 0xa000, (u64)code_page[0], XP, 0);
	flush();
	trap_reset();
	check(nm("exec.first"), run_lower(PRV_S, s_call, T + 0x9000), 0x111);
	*cx = pte_pa((u64)code_page[1], XP);
	check(nm("exec.remapped_after_sfence"), run_lower(PRV_S, s_fence_call, T + 0x9000), 0x222);
	check(nm("exec.alias"), run_lower(PRV_S, s_call, T + 0xa000), 0x111);
	code_page[0][0] = 0x33300513;	/* li a0, 0x333 */
	asm volatile("fence.i" ::: "memory");
	check(nm("exec.alias_rewritten_after_fence_i"), run_lower(PRV_S, s_call, T + 0xa000), 0x333);
	check(nm("exec.no_trap"), mtrap.count, 0);

	/* An instruction that crosses into a page not mapped yet: the fetch
	 * faults (cause 12) with mepc the instruction and mtval the second
	 * page (Privileged ISA 3.1.16). Once that page is mapped, the same
	 * instruction runs: a translator must not remember the fault. */
	cross_page[0][2047] = 0x0513;	/* li a0, 0x444 (0x44400513), low half */
	cross_page[1][0] = 0x4440;	/* its high half */
	cross_page[1][1] = 0x8067;	/* ret (0x00008067) */
	cross_page[1][2] = 0x0000;
	asm volatile("fence.i" ::: "memory");
	const u64 C = T + 0xb000;
	map(C, (u64)cross_page[0], XP, 0);
	flush();
	trap_reset();
	run_lower(PRV_S, s_call, C + 0xffe);
	expect_fault("exec.cross_page_unmapped", 12, C + 0xffe, C + 0x1000);
	map(C + 0x1000, (u64)cross_page[1], XP, 0);
	trap_reset();
	check(nm("exec.cross_page_mapped"), run_lower(PRV_S, s_fence_call, C + 0xffe), 0x444);
	check(nm("exec.cross_page_mapped.no_trap"), mtrap.count, 0);

	csr_write(satp, 0);
	flush();
}

int main(u64 hartid, u64 fdt)
{
	(void)hartid;
	(void)fdt;
	/* Which modes are supported: a write with an unsupported MODE leaves
	 * satp unchanged (4.1.11), so satp stays 0 (Bare). */
	int supported[3];
	for (u64 mode = 8; mode <= 10; mode++) {
		csr_write(satp, mode << 60);
		u64 got = csr_read(satp) >> 60;
		csr_write(satp, 0);
		pfx = mode == 8 ? "sv39" : mode == 9 ? "sv48" : "sv57";
		check(nm("supported"), got, mode);	/* QEMU 7.2: all three */
		supported[mode - 8] = got == mode;
	}
	/* (an unsupported mode's suite would only cascade failures) */
	for (int lv = 3; lv <= 5; lv++)
		if (supported[lv - 3])
			suite(lv);

	/* Reserved MODE values (1-7, 11-15): the write has no effect. */
	pfx = "satp";
	setup(3, 0);
	u64 before = csr_read(satp);
	static const u64 bad[] = { 1, 2, 7, 11, 15 };
	for (int i = 0; i < 5; i++) {
		csr_write(satp, (bad[i] << 60) | 0x12345);
		if (csr_read(satp) != before)
			break;
		if (i == 4)
			check(nm("reserved_modes_ignored"), csr_read(satp), before);
	}
	if (csr_read(satp) != before)
		check(nm("reserved_modes_ignored"), csr_read(satp), before);
	csr_write(satp, 0);
	flush();
	return 0;
}
