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
//! runs ten times: static `rm` 0 to 4 (with `frm` holding another mode, which
//! must be ignored) and dynamic `rm` (7) with `frm` 0 to 4 set by `csrrwi`.
//! The vectors are those of `ir/tests/fp_conformance.rs` (edge values and
//! seeded random operands, `fp-oracle/src/vectors.rs`).
//!
//! Tiers: `jit_threshold: 0` compiles every block with Cranelift before it
//! runs and gets every vector; `jit_threshold: u32::MAX` keeps everything
//! in the IR interpreter, which gets the edge vectors and the first
//! [`INTERP_RANDOM`] random ones (the interpreter runs a loop iteration
//! roughly 20x slower than the JIT; all vectors would take minutes).
//!
//! Also: reserved rounding modes (static 5 and 6, dynamic with `frm` 5, 6
//! and 7) raise an illegal-instruction trap at the instruction; `fflags`
//! accrue across instructions and `fflags`/`frm`/`fcsr` read correctly in
//! the middle of a block.
//!
//! Rerun one instruction with e.g. `cargo test --release -p
//! cranemu-runtime --test fp_conformance fmadd_d::jit`.

use std::sync::Arc;

use cranemu_fp_oracle::vectors::RANDOM_PER_INSN;
use cranemu_fp_oracle::vectors::{edge_vectors, random_vectors, seed_of, SplitMix64};
use cranemu_fp_oracle::{eval, flags_str, Insn, IntTy, Op, Report, Rm, Width};
use cranemu_runtime::{CpuState, Engine, EngineConfig, Exception, Exit};
use cranemu_softmmu::user::{GuestSpace, Prot};

// ---- Guest layout ---------------------------------------------------------

/// Code: one slot of [`SLOT`] bytes per guest program.
const CODE: u64 = 0x10000;
const CODE_LEN: u64 = 0x40000;
const SLOT: u64 = 0x100;
/// Operand table: [`CHUNK`] rows of `[rs1, rs2, rs3, prior fflags]`.
const IN: u64 = 0x100000;
/// Results: [`CHUNK`] rows of `[result, fflags]`.
const OUT: u64 = 0x200000;
/// Vectors per engine run.
const CHUNK: usize = 16384;
const IN_ROW: u64 = 32;
const OUT_ROW: u64 = 16;

/// Random vectors per instruction given to the interpreter tier (after
/// all edge vectors).
const INTERP_RANDOM: usize = 20_000;

// ---- Encoder --------------------------------------------------------------

const OP_FP: u32 = 0x53;
const SYSTEM: u32 = 0x73;
const CSR_FFLAGS: u32 = 1;
const CSR_FRM: u32 = 2;
const CSR_FCSR: u32 = 3;
const ECALL: u32 = 0x73;
/// `rm` = 7: use `frm`.
const DYN: u32 = 7;

fn r_type(funct7: u32, rs2: u32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode
}
fn r4_type(rs3: u32, fmt: u32, rs2: u32, rs1: u32, rm: u32, rd: u32, opcode: u32) -> u32 {
    rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode
}
fn i_type(imm: i32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    (imm as u32 & 0xfff) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode
}
fn s_type(imm: i32, rs2: u32, rs1: u32, funct3: u32, opcode: u32) -> u32 {
    let i = imm as u32 & 0xfff;
    (i >> 5) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (i & 0x1f) << 7 | opcode
}
fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x13)
}
fn ld(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 3, rd, 0x03)
}
fn fld(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 3, rd, 0x07)
}
fn sd(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(imm, rs2, rs1, 3, 0x23)
}
fn fsd(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(imm, rs2, rs1, 3, 0x27)
}
fn bne(rs1: u32, rs2: u32, off: i32) -> u32 {
    let o = off as u32;
    ((o >> 12) & 1) << 31
        | ((o >> 5) & 0x3f) << 25
        | rs2 << 20
        | rs1 << 15
        | 1 << 12
        | ((o >> 1) & 0xf) << 8
        | ((o >> 11) & 1) << 7
        | 0x63
}
/// `csrrw rd, csr, rs1`.
fn csrrw(rd: u32, csr: u32, rs1: u32) -> u32 {
    i_type(csr as i32, rs1, 1, rd, SYSTEM)
}
/// `csrrs rd, csr, rs1` (`csrr rd, csr` when `rs1` is x0).
fn csrrs(rd: u32, csr: u32, rs1: u32) -> u32 {
    i_type(csr as i32, rs1, 2, rd, SYSTEM)
}
/// `csrrc rd, csr, rs1`.
fn csrrc(rd: u32, csr: u32, rs1: u32) -> u32 {
    i_type(csr as i32, rs1, 3, rd, SYSTEM)
}
/// `csrrwi rd, csr, uimm`.
fn csrrwi(rd: u32, csr: u32, uimm: u32) -> u32 {
    i_type(csr as i32, uimm, 5, rd, SYSTEM)
}
/// `csrrsi rd, csr, uimm`.
fn csrrsi(rd: u32, csr: u32, uimm: u32) -> u32 {
    i_type(csr as i32, uimm, 6, rd, SYSTEM)
}
/// `csrrci rd, csr, uimm`.
fn csrrci(rd: u32, csr: u32, uimm: u32) -> u32 {
    i_type(csr as i32, uimm, 7, rd, SYSTEM)
}

