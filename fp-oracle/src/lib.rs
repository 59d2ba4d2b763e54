//! A test-only reference model of the RISC-V F and D extensions, for
//! checking cranemu's floating point bit for bit.
//!
//! Arithmetic, square root, fused multiply-add, comparisons and conversions
//! come from Berkeley SoftFloat 3 built with its RISC-V specialization
//! (`softfloat-sys`, feature `riscv`): canonical-NaN results, RISC-V's
//! saturating integer-conversion values and tininess detected after
//! rounding. `fmin`/`fmax`, `fclass`, the sign injections and the moves,
//! which SoftFloat lacks, are written here from the Unprivileged ISA
//! (version 20191213 and later, chapters "F" and "D").
//!
//! Every value is a 64-bit register image: binary64 bits for D, a NaN-boxed
//! binary32 for S (an operand whose upper 32 bits are not all ones reads as
//! the canonical NaN, without raising a flag; results are boxed). Flags are
//! RISC-V `fflags` bits ([`NV`], [`DZ`], [`OF`], [`UF`], [`NX`]).
//!
//! [`vectors`] generates the operands the conformance tests feed to both
//! this model and the code under test.
//!
//! This crate is a dev-dependency only: nothing in cranemu links it.

#![deny(missing_docs)]

pub mod vectors;

use softfloat_sys as sf;
use std::fmt::Write as _;

/// `fflags` bit 4: invalid operation.
pub const NV: u32 = 0x10;
/// `fflags` bit 3: divide by zero.
pub const DZ: u32 = 0x08;
/// `fflags` bit 2: overflow.
pub const OF: u32 = 0x04;
/// `fflags` bit 1: underflow (tiny after rounding, and inexact).
pub const UF: u32 = 0x02;
/// `fflags` bit 0: inexact.
pub const NX: u32 = 0x01;

/// The canonical single-precision NaN (Unprivileged ISA, "NaN Generation
/// and Propagation").
pub const CANONICAL_NAN_S: u32 = 0x7fc0_0000;
/// The canonical double-precision NaN.
pub const CANONICAL_NAN_D: u64 = 0x7ff8_0000_0000_0000;

/// Operand width of a floating-point instruction (the `fmt` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// binary32 (`.s`), NaN-boxed in a 64-bit register.
    S,
    /// binary64 (`.d`).
    D,
}

impl Width {
    /// The `fmt` field of OP-FP and R4 encodings: 0 for S, 1 for D.
    pub fn fmt(self) -> u32 {
        match self {
            Width::S => 0,
            Width::D => 1,
        }
    }

    /// The instruction-name suffix, `"s"` or `"d"`.
    pub fn suffix(self) -> &'static str {
        match self {
            Width::S => "s",
            Width::D => "d",
        }
    }
}

/// A valid rounding mode, numbered as the `rm` field and `frm`
/// (Unprivileged ISA, table "Rounding mode encoding"); SoftFloat numbers
/// its modes the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rm {
    /// Round to nearest, ties to even (0).
    Rne = 0,
    /// Round toward zero (1).
    Rtz = 1,
    /// Round down, toward -inf (2).
    Rdn = 2,
    /// Round up, toward +inf (3).
    Rup = 3,
    /// Round to nearest, ties to max magnitude (4).
    Rmm = 4,
}

impl Rm {
    /// The five valid modes in encoding order.
    pub const ALL: [Rm; 5] = [Rm::Rne, Rm::Rtz, Rm::Rdn, Rm::Rup, Rm::Rmm];

    /// The 3-bit encoding.
    pub fn bits(self) -> u32 {
        self as u32
    }

    /// The assembler name (`rne`, `rtz`, ...).
    pub fn name(self) -> &'static str {
        ["rne", "rtz", "rdn", "rup", "rmm"][self as usize]
    }
}

/// The integer side of a conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntTy {
    /// Signed 32-bit (`w`).
    W,
    /// Unsigned 32-bit (`wu`).
    Wu,
    /// Signed 64-bit (`l`).
    L,
    /// Unsigned 64-bit (`lu`).
    Lu,
}

impl IntTy {
    /// All four, in the order of the `rs2` field of `fcvt` (0 to 3).
    pub const ALL: [IntTy; 4] = [IntTy::W, IntTy::Wu, IntTy::L, IntTy::Lu];

