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
//! UART0 drives PLIC source 10, the RTC source 11; virtio-mmio slot n
//! drives 1 + n ([`VirtMachine::virtio_irq`]); the devices of
//! [`VirtConfig::virtio`] take slots 0, 1, ... in order. The CLINT (no SSWI, as
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
use crate::virtio::block::{Block, BlockConfig};
use crate::virtio::console::{Console, NullBackend, SocketBackend};
use crate::virtio::mmio::VirtioMmio;
use crate::virtio::net::{Net, NetBackendSpec, NetConfig};
use crate::virtio::rng::Rng;
use crate::virtio::vsock::Vsock;
use crate::virtio::{DeviceRam, DmaWatch, VirtioDevice};
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
    /// virtio-mmio slots to describe in the device tree (0..8), besides
    /// those of `virtio`.
    pub virtio_slots: Vec<u32>,
    /// virtio devices, in slot order: the first in slot 0 (0x1000_1000,
    /// PLIC source 1), and so on; at most [`VIRTIO_COUNT`].
    pub virtio: Vec<VirtioSpec>,
}

/// A virtio device of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtioSpec {
    /// `-drive file=IMG,if=virtio,...`: virtio-blk.
    Block(BlockConfig),
    /// `-device virtio-rng-device`: virtio-rng.
    Rng,
    /// `-device virtio-serial-device` (and `-device virtconsole,chardev=ID`
    /// with `-chardev socket,id=ID,path=PATH,server=on,wait=off`):
    /// virtio-console on hvc0, on a Unix socket server at `socket` or
    /// connected to nothing.
    Console {
        /// The socket's path.
        socket: Option<std::path::PathBuf>,
    },
    /// `-device vhost-vsock-device,guest-cid=N,uds=PATH`: virtio-vsock
    /// with its host end on Unix sockets ([`crate::virtio::vsock`]).
    Vsock {
        /// The guest's CID (3 and up).
        guest_cid: u64,
        /// The Unix socket the device listens on; guest connections to
        /// host port P go to `PATH_P`.
        uds: std::path::PathBuf,
    },
    /// `-device virtio-net-device,netdev=ID` with its `-netdev`:
    /// virtio-net.
    Net(NetConfig),
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
            virtio: Vec::new(),
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
    virtio: Vec<Arc<VirtioMmio>>,
    dma_watch: Option<Arc<DmaWatch>>,
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
            return refuse(format!("more than the host's {} MiB of memory", host >> 20));
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
        if cfg.virtio.len() > VIRTIO_COUNT as usize {
            return Err(Error::FdtArg(format!(
                "{} virtio devices (the virt machine has {VIRTIO_COUNT} slots)",
                cfg.virtio.len()
            )));
        }
        // Open the images first: a missing file is the likeliest error.
        let devices: Vec<Arc<dyn VirtioDevice>> = cfg
            .virtio
            .iter()
            .map(|v| -> Result<Arc<dyn VirtioDevice>> {
                Ok(match v {
                    VirtioSpec::Block(b) => Arc::new(Block::open(b)?),
                    VirtioSpec::Rng => Arc::new(Rng::new()),
                    VirtioSpec::Console { socket: None } => {
                        Arc::new(Console::new(Arc::new(NullBackend)))
                    }
                    VirtioSpec::Console { socket: Some(p) } => {
                        let b = SocketBackend::bind(p).map_err(|e| {
                            Error::VirtioSetup(format!("-chardev socket,path={}: {e}", p.display()))
                        })?;
                        Arc::new(Console::new(Arc::new(b)))
                    }
                    VirtioSpec::Vsock { guest_cid, uds } => {
                        Arc::new(Vsock::new(*guest_cid, uds).map_err(|e| {
                            Error::VirtioSetup(format!("-device vhost-vsock-device: {e}"))
                        })?)
                    }
                    VirtioSpec::Net(n) => Arc::new(Net::new(n).map_err(|e| {
                        let kind = match n.backend {
                            NetBackendSpec::User { .. } => "user",
                            NetBackendSpec::Stream { .. } => "stream",
                        };
                        Error::VirtioSetup(format!("-netdev {kind}: {e}"))
                    })?),
                })
            })
            .collect::<Result<_>>()?;
        let ram = Arc::new(Ram::new(GuestPhysAddr(DRAM_BASE), cfg.ram_size)?);
        let mut placed = cfg.clone();
        for slot in 0..devices.len() as u32 {
            if !placed.virtio_slots.contains(&slot) {
                placed.virtio_slots.push(slot);
            }
        }
        let (layout, fdt, rom) = place_images(&ram, &placed)?;

        let harts = cfg.harts as usize;
        let plic = Arc::new(Plic::new(harts));
        let aclint = Arc::new(Aclint::new(harts));
        let uart = Arc::new(Uart16550::new(Arc::new(plic.irq_line(UART0_IRQ)), serial));
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

        let mut virtio = Vec::new();
        let mut dma_watch = None;
        if !devices.is_empty() {
            let dram = Arc::new(DeviceRam::new(ram.clone())?);
            dma_watch = Some(dram.watch().clone());
            for (slot, dev) in (0u32..).zip(devices) {
                let irq = Arc::new(plic.irq_line(VIRTIO_IRQ + slot));
                let t = Arc::new(VirtioMmio::new(dev, dram.clone(), irq));
                bus.insert(
                    VIRTIO_BASE + u64::from(slot) * VIRTIO_SIZE,
                    VIRTIO_SIZE,
                    t.clone(),
                )?;
                virtio.push(t);
            }
        }

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
            virtio,
            dma_watch,
        })
    }

    /// The virtio-mmio transports, slot 0 first.
    pub fn virtio(&self) -> &[Arc<VirtioMmio>] {
        &self.virtio
    }

    /// Where the virtio devices report their writes to guest RAM (`None`
    /// without virtio devices): the CPU side hooks code invalidation
    /// there.
    pub fn dma_watch(&self) -> Option<&Arc<DmaWatch>> {
        self.dma_watch.as_ref()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::testimg::{elf, image};
    use std::sync::Mutex;

    const MIB: u64 = 1 << 20;

    /// A serial sink the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn sink() -> SerialOut {
        Box::new(std::io::sink())
    }

    /// 2 harts, 256 MiB, a 100 KiB firmware, an Image, an initrd.
    fn linux_like() -> VirtConfig {
        let mut c = VirtConfig::new(2, 256 * MIB);
        c.firmware = Some(BootFile::from_bytes(
            "fw_dynamic.bin",
            vec![0x73; 100 << 10],
        ));
        c.kernel = Some(BootFile::from_bytes(
            "Image",
            image(0x20_0000, 0x100_0000, 0x1000),
        ));
        c.initrd = Some(BootFile::from_bytes("initrd", vec![0x1f; 0x2_1234]));
        c.bootargs = "console=ttyS0 rdinit=/init quiet".into();
        c.virtio_slots = vec![0];
        c
    }

    fn peek(m: &VirtMachine, at: u64, len: u64) -> Vec<u8> {
        let mut b = vec![0; len as usize];
        m.ram().read(GuestPhysAddr(at), &mut b).unwrap();
        b
    }

    #[test]
    fn images_are_placed_like_qemu() {
        let m = VirtMachine::new(&linux_like(), sink()).unwrap();
        let l = m.layout();
        let fw = l.firmware.unwrap();
        let k = l.kernel.unwrap();
        let (is, ie) = l.initrd.unwrap();
        let (fdt, fdt_len) = l.fdt;
        assert_eq!(
            (fw.entry, fw.start, fw.end),
            (0x8000_0000, 0x8000_0000, 0x8001_9000)
        );
        assert_eq!((k.entry, k.end), (0x8020_0000, 0x8120_0000));
        assert_eq!(is, 0x8020_0000 + 128 * MIB);
        assert_eq!(ie - is, 0x2_1234);
        assert_eq!(fdt, 0x8000_0000 + 254 * MIB);
        assert_eq!(fdt % boot::FDT_ALIGN, 0);
        assert_eq!(is % PAGE_SIZE, 0);
        // In RAM, ordered, disjoint.
        let ram_end = DRAM_BASE + 256 * MIB;
        assert!(fw.end <= k.start && k.end <= is && ie <= fdt && fdt + fdt_len <= ram_end);
        // The bytes are there.
        assert_eq!(peek(&m, 0x8000_0000, 4), [0x73; 4]);
        assert_eq!(peek(&m, 0x8020_0000, 64), image(0x20_0000, 0x100_0000, 0));
        assert_eq!(peek(&m, is, 4), [0x1f; 4]);
        assert_eq!(peek(&m, ie - 1, 2), [0x1f, 0]);
        assert_eq!(peek(&m, fdt, fdt_len), m.fdt());
        assert_eq!(
            l.info,
            FwDynamicInfo {
                next_addr: 0x8020_0000,
                next_mode: 1,
                options: 0,
                boot_hart: 0
            }
        );
    }

    #[test]
    fn the_fdt_in_ram_parses_back() {
        let m = VirtMachine::new(&linux_like(), sink()).unwrap();
        let (at, len) = m.layout().fdt;
        let blob = peek(&m, at, len);
        let fdt = fdt::Fdt::new(&blob).unwrap();
        let chosen = fdt.find_node("/chosen").unwrap();
        assert_eq!(
            chosen.property("bootargs").unwrap().as_str(),
            Some("console=ttyS0 rdinit=/init quiet")
        );
        let (is, ie) = m.layout().initrd.unwrap();
        assert_eq!(
            chosen.property("linux,initrd-start").unwrap().as_usize(),
            Some(is as usize)
        );
        assert_eq!(
            chosen.property("linux,initrd-end").unwrap().as_usize(),
            Some(ie as usize)
        );
        let mem = fdt.find_node("/memory@80000000").unwrap();
        let reg: Vec<u8> = mem.property("reg").unwrap().value.to_vec();
        assert_eq!(reg[12..16], ((256 * MIB) as u32).to_be_bytes());
        assert_eq!(fdt.cpus().count(), 2);
        assert!(fdt.find_node("/soc/virtio_mmio@10001000").is_some());
    }

    #[test]
    fn harts_start_with_fw_dynamic_registers() {
        let m = VirtMachine::new(&linux_like(), sink()).unwrap();
        for h in 0..2 {
            assert_eq!(
                m.hart_boot(h),
                HartBoot {
                    pc: 0x8000_0000,
                    a0: u64::from(h),
                    a1: m.layout().fdt.0,
                    a2: 0x1028,
                }
            );
        }
        // The ROM, read over the bus, holds the reset vector, the entry,
        // the FDT address and fw_dynamic_info at a2.
        let bus = m.bus();
        assert_eq!(bus.read(boot::RESET_VECTOR, 4), Some(0x0000_0297));
        assert_eq!(bus.read(0x1018, 8), Some(0x8000_0000));
        assert_eq!(bus.read(0x1020, 8), Some(m.layout().fdt.0));
        let info: Vec<u8> = (0..6)
            .flat_map(|i| bus.read(0x1028 + 8 * i, 8).unwrap().to_le_bytes())
            .collect();
        assert_eq!(info, m.layout().info.to_bytes());
        assert_eq!(bus.read(0x1028, 4), Some(boot::FW_DYNAMIC_INFO_MAGIC));
    }

    #[test]
    fn without_firmware_the_kernel_is_entered_directly() {
        let mut c = linux_like();
        c.firmware = None;
        c.initrd = None;
        let m = VirtMachine::new(&c, sink()).unwrap();
        assert_eq!(m.layout().kernel.unwrap().entry, 0x8020_0000);
        assert_eq!(m.hart_boot(0).pc, 0x8020_0000);
        assert_eq!(m.layout().initrd, None);
        // An ELF kernel linked at physical 0 lands in the kernel slot.
        c.kernel = Some(BootFile::from_bytes(
            "vmlinux",
            elf(
                243,
                0xffff_ffff_8000_0000,
                &[(0, 0xffff_ffff_8000_0000, &[3; 16], 0x1000)],
            ),
        ));
        c.firmware = Some(BootFile::from_bytes("fw", vec![0; 4]));
        let m = VirtMachine::new(&c, sink()).unwrap();
        assert_eq!(m.layout().kernel.unwrap().entry, 0x8020_0000);
        assert_eq!(m.layout().info.next_addr, 0x8020_0000);
        assert_eq!(peek(&m, 0x8020_0000, 2), [3, 3]);
    }

    #[test]
    fn every_device_answers_at_its_address() {
        let out = Captured::default();
        let mut m = VirtMachine::new(&VirtConfig::new(1, 16 * MIB), Box::new(out.clone())).unwrap();
        let bus = m.bus().clone();
        // Mask ROM.
        assert_eq!(bus.read(MROM_BASE, 4), Some(0x297));
        // UART0: LSR says THR empty; a byte to THR reaches the host.
        assert_eq!(bus.read(UART0_BASE + 5, 1).map(|v| v & 0x60), Some(0x60));
        assert!(bus.write(UART0_BASE, 1, u64::from(b'A')));
        assert_eq!(*out.0.lock().unwrap(), b"A");
        // CLINT: mtimecmp reads back.
        assert!(bus.write(CLINT_BASE + 0x4000, 8, 1234));
        assert_eq!(bus.read(CLINT_BASE + 0x4000, 8), Some(1234));
        assert!(bus.read(CLINT_BASE + 0xbff8, 8).is_some());
        // PLIC: priority of source 10 reads back.
        assert!(bus.write(PLIC_BASE + 40, 4, 3));
        assert_eq!(bus.read(PLIC_BASE + 40, 4), Some(3));
        assert!(bus.read(PLIC_BASE + plic::mmio_size(1) - 4, 4).is_some());
        assert!(bus.read(PLIC_BASE + plic::mmio_size(1), 4).is_none());
        // RTC: the time is the host's wall clock (after 2020).
        let lo = bus.read(RTC_BASE, 4).unwrap();
        let hi = bus.read(RTC_BASE + 4, 4).unwrap();
        assert!((hi << 32 | lo) > 1_577_836_800_000_000_000);
        // Test finisher: poweroff reaches the event channel.
        let ev = m.take_finisher_events().unwrap();
        assert!(m.take_finisher_events().is_none());
        assert!(bus.write(TEST_BASE, 4, 0x5555));
        assert_eq!(ev.try_recv(), Ok(FinisherEvent::Pass));
        assert!(bus.write(TEST_BASE, 4, 0x0002_3333));
        assert_eq!(ev.try_recv(), Ok(FinisherEvent::Fail(2)));
        // Holes: virtio slots (not yet devices), below the ROM, RAM.
        for a in [
            0,
            VIRTIO_BASE,
            VIRTIO_BASE + 7 * VIRTIO_SIZE,
            DRAM_BASE,
            0x10_2000,
        ] {
            assert_eq!(bus.read(a, 4), None, "{a:#x}");
        }
    }

    #[test]
    fn uart_and_rtc_interrupts_reach_the_plic() {
        let m = VirtMachine::new(&VirtConfig::new(1, 16 * MIB), sink()).unwrap();
        let bus = m.bus();
        let ctx = 1u64; // hart 0, S mode
        for src in [UART0_IRQ, RTC_IRQ] {
            assert!(bus.write(PLIC_BASE + 4 * u64::from(src), 4, 1));
        }
        let en = (1u64 << UART0_IRQ) | (1 << RTC_IRQ);
        assert!(bus.write(
            PLIC_BASE + plic::ENABLE_BASE + ctx * plic::ENABLE_STRIDE,
            4,
            en
        ));
        let claim = PLIC_BASE + plic::CONTEXT_BASE + ctx * plic::CONTEXT_STRIDE + 4;

        // UART: received-data interrupt.
        assert!(bus.write(UART0_BASE + 1, 1, 1)); // IER.ERBFI
        m.uart().enqueue_input(b"x").unwrap();
        assert!(m.plic().context_pending(1));
        assert_eq!(bus.read(claim, 4), Some(u64::from(UART0_IRQ)));
        assert_eq!(bus.read(UART0_BASE, 1), Some(u64::from(b'x')));
        assert!(bus.write(claim, 4, u64::from(UART0_IRQ)));
        assert!(!m.plic().context_pending(1));

        // RTC: an alarm in the past fires at once.
        assert!(bus.write(RTC_BASE + 0x10, 4, 1)); // IRQ_ENABLED
        assert!(bus.write(RTC_BASE + 0x0c, 4, 0)); // ALARM_HIGH
        assert!(bus.write(RTC_BASE + 0x08, 4, 1)); // ALARM_LOW arms it
        m.rtc().poll();
        assert!(m.plic().context_pending(1));
        assert_eq!(bus.read(claim, 4), Some(u64::from(RTC_IRQ)));

        // virtio lines exist for slots 0..8 only.
        let v = m.virtio_irq(2).unwrap();
        crate::bus::IrqLine::raise(&v);
        assert_eq!(m.plic().state().pending[0] >> 3 & 1, 1);
        assert!(m.virtio_irq(8).is_none());
    }

    #[test]
    fn ram_size_limits() {
        for (size, what) in [
            (MIB, "minimum"),
            (16 * MIB + 1, "4 KiB"),
            (MAX_RAM_SIZE + 4096, "maximum"),
        ] {
            let e = VirtMachine::new(&VirtConfig::new(1, size), sink()).unwrap_err();
            assert!(matches!(e, Error::RamSize { .. }), "{e}");
            assert!(e.to_string().contains(what), "{e}");
        }
        if let Some(host) = host_memory() {
            let too_big = (host + 4096) & !0xfff;
            if too_big <= MAX_RAM_SIZE {
                let e = check_ram_size(too_big).unwrap_err();
                assert!(e.to_string().contains("host"), "{e}");
            }
        }
        check_ram_size(MIN_RAM_SIZE).unwrap();
    }

    #[test]
    fn hart_counts() {
        for harts in [0, MAX_HARTS + 1] {
            let e = VirtMachine::new(&VirtConfig::new(harts, 16 * MIB), sink()).unwrap_err();
            assert!(matches!(e, Error::FdtArg(_)), "{e}");
        }
        let m = VirtMachine::new(&VirtConfig::new(8, 16 * MIB), sink()).unwrap();
        assert_eq!(m.plic().contexts(), 16);
        assert_eq!(m.hart_boot(7).a0, 7);
    }

    #[test]
    fn images_that_do_not_fit() {
        // An initrd as large as RAM.
        let mut c = linux_like();
        c.ram_size = 32 * MIB;
        c.initrd = Some(BootFile::from_bytes("big.cpio.gz", vec![0; 32 << 20]));
        let e = VirtMachine::new(&c, sink()).unwrap_err();
        assert!(
            matches!(e, Error::DoesNotFit { ref what, .. } if what == "initrd"),
            "{e}"
        );
        // A kernel whose image_size passes the end of RAM.
        let mut c = linux_like();
        c.ram_size = 16 * MIB;
        c.initrd = None;
        c.kernel = Some(BootFile::from_bytes(
            "Image",
            image(0x20_0000, 15 * MIB, 16),
        ));
        let e = VirtMachine::new(&c, sink()).unwrap_err();
        assert!(
            matches!(e, Error::DoesNotFit { ref what, .. } if what == "kernel"),
            "{e}"
        );
        // A kernel that runs into the FDT's slot.
        c.kernel = Some(BootFile::from_bytes(
            "Image",
            image(0x20_0000, 13 * MIB, 16),
        ));
        let e = VirtMachine::new(&c, sink()).unwrap_err();
        assert!(
            matches!(e, Error::ImageOverlap { ref other, .. } if other == "kernel"),
            "{e}"
        );
        // Firmware larger than RAM.
        let mut c = VirtConfig::new(1, 16 * MIB);
        c.firmware = Some(BootFile::from_bytes("fw", vec![0; 17 << 20]));
        let e = VirtMachine::new(&c, sink()).unwrap_err();
        assert!(
            matches!(e, Error::DoesNotFit { ref what, .. } if what == "firmware"),
            "{e}"
        );
        // Error messages are one line.
        assert!(!e.to_string().contains('\n'));
    }

    /// Debian's OpenSBI and kernel, when `CRANEMU_FW_DYNAMIC` (a
    /// `fw_dynamic.bin` or `.elf`) and `CRANEMU_KERNEL` (e.g.
    /// `/boot/vmlinux-6.12.*-riscv64`, an Image with an EFI stub) name
    /// them; skipped otherwise.
    #[test]
    fn debian_images_if_given() {
        let (Ok(fw), Ok(k)) = (
            std::env::var("CRANEMU_FW_DYNAMIC"),
            std::env::var("CRANEMU_KERNEL"),
        ) else {
            return;
        };
        let mut c = VirtConfig::new(1, 512 * MIB);
        c.firmware = Some(BootFile::read(&fw).unwrap());
        c.kernel = Some(BootFile::read(&k).unwrap());
        c.initrd = Some(BootFile::from_bytes("initrd", vec![0; 4 << 20]));
        c.bootargs = "console=ttyS0 rdinit=/init quiet".into();
        let m = VirtMachine::new(&c, sink()).unwrap();
        let l = m.layout();
        let (fw, k) = (l.firmware.unwrap(), l.kernel.unwrap());
        eprintln!("{l:#x?}");
        assert_eq!(fw.entry, DRAM_BASE);
        assert!(fw.end <= 0x8020_0000);
        assert_eq!(k.entry, 0x8020_0000);
        assert_eq!(l.info.next_addr, 0x8020_0000);
        assert_eq!(m.hart_boot(0).pc, DRAM_BASE);
        let h = boot::ImageHeader::parse(c.kernel.as_ref().unwrap()).unwrap();
        if let Some(h) = h {
            assert_eq!(h.text_offset, 0x20_0000);
            assert_eq!(
                k.end - k.start,
                h.image_size
                    .max(c.kernel.as_ref().unwrap().data.len() as u64)
            );
        }
    }
}
