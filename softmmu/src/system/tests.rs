//! Tests of the page-table walk against the Privileged ISA's rules, on page
//! tables built in a `Vec`-backed guest physical memory (and once in
//! [`Ram`]).

use std::cell::{Cell, RefCell};
use std::result::Result;

use super::ram::{Ram, VIRT_DRAM_BASE};
use super::walk::*;
use super::*;

/// Guest physical memory for tests: `words.len() * 8` bytes at `base`.
struct VecMem {
    base: u64,
    words: RefCell<Vec<u64>>,
    /// Bits OR-ed into the PTE just before the next CAS (another hart
    /// changing it between the walk's read and its update).
    interfere: Cell<Option<u64>>,
    /// CAS calls so far.
    cas_calls: Cell<u32>,
}

impl VecMem {
    fn new(base: u64, bytes: u64) -> VecMem {
        VecMem {
            base,
            words: RefCell::new(vec![0; (bytes / 8) as usize]),
            interfere: Cell::new(None),
            cas_calls: Cell::new(0),
        }
    }

    fn index(&self, addr: GuestPhysAddr) -> Option<usize> {
        let off = addr.0.checked_sub(self.base)?;
        let i = (off / 8) as usize;
        (off % 8 == 0 && i < self.words.borrow().len()).then_some(i)
    }

    fn get(&self, addr: u64) -> u64 {
        self.words.borrow()[self.index(GuestPhysAddr(addr)).unwrap()]
    }

    fn set(&self, addr: u64, value: u64) {
        let i = self.index(GuestPhysAddr(addr)).unwrap();
        self.words.borrow_mut()[i] = value;
    }
}

impl PteMemory for VecMem {
    fn load_pte(&self, addr: GuestPhysAddr) -> Option<u64> {
        Some(self.words.borrow()[self.index(addr)?])
    }

    fn cas_pte(&self, addr: GuestPhysAddr, current: u64, new: u64) -> Option<bool> {
        self.cas_calls.set(self.cas_calls.get() + 1);
        let i = self.index(addr)?;
        let mut words = self.words.borrow_mut();
        if let Some(bits) = self.interfere.take() {
            words[i] |= bits;
        }
        if words[i] == current {
            words[i] = new;
            Some(true)
        } else {
            Some(false)
        }
    }
}

/// A leaf or pointer PTE for guest physical `pa` with `flags`.
fn pte(pa: u64, flags: u64) -> u64 {
    (pa >> PAGE_SHIFT) << PTE_PPN_SHIFT | flags
}

/// Builds page tables in a [`VecMem`]: tables are handed out from the
/// start of memory, the root first.
struct Tables {
    mem: VecMem,
    mode: SatpMode,
    next: Cell<u64>,
    root: u64,
}

const BASE: u64 = 0x8000_0000;
/// Every leaf flag a test usually wants: V R W X U A D.
const RWXU_AD: u64 = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D;

impl Tables {
    fn new(mode: SatpMode) -> Tables {
        let t = Tables {
            mem: VecMem::new(BASE, 1 << 20),
            mode,
            next: Cell::new(BASE),
            root: 0,
        };
        Tables {
            root: t.alloc(),
            ..t
        }
    }

    fn alloc(&self) -> u64 {
        let a = self.next.get();
        self.next.set(a + PAGE_SIZE);
        a
    }

    fn satp(&self) -> Satp {
        Satp::new(self.mode, 1, self.root >> PAGE_SHIFT)
    }

    /// Maps `va` to `pa` with a leaf at `level` (0 = 4 KiB) holding
    /// `flags`, adding pointer PTEs as needed; returns the leaf's address.
    fn map(&self, va: u64, pa: u64, level: u32, flags: u64) -> u64 {
        let mut table = self.root;
        for l in (level + 1..self.mode.levels()).rev() {
            let slot = table + ((va >> (PAGE_SHIFT + 9 * l)) & 0x1ff) * 8;
            let e = self.mem.get(slot);
            table = if e & PTE_V != 0 {
                ((e >> PTE_PPN_SHIFT) & PPN_MASK) << PAGE_SHIFT
            } else {
                let t = self.alloc();
                self.mem.set(slot, pte(t, PTE_V));
                t
            };
        }
        let slot = table + ((va >> (PAGE_SHIFT + 9 * level)) & 0x1ff) * 8;
        self.mem.set(slot, pte(pa, flags));
        slot
    }

