//! The 16550A UART of the `virt` board (`ns16550a` at 0x1000_0000, PLIC
//! source 10), built on `vm-superio`'s [`Serial`], which keeps the
//! registers, the 64-byte receive FIFO, loopback and the divisor latch.
//!
//! Registers sit at a 1-byte stride (QEMU's `serial_mm_init` with
//! `regshift` 0): 0 RBR/THR (DLL with LCR.DLAB), 1 IER (DLM with DLAB),
//! 2 IIR (reads) / FCR (writes, ignored: the FIFO is always on), 3 LCR,
//! 4 MCR, 5 LSR, 6 MSR, 7 SCR. Only 1-byte accesses are honoured (what
//! Linux's 8250 driver and OpenSBI's uart8250 make with `reg-shift` 0 and
//! `reg-io-width` 1); others read 0 and are ignored, as are offsets 8..0x100.
//!
//! The interrupt: `vm-superio` signals an edge through its [`Trigger`] when
//! it adds a THR-empty or received-data interrupt; ours raises the PLIC line.
//! The PLIC's sources are level-triggered, so after every access the line is
//! set to the UART's level, which (as the 16550's INTR pin) is "an interrupt
//! identified in IIR whose enable bit in IER is set". Reading IIR clears the
//! THR-empty interrupt and reading the last byte clears the received-data
//! one, as on the chip, so the line falls once Linux's handler has served it.
//! One difference from the chip, inherited from `vm-superio`: reading IIR
//! also clears a received-data interrupt while bytes remain (a 16550 keeps
//! it until the FIFO is below its trigger level). Linux and OpenSBI drain
//! the FIFO while LSR.DR is set, so they do not notice; new input raises
//! the line again.
//!
//! Output: each byte written to THR goes to the host writer `W` and is
//! flushed at once; a failing write loses the byte (the guest cannot be
//! blocked), as `vm-superio` does. Transmission takes no time: THR is
//! always empty.

use std::io::Write;
use std::sync::{Arc, Mutex};

use vm_superio::{Serial, Trigger};

use crate::bus::{IrqLine, MmioDevice};
use crate::{lock, Error, Result};

/// Offset of IER (DLM with LCR.DLAB set).
pub const IER: u64 = 1;
/// Offset of IIR (read) / FCR (write).
pub const IIR: u64 = 2;
/// Offset of LCR.
pub const LCR: u64 = 3;
/// Offset of MCR.
pub const MCR: u64 = 4;
/// Offset of LSR.
pub const LSR: u64 = 5;
/// Offset of MSR.
pub const MSR: u64 = 6;
/// Offset of SCR.
pub const SCR: u64 = 7;
/// The input clock the device tree advertises (Hz), as QEMU's virt.
pub const CLOCK_FREQUENCY: u32 = 3_686_400;

/// IER/IIR bit: received data available.
const RDA: u8 = 0b0001;
/// IER bit: THR empty.
const IER_THRE: u8 = 0b0010;
/// IIR bit: THR empty.
const IIR_THRE: u8 = 0b0010;
/// IIR bit: received data available.
const IIR_RDA: u8 = 0b0100;

/// `vm-superio`'s interrupt hook: raises our line.
pub struct UartTrigger(Arc<dyn IrqLine>);

impl Trigger for UartTrigger {
    type E = std::convert::Infallible;

    fn trigger(&self) -> std::result::Result<(), Self::E> {
        self.0.raise();
        Ok(())
    }
}

/// The 16550A UART. See the module doc.
pub struct Uart16550<W: Write + Send> {
    serial: Mutex<Serial<UartTrigger, vm_superio::serial::NoEvents, W>>,
    irq: Arc<dyn IrqLine>,
}

impl<W: Write + Send> std::fmt::Debug for Uart16550<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uart16550").finish_non_exhaustive()
    }
}

impl<W: Write + Send> Uart16550<W> {
    /// A UART in its reset state that writes its output to `out` and drives
    /// `irq`.
    pub fn new(irq: Arc<dyn IrqLine>, out: W) -> Uart16550<W> {
        Uart16550 {
            serial: Mutex::new(Serial::new(UartTrigger(irq.clone()), out)),
            irq,
        }
    }

    /// Sets the line to the UART's level (see the module doc).
    fn update_irq(&self, s: &Serial<UartTrigger, vm_superio::serial::NoEvents, W>) {
        let st = s.state();
        let (iir, ier) = (st.interrupt_identification, st.interrupt_enable);
        let level =
            (iir & IIR_RDA != 0 && ier & RDA != 0) || (iir & IIR_THRE != 0 && ier & IER_THRE != 0);
        self.irq.set_level(level);
    }

    /// Queues bytes from the host (keyboard, socket) for the guest to read;
    /// returns how many fit in the FIFO. In loopback mode input is dropped
    /// and 0 returned, as on the chip.
    ///
    /// # Errors
    /// [`Error::UartFifoFull`] when `input` is not empty and the FIFO is
    /// full: retry once the guest has read.
    pub fn enqueue_input(&self, input: &[u8]) -> Result<usize> {
        let mut s = lock(&self.serial);
        let r = s.enqueue_raw_bytes(input);
        self.update_irq(&s);
        match r {
            Ok(n) => Ok(n),
            Err(vm_superio::serial::Error::FullFifo) => Err(Error::UartFifoFull),
            Err(vm_superio::serial::Error::IOError(e)) => Err(Error::UartIo(e)),
            Err(vm_superio::serial::Error::Trigger(e)) => match e {},
        }
    }

