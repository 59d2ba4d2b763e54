//! Self-checks: the oracle gives the well-known RISC-V answers (values
//! worked out by hand from the Unprivileged ISA and IEEE 754-2008), so a
//! wrongly configured SoftFloat (e.g. the default 8086-SSE
//! specialization, before-rounding tininess) is caught here.

use super::*;

const ONE: u64 = 0x3ff0_0000_0000_0000;
const NEG_ONE: u64 = 0xbff0_0000_0000_0000;
const INF: u64 = 0x7ff0_0000_0000_0000;
const QNAN_PAYLOAD: u64 = 0x7ff8_0000_0000_1234;
const SNAN: u64 = 0x7ff0_0000_0000_0001;

fn d(op: Op) -> Insn {
    Insn { op, w: Width::D }
}
fn s(op: Op) -> Insn {
    Insn { op, w: Width::S }
}
fn fd(x: f64) -> u64 {
    x.to_bits()
}
fn fs(x: f32) -> u64 {
    box_s(x.to_bits())
}

#[test]
fn nan_results_are_canonical_with_nv() {
    assert_eq!(eval(d(Op::Div), Rm::Rne, 0, 0, 0), (CANONICAL_NAN_D, NV));
    assert_eq!(
        eval(d(Op::Sqrt), Rm::Rne, NEG_ONE, 0, 0),
        (CANONICAL_NAN_D, NV)
    );
    // A quiet NaN operand propagates as the canonical NaN, no flag.
    assert_eq!(
        eval(d(Op::Add), Rm::Rne, QNAN_PAYLOAD, ONE, 0),
        (CANONICAL_NAN_D, 0)
    );
    assert_eq!(
        eval(d(Op::Add), Rm::Rne, SNAN, ONE, 0),
        (CANONICAL_NAN_D, NV)
    );
    // 0 * inf + qNaN is invalid even though an operand is a quiet NaN.
    assert_eq!(
        eval(d(Op::Madd), Rm::Rne, 0, INF, QNAN_PAYLOAD),
        (CANONICAL_NAN_D, NV)
    );
    assert_eq!(
        eval(s(Op::CvtFloat), Rm::Rne, box_s(0x7f80_0001), 0, 0),
        (CANONICAL_NAN_D, NV)
    );
    assert_eq!(
        eval(d(Op::CvtFloat), Rm::Rne, SNAN, 0, 0),
        (box_s(CANONICAL_NAN_S), NV)
    );
}

#[test]
fn arithmetic_flags() {
    assert_eq!(
        eval(d(Op::Div), Rm::Rne, ONE, fd(3.0), 0),
        (0x3fd5_5555_5555_5555, NX)
    );
    assert_eq!(
        eval(d(Op::Div), Rm::Rup, ONE, fd(3.0), 0).0,
        0x3fd5_5555_5555_5556
    );
    assert_eq!(eval(d(Op::Div), Rm::Rne, ONE, 0, 0), (INF, DZ));
    assert_eq!(
        eval(d(Op::Div), Rm::Rne, NEG_ONE, 0, 0),
        (INF | 1 << 63, DZ)
    );
    // Overflow: RNE to inf, RTZ to the largest finite.
    let max = 0x7fef_ffff_ffff_ffff;
    assert_eq!(eval(d(Op::Mul), Rm::Rne, max, fd(2.0), 0), (INF, OF | NX));
    assert_eq!(eval(d(Op::Mul), Rm::Rtz, max, fd(2.0), 0), (max, OF | NX));
    assert_eq!(eval(d(Op::Mul), Rm::Rdn, max, fd(2.0), 0), (max, OF | NX));
    assert_eq!(
        eval(d(Op::Mul), Rm::Rdn, max, fd(-2.0), 0),
        (INF | 1 << 63, OF | NX)
    );
    assert_eq!(eval(s(Op::Add), Rm::Rne, fs(1.0), fs(2.0), 0), (fs(3.0), 0));
    // Exact zero sums: +0 except under RDN.
    assert_eq!(eval(d(Op::Sub), Rm::Rne, ONE, ONE, 0), (0, 0));
    assert_eq!(eval(d(Op::Sub), Rm::Rdn, ONE, ONE, 0), (1 << 63, 0));
}

#[test]
fn tininess_is_detected_after_rounding() {
    // max subnormal * (1 + 2^-52) = 2^-1022 * (1 - 2^-104): below the
    // smallest normal, but rounds (unbounded exponent, RNE) to it, so not
    // tiny after rounding: NX only, result the smallest normal.
    let (a, b) = (0x000f_ffff_ffff_ffff, 0x3ff0_0000_0000_0001);
    assert_eq!(
        eval(d(Op::Mul), Rm::Rne, a, b, 0),
        (0x0010_0000_0000_0000, NX)
    );
    // Toward zero it stays below: tiny, inexact: UF|NX, max subnormal.
    assert_eq!(eval(d(Op::Mul), Rm::Rtz, a, b, 0), (a, UF | NX));
    // Single precision, same shape.
    let (a, b) = (box_s(0x007f_ffff), box_s(0x3f80_0001));
    assert_eq!(eval(s(Op::Mul), Rm::Rne, a, b, 0), (box_s(0x0080_0000), NX));
    assert_eq!(eval(s(Op::Mul), Rm::Rtz, a, b, 0), (a, UF | NX));
    // An exact subnormal result is not an underflow.
    assert_eq!(
        eval(d(Op::Mul), Rm::Rne, 0x0010_0000_0000_0000, fd(0.5), 0),
        (0x0008_0000_0000_0000, 0)
    );
}

