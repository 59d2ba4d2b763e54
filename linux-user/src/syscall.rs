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

use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cranemu_frontend::CpuState;
use cranemu_softmmu::user::{page_align_up, AccessKind, GuestSpace, Prot, PAGE_SIZE};

use crate::abi::{self, nr, ArgFmt, TargetSigaction, TargetStat};
use crate::signal::{self, SignalState};
use crate::Options;

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
/// Most `argv`/`envp` entries `execve` accepts.
const MAX_ARG_STRINGS: u64 = 0x7fff_ffff;
/// Most bytes of one `argv`/`envp` string (Linux's `MAX_ARG_STRLEN`).
const MAX_ARG_STRLEN: usize = 32 * 4096;
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
    pub(crate) space: Arc<GuestSpace>,
    pub(crate) opts: Options,
    /// Absolute host path of the guest program (what `/proc/self/exe`
    /// means to the guest), if it came from a file.
    exe: Option<PathBuf>,
    /// Initial program break (guest address, page aligned).
    brk_start: u64,
    /// Current program break (guest address).
    brk: u64,
    /// Signal dispositions, mask, alternate stack and the rest of the
    /// guest's signal state.
    pub(crate) signals: SignalState,
    /// Set when a syscall may have changed code pages (`munmap`,
    /// `mprotect`, `mmap` over executable pages, `riscv_flush_icache`).
    code_changed: bool,
    /// Limits the guest set on [`GUEST_ONLY_RLIMITS`] (`rlim_cur`,
    /// `rlim_max`), by resource number; reported back, never applied.
    guest_rlimits: Vec<(u64, [u64; 2])>,
}

/// Resources whose limits a guest may set without the host process obeying
/// them: `RLIMIT_DATA` (2), `RLIMIT_STACK` (3) and `RLIMIT_AS` (9) would
/// constrain the emulator's own memory (a guest `ulimit -v` would make the
/// host allocator fail). QEMU's user mode keeps them from the host too.
const GUEST_ONLY_RLIMITS: [u64; 3] = [2, 3, 9];

