//! Conformance of the F and D extensions as executed guest code, in both
//! tiers, against Berkeley SoftFloat's RISC-V specialization (the
//! `cranemu-fp-oracle` dev-dependency), bit for bit: result and `fflags`.
//!
//! Per instruction and rounding mode, a hand-encoded guest loop walks a
//! table of operand vectors in guest memory: it loads the operands (`fld`,
//! and `ld` for integer sources), writes a per-vector prior value to
//! `fflags` (0 for three vectors in four, random bits otherwise, so flags
//! must accrue: the expected `fflags` is prior | the oracle's flags), runs
//! the instruction under test, reads `fflags` back with `csrrs` in the same
//! block and stores result and flags. Every instruction with an `rm` field
//! runs eleven times: static `rm` 0 to 4 (with `frm` holding another mode,
//! which must be ignored), dynamic `rm` (7) with `frm` 0 to 4 set by
//! `csrrwi`, and dynamic `rm` with `frm` changing from vector to vector.
//! The vectors are those of `ir/tests/fp_conformance.rs` (edge values and
//! seeded random operands, `fp-oracle/src/vectors.rs`).
//!
//! Tiers: `jit_threshold: 0` compiles every block with Cranelift before it
//! runs and gets every vector; `jit_threshold: u32::MAX` keeps everything
//! in the IR interpreter, which gets the edge vectors and the first
//! [`INTERP_RANDOM`] random ones (all of them would cost about 25 s of CPU
//! against the JIT tier's 8 s).
//!
//! Also: reserved rounding modes (static 5 and 6, dynamic with `frm` 5, 6
//! and 7) raise an illegal-instruction trap at the instruction. `fcsr`
//! semantics inside and across blocks are in `fp_csr.rs`.
//!
//! Rerun one instruction with e.g. `cargo test --release -p
//! cranemu-runtime --test fp_conformance fmadd_d::jit`.

mod fp_common;

use cranemu_fp_oracle::vectors::RANDOM_PER_INSN;
use cranemu_fp_oracle::vectors::{edge_vectors, random_vectors, seed_of, SplitMix64};
use cranemu_fp_oracle::{eval, flags_str, Insn, IntTy, Op, Report, Rm, Width};
use cranemu_runtime::{CpuState, Exception, Exit};
use fp_common::*;

/// Random vectors per instruction given to the interpreter tier (after
/// all edge vectors).
const INTERP_RANDOM: usize = 20_000;

// Registers of the vector loop.
const A0: u32 = 10; // operand row
const A1: u32 = 11; // result row
const A2: u32 = 12; // rows left
const X_INT_SRC: u32 = 5;
const X_PRIOR: u32 = 6;
const X_INT_DST: u32 = 7;
const X_FLAGS: u32 = 28;
const F_DST: u32 = 4;

/// How a vector loop sets the rounding mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Static `rm`; `frm` (left at another valid mode) must not matter.
    Static(Rm),
    /// `rm` = 7, `frm` set once by `csrrwi` before the loop.
    Dyn(Rm),
    /// `rm` = 7, `frm` written per vector: the row's fourth word is a
    /// whole `fcsr` value (`frm << 5 | prior fflags`) written with `csrrw`,
    /// which ends the block, so the block holding the instruction is
    /// entered, and chained to, under a changing `frm`.
    DynPerVector,
}

/// The vector loop for `insn` under `mode`.
fn vector_loop(insn: Insn, mode: Mode) -> Vec<u32> {
    let mut c = Vec::new();
    let (rm, csr) = match mode {
        Mode::Static(rm) => (rm.bits(), CSR_FFLAGS),
        Mode::Dyn(rm) => {
            c.push(csrrwi(0, CSR_FRM, rm.bits()));
            (DYN, CSR_FFLAGS)
        }
        Mode::DynPerVector => (DYN, CSR_FCSR),
    };
    let top = c.len();
    let (rd, rs1) = (
        if insn.int_dest() { X_INT_DST } else { F_DST },
        if insn.int_source() { X_INT_SRC } else { 1 },
    );
    c.extend([
        fld(1, A0, 0),
        fld(2, A0, 8),
        fld(3, A0, 16),
        ld(X_INT_SRC, A0, 0),
        ld(X_PRIOR, A0, 24),
        csrrw(0, csr, X_PRIOR),
        encode(insn, rm, rd, rs1, 2, 3),
        csrrs(X_FLAGS, CSR_FFLAGS, 0),
        if insn.int_dest() {
            sd(X_INT_DST, A1, 0)
        } else {
            fsd(F_DST, A1, 0)
        },
        sd(X_FLAGS, A1, 8),
        addi(A0, A0, IN_ROW as i32),
        addi(A1, A1, OUT_ROW as i32),
        addi(A2, A2, -1),
    ]);
    let back = -4 * (c.len() - top) as i32;
    c.push(bne(A2, 0, back));
    c.push(ECALL);
    c
}

// ---- Vector runs ----------------------------------------------------------

