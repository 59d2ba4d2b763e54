//! System mode: what the translator does differently when a block's TB
//! flags have [`tb_flags::SYSTEM`] set.
//!
//! - The privileged instructions (`mret`, `sret`, `wfi`, `sfence.vma`) and
//!   every Zicsr instruction end the block with a trap of cause
//!   [`CAUSE_SYSTEM_INSN`] carrying the instruction bits: the system
//!   runtime executes them against the hart's privileged state (CSR
//!   legality depends on the privilege, `mstatus.TVM`/`TW`/`TSR` and the
//!   counter enables, all of which it holds), then continues after them.
//!   QEMU calls helpers for most of these; an exit costs a little more and
//!   keeps every rule in one place (`privileged`).
//! - Float instructions are illegal while `mstatus.FS` is Off
//!   ([`tb_flags::FS_OFF`]); while FS is Initial or Clean, a float
//!   instruction ends the block *before* it with a trap of cause
//!   [`CAUSE_FS_DIRTY`]: the runtime sets FS to Dirty (section 3.1.6.6:
//!   an instruction that may change float state must) and runs on from the
//!   same pc under the new flags, so blocks translated under FS Dirty carry
//!   no checks.
//! - `ecall` raises environment-call-from-U as in user mode; the runtime
//!   turns it into the cause of the current privilege (8, 9 or 11).

use cranemu_ir::Terminator;

use super::{DisasContext, EndReason, Flow};
use crate::cpu::tb_flags;
use crate::insn::{Insn, Op};

/// Trap cause (above every RISC-V exception code) of a block that ends at
/// an instruction the system runtime executes itself; `tval` holds the
/// instruction bits and `pc` its address.
pub const CAUSE_SYSTEM_INSN: u64 = 0x100;

/// Trap cause of a block that ends before a float instruction because
/// `mstatus.FS` is not Dirty; `pc` is that instruction's address.
pub const CAUSE_FS_DIRTY: u64 = 0x101;

/// The system-mode treatment of `insn`, if it differs from user mode's.
pub(crate) fn gate(ctx: &DisasContext<'_>, insn: &Insn) -> Option<Flow> {
    use Op::*;
    match insn.op {
        Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci | Sret | Mret | Wfi | SfenceVma => {
            Some(Flow::End(
                Terminator::Trap {
                    cause: CAUSE_SYSTEM_INSN,
                    tval: u64::from(insn.raw),
                    pc: ctx.pc,
                },
                EndReason::System,
            ))
        }
        op if op.is_float() => {
            if ctx.flags & tb_flags::FS_OFF != 0 {
                Some(ctx.illegal(insn))
            } else if ctx.flags & tb_flags::FS_DIRTY == 0 {
                Some(Flow::End(
                    Terminator::Trap {
                        cause: CAUSE_FS_DIRTY,
                        tval: 0,
                        pc: ctx.pc,
                    },
                    EndReason::System,
                ))
            } else {
                None
            }
        }
        _ => None,
    }
}
