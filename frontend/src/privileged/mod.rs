//! The privileged architecture of one hart as pure state and rules: privilege
//! levels, the machine and supervisor CSRs, trap entry and return, and
//! interrupt selection (RISC-V Privileged ISA, version 1.12, chapters 2-4,
//! plus the Sstc extension for `stimecmp`).
//!
//! Nothing here touches translated code or memory. The system-mode runtime
//! owns one [`PrivState`] per hart and calls:
//!
//! * [`PrivState::csr_read`] / [`PrivState::csr_write`] (or
//!   [`PrivState::csr_rmw`] for a whole `csrrw`/`csrrs`/`csrrc`) from the CSR
//!   helper; an `Err` is an illegal-instruction trap whose `tval` the caller
//!   fills with the instruction bits. A successful write returns a
//!   [`CsrEffect`] saying what the caller must do next (flush the TLB, end
//!   the TB, look for a pending interrupt).
//! * [`PrivState::take_trap`] when an instruction faults or an interrupt is
//!   taken, [`PrivState::mret`] / [`PrivState::sret`] for `xRET`, and the
//!   legality checks for `wfi` and `sfence.vma` (see [`trap`]).
//! * [`PrivState::pending_interrupt`] at block boundaries.
//!
//! # What the caller keeps current
//!
//! The counters are not clocks of their own: before a CSR access to
//! `cycle`/`time`/`instret` (or their M-mode names) the caller stores the
//! current values in [`PrivState::mcycle`], [`PrivState::time`] and
//! [`PrivState::minstret`], and after a write reads `mcycle`/`minstret` back.
//! `mcountinhibit` is storage the caller honours. Device interrupt lines
//! (CLINT's MSIP and MTIP, the PLIC's MEIP and SEIP) are set with
//! [`PrivState::set_interrupt_line`].
//!
//! # Pitfalls
//!
//! * `sstatus`, `sie` and `sip` are views, not registers: they read and
//!   write `mstatus`, `mie` and `mip` through masks.
//! * `mip.SEIP` is the OR of a software-writable bit and the external line
//!   (section 3.1.9); both are kept, and reads return the OR.
//! * With `menvcfg.STCE` set, `mip.STIP` is not writable: it is
//!   `time >= stimecmp` (Sstc, section "Supervisor Timer Register").
//! * The floating-point CSRs (`fflags`, `frm`, `fcsr`) stay with the
//!   user-mode helpers; this module only answers whether `mstatus.FS`
//!   allows them ([`PrivState::fp_enabled`]) and marks FS dirty.
//! * PMP CSRs are storage with the lock bit honoured for writes; nothing
//!   checks accesses against them (no enforcement).

pub mod pmp;
pub mod trap;

#[cfg(test)]
mod tests;

use thiserror::Error;

use crate::exception::{Exception, Interrupt};
use crate::helpers::CsrMode;

/// A RISC-V privilege level (Privileged ISA, section 1.2, table 1), with
/// its encoding as the numeric value. Level 2 is reserved (the hypervisor
/// extension, not implemented).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Priv {
    /// User mode (0).
    U = 0,
    /// Supervisor mode (1).
    S = 1,
    /// Machine mode (3).
    M = 3,
}

impl Priv {
    /// The encoding, as stored in `mstatus.MPP` and CSR addresses.
    pub const fn bits(self) -> u64 {
        self as u64
    }

    /// The level with encoding `bits` (the low two bits), or `None` for the
    /// reserved encoding 2.
    pub const fn from_bits(bits: u64) -> Option<Priv> {
        match bits & 3 {
            0 => Some(Priv::U),
            1 => Some(Priv::S),
            3 => Some(Priv::M),
            _ => None,
        }
    }
}

