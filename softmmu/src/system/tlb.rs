//! The per-vCPU softmmu TLB: QEMU's `CPUTLBEntry` / `CPUTLBDescFast` /
//! `CPUTLBDesc` (`include/exec/tlb-common.h`, `accel/tcg/cputlb.c`).
//!
//! # Layout and the inline probe
//!
//! For each MMU index ([`MmuIdx`]) there is a direct-mapped table of
//! `n` [`TlbEntry`]s (`n` a power of two, [`DEFAULT_TLB_ENTRIES`] by
//! default), 32 bytes each. An entry caches one 4 KiB guest virtual page:
//! three tags (`addr_read`, `addr_write`, `addr_code`: the page-aligned
//! guest virtual address, or [`TLB_INVALID_TAG`]) and an `addend` (host
//! address minus guest virtual address). Generated code probes it for an
//! access of `size` bytes at guest virtual `va`, with `fast =
//! tlb.fast[mmu_idx]` ([`TlbDescFast`], at [`TLB_FAST_OFFSET`] in [`Tlb`]):
//!
//! ```text
//! entry = fast.table + ((va >> (PAGE_SHIFT - TLB_ENTRY_BITS)) & fast.mask)
//! if (va & (PAGE_MASK | (size - 1))) == entry.addr_<read|write|code>
//!     host = va + entry.addend            // hit
//! else
//!     slow path (helper)                  // miss, flags, or misaligned
//! ```
//!
//! `fast.mask` is `(n - 1) << TLB_ENTRY_BITS`, so the first line is the
//! index function [`tlb_index`] `(va >> 12) & (n - 1)` scaled to bytes.
//! Keeping `size - 1` in the compare sends misaligned accesses (which may
//! cross a page) to the slow path. [`Tlb::probe`] is the same thing in Rust.
//!
//! # Flag bits
//!
//! A tag's low bits (below [`PAGE_SHIFT`], free since tags are page-aligned)
//! hold flags that make the compare fail although the page matches, forcing
//! the slow path: [`TLB_INVALID`], [`TLB_MMIO`], [`TLB_NOTDIRTY`] (the
//! page holds translated code; set on `addr_write` only), and
//! [`TLB_WATCHPOINT`]. The slow path recognizes a page hit with
//! [`tlb_hit_page`] (ignoring all flags but `TLB_INVALID`) and reads the
//! cold [`TlbEntryFull`] beside the entry for the physical address.
//!
//! # MMU indexes
//!
//! As QEMU's RISC-V target: U (0), S (1), S with `mstatus.SUM` (2), M (3),
//! chosen from the *effective* privilege (after `MPRV`) and `SUM` by
//! [`MmuIdx::new`]. Toggling SUM switches tables instead of flushing.
//! `MXR` has no index: the caller flushes S and U (or all) when it changes,
//! as QEMU does. Instruction fetch uses the index of the current
//! privilege (M fetches ignore `MPRV`).
//!
//! # Superpages
//!
//! A 2 MiB to 256 TiB leaf fills one 4 KiB entry at a time. So that
//! `sfence.vma` of one address still removes every piece of a superpage,
//! each index records one region covering all superpages it caches
//! (QEMU's `large_page_addr`/`large_page_mask`), and [`Tlb::flush_page`] of
//! an address in that region flushes the whole index.
//!
//! # ASIDs
//!
//! Entries do not record an ASID: the TLB holds the translations of the
//! current `satp` only, and the caller flushes (all, or
//! [`Tlb::flush_asid`]) when `satp` changes. [`Tlb::flush_asid`] removes
//! every non-global entry of U, S and S+SUM whatever its ASID (the cold
//! entry records G); an `sfence.vma` with both an address and an ASID uses
//! [`Tlb::flush_page`], which flushes global entries too. Both flush more
//! than the spec requires, never less.
//!
//! # Ownership
//!
//! A `Tlb` belongs to one vCPU thread (`Send`, not `Sync`): its generated
//! code reads it and its slow path fills it. Another vCPU's flush request
//! (a remote `sfence.vma` through SBI) must run on the owning thread, as
//! queued work, as QEMU's `async_run_on_cpu` does. No victim TLB and no
//! dynamic resizing yet.

use std::mem::offset_of;
use std::ptr::NonNull;

use super::walk::{PageSize, Perms, Translation};
use super::{AccessType, Error, GuestPhysAddr, GuestVirtAddr, Priv, Result, PAGE_MASK, PAGE_SHIFT};

