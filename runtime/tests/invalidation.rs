//! Targeted invalidation of translated code: a write to a page that code
//! was translated from (by the guest's own stores, in both tiers, or by the
//! emulator), `munmap` and `mprotect` invalidate exactly the blocks read
//! from those pages, unchain the exits that jump to them, and leave every
//! other block alone; mapping other pages invalidates nothing. Then the same
//! under concurrency: vCPU threads keep calling a function that another
//! thread keeps rewriting, while a third remaps other pages and flushes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use cranemu_runtime::{CpuState, Engine, EngineConfig, Exception, Exit, Stats, Trap};
use cranemu_softmmu::user::{GuestSpace, Prot};

mod rv;
use rv::*;

/// The caller: `jal` (a direct, chainable exit) to [`FUNC`], then `ecall`.
const CALLER: u64 = 0x10000;
/// A function on its own page: `a0 = K; ret`. Guest-writable.
const FUNC: u64 = 0x20000;
/// A guest store to [`FUNC`] (of the word in a1), `fence.i`, a call to
/// it, `ecall`. On the caller's page.
const WRITER: u64 = CALLER + 0x100;
/// A page of other code.
const OTHER: u64 = 0x30000;

fn func(k: i32) -> Vec<u8> {
    bytes(&[addi(10, 0, k), jalr(0, 1, 0)])
}

fn engine(jit_threshold: u32) -> Arc<Engine> {
    let space = Arc::new(GuestSpace::new().expect("guest space"));
    space
        .map(CALLER, 0x1000, Prot::RX, true)
        .expect("map caller");
    let caller = bytes(&[jal(1, (FUNC - CALLER) as i32), ECALL]);
    space.write_force(CALLER, &caller).expect("write caller");
    let writer = bytes(&[
        lui(5, (FUNC >> 12) as u32), // t0 = FUNC
        sw(11, 5, 0),                // *FUNC = a1
        FENCE_I,
        jalr(1, 5, 0), // call FUNC
        ECALL,
    ]);
    space.write_force(WRITER, &writer).expect("write writer");
    space.map(FUNC, 0x1000, Prot::RWX, true).expect("map func");
    space.write(FUNC, &func(1)).expect("write func");
    let config = EngineConfig {
        jit_threshold,
        ..EngineConfig::default()
    };
    Arc::new(Engine::new(space, config).expect("engine"))
}

/// Runs from `pc` until `ecall`; the trap if another one ends the run.
fn call(engine: &Engine, cpu: &mut CpuState, pc: u64) -> Result<u64, Trap> {
    cpu.pc = pc;
    loop {
        match engine.run(cpu).expect("run") {
            Exit::Interrupted => {}
            Exit::Trap(t) if t.cause == Exception::EcallFromU => return Ok(cpu.x[10]),
            Exit::Trap(t) => return Err(t),
        }
    }
}

/// `after - before`, field by field, for the fields that matter here.
fn delta(before: &Stats, after: &Stats) -> (u64, u64, u64, u64) {
    (
        after.blocks - before.blocks,
        after.invalidated_tbs - before.invalidated_tbs,
        after.unlinks - before.unlinks,
        after.flushes - before.flushes,
    )
}

#[test]
fn a_write_invalidates_only_the_blocks_of_its_page() {
    let engine = engine(0);
    let mut cpu = CpuState::default();
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    // The second run goes through the chained `jal`.
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    let s1 = engine.stats();
    assert!(s1.chains >= 1, "{s1:?}");
    engine.space().write(FUNC, &func(2)).expect("rewrite");
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(2));
    let s2 = engine.stats();
    // Only FUNC's block was translated again; the caller's blocks stayed,
    // and its chained exit to FUNC was undone.
    assert_eq!(delta(&s1, &s2), (1, 1, 1, 0), "{s2:?}");
}