    /// The `rs2` field selecting this type in `fcvt.*.*` encodings.
    pub fn rs2(self) -> u32 {
        self as u32
    }

    /// The name in the mnemonic (`w`, `wu`, `l`, `lu`).
    pub fn name(self) -> &'static str {
        ["w", "wu", "l", "lu"][self as usize]
    }
}

/// A floating-point operation; together with a [`Width`] an [`Insn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `fadd`: a + b.
    Add,
    /// `fsub`: a - b.
    Sub,
    /// `fmul`: a * b.
    Mul,
    /// `fdiv`: a / b.
    Div,
    /// `fsqrt`: sqrt(a).
    Sqrt,
    /// `fmin`: minimumNumber (-0 < +0; NaN only if both are NaN).
    Min,
    /// `fmax`: maximumNumber.
    Max,
    /// `fmadd`: a*b + c, rounded once.
    Madd,
    /// `fmsub`: a*b - c.
    Msub,
    /// `fnmsub`: -(a*b) + c.
    Nmsub,
    /// `fnmadd`: -(a*b) - c.
    Nmadd,
    /// `feq`: quiet equality (NV only for a signalling NaN), 0 or 1 in an
    /// integer register.
    Eq,
    /// `flt`: signalling less-than (NV for any NaN).
    Lt,
    /// `fle`: signalling less-or-equal.
    Le,
    /// `fclass`: a one-hot 10-bit class mask in an integer register.
    Class,
    /// `fcvt.<int>.<fmt>`: float to integer, saturating, 32-bit results
    /// sign-extended.
    ToInt(IntTy),
    /// `fcvt.<fmt>.<int>`: integer (from an x register) to float.
    FromInt(IntTy),
    /// `fcvt.s.d` when the width is D (the source), `fcvt.d.s` when S.
    CvtFloat,
    /// `fsgnj`: a's magnitude with b's sign.
    Sgnj,
    /// `fsgnjn`: a's magnitude with the opposite of b's sign.
    Sgnjn,
    /// `fsgnjx`: a's magnitude with the xor of both signs.
    Sgnjx,
    /// `fmv.x.w` / `fmv.x.d`: raw bits to an integer register (`.w`
    /// sign-extends the low 32 bits, without checking the boxing).
    MvToInt,
    /// `fmv.w.x` / `fmv.d.x`: raw bits from an integer register (`.w`
    /// boxes the low 32 bits).
    MvFromInt,
}

/// One instruction under test: an [`Op`] at a [`Width`]. For
/// [`Op::FromInt`] the width is the destination's, for every other op the
/// source's (so `fcvt.s.d` is `Insn { op: CvtFloat, w: D }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Insn {
    /// The operation.
    pub op: Op,
    /// The operand width.
    pub w: Width,
}

impl Insn {
    /// Every F and D instruction apart from loads and stores, S first.
    pub fn all() -> Vec<Insn> {
        let mut ops = vec![
            Op::Add,
            Op::Sub,
            Op::Mul,
            Op::Div,
            Op::Sqrt,
            Op::Min,
            Op::Max,
            Op::Madd,
            Op::Msub,
            Op::Nmsub,
            Op::Nmadd,
            Op::Eq,
            Op::Lt,
            Op::Le,
            Op::Class,
        ];
        ops.extend(IntTy::ALL.map(Op::ToInt));
        ops.extend(IntTy::ALL.map(Op::FromInt));
        ops.extend([
            Op::CvtFloat,
            Op::Sgnj,
            Op::Sgnjn,
            Op::Sgnjx,
            Op::MvToInt,
            Op::MvFromInt,
        ]);
        [Width::S, Width::D]
            .into_iter()
            .flat_map(|w| ops.iter().map(move |&op| Insn { op, w }))
            .collect()
    }

