//! The SiFive test device ("finisher"), `sifive,test1` at 0x100000 on the
//! `virt` board: a guest writes a status to offset 0 to power the machine
//! off (pass or fail, with an exit code) or to reset it. OpenSBI's
//! `sifive_test` driver and Linux's `syscon-poweroff`/`syscon-reboot` (whose
//! device-tree nodes point here) use it.
//!
//! Semantics follow QEMU's `hw/misc/sifive_test.c`: a write at offset 0
//! takes `status = value & 0xffff` and `code = (value >> 16) & 0xffff`;
//! `0x3333` is FAIL (exit with `code`), `0x5555` PASS (exit 0), `0x7777`
//! RESET. Any other status, any other offset, and every read do nothing
//! (reads return 0). QEMU accepts 2- and 4-byte accesses; so do we, and 1-
//! and 8-byte ones are ignored. The device does not exit the process: it
//! hands a [`FinisherEvent`] to the machine, which stops the vCPUs.

use std::sync::mpsc;

use crate::bus::MmioDevice;

/// Status written for FAIL; the exit code goes in bits 31:16.
pub const FINISHER_FAIL: u64 = 0x3333;
/// Status written for PASS (power off, exit 0).
pub const FINISHER_PASS: u64 = 0x5555;
/// Status written for RESET (reboot).
pub const FINISHER_RESET: u64 = 0x7777;

/// What the guest asked the machine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinisherEvent {
    /// Power off; the emulator exits with status 0.
    Pass,
    /// Power off with failure; the emulator exits with this code (QEMU
    /// passes it to `exit()` unchanged, so 0 is possible).
    Fail(u16),
    /// Reset the machine.
    Reset,
}

/// The callback the device reports to; called on the writing vCPU's thread.
pub type FinisherSink = Box<dyn Fn(FinisherEvent) + Send + Sync>;

/// The SiFive test/finisher device. See the module doc.
pub struct SifiveTest {
    sink: FinisherSink,
}

impl std::fmt::Debug for SifiveTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SifiveTest").finish_non_exhaustive()
    }
}

impl SifiveTest {
    /// A finisher that calls `sink` for each PASS, FAIL or RESET write.
    pub fn new(sink: impl Fn(FinisherEvent) + Send + Sync + 'static) -> SifiveTest {
        SifiveTest {
            sink: Box::new(sink),
        }
    }

    /// A finisher that sends its events down a channel, and the receiving
    /// end. Events sent after the receiver is dropped are discarded.
    pub fn with_channel() -> (SifiveTest, mpsc::Receiver<FinisherEvent>) {
        let (tx, rx) = mpsc::channel();
        (
            SifiveTest::new(move |e| {
                let _ = tx.send(e);
            }),
            rx,
        )
    }
}

impl MmioDevice for SifiveTest {
    fn read(&self, _offset: u64, _size: u8) -> u64 {
        0
    }

    fn write(&self, offset: u64, size: u8, value: u64) {
        if offset != 0 || !(size == 2 || size == 4) {
            return;
        }
        let value = value & crate::size_mask(size);
        let code = ((value >> 16) & 0xffff) as u16;
        let event = match value & 0xffff {
            FINISHER_PASS => FinisherEvent::Pass,
            FINISHER_FAIL => FinisherEvent::Fail(code),
            FINISHER_RESET => FinisherEvent::Reset,
            _ => return,
        };
        (self.sink)(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_fail_reset_are_reported() {
        let (dev, rx) = SifiveTest::with_channel();
        dev.write(0, 4, 0x5555);
        dev.write(0, 4, 0x3333 | (42 << 16));
        dev.write(0, 4, 0x7777);
        // QEMU: FAIL with code 0 exits 0, but is still a FAIL event.
        dev.write(0, 4, 0x3333);
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(
            got,
            [
                FinisherEvent::Pass,
                FinisherEvent::Fail(42),
                FinisherEvent::Reset,
                FinisherEvent::Fail(0)
            ]
        );
    }

    #[test]
    fn other_writes_and_reads_do_nothing() {
        let (dev, rx) = SifiveTest::with_channel();
        dev.write(0, 4, 0x1234); // unknown status: QEMU logs a guest error only
        dev.write(4, 4, 0x5555); // other offset
        dev.write(0, 1, 0x55); // 1-byte: outside QEMU's 2..4 access sizes
        dev.write(0, 8, 0x5555); // 8-byte: likewise
        assert_eq!(dev.read(0, 4), 0);
        assert!(rx.try_recv().is_err());
        // A 2-byte write of PASS is valid (min access size 2).
        dev.write(0, 2, 0x5555);
        assert_eq!(rx.try_recv(), Ok(FinisherEvent::Pass));
    }

    #[test]
    fn callback_sink_runs_on_the_writer() {
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let h = hits.clone();
        let dev = SifiveTest::new(move |e| {
            assert_eq!(e, FinisherEvent::Fail(3));
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        dev.write(0, 4, 0x0003_3333);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
