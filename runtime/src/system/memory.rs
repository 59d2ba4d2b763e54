//! The system-mode memory path behind translated code's inline TLB probe:
//! guest physical memory (RAM, the mask ROM, devices), TLB refills from
//! page-table walks, the slow-path helpers, and the tracking of RAM pages
//! that hold translated code.
//!
//! # Physical memory
//! RAM and the mask ROM are host memory: a TLB entry for one of their pages
//! holds its host address, so hits cost no call. The ROM's entries never
//! allow writes (a store goes to the slow path, which ignores it, as QEMU's
//! ROM regions do). Everything else goes to the MMIO bus on every access;
//! an address that no device claims is an access fault.
//!
//! # Code pages
//! A bitmap over RAM pages marks those that translated code was read from
//! (QEMU's `DIRTY_MEMORY_CODE`, inverted). TLB write tags of such a page
//! carry `TLB_NOTDIRTY`, so a store to it takes the slow path, which
//! writes, then clears the mark and invalidates the TBs read from the page
//! (for every hart, through the translation cache's page index), and
//! refills without the flag. So code is invalidated by the physical page
//! that changed, whatever virtual address wrote it, and `fence.i` only
//! ends a block.
//!
//! Between harts, a translation and a store to its page race; the order
//! of the steps closes the window (`Hart::find_or_translate`):
//! - the translator takes the cache's invalidation count, then marks the
//!   page and waits until every hart's TLB sends stores to it to the slow
//!   path (including requests other harts' markings still have in flight)
//!   *before* it reads the bytes;
//! - a store invalidates *after* it writes, and any invalidation newer
//!   than the count makes the insertion fail (or removes the TB if it came
//!   later); a clear of the mark after the marking is such an
//!   invalidation, so a writer that stores unflagged afterwards cannot
//!   leave a stale TB behind;
//! - an AMO invalidates before it writes (translated code does the AMO
//!   after the slow path returns the host address): if that was before
//!   the count, the marking is fresh and waits for the AMO's hart, which
//!   answers at a block boundary, after the AMO.
//!
//! A page that keeps being written while it is translated (code and a hot
//! lock word on one page) would make the translator retry for ever; after
//! a few tries it runs its translation once without caching it.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use cranemu_frontend::privileged::{mstatus, Priv, PrivState};
use cranemu_frontend::translate::CodeSource;
use cranemu_frontend::Exception;
use cranemu_hw::bus::MmioBus;
use cranemu_hw::layout::{CLINT_BASE, MROM_BASE, MROM_SIZE};
use cranemu_ir::MemSize;
use cranemu_softmmu::system::ram::Ram;
use cranemu_softmmu::system::tlb::{tlb_hit_page, MmuIdx, PageTarget, TLB_NOTDIRTY};
use cranemu_softmmu::system::walk::{walk, AdUpdate, PteMemory, Satp, Translation, WalkRequest};
use cranemu_softmmu::system::{
    AccessType, GuestPhysAddr, GuestVirtAddr, Priv as MmuPriv, Trap, PAGE_MASK, PAGE_SIZE,
};

use super::hart::Hart;
use crate::stats::Counters;

/// A guest exception raised by an access: cause and `tval`.
pub(crate) type Fault = (Exception, u64);

/// Where a guest physical address lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Region {
    /// RAM: the host address of the byte.
    Ram(*mut u8),
    /// The mask ROM: the host address of the byte (read and fetch only).
    Rom(*const u8),
    /// A device, or nothing (the bus decides).
    Mmio,
}

/// The machine's guest physical memory as the harts see it.
pub(crate) struct PhysMap {
    /// Guest RAM.
    pub(crate) ram: Arc<Ram>,
    ram_base: u64,
    ram_size: u64,
    ram_host: *mut u8,
    /// A copy of the mask ROM padded to whole pages.
    rom: Box<[u8]>,
    /// The devices.
    pub(crate) bus: Arc<MmioBus>,
    /// One bit per RAM page: the page holds translated code.
    code: Box<[AtomicU64]>,
}