/// As [`a_write_invalidates_only_the_blocks_of_its_page`], with the
/// blocks run as first-tier code: the caller's exit to FUNC is chained
/// by re-pointing its `jmp`, and the write must point it back.
#[test]
fn a_write_unchains_a_first_tier_exit() {
    let engine = engine(u32::MAX);
    let mut cpu = CpuState::default();
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    let s1 = engine.stats();
    assert!(s1.chains >= 1 && s1.first_tier_code >= 2, "{s1:?}");
    assert_eq!(s1.compiled_blocks, 0, "{s1:?}");
    engine.space().write(FUNC, &func(2)).expect("rewrite");
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(2));
    // Chained again to the new FUNC, and rewritten again.
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(2));
    engine.space().write(FUNC, &func(3)).expect("rewrite");
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(3));
    let s2 = engine.stats();
    assert_eq!(delta(&s1, &s2), (2, 2, 2, 0), "{s2:?}");
}

fn guest_store_to_code(jit_threshold: u32) {
    let engine = engine(jit_threshold);
    let mut cpu = CpuState::default();
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    for k in 2..6 {
        cpu.x[11] = u64::from(addi(10, 0, k));
        assert_eq!(
            call(&engine, &mut cpu, WRITER),
            Ok(k as u64),
            "the store's own call"
        );
        assert_eq!(call(&engine, &mut cpu, CALLER), Ok(k as u64), "the caller");
    }
    let s = engine.stats();
    assert!(s.invalidated_tbs >= 4, "{s:?}");
    assert_eq!(s.flushes, 0, "{s:?}");
    if jit_threshold == 0 {
        // Translated code's stores fault on the watched page.
        assert!(s.smc_faults >= 4, "{s:?}");
    }
}

#[test]
fn guest_store_to_code_jit() {
    guest_store_to_code(0);
}

#[test]
fn guest_store_to_code_interpreter() {
    guest_store_to_code(1_000_000);
}

/// A loop that stores into the page it runs from (code and data in one
/// RWX page, as `ld -N` lays a program out): each store releases the page
/// and invalidates the loop, which is translated again, watching the
/// page again; the store runs on its own (read without watching) so that
/// the loop gets on. Ten iterations, then the stored word and the
/// count, in every tier.
fn store_into_own_page(jit_threshold: u32) {
    const DATA: u64 = FUNC + 0x800;
    let engine = engine(jit_threshold);
    let code = bytes(&[
        lui(5, (DATA >> 12) as u32), // t0 = DATA's page
        addi(5, 5, (DATA & 0x7ff) as i32),
        addi(5, 5, (DATA & 0x800) as i32 / 2),
        addi(5, 5, (DATA & 0x800) as i32 / 2), // t0 = DATA
        addi(6, 0, 0),                         // t1 = 0
        sw(6, 5, 0),                           // loop: *DATA = t1
        addi(6, 6, 1),                         // t1 += 1
        addi(7, 0, 10),                        // t2 = 10
        b_type(4, 6, 7, -12),                  // blt t1, t2, loop
        ld(10, 5, 0),                          // a0 = *DATA
        ECALL,
    ]);
    engine
        .space()
        .write_force(FUNC + 0x100, &code)
        .expect("write code");
    let mut cpu = CpuState::default();
    assert_eq!(call(&engine, &mut cpu, FUNC + 0x100), Ok(9));
    assert_eq!(cpu.x[6], 10);
}

#[test]
fn store_into_own_page_jit() {
    store_into_own_page(0);
}

#[test]
fn store_into_own_page_first_tier() {
    store_into_own_page(u32::MAX);
}

#[test]
fn other_mappings_keep_translated_code() {
    let engine = engine(0);
    let mut cpu = CpuState::default();
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    let s1 = engine.stats();
    let space = engine.space();
    // What a dynamic loader does: map a library's code, protect it, and
    // unmap something else.
    space.map(OTHER, 0x3000, Prot::RW, true).expect("map");
    space.write(OTHER, &func(9)).expect("write");
    space.protect(OTHER, 0x1000, Prot::RX).expect("protect");
    space.unmap(OTHER + 0x2000, 0x1000).expect("unmap");
    // The function at OTHER returns to `ra`, still the caller's `ecall`.
    assert_eq!(call(&engine, &mut cpu, OTHER), Ok(9));
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    let s2 = engine.stats();
    assert_eq!(s2.invalidated_tbs, s1.invalidated_tbs, "{s2:?}");
    assert_eq!(s2.flushes, 0, "{s2:?}");
    // Only OTHER's block is new.
    assert_eq!(s2.blocks - s1.blocks, 1, "{s2:?}");
}