#[test]
fn integer_conversions_saturate_riscv_style() {
    let w = d(Op::ToInt(IntTy::W));
    let wu = d(Op::ToInt(IntTy::Wu));
    let l = d(Op::ToInt(IntTy::L));
    let lu = d(Op::ToInt(IntTy::Lu));
    assert_eq!(eval(w, Rm::Rne, CANONICAL_NAN_D, 0, 0), (0x7fff_ffff, NV));
    assert_eq!(
        eval(w, Rm::Rne, INF | 1 << 63, 0, 0),
        (0xffff_ffff_8000_0000, NV)
    );
    assert_eq!(eval(wu, Rm::Rne, NEG_ONE, 0, 0), (0, NV));
    // wu results are sign-extended too: NaN gives all ones.
    assert_eq!(eval(wu, Rm::Rne, CANONICAL_NAN_D, 0, 0), (u64::MAX, NV));
    assert_eq!(eval(wu, Rm::Rne, fd(4294967296.0), 0, 0), (u64::MAX, NV));
    assert_eq!(eval(wu, Rm::Rne, fd(3e9), 0, 0), (0xffff_ffff_b2d0_5e00, 0));
    assert_eq!(
        eval(l, Rm::Rne, CANONICAL_NAN_D, 0, 0),
        (i64::MAX as u64, NV)
    );
    assert_eq!(eval(lu, Rm::Rne, fd(-1.0), 0, 0), (0, NV));
    assert_eq!(eval(lu, Rm::Rne, CANONICAL_NAN_D, 0, 0), (u64::MAX, NV));
    // -0.5 rounds to 0 (only inexact) except toward -inf.
    assert_eq!(eval(wu, Rm::Rne, fd(-0.5), 0, 0), (0, NX));
    assert_eq!(eval(wu, Rm::Rdn, fd(-0.5), 0, 0), (0, NV));
    assert_eq!(eval(w, Rm::Rdn, fd(-0.5), 0, 0), (u64::MAX, NX));
    // Ties.
    let ws = s(Op::ToInt(IntTy::W));
    assert_eq!(eval(ws, Rm::Rne, fs(2.5), 0, 0), (2, NX));
    assert_eq!(eval(ws, Rm::Rmm, fs(2.5), 0, 0), (3, NX));
    assert_eq!(eval(ws, Rm::Rmm, fs(-2.5), 0, 0), ((-3i64) as u64, NX));
    assert_eq!(eval(w, Rm::Rne, fd(2147483647.5), 0, 0), (0x7fff_ffff, NV));
    assert_eq!(eval(w, Rm::Rtz, fd(2147483647.5), 0, 0), (0x7fff_ffff, NX));
    // From integers: 2^24 + 1 is a tie for binary32.
    let sw = s(Op::FromInt(IntTy::W));
    assert_eq!(eval(sw, Rm::Rne, 0x0100_0001, 0, 0), (fs(16777216.0), NX));
    assert_eq!(eval(sw, Rm::Rmm, 0x0100_0001, 0, 0), (fs(16777218.0), NX));
    // 32-bit sources read the low 32 bits only.
    assert_eq!(
        eval(
            d(Op::FromInt(IntTy::W)),
            Rm::Rne,
            0x1234_5678_ffff_ffff,
            0,
            0
        ),
        (NEG_ONE, 0)
    );
    assert_eq!(
        eval(
            d(Op::FromInt(IntTy::Wu)),
            Rm::Rne,
            0x1234_5678_ffff_ffff,
            0,
            0
        ),
        (fd(4294967295.0), 0)
    );
}

#[test]
fn nan_boxing() {
    // A non-boxed single reads as the canonical (quiet) NaN: no flag.
    let unboxed_one = 0x3f80_0000;
    assert_eq!(
        eval(s(Op::Add), Rm::Rne, unboxed_one, fs(1.0), 0),
        (box_s(CANONICAL_NAN_S), 0)
    );
    assert_eq!(eval(s(Op::Class), Rm::Rne, unboxed_one, 0, 0), (1 << 9, 0));
    assert_eq!(
        eval(s(Op::Eq), Rm::Rne, unboxed_one, unboxed_one, 0),
        (0, 0)
    );
    assert_eq!(eval(s(Op::Lt), Rm::Rne, unboxed_one, fs(1.0), 0), (0, NV));
    assert_eq!(
        eval(s(Op::Min), Rm::Rne, unboxed_one, fs(-2.0), 0),
        (fs(-2.0), 0)
    );
    assert_eq!(
        eval(s(Op::Sgnj), Rm::Rne, unboxed_one, fs(-1.0), 0),
        (0xffff_ffff_ffc0_0000, 0)
    );
    assert_eq!(
        eval(s(Op::Sgnjn), Rm::Rne, fs(3.0), unboxed_one, 0),
        (fs(-3.0), 0)
    );
    assert_eq!(
        eval(s(Op::MvToInt), Rm::Rne, 0x8000_0000, 0, 0),
        (0xffff_ffff_8000_0000, 0)
    );
    assert_eq!(
        eval(s(Op::MvFromInt), Rm::Rne, 0x1234_5678_3f80_0000, 0, 0),
        (fs(1.0), 0)
    );
}

