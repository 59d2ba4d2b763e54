//! Table-driven RV64GC decoder.
//!
//! # Design
//!
//! Like QEMU's `target/riscv/insn32.decode` / `insn16.decode`, every
//! instruction is one [`Row`]: a `mask`/`bits` pair that selects the
//! encoding, the [`Op`] it decodes to, the [`Format`] that says how operands
//! are extracted (and printed), and the mnemonic. There is one table per
//! extension ([`RV64I`], [`ZIFENCEI`], [`ZICSR`], [`RV64M`], [`RV64A`],
//! [`RV64F`], [`RV64D`], [`PRIV`], and the compressed quadrants [`C_Q0`],
//! [`C_Q1`], [`C_Q2`]); [`TABLES`] lists them. The same rows drive
//! [`decode`], the disassembler ([`crate::disasm`]) and the coverage tests.
//!
//! # Lookup
//!
//! At first use the rows are sorted into buckets (built once, in a
//! [`OnceLock`]): 32 buckets for 32-bit instructions, indexed by the major
//! opcode `bits[6:2]` (RISC-V Unprivileged ISA, chapter 24 "RV32/64G
//! Instruction Set Listings", table 24.1), and 24 for compressed ones,
//! indexed by quadrant `bits[1:0]` and `funct3 = bits[15:13]` (chapter 16,
//! table 16.4). Each bucket holds a handful of rows ordered from the most to
//! the least specific mask (most mask bits first), so the first row that
//! matches wins: C.EBREAK before C.JALR before C.ADD, C.ADDI16SP before
//! C.LUI, FENCE.TSO before FENCE. A test checks that no two rows with the
//! same number of mask bits overlap, so the order is never ambiguous.
//!
//! # Reserved encodings
//!
//! Encodings that no row matches are [`Op::Illegal`]. Encodings that a row
//! matches but the spec reserves (C.ADDI4SPN with `nzuimm = 0`, the
//! all-zero halfword among them; C.ADDI16SP and C.LUI with a zero immediate;
//! C.ADDIW, C.LWSP and C.LDSP with `rd = x0`; C.JR with `rs1 = x0`) are
//! rejected by the row's format ([`Format::extract`] returns `None`), which
//! also gives `Illegal`: no later row is tried. HINT encodings (C.NOP with a
//! non-zero immediate, C.LI/C.LUI/C.MV/C.ADD/C.SLLI with `rd = x0`, shifts by
//! zero) decode to the base instruction they expand to, which writes x0 and
//! so executes as a no-op.
//!
//! Other conventions: fmt fields other than S (00) and D (01) (that is, H and
//! Q) match no row; the rounding mode is *not* validated here (`rm` 5 and 6
//! decode, and must trap at execution); FENCE accepts any pred/succ/fm and
//! ignores rd/rs1; FENCE.I ignores its imm/rs1/rd fields, as the spec asks;
//! lengths of 48 bits and more (`bits[4:2] = 111` with `bits[1:0] = 11`)
//! are `Illegal` with `len = 4`.

use std::sync::OnceLock;

use crate::insn::{Insn, Op};

/// How a row's operands are laid out in the instruction bits, and how the
/// disassembler prints them. The 32-bit formats follow the RISC-V
/// Unprivileged ISA, section 2.3 "Immediate Encoding Variants" (figure 2.4);
/// the `C*` formats follow chapter 16, tables 16.5-16.7 (one variant per
/// distinct operand scrambling or register class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// U-type: `rd, imm[31:12]`.
    U,
    /// J-type: `rd, offset` (JAL).
    J,
    /// B-type: `rs1, rs2, offset`.
    B,
    /// I-type ALU: `rd, rs1, imm`.
    I,
    /// I-type integer load: `rd, imm(rs1)`.
    Load,
    /// I-type FP load: `frd, imm(rs1)`.
    FLoad,
    /// S-type integer store: `rs2, imm(rs1)`.
    Store,
    /// S-type FP store: `frs2, imm(rs1)`.
    FStore,
    /// JALR: `rd, imm(rs1)`.
    Jalr,
    /// RV64 shift by immediate, 6-bit shamt: `rd, rs1, shamt`.
    Shift64,
    /// RV64 word shift by immediate, 5-bit shamt: `rd, rs1, shamt`.
    Shift32,
    /// R-type: `rd, rs1, rs2`.
    R,
    /// FENCE: `pred, succ` (imm = `fm << 8 | pred << 4 | succ`).
    Fence,
    /// No operands printed (ECALL, FENCE.I, FENCE.TSO, MRET, ...).
    None,
    /// SFENCE.VMA: `rs1, rs2`.
    SfenceVma,
    /// Zicsr register form: `rd, csr, rs1`.
    CsrReg,
    /// Zicsr immediate form: `rd, csr, zimm`.
    CsrImm,
    /// LR: `rd, (rs1)` with aq/rl.
    Lr,
    /// SC and AMOs: `rd, rs2, (rs1)` with aq/rl.
    Amo,
    /// R4-type fused multiply-add: `frd, frs1, frs2, frs3[, rm]`.
    R4,
    /// FP binary with rounding mode: `frd, frs1, frs2[, rm]`.
    FR3Rm,
    /// FP binary without rounding mode: `frd, frs1, frs2`.
    FR3,
    /// FP unary with rounding mode: `frd, frs1[, rm]`.
    FR2Rm,
    /// FP unary that is always exact (FCVT.D.S): `frd, frs1` (rm printed only if non-zero).
    FR2Exact,
    /// FP compare: `rd, frs1, frs2`.
    FCmp,
    /// FP to integer with rounding mode: `rd, frs1[, rm]`.
    FToXRm,
    /// FP to integer bit move / classify: `rd, frs1`.
    FToX,
    /// Integer to FP with rounding mode: `frd, rs1[, rm]`.
    XToFRm,
    /// Integer to FP, always exact (FCVT.D.W[U]): `frd, rs1` (rm printed only if non-zero).
    XToFExact,
    /// Integer to FP bit move: `frd, rs1`.
    XToF,
    /// C.ADDI4SPN: `rd', sp, nzuimm` (CIW; nzuimm = 0 reserved).
    CAddi4spn,
    /// C.LW: `rd', uimm(rs1')` (CL, word offset).
    CLw,
    /// C.LD: `rd', uimm(rs1')` (CL, doubleword offset).
    CLd,
    /// C.FLD: `frd', uimm(rs1')`.
    CFld,
    /// C.SW: `rs2', uimm(rs1')` (CS, word offset).
    CSw,
    /// C.SD: `rs2', uimm(rs1')` (CS, doubleword offset).
    CSd,
    /// C.FSD: `frs2', uimm(rs1')`.
    CFsd,
    /// C.NOP (exactly 0x0001): no operands.
    CNop,
    /// C.ADDI: `rd, imm` (CI).
    CAddi,
    /// C.ADDIW: `rd, imm` (CI; rd = x0 reserved).
    CAddiw,
    /// C.LI: `rd, imm` (CI; expands to `addi rd, x0, imm`).
    CLi,
    /// C.ADDI16SP: `sp, nzimm` (nzimm = 0 reserved).
    CAddi16sp,
    /// C.LUI: `rd, nzimm[17:12]` (nzimm = 0 reserved).
    CLui,
    /// C.SRLI / C.SRAI: `rd', shamt` (CB).
    CShiftR,
    /// C.ANDI: `rd', imm` (CB).
    CAndi,
    /// C.SUB ... C.ADDW: `rd', rs2'` (CA).
    CA,
    /// C.J: `offset` (CJ; expands to `jal x0, offset`).
    CJ,
    /// C.BEQZ / C.BNEZ: `rs1', offset` (CB; compares with x0).
    CB,
    /// C.SLLI: `rd, shamt` (CI).
    CSlli,
    /// C.LWSP: `rd, uimm(sp)` (rd = x0 reserved).
    CLwsp,
    /// C.LDSP: `rd, uimm(sp)` (rd = x0 reserved).
    CLdsp,
    /// C.FLDSP: `frd, uimm(sp)`.
    CFldsp,
    /// C.JR: `rs1` (rs1 = x0 reserved; expands to `jalr x0, 0(rs1)`).
    CJr,
    /// C.MV: `rd, rs2` (expands to `add rd, x0, rs2`).
    CMv,
    /// C.JALR: `rs1` (expands to `jalr ra, 0(rs1)`).
    CJalr,
    /// C.ADD: `rd, rs2` (expands to `add rd, rd, rs2`).
    CAdd,
    /// C.SWSP: `rs2, uimm(sp)` (CSS).
    CSwsp,
    /// C.SDSP: `rs2, uimm(sp)` (CSS).
    CSdsp,
    /// C.FSDSP: `frs2, uimm(sp)` (CSS).
    CFsdsp,
}

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

