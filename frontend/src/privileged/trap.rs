//! Trap entry, trap return, and the privileged instructions' legality
//! (Privileged ISA 1.12, sections 3.1.6.1, 3.1.8, 3.1.9, 3.3.2, 3.3.3 and
//! 4.2.1).
//!
//! Trap entry ([`PrivState::take_trap`]) follows section 3.1.8 ("Machine
//! Trap Delegation Registers") for the target mode and section 3.1.6.1
//! ("Privilege and Global Interrupt-Enable Stack") for the `mstatus`
//! updates: a trap from privilege `p` goes to S when `p <= S` and the
//! cause's bit in `medeleg`/`mideleg` is set, otherwise to M; traps never
//! go to a lower privilege, so a trap taken in M stays in M whatever the
//! delegation says.
//!
//! Interrupts are checked by the caller at block boundaries with
//! [`PrivState::pending_interrupt`], which applies the enable rules of
//! section 3.1.9 and the priority order MEI, MSI, MTI, SEI, SSI, STI, with
//! interrupts for M before interrupts for S.

use super::{irq, mstatus, CsrEffect, Priv, PrivState};
use crate::exception::{Exception, Interrupt, Trap};

/// The interrupt bit of `mcause`/`scause` on RV64 (section 3.1.15).
pub const CAUSE_INTERRUPT: u64 = 1 << 63;

/// What caused a trap: a synchronous exception or an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A synchronous exception.
    Exception(Exception),
    /// An asynchronous interrupt.
    Interrupt(Interrupt),
}

impl Cause {
    /// The value written to `mcause`/`scause`: the code, with bit 63 set for
    /// interrupts.
    pub const fn xcause(self) -> u64 {
        match self {
            Cause::Exception(e) => e.code(),
            Cause::Interrupt(i) => CAUSE_INTERRUPT | i.code(),
        }
    }
}

impl From<Exception> for Cause {
    fn from(e: Exception) -> Cause {
        Cause::Exception(e)
    }
}

impl From<Interrupt> for Cause {
    fn from(i: Interrupt) -> Cause {
        Cause::Interrupt(i)
    }
}

/// The result of an `mret` or `sret`: where to continue and what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Return {
    /// The pc to continue at (`mepc` or `sepc`).
    pub pc: u64,
    /// Always asks to end the TB and flush the TLB (privilege and MPRV may
    /// have changed) and to look for interrupts (xIE may have been set).
    pub effect: CsrEffect,
}

/// The effect of a change of privilege: new TB flags, new translations,
/// possibly newly enabled interrupts.
const PRIV_CHANGE: CsrEffect = CsrEffect {
    flush_tlb: true,
    end_tb: true,
    check_interrupts: true,
};

impl PrivState {
    /// The mode a trap with `cause` taken now goes to (section 3.1.8):
    /// S when the current privilege is U or S and the cause is delegated in
    /// `medeleg` (exceptions) or `mideleg` (interrupts); M otherwise.
    pub fn trap_target(&self, cause: Cause) -> Priv {
        let delegated = match cause {
            Cause::Exception(e) => self.medeleg >> e.code() & 1 != 0,
            Cause::Interrupt(i) => self.mideleg & i.mask() != 0,
        };
        if delegated && self.priv_level <= Priv::S {
            Priv::S
        } else {
            Priv::M
        }
    }

    /// Takes a trap: `pc` is the guest virtual address of the trapping
    /// instruction (for an interrupt, of the next instruction to execute),
    /// `tval` the trap value. Returns the pc of the handler.
    ///
    /// For a trap into mode x (section 3.1.6.1 and 4.1.1): `xepc = pc`,
    /// `xcause = cause` (bit 63 for interrupts), `xtval = tval`,
    /// `xPIE = xIE`, `xIE = 0`, `xPP = ` the previous privilege, and the
    /// privilege becomes x. The handler is at `xtvec.BASE`, plus
    /// `4 * code` for interrupts when `xtvec.MODE` is Vectored (3.1.7).
    ///
    /// The caller ends the TB, flushes the TLB if it tags entries by
    /// privilege, and reruns interrupt selection on the next boundary.
    pub fn take_trap(&mut self, cause: Cause, tval: u64, pc: u64) -> u64 {
        let from = self.priv_level;
        let target = self.trap_target(cause);
        let xcause = cause.xcause();
        let tvec = if target == Priv::S {
            self.sepc = pc & !1;
            self.scause = xcause;
            self.stval = tval;
            let mut s = self.mstatus & !(mstatus::SPIE | mstatus::SIE | mstatus::SPP);
            if self.mstatus & mstatus::SIE != 0 {
                s |= mstatus::SPIE;
            }
            if from == Priv::S {
                s |= mstatus::SPP;
            }
            self.mstatus = s;
            self.stvec
        } else {
            self.mepc = pc & !1;
            self.mcause = xcause;
            self.mtval = tval;
            let mut m = self.mstatus & !(mstatus::MPIE | mstatus::MIE | mstatus::MPP);
            if self.mstatus & mstatus::MIE != 0 {
                m |= mstatus::MPIE;
            }
            m |= from.bits() << mstatus::MPP_SHIFT;
            self.mstatus = m;
            self.mtvec
        };
        self.priv_level = target;
        let base = tvec & !3;
        match cause {
            Cause::Interrupt(i) if tvec & 3 == 1 => base.wrapping_add(4 * i.code()),
            _ => base,
        }
    }

    /// Takes the synchronous trap `trap` (see [`PrivState::take_trap`]).
    pub fn take_exception(&mut self, trap: Trap) -> u64 {
        self.take_trap(Cause::Exception(trap.cause), trap.tval, trap.pc)
    }

