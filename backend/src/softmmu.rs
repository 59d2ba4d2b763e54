//! The system-mode memory path: the inline softmmu TLB probe and its slow
//! path (see the crate doc, "Guest memory").

use cranelift_codegen::ir::condcodes::IntCC as CIntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{self as cir, BlockArg, InstBuilder, MemFlagsData};
use cranemu_ir::MemSize;

use crate::{slow_info, ExitCode, Lowering, SoftmmuConfig, SOFTMMU_ENTRY_BITS, SOFTMMU_PAGE_BITS};

/// Which tag of a TLB entry an access compares (`TlbEntry` field offsets).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `addr_read` at offset 0.
    Read,
    /// `addr_write` at offset 8.
    Write,
}

/// Offset of `addend` in a TLB entry.
const ADDEND_OFFSET: i32 = 24;

impl Lowering<'_, '_> {
    fn soft(&self) -> SoftmmuConfig {
        self.be
            .cfg
            .softmmu
            .expect("softmmu lowering in system mode only")
    }

    /// The cold block that leaves with the trap a slow path recorded: it
    /// takes the guest pc and returns [`ExitCode::Trap`].
    fn soft_trap_block(&mut self) -> cir::Block {
        if let Some(b) = self.soft_trap {
            return b;
        }
        let blk = self.b.create_block();
        self.b.append_block_param(blk, I64);
        self.b.set_cold_block(blk);
        self.soft_trap = Some(blk);
        blk
    }

    /// Emits the TLB probe for a `size`-byte `access` at guest virtual
    /// `addr` and branches to `hit` with the host address, or to `miss`.
    fn tlb_probe(
        &mut self,
        addr: cir::Value,
        size: MemSize,
        access: Access,
    ) -> (cir::Block, cir::Block) {
        let soft = self.soft();
        let mmu = (soft.mmu_idx)(self.block.flags) as i32;
        let cpu = self.cpu;
        let t = MemFlagsData::trusted();
        if let Some(off) = soft.count {
            let n = self.b.ins().load(I64, t, cpu, off);
            let n = self.b.ins().iadd_imm_s(n, 1);
            self.b.ins().store(t, n, cpu, off);
        }
        let desc = self.b.ins().load(I64, t, cpu, soft.tlb);
        let mask = self.b.ins().load(I64, t, desc, mmu * 16);
        let table = self.b.ins().load(I64, t, desc, mmu * 16 + 8);
        let shifted = self
            .b
            .ins()
            .ushr_imm_s(addr, i64::from(SOFTMMU_PAGE_BITS - SOFTMMU_ENTRY_BITS));
        let off = self.b.ins().band(shifted, mask);
        let entry = self.b.ins().iadd(table, off);
        let tag_off = match access {
            Access::Read => 0,
            Access::Write => 8,
        };
        let tag = self.b.ins().load(I64, t, entry, tag_off);
        let page_mask = !((1u64 << SOFTMMU_PAGE_BITS) - 1);
        let key = self
            .b
            .ins()
            .band_imm_s(addr, (page_mask | (size.bytes() - 1)) as i64);
        let hit = self.b.ins().icmp(CIntCC::Equal, key, tag);
        let hit_blk = self.b.create_block();
        self.b.append_block_param(hit_blk, I64);
        let miss_blk = self.b.create_block();
        self.b.set_cold_block(miss_blk);
        let hit_path = self.b.create_block();
        self.b.ins().brif(hit, hit_path, &[], miss_blk, &[]);
        self.b.switch_to_block(hit_path);
        let addend = self.b.ins().load(I64, t, entry, ADDEND_OFFSET);
        let host = self.b.ins().iadd(addr, addend);
        self.b.ins().jump(hit_blk, &[BlockArg::Value(host)]);
        (hit_blk, miss_blk)
    }

    /// After a slow-path call: leave with its trap if it recorded one.
    fn check_mem_status(&mut self) {
        let soft = self.soft();
        let cpu = self.cpu;
        let st = self
            .b
            .ins()
            .load(I64, MemFlagsData::trusted(), cpu, soft.mem_status);
        let trap = self.soft_trap_block();
        let pc = self.iconst(self.pc);
        let cont = self.b.create_block();
        self.b
            .ins()
            .brif(st, trap, &[BlockArg::Value(pc)], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// A softmmu load: the value, extended as `signed` says (through
    /// `load_host` on a hit).
    pub(crate) fn soft_load(
        &mut self,
        addr: cir::Value,
        size: MemSize,
        signed: bool,
        load_host: impl FnOnce(&mut Self, cir::Value) -> cir::Value,
    ) -> cir::Value {
        let soft = self.soft();
        let done = self.b.create_block();
        self.b.append_block_param(done, I64);
        let (hit, miss) = self.tlb_probe(addr, size, Access::Read);
        self.b.switch_to_block(hit);
        let host = self.b.block_params(hit)[0];
        let v = load_host(self, host);
        self.b.ins().jump(done, &[BlockArg::Value(v)]);
        self.b.switch_to_block(miss);
        let info = self.iconst(slow_info(size, signed, (soft.mmu_idx)(self.block.flags)));
        let zero = self.iconst(0);
        let cpu = self.cpu;
        let v = self.call_host(soft.load as usize, &[cpu, addr, info, zero]);
        self.check_mem_status();
        self.b.ins().jump(done, &[BlockArg::Value(v)]);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// A softmmu store of `value` (through `store_host` on a hit).
    pub(crate) fn soft_store(
        &mut self,
        addr: cir::Value,
        value: cir::Value,
        size: MemSize,
        store_host: impl FnOnce(&mut Self, cir::Value),
    ) {
        let soft = self.soft();
        let done = self.b.create_block();
        let (hit, miss) = self.tlb_probe(addr, size, Access::Write);
        self.b.switch_to_block(hit);
        let host = self.b.block_params(hit)[0];
        store_host(self, host);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(miss);
        let info = self.iconst(slow_info(size, false, (soft.mmu_idx)(self.block.flags)));
        let cpu = self.cpu;
        self.call_host(soft.store as usize, &[cpu, addr, value, info]);
        self.check_mem_status();
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    /// The host address of a naturally aligned atomic access (alignment
    /// already checked), through the TLB's write tag or the atomic slow
    /// path.
    pub(crate) fn soft_atomic_addr(&mut self, addr: cir::Value, size: MemSize) -> cir::Value {
        let soft = self.soft();
        let done = self.b.create_block();
        self.b.append_block_param(done, I64);
        let (hit, miss) = self.tlb_probe(addr, size, Access::Write);
        self.b.switch_to_block(hit);
        let host = self.b.block_params(hit)[0];
        self.b.ins().jump(done, &[BlockArg::Value(host)]);
        self.b.switch_to_block(miss);
        let info = self.iconst(slow_info(size, false, (soft.mmu_idx)(self.block.flags)));
        let zero = self.iconst(0);
        let cpu = self.cpu;
        let host = self.call_host(soft.atomic as usize, &[cpu, addr, info, zero]);
        self.check_mem_status();
        self.b.ins().jump(done, &[BlockArg::Value(host)]);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// Emits the cold trap exit, if any access used it.
    pub(crate) fn finish_soft_trap(&mut self) {
        if let Some(blk) = self.soft_trap.take() {
            self.b.switch_to_block(blk);
            let pc = self.b.block_params(blk)[0];
            self.store_state(self.be.cfg.layout.pc, pc);
            self.ret(ExitCode::Trap as i64);
        }
    }
}