// SAFETY: `ram_host` points into `ram`'s mapping, which `ram` keeps alive
// and which is shared guest memory by design; the rest is owned or atomic.
unsafe impl Send for PhysMap {}
// SAFETY: as above.
unsafe impl Sync for PhysMap {}

impl PhysMap {
    /// The physical memory of a machine with `ram`, mask ROM contents
    /// `rom` (at most [`MROM_SIZE`] bytes are used) and devices `bus`.
    pub(crate) fn new(ram: Arc<Ram>, rom: &[u8], bus: Arc<MmioBus>) -> PhysMap {
        let mut padded = vec![0u8; MROM_SIZE as usize].into_boxed_slice();
        let n = rom.len().min(padded.len());
        padded[..n].copy_from_slice(&rom[..n]);
        let pages = ram.size() / PAGE_SIZE;
        PhysMap {
            ram_base: ram.base().0,
            ram_size: ram.size(),
            ram_host: ram.host_base(),
            ram,
            rom: padded,
            bus,
            code: (0..pages.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Where guest physical `pa` lives.
    pub(crate) fn region(&self, pa: u64) -> Region {
        if pa.wrapping_sub(self.ram_base) < self.ram_size {
            // SAFETY: inside the RAM mapping (checked just above).
            return Region::Ram(unsafe { self.ram_host.add((pa - self.ram_base) as usize) });
        }
        if pa.wrapping_sub(MROM_BASE) < MROM_SIZE {
            return Region::Rom(self.rom[(pa - MROM_BASE) as usize..].as_ptr());
        }
        Region::Mmio
    }

    /// The bit of RAM page `pa` in the code bitmap, if `pa` is in RAM.
    fn code_bit(&self, pa: u64) -> Option<(&AtomicU64, u64)> {
        let off = pa.wrapping_sub(self.ram_base);
        (off < self.ram_size).then(|| {
            let page = off / PAGE_SIZE;
            (&self.code[(page / 64) as usize], 1u64 << (page % 64))
        })
    }

    /// Whether the page of `pa` holds translated code.
    pub(crate) fn is_code(&self, pa: u64) -> bool {
        self.code_bit(pa)
            .is_some_and(|(w, b)| w.load(Ordering::Acquire) & b != 0)
    }

    /// Marks the page of `pa` as holding code; true if it was not.
    pub(crate) fn set_code(&self, pa: u64) -> bool {
        self.code_bit(pa)
            .is_some_and(|(w, b)| w.fetch_or(b, Ordering::AcqRel) & b == 0)
    }

    /// Whether the page of `pa` is marked as code, or is not RAM (the
    /// mask ROM's code never changes).
    pub(crate) fn code_holds(&self, pa: u64) -> bool {
        self.code_bit(pa)
            .is_none_or(|(w, b)| w.load(Ordering::SeqCst) & b != 0)
    }

    /// Unmarks the page of `pa`; true if it was marked.
    pub(crate) fn clear_code(&self, pa: u64) -> bool {
        self.code_bit(pa)
            .is_some_and(|(w, b)| w.fetch_and(!b, Ordering::AcqRel) & b != 0)
    }
}

/// The walker's privilege for MMU index `idx`, and whether SUM applies.
fn mmu_priv(idx: MmuIdx) -> (MmuPriv, bool) {
    match idx {
        MmuIdx::User => (MmuPriv::User, false),
        MmuIdx::Supervisor => (MmuPriv::Supervisor, false),
        MmuIdx::SupervisorSum => (MmuPriv::Supervisor, true),
        MmuIdx::Machine => (MmuPriv::Machine, false),
    }
}

/// The privilege PMP checks an access under MMU index `idx` with.
fn pmp_priv(idx: MmuIdx) -> Priv {
    match idx {
        MmuIdx::User => Priv::U,
        MmuIdx::Supervisor | MmuIdx::SupervisorSum => Priv::S,
        MmuIdx::Machine => Priv::M,
    }
}

/// Guest RAM as the page-table walker reads it: PTE accesses are checked
/// against PMP as S-mode accesses (section 3.7.1), and a denied one is an
/// access fault like a PTE outside RAM.
struct PmpRam<'a> {
    ram: &'a Ram,
    ps: &'a PrivState,
}

impl PteMemory for PmpRam<'_> {
    fn load_pte(&self, addr: GuestPhysAddr) -> Option<u64> {
        if !self.ps.pmp_check(addr.0, 8, Priv::S).read {
            return None;
        }
        self.ram.load_pte(addr)
    }

    fn cas_pte(&self, addr: GuestPhysAddr, current: u64, new: u64) -> Option<bool> {
        if !self.ps.pmp_check(addr.0, 8, Priv::S).write {
            return None;
        }
        self.ram.cas_pte(addr, current, new)
    }
}

/// The MMU index with number `n` (0-3).
pub(crate) fn mmu_idx(n: u32) -> MmuIdx {
    MmuIdx::ALL[(n & 3) as usize]
}

/// Reads `size` bytes at host `p` (little-endian; single-copy atomic when
/// aligned).
///
/// # Safety
/// `p..p + size` must be readable host memory.
unsafe fn read_host(p: *const u8, size: u64) -> u64 {
    // SAFETY: the caller's contract; aligned accesses are atomics because
    // other harts and devices may write guest memory concurrently.
    unsafe {
        let aligned = (p as usize).is_multiple_of(size as usize);
        match size {
            1 => u64::from(AtomicU8::from_ptr(p.cast_mut()).load(Ordering::Relaxed)),
            2 if aligned => u64::from(
                std::sync::atomic::AtomicU16::from_ptr(p.cast_mut().cast()).load(Ordering::Relaxed),
            ),
            4 if aligned => u64::from(
                std::sync::atomic::AtomicU32::from_ptr(p.cast_mut().cast()).load(Ordering::Relaxed),
            ),
            8 if aligned => AtomicU64::from_ptr(p.cast_mut().cast()).load(Ordering::Relaxed),
            2 => u64::from(p.cast::<u16>().read_unaligned()),
            4 => u64::from(p.cast::<u32>().read_unaligned()),
            _ => p.cast::<u64>().read_unaligned(),
        }
    }
}

/// Writes the low `size` bytes of `v` at host `p`.
///
/// # Safety
/// `p..p + size` must be writable host memory.
unsafe fn write_host(p: *mut u8, size: u64, v: u64) {
    // SAFETY: as in `read_host`.
    unsafe {
        let aligned = (p as usize).is_multiple_of(size as usize);
        match size {
            1 => AtomicU8::from_ptr(p).store(v as u8, Ordering::Relaxed),
            2 if aligned => {
                std::sync::atomic::AtomicU16::from_ptr(p.cast()).store(v as u16, Ordering::Relaxed)
            }
            4 if aligned => {
                std::sync::atomic::AtomicU32::from_ptr(p.cast()).store(v as u32, Ordering::Relaxed)
            }
            8 if aligned => AtomicU64::from_ptr(p.cast()).store(v, Ordering::Relaxed),
            2 => p.cast::<u16>().write_unaligned(v as u16),
            4 => p.cast::<u32>().write_unaligned(v as u32),
            _ => p.cast::<u64>().write_unaligned(v),
        }
    }
}

/// Sign-extends the low `size` bytes of `v`.
fn sext(v: u64, size: u64) -> u64 {
    let shift = 64 - 8 * size as u32;
    (((v << shift) as i64) >> shift) as u64
}

impl Hart {
    /// Translates guest virtual `va` for `access` under MMU index `idx`
    /// to a guest physical address, through the TLB (refilling it from a
    /// page-table walk on a miss).
    pub(crate) fn translate(
        &mut self,
        va: u64,
        size: u64,
        access: AccessType,
        idx: MmuIdx,
    ) -> Result<u64, Fault> {
        let gva = GuestVirtAddr(va);
        let (e, full) = self.tlb.entry(idx, gva);
        if tlb_hit_page(e.tag(access), gva) {
            return Ok(full.phys_page.0 | (va & !PAGE_MASK));
        }
        Counters::bump(&self.counters.page_walks);
        let (privilege, sum) = mmu_priv(idx);
        let req = WalkRequest {
            satp: Satp::from_bits(self.ps.satp).unwrap_or(Satp::BARE),
            privilege,
            sum,
            mxr: self.ps.mstatus & mstatus::MXR != 0,
            access,
            vaddr: gva,
            ad: AdUpdate::Hardware,
        };
        let ptes = PmpRam {
            ram: &self.m.phys.ram,
            ps: &self.ps,
        };
        let mut t = match walk(&ptes, &req) {
            Ok(t) => t,
            Err(trap) => {
                let cause =
                    Exception::from_code(trap.cause.code()).unwrap_or(Exception::LoadAccessFault);
                if self.m.config.log_mmu {
                    self.m.log(&format!(
                        "mmu: hart {} {:?} fault at {va:#x} ({:?}), satp {:#x}\n",
                        self.id, access, cause, self.ps.satp
                    ));
                }
                return Err((cause, trap.tval));
            }
        };
        let pa = t.pa.0;
        // PMP (section 3.7): the page's rule narrows what the entry
        // allows; a page that rules split is never cached.
        let pp = pmp_priv(idx);
        match self.ps.pmp_page(pa & PAGE_MASK, pp) {
            Some(perms) => {
                t.perms.read &= perms.read;
                t.perms.write &= perms.write;
                t.perms.exec &= perms.exec;
                if !t.perms.allows(access) {
                    return Err((Self::access_fault(access), va));
                }
            }
            None => {
                let perms = self.ps.pmp_check(pa, size, pp);
                let ok = match access {
                    AccessType::Load => perms.read,
                    AccessType::Store => perms.write,
                    AccessType::Fetch => perms.exec,
                };
                return if ok {
                    Ok(pa)
                } else {
                    Err((Self::access_fault(access), va))
                };
            }
        }
        let target = match self.m.phys.region(pa & PAGE_MASK) {
            Region::Ram(p) => PageTarget {
                host_page: NonNull::new(p),
                code: self.m.phys.is_code(pa),
                watchpoint: false,
            },
            Region::Rom(p) => {
                t.perms.write = false;
                PageTarget {
                    host_page: NonNull::new(p.cast_mut()),
                    code: false,
                    watchpoint: false,
                }
            }
            Region::Mmio => PageTarget::default(),
        };
        self.tlb.fill(idx, gva, &t, target);
        if !target.code && matches!(self.m.phys.region(pa), Region::Ram(_)) {
            // Another hart may have made the page code between the check
            // and the fill (it set the bit before looking at our TLB).
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.m.phys.is_code(pa) {
                self.tlb.protect_code_page(GuestPhysAddr(pa & PAGE_MASK));
            }
        }
        Ok(pa)
    }

