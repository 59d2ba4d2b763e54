//! Process attributes and system information: the ids (`getpid`,
//! `getppid`, `gettid`, `getuid`, `geteuid`, `getgid`, `getegid`,
//! `getresuid`, `getresgid`, `setuid`, `setgid`, `setreuid`, `setregid`,
//! `setresuid`, `setresgid`, `setfsuid`, `setfsgid`, `getgroups`,
//! `setgroups`), capabilities (`capget`, `capset`), sessions
//! and process groups (`setpgid`, `getpgid`, `setsid`, `getsid`),
//! `getpriority`, `setpriority`, resource limits (`getrlimit`, `setrlimit`,
//! `prlimit64`), `getrusage`, `sysinfo`, `uname`, `prctl`,
//! `personality`, the scheduler (`sched_getaffinity`, `sched_setaffinity`,
//! `sched_yield`, `sched_getscheduler`, `sched_setscheduler`,
//! `sched_getparam`, `sched_setparam`, `sched_get_priority_max`/`min`,
//! `sched_rr_get_interval`, `getcpu`), `ioprio_get`/`set`, `sethostname`
//! and `getrandom`.
//!
//! The id calls act on the calling host thread, as on Linux: glibc's
//! `setresuid` and friends already make the call on every thread of the
//! guest (its `SIGSETXID` broadcast), and guest threads are host threads.
//!
//! Mostly Linux kernel/sys.c (and kernel/groups.c, kernel/sched/core.c,
//! drivers/char/random.c). The guest sees the host's values, except that
//! `uname` reports machine `riscv64` and the limits in
//! [`GUEST_ONLY_RLIMITS`] are kept for the guest, not applied.

use cranemu_softmmu::user::AccessKind;

use super::{errno, host_syscall, Process, SysResult};
use crate::abi::nr;

