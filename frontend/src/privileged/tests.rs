//! Tests of the privileged rules, with expected values from the Privileged
//! ISA 1.12 (section numbers in each test) and Sstc.

use super::trap::{Cause, CAUSE_INTERRUPT};
use super::*;
use crate::exception::Trap;

fn hart() -> PrivState {
    PrivState::new(0)
}

/// A hart in `p` with everything else at reset.
fn hart_in(p: Priv) -> PrivState {
    let mut h = hart();
    h.priv_level = p;
    h
}

fn w(h: &mut PrivState, csr: u16, v: u64) -> CsrEffect {
    h.csr_write(csr, v, Priv::M).expect("M-mode write")
}

fn r(h: &PrivState, csr: u16) -> u64 {
    h.csr_read(csr, Priv::M).expect("M-mode read")
}

// ---- 2.1: CSR address privilege and read-only bits ----

#[test]
fn csr_privilege_from_address_bits() {
    let h = hart();
    // mstatus (0x300) is M-level: illegal from S and U.
    assert_eq!(
        h.csr_read(csr::MSTATUS, Priv::S),
        Err(CsrError::Privilege {
            csr: csr::MSTATUS,
            from: Priv::S
        })
    );
    assert!(h.csr_read(csr::MSTATUS, Priv::U).is_err());
    // sstatus (0x100) is S-level: legal from S and M, not U.
    assert!(h.csr_read(csr::SSTATUS, Priv::S).is_ok());
    assert!(h.csr_read(csr::SSTATUS, Priv::M).is_ok());
    assert!(h.csr_read(csr::SSTATUS, Priv::U).is_err());
    // Hypervisor-level (bits 9:8 = 2) CSRs do not exist here.
    assert_eq!(
        h.csr_read(0x600, Priv::M),
        Err(CsrError::Unimplemented(0x600))
    );
}

#[test]
fn read_only_csrs_reject_writes() {
    let mut h = hart();
    for c in [
        csr::MHARTID,
        csr::MVENDORID,
        csr::MARCHID,
        csr::MIMPID,
        csr::MCONFIGPTR,
        csr::CYCLE,
        csr::TIME,
        csr::INSTRET,
    ] {
        assert_eq!(h.csr_write(c, 1, Priv::M), Err(CsrError::ReadOnly(c)));
    }
    h.mhartid = 5;
    assert_eq!(r(&h, csr::MHARTID), 5);
    for c in [csr::MVENDORID, csr::MARCHID, csr::MIMPID, csr::MCONFIGPTR] {
        assert_eq!(r(&h, c), 0);
    }
}

#[test]
fn unknown_csrs_are_illegal() {
    let mut h = hart();
    // mstatush and odd pmpcfg registers are RV32-only; 0xb01 does not exist.
    for c in [0x310, 0x3a1, 0x3af, 0xb01, 0x7c0, 0x5a8] {
        assert!(h.csr_read(c, Priv::M).is_err(), "{c:#x}");
        assert!(h.csr_write(c, 0, Priv::M).is_err(), "{c:#x}");
    }
    assert_eq!(
        CsrError::Unimplemented(0x310).exception(),
        Exception::IllegalInstruction
    );
}

#[test]
fn csr_rmw_follows_zicsr() {
    let mut h = hart();
    w(&mut h, csr::MSCRATCH, 0xf0);
    assert_eq!(
        h.csr_rmw(csr::MSCRATCH, CsrMode::Set, 0x0f, Priv::M)
            .unwrap()
            .0,
        0xf0
    );
    assert_eq!(r(&h, csr::MSCRATCH), 0xff);
    assert_eq!(
        h.csr_rmw(csr::MSCRATCH, CsrMode::Clear, 0x3, Priv::M)
            .unwrap()
            .0,
        0xff
    );
    assert_eq!(r(&h, csr::MSCRATCH), 0xfc);
    assert_eq!(
        h.csr_rmw(csr::MSCRATCH, CsrMode::Write, 7, Priv::M)
            .unwrap()
            .0,
        0xfc
    );
    assert_eq!(r(&h, csr::MSCRATCH), 7);
    // Reading a read-only CSR without writing is legal; writing is not.
    assert_eq!(
        h.csr_rmw(csr::MHARTID, CsrMode::Read, 0, Priv::M),
        Ok((0, CsrEffect::NONE))
    );
    assert!(h.csr_rmw(csr::MHARTID, CsrMode::Set, 1, Priv::M).is_err());
}

// ---- 3.1.1 misa ----

#[test]
fn misa_is_rv64_imafdcsu_and_read_only() {
    let mut h = hart();
    let misa = r(&h, csr::MISA);
    assert_eq!(misa >> 62, 2);
    for ext in "IMAFDCSU".bytes() {
        assert_ne!(misa & (1 << (ext - b'A')), 0, "{}", ext as char);
    }
    for ext in "BEGHJKLNOPQRTVWXYZ".bytes() {
        assert_eq!(misa & (1 << (ext - b'A')), 0, "{}", ext as char);
    }
    assert_eq!(w(&mut h, csr::MISA, 0), CsrEffect::NONE);
    assert_eq!(r(&h, csr::MISA), misa);
}

// ---- 3.1.6 mstatus, 4.1.1 sstatus ----

