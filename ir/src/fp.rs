//! Floating-point semantics of the IR's float ops, on raw bit patterns.
//!
//! One definition serves both the reference interpreter and the JIT (whose
//! helpers call these functions), so the two cannot disagree.
//!
//! Follows the RISC-V F and D extensions (Unprivileged ISA, chapters 13 and
//! 14): NaN results are the canonical NaN, single-precision values are
//! NaN-boxed in 64-bit registers, conversions to integers saturate.
//! Approximate for now: every arithmetic op rounds to nearest-even whatever
//! the instruction's `rm`, and `fflags` are not raised. Integer conversions
//! do honour a static rounding mode.

use crate::{FBinOp, FloatCC, FpWidth, IntKind, Rounding};

/// The canonical single-precision NaN, `0x7fc00000`.
pub const CANONICAL_NAN_S: u32 = 0x7fc0_0000;
/// The canonical double-precision NaN, `0x7ff8000000000000`.
pub const CANONICAL_NAN_D: u64 = 0x7ff8_0000_0000_0000;

/// Reads a binary32 operand from a 64-bit register value: the low 32 bits
/// if the upper 32 are all ones (properly NaN-boxed), else the canonical NaN.
pub fn unbox_s(x: u64) -> f32 {
    if x >> 32 == 0xffff_ffff {
        f32::from_bits(x as u32)
    } else {
        f32::from_bits(CANONICAL_NAN_S)
    }
}

/// NaN-boxes a binary32 bit pattern.
pub fn box_s(bits: u32) -> u64 {
    0xffff_ffff_0000_0000 | bits as u64
}

// Under LLVM's semantics a NaN produced by a float op has an unspecified
// payload, so it may "refine" `if isnan(r) { CANONICAL } else { bits(r) }`
// into `bits(r)`, and it does (rustc 1.95, seen for `fsqrt`): x86's negative
// default NaN then leaks out. `black_box` hides the result from that
// reasoning; the test `host_flags_capture_invalid_and_inexact` catches a
// regression.
fn res_s(x: f32) -> u64 {
    let bits = std::hint::black_box(x).to_bits();
    box_s(if bits & 0x7fff_ffff > 0x7f80_0000 {
        CANONICAL_NAN_S
    } else {
        bits
    })
}

fn res_d(x: f64) -> u64 {
    let bits = std::hint::black_box(x).to_bits();
    if bits & 0x7fff_ffff_ffff_ffff > 0x7ff0_0000_0000_0000 {
        CANONICAL_NAN_D
    } else {
        bits
    }
}

fn min_max<F: Copy + PartialOrd>(
    is_max: bool,
    a: F,
    b: F,
    nan: fn(F) -> bool,
    neg: fn(F) -> bool,
) -> Option<F> {
    match (nan(a), nan(b)) {
        (true, true) => None,
        (true, false) => Some(b),
        (false, true) => Some(a),
        _ => {
            // -0.0 < +0.0 for fmin/fmax (Unprivileged ISA, 14.6).
            if a == b {
                Some(if neg(a) != is_max { a } else { b })
            } else if (a < b) != is_max {
                Some(a)
            } else {
                Some(b)
            }
        }
    }
}

/// `a op b` for [`crate::Inst::Fbin`].
pub fn fbin(op: FBinOp, w: FpWidth, a: u64, b: u64) -> u64 {
    match w {
        FpWidth::S => {
            let (x, y) = (unbox_s(a), unbox_s(b));
            let r = match op {
                FBinOp::Fadd => x + y,
                FBinOp::Fsub => x - y,
                FBinOp::Fmul => x * y,
                FBinOp::Fdiv => x / y,
                FBinOp::Fmin | FBinOp::Fmax => {
                    min_max(op == FBinOp::Fmax, x, y, f32::is_nan, f32::is_sign_negative)
                        .unwrap_or(f32::NAN)
                }
            };
            res_s(r)
        }
        FpWidth::D => {
            let (x, y) = (f64::from_bits(a), f64::from_bits(b));
            let r = match op {
                FBinOp::Fadd => x + y,
                FBinOp::Fsub => x - y,
                FBinOp::Fmul => x * y,
                FBinOp::Fdiv => x / y,
                FBinOp::Fmin | FBinOp::Fmax => {
                    min_max(op == FBinOp::Fmax, x, y, f64::is_nan, f64::is_sign_negative)
                        .unwrap_or(f64::NAN)
                }
            };
            res_d(r)
        }
    }
}

