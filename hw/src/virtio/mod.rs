//! virtio devices for the `virt` machine: the MMIO transport ([`mmio`],
//! virtio 1.2 §4.2, version 2, modern only), and the devices behind it
//! ([`block`], [`console`], [`net`], [`rng`], [`vsock`]).
//!
//! # Layers
//! A device ([`VirtioDevice`]) knows nothing about the transport: it gives
//! its type, features, queue sizes and configuration space, and is handed
//! its virtqueues ([`ActiveQueue`]) when the driver sets `DRIVER_OK`. The
//! transport ([`mmio::VirtioMmio`]) owns the registers, the status state
//! machine and feature negotiation (§3.1.1, §2.2), and builds the queues.
//! Virtqueues are `virtio-queue`'s split rings; descriptor chains are
//! walked with [`read_chain`], which refuses a chain that lies (§2.7.5 and
//! §2.7.5.3: out-of-range or unreadable descriptors, a loop, a writable
//! descriptor before a readable one, a nested indirect table) instead of
//! silently truncating it.
//!
//! # Guest memory
//! Devices reach guest RAM only through [`GuestMem`], a `vm-memory`
//! [`GuestMemoryMmap`] over the machine's [`Ram`] mapping: every access is
//! bounds-checked against RAM, and an address outside RAM is an error, not
//! a host access. Every write goes through the region's dirty bitmap
//! ([`DmaBitmap`]), which tells the [`DmaWatch`] hook the guest-physical
//! range written, so the CPU side can invalidate translated code on those
//! pages exactly as a guest store would.
//!
//! # Errors from the guest
//! A lying descriptor chain or available ring puts the device in the
//! "needs reset" state (§2.1.2: `DEVICE_NEEDS_RESET` in the status, and a
//! configuration-change interrupt); the device stops processing that queue
//! until the driver resets it. Nothing the guest writes panics, hangs or
//! reaches memory outside RAM.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use cranemu_softmmu::system::ram::Ram;
use virtio_queue::desc::split::Descriptor;
use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::bitmap::{Bitmap, BitmapSlice, WithBitmapSlice};
use vm_memory::mmap::MmapRegionBuilder;
use vm_memory::{Address, GuestAddress, GuestMemoryBackend, GuestRegionMmap};

use crate::bus::IrqLine;

pub mod block;
pub mod console;
pub mod mmio;
pub mod net;
pub mod rng;
pub mod uring;
pub mod vsock;

pub use vm_memory::GuestMemoryMmap;

/// virtio device IDs (virtio 1.2 §5).
pub mod device_id {
    /// Block device (§5.2).
    pub const BLOCK: u32 = virtio_bindings::virtio_ids::VIRTIO_ID_BLOCK;
    /// Console device (§5.3).
    pub const CONSOLE: u32 = virtio_bindings::virtio_ids::VIRTIO_ID_CONSOLE;
    /// Network device (§5.1).
    pub const NET: u32 = virtio_bindings::virtio_ids::VIRTIO_ID_NET;
    /// Entropy device (§5.4).
    pub const RNG: u32 = virtio_bindings::virtio_ids::VIRTIO_ID_RNG;
}

/// Feature bits every device here offers (§6): `VIRTIO_F_VERSION_1` (32),
/// `VIRTIO_RING_F_INDIRECT_DESC` (28) and `VIRTIO_RING_F_EVENT_IDX` (29).
pub const COMMON_FEATURES: u64 = 1 << virtio_bindings::virtio_config::VIRTIO_F_VERSION_1
    | 1 << virtio_bindings::virtio_ring::VIRTIO_RING_F_INDIRECT_DESC
    | 1 << virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;

/// Called with `(guest-physical address, length in bytes)` of every range a
/// device wrote to guest RAM.
pub type DmaHook = Box<dyn Fn(u64, u64) + Send + Sync>;

/// Where device writes to guest RAM are reported. The CPU side installs the
/// hook once ([`DmaWatch::set_hook`]) before the harts run; before that,
/// writes are not reported (nothing is translated yet).
#[derive(Default)]
pub struct DmaWatch {
    hook: OnceLock<DmaHook>,
}