    /// The exception of an access fault for `access`.
    fn access_fault(access: AccessType) -> Exception {
        match access {
            AccessType::Load => Exception::LoadAccessFault,
            AccessType::Store => Exception::StoreAccessFault,
            AccessType::Fetch => Exception::InstructionAccessFault,
        }
    }

    /// A load of `size` bytes at guest virtual `va` (any alignment).
    pub(crate) fn load(&mut self, va: u64, size: u64, idx: MmuIdx) -> Result<u64, Fault> {
        if (va & !PAGE_MASK) + size > PAGE_SIZE {
            // Crosses a page: byte by byte, little-endian.
            let mut v = 0u64;
            for i in 0..size {
                v |= self.load(va.wrapping_add(i), 1, idx)? << (8 * i);
            }
            return Ok(v);
        }
        let pa = self.translate(va, size, AccessType::Load, idx)?;
        match self.m.phys.region(pa) {
            // SAFETY: RAM and ROM host memory, within one page.
            Region::Ram(p) => Ok(unsafe { read_host(p, size) }),
            Region::Rom(p) => Ok(unsafe { read_host(p, size) }),
            Region::Mmio => {
                Counters::bump(&self.counters.mmio_accesses);
                self.m
                    .phys
                    .bus
                    .read(pa, size as u8)
                    .ok_or((Exception::LoadAccessFault, va))
            }
        }
    }

