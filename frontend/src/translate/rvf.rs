//! F and D: single- and double-precision floating point (Unprivileged ISA,
//! "F" and "D" Standard Extensions).
//!
//! `f` registers hold raw 64-bit patterns; single-precision values are
//! NaN-boxed. The IR's S-width float ops unbox their operands and box their
//! results themselves, so only the bit-level instructions here (`flw`,
//! `fsgnj*.s`, `fmv.w.x`) deal with boxing.
//!
//! # Rounding modes and flags
//!
//! A static `rm` of 0..=4 is the instruction's rounding mode; the reserved
//! values 5 and 6 make it an illegal instruction. The dynamic mode (7)
//! reads `frm`, which is part of the block's TB flags
//! ([`crate::cpu::tb_flags`]): it is known here, so every IR float op
//! carries a static rounding mode, and `rm` = dyn while `frm` is 5, 6 or
//! 7 is an illegal instruction too (Unprivileged ISA, F chapter,
//! "Floating-Point Control and Status Register").
//!
//! The IR float ops accrue their own exception flags (see
//! [`cranemu_ir::fp`]), so nothing is emitted here for `fflags`.

use cranemu_ir::fp::CANONICAL_NAN_S;
use cranemu_ir::{
    BinOp, FBinOp, FloatCC, FpWidth, IntCC, IntKind, MemOp, MemSize, Rounding, Value,
};

use super::{DisasContext, Flow};
use crate::insn::Insn;

/// The upper 32 bits of a NaN-boxed single.
const BOX: u64 = 0xffff_ffff_0000_0000;

/// Sign-injection flavours (`fsgnj`, `fsgnjn`, `fsgnjx`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sgnj {
    /// The sign of `rs2`.
    Copy,
    /// The opposite of the sign of `rs2`.
    Negate,
    /// The xor of both signs.
    Xor,
}

/// The rounding mode of an instruction's `rm` field under dynamic rounding
/// mode `frm`; `None` if it is reserved (5, 6, or 7 with a reserved `frm`).
fn rounding(rm: u8, frm: u8) -> Option<Rounding> {
    match rm {
        0 => Some(Rounding::Rne),
        1 => Some(Rounding::Rtz),
        2 => Some(Rounding::Rdn),
        3 => Some(Rounding::Rup),
        4 => Some(Rounding::Rmm),
        7 if frm < 5 => rounding(frm, 0),
        _ => None,
    }
}

fn mem_size(w: FpWidth) -> MemSize {
    match w {
        FpWidth::S => MemSize::B4,
        FpWidth::D => MemSize::B8,
    }
}

/// `flw`/`fld`. A loaded single is NaN-boxed.
pub(crate) fn gen_fload(ctx: &mut DisasContext<'_>, insn: &Insn, w: FpWidth) -> Flow {
    let addr = ctx.address(insn);
    let v = ctx.b.load(
        addr,
        MemOp {
            size: mem_size(w),
            signed: false,
            aligned: false,
        },
    );
    let v = match w {
        FpWidth::S => ctx.b.binary_imm(BinOp::Bor, v, BOX),
        FpWidth::D => v,
    };
    ctx.set_f(insn.rd, v);
    Flow::Next
}

/// `fsw`/`fsd`: stores the low 4 or 8 bytes of the raw pattern (no
/// unboxing check, as the F extension specifies).
pub(crate) fn gen_fstore(ctx: &mut DisasContext<'_>, insn: &Insn, w: FpWidth) -> Flow {
    let addr = ctx.address(insn);
    let v = ctx.f(insn.rs2);
    ctx.b.store(
        addr,
        v,
        MemOp {
            size: mem_size(w),
            signed: false,
            aligned: false,
        },
    );
    Flow::Next
}

/// `fadd`, `fsub`, `fmul`, `fdiv`, `fmin`, `fmax`. Only the first four
/// have an `rm` field (min/max use it as a function code).
pub(crate) fn gen_fbin(ctx: &mut DisasContext<'_>, insn: &Insn, op: FBinOp, w: FpWidth) -> Flow {
    let rm = if matches!(op, FBinOp::Fmin | FBinOp::Fmax) {
        Rounding::Rne
    } else {
        match rounding(insn.rm, ctx.frm) {
            Some(rm) => rm,
            None => return ctx.illegal(insn),
        }
    };
    let a = ctx.f(insn.rs1);
    let b = ctx.f(insn.rs2);
    let v = ctx.b.fbin(op, w, rm, a, b);
    ctx.set_f(insn.rd, v);
    Flow::Next
}

/// `fsqrt`.
pub(crate) fn gen_fsqrt(ctx: &mut DisasContext<'_>, insn: &Insn, w: FpWidth) -> Flow {
    let Some(rm) = rounding(insn.rm, ctx.frm) else {
        return ctx.illegal(insn);
    };
    let a = ctx.f(insn.rs1);
    let v = ctx.b.fsqrt(w, rm, a);
    ctx.set_f(insn.rd, v);
    Flow::Next
}

/// `fmadd` (+,+), `fmsub` (+,-), `fnmsub` (-,+), `fnmadd` (-,-): the signs
/// of the product and of the addend.
pub(crate) fn gen_fma(
    ctx: &mut DisasContext<'_>,
    insn: &Insn,
    w: FpWidth,
    neg_product: bool,
    neg_addend: bool,
) -> Flow {
    let Some(rm) = rounding(insn.rm, ctx.frm) else {
        return ctx.illegal(insn);
    };
    let a = ctx.f(insn.rs1);
    let b = ctx.f(insn.rs2);
    let c = ctx.f(insn.rs3);
    let v = ctx.b.fma(w, rm, neg_product, neg_addend, a, b, c);
    ctx.set_f(insn.rd, v);
    Flow::Next
}

