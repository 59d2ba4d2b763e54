//! The execution side of cranemu: the shared translation cache, the
//! execution loop, and exits returned as data.
//!
//! A vCPU thread calls [`Engine::run`] with its [`CpuState`]; the engine
//! looks blocks up (per-thread jump cache, then the shared cache keyed by
//! pc and flags), translates on a miss, and runs translated code until the
//! guest traps. The runtime knows nothing about Linux: an `ecall` is a
//! [`Trap`] with cause [`Exception::EcallFromU`], handed back to the caller.
//!
//! # TB flags
//! A TB is translated for one value of the TB flags
//! ([`cranemu_frontend::cpu::tb_flags`]: today the dynamic rounding mode
//! `frm`), so the translation cache and the jump cache are keyed by (pc,
//! flags), and a program that switches `frm` keeps a TB per mode instead
//! of retranslating. Writes to `frm` end their block, so a chain of TBs
//! runs under the flags it was looked up with.
//!
//! # The float environment
//! Guest float instructions accrue `fflags` in the host's `MXCSR` sticky
//! bits, and `MXCSR`'s rounding control holds the guest's dynamic rounding
//! mode where x86 has it ([`cranemu_ir::fp::host_flags`]), so inline SSE
//! code gets both for free. The engine sets that up before it enters guest
//! code (JIT or interpreter) and takes it down each time guest code returns
//! to it, folding the flags into `cpu.fcsr`, so `fcsr` is exact at every
//! exit (system calls, signal frames, traps) and the runtime's own code
//! runs with round-to-nearest. The `fflags`/`fcsr` CSR helper folds the
//! flags itself, and a write to `frm` changes the rounding control in
//! place, so a block that writes `frm` chains straight to its successor
//! under the new TB flags.
//!
//! # The translation cache
//! One cache serves every vCPU thread (`runtime/src/tbcache.rs` has the
//! structures and their invariants): lookups go through the vCPU's jump
//! cache, then a lock-free map; a miss translates with no lock held and
//! inserts under the cache's index lock. Pages that code was read from are watched for
//! writes ([`cranemu_softmmu::user::GuestSpace::watch_code_page`]): a
//! write to one, from any thread, a remapping or an `mprotect` that takes
//! `EXEC` away invalidates exactly the TBs read from those pages, in every
//! vCPU, unchaining the exits that jump to them; a guest store that
//! faulted on such a page then runs again on its own, translated
//! without watching its page (a store into the page it runs from would
//! otherwise fault again each time it ran). So `fence.i` (and the
//! `riscv_flush_icache` system call) have little left to do: every write to
//! code through this process's mappings has already invalidated what it
//! changed. Only memory that another mapping can write (a `MAP_SHARED`
//! mapping, which another process or a second mapping of the same file may
//! write unseen) is left to them: they invalidate the code translated from
//! shared pages.
//!
//! # Tiers
//! A TB first runs in the first tier, [`cranemu_ir::baseline`]: its IR
//! lowered once to a compact form (constants and address offsets folded,
//! no per-instruction markers). In user mode that form is emitted as
//! x86-64 code at translation ([`cranemu_backend::template`], about a
//! microsecond a block), which chains to and from compiled code, counts
//! its runs down in a counter next to its code (`codecache.rs`), asks for
//! Cranelift ([`cranemu_backend::ExitCode::Hot`]) at the JIT threshold,
//! and jumps straight to the Cranelift code once that is published (its
//! entry's `jmp` is re-pointed, as QEMU patches `goto_tb`); a block it
//! does not emit (floating point, atomics, helper calls), and every block
//! in system mode, runs in the first tier's loop instead, at about two
//! thirds of the reference interpreter's cost per block. The reference interpreter
//! ([`cranemu_ir::interp`], which the differential tests hold every tier
//! to) runs only what the first tier cannot lower, or everything with
//! [`EngineConfig::reference_interpreter`]. After
//! [`EngineConfig::jit_threshold`] executions a TB is queued for the
//! compile thread (`compileq.rs`) and stays in the first tier until its
//! code is published, so no vCPU waits for Cranelift. A hot TB is
//! compiled with the hot TBs its exits lead to (on its page, in system
//! mode) as one region (`compile.rs`, [`EngineConfig::region_tbs`]), so
//! a loop's iterations, and a hot path's jumps, stay inside one host
//! function; the members keep their own TBs for entries from elsewhere.
//! A TB compiled alone while the compile thread was behind is compiled
//! again as a region if it is still hot once the thread is idle.
//!
//! A user-mode TB keeps its first-tier program, not its IR (IR was most
//! of a large program's heap): the compile thread translates the guest
//! code again and compiles it only if that gives the same program from
//! the same pages (`compile.rs`, `fresh_ir`). Runs of a cold TB are
//! counted in the vCPU's cold jump-cache entry and added to the TB in
//! batches, so only TBs that run often write to their TB. A forked child
//! compiles nothing for its first 50 ms (`compileq.rs`).
//!
//! # Faults of loads made early
//! Translated code keeps the CPU state exact at every guest access that
//! can fault, with two exceptions in user mode, both for speed: the
//! sides of an if-converted branch may load before the branch is
//! decided (the frontend's module doc, "Speculative loads"), and guest
//! register writes are stored after the loads that follow them, up to
//! the next store or exit ([`cranemu_ir::passes::defer_state_stores`]:
//! one store a register per stretch of loads, where the host core
//! retires one store a cycle). A fault of such a load is reported at a
//! pc with bit 0 set, where the state is exact; the engine notes that
//! pc (`fetch.rs`, `Unspeculated`), invalidates the code of its page,
//! and runs on from it: the code is translated again without either
//! from that pc, so a load that was to run faults at its own pc, with
//! the state exact there, and one that was not is not made. Each such
//! fault counts in `-stats`' `early_load_faults`.
//!
//! # Measuring
//! Each vCPU thread and the compile thread count into their own
//! statistics (`stats.rs`; `-stats`, [`Engine::stats`]). Two options cost
//! nothing when off: [`EngineConfig::profile`] times the interpreter and
//! compiled code around each block run and each entry into compiled code
//! (`cranemu bench`), and [`LogConfig::perfmap`] writes a line of
//! `/tmp/perf-PID.map` per compiled block and per block's first-tier code
//! ([`perfmap`]; `-perfmap`).
//! With [`EngineConfig::count_insns`], the instructions each vCPU retired
//! are added to its `retired_insns` whenever [`Engine::run`] returns.
//!
//! Lock order: the cache's index lock, then its current generation, then
//! a generation's internals, then the vCPU registry, then the guest
//! space's page map, then the compile queue, then the perf map (see
//! [`Engine::quiesced`]).

#![deny(missing_docs)]

mod codecache;
mod compile;
mod compileq;
mod exec;
mod fetch;
mod jumpcache;
pub mod perfmap;
mod single;
mod stats;
pub mod system;
mod tbcache;
mod tbmap;

