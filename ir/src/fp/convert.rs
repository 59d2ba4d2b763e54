//! Conversions between floating point and integers, in integer arithmetic:
//! exact in every rounding mode, and no host floating-point state involved.
//!
//! Follows the RISC-V Unprivileged ISA, F chapter, "Single-Precision
//! Floating-Point Conversion and Move Instructions" (table "Domains of
//! float-to-integer conversions and behavior for invalid inputs"): out of
//! range and NaN inputs saturate and raise only NV; otherwise an inexact
//! result raises NX. 32-bit results are sign-extended to 64 bits, `wu`
//! included.

use super::{Class, Parts, NV, NX};
use crate::{IntKind, Rounding};

/// Whether a value with the given truncated magnitude, dropped `rest`
/// bits and `half` (the weight of the first dropped bit) rounds away
/// from zero under `rm`.
pub(super) fn round_up(rm: Rounding, negative: bool, odd: bool, rest: u128, half: u128) -> bool {
    if rest == 0 {
        return false;
    }
    match rm {
        Rounding::Rne => rest > half || (rest == half && odd),
        Rounding::Rmm => rest >= half,
        Rounding::Rtz => false,
        Rounding::Rdn => negative,
        Rounding::Rup => !negative,
    }
}

/// The saturated result for an invalid conversion: the most positive
/// value for NaN and positive overflow, the most negative for negative
/// overflow (0 for unsigned kinds).
fn saturate(to: IntKind, negative: bool) -> u64 {
    let v: i64 = match (to, negative) {
        (IntKind::I32, false) => i32::MAX.into(),
        (IntKind::I32, true) => i32::MIN.into(),
        (IntKind::U32, false) => u32::MAX as i32 as i64,
        (IntKind::I64, false) => i64::MAX,
        (IntKind::I64, true) => i64::MIN,
        (IntKind::U64, false) => -1,
        (IntKind::U32 | IntKind::U64, true) => 0,
    };
    v as u64
}

/// Float (decomposed) to integer: the 64-bit register value and `fflags`.
pub(super) fn to_int(p: Parts, rm: Rounding, to: IntKind) -> (u64, u32) {
    let (sig, exp) = match p.class {
        Class::Nan { .. } => return (saturate(to, false), NV),
        Class::Inf => return (saturate(to, p.negative), NV),
        Class::Zero => return (0, 0),
        Class::Finite { sig, exp } => (sig, exp),
    };
    // value = sig * 2^exp, sig < 2^53.
    let (magnitude, inexact) = if exp >= 0 {
        if exp > 64 {
            return (saturate(to, p.negative), NV);
        }
        ((sig as u128) << exp, false)
    } else {
        let shift = (-exp) as u32;
        let (int, rest, half) = if shift >= 100 {
            (0, sig as u128, 1u128 << 99)
        } else {
            let mask = (1u128 << shift) - 1;
            (
                (sig as u128) >> shift,
                sig as u128 & mask,
                1u128 << (shift - 1),
            )
        };
        let up = round_up(rm, p.negative, int & 1 == 1, rest, half);
        (int + up as u128, rest != 0)
    };
    let limit: u128 = match (to, p.negative) {
        (IntKind::I32, false) => i32::MAX as u128,
        (IntKind::I32, true) => 1 << 31,
        (IntKind::U32, false) => u32::MAX as u128,
        (IntKind::I64, false) => i64::MAX as u128,
        (IntKind::I64, true) => 1 << 63,
        (IntKind::U64, false) => u64::MAX as u128,
        (IntKind::U32 | IntKind::U64, true) => 0,
    };
    if magnitude > limit {
        return (saturate(to, p.negative), NV);
    }
    let m = magnitude as u64;
    let v = if p.negative { m.wrapping_neg() } else { m };
    let v = match to {
        IntKind::I32 | IntKind::U32 => v as i32 as i64 as u64,
        IntKind::I64 | IntKind::U64 => v,
    };
    (v, if inexact { NX } else { 0 })
}

/// Integer to float: the binary32 (`precision` 24) or binary64 (53) bit
/// pattern, not NaN-boxed, and `fflags` (only NX: no 64-bit integer
/// overflows either format).
pub(super) fn from_int(precision: u32, rm: Rounding, from: IntKind, a: u64) -> (u64, u32) {
    let (negative, magnitude) = match from {
        IntKind::I32 => {
            let v = a as i32;
            (v < 0, u64::from(v.unsigned_abs()))
        }
        IntKind::U32 => (false, u64::from(a as u32)),
        IntKind::I64 => {
            let v = a as i64;
            (v < 0, v.unsigned_abs())
        }
        IntKind::U64 => (false, a),
    };
    let (exp_bits, bias) = if precision == 24 {
        (8, 127)
    } else {
        (11, 1023)
    };
    let sign = u64::from(negative) << (precision + exp_bits - 1);
    if magnitude == 0 {
        // An integer zero converts to +0 in every rounding mode.
        return (0, 0);
    }
    // The value is magnitude = 1.f * 2^e.
    let mut e = 63 - magnitude.leading_zeros();
    let (mut sig, inexact) = if e < precision {
        (magnitude << (precision - 1 - e), false)
    } else {
        let shift = e - (precision - 1);
        let int = magnitude >> shift;
        let rest = u128::from(magnitude & ((1u64 << shift) - 1));
        let half = 1u128 << (shift - 1);
        let up = round_up(rm, negative, int & 1 == 1, rest, half);
        (int + up as u64, rest != 0)
    };
    if sig == 1 << precision {
        sig >>= 1;
        e += 1;
    }
    let fraction = sig & ((1 << (precision - 1)) - 1);
    let biased = u64::from(e + bias);
    (
        sign | biased << (precision - 1) | fraction,
        if inexact { NX } else { 0 },
    )
}
