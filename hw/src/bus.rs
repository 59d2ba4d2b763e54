//! The MMIO bus: non-overlapping guest-physical ranges mapped to devices,
//! and the interrupt lines devices drive.
//!
//! Shape after Firecracker's `vstate/bus.rs`: the bus is built once, before
//! the vCPUs start, and is then read-only, so [`MmioBus::find`] takes no
//! lock; each device serializes its own accesses. Ranges are kept sorted by
//! base, and a lookup is a binary search.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{Error, Result};

/// A memory-mapped device.
///
/// `offset` is the byte offset from the device's base (the bus subtracts the
/// base); `size` is the access width in bytes: 1, 2, 4 or 8. Reads return
/// the value zero-extended to 64 bits; writes use the low `size` bytes of
/// `value`. Guest accesses are little-endian, as RISC-V is.
///
/// Implementations use interior mutability (a lock inside the device):
/// several vCPU threads call the same device at once.
pub trait MmioDevice: Send + Sync {
    /// A `size`-byte load at `offset`.
    fn read(&self, offset: u64, size: u8) -> u64;
    /// A `size`-byte store of the low `size` bytes of `value` at `offset`.
    fn write(&self, offset: u64, size: u8, value: u64);
}

/// An interrupt line a device drives: level-triggered, as the PLIC's sources
/// on the `virt` board are. The device says the level whenever it may have
/// changed; saying the same level again is harmless.
pub trait IrqLine: Send + Sync {
    /// Sets the line's level: `true` = asserted.
    fn set_level(&self, level: bool);
    /// Asserts the line.
    fn raise(&self) {
        self.set_level(true)
    }
    /// Deasserts the line.
    fn lower(&self) {
        self.set_level(false)
    }
}

/// An interrupt line connected to nothing (for tests and for devices whose
/// interrupt is not wired).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIrq;

impl IrqLine for NoIrq {
    fn set_level(&self, _level: bool) {}
}

/// A test double that records the line's level.
#[derive(Debug, Default)]
pub struct RecordingIrq {
    level: std::sync::atomic::AtomicBool,
    raises: std::sync::atomic::AtomicU64,
}

