//! Zicsr: CSR instructions (Unprivileged ISA, chapter "Zicsr").
//!
//! Legality is decided here, at translation time, because the CSR number is
//! an immediate: user mode may access `fflags`, `frm`, `fcsr` (read/write)
//! and `cycle`, `time`, `instret` (read-only). Anything else, or a write to
//! a read-only CSR, is an illegal instruction. Whether an instruction
//! writes follows Zicsr: `csrrw[i]` always writes (with `rd = x0` it just
//! does not read, which has no side effect for these CSRs), `csrrs[i]` and
//! `csrrc[i]` write only if their source is not `x0` / zimm 0.
//!
//! The accesses themselves are helper calls ([`crate::helpers`]). A write to
//! `fflags`, `frm` or `fcsr` ends the block, chaining on (see
//! [`super::EndReason::CsrWrite`]).

use cranemu_ir::{BinOp, Terminator};

use super::{DisasContext, EndReason, Flow};
use crate::cpu::{tb_flags, CpuState};
use crate::helpers::{csr, CsrMode, HELPER_CSRRW, HELPER_READ_COUNTER};
use crate::insn::Insn;

/// The operation of a CSR instruction, before the "no write" rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CsrOp {
    /// `csrrw`, `csrrwi`.
    Write,
    /// `csrrs`, `csrrsi`.
    Set,
    /// `csrrc`, `csrrci`.
    Clear,
}

/// `csrr{w,s,c}[i]`. `imm`: the source is the zimm in `insn.imm`, not
/// `x[rs1]`.
pub(crate) fn gen_csr(ctx: &mut DisasContext<'_>, insn: &Insn, op: CsrOp, imm: bool) -> Flow {
    let source_is_zero = if imm { insn.imm == 0 } else { insn.rs1 == 0 };
    let mode = match op {
        CsrOp::Write => CsrMode::Write,
        _ if source_is_zero => CsrMode::Read,
        CsrOp::Set => CsrMode::Set,
        CsrOp::Clear => CsrMode::Clear,
    };
    match insn.csr {
        csr::FFLAGS | csr::FRM | csr::FCSR => {
            let value = if imm {
                ctx.iconst(insn.imm as u64)
            } else {
                ctx.x(insn.rs1)
            };
            let number = ctx.iconst(u64::from(insn.csr));
            let mode_v = ctx.iconst(mode as u64);
            let old = ctx.b.call(HELPER_CSRRW, [number, value, mode_v]);
            ctx.set_x(insn.rd, old);
            if mode == CsrMode::Read {
                Flow::Next
            } else if insn.csr == csr::FFLAGS {
                // The TB flags stay: chain on.
                Flow::End(Terminator::Jump { pc: ctx.next_pc }, EndReason::CsrWrite)
            } else {
                // frm may have changed: look the successor up under the new
                // TB flags (CpuState::tb_flags of the written fcsr).
                let fcsr = ctx.b.get_state(CpuState::OFFSET_FCSR);
                let frm = ctx.b.binary_imm(BinOp::Ushr, fcsr, 5);
                let frm = ctx.b.binary_imm(BinOp::Band, frm, tb_flags::FRM_MASK);
                let flags = ctx
                    .b
                    .binary_imm(BinOp::Bor, frm, ctx.flags & !tb_flags::FRM_MASK);
                let target = ctx.iconst(ctx.next_pc);
                Flow::End(
                    Terminator::JumpIndirect {
                        target,
                        flags: Some(flags),
                    },
                    EndReason::CsrWrite,
                )
            }
        }
        csr::CYCLE | csr::TIME | csr::INSTRET if mode == CsrMode::Read => {
            let number = ctx.iconst(u64::from(insn.csr));
            let before = ctx.iconst(ctx.insns_before);
            let counted = ctx.iconst(u64::from(ctx.count_insns));
            let v = ctx.b.call(HELPER_READ_COUNTER, [number, before, counted]);
            ctx.set_x(insn.rd, v);
            Flow::Next
        }
        _ => ctx.illegal(insn),
    }
}
