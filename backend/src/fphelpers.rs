//! Host functions that translated code calls for the float ops it does not
//! lower inline. Each takes an encoded operation word first and defers to
//! [`cranemu_ir::fp`], the same definition the reference interpreter uses.

use cranemu_ir::fp;
use cranemu_ir::{FBinOp, FpWidth, IntKind, Rounding};

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

fn kind_index(k: IntKind) -> u64 {
    KINDS.iter().position(|&x| x == k).unwrap_or(0) as u64
}

pub(crate) fn encode_fbin(op: FBinOp, w: FpWidth) -> u64 {
    w_bit(w) | ((op == FBinOp::Fmax) as u64) << 1
}

pub(crate) extern "C" fn fbin(opc: u64, a: u64, b: u64) -> u64 {
    let op = if opc & 2 != 0 {
        FBinOp::Fmax
    } else {
        FBinOp::Fmin
    };
    fp::fbin(op, width(opc), a, b)
}

pub(crate) fn encode_fma(w: FpWidth, neg_product: bool, neg_addend: bool) -> u64 {
    w_bit(w) | (neg_product as u64) << 1 | (neg_addend as u64) << 2
}

pub(crate) extern "C" fn fma(opc: u64, a: u64, b: u64, c: u64) -> u64 {
    fp::fma(width(opc), opc & 2 != 0, opc & 4 != 0, a, b, c)
}

pub(crate) fn encode_to_int(w: FpWidth, rm: Rounding, to: IntKind) -> u64 {
    let r = ROUNDINGS.iter().position(|&x| x == rm).unwrap_or(0) as u64;
    w_bit(w) | kind_index(to) << 1 | r << 3
}

pub(crate) extern "C" fn to_int(opc: u64, a: u64) -> u64 {
    let kind = KINDS[((opc >> 1) & 3) as usize];
    let rm = ROUNDINGS
        .get((opc >> 3) as usize)
        .copied()
        .unwrap_or(Rounding::Rne);
    fp::fcvt_to_int(width(opc), rm, kind, a)
}

pub(crate) fn encode_from_int(w: FpWidth, from: IntKind) -> u64 {
    w_bit(w) | kind_index(from) << 1
}

pub(crate) extern "C" fn from_int(opc: u64, a: u64) -> u64 {
    fp::fcvt_from_int(width(opc), KINDS[((opc >> 1) & 3) as usize], a)
}

pub(crate) extern "C" fn cvt_float(from: u64, a: u64) -> u64 {
    let from = if from == FpWidth::D as u64 {
        FpWidth::D
    } else {
        FpWidth::S
    };
    fp::fcvt_float(from, a)
}

pub(crate) extern "C" fn class(w: u64, a: u64) -> u64 {
    let w = if w == FpWidth::D as u64 {
        FpWidth::D
    } else {
        FpWidth::S
    };
    fp::fclass(w, a)
}