/// `sqrt(a)` for [`crate::Inst::Fsqrt`].
pub fn fsqrt(w: FpWidth, a: u64) -> u64 {
    match w {
        FpWidth::S => res_s(unbox_s(a).sqrt()),
        FpWidth::D => res_d(f64::from_bits(a).sqrt()),
    }
}

/// `±(a*b) ± c` with a single rounding, for [`crate::Inst::Fma`].
pub fn fma(w: FpWidth, neg_product: bool, neg_addend: bool, a: u64, b: u64, c: u64) -> u64 {
    match w {
        FpWidth::S => {
            let mut x = unbox_s(a);
            let mut z = unbox_s(c);
            if neg_product {
                x = -x;
            }
            if neg_addend {
                z = -z;
            }
            res_s(x.mul_add(unbox_s(b), z))
        }
        FpWidth::D => {
            let mut x = f64::from_bits(a);
            let mut z = f64::from_bits(c);
            if neg_product {
                x = -x;
            }
            if neg_addend {
                z = -z;
            }
            res_d(x.mul_add(f64::from_bits(b), z))
        }
    }
}

/// `a cc b` giving 0 or 1, for [`crate::Inst::Fcmp`].
pub fn fcmp(cc: FloatCC, w: FpWidth, a: u64, b: u64) -> u64 {
    let (x, y) = match w {
        FpWidth::S => (unbox_s(a) as f64, unbox_s(b) as f64),
        FpWidth::D => (f64::from_bits(a), f64::from_bits(b)),
    };
    (match cc {
        FloatCC::Eq => x == y,
        FloatCC::Lt => x < y,
        FloatCC::Le => x <= y,
    }) as u64
}

fn round(x: f64, rm: Rounding) -> f64 {
    match rm {
        Rounding::Rne => x.round_ties_even(),
        Rounding::Rtz => x.trunc(),
        Rounding::Rdn => x.floor(),
        Rounding::Rup => x.ceil(),
        Rounding::Rmm => x.round(),
    }
}

/// Float to integer for [`crate::Inst::FcvtToInt`]: rounds as `rm` says and
/// saturates (NaN gives the maximum), per the Unprivileged ISA, table 14.4.
/// 32-bit results are sign-extended to 64 bits.
pub fn fcvt_to_int(w: FpWidth, rm: Rounding, to: IntKind, a: u64) -> u64 {
    let x = match w {
        FpWidth::S => unbox_s(a) as f64,
        FpWidth::D => f64::from_bits(a),
    };
    let r = round(x, rm);
    // Saturation and inexactness are computed here, not left to the host
    // conversion: NV for NaN or a rounded value out of range, else NX if
    // rounding changed the value (Unprivileged ISA, 14.7).
    let (lo, hi) = match to {
        IntKind::I32 => (i32::MIN as f64, i32::MAX as f64),
        IntKind::U32 => (0.0, u32::MAX as f64),
        IntKind::I64 => (i64::MIN as f64, 9223372036854775807.0),
        IntKind::U64 => (0.0, 18446744073709551615.0),
    };
    let in_range = match to {
        // 2^63 and 2^64 are not representable: compare strictly.
        IntKind::I64 | IntKind::U64 => r >= lo && r < hi,
        _ => r >= lo && r <= hi,
    };
    if x.is_nan() || !in_range {
        host_flags::raise(host_flags::NV);
    } else if r != x {
        host_flags::raise(host_flags::NX);
    }
    match to {
        IntKind::I32 => {
            let v = if x.is_nan() { i32::MAX } else { r as i32 };
            v as i64 as u64
        }
        IntKind::U32 => {
            let v = if x.is_nan() { u32::MAX } else { r as u32 };
            v as i32 as i64 as u64
        }
        IntKind::I64 => (if x.is_nan() { i64::MAX } else { r as i64 }) as u64,
        IntKind::U64 => {
            if x.is_nan() {
                u64::MAX
            } else {
                r as u64
            }
        }
    }
}

/// Integer to float for [`crate::Inst::FcvtFromInt`], round-to-nearest-even.
pub fn fcvt_from_int(w: FpWidth, from: IntKind, a: u64) -> u64 {
    match w {
        FpWidth::S => box_s(
            match from {
                IntKind::I32 => a as i32 as f32,
                IntKind::U32 => a as u32 as f32,
                IntKind::I64 => a as i64 as f32,
                IntKind::U64 => a as f32,
            }
            .to_bits(),
        ),
        FpWidth::D => match from {
            IntKind::I32 => a as i32 as f64,
            IntKind::U32 => a as u32 as f64,
            IntKind::I64 => a as i64 as f64,
            IntKind::U64 => a as f64,
        }
        .to_bits(),
    }
}