    /// Makes a store to the RAM page of `pa` (virtual `va`) safe for
    /// translated code: invalidates the TBs read from it if it holds code,
    /// and drops the TLB entry that carried the not-dirty flag.
    ///
    /// If another hart or a device unmarked the page already, this hart's
    /// entry may still carry the flag (a flagged entry is a TLB hit for
    /// the slow path): it is dropped too, or every later store to the page
    /// would take the slow path.
    fn note_code_write(&mut self, va: u64, pa: u64, idx: MmuIdx) {
        if self.m.phys.clear_code(pa) {
            Counters::bump(&self.counters.code_writes);
            self.m
                .cache
                .invalidate_pages(&[pa / PAGE_SIZE], &self.counters);
            self.tlb.flush_page(GuestVirtAddr(va));
        } else if self.tlb.entry(idx, GuestVirtAddr(va)).0.addr_write & TLB_NOTDIRTY != 0
            && !self.m.phys.is_code(pa)
        {
            self.tlb.flush_page(GuestVirtAddr(va));
        }
    }

    /// A store of the low `size` bytes of `v` at guest virtual `va`.
    pub(crate) fn store(&mut self, va: u64, size: u64, v: u64, idx: MmuIdx) -> Result<(), Fault> {
        if (va & !PAGE_MASK) + size > PAGE_SIZE {
            // Crosses a page: check both pages first, so that a fault on
            // the second leaves memory unchanged.
            self.translate(va, 1, AccessType::Store, idx)?;
            let last = va.wrapping_add(size - 1);
            self.translate(last, 1, AccessType::Store, idx)?;
            for i in 0..size {
                self.store(va.wrapping_add(i), 1, v >> (8 * i), idx)?;
            }
            return Ok(());
        }
        let pa = self.translate(va, size, AccessType::Store, idx)?;
        match self.m.phys.region(pa) {
            Region::Ram(p) => {
                // SAFETY: RAM host memory, within one page.
                unsafe { write_host(p, size, v) };
                // After the write: a translation that read the old bytes
                // started before this invalidation (module doc).
                self.note_code_write(va, pa, idx);
                Ok(())
            }
            // Writes to ROM are ignored.
            Region::Rom(_) => Ok(()),
            Region::Mmio => {
                Counters::bump(&self.counters.mmio_accesses);
                if !self.m.phys.bus.write(pa, size as u8, v) {
                    return Err((Exception::StoreAccessFault, va));
                }
                // An IPI: a 1 into some hart's `msip` (the machine maps no
                // SSWI, QEMU's `aclint=on`).
                let harts = self.m.protect.len() as u64;
                if v & 1 != 0 && pa.wrapping_sub(CLINT_BASE) < 4 * harts && pa % 4 == 0 {
                    Counters::bump(&self.counters.ipis_sent);
                }
                // A device write may power off, program a timer or change
                // an interrupt line: let the execution loop look.
                self.mark_dirty();
                self.cpu.request_exit();
                Ok(())
            }
        }
    }