#[test]
fn mstatus_reset_and_read_only_fields() {
    let mut h = hart();
    assert_eq!(r(&h, csr::MSTATUS), (2 << 32) | (2 << 34));
    w(&mut h, csr::MSTATUS, !0);
    let m = r(&h, csr::MSTATUS);
    // UXL and SXL stay 2; VS, XS, UBE, SBE, MBE stay 0.
    assert_eq!((m >> 32) & 3, 2);
    assert_eq!((m >> 34) & 3, 2);
    assert_eq!(
        m & (mstatus::VS | mstatus::XS | mstatus::UBE | mstatus::SBE | mstatus::MBE),
        0
    );
    // Every writable field took the value, and SD summarises FS = Dirty.
    assert_eq!(m & mstatus::WRITABLE, mstatus::WRITABLE);
    assert_ne!(m & mstatus::SD, 0);
    // Bits with no field at all stay zero.
    assert_eq!(
        m & !(mstatus::WRITABLE | mstatus::UXL | mstatus::SXL | mstatus::SD),
        0
    );
}

#[test]
fn mstatus_sd_follows_fs() {
    let mut h = hart();
    for fs in 0..4u64 {
        w(&mut h, csr::MSTATUS, fs << mstatus::FS_SHIFT);
        assert_eq!(h.fs(), fs);
        assert_eq!(r(&h, csr::MSTATUS) & mstatus::SD != 0, fs == 3);
        assert_eq!(
            h.csr_read(csr::SSTATUS, Priv::S).unwrap() & mstatus::SD != 0,
            fs == 3
        );
        assert_eq!(h.fp_enabled(), fs != 0);
    }
    // Writing SD directly has no effect.
    w(&mut h, csr::MSTATUS, mstatus::SD);
    assert_eq!(r(&h, csr::MSTATUS) & mstatus::SD, 0);
    assert!(h.mark_fs_dirty());
    assert!(!h.mark_fs_dirty());
    assert_ne!(r(&h, csr::MSTATUS) & mstatus::SD, 0);
}

#[test]
fn mstatus_mpp_is_warl() {
    let mut h = hart();
    for p in [Priv::U, Priv::S, Priv::M] {
        w(&mut h, csr::MSTATUS, p.bits() << mstatus::MPP_SHIFT);
        assert_eq!(
            (r(&h, csr::MSTATUS) & mstatus::MPP) >> mstatus::MPP_SHIFT,
            p.bits()
        );
    }
    // The reserved encoding 2 keeps the previous MPP (M here).
    w(&mut h, csr::MSTATUS, 2 << mstatus::MPP_SHIFT | mstatus::SUM);
    let m = r(&h, csr::MSTATUS);
    assert_eq!((m & mstatus::MPP) >> mstatus::MPP_SHIFT, 3);
    assert_ne!(m & mstatus::SUM, 0, "the rest of the write still happens");
}

#[test]
fn sstatus_is_a_view_of_mstatus() {
    let mut h = hart_in(Priv::S);
    h.mstatus |= mstatus::MIE | mstatus::MPIE | mstatus::TVM | mstatus::MPP;
    let s = h.csr_read(csr::SSTATUS, Priv::S).unwrap();
    assert_eq!(
        s & (mstatus::MIE | mstatus::MPIE | mstatus::TVM | mstatus::MPP),
        0
    );
    assert_eq!(s & mstatus::UXL, 2 << 32, "UXL is visible in sstatus");
    assert_eq!(s & mstatus::SXL, 0, "SXL is not");
    // Writes through sstatus change only its writable bits.
    h.csr_write(csr::SSTATUS, !0, Priv::S).unwrap();
    let m = h.mstatus();
    assert_eq!(m & mstatus::SSTATUS_WRITABLE, mstatus::SSTATUS_WRITABLE);
    assert_ne!(m & mstatus::MIE, 0, "M bits keep their value");
    assert_ne!(m & mstatus::TVM, 0);
    h.csr_write(csr::SSTATUS, 0, Priv::S).unwrap();
    let m = h.mstatus();
    assert_eq!(m & mstatus::SSTATUS_WRITABLE, 0);
    assert_eq!(
        m & (mstatus::MIE | mstatus::MPIE | mstatus::TVM | mstatus::MPP),
        mstatus::MIE | mstatus::MPIE | mstatus::TVM | mstatus::MPP
    );
}

#[test]
fn mstatus_effects() {
    let mut h = hart();
    let e = w(&mut h, csr::MSTATUS, mstatus::SUM);
    assert!(e.flush_tlb && e.end_tb && !e.check_interrupts);
    // Same value again: nothing changed.
    assert_eq!(w(&mut h, csr::MSTATUS, mstatus::SUM), CsrEffect::NONE);
    let e = w(&mut h, csr::MSTATUS, mstatus::SUM | mstatus::FS);
    assert!(!e.flush_tlb && e.end_tb);
    let e = w(
        &mut h,
        csr::MSTATUS,
        mstatus::SUM | mstatus::FS | mstatus::MIE,
    );
    assert_eq!(e, CsrEffect::INTERRUPTS);
    // MPP matters for translation only while MPRV is set.
    let e = w(
        &mut h,
        csr::MSTATUS,
        mstatus::SUM | mstatus::FS | mstatus::MIE | (1 << 11),
    );
    assert!(!e.flush_tlb);
    w(&mut h, csr::MSTATUS, mstatus::MPRV | (1 << 11));
    let e = w(&mut h, csr::MSTATUS, mstatus::MPRV);
    assert!(e.flush_tlb && e.end_tb);
    let e = w(&mut h, csr::MSTATUS, mstatus::MPRV | mstatus::TW);
    assert!(!e.flush_tlb && e.end_tb);
}