impl std::fmt::Debug for DmaWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaWatch")
            .field("hooked", &self.hook.get().is_some())
            .finish()
    }
}

impl DmaWatch {
    /// Installs the hook; `false` if one was already installed (it stays).
    pub fn set_hook(&self, hook: DmaHook) -> bool {
        self.hook.set(hook).is_ok()
    }

    /// Reports a write of `len` bytes at guest-physical `gpa`.
    pub fn written(&self, gpa: u64, len: u64) {
        if len != 0 {
            if let Some(h) = self.hook.get() {
                h(gpa, len);
            }
        }
    }
}

/// The `vm-memory` dirty bitmap of [`GuestMem`]: it keeps no bits, it
/// forwards each write to a [`DmaWatch`] with the guest-physical address of
/// the byte range (`base` is the guest-physical address of the slice's
/// first byte).
#[derive(Clone, Debug)]
pub struct DmaBitmap {
    watch: Arc<DmaWatch>,
    base: u64,
}

impl WithBitmapSlice<'_> for DmaBitmap {
    type S = DmaBitmap;
}

impl BitmapSlice for DmaBitmap {}

impl Bitmap for DmaBitmap {
    fn mark_dirty(&self, offset: usize, len: usize) {
        self.watch
            .written(self.base.wrapping_add(offset as u64), len as u64);
    }

    fn dirty_at(&self, _offset: usize) -> bool {
        false
    }

    fn slice_at(&self, offset: usize) -> DmaBitmap {
        DmaBitmap {
            watch: self.watch.clone(),
            base: self.base.wrapping_add(offset as u64),
        }
    }
}

/// Guest RAM as devices see it: bounds-checked, writes reported.
pub type GuestMem = GuestMemoryMmap<DmaBitmap>;

/// Guest RAM for the devices: the [`GuestMem`] view of the machine's
/// [`Ram`], which it keeps mapped.
pub struct DeviceRam {
    mem: GuestMem,
    watch: Arc<DmaWatch>,
    _ram: Arc<Ram>,
}

impl std::fmt::Debug for DeviceRam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRam")
            .field("base", &self._ram.base())
            .field("size", &self._ram.size())
            .finish()
    }
}

impl DeviceRam {
    /// A checked view of `ram`, reporting writes to a fresh [`DmaWatch`].
    ///
    /// # Errors
    /// [`crate::Error::FdtArg`]-free: [`crate::Error::VirtioSetup`] if the
    /// view cannot be built (a RAM range `vm-memory` refuses).
    pub fn new(ram: Arc<Ram>) -> crate::Result<DeviceRam> {
        let watch = Arc::new(DmaWatch::default());
        let base = ram.base().0;
        let size = usize::try_from(ram.size()).map_err(|_| {
            crate::Error::VirtioSetup("RAM larger than the host's address space".into())
        })?;
        let bitmap = DmaBitmap {
            watch: watch.clone(),
            base,
        };
        // SAFETY: `ram.host_base()..+size` is `ram`'s whole mapping, which
        // lives as long as `_ram` below, so as long as the view.
        let region = unsafe {
            MmapRegionBuilder::new_with_bitmap(size, bitmap)
                .with_raw_mmap_pointer(ram.host_base())
                .with_mmap_prot(libc::PROT_READ | libc::PROT_WRITE)
                .with_mmap_flags(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE)
                .build()
        }
        .map_err(|e| crate::Error::VirtioSetup(format!("guest RAM view: {e}")))?;
        let region = GuestRegionMmap::new(region, GuestAddress(base))
            .ok_or_else(|| crate::Error::VirtioSetup("guest RAM view wraps".into()))?;
        let mem = GuestMemoryMmap::from_regions(vec![region])
            .map_err(|e| crate::Error::VirtioSetup(format!("guest RAM view: {e}")))?;
        Ok(DeviceRam {
            mem,
            watch,
            _ram: ram,
        })
    }

    /// The checked memory.
    pub fn mem(&self) -> &GuestMem {
        &self.mem
    }

