//! `fcsr` as guest code sees it, in both tiers: flags accrue across
//! instructions and are never cleared by one; `fflags`, `frm` and `fcsr`
//! read correctly in the middle of a block; every CSR instruction form
//! that writes `frm` takes effect for the next dynamically rounded
//! instruction, and code rerun under another `frm` rounds by it; flags of
//! instructions whose results are dead (integer results to `x0`, float
//! results overwritten) still accrue; and at a trap or a side exit `fflags`
//! holds exactly the flags of the instructions before it.
//!
//! Expected values come from the SoftFloat-based oracle
//! (`cranemu-fp-oracle`) or are worked out in the comments.

mod fp_common;

use cranemu_fp_oracle::{eval, Insn, Op, Rm, Width};
use cranemu_runtime::{CpuState, Exception, Exit};
use fp_common::*;

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

// ---- Dead results, traps and side exits -----------------------------------------

const ONE: u64 = 0x3ff0_0000_0000_0000;
const SNAN: u64 = 0x7ff0_0000_0000_0001;
const MAX: u64 = 0x7fef_ffff_ffff_ffff;
const TINY: u64 = 0x3c30_0000_0000_0000; // 2^-60: 1 + TINY is inexact
const ONE_HALF: u64 = 0x3ff8_0000_0000_0000;

fn d(op: Op) -> Insn {
    Insn { op, w: Width::D }
}

/// Float registers for the programs below: f0 = +0, f1 = sNaN, f2 = tiny,
/// f3 = 1.5, f5 = 1.0, f7 = the largest double, f10 = a single that is not
/// NaN-boxed.
fn flag_cpu(fcsr: u64) -> CpuState {
    let mut cpu = CpuState {
        fcsr,
        ..CpuState::default()
    };
    cpu.f[1] = SNAN;
    cpu.f[2] = TINY;
    cpu.f[3] = ONE_HALF;
    cpu.f[5] = ONE;
    cpu.f[7] = MAX;
    cpu.f[10] = 0x3f80_0000;
    cpu
}

