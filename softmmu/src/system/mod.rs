//! Memory for full-system emulation: guest physical memory, the page-table
//! walker and the softmmu TLB.
//!
//! # The three address spaces
//!
//! - **Guest virtual** ([`GuestVirtAddr`]): what a guest load, store or
//!   instruction fetch names. Translated by the page tables that `satp`
//!   points to (Privileged ISA, "Supervisor-Level ISA", section
//!   "Virtual-Memory System"), or used as is in M-mode and in `Bare` mode.
//! - **Guest physical** ([`GuestPhysAddr`]): what the page tables produce
//!   and what RAM and devices are placed at (RAM at `0x8000_0000` on `virt`).
//! - **Host**: a pointer into this process. Guest RAM ([`ram::Ram`]) is one
//!   host mapping, so a guest physical address in RAM is `host_base +
//!   (pa - ram_base)`.
//!
//! # How the pieces fit (the plan of issue 8)
//!
//! A guest access in generated code probes the per-vCPU [`tlb::Tlb`] inline:
//! index from the virtual page number, compare the tag, and on a hit the
//! host address is `vaddr + addend`. On a miss, or when a flag bit in the
//! tag forces the slow path (MMIO, a page holding translated code, a
//! watchpoint), a helper calls [`walk::walk`] with the vCPU's `satp`,
//! effective privilege, `SUM` and `MXR`; the walk either raises a guest
//! exception ([`Trap`]) or yields a [`walk::Translation`], from which the
//! helper refills the TLB with [`tlb::Tlb::fill`] and retries. This follows
//! QEMU's `accel/tcg/cputlb.c` (`tlb_fill`, `tlb_set_page_full`) and
//! `target/riscv/cpu_helper.c` (`get_physical_address`).
//!
//! What is not here yet: PMP checks (on the PTE reads and on the final
//! physical address), the MMIO bus, and the wiring into the translator.

pub mod ram;
pub mod tlb;
pub mod walk;

#[cfg(test)]
mod tests;

use std::fmt;

/// log2 of the base page size: 12 (4 KiB pages, Privileged ISA Sv39
/// "PAGESIZE = 2^12").
pub const PAGE_SHIFT: u32 = 12;

/// The base page size in bytes (4096).
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;

/// Mask that keeps the page number bits of an address (clears the 12-bit
/// page offset).
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);

/// A guest virtual address (bytes): what a load, store or fetch names before
/// translation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GuestVirtAddr(pub u64);

/// A guest physical address (bytes): what page tables, RAM and devices use.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GuestPhysAddr(pub u64);

impl fmt::Debug for GuestVirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "va:{:#x}", self.0)
    }
}

impl fmt::Debug for GuestPhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pa:{:#x}", self.0)
    }
}

/// A privilege mode (Privileged ISA, "Privilege Levels"), with the encoding
/// of `mstatus.MPP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Priv {
    /// User mode (0).
    User = 0,
    /// Supervisor mode (1).
    Supervisor = 1,
    /// Machine mode (3).
    Machine = 3,
}

/// The kind of a memory access, which decides the permission checked and
/// the exception cause on failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessType {
    /// An instruction fetch (needs X).
    Fetch,
    /// A load, including LR (needs R, or X with `MXR`).
    Load,
    /// A store or AMO, including SC (needs W; faults as a store).
    Store,
}

impl AccessType {
    /// The page-fault cause for this access (12, 13 or 15).
    pub const fn page_fault(self) -> Cause {
        match self {
            AccessType::Fetch => Cause::InstructionPageFault,
            AccessType::Load => Cause::LoadPageFault,
            AccessType::Store => Cause::StorePageFault,
        }
    }

    /// The access-fault cause for this access (1, 5 or 7).
    pub const fn access_fault(self) -> Cause {
        match self {
            AccessType::Fetch => Cause::InstructionAccessFault,
            AccessType::Load => Cause::LoadAccessFault,
            AccessType::Store => Cause::StoreAccessFault,
        }
    }
}

/// The memory-management exception causes (Privileged ISA, table "Machine
/// cause register (mcause) values after trap"); the discriminant is the
/// `mcause`/`scause` exception code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cause {
    /// Instruction access fault (1).
    InstructionAccessFault = 1,
    /// Load access fault (5).
    LoadAccessFault = 5,
    /// Store/AMO access fault (7).
    StoreAccessFault = 7,
    /// Instruction page fault (12).
    InstructionPageFault = 12,
    /// Load page fault (13).
    LoadPageFault = 13,
    /// Store/AMO page fault (15).
    StorePageFault = 15,
}

impl Cause {
    /// The exception code written to `mcause`/`scause`.
    pub const fn code(self) -> u64 {
        self as u64
    }
}

/// A guest exception raised by a memory access: its cause and the value for
/// `mtval`/`stval` (the faulting guest virtual address, also for access
/// faults raised while reading a PTE). A value, not an emulator error
/// (STYLE.md, "Guest faults are data").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Trap {
    /// The exception cause.
    pub cause: Cause,
    /// The trap value: the faulting guest virtual address.
    pub tval: u64,
}

/// Errors of the emulator itself in this module tree (not guest
/// exceptions, which are [`Trap`] values).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A RAM size that is zero, not a multiple of 4 KiB, or that with the
    /// base would pass the 56-bit physical address space; or a base that
    /// is not page-aligned.
    #[error("invalid RAM layout: base {base:#x}, size {size:#x} bytes")]
    RamLayout {
        /// The requested guest physical base.
        base: u64,
        /// The requested size in bytes.
        size: u64,
    },
    /// The host refused the anonymous mapping for guest RAM.
    #[error("cannot map {size} bytes of guest RAM: {source}")]
    RamMap {
        /// The requested size in bytes.
        size: u64,
        /// The host's error.
        source: std::io::Error,
    },
    /// A guest physical range that does not lie entirely in RAM.
    #[error("guest physical range {addr:#x}+{len:#x} is not in RAM")]
    OutsideRam {
        /// The first guest physical address of the range.
        addr: u64,
        /// The length in bytes.
        len: u64,
    },
    /// An atomic access whose guest physical address is not aligned to
    /// its size.
    #[error("misaligned atomic access at guest physical {addr:#x}")]
    Misaligned {
        /// The guest physical address.
        addr: u64,
    },
    /// A TLB size that is not a power of two in `1..=65536` entries.
    #[error("invalid TLB size: {0} entries (a power of two up to 65536)")]
    TlbSize(usize),
}

/// `Result` with this module tree's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
