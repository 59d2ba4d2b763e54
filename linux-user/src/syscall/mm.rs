//! Memory-management syscalls: `brk`, `mmap`, `munmap`, `mprotect`,
//! `mremap`, `madvise`, `msync`, `mlock`, `munlock`, `mlockall`,
//! `munlockall`, `mincore` and `riscv_flush_icache`.
//!
//! They act on the guest address space ([`GuestSpace`]), not on the host's
//! (Linux mm/mmap.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c,
//! mm/msync.c, arch/riscv/kernel/sys_riscv.c; flags from
//! include/uapi/asm-generic/mman-common.h). Translated code needs no help
//! from here: the guest space tells the translation cache about every
//! change to a page that code was read from (a write, an unmapping, a
//! remapping, `mprotect` without `PROT_EXEC`), so `riscv_flush_icache` has
//! only code in shared mappings left to invalidate (which another process
//! or another mapping may have written).
//!
//! [`GuestSpace`]: cranemu_softmmu::user::GuestSpace

use cranemu_softmmu::user::{page_align_up, AccessKind, Prot, PAGE_SIZE};

use super::{errno, Process, SysResult};
use crate::abi::nr;

impl Process {
    /// Runs `n` if it is one of this file's syscalls (`None` otherwise).
    pub(super) fn mm_syscall(&mut self, n: u64, a: [u64; 6]) -> Option<SysResult> {
        let mut known = true;
        let r = (|| match n {
            nr::BRK => Ok(self.do_brk(a[0])),
            nr::MMAP => self.mmap(a),
            nr::MUNMAP => {
                if !a[0].is_multiple_of(PAGE_SIZE) {
                    return Err(libc::EINVAL);
                }
                self.space
                    .unmap(a[0], a[1])
                    .map(|()| 0)
                    .map_err(|e| e.errno())
            }
            nr::MPROTECT => {
                if !a[0].is_multiple_of(PAGE_SIZE) {
                    return Err(libc::EINVAL);
                }
                if a[1] == 0 {
                    return Ok(0);
                }
                let prot = Prot::from_bits_truncate(a[2] as u32);
                self.space
                    .protect(a[0], a[1], prot)
                    .map(|()| 0)
                    .map_err(|e| e.errno())
            }
            nr::MREMAP => self.mremap(a),
            nr::MADVISE => self.madvise(a),
            // Shared mappings are host MAP_SHARED memory at base + addr:
            // the host's msync writes them back (private ones have nothing
            // to write). ENOMEM for a range that is not all mapped.
            nr::MSYNC | nr::MLOCK | nr::MUNLOCK | nr::MINCORE => {
                let start = a[0] & !(PAGE_SIZE - 1);
                if n == nr::MSYNC && start != a[0] {
                    return Err(libc::EINVAL);
                }
                if n == nr::MINCORE && start != a[0] {
                    return Err(libc::EINVAL);
                }
                let end = page_align_up(a[0].checked_add(a[1]).ok_or(libc::ENOMEM)?)
                    .ok_or(libc::ENOMEM)?;
                let mut p = start;
                while p < end {
                    self.space.prot_of(p).ok_or(libc::ENOMEM)?;
                    p += PAGE_SIZE;
                }
                let host = self.space.base() as u64 + start;
                let len = end - start;
                let r = match n {
                    // SAFETY: [host, host + len) is the host view of
                    // mapped guest pages; msync/mlock/munlock only change
                    // their writeback and residency.
                    nr::MSYNC => unsafe { libc::msync(host as *mut _, len as usize, a[2] as i32) },
                    nr::MLOCK => unsafe { libc::mlock(host as *const _, len as usize) },
                    nr::MUNLOCK => unsafe { libc::munlock(host as *const _, len as usize) },
                    _ => {
                        // One byte per page.
                        let vec = self.buf(a[2], len / PAGE_SIZE, AccessKind::Write)?;
                        // SAFETY: as above; `vec` is a checked writable
                        // guest buffer of one byte per page.
                        unsafe { libc::mincore(host as *mut _, len as usize, vec as *mut u8) }
                    }
                };
                if r < 0 {
                    Err(errno())
                } else {
                    Ok(0)
                }
            }
            // The guest's pages are the host process's: lock or unlock all.
            // SAFETY: flags only.
            nr::MLOCKALL => match unsafe { libc::mlockall(a[0] as i32) } {
                0 => Ok(0),
                _ => Err(errno()),
            },
            // SAFETY: no arguments.
            nr::MUNLOCKALL => match unsafe { libc::munlockall() } {
                0 => Ok(0),
                _ => Err(errno()),
            },
            nr::RISCV_FLUSH_ICACHE => {
                self.space.release_shared_code();
                Ok(0)
            }
            _ => {
                known = false;
                Ok(0)
            }
        })();
        known.then_some(r)
    }

