//! The Goldfish RTC (`google,goldfish-rtc` at 0x101000, PLIC source 11), as
//! QEMU's `hw/rtc/goldfish_rtc.c` implements it. Time is nanoseconds since
//! the Unix epoch, from the host's realtime clock plus an offset that guest
//! writes to TIME_LOW/TIME_HIGH adjust.
//!
//! | offset | name | read | write |
//! |---|---|---|---|
//! | 0x00 | TIME_LOW | low 32 bits of now; latches the high 32 | sets bits 31:0 of the time |
//! | 0x04 | TIME_HIGH | the high 32 bits latched by the last TIME_LOW read | sets bits 63:32 of the time |
//! | 0x08 | ALARM_LOW | low 32 bits of the alarm | sets them and arms the alarm |
//! | 0x0c | ALARM_HIGH | high 32 bits of the alarm | sets them (does not arm) |
//! | 0x10 | IRQ_ENABLED | bit 0 | bit 0 |
//! | 0x14 | CLEAR_ALARM | 0 | disarms the alarm |
//! | 0x18 | ALARM_STATUS | 1 while armed | ignored |
//! | 0x1c | CLEAR_INTERRUPT | 0 | clears the pending interrupt |
//!
//! Arming an alarm at or before now fires it at once. The interrupt line is
//! `pending && IRQ_ENABLED`. Only 4-byte accesses count (QEMU's access size);
//! others read 0 and are ignored, as are other offsets.
//!
//! No host timer: an armed alarm fires when the machine calls
//! [`GoldfishRtc::poll`] at or after [`GoldfishRtc::alarm_deadline`] (its
//! event loop owns waiting), and on any register access after the deadline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bus::{IrqLine, MmioDevice};
use crate::lock;

/// Offset of TIME_LOW.
pub const TIME_LOW: u64 = 0x00;
/// Offset of TIME_HIGH.
pub const TIME_HIGH: u64 = 0x04;
/// Offset of ALARM_LOW.
pub const ALARM_LOW: u64 = 0x08;
/// Offset of ALARM_HIGH.
pub const ALARM_HIGH: u64 = 0x0c;
/// Offset of IRQ_ENABLED.
pub const IRQ_ENABLED: u64 = 0x10;
/// Offset of CLEAR_ALARM.
pub const CLEAR_ALARM: u64 = 0x14;
/// Offset of ALARM_STATUS.
pub const ALARM_STATUS: u64 = 0x18;
/// Offset of CLEAR_INTERRUPT.
pub const CLEAR_INTERRUPT: u64 = 0x1c;

/// A realtime clock: nanoseconds since the Unix epoch.
pub type RealClock = Box<dyn Fn() -> u64 + Send + Sync>;

/// The registers; `Default` is the reset state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoldfishRtcState {
    /// Added (wrapping) to the host clock to give the guest's time (ns).
    pub offset: u64,
    /// The alarm time (ns since the epoch).
    pub alarm_next: u64,
    /// Whether the alarm is armed.
    pub alarm_running: bool,
    /// IRQ_ENABLED bit 0.
    pub irq_enabled: bool,
    /// An alarm fired and was not cleared.
    pub irq_pending: bool,
    /// TIME_HIGH as latched by the last TIME_LOW read.
    pub time_high: u32,
}

/// The Goldfish RTC. See the module doc.
pub struct GoldfishRtc {
    state: Mutex<GoldfishRtcState>,
    clock: RealClock,
    irq: Arc<dyn IrqLine>,
}

impl std::fmt::Debug for GoldfishRtc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoldfishRtc")
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

impl GoldfishRtc {
    /// An RTC driving `irq`, on the host's realtime clock.
    pub fn new(irq: Arc<dyn IrqLine>) -> GoldfishRtc {
        GoldfishRtc::with_clock(
            irq,
            Box::new(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            }),
        )
    }

    /// Like [`GoldfishRtc::new`] with another clock (tests use a manual one).
    pub fn with_clock(irq: Arc<dyn IrqLine>, clock: RealClock) -> GoldfishRtc {
        GoldfishRtc {
            state: Mutex::new(GoldfishRtcState::default()),
            clock,
            irq,
        }
    }

    fn now(&self, s: &GoldfishRtcState) -> u64 {
        (self.clock)().wrapping_add(s.offset)
    }

    /// Fires a due alarm, then sets the line. Lock held.
    fn update(&self, s: &mut GoldfishRtcState) {
        if s.alarm_running && s.alarm_next <= self.now(s) {
            s.alarm_running = false;
            s.irq_pending = true;
        }
        self.irq.set_level(s.irq_pending && s.irq_enabled);
    }

    /// Fires the alarm if it is due; the machine calls it at
    /// [`GoldfishRtc::alarm_deadline`].
    pub fn poll(&self) {
        let mut s = lock(&self.state);
        self.update(&mut s);
    }

    /// Time until the armed alarm is due (zero if it is), or `None` when no
    /// alarm is armed.
    pub fn alarm_deadline(&self) -> Option<Duration> {
        let s = lock(&self.state);
        s.alarm_running
            .then(|| Duration::from_nanos(s.alarm_next.saturating_sub(self.now(&s))))
    }

    /// A copy of the registers (for a snapshot or a debugger).
    pub fn state(&self) -> GoldfishRtcState {
        lock(&self.state).clone()
    }
}

