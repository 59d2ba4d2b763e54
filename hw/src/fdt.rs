//! The flattened device tree of the `virt` machine, written with `vm-fdt`.
//! It follows what QEMU's `hw/riscv/virt.c` (`create_fdt*`) emits, reduced
//! to the devices this crate has:
//!
//! - `/` with `#address-cells = #size-cells = 2`, `compatible =
//!   "riscv-virtio"`, `model = "riscv-virtio,qemu"`;
//! - `/chosen`: `bootargs`, `stdout-path = "/soc/serial@10000000"`, and
//!   `linux,initrd-start`/`linux,initrd-end` (64-bit) when an initrd is given;
//! - `/memory@80000000`;
//! - `/cpus` with `timebase-frequency = 10000000` and one `cpu@N` per hart:
//!   `riscv,isa = "rv64imafdc_zicntr_zicsr_zifencei_sstc"`,
//!   `riscv,isa-base = "rv64i"`, `riscv,isa-extensions` (the list form Linux
//!   6.x prefers), `mmu-type = "riscv,sv48"`, and an `interrupt-controller`
//!   child (`riscv,cpu-intc`). Sv48 is what the softmmu's page walker is
//!   planned to do (Sv39 and Sv48); Linux then picks Sv48 and falls back to
//!   Sv39 itself if `satp` refuses it;
//! - `/soc` (`simple-bus`): `clint@2000000` (`sifive,clint0`,
//!   `riscv,clint0`, `interrupts-extended` = each hart's MSIP 3 and MTIP 7),
//!   `plic@c000000` (`sifive,plic-1.0.0`, `riscv,plic0`, `riscv,ndev = 95`,
//!   `interrupts-extended` = each hart's MEIP 11 and SEIP 9, so context 2h
//!   is M mode and 2h+1 S mode), `serial@10000000` (`ns16550a`),
//!   `test@100000` (`sifive,test1`, `sifive,test0`, `syscon`), `rtc@101000`
//!   (`google,goldfish-rtc`), and `virtio_mmio@...` nodes added with
//!   [`VirtFdt::add_virtio_mmio`];
//! - `/poweroff` (`syscon-poweroff`, value 0x5555) and `/reboot`
//!   (`syscon-reboot`, value 0x7777), pointing at the test device.
//!
//! Phandles: hart h's interrupt controller is h + 1, the PLIC harts + 1,
//! the test device harts + 2.

use crate::layout::*;
use crate::{plic, Error, Result};

/// `riscv,isa`: the ISA string OpenSBI and Linux parse.
pub const ISA: &str = "rv64imafdc_zicntr_zicsr_zifencei_sstc";
/// `riscv,isa-extensions`.
pub const ISA_EXTENSIONS: &[&str] = &[
    "i", "m", "a", "f", "d", "c", "zicntr", "zicsr", "zifencei", "sstc",
];
/// `mmu-type` (see the module doc).
pub const MMU_TYPE: &str = "riscv,sv48";

/// Local interrupt numbers of `mip` (privileged spec §3.1.9).
const IRQ_M_SOFT: u32 = 3;
const IRQ_M_TIMER: u32 = 7;
const IRQ_S_EXT: u32 = 9;
const IRQ_M_EXT: u32 = 11;

/// What goes into the device tree. Fill it, then [`VirtFdt::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtFdt {
    /// Number of harts (1..=[`crate::aclint::MAX_HARTS`]).
    pub harts: u32,
    /// RAM size (bytes), at [`DRAM_BASE`].
    pub ram_size: u64,
    /// The kernel command line (`/chosen/bootargs`).
    pub bootargs: String,
    /// The initrd's guest-physical `[start, end)`, if any.
    pub initrd: Option<(u64, u64)>,
    /// virtio-mmio slots (0..8) to describe, in order added.
    pub virtio_slots: Vec<u32>,
}

impl VirtFdt {
    /// A machine of `harts` harts and `ram_size` bytes of RAM, with no
    /// bootargs, initrd or virtio devices.
    pub fn new(harts: u32, ram_size: u64) -> VirtFdt {
        VirtFdt {
            harts,
            ram_size,
            bootargs: String::new(),
            initrd: None,
            virtio_slots: Vec::new(),
        }
    }

