//! Entering and leaving translated code, and turning host faults inside it
//! into guest faults.
//!
//! [`enter`] is a small assembly shim: it saves the host's callee-saved
//! registers, records the host stack pointer in `CpuState::host_sp`, and
//! calls the Cranelift entry trampoline, which calls the TB. Translated code
//! leaves normally by returning an exit value. When a guest access hits an
//! unmapped or protected page, the host raises SIGSEGV inside translated
//! code; [`fault_handler`] then rewrites the signal context so that the
//! thread resumes in `cranemu_fault_landing` with the stack pointer from
//! `host_sp` and the fault's exit code in `rax`, which unwinds the JIT
//! frames exactly as a return from [`enter`] would.
//!
//! Pitfall: the handler must tell faults of the guest from bugs of the
//! emulator. It acts only while the faulting thread is inside [`enter`]
//! (a thread-local pointer is set) and only for addresses in the guest
//! region; anything else gets the default action, so a host bug still
//! crashes loudly. One exception: a SIGSEGV sent by this process itself
//! with `tgkill` (`SI_TKILL`) is not a fault but a wake-up (Linux user mode
//! interrupts a thread's blocking host system call that way to deliver it
//! a guest signal), and the handler just returns; one that another
//! process sent (`kill -SEGV`) goes to [`forward_sent_fault_signals`]'s
//! handler, which gives it to the guest. Another: a fault of
//! softmmu's page probe (`cranemu_softmmu::user::probe_fixup`), which the
//! handler sends to the probe's failure return.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use cranemu_backend::ExitCode;
use cranemu_frontend::CpuState;
use cranemu_softmmu::user::probe_fixup;

core::arch::global_asm!(
    ".globl cranemu_enter_jit",
    ".p2align 4",
    "cranemu_enter_jit:",
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    "mov [rdi + {host_sp}], rsp",
    // The guest base, in the register Cranelift's code expects it in
    // (`BackendConfig::guest_base`).
    "mov r15, rcx",
    "call rdx",
    ".globl cranemu_fault_landing",
    "cranemu_fault_landing:",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    host_sp = const CpuState::OFFSET_HOST_SP,
);

unsafe extern "C" {
    fn cranemu_enter_jit(
        cpu: *mut CpuState,
        code: *const u8,
        trampoline: *const u8,
        guest_base: u64,
    ) -> i64;
    fn cranemu_fault_landing();
}

thread_local! {
    /// The CPU state of the translated code this thread is running, or null.
    static JIT_CPU: Cell<*mut CpuState> = const { Cell::new(std::ptr::null_mut()) };
    /// Host address range `[lo, hi)` of the guest region of that code
    /// (its guards included): faults inside it while in translated code
    /// are guest faults, at guest address `host - base` (the third
    /// field). Per thread, since engines over different guest spaces may
    /// run in one process (tests do).
    static JIT_RANGE: Cell<(u64, u64, u64)> = const { Cell::new((0, 0, 0)) };
}

/// Runs the TB at `code` through the entry `trampoline` and returns its
/// exit value (an [`ExitCode`] or an exit-slot address). The caller sets
/// up the guest's float environment first and takes it down after
/// (`enter_guest_fp`, `leave_guest_fp`).
///
/// `guest` is the host address range `[lo, hi)` of the guest region that
/// the code accesses (its guards included) and the host address of guest
/// address 0 (`(0, 0, 0)` in system mode, where code makes no host
/// accesses that may fault). The code runs with that address in `r15`
/// (see `BackendConfig::guest_base`).
///
/// # Safety
/// `code` and `trampoline` must be live code produced by the backend for
/// the guest region `guest`, [`install_fault_handler`] must have run, and
/// `cpu` must be the state that code was translated for.
pub(crate) unsafe fn enter(
    cpu: &mut CpuState,
    code: *const u8,
    trampoline: *const u8,
    guest: (u64, u64, u64),
) -> i64 {
    let p: *mut CpuState = cpu;
    JIT_RANGE.with(|r| r.set(guest));
    JIT_CPU.with(|c| c.set(p));
    // SAFETY: the caller guarantees the code pointers; the shim preserves
    // the System V callee-saved registers on both exits.
    let r = unsafe { cranemu_enter_jit(p, code, trampoline, guest.2) };
    JIT_CPU.with(|c| c.set(std::ptr::null_mut()));
    r
}

