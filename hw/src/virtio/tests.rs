//! Tests of the transport and the devices, driven as a driver would drive
//! them, and a proptest harness that feeds them random descriptor tables
//! and available rings.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use cranemu_softmmu::system::GuestPhysAddr;
use proptest::prelude::*;
use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_mmio::*;

use super::block::{Block, BlockConfig};
use super::mmio::VirtioMmio;
use super::rng::Rng;
use super::*;
use crate::bus::{MmioDevice, RecordingIrq};

const BASE: u64 = 0x8000_0000;
const RAM: u64 = 1 << 20;
const DESC: u64 = BASE + 0x1000;
const AVAIL: u64 = BASE + 0x2000;
const USED: u64 = BASE + 0x3000;
const BUF: u64 = BASE + 0x10000;
const QSIZE: u32 = 16;

/// A transport on 1 MiB of RAM at 0x8000_0000, recording its interrupt
/// and every DMA write.
struct Rig {
    ram: Arc<Ram>,
    t: VirtioMmio,
    irq: Arc<RecordingIrq>,
    dma: Arc<Mutex<Vec<(u64, u64)>>>,
    avail_idx: u16,
}

impl Rig {
    /// Resets the device and brings it up as a driver would (VERSION_1
    /// negotiated, DRIVER_OK) with two queues: queue 0 at the rig's rings
    /// (`DESC`, `AVAIL`, `USED`) and queue 1 `off` bytes further.
    fn start_two_queues(&self, off: u64) {
        self.w(VIRTIO_MMIO_STATUS, 0);
        self.w(VIRTIO_MMIO_STATUS, 3);
        self.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        self.w(VIRTIO_MMIO_DRIVER_FEATURES, 1);
        self.w(VIRTIO_MMIO_STATUS, 0xb);
        for (q, o) in [(0u32, 0u64), (1, off)] {
            self.w(VIRTIO_MMIO_QUEUE_SEL, q);
            self.w(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
            self.w(VIRTIO_MMIO_QUEUE_DESC_LOW, (DESC + o) as u32);
            self.w(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (AVAIL + o) as u32);
            self.w(VIRTIO_MMIO_QUEUE_USED_LOW, (USED + o) as u32);
            self.w(VIRTIO_MMIO_QUEUE_READY, 1);
        }
        self.w(VIRTIO_MMIO_STATUS, 0xf);
    }

    fn new(dev: Arc<dyn VirtioDevice>) -> Rig {
        let ram = Arc::new(Ram::new(GuestPhysAddr(BASE), RAM).unwrap());
        let dram = Arc::new(DeviceRam::new(ram.clone()).unwrap());
        let dma = Arc::new(Mutex::new(Vec::new()));
        let d = dma.clone();
        dram.watch()
            .set_hook(Box::new(move |a, l| d.lock().unwrap().push((a, l))));
        let irq = Arc::new(RecordingIrq::default());
        let t = VirtioMmio::new(dev, dram, irq.clone());
        Rig {
            ram,
            t,
            irq,
            dma,
            avail_idx: 0,
        }
    }

    fn r(&self, off: u32) -> u32 {
        self.t.read(u64::from(off), 4) as u32
    }

    fn w(&self, off: u32, v: u32) {
        self.t.write(u64::from(off), 4, u64::from(v));
    }

    /// The init sequence of §3.1.1 with queue 0 of `size` entries; `extra`
    /// features beyond VERSION_1 and EVENT_IDX.
    fn setup(&self, size: u32, extra: u64) {
        self.w(VIRTIO_MMIO_STATUS, 0);
        self.w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        self.w(
            VIRTIO_MMIO_STATUS,
            VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
        );
        let f = 1u64 << VIRTIO_F_VERSION_1
            | 1 << virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX
            | extra;
        self.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        self.w(VIRTIO_MMIO_DRIVER_FEATURES, f as u32);
        self.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        self.w(VIRTIO_MMIO_DRIVER_FEATURES, (f >> 32) as u32);
        self.w(VIRTIO_MMIO_STATUS, 0xb);
        assert_eq!(self.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 8);
        self.w(VIRTIO_MMIO_QUEUE_SEL, 0);
        assert!(self.r(VIRTIO_MMIO_QUEUE_NUM_MAX) >= size.min(16));
        self.w(VIRTIO_MMIO_QUEUE_NUM, size);
        for (lo, hi, a) in [
            (
                VIRTIO_MMIO_QUEUE_DESC_LOW,
                VIRTIO_MMIO_QUEUE_DESC_HIGH,
                DESC,
            ),
            (
                VIRTIO_MMIO_QUEUE_AVAIL_LOW,
                VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
                AVAIL,
            ),
            (
                VIRTIO_MMIO_QUEUE_USED_LOW,
                VIRTIO_MMIO_QUEUE_USED_HIGH,
                USED,
            ),
        ] {
            self.w(lo, a as u32);
            self.w(hi, (a >> 32) as u32);
        }
        self.w(VIRTIO_MMIO_QUEUE_READY, 1);
        self.w(VIRTIO_MMIO_STATUS, 0xf);
    }

    fn desc(&self, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        desc_at(self, DESC, i, (addr, len, flags, next));
    }

    /// Makes chain `head` available and notifies queue 0.
    fn kick(&mut self, head: u16) {
        let slot = u64::from(self.avail_idx) % u64::from(QSIZE);
        self.ram
            .write(GuestPhysAddr(AVAIL + 4 + 2 * slot), &head.to_le_bytes())
            .unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.ram
            .write(GuestPhysAddr(AVAIL + 2), &self.avail_idx.to_le_bytes())
            .unwrap();
        self.w(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    }

    fn used_idx(&self) -> u16 {
        let mut b = [0u8; 2];
        self.ram.read(GuestPhysAddr(USED + 2), &mut b).unwrap();
        u16::from_le_bytes(b)
    }

    /// Used element `i`: (id, len).
    fn used(&self, i: u16) -> (u32, u32) {
        let mut b = [0u8; 8];
        let at = USED + 4 + 8 * (u64::from(i) % u64::from(QSIZE));
        self.ram.read(GuestPhysAddr(at), &mut b).unwrap();
        (
            u32::from_le_bytes(b[0..4].try_into().unwrap()),
            u32::from_le_bytes(b[4..8].try_into().unwrap()),
        )
    }

    /// Waits (bounded) for the used index to reach `n`.
    fn wait_used(&self, n: u16) {
        let t = std::time::Instant::now();
        while self.used_idx() != n {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(10),
                "used idx {} != {n}",
                self.used_idx()
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn peek(&self, at: u64, n: usize) -> Vec<u8> {
        let mut b = vec![0; n];
        self.ram.read(GuestPhysAddr(at), &mut b).unwrap();
        b
    }
}

const NEXT: u16 = 1;
const WRITE: u16 = 2;

fn temp_image(name: &str, len: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cranemu-virtio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(len).unwrap();
    p
}

#[test]
fn registers_and_feature_negotiation() {
    let rig = Rig::new(Arc::new(Rng::new()));
    assert_eq!(rig.r(VIRTIO_MMIO_MAGIC_VALUE), 0x7472_6976);
    assert_eq!(rig.r(VIRTIO_MMIO_VERSION), 2);
    assert_eq!(rig.r(VIRTIO_MMIO_DEVICE_ID), device_id::RNG);
    rig.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    assert_eq!(rig.r(VIRTIO_MMIO_DEVICE_FEATURES), 1); // VERSION_1
                                                       // Only 32-bit accesses reach the registers.
    assert_eq!(rig.t.read(0, 2), 0);
    // A feature the device does not offer: FEATURES_OK is refused.
    rig.w(VIRTIO_MMIO_STATUS, 3);
    rig.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    rig.w(VIRTIO_MMIO_DRIVER_FEATURES, 1 | 4);
    rig.w(VIRTIO_MMIO_STATUS, 0xb);
    assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 3);
    // Without VERSION_1 too (legacy is not offered).
    rig.w(VIRTIO_MMIO_STATUS, 0);
    rig.w(VIRTIO_MMIO_STATUS, 3);
    rig.w(VIRTIO_MMIO_STATUS, 0xb);
    assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 3);
    // Queues past the last read QueueNumMax 0; no shared memory.
    rig.w(VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_eq!(rig.r(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    assert_eq!(rig.r(VIRTIO_MMIO_SHM_LEN_LOW), u32::MAX);
    rig.w(VIRTIO_MMIO_STATUS, 0);
    assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 0);
}

#[test]
fn rng_fills_buffers_and_interrupts() {
    let mut rig = Rig::new(Arc::new(Rng::new()));
    rig.setup(QSIZE, 0);
    rig.desc(0, BUF, 64, WRITE | NEXT, 1);
    rig.desc(1, BUF + 0x1000, 64, WRITE, 0);
    rig.kick(0);
    assert_eq!(rig.used_idx(), 1);
    assert_eq!(rig.used(0), (0, 128));
    assert_ne!(rig.peek(BUF, 64), vec![0; 64]);
    assert_ne!(rig.peek(BUF + 0x1000, 64), vec![0; 64]);
    assert!(rig.irq.level());
    assert_eq!(rig.r(VIRTIO_MMIO_INTERRUPT_STATUS), INT_VRING);
    rig.w(VIRTIO_MMIO_INTERRUPT_ACK, INT_VRING);
    assert!(!rig.irq.level());
    // Both buffers, and the used ring, were reported as DMA writes.
    let dma = rig.dma.lock().unwrap().clone();
    for (a, l) in [(BUF, 64), (BUF + 0x1000, 64)] {
        assert!(dma.contains(&(a, l)), "{dma:x?}");
    }
    assert!(dma.iter().any(|&(a, _)| (USED..USED + 0x100).contains(&a)));
}

#[test]
fn lying_chains_need_reset() {
    for case in 0..5 {
        let mut rig = Rig::new(Arc::new(Rng::new()));
        rig.setup(QSIZE, 0);
        match case {
            // A buffer past the end of RAM.
            0 => rig.desc(0, BASE + RAM - 8, 64, WRITE, 0),
            // A loop.
            1 => {
                rig.desc(0, BUF, 8, WRITE | NEXT, 1);
                rig.desc(1, BUF, 8, WRITE | NEXT, 0);
            }
            // `next` out of the table.
            2 => rig.desc(0, BUF, 8, WRITE | NEXT, 99),
            // Readable after writable.
            3 => {
                rig.desc(0, BUF, 8, WRITE | NEXT, 1);
                rig.desc(1, BUF, 8, 0, 0);
            }
            // A head index out of the table.
            _ => {}
        }
        rig.kick(if case == 4 { 200 } else { 0 });
        assert_eq!(
            rig.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
            VIRTIO_CONFIG_S_NEEDS_RESET,
            "case {case}"
        );
        assert_eq!(rig.r(VIRTIO_MMIO_INTERRUPT_STATUS) & INT_CONFIG, INT_CONFIG);
        assert_eq!(rig.used_idx(), 0, "case {case}");
        // A reset clears it, and the device works again.
        rig.avail_idx = 0;
        rig.setup(QSIZE, 0);
        assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 0xf);
        rig.desc(0, BUF, 8, WRITE, 0);
        rig.kick(0);
        assert_eq!(rig.used_idx(), 1);
    }
}

#[test]
fn bad_queue_sizes_need_reset() {
    for size in [0, 3, 100, 4096] {
        let rig = Rig::new(Arc::new(Rng::new()));
        rig.setup(size, 0);
        assert_ne!(
            rig.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
            0,
            "size {size}"
        );
    }
    // An available index more than a queue ahead.
    let rig = Rig::new(Arc::new(Rng::new()));
    rig.setup(QSIZE, 0);
    rig.ram
        .write(GuestPhysAddr(AVAIL + 2), &100u16.to_le_bytes())
        .unwrap();
    rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_ne!(rig.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/// A block request: header at `BUF`, data at `BUF + 0x1000`, status at
/// `BUF + 0x100`.
fn blk_request(rig: &mut Rig, kind: u32, sector: u64, data: Option<(u32, bool)>) {
    let mut hdr = [0u8; 16];
    hdr[0..4].copy_from_slice(&kind.to_le_bytes());
    hdr[8..16].copy_from_slice(&sector.to_le_bytes());
    rig.ram.write(GuestPhysAddr(BUF), &hdr).unwrap();
    rig.ram.write(GuestPhysAddr(BUF + 0x100), &[0xff]).unwrap();
    rig.desc(0, BUF, 16, NEXT, 1);
    match data {
        Some((len, writable)) => {
            rig.desc(
                1,
                BUF + 0x1000,
                len,
                NEXT | if writable { WRITE } else { 0 },
                2,
            );
            rig.desc(2, BUF + 0x100, 1, WRITE, 0);
        }
        None => rig.desc(1, BUF + 0x100, 1, WRITE, 0),
    }
    let n = rig.avail_idx.wrapping_add(1);
    rig.kick(0);
    rig.wait_used(n);
}

#[test]
fn block_reads_writes_flushes_and_ids() {
    use super::block::{AioMode, CacheMode};
    for (aio, cache) in [
        (AioMode::Threads, CacheMode::Writeback),
        (AioMode::Threads, CacheMode::None),
        (AioMode::IoUring, CacheMode::Writeback),
        (AioMode::IoUring, CacheMode::None),
    ] {
        let mut cfg = BlockConfig::new(temp_image("rw.img", 1 << 20));
        cfg.aio = aio;
        cfg.cache = cache;
        block_requests(&cfg);
    }
}

/// Every request type on a 1 MiB disk opened as `cfg` says.
fn block_requests(cfg: &BlockConfig) {
    let path = cfg.path.clone();
    let blk = Arc::new(Block::open(cfg).unwrap());
    let mut rig = Rig::new(blk);
    let cap = u64::from_le_bytes(
        (0..8)
            .map(|i| rig.t.read(0x100 + i, 1) as u8)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    );
    assert_eq!(cap, 2048);
    rig.setup(QSIZE, 1 << VIRTIO_BLK_F_FLUSH_BIT);
    let status = |rig: &Rig| rig.peek(BUF + 0x100, 1)[0];

    // Write 4 KiB at sector 8, read it back from the file and the disk.
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    rig.ram.write(GuestPhysAddr(BUF + 0x1000), &data).unwrap();
    blk_request(&mut rig, 1, 8, Some((4096, false)));
    assert_eq!(status(&rig), 0);
    let file = std::fs::read(&path).unwrap();
    assert_eq!(&file[4096..8192], &data[..]);
    rig.ram
        .write(GuestPhysAddr(BUF + 0x1000), &[0; 4096])
        .unwrap();
    blk_request(&mut rig, 0, 8, Some((4096, true)));
    assert_eq!(status(&rig), 0);
    assert_eq!(rig.peek(BUF + 0x1000, 4096), data);
    assert_eq!(rig.used(1).1, 4097);
    assert!(rig.dma.lock().unwrap().contains(&(BUF + 0x1000, 4096)));

    // Flush, get-id.
    blk_request(&mut rig, 4, 0, None);
    assert_eq!(status(&rig), 0);
    blk_request(&mut rig, 8, 0, Some((20, true)));
    assert_eq!(status(&rig), 0);
    assert_eq!(&rig.peek(BUF + 0x1000, 6), b"rw.img");

    // Out of range, not whole sectors, unknown type.
    blk_request(&mut rig, 0, 2047, Some((1024, true)));
    assert_eq!(status(&rig), 1);
    blk_request(&mut rig, 0, u64::MAX, Some((512, true)));
    assert_eq!(status(&rig), 1);
    blk_request(&mut rig, 1, 0, Some((100, false)));
    assert_eq!(status(&rig), 1);
    blk_request(&mut rig, 77, 0, None);
    assert_eq!(status(&rig), 2);

    // Write zeroes over the data, discard: the file reads zeroes.
    let mut seg = [0u8; 16];
    seg[0..8].copy_from_slice(&8u64.to_le_bytes());
    seg[8..12].copy_from_slice(&8u32.to_le_bytes());
    rig.ram.write(GuestPhysAddr(BUF + 0x1000), &seg).unwrap();
    blk_request(&mut rig, 13, 0, Some((16, false)));
    assert_eq!(status(&rig), 0);
    assert_eq!(&std::fs::read(&path).unwrap()[4096..8192], &[0; 4096][..]);
    blk_request(&mut rig, 11, 0, Some((16, false)));
    assert_eq!(status(&rig), 0);
    assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 0xf);
    rig.w(VIRTIO_MMIO_STATUS, 0);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn read_only_disks_refuse_writes() {
    let path = temp_image("ro.img", 64 << 10);
    let mut cfg = BlockConfig::new(&path);
    cfg.readonly = true;
    let blk = Arc::new(Block::open(&cfg).unwrap());
    assert_ne!(blk.features() & (1 << VIRTIO_BLK_F_RO_BIT), 0);
    let mut rig = Rig::new(blk);
    rig.setup(QSIZE, 1 << VIRTIO_BLK_F_RO_BIT);
    rig.ram
        .write(GuestPhysAddr(BUF + 0x1000), &[1; 512])
        .unwrap();
    blk_request(&mut rig, 1, 0, Some((512, false)));
    assert_eq!(rig.peek(BUF + 0x100, 1)[0], 1);
    assert_eq!(std::fs::read(&path).unwrap(), vec![0; 64 << 10]);
    let _ = std::fs::remove_file(&path);
}

/// An image one drive writes is refused to a second drive (of this machine
/// or another process), as QEMU refuses it; read-only drives share it.
#[test]
fn a_written_image_is_locked() {
    let path = temp_image("lock.img", 64 << 10);
    let first = Block::open(&BlockConfig::new(&path)).unwrap();
    let e = Block::open(&BlockConfig::new(&path)).unwrap_err();
    assert!(e.to_string().contains("write lock"), "{e}");
    let mut ro = BlockConfig::new(&path);
    ro.readonly = true;
    assert!(Block::open(&ro)
        .unwrap_err()
        .to_string()
        .contains("read lock"));
    drop(first);
    let a = Block::open(&ro).unwrap();
    let b = Block::open(&ro).unwrap();
    assert!(Block::open(&BlockConfig::new(&path)).is_err());
    drop((a, b));
    Block::open(&BlockConfig::new(&path)).unwrap();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn missing_images_are_errors() {
    let e = Block::open(&BlockConfig::new("/nonexistent/disk.img")).unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/disk.img: "), "{e}");
}

const VIRTIO_BLK_F_FLUSH_BIT: u32 = virtio_bindings::virtio_blk::VIRTIO_BLK_F_FLUSH;
const VIRTIO_BLK_F_RO_BIT: u32 = virtio_bindings::virtio_blk::VIRTIO_BLK_F_RO;

/// One random descriptor: (address, length, flags, next), biased towards
/// addresses in and near RAM.
fn any_desc() -> impl Strategy<Value = (u64, u32, u16, u16)> {
    let addr = prop_oneof![
        (0..RAM).prop_map(|o| BASE + o),
        (RAM - 0x100..RAM + 0x100).prop_map(|o| BASE + o),
        any::<u64>(),
        Just(0u64),
    ];
    let len = prop_oneof![0..0x2000u32, Just(0), Just(u32::MAX), any::<u32>()];
    (
        addr,
        len,
        0..8u16,
        prop_oneof![0..QSIZE as u16, any::<u16>()],
    )
}

/// A descriptor: (address, length, flags, next).
type RawDesc = (u64, u32, u16, u16);
/// Descriptors, available ring entries, available index, header bytes.
type RingImage = (Vec<RawDesc>, Vec<u16>, u16, Vec<u8>);

/// A random request image: descriptors, available ring entries, the
/// available index, and the bytes of the buffer area (headers).
fn any_ring() -> impl Strategy<Value = RingImage> {
    (
        proptest::collection::vec(any_desc(), QSIZE as usize),
        proptest::collection::vec(prop_oneof![0..QSIZE as u16, any::<u16>()], QSIZE as usize),
        prop_oneof![0..=QSIZE as u16, any::<u16>()],
        proptest::collection::vec(any::<u8>(), 64),
    )
}

/// Lays out a random ring and notifies; checks that the device neither
/// panics nor hangs and writes only inside RAM.
fn fuzz_one(dev: Arc<dyn VirtioDevice>, ring: RingImage) {
    let (descs, avail, idx, bytes) = ring;
    let rig = Rig::new(dev);
    rig.setup(QSIZE, 0);
    lay_out_ring(&rig, 0, &descs, &avail, &bytes);
    rig.ram
        .write(GuestPhysAddr(AVAIL + 2), &idx.to_le_bytes())
        .unwrap();
    rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    // A reset waits for every request in flight.
    rig.w(VIRTIO_MMIO_STATUS, 0);
    for &(a, l) in rig.dma.lock().unwrap().iter() {
        assert!(
            a >= BASE && a.checked_add(l).is_some_and(|e| e <= BASE + RAM),
            "DMA write outside RAM: {a:#x}+{l:#x}"
        );
    }
    assert!(!rig.irq.level() || rig.r(VIRTIO_MMIO_INTERRUPT_STATUS) != 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_rng_queue(ring in any_ring()) {
        fuzz_one(Arc::new(Rng::new()), ring);
    }

    #[test]
    fn fuzz_block_queue(ring in any_ring()) {
        let path = temp_image(&format!("fuzz-{:?}.img", std::thread::current().id()), 256 << 10);
        fuzz_one(Arc::new(Block::open(&BlockConfig::new(&path)).unwrap()), ring);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn fuzz_console_receive_queue(ring in any_ring()) {
        let lb = Arc::new(Loopback::default());
        let con = Arc::new(super::console::Console::new(lb.clone()));
        let sink = lb.sink.lock().unwrap().clone().unwrap();
        sink.push(&[0x5a; 3000]);
        fuzz_one(con, ring);
    }

    #[test]
    fn fuzz_block_queue_io_uring(ring in any_ring()) {
        let path = temp_image(&format!("fuzz-u-{:?}.img", std::thread::current().id()), 256 << 10);
        let mut cfg = BlockConfig::new(&path);
        cfg.aio = super::block::AioMode::IoUring;
        fuzz_one(Arc::new(Block::open(&cfg).unwrap()), ring);
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn the_dma_bitmap_reports_guest_addresses() {
    let ram = Arc::new(Ram::new(GuestPhysAddr(BASE), RAM).unwrap());
    let dram = DeviceRam::new(ram).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    assert!(dram
        .watch()
        .set_hook(Box::new(move |a, l| s.lock().unwrap().push((a, l)))));
    use vm_memory::Bytes;
    dram.mem()
        .write_slice(&[1, 2, 3], GuestAddress(BASE + 0x1234))
        .unwrap();
    assert!(dram
        .mem()
        .write_slice(&[1], GuestAddress(BASE + RAM))
        .is_err());
    assert!(dram.mem().write_slice(&[1], GuestAddress(0)).is_err());
    assert_eq!(*seen.lock().unwrap(), vec![(BASE + 0x1234, 3)]);
    let _ = Ordering::SeqCst;
}

/// A console backend that records output and hands out its input sink.
#[derive(Default)]
struct Loopback {
    out: Mutex<Vec<u8>>,
    sink: Mutex<Option<Arc<super::console::ConsoleInput>>>,
}

impl super::console::ConsoleBackend for Loopback {
    fn write(&self, data: &[u8]) {
        self.out.lock().unwrap().extend_from_slice(data);
    }
    fn start(&self, sink: Arc<super::console::ConsoleInput>) {
        *self.sink.lock().unwrap() = Some(sink);
    }
}

#[test]
fn console_transmits_and_receives() {
    let lb = Arc::new(Loopback::default());
    let mut rig = Rig::new(Arc::new(super::console::Console::new(lb.clone())));
    // Queue 1 (transmit) and queue 0 (receive) share the rig's rings
    // layout in turn: set up queue 1 first.
    rig.start_two_queues(0x4000);
    assert_eq!(rig.r(VIRTIO_MMIO_DEVICE_ID), device_id::CONSOLE);
    // Input before any receive buffer waits; a buffer then takes it.
    let sink = lb.sink.lock().unwrap().clone().unwrap();
    sink.push(b"hi!");
    rig.desc(0, BUF, 64, WRITE, 0);
    rig.kick(0);
    assert_eq!(rig.used_idx(), 1);
    assert_eq!(rig.used(0), (0, 3));
    assert_eq!(rig.peek(BUF, 3), b"hi!");
    // Transmit: queue 1's rings are 0x4000 further.
    rig.ram.write(GuestPhysAddr(BUF + 0x100), b"out").unwrap();
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(BUF + 0x100).to_le_bytes());
    b[8..12].copy_from_slice(&3u32.to_le_bytes());
    rig.ram.write(GuestPhysAddr(DESC + 0x4000), &b).unwrap();
    rig.ram
        .write(GuestPhysAddr(AVAIL + 0x4000 + 2), &1u16.to_le_bytes())
        .unwrap();
    rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
    assert_eq!(*lb.out.lock().unwrap(), b"out");
    assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 0xf);
}

/// Lays a random ring out at the console's transmit queue (queue 1, its
/// rings 0x4000 past the receive queue's), notifies it, resets, and checks
/// that the device neither panicked nor hung, wrote only inside RAM, and
/// handed the backend no more than `MAX_TX` (1 MiB) per chain taken.
fn fuzz_console_tx(ring: RingImage) {
    const OFF: u64 = 0x4000;
    let (descs, avail, idx, bytes) = ring;
    let lb = Arc::new(Loopback::default());
    let rig = Rig::new(Arc::new(super::console::Console::new(lb.clone())));
    rig.start_two_queues(OFF);
    lay_out_ring(&rig, OFF, &descs, &avail, &bytes);
    rig.ram
        .write(GuestPhysAddr(AVAIL + OFF + 2), &idx.to_le_bytes())
        .unwrap();
    rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
    let status = rig.r(VIRTIO_MMIO_STATUS);
    assert_eq!(status & 0xf, 0xf, "status {status:#x}");
    // Chains taken: the used index of queue 1 (at most one pass of the ring
    // per notification, plus the one that made the device need a reset).
    let mut b = [0u8; 2];
    rig.ram.read(GuestPhysAddr(USED + OFF + 2), &mut b).unwrap();
    let taken = u64::from(u16::from_le_bytes(b)) + 1;
    let out = lb.out.lock().unwrap().len() as u64;
    assert!(out <= taken << 20, "{out} bytes out of {taken} chains");
    rig.w(VIRTIO_MMIO_STATUS, 0);
    for &(a, l) in rig.dma.lock().unwrap().iter() {
        assert!(
            a >= BASE && a.checked_add(l).is_some_and(|e| e <= BASE + RAM),
            "DMA write outside RAM: {a:#x}+{l:#x}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_console_transmit_queue(ring in any_ring()) {
        fuzz_console_tx(ring);
    }
}

/// virtio-vsock on the rig: queue 0 (rx) at `DESC`/`AVAIL`/`USED`, queue 1
/// (tx) 0x4000 further, queue 2 (event) not set up; the device listens on
/// a socket in a fresh directory.
struct VsockRig {
    rig: Rig,
    dev: Arc<super::vsock::Vsock>,
    uds: PathBuf,
    avail: [u16; 2],
}

impl VsockRig {
    fn new(tag: &str) -> VsockRig {
        let dir = std::env::temp_dir().join(format!(
            "cranemu-vsock-{}-{tag}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let uds = dir.join("v.sock");
        let dev = Arc::new(super::vsock::Vsock::new(3, &uds).unwrap());
        let rig = Rig::new(dev.clone());
        rig.w(VIRTIO_MMIO_STATUS, 0);
        rig.w(VIRTIO_MMIO_STATUS, 3);
        rig.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        rig.w(VIRTIO_MMIO_DRIVER_FEATURES, 1);
        rig.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        rig.w(
            VIRTIO_MMIO_DRIVER_FEATURES,
            1 << virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX,
        );
        rig.w(VIRTIO_MMIO_STATUS, 0xb);
        for q in 0..2u32 {
            let off = u64::from(q) * 0x4000;
            rig.w(VIRTIO_MMIO_QUEUE_SEL, q);
            rig.w(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
            rig.w(VIRTIO_MMIO_QUEUE_DESC_LOW, (DESC + off) as u32);
            rig.w(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (AVAIL + off) as u32);
            rig.w(VIRTIO_MMIO_QUEUE_USED_LOW, (USED + off) as u32);
            rig.w(VIRTIO_MMIO_QUEUE_READY, 1);
        }
        rig.w(VIRTIO_MMIO_STATUS, 0xf);
        assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 0xf);
        VsockRig {
            rig,
            dev,
            uds,
            avail: [0; 2],
        }
    }

    fn desc(&self, q: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        desc_at(&self.rig, DESC + q * 0x4000, i, (addr, len, flags, next));
    }

    /// Makes chain `head` of queue `q` available and notifies.
    fn push(&mut self, q: u64, head: u16) {
        let idx = &mut self.avail[q as usize];
        let slot = u64::from(*idx) % u64::from(QSIZE);
        let ring = AVAIL + q * 0x4000;
        self.rig
            .ram
            .write(GuestPhysAddr(ring + 4 + 2 * slot), &head.to_le_bytes())
            .unwrap();
        *idx = idx.wrapping_add(1);
        self.rig
            .ram
            .write(GuestPhysAddr(ring + 2), &idx.to_le_bytes())
            .unwrap();
        self.rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, q as u32);
    }

    fn used_idx(&self, q: u64) -> u16 {
        let mut b = [0u8; 2];
        let at = USED + q * 0x4000 + 2;
        self.rig.ram.read(GuestPhysAddr(at), &mut b).unwrap();
        u16::from_le_bytes(b)
    }

    /// Waits (bounded) until `done` holds.
    fn wait(&self, what: &str, mut done: impl FnMut(&VsockRig) -> bool) {
        let t = std::time::Instant::now();
        while !done(self) {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(10),
                "timed out waiting for {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Gives rx buffer `i` (4 KiB at `BUF + i * 0x1000`) and waits for the
    /// device to fill it: the packet's header and payload.
    fn receive(&mut self, i: u16) -> (super::vsock::Header, Vec<u8>) {
        let at = BUF + u64::from(i) * 0x1000;
        self.desc(0, i, at, 0x1000, WRITE, 0);
        let n = self.used_idx(0).wrapping_add(1);
        self.push(0, i);
        self.wait("an rx packet", |r| r.used_idx(0) == n);
        let mut h = [0u8; super::vsock::Header::SIZE];
        h.copy_from_slice(&self.rig.peek(at, super::vsock::Header::SIZE));
        let h = super::vsock::Header::from_bytes(&h);
        let data = self
            .rig
            .peek(at + h.to_bytes().len() as u64, h.len as usize);
        (h, data)
    }

    /// Sends a packet on tx, header and payload in two descriptors at
    /// `BUF + 0x20000`, and waits for the device to take it.
    fn send(&mut self, h: super::vsock::Header, data: &[u8]) {
        let at = BUF + 0x20000;
        self.rig
            .ram
            .write(GuestPhysAddr(at), &h.to_bytes())
            .unwrap();
        self.rig.ram.write(GuestPhysAddr(at + 0x100), data).unwrap();
        self.desc(1, 0, at, 44, NEXT, 1);
        self.desc(1, 1, at + 0x100, data.len() as u32, 0, 0);
        let n = self.used_idx(1).wrapping_add(1);
        self.push(1, 0);
        self.wait("the tx packet taken", |r| r.used_idx(1) == n);
    }
}

/// A guest-side header from guest port `gport` to host port `hport`.
fn vhdr(op: u16, gport: u32, hport: u32, len: u32) -> super::vsock::Header {
    super::vsock::Header {
        src_cid: 3,
        dst_cid: 2,
        src_port: gport,
        dst_port: hport,
        len,
        type_: super::vsock::TYPE_STREAM,
        op,
        flags: 0,
        buf_alloc: 1 << 16,
        fwd_cnt: 0,
    }
}

#[test]
fn vsock_connects_both_ways_with_credit() {
    use super::vsock::{op, BUF_ALLOC, HOST_CID, SHUTDOWN_SEND};
    use std::io::{Read, Write};
    let mut v = VsockRig::new("conn");
    let mut cfg = [0u8; 8];
    for (i, b) in cfg.iter_mut().enumerate() {
        *b = v.rig.t.read(0x100 + i as u64, 1) as u8;
    }
    assert_eq!(u64::from_le_bytes(cfg), 3);
    assert_eq!(v.dev.guest_cid(), 3);

    // Host to guest: CONNECT, REQUEST, RESPONSE, OK.
    let mut host = std::os::unix::net::UnixStream::connect(&v.uds).unwrap();
    host.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // Bytes after the line wait for the connection.
    host.write_all(b"CONNECT 77\nearly").unwrap();
    let (req, _) = v.receive(0);
    assert_eq!(
        (req.op, req.src_cid, req.dst_cid, req.dst_port),
        (op::REQUEST, HOST_CID, 3, 77)
    );
    assert_eq!(req.buf_alloc, BUF_ALLOC);
    let hport = req.src_port;
    assert!(hport >= 1 << 30);
    v.send(vhdr(op::RESPONSE, 77, hport, 0), &[]);
    let mut ok = [0u8; 64];
    let n = host.read(&mut ok).unwrap();
    assert_eq!(&ok[..n], format!("OK {hport}\n").as_bytes());
    // Guest data reaches the host; host data the guest, as RW.
    v.send(vhdr(op::RW, 77, hport, 5), b"hello");
    let mut got = [0u8; 5];
    host.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    host.write_all(b"world").unwrap();
    let mut data = Vec::new();
    let mut fwd = 0;
    for i in 1..=4 {
        let (rw, d) = v.receive(i);
        assert_eq!((rw.dst_port, rw.src_port), (77, hport));
        match rw.op {
            op::RW => data.extend_from_slice(&d),
            // A credit update for the 5 bytes forwarded may come.
            op::CREDIT_UPDATE => {}
            other => panic!("op {other}"),
        }
        fwd = rw.fwd_cnt;
        if data.len() == 10 {
            break;
        }
    }
    assert_eq!(data, b"earlyworld");
    assert_eq!(fwd, 5);
    // The host closes its side: SHUTDOWN(SEND) reaches the guest.
    host.shutdown(std::net::Shutdown::Write).unwrap();
    let (sd, _) = v.receive(3);
    assert_eq!((sd.op, sd.flags), (op::SHUTDOWN, SHUTDOWN_SEND));
    // A guest past its credit gets the connection reset.
    let mut big = vhdr(op::RW, 77, hport, 0x800);
    big.len = BUF_ALLOC + 1;
    v.send(big, &[0; 0x800]);
    let (rst, _) = v.receive(4);
    assert_eq!((rst.op, rst.dst_port), (op::RST, 77));
    assert_eq!(host.read(&mut ok).unwrap(), 0);

    // Guest to host: REQUEST to port 9 lands on `uds`_9.
    let l = std::os::unix::net::UnixListener::bind(format!("{}_9", v.uds.display())).unwrap();
    v.send(vhdr(op::REQUEST, 1000, 9, 0), &[]);
    let (resp, _) = v.receive(5);
    assert_eq!(
        (resp.op, resp.src_port, resp.dst_port),
        (op::RESPONSE, 9, 1000)
    );
    let (mut peer, _) = l.accept().unwrap();
    peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // The guest gave 16 bytes of credit: the host's 40 bytes come 16 at a
    // time, and a CREDIT_REQUEST when it runs out.
    let mut small = vhdr(op::CREDIT_UPDATE, 1000, 9, 0);
    small.buf_alloc = 16;
    v.send(small, &[]);
    peer.write_all(&[7; 40]).unwrap();
    let (a, d) = v.receive(6);
    assert_eq!((a.op, d.len()), (op::RW, 16));
    let (b, _) = v.receive(7);
    assert_eq!(b.op, op::CREDIT_REQUEST);
    small.fwd_cnt = 16;
    v.send(small, &[]);
    let (c, d) = v.receive(8);
    assert_eq!((c.op, d.len()), (op::RW, 16));
    let (c, _) = v.receive(9);
    assert_eq!(c.op, op::CREDIT_REQUEST);
    // Nobody listens on port 10: RST.
    v.send(vhdr(op::REQUEST, 1001, 10, 0), &[]);
    let (r, _) = v.receive(10);
    assert_eq!((r.op, r.dst_port), (op::RST, 1001));
    // Another CID: RST.
    let mut other = vhdr(op::REQUEST, 1002, 9, 0);
    other.dst_cid = 7;
    v.send(other, &[]);
    let (r, _) = v.receive(11);
    assert_eq!((r.op, r.dst_port), (op::RST, 1002));
    // An rx buffer too small for a header: needs reset.
    small.fwd_cnt = 32;
    v.send(small, &[]);
    v.desc(0, 12, BUF, 8, WRITE, 0);
    v.push(0, 12);
    v.wait("needs reset", |r| {
        r.rig.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET != 0
    });
    v.rig.w(VIRTIO_MMIO_STATUS, 0);
    assert!(v.dev.io_thread_alive());
}

/// A guest-side vsock header, mostly well-formed: (src_cid, dst_cid,
/// src_port, dst_port, len, type, op, flags, buf_alloc, fwd_cnt).
fn any_vsock_header() -> impl Strategy<Value = super::vsock::Header> {
    (
        prop_oneof![Just(3u64), any::<u64>()],
        prop_oneof![Just(2u64), any::<u64>()],
        0..4u32,
        prop_oneof![0..4u32, Just(1 << 30), any::<u32>()],
        prop_oneof![0..0x2000u32, Just(0), any::<u32>()],
        prop_oneof![Just(1u16), any::<u16>()],
        0..9u16,
        0..4u32,
        prop_oneof![0..0x10000u32, any::<u32>()],
        any::<u32>(),
    )
        .prop_map(
            |(sc, dc, sp, dp, len, ty, op, fl, ba, fc)| super::vsock::Header {
                src_cid: sc,
                dst_cid: dc,
                src_port: sp,
                dst_port: dp,
                len,
                type_: ty,
                op,
                flags: fl,
                buf_alloc: ba,
                fwd_cnt: fc,
            },
        )
}

/// Random tx and rx rings (tx buffers starting with vsock headers), a
/// host connection waiting on port 1 and host listeners on ports 0..4:
/// the device neither panics nor hangs, and writes only inside RAM.
fn fuzz_vsock(tx: RingImage, rx: RingImage, headers: Vec<super::vsock::Header>) {
    use std::io::Write;
    let mut v = VsockRig::new("fuzz");
    let _listeners: Vec<_> = (0..4)
        .map(|p| std::os::unix::net::UnixListener::bind(format!("{}_{p}", v.uds.display())))
        .collect();
    let mut host = std::os::unix::net::UnixStream::connect(&v.uds).unwrap();
    host.write_all(b"CONNECT 1\n").unwrap();
    for (q, (descs, avail, idx, _)) in [(1u64, &tx), (0, &rx)] {
        for (i, &(a, l, f, n)) in descs.iter().enumerate() {
            v.desc(q, i as u16, a, l, f, n);
        }
        let ring = AVAIL + q * 0x4000;
        for (i, h) in avail.iter().enumerate() {
            v.rig
                .ram
                .write(GuestPhysAddr(ring + 4 + 2 * i as u64), &h.to_le_bytes())
                .unwrap();
        }
        if q == 1 {
            for (&(a, _, _, _), h) in descs.iter().zip(headers.iter().cycle()) {
                if (BASE..BASE + RAM - 64).contains(&a) {
                    v.rig.ram.write(GuestPhysAddr(a), &h.to_bytes()).unwrap();
                }
            }
        }
        v.rig
            .ram
            .write(GuestPhysAddr(ring + 2), &idx.to_le_bytes())
            .unwrap();
        v.avail[q as usize] = *idx;
        v.rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, q as u32);
    }
    // Every tx chain is taken, unless the device gave up on the ring.
    let want = tx.2;
    v.wait("the tx ring consumed or needs reset", |r| {
        r.used_idx(1) == want || r.rig.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET != 0
    });
    v.rig.w(VIRTIO_MMIO_STATUS, 0);
    assert!(v.dev.io_thread_alive(), "the vsock thread died");
    for &(a, l) in v.rig.dma.lock().unwrap().iter() {
        assert!(
            a >= BASE && a.checked_add(l).is_some_and(|e| e <= BASE + RAM),
            "DMA write outside RAM: {a:#x}+{l:#x}"
        );
    }
}

/// A ring that is mostly well-formed, so that packets get parsed: chains
/// of buffers in the buffer area (device-writable ones if `writable`),
/// vsock-sized or random lengths, some `next` links broken.
fn vsock_ring(writable: bool) -> impl Strategy<Value = RingImage> {
    let dir = if writable { WRITE } else { 0 };
    let desc = |i: u16| {
        (
            prop_oneof![
                4 => Just(BUF + u64::from(i) * 0x1000),
                1 => (0..RAM + 0x100).prop_map(|o| BASE + o),
            ],
            prop_oneof![
                6 => Just(44u32),
                6 => 44..0x1000u32,
                1 => 0..44u32,
                1 => any::<u32>()
            ],
            prop_oneof![12 => Just(dir), 6 => Just(dir | NEXT), 1 => 0..8u16],
            prop_oneof![8 => Just(i + 1), 1 => 0..QSIZE as u16 + 2],
        )
    };
    (
        (0..QSIZE as u16).map(desc).collect::<Vec<_>>(),
        proptest::collection::vec(0..QSIZE as u16, QSIZE as usize),
        prop_oneof![4 => 0..=QSIZE as u16, 1 => any::<u16>()],
        Just(Vec::new()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_vsock_queues(
        tx in prop_oneof![1 => any_ring(), 3 => vsock_ring(false)],
        rx in prop_oneof![1 => any_ring(), 3 => vsock_ring(true)],
        headers in proptest::collection::vec(any_vsock_header(), 1..8),
    ) {
        fuzz_vsock(tx, rx, headers);
    }
}

/// Offset of the transmit queue's rings from the receive queue's in the
/// virtio-net rig.
const TXQ: u64 = 0x4000;

/// A virtio-net device on one end of a socket pair (the other end is the
/// stream peer), driven with queue 0 (receive) at the rig's rings and
/// queue 1 (transmit) `TXQ` further.
fn net_rig() -> (Rig, std::os::unix::net::UnixStream) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let net = super::net::Net::with_stream(super::net::DEFAULT_MAC, a).unwrap();
    let rig = Rig::new(Arc::new(net));
    rig.start_two_queues(TXQ);
    b.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    (rig, b)
}

/// Writes a random ring's descriptors and available entries into the queue
/// whose rings lie `off` bytes above queue 0's, and `bytes` at the start of
/// every buffer inside RAM (headers); the available index is left to the
/// caller.
fn lay_out_ring(rig: &Rig, off: u64, descs: &[RawDesc], avail: &[u16], bytes: &[u8]) {
    for (i, &d) in descs.iter().enumerate() {
        desc_at(rig, DESC + off, i as u16, d);
    }
    for (i, h) in avail.iter().enumerate() {
        rig.ram
            .write(
                GuestPhysAddr(AVAIL + off + 4 + 2 * i as u64),
                &h.to_le_bytes(),
            )
            .unwrap();
    }
    for &(a, _, _, _) in descs {
        if (BASE..BASE + RAM - 64).contains(&a) {
            rig.ram.write(GuestPhysAddr(a), bytes).unwrap();
        }
    }
}

/// Writes descriptor `i` of the queue whose table is at `desc`.
fn desc_at(rig: &Rig, desc: u64, i: u16, (addr, len, flags, next): RawDesc) {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&addr.to_le_bytes());
    b[8..12].copy_from_slice(&len.to_le_bytes());
    b[12..14].copy_from_slice(&flags.to_le_bytes());
    b[14..16].copy_from_slice(&next.to_le_bytes());
    rig.ram
        .write(GuestPhysAddr(desc + 16 * u64::from(i)), &b)
        .unwrap();
}

#[test]
fn net_transmits_and_receives_frames() {
    use std::io::{Read, Write};
    let (rig, mut peer) = net_rig();
    assert_eq!(rig.r(VIRTIO_MMIO_DEVICE_ID), device_id::NET);
    // The MAC, then the link status (up), in the configuration space.
    let cfg: Vec<u8> = (0..8).map(|i| rig.t.read(0x100 + i, 1) as u8).collect();
    assert_eq!(cfg, [0x52, 0x54, 0, 0x12, 0x34, 0x56, 1, 0]);
    assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 0xf);

    // Transmit: a header and a 60-byte frame in two buffers.
    let frame: Vec<u8> = (0..60u8).collect();
    rig.ram.write(GuestPhysAddr(BUF), &[0xee; 12]).unwrap();
    rig.ram.write(GuestPhysAddr(BUF + 0x100), &frame).unwrap();
    desc_at(&rig, DESC + TXQ, 0, (BUF, 12, NEXT, 1));
    desc_at(&rig, DESC + TXQ, 1, (BUF + 0x100, 60, 0, 0));
    rig.ram
        .write(GuestPhysAddr(AVAIL + TXQ + 2), &1u16.to_le_bytes())
        .unwrap();
    rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
    let mut got = [0u8; 64];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got[..4], &60u32.to_be_bytes());
    assert_eq!(&got[4..], &frame[..]);

    // Receive: a frame from the peer waits for a buffer, then fills it
    // behind a header with num_buffers = 1.
    let incoming: Vec<u8> = (0..100u8).map(|i| i ^ 0x5a).collect();
    peer.write_all(&100u32.to_be_bytes()).unwrap();
    peer.write_all(&incoming).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    rig.ram
        .write(GuestPhysAddr(BUF + 0x1000), &[0xff; 12])
        .unwrap();
    desc_at(&rig, DESC, 0, (BUF + 0x1000, 1526, WRITE, 0));
    rig.ram
        .write(GuestPhysAddr(AVAIL + 4), &0u16.to_le_bytes())
        .unwrap();
    rig.ram
        .write(GuestPhysAddr(AVAIL + 2), &1u16.to_le_bytes())
        .unwrap();
    rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    rig.wait_used(1);
    assert_eq!(rig.used(0), (0, 112));
    let mut hdr = [0u8; 12];
    hdr[10] = 1;
    assert_eq!(rig.peek(BUF + 0x1000, 12), hdr);
    assert_eq!(rig.peek(BUF + 0x100c, 100), incoming);
    assert!(rig.dma.lock().unwrap().contains(&(BUF + 0x100c, 100)));
    assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 0xf);
    rig.w(VIRTIO_MMIO_STATUS, 0);
}

#[test]
fn net_lying_transmit_chain_needs_reset() {
    let (rig, _peer) = net_rig();
    desc_at(&rig, DESC + TXQ, 0, (BASE + RAM - 4, 64, 0, 0));
    rig.ram
        .write(GuestPhysAddr(AVAIL + TXQ + 2), &1u16.to_le_bytes())
        .unwrap();
    rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
    let t = std::time::Instant::now();
    while rig.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET == 0 {
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(rig.r(VIRTIO_MMIO_INTERRUPT_STATUS) & INT_CONFIG, INT_CONFIG);
}

/// Lays a random ring out at queue `queue` of the net rig (with frames
/// from the peer waiting for the receive queue), notifies, lets the
/// device thread work, resets, and checks every device write was in RAM.
fn fuzz_net(queue: u32, ring: RingImage) {
    use std::io::Write;
    let (descs, avail, idx, bytes) = ring;
    let (rig, mut peer) = net_rig();
    let off = u64::from(queue) * TXQ;
    lay_out_ring(&rig, off, &descs, &avail, &bytes);
    for len in [60u32, 1514, 4000] {
        peer.write_all(&len.to_be_bytes()).unwrap();
        peer.write_all(&vec![0xa5; len as usize]).unwrap();
    }
    rig.ram
        .write(GuestPhysAddr(AVAIL + off + 2), &idx.to_le_bytes())
        .unwrap();
    rig.w(VIRTIO_MMIO_QUEUE_NOTIFY, queue);
    std::thread::sleep(std::time::Duration::from_millis(10));
    rig.w(VIRTIO_MMIO_STATUS, 0);
    for &(a, l) in rig.dma.lock().unwrap().iter() {
        assert!(
            a >= BASE && a.checked_add(l).is_some_and(|e| e <= BASE + RAM),
            "DMA write outside RAM: {a:#x}+{l:#x}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_net_receive_queue(ring in any_ring()) {
        fuzz_net(0, ring);
    }

    #[test]
    fn fuzz_net_transmit_queue(ring in any_ring()) {
        fuzz_net(1, ring);
    }
}

#[test]
fn net_stream_peer_with_a_huge_frame_is_dropped() {
    use std::io::{Read, Write};
    let (rig, mut peer) = net_rig();
    peer.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let mut b = [0u8; 1];
    assert_eq!(peer.read(&mut b).unwrap(), 0, "the device kept the peer");
    assert_eq!(rig.r(VIRTIO_MMIO_STATUS), 0xf);
}
