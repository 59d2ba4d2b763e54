//! The Linux system call layer: riscv64 syscalls on an x86-64 host.
//!
//! [`Process::do_syscall`] reads the syscall number from `a7` (`x17`) and
//! the arguments from `a0`-`a5` (`x10`-`x15`), and writes the result to `a0`
//! (a negative errno on failure), as the riscv64 kernel ABI does.
//!
//! # Design
//!
//! Guest file descriptors are host file descriptors; signal numbers, errno
//! values, open/mmap flags and most structure layouts are the same on both
//! sides (see [`crate::abi`]), so most calls validate their guest pointers
//! with [`GuestSpace::host_range`] (`EFAULT` if the page map does not allow
//! the access) and pass the host address of the guest buffer to the host
//! kernel. Guest memory is never dereferenced from Rust without validation.
//!
//! Absolute path arguments go through the `-L` sysroot first, like QEMU's
//! `path()`: if `SYSROOT/path` exists it is used, else `path`.
//! `/proc/self/exe` means the guest program, not cranemu.
//!
//! # Limitations (later issues)
//! - Guest signal handlers run through [`crate::signal`]; one guest
//!   thread only.
//! - `clone` without `CLONE_THREAD` is a host `fork`; with it, a host
//!   thread (see `thread.rs`); `clone3` is `ENOSYS` (libc falls back to
//!   `clone`). A thread's exit-time `clear_child_tid` wake-up is done by
//!   the execution loop ([`Process::end_thread`]).
//! - `fork` from a threaded guest holds every engine lock across the host
//!   `fork()` ([`Engine::quiesced`]); other vCPUs keep running meanwhile.
//! - File mappings are host mappings of the file (`MAP_PRIVATE` or
//!   `MAP_SHARED`, as the guest asks). `mremap` growing a private one in
//!   place adds anonymous pages (Linux extends the file mapping), and
//!   moving it copies its bytes into anonymous memory.
//!
//! # Layout
//!
//! This file holds [`Process`], the entry point [`Process::do_syscall`]
//! (with `exit`, `exit_group` and the `-strace` output), the dispatch to
//! the syscall families, and the helpers they share (guest buffers and
//! paths, `host_syscall`). Each family is one file, with one handler
//! that runs the family's syscalls and returns `None` for any other number:
//!
//! - `io.rs`: file-descriptor I/O (read/write, `fcntl`, `ioctl`, pipes,
//!   `ppoll`/`pselect6`, ...);
//! - `fs.rs`: paths and file metadata (`openat`, `stat`, `*at`, `getcwd`, ...);
//! - `mm.rs`: the guest address space (`brk`, `mmap`, `mprotect`, ...);
//! - `process.rs`: `clone`, `execve`, `wait4`, `waitid`;
//! - `sys.rs`: ids, sessions, limits, `uname`, `prctl`, `getrandom`, ...;
//! - `time.rs`: clocks, sleeps and interval timers;
//! - `thread.rs`: `futex`, `set_tid_address`, `set_robust_list`;
//! - `signals.rs`: the signal syscalls, over [`crate::signal`];
//! - `net.rs`: sockets (`socket`, `bind`, `sendmsg`, ...);
//! - `ipc.rs`: System V shared memory, semaphores and message queues;
//! - `procfs.rs`: the `/proc` files generated for the guest (`maps`,
//!   `auxv`, `cpuinfo`).
//!
//! Where a handler's arms use `?` on `SysResult`s, its `match` runs in a
//! closure whose last arm clears `known` for the numbers the family does
//! not implement. A new family is a new file whose
//! handler is added to `Process::dispatch`'s list. Family files depend on
//! this file and on lower modules ([`crate::abi`], [`crate::signal`]),
//! never on each other.

use std::ffi::CString;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use cranemu_runtime::Engine;
use cranemu_softmmu::sync::Mutex;

