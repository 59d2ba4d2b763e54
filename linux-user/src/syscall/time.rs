//! Time syscalls: `times`, `clock_gettime`, `clock_getres`,
//! `clock_settime`, `gettimeofday`, `settimeofday`, `adjtimex`,
//! `clock_adjtime`, `nanosleep`, `clock_nanosleep`, `getitimer`,
//! `setitimer` and the POSIX timers (`timer_create`, `timer_settime`,
//! `timer_gettime`, `timer_getoverrun`, `timer_delete`), forwarded to the
//! host (`timespec`, `timeval`, `itimerval`, `itimerspec`, `tms`, the
//! 208-byte `struct timex` and the 64-byte `struct sigevent` have the same
//! layout on both sides; Linux kernel/time/*.c and kernel/sys.c).
//!
//! A POSIX timer's signal is a host signal to this process (or, with
//! `SIGEV_THREAD_ID`, to a host thread, which is the guest thread of that
//! id), so it reaches the guest as any other signal from outside does.

use cranemu_softmmu::user::AccessKind;

use super::{host_syscall, Process, SysResult};
use crate::abi::nr;

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn time_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        use AccessKind::{Read as R, Write as W};
        let mut known = true;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        let r = (|| unsafe {
            match n {
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
                nr::CLOCK_SETTIME => host_syscall(
                    libc::SYS_clock_settime,
                    [a[0], self.buf(a[1], 16, R)?, 0, 0, 0, 0],
                ),
                nr::SETTIMEOFDAY => host_syscall(
                    libc::SYS_settimeofday,
                    [
                        self.opt_buf(a[0], 16, R)?,
                        self.opt_buf(a[1], 8, R)?,
                        0,
                        0,
                        0,
                        0,
                    ],
                ),
                nr::ADJTIMEX => {
                    host_syscall(libc::SYS_adjtimex, [self.buf(a[0], 208, W)?, 0, 0, 0, 0, 0])
                }
                nr::CLOCK_ADJTIME => host_syscall(
                    libc::SYS_clock_adjtime,
                    [a[0], self.buf(a[1], 208, W)?, 0, 0, 0, 0],
                ),
                // timer_create(clockid, struct sigevent *, timer_t *id):
                // the kernel's timer id is an int.
                nr::TIMER_CREATE => host_syscall(
                    libc::SYS_timer_create,
                    [
                        a[0],
                        self.opt_buf(a[1], 64, R)?,
                        self.buf(a[2], 4, W)?,
                        0,
                        0,
                        0,
                    ],
                ),
                nr::TIMER_SETTIME => host_syscall(
                    libc::SYS_timer_settime,
                    [
                        a[0],
                        a[1],
                        self.buf(a[2], 32, R)?,
                        self.opt_buf(a[3], 32, W)?,
                        0,
                        0,
                    ],
                ),
                nr::TIMER_GETTIME => host_syscall(
                    libc::SYS_timer_gettime,
                    [a[0], self.buf(a[1], 32, W)?, 0, 0, 0, 0],
                ),
                nr::TIMER_GETOVERRUN => {
                    host_syscall(libc::SYS_timer_getoverrun, [a[0], 0, 0, 0, 0, 0])
                }
                nr::TIMER_DELETE => host_syscall(libc::SYS_timer_delete, [a[0], 0, 0, 0, 0, 0]),
                nr::GETITIMER => host_syscall(
                    libc::SYS_getitimer,
                    [a[0], self.buf(a[1], 32, W)?, 0, 0, 0, 0],
                ),
                nr::SETITIMER => {
                    let (new, old) = (self.buf(a[1], 32, R)?, self.opt_buf(a[2], 32, W)?);
                    host_syscall(libc::SYS_setitimer, [a[0], new, old, 0, 0, 0])
                }
                _ => {
                    known = false;
                    Ok(0)
                }
            }
        })();
        known.then_some(r)
    }
}
