//! The shared translation cache under concurrency: several vCPU threads run
//! the same guest code through one [`Engine`] (translating, compiling,
//! chaining and probing the jump cache at the same time, in both tiers)
//! while another thread keeps flushing the cache and a third kicks every
//! vCPU. Every run must still compute the right result, and every vCPU must
//! leave translated code when kicked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cranemu_runtime::{CpuState, Engine, EngineConfig, Exception, Exit};
use cranemu_softmmu::user::{GuestSpace, Prot};

mod rv;
use rv::*;

const CODE: u64 = 0x10000;
const THREADS: usize = 6;
const RUNS: usize = 300;

/// a0 = sum over i in 1..=a1 of (i + i), through a call (`jal`/`jalr`, an
/// indirect jump and so the jump cache) and a backward branch per step.
fn program() -> Vec<u32> {
    vec![
        addi(10, 0, 0),        // 0x00: a0 = 0
        addi(12, 0, 1),        // 0x04: a2 = 1
        jal(1, 16),            // 0x08: call 0x18
        addi(12, 12, 1),       // 0x0c: a2 += 1
        b_type(5, 11, 12, -8), // 0x10: bge a1, a2, 0x08
        ECALL,                 // 0x14
        add(13, 12, 12),       // 0x18: a3 = a2 + a2
        add(10, 10, 13),       // 0x1c: a0 += a3
        jalr(0, 1, 0),         // 0x20: ret
    ]
}

fn engine(jit_threshold: u32) -> Arc<Engine> {
    let space = Arc::new(GuestSpace::new().expect("guest space"));
    space.map(CODE, 0x1000, Prot::RX, true).expect("map code");
    let bytes: Vec<u8> = program().iter().flat_map(|w| w.to_le_bytes()).collect();
    space.write_force(CODE, &bytes).expect("write code");
    let config = EngineConfig {
        jit_threshold,
        ..EngineConfig::default()
    };
    Arc::new(Engine::new(space, config).expect("engine"))
}

fn hammer(jit_threshold: u32) {
    let engine = engine(jit_threshold);
    let stop = Arc::new(AtomicBool::new(false));
    let flusher = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                engine.flush().expect("flush");
                engine.kick_all();
                n += 1;
                std::thread::sleep(Duration::from_micros(300));
            }
            n
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut cpu = Box::new(CpuState::default());
                // SAFETY: the boxed state outlives the registration.
                let _reg = unsafe { engine.register_vcpu(&*cpu) };
                let mut kicked = 0;
                let started = std::time::Instant::now();
                let mut run = 0;
                // At least RUNS runs, and on until this vCPU was kicked at
                // least once (within a minute).
                while run < RUNS || (kicked == 0 && started.elapsed() < Duration::from_secs(60)) {
                    run += 1;
                    let n = 500 + ((t * 31 + run * 7) % 2000) as u64;
                    cpu.pc = CODE;
                    cpu.x[11] = n;
                    loop {
                        match engine.run(&mut cpu).expect("run") {
                            Exit::Interrupted => kicked += 1,
                            Exit::Trap(trap) => {
                                assert_eq!(
                                    trap.cause,
                                    Exception::EcallFromU,
                                    "thread {t} run {run}"
                                );
                                break;
                            }
                        }
                    }
                    assert_eq!(
                        cpu.x[10],
                        n * (n + 1),
                        "thread {t} run {run}: sum of 2i for n = {n}"
                    );
                }
                kicked
            })
        })
        .collect();
    let kicks: Vec<usize> = workers
        .into_iter()
        .map(|w| w.join().expect("worker"))
        .collect();
    stop.store(true, Ordering::SeqCst);
    let flushes = flusher.join().expect("flusher");
    assert!(flushes > 0);
    // Every vCPU left translated code when kicked.
    assert!(
        kicks.iter().all(|&k| k > 0),
        "kicks per vCPU: {kicks:?} ({flushes} flushes)"
    );
}

#[test]
fn shared_cache_under_concurrent_runs_flushes_and_kicks_jit() {
    hammer(0);
}

#[test]
fn shared_cache_under_concurrent_runs_flushes_and_kicks_tiered() {
    hammer(3);
}
