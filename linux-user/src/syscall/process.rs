//! Process lifecycle syscalls: `clone` (a host `fork`), `execve` (a fresh
//! cranemu for a riscv64 program or `#!` script, the host program itself
//! for a host ELF), `wait4` and `waitid`. `exit` and `exit_group` end the
//! execution loop, in [`Process::do_syscall`].
//!
//! Linux kernel/fork.c, fs/exec.c (`MAX_ARG_STRLEN`, `#!` handling as in
//! fs/binfmt_script.c) and kernel/exit.c; clone flags from
//! include/uapi/linux/sched.h.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use cranemu_frontend::CpuState;
use cranemu_softmmu::user::AccessKind;

use super::{errno, host_syscall, Process, SysResult, PATH_MAX};
use crate::abi::nr;
use crate::signal;

/// Most `argv`/`envp` entries `execve` accepts.
const MAX_ARG_STRINGS: u64 = 0x7fff_ffff;
/// Most bytes of one `argv`/`envp` string (Linux's `MAX_ARG_STRLEN`).
const MAX_ARG_STRLEN: usize = 32 * 4096;

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn process_syscall(
        &mut self,
        n: u64,
        a: [u64; 6],
        cpu: &mut CpuState,
    ) -> Option<SysResult> {
        use AccessKind::Write as W;
        let mut known = true;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        let r = (|| unsafe {
            match n {
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
                nr::EXECVEAT => self.execveat(a),
                _ => {
                    known = false;
                    Ok(0)
                }
            }
        })();
        known.then_some(r)
    }

    fn clone(&mut self, a: [u64; 6], cpu: &mut CpuState) -> SysResult {
        const CLONE_VM: u64 = 0x100;
        const CLONE_VFORK: u64 = 0x4000;
        const CLONE_THREAD: u64 = 0x10000;
        const CLONE_SETTLS: u64 = 0x80000;
        const CLONE_PARENT_SETTID: u64 = 0x10_0000;
        const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
        const CLONE_CHILD_SETTID: u64 = 0x100_0000;
        // riscv64's argument order (CONFIG_CLONE_BACKWARDS): tls before
        // child_tid.
        let [flags, newsp, parent_tid, tls, child_tid, _] = a;
        if flags & CLONE_THREAD != 0 {
            // Threads are `clone_thread`'s (thread.rs).
            return Err(libc::EINVAL);
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
        let fork = || {
            if exit_signal == libc::SIGCHLD {
                // glibc's fork, not the raw syscall: its handlers reset the
                // host allocator's locks in the child, which another thread
                // may hold at this moment.
                // SAFETY: a fork; the child has only this thread, and the
                // emulator's own locks are held by it (see below).
                i64::from(unsafe { libc::fork() })
            } else {
                // SAFETY: as above, with another exit signal (which glibc's
                // fork cannot ask for).
                unsafe {
                    libc::syscall(libc::SYS_clone, exit_signal as u64, 0u64, 0u64, 0u64, 0u64)
                }
            }
        };
        // Other guest threads may hold this process's locks: fork with all
        // of them held by this thread (this crate's first, then the
        // engine's: the order every path takes them in), so the child
        // inherits none held by a thread it does not have.
        let held = self.lock_for_fork();
        let pid = match self.shared.engine.get() {
            Some(engine) => engine.quiesced(fork),
            None => fork(),
        };
        drop(held);
        if pid < 0 {
            return Err(errno());
        }
        if pid == 0 {
            // The child: it dies of its fatal signals for real, so that the
            // guest parent's wait sees them.
            self.opts.guest_child = true;
            // A child starts with no pending signals, and with one thread.
            signal::clear_pending(self.signals.sigmask);
            self.only_thread();
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
        self.exec(guest_path, host_path, argv, envp)
    }

    /// `execveat(dirfd, path, argv, envp, flags)`: [`Process::execve`] of
    /// `path` relative to the directory `dirfd` (or the current one for
    /// `AT_FDCWD`, or the file `dirfd` itself with `AT_EMPTY_PATH` and an
    /// empty path: `fexecve`), found through `/proc/self/fd`. The file of
    /// an `AT_EMPTY_PATH` descriptor must still have a path (not deleted,
    /// not a memfd): the new program is started from it. `AT_SYMLINK_NOFOLLOW`
    /// refuses a final symbolic link with `ELOOP`.
    fn execveat(&mut self, a: [u64; 6]) -> SysResult {
        let dirfd = a[0] as i32;
        let path = self.guest_str(a[1], PATH_MAX)?;
        let flags = a[4] as i32;
        if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) != 0 {
            return Err(libc::EINVAL);
        }
        let fd_path = |fd: i32| -> Result<Vec<u8>, i32> {
            let link =
                std::fs::read_link(format!("/proc/self/fd/{fd}")).map_err(|_| libc::EBADF)?;
            Ok(link.into_os_string().into_vec())
        };
        let (guest_path, host_path) = if path.is_empty() {
            if flags & libc::AT_EMPTY_PATH == 0 {
                return Err(libc::ENOENT);
            }
            let p = fd_path(dirfd)?;
            if !p.starts_with(b"/") || p.ends_with(b" (deleted)") {
                return Err(libc::ENOENT);
            }
            (p.clone(), p)
        } else if path.starts_with(b"/") || dirfd == libc::AT_FDCWD {
            let h = self.host_path(&path);
            (path, h)
        } else {
            let mut p = fd_path(dirfd)?;
            p.push(b'/');
            p.extend_from_slice(&path);
            (p.clone(), p)
        };
        if flags & libc::AT_SYMLINK_NOFOLLOW != 0
            && std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(&host_path))
                .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(libc::ELOOP);
        }
        let argv = self.string_array(a[2])?;
        let envp = self.string_array(a[3])?;
        self.exec(guest_path, host_path, argv, envp)
    }

    /// What [`Process::execve`] and [`Process::execveat`] share: runs the
    /// program at host path `host_path` (`guest_path` as the guest named
    /// it) with `argv` and `envp`.
    fn exec(
        &mut self,
        guest_path: Vec<u8>,
        host_path: Vec<u8>,
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
    ) -> SysResult {
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
            // An interpreter that cannot run fails the call, as the
            // kernel's: missing (ENOENT), not an executable file (EACCES),
            // or not a program (ENOEXEC, checked below).
            let ip = std::ffi::OsStr::from_bytes(&program);
            let meta = std::fs::metadata(ip).map_err(|_| libc::ENOENT)?;
            let ic = CString::new(program.clone()).map_err(|_| libc::EINVAL)?;
            // SAFETY: ic is a valid C string.
            if !meta.is_file() || unsafe { libc::access(ic.as_ptr(), libc::X_OK) } != 0 {
                return Err(libc::EACCES);
            }
            let mut ihead = [0u8; 64];
            let n = {
                use std::io::Read;
                std::fs::File::open(ip)
                    .and_then(|mut f| f.read(&mut ihead))
                    .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?
            };
            let ihead = &ihead[..n];
            // A script that names itself (or a longer loop of them) fails
            // here with ELOOP, as the kernel's execve does, rather than in
            // the program that replaced this one.
            if crate::script_chain_too_deep(
                &self.opts,
                std::path::Path::new(std::ffi::OsStr::from_bytes(&program)),
                1,
            ) {
                return Err(libc::ELOOP);
            }
            if crate::is_host_elf(ihead) {
                // An interpreter that exists only on the host (/bin/sh
                // with no sysroot copy): the host runs the script with it,
                // as under qemu-user without binfmt_misc. The script's path
                // is the host's.
                let mut args = vec![OsString::from_vec(argv0)];
                if let Some(pos) = rest.iter().position(|r| *r == guest_path) {
                    rest[pos] = host_path.clone();
                }
                args.extend(rest.into_iter().map(OsString::from_vec));
                return self.host_execve(OsString::from_vec(program), args, envp);
            }
            if ihead.starts_with(b"\x7fELF") {
                self.check_exec_elf(&program)?;
            } else if !ihead.starts_with(b"#!") {
                return Err(libc::ENOEXEC);
            }
        } else if crate::loader::check_header(head).is_ok()
            || (head.starts_with(b"\x7fELF") && n < 64)
        {
            self.check_exec_elf(&host_path)?;
            program = host_path;
        } else if crate::is_host_elf(head) {
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
        // The guest's variables for the dynamic loader are for its own
        // (riscv64) loader: the host's would apply them to cranemu (a
        // riscv64 LD_PRELOAD fails to load, LD_LIBRARY_PATH could replace
        // cranemu's libraries). They reach the guest through -E instead.
        let (envp, loader_vars): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
            envp.into_iter().partition(|v| !is_host_loader_var(v));
        for v in loader_vars {
            let mut e = OsString::from("-E=");
            e.push(OsString::from_vec(v));
            args.push(e);
        }
        // Attached, so that an `argv[0]` beginning with `-` (a login
        // shell's `-sh`) is not taken for an option.
        let mut a0 = OsString::from("-0=");
        a0.push(OsString::from_vec(argv0));
        args.push(a0);
        args.push("--".into());
        args.push(OsString::from_vec(program));
        args.extend(rest.into_iter().map(OsString::from_vec));
        self.host_execve(me.into_os_string(), args, envp)
    }

    /// Checks the riscv64 ELF at host path `path` before a guest's
    /// `execve` replaces the process with it, as the kernel's `execve`
    /// checks a program before the point of no return: a malformed one
    /// fails with `ENOEXEC`, a missing interpreter with `ENOENT`, a
    /// malformed interpreter with `ELIBBAD`, and the caller goes on.
    fn check_exec_elf(&self, path: &[u8]) -> Result<(), i32> {
        use crate::loader::{check_elf, Image, LoadError};
        // The file at host path `p` checked: its interpreter, or `bad`.
        let check = |p: &[u8], bad: i32| -> Result<Option<String>, i32> {
            let io_errno = |e: &std::io::Error| e.raw_os_error().unwrap_or(libc::EIO);
            let f =
                std::fs::File::open(std::ffi::OsStr::from_bytes(p)).map_err(|e| io_errno(&e))?;
            check_elf(Image::File(&f)).map_err(|e| match e {
                LoadError::Read(e) => io_errno(&e),
                _ => bad,
            })
        };
        if let Some(interp) = check(path, libc::ENOEXEC)? {
            check(&self.host_path(interp.as_bytes()), libc::ELIBBAD)?;
        }
        Ok(())
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
            cranemu_runtime::diagln!(" = 0");
        }
        // The new program starts with the guest's mask, not with the
        // signals this thread holds blocked as well.
        crate::signal::release_held(!0, self.signals.sigmask);
        // SAFETY: every pointer is a live NUL-terminated C string and both
        // arrays end with NULL.
        unsafe { libc::execve(cme.as_ptr(), pa.as_ptr(), pe.as_ptr()) };
        Err(errno())
    }
}

/// Whether the environment entry `v` (`NAME=value`) is one the host's
/// dynamic loader acts on (glibc's `LD_*` variables and
/// `GLIBC_TUNABLES`, elf/dl-support.c and ld.so(8)).
pub(super) fn is_host_loader_var(v: &[u8]) -> bool {
    // An entry without `=` sets nothing (the loader skips it); it stays
    // where it is rather than becoming an `-E` cranemu would refuse.
    let Some(eq) = v.iter().position(|&c| c == b'=') else {
        return false;
    };
    let name = &v[..eq];
    name.starts_with(b"LD_") || name == b"GLIBC_TUNABLES"
}
