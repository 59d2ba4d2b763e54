//! System V IPC: shared memory (`shmget`, `shmat`, `shmdt`, `shmctl`),
//! semaphores (`semget`, `semop`, `semtimedop`, `semctl`) and message
//! queues (`msgget`, `msgsnd`, `msgrcv`, `msgctl`), over the host's (Linux
//! ipc/shm.c, ipc/sem.c, ipc/msg.c); and POSIX message queues (`mq_open`,
//! `mq_unlink`, `mq_timedsend`, `mq_timedreceive`, `mq_notify`,
//! `mq_getsetattr`, ipc/mqueue.c), whose names are the host's too.
//! `struct mq_attr` (eight longs) and `struct sigevent` (64 bytes) are the
//! same on riscv64 and x86-64.
//!
//! Identifiers and keys are the host's, so guest processes share
//! segments, semaphore sets and queues with each other and with host
//! processes. Layouts (include/uapi/asm-generic/{ipcbuf,shmbuf,msgbuf,
//! sembuf}.h for riscv64, arch/x86/include/uapi/asm for x86-64): `struct
//! ipc64_perm`, `shmid64_ds`, `msqid64_ds`, `struct sembuf`, `msgbuf`,
//! `seminfo`, `msginfo`, `shminfo64` and `shm_info` are the same on both;
//! `semid64_ds` is not (x86-64 pads each time with an unused word), so
//! `semctl`'s `IPC_STAT`, `SEM_STAT`, `SEM_STAT_ANY` and `IPC_SET` convert
//! it ([`semid_to_guest`], [`semid_to_host`]).
//!
//! `shmat` first maps the range as guest shared memory (which places it
//! and records it in the page map), then attaches the host segment over
//! those very host pages (`SHM_REMAP`); `shmdt` detaches it and unmaps the
//! range. The attached ranges are remembered per process (`shm_attached`,
//! inherited by a `fork`ed child as Linux's attachments are).

use cranemu_softmmu::user::{AccessKind, Prot, PAGE_SIZE};

use super::{errno, host_syscall, Process, SysResult};
use crate::abi::nr;

/// `IPC_64`: the flag glibc may add to a `*ctl` command for the 64-bit
/// layouts, which are the only ones on riscv64.
const IPC_64: u64 = 0x100;
/// Size of a riscv64 `struct semid64_ds` (`ipc64_perm` and five longs).
const GUEST_SEMID_DS: usize = 88;
/// Size of an x86-64 `struct semid64_ds` (`ipc64_perm` and seven longs).
const HOST_SEMID_DS: usize = 104;
/// Size of `struct ipc64_perm` on both.
const IPC_PERM: usize = 48;
/// Size of `struct shmid64_ds` on both.
const SHMID_DS: u64 = 112;
/// Size of `struct msqid64_ds` on both.
const MSQID_DS: u64 = 120;
/// Size of `struct mq_attr` on both (four longs and four reserved).
const MQ_ATTR: u64 = 64;
/// Size of `struct sigevent` on both.
const SIGEVENT: usize = 64;
/// `SIGEV_THREAD` (include/uapi/asm-generic/siginfo.h): for `mq_notify`,
/// `sigev_value` points at the `NOTIFY_COOKIE_LEN` bytes the kernel sends
/// on the netlink socket `sigev_signo`.
const SIGEV_THREAD: u32 = 2;
/// `NOTIFY_COOKIE_LEN` (include/uapi/linux/mqueue.h).
const NOTIFY_COOKIE_LEN: u64 = 32;
/// The longest message queue name (`NAME_MAX`, plus the leading `/`).
const MQ_NAME_MAX: usize = 256;

/// The riscv64 `semid64_ds` for the host's: `sem_otime` and `sem_ctime`
/// without x86-64's padding words, then `sem_nsems`.
pub(crate) fn semid_to_guest(h: &[u8; HOST_SEMID_DS]) -> [u8; GUEST_SEMID_DS] {
    let mut g = [0u8; GUEST_SEMID_DS];
    g[..IPC_PERM].copy_from_slice(&h[..IPC_PERM]);
    g[48..56].copy_from_slice(&h[48..56]); // sem_otime
    g[56..64].copy_from_slice(&h[64..72]); // sem_ctime
    g[64..72].copy_from_slice(&h[80..88]); // sem_nsems
    g
}