    /// The host address for an atomic access of `size` bytes at naturally
    /// aligned guest virtual `va`: RAM only.
    pub(crate) fn atomic_host(
        &mut self,
        va: u64,
        size: u64,
        idx: MmuIdx,
    ) -> Result<*mut u8, Fault> {
        let pa = self.translate(va, size, AccessType::Store, idx)?;
        match self.m.phys.region(pa) {
            Region::Ram(p) => {
                self.note_code_write(va, pa, idx);
                Ok(p)
            }
            _ => Err((Self::access_fault(AccessType::Store), va)),
        }
    }

    /// Records `fault` for translated code (`mem_status`, `trap_cause`,
    /// `fault_addr`).
    fn record_fault(&mut self, (cause, tval): Fault) {
        self.cpu.trap_cause = cause.code();
        self.cpu.fault_addr = tval;
        self.cpu.mem_status = 1;
    }
}

/// Decodes a slow path's `info` word (see `cranemu_backend::slow_info`).
fn info(info: u64) -> (u64, bool, MmuIdx) {
    (
        info & 0xff,
        info >> 8 & 1 != 0,
        mmu_idx((info >> 16) as u32),
    )
}

/// The softmmu load slow path called by translated code.
///
/// # Safety
/// `cpu` is the [`CpuState`](cranemu_frontend::CpuState) at the start of a
/// live [`Hart`], running on this thread.
pub(crate) unsafe extern "C" fn slow_load(cpu: *mut u8, va: u64, inf: u64, _: u64) -> u64 {
    // SAFETY: the contract; `Hart` is `repr(C)` with the CPU state first.
    let hart = unsafe { &mut *cpu.cast::<Hart>() };
    Counters::bump(&hart.counters.slow_loads);
    let (size, signed, idx) = info(inf);
    match hart.load(va, size, idx) {
        Ok(v) if signed => sext(v, size),
        Ok(v) => v,
        Err(f) => {
            hart.record_fault(f);
            0
        }
    }
}

/// The softmmu store slow path called by translated code.
///
/// # Safety
/// As [`slow_load`].
pub(crate) unsafe extern "C" fn slow_store(cpu: *mut u8, va: u64, v: u64, inf: u64) -> u64 {
    // SAFETY: as in `slow_load`.
    let hart = unsafe { &mut *cpu.cast::<Hart>() };
    Counters::bump(&hart.counters.slow_stores);
    let (size, _, idx) = info(inf);
    if let Err(f) = hart.store(va, size, v, idx) {
        hart.record_fault(f);
    }
    0
}

/// The softmmu atomic slow path called by translated code: a host address,
/// or 0 after recording a fault.
///
/// # Safety
/// As [`slow_load`].
pub(crate) unsafe extern "C" fn slow_atomic(cpu: *mut u8, va: u64, inf: u64, _: u64) -> u64 {
    // SAFETY: as in `slow_load`.
    let hart = unsafe { &mut *cpu.cast::<Hart>() };
    Counters::bump(&hart.counters.slow_atomics);
    let (size, _, idx) = info(inf);
    match hart.atomic_host(va, size, idx) {
        Ok(p) => p as u64,
        Err(f) => {
            hart.record_fault(f);
            0
        }
    }
}

/// Guest memory for the IR interpreter in system mode: the same slow
/// paths, under the block's MMU index; the fault's exact cause is kept
/// for the execution loop.
///
/// After a fault every further access fails at once without touching
/// memory: the interpreter probes the faulting range byte by byte to name
/// the faulting address (a user-mode need), and in system mode those
/// probes would read and write devices and replace the fault's cause.
pub(crate) struct SysInterpMemory<'a> {
    pub(crate) hart: &'a mut Hart,
    pub(crate) idx: MmuIdx,
    pub(crate) fault: Option<Fault>,
}