#[test]
fn mprv_selects_data_privilege() {
    let mut h = hart();
    w(
        &mut h,
        csr::MSTATUS,
        mstatus::MPRV | (1 << mstatus::MPP_SHIFT),
    );
    assert_eq!(h.data_priv(), Priv::S);
    w(&mut h, csr::MSTATUS, 1 << mstatus::MPP_SHIFT);
    assert_eq!(h.data_priv(), Priv::M);
    // MPRV is ignored outside M (3.1.6.3).
    h.mstatus |= mstatus::MPRV;
    h.priv_level = Priv::U;
    assert_eq!(h.data_priv(), Priv::U);
}

// ---- 3.1.7 mtvec, 4.1.2 stvec ----

#[test]
fn tvec_modes() {
    let mut h = hart();
    w(&mut h, csr::MTVEC, 0x8000_0101);
    assert_eq!(r(&h, csr::MTVEC), 0x8000_0101);
    w(&mut h, csr::MTVEC, 0x8000_0200);
    assert_eq!(r(&h, csr::MTVEC), 0x8000_0200);
    // MODE 2 and 3 are reserved: the write is ignored.
    w(&mut h, csr::MTVEC, 0x9000_0002);
    assert_eq!(r(&h, csr::MTVEC), 0x8000_0200);
    w(&mut h, csr::MTVEC, 0x9000_0003);
    assert_eq!(r(&h, csr::MTVEC), 0x8000_0200);
    h.csr_write(csr::STVEC, 0xffff_ffff_8000_0001, Priv::S)
        .unwrap();
    assert_eq!(h.csr_read(csr::STVEC, Priv::S), Ok(0xffff_ffff_8000_0001));
    h.csr_write(csr::STVEC, 2, Priv::S).unwrap();
    assert_eq!(h.stvec, 0xffff_ffff_8000_0001);
}

// ---- 3.1.8 medeleg / mideleg ----

#[test]
fn delegation_registers_are_warl() {
    let mut h = hart();
    w(&mut h, csr::MEDELEG, !0);
    let m = r(&h, csr::MEDELEG);
    assert_eq!(m & (1 << 11), 0, "ecall from M cannot be delegated");
    for code in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15] {
        assert_ne!(m & (1 << code), 0, "code {code}");
    }
    assert_eq!(m & !0xffff, 0);
    w(&mut h, csr::MIDELEG, !0);
    assert_eq!(r(&h, csr::MIDELEG), irq::SSIP | irq::STIP | irq::SEIP);
}

// ---- 3.1.9 mip / mie, 4.1.3 sip / sie ----

#[test]
fn mie_writable_bits() {
    let mut h = hart();
    assert_eq!(w(&mut h, csr::MIE, !0), CsrEffect::INTERRUPTS);
    assert_eq!(r(&h, csr::MIE), 0xaaa);
}

#[test]
fn mip_writable_bits_without_sstc() {
    let mut h = hart();
    w(&mut h, csr::MIP, !0);
    // SSIP, STIP and (software) SEIP are writable; MSIP, MTIP, MEIP are not.
    assert_eq!(r(&h, csr::MIP), irq::SSIP | irq::STIP | irq::SEIP);
    w(&mut h, csr::MIP, 0);
    assert_eq!(r(&h, csr::MIP), 0);
}

#[test]
fn mip_seip_is_or_of_software_and_line() {
    let mut h = hart();
    assert_eq!(
        h.set_interrupt_line(Interrupt::SupervisorExternal, true),
        CsrEffect::INTERRUPTS
    );
    assert_eq!(r(&h, csr::MIP), irq::SEIP);
    // Clearing the software bit does not lower the external line.
    w(&mut h, csr::MIP, 0);
    assert_eq!(r(&h, csr::MIP), irq::SEIP);
    h.set_interrupt_line(Interrupt::SupervisorExternal, false);
    assert_eq!(r(&h, csr::MIP), 0);
    w(&mut h, csr::MIP, irq::SEIP);
    assert_eq!(r(&h, csr::MIP), irq::SEIP);
}

/// Section 3.1.9: "Only the software-writable SEIP bit participates in
/// the read-modify-write sequence" of csrrs/csrrc on mip. OpenSBI sets
/// SSIP with `csrs mip` while the PLIC may hold SEIP up; the line must
/// not be latched into the software bit.
#[test]
fn mip_read_modify_write_leaves_out_the_seip_line() {
    let mut h = hart();
    h.set_interrupt_line(Interrupt::SupervisorExternal, true);
    let (old, _) = h
        .csr_rmw(csr::MIP, CsrMode::Set, irq::SSIP, Priv::M)
        .expect("csrs mip");
    assert_eq!(old, irq::SEIP, "rd reads the line");
    assert_eq!(r(&h, csr::MIP), irq::SSIP | irq::SEIP);
    h.set_interrupt_line(Interrupt::SupervisorExternal, false);
    assert_eq!(r(&h, csr::MIP), irq::SSIP, "SEIP went down with the line");
    h.set_interrupt_line(Interrupt::SupervisorExternal, true);
    h.csr_rmw(csr::MIP, CsrMode::Clear, irq::SSIP, Priv::M)
        .expect("csrc mip");
    h.set_interrupt_line(Interrupt::SupervisorExternal, false);
    assert_eq!(r(&h, csr::MIP), 0);
    // The software bit itself still takes part.
    h.csr_rmw(csr::MIP, CsrMode::Set, irq::SEIP, Priv::M)
        .expect("csrs mip, SEIP");
    h.csr_rmw(csr::MIP, CsrMode::Set, irq::SSIP, Priv::M)
        .expect("csrs mip, SSIP");
    assert_eq!(r(&h, csr::MIP), irq::SSIP | irq::SEIP);
}