/// Tag flag: the entry (or this access type of it) is invalid. Set in
/// [`TLB_INVALID_TAG`].
pub const TLB_INVALID: u64 = 1 << 11;
/// Tag flag: the page is not RAM (a device); every access takes the slow
/// path, which dispatches on the physical address.
pub const TLB_MMIO: u64 = 1 << 10;
/// Tag flag (on `addr_write`): the page holds translated code, so a store
/// takes the slow path, which invalidates that code.
pub const TLB_NOTDIRTY: u64 = 1 << 9;
/// Tag flag: a watchpoint covers part of the page.
pub const TLB_WATCHPOINT: u64 = 1 << 8;
/// All flag bits.
pub const TLB_FLAGS_MASK: u64 = TLB_INVALID | TLB_MMIO | TLB_NOTDIRTY | TLB_WATCHPOINT;
/// The tag of an invalid entry: all ones (-1), which includes
/// [`TLB_INVALID`] and so never equals a masked address.
pub const TLB_INVALID_TAG: u64 = u64::MAX;

/// Number of MMU indexes ([`MmuIdx`]).
pub const NB_MMU_MODES: usize = 4;
/// Entries per MMU index unless [`Tlb::with_entries`] says otherwise.
pub const DEFAULT_TLB_ENTRIES: usize = 256;
/// The largest table [`Tlb::with_entries`] accepts (entries).
pub const MAX_TLB_ENTRIES: usize = 1 << 16;

/// One TLB entry, the hot part (QEMU's `CPUTLBEntry`): 32 bytes, read by
/// generated code at the `TLB_ENTRY_*_OFFSET` offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(32))]
pub struct TlbEntry {
    /// Tag for loads: page-aligned guest virtual address | flags, or
    /// [`TLB_INVALID_TAG`].
    pub addr_read: u64,
    /// Tag for stores and AMOs.
    pub addr_write: u64,
    /// Tag for instruction fetch.
    pub addr_code: u64,
    /// Host address minus guest virtual address (wrapping), for the page
    /// of a RAM entry; 0 for MMIO entries, whose tags always miss.
    pub addend: u64,
}

impl TlbEntry {
    /// An entry that matches nothing.
    pub const INVALID: TlbEntry = TlbEntry {
        addr_read: TLB_INVALID_TAG,
        addr_write: TLB_INVALID_TAG,
        addr_code: TLB_INVALID_TAG,
        addend: 0,
    };

    /// The tag for `access`.
    pub const fn tag(&self, access: AccessType) -> u64 {
        match access {
            AccessType::Load => self.addr_read,
            AccessType::Store => self.addr_write,
            AccessType::Fetch => self.addr_code,
        }
    }

    /// True if any tag (valid, flags aside) is for the page of `va`.
    pub const fn hits_page_any(&self, va: GuestVirtAddr) -> bool {
        tlb_hit_page(self.addr_read, va)
            || tlb_hit_page(self.addr_write, va)
            || tlb_hit_page(self.addr_code, va)
    }
}

/// log2 of `size_of::<TlbEntry>()`: 5.
pub const TLB_ENTRY_BITS: u32 = 5;
/// Byte offset of [`TlbEntry::addr_read`].
pub const TLB_ENTRY_ADDR_READ_OFFSET: usize = offset_of!(TlbEntry, addr_read);
/// Byte offset of [`TlbEntry::addr_write`].
pub const TLB_ENTRY_ADDR_WRITE_OFFSET: usize = offset_of!(TlbEntry, addr_write);
/// Byte offset of [`TlbEntry::addr_code`].
pub const TLB_ENTRY_ADDR_CODE_OFFSET: usize = offset_of!(TlbEntry, addr_code);
/// Byte offset of [`TlbEntry::addend`].
pub const TLB_ENTRY_ADDEND_OFFSET: usize = offset_of!(TlbEntry, addend);

const _: () = assert!(std::mem::size_of::<TlbEntry>() == 1 << TLB_ENTRY_BITS);
const _: () = assert!(TLB_ENTRY_ADDR_READ_OFFSET == 0);
const _: () = assert!(TLB_ENTRY_ADDR_WRITE_OFFSET == 8);
const _: () = assert!(TLB_ENTRY_ADDR_CODE_OFFSET == 16);
const _: () = assert!(TLB_ENTRY_ADDEND_OFFSET == 24);
const _: () = assert!(TLB_FLAGS_MASK < 1 << PAGE_SHIFT);

/// The per-index descriptor generated code reads (QEMU's
/// `CPUTLBDescFast`): 16 bytes.
#[derive(Debug)]
#[repr(C)]
pub struct TlbDescFast {
    /// `(entries - 1) << TLB_ENTRY_BITS`: the index mask, in bytes.
    pub mask: u64,
    /// The first entry of the table (host address).
    pub table: *mut TlbEntry,
}