#[test]
fn munmap_and_mprotect_invalidate() {
    let engine = engine(0);
    let space = engine.space().clone();
    let mut cpu = CpuState::default();
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(1));
    space.unmap(FUNC, 0x1000).expect("unmap");
    let t = call(&engine, &mut cpu, CALLER).expect_err("FUNC is gone");
    assert_eq!((t.cause, t.tval), (Exception::InstructionPageFault, FUNC));
    space.map(FUNC, 0x1000, Prot::RWX, true).expect("map");
    space.write(FUNC, &func(3)).expect("write");
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(3));
    space.protect(FUNC, 0x1000, Prot::RW).expect("protect");
    let t = call(&engine, &mut cpu, CALLER).expect_err("FUNC is not executable");
    assert_eq!((t.cause, t.tval), (Exception::InstructionPageFault, FUNC));
    space.protect(FUNC, 0x1000, Prot::RX).expect("protect");
    assert_eq!(call(&engine, &mut cpu, CALLER), Ok(3));
    assert_eq!(engine.stats().flushes, 0);
}

/// A diamond whose out-of-line side is on another page (the translator
/// if-converts it, reading that page too): rewriting the side's page
/// invalidates the block, in both tiers.
fn rewriting_a_diamonds_side(jit_threshold: u32) {
    // The branch near the end of its page, to reach the next one.
    const BRANCH: u64 = 0x40f00;
    const SIDE: u64 = 0x41000;
    let engine = engine(jit_threshold);
    let space = engine.space().clone();
    space
        .map(BRANCH & !0xfff, 0x1000, Prot::RX, true)
        .expect("map");
    space.map(SIDE, 0x1000, Prot::RWX, true).expect("map");
    // beq a2, zero, SIDE; a0 = 1; join: ecall.
    let main = bytes(&[
        b_type(0, 12, 0, (SIDE - BRANCH) as i32),
        addi(10, 0, 1),
        ECALL,
    ]);
    space.write_force(BRANCH, &main).expect("write");
    // SIDE: a0 = k; j join.
    let side = |k: i32| {
        bytes(&[
            addi(10, 0, k),
            jal(0, (BRANCH + 8) as i32 - (SIDE + 4) as i32),
        ])
    };
    space.write(SIDE, &side(5)).expect("write");
    let mut cpu = CpuState::default();
    let s0 = engine.stats();
    for _ in 0..3 {
        cpu.x[12] = 0;
        assert_eq!(call(&engine, &mut cpu, BRANCH), Ok(5));
        cpu.x[12] = 1;
        assert_eq!(call(&engine, &mut cpu, BRANCH), Ok(1));
    }
    // Both sides ran from one block: the diamond was converted.
    assert_eq!(engine.stats().blocks - s0.blocks, 1);
    space.write(SIDE, &side(7)).expect("rewrite");
    cpu.x[12] = 0;
    assert_eq!(call(&engine, &mut cpu, BRANCH), Ok(7));
    cpu.x[12] = 1;
    assert_eq!(call(&engine, &mut cpu, BRANCH), Ok(1));
    let s = engine.stats();
    assert!(s.invalidated_tbs - s0.invalidated_tbs >= 1, "{s:?}");
    assert_eq!(s.flushes, 0, "{s:?}");
}

#[test]
fn rewriting_a_diamonds_side_jit() {
    rewriting_a_diamonds_side(0);
}

#[test]
fn rewriting_a_diamonds_side_first_tier() {
    rewriting_a_diamonds_side(u32::MAX);
}

