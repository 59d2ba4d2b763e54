//! The signal syscalls: `rt_sigaction`, `rt_sigprocmask`, `sigaltstack`,
//! `rt_sigsuspend`, `rt_sigpending`, `rt_sigtimedwait`, `kill`, `tkill`,
//! `tgkill`, `rt_sigqueueinfo`, `rt_tgsigqueueinfo` and `rt_sigreturn`.
//!
//! Real-time signals (32 to 64) queue: each `kill` or `sigqueue` of one
//! is delivered once, with its own `siginfo`, lowest signal first and in
//! the order sent. The host kernel keeps the queue: signals the guest
//! sends itself travel as host signals, and [`crate::signal`] holds each
//! recorded one blocked on the host until the guest takes it.
//!
//! These decode arguments and guest memory (riscv64 `struct sigaction`
//! without `sa_restorer`, [`TargetSigaction`]; `stack_t`; an 8-byte
//! `sigset_t`), and leave the signal machinery (state, host mirroring,
//! delivery, frames) to [`crate::signal`]. Linux kernel/signal.c and
//! arch/riscv/kernel/signal.c (`rt_sigreturn`).

use cranemu_frontend::CpuState;

use super::{host_syscall, Process, SysResult, SyscallAction};
use crate::abi::{self, nr, TargetSigaction};
use crate::signal;

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn signal_syscall(
        &mut self,
        n: u64,
        a: [u64; 6],
        cpu: &mut CpuState,
    ) -> Option<SysResult> {
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        Some(unsafe {
            match n {
                nr::RT_SIGACTION => self.rt_sigaction(a),
                nr::RT_SIGPROCMASK => self.rt_sigprocmask(a),
                nr::SIGALTSTACK => self.sigaltstack(a, cpu.x[2]),
                nr::RT_SIGSUSPEND => self.rt_sigsuspend(a),
                nr::RT_SIGPENDING => self.rt_sigpending(a),
                nr::RT_SIGTIMEDWAIT => self.rt_sigtimedwait(a),
                nr::RT_SIGQUEUEINFO => self.rt_sigqueueinfo(a),
                nr::RT_TGSIGQUEUEINFO => self.rt_tgsigqueueinfo(a),
                nr::KILL => {
                    if a[0] as i32 == libc::getpid() {
                        self.signal_self(a[1] as i32, false, None)
                    } else {
                        host_syscall(libc::SYS_kill, [a[0], a[1], 0, 0, 0, 0])
                    }
                }
                nr::TKILL | nr::TGKILL => {
                    let (tid, sig) = if n == nr::TKILL {
                        (a[0], a[1])
                    } else {
                        (a[1], a[2])
                    };
                    if tid as i32 == libc::gettid() {
                        self.signal_self(sig as i32, true, None)
                    } else if signal::HOST_OWNED_SIGNALS.contains(&(sig as i32))
                        && signal::is_guest_thread(tid as i32)
                    {
                        self.signal_other_thread(tid as i32, sig as i32)
                    } else if n == nr::TKILL {
                        host_syscall(libc::SYS_tkill, [a[0], a[1], 0, 0, 0, 0])
                    } else {
                        host_syscall(libc::SYS_tgkill, [a[0], a[1], a[2], 0, 0, 0])
                    }
                }
                _ => return None,
            }
        })
    }

    fn rt_sigaction(&mut self, a: [u64; 6]) -> SysResult {
        let sig = a[0] as i32;
        if a[3] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let idx = usize::try_from(sig)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .filter(|&i| i < signal::NSIG)
            .ok_or(libc::EINVAL)?;
        let old = self.signals.shared.sigactions.lock()[idx];
        if a[1] != 0 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                return Err(libc::EINVAL);
            }
            let mut b = [0u8; 24];
            self.space.read(a[1], &mut b).map_err(|_| libc::EFAULT)?;
            let new = TargetSigaction::from_bytes(&b);
            if new.handler != abi::SIG_DFL && new.handler != abi::SIG_IGN {
                self.signals.ensure_trampoline(&self.space)?;
            }
            self.signals.shared.sigactions.lock()[idx] = new;
            signal::mirror_disposition(sig, new.handler);
        }
        if a[2] != 0 {
            self.space
                .write(a[2], &old.to_bytes())
                .map_err(|_| libc::EFAULT)?;
        }
        Ok(0)
    }

    fn rt_sigprocmask(&mut self, a: [u64; 6]) -> SysResult {
        if a[3] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let old = self.signals.sigmask;
        if a[1] != 0 {
            let set = self.space.read_u64(a[1]).map_err(|_| libc::EFAULT)?;
            let new = match a[0] as i32 {
                libc::SIG_BLOCK => old | set,
                libc::SIG_UNBLOCK => old & !set,
                libc::SIG_SETMASK => set,
                _ => return Err(libc::EINVAL),
            };
            // Mirrored to the host, except the signals the runtime owns.
            self.signals.set_sigmask(new);
        }
        if a[2] != 0 {
            self.space.write_u64(a[2], old).map_err(|_| libc::EFAULT)?;
        }
        Ok(0)
    }

    /// `sigaltstack`; `sp` is the guest stack pointer (`SS_ONSTACK` in the
    /// old flags while it is on the alternate stack, which then cannot
    /// change).
    fn sigaltstack(&mut self, a: [u64; 6], sp: u64) -> SysResult {
        let mut old = self.signals.altstack;
        let on_alt = old.1 != 2 && sp > old.0 && sp <= old.0.wrapping_add(old.2);
        if on_alt {
            old.1 = 1;
        }
        if a[0] != 0 {
            if on_alt {
                return Err(libc::EPERM);
            }
            let mut b = [0u8; 24];
            self.space.read(a[0], &mut b).map_err(|_| libc::EFAULT)?;
            let w = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
            self.signals.altstack = (w(0), w(8) as u32, w(16));
        }
        if a[1] != 0 {
            let mut b = [0u8; 24];
            b[..8].copy_from_slice(&old.0.to_le_bytes());
            b[8..12].copy_from_slice(&old.1.to_le_bytes());
            b[16..].copy_from_slice(&old.2.to_le_bytes());
            self.space.write(a[1], &b).map_err(|_| libc::EFAULT)?;
        }
        Ok(0)
    }

    /// A signal the runtime owns on the host (a fault signal) sent to
    /// another guest thread: pending for it if it has a handler, the whole
    /// process killed if the action is the default (as Linux does for a
    /// fatal signal to any thread), nothing if ignored.
    fn signal_other_thread(&mut self, tid: i32, sig: i32) -> SysResult {
        let act = self.sigaction(sig).ok_or(libc::EINVAL)?;
        if act.handler == abi::SIG_IGN {
            return Ok(0);
        }
        if act.handler == abi::SIG_DFL {
            std::process::exit(signal::fatal_signal(&self.opts, sig));
        }
        signal::raise_in_thread(tid, sig).map(|()| 0)
    }

    /// A signal the guest sends to itself (`thread`: by `tkill`/`tgkill`
    /// or `rt_tgsigqueueinfo`), with the `siginfo` of `rt_sigqueueinfo`
    /// (`info`) or the one `kill` gives. With a handler it becomes pending
    /// (delivered at the next delivery point, once unblocked); ignored
    /// signals and those whose default is to ignore do nothing; otherwise
    /// the host process takes the signal with its default action, so the
    /// parent sees the right wait status.
    fn signal_self(
        &mut self,
        sig: i32,
        thread: bool,
        info: Option<&[u8; signal::SIGINFO_SIZE]>,
    ) -> SysResult {
        if sig == 0 {
            return Ok(0);
        }
        let act = self.sigaction(sig).ok_or(libc::EINVAL)?;
        if act.handler == abi::SIG_IGN {
            return Ok(0);
        }
        let blocked_here = self.signals.sigmask & (1 << (sig - 1)) != 0;
        let host_owned = signal::HOST_OWNED_SIGNALS.contains(&sig);
        if !host_owned && ((!thread && blocked_here) || (act.handler != abi::SIG_DFL && sig >= 32))
        {
            // Blocked in this thread: another thread that does not block it
            // should take it (guest masks are mirrored to the host's, so the
            // host kernel picks it, and wakes it from a blocking call). A
            // real-time signal with a handler: the host kernel queues it
            // (see the module doc).
            return send_self_on_host(sig, thread, info);
        }
        if act.handler != abi::SIG_DFL || blocked_here {
            signal::raise_self(sig, thread, info.map(signal::info_words));
            return Ok(0);
        }
        if matches!(
            sig,
            libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH | libc::SIGCONT
        ) {
            return Ok(0);
        }
        crate::terminate_by_signal(sig);
        Ok(0)
    }

    /// `rt_sigqueueinfo(tgid, sig, uinfo)`: `sig` with the guest's
    /// `siginfo` (`si_value` and all; riscv64 and x86-64 lay it out
    /// alike) to a process. Linux's rule: only to itself may a process
    /// send a `si_code` of `kill` or `tkill` (`EPERM`).
    fn rt_sigqueueinfo(&mut self, a: [u64; 6]) -> SysResult {
        let (pid, sig) = (a[0] as i32, a[1] as i32);
        let info = self.queued_info(sig, a[2])?;
        // SAFETY: getpid cannot fail.
        if pid == unsafe { libc::getpid() } {
            return self.signal_self(sig, false, Some(&info));
        }
        if !user_queued(&info) {
            return Err(libc::EPERM);
        }
        // SAFETY: info is a live 128-byte siginfo.
        unsafe {
            host_syscall(
                libc::SYS_rt_sigqueueinfo,
                [a[0], a[1], info.as_ptr() as u64, 0, 0, 0],
            )
        }
    }

    /// `rt_tgsigqueueinfo(tgid, tid, sig, uinfo)`: as `rt_sigqueueinfo`,
    /// to one thread (`pthread_sigqueue`).
    fn rt_tgsigqueueinfo(&mut self, a: [u64; 6]) -> SysResult {
        let (tgid, tid, sig) = (a[0] as i32, a[1] as i32, a[2] as i32);
        let info = self.queued_info(sig, a[3])?;
        // SAFETY: getpid/gettid cannot fail.
        let (pid, me) = unsafe { (libc::getpid(), libc::gettid()) };
        if tgid == pid && tid == me {
            return self.signal_self(sig, true, Some(&info));
        }
        if !user_queued(&info) {
            return Err(libc::EPERM);
        }
        if tgid == pid && signal::HOST_OWNED_SIGNALS.contains(&sig) && signal::is_guest_thread(tid)
        {
            return self.signal_other_thread(tid, sig);
        }
        // SAFETY: info is a live 128-byte siginfo.
        unsafe {
            host_syscall(
                libc::SYS_rt_tgsigqueueinfo,
                [a[0], a[1], a[2], info.as_ptr() as u64, 0, 0],
            )
        }
    }

    /// The `siginfo` a `sigqueue` call passes at guest address `addr`, for
    /// signal `sig` (0 to 64: `EINVAL` otherwise, `EFAULT` if unreadable).
    fn queued_info(&self, sig: i32, addr: u64) -> Result<[u8; signal::SIGINFO_SIZE], i32> {
        if !(0..=64).contains(&sig) {
            return Err(libc::EINVAL);
        }
        let mut info = [0u8; signal::SIGINFO_SIZE];
        self.space.read(addr, &mut info).map_err(|_| libc::EFAULT)?;
        Ok(info)
    }

    /// `rt_sigreturn`: restores the registers and mask saved in the frame at
    /// the guest `sp`. `pc` is set from the frame.
    pub(super) fn rt_sigreturn(&mut self, cpu: &mut CpuState) -> SyscallAction {
        if self.signals.sigreturn(&self.space, cpu).is_err() {
            return SyscallAction::Exit(self.fatal_signal(libc::SIGSEGV));
        }
        SyscallAction::Jump
    }

    /// `rt_sigsuspend`: waits with the guest mask replaced by the one at
    /// `a[0]` until a signal with a handler is pending and allowed by it;
    /// always `EINTR`. The original mask is restored after delivery (and
    /// saved in the handler's frame).
    fn rt_sigsuspend(&mut self, a: [u64; 6]) -> SysResult {
        if a[1] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let set = self.space.read_u64(a[0]).map_err(|_| libc::EFAULT)?;
        self.signals.suspend(set);
        Err(libc::EINTR)
    }

    /// `rt_sigpending`: the pending signals, host and recorded.
    fn rt_sigpending(&mut self, a: [u64; 6]) -> SysResult {
        if a[1] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let m = signal::pending_set();
        self.space.write_u64(a[0], m).map_err(|_| libc::EFAULT)?;
        Ok(0)
    }

    /// `rt_sigtimedwait(set, info, timeout, sigsetsize)`: takes a signal of
    /// `set` recorded here, else waits for one on the host.
    fn rt_sigtimedwait(&mut self, a: [u64; 6]) -> SysResult {
        if a[3] != abi::SIGSET_SIZE {
            return Err(libc::EINVAL);
        }
        let set = self.space.read_u64(a[0]).map_err(|_| libc::EFAULT)? & !signal::UNBLOCKABLE;
        let sig = match self.signals.take_pending(!set) {
            Some((sig, info)) => {
                if a[1] != 0 {
                    self.space.write(a[1], &info).map_err(|_| libc::EFAULT)?;
                }
                sig
            }
            None => {
                let timeout = if a[2] == 0 {
                    None
                } else {
                    Some([
                        self.space.read_u64(a[2]).map_err(|_| libc::EFAULT)? as i64,
                        self.space.read_u64(a[2] + 8).map_err(|_| libc::EFAULT)? as i64,
                    ])
                };
                let (r, info) = signal::wait_host(set, timeout)?;
                if a[1] != 0 {
                    self.space.write(a[1], &info).map_err(|_| libc::EFAULT)?;
                }
                r
            }
        };
        Ok(sig as u64)
    }
}