use cranemu_frontend::translate::SPECULATIVE_PC;
use fetch::{translate_at, Unspeculated, UserCode};
use jumpcache::{count_cold, fill_cold, jump_cache, JumpCache, EMPTY_JUMP_CACHE};

use std::io::Write;
use std::sync::atomic::{AtomicPtr, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cranemu_softmmu::sync::Mutex;

pub use cranemu_backend::Quality;
use cranemu_backend::{
    jump_cache_index, Backend, BackendConfig, ExitCode, JumpCacheEntry, StateLayout,
};
use cranemu_frontend::helpers::{enter_guest_fp, leave_guest_fp};
pub use cranemu_frontend::{CpuState, Exception, Trap};
use cranemu_ir::{interp, MemSize};
use cranemu_softmmu::user::{AccessKind, GuestSpace, GUARD_BELOW, GUARD_SIZE};

use compile::compile_tb;
use compileq::CompileQueue;
pub use exec::{forward_sent_fault_signals, SentSignalHandler};

/// `eprint!` for diagnostics (`-strace` lines, error messages) that must
/// not panic when standard error is closed or full, as `eprint!` does:
/// the text is dropped instead, and the program goes on.
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

/// [`diag!`] with a newline, as `eprintln!`.
#[macro_export]
macro_rules! diagln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
use stats::Counters;
pub use stats::{Stats, VcpuStats};
use tbcache::{FirstTierCode, Generation, Slot, Stale, Tb, TbCache};

/// Why [`Engine::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The guest took a synchronous trap (including `ecall` and `ebreak`).
    /// `cpu.pc` equals `trap.pc`, the trapping instruction; all registers
    /// hold their values from before that instruction.
    Trap(Trap),
    /// `exit_request` was set; the guest can be resumed at `cpu.pc`.
    Interrupted,
}

/// What [`Engine::lookup`] found for a (pc, flags).
enum Lookup {
    /// A compiled TB: its code, and the TB (kept alive by its generation
    /// until it is invalidated, which unchains and unlists it first).
    Code(*const u8, *const Tb),
    /// A TB without code yet: the interpreter runs it. Alive as long as
    /// its generation, like [`Lookup::Code`]'s.
    Cold(*const Tb),
    /// No TB: translate one.
    Miss,
}

/// How one block run by [`Engine::run_ir_block`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// The block chose its successor (`cpu.pc` is written).
    Next {
        /// The next guest pc.
        pc: u64,
        /// The block asked for a cache flush.
        flush: bool,
    },
    /// The block trapped or was interrupted.
    Exit(Exit),
}

/// Where translation logs go and what they contain (QEMU's `-d` and `-D`).
#[derive(Clone, Default)]
pub struct LogConfig {
    /// Log the guest instructions of each translated block (`-d in_asm`).
    pub in_asm: bool,
    /// Log the IR of each translated block (`-d op`).
    pub op: bool,
    /// Log the host code of each translated block (`-d out_asm`).
    pub out_asm: bool,
    /// The log sink; `None` means standard error.
    pub sink: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
    /// `-perfmap`: a line in `/tmp/perf-PID.map` per compiled block and
    /// per block's first-tier code ([`perfmap`]); `None` writes nothing.
    pub perfmap: Option<Arc<perfmap::PerfMap>>,
}

impl LogConfig {
    fn write(&self, text: &str) {
        match &self.sink {
            Some(s) => {
                let _ = s.lock().write_all(text.as_bytes());
            }
            None => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }
}

/// Options fixed for the lifetime of an [`Engine`].
#[derive(Clone)]
pub struct EngineConfig {
    /// Count retired guest instructions in `CpuState::icount`.
    pub count_insns: bool,
    /// Translation logging.
    pub log: LogConfig,
    /// Most guest instructions per TB.
    pub max_block_insns: usize,
    /// Cranelift's optimization level ("none", "speed").
    pub opt_level: &'static str,
    /// Interpreted executions of a TB before it is compiled; 0 compiles
    /// every TB on its vCPU's thread before its first execution. Above 0,
    /// a hot TB is queued for the compile thread and interpreted until its
    /// code is published, so no vCPU waits for Cranelift. The default,
    /// 3000, balances the two costs measured here: Cranelift spends
    /// 90-400 µs on a block, the first tier's host code a few ns per
    /// execution. (With the reference interpreter as the first tier, 100
    /// was best; with the first tier's loop, 200; with its host code as
    /// it is now, 3000 made imports, `python -S`, cc1 and a busybox `sh`
    /// script 5-7% faster than 200, and lua and gzip no slower:
    /// BENCHMARKS.md, "Issue 12, eighth step". cc1 queues twice the
    /// blocks the compile thread gets to at 200.) System mode's first
    /// tier is the loop; it has its own default
    /// (`system::DEFAULT_JIT_THRESHOLD`).
    pub jit_threshold: u32,
    /// Run cold TBs in the reference interpreter ([`cranemu_ir::interp`])
    /// instead of the first tier ([`cranemu_ir::baseline`]): slower, for
    /// differential tests and for bisecting a suspected first-tier bug.
    pub reference_interpreter: bool,
    /// Translate through the not-taken side of conditional branches
    /// (superblocks with side exits).
    pub superblocks: bool,
    /// If-convert short forward branches over pure integer instructions,
    /// and branches whose two short pure sides meet again, into `select`s
    /// ([`cranemu_frontend::translate::TranslateOptions::if_conversion`]);
    /// in user mode their sides may load too (speculatively: a fault there
    /// has the branch run again as a branch).
    pub if_conversion: bool,
    /// Write guest registers to the CPU state after the guest loads that
    /// follow them instead of before (user mode;
    /// [`cranemu_ir::passes::defer_state_stores`]): a load that faults
    /// then has its stretch of code run again with the writes in place.
    /// Off, for bisecting, every register write is stored before each
    /// load, as the dead-store pass leaves it.
    pub defer_state_stores: bool,
    /// Most TBs compiled together as one region (see `compile_tb` in the runtime); 1
    /// compiles every TB alone.
    pub region_tbs: usize,
    /// How TBs that are not part of a loop compile while code warms up
    /// (more than two compile jobs waiting) or on a vCPU thread
    /// ([`Quality::Quick`] halves Cranelift's time on them); loops, and
    /// everything compiled while the queue is short, are optimized.
    pub straight_quality: Quality,
    /// Time each tier (`cranemu bench`): the execution loop reads the
    /// clock around every interpreted block and every entry into compiled
    /// code, into the `interp_ns`, `jit_ns` and `jit_entries` statistics.
    /// Off, the loop pays one predictable branch per block and nothing
    /// else.
    pub profile: bool,
    /// A vCPU that queues a hot TB waits until the compile thread has no
    /// job queued or in hand (`CompileQueue::wait_idle`; region heads noted
    /// to be compiled again as regions do not count), so with one vCPU
    /// the point where compiled code and regions take over depends on
    /// the guest alone, not on how the host schedules the two threads.
    /// Slower (the vCPU waits for Cranelift): for differential tests that
    /// must see regions form, and for bisecting a bug that shows only once
    /// code is compiled.
    pub wait_for_compiles: bool,
    /// Run the first tier as host code emitted per TB at translation
    /// ([`cranemu_backend::template`], user mode), for every block that
    /// tier emits, instead of the first tier's loop
    /// ([`cranemu_ir::baseline::run`]), which keeps the rest. Off with
    /// [`EngineConfig::reference_interpreter`] or a `jit_threshold` of 0.
    pub first_tier_code: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            count_insns: false,
            log: LogConfig::default(),
            max_block_insns: 512,
            opt_level: "speed",
            jit_threshold: 3000,
            reference_interpreter: false,
            superblocks: true,
            if_conversion: true,
            defer_state_stores: true,
            region_tbs: 8,
            straight_quality: Quality::Quick,
            profile: false,
            wait_for_compiles: false,
            first_tier_code: true,
        }
    }
}