/// CSR addresses this module implements (Privileged ISA, section 2.2,
/// tables 3-7, and Sstc for `stimecmp`).
pub mod csr {
    /// Supervisor status: a view of `mstatus`.
    pub const SSTATUS: u16 = 0x100;
    /// Supervisor interrupt enable: a view of `mie` through `mideleg`.
    pub const SIE: u16 = 0x104;
    /// Supervisor trap vector.
    pub const STVEC: u16 = 0x105;
    /// Supervisor counter enable.
    pub const SCOUNTEREN: u16 = 0x106;
    /// Supervisor environment configuration.
    pub const SENVCFG: u16 = 0x10a;
    /// Supervisor scratch.
    pub const SSCRATCH: u16 = 0x140;
    /// Supervisor exception pc.
    pub const SEPC: u16 = 0x141;
    /// Supervisor trap cause.
    pub const SCAUSE: u16 = 0x142;
    /// Supervisor trap value.
    pub const STVAL: u16 = 0x143;
    /// Supervisor interrupt pending: a view of `mip` through `mideleg`.
    pub const SIP: u16 = 0x144;
    /// Supervisor timer compare (Sstc).
    pub const STIMECMP: u16 = 0x14d;
    /// Supervisor address translation and protection.
    pub const SATP: u16 = 0x180;
    /// Machine status.
    pub const MSTATUS: u16 = 0x300;
    /// ISA and extensions.
    pub const MISA: u16 = 0x301;
    /// Machine exception delegation.
    pub const MEDELEG: u16 = 0x302;
    /// Machine interrupt delegation.
    pub const MIDELEG: u16 = 0x303;
    /// Machine interrupt enable.
    pub const MIE: u16 = 0x304;
    /// Machine trap vector.
    pub const MTVEC: u16 = 0x305;
    /// Machine counter enable.
    pub const MCOUNTEREN: u16 = 0x306;
    /// Machine environment configuration.
    pub const MENVCFG: u16 = 0x30a;
    /// Machine counter-inhibit.
    pub const MCOUNTINHIBIT: u16 = 0x320;
    /// First machine performance-monitoring event selector (`mhpmevent3`).
    pub const MHPMEVENT3: u16 = 0x323;
    /// Last machine performance-monitoring event selector (`mhpmevent31`).
    pub const MHPMEVENT31: u16 = 0x33f;
    /// Machine scratch.
    pub const MSCRATCH: u16 = 0x340;
    /// Machine exception pc.
    pub const MEPC: u16 = 0x341;
    /// Machine trap cause.
    pub const MCAUSE: u16 = 0x342;
    /// Machine trap value.
    pub const MTVAL: u16 = 0x343;
    /// Machine interrupt pending.
    pub const MIP: u16 = 0x344;
    /// `pmpcfg0`; on RV64 only the even ones up to `pmpcfg14` exist.
    pub const PMPCFG0: u16 = 0x3a0;
    /// `pmpcfg15`, the last (RV32-only) configuration register number.
    pub const PMPCFG15: u16 = 0x3af;
    /// `pmpaddr0`.
    pub const PMPADDR0: u16 = 0x3b0;
    /// `pmpaddr63`.
    pub const PMPADDR63: u16 = 0x3ef;
    /// Machine cycle counter.
    pub const MCYCLE: u16 = 0xb00;
    /// Machine instructions-retired counter.
    pub const MINSTRET: u16 = 0xb02;
    /// `mhpmcounter3`.
    pub const MHPMCOUNTER3: u16 = 0xb03;
    /// `mhpmcounter31`.
    pub const MHPMCOUNTER31: u16 = 0xb1f;
    /// Cycle counter, user read-only shadow.
    pub const CYCLE: u16 = 0xc00;
    /// Real-time clock, user read-only shadow of `mtime`.
    pub const TIME: u16 = 0xc01;
    /// Instructions retired, user read-only shadow.
    pub const INSTRET: u16 = 0xc02;
    /// `hpmcounter3`.
    pub const HPMCOUNTER3: u16 = 0xc03;
    /// `hpmcounter31`.
    pub const HPMCOUNTER31: u16 = 0xc1f;
    /// Vendor ID.
    pub const MVENDORID: u16 = 0xf11;
    /// Architecture ID.
    pub const MARCHID: u16 = 0xf12;
    /// Implementation ID.
    pub const MIMPID: u16 = 0xf13;
    /// Hart ID.
    pub const MHARTID: u16 = 0xf14;
    /// Pointer to the configuration data structure.
    pub const MCONFIGPTR: u16 = 0xf15;
}

/// `mstatus` fields (Privileged ISA, section 3.1.6, figure 3.7 for RV64).
pub mod mstatus {
    /// Supervisor interrupt enable.
    pub const SIE: u64 = 1 << 1;
    /// Machine interrupt enable.
    pub const MIE: u64 = 1 << 3;
    /// SIE before the last trap into S.
    pub const SPIE: u64 = 1 << 5;
    /// User big-endian (read-only zero here).
    pub const UBE: u64 = 1 << 6;
    /// MIE before the last trap into M.
    pub const MPIE: u64 = 1 << 7;
    /// Privilege before the last trap into S (0 = U, 1 = S).
    pub const SPP: u64 = 1 << 8;
    /// Vector unit state (read-only zero: no V extension).
    pub const VS: u64 = 3 << 9;
    /// Shift of `MPP`.
    pub const MPP_SHIFT: u32 = 11;
    /// Privilege before the last trap into M.
    pub const MPP: u64 = 3 << MPP_SHIFT;
    /// Shift of `FS`.
    pub const FS_SHIFT: u32 = 13;
    /// Floating-point unit state: Off (0), Initial (1), Clean (2), Dirty (3).
    pub const FS: u64 = 3 << FS_SHIFT;
    /// Other extensions' state (read-only zero).
    pub const XS: u64 = 3 << 15;
    /// Modify privilege: loads and stores use `MPP`'s translation.
    pub const MPRV: u64 = 1 << 17;
    /// Permit supervisor access to user memory.
    pub const SUM: u64 = 1 << 18;
    /// Make executable pages readable.
    pub const MXR: u64 = 1 << 19;
    /// Trap virtual memory: `satp` and `sfence.vma` trap in S.
    pub const TVM: u64 = 1 << 20;
    /// Timeout wait: `wfi` traps below M.
    pub const TW: u64 = 1 << 21;
    /// Trap `sret` in S.
    pub const TSR: u64 = 1 << 22;
    /// U-mode XLEN (read-only 2 = 64 bits here).
    pub const UXL: u64 = 3 << 32;
    /// S-mode XLEN (read-only 2 = 64 bits here).
    pub const SXL: u64 = 3 << 34;
    /// Supervisor big-endian (read-only zero).
    pub const SBE: u64 = 1 << 36;
    /// Machine big-endian (read-only zero).
    pub const MBE: u64 = 1 << 37;
    /// State dirty summary: FS, VS or XS is Dirty (read-only).
    pub const SD: u64 = 1 << 63;

