//! The user-mode guest address space.
//!
//! # Design
//!
//! [`GuestSpace::new`] reserves [`GUEST_SPACE_SIZE`] bytes of host address
//! space (256 GiB, the Sv39 user half) with `PROT_NONE` and `MAP_NORESERVE`,
//! between guards of [`GUARD_BELOW`] and [`GUARD_SIZE`] bytes that are
//! never mapped ([`GuestSpace::guarded_range`]). Guest
//! virtual address `a` lives at host address `base + a`. Translated code
//! checks `a < size` (or, for several accesses at small offsets from one
//! base `b`, `b < size` once: an access past either end lands in a
//! guard) and then accesses `base + a` directly, so **the host
//! protection of a page is the guest's protection for data accesses**: a
//! guest store to a read-only page faults on the host, and the runtime's
//! fault handler turns that into the guest's `SIGSEGV`.
//!
//! Beside the host mapping, a page map (guest page range -> [`Prot`]) records
//! what the guest asked for. System calls validate guest pointers against it
//! (an invalid pointer is `EFAULT`, never a host fault), and the translator
//! fetches instructions through [`GuestSpace::fetch_code`], which requires
//! [`Prot::EXEC`].
//!
//! # Shared mappings
//!
//! [`GuestSpace::map`] gives private anonymous memory, which a host `fork`
//! (the guest's `fork`) copies. [`GuestSpace::map_shared`] maps host
//! `MAP_SHARED` memory, anonymous or of a file, so that what one process
//! writes is seen by the other after a `fork` (a parent and the children it
//! hands work to, talking through `mmap(MAP_SHARED|MAP_ANONYMOUS)`), and
//! writes to a shared file mapping reach the file. The page map remembers
//! which ranges are shared ([`Mapping::shared`]); [`GuestSpace::remap_shared`]
//! grows or moves them with the host's `mremap`, which keeps them shared.
//!
//! # Host protection versus guest protection
//!
//! Guest code is never executed on the host, so the host mapping never has
//! `PROT_EXEC`. A guest page with `EXEC` gets host `PROT_READ`, so that
//! instruction fetch can read it; consequently a guest *load* from an
//! execute-only page succeeds here where riscv64 Linux would fault. Every
//! other combination is mirrored exactly.
//!
//! # Locking
//!
//! The page map is behind one `RwLock`. Mapping calls ([`GuestSpace::map`],
//! [`GuestSpace::unmap`], [`GuestSpace::protect`]) take it for writing and
//! hold it while they call the host `mmap`/`mprotect`, so a reader never sees
//! the page map and the host mapping disagree. Copies in and out of guest
//! memory ([`GuestSpace::read`], [`GuestSpace::write`], ...) hold it for
//! reading while they copy. [`GuestSpace::host_range`] hands out a host
//! pointer after validation without holding the lock: pass it only to host
//! system calls, which report `EFAULT` instead of faulting if another thread
//! unmaps the range in between.
//!
//! # Shared pages beyond the end of their file
//!
//! Such a page faults with `SIGBUS` on any access. Before the emulator's
//! own code (the interpreter, syscall copies) touches a shared page, the
//! access check probes it with a recoverable load (`softmmu/src/user/guard.rs`),
//! so that the access fails as a [`MemFault`] instead of killing the host.
//!
//! # Code pages
//!
//! Pages that translated code was read from are watched for writes
//! (`softmmu/src/user/code.rs`): write-protected on the host where the guest may write them,
//! so that a write invalidates the code translated from them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use crate::sync::RwLock;

mod code;
mod guard;

pub use code::CodeObserver;
pub use guard::probe_fixup;

/// Bytes of guest virtual address space: 2^38 (256 GiB), the user half of
/// Sv39. Guest addresses are `0..GUEST_SPACE_SIZE`.
pub const GUEST_SPACE_SIZE: u64 = 1 << 38;

/// Guest page size in bytes (the granule of the page map, `mmap` and
/// `mprotect`).
pub const PAGE_SIZE: u64 = 4096;

/// Bytes of unmapped guard reserved after the guest space, so that an access
/// of up to 64 KiB starting just below `size` still faults on the host.
pub const GUARD_SIZE: u64 = 64 << 10;

/// Bytes of unmapped guard reserved before the guest space (before guest
/// address 0), so that translated code that checked a base address
/// `b < size` may access `b + offset` for a small negative offset without
/// a check of its own: a result that wrapped below 0 faults on the host.
pub const GUARD_BELOW: u64 = 64 << 10;

/// The lowest guest address a non-fixed mapping is placed at (Linux's
/// default `vm.mmap_min_addr`), in bytes.
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// Guest page permissions, with the bit values of Linux's `PROT_READ`,
/// `PROT_WRITE` and `PROT_EXEC` (asm-generic/mman-common.h).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Prot(u32);

impl Prot {
    /// No access (a mapped `PROT_NONE` page).
    pub const NONE: Prot = Prot(0);
    /// Readable (`PROT_READ`, 1).
    pub const READ: Prot = Prot(1);
    /// Writable (`PROT_WRITE`, 2).
    pub const WRITE: Prot = Prot(2);
    /// Executable (`PROT_EXEC`, 4).
    pub const EXEC: Prot = Prot(4);
    /// Readable and writable.
    pub const RW: Prot = Prot(3);
    /// Readable and executable.
    pub const RX: Prot = Prot(5);
    /// Everything.
    pub const RWX: Prot = Prot(7);

