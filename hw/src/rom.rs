//! A read-only memory on the MMIO bus: the `virt` board's mask ROM at
//! 0x1000 (QEMU's `VIRT_MROM`), which holds the reset vector and the
//! `fw_dynamic_info` struct OpenSBI reads (see [`crate::boot`]).
//!
//! Reads past the contents return zero, as QEMU's zero-filled ROM region
//! does; writes are ignored (QEMU's ROM regions drop them too).

use crate::bus::MmioDevice;

/// A ROM of fixed contents. See the module doc.
#[derive(Debug, Clone, Default)]
pub struct Rom {
    bytes: Vec<u8>,
}

impl Rom {
    /// A ROM holding `bytes` from offset 0.
    pub fn new(bytes: Vec<u8>) -> Rom {
        Rom { bytes }
    }

    /// The contents (bytes from offset 0; the rest of the window reads 0).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl MmioDevice for Rom {
    fn read(&self, offset: u64, size: u8) -> u64 {
        let mut v = [0u8; 8];
        for (i, b) in v.iter_mut().enumerate().take(usize::from(size.min(8))) {
            let at = usize::try_from(offset).ok().and_then(|o| o.checked_add(i));
            *b = at.and_then(|a| self.bytes.get(a)).copied().unwrap_or(0);
        }
        u64::from_le_bytes(v)
    }

    fn write(&self, _offset: u64, _size: u8, _value: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_zero_past_the_end() {
        let rom = Rom::new(vec![0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(rom.read(0, 4), 0x4433_2211);
        assert_eq!(rom.read(1, 2), 0x3322);
        assert_eq!(rom.read(3, 8), 0x5544);
        assert_eq!(rom.read(100, 8), 0);
        rom.write(0, 4, 0);
        assert_eq!(rom.read(0, 1), 0x11);
    }
}