/// Resources whose limits a guest may set without the host process obeying
/// them: `RLIMIT_DATA` (2), `RLIMIT_STACK` (3) and `RLIMIT_AS` (9) would
/// constrain the emulator's own memory (a guest `ulimit -v` would make the
/// host allocator fail). QEMU's user mode keeps them from the host too.
const GUEST_ONLY_RLIMITS: [u64; 3] = [2, 3, 9];

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn sys_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        use AccessKind::{Read as R, Write as W};
        let mut known = true;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers/CStrings.
        let r = (|| unsafe {
            match n {
                nr::GETPID => Ok(libc::getpid() as u64),
                nr::GETPPID => Ok(libc::getppid() as u64),
                nr::GETTID => host_syscall(libc::SYS_gettid, [0; 6]),
                nr::GETUID => Ok(u64::from(libc::getuid())),
                nr::GETEUID => Ok(u64::from(libc::geteuid())),
                nr::GETGID => Ok(u64::from(libc::getgid())),
                nr::GETEGID => Ok(u64::from(libc::getegid())),
                nr::GETRESUID | nr::GETRESGID => {
                    let sys = if n == nr::GETRESUID {
                        libc::SYS_getresuid
                    } else {
                        libc::SYS_getresgid
                    };
                    host_syscall(
                        sys,
                        [
                            self.buf(a[0], 4, W)?,
                            self.buf(a[1], 4, W)?,
                            self.buf(a[2], 4, W)?,
                            0,
                            0,
                            0,
                        ],
                    )
                }
                nr::SETUID => host_syscall(libc::SYS_setuid, [a[0], 0, 0, 0, 0, 0]),
                nr::SETGID => host_syscall(libc::SYS_setgid, [a[0], 0, 0, 0, 0, 0]),
                nr::SETREUID => host_syscall(libc::SYS_setreuid, [a[0], a[1], 0, 0, 0, 0]),
                nr::SETREGID => host_syscall(libc::SYS_setregid, [a[0], a[1], 0, 0, 0, 0]),
                nr::SETRESUID => host_syscall(libc::SYS_setresuid, [a[0], a[1], a[2], 0, 0, 0]),
                nr::SETRESGID => host_syscall(libc::SYS_setresgid, [a[0], a[1], a[2], 0, 0, 0]),
                nr::SETFSUID => host_syscall(libc::SYS_setfsuid, [a[0], 0, 0, 0, 0, 0]),
                nr::SETFSGID => host_syscall(libc::SYS_setfsgid, [a[0], 0, 0, 0, 0, 0]),
                nr::SETGROUPS => {
                    let len = a[0].checked_mul(4).ok_or(libc::EINVAL)?;
                    host_syscall(
                        libc::SYS_setgroups,
                        [a[0], self.opt_buf(a[1], len, R)?, 0, 0, 0, 0],
                    )
                }
                // struct __user_cap_header_struct { u32 version; int pid; }
                // and up to two struct __user_cap_data_struct (3 u32 each)
                // for versions 2 and 3 (include/uapi/linux/capability.h);
                // a null data pointer asks only for the preferred version.
                nr::CAPGET | nr::CAPSET => {
                    let hdr = self.buf(a[0], 8, if n == nr::CAPGET { W } else { R })?;
                    let data = self.opt_buf(a[1], 24, if n == nr::CAPGET { W } else { R })?;
                    let sys = if n == nr::CAPGET {
                        libc::SYS_capget
                    } else {
                        libc::SYS_capset
                    };
                    host_syscall(sys, [hdr, data, 0, 0, 0, 0])
                }
                // Only the query (0xffffffff) and PER_LINUX (0), which is
                // what the guest runs with; the host's own personality is
                // never changed (ADDR_NO_RANDOMIZE and friends would act on
                // the emulator, not the guest).
                nr::PERSONALITY => match a[0] as u32 {
                    0xffff_ffff | 0 => Ok(0),
                    _ => Err(libc::EINVAL),
                },
                nr::SETHOSTNAME => host_syscall(
                    libc::SYS_sethostname,
                    [self.buf(a[0], a[1], R)?, a[1], 0, 0, 0, 0],
                ),
                nr::IOPRIO_SET => host_syscall(libc::SYS_ioprio_set, [a[0], a[1], a[2], 0, 0, 0]),
                nr::IOPRIO_GET => host_syscall(libc::SYS_ioprio_get, [a[0], a[1], 0, 0, 0, 0]),
                nr::GETGROUPS => {
                    let len = a[0].checked_mul(4).ok_or(libc::EINVAL)?;
                    host_syscall(
                        libc::SYS_getgroups,
                        [a[0], self.opt_buf(a[1], len, W)?, 0, 0, 0, 0],
                    )
                }
                nr::SETPGID => host_syscall(libc::SYS_setpgid, [a[0], a[1], 0, 0, 0, 0]),
                nr::GETPGID => host_syscall(libc::SYS_getpgid, [a[0], 0, 0, 0, 0, 0]),
                nr::SETSID => host_syscall(libc::SYS_setsid, [0; 6]),
                nr::GETSID => host_syscall(libc::SYS_getsid, [a[0], 0, 0, 0, 0, 0]),
                nr::GETPRIORITY => host_syscall(libc::SYS_getpriority, [a[0], a[1], 0, 0, 0, 0]),
                nr::SETPRIORITY => host_syscall(libc::SYS_setpriority, [a[0], a[1], a[2], 0, 0, 0]),
                nr::GETRLIMIT => self.prlimit(0, a[0], 0, a[1]),
                nr::SETRLIMIT => self.prlimit(0, a[0], a[1], 0),
                nr::PRLIMIT64 => self.prlimit(a[0], a[1], a[2], a[3]),
                nr::GETRUSAGE => host_syscall(
                    libc::SYS_getrusage,
                    [a[0], self.buf(a[1], 144, W)?, 0, 0, 0, 0],
                ),
                nr::SYSINFO => {
                    host_syscall(libc::SYS_sysinfo, [self.buf(a[0], 112, W)?, 0, 0, 0, 0, 0])
                }
                nr::UNAME => self.uname(a[0]),
                nr::PRCTL => match a[0] as i32 {
                    libc::PR_SET_NAME => {
                        host_syscall(libc::SYS_prctl, [a[0], self.buf(a[1], 16, R)?, 0, 0, 0, 0])
                    }
                    libc::PR_GET_NAME => {
                        host_syscall(libc::SYS_prctl, [a[0], self.buf(a[1], 16, W)?, 0, 0, 0, 0])
                    }
                    // Integer arguments and results, about this process
                    // (include/uapi/linux/prctl.h).
                    libc::PR_SET_PDEATHSIG
                    | libc::PR_GET_DUMPABLE
                    | libc::PR_SET_DUMPABLE
                    | libc::PR_GET_KEEPCAPS
                    | libc::PR_SET_KEEPCAPS
                    | libc::PR_CAPBSET_READ
                    | libc::PR_SET_CHILD_SUBREAPER
                    | libc::PR_SET_NO_NEW_PRIVS
                    | libc::PR_GET_NO_NEW_PRIVS
                    | libc::PR_GET_TIMERSLACK
                    | libc::PR_SET_TIMERSLACK
                    | libc::PR_GET_SECCOMP
                    | libc::PR_CAP_AMBIENT => {
                        host_syscall(libc::SYS_prctl, [a[0], a[1], a[2], a[3], a[4], 0])
                    }
                    // An int written through the pointer.
                    libc::PR_GET_PDEATHSIG | libc::PR_GET_CHILD_SUBREAPER => {
                        host_syscall(libc::SYS_prctl, [a[0], self.buf(a[1], 4, W)?, 0, 0, 0, 0])
                    }
                    _ => Err(libc::EINVAL),
                },
                nr::SCHED_GETAFFINITY => host_syscall(
                    libc::SYS_sched_getaffinity,
                    [a[0], a[1], self.buf(a[2], a[1], W)?, 0, 0, 0],
                ),
                // Guest threads are host threads: their affinity is the
                // host thread's (pid 0 or a guest tid, which is a host tid).
                nr::SCHED_SETAFFINITY => host_syscall(
                    libc::SYS_sched_setaffinity,
                    [a[0], a[1], self.buf(a[2], a[1], R)?, 0, 0, 0],
                ),
                nr::SCHED_YIELD => host_syscall(libc::SYS_sched_yield, [0; 6]),
                // struct sched_param is one int on both sides.
                nr::SCHED_GETSCHEDULER => {
                    host_syscall(libc::SYS_sched_getscheduler, [a[0], 0, 0, 0, 0, 0])
                }
                nr::SCHED_SETSCHEDULER => host_syscall(
                    libc::SYS_sched_setscheduler,
                    [a[0], a[1], self.buf(a[2], 4, R)?, 0, 0, 0],
                ),
                nr::SCHED_GETPARAM => host_syscall(
                    libc::SYS_sched_getparam,
                    [a[0], self.buf(a[1], 4, W)?, 0, 0, 0, 0],
                ),
                nr::SCHED_SETPARAM => host_syscall(
                    libc::SYS_sched_setparam,
                    [a[0], self.buf(a[1], 4, R)?, 0, 0, 0, 0],
                ),
                // struct sched_attr: its own size in its first u32
                // (include/uapi/linux/sched/types.h), the same layout on
                // both; the kernel reads or writes that many bytes.
                nr::SCHED_SETATTR => {
                    let mut size = [0u8; 4];
                    self.space.read(a[1], &mut size).map_err(|_| libc::EFAULT)?;
                    let size = u64::from(u32::from_le_bytes(size));
                    if size > 4096 {
                        // sched_copy_attr: larger than a page is E2BIG.
                        return Err(libc::E2BIG);
                    }
                    let size = size.max(4);
                    host_syscall(
                        libc::SYS_sched_setattr,
                        [a[0], self.buf(a[1], size, R)?, a[2], 0, 0, 0],
                    )
                }
                nr::SCHED_GETATTR => host_syscall(
                    libc::SYS_sched_getattr,
                    [a[0], self.buf(a[1], a[2].min(4096), W)?, a[2], a[3], 0, 0],
                ),
                // Per-thread unsharing applies to the calling guest thread's
                // own host thread; namespaces to the whole host process,
                // which the kernel refuses while it has other threads.
                nr::UNSHARE => host_syscall(libc::SYS_unshare, [a[0], 0, 0, 0, 0, 0]),
                // Only the read actions (2 to 4) write the buffer.
                nr::SYSLOG => {
                    let buf = if (2..=4).contains(&a[0]) && a[2] as i32 > 0 {
                        self.buf(a[1], a[2], W)?
                    } else {
                        0
                    };
                    host_syscall(libc::SYS_syslog, [a[0], buf, a[2], 0, 0, 0])
                }
                // KCMP_EPOLL_TFD (7) passes a pointer, not an index.
                nr::KCMP if a[2] == 7 => Err(libc::EINVAL),
                nr::KCMP => host_syscall(libc::SYS_kcmp, [a[0], a[1], a[2], a[3], a[4], 0]),
                nr::SCHED_GET_PRIORITY_MAX => {
                    host_syscall(libc::SYS_sched_get_priority_max, [a[0], 0, 0, 0, 0, 0])
                }
                nr::SCHED_GET_PRIORITY_MIN => {
                    host_syscall(libc::SYS_sched_get_priority_min, [a[0], 0, 0, 0, 0, 0])
                }
                nr::SCHED_RR_GET_INTERVAL => host_syscall(
                    libc::SYS_sched_rr_get_interval,
                    [a[0], self.buf(a[1], 16, W)?, 0, 0, 0, 0],
                ),
                // getcpu(unsigned *cpu, unsigned *node, cache): the host
                // CPU this thread runs on (guest harts are host CPUs).
                nr::GETCPU => host_syscall(
                    libc::SYS_getcpu,
                    [
                        self.opt_buf(a[0], 4, W)?,
                        self.opt_buf(a[1], 4, W)?,
                        0,
                        0,
                        0,
                        0,
                    ],
                ),
                // The guest's threads run as host threads on host CPUs, so
                // the host's barrier on every CPU running this process is
                // the guest's (include/uapi/linux/membarrier.h commands;
                // no pointer arguments).
                nr::MEMBARRIER => host_syscall(libc::SYS_membarrier, [a[0], a[1], a[2], 0, 0, 0]),
                nr::GETRANDOM => host_syscall(
                    libc::SYS_getrandom,
                    [self.buf(a[0], a[1], W)?, a[1], a[2], 0, 0, 0],
                ),
                _ => {
                    known = false;
                    Ok(0)
                }
            }
        })();
        known.then_some(r)
    }

    /// `prlimit64(pid, resource, new, old)` with guest pointers `new` and
    /// `old` (0 for none): [`GUEST_ONLY_RLIMITS`] of this process are kept
    /// here, everything else goes to the host.
    fn prlimit(&mut self, pid: u64, resource: u64, new: u64, old: u64) -> SysResult {
        // SAFETY: getpid has no preconditions.
        let own = pid == 0 || pid == unsafe { libc::getpid() } as u64;
        if !own || !GUEST_ONLY_RLIMITS.contains(&resource) {
            let (new, old) = (
                self.opt_buf(new, 16, AccessKind::Read)?,
                self.opt_buf(old, 16, AccessKind::Write)?,
            );
            // SAFETY: `new` and `old` are null or host addresses of checked
            // 16-byte guest buffers (readable and writable respectively).
            return unsafe { host_syscall(libc::SYS_prlimit64, [pid, resource, new, old, 0, 0]) };
        }
        let known = self
            .shared
            .guest_rlimits
            .lock()
            .iter()
            .find(|(r, _)| *r == resource)
            .copied();
        let current = match known {
            Some((_, l)) => l,
            None => {
                let mut l = libc::rlimit64 {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: `l` is a valid rlimit64 for the kernel to fill.
                if unsafe { libc::prlimit64(0, resource as _, std::ptr::null(), &mut l) } != 0 {
                    return Err(errno());
                }
                [l.rlim_cur, l.rlim_max]
            }
        };
        let wanted = if new != 0 {
            let cur = self.space.read_u64(new).map_err(|_| libc::EFAULT)?;
            let max = self
                .space
                .read_u64(new.wrapping_add(8))
                .map_err(|_| libc::EFAULT)?;
            if cur > max {
                return Err(libc::EINVAL);
            }
            Some([cur, max])
        } else {
            None
        };
        if old != 0 {
            self.space
                .write_u64(old, current[0])
                .map_err(|_| libc::EFAULT)?;
            self.space
                .write_u64(old.wrapping_add(8), current[1])
                .map_err(|_| libc::EFAULT)?;
        }
        if let Some(l) = wanted {
            let mut limits = self.shared.guest_rlimits.lock();
            limits.retain(|(r, _)| *r != resource);
            limits.push((resource, l));
        }
        Ok(0)
    }

    fn uname(&mut self, addr: u64) -> SysResult {
        // SAFETY: utsname is plain bytes; zeroed is valid, and uname fills it.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a live local of the right type.
        if unsafe { libc::uname(&mut u) } != 0 {
            return Err(errno());
        }
        let mut out = [0u8; 390];
        let fields = [
            &u.sysname,
            &u.nodename,
            &u.release,
            &u.version,
            &u.machine,
            &u.domainname,
        ];
        for (i, f) in fields.iter().enumerate() {
            let dst = &mut out[i * 65..i * 65 + 65];
            for (d, s) in dst.iter_mut().zip(f.iter()) {
                *d = *s as u8;
            }
        }
        let machine = &mut out[4 * 65..5 * 65];
        machine.fill(0);
        machine[..7].copy_from_slice(b"riscv64");
        self.space
            .write(addr, &out)
            .map(|()| 0)
            .map_err(|_| libc::EFAULT)
    }
}
