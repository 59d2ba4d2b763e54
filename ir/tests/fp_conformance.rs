//! Conformance of `cranemu_ir::fp` with the RISC-V F and D extensions,
//! bit for bit: every arithmetic, compare, classify and conversion
//! function, under each of the five rounding modes, against Berkeley
//! SoftFloat built with its RISC-V specialization (the `cranemu-fp-oracle`
//! dev-dependency). Result bits and `fflags` must both match.
//!
//! Operands (see `fp-oracle/src/vectors.rs`): every edge value (or pair of
//! edge values; a structured subset of triples for the fused ops) and
//! [`RANDOM_PER_INSN`] seeded random vectors per instruction. Sign
//! injection and the moves are not `fp` functions; the engine test
//! (`runtime/tests/fp_conformance.rs`) covers them.
//!
//! A failure lists the first mismatches per rounding mode in hex; rerun
//! one instruction with e.g. `cargo test --release -p cranemu-ir --test
//! fp_conformance fmadd_d`.

use cranemu_fp_oracle::vectors::{vectors, RANDOM_PER_INSN};
use cranemu_fp_oracle::{eval, Insn, IntTy, Op, Report, Rm, Width};
use cranemu_ir::{fp, FBinOp, FloatCC, FpWidth, IntKind, Rounding};

fn width(w: Width) -> FpWidth {
    match w {
        Width::S => FpWidth::S,
        Width::D => FpWidth::D,
    }
}

fn rounding(rm: Rm) -> Rounding {
    match rm {
        Rm::Rne => Rounding::Rne,
        Rm::Rtz => Rounding::Rtz,
        Rm::Rdn => Rounding::Rdn,
        Rm::Rup => Rounding::Rup,
        Rm::Rmm => Rounding::Rmm,
    }
}

fn kind(t: IntTy) -> IntKind {
    match t {
        IntTy::W => IntKind::I32,
        IntTy::Wu => IntKind::U32,
        IntTy::L => IntKind::I64,
        IntTy::Lu => IntKind::U64,
    }
}

/// The function under test for `insn`: (result bits, fflags).
fn dut(insn: Insn, rm: Rm, [a, b, c]: [u64; 3]) -> (u64, u32) {
    let (w, r) = (width(insn.w), rounding(rm));
    let bin = |op| fp::fbin(op, w, r, a, b);
    match insn.op {
        Op::Add => bin(FBinOp::Fadd),
        Op::Sub => bin(FBinOp::Fsub),
        Op::Mul => bin(FBinOp::Fmul),
        Op::Div => bin(FBinOp::Fdiv),
        Op::Min => bin(FBinOp::Fmin),
        Op::Max => bin(FBinOp::Fmax),
        Op::Sqrt => fp::fsqrt(w, r, a),
        Op::Madd => fp::fma(w, r, false, false, a, b, c),
        Op::Msub => fp::fma(w, r, false, true, a, b, c),
        Op::Nmsub => fp::fma(w, r, true, false, a, b, c),
        Op::Nmadd => fp::fma(w, r, true, true, a, b, c),
        Op::Eq => fp::fcmp(FloatCC::Eq, w, a, b),
        Op::Lt => fp::fcmp(FloatCC::Lt, w, a, b),
        Op::Le => fp::fcmp(FloatCC::Le, w, a, b),
        Op::Class => (fp::fclass(w, a), 0),
        Op::ToInt(t) => fp::fcvt_to_int(w, r, kind(t), a),
        Op::FromInt(t) => fp::fcvt_from_int(w, r, kind(t), a),
        Op::CvtFloat => fp::fcvt_float(w, r, a),
        Op::Sgnj | Op::Sgnjn | Op::Sgnjx | Op::MvToInt | Op::MvFromInt => {
            unreachable!("{} is not an fp function", insn.name())
        }
    }
}

