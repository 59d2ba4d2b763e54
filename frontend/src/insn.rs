//! The decoded form of one RV64GC instruction.
//!
//! [`Op`] has one variant per *base* instruction of RV64I, M, A, F, D,
//! Zicsr and Zifencei, plus the privileged instructions the emulator
//! executes and [`Op::Illegal`]. Compressed ("C") instructions have no
//! variants of their own: every one of them is defined by the RISC-V
//! Unprivileged ISA (chapter "C" Standard Extension, section "RVC
//! Instruction Set Listings") as an expansion to a base instruction, and the
//! decoder reports that expansion, with [`Insn::len`] `== 2`. A translator
//! therefore only has to handle the base instructions; the disassembler
//! still prints the `c.` form (it looks the row up again from
//! [`Insn::raw`]).
//!
//! # Operand conventions
//!
//! * Register fields hold architectural numbers 0..=31, integer (`x`) or
//!   floating point (`f`) as the op says. The 3-bit `rd'`/`rs1'`/`rs2'`
//!   fields of compressed instructions are already mapped to x8..x15 / f8..f15.
//!   Fields an op does not use are 0.
//! * [`Insn::imm`] is the immediate already sign-extended and scaled; see its
//!   doc for the per-format meaning.

/// One variant per base instruction of RV64I, M, A, F, D, Zicsr, Zifencei,
/// plus the privileged instructions ([`Op::Sret`], [`Op::Mret`], [`Op::Wfi`],
/// [`Op::SfenceVma`]) and [`Op::Illegal`].
///
/// Compressed instructions decode to the base-ISA op they expand to
/// (C.ADDI -> `Addi`, C.LDSP -> `Ld`, C.J -> `Jal` with `rd = 0`, C.JR ->
/// `Jalr` with `rd = 0, imm = 0`, C.EBREAK -> `Ebreak`, C.NOP -> `Addi x0, x0, 0`).
///
/// Formulas use `X[r]` for integer registers (XLEN = 64), `F[r]` for float
/// registers, `sext`/`zext` for extension, and `M[a]` for guest memory.
///
/// The mnemonic of each op, [`Op::mnemonic`], comes from the decode tables
/// (the method is implemented next to them, so that this module depends on
/// nothing else in the crate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    // ---- RV32I / RV64I (Unprivileged ISA, chapters 2 and 4) ----
    /// `X[rd] = imm` (imm is already `sext(imm20 << 12)`).
    Lui,
    /// `X[rd] = pc + imm`.
    Auipc,
    /// `X[rd] = pc + len; pc += imm`.
    Jal,
    /// `t = (X[rs1] + imm) & !1; X[rd] = pc + len; pc = t`.
    Jalr,
    /// Branch to `pc + imm` if `X[rs1] == X[rs2]`.
    Beq,
    /// Branch to `pc + imm` if `X[rs1] != X[rs2]`.
    Bne,
    /// Branch to `pc + imm` if `X[rs1] < X[rs2]` (signed).
    Blt,
    /// Branch to `pc + imm` if `X[rs1] >= X[rs2]` (signed).
    Bge,
    /// Branch to `pc + imm` if `X[rs1] < X[rs2]` (unsigned).
    Bltu,
    /// Branch to `pc + imm` if `X[rs1] >= X[rs2]` (unsigned).
    Bgeu,
    /// `X[rd] = sext(M8[X[rs1] + imm])`.
    Lb,
    /// `X[rd] = sext(M16[X[rs1] + imm])`.
    Lh,
    /// `X[rd] = sext(M32[X[rs1] + imm])`.
    Lw,
    /// `X[rd] = M64[X[rs1] + imm]`.
    Ld,
    /// `X[rd] = zext(M8[X[rs1] + imm])`.
    Lbu,
    /// `X[rd] = zext(M16[X[rs1] + imm])`.
    Lhu,
    /// `X[rd] = zext(M32[X[rs1] + imm])`.
    Lwu,
    /// `M8[X[rs1] + imm] = X[rs2]`.
    Sb,
    /// `M16[X[rs1] + imm] = X[rs2]`.
    Sh,
    /// `M32[X[rs1] + imm] = X[rs2]`.
    Sw,
    /// `M64[X[rs1] + imm] = X[rs2]`.
    Sd,
    /// `X[rd] = X[rs1] + imm` (wrapping).
    Addi,
    /// `X[rd] = (X[rs1] <s imm) as u64`.
    Slti,
    /// `X[rd] = (X[rs1] <u imm as u64) as u64`.
    Sltiu,
    /// `X[rd] = X[rs1] ^ imm`.
    Xori,
    /// `X[rd] = X[rs1] | imm`.
    Ori,
    /// `X[rd] = X[rs1] & imm`.
    Andi,
    /// `X[rd] = X[rs1] << imm` (imm = shamt, 0..=63).
    Slli,
    /// `X[rd] = X[rs1] >>u imm` (imm = shamt, 0..=63).
    Srli,
    /// `X[rd] = X[rs1] >>s imm` (imm = shamt, 0..=63).
    Srai,
    /// `X[rd] = X[rs1] + X[rs2]` (wrapping).
    Add,
    /// `X[rd] = X[rs1] - X[rs2]` (wrapping).
    Sub,
    /// `X[rd] = X[rs1] << (X[rs2] & 63)`.
    Sll,
    /// `X[rd] = (X[rs1] <s X[rs2]) as u64`.
    Slt,
    /// `X[rd] = (X[rs1] <u X[rs2]) as u64`.
    Sltu,
    /// `X[rd] = X[rs1] ^ X[rs2]`.
    Xor,
    /// `X[rd] = X[rs1] >>u (X[rs2] & 63)`.
    Srl,
    /// `X[rd] = X[rs1] >>s (X[rs2] & 63)`.
    Sra,
    /// `X[rd] = X[rs1] | X[rs2]`.
    Or,
    /// `X[rd] = X[rs1] & X[rs2]`.
    And,
    /// Memory fence; `imm` = `fm << 8 | pred << 4 | succ`.
    Fence,
    /// Instruction-fetch fence (Zifencei): translated code must be flushed.
    FenceI,
    /// Environment call (trap to the execution environment).
    Ecall,
    /// Breakpoint trap.
    Ebreak,
    /// `X[rd] = sext32(X[rs1] + imm)`.
    Addiw,
    /// `X[rd] = sext32(X[rs1] << imm)` (imm = shamt, 0..=31).
    Slliw,
    /// `X[rd] = sext32(X[rs1][31:0] >>u imm)` (imm = shamt, 0..=31).
    Srliw,
    /// `X[rd] = sext32(X[rs1][31:0] >>s imm)` (imm = shamt, 0..=31).
    Sraiw,
    /// `X[rd] = sext32(X[rs1] + X[rs2])`.
    Addw,
    /// `X[rd] = sext32(X[rs1] - X[rs2])`.
    Subw,
    /// `X[rd] = sext32(X[rs1] << (X[rs2] & 31))`.
    Sllw,
    /// `X[rd] = sext32(X[rs1][31:0] >>u (X[rs2] & 31))`.
    Srlw,
    /// `X[rd] = sext32(X[rs1][31:0] >>s (X[rs2] & 31))`.
    Sraw,
    // ---- Zicsr (chapter "Zicsr") ----
    /// `t = CSR[csr]; CSR[csr] = X[rs1]; X[rd] = t` (no read if rd = 0).
    Csrrw,
    /// `t = CSR[csr]; CSR[csr] = t | X[rs1]; X[rd] = t` (no write if rs1 = 0).
    Csrrs,
    /// `t = CSR[csr]; CSR[csr] = t & !X[rs1]; X[rd] = t` (no write if rs1 = 0).
    Csrrc,
    /// `t = CSR[csr]; CSR[csr] = imm; X[rd] = t` (imm = zimm, 0..=31).
    Csrrwi,
    /// `t = CSR[csr]; CSR[csr] = t | imm; X[rd] = t` (no write if imm = 0).
    Csrrsi,
    /// `t = CSR[csr]; CSR[csr] = t & !imm; X[rd] = t` (no write if imm = 0).
    Csrrci,
    // ---- M (chapter "M" Standard Extension) ----
    /// `X[rd] = (X[rs1] * X[rs2])[63:0]`.
    Mul,
    /// `X[rd] = (sext128(X[rs1]) * sext128(X[rs2]))[127:64]`.
    Mulh,
    /// `X[rd] = (sext128(X[rs1]) * zext128(X[rs2]))[127:64]`.
    Mulhsu,
    /// `X[rd] = (zext128(X[rs1]) * zext128(X[rs2]))[127:64]`.
    Mulhu,
    /// Signed division; `/0 = -1`, `MIN / -1 = MIN`.
    Div,
    /// Unsigned division; `/0 = u64::MAX`.
    Divu,
    /// Signed remainder; `%0 = X[rs1]`, `MIN % -1 = 0`.
    Rem,
    /// Unsigned remainder; `%0 = X[rs1]`.
    Remu,
    /// `X[rd] = sext32(X[rs1] * X[rs2])`.
    Mulw,
    /// 32-bit signed division, result sign-extended; edge cases as [`Op::Div`].
    Divw,
    /// 32-bit unsigned division, result sign-extended; `/0 = -1`.
    Divuw,
    /// 32-bit signed remainder, sign-extended; edge cases as [`Op::Rem`].
    Remw,
    /// 32-bit unsigned remainder, sign-extended; `%0 = sext32(X[rs1])`.
    Remuw,
    // ---- A (chapter "A" Standard Extension) ----
    /// Load-reserved word: `X[rd] = sext(M32[X[rs1]])`, reserve the address.
    LrW,
    /// Store-conditional word: store `X[rs2]` if reserved; `X[rd] = 0` on success, 1 on failure.
    ScW,
    /// Atomic `M32[X[rs1]] = X[rs2]`; `X[rd] = sext(old)`.
    AmoswapW,
    /// Atomic `M32[X[rs1]] += X[rs2]`; `X[rd] = sext(old)`.
    AmoaddW,
    /// Atomic `M32[X[rs1]] ^= X[rs2]`; `X[rd] = sext(old)`.
    AmoxorW,
    /// Atomic `M32[X[rs1]] &= X[rs2]`; `X[rd] = sext(old)`.
    AmoandW,
    /// Atomic `M32[X[rs1]] |= X[rs2]`; `X[rd] = sext(old)`.
    AmoorW,
    /// Atomic signed min on a word; `X[rd] = sext(old)`.
    AmominW,
    /// Atomic signed max on a word; `X[rd] = sext(old)`.
    AmomaxW,
    /// Atomic unsigned min on a word; `X[rd] = sext(old)`.
    AmominuW,
    /// Atomic unsigned max on a word; `X[rd] = sext(old)`.
    AmomaxuW,
    /// Load-reserved doubleword.
    LrD,
    /// Store-conditional doubleword; `X[rd] = 0` on success, 1 on failure.
    ScD,
    /// Atomic swap on a doubleword; `X[rd] = old`.
    AmoswapD,
    /// Atomic add on a doubleword; `X[rd] = old`.
    AmoaddD,
    /// Atomic xor on a doubleword; `X[rd] = old`.
    AmoxorD,
    /// Atomic and on a doubleword; `X[rd] = old`.
    AmoandD,
    /// Atomic or on a doubleword; `X[rd] = old`.
    AmoorD,
    /// Atomic signed min on a doubleword; `X[rd] = old`.
    AmominD,
    /// Atomic signed max on a doubleword; `X[rd] = old`.
    AmomaxD,
    /// Atomic unsigned min on a doubleword; `X[rd] = old`.
    AmominuD,
    /// Atomic unsigned max on a doubleword; `X[rd] = old`.
    AmomaxuD,
    // ---- F (chapter "F" Standard Extension) ----
    /// `F[rd] = nanbox(M32[X[rs1] + imm])`.
    Flw,
    /// `M32[X[rs1] + imm] = F[rs2][31:0]`.
    Fsw,
    /// `F[rd] = F[rs1] * F[rs2] + F[rs3]` (single, fused, rounding `rm`).
    FmaddS,
    /// `F[rd] = F[rs1] * F[rs2] - F[rs3]` (single, fused).
    FmsubS,
    /// `F[rd] = -(F[rs1] * F[rs2]) + F[rs3]` (single, fused).
    FnmsubS,
    /// `F[rd] = -(F[rs1] * F[rs2]) - F[rs3]` (single, fused).
    FnmaddS,
    /// `F[rd] = F[rs1] + F[rs2]` (single).
    FaddS,
    /// `F[rd] = F[rs1] - F[rs2]` (single).
    FsubS,
    /// `F[rd] = F[rs1] * F[rs2]` (single).
    FmulS,
    /// `F[rd] = F[rs1] / F[rs2]` (single).
    FdivS,
    /// `F[rd] = sqrt(F[rs1])` (single).
    FsqrtS,
    /// `F[rd] = |F[rs1]|` with the sign of `F[rs2]` (single).
    FsgnjS,
    /// `F[rd] = |F[rs1]|` with the opposite sign of `F[rs2]` (single).
    FsgnjnS,
    /// `F[rd] = F[rs1]` with sign `sign(F[rs1]) ^ sign(F[rs2])` (single).
    FsgnjxS,
    /// IEEE 754-2019 minimumNumber (single).
    FminS,
    /// IEEE 754-2019 maximumNumber (single).
    FmaxS,
    /// `X[rd] = sext32(f32 -> i32)` (saturating, rounding `rm`).
    FcvtWS,
    /// `X[rd] = sext32(f32 -> u32)` (saturating).
    FcvtWuS,
    /// `X[rd] = sext(F[rs1][31:0])` (bit move).
    FmvXW,
    /// `X[rd] = (F[rs1] == F[rs2])` (single, quiet).
    FeqS,
    /// `X[rd] = (F[rs1] < F[rs2])` (single, signaling).
    FltS,
    /// `X[rd] = (F[rs1] <= F[rs2])` (single, signaling).
    FleS,
    /// `X[rd] = class mask of F[rs1]` (single).
    FclassS,
    /// `F[rd] = i32 -> f32`.
    FcvtSW,
    /// `F[rd] = u32 -> f32`.
    FcvtSWu,
    /// `F[rd] = nanbox(X[rs1][31:0])` (bit move).
    FmvWX,
    /// `X[rd] = f32 -> i64` (saturating).
    FcvtLS,
    /// `X[rd] = f32 -> u64` (saturating).
    FcvtLuS,
    /// `F[rd] = i64 -> f32`.
    FcvtSL,
    /// `F[rd] = u64 -> f32`.
    FcvtSLu,
    // ---- D (chapter "D" Standard Extension) ----
    /// `F[rd] = M64[X[rs1] + imm]`.
    Fld,
    /// `M64[X[rs1] + imm] = F[rs2]`.
    Fsd,
    /// `F[rd] = F[rs1] * F[rs2] + F[rs3]` (double, fused).
    FmaddD,
    /// `F[rd] = F[rs1] * F[rs2] - F[rs3]` (double, fused).
    FmsubD,
    /// `F[rd] = -(F[rs1] * F[rs2]) + F[rs3]` (double, fused).
    FnmsubD,
    /// `F[rd] = -(F[rs1] * F[rs2]) - F[rs3]` (double, fused).
    FnmaddD,
    /// `F[rd] = F[rs1] + F[rs2]` (double).
    FaddD,
    /// `F[rd] = F[rs1] - F[rs2]` (double).
    FsubD,
    /// `F[rd] = F[rs1] * F[rs2]` (double).
    FmulD,
    /// `F[rd] = F[rs1] / F[rs2]` (double).
    FdivD,
    /// `F[rd] = sqrt(F[rs1])` (double).
    FsqrtD,
    /// Sign injection (double).
    FsgnjD,
    /// Negated sign injection (double).
    FsgnjnD,
    /// Xor sign injection (double).
    FsgnjxD,
    /// IEEE 754-2019 minimumNumber (double).
    FminD,
    /// IEEE 754-2019 maximumNumber (double).
    FmaxD,
    /// `F[rd] = nanbox(f64 -> f32)`.
    FcvtSD,
    /// `F[rd] = f32 -> f64` (exact).
    FcvtDS,
    /// `X[rd] = (F[rs1] == F[rs2])` (double, quiet).
    FeqD,
    /// `X[rd] = (F[rs1] < F[rs2])` (double, signaling).
    FltD,
    /// `X[rd] = (F[rs1] <= F[rs2])` (double, signaling).
    FleD,
    /// `X[rd] = class mask of F[rs1]` (double).
    FclassD,
    /// `X[rd] = sext32(f64 -> i32)` (saturating).
    FcvtWD,
    /// `X[rd] = sext32(f64 -> u32)` (saturating).
    FcvtWuD,
    /// `F[rd] = i32 -> f64` (exact).
    FcvtDW,
    /// `F[rd] = u32 -> f64` (exact).
    FcvtDWu,
    /// `X[rd] = f64 -> i64` (saturating).
    FcvtLD,
    /// `X[rd] = f64 -> u64` (saturating).
    FcvtLuD,
    /// `X[rd] = F[rs1]` (bit move).
    FmvXD,
    /// `F[rd] = i64 -> f64`.
    FcvtDL,
    /// `F[rd] = u64 -> f64`.
    FcvtDLu,
    /// `F[rd] = X[rs1]` (bit move).
    FmvDX,
    // ---- Privileged (Privileged ISA, chapter "Supervisor-Level ISA" / "Machine-Level ISA") ----
    /// Return from a supervisor-mode trap.
    Sret,
    /// Return from a machine-mode trap.
    Mret,
    /// Wait for interrupt (may execute as a no-op).
    Wfi,
    /// Supervisor address-translation fence: `rs1` = vaddr (0: all), `rs2` = ASID (0: all).
    SfenceVma,
    /// A reserved or unknown encoding: raises an illegal-instruction exception
    /// with `tval` = [`Insn::raw`].
    Illegal,
}

