#include "rt.h"
static void p(const char *n, u64 v){ puts_(n); puts_(" = "); puthex(v); putc_('\n'); }
static long s_csr_satp(long a){ (void)a; return 0; }
int main(u64 h, u64 fdt) {
	p("hartid", h); p("fdt", fdt); p("fdtmagic", *(volatile u32*)fdt);
	p("misa", csr_read(misa));
	p("mstatus", csr_read(mstatus));
	csr_write(medeleg, ~0UL); p("medeleg", csr_read(medeleg)); csr_write(medeleg, 0);
	csr_write(mideleg, ~0UL); p("mideleg", csr_read(mideleg)); csr_write(mideleg, 0);
	csr_write(mie, ~0UL); p("mie", csr_read(mie)); csr_write(mie, 0);
	csr_write(mip, ~0UL); p("mip", csr_read(mip)); csr_write(mip, 0); p("mip0", csr_read(mip));
	trap_reset(); u64 m = csr_read(0x30a); p("menvcfg", m); p("menvcfg.count", mtrap.count);
	csr_write(0x30a, 1UL<<63); p("menvcfg stce", csr_read(0x30a)); 
	trap_reset(); csr_write(0x14d, 0); p("stimecmp trap", mtrap.count); p("mip stce", csr_read(mip));
	csr_write(0x14d, ~0UL); p("mip stce2", csr_read(mip));
	csr_write(0x30a, 0);
	csr_write(satp, (8UL<<60)|(0xffffUL<<44)); p("satp sv39 asid", csr_read(satp)); csr_write(satp,0);
	csr_write(satp, (9UL<<60)); p("satp sv48", csr_read(satp)); csr_write(satp,0);
	csr_write(satp, (10UL<<60)); p("satp sv57", csr_read(satp)); csr_write(satp,0);
	csr_write(satp, (11UL<<60)); p("satp sv64", csr_read(satp)); csr_write(satp,0);
	trap_reset(); asm volatile(".word 0x0000006b"); p("illegal cause", mtrap.cause); p("tval", mtrap.tval);
	trap_reset(); asm volatile("csrw mvendorid, zero"); p("csrw mvendorid cause", mtrap.cause); p("tval", mtrap.tval);
	static u64 buf[4] = {0x1122334455667788UL, 0x99aabbccddeeff00UL};
	trap_reset(); u64 v = mem_ld64((u64)buf + 1); p("misaligned ld", v); p("count", mtrap.count);
	trap_reset(); mem_amoadd64((u64)buf + 2, 1); p("misaligned amo", mtrap.cause); p("count", mtrap.count);p("tval-buf", mtrap.tval-(u64)buf);
	trap_reset(); mem_lr64((u64)buf + 2); p("misaligned lr", mtrap.cause); p("count", mtrap.count);
	p("mcounteren", csr_read(mcounteren));
	p("mvendorid", csr_read(mvendorid)); p("marchid", csr_read(marchid)); p("mimpid", csr_read(mimpid));
	trap_reset(); u64 mci = csr_read(0x320); p("mcountinhibit", mci); p("count", mtrap.count);
	(void)s_csr_satp;
	return 0;
}