const fn row(mask: u32, bits: u32, op: Op, format: Format, mnemonic: &'static str) -> Row {
    Row {
        mask,
        bits,
        op,
        format,
        mnemonic,
    }
}

// Masks of the common 32-bit layouts.
const M_OPC: u32 = 0x0000_007f;
const M_F3: u32 = 0x0000_707f;
const M_F7F3: u32 = 0xfe00_707f;
const M_F7: u32 = 0xfe00_007f;
const M_F7RS2: u32 = 0xfff0_007f;
const M_F7RS2F3: u32 = 0xfff0_707f;
const M_R4: u32 = 0x0600_007f;
const M_AMO: u32 = 0xf800_707f;
const M_LR: u32 = 0xf9f0_707f;
// Compressed: quadrant + funct3.
const M_C3: u32 = 0xe003;

// Major opcodes (chapter 24, table 24.1).
const LOAD: u32 = 0x03;
const LOAD_FP: u32 = 0x07;
const MISC_MEM: u32 = 0x0f;
const OP_IMM: u32 = 0x13;
const AUIPC: u32 = 0x17;
const OP_IMM_32: u32 = 0x1b;
const STORE: u32 = 0x23;
const STORE_FP: u32 = 0x27;
const AMO: u32 = 0x2f;
const OP: u32 = 0x33;
const LUI: u32 = 0x37;
const OP_32: u32 = 0x3b;
const MADD: u32 = 0x43;
const MSUB: u32 = 0x47;
const NMSUB: u32 = 0x4b;
const NMADD: u32 = 0x4f;
const OP_FP: u32 = 0x53;
const BRANCH: u32 = 0x63;
const JALR: u32 = 0x67;
const JAL: u32 = 0x6f;
const SYSTEM: u32 = 0x73;

const fn f3(opcode: u32, funct3: u32) -> u32 {
    funct3 << 12 | opcode
}
const fn f7f3(opcode: u32, funct3: u32, funct7: u32) -> u32 {
    funct7 << 25 | funct3 << 12 | opcode
}
const fn f7rs2(opcode: u32, funct7: u32, rs2: u32) -> u32 {
    funct7 << 25 | rs2 << 20 | opcode
}
const fn amo(funct5: u32, funct3: u32) -> u32 {
    funct5 << 27 | funct3 << 12 | AMO
}

use Format as F;

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

/// F extension (Unprivileged ISA, chapter 11 "F Standard Extension for
/// Single-Precision Floating-Point"), fmt = S (00). `funct7 = funct5 << 2 | fmt`.
pub static RV64F: &[Row] = &[
    row(M_F3, f3(LOAD_FP, 2), Op::Flw, F::FLoad, "flw"),
    row(M_F3, f3(STORE_FP, 2), Op::Fsw, F::FStore, "fsw"),
    row(M_R4, MADD, Op::FmaddS, F::R4, "fmadd.s"),
    row(M_R4, MSUB, Op::FmsubS, F::R4, "fmsub.s"),
    row(M_R4, NMSUB, Op::FnmsubS, F::R4, "fnmsub.s"),
    row(M_R4, NMADD, Op::FnmaddS, F::R4, "fnmadd.s"),
    row(M_F7, f7f3(OP_FP, 0, 0x00), Op::FaddS, F::FR3Rm, "fadd.s"),
    row(M_F7, f7f3(OP_FP, 0, 0x04), Op::FsubS, F::FR3Rm, "fsub.s"),
    row(M_F7, f7f3(OP_FP, 0, 0x08), Op::FmulS, F::FR3Rm, "fmul.s"),
    row(M_F7, f7f3(OP_FP, 0, 0x0c), Op::FdivS, F::FR3Rm, "fdiv.s"),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x2c, 0),
        Op::FsqrtS,
        F::FR2Rm,
        "fsqrt.s",
    ),
    row(M_F7F3, f7f3(OP_FP, 0, 0x10), Op::FsgnjS, F::FR3, "fsgnj.s"),
    row(
        M_F7F3,
        f7f3(OP_FP, 1, 0x10),
        Op::FsgnjnS,
        F::FR3,
        "fsgnjn.s",
    ),
    row(
        M_F7F3,
        f7f3(OP_FP, 2, 0x10),
        Op::FsgnjxS,
        F::FR3,
        "fsgnjx.s",
    ),
    row(M_F7F3, f7f3(OP_FP, 0, 0x14), Op::FminS, F::FR3, "fmin.s"),
    row(M_F7F3, f7f3(OP_FP, 1, 0x14), Op::FmaxS, F::FR3, "fmax.s"),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x60, 0),
        Op::FcvtWS,
        F::FToXRm,
        "fcvt.w.s",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x60, 1),
        Op::FcvtWuS,
        F::FToXRm,
        "fcvt.wu.s",
    ),
    row(
        M_F7RS2F3,
        f7rs2(OP_FP, 0x70, 0),
        Op::FmvXW,
        F::FToX,
        "fmv.x.w",
    ),
    row(M_F7F3, f7f3(OP_FP, 2, 0x50), Op::FeqS, F::FCmp, "feq.s"),
    row(M_F7F3, f7f3(OP_FP, 1, 0x50), Op::FltS, F::FCmp, "flt.s"),
    row(M_F7F3, f7f3(OP_FP, 0, 0x50), Op::FleS, F::FCmp, "fle.s"),
    row(
        M_F7RS2F3,
        f7rs2(OP_FP, 0x70, 0) | 1 << 12,
        Op::FclassS,
        F::FToX,
        "fclass.s",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x68, 0),
        Op::FcvtSW,
        F::XToFRm,
        "fcvt.s.w",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x68, 1),
        Op::FcvtSWu,
        F::XToFRm,
        "fcvt.s.wu",
    ),
    row(
        M_F7RS2F3,
        f7rs2(OP_FP, 0x78, 0),
        Op::FmvWX,
        F::XToF,
        "fmv.w.x",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x60, 2),
        Op::FcvtLS,
        F::FToXRm,
        "fcvt.l.s",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x60, 3),
        Op::FcvtLuS,
        F::FToXRm,
        "fcvt.lu.s",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x68, 2),
        Op::FcvtSL,
        F::XToFRm,
        "fcvt.s.l",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x68, 3),
        Op::FcvtSLu,
        F::XToFRm,
        "fcvt.s.lu",
    ),
];

/// D extension (Unprivileged ISA, chapter 12 "D Standard Extension for
/// Double-Precision Floating-Point"), fmt = D (01).
pub static RV64D: &[Row] = &[
    row(M_F3, f3(LOAD_FP, 3), Op::Fld, F::FLoad, "fld"),
    row(M_F3, f3(STORE_FP, 3), Op::Fsd, F::FStore, "fsd"),
    row(M_R4, 1 << 25 | MADD, Op::FmaddD, F::R4, "fmadd.d"),
    row(M_R4, 1 << 25 | MSUB, Op::FmsubD, F::R4, "fmsub.d"),
    row(M_R4, 1 << 25 | NMSUB, Op::FnmsubD, F::R4, "fnmsub.d"),
    row(M_R4, 1 << 25 | NMADD, Op::FnmaddD, F::R4, "fnmadd.d"),
    row(M_F7, f7f3(OP_FP, 0, 0x01), Op::FaddD, F::FR3Rm, "fadd.d"),
    row(M_F7, f7f3(OP_FP, 0, 0x05), Op::FsubD, F::FR3Rm, "fsub.d"),
    row(M_F7, f7f3(OP_FP, 0, 0x09), Op::FmulD, F::FR3Rm, "fmul.d"),
    row(M_F7, f7f3(OP_FP, 0, 0x0d), Op::FdivD, F::FR3Rm, "fdiv.d"),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x2d, 0),
        Op::FsqrtD,
        F::FR2Rm,
        "fsqrt.d",
    ),
    row(M_F7F3, f7f3(OP_FP, 0, 0x11), Op::FsgnjD, F::FR3, "fsgnj.d"),
    row(
        M_F7F3,
        f7f3(OP_FP, 1, 0x11),
        Op::FsgnjnD,
        F::FR3,
        "fsgnjn.d",
    ),
    row(
        M_F7F3,
        f7f3(OP_FP, 2, 0x11),
        Op::FsgnjxD,
        F::FR3,
        "fsgnjx.d",
    ),
    row(M_F7F3, f7f3(OP_FP, 0, 0x15), Op::FminD, F::FR3, "fmin.d"),
    row(M_F7F3, f7f3(OP_FP, 1, 0x15), Op::FmaxD, F::FR3, "fmax.d"),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x20, 1),
        Op::FcvtSD,
        F::FR2Rm,
        "fcvt.s.d",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x21, 0),
        Op::FcvtDS,
        F::FR2Exact,
        "fcvt.d.s",
    ),
    row(M_F7F3, f7f3(OP_FP, 2, 0x51), Op::FeqD, F::FCmp, "feq.d"),
    row(M_F7F3, f7f3(OP_FP, 1, 0x51), Op::FltD, F::FCmp, "flt.d"),
    row(M_F7F3, f7f3(OP_FP, 0, 0x51), Op::FleD, F::FCmp, "fle.d"),
    row(
        M_F7RS2F3,
        f7rs2(OP_FP, 0x71, 0) | 1 << 12,
        Op::FclassD,
        F::FToX,
        "fclass.d",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x61, 0),
        Op::FcvtWD,
        F::FToXRm,
        "fcvt.w.d",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x61, 1),
        Op::FcvtWuD,
        F::FToXRm,
        "fcvt.wu.d",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x69, 0),
        Op::FcvtDW,
        F::XToFExact,
        "fcvt.d.w",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x69, 1),
        Op::FcvtDWu,
        F::XToFExact,
        "fcvt.d.wu",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x61, 2),
        Op::FcvtLD,
        F::FToXRm,
        "fcvt.l.d",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x61, 3),
        Op::FcvtLuD,
        F::FToXRm,
        "fcvt.lu.d",
    ),
    row(
        M_F7RS2F3,
        f7rs2(OP_FP, 0x71, 0),
        Op::FmvXD,
        F::FToX,
        "fmv.x.d",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x69, 2),
        Op::FcvtDL,
        F::XToFRm,
        "fcvt.d.l",
    ),
    row(
        M_F7RS2,
        f7rs2(OP_FP, 0x69, 3),
        Op::FcvtDLu,
        F::XToFRm,
        "fcvt.d.lu",
    ),
    row(
        M_F7RS2F3,
        f7rs2(OP_FP, 0x79, 0),
        Op::FmvDX,
        F::XToF,
        "fmv.d.x",
    ),
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