    fn walk(&self, privilege: Priv, access: AccessType, va: u64) -> Result<Translation, Trap> {
        self.walk_with(privilege, false, false, access, va)
    }

    fn walk_with(
        &self,
        privilege: Priv,
        sum: bool,
        mxr: bool,
        access: AccessType,
        va: u64,
    ) -> Result<Translation, Trap> {
        walk(
            &self.mem,
            &WalkRequest {
                satp: self.satp(),
                privilege,
                sum,
                mxr,
                access,
                vaddr: GuestVirtAddr(va),
                ad: AdUpdate::Hardware,
            },
        )
    }
}

use AccessType::{Fetch, Load, Store};
use Priv::{Machine, Supervisor, User};

fn fault(cause: Cause, va: u64) -> Result<Translation, Trap> {
    Err(Trap { cause, tval: va })
}

#[test]
fn leaves_at_every_level_of_every_mode() {
    for mode in [SatpMode::Sv39, SatpMode::Sv48, SatpMode::Sv57] {
        for level in 0..mode.levels() {
            let t = Tables::new(mode);
            let size = PageSize::from_level(level);
            // A positive-half address with bits set in every VPN field.
            let va = 0x0123_4567_89ab_cdef & ((1u64 << (mode.va_bits() - 1)) - 1);
            // 3 << 48 is aligned for every page size up to 256 TiB.
            let pa_page = 3u64 << 48;
            t.map(va, pa_page, level, RWXU_AD);
            for access in [Fetch, Load, Store] {
                let tr = t.walk(User, access, va).unwrap();
                assert_eq!(
                    tr.pa.0,
                    pa_page | (va & (size.bytes() - 1)),
                    "{mode:?} {level}"
                );
                assert_eq!(tr.page_size, size);
                assert_eq!(tr.perms, Perms::ALL);
                assert!(!tr.global);
            }
        }
    }
    assert_eq!(PageSize::Size256T.bytes(), 256 << 40);
    assert_eq!(PageSize::Size512G.bytes(), 512 << 30);
}

#[test]
fn negative_half_addresses() {
    let t = Tables::new(SatpMode::Sv39);
    let va = 0xffff_ffc0_0000_1234; // bit 38 set, bits 63:39 copies
    t.map(va, 0x8020_0000, 0, PTE_V | PTE_R | PTE_A);
    assert_eq!(t.walk(Supervisor, Load, va).unwrap().pa.0, 0x8020_0234);
    // VPN[2] is 0x100: the slot in the upper half of the root.
    assert_ne!(t.mem.get(t.root + 0x100 * 8), 0);
}

#[test]
fn non_canonical_addresses_page_fault() {
    for (mode, va) in [
        (SatpMode::Sv39, 1u64 << 39),
        (SatpMode::Sv39, 0xffff_ff80_0000_0000 ^ (1 << 50)),
        (SatpMode::Sv39, 0x0000_0040_0000_0000), // bit 38 set, 63:39 clear
        (SatpMode::Sv48, 1 << 48),
        (SatpMode::Sv57, 1 << 57),
        (SatpMode::Sv57, 0x8000_0000_0000_0000),
    ] {
        let t = Tables::new(mode);
        // Even with a mapping at the truncated address, the walk refuses.
        t.map(va & ((1 << mode.va_bits()) - 1), BASE, 0, RWXU_AD);
        assert_eq!(t.walk(User, Load, va), fault(Cause::LoadPageFault, va));
        assert_eq!(
            t.walk(User, Fetch, va),
            fault(Cause::InstructionPageFault, va)
        );
        assert_eq!(t.walk(User, Store, va), fault(Cause::StorePageFault, va));
    }
}

