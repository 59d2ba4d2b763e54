//! The guest's signal state, and delivery of guest signals to guest
//! handlers (Linux riscv64 semantics, arch/riscv/kernel/signal.c).
//!
//! # Design
//!
//! - **Layering.** `SignalState` is one guest thread's signal state
//!   (blocked mask, alternate stack), with the dispositions and the
//!   sigreturn trampoline that the threads of a process share
//!   (`SharedSignals`). The syscall layer's `Process` (one per guest
//!   thread) owns one; its signal syscalls and its delivery entry points
//!   call in here. Nothing here calls back into the syscall layer.
//! - **Asynchronous signals.** For every signal with a guest handler (other
//!   than the ones the runtime owns, `HOST_OWNED_SIGNALS`) a host handler
//!   (`host_handler`, `SA_SIGINFO`, no `SA_RESTART`) records the signal
//!   with its `siginfo` and sets `exit_request` of the [`CpuState`] that the
//!   host thread it landed on runs ([`set_running_cpu`], per thread), so
//!   translated code returns at the next block boundary, and a blocking
//!   host syscall returns `EINTR`. The host kernel picks the thread (guest
//!   threads are host threads with the guest's masks: a `tgkill` lands on
//!   its target, a process signal on a thread that does not block it), and
//!   the signal is recorded in that thread's pending sets (one for
//!   signals sent to the thread, taken first, as Linux takes a thread's
//!   private queue before the process's, and one for the process's signals
//!   that landed on it). Until the guest
//!   takes it, the signal stays blocked on that host thread (`HELD`), so
//!   that its next occurrences wait in the host kernel, which queues
//!   real-time signals (one entry per `sigqueue` or `kill`, each with its
//!   `siginfo`) and keeps one of a standard signal, as it would for the
//!   guest. A signal the process sends itself that does not queue is
//!   recorded directly: in the thread's set for `tkill`/`tgkill`, else in
//!   the process-wide `PENDING`, which any thread not blocking it takes,
//!   as Linux does.
//! - **Blocking.** The guest's blocked mask is mirrored to the host's
//!   (`SignalState::set_sigmask`): a blocked signal stays pending in the
//!   host kernel until the guest unblocks it. Signals the guest sends itself go
//!   straight to the pending sets and wait there while blocked.
//! - **Delivery points.** The execution loop calls `Process::deliver_pending`
//!   (`SignalState::deliver_pending`) after every syscall and on
//!   `Exit::Interrupted`, and `Process::deliver_trap`
//!   (`SignalState::deliver_trap`) for a trap other than `ecall`. Delivery
//!   builds the kernel's `rt_sigframe` on the guest stack (or the alternate
//!   stack) and enters the handler with `ra` at a
//!   one-page sigreturn trampoline (`li a7, 139; ecall`), which plays the
//!   role of the vDSO's `__vdso_rt_sigreturn`.
//! - **Fatal signals.** The top-level process prints the shell's message and
//!   exits with 128 + N; a process that is a guest's child dies of the real
//!   signal, so that the guest parent's `wait4` sees `WIFSIGNALED`.
//!
//! # Pitfalls
//! - The `fcsr` in the frame follows the D layout the kernel writes
//!   (`f[32]` then `fcsr` at byte 256 of the FP area), inside a union sized
//!   for the Q layout (528 bytes).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cranemu_softmmu::sync::Mutex;

use cranemu_frontend::CpuState;
use cranemu_softmmu::user::{GuestSpace, Prot, PAGE_SIZE};

use crate::abi::{self, TargetSigaction};
use crate::Options;

/// Number of signals (`_NSIG`).
pub(crate) const NSIG: usize = 64;

/// Signals the runtime owns on the host (synchronous faults of translated
/// code); the guest's dispositions for them are never mirrored.
pub(crate) const HOST_OWNED_SIGNALS: [i32; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
];

/// Pending process-directed signals the process sent itself, or that the
/// host handler recorded on a host thread that runs no guest (bit `n - 1`
/// for signal `n`): any guest thread that does not block them may take
/// them.
static PENDING: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Pending signals sent to this thread (`SI_TKILL`): by another
    /// thread, which the host delivered here, or by itself with
    /// `tkill`/`tgkill`. Only this thread takes them, before any other.
    /// An atomic, because the host handler runs on this same thread.
    static THREAD_PENDING: AtomicU64 = const { AtomicU64::new(0) };
}

thread_local! {
    /// The `siginfo` of the last occurrence of each signal in this
    /// thread's pending set (as [`INFO`] for the process's).
    static THREAD_INFO: [[AtomicU64; INFO_WORDS]; 64] =
        const { [const { [const { AtomicU64::new(0) }; INFO_WORDS] }; 64] };
    /// The signals the host handler recorded on this thread that the
    /// guest has not taken yet (bit `n - 1` for signal `n`): each stays
    /// blocked on this host thread until taken (the handler adds it to the
    /// mask its `ucontext` restores; [`set_host_mask`] keeps it), so that
    /// further occurrences wait in the host kernel's queue, where
    /// real-time signals queue one entry per `sigqueue`, instead of
    /// overwriting the one recorded here. (QEMU's linux-user blocks every
    /// signal until the guest takes one, `host_signal_handler`.)
    static HELD: AtomicU64 = const { AtomicU64::new(0) };
    /// Process-directed signals the host delivered on this host thread
    /// (any `si_code` but `SI_TKILL`): only this thread takes them (it
    /// holds them, see `HELD`), but after its own (`THREAD_PENDING`) and,
    /// like `PENDING`, lowest first among the process's (Linux dequeues a
    /// thread's private queue before the shared one).
    static THREAD_SHARED: AtomicU64 = const { AtomicU64::new(0) };
    /// The `siginfo` of each signal in `THREAD_SHARED`.
    static THREAD_SHARED_INFO: [[AtomicU64; INFO_WORDS]; 64] =
        const { [const { [const { AtomicU64::new(0) }; INFO_WORDS] }; 64] };
}

/// Every pending set this thread may take from.
fn pending_bits() -> u64 {
    THREAD_PENDING.with(|t| t.load(Ordering::SeqCst))
        | THREAD_SHARED.with(|t| t.load(Ordering::SeqCst))
        | PENDING.load(Ordering::SeqCst)
}

/// Words of `siginfo` kept per signal (48 bytes: signo, errno, code, and
/// the union's pid, uid, status, utime, stime).
const INFO_WORDS: usize = 6;

/// The `siginfo` of the last occurrence of each pending signal (index
/// `signal - 1`); x86-64 and riscv64 share the layout of these fields.
static INFO: [[AtomicU64; INFO_WORDS]; 64] =
    [const { [const { AtomicU64::new(0) }; INFO_WORDS] }; 64];

