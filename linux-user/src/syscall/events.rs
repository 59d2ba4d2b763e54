//! Event and I/O-plumbing syscalls: `epoll_create1`, `epoll_ctl`,
//! `epoll_pwait`, `epoll_pwait2`, `eventfd2`, `timerfd_create`,
//! `timerfd_settime`, `timerfd_gettime`, `inotify_init1`,
//! `inotify_add_watch`, `inotify_rm_watch`, `memfd_create`, `signalfd4`,
//! `pidfd_open`, `pidfd_send_signal`, `splice` and `tee`.
//!
//! `signalfd4` reads the host's pending signals: the guest's blocked
//! mask is mirrored to the host's (see [`crate::signal`]), so a signal the
//! guest blocks stays pending in the host kernel, where the signalfd finds
//! it; `struct signalfd_siginfo` is a fixed 128-byte layout on every
//! architecture.
//!
//! Guest descriptors are host descriptors, so these forward to the host
//! kernel (Linux fs/eventpoll.c, fs/eventfd.c, fs/timerfd.c,
//! fs/notify/inotify, mm/memfd.c, fs/splice.c). Flags (`O_CLOEXEC`,
//! `O_NONBLOCK`, `MFD_*`, `IN_*`, `EPOLL*`), `struct itimerspec`,
//! `struct inotify_event` and `loff_t` are the same on riscv64 and
//! x86-64. `struct epoll_event` is not: x86-64 packs it to 12 bytes
//! (`u32 events; u64 data`), riscv64 pads it to 16 (`u32 events; u32
//! pad; u64 data`), so events are converted both ways.
//!
//! The sigmask of `epoll_pwait`/`epoll_pwait2` is passed to the host as a
//! validated guest buffer, as `ppoll` and `pselect6` do (the guest's
//! 64-bit sigset is the host's).

use cranemu_softmmu::user::AccessKind;

use super::{host_syscall, Process, SysResult};
use crate::abi::{self, nr};

/// Size of a guest (riscv64) `struct epoll_event`.
const GUEST_EPOLL_EVENT: u64 = 16;
/// Size of a host (x86-64, packed) `struct epoll_event`.
const HOST_EPOLL_EVENT: usize = 12;
/// `MFD_NAME_MAX_LEN` (mm/memfd.c): longer names are `EINVAL`.
const MFD_NAME_MAX_LEN: usize = 249;

/// Converts a guest `struct epoll_event` to the host's packed one.
fn epoll_event_to_host(g: &[u8; 16]) -> [u8; HOST_EPOLL_EVENT] {
    let mut h = [0u8; HOST_EPOLL_EVENT];
    h[..4].copy_from_slice(&g[..4]);
    h[4..].copy_from_slice(&g[8..]);
    h
}

