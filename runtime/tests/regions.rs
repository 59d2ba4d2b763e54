//! Differential tests of the ways the engine runs guest code: the IR
//! interpreter (the reference), the first tier (its host code,
//! `cranemu_backend::template`, and its loop, `cranemu_ir::baseline`),
//! every TB compiled alone (quickly, as
//! straight code is, and with Cranelift's optimizations), and hot TBs
//! compiled as regions (several TBs in one host function, direct jumps
//! between them inside it; see `compile_tb` in the runtime).
//!
//! Each case is a random guest loop on one code page: a counter runs it
//! a few hundred times, and its body mixes integer ALU instructions,
//! loads and stores to a data page, and forward conditional branches over
//! part of the body (so a TB has side exits, and the loop spans several
//! TBs that a region joins). The engines start from the same
//! registers and memory and must end with the same registers, pc and data
//! page, bit for bit. Regions are compiled by the compile thread while the
//! loop runs, so when one takes over varies from run to run; the results
//! may not. Each case also runs with the vCPU waiting for every compile
//! (`EngineConfig::wait_for_compiles`), where regions take over at the
//! same point on every run; there, at least half of the cases must have
//! formed a region. (Without waiting, a loaded host may finish every loop before
//! the compile thread is done with its first region.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use cranemu_runtime::{CpuState, Engine, EngineConfig, Exception, Exit, Quality, Stats, Trap};
use cranemu_softmmu::user::{GuestSpace, Prot, GUEST_SPACE_SIZE};

mod rv;
use rv::*;

/// The code page.
const CODE: u64 = 0x10000;
/// The data page; x8 points at it.
const DATA: u64 = 0x20000;
/// The loop counter register (never written by the body).
const COUNTER: u32 = 5;
/// The data pointer register (never written by the body).
const BASE: u32 = 8;
/// The walking pointer of [`loop_program`]'s faulting loops.
const WALK: u32 = 6;
/// Registers the body reads and writes.
const REGS: [u32; 12] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];

/// A register of [`REGS`].
fn reg(rng: &mut Rng) -> u32 {
    REGS[rng.below(REGS.len() as u64) as usize]
}

/// A source register: one of [`REGS`], or x0 now and then.
fn src(rng: &mut Rng) -> u32 {
    if rng.below(8) == 0 {
        0
    } else {
        reg(rng)
    }
}

/// `I-type` with `funct3` and opcode `op`.
fn i_type(imm: i32, rs1: u32, funct3: u32, rd: u32, op: u32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | rs1 << 15 | funct3 << 12 | rd << 7 | op
}

/// `S-type` store of width `funct3`.
fn s_type(imm: i32, rs2: u32, rs1: u32, funct3: u32) -> u32 {
    let i = imm as u32 & 0xfff;
    ((i >> 5) << 25) | rs2 << 20 | rs1 << 15 | funct3 << 12 | ((i & 0x1f) << 7) | 0x23
}

/// One straight-line body instruction.
fn straight(rng: &mut Rng) -> u32 {
    let (rd, a, b) = (reg(rng), src(rng), src(rng));
    match rng.below(6) {
        // add sub sll slt sltu xor srl sra or and, and their W forms, and
        // the M extension's mul/div/rem family (funct7 1).
        0 | 1 => {
            let (f7, f3) = match rng.below(12) {
                0 => (0x20, 0),
                1 => (0x20, 5),
                n @ 2..=9 => (0, (n - 2) as u32),
                _ => (1, rng.below(8) as u32),
            };
            let op = if rng.below(3) == 0 { 0x3b } else { 0x33 };
            // The W forms have no slt/sltu/xor/or/and, nor mulh/mulhsu/mulhu.
            let no_w = if f7 == 1 {
                matches!(f3, 1..=3)
            } else {
                !matches!(f3, 0 | 1 | 5)
            };
            let f3 = if op == 0x3b && no_w { 0 } else { f3 };
            r_type(f7, b, a, f3, rd, op)
        }
        // addi slti sltiu xori ori andi, and addiw.
        2 => {
            let f3 = [0u32, 2, 3, 4, 6, 7][rng.below(6) as usize];
            let imm = rng.below(4096) as i32 - 2048;
            if rng.below(4) == 0 {
                i_type(imm, a, 0, rd, 0x1b)
            } else {
                i_type(imm, a, f3, rd, 0x13)
            }
        }
        // slli srli srai.
        3 => {
            let sh = rng.below(64) as i32;
            match rng.below(3) {
                0 => i_type(sh, a, 1, rd, 0x13),
                1 => i_type(sh, a, 5, rd, 0x13),
                _ => i_type(0x400 | sh, a, 5, rd, 0x13),
            }
        }
        // Loads: lb lh lw ld lbu lhu lwu, aligned, inside the data page.
        4 => {
            let f3 = [0u32, 1, 2, 3, 4, 5, 6][rng.below(7) as usize];
            let off = (rng.below(256) * 8) as i32;
            i_type(off, BASE, f3, rd, 0x03)
        }
        // Stores: sb sh sw sd.
        _ => {
            let off = (rng.below(256) * 8) as i32;
            s_type(off, b, BASE, rng.below(4) as u32)
        }
    }
}