/// Byte offset of [`TlbDescFast::mask`].
pub const TLB_DESC_FAST_MASK_OFFSET: usize = offset_of!(TlbDescFast, mask);
/// Byte offset of [`TlbDescFast::table`].
pub const TLB_DESC_FAST_TABLE_OFFSET: usize = offset_of!(TlbDescFast, table);
/// Size in bytes of a [`TlbDescFast`]; `Tlb.fast[i]` is at
/// `TLB_FAST_OFFSET + i * TLB_DESC_FAST_SIZE`.
pub const TLB_DESC_FAST_SIZE: usize = std::mem::size_of::<TlbDescFast>();
/// Byte offset of the `[TlbDescFast; NB_MMU_MODES]` array in [`Tlb`].
pub const TLB_FAST_OFFSET: usize = offset_of!(Tlb, fast);

const _: () = assert!(TLB_DESC_FAST_SIZE == 16 && TLB_DESC_FAST_TABLE_OFFSET == 8);

/// The cold part of an entry (QEMU's `CPUTLBEntryFull`), for the slow path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TlbEntryFull {
    /// Guest physical address of the 4 KiB page.
    pub phys_page: GuestPhysAddr,
    /// The size of the leaf this 4 KiB piece came from.
    pub page_size: PageSize,
    /// What the translation allowed (before flags).
    pub perms: Perms,
    /// A global mapping (survives [`Tlb::flush_asid`]).
    pub global: bool,
}

/// The MMU index: which table an access probes (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MmuIdx {
    /// U-mode (0).
    User = 0,
    /// S-mode with `SUM = 0` (1).
    Supervisor = 1,
    /// S-mode with `SUM = 1` (2).
    SupervisorSum = 2,
    /// M-mode: untranslated (3).
    Machine = 3,
}

impl MmuIdx {
    /// All indexes, in order.
    pub const ALL: [MmuIdx; NB_MMU_MODES] = [
        MmuIdx::User,
        MmuIdx::Supervisor,
        MmuIdx::SupervisorSum,
        MmuIdx::Machine,
    ];

    /// The index for effective privilege `privilege` (after `MPRV` for
    /// loads and stores) and `mstatus.SUM` (which matters in S only).
    pub const fn new(privilege: Priv, sum: bool) -> MmuIdx {
        match privilege {
            Priv::User => MmuIdx::User,
            Priv::Supervisor if sum => MmuIdx::SupervisorSum,
            Priv::Supervisor => MmuIdx::Supervisor,
            Priv::Machine => MmuIdx::Machine,
        }
    }

    /// The bit of this index in a mask for [`Tlb::flush_mmu_idx`].
    pub const fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// The index function: which entry of an `entries`-entry table caches the
/// page of guest virtual `va`: `(va >> 12) & (entries - 1)`.
pub const fn tlb_index(va: GuestVirtAddr, entries: usize) -> usize {
    ((va.0 >> PAGE_SHIFT) & (entries as u64 - 1)) as usize
}

/// True if `tag` is valid and for the page of `va`, whatever its other
/// flags (QEMU's `tlb_hit`): the slow path's test for "a flagged hit".
pub const fn tlb_hit_page(tag: u64, va: GuestVirtAddr) -> bool {
    tag & (PAGE_MASK | TLB_INVALID) == va.0 & PAGE_MASK
}

/// What fills an entry besides the translation: where the physical page
/// is and which flags its tags carry.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageTarget {
    /// The host address of the 4 KiB physical page (guest RAM), or `None`
    /// for a device page ([`TLB_MMIO`] on every tag).
    pub host_page: Option<NonNull<u8>>,
    /// The page holds translated code: [`TLB_NOTDIRTY`] on `addr_write`.
    pub code: bool,
    /// A watchpoint covers the page: [`TLB_WATCHPOINT`] on `addr_read`
    /// and `addr_write`.
    pub watchpoint: bool,
}

/// Counters of TLB maintenance (hits and misses will be counted by
/// generated code and the slow path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlbStats {
    /// Entries filled.
    pub fills: u64,
    /// Full flushes ([`Tlb::flush_all`]).
    pub flush_all: u64,
    /// Page flushes ([`Tlb::flush_page`]).
    pub flush_page: u64,
    /// Page flushes that flushed a whole index because the page was in
    /// its superpage region.
    pub flush_large_page: u64,
    /// ASID flushes ([`Tlb::flush_asid`]).
    pub flush_asid: u64,
    /// Flushes of chosen indexes ([`Tlb::flush_mmu_idx`]).
    pub flush_mmu_idx: u64,
}