impl RecordingIrq {
    /// The line's current level.
    pub fn level(&self) -> bool {
        self.level.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// How many times the line went from low to high.
    pub fn raises(&self) -> u64 {
        self.raises.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl IrqLine for RecordingIrq {
    fn set_level(&self, level: bool) {
        let old = self.level.swap(level, std::sync::atomic::Ordering::SeqCst);
        if level && !old {
            self.raises
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// One mapped range.
struct Mapping {
    size: u64,
    device: Arc<dyn MmioDevice>,
}

/// Guest-physical ranges mapped to devices. See the module doc.
#[derive(Default)]
pub struct MmioBus {
    /// Keyed by base (guest physical); ranges never overlap.
    ranges: BTreeMap<u64, Mapping>,
}

impl std::fmt::Debug for MmioBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.ranges
                    .iter()
                    .map(|(b, m)| format!("{b:#x}..={:#x}", b + (m.size - 1))),
            )
            .finish()
    }
}

impl MmioBus {
    /// An empty bus.
    pub fn new() -> MmioBus {
        MmioBus::default()
    }

    /// Maps `device` at guest-physical `base`, `size` bytes long.
    ///
    /// # Errors
    /// [`Error::BadRange`] if `size` is 0 or the range runs past 2^64;
    /// [`Error::Overlap`] if the range meets one already mapped.
    pub fn insert(&mut self, base: u64, size: u64, device: Arc<dyn MmioDevice>) -> Result<()> {
        // The last byte, so that a range ending at 2^64 is representable.
        let last = match size.checked_sub(1).and_then(|s| base.checked_add(s)) {
            Some(last) => last,
            None => return Err(Error::BadRange { base, size }),
        };
        // The nearest range at or below `base`, and the nearest above it,
        // are the only ones that can overlap.
        let below = self.ranges.range(..=base).next_back();
        let above = self.ranges.range(base..).next();
        for (&b, m) in below.into_iter().chain(above) {
            if b <= last && base <= b + (m.size - 1) {
                return Err(Error::Overlap {
                    base,
                    size,
                    other_base: b,
                    other_size: m.size,
                });
            }
        }
        self.ranges.insert(base, Mapping { size, device });
        Ok(())
    }

    /// The device mapped at guest-physical `addr` and `addr`'s offset from
    /// that device's base, or `None` when nothing is mapped there.
    pub fn find(&self, addr: u64) -> Option<(&Arc<dyn MmioDevice>, u64)> {
        let (&base, m) = self.ranges.range(..=addr).next_back()?;
        let offset = addr - base;
        (offset < m.size).then_some((&m.device, offset))
    }

    /// A `size`-byte load at guest-physical `addr`, or `None` when nothing
    /// is mapped there (the CPU side raises an access fault).
    pub fn read(&self, addr: u64, size: u8) -> Option<u64> {
        let (d, off) = self.find(addr)?;
        Some(d.read(off, size))
    }

    /// A `size`-byte store at guest-physical `addr`; `false` when nothing is
    /// mapped there.
    pub fn write(&self, addr: u64, size: u8, value: u64) -> bool {
        match self.find(addr) {
            Some((d, off)) => {
                d.write(off, size, value);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A device that remembers the last write and reads back offset+size.
    #[derive(Default)]
    struct Probe(Mutex<Vec<(u64, u8, u64)>>);
    impl MmioDevice for Probe {
        fn read(&self, offset: u64, size: u8) -> u64 {
            offset * 100 + u64::from(size)
        }
        fn write(&self, offset: u64, size: u8, value: u64) {
            self.0.lock().unwrap().push((offset, size, value));
        }
    }

    #[test]
    fn lookup_gives_device_and_offset() {
        let mut bus = MmioBus::new();
        let a = Arc::new(Probe::default());
        bus.insert(0x1000, 0x100, a.clone()).unwrap();
        bus.insert(0x2000, 0x10, Arc::new(Probe::default()))
            .unwrap();
        assert_eq!(bus.read(0x1000, 4), Some(4));
        assert_eq!(bus.read(0x10ff, 1), Some(0xff * 100 + 1));
        assert_eq!(bus.read(0x200f, 8), Some(15 * 100 + 8));
        assert!(bus.write(0x1004, 2, 0xbeef));
        assert_eq!(a.0.lock().unwrap()[0], (4, 2, 0xbeef));
    }

    #[test]
    fn unmapped_addresses_find_nothing() {
        let mut bus = MmioBus::new();
        bus.insert(0x1000, 0x100, Arc::new(Probe::default()))
            .unwrap();
        assert!(bus.find(0xfff).is_none());
        assert!(bus.find(0x1100).is_none()); // one past the end
        assert!(bus.find(0).is_none());
        assert!(bus.find(u64::MAX).is_none());
        assert_eq!(bus.read(0x1100, 4), None);
        assert!(!bus.write(0x1100, 4, 0));
    }

    #[test]
    fn overlapping_ranges_are_refused() {
        let mut bus = MmioBus::new();
        bus.insert(0x1000, 0x100, Arc::new(Probe::default()))
            .unwrap();
        for (base, size) in [(0x1000, 1), (0xf00, 0x101), (0x10ff, 0x10), (0x800, 0x1000)] {
            match bus.insert(base, size, Arc::new(Probe::default())) {
                Err(Error::Overlap {
                    other_base: 0x1000,
                    other_size: 0x100,
                    ..
                }) => {}
                r => panic!("{base:#x}+{size:#x}: {r:?}"),
            }
        }
        // Touching ranges are fine.
        bus.insert(0xf00, 0x100, Arc::new(Probe::default()))
            .unwrap();
        bus.insert(0x1100, 0x100, Arc::new(Probe::default()))
            .unwrap();
        assert!(bus.find(0x10ff).is_some() && bus.find(0x1100).is_some());
    }

    #[test]
    fn empty_and_wrapping_ranges_are_refused() {
        let mut bus = MmioBus::new();
        assert!(matches!(
            bus.insert(0x1000, 0, Arc::new(Probe::default())),
            Err(Error::BadRange { .. })
        ));
        assert!(matches!(
            bus.insert(u64::MAX, 2, Arc::new(Probe::default())),
            Err(Error::BadRange { .. })
        ));
        // The very top of the address space is mappable.
        bus.insert(u64::MAX - 0xff, 0x100, Arc::new(Probe::default()))
            .unwrap();
        assert!(bus.find(u64::MAX).is_some());
    }

    #[test]
    fn recording_irq_counts_rising_edges() {
        let l = RecordingIrq::default();
        l.raise();
        l.raise();
        l.lower();
        l.set_level(true);
        assert!(l.level());
        assert_eq!(l.raises(), 2);
    }
}