/// Every table, with its name: RV64I, Zifencei, Zicsr, M, A, F, D,
/// privileged, and the three compressed quadrants.
pub static TABLES: &[(&str, &[Row])] = &[
    ("RV64I", RV64I),
    ("Zifencei", ZIFENCEI),
    ("Zicsr", ZICSR),
    ("M", RV64M),
    ("A", RV64A),
    ("F", RV64F),
    ("D", RV64D),
    ("privileged", PRIV),
    ("C quadrant 0", C_Q0),
    ("C quadrant 1", C_Q1),
    ("C quadrant 2", C_Q2),
];

/// Iterates over every row of every table.
pub fn all_rows() -> impl Iterator<Item = &'static Row> {
    TABLES.iter().flat_map(|(_, rows)| rows.iter())
}

// ---------------------------------------------------------------------------
// Bit-field helpers.

/// `raw[hi:lo]`, right-aligned.
#[inline(always)]
const fn field(raw: u32, hi: u32, lo: u32) -> u32 {
    (raw >> lo) & ((1u32 << (hi - lo + 1)) - 1)
}

/// Sign-extends the low `width` bits of `v`.
#[inline(always)]
const fn sext(v: u32, width: u32) -> i64 {
    let shift = 64 - width;
    ((v as i64) << shift) >> shift
}

/// Register number of a 3-bit compressed register field (`rd'`, `rs1'`,
/// `rs2'`): x8..x15 / f8..f15 (chapter 16, table 16.2).
#[inline(always)]
const fn creg(v: u32) -> u8 {
    (8 + (v & 7)) as u8
}

/// 5-bit register field at bits `lo+4:lo`.
#[inline(always)]
const fn reg(raw: u32, lo: u32) -> u8 {
    field(raw, lo + 4, lo) as u8
}

/// The CI-format 6-bit signed immediate `imm[5] = bit 12, imm[4:0] = bits 6:2`.
#[inline(always)]
const fn ci_imm(raw: u32) -> i64 {
    sext(field(raw, 12, 12) << 5 | field(raw, 6, 2), 6)
}

/// The 6-bit CI/CB shift amount (always zero-extended).
#[inline(always)]
const fn ci_shamt(raw: u32) -> i64 {
    (field(raw, 12, 12) << 5 | field(raw, 6, 2)) as i64
}

/// CL/CS word offset: `uimm[5:3] = bits 12:10, uimm[2] = bit 6, uimm[6] = bit 5`.
#[inline(always)]
const fn cl_w_imm(raw: u32) -> i64 {
    (field(raw, 12, 10) << 3 | field(raw, 6, 6) << 2 | field(raw, 5, 5) << 6) as i64
}

/// CL/CS doubleword offset: `uimm[5:3] = bits 12:10, uimm[7:6] = bits 6:5`.
#[inline(always)]
const fn cl_d_imm(raw: u32) -> i64 {
    (field(raw, 12, 10) << 3 | field(raw, 6, 5) << 6) as i64
}

