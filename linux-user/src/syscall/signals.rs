//! The signal syscalls: `rt_sigaction`, `rt_sigprocmask`, `sigaltstack`,
//! `rt_sigsuspend`, `rt_sigpending`, `rt_sigtimedwait`, `kill`, `tkill`,
//! `tgkill` and `rt_sigreturn`.
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
                nr::KILL => {
                    if a[0] as i32 == libc::getpid() {
                        self.signal_self(a[1] as i32, false)
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
                        self.signal_self(sig as i32, true)
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

    /// A signal the guest sends to itself (`thread`: by `tkill`/`tgkill`).
    /// With a handler it becomes pending (delivered at the next delivery
    /// point, once unblocked); ignored signals and those whose default is
    /// to ignore do nothing; otherwise the host process takes the signal
    /// with its default action, so the parent sees the right wait status.
    fn signal_self(&mut self, sig: i32, thread: bool) -> SysResult {
        if sig == 0 {
            return Ok(0);
        }
        let act = self.sigaction(sig).ok_or(libc::EINVAL)?;
        if act.handler == abi::SIG_IGN {
            return Ok(0);
        }
        let blocked_here = self.signals.sigmask & (1 << (sig - 1)) != 0;
        if !thread && blocked_here && !signal::HOST_OWNED_SIGNALS.contains(&sig) {
            // Blocked in this thread: another thread that does not block it
            // should take it (guest masks are mirrored to the host's, so the
            // host kernel picks it, and wakes it from a blocking call).
            // SAFETY: kill to our own pid cannot fault.
            return unsafe {
                host_syscall(
                    libc::SYS_kill,
                    [libc::getpid() as u64, sig as u64, 0, 0, 0, 0],
                )
            };
        }
        if act.handler != abi::SIG_DFL || blocked_here {
            signal::raise_self(sig, thread);
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
        let sig = match signal::take_pending(!set) {
            Some(sig) => {
                let info = signal::pending_info(sig);
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
