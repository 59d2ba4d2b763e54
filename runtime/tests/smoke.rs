//! End-to-end runs of hand-encoded guest code through the whole engine:
//! translation, Cranelift, chaining, traps and host-fault recovery.

use std::sync::Arc;

use cranemu_runtime::{CpuState, Engine, EngineConfig, Exception, Exit};
use cranemu_softmmu::user::{GuestSpace, Prot};

const CODE: u64 = 0x10000;
const DATA: u64 = 0x20000;

fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13
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
fn ld(rd: u32, rs1: u32, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03
}
fn sd(rs2: u32, rs1: u32, imm: i32) -> u32 {
    let i = imm as u32 & 0xfff;
    (i >> 5) << 25 | rs2 << 20 | rs1 << 15 | 3 << 12 | (i & 0x1f) << 7 | 0x23
}
fn lui(rd: u32, imm20: u32) -> u32 {
    imm20 << 12 | rd << 7 | 0x37
}
const ECALL: u32 = 0x73;

fn setup(code: &[u32]) -> (Engine, CpuState) {
    let space = Arc::new(GuestSpace::new().expect("guest space"));
    space.map(CODE, 0x1000, Prot::RX, true).expect("map code");
    space.map(DATA, 0x1000, Prot::RW, true).expect("map data");
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    space.write_force(CODE, &bytes).expect("write code");
    let engine = Engine::new(space, EngineConfig::default()).expect("engine");
    let cpu = CpuState {
        pc: CODE,
        ..CpuState::default()
    };
    (engine, cpu)
}

#[test]
fn runs_to_ecall() {
    let (engine, mut cpu) = setup(&[addi(10, 0, 42), addi(11, 10, -2), ECALL]);
    let exit = engine.run(&mut cpu).expect("run");
    match exit {
        Exit::Trap(t) => {
            assert_eq!(t.cause, Exception::EcallFromU);
            assert_eq!(t.pc, CODE + 8);
        }
        e => panic!("unexpected {e:?}"),
    }
    assert_eq!(cpu.x[10], 42);
    assert_eq!(cpu.x[11], 40);
}

#[test]
fn chained_loop_and_memory() {
    // x5 = 100000; x6 = 0; loop: x6 += 3; sd x6, 0(x7); x5 -= 1; bne x5, x0, loop; ld x8, 0(x7); ecall
    let code = [
        lui(5, 24),       // 24 << 12 = 98304
        addi(5, 5, 1696), // 100000
        lui(7, (DATA >> 12) as u32),
        addi(6, 6, 3), // loop (offset 12)
        sd(6, 7, 0),
        addi(5, 5, -1),
        bne(5, 0, -12),
        ld(8, 7, 0),
        ECALL,
    ];
    let (engine, mut cpu) = setup(&code);
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU),
        "{exit:?}"
    );
    assert_eq!(cpu.x[6], 300000);
    assert_eq!(cpu.x[8], 300000);
    assert!(
        engine.stats().blocks <= 4,
        "loop should be chained, not retranslated"
    );
}

#[test]
fn host_fault_becomes_guest_page_fault() {
    // Load from an unmapped page inside the guest space: the host faults in
    // JIT code and the handler turns it into a load page fault at the ld.
    let code = [lui(7, 0x30), addi(9, 0, 7), ld(8, 7, 8), ECALL];
    let (engine, mut cpu) = setup(&code);
    let exit = engine.run(&mut cpu).expect("run");
    match exit {
        Exit::Trap(t) => {
            assert_eq!(t.cause, Exception::LoadPageFault);
            assert_eq!(t.tval, 0x30008);
            assert_eq!(t.pc, CODE + 8);
        }
        e => panic!("unexpected {e:?}"),
    }
    assert_eq!(
        cpu.x[9], 7,
        "state before the faulting instruction is exact"
    );
    // A store to the read-only code page is a store page fault.
    let (engine, mut cpu) = setup(&[lui(7, (CODE >> 12) as u32), sd(0, 7, 0), ECALL]);
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::StorePageFault && t.tval == CODE),
        "{exit:?}"
    );
    // And execution can continue after a fault: jump to garbage (address 0).
    cpu.pc = 0;
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::InstructionPageFault),
        "{exit:?}"
    );
}