    /// `brk`: returns the new break, or the old one on failure (Linux's
    /// convention).
    fn do_brk(&mut self, want: u64) -> u64 {
        let mut brk = self.shared.brk.lock();
        let (start, cur) = *brk;
        if want < start || want > self.space.size() {
            return cur;
        }
        let (Some(old_top), Some(new_top)) = (page_align_up(cur), page_align_up(want)) else {
            return cur;
        };
        if new_top > old_top {
            let len = new_top - old_top;
            if !self.space.is_free(old_top, len)
                || self.space.map(old_top, len, Prot::RW, true).is_err()
            {
                return cur;
            }
        } else if new_top < old_top && self.space.unmap(new_top, old_top - new_top).is_err() {
            return cur;
        }
        brk.1 = want;
        want
    }

    fn mmap(&mut self, a: [u64; 6]) -> SysResult {
        const MAP_SHARED: u64 = 0x01;
        const MAP_PRIVATE: u64 = 0x02;
        const MAP_SHARED_VALIDATE: u64 = 0x03;
        const MAP_FIXED: u64 = 0x10;
        const MAP_ANONYMOUS: u64 = 0x20;
        const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
        let [addr, len, prot, flags, fd, off] = a;
        let prot = Prot::from_bits_truncate(prot as u32);
        if len == 0 || off % PAGE_SIZE != 0 {
            return Err(libc::EINVAL);
        }
        if !matches!(flags & 0xf, MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE) {
            return Err(libc::EINVAL);
        }
        let plen = page_align_up(len).ok_or(libc::ENOMEM)?;
        let noreplace = flags & MAP_FIXED_NOREPLACE != 0;
        let fixed = flags & MAP_FIXED != 0 || noreplace;
        if fixed && addr % PAGE_SIZE != 0 {
            return Err(libc::EINVAL);
        }
        if noreplace && !self.space.is_free(addr, plen) {
            return Err(libc::EEXIST);
        }
        if flags & 0xf != MAP_PRIVATE {
            // Host MAP_SHARED memory: a fork()ed child and its parent (a
            // guest fork is a host fork) see each other's writes, and
            // writes to a file mapping reach the file.
            let file = (flags & MAP_ANONYMOUS == 0).then_some((fd as i32, off));
            return self
                .space
                .map_shared(addr, plen, prot, fixed, file)
                .map_err(|e| e.errno());
        }
        if flags & MAP_ANONYMOUS != 0 {
            return self
                .space
                .map(addr, plen, prot, fixed)
                .map_err(|e| e.errno());
        }
        // Private file mapping: a host MAP_PRIVATE mapping of the file, so
        // the guest sees the file as it is (and as others change it, on
        // pages it has not written) and pages beyond its end fault as on
        // Linux.
        let mapped = self
            .space
            .map_file_private(addr, plen, prot, fixed, fd as i32, off)
            .map_err(|e| e.errno())?;
        if let Some(perf) = &self.opts.log.perfmap {
            if prot.contains(Prot::EXEC) {
                crate::symbols::add_file_mapping(perf, fd as i32, off, mapped, plen);
            }
        }
        Ok(mapped)
    }