    /// The permissions in the low three bits of `bits` (Linux `PROT_*`
    /// values); other bits are ignored.
    pub const fn from_bits_truncate(bits: u32) -> Prot {
        Prot(bits & 7)
    }

    /// The Linux `PROT_*` bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True if every permission in `other` is in `self`.
    pub const fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }

    /// The host protection for a guest page with these permissions (see the
    /// module doc: `EXEC` becomes `PROT_READ`, never `PROT_EXEC`).
    fn host(self) -> libc::c_int {
        let mut p = 0;
        if self.contains(Prot::READ) || self.contains(Prot::EXEC) {
            p |= libc::PROT_READ;
        }
        if self.contains(Prot::WRITE) {
            p |= libc::PROT_WRITE;
        }
        p
    }
}

impl BitOr for Prot {
    type Output = Prot;
    fn bitor(self, rhs: Prot) -> Prot {
        Prot(self.0 | rhs.0)
    }
}

impl BitOrAssign for Prot {
    fn bitor_assign(&mut self, rhs: Prot) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Prot {
    /// Prints like `/proc/PID/maps`: `r-x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |p, ch| if self.contains(p) { ch } else { '-' };
        write!(
            f,
            "{}{}{}",
            c(Prot::READ, 'r'),
            c(Prot::WRITE, 'w'),
            c(Prot::EXEC, 'x')
        )
    }
}

/// The kind of guest access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// A data load (needs [`Prot::READ`]).
    Read,
    /// A data store (needs [`Prot::WRITE`]).
    Write,
    /// An instruction fetch (needs [`Prot::EXEC`]).
    Execute,
}

impl AccessKind {
    fn needs(self) -> Prot {
        match self {
            AccessKind::Read => Prot::READ,
            AccessKind::Write => Prot::WRITE,
            AccessKind::Execute => Prot::EXEC,
        }
    }
}

/// A guest memory access that the page map does not allow: the first
/// faulting guest virtual address and the kind of access. System calls turn
/// it into `EFAULT`; the translator into an instruction page fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("guest {kind:?} fault at {addr:#x}")]
pub struct MemFault {
    /// The first guest virtual address of the access that is not allowed.
    pub addr: u64,
    /// What the access was.
    pub kind: AccessKind,
}

/// Errors of the address-space calls. [`Error::errno`] gives the Linux error
/// number that `mmap`/`munmap`/`mprotect` would return.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host refused to reserve the guest address space.
    #[error("cannot reserve {GUEST_SPACE_SIZE:#x} bytes of host address space for the guest: {0}")]
    Reserve(std::io::Error),
    /// A zero length or an unaligned address (`EINVAL`).
    #[error("invalid address or length")]
    InvalidArgument,
    /// The range does not fit in the guest address space (`ENOMEM`).
    #[error("range outside the guest address space")]
    OutOfRange,
    /// No free range of the requested size exists (`ENOMEM`).
    #[error("no free guest address range of that size")]
    NoSpace,
    /// Part of the range is not mapped (`ENOMEM`, as `mprotect` reports).
    #[error("range not mapped")]
    NotMapped,
    /// A host `mmap`/`mprotect` call failed.
    #[error("host mapping call failed: {0}")]
    Host(std::io::Error),
}

impl Error {
    /// The Linux errno (positive) this error stands for.
    pub fn errno(&self) -> i32 {
        match self {
            Error::InvalidArgument => libc::EINVAL,
            Error::Reserve(_) | Error::OutOfRange | Error::NoSpace | Error::NotMapped => {
                libc::ENOMEM
            }
            Error::Host(e) => e.raw_os_error().unwrap_or(libc::ENOMEM),
        }
    }
}

/// One mapped range of the page map: `[start, end)` in guest bytes, both
/// page aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First guest address.
    pub start: u64,
    /// One past the last guest address.
    pub end: u64,
    /// Guest permissions.
    pub prot: Prot,
    /// Host `MAP_SHARED` memory (see [`GuestSpace::map_shared`]).
    pub shared: bool,
    /// A host mapping of a file, shared or private (see
    /// [`GuestSpace::map_file_private`]): its pages beyond the end of the
    /// file fault with `SIGBUS`.
    pub file: bool,
}

/// A page map entry: the end of the range that starts at its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    end: u64,
    prot: Prot,
    shared: bool,
    file: bool,
}

/// The page map, keyed by range start; ranges never overlap.
#[derive(Default)]
struct PageMap {
    ranges: BTreeMap<u64, Entry>,
    /// Non-fixed mappings are placed top-down below this guest address.
    mmap_top: u64,
    /// Watched code pages, by guest page number (see [`code`]).
    code: BTreeSet<u64>,
}

impl PageMap {
    /// Splits the range containing `at` (if any) so that `at` is a boundary.
    fn split(&mut self, at: u64) {
        let found = self.ranges.range(..at).next_back().map(|(&s, &e)| (s, e));
        if let Some((s, e)) = found {
            if e.end > at {
                self.ranges.insert(s, Entry { end: at, ..e });
                self.ranges.insert(at, e);
            }
        }
    }