#[test]
fn mip_device_lines() {
    let mut h = hart();
    h.set_interrupt_line(Interrupt::MachineTimer, true);
    h.set_interrupt_line(Interrupt::MachineSoftware, true);
    h.set_interrupt_line(Interrupt::MachineExternal, true);
    assert_eq!(r(&h, csr::MIP), irq::M_LEVEL);
    // Software cannot clear them.
    w(&mut h, csr::MIP, 0);
    assert_eq!(r(&h, csr::MIP), irq::M_LEVEL);
    // Raising a line that is already up has no effect to report.
    assert_eq!(
        h.set_interrupt_line(Interrupt::MachineTimer, true),
        CsrEffect::NONE
    );
    h.set_interrupt_line(Interrupt::MachineTimer, false);
    assert_eq!(r(&h, csr::MIP), irq::MSIP | irq::MEIP);
}

#[test]
fn sip_sie_views_follow_mideleg() {
    let mut h = hart_in(Priv::S);
    h.mip = irq::ALL;
    h.mie = irq::ALL;
    // Nothing delegated: S sees nothing.
    assert_eq!(h.csr_read(csr::SIP, Priv::S), Ok(0));
    assert_eq!(h.csr_read(csr::SIE, Priv::S), Ok(0));
    h.csr_write(csr::SIE, 0, Priv::S).unwrap();
    assert_eq!(h.mie, irq::ALL, "undelegated bits are not writable via sie");
    h.mideleg = irq::SSIP | irq::STIP;
    assert_eq!(h.csr_read(csr::SIP, Priv::S), Ok(irq::SSIP | irq::STIP));
    assert_eq!(h.csr_read(csr::SIE, Priv::S), Ok(irq::SSIP | irq::STIP));
    h.csr_write(csr::SIE, 0, Priv::S).unwrap();
    assert_eq!(h.mie, irq::ALL & !(irq::SSIP | irq::STIP));
    h.csr_write(csr::SIE, !0, Priv::S).unwrap();
    assert_eq!(h.mie, irq::ALL);
    // Through sip only SSIP is writable.
    h.csr_write(csr::SIP, 0, Priv::S).unwrap();
    assert_eq!(h.mip, irq::ALL & !irq::SSIP);
    h.csr_write(csr::SIP, !0, Priv::S).unwrap();
    assert_eq!(h.mip, irq::ALL);
}

// ---- Sstc: stimecmp and menvcfg.STCE ----

#[test]
fn sstc_drives_stip() {
    let mut h = hart();
    w(&mut h, csr::MENVCFG, envcfg::STCE);
    w(&mut h, csr::STIMECMP, 100);
    h.time = 99;
    assert_eq!(r(&h, csr::MIP) & irq::STIP, 0);
    h.time = 100;
    assert_eq!(r(&h, csr::MIP) & irq::STIP, irq::STIP);
    // STIP is read-only with STCE set.
    w(&mut h, csr::MIP, 0);
    assert_eq!(r(&h, csr::MIP) & irq::STIP, irq::STIP);
    h.time = 0;
    w(&mut h, csr::MIP, irq::STIP);
    assert_eq!(r(&h, csr::MIP) & irq::STIP, 0);
    assert_eq!(h.mip_at(100) & irq::STIP, irq::STIP);
}

#[test]
fn stimecmp_access_rules() {
    let mut h = hart_in(Priv::S);
    assert_eq!(h.csr_read(csr::STIMECMP, Priv::M), Ok(0), "M always may");
    assert_eq!(
        h.csr_read(csr::STIMECMP, Priv::S),
        Err(CsrError::Disabled(csr::STIMECMP))
    );
    h.menvcfg = envcfg::STCE;
    assert!(
        h.csr_read(csr::STIMECMP, Priv::S).is_err(),
        "needs mcounteren.TM too"
    );
    h.mcounteren = 2;
    h.csr_write(csr::STIMECMP, 5, Priv::S).unwrap();
    assert_eq!(h.csr_read(csr::STIMECMP, Priv::S), Ok(5));
    h.menvcfg = 0;
    assert!(h.csr_write(csr::STIMECMP, 6, Priv::S).is_err());
    assert_eq!(h.stimecmp, 5);
}

#[test]
fn envcfg_writable_bits() {
    let mut h = hart();
    w(&mut h, csr::MENVCFG, !0);
    assert_eq!(r(&h, csr::MENVCFG), envcfg::STCE | envcfg::FIOM);
    w(&mut h, csr::SENVCFG, !0);
    assert_eq!(r(&h, csr::SENVCFG), envcfg::FIOM);
}

// ---- 4.1.11 satp, TVM ----

#[test]
fn satp_modes() {
    let mut h = hart();
    let sv39 = (8 << 60) | (3 << 44) | 0x8_0000;
    let e = w(&mut h, csr::SATP, sv39);
    assert!(e.flush_tlb && e.end_tb);
    assert_eq!(r(&h, csr::SATP), sv39);
    for mode in [9u64, 10, 0] {
        w(&mut h, csr::SATP, mode << 60 | 0x1234);
        assert_eq!(r(&h, csr::SATP), mode << 60 | 0x1234);
    }
    // Unsupported modes (Sv64 = 11, reserved 1-7, 12-15): no effect at all.
    w(&mut h, csr::SATP, sv39);
    for mode in [1u64, 7, 11, 15] {
        assert_eq!(w(&mut h, csr::SATP, mode << 60 | 0x55), CsrEffect::NONE);
        assert_eq!(r(&h, csr::SATP), sv39);
    }
}