/// Whether `head` (the first bytes of a file) starts a 64-bit
/// little-endian x86-64 ELF: a program for the host itself.
fn is_host_elf(head: &[u8]) -> bool {
    head.len() >= 20
        && head.starts_with(b"\x7fELF")
        && head[4] == 2
        && head[5] == 1
        && u16::from_le_bytes([head[18], head[19]]) == 62
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

    /// `prlimit64(pid, resource, new, old)` with guest pointers `new` and
    /// `old` (0 for none): [`GUEST_ONLY_RLIMITS`] of this process are kept
    /// here, everything else goes to the host.
    fn prlimit(&mut self, pid: u64, resource: u64, new: u64, old: u64) -> SysResult {
        // SAFETY: getpid has no preconditions.
        let own = pid == 0 || pid == unsafe { libc::getpid() } as u64;
        if !own || !GUEST_ONLY_RLIMITS.contains(&resource) {
            let (new, old) = (
                self.opt_buf(new, 16, AccessKind::Read)?,
                self.opt_buf(old, 16, AccessKind::Write)?,
            );
            // SAFETY: `new` and `old` are null or host addresses of checked
            // 16-byte guest buffers (readable and writable respectively).
            return unsafe { host_syscall(libc::SYS_prlimit64, [pid, resource, new, old, 0, 0]) };
        }
        let current = match self.guest_rlimits.iter().find(|(r, _)| *r == resource) {
            Some(&(_, l)) => l,
            None => {
                let mut l = libc::rlimit64 {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: `l` is a valid rlimit64 for the kernel to fill.
                if unsafe { libc::prlimit64(0, resource as _, std::ptr::null(), &mut l) } != 0 {
                    return Err(errno());
                }
                [l.rlim_cur, l.rlim_max]
            }
        };
        let wanted = if new != 0 {
            let cur = self.space.read_u64(new).map_err(|_| libc::EFAULT)?;
            let max = self
                .space
                .read_u64(new.wrapping_add(8))
                .map_err(|_| libc::EFAULT)?;
            if cur > max {
                return Err(libc::EINVAL);
            }
            Some([cur, max])
        } else {
            None
        };
        if old != 0 {
            self.space
                .write_u64(old, current[0])
                .map_err(|_| libc::EFAULT)?;
            self.space
                .write_u64(old.wrapping_add(8), current[1])
                .map_err(|_| libc::EFAULT)?;
        }
        if let Some(l) = wanted {
            self.guest_rlimits.retain(|(r, _)| *r != resource);
            self.guest_rlimits.push((resource, l));
        }
        Ok(0)
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

    /// True if any page of `[start, start + len)` is executable for the
    /// guest.
    fn touches_code(&self, start: u64, len: u64) -> bool {
        let end = start.saturating_add(len);
        self.space
            .mappings()
            .iter()
            .any(|m| m.prot.contains(Prot::EXEC) && m.start < end && m.end > start)
    }

    #[allow(clippy::too_many_lines)]
    fn dispatch(&mut self, n: u64, a: [u64; 6], cpu: &mut CpuState) -> SysResult {
        use AccessKind::{Read as R, Write as W};
        let fd = a[0] as i32 as i64 as u64;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        unsafe {
            match n {
                nr::READ => host_syscall(
                    libc::SYS_read,
                    [fd, self.buf(a[1], a[2], W)?, a[2], 0, 0, 0],
                ),
                nr::WRITE => host_syscall(
                    libc::SYS_write,
                    [fd, self.buf(a[1], a[2], R)?, a[2], 0, 0, 0],
                ),
                nr::PREAD64 => host_syscall(
                    libc::SYS_pread64,
                    [fd, self.buf(a[1], a[2], W)?, a[2], a[3], 0, 0],
                ),
                nr::PWRITE64 => host_syscall(
                    libc::SYS_pwrite64,
                    [fd, self.buf(a[1], a[2], R)?, a[2], a[3], 0, 0],
                ),
                nr::READV | nr::WRITEV => {
                    let iov = self.iovecs(a[1], a[2], if n == nr::READV { W } else { R })?;
                    let sys = if n == nr::READV {
                        libc::SYS_readv
                    } else {
                        libc::SYS_writev
                    };
                    host_syscall(sys, [fd, iov.as_ptr() as u64, iov.len() as u64, 0, 0, 0])
                }
                nr::OPENAT => {
                    let p = self.path(a[1])?;
                    host_syscall(libc::SYS_openat, [fd, p.as_ptr() as u64, a[2], a[3], 0, 0])
                }
                nr::CLOSE => host_syscall(libc::SYS_close, [fd, 0, 0, 0, 0, 0]),
                nr::CLOSE_RANGE => host_syscall(libc::SYS_close_range, [a[0], a[1], a[2], 0, 0, 0]),
                nr::LSEEK => host_syscall(libc::SYS_lseek, [fd, a[1], a[2], 0, 0, 0]),
                nr::FSTAT => {
                    let mut st: libc::stat = std::mem::zeroed();
                    host_syscall(libc::SYS_fstat, [fd, &mut st as *mut _ as u64, 0, 0, 0, 0])?;
                    self.put_stat(a[1], &st)
                }
                nr::NEWFSTATAT => {
                    let p = self.path(a[1])?;
                    let mut st: libc::stat = std::mem::zeroed();
                    host_syscall(
                        libc::SYS_newfstatat,
                        [fd, p.as_ptr() as u64, &mut st as *mut _ as u64, a[3], 0, 0],
                    )?;
                    self.put_stat(a[2], &st)
                }
                nr::STATX => {
                    let p = self.path(a[1])?;
                    let buf = self.buf(a[4], 256, W)?;
                    host_syscall(libc::SYS_statx, [fd, p.as_ptr() as u64, a[2], a[3], buf, 0])
                }
                nr::GETDENTS64 => host_syscall(
                    libc::SYS_getdents64,
                    [fd, self.buf(a[1], a[2], W)?, a[2], 0, 0, 0],
                ),
                nr::READLINKAT => {
                    let raw = self.guest_str(a[1], PATH_MAX)?;
                    let buf = self.buf(a[2], a[3], W)?;
                    if Self::is_self_exe(&raw) {
                        if let Some(exe) = &self.exe {
                            let b = exe.as_os_str().as_bytes();
                            let len = b.len().min(a[3] as usize);
                            self.space
                                .write(a[2], &b[..len])
                                .map_err(|_| libc::EFAULT)?;
                            return Ok(len as u64);
                        }
                    }
                    let p = CString::new(self.host_path(&raw)).map_err(|_| libc::EINVAL)?;
                    host_syscall(
                        libc::SYS_readlinkat,
                        [fd, p.as_ptr() as u64, buf, a[3], 0, 0],
                    )
                }
                nr::FACCESSAT => {
                    let p = self.path(a[1])?;
                    host_syscall(libc::SYS_faccessat, [fd, p.as_ptr() as u64, a[2], 0, 0, 0])
                }
                nr::FACCESSAT2 => {
                    let p = self.path(a[1])?;
                    host_syscall(
                        libc::SYS_faccessat2,
                        [fd, p.as_ptr() as u64, a[2], a[3], 0, 0],
                    )
                }
                nr::FCNTL => self.fcntl(fd, a[1], a[2]),
                nr::DUP => host_syscall(libc::SYS_dup, [fd, 0, 0, 0, 0, 0]),
                nr::DUP3 => host_syscall(libc::SYS_dup3, [fd, a[1], a[2], 0, 0, 0]),
                nr::PIPE2 => {
                    host_syscall(libc::SYS_pipe2, [self.buf(a[0], 8, W)?, a[1], 0, 0, 0, 0])
                }
                nr::IOCTL => self.ioctl(fd, a[1], a[2]),
                nr::MKDIRAT => {
                    let p = self.path(a[1])?;
                    host_syscall(libc::SYS_mkdirat, [fd, p.as_ptr() as u64, a[2], 0, 0, 0])
                }
                nr::MKNODAT => {
                    let p = self.path(a[1])?;
                    host_syscall(libc::SYS_mknodat, [fd, p.as_ptr() as u64, a[2], a[3], 0, 0])
                }
                nr::UNLINKAT => {
                    let p = self.path(a[1])?;
                    host_syscall(libc::SYS_unlinkat, [fd, p.as_ptr() as u64, a[2], 0, 0, 0])
                }
                nr::RENAMEAT | nr::RENAMEAT2 => {
                    let (p, q) = (self.path(a[1])?, self.path(a[3])?);
                    let flags = if n == nr::RENAMEAT2 { a[4] } else { 0 };
                    let nd = a[2] as i32 as i64 as u64;
                    host_syscall(
                        libc::SYS_renameat2,
                        [fd, p.as_ptr() as u64, nd, q.as_ptr() as u64, flags, 0],
                    )
                }
                nr::LINKAT => {
                    let (p, q) = (self.path(a[1])?, self.path(a[3])?);
                    let nd = a[2] as i32 as i64 as u64;
                    host_syscall(
                        libc::SYS_linkat,
                        [fd, p.as_ptr() as u64, nd, q.as_ptr() as u64, a[4], 0],
                    )
                }
                nr::SYMLINKAT => {
                    // The link target is stored verbatim, not translated.
                    let target =
                        CString::new(self.guest_str(a[0], PATH_MAX)?).map_err(|_| libc::EINVAL)?;
                    let p = self.path(a[2])?;
                    let nd = a[1] as i32 as i64 as u64;
                    host_syscall(
                        libc::SYS_symlinkat,
                        [target.as_ptr() as u64, nd, p.as_ptr() as u64, 0, 0, 0],
                    )
                }
                nr::FCHMOD => host_syscall(libc::SYS_fchmod, [fd, a[1], 0, 0, 0, 0]),
                nr::FCHMODAT => {
                    let p = self.path(a[1])?;
                    host_syscall(libc::SYS_fchmodat, [fd, p.as_ptr() as u64, a[2], 0, 0, 0])
                }
                nr::FCHOWN => host_syscall(libc::SYS_fchown, [fd, a[1], a[2], 0, 0, 0]),
                nr::FCHOWNAT => {
                    let p = self.path(a[1])?;
                    host_syscall(
                        libc::SYS_fchownat,
                        [fd, p.as_ptr() as u64, a[2], a[3], a[4], 0],
                    )
                }
                nr::UTIMENSAT => {
                    let p = self.opt_path(a[1])?;
                    let pp = p.as_ref().map_or(0, |c| c.as_ptr() as u64);
                    host_syscall(
                        libc::SYS_utimensat,
                        [fd, pp, self.opt_buf(a[2], 32, R)?, a[3], 0, 0],
                    )
                }
                nr::TRUNCATE => {
                    let p = self.path(a[0])?;
                    host_syscall(libc::SYS_truncate, [p.as_ptr() as u64, a[1], 0, 0, 0, 0])
                }
                nr::FTRUNCATE => host_syscall(libc::SYS_ftruncate, [fd, a[1], 0, 0, 0, 0]),
                nr::FALLOCATE => host_syscall(libc::SYS_fallocate, [fd, a[1], a[2], a[3], 0, 0]),
                nr::FSYNC => host_syscall(libc::SYS_fsync, [fd, 0, 0, 0, 0, 0]),
                nr::FDATASYNC => host_syscall(libc::SYS_fdatasync, [fd, 0, 0, 0, 0, 0]),
                nr::SYNC => host_syscall(libc::SYS_sync, [0; 6]),
                nr::FLOCK => host_syscall(libc::SYS_flock, [fd, a[1], 0, 0, 0, 0]),
                nr::FADVISE64 => Ok(0),
                nr::STATFS => {
                    let p = self.path(a[0])?;
                    host_syscall(
                        libc::SYS_statfs,
                        [p.as_ptr() as u64, self.buf(a[1], 120, W)?, 0, 0, 0, 0],
                    )
                }
                nr::FSTATFS => {
                    host_syscall(libc::SYS_fstatfs, [fd, self.buf(a[1], 120, W)?, 0, 0, 0, 0])
                }
                nr::GETCWD => host_syscall(
                    libc::SYS_getcwd,
                    [self.buf(a[0], a[1], W)?, a[1], 0, 0, 0, 0],
                ),
                nr::CHDIR => {
                    let p = self.path(a[0])?;
                    host_syscall(libc::SYS_chdir, [p.as_ptr() as u64, 0, 0, 0, 0, 0])
                }
                nr::FCHDIR => host_syscall(libc::SYS_fchdir, [fd, 0, 0, 0, 0, 0]),
                nr::UMASK => host_syscall(libc::SYS_umask, [a[0], 0, 0, 0, 0, 0]),
                nr::SENDFILE => {
                    let off = self.opt_buf(a[2], 8, W)?;
                    host_syscall(libc::SYS_sendfile, [fd, a[1], off, a[3], 0, 0])
                }
                nr::COPY_FILE_RANGE => {
                    let (o1, o2) = (self.opt_buf(a[1], 8, W)?, self.opt_buf(a[3], 8, W)?);
                    host_syscall(libc::SYS_copy_file_range, [fd, o1, a[2], o2, a[4], a[5]])
                }
                nr::PPOLL => {
                    let len = a[1].checked_mul(8).ok_or(libc::EINVAL)?;
                    let fds = self.buf(a[0], len, W)?;
                    let ts = self.opt_buf(a[2], 16, W)?;
                    let mask = self.opt_buf(a[3], abi::SIGSET_SIZE, R)?;
                    host_syscall(libc::SYS_ppoll, [fds, a[1], ts, mask, a[4], 0])
                }
                nr::PSELECT6 => self.pselect6(a),
                nr::UNAME => self.uname(a[0]),
                nr::BRK => Ok(self.do_brk(a[0])),
                nr::MMAP => self.mmap(a),
                nr::MUNMAP => {
                    if !a[0].is_multiple_of(PAGE_SIZE) {
                        return Err(libc::EINVAL);
                    }
                    self.code_changed |= self.touches_code(a[0], a[1]);
                    self.space
                        .unmap(a[0], a[1])
                        .map(|()| 0)
                        .map_err(|e| e.errno())
                }
                nr::MPROTECT => {
                    if !a[0].is_multiple_of(PAGE_SIZE) {
                        return Err(libc::EINVAL);
                    }
                    if a[1] == 0 {
                        return Ok(0);
                    }
                    self.code_changed |= self.touches_code(a[0], a[1]);
                    let prot = Prot::from_bits_truncate(a[2] as u32);
                    self.space
                        .protect(a[0], a[1], prot)
                        .map(|()| 0)
                        .map_err(|e| e.errno())
                }
                nr::MREMAP => self.mremap(a),
                nr::MADVISE | nr::MSYNC => Ok(0),
                nr::RISCV_FLUSH_ICACHE => {
                    self.code_changed = true;
                    Ok(0)
                }
                nr::GETPID => Ok(libc::getpid() as u64),
                nr::GETPPID => Ok(libc::getppid() as u64),
                nr::GETTID => host_syscall(libc::SYS_gettid, [0; 6]),
                nr::GETUID => Ok(u64::from(libc::getuid())),
                nr::GETEUID => Ok(u64::from(libc::geteuid())),
                nr::GETGID => Ok(u64::from(libc::getgid())),
                nr::GETEGID => Ok(u64::from(libc::getegid())),
                nr::GETRESUID | nr::GETRESGID => {
                    let sys = if n == nr::GETRESUID {
                        libc::SYS_getresuid
                    } else {
                        libc::SYS_getresgid
                    };
                    host_syscall(
                        sys,
                        [
                            self.buf(a[0], 4, W)?,
                            self.buf(a[1], 4, W)?,
                            self.buf(a[2], 4, W)?,
                            0,
                            0,
                            0,
                        ],
                    )
                }
                nr::SETUID => host_syscall(libc::SYS_setuid, [a[0], 0, 0, 0, 0, 0]),
                nr::SETGID => host_syscall(libc::SYS_setgid, [a[0], 0, 0, 0, 0, 0]),
                nr::GETGROUPS => {
                    let len = a[0].checked_mul(4).ok_or(libc::EINVAL)?;
                    host_syscall(
                        libc::SYS_getgroups,
                        [a[0], self.opt_buf(a[1], len, W)?, 0, 0, 0, 0],
                    )
                }
                nr::SETPGID => host_syscall(libc::SYS_setpgid, [a[0], a[1], 0, 0, 0, 0]),
                nr::GETPGID => host_syscall(libc::SYS_getpgid, [a[0], 0, 0, 0, 0, 0]),
                nr::SETSID => host_syscall(libc::SYS_setsid, [0; 6]),
                nr::GETSID => host_syscall(libc::SYS_getsid, [a[0], 0, 0, 0, 0, 0]),
                nr::GETPRIORITY => host_syscall(libc::SYS_getpriority, [a[0], a[1], 0, 0, 0, 0]),
                nr::SETPRIORITY => host_syscall(libc::SYS_setpriority, [a[0], a[1], a[2], 0, 0, 0]),
                nr::GETRLIMIT => self.prlimit(0, a[0], 0, a[1]),
                nr::SETRLIMIT => self.prlimit(0, a[0], a[1], 0),
                nr::PRLIMIT64 => self.prlimit(a[0], a[1], a[2], a[3]),
                nr::GETRUSAGE => host_syscall(
                    libc::SYS_getrusage,
                    [a[0], self.buf(a[1], 144, W)?, 0, 0, 0, 0],
                ),
                nr::SYSINFO => {
                    host_syscall(libc::SYS_sysinfo, [self.buf(a[0], 112, W)?, 0, 0, 0, 0, 0])
                }
                nr::TIMES => {
                    host_syscall(libc::SYS_times, [self.opt_buf(a[0], 32, W)?, 0, 0, 0, 0, 0])
                }
                nr::CLOCK_GETTIME => host_syscall(
                    libc::SYS_clock_gettime,
                    [a[0], self.buf(a[1], 16, W)?, 0, 0, 0, 0],
                ),
                nr::CLOCK_GETRES => host_syscall(
                    libc::SYS_clock_getres,
                    [a[0], self.opt_buf(a[1], 16, W)?, 0, 0, 0, 0],
                ),
                nr::GETTIMEOFDAY => host_syscall(
                    libc::SYS_gettimeofday,
                    [
                        self.opt_buf(a[0], 16, W)?,
                        self.opt_buf(a[1], 8, W)?,
                        0,
                        0,
                        0,
                        0,
                    ],
                ),
                nr::NANOSLEEP => host_syscall(
                    libc::SYS_nanosleep,
                    [
                        self.buf(a[0], 16, R)?,
                        self.opt_buf(a[1], 16, W)?,
                        0,
                        0,
                        0,
                        0,
                    ],
                ),
                nr::CLOCK_NANOSLEEP => {
                    let (req, rem) = (self.buf(a[2], 16, R)?, self.opt_buf(a[3], 16, W)?);
                    host_syscall(libc::SYS_clock_nanosleep, [a[0], a[1], req, rem, 0, 0])
                }
                nr::GETITIMER => host_syscall(
                    libc::SYS_getitimer,
                    [a[0], self.buf(a[1], 32, W)?, 0, 0, 0, 0],
                ),
                nr::SETITIMER => {
                    let (new, old) = (self.buf(a[1], 32, R)?, self.opt_buf(a[2], 32, W)?);
                    host_syscall(libc::SYS_setitimer, [a[0], new, old, 0, 0, 0])
                }
                nr::SET_TID_ADDRESS => host_syscall(libc::SYS_gettid, [0; 6]),
                nr::SET_ROBUST_LIST => Ok(0),
                nr::FUTEX => self.futex(a),
                nr::SCHED_GETAFFINITY => host_syscall(
                    libc::SYS_sched_getaffinity,
                    [a[0], a[1], self.buf(a[2], a[1], W)?, 0, 0, 0],
                ),
                nr::SCHED_YIELD => host_syscall(libc::SYS_sched_yield, [0; 6]),
                nr::GETRANDOM => host_syscall(
                    libc::SYS_getrandom,
                    [self.buf(a[0], a[1], W)?, a[1], a[2], 0, 0, 0],
                ),
                nr::PRCTL => match a[0] as i32 {
                    libc::PR_SET_NAME => {
                        host_syscall(libc::SYS_prctl, [a[0], self.buf(a[1], 16, R)?, 0, 0, 0, 0])
                    }
                    libc::PR_GET_NAME => {
                        host_syscall(libc::SYS_prctl, [a[0], self.buf(a[1], 16, W)?, 0, 0, 0, 0])
                    }
                    _ => Err(libc::EINVAL),
                },
                nr::RT_SIGACTION => self.rt_sigaction(a),
                nr::RT_SIGPROCMASK => self.rt_sigprocmask(a),
                nr::SIGALTSTACK => self.sigaltstack(a, cpu.x[2]),
                nr::RT_SIGSUSPEND => self.rt_sigsuspend(a),
                nr::RT_SIGPENDING => self.rt_sigpending(a),
                nr::RT_SIGTIMEDWAIT => self.rt_sigtimedwait(a),
                nr::KILL => {
                    if a[0] as i32 == libc::getpid() {
                        self.signal_self(a[1] as i32, false)
                    } else {
                        host_syscall(libc::SYS_kill, [a[0], a[1], 0, 0, 0, 0])
                    }
                }
                nr::TKILL | nr::TGKILL => {
                    let (tid, sig) = if n == nr::TKILL {
                        (a[0], a[1])
                    } else {
                        (a[1], a[2])
                    };
                    if tid as i32 == libc::gettid() {
                        self.signal_self(sig as i32, true)
                    } else if n == nr::TKILL {
                        host_syscall(libc::SYS_tkill, [a[0], a[1], 0, 0, 0, 0])
                    } else {
                        host_syscall(libc::SYS_tgkill, [a[0], a[1], a[2], 0, 0, 0])
                    }
                }
                nr::WAIT4 => {
                    let (st, ru) = (self.opt_buf(a[1], 4, W)?, self.opt_buf(a[3], 144, W)?);
                    host_syscall(libc::SYS_wait4, [a[0], st, a[2], ru, 0, 0])
                }
                nr::WAITID => {
                    let (info, ru) = (self.opt_buf(a[2], 128, W)?, self.opt_buf(a[4], 144, W)?);
                    host_syscall(libc::SYS_waitid, [a[0], a[1], info, a[3], ru, 0])
                }
                nr::CLONE => self.clone(a, cpu),
                nr::EXECVE => self.execve(a),
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
    }

    fn put_stat(&self, addr: u64, st: &libc::stat) -> SysResult {
        let b = TargetStat::from_host(st).to_bytes();
        self.space
            .write(addr, &b)
            .map(|()| 0)
            .map_err(|_| libc::EFAULT)
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

    fn fcntl(&mut self, fd: u64, cmd: u64, arg: u64) -> SysResult {
        let cmd = cmd as i32;
        // SAFETY: flock structs are validated guest buffers; other commands
        // take integers.
        unsafe {
            match cmd {
                libc::F_DUPFD
                | libc::F_DUPFD_CLOEXEC
                | libc::F_GETFD
                | libc::F_SETFD
                | libc::F_GETFL
                | libc::F_SETFL
                | libc::F_GETPIPE_SZ
                | libc::F_SETPIPE_SZ => {
                    host_syscall(libc::SYS_fcntl, [fd, cmd as u64, arg, 0, 0, 0])
                }
                libc::F_GETLK | libc::F_OFD_GETLK => host_syscall(
                    libc::SYS_fcntl,
                    [
                        fd,
                        cmd as u64,
                        self.buf(arg, 32, AccessKind::Write)?,
                        0,
                        0,
                        0,
                    ],
                ),
                libc::F_SETLK | libc::F_SETLKW | libc::F_OFD_SETLK | libc::F_OFD_SETLKW => {
                    host_syscall(
                        libc::SYS_fcntl,
                        [
                            fd,
                            cmd as u64,
                            self.buf(arg, 32, AccessKind::Read)?,
                            0,
                            0,
                            0,
                        ],
                    )
                }
                _ => Err(libc::EINVAL),
            }
        }
    }

    fn ioctl(&mut self, fd: u64, req: u64, arg: u64) -> SysResult {
        use AccessKind::{Read as R, Write as W};
        let (size, kind) = match req as libc::c_ulong {
            libc::TCGETS => (abi::TERMIOS_SIZE, W),
            libc::TCSETS | libc::TCSETSW | libc::TCSETSF => (abi::TERMIOS_SIZE, R),
            libc::TIOCGWINSZ => (8, W),
            libc::TIOCSWINSZ => (8, R),
            libc::TIOCGPGRP | libc::FIONREAD => (4, W),
            libc::TIOCSPGRP | libc::FIONBIO => (4, R),
            libc::TIOCSCTTY | libc::TIOCNOTTY | libc::FIOCLEX | libc::FIONCLEX => (0, R),
            _ => return Err(libc::ENOTTY),
        };
        let p = if size == 0 {
            arg
        } else {
            self.buf(arg, size, kind)?
        };
        // SAFETY: `p` is a validated guest buffer of the size this request
        // uses (layouts identical on both sides, see `abi`), or an integer.
        unsafe { host_syscall(libc::SYS_ioctl, [fd, req, p, 0, 0, 0]) }
    }

    fn pselect6(&mut self, a: [u64; 6]) -> SysResult {
        use AccessKind::{Read as R, Write as W};
        let nfds = a[0] as i32;
        if !(0..=1024).contains(&nfds) {
            return Err(libc::EINVAL);
        }
        let set_len = (nfds as u64).div_ceil(64) * 8;
        let (rd, wr, ex) = (
            self.opt_buf(a[1], set_len, W)?,
            self.opt_buf(a[2], set_len, W)?,
            self.opt_buf(a[3], set_len, W)?,
        );
        let ts = self.opt_buf(a[4], 16, W)?;
        // The sixth argument points to { const sigset_t *ss; size_t ss_len }.
        let mut sig = [0u64; 2];
        if a[5] != 0 {
            let mut b = [0u8; 16];
            self.space.read(a[5], &mut b).map_err(|_| libc::EFAULT)?;
            let mask = u64::from_le_bytes(b[..8].try_into().map_err(|_| libc::EFAULT)?);
            let len = u64::from_le_bytes(b[8..].try_into().map_err(|_| libc::EFAULT)?);
            sig = [self.opt_buf(mask, abi::SIGSET_SIZE, R)?, len];
        }
        let sigp = if a[5] == 0 { 0 } else { sig.as_ptr() as u64 };
        // SAFETY: fd sets, timeout and mask are validated guest buffers;
        // `sig` is a live local.
        unsafe { host_syscall(libc::SYS_pselect6, [a[0], rd, wr, ex, ts, sigp]) }
    }

    fn futex(&mut self, a: [u64; 6]) -> SysResult {
        use AccessKind::{Read as R, Write as W};
        let op = (a[1] & 0x7f) as i32;
        let uaddr = self.buf(a[0], 4, W)?;
        let (timeout, uaddr2) = match op {
            libc::FUTEX_WAIT
            | libc::FUTEX_WAIT_BITSET
            | libc::FUTEX_LOCK_PI
            | libc::FUTEX_WAIT_REQUEUE_PI => {
                let t = self.opt_buf(a[3], 16, R)?;
                let u2 = if op == libc::FUTEX_WAIT_REQUEUE_PI {
                    self.buf(a[4], 4, W)?
                } else {
                    a[4]
                };
                (t, u2)
            }
            libc::FUTEX_REQUEUE
            | libc::FUTEX_CMP_REQUEUE
            | libc::FUTEX_WAKE_OP
            | libc::FUTEX_CMP_REQUEUE_PI => (a[3], self.buf(a[4], 4, W)?),
            _ => (a[3], a[4]),
        };
        // SAFETY: futex words and the timeout are validated guest buffers.
        unsafe { host_syscall(libc::SYS_futex, [uaddr, a[1], a[2], timeout, uaddr2, a[5]]) }
    }

    fn uname(&mut self, addr: u64) -> SysResult {
        // SAFETY: utsname is plain bytes; zeroed is valid, and uname fills it.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a live local of the right type.
        if unsafe { libc::uname(&mut u) } != 0 {
            return Err(errno());
        }
        let mut out = [0u8; 390];
        let fields = [
            &u.sysname,
            &u.nodename,
            &u.release,
            &u.version,
            &u.machine,
            &u.domainname,
        ];
        for (i, f) in fields.iter().enumerate() {
            let dst = &mut out[i * 65..i * 65 + 65];
            for (d, s) in dst.iter_mut().zip(f.iter()) {
                *d = *s as u8;
            }
        }
        let machine = &mut out[4 * 65..5 * 65];
        machine.fill(0);
        machine[..7].copy_from_slice(b"riscv64");
        self.space
            .write(addr, &out)
            .map(|()| 0)
            .map_err(|_| libc::EFAULT)
    }

    /// `brk`: returns the new break, or the old one on failure (Linux's
    /// convention).
    fn do_brk(&mut self, want: u64) -> u64 {
        if want < self.brk_start || want > self.space.size() {
            return self.brk;
        }
        let (Some(old_top), Some(new_top)) = (page_align_up(self.brk), page_align_up(want)) else {
            return self.brk;
        };
        if new_top > old_top {
            let len = new_top - old_top;
            if !self.space.is_free(old_top, len)
                || self.space.map(old_top, len, Prot::RW, true).is_err()
            {
                return self.brk;
            }
        } else if new_top < old_top && self.space.unmap(new_top, old_top - new_top).is_err() {
            return self.brk;
        }
        self.brk = want;
        want
    }

    fn mmap(&mut self, a: [u64; 6]) -> SysResult {
        const MAP_SHARED: u64 = 0x01;
        const MAP_PRIVATE: u64 = 0x02;
        const MAP_SHARED_VALIDATE: u64 = 0x03;
        const MAP_FIXED: u64 = 0x10;
        const MAP_ANONYMOUS: u64 = 0x20;
        const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
        let [addr, len, prot, flags, fd, off] = a;
        let prot = Prot::from_bits_truncate(prot as u32);
        if len == 0 || off % PAGE_SIZE != 0 {
            return Err(libc::EINVAL);
        }
        if !matches!(flags & 0xf, MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE) {
            return Err(libc::EINVAL);
        }
        let plen = page_align_up(len).ok_or(libc::ENOMEM)?;
        let noreplace = flags & MAP_FIXED_NOREPLACE != 0;
        let fixed = flags & MAP_FIXED != 0 || noreplace;
        if fixed && addr % PAGE_SIZE != 0 {
            return Err(libc::EINVAL);
        }
        if noreplace && !self.space.is_free(addr, plen) {
            return Err(libc::EEXIST);
        }
        if fixed {
            self.code_changed |= self.touches_code(addr, plen);
        }
        if flags & MAP_ANONYMOUS != 0 {
            return self
                .space
                .map(addr, plen, prot, fixed)
                .map_err(|e| e.errno());
        }
        // File mapping: a private copy of the file's bytes.
        let fd = fd as i32;
        // SAFETY: F_GETFL takes no pointer.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fl < 0 {
            return Err(libc::EBADF);
        }
        if fl & libc::O_ACCMODE == libc::O_WRONLY {
            return Err(libc::EACCES);
        }
        let start = self
            .space
            .map(addr, plen, Prot::RW, fixed)
            .map_err(|e| e.errno())?;
        let host = self.buf(start, plen, AccessKind::Write)?;
        let mut done = 0u64;
        while done < len {
            // SAFETY: [host + done, host + len) is inside the RW mapping we
            // just made.
            let r = unsafe {
                libc::pread(
                    fd,
                    (host + done) as *mut libc::c_void,
                    (len - done) as usize,
                    (off + done) as i64,
                )
            };
            if r < 0 {
                let e = errno();
                if e == libc::EINTR {
                    continue;
                }
                let _ = self.space.unmap(start, plen);
                return Err(if e == libc::EISDIR { libc::ENODEV } else { e });
            }
            if r == 0 {
                break;
            }
            done += r as u64;
        }
        if prot != Prot::RW {
            self.space
                .protect(start, plen, prot)
                .map_err(|e| e.errno())?;
        }
        Ok(start)
    }

    fn mremap(&mut self, a: [u64; 6]) -> SysResult {
        const MREMAP_MAYMOVE: u64 = 1;
        let [old, old_len, new_len, flags, _, _] = a;
        if old % PAGE_SIZE != 0 || new_len == 0 || flags & !MREMAP_MAYMOVE != 0 {
            return Err(libc::EINVAL);
        }
        let (Some(olen), Some(nlen)) = (page_align_up(old_len), page_align_up(new_len)) else {
            return Err(libc::ENOMEM);
        };
        let prot = self.space.prot_of(old).ok_or(libc::EFAULT)?;
        if self.touches_code(old, olen) {
            self.code_changed = true;
        }
        if nlen <= olen {
            if nlen < olen {
                self.space
                    .unmap(old + nlen, olen - nlen)
                    .map_err(|e| e.errno())?;
            }
            return Ok(old);
        }
        let tail = old.checked_add(olen).ok_or(libc::ENOMEM)?;
        if self.space.is_free(tail, nlen - olen) {
            self.space
                .map(tail, nlen - olen, prot, true)
                .map_err(|e| e.errno())?;
            return Ok(old);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(libc::ENOMEM);
        }
        let mut data = vec![0u8; usize::try_from(olen).map_err(|_| libc::ENOMEM)?];
        if olen > (1 << 32) {
            return Err(libc::ENOMEM);
        }
        let src = self
            .buf(old, olen, AccessKind::Read)
            .or_else(|_| self.buf(old, olen, AccessKind::Execute));
        let src = match src {
            Ok(p) => p,
            Err(_) => return Err(libc::EFAULT),
        };
        // SAFETY: [src, src + olen) is mapped readable guest memory; `data`
        // has olen bytes.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, data.as_mut_ptr(), data.len()) };
        let new = self
            .space
            .map(0, nlen, prot, false)
            .map_err(|e| e.errno())?;
        self.space
            .write_force(new, &data)
            .map_err(|_| libc::EFAULT)?;
        self.space.unmap(old, olen).map_err(|e| e.errno())?;
        Ok(new)
    }

    fn rt_sigaction(&mut self, a: [u64; 6]) -> SysResult {
        let sig = a[0] as i32;
        if a[3] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let idx = usize::try_from(sig)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .filter(|&i| i < signal::NSIG)
            .ok_or(libc::EINVAL)?;
        let old = self.signals.sigactions[idx];
        if a[1] != 0 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                return Err(libc::EINVAL);
            }
            let mut b = [0u8; 24];
            self.space.read(a[1], &mut b).map_err(|_| libc::EFAULT)?;
            let new = TargetSigaction::from_bytes(&b);
            if new.handler != abi::SIG_DFL && new.handler != abi::SIG_IGN {
                self.signals.ensure_trampoline(&self.space)?;
            }
            self.signals.sigactions[idx] = new;
            signal::mirror_disposition(sig, new.handler);
        }
        if a[2] != 0 {
            self.space
                .write(a[2], &old.to_bytes())
                .map_err(|_| libc::EFAULT)?;
        }
        Ok(0)
    }

    fn rt_sigprocmask(&mut self, a: [u64; 6]) -> SysResult {
        if a[3] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let old = self.signals.sigmask;
        if a[1] != 0 {
            let set = self.space.read_u64(a[1]).map_err(|_| libc::EFAULT)?;
            let new = match a[0] as i32 {
                libc::SIG_BLOCK => old | set,
                libc::SIG_UNBLOCK => old & !set,
                libc::SIG_SETMASK => set,
                _ => return Err(libc::EINVAL),
            };
            // Mirrored to the host, except the signals the runtime owns.
            self.signals.set_sigmask(new);
        }
        if a[2] != 0 {
            self.space.write_u64(a[2], old).map_err(|_| libc::EFAULT)?;
        }
        Ok(0)
    }

    /// `sigaltstack`; `sp` is the guest stack pointer (`SS_ONSTACK` in the
    /// old flags while it is on the alternate stack, which then cannot
    /// change).
    fn sigaltstack(&mut self, a: [u64; 6], sp: u64) -> SysResult {
        let mut old = self.signals.altstack;
        let on_alt = old.1 != 2 && sp > old.0 && sp <= old.0.wrapping_add(old.2);
        if on_alt {
            old.1 = 1;
        }
        if a[0] != 0 {
            if on_alt {
                return Err(libc::EPERM);
            }
            let mut b = [0u8; 24];
            self.space.read(a[0], &mut b).map_err(|_| libc::EFAULT)?;
            let w = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
            self.signals.altstack = (w(0), w(8) as u32, w(16));
        }
        if a[1] != 0 {
            let mut b = [0u8; 24];
            b[..8].copy_from_slice(&old.0.to_le_bytes());
            b[8..12].copy_from_slice(&old.1.to_le_bytes());
            b[16..].copy_from_slice(&old.2.to_le_bytes());
            self.space.write(a[1], &b).map_err(|_| libc::EFAULT)?;
        }
        Ok(0)
    }

    /// A signal the guest sends to itself (`thread`: by `tkill`/`tgkill`).
    /// With a handler it becomes pending (delivered at the next delivery
    /// point, once unblocked); ignored signals and those whose default is
    /// to ignore do nothing; otherwise the host process takes the signal
    /// with its default action, so the parent sees the right wait status.
    fn signal_self(&mut self, sig: i32, thread: bool) -> SysResult {
        if sig == 0 {
            return Ok(0);
        }
        let act = self.sigaction(sig).ok_or(libc::EINVAL)?;
        if act.handler == abi::SIG_IGN {
            return Ok(0);
        }
        if act.handler != abi::SIG_DFL || self.signals.sigmask & (1 << (sig - 1)) != 0 {
            signal::raise_self(sig, thread);
            return Ok(0);
        }
        if matches!(
            sig,
            libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH | libc::SIGCONT
        ) {
            return Ok(0);
        }
        crate::terminate_by_signal(sig);
        Ok(0)
    }

    /// `rt_sigreturn`: restores the registers and mask saved in the frame at
    /// the guest `sp`. `pc` is set from the frame.
    fn rt_sigreturn(&mut self, cpu: &mut CpuState) -> SyscallAction {
        if self.signals.sigreturn(&self.space, cpu).is_err() {
            return SyscallAction::Exit(self.fatal_signal(libc::SIGSEGV));
        }
        SyscallAction::Jump
    }

    /// `rt_sigsuspend`: waits with the guest mask replaced by the one at
    /// `a[0]` until a signal with a handler is pending and allowed by it;
    /// always `EINTR`. The original mask is restored after delivery (and
    /// saved in the handler's frame).
    fn rt_sigsuspend(&mut self, a: [u64; 6]) -> SysResult {
        if a[1] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let set = self.space.read_u64(a[0]).map_err(|_| libc::EFAULT)?;
        self.signals.suspend(set);
        Err(libc::EINTR)
    }

    /// `rt_sigpending`: the pending signals, host and recorded.
    fn rt_sigpending(&mut self, a: [u64; 6]) -> SysResult {
        if a[1] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let m = signal::pending_set();
        self.space.write_u64(a[0], m).map_err(|_| libc::EFAULT)?;
        Ok(0)
    }

    /// `rt_sigtimedwait(set, info, timeout, sigsetsize)`: takes a signal of
    /// `set` recorded here, else waits for one on the host.
    fn rt_sigtimedwait(&mut self, a: [u64; 6]) -> SysResult {
        if a[3] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let set = self.space.read_u64(a[0]).map_err(|_| libc::EFAULT)? & !signal::UNBLOCKABLE;
        let sig = match signal::take_pending(!set) {
            Some(sig) => {
                let info = signal::pending_info(sig);
                if a[1] != 0 {
                    self.space.write(a[1], &info).map_err(|_| libc::EFAULT)?;
                }
                sig
            }
            None => {
                let timeout = if a[2] == 0 {
                    None
                } else {
                    Some([
                        self.space.read_u64(a[2]).map_err(|_| libc::EFAULT)? as i64,
                        self.space.read_u64(a[2] + 8).map_err(|_| libc::EFAULT)? as i64,
                    ])
                };
                let (r, info) = signal::wait_host(set, timeout)?;
                if a[1] != 0 {
                    self.space.write(a[1], &info).map_err(|_| libc::EFAULT)?;
                }
                r
            }
        };
        Ok(sig as u64)
    }

    fn clone(&mut self, a: [u64; 6], cpu: &mut CpuState) -> SysResult {
        const CLONE_VM: u64 = 0x100;
        const CLONE_VFORK: u64 = 0x4000;
        const CLONE_THREAD: u64 = 0x10000;
        const CLONE_SETTLS: u64 = 0x80000;
        const CLONE_PARENT_SETTID: u64 = 0x10_0000;
        const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
        const CLONE_CHILD_SETTID: u64 = 0x100_0000;
        let [flags, newsp, parent_tid, child_tid, tls, _] = a;
        if flags & CLONE_THREAD != 0 {
            return Err(libc::ENOSYS);
        }
        let allowed = 0xff
            | CLONE_VM
            | CLONE_VFORK
            | CLONE_SETTLS
            | CLONE_PARENT_SETTID
            | CLONE_CHILD_CLEARTID
            | CLONE_CHILD_SETTID;
        if flags & !allowed != 0 || (flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0) {
            return Err(libc::EINVAL);
        }
        let exit_signal = (flags & 0xff) as i32;
        // SAFETY: fork in a process whose other threads (if any) hold no
        // locks this thread needs afterwards; see the crate docs (the engine
        // must be fork-safe).
        let pid =
            unsafe { libc::syscall(libc::SYS_clone, exit_signal as u64, 0u64, 0u64, 0u64, 0u64) };
        if pid < 0 {
            return Err(errno());
        }
        if pid == 0 {
            // The child: it dies of its fatal signals for real, so that the
            // guest parent's wait sees them.
            self.opts.guest_child = true;
            // A child starts with no pending signals.
            signal::clear_pending();
            if newsp != 0 {
                cpu.x[2] = newsp;
            }
            if flags & CLONE_SETTLS != 0 {
                cpu.x[4] = tls;
            }
            if flags & CLONE_CHILD_SETTID != 0 {
                // SAFETY: gettid cannot fail.
                let tid = unsafe { libc::gettid() } as u32;
                let _ = self.space.write_u32(child_tid, tid);
            }
            return Ok(0);
        }
        if flags & CLONE_PARENT_SETTID != 0 {
            let _ = self.space.write_u32(parent_tid, pid as u32);
        }
        if flags & CLONE_VFORK != 0 {
            // vfork: the parent waits until the child execs or exits. With a
            // copied address space nothing is shared, so not waiting is safe.
        }
        Ok(pid as u64)
    }

    /// Reads a NULL-terminated guest array of string pointers.
    fn string_array(&self, mut addr: u64) -> Result<Vec<Vec<u8>>, i32> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        loop {
            let p = self.space.read_u64(addr).map_err(|_| libc::EFAULT)?;
            if p == 0 {
                return Ok(out);
            }
            if out.len() as u64 >= MAX_ARG_STRINGS {
                return Err(libc::E2BIG);
            }
            let s = self.space.read_cstr(p, MAX_ARG_STRLEN).map_err(|f| {
                if f.addr == p.saturating_add(MAX_ARG_STRLEN as u64) {
                    libc::E2BIG
                } else {
                    libc::EFAULT
                }
            })?;
            out.push(s);
            addr = addr.checked_add(8).ok_or(libc::EFAULT)?;
        }
    }

    /// `execve`: a riscv64 ELF or a `#!` script runs in a fresh cranemu
    /// (re-exec of the host emulator with the same `-L`, `-strace`, `-d`,
    /// `-D` options and the guest's environment); anything else is
    /// `ENOEXEC`. Returns only on failure.
    fn execve(&mut self, a: [u64; 6]) -> SysResult {
        let guest_path = self.guest_str(a[0], PATH_MAX)?;
        let argv = self.string_array(a[1])?;
        let envp = self.string_array(a[2])?;
        let host_path = self.host_path(&guest_path);
        let hp = CString::new(host_path.clone()).map_err(|_| libc::EINVAL)?;
        // SAFETY: hp is a valid C string.
        if unsafe { libc::access(hp.as_ptr(), libc::X_OK) } != 0 {
            return Err(errno());
        }
        let meta = std::fs::metadata(std::ffi::OsStr::from_bytes(&host_path))
            .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOENT))?;
        if !meta.is_file() {
            return Err(libc::EACCES);
        }
        let mut head = [0u8; 256];
        let n = {
            use std::io::Read;
            let mut f = std::fs::File::open(std::ffi::OsStr::from_bytes(&host_path))
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
            f.read(&mut head)
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?
        };
        let head = &head[..n];
        let mut argv0 = argv.first().cloned().unwrap_or_else(|| guest_path.clone());
        let mut rest: Vec<Vec<u8>> = argv.iter().skip(1).cloned().collect();
        let program: Vec<u8>;
        if head.starts_with(b"#!") {
            let (interp, arg) = crate::parse_shebang(head).ok_or(libc::ENOEXEC)?;
            let mut new_rest = Vec::new();
            if let Some(arg) = arg {
                new_rest.push(arg);
            }
            new_rest.push(guest_path.clone());
            new_rest.extend(rest);
            rest = new_rest;
            argv0 = interp.clone();
            program = self.host_path(&interp);
        } else if crate::loader::check_header(head).is_ok()
            || (head.starts_with(b"\x7fELF") && n < 64)
        {
            program = host_path;
        } else if is_host_elf(head) {
            // A program of the host's own architecture (the host's /bin/sh
            // behind popen, say) runs natively, as under qemu-user without
            // binfmt_misc.
            let args = argv.into_iter().map(OsString::from_vec).collect();
            return self.host_execve(OsString::from_vec(host_path), args, envp);
        } else {
            return Err(libc::ENOEXEC);
        }
        let me = std::env::current_exe().map_err(|e| e.raw_os_error().unwrap_or(libc::ENOENT))?;
        let mut args: Vec<OsString> = vec![me.clone().into_os_string(), "run".into()];
        args.extend(self.opts.to_args());
        args.push("-0".into());
        args.push(OsString::from_vec(argv0));
        args.push("--".into());
        args.push(OsString::from_vec(program));
        args.extend(rest.into_iter().map(OsString::from_vec));
        self.host_execve(me.into_os_string(), args, envp)
    }

    /// Replaces this process with host program `path`, arguments `args`
    /// (argv[0] included) and environment `envp` (`NAME=value` strings).
    /// Returns only on failure, with the host's errno.
    fn host_execve(
        &self,
        path: OsString,
        args: Vec<OsString>,
        envp: Vec<Vec<u8>>,
    ) -> Result<u64, i32> {
        let cargs: Vec<CString> = args
            .into_iter()
            .map(|s| CString::new(s.into_vec()))
            .collect::<Result<_, _>>()
            .map_err(|_| libc::EINVAL)?;
        let cenv: Vec<CString> = envp
            .into_iter()
            .map(CString::new)
            .collect::<Result<_, _>>()
            .map_err(|_| libc::EINVAL)?;
        let mut pa: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        pa.push(std::ptr::null());
        let mut pe: Vec<*const libc::c_char> = cenv.iter().map(|c| c.as_ptr()).collect();
        pe.push(std::ptr::null());
        let cme = CString::new(path.into_vec()).map_err(|_| libc::EINVAL)?;
        if self.opts.strace {
            eprintln!(" = 0");
        }
        // SAFETY: every pointer is a live NUL-terminated C string and both
        // arrays end with NULL.
        unsafe { libc::execve(cme.as_ptr(), pa.as_ptr(), pe.as_ptr()) };
        Err(errno())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Process, CpuState) {
        let space = Arc::new(GuestSpace::new().unwrap());
        space.map(0x10000, 0x10000, Prot::RW, true).unwrap();
        space.map(0x20000, 0x1000, Prot::READ, true).unwrap();
        space.set_mmap_top(0x10_0000_0000);
        let p = Process::new(
            space,
            Options::default(),
            Some(PathBuf::from("/guest/prog")),
            0x100000,
        );
        (p, CpuState::default())
    }

    fn call(p: &mut Process, cpu: &mut CpuState, n: u64, args: &[u64]) -> i64 {
        cpu.x[17] = n;
        for (i, &v) in args.iter().enumerate() {
            cpu.x[10 + i] = v;
        }
        assert_eq!(p.do_syscall(cpu), SyscallAction::Continue);
        cpu.x[10] as i64
    }

    #[test]
    fn write_and_read_through_a_pipe() {
        let (mut p, mut cpu) = setup();
        assert_eq!(call(&mut p, &mut cpu, nr::PIPE2, &[0x10000, 0]), 0);
        let rfd = u64::from(p.space.read_u32(0x10000).unwrap());
        let wfd = u64::from(p.space.read_u32(0x10004).unwrap());
        p.space.write(0x11000, b"hello").unwrap();
        assert_eq!(call(&mut p, &mut cpu, nr::WRITE, &[wfd, 0x11000, 5]), 5);
        // Reading into a read-only page is EFAULT, not a host fault.
        assert_eq!(
            call(&mut p, &mut cpu, nr::READ, &[rfd, 0x20000, 5]),
            -(libc::EFAULT as i64)
        );
        assert_eq!(call(&mut p, &mut cpu, nr::READ, &[rfd, 0x12000, 5]), 5);
        let mut b = [0; 5];
        p.space.read(0x12000, &mut b).unwrap();
        assert_eq!(&b, b"hello");
        // Unmapped source buffer.
        assert_eq!(
            call(&mut p, &mut cpu, nr::WRITE, &[wfd, 0x9000_0000, 5]),
            -(libc::EFAULT as i64)
        );
        call(&mut p, &mut cpu, nr::CLOSE, &[rfd]);
        call(&mut p, &mut cpu, nr::CLOSE, &[wfd]);
    }

    #[test]
    fn openat_fstat_getcwd_uname() {
        let (mut p, mut cpu) = setup();
        let dir = std::env::temp_dir().join(format!("cranemu-lu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f.txt");
        std::fs::write(&file, b"0123456789").unwrap();
        let mut path = file.as_os_str().as_bytes().to_vec();
        path.push(0);
        p.space.write(0x13000, &path).unwrap();
        let fd = call(
            &mut p,
            &mut cpu,
            nr::OPENAT,
            &[libc::AT_FDCWD as u64, 0x13000, 0, 0],
        );
        assert!(fd >= 0, "{fd}");
        assert_eq!(call(&mut p, &mut cpu, nr::FSTAT, &[fd as u64, 0x14000]), 0);
        let size = p.space.read_u64(0x14000 + 48).unwrap();
        assert_eq!(size, 10);
        let mode = p.space.read_u32(0x14000 + 16).unwrap();
        assert_eq!(mode & libc::S_IFMT, libc::S_IFREG);
        assert_eq!(
            call(
                &mut p,
                &mut cpu,
                nr::NEWFSTATAT,
                &[libc::AT_FDCWD as u64, 0x13000, 0x14100, 0]
            ),
            0
        );
        assert_eq!(p.space.read_u64(0x14100 + 48).unwrap(), 10);
        assert_eq!(call(&mut p, &mut cpu, nr::CLOSE, &[fd as u64]), 0);
        // Missing file.
        p.space.write(0x13000, b"/nonexistent/x\0").unwrap();
        assert_eq!(
            call(
                &mut p,
                &mut cpu,
                nr::OPENAT,
                &[libc::AT_FDCWD as u64, 0x13000, 0, 0]
            ),
            -(libc::ENOENT as i64)
        );
        // Bad path pointer.
        assert_eq!(
            call(
                &mut p,
                &mut cpu,
                nr::OPENAT,
                &[libc::AT_FDCWD as u64, 0x7777_0000, 0, 0]
            ),
            -(libc::EFAULT as i64)
        );
        let n = call(&mut p, &mut cpu, nr::GETCWD, &[0x15000, 4096]);
        assert!(n > 0);
        let cwd = p.space.read_cstr(0x15000, 4096).unwrap();
        assert_eq!(cwd, std::env::current_dir().unwrap().as_os_str().as_bytes());
        assert_eq!(call(&mut p, &mut cpu, nr::UNAME, &[0x16000]), 0);
        assert_eq!(p.space.read_cstr(0x16000 + 4 * 65, 65).unwrap(), b"riscv64");
        assert_eq!(p.space.read_cstr(0x16000, 65).unwrap(), b"Linux");
        // readlinkat /proc/self/exe is the guest program.
        p.space.write(0x13000, b"/proc/self/exe\0").unwrap();
        let n = call(
            &mut p,
            &mut cpu,
            nr::READLINKAT,
            &[libc::AT_FDCWD as u64, 0x13000, 0x17000, 100],
        );
        assert_eq!(n, 11);
        let mut b = [0; 11];
        p.space.read(0x17000, &mut b).unwrap();
        assert_eq!(&b, b"/guest/prog");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn brk_grows_and_shrinks() {
        let (mut p, mut cpu) = setup();
        assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0]), 0x100000);
        assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0x123456]), 0x123456);
        assert_eq!(p.space.prot_of(0x123000), Some(Prot::RW));
        p.space.write_u64(0x123400, 7).unwrap();
        assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0x101000]), 0x101000);
        assert_eq!(p.space.prot_of(0x123000), None);
        // Absurd values leave it unchanged.
        assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[u64::MAX]), 0x101000);
        assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0x1000]), 0x101000);
    }

    #[test]
    fn mmap_anonymous_file_and_errors() {
        let (mut p, mut cpu) = setup();
        let a = call(
            &mut p,
            &mut cpu,
            nr::MMAP,
            &[0, 0x3000, 3, 0x22, u64::MAX, 0],
        );
        assert!(a > 0 && a as u64 % PAGE_SIZE == 0);
        assert_eq!(p.space.prot_of(a as u64), Some(Prot::RW));
        assert_eq!(call(&mut p, &mut cpu, nr::MUNMAP, &[a as u64, 0x3000]), 0);
        assert_eq!(
            call(&mut p, &mut cpu, nr::MMAP, &[0, 0, 3, 0x22, u64::MAX, 0]),
            -(libc::EINVAL as i64)
        );
        assert_eq!(
            call(
                &mut p,
                &mut cpu,
                nr::MMAP,
                &[0x1001, 0x1000, 3, 0x32, u64::MAX, 0]
            ),
            -(libc::EINVAL as i64)
        );
        assert!(
            call(
                &mut p,
                &mut cpu,
                nr::MMAP,
                &[0, u64::MAX, 3, 0x22, u64::MAX, 0]
            ) < 0
        );
        // Fixed noreplace over an existing mapping.
        assert_eq!(
            call(
                &mut p,
                &mut cpu,
                nr::MMAP,
                &[0x10000, 0x1000, 3, 0x100022, u64::MAX, 0]
            ),
            -(libc::EEXIST as i64)
        );
        // A file mapping holds the file's bytes, read-only.
        let file = std::env::temp_dir().join(format!("cranemu-mmap-{}", std::process::id()));
        std::fs::write(&file, b"file bytes").unwrap();
        let f = std::fs::File::open(&file).unwrap();
        use std::os::fd::AsRawFd;
        let a = call(
            &mut p,
            &mut cpu,
            nr::MMAP,
            &[0, 10, 1, 2, f.as_raw_fd() as u64, 0],
        );
        assert!(a > 0);
        let mut b = [0; 12];
        p.space.read(a as u64, &mut b).unwrap();
        assert_eq!(&b, b"file bytes\0\0");
        assert_eq!(p.space.prot_of(a as u64), Some(Prot::READ));
        assert_eq!(
            call(&mut p, &mut cpu, nr::MPROTECT, &[a as u64, 0x1000, 3]),
            0
        );
        assert_eq!(p.space.prot_of(a as u64), Some(Prot::RW));
        assert_eq!(
            call(&mut p, &mut cpu, nr::MPROTECT, &[0x5000_0000, 0x1000, 3]),
            -(libc::ENOMEM as i64)
        );
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn unknown_syscall_is_enosys_and_exit_reports_status() {
        let (mut p, mut cpu) = setup();
        assert_eq!(call(&mut p, &mut cpu, 9999, &[]), -(libc::ENOSYS as i64));
        assert_eq!(
            call(&mut p, &mut cpu, nr::CLONE3, &[0, 0]),
            -(libc::ENOSYS as i64)
        );
        cpu.x[17] = nr::EXIT_GROUP;
        cpu.x[10] = 0x1_0203;
        assert_eq!(p.do_syscall(&mut cpu), SyscallAction::Exit(3));
    }

    #[test]
    fn sigaction_is_stored() {
        let (mut p, mut cpu) = setup();
        let act = TargetSigaction {
            handler: 0x12345,
            flags: 0,
            mask: 0,
        };
        p.space.write(0x18000, &act.to_bytes()).unwrap();
        assert_eq!(
            call(
                &mut p,
                &mut cpu,
                nr::RT_SIGACTION,
                &[libc::SIGUSR1 as u64, 0x18000, 0, 8]
            ),
            0
        );
        assert_eq!(
            call(
                &mut p,
                &mut cpu,
                nr::RT_SIGACTION,
                &[libc::SIGUSR1 as u64, 0, 0x18100, 8]
            ),
            0
        );
        let mut b = [0; 24];
        p.space.read(0x18100, &mut b).unwrap();
        assert_eq!(TargetSigaction::from_bytes(&b), act);
        assert_eq!(
            call(
                &mut p,
                &mut cpu,
                nr::RT_SIGACTION,
                &[libc::SIGKILL as u64, 0x18000, 0, 8]
            ),
            -(libc::EINVAL as i64)
        );
        assert_eq!(
            call(&mut p, &mut cpu, nr::RT_SIGACTION, &[99, 0, 0, 8]),
            -(libc::EINVAL as i64)
        );
        // Self-signal with a guest handler is pending (for the execution
        // loop to deliver), not fatal.
        // SAFETY: getpid cannot fail.
        let me = unsafe { libc::getpid() } as u64;
        assert_eq!(
            call(&mut p, &mut cpu, nr::KILL, &[me, libc::SIGUSR1 as u64]),
            0
        );
    }

    #[test]
    fn writev_gathers() {
        let (mut p, mut cpu) = setup();
        assert_eq!(call(&mut p, &mut cpu, nr::PIPE2, &[0x10000, 0]), 0);
        let rfd = u64::from(p.space.read_u32(0x10000).unwrap());
        let wfd = u64::from(p.space.read_u32(0x10004).unwrap());
        p.space.write(0x11000, b"ab").unwrap();
        p.space.write(0x11100, b"cde").unwrap();
        let mut iov = Vec::new();
        for (b, l) in [(0x11000u64, 2u64), (0x11100, 3)] {
            iov.extend_from_slice(&b.to_le_bytes());
            iov.extend_from_slice(&l.to_le_bytes());
        }
        p.space.write(0x11200, &iov).unwrap();
        assert_eq!(call(&mut p, &mut cpu, nr::WRITEV, &[wfd, 0x11200, 2]), 5);
        assert_eq!(call(&mut p, &mut cpu, nr::READ, &[rfd, 0x12000, 16]), 5);
        let mut b = [0; 5];
        p.space.read(0x12000, &mut b).unwrap();
        assert_eq!(&b, b"abcde");
        call(&mut p, &mut cpu, nr::CLOSE, &[rfd]);
        call(&mut p, &mut cpu, nr::CLOSE, &[wfd]);
    }
}
