//! One decode-table entry, [`Row`], and what the per-extension tables are
//! written with: the [`row`] constructor, the masks of the common 32-bit
//! layouts, the major opcodes (RISC-V Unprivileged ISA, chapter 24
//! "RV32/64G Instruction Set Listings", table 24.1) and the helpers that
//! place `funct3`/`funct5`/`funct7`/`rs2` fields.

use super::format::Format;
use crate::insn::Op;

/// One encoding: an instruction word `w` is this row's instruction iff
/// `w & mask == bits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The bits that identify the instruction.
    pub mask: u32,
    /// The value those bits must have.
    pub bits: u32,
    /// The base-ISA operation it decodes to.
    pub op: Op,
    /// Operand layout.
    pub format: Format,
    /// Assembly mnemonic (`c.` prefix for compressed rows; for LR/SC/AMO the
    /// `.aq`/`.rl`/`.aqrl` suffix is added by the disassembler).
    pub mnemonic: &'static str,
}

impl Row {
    /// Whether this row is a 16-bit compressed encoding.
    pub const fn is_compressed(&self) -> bool {
        self.bits & 3 != 3
    }

    /// Whether `raw` matches this row's mask and bits.
    pub const fn matches(&self, raw: u32) -> bool {
        raw & self.mask == self.bits
    }
}

/// A [`Row`] (a `const fn`, so that the tables are `static`).
pub(super) const fn row(
    mask: u32,
    bits: u32,
    op: Op,
    format: Format,
    mnemonic: &'static str,
) -> Row {
    Row {
        mask,
        bits,
        op,
        format,
        mnemonic,
    }
}

// Masks of the common 32-bit layouts.
pub(super) const M_OPC: u32 = 0x0000_007f;
pub(super) const M_F3: u32 = 0x0000_707f;
pub(super) const M_F7F3: u32 = 0xfe00_707f;
pub(super) const M_F7: u32 = 0xfe00_007f;
pub(super) const M_F7RS2: u32 = 0xfff0_007f;
pub(super) const M_F7RS2F3: u32 = 0xfff0_707f;
pub(super) const M_R4: u32 = 0x0600_007f;
pub(super) const M_AMO: u32 = 0xf800_707f;
pub(super) const M_LR: u32 = 0xf9f0_707f;
// Compressed: quadrant + funct3.
pub(super) const M_C3: u32 = 0xe003;

// Major opcodes (chapter 24, table 24.1).
pub(super) const LOAD: u32 = 0x03;
pub(super) const LOAD_FP: u32 = 0x07;
pub(super) const MISC_MEM: u32 = 0x0f;
pub(super) const OP_IMM: u32 = 0x13;
pub(super) const AUIPC: u32 = 0x17;
pub(super) const OP_IMM_32: u32 = 0x1b;
pub(super) const STORE: u32 = 0x23;
pub(super) const STORE_FP: u32 = 0x27;
pub(super) const AMO: u32 = 0x2f;
pub(super) const OP: u32 = 0x33;
pub(super) const LUI: u32 = 0x37;
pub(super) const OP_32: u32 = 0x3b;
pub(super) const MADD: u32 = 0x43;
pub(super) const MSUB: u32 = 0x47;
pub(super) const NMSUB: u32 = 0x4b;
pub(super) const NMADD: u32 = 0x4f;
pub(super) const OP_FP: u32 = 0x53;
pub(super) const BRANCH: u32 = 0x63;
pub(super) const JALR: u32 = 0x67;
pub(super) const JAL: u32 = 0x6f;
pub(super) const SYSTEM: u32 = 0x73;

pub(super) const fn f3(opcode: u32, funct3: u32) -> u32 {
    funct3 << 12 | opcode
}
pub(super) const fn f7f3(opcode: u32, funct3: u32, funct7: u32) -> u32 {
    funct7 << 25 | funct3 << 12 | opcode
}
pub(super) const fn f7rs2(opcode: u32, funct7: u32, rs2: u32) -> u32 {
    funct7 << 25 | rs2 << 20 | opcode
}
pub(super) const fn amo(funct5: u32, funct3: u32) -> u32 {
    funct5 << 27 | funct3 << 12 | AMO
}