/// A random loop program: set-up, a body of `len` items (some of them
/// forward branches over the next items), the counter's decrement and
/// back edge, `ecall`.
fn program(rng: &mut Rng, len: usize, iterations: i32) -> Vec<u8> {
    loop_program(rng, len, iterations, None)
}

/// As [`program`]; with `Some(n)`, the body ends with `ld r, 0(x6)` and
/// `addi x6, x6, 8`, where `x6` starts `8 * n` bytes below the end of the
/// data page: iteration `n + 1` (counting from 1) loads from the unmapped
/// page after it and faults, with the registers the iteration wrote so
/// far.
fn loop_program(rng: &mut Rng, len: usize, iterations: i32, fault_after: Option<i32>) -> Vec<u8> {
    let mut words = vec![addi(COUNTER, 0, iterations), lui(BASE, (DATA >> 12) as u32)];
    if let Some(n) = fault_after {
        words.push(lui(WALK, ((DATA + 0x1000) >> 12) as u32));
        words.push(addi(WALK, WALK, -8 * n));
    }
    let top = words.len();
    for i in 0..len {
        if rng.below(5) == 0 && i + 1 < len {
            // beq bne blt bge bltu bgeu over 1..=3 of the next items.
            let skip = 1 + rng.below(3.min((len - i - 1) as u64)) as i32;
            let f3 = [0u32, 1, 4, 5, 6, 7][rng.below(6) as usize];
            words.push(b_type(f3, src(rng), src(rng), (skip + 1) * 4));
        } else {
            words.push(straight(rng));
        }
    }
    if fault_after.is_some() {
        words.push(i_type(0, WALK, 3, reg(rng), 0x03));
        words.push(addi(WALK, WALK, 8));
    }
    words.push(addi(COUNTER, COUNTER, -1));
    let back = -(((words.len() - top) * 4) as i32);
    words.push(b_type(1, COUNTER, 0, back)); // bne counter, x0, top
    words.push(ECALL);
    bytes(&words)
}

/// What a run ends with.
#[derive(Debug, PartialEq, Eq)]
struct End {
    /// The trap that ended it: the `ecall`, or a fault.
    trap: Trap,
    x: [u64; 32],
    pc: u64,
    data: Vec<u8>,
}

/// Runs `code` to its `ecall` (or another trap) under `config`, from
/// registers `x0` and data page `data`; the end state and the engine's
/// statistics.
fn run(config: EngineConfig, code: &[u8], x0: &[u64; 32], data: &[u8]) -> (End, Stats) {
    run_mapped(config, code, x0, data, &[])
}