/// Converts a host packed `struct epoll_event` to the guest's.
fn epoll_event_to_guest(h: &[u8]) -> [u8; 16] {
    let mut g = [0u8; 16];
    g[..4].copy_from_slice(&h[..4]);
    g[8..].copy_from_slice(&h[4..HOST_EPOLL_EVENT]);
    g
}

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn events_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        use AccessKind::{Read as R, Write as W};
        let fd = a[0] as i32 as i64 as u64;
        let mut known = true;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        let r = (|| unsafe {
            match n {
                nr::EVENTFD2 => host_syscall(libc::SYS_eventfd2, [a[0], a[1], 0, 0, 0, 0]),
                nr::EPOLL_CREATE1 => host_syscall(libc::SYS_epoll_create1, [a[0], 0, 0, 0, 0, 0]),
                nr::EPOLL_CTL => {
                    let host = if a[3] == 0 || a[1] as i32 == libc::EPOLL_CTL_DEL {
                        None
                    } else {
                        let mut g = [0u8; 16];
                        self.space.read(a[3], &mut g).map_err(|_| libc::EFAULT)?;
                        Some(epoll_event_to_host(&g))
                    };
                    let ev = host.as_ref().map_or(0, |h| h.as_ptr() as u64);
                    let fd2 = a[2] as i32 as i64 as u64;
                    host_syscall(libc::SYS_epoll_ctl, [fd, a[1], fd2, ev, 0, 0])
                }
                nr::EPOLL_PWAIT | nr::EPOLL_PWAIT2 => self.epoll_pwait(n, fd, a),
                nr::TIMERFD_CREATE => {
                    host_syscall(libc::SYS_timerfd_create, [a[0], a[1], 0, 0, 0, 0])
                }
                nr::TIMERFD_SETTIME => {
                    let new = self.buf(a[2], 32, R)?;
                    let old = self.opt_buf(a[3], 32, W)?;
                    host_syscall(libc::SYS_timerfd_settime, [fd, a[1], new, old, 0, 0])
                }
                nr::TIMERFD_GETTIME => host_syscall(
                    libc::SYS_timerfd_gettime,
                    [fd, self.buf(a[1], 32, W)?, 0, 0, 0, 0],
                ),
                nr::INOTIFY_INIT1 => host_syscall(libc::SYS_inotify_init1, [a[0], 0, 0, 0, 0, 0]),
                nr::INOTIFY_ADD_WATCH => {
                    let p = self.path(a[1])?;
                    host_syscall(
                        libc::SYS_inotify_add_watch,
                        [fd, p.as_ptr() as u64, a[2], 0, 0, 0],
                    )
                }
                nr::INOTIFY_RM_WATCH => {
                    host_syscall(libc::SYS_inotify_rm_watch, [fd, a[1], 0, 0, 0, 0])
                }
                nr::SIGNALFD4 => {
                    if a[2] != abi::SIGSET_SIZE {
                        return Err(libc::EINVAL);
                    }
                    let mask = self.buf(a[1], abi::SIGSET_SIZE, R)?;
                    host_syscall(libc::SYS_signalfd4, [fd, mask, a[2], a[3], 0, 0])
                }
                nr::PIDFD_OPEN => host_syscall(libc::SYS_pidfd_open, [a[0], a[1], 0, 0, 0, 0]),
                // pidfd_send_signal(pidfd, sig, siginfo_t *info, flags): a
                // 128-byte siginfo, the same on both sides.
                nr::PIDFD_SEND_SIGNAL => host_syscall(
                    libc::SYS_pidfd_send_signal,
                    [fd, a[1], self.opt_buf(a[2], 128, R)?, a[3], 0, 0],
                ),
                nr::MEMFD_CREATE => {
                    let name = match self.guest_str(a[0], MFD_NAME_MAX_LEN + 1) {
                        Err(libc::ENAMETOOLONG) => return Err(libc::EINVAL),
                        r => r?,
                    };
                    let name = std::ffi::CString::new(name).map_err(|_| libc::EINVAL)?;
                    host_syscall(
                        libc::SYS_memfd_create,
                        [name.as_ptr() as u64, a[1], 0, 0, 0, 0],
                    )
                }
                nr::SPLICE => {
                    let off_in = self.opt_buf(a[1], 8, W)?;
                    let off_out = self.opt_buf(a[3], 8, W)?;
                    let fd_out = a[2] as i32 as i64 as u64;
                    host_syscall(libc::SYS_splice, [fd, off_in, fd_out, off_out, a[4], a[5]])
                }
                nr::TEE => {
                    let fd_out = a[1] as i32 as i64 as u64;
                    host_syscall(libc::SYS_tee, [fd, fd_out, a[2], a[3], 0, 0])
                }
                _ => {
                    known = false;
                    Ok(0)
                }
            }
        })();
        known.then_some(r)
    }

    /// `epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask,
    /// sigsetsize)` and `epoll_pwait2` (timeout a `struct timespec *`):
    /// waits into a host buffer of packed events, `maxevents` of them as
    /// the guest asked (Linux's own limit, `INT_MAX / sizeof(struct
    /// epoll_event)`, and the guest's writable buffer bound it), then
    /// writes each one back in the guest layout.
    fn epoll_pwait(&mut self, n: u64, fd: u64, a: [u64; 6]) -> SysResult {
        use AccessKind::{Read as R, Write as W};
        let max = a[2] as i32;
        if max <= 0 || max as u64 > i32::MAX as u64 / GUEST_EPOLL_EVENT {
            return Err(libc::EINVAL);
        }
        let max = max as u64;
        self.buf(a[1], max * GUEST_EPOLL_EVENT, W)?;
        let mut host = vec![0u8; max as usize * HOST_EPOLL_EVENT];
        let mask = self.opt_buf(a[4], abi::SIGSET_SIZE, R)?;
        let (sys, timeout) = if n == nr::EPOLL_PWAIT2 {
            (libc::SYS_epoll_pwait2, self.opt_buf(a[3], 16, R)?)
        } else {
            (libc::SYS_epoll_pwait, a[3] as i32 as i64 as u64)
        };
        // SAFETY: `host` holds `max` packed events; the timeout and mask
        // are null or validated guest buffers.
        let got = unsafe {
            host_syscall(
                sys,
                [fd, host.as_mut_ptr() as u64, max, timeout, mask, a[5]],
            )?
        };
        for (i, h) in host
            .chunks_exact(HOST_EPOLL_EVENT)
            .take(got as usize)
            .enumerate()
        {
            let addr = a[1] + i as u64 * GUEST_EPOLL_EVENT;
            self.space
                .write(addr, &epoll_event_to_guest(h))
                .map_err(|_| libc::EFAULT)?;
        }
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_event_layouts() {
        let mut g = [0u8; 16];
        g[..4].copy_from_slice(&0x8000_0001u32.to_le_bytes());
        g[4..8].copy_from_slice(&[0xaa; 4]);
        g[8..].copy_from_slice(&0x0123_4567_89ab_cdefu64.to_le_bytes());
        let h = epoll_event_to_host(&g);
        assert_eq!(&h[..4], &0x8000_0001u32.to_le_bytes());
        assert_eq!(&h[4..], &0x0123_4567_89ab_cdefu64.to_le_bytes());
        let back = epoll_event_to_guest(&h);
        assert_eq!(&back[..4], &g[..4]);
        assert_eq!(&back[4..8], &[0; 4]);
        assert_eq!(&back[8..], &g[8..]);
    }
}
