//! Thread-support syscalls: `clone` with `CLONE_THREAD`, `set_tid_address`,
//! `set_robust_list`/`get_robust_list` and `futex` (Linux kernel/fork.c,
//! kernel/futex/syscalls.c and core.c; operations and the robust list from
//! include/uapi/linux/futex.h).
//!
//! The robust list is the guest's (guest pointers in guest memory), so the
//! host kernel cannot walk it: [`Process::exit_robust_list`] does what
//! Linux's `exit_robust_list` does when the thread ends.
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

/// `sizeof(struct robust_list_head)` on riscv64: `list.next`,
/// `futex_offset`, `list_op_pending`, 8 bytes each.
const ROBUST_LIST_HEAD_SIZE: u64 = 24;
/// Most list entries walked (Linux's `ROBUST_LIST_LIMIT`), so that a
/// circular list cannot hang the exit.
const ROBUST_LIST_LIMIT: usize = 2048;
/// Futex word bits (include/uapi/linux/futex.h).
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
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
                nr::SET_ROBUST_LIST => {
                    if a[1] != ROBUST_LIST_HEAD_SIZE {
                        return Some(Err(libc::EINVAL));
                    }
                    self.robust_list = a[0];
                    Ok(0)
                }
                nr::GET_ROBUST_LIST => self.get_robust_list(a),
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

    /// `get_robust_list(pid, head_ptr, len_ptr)` for the calling thread
    /// (pid 0 or its own tid); other threads' lists are not kept where
    /// this thread can read them (`ESRCH`).
    fn get_robust_list(&mut self, a: [u64; 6]) -> SysResult {
        // SAFETY: gettid cannot fail.
        let tid = unsafe { libc::gettid() } as u64;
        if a[0] != 0 && a[0] != tid {
            return Err(libc::ESRCH);
        }
        self.space
            .write_u64(a[1], self.robust_list)
            .map_err(|_| libc::EFAULT)?;
        self.space
            .write_u64(a[2], ROBUST_LIST_HEAD_SIZE)
            .map_err(|_| libc::EFAULT)?;
        Ok(0)
    }

    /// Linux's `exit_robust_list`: for each futex on this thread's robust
    /// list (and the one in `list_op_pending`) still owned by this thread,
    /// sets `FUTEX_OWNER_DIED` (keeping `FUTEX_WAITERS`) and wakes one
    /// waiter, so the next locker gets `EOWNERDEAD`. An entry pointer's bit
    /// 0 marks a PI futex, whose waiters the host kernel wakes itself. A
    /// list in unreadable memory ends the walk, as in Linux.
    pub fn exit_robust_list(&mut self) {
        let head = std::mem::take(&mut self.robust_list);
        if head == 0 {
            return;
        }
        let read = |a: u64| self.space.read_u64(a).ok();
        let (Some(mut entry), Some(offset), Some(pending)) = (
            read(head),
            read(head.wrapping_add(8)),
            read(head.wrapping_add(16)),
        ) else {
            return;
        };
        // SAFETY: gettid cannot fail.
        let tid = unsafe { libc::gettid() } as u32;
        let pending_pi = pending & 1 != 0;
        let pending = pending & !1;
        for _ in 0..ROBUST_LIST_LIMIT {
            if entry & !1 == head {
                break;
            }
            let Some(next) = read(entry & !1) else {
                return;
            };
            if entry & !1 != pending {
                self.futex_owner_died((entry & !1).wrapping_add(offset), tid, entry & 1 != 0);
            }
            entry = next;
        }
        if pending != 0 {
            self.futex_owner_died(pending.wrapping_add(offset), tid, pending_pi);
        }
    }

    /// Linux's `handle_futex_death` for the futex word at guest `addr`.
    fn futex_owner_died(&self, addr: u64, tid: u32, pi: bool) {
        use std::sync::atomic::{AtomicU32, Ordering};
        if !addr.is_multiple_of(4) {
            return;
        }
        let _ = self.space.access(addr, 4, AccessKind::Write, |p| {
            // SAFETY: an aligned, guest-writable word, mapped for the
            // duration of the call; other threads update it atomically.
            let word = unsafe { AtomicU32::from_ptr(p.cast()) };
            let mut old = word.load(Ordering::SeqCst);
            loop {
                if old & FUTEX_TID_MASK != tid {
                    return;
                }
                let new = (old & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
                match word.compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst) {
                    Ok(_) => {
                        if !pi && new & FUTEX_WAITERS != 0 {
                            // SAFETY: FUTEX_WAKE only uses the address.
                            unsafe {
                                libc::syscall(libc::SYS_futex, p, libc::FUTEX_WAKE, 1, 0, 0, 0);
                            }
                        }
                        return;
                    }
                    Err(x) => old = x,
                }
            }
        });
    }
}