    /// Bits an M-mode write of `mstatus` may change (everything else is
    /// read-only: VS/XS zero, UXL/SXL fixed at 64 bits, little-endian only).
    pub const WRITABLE: u64 =
        SIE | MIE | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR;
    /// The bits of `mstatus` that `sstatus` shows (section 4.1.1).
    pub const SSTATUS_VIEW: u64 = SIE | SPIE | UBE | SPP | VS | FS | XS | SUM | MXR | UXL | SD;
    /// Bits a write of `sstatus` may change.
    pub const SSTATUS_WRITABLE: u64 = SIE | SPIE | SPP | FS | SUM | MXR;
    /// Value of `mstatus` at reset: UXL = SXL = 2 (64-bit), the rest zero
    /// (section 3.4: MIE and MPRV reset to 0).
    pub const RESET: u64 = (2 << 32) | (2 << 34);
}

/// Interrupt bits of `mip`, `mie` and `mideleg` (section 3.1.9).
pub mod irq {
    /// Supervisor software interrupt pending/enable.
    pub const SSIP: u64 = 1 << 1;
    /// Machine software interrupt.
    pub const MSIP: u64 = 1 << 3;
    /// Supervisor timer interrupt.
    pub const STIP: u64 = 1 << 5;
    /// Machine timer interrupt.
    pub const MTIP: u64 = 1 << 7;
    /// Supervisor external interrupt.
    pub const SEIP: u64 = 1 << 9;
    /// Machine external interrupt.
    pub const MEIP: u64 = 1 << 11;
    /// The S-level interrupts: the only ones `mideleg` can delegate (M-level
    /// bits of `mideleg` are read-only zero, section 3.1.8).
    pub const S_LEVEL: u64 = SSIP | STIP | SEIP;
    /// The M-level interrupts.
    pub const M_LEVEL: u64 = MSIP | MTIP | MEIP;
    /// Every interrupt this hart implements (the writable bits of `mie`).
    pub const ALL: u64 = S_LEVEL | M_LEVEL;
}

/// `satp` fields (section 4.1.11, RV64 layout).
pub mod satp {
    /// Shift of the MODE field (bits 63:60).
    pub const MODE_SHIFT: u32 = 60;
    /// No translation.
    pub const MODE_BARE: u64 = 0;
    /// Sv39 (three-level page table).
    pub const MODE_SV39: u64 = 8;
    /// Sv48 (four-level).
    pub const MODE_SV48: u64 = 9;
    /// Sv57 (five-level).
    pub const MODE_SV57: u64 = 10;
    /// Shift of the ASID field (bits 59:44; all 16 bits implemented).
    pub const ASID_SHIFT: u32 = 44;
    /// The ASID field.
    pub const ASID: u64 = 0xffff << ASID_SHIFT;
    /// The root page table's physical page number (bits 43:0).
    pub const PPN: u64 = (1 << 44) - 1;
}

/// `menvcfg` and `senvcfg` fields (section 3.1.18 and 4.1.5).
pub mod envcfg {
    /// Fence of I/O implies memory (writable, no effect in this emulator:
    /// all accesses are already ordered).
    pub const FIOM: u64 = 1 << 0;
    /// Sstc enable: `stimecmp` is accessible below M and drives `mip.STIP`.
    pub const STCE: u64 = 1 << 63;
    /// Writable bits of `menvcfg` (no Zicbo*, Svpbmt or Svadu here).
    pub const MENVCFG_WRITABLE: u64 = FIOM | STCE;
    /// Writable bits of `senvcfg`.
    pub const SENVCFG_WRITABLE: u64 = FIOM;
}

/// `misa` of this hart: MXL = 2 (64-bit) and the extensions A, C, D, F, I,
/// M, S, U (section 3.1.1). `misa` is WARL and may be read-only; here it
/// is: writes are ignored, so extensions cannot be switched off.
pub const MISA_VALUE: u64 = (2 << 62)
    | (1 << 0) // A
    | (1 << 2) // C
    | (1 << 3) // D
    | (1 << 5) // F
    | (1 << 8) // I
    | (1 << 12) // M
    | (1 << 18) // S
    | (1 << 20); // U

/// Writable bits of `medeleg`: every synchronous exception this hart
/// raises except environment call from M (bit 11, read-only zero: traps
/// from M never go to S, section 3.1.8).
pub const MEDELEG_WRITABLE: u64 = 0xb3ff;

/// Bits of each `pmpcfg` byte that are WARL zero (bits 6:5 are reserved,
/// section 3.7.1).
const PMPCFG_RESERVED: u64 = 0x6060_6060_6060_6060;
/// The lock bit of a `pmpcfg` byte.
const PMP_L: u8 = 0x80;
/// The A field of a `pmpcfg` byte, and its TOR encoding.
const PMP_A: u8 = 0x18;
const PMP_A_TOR: u8 = 0x08;
/// Writable bits of `pmpaddr` on RV64 (address bits 55:2).
const PMPADDR_MASK: u64 = (1 << 54) - 1;