    /// The assembler mnemonic, e.g. `fnmadd.d`, `fcvt.wu.s`, `fcvt.s.d`.
    pub fn name(&self) -> String {
        let s = self.w.suffix();
        let base = match self.op {
            Op::Add => "fadd",
            Op::Sub => "fsub",
            Op::Mul => "fmul",
            Op::Div => "fdiv",
            Op::Sqrt => "fsqrt",
            Op::Min => "fmin",
            Op::Max => "fmax",
            Op::Madd => "fmadd",
            Op::Msub => "fmsub",
            Op::Nmsub => "fnmsub",
            Op::Nmadd => "fnmadd",
            Op::Eq => "feq",
            Op::Lt => "flt",
            Op::Le => "fle",
            Op::Class => "fclass",
            Op::Sgnj => "fsgnj",
            Op::Sgnjn => "fsgnjn",
            Op::Sgnjx => "fsgnjx",
            Op::ToInt(t) => return format!("fcvt.{}.{s}", t.name()),
            Op::FromInt(t) => return format!("fcvt.{s}.{}", t.name()),
            Op::CvtFloat => {
                return match self.w {
                    Width::S => "fcvt.d.s".into(),
                    Width::D => "fcvt.s.d".into(),
                }
            }
            Op::MvToInt => return format!("fmv.x.{}", ["w", "d"][self.w.fmt() as usize]),
            Op::MvFromInt => return format!("fmv.{}.x", ["w", "d"][self.w.fmt() as usize]),
        };
        format!("{base}.{s}")
    }

    /// Whether the encoding has an `rm` field (everything that rounds, and
    /// the exact conversions `fcvt.d.s`, `fcvt.d.w[u]`, which still check it).
    pub fn has_rm(&self) -> bool {
        matches!(
            self.op,
            Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div
                | Op::Sqrt
                | Op::Madd
                | Op::Msub
                | Op::Nmsub
                | Op::Nmadd
                | Op::ToInt(_)
                | Op::FromInt(_)
                | Op::CvtFloat
        )
    }

    /// Number of register operands read (1 to 3).
    pub fn arity(&self) -> usize {
        match self.op {
            Op::Madd | Op::Msub | Op::Nmsub | Op::Nmadd => 3,
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Min
            | Op::Max
            | Op::Eq
            | Op::Lt
            | Op::Le
            | Op::Sgnj
            | Op::Sgnjn
            | Op::Sgnjx => 2,
            _ => 1,
        }
    }

    /// Whether the (first) source is an integer register.
    pub fn int_source(&self) -> bool {
        matches!(self.op, Op::FromInt(_) | Op::MvFromInt)
    }

    /// Whether the destination is an integer register.
    pub fn int_dest(&self) -> bool {
        matches!(
            self.op,
            Op::Eq | Op::Lt | Op::Le | Op::Class | Op::ToInt(_) | Op::MvToInt
        )
    }

    /// Whether the result has a width other than `w`: the float result
    /// of `fcvt.s.d` / `fcvt.d.s`.
    pub fn dest_width(&self) -> Width {
        match (self.op, self.w) {
            (Op::CvtFloat, Width::S) => Width::D,
            (Op::CvtFloat, Width::D) => Width::S,
            (_, w) => w,
        }
    }

    /// Whether the instruction never raises a flag (sign injection, moves).
    pub fn flagless(&self) -> bool {
        matches!(
            self.op,
            Op::Sgnj | Op::Sgnjn | Op::Sgnjx | Op::MvToInt | Op::MvFromInt
        )
    }
}

/// NaN-boxes a binary32 pattern.
pub fn box_s(bits: u32) -> u64 {
    0xffff_ffff_0000_0000 | u64::from(bits)
}

/// Reads a binary32 operand: the low 32 bits if properly NaN-boxed, else
/// the canonical NaN (Unprivileged ISA, "NaN Boxing of Narrower Values").
pub fn unbox_s(x: u64) -> u32 {
    if x >> 32 == 0xffff_ffff {
        x as u32
    } else {
        CANONICAL_NAN_S
    }
}

fn f32_(x: u64) -> sf::float32_t {
    sf::float32_t { v: unbox_s(x) }
}

fn f64_(x: u64) -> sf::float64_t {
    sf::float64_t { v: x }
}

/// Converts SoftFloat's exception flags to `fflags` bits. The two happen
/// to share bit positions; the mapping is spelled out anyway.
fn map_flags(f: u8) -> u32 {
    let mut r = 0;
    for (s, v) in [
        (sf::softfloat_flag_invalid, NV),
        (sf::softfloat_flag_infinite, DZ),
        (sf::softfloat_flag_overflow, OF),
        (sf::softfloat_flag_underflow, UF),
        (sf::softfloat_flag_inexact, NX),
    ] {
        if f & s != 0 {
            r |= v;
        }
    }
    r
}