/// Flags of instructions whose results nobody reads still accrue: integer
/// results written to `x0`, float results overwritten before any read (a
/// dead-code or dead-store pass must not drop the flag side effect).
fn check_dead_results(tier: Tier) {
    let clear = csrrw(0, CSR_FFLAGS, 0);
    let rne = Rm::Rne.bits();
    // (instructions, the flags they must leave)
    let cases: Vec<(&str, Vec<u32>, u64)> = vec![
        (
            "feq.d x0, sNaN, 1",
            vec![encode(d(Op::Eq), 0, 0, 1, 5, 0)],
            0x10,
        ),
        (
            "flt.s x0, unboxed, 1",
            vec![encode(
                Insn {
                    op: Op::Lt,
                    w: Width::S,
                },
                0,
                0,
                10,
                5,
                0,
            )],
            0x10,
        ),
        (
            "fcvt.w.d x0, 1.5",
            vec![encode(
                d(Op::ToInt(cranemu_fp_oracle::IntTy::W)),
                rne,
                0,
                3,
                0,
                0,
            )],
            0x01,
        ),
        (
            "fdiv.d f4, 1, 0; overwritten by fmv.d.x",
            vec![
                encode(d(Op::Div), rne, 4, 5, 0, 0),
                encode(d(Op::MvFromInt), 0, 4, 0, 0, 0),
            ],
            0x08,
        ),
        (
            "fadd.d f6, max, max; overwritten by fsgnj.d",
            vec![
                encode(d(Op::Add), rne, 6, 7, 7, 0),
                encode(d(Op::Sgnj), 0, 6, 0, 0, 0),
            ],
            0x05,
        ),
        (
            "fmin.d f8, sNaN, 1; overwritten",
            vec![
                encode(d(Op::Min), 0, 8, 1, 5, 0),
                encode(d(Op::MvFromInt), 0, 8, 0, 0, 0),
            ],
            0x10,
        ),
        (
            "fmadd.d f9, 1, tiny, 1; overwritten",
            vec![
                encode(d(Op::Madd), rne, 9, 5, 2, 5),
                encode(d(Op::MvFromInt), 0, 9, 0, 0, 0),
            ],
            0x01,
        ),
        (
            "fsqrt.d f9, sNaN; overwritten by another fsqrt.d",
            vec![
                encode(d(Op::Sqrt), rne, 9, 1, 0, 0),
                encode(d(Op::Sqrt), rne, 9, 5, 0, 0),
            ],
            0x10,
        ),
    ];
    let mut h = Harness::new(tier);
    let mut bad = Vec::new();
    // All cases in one block, each followed by a flags read and a clear.
    let mut code = Vec::new();
    for (i, (_, insns, _)) in cases.iter().enumerate() {
        code.extend(insns);
        code.push(csrrs(20 + i as u32, CSR_FFLAGS, 0));
        code.push(clear);
    }
    code.push(ECALL);
    let pc = h.place(&code);
    let mut cpu = flag_cpu(0);
    let exit = h.run(&mut cpu, pc);
    assert!(is_ecall(exit), "{tier:?}: {exit:?}");
    for (i, (what, _, want)) in cases.iter().enumerate() {
        let got = cpu.x[20 + i];
        if got != *want {
            bad.push(format!(
                "{what}, read in the block: fflags {got:#x}, want {want:#x}"
            ));
        }
    }
    if cpu.x[0] != 0 {
        bad.push(format!("x0 = {:#x}", cpu.x[0]));
    }
    // Each case alone in a block that never reads fflags: the flags must
    // reach fcsr at the exit.
    for (what, insns, want) in &cases {
        let mut code = insns.clone();
        code.push(ECALL);
        let pc = h.place(&code);
        let mut cpu = flag_cpu(0);
        let exit = h.run(&mut cpu, pc);
        if !is_ecall(exit) || cpu.fcsr != *want {
            bad.push(format!(
                "{what}, never read: fcsr at exit {:#x} ({exit:?}), want {want:#x}",
                cpu.fcsr
            ));
        }
    }
    h.assert_tier();
    assert!(
        bad.is_empty(),
        "dead results, {tier:?} tier:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn dead_results_raise_flags_jit() {
    check_dead_results(Tier::Jit);
}

#[test]
fn dead_results_raise_flags_interp() {
    check_dead_results(Tier::Interp);
}

/// At a trap (illegal instruction, page fault) or a taken side exit,
/// `fflags` holds the flags of the instructions before it and none of
/// those after; flags left in `CpuState::fcsr` between runs are kept, and
/// nothing from an earlier run leaks into a later one.
fn check_precise_flags(tier: Tier) {
    let rne = Rm::Rne.bits();
    let fadd_nx = encode(d(Op::Add), rne, 6, 5, 2, 0); // 1 + tiny: NX
    let fdiv_dz = encode(d(Op::Div), rne, 4, 5, 0, 0); // 1 / 0: DZ
    let unmapped = 0x70_0000;
    // The page-fault case needs the JIT's fault handler to know this
    // engine's guest region: no other engine may be created meanwhile.
    let mut h = Harness::exclusive(tier);
    let mut bad = Vec::new();
    let expect = |bad: &mut Vec<String>,
                  what: &str,
                  cpu: &CpuState,
                  exit: Exit,
                  trap: Exception,
                  at: u64,
                  fflags: u64| {
        let ok = matches!(exit, Exit::Trap(t) if t.cause == trap && t.pc == at);
        if !ok || cpu.fcsr & 0x1f != fflags {
            bad.push(format!(
                "{what}: {exit:?}, fflags {:#x}; want {trap:?} at {at:#x}, fflags {fflags:#x}",
                cpu.fcsr & 0x1f
            ));
        }
    };

    // Illegal instruction (reserved static rm) after an inexact add.
    let pc = h.place(&[fadd_nx, encode(d(Op::Add), 5, 7, 5, 5, 0), fdiv_dz, ECALL]);
    let mut cpu = flag_cpu(0);
    let exit = h.run(&mut cpu, pc);
    expect(
        &mut bad,
        "fadd (NX); fadd rm=5",
        &cpu,
        exit,
        Exception::IllegalInstruction,
        pc + 4,
        0x01,
    );

    // Load page fault after an inexact add.
    let pc = h.place(&[fadd_nx, ld(9, 11, 0), fdiv_dz, ECALL]);
    let mut cpu = flag_cpu(0);
    cpu.x[11] = unmapped;
    let exit = h.run(&mut cpu, pc);
    expect(
        &mut bad,
        "fadd (NX); ld from an unmapped page",
        &cpu,
        exit,
        Exception::LoadPageFault,
        pc + 4,
        0x01,
    );

    // Store page fault after a divide by zero, with flags already set.
    let pc = h.place(&[fdiv_dz, sd(9, 11, 0), fadd_nx, ECALL]);
    let mut cpu = flag_cpu(0x04);
    cpu.x[11] = unmapped;
    let exit = h.run(&mut cpu, pc);
    expect(
        &mut bad,
        "fdiv (DZ); sd to an unmapped page",
        &cpu,
        exit,
        Exception::StorePageFault,
        pc + 4,
        0x0c,
    );

    // A taken forward branch (a side exit of a superblock) skipping an
    // inexact add.
    let pc = h.place(&[fdiv_dz, beq(0, 0, 12), fadd_nx, addi(9, 0, 1), ECALL]);
    let mut cpu = flag_cpu(0);
    let exit = h.run(&mut cpu, pc);
    expect(
        &mut bad,
        "fdiv (DZ); beq over fadd (NX)",
        &cpu,
        exit,
        Exception::EcallFromU,
        pc + 16,
        0x08,
    );
    if cpu.x[9] != 0 {
        bad.push("the taken branch did not skip".into());
    }
    // The same with the branch not taken.
    let pc = h.place(&[fdiv_dz, bne(0, 0, 12), fadd_nx, addi(9, 0, 1), ECALL]);
    let mut cpu = flag_cpu(0);
    let exit = h.run(&mut cpu, pc);
    expect(
        &mut bad,
        "fdiv (DZ); bne not taken; fadd (NX)",
        &cpu,
        exit,
        Exception::EcallFromU,
        pc + 16,
        0x09,
    );

    // Between runs: the flags in CpuState are what the next run starts
    // with, and host flags of an earlier run do not leak.
    let exact = encode(d(Op::Add), rne, 6, 5, 5, 0);
    let pc = h.place(&[exact, csrrs(20, CSR_FFLAGS, 0), ECALL]);
    let mut cpu = flag_cpu(0);
    let exit = h.run(&mut cpu, pc);
    expect(
        &mut bad,
        "exact fadd after a flagged run",
        &cpu,
        exit,
        Exception::EcallFromU,
        pc + 8,
        0,
    );
    cpu.fcsr = 0x04;
    let exit = h.run(&mut cpu, pc);
    expect(
        &mut bad,
        "exact fadd with OF preset",
        &cpu,
        exit,
        Exception::EcallFromU,
        pc + 8,
        0x04,
    );
    if cpu.x[20] != 0x04 {
        bad.push(format!("csrr fflags with OF preset: {:#x}", cpu.x[20]));
    }
    h.assert_tier();
    assert!(
        bad.is_empty(),
        "precise flags, {tier:?} tier:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn precise_flags_jit() {
    check_precise_flags(Tier::Jit);
}

#[test]
fn precise_flags_interp() {
    check_precise_flags(Tier::Interp);
}
