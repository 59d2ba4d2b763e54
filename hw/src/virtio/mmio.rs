//! The virtio-mmio transport, virtio 1.2 §4.2 ("Virtio Over MMIO"),
//! version 2 (modern) only: no legacy `GuestPageSize`/`QueuePFN`.
//!
//! | offset | register | access |
//! |---|---|---|
//! | 0x000 | `MagicValue` = "virt" (0x7472_6976) | R |
//! | 0x004 | `Version` = 2 | R |
//! | 0x008 | `DeviceID` | R |
//! | 0x00c | `VendorID` = "QEMU" (0x554d_4551), as QEMU's | R |
//! | 0x010 / 0x014 | `DeviceFeatures` / `DeviceFeaturesSel` | R / W |
//! | 0x020 / 0x024 | `DriverFeatures` / `DriverFeaturesSel` | W / W |
//! | 0x030 | `QueueSel` | W |
//! | 0x034 | `QueueNumMax` (0: no such queue) | R |
//! | 0x038 | `QueueNum` | W |
//! | 0x044 | `QueueReady` | RW |
//! | 0x050 | `QueueNotify` | W |
//! | 0x060 / 0x064 | `InterruptStatus` / `InterruptACK` | R / W |
//! | 0x070 | `Status` | RW |
//! | 0x080..0x0a4 | `QueueDesc`, `QueueDriver`, `QueueDevice` (low, high) | W |
//! | 0x0ac..0x0bc | `SHMSel`, `SHMLen` (-1: none), `SHMBase` | W, R |
//! | 0x0fc | `ConfigGeneration` | R |
//! | 0x100.. | device configuration space | RW |
//!
//! Registers below 0x100 take 32-bit aligned accesses only (§4.2.2.2);
//! others read 0 and are ignored. The configuration space takes 1, 2, 4
//! and 8-byte accesses.
//!
//! Status (§2.1, §3.1.1): a write of 0 resets the device (it returns once
//! no request is in flight); `FEATURES_OK` is kept only if the driver
//! accepted a subset of the offered features including
//! `VIRTIO_F_VERSION_1`; `DRIVER_OK` after `FEATURES_OK` activates the
//! device with its ready queues. A queue whose size is not a power of two,
//! is larger than `QueueNumMax`, or whose rings do not lie in RAM, puts the
//! device in "needs reset" (`DEVICE_NEEDS_RESET`, bit 6) at activation.
//!
//! Lock order: the transport's lock, then the device's, then a queue's,
//! then the interrupt's (and the PLIC's).

use std::sync::{Arc, Mutex};

use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_mmio::*;
use virtio_queue::{Queue, QueueT};

use super::{ActiveQueue, DeviceRam, DeviceSignals, Interrupt, VirtioDevice};
use crate::bus::{IrqLine, MmioDevice};
use crate::lock;

/// `MagicValue`: "virt" little-endian.
pub const MAGIC: u32 = 0x7472_6976;
/// `Version` of the modern transport.
pub const VERSION: u32 = 2;
/// `VendorID`: QEMU's ("QEMU" little-endian), which Linux ignores.
pub const VENDOR_ID: u32 = 0x554d_4551;
/// Offset of the device configuration space.
pub const CONFIG_OFFSET: u64 = VIRTIO_MMIO_CONFIG as u64;

/// The registers of one queue, as the driver wrote them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueRegs {
    /// `QueueNum`, as written (checked at activation).
    pub num: u32,
    /// `QueueReady`.
    pub ready: bool,
    /// `QueueDesc` (guest physical).
    pub desc: u64,
    /// `QueueDriver`: the available ring.
    pub driver: u64,
    /// `QueueDevice`: the used ring.
    pub device: u64,
}

/// The transport's registers; `Default` is the reset state (with no
/// queues: [`VirtioMmio::new`] sizes `queues`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MmioState {
    /// `Status` as the driver wrote it (without `DEVICE_NEEDS_RESET`).
    pub status: u32,
    /// `DeviceFeaturesSel`.
    pub device_features_sel: u32,
    /// `DriverFeaturesSel`.
    pub driver_features_sel: u32,
    /// The features the driver accepted so far.
    pub driver_features: u64,
    /// `QueueSel`.
    pub queue_sel: u32,
    /// Per-queue registers.
    pub queues: Vec<QueueRegs>,
    /// Whether the device was activated (`DRIVER_OK` seen).
    pub active: bool,
}

/// A virtio-mmio transport with its device. See the module doc.
pub struct VirtioMmio {
    device: Arc<dyn VirtioDevice>,
    ram: Arc<DeviceRam>,
    signals: Mutex<Arc<DeviceSignals>>,
    interrupt: Arc<Interrupt>,
    state: Mutex<MmioState>,
}

impl std::fmt::Debug for VirtioMmio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtioMmio")
            .field("device_type", &self.device.device_type())
            .field("state", &*lock(&self.state))
            .finish()
    }
}