impl Op {
    /// Number of variants, [`Op::Illegal`] included.
    pub const COUNT: usize = 161;

    /// Every variant, in declaration order (`Op::ALL[op as usize] == op`).
    pub const ALL: [Op; Op::COUNT] = [
        Op::Lui,
        Op::Auipc,
        Op::Jal,
        Op::Jalr,
        Op::Beq,
        Op::Bne,
        Op::Blt,
        Op::Bge,
        Op::Bltu,
        Op::Bgeu,
        Op::Lb,
        Op::Lh,
        Op::Lw,
        Op::Ld,
        Op::Lbu,
        Op::Lhu,
        Op::Lwu,
        Op::Sb,
        Op::Sh,
        Op::Sw,
        Op::Sd,
        Op::Addi,
        Op::Slti,
        Op::Sltiu,
        Op::Xori,
        Op::Ori,
        Op::Andi,
        Op::Slli,
        Op::Srli,
        Op::Srai,
        Op::Add,
        Op::Sub,
        Op::Sll,
        Op::Slt,
        Op::Sltu,
        Op::Xor,
        Op::Srl,
        Op::Sra,
        Op::Or,
        Op::And,
        Op::Fence,
        Op::FenceI,
        Op::Ecall,
        Op::Ebreak,
        Op::Addiw,
        Op::Slliw,
        Op::Srliw,
        Op::Sraiw,
        Op::Addw,
        Op::Subw,
        Op::Sllw,
        Op::Srlw,
        Op::Sraw,
        Op::Csrrw,
        Op::Csrrs,
        Op::Csrrc,
        Op::Csrrwi,
        Op::Csrrsi,
        Op::Csrrci,
        Op::Mul,
        Op::Mulh,
        Op::Mulhsu,
        Op::Mulhu,
        Op::Div,
        Op::Divu,
        Op::Rem,
        Op::Remu,
        Op::Mulw,
        Op::Divw,
        Op::Divuw,
        Op::Remw,
        Op::Remuw,
        Op::LrW,
        Op::ScW,
        Op::AmoswapW,
        Op::AmoaddW,
        Op::AmoxorW,
        Op::AmoandW,
        Op::AmoorW,
        Op::AmominW,
        Op::AmomaxW,
        Op::AmominuW,
        Op::AmomaxuW,
        Op::LrD,
        Op::ScD,
        Op::AmoswapD,
        Op::AmoaddD,
        Op::AmoxorD,
        Op::AmoandD,
        Op::AmoorD,
        Op::AmominD,
        Op::AmomaxD,
        Op::AmominuD,
        Op::AmomaxuD,
        Op::Flw,
        Op::Fsw,
        Op::FmaddS,
        Op::FmsubS,
        Op::FnmsubS,
        Op::FnmaddS,
        Op::FaddS,
        Op::FsubS,
        Op::FmulS,
        Op::FdivS,
        Op::FsqrtS,
        Op::FsgnjS,
        Op::FsgnjnS,
        Op::FsgnjxS,
        Op::FminS,
        Op::FmaxS,
        Op::FcvtWS,
        Op::FcvtWuS,
        Op::FmvXW,
        Op::FeqS,
        Op::FltS,
        Op::FleS,
        Op::FclassS,
        Op::FcvtSW,
        Op::FcvtSWu,
        Op::FmvWX,
        Op::FcvtLS,
        Op::FcvtLuS,
        Op::FcvtSL,
        Op::FcvtSLu,
        Op::Fld,
        Op::Fsd,
        Op::FmaddD,
        Op::FmsubD,
        Op::FnmsubD,
        Op::FnmaddD,
        Op::FaddD,
        Op::FsubD,
        Op::FmulD,
        Op::FdivD,
        Op::FsqrtD,
        Op::FsgnjD,
        Op::FsgnjnD,
        Op::FsgnjxD,
        Op::FminD,
        Op::FmaxD,
        Op::FcvtSD,
        Op::FcvtDS,
        Op::FeqD,
        Op::FltD,
        Op::FleD,
        Op::FclassD,
        Op::FcvtWD,
        Op::FcvtWuD,
        Op::FcvtDW,
        Op::FcvtDWu,
        Op::FcvtLD,
        Op::FcvtLuD,
        Op::FmvXD,
        Op::FcvtDL,
        Op::FcvtDLu,
        Op::FmvDX,
        Op::Sret,
        Op::Mret,
        Op::Wfi,
        Op::SfenceVma,
        Op::Illegal,
    ];
}

