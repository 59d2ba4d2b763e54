//! File-system syscalls, on paths and file metadata: `openat`, `fstat`,
//! `newfstatat`, `statx`, `getdents64`, `readlinkat`, `faccessat`,
//! `faccessat2`, `mkdirat`, `mknodat`, `unlinkat`, `renameat`,
//! `renameat2`, `linkat`, `symlinkat`, `fchmod`, `fchmodat`, `fchown`,
//! `fchownat`, `utimensat`, `truncate`, `ftruncate`, `fallocate`,
//! `statfs`, `fstatfs`, `getcwd`, `chdir`, `fchdir`, `chroot`, `umask`,
//! `fchmodat2` and the extended attributes (`setxattr`, `getxattr`,
//! `listxattr`, `removexattr` with their `l` and `f` forms; fs/xattr.c).
//!
//! Path arguments go through the `-L` sysroot ([`Process::host_path`]);
//! `readlinkat` of `/proc/self/exe` is the guest program, and `openat` of
//! `/proc/self/maps`, `/proc/self/auxv` and `/proc/cpuinfo` opens text
//! generated for the guest (`procfs.rs`). `struct stat` is
//! the one layout converted (asm-generic/stat.h, [`TargetStat`]); the rest
//! are passed through (Linux fs/open.c, fs/stat.c, fs/namei.c,
//! fs/readdir.c, fs/d_path.c, fs/statfs.c, fs/utimes.c).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use cranemu_softmmu::user::AccessKind;