/// A single operand as `fsgnj.s` sees it: the boxed value if properly
/// NaN-boxed, else the boxed canonical NaN.
fn unbox_s(ctx: &mut DisasContext<'_>, v: Value) -> Value {
    let boundary = ctx.iconst(BOX);
    let boxed = ctx.b.icmp(IntCC::Uge, v, boundary);
    let nan = ctx.iconst(BOX | u64::from(CANONICAL_NAN_S));
    ctx.b.select(boxed, v, nan)
}

/// Sign injection, on bit patterns. Singles are worked on boxed: the box
/// bits of `rs1` pass through, so the result stays boxed.
pub(crate) fn gen_fsgnj(ctx: &mut DisasContext<'_>, insn: &Insn, kind: Sgnj, w: FpWidth) -> Flow {
    let sign: u64 = match w {
        FpWidth::S => 1 << 31,
        FpWidth::D => 1 << 63,
    };
    let mut a = ctx.f(insn.rs1);
    let mut b = ctx.f(insn.rs2);
    if w == FpWidth::S {
        a = unbox_s(ctx, a);
        b = if insn.rs2 == insn.rs1 {
            a
        } else {
            unbox_s(ctx, b)
        };
    }
    let b_sign = ctx.b.binary_imm(BinOp::Band, b, sign);
    let v = match kind {
        Sgnj::Copy | Sgnj::Negate => {
            let magnitude = ctx.b.binary_imm(BinOp::Band, a, !sign);
            let s = match kind {
                Sgnj::Negate => ctx.b.binary_imm(BinOp::Bxor, b_sign, sign),
                _ => b_sign,
            };
            ctx.b.binary(BinOp::Bor, magnitude, s)
        }
        Sgnj::Xor => ctx.b.binary(BinOp::Bxor, a, b_sign),
    };
    ctx.set_f(insn.rd, v);
    Flow::Next
}

/// `feq`, `flt`, `fle`: `x[rd]` = 0 or 1.
pub(crate) fn gen_fcmp(ctx: &mut DisasContext<'_>, insn: &Insn, cc: FloatCC, w: FpWidth) -> Flow {
    let a = ctx.f(insn.rs1);
    let b = ctx.f(insn.rs2);
    let v = ctx.b.fcmp(cc, w, a, b);
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// `fclass`: `x[rd]` = the class mask.
pub(crate) fn gen_fclass(ctx: &mut DisasContext<'_>, insn: &Insn, w: FpWidth) -> Flow {
    let a = ctx.f(insn.rs1);
    let v = ctx.b.fclass(w, a);
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// `fcvt.{w,wu,l,lu}.{s,d}`: saturating.
pub(crate) fn gen_fcvt_to_int(
    ctx: &mut DisasContext<'_>,
    insn: &Insn,
    w: FpWidth,
    to: IntKind,
) -> Flow {
    let Some(rm) = rounding(insn.rm, ctx.frm) else {
        return ctx.illegal(insn);
    };
    let a = ctx.f(insn.rs1);
    let v = ctx.b.fcvt_to_int(w, rm, to, a);
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// `fcvt.{s,d}.{w,wu,l,lu}`.
pub(crate) fn gen_fcvt_from_int(
    ctx: &mut DisasContext<'_>,
    insn: &Insn,
    w: FpWidth,
    from: IntKind,
) -> Flow {
    let Some(rm) = rounding(insn.rm, ctx.frm) else {
        return ctx.illegal(insn);
    };
    let a = ctx.x(insn.rs1);
    let v = ctx.b.fcvt_from_int(w, rm, from, a);
    ctx.set_f(insn.rd, v);
    Flow::Next
}

/// `fcvt.s.d` (`from` = D) and `fcvt.d.s` (`from` = S).
pub(crate) fn gen_fcvt_float(ctx: &mut DisasContext<'_>, insn: &Insn, from: FpWidth) -> Flow {
    let Some(rm) = rounding(insn.rm, ctx.frm) else {
        return ctx.illegal(insn);
    };
    let a = ctx.f(insn.rs1);
    let v = ctx.b.fcvt_float(from, rm, a);
    ctx.set_f(insn.rd, v);
    Flow::Next
}

/// `fmv.x.w` (the low 32 bits sign-extended, no unboxing check) and
/// `fmv.x.d` (raw).
pub(crate) fn gen_fmv_to_x(ctx: &mut DisasContext<'_>, insn: &Insn, w: FpWidth) -> Flow {
    let a = ctx.f(insn.rs1);
    let v = match w {
        FpWidth::S => ctx.b.sextend(a, 32),
        FpWidth::D => a,
    };
    ctx.set_x(insn.rd, v);
    Flow::Next
}

/// `fmv.w.x` (the low 32 bits, NaN-boxed) and `fmv.d.x` (raw).
pub(crate) fn gen_fmv_from_x(ctx: &mut DisasContext<'_>, insn: &Insn, w: FpWidth) -> Flow {
    let a = ctx.x(insn.rs1);
    let v = match w {
        FpWidth::S => ctx.b.binary_imm(BinOp::Bor, a, BOX),
        FpWidth::D => a,
    };
    ctx.set_f(insn.rd, v);
    Flow::Next
}