impl Format {
    /// Extracts the operands of `raw` laid out in this format, for an
    /// instruction of operation `op`. Returns `None` when the encoding is
    /// reserved (see the module doc); `len` and `raw` are filled in too.
    pub fn extract(self, op: Op, raw: u32) -> Option<Insn> {
        // No operands yet; `len` and `raw` follow from the low bits.
        let mut i = Insn {
            op,
            ..Insn::illegal(raw)
        };
        let rd = reg(raw, 7);
        let rs1 = reg(raw, 15);
        let rs2 = reg(raw, 20);
        let i_imm = sext(raw >> 20, 12);
        let rm = field(raw, 14, 12) as u8;
        match self {
            F::U => {
                i.rd = rd;
                i.imm = (raw & 0xffff_f000) as i32 as i64;
            }
            F::J => {
                i.rd = rd;
                let v = field(raw, 31, 31) << 20
                    | field(raw, 19, 12) << 12
                    | field(raw, 20, 20) << 11
                    | field(raw, 30, 21) << 1;
                i.imm = sext(v, 21);
            }
            F::B => {
                i.rs1 = rs1;
                i.rs2 = rs2;
                let v = field(raw, 31, 31) << 12
                    | field(raw, 7, 7) << 11
                    | field(raw, 30, 25) << 5
                    | field(raw, 11, 8) << 1;
                i.imm = sext(v, 13);
            }
            F::I | F::Load | F::FLoad | F::Jalr => {
                i.rd = rd;
                i.rs1 = rs1;
                i.imm = i_imm;
            }
            F::Store | F::FStore => {
                i.rs1 = rs1;
                i.rs2 = rs2;
                i.imm = sext(field(raw, 31, 25) << 5 | field(raw, 11, 7), 12);
            }
            F::Shift64 => {
                i.rd = rd;
                i.rs1 = rs1;
                i.imm = field(raw, 25, 20) as i64;
            }
            F::Shift32 => {
                i.rd = rd;
                i.rs1 = rs1;
                i.imm = field(raw, 24, 20) as i64;
            }
            F::R | F::FR3 | F::FCmp | F::Amo => {
                i.rd = rd;
                i.rs1 = rs1;
                i.rs2 = rs2;
                i.aq = self == F::Amo && field(raw, 26, 26) != 0;
                i.rl = self == F::Amo && field(raw, 25, 25) != 0;
            }
            F::Lr => {
                i.rd = rd;
                i.rs1 = rs1;
                i.aq = field(raw, 26, 26) != 0;
                i.rl = field(raw, 25, 25) != 0;
            }
            F::Fence => {
                i.imm = field(raw, 31, 20) as i64;
            }
            F::None => {
                // FENCE.TSO keeps its fm/pred/succ like any FENCE.
                if op == Op::Fence {
                    i.imm = field(raw, 31, 20) as i64;
                }
            }
            F::SfenceVma => {
                i.rs1 = rs1;
                i.rs2 = rs2;
            }
            F::CsrReg => {
                i.rd = rd;
                i.rs1 = rs1;
                i.csr = field(raw, 31, 20) as u16;
            }
            F::CsrImm => {
                i.rd = rd;
                i.imm = field(raw, 19, 15) as i64;
                i.csr = field(raw, 31, 20) as u16;
            }
            F::R4 => {
                i.rd = rd;
                i.rs1 = rs1;
                i.rs2 = rs2;
                i.rs3 = reg(raw, 27);
                i.rm = rm;
            }
            F::FR3Rm => {
                i.rd = rd;
                i.rs1 = rs1;
                i.rs2 = rs2;
                i.rm = rm;
            }
            F::FR2Rm | F::FR2Exact | F::FToXRm | F::XToFRm | F::XToFExact => {
                i.rd = rd;
                i.rs1 = rs1;
                i.rm = rm;
            }
            F::FToX | F::XToF => {
                i.rd = rd;
                i.rs1 = rs1;
            }
            // ---- compressed (chapter 16, tables 16.5-16.7) ----
            F::CAddi4spn => {
                let v = field(raw, 12, 11) << 4
                    | field(raw, 10, 7) << 6
                    | field(raw, 6, 6) << 2
                    | field(raw, 5, 5) << 3;
                if v == 0 {
                    return None;
                }
                i.rd = creg(field(raw, 4, 2));
                i.rs1 = 2;
                i.imm = v as i64;
            }
            F::CLw | F::CLd | F::CFld => {
                i.rd = creg(field(raw, 4, 2));
                i.rs1 = creg(field(raw, 9, 7));
                i.imm = if self == F::CLw {
                    cl_w_imm(raw)
                } else {
                    cl_d_imm(raw)
                };
            }
            F::CSw | F::CSd | F::CFsd => {
                i.rs2 = creg(field(raw, 4, 2));
                i.rs1 = creg(field(raw, 9, 7));
                i.imm = if self == F::CSw {
                    cl_w_imm(raw)
                } else {
                    cl_d_imm(raw)
                };
            }
            F::CNop => {}
            F::CAddi | F::CAddiw => {
                if self == F::CAddiw && rd == 0 {
                    return None;
                }
                i.rd = rd;
                i.rs1 = rd;
                i.imm = ci_imm(raw);
            }
            F::CLi => {
                i.rd = rd;
                i.imm = ci_imm(raw);
            }
            F::CAddi16sp => {
                let v = field(raw, 12, 12) << 9
                    | field(raw, 6, 6) << 4
                    | field(raw, 5, 5) << 6
                    | field(raw, 4, 3) << 7
                    | field(raw, 2, 2) << 5;
                if v == 0 {
                    return None;
                }
                i.rd = 2;
                i.rs1 = 2;
                i.imm = sext(v, 10);
            }
            F::CLui => {
                let v = field(raw, 12, 12) << 17 | field(raw, 6, 2) << 12;
                if v == 0 {
                    return None;
                }
                i.rd = rd;
                i.imm = sext(v, 18);
            }
            F::CShiftR | F::CAndi => {
                let r = creg(field(raw, 9, 7));
                i.rd = r;
                i.rs1 = r;
                i.imm = if self == F::CAndi {
                    ci_imm(raw)
                } else {
                    ci_shamt(raw)
                };
            }
            F::CA => {
                let r = creg(field(raw, 9, 7));
                i.rd = r;
                i.rs1 = r;
                i.rs2 = creg(field(raw, 4, 2));
            }
            F::CJ => {
                let v = field(raw, 12, 12) << 11
                    | field(raw, 11, 11) << 4
                    | field(raw, 10, 9) << 8
                    | field(raw, 8, 8) << 10
                    | field(raw, 7, 7) << 6
                    | field(raw, 6, 6) << 7
                    | field(raw, 5, 3) << 1
                    | field(raw, 2, 2) << 5;
                i.imm = sext(v, 12);
            }
            F::CB => {
                i.rs1 = creg(field(raw, 9, 7));
                let v = field(raw, 12, 12) << 8
                    | field(raw, 11, 10) << 3
                    | field(raw, 6, 5) << 6
                    | field(raw, 4, 3) << 1
                    | field(raw, 2, 2) << 5;
                i.imm = sext(v, 9);
            }
            F::CSlli => {
                i.rd = rd;
                i.rs1 = rd;
                i.imm = ci_shamt(raw);
            }
            F::CLwsp => {
                if rd == 0 {
                    return None;
                }
                i.rd = rd;
                i.rs1 = 2;
                i.imm = (field(raw, 12, 12) << 5 | field(raw, 6, 4) << 2 | field(raw, 3, 2) << 6)
                    as i64;
            }
            F::CLdsp | F::CFldsp => {
                if self == F::CLdsp && rd == 0 {
                    return None;
                }
                i.rd = rd;
                i.rs1 = 2;
                i.imm = (field(raw, 12, 12) << 5 | field(raw, 6, 5) << 3 | field(raw, 4, 2) << 6)
                    as i64;
            }
            F::CJr | F::CJalr => {
                if rd == 0 {
                    return None;
                }
                i.rd = if self == F::CJalr { 1 } else { 0 };
                i.rs1 = rd;
            }
            F::CMv => {
                i.rd = rd;
                i.rs2 = reg(raw, 2);
            }
            F::CAdd => {
                i.rd = rd;
                i.rs1 = rd;
                i.rs2 = reg(raw, 2);
            }
            F::CSwsp => {
                i.rs1 = 2;
                i.rs2 = reg(raw, 2);
                i.imm = (field(raw, 12, 9) << 2 | field(raw, 8, 7) << 6) as i64;
            }
            F::CSdsp | F::CFsdsp => {
                i.rs1 = 2;
                i.rs2 = reg(raw, 2);
                i.imm = (field(raw, 12, 10) << 3 | field(raw, 9, 7) << 6) as i64;
            }
        }
        Some(i)
    }
}

// ---------------------------------------------------------------------------
// Lookup.

/// Buckets 0..32: 32-bit instructions by `bits[6:2]`; 32..56: compressed
/// instructions by `quadrant * 8 + funct3`.
const NBUCKETS: usize = 32 + 3 * 8;

struct Index {
    buckets: Vec<Vec<&'static Row>>,
    /// For [`base_row`]: the first 32-bit row of each op.
    base: Vec<Option<&'static Row>>,
}

#[inline(always)]
fn bucket_of(raw: u32) -> usize {
    if raw & 3 == 3 {
        field(raw, 6, 2) as usize
    } else {
        32 + (raw & 3) as usize * 8 + field(raw, 15, 13) as usize
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut buckets: Vec<Vec<&'static Row>> = vec![Vec::new(); NBUCKETS];
        let mut base: Vec<Option<&'static Row>> = vec![None; Op::COUNT];
        for r in all_rows() {
            buckets[bucket_of(r.bits)].push(r);
            if !r.is_compressed() && base[r.op as usize].is_none() {
                base[r.op as usize] = Some(r);
            }
        }
        for b in &mut buckets {
            // Most specific first; the sort is stable, so table order breaks
            // ties (and a test checks that ties never overlap).
            b.sort_by_key(|r| std::cmp::Reverse(r.mask.count_ones()));
        }
        Index { buckets, base }
    })
}

/// The rows that could match `raw` (same major opcode, or same compressed
/// quadrant and funct3), most specific first.
pub fn candidates(raw: u32) -> &'static [&'static Row] {
    let raw = if raw & 3 == 3 { raw } else { raw & 0xffff };
    if raw & 0x1f == 0x1f {
        // 48-bit and longer encodings (section 1.5): none are supported.
        return &[];
    }
    &index().buckets[bucket_of(raw)]
}

/// Decodes `bits` and also returns the [`Row`] that matched, or `None` if
/// the encoding is illegal or reserved.
pub fn lookup(bits: u32) -> Option<(&'static Row, Insn)> {
    let raw = if bits & 3 == 3 { bits } else { bits & 0xffff };
    let row = candidates(raw).iter().find(|r| r.matches(raw))?;
    let insn = row.format.extract(row.op, raw)?;
    Some((row, insn))
}

/// Decode the instruction whose first bytes are `bits` (little-endian; if
/// `bits & 3 != 3` only the low 16 bits are used and it is a compressed
/// instruction). Never panics; reserved/illegal encodings give
/// `op == Op::Illegal` (with len 2 or 4 as the low bits say).
///
/// See the module doc for how reserved encodings and HINTs are treated.
pub fn decode(bits: u32) -> Insn {
    match lookup(bits) {
        Some((_, insn)) => insn,
        None => Insn::illegal(bits),
    }
}

/// The canonical 32-bit row of `op` (for ops that only have compressed
/// rows, none do, but the result is still `Option`), `None` for
/// [`Op::Illegal`].
pub fn base_row(op: Op) -> Option<&'static Row> {
    index().base.get(op as usize).copied().flatten()
}

/// Mnemonic of the base (32-bit) instruction `op`; `"illegal"` for
/// [`Op::Illegal`].
pub fn base_mnemonic(op: Op) -> &'static str {
    base_row(op).map_or("illegal", |r| r.mnemonic)
}