/// Checks `insn` on all its vectors under every rounding mode (also for
/// the ops that ignore it: fmin/fmax must not depend on it).
fn check(insn: Insn) {
    let vs = vectors(insn, RANDOM_PER_INSN);
    let rms: &[Rm] = if insn.has_rm() || matches!(insn.op, Op::Min | Op::Max) {
        &Rm::ALL
    } else {
        &[Rm::Rne]
    };
    let name = insn.name();
    let mut report = Report::default();
    for &rm in rms {
        for &v in &vs {
            let expected = eval(insn, rm, v[0], v[1], v[2]);
            let actual = dut(insn, rm, v);
            report.check(
                || format!("{name} rm={}", rm.name()),
                v,
                insn.arity(),
                expected,
                actual,
            );
        }
    }
    report.assert_ok(&format!("cranemu_ir::fp, {name}"));
}

macro_rules! conformance {
    ($($test:ident: $op:expr, $w:ident;)*) => {$(
        #[test]
        fn $test() {
            check(Insn { op: $op, w: Width::$w });
        }
    )*
        /// The instructions with a test above.
        const TESTED: &[Insn] = &[$(Insn { op: $op, w: Width::$w }),*];
    };
}

conformance! {
    fadd_s: Op::Add, S;
    fadd_d: Op::Add, D;
    fsub_s: Op::Sub, S;
    fsub_d: Op::Sub, D;
    fmul_s: Op::Mul, S;
    fmul_d: Op::Mul, D;
    fdiv_s: Op::Div, S;
    fdiv_d: Op::Div, D;
    fsqrt_s: Op::Sqrt, S;
    fsqrt_d: Op::Sqrt, D;
    fmin_s: Op::Min, S;
    fmin_d: Op::Min, D;
    fmax_s: Op::Max, S;
    fmax_d: Op::Max, D;
    fmadd_s: Op::Madd, S;
    fmadd_d: Op::Madd, D;
    fmsub_s: Op::Msub, S;
    fmsub_d: Op::Msub, D;
    fnmsub_s: Op::Nmsub, S;
    fnmsub_d: Op::Nmsub, D;
    fnmadd_s: Op::Nmadd, S;
    fnmadd_d: Op::Nmadd, D;
    feq_s: Op::Eq, S;
    feq_d: Op::Eq, D;
    flt_s: Op::Lt, S;
    flt_d: Op::Lt, D;
    fle_s: Op::Le, S;
    fle_d: Op::Le, D;
    fclass_s: Op::Class, S;
    fclass_d: Op::Class, D;
    fcvt_w_s: Op::ToInt(IntTy::W), S;
    fcvt_wu_s: Op::ToInt(IntTy::Wu), S;
    fcvt_l_s: Op::ToInt(IntTy::L), S;
    fcvt_lu_s: Op::ToInt(IntTy::Lu), S;
    fcvt_w_d: Op::ToInt(IntTy::W), D;
    fcvt_wu_d: Op::ToInt(IntTy::Wu), D;
    fcvt_l_d: Op::ToInt(IntTy::L), D;
    fcvt_lu_d: Op::ToInt(IntTy::Lu), D;
    fcvt_s_w: Op::FromInt(IntTy::W), S;
    fcvt_s_wu: Op::FromInt(IntTy::Wu), S;
    fcvt_s_l: Op::FromInt(IntTy::L), S;
    fcvt_s_lu: Op::FromInt(IntTy::Lu), S;
    fcvt_d_w: Op::FromInt(IntTy::W), D;
    fcvt_d_wu: Op::FromInt(IntTy::Wu), D;
    fcvt_d_l: Op::FromInt(IntTy::L), D;
    fcvt_d_lu: Op::FromInt(IntTy::Lu), D;
    fcvt_d_s: Op::CvtFloat, S;
    fcvt_s_d: Op::CvtFloat, D;
}

/// Every instruction of the oracle's list that is an `fp` function has a
/// test above.
#[test]
fn every_fp_function_is_covered() {
    for i in Insn::all() {
        let not_fp = matches!(
            i.op,
            Op::Sgnj | Op::Sgnjn | Op::Sgnjx | Op::MvToInt | Op::MvFromInt
        );
        assert!(not_fp || TESTED.contains(&i), "{} has no test", i.name());
    }
}
