//! Operand layouts: [`Format`] says how a row's operands are laid out in the
//! instruction bits (and how the disassembler prints them), and
//! [`Format::extract`] pulls them out into an [`Insn`].
//!
//! The 32-bit formats follow the RISC-V Unprivileged ISA, section 2.3
//! "Immediate Encoding Variants" (figure 2.4); the compressed ones follow
//! chapter 16, tables 16.5-16.7. Reserved compressed encodings are rejected
//! here (see the [`decode`](super) module doc).

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
    /// Integer to FP, always exact (FCVT.D.W(U)): `frd, rs1` (rm printed only if non-zero).
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

// ---------------------------------------------------------------------------
// Bit-field helpers.

/// `raw[hi:lo]`, right-aligned.
#[inline(always)]
pub(super) const fn field(raw: u32, hi: u32, lo: u32) -> u32 {
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

use Format as F;

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