/// The host's `semid64_ds` for a riscv64 one (the inverse of
/// [`semid_to_guest`]; padding words zero).
pub(crate) fn semid_to_host(g: &[u8; GUEST_SEMID_DS]) -> [u8; HOST_SEMID_DS] {
    let mut h = [0u8; HOST_SEMID_DS];
    h[..IPC_PERM].copy_from_slice(&g[..IPC_PERM]);
    h[48..56].copy_from_slice(&g[48..56]);
    h[64..72].copy_from_slice(&g[56..64]);
    h[80..88].copy_from_slice(&g[64..72]);
    h
}

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn ipc_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        use AccessKind::{Read as R, Write as W};
        let mut known = true;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf` for the size the
        // host call uses, or point to live local buffers.
        let r = (|| unsafe {
            match n {
                nr::SHMGET => host_syscall(libc::SYS_shmget, [a[0], a[1], a[2], 0, 0, 0]),
                nr::SHMAT => self.shmat(a[0], a[1], a[2]),
                nr::SHMDT => self.shmdt(a[0]),
                nr::SHMCTL => {
                    let cmd = a[1] & !IPC_64;
                    let (size, kind) = match cmd as i32 {
                        libc::IPC_STAT | SHM_STAT | SHM_STAT_ANY => (SHMID_DS, W),
                        libc::IPC_SET => (SHMID_DS, R),
                        libc::IPC_INFO => (72, W),
                        SHM_INFO => (48, W),
                        _ => (0, R),
                    };
                    let p = if size == 0 {
                        0
                    } else {
                        self.buf(a[2], size, kind)?
                    };
                    host_syscall(libc::SYS_shmctl, [a[0], cmd, p, 0, 0, 0])
                }
                nr::SEMGET => host_syscall(libc::SYS_semget, [a[0], a[1], a[2], 0, 0, 0]),
                // struct sembuf: 6 bytes (u16 num, s16 op, s16 flg).
                nr::SEMOP | nr::SEMTIMEDOP => {
                    let len = a[2].checked_mul(6).ok_or(libc::E2BIG)?;
                    let sops = self.buf(a[1], len, R)?;
                    let ts = if n == nr::SEMTIMEDOP {
                        self.opt_buf(a[3], 16, R)?
                    } else {
                        0
                    };
                    host_syscall(libc::SYS_semtimedop, [a[0], sops, a[2], ts, 0, 0])
                }
                nr::SEMCTL => self.semctl(a[0], a[1], a[2] & !IPC_64, a[3]),
                nr::MSGGET => host_syscall(libc::SYS_msgget, [a[0], a[1], 0, 0, 0, 0]),
                // struct msgbuf: long mtype, then msgsz bytes.
                nr::MSGSND => {
                    let len = a[2].checked_add(8).ok_or(libc::EINVAL)?;
                    host_syscall(
                        libc::SYS_msgsnd,
                        [a[0], self.buf(a[1], len, R)?, a[2], a[3], 0, 0],
                    )
                }
                nr::MSGRCV => {
                    let len = a[2].checked_add(8).ok_or(libc::EINVAL)?;
                    host_syscall(
                        libc::SYS_msgrcv,
                        [a[0], self.buf(a[1], len, W)?, a[2], a[3], a[4], 0],
                    )
                }
                nr::MSGCTL => {
                    let cmd = a[1] & !IPC_64;
                    let (size, kind) = match cmd as i32 {
                        libc::IPC_STAT | libc::MSG_STAT | MSG_STAT_ANY => (MSQID_DS, W),
                        libc::IPC_SET => (MSQID_DS, R),
                        libc::IPC_INFO | libc::MSG_INFO => (32, W),
                        _ => (0, R),
                    };
                    let p = if size == 0 {
                        0
                    } else {
                        self.buf(a[2], size, kind)?
                    };
                    host_syscall(libc::SYS_msgctl, [a[0], cmd, p, 0, 0, 0])
                }
                nr::MQ_OPEN => {
                    let name = self.mq_name(a[0])?;
                    let attr = self.opt_buf(a[3], MQ_ATTR, R)?;
                    host_syscall(
                        libc::SYS_mq_open,
                        [name.as_ptr() as u64, a[1], a[2], attr, 0, 0],
                    )
                }
                nr::MQ_UNLINK => {
                    let name = self.mq_name(a[0])?;
                    host_syscall(libc::SYS_mq_unlink, [name.as_ptr() as u64, 0, 0, 0, 0, 0])
                }
                nr::MQ_TIMEDSEND => host_syscall(
                    libc::SYS_mq_timedsend,
                    [
                        a[0],
                        self.buf(a[1], a[2], R)?,
                        a[2],
                        a[3],
                        self.opt_buf(a[4], 16, R)?,
                        0,
                    ],
                ),
                nr::MQ_TIMEDRECEIVE => host_syscall(
                    libc::SYS_mq_timedreceive,
                    [
                        a[0],
                        self.buf(a[1], a[2], W)?,
                        a[2],
                        self.opt_buf(a[3], 4, W)?,
                        self.opt_buf(a[4], 16, R)?,
                        0,
                    ],
                ),
                nr::MQ_NOTIFY => {
                    let mut ev = [0u8; SIGEVENT];
                    let p = if a[1] == 0 {
                        0
                    } else {
                        self.space.read(a[1], &mut ev).map_err(|_| libc::EFAULT)?;
                        let notify = u32::from_le_bytes(ev[12..16].try_into().unwrap());
                        if notify == SIGEV_THREAD {
                            // The cookie's guest address, made the host's.
                            let cookie = u64::from_le_bytes(ev[..8].try_into().unwrap());
                            let h = self.buf(cookie, NOTIFY_COOKIE_LEN, R)?;
                            ev[..8].copy_from_slice(&h.to_le_bytes());
                        }
                        ev.as_ptr() as u64
                    };
                    host_syscall(libc::SYS_mq_notify, [a[0], p, 0, 0, 0, 0])
                }
                nr::MQ_GETSETATTR => host_syscall(
                    libc::SYS_mq_getsetattr,
                    [
                        a[0],
                        self.opt_buf(a[1], MQ_ATTR, R)?,
                        self.opt_buf(a[2], MQ_ATTR, W)?,
                        0,
                        0,
                        0,
                    ],
                ),
                _ => {
                    known = false;
                    Ok(0)
                }
            }
        })();
        known.then_some(r)
    }

    /// `semctl(id, num, cmd, arg)`: `arg` is an integer (`SETVAL`), a
    /// `semid64_ds` (converted), a `seminfo` or an array of `u16`, one
    /// per semaphore (`GETALL`, `SETALL`).
    fn semctl(&mut self, id: u64, num: u64, cmd: u64, arg: u64) -> SysResult {
        use AccessKind::{Read as R, Write as W};
        let host = |cmd: u64, arg: u64| {
            // SAFETY: `arg` is an integer, a live local or a checked guest
            // buffer of the size `cmd` uses.
            unsafe { host_syscall(libc::SYS_semctl, [id, num, cmd, arg, 0, 0]) }
        };
        let stat = |cmd: u64| -> Result<([u8; HOST_SEMID_DS], u64), i32> {
            let mut h = [0u8; HOST_SEMID_DS];
            let r = host(cmd, h.as_mut_ptr() as u64)?;
            Ok((h, r))
        };
        match cmd as i32 {
            libc::IPC_STAT | SEM_STAT | SEM_STAT_ANY => {
                let (h, r) = stat(cmd)?;
                self.space
                    .write(arg, &semid_to_guest(&h))
                    .map_err(|_| libc::EFAULT)?;
                Ok(r)
            }
            libc::IPC_SET => {
                let mut g = [0u8; GUEST_SEMID_DS];
                self.space.read(arg, &mut g).map_err(|_| libc::EFAULT)?;
                let h = semid_to_host(&g);
                host(cmd, h.as_ptr() as u64)
            }
            libc::IPC_INFO | SEM_INFO => host(cmd, self.buf(arg, 40, W)?),
            GETALL | SETALL => {
                let (h, _) = stat(libc::IPC_STAT as u64)?;
                let nsems = u64::from_le_bytes(h[80..88].try_into().map_err(|_| libc::EINVAL)?);
                let kind = if cmd as i32 == GETALL { W } else { R };
                host(cmd, self.buf(arg, nsems * 2, kind)?)
            }
            _ => host(cmd, arg),
        }
    }
    /// A message queue name argument (a guest C string, not a path: the
    /// name lives in the host's mqueue namespace, never under `-L`).
    fn mq_name(&self, addr: u64) -> Result<std::ffi::CString, i32> {
        let name = self.guest_str(addr, MQ_NAME_MAX)?;
        std::ffi::CString::new(name).map_err(|_| libc::EINVAL)
    }

    /// `shmat(id, addr, flags)`: see the module doc.
    fn shmat(&mut self, id: u64, addr: u64, flags: u64) -> SysResult {
        let flags = flags as i32;
        let mut ds = [0u8; SHMID_DS as usize];
        // SAFETY: `ds` is a live local of the size IPC_STAT writes.
        unsafe {
            host_syscall(
                libc::SYS_shmctl,
                [id, libc::IPC_STAT as u64, ds.as_mut_ptr() as u64, 0, 0, 0],
            )?
        };
        let size = u64::from_le_bytes(ds[48..56].try_into().map_err(|_| libc::EINVAL)?);
        let len = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let mut addr = addr;
        if flags & libc::SHM_RND != 0 {
            addr &= !(PAGE_SIZE - 1);
        }
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(libc::EINVAL);
        }
        let mut prot = Prot::READ;
        if flags & libc::SHM_RDONLY == 0 {
            prot |= Prot::WRITE;
        }
        if flags & libc::SHM_EXEC != 0 {
            prot |= Prot::EXEC;
        }
        let fixed = addr != 0;
        if fixed && flags & libc::SHM_REMAP == 0 && !self.space.is_free(addr, len) {
            return Err(libc::EINVAL);
        }
        let start = self
            .space
            .map_shared(addr, len, prot, fixed, None)
            .map_err(|e| e.errno())?;
        let host_addr = self.space.base() as u64 + start;
        let host_flags = (flags & (libc::SHM_RDONLY | libc::SHM_EXEC)) | libc::SHM_REMAP;
        // SAFETY: [host_addr, host_addr + len) is the host view of the
        // guest range just mapped for this segment; SHM_REMAP replaces
        // exactly those pages.
        let r = unsafe { libc::shmat(id as i32, host_addr as *const libc::c_void, host_flags) };
        if r as isize == -1 {
            let e = errno();
            let _ = self.space.unmap(start, len);
            return Err(e);
        }
        self.shared.shm_attached.lock().push((start, len));
        Ok(start)
    }

    /// `shmdt(addr)`: detaches the segment attached at guest `addr`.
    fn shmdt(&mut self, addr: u64) -> SysResult {
        let mut attached = self.shared.shm_attached.lock();
        let i = attached
            .iter()
            .position(|&(s, _)| s == addr)
            .ok_or(libc::EINVAL)?;
        let (start, len) = attached.swap_remove(i);
        drop(attached);
        let host_addr = self.space.base() as u64 + start;
        // SAFETY: the host address where shmat attached this segment.
        unsafe { libc::shmdt(host_addr as *const libc::c_void) };
        self.space.unmap(start, len).map_err(|e| e.errno())?;
        Ok(0)
    }
}

// include/uapi/linux/sem.h, shm.h and msg.h commands the libc crate
// lacks.
const SEM_STAT: i32 = 18;
const SEM_INFO: i32 = 19;
const SEM_STAT_ANY: i32 = 20;
const GETALL: i32 = 13;
const SETALL: i32 = 17;
const SHM_STAT: i32 = 13;
const SHM_INFO: i32 = 14;
const SHM_STAT_ANY: i32 = 15;
const MSG_STAT_ANY: i32 = 13;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semid_ds_round_trips_without_x86_padding() {
        let mut g = [0u8; GUEST_SEMID_DS];
        for (i, b) in g.iter_mut().enumerate() {
            *b = i as u8;
        }
        let h = semid_to_host(&g);
        assert_eq!(&h[48..56], &g[48..56]);
        assert_eq!(&h[56..64], &[0; 8]);
        assert_eq!(&h[64..72], &g[56..64]);
        assert_eq!(&h[80..88], &g[64..72]);
        let back = semid_to_guest(&h);
        assert_eq!(&back[..72], &g[..72]);
    }
}
