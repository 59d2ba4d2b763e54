//! Host functions that translated code calls for the float ops it does not
//! lower inline. Each takes an encoded operation word first, defers to
//! [`cranemu_ir::fp`] (the same definition the reference interpreter uses),
//! adds the exception flags it returns to the thread's float-flag
//! accumulator ([`cranemu_ir::fp::host_flags`]) and returns the result.

use cranemu_ir::fp::{self, host_flags};
use cranemu_ir::{FBinOp, FloatCC, FpWidth, IntKind, Rounding};

fn width(x: u64) -> FpWidth {
    if x & 1 == 0 {
        FpWidth::S
    } else {
        FpWidth::D
    }
}

fn w_bit(w: FpWidth) -> u64 {
    match w {
        FpWidth::S => 0,
        FpWidth::D => 1,
    }
}

const KINDS: [IntKind; 4] = [IntKind::I32, IntKind::U32, IntKind::I64, IntKind::U64];
const ROUNDINGS: [Rounding; 5] = [
    Rounding::Rne,
    Rounding::Rtz,
    Rounding::Rdn,
    Rounding::Rup,
    Rounding::Rmm,
];
const FBINOPS: [FBinOp; 6] = [
    FBinOp::Fadd,
    FBinOp::Fsub,
    FBinOp::Fmul,
    FBinOp::Fdiv,
    FBinOp::Fmin,
    FBinOp::Fmax,
];

fn kind_index(k: IntKind) -> u64 {
    KINDS.iter().position(|&x| x == k).unwrap_or(0) as u64
}

/// Bits 3..6 of an operation word: the rounding mode.
fn rm_bits(rm: Rounding) -> u64 {
    (ROUNDINGS.iter().position(|&x| x == rm).unwrap_or(0) as u64) << 3
}

fn rm_of(opc: u64) -> Rounding {
    ROUNDINGS
        .get(((opc >> 3) & 7) as usize)
        .copied()
        .unwrap_or(Rounding::Rne)
}

fn accrue((r, f): (u64, u32)) -> u64 {
    if f != 0 {
        host_flags::raise(f);
    }
    r
}

pub(crate) fn encode_fbin(op: FBinOp, w: FpWidth, rm: Rounding) -> u64 {
    let op = FBINOPS.iter().position(|&x| x == op).unwrap_or(0) as u64;
    w_bit(w) | rm_bits(rm) | op << 6
}

pub(crate) extern "C" fn fbin(opc: u64, a: u64, b: u64) -> u64 {
    let op = FBINOPS
        .get(((opc >> 6) & 7) as usize)
        .copied()
        .unwrap_or(FBinOp::Fadd);
    accrue(fp::fbin(op, width(opc), rm_of(opc), a, b))
}

pub(crate) fn encode_sqrt(w: FpWidth, rm: Rounding) -> u64 {
    w_bit(w) | rm_bits(rm)
}

pub(crate) extern "C" fn sqrt(opc: u64, a: u64) -> u64 {
    accrue(fp::fsqrt(width(opc), rm_of(opc), a))
}

pub(crate) fn encode_fma(w: FpWidth, rm: Rounding, neg_product: bool, neg_addend: bool) -> u64 {
    w_bit(w) | (neg_product as u64) << 1 | (neg_addend as u64) << 2 | rm_bits(rm)
}

pub(crate) extern "C" fn fma(opc: u64, a: u64, b: u64, c: u64) -> u64 {
    accrue(fp::fma(
        width(opc),
        rm_of(opc),
        opc & 2 != 0,
        opc & 4 != 0,
        a,
        b,
        c,
    ))
}

pub(crate) fn encode_fcmp(cc: FloatCC, w: FpWidth) -> u64 {
    let cc = match cc {
        FloatCC::Eq => 0,
        FloatCC::Lt => 1,
        FloatCC::Le => 2,
    };
    w_bit(w) | cc << 1
}

/// The exact comparison, for the inline one's unordered (NaN) path.
pub(crate) extern "C" fn fcmp(opc: u64, a: u64, b: u64) -> u64 {
    let cc = match (opc >> 1) & 3 {
        0 => FloatCC::Eq,
        1 => FloatCC::Lt,
        _ => FloatCC::Le,
    };
    accrue(fp::fcmp(cc, width(opc), a, b))
}

pub(crate) fn encode_to_int(w: FpWidth, rm: Rounding, to: IntKind) -> u64 {
    w_bit(w) | kind_index(to) << 1 | rm_bits(rm)
}

pub(crate) extern "C" fn to_int(opc: u64, a: u64) -> u64 {
    let kind = KINDS[((opc >> 1) & 3) as usize];
    accrue(fp::fcvt_to_int(width(opc), rm_of(opc), kind, a))
}

pub(crate) fn encode_from_int(w: FpWidth, rm: Rounding, from: IntKind) -> u64 {
    w_bit(w) | kind_index(from) << 1 | rm_bits(rm)
}

pub(crate) extern "C" fn from_int(opc: u64, a: u64) -> u64 {
    let kind = KINDS[((opc >> 1) & 3) as usize];
    accrue(fp::fcvt_from_int(width(opc), rm_of(opc), kind, a))
}

pub(crate) fn encode_cvt_float(from: FpWidth, rm: Rounding) -> u64 {
    w_bit(from) | rm_bits(rm)
}

pub(crate) extern "C" fn cvt_float(opc: u64, a: u64) -> u64 {
    accrue(fp::fcvt_float(width(opc), rm_of(opc), a))
}

pub(crate) extern "C" fn class(w: u64, a: u64) -> u64 {
    fp::fclass(width(w), a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_words_round_trip() {
        for (i, &rm) in ROUNDINGS.iter().enumerate() {
            assert_eq!(rm_of(rm_bits(rm)), rm, "{i}");
            for &op in &FBINOPS {
                let opc = encode_fbin(op, FpWidth::D, rm);
                assert_eq!((width(opc), rm_of(opc)), (FpWidth::D, rm));
                assert_eq!(FBINOPS[((opc >> 6) & 7) as usize], op);
            }
        }
    }
}
