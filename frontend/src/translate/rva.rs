//! A: load-reserved/store-conditional and AMOs (Unprivileged ISA, "A"
//! Standard Extension).
//!
//! # Ordering (RVWMO, Unprivileged ISA chapter "RVWMO Memory Consistency
//! Model", preserved program order rules 5-7)
//!
//! The IR's read-modify-write atomics ([`AtomicRmw`](cranemu_ir::Inst),
//! `AtomicCas`) are sequentially consistent: on x86-64 they are `lock`ed
//! instructions (or `xchg`), which order every earlier access before them
//! and every later access after them. That covers every `aq`/`rl`
//! combination of an AMO or an SC (rules 5, 6, and 7 for RCsc pairs such
//! as `sc.rl` then `lr.aq`), so their bits are ignored.
//!
//! LR is a plain load, so its bits matter:
//! - `.rl` (rule 6: every earlier access is ordered before it): an earlier
//!   store must not be passed by this load, which x86-64 (TSO) allows
//!   (store buffer), so a
//!   [`FenceKind::StoreLoad`] (a host `mfence`) goes before the load. The
//!   C/C++ mapping's sequentially consistent compare-and-swap starts with
//!   `lr.aqrl`, so a seq_cst store followed by a seq_cst CAS depends on it.
//!   (The A extension says `lr.rl` without `.aq` need not order anything,
//!   but honouring it, as QEMU does, is allowed and cheap.)
//! - `.aq` (rule 5: every later access is ordered after it): TSO already
//!   keeps a load before later loads and stores, so only the compiler must
//!   not move later guest accesses above it: a [`FenceKind::Other`].
//!
//! # LR/SC
//!
//! The reservation is the pair (`reservation_addr`, `reservation_value`)
//! in [`CpuState`]: LR records the address and the value it loaded. SC
//! succeeds iff the reservation is for its address *and* a compare-and-swap
//! of the reserved value against memory succeeds. As blocks have no control
//! flow, the CAS is always emitted; when the addresses differ it swaps the
//! reserved value for itself (`new = select(match, x[rs2], reserved)`), so
//! memory is left unchanged whatever it holds, and the SC reports failure.
//! Consequences, both allowed by the A extension: an SC whose reservation
//! does not match still faults like a store if its address is unmapped or
//! misaligned; and, as in QEMU, a location changed and changed back between
//! LR and SC (ABA) does not make the SC fail. Every SC clears the
//! reservation.

use cranemu_ir::{AtomicOp, BinOp, FenceKind, IntCC, MemOp, MemSize};

use super::{DisasContext, Flow};
use crate::cpu::CpuState;
use crate::insn::Insn;

/// Extends an old-memory-sized value as the atomics return it: the low
/// `size` bytes sign-extended.
fn sext_size(ctx: &mut DisasContext<'_>, v: cranemu_ir::Value, size: MemSize) -> cranemu_ir::Value {
    match size {
        MemSize::B8 => v,
        _ => ctx.b.sextend(v, size.bits() as u8),
    }
}

/// `lr.w`/`lr.d`: an aligned, sign-extending load that sets the
/// reservation, with the fences its `aq`/`rl` bits need (module doc).
pub(crate) fn gen_lr(ctx: &mut DisasContext<'_>, insn: &Insn, size: MemSize) -> Flow {
    let addr = ctx.x(insn.rs1);
    if insn.rl {
        ctx.b.fence(FenceKind::StoreLoad);
    }
    let v = ctx.b.load(
        addr,
        MemOp {
            size,
            signed: true,
            aligned: true,
        },
    );
    if insn.aq {
        ctx.b.fence(FenceKind::Other);
    }
    ctx.b.set_state(CpuState::OFFSET_RESERVATION_ADDR, addr);
    ctx.b.set_state(CpuState::OFFSET_RESERVATION_VALUE, v);
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// `sc.w`/`sc.d`: see the module doc. `x[rd]` = 0 on success, 1 on failure.
pub(crate) fn gen_sc(ctx: &mut DisasContext<'_>, insn: &Insn, size: MemSize) -> Flow {
    let addr = ctx.x(insn.rs1);
    let src = ctx.x(insn.rs2);
    let resv_addr = ctx.b.get_state(CpuState::OFFSET_RESERVATION_ADDR);
    let resv_value = ctx.b.get_state(CpuState::OFFSET_RESERVATION_VALUE);
    let matches = ctx.b.icmp(IntCC::Eq, resv_addr, addr);
    let new = ctx.b.select(matches, src, resv_value);
    let old = ctx.b.atomic_cas(addr, resv_value, new, size);
    // The CAS compared at `size` and returned `old` sign-extended: compare
    // the same way (the reservation may come from an LR of another size).
    let expected = sext_size(ctx, resv_value, size);
    let swapped = ctx.b.icmp(IntCC::Eq, old, expected);
    let success = ctx.b.binary(BinOp::Band, matches, swapped);
    let rd = ctx.b.binary_imm(BinOp::Bxor, success, 1);
    let none = ctx.iconst(u64::MAX);
    ctx.b.set_state(CpuState::OFFSET_RESERVATION_ADDR, none);
    ctx.set_x(insn.rd, rd);
    Flow::Next
}

/// `amo<op>.w`/`.d`: `x[rd]` = the old memory value, sign-extended (the IR
/// op already does that).
pub(crate) fn gen_amo(
    ctx: &mut DisasContext<'_>,
    insn: &Insn,
    op: AtomicOp,
    size: MemSize,
) -> Flow {
    let addr = ctx.x(insn.rs1);
    let src = ctx.x(insn.rs2);
    let old = ctx.b.atomic_rmw(op, addr, src, size);
    ctx.set_x(insn.rd, old);
    Flow::Next
}
