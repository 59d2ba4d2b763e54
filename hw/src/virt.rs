//! The riscv64 `virt` machine assembled: RAM, the devices on the MMIO bus
//! at QEMU's addresses, their interrupt lines on the PLIC, the device tree,
//! and the boot images placed (see [`crate::boot`]). No CPU: the vCPU side
//! takes [`VirtMachine::ram`], [`VirtMachine::bus`], the interrupt
//! controllers and [`VirtMachine::hart_boot`] and runs the harts.
//!
//! # RAM size (`-m`)
//!
//! At least [`MIN_RAM_SIZE`] (16 MiB: the firmware's 2 MiB, a kernel
//! slot and the FDT's 2 MiB-aligned slot; nothing Linux-like boots in
//! less), at most [`MAX_RAM_SIZE`] (1 TiB) and at most the host's physical
//! memory (`MemTotal` in `/proc/meminfo`, when readable), a multiple of
//! 4 KiB. RAM is mapped with `MAP_NORESERVE`, so only what the guest
//! touches costs host memory.
//!
//! # Interrupt wiring
//!
//! UART0 drives PLIC source 10, the RTC source 11; virtio-mmio slot n will
//! drive 1 + n ([`VirtMachine::virtio_irq`]). The CLINT (no SSWI, as
//! QEMU's default `aclint=off`) and the PLIC are asked by the CPU side.

use std::io::Write;
use std::sync::{mpsc, Arc};

use cranemu_softmmu::system::{ram::Ram, GuestPhysAddr, PAGE_SIZE};

use crate::aclint::Aclint;
use crate::boot::{self, BootFile, FwDynamicInfo, HartBoot, Loaded, Placement};
use crate::bus::MmioBus;
use crate::fdt::VirtFdt;
use crate::goldfish_rtc::GoldfishRtc;
use crate::layout::*;
use crate::plic::{self, Plic, PlicIrq};
use crate::rom::Rom;
use crate::sifive_test::{FinisherEvent, SifiveTest};
use crate::uart16550::Uart16550;
use crate::{Error, Result};

/// The smallest RAM accepted (bytes): 16 MiB.
pub const MIN_RAM_SIZE: u64 = 16 << 20;
/// The largest RAM accepted (bytes): 1 TiB (the host's memory may cap it
/// lower).
pub const MAX_RAM_SIZE: u64 = 1 << 40;
/// The most harts: QEMU's `VIRT_CPUS_MAX`.
pub const MAX_HARTS: u32 = 512;

/// The serial output sink UART0 writes to.
pub type SerialOut = Box<dyn Write + Send>;

/// What to build. [`VirtConfig::new`] gives one hart, 128 MiB, no images.
#[derive(Debug, Clone)]
pub struct VirtConfig {
    /// Number of harts (1..=[`MAX_HARTS`]).
    pub harts: u32,
    /// RAM size (bytes), see the module doc.
    pub ram_size: u64,
    /// `-bios`: raw binary or ELF firmware (OpenSBI fw_dynamic).
    pub firmware: Option<BootFile>,
    /// `-kernel`: riscv64 `Image` or ELF.
    pub kernel: Option<BootFile>,
    /// `-initrd`.
    pub initrd: Option<BootFile>,
    /// `-append`: `/chosen/bootargs`.
    pub bootargs: String,
    /// virtio-mmio slots to describe in the device tree (0..8).
    pub virtio_slots: Vec<u32>,
}

impl VirtConfig {
    /// One hart, `ram_size` bytes of RAM, no images, no bootargs.
    pub fn new(harts: u32, ram_size: u64) -> VirtConfig {
        VirtConfig {
            harts,
            ram_size,
            firmware: None,
            kernel: None,
            initrd: None,
            bootargs: String::new(),
            virtio_slots: Vec::new(),
        }
    }
}

/// Where everything was placed in guest physical memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootLayout {
    /// The firmware, if any.
    pub firmware: Option<Loaded>,
    /// The kernel, if any.
    pub kernel: Option<Loaded>,
    /// The initrd's `[start, end)`, as in `/chosen`.
    pub initrd: Option<(u64, u64)>,
    /// The FDT's address and size (bytes).
    pub fdt: (u64, u64),
    /// The address of `fw_dynamic_info` (in the mask ROM).
    pub fw_dynamic_info: u64,
    /// The `fw_dynamic_info` written.
    pub info: FwDynamicInfo,
}

/// The assembled machine. See the module doc.
pub struct VirtMachine {
    harts: u32,
    ram: Arc<Ram>,
    bus: Arc<MmioBus>,
    plic: Arc<Plic>,
    aclint: Arc<Aclint>,
    uart: Arc<Uart16550<SerialOut>>,
    rtc: Arc<GoldfishRtc>,
    rom: Arc<Rom>,
    finisher: Option<mpsc::Receiver<FinisherEvent>>,
    fdt: Vec<u8>,
    layout: BootLayout,
}