    /// Where device writes are reported.
    pub fn watch(&self) -> &Arc<DmaWatch> {
        &self.watch
    }
}

/// The interrupt of one virtio-mmio device: the `InterruptStatus` bits
/// (§4.2.2: bit 0 used buffer, bit 1 configuration change) and the PLIC
/// line, high while any bit is set.
pub struct Interrupt {
    status: AtomicU32,
    line: Arc<dyn IrqLine>,
    lock: Mutex<()>,
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("status", &self.status.load(Ordering::SeqCst))
            .finish()
    }
}

/// `InterruptStatus` bit: a used buffer notification.
pub const INT_VRING: u32 = virtio_bindings::virtio_mmio::VIRTIO_MMIO_INT_VRING;
/// `InterruptStatus` bit: a configuration change notification.
pub const INT_CONFIG: u32 = virtio_bindings::virtio_mmio::VIRTIO_MMIO_INT_CONFIG;

impl Interrupt {
    /// An interrupt driving `line`, with no bit set.
    pub fn new(line: Arc<dyn IrqLine>) -> Interrupt {
        Interrupt {
            status: AtomicU32::new(0),
            line,
            lock: Mutex::new(()),
        }
    }

    /// Sets `bits` in `InterruptStatus` and raises the line.
    pub fn signal(&self, bits: u32) {
        let _g = crate::lock(&self.lock);
        self.status.fetch_or(bits, Ordering::SeqCst);
        self.line.raise();
    }

    /// Clears `bits` (`InterruptACK`); lowers the line when none is left.
    pub fn ack(&self, bits: u32) {
        let _g = crate::lock(&self.lock);
        let left = self.status.fetch_and(!bits, Ordering::SeqCst) & !bits;
        self.line.set_level(left != 0);
    }

    /// The `InterruptStatus` register.
    pub fn status(&self) -> u32 {
        self.status.load(Ordering::SeqCst)
    }

    /// Clears every bit and lowers the line (device reset).
    pub fn reset(&self) {
        self.ack(u32::MAX);
    }
}

/// What a device shares with its transport while active: the interrupt
/// and the "needs reset" flag (§2.1.2) the device sets on a lying chain.
#[derive(Debug)]
pub struct DeviceSignals {
    /// The device's interrupt.
    pub interrupt: Arc<Interrupt>,
    /// Set when the device hit an error it cannot recover from; the
    /// transport shows `DEVICE_NEEDS_RESET` in `Status`.
    pub needs_reset: AtomicBool,
}

impl DeviceSignals {
    /// Signals owned by `interrupt`, not needing reset.
    pub fn new(interrupt: Arc<Interrupt>) -> DeviceSignals {
        DeviceSignals {
            interrupt,
            needs_reset: AtomicBool::new(false),
        }
    }

    /// Enters "needs reset" (§2.1.2): sets the flag and sends a
    /// configuration-change interrupt, once.
    pub fn fail(&self) {
        if !self.needs_reset.swap(true, Ordering::SeqCst) {
            self.interrupt.signal(INT_CONFIG);
        }
    }

    /// Whether the device is in "needs reset".
    pub fn failed(&self) -> bool {
        self.needs_reset.load(Ordering::SeqCst)
    }
}

/// A virtqueue handed to a device at `DRIVER_OK`: the split ring, the
/// memory it lives in and the signals to complete requests with. Several
/// threads (the vCPU that notifies, worker threads that complete) share it;
/// the ring is behind a lock.
pub struct ActiveQueue {
    /// The ring state (`virtio-queue`).
    pub queue: Mutex<Queue>,
    /// Guest RAM.
    pub ram: Arc<DeviceRam>,
    /// Interrupt and "needs reset".
    pub signals: Arc<DeviceSignals>,
}

impl std::fmt::Debug for ActiveQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveQueue").finish_non_exhaustive()
    }
}

/// A descriptor chain that follows the rules, as (head index, buffers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The head descriptor's index (what goes into the used ring).
    pub head: u16,
    /// The device-readable buffers, in order: (guest-physical address,
    /// length in bytes).
    pub readable: Vec<(u64, u32)>,
    /// The device-writable buffers, in order.
    pub writable: Vec<(u64, u32)>,
}