/// Why a CSR access is illegal. Every variant is an illegal-instruction
/// exception for the guest ([`CsrError::exception`]); the variants exist
/// for `-d int` style logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum CsrError {
    /// No such CSR on this hart.
    #[error("CSR {0:#x} is not implemented")]
    Unimplemented(u16),
    /// The CSR needs a higher privilege (address bits 9:8, section 2.1).
    #[error("CSR {csr:#x} is not accessible from {from:?}-mode")]
    Privilege {
        /// The CSR.
        csr: u16,
        /// The privilege of the access.
        from: Priv,
    },
    /// A write to a read-only CSR (address bits 11:10 = 3, section 2.1).
    #[error("CSR {0:#x} is read-only")]
    ReadOnly(u16),
    /// An access the current configuration forbids: `satp` with
    /// `mstatus.TVM`, a counter without its `mcounteren`/`scounteren` bit,
    /// `stimecmp` without `menvcfg.STCE`.
    #[error("CSR {0:#x} is disabled by the current configuration")]
    Disabled(u16),
}

impl CsrError {
    /// The exception the guest sees: always illegal instruction, with the
    /// instruction bits as `tval` (filled in by the caller).
    pub const fn exception(self) -> Exception {
        Exception::IllegalInstruction
    }
}

/// What the caller must do after a successful CSR write or privileged
/// instruction. Flags combine with `|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsrEffect {
    /// Translations may have changed: flush this hart's softmmu TLB
    /// (`satp` writes; `mstatus` MPRV, MPP while MPRV is set, SUM, MXR).
    pub flush_tlb: bool,
    /// State that translated code depends on (privilege, FS, MPRV, SUM,
    /// MXR, TVM/TW/TSR) changed: end the TB after this instruction and look
    /// the next one up with fresh flags.
    pub end_tb: bool,
    /// An interrupt may have become pending and enabled: call
    /// [`PrivState::pending_interrupt`] before the next instruction.
    pub check_interrupts: bool,
}

impl CsrEffect {
    /// Nothing to do.
    pub const NONE: CsrEffect = CsrEffect {
        flush_tlb: false,
        end_tb: false,
        check_interrupts: false,
    };
    /// Only look for interrupts.
    pub const INTERRUPTS: CsrEffect = CsrEffect {
        flush_tlb: false,
        end_tb: false,
        check_interrupts: true,
    };
}

impl core::ops::BitOr for CsrEffect {
    type Output = CsrEffect;
    fn bitor(self, rhs: CsrEffect) -> CsrEffect {
        CsrEffect {
            flush_tlb: self.flush_tlb | rhs.flush_tlb,
            end_tb: self.end_tb | rhs.end_tb,
            check_interrupts: self.check_interrupts | rhs.check_interrupts,
        }
    }
}

/// The privileged state of one hart: its current privilege level and the
/// machine and supervisor CSRs. `Default` is the reset state of hart 0
/// (section 3.4: M-mode, MIE = MPRV = 0, `mcause`... all zero).
///
/// Fields hold the architectural values; views (`sstatus`, `sie`, `sip`)
/// have no fields of their own. Fields are public for the runtime and for
/// snapshots, but writes from the guest must go through
/// [`PrivState::csr_write`] to get WARL masking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivState {
    /// The current privilege level.
    pub priv_level: Priv,
    /// `mstatus` without SD (SD is computed on read).
    pub mstatus: u64,
    /// `mhartid`.
    pub mhartid: u64,
    /// `mtvec`: BASE in bits 63:2, MODE (0 Direct, 1 Vectored) in 1:0.
    pub mtvec: u64,
    /// `stvec`, same layout as `mtvec`.
    pub stvec: u64,
    /// `medeleg`.
    pub medeleg: u64,
    /// `mideleg` (only S-level bits).
    pub mideleg: u64,
    /// `mie`.
    pub mie: u64,
    /// The bits of `mip` set by software or by device lines, except the
    /// software-written SEIP ([`PrivState::seip_sw`]) and Sstc's computed
    /// STIP.
    pub mip: u64,
    /// The software-writable part of `mip.SEIP` (section 3.1.9).
    pub seip_sw: bool,
    /// `mepc` (bit 0 always zero).
    pub mepc: u64,
    /// `sepc` (bit 0 always zero).
    pub sepc: u64,
    /// `mcause`.
    pub mcause: u64,
    /// `scause`.
    pub scause: u64,
    /// `mtval`.
    pub mtval: u64,
    /// `stval`.
    pub stval: u64,
    /// `mscratch`.
    pub mscratch: u64,
    /// `sscratch`.
    pub sscratch: u64,
    /// `satp`.
    pub satp: u64,
    /// `menvcfg`.
    pub menvcfg: u64,
    /// `senvcfg`.
    pub senvcfg: u64,
    /// `mcounteren` (bits 31:0: CY, TM, IR, HPM3-31).
    pub mcounteren: u64,
    /// `scounteren`.
    pub scounteren: u64,
    /// `mcountinhibit` (bit 1 read-only zero); the caller honours it.
    pub mcountinhibit: u64,
    /// `stimecmp` (Sstc), in `time` ticks.
    pub stimecmp: u64,
    /// `pmpcfg0`, `pmpcfg2`, ... `pmpcfg14` (index = number / 2).
    pub pmpcfg: [u64; 8],
    /// `pmpaddr0`-`pmpaddr63`.
    pub pmpaddr: [u64; 64],
    /// `mcycle`, kept current by the caller.
    pub mcycle: u64,
    /// `minstret`, kept current by the caller.
    pub minstret: u64,
    /// `mtime` as `time` reads it, in ticks, kept current by the caller.
    pub time: u64,
}

