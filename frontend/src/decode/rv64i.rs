//! Decode tables of the base integer ISA: RV64I ([`RV64I`]) and Zifencei
//! ([`ZIFENCEI`]), RISC-V Unprivileged ISA chapters 2, 3 and 5; encodings
//! from chapter 24, table 24.2.

use super::format::Format as F;
use super::row::{
    f3, f7f3, row, Row, AUIPC, BRANCH, JAL, JALR, LOAD, LUI, MISC_MEM, M_F3, M_F7F3, M_OPC, OP,
    OP_32, OP_IMM, OP_IMM_32, STORE,
};
use crate::insn::Op;

/// RV32I and RV64I base integer instructions (Unprivileged ISA, chapter 2
/// "RV32I Base Integer Instruction Set" and chapter 5 "RV64I"; encodings
/// from table 24.2).
pub static RV64I: &[Row] = &[
    row(M_OPC, LUI, Op::Lui, F::U, "lui"),
    row(M_OPC, AUIPC, Op::Auipc, F::U, "auipc"),
    row(M_OPC, JAL, Op::Jal, F::J, "jal"),
    row(M_F3, f3(JALR, 0), Op::Jalr, F::Jalr, "jalr"),
    row(M_F3, f3(BRANCH, 0), Op::Beq, F::B, "beq"),
    row(M_F3, f3(BRANCH, 1), Op::Bne, F::B, "bne"),
    row(M_F3, f3(BRANCH, 4), Op::Blt, F::B, "blt"),
    row(M_F3, f3(BRANCH, 5), Op::Bge, F::B, "bge"),
    row(M_F3, f3(BRANCH, 6), Op::Bltu, F::B, "bltu"),
    row(M_F3, f3(BRANCH, 7), Op::Bgeu, F::B, "bgeu"),
    row(M_F3, f3(LOAD, 0), Op::Lb, F::Load, "lb"),
    row(M_F3, f3(LOAD, 1), Op::Lh, F::Load, "lh"),
    row(M_F3, f3(LOAD, 2), Op::Lw, F::Load, "lw"),
    row(M_F3, f3(LOAD, 3), Op::Ld, F::Load, "ld"),
    row(M_F3, f3(LOAD, 4), Op::Lbu, F::Load, "lbu"),
    row(M_F3, f3(LOAD, 5), Op::Lhu, F::Load, "lhu"),
    row(M_F3, f3(LOAD, 6), Op::Lwu, F::Load, "lwu"),
    row(M_F3, f3(STORE, 0), Op::Sb, F::Store, "sb"),
    row(M_F3, f3(STORE, 1), Op::Sh, F::Store, "sh"),
    row(M_F3, f3(STORE, 2), Op::Sw, F::Store, "sw"),
    row(M_F3, f3(STORE, 3), Op::Sd, F::Store, "sd"),
    row(M_F3, f3(OP_IMM, 0), Op::Addi, F::I, "addi"),
    row(M_F3, f3(OP_IMM, 2), Op::Slti, F::I, "slti"),
    row(M_F3, f3(OP_IMM, 3), Op::Sltiu, F::I, "sltiu"),
    row(M_F3, f3(OP_IMM, 4), Op::Xori, F::I, "xori"),
    row(M_F3, f3(OP_IMM, 6), Op::Ori, F::I, "ori"),
    row(M_F3, f3(OP_IMM, 7), Op::Andi, F::I, "andi"),
    // RV64I: funct6 in bits 31:26, shamt[5:0] in bits 25:20 (section 5.2).
    row(0xfc00_707f, f3(OP_IMM, 1), Op::Slli, F::Shift64, "slli"),
    row(0xfc00_707f, f3(OP_IMM, 5), Op::Srli, F::Shift64, "srli"),
    row(
        0xfc00_707f,
        0x4000_0000 | f3(OP_IMM, 5),
        Op::Srai,
        F::Shift64,
        "srai",
    ),
    row(M_F7F3, f7f3(OP, 0, 0x00), Op::Add, F::R, "add"),
    row(M_F7F3, f7f3(OP, 0, 0x20), Op::Sub, F::R, "sub"),
    row(M_F7F3, f7f3(OP, 1, 0x00), Op::Sll, F::R, "sll"),
    row(M_F7F3, f7f3(OP, 2, 0x00), Op::Slt, F::R, "slt"),
    row(M_F7F3, f7f3(OP, 3, 0x00), Op::Sltu, F::R, "sltu"),
    row(M_F7F3, f7f3(OP, 4, 0x00), Op::Xor, F::R, "xor"),
    row(M_F7F3, f7f3(OP, 5, 0x00), Op::Srl, F::R, "srl"),
    row(M_F7F3, f7f3(OP, 5, 0x20), Op::Sra, F::R, "sra"),
    row(M_F7F3, f7f3(OP, 6, 0x00), Op::Or, F::R, "or"),
    row(M_F7F3, f7f3(OP, 7, 0x00), Op::And, F::R, "and"),
    // FENCE.TSO is FENCE with fm = 1000, pred = succ = RW (section 2.7).
    row(
        0xfff0_707f,
        0x8330_0000 | f3(MISC_MEM, 0),
        Op::Fence,
        F::None,
        "fence.tso",
    ),
    row(M_F3, f3(MISC_MEM, 0), Op::Fence, F::Fence, "fence"),
    row(0xffff_ffff, 0x0000_0073, Op::Ecall, F::None, "ecall"),
    row(0xffff_ffff, 0x0010_0073, Op::Ebreak, F::None, "ebreak"),
    row(M_F3, f3(OP_IMM_32, 0), Op::Addiw, F::I, "addiw"),
    // shamt[5] = 1 is reserved for the W shifts: bit 25 is in the mask.
    row(
        M_F7F3,
        f7f3(OP_IMM_32, 1, 0x00),
        Op::Slliw,
        F::Shift32,
        "slliw",
    ),
    row(
        M_F7F3,
        f7f3(OP_IMM_32, 5, 0x00),
        Op::Srliw,
        F::Shift32,
        "srliw",
    ),
    row(
        M_F7F3,
        f7f3(OP_IMM_32, 5, 0x20),
        Op::Sraiw,
        F::Shift32,
        "sraiw",
    ),
    row(M_F7F3, f7f3(OP_32, 0, 0x00), Op::Addw, F::R, "addw"),
    row(M_F7F3, f7f3(OP_32, 0, 0x20), Op::Subw, F::R, "subw"),
    row(M_F7F3, f7f3(OP_32, 1, 0x00), Op::Sllw, F::R, "sllw"),
    row(M_F7F3, f7f3(OP_32, 5, 0x00), Op::Srlw, F::R, "srlw"),
    row(M_F7F3, f7f3(OP_32, 5, 0x20), Op::Sraw, F::R, "sraw"),
];

/// Zifencei (Unprivileged ISA, chapter 3): FENCE.I. The imm, rs1 and rd
/// fields are reserved for future use and ignored.
pub static ZIFENCEI: &[Row] = &[row(M_F3, f3(MISC_MEM, 1), Op::FenceI, F::None, "fence.i")];