/// The interpreter tier's loads and stores are single guarded host
/// instructions (no page-map lock): a fault there must become the same
/// guest fault as in translated code, and a store to a watched code page
/// must invalidate and store, not fault.
#[test]
fn interpreter_guarded_accesses_fault_like_translated_code() {
    let interpreted = |code: &[u32]| {
        let (engine, cpu) = setup(code);
        let space = engine.space().clone();
        let config = EngineConfig {
            jit_threshold: u32::MAX,
            ..EngineConfig::default()
        };
        drop(engine);
        (Engine::new(space, config).expect("engine"), cpu)
    };
    let (engine, mut cpu) = interpreted(&[lui(7, 0x30), addi(9, 0, 7), ld(8, 7, 8), ECALL]);
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::LoadPageFault && t.tval == 0x30008 && t.pc == CODE + 8),
        "{exit:?}"
    );
    assert_eq!(cpu.x[9], 7);
    let (engine, mut cpu) = interpreted(&[lui(7, (CODE >> 12) as u32), sd(0, 7, 0), ECALL]);
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::StorePageFault && t.tval == CODE),
        "{exit:?}"
    );
    // A load past the end of the guest space never reaches the host.
    let (engine, mut cpu) = interpreted(&[addi(7, 0, -1), ld(8, 7, 0), ECALL]);
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::LoadPageFault && t.tval == u64::MAX),
        "{exit:?}"
    );
    // Loads and stores that succeed: store to DATA, load it back.
    let (engine, mut cpu) = interpreted(&[
        lui(7, (DATA >> 12) as u32),
        addi(9, 0, 42),
        sd(9, 7, 16),
        ld(10, 7, 16),
        ECALL,
    ]);
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU),
        "{exit:?}"
    );
    assert_eq!(cpu.x[10], 42);
    assert_eq!(engine.stats().compiled_blocks, 0, "all interpreted");
}

/// A fetch fault is not remembered: once the guest maps the page (as a
/// SIGSEGV handler or a loader may), running there executes the code, in
/// the interpreter and compiled alike (the mapping invalidates the faulting
/// TB's page).
#[test]
fn fetch_fault_is_not_remembered_after_the_page_is_mapped() {
    const LATER: u64 = 0x40000;
    for threshold in [0, 100] {
        let (engine, mut cpu) = setup(&[ECALL]);
        let space = engine.space().clone();
        let config = EngineConfig {
            jit_threshold: threshold,
            ..EngineConfig::default()
        };
        drop(engine);
        let engine = Engine::new(space.clone(), config).expect("engine");
        cpu.pc = LATER;
        let exit = engine.run(&mut cpu).expect("run");
        assert!(
            matches!(exit, Exit::Trap(t) if t.cause == Exception::InstructionPageFault && t.tval == LATER),
            "{exit:?}"
        );
        space.map(LATER, 0x1000, Prot::RX, true).expect("map");
        let bytes: Vec<u8> = [addi(10, 0, 7), ECALL]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        space.write_force(LATER, &bytes).expect("write");
        cpu.pc = LATER;
        let exit = engine.run(&mut cpu).expect("run");
        assert!(
            matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU && t.pc == LATER + 4),
            "threshold {threshold}: {exit:?}"
        );
        assert_eq!(cpu.x[10], 7);
    }
}

#[test]
fn illegal_instruction_traps_with_bits() {
    let (engine, mut cpu) = setup(&[addi(10, 0, 1), 0xffff_ffff]);
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::IllegalInstruction && t.pc == CODE + 4),
        "{exit:?}"
    );
    assert_eq!(cpu.x[10], 1);
}

/// A TB is queued for Cranelift on its run after `jit_threshold` runs in
/// the first tier, not before, and not later: the runs a vCPU counts in
/// its jump cache (and adds to the TB in batches) all count.
#[test]
fn a_tb_is_queued_after_exactly_threshold_runs() {
    for threshold in [1, 7, 100, 200, 1000] {
        for (extra, want) in [(0, 0), (1, 1)] {
            // x5 = threshold + extra + 1; loop: x5 -= 1; bne x5, x0, loop;
            // ecall. The first TB runs the loop body once (a superblock up
            // to the backward branch), the loop's own TB the other times.
            let n = threshold + extra + 1;
            let code = [
                lui(5, (n >> 12) + u32::from(n & 0x800 != 0)),
                addi(5, 5, ((n & 0xfff) as i32) << 20 >> 20),
                addi(5, 5, -1), // loop
                bne(5, 0, -4),
                ECALL,
            ];
            let (engine, mut cpu) = setup(&code);
            let space = engine.space().clone();
            drop(engine);
            let engine = Engine::new(
                space,
                EngineConfig {
                    jit_threshold: threshold,
                    ..EngineConfig::default()
                },
            )
            .expect("engine");
            let exit = engine.run(&mut cpu).expect("run");
            assert!(
                matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU),
                "{exit:?}"
            );
            assert_eq!(cpu.x[5], 0);
            assert_eq!(
                engine.compile_stats().queued_compiles,
                want,
                "threshold {threshold}, loop TB run {} times",
                threshold + extra
            );
        }
    }
}