/// As [`run`], with the pages at `more` also mapped (readable and
/// writable, zeroed).
fn run_mapped(
    config: EngineConfig,
    code: &[u8],
    x0: &[u64; 32],
    data: &[u8],
    more: &[u64],
) -> (End, Stats) {
    let space = Arc::new(GuestSpace::new().expect("guest space"));
    space.map(CODE, 0x1000, Prot::RX, true).expect("map code");
    space.write_force(CODE, code).expect("write code");
    space.map(DATA, 0x1000, Prot::RW, true).expect("map data");
    space.write(DATA, data).expect("write data");
    for &page in more {
        space.map(page, 0x1000, Prot::RW, true).expect("map page");
    }
    let engine = Engine::new(space.clone(), config).expect("engine");
    let mut cpu = Box::new(CpuState::default());
    cpu.x = *x0;
    cpu.pc = CODE;
    // A watchdog interrupts the run now and then, so that wrong code that
    // never reaches the `ecall` fails the test instead of hanging it.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let request = &cpu.exit_request as *const AtomicU32 as usize;
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(50));
                // SAFETY: the boxed CPU state outlives this thread (joined
                // below); only its atomic is touched, as any thread may.
                let r = unsafe { &*(request as *const AtomicU32) };
                r.fetch_or(CpuState::EXIT_EXTERNAL, Ordering::SeqCst);
            }
        })
    };
    let start = std::time::Instant::now();
    let trap = loop {
        match engine.run(&mut cpu).expect("run") {
            Exit::Interrupted if start.elapsed().as_secs() >= 60 => break None,
            Exit::Interrupted => {}
            Exit::Trap(t) => break Some(t),
        }
    };
    done.store(true, Ordering::SeqCst);
    watchdog.join().expect("watchdog");
    let Some(trap) = trap else {
        panic!("the loop did not end within 60 s (pc {:#x})", cpu.pc);
    };
    let mut out = vec![0; 0x1000];
    space.read(DATA, &mut out).expect("read data");
    let stats = engine.stats();
    (
        End {
            trap,
            x: cpu.x,
            pc: cpu.pc,
            data: out,
        },
        stats,
    )
}

/// The ways of running guest code that [`run`] compares, each with the
/// name a failure gives it; the first is the reference interpreter.
fn engines() -> Vec<(&'static str, EngineConfig)> {
    let first_tier = EngineConfig {
        jit_threshold: u32::MAX,
        ..EngineConfig::default()
    };
    let single = EngineConfig {
        jit_threshold: 0,
        region_tbs: 1,
        ..EngineConfig::default()
    };
    let regions = EngineConfig {
        jit_threshold: 4,
        region_tbs: 8,
        ..EngineConfig::default()
    };
    vec![
        (
            "the interpreter",
            EngineConfig {
                reference_interpreter: true,
                ..first_tier.clone()
            },
        ),
        ("the first tier's code", first_tier.clone()),
        (
            "the first tier's loop",
            EngineConfig {
                first_tier_code: false,
                ..first_tier
            },
        ),
        ("TBs compiled alone", single.clone()),
        (
            "optimized TBs",
            EngineConfig {
                straight_quality: Quality::Optimized,
                ..single
            },
        ),
        ("regions", regions.clone()),
        (
            "regions (compiled in step)",
            EngineConfig {
                wait_for_compiles: true,
                ..regions
            },
        ),
    ]
}

/// Random start registers for [`REGS`], and a random data page.
fn start_state(rng: &mut Rng) -> ([u64; 32], Vec<u8>) {
    let mut x = [0u64; 32];
    for r in REGS {
        x[r as usize] = match rng.below(4) {
            0 => rng.below(16),
            1 => rng.next() | 1 << 63,
            _ => rng.next(),
        };
    }
    let data: Vec<u8> = (0..0x1000).map(|_| rng.next() as u8).collect();
    (x, data)
}

#[test]
fn interpreter_first_tier_single_tbs_and_regions_agree() {
    let engines = engines();
    // Cases where a region formed (compiling in step).
    let mut formed = 0;
    for seed in 1..=40u64 {
        let mut rng = Rng::new(seed);
        let len = 8 + rng.below(40) as usize;
        let code = program(&mut rng, len, 300);
        let (x, data) = start_state(&mut rng);
        let (want, _) = run(engines[0].1.clone(), &code, &x, &data);
        assert_eq!(want.trap.cause, Exception::EcallFromU, "seed {seed}");
        for (name, config) in &engines[1..] {
            let (got, stats) = run(config.clone(), &code, &x, &data);
            assert_eq!(
                want, got,
                "seed {seed}: {name} differ(s) from the interpreter"
            );
            match *name {
                "the first tier's code" => assert!(
                    stats.first_tier_code > 0,
                    "seed {seed}: no block ran as first-tier code"
                ),
                "the first tier's loop" => assert_eq!(stats.first_tier_code, 0, "seed {seed}"),
                "regions (compiled in step)" => formed += u32::from(stats.region_members > 0),
                _ => {}
            }
        }
    }
    assert!(
        formed >= 20,
        "a region formed in only {formed} of 40 cases, waiting for compiles"
    );
}

