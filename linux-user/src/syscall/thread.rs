//! Thread-support syscalls: `clone` with `CLONE_THREAD`, `set_tid_address`,
//! `set_robust_list` and `futex` (Linux kernel/fork.c,
//! kernel/futex/syscalls.c; operations from include/uapi/linux/futex.h).
//!
//! Each guest thread is a host thread running its own vCPU (its own
//! `CpuState`) over the shared engine and address space, so guest thread
//! ids are host thread ids, and guest futex words are ordinary memory of
//! this process: `futex` validates them and hands their host addresses to
//! the host `futex`, private or shared, with the same operations and
//! timeouts (riscv64 and x86-64 share `struct timespec`).

use cranemu_softmmu::user::AccessKind;

use cranemu_frontend::CpuState;

use super::{host_syscall, NewThread, Process, SysResult, SyscallAction};
use crate::abi::nr;

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn thread_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        Some(unsafe {
            match n {
                nr::SET_TID_ADDRESS => {
                    self.clear_child_tid = a[0];
                    host_syscall(libc::SYS_gettid, [0; 6])
                }
                // Robust futex lists are not walked at thread exit; saying
                // so makes glibc handle robust mutexes itself (as under
                // qemu-user), instead of trusting a kernel that would not.
                nr::SET_ROBUST_LIST => Err(libc::ENOSYS),
                nr::FUTEX => self.futex(a),
                _ => return None,
            }
        })
    }

    /// `clone` for a new thread: the flags glibc's `pthread_create` uses
    /// (`CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
    /// CLONE_SYSVSEM`, optionally `CLONE_SETTLS`, `CLONE_PARENT_SETTID`,
    /// `CLONE_CHILD_SETTID`, `CLONE_CHILD_CLEARTID`); `args` are riscv64's
    /// (flags, stack, parent_tid, tls, child_tid). The execution loop
    /// starts the thread ([`SyscallAction::NewThread`]).
    ///
    /// # Errors
    /// `EINVAL` for flag combinations Linux refuses or this emulation does
    /// not support.
    pub(super) fn clone_thread(
        &mut self,
        a: [u64; 6],
        cpu: &CpuState,
    ) -> Result<SyscallAction, i32> {
        const CLONE_VM: u64 = 0x100;
        const CLONE_FS: u64 = 0x200;
        const CLONE_FILES: u64 = 0x400;
        const CLONE_SIGHAND: u64 = 0x800;
        const CLONE_THREAD: u64 = 0x10000;
        const CLONE_SYSVSEM: u64 = 0x40000;
        const CLONE_SETTLS: u64 = 0x80000;
        const CLONE_PARENT_SETTID: u64 = 0x10_0000;
        const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
        const CLONE_DETACHED: u64 = 0x40_0000;
        const CLONE_CHILD_SETTID: u64 = 0x100_0000;
        const REQUIRED: u64 = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
        let [flags, stack, parent_tid, tls, child_tid, _] = a;
        let allowed = REQUIRED
            | CLONE_FS
            | CLONE_FILES
            | CLONE_SYSVSEM
            | CLONE_SETTLS
            | CLONE_PARENT_SETTID
            | CLONE_CHILD_CLEARTID
            | CLONE_DETACHED
            | CLONE_CHILD_SETTID;
        // Linux: CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM; a
        // thread that does not share files or cwd is not supported here.
        if flags & REQUIRED != REQUIRED
            || flags & (CLONE_FS | CLONE_FILES) != CLONE_FS | CLONE_FILES
            || flags & !allowed != 0
        {
            return Err(libc::EINVAL);
        }
        let mut child = cpu.clone();
        child.x[10] = 0;
        if stack != 0 {
            child.x[2] = stack;
        }
        if flags & CLONE_SETTLS != 0 {
            child.x[4] = tls;
        }
        child.pc = cpu.pc.wrapping_add(4);
        child.take_exit_request();
        child.reservation_addr = u64::MAX;
        let mut process = self.new_thread();
        if flags & CLONE_CHILD_CLEARTID != 0 {
            process.clear_child_tid = child_tid;
        }
        Ok(SyscallAction::NewThread(Box::new(NewThread {
            cpu: child,
            process,
            parent_tid: (flags & CLONE_PARENT_SETTID != 0).then_some(parent_tid),
            child_tid: (flags & CLONE_CHILD_SETTID != 0).then_some(child_tid),
        })))
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