    /// Removes `[start, end)` from the map.
    fn clear(&mut self, start: u64, end: u64) {
        self.split(start);
        self.split(end);
        let keys: Vec<u64> = self.ranges.range(start..end).map(|(&k, _)| k).collect();
        for k in keys {
            self.ranges.remove(&k);
        }
    }

    /// Sets `[start, end)` to `prot`, mapped (shared or private).
    fn set(&mut self, start: u64, end: u64, prot: Prot, shared: bool, file: bool) {
        self.clear(start, end);
        self.ranges.insert(
            start,
            Entry {
                end,
                prot,
                shared,
                file,
            },
        );
    }

    /// Changes the permissions of the mapped `[start, end)` to `prot`,
    /// keeping each part shared or private.
    fn set_prot(&mut self, start: u64, end: u64, prot: Prot) {
        self.split(start);
        self.split(end);
        for (_, e) in self.ranges.range_mut(start..end) {
            e.prot = prot;
        }
    }

    /// The range containing `addr`.
    fn lookup(&self, addr: u64) -> Option<Mapping> {
        let (&start, e) = self.ranges.range(..=addr).next_back()?;
        (addr < e.end).then_some(Mapping {
            start,
            end: e.end,
            prot: e.prot,
            shared: e.shared,
            file: e.file,
        })
    }

    /// Checks that every byte of `[start, end)` is mapped with at least
    /// `need`; returns the first address that is not.
    fn check(&self, start: u64, end: u64, need: Prot) -> Result<(), u64> {
        let mut pos = start;
        while pos < end {
            match self.lookup(pos) {
                Some(m) if m.prot.contains(need) => pos = m.end,
                _ => return Err(pos),
            }
        }
        Ok(())
    }

    /// True if a host file mapping overlaps `[start, end)`.
    fn any_file(&self, start: u64, end: u64) -> bool {
        self.lookup(start).is_some_and(|m| m.file)
            || self.ranges.range(start..end).any(|(_, e)| e.file)
    }

    /// True if no byte of `[start, end)` is mapped.
    fn is_free(&self, start: u64, end: u64) -> bool {
        if self.lookup(start).is_some() {
            return false;
        }
        self.ranges.range(start..end).next().is_none()
    }

    /// The highest free `len`-byte range below `mmap_top` and at or above
    /// [`MMAP_MIN_ADDR`].
    fn find_free(&self, len: u64) -> Option<u64> {
        let mut end = self.mmap_top;
        for (&s, e) in self.ranges.range(..self.mmap_top).rev() {
            let e = e.end;
            if e <= end && end - e >= len {
                break;
            }
            end = end.min(s);
        }
        let start = end.checked_sub(len)?;
        (start >= MMAP_MIN_ADDR).then_some(start)
    }
}

/// The guest's virtual address space in user mode (see the module doc).
///
/// `Send + Sync`: vCPU threads share one through an `Arc`.
pub struct GuestSpace {
    /// Host address of guest address 0 (kept as an integer so the struct is
    /// `Send + Sync`; the reservation lives as long as `self`).
    base: usize,
    map: RwLock<PageMap>,
    /// Told about code pages that stop being watched (see [`code`]).
    observer: RwLock<Option<CodeObserver>>,
}