impl std::fmt::Debug for VirtMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtMachine")
            .field("harts", &self.harts)
            .field("ram_size", &self.ram.size())
            .field("bus", &self.bus)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// The host's physical memory in bytes, when `/proc/meminfo` says.
fn host_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Checks a RAM size against the limits of the module doc.
///
/// # Errors
/// [`Error::RamSize`] saying which limit.
pub fn check_ram_size(size: u64) -> Result<()> {
    let refuse = |reason: String| Err(Error::RamSize { size, reason });
    if size < MIN_RAM_SIZE {
        return refuse(format!("below the minimum of {} MiB", MIN_RAM_SIZE >> 20));
    }
    if size > MAX_RAM_SIZE {
        return refuse(format!("above the maximum of {} GiB", MAX_RAM_SIZE >> 30));
    }
    if !size.is_multiple_of(PAGE_SIZE) {
        return refuse("not a multiple of 4 KiB".into());
    }
    if let Some(host) = host_memory() {
        if size > host {
            return refuse(format!(
                "more than the host's {} MiB of memory",
                host >> 20
            ));
        }
    }
    Ok(())
}

impl VirtMachine {
    /// Builds the machine of `cfg`, with UART0's output going to `serial`.
    ///
    /// # Errors
    /// [`Error::RamSize`] or [`Error::FdtArg`] for a bad size or hart
    /// count; [`Error::Ram`] if the host refuses the mapping; the boot
    /// errors of [`crate::boot`] ([`Error::BadImage`],
    /// [`Error::DoesNotFit`], [`Error::ImageOverlap`]).
    pub fn new(cfg: &VirtConfig, serial: SerialOut) -> Result<VirtMachine> {
        if cfg.harts == 0 || cfg.harts > MAX_HARTS {
            return Err(Error::FdtArg(format!(
                "{} harts (the virt machine has 1 to {MAX_HARTS})",
                cfg.harts
            )));
        }
        check_ram_size(cfg.ram_size)?;
        let ram = Arc::new(Ram::new(GuestPhysAddr(DRAM_BASE), cfg.ram_size)?);
        let (layout, fdt, rom) = place_images(&ram, cfg)?;

        let harts = cfg.harts as usize;
        let plic = Arc::new(Plic::new(harts));
        let aclint = Arc::new(Aclint::new(harts));
        let uart = Arc::new(Uart16550::new(
            Arc::new(plic.irq_line(UART0_IRQ)),
            serial,
        ));
        let rtc = Arc::new(GoldfishRtc::new(Arc::new(plic.irq_line(RTC_IRQ))));
        let (test, finisher) = SifiveTest::with_channel();
        let rom = Arc::new(rom);

        let mut bus = MmioBus::new();
        bus.insert(MROM_BASE, MROM_SIZE, rom.clone())?;
        bus.insert(TEST_BASE, TEST_SIZE, Arc::new(test))?;
        bus.insert(RTC_BASE, RTC_SIZE, rtc.clone())?;
        bus.insert(CLINT_BASE, CLINT_SIZE, aclint.clone())?;
        bus.insert(PLIC_BASE, plic::mmio_size(harts), plic.clone())?;
        bus.insert(UART0_BASE, UART0_SIZE, uart.clone())?;

        Ok(VirtMachine {
            harts: cfg.harts,
            ram,
            bus: Arc::new(bus),
            plic,
            aclint,
            uart,
            rtc,
            rom,
            finisher: Some(finisher),
            fdt,
            layout,
        })
    }

    /// Number of harts.
    pub fn harts(&self) -> u32 {
        self.harts
    }

    /// Guest RAM (at [`DRAM_BASE`]).
    pub fn ram(&self) -> &Arc<Ram> {
        &self.ram
    }

    /// The MMIO bus with every device mapped (read-only from now on).
    pub fn bus(&self) -> &Arc<MmioBus> {
        &self.bus
    }

    /// The PLIC (MEIP/SEIP per hart).
    pub fn plic(&self) -> &Arc<Plic> {
        &self.plic
    }

    /// The CLINT (MSIP, MTIP, `mtime`).
    pub fn aclint(&self) -> &Arc<Aclint> {
        &self.aclint
    }

    /// UART0, for feeding it input.
    pub fn uart(&self) -> &Arc<Uart16550<SerialOut>> {
        &self.uart
    }