/// Per-index cold state (QEMU's `CPUTLBDesc`).
#[derive(Debug)]
struct TlbDesc {
    full: Box<[TlbEntryFull]>,
    /// Base of the guest virtual region that holds every superpage cached
    /// in this index, or [`TLB_INVALID_TAG`] if none.
    large_page_addr: u64,
    /// Mask of that region (the bits `large_page_addr` fixes).
    large_page_mask: u64,
}

/// The softmmu TLB of one vCPU (see the module doc). `#[repr(C)]` with
/// the fast descriptors first, so the CPU state can embed it and generated
/// code reach them at a fixed offset.
#[derive(Debug)]
#[repr(C)]
pub struct Tlb {
    fast: [TlbDescFast; NB_MMU_MODES],
    desc: [TlbDesc; NB_MMU_MODES],
    entries: usize,
    stats: TlbStats,
}

// SAFETY: the tables are owned by the `Tlb` (allocated in `with_entries`,
// freed in `drop`); the raw pointers only make the type not `Send` by
// default. Moving a `Tlb` to another thread moves that ownership.
unsafe impl Send for Tlb {}

impl Tlb {
    /// A TLB of [`DEFAULT_TLB_ENTRIES`] invalid entries per index.
    pub fn new() -> Tlb {
        match Tlb::with_entries(DEFAULT_TLB_ENTRIES) {
            Ok(tlb) => tlb,
            Err(_) => unreachable!("the default size is valid"),
        }
    }

    /// A TLB of `entries` invalid entries per index.
    ///
    /// # Errors
    /// [`Error::TlbSize`] unless `entries` is a power of two up to
    /// [`MAX_TLB_ENTRIES`].
    pub fn with_entries(entries: usize) -> Result<Tlb> {
        if !entries.is_power_of_two() || entries > MAX_TLB_ENTRIES {
            return Err(Error::TlbSize(entries));
        }
        let fast = std::array::from_fn(|_| TlbDescFast {
            mask: ((entries - 1) as u64) << TLB_ENTRY_BITS,
            table: Box::into_raw(vec![TlbEntry::INVALID; entries].into_boxed_slice()).cast(),
        });
        let desc = std::array::from_fn(|_| TlbDesc {
            full: vec![TlbEntryFull::default(); entries].into_boxed_slice(),
            large_page_addr: TLB_INVALID_TAG,
            large_page_mask: TLB_INVALID_TAG,
        });
        Ok(Tlb {
            fast,
            desc,
            entries,
            stats: TlbStats::default(),
        })
    }

    /// Entries per index.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// The fast descriptors, indexed by [`MmuIdx`], for generated code.
    pub fn fast(&self) -> &[TlbDescFast; NB_MMU_MODES] {
        &self.fast
    }

    /// The maintenance counters.
    pub fn stats(&self) -> TlbStats {
        self.stats
    }

    /// The entries of index `idx`.
    pub fn table(&self, idx: MmuIdx) -> &[TlbEntry] {
        // SAFETY: `table` points to `entries` initialized entries owned by
        // `self`; `&self` excludes writers.
        unsafe { std::slice::from_raw_parts(self.fast[idx as usize].table, self.entries) }
    }

    fn table_mut(&mut self, idx: MmuIdx) -> &mut [TlbEntry] {
        // SAFETY: as in `table`; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.fast[idx as usize].table, self.entries) }
    }

    /// The entry and cold entry that cache (or would cache) the page of
    /// `va` in index `idx`.
    pub fn entry(&self, idx: MmuIdx, va: GuestVirtAddr) -> (&TlbEntry, &TlbEntryFull) {
        let i = tlb_index(va, self.entries);
        (&self.table(idx)[i], &self.desc[idx as usize].full[i])
    }

    /// The inline probe, in Rust (see the module doc): the host address
    /// for an access of `size` bytes (a power of two) at guest virtual
    /// `va`, or `None` where generated code would take the slow path (a
    /// miss, a flag, or a misaligned access).
    ///
    /// # Panics
    /// If `size` is zero (in debug builds; `size - 1` overflows).
    pub fn probe(
        &self,
        idx: MmuIdx,
        va: GuestVirtAddr,
        access: AccessType,
        size: u64,
    ) -> Option<*mut u8> {
        let (e, _) = self.entry(idx, va);
        let key = va.0 & (PAGE_MASK | (size - 1));
        (key == e.tag(access)).then(|| va.0.wrapping_add(e.addend) as *mut u8)
    }