thread_local! {
    /// The guest CPU this host thread runs, whose `exit_request` the host
    /// handler sets when the signal lands on this thread. (A `const`
    /// thread-local without a destructor: safe to read in a handler.)
    static RUNNING_CPU: Cell<*mut CpuState> = const { Cell::new(std::ptr::null_mut()) };
}

/// `SA_RESTART`.
const SA_RESTART: u64 = 0x1000_0000;
/// `SA_ONSTACK`.
const SA_ONSTACK: u64 = 0x0800_0000;
/// `SA_RESETHAND`.
const SA_RESETHAND: u64 = 0x8000_0000;
/// `SA_NODEFER`.
const SA_NODEFER: u64 = 0x4000_0000;
/// `SS_ONSTACK` (`ss_flags`: running on the alternate stack).
const SS_ONSTACK: u32 = 1;
/// `SS_DISABLE` (`ss_flags`: no alternate stack).
const SS_DISABLE: u32 = 2;
/// `SI_USER`: sent by `kill`.
const SI_USER: i32 = 0;
/// `SI_TKILL`: sent by `tkill`/`tgkill`.
pub(crate) const SI_TKILL: i32 = -6;

/// Size of `struct siginfo`, in bytes.
pub(crate) const SIGINFO_SIZE: usize = 128;
/// Offset of `uc_sigmask` in the riscv64 `struct ucontext`.
const UC_SIGMASK: usize = 40;
/// Offset of `uc_stack` in the riscv64 `struct ucontext`.
const UC_STACK: usize = 16;
/// Offset of `uc_mcontext` (`struct sigcontext`, 16-byte aligned).
const UC_MCONTEXT: usize = 176;
/// Offset of the FP state in `struct sigcontext` (after `sc_regs[32]`).
const SC_FP: usize = 256;
/// Size of `struct sigcontext`: 32 registers and the Q-sized FP union.
const SIGCONTEXT_SIZE: usize = SC_FP + 64 * 8 + 16;
/// Offset of `uc` in `struct rt_sigframe`.
const FRAME_UC: usize = SIGINFO_SIZE;
/// Size of `struct rt_sigframe` (a multiple of 16).
const FRAME_SIZE: usize = FRAME_UC + UC_MCONTEXT + SIGCONTEXT_SIZE;
const _: () = assert!(FRAME_SIZE.is_multiple_of(16) && FRAME_SIZE == 1088);

/// The sigreturn trampoline: `addi a7, x0, 139` then `ecall`.
const TRAMPOLINE: [u32; 2] = [0x08b0_0893, 0x0000_0073];

/// Bit of signal `sig` in a mask.
fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// Signals that cannot be blocked.
pub(crate) const UNBLOCKABLE: u64 = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));

/// True for the syscalls Linux restarts after a handler with `SA_RESTART`
/// (those that return `-ERESTARTSYS` when interrupted; not the sleeps,
/// polls and `rt_sigsuspend`, which return `EINTR` regardless).
fn restartable(n: u64) -> bool {
    use crate::abi::nr::*;
    matches!(
        n,
        READ | WRITE
            | READV
            | WRITEV
            | PREAD64
            | PWRITE64
            | OPENAT
            | IOCTL
            | FCNTL
            | FLOCK
            | WAIT4
            | WAITID
            | FUTEX
            | SENDFILE
            | COPY_FILE_RANGE
    )
}

/// True for a syscall that sleeps until an event or a signal (and that
/// Linux interrupts at once when a signal is pending at entry).
pub(crate) fn would_block(n: u64, a: &[u64; 6]) -> bool {
    use crate::abi::nr::*;
    match n {
        PPOLL | PSELECT6 | NANOSLEEP | CLOCK_NANOSLEEP | EPOLL_PWAIT | EPOLL_PWAIT2 => true,
        WAIT4 => a[2] & libc::WNOHANG as u64 == 0,
        WAITID => a[3] & libc::WNOHANG as u64 == 0,
        _ => false,
    }
}

/// True if a recorded signal is not in `blocked`.
pub(crate) fn has_deliverable(blocked: u64) -> bool {
    pending_bits() & !blocked != 0
}

/// Signals whose default action is to do nothing.
fn default_ignores(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH | libc::SIGCONT
    )
}

/// A running guest thread, for signals one guest thread sends another that
/// cannot travel as host signals (see [`raise_in_thread`]).
struct GuestThread {
    /// Host thread id.
    tid: i32,
    /// Address of the thread's `THREAD_PENDING`.
    pending: usize,
    /// Address of the thread's `THREAD_INFO`.
    info: usize,
    /// Address of its `CpuState`.
    cpu: usize,
}

/// The guest threads running now.
static THREADS: Mutex<Vec<GuestThread>> = Mutex::new(Vec::new());

/// Records `cpu` as the CPU whose `exit_request` a host signal landing on
/// this thread sets, and this thread among the running guest threads (null:
/// none, and no longer running). The pointer must stay valid until it is
/// replaced.
pub fn set_running_cpu(cpu: *mut CpuState) {
    if cpu.is_null() {
        hand_back_process_signals();
    }
    RUNNING_CPU.with(|c| c.set(cpu));
    // SAFETY: gettid cannot fail.
    let tid = unsafe { libc::gettid() };
    let mut threads = THREADS.lock();
    threads.retain(|t| t.tid != tid);
    if !cpu.is_null() {
        threads.push(GuestThread {
            tid,
            pending: THREAD_PENDING.with(|p| p as *const AtomicU64 as usize),
            info: THREAD_INFO.with(|i| i as *const _ as usize),
            cpu: cpu as usize,
        });
    }
}

/// A guest thread stops running: it takes no more signals (all but the
/// runtime's own are blocked on its host thread), and the process's
/// signals recorded on it and not taken (`THREAD_SHARED`) go back to the
/// host kernel with their `siginfo` (`rt_sigqueueinfo` to the process,
/// which allows any `si_code` to oneself), which gives them to a thread
/// that does not block them, as Linux does with a shared signal whose
/// thread exits. Its own signals (`THREAD_PENDING`) die with it, as a
/// thread's private ones do.
fn hand_back_process_signals() {
    let mut all = !0u64;
    for s in HOST_OWNED_SIGNALS {
        all &= !bit(s);
    }
    let hs = host_sigset(all);
    // SAFETY: a valid set; the old mask is not needed.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &hs, std::ptr::null_mut()) };
    HELD.with(|h| h.store(0, Ordering::SeqCst));
    let shared = THREAD_SHARED.with(|t| t.swap(0, Ordering::SeqCst));
    for sig in (1..=64).filter(|&s| shared & bit(s) != 0) {
        let info = THREAD_SHARED_INFO.with(|i| info_bytes(sig, &i[(sig - 1) as usize]));
        // SAFETY: info is a live 128-byte siginfo; getpid cannot fail.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigqueueinfo,
                libc::getpid(),
                sig,
                info.as_ptr(),
            )
        };
    }
}