/// Runs every vector of `insn` (all for the JIT, a subset for the
/// interpreter) under every rounding mode, static and dynamic (and with
/// `frm` changing from vector to vector), and compares with the oracle.
fn check_insn(insn: Insn, tier: Tier) {
    let mut vs = edge_vectors(insn);
    let n_random = match tier {
        Tier::Jit => RANDOM_PER_INSN,
        Tier::Interp => INTERP_RANDOM,
    };
    // The same random vectors as the ir test (a prefix of them for the
    // interpreter: the generator is sequential).
    vs.extend(random_vectors(insn, n_random, seed_of(insn)));
    let mut rng = SplitMix64::new(seed_of(insn) ^ 0x5eed);
    let priors: Vec<u32> = (0..vs.len())
        .map(|i| {
            if i % 4 == 3 {
                (rng.next_u64() & 0x1f) as u32
            } else {
                0
            }
        })
        .collect();
    let frms: Vec<Rm> = (0..vs.len()).map(|_| rng.pick(&Rm::ALL)).collect();

    let rms: &[Rm] = if insn.has_rm() { &Rm::ALL } else { &[Rm::Rne] };
    // expected[rm][vector]
    let expected: Vec<Vec<(u64, u32)>> = rms
        .iter()
        .map(|&rm| {
            vs.iter()
                .map(|v| eval(insn, rm, v[0], v[1], v[2]))
                .collect()
        })
        .collect();
    let mut modes: Vec<Mode> = rms.iter().map(|&rm| Mode::Static(rm)).collect();
    if insn.has_rm() {
        modes.extend(Rm::ALL.map(Mode::Dyn));
        modes.push(Mode::DynPerVector);
    }

    let name = insn.name();
    let mut h = Harness::new(tier);
    let mut report = Report::default();
    for mode in modes {
        let (label, stale_frm) = match mode {
            _ if !insn.has_rm() => (name.clone(), 2),
            Mode::Static(rm) => (format!("{name} rm={}", rm.name()), (rm.bits() + 2) % 5),
            Mode::Dyn(rm) => (
                format!("{name} rm=dyn frm={}", rm.name()),
                (rm.bits() + 1) % 5,
            ),
            Mode::DynPerVector => (format!("{name} rm=dyn, frm per vector"), 0),
        };
        // The rounding mode and fcsr-word of vector i.
        let rm_of = |i: usize| match mode {
            Mode::Static(rm) | Mode::Dyn(rm) => rm,
            Mode::DynPerVector => frms[i],
        };
        let row_word = |i: usize| match mode {
            Mode::DynPerVector => frms[i].bits() << 5 | priors[i],
            _ => priors[i],
        };
        let pc = h.place(&vector_loop(insn, mode));
        let mut cpu = CpuState {
            fcsr: u64::from(stale_frm) << 5,
            ..CpuState::default()
        };
        for (start, chunk) in (0..vs.len()).step_by(CHUNK).zip(vs.chunks(CHUNK)) {
            let mut input = Vec::with_capacity(chunk.len() * IN_ROW as usize);
            for (i, v) in chunk.iter().enumerate() {
                for x in [v[0], v[1], v[2], u64::from(row_word(start + i))] {
                    input.extend_from_slice(&x.to_le_bytes());
                }
            }
            h.space.write(IN, &input).expect("write operands");
            cpu.x[A0 as usize] = IN;
            cpu.x[A1 as usize] = OUT;
            cpu.x[A2 as usize] = chunk.len() as u64;
            let exit = h.run(&mut cpu, pc);
            if !is_ecall(exit) {
                report.fail(format!("{label}: the vector loop ended with {exit:?}"));
                break;
            }
            let mut out = vec![0u8; chunk.len() * OUT_ROW as usize];
            h.space.read(OUT, &mut out).expect("read results");
            let mut want_fcsr = 0;
            for (i, v) in chunk.iter().enumerate() {
                let word = |k: usize| {
                    let o = i * OUT_ROW as usize + k * 8;
                    u64::from_le_bytes(out[o..o + 8].try_into().unwrap())
                };
                let j = start + i;
                let rm = rm_of(j);
                let rm_index = if insn.has_rm() { rm as usize } else { 0 };
                let (e, prior) = (expected[rm_index][j], priors[j]);
                let got_flags = word(1);
                let frm = match mode {
                    Mode::Static(_) => stale_frm,
                    _ if !insn.has_rm() => stale_frm,
                    _ => rm.bits(),
                };
                want_fcsr = u64::from(frm << 5 | e.1 | prior);
                report.check(
                    || {
                        let mut l = label.clone();
                        if mode == Mode::DynPerVector {
                            l += &format!(" (this one {})", rm.name());
                        }
                        if prior != 0 {
                            l += &format!(" prior fflags {}", flags_str(prior));
                        }
                        l
                    },
                    *v,
                    insn.arity(),
                    (e.0, e.1 | prior),
                    (word(0), got_flags as u32),
                );
            }
            if cpu.fcsr != want_fcsr {
                report.fail(format!(
                    "{label}: fcsr after the loop is {:#x}, want {want_fcsr:#x}",
                    cpu.fcsr
                ));
            }
        }
    }
    h.assert_tier();
    report.assert_ok(&format!("{name}, {tier:?} tier"));
}

