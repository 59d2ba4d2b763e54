//! Decode tables of the SYSTEM instructions other than ECALL/EBREAK: Zicsr
//! ([`ZICSR`], RISC-V Unprivileged ISA chapter 9) and the privileged
//! instructions ([`PRIV`], Privileged ISA sections 3.3 and 4.2.1).

use super::format::Format as F;
use super::row::{f3, row, Row, M_F3, SYSTEM};
use crate::insn::Op;

/// Zicsr (Unprivileged ISA, chapter 9 "Zicsr, Control and Status Register
/// Instructions").
pub static ZICSR: &[Row] = &[
    row(M_F3, f3(SYSTEM, 1), Op::Csrrw, F::CsrReg, "csrrw"),
    row(M_F3, f3(SYSTEM, 2), Op::Csrrs, F::CsrReg, "csrrs"),
    row(M_F3, f3(SYSTEM, 3), Op::Csrrc, F::CsrReg, "csrrc"),
    row(M_F3, f3(SYSTEM, 5), Op::Csrrwi, F::CsrImm, "csrrwi"),
    row(M_F3, f3(SYSTEM, 6), Op::Csrrsi, F::CsrImm, "csrrsi"),
    row(M_F3, f3(SYSTEM, 7), Op::Csrrci, F::CsrImm, "csrrci"),
];

/// Privileged instructions (Privileged ISA, section 3.3 "Machine-Mode
/// Privileged Instructions" and section 4.2.1 "Supervisor Memory-Management
/// Fence Instruction").
pub static PRIV: &[Row] = &[
    row(0xffff_ffff, 0x1020_0073, Op::Sret, F::None, "sret"),
    row(0xffff_ffff, 0x3020_0073, Op::Mret, F::None, "mret"),
    row(0xffff_ffff, 0x1050_0073, Op::Wfi, F::None, "wfi"),
    row(
        0xfe00_7fff,
        0x1200_0073,
        Op::SfenceVma,
        F::SfenceVma,
        "sfence.vma",
    ),
];
