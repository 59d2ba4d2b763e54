//! Synchronous exceptions as values: a cause from the RISC-V `mcause`/`scause`
//! table (Privileged ISA, section 3.1.15, table 14) with its `tval`.
//!
//! Translated code and the execution loop never unwind on a guest fault: they
//! return a [`Trap`], and whoever owns the hart decides what it means. Linux
//! user mode turns it into a signal; the privileged layer
//! ([`crate::privileged`]) vectors it to M or S mode.
//!
//! [`Interrupt`] lists the asynchronous causes (interrupt bit set) of the
//! same table, with their `mip`/`mie` bit numbers.

use core::fmt;

/// Exception codes (interrupt bit clear) from the Privileged ISA, table 14.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Exception {
    /// Instruction address misaligned (0).
    InstructionAddressMisaligned = 0,
    /// Instruction access fault (1).
    InstructionAccessFault = 1,
    /// Illegal instruction (2); `tval` holds the instruction bits.
    IllegalInstruction = 2,
    /// Breakpoint (3), raised by `ebreak`/`c.ebreak`; `tval` holds the pc.
    Breakpoint = 3,
    /// Load address misaligned (4).
    LoadAddressMisaligned = 4,
    /// Load access fault (5).
    LoadAccessFault = 5,
    /// Store/AMO address misaligned (6).
    StoreAddressMisaligned = 6,
    /// Store/AMO access fault (7).
    StoreAccessFault = 7,
    /// Environment call from U-mode (8).
    EcallFromU = 8,
    /// Environment call from S-mode (9).
    EcallFromS = 9,
    /// Environment call from M-mode (11).
    EcallFromM = 11,
    /// Instruction page fault (12); `tval` holds the faulting address.
    InstructionPageFault = 12,
    /// Load page fault (13); `tval` holds the faulting address.
    LoadPageFault = 13,
    /// Store/AMO page fault (15); `tval` holds the faulting address.
    StorePageFault = 15,
}

impl Exception {
    /// The `mcause` exception code.
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// The exception with `mcause` code `code`, if it is one this hart raises.
    pub fn from_code(code: u64) -> Option<Exception> {
        use Exception::*;
        Some(match code {
            0 => InstructionAddressMisaligned,
            1 => InstructionAccessFault,
            2 => IllegalInstruction,
            3 => Breakpoint,
            4 => LoadAddressMisaligned,
            5 => LoadAccessFault,
            6 => StoreAddressMisaligned,
            7 => StoreAccessFault,
            8 => EcallFromU,
            9 => EcallFromS,
            11 => EcallFromM,
            12 => InstructionPageFault,
            13 => LoadPageFault,
            15 => StorePageFault,
            _ => return None,
        })
    }
}

/// Interrupt codes (interrupt bit set) from the Privileged ISA, section
/// 3.1.15, table 14. The code is also the bit number of the interrupt in
/// `mip` and `mie` (section 3.1.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Interrupt {
    /// Supervisor software interrupt (1), `mip.SSIP`.
    SupervisorSoftware = 1,
    /// Machine software interrupt (3), `mip.MSIP`.
    MachineSoftware = 3,
    /// Supervisor timer interrupt (5), `mip.STIP`.
    SupervisorTimer = 5,
    /// Machine timer interrupt (7), `mip.MTIP`.
    MachineTimer = 7,
    /// Supervisor external interrupt (9), `mip.SEIP`.
    SupervisorExternal = 9,
    /// Machine external interrupt (11), `mip.MEIP`.
    MachineExternal = 11,
}

impl Interrupt {
    /// The standard interrupts in decreasing priority, as section 3.1.9
    /// orders them: MEI, MSI, MTI, SEI, SSI, STI.
    pub const PRIORITY: [Interrupt; 6] = [
        Interrupt::MachineExternal,
        Interrupt::MachineSoftware,
        Interrupt::MachineTimer,
        Interrupt::SupervisorExternal,
        Interrupt::SupervisorSoftware,
        Interrupt::SupervisorTimer,
    ];

    /// The `mcause` exception code (without the interrupt bit).
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// The interrupt's bit in `mip`, `mie` and `mideleg`.
    pub const fn mask(self) -> u64 {
        1 << (self as u64)
    }

    /// The interrupt with code `code`, if it is a standard one.
    pub fn from_code(code: u64) -> Option<Interrupt> {
        Interrupt::PRIORITY.into_iter().find(|i| i.code() == code)
    }
}

/// A synchronous trap taken by a hart: what happened, the `tval` the
/// privileged spec assigns to it, and the guest virtual pc of the
/// instruction that raised it (the `epc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    /// The cause.
    pub cause: Exception,
    /// The trap value: a faulting guest virtual address, the instruction bits
    /// of an illegal instruction, or 0.
    pub tval: u64,
    /// Guest virtual address of the trapping instruction.
    pub pc: u64,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} at pc {:#x} (tval {:#x})",
            self.cause, self.pc, self.tval
        )
    }
}