/// Errors of the engine itself (never guest faults).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host code generator failed.
    #[error("code generation failed: {0}")]
    Codegen(String),
    /// A host resource (executable memory, a signal handler) was unavailable.
    #[error("host resource: {0}")]
    Host(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

thread_local! {
    /// The engine and generation this thread is running translated code
    /// of, and the thread's counters.
    static RUNNING: std::cell::Cell<Running> = const {
        std::cell::Cell::new((std::ptr::null(), std::ptr::null(), std::ptr::null()))
    };
}

/// What [`RUNNING`] holds.
type Running = (*const Engine, *const Generation, *const Counters);

/// What the dispatcher does after an interpreted block.
enum Step {
    /// Go on at `cpu.pc`.
    Continue,
    /// The translation cache asked this vCPU to resynchronize (the sync
    /// bit of its exit request): go on at `cpu.pc`, in a new generation if
    /// there is one.
    Resync,
    /// Return to the caller of [`Engine::run`].
    Exit(Exit),
}

/// Guest memory for the IR interpreter: checked against the guest's page
/// permissions (never a host fault), little-endian.
///
/// Accesses are what translated code does, so the tiers agree under
/// concurrency too: an access is one host load or store of its size (a
/// naturally aligned one is single-copy atomic on x86-64, as RVWMO wants
/// of aligned accesses), and AMOs and SC are host compare-and-swap loops,
/// atomic with respect to every other vCPU thread and to translated code's
/// `lock` instructions.
struct InterpMemory<'a>(&'a GuestSpace);

impl interp::Memory for InterpMemory<'_> {
    fn load(&mut self, addr: u64, size: MemSize) -> std::result::Result<u64, ()> {
        // SAFETY: `Engine::new` installed the fault handler, which sends
        // guarded accesses' faults to their failure return.
        if let Some(v) = unsafe { self.0.load_guarded(addr, size.bytes() as u32) } {
            return Ok(v);
        }
        // Faulted: the checked path gives the guest's fault (or the value,
        // for a page the host protects more than the guest).
        self.0
            .access(addr, size.bytes(), AccessKind::Read, |p| {
                // SAFETY: `access` checked that the range is guest-readable
                // (so host-readable) and keeps it mapped during the call.
                // Other vCPUs may store to it at the same time: aligned
                // accesses are (relaxed) atomics, as RVWMO's single-copy
                // atomicity wants; misaligned ones have no such guarantee
                // on RISC-V either.
                unsafe {
                    let aligned = (p as usize).is_multiple_of(size.bytes() as usize);
                    match size {
                        MemSize::B1 => u64::from(AtomicU8::from_ptr(p).load(Ordering::Relaxed)),
                        MemSize::B2 if aligned => {
                            u64::from(AtomicU16::from_ptr(p.cast()).load(Ordering::Relaxed))
                        }
                        MemSize::B4 if aligned => {
                            u64::from(AtomicU32::from_ptr(p.cast()).load(Ordering::Relaxed))
                        }
                        MemSize::B8 if aligned => {
                            AtomicU64::from_ptr(p.cast()).load(Ordering::Relaxed)
                        }
                        MemSize::B2 => u64::from(p.cast::<u16>().read_unaligned()),
                        MemSize::B4 => u64::from(p.cast::<u32>().read_unaligned()),
                        MemSize::B8 => p.cast::<u64>().read_unaligned(),
                    }
                }
            })
            .map_err(|_| ())
    }

    fn store(&mut self, addr: u64, size: MemSize, value: u64) -> std::result::Result<(), ()> {
        // SAFETY: as in `load`.
        if unsafe { self.0.store_guarded(addr, size.bytes() as u32, value) } {
            return Ok(());
        }
        // Faulted: the checked path gives the guest's fault, or releases a
        // watched code page (invalidating its code) and stores.
        self.0
            .access(addr, size.bytes(), AccessKind::Write, |p| {
                // SAFETY: as in `load`, for a guest-writable range.
                unsafe {
                    let aligned = (p as usize).is_multiple_of(size.bytes() as usize);
                    match size {
                        MemSize::B1 => AtomicU8::from_ptr(p).store(value as u8, Ordering::Relaxed),
                        MemSize::B2 if aligned => {
                            AtomicU16::from_ptr(p.cast()).store(value as u16, Ordering::Relaxed)
                        }
                        MemSize::B4 if aligned => {
                            AtomicU32::from_ptr(p.cast()).store(value as u32, Ordering::Relaxed)
                        }
                        MemSize::B8 if aligned => {
                            AtomicU64::from_ptr(p.cast()).store(value, Ordering::Relaxed)
                        }
                        MemSize::B2 => p.cast::<u16>().write_unaligned(value as u16),
                        MemSize::B4 => p.cast::<u32>().write_unaligned(value as u32),
                        MemSize::B8 => p.cast::<u64>().write_unaligned(value),
                    }
                }
            })
            .map_err(|_| ())
    }

    fn atomic_update(
        &mut self,
        addr: u64,
        size: MemSize,
        update: &mut dyn FnMut(u64) -> u64,
    ) -> std::result::Result<u64, ()> {
        self.0
            .access(addr, size.bytes(), AccessKind::Write, |p| {
                // SAFETY: a guest-writable range, kept mapped during the
                // call; the interpreter checked natural alignment (AMOs
                // and SC are 4 or 8 bytes).
                unsafe {
                    match size {
                        MemSize::B4 => {
                            let a = AtomicU32::from_ptr(p.cast());
                            let mut old = a.load(Ordering::Relaxed);
                            loop {
                                let new = update(u64::from(old)) as u32;
                                match a.compare_exchange_weak(
                                    old,
                                    new,
                                    Ordering::SeqCst,
                                    Ordering::Relaxed,
                                ) {
                                    Ok(_) => break u64::from(old),
                                    Err(x) => old = x,
                                }
                            }
                        }
                        _ => {
                            let a = AtomicU64::from_ptr(p.cast());
                            let mut old = a.load(Ordering::Relaxed);
                            loop {
                                let new = update(old);
                                match a.compare_exchange_weak(
                                    old,
                                    new,
                                    Ordering::SeqCst,
                                    Ordering::Relaxed,
                                ) {
                                    Ok(_) => break old,
                                    Err(x) => old = x,
                                }
                            }
                        }
                    }
                }
            })
            .map_err(|_| ())
    }
}

