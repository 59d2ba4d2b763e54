//! RV64I and M: integer arithmetic, loads and stores, jumps and branches,
//! `fence` (Unprivileged ISA, chapters 2, 4 and "M" Standard Extension).

use cranemu_ir::{BinOp, FenceKind, IntCC, MemOp, MemSize, Terminator};

use super::{DisasContext, EndReason, Flow};
use crate::insn::Insn;

/// An integer ALU operation: an IR binary op, or a comparison giving 0/1
/// (`slt`, `sltu`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Alu {
    /// `x[rd] = x[rs1] op src2`.
    Bin(BinOp),
    /// `x[rd] = (x[rs1] cc src2) as u64`.
    Cmp(IntCC),
}

/// `lui`: `x[rd] = imm` (the decoder already shifted and sign-extended it).
pub(crate) fn trans_lui(ctx: &mut DisasContext<'_>, insn: &Insn) -> Flow {
    let v = ctx.iconst(insn.imm as u64);
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// `auipc`: `x[rd] = pc + imm`, a constant at translation time.
pub(crate) fn trans_auipc(ctx: &mut DisasContext<'_>, insn: &Insn) -> Flow {
    let v = ctx.iconst(ctx.pc.wrapping_add(insn.imm as u64));
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// `jal`: link, then a direct (chainable) jump.
pub(crate) fn trans_jal(ctx: &mut DisasContext<'_>, insn: &Insn) -> Flow {
    let link = ctx.iconst(ctx.next_pc);
    ctx.set_x(insn.rd, link);
    let target = ctx.pc.wrapping_add(insn.imm as u64);
    Flow::End(Terminator::Jump { pc: target }, EndReason::ControlTransfer)
}

/// `jalr`: the target `(x[rs1] + imm) & !1` is computed before the link is
/// written, since `rd` may be `rs1`.
pub(crate) fn trans_jalr(ctx: &mut DisasContext<'_>, insn: &Insn) -> Flow {
    let sum = ctx.address(insn);
    let target = ctx.b.binary_imm(BinOp::Band, sum, !1);
    let link = ctx.iconst(ctx.next_pc);
    ctx.set_x(insn.rd, link);
    Flow::End(
        Terminator::JumpIndirect {
            target,
            flags: None,
        },
        EndReason::ControlTransfer,
    )
}

/// Conditional branch to `pc + imm` if `x[rs1] cc x[rs2]`.
pub(crate) fn gen_branch(ctx: &mut DisasContext<'_>, insn: &Insn, cc: IntCC) -> Flow {
    let a = ctx.x(insn.rs1);
    let b = ctx.x(insn.rs2);
    let cond = ctx.b.icmp(cc, a, b);
    let taken = ctx.pc.wrapping_add(insn.imm as u64);
    Flow::End(
        Terminator::Branch {
            cond,
            taken,
            not_taken: ctx.next_pc,
        },
        EndReason::ControlTransfer,
    )
}

/// A plain load: misaligned addresses are allowed (the backend handles
/// them). The load is emitted even for `rd = x0`: it can still fault.
pub(crate) fn gen_load(
    ctx: &mut DisasContext<'_>,
    insn: &Insn,
    size: MemSize,
    signed: bool,
) -> Flow {
    let addr = ctx.address(insn);
    let v = ctx.b.load(
        addr,
        MemOp {
            size,
            signed,
            aligned: false,
        },
    );
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// A plain store of the low `size` bytes of `x[rs2]`.
pub(crate) fn gen_store(ctx: &mut DisasContext<'_>, insn: &Insn, size: MemSize) -> Flow {
    let addr = ctx.address(insn);
    let v = ctx.x(insn.rs2);
    ctx.b.store(
        addr,
        v,
        MemOp {
            size,
            signed: false,
            aligned: false,
        },
    );
    Flow::Next
}

/// The second source operand: the immediate or `x[rs2]`.
fn src2(ctx: &mut DisasContext<'_>, insn: &Insn, imm: bool) -> cranemu_ir::Value {
    if imm {
        ctx.iconst(insn.imm as u64)
    } else {
        ctx.x(insn.rs2)
    }
}

/// A 64-bit ALU op, register-register or register-immediate. The IR ops
/// already have RISC-V's edges: shifts take the amount mod 64, division by
/// zero and overflow give the M extension's results.
pub(crate) fn gen_alu(ctx: &mut DisasContext<'_>, insn: &Insn, op: Alu, imm: bool) -> Flow {
    let a = ctx.x(insn.rs1);
    let b = src2(ctx, insn, imm);
    let v = match op {
        Alu::Bin(op) => ctx.b.binary(op, a, b),
        Alu::Cmp(cc) => ctx.b.icmp(cc, a, b),
    };
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// How a 32-bit ("W") op extends its operands before the 64-bit op: a
/// right shift must see only the low 32 bits of `rs1`, and division must
/// see both operands as 32-bit numbers of its signedness. The other ops
/// give the right low 32 bits from any inputs.
fn w_operand_ext(op: BinOp) -> (Option<bool>, Option<bool>) {
    // (rs1, rs2): Some(signed) extends from 32 bits.
    match op {
        BinOp::Ushr => (Some(false), None),
        BinOp::Sshr => (Some(true), None),
        BinOp::Sdiv | BinOp::Srem => (Some(true), Some(true)),
        BinOp::Udiv | BinOp::Urem => (Some(false), Some(false)),
        _ => (None, None),
    }
}

/// Extends the low 32 bits of `v` if `ext` says so.
fn extend32(
    ctx: &mut DisasContext<'_>,
    v: cranemu_ir::Value,
    ext: Option<bool>,
) -> cranemu_ir::Value {
    match ext {
        Some(true) => ctx.b.sextend(v, 32),
        Some(false) => ctx.b.uextend(v, 32),
        None => v,
    }
}

/// A 32-bit ("W") op: operands extended as [`w_operand_ext`] says, the
/// 64-bit op, the result sign-extended from 32 bits. Register shift amounts
/// are masked to 5 bits. Edge cases come out right: `divw` of `INT32_MIN`
/// by -1 computes 2^31 in 64 bits, which sign-extends to `INT32_MIN`;
/// `divuw` by zero gives `u64::MAX`, i.e. -1.
pub(crate) fn gen_alu_w(ctx: &mut DisasContext<'_>, insn: &Insn, op: BinOp, imm: bool) -> Flow {
    let (ext1, ext2) = w_operand_ext(op);
    let a = ctx.x(insn.rs1);
    let a = extend32(ctx, a, ext1);
    let mut b = src2(ctx, insn, imm);
    if !imm && matches!(op, BinOp::Ishl | BinOp::Ushr | BinOp::Sshr) {
        b = ctx.b.binary_imm(BinOp::Band, b, 31);
    }
    let b = extend32(ctx, b, ext2);
    let r = ctx.b.binary(op, a, b);
    let r = ctx.b.sextend(r, 32);
    ctx.set_x(insn.rd, r);
    Flow::Next
}

/// `fence` (RVWMO preserved program order rule 4): only an earlier store
/// before a later load (W or O in the predecessor set, R or I in the
/// successor set) needs a host fence on x86-64 (TSO): [`FenceKind::StoreLoad`].
/// Every other fence is [`FenceKind::Other`], a compiler barrier only.
/// Device I/O (`o`/`i`) is treated like memory writes/reads. `fence.tso`
/// (`fm = 1000`) never orders stores before loads.
///
/// `pause` (Zihintpause, the encoding of `fence w, 0`, which orders nothing)
/// also calls [`crate::helpers::helper_pause`], which yields the host
/// thread.
pub(crate) fn trans_fence(ctx: &mut DisasContext<'_>, insn: &Insn) -> Flow {
    /// `pause`: `fence w, 0` with fm, rd and rs1 zero (Zihintpause).
    const PAUSE: u32 = 0x0100_000f;
    const W: i64 = 1 << 0;
    const R: i64 = 1 << 1;
    const O: i64 = 1 << 2;
    const I: i64 = 1 << 3;
    let (fm, pred, succ) = ((insn.imm >> 8) & 0xf, (insn.imm >> 4) & 0xf, insn.imm & 0xf);
    let kind = if fm != 0b1000 && pred & (W | O) != 0 && succ & (R | I) != 0 {
        FenceKind::StoreLoad
    } else {
        FenceKind::Other
    };
    ctx.b.fence(kind);
    if insn.raw == PAUSE {
        let zero = ctx.iconst(0);
        ctx.b.call(crate::helpers::HELPER_PAUSE, [zero, zero, zero]);
    }
    Flow::Next
}