/// Runs `f` under SoftFloat with rounding mode `rm`, after-rounding
/// tininess and clear flags; returns its result and the flags it raised.
/// SoftFloat's state is thread-local, so tests may run in parallel.
fn sf_run<T>(rm: Rm, f: impl FnOnce() -> T) -> (T, u32) {
    // SAFETY: plain reads and writes of SoftFloat's thread-local state
    // through its helper functions.
    unsafe {
        sf::softfloat_roundingMode_write_helper(rm as u8);
        sf::softfloat_detectTininess_write_helper(sf::softfloat_tininess_afterRounding);
        sf::softfloat_exceptionFlags_write_helper(0);
    }
    let r = f();
    // SAFETY: as above.
    let flags = unsafe { sf::softfloat_exceptionFlags_read_helper() };
    (r, map_flags(flags))
}

const SIGN_S: u32 = 0x8000_0000;
const SIGN_D: u64 = 0x8000_0000_0000_0000;

/// Whether a raw binary32 pattern is a NaN.
pub fn is_nan_s(x: u32) -> bool {
    x & 0x7fff_ffff > 0x7f80_0000
}

/// Whether a raw binary64 pattern is a NaN.
pub fn is_nan_d(x: u64) -> bool {
    x & !SIGN_D > 0x7ff0_0000_0000_0000
}

/// Whether a raw binary32 pattern is a signalling NaN (quiet bit, the
/// fraction's top bit, clear).
pub fn is_snan_s(x: u32) -> bool {
    // SAFETY: pure function.
    let r = unsafe { sf::f32_isSignalingNaN(sf::float32_t { v: x }) };
    debug_assert_eq!(r, is_nan_s(x) && x & 0x0040_0000 == 0);
    r
}

/// Whether a raw binary64 pattern is a signalling NaN.
pub fn is_snan_d(x: u64) -> bool {
    // SAFETY: pure function.
    let r = unsafe { sf::f64_isSignalingNaN(sf::float64_t { v: x }) };
    debug_assert_eq!(r, is_nan_d(x) && x & 0x0008_0000_0000_0000 == 0);
    r
}

/// `fmin`/`fmax` (Unprivileged ISA 20191213, "Single-Precision
/// Floating-Point Computational Instructions"): -0.0 < +0.0; if both
/// inputs are NaN the canonical NaN, if one is, the other; NV if either
/// is a signalling NaN, even when the result is not a NaN.
fn min_max(is_max: bool, w: Width, a: u64, b: u64) -> (u64, u32) {
    match w {
        Width::S => {
            let (x, y) = (unbox_s(a), unbox_s(b));
            let flags = if is_snan_s(x) || is_snan_s(y) { NV } else { 0 };
            let r = match (is_nan_s(x), is_nan_s(y)) {
                (true, true) => CANONICAL_NAN_S,
                (true, false) => y,
                (false, true) => x,
                (false, false) => {
                    // SAFETY: pure SoftFloat calls on non-NaN values.
                    let (lt, eq) = unsafe {
                        let (fx, fy) = (sf::float32_t { v: x }, sf::float32_t { v: y });
                        (sf::f32_lt_quiet(fx, fy), sf::f32_eq(fx, fy))
                    };
                    let x_less = lt || (eq && x & SIGN_S != 0 && y & SIGN_S == 0);
                    if x_less != is_max {
                        x
                    } else {
                        y
                    }
                }
            };
            (box_s(r), flags)
        }
        Width::D => {
            let flags = if is_snan_d(a) || is_snan_d(b) { NV } else { 0 };
            let r = match (is_nan_d(a), is_nan_d(b)) {
                (true, true) => CANONICAL_NAN_D,
                (true, false) => b,
                (false, true) => a,
                (false, false) => {
                    // SAFETY: pure SoftFloat calls on non-NaN values.
                    let (lt, eq) = unsafe {
                        let (fx, fy) = (f64_(a), f64_(b));
                        (sf::f64_lt_quiet(fx, fy), sf::f64_eq(fx, fy))
                    };
                    let a_less = lt || (eq && a & SIGN_D != 0 && b & SIGN_D == 0);
                    if a_less != is_max {
                        a
                    } else {
                        b
                    }
                }
            };
            (r, flags)
        }
    }
}