use cranemu_frontend::CpuState;
use cranemu_softmmu::user::{AccessKind, GuestSpace};

use crate::abi::{self, nr, ArgFmt, TargetSigaction};
use crate::signal::{self, SignalState};
use crate::Options;

mod events;
mod fs;
mod io;
mod ipc;
mod mm;
mod net;
mod process;
mod procfs;
mod signals;
mod sys;
#[cfg(test)]
mod tests;
mod thread;
mod time;

/// What the execution loop should do after a syscall.
#[derive(Debug)]
pub enum SyscallAction {
    /// Resume the guest after the `ecall` (the result is in `a0`).
    Continue,
    /// The process exited (`exit_group`, or `exit` of its last thread)
    /// with this status (0-255).
    Exit(i32),
    /// This thread exited (`exit`) with this status; other threads of the
    /// process go on.
    ThreadExit(i32),
    /// `clone` created a thread (`CLONE_THREAD`): start it, then resume this
    /// thread after the `ecall` with the new thread's id in `a0`.
    NewThread(Box<NewThread>),
    /// Resume the guest at `cpu.pc`, which the syscall set (`rt_sigreturn`).
    Jump,
}

/// `CLONE_THREAD`: `clone` makes a thread of this process.
const CLONE_THREAD: u64 = 0x10000;

/// A syscall result: the value for `a0`, or a positive errno.
type SysResult = Result<u64, i32>;

/// Longest path a guest may pass (Linux's `PATH_MAX`, NUL included).
const PATH_MAX: usize = 4096;

/// `errno` of the last failed host call.
fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Invokes host syscall `nr` with six raw arguments and returns the result
/// or the errno.
///
/// # Safety
/// Every pointer argument must be null, a host address returned by
/// [`GuestSpace::host_range`] for the size the call uses, or a pointer to a
/// live local buffer of the size the call uses. (A guest pointer that is
/// unmapped meanwhile only makes the host call fail with `EFAULT`.)
unsafe fn host_syscall(nr: libc::c_long, a: [u64; 6]) -> SysResult {
    // SAFETY: forwarded to the caller's contract.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 {
        Err(errno())
    } else {
        Ok(r as u64)
    }
}

/// One thread of the emulated Linux process, and through it the process:
/// the guest address space and the kernel-side state the host does not keep
/// for us (brk, signal dispositions, the guest's view of its own
/// executable). Each guest thread has its own `Process` value; what Linux
/// keeps per process (`SharedState`, the signal dispositions) the values
/// of one process share.
pub struct Process {
    /// The guest address space.
    space: Arc<GuestSpace>,
    /// The options the program runs with (`-L`, `-strace`, ...).
    opts: Options,
    /// Absolute host path of the guest program (what `/proc/self/exe`
    /// means to the guest), if it came from a file.
    exe: Option<PathBuf>,
    /// What the threads of the process share.
    shared: Arc<SharedState>,
    /// This thread's signal state (mask, alternate stack), with the
    /// process's dispositions.
    signals: SignalState,
    /// This thread's `clear_child_tid` (`set_tid_address`,
    /// `CLONE_CHILD_CLEARTID`): a guest address that gets 0 and a futex
    /// wake when the thread exits; 0 for none.
    clear_child_tid: u64,
    /// This thread's robust futex list (`set_robust_list`): the guest
    /// address of its `struct robust_list_head`, walked when the thread
    /// exits; 0 for none.
    robust_list: u64,
}

