//! File-descriptor I/O syscalls: `read`, `write`, `pread64`, `pwrite64`,
//! `readv`, `writev`, `close`, `close_range`, `lseek`, `dup`, `dup3`,
//! `pipe2`, `fcntl`, `ioctl`, `fsync`, `fdatasync`, `sync`, `flock`,
//! `fadvise64`, `sendfile`, `copy_file_range`, `ppoll` and `pselect6`.
//!
//! Guest descriptors are host descriptors, so these forward to the host
//! kernel with validated guest buffers (Linux fs/read_write.c, fs/open.c,
//! fs/fcntl.c, fs/ioctl.c, fs/pipe.c, fs/sync.c, fs/locks.c, fs/select.c;
//! structure layouts from include/uapi/asm-generic, see [`crate::abi`]).

use cranemu_softmmu::user::AccessKind;

use super::{host_syscall, Process, SysResult};
use crate::abi::{self, nr};

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn io_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        use AccessKind::{Read as R, Write as W};
        let fd = a[0] as i32 as i64 as u64;
        let mut known = true;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        let r = (|| unsafe {
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
                nr::CLOSE => host_syscall(libc::SYS_close, [fd, 0, 0, 0, 0, 0]),
                nr::CLOSE_RANGE => host_syscall(libc::SYS_close_range, [a[0], a[1], a[2], 0, 0, 0]),
                nr::LSEEK => host_syscall(libc::SYS_lseek, [fd, a[1], a[2], 0, 0, 0]),
                nr::FCNTL => self.fcntl(fd, a[1], a[2]),
                nr::DUP => host_syscall(libc::SYS_dup, [fd, 0, 0, 0, 0, 0]),
                nr::DUP3 => host_syscall(libc::SYS_dup3, [fd, a[1], a[2], 0, 0, 0]),
                nr::PIPE2 => {
                    host_syscall(libc::SYS_pipe2, [self.buf(a[0], 8, W)?, a[1], 0, 0, 0, 0])
                }
                nr::IOCTL => self.ioctl(fd, a[1], a[2]),
                nr::FSYNC => host_syscall(libc::SYS_fsync, [fd, 0, 0, 0, 0, 0]),
                nr::FDATASYNC => host_syscall(libc::SYS_fdatasync, [fd, 0, 0, 0, 0, 0]),
                nr::SYNC => host_syscall(libc::SYS_sync, [0; 6]),
                nr::FLOCK => host_syscall(libc::SYS_flock, [fd, a[1], 0, 0, 0, 0]),
                nr::FADVISE64 => Ok(0),
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
                _ => {
                    known = false;
                    Ok(0)
                }
            }
        })();
        known.then_some(r)
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
}
