//! Floating-point semantics of the IR's float ops, on raw bit patterns:
//! RISC-V F and D (Unprivileged ISA, chapters "F" and "D" Standard
//! Extensions), bit-exact in results and in exception flags, in all five
//! rounding modes.
//!
//! One definition serves both tiers: the reference interpreter calls these
//! functions, and so do the JIT's helpers for everything it does not lower
//! inline (see the backend's module doc). Every function returns the result
//! and the RISC-V `fflags` bits it raises ([`NV`], [`DZ`], [`OF`], [`UF`],
//! [`NX`]); none of them touches the caller's host floating-point state.
//!
//! # How each result and flag is computed, and why it is exact
//!
//! - `fadd`/`fsub`/`fmul`/`fdiv`/`fsqrt`, `fmadd` and friends, and
//!   `fcvt.s.d` in `rne`, `rtz`, `rdn` and `rup` run on the host's SSE unit
//!   under that rounding mode (`MXCSR.RC`, set and restored inside one
//!   `asm!` block, see `host`). x86 gives the IEEE 754 result for every
//!   non-NaN case and the same five flags RISC-V defines: both detect
//!   tininess *after* rounding, raise underflow only for tiny and inexact
//!   results, and raise invalid for signalling-NaN operands. The fused
//!   multiply-adds use FMA3 (`vfmadd231sd`) where the host has it.
//! - `rmm` (ties away from zero), which x86 lacks, and fused multiply-add
//!   on a host without FMA3, are computed in software (`soft`, on
//!   `rustc_apfloat`), with APFloat's underflow rule corrected to
//!   after-rounding tininess. The square root never lies exactly halfway
//!   between two floats of its format, so `fsqrt` in `rmm` is `rne`.
//! - Where x86 and RISC-V differ, the difference is handled here: every NaN
//!   result becomes the canonical NaN (x86 propagates payloads), and
//!   `0 * inf + c` raises NV even when `c` is a quiet NaN.
//! - Conversions to and from integers (`convert`) are integer arithmetic:
//!   rounding by the mode's rule on the dropped bits, NV (and no NX) for
//!   NaN and out-of-range inputs with RISC-V's saturated results.
//! - `fcvt.d.s` is exact; it raises NV only for a signalling NaN.
//! - `feq`, `flt`, `fle`, `fmin`, `fmax` and `fclass` decide NaNs on the
//!   bits first, then compare ordered values (which raises nothing): `feq`
//!   raises NV for signalling NaNs only, `flt`/`fle` for any NaN (they are
//!   signalling comparisons); `fmin`/`fmax` follow version 2.2 of the F
//!   extension: NV for a signalling NaN, the other operand if one is NaN,
//!   the canonical NaN if both are, and -0 < +0.
//!
//! # Single precision and NaN-boxing
//!
//! Single-precision operands come NaN-boxed in 64-bit values; an operand
//! whose upper 32 bits are not all ones reads as the canonical NaN (which
//! raises nothing, being quiet). Single-precision results are NaN-boxed.
//!
//! # The flag accumulator
//!
//! Translated code accrues flags in the host's `MXCSR` sticky bits (the
//! inline SSE instructions raise them there); the runtime moves them into
//! `fcsr` when translated code returns to it or reads `fflags`.
//! [`host_flags`] is that accumulator, and the interpreter tier adds the
//! flags returned here to it, so the two tiers accrue flags alike.

mod convert;
mod host;
mod soft;

use crate::{FBinOp, FloatCC, FpWidth, IntKind, Rounding};

/// The canonical single-precision NaN, `0x7fc00000`.
pub const CANONICAL_NAN_S: u32 = 0x7fc0_0000;
/// The canonical double-precision NaN, `0x7ff8000000000000`.
pub const CANONICAL_NAN_D: u64 = 0x7ff8_0000_0000_0000;

/// `fflags` invalid operation (Unprivileged ISA, table "Accrued exception
/// flag encoding").
pub const NV: u32 = 0x10;
/// `fflags` divide by zero.
pub const DZ: u32 = 0x08;
/// `fflags` overflow.
pub const OF: u32 = 0x04;
/// `fflags` underflow.
pub const UF: u32 = 0x02;
/// `fflags` inexact.
pub const NX: u32 = 0x01;

/// Reads a binary32 operand from a 64-bit register value: the low 32 bits
/// if the upper 32 are all ones (properly NaN-boxed), else the canonical
/// NaN.
pub fn unbox_s(x: u64) -> u32 {
    if x >> 32 == 0xffff_ffff {
        x as u32
    } else {
        CANONICAL_NAN_S
    }
}

/// NaN-boxes a binary32 bit pattern.
pub fn box_s(bits: u32) -> u64 {
    0xffff_ffff_0000_0000 | bits as u64
}

/// What a float is, decoded from its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Zero,
    /// `sig * 2^exp`, `sig` non-zero and below 2^53.
    Finite {
        sig: u64,
        exp: i32,
    },
    Inf,
    Nan {
        signalling: bool,
    },
}