    /// Fills the entry for the 4 KiB page of `va` in index `idx` from a
    /// walk's result `t` (for an access at `va`, so `t.pa` is `va`'s
    /// physical address). Each tag is set if `t.perms` grants its access,
    /// with the flags `target` calls for; a superpage fills only this
    /// 4 KiB piece and widens the index's superpage region.
    pub fn fill(&mut self, idx: MmuIdx, va: GuestVirtAddr, t: &Translation, target: PageTarget) {
        let page = va.0 & PAGE_MASK;
        if t.page_size != PageSize::Size4K {
            self.add_large_page(idx, page, t.page_size.bytes());
        }
        let mut flags = 0;
        let addend = match target.host_page {
            Some(host) => (host.as_ptr() as u64).wrapping_sub(page),
            None => {
                flags |= TLB_MMIO;
                0
            }
        };
        let watch = if target.watchpoint { TLB_WATCHPOINT } else { 0 };
        let notdirty = if target.code { TLB_NOTDIRTY } else { 0 };
        let tag = |allowed: bool, extra: u64| {
            if allowed {
                page | flags | extra
            } else {
                TLB_INVALID_TAG
            }
        };
        let entry = TlbEntry {
            addr_read: tag(t.perms.read, watch),
            addr_write: tag(t.perms.write, watch | notdirty),
            addr_code: tag(t.perms.exec, 0),
            addend,
        };
        let i = tlb_index(va, self.entries);
        self.table_mut(idx)[i] = entry;
        self.desc[idx as usize].full[i] = TlbEntryFull {
            phys_page: GuestPhysAddr(t.pa.0 & PAGE_MASK),
            page_size: t.page_size,
            perms: t.perms,
            global: t.global,
        };
        self.stats.fills += 1;
    }

    /// Widens index `idx`'s superpage region to cover the `size`-byte
    /// page around `page` (QEMU's `tlb_add_large_page`).
    fn add_large_page(&mut self, idx: MmuIdx, page: u64, size: u64) {
        let d = &mut self.desc[idx as usize];
        let mut mask = !(size - 1);
        let mut addr = d.large_page_addr;
        if addr == TLB_INVALID_TAG {
            addr = page;
        } else {
            mask &= d.large_page_mask;
            while (addr ^ page) & mask != 0 {
                mask <<= 1;
            }
        }
        d.large_page_addr = addr & mask;
        d.large_page_mask = mask;
    }

    fn reset_index(&mut self, idx: MmuIdx) {
        self.table_mut(idx).fill(TlbEntry::INVALID);
        let d = &mut self.desc[idx as usize];
        d.large_page_addr = TLB_INVALID_TAG;
        d.large_page_mask = TLB_INVALID_TAG;
    }

    /// Invalidates every entry of every index (a `satp` write, a full
    /// `sfence.vma`, an `MXR` change).
    pub fn flush_all(&mut self) {
        for idx in MmuIdx::ALL {
            self.reset_index(idx);
        }
        self.stats.flush_all += 1;
    }

    /// Invalidates every entry of the indexes whose [`MmuIdx::bit`] is in
    /// `mask` (for example U, S and S+SUM after an `MXR` change).
    pub fn flush_mmu_idx(&mut self, mask: u16) {
        for idx in MmuIdx::ALL {
            if mask & idx.bit() != 0 {
                self.reset_index(idx);
            }
        }
        self.stats.flush_mmu_idx += 1;
    }

    /// Invalidates the page of guest virtual `va` in every index
    /// (`sfence.vma va`). An index whose superpage region contains `va` is
    /// flushed entirely, since other 4 KiB pieces of a superpage at `va`
    /// sit in other entries.
    pub fn flush_page(&mut self, va: GuestVirtAddr) {
        let page = va.0 & PAGE_MASK;
        for idx in MmuIdx::ALL {
            let d = &self.desc[idx as usize];
            if d.large_page_addr != TLB_INVALID_TAG && page & d.large_page_mask == d.large_page_addr
            {
                self.reset_index(idx);
                self.stats.flush_large_page += 1;
                continue;
            }
            let i = tlb_index(va, self.entries);
            let e = &mut self.table_mut(idx)[i];
            if e.hits_page_any(va) {
                *e = TlbEntry::INVALID;
            }
        }
        self.stats.flush_page += 1;
    }

    /// Marks every entry whose page is guest physical `phys_page` (4 KiB
    /// aligned) with [`TLB_NOTDIRTY`] on its write tag, so that stores to
    /// it take the slow path (which invalidates the translated code read
    /// from it): QEMU's `tlb_reset_dirty` when a page gains code.
    pub fn protect_code_page(&mut self, phys_page: GuestPhysAddr) {
        for idx in MmuIdx::ALL {
            for i in 0..self.entries {
                if self.desc[idx as usize].full[i].phys_page == phys_page {
                    let e = &mut self.table_mut(idx)[i];
                    if e.addr_write != TLB_INVALID_TAG {
                        e.addr_write |= TLB_NOTDIRTY;
                    }
                }
            }
        }
    }

