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
//! - `clone` is a host `fork`; `CLONE_THREAD` is `ENOSYS`, `clone3` is
//!   `ENOSYS` (libc falls back to `clone`).
//! - `MAP_SHARED` file mappings are private copies; writes do not reach the
//!   file. Shared anonymous mappings are not shared across `fork`.
//! - Sockets: `ENOSYS`.
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
//! - `signals.rs`: the signal syscalls, over [`crate::signal`].
//!
//! Where a handler's arms use `?` on `SysResult`s, its `match` runs in a
//! closure whose last arm clears `known` for the numbers the family does
//! not implement. A new family (sockets, say) is a new file whose
//! handler is added to `Process::dispatch`'s list. Family files depend on
//! this file and on lower modules ([`crate::abi`], [`crate::signal`]),
//! never on each other.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cranemu_frontend::CpuState;
use cranemu_softmmu::user::{AccessKind, GuestSpace};

use crate::abi::{self, nr, ArgFmt, TargetSigaction};
use crate::signal::{self, SignalState};
use crate::Options;

mod fs;
mod io;
mod mm;
mod process;
mod signals;
mod sys;
#[cfg(test)]
mod tests;
mod thread;
mod time;

/// What the execution loop should do after a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallAction {
    /// Resume the guest after the `ecall` (the result is in `a0`).
    Continue,
    /// The guest exited (`exit`/`exit_group`) with this status (0-255).
    Exit(i32),
    /// Resume the guest at `cpu.pc`, which the syscall set (`rt_sigreturn`).
    Jump,
}

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

/// The emulated Linux process: the guest address space and the kernel-side
/// state the host does not keep for us (brk, signal dispositions, the
/// guest's view of its own executable).
pub struct Process {
    /// The guest address space.
    space: Arc<GuestSpace>,
    /// The options the program runs with (`-L`, `-strace`, ...).
    opts: Options,
    /// Absolute host path of the guest program (what `/proc/self/exe`
    /// means to the guest), if it came from a file.
    exe: Option<PathBuf>,
    /// Initial program break (guest address, page aligned).
    brk_start: u64,
    /// Current program break (guest address).
    brk: u64,
    /// Signal dispositions, mask, alternate stack and the rest of the
    /// guest's signal state.
    signals: SignalState,
    /// Set when a syscall may have changed code pages (`munmap`,
    /// `mprotect`, `mmap` over executable pages, `riscv_flush_icache`).
    code_changed: bool,
    /// Limits the guest set on `sys::GUEST_ONLY_RLIMITS` (`rlim_cur`,
    /// `rlim_max`), by resource number; reported back, never applied.
    guest_rlimits: Vec<(u64, [u64; 2])>,
}

impl Process {
    /// A process over `space` whose program break starts at `brk` (guest
    /// address, from the loader) and whose `/proc/self/exe` is `exe`.
    pub fn new(space: Arc<GuestSpace>, opts: Options, exe: Option<PathBuf>, brk: u64) -> Process {
        Process {
            space,
            opts,
            exe,
            brk_start: brk,
            brk,
            // Ignored signals and the blocked mask survive execve.
            signals: SignalState::from_host(),
            code_changed: false,
            guest_rlimits: Vec::new(),
        }
    }

    /// The guest address space.
    pub fn space(&self) -> &Arc<GuestSpace> {
        &self.space
    }

    /// True (once) if a syscall may have changed or removed translated code
    /// pages: the caller should flush the translation cache.
    pub fn take_code_changed(&mut self) -> bool {
        std::mem::take(&mut self.code_changed)
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

    /// A synchronous signal `sig` raised by a trap at `cpu.pc` with `tval`:
    /// enters the guest handler if there is one and the signal is not
    /// blocked, else the guest dies. Returns `Some(status)` if it died.
    pub fn deliver_trap(&mut self, cpu: &mut CpuState, sig: i32, tval: u64) -> Option<i32> {
        self.signals
            .deliver_trap(&self.space, &self.opts, cpu, sig, tval)
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
                    eprintln!(" = ?");
                }
                return self.rt_sigreturn(cpu);
            }
            nr::EXIT | nr::EXIT_GROUP => {
                if self.opts.strace {
                    eprintln!();
                }
                return SyscallAction::Exit((a[0] & 0xff) as i32);
            }
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
            .or_else(|| self.signal_syscall(n, a, cpu));
        if let Some(r) = r {
            return r;
        }
        match n {
            nr::CLONE3 | nr::RSEQ | nr::MEMBARRIER | nr::RISCV_HWPROBE | nr::SOCKET => {
                Err(libc::ENOSYS)
            }
            _ => {
                if self.opts.strace {
                    eprint!("Unknown syscall {n}");
                }
                Err(libc::ENOSYS)
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
            eprint!("{pid} ");
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
        eprint!("{s}");
    }
}

/// Finishes a `-strace` line with the result, QEMU style.
fn strace_exit(n: u64, r: SysResult) {
    match r {
        Ok(v) if n == nr::MMAP || n == nr::BRK || n == nr::MREMAP => eprintln!(" = {v:#x}"),
        Ok(v) => eprintln!(" = {}", v as i64),
        Err(e) => eprintln!(" = -1 errno={e} ({})", crate::strerror(e)),
    }
}
