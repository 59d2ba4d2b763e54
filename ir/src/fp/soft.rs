//! Arithmetic the host FPU cannot give: round-to-nearest-ties-away
//! (`rmm`), which x86 lacks, and fused multiply-add on hosts without FMA3.
//! Computed with `rustc_apfloat` (a port of LLVM's APFloat), whose status
//! flags are IEEE 754's except in one corner, fixed here:
//!
//! APFloat raises underflow when the result *after rounding to the
//! destination format* is subnormal (or zero) and inexact. RISC-V detects
//! tininess after rounding as IEEE 754 defines it: the result rounded to the
//! destination's precision *with an unbounded exponent range* is below the
//! smallest normal. The two differ only when the rounded result is exactly
//! ±(smallest normal) and inexact, while the unbounded-range rounding
//! would have stayed below it. In that case the operation is repeated in a
//! format with the same precision and a wider exponent range, which is that
//! unbounded-range rounding, and its magnitude decides.
//!
//! NaN results are returned as APFloat makes them; callers canonicalize.

use rustc_apfloat::ieee::{Double, IeeeFloat, Semantics, Single};
use rustc_apfloat::{Float, FloatConvert, Round, Status, StatusAnd};

use super::{DZ, NV, NX, OF, UF};
use crate::Rounding;

/// binary64's precision with a 20-bit exponent: no result of an operation
/// on binary64 operands over- or underflows in it.
struct WideDoubleSemantics;
impl Semantics for WideDoubleSemantics {
    const BITS: usize = 53 + 20;
    const EXP_BITS: usize = 20;
}
type WideDouble = IeeeFloat<WideDoubleSemantics>;

/// binary32's precision with a 20-bit exponent.
struct WideSingleSemantics;
impl Semantics for WideSingleSemantics {
    const BITS: usize = 24 + 20;
    const EXP_BITS: usize = 20;
}
type WideSingle = IeeeFloat<WideSingleSemantics>;

/// An operation done in software.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    /// `a * b + c`, one rounding.
    Fma,
}

fn round(rm: Rounding) -> Round {
    match rm {
        Rounding::Rne => Round::NearestTiesToEven,
        Rounding::Rtz => Round::TowardZero,
        Rounding::Rdn => Round::TowardNegative,
        Rounding::Rup => Round::TowardPositive,
        Rounding::Rmm => Round::NearestTiesToAway,
    }
}

fn fflags(s: Status) -> u32 {
    let mut f = 0;
    if s.contains(Status::INVALID_OP) {
        f |= NV;
    }
    if s.contains(Status::DIV_BY_ZERO) {
        f |= DZ;
    }
    if s.contains(Status::OVERFLOW) {
        f |= OF;
    }
    if s.contains(Status::UNDERFLOW) {
        f |= UF;
    }
    if s.contains(Status::INEXACT) {
        f |= NX;
    }
    f
}

fn apply<F: Float>(op: Op, rm: Round, a: F, b: F, c: F) -> StatusAnd<F> {
    match op {
        Op::Add => a.add_r(b, rm),
        Op::Sub => a.sub_r(b, rm),
        Op::Mul => a.mul_r(b, rm),
        Op::Div => a.div_r(b, rm),
        Op::Fma => a.mul_add_r(b, c, rm),
    }
}

/// `op` on three values of format `F`, with RISC-V's underflow rule (see
/// the module doc); `W` is `F`'s precision with a wide exponent range.
fn exact<F, W>(op: Op, rm: Rounding, a: F, b: F, c: F) -> (F, u32)
where
    F: Float + FloatConvert<W>,
    W: Float,
{
    let r = apply(op, round(rm), a, b, c);
    let mut flags = fflags(r.status);
    if r.status.contains(Status::INEXACT)
        && !r.status.contains(Status::UNDERFLOW)
        && r.value.abs() == F::smallest_normalized()
    {
        let wide = |x: F| x.convert(&mut false).value;
        let w = apply(op, round(rm), wide(a), wide(b), wide(c)).value;
        let min: W = wide(F::smallest_normalized());
        if w.abs() < min {
            flags |= UF;
        }
    }
    (r.value, flags)
}

/// `op` on binary64 bit patterns: the result (NaNs as APFloat makes them)
/// and its `fflags`.
pub(super) fn op_d(op: Op, rm: Rounding, a: u64, b: u64, c: u64) -> (u64, u32) {
    let f = |x: u64| Double::from_bits(x.into());
    let (r, flags) = exact::<Double, WideDouble>(op, rm, f(a), f(b), f(c));
    (r.to_bits() as u64, flags)
}

/// `op` on binary32 bit patterns; see [`op_d`].
pub(super) fn op_s(op: Op, rm: Rounding, a: u32, b: u32, c: u32) -> (u32, u32) {
    let f = |x: u32| Single::from_bits(x.into());
    let (r, flags) = exact::<Single, WideSingle>(op, rm, f(a), f(b), f(c));
    (r.to_bits() as u32, flags)
}

/// binary64 to binary32 under `rm`, with RISC-V's underflow rule.
pub(super) fn demote(rm: Rounding, a: u64) -> (u32, u32) {
    let x = Double::from_bits(a.into());
    let r: StatusAnd<Single> = x.convert_r(round(rm), &mut false);
    let mut flags = fflags(r.status);
    if r.status.contains(Status::INEXACT)
        && !r.status.contains(Status::UNDERFLOW)
        && r.value.abs() == Single::smallest_normalized()
    {
        let w: WideSingle = x.convert_r(round(rm), &mut false).value;
        let min: WideSingle = Single::smallest_normalized().convert(&mut false).value;
        if w.abs() < min {
            flags |= UF;
        }
    }
    (r.value.to_bits() as u32, flags)
}