/// `fclass` (Unprivileged ISA, table "Format of result of FCLASS"):
/// bit 0 -inf, 1 negative normal, 2 negative subnormal, 3 -0, 4 +0,
/// 5 positive subnormal, 6 positive normal, 7 +inf, 8 signalling NaN,
/// 9 quiet NaN. `a` is unboxed first for S.
pub fn fclass(w: Width, a: u64) -> u64 {
    // (sign, exponent all ones, exponent zero, fraction zero, quiet bit)
    let (sign, exp_max, exp_zero, frac_zero, quiet) = match w {
        Width::S => {
            let x = unbox_s(a);
            let e = (x >> 23) & 0xff;
            (
                x >> 31 != 0,
                e == 0xff,
                e == 0,
                x & 0x7f_ffff == 0,
                x & 0x40_0000 != 0,
            )
        }
        Width::D => {
            let e = (a >> 52) & 0x7ff;
            (
                a >> 63 != 0,
                e == 0x7ff,
                e == 0,
                a & 0xf_ffff_ffff_ffff == 0,
                a & 0x8_0000_0000_0000 != 0,
            )
        }
    };
    let bit = if exp_max && !frac_zero {
        if quiet {
            9
        } else {
            8
        }
    } else {
        let mag = if exp_max {
            3 // infinity
        } else if exp_zero && frac_zero {
            0 // zero
        } else if exp_zero {
            1 // subnormal
        } else {
            2 // normal
        };
        if sign {
            3 - mag
        } else {
            4 + mag
        }
    };
    1 << bit
}

/// Sign injection (`fsgnj`, `fsgnjn`, `fsgnjx`): `op` must be one of
/// those. For S both operands are unboxed first (a non-boxed operand is
/// the canonical NaN, sign +) and the result is boxed. Never raises flags.
pub fn fsgnj(op: Op, w: Width, a: u64, b: u64) -> u64 {
    let (x, y, sign) = match w {
        Width::S => (
            u64::from(unbox_s(a)),
            u64::from(unbox_s(b)),
            u64::from(SIGN_S),
        ),
        Width::D => (a, b, SIGN_D),
    };
    let s = match op {
        Op::Sgnj => y & sign,
        Op::Sgnjn => !y & sign,
        Op::Sgnjx => (x ^ y) & sign,
        _ => panic!("fsgnj: {op:?} is not a sign injection"),
    };
    let r = (x & !sign) | s;
    match w {
        Width::S => box_s(r as u32),
        Width::D => r,
    }
}

fn sext32(x: u64) -> u64 {
    x as u32 as i32 as i64 as u64
}