    /// `sfence.vma x0, asid`: invalidates every non-global entry of U, S
    /// and S+SUM, whatever ASID it came from (entries do not record one;
    /// see the module doc). M entries are untranslated and stay.
    pub fn flush_asid(&mut self, _asid: u16) {
        for idx in [MmuIdx::User, MmuIdx::Supervisor, MmuIdx::SupervisorSum] {
            for i in 0..self.entries {
                if !self.desc[idx as usize].full[i].global {
                    self.table_mut(idx)[i] = TlbEntry::INVALID;
                }
            }
        }
        self.stats.flush_asid += 1;
    }
}

impl Default for Tlb {
    fn default() -> Tlb {
        Tlb::new()
    }
}

impl Drop for Tlb {
    fn drop(&mut self) {
        for f in &self.fast {
            // SAFETY: made by `Box::into_raw` of a boxed slice of exactly
            // `entries` entries in `with_entries`, freed once here.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(f.table, self.entries))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM_PAGE: u64 = 0x8040_0000;

    fn translation(pa: u64, page_size: PageSize, perms: Perms, global: bool) -> Translation {
        Translation {
            pa: GuestPhysAddr(pa),
            page_size,
            perms,
            global,
        }
    }

    fn host(buf: &mut [u8]) -> PageTarget {
        PageTarget {
            host_page: NonNull::new(buf.as_mut_ptr()),
            ..PageTarget::default()
        }
    }

    #[test]
    fn layout_constants() {
        assert_eq!(std::mem::size_of::<TlbEntry>(), 32);
        assert_eq!(TLB_FAST_OFFSET, 0);
        let tlb = Tlb::new();
        assert_eq!(tlb.fast()[0].mask, 255 << 5);
        assert_eq!(
            std::mem::offset_of!(Tlb, fast) + MmuIdx::SupervisorSum as usize * TLB_DESC_FAST_SIZE,
            (&tlb.fast()[2] as *const TlbDescFast as usize) - (&tlb as *const Tlb as usize)
        );
    }

    #[test]
    fn index_function() {
        assert_eq!(tlb_index(GuestVirtAddr(0x1234_5678), 256), 0x45);
        assert_eq!(tlb_index(GuestVirtAddr(0xfff), 256), 0);
        assert_eq!(tlb_index(GuestVirtAddr(0x10_0000), 256), 0);
        assert_eq!(tlb_index(GuestVirtAddr(u64::MAX), 64), 63);
        // The byte form generated code uses gives the same entry.
        let tlb = Tlb::new();
        for va in [0u64, 0x1234_5678, 0xffff_ffc0_0000_3000, u64::MAX] {
            let f = &tlb.fast()[1];
            let byte_off = (va >> (PAGE_SHIFT - TLB_ENTRY_BITS)) & f.mask;
            let e = f.table.wrapping_byte_add(byte_off as usize);
            assert_eq!(
                e as *const TlbEntry,
                tlb.entry(MmuIdx::Supervisor, GuestVirtAddr(va)).0 as *const _
            );
        }
        assert!(matches!(Tlb::with_entries(100), Err(Error::TlbSize(100))));
        assert!(Tlb::with_entries(1 << 17).is_err());
        assert_eq!(Tlb::with_entries(1).unwrap().entries(), 1);
    }

    #[test]
    fn fill_and_probe() {
        let mut page = vec![0u8; 4096];
        let mut tlb = Tlb::new();
        let va = GuestVirtAddr(0x4000_1000);
        let s = MmuIdx::Supervisor;
        assert_eq!(tlb.probe(s, va, AccessType::Load, 8), None);
        let rw = Perms {
            read: true,
            write: true,
            exec: false,
        };
        tlb.fill(
            s,
            GuestVirtAddr(va.0 + 0x10),
            &translation(RAM_PAGE + 0x10, PageSize::Size4K, rw, false),
            host(&mut page),
        );
        let base = page.as_mut_ptr();
        let (e, full) = tlb.entry(s, va);
        assert_eq!(e.addr_read, va.0);
        assert_eq!(e.addr_write, va.0);
        assert_eq!(e.addr_code, TLB_INVALID_TAG);
        assert_eq!(full.phys_page, GuestPhysAddr(RAM_PAGE));
        assert_eq!(
            tlb.probe(s, GuestVirtAddr(va.0 + 0x18), AccessType::Load, 8),
            Some(base.wrapping_add(0x18))
        );
        assert_eq!(
            tlb.probe(s, GuestVirtAddr(va.0 + 0xfff), AccessType::Store, 1),
            Some(base.wrapping_add(0xfff))
        );
        // Not executable; misaligned; another page with the same index;
        // another MMU index.
        assert_eq!(tlb.probe(s, va, AccessType::Fetch, 2), None);
        assert_eq!(
            tlb.probe(s, GuestVirtAddr(va.0 + 0xffc), AccessType::Load, 8),
            None
        );
        assert_eq!(
            tlb.probe(s, GuestVirtAddr(va.0 + (256 << 12)), AccessType::Load, 1),
            None
        );
        assert_eq!(tlb.probe(MmuIdx::User, va, AccessType::Load, 1), None);
        assert_eq!(tlb.stats().fills, 1);
    }

    #[test]
    fn flags_force_the_slow_path() {
        let mut page = vec![0u8; 4096];
        let mut tlb = Tlb::new();
        let va = GuestVirtAddr(0x2000);
        let u = MmuIdx::User;
        let t = translation(RAM_PAGE, PageSize::Size4K, Perms::ALL, false);

        // Code page: loads and fetches hit, stores go slow with NOTDIRTY.
        tlb.fill(
            u,
            va,
            &t,
            PageTarget {
                code: true,
                ..host(&mut page)
            },
        );
        assert!(tlb.probe(u, va, AccessType::Load, 4).is_some());
        assert!(tlb.probe(u, va, AccessType::Fetch, 4).is_some());
        assert_eq!(tlb.probe(u, va, AccessType::Store, 4), None);
        let (e, _) = tlb.entry(u, va);
        assert_eq!(e.addr_write & TLB_FLAGS_MASK, TLB_NOTDIRTY);
        assert!(tlb_hit_page(e.addr_write, va));

        // MMIO: everything goes slow; the page still "hits" for the slow
        // path, which finds the physical address in the cold entry.
        tlb.fill(u, va, &t, PageTarget::default());
        for access in [AccessType::Load, AccessType::Store, AccessType::Fetch] {
            assert_eq!(tlb.probe(u, va, access, 1), None);
            assert_eq!(tlb.entry(u, va).0.tag(access) & TLB_MMIO, TLB_MMIO);
            assert!(tlb_hit_page(tlb.entry(u, va).0.tag(access), va));
        }
        assert_eq!(tlb.entry(u, va).1.phys_page, GuestPhysAddr(RAM_PAGE));

        // Watchpoint: loads and stores go slow, fetches hit.
        tlb.fill(
            u,
            va,
            &t,
            PageTarget {
                watchpoint: true,
                ..host(&mut page)
            },
        );
        assert_eq!(tlb.probe(u, va, AccessType::Load, 1), None);
        assert_eq!(tlb.probe(u, va, AccessType::Store, 1), None);
        assert!(tlb.probe(u, va, AccessType::Fetch, 1).is_some());

        // Invalid tags never hit, not even the all-ones page.
        assert!(!tlb_hit_page(TLB_INVALID_TAG, GuestVirtAddr(u64::MAX)));
        assert!(!tlb_hit_page(
            TLB_INVALID_TAG,
            GuestVirtAddr(0xffff_ffff_ffff_f000)
        ));
        let empty = Tlb::new();
        assert_eq!(
            empty.probe(u, GuestVirtAddr(u64::MAX), AccessType::Load, 1),
            None
        );
    }

    #[test]
    fn flush_page_and_flush_all() {
        let mut page = vec![0u8; 4096];
        let mut tlb = Tlb::new();
        let t = translation(RAM_PAGE, PageSize::Size4K, Perms::ALL, true);
        let a = GuestVirtAddr(0x1000);
        let b = GuestVirtAddr(0x2000);
        for idx in MmuIdx::ALL {
            tlb.fill(idx, a, &t, host(&mut page));
            tlb.fill(idx, b, &t, host(&mut page));
        }
        // An unrelated page with the same index leaves the entry alone.
        tlb.flush_page(GuestVirtAddr(a.0 + (256 << 12)));
        assert!(tlb.probe(MmuIdx::User, a, AccessType::Load, 1).is_some());
        tlb.flush_page(GuestVirtAddr(a.0 + 0x123));
        for idx in MmuIdx::ALL {
            assert_eq!(tlb.probe(idx, a, AccessType::Load, 1), None);
            assert!(tlb.probe(idx, b, AccessType::Load, 1).is_some());
        }
        tlb.flush_all();
        for idx in MmuIdx::ALL {
            assert!(tlb.table(idx).iter().all(|e| *e == TlbEntry::INVALID));
        }
        let s = tlb.stats();
        assert_eq!((s.fills, s.flush_page, s.flush_all), (8, 2, 1));
    }

    #[test]
    fn flush_page_in_a_superpage_flushes_every_piece() {
        let mut page = vec![0u8; 4096];
        let mut tlb = Tlb::new();
        let s = MmuIdx::Supervisor;
        let t = translation(0x8020_0000, PageSize::Size2M, Perms::ALL, false);
        // Two 4 KiB pieces of the 2 MiB page at 0x20_0000, and an
        // unrelated 4 KiB page in another index.
        tlb.fill(s, GuestVirtAddr(0x20_0000), &t, host(&mut page));
        tlb.fill(s, GuestVirtAddr(0x20_5000), &t, host(&mut page));
        let small = translation(RAM_PAGE, PageSize::Size4K, Perms::ALL, false);
        tlb.fill(MmuIdx::User, GuestVirtAddr(0x1000), &small, host(&mut page));
        // sfence.vma of a third address in the superpage.
        tlb.flush_page(GuestVirtAddr(0x2f_f000));
        assert_eq!(
            tlb.probe(s, GuestVirtAddr(0x20_0000), AccessType::Load, 1),
            None
        );
        assert_eq!(
            tlb.probe(s, GuestVirtAddr(0x20_5000), AccessType::Load, 1),
            None
        );
        assert!(tlb
            .probe(MmuIdx::User, GuestVirtAddr(0x1000), AccessType::Load, 1)
            .is_some());
        assert_eq!(tlb.stats().flush_large_page, 1);
        // The region was reset: a page outside it is a plain page flush.
        tlb.fill(s, GuestVirtAddr(0x1000), &small, host(&mut page));
        tlb.fill(s, GuestVirtAddr(0x3000), &small, host(&mut page));
        tlb.flush_page(GuestVirtAddr(0x3000));
        assert!(tlb
            .probe(s, GuestVirtAddr(0x1000), AccessType::Load, 1)
            .is_some());
    }

    #[test]
    fn large_page_region_grows_to_cover_both() {
        let mut page = vec![0u8; 4096];
        let mut tlb = Tlb::new();
        let s = MmuIdx::Supervisor;
        let t = translation(0x8020_0000, PageSize::Size2M, Perms::ALL, false);
        tlb.fill(s, GuestVirtAddr(0x20_0000), &t, host(&mut page));
        tlb.fill(s, GuestVirtAddr(0x80_0000), &t, host(&mut page));
        let d = &tlb.desc[s as usize];
        assert_eq!((d.large_page_addr, d.large_page_mask), (0, !0xff_ffff));
    }

    #[test]
    fn flush_asid_keeps_global_and_machine_entries() {
        let mut page = vec![0u8; 4096];
        let mut tlb = Tlb::new();
        let local = translation(RAM_PAGE, PageSize::Size4K, Perms::ALL, false);
        let global = translation(RAM_PAGE, PageSize::Size4K, Perms::ALL, true);
        tlb.fill(MmuIdx::User, GuestVirtAddr(0x1000), &local, host(&mut page));
        tlb.fill(
            MmuIdx::SupervisorSum,
            GuestVirtAddr(0x2000),
            &global,
            host(&mut page),
        );
        tlb.fill(
            MmuIdx::Machine,
            GuestVirtAddr(0x3000),
            &local,
            host(&mut page),
        );
        tlb.flush_asid(5);
        assert_eq!(
            tlb.probe(MmuIdx::User, GuestVirtAddr(0x1000), AccessType::Load, 1),
            None
        );
        assert!(tlb
            .probe(
                MmuIdx::SupervisorSum,
                GuestVirtAddr(0x2000),
                AccessType::Load,
                1
            )
            .is_some());
        assert!(tlb
            .probe(MmuIdx::Machine, GuestVirtAddr(0x3000), AccessType::Load, 1)
            .is_some());
        tlb.flush_mmu_idx(MmuIdx::SupervisorSum.bit() | MmuIdx::Machine.bit());
        assert_eq!(
            tlb.probe(MmuIdx::Machine, GuestVirtAddr(0x3000), AccessType::Load, 1),
            None
        );
        assert_eq!(tlb.stats().flush_asid, 1);
    }

    #[test]
    fn mmu_idx_choice() {
        assert_eq!(MmuIdx::new(Priv::User, true), MmuIdx::User);
        assert_eq!(MmuIdx::new(Priv::Supervisor, false), MmuIdx::Supervisor);
        assert_eq!(MmuIdx::new(Priv::Supervisor, true), MmuIdx::SupervisorSum);
        assert_eq!(MmuIdx::new(Priv::Machine, true), MmuIdx::Machine);
    }

    #[test]
    fn tlb_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Tlb>();
    }
}
