//! Full-system emulation: the harts of a `virt` machine running on the
//! shared translator and backend, with a softmmu memory path.
//!
//! The same translator and backend as user mode run the harts; the
//! differences are data: TB flags with [`tb_flags::SYSTEM`] make the
//! translator hand privileged instructions to the runtime, and the
//! backend's [`SoftmmuConfig`] makes every load and store probe the hart's
//! TLB inline, with the slow paths of `system/memory.rs`. TBs are keyed by (virtual
//! pc, TB flags, physical pc), chained only within a guest page, and
//! invalidated by the physical page that a store changed.
//!
//! Threads: each hart runs on its own host thread (`system/hart.rs`); one
//! ticker thread wakes harts at their timer deadlines (`mtimecmp`, and
//! `stimecmp` under Sstc), so a hart spinning in translated code or asleep
//! in `wfi` takes its timer interrupt on time; one compile thread runs
//! Cranelift on the TBs that harts found hot, while the harts go on
//! interpreting them (a boot executes most code only a few times, and
//! Cranelift's cost per block is a hundred interpretations of it). Device writes from a hart
//! (MMIO) make that hart look at the machine at its next block boundary:
//! power-off, timer programming and interrupt lines are noticed there.
//!
//! SMP (`-smp N`): one host thread per hart, sharing the translation
//! cache; per-hart CSRs, TLB and jump cache. IPIs are the CLINT's `msip`
//! (a write kicks the target hart out of translated code or `wfi` at
//! once); OpenSBI turns SBI remote fences into IPIs, so each hart flushes
//! its own TLB. A page that becomes code on one hart is marked not-dirty
//! in every hart's TLB before the translating hart runs the code (it waits
//! for the others to acknowledge, serving their requests meanwhile).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use cranemu_backend::{Backend, BackendConfig, SoftmmuConfig};
use cranemu_frontend::cpu::tb_flags;
use cranemu_frontend::CpuState;
use cranemu_hw::aclint::Aclint;
use cranemu_hw::plic::Plic;
use cranemu_hw::sifive_test::FinisherEvent;
use cranemu_hw::virt::VirtMachine;

use crate::compile::Worker;
use crate::compileq::CompileQueue;
use crate::stats::{Counters, Stats};
use crate::tbcache::TbCache;
use crate::{EngineConfig, Error, Result};

mod hart;
mod memory;

use hart::Hart;
use memory::PhysMap;

/// The default `jit_threshold` of system mode: higher than user mode's,
/// since Cranelift runs on the compile thread while the hart interprets.
/// Measured on Debian's kernel booting to its initramfs (kernel time to
/// `Run /init`): 3.5 s at 100, 2.9 s at 250, 2.6-2.7 s at 500, 2.9 s at
/// 1000, 3.4 s at 2000.
pub const DEFAULT_JIT_THRESHOLD: u32 = 500;

/// Options of a system run, besides the machine.
#[derive(Clone, Default)]
pub struct SystemConfig {
    /// Translation options shared with user mode.
    pub engine: EngineConfig,
    /// `-d int`: log every trap and interrupt taken.
    pub log_int: bool,
    /// `-d mmu`: log page-table walks that fault.
    pub log_mmu: bool,
    /// Count the loads and stores of translated code (`-stats`), for the
    /// TLB hit rate; costs an add per access.
    pub count_accesses: bool,
}

/// Why [`SystemEngine::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineExit {
    /// The guest powered the machine off (SiFive test PASS, or FAIL with a
    /// code): the emulator exits with `code`.
    PowerOff {
        /// The exit status.
        code: i32,
    },
    /// The guest asked for a reset (SiFive test RESET).
    Reset,
    /// The user quit ([`QuitHandle::quit`], Ctrl-A x on the console).
    Quit,
}

/// Stops a running [`SystemEngine`] from another thread.
#[derive(Clone)]
pub struct QuitHandle(Arc<Machine>);