impl Default for PrivState {
    fn default() -> PrivState {
        PrivState::new(0)
    }
}

impl PrivState {
    /// The reset state of hart `hartid`.
    pub const fn new(hartid: u64) -> PrivState {
        PrivState {
            priv_level: Priv::M,
            mstatus: mstatus::RESET,
            mhartid: hartid,
            mtvec: 0,
            stvec: 0,
            medeleg: 0,
            mideleg: 0,
            mie: 0,
            mip: 0,
            seip_sw: false,
            mepc: 0,
            sepc: 0,
            mcause: 0,
            scause: 0,
            mtval: 0,
            stval: 0,
            mscratch: 0,
            sscratch: 0,
            satp: 0,
            menvcfg: 0,
            senvcfg: 0,
            mcounteren: 0,
            scounteren: 0,
            mcountinhibit: 0,
            stimecmp: 0,
            pmpcfg: [0; 8],
            pmpaddr: [0; 64],
            mcycle: 0,
            minstret: 0,
            time: 0,
        }
    }

    /// `mstatus` as software reads it: the stored value with SD set when FS
    /// is Dirty (VS and XS are always Off here), section 3.1.6.6.
    pub const fn mstatus(&self) -> u64 {
        if self.mstatus & mstatus::FS == mstatus::FS {
            self.mstatus | mstatus::SD
        } else {
            self.mstatus & !mstatus::SD
        }
    }

    /// `sstatus`: the S-level view of `mstatus` (section 4.1.1).
    pub const fn sstatus(&self) -> u64 {
        self.mstatus() & mstatus::SSTATUS_VIEW
    }

    /// `mstatus.FS` (0 Off, 1 Initial, 2 Clean, 3 Dirty).
    pub const fn fs(&self) -> u64 {
        (self.mstatus & mstatus::FS) >> mstatus::FS_SHIFT
    }

    /// Whether floating-point instructions and CSRs are legal: FS is not
    /// Off (section 3.1.6.6). When this is false they are illegal.
    pub const fn fp_enabled(&self) -> bool {
        self.fs() != 0
    }

    /// Sets FS to Dirty, as any instruction that changes FP state must.
    /// Returns whether FS changed (then the caller ends the TB if FS is in
    /// its flags).
    pub fn mark_fs_dirty(&mut self) -> bool {
        let changed = self.fs() != 3;
        self.mstatus |= mstatus::FS;
        changed
    }

    /// The privilege that loads and stores use: `mstatus.MPP` when MPRV is
    /// set in M-mode, else the current privilege (section 3.1.6.3). MPRV
    /// does not affect instruction fetch.
    pub fn data_priv(&self) -> Priv {
        if self.priv_level == Priv::M && self.mstatus & mstatus::MPRV != 0 {
            Priv::from_bits(self.mstatus >> mstatus::MPP_SHIFT).unwrap_or(Priv::U)
        } else {
            self.priv_level
        }
    }

    /// Whether Sstc drives `mip.STIP`: `menvcfg.STCE` is set.
    pub const fn sstc_enabled(&self) -> bool {
        self.menvcfg & envcfg::STCE != 0
    }

    /// `mip` as software reads it at time `time` (in ticks): stored bits,
    /// OR the software SEIP, with STIP from `time >= stimecmp` when
    /// `menvcfg.STCE` is set (Sstc).
    pub fn mip_at(&self, time: u64) -> u64 {
        let mut mip = self.mip;
        if self.seip_sw {
            mip |= irq::SEIP;
        }
        if self.sstc_enabled() {
            mip &= !irq::STIP;
            if time >= self.stimecmp {
                mip |= irq::STIP;
            }
        }
        mip
    }

    /// `mip` as software reads it now ([`PrivState::time`]).
    pub fn mip(&self) -> u64 {
        self.mip_at(self.time)
    }

    /// Raises or lowers a device interrupt line: MSIP, MTIP (CLINT), MEIP,
    /// SEIP (PLIC contexts). For SEIP this is the external signal, kept
    /// apart from the software-writable bit (section 3.1.9). Software and
    /// timer S-interrupts can be set too (for tests and an SBI in the host).
    ///
    /// Returns [`CsrEffect::INTERRUPTS`] when the line went up.
    pub fn set_interrupt_line(&mut self, int: Interrupt, level: bool) -> CsrEffect {
        let old = self.mip;
        if level {
            self.mip |= int.mask();
        } else {
            self.mip &= !int.mask();
        }
        if self.mip & !old != 0 {
            CsrEffect::INTERRUPTS
        } else {
            CsrEffect::NONE
        }
    }