/// Encodes `insn` with rounding-mode field `rm` (ignored by encodings
/// without one) and registers `rd`, `rs1`, `rs2`, `rs3` (integer or float
/// numbers as the instruction reads and writes them).
fn encode(insn: Insn, rm: u32, rd: u32, rs1: u32, rs2: u32, rs3: u32) -> u32 {
    let fmt = insn.w.fmt();
    let fp =
        |funct5: u32, rs2: u32, funct3: u32| r_type(funct5 << 2 | fmt, rs2, rs1, funct3, rd, OP_FP);
    let r4 = |opcode: u32| r4_type(rs3, fmt, rs2, rs1, rm, rd, opcode);
    match insn.op {
        Op::Add => fp(0b00000, rs2, rm),
        Op::Sub => fp(0b00001, rs2, rm),
        Op::Mul => fp(0b00010, rs2, rm),
        Op::Div => fp(0b00011, rs2, rm),
        Op::Sqrt => fp(0b01011, 0, rm),
        Op::Sgnj => fp(0b00100, rs2, 0),
        Op::Sgnjn => fp(0b00100, rs2, 1),
        Op::Sgnjx => fp(0b00100, rs2, 2),
        Op::Min => fp(0b00101, rs2, 0),
        Op::Max => fp(0b00101, rs2, 1),
        // funct7 names the destination format, rs2 the source's.
        Op::CvtFloat => match insn.w {
            Width::D => r_type(0b0100000, 1, rs1, rm, rd, OP_FP),
            Width::S => r_type(0b0100001, 0, rs1, rm, rd, OP_FP),
        },
        Op::Eq => fp(0b10100, rs2, 2),
        Op::Lt => fp(0b10100, rs2, 1),
        Op::Le => fp(0b10100, rs2, 0),
        Op::Class => fp(0b11100, 0, 1),
        Op::MvToInt => fp(0b11100, 0, 0),
        Op::ToInt(t) => fp(0b11000, t.rs2(), rm),
        Op::FromInt(t) => fp(0b11010, t.rs2(), rm),
        Op::MvFromInt => fp(0b11110, 0, 0),
        Op::Madd => r4(0x43),
        Op::Msub => r4(0x47),
        Op::Nmsub => r4(0x4b),
        Op::Nmadd => r4(0x4f),
    }
}

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

// ---- Engine harness -------------------------------------------------------

/// Which execution tier runs the guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    /// Every block compiled by Cranelift before its first run.
    Jit,
    /// Every block run by the IR interpreter.
    Interp,
}

/// An engine with code, operand and result areas mapped, handing out code
/// slots.
struct Harness {
    space: Arc<GuestSpace>,
    engine: Engine,
    tier: Tier,
    next_slot: u64,
}

impl Harness {
    fn new(tier: Tier) -> Harness {
        let space = Arc::new(GuestSpace::new().expect("guest space"));
        space.map(CODE, CODE_LEN, Prot::RX, true).expect("map code");
        space
            .map(IN, CHUNK as u64 * IN_ROW, Prot::RW, true)
            .expect("map operands");
        space
            .map(OUT, CHUNK as u64 * OUT_ROW, Prot::RW, true)
            .expect("map results");
        let config = EngineConfig {
            jit_threshold: match tier {
                Tier::Jit => 0,
                Tier::Interp => u32::MAX,
            },
            ..EngineConfig::default()
        };
        let engine = Engine::new(space.clone(), config).expect("engine");
        Harness {
            space,
            engine,
            tier,
            next_slot: CODE,
        }
    }

    /// Writes `code` to a fresh slot; returns its address.
    fn place(&mut self, code: &[u32]) -> u64 {
        assert!(code.len() as u64 * 4 <= SLOT);
        let at = self.next_slot;
        self.next_slot += SLOT;
        assert!(self.next_slot <= CODE + CODE_LEN, "out of code slots");
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.space.write_force(at, &bytes).expect("write code");
        at
    }

    /// Runs from `pc` until a trap.
    fn run(&self, cpu: &mut CpuState, pc: u64) -> Exit {
        cpu.pc = pc;
        self.engine.run(cpu).expect("engine run")
    }