#[test]
fn tvm_traps_satp_in_s_only() {
    let mut h = hart_in(Priv::S);
    assert!(h.csr_write(csr::SATP, 8 << 60, Priv::S).is_ok());
    h.mstatus |= mstatus::TVM;
    assert_eq!(
        h.csr_read(csr::SATP, Priv::S),
        Err(CsrError::Disabled(csr::SATP))
    );
    assert!(h.csr_write(csr::SATP, 0, Priv::S).is_err());
    assert_eq!(h.satp, 8 << 60);
    assert_eq!(h.sfence_vma_legal(), Err(Exception::IllegalInstruction));
    // M is not affected by TVM.
    assert!(h.csr_write(csr::SATP, 0, Priv::M).is_ok());
    h.priv_level = Priv::M;
    assert_eq!(h.sfence_vma_legal(), Ok(()));
    // U never may.
    h.mstatus = mstatus::RESET;
    h.priv_level = Priv::U;
    assert!(h.csr_read(csr::SATP, Priv::U).is_err());
    assert_eq!(h.sfence_vma_legal(), Err(Exception::IllegalInstruction));
    h.priv_level = Priv::S;
    assert_eq!(h.sfence_vma_legal(), Ok(()));
}

// ---- 3.1.11 / 4.1.5 counter enables, 3.1.13 mcountinhibit ----

#[test]
fn counter_enables() {
    let mut h = hart();
    h.mcycle = 11;
    h.time = 22;
    h.minstret = 33;
    let counters = [
        (csr::CYCLE, 11),
        (csr::TIME, 22),
        (csr::INSTRET, 33),
        (csr::HPMCOUNTER3, 0),
    ];
    for (c, v) in counters {
        assert_eq!(h.csr_read(c, Priv::M), Ok(v));
        assert_eq!(h.csr_read(c, Priv::S), Err(CsrError::Disabled(c)));
        assert_eq!(h.csr_read(c, Priv::U), Err(CsrError::Disabled(c)));
    }
    // mcounteren opens S; U also needs scounteren.
    w(&mut h, csr::MCOUNTEREN, 0b1_0101);
    assert_eq!(h.csr_read(csr::CYCLE, Priv::S), Ok(11));
    assert!(h.csr_read(csr::TIME, Priv::S).is_err());
    assert_eq!(h.csr_read(csr::INSTRET, Priv::S), Ok(33));
    assert!(h.csr_read(csr::CYCLE, Priv::U).is_err());
    h.csr_write(csr::SCOUNTEREN, 0b111, Priv::S).unwrap();
    assert_eq!(h.csr_read(csr::CYCLE, Priv::U), Ok(11));
    assert!(
        h.csr_read(csr::TIME, Priv::U).is_err(),
        "mcounteren.TM clear"
    );
    assert_eq!(h.csr_read(csr::INSTRET, Priv::U), Ok(33));
    assert!(h.csr_read(0xc04, Priv::U).is_err(), "scounteren.HPM4 clear");
    assert_eq!(h.csr_read(0xc04, Priv::S), Ok(0));
    // 32-bit registers.
    w(&mut h, csr::MCOUNTEREN, !0);
    assert_eq!(r(&h, csr::MCOUNTEREN), 0xffff_ffff);
}

#[test]
fn machine_counters_and_inhibit() {
    let mut h = hart();
    w(&mut h, csr::MCYCLE, 1000);
    w(&mut h, csr::MINSTRET, 2000);
    assert_eq!((h.mcycle, h.minstret), (1000, 2000));
    w(&mut h, csr::MHPMCOUNTER3, 5);
    assert_eq!(r(&h, csr::MHPMCOUNTER3), 0);
    w(&mut h, csr::MHPMEVENT31, 5);
    assert_eq!(r(&h, csr::MHPMEVENT31), 0);
    w(&mut h, csr::MCOUNTINHIBIT, !0);
    assert_eq!(
        r(&h, csr::MCOUNTINHIBIT),
        0xffff_fffd,
        "TM bit is read-only zero"
    );
    assert!(h.csr_read(csr::MCYCLE, Priv::S).is_err());
}

// ---- 3.1.14 epc, scratch, cause, tval ----

#[test]
fn epc_bit0_is_zero() {
    let mut h = hart();
    w(&mut h, csr::MEPC, 0x8000_0003);
    assert_eq!(r(&h, csr::MEPC), 0x8000_0002);
    h.csr_write(csr::SEPC, 0x1001, Priv::S).unwrap();
    assert_eq!(h.csr_read(csr::SEPC, Priv::S), Ok(0x1000));
    for c in [
        csr::MSCRATCH,
        csr::MCAUSE,
        csr::MTVAL,
        csr::SSCRATCH,
        csr::SCAUSE,
        csr::STVAL,
    ] {
        w(&mut h, c, 0xdead_beef_0000_0001);
        assert_eq!(r(&h, c), 0xdead_beef_0000_0001, "{c:#x}");
    }
}

// ---- 3.7 PMP ----