fn lo(v: u64) -> u64 {
    v & 0xffff_ffff
}

fn hi(v: u64) -> u64 {
    v >> 32
}

fn set_lo(old: u64, v: u32) -> u64 {
    (old & !0xffff_ffff) | u64::from(v)
}

fn set_hi(old: u64, v: u32) -> u64 {
    (old & 0xffff_ffff) | (u64::from(v) << 32)
}

impl VirtioMmio {
    /// A transport for `device`, reaching guest memory through `ram` and
    /// interrupting on `irq`.
    pub fn new(
        device: Arc<dyn VirtioDevice>,
        ram: Arc<DeviceRam>,
        irq: Arc<dyn IrqLine>,
    ) -> VirtioMmio {
        let interrupt = Arc::new(Interrupt::new(irq));
        let state = MmioState {
            queues: vec![QueueRegs::default(); device.queue_max_sizes().len()],
            ..MmioState::default()
        };
        VirtioMmio {
            device,
            ram,
            signals: Mutex::new(Arc::new(DeviceSignals::new(interrupt.clone()))),
            interrupt,
            state: Mutex::new(state),
        }
    }

    /// The device behind the transport.
    pub fn device(&self) -> &Arc<dyn VirtioDevice> {
        &self.device
    }

    /// A copy of the registers.
    pub fn state(&self) -> MmioState {
        lock(&self.state).clone()
    }

    /// The `Status` register as the driver reads it.
    pub fn status(&self) -> u32 {
        let s = lock(&self.state);
        self.read_status(&s)
    }

    fn read_status(&self, s: &MmioState) -> u32 {
        let failed = lock(&self.signals).failed();
        s.status
            | if failed {
                VIRTIO_CONFIG_S_NEEDS_RESET
            } else {
                0
            }
    }

    /// Resets device and transport (§2.4): waits for the device to stop.
    fn reset(&self, s: &mut MmioState) {
        if s.active {
            self.device.reset();
        }
        let queues = s.queues.len();
        *s = MmioState {
            queues: vec![QueueRegs::default(); queues],
            ..MmioState::default()
        };
        self.interrupt.reset();
        *lock(&self.signals) = Arc::new(DeviceSignals::new(self.interrupt.clone()));
    }

    /// A `Status` write other than 0.
    fn write_status(&self, s: &mut MmioState, mut v: u32) {
        let old = s.status;
        let newly = v & !old;
        if newly & VIRTIO_CONFIG_S_FEATURES_OK != 0 {
            let offered = self.device.features();
            let ok = s.driver_features & !offered == 0
                && s.driver_features & (1 << VIRTIO_F_VERSION_1) != 0
                && (old | v) & VIRTIO_CONFIG_S_DRIVER != 0;
            if !ok {
                v &= !VIRTIO_CONFIG_S_FEATURES_OK;
            }
        }
        // The device keeps bits once set (the driver must not clear them,
        // §2.1.2); only a write of 0 resets.
        s.status = old | v;
        if newly & VIRTIO_CONFIG_S_DRIVER_OK != 0
            && s.status & VIRTIO_CONFIG_S_FEATURES_OK != 0
            && !s.active
        {
            self.activate(s);
        }
    }

    /// Builds the queues and starts the device.
    fn activate(&self, s: &mut MmioState) {
        s.active = true;
        let signals = lock(&self.signals).clone();
        let mem = self.ram.mem();
        let event_idx =
            s.driver_features & (1 << virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX) != 0;
        let mut queues = Vec::new();
        for (r, &max) in s.queues.iter().zip(self.device.queue_max_sizes()) {
            let Ok(mut q) = Queue::new(max) else {
                signals.fail();
                return;
            };
            if r.ready {
                let size_ok = r.num != 0
                    && r.num <= u32::from(max)
                    && r.num.is_power_of_two()
                    && q.try_set_size(r.num as u16).is_ok();
                if !size_ok {
                    signals.fail();
                    return;
                }
                q.set_desc_table_address(Some(lo(r.desc) as u32), Some(hi(r.desc) as u32));
                q.set_avail_ring_address(Some(lo(r.driver) as u32), Some(hi(r.driver) as u32));
                q.set_used_ring_address(Some(lo(r.device) as u32), Some(hi(r.device) as u32));
                q.set_event_idx(event_idx);
                q.set_ready(true);
                if q.desc_table() != r.desc
                    || q.avail_ring() != r.driver
                    || q.used_ring() != r.device
                    || !q.is_valid(mem)
                {
                    signals.fail();
                    return;
                }
            }
            queues.push(Arc::new(ActiveQueue {
                queue: Mutex::new(q),
                ram: self.ram.clone(),
                signals: signals.clone(),
            }));
        }
        self.device.activate(s.driver_features, queues);
    }

