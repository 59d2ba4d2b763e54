//! File-descriptor I/O syscalls: `read`, `write`, `pread64`, `pwrite64`,
//! `readv`, `writev`, `preadv`, `pwritev`, `preadv2`, `pwritev2`,
//! `close`, `close_range`, `lseek`, `dup`, `dup3`, `pipe2`, `fcntl`,
//! `ioctl`, `fsync`, `fdatasync`, `sync`, `syncfs`, `sync_file_range`,
//! `flock`, `fadvise64`, `readahead`, `sendfile`, `copy_file_range`,
//! `vmsplice`, `ppoll` and `pselect6`.
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
                // (fd, iov, iovcnt, pos_l, pos_h[, flags]): on 64-bit
                // hosts and guests pos_l is the whole offset and pos_h is
                // ignored (fs/read_write.c `pos_from_hilo`).
                nr::PREADV | nr::PREADV2 | nr::PWRITEV | nr::PWRITEV2 => {
                    let reads = n == nr::PREADV || n == nr::PREADV2;
                    let iov = self.iovecs(a[1], a[2], if reads { W } else { R })?;
                    let sys = match n {
                        nr::PREADV => libc::SYS_preadv,
                        nr::PREADV2 => libc::SYS_preadv2,
                        nr::PWRITEV => libc::SYS_pwritev,
                        _ => libc::SYS_pwritev2,
                    };
                    host_syscall(
                        sys,
                        [fd, iov.as_ptr() as u64, iov.len() as u64, a[3], a[4], a[5]],
                    )
                }
                nr::VMSPLICE => {
                    // SPLICE_F_GIFT aside, the pages are copied: the guest
                    // buffers are read (into a pipe) or written (from one).
                    let iov = self.iovecs(a[1], a[2], R)?;
                    host_syscall(
                        libc::SYS_vmsplice,
                        [fd, iov.as_ptr() as u64, iov.len() as u64, a[3] & !0x8, 0, 0],
                    )
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
                nr::SYNCFS => host_syscall(libc::SYS_syncfs, [fd, 0, 0, 0, 0, 0]),
                nr::SYNC_FILE_RANGE => {
                    host_syscall(libc::SYS_sync_file_range, [fd, a[1], a[2], a[3], 0, 0])
                }
                nr::READAHEAD => host_syscall(libc::SYS_readahead, [fd, a[1], a[2], 0, 0, 0]),
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

    /// `fcntl`: the commands whose argument is an integer, `struct flock`
    /// (32 bytes, asm-generic/fcntl.h, the same on x86-64) or `struct
    /// f_owner_ex` (8 bytes); any other is `EINVAL`.
    fn fcntl(&mut self, fd: u64, cmd: u64, arg: u64) -> SysResult {
        // include/uapi/asm-generic/fcntl.h
        const F_SETSIG: i32 = 10;
        const F_GETSIG: i32 = 11;
        const F_SETOWN_EX: i32 = 15;
        const F_GETOWN_EX: i32 = 16;
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
                | libc::F_SETPIPE_SZ
                | libc::F_GETOWN
                | libc::F_SETOWN
                | F_GETSIG
                | F_SETSIG
                | libc::F_GETLEASE
                | libc::F_SETLEASE
                | libc::F_NOTIFY
                | libc::F_ADD_SEALS
                | libc::F_GET_SEALS => {
                    host_syscall(libc::SYS_fcntl, [fd, cmd as u64, arg, 0, 0, 0])
                }
                // struct f_owner_ex { int type; pid_t pid; }: 8 bytes.
                F_GETOWN_EX => host_syscall(
                    libc::SYS_fcntl,
                    [
                        fd,
                        cmd as u64,
                        self.buf(arg, 8, AccessKind::Write)?,
                        0,
                        0,
                        0,
                    ],
                ),
                F_SETOWN_EX => host_syscall(
                    libc::SYS_fcntl,
                    [fd, cmd as u64, self.buf(arg, 8, AccessKind::Read)?, 0, 0, 0],
                ),
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

    /// `ioctl`: the terminal, pty, socket and file requests whose
    /// argument is an integer or a pointer-free structure of the same
    /// layout on riscv64 and x86-64 (asm-generic/ioctls.h numbers on both);
    /// any other request is `ENOTTY`.
    fn ioctl(&mut self, fd: u64, req: u64, arg: u64) -> SysResult {
        use AccessKind::{Read as R, Write as W};
        // include/uapi/linux/sockios.h
        const SIOCGIFNAME: libc::c_ulong = 0x8910;
        const SIOCGIFFLAGS: libc::c_ulong = 0x8913;
        const SIOCGIFADDR: libc::c_ulong = 0x8915;
        const SIOCGIFBRDADDR: libc::c_ulong = 0x8919;
        const SIOCGIFNETMASK: libc::c_ulong = 0x891b;
        const SIOCGIFMTU: libc::c_ulong = 0x8921;
        const SIOCGIFHWADDR: libc::c_ulong = 0x8927;
        const SIOCGIFINDEX: libc::c_ulong = 0x8933;
        let (size, kind) = match req as libc::c_ulong {
            libc::TCGETS => (abi::TERMIOS_SIZE, W),
            libc::TCSETS | libc::TCSETSW | libc::TCSETSF => (abi::TERMIOS_SIZE, R),
            libc::TIOCGWINSZ => (8, W),
            libc::TIOCSWINSZ => (8, R),
            libc::TIOCGPGRP | libc::FIONREAD | libc::TIOCOUTQ | libc::TIOCGSID => (4, W),
            libc::TIOCGPTN | libc::TIOCGETD | libc::TIOCMGET | libc::TIOCGEXCL => (4, W),
            libc::TIOCSPGRP | libc::FIONBIO | libc::FIOASYNC | libc::TIOCSPTLCK => (4, R),
            libc::TIOCSETD | libc::TIOCMSET | libc::TIOCMBIS | libc::TIOCMBIC => (4, R),
            libc::TIOCSTI => (1, R),
            // struct termio (the old System V one): 18 bytes on both sides.
            libc::TCGETA => (18, W),
            libc::TCSETA | libc::TCSETAW | libc::TCSETAF => (18, R),
            // struct ifreq: 40 bytes on 64-bit Linux, no pointers in the
            // members these requests use (include/uapi/linux/if.h).
            SIOCGIFNAME | SIOCGIFINDEX | SIOCGIFFLAGS | SIOCGIFADDR | SIOCGIFMTU
            | SIOCGIFHWADDR | SIOCGIFNETMASK | SIOCGIFBRDADDR => (40, W),
            libc::TIOCSCTTY
            | libc::TIOCNOTTY
            | libc::FIOCLEX
            | libc::FIONCLEX
            | libc::TIOCEXCL
            | libc::TIOCNXCL
            | libc::TCSBRK
            | libc::TCSBRKP
            | libc::TCXONC
            | libc::TCFLSH
            | libc::TIOCSBRK
            | libc::TIOCCBRK
            | libc::TIOCVHANGUP
            | libc::TIOCSIG
            | libc::TIOCGPTPEER => (0, R),
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
