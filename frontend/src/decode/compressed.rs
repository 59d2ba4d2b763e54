//! Decode tables of the C extension, one per quadrant ([`C_Q0`], [`C_Q1`],
//! [`C_Q2`]): RISC-V Unprivileged ISA chapter 16, tables 16.5-16.7, with
//! the RV64 meanings. Each row decodes to the base instruction its
//! encoding expands to; the operand scrambling is in
//! [`Format::extract`](super::Format::extract).

use super::format::Format as F;
use super::row::{row, Row, M_C3};
use crate::insn::Op;

/// Compressed quadrant 0 (Unprivileged ISA, chapter 16, table 16.5), RV64
/// meanings (C.LD/C.SD where RV32 has C.FLW/C.FSW; funct3 100 reserved).
pub static C_Q0: &[Row] = &[
    row(M_C3, 0x0000, Op::Addi, F::CAddi4spn, "c.addi4spn"),
    row(M_C3, 0x2000, Op::Fld, F::CFld, "c.fld"),
    row(M_C3, 0x4000, Op::Lw, F::CLw, "c.lw"),
    row(M_C3, 0x6000, Op::Ld, F::CLd, "c.ld"),
    row(M_C3, 0xa000, Op::Fsd, F::CFsd, "c.fsd"),
    row(M_C3, 0xc000, Op::Sw, F::CSw, "c.sw"),
    row(M_C3, 0xe000, Op::Sd, F::CSd, "c.sd"),
];

/// Compressed quadrant 1 (Unprivileged ISA, chapter 16, table 16.6), RV64
/// meanings (C.ADDIW where RV32 has C.JAL).
pub static C_Q1: &[Row] = &[
    row(0xffff, 0x0001, Op::Addi, F::CNop, "c.nop"),
    row(M_C3, 0x0001, Op::Addi, F::CAddi, "c.addi"),
    row(M_C3, 0x2001, Op::Addiw, F::CAddiw, "c.addiw"),
    row(M_C3, 0x4001, Op::Addi, F::CLi, "c.li"),
    row(0xef83, 0x6101, Op::Addi, F::CAddi16sp, "c.addi16sp"),
    row(M_C3, 0x6001, Op::Lui, F::CLui, "c.lui"),
    row(0xec03, 0x8001, Op::Srli, F::CShiftR, "c.srli"),
    row(0xec03, 0x8401, Op::Srai, F::CShiftR, "c.srai"),
    row(0xec03, 0x8801, Op::Andi, F::CAndi, "c.andi"),
    row(0xfc63, 0x8c01, Op::Sub, F::CA, "c.sub"),
    row(0xfc63, 0x8c21, Op::Xor, F::CA, "c.xor"),
    row(0xfc63, 0x8c41, Op::Or, F::CA, "c.or"),
    row(0xfc63, 0x8c61, Op::And, F::CA, "c.and"),
    row(0xfc63, 0x9c01, Op::Subw, F::CA, "c.subw"),
    row(0xfc63, 0x9c21, Op::Addw, F::CA, "c.addw"),
    row(M_C3, 0xa001, Op::Jal, F::CJ, "c.j"),
    row(M_C3, 0xc001, Op::Beq, F::CB, "c.beqz"),
    row(M_C3, 0xe001, Op::Bne, F::CB, "c.bnez"),
];

/// Compressed quadrant 2 (Unprivileged ISA, chapter 16, table 16.7), RV64
/// meanings (C.LDSP/C.SDSP where RV32 has C.FLWSP/C.FSWSP).
pub static C_Q2: &[Row] = &[
    row(M_C3, 0x0002, Op::Slli, F::CSlli, "c.slli"),
    row(M_C3, 0x2002, Op::Fld, F::CFldsp, "c.fldsp"),
    row(M_C3, 0x4002, Op::Lw, F::CLwsp, "c.lwsp"),
    row(M_C3, 0x6002, Op::Ld, F::CLdsp, "c.ldsp"),
    row(0xf07f, 0x8002, Op::Jalr, F::CJr, "c.jr"),
    row(0xf003, 0x8002, Op::Add, F::CMv, "c.mv"),
    row(0xffff, 0x9002, Op::Ebreak, F::None, "c.ebreak"),
    row(0xf07f, 0x9002, Op::Jalr, F::CJalr, "c.jalr"),
    row(0xf003, 0x9002, Op::Add, F::CAdd, "c.add"),
    row(M_C3, 0xa002, Op::Fsd, F::CFsdsp, "c.fsdsp"),
    row(M_C3, 0xc002, Op::Sw, F::CSwsp, "c.swsp"),
    row(M_C3, 0xe002, Op::Sd, F::CSdsp, "c.sdsp"),
];
