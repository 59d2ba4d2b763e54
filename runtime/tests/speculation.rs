//! Loads made early, through the whole engine and in every tier:
//! speculative loads of if-converted branches (the frontend's module
//! doc, "Speculative loads"), where a load that faults while its branch
//! skips it is not the guest's fault, and the branch is translated as a
//! branch from then on, while one the branch does not skip faults at its
//! own pc; and loads that register writes were deferred past
//! (`cranemu_ir::passes::defer_state_stores`), where a fault still finds
//! the state exact at the load.

use std::sync::Arc;

use cranemu_runtime::{CpuState, Engine, EngineConfig, Exception, Exit};
use cranemu_softmmu::user::{GuestSpace, Prot};

mod rv;
use rv::*;

const CODE: u64 = 0x10000;
const DATA: u64 = 0x20000;
/// Unmapped.
const HOLE: u64 = 0x30000;

const BGEU: u32 = 7;
const BNE: u32 = 1;

/// `x5` times: unless `x5 >= x8` (unsigned), `x6 += *(u64 *)x7`
/// (a branch over the load and the add); then `ecall`.
fn loop_code() -> [u32; 5] {
    [
        b_type(BGEU, 5, 8, 12), // loop
        ld(10, 7, 0),           // the load (CODE + 4)
        add(6, 6, 10),
        addi(5, 5, -1),
        b_type(BNE, 5, 0, -16),
    ]
}

/// An engine with `config` over [`loop_code`] (see [`engine_for`]).
fn engine(config: EngineConfig) -> Engine {
    engine_for(&loop_code(), config)
}

/// Runs the loop `n` times from `CODE` with `x7 = ptr` and `x8 =
/// bound` on `engine`.
fn run(engine: &Engine, n: u64, ptr: u64, bound: u64) -> (Exit, CpuState) {
    run_with(engine, &[(5, n), (7, ptr), (8, bound)])
}

/// Runs `engine` from `CODE` with the registers `regs` (the others 0).
fn run_with(engine: &Engine, regs: &[(usize, u64)]) -> (Exit, CpuState) {
    let mut cpu = CpuState {
        pc: CODE,
        ..CpuState::default()
    };
    for &(r, v) in regs {
        cpu.x[r] = v;
    }
    let exit = engine.run(&mut cpu).expect("run");
    (exit, cpu)
}

/// The pc and address of the load page fault `exit` must be.
fn load_fault(tier: &str, exit: &Exit) -> (u64, u64) {
    match exit {
        Exit::Trap(t) if t.cause == Exception::LoadPageFault => (t.pc, t.tval),
        e => panic!("{tier}: {e:?}"),
    }
}

/// Each tier on its own, and all of them with regions.
fn tiers() -> Vec<(&'static str, EngineConfig)> {
    let default = EngineConfig::default;
    vec![
        (
            "interpreter",
            EngineConfig {
                jit_threshold: u32::MAX,
                reference_interpreter: true,
                ..default()
            },
        ),
        (
            "first tier",
            EngineConfig {
                jit_threshold: u32::MAX,
                ..default()
            },
        ),
        (
            "cranelift",
            EngineConfig {
                jit_threshold: 0,
                ..default()
            },
        ),
        (
            "regions",
            EngineConfig {
                jit_threshold: 5,
                wait_for_compiles: true,
                ..default()
            },
        ),
    ]
}

fn ecall(exit: &Exit) -> bool {
    matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU)
}

#[test]
fn a_skipped_load_that_would_fault_is_not_the_guests_fault() {
    for (tier, config) in tiers() {
        let engine = engine(config);
        // The branch skips the load each time (x5 >= 0).
        let (exit, cpu) = run(&engine, 1000, HOLE, 0);
        assert!(ecall(&exit), "{tier}: {exit:?}");
        assert_eq!((cpu.x[5], cpu.x[6]), (0, 0), "{tier}");
        let stats = engine.stats();
        assert_eq!(stats.early_load_faults, 1, "{tier}: once, then a branch");
        assert!(stats.invalidated_tbs >= 1, "{tier}: {stats:?}");
    }
}

#[test]
fn a_load_its_branch_makes_faults_at_its_own_pc() {
    for (tier, config) in tiers() {
        let engine = engine(config);
        // Skipped while x5 >= 3, made at x5 = 2.
        let (exit, cpu) = run(&engine, 10, HOLE, 3);
        assert_eq!(load_fault(tier, &exit), (CODE + 4, HOLE), "{tier}");
        assert_eq!((cpu.x[5], cpu.x[6]), (2, 0), "{tier}: as before the load");
    }
}

#[test]
fn loads_that_do_not_fault_stay_speculative() {
    for (tier, config) in tiers() {
        let engine = engine(config);
        // Made while x5 < 400, skipped above.
        let (exit, cpu) = run(&engine, 1000, DATA, 400);
        assert!(ecall(&exit), "{tier}: {exit:?}");
        assert_eq!(cpu.x[6], 3 * 399, "{tier}");
        assert_eq!(engine.stats().early_load_faults, 0, "{tier}");
    }
}