/// The shared translation engine for one guest address space.
pub struct Engine {
    space: Arc<GuestSpace>,
    config: EngineConfig,
    backend: Arc<Backend>,
    cache: Arc<TbCache>,
    /// Hot TBs for the compile thread (when `jit_threshold` > 0).
    compiles: Arc<CompileQueue>,
    /// The first tier's code emitter, if it runs as host code
    /// ([`EngineConfig::first_tier_code`]).
    first_tier: Option<cranemu_backend::template::Compiler>,
    /// The pcs where no load is made early any more.
    unspeculated: Arc<Unspeculated>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.compiles.stop();
    }
}

/// A vCPU's registration with an [`Engine`] (see
/// [`Engine::register_vcpu`]); dropping it unregisters the vCPU.
pub struct VcpuRegistration<'a> {
    engine: &'a Engine,
    cpu: usize,
}

impl Drop for VcpuRegistration<'_> {
    fn drop(&mut self) {
        self.engine.cache.unregister(self.cpu);
    }
}

/// The indirect-jump lookup called by translated code: the jump cache,
/// then the shared map. Null (leave translated code) if the target is not
/// compiled yet.
unsafe extern "C" fn lookup_helper(cpu: *mut u8, pc: u64) -> *const u8 {
    let (engine, generation, counters) = RUNNING.with(|r| r.get());
    if engine.is_null() {
        return std::ptr::null();
    }
    // SAFETY: `run` set these for the duration of its call into translated
    // code, which is where this helper is called from, with `cpu` the state
    // of this vCPU.
    let (engine, generation, counters, flags) = unsafe {
        (
            &*engine,
            &*generation,
            &*counters,
            (*cpu.cast::<CpuState>()).tb_flags(),
        )
    };
    match engine.lookup(jump_cache(), generation, pc, flags, counters) {
        Lookup::Code(code, _) => code,
        Lookup::Cold(_) | Lookup::Miss => std::ptr::null(),
    }
}

impl Engine {
    /// Creates an engine that runs code from `space`, and makes it the
    /// space's code observer (writes to pages that code was translated
    /// from invalidate that code).
    ///
    /// # Errors
    /// [`Error::Host`] if executable memory or the host fault handler cannot
    /// be set up; [`Error::Codegen`] if Cranelift cannot target this host.
    pub fn new(space: Arc<GuestSpace>, config: EngineConfig) -> Result<Engine> {
        let base = space.base() as u64;
        exec::install_fault_handler().map_err(Error::Host)?;
        let backend = Backend::new(BackendConfig {
            guest_base: base,
            guest_size: space.size(),
            guest_guard: GUARD_SIZE.min(GUARD_BELOW),
            layout: state_layout(),
            helpers: cranemu_frontend::helpers::HELPERS.to_vec(),
            lookup: lookup_helper,
            opt_level: config.opt_level,
            softmmu: None,
        })
        .map_err(|e| Error::Codegen(e.to_string()))?;
        let trampoline = backend
            .compile_trampoline()
            .map_err(|e| Error::Codegen(e.to_string()))?;
        let cache = Arc::new(TbCache::new(trampoline.code).map_err(Error::Host)?);
        let observer = Arc::downgrade(&cache);
        space.set_code_observer(Box::new(move |pages| {
            if let Some(cache) = observer.upgrade() {
                let counters = cache.thread_counters();
                cache.invalidate_pages(pages, &counters);
            }
        }));
        let first_tier = backend.first_tier().filter(|_| {
            config.first_tier_code && config.jit_threshold > 0 && !config.reference_interpreter
        });
        Ok(Engine {
            space,
            config,
            backend: Arc::new(backend),
            cache,
            compiles: Arc::new(CompileQueue::new()),
            first_tier,
            unspeculated: Arc::default(),
        })
    }

