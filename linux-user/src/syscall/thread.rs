//! Thread-support syscalls: `set_tid_address`, `set_robust_list` and
//! `futex` (Linux kernel/fork.c, kernel/futex/syscalls.c; operations from
//! include/uapi/linux/futex.h). With one guest thread these are thin: the
//! futex words are validated guest memory handed to the host `futex`.
//! Guest threads (`clone` with `CLONE_THREAD`) belong here.

use cranemu_softmmu::user::AccessKind;

use super::{host_syscall, Process, SysResult};
use crate::abi::nr;

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn thread_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        Some(unsafe {
            match n {
                nr::SET_TID_ADDRESS => host_syscall(libc::SYS_gettid, [0; 6]),
                nr::SET_ROBUST_LIST => Ok(0),
                nr::FUTEX => self.futex(a),
                _ => return None,
            }
        })
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
}