    /// Checks the privilege and read-only rules common to every CSR
    /// (section 2.1): address bits 9:8 give the lowest privilege that may
    /// access it, and bits 11:10 = 3 mark it read-only. Hypervisor CSRs
    /// (bits 9:8 = 2) are not implemented.
    fn check_access(csr: u16, from: Priv, write: bool) -> Result<(), CsrError> {
        let level = (csr >> 8) & 3;
        if level == 2 {
            return Err(CsrError::Unimplemented(csr));
        }
        if (from as u16) < level {
            return Err(CsrError::Privilege { csr, from });
        }
        if write && (csr >> 10) & 3 == 3 {
            return Err(CsrError::ReadOnly(csr));
        }
        Ok(())
    }

    /// Whether the counter `cycle`/`time`/`instret`/`hpmcounterN` with
    /// index `n` (0-31) may be read from `from`: `mcounteren` bit `n` gates
    /// S and U, `scounteren` bit `n` gates U too (sections 3.1.11 and
    /// 4.1.5).
    fn counter_enabled(&self, n: u16, from: Priv) -> bool {
        let bit = 1u64 << n;
        match from {
            Priv::M => true,
            Priv::S => self.mcounteren & bit != 0,
            Priv::U => self.mcounteren & self.scounteren & bit != 0,
        }
    }

    /// `stimecmp` is accessible below M only with `menvcfg.STCE` and
    /// `mcounteren.TM` set (Sstc, "Supervisor Timer Register").
    fn stimecmp_enabled(&self, from: Priv) -> bool {
        from == Priv::M || (self.sstc_enabled() && self.mcounteren & 2 != 0)
    }

    /// Reads CSR `csr` with privilege `from` (normally
    /// [`PrivState::priv_level`]).
    ///
    /// # Errors
    ///
    /// A [`CsrError`] (illegal instruction for the guest) when the CSR does
    /// not exist or `from` may not read it.
    pub fn csr_read(&self, csr: u16, from: Priv) -> Result<u64, CsrError> {
        Self::check_access(csr, from, false)?;
        self.read_checked(csr, from)
    }

    /// Reads after the generic checks: the per-CSR rules and the value.
    fn read_checked(&self, csr: u16, from: Priv) -> Result<u64, CsrError> {
        use csr::*;
        Ok(match csr {
            SSTATUS => self.sstatus(),
            SIE => self.mie & self.mideleg,
            STVEC => self.stvec,
            SCOUNTEREN => self.scounteren,
            SENVCFG => self.senvcfg,
            SSCRATCH => self.sscratch,
            SEPC => self.sepc,
            SCAUSE => self.scause,
            STVAL => self.stval,
            SIP => self.mip() & self.mideleg,
            STIMECMP => {
                if !self.stimecmp_enabled(from) {
                    return Err(CsrError::Disabled(csr));
                }
                self.stimecmp
            }
            SATP => {
                if from == Priv::S && self.mstatus & mstatus::TVM != 0 {
                    return Err(CsrError::Disabled(csr));
                }
                self.satp
            }
            MSTATUS => self.mstatus(),
            MISA => MISA_VALUE,
            MEDELEG => self.medeleg,
            MIDELEG => self.mideleg,
            MIE => self.mie,
            MTVEC => self.mtvec,
            MCOUNTEREN => self.mcounteren,
            MENVCFG => self.menvcfg,
            MCOUNTINHIBIT => self.mcountinhibit,
            MHPMEVENT3..=MHPMEVENT31 => 0,
            MSCRATCH => self.mscratch,
            MEPC => self.mepc,
            MCAUSE => self.mcause,
            MTVAL => self.mtval,
            MIP => self.mip(),
            PMPCFG0..=PMPCFG15 => {
                let n = csr - PMPCFG0;
                if !n.is_multiple_of(2) {
                    return Err(CsrError::Unimplemented(csr));
                }
                self.pmpcfg[usize::from(n / 2)]
            }
            PMPADDR0..=PMPADDR63 => self.pmpaddr[usize::from(csr - PMPADDR0)],
            MCYCLE => self.mcycle,
            MINSTRET => self.minstret,
            MHPMCOUNTER3..=MHPMCOUNTER31 => 0,
            CYCLE..=HPMCOUNTER31 => {
                if !self.counter_enabled(csr - CYCLE, from) {
                    return Err(CsrError::Disabled(csr));
                }
                match csr {
                    CYCLE => self.mcycle,
                    TIME => self.time,
                    INSTRET => self.minstret,
                    _ => 0,
                }
            }
            MVENDORID | MARCHID | MIMPID | MCONFIGPTR => 0,
            MHARTID => self.mhartid,
            _ => return Err(CsrError::Unimplemented(csr)),
        })
    }

    /// Writes `value` to CSR `csr` with privilege `from`, applying the
    /// CSR's WARL rules, and says what the caller must do next.
    ///
    /// # Errors
    ///
    /// A [`CsrError`] (illegal instruction for the guest) when the CSR does
    /// not exist, is read-only, or `from` may not write it. The state is
    /// unchanged then.
    pub fn csr_write(&mut self, csr: u16, value: u64, from: Priv) -> Result<CsrEffect, CsrError> {
        Self::check_access(csr, from, true)?;
        // Every rule that makes a read illegal makes the write illegal too
        // (TVM, counter enables, Sstc), and a write to a CSR that does not
        // exist must fail: reading first checks both.
        self.read_checked(csr, from)?;
        self.write_checked(csr, value)
    }

