//! The CLINT of QEMU's `virt` board, modelled as the RISC-V ACLINT
//! specification's MSWI and MTIMER devices at their CLINT-compatible offsets
//! (QEMU `hw/intc/riscv_aclint.c`, created by `hw/riscv/virt.c` with
//! `riscv_aclint_swi_create(base, ...)` and
//! `riscv_aclint_mtimer_create(base + 0x4000, 0x8000, ...)`), plus the
//! ACLINT SSWI as a separate window.
//!
//! Offsets from the CLINT base (0x200_0000):
//!
//! | offset | register | width | access |
//! |---|---|---|---|
//! | 0x0000 + 4·hart | `msip` (bit 0; other bits read 0) | 32 | 4-byte |
//! | 0x4000 + 8·hart | `mtimecmp` | 64 | 4- or 8-byte, halves separately |
//! | 0xbff8 | `mtime` | 64 | 4- or 8-byte, halves separately, writable |
//!
//! `mtime` counts at 10 MHz ([`crate::layout::TIMEBASE_FREQ`]) from the
//! host's monotonic clock ([`std::time::Instant`]); a write sets an offset
//! so that the counter reads the written value and keeps counting from it
//! (as QEMU's `time_delta`). MTIP of a hart is `mtime >= mtimecmp`, computed
//! when asked, so no host timer is needed: a hart in `wfi` asks
//! [`Aclint::hart_pending`] how long to sleep.
//!
//! `mtimecmp` resets to `u64::MAX` (the spec leaves it unspecified; all-ones
//! means no timer interrupt before software programs one; OpenSBI writes
//! it before enabling MTIE anyway). `msip` resets to 0.
//!
//! The SSWI ([`Sswi`], `setssip` at 4·hart, a write of 1 sets the hart's
//! SSIP, reads return 0) exists in QEMU only with `-M virt,aclint=on`, at
//! 0x2f0_0000; it is here for that configuration and is not in the default
//! device tree. Since SSIP is also a writable bit of `mip`, the CPU side
//! must clear the latched bit when software clears `sip.SSIP`
//! ([`Aclint::clear_ssip`]).
//!
//! Accesses of other widths read 0 and are ignored, as are holes and harts
//! past the configured count.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bus::MmioDevice;
use crate::layout::TIMEBASE_FREQ;
use crate::{lock, merge};

/// Offset of hart 0's `msip`.
pub const MSIP_BASE: u64 = 0x0;
/// Offset of hart 0's `mtimecmp`.
pub const MTIMECMP_BASE: u64 = 0x4000;
/// Offset of `mtime`.
pub const MTIME: u64 = 0xbff8;
/// The most harts a CLINT window can address (`msip` runs out at 0x4000).
pub const MAX_HARTS: usize = 4095;
/// QEMU virt's SSWI base with `aclint=on` (guest physical).
pub const SSWI_BASE: u64 = 0x2f0_0000;
/// Size of the SSWI window (bytes).
pub const SSWI_SIZE: u64 = 0x4000;

/// A monotonic clock: time elapsed since an arbitrary fixed start.
pub type Clock = Box<dyn Fn() -> Duration + Send + Sync>;

/// Told the hart whose interrupt state or timer deadline may have changed
/// (an `msip`/`setssip` write, an `mtimecmp` write, or, for every hart, an
/// `mtime` write). Called after the ACLINT's lock is released (a hart woken
/// by it asks [`Aclint::hart_pending`] at once and would otherwise wait for
/// the writer's lock); it should kick the hart.
pub type AclintNotifier = Box<dyn Fn(usize) + Send + Sync>;

/// What the CPU side needs of one hart, at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HartPending {
    /// Machine software interrupt pending (`mip.MSIP`).
    pub msip: bool,
    /// Machine timer interrupt pending (`mip.MTIP`): `mtime >= mtimecmp`.
    pub mtip: bool,
    /// Supervisor software interrupt latched by the SSWI.
    pub ssip: bool,
    /// Time until `mtime` reaches `mtimecmp`: zero when MTIP is already
    /// pending, `None` when `mtimecmp` is `u64::MAX` (never, in practice).
    pub next_deadline: Option<Duration>,
}

/// The registers. `Default` is not the reset state (it has no harts);
/// [`AclintState::new`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclintState {
    /// `msip` of each hart (bit 0).
    pub msip: Vec<bool>,
    /// SSIP latched by the SSWI, per hart.
    pub ssip: Vec<bool>,
    /// `mtimecmp` of each hart (ticks).
    pub mtimecmp: Vec<u64>,
    /// Added (wrapping) to the host clock's tick count to give `mtime`.
    pub mtime_offset: u64,
}

impl AclintState {
    /// The reset state for `harts` harts.
    pub fn new(harts: usize) -> AclintState {
        AclintState {
            msip: vec![false; harts],
            ssip: vec![false; harts],
            mtimecmp: vec![u64::MAX; harts],
            mtime_offset: 0,
        }
    }
}