impl Chain {
    /// Total bytes of the writable buffers.
    pub fn writable_len(&self) -> u64 {
        self.writable.iter().map(|&(_, l)| u64::from(l)).sum()
    }
    /// Total bytes of the readable buffers.
    pub fn readable_len(&self) -> u64 {
        self.readable.iter().map(|&(_, l)| u64::from(l)).sum()
    }
}

/// Why a chain or ring was refused: the guest broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The available ring could not be read or its index ran more than a
    /// queue size ahead (§2.7.6).
    #[error("available ring: {0}")]
    AvailRing(String),
    /// The chain ended early: a descriptor out of the table or outside RAM,
    /// a loop (more descriptors than the table holds), a bad indirect
    /// table, or more than 2^32 bytes in all (§2.7.5).
    #[error("descriptor chain of head {0} is broken")]
    Broken(u16),
    /// A buffer lies outside guest RAM.
    #[error("descriptor of chain {head} points outside RAM: {addr:#x}+{len:#x}")]
    OutOfRange {
        /// The chain's head.
        head: u16,
        /// The buffer's guest-physical address.
        addr: u64,
        /// Its length (bytes).
        len: u32,
    },
    /// A readable descriptor after a writable one (§2.7.4.2).
    #[error("descriptor chain of head {0} has a readable buffer after a writable one")]
    Order(u16),
}

/// Copies the bytes of a device's configuration space `cfg` at `offset`
/// into `data` (a driver's read of `data.len()` bytes, virtio 1.2 §4.2.2
/// "Config"): bytes past the end of `cfg` read as zero, so no offset a
/// driver gives reads outside it.
pub fn read_config_bytes(cfg: &[u8], offset: u64, data: &mut [u8]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(i))
            .and_then(|o| cfg.get(o).copied())
            .unwrap_or(0);
    }
}

/// Pops the next available chain of `q`, validated: `Ok(None)` when the
/// ring is empty.
///
/// # Errors
/// [`ChainError`] when the ring or chain breaks a rule; the caller puts
/// the device in "needs reset". The chain is consumed either way.
pub fn pop_chain(q: &mut Queue, mem: &GuestMem) -> Result<Option<Chain>, ChainError> {
    let mut it = q
        .iter(mem)
        .map_err(|e| ChainError::AvailRing(e.to_string()))?;
    let Some(dc) = it.next() else {
        return Ok(None);
    };
    read_chain(dc.head_index(), dc, mem).map(Some)
}

/// Validates the descriptors of a chain (see the module doc).
///
/// # Errors
/// [`ChainError`] naming the rule broken.
pub fn read_chain<I: Iterator<Item = Descriptor>>(
    head: u16,
    descriptors: I,
    mem: &GuestMem,
) -> Result<Chain, ChainError> {
    let mut chain = Chain {
        head,
        readable: Vec::new(),
        writable: Vec::new(),
    };
    let mut last_has_next = true;
    let mut any = false;
    for d in descriptors {
        any = true;
        last_has_next = d.has_next();
        let (addr, len) = (d.addr().raw_value(), d.len());
        if !mem.check_range(GuestAddress(addr), len as usize) {
            return Err(ChainError::OutOfRange { head, addr, len });
        }
        if d.is_write_only() {
            chain.writable.push((addr, len));
        } else if chain.writable.is_empty() {
            chain.readable.push((addr, len));
        } else {
            return Err(ChainError::Order(head));
        }
    }
    // The iterator stops silently on every error; a chain that ends on a
    // descriptor that says "next" (or never starts) was cut short.
    if !any || last_has_next {
        return Err(ChainError::Broken(head));
    }
    Ok(chain)
}

/// Reads up to `buf.len()` bytes from the chain's readable buffers
/// starting at byte `skip` of them; returns how many were read.
pub fn read_from(bufs: &[(u64, u32)], mut skip: u64, buf: &mut [u8], mem: &GuestMem) -> usize {
    use vm_memory::Bytes;
    let mut done = 0;
    for &(addr, len) in bufs {
        let len = u64::from(len);
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = ((len - skip) as usize).min(buf.len() - done);
        if mem
            .read_slice(&mut buf[done..done + n], GuestAddress(addr + skip))
            .is_err()
        {
            return done;
        }
        done += n;
        skip = 0;
        if done == buf.len() {
            break;
        }
    }
    done
}