#[test]
fn invalid_ptes_page_fault() {
    let t = Tables::new(SatpMode::Sv39);
    // Nothing mapped: V = 0 in the root.
    assert_eq!(
        t.walk(Supervisor, Load, 0x1000),
        fault(Cause::LoadPageFault, 0x1000)
    );
    // V = 0 in a leaf whose other bits are set.
    t.map(0x1000, 0x8010_0000, 0, RWXU_AD & !PTE_V);
    assert_eq!(
        t.walk(User, Store, 0x1000),
        fault(Cause::StorePageFault, 0x1000)
    );
    // W without R, with and without X.
    t.map(0x2000, 0x8010_0000, 0, PTE_V | PTE_W | PTE_A | PTE_D);
    assert_eq!(
        t.walk(Supervisor, Load, 0x2000),
        fault(Cause::LoadPageFault, 0x2000)
    );
    t.map(
        0x3000,
        0x8010_0000,
        0,
        PTE_V | PTE_W | PTE_X | PTE_A | PTE_D,
    );
    assert_eq!(
        t.walk(Supervisor, Fetch, 0x3000),
        fault(Cause::InstructionPageFault, 0x3000)
    );
    // A pointer PTE at level 0: no leaf found.
    t.map(0x4000, 0x8010_0000, 0, PTE_V);
    assert_eq!(
        t.walk(Supervisor, Load, 0x4000),
        fault(Cause::LoadPageFault, 0x4000)
    );
}

#[test]
fn reserved_bits_page_fault() {
    // Bits 63:54 (N, PBMT and the reserved 60:54) without Svnapot/Svpbmt.
    for bit in [54, 60, 61, 62, 63] {
        let t = Tables::new(SatpMode::Sv39);
        t.map(0x5000, 0x8010_0000, 0, RWXU_AD | 1 << bit);
        assert_eq!(
            t.walk(User, Load, 0x5000),
            fault(Cause::LoadPageFault, 0x5000),
            "bit {bit}"
        );
    }
    // D, A and U are reserved in a pointer PTE.
    for bits in [PTE_D, PTE_A, PTE_U] {
        let t = Tables::new(SatpMode::Sv39);
        t.map(0x5000, 0x8010_0000, 0, RWXU_AD);
        let root_slot = t.root; // VPN[2] of 0x5000 is 0
        t.mem.set(root_slot, t.mem.get(root_slot) | bits);
        assert_eq!(
            t.walk(User, Load, 0x5000),
            fault(Cause::LoadPageFault, 0x5000)
        );
    }
    // RSW (bits 9:8) is free for software: no fault.
    let t = Tables::new(SatpMode::Sv39);
    t.map(0x5000, 0x8010_0000, 0, RWXU_AD | 3 << 8);
    assert!(t.walk(User, Load, 0x5000).is_ok());
}

#[test]
fn misaligned_superpages_page_fault() {
    let t = Tables::new(SatpMode::Sv39);
    // A 2 MiB leaf whose PPN[0] is not zero.
    t.map(0x20_0000, 0x8000_1000, 1, RWXU_AD);
    assert_eq!(
        t.walk(User, Load, 0x20_0000),
        fault(Cause::LoadPageFault, 0x20_0000)
    );
    // A 1 GiB leaf whose PPN[1] is not zero.
    t.map(0x4000_0000, 0x8020_0000, 2, RWXU_AD);
    assert_eq!(
        t.walk(User, Fetch, 0x4000_0123),
        fault(Cause::InstructionPageFault, 0x4000_0123)
    );
    // A misaligned superpage that would otherwise need A: A stays clear.
    let slot = t.map(0x20_0000, 0x8000_1000, 1, RWXU_AD & !(PTE_A | PTE_D));
    assert_eq!(
        t.walk(User, Store, 0x20_0000),
        fault(Cause::StorePageFault, 0x20_0000)
    );
    assert_eq!(t.mem.get(slot) & (PTE_A | PTE_D), 0);
}

