//! The devices of the riscv64 `virt` machine, laid out as QEMU's
//! `hw/riscv/virt.c` lays them out, for cranemu's full-system mode.
//!
//! Every device implements [`bus::MmioDevice`]: a vCPU thread that misses
//! RAM looks the guest-physical address up in an [`bus::MmioBus`] and calls
//! the device with the offset from the device's base. Devices keep their
//! state behind their own lock (interior mutability), so vCPU threads call
//! them concurrently without a bus-wide lock.
//!
//! Interrupts: devices drive level-triggered lines ([`bus::IrqLine`]); the
//! [`plic::Plic`] implements them for its sources. The CPU side asks the
//! interrupt controllers what is pending ([`plic::Plic::context_pending`] for
//! MEIP/SEIP, [`aclint::Aclint::hart_pending`] for MSIP/MTIP/SSIP and the time
//! to the next timer deadline) instead of the devices poking CPU state.
//!
//! Lock order: a device may call an [`bus::IrqLine`] (and so take the
//! PLIC's lock) while it holds its own lock; the PLIC never calls out while
//! holding its lock. So the order is "device, then PLIC", and no cycle exists.
//!
//! | device | base | size | IRQ | module |
//! |---|---|---|---|---|
//! | mask ROM (reset vector, `fw_dynamic_info`) | 0x0000_1000 | 0xf000 | — | [`rom`] |
//! | SiFive test/finisher | 0x0010_0000 | 0x1000 | — | [`sifive_test`] |
//! | goldfish RTC | 0x0010_1000 | 0x1000 | 11 | [`goldfish_rtc`] |
//! | CLINT (ACLINT MSWI+MTIMER) | 0x0200_0000 | 0x1_0000 | — | [`aclint`] |
//! | PLIC | 0x0c00_0000 | 0x60_0000 (grows with harts) | — | [`plic`] |
//! | UART0 (16550A) | 0x1000_0000 | 0x100 | 10 | [`uart16550`] |
//! | virtio-mmio n | 0x1000_1000 + 0x1000·n | 0x1000 | 1 + n | [`virtio`] |
//! | RAM | 0x8000_0000 | -m | — | — |
//!
//! [`fdt`] builds the device tree that describes this machine to OpenSBI
//! and Linux; [`boot`] loads firmware, kernel and initrd into RAM and
//! computes the harts' reset state; [`virt`] assembles all of it into a
//! [`virt::VirtMachine`] for the CPU side.

#![deny(missing_docs)]

pub mod aclint;
pub mod boot;
pub mod bus;
pub mod fdt;
pub mod goldfish_rtc;
pub mod plic;
pub mod rom;
pub mod sifive_test;
pub mod uart16550;
pub mod virt;
pub mod virtio;

/// Guest-physical addresses and IRQ numbers of the `virt` board, from QEMU's
/// `hw/riscv/virt.c` (`virt_memmap`, `enum { UART0_IRQ = 10, RTC_IRQ = 11,
/// VIRTIO_IRQ = 1 }`).
pub mod layout {
    /// SiFive test/finisher base (bytes, guest physical).
    pub const TEST_BASE: u64 = 0x0010_0000;
    /// SiFive test/finisher size (bytes).
    pub const TEST_SIZE: u64 = 0x1000;
    /// Goldfish RTC base.
    pub const RTC_BASE: u64 = 0x0010_1000;
    /// Goldfish RTC size (bytes).
    pub const RTC_SIZE: u64 = 0x1000;
    /// Goldfish RTC PLIC source.
    pub const RTC_IRQ: u32 = 11;
    /// CLINT (ACLINT MSWI + MTIMER) base.
    pub const CLINT_BASE: u64 = 0x0200_0000;
    /// CLINT size (bytes).
    pub const CLINT_SIZE: u64 = 0x1_0000;
    /// PLIC base.
    pub const PLIC_BASE: u64 = 0x0c00_0000;
    /// UART0 base.
    pub const UART0_BASE: u64 = 0x1000_0000;
    /// UART0 size (bytes).
    pub const UART0_SIZE: u64 = 0x100;
    /// UART0 PLIC source.
    pub const UART0_IRQ: u32 = 10;
    /// First virtio-mmio slot; slot n is at `VIRTIO_BASE + n * VIRTIO_SIZE`.
    pub const VIRTIO_BASE: u64 = 0x1000_1000;
    /// Size of one virtio-mmio slot (bytes).
    pub const VIRTIO_SIZE: u64 = 0x1000;
    /// PLIC source of virtio-mmio slot 0; slot n uses `VIRTIO_IRQ + n`.
    pub const VIRTIO_IRQ: u32 = 1;
    /// Number of virtio-mmio slots QEMU's virt board has.
    pub const VIRTIO_COUNT: u32 = 8;
    /// Mask ROM base: holds the reset vector and `fw_dynamic_info`
    /// (`VIRT_MROM`).
    pub const MROM_BASE: u64 = 0x0000_1000;
    /// Mask ROM size (bytes).
    pub const MROM_SIZE: u64 = 0xf000;
    /// RAM base.
    pub const DRAM_BASE: u64 = 0x8000_0000;
    /// The timebase: mtime counts at 10 MHz (`RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ`).
    pub const TIMEBASE_FREQ: u64 = 10_000_000;
}