/// Whether `tid` is a running guest thread of this process.
pub(crate) fn is_guest_thread(tid: i32) -> bool {
    THREADS.lock().iter().any(|t| t.tid == tid)
}

/// Makes `sig` pending for the guest thread `tid` of this process and asks
/// it to leave translated code: for the signals the runtime owns on the
/// host ([`HOST_OWNED_SIGNALS`], its fault signals), which one guest thread
/// may still send another with a handler for them. The target takes it at
/// its next block boundary or system call.
///
/// # Errors
/// `ESRCH` if no running guest thread has that id.
pub(crate) fn raise_in_thread(tid: i32, sig: i32) -> Result<(), i32> {
    let threads = THREADS.lock();
    let t = threads.iter().find(|t| t.tid == tid).ok_or(libc::ESRCH)?;
    // SAFETY: registered addresses stay valid while their thread is in
    // THREADS (it leaves before its thread-locals and state go away), and
    // we hold the lock.
    unsafe {
        let info = &*(t.info as *const [[AtomicU64; INFO_WORDS]; 64]);
        record_info(&info[(sig - 1) as usize], &self_sent_info(sig, SI_TKILL));
        (*(t.pending as *const AtomicU64)).fetch_or(bit(sig), Ordering::SeqCst);
        (*(t.cpu as *const CpuState)).request_exit();
    }
    // The target may be blocked in a host system call, which the request
    // alone does not end: a SIGSEGV of our own (`SI_TKILL` from this
    // process, which the runtime's fault handler ignores) interrupts it
    // with EINTR, and the target then delivers the pending signal (or
    // restarts the call, as the guest's SA_RESTART says).
    // SAFETY: tgkill takes no pointers; the target is a live thread of ours
    // (we hold the registry lock, which it leaves only before it ends).
    unsafe {
        libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGSEGV);
    }
    Ok(())
}

/// The host handler of a signal with a guest handler: records it and asks
/// the running guest to stop at the next block boundary.
///
/// On a guest thread the signal is recorded in one of the thread's own
/// pending sets (the host kernel chose this thread because its mask, the
/// guest's, lets the signal in): `THREAD_PENDING` for one sent to the
/// thread (`SI_TKILL`), else `THREAD_SHARED`; and *held* (see `HELD`):
/// the handler returns with it blocked, and the guest taking it unblocks
/// it again ([`release_held`]). On another host thread (none runs
/// unblocked today) it goes to the process's set.
extern "C" fn host_handler(sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    if !(1..=64).contains(&sig) {
        return;
    }
    let mut words = [0u64; INFO_WORDS];
    if info.is_null() {
        words[0] = sig as u32 as u64;
    } else {
        for (i, w) in words.iter_mut().enumerate() {
            // SAFETY: the kernel passes a valid siginfo of at least 128
            // bytes, and i < 6 words.
            *w = unsafe { info.cast::<u64>().add(i).read() };
        }
    }
    let on_guest_thread = RUNNING_CPU.with(|c| !c.get().is_null());
    if on_guest_thread {
        // si_code is the third int of the siginfo.
        if words[1] as u32 as i32 == SI_TKILL {
            THREAD_INFO.with(|i| record_info(&i[(sig - 1) as usize], &words));
            THREAD_PENDING.with(|t| t.fetch_or(bit(sig), Ordering::SeqCst));
        } else {
            THREAD_SHARED_INFO.with(|i| record_info(&i[(sig - 1) as usize], &words));
            THREAD_SHARED.with(|t| t.fetch_or(bit(sig), Ordering::SeqCst));
        }
        if !uc.is_null() && !HOST_OWNED_SIGNALS.contains(&sig) {
            let held = HELD.with(|h| h.fetch_or(bit(sig), Ordering::SeqCst)) | bit(sig);
            // Every held signal, not only this one: the context may be an
            // earlier handler's, which restores a mask from before that
            // signal. (The handler runs with every signal blocked, so no
            // other is recorded meanwhile.)
            // SAFETY: the kernel passes the interrupted context, whose mask
            // it restores when the handler returns; sigaddset only writes
            // that set (and is async-signal-safe).
            unsafe {
                let mask = &mut (*uc.cast::<libc::ucontext_t>()).uc_sigmask;
                for s in 1..=64 {
                    if held & bit(s) != 0 {
                        libc::sigaddset(mask, s);
                    }
                }
            }
        }
    } else {
        record_info(&INFO[(sig - 1) as usize], &words);
        PENDING.fetch_or(bit(sig), Ordering::SeqCst);
    }
    request_exit();
}

/// Stores the first [`INFO_WORDS`] words of a `siginfo` in `slot`.
fn record_info(slot: &[AtomicU64; INFO_WORDS], words: &[u64; INFO_WORDS]) {
    for (w, &v) in slot.iter().zip(words) {
        w.store(v, Ordering::Relaxed);
    }
}

/// The `siginfo` words of a signal this process sends itself with `code`
/// (`SI_USER`, `SI_TKILL`): `si_pid` and `si_uid` are its own.
fn self_sent_info(sig: i32, code: i32) -> [u64; INFO_WORDS] {
    // SAFETY: getpid/getuid cannot fail.
    let (pid, uid) = unsafe { (libc::getpid() as u32, libc::getuid()) };
    let mut w = [0u64; INFO_WORDS];
    w[0] = sig as u32 as u64;
    w[1] = code as u32 as u64;
    w[2] = pid as u64 | (uid as u64) << 32;
    w
}

/// The first [`INFO_WORDS`] words of a 128-byte guest `siginfo`.
pub(crate) fn info_words(b: &[u8; SIGINFO_SIZE]) -> [u64; INFO_WORDS] {
    let mut w = [0u64; INFO_WORDS];
    for (i, w) in w.iter_mut().enumerate() {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i * 8..i * 8 + 8]);
        *w = u64::from_le_bytes(x);
    }
    w
}

/// Sets `exit_request` of the running CPU, if any.
fn request_exit() {
    let cpu = RUNNING_CPU.with(|c| c.get());
    if !cpu.is_null() {
        // SAFETY: `set_running_cpu`'s contract keeps the pointer valid; the
        // field is a u32 that translated code re-reads at each block entry.
        unsafe { (*cpu).request_exit() };
    }
}

/// Installs [`host_handler`] for `sig` (not a runtime-owned signal).
fn install_host_handler(sig: i32) {
    if GLIBC_RESERVED.contains(&sig) {
        set_reserved_disposition(sig, host_handler as *const () as usize);
        return;
    }
    install_handler(sig, host_handler);
}