/// The reference result of `insn` under rounding mode `rm` (ignored by
/// instructions without an `rm` field) on register images `a`, `b`, `c`
/// (`rs1`, `rs2`, `rs3`; unused ones are ignored): the 64-bit value
/// written to the destination register and the `fflags` bits raised.
pub fn eval(insn: Insn, rm: Rm, a: u64, b: u64, c: u64) -> (u64, u32) {
    use Width::{D, S};
    let w = insn.w;
    // SAFETY (every `unsafe` below): pure SoftFloat functions on values;
    // their only side effect is on the thread-local state set by `sf_run`.
    match insn.op {
        Op::Add | Op::Sub | Op::Mul | Op::Div => sf_run(rm, || unsafe {
            match w {
                S => {
                    let f = match insn.op {
                        Op::Add => sf::f32_add,
                        Op::Sub => sf::f32_sub,
                        Op::Mul => sf::f32_mul,
                        _ => sf::f32_div,
                    };
                    box_s(f(f32_(a), f32_(b)).v)
                }
                D => {
                    let f = match insn.op {
                        Op::Add => sf::f64_add,
                        Op::Sub => sf::f64_sub,
                        Op::Mul => sf::f64_mul,
                        _ => sf::f64_div,
                    };
                    f(f64_(a), f64_(b)).v
                }
            }
        }),
        Op::Sqrt => sf_run(rm, || unsafe {
            match w {
                S => box_s(sf::f32_sqrt(f32_(a)).v),
                D => sf::f64_sqrt(f64_(a)).v,
            }
        }),
        Op::Min | Op::Max => min_max(insn.op == Op::Max, w, a, b),
        Op::Madd | Op::Msub | Op::Nmsub | Op::Nmadd => {
            // fnm* negate the product, f*sub the addend; negating an
            // operand is exact, so -(a*b) == (-a)*b, as Spike computes it.
            let neg_prod = matches!(insn.op, Op::Nmsub | Op::Nmadd);
            let neg_add = matches!(insn.op, Op::Msub | Op::Nmadd);
            sf_run(rm, || unsafe {
                match w {
                    S => {
                        let x = unbox_s(a) ^ if neg_prod { SIGN_S } else { 0 };
                        let z = unbox_s(c) ^ if neg_add { SIGN_S } else { 0 };
                        let r =
                            sf::f32_mulAdd(sf::float32_t { v: x }, f32_(b), sf::float32_t { v: z });
                        box_s(r.v)
                    }
                    D => {
                        let x = a ^ if neg_prod { SIGN_D } else { 0 };
                        let z = c ^ if neg_add { SIGN_D } else { 0 };
                        sf::f64_mulAdd(f64_(x), f64_(b), f64_(z)).v
                    }
                }
            })
        }
        Op::Eq | Op::Lt | Op::Le => sf_run(rm, || unsafe {
            u64::from(match (w, insn.op) {
                (S, Op::Eq) => sf::f32_eq(f32_(a), f32_(b)),
                (S, Op::Lt) => sf::f32_lt(f32_(a), f32_(b)),
                (S, _) => sf::f32_le(f32_(a), f32_(b)),
                (D, Op::Eq) => sf::f64_eq(f64_(a), f64_(b)),
                (D, Op::Lt) => sf::f64_lt(f64_(a), f64_(b)),
                (D, _) => sf::f64_le(f64_(a), f64_(b)),
            })
        }),
        Op::Class => (fclass(w, a), 0),
        Op::ToInt(t) => sf_run(rm, || unsafe {
            let m = rm as u8;
            match (w, t) {
                (S, IntTy::W) => sext32(sf::f32_to_i32(f32_(a), m, true) as u64),
                (S, IntTy::Wu) => sext32(sf::f32_to_ui32(f32_(a), m, true) as u64),
                (S, IntTy::L) => sf::f32_to_i64(f32_(a), m, true) as u64,
                (S, IntTy::Lu) => sf::f32_to_ui64(f32_(a), m, true) as u64,
                (D, IntTy::W) => sext32(sf::f64_to_i32(f64_(a), m, true) as u64),
                (D, IntTy::Wu) => sext32(sf::f64_to_ui32(f64_(a), m, true) as u64),
                (D, IntTy::L) => sf::f64_to_i64(f64_(a), m, true) as u64,
                (D, IntTy::Lu) => sf::f64_to_ui64(f64_(a), m, true) as u64,
            }
        }),
        Op::FromInt(t) => sf_run(rm, || unsafe {
            match (w, t) {
                (S, IntTy::W) => box_s(sf::i32_to_f32(a as u32 as i32).v),
                (S, IntTy::Wu) => box_s(sf::ui32_to_f32(a as u32).v),
                (S, IntTy::L) => box_s(sf::i64_to_f32(a as i64).v),
                (S, IntTy::Lu) => box_s(sf::ui64_to_f32(a).v),
                (D, IntTy::W) => sf::i32_to_f64(a as u32 as i32).v,
                (D, IntTy::Wu) => sf::ui32_to_f64(a as u32).v,
                (D, IntTy::L) => sf::i64_to_f64(a as i64).v,
                (D, IntTy::Lu) => sf::ui64_to_f64(a).v,
            }
        }),
        Op::CvtFloat => sf_run(rm, || unsafe {
            match w {
                S => sf::f32_to_f64(f32_(a)).v,
                D => box_s(sf::f64_to_f32(f64_(a)).v),
            }
        }),
        Op::Sgnj | Op::Sgnjn | Op::Sgnjx => (fsgnj(insn.op, w, a, b), 0),
        Op::MvToInt => (
            match w {
                S => sext32(a),
                D => a,
            },
            0,
        ),
        Op::MvFromInt => (
            match w {
                S => box_s(a as u32),
                D => a,
            },
            0,
        ),
    }
}