    /// The goldfish RTC (its alarm needs polling).
    pub fn rtc(&self) -> &Arc<GoldfishRtc> {
        &self.rtc
    }

    /// The mask ROM (reset vector and `fw_dynamic_info`).
    pub fn rom(&self) -> &Arc<Rom> {
        &self.rom
    }

    /// The test finisher's events (poweroff, reboot); `None` once taken.
    pub fn take_finisher_events(&mut self) -> Option<mpsc::Receiver<FinisherEvent>> {
        self.finisher.take()
    }

    /// The interrupt line of virtio-mmio slot `slot` (PLIC source 1 +
    /// slot), for the virtio devices to come.
    pub fn virtio_irq(&self, slot: u32) -> Option<PlicIrq> {
        (slot < VIRTIO_COUNT).then(|| self.plic.irq_line(VIRTIO_IRQ + slot))
    }

    /// The device tree blob (also in RAM at [`BootLayout::fdt`]).
    pub fn fdt(&self) -> &[u8] {
        &self.fdt
    }

    /// Where the boot images went.
    pub fn layout(&self) -> &BootLayout {
        &self.layout
    }

    /// The state hart `hart` starts in (M mode): `pc` = the firmware's
    /// entry (the kernel's without firmware, the RAM base with neither),
    /// `a0` = `hart`, `a1` = the FDT, `a2` = `fw_dynamic_info`.
    pub fn hart_boot(&self, hart: u32) -> HartBoot {
        let pc = self
            .layout
            .firmware
            .or(self.layout.kernel)
            .map_or(DRAM_BASE, |l| l.entry);
        HartBoot {
            pc,
            a0: u64::from(hart),
            a1: self.layout.fdt.0,
            a2: self.layout.fw_dynamic_info,
        }
    }
}

/// Loads firmware, kernel, initrd and FDT into `ram`; returns the layout,
/// the FDT blob and the mask ROM.
fn place_images(ram: &Ram, cfg: &VirtConfig) -> Result<(BootLayout, Vec<u8>, Rom)> {
    let mut place = Placement::new(ram);
    let firmware = cfg
        .firmware
        .as_ref()
        .map(|f| boot::load_firmware(ram, &mut place, f))
        .transpose()?;
    let kernel_slot = boot::kernel_start(ram, firmware.map(|f| f.end));
    let kernel = cfg
        .kernel
        .as_ref()
        .map(|k| boot::load_kernel(ram, &mut place, k, kernel_slot))
        .transpose()?;

    let mut dt = VirtFdt::new(cfg.harts, ram.size());
    dt.bootargs = cfg.bootargs.clone();
    for &slot in &cfg.virtio_slots {
        dt.add_virtio_mmio(slot)?;
    }
    // The blob's size does not depend on the initrd's addresses (two u64
    // properties either way), so size it with a placeholder first.
    let initrd_len = cfg.initrd.as_ref().map(|f| f.data.len() as u64);
    dt.initrd = initrd_len.map(|len| (0, len));
    let fdt_len = dt.build()?.len() as u64;
    let fdt_addr = boot::fdt_addr(ram, fdt_len)?;

    let initrd = match &cfg.initrd {
        Some(f) => {
            let len = f.data.len() as u64;
            let (entry, end) = kernel.map_or((kernel_slot, kernel_slot), |k| (k.entry, k.end));
            let at = boot::initrd_addr(ram, entry, end, fdt_addr, len)?;
            place.claim("initrd", at, len)?;
            ram.write(GuestPhysAddr(at), &f.data)?;
            Some((at, at + len))
        }
        None => None,
    };
    dt.initrd = initrd;
    let fdt = dt.build()?;
    if fdt.len() as u64 != fdt_len {
        return Err(Error::FdtArg(format!(
            "device tree changed size ({fdt_len} to {} bytes)",
            fdt.len()
        )));
    }
    place.claim("device tree", fdt_addr, fdt_len)?;
    ram.write(GuestPhysAddr(fdt_addr), &fdt)?;

    let info = FwDynamicInfo {
        next_addr: kernel.map_or(kernel_slot, |k| k.entry),
        next_mode: boot::FW_DYNAMIC_INFO_NEXT_MODE_S,
        options: 0,
        boot_hart: 0,
    };
    let fw_entry = firmware.or(kernel).map_or(DRAM_BASE, |l| l.entry);
    let rom = Rom::new(boot::reset_rom(fw_entry, fdt_addr, &info));
    let layout = BootLayout {
        firmware,
        kernel,
        initrd,
        fdt: (fdt_addr, fdt_len),
        fw_dynamic_info: MROM_BASE + boot::ROM_FW_DYNAMIC_INFO_OFFSET,
        info,
    };
    Ok((layout, fdt, rom))
}
