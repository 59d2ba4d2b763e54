/* SMP: what harts do to each other on the `virt` machine, run with
 * -smp 2, 4 and 8 (the number of harts comes from the device tree's
 * /cpus/cpu@N nodes).  Hart 0 prints; every hart takes part.
 *
 * Phases, each ended by a barrier of all harts:
 *  - counters: every hart adds 1 to shared counters K times with amoadd.d,
 *    amoadd.w, an lr.d/sc.d loop, and a plain add under an amoswap.w.aq
 *    spinlock; each total must be exactly harts * K (Unprivileged ISA,
 *    "A" extension: AMOs and LR/SC are atomic with respect to all harts).
 *  - reservation: hart 0's lr.d, then a store of a different value by
 *    hart 1 to the reserved doubleword; hart 0's sc.d must fail ("SC must
 *    fail if ... a store from another hart to the reservation set ... can
 *    be observed to have occurred between the LR and the SC").
 *  - ping-pong: hart 0 and hart 1 send each other machine software
 *    interrupts (ACLINT MSWI msip) PINGS times; a hart waits in wfi with
 *    mstatus.MIE = 0 (wfi wakes on a pending enabled interrupt whatever
 *    MIE is, Privileged ISA 3.3.3) and then takes it.  No interrupt may be
 *    lost (each wait is bounded by a machine timer deadline) or spurious
 *    (an MSI taken while the hart's msip reads 0).
 *  - ring: a token goes round all harts by IPI, RING_LAPS laps.
 *  - shootdown: all harts make S-mode data accesses (mstatus.MPRV with
 *    MPP = S) through one Sv39 page table, reading a page-sized value in a
 *    loop; hart 0 remaps the page, runs sfence.vma, and sends every other
 *    hart an IPI whose handler runs sfence.vma and acknowledges.  After
 *    all acknowledgements, no hart may read the old page (Privileged ISA
 *    4.2.1: sfence.vma orders the hart's own implicit page-table reads;
 *    other harts are reached by IPI, as SBI RFENCE does).
 *  - code: hart 0 rewrites an `addi a0, zero, IMM; ret` that every hart
 *    calls in a loop, then sends an IPI whose handler runs fence.i; after
 *    it, each hart must see the new IMM (Zifencei: fence.i makes the
 *    hart's own fetches see stores that are visible to it).
 */
#include "rt.h"

#define MAX_HARTS RT_MAX_HARTS
#define K 20000
#define PINGS 100000
#define RING_LAPS 2000
#define SHOOT_ROUNDS 200
#define CODE_ROUNDS 200
/* The waits of each IPI phase (and of each shootdown or code round) for
 * other harts are bounded by this many mtime ticks (10 MHz: 20 s), so that
 * a lost interrupt fails a check instead of hanging. */
#define WAIT_TICKS 200000000UL

#define CLINT_MTIMECMP_H(h) (CLINT_MTIMECMP + 8 * (h))
#define CLINT_MSIP_H(h) (CLINT_MSIP + 4 * (h))

/* ---- shared state (in .bss: hart 0 clears it before releasing the others) */
static u64 nharts;
static volatile u64 bar_count, bar_gen;

static volatile u64 c_amo_d, c_lrsc, c_plain;
static volatile u32 c_amo_w, lock_word;
static volatile u64 resv_word;

enum { M_IDLE, M_PINGPONG, M_RING, M_SHOOTDOWN, M_CODE };
static volatile u64 mode;
static volatile u64 msi_taken[MAX_HARTS], spurious[MAX_HARTS], timeouts[MAX_HARTS];
static volatile u64 acks, done;
static volatile u64 gen_seen[MAX_HARTS];
/* IPIs taken with mode M_IDLE: the one that ends each IPI phase. */
static volatile u64 idle_taken[MAX_HARTS];

static volatile u64 remapped;	/* shootdown round + 1, once all acked */
static volatile u64 bad_reads[MAX_HARTS], stale_reads[MAX_HARTS];
static volatile u64 code_gen;	/* code round + 1, once all acked */
static volatile u64 bad_code[MAX_HARTS], stale_code[MAX_HARTS];