impl cranemu_ir::interp::Memory for SysInterpMemory<'_> {
    fn load(&mut self, addr: u64, size: MemSize) -> Result<u64, ()> {
        if self.fault.is_some() {
            return Err(());
        }
        self.hart
            .load(addr, size.bytes(), self.idx)
            .map_err(|f| self.fault = Some(f))
    }

    fn store(&mut self, addr: u64, size: MemSize, value: u64) -> Result<(), ()> {
        if self.fault.is_some() {
            return Err(());
        }
        self.hart
            .store(addr, size.bytes(), value, self.idx)
            .map_err(|f| self.fault = Some(f))
    }

    fn atomic_update(
        &mut self,
        addr: u64,
        size: MemSize,
        update: &mut dyn FnMut(u64) -> u64,
    ) -> Result<u64, ()> {
        if self.fault.is_some() {
            return Err(());
        }
        let p = self
            .hart
            .atomic_host(addr, size.bytes(), self.idx)
            .map_err(|f| self.fault = Some(f))?;
        // SAFETY: naturally aligned RAM (the interpreter checked the
        // alignment of AMOs and SC), shared with other harts: a host CAS
        // loop.
        unsafe {
            if size == MemSize::B4 {
                let a = std::sync::atomic::AtomicU32::from_ptr(p.cast());
                let mut old = a.load(Ordering::Relaxed);
                loop {
                    let new = update(u64::from(old)) as u32;
                    match a.compare_exchange_weak(old, new, Ordering::SeqCst, Ordering::Relaxed) {
                        Ok(_) => return Ok(u64::from(old)),
                        Err(x) => old = x,
                    }
                }
            }
            let a = AtomicU64::from_ptr(p.cast());
            let mut old = a.load(Ordering::Relaxed);
            loop {
                let new = update(old);
                match a.compare_exchange_weak(old, new, Ordering::SeqCst, Ordering::Relaxed) {
                    Ok(_) => return Ok(old),
                    Err(x) => old = x,
                }
            }
        }
    }
}