/// The per-process state the threads of a guest process share (what Linux
/// keeps in `mm_struct` and `signal_struct` beyond what the host keeps).
pub(crate) struct SharedState {
    /// Initial and current program break (guest addresses; the first page
    /// aligned).
    brk: Mutex<(u64, u64)>,
    /// Limits the guest set on `sys::GUEST_ONLY_RLIMITS` (`rlim_cur`,
    /// `rlim_max`), by resource number; reported back, never applied.
    guest_rlimits: Mutex<Vec<(u64, [u64; 2])>>,
    /// System V shared memory segments attached with `shmat` (guest
    /// address, length in bytes), for `shmdt`.
    shm_attached: Mutex<Vec<(u64, u64)>>,
    /// Guest threads alive (the process ends with the last one).
    threads: AtomicUsize,
    /// The engine running the process's threads (to quiesce it for `fork`).
    engine: OnceLock<Arc<Engine>>,
    /// The auxiliary vector the loader wrote (what `/proc/self/auxv`
    /// reads; Linux's `mm->saved_auxv`).
    auxv: OnceLock<Vec<u8>>,
    /// The guest's command line, each argument NUL-terminated (what
    /// `/proc/self/cmdline` reads).
    cmdline: OnceLock<Vec<u8>>,
}

/// A guest thread that `clone` created and the execution loop must start:
/// its CPU state (already at the instruction after the `ecall`, `a0` = 0,
/// its stack and TLS) and its `Process` handle. The loop reports its host
/// thread id back to the parent's `a0`.
pub struct NewThread {
    /// The thread's CPU state.
    pub cpu: CpuState,
    /// The thread's view of the process.
    pub process: Process,
    /// `CLONE_PARENT_SETTID`: where to store the new thread's id (guest
    /// address).
    pub parent_tid: Option<u64>,
    /// `CLONE_CHILD_SETTID`: where to store the new thread's id.
    pub child_tid: Option<u64>,
}

impl std::fmt::Debug for NewThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewThread")
            .field("pc", &format_args!("{:#x}", self.cpu.pc))
            .field("sp", &format_args!("{:#x}", self.cpu.x[2]))
            .field("parent_tid", &self.parent_tid)
            .field("child_tid", &self.child_tid)
            .finish()
    }
}

impl Process {
    /// A process over `space` whose program break starts at `brk` (guest
    /// address, from the loader) and whose `/proc/self/exe` is `exe`.
    pub fn new(space: Arc<GuestSpace>, opts: Options, exe: Option<PathBuf>, brk: u64) -> Process {
        Process {
            space,
            opts,
            exe,
            shared: Arc::new(SharedState {
                brk: Mutex::new((brk, brk)),
                guest_rlimits: Mutex::new(Vec::new()),
                shm_attached: Mutex::new(Vec::new()),
                threads: AtomicUsize::new(1),
                engine: OnceLock::new(),
                auxv: OnceLock::new(),
                cmdline: OnceLock::new(),
            }),
            // Ignored signals and the blocked mask survive execve.
            signals: SignalState::from_host(),
            clear_child_tid: 0,
            robust_list: 0,
        }
    }

    /// Records the auxiliary vector the loader wrote (pairs of
    /// little-endian `u64` up to and including `AT_NULL`), for
    /// `/proc/self/auxv`. Only the first call counts.
    pub fn set_auxv(&self, bytes: Vec<u8>) {
        let _ = self.shared.auxv.set(bytes);
    }

    /// Records the guest's `argv` (`/proc/self/cmdline`). Only the first
    /// call counts.
    pub fn set_cmdline(&self, argv: &[Vec<u8>]) {
        let mut b = Vec::new();
        for a in argv {
            b.extend_from_slice(a);
            b.push(0);
        }
        let _ = self.shared.cmdline.set(b);
    }

    /// The handle of a new thread of this process (`clone` with
    /// `CLONE_THREAD`), counted among its live threads.
    fn new_thread(&self) -> Process {
        self.shared.threads.fetch_add(1, Ordering::SeqCst);
        Process {
            space: self.space.clone(),
            opts: self.opts.clone(),
            exe: self.exe.clone(),
            shared: self.shared.clone(),
            signals: self.signals.for_new_thread(),
            clear_child_tid: 0,
            robust_list: 0,
        }
    }