impl QuitHandle {
    /// Makes [`SystemEngine::run`] return [`MachineExit::Quit`] within a
    /// bounded time, whatever the guest is doing (running, in `wfi`, in a
    /// loop with interrupts off): every hart is kicked out of translated
    /// code at its next block entry.
    pub fn quit(&self) {
        self.0.quit.store(true, Ordering::SeqCst);
        for w in &self.0.wakes {
            w.kick();
        }
        self.0.ticker.stop();
    }
}

/// Wakes one hart: sets its exit request and ends its `wfi` sleep.
pub(crate) struct HartWake {
    /// Something the hart must look at changed (a device line, a timer
    /// deadline, a quit): it refreshes its interrupt lines and polls the
    /// machine at its next turn. The hart sets it itself after its own
    /// device writes and privileged-state changes.
    pub(crate) dirty: AtomicBool,
    exit_request: AtomicPtr<AtomicU32>,
    kicked: Mutex<bool>,
    cv: Condvar,
}

impl HartWake {
    fn new() -> HartWake {
        HartWake {
            dirty: AtomicBool::new(true),
            exit_request: AtomicPtr::new(std::ptr::null_mut()),
            kicked: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    /// Points the wake-up at the running hart's state.
    pub(crate) fn attach(&self, cpu: &CpuState) {
        self.exit_request.store(
            (&cpu.exit_request as *const AtomicU32).cast_mut(),
            Ordering::SeqCst,
        );
    }

    /// Undoes [`HartWake::attach`] (the hart stopped).
    pub(crate) fn detach(&self) {
        self.exit_request
            .store(std::ptr::null_mut(), Ordering::SeqCst);
    }

    /// Whether the hart is running (attached).
    pub(crate) fn is_running(&self) -> bool {
        !self.exit_request.load(Ordering::SeqCst).is_null()
    }

    /// Makes the hart leave translated code and wake from `wfi`.
    pub(crate) fn kick(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        let p = self.exit_request.load(Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: attached harts are alive until they detach, which
            // happens before their state is freed.
            unsafe { (*p).fetch_or(CpuState::EXIT_EXTERNAL, Ordering::SeqCst) };
        }
        let mut k = self.kicked.lock().unwrap_or_else(|e| e.into_inner());
        *k = true;
        drop(k);
        // After the unlock: a woken hart does not wait for this lock.
        self.cv.notify_all();
    }

    /// Sleeps until kicked or until `deadline`.
    pub(crate) fn sleep(&self, deadline: Option<Instant>) {
        let mut k = self.kicked.lock().unwrap_or_else(|e| e.into_inner());
        while !*k {
            match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    k = self
                        .cv
                        .wait_timeout(k, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                None => k = self.cv.wait(k).unwrap_or_else(|e| e.into_inner()),
            }
        }
        *k = false;
    }
}

/// The timer thread's state: each hart's next timer deadline.
pub(crate) struct Ticker {
    deadlines: Mutex<(Vec<Option<Instant>>, bool)>,
    cv: Condvar,
}

impl Ticker {
    /// Sets hart `hart`'s next deadline, unless the one the ticker holds
    /// is within 20 µs of it (a hart recomputes its deadline at every
    /// interrupt check; waking the ticker each time would cost more than
    /// the precision gained). The comparison is with what the ticker
    /// holds, not with what the hart gave it last: the ticker empties a
    /// slot when it fires, and a deadline must not be lost because the
    /// hart asks for the same instant again.
    pub(crate) fn set_if_moved(&self, hart: usize, deadline: Option<Instant>) {
        let mut d = self.deadlines.lock().unwrap_or_else(|e| e.into_inner());
        let moved = match (deadline, d.0[hart]) {
            (Some(a), Some(b)) => a.max(b) - a.min(b) > std::time::Duration::from_micros(20),
            (a, b) => a.is_some() != b.is_some(),
        };
        if moved {
            d.0[hart] = deadline;
            self.cv.notify_all();
        }
    }

    fn stop(&self) {
        let mut d = self.deadlines.lock().unwrap_or_else(|e| e.into_inner());
        d.1 = true;
        self.cv.notify_all();
    }

    /// The ticker thread: kicks each hart when its deadline passes.
    fn run(&self, wakes: &[Arc<HartWake>]) {
        let mut d = self.deadlines.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if d.1 {
                return;
            }
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            for (i, slot) in d.0.iter_mut().enumerate() {
                if let Some(t) = *slot {
                    if t <= now {
                        *slot = None;
                        wakes[i].kick();
                    } else {
                        next = Some(next.map_or(t, |n| n.min(t)));
                    }
                }
            }
            d = match next {
                Some(t) => {
                    self.cv
                        .wait_timeout(d, t.saturating_duration_since(now))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.cv.wait(d).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

/// Pages another hart's translations made code, for one hart to protect
/// in its TLB: the pages, and how many requests were made and served.
#[derive(Default)]
pub(crate) struct ProtectQueue {
    pub(crate) pages: Mutex<Vec<u64>>,
    pub(crate) requested: std::sync::atomic::AtomicU64,
    pub(crate) served: std::sync::atomic::AtomicU64,
}

/// What every hart of a machine shares.
pub(crate) struct Machine {
    pub(crate) phys: PhysMap,
    pub(crate) cache: Arc<TbCache>,
    pub(crate) backend: Backend,
    pub(crate) config: SystemConfig,
    pub(crate) aclint: Arc<Aclint>,
    pub(crate) plic: Arc<Plic>,
    pub(crate) quit: AtomicBool,
    pub(crate) wakes: Vec<Arc<HartWake>>,
    pub(crate) ticker: Ticker,
    /// Hot TBs for the compile worker (when `jit_threshold` > 0).
    pub(crate) compiles: CompileQueue,
    /// The finisher event that stopped the machine.
    exit: Mutex<Option<MachineExit>>,
    /// Per hart: RAM pages that became code on another hart, which this
    /// hart's TLB must mark not-dirty (see `Hart::protect_code`).
    pub(crate) protect: Vec<ProtectQueue>,
    /// Held while a hart marks pages as code and posts protection
    /// requests, so that a hart that finds a page already marked sees
    /// every request that marking made (see `Hart::protect_code`).
    pub(crate) protect_lock: Mutex<()>,
    /// Each hart's counters, once its thread has started.
    pub(crate) hart_counters: Mutex<Vec<Option<Arc<Counters>>>>,
    finisher: Mutex<Option<mpsc::Receiver<FinisherEvent>>>,
    start: Instant,
}

impl Machine {
    /// Whether the machine must stop: the user quit, or the guest wrote
    /// the finisher.
    pub(crate) fn poll(&self) -> Option<MachineExit> {
        if self.quit.load(Ordering::Relaxed) {
            return Some(self.exit().unwrap_or(MachineExit::Quit));
        }
        let f = self.finisher.lock().unwrap_or_else(|e| e.into_inner());
        let exit = match f.as_ref()?.try_recv() {
            Ok(FinisherEvent::Pass) => MachineExit::PowerOff { code: 0 },
            Ok(FinisherEvent::Fail(code)) => MachineExit::PowerOff {
                code: i32::from(code),
            },
            Ok(FinisherEvent::Reset) => MachineExit::Reset,
            Err(_) => return None,
        };
        drop(f);
        // Every hart stops: the first event decides.
        self.exit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(exit);
        self.stop_all();
        self.exit()
    }

    /// How the guest ended the machine, if it did.
    fn exit(&self) -> Option<MachineExit> {
        *self.exit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every hart return from its loop.
    pub(crate) fn stop_all(&self) {
        self.quit.store(true, Ordering::SeqCst);
        for w in &self.wakes {
            w.kick();
        }
    }

    /// A device wrote `len` bytes of guest RAM at guest-physical `gpa`:
    /// invalidates the TBs read from the pages that held code. Harts'
    /// TLB entries for those pages may keep their not-dirty flag; their
    /// next store there takes the slow path and finds the page clean.
    pub(crate) fn dma_written(&self, gpa: u64, len: u64) {
        use cranemu_softmmu::system::PAGE_SIZE;
        if len == 0 {
            return;
        }
        let first = gpa / PAGE_SIZE;
        let last = gpa.saturating_add(len - 1) / PAGE_SIZE;
        let pages: Vec<u64> = (first..=last)
            .filter(|&p| self.phys.clear_code(p * PAGE_SIZE))
            .collect();
        if !pages.is_empty() {
            self.cache
                .invalidate_pages(&pages, &self.cache.thread_counters());
        }
    }

    /// Writes a `-d` log line.
    pub(crate) fn log(&self, text: &str) {
        self.config.engine.log.write(text);
    }

    /// The `cycle`/`instret` count when instructions are not counted:
    /// host nanoseconds since the machine started.
    pub(crate) fn cycles(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// A machine and the engine that runs its harts.
pub struct SystemEngine {
    machine: VirtMachine,
    m: Arc<Machine>,
}

impl SystemEngine {
    /// Prepares to run `machine` (its harts start as
    /// [`VirtMachine::hart_boot`] says).
    ///
    /// # Errors
    /// [`Error::Codegen`] if Cranelift cannot target this host,
    /// [`Error::Host`] if executable memory cannot be mapped.
    pub fn new(mut machine: VirtMachine, config: SystemConfig) -> Result<SystemEngine> {
        let backend = Backend::new(BackendConfig {
            guest_base: 0,
            guest_size: 0,
            guest_guard: 0,
            layout: crate::state_layout(),
            helpers: cranemu_frontend::helpers::HELPERS.to_vec(),
            lookup: hart::lookup_helper,
            opt_level: config.engine.opt_level,
            softmmu: Some(SoftmmuConfig {
                tlb: CpuState::OFFSET_TLB,
                mem_status: CpuState::OFFSET_MEM_STATUS,
                mmu_idx: tb_flags::mmu_idx,
                load: memory::slow_load,
                store: memory::slow_store,
                atomic: memory::slow_atomic,
                count: config
                    .count_accesses
                    .then_some(CpuState::OFFSET_MEM_ACCESSES),
            }),
        })
        .map_err(|e| Error::Codegen(e.to_string()))?;
        let trampoline = backend
            .compile_trampoline()
            .map_err(|e| Error::Codegen(e.to_string()))?;
        let cache = Arc::new(TbCache::new(trampoline.code).map_err(Error::Host)?);
        let harts = machine.harts() as usize;
        let wakes: Vec<Arc<HartWake>> = (0..harts).map(|_| Arc::new(HartWake::new())).collect();
        let phys = PhysMap::new(
            machine.ram().clone(),
            machine.rom().bytes(),
            machine.bus().clone(),
        );
        let m = Arc::new(Machine {
            phys,
            cache,
            backend,
            config,
            aclint: machine.aclint().clone(),
            plic: machine.plic().clone(),
            quit: AtomicBool::new(false),
            wakes: wakes.clone(),
            ticker: Ticker {
                deadlines: Mutex::new((vec![None; harts], false)),
                cv: Condvar::new(),
            },
            compiles: CompileQueue::new(),
            exit: Mutex::new(None),
            protect: (0..harts).map(|_| ProtectQueue::default()).collect(),
            protect_lock: Mutex::new(()),
            hart_counters: Mutex::new(vec![None; harts]),
            finisher: Mutex::new(machine.take_finisher_events()),
            start: Instant::now(),
        });
        // Device writes to guest RAM (virtio DMA) invalidate translated
        // code on the pages they change, as a hart's store does.
        if let Some(watch) = machine.dma_watch() {
            let weak = Arc::downgrade(&m);
            watch.set_hook(Box::new(move |gpa, len| {
                if let Some(m) = weak.upgrade() {
                    m.dma_written(gpa, len);
                }
            }));
        }
        // Device state changes wake the harts they concern.
        let w = wakes.clone();
        machine.aclint().set_notifier(Box::new(move |hart| {
            if let Some(w) = w.get(hart) {
                w.kick();
            }
        }));
        let w = wakes;
        machine.plic().set_notifier(Box::new(move |ctx, _| {
            if let Some(w) = w.get(ctx / 2) {
                w.kick();
            }
        }));
        Ok(SystemEngine { machine, m })
    }

    /// A handle that stops [`SystemEngine::run`].
    pub fn quit_handle(&self) -> QuitHandle {
        QuitHandle(self.m.clone())
    }

    /// The machine (its UART takes console input).
    pub fn machine(&self) -> &VirtMachine {
        &self.machine
    }

    /// Runs every hart until the guest powers off or resets, or the user
    /// quits.
    ///
    /// # Errors
    /// [`Error`] for failures of the emulator itself, never for guest
    /// faults (those are traps delivered to the guest).
    pub fn run(&mut self) -> Result<MachineExit> {
        let boot = self.machine.hart_boot(0);
        let m = self.m.clone();
        let ticker = {
            let m = m.clone();
            std::thread::Builder::new()
                .name("cranemu-ticker".into())
                .spawn(move || m.ticker.run(&m.wakes))
                .map_err(|e| Error::Host(format!("cannot start the timer thread: {e}")))?
        };
        let compiler = {
            let m = m.clone();
            std::thread::Builder::new()
                .name("cranemu-compile".into())
                .spawn(move || {
                    m.compiles.run(
                        &m.cache,
                        |generation, tb, counters, backlog, recompile| {
                            let worker = Worker {
                                backend: &m.backend,
                                config: &m.config.engine,
                                cache: &m.cache,
                                queue: &m.compiles,
                                space: None,
                            };
                            worker.job(generation, tb, counters, backlog, recompile)
                        },
                        // A compile error (a bug, or no executable memory
                        // left) stops the machine.
                        || {
                            m.quit.store(true, Ordering::SeqCst);
                            for w in &m.wakes {
                                w.kick();
                            }
                        },
                    )
                })
                .map_err(|e| Error::Host(format!("cannot start the compile thread: {e}")))?
        };
        // Harts 1.. on threads of their own, hart 0 on this one.
        let mut others = Vec::new();
        for id in 1..m.wakes.len() {
            let b = self.machine.hart_boot(id as u32);
            let mm = m.clone();
            let t = std::thread::Builder::new()
                .name(format!("cranemu-hart{id}"))
                .spawn(move || {
                    let r = Hart::new(mm.clone(), id, b.pc, [b.a0, b.a1, b.a2]).run();
                    // One hart failing stops the machine.
                    mm.stop_all();
                    r
                });
            match t {
                Ok(t) => others.push(t),
                Err(e) => {
                    m.stop_all();
                    return Err(Error::Host(format!("cannot start hart {id}: {e}")));
                }
            }
        }
        let mut hart = Hart::new(m.clone(), 0, boot.pc, [boot.a0, boot.a1, boot.a2]);
        let mut r = hart.run();
        m.stop_all();
        for t in others {
            match t.join() {
                Ok(Err(e)) if r.is_ok() => r = Err(e),
                Ok(_) => {}
                Err(_) => r = Err(Error::Host("a hart thread panicked".into())),
            }
        }
        m.ticker.stop();
        m.compiles.stop();
        let _ = ticker.join();
        let _ = compiler.join();
        if let Some(f) = m.compiles.failure() {
            return Err(Error::Codegen(f));
        }
        let _ = std::io::stdout().flush();
        r
    }

    /// Translation, cache and softmmu statistics so far, summed over the
    /// harts.
    pub fn stats(&self) -> Stats {
        let mut total = self.m.compiles.counters.snapshot();
        for v in self.m.cache.thread_stats() {
            total.accumulate(&v.stats);
        }
        total
    }

    /// Each hart's statistics, by hart id (zero for a hart whose thread
    /// never started). Their sum is less than [`SystemEngine::stats`] by
    /// the compile thread's share.
    pub fn hart_stats(&self) -> Vec<Stats> {
        self.m
            .hart_counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|c| c.as_ref().map(|c| c.snapshot()).unwrap_or_default())
            .collect()
    }
}