/// Float to float of the other width, for [`crate::Inst::FcvtFloat`].
pub fn fcvt_float(from: FpWidth, a: u64) -> u64 {
    match from {
        FpWidth::S => res_d(unbox_s(a) as f64),
        FpWidth::D => res_s(f64::from_bits(a) as f32),
    }
}

/// RISC-V `fclass` (Unprivileged ISA, table 14.5): bit 0 -inf, 1 negative
/// normal, 2 negative subnormal, 3 -0, 4 +0, 5 positive subnormal,
/// 6 positive normal, 7 +inf, 8 signaling NaN, 9 quiet NaN.
pub fn fclass(w: FpWidth, a: u64) -> u64 {
    use core::num::FpCategory::*;
    let (cat, neg, quiet) = match w {
        FpWidth::S => {
            let x = unbox_s(a);
            (
                x.classify(),
                x.is_sign_negative(),
                x.to_bits() & 0x0040_0000 != 0,
            )
        }
        FpWidth::D => {
            let x = f64::from_bits(a);
            (
                x.classify(),
                x.is_sign_negative(),
                x.to_bits() & 0x0008_0000_0000_0000 != 0,
            )
        }
    };
    let bit = match (cat, neg) {
        (Infinite, true) => 0,
        (Normal, true) => 1,
        (Subnormal, true) => 2,
        (Zero, true) => 3,
        (Zero, false) => 4,
        (Subnormal, false) => 5,
        (Normal, false) => 6,
        (Infinite, false) => 7,
        (Nan, _) => {
            if quiet {
                9
            } else {
                8
            }
        }
    };
    1 << bit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate_like_risc_v() {
        let nan = CANONICAL_NAN_D;
        assert_eq!(
            fcvt_to_int(FpWidth::D, Rounding::Rtz, IntKind::I32, nan),
            i32::MAX as u64
        );
        assert_eq!(
            fcvt_to_int(FpWidth::D, Rounding::Rtz, IntKind::U64, nan),
            u64::MAX
        );
        let big = 1e300f64.to_bits();
        assert_eq!(
            fcvt_to_int(FpWidth::D, Rounding::Rtz, IntKind::I64, big),
            i64::MAX as u64
        );
        let neg = (-5.5f64).to_bits();
        assert_eq!(fcvt_to_int(FpWidth::D, Rounding::Rtz, IntKind::U32, neg), 0);
        assert_eq!(
            fcvt_to_int(FpWidth::D, Rounding::Rdn, IntKind::I64, neg),
            (-6i64) as u64
        );
        assert_eq!(
            fcvt_to_int(FpWidth::D, Rounding::Rne, IntKind::I64, 2.5f64.to_bits()),
            2
        );
        assert_eq!(
            fcvt_to_int(FpWidth::D, Rounding::Rmm, IntKind::I64, 2.5f64.to_bits()),
            3
        );
        // fcvt.wu.d of 2^32-1 sign-extends the 32-bit result.
        let v = 4294967295.0f64.to_bits();
        assert_eq!(
            fcvt_to_int(FpWidth::D, Rounding::Rtz, IntKind::U32, v),
            u64::MAX
        );
    }

    #[test]
    fn nan_boxing_and_min_max() {
        let one = box_s(1.0f32.to_bits());
        assert_eq!(
            fbin(FBinOp::Fadd, FpWidth::S, one, one),
            box_s(2.0f32.to_bits())
        );
        // An improperly boxed operand reads as the canonical NaN.
        let bad = 1.0f32.to_bits() as u64;
        assert_eq!(
            fbin(FBinOp::Fadd, FpWidth::S, bad, one),
            box_s(CANONICAL_NAN_S)
        );
        assert_eq!(fbin(FBinOp::Fmin, FpWidth::S, bad, one), one);
        let (pz, nz) = (0.0f64.to_bits(), (-0.0f64).to_bits());
        assert_eq!(fbin(FBinOp::Fmin, FpWidth::D, pz, nz), nz);
        assert_eq!(fbin(FBinOp::Fmax, FpWidth::D, nz, pz), pz);
        assert_eq!(
            fbin(FBinOp::Fmax, FpWidth::D, CANONICAL_NAN_D, CANONICAL_NAN_D),
            CANONICAL_NAN_D
        );
        // 0/0 is the canonical NaN, not x86's negative default NaN.
        assert_eq!(fbin(FBinOp::Fdiv, FpWidth::D, pz, pz), CANONICAL_NAN_D);
    }

    #[test]
    fn classifies() {
        assert_eq!(fclass(FpWidth::D, f64::NEG_INFINITY.to_bits()), 1 << 0);
        assert_eq!(fclass(FpWidth::D, (-0.0f64).to_bits()), 1 << 3);
        assert_eq!(fclass(FpWidth::D, 1.0f64.to_bits()), 1 << 6);
        assert_eq!(fclass(FpWidth::D, CANONICAL_NAN_D), 1 << 9);
        assert_eq!(fclass(FpWidth::D, 0x7ff0_0000_0000_0001), 1 << 8);
        assert_eq!(fclass(FpWidth::S, box_s(1)), 1 << 5);
    }
}