    /// One Zicsr instruction: reads the old value and, unless `mode` is
    /// [`CsrMode::Read`], writes `value` (`csrrw`), `old | value`
    /// (`csrrs`) or `old & !value` (`csrrc`). A CSR that is read-only fails
    /// only when the instruction writes (section 2.1 and Zicsr).
    ///
    /// # Errors
    ///
    /// As for [`PrivState::csr_read`] and [`PrivState::csr_write`]; nothing
    /// changes on error.
    pub fn csr_rmw(
        &mut self,
        csr: u16,
        mode: CsrMode,
        value: u64,
        from: Priv,
    ) -> Result<(u64, CsrEffect), CsrError> {
        let old = self.csr_read(csr, from)?;
        // Section 3.1.9: rd gets mip.SEIP as the OR of the software bit
        // and the PLIC's line, but only the software bit takes part in
        // the read-modify-write (else `csrs mip, SSIP` while the line is
        // up would latch SEIP on for good: an interrupt storm).
        let base = if csr == csr::MIP {
            (old & !irq::SEIP) | if self.seip_sw { irq::SEIP } else { 0 }
        } else {
            old
        };
        let new = match mode {
            CsrMode::Read => return Ok((old, CsrEffect::NONE)),
            CsrMode::Write => value,
            CsrMode::Set => base | value,
            CsrMode::Clear => base & !value,
        };
        let effect = self.csr_write(csr, new, from)?;
        Ok((old, effect))
    }

    /// Writes after all legality checks: the WARL rules of each CSR.
    fn write_checked(&mut self, csr: u16, value: u64) -> Result<CsrEffect, CsrError> {
        use csr::*;
        let effect = match csr {
            SSTATUS => {
                let v = (self.mstatus & !mstatus::SSTATUS_WRITABLE)
                    | (value & mstatus::SSTATUS_WRITABLE);
                self.write_mstatus(v)
            }
            MSTATUS => self.write_mstatus(value),
            SIE => {
                // Only delegated interrupts are visible through sie
                // (section 4.1.3); the rest of mie is untouched.
                let m = self.mideleg;
                self.mie = (self.mie & !m) | (value & m);
                CsrEffect::INTERRUPTS
            }
            MIE => {
                self.mie = value & irq::ALL;
                CsrEffect::INTERRUPTS
            }
            SIP => {
                // Of the S-level bits only SSIP is writable through sip
                // (section 4.1.3), and only when delegated.
                let m = self.mideleg & irq::SSIP;
                self.mip = (self.mip & !m) | (value & m);
                CsrEffect::INTERRUPTS
            }
            MIP => {
                self.write_mip(value);
                CsrEffect::INTERRUPTS
            }
            MIDELEG => {
                self.mideleg = value & irq::S_LEVEL;
                CsrEffect::INTERRUPTS
            }
            MEDELEG => {
                self.medeleg = value & MEDELEG_WRITABLE;
                CsrEffect::NONE
            }
            MTVEC => {
                self.mtvec = legalize_tvec(self.mtvec, value);
                CsrEffect::NONE
            }
            STVEC => {
                self.stvec = legalize_tvec(self.stvec, value);
                CsrEffect::NONE
            }
            // IALIGN is 16 (C is always on): only bit 0 is zero (3.1.14).
            MEPC => {
                self.mepc = value & !1;
                CsrEffect::NONE
            }
            SEPC => {
                self.sepc = value & !1;
                CsrEffect::NONE
            }
            // xcause and xtval are WLRL / WARL holding any value here.
            MCAUSE => {
                self.mcause = value;
                CsrEffect::NONE
            }
            SCAUSE => {
                self.scause = value;
                CsrEffect::NONE
            }
            MTVAL => {
                self.mtval = value;
                CsrEffect::NONE
            }
            STVAL => {
                self.stval = value;
                CsrEffect::NONE
            }
            MSCRATCH => {
                self.mscratch = value;
                CsrEffect::NONE
            }
            SSCRATCH => {
                self.sscratch = value;
                CsrEffect::NONE
            }
            SATP => self.write_satp(value),
            MENVCFG => {
                self.menvcfg = value & envcfg::MENVCFG_WRITABLE;
                // Turning STCE on or off changes where STIP comes from.
                CsrEffect::INTERRUPTS
            }
            SENVCFG => {
                self.senvcfg = value & envcfg::SENVCFG_WRITABLE;
                CsrEffect::NONE
            }
            MCOUNTEREN => {
                self.mcounteren = value & 0xffff_ffff;
                CsrEffect::NONE
            }
            SCOUNTEREN => {
                self.scounteren = value & 0xffff_ffff;
                CsrEffect::NONE
            }
            MCOUNTINHIBIT => {
                // Bit 1 (TM) is read-only zero (section 3.1.13).
                self.mcountinhibit = value & 0xffff_fffd;
                CsrEffect::NONE
            }
            STIMECMP => {
                self.stimecmp = value;
                CsrEffect::INTERRUPTS
            }
            MCYCLE => {
                self.mcycle = value;
                CsrEffect::NONE
            }
            MINSTRET => {
                self.minstret = value;
                CsrEffect::NONE
            }
            // Performance counters and events: read-only zero (WARL).
            MHPMCOUNTER3..=MHPMCOUNTER31 | MHPMEVENT3..=MHPMEVENT31 => CsrEffect::NONE,
            // misa is WARL; this hart makes it read-only (see MISA_VALUE).
            MISA => CsrEffect::NONE,
            PMPCFG0..=PMPCFG15 => {
                self.write_pmpcfg(usize::from((csr - PMPCFG0) / 2), value);
                CsrEffect::NONE
            }
            PMPADDR0..=PMPADDR63 => {
                self.write_pmpaddr(usize::from(csr - PMPADDR0), value);
                CsrEffect::NONE
            }
            _ => return Err(CsrError::Unimplemented(csr)),
        };
        Ok(effect)
    }