/// Installs the SIGSEGV/SIGBUS handler (once per process).
///
/// # Errors
/// A message if `sigaction` fails.
pub(crate) fn install_fault_handler() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        for sig in [libc::SIGSEGV, libc::SIGBUS] {
            // SAFETY: a zeroed sigaction is a valid starting point; the
            // handler is async-signal-safe (it touches only atomics, a
            // const-initialized thread-local and the signal context).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = fault_handler as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO;
                libc::sigemptyset(&mut sa.sa_mask);
                if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                    result = Err(format!("sigaction: {}", std::io::Error::last_os_error()));
                }
            }
        }
    });
    result
}

/// The handler of a fault signal that was sent, not raised by a fault
/// (see [`forward_sent_fault_signals`]): a `SA_SIGINFO` handler's
/// arguments.
pub type SentSignalHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// The [`SentSignalHandler`] as an address; 0 for none.
static SENT_FAULT_SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// Gives `SIGSEGV` and `SIGBUS` that another process sent (`kill`,
/// `sigqueue`, `tgkill`: `si_code` at most 0, where a fault's is
/// positive) to `handler`, called from the fault handler with its
/// arguments: they are signals for the guest, not faults of translated
/// code. Without one (system mode) such a signal ends the process, as its
/// default action does.
pub fn forward_sent_fault_signals(handler: SentSignalHandler) {
    SENT_FAULT_SIGNALS.store(handler as usize, Ordering::SeqCst);
}

/// The x86-64 page-fault error code bit for a write access.
const PF_WRITE: i64 = 1 << 1;

/// `si_code` of a signal sent with `tkill`/`tgkill` (include/uapi/asm-generic/siginfo.h).
const SI_TKILL: libc::c_int = -6;

extern "C" fn fault_handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let (code, pid) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // SAFETY: getpid cannot fail and is async-signal-safe.
    if code == SI_TKILL && pid == unsafe { libc::getpid() } {
        // Not a fault: another thread of ours interrupting this one's host
        // system call (to deliver it a guest signal). Returning is all
        // that is needed: the call fails with EINTR.
        return;
    }
    if code <= 0 {
        // Sent by a process (ours through `kill`, or another), not raised
        // by an access.
        match SENT_FAULT_SIGNALS.load(Ordering::SeqCst) {
            0 => {
                // SAFETY: resetting a disposition and raising are
                // async-signal-safe; the signal, blocked while this
                // handler runs, ends the process once it returns.
                unsafe {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::raise(sig);
                }
            }
            f => {
                // SAFETY: only `forward_sent_fault_signals` stores here,
                // and it stores a `SentSignalHandler`.
                let f: SentSignalHandler = unsafe { std::mem::transmute(f) };
                f(sig, info, ctx);
            }
        }
        return;
    }
    // SAFETY: `ctx` is the ucontext_t of the interrupted thread.
    let gregs = unsafe { &mut (*(ctx as *mut libc::ucontext_t)).uc_mcontext.gregs };
    if let Some(fixup) = probe_fixup(gregs[libc::REG_RIP as usize] as u64) {
        // The emulator probing a guest page (softmmu's guard): resume at
        // the probe's failure return.
        gregs[libc::REG_RIP as usize] = fixup as i64;
        return;
    }
    let cpu = JIT_CPU.with(|c| c.get());
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as u64;
    let (lo, hi, base) = JIT_RANGE.with(|r| r.get());
    if cpu.is_null() || addr < lo || addr >= hi {
        // Not a guest fault: take the default action on return.
        // SAFETY: resetting a disposition is async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
        return;
    }
    // SAFETY: `ctx` is the ucontext_t of the interrupted thread; `cpu` is
    // the live state registered by `enter` on this thread.
    unsafe {
        let uc = &mut *(ctx as *mut libc::ucontext_t);
        let gregs = &mut uc.uc_mcontext.gregs;
        let write = gregs[libc::REG_ERR as usize] & PF_WRITE != 0;
        (*cpu).fault_addr = addr.wrapping_sub(base);
        (*cpu).fault_host_pc = gregs[libc::REG_RIP as usize] as u64;
        let code = if write {
            ExitCode::StoreFault
        } else {
            ExitCode::LoadFault
        };
        gregs[libc::REG_RAX as usize] = code as i64;
        gregs[libc::REG_RSP as usize] = (*cpu).host_sp as i64;
        gregs[libc::REG_RIP as usize] = cranemu_fault_landing as *const () as i64;
    }
}