    fn mremap(&mut self, a: [u64; 6]) -> SysResult {
        const MREMAP_MAYMOVE: u64 = 1;
        let [old, old_len, new_len, flags, _, _] = a;
        if old % PAGE_SIZE != 0 || new_len == 0 || flags & !MREMAP_MAYMOVE != 0 {
            return Err(libc::EINVAL);
        }
        let (Some(olen), Some(nlen)) = (page_align_up(old_len), page_align_up(new_len)) else {
            return Err(libc::ENOMEM);
        };
        let prot = self.space.prot_of(old).ok_or(libc::EFAULT)?;
        // Linux takes the old range from one mapping (EFAULT where it is
        // not all mapped), before it shrinks, grows or moves anything.
        if !self.all_mapped(old, olen) {
            return Err(libc::EFAULT);
        }
        if self.space.is_shared(old, olen) {
            // Copying would unshare it: the host moves the pages instead.
            return self
                .space
                .remap_shared(old, olen, nlen, flags & MREMAP_MAYMOVE != 0)
                .map_err(|e| e.errno());
        }
        if nlen <= olen {
            if nlen < olen {
                self.space
                    .unmap(old + nlen, olen - nlen)
                    .map_err(|e| e.errno())?;
            }
            return Ok(old);
        }
        let tail = old.checked_add(olen).ok_or(libc::ENOMEM)?;
        if self.space.is_free(tail, nlen - olen) {
            self.space
                .map(tail, nlen - olen, prot, true)
                .map_err(|e| e.errno())?;
            return Ok(old);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(libc::ENOMEM);
        }
        let src = self
            .buf(old, olen, AccessKind::Read)
            .or_else(|_| self.buf(old, olen, AccessKind::Execute))
            .map_err(|_| libc::EFAULT)?;
        let new = self
            .space
            .map(0, nlen, prot, false)
            .map_err(|e| e.errno())?;
        // Copied through a small buffer (the old range may be large; the
        // new one may be read-only to the guest, hence `write_force`).
        let mut chunk = vec![0u8; (olen as usize).min(1 << 16)];
        let mut off = 0;
        while off < olen {
            let n = chunk.len().min((olen - off) as usize);
            // SAFETY: [src, src + olen) is mapped readable guest memory
            // (checked above); `chunk` has at least n bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    (src as *const u8).add(off as usize),
                    chunk.as_mut_ptr(),
                    n,
                )
            };
            self.space
                .write_force(new + off, &chunk[..n])
                .map_err(|_| libc::EFAULT)?;
            off += n as u64;
        }
        self.space.unmap(old, olen).map_err(|e| e.errno())?;
        Ok(new)
    }

    /// `madvise`: `MADV_DONTNEED` (and `MADV_DONTNEED_LOCKED`) drop the
    /// pages, as Linux's mm/madvise.c does: private anonymous memory reads
    /// as zeros again, a private file mapping as the file, shared memory
    /// keeps its contents; the code translated from them is invalidated.
    /// Every other advice is a hint that changes nothing the guest can
    /// see, and succeeds. EINVAL for an unaligned start, ENOMEM where the
    /// range is not all mapped (advice values from
    /// include/uapi/asm-generic/mman-common.h).
    fn madvise(&mut self, a: [u64; 6]) -> SysResult {
        const MADV_DONTNEED: u64 = 4;
        const MADV_DONTNEED_LOCKED: u64 = 24;
        let [addr, len, advice, ..] = a;
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(libc::EINVAL);
        }
        let len = page_align_up(len).ok_or(libc::EINVAL)?;
        if len == 0 || !matches!(advice, MADV_DONTNEED | MADV_DONTNEED_LOCKED) {
            return Ok(0);
        }
        if !self.all_mapped(addr, len) {
            return Err(libc::ENOMEM);
        }
        // Released before (code read from the old bytes) and after (code
        // another thread read meanwhile).
        self.space.release_code(addr, len);
        let host = self.space.base() as u64 + addr;
        // SAFETY: [host, host + len) is the host view of mapped guest
        // pages, nothing of the emulator's own; dropping them is what the
        // guest asked for.
        let r = unsafe { libc::madvise(host as *mut _, len as usize, libc::MADV_DONTNEED) };
        self.space.release_code(addr, len);
        if r != 0 {
            return Err(errno());
        }
        Ok(0)
    }

    /// Whether every page of guest `[addr, addr + len)` is mapped.
    fn all_mapped(&self, addr: u64, len: u64) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let mut at = addr;
        for m in self.space.mappings() {
            if m.start <= at && at < m.end {
                at = m.end;
            }
        }
        at >= end
    }
}