impl Op {
    /// Whether this is an F or D instruction (`flw` through `fmv.d.x` in
    /// declaration order, compressed float loads and stores included as
    /// they decode to those): the instructions that `mstatus.FS` = Off makes
    /// illegal (Privileged ISA 1.12, section 3.1.6.6).
    pub const fn is_float(self) -> bool {
        let n = self as u16;
        n >= Op::Flw as u16 && n <= Op::FmvDX as u16
    }
}

/// One decoded instruction. See the module doc for the operand conventions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// The (base-ISA) operation.
    pub op: Op,
    /// Destination register number, 0..=31 (`x` or `f` as `op` says).
    pub rd: u8,
    /// First source register number, 0..=31.
    pub rs1: u8,
    /// Second source register number, 0..=31.
    pub rs2: u8,
    /// Third source register (fused multiply-add only), 0..=31.
    pub rs3: u8,
    /// Sign-extended, scaled immediate:
    /// * loads/stores/ALU-immediate/JALR: the 12-bit offset sign-extended
    ///   (compressed forms: the zero-extended scaled offset);
    /// * branches and JAL: the byte offset relative to this insn's pc;
    /// * LUI/AUIPC: `sext64(imm20 << 12)`;
    /// * shifts: the shift amount;
    /// * CSRR*I: the 5-bit zimm, zero-extended;
    /// * FENCE: `fm << 8 | pred << 4 | succ` (bits 11:0 of the insn's imm field).
    pub imm: i64,
    /// CSR number (Zicsr ops only), 0..=0xfff.
    pub csr: u16,
    /// Rounding-mode field (bits 14:12) for F/D ops that have one; 7 = dynamic
    /// (use `frm`). Values 5 and 6 are reserved and decoded as is: they must
    /// raise illegal-instruction when executed.
    pub rm: u8,
    /// A-extension acquire bit.
    pub aq: bool,
    /// A-extension release bit.
    pub rl: bool,
    /// Length in bytes: 2 (compressed) or 4.
    pub len: u8,
    /// The instruction bits (only the low 16 bits when `len == 2`).
    pub raw: u32,
}

impl Insn {
    /// An illegal instruction of the given raw bits; `len` follows from the
    /// low two bits (RISC-V Unprivileged ISA, section "Base Instruction-Length
    /// Encoding").
    pub fn illegal(raw: u32) -> Insn {
        let len = if raw & 3 == 3 { 4 } else { 2 };
        let raw = if len == 2 { raw & 0xffff } else { raw };
        Insn {
            op: Op::Illegal,
            rd: 0,
            rs1: 0,
            rs2: 0,
            rs3: 0,
            imm: 0,
            csr: 0,
            rm: 0,
            aq: false,
            rl: false,
            len,
            raw,
        }
    }

    /// Whether this is a 16-bit compressed instruction.
    pub fn is_compressed(&self) -> bool {
        self.len == 2
    }
}