/// Reads guest code for the translator: instruction fetch translation
/// (walks, no TLB refill) from RAM or ROM, recording the physical pages
/// read and marking RAM pages as code.
pub(crate) struct SysFetch<'a> {
    pub(crate) hart: &'a Hart,
    pub(crate) idx: MmuIdx,
    /// Physical page numbers read, in order.
    pub(crate) pages: std::cell::RefCell<Vec<u64>>,
    /// The last (virtual page, physical page) translated.
    last: std::cell::Cell<Option<(u64, u64)>>,
}

impl<'a> SysFetch<'a> {
    pub(crate) fn new(hart: &'a Hart, idx: MmuIdx) -> SysFetch<'a> {
        SysFetch {
            hart,
            idx,
            pages: std::cell::RefCell::new(Vec::new()),
            last: std::cell::Cell::new(None),
        }
    }

    /// The page walk of an instruction fetch at `va`, at the TB's
    /// privilege.
    fn walk_fetch(&self, va: u64) -> Result<Translation, Trap> {
        let (privilege, _) = mmu_priv(self.idx);
        let req = WalkRequest {
            satp: Satp::from_bits(self.hart.ps.satp).unwrap_or(Satp::BARE),
            privilege,
            sum: false,
            mxr: false,
            access: AccessType::Fetch,
            vaddr: GuestVirtAddr(va),
            ad: AdUpdate::Hardware,
        };
        walk(&*self.hart.m.phys.ram, &req)
    }

    fn phys_page(&self, va: u64) -> Option<u64> {
        let vpage = va & PAGE_MASK;
        if let Some((v, p)) = self.last.get() {
            if v == vpage {
                return Some(p);
            }
        }
        let pa = self.walk_fetch(va).ok()?.pa.0 & PAGE_MASK;
        self.last.set(Some((vpage, pa)));
        Some(pa)
    }
}

impl CodeSource for SysFetch<'_> {
    fn fetch_u16(&self, pc: u64) -> Result<u16, u64> {
        let ppage = self.phys_page(pc).ok_or(pc)?;
        let pa = ppage | (pc & !PAGE_MASK);
        let v = match self.hart.m.phys.region(pa) {
            // SAFETY: RAM/ROM host memory; 2-byte aligned within a page.
            Region::Ram(p) => unsafe { read_host(p, 2) },
            Region::Rom(p) => unsafe { read_host(p, 2) },
            Region::Mmio => return Err(pc),
        };
        let mut pages = self.pages.borrow_mut();
        if !pages.contains(&(ppage / PAGE_SIZE)) {
            pages.push(ppage / PAGE_SIZE);
        }
        Ok(v as u16)
    }

