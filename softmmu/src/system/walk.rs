//! The page-table walk: guest virtual to guest physical, with the checks and
//! exceptions of the RISC-V Privileged ISA, section "Virtual-Memory System"
//! (Sv39, Sv48, Sv57 and "Virtual Address Translation Process").
//!
//! # The walk ([`walk`])
//!
//! With `LEVELS` 3, 4 or 5 (Sv39, Sv48, Sv57), `PAGESIZE` 4 KiB and 8-byte
//! PTEs, the spec's algorithm, step by step:
//!
//! 0. The address must be canonical: bits 63 down to the VA width (39, 48
//!    or 57) all equal to the top bit of the VA, or a page fault.
//! 1. `a = satp.PPN * PAGESIZE`, `i = LEVELS - 1`.
//! 2. Read the PTE at `a + va.VPN[i] * 8` (guest physical). A PTE address
//!    outside RAM is an *access* fault (1, 5 or 7) of the original access.
//! 3. `V = 0`, `W = 1` with `R = 0`, or a reserved bit set (bits 63:54, as
//!    neither Svpbmt nor Svnapot is implemented; and D, A, U on a non-leaf
//!    PTE) is a page fault.
//! 4. `R = 0` and `X = 0` is a pointer to the next level: `i -= 1` (a page
//!    fault below level 0), `a = pte.PPN * PAGESIZE`, back to 2.
//! 5. A leaf: the access must be allowed at the effective privilege with
//!    `SUM` and `MXR` ([`Perms`]), else a page fault.
//! 6. A superpage (`i > 0`) whose `PPN[i-1:0]` is not zero is misaligned: a
//!    page fault.
//! 7. `A = 0`, or a store with `D = 0`: see "A and D" below.
//! 8. The physical address is `pte.PPN[LEVELS-1:i]`, then `va.VPN[i-1:0]`,
//!    then the page offset.
//!
//! Page faults are 12 (fetch), 13 (load) and 15 (store/AMO); `tval` is the
//! guest virtual address. Checks 5 and 6 come before 7, so an access that
//! faults never sets A or D.
//!
//! # A and D: hardware updating (Svadu), as QEMU does by default
//!
//! With [`AdUpdate::Hardware`] the walk sets A (and D for a store) itself,
//! with an atomic compare-and-swap of the whole PTE ([`PteMemory::cas_pte`])
//! against the value it checked. If another hart changed the PTE in
//! between, the CAS fails and the walk starts again from the root (the spec
//! says "return to step 2"; restarting at step 1 re-reads PTEs that did not
//! change, which gives the same result, and is what QEMU does). So A and D
//! are only ever set on a PTE that is still valid and still grants the
//! access. [`AdUpdate::PageFault`] is Svade (`menvcfg.ADUE = 0`): the walk
//! raises a page fault instead and software sets the bits.
//!
//! # What a [`Translation`] grants
//!
//! Besides the physical address, a walk returns what the leaf allows at the
//! current privilege, `SUM` and `MXR` ([`Translation::perms`]), so the TLB
//! can be filled for more than the access that missed. Write permission is
//! only granted when D is set (already, or by this walk): a load must not
//! open a write path that would skip setting D.
//!
//! # Not here
//!
//! M-mode (without `MPRV`) and `Bare` mode are the identity, returned as
//! such. `MPRV` is the caller's: it passes the effective privilege
//! (`mstatus.MPP`) for loads and stores. PMP is not checked yet. The
//! resulting physical address is not checked either: the caller looks it
//! up in RAM and the MMIO bus and raises the access fault (1, 5, 7) there. Hypervisor
//! (two-stage) translation is not implemented.

use super::{AccessType, GuestPhysAddr, GuestVirtAddr, Priv, Trap, PAGE_SHIFT};