/// A decoded float: its sign and [`Class`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Parts {
    negative: bool,
    class: Class,
}

/// Format constants: precision (significand bits incl. the hidden one),
/// exponent bits, and the exponent bias.
fn format(w: FpWidth) -> (u32, u32, i32) {
    match w {
        FpWidth::S => (24, 8, 127),
        FpWidth::D => (53, 11, 1023),
    }
}

/// The raw bits of operand `x` of width `w` (singles unboxed).
fn raw(w: FpWidth, x: u64) -> u64 {
    match w {
        FpWidth::S => u64::from(unbox_s(x)),
        FpWidth::D => x,
    }
}

/// Decodes raw bits of width `w`.
fn parts(w: FpWidth, bits: u64) -> Parts {
    let (p, e, bias) = format(w);
    let frac_bits = p - 1;
    let negative = bits >> (p + e - 1) & 1 == 1;
    let biased = (bits >> frac_bits) & ((1 << e) - 1);
    let frac = bits & ((1 << frac_bits) - 1);
    let class = if biased == (1 << e) - 1 {
        if frac == 0 {
            Class::Inf
        } else {
            Class::Nan {
                signalling: frac >> (frac_bits - 1) == 0,
            }
        }
    } else if biased == 0 {
        if frac == 0 {
            Class::Zero
        } else {
            Class::Finite {
                sig: frac,
                exp: 1 - bias - frac_bits as i32,
            }
        }
    } else {
        Class::Finite {
            sig: frac | 1 << frac_bits,
            exp: biased as i32 - bias - frac_bits as i32,
        }
    };
    Parts { negative, class }
}

fn is_nan(w: FpWidth, bits: u64) -> bool {
    matches!(parts(w, bits).class, Class::Nan { .. })
}

fn is_snan(w: FpWidth, bits: u64) -> bool {
    matches!(parts(w, bits).class, Class::Nan { signalling: true })
}

/// The register value of a result: NaN-boxed for singles, the canonical
/// NaN for any NaN.
fn result(w: FpWidth, bits: u64) -> u64 {
    match w {
        FpWidth::S if is_nan(w, bits) => box_s(CANONICAL_NAN_S),
        FpWidth::S => box_s(bits as u32),
        FpWidth::D if is_nan(w, bits) => CANONICAL_NAN_D,
        FpWidth::D => bits,
    }
}

/// An arithmetic operation (see [`arith`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Sqrt,
    /// `a * b + c`.
    Fma,
}

/// `op` on raw operand bits of width `w` under `rm`: the raw result (NaN
/// payload unspecified) and its flags.
fn arith(op: Arith, w: FpWidth, rm: Rounding, a: u64, b: u64, c: u64) -> (u64, u32) {
    let control = host::control_word(if op == Arith::Sqrt && rm == Rounding::Rmm {
        // A square root is never a tie: rmm and rne agree.
        Rounding::Rne
    } else {
        rm
    });
    let soft_op = |op| match w {
        FpWidth::S => {
            let (r, f) = soft::op_s(op, rm, a as u32, b as u32, c as u32);
            (u64::from(r), f)
        }
        FpWidth::D => soft::op_d(op, rm, a, b, c),
    };
    let host_op = |op, cw| match w {
        FpWidth::S => {
            let (r, f) = host::op_s(op, cw, a as u32, b as u32);
            (u64::from(r), f)
        }
        FpWidth::D => host::op_d(op, cw, a, b),
    };
    match (op, control) {
        (Arith::Fma, Some(cw)) if host::has_fma() => match w {
            FpWidth::S => {
                let (r, f) = host::fma_s(cw, a as u32, b as u32, c as u32);
                (u64::from(r), f)
            }
            FpWidth::D => host::fma_d(cw, a, b, c),
        },
        (Arith::Fma, _) => soft_op(soft::Op::Fma),
        (Arith::Sqrt, Some(cw)) => host_op(host::Op::Sqrt, cw),
        (Arith::Sqrt, None) => unreachable!("rmm square roots run as rne"),
        (_, Some(cw)) => host_op(
            match op {
                Arith::Add => host::Op::Add,
                Arith::Sub => host::Op::Sub,
                Arith::Mul => host::Op::Mul,
                _ => host::Op::Div,
            },
            cw,
        ),
        (_, None) => soft_op(match op {
            Arith::Add => soft::Op::Add,
            Arith::Sub => soft::Op::Sub,
            Arith::Mul => soft::Op::Mul,
            _ => soft::Op::Div,
        }),
    }
}

/// The flags RISC-V adds to the host's or APFloat's: NV for any
/// signalling-NaN operand (both raise it already; kept as a guarantee).
fn snan_flags(w: FpWidth, operands: &[u64]) -> u32 {
    if operands.iter().any(|&x| is_snan(w, x)) {
        NV
    } else {
        0
    }
}

