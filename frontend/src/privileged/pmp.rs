//! Physical memory protection checks (Privileged ISA 1.12, section 3.7):
//! which accesses the `pmpcfg`/`pmpaddr` entries allow.
//!
//! Entries are matched in order, lowest index first; the first entry that
//! matches any byte of an access decides it, and an access that it matches
//! only in part fails (3.7.1, "Priority and Matching Logic"). M-mode
//! accesses are checked only against locked entries and succeed when none
//! matches; S- and U-mode accesses (and page-table reads, which count as
//! S-mode) fail when none matches, since entries are implemented. The
//! grain is 4 bytes (G = 0), so NA4 is available.
//!
//! The softmmu caches whole 4 KiB pages, so besides the exact check
//! ([`PrivState::pmp_check`]) there is a page check ([`PrivState::pmp_page`])
//! that says whether one rule covers the whole page (then its permissions
//! can go into a TLB entry) or not (then every access is checked exactly).

use super::{Priv, PrivState};

/// Permissions a PMP rule grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmpPerms {
    /// Loads.
    pub read: bool,
    /// Stores and AMOs.
    pub write: bool,
    /// Instruction fetch.
    pub exec: bool,
}

impl PmpPerms {
    /// Everything allowed.
    pub const ALL: PmpPerms = PmpPerms {
        read: true,
        write: true,
        exec: true,
    };
    /// Nothing allowed.
    pub const NONE: PmpPerms = PmpPerms {
        read: false,
        write: false,
        exec: false,
    };
}

/// The A field's modes (bits 4:3 of a `pmpcfg` byte).
const A_OFF: u8 = 0;
const A_TOR: u8 = 1;
const A_NA4: u8 = 2;

impl PrivState {
    /// How many entries can be active: 8 for each `pmpcfg` register up to
    /// the last non-zero one (firmware configures a few, so checks scan a
    /// few).
    fn pmp_top(&self) -> usize {
        8 * self
            .pmpcfg
            .iter()
            .rposition(|&c| c != 0)
            .map_or(0, |i| i + 1)
    }

    /// The address range `[lo, hi)` (bytes, guest physical) of entry `i`,
    /// or `None` when it is off.
    fn pmp_range(&self, i: usize) -> Option<(u128, u128)> {
        let cfg = self.pmp_cfg_byte(i);
        let addr = u128::from(self.pmpaddr[i]);
        match (cfg >> 3) & 3 {
            A_OFF => None,
            A_TOR => {
                let lo = if i == 0 {
                    0
                } else {
                    u128::from(self.pmpaddr[i - 1]) << 2
                };
                let hi = addr << 2;
                Some((lo, hi.max(lo)))
            }
            A_NA4 => Some((addr << 2, (addr << 2) + 4)),
            _ => {
                let ones = self.pmpaddr[i].trailing_ones();
                let size = 1u128 << (ones + 3);
                let base = (addr & !((1u128 << ones) - 1)) << 2;
                Some((base, base + size))
            }
        }
    }

    /// The permissions entry `i` gives `privilege`.
    fn pmp_perms(&self, i: usize, privilege: Priv) -> PmpPerms {
        let cfg = self.pmp_cfg_byte(i);
        if privilege == Priv::M && cfg & 0x80 == 0 {
            return PmpPerms::ALL;
        }
        PmpPerms {
            read: cfg & 1 != 0,
            write: cfg & 2 != 0,
            exec: cfg & 4 != 0,
        }
    }

    /// What applies when no entry matches.
    fn pmp_default(privilege: Priv) -> PmpPerms {
        if privilege == Priv::M {
            PmpPerms::ALL
        } else {
            PmpPerms::NONE
        }
    }

    /// The permissions of an access of `len` bytes at guest physical
    /// `addr` by `privilege` (section 3.7.1): [`PmpPerms::NONE`] when an
    /// entry matches it only in part.
    pub fn pmp_check(&self, addr: u64, len: u64, privilege: Priv) -> PmpPerms {
        let (lo, hi) = (u128::from(addr), u128::from(addr) + u128::from(len));
        for i in 0..self.pmp_top() {
            let Some((a, b)) = self.pmp_range(i) else {
                continue;
            };
            if hi <= a || lo >= b {
                continue;
            }
            if lo >= a && hi <= b {
                return self.pmp_perms(i, privilege);
            }
            return PmpPerms::NONE;
        }
        Self::pmp_default(privilege)
    }