    /// Called on a new guest thread's host thread before it runs guest
    /// code: puts back the host dispositions that creating a host thread
    /// may have changed (see `SignalState::reassert_reserved`).
    pub fn thread_started(&self) {
        self.signals.reassert_reserved();
    }

    /// Holds every lock of the process's shared state (for `fork`; see
    /// `clone`): `brk`, the rlimits, then the signal state's.
    fn lock_for_fork(&self) -> impl Sized + '_ {
        (
            self.shared.brk.lock(),
            self.shared.guest_rlimits.lock(),
            self.shared.shm_attached.lock(),
            self.signals.lock_for_fork(),
        )
    }

    /// The guest threads of the process alive now (what `num_threads`
    /// in `/proc/self/stat` says to the guest).
    pub(crate) fn guest_threads(&self) -> usize {
        self.shared.threads.load(Ordering::SeqCst).max(1)
    }

    /// A thread counted by `clone` could not be started after all.
    pub(crate) fn thread_not_started(&mut self) {
        self.shared.threads.fetch_sub(1, Ordering::SeqCst);
    }

    /// In a `fork`ed child: this thread is the process's only one.
    fn only_thread(&mut self) {
        self.shared.threads.store(1, Ordering::SeqCst);
        // Linux does not copy the robust list to a child (glibc's fork
        // registers it again).
        self.robust_list = 0;
    }

    /// This thread ends (`exit`, or its host thread is done): the robust
    /// futexes it holds are marked `FUTEX_OWNER_DIED`, then the guest's
    /// `clear_child_tid` word gets 0 and one futex waiter is woken (how
    /// `pthread_join` learns of it), in Linux's order (`mm_release`).
    /// Returns true if it was the process's last thread.
    pub fn end_thread(&mut self) -> bool {
        self.exit_robust_list();
        let a = std::mem::take(&mut self.clear_child_tid);
        if a != 0 && self.space.write_u32(a, 0).is_ok() {
            if let Ok(h) = self.space.host_range(a, 4, AccessKind::Write) {
                // SAFETY: a checked, writable guest word; FUTEX_WAKE only
                // reads its address.
                unsafe {
                    libc::syscall(libc::SYS_futex, h, libc::FUTEX_WAKE, 1, 0, 0, 0);
                }
            }
        }
        self.shared.threads.fetch_sub(1, Ordering::SeqCst) == 1
    }

    /// Attaches the engine that runs this process's threads, which `fork`
    /// quiesces (see [`Engine::quiesced`]).
    pub fn attach_engine(&self, engine: Arc<Engine>) {
        let _ = self.shared.engine.set(engine);
    }

    /// The guest address space.
    pub fn space(&self) -> &Arc<GuestSpace> {
        &self.space
    }

    /// The guest's current disposition for `sig` (1..=64).
    pub fn sigaction(&self, sig: i32) -> Option<TargetSigaction> {
        self.signals.sigaction(sig)
    }

    /// True if this process was created by the guest (a `fork`ed child, or
    /// started by a guest's `execve` in one).
    pub fn is_guest_child(&self) -> bool {
        self.opts.guest_child
    }

    /// A signal that kills the guest: a guest's child dies of it for real;
    /// the top-level process prints the shell's message and returns the
    /// exit status 128 + `sig`.
    pub fn fatal_signal(&self, sig: i32) -> i32 {
        signal::fatal_signal(&self.opts, sig)
    }

    /// Delivers one pending, unblocked signal, if any: enters its handler,
    /// or applies its disposition. Afterwards, restores a mask saved by
    /// `rt_sigsuspend`. Returns `Some(status)` if the guest died.
    pub fn deliver_pending(&mut self, cpu: &mut CpuState) -> Option<i32> {
        self.signals.deliver_pending(&self.space, &self.opts, cpu)
    }

    /// The signal Linux raises for a trap of cause `cause` with `tval`:
    /// [`crate::signal_for_trap`]'s, except that a load, store or
    /// instruction page fault at an address the guest may access that way
    /// is a bus error,
    /// `SIGBUS` (the access reached a page of a shared file mapping beyond
    /// the end of the file; Linux's mm/filemap.c `filemap_fault` returns
    /// `VM_FAULT_SIGBUS`, and arch/riscv/mm/fault.c raises `SIGBUS` with
    /// `BUS_ADRERR`).
    pub fn trap_signal(&self, cause: cranemu_frontend::Exception, tval: u64) -> i32 {
        use cranemu_frontend::Exception::{InstructionPageFault, LoadPageFault, StorePageFault};
        use cranemu_softmmu::user::Prot;
        let need = match cause {
            LoadPageFault => Prot::READ,
            StorePageFault => Prot::WRITE,
            InstructionPageFault => Prot::EXEC,
            _ => return crate::signal_for_trap(cause),
        };
        match self.space.prot_of(tval) {
            Some(p) if p.contains(need) => libc::SIGBUS,
            _ => libc::SIGSEGV,
        }
    }

    /// The synchronous signal `sig` (from [`Process::trap_signal`]) raised
    /// by a trap of cause `cause` at `cpu.pc` with `tval` (a page fault's
    /// `SIGBUS` gets `BUS_ADRERR`, another `BUS_ADRALN`): enters the guest
    /// handler if there is one and the signal is not blocked, else the
    /// guest dies. Returns `Some(status)` if it died.
    pub fn deliver_trap(
        &mut self,
        cpu: &mut CpuState,
        sig: i32,
        cause: cranemu_frontend::Exception,
        tval: u64,
    ) -> Option<i32> {
        use cranemu_frontend::Exception::{InstructionPageFault, LoadPageFault, StorePageFault};
        let page_fault = matches!(cause, LoadPageFault | StorePageFault | InstructionPageFault);
        self.signals
            .deliver_trap(&self.space, &self.opts, cpu, sig, tval, page_fault)
    }

    /// Executes the syscall the guest asked for with `ecall`: number in
    /// `a7`, arguments in `a0`-`a5`, result to `a0`. Does not advance `pc`.
    pub fn do_syscall(&mut self, cpu: &mut CpuState) -> SyscallAction {
        let n = cpu.x[17];
        let a = [
            cpu.x[10], cpu.x[11], cpu.x[12], cpu.x[13], cpu.x[14], cpu.x[15],
        ];
        if self.opts.strace {
            self.strace_enter(n, &a);
        }
        let r = match n {
            nr::RT_SIGRETURN => {
                if self.opts.strace {
                    cranemu_runtime::diagln!(" = ?");
                }
                return self.rt_sigreturn(cpu);
            }
            nr::EXIT | nr::EXIT_GROUP => {
                if self.opts.strace {
                    cranemu_runtime::diagln!();
                }
                let code = (a[0] & 0xff) as i32;
                return if n == nr::EXIT {
                    SyscallAction::ThreadExit(code)
                } else {
                    SyscallAction::Exit(code)
                };
            }
            nr::CLONE if a[0] & CLONE_THREAD != 0 => match self.clone_thread(a, cpu) {
                Ok(action) => {
                    if self.opts.strace {
                        cranemu_runtime::diagln!(" = <new thread>");
                    }
                    return action;
                }
                Err(e) => Err(e),
            },
            // A signal that arrived between the `ecall` and the host call
            // would not wake the host call: interrupt it now, as Linux does
            // when a signal is pending at entry.
            _ if signal::would_block(n, &a) && signal::has_deliverable(self.signals.sigmask) => {
                Err(libc::EINTR)
            }
            _ => self.dispatch(n, a, cpu),
        };
        let v = match r {
            Ok(v) => v,
            Err(e) => (-(e as i64)) as u64,
        };
        if self.opts.strace {
            strace_exit(n, r);
        }
        self.signals.interrupted = (r == Err(libc::EINTR)).then_some((n, a[0]));
        cpu.x[10] = v;
        SyscallAction::Continue
    }

    /// Runs syscall `n` (not `exit`, `exit_group` or `rt_sigreturn`): the
    /// family handler that knows `n` runs it; a number no family knows is
    /// `ENOSYS`.
    fn dispatch(&mut self, n: u64, a: [u64; 6], cpu: &mut CpuState) -> SysResult {
        let r = self
            .io_syscall(n, a)
            .or_else(|| self.fs_syscall(n, a))
            .or_else(|| self.mm_syscall(n, a))
            .or_else(|| self.process_syscall(n, a, cpu))
            .or_else(|| self.sys_syscall(n, a))
            .or_else(|| self.time_syscall(n, a))
            .or_else(|| self.thread_syscall(n, a))
            .or_else(|| self.signal_syscall(n, a, cpu))
            .or_else(|| self.net_syscall(n, a))
            .or_else(|| self.events_syscall(n, a))
            .or_else(|| self.ipc_syscall(n, a));
        if let Some(r) = r {
            return r;
        }
        match n {
            nr::CLONE3 | nr::RSEQ | nr::RISCV_HWPROBE => Err(libc::ENOSYS),
            _ => {
                if self.opts.strace {
                    cranemu_runtime::diag!("Unknown syscall {n}");
                }
                self.warn_unimplemented(n);
                Err(libc::ENOSYS)
            }
        }
    }

    /// `-d unimp`: logs one line the first time the guest makes syscall
    /// `n`, which no family implements (QEMU's `LOG_UNIMP`), to the `-D`
    /// log file or standard error.
    fn warn_unimplemented(&self, n: u64) {
        /// Bit `n % 64` of word `n / 64`: number `n` was reported.
        static SEEN: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
        let unimp = self
            .opts
            .log_items
            .as_deref()
            .is_some_and(|items| items.split(',').any(|i| i == "unimp"));
        if !unimp {
            return;
        }
        let first = match SEEN.get((n / 64) as usize) {
            Some(w) => w.fetch_or(1 << (n % 64), Ordering::Relaxed) & (1 << (n % 64)) == 0,
            // Numbers past 511 are not remembered: each is reported.
            None => true,
        };
        if !first {
            return;
        }
        let line = format!("cranemu: unimplemented syscall {n} (ENOSYS)\n");
        match &self.opts.log.sink {
            Some(s) => {
                let _ = s.lock().write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }

    /// Validates a guest buffer and returns its host address.
    fn buf(&self, addr: u64, len: u64, kind: AccessKind) -> Result<u64, i32> {
        self.space
            .host_range(addr, len, kind)
            .map(|p| p as u64)
            .map_err(|_| libc::EFAULT)
    }

    /// As [`Process::buf`], but a null guest pointer stays null.
    fn opt_buf(&self, addr: u64, len: u64, kind: AccessKind) -> Result<u64, i32> {
        if addr == 0 {
            Ok(0)
        } else {
            self.buf(addr, len, kind)
        }
    }

    /// Translates a guest `iovec` array (asm-generic `struct iovec`: base,
    /// len; 16 bytes each) to host iovecs over guest memory.
    fn iovecs(&self, addr: u64, count: u64, kind: AccessKind) -> Result<Vec<libc::iovec>, i32> {
        if count > 1024 {
            return Err(libc::EINVAL);
        }
        let mut raw = vec![0u8; count as usize * 16];
        self.space.read(addr, &mut raw).map_err(|_| libc::EFAULT)?;
        raw.chunks_exact(16)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&c[..8]);
                let base = u64::from_le_bytes(b);
                b.copy_from_slice(&c[8..]);
                let len = u64::from_le_bytes(b);
                let p = self.buf(base, len, kind)?;
                Ok(libc::iovec {
                    iov_base: p as *mut libc::c_void,
                    iov_len: len as usize,
                })
            })
            .collect()
    }

    /// Reads a guest path string (`EFAULT`, `ENAMETOOLONG`).
    fn guest_str(&self, addr: u64, max: usize) -> Result<Vec<u8>, i32> {
        match self.space.read_cstr(addr, max) {
            Ok(s) => Ok(s),
            Err(f) if f.addr == addr.saturating_add(max as u64) => Err(libc::ENAMETOOLONG),
            Err(_) => Err(libc::EFAULT),
        }
    }

    /// True if `p` names the guest's own executable.
    fn is_self_exe(p: &[u8]) -> bool {
        if p == b"/proc/self/exe" {
            return true;
        }
        // /proc/<our pid>/exe
        // SAFETY: getpid cannot fail.
        let own = format!("/proc/{}/exe", unsafe { libc::getpid() });
        p == own.as_bytes()
    }

    /// Maps a guest path to the host path to use: `/proc/self/exe` to the
    /// guest program, absolute paths through the sysroot when the file
    /// exists there.
    pub fn host_path(&self, p: &[u8]) -> Vec<u8> {
        if Self::is_self_exe(p) {
            if let Some(exe) = &self.exe {
                return exe.as_os_str().as_bytes().to_vec();
            }
        }
        if let (Some(root), Some(b'/')) = (&self.opts.sysroot, p.first()) {
            let mut cand = root.as_os_str().as_bytes().to_vec();
            cand.extend_from_slice(p);
            if std::fs::symlink_metadata(Path::new(std::ffi::OsStr::from_bytes(&cand))).is_ok() {
                return cand;
            }
        }
        p.to_vec()
    }

    /// Reads a guest path argument and returns it as a host C string.
    fn path(&self, addr: u64) -> Result<CString, i32> {
        let p = self.guest_str(addr, PATH_MAX)?;
        CString::new(self.host_path(&p)).map_err(|_| libc::EINVAL)
    }

    /// As [`Process::path`], but a null guest pointer stays null (for
    /// `utimensat`).
    fn opt_path(&self, addr: u64) -> Result<Option<CString>, i32> {
        if addr == 0 {
            Ok(None)
        } else {
            self.path(addr).map(Some)
        }
    }

    /// Starts a `-strace` line: pid, name and arguments, QEMU style.
    fn strace_enter(&self, n: u64, a: &[u64; 6]) {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        let Some((name, fmts)) = abi::syscall_info(n) else {
            cranemu_runtime::diag!("{pid} ");
            return;
        };
        let mut s = format!("{pid} {name}(");
        for (i, f) in fmts.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let v = a[i];
            match f {
                ArgFmt::Dec => s.push_str(&(v as i64).to_string()),
                ArgFmt::Hex => s.push_str(&format!("{v:#x}")),
                ArgFmt::Oct => s.push_str(&format!("{v:#o}")),
                ArgFmt::DirFd if v as i32 == libc::AT_FDCWD => s.push_str("AT_FDCWD"),
                ArgFmt::DirFd => s.push_str(&(v as i32).to_string()),
                ArgFmt::Str => match self.space.read_cstr(v, 256) {
                    Ok(b) => s.push_str(&format!(
                        "\"{}\"",
                        String::from_utf8_lossy(&b).escape_debug()
                    )),
                    Err(_) => s.push_str(&format!("{v:#x}")),
                },
            }
        }
        s.push(')');
        cranemu_runtime::diag!("{s}");
    }
}

/// Finishes a `-strace` line with the result, QEMU style.
fn strace_exit(n: u64, r: SysResult) {
    match r {
        Ok(v) if n == nr::MMAP || n == nr::BRK || n == nr::MREMAP => {
            cranemu_runtime::diagln!(" = {v:#x}")
        }
        Ok(v) => cranemu_runtime::diagln!(" = {}", v as i64),
        Err(e) => cranemu_runtime::diagln!(" = -1 errno={e} ({})", crate::strerror(e)),
    }
}