    /// Describes virtio-mmio slot `slot`: `virtio,mmio` at
    /// `0x1000_1000 + 0x1000·slot`, PLIC source `1 + slot`.
    ///
    /// # Errors
    /// [`Error::FdtArg`] for a slot past the eighth or one already added.
    pub fn add_virtio_mmio(&mut self, slot: u32) -> Result<()> {
        if slot >= VIRTIO_COUNT || self.virtio_slots.contains(&slot) {
            return Err(Error::FdtArg(format!("virtio-mmio slot {slot}")));
        }
        self.virtio_slots.push(slot);
        Ok(())
    }

    /// The device tree blob.
    ///
    /// # Errors
    /// [`Error::FdtArg`] for 0 harts or more than the CLINT can address, or
    /// an initrd that ends before it starts; [`Error::Fdt`] if `vm-fdt`
    /// fails.
    pub fn build(&self) -> Result<Vec<u8>> {
        let harts = self.harts;
        if harts == 0 || harts as usize > crate::aclint::MAX_HARTS {
            return Err(Error::FdtArg(format!("{harts} harts")));
        }
        let intc = |h: u32| h + 1;
        let plic_ph = harts + 1;
        let test_ph = harts + 2;
        let reg = |base: u64, size: u64| {
            [
                base >> 32,
                base & 0xffff_ffff,
                size >> 32,
                size & 0xffff_ffff,
            ]
            .map(|c| c as u32)
        };

        let mut f = vm_fdt::FdtWriter::new()?;
        let root = f.begin_node("")?;
        f.property_u32("#address-cells", 2)?;
        f.property_u32("#size-cells", 2)?;
        f.property_string("compatible", "riscv-virtio")?;
        f.property_string("model", "riscv-virtio,qemu")?;

        let chosen = f.begin_node("chosen")?;
        f.property_string("bootargs", &self.bootargs)?;
        f.property_string("stdout-path", &format!("/soc/serial@{UART0_BASE:x}"))?;
        if let Some((start, end)) = self.initrd {
            if end < start {
                return Err(Error::FdtArg(format!("initrd {start:#x}..{end:#x}")));
            }
            f.property_u64("linux,initrd-start", start)?;
            f.property_u64("linux,initrd-end", end)?;
        }
        f.end_node(chosen)?;

        let mem = f.begin_node(&format!("memory@{DRAM_BASE:x}"))?;
        f.property_string("device_type", "memory")?;
        f.property_array_u32("reg", &reg(DRAM_BASE, self.ram_size))?;
        f.end_node(mem)?;

        let cpus = f.begin_node("cpus")?;
        f.property_u32("#address-cells", 1)?;
        f.property_u32("#size-cells", 0)?;
        f.property_u32("timebase-frequency", TIMEBASE_FREQ as u32)?;
        for h in 0..harts {
            let cpu = f.begin_node(&format!("cpu@{h}"))?;
            f.property_string("device_type", "cpu")?;
            f.property_u32("reg", h)?;
            f.property_string("status", "okay")?;
            f.property_string("compatible", "riscv")?;
            f.property_string("riscv,isa", ISA)?;
            f.property_string("riscv,isa-base", "rv64i")?;
            f.property_string_list(
                "riscv,isa-extensions",
                ISA_EXTENSIONS.iter().map(|s| s.to_string()).collect(),
            )?;
            f.property_string("mmu-type", MMU_TYPE)?;
            let ic = f.begin_node("interrupt-controller")?;
            f.property_u32("#interrupt-cells", 1)?;
            f.property_null("interrupt-controller")?;
            f.property_string("compatible", "riscv,cpu-intc")?;
            f.property_phandle(intc(h))?;
            f.end_node(ic)?;
            f.end_node(cpu)?;
        }
        f.end_node(cpus)?;

        let soc = f.begin_node("soc")?;
        f.property_u32("#address-cells", 2)?;
        f.property_u32("#size-cells", 2)?;
        f.property_string("compatible", "simple-bus")?;
        f.property_null("ranges")?;

        let clint = f.begin_node(&format!("clint@{CLINT_BASE:x}"))?;
        f.property_string_list(
            "compatible",
            vec!["sifive,clint0".into(), "riscv,clint0".into()],
        )?;
        f.property_array_u32("reg", &reg(CLINT_BASE, CLINT_SIZE))?;
        let ext: Vec<u32> = (0..harts)
            .flat_map(|h| [intc(h), IRQ_M_SOFT, intc(h), IRQ_M_TIMER])
            .collect();
        f.property_array_u32("interrupts-extended", &ext)?;
        f.end_node(clint)?;

        let plic = f.begin_node(&format!("plic@{PLIC_BASE:x}"))?;
        f.property_string_list(
            "compatible",
            vec!["sifive,plic-1.0.0".into(), "riscv,plic0".into()],
        )?;
        f.property_u32("#address-cells", 0)?;
        f.property_u32("#interrupt-cells", 1)?;
        f.property_null("interrupt-controller")?;
        f.property_array_u32("reg", &reg(PLIC_BASE, plic::mmio_size(harts as usize)))?;
        f.property_u32("riscv,ndev", (plic::NUM_SOURCES - 1) as u32)?;
        let ext: Vec<u32> = (0..harts)
            .flat_map(|h| [intc(h), IRQ_M_EXT, intc(h), IRQ_S_EXT])
            .collect();
        f.property_array_u32("interrupts-extended", &ext)?;
        f.property_phandle(plic_ph)?;
        f.end_node(plic)?;

        let uart = f.begin_node(&format!("serial@{UART0_BASE:x}"))?;
        f.property_string("compatible", "ns16550a")?;
        f.property_array_u32("reg", &reg(UART0_BASE, UART0_SIZE))?;
        f.property_u32("clock-frequency", crate::uart16550::CLOCK_FREQUENCY)?;
        f.property_u32("interrupt-parent", plic_ph)?;
        f.property_u32("interrupts", UART0_IRQ)?;
        f.end_node(uart)?;

        let test = f.begin_node(&format!("test@{TEST_BASE:x}"))?;
        f.property_string_list(
            "compatible",
            vec![
                "sifive,test1".into(),
                "sifive,test0".into(),
                "syscon".into(),
            ],
        )?;
        f.property_array_u32("reg", &reg(TEST_BASE, TEST_SIZE))?;
        f.property_phandle(test_ph)?;
        f.end_node(test)?;

        let rtc = f.begin_node(&format!("rtc@{RTC_BASE:x}"))?;
        f.property_string("compatible", "google,goldfish-rtc")?;
        f.property_array_u32("reg", &reg(RTC_BASE, RTC_SIZE))?;
        f.property_u32("interrupt-parent", plic_ph)?;
        f.property_u32("interrupts", RTC_IRQ)?;
        f.end_node(rtc)?;

        let mut slots = self.virtio_slots.clone();
        slots.sort_unstable();
        for slot in slots {
            let base = VIRTIO_BASE + u64::from(slot) * VIRTIO_SIZE;
            let v = f.begin_node(&format!("virtio_mmio@{base:x}"))?;
            f.property_string("compatible", "virtio,mmio")?;
            f.property_array_u32("reg", &reg(base, VIRTIO_SIZE))?;
            f.property_u32("interrupt-parent", plic_ph)?;
            f.property_u32("interrupts", VIRTIO_IRQ + slot)?;
            f.end_node(v)?;
        }
        f.end_node(soc)?;

        for (name, compat, value) in [
            (
                "poweroff",
                "syscon-poweroff",
                crate::sifive_test::FINISHER_PASS,
            ),
            (
                "reboot",
                "syscon-reboot",
                crate::sifive_test::FINISHER_RESET,
            ),
        ] {
            let n = f.begin_node(name)?;
            f.property_string("compatible", compat)?;
            f.property_u32("regmap", test_ph)?;
            f.property_u32("offset", 0)?;
            f.property_u32("value", value as u32)?;
            f.end_node(n)?;
        }

        f.end_node(root)?;
        Ok(f.finish()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[u8]) -> Vec<u32> {
        v.chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn strings(v: &[u8]) -> Vec<&str> {
        v.split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| std::str::from_utf8(s).unwrap())
            .collect()
    }

    fn sample() -> Vec<u8> {
        let mut m = VirtFdt::new(2, 512 << 20);
        m.bootargs = "console=ttyS0 rdinit=/init".into();
        m.initrd = Some((0x8800_0000, 0x8810_0000));
        m.add_virtio_mmio(1).unwrap();
        m.add_virtio_mmio(0).unwrap();
        m.build().unwrap()
    }

    #[test]
    fn chosen_memory_and_cpus() {
        let blob = sample();
        let fdt = fdt::Fdt::new(&blob).unwrap();
        let chosen = fdt.find_node("/chosen").unwrap();
        assert_eq!(
            chosen.property("bootargs").unwrap().as_str(),
            Some("console=ttyS0 rdinit=/init")
        );
        assert_eq!(
            chosen.property("stdout-path").unwrap().as_str(),
            Some("/soc/serial@10000000")
        );
        assert_eq!(
            chosen.property("linux,initrd-start").unwrap().as_usize(),
            Some(0x8800_0000)
        );
        assert_eq!(
            chosen.property("linux,initrd-end").unwrap().as_usize(),
            Some(0x8810_0000)
        );
        let mem = fdt.find_node("/memory@80000000").unwrap();
        assert_eq!(
            cells(mem.property("reg").unwrap().value),
            [0, 0x8000_0000, 0, 512 << 20]
        );

        let cpus = fdt.find_node("/cpus").unwrap();
        assert_eq!(
            cpus.property("timebase-frequency").unwrap().as_usize(),
            Some(10_000_000)
        );
        let harts: Vec<_> = cpus
            .children()
            .filter(|n| n.name.starts_with("cpu@"))
            .collect();
        assert_eq!(harts.len(), 2);
        for (h, cpu) in harts.iter().enumerate() {
            assert_eq!(cpu.name, format!("cpu@{h}"));
            assert_eq!(cpu.property("reg").unwrap().as_usize(), Some(h));
            assert_eq!(cpu.property("riscv,isa").unwrap().as_str(), Some(ISA));
            assert_eq!(
                cpu.property("riscv,isa-base").unwrap().as_str(),
                Some("rv64i")
            );
            let ext = strings(cpu.property("riscv,isa-extensions").unwrap().value);
            for e in ["zicsr", "zifencei", "zicntr", "sstc", "c"] {
                assert!(ext.contains(&e), "{e}");
            }
            assert_eq!(
                cpu.property("mmu-type").unwrap().as_str(),
                Some("riscv,sv48")
            );
            let ic = cpu
                .children()
                .find(|n| n.name == "interrupt-controller")
                .unwrap();
            assert_eq!(
                ic.property("compatible").unwrap().as_str(),
                Some("riscv,cpu-intc")
            );
            assert!(ic.property("interrupt-controller").is_some());
            assert_eq!(ic.property("phandle").unwrap().as_usize(), Some(h + 1));
        }
    }

    #[test]
    fn interrupt_controllers_route_to_each_hart() {
        let blob = sample();
        let fdt = fdt::Fdt::new(&blob).unwrap();
        let clint = fdt.find_node("/soc/clint@2000000").unwrap();
        assert!(strings(clint.property("compatible").unwrap().value).contains(&"riscv,clint0"));
        assert_eq!(
            cells(clint.property("reg").unwrap().value),
            [0, 0x200_0000, 0, 0x1_0000]
        );
        assert_eq!(
            cells(clint.property("interrupts-extended").unwrap().value),
            [1, 3, 1, 7, 2, 3, 2, 7]
        );
        let plic = fdt.find_node("/soc/plic@c000000").unwrap();
        assert_eq!(
            strings(plic.property("compatible").unwrap().value)[0],
            "sifive,plic-1.0.0"
        );
        assert_eq!(plic.property("riscv,ndev").unwrap().as_usize(), Some(95));
        assert_eq!(
            cells(plic.property("reg").unwrap().value),
            [0, 0xc00_0000, 0, 0x20_4000]
        );
        // Context 2h = M mode (MEIP 11), 2h+1 = S mode (SEIP 9).
        assert_eq!(
            cells(plic.property("interrupts-extended").unwrap().value),
            [1, 11, 1, 9, 2, 11, 2, 9]
        );
        assert_eq!(plic.property("phandle").unwrap().as_usize(), Some(3));
    }

    #[test]
    fn soc_devices() {
        let blob = sample();
        let fdt = fdt::Fdt::new(&blob).unwrap();
        let uart = fdt.find_node("/soc/serial@10000000").unwrap();
        assert_eq!(
            uart.property("compatible").unwrap().as_str(),
            Some("ns16550a")
        );
        assert_eq!(
            uart.property("clock-frequency").unwrap().as_usize(),
            Some(3_686_400)
        );
        assert_eq!(uart.property("interrupts").unwrap().as_usize(), Some(10));
        assert_eq!(
            uart.property("interrupt-parent").unwrap().as_usize(),
            Some(3)
        );
        let test = fdt.find_node("/soc/test@100000").unwrap();
        assert_eq!(
            strings(test.property("compatible").unwrap().value),
            ["sifive,test1", "sifive,test0", "syscon"]
        );
        assert_eq!(test.property("phandle").unwrap().as_usize(), Some(4));
        for (node, compat, value) in [
            ("/poweroff", "syscon-poweroff", 0x5555),
            ("/reboot", "syscon-reboot", 0x7777),
        ] {
            let n = fdt.find_node(node).unwrap();
            assert_eq!(n.property("compatible").unwrap().as_str(), Some(compat));
            assert_eq!(n.property("regmap").unwrap().as_usize(), Some(4));
            assert_eq!(n.property("value").unwrap().as_usize(), Some(value));
        }
        let rtc = fdt.find_node("/soc/rtc@101000").unwrap();
        assert_eq!(
            rtc.property("compatible").unwrap().as_str(),
            Some("google,goldfish-rtc")
        );
        assert_eq!(rtc.property("interrupts").unwrap().as_usize(), Some(11));
        for (slot, name) in [
            (0, "/soc/virtio_mmio@10001000"),
            (1, "/soc/virtio_mmio@10002000"),
        ] {
            let v = fdt.find_node(name).unwrap();
            assert_eq!(
                v.property("compatible").unwrap().as_str(),
                Some("virtio,mmio")
            );
            assert_eq!(
                cells(v.property("reg").unwrap().value)[1],
                0x1000_1000 + 0x1000 * slot
            );
            assert_eq!(
                v.property("interrupts").unwrap().as_usize(),
                Some(1 + slot as usize)
            );
        }
        assert!(fdt.find_node("/soc/virtio_mmio@10003000").is_none());
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(matches!(
            VirtFdt::new(0, 1 << 20).build(),
            Err(Error::FdtArg(_))
        ));
        let mut m = VirtFdt::new(1, 1 << 20);
        assert!(m.add_virtio_mmio(8).is_err());
        m.add_virtio_mmio(3).unwrap();
        assert!(m.add_virtio_mmio(3).is_err());
        m.initrd = Some((0x9000_0000, 0x8000_0000));
        assert!(matches!(m.build(), Err(Error::FdtArg(_))));
        // No initrd: no initrd properties.
        let blob = VirtFdt::new(1, 1 << 20).build().unwrap();
        let fdt = fdt::Fdt::new(&blob).unwrap();
        assert!(fdt
            .find_node("/chosen")
            .unwrap()
            .property("linux,initrd-start")
            .is_none());
    }

    /// Decompiles the blob with `dtc` when the host has it (not required).
    #[test]
    fn dtc_accepts_the_blob_if_present() {
        let path = std::env::temp_dir().join(format!("cranemu-hw-{}.dtb", std::process::id()));
        std::fs::write(&path, sample()).unwrap();
        let out = std::process::Command::new("dtc")
            .args(["-I", "dtb", "-O", "dts"])
            .arg(&path)
            .output();
        let _ = std::fs::remove_file(&path);
        let Ok(out) = out else { return }; // no dtc
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("sifive,plic-1.0.0"));
    }
}