#[test]
fn pmp_storage_and_lock() {
    let mut h = hart();
    w(&mut h, csr::PMPADDR0, !0);
    assert_eq!(r(&h, csr::PMPADDR0), (1 << 54) - 1);
    w(&mut h, csr::PMPADDR63, 0x1234);
    assert_eq!(r(&h, csr::PMPADDR63), 0x1234);
    // Reserved bits 6:5 of each byte read zero.
    w(&mut h, csr::PMPCFG0 + 14, !0);
    assert_eq!(r(&h, csr::PMPCFG0 + 14), 0x9f9f_9f9f_9f9f_9f9f);
    // Entry 1 locked with TOR: its cfg byte, pmpaddr1 and pmpaddr0 are frozen.
    w(&mut h, csr::PMPCFG0, 0x8f00 | 0x1f);
    w(&mut h, csr::PMPCFG0, 0);
    assert_eq!(r(&h, csr::PMPCFG0), 0x8f00, "locked byte keeps its value");
    w(&mut h, csr::PMPADDR0 + 1, 0x55);
    assert_eq!(h.pmpaddr[1], 0);
    w(&mut h, csr::PMPADDR0, 0x66);
    assert_eq!(h.pmpaddr[0], (1 << 54) - 1, "TOR base of a locked entry");
    w(&mut h, csr::PMPADDR0 + 2, 0x77);
    assert_eq!(h.pmpaddr[2], 0x77);
}

// ---- 3.1.8 + 3.1.6.1: trap entry and delegation ----

#[test]
fn exception_from_u_not_delegated_goes_to_m() {
    let mut h = hart_in(Priv::U);
    h.mtvec = 0x8000_0000;
    h.mstatus |= mstatus::MIE;
    let pc = h.take_trap(Exception::EcallFromU.into(), 0, 0x1000);
    assert_eq!(pc, 0x8000_0000);
    assert_eq!(h.priv_level, Priv::M);
    assert_eq!((h.mepc, h.mcause, h.mtval), (0x1000, 8, 0));
    let m = h.mstatus;
    assert_eq!(m & mstatus::MIE, 0);
    assert_ne!(m & mstatus::MPIE, 0);
    assert_eq!((m & mstatus::MPP) >> mstatus::MPP_SHIFT, 0);
}

#[test]
fn exception_from_u_delegated_goes_to_s() {
    let mut h = hart_in(Priv::U);
    h.medeleg = 1 << 13;
    h.stvec = 0xffff_ffff_8000_0100;
    h.mtvec = 0x8000_0000;
    h.mstatus |= mstatus::SIE | mstatus::SPP;
    let pc = h.take_exception(Trap {
        cause: Exception::LoadPageFault,
        tval: 0xdead_b000,
        pc: 0x4000,
    });
    assert_eq!(pc, 0xffff_ffff_8000_0100);
    assert_eq!(h.priv_level, Priv::S);
    assert_eq!((h.sepc, h.scause, h.stval), (0x4000, 13, 0xdead_b000));
    assert_eq!((h.mepc, h.mcause, h.mtval), (0, 0, 0), "M CSRs untouched");
    let s = h.mstatus;
    assert_eq!(s & mstatus::SIE, 0);
    assert_ne!(s & mstatus::SPIE, 0);
    assert_eq!(s & mstatus::SPP, 0, "came from U");
}

#[test]
fn exception_from_s_delegated_sets_spp() {
    let mut h = hart_in(Priv::S);
    h.medeleg = 1 << 2;
    h.take_trap(Exception::IllegalInstruction.into(), 0x13, 0x2000);
    assert_eq!(h.priv_level, Priv::S);
    assert_ne!(h.mstatus & mstatus::SPP, 0);
    assert_eq!(h.mstatus & mstatus::SPIE, 0, "SIE was 0");
    assert_eq!(h.stval, 0x13);
}

#[test]
fn ecall_from_s_not_delegated_goes_to_m_with_mpp_s() {
    let mut h = hart_in(Priv::S);
    assert_eq!(h.ecall_cause(), Exception::EcallFromS);
    h.take_trap(h.ecall_cause().into(), 0, 0x2000);
    assert_eq!(h.priv_level, Priv::M);
    assert_eq!(h.mcause, 9);
    assert_eq!((h.mstatus & mstatus::MPP) >> mstatus::MPP_SHIFT, 1);
    assert_eq!(h.mstatus & mstatus::MPIE, 0);
}

#[test]
fn traps_in_m_never_go_to_s() {
    let mut h = hart();
    h.medeleg = MEDELEG_WRITABLE;
    h.mideleg = irq::S_LEVEL;
    assert_eq!(h.trap_target(Exception::Breakpoint.into()), Priv::M);
    assert_eq!(h.trap_target(Interrupt::SupervisorTimer.into()), Priv::M);
    h.take_trap(Exception::Breakpoint.into(), 0x3000, 0x3000);
    assert_eq!(h.priv_level, Priv::M);
    assert_eq!(h.mcause, 3);
    assert_eq!((h.mstatus & mstatus::MPP) >> mstatus::MPP_SHIFT, 3);
    assert_eq!(h.ecall_cause(), Exception::EcallFromM);
}