#[test]
fn user_pages_from_supervisor() {
    let t = Tables::new(SatpMode::Sv39);
    t.map(0x1000, 0x8010_0000, 0, RWXU_AD);
    let va = 0x1008;
    // Without SUM: no access at all.
    for (access, cause) in [
        (Load, Cause::LoadPageFault),
        (Store, Cause::StorePageFault),
        (Fetch, Cause::InstructionPageFault),
    ] {
        assert_eq!(
            t.walk_with(Supervisor, false, false, access, va),
            fault(cause, va)
        );
    }
    // With SUM: loads and stores, but never a fetch.
    let tr = t.walk_with(Supervisor, true, false, Load, va).unwrap();
    assert_eq!(
        tr.perms,
        Perms {
            read: true,
            write: true,
            exec: false
        }
    );
    assert!(t.walk_with(Supervisor, true, false, Store, va).is_ok());
    assert_eq!(
        t.walk_with(Supervisor, true, false, Fetch, va),
        fault(Cause::InstructionPageFault, va)
    );
    // And from U-mode, everything.
    assert_eq!(t.walk(User, Fetch, va).unwrap().perms, Perms::ALL);
}

#[test]
fn supervisor_pages_from_user() {
    let t = Tables::new(SatpMode::Sv48);
    t.map(0x7000, 0x8010_0000, 0, RWXU_AD & !PTE_U);
    for (access, cause) in [
        (Load, Cause::LoadPageFault),
        (Store, Cause::StorePageFault),
        (Fetch, Cause::InstructionPageFault),
    ] {
        // SUM does not matter to U-mode.
        assert_eq!(
            t.walk_with(User, true, true, access, 0x7000),
            fault(cause, 0x7000)
        );
    }
    assert_eq!(t.walk(Supervisor, Fetch, 0x7000).unwrap().perms, Perms::ALL);
}

#[test]
fn mxr_makes_execute_only_pages_readable() {
    let t = Tables::new(SatpMode::Sv39);
    t.map(0x1000, 0x8010_0000, 0, PTE_V | PTE_X | PTE_A);
    assert_eq!(
        t.walk(Supervisor, Load, 0x1000),
        fault(Cause::LoadPageFault, 0x1000)
    );
    let tr = t.walk_with(Supervisor, false, true, Load, 0x1000).unwrap();
    assert_eq!(
        tr.perms,
        Perms {
            read: true,
            write: false,
            exec: true
        }
    );
    assert_eq!(tr.pa.0, 0x8010_0000);
    // MXR does not make an execute-only page writable.
    assert_eq!(
        t.walk_with(Supervisor, false, true, Store, 0x1000),
        fault(Cause::StorePageFault, 0x1000)
    );
    // Nor does it lift the U/S check: a U execute-only page from S
    // needs SUM as well.
    t.map(0x2000, 0x8010_0000, 0, PTE_V | PTE_X | PTE_U | PTE_A);
    assert_eq!(
        t.walk_with(Supervisor, false, true, Load, 0x2000),
        fault(Cause::LoadPageFault, 0x2000)
    );
    assert!(t.walk_with(Supervisor, true, true, Load, 0x2000).is_ok());
    assert!(t.walk_with(User, false, true, Load, 0x2000).is_ok());
}

#[test]
fn store_to_read_only_page_faults_and_sets_nothing() {
    let t = Tables::new(SatpMode::Sv39);
    let slot = t.map(0x1000, 0x8010_0000, 0, PTE_V | PTE_R | PTE_X);
    assert_eq!(
        t.walk(Supervisor, Store, 0x1000),
        fault(Cause::StorePageFault, 0x1000)
    );
    assert_eq!(t.mem.get(slot) & (PTE_A | PTE_D), 0);
    assert_eq!(t.mem.cas_calls.get(), 0);
    // A load succeeds, sets A, and grants no write.
    let tr = t.walk(Supervisor, Load, 0x1000).unwrap();
    assert_eq!(
        tr.perms,
        Perms {
            read: true,
            write: false,
            exec: true
        }
    );
    assert_eq!(t.mem.get(slot) & (PTE_A | PTE_D), PTE_A);
}