#[test]
fn min_max_and_compare() {
    let (mn, mx) = (d(Op::Min), d(Op::Max));
    let neg0 = 1 << 63;
    assert_eq!(eval(mn, Rm::Rne, 0, neg0, 0), (neg0, 0));
    assert_eq!(eval(mn, Rm::Rne, neg0, 0, 0), (neg0, 0));
    assert_eq!(eval(mx, Rm::Rne, neg0, 0, 0), (0, 0));
    assert_eq!(eval(mx, Rm::Rne, 0, neg0, 0), (0, 0));
    assert_eq!(eval(mn, Rm::Rne, SNAN, ONE, 0), (ONE, NV));
    assert_eq!(eval(mx, Rm::Rne, QNAN_PAYLOAD, NEG_ONE, 0), (NEG_ONE, 0));
    assert_eq!(
        eval(mx, Rm::Rne, QNAN_PAYLOAD, QNAN_PAYLOAD, 0),
        (CANONICAL_NAN_D, 0)
    );
    assert_eq!(eval(mn, Rm::Rne, fd(2.0), fd(-3.0), 0), (fd(-3.0), 0));
    assert_eq!(eval(d(Op::Eq), Rm::Rne, QNAN_PAYLOAD, ONE, 0), (0, 0));
    assert_eq!(eval(d(Op::Eq), Rm::Rne, SNAN, ONE, 0), (0, NV));
    assert_eq!(eval(d(Op::Le), Rm::Rne, QNAN_PAYLOAD, ONE, 0), (0, NV));
    assert_eq!(eval(d(Op::Eq), Rm::Rne, 0, neg0, 0), (1, 0));
    assert_eq!(eval(d(Op::Lt), Rm::Rne, neg0, 0, 0), (0, 0));
    assert_eq!(eval(d(Op::Le), Rm::Rne, neg0, 0, 0), (1, 0));
}

#[test]
fn fclass_table() {
    let c = |x: u64| fclass(Width::D, x);
    assert_eq!(c(INF | 1 << 63), 1 << 0);
    assert_eq!(c(NEG_ONE), 1 << 1);
    assert_eq!(c(1 | 1 << 63), 1 << 2);
    assert_eq!(c(1 << 63), 1 << 3);
    assert_eq!(c(0), 1 << 4);
    assert_eq!(c(0x000f_ffff_ffff_ffff), 1 << 5);
    assert_eq!(c(ONE), 1 << 6);
    assert_eq!(c(INF), 1 << 7);
    assert_eq!(c(SNAN), 1 << 8);
    assert_eq!(c(QNAN_PAYLOAD | 1 << 63), 1 << 9);
    assert_eq!(fclass(Width::S, box_s(0xff80_0000)), 1);
    assert_eq!(fclass(Width::S, box_s(0x7fa0_0000)), 1 << 8);
}

#[test]
fn fma_single_rounding() {
    // (1 + 2^-52)^2 - (1 + 2^-51) = 2^-104 exactly: only a fused op sees it.
    let a = 0x3ff0_0000_0000_0001;
    let c = 0x3ff0_0000_0000_0002;
    assert_eq!(
        eval(d(Op::Msub), Rm::Rne, a, a, c,),
        (fd(2f64.powi(-104)), 0)
    );
    assert_eq!(
        eval(d(Op::Nmadd), Rm::Rne, a, a, c ^ 1 << 63),
        (fd(-(2f64.powi(-104))), 0)
    );
    // fnmadd of +0 * 1 - +0 is -0 + -0 = -0.
    assert_eq!(eval(d(Op::Nmadd), Rm::Rne, 0, ONE, 0), (1 << 63, 0));
    assert_eq!(eval(d(Op::Nmsub), Rm::Rne, 0, ONE, 0), (0, 0));
}

#[test]
fn names_and_shapes() {
    let all = Insn::all();
    assert_eq!(all.len(), 2 * 29);
    let names: Vec<String> = all.iter().map(Insn::name).collect();
    for n in [
        "fnmadd.d",
        "fcvt.wu.s",
        "fcvt.s.lu",
        "fcvt.s.d",
        "fcvt.d.s",
        "fmv.x.w",
        "fmv.d.x",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing");
    }
    assert_eq!(flags_str(NV | NX), "NV|NX");
    assert_eq!(flags_str(0), "-");
}