/// Compiled code that made the load speculatively, then faults with it:
/// the loop runs hot with a good pointer (compiled, as a region where
/// regions form), then again from the start with a pointer into the
/// hole.
#[test]
fn compiled_speculation_that_faults_later_is_undone() {
    for (tier, config) in tiers() {
        let engine = engine(config);
        let (exit, cpu) = run(&engine, 1000, DATA, u64::MAX);
        assert!(ecall(&exit) && cpu.x[6] == 3000, "{tier}: {exit:?}");
        let (exit, cpu) = run(&engine, 1000, HOLE, 0);
        assert!(ecall(&exit), "{tier}: {exit:?}");
        assert_eq!((cpu.x[5], cpu.x[6]), (0, 0), "{tier}");
        assert_eq!(engine.stats().early_load_faults, 1, "{tier}");
    }
}

/// A speculative load after a deferred register write in the same
/// stretch: its fault reports the stretch's start (before the write),
/// then, run again without the stretch, its branch; the write is made
/// once per iteration all the same.
#[test]
fn a_speculative_load_after_a_deferred_write_is_undone_twice() {
    let code = [
        addi(9, 9, 1),          // loop: CODE, a write before the branch
        b_type(BGEU, 5, 8, 12), // CODE + 4
        ld(10, 7, 0),           // skipped while x5 >= x8
        add(6, 6, 10),
        addi(5, 5, -1),
        b_type(BNE, 5, 0, -20),
    ];
    for (tier, config) in tiers() {
        let engine = engine_for(&code, config);
        let (exit, cpu) = run_with(&engine, &[(5, 1000), (7, HOLE)]);
        assert!(ecall(&exit), "{tier}: {exit:?}");
        assert_eq!((cpu.x[5], cpu.x[6], cpu.x[9]), (0, 0, 1000), "{tier}");
        // Twice where the first run defers the write (the interpreter
        // and Cranelift from the start), once where it runs in the first
        // tier, which does not.
        let faults = engine.stats().early_load_faults;
        assert!((1..=2).contains(&faults), "{tier}: {faults}");
    }
}

/// An engine with `config` over `code` and `ecall` at `CODE`, and 8
/// bytes of 3 at `DATA` (the page after it unmapped).
fn engine_for(code: &[u32], config: EngineConfig) -> Engine {
    let space = Arc::new(GuestSpace::new().expect("guest space"));
    space.map(CODE, 0x1000, Prot::RX, true).expect("map code");
    space.map(DATA, 0x1000, Prot::RW, true).expect("map data");
    let mut code = code.to_vec();
    code.push(ECALL);
    space.write_force(CODE, &bytes(&code)).expect("write code");
    space
        .write_force(DATA, &3u64.to_le_bytes())
        .expect("write data");
    Engine::new(space, config).expect("engine")
}

/// Register writes before and between loads, the second of which
/// faults: the guest's fault at its pc, every earlier write in the state
/// and no later one.
#[test]
fn a_fault_after_deferred_writes_finds_the_state_exact() {
    let code = [
        addi(9, 0, 7),
        addi(5, 0, 1),
        add(6, 9, 5),
        ld(10, 7, 0),
        add(11, 10, 6),
        ld(12, 8, 0), // CODE + 20: faults
        addi(13, 0, 1),
    ];
    for (tier, config) in tiers() {
        let engine = engine_for(&code, config);
        let (exit, cpu) = run_with(&engine, &[(7, DATA), (8, HOLE)]);
        assert_eq!(load_fault(tier, &exit), (CODE + 20, HOLE), "{tier}");
        let regs: Vec<u64> = (5..14).map(|r| cpu.x[r]).collect();
        assert_eq!(regs, [1, 8, DATA, HOLE, 7, 3, 11, 0, 0], "{tier}: x5..x13");
    }
}

/// A loop that reads its way up through the data page into the
/// unmapped one after it, hot (compiled, as a region where regions
/// form): the fault comes at the first address past the page, with the
/// count, the sum and the pointer of the iterations before it.
#[test]
fn a_hot_loop_faults_with_the_state_of_its_last_iteration() {
    let code = [
        addi(5, 5, 1), // loop: CODE
        ld(10, 7, 0),  // CODE + 4, after a write
        add(6, 6, 10),
        addi(7, 7, 8),
        b_type(BNE, 0, 9, -16),
    ];
    for (tier, config) in tiers() {
        let engine = engine_for(&code, config);
        let (exit, cpu) = run_with(&engine, &[(7, DATA), (9, 1)]);
        assert_eq!(load_fault(tier, &exit), (CODE + 4, DATA + 0x1000), "{tier}");
        // 512 loads made, the 513th faults after its `addi`.
        assert_eq!(
            (cpu.x[5], cpu.x[6], cpu.x[7], cpu.x[10]),
            (513, 3, DATA + 0x1000, 0),
            "{tier}"
        );
    }
}

/// A 64-bit load whose value only one later instruction uses (its
/// register written again before any store): Cranelift may fold such a
/// load into its user (`add r, [mem]`), where a fault would be reported
/// at the user's pc. The fault must still come at the load's own pc,
/// with the write before it in the state.
#[test]
fn a_load_folded_into_its_user_faults_at_its_own_pc() {
    let code = [
        addi(11, 11, 1),
        ld(5, 10, 0), // CODE + 4: faults
        add(11, 11, 5),
        ld(5, 10, 8),
        addi(13, 0, 1),
    ];
    for (tier, config) in tiers() {
        let engine = engine_for(&code, config);
        let (exit, cpu) = run_with(&engine, &[(10, HOLE), (11, 5)]);
        assert_eq!(load_fault(tier, &exit), (CODE + 4, HOLE), "{tier}");
        assert_eq!((cpu.x[5], cpu.x[11], cpu.x[13]), (0, 6, 0), "{tier}");
    }
}
