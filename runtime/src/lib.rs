//! The execution side of cranemu: the shared translation cache, the
//! execution loop, and exits returned as data.
//!
//! A vCPU thread calls [`Engine::run`] with its [`CpuState`]; the engine
//! looks blocks up (per-vCPU jump cache, then the shared cache keyed by
//! pc and flags), translates on a miss, and runs translated code until the
//! guest traps. The runtime knows nothing about Linux: an `ecall` is a
//! [`Trap`] with cause [`Exception::EcallFromU`], handed back to the caller.

#![deny(missing_docs)]

use std::io::Write;
use std::sync::Arc;

pub use cranemu_frontend::{CpuState, Exception, Trap};
use cranemu_softmmu::user::GuestSpace;

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
    pub sink: Option<Arc<parking_lot::Mutex<Box<dyn Write + Send>>>>,
}

/// Options fixed for the lifetime of an [`Engine`].
#[derive(Clone, Default)]
pub struct EngineConfig {
    /// Count retired guest instructions in `CpuState::icount`.
    pub count_insns: bool,
    /// Translation logging.
    pub log: LogConfig,
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

/// Translation statistics, for the benchmarks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Blocks translated.
    pub blocks: u64,
    /// Guest instructions translated.
    pub guest_insns: u64,
    /// Time spent translating (decode, IR, Cranelift), in ns.
    pub translate_ns: u64,
}

/// The shared translation engine for one guest address space.
pub struct Engine {
    _space: Arc<GuestSpace>,
    _config: EngineConfig,
}

impl Engine {
    /// Creates an engine that runs code from `space`.
    ///
    /// # Errors
    /// [`Error::Host`] if executable memory or the host fault handler cannot
    /// be set up.
    pub fn new(space: Arc<GuestSpace>, config: EngineConfig) -> Result<Engine> {
        Ok(Engine { _space: space, _config: config })
    }

    /// Runs the guest from `cpu.pc` until it traps or is interrupted.
    pub fn run(&self, _cpu: &mut CpuState) -> Exit {
        todo!("execution loop")
    }

    /// Drops every translated block (after `fence.i`, or when code pages
    /// are unmapped or remapped). Safe to call from any thread.
    pub fn flush(&self) {}

    /// Translation statistics so far.
    pub fn stats(&self) -> Stats {
        Stats::default()
    }
}
