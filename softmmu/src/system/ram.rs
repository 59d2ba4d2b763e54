//! Guest RAM: one host anonymous mapping placed at a guest physical base.
//!
//! # Design
//!
//! [`Ram::new`] maps `size` bytes of private anonymous host memory with
//! `MAP_NORESERVE`, so a large `-m` costs nothing until the guest touches
//! it, and places it at guest physical `base` (`0x8000_0000` on `virt`,
//! [`VIRT_DRAM_BASE`]). Guest physical address `pa` in
//! `base..base + size` lives at host address `host_base + (pa - base)`;
//! the softmmu TLB's addend is built from that.
//!
//! # Concurrency
//!
//! `Ram` is `Send + Sync`: every vCPU thread reads and writes guest RAM at
//! once, as real harts do. The byte-copy helpers ([`Ram::read`],
//! [`Ram::write`], the `read_u*`/`write_u*` helpers) use unaligned host
//! loads and stores, with no ordering between vCPUs (the guest orders its
//! own accesses with fences, which the translator maps to host fences).
//! PTE reads and A/D updates use host atomics ([`Ram::load_u64`],
//! [`Ram::compare_exchange_u64`]) so that two vCPUs walking the same page
//! table never lose an update (Privileged ISA, Svadu: "the PTE update must
//! be atomic with respect to other accesses to the PTE").

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use super::walk::PteMemory;
use super::{Error, GuestPhysAddr, Result, PAGE_SIZE};

/// Where QEMU's `virt` machine places RAM (`VIRT_DRAM` in
/// `hw/riscv/virt.c`): guest physical `0x8000_0000`.
pub const VIRT_DRAM_BASE: GuestPhysAddr = GuestPhysAddr(0x8000_0000);

/// One past the largest guest physical address: 2^56 (a 44-bit PPN of
/// 4 KiB pages, Privileged ISA, Sv39 "physical address").
pub const PHYS_ADDR_LIMIT: u64 = 1 << 56;

/// Guest RAM (see the module doc).
#[derive(Debug)]
pub struct Ram {
    /// Guest physical address of the first byte.
    base: GuestPhysAddr,
    /// Size in bytes, a multiple of [`PAGE_SIZE`].
    size: u64,
    /// Host address of the first byte.
    host: NonNull<u8>,
}

// SAFETY: `Ram` owns its mapping; the pointer is only used to reach guest
// memory, which any thread may access (see the module doc, "Concurrency").
unsafe impl Send for Ram {}
// SAFETY: as above; `&Ram` hands out no Rust references into guest memory,
// only raw pointers and copies.
unsafe impl Sync for Ram {}

impl Ram {
    /// Maps `size` bytes of guest RAM at guest physical `base`.
    ///
    /// # Errors
    /// [`Error::RamLayout`] if `size` is zero or not a multiple of 4 KiB,
    /// `base` is not page-aligned, or `base + size` passes
    /// [`PHYS_ADDR_LIMIT`] or the host's address space; [`Error::RamMap`] if
    /// the host `mmap` fails.
    pub fn new(base: GuestPhysAddr, size: u64) -> Result<Ram> {
        let layout_error = Error::RamLayout { base: base.0, size };
        let fits = size != 0
            && size.is_multiple_of(PAGE_SIZE)
            && base.0.is_multiple_of(PAGE_SIZE)
            && base
                .0
                .checked_add(size)
                .is_some_and(|end| end <= PHYS_ADDR_LIMIT);
        if !fits {
            return Err(layout_error);
        }
        let len = usize::try_from(size).map_err(|_| layout_error)?;
        // SAFETY: a fresh anonymous mapping at an address the host chooses;
        // it aliases nothing.
        let host = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if host == libc::MAP_FAILED {
            return Err(Error::RamMap {
                size,
                source: std::io::Error::last_os_error(),
            });
        }
        let host =
            NonNull::new(host.cast::<u8>()).ok_or(Error::RamLayout { base: base.0, size })?;
        Ok(Ram { base, size, host })
    }