#[test]
fn interrupt_delegation_and_cause_bit() {
    let mut h = hart_in(Priv::U);
    h.mideleg = irq::STIP;
    h.stvec = 0x100;
    h.mtvec = 0x200;
    let pc = h.take_trap(Interrupt::SupervisorTimer.into(), 0, 0x5000);
    assert_eq!(pc, 0x100);
    assert_eq!(h.scause, CAUSE_INTERRUPT | 5);
    assert_eq!(h.priv_level, Priv::S);
    let pc = h.take_trap(Interrupt::MachineTimer.into(), 0, 0x6000);
    assert_eq!(pc, 0x200);
    assert_eq!(h.mcause, CAUSE_INTERRUPT | 7);
    assert_eq!(h.mepc, 0x6000);
    assert_eq!((h.mstatus & mstatus::MPP) >> mstatus::MPP_SHIFT, 1);
    assert_eq!(
        Cause::Interrupt(Interrupt::MachineExternal).xcause(),
        (1 << 63) | 11
    );
    assert_eq!(Cause::Exception(Exception::StorePageFault).xcause(), 15);
}

#[test]
fn vectored_tvec_only_for_interrupts() {
    let mut h = hart();
    h.mtvec = 0x8000_0001;
    assert_eq!(
        h.take_trap(Interrupt::MachineTimer.into(), 0, 0),
        0x8000_001c
    );
    h.priv_level = Priv::M;
    assert_eq!(
        h.take_trap(Interrupt::MachineExternal.into(), 0, 0),
        0x8000_002c
    );
    assert_eq!(
        h.take_trap(Exception::IllegalInstruction.into(), 0, 0),
        0x8000_0000
    );
    let mut h = hart_in(Priv::U);
    h.mideleg = irq::SSIP;
    h.stvec = 0x1001;
    assert_eq!(
        h.take_trap(Interrupt::SupervisorSoftware.into(), 0, 0),
        0x1004
    );
}

// ---- 3.3.2 xRET ----

#[test]
fn mret_restores() {
    let mut h = hart();
    h.mepc = 0x1234;
    h.mstatus |= mstatus::MPIE | (1 << mstatus::MPP_SHIFT) | mstatus::MPRV;
    let ret = h.mret().unwrap();
    assert_eq!(ret.pc, 0x1234);
    assert!(ret.effect.end_tb && ret.effect.flush_tlb && ret.effect.check_interrupts);
    assert_eq!(h.priv_level, Priv::S);
    let m = h.mstatus;
    assert_ne!(m & mstatus::MIE, 0);
    assert_ne!(m & mstatus::MPIE, 0);
    assert_eq!(m & mstatus::MPP, 0, "MPP = U");
    assert_eq!(m & mstatus::MPRV, 0, "MPRV cleared returning below M");
}

#[test]
fn mret_to_m_keeps_mprv() {
    let mut h = hart();
    h.mstatus |= mstatus::MPP | mstatus::MPRV | mstatus::MIE;
    h.mret().unwrap();
    assert_eq!(h.priv_level, Priv::M);
    assert_ne!(h.mstatus & mstatus::MPRV, 0);
    assert_eq!(h.mstatus & mstatus::MIE, 0, "MPIE was 0");
}

#[test]
fn mret_illegal_below_m() {
    for p in [Priv::S, Priv::U] {
        let mut h = hart_in(p);
        let before = h.clone();
        assert_eq!(h.mret(), Err(Exception::IllegalInstruction));
        assert_eq!(h, before);
    }
}

#[test]
fn sret_restores() {
    let mut h = hart_in(Priv::S);
    h.sepc = 0x8888;
    h.mstatus |= mstatus::SPIE | mstatus::MPRV;
    let ret = h.sret().unwrap();
    assert_eq!(ret.pc, 0x8888);
    assert_eq!(h.priv_level, Priv::U);
    let s = h.mstatus;
    assert_ne!(s & mstatus::SIE, 0);
    assert_ne!(s & mstatus::SPIE, 0);
    assert_eq!(s & (mstatus::SPP | mstatus::MPRV), 0);
    // From M, to S.
    let mut h = hart();
    h.mstatus |= mstatus::SPP | mstatus::SIE;
    h.sret().unwrap();
    assert_eq!(h.priv_level, Priv::S);
    assert_eq!(h.mstatus & mstatus::SIE, 0, "SPIE was 0");
    assert_eq!(h.mstatus & mstatus::SPP, 0);
}

#[test]
fn sret_illegal_in_u_and_with_tsr() {
    let mut h = hart_in(Priv::U);
    assert_eq!(h.sret(), Err(Exception::IllegalInstruction));
    let mut h = hart_in(Priv::S);
    h.mstatus |= mstatus::TSR;
    let before = h.clone();
    assert_eq!(h.sret(), Err(Exception::IllegalInstruction));
    assert_eq!(h, before);
    // TSR does not affect M.
    h.priv_level = Priv::M;
    assert!(h.sret().is_ok());
}

#[test]
fn trap_then_return_round_trip() {
    let mut h = hart_in(Priv::U);
    h.medeleg = 1 << 8;
    h.mstatus |= mstatus::SIE;
    let before = h.mstatus;
    h.stvec = 0x500;
    h.take_trap(Exception::EcallFromU.into(), 0, 0x700);
    let ret = h.sret().unwrap();
    assert_eq!(ret.pc, 0x700);
    assert_eq!(h.priv_level, Priv::U);
    assert_eq!(h.mstatus, before | mstatus::SPIE);
}

// ---- 3.1.6.5 TW, wfi ----

#[test]
fn wfi_legality() {
    let mut h = hart();
    assert_eq!(h.wfi_legal(), Ok(()));
    h.mstatus |= mstatus::TW;
    assert_eq!(h.wfi_legal(), Ok(()), "TW does not affect M");
    h.priv_level = Priv::S;
    assert_eq!(h.wfi_legal(), Err(Exception::IllegalInstruction));
    h.mstatus &= !mstatus::TW;
    assert_eq!(h.wfi_legal(), Ok(()));
    h.priv_level = Priv::U;
    assert_eq!(h.wfi_legal(), Err(Exception::IllegalInstruction));
}