/// Sets `handler` as the `SA_SIGINFO` host handler of `sig`, with every
/// signal blocked while it runs (see [`host_handler`]). `handler` must be
/// async-signal-safe: both of this file's touch only atomics and the
/// `exit_request` word.
fn install_handler(sig: i32, handler: cranemu_runtime::SentSignalHandler) {
    // SAFETY: sigaction is plain data; the handler is async-signal-safe
    // (the caller's contract).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigfillset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Makes the fault signals that a process *sends* (`kill -SEGV`,
/// `sigqueue`, `tgkill` from elsewhere: `si_code` at most 0) guest
/// signals like any other, recorded by [`host_handler`] and delivered as
/// the guest's disposition says (its handler, ignored, or the default
/// action): `SIGSEGV` and `SIGBUS` through the runtime's fault handler,
/// `SIGILL`, `SIGFPE` and `SIGTRAP` through [`sent_only_handler`]. Before
/// this the first two were swallowed and the others killed the process
/// past the guest's handler. Call once, before the guest runs.
pub(crate) fn take_sent_fault_signals() {
    cranemu_runtime::forward_sent_fault_signals(host_handler);
    for sig in [libc::SIGILL, libc::SIGFPE, libc::SIGTRAP] {
        install_handler(sig, sent_only_handler);
    }
}

/// The host handler of `SIGILL`, `SIGFPE` and `SIGTRAP`: one that was sent
/// goes to [`host_handler`]; one that an instruction raised is a fault of
/// cranemu itself (translated code raises none: guest traps are found by
/// the translator), which gets the default action, a crash, when the
/// instruction runs again.
extern "C" fn sent_only_handler(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    uc: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let code = if info.is_null() {
        0
    } else {
        unsafe { (*info).si_code }
    };
    if code <= 0 {
        host_handler(sig, info, uc);
    } else {
        // SAFETY: resetting a disposition is async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Signals the host's glibc reserves for itself (`SIGCANCEL` 32,
/// `SIGSETXID` 33) and refuses in `sigaction`. The guest's glibc uses them
/// the same way, between guest threads (thread cancellation, and
/// broadcasting `setuid`/`setgid` to every thread); cranemu itself never
/// cancels a host thread or calls glibc's `setuid` (its syscalls are raw),
/// so their host dispositions are the guest's.
const GLIBC_RESERVED: [i32; 2] = [32, 33];

/// The kernel's `struct sigaction` on x86-64 (`rt_sigaction`'s layout).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// `SA_RESTORER`: `restorer` is the code `rt_sigreturn` returns through.
const SA_RESTORER_FLAG: u64 = 0x0400_0000;

/// Sets the host disposition of a glibc-reserved signal with the raw
/// `rt_sigaction` (glibc's wrapper refuses them): `SIG_DFL`, `SIG_IGN` or
/// `handler` (with `SA_SIGINFO`). The x86-64 kernel returns from a handler
/// through `sa_restorer`; glibc's is borrowed from the disposition it set
/// for `SIGSEGV` (the runtime's fault handler).
fn set_reserved_disposition(sig: i32, handler: usize) {
    let mut segv = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: reads the current SIGSEGV action into a local of the kernel's
    // layout (sigsetsize 8).
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            libc::SIGSEGV,
            std::ptr::null::<KernelSigaction>(),
            &mut segv as *mut KernelSigaction,
            8usize,
        )
    };
    let is_handler = handler != libc::SIG_DFL && handler != libc::SIG_IGN;
    if is_handler && segv.flags & SA_RESTORER_FLAG == 0 {
        return; // No restorer to borrow: leave the default.
    }
    let act = KernelSigaction {
        handler,
        flags: if is_handler {
            libc::SA_SIGINFO as u64 | SA_RESTORER_FLAG
        } else {
            0
        },
        restorer: if is_handler { segv.restorer } else { 0 },
        // Every signal blocked while the handler runs (see `host_handler`).
        mask: if is_handler { !0 } else { 0 },
    };
    // SAFETY: a valid kernel sigaction for a signal nothing else in the
    // process uses (see GLIBC_RESERVED).
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &act as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        )
    };
}

/// Mirrors a guest disposition to the host: `SIG_IGN`/`SIG_DFL` as they
/// are, a handler as [`host_handler`]. Runtime-owned signals are left
/// alone (their guest handlers only run for synchronous traps).
pub(crate) fn mirror_disposition(sig: i32, handler: u64) {
    if HOST_OWNED_SIGNALS.contains(&sig) || sig == libc::SIGKILL || sig == libc::SIGSTOP {
        return;
    }
    match handler {
        abi::SIG_IGN | abi::SIG_DFL => {
            let h = if handler == abi::SIG_IGN {
                libc::SIG_IGN
            } else {
                libc::SIG_DFL
            };
            if GLIBC_RESERVED.contains(&sig) {
                set_reserved_disposition(sig, h);
            } else {
                // SAFETY: plain dispositions for a signal the runtime does
                // not own.
                unsafe { libc::signal(sig, h) };
            }
        }
        _ => install_host_handler(sig),
    }
}

/// Sets the host's blocked mask to `guest` without the runtime-owned
/// signals, and with the signals this thread holds (`HELD`) for
/// `SIG_SETMASK`. `how` is `SIG_SETMASK` or `SIG_BLOCK`.
fn set_host_mask(how: i32, guest: u64) {
    let without_owned = |mut m: u64| {
        for s in HOST_OWNED_SIGNALS {
            m &= !bit(s);
        }
        m
    };
    if how == libc::SIG_SETMASK {
        // Everything blocked first, so that no signal is recorded and held
        // between reading `HELD` and setting the mask without it.
        let all = host_sigset(without_owned(!0));
        // SAFETY: a valid set; the old mask is not needed.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut()) };
    }
    let held = if how == libc::SIG_SETMASK {
        HELD.with(|h| h.load(Ordering::SeqCst))
    } else {
        0
    };
    let hs = host_sigset(without_owned(guest | held));
    // SAFETY: hs is a valid set; the old mask is not needed.
    unsafe { libc::pthread_sigmask(how, &hs, std::ptr::null_mut()) };
}

/// A host `sigset_t` holding the signals of `mask`.
fn host_sigset(mask: u64) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initializes it.
    let mut hs: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: hs is a live local sigset.
    unsafe { libc::sigemptyset(&mut hs) };
    for s in 1..=64i32 {
        if mask & bit(s) != 0 {
            // SAFETY: hs is a live local sigset.
            unsafe { libc::sigaddset(&mut hs, s) };
        }
    }
    hs
}