    fn fetch_fault(&self, addr: u64) -> Exception {
        match self.walk_fetch(addr) {
            Err(trap) => {
                Exception::from_code(trap.cause as u64).unwrap_or(Exception::InstructionPageFault)
            }
            // Translated, but not to RAM or ROM (code never runs from
            // devices): Privileged ISA 3.6, an access fault.
            Ok(_) => Exception::InstructionAccessFault,
        }
    }
}

/// Reads code of the current privilege for the instruction at `va`: the
/// guest physical address, through the TLB's fetch tags.
impl Hart {
    pub(crate) fn translate_code(&mut self, va: u64) -> Result<u64, Fault> {
        let idx = self.fetch_idx();
        let pa = self.translate(va, 2, AccessType::Fetch, idx)?;
        if matches!(self.m.phys.region(pa), Region::Mmio) {
            return Err((Exception::InstructionAccessFault, va));
        }
        Ok(pa)
    }

    /// Marks RAM pages (page numbers) as code, before a translation reads
    /// them, and makes every hart's TLB send stores to them to the slow
    /// path.
    ///
    /// Other harts' TLBs may hold writable entries for pages this call
    /// marks: each is asked to mark them (kicked, it serves the request at
    /// its next block boundary or in `wfi`), and this hart waits for every
    /// running hart's answer, serving requests of its own meanwhile. A
    /// page that another hart marked may still have its requests in
    /// flight: this hart waits for those too (the marking and the posting
    /// happen under `protect_lock`). A hart filling an entry at the same
    /// time sees the code bit (set first, sequentially consistent) and
    /// flags the entry itself. A hart that is not running serves its
    /// requests before it runs a block.
    pub(crate) fn protect_code(&mut self, pages: &[u64]) {
        let mut fresh = Vec::new();
        let multi = self.m.protect.len() > 1;
        let guard = multi.then(|| {
            self.m
                .protect_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        });
        for &p in pages {
            let pa = p * PAGE_SIZE;
            if self.m.phys.set_code(pa) {
                self.tlb.protect_code_page(GuestPhysAddr(pa));
                fresh.push(p);
            }
        }
        if !multi {
            return;
        }
        let mut waits = Vec::new();
        for (h, q) in self.m.protect.iter().enumerate() {
            if h == self.id || !self.m.wakes[h].is_running() {
                continue;
            }
            let ticket = if fresh.is_empty() {
                q.requested.load(Ordering::SeqCst)
            } else {
                let mut pages = q.pages.lock().unwrap_or_else(|e| e.into_inner());
                pages.extend_from_slice(&fresh);
                let t = q.requested.fetch_add(1, Ordering::SeqCst) + 1;
                self.m.wakes[h].kick();
                t
            };
            if q.served.load(Ordering::SeqCst) < ticket {
                waits.push((h, ticket));
            }
        }
        drop(guard);
        let m = self.m.clone();
        for (h, ticket) in waits {
            let q = &m.protect[h];
            while q.served.load(Ordering::SeqCst) < ticket
                && self.m.wakes[h].is_running()
                && !self.m.quit.load(Ordering::Relaxed)
            {
                self.serve_protect();
                std::thread::yield_now();
            }
        }
    }

    /// Marks the pages other harts asked for in this hart's TLB.
    pub(crate) fn serve_protect(&mut self) {
        let q = &self.m.protect[self.id];
        if q.served.load(Ordering::SeqCst) == q.requested.load(Ordering::SeqCst) {
            return;
        }
        let (pages, upto) = {
            let mut p = q.pages.lock().unwrap_or_else(|e| e.into_inner());
            (std::mem::take(&mut *p), q.requested.load(Ordering::SeqCst))
        };
        for p in pages {
            Counters::bump(&self.counters.remote_tlb_protects);
            self.tlb.protect_code_page(GuestPhysAddr(p * PAGE_SIZE));
        }
        q.served.fetch_max(upto, Ordering::SeqCst);
    }
}