/// Runner threads keep calling FUNC while a writer rewrites it (version
/// v in `addi a0, zero, v`), half of the time with the emulator's write
/// and half with a guest store, and a third thread maps and unmaps other
/// pages and sometimes flushes. Each runner must see versions that never
/// go back, and the last version once the writer is done.
fn hammer(jit_threshold: u32) {
    const RUNNERS: usize = 4;
    const VERSIONS: u64 = 300;
    let engine = engine(jit_threshold);
    let written = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let runners: Vec<_> = (0..RUNNERS)
        .map(|r| {
            let (engine, written, stop) = (engine.clone(), written.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut cpu = Box::new(CpuState::default());
                // SAFETY: the boxed state outlives the registration.
                let _reg = unsafe { engine.register_vcpu(&*cpu) };
                let mut last = 0;
                let mut runs = 0u64;
                loop {
                    let done = stop.load(Ordering::SeqCst);
                    let before = written.load(Ordering::SeqCst);
                    let v = call(&engine, &mut cpu, CALLER).expect("call");
                    let after = written.load(Ordering::SeqCst);
                    assert!(
                        v >= last && v >= before && v <= after + 1,
                        "runner {r} run {runs}: version {v}, last {last}, \
                         written {before}..={after}"
                    );
                    last = v;
                    runs += 1;
                    if done {
                        assert_eq!(v, VERSIONS, "runner {r}: the last version");
                        return runs;
                    }
                }
            })
        })
        .collect();
    let remapper = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let space = engine.space();
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                space.map(OTHER, 0x2000, Prot::RX, true).expect("map");
                space.unmap(OTHER, 0x2000).expect("unmap");
                n += 1;
                if n.is_multiple_of(64) {
                    engine.flush().expect("flush");
                }
                std::thread::yield_now();
            }
        })
    };
    let mut cpu = CpuState::default();
    for v in 2..=VERSIONS {
        if v % 2 == 0 {
            engine
                .space()
                .write(FUNC, &func(v as i32))
                .expect("rewrite");
        } else {
            cpu.x[11] = u64::from(addi(10, 0, v as i32));
            // The writer's own call must see its store at once.
            assert_eq!(call(&engine, &mut cpu, WRITER), Ok(v));
        }
        written.store(v, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    stop.store(true, Ordering::SeqCst);
    for r in runners {
        assert!(r.join().expect("runner") > 0);
    }
    remapper.join().expect("remapper");
    let s = engine.stats();
    assert!(s.invalidated_tbs > 0, "{s:?}");
}

#[test]
fn rewriting_called_code_across_threads_jit() {
    hammer(0);
}

#[test]
fn rewriting_called_code_across_threads_tiered() {
    hammer(3);
}

/// A vCPU that only interprets (never leaves to its caller) while the
/// cache is flushed and the code it runs is then rewritten: the flush's
/// request moves it to the new generation, where the rewrite is seen. (It
/// used to keep interpreting the old generation's copy for ever.)
#[test]
fn a_flush_moves_an_interpreting_vcpu_to_the_new_generation() {
    const LOOP: u64 = 0x40000;
    // Never compiled within the test (the interpreter runs ~10^7 blocks/s).
    let engine = engine(u32::MAX);
    let space = engine.space();
    space.map(LOOP, 0x1000, Prot::RX, true).expect("map");
    let code = bytes(&[
        jal(1, FUNC as i32 - LOOP as i32), // a0 = FUNC()
        b_type(1, 10, 11, -4),             // until a0 == a1
        ECALL,
    ]);
    space.write_force(LOOP, &code).expect("write loop");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let runner = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            let mut cpu = Box::new(CpuState::default());
            // SAFETY: the boxed state outlives the registration.
            let _reg = unsafe { engine.register_vcpu(&*cpu) };
            cpu.x[11] = 7;
            let r = call(&engine, &mut cpu, LOOP);
            done_tx.send(r).expect("send");
        })
    };
    // Let it run the loop in the interpreter tier for a while.
    std::thread::sleep(std::time::Duration::from_millis(100));
    engine.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(20));
    engine.space().write(FUNC, &func(7)).expect("rewrite");
    let r = done_rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the vCPU never saw the rewritten function");
    assert_eq!(r, Ok(7));
    runner.join().expect("runner");
}