macro_rules! conformance {
    ($($test:ident: $op:expr, $w:ident;)*) => {$(
        mod $test {
            use super::*;
            #[test]
            fn jit() {
                check_insn(Insn { op: $op, w: Width::$w }, Tier::Jit);
            }
            #[test]
            fn interp() {
                check_insn(Insn { op: $op, w: Width::$w }, Tier::Interp);
            }
        }
    )*
        /// The instructions with tests above.
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
    fsgnj_s: Op::Sgnj, S;
    fsgnj_d: Op::Sgnj, D;
    fsgnjn_s: Op::Sgnjn, S;
    fsgnjn_d: Op::Sgnjn, D;
    fsgnjx_s: Op::Sgnjx, S;
    fsgnjx_d: Op::Sgnjx, D;
    fmv_x_w: Op::MvToInt, S;
    fmv_x_d: Op::MvToInt, D;
    fmv_w_x: Op::MvFromInt, S;
    fmv_d_x: Op::MvFromInt, D;
}

#[test]
fn every_instruction_is_covered() {
    for i in Insn::all() {
        assert!(TESTED.contains(&i), "{} has no test", i.name());
    }
}

// ---- Reserved rounding modes ------------------------------------------------

/// Static `rm` 5 and 6, and dynamic `rm` with `frm` 5, 6 or 7 (set in
/// `fcsr` beforehand, or by `csrrwi` just before the instruction), are
/// reserved: every instruction with an `rm` field raises an illegal
/// instruction trap at its own pc, with earlier instructions retired and
/// its destination unwritten.
fn check_reserved_rm(tier: Tier) {
    let mut h = Harness::new(tier);
    let mut report = Report::default();
    const SENTINEL: u64 = 0x5555_6666_7777_8888;
    for insn in Insn::all().into_iter().filter(Insn::has_rm) {
        let (rd, rs1) = (
            if insn.int_dest() { X_INT_DST } else { F_DST },
            if insn.int_source() { X_INT_SRC } else { 1 },
        );
        // (rm field, frm in fcsr at entry, frm written by csrrwi first)
        let mut cases: Vec<(u32, u32, Option<u32>)> = vec![(5, 0, None), (6, 0, None)];
        for frm in 5..=7 {
            cases.push((DYN, frm, None));
            cases.push((DYN, 0, Some(frm)));
        }
        for (rm, entry_frm, set_frm) in cases {
            let mut code = vec![addi(9, 0, 1)];
            if let Some(f) = set_frm {
                code.push(csrrwi(0, CSR_FRM, f));
            }
            let at = code.len() as u64 * 4;
            code.push(encode(insn, rm, rd, rs1, 2, 3));
            code.push(ECALL);
            let pc = h.place(&code);
            let mut cpu = CpuState {
                fcsr: u64::from(entry_frm) << 5,
                ..CpuState::default()
            };
            cpu.f[1] = 0x3ff0_0000_0000_0000;
            cpu.f[2] = 0x4000_0000_0000_0000;
            cpu.f[3] = 0x4008_0000_0000_0000;
            cpu.x[X_INT_SRC as usize] = 3;
            cpu.x[X_INT_DST as usize] = SENTINEL;
            cpu.f[F_DST as usize] = SENTINEL;
            let exit = h.run(&mut cpu, pc);
            let what = format!(
                "{} rm={rm} frm at entry={entry_frm} frm set by csrrwi={set_frm:?}",
                insn.name()
            );
            match exit {
                Exit::Trap(t) if t.cause == Exception::IllegalInstruction && t.pc == pc + at => {
                    if cpu.x[9] != 1
                        || cpu.x[X_INT_DST as usize] != SENTINEL
                        || cpu.f[F_DST as usize] != SENTINEL
                        || cpu.fcsr & 0x1f != 0
                    {
                        report.fail(format!("{what}: trapped, but state is not precise: x9={:#x} x7={:#x} f4={:#x} fcsr={:#x}",
                            cpu.x[9], cpu.x[X_INT_DST as usize], cpu.f[F_DST as usize], cpu.fcsr));
                    } else {
                        report.checked += 1;
                    }
                }
                e => report.fail(format!(
                    "{what}: want an illegal-instruction trap at {:#x}, got {e:?}",
                    pc + at
                )),
            }
        }
    }
    h.assert_tier();
    report.assert_ok(&format!("reserved rounding modes, {tier:?} tier"));
}

#[test]
fn reserved_rm_traps_jit() {
    check_reserved_rm(Tier::Jit);
}

#[test]
fn reserved_rm_traps_interp() {
    check_reserved_rm(Tier::Interp);
}