/// A guest fault in the middle of a loop leaves the same registers, pc,
/// trap value and memory in every engine: the loop of [`loop_program`]
/// loads from an unmapped page after 150 to 250 iterations, by then
/// (compiling in step) as a region whose members pass the registers they
/// write to each other in host registers, and which must still have
/// written them to the CPU state when the host fault turns into a guest
/// one.
#[test]
fn a_fault_inside_a_loop_leaves_the_same_state_in_every_engine() {
    let engines = engines();
    let mut formed = 0;
    for seed in 1..=16u64 {
        let mut rng = Rng::new(seed ^ 0xfa17);
        let len = 8 + rng.below(40) as usize;
        let before = 150 + rng.below(100) as i32;
        let code = loop_program(&mut rng, len, 1000, Some(before));
        let (x, data) = start_state(&mut rng);
        let (want, _) = run(engines[0].1.clone(), &code, &x, &data);
        assert_eq!(
            (want.trap.cause, want.trap.tval),
            (Exception::LoadPageFault, DATA + 0x1000),
            "seed {seed}"
        );
        for (name, config) in &engines[1..] {
            let (got, stats) = run(config.clone(), &code, &x, &data);
            assert_eq!(
                want, got,
                "seed {seed}: {name} differ(s) from the interpreter"
            );
            if *name == "regions (compiled in step)" {
                formed += u32::from(stats.region_members > 0);
            }
        }
    }
    assert!(
        formed >= 8,
        "a region formed in only {formed} of 16 cases, waiting for compiles"
    );
}

/// Accesses from one base near either end of the guest space: the first
/// is valid, a later one from the same base (whose bounds check the
/// first tier's code and Cranelift's share with the first's) lands past
/// the end, straddles it, or wraps below address 0, into the host's
/// guards. Every engine must take the same fault there (cause, tval, pc),
/// with the registers written before it. (The base comes in a register:
/// one set in the block would be a constant, and each address too.)
#[test]
fn accesses_past_either_end_of_the_guest_space_fault_alike() {
    const TOP: u64 = GUEST_SPACE_SIZE - 0x1000;
    const LOW: u64 = 0;
    let ld = |rd, rs1, imm| i_type(imm, rs1, 3, rd, 0x03);
    let sd = |rs2, rs1, imm| s_type(imm, rs2, rs1, 3);
    // x8: 8 bytes below the end, or 8.
    let (top, low) = (GUEST_SPACE_SIZE - 8, LOW + 8);
    let cases: [(&str, u64, [u32; 3], Exception, u64); 6] = [
        (
            "a load past the end",
            top,
            [ld(10, 8, 0), addi(12, 0, 5), ld(11, 8, 16)],
            Exception::LoadPageFault,
            GUEST_SPACE_SIZE + 8,
        ),
        (
            "a load straddling the end",
            top,
            [ld(10, 8, 0), addi(12, 0, 5), ld(11, 8, 4)],
            Exception::LoadPageFault,
            GUEST_SPACE_SIZE,
        ),
        (
            "a store past the end",
            top,
            [sd(8, 8, 0), addi(12, 0, 5), sd(8, 8, 8)],
            Exception::StorePageFault,
            GUEST_SPACE_SIZE,
        ),
        (
            "a load far past the end",
            top,
            [ld(10, 8, -2048), addi(12, 0, 5), ld(11, 8, 2040)],
            Exception::LoadPageFault,
            GUEST_SPACE_SIZE + 2032,
        ),
        (
            "a load below 0",
            low,
            [ld(10, 8, 0), addi(12, 0, 5), ld(11, 8, -16)],
            Exception::LoadPageFault,
            (-8i64) as u64,
        ),
        (
            "a store below 0",
            low,
            [sd(8, 8, 8), addi(12, 0, 5), sd(8, 8, -2048)],
            Exception::StorePageFault,
            (-2040i64) as u64,
        ),
    ];
    let engines = engines();
    for (what, base, body, cause, tval) in cases {
        let code = bytes(&[body[0], body[1], body[2], ECALL]);
        let data = vec![0; 0x1000];
        let mut x = [0; 32];
        x[8] = base;
        let (want, _) = run_mapped(engines[0].1.clone(), &code, &x, &data, &[TOP, LOW]);
        assert_eq!(
            (want.trap.cause, want.trap.tval, want.pc, want.x[12]),
            (cause, tval, CODE + 8, 5),
            "{what}: the interpreter"
        );
        for (name, config) in &engines[1..] {
            let (got, _) = run_mapped(config.clone(), &code, &x, &data, &[TOP, LOW]);
            assert_eq!(want, got, "{what}: {name} differ(s) from the interpreter");
        }
    }
}