// Defined here rather than in `insn`, next to the tables it reads, so that
// `insn` does not depend on `decode`.
impl Op {
    /// The mnemonic of the base (uncompressed) instruction, e.g. `"fcvt.w.s"`.
    pub fn mnemonic(self) -> &'static str {
        base_mnemonic(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disasm::disassemble;

    /// Assembled with `riscv64-linux-gnu-as -march=rv64gc_zifencei_zicsr`
    /// (GNU Binutils 2.40) and printed with `objdump -d -M no-aliases`; the
    /// objdump text is converted to this crate's conventions by a script:
    /// immediates in capstone style (decimal in -9..=9, else hex), branch and
    /// jump targets made relative to the instruction, `c.addi zero, 0` shown
    /// as `c.nop`.
    const GOLDEN: &[(u32, &str)] = &[
        (0x12345537, "lui a0, 0x12345"),
        (0xffffffb7, "lui t6, 0xfffff"),
        (0x80000097, "auipc ra, 0x80000"),
        (0x001000ef, "jal ra, 0x800"),
        (0xffdff06f, "jal zero, -4"),
        (0x010500e7, "jalr ra, 0x10(a0)"),
        (0xfff28067, "jalr zero, -1(t0)"),
        (0x00b50863, "beq a0, a1, 0x10"),
        (0x80941063, "bne s0, s1, -0x1000"),
        (0x7e62cfe3, "blt t0, t1, 0xffe"),
        (0xfed65fe3, "bge a2, a3, -2"),
        (0x00f76463, "bltu a4, a5, 8"),
        (0x01187063, "bgeu a6, a7, 0"),
        (0x80010503, "lb a0, -0x800(sp)"),
        (0x7ff41583, "lh a1, 0x7ff(s0)"),
        (0x0006a603, "lw a2, 0(a3)"),
        (0x00813083, "ld ra, 8(sp)"),
        (0x00134283, "lbu t0, 1(t1)"),
        (0xfffe5383, "lhu t2, -1(t3)"),
        (0x064f6e83, "lwu t4, 0x64(t5)"),
        (0x80a10023, "sb a0, -0x800(sp)"),
        (0x7eb41fa3, "sh a1, 0x7ff(s0)"),
        (0x00c6a023, "sw a2, 0(a3)"),
        (0xfe113c23, "sd ra, -8(sp)"),
        (0x00150513, "addi a0, a0, 1"),
        (0x00000013, "addi zero, zero, 0"),
        (0xfff62593, "slti a1, a2, -1"),
        (0x7ff63593, "sltiu a1, a2, 0x7ff"),
        (0x80074693, "xori a3, a4, -0x800"),
        (0x0ff9e913, "ori s2, s3, 0xff"),
        (0xf00afa13, "andi s4, s5, -0x100"),
        (0x03f59513, "slli a0, a1, 0x3f"),
        (0x0205d513, "srli a0, a1, 0x20"),
        (0x4015d513, "srai a0, a1, 1"),
        (0x00c58533, "add a0, a1, a2"),
        (0x418b8b33, "sub s6, s7, s8"),
        (0x01bd1cb3, "sll s9, s10, s11"),
        (0x01eeae33, "slt t3, t4, t5"),
        (0x00103fb3, "sltu t6, zero, ra"),
        (0x008241b3, "xor gp, tp, s0"),
        (0x00a55533, "srl a0, a0, a0"),
        (0x40b5d5b3, "sra a1, a1, a1"),
        (0x00c66633, "or a2, a2, a2"),
        (0x00d6f6b3, "and a3, a3, a3"),
        (0x0330000f, "fence rw, rw"),
        (0x0ff0000f, "fence iorw, iorw"),
        (0x0840000f, "fence i, o"),
        (0x8330000f, "fence.tso"),
        (0x0000100f, "fence.i"),
        (0x00000073, "ecall"),
        (0x00100073, "ebreak"),
        (0xfff5051b, "addiw a0, a0, -1"),
        (0x01f5151b, "slliw a0, a0, 0x1f"),
        (0x0005551b, "srliw a0, a0, 0"),
        (0x4055551b, "sraiw a0, a0, 5"),
        (0x00c5853b, "addw a0, a1, a2"),
        (0x40c5853b, "subw a0, a1, a2"),
        (0x00c5953b, "sllw a0, a1, a2"),
        (0x00c5d53b, "srlw a0, a1, a2"),
        (0x40c5d53b, "sraw a0, a1, a2"),
        (0x30059573, "csrrw a0, mstatus, a1"),
        (0xc0002573, "csrrs a0, cycle, zero"),
        (0x1002b073, "csrrc zero, sstatus, t0"),
        (0x305fd573, "csrrwi a0, mtvec, 0x1f"),
        (0x0010e573, "csrrsi a0, fflags, 1"),
        (0xfff07573, "csrrci a0, 0xfff, 0"),
        (0x02c58533, "mul a0, a1, a2"),
        (0x02c59533, "mulh a0, a1, a2"),
        (0x02c5a533, "mulhsu a0, a1, a2"),
        (0x02c5b533, "mulhu a0, a1, a2"),
        (0x02c5c533, "div a0, a1, a2"),
        (0x02c5d533, "divu a0, a1, a2"),
        (0x02c5e533, "rem a0, a1, a2"),
        (0x02c5f533, "remu a0, a1, a2"),
        (0x02c5853b, "mulw a0, a1, a2"),
        (0x02c5c53b, "divw a0, a1, a2"),
        (0x02c5d53b, "divuw a0, a1, a2"),
        (0x02c5e53b, "remw a0, a1, a2"),
        (0x02c5f53b, "remuw a0, a1, a2"),
        (0x1005a52f, "lr.w a0, (a1)"),
        (0x1405a52f, "lr.w.aq a0, (a1)"),
        (0x18c5a52f, "sc.w a0, a2, (a1)"),
        (0x1ac5a52f, "sc.w.rl a0, a2, (a1)"),
        (0x08c5a52f, "amoswap.w a0, a2, (a1)"),
        (0x06c5a52f, "amoadd.w.aqrl a0, a2, (a1)"),
        (0x20c5a52f, "amoxor.w a0, a2, (a1)"),
        (0x60c5a52f, "amoand.w a0, a2, (a1)"),
        (0x40c5a52f, "amoor.w a0, a2, (a1)"),
        (0x80c5a52f, "amomin.w a0, a2, (a1)"),
        (0xa0c5a52f, "amomax.w a0, a2, (a1)"),
        (0xc0c5a52f, "amominu.w a0, a2, (a1)"),
        (0xe0c5a52f, "amomaxu.w a0, a2, (a1)"),
        (0x1005b52f, "lr.d a0, (a1)"),
        (0x18c5b52f, "sc.d a0, a2, (a1)"),
        (0x0cc5b52f, "amoswap.d.aq a0, a2, (a1)"),
        (0x00c5b52f, "amoadd.d a0, a2, (a1)"),
        (0x20c5b52f, "amoxor.d a0, a2, (a1)"),
        (0x60c5b52f, "amoand.d a0, a2, (a1)"),
        (0x40c5b52f, "amoor.d a0, a2, (a1)"),
        (0x80c5b52f, "amomin.d a0, a2, (a1)"),
        (0xa0c5b52f, "amomax.d a0, a2, (a1)"),
        (0xc0c5b52f, "amominu.d a0, a2, (a1)"),
        (0xe2c5b52f, "amomaxu.d.rl a0, a2, (a1)"),
        (0x00452507, "flw fa0, 4(a0)"),
        (0xfe812e27, "fsw fs0, -4(sp)"),
        (0x68c5f543, "fmadd.s fa0, fa1, fa2, fa3"),
        (0x18208047, "fmsub.s ft0, ft1, ft2, ft3, rne"),
        (0x9924944b, "fnmsub.s fs0, fs1, fs2, fs3, rtz"),
        (0xf9eeae4f, "fnmadd.s ft8, ft9, ft10, ft11, rdn"),
        (0x00c5f553, "fadd.s fa0, fa1, fa2"),
        (0x08c5b553, "fsub.s fa0, fa1, fa2, rup"),
        (0x10c5c553, "fmul.s fa0, fa1, fa2, rmm"),
        (0x18c5f553, "fdiv.s fa0, fa1, fa2"),
        (0x5805f553, "fsqrt.s fa0, fa1"),
        (0x20c58553, "fsgnj.s fa0, fa1, fa2"),
        (0x20c59553, "fsgnjn.s fa0, fa1, fa2"),
        (0x20c5a553, "fsgnjx.s fa0, fa1, fa2"),
        (0x28c58553, "fmin.s fa0, fa1, fa2"),
        (0x28c59553, "fmax.s fa0, fa1, fa2"),
        (0xc0051553, "fcvt.w.s a0, fa0, rtz"),
        (0xc0157553, "fcvt.wu.s a0, fa0"),
        (0xe0050553, "fmv.x.w a0, fa0"),
        (0xa0b52553, "feq.s a0, fa0, fa1"),
        (0xa0b51553, "flt.s a0, fa0, fa1"),
        (0xa0b50553, "fle.s a0, fa0, fa1"),
        (0xe0051553, "fclass.s a0, fa0"),
        (0xd0057553, "fcvt.s.w fa0, a0"),
        (0xd0157553, "fcvt.s.wu fa0, a0"),
        (0xf0050553, "fmv.w.x fa0, a0"),
        (0xc0257553, "fcvt.l.s a0, fa0"),
        (0xc0357553, "fcvt.lu.s a0, fa0"),
        (0xd0257553, "fcvt.s.l fa0, a0"),
        (0xd0357553, "fcvt.s.lu fa0, a0"),
        (0x00853507, "fld fa0, 8(a0)"),
        (0xffb13c27, "fsd fs11, -8(sp)"),
        (0x6ac5f543, "fmadd.d fa0, fa1, fa2, fa3"),
        (0x6ac5f547, "fmsub.d fa0, fa1, fa2, fa3"),
        (0x6ac5f54b, "fnmsub.d fa0, fa1, fa2, fa3"),
        (0x6ac5f54f, "fnmadd.d fa0, fa1, fa2, fa3"),
        (0x02c5f553, "fadd.d fa0, fa1, fa2"),
        (0x0ac5f553, "fsub.d fa0, fa1, fa2"),
        (0x12c5f553, "fmul.d fa0, fa1, fa2"),
        (0x1ac5f553, "fdiv.d fa0, fa1, fa2"),
        (0x5a05f553, "fsqrt.d fa0, fa1"),
        (0x22c58553, "fsgnj.d fa0, fa1, fa2"),
        (0x22c59553, "fsgnjn.d fa0, fa1, fa2"),
        (0x22c5a553, "fsgnjx.d fa0, fa1, fa2"),
        (0x2ac58553, "fmin.d fa0, fa1, fa2"),
        (0x2ac59553, "fmax.d fa0, fa1, fa2"),
        (0x4015f553, "fcvt.s.d fa0, fa1"),
        (0x42058553, "fcvt.d.s fa0, fa1"),
        (0xa2b52553, "feq.d a0, fa0, fa1"),
        (0xa2b51553, "flt.d a0, fa0, fa1"),
        (0xa2b50553, "fle.d a0, fa0, fa1"),
        (0xe2051553, "fclass.d a0, fa0"),
        (0xc2057553, "fcvt.w.d a0, fa0"),
        (0xc2157553, "fcvt.wu.d a0, fa0"),
        (0xd2050553, "fcvt.d.w fa0, a0"),
        (0xd2150553, "fcvt.d.wu fa0, a0"),
        (0xc2257553, "fcvt.l.d a0, fa0"),
        (0xc2351553, "fcvt.lu.d a0, fa0, rtz"),
        (0xe2050553, "fmv.x.d a0, fa0"),
        (0xd2257553, "fcvt.d.l fa0, a0"),
        (0xd2357553, "fcvt.d.lu fa0, a0"),
        (0xf2050553, "fmv.d.x fa0, a0"),
        (0x10200073, "sret"),
        (0x30200073, "mret"),
        (0x10500073, "wfi"),
        (0x12000073, "sfence.vma zero, zero"),
        (0x12b50073, "sfence.vma a0, a1"),
        (0x0048, "c.addi4spn a0, sp, 4"),
        (0x1fe4, "c.addi4spn s1, sp, 0x3fc"),
        (0x3fe8, "c.fld fa0, 0xf8(a5)"),
        (0x5de8, "c.lw a0, 0x7c(a1)"),
        (0x7fe0, "c.ld s0, 0xf8(a5)"),
        (0xa404, "c.fsd fs1, 8(s0)"),
        (0xc1a8, "c.sw a0, 0x40(a1)"),
        (0xe01c, "c.sd a5, 0(s0)"),
        (0x0001, "c.nop"),
        (0x1501, "c.addi a0, -0x20"),
        (0x0ffd, "c.addi t6, 0x1f"),
        (0x2505, "c.addiw a0, 1"),
        (0x3081, "c.addiw ra, -0x20"),
        (0x557d, "c.li a0, -1"),
        (0x4dfd, "c.li s11, 0x1f"),
        (0x617d, "c.addi16sp sp, 0x1f0"),
        (0x7101, "c.addi16sp sp, -0x200"),
        (0x6505, "c.lui a0, 1"),
        (0x7281, "c.lui t0, 0xfffe0"),
        (0x64fd, "c.lui s1, 0x1f"),
        (0x917d, "c.srli a0, 0x3f"),
        (0x8085, "c.srli s1, 1"),
        (0x9781, "c.srai a5, 0x20"),
        (0x9901, "c.andi a0, -0x20"),
        (0x887d, "c.andi s0, 0x1f"),
        (0x8d0d, "c.sub a0, a1"),
        (0x8c25, "c.xor s0, s1"),
        (0x8f5d, "c.or a4, a5"),
        (0x8e75, "c.and a2, a3"),
        (0x9d0d, "c.subw a0, a1"),
        (0x9d2d, "c.addw a0, a1"),
        (0xaffd, "c.j 0x7fe"),
        (0xb001, "c.j -0x800"),
        (0xcd7d, "c.beqz a0, 0xfe"),
        (0xd001, "c.beqz s0, -0x100"),
        (0xe781, "c.bnez a5, 8"),
        (0x157e, "c.slli a0, 0x3f"),
        (0x0f86, "c.slli t6, 1"),
        (0x357e, "c.fldsp fa0, 0x1f8(sp)"),
        (0x2002, "c.fldsp ft0, 0(sp)"),
        (0x557e, "c.lwsp a0, 0xfc(sp)"),
        (0x70fe, "c.ldsp ra, 0x1f8(sp)"),
        (0x6fa2, "c.ldsp t6, 8(sp)"),
        (0x8082, "c.jr ra"),
        (0x8f82, "c.jr t6"),
        (0x852e, "c.mv a0, a1"),
        (0x9002, "c.ebreak"),
        (0x9502, "c.jalr a0"),
        (0x952e, "c.add a0, a1"),
        (0xbfaa, "c.fsdsp fa0, 0x1f8(sp)"),
        (0xdfaa, "c.swsp a0, 0xfc(sp)"),
        (0xff86, "c.sdsp ra, 0x1f8(sp)"),
        (0xe07e, "c.sdsp t6, 0(sp)"),
    ];

    #[test]
    fn golden_objdump() {
        let mut bad = Vec::new();
        for &(w, text) in GOLDEN {
            let i = decode(w);
            assert_ne!(i.op, Op::Illegal, "{w:#010x} ({text}) decoded as illegal");
            assert_eq!(i.len, if w & 3 == 3 { 4 } else { 2 }, "{w:#x}");
            let got = disassemble(&i);
            if got != text {
                bad.push(format!("{w:#010x}: got {got:?}, want {text:?}"));
            }
        }
        assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
    }

    #[test]
    fn every_op_has_a_row() {
        for op in Op::ALL {
            assert_eq!(Op::ALL[op as usize], op);
            if op == Op::Illegal {
                assert!(all_rows().all(|r| r.op != Op::Illegal));
                continue;
            }
            assert!(all_rows().any(|r| r.op == op), "{op:?} has no row");
            assert!(base_row(op).is_some(), "{op:?} has no 32-bit row");
        }
    }

    #[test]
    fn every_op_decodes_from_the_golden_file() {
        let mut seen = [false; Op::COUNT];
        for &(w, _) in GOLDEN {
            seen[decode(w).op as usize] = true;
        }
        for op in Op::ALL {
            assert!(op == Op::Illegal || seen[op as usize], "{op:?} not covered");
        }
    }

    #[test]
    fn rows_are_well_formed_and_unambiguous() {
        for r in all_rows() {
            assert_eq!(r.bits & !r.mask, 0, "{}: bits outside mask", r.mnemonic);
            if r.is_compressed() {
                assert_eq!(r.mask & 0xe003, 0xe003, "{}", r.mnemonic);
                assert_eq!(r.mask >> 16, 0, "{}", r.mnemonic);
                assert!(r.mnemonic.starts_with("c."), "{}", r.mnemonic);
            } else {
                assert_eq!(r.mask & 0x7f, 0x7f, "{}: opcode not in mask", r.mnemonic);
                assert_ne!(r.bits & 0x1c, 0x1c, "{}: 48-bit+ opcode", r.mnemonic);
            }
        }
        let rows: Vec<&Row> = all_rows().collect();
        for (i, a) in rows.iter().enumerate() {
            for b in &rows[i + 1..] {
                let overlap = (a.bits ^ b.bits) & a.mask & b.mask == 0;
                if overlap {
                    // One must be strictly more specific (its mask a superset).
                    let (lo, hi) = if a.mask.count_ones() < b.mask.count_ones() {
                        (a, b)
                    } else {
                        (b, a)
                    };
                    assert!(
                        lo.mask.count_ones() != hi.mask.count_ones()
                            && hi.mask & lo.mask == lo.mask,
                        "ambiguous rows {} and {}",
                        a.mnemonic,
                        b.mnemonic
                    );
                }
            }
        }
    }

    fn d(w: u32) -> Insn {
        decode(w)
    }

    /// Checks op, rd, rs1, rs2 and imm of `w`.
    #[track_caller]
    fn check(w: u32, op: Op, rd: u8, rs1: u8, rs2: u8, imm: i64) {
        let i = d(w);
        assert_eq!(
            (i.op, i.rd, i.rs1, i.rs2, i.imm),
            (op, rd, rs1, rs2, imm),
            "{w:#x}: {}",
            disassemble(&i)
        );
        assert_eq!(i.len, if w & 3 == 3 { 4 } else { 2 });
        assert_eq!(i.raw, if w & 3 == 3 { w } else { w & 0xffff });
    }

    #[test]
    fn base_fields() {
        check(0x12345537, Op::Lui, 10, 0, 0, 0x12345000);
        check(0xffffffb7, Op::Lui, 31, 0, 0, -4096);
        check(0x80000097, Op::Auipc, 1, 0, 0, -0x8000_0000);
        check(0x001000ef, Op::Jal, 1, 0, 0, 2048);
        check(0xffdff06f, Op::Jal, 0, 0, 0, -4);
        check(0x010500e7, Op::Jalr, 1, 10, 0, 16);
        check(0x80941063, Op::Bne, 0, 8, 9, -4096);
        check(0x7e62cfe3, Op::Blt, 0, 5, 6, 4094);
        check(0xfed65fe3, Op::Bge, 0, 12, 13, -2);
        check(0x80010503, Op::Lb, 10, 2, 0, -2048);
        check(0xfe113c23, Op::Sd, 0, 2, 1, -8);
        check(0x7eb41fa3, Op::Sh, 0, 8, 11, 2047);
        check(0x03f59513, Op::Slli, 10, 11, 0, 63);
        check(0x4015d513, Op::Srai, 10, 11, 0, 1);
        check(0x01f5151b, Op::Slliw, 10, 10, 0, 31);
        check(0x418b8b33, Op::Sub, 22, 23, 24, 0);
        check(0x02c5f53b, Op::Remuw, 10, 11, 12, 0);
    }

    #[test]
    fn system_fence_csr_amo_fp_fields() {
        // FENCE: imm = fm << 8 | pred << 4 | succ.
        assert_eq!((d(0x0330000f).op, d(0x0330000f).imm), (Op::Fence, 0x33));
        assert_eq!((d(0x0840000f).op, d(0x0840000f).imm), (Op::Fence, 0x84));
        assert_eq!((d(0x8330000f).op, d(0x8330000f).imm), (Op::Fence, 0x833));
        assert_eq!(d(0x0000100f).op, Op::FenceI);
        assert_eq!(d(0xfff5900f).op, Op::FenceI, "FENCE.I ignores imm/rs1/rd");
        // CSR: csr number and zimm.
        let i = d(0x305fd573); // csrrwi a0, mtvec, 31
        assert_eq!(
            (i.op, i.rd, i.csr, i.imm, i.rs1),
            (Op::Csrrwi, 10, 0x305, 31, 0)
        );
        let i = d(0x30059573); // csrrw a0, mstatus, a1
        assert_eq!((i.op, i.rd, i.csr, i.rs1), (Op::Csrrw, 10, 0x300, 11));
        // AMO ordering bits.
        let i = d(0x06c5a52f); // amoadd.w.aqrl a0, a2, (a1)
        assert_eq!(
            (i.op, i.rd, i.rs1, i.rs2, i.aq, i.rl),
            (Op::AmoaddW, 10, 11, 12, true, true)
        );
        let i = d(0x1405a52f); // lr.w.aq a0, (a1)
        assert_eq!((i.op, i.aq, i.rl), (Op::LrW, true, false));
        assert_eq!(d(0x1015a52f).op, Op::Illegal, "LR with rs2 != 0");
        // FP: rm and rs3.
        let i = d(0x9924944b); // fnmsub.s fs0, fs1, fs2, fs3, rtz
        assert_eq!(
            (i.op, i.rd, i.rs1, i.rs2, i.rs3, i.rm),
            (Op::FnmsubS, 8, 9, 18, 19, 1)
        );
        let i = d(0xc0051553); // fcvt.w.s a0, fa0, rtz
        assert_eq!((i.op, i.rd, i.rs1, i.rm), (Op::FcvtWS, 10, 10, 1));
        assert_eq!(d(0x00c5f553).rm, 7);
        // Privileged.
        assert_eq!(d(0x10200073).op, Op::Sret);
        assert_eq!(d(0x30200073).op, Op::Mret);
        assert_eq!(d(0x10500073).op, Op::Wfi);
        let i = d(0x12b50073);
        assert_eq!((i.op, i.rs1, i.rs2), (Op::SfenceVma, 10, 11));
    }

    #[test]
    fn compressed_expansions() {
        // (halfword, op, rd, rs1, rs2, imm); encodings from GNU as.
        check(0x0048, Op::Addi, 10, 2, 0, 4); // c.addi4spn a0, sp, 4
        check(0x1fe4, Op::Addi, 9, 2, 0, 1020); // c.addi4spn s1, sp, 1020
        check(0x3fe8, Op::Fld, 10, 15, 0, 248); // c.fld fa0, 248(a5)
        check(0x5de8, Op::Lw, 10, 11, 0, 124); // c.lw a0, 124(a1)
        check(0x7fe0, Op::Ld, 8, 15, 0, 248); // c.ld s0, 248(a5)
        check(0xa404, Op::Fsd, 0, 8, 9, 8); // c.fsd fs1, 8(s0)
        check(0xc1a8, Op::Sw, 0, 11, 10, 64); // c.sw a0, 64(a1)
        check(0xe01c, Op::Sd, 0, 8, 15, 0); // c.sd a5, 0(s0)
        check(0x0001, Op::Addi, 0, 0, 0, 0); // c.nop
        check(0x1501, Op::Addi, 10, 10, 0, -32); // c.addi a0, -32
        check(0x0ffd, Op::Addi, 31, 31, 0, 31); // c.addi t6, 31
        check(0x2505, Op::Addiw, 10, 10, 0, 1); // c.addiw a0, 1
        check(0x3081, Op::Addiw, 1, 1, 0, -32); // c.addiw ra, -32
        check(0x557d, Op::Addi, 10, 0, 0, -1); // c.li a0, -1
        check(0x4dfd, Op::Addi, 27, 0, 0, 31); // c.li s11, 31
        check(0x617d, Op::Addi, 2, 2, 0, 496); // c.addi16sp sp, 496
        check(0x7101, Op::Addi, 2, 2, 0, -512); // c.addi16sp sp, -512
        check(0x6505, Op::Lui, 10, 0, 0, 0x1000); // c.lui a0, 1
        check(0x7281, Op::Lui, 5, 0, 0, -0x20000); // c.lui t0, 0xfffe0
        check(0x64fd, Op::Lui, 9, 0, 0, 0x1f000); // c.lui s1, 0x1f
        check(0x917d, Op::Srli, 10, 10, 0, 63); // c.srli a0, 63
        check(0x9781, Op::Srai, 15, 15, 0, 32); // c.srai a5, 32
        check(0x9901, Op::Andi, 10, 10, 0, -32); // c.andi a0, -32
        check(0x887d, Op::Andi, 8, 8, 0, 31); // c.andi s0, 31
        check(0x8d0d, Op::Sub, 10, 10, 11, 0); // c.sub a0, a1
        check(0x8c25, Op::Xor, 8, 8, 9, 0); // c.xor s0, s1
        check(0x8f5d, Op::Or, 14, 14, 15, 0); // c.or a4, a5
        check(0x8e75, Op::And, 12, 12, 13, 0); // c.and a2, a3
        check(0x9d0d, Op::Subw, 10, 10, 11, 0); // c.subw a0, a1
        check(0x9d2d, Op::Addw, 10, 10, 11, 0); // c.addw a0, a1
        check(0xaffd, Op::Jal, 0, 0, 0, 2046); // c.j .+2046
        check(0xb001, Op::Jal, 0, 0, 0, -2048); // c.j .-2048
        check(0xcd7d, Op::Beq, 0, 10, 0, 254); // c.beqz a0, .+254
        check(0xd001, Op::Beq, 0, 8, 0, -256); // c.beqz s0, .-256
        check(0xe781, Op::Bne, 0, 15, 0, 8); // c.bnez a5, .+8
        check(0x157e, Op::Slli, 10, 10, 0, 63); // c.slli a0, 63
        check(0x357e, Op::Fld, 10, 2, 0, 504); // c.fldsp fa0, 504(sp)
        check(0x2002, Op::Fld, 0, 2, 0, 0); // c.fldsp ft0, 0(sp)
        check(0x557e, Op::Lw, 10, 2, 0, 252); // c.lwsp a0, 252(sp)
        check(0x70fe, Op::Ld, 1, 2, 0, 504); // c.ldsp ra, 504(sp)
        check(0x6fa2, Op::Ld, 31, 2, 0, 8); // c.ldsp t6, 8(sp)
        check(0x8082, Op::Jalr, 0, 1, 0, 0); // c.jr ra
        check(0x852e, Op::Add, 10, 0, 11, 0); // c.mv a0, a1
        check(0x9002, Op::Ebreak, 0, 0, 0, 0); // c.ebreak
        check(0x9502, Op::Jalr, 1, 10, 0, 0); // c.jalr a0
        check(0x952e, Op::Add, 10, 10, 11, 0); // c.add a0, a1
        check(0xbfaa, Op::Fsd, 0, 2, 10, 504); // c.fsdsp fa0, 504(sp)
        check(0xdfaa, Op::Sw, 0, 2, 10, 252); // c.swsp a0, 252(sp)
        check(0xff86, Op::Sd, 0, 2, 1, 504); // c.sdsp ra, 504(sp)
        check(0xe07e, Op::Sd, 0, 2, 31, 0); // c.sdsp t6, 0(sp)
                                            // The upper 16 bits are ignored for compressed instructions.
        check(0xdead_0001, Op::Addi, 0, 0, 0, 0);
    }

    #[test]
    fn hints_decode_as_base_instructions() {
        check(0x0005, Op::Addi, 0, 0, 0, 1); // c.addi x0, 1 (C.NOP HINT)
        check(0x0501, Op::Addi, 10, 10, 0, 0); // c.addi a0, 0
        check(0x4005, Op::Addi, 0, 0, 0, 1); // c.li x0, 1
        check(0x6005, Op::Lui, 0, 0, 0, 0x1000); // c.lui x0, 1
        check(0x8002 | 11 << 2, Op::Add, 0, 0, 11, 0); // c.mv x0, a1
        check(0x9002 | 11 << 2, Op::Add, 0, 0, 11, 0); // c.add x0, a1
        check(0x0502, Op::Slli, 10, 10, 0, 0); // c.slli a0, 0
        check(0x8101, Op::Srli, 10, 10, 0, 0); // c.srli a0, 0
    }

    #[test]
    fn reserved_and_illegal_encodings() {
        let illegal16 = [
            (0x0000, "all-zero halfword"),
            (0x0008, "c.addi4spn nzuimm=0"),
            (0x001c, "c.addi4spn nzuimm=0, rd'=a5"),
            (0x6101, "c.addi16sp imm=0"),
            (0x6501, "c.lui nzimm=0"),
            (0x6001, "c.lui x0, 0"),
            (0x2001, "c.addiw x0 (RV32 C.JAL pattern)"),
            (0x2005, "c.addiw x0, 1"),
            (0x4002, "c.lwsp x0"),
            (0x407e, "c.lwsp x0, 252"),
            (0x6002, "c.ldsp x0"),
            (0x8002, "c.jr x0"),
            (0x8000, "quadrant 0 funct3 100"),
            (0x9c41, "reserved CA funct2 10 with bit 12"),
            (0x9c61, "reserved CA funct2 11 with bit 12"),
        ];
        for (w, why) in illegal16 {
            let i = d(w);
            assert_eq!((i.op, i.len), (Op::Illegal, 2), "{w:#06x}: {why}");
        }
        let illegal32 = [
            (0x0200151b, "slliw shamt[5]=1"),
            (0x0200551b, "srliw shamt[5]=1"),
            (0x4200551b, "sraiw shamt[5]=1"),
            (0x04c58533, "OP funct7=2"),
            (0x00c5c5b3 | 0x20 << 25, "OP xor with funct7=0x20"),
            (0x04c5f553, "fadd.h (fmt=H)"),
            (0x06c5f553, "fadd.q (fmt=Q)"),
            (0x6cc5f543, "fmadd.h (fmt=H)"),
            (0x4035f553, "fcvt.s.q"),
            (0x000000f3, "ecall with rd != 0"),
            (0xe0051053 | 2 << 12, "fmv.x.w with rm=2"),
            (0x00007003, "load funct3=7"),
            (0x00003023 | 4 << 12, "store funct3=4"),
            (0x00001067, "jalr funct3=1"),
            (0x00002063, "branch funct3=2"),
            (0x00004073, "SYSTEM funct3=4"),
            (0x0000001f, "48-bit encoding"),
            (0x0000003f, "64-bit encoding"),
            (0x0000007f, "80-bit+ encoding"),
            (0xffffffff, "all ones"),
            (
                0x00000003,
                "lb zero, 0(zero)? no: all-zero major opcode LOAD is legal",
            ),
        ];
        for (w, why) in illegal32 {
            let i = d(w);
            if w == 0x00000003 {
                assert_eq!(i.op, Op::Lb, "{why}");
                continue;
            }
            assert_eq!((i.op, i.len), (Op::Illegal, 4), "{w:#010x}: {why}");
            assert_eq!(i.raw, w);
        }
        // Reserved rounding modes are decoded; the executor checks them.
        let i = d(0x00c5d553); // fadd.s with rm=5
        assert_eq!((i.op, i.rm), (Op::FaddS, 5));
        assert_eq!(disassemble(&i), "fadd.s fa0, fa1, fa2, 5");
    }

    #[test]
    fn disassembly_of_special_cases() {
        assert_eq!(crate::disasm::disassemble_bits(0x0000), ".2byte 0x0000");
        assert_eq!(
            crate::disasm::disassemble_bits(0xffffffff),
            ".4byte 0xffffffff"
        );
        assert_eq!(crate::disasm::disassemble_bits(0x0000000f), "fence 0, 0");
        assert_eq!(crate::disasm::disassemble_bits(0x0005), "c.addi zero, 1");
        assert_eq!(
            crate::disasm::disassemble_bits(0xfff07573),
            "csrrci a0, 0xfff, 0"
        );
        assert_eq!(
            crate::disasm::disassemble_bits(0x42058553 | 1 << 12),
            "fcvt.d.s fa0, fa1, rtz"
        );
        // An instruction built by hand (raw does not match) prints from its fields.
        let mut i = d(0x00150513);
        i.raw = 0;
        i.imm = -5;
        assert_eq!(disassemble(&i), "addi a0, a0, -5");
        assert_eq!(Op::FcvtWuS.mnemonic(), "fcvt.wu.s");
        assert_eq!(Op::Addi.mnemonic(), "addi");
        assert_eq!(Op::Illegal.mnemonic(), "illegal");
    }

    #[test]
    fn never_panics_all_halfwords() {
        for w in 0..=0xffffu32 {
            let i = decode(w);
            assert_eq!(i.len, if w & 3 == 3 { 4 } else { 2 });
            assert!(i.rd < 32 && i.rs1 < 32 && i.rs2 < 32 && i.rs3 < 32);
            let _ = disassemble(&i);
        }
    }

    #[test]
    fn never_panics_random_words() {
        // xorshift64*, fixed seed.
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in 0..3_000_000u32 {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let w = (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32;
            let i = decode(w);
            assert!(i.len == 2 || i.len == 4);
            assert_eq!(i.len == 4, w & 3 == 3);
            if n % 16 == 0 {
                let _ = disassemble(&i);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn decode_is_total(w in proptest::prelude::any::<u32>()) {
            let i = decode(w);
            proptest::prop_assert!(i.len == 2 || i.len == 4);
            proptest::prop_assert!(i.rd < 32 && i.rs1 < 32 && i.rs2 < 32 && i.rs3 < 32);
            proptest::prop_assert!(!disassemble(&i).is_empty());
        }
    }
}