/// `fflags` bits as text, e.g. `NV|NX`, or `-` for none.
pub fn flags_str(f: u32) -> String {
    let names: Vec<&str> = [(NV, "NV"), (DZ, "DZ"), (OF, "OF"), (UF, "UF"), (NX, "NX")]
        .into_iter()
        .filter(|&(b, _)| f & b != 0)
        .map(|(_, n)| n)
        .collect();
    let extra = f & !0x1f;
    let mut s = if names.is_empty() {
        "-".to_string()
    } else {
        names.join("|")
    };
    if extra != 0 {
        let _ = write!(s, "|0x{extra:x}?");
    }
    s
}

/// One disagreement between the code under test and the oracle.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// Instruction and rounding mode, e.g. `fadd.d rm=rtz (dyn)`.
    pub what: String,
    /// The operand register images `rs1`, `rs2`, `rs3` (only the first
    /// `arity` matter).
    pub ops: [u64; 3],
    /// Number of meaningful entries in `ops`.
    pub arity: usize,
    /// The oracle's (result, fflags).
    pub expected: (u64, u32),
    /// The tested code's (result, fflags).
    pub actual: (u64, u32),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.what)?;
        for (i, o) in self.ops[..self.arity].iter().enumerate() {
            write!(f, " {}=0x{o:016x}", ["a", "b", "c"][i])?;
        }
        write!(
            f,
            ": expected 0x{:016x} {} (0x{:02x}), got 0x{:016x} {} (0x{:02x})",
            self.expected.0,
            flags_str(self.expected.1),
            self.expected.1,
            self.actual.0,
            flags_str(self.actual.1),
            self.actual.1
        )
    }
}

/// Collects mismatches, keeping the first few for the report.
#[derive(Debug, Default)]
pub struct Report {
    /// Vectors compared.
    pub checked: u64,
    /// Mismatching vectors.
    pub failed: u64,
    /// The first mismatches, at most [`Report::KEEP`] per `what` label.
    pub first: Vec<Mismatch>,
    kept_for_label: std::collections::HashMap<String, usize>,
}

impl Report {
    /// Mismatches kept per label.
    pub const KEEP: usize = 4;

    /// Compares one vector; records a mismatch if the results differ.
    /// `what` is built lazily, only on failure.
    pub fn check(
        &mut self,
        what: impl FnOnce() -> String,
        ops: [u64; 3],
        arity: usize,
        expected: (u64, u32),
        actual: (u64, u32),
    ) {
        self.checked += 1;
        if expected == actual {
            return;
        }
        self.failed += 1;
        let what = what();
        let n = self.kept_for_label.entry(what.clone()).or_insert(0);
        if *n < Self::KEEP {
            *n += 1;
            self.first.push(Mismatch {
                what,
                ops,
                arity,
                expected,
                actual,
            });
        }
    }

    /// Records a failure that is not a value comparison (a wrong trap, a
    /// wrong pc), with its message.
    pub fn fail(&mut self, msg: String) {
        self.checked += 1;
        self.failed += 1;
        self.first.push(Mismatch {
            what: msg,
            ops: [0; 3],
            arity: 0,
            expected: (0, 0),
            actual: (0, 0),
        });
    }

    /// Panics with a summary and the kept mismatches if any vector failed.
    pub fn assert_ok(&self, title: &str) {
        if self.failed == 0 {
            return;
        }
        let mut s = format!(
            "{title}: {} of {} checks disagree with the reference (SoftFloat, RISC-V; the ISA text); first ones:\n",
            self.failed, self.checked
        );
        for m in self.first.iter().take(60) {
            if m.arity == 0 && m.expected == (0, 0) && m.actual == (0, 0) {
                let _ = writeln!(s, "  {}", m.what);
            } else {
                let _ = writeln!(s, "  {m}");
            }
        }
        panic!("{s}");
    }
}

#[cfg(test)]
mod tests;