/// Marks `sig` pending as sent by this process (`kill` to self; `tkill`
/// when `thread`), with `info` (the first [`INFO_WORDS`] words of its
/// `siginfo`) or, without, `si_code` `SI_USER` or `SI_TKILL` and this
/// process as the sender. Signals that do not queue (standard ones, and
/// the runtime's own) take this way; real-time signals go through the
/// host kernel, which queues them.
pub(crate) fn raise_self(sig: i32, thread: bool, info: Option<[u64; INFO_WORDS]>) {
    let code = if thread { SI_TKILL } else { SI_USER };
    let words = info.unwrap_or_else(|| self_sent_info(sig, code));
    if thread {
        THREAD_INFO.with(|i| record_info(&i[(sig - 1) as usize], &words));
        THREAD_PENDING.with(|t| t.fetch_or(bit(sig), Ordering::SeqCst));
    } else {
        record_info(&INFO[(sig - 1) as usize], &words);
        PENDING.fetch_or(bit(sig), Ordering::SeqCst);
    }
    request_exit();
}

/// Forgets the recorded pending signals (a `fork`ed child has none), the
/// held ones (the host mask becomes `guest_mask`) and the parent's guest
/// threads. For the child of a `fork` made under
/// [`SignalState::lock_for_fork`].
pub(crate) fn clear_pending(guest_mask: u64) {
    PENDING.store(0, Ordering::SeqCst);
    THREAD_PENDING.with(|t| t.store(0, Ordering::SeqCst));
    THREAD_SHARED.with(|t| t.store(0, Ordering::SeqCst));
    release_held(!0, guest_mask);
    // The parent's other threads are not the child's; this one registers
    // again when it runs (`set_running_cpu`).
    THREADS.lock().clear();
}

/// Ends this thread's hold (see `HELD`) on the signals of `set`: the host
/// mask becomes `guest_mask` with the signals still held, and the host
/// kernel may deliver their next occurrences. With every signal, before
/// `execve`, so that the new program does not start with them blocked.
pub(crate) fn release_held(set: u64, guest_mask: u64) {
    if HELD.with(|h| h.fetch_and(!set, Ordering::SeqCst)) & set != 0 {
        set_host_mask(libc::SIG_SETMASK, guest_mask);
    }
}

/// Takes the lowest pending signal not in `blocked` with its `siginfo`
/// (128 guest bytes): one directed at this thread first, else one
/// directed at the process. Whoever takes a signal this thread holds must
/// then release it ([`release_held`]).
fn take_pending(blocked: u64) -> Option<(i32, [u8; SIGINFO_SIZE])> {
    if let Some(sig) = THREAD_PENDING.with(|t| take_lowest(t, blocked)) {
        return Some((
            sig,
            THREAD_INFO.with(|i| info_bytes(sig, &i[(sig - 1) as usize])),
        ));
    }
    // The process's signals, lowest first, whichever set holds them.
    loop {
        let here = THREAD_SHARED.with(|t| t.load(Ordering::SeqCst)) & !blocked;
        let ready = here | (PENDING.load(Ordering::SeqCst) & !blocked);
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        if here & bit(sig) != 0 {
            // Only this thread takes from its own set.
            THREAD_SHARED.with(|t| t.fetch_and(!bit(sig), Ordering::SeqCst));
            let info = THREAD_SHARED_INFO.with(|i| info_bytes(sig, &i[(sig - 1) as usize]));
            return Some((sig, info));
        }
        if take_lowest(&PENDING, !bit(sig)) == Some(sig) {
            return Some((sig, info_bytes(sig, &INFO[(sig - 1) as usize])));
        }
        // Another thread took it meanwhile: look again.
    }
}

/// Takes the lowest signal of `set` not in `blocked`.
fn take_lowest(set: &AtomicU64, blocked: u64) -> Option<i32> {
    loop {
        let p = set.load(Ordering::SeqCst);
        let ready = p & !blocked;
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        if set
            .compare_exchange(p, p & !bit(sig), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Some(sig);
        }
    }
}

/// A recorded `siginfo` of `sig` as 128 guest bytes.
fn info_bytes(sig: i32, slot: &[AtomicU64; INFO_WORDS]) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    for (i, w) in slot.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
    }
    b[0..4].copy_from_slice(&sig.to_le_bytes());
    b
}

/// A fault's `siginfo`: signo, code, and `si_addr` at offset 16.
fn fault_info(sig: i32, code: i32, addr: u64) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    b[0..4].copy_from_slice(&sig.to_le_bytes());
    b[8..12].copy_from_slice(&code.to_le_bytes());
    b[16..24].copy_from_slice(&addr.to_le_bytes());
    b
}

/// Builds an `rt_sigframe` image: `info`, then a `ucontext` with the
/// saved registers of `cpu`, `mask` and the alternate stack `altstack`.
fn build_frame(
    cpu: &CpuState,
    info: &[u8; SIGINFO_SIZE],
    mask: u64,
    altstack: (u64, u32, u64),
) -> Vec<u8> {
    let mut f = vec![0u8; FRAME_SIZE];
    f[..SIGINFO_SIZE].copy_from_slice(info);
    let uc = FRAME_UC;
    let put = |f: &mut Vec<u8>, off: usize, v: &[u8]| f[off..off + v.len()].copy_from_slice(v);
    put(&mut f, uc + UC_STACK, &altstack.0.to_le_bytes());
    put(&mut f, uc + UC_STACK + 8, &altstack.1.to_le_bytes());
    put(&mut f, uc + UC_STACK + 16, &altstack.2.to_le_bytes());
    put(&mut f, uc + UC_SIGMASK, &mask.to_le_bytes());
    let mc = uc + UC_MCONTEXT;
    put(&mut f, mc, &cpu.pc.to_le_bytes());
    for i in 1..32 {
        put(&mut f, mc + 8 * i, &cpu.x[i].to_le_bytes());
    }
    for i in 0..32 {
        put(&mut f, mc + SC_FP + 8 * i, &cpu.f[i].to_le_bytes());
    }
    put(&mut f, mc + SC_FP + 256, &(cpu.fcsr as u32).to_le_bytes());
    f
}

/// Restores registers and returns the saved mask from a frame image.
fn restore_frame(cpu: &mut CpuState, f: &[u8]) -> u64 {
    let word = |off: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&f[off..off + 8]);
        u64::from_le_bytes(b)
    };
    let mc = FRAME_UC + UC_MCONTEXT;
    cpu.pc = word(mc);
    for i in 1..32 {
        cpu.x[i] = word(mc + 8 * i);
    }
    for i in 0..32 {
        cpu.f[i] = word(mc + SC_FP + 8 * i);
    }
    cpu.fcsr = word(mc + SC_FP + 256) & 0xff;
    cpu.reservation_addr = u64::MAX;
    word(FRAME_UC + UC_SIGMASK)
}