use super::procfs::FakeFile;
use super::{host_syscall, Process, SysResult, PATH_MAX};
use crate::abi::{nr, TargetStat};

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn fs_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        use AccessKind::{Read as R, Write as W};
        let fd = a[0] as i32 as i64 as u64;
        let mut known = true;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        let r = (|| unsafe {
            match n {
                nr::OPENAT => {
                    let raw = self.guest_str(a[1], PATH_MAX)?;
                    if let Some(f) = FakeFile::of_path(&raw) {
                        if a[2] & libc::O_ACCMODE as u64 == libc::O_RDONLY as u64 {
                            return self.open_fake_file(f, a[2]);
                        }
                    }
                    let p = CString::new(self.host_path(&raw)).map_err(|_| libc::EINVAL)?;
                    host_syscall(libc::SYS_openat, [fd, p.as_ptr() as u64, a[2], a[3], 0, 0])
                }
                nr::FSTAT => {
                    let mut st: libc::stat = std::mem::zeroed();
                    host_syscall(libc::SYS_fstat, [fd, &mut st as *mut _ as u64, 0, 0, 0, 0])?;
                    self.put_stat(a[1], &st)
                }
                nr::NEWFSTATAT => {
                    let p = self.stat_path(a[1], a[3])?;
                    let mut st: libc::stat = std::mem::zeroed();
                    host_syscall(
                        libc::SYS_newfstatat,
                        [fd, p.as_ptr() as u64, &mut st as *mut _ as u64, a[3], 0, 0],
                    )?;
                    self.put_stat(a[2], &st)
                }
                nr::STATX => {
                    let p = self.stat_path(a[1], a[2])?;
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
                nr::CHROOT => {
                    let p = self.path(a[0])?;
                    host_syscall(libc::SYS_chroot, [p.as_ptr() as u64, 0, 0, 0, 0, 0])
                }
                // fchmodat2(dirfd, path, mode, flags): Linux 6.6; older
                // hosts answer ENOSYS, as Linux before it would.
                nr::FCHMODAT2 => {
                    let p = self.path(a[1])?;
                    host_syscall(452, [fd, p.as_ptr() as u64, a[2], a[3], 0, 0])
                }
                nr::SETXATTR..=nr::FREMOVEXATTR => self.xattr(n, a),
                _ => {
                    known = false;
                    Ok(0)
                }
            }
        })();
        known.then_some(r)
    }

    /// The extended-attribute calls, `setxattr` (5) to `fremovexattr`
    /// (16): a path (through the sysroot, not followed for the `l` forms
    /// by the host itself) or a descriptor, a name of at most 255 bytes
    /// (`XATTR_NAME_MAX`), and a value or list buffer of `size` bytes.
    fn xattr(&mut self, n: u64, a: [u64; 6]) -> SysResult {
        use AccessKind::{Read as R, Write as W};
        // The first argument: a path for the plain and `l` forms, a
        // descriptor for the `f` forms.
        let by_fd = matches!(
            n,
            nr::FSETXATTR | nr::FGETXATTR | nr::FLISTXATTR | nr::FREMOVEXATTR
        );
        let path = if by_fd { None } else { Some(self.path(a[0])?) };
        let first = path
            .as_ref()
            .map_or(a[0] as i32 as i64 as u64, |p| p.as_ptr() as u64);
        let name = || -> Result<CString, i32> {
            let raw = self.guest_str(a[1], 256).map_err(|e| {
                if e == libc::ENAMETOOLONG {
                    libc::ERANGE
                } else {
                    e
                }
            })?;
            CString::new(raw).map_err(|_| libc::EINVAL)
        };
        let sys = match n {
            nr::SETXATTR => libc::SYS_setxattr,
            nr::LSETXATTR => libc::SYS_lsetxattr,
            nr::FSETXATTR => libc::SYS_fsetxattr,
            nr::GETXATTR => libc::SYS_getxattr,
            nr::LGETXATTR => libc::SYS_lgetxattr,
            nr::FGETXATTR => libc::SYS_fgetxattr,
            nr::LISTXATTR => libc::SYS_listxattr,
            nr::LLISTXATTR => libc::SYS_llistxattr,
            nr::FLISTXATTR => libc::SYS_flistxattr,
            nr::REMOVEXATTR => libc::SYS_removexattr,
            nr::LREMOVEXATTR => libc::SYS_lremovexattr,
            _ => libc::SYS_fremovexattr,
        };
        // SAFETY: paths and names are live CStrings; value and list
        // buffers come from `self.opt_buf` for the size the call uses.
        unsafe {
            match n {
                nr::SETXATTR | nr::LSETXATTR | nr::FSETXATTR => {
                    let nm = name()?;
                    let v = self.opt_buf(a[2], a[3], R)?;
                    host_syscall(sys, [first, nm.as_ptr() as u64, v, a[3], a[4], 0])
                }
                nr::GETXATTR | nr::LGETXATTR | nr::FGETXATTR => {
                    let nm = name()?;
                    let v = self.opt_buf(a[2], a[3], W)?;
                    host_syscall(sys, [first, nm.as_ptr() as u64, v, a[3], 0, 0])
                }
                nr::LISTXATTR | nr::LLISTXATTR | nr::FLISTXATTR => {
                    let v = self.opt_buf(a[1], a[2], W)?;
                    host_syscall(sys, [first, v, a[2], 0, 0, 0])
                }
                _ => {
                    let nm = name()?;
                    host_syscall(sys, [first, nm.as_ptr() as u64, 0, 0, 0, 0])
                }
            }
        }
    }

    /// The host path for a `stat` call with `flags`: as [`Process::path`],
    /// except that `/proc/self/exe` with `AT_SYMLINK_NOFOLLOW` stays the
    /// host's `/proc/self/exe` link, so `lstat` sees a symbolic link (whose
    /// target, for `readlink`, is the guest program) and `stat` the program.
    fn stat_path(&self, addr: u64, flags: u64) -> Result<CString, i32> {
        let raw = self.guest_str(addr, PATH_MAX)?;
        if flags & libc::AT_SYMLINK_NOFOLLOW as u64 != 0 && Self::is_self_exe(&raw) {
            return CString::new(raw).map_err(|_| libc::EINVAL);
        }
        CString::new(self.host_path(&raw)).map_err(|_| libc::EINVAL)
    }

    fn put_stat(&self, addr: u64, st: &libc::stat) -> SysResult {
        let b = TargetStat::from_host(st).to_bytes();
        self.space
            .write(addr, &b)
            .map(|()| 0)
            .map_err(|_| libc::EFAULT)
    }
}
