//! Full-system emulation: the harts of a `virt` machine running on the
//! shared translator and backend, with a softmmu memory path.
//!
//! (Under construction: the API below is what the `cranemu system`
//! command drives.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cranemu_hw::virt::VirtMachine;

use crate::{EngineConfig, Error, Result, Stats};

/// Options of a system run, besides the machine.
#[derive(Clone, Default)]
pub struct SystemConfig {
    /// Translation options shared with user mode.
    pub engine: EngineConfig,
    /// `-d int`: log every trap and interrupt taken.
    pub log_int: bool,
    /// `-d mmu`: log page-table walks that fault and TLB flushes.
    pub log_mmu: bool,
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
pub struct QuitHandle(Arc<AtomicBool>);

impl QuitHandle {
    /// Makes [`SystemEngine::run`] return [`MachineExit::Quit`] within a
    /// bounded time, whatever the guest is doing (running, in `wfi`, in a
    /// loop with interrupts off).
    pub fn quit(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A machine and the engine that runs its harts.
pub struct SystemEngine {
    machine: VirtMachine,
    config: SystemConfig,
    quit: Arc<AtomicBool>,
}

impl SystemEngine {
    /// Prepares to run `machine` (its harts start as
    /// [`VirtMachine::hart_boot`] says).
    ///
    /// # Errors
    /// [`Error::Codegen`] if Cranelift cannot target this host,
    /// [`Error::Host`] if executable memory cannot be mapped.
    pub fn new(machine: VirtMachine, config: SystemConfig) -> Result<SystemEngine> {
        Ok(SystemEngine {
            machine,
            config,
            quit: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A handle that stops [`SystemEngine::run`].
    pub fn quit_handle(&self) -> QuitHandle {
        QuitHandle(self.quit.clone())
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
        let _ = &self.config;
        Err(Error::Host("system emulation is not wired yet".into()))
    }

    /// Translation, cache and softmmu statistics so far.
    pub fn stats(&self) -> Stats {
        Stats::default()
    }
}