/// Runs counted in a vCPU's jump cache survive the cache being cleared by
/// an invalidation: a loop that rewrites code on another page at every
/// iteration (each write invalidates a TB and moves the cache's epoch) is
/// still compiled once it has run the threshold's times.
#[test]
fn a_loop_that_invalidates_code_still_gets_compiled() {
    const OTHER: u64 = 0x30000;
    // jalr ra, 0(x7)
    let jalr_ra_x7 = (7 << 15) | (1 << 7) | 0x67;
    // jalr x0, 0(ra): ret
    let ret: u32 = (1 << 15) | 0x67;
    let code = [
        lui(5, 1),                    // x5 = 4096 iterations
        lui(7, (OTHER >> 12) as u32), // x7 = OTHER
        jalr_ra_x7,                   // loop: call OTHER's `ret`
        sd(0, 7, 64),                 // write OTHER's page: invalidates its TB
        addi(5, 5, -1),
        bne(5, 0, -12),
        ECALL,
    ];
    let (engine, mut cpu) = setup(&code);
    let space = engine.space().clone();
    space.map(OTHER, 0x1000, Prot::RWX, true).expect("map");
    space.write_force(OTHER, &ret.to_le_bytes()).expect("write");
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU),
        "{exit:?}"
    );
    assert_eq!(cpu.x[5], 0);
    let stats = engine.stats();
    assert!(stats.invalidations >= 1000, "{stats:?}");
    assert!(
        engine.compile_stats().queued_compiles >= 1,
        "the loop was never queued: {stats:?}"
    );
}

/// The edges of the bounds checks that accesses from one base register
/// share in compiled code (the backend's "Guest memory"): an access just
/// below the end of the guest space through a base just past it, then an
/// access through the same base that is past the end; and an access
/// through a base that passed whose address wraps below 0. Each gets the guest's fault at its own address
/// and pc, compiled (threshold 0) as in the first tier.
#[test]
fn accesses_sharing_a_bounds_check_fault_at_their_own_address() {
    fn slli(rd: u32, rs1: u32, shamt: u32) -> u32 {
        shamt << 20 | rs1 << 15 | 1 << 12 | rd << 7 | 0x13
    }
    for threshold in [0, u32::MAX] {
        let space = Arc::new(GuestSpace::new().expect("guest space"));
        let top = space.size();
        assert_eq!(top, 1 << 38);
        space.map(CODE, 0x1000, Prot::RX, true).expect("map code");
        space
            .map(top - 0x1000, 0x1000, Prot::RW, true)
            .expect("map top");
        space
            .write(top - 8, &0x1122_3344_5566_7788u64.to_le_bytes())
            .expect("write top");
        // x6 = 1 << 38, the end of the guest space; a0 = [x6 - 8] (valid);
        // a1 = [x6 + 0] (past the end: faults).
        let past_end = [
            addi(6, 0, 1),
            slli(6, 6, 38),
            ld(10, 6, -8),
            ld(11, 6, 0),
            ECALL,
        ];
        // x7 = 8; a1 = [x7 - 16] wraps below 0. Compiled, the check is
        // made on x7, which passes, and the load lands in the guard below
        // the guest space. (Guest page 0 cannot be mapped, so no access
        // from x7 can come first and succeed.)
        let below_zero = [addi(7, 0, 8), ld(11, 7, -16), ECALL];
        let config = EngineConfig {
            jit_threshold: threshold,
            ..EngineConfig::default()
        };
        let bytes =
            |code: &[u32]| -> Vec<u8> { code.iter().flat_map(|w| w.to_le_bytes()).collect() };
        space
            .write_force(CODE, &bytes(&past_end))
            .expect("write code");
        space
            .write_force(CODE + 0x100, &bytes(&below_zero))
            .expect("write code");
        let engine = Engine::new(space, config).expect("engine");
        let mut cpu = CpuState {
            pc: CODE,
            ..CpuState::default()
        };
        let exit = engine.run(&mut cpu).expect("run");
        assert!(
            matches!(exit, Exit::Trap(t) if t.cause == Exception::LoadPageFault
                && t.tval == top && t.pc == CODE + 12),
            "threshold {threshold}: {exit:?}"
        );
        assert_eq!(cpu.x[10], 0x1122_3344_5566_7788, "threshold {threshold}");
        cpu.pc = CODE + 0x100;
        let exit = engine.run(&mut cpu).expect("run");
        assert!(
            matches!(exit, Exit::Trap(t) if t.cause == Exception::LoadPageFault
                && t.tval == 8u64.wrapping_sub(16) && t.pc == CODE + 0x104),
            "threshold {threshold}: {exit:?}"
        );
    }
}