/// A region is interruptible: a loop that never leaves its region still
/// stops when another thread sets the exit request.
#[test]
fn a_loop_inside_a_region_is_interrupted() {
    let config = EngineConfig {
        jit_threshold: 4,
        region_tbs: 8,
        superblocks: false,
        // The loop's branch stays a branch, so that it is two TBs.
        if_conversion: false,
        ..EngineConfig::default()
    };
    let (x10, stats) = interrupt_a_loop(config);
    assert!(x10 > 1000, "the loop ran ({x10} iterations)");
    assert!(
        stats.region_members > 0,
        "the loop's TBs were compiled as a region"
    );
}

/// As [`a_loop_inside_a_region_is_interrupted`], with the loop's TBs
/// chained to each other in the first tier's host code, never compiled.
#[test]
fn a_loop_in_first_tier_code_is_interrupted() {
    let config = EngineConfig {
        jit_threshold: u32::MAX,
        superblocks: false,
        if_conversion: false,
        ..EngineConfig::default()
    };
    let (x10, stats) = interrupt_a_loop(config);
    assert!(x10 > 1000, "the loop ran ({x10} iterations)");
    assert!(stats.first_tier_code > 0 && stats.compiled_blocks == 0);
    assert!(stats.chains > 0, "the loop's TBs were chained");
}

/// Runs a loop under `config` until another thread sets the exit
/// request after 300 ms; the run must end [`Exit::Interrupted`]. Returns
/// the loop's iteration count (`a0`) and the engine's statistics.
fn interrupt_a_loop(config: EngineConfig) -> (u64, Stats) {
    // top: addi a0, a0, 1; beq a0, x0, +8 (never: a side exit); addi a1, a1, 1;
    // jal x0, top
    let code = bytes(&[
        addi(10, 10, 1),
        b_type(0, 10, 0, 8),
        addi(11, 11, 1),
        jal(0, -12),
        ECALL,
    ]);
    let space = Arc::new(GuestSpace::new().expect("guest space"));
    space.map(CODE, 0x1000, Prot::RX, true).expect("map code");
    space.write_force(CODE, &code).expect("write code");
    let engine = Arc::new(Engine::new(space, config).expect("engine"));
    let mut cpu = Box::new(CpuState::default());
    cpu.pc = CODE;
    // Another thread sets the request, as a signal or a cache flush
    // would: the atomic is meant to be written while the vCPU runs.
    let request = &cpu.exit_request as *const AtomicU32 as usize;
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        // SAFETY: the CPU state is boxed and outlives this thread (joined
        // below); only its atomic is touched.
        let request = unsafe { &*(request as *const AtomicU32) };
        request.fetch_or(CpuState::EXIT_EXTERNAL, Ordering::SeqCst);
    });
    let exit = engine.run(&mut cpu).expect("run");
    stopper.join().expect("stopper");
    assert_eq!(exit, Exit::Interrupted);
    (cpu.x[10], engine.stats())
}