    /// The guest code as the translator reads it.
    fn user_code(&self) -> UserCode<'_> {
        UserCode {
            space: &self.space,
            unspeculated: &self.unspeculated,
        }
    }

    /// After a load that was made early faulted, reported at `pc` with
    /// bit 0 ([`SPECULATIVE_PC`]) set: a speculative load of the
    /// if-converted branch at `pc & !1` (the frontend's module doc,
    /// "Speculative loads"), or a load that register writes were
    /// deferred past, in a stretch from `pc & !1`
    /// ([`cranemu_ir::passes::defer_state_stores`]). Either way the CPU
    /// state is exactly as it was before the guest instruction at
    /// `pc & !1`. Notes that pc, so that code is translated without
    /// either from it on, invalidates the code translated from its page
    /// (every TB holding it starts on it), and sets `cpu.pc` to it: the
    /// code runs again from there, and a load that was to run faults
    /// again at its own pc, with the state exact there.
    fn unspeculate(&self, cpu: &mut CpuState, pc: u64, counters: &Counters) {
        let at = pc & !SPECULATIVE_PC;
        Counters::bump(&counters.early_load_faults);
        // Invalidated again even if noted already: a vCPU that raced
        // with the first invalidation may run a stale TB once more.
        self.unspeculated.insert(at);
        self.cache
            .invalidate_pages(&[at / cranemu_softmmu::user::PAGE_SIZE], counters);
        cpu.pc = at;
    }

    /// The host address range `[lo, hi)` of the guest space and its
    /// guards, and the host address of guest address 0 (see
    /// `exec::enter`).
    fn guest_range(&self) -> (u64, u64, u64) {
        let (lo, hi) = self.space.guarded_range();
        (lo, hi, self.space.base() as u64)
    }

    /// The guest address space.
    pub fn space(&self) -> &Arc<GuestSpace> {
        &self.space
    }

    /// Translates the block at (`pc`, `flags`), which [`Engine::lookup`]
    /// did not find, to IR and inserts it in `generation` (or finds the
    /// TB another vCPU inserted meanwhile). `None` if the cache moved to a
    /// new generation meanwhile (the caller goes on with that one).
    fn translate_missing(
        &self,
        generation: &Arc<Generation>,
        pc: u64,
        flags: u64,
        counters: &Counters,
    ) -> Result<Option<Arc<Tb>>> {
        Counters::bump(&counters.misses);
        loop {
            let seq = self.cache.seq();
            let tb = self.translate(generation, pc, flags, counters)?;
            match self.cache.insert(generation, tb, seq, counters) {
                Ok(tb) => return Ok(Some(tb)),
                // A page it was read from changed meanwhile: read it again.
                Err(Stale::Page) => Counters::bump(&counters.races),
                Err(Stale::Generation) => return Ok(None),
            }
        }
    }

    /// Translates the block at `pc` under TB flags `flags` to IR (no lock
    /// held), watching the pages it reads.
    fn translate(
        &self,
        generation: &Generation,
        pc: u64,
        flags: u64,
        counters: &Counters,
    ) -> Result<Arc<Tb>> {
        // The clock only where the time is reported (`-stats`, `bench`):
        // two reads are about 1% of a TB's translation.
        let t0 = (self.config.count_insns || self.config.profile).then(Instant::now);
        let (mut tb, pages, code_hash) = translate_at(self.user_code(), &self.config, pc, flags);
        // Lowering for the first tier is part of tier 1's cost. The IR is
        // translated again when the TB is hot (`compile::fresh_ir`), unless
        // every TB is compiled at once or the reference interpreter runs.
        // The first tier lowers the IR as translated, with no pass: the
        // dead-store pass cost it more to run (3.6% of cc1's time) than
        // the stores it removed cost its code (BENCHMARKS.md, "Issue 12,
        // fifteenth step").
        let keep_ir = self.config.jit_threshold == 0 || self.config.reference_interpreter;
        if keep_ir {
            fetch::compile_passes(&mut tb.ir, self.user_code(), &self.config);
        }
        if cfg!(debug_assertions) {
            if let Err(e) = cranemu_ir::verify::verify(&tb.ir) {
                return Err(Error::Codegen(format!(
                    "IR of block {pc:#x} does not verify: {e}"
                )));
            }
        }
        if self.config.log.in_asm || self.config.log.op {
            self.log_block(&tb);
        }
        Counters::bump(&counters.blocks);
        Counters::add(&counters.guest_insns, u64::from(tb.ir.guest_insns));
        // A forked child that has not lived 50 ms yet (most exec or exit
        // by then) runs its new TBs in the first tier's loop: emitting
        // their code would cost it more than it runs them.
        let first_tier = self
            .first_tier
            .as_ref()
            .filter(|_| !self.compiles.in_fork_defer())
            .map(|compiler| FirstTierCode {
                compiler,
                generation,
                threshold: self.config.jit_threshold,
            });
        cranemu_frontend::translate::recycle_insns(tb.insns);
        let tb = Tb::new(tb.ir, pc, &pages, code_hash, keep_ir, first_tier);
        fetch::recycle_pages(pages);
        if let Some((code, len)) = tb.first_tier_code() {
            Counters::bump(&counters.first_tier_code);
            Counters::add(&counters.first_tier_code_bytes, len as u64);
            if let Some(perf) = &self.config.log.perfmap {
                perf.record(code, len, pc, true);
            }
            if self.config.log.out_asm {
                // SAFETY: the TB's first-tier code, just placed: `len`
                // bytes at `code`, alive as long as `generation`.
                let bytes = unsafe { std::slice::from_raw_parts(code, len) };
                let out = format!(
                    "OUT: {pc:#x} [size={len}] host {code:p} first tier (entry {:p})\n{}\n",
                    tb.entry().unwrap_or(code),
                    disassemble_host(bytes, code as u64)
                );
                self.config.log.write(&out);
            }
        }
        if let Some(t0) = t0 {
            Counters::add(&counters.translate_ns, t0.elapsed().as_nanos() as u64);
        }
        Ok(tb)
    }

    /// Compiles `tb` with Cranelift into `generation`'s code cache and
    /// publishes its code (see [`compile_tb`]).
    fn compile(&self, generation: &Generation, tb: &Tb, counters: &Counters) -> Result<*const u8> {
        compile_tb(
            &self.backend,
            &self.config,
            generation,
            tb,
            counters,
            usize::MAX,
            Some(self.user_code()),
            compile::Publish::OnVcpu,
        )?
        .ok_or_else(|| {
            Error::Codegen(format!(
                "the code of TB {:#x} changed under its compile",
                tb.pc
            ))
        })
    }

    /// Queues hot `tb` (claimed) for the compile thread, starting the
    /// thread if this process has none; gives the claim back when the
    /// queue is full.
    fn queue_compile(&self, generation: &Arc<Generation>, tb: &Tb) -> Result<()> {
        if let Some(f) = self.compiles.failure() {
            return Err(Error::Codegen(f));
        }
        let queued = self
            .compiles
            .push(tb.arc(), generation.clone(), || self.spawn_compiler())
            .map_err(Error::Host)?;
        if !queued {
            tb.unclaim_compile();
        } else if self.config.wait_for_compiles {
            self.compiles.wait_idle();
        }
        Ok(())
    }

    /// Starts the compile thread, with every signal blocked (guest signals
    /// are delivered on vCPU threads only).
    fn spawn_compiler(&self) -> std::io::Result<()> {
        let (backend, config, cache, queue, space, unspeculated) = (
            self.backend.clone(),
            self.config.clone(),
            self.cache.clone(),
            self.compiles.clone(),
            self.space.clone(),
            self.unspeculated.clone(),
        );
        // SAFETY: plain signal-mask manipulation of this thread; the old
        // mask is restored below, and the new thread inherits the full one.
        let old = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            old
        };
        let r = std::thread::Builder::new()
            .name("cranemu-compile".into())
            .spawn(move || {
                queue.run(
                    &cache,
                    |generation, tb, counters, backlog, recompile| {
                        let worker = compile::Worker {
                            backend: &backend,
                            config: &config,
                            cache: &cache,
                            queue: &queue,
                            space: Some(UserCode {
                                space: &space,
                                unspeculated: &unspeculated,
                            }),
                        };
                        worker.job(generation, tb, counters, backlog, recompile)
                    },
                    || {},
                )
            });
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        r.map(|_| ())
    }

    fn log_block(&self, tb: &cranemu_frontend::translate::TranslatedBlock) {
        log_translated(&self.config.log, tb);
    }

    /// Runs the guest from `cpu.pc` until it traps or is interrupted.
    ///
    /// # Errors
    /// [`Error`] only for failures of the emulator itself (code generation,
    /// host memory); guest faults are [`Exit::Trap`].
    pub fn run(&self, cpu: &mut CpuState) -> Result<Exit> {
        if let Some(f) = self.compiles.failure() {
            return Err(Error::Codegen(f));
        }
        let counters = self.cache.thread_counters();
        let icount = cpu.icount;
        let r = self.run_loop(cpu, &counters);
        if self.config.count_insns {
            Counters::add(&counters.retired_insns, cpu.icount.wrapping_sub(icount));
        }
        r
    }

    /// [`Engine::run`]'s loop over cache generations.
    fn run_loop(&self, cpu: &mut CpuState, counters: &Arc<Counters>) -> Result<Exit> {
        loop {
            let generation = self.cache.current();
            let saved = RUNNING.with(|r| {
                r.replace((
                    self as *const Engine,
                    Arc::as_ptr(&generation),
                    Arc::as_ptr(counters),
                ))
            });
            let r = self.run_generation(&generation, cpu, counters);
            RUNNING.with(|r| r.set(saved));
            match r? {
                Some(exit) => return Ok(exit),
                None => continue,
            }
        }
    }

    /// Runs TBs of one generation. `Ok(None)` means the cache moved to a
    /// new generation and the caller should continue with it.
    fn run_generation(
        &self,
        generation: &Arc<Generation>,
        cpu: &mut CpuState,
        counters: &Counters,
    ) -> Result<Option<Exit>> {
        // The exit slot whose TB jumped to `cpu.pc`, to chain once the
        // target is compiled.
        let mut from_slot: Option<*const Slot> = None;
        // The first tier's value array, for every block this call runs.
        let mut vals = cranemu_ir::baseline::Values::new();
        let jc = jump_cache();
        // SAFETY: this thread's; only its address escapes, and only to
        // translated code running on this thread.
        cpu.jump_cache = unsafe { (*jc).entries.as_ptr() as u64 };
        loop {
            let flags = cpu.tb_flags();
            let (code, tb) = match self.lookup(jc, generation, cpu.pc, flags, counters) {
                Lookup::Code(code, tb) => (code, tb),
                found => {
                    let tb = match found {
                        Lookup::Cold(tb) => tb,
                        _ => match self.translate_missing(generation, cpu.pc, flags, counters)? {
                            Some(tb) => {
                                let tb = Arc::as_ptr(&tb);
                                fill_cold(jc, cpu.pc, flags, tb);
                                tb
                            }
                            None => return Ok(None),
                        },
                    };
                    // SAFETY: a TB of `generation`, which we hold: its map
                    // or its retired list keeps the TB alive (tbcache
                    // invariant 3).
                    let tb = unsafe { &*tb };
                    if let Some(code) = tb.entry() {
                        // Just translated, with first-tier code, which
                        // counts its own runs.
                        (code, tb as *const Tb)
                    } else {
                        let threshold = self.config.jit_threshold;
                        let n = count_cold(jc, jump_cache_index(cpu.pc, flags), tb, threshold);
                        // One vCPU claims a hot TB; the others go on
                        // interpreting it meanwhile rather than compile it too
                        // or wait. With a threshold the compile thread
                        // compiles it (this vCPU interprets it until the code
                        // is published); with none, the vCPU compiles it now.
                        let hot = n >= threshold && tb.claim_compile();
                        if hot && threshold == 0 {
                            (self.compile(generation, tb, counters)?, tb as *const Tb)
                        } else if let Some(code) = {
                            if hot {
                                self.queue_compile(generation, tb)?;
                            }
                            tb.code()
                        } {
                            (code, tb as *const Tb)
                        } else {
                            from_slot = None;
                            match self.interpret(tb, cpu, counters, &mut vals) {
                                Step::Continue => continue,
                                // A flush may have replaced the generation; the
                                // jump cache is checked at the next lookup.
                                Step::Resync => {
                                    if !self.cache.is_current(generation) {
                                        return Ok(None);
                                    }
                                    continue;
                                }
                                Step::Exit(e) => return Ok(Some(e)),
                            }
                        }
                    }
                }
            };
            if let Some(slot) = from_slot.take() {
                // SAFETY: `slot` is an exit slot of a TB of `generation`
                // (the backend's exit protocol), and `tb` a TB of it; we
                // hold `generation`.
                unsafe { self.cache.chain(slot, tb, counters) };
            }
            // SAFETY: `code` and the trampoline belong to `generation`,
            // which we hold; `cpu` is this vCPU's state.
            enter_guest_fp(cpu);
            let t0 = self.config.profile.then(Instant::now);
            let r = unsafe { exec::enter(cpu, code, generation.trampoline, self.guest_range()) };
            if let Some(t0) = t0 {
                Counters::add(&counters.jit_ns, t0.elapsed().as_nanos() as u64);
                Counters::bump(&counters.jit_entries);
            }
            leave_guest_fp(cpu);
            generation.resolve_fault_pc(cpu);
            let exit = ExitCode::from_raw(r);
            if let Some(trap) = exit.and_then(|e| trap_of_exit(e, cpu)) {
                if trap.cause == Exception::LoadPageFault && trap.pc & SPECULATIVE_PC != 0 {
                    self.unspeculate(cpu, trap.pc, counters);
                    continue;
                }
                if trap.cause == Exception::StorePageFault
                    && self.space.is_guest_writable(trap.tval)
                {
                    // A store to a page holding translated code (or that
                    // held it until another thread's store to it released
                    // it after this one faulted): invalidate that code and
                    // run the store again (it has not happened: `cpu` is
                    // as before the instruction), on its own and read
                    // unwatched (`fetch::translate_one`: a store into its
                    // own page would fault for ever). The interpreter's
                    // store takes the checked path if it faults, which
                    // gives the guest its fault if the page faults for
                    // another reason.
                    if self.space.release_code(trap.tval, 1) {
                        Counters::bump(&counters.smc_faults);
                    }
                    let ir =
                        fetch::translate_one(&self.space, &self.config, cpu.pc, cpu.tb_flags());
                    let one = Tb::new(ir, cpu.pc, &[], 0, true, None);
                    match self.run_interpreted(&one, cpu, counters, &mut vals) {
                        Step::Continue => continue,
                        Step::Resync if self.cache.is_current(generation) => continue,
                        Step::Resync => return Ok(None),
                        Step::Exit(e) => return Ok(Some(e)),
                    }
                }
                return Ok(Some(Exit::Trap(trap)));
            }
            match exit {
                Some(ExitCode::Hot) => {
                    // First-tier code reached the JIT threshold at its
                    // entry (`pc` is its TB's): queue the TB, and enter
                    // it again (its counter is past the threshold now).
                    if let Some(tb) = generation.get_ptr(cpu.pc, cpu.tb_flags(), cpu.pc) {
                        // SAFETY: a TB of `generation`, which we hold.
                        let tb = unsafe { &*tb };
                        if tb.code().is_none() && tb.claim_compile() {
                            self.queue_compile(generation, tb)?;
                        }
                    }
                }
                Some(ExitCode::Interrupt) => {
                    if cpu.take_exit_request() {
                        return Ok(Some(Exit::Interrupted));
                    }
                    // Only a resynchronization with the cache: the lookup
                    // checks the epoch; the generation may have changed.
                    if !self.cache.is_current(generation) {
                        return Ok(None);
                    }
                }
                Some(ExitCode::ExitFlush) => {
                    // `fence.i`: only code in shared memory can have been
                    // written unseen (see the module doc).
                    self.space.release_shared_code();
                    if !self.cache.is_current(generation) {
                        return Ok(None);
                    }
                }
                Some(ExitCode::Exit) | Some(ExitCode::NoChain) => {
                    if !self.cache.is_current(generation) {
                        return Ok(None);
                    }
                }
                // A direct exit that was not chained yet: chain it when its
                // target has code.
                None => {
                    let slot = r as usize as *const Slot;
                    // SAFETY: an exit slot of a TB of `generation`, which
                    // we hold (its map or retired list keeps the TB).
                    // First-tier code does not write `pc` at a direct exit.
                    cpu.pc = unsafe { (*slot).pc };
                    from_slot = Some(slot);
                }
                // Traps were handled above.
                Some(_) => {}
            }
        }
    }

    /// Runs `tb` once in the first tier (the reference interpreter for a
    /// block the first tier cannot lower).
    fn interpret(
        &self,
        tb: &Tb,
        cpu: &mut CpuState,
        counters: &Counters,
        vals: &mut cranemu_ir::baseline::Values,
    ) -> Step {
        // A load first: the swap is a locked instruction, and requests
        // are rare (translated code polls with a plain load too).
        let request = match cpu.exit_request.load(Ordering::SeqCst) {
            0 => 0,
            _ => cpu.exit_request.swap(0, Ordering::SeqCst),
        };
        if request & CpuState::EXIT_EXTERNAL != 0 {
            return Step::Exit(Exit::Interrupted);
        }
        if request & CpuState::EXIT_SYNC != 0 {
            return Step::Resync;
        }
        self.run_interpreted(tb, cpu, counters, vals)
    }

    /// [`Engine::interpret`] without the check of `exit_request` first:
    /// `tb` runs (a store to code run alone must, or it would meet the
    /// request that its own invalidation made each time).
    fn run_interpreted(
        &self,
        tb: &Tb,
        cpu: &mut CpuState,
        counters: &Counters,
        vals: &mut cranemu_ir::baseline::Values,
    ) -> Step {
        Counters::bump_own(&counters.interpreted_blocks);
        let mut mem = InterpMemory(&self.space);
        let reference = self.config.reference_interpreter;
        let fp = tb.cold_needs_fp_env(reference);
        if fp {
            enter_guest_fp(cpu);
        }
        let helpers = cranemu_frontend::helpers::HELPERS;
        let t0 = self.config.profile.then(Instant::now);
        // SAFETY: `CpuState` is `repr(C)` plain data; the slice covers it
        // exactly and is the only access to it during the call. The helper
        // table is the one the translator emits calls for, and its helpers
        // take a pointer to exactly this state.
        let outcome = unsafe {
            let bytes = std::slice::from_raw_parts_mut(
                (cpu as *mut CpuState).cast::<u8>(),
                std::mem::size_of::<CpuState>(),
            );
            tb.run_cold(reference, bytes, &mut mem, helpers, vals)
        };
        if let Some(t0) = t0 {
            Counters::add(&counters.interp_ns, t0.elapsed().as_nanos() as u64);
        }
        if fp {
            leave_guest_fp(cpu);
        }
        let trap = |cpu: &mut CpuState, cause, tval, pc| {
            cpu.pc = pc;
            Step::Exit(Exit::Trap(Trap { cause, tval, pc }))
        };
        match outcome {
            interp::Outcome::Next(pc) => {
                cpu.pc = pc;
                Step::Continue
            }
            // `fence.i` (`flush`): writes to code invalidated it already,
            // except writes to shared memory through another mapping (see
            // the module doc).
            interp::Outcome::Exit { pc, flush } => {
                if flush {
                    self.space.release_shared_code();
                }
                cpu.pc = pc;
                Step::Continue
            }
            interp::Outcome::Trap { cause, tval, pc } => trap(
                cpu,
                Exception::from_code(cause).unwrap_or(Exception::IllegalInstruction),
                tval,
                pc,
            ),
            interp::Outcome::MemFault {
                addr,
                store,
                misaligned,
                pc,
            } => {
                if !store && pc & SPECULATIVE_PC != 0 {
                    self.unspeculate(cpu, pc, counters);
                    return Step::Continue;
                }
                let cause = match (store, misaligned) {
                    (false, false) => Exception::LoadPageFault,
                    (true, false) => Exception::StorePageFault,
                    (false, true) => Exception::LoadAddressMisaligned,
                    (true, true) => Exception::StoreAddressMisaligned,
                };
                trap(cpu, cause, addr, pc)
            }
        }
    }

    /// The host code and TB for (`pc`, `flags`) in `generation`, if that
    /// TB is compiled: the per-thread jump cache first (cleared first if
    /// the cache's epoch changed), then the shared map.
    fn lookup(
        &self,
        jc: *mut JumpCache,
        generation: &Generation,
        pc: u64,
        flags: u64,
        counters: &Counters,
    ) -> Lookup {
        let epoch = (self.cache.epoch(), generation.id);
        let i = jump_cache_index(pc, flags);
        let cached = {
            // SAFETY: this thread's jump cache (see `jump_cache`); the
            // reference ends with this block.
            let jc = unsafe { &mut *jc };
            if jc.epoch != epoch {
                jc.empty(jc.epoch.1 == generation.id);
                jc.epoch = epoch;
            }
            let e = jc.entries[i];
            if e.pc == pc && e.flags == flags {
                Counters::bump_own(&counters.jc_hits);
                return Lookup::Code(e.code as *const u8, e.tb as *const Tb);
            }
            let e = jc.cold[i];
            (e.pc == pc && e.flags == flags).then_some(e.tb as *const Tb)
        };
        let (tb, in_cold) = match cached {
            Some(tb) => {
                Counters::bump_own(&counters.jc_hits);
                (tb, true)
            }
            None => {
                let Some(tb) = generation.get_ptr(pc, flags, pc) else {
                    return Lookup::Miss;
                };
                Counters::bump_own(&counters.map_hits);
                (tb, false)
            }
        };
        // SAFETY: a TB of `generation` (alive as long as it is, see
        // `Lookup`), which the caller holds.
        let Some(code) = (unsafe { (*tb).entry() }) else {
            if !in_cold {
                fill_cold(jc, pc, flags, tb);
            }
            return Lookup::Cold(tb);
        };
        // SAFETY: as above.
        let jc = unsafe { &mut *jc };
        jc.fill(
            i,
            JumpCacheEntry {
                pc,
                flags,
                code: code as usize,
                tb: tb as usize,
            },
        );
        Lookup::Code(code, tb)
    }

    /// Drops every translated block, in every vCPU. Not needed for guest
    /// writes to code, which invalidate just what they change; for tools
    /// and tests. Safe to call from any thread; every registered vCPU
    /// ([`Engine::register_vcpu`]) leaves the old code at its next block
    /// boundary.
    ///
    /// # Errors
    /// [`Error::Host`] if executable memory for the new cache generation
    /// cannot be mapped.
    pub fn flush(&self) -> Result<()> {
        let counters = self.cache.thread_counters();
        self.cache.flush(&counters).map_err(Error::Host)
    }

    /// Runs `f` (a host `fork()`) with every lock of the engine held, so
    /// that the child, which has only the calling thread, does not inherit
    /// a lock that another vCPU thread held at that moment (it would wait on
    /// it forever). Other vCPUs keep running their translated code
    /// meanwhile; they block only if they need the engine.
    ///
    /// Lock order: the cache's index lock, its current generation and that
    /// generation's internals, the registries, then the guest space's page
    /// map, the compile queue and the perf map.
    pub fn quiesced<R>(&self, f: impl FnOnce() -> R) -> R {
        let _counters = self.cache.thread_counters();
        // SAFETY: getpid takes no arguments and cannot fail.
        let pid = unsafe { libc::getpid() };
        let r = self.cache.quiesced(|| {
            let map = self.space.lock_for_fork();
            let queue = self.compiles.lock_for_fork();
            let perf = self.config.log.perfmap.as_ref().map(|p| p.lock_for_fork());
            let r = f();
            drop(perf);
            drop(queue);
            drop(map);
            r
        });
        // SAFETY: as above.
        if unsafe { libc::getpid() } != pid {
            // The child: the compile thread did not come along; the child
            // starts its own only if it lives a while (see compileq.rs).
            self.compiles.defer_after_fork();
        }
        r
    }

    /// Registers the vCPU whose state is `cpu`, so that changes to the
    /// translation cache (and [`Engine::kick_all`]) make it leave
    /// translated code at once, instead of at its next return to the
    /// execution loop.
    ///
    /// # Safety
    /// `cpu` must stay alive, at this address, until the registration is
    /// dropped.
    pub unsafe fn register_vcpu(&self, cpu: *const CpuState) -> VcpuRegistration<'_> {
        self.cache.register(cpu as usize);
        VcpuRegistration {
            engine: self,
            cpu: cpu as usize,
        }
    }

    /// Asks every registered vCPU to leave translated code at its next
    /// block boundary: its [`Engine::run`] returns [`Exit::Interrupted`].
    pub fn kick_all(&self) {
        self.cache.kick_all(true);
    }

    /// Translation and cache statistics so far, summed over every thread
    /// that ran this engine's code.
    pub fn stats(&self) -> Stats {
        let mut total = self.compiles.counters.snapshot();
        for v in self.cache.thread_stats() {
            total.accumulate(&v.stats);
        }
        total
    }

    /// The statistics of the compile thread (its Cranelift compiles of
    /// hot TBs; see [`EngineConfig::jit_threshold`]). [`Engine::stats`] is
    /// these plus the sum of [`Engine::vcpu_stats`].
    pub fn compile_stats(&self) -> Stats {
        self.compiles.counters.snapshot()
    }

    /// The statistics of each thread that ran this engine's code (each
    /// vCPU), in the order they started.
    pub fn vcpu_stats(&self) -> Vec<VcpuStats> {
        self.cache.thread_stats()
    }
}