/// PTE bit V (valid), bit 0.
pub const PTE_V: u64 = 1 << 0;
/// PTE bit R (readable), bit 1.
pub const PTE_R: u64 = 1 << 1;
/// PTE bit W (writable), bit 2.
pub const PTE_W: u64 = 1 << 2;
/// PTE bit X (executable), bit 3.
pub const PTE_X: u64 = 1 << 3;
/// PTE bit U (accessible to U-mode), bit 4.
pub const PTE_U: u64 = 1 << 4;
/// PTE bit G (global mapping), bit 5.
pub const PTE_G: u64 = 1 << 5;
/// PTE bit A (accessed), bit 6.
pub const PTE_A: u64 = 1 << 6;
/// PTE bit D (dirty), bit 7.
pub const PTE_D: u64 = 1 << 7;
/// Shift of the PTE's PPN field (bits 53:10).
pub const PTE_PPN_SHIFT: u32 = 10;
/// Mask of a 44-bit PPN (after shifting it down).
pub const PPN_MASK: u64 = (1 << 44) - 1;
/// PTE bits 63:54: reserved without Svpbmt (62:61) and Svnapot (63); a
/// PTE with any of them set is a page fault here.
pub const PTE_RESERVED: u64 = 0x3ff << 54;

/// Guest physical memory as the walker sees it: PTE reads and the atomic
/// A/D update. [`super::ram::Ram`] implements it; tests back it with a
/// `Vec`.
pub trait PteMemory {
    /// The PTE (little-endian 64-bit word) at 8-aligned guest physical
    /// `addr`, read atomically; `None` if `addr` is not in RAM (the walk
    /// then raises an access fault).
    fn load_pte(&self, addr: GuestPhysAddr) -> Option<u64>;

    /// Atomically replaces the PTE at `addr` with `new` if it still equals
    /// `current`: `Some(true)` if replaced, `Some(false)` if it had
    /// changed, `None` if `addr` is not in RAM.
    fn cas_pte(&self, addr: GuestPhysAddr, current: u64, new: u64) -> Option<bool>;
}

/// The translation scheme in `satp.MODE` (Privileged ISA, "Supervisor
/// Address Translation and Protection (satp) Register", RV64 encodings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SatpMode {
    /// No translation (0).
    Bare = 0,
    /// Sv39: 3 levels, 39-bit virtual addresses (8).
    Sv39 = 8,
    /// Sv48: 4 levels, 48-bit virtual addresses (9).
    Sv48 = 9,
    /// Sv57: 5 levels, 57-bit virtual addresses (10).
    Sv57 = 10,
}

impl SatpMode {
    /// The mode for a `satp.MODE` value, `None` for the reserved and
    /// unsupported ones (a `satp` write with one has no effect).
    pub const fn from_bits(mode: u64) -> Option<SatpMode> {
        match mode {
            0 => Some(SatpMode::Bare),
            8 => Some(SatpMode::Sv39),
            9 => Some(SatpMode::Sv48),
            10 => Some(SatpMode::Sv57),
            _ => None,
        }
    }

    /// Page-table levels (0 for `Bare`).
    pub const fn levels(self) -> u32 {
        match self {
            SatpMode::Bare => 0,
            SatpMode::Sv39 => 3,
            SatpMode::Sv48 => 4,
            SatpMode::Sv57 => 5,
        }
    }

    /// Width in bits of a virtual address (64 for `Bare`).
    pub const fn va_bits(self) -> u32 {
        match self {
            SatpMode::Bare => 64,
            _ => PAGE_SHIFT + 9 * self.levels(),
        }
    }
}

/// The RV64 `satp` register: MODE (63:60), ASID (59:44), PPN (43:0), with
/// a MODE this walker supports.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Satp(u64);

impl std::fmt::Debug for Satp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Satp({:?} asid={:#x} ppn={:#x})",
            self.mode(),
            self.asid(),
            self.ppn()
        )
    }
}

impl Satp {
    /// `satp` with every field zero: `Bare`, the reset value.
    pub const BARE: Satp = Satp(0);

    /// `satp` from its register bits; `None` if MODE is reserved or not
    /// supported.
    pub const fn from_bits(bits: u64) -> Option<Satp> {
        match SatpMode::from_bits(bits >> 60) {
            Some(_) => Some(Satp(bits)),
            None => None,
        }
    }

    /// `satp` from its fields: `asid` (16 bits) and the root page table's
    /// physical page number `ppn` (44 bits) are truncated to their widths.
    pub const fn new(mode: SatpMode, asid: u16, ppn: u64) -> Satp {
        Satp((mode as u64) << 60 | (asid as u64) << 44 | (ppn & PPN_MASK))
    }

    /// The register bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// MODE.
    pub const fn mode(self) -> SatpMode {
        match SatpMode::from_bits(self.0 >> 60) {
            Some(m) => m,
            // `from_bits` and `new` only build supported modes.
            None => SatpMode::Bare,
        }
    }