    /// Checks that the tier asked for is the one that ran.
    fn assert_tier(&self) {
        let s = self.engine.stats();
        match self.tier {
            Tier::Jit => assert_eq!(s.interpreted_blocks, 0, "JIT tier interpreted blocks"),
            Tier::Interp => assert_eq!(s.compiled_blocks, 0, "interpreter tier compiled blocks"),
        }
    }
}

fn is_ecall(exit: Exit) -> bool {
    matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU)
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

// ---- fcsr inside a block ------------------------------------------------------

/// One block: flags accrue across FP instructions (never cleared by one),
/// `fflags`, `frm` and `fcsr` read back correctly between them, `csrrw`
/// returns the old value, and a `frm` change applies to the next dynamic
/// rounding.
fn check_fcsr_in_block(tier: Tier) {
    const ONE: u64 = 0x3ff0_0000_0000_0000;
    const TINY: u64 = 0x3c40_0000_0000_0000; // 2^-59: 1 + TINY is inexact
    const QNAN: u64 = 0x7ff8_0000_0000_0000;
    const THREE_QUARTER_ULP: u64 = 0x3ca8_0000_0000_0000; // 0.75 * 2^-52
    let d = |op| Insn { op, w: Width::D };
    let code = [
        csrrs(20, CSR_FFLAGS, 0),             // x20 = OF (entry)
        encode(d(Op::Div), DYN, 10, 1, 0, 0), // 1/0: DZ
        csrrs(21, CSR_FFLAGS, 0),             // OF|DZ
        encode(d(Op::Add), DYN, 11, 1, 2, 0), // 1+tiny: NX
        csrrs(22, CSR_FFLAGS, 0),             // OF|DZ|NX
        encode(d(Op::Add), DYN, 12, 1, 1, 0), // exact: no flag
        encode(d(Op::Min), 0, 13, 1, 2, 0),   // no flag
        csrrs(23, CSR_FFLAGS, 0),             // OF|DZ|NX
        csrrs(24, CSR_FCSR, 0),               // frm=rup | OF|DZ|NX
        csrrs(25, CSR_FRM, 0),                // rup
        csrrw(26, CSR_FFLAGS, 0),             // old flags; clear
        encode(d(Op::Lt), 0, 27, 1, 3, 0),    // flt with qNaN: NV
        csrrs(28, CSR_FCSR, 0),               // rup | NV
        encode(d(Op::Add), DYN, 14, 1, 4, 0), // 1 + 0.75ulp, rup: 1+ulp
        csrrwi(29, CSR_FRM, Rm::Rtz.bits()),  // old frm; now rtz
        encode(d(Op::Add), DYN, 15, 1, 4, 0), // rtz: 1
        csrrs(30, CSR_FCSR, 0),               // rtz | NV|NX
        ECALL,
    ];
    let mut h = Harness::new(tier);
    let pc = h.place(&code);
    let mut cpu = CpuState {
        fcsr: u64::from(Rm::Rup.bits()) << 5 | 0x04,
        ..CpuState::default()
    };
    cpu.f[1] = ONE;
    cpu.f[2] = TINY;
    cpu.f[3] = QNAN;
    cpu.f[4] = THREE_QUARTER_ULP;
    let exit = h.run(&mut cpu, pc);
    assert!(is_ecall(exit), "{tier:?}: {exit:?}");
    let (rup, rtz) = (u64::from(Rm::Rup.bits()), u64::from(Rm::Rtz.bits()));
    let want: [(usize, u64); 11] = [
        (20, 0x04),
        (21, 0x0c),
        (22, 0x0d),
        (23, 0x0d),
        (24, rup << 5 | 0x0d),
        (25, rup),
        (26, 0x0d),
        (27, 0),
        (28, rup << 5 | 0x10),
        (29, rup),
        (30, rtz << 5 | 0x11),
    ];
    let mut bad = Vec::new();
    for (r, v) in want {
        if cpu.x[r] != v {
            bad.push(format!("x{r} = {:#x}, want {v:#x}", cpu.x[r]));
        }
    }
    for (r, v) in [
        (10, 0x7ff0_0000_0000_0000),
        (11, 0x3ff0_0000_0000_0001), // rup
        (12, 0x4000_0000_0000_0000),
        (13, TINY),
        (14, 0x3ff0_0000_0000_0001),
        (15, ONE),
    ] {
        if cpu.f[r] != v {
            bad.push(format!("f{r} = {:#x}, want {v:#x}", cpu.f[r]));
        }
    }
    if cpu.fcsr != rtz << 5 | 0x11 {
        bad.push(format!(
            "fcsr at exit = {:#x}, want {:#x}",
            cpu.fcsr,
            rtz << 5 | 0x11
        ));
    }
    h.assert_tier();
    assert!(
        bad.is_empty(),
        "fcsr in a block, {tier:?} tier:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn fcsr_in_block_jit() {
    check_fcsr_in_block(Tier::Jit);
}

#[test]
fn fcsr_in_block_interp() {
    check_fcsr_in_block(Tier::Interp);
}

// ---- Every kind of frm write ----------------------------------------------------

/// `frm` changed by every CSR instruction form (`csrrsi`/`csrrci` on
/// `frm`, `csrrs`/`csrrc`/`csrrw` with a register on `frm` and `fcsr`,
/// `csrrwi` on `fcsr`) applies to the next dynamically rounded
/// instruction; and the same code, rerun with a different `frm` in
/// `CpuState::fcsr`, rounds by the new one (the translation cache must
/// not hand back a block made for another `frm`).
fn check_frm_writes(tier: Tier) {
    const ONE: u64 = 0x3ff0_0000_0000_0000;
    const HALF_ULP: u64 = 0x3ca0_0000_0000_0000; // 2^-53
    const THREE_QUARTER_ULP: u64 = 0x3ca8_0000_0000_0000; // 0.75 * 2^-52
    const NEG: u64 = 1 << 63;
    let fadd = Insn {
        op: Op::Add,
        w: Width::D,
    };
    // Operands f1..f5 and, per rounding state, three dynamically rounded
    // additions whose results tell all five modes apart: -1 - 2^-53 and
    // 1 + 2^-53 (ties) and 1 + 0.75 ulp.
    let pairs = [(2u32, 4u32), (1, 3), (1, 5)];
    let mut code = Vec::new();
    let mut dst = 6;
    let mut probe = |code: &mut Vec<u32>| {
        for (a, b) in pairs {
            code.push(encode(fadd, DYN, dst, a, b, 0));
            dst += 1;
        }
    };
    probe(&mut code);
    let steps = [
        csrrci(0, CSR_FRM, 4),
        csrrsi(0, CSR_FRM, 1),
        csrrci(0, CSR_FRM, 2),
        csrrc(0, CSR_FCSR, 5), // x5 = 1 << 5
        csrrs(0, CSR_FRM, 6),  // x6 = 2
        csrrw(0, CSR_FRM, 7),  // x7 = 4
        csrrwi(0, CSR_FCSR, 1),
    ];
    for s in steps {
        code.push(s);
        probe(&mut code);
    }
    code.push(csrrs(8, CSR_FCSR, 0));
    code.push(ECALL);

    let mut h = Harness::new(tier);
    let pc = h.place(&code);
    let mut bad = Vec::new();
    for entry in 0..5u32 {
        let frm_seq = {
            let f1 = entry & !4;
            let f2 = f1 | 1;
            let f3 = f2 & !2;
            let f4 = f3 & !1;
            let f5 = f4 | 2;
            [entry, f1, f2, f3, f4, f5, 4, 0]
        };
        let mut cpu = CpuState {
            fcsr: u64::from(entry) << 5,
            ..CpuState::default()
        };
        cpu.f[1] = ONE;
        cpu.f[2] = ONE | NEG;
        cpu.f[3] = HALF_ULP;
        cpu.f[4] = HALF_ULP | NEG;
        cpu.f[5] = THREE_QUARTER_ULP;
        cpu.x[5] = 1 << 5;
        cpu.x[6] = 2;
        cpu.x[7] = 4;
        let exit = h.run(&mut cpu, pc);
        if !is_ecall(exit) {
            bad.push(format!("entry frm {entry}: {exit:?}"));
            continue;
        }
        let mut r = 6;
        for (k, &frm) in frm_seq.iter().enumerate() {
            let rm = Rm::ALL[frm as usize];
            for (a, b) in pairs {
                let want = eval(fadd, rm, cpu.f[a as usize], cpu.f[b as usize], 0).0;
                if cpu.f[r] != want {
                    bad.push(format!(
                        "entry frm {entry}, after write #{k} frm should be {}: f{r} = {:#x}, want {want:#x}",
                        rm.name(),
                        cpu.f[r]
                    ));
                }
                r += 1;
            }
        }
        if cpu.x[8] != 0x01 || cpu.fcsr != 0x01 {
            bad.push(format!(
                "entry frm {entry}: final fcsr read {:#x}, at exit {:#x}, want 0x1",
                cpu.x[8], cpu.fcsr
            ));
        }
    }
    h.assert_tier();
    assert!(
        bad.is_empty(),
        "frm writes, {tier:?} tier:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn frm_writes_jit() {
    check_frm_writes(Tier::Jit);
}

#[test]
fn frm_writes_interp() {
    check_frm_writes(Tier::Interp);
}