    fn read_reg(&self, s: &MmioState, offset: u32) -> u32 {
        let queue = s.queues.get(s.queue_sel as usize);
        match offset {
            VIRTIO_MMIO_MAGIC_VALUE => MAGIC,
            VIRTIO_MMIO_VERSION => VERSION,
            VIRTIO_MMIO_DEVICE_ID => self.device.device_type(),
            VIRTIO_MMIO_VENDOR_ID => VENDOR_ID,
            VIRTIO_MMIO_DEVICE_FEATURES => match s.device_features_sel {
                0 => lo(self.device.features()) as u32,
                1 => hi(self.device.features()) as u32,
                _ => 0,
            },
            VIRTIO_MMIO_QUEUE_NUM_MAX => self
                .device
                .queue_max_sizes()
                .get(s.queue_sel as usize)
                .map_or(0, |&m| u32::from(m)),
            VIRTIO_MMIO_QUEUE_READY => queue.is_some_and(|q| q.ready) as u32,
            VIRTIO_MMIO_INTERRUPT_STATUS => self.interrupt.status(),
            VIRTIO_MMIO_STATUS => self.read_status(s),
            // No shared memory regions: SHMLen reads -1 (§4.2.2).
            VIRTIO_MMIO_SHM_LEN_LOW | VIRTIO_MMIO_SHM_LEN_HIGH => u32::MAX,
            VIRTIO_MMIO_SHM_BASE_LOW | VIRTIO_MMIO_SHM_BASE_HIGH => u32::MAX,
            // The configuration space never changes while the driver reads
            // it.
            VIRTIO_MMIO_CONFIG_GENERATION => 0,
            _ => 0,
        }
    }

    fn write_reg(&self, s: &mut MmioState, offset: u32, v: u32) {
        // Queue registers are the driver's only before the device runs
        // (§4.2.3.2); later writes are ignored.
        let configurable = !s.active && s.status & VIRTIO_CONFIG_S_FEATURES_OK != 0;
        let sel = s.queue_sel as usize;
        match offset {
            VIRTIO_MMIO_DEVICE_FEATURES_SEL => s.device_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES_SEL => s.driver_features_sel = v,
            // Features are fixed once FEATURES_OK is set.
            VIRTIO_MMIO_DRIVER_FEATURES if s.status & VIRTIO_CONFIG_S_FEATURES_OK == 0 => {
                match s.driver_features_sel {
                    0 => s.driver_features = set_lo(s.driver_features, v),
                    1 => s.driver_features = set_hi(s.driver_features, v),
                    _ => {}
                }
            }
            VIRTIO_MMIO_QUEUE_SEL => s.queue_sel = v,
            // A failed device processes nothing until reset.
            VIRTIO_MMIO_QUEUE_NOTIFY if s.active && !lock(&self.signals).failed() => {
                self.device.notify(v & 0xffff);
            }
            VIRTIO_MMIO_INTERRUPT_ACK => self.interrupt.ack(v),
            VIRTIO_MMIO_STATUS => {
                if v == 0 {
                    self.reset(s);
                } else {
                    self.write_status(s, v);
                }
            }
            _ if configurable && sel < s.queues.len() => {
                let q = &mut s.queues[sel];
                match offset {
                    VIRTIO_MMIO_QUEUE_NUM => q.num = v,
                    VIRTIO_MMIO_QUEUE_READY => q.ready = v & 1 != 0,
                    VIRTIO_MMIO_QUEUE_DESC_LOW => q.desc = set_lo(q.desc, v),
                    VIRTIO_MMIO_QUEUE_DESC_HIGH => q.desc = set_hi(q.desc, v),
                    VIRTIO_MMIO_QUEUE_AVAIL_LOW => q.driver = set_lo(q.driver, v),
                    VIRTIO_MMIO_QUEUE_AVAIL_HIGH => q.driver = set_hi(q.driver, v),
                    VIRTIO_MMIO_QUEUE_USED_LOW => q.device = set_lo(q.device, v),
                    VIRTIO_MMIO_QUEUE_USED_HIGH => q.device = set_hi(q.device, v),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

impl MmioDevice for VirtioMmio {
    fn read(&self, offset: u64, size: u8) -> u64 {
        if offset >= CONFIG_OFFSET {
            let mut b = [0u8; 8];
            let n = usize::from(size.min(8));
            self.device.read_config(offset - CONFIG_OFFSET, &mut b[..n]);
            return u64::from_le_bytes(b);
        }
        if size != 4 || !offset.is_multiple_of(4) {
            return 0;
        }
        let s = lock(&self.state);
        u64::from(self.read_reg(&s, offset as u32))
    }

    fn write(&self, offset: u64, size: u8, value: u64) {
        if offset >= CONFIG_OFFSET {
            let n = usize::from(size.min(8));
            self.device
                .write_config(offset - CONFIG_OFFSET, &value.to_le_bytes()[..n]);
            return;
        }
        if size != 4 || !offset.is_multiple_of(4) {
            return;
        }
        let mut s = lock(&self.state);
        self.write_reg(&mut s, offset as u32, value as u32);
    }
}