/// Writes `data` into the writable buffers starting at byte `skip` of
/// them; returns how many bytes were written.
pub fn write_to(bufs: &[(u64, u32)], mut skip: u64, data: &[u8], mem: &GuestMem) -> usize {
    use vm_memory::Bytes;
    let mut done = 0;
    for &(addr, len) in bufs {
        let len = u64::from(len);
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = ((len - skip) as usize).min(data.len() - done);
        if mem
            .write_slice(&data[done..done + n], GuestAddress(addr + skip))
            .is_err()
        {
            return done;
        }
        done += n;
        skip = 0;
        if done == data.len() {
            break;
        }
    }
    done
}

impl ActiveQueue {
    /// Puts `head` in the used ring with `len` bytes written and
    /// interrupts the driver unless it suppressed notifications (§2.7.7,
    /// with `VIRTIO_RING_F_EVENT_IDX` §2.7.10). A ring that cannot be
    /// written puts the device in "needs reset".
    pub fn complete(&self, head: u16, len: u32) {
        let mem = self.ram.mem();
        let mut q = crate::lock(&self.queue);
        let notify = q
            .add_used(mem, head, len)
            .and_then(|()| q.needs_notification(mem));
        drop(q);
        match notify {
            Ok(true) => self.signals.interrupt.signal(INT_VRING),
            Ok(false) => {}
            Err(_) => self.signals.fail(),
        }
    }
}

/// A device behind a virtio transport (virtio 1.2 §2, "Basic Facilities of
/// a Virtio Device"). The transport calls it from vCPU threads; it keeps
/// its own state behind its own lock.
pub trait VirtioDevice: Send + Sync {
    /// The device ID (§5).
    fn device_type(&self) -> u32;
    /// The features offered (bits 0..64), [`COMMON_FEATURES`] included.
    fn features(&self) -> u64;
    /// The largest size of each virtqueue; its length is the number of
    /// queues.
    fn queue_max_sizes(&self) -> &[u16];
    /// Reads the configuration space at `offset` into `data`; bytes past
    /// its end read 0.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Writes the configuration space (most fields are read-only: ignored).
    fn write_config(&self, _offset: u64, _data: &[u8]) {}
    /// Starts the device with its queues (`DRIVER_OK`), `features` being
    /// what the driver accepted.
    fn activate(&self, features: u64, queues: Vec<Arc<ActiveQueue>>);
    /// The driver notified queue `index` (a `QueueNotify` write).
    fn notify(&self, index: u32);
    /// Stops the device (a status write of 0): returns once no request is
    /// in flight, so no write to guest memory follows.
    fn reset(&self);
}

/// Drains `aq`: pops every available chain, hands each valid one to
/// `handle`, and re-enables notifications, looping while the driver added
/// more (§2.7.10). A lying chain or ring fails the device and stops. It
/// ends when the ring is empty: the available index may run at most a
/// queue size ahead of what was taken, or the ring is refused.
pub fn drain_queue(aq: &ActiveQueue, mut handle: impl FnMut(Chain)) {
    let mem = aq.ram.mem();
    if aq.signals.failed() {
        return;
    }
    loop {
        let mut q = crate::lock(&aq.queue);
        if q.disable_notification(mem).is_err() {
            drop(q);
            aq.signals.fail();
            return;
        }
        loop {
            match pop_chain(&mut q, mem) {
                Ok(Some(c)) => {
                    drop(q);
                    handle(c);
                    q = crate::lock(&aq.queue);
                }
                Ok(None) => break,
                Err(_) => {
                    drop(q);
                    aq.signals.fail();
                    return;
                }
            }
        }
        match q.enable_notification(mem) {
            Ok(true) => continue,
            Ok(false) => return,
            Err(_) => {
                drop(q);
                aq.signals.fail();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