static u64 pt_root[512] __attribute__((aligned(4096)));
static u64 pt_l1[512] __attribute__((aligned(4096)));
static volatile u64 pt_l0[512] __attribute__((aligned(4096)));
static u64 page_a[512] __attribute__((aligned(4096)));
static u64 page_b[512] __attribute__((aligned(4096)));
static volatile u32 code_page[1024] __attribute__((aligned(4096)));

#define VA 0x40000000UL
#define VAL_A 0xaaaa0000aaaa0000UL
#define VAL_B 0xbbbb0000bbbb0000UL
#define PTE_LEAF 0xc7	/* V R W A D */

/* ---- trap entry: caller-saved registers on the hart's trap stack ---- */
asm(".text\n"
    ".balign 4\n"
    "smp_trap_entry:\n"
    "	csrrw	sp, mscratch, sp\n"
    "	addi	sp, sp, -128\n"
    "	sd	ra, 0(sp)\n	sd	t0, 8(sp)\n	sd	t1, 16(sp)\n	sd	t2, 24(sp)\n"
    "	sd	a0, 32(sp)\n	sd	a1, 40(sp)\n	sd	a2, 48(sp)\n	sd	a3, 56(sp)\n"
    "	sd	a4, 64(sp)\n	sd	a5, 72(sp)\n	sd	a6, 80(sp)\n	sd	a7, 88(sp)\n"
    "	sd	t3, 96(sp)\n	sd	t4, 104(sp)\n	sd	t5, 112(sp)\n	sd	t6, 120(sp)\n"
    "	csrr	a0, mcause\n"
    "	call	smp_trap\n"
    "	ld	ra, 0(sp)\n	ld	t0, 8(sp)\n	ld	t1, 16(sp)\n	ld	t2, 24(sp)\n"
    "	ld	a0, 32(sp)\n	ld	a1, 40(sp)\n	ld	a2, 48(sp)\n	ld	a3, 56(sp)\n"
    "	ld	a4, 64(sp)\n	ld	a5, 72(sp)\n	ld	a6, 80(sp)\n	ld	a7, 88(sp)\n"
    "	ld	t3, 96(sp)\n	ld	t4, 104(sp)\n	ld	t5, 112(sp)\n	ld	t6, 120(sp)\n"
    "	addi	sp, sp, 128\n"
    "	csrrw	sp, mscratch, sp\n"
    "	mret\n");
extern char smp_trap_entry[];

static inline u64 hartid(void) { return csr_read(mhartid); }
static inline u64 mtime(void) { return mmio_read64(CLINT_MTIME); }
static inline void send_ipi(u64 h) { mmio_write32(CLINT_MSIP_H(h), 1); }

/* Zihintpause's hint for spin loops (the encoding of fence w, 0), as
 * Linux's cpu_relax() issues it. */
static inline void cpu_relax(void)
{
	asm volatile(".4byte 0x0100000f" ::: "memory");
}