/// Errors of the device crate (emulator failures, never guest faults).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A device range given to [`bus::MmioBus::insert`] overlaps one already
    /// mapped.
    #[error(
        "MMIO range {base:#x}+{size:#x} overlaps the device at {other_base:#x}+{other_size:#x}"
    )]
    Overlap {
        /// Base of the rejected range (guest physical).
        base: u64,
        /// Size of the rejected range (bytes).
        size: u64,
        /// Base of the range already mapped.
        other_base: u64,
        /// Size of the range already mapped.
        other_size: u64,
    },
    /// A device range of size zero, or one that wraps past 2^64.
    #[error("MMIO range {base:#x}+{size:#x} is empty or wraps around")]
    BadRange {
        /// Base of the range (guest physical).
        base: u64,
        /// Size of the range (bytes).
        size: u64,
    },
    /// The device tree writer failed.
    #[error("device tree: {0}")]
    Fdt(#[from] vm_fdt::Error),
    /// A device-tree argument is out of range (e.g. no harts, a virtio slot
    /// past the eighth).
    #[error("device tree: {0}")]
    FdtArg(String),
    /// The UART's input FIFO is full; the caller should retry later.
    #[error("UART input FIFO full")]
    UartFifoFull,
    /// Writing a byte of UART output to the host failed.
    #[error("UART output: {0}")]
    UartIo(#[from] std::io::Error),
    /// A boot file (firmware, kernel, initrd) is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    BootFile {
        /// The file's path as given.
        path: std::path::PathBuf,
        /// The host's error.
        source: std::io::Error,
    },
    /// A boot image is truncated or malformed (a bad Image header, an ELF
    /// that is not RISC-V 64-bit, a segment past the end of the file).
    #[error("{name}: {reason}")]
    BadImage {
        /// The image's name (its path, or what it is).
        name: String,
        /// What is wrong, in a few words.
        reason: String,
    },
    /// An image (or one of its segments) does not lie entirely in RAM.
    #[error("{what} at {start:#x}..{end:#x} does not fit in RAM {ram_start:#x}..{ram_end:#x}")]
    DoesNotFit {
        /// What was being placed: `firmware`, `kernel`, `initrd`, ...
        what: String,
        /// First guest-physical byte wanted.
        start: u64,
        /// One past the last guest-physical byte wanted (saturating).
        end: u64,
        /// RAM's first byte.
        ram_start: u64,
        /// One past the last byte it may reach: RAM's end (for the
        /// initrd, the device tree's address).
        ram_end: u64,
    },
    /// Two boot images would overlap in RAM.
    #[error("{what} at {start:#x}..{end:#x} overlaps {other} at {other_start:#x}..{other_end:#x}")]
    ImageOverlap {
        /// The image being placed.
        what: String,
        /// Its first byte (guest physical).
        start: u64,
        /// One past its last byte.
        end: u64,
        /// The image already placed.
        other: String,
        /// Its first byte.
        other_start: u64,
        /// One past its last byte.
        other_end: u64,
    },
    /// A RAM size (`-m`) outside what the machine accepts.
    #[error("RAM size {size:#x} bytes: {reason}")]
    RamSize {
        /// The requested size in bytes.
        size: u64,
        /// Why it is refused.
        reason: String,
    },
    /// The virtio devices' view of guest RAM could not be built.
    #[error("virtio: {0}")]
    VirtioSetup(String),
    /// A `-drive` image could not be opened.
    #[error("-drive {0}")]
    Drive(#[from] virtio::block::OpenError),
    /// Guest RAM could not be created or written.
    #[error("guest RAM: {0}")]
    Ram(#[from] cranemu_softmmu::system::Error),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Locks a mutex, ignoring poisoning: a panic while a device lock is held
/// ends the emulator anyway, and the device state stays usable for a
/// diagnostic dump.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Merges a `size`-byte write of `value` at byte `shift` (0..8) into the
/// 64-bit register `old`, as an access of part of a wider register does.
pub(crate) fn merge(old: u64, shift: u32, size: u8, value: u64) -> u64 {
    let mask = size_mask(size) << (shift * 8);
    (old & !mask) | ((value << (shift * 8)) & mask)
}

/// The mask of the low `size` bytes (size 1, 2, 4 or 8).
pub(crate) fn size_mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (u32::from(size) * 8)) - 1
    }
}