#[test]
fn wfi_wakes_on_enabled_pending_regardless_of_xie() {
    let mut h = hart();
    h.mip = irq::MTIP;
    assert!(!h.wfi_wakeup(0));
    h.mie = irq::MTIP;
    assert!(h.wfi_wakeup(0), "MIE = 0 still wakes");
    assert_eq!(h.pending_interrupt(0), None, "but is not taken");
}

// ---- 3.1.9 interrupt selection ----

#[test]
fn m_interrupts_in_m_need_mie() {
    let mut h = hart();
    h.mip = irq::MTIP;
    h.mie = irq::MTIP;
    assert_eq!(h.pending_interrupt(0), None);
    h.mstatus |= mstatus::MIE;
    assert_eq!(h.pending_interrupt(0), Some(Interrupt::MachineTimer));
    h.mie = 0;
    assert_eq!(h.pending_interrupt(0), None, "mie gates");
}

#[test]
fn m_interrupts_below_m_ignore_mie() {
    for p in [Priv::S, Priv::U] {
        let mut h = hart_in(p);
        h.mip = irq::MEIP;
        h.mie = irq::MEIP;
        assert_eq!(h.pending_interrupt(0), Some(Interrupt::MachineExternal));
    }
}

#[test]
fn undelegated_s_interrupt_goes_to_m() {
    let mut h = hart_in(Priv::S);
    h.mip = irq::STIP;
    h.mie = irq::STIP;
    assert_eq!(h.pending_interrupt(0), Some(Interrupt::SupervisorTimer));
    assert_eq!(h.trap_target(Interrupt::SupervisorTimer.into()), Priv::M);
}

#[test]
fn delegated_interrupts_follow_sie() {
    let mut h = hart_in(Priv::S);
    h.mideleg = irq::S_LEVEL;
    h.mip = irq::SEIP;
    h.mie = irq::SEIP;
    assert_eq!(h.pending_interrupt(0), None, "S with SIE = 0");
    h.mstatus |= mstatus::SIE;
    assert_eq!(h.pending_interrupt(0), Some(Interrupt::SupervisorExternal));
    h.mstatus &= !mstatus::SIE;
    h.priv_level = Priv::U;
    assert_eq!(
        h.pending_interrupt(0),
        Some(Interrupt::SupervisorExternal),
        "U: always"
    );
    h.priv_level = Priv::M;
    h.mstatus |= mstatus::SIE | mstatus::MIE;
    assert_eq!(h.pending_interrupt(0), None, "never in M");
}

#[test]
fn interrupt_priority_order() {
    let mut h = hart_in(Priv::U);
    h.mie = irq::ALL;
    let mut pending = irq::ALL;
    let mut order = Vec::new();
    while let Some(i) = {
        h.mip = pending;
        h.pending_interrupt(0)
    } {
        order.push(i);
        pending &= !i.mask();
    }
    assert_eq!(order, Interrupt::PRIORITY.to_vec());
    assert_eq!(
        order.iter().map(|i| i.code()).collect::<Vec<_>>(),
        [11, 3, 7, 9, 1, 5]
    );
}

#[test]
fn m_target_interrupts_beat_s_target() {
    // SEI delegated, STI not: STI goes to M and wins, although SEI has
    // the higher priority within one mode.
    let mut h = hart_in(Priv::U);
    h.mideleg = irq::SEIP;
    h.mip = irq::SEIP | irq::STIP;
    h.mie = irq::SEIP | irq::STIP;
    assert_eq!(h.pending_interrupt(0), Some(Interrupt::SupervisorTimer));
    // In S with SIE = 0 the M-target STI is still taken.
    h.priv_level = Priv::S;
    assert_eq!(h.pending_interrupt(0), Some(Interrupt::SupervisorTimer));
    // In M with MIE = 0 nothing is taken.
    h.priv_level = Priv::M;
    assert_eq!(h.pending_interrupt(0), None);
}

#[test]
fn sstc_timer_interrupt() {
    let mut h = hart_in(Priv::S);
    h.menvcfg = envcfg::STCE;
    h.mideleg = irq::STIP;
    h.mie = irq::STIP;
    h.mstatus |= mstatus::SIE;
    h.stimecmp = 1000;
    assert_eq!(h.pending_interrupt(999), None);
    assert_eq!(h.pending_interrupt(1000), Some(Interrupt::SupervisorTimer));
    // Without STCE, STIP comes from mip alone.
    h.menvcfg = 0;
    assert_eq!(h.pending_interrupt(5000), None);
    h.mip = irq::STIP;
    assert_eq!(h.pending_interrupt(0), Some(Interrupt::SupervisorTimer));
}

#[test]
fn interrupt_codes_round_trip() {
    for i in Interrupt::PRIORITY {
        assert_eq!(Interrupt::from_code(i.code()), Some(i));
        assert_eq!(i.mask(), 1 << i.code());
    }
    assert_eq!(Interrupt::from_code(0), None);
    assert_eq!(Priv::from_bits(2), None);
    assert_eq!(Priv::from_bits(3), Some(Priv::M));
}

#[test]
fn reset_state() {
    let h = PrivState::default();
    assert_eq!(h.priv_level, Priv::M);
    assert_eq!(h.mstatus & (mstatus::MIE | mstatus::MPRV), 0);
    assert_eq!(h, PrivState::new(0));
}