/// Rounds `x` up to a multiple of [`PAGE_SIZE`], or `None` on overflow.
pub fn page_align_up(x: u64) -> Option<u64> {
    Some(x.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

/// Rounds `x` down to a multiple of [`PAGE_SIZE`].
pub const fn page_align_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

impl GuestSpace {
    /// Reserves a fresh, empty guest address space.
    ///
    /// # Errors
    /// [`Error::Reserve`] if the host cannot reserve 256 GiB + 128 KiB of
    /// address space (e.g. under a small `ulimit -v`).
    pub fn new() -> Result<GuestSpace, Error> {
        let total = (GUARD_BELOW + GUEST_SPACE_SIZE + GUARD_SIZE) as usize;
        // SAFETY: a fresh anonymous PROT_NONE reservation at a host-chosen
        // address; it aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::Reserve(std::io::Error::last_os_error()));
        }
        Ok(GuestSpace {
            base: p as usize + GUARD_BELOW as usize,
            map: RwLock::new(PageMap {
                ranges: BTreeMap::new(),
                mmap_top: GUEST_SPACE_SIZE,
                code: BTreeSet::new(),
            }),
            observer: RwLock::new(None),
        })
    }

    /// Host address of guest virtual address 0.
    pub fn base(&self) -> *mut u8 {
        self.base as *mut u8
    }

    /// Bytes of guest virtual address space ([`GUEST_SPACE_SIZE`]).
    pub fn size(&self) -> u64 {
        GUEST_SPACE_SIZE
    }

    /// The host address range `[lo, hi)` of the whole reservation: the
    /// guest space and both its guards ([`GUARD_BELOW`], [`GUARD_SIZE`]).
    /// A host fault at `a` inside it is a guest fault at guest address
    /// `a - base` (wrapping, for the guard below).
    pub fn guarded_range(&self) -> (u64, u64) {
        let base = self.base as u64;
        (base - GUARD_BELOW, base + GUEST_SPACE_SIZE + GUARD_SIZE)
    }

    /// Host address of guest address `addr` (no check: `addr` must be below
    /// [`GuestSpace::size`] for the result to be inside the reservation).
    fn host(&self, addr: u64) -> *mut u8 {
        self.base.wrapping_add(addr as usize) as *mut u8
    }

    /// Non-fixed mappings are placed top-down below guest address `top`
    /// (bytes; rounded down to a page). The loader sets it just below the
    /// stack, like Linux's `mmap_base`.
    pub fn set_mmap_top(&self, top: u64) {
        self.map.write().mmap_top = page_align_down(top.min(GUEST_SPACE_SIZE));
    }

    /// Validates `[addr, addr + len)` and returns it page aligned:
    /// `(start, end)` in guest bytes.
    fn range(&self, addr: u64, len: u64) -> Result<(u64, u64), Error> {
        if len == 0 || !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Error::InvalidArgument);
        }
        let len = page_align_up(len).ok_or(Error::OutOfRange)?;
        let end = addr.checked_add(len).ok_or(Error::OutOfRange)?;
        if end > GUEST_SPACE_SIZE {
            return Err(Error::OutOfRange);
        }
        Ok((addr, end))
    }

    /// Host `mmap` of fresh zeroed anonymous memory (or `PROT_NONE`
    /// reservation) over guest `[start, end)`. Caller holds the write lock.
    fn host_map(&self, start: u64, end: u64, host_prot: libc::c_int) -> Result<(), Error> {
        // SAFETY: [start, end) lies inside our reservation (checked by
        // `range`); MAP_FIXED replaces only pages we own, and the write lock
        // keeps other users of the page map out while it does.
        let p = unsafe {
            libc::mmap(
                self.host(start).cast(),
                (end - start) as usize,
                host_prot,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::Host(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Host `mprotect` of guest `[start, end)`. Caller holds the write lock.
    fn host_protect(&self, start: u64, end: u64, host_prot: libc::c_int) -> Result<(), Error> {
        // SAFETY: the range lies inside our reservation; changing its
        // protection cannot invalidate Rust references (we hold none into
        // guest memory).
        let r =
            unsafe { libc::mprotect(self.host(start).cast(), (end - start) as usize, host_prot) };
        if r != 0 {
            return Err(Error::Host(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Where a new mapping of `len` bytes goes (see [`GuestSpace::map`]):
    /// `(start, page-rounded length)`. The caller holds the write lock.
    fn place(&self, map: &PageMap, addr: u64, len: u64, fixed: bool) -> Result<(u64, u64), Error> {
        if len == 0 {
            return Err(Error::InvalidArgument);
        }
        let plen = page_align_up(len).ok_or(Error::OutOfRange)?;
        let start = if fixed {
            self.range(addr, plen)?.0
        } else {
            let hint = page_align_down(addr);
            match self.range(hint, plen) {
                Ok((s, e)) if s >= MMAP_MIN_ADDR && map.is_free(s, e) => s,
                _ => map.find_free(plen).ok_or(Error::NoSpace)?,
            }
        };
        Ok((start, plen))
    }

    /// Maps `len` bytes (rounded up to pages) of zeroed anonymous memory with
    /// guest permissions `prot`, like `mmap(MAP_ANONYMOUS|MAP_PRIVATE)`.
    ///
    /// With `fixed`, the mapping is at guest address `addr` (page aligned)
    /// and replaces whatever was there (`MAP_FIXED`). Without it, `addr` is a
    /// hint used if the range is free; otherwise the highest free range
    /// below the mmap top (see [`GuestSpace::set_mmap_top`]) is taken.
    /// Returns the guest address of the mapping.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero length or an unaligned fixed
    /// address; [`Error::OutOfRange`] if the range leaves the guest space;
    /// [`Error::NoSpace`] if no free range is big enough; [`Error::Host`]
    /// if the host `mmap` fails.
    pub fn map(&self, addr: u64, len: u64, prot: Prot, fixed: bool) -> Result<u64, Error> {
        let mut map = self.map.write();
        let (start, plen) = self.place(&map, addr, len, fixed)?;
        let end = start + plen;
        self.host_map(start, end, prot.host())?;
        map.set(start, end, prot, false, false);
        let released = map.unwatch(start, end);
        drop(map);
        self.notify(&released);
        Ok(start)
    }

    /// Like [`GuestSpace::map`], but with host `MAP_SHARED` memory (see the
    /// module doc): anonymous with `file` `None`, else `len` bytes of the
    /// host file descriptor `file.0` from offset `file.1` (page aligned), as
    /// `mmap(MAP_SHARED)` of that file. Host refusals come back as
    /// [`Error::Host`] with the host's errno (`EACCES` for a writable mapping
    /// of a read-only descriptor, `ENODEV` for a file that cannot be mapped).
    ///
    /// # Errors
    /// As [`GuestSpace::map`].
    pub fn map_shared(
        &self,
        addr: u64,
        len: u64,
        prot: Prot,
        fixed: bool,
        file: Option<(i32, u64)>,
    ) -> Result<u64, Error> {
        self.map_host(addr, len, prot, fixed, file, true)
    }

    /// Like [`GuestSpace::map`], but a host `MAP_PRIVATE` mapping of `len`
    /// bytes of the host file descriptor `fd` from offset `off` (page
    /// aligned), as `mmap(MAP_PRIVATE)` of that file: the guest sees the
    /// file's current contents (and later writes to it by others, on pages
    /// it has not written), its own writes stay private (copy on write),
    /// and pages beyond the end of the file fault with `SIGBUS`, as on
    /// Linux. Host refusals come back as [`Error::Host`] (`EACCES` for a
    /// descriptor not open for reading, `ENODEV` for a file that cannot be
    /// mapped).
    ///
    /// # Errors
    /// As [`GuestSpace::map`].
    pub fn map_file_private(
        &self,
        addr: u64,
        len: u64,
        prot: Prot,
        fixed: bool,
        fd: i32,
        off: u64,
    ) -> Result<u64, Error> {
        self.map_host(addr, len, prot, fixed, Some((fd, off)), false)
    }

    /// [`GuestSpace::map_shared`] (`shared`) or
    /// [`GuestSpace::map_file_private`] (not `shared`, with a file).
    fn map_host(
        &self,
        addr: u64,
        len: u64,
        prot: Prot,
        fixed: bool,
        file: Option<(i32, u64)>,
        shared: bool,
    ) -> Result<u64, Error> {
        let mut map = self.map.write();
        let (start, plen) = self.place(&map, addr, len, fixed)?;
        let kind = if shared {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        let (flags, fd, off) = match file {
            None => (kind | libc::MAP_ANONYMOUS, -1, 0),
            Some((fd, off)) => {
                let off = libc::off_t::try_from(off).map_err(|_| Error::InvalidArgument)?;
                (kind, fd, off)
            }
        };
        // SAFETY: [start, start + plen) lies inside our reservation (checked
        // by `range` or found free in it); MAP_FIXED replaces only pages we
        // own, under the write lock.
        let p = unsafe {
            libc::mmap(
                self.host(start).cast(),
                plen as usize,
                prot.host(),
                libc::MAP_FIXED | flags,
                fd,
                off,
            )
        };
        if p == libc::MAP_FAILED {
            // The host checks the descriptor and protections (EBADF,
            // EACCES, ENODEV) before it replaces anything, so the range is
            // as it was.
            return Err(Error::Host(std::io::Error::last_os_error()));
        }
        map.set(start, start + plen, prot, shared, file.is_some());
        let released = map.unwatch(start, start + plen);
        drop(map);
        self.notify(&released);
        Ok(start)
    }

    /// True if any page of `[addr, addr + len)` is a shared mapping (see
    /// [`GuestSpace::map_shared`]).
    pub fn is_shared(&self, addr: u64, len: u64) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let map = self.map.read();
        map.lookup(addr).is_some_and(|m| m.shared)
            || map.ranges.range(addr..end).any(|(_, e)| e.shared)
    }

    /// `mremap` of the mapping at `old` (`old_len` bytes, page aligned) to
    /// `new_len` bytes with the host's `mremap`, which keeps shared memory
    /// shared: in place if the pages after it are free, else (with
    /// `may_move`) at a free range found like [`GuestSpace::map`]'s.
    /// Returns the new guest address.
    ///
    /// # Errors
    /// [`Error::NotMapped`] unless `[old, old + old_len)` is all shared
    /// memory with one set of permissions; [`Error::NoSpace`] if it cannot
    /// grow in place and may not move, or no free range is big enough; the
    /// others as [`GuestSpace::map`].
    pub fn remap_shared(
        &self,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
    ) -> Result<u64, Error> {
        let (ostart, oend) = self.range(old, old_len)?;
        let nlen = page_align_up(new_len).ok_or(Error::OutOfRange)?;
        let olen = oend - ostart;
        let mut map = self.map.write();
        // One mapping as Linux would see it: all of it mapped, shared and
        // with the same permissions (the page map does not merge ranges).
        let m = map.lookup(ostart).ok_or(Error::NotMapped)?;
        let mut pos = ostart;
        while pos < oend {
            match map.lookup(pos) {
                Some(p) if p.shared && p.prot == m.prot => pos = p.end,
                _ => return Err(Error::NotMapped),
            }
        }
        if nlen <= olen {
            if nlen < olen {
                self.host_map(ostart + nlen, oend, libc::PROT_NONE)?;
                map.clear(ostart + nlen, oend);
                let released = map.unwatch(ostart + nlen, oend);
                drop(map);
                self.notify(&released);
            }
            return Ok(ostart);
        }
        let in_place = match self.range(oend, nlen - olen) {
            Ok((s, e)) => map.is_free(s, e),
            Err(_) => false,
        };
        let target = if in_place {
            ostart
        } else if may_move {
            map.find_free(nlen).ok_or(Error::NoSpace)?
        } else {
            return Err(Error::NoSpace);
        };
        // Free the host pages the mapping moves or grows into (they hold our
        // PROT_NONE reservation), then let the host move or grow it there;
        // the pages it leaves are reserved again.
        let (hole, hole_end) = if in_place {
            (oend, ostart + nlen)
        } else {
            (target, target + nlen)
        };
        // SAFETY: [hole, hole_end) is inside our reservation and free in
        // the page map; we hold the write lock.
        unsafe { libc::munmap(self.host(hole).cast(), (hole_end - hole) as usize) };
        // SAFETY: the old range is our mapping; the target is the hole just
        // made (or the mapping itself, growing in place into the hole).
        let p = unsafe {
            if in_place {
                libc::mremap(self.host(ostart).cast(), olen as usize, nlen as usize, 0)
            } else {
                libc::mremap(
                    self.host(ostart).cast(),
                    olen as usize,
                    nlen as usize,
                    libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                    self.host(target),
                )
            }
        };
        if p == libc::MAP_FAILED {
            let err = std::io::Error::last_os_error();
            self.host_map(hole, hole_end, libc::PROT_NONE)?;
            return Err(Error::Host(err));
        }
        if !in_place {
            self.host_map(ostart, oend, libc::PROT_NONE)?;
            map.clear(ostart, oend);
        }
        map.set(target, target + nlen, m.prot, true, m.file);
        let mut released = map.unwatch(ostart, oend);
        released.extend(map.unwatch(target, target + nlen));
        drop(map);
        self.notify(&released);
        Ok(target)
    }

    /// True if no page of `[addr, addr + len)` is mapped (for
    /// `MAP_FIXED_NOREPLACE`). False for an invalid range.
    pub fn is_free(&self, addr: u64, len: u64) -> bool {
        match self.range(page_align_down(addr), len) {
            Ok((s, e)) => self.map.read().is_free(s, e),
            Err(_) => false,
        }
    }

    /// Unmaps `[addr, addr + len)` (rounded up to pages), like `munmap`:
    /// unmapped pages in the range are fine. The host pages are released and
    /// the range reverts to the `PROT_NONE` reservation.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero length or an unaligned `addr`;
    /// [`Error::OutOfRange`] if the range leaves the guest space.
    pub fn unmap(&self, addr: u64, len: u64) -> Result<(), Error> {
        let (start, end) = self.range(addr, len)?;
        let mut map = self.map.write();
        self.host_map(start, end, libc::PROT_NONE)?;
        map.clear(start, end);
        let released = map.unwatch(start, end);
        drop(map);
        self.notify(&released);
        Ok(())
    }

    /// Changes the guest permissions of `[addr, addr + len)` (rounded up to
    /// pages), like `mprotect`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero length or an unaligned `addr`;
    /// [`Error::OutOfRange`] if the range leaves the guest space;
    /// [`Error::NotMapped`] if any page in it is unmapped (nothing changes).
    pub fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<(), Error> {
        let (start, end) = self.range(addr, len)?;
        let mut map = self.map.write();
        map.check(start, end, Prot::NONE)
            .map_err(|_| Error::NotMapped)?;
        let released = self.unwatch_for_protect(&mut map, start, end, prot);
        self.host_protect(start, end, prot.host())?;
        map.set_prot(start, end, prot);
        self.rewatch(&mut map, start, end, prot);
        drop(map);
        self.notify(&released);
        Ok(())
    }

    /// The guest permissions of the page holding guest address `addr`, or
    /// `None` if it is unmapped.
    pub fn prot_of(&self, addr: u64) -> Option<Prot> {
        self.map.read().lookup(addr).map(|m| m.prot)
    }

    /// A snapshot of every mapped range, in address order (for
    /// `/proc/self/maps` and debugging). Adjacent ranges are not merged.
    pub fn mappings(&self) -> Vec<Mapping> {
        self.map
            .read()
            .ranges
            .iter()
            .map(|(&start, e)| Mapping {
                start,
                end: e.end,
                prot: e.prot,
                shared: e.shared,
                file: e.file,
            })
            .collect()
    }

    /// Checks `[addr, addr + len)` against `kind`; returns the end address.
    fn check(&self, map: &PageMap, addr: u64, len: u64, kind: AccessKind) -> Result<u64, MemFault> {
        let fault = |a| MemFault { addr: a, kind };
        let end = addr.checked_add(len).ok_or(fault(addr))?;
        if end > GUEST_SPACE_SIZE {
            return Err(fault(addr.max(GUEST_SPACE_SIZE.min(addr))));
        }
        map.check(addr, end, kind.needs()).map_err(fault)?;
        if map.any_file(addr, end) {
            self.probe_file(map, addr, end).map_err(fault)?;
        }
        Ok(end)
    }

    /// Probes one byte of every page of `[addr, end)` (mapped, as checked)
    /// that is a host file mapping: the first address of a page that
    /// faults, one beyond the end of its file (see `guard`).
    fn probe_file(&self, map: &PageMap, addr: u64, end: u64) -> Result<(), u64> {
        let mut page = page_align_down(addr);
        while page < end {
            let at = page.max(addr);
            if map.lookup(at).is_some_and(|m| m.file) {
                // SAFETY: `at` is a mapped guest address (checked by the
                // caller under the page-map lock it holds), so its host
                // address is a readable or faulting page, never a stray
                // one; a fault comes back as `false`.
                if !unsafe { guard::probe(self.host(at)) } {
                    return Err(at);
                }
            }
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// Validates guest `[addr, addr + len)` for `kind` and returns the host
    /// address of `addr`, like QEMU's `lock_user`. A zero length is always
    /// valid (for an address inside the space).
    ///
    /// The pointer is meant for host system calls (`read` into a guest
    /// buffer, `write` from one): if another thread unmaps the range
    /// meanwhile, the host kernel reports `EFAULT` rather than faulting.
    /// Dereferencing it from Rust is up to the caller's `unsafe`.
    ///
    /// For [`AccessKind::Write`], watched code pages in the range are
    /// released first (their translated code is invalidated), so the host
    /// can write them. If another thread translates code from one of them
    /// again before the host call writes it, the call fails with `EFAULT`:
    /// a guest that reads input over code that another thread is running
    /// at the same time gets what it would from a racing `munmap`.
    ///
    /// # Errors
    /// The first guest address not allowed for `kind`.
    pub fn host_range(&self, addr: u64, len: u64, kind: AccessKind) -> Result<*mut u8, MemFault> {
        if len == 0 {
            if addr > GUEST_SPACE_SIZE {
                return Err(MemFault { addr, kind });
            }
            return Ok(self.host(addr));
        }
        // The lock is not kept: the host call reports EFAULT for a range
        // unmapped meanwhile (see above).
        drop(self.read_locked(addr, len, kind)?);
        Ok(self.host(addr))
    }

    /// Checks `[addr, addr + len)` (`len` > 0) against `kind` and returns
    /// the page map read-locked. For a write, watched code pages in the
    /// range are released first (see [`code`]), so the range is
    /// host-writable while the lock is held: no new watch can start then.
    fn read_locked(
        &self,
        addr: u64,
        len: u64,
        kind: AccessKind,
    ) -> Result<crate::sync::RwLockReadGuard<'_, PageMap>, MemFault> {
        loop {
            let map = self.map.read();
            let end = self.check(&map, addr, len, kind)?;
            if kind != AccessKind::Write || !map.watches(addr, end) {
                return Ok(map);
            }
            drop(map);
            self.release_code(addr, len);
        }
    }

    /// Holds the page map against every other thread until the returned
    /// guard is dropped: taken around a host `fork()` of a multi-threaded
    /// guest, so that the child does not inherit the lock held by a thread
    /// that does not exist in it.
    pub fn lock_for_fork(&self) -> impl Drop + '_ {
        self.map.write()
    }

    /// Runs `f` on the host address of guest range `[addr, addr + len)`,
    /// which must allow `kind` for the guest, with the page map locked
    /// against concurrent mapping changes: the pointer stays valid for
    /// exactly the duration of `f`. For accesses that must be single
    /// instructions (naturally aligned loads and stores that other vCPU
    /// threads may race with, atomics).
    ///
    /// # Errors
    /// The first guest address not allowed for `kind` (`f` is not called).
    pub fn access<R>(
        &self,
        addr: u64,
        len: u64,
        kind: AccessKind,
        f: impl FnOnce(*mut u8) -> R,
    ) -> Result<R, MemFault> {
        let _map = self.read_locked(addr, len.max(1), kind)?;
        Ok(f(self.host(addr)))
    }

    /// Loads `size` bytes (1, 2, 4 or 8; little-endian, zero-extended) at
    /// guest address `addr` the way translated code does: one host
    /// instruction at the host address, no page-map lock, the host page
    /// protections deciding (so `EXEC`-only pages read as `READ`, like in
    /// translated code). `None` if that faulted or `addr` is outside the
    /// space: then [`GuestSpace::access`] gives the guest's fault, or the
    /// value. An aligned load is single-copy atomic.
    ///
    /// # Safety
    /// The process's `SIGSEGV`/`SIGBUS` handler must resume a faulting
    /// thread where [`probe_fixup`] says (cranemu's runtime installs one);
    /// without it a fault kills the process.
    pub unsafe fn load_guarded(&self, addr: u64, size: u32) -> Option<u64> {
        let end = addr.checked_add(u64::from(size))?;
        if end > self.size() || !matches!(size, 1 | 2 | 4 | 8) {
            return None;
        }
        // SAFETY: `[addr, end)` is inside the reservation; the caller
        // guarantees the fault handler.
        unsafe { guard::load(self.host(addr), size) }
    }

    /// Stores the low `size` bytes (1, 2, 4 or 8) of `value` at guest
    /// address `addr` as [`GuestSpace::load_guarded`] loads: false if the
    /// store faulted (nothing was stored; a watched code page faults too)
    /// or `addr` is outside the space, and then [`GuestSpace::access`] does
    /// it or gives the guest's fault.
    ///
    /// # Safety
    /// As [`GuestSpace::load_guarded`].
    pub unsafe fn store_guarded(&self, addr: u64, size: u32, value: u64) -> bool {
        let Some(end) = addr.checked_add(u64::from(size)) else {
            return false;
        };
        if end > self.size() || !matches!(size, 1 | 2 | 4 | 8) {
            return false;
        }
        // SAFETY: as in `load_guarded`.
        unsafe { guard::store(self.host(addr), value, size) }
    }

    /// Copies `buf.len()` bytes from guest address `addr`; every byte must be
    /// readable by the guest. Never faults the host.
    ///
    /// # Errors
    /// The first unreadable guest address (nothing is copied then).
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        self.copy_out(addr, buf, AccessKind::Read)
    }

    /// Copies instruction bytes from guest address `addr`; every byte must be
    /// executable by the guest. The translator reads code through this.
    ///
    /// # Errors
    /// The first non-executable guest address (nothing is copied then).
    pub fn fetch_code(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemFault> {
        self.copy_out(addr, buf, AccessKind::Execute)
    }

    fn copy_out(&self, addr: u64, buf: &mut [u8], kind: AccessKind) -> Result<(), MemFault> {
        if buf.is_empty() {
            return Ok(());
        }
        let map = self.map.read();
        self.check(&map, addr, buf.len() as u64, kind)?;
        // SAFETY: the page map says every byte is mapped with READ or EXEC,
        // both of which are host-readable (see `Prot::host`); the read lock
        // keeps mapping calls out while we copy. Guest threads may write
        // concurrently; bytes are plain data.
        unsafe { std::ptr::copy_nonoverlapping(self.host(addr), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` to guest address `addr`, which must be writable by the
    /// guest (as the kernel requires of syscall output buffers).
    ///
    /// # Errors
    /// The first unwritable guest address (nothing is copied then).
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        if data.is_empty() {
            return Ok(());
        }
        let _map = self.read_locked(addr, data.len() as u64, AccessKind::Write)?;
        // SAFETY: every byte is mapped guest-writable and not watched,
        // hence host-writable; the read lock keeps mapping calls (and new
        // watches) out while we copy.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.host(addr), data.len()) };
        Ok(())
    }

    /// Copies `data` to guest address `addr` whatever the guest permissions,
    /// as long as every byte is mapped (for the loader writing read-only
    /// segments, and for the translator's own needs). Pages that are not
    /// host-writable are made writable for the copy and restored after.
    ///
    /// # Errors
    /// The first unmapped guest address (nothing is copied then).
    pub fn write_force(&self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        if data.is_empty() {
            return Ok(());
        }
        let fault = |a| MemFault {
            addr: a,
            kind: AccessKind::Write,
        };
        let end = addr.checked_add(data.len() as u64).ok_or(fault(addr))?;
        if end > GUEST_SPACE_SIZE {
            return Err(fault(addr));
        }
        let map = loop {
            let map = self.map.write();
            map.check(addr, end, Prot::NONE).map_err(fault)?;
            if !map.watches(addr, end) {
                break map;
            }
            drop(map);
            self.release_code(addr, data.len() as u64);
        };
        let mut pos = addr;
        while pos < end {
            let Some(m) = map.lookup(pos) else {
                return Err(fault(pos));
            };
            let chunk_end = m.end.min(end);
            let off = (pos - addr) as usize;
            let len = (chunk_end - pos) as usize;
            let writable = m.prot.contains(Prot::WRITE);
            let (ps, pe) = (
                page_align_down(pos),
                page_align_up(chunk_end).unwrap_or(m.end),
            );
            if !writable {
                self.host_protect(ps, pe, m.prot.host() | libc::PROT_WRITE)
                    .map_err(|_| fault(pos))?;
            }
            // SAFETY: [pos, chunk_end) is mapped and now host-writable; we
            // hold the write lock, so nobody changes the mapping meanwhile.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr().add(off), self.host(pos), len) };
            if !writable {
                self.host_protect(ps, pe, m.prot.host())
                    .map_err(|_| fault(pos))?;
            }
            pos = chunk_end;
        }
        Ok(())
    }

    /// Reads a little-endian `u64` at guest address `addr`.
    ///
    /// # Errors
    /// As [`GuestSpace::read`].
    pub fn read_u64(&self, addr: u64) -> Result<u64, MemFault> {
        let mut b = [0; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads a little-endian `u32` at guest address `addr`.
    ///
    /// # Errors
    /// As [`GuestSpace::read`].
    pub fn read_u32(&self, addr: u64) -> Result<u32, MemFault> {
        let mut b = [0; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Writes a little-endian `u64` at guest address `addr`.
    ///
    /// # Errors
    /// As [`GuestSpace::write`].
    pub fn write_u64(&self, addr: u64, v: u64) -> Result<(), MemFault> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u32` at guest address `addr`.
    ///
    /// # Errors
    /// As [`GuestSpace::write`].
    pub fn write_u32(&self, addr: u64, v: u32) -> Result<(), MemFault> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Reads a NUL-terminated string at guest address `addr`, without the
    /// NUL, reading at most `max` bytes (the NUL included).
    ///
    /// # Errors
    /// The first unreadable address before the NUL; a string with no NUL in
    /// `max` bytes is reported as a fault at `addr + max` (callers map it to
    /// `ENAMETOOLONG` or `EFAULT`).
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, MemFault> {
        let mut out = Vec::new();
        let mut pos = addr;
        let map = self.map.read();
        while out.len() < max {
            // Read up to the end of the current page.
            let page_end = page_align_down(pos).saturating_add(PAGE_SIZE);
            let n = ((page_end - pos) as usize).min(max - out.len());
            self.check(&map, pos, n as u64, AccessKind::Read)?;
            // SAFETY: [pos, pos + n) is guest-readable, hence host-readable;
            // the read lock is held.
            let bytes = unsafe { std::slice::from_raw_parts(self.host(pos), n) };
            if let Some(i) = bytes.iter().position(|&b| b == 0) {
                out.extend_from_slice(&bytes[..i]);
                return Ok(out);
            }
            out.extend_from_slice(bytes);
            pos += n as u64;
        }
        Err(MemFault {
            addr: addr.saturating_add(max as u64),
            kind: AccessKind::Read,
        })
    }
}

impl Drop for GuestSpace {
    fn drop(&mut self) {
        // SAFETY: we own the whole reservation; after drop nothing can reach
        // it through `self`. (The runtime must not run guest code of this
        // space after dropping it.)
        unsafe {
            libc::munmap(
                (self.base - GUARD_BELOW as usize) as *mut libc::c_void,
                (GUARD_BELOW + GUEST_SPACE_SIZE + GUARD_SIZE) as usize,
            );
        }
    }
}

impl fmt::Debug for GuestSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuestSpace")
            .field("base", &(self.base as *const u8))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