/// The registers as the harts share them: every read is lock-free (harts
/// ask for their lines and `mtime` at every interrupt check), writes are
/// serialized by [`Aclint::write_lock`] (the halves of a 64-bit register
/// are a read-modify-write).
struct Regs {
    msip: Vec<AtomicBool>,
    ssip: Vec<AtomicBool>,
    mtimecmp: Vec<AtomicU64>,
    mtime_offset: AtomicU64,
}

/// The CLINT (ACLINT MSWI + MTIMER). See the module doc.
pub struct Aclint {
    regs: Regs,
    write_lock: Mutex<()>,
    clock: Clock,
    notifier: Mutex<Option<AclintNotifier>>,
}

impl std::fmt::Debug for Aclint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aclint")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// Ticks of the 10 MHz timebase in `d`.
fn ticks(d: Duration) -> u64 {
    (d.as_nanos() * u128::from(TIMEBASE_FREQ) / 1_000_000_000) as u64
}

/// The duration of `t` ticks, saturating.
fn ticks_to_duration(t: u64) -> Duration {
    let ns = u128::from(t) * 1_000_000_000 / u128::from(TIMEBASE_FREQ);
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

impl Aclint {
    /// A CLINT for `harts` harts (at most [`MAX_HARTS`]; more are ignored)
    /// whose `mtime` starts at 0 now and follows the host's monotonic clock.
    pub fn new(harts: usize) -> Aclint {
        let start = Instant::now();
        Aclint::with_clock(harts, Box::new(move || start.elapsed()))
    }

    /// Like [`Aclint::new`] with another clock (tests use a manual one).
    pub fn with_clock(harts: usize, clock: Clock) -> Aclint {
        let harts = harts.min(MAX_HARTS);
        Aclint {
            regs: Regs {
                msip: (0..harts).map(|_| AtomicBool::new(false)).collect(),
                ssip: (0..harts).map(|_| AtomicBool::new(false)).collect(),
                mtimecmp: (0..harts).map(|_| AtomicU64::new(u64::MAX)).collect(),
                mtime_offset: AtomicU64::new(0),
            },
            write_lock: Mutex::new(()),
            clock,
            notifier: Mutex::new(None),
        }
    }

    /// Installs the notifier (see [`AclintNotifier`]). Install it before
    /// the vCPUs start.
    pub fn set_notifier(&self, n: AclintNotifier) {
        *lock(&self.notifier) = Some(n);
    }

    fn notify(&self, hart: Option<usize>, harts: usize) {
        if let Some(n) = lock(&self.notifier).as_ref() {
            match hart {
                Some(h) => n(h),
                None => (0..harts).for_each(n),
            }
        }
    }

    fn harts(&self) -> usize {
        self.regs.msip.len()
    }

    /// The current `mtime` (ticks of 10 MHz): what the `time` CSR reads,
    /// and what Sstc's `stimecmp` compares with.
    pub fn mtime(&self) -> u64 {
        ticks((self.clock)()).wrapping_add(self.regs.mtime_offset.load(Ordering::SeqCst))
    }

    /// Sets `mtime` to `value` from now on.
    pub fn set_mtime(&self, value: u64) {
        let guard = lock(&self.write_lock);
        self.regs
            .mtime_offset
            .store(value.wrapping_sub(ticks((self.clock)())), Ordering::SeqCst);
        drop(guard);
        self.notify(None, self.harts());
    }

    /// The duration until `mtime` reaches `deadline` (ticks): zero if it
    /// has, `None` for `u64::MAX`. The CPU side uses it for Sstc's
    /// `stimecmp` too.
    pub fn time_until(&self, deadline: u64) -> Option<Duration> {
        if deadline == u64::MAX {
            return None;
        }
        Some(ticks_to_duration(deadline.saturating_sub(self.mtime())))
    }

    /// Hart `hart`'s MSIP, MTIP, SSIP and time to its next timer deadline;
    /// all clear for a hart that does not exist.
    pub fn hart_pending(&self, hart: usize) -> HartPending {
        let r = &self.regs;
        if hart >= self.harts() {
            return HartPending {
                msip: false,
                mtip: false,
                ssip: false,
                next_deadline: None,
            };
        }
        let now = self.mtime();
        let cmp = r.mtimecmp[hart].load(Ordering::SeqCst);
        HartPending {
            msip: r.msip[hart].load(Ordering::SeqCst),
            mtip: now >= cmp,
            ssip: r.ssip[hart].load(Ordering::SeqCst),
            next_deadline: (cmp != u64::MAX).then(|| ticks_to_duration(cmp.saturating_sub(now))),
        }
    }

    /// Clears the SSIP the SSWI latched for `hart` (software cleared
    /// `sip.SSIP`).
    pub fn clear_ssip(&self, hart: usize) {
        if let Some(b) = self.regs.ssip.get(hart) {
            b.store(false, Ordering::SeqCst);
        }
    }

    /// A copy of the registers (for a snapshot or a debugger).
    pub fn state(&self) -> AclintState {
        let _guard = lock(&self.write_lock);
        let r = &self.regs;
        AclintState {
            msip: r.msip.iter().map(|b| b.load(Ordering::SeqCst)).collect(),
            ssip: r.ssip.iter().map(|b| b.load(Ordering::SeqCst)).collect(),
            mtimecmp: r
                .mtimecmp
                .iter()
                .map(|v| v.load(Ordering::SeqCst))
                .collect(),
            mtime_offset: r.mtime_offset.load(Ordering::SeqCst),
        }
    }

    /// The SSWI window sharing this CLINT's harts.
    pub fn sswi(self: &Arc<Self>) -> Sswi {
        Sswi(self.clone())
    }
}

impl MmioDevice for Aclint {
    fn read(&self, offset: u64, size: u8) -> u64 {
        let r = &self.regs;
        let harts = self.harts() as u64;
        match offset {
            o if o < MTIMECMP_BASE => {
                let h = (o - MSIP_BASE) / 4;
                if size != 4 || !o.is_multiple_of(4) || h >= harts {
                    return 0;
                }
                u64::from(r.msip[h as usize].load(Ordering::SeqCst))
            }
            o if (size == 4 && o.is_multiple_of(4)) || (size == 8 && o.is_multiple_of(8)) => {
                let (reg, shift) = (o & !7, (o & 7) as u32 * 8);
                let v = if reg == MTIME {
                    self.mtime()
                } else {
                    let h = (reg - MTIMECMP_BASE) / 8;
                    if h >= harts {
                        return 0;
                    }
                    r.mtimecmp[h as usize].load(Ordering::SeqCst)
                };
                (v >> shift) & crate::size_mask(size)
            }
            _ => 0,
        }
    }

    fn write(&self, offset: u64, size: u8, value: u64) {
        let guard = lock(&self.write_lock);
        let r = &self.regs;
        let harts = self.harts();
        match offset {
            o if o < MTIMECMP_BASE => {
                let h = ((o - MSIP_BASE) / 4) as usize;
                if size != 4 || !o.is_multiple_of(4) || h >= harts {
                    return;
                }
                r.msip[h].store(value & 1 != 0, Ordering::SeqCst);
                drop(guard);
                self.notify(Some(h), harts);
            }
            o if (size == 4 && o.is_multiple_of(4)) || (size == 8 && o.is_multiple_of(8)) => {
                let (reg, shift) = (o & !7, (o & 7) as u32);
                if reg == MTIME {
                    let now = ticks((self.clock)());
                    let old = now.wrapping_add(r.mtime_offset.load(Ordering::SeqCst));
                    let new = merge(old, shift, size, value);
                    r.mtime_offset
                        .store(new.wrapping_sub(now), Ordering::SeqCst);
                    drop(guard);
                    self.notify(None, harts);
                } else {
                    let h = ((reg - MTIMECMP_BASE) / 8) as usize;
                    if h >= harts {
                        return;
                    }
                    let c = &r.mtimecmp[h];
                    c.store(
                        merge(c.load(Ordering::SeqCst), shift, size, value),
                        Ordering::SeqCst,
                    );
                    drop(guard);
                    self.notify(Some(h), harts);
                }
            }
            _ => {}
        }
    }
}

/// The ACLINT SSWI window of an [`Aclint`] (see the module doc).
#[derive(Debug, Clone)]
pub struct Sswi(Arc<Aclint>);

impl MmioDevice for Sswi {
    /// `setssip` reads 0 (ACLINT spec §4.1).
    fn read(&self, _offset: u64, _size: u8) -> u64 {
        0
    }

    fn write(&self, offset: u64, size: u8, value: u64) {
        let a = &self.0;
        let h = (offset / 4) as usize;
        let harts = a.harts();
        if size != 4 || !offset.is_multiple_of(4) || h >= harts || value & 1 == 0 {
            return;
        }
        a.regs.ssip[h].store(true, Ordering::SeqCst);
        a.notify(Some(h), harts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A CLINT whose clock is the returned counter (ns).
    fn manual(harts: usize) -> (Arc<Aclint>, Arc<AtomicU64>) {
        let ns = Arc::new(AtomicU64::new(0));
        let n = ns.clone();
        let a = Aclint::with_clock(
            harts,
            Box::new(move || Duration::from_nanos(n.load(Ordering::SeqCst))),
        );
        (Arc::new(a), ns)
    }

    #[test]
    fn mtime_counts_at_10mhz_and_reads_as_halves() {
        let (a, ns) = manual(1);
        assert_eq!(a.read(MTIME, 8), 0);
        ns.store(1_000_000_000, Ordering::SeqCst); // 1 s = 10^7 ticks
        assert_eq!(a.read(MTIME, 8), 10_000_000);
        a.write(MTIME, 8, 0x1_2345_6789);
        assert_eq!(a.read(MTIME, 4), 0x2345_6789);
        assert_eq!(a.read(MTIME + 4, 4), 1);
        ns.fetch_add(100, Ordering::SeqCst); // one tick later
        assert_eq!(a.read(MTIME, 8), 0x1_2345_678a);
        // A 32-bit write of the high half keeps the low half counting.
        a.write(MTIME + 4, 4, 7);
        assert_eq!(a.mtime(), 0x7_2345_678a);
        a.write(MTIME, 4, 0);
        assert_eq!(a.mtime(), 0x7_0000_0000);
        a.set_mtime(5);
        assert_eq!(a.read(MTIME, 8), 5);
    }

    #[test]
    fn real_clock_advances() {
        let a = Aclint::new(1);
        let t0 = a.mtime();
        std::thread::sleep(Duration::from_millis(2));
        let t1 = a.mtime();
        // At least 2 ms = 20000 ticks, and not absurdly more.
        assert!(t1 - t0 >= 20_000 && t1 - t0 < 10_000_000, "{t0} {t1}");
    }

    #[test]
    fn msip_is_one_bit_per_hart() {
        let (a, _) = manual(2);
        a.write(MSIP_BASE + 4, 4, 0xffff_ffff);
        assert_eq!(a.read(MSIP_BASE + 4, 4), 1);
        assert_eq!(a.read(MSIP_BASE, 4), 0);
        assert!(a.hart_pending(1).msip && !a.hart_pending(0).msip);
        a.write(MSIP_BASE + 4, 4, 2); // bit 0 clear
        assert!(!a.hart_pending(1).msip);
        // Hart 2 does not exist; 8-byte msip accesses are not valid.
        a.write(MSIP_BASE + 8, 4, 1);
        assert_eq!(a.read(MSIP_BASE + 8, 4), 0);
        a.write(MSIP_BASE, 8, 1);
        assert!(!a.hart_pending(0).msip);
    }

    #[test]
    fn mtimecmp_sets_mtip_and_the_deadline() {
        let (a, ns) = manual(2);
        // Reset: all ones, no timer.
        assert_eq!(a.read(MTIMECMP_BASE + 8, 8), u64::MAX);
        let p = a.hart_pending(1);
        assert!(!p.mtip && p.next_deadline.is_none());
        // 1000 ticks = 100 us ahead, written as two halves (RV32 style).
        a.write(MTIMECMP_BASE + 8, 4, 1000);
        a.write(MTIMECMP_BASE + 12, 4, 0);
        assert_eq!(a.read(MTIMECMP_BASE + 8, 8), 1000);
        assert_eq!(a.read(MTIMECMP_BASE + 12, 4), 0);
        let p = a.hart_pending(1);
        assert!(!p.mtip);
        assert_eq!(p.next_deadline, Some(Duration::from_micros(100)));
        ns.store(99_999, Ordering::SeqCst);
        assert!(!a.hart_pending(1).mtip);
        ns.store(100_000, Ordering::SeqCst);
        let p = a.hart_pending(1);
        assert!(p.mtip);
        assert_eq!(p.next_deadline, Some(Duration::ZERO));
        // Hart 0 untouched; moving mtimecmp ahead clears MTIP.
        assert!(!a.hart_pending(0).mtip);
        a.write(MTIMECMP_BASE + 8, 8, 2000);
        assert!(!a.hart_pending(1).mtip);
        assert_eq!(a.time_until(2000), Some(Duration::from_micros(100)));
        assert_eq!(a.time_until(u64::MAX), None);
        assert_eq!(a.hart_pending(7).next_deadline, None);
    }

    #[test]
    fn sswi_latches_ssip_and_notifier_is_told() {
        let (a, _) = manual(2);
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        a.set_notifier(Box::new(move |h| l.lock().unwrap().push(h)));
        let sswi = a.sswi();
        sswi.write(4, 4, 1);
        assert_eq!(sswi.read(4, 4), 0);
        assert!(a.hart_pending(1).ssip);
        sswi.write(0, 4, 0); // writing 0 does nothing
        assert!(!a.hart_pending(0).ssip);
        a.clear_ssip(1);
        assert!(!a.hart_pending(1).ssip);
        a.write(MSIP_BASE, 4, 1);
        a.write(MTIMECMP_BASE + 8, 8, 1);
        a.write(MTIME, 8, 0);
        assert_eq!(*log.lock().unwrap(), [1, 0, 1, 0, 1]);
    }
}