/// Guest dispositions from the host's: `SIG_IGN` where the host ignores
/// the signal (inherited through `execve`), else `SIG_DFL`.
fn host_ignored_signals() -> [TargetSigaction; NSIG] {
    let mut acts = [TargetSigaction::default(); NSIG];
    for (i, act) in acts.iter_mut().enumerate() {
        // SAFETY: sigaction is plain data; a null new action only reads.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: old is a live local.
        let r = unsafe { libc::sigaction(i as i32 + 1, std::ptr::null(), &mut old) };
        if r == 0 && old.sa_sigaction == libc::SIG_IGN {
            act.handler = abi::SIG_IGN;
        }
    }
    acts
}

/// The host thread's blocked mask as a guest mask.
fn host_sigmask() -> u64 {
    // SAFETY: sigset_t is plain data; pthread_sigmask fills it.
    let mut hs: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new set only reads the mask into hs.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut hs) };
    let mut m = 0u64;
    for s in 1..=64 {
        // SAFETY: hs is a valid set.
        if unsafe { libc::sigismember(&hs, s) } == 1 {
            m |= 1 << (s - 1);
        }
    }
    m
}

/// The pending signals, host and recorded (`rt_sigpending`).
pub(crate) fn pending_set() -> u64 {
    // SAFETY: sigset_t is plain data.
    let mut hs: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: hs is a live local.
    unsafe { libc::sigpending(&mut hs) };
    let mut m = pending_bits();
    for s in 1..=64 {
        // SAFETY: hs is a valid set.
        if unsafe { libc::sigismember(&hs, s) } == 1 {
            m |= bit(s);
        }
    }
    m
}

/// Waits on the host for a signal of `set` (`rt_sigtimedwait` when none is
/// recorded here), at most `timeout` (`tv_sec`, `tv_nsec`; `None`: no
/// limit). Returns the signal and its `siginfo` as 128 guest bytes.
pub(crate) fn wait_host(
    set: u64,
    timeout: Option<[i64; 2]>,
) -> Result<(i32, [u8; SIGINFO_SIZE]), i32> {
    let hs = host_sigset(set);
    let ts = timeout.unwrap_or_default();
    let tsp = if timeout.is_none() {
        std::ptr::null()
    } else {
        ts.as_ptr().cast::<libc::timespec>()
    };
    // SAFETY: sigset_t is plain data.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: hs, info and ts are live locals.
    let r = unsafe { libc::sigtimedwait(&hs, &mut info, tsp) };
    if r < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINTR));
    }
    // SAFETY: siginfo_t is 128 bytes of plain data.
    let bytes: [u8; SIGINFO_SIZE] = unsafe { std::mem::transmute(info) };
    Ok((r, bytes))
}

/// A signal that kills the guest: a guest's child (`opts.guest_child`)
/// dies of it for real; the top-level process prints the shell's message
/// and returns the exit status 128 + `sig`.
pub(crate) fn fatal_signal(opts: &Options, sig: i32) -> i32 {
    if opts.guest_child {
        let lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: lim is a live local; no core dump of the emulator.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &lim) };
        crate::terminate_by_signal(sig);
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    cranemu_runtime::diagln!("{}", crate::signal_message(sig));
    128 + sig
}

/// The default action of `sig` when it is taken: nothing, or death.
fn default_action(opts: &Options, sig: i32) -> Option<i32> {
    if default_ignores(sig) || sig == libc::SIGSTOP || sig == libc::SIGTSTP {
        return None;
    }
    crate::terminate_by_signal(sig);
    Some(fatal_signal(opts, sig))
}

/// The guest's signal state, which the host does not keep for us: what
/// Linux keeps in the task's `sighand`, `blocked`, `saved_sigmask` and
/// `sas_ss_*`, plus the sigreturn trampoline and the last interrupted
/// syscall.
pub(crate) struct SignalState {
    /// What the threads of the process share: the dispositions and the
    /// sigreturn trampoline.
    pub(crate) shared: Arc<SharedSignals>,
    /// Guest blocked-signal mask (bit `n - 1` for signal `n`).
    pub(crate) sigmask: u64,
    /// The mask to restore after `rt_sigsuspend`'s signal is delivered.
    pub(crate) saved_mask: Option<u64>,
    /// The guest's `sigaltstack` (`ss_sp`, `ss_flags`, `ss_size`).
    pub(crate) altstack: (u64, u32, u64),
    /// The last syscall, if it failed with `EINTR`: its number and original
    /// `a0` (to restart it under `SA_RESTART`).
    pub(crate) interrupted: Option<(u64, u64)>,
}

/// The signal state all threads of a process share (Linux's `sighand`):
/// the dispositions, and the sigreturn trampoline page.
pub(crate) struct SharedSignals {
    /// Guest signal dispositions, index `signal - 1`.
    pub(crate) sigactions: Mutex<[TargetSigaction; NSIG]>,
    /// Guest address of the sigreturn trampoline page (0: not mapped yet).
    trampoline: Mutex<u64>,
}

impl SignalState {
    /// The state a new process starts with: no handlers, no alternate
    /// stack, and the host's ignored signals and blocked mask (both survive
    /// `execve`).
    pub(crate) fn from_host() -> SignalState {
        SignalState {
            shared: Arc::new(SharedSignals {
                sigactions: Mutex::new(host_ignored_signals()),
                trampoline: Mutex::new(0),
            }),
            sigmask: host_sigmask(),
            saved_mask: None,
            altstack: (0, 2, 0),
            interrupted: None,
        }
    }

    /// The state of a new thread created by this one (`clone` with
    /// `CLONE_THREAD`): the same dispositions, the creator's blocked mask,
    /// no alternate stack (Linux clears it for `CLONE_VM` children).
    pub(crate) fn for_new_thread(&self) -> SignalState {
        SignalState {
            shared: self.shared.clone(),
            sigmask: self.sigmask,
            saved_mask: None,
            altstack: (0, 2, 0),
            interrupted: None,
        }
    }

    /// Sets the host dispositions of the glibc-reserved signals (32, 33)
    /// to the guest's again: the host's glibc installs its own handlers
    /// for them when it creates its first thread.
    pub(crate) fn reassert_reserved(&self) {
        let acts = *self.shared.sigactions.lock();
        for sig in GLIBC_RESERVED {
            mirror_disposition(sig, acts[(sig - 1) as usize].handler);
        }
    }

