//! Time syscalls: `times`, `clock_gettime`, `clock_getres`,
//! `gettimeofday`, `nanosleep`, `clock_nanosleep`, `getitimer` and
//! `setitimer`, forwarded to the host (`timespec`, `timeval`, `itimerval`
//! and `tms` have the same layout on both sides; Linux kernel/time/*.c and
//! kernel/sys.c).

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