/// The host's floating-point exception flags (x86-64 `MXCSR`), which both
/// translated code and the reference interpreter use to compute RISC-V
/// `fflags`: float ops run on the host FPU, and after each guest float
/// instruction a helper moves the host's sticky flags into `fflags`.
///
/// Approximate where x86 and RISC-V disagree: `flt`/`fle` on a quiet NaN
/// do not raise NV here, and `fcvt.*.lu` may miss NX. Exact flags are a
/// later issue's (a soft-float implementation).
pub mod host_flags {
    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)]
    use core::arch::x86_64::{_mm_getcsr, _mm_setcsr};

    /// `MXCSR` exception flag bits: IE, DE, ZE, OE, UE, PE.
    const MXCSR_FLAGS: u32 = 0x3f;

    /// RISC-V `fflags` bits (Unprivileged ISA, table 13.2).
    pub const NV: u32 = 0x10;
    /// Divide by zero.
    pub const DZ: u32 = 0x08;
    /// Overflow.
    pub const OF: u32 = 0x04;
    /// Underflow.
    pub const UF: u32 = 0x02;
    /// Inexact.
    pub const NX: u32 = 0x01;

    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)]
    fn get() -> u32 {
        // SAFETY: reading MXCSR has no preconditions on x86-64 (SSE2 is
        // baseline).
        unsafe { _mm_getcsr() }
    }

    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)]
    fn set(v: u32) {
        // SAFETY: only the sticky exception flags change; masks and the
        // rounding mode are written back as they were.
        unsafe { _mm_setcsr(v) }
    }

    /// Clears the host's sticky exception flags.
    pub fn clear() {
        let v = get();
        if v & MXCSR_FLAGS != 0 {
            set(v & !MXCSR_FLAGS);
        }
    }

    /// Returns the host's sticky exception flags as RISC-V `fflags` bits
    /// and clears them.
    pub fn take() -> u32 {
        let v = get();
        if v & MXCSR_FLAGS == 0 {
            return 0;
        }
        set(v & !MXCSR_FLAGS);
        let mut f = 0;
        if v & 0x01 != 0 {
            f |= NV;
        }
        if v & 0x04 != 0 {
            f |= DZ;
        }
        if v & 0x08 != 0 {
            f |= OF;
        }
        if v & 0x10 != 0 {
            f |= UF;
        }
        if v & 0x20 != 0 {
            f |= NX;
        }
        f
    }

    /// Raises RISC-V `fflags` bits in the host's sticky flags, for results
    /// computed without the host FPU raising them.
    pub fn raise(fflags: u32) {
        let mut m = 0;
        if fflags & NV != 0 {
            m |= 0x01;
        }
        if fflags & NX != 0 {
            m |= 0x20;
        }
        if m != 0 {
            set(get() | m);
        }
    }
}

#[cfg(test)]
mod flag_tests {
    use super::*;

    #[test]
    fn host_flags_capture_invalid_and_inexact() {
        host_flags::clear();
        let r = fsqrt(FpWidth::D, std::hint::black_box((-1.0f64).to_bits()));
        assert_eq!(r, CANONICAL_NAN_D);
        assert_eq!(host_flags::take(), host_flags::NV);
        let _ = fbin(
            FBinOp::Fdiv,
            FpWidth::D,
            std::hint::black_box(1.0f64.to_bits()),
            3.0f64.to_bits(),
        );
        assert_eq!(host_flags::take(), host_flags::NX);
        let _ = fcvt_to_int(
            FpWidth::D,
            Rounding::Rtz,
            IntKind::I32,
            std::hint::black_box(2.5f64.to_bits()),
        );
        assert_eq!(host_flags::take(), host_flags::NX);
        assert_eq!(host_flags::take(), 0);
    }
}