impl MmioDevice for GoldfishRtc {
    fn read(&self, offset: u64, size: u8) -> u64 {
        if size != 4 {
            return 0;
        }
        let mut s = lock(&self.state);
        self.update(&mut s);
        let v = match offset {
            TIME_LOW => {
                let t = self.now(&s);
                s.time_high = (t >> 32) as u32;
                t as u32
            }
            TIME_HIGH => s.time_high,
            ALARM_LOW => s.alarm_next as u32,
            ALARM_HIGH => (s.alarm_next >> 32) as u32,
            IRQ_ENABLED => s.irq_enabled.into(),
            ALARM_STATUS => s.alarm_running.into(),
            _ => 0,
        };
        v.into()
    }

    fn write(&self, offset: u64, size: u8, value: u64) {
        if size != 4 {
            return;
        }
        let value = value & 0xffff_ffff;
        let mut s = lock(&self.state);
        match offset {
            TIME_LOW | TIME_HIGH => {
                let host = (self.clock)();
                let now = host.wrapping_add(s.offset);
                let new = if offset == TIME_LOW {
                    (now & !0xffff_ffff) | value
                } else {
                    (now & 0xffff_ffff) | (value << 32)
                };
                s.offset = new.wrapping_sub(host);
            }
            ALARM_LOW => {
                s.alarm_next = (s.alarm_next & !0xffff_ffff) | value;
                s.alarm_running = true;
            }
            ALARM_HIGH => s.alarm_next = (s.alarm_next & 0xffff_ffff) | (value << 32),
            IRQ_ENABLED => s.irq_enabled = value & 1 != 0,
            CLEAR_ALARM => s.alarm_running = false,
            CLEAR_INTERRUPT => s.irq_pending = false,
            _ => {}
        }
        self.update(&mut s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::RecordingIrq;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn manual(start: u64) -> (GoldfishRtc, Arc<AtomicU64>, Arc<RecordingIrq>) {
        let ns = Arc::new(AtomicU64::new(start));
        let n = ns.clone();
        let irq = Arc::new(RecordingIrq::default());
        let rtc = GoldfishRtc::with_clock(irq.clone(), Box::new(move || n.load(Ordering::SeqCst)));
        (rtc, ns, irq)
    }

    #[test]
    fn time_low_latches_time_high() {
        let (rtc, ns, _) = manual(0x1_0000_0005);
        assert_eq!(rtc.read(TIME_LOW, 4), 5);
        // The clock crosses a 2^32 boundary; TIME_HIGH still gives the
        // half that goes with the TIME_LOW read.
        ns.store(0x2_0000_0000, Ordering::SeqCst);
        assert_eq!(rtc.read(TIME_HIGH, 4), 1);
        assert_eq!(rtc.read(TIME_LOW, 4), 0);
        assert_eq!(rtc.read(TIME_HIGH, 4), 2);
    }

    #[test]
    fn real_clock_is_unix_time() {
        let rtc = GoldfishRtc::new(Arc::new(crate::bus::NoIrq));
        let lo = rtc.read(TIME_LOW, 4);
        let t = (rtc.read(TIME_HIGH, 4) << 32) | lo;
        // After 2024-01-01 and before 2200.
        assert!(t > 1_704_067_200 * 1_000_000_000 && t < 7_258_118_400 * 1_000_000_000);
    }

    #[test]
    fn time_writes_set_each_half() {
        let (rtc, ns, _) = manual(0x5_0000_0010);
        rtc.write(TIME_HIGH, 4, 0x7);
        rtc.write(TIME_LOW, 4, 0x100);
        ns.fetch_add(50, Ordering::SeqCst);
        assert_eq!(rtc.read(TIME_LOW, 4), 0x100 + 50);
        assert_eq!(rtc.read(TIME_HIGH, 4), 0x7);
    }

    #[test]
    fn alarm_fires_and_interrupt_is_gated_and_cleared() {
        let (rtc, ns, irq) = manual(1000);
        rtc.write(ALARM_HIGH, 4, 0);
        // ALARM_HIGH alone does not arm.
        assert_eq!(rtc.read(ALARM_STATUS, 4), 0);
        rtc.write(ALARM_LOW, 4, 2000);
        assert_eq!(rtc.read(ALARM_STATUS, 4), 1);
        assert_eq!(rtc.read(ALARM_LOW, 4), 2000);
        assert_eq!(rtc.alarm_deadline(), Some(Duration::from_nanos(1000)));
        ns.store(2000, Ordering::SeqCst);
        rtc.poll();
        assert_eq!(rtc.read(ALARM_STATUS, 4), 0);
        assert!(!irq.level()); // fired, but IRQ_ENABLED is 0
        rtc.write(IRQ_ENABLED, 4, 0xff);
        assert_eq!(rtc.read(IRQ_ENABLED, 4), 1);
        assert!(irq.level());
        rtc.write(CLEAR_INTERRUPT, 4, 1);
        assert!(!irq.level());
        assert_eq!(rtc.alarm_deadline(), None);
    }

    #[test]
    fn past_alarm_fires_at_once_and_clear_alarm_disarms() {
        let (rtc, ns, irq) = manual(5000);
        rtc.write(IRQ_ENABLED, 4, 1);
        rtc.write(ALARM_LOW, 4, 4000);
        assert!(irq.level());
        assert_eq!(rtc.read(ALARM_STATUS, 4), 0);
        rtc.write(CLEAR_INTERRUPT, 4, 1);
        rtc.write(ALARM_LOW, 4, 9000);
        rtc.write(CLEAR_ALARM, 4, 1);
        assert_eq!(rtc.read(ALARM_STATUS, 4), 0);
        ns.store(10_000, Ordering::SeqCst);
        rtc.poll();
        assert!(!irq.level());
        // Other sizes and offsets do nothing.
        rtc.write(IRQ_ENABLED, 8, 0);
        assert_eq!(rtc.read(IRQ_ENABLED, 4), 1);
        assert_eq!(rtc.read(0x20, 4), 0);
    }
}
