//! Decode tables of the M ([`RV64M`]) and A ([`RV64A`]) standard extensions,
//! RISC-V Unprivileged ISA chapters 7 and 8.

use super::format::Format as F;
use super::row::{amo, f7f3, row, Row, M_AMO, M_F7F3, M_LR, OP, OP_32};
use crate::insn::Op;

/// M extension (Unprivileged ISA, chapter 7 "M Standard Extension for
/// Integer Multiplication and Division").
pub static RV64M: &[Row] = &[
    row(M_F7F3, f7f3(OP, 0, 1), Op::Mul, F::R, "mul"),
    row(M_F7F3, f7f3(OP, 1, 1), Op::Mulh, F::R, "mulh"),
    row(M_F7F3, f7f3(OP, 2, 1), Op::Mulhsu, F::R, "mulhsu"),
    row(M_F7F3, f7f3(OP, 3, 1), Op::Mulhu, F::R, "mulhu"),
    row(M_F7F3, f7f3(OP, 4, 1), Op::Div, F::R, "div"),
    row(M_F7F3, f7f3(OP, 5, 1), Op::Divu, F::R, "divu"),
    row(M_F7F3, f7f3(OP, 6, 1), Op::Rem, F::R, "rem"),
    row(M_F7F3, f7f3(OP, 7, 1), Op::Remu, F::R, "remu"),
    row(M_F7F3, f7f3(OP_32, 0, 1), Op::Mulw, F::R, "mulw"),
    row(M_F7F3, f7f3(OP_32, 4, 1), Op::Divw, F::R, "divw"),
    row(M_F7F3, f7f3(OP_32, 5, 1), Op::Divuw, F::R, "divuw"),
    row(M_F7F3, f7f3(OP_32, 6, 1), Op::Remw, F::R, "remw"),
    row(M_F7F3, f7f3(OP_32, 7, 1), Op::Remuw, F::R, "remuw"),
];

/// A extension (Unprivileged ISA, chapter 8 "A Standard Extension for
/// Atomic Instructions"). LR requires `rs2 = 0`.
pub static RV64A: &[Row] = &[
    row(M_LR, amo(0x02, 2), Op::LrW, F::Lr, "lr.w"),
    row(M_AMO, amo(0x03, 2), Op::ScW, F::Amo, "sc.w"),
    row(M_AMO, amo(0x01, 2), Op::AmoswapW, F::Amo, "amoswap.w"),
    row(M_AMO, amo(0x00, 2), Op::AmoaddW, F::Amo, "amoadd.w"),
    row(M_AMO, amo(0x04, 2), Op::AmoxorW, F::Amo, "amoxor.w"),
    row(M_AMO, amo(0x0c, 2), Op::AmoandW, F::Amo, "amoand.w"),
    row(M_AMO, amo(0x08, 2), Op::AmoorW, F::Amo, "amoor.w"),
    row(M_AMO, amo(0x10, 2), Op::AmominW, F::Amo, "amomin.w"),
    row(M_AMO, amo(0x14, 2), Op::AmomaxW, F::Amo, "amomax.w"),
    row(M_AMO, amo(0x18, 2), Op::AmominuW, F::Amo, "amominu.w"),
    row(M_AMO, amo(0x1c, 2), Op::AmomaxuW, F::Amo, "amomaxu.w"),
    row(M_LR, amo(0x02, 3), Op::LrD, F::Lr, "lr.d"),
    row(M_AMO, amo(0x03, 3), Op::ScD, F::Amo, "sc.d"),
    row(M_AMO, amo(0x01, 3), Op::AmoswapD, F::Amo, "amoswap.d"),
    row(M_AMO, amo(0x00, 3), Op::AmoaddD, F::Amo, "amoadd.d"),
    row(M_AMO, amo(0x04, 3), Op::AmoxorD, F::Amo, "amoxor.d"),
    row(M_AMO, amo(0x0c, 3), Op::AmoandD, F::Amo, "amoand.d"),
    row(M_AMO, amo(0x08, 3), Op::AmoorD, F::Amo, "amoor.d"),
    row(M_AMO, amo(0x10, 3), Op::AmominD, F::Amo, "amomin.d"),
    row(M_AMO, amo(0x14, 3), Op::AmomaxD, F::Amo, "amomax.d"),
    row(M_AMO, amo(0x18, 3), Op::AmominuD, F::Amo, "amominu.d"),
    row(M_AMO, amo(0x1c, 3), Op::AmomaxuD, F::Amo, "amomaxu.d"),
];
