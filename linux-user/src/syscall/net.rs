//! Socket syscalls: `socket`, `socketpair`, `bind`, `listen`, `accept`,
//! `accept4`, `connect`, `getsockname`, `getpeername`, `sendto`,
//! `recvfrom`, `setsockopt`, `getsockopt`, `shutdown`, `sendmsg`,
//! `recvmsg`, `sendmmsg` and `recvmmsg` (Linux net/socket.c).
//!
//! Guest descriptors are host descriptors, and riscv64 and x86-64 share
//! the layouts of every structure these calls take (`sockaddr_*`,
//! `msghdr`, `mmsghdr`, `cmsghdr`, `iovec`, `linger`, `timeval`, `ucred`),
//! so they forward to the host kernel with validated guest buffers. Three
//! things are not passed through as they are:
//!
//! - A `socklen_t` in/out word (`accept`'s `addrlen`, `getsockopt`'s
//!   `optlen`) is copied to a local that the host call uses: the host
//!   kernel reads it to know how much it may write, and another guest
//!   thread could grow it after the buffer was validated.
//! - A `msghdr` holds guest pointers: the host gets one built from the
//!   validated guest one (host addresses, a host `iovec` array), and
//!   `msg_namelen`, `msg_controllen` and `msg_flags` are written back.
//!   Control messages need no translation: `SCM_RIGHTS` descriptors are
//!   the same on both sides, and `SCM_CREDENTIALS` pids are host pids.
//! - Socket options whose value holds a pointer (`SO_ATTACH_FILTER`,
//!   `SO_ATTACH_REUSEPORT_CBPF`: a `struct sock_fprog`) are refused with
//!   `ENOPROTOOPT`, since the host would follow the guest pointer as a host
//!   address.

use cranemu_softmmu::user::AccessKind;

use super::{host_syscall, Process, SysResult};
use crate::abi::nr;

/// Size of the asm-generic `struct msghdr` (same as x86-64's).
const MSGHDR_SIZE: u64 = 56;
/// Size of `struct mmsghdr`: a `msghdr`, `msg_len` and padding.
const MMSGHDR_SIZE: u64 = 64;
/// Offsets in `struct msghdr` of the fields `recvmsg` writes back.
const MSG_NAMELEN: u64 = 8;
const MSG_CONTROLLEN: u64 = 40;
const MSG_FLAGS: u64 = 48;
/// Offset of `msg_len` in `struct mmsghdr`.
const MMSG_LEN: u64 = 56;
/// `sizeof(struct sockaddr_storage)`: the longest address Linux takes.
const SOCKADDR_MAX: u64 = 128;
/// `UIO_MAXIOV`: the most iovecs (and `mmsghdr`s) one call takes.
const UIO_MAXIOV: u64 = 1024;