    /// Writes `mstatus` through its WARL rules (section 3.1.6): only
    /// [`mstatus::WRITABLE`] bits change; an MPP of 2 (reserved) keeps the
    /// old MPP; SD is computed on read.
    fn write_mstatus(&mut self, value: u64) -> CsrEffect {
        use mstatus::*;
        let old = self.mstatus;
        let mut new = (old & !WRITABLE) | (value & WRITABLE);
        if (new & MPP) >> MPP_SHIFT == 2 {
            new = (new & !MPP) | (old & MPP);
        }
        self.mstatus = new;
        let changed = old ^ new;
        let mprv_on = (old | new) & MPRV != 0;
        let translation = changed & (MPRV | SUM | MXR) != 0 || (mprv_on && changed & MPP != 0);
        CsrEffect {
            flush_tlb: translation,
            end_tb: translation || changed & (FS | TVM | TW | TSR) != 0,
            check_interrupts: new & !old & (MIE | SIE) != 0,
        }
    }

    /// Writes `mip` from M-mode (section 3.1.9): SSIP is writable; STIP
    /// only while `menvcfg.STCE` is clear (Sstc makes it read-only);
    /// SEIP's software bit is writable and ORed with the external line.
    /// MSIP, MTIP and MEIP are read-only (driven by the CLINT and PLIC).
    fn write_mip(&mut self, value: u64) {
        let mut writable = irq::SSIP;
        if !self.sstc_enabled() {
            writable |= irq::STIP;
        }
        self.mip = (self.mip & !writable) | (value & writable);
        self.seip_sw = value & irq::SEIP != 0;
    }

    /// Writes `satp` (section 4.1.11): a MODE other than Bare, Sv39, Sv48
    /// or Sv57 makes the whole write have no effect, as the spec requires.
    fn write_satp(&mut self, value: u64) -> CsrEffect {
        let mode = value >> satp::MODE_SHIFT;
        if !matches!(
            mode,
            satp::MODE_BARE | satp::MODE_SV39 | satp::MODE_SV48 | satp::MODE_SV57
        ) {
            return CsrEffect::NONE;
        }
        self.satp = value;
        CsrEffect {
            flush_tlb: true,
            end_tb: true,
            check_interrupts: false,
        }
    }

    /// Whether PMP entry `i` is locked (its `pmpcfg` byte has L set).
    fn pmp_locked(&self, i: usize) -> bool {
        self.pmp_cfg_byte(i) & PMP_L != 0
    }

    /// The `pmpcfg` byte of entry `i`.
    pub(crate) fn pmp_cfg_byte(&self, i: usize) -> u8 {
        (self.pmpcfg[i / 8] >> (8 * (i % 8))) as u8
    }

    /// Writes `pmpcfg` register `reg` (0-7 for pmpcfg0, 2, ... 14): bytes
    /// of locked entries keep their value; reserved bits 6:5 are zero
    /// (section 3.7.1). R=0/W=1 combinations are stored as written
    /// (nothing enforces PMP).
    fn write_pmpcfg(&mut self, reg: usize, value: u64) {
        let value = value & !PMPCFG_RESERVED;
        let mut new = 0u64;
        for byte in 0..8 {
            let shift = 8 * byte;
            let src = if self.pmp_locked(reg * 8 + byte) {
                self.pmpcfg[reg]
            } else {
                value
            };
            new |= src & (0xff << shift);
        }
        self.pmpcfg[reg] = new;
    }

    /// Writes `pmpaddr` `i` (bits 53:0, 4-byte granularity): ignored when
    /// entry `i` is locked, or when entry `i + 1` is locked and uses TOR
    /// (section 3.7.1.3).
    fn write_pmpaddr(&mut self, i: usize, value: u64) {
        if self.pmp_locked(i) {
            return;
        }
        if i + 1 < 64 {
            let next = self.pmp_cfg_byte(i + 1);
            if next & PMP_L != 0 && next & PMP_A == PMP_A_TOR {
                return;
            }
        }
        self.pmpaddr[i] = value & PMPADDR_MASK;
    }
}

/// The WARL rule for `mtvec`/`stvec` (sections 3.1.7 and 4.1.2): MODE 0
/// (Direct) and 1 (Vectored) are legal; MODE >= 2 is reserved, and this
/// hart then ignores the whole write (keeps `old`), as QEMU does.
fn legalize_tvec(old: u64, value: u64) -> u64 {
    if value & 3 >= 2 {
        old
    } else {
        value
    }
}