static inline u64 amoadd_d(volatile u64 *p, u64 v)
{
	u64 old;
	asm volatile("amoadd.d %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
	return old;
}

static inline void amoadd_w(volatile u32 *p, u32 v)
{
	u32 old;
	asm volatile("amoadd.w %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory");
}

static inline void lrsc_inc(volatile u64 *p)
{
	u64 t, fail;
	asm volatile("1: lr.d %0, (%2)\n"
		     "   addi %0, %0, 1\n"
		     "   sc.d %1, %0, (%2)\n"
		     "   bnez %1, 1b"
		     : "=&r"(t), "=&r"(fail) : "r"(p) : "memory");
}

static inline void lock(volatile u32 *l)
{
	u32 old;
	for (;;) {
		asm volatile("amoswap.w.aq %0, %2, (%1)" : "=r"(old) : "r"(l), "r"(1) : "memory");
		if (!old)
			break;
		while (*l)
			cpu_relax();
	}
}

static inline void unlock(volatile u32 *l)
{
	asm volatile("amoswap.w.rl zero, zero, (%0)" :: "r"(l) : "memory");
}

/* Sense-counting barrier of all harts (spins: no interrupt needed). */
static void barrier(void)
{
	u64 g = bar_gen;
	asm volatile("fence rw, rw" ::: "memory");
	if (amoadd_d(&bar_count, 1) == nharts - 1) {
		bar_count = 0;
		asm volatile("fence rw, rw" ::: "memory");
		bar_gen = g + 1;
	} else {
		while (bar_gen == g)
			cpu_relax();
	}
	asm volatile("fence rw, rw" ::: "memory");
}

/* Takes any pending enabled interrupt: MIE is 0 everywhere else. */
static inline void take_interrupts(void)
{
	csr_set(mstatus, MSTATUS_MIE);
	csr_clear(mstatus, MSTATUS_MIE);
}

/* Arms this hart's machine timer WAIT_TICKS ahead: its MTI counts a
 * timeout and ends the wait in progress. */
static void arm_deadline(u64 h)
{
	mmio_write64(CLINT_MTIMECMP_H(h), mtime() + WAIT_TICKS);
}

static void disarm_deadline(u64 h)
{
	mmio_write64(CLINT_MTIMECMP_H(h), ~0UL);
}

/* Sleeps in wfi until *p >= want or the hart's armed deadline passes
 * (its MTI taken): 1 if reached. */
static int wait_for(volatile u64 *p, u64 want)
{
	u64 h = hartid(), t0 = timeouts[h];
	while (*p < want && timeouts[h] == t0) {
		asm volatile("wfi");
		take_interrupts();
	}
	return *p >= want;
}

/* Spins (taking interrupts) until *p >= want or the deadline passes. */
static int spin_for(volatile u64 *p, u64 want)
{
	u64 end = mtime() + WAIT_TICKS;
	while (*p < want) {
		cpu_relax();
		take_interrupts();
		if (mtime() > end)
			return 0;
	}
	return 1;
}

static u64 vload(u64 va)
{
	u64 v;
	csr_clear(mstatus, MSTATUS_MPP);
	csr_set(mstatus, 1UL << 11);	/* MPP = S */
	asm volatile("csrs mstatus, %1\n"
		     "ld %0, 0(%2)\n"
		     "csrc mstatus, %1"
		     : "=&r"(v) : "r"(MSTATUS_MPRV), "r"(va) : "memory");
	return v;
}

static u64 call_code(void)
{
	return ((u64 (*)(void))(u64)code_page)();
}

void smp_trap(u64 cause)
{
	u64 h = hartid();
	if (cause == (INTR | IRQ_MTI)) {
		disarm_deadline(h);
		timeouts[h]++;
		return;
	}
	if (cause != (INTR | IRQ_MSI)) {
		puts_("FAIL unexpected trap on hart ");
		puthex(h);
		puts_(": mcause ");
		puthex(cause);
		puts_(" mepc ");
		puthex(csr_read(mepc));
		putc_('\n');
		for (;;)
			mmio_write32(TEST_DEV, (1u << 16) | 0x3333);
	}
	u32 pending = mmio_read32(CLINT_MSIP_H(h));
	mmio_write32(CLINT_MSIP_H(h), 0);
	if (!pending) {
		spurious[h]++;
		return;
	}
	if (mode == M_IDLE) {
		idle_taken[h]++;	/* the IPI that ends a phase */
		return;
	}
	msi_taken[h]++;
	switch (mode) {
	case M_PINGPONG:
		if (h == 1)
			send_ipi(0);
		break;
	case M_RING:
		if (h != 0)
			send_ipi((h + 1) % nharts);
		break;
	case M_SHOOTDOWN:
		asm volatile("sfence.vma" ::: "memory");
		gen_seen[h]++;
		amoadd_d(&acks, 1);
		break;
	case M_CODE:
		asm volatile("fence.i" ::: "memory");
		gen_seen[h]++;
		amoadd_d(&acks, 1);
		break;
	}
}

/* What rt_main does for hart 0: PMP entry 0 over everything, RWX, so the
 * S-mode (MPRV) accesses are allowed; FS = Initial. */
static void hart_setup(void)
{
	csr_write(pmpaddr0, ~0UL >> 10);
	csr_write(pmpcfg0, 0x1f);
	csr_set(mstatus, 1UL << 13);
	csr_write(mtvec, (u64)smp_trap_entry);
	csr_clear(mstatus, MSTATUS_MIE);
	disarm_deadline(hartid());
	csr_write(mie, (1UL << IRQ_MSI) | (1UL << IRQ_MTI));
	csr_write(satp, (8UL << 60) | ((u64)pt_root >> 12));
	asm volatile("sfence.vma" ::: "memory");
}

/* ---- the phases; every hart runs each ---- */

static void counters(void)
{
	for (int i = 0; i < K; i++) {
		amoadd_d(&c_amo_d, 1);
		amoadd_w(&c_amo_w, 1);
		lrsc_inc(&c_lrsc);
		lock(&lock_word);
		c_plain = c_plain + 1;
		unlock(&lock_word);
	}
}

/* Returns sc.d's result on hart 0 (0: it succeeded). */
static u64 reservation(u64 h)
{
	u64 v, rc = 0;
	if (h == 0)
		asm volatile("lr.d %0, (%1)" : "=r"(v) : "r"(&resv_word) : "memory");
	barrier();
	if (h == 1)
		resv_word = 5;
	barrier();
	if (h == 0)
		asm volatile("sc.d %0, %2, (%1)" : "=r"(rc) : "r"(&resv_word), "r"(7UL) : "memory");
	barrier();
	return rc;
}

/* Hart 0's side of the IPI phases; returns the number of completed
 * messages.  Other harts sleep in wfi until mode is M_IDLE again. */
#ifdef IPI_BENCH
/* Round trips by mtime ticks (100 ns), the last bucket holding the rest. */
#define RTT_BUCKETS 20000
static u32 rtt_hist[RTT_BUCKETS];

/* The smallest round trip (ns) that `permille` of them do not exceed. */
static u64 rtt_quantile(u64 total, u64 permille)
{
	u64 want = (total * permille + 999) / 1000, seen = 0;
	for (u64 i = 0; i < RTT_BUCKETS; i++) {
		seen += rtt_hist[i];
		if (seen >= want)
			return i * 100;
	}
	return RTT_BUCKETS * 100;
}
#endif

static u64 pingpong(void)
{
	u64 n = 0;
	for (; n < PINGS; n++) {
#ifdef IPI_BENCH
		u64 t0 = mtime();
#endif
		send_ipi(1);
		if (!wait_for(&msi_taken[0], n + 1))
			break;
#ifdef IPI_BENCH
		u64 d = mtime() - t0;
		rtt_hist[d < RTT_BUCKETS ? d : RTT_BUCKETS - 1]++;
#endif
	}
	return n;
}

static u64 ring(void)
{
	u64 n = 0;
	for (; n < RING_LAPS; n++) {
		send_ipi(1);
		if (!wait_for(&msi_taken[0], n + 1))
			break;
	}
	return n;
}

/* Runs an IPI phase: hart 0 calls `leader` (its deadline armed), the
 * others serve interrupts in wfi until hart 0 ends the phase (mode =
 * M_IDLE, one last IPI each).  msi_taken[] counts the phase's messages.
 * A hart leaves once it has taken that last IPI, not when it sees
 * M_IDLE: it may see the mode before the IPI arrives, and the IPI would
 * then be taken in the next phase and counted there. */
static u64 ipi_phase(u64 h, u64 m, u64 (*leader)(void))
{
	u64 n = 0;
	u64 ended = idle_taken[h];
	if (h == 0) {
		for (u64 i = 0; i < nharts; i++)
			msi_taken[i] = 0;
		mode = m;
	}
	barrier();
	if (h == 0) {
		arm_deadline(0);
		n = leader();
		disarm_deadline(0);
		mode = M_IDLE;
		asm volatile("fence rw, o" ::: "memory");
		for (u64 i = 1; i < nharts; i++)
			send_ipi(i);
	} else {
		while (idle_taken[h] == ended) {
			asm volatile("wfi");
			take_interrupts();
		}
	}
	barrier();
	return n;
}

static void shootdown(u64 h)
{
	u64 pages[2] = {(u64)page_a, (u64)page_b};
	u64 vals[2] = {VAL_A, VAL_B};
	if (h == 0)
		mode = M_SHOOTDOWN;
	barrier();
	for (u64 r = 0; r < SHOOT_ROUNDS; r++) {
		u64 old = vals[r % 2], new = vals[(r + 1) % 2];
		barrier();
		if (h == 0) {
			acks = 0;
			pt_l0[0] = ((pages[(r + 1) % 2] >> 12) << 10) | PTE_LEAF;
			asm volatile("sfence.vma zero, zero" ::: "memory");
			asm volatile("fence rw, o" ::: "memory");
			for (u64 i = 1; i < nharts; i++)
				send_ipi(i);
			if (!spin_for(&acks, nharts - 1))
				timeouts[0]++;
			remapped = r + 1;
		} else {
			u64 end = mtime() + WAIT_TICKS;
			while (remapped != r + 1) {
				u64 v = vload(VA);
				if (v != old && v != new)
					bad_reads[h]++;
				take_interrupts();
				cpu_relax();
				if (mtime() > end) {
					timeouts[h]++;
					break;
				}
			}
		}
		if (vload(VA) != new)
			stale_reads[h]++;
	}
	barrier();
}

static void code(u64 h)
{
	if (h == 0)
		mode = M_CODE;
	barrier();
	for (u64 r = 0; r < CODE_ROUNDS; r++) {
		u64 old = r, new = r + 1;
		barrier();
		if (h == 0) {
			acks = 0;
			code_page[0] = (u32)((new << 20) | (10 << 7) | 0x13);	/* addi a0, zero, new */
			/* A second store to the page: the first one unmarked it as
			 * code, this one may take the fast path while another hart
			 * translates the page. */
			code_page[600] = (u32)r;
			/* the store before the msip write (device output) */
			asm volatile("fence rw, o" ::: "memory");
			for (u64 i = 1; i < nharts; i++)
				send_ipi(i);
			asm volatile("fence.i" ::: "memory");
			if (!spin_for(&acks, nharts - 1))
				timeouts[0]++;
			code_gen = r + 1;
		} else {
			u64 end = mtime() + WAIT_TICKS;
			while (code_gen != r + 1) {
				u64 v = call_code();
				if (v != old && v != new)
					bad_code[h]++;
				take_interrupts();
				cpu_relax();
				if (mtime() > end) {
					timeouts[h]++;
					break;
				}
			}
		}
		if (call_code() != new)
			stale_code[h]++;
	}
	barrier();
}

static u64 rc_resv, n_ping, n_ring, ping_taken, ring_taken;

#ifdef TIMING
#define PHASE(name) do { if (h == 0) { puts_(name); puts_(" "); puthex(mtime()); putc_('\n'); } } while (0)
#else
#define PHASE(name) do { } while (0)
#endif

static void all_phases(u64 h)
{
	hart_setup();
	barrier();
	PHASE("counters");
	counters();
	barrier();
	PHASE("reservation");
	u64 rc = reservation(h);
	PHASE("pingpong");
	if (h == 0)
		rc_resv = rc;
	u64 n = ipi_phase(h, M_PINGPONG, pingpong);
	if (h == 0) {
		n_ping = n;
		ping_taken = msi_taken[1];
	}
	PHASE("ring");
	n = ipi_phase(h, M_RING, ring);
	if (h == 0) {
		n_ring = n;
		ring_taken = 0;
		for (u64 i = 1; i < nharts; i++)
			ring_taken += msi_taken[i];
	}
	PHASE("shootdown");
	shootdown(h);
	PHASE("code");
	code(h);
	PHASE("end");
}

void secondary_main(u64 h, u64 fdt)
{
	(void)fdt;
	all_phases(h);
	for (;;)
		asm volatile("wfi");
}

/* ---- device tree: count /cpus/cpu@N nodes (Devicetree Spec 5.4) ---- */
static u32 be32(const void *p)
{
	const volatile u8 *b = p;
	return ((u32)b[0] << 24) | ((u32)b[1] << 16) | ((u32)b[2] << 8) | b[3];
}

static u64 fdt_cpus(u64 fdt)
{
	if (be32((void *)fdt) != 0xd00dfeed)
		return 0;
	const u8 *p = (const u8 *)(fdt + be32((void *)(fdt + 8)));
	u64 n = 0;
	for (;;) {
		u32 tok = be32(p);
		p += 4;
		if (tok == 1) {	/* FDT_BEGIN_NODE */
			const char *name = (const char *)p;
			if (name[0] == 'c' && name[1] == 'p' && name[2] == 'u' && name[3] == '@')
				n++;
			u64 len = 0;
			while (name[len])
				len++;
			p += (len + 4) & ~3UL;
		} else if (tok == 3) {	/* FDT_PROP: len, nameoff, value */
			u32 len = be32(p);
			p += 8 + ((len + 3) & ~3UL);
		} else if (tok == 2 || tok == 4) {	/* END_NODE, NOP */
		} else {
			break;	/* FDT_END or garbage */
		}
	}
	return n;
}

#ifdef IPI_BENCH
static void putdec(u64 v)
{
	char b[24];
	int i = 0;
	do
		b[i++] = '0' + v % 10;
	while ((v /= 10));
	while (i)
		putc_(b[--i]);
}
#endif

static u64 sum(volatile u64 *a)
{
	u64 s = 0;
	for (u64 i = 0; i < nharts; i++)
		s += a[i];
	return s;
}

int main(u64 h, u64 fdt)
{
	nharts = fdt_cpus(fdt);
	puts_("harts ");
	puthex(nharts);
	putc_('\n');
	if (nharts < 2 || nharts > MAX_HARTS) {
		check("harts in the device tree (2 to 16)", nharts, 2);
		return 0;
	}
	page_a[0] = VAL_A;
	page_b[0] = VAL_B;
	pt_root[VA >> 30] = ((u64)pt_l1 >> 12) << 10 | 1;
	pt_l1[0] = ((u64)pt_l0 >> 12) << 10 | 1;
	pt_l0[0] = ((u64)page_a >> 12) << 10 | PTE_LEAF;
	code_page[0] = (10 << 7) | 0x13;	/* addi a0, zero, 0 */
	code_page[1] = 0x00008067;		/* ret */
	asm volatile("fence rw, rw\nfence.i" ::: "memory");
	smp_release = 1;
	all_phases(h);

	check("amoadd.d total", c_amo_d, nharts * K);
	check("amoadd.w total", c_amo_w, nharts * K);
	check("lr.d/sc.d total", c_lrsc, nharts * K);
	check("amoswap.w.aq spinlock total", c_plain, nharts * K);
	check_cond("sc.d fails after another hart's store", rc_resv != 0, rc_resv, "non-zero");
	check("sc.d left the other hart's value", resv_word, 5);
	check("ping-pong round trips", n_ping, PINGS);
	check("ping-pong: MSIs taken by hart 1", ping_taken, PINGS);
	check("ring laps", n_ring, RING_LAPS);
	check("ring: MSIs taken by harts 1..N-1", ring_taken, (nharts - 1) * RING_LAPS);
	check("spurious MSIs", sum(spurious), 0);
	check("timed-out waits", sum(timeouts), 0);
	check("shootdown and code: IPIs acknowledged", sum(gen_seen), (nharts - 1) * (SHOOT_ROUNDS + CODE_ROUNDS));
	check("shootdown: reads of neither page", sum(bad_reads), 0);
	check("shootdown: old page read after the shootdown", sum(stale_reads), 0);
	check("code: results of neither version", sum(bad_code), 0);
	check("code: old code run after fence.i", sum(stale_code), 0);
#ifdef IPI_BENCH
	/* benches/smp.sh reads this line (decimal ns). */
	puts_("ipi-rtt-ns median ");
	putdec(rtt_quantile(n_ping, 500));
	puts_(" p99 ");
	putdec(rtt_quantile(n_ping, 990));
	putc_('\n');
#endif
	return 0;
}