/// Whether a `siginfo` may come from `sigqueue` to another process: its
/// `si_code` is negative and not `SI_TKILL` (Linux,
/// `do_rt_sigqueueinfo`).
fn user_queued(info: &[u8; signal::SIGINFO_SIZE]) -> bool {
    let code = i32::from_le_bytes([info[8], info[9], info[10], info[11]]);
    code < 0 && code != signal::SI_TKILL
}

/// Sends `sig` to this process (this thread, if `thread`) through the host
/// kernel, with `info` when given (`rt_sigqueueinfo`/`rt_tgsigqueueinfo`,
/// allowed any `si_code` to oneself), else as `kill`/`tgkill` do.
fn send_self_on_host(
    sig: i32,
    thread: bool,
    info: Option<&[u8; signal::SIGINFO_SIZE]>,
) -> SysResult {
    // SAFETY: getpid/gettid cannot fail; the pointer, when passed, is a
    // live 128-byte siginfo.
    unsafe {
        let (pid, tid) = (libc::getpid() as u64, libc::gettid() as u64);
        let sig = sig as u64;
        match (info, thread) {
            (Some(i), false) => host_syscall(
                libc::SYS_rt_sigqueueinfo,
                [pid, sig, i.as_ptr() as u64, 0, 0, 0],
            ),
            (Some(i), true) => host_syscall(
                libc::SYS_rt_tgsigqueueinfo,
                [pid, tid, sig, i.as_ptr() as u64, 0, 0],
            ),
            (None, false) => host_syscall(libc::SYS_kill, [pid, sig, 0, 0, 0, 0]),
            (None, true) => host_syscall(libc::SYS_tgkill, [pid, tid, sig, 0, 0, 0]),
        }
    }
}