    /// The permissions that hold for every byte of the 4 KiB page at guest
    /// physical `page` (aligned) for `privilege`, or `None` when entries
    /// split the page (each access must then be checked exactly).
    pub fn pmp_page(&self, page: u64, privilege: Priv) -> Option<PmpPerms> {
        let (lo, hi) = (u128::from(page), u128::from(page) + 4096);
        for i in 0..self.pmp_top() {
            let Some((a, b)) = self.pmp_range(i) else {
                continue;
            };
            if hi <= a || lo >= b {
                continue;
            }
            return (lo >= a && hi <= b).then(|| self.pmp_perms(i, privilege));
        }
        Some(Self::pmp_default(privilege))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privileged::csr;

    fn set(ps: &mut PrivState, i: usize, cfg: u8, addr: u64) {
        ps.csr_write(csr::PMPADDR0 + i as u16, addr, Priv::M)
            .unwrap();
        let reg = csr::PMPCFG0 + 2 * (i / 8) as u16;
        let old = ps.csr_read(reg, Priv::M).unwrap();
        let sh = 8 * (i % 8);
        ps.csr_write(reg, (old & !(0xff << sh)) | u64::from(cfg) << sh, Priv::M)
            .unwrap();
    }

    #[test]
    fn no_entry_allows_m_only() {
        let ps = PrivState::new(0);
        assert_eq!(ps.pmp_check(0x8000_0000, 8, Priv::M), PmpPerms::ALL);
        assert_eq!(ps.pmp_check(0x8000_0000, 8, Priv::S), PmpPerms::NONE);
    }

    #[test]
    fn napot_all_and_a_4k_hole() {
        let mut ps = PrivState::new(0);
        // Entry 0: NAPOT 4 KiB at 0x8000_1000, read-only.
        set(&mut ps, 0, 0x18 | 1, (0x8000_1000 >> 2) | 0x1ff);
        // Entry 1: NAPOT everything, RWX.
        set(&mut ps, 1, 0x18 | 7, u64::MAX >> 10);
        let ro = PmpPerms {
            read: true,
            write: false,
            exec: false,
        };
        assert_eq!(ps.pmp_check(0x8000_1008, 8, Priv::S), ro);
        assert_eq!(ps.pmp_check(0x8000_2000, 8, Priv::U), PmpPerms::ALL);
        // Straddling the hole's end: a partial match of entry 0 fails.
        assert_eq!(ps.pmp_check(0x8000_1ffc, 8, Priv::S), PmpPerms::NONE);
        assert_eq!(ps.pmp_page(0x8000_1000, Priv::S), Some(ro));
        assert_eq!(ps.pmp_page(0x8000_0000, Priv::S), Some(PmpPerms::ALL));
        // M is unaffected by unlocked entries.
        assert_eq!(ps.pmp_check(0x8000_1008, 8, Priv::M), PmpPerms::ALL);
    }

    #[test]
    fn tor_splitting_a_page_and_locked_entries() {
        let mut ps = PrivState::new(0);
        // Entry 0: TOR [0, 0x8000_0800), locked, no permissions.
        set(&mut ps, 0, 0x80 | 0x08, 0x8000_0800 >> 2);
        assert_eq!(ps.pmp_page(0x8000_0000, Priv::S), None);
        assert_eq!(ps.pmp_check(0x8000_0000, 4, Priv::M), PmpPerms::NONE);
        assert_eq!(ps.pmp_check(0x8000_0800, 4, Priv::M), PmpPerms::ALL);
        // NA4.
        set(&mut ps, 1, 0x10 | 3, 0x9000_0000 >> 2);
        let rw = PmpPerms {
            read: true,
            write: true,
            exec: false,
        };
        assert_eq!(ps.pmp_check(0x9000_0000, 4, Priv::U), rw);
        assert_eq!(ps.pmp_check(0x9000_0000, 8, Priv::U), PmpPerms::NONE);
    }
}