/// `a op b` for [`crate::Inst::Fbin`], rounded as `rm` says (ignored by
/// `fmin`/`fmax`): the result and its `fflags`.
pub fn fbin(op: FBinOp, w: FpWidth, rm: Rounding, a: u64, b: u64) -> (u64, u32) {
    let (x, y) = (raw(w, a), raw(w, b));
    let op = match op {
        FBinOp::Fmin | FBinOp::Fmax => return min_max(op == FBinOp::Fmax, w, x, y),
        FBinOp::Fadd => Arith::Add,
        FBinOp::Fsub => Arith::Sub,
        FBinOp::Fmul => Arith::Mul,
        FBinOp::Fdiv => Arith::Div,
    };
    let (r, f) = arith(op, w, rm, x, y, 0);
    (result(w, r), f | snan_flags(w, &[x, y]))
}

/// `sqrt(a)` for [`crate::Inst::Fsqrt`].
pub fn fsqrt(w: FpWidth, rm: Rounding, a: u64) -> (u64, u32) {
    let x = raw(w, a);
    let (r, f) = arith(Arith::Sqrt, w, rm, x, 0, 0);
    (result(w, r), f | snan_flags(w, &[x]))
}

/// `±(a*b) ± c` with a single rounding, for [`crate::Inst::Fma`].
pub fn fma(
    w: FpWidth,
    rm: Rounding,
    neg_product: bool,
    neg_addend: bool,
    a: u64,
    b: u64,
    c: u64,
) -> (u64, u32) {
    let (p, e, _) = format(w);
    let sign = 1u64 << (p + e - 1);
    let (x, y, z) = (raw(w, a), raw(w, b), raw(w, c));
    // Negating an operand is exact, so -(a*b) + c = (-a)*b + c.
    let x = if neg_product { x ^ sign } else { x };
    let z = if neg_addend { z ^ sign } else { z };
    let (r, mut f) = arith(Arith::Fma, w, rm, x, y, z);
    // 0 * inf is invalid even when the addend is a quiet NaN (RISC-V; IEEE
    // 754 leaves that case to the implementation).
    let (cx, cy) = (parts(w, x).class, parts(w, y).class);
    if matches!(
        (cx, cy),
        (Class::Zero, Class::Inf) | (Class::Inf, Class::Zero)
    ) {
        f |= NV;
    }
    (result(w, r), f | snan_flags(w, &[x, y, z]))
}

/// Orders two non-NaN raw values: `Some(ordering)` of `a` against `b`
/// (-0 equals +0).
fn compare(w: FpWidth, a: u64, b: u64) -> core::cmp::Ordering {
    let (pa, pb) = (parts(w, a), parts(w, b));
    let zero = |p: Parts| p.class == Class::Zero;
    if zero(pa) && zero(pb) {
        return core::cmp::Ordering::Equal;
    }
    // Sign-magnitude to a monotonic integer key.
    let (p, e, _) = format(w);
    let sign = 1u64 << (p + e - 1);
    let key = |x: u64, neg: bool| -> i128 {
        let m = i128::from(x & (sign - 1));
        if neg {
            -m
        } else {
            m
        }
    };
    key(a, pa.negative).cmp(&key(b, pb.negative))
}

/// RISC-V `fmin`/`fmax` on raw bits (F extension version 2.2).
fn min_max(is_max: bool, w: FpWidth, a: u64, b: u64) -> (u64, u32) {
    let flags = snan_flags(w, &[a, b]);
    let r = match (is_nan(w, a), is_nan(w, b)) {
        (true, true) => return (result(w, a), flags),
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            let negative = parts(w, a).negative;
            match compare(w, a, b) {
                // -0 < +0 here; equal non-zero values are identical.
                core::cmp::Ordering::Equal => {
                    if negative != is_max {
                        a
                    } else {
                        b
                    }
                }
                core::cmp::Ordering::Less => {
                    if is_max {
                        b
                    } else {
                        a
                    }
                }
                core::cmp::Ordering::Greater => {
                    if is_max {
                        a
                    } else {
                        b
                    }
                }
            }
        }
    };
    (result(w, r), flags)
}

/// `a cc b` giving 0 or 1, for [`crate::Inst::Fcmp`]. Any NaN gives 0;
/// `feq` raises NV for a signalling NaN, `flt` and `fle` for any NaN.
pub fn fcmp(cc: FloatCC, w: FpWidth, a: u64, b: u64) -> (u64, u32) {
    let (x, y) = (raw(w, a), raw(w, b));
    if is_nan(w, x) || is_nan(w, y) {
        let f = match cc {
            FloatCC::Eq => snan_flags(w, &[x, y]),
            FloatCC::Lt | FloatCC::Le => NV,
        };
        return (0, f);
    }
    let o = compare(w, x, y);
    let r = match cc {
        FloatCC::Eq => o.is_eq(),
        FloatCC::Lt => o.is_lt(),
        FloatCC::Le => o.is_le(),
    };
    (r as u64, 0)
}