/// A loop whose two TBs lie on two guest pages is one region in user
/// mode, and rewriting the member's page is seen at once: the page index
/// lists the region's head under the member's page too, so the write
/// invalidates the code that holds the member (`publish_region` in the
/// runtime's TB cache).
#[test]
fn a_region_across_a_page_boundary_sees_its_member_rewritten() {
    // The head, at the end of the first page: a0 += 1; jump to NEXT.
    const HEAD: u64 = CODE + 0xff0;
    // On the next page: a1 += K; x5 -= 1; bne x5, x0, HEAD; ecall.
    const NEXT: u64 = CODE + 0x1000;
    let next = |k: i32| {
        bytes(&[
            addi(11, 11, k),
            addi(COUNTER, COUNTER, -1),
            b_type(1, COUNTER, 0, (HEAD as i64 - (NEXT + 8) as i64) as i32),
            ECALL,
        ])
    };
    let space = Arc::new(GuestSpace::new().expect("guest space"));
    space.map(CODE, 0x2000, Prot::RWX, true).expect("map code");
    let head = bytes(&[addi(10, 10, 1), jal(0, (NEXT - (HEAD + 4)) as i32)]);
    space.write(HEAD, &head).expect("write head");
    space.write(NEXT, &next(3)).expect("write next");
    let config = EngineConfig {
        jit_threshold: 4,
        region_tbs: 8,
        wait_for_compiles: true,
        ..EngineConfig::default()
    };
    let engine = Engine::new(space.clone(), config).expect("engine");
    let run = |cpu: &mut CpuState| {
        cpu.x[10] = 0;
        cpu.x[11] = 0;
        cpu.x[COUNTER as usize] = 100;
        cpu.pc = HEAD;
        let exit = engine.run(cpu).expect("run");
        assert!(
            matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU),
            "{exit:?}"
        );
        (cpu.x[10], cpu.x[11])
    };
    let mut cpu = Box::new(CpuState::default());
    assert_eq!(run(&mut cpu), (100, 300));
    let stats = engine.stats();
    assert!(stats.region_members >= 1, "no region formed: {stats:?}");
    // Rewrite the member's first instruction (a1 += 5 now).
    space.write(NEXT, &next(5)[..4]).expect("rewrite");
    // Were the head not listed under the member's page, its region would
    // still run the old member (300).
    assert_eq!(run(&mut cpu), (100, 500), "the region ran stale code");
}

/// A hot path that is no loop still becomes a region (`region_members`
/// in the runtime): a loop calls a function through `jal`, and the
/// function jumps on to a second TB that returns through `jalr`, so no
/// member of the region that the call site heads jumps back to it.
/// Regions once formed for loops only; this path then ran as separate
/// TBs, and `region_members` stayed 0.
#[test]
fn a_hot_straight_path_becomes_a_region() {
    // L: jal ra, F; R: x5 -= 1; bne x5, x0, L; ecall.
    // F: a0 += 1; jal x0, G.  G: a1 += 3; jalr x0, 0(ra).
    const L: u64 = CODE;
    const F: u64 = CODE + 0x100;
    const G: u64 = CODE + 0x200;
    let space = Arc::new(GuestSpace::new().expect("guest space"));
    space.map(CODE, 0x1000, Prot::RX, true).expect("map code");
    let main = bytes(&[
        jal(1, (F - L) as i32),
        addi(COUNTER, COUNTER, -1),
        b_type(1, COUNTER, 0, -8),
        ECALL,
    ]);
    space.write_force(L, &main).expect("write the loop");
    let f = bytes(&[addi(10, 10, 1), jal(0, (G - (F + 4)) as i32)]);
    space.write_force(F, &f).expect("write F");
    space
        .write_force(G, &bytes(&[addi(11, 11, 3), jalr(0, 1, 0)]))
        .expect("write G");
    let config = EngineConfig {
        jit_threshold: 4,
        region_tbs: 8,
        wait_for_compiles: true,
        ..EngineConfig::default()
    };
    let engine = Engine::new(space, config).expect("engine");
    let mut cpu = Box::new(CpuState::default());
    cpu.x[COUNTER as usize] = 200;
    cpu.pc = L;
    let exit = engine.run(&mut cpu).expect("run");
    assert!(
        matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU),
        "{exit:?}"
    );
    assert_eq!((cpu.x[10], cpu.x[11]), (200, 600));
    let stats = engine.stats();
    assert!(stats.region_members >= 1, "no region formed: {stats:?}");
}