#[test]
fn accessed_and_dirty_are_set_by_the_walk() {
    let t = Tables::new(SatpMode::Sv39);
    let slot = t.map(0x1000, 0x8010_0000, 0, PTE_V | PTE_R | PTE_W);
    // A load sets A only, and the translation does not grant writes (a
    // later store must come back to set D).
    let tr = t.walk(Supervisor, Load, 0x1000).unwrap();
    assert_eq!(
        t.mem.get(slot),
        pte(0x8010_0000, PTE_V | PTE_R | PTE_W | PTE_A)
    );
    assert_eq!(
        tr.perms,
        Perms {
            read: true,
            write: false,
            exec: false
        }
    );
    // A store sets D.
    let tr = t.walk(Supervisor, Store, 0x1000).unwrap();
    assert_eq!(
        t.mem.get(slot),
        pte(0x8010_0000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
    );
    assert!(tr.perms.write);
    // With both set, no more CAS.
    let calls = t.mem.cas_calls.get();
    t.walk(Supervisor, Store, 0x1000).unwrap();
    assert_eq!(t.mem.cas_calls.get(), calls);
    // A store to a fresh page sets A and D at once.
    let slot = t.map(0x2000, 0x8010_1000, 0, PTE_V | PTE_R | PTE_W);
    t.walk(Supervisor, Store, 0x2000).unwrap();
    assert_eq!(t.mem.get(slot) & (PTE_A | PTE_D), PTE_A | PTE_D);
    // A fetch sets A on a superpage leaf.
    let slot = t.map(0x4000_0000, 0xc000_0000, 2, PTE_V | PTE_X);
    t.walk(Supervisor, Fetch, 0x4000_0010).unwrap();
    assert_eq!(t.mem.get(slot) & (PTE_A | PTE_D), PTE_A);
}

#[test]
fn permission_faults_set_neither_a_nor_d() {
    let t = Tables::new(SatpMode::Sv39);
    let slot = t.map(0x1000, 0x8010_0000, 0, PTE_V | PTE_R | PTE_W | PTE_U);
    assert!(t.walk(Supervisor, Store, 0x1000).is_err());
    assert!(t.walk(Supervisor, Fetch, 0x1000).is_err());
    assert_eq!(t.mem.get(slot) & (PTE_A | PTE_D), 0);
}

#[test]
fn svade_faults_instead_of_updating() {
    let t = Tables::new(SatpMode::Sv39);
    let slot = t.map(0x1000, 0x8010_0000, 0, PTE_V | PTE_R | PTE_W | PTE_A);
    let req = |access| WalkRequest {
        satp: t.satp(),
        privilege: Supervisor,
        sum: false,
        mxr: false,
        access,
        vaddr: GuestVirtAddr(0x1000),
        ad: AdUpdate::PageFault,
    };
    // A set: a load is fine but grants no write (D clear).
    let tr = walk(&t.mem, &req(Load)).unwrap();
    assert!(!tr.perms.write);
    assert_eq!(
        walk(&t.mem, &req(Store)),
        fault(Cause::StorePageFault, 0x1000)
    );
    t.mem.set(slot, pte(0x8010_0000, PTE_V | PTE_R));
    assert_eq!(
        walk(&t.mem, &req(Load)),
        fault(Cause::LoadPageFault, 0x1000)
    );
    assert_eq!(t.mem.cas_calls.get(), 0);
}

#[test]
fn a_changed_pte_restarts_the_walk() {
    let t = Tables::new(SatpMode::Sv39);
    let slot = t.map(0x1000, 0x8010_0000, 0, PTE_V | PTE_R | PTE_W);
    // Another hart sets G between the read and the CAS: the walk retries
    // and sees it.
    t.mem.interfere.set(Some(PTE_G));
    let tr = t.walk(Supervisor, Store, 0x1000).unwrap();
    assert!(tr.global);
    assert_eq!(t.mem.cas_calls.get(), 2);
    assert_eq!(
        t.mem.get(slot),
        pte(0x8010_0000, PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D)
    );
    // Another hart makes it reserved (bit 60): the retried walk faults
    // and writes nothing.
    let slot = t.map(0x2000, 0x8010_0000, 0, PTE_V | PTE_R | PTE_W);
    t.mem.interfere.set(Some(1 << 60));
    assert_eq!(
        t.walk(Supervisor, Store, 0x2000),
        fault(Cause::StorePageFault, 0x2000)
    );
    assert_eq!(
        t.mem.get(slot),
        pte(0x8010_0000, PTE_V | PTE_R | PTE_W | 1 << 60)
    );
}

#[test]
fn global_bit_in_a_pointer_makes_the_mapping_global() {
    let t = Tables::new(SatpMode::Sv39);
    t.map(0x1000, 0x8010_0000, 0, RWXU_AD);
    assert!(!t.walk(User, Load, 0x1000).unwrap().global);
    t.mem.set(t.root, t.mem.get(t.root) | PTE_G);
    assert!(t.walk(User, Load, 0x1000).unwrap().global);
}

#[test]
fn pte_outside_ram_is_an_access_fault() {
    // The root outside RAM.
    let t = Tables::new(SatpMode::Sv39);
    let satp = Satp::new(SatpMode::Sv39, 0, 0x1000 >> PAGE_SHIFT);
    for (access, cause) in [
        (Load, Cause::LoadAccessFault),
        (Store, Cause::StoreAccessFault),
        (Fetch, Cause::InstructionAccessFault),
    ] {
        let req = WalkRequest {
            satp,
            privilege: Supervisor,
            sum: false,
            mxr: false,
            access,
            vaddr: GuestVirtAddr(0x1000),
            ad: AdUpdate::Hardware,
        };
        assert_eq!(walk(&t.mem, &req), fault(cause, 0x1000));
    }
    // A pointer PTE into a table outside RAM (here: past its end).
    t.mem.set(t.root, pte(BASE + (1 << 20), PTE_V));
    assert_eq!(
        t.walk(Supervisor, Store, 0x1000),
        fault(Cause::StoreAccessFault, 0x1000)
    );
}

#[test]
fn bare_and_machine_mode_are_the_identity() {
    let mem = VecMem::new(BASE, 4096);
    for (satp, privilege) in [
        (Satp::BARE, Supervisor),
        (Satp::BARE, User),
        (Satp::new(SatpMode::Sv39, 0, BASE >> PAGE_SHIFT), Machine),
    ] {
        for va in [0, 0x8000_1234, u64::MAX] {
            let req = WalkRequest {
                satp,
                privilege,
                sum: false,
                mxr: false,
                access: Store,
                vaddr: GuestVirtAddr(va),
                ad: AdUpdate::Hardware,
            };
            let tr = walk(&mem, &req).unwrap();
            assert_eq!(
                (tr.pa.0, tr.perms, tr.page_size),
                (va, Perms::ALL, PageSize::Size4K)
            );
        }
    }
}

#[test]
fn satp_fields() {
    let s = Satp::new(SatpMode::Sv48, 0xabcd, 0x8_0001);
    assert_eq!(s.bits(), 9 << 60 | 0xabcd << 44 | 0x8_0001);
    assert_eq!(
        (s.mode(), s.asid(), s.ppn()),
        (SatpMode::Sv48, 0xabcd, 0x8_0001)
    );
    assert_eq!(s.root(), GuestPhysAddr(0x8000_1000));
    assert_eq!(Satp::from_bits(s.bits()), Some(s));
    for reserved in [1u64, 7, 11, 15] {
        assert_eq!(Satp::from_bits(reserved << 60), None);
    }
    assert_eq!(SatpMode::Sv57.va_bits(), 57);
}

#[test]
fn walk_in_guest_ram() {
    let ram = Ram::new(VIRT_DRAM_BASE, 1 << 21).unwrap();
    let root = VIRT_DRAM_BASE.0;
    let l1 = root + 0x1000;
    let l0 = root + 0x2000;
    let va = 0x1234_5678u64; // VPN[2] = 0, VPN[1] = 0x91, VPN[0] = 0x145
    ram.write_u64(GuestPhysAddr(root), pte(l1, PTE_V)).unwrap();
    ram.write_u64(GuestPhysAddr(l1 + 0x91 * 8), pte(l0, PTE_V))
        .unwrap();
    let leaf = GuestPhysAddr(l0 + 0x145 * 8);
    ram.write_u64(leaf, pte(0x8010_0000, PTE_V | PTE_R | PTE_W))
        .unwrap();
    let req = WalkRequest {
        satp: Satp::new(SatpMode::Sv39, 0, root >> PAGE_SHIFT),
        privilege: Supervisor,
        sum: false,
        mxr: false,
        access: Store,
        vaddr: GuestVirtAddr(va),
        ad: AdUpdate::Hardware,
    };
    let tr = walk(&ram, &req).unwrap();
    assert_eq!(tr.pa, GuestPhysAddr(0x8010_0678));
    assert_eq!(ram.read_u64(leaf).unwrap() & (PTE_A | PTE_D), PTE_A | PTE_D);
}

#[test]
fn walk_fill_probe_end_to_end() {
    use super::tlb::{MmuIdx, PageTarget, Tlb};
    let ram = Ram::new(VIRT_DRAM_BASE, 1 << 22).unwrap();
    let root = VIRT_DRAM_BASE.0;
    // A 2 MiB leaf in Sv39: va 0x4000_0000.. -> pa 0x8020_0000..
    let l1 = root + 0x1000;
    ram.write_u64(GuestPhysAddr(root + 8), pte(l1, PTE_V))
        .unwrap();
    ram.write_u64(
        GuestPhysAddr(l1),
        pte(0x8020_0000, PTE_V | PTE_R | PTE_W | PTE_U),
    )
    .unwrap();
    let va = 0x4000_3010u64;
    let req = WalkRequest {
        satp: Satp::new(SatpMode::Sv39, 0, root >> PAGE_SHIFT),
        privilege: Supervisor,
        sum: true,
        mxr: false,
        access: Load,
        vaddr: GuestVirtAddr(va),
        ad: AdUpdate::Hardware,
    };
    let tr = walk(&ram, &req).unwrap();
    assert_eq!((tr.pa.0, tr.page_size), (0x8020_3010, PageSize::Size2M));
    let idx = MmuIdx::new(Supervisor, true);
    let mut tlb = Tlb::new();
    let host_page = ram
        .host_ptr(GuestPhysAddr(tr.pa.0 & PAGE_MASK), PAGE_SIZE)
        .unwrap();
    tlb.fill(
        idx,
        GuestVirtAddr(va),
        &tr,
        PageTarget {
            host_page: std::ptr::NonNull::new(host_page),
            ..PageTarget::default()
        },
    );
    ram.write_u32(GuestPhysAddr(0x8020_3010), 0xdead_beef)
        .unwrap();
    let h = tlb.probe(idx, GuestVirtAddr(va), Load, 4).unwrap();
    // SAFETY: a hit points into guest RAM, 4 bytes inside the page.
    assert_eq!(
        u32::from_le(unsafe { h.cast::<u32>().read_unaligned() }),
        0xdead_beef
    );
    // The load left D clear, so a store misses and must walk again.
    assert_eq!(tlb.probe(idx, GuestVirtAddr(va), Store, 4), None);
    let tr = walk(
        &ram,
        &WalkRequest {
            access: Store,
            ..req
        },
    )
    .unwrap();
    tlb.fill(
        idx,
        GuestVirtAddr(va),
        &tr,
        PageTarget {
            host_page: std::ptr::NonNull::new(host_page),
            ..PageTarget::default()
        },
    );
    assert_eq!(tlb.probe(idx, GuestVirtAddr(va), Store, 4), Some(h));
    // The neighbouring 4 KiB piece of the superpage is a separate entry.
    assert_eq!(tlb.probe(idx, GuestVirtAddr(va + 0x1000), Load, 4), None);
}