/// Float to integer for [`crate::Inst::FcvtToInt`]: rounds as `rm` says
/// and saturates (NaN gives the maximum), per the Unprivileged ISA, table
/// "Domains of float-to-integer conversions". 32-bit results are
/// sign-extended to 64 bits.
pub fn fcvt_to_int(w: FpWidth, rm: Rounding, to: IntKind, a: u64) -> (u64, u32) {
    convert::to_int(parts(w, raw(w, a)), rm, to)
}

/// Integer to float for [`crate::Inst::FcvtFromInt`], rounded as `rm`
/// says. 32-bit kinds read the low 32 bits of `a`.
pub fn fcvt_from_int(w: FpWidth, rm: Rounding, from: IntKind, a: u64) -> (u64, u32) {
    let (p, _, _) = format(w);
    let (bits, f) = convert::from_int(p, rm, from, a);
    (result(w, bits), f)
}

/// Float to float of the other width, for [`crate::Inst::FcvtFloat`]:
/// `fcvt.d.s` (from S, exact) or `fcvt.s.d` (from D, rounded as `rm`
/// says).
pub fn fcvt_float(from: FpWidth, rm: Rounding, a: u64) -> (u64, u32) {
    match from {
        FpWidth::S => {
            let x = raw(FpWidth::S, a);
            let p = parts(FpWidth::S, x);
            let bits = match p.class {
                Class::Nan { .. } => CANONICAL_NAN_D,
                Class::Inf => (u64::from(p.negative) << 63) | 0x7ff0_0000_0000_0000,
                Class::Zero => u64::from(p.negative) << 63,
                Class::Finite { sig, exp } => {
                    // Normalize: sig * 2^exp = 1.f * 2^e.
                    let top = 63 - sig.leading_zeros() as i32;
                    let e = exp + top;
                    let frac = (sig << (52 - top)) & ((1 << 52) - 1);
                    (u64::from(p.negative) << 63) | ((e + 1023) as u64) << 52 | frac
                }
            };
            (bits, snan_flags(FpWidth::S, &[x]))
        }
        FpWidth::D => {
            let (r, f) = match host::control_word(rm) {
                Some(cw) => host::demote(cw, a),
                None => soft::demote(rm, a),
            };
            (
                result(FpWidth::S, u64::from(r)),
                f | snan_flags(FpWidth::D, &[a]),
            )
        }
    }
}

/// RISC-V `fclass` (Unprivileged ISA, table "Format of result of FCLASS
/// instruction"): bit 0 -inf, 1 negative normal, 2 negative subnormal,
/// 3 -0, 4 +0, 5 positive subnormal, 6 positive normal, 7 +inf,
/// 8 signalling NaN, 9 quiet NaN.
pub fn fclass(w: FpWidth, a: u64) -> u64 {
    let x = raw(w, a);
    let p = parts(w, x);
    let (precision, _, _) = format(w);
    let bit = match (p.class, p.negative) {
        (Class::Inf, true) => 0,
        (Class::Finite { sig, .. }, true) if sig >> (precision - 1) != 0 => 1,
        (Class::Finite { .. }, true) => 2,
        (Class::Zero, true) => 3,
        (Class::Zero, false) => 4,
        (Class::Finite { sig, .. }, false) if sig >> (precision - 1) == 0 => 5,
        (Class::Finite { .. }, false) => 6,
        (Class::Inf, false) => 7,
        (Class::Nan { signalling: true }, _) => 8,
        (Class::Nan { signalling: false }, _) => 9,
    };
    1 << bit
}

/// The float environment of the running thread while it runs guest code:
/// the host's `MXCSR`, whose sticky exception bits accumulate the guest's
/// `fflags` and whose rounding control holds the guest's dynamic rounding
/// mode (the *ambient* rounding mode, see [`crate::Block::ambient_rounding`]).
///
/// Translated code raises flags here (its inline SSE instructions do so by
/// themselves, its helpers and the interpreter through [`host_flags::raise`]). The
/// runtime sets the environment up with [`host_flags::enter`] before it runs guest code
/// (no flags, the guest's rounding mode), takes it down with [`host_flags::leave`]
/// when guest code returns to it (the flags move into `fcsr`; round to
/// nearest again for the host's own code), and a guest write to `frm`
/// changes the ambient mode in place ([`host_flags::set_ambient`]). Host code run in
/// between (the compiler, the runtime) thus neither leaks flags into the
/// guest's nor runs in the guest's rounding mode.
pub mod host_flags {
    use super::host;
    use crate::Rounding;

    /// `MXCSR` exception flag bits: IE, DE, ZE, OE, UE, PE.
    const MXCSR_FLAGS: u32 = 0x3f;
    /// `MXCSR` rounding control.
    const MXCSR_RC: u32 = 0x6000;