/// Where translated code finds the fields of [`CpuState`] it uses itself.
fn state_layout() -> StateLayout {
    StateLayout {
        pc: CpuState::OFFSET_PC,
        exit_request: CpuState::OFFSET_EXIT_REQUEST,
        fault_addr: CpuState::OFFSET_FAULT_ADDR,
        trap_cause: CpuState::OFFSET_TRAP_CAUSE,
        fault_host_pc: CpuState::OFFSET_FAULT_HOST_PC,
        fp_sink: CpuState::OFFSET_FP_SINK,
        jump_cache: CpuState::OFFSET_JUMP_CACHE,
    }
}

/// Writes the `-d in_asm` and `-d op` logs of a translated block.
fn log_translated(log: &LogConfig, tb: &cranemu_frontend::translate::TranslatedBlock) {
    use std::fmt::Write as _;
    let mut out = String::new();
    if log.in_asm {
        let _ = writeln!(out, "IN: {:#x}", tb.ir.pc);
        for (pc, insn) in &tb.insns {
            let _ = writeln!(
                out,
                "{pc:#010x}:  {:0w$x}  {}",
                insn.raw,
                cranemu_frontend::disasm::disassemble(insn),
                w = insn.len as usize * 2
            );
        }
        out.push('\n');
    }
    if log.op {
        let _ = writeln!(out, "OP:\n{}", tb.ir);
    }
    log.write(&out);
}