    /// The cause of `ecall` in the current privilege: environment call from
    /// U, S or M (section 3.3.1).
    pub const fn ecall_cause(&self) -> Exception {
        match self.priv_level {
            Priv::U => Exception::EcallFromU,
            Priv::S => Exception::EcallFromS,
            Priv::M => Exception::EcallFromM,
        }
    }

    /// Executes `mret` (section 3.3.2): privilege becomes MPP, MIE = MPIE,
    /// MPIE = 1, MPP = U (the least-privileged mode), MPRV = 0 when the new
    /// privilege is below M; continues at `mepc`.
    ///
    /// # Errors
    ///
    /// Illegal instruction when executed below M; nothing changes then.
    pub fn mret(&mut self) -> Result<Return, Exception> {
        if self.priv_level != Priv::M {
            return Err(Exception::IllegalInstruction);
        }
        let s = self.mstatus;
        // MPP never holds 2 (write_mstatus keeps it legal).
        let to = Priv::from_bits(s >> mstatus::MPP_SHIFT).unwrap_or(Priv::U);
        let mut n = s & !(mstatus::MIE | mstatus::MPP);
        if s & mstatus::MPIE != 0 {
            n |= mstatus::MIE;
        }
        n |= mstatus::MPIE;
        if to != Priv::M {
            n &= !mstatus::MPRV;
        }
        self.mstatus = n;
        self.priv_level = to;
        Ok(Return {
            pc: self.mepc,
            effect: PRIV_CHANGE,
        })
    }

    /// Executes `sret` (sections 3.3.2 and 4.1.1): privilege becomes SPP,
    /// SIE = SPIE, SPIE = 1, SPP = U, and MPRV = 0 (the new privilege is
    /// always below M); continues at `sepc`.
    ///
    /// # Errors
    ///
    /// Illegal instruction in U-mode, or in S-mode when `mstatus.TSR` is
    /// set (section 3.1.6.5); nothing changes then.
    pub fn sret(&mut self) -> Result<Return, Exception> {
        match self.priv_level {
            Priv::U => return Err(Exception::IllegalInstruction),
            Priv::S if self.mstatus & mstatus::TSR != 0 => {
                return Err(Exception::IllegalInstruction)
            }
            _ => {}
        }
        let s = self.mstatus;
        let to = if s & mstatus::SPP != 0 {
            Priv::S
        } else {
            Priv::U
        };
        let mut n = s & !(mstatus::SIE | mstatus::SPP | mstatus::MPRV);
        if s & mstatus::SPIE != 0 {
            n |= mstatus::SIE;
        }
        n |= mstatus::SPIE;
        self.mstatus = n;
        self.priv_level = to;
        Ok(Return {
            pc: self.sepc,
            effect: PRIV_CHANGE,
        })
    }

    /// Checks that `wfi` may execute now (section 3.1.6.5): in M always;
    /// in S unless `mstatus.TW` is set; never in U (S-mode exists, and this
    /// hart's "implementation-specific bounded time" is zero). When legal
    /// the caller sleeps until [`PrivState::wfi_wakeup`] holds.
    ///
    /// # Errors
    ///
    /// Illegal instruction when not allowed.
    pub const fn wfi_legal(&self) -> Result<(), Exception> {
        match self.priv_level {
            Priv::M => Ok(()),
            Priv::S if self.mstatus & mstatus::TW == 0 => Ok(()),
            _ => Err(Exception::IllegalInstruction),
        }
    }

    /// Whether a hart in `wfi` wakes: some interrupt is pending and enabled
    /// in `mie`, whatever `mstatus.xIE` and delegation say (section 3.3.3).
    pub fn wfi_wakeup(&self, time: u64) -> bool {
        self.mip_at(time) & self.mie != 0
    }

    /// Checks that `sfence.vma` may execute now (sections 3.1.6.5 and
    /// 4.2.1): illegal in U, and in S when `mstatus.TVM` is set.
    ///
    /// # Errors
    ///
    /// Illegal instruction when not allowed.
    pub const fn sfence_vma_legal(&self) -> Result<(), Exception> {
        match self.priv_level {
            Priv::M => Ok(()),
            Priv::S if self.mstatus & mstatus::TVM == 0 => Ok(()),
            _ => Err(Exception::IllegalInstruction),
        }
    }

    /// The interrupt to take now, if any, at time `time` (ticks, for
    /// Sstc's STIP), following section 3.1.9:
    ///
    /// * an interrupt is a candidate when pending in `mip` and enabled in
    ///   `mie`;
    /// * one not delegated in `mideleg` goes to M and is taken when the
    ///   privilege is below M, or in M with `mstatus.MIE` set;
    /// * one delegated goes to S and is taken when the privilege is U, or S
    ///   with `mstatus.SIE` set; never in M;
    /// * interrupts for M come before those for S, and within a mode the
    ///   order is MEI, MSI, MTI, SEI, SSI, STI.
    pub fn pending_interrupt(&self, time: u64) -> Option<Interrupt> {
        let pending = self.mip_at(time) & self.mie & irq::ALL;
        if pending == 0 {
            return None;
        }
        let p = self.priv_level;
        let m_enabled = p < Priv::M || self.mstatus & mstatus::MIE != 0;
        let s_enabled = p < Priv::S || (p == Priv::S && self.mstatus & mstatus::SIE != 0);
        let mut take = 0;
        if m_enabled {
            take |= pending & !self.mideleg;
        }
        if take == 0 && s_enabled {
            take |= pending & self.mideleg;
        }
        Interrupt::PRIORITY
            .into_iter()
            .find(|i| take & i.mask() != 0)
    }
}