/// A host `msghdr` over validated guest memory, with the host `iovec`
/// array it points to (which must live as long as it is used).
struct HostMsg {
    hdr: libc::msghdr,
    _iov: Vec<libc::iovec>,
}

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn net_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        use AccessKind::{Read as R, Write as W};
        let fd = a[0] as i32 as i64 as u64;
        let mut known = true;
        // SAFETY (applies to every `host_syscall` below): pointer arguments
        // are null or come from `self.buf`/`self.opt_buf`/`self.addr_in`
        // for the size the host call uses, or point to live locals.
        let r = (|| unsafe {
            match n {
                nr::SOCKET => host_syscall(libc::SYS_socket, [a[0], a[1], a[2], 0, 0, 0]),
                nr::SOCKETPAIR => host_syscall(
                    libc::SYS_socketpair,
                    [a[0], a[1], a[2], self.buf(a[3], 8, W)?, 0, 0],
                ),
                nr::BIND | nr::CONNECT => {
                    let sys = if n == nr::BIND {
                        libc::SYS_bind
                    } else {
                        libc::SYS_connect
                    };
                    let (p, len) = self.addr_in(a[1], a[2])?;
                    host_syscall(sys, [fd, p, len, 0, 0, 0])
                }
                nr::LISTEN => host_syscall(libc::SYS_listen, [fd, a[1], 0, 0, 0, 0]),
                nr::ACCEPT => self.with_addr_out(a[1], a[2], |p, lenp| {
                    host_syscall(libc::SYS_accept, [fd, p, lenp, 0, 0, 0])
                }),
                nr::ACCEPT4 => self.with_addr_out(a[1], a[2], |p, lenp| {
                    host_syscall(libc::SYS_accept4, [fd, p, lenp, a[3], 0, 0])
                }),
                nr::GETSOCKNAME | nr::GETPEERNAME => {
                    let sys = if n == nr::GETSOCKNAME {
                        libc::SYS_getsockname
                    } else {
                        libc::SYS_getpeername
                    };
                    self.with_addr_out(a[1], a[2], |p, lenp| {
                        host_syscall(sys, [fd, p, lenp, 0, 0, 0])
                    })
                }
                nr::SENDTO => {
                    let b = self.buf(a[1], a[2], R)?;
                    let (p, len) = if a[4] == 0 {
                        (0, 0)
                    } else {
                        self.addr_in(a[4], a[5])?
                    };
                    host_syscall(libc::SYS_sendto, [fd, b, a[2], a[3], p, len])
                }
                nr::RECVFROM => {
                    let b = self.buf(a[1], a[2], W)?;
                    self.with_addr_out(a[4], a[5], |p, lenp| {
                        host_syscall(libc::SYS_recvfrom, [fd, b, a[2], a[3], p, lenp])
                    })
                }
                nr::SETSOCKOPT => {
                    if (a[4] as i32) < 0 {
                        return Err(libc::EINVAL);
                    }
                    // `struct sock_fprog` holds a pointer that the host
                    // kernel would follow as a host address: classic BPF
                    // filters are not translated (yet), so refuse them
                    // rather than let the host read emulator memory.
                    if a[1] as i32 == libc::SOL_SOCKET
                        && matches!(
                            a[2] as i32,
                            libc::SO_ATTACH_FILTER | libc::SO_ATTACH_REUSEPORT_CBPF
                        )
                    {
                        return Err(libc::ENOPROTOOPT);
                    }
                    let v = self.opt_buf(a[3], u64::from(a[4] as u32), R)?;
                    host_syscall(libc::SYS_setsockopt, [fd, a[1], a[2], v, a[4], 0])
                }
                nr::GETSOCKOPT => self.getsockopt(fd, a[1], a[2], a[3], a[4]),
                nr::SHUTDOWN => host_syscall(libc::SYS_shutdown, [fd, a[1], 0, 0, 0, 0]),
                nr::SENDMSG => {
                    let m = self.host_msg(a[1], false)?;
                    host_syscall(
                        libc::SYS_sendmsg,
                        [fd, &m.hdr as *const _ as u64, a[2], 0, 0, 0],
                    )
                }
                nr::RECVMSG => {
                    self.buf(a[1], MSGHDR_SIZE, W)?;
                    let mut m = self.host_msg(a[1], true)?;
                    let r = host_syscall(
                        libc::SYS_recvmsg,
                        [fd, &mut m.hdr as *mut _ as u64, a[2], 0, 0, 0],
                    )?;
                    self.msg_writeback(a[1], &m.hdr)?;
                    Ok(r)
                }
                nr::SENDMMSG | nr::RECVMMSG => self.mmsg(n, fd, a),
                _ => {
                    known = false;
                    Ok(0)
                }
            }
        })();
        known.then_some(r)
    }

    /// Validates an address the guest passes in (`bind`, `connect`,
    /// `sendto`): `addr` with `len` bytes. Returns its host address and
    /// length.
    fn addr_in(&self, addr: u64, len: u64) -> Result<(u64, u64), i32> {
        let len = u64::from(len as u32);
        if len > SOCKADDR_MAX {
            return Err(libc::EINVAL);
        }
        Ok((self.buf(addr, len, AccessKind::Read)?, len))
    }

    /// Runs `call` for a syscall that writes an address to guest `addr`
    /// and its length to the `socklen_t` at guest `lenp` (which holds the
    /// buffer's size on entry). `call` gets the host address of the
    /// validated buffer and of a local copy of the length, which is
    /// written back if the call succeeds. A null `addr` is passed as null
    /// with a null length, as Linux ignores the length then.
    fn with_addr_out(
        &self,
        addr: u64,
        lenp: u64,
        call: impl FnOnce(u64, u64) -> SysResult,
    ) -> SysResult {
        if addr == 0 {
            return call(0, 0);
        }
        self.buf(lenp, 4, AccessKind::Write)?;
        let mut len = self.space.read_u32(lenp).map_err(|_| libc::EFAULT)?;
        if (len as i32) < 0 {
            return Err(libc::EINVAL);
        }
        let p = self.buf(addr, u64::from(len), AccessKind::Write)?;
        let r = call(p, &mut len as *mut u32 as u64)?;
        self.space.write_u32(lenp, len).map_err(|_| libc::EFAULT)?;
        Ok(r)
    }

    fn getsockopt(&self, fd: u64, level: u64, name: u64, val: u64, lenp: u64) -> SysResult {
        self.buf(lenp, 4, AccessKind::Write)?;
        let mut len = self.space.read_u32(lenp).map_err(|_| libc::EFAULT)?;
        if (len as i32) < 0 {
            return Err(libc::EINVAL);
        }
        let v = self.opt_buf(val, u64::from(len), AccessKind::Write)?;
        // SAFETY: `v` is a validated guest buffer of `len` bytes (or
        // null); the host writes at most `len` bytes and the new length
        // to the local `len`.
        let r = unsafe {
            host_syscall(
                libc::SYS_getsockopt,
                [fd, level, name, v, &mut len as *mut u32 as u64, 0],
            )
        }?;
        self.space.write_u32(lenp, len).map_err(|_| libc::EFAULT)?;
        Ok(r)
    }

    /// Builds a host `msghdr` from the guest one at `addr`, validating the
    /// name, each iovec and the control buffer for the access the call
    /// makes (`recv`: the host writes them).
    fn host_msg(&self, addr: u64, recv: bool) -> Result<HostMsg, i32> {
        let kind = if recv {
            AccessKind::Write
        } else {
            AccessKind::Read
        };
        let mut raw = [0u8; MSGHDR_SIZE as usize];
        self.space.read(addr, &mut raw).map_err(|_| libc::EFAULT)?;
        let word = |off: usize| u64::from_le_bytes(raw[off..off + 8].try_into().unwrap());
        let (name, iov, iovlen, control, controllen) =
            (word(0), word(16), word(24), word(32), word(40));
        let namelen = u64::from(u32::from_le_bytes(raw[8..12].try_into().unwrap()));
        // Linux: a negative length is EINVAL, a longer one is cut to the
        // size of sockaddr_storage; no name means a length of 0.
        if (namelen as u32 as i32) < 0 {
            return Err(libc::EINVAL);
        }
        let namelen = if name == 0 {
            0
        } else {
            namelen.min(SOCKADDR_MAX)
        };
        if iovlen > UIO_MAXIOV {
            return Err(libc::EMSGSIZE);
        }
        let iov = self.iovecs(iov, iovlen, kind)?;
        let controllen = if control == 0 { 0 } else { controllen };
        // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_name = self.opt_buf(name, namelen, kind)? as *mut libc::c_void;
        hdr.msg_namelen = namelen as u32;
        hdr.msg_iov = iov.as_ptr() as *mut libc::iovec;
        hdr.msg_iovlen = iov.len();
        hdr.msg_control = self.opt_buf(control, controllen, kind)? as *mut libc::c_void;
        hdr.msg_controllen = controllen as usize;
        Ok(HostMsg { hdr, _iov: iov })
    }

    /// Writes back the fields of guest `msghdr` at `addr` that `recvmsg`
    /// sets: `msg_namelen`, `msg_controllen` and `msg_flags`.
    fn msg_writeback(&self, addr: u64, hdr: &libc::msghdr) -> Result<(), i32> {
        let s = &self.space;
        s.write_u32(addr + MSG_NAMELEN, hdr.msg_namelen)
            .and_then(|_| s.write_u64(addr + MSG_CONTROLLEN, hdr.msg_controllen as u64))
            .and_then(|_| s.write_u32(addr + MSG_FLAGS, hdr.msg_flags as u32))
            .map_err(|_| libc::EFAULT)
    }

    /// `sendmmsg(fd, msgvec, vlen, flags)` and
    /// `recvmmsg(fd, msgvec, vlen, flags, timeout)`: one host `mmsghdr`
    /// per guest one; each message's `msg_len` (and for `recvmmsg` the
    /// `msghdr` fields `recvmsg` sets) is written back for the messages
    /// the host call handled.
    fn mmsg(&self, n: u64, fd: u64, a: [u64; 6]) -> SysResult {
        let recv = n == nr::RECVMMSG;
        let vlen = u64::from(a[2] as u32).min(UIO_MAXIOV);
        let vec = a[1];
        self.buf(vec, vlen * MMSGHDR_SIZE, AccessKind::Write)?;
        let msgs = (0..vlen)
            .map(|i| self.host_msg(vec + i * MMSGHDR_SIZE, recv))
            .collect::<Result<Vec<_>, _>>()?;
        let mut host: Vec<libc::mmsghdr> = msgs
            .iter()
            .map(|m| libc::mmsghdr {
                msg_hdr: m.hdr,
                msg_len: 0,
            })
            .collect();
        let ptr = host.as_mut_ptr() as u64;
        // SAFETY: `host` is a live array of `vlen` mmsghdrs whose pointers
        // are validated guest buffers (kept alive by `msgs`); the timeout
        // is a validated guest timespec or null.
        let r = unsafe {
            if recv {
                let ts = self.opt_buf(a[4], 16, AccessKind::Write)?;
                host_syscall(libc::SYS_recvmmsg, [fd, ptr, vlen, a[3], ts, 0])
            } else {
                host_syscall(libc::SYS_sendmmsg, [fd, ptr, vlen, a[3], 0, 0])
            }
        }?;
        for (i, m) in host.iter().take(r as usize).enumerate() {
            let g = vec + i as u64 * MMSGHDR_SIZE;
            if recv {
                self.msg_writeback(g, &m.msg_hdr)?;
            }
            self.space
                .write_u32(g + MMSG_LEN, m.msg_len)
                .map_err(|_| libc::EFAULT)?;
        }
        Ok(r)
    }
}