    /// Holds the shared signal state's locks (dispositions, the
    /// trampoline, then the registry of guest threads), for `fork`: a
    /// child must not start with one held by a thread it does not have.
    pub(crate) fn lock_for_fork(&self) -> impl Sized + '_ {
        (
            self.shared.sigactions.lock(),
            self.shared.trampoline.lock(),
            THREADS.lock(),
        )
    }

    /// The guest's current disposition for `sig` (1..=64).
    pub(crate) fn sigaction(&self, sig: i32) -> Option<TargetSigaction> {
        self.shared
            .sigactions
            .lock()
            .get(usize::try_from(sig).ok()?.checked_sub(1)?)
            .copied()
    }

    /// Takes the lowest recorded signal not in `blocked`, with its
    /// `siginfo` (128 guest bytes), and ends a hold on it (see `HELD`):
    /// the host may deliver its next occurrence.
    pub(crate) fn take_pending(&mut self, blocked: u64) -> Option<(i32, [u8; SIGINFO_SIZE])> {
        let taken = take_pending(blocked)?;
        release_held(bit(taken.0), self.sigmask);
        Some(taken)
    }

    /// Sets the guest's blocked mask (`SIGKILL`/`SIGSTOP` cannot be
    /// blocked) and mirrors it to the host.
    pub(crate) fn set_sigmask(&mut self, mask: u64) {
        self.sigmask = mask & !UNBLOCKABLE;
        set_host_mask(libc::SIG_SETMASK, self.sigmask);
    }

    /// Maps the sigreturn trampoline page into `space` if it is not mapped
    /// yet.
    pub(crate) fn ensure_trampoline(&mut self, space: &GuestSpace) -> Result<u64, i32> {
        let mut trampoline = self.shared.trampoline.lock();
        if *trampoline != 0 {
            return Ok(*trampoline);
        }
        let a = space
            .map(0, PAGE_SIZE, Prot::RX, false)
            .map_err(|e| e.errno())?;
        let mut code = [0u8; 8];
        code[..4].copy_from_slice(&TRAMPOLINE[0].to_le_bytes());
        code[4..].copy_from_slice(&TRAMPOLINE[1].to_le_bytes());
        space.write_force(a, &code).map_err(|_| libc::EFAULT)?;
        *trampoline = a;
        Ok(a)
    }

    /// Delivers one pending, unblocked signal, if any: enters its handler,
    /// or applies its disposition. Afterwards, restores a mask saved by
    /// `rt_sigsuspend`. Returns `Some(status)` if the guest died.
    pub(crate) fn deliver_pending(
        &mut self,
        space: &GuestSpace,
        opts: &Options,
        cpu: &mut CpuState,
    ) -> Option<i32> {
        let mut r = None;
        let taken = take_pending(self.sigmask);
        if let Some((sig, info)) = taken {
            cpu.take_exit_request();
            r = self.deliver(space, opts, cpu, sig, &info);
        }
        if let Some(m) = self.saved_mask.take() {
            self.set_sigmask(m);
        }
        // The hold ends under the mask the guest now runs with (its
        // handler's, or the one `rt_sigsuspend` saved), not the one the
        // signal was taken under, which could let its next occurrence in
        // too early.
        if let Some((sig, _)) = taken {
            release_held(bit(sig), self.sigmask);
        }
        self.interrupted = None;
        r
    }

    /// A synchronous signal `sig` raised by a trap at `cpu.pc` with `tval`
    /// (`page_fault`: the trap was a page fault): enters the
    /// guest handler if there is one and the signal is not blocked, else
    /// the guest dies. Returns `Some(status)` if it died.
    pub(crate) fn deliver_trap(
        &mut self,
        space: &GuestSpace,
        opts: &Options,
        cpu: &mut CpuState,
        sig: i32,
        tval: u64,
        page_fault: bool,
    ) -> Option<i32> {
        let act = self.sigaction(sig).unwrap_or_default();
        if act.handler == abi::SIG_DFL
            || act.handler == abi::SIG_IGN
            || self.sigmask & bit(sig) != 0
        {
            return Some(fatal_signal(opts, sig));
        }
        let (code, addr) = match sig {
            libc::SIGSEGV => {
                // SEGV_ACCERR if mapped, else SEGV_MAPERR.
                (if space.prot_of(tval).is_some() { 2 } else { 1 }, tval)
            }
            // BUS_ADRERR for a page fault (see `Process::trap_signal`),
            // else BUS_ADRALN (a misaligned access).
            libc::SIGBUS if page_fault => (2, tval),
            libc::SIGBUS => (1, tval),
            libc::SIGILL => (1, cpu.pc),  // ILL_ILLOPC
            libc::SIGTRAP => (1, cpu.pc), // TRAP_BRKPT
            _ => (0x80, 0),               // SI_KERNEL
        };
        self.deliver(space, opts, cpu, sig, &fault_info(sig, code, addr))
    }

    /// Takes `sig` with its current disposition.
    fn deliver(
        &mut self,
        space: &GuestSpace,
        opts: &Options,
        cpu: &mut CpuState,
        sig: i32,
        info: &[u8; SIGINFO_SIZE],
    ) -> Option<i32> {
        let act = self.sigaction(sig).unwrap_or_default();
        match act.handler {
            abi::SIG_IGN => None,
            abi::SIG_DFL => default_action(opts, sig),
            _ => {
                if self.setup_frame(space, opts, cpu, sig, &act, info).is_err() {
                    return Some(fatal_signal(opts, libc::SIGSEGV));
                }
                None
            }
        }
    }

    /// Builds the `rt_sigframe` and enters the handler of `sig`.
    fn setup_frame(
        &mut self,
        space: &GuestSpace,
        opts: &Options,
        cpu: &mut CpuState,
        sig: i32,
        act: &TargetSigaction,
        info: &[u8; SIGINFO_SIZE],
    ) -> Result<(), i32> {
        let tramp = self.ensure_trampoline(space)?;
        // A syscall interrupted by this signal: with SA_RESTART the handler
        // returns to the `ecall` again, with the original `a0`.
        if let Some((n, a0)) = self.interrupted.take() {
            if act.flags & SA_RESTART != 0 && restartable(n) {
                cpu.pc = cpu.pc.wrapping_sub(4);
                cpu.x[10] = a0;
            }
        }
        let (ss_sp, ss_flags, ss_size) = self.altstack;
        let sp = cpu.x[2];
        let on_stack = |a: u64| a > ss_sp && a.wrapping_sub(ss_sp) <= ss_size;
        let on_alt = ss_flags != SS_DISABLE && on_stack(sp);
        if on_alt && !on_stack(sp.wrapping_sub(FRAME_SIZE as u64)) {
            // The frame would run off the bottom of the alternate stack (a
            // handler that faults again there, SA_NODEFER): Linux gives up
            // and the process dies of SIGSEGV (arch/riscv/kernel/signal.c
            // `get_sigframe`), rather than writing below it.
            return Err(libc::EFAULT);
        }
        let top = if act.flags & SA_ONSTACK != 0 && ss_flags != SS_DISABLE && !on_alt {
            ss_sp.wrapping_add(ss_size)
        } else {
            sp
        };
        let frame = top.wrapping_sub(FRAME_SIZE as u64) & !0xf;
        let saved_mask = self.saved_mask.take().unwrap_or(self.sigmask);
        let alt_flags = if ss_flags == SS_DISABLE {
            SS_DISABLE
        } else if on_alt || top != sp {
            SS_ONSTACK
        } else {
            0
        };
        let image = build_frame(cpu, info, saved_mask, (ss_sp, alt_flags, ss_size));
        space.write(frame, &image).map_err(|_| libc::EFAULT)?;
        cpu.x[10] = sig as u64;
        cpu.x[11] = frame;
        cpu.x[12] = frame + FRAME_UC as u64;
        cpu.x[2] = frame;
        cpu.x[1] = tramp;
        cpu.pc = act.handler;
        let mut mask = self.sigmask | act.mask;
        if act.flags & SA_NODEFER == 0 {
            mask |= bit(sig);
        }
        self.set_sigmask(mask);
        if act.flags & SA_RESETHAND != 0 {
            self.shared.sigactions.lock()[(sig - 1) as usize] = TargetSigaction::default();
            mirror_disposition(sig, abi::SIG_DFL);
        }
        if opts.strace {
            // SAFETY: getpid cannot fail.
            let pid = unsafe { libc::getpid() };
            cranemu_runtime::diagln!("{pid} --- signal {sig} to handler {:#x} ---", act.handler);
        }
        Ok(())
    }

    /// `rt_sigreturn`'s work: restores the registers and mask saved in the
    /// frame at the guest `sp`; `pc` is set from the frame. `EFAULT` (and
    /// nothing changed) if the frame cannot be read.
    pub(crate) fn sigreturn(&mut self, space: &GuestSpace, cpu: &mut CpuState) -> Result<(), i32> {
        let mut f = vec![0u8; FRAME_SIZE];
        space.read(cpu.x[2], &mut f).map_err(|_| libc::EFAULT)?;
        let mask = restore_frame(cpu, &f);
        self.set_sigmask(mask);
        Ok(())
    }

    /// `rt_sigsuspend`'s wait: replaces the guest mask by `set` until a
    /// signal with a handler is pending and allowed by it. The original
    /// mask is restored after delivery (and saved in the handler's frame).
    pub(crate) fn suspend(&mut self, set: u64) {
        let temp = set & !UNBLOCKABLE;
        let orig = self.sigmask;
        // Block everything the host handler could record, so that a signal
        // arriving between the check and the wait is not lost.
        set_host_mask(libc::SIG_BLOCK, !0);
        while pending_bits() & !temp == 0 {
            let mut hm = temp | HELD.with(|h| h.load(Ordering::SeqCst));
            for s in HOST_OWNED_SIGNALS {
                hm &= !bit(s);
            }
            let hs = host_sigset(hm);
            // SAFETY: hs is a valid set; returns after a handler ran.
            unsafe { libc::sigsuspend(&hs) };
        }
        set_host_mask(libc::SIG_SETMASK, orig);
        self.sigmask = temp;
        self.saved_mask = Some(orig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process signal recorded on a guest thread that stops running
    /// before taking it goes back to the process, `siginfo` and all (it
    /// was lost with the thread).
    #[test]
    fn a_stopping_thread_hands_back_the_process_signals_it_holds() {
        const SIG: i32 = 50;
        // Only this test uses signal 50, and the host handler records it
        // in `PENDING` on the harness's threads, which run no guest.
        mirror_disposition(SIG, 0x1000);
        let took = std::thread::spawn(|| {
            let mut cpu = CpuState::default();
            set_running_cpu(&mut cpu);
            let mut info = [0u8; SIGINFO_SIZE];
            info[0..4].copy_from_slice(&SIG.to_le_bytes());
            info[8..12].copy_from_slice(&(-1i32).to_le_bytes()); // SI_QUEUE
            info[24..28].copy_from_slice(&4242i32.to_le_bytes()); // si_value
                                                                  // SAFETY: to this very thread, with a live siginfo; the host
                                                                  // handler runs before the call returns.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_tgsigqueueinfo,
                    libc::getpid(),
                    libc::gettid(),
                    SIG,
                    info.as_ptr(),
                )
            };
            let recorded = THREAD_SHARED.with(|t| t.load(Ordering::SeqCst)) & bit(SIG) != 0;
            set_running_cpu(std::ptr::null_mut());
            recorded
        })
        .join()
        .unwrap();
        assert!(
            took,
            "the host handler did not record signal {SIG} on the thread"
        );
        // Another thread of the process takes it from the host kernel.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while PENDING.load(Ordering::SeqCst) & bit(SIG) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "signal {SIG} never came back"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (sig, info) = take_pending(!bit(SIG)).expect("signal 50 pending");
        assert_eq!(sig, SIG);
        assert_eq!(&info[24..28], &4242i32.to_le_bytes(), "si_value");
    }

    #[test]
    fn frame_layout_round_trips() {
        let mut cpu = CpuState::default();
        for i in 1..32 {
            cpu.x[i] = 0x1000 + i as u64;
            cpu.f[i] = 0x2000 + i as u64;
        }
        cpu.pc = 0x1_0000;
        cpu.fcsr = 0x61;
        let info = fault_info(libc::SIGSEGV, 1, 0xdead);
        let f = build_frame(&cpu, &info, 0x400, (0, SS_DISABLE, 0));
        assert_eq!(f.len(), FRAME_SIZE);
        // si_addr at 16; uc_sigmask at uc + 40; sc_regs[0] = pc at uc + 176;
        // fcsr right after f0-f31.
        assert_eq!(&f[16..24], &0xdeadu64.to_le_bytes());
        assert_eq!(&f[128 + 40..128 + 48], &0x400u64.to_le_bytes());
        assert_eq!(&f[128 + 176..128 + 184], &0x1_0000u64.to_le_bytes());
        assert_eq!(&f[128 + 176 + 512..128 + 176 + 516], &0x61u32.to_le_bytes());
        let mut back = CpuState::default();
        assert_eq!(restore_frame(&mut back, &f), 0x400);
        assert_eq!(back.x, cpu.x);
        assert_eq!(back.f, cpu.f);
        assert_eq!((back.pc, back.fcsr), (cpu.pc, cpu.fcsr));
    }

    #[test]
    fn pending_order_and_blocking() {
        // Signals 40 and 41 only (other tests may raise SIGUSR1 meanwhile).
        let others = !(bit(40) | bit(41));
        PENDING.fetch_or(bit(41) | bit(40), Ordering::SeqCst);
        assert_eq!(take_pending(others | bit(40)).map(|t| t.0), Some(41));
        assert_eq!(take_pending(others | bit(40)), None);
        assert_eq!(take_pending(others).map(|t| t.0), Some(40));
        assert_eq!(PENDING.load(Ordering::SeqCst) & !others, 0);
    }
}