    /// ASID (16 bits).
    pub const fn asid(self) -> u16 {
        (self.0 >> 44) as u16
    }

    /// PPN of the root page table.
    pub const fn ppn(self) -> u64 {
        self.0 & PPN_MASK
    }

    /// The guest physical address of the root page table.
    pub const fn root(self) -> GuestPhysAddr {
        GuestPhysAddr(self.ppn() << PAGE_SHIFT)
    }
}

/// The size of the page a leaf PTE maps, by the level it was found at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PageSize {
    /// 4 KiB (a level-0 leaf).
    #[default]
    Size4K,
    /// 2 MiB megapage (a level-1 leaf).
    Size2M,
    /// 1 GiB gigapage (a level-2 leaf).
    Size1G,
    /// 512 GiB terapage (a level-3 leaf, Sv48 and Sv57).
    Size512G,
    /// 256 TiB petapage (a level-4 leaf, Sv57).
    Size256T,
}

impl PageSize {
    /// The page size of a leaf at `level` (0 to 4).
    ///
    /// # Panics
    /// If `level > 4`.
    pub const fn from_level(level: u32) -> PageSize {
        match level {
            0 => PageSize::Size4K,
            1 => PageSize::Size2M,
            2 => PageSize::Size1G,
            3 => PageSize::Size512G,
            4 => PageSize::Size256T,
            _ => panic!("page-table level above 4"),
        }
    }

    /// log2 of the size in bytes (12, 21, 30, 39 or 48).
    pub const fn shift(self) -> u32 {
        PAGE_SHIFT
            + 9 * match self {
                PageSize::Size4K => 0,
                PageSize::Size2M => 1,
                PageSize::Size1G => 2,
                PageSize::Size512G => 3,
                PageSize::Size256T => 4,
            }
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        1 << self.shift()
    }
}

/// What a page allows at a given privilege, `SUM` and `MXR` (not the raw
/// R/W/X bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Perms {
    /// Loads may read it.
    pub read: bool,
    /// Stores and AMOs may write it (and its D bit is set).
    pub write: bool,
    /// Instructions may be fetched from it.
    pub exec: bool,
}

impl Perms {
    /// Everything allowed (M-mode and `Bare`: no translation, PMP aside).
    pub const ALL: Perms = Perms {
        read: true,
        write: true,
        exec: true,
    };

    /// True if an access of type `access` is allowed.
    pub const fn allows(self, access: AccessType) -> bool {
        match access {
            AccessType::Fetch => self.exec,
            AccessType::Load => self.read,
            AccessType::Store => self.write,
        }
    }
}

/// How the walk treats a leaf whose A bit, or for a store D bit, is clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AdUpdate {
    /// Svadu (`menvcfg.ADUE = 1`; QEMU's default): set them with an atomic
    /// compare-and-swap of the PTE.
    #[default]
    Hardware,
    /// Svade: raise a page fault and let software set them.
    PageFault,
}

/// The inputs of one walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkRequest {
    /// The current `satp`.
    pub satp: Satp,
    /// The effective privilege: U or S, or M for no translation (the
    /// caller applies `MPRV`, which makes loads and stores use
    /// `mstatus.MPP`).
    pub privilege: Priv,
    /// `mstatus.SUM`: S-mode loads and stores may access U pages.
    pub sum: bool,
    /// `mstatus.MXR`: loads may read executable pages.
    pub mxr: bool,
    /// The access being translated.
    pub access: AccessType,
    /// The guest virtual address accessed.
    pub vaddr: GuestVirtAddr,
    /// Svadu or Svade behaviour for A and D.
    pub ad: AdUpdate,
}

/// A successful translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The guest physical address of the byte accessed.
    pub pa: GuestPhysAddr,
    /// The size of the page the leaf maps (4 KiB for M-mode and `Bare`).
    pub page_size: PageSize,
    /// What the page allows at this privilege, `SUM` and `MXR` (see the
    /// module doc; includes the access that was translated).
    pub perms: Perms,
    /// The mapping is global (G set on the leaf or a PTE above it), so an
    /// ASID-only `sfence.vma` leaves it alone. False for the identity.
    pub global: bool,
}