    /// The guest physical address of the first byte.
    pub fn base(&self) -> GuestPhysAddr {
        self.base
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The host address of the first byte (guest physical [`Ram::base`]).
    pub fn host_base(&self) -> *mut u8 {
        self.host.as_ptr()
    }

    /// True if the `len` bytes at guest physical `addr` all lie in RAM
    /// (an empty range counts if `addr` is in `base..=base + size`).
    pub fn contains(&self, addr: GuestPhysAddr, len: u64) -> bool {
        self.offset(addr, len).is_some()
    }

    /// The offset in bytes of `addr` from the base, if `addr..addr + len`
    /// lies in RAM.
    fn offset(&self, addr: GuestPhysAddr, len: u64) -> Option<u64> {
        let off = addr.0.checked_sub(self.base.0)?;
        let end = off.checked_add(len)?;
        (end <= self.size).then_some(off)
    }

    /// The host address of guest physical `addr`, for a range of `len`
    /// bytes that must lie entirely in RAM. The pointer stays valid while
    /// `self` lives; other vCPUs may write through it at any time.
    ///
    /// # Errors
    /// [`Error::OutsideRam`] if any byte of the range is outside RAM.
    pub fn host_ptr(&self, addr: GuestPhysAddr, len: u64) -> Result<*mut u8> {
        let off = self
            .offset(addr, len)
            .ok_or(Error::OutsideRam { addr: addr.0, len })?;
        // SAFETY: `off + len <= size`, so the result is inside the mapping
        // (`off` fits in usize because `size` did in `new`).
        Ok(unsafe { self.host.as_ptr().add(off as usize) })
    }

    /// Copies `buf.len()` bytes from guest physical `addr` into `buf`.
    ///
    /// # Errors
    /// [`Error::OutsideRam`] if the range is not entirely in RAM; nothing
    /// is copied then.
    pub fn read(&self, addr: GuestPhysAddr, buf: &mut [u8]) -> Result<()> {
        let src = self.host_ptr(addr, buf.len() as u64)?;
        // SAFETY: `src..src + len` is inside the mapping, which never
        // overlaps `buf` (a Rust allocation).
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `buf` to guest physical `addr`.
    ///
    /// # Errors
    /// [`Error::OutsideRam`] if the range is not entirely in RAM; nothing
    /// is copied then.
    pub fn write(&self, addr: GuestPhysAddr, buf: &[u8]) -> Result<()> {
        let dst = self.host_ptr(addr, buf.len() as u64)?;
        // SAFETY: `dst..dst + len` is inside the mapping, which never
        // overlaps `buf`.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), dst, buf.len()) };
        Ok(())
    }

    /// The host pointer for an aligned 8-byte atomic at `addr`.
    fn atomic_u64(&self, addr: GuestPhysAddr) -> Result<&AtomicU64> {
        if !addr.0.is_multiple_of(8) {
            return Err(Error::Misaligned { addr: addr.0 });
        }
        let p = self.host_ptr(addr, 8)?;
        // SAFETY: `p` is 8-aligned (the mapping is page-aligned and so is
        // `base`), in the mapping for 8 bytes, and lives as long as `self`.
        // All concurrent accesses to PTEs that need atomicity go through
        // here; plain copies elsewhere are the guest's own racy accesses.
        Ok(unsafe { AtomicU64::from_ptr(p.cast::<u64>()) })
    }

    /// Loads the little-endian 64-bit word at guest physical `addr` with
    /// an acquire load (a PTE read by the walker).
    ///
    /// # Errors
    /// [`Error::Misaligned`] unless `addr` is 8-aligned;
    /// [`Error::OutsideRam`] if the word is not in RAM.
    pub fn load_u64(&self, addr: GuestPhysAddr) -> Result<u64> {
        Ok(u64::from_le(self.atomic_u64(addr)?.load(Ordering::Acquire)))
    }

    /// Atomically replaces the little-endian 64-bit word at guest physical
    /// `addr` with `new` if it equals `current` (a PTE A/D update). Returns
    /// `Ok(Ok(current))` if it was replaced, `Ok(Err(actual))` with the
    /// value found otherwise.
    ///
    /// # Errors
    /// [`Error::Misaligned`] unless `addr` is 8-aligned;
    /// [`Error::OutsideRam`] if the word is not in RAM.
    pub fn compare_exchange_u64(
        &self,
        addr: GuestPhysAddr,
        current: u64,
        new: u64,
    ) -> Result<std::result::Result<u64, u64>> {
        let word = self.atomic_u64(addr)?;
        Ok(word
            .compare_exchange(
                current.to_le(),
                new.to_le(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(u64::from_le)
            .map_err(u64::from_le))
    }
}

/// Little-endian load and store helpers, one pair per width.
macro_rules! le_access {
    ($($read:ident, $write:ident, $t:ty, $bytes:expr;)*) => {$(
        #[doc = concat!("Reads the little-endian `", stringify!($t), "` at guest physical `addr` (any alignment).")]
        ///
        /// # Errors
        /// [`Error::OutsideRam`] if any of its bytes is outside RAM.
        pub fn $read(&self, addr: GuestPhysAddr) -> Result<$t> {
            let mut b = [0u8; $bytes];
            self.read(addr, &mut b)?;
            Ok(<$t>::from_le_bytes(b))
        }

        #[doc = concat!("Writes `value` as a little-endian `", stringify!($t), "` at guest physical `addr` (any alignment).")]
        ///
        /// # Errors
        /// [`Error::OutsideRam`] if any of its bytes is outside RAM;
        /// nothing is written then.
        pub fn $write(&self, addr: GuestPhysAddr, value: $t) -> Result<()> {
            self.write(addr, &value.to_le_bytes())
        }
    )*};
}

impl Ram {
    le_access! {
        read_u8, write_u8, u8, 1;
        read_u16, write_u16, u16, 2;
        read_u32, write_u32, u32, 4;
        read_u64, write_u64, u64, 8;
    }
}

impl Drop for Ram {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of exactly this length; no
        // pointer into it outlives `self` (callers promise that by the
        // lifetime documented on `host_ptr`).
        unsafe { libc::munmap(self.host.as_ptr().cast(), self.size as usize) };
    }
}

impl PteMemory for Ram {
    fn load_pte(&self, addr: GuestPhysAddr) -> Option<u64> {
        self.load_u64(addr).ok()
    }

    fn cas_pte(&self, addr: GuestPhysAddr, current: u64, new: u64) -> Option<bool> {
        self.compare_exchange_u64(addr, current, new)
            .ok()
            .map(|r| r.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn ram_is_send_and_sync() {
        assert_send_sync::<Ram>();
    }

    #[test]
    fn read_write_little_endian() {
        let ram = Ram::new(VIRT_DRAM_BASE, 2 * MIB).unwrap();
        let a = GuestPhysAddr(0x8000_1003);
        ram.write_u32(a, 0x1122_3344).unwrap();
        assert_eq!(ram.read_u8(a).unwrap(), 0x44);
        assert_eq!(ram.read_u16(GuestPhysAddr(a.0 + 2)).unwrap(), 0x1122);
        ram.write_u64(GuestPhysAddr(0x8000_0ffc), 0x0102_0304_0506_0708)
            .unwrap();
        assert_eq!(
            ram.read_u64(GuestPhysAddr(0x8000_0ffc)).unwrap(),
            0x0102_0304_0506_0708
        );
        assert_eq!(
            ram.read_u32(GuestPhysAddr(0x8000_1000)).unwrap(),
            0x0102_0304
        );
        // The host pointer sees the same bytes.
        let p = ram.host_ptr(GuestPhysAddr(0x8000_1000), 4).unwrap();
        // SAFETY: in the mapping for 4 bytes.
        assert_eq!(
            unsafe { p.cast::<u32>().read_unaligned() },
            u32::from_le(0x0102_0304)
        );
    }

    #[test]
    fn ranges_outside_ram_are_errors() {
        let ram = Ram::new(VIRT_DRAM_BASE, MIB).unwrap();
        let end = VIRT_DRAM_BASE.0 + MIB;
        assert!(ram.contains(GuestPhysAddr(end - 8), 8));
        assert!(!ram.contains(GuestPhysAddr(end - 7), 8));
        assert!(!ram.contains(GuestPhysAddr(VIRT_DRAM_BASE.0 - 1), 1));
        assert!(!ram.contains(GuestPhysAddr(u64::MAX), 2));
        assert!(matches!(
            ram.read_u64(GuestPhysAddr(end - 4)),
            Err(Error::OutsideRam { len: 8, .. })
        ));
        assert!(ram.write_u8(GuestPhysAddr(0x1000), 1).is_err());
        assert!(ram
            .host_ptr(GuestPhysAddr(VIRT_DRAM_BASE.0), MIB + 1)
            .is_err());
    }

    #[test]
    fn bad_layouts_are_errors() {
        for (base, size) in [
            (VIRT_DRAM_BASE.0, 0),
            (VIRT_DRAM_BASE.0, 4095),
            (VIRT_DRAM_BASE.0 + 1, PAGE_SIZE),
            (PHYS_ADDR_LIMIT - PAGE_SIZE, 2 * PAGE_SIZE),
            (u64::MAX - PAGE_SIZE + 1, PAGE_SIZE * 2),
        ] {
            assert!(
                matches!(
                    Ram::new(GuestPhysAddr(base), size),
                    Err(Error::RamLayout { .. })
                ),
                "{base:#x} {size:#x}"
            );
        }
    }

    #[test]
    fn huge_unreserved_mapping_or_clear_error() {
        // 1 TiB: MAP_NORESERVE usually succeeds; if the host refuses
        // (address-space limits), the error is RamMap, not a panic.
        match Ram::new(VIRT_DRAM_BASE, 1 << 40) {
            Ok(ram) => {
                ram.write_u8(GuestPhysAddr(VIRT_DRAM_BASE.0 + (1 << 40) - 1), 7)
                    .unwrap();
                assert_eq!(
                    ram.read_u8(GuestPhysAddr(VIRT_DRAM_BASE.0 + (1 << 40) - 1))
                        .unwrap(),
                    7
                );
            }
            Err(e) => assert!(matches!(e, Error::RamMap { .. }), "{e}"),
        }
    }

    #[test]
    fn compare_exchange_pte() {
        let ram = Ram::new(VIRT_DRAM_BASE, MIB).unwrap();
        let a = GuestPhysAddr(0x8000_0010);
        ram.write_u64(a, 0x1001).unwrap();
        assert_eq!(ram.load_u64(a).unwrap(), 0x1001);
        assert_eq!(
            ram.compare_exchange_u64(a, 0x1001, 0x10c1).unwrap(),
            Ok(0x1001)
        );
        assert_eq!(
            ram.compare_exchange_u64(a, 0x1001, 0x10ff).unwrap(),
            Err(0x10c1)
        );
        assert_eq!(ram.read_u64(a).unwrap(), 0x10c1);
        assert!(matches!(
            ram.compare_exchange_u64(GuestPhysAddr(a.0 + 4), 0, 1),
            Err(Error::Misaligned { .. })
        ));
        assert_eq!(ram.load_pte(GuestPhysAddr(0x1000)), None);
        assert_eq!(ram.cas_pte(a, 0x10c1, 0x10c3), Some(true));
        assert_eq!(ram.cas_pte(a, 0x10c1, 0x10c3), Some(false));
    }

    #[test]
    fn concurrent_cas_loses_no_update() {
        let ram = Ram::new(VIRT_DRAM_BASE, MIB).unwrap();
        let a = GuestPhysAddr(0x8000_0100);
        std::thread::scope(|s| {
            for bit in 0..8 {
                let ram = &ram;
                s.spawn(move || loop {
                    let old = ram.load_u64(a).unwrap();
                    if ram
                        .compare_exchange_u64(a, old, old | 1 << bit)
                        .unwrap()
                        .is_ok()
                    {
                        break;
                    }
                });
            }
        });
        assert_eq!(ram.read_u64(a).unwrap(), 0xff);
    }
}