    /// Free room in the receive FIFO (bytes).
    pub fn fifo_capacity(&self) -> usize {
        lock(&self.serial).fifo_capacity()
    }

    /// Runs `f` on the output writer (to flush it, or for a test to look).
    pub fn with_writer<R>(&self, f: impl FnOnce(&mut W) -> R) -> R {
        f(lock(&self.serial).writer_mut())
    }
}

impl<W: Write + Send> MmioDevice for Uart16550<W> {
    fn read(&self, offset: u64, size: u8) -> u64 {
        if size != 1 || offset >= 8 {
            return 0;
        }
        let mut s = lock(&self.serial);
        let v = s.read(offset as u8);
        self.update_irq(&s);
        v.into()
    }

    fn write(&self, offset: u64, size: u8, value: u64) {
        if size != 1 || offset >= 8 {
            return;
        }
        let mut s = lock(&self.serial);
        // An output error loses the byte (module doc); a trigger cannot fail.
        let _ = s.write(offset as u8, value as u8);
        self.update_irq(&s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::RecordingIrq;

    fn uart() -> (Uart16550<Vec<u8>>, Arc<RecordingIrq>) {
        let irq = Arc::new(RecordingIrq::default());
        (Uart16550::new(irq.clone(), Vec::new()), irq)
    }

    #[test]
    fn thr_writes_reach_the_host() {
        let (u, irq) = uart();
        for b in b"hi\r\n" {
            u.write(0, 1, u64::from(*b));
        }
        assert_eq!(u.with_writer(|w| w.clone()), b"hi\r\n");
        // IER is 0 at reset: no interrupt.
        assert!(!irq.level());
        // LSR: THR empty and transmitter idle (0x60), no data ready.
        assert_eq!(u.read(LSR, 1), 0x60);
    }

    #[test]
    fn reset_values_match_a_16550() {
        let (u, _) = uart();
        assert_eq!(u.read(IER, 1), 0);
        // IIR: no interrupt (bit 0), FIFOs enabled (bits 7:6) as a 16550A.
        assert_eq!(u.read(IIR, 1), 0xc1);
        assert_eq!(u.read(LCR, 1), 0x03); // 8N1
        assert_eq!(u.read(MCR, 1), 0x08); // OUT2
        assert_eq!(u.read(MSR, 1), 0xb0); // DCD, DSR, CTS
        u.write(SCR, 1, 0x5a);
        assert_eq!(u.read(SCR, 1), 0x5a);
    }

    #[test]
    fn received_data_raises_the_line_until_drained() {
        let (u, irq) = uart();
        u.write(IER, 1, u64::from(RDA));
        assert!(!irq.level());
        assert_eq!(u.enqueue_input(b"ab").unwrap(), 2);
        assert!(irq.level());
        assert_eq!(u.read(LSR, 1) & 1, 1); // data ready
        assert_eq!(u.read(IIR, 1), 0xc4); // received data available
        assert_eq!(u.read(0, 1), u64::from(b'a'));
        assert_eq!(u.read(0, 1), u64::from(b'b'));
        assert_eq!(u.read(LSR, 1) & 1, 0);
        assert!(!irq.level());
        assert_eq!(u.read(0, 1), 0); // empty FIFO reads 0
    }

    #[test]
    fn input_while_masked_fires_when_ier_is_restored() {
        // Linux's 8250 console masks IER while it prints and expects a
        // pending RX interrupt once IER is restored.
        let (u, irq) = uart();
        u.enqueue_input(b"x").unwrap();
        assert!(!irq.level());
        u.write(IER, 1, u64::from(RDA));
        assert!(irq.level());
        // Masking again lowers the line (INTR follows IER).
        u.write(IER, 1, 0);
        assert!(!irq.level());
    }

    #[test]
    fn thr_empty_interrupt_clears_on_iir_read() {
        let (u, irq) = uart();
        u.write(IER, 1, u64::from(IER_THRE));
        assert!(irq.level()); // THR is empty at once
        assert_eq!(u.read(IIR, 1), 0xc2);
        assert!(!irq.level());
        u.write(0, 1, u64::from(b'z'));
        assert!(irq.level());
        assert_eq!(irq.raises(), 2);
    }

    #[test]
    fn fifo_full_is_an_error_and_loopback_works() {
        let (u, _) = uart();
        assert_eq!(u.enqueue_input(&[0; 100]).unwrap(), 64);
        assert_eq!(u.fifo_capacity(), 0);
        assert!(matches!(u.enqueue_input(b"y"), Err(Error::UartFifoFull)));
        let (u, _) = uart();
        u.write(MCR, 1, 0x10); // loopback
        u.write(0, 1, u64::from(b'q'));
        assert_eq!(u.read(0, 1), u64::from(b'q'));
        assert!(u.with_writer(|w| w.is_empty()));
    }

    #[test]
    fn divisor_latch_and_other_sizes() {
        let (u, _) = uart();
        u.write(LCR, 1, 0x83); // DLAB
        u.write(0, 1, 0x01);
        u.write(IER, 1, 0x00);
        assert_eq!(u.read(0, 1), 0x01);
        u.write(LCR, 1, 0x03);
        assert_eq!(u.read(IER, 1), 0);
        // Only byte accesses and offsets 0..8 are registers.
        u.write(SCR, 4, 0x77);
        assert_eq!(u.read(SCR, 1), 0);
        assert_eq!(u.read(8, 1), 0);
        assert!(u.with_writer(|w| w.is_empty()));
    }
}