    /// The `MXCSR` rounding-control bits for ambient mode `rm` (`rmm`,
    /// which x86 lacks, runs with round-to-nearest-even ambient).
    fn rc_bits(rm: Rounding) -> u32 {
        host::control_word(rm).unwrap_or(0x1f80) & MXCSR_RC
    }

    /// Sets up the environment for guest code: no flags, ambient rounding
    /// mode `rm`, every exception masked.
    pub fn enter(rm: Rounding) {
        let v = host::get_mxcsr();
        let want = (v & !(MXCSR_FLAGS | MXCSR_RC)) | rc_bits(rm);
        if v != want {
            host::set_mxcsr(want);
        }
    }

    /// Takes the environment down after guest code: returns the
    /// accumulated flags as RISC-V `fflags` bits, clears them and restores
    /// round-to-nearest-even.
    pub fn leave() -> u32 {
        let v = host::get_mxcsr();
        let want = v & !(MXCSR_FLAGS | MXCSR_RC);
        if v != want {
            host::set_mxcsr(want);
        }
        host::fflags_of_mxcsr(v)
    }

    /// Changes the ambient rounding mode, keeping the accumulated flags
    /// (a guest write to `frm` inside translated code).
    pub fn set_ambient(rm: Rounding) {
        let v = host::get_mxcsr();
        let want = (v & !MXCSR_RC) | rc_bits(rm);
        if v != want {
            host::set_mxcsr(want);
        }
    }

    /// Clears the accumulator.
    pub fn clear() {
        let v = host::get_mxcsr();
        if v & MXCSR_FLAGS != 0 {
            host::set_mxcsr(v & !MXCSR_FLAGS);
        }
    }

    /// Returns the accumulated flags as RISC-V `fflags` bits, leaving
    /// them accumulated (reading `MXCSR` is cheap; writing it is not).
    pub fn peek() -> u32 {
        host::fflags_of_mxcsr(host::get_mxcsr())
    }

    /// Returns the accumulated flags as RISC-V `fflags` bits and clears
    /// them.
    pub fn take() -> u32 {
        let v = host::get_mxcsr();
        if v & MXCSR_FLAGS == 0 {
            return 0;
        }
        host::set_mxcsr(v & !MXCSR_FLAGS);
        host::fflags_of_mxcsr(v)
    }