/// `n` unchained exit slots.
fn empty_slots(n: usize) -> Box<[AtomicPtr<u8>]> {
    (0..n)
        .map(|_| AtomicPtr::new(std::ptr::null_mut()))
        .collect()
}

/// The trap an exit of translated code reports, if it is one (the backend's
/// exit protocol: the cause comes from the code, `tval` from `fault_addr`,
/// the pc from `cpu.pc`).
fn trap_of_exit(exit: ExitCode, cpu: &CpuState) -> Option<Trap> {
    let cause = match exit {
        ExitCode::Trap => {
            Exception::from_code(cpu.trap_cause).unwrap_or(Exception::IllegalInstruction)
        }
        ExitCode::LoadFault => Exception::LoadPageFault,
        ExitCode::StoreFault => Exception::StorePageFault,
        ExitCode::LoadMisaligned => Exception::LoadAddressMisaligned,
        ExitCode::StoreMisaligned => Exception::StoreAddressMisaligned,
        _ => return None,
    };
    Some(Trap {
        cause,
        tval: cpu.fault_addr,
        pc: cpu.pc,
    })
}

/// Disassembles x86-64 host code for `-d out_asm`.
fn disassemble_host(code: &[u8], addr: u64) -> String {
    use capstone::prelude::*;
    use std::fmt::Write as _;
    let cs = match Capstone::new()
        .x86()
        .mode(arch::x86::ArchMode::Mode64)
        .build()
    {
        Ok(cs) => cs,
        Err(e) => return format!("  (capstone: {e})\n"),
    };
    let mut out = String::new();
    match cs.disasm_all(code, addr) {
        Ok(insns) => {
            for i in insns.iter() {
                let _ = writeln!(
                    out,
                    "  {:#x}:  {} {}",
                    i.address(),
                    i.mnemonic().unwrap_or(""),
                    i.op_str().unwrap_or("")
                );
            }
        }
        Err(e) => {
            let _ = writeln!(out, "  (capstone: {e})");
        }
    }
    out
}