/// What the leaf `pte` allows at `privilege` with `sum` and `mxr`, before
/// A/D are considered (Privileged ISA, "Memory Privilege in mstatus
/// Register" for SUM and MXR, and "Addressing and Memory Protection" for U).
fn leaf_perms(pte: u64, privilege: Priv, sum: bool, mxr: bool) -> Perms {
    let user_page = pte & PTE_U != 0;
    // S-mode may never execute from U pages, whatever SUM says; U-mode may
    // never touch S pages.
    let (data_ok, exec_ok) = match privilege {
        Priv::User => (user_page, user_page),
        Priv::Supervisor | Priv::Machine => (!user_page || sum, !user_page),
    };
    let readable = pte & PTE_R != 0 || (mxr && pte & PTE_X != 0);
    Perms {
        read: data_ok && readable,
        write: data_ok && pte & PTE_W != 0,
        exec: exec_ok && pte & PTE_X != 0,
    }
}

/// Translates `req.vaddr` for `req.access` (see the module doc for the
/// algorithm, which follows the Privileged ISA's "Virtual Address
/// Translation Process", and for A/D updating).
///
/// # Errors
/// A guest exception, as a value: a page fault (12, 13, 15) for a
/// non-canonical address, an invalid or reserved PTE, a missing leaf, a
/// permission failure, a misaligned superpage, or (with Svade) a clear A or
/// D; an access fault (1, 5, 7) when a PTE lies outside RAM. `tval` is the
/// guest virtual address.
pub fn walk<M: PteMemory + ?Sized>(mem: &M, req: &WalkRequest) -> Result<Translation, Trap> {
    let va = req.vaddr.0;
    let mode = req.satp.mode();
    if req.privilege == Priv::Machine || mode == SatpMode::Bare {
        return Ok(Translation {
            pa: GuestPhysAddr(va),
            page_size: PageSize::Size4K,
            perms: Perms::ALL,
            global: false,
        });
    }
    let page_fault = Trap {
        cause: req.access.page_fault(),
        tval: va,
    };
    let access_fault = Trap {
        cause: req.access.access_fault(),
        tval: va,
    };

    // Step 0: bits 63..va_bits must copy bit va_bits - 1.
    let unused = 64 - mode.va_bits();
    if (((va << unused) as i64) >> unused) as u64 != va {
        return Err(page_fault);
    }

    let store = req.access == AccessType::Store;
    'restart: loop {
        let mut table = req.satp.root().0;
        let mut level = mode.levels() - 1;
        let mut global = false;
        loop {
            let shift = PAGE_SHIFT + 9 * level;
            let vpn = (va >> shift) & 0x1ff;
            let pte_addr = GuestPhysAddr(table + vpn * 8);
            let pte = mem.load_pte(pte_addr).ok_or(access_fault)?;
            if pte & PTE_V == 0 || (pte & (PTE_R | PTE_W)) == PTE_W || pte & PTE_RESERVED != 0 {
                return Err(page_fault);
            }
            global |= pte & PTE_G != 0;
            let ppn = (pte >> PTE_PPN_SHIFT) & PPN_MASK;
            if pte & (PTE_R | PTE_X) == 0 {
                // A pointer to the next level; D, A and U are reserved here.
                if pte & (PTE_D | PTE_A | PTE_U) != 0 || level == 0 {
                    return Err(page_fault);
                }
                level -= 1;
                table = ppn << PAGE_SHIFT;
                continue;
            }

            let perms = leaf_perms(pte, req.privilege, req.sum, req.mxr);
            if !perms.allows(req.access) {
                return Err(page_fault);
            }
            // Low PPN bits of a superpage (level > 0) must be zero.
            let low_ppn = (1u64 << (9 * level)) - 1;
            if ppn & low_ppn != 0 {
                return Err(page_fault);
            }

            let wanted = pte | PTE_A | if store { PTE_D } else { 0 };
            if wanted != pte {
                match req.ad {
                    AdUpdate::PageFault => return Err(page_fault),
                    AdUpdate::Hardware => match mem.cas_pte(pte_addr, pte, wanted) {
                        Some(true) => {}
                        Some(false) => continue 'restart,
                        None => return Err(access_fault),
                    },
                }
            }

            let offset_mask = (1u64 << shift) - 1;
            let pa = ((ppn << PAGE_SHIFT) & !offset_mask) | (va & offset_mask);
            return Ok(Translation {
                pa: GuestPhysAddr(pa),
                page_size: PageSize::from_level(level),
                perms: Perms {
                    write: perms.write && wanted & PTE_D != 0,
                    ..perms
                },
                global,
            });
        }
    }
}