    /// Adds RISC-V `fflags` bits to the accumulator.
    pub fn raise(fflags: u32) {
        let m = host::mxcsr_of_fflags(fflags);
        if m != 0 {
            let v = host::get_mxcsr();
            if v & m != m {
                host::set_mxcsr(v | m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: FpWidth = FpWidth::D;
    const S: FpWidth = FpWidth::S;

    fn d(x: f64) -> u64 {
        x.to_bits()
    }

    #[test]
    fn conversions_saturate_like_risc_v() {
        let nan = CANONICAL_NAN_D;
        let rtz = Rounding::Rtz;
        assert_eq!(
            fcvt_to_int(D, rtz, IntKind::I32, nan),
            (i32::MAX as u64, NV)
        );
        assert_eq!(fcvt_to_int(D, rtz, IntKind::U64, nan), (u64::MAX, NV));
        assert_eq!(
            fcvt_to_int(D, rtz, IntKind::I64, d(1e300)),
            (i64::MAX as u64, NV)
        );
        assert_eq!(fcvt_to_int(D, rtz, IntKind::U32, d(-5.5)), (0, NV));
        assert_eq!(fcvt_to_int(D, rtz, IntKind::U32, d(-0.5)), (0, NX));
        assert_eq!(
            fcvt_to_int(D, Rounding::Rdn, IntKind::I64, d(-5.5)),
            (-6i64 as u64, NX)
        );
        assert_eq!(fcvt_to_int(D, Rounding::Rne, IntKind::I64, d(2.5)), (2, NX));
        assert_eq!(fcvt_to_int(D, Rounding::Rmm, IntKind::I64, d(2.5)), (3, NX));
        assert_eq!(
            fcvt_to_int(D, Rounding::Rmm, IntKind::I64, d(-2.5)),
            (-3i64 as u64, NX)
        );
        // Exact conversions raise nothing.
        assert_eq!(
            fcvt_to_int(D, Rounding::Rne, IntKind::I64, d(-7.0)),
            (-7i64 as u64, 0)
        );
        // fcvt.wu.d of 2^32-1 sign-extends the 32-bit result.
        assert_eq!(
            fcvt_to_int(D, rtz, IntKind::U32, d(4294967295.0)),
            (u64::MAX, 0)
        );
        // -2^63 fits; 2^63 does not.
        assert_eq!(
            fcvt_to_int(D, rtz, IntKind::I64, d(-9223372036854775808.0)),
            (1 << 63, 0)
        );
        assert_eq!(
            fcvt_to_int(D, rtz, IntKind::I64, d(9223372036854775808.0)),
            (i64::MAX as u64, NV)
        );
    }

    #[test]
    fn integer_to_float_rounds_as_asked() {
        let big = (1u64 << 53) + 1; // not representable in binary64
        assert_eq!(
            fcvt_from_int(D, Rounding::Rne, IntKind::U64, big),
            (d(9007199254740992.0), NX)
        );
        assert_eq!(
            fcvt_from_int(D, Rounding::Rup, IntKind::U64, big),
            (d(9007199254740994.0), NX)
        );
        assert_eq!(
            fcvt_from_int(D, Rounding::Rdn, IntKind::I64, big.wrapping_neg()),
            (d(-9007199254740994.0), NX)
        );
        assert_eq!(
            fcvt_from_int(D, Rounding::Rne, IntKind::I32, (-3i64) as u64),
            (d(-3.0), 0)
        );
        assert_eq!(fcvt_from_int(D, Rounding::Rdn, IntKind::I64, 0), (0, 0));
        assert_eq!(
            fcvt_from_int(S, Rounding::Rne, IntKind::U64, u64::MAX),
            (box_s(2f32.powi(64).to_bits()), NX)
        );
        assert_eq!(
            fcvt_from_int(S, Rounding::Rtz, IntKind::U32, 0xffff_ffff),
            (box_s(0x4f7f_ffff), NX)
        );
    }

    #[test]
    fn nan_boxing_and_min_max() {
        let rne = Rounding::Rne;
        let one = box_s(1.0f32.to_bits());
        assert_eq!(
            fbin(FBinOp::Fadd, S, rne, one, one),
            (box_s(2.0f32.to_bits()), 0)
        );
        // An improperly boxed operand reads as the canonical NaN.
        let bad = 1.0f32.to_bits() as u64;
        assert_eq!(
            fbin(FBinOp::Fadd, S, rne, bad, one),
            (box_s(CANONICAL_NAN_S), 0)
        );
        assert_eq!(fbin(FBinOp::Fmin, S, rne, bad, one), (one, 0));
        let (pz, nz) = (d(0.0), d(-0.0));
        assert_eq!(fbin(FBinOp::Fmin, D, rne, pz, nz), (nz, 0));
        assert_eq!(fbin(FBinOp::Fmax, D, rne, nz, pz), (pz, 0));
        let snan = 0x7ff0_0000_0000_0001;
        assert_eq!(fbin(FBinOp::Fmax, D, rne, snan, d(1.0)), (d(1.0), NV));
        assert_eq!(
            fbin(FBinOp::Fmax, D, rne, CANONICAL_NAN_D, CANONICAL_NAN_D),
            (CANONICAL_NAN_D, 0)
        );
        // 0/0 is the canonical NaN, not x86's negative default NaN.
        assert_eq!(fbin(FBinOp::Fdiv, D, rne, pz, pz), (CANONICAL_NAN_D, NV));
        // A NaN operand's payload does not propagate.
        assert_eq!(
            fbin(FBinOp::Fadd, D, rne, 0xfff8_0000_0000_1234, pz),
            (CANONICAL_NAN_D, 0)
        );
    }

    #[test]
    fn rounding_modes_and_flags() {
        let third = |rm| fbin(FBinOp::Fdiv, D, rm, d(1.0), d(3.0));
        assert_eq!(third(Rounding::Rne), (0x3fd5_5555_5555_5555, NX));
        assert_eq!(third(Rounding::Rup), (0x3fd5_5555_5555_5556, NX));
        assert_eq!(third(Rounding::Rdn), (0x3fd5_5555_5555_5555, NX));
        assert_eq!(third(Rounding::Rmm), (0x3fd5_5555_5555_5555, NX));
        assert_eq!(
            fbin(FBinOp::Fdiv, D, Rounding::Rne, d(1.0), d(0.0)),
            (d(f64::INFINITY), DZ)
        );
        // A tie: 1 + 2^-53 rounds to even (1) in rne, away (1 + 2^-52) in rmm.
        let tie = d(2f64.powi(-53));
        assert_eq!(
            fbin(FBinOp::Fadd, D, Rounding::Rne, d(1.0), tie),
            (d(1.0), NX)
        );
        assert_eq!(
            fbin(FBinOp::Fadd, D, Rounding::Rmm, d(1.0), tie),
            (d(1.0) + 1, NX)
        );
        // Overflow: to inf in rne, to the largest finite in rtz.
        let max = d(f64::MAX);
        assert_eq!(
            fbin(FBinOp::Fadd, D, Rounding::Rne, max, max),
            (d(f64::INFINITY), OF | NX)
        );
        assert_eq!(
            fbin(FBinOp::Fadd, D, Rounding::Rtz, max, max),
            (max, OF | NX)
        );
        assert_eq!(
            fbin(FBinOp::Fadd, D, Rounding::Rmm, max, max),
            (d(f64::INFINITY), OF | NX)
        );
        // A subnormal, inexact result underflows; an exact one does not.
        let min = d(f64::MIN_POSITIVE);
        assert_eq!(fbin(FBinOp::Fmul, D, Rounding::Rne, min, d(0.5)).1, 0);
        assert_eq!(
            fbin(FBinOp::Fmul, D, Rounding::Rne, min, d(1.0 / 3.0)).1,
            UF | NX
        );
        assert_eq!(
            fbin(FBinOp::Fmul, D, Rounding::Rmm, min, d(1.0 / 3.0)).1,
            UF | NX
        );
        assert_eq!(fsqrt(D, Rounding::Rne, d(-1.0)), (CANONICAL_NAN_D, NV));
        assert_eq!(
            fsqrt(D, Rounding::Rmm, d(2.0)),
            fsqrt(D, Rounding::Rne, d(2.0))
        );
    }

    /// After-rounding tininess: results that round to the smallest normal
    /// 2^-1022 from below. The exact value 2^-1022 - 2^-1075 is a 53-bit
    /// number below 2^-1022 (tiny with an unbounded exponent), and halfway
    /// between two subnormal-grid neighbours, so rne and rmm round it up to
    /// 2^-1022: UF all the same. 2^-1022 - 2^-1076 rounds to 2^-1022 even
    /// with an unbounded exponent in rne, rmm and rup: not tiny, no UF.
    #[test]
    fn underflow_is_detected_after_rounding() {
        let min = d(f64::MIN_POSITIVE);
        let just_below_one = d(1.0 - 2f64.powi(-53));
        for rm in [Rounding::Rne, Rounding::Rmm] {
            let r = fbin(FBinOp::Fmul, D, rm, min, just_below_one);
            assert_eq!(r, (min, UF | NX), "tiny, rounded up: {rm:?}");
        }
        // (2^-1022 (1 - 2^-27)) * (1 + 2^-27) = 2^-1022 - 2^-1076.
        let a = d(f64::MIN_POSITIVE * (1.0 - 2f64.powi(-27)));
        let b = d(1.0 + 2f64.powi(-27));
        for rm in [Rounding::Rne, Rounding::Rmm, Rounding::Rup] {
            assert_eq!(
                fbin(FBinOp::Fmul, D, rm, a, b),
                (min, NX),
                "not tiny: {rm:?}"
            );
            assert_eq!(
                fma(D, rm, false, false, a, b, d(0.0)),
                (min, NX),
                "fma: {rm:?}"
            );
        }
        for rm in [Rounding::Rtz, Rounding::Rdn] {
            assert_eq!(
                fbin(FBinOp::Fmul, D, rm, a, b),
                (min - 1, UF | NX),
                "{rm:?}"
            );
        }
        // The same for fcvt.s.d, whose rmm path is in software.
        let min_s = f32::MIN_POSITIVE as f64;
        let tiny = d(min_s - min_s * 2f64.powi(-24));
        assert_eq!(
            fcvt_float(D, Rounding::Rmm, tiny),
            (box_s(0x0080_0000), UF | NX)
        );
        assert_eq!(
            fcvt_float(D, Rounding::Rne, tiny),
            (box_s(0x0080_0000), UF | NX)
        );
        let not_tiny = d(min_s - min_s * 2f64.powi(-25));
        assert_eq!(
            fcvt_float(D, Rounding::Rmm, not_tiny),
            (box_s(0x0080_0000), NX)
        );
        assert_eq!(
            fcvt_float(D, Rounding::Rne, not_tiny),
            (box_s(0x0080_0000), NX)
        );
    }

    #[test]
    fn fused_multiply_add() {
        let inf = d(f64::INFINITY);
        assert_eq!(
            fma(D, Rounding::Rne, false, false, d(0.0), inf, CANONICAL_NAN_D),
            (CANONICAL_NAN_D, NV)
        );
        assert_eq!(
            fma(D, Rounding::Rmm, false, false, inf, d(0.0), CANONICAL_NAN_D),
            (CANONICAL_NAN_D, NV)
        );
        assert_eq!(
            fma(D, Rounding::Rne, false, false, d(2.0), d(3.0), d(1.0)),
            (d(7.0), 0)
        );
        assert_eq!(
            fma(D, Rounding::Rne, true, true, d(2.0), d(3.0), d(1.0)),
            (d(-7.0), 0)
        );
        // One rounding: (1 + 2^-30)^2 - 1 keeps the 2^-60 term.
        let x = d(1.0 + 2f64.powi(-30));
        let r = fma(D, Rounding::Rne, false, true, x, x, d(1.0));
        assert_eq!(r, (d(2f64.powi(-29) + 2f64.powi(-60)), 0));
    }

    #[test]
    fn comparisons_signal_as_risc_v_says() {
        let q = CANONICAL_NAN_D;
        let s = 0x7ff0_0000_0000_0001;
        assert_eq!(fcmp(FloatCC::Eq, D, q, d(1.0)), (0, 0));
        assert_eq!(fcmp(FloatCC::Eq, D, s, d(1.0)), (0, NV));
        assert_eq!(fcmp(FloatCC::Lt, D, q, d(1.0)), (0, NV));
        assert_eq!(fcmp(FloatCC::Le, D, d(1.0), q), (0, NV));
        assert_eq!(fcmp(FloatCC::Eq, D, d(0.0), d(-0.0)), (1, 0));
        assert_eq!(fcmp(FloatCC::Lt, D, d(-0.0), d(0.0)), (0, 0));
        assert_eq!(fcmp(FloatCC::Le, D, d(-1.0), d(-0.5)), (1, 0));
        assert_eq!(
            fcmp(FloatCC::Lt, D, d(f64::NEG_INFINITY), d(-1e308)),
            (1, 0)
        );
    }

    #[test]
    fn float_to_float() {
        assert_eq!(
            fcvt_float(S, Rounding::Rne, box_s(1.5f32.to_bits())),
            (d(1.5), 0)
        );
        assert_eq!(
            fcvt_float(S, Rounding::Rne, box_s(1)),
            (d(f32::from_bits(1) as f64), 0)
        );
        assert_eq!(
            fcvt_float(S, Rounding::Rne, box_s(0x7f80_0001)),
            (CANONICAL_NAN_D, NV)
        );
        assert_eq!(
            fcvt_float(D, Rounding::Rne, d(1e300)),
            (box_s(0x7f80_0000), OF | NX)
        );
        assert_eq!(
            fcvt_float(D, Rounding::Rtz, d(1e300)),
            (box_s(0x7f7f_ffff), OF | NX)
        );
        assert_eq!(
            fcvt_float(D, Rounding::Rmm, d(1e300)),
            (box_s(0x7f80_0000), OF | NX)
        );
        let third = d(1.0 / 3.0);
        // 1/3 rounded to binary32 is rounded up in rne.
        assert_eq!(
            fcvt_float(D, Rounding::Rup, third).0,
            box_s((1.0f32 / 3.0).to_bits())
        );
        assert_eq!(
            fcvt_float(D, Rounding::Rdn, third).0,
            box_s((1.0f32 / 3.0).to_bits() - 1)
        );
        assert_eq!(
            fcvt_float(D, Rounding::Rmm, third).0,
            box_s((1.0f32 / 3.0).to_bits())
        );
    }

    #[test]
    fn classifies() {
        assert_eq!(fclass(D, d(f64::NEG_INFINITY)), 1 << 0);
        assert_eq!(fclass(D, d(-0.0)), 1 << 3);
        assert_eq!(fclass(D, d(1.0)), 1 << 6);
        assert_eq!(fclass(D, d(-1e-310)), 1 << 2);
        assert_eq!(fclass(D, CANONICAL_NAN_D), 1 << 9);
        assert_eq!(fclass(D, 0x7ff0_0000_0000_0001), 1 << 8);
        assert_eq!(fclass(S, box_s(1)), 1 << 5);
        assert_eq!(fclass(S, 1), 1 << 9);
    }

    #[test]
    fn no_host_flags_leak_and_the_accumulator_round_trips() {
        host_flags::clear();
        let _ = fbin(FBinOp::Fdiv, D, Rounding::Rne, d(1.0), d(0.0));
        let _ = fbin(FBinOp::Fdiv, D, Rounding::Rmm, d(1.0), d(3.0));
        let _ = fcvt_to_int(D, Rounding::Rne, IntKind::I32, CANONICAL_NAN_D);
        let _ = fma(S, Rounding::Rup, false, false, box_s(1), box_s(1), box_s(1));
        assert_eq!(host_flags::take(), 0);
        host_flags::raise(NV | DZ | OF | UF | NX);
        assert_eq!(host_flags::take(), NV | DZ | OF | UF | NX);
        assert_eq!(host_flags::take(), 0);
    }

    /// The exact functions do not depend on the ambient rounding mode,
    /// and leave it as it was.
    #[test]
    fn ambient_rounding_mode_is_kept_and_ignored() {
        host_flags::enter(Rounding::Rup);
        let r = fbin(FBinOp::Fdiv, D, Rounding::Rne, d(1.0), d(3.0));
        let s = fbin(FBinOp::Fdiv, D, Rounding::Rdn, d(1.0), d(3.0));
        let ambient = std::hint::black_box(1.0f64) / std::hint::black_box(3.0f64);
        assert_eq!(host_flags::leave(), NX);
        assert_eq!(r, (0x3fd5_5555_5555_5555, NX));
        assert_eq!(s, (0x3fd5_5555_5555_5555, NX));
        assert_eq!(ambient.to_bits(), 0x3fd5_5555_5555_5556, "rup ambient");
        let back = std::hint::black_box(1.0f64) / std::hint::black_box(3.0f64);
        assert_eq!(back.to_bits(), 0x3fd5_5555_5555_5555, "rne after leave");
        host_flags::clear();
    }
}
