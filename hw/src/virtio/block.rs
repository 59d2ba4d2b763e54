//! virtio-blk (virtio 1.2 §5.2) over a raw image file, served off the vCPU
//! threads.
//!
//! A `QueueNotify` makes the notifying vCPU pop and check the available
//! chains (cheap: a few guest-memory reads each) and hand each request to
//! a pool of worker threads ([`Pool`]), which do the host I/O with
//! `preadv`/`pwritev`/`fdatasync`/`fallocate` straight between the image
//! and guest RAM, write the status byte, put the chain in the used ring
//! and interrupt. So several requests are in flight at once, and a vCPU
//! never waits for the disk. A flush completes only after `fdatasync`
//! returned: data the guest flushed survives a `kill -9` of the emulator.
//!
//! Requests (§5.2.6): `IN`, `OUT`, `FLUSH`, `GET_ID`, `DISCARD` and
//! `WRITE_ZEROES` (one segment each, `max_discard_seg` =
//! `max_write_zeroes_seg` = 1); other types complete with `UNSUPP`. A
//! request outside the disk, or not a whole number of sectors, completes
//! with `IOERR`, as does a write to a read-only disk. A chain without a
//! 16-byte header or a status byte breaks the device ("needs reset").
//!
//! `cache=none` opens the image with `O_DIRECT`; a request whose guest
//! buffers are not 512-byte aligned goes through a second, buffered
//! descriptor of the same file (Linux keeps the page cache coherent with
//! direct I/O on the same file). `cache=writeback` (the default) uses the
//! page cache. Either way the guest sees a volatile write cache
//! (`VIRTIO_BLK_F_FLUSH`) and must flush.
//!
//! `aio=io_uring` sends reads, writes and flushes through an io_uring
//! ([`super::uring`]) instead of the pool (discard and write-zeroes stay on
//! the pool); where the host refuses io_uring, the pool serves everything,
//! after one log line. A short transfer (which io_uring may return) is
//! redone whole with `preadv`/`pwritev` on the completion thread.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use virtio_bindings::virtio_blk::*;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend};

use super::uring::{Op, Uring};
use super::{
    device_id, drain_queue, read_config_bytes, read_from, write_to, ActiveQueue, Chain,
    VirtioDevice, COMMON_FEATURES,
};
use crate::lock;

/// Sector size of the virtio-blk protocol (bytes).
pub const SECTOR_SIZE: u64 = 512;
/// Size of the one request queue.
pub const QUEUE_SIZE: u16 = 256;
/// Worker threads of the pool.
pub const POOL_THREADS: usize = 4;
/// Size of a request header (`struct virtio_blk_outhdr`: type, reserved,
/// sector; bytes).
const HEADER_SIZE: u64 = 16;
/// Size of one discard/write-zeroes segment (bytes, §5.2.6).
const SEGMENT_SIZE: usize = 16;
/// The configuration space's size we expose (bytes, up to
/// `write_zeroes_may_unmap` and its padding).
const CONFIG_SIZE: usize = 60;

/// Status byte values (§5.2.6).
const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

/// `cache=`: how the image is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// The host page cache (QEMU's default).
    #[default]
    Writeback,
    /// `O_DIRECT`, bypassing the host page cache.
    None,
}

/// `aio=`: who does the I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AioMode {
    /// The worker-thread pool.
    #[default]
    Threads,
    /// io_uring (falls back to the pool, see the module doc).
    IoUring,
}

/// A `-drive file=...,if=virtio` as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockConfig {
    /// The raw image.
    pub path: PathBuf,
    /// `readonly=on`.
    pub readonly: bool,
    /// `cache=`.
    pub cache: CacheMode,
    /// `aio=`.
    pub aio: AioMode,
}

impl BlockConfig {
    /// A read-write, writeback, thread-pool drive on `path`.
    pub fn new(path: impl Into<PathBuf>) -> BlockConfig {
        BlockConfig {
            path: path.into(),
            readonly: false,
            cache: CacheMode::Writeback,
            aio: AioMode::Threads,
        }
    }
}

/// A job for the pool.
type Job = Box<dyn FnOnce() + Send>;

/// The pool's queue and its stop flag.
struct PoolShared {
    jobs: Mutex<(VecDeque<Job>, bool)>,
    cv: Condvar,
}

/// A fixed set of worker threads running jobs in submission order (several
/// at once). Dropping it lets queued jobs finish and joins the threads.
pub struct Pool {
    shared: Arc<PoolShared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl Pool {
    /// Starts `n` workers named `name-i`.
    ///
    /// # Errors
    /// The host's error if a thread cannot be started.
    pub fn new(n: usize, name: &str) -> std::io::Result<Pool> {
        let shared = Arc::new(PoolShared {
            jobs: Mutex::new((VecDeque::new(), false)),
            cv: Condvar::new(),
        });
        let mut threads = Vec::new();
        for i in 0..n {
            let s = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || Pool::work(&s))?,
            );
        }
        Ok(Pool { shared, threads })
    }

    fn work(s: &PoolShared) {
        loop {
            let job = {
                let mut q = lock(&s.jobs);
                loop {
                    if let Some(j) = q.0.pop_front() {
                        break j;
                    }
                    if q.1 {
                        return;
                    }
                    q = s.cv.wait(q).unwrap_or_else(|e| e.into_inner());
                }
            };
            job();
        }
    }

    /// Queues `job`.
    pub fn submit(&self, job: Job) {
        let mut q = lock(&self.shared.jobs);
        q.0.push_back(job);
        self.shared.cv.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        lock(&self.shared.jobs).1 = true;
        self.shared.cv.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Requests handed to the pool and not yet completed.
#[derive(Default)]
struct Inflight {
    count: Mutex<u64>,
    cv: Condvar,
}

impl Inflight {
    fn start(&self) {
        *lock(&self.count) += 1;
    }
    fn done(&self) {
        let mut c = lock(&self.count);
        *c -= 1;
        if *c == 0 {
            self.cv.notify_all();
        }
    }
    fn wait_idle(&self) {
        let mut c = lock(&self.count);
        while *c != 0 {
            c = self.cv.wait(c).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The image file.
#[derive(Debug)]
struct Disk {
    /// Opened as `cache=` says.
    file: File,
    /// With `cache=none`: a buffered descriptor for unaligned requests.
    buffered: Option<File>,
    /// Size in sectors (the file's size rounded down).
    sectors: u64,
    readonly: bool,
    /// `GET_ID`'s answer: the image's file name, cut to 20 bytes.
    id: [u8; VIRTIO_BLK_ID_BYTES as usize],
}

/// What [`Block::open`] can fail with.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct OpenError {
    /// The image path as given.
    pub path: String,
    /// Why, in a few words.
    pub reason: String,
}

/// A virtio-blk device. See the module doc.
pub struct Block {
    disk: Arc<Disk>,
    features: u64,
    config: [u8; CONFIG_SIZE],
    pool: Pool,
    uring: Option<Uring>,
    queue: Mutex<Option<Arc<ActiveQueue>>>,
    inflight: Arc<Inflight>,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("disk", &self.disk)
            .field("features", &format_args!("{:#x}", self.features))
            .finish_non_exhaustive()
    }
}

fn open_file(path: &Path, readonly: bool, direct: bool) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(!readonly);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path)
}

/// Locks the whole image against other writers, for as long as `file` is
/// open: a write lock for a read-write drive, a read lock for a read-only
/// one, as open-file-description locks (`F_OFD_SETLK`), which are
/// per open file, so two drives of one image in one machine conflict as
/// two machines do. QEMU locks bytes of the image the same way, so a QEMU
/// and a cranemu writing one image refuse each other too. A file system
/// without locks (`ENOLCK`, `EOPNOTSUPP`) is not refused.
fn lock_image(file: &File, readonly: bool) -> Result<(), String> {
    // SAFETY: a zeroed flock is valid; l_len 0 covers the whole file.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = if readonly {
        libc::F_RDLCK
    } else {
        libc::F_WRLCK
    } as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: fcntl on a descriptor we own with a live flock.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &fl) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Err(format!(
            "failed to get a {} lock: is another process or -drive using the image?",
            if readonly { "read" } else { "write" }
        )),
        Some(libc::ENOLCK | libc::EOPNOTSUPP | libc::EINVAL) => Ok(()),
        _ => Err(format!("lock: {e}")),
    }
}

impl Block {
    /// Opens the image of `cfg` and starts the worker pool.
    ///
    /// # Errors
    /// [`OpenError`] if the image cannot be opened or sized, or the pool
    /// cannot start.
    pub fn open(cfg: &BlockConfig) -> Result<Block, OpenError> {
        let err = |reason: String| OpenError {
            path: cfg.path.display().to_string(),
            reason,
        };
        let direct = cfg.cache == CacheMode::None;
        let file = open_file(&cfg.path, cfg.readonly, direct).map_err(|e| err(e.to_string()))?;
        let buffered = if direct {
            Some(open_file(&cfg.path, cfg.readonly, false).map_err(|e| err(e.to_string()))?)
        } else {
            None
        };
        let meta = file.metadata().map_err(|e| err(e.to_string()))?;
        if meta.is_dir() {
            return Err(err("is a directory".into()));
        }
        lock_image(&file, cfg.readonly).map_err(err)?;
        // SAFETY: lseek on a descriptor we own; it works for regular
        // files and block devices alike.
        let len = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) };
        if len < 0 {
            return Err(err(std::io::Error::last_os_error().to_string()));
        }
        let sectors = len as u64 / SECTOR_SIZE;
        let mut id = [0u8; VIRTIO_BLK_ID_BYTES as usize];
        let name = cfg
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = name.len().min(id.len());
        id[..n].copy_from_slice(&name.as_bytes()[..n]);
        let uring = match cfg.aio {
            AioMode::Threads => None,
            AioMode::IoUring => match Uring::new() {
                Ok(u) => Some(u),
                Err(e) => {
                    // Not `eprintln!`, which panics when stderr is full.
                    use std::io::Write as _;
                    let _ = writeln!(
                        std::io::stderr(),
                        "cranemu: -drive {}: io_uring is not available ({e}); using the thread pool",
                        cfg.path.display()
                    );
                    None
                }
            },
        };
        let pool = Pool::new(POOL_THREADS, "cranemu-blk").map_err(|e| err(e.to_string()))?;

        let mut features = COMMON_FEATURES
            | 1 << VIRTIO_BLK_F_SEG_MAX
            | 1 << VIRTIO_BLK_F_BLK_SIZE
            | 1 << VIRTIO_BLK_F_FLUSH;
        if cfg.readonly {
            features |= 1 << VIRTIO_BLK_F_RO;
        } else {
            features |= 1 << VIRTIO_BLK_F_DISCARD | 1 << VIRTIO_BLK_F_WRITE_ZEROES;
        }
        // struct virtio_blk_config (§5.2.4), little-endian.
        let mut config = [0u8; CONFIG_SIZE];
        let mut put =
            |off: usize, bytes: &[u8]| config[off..off + bytes.len()].copy_from_slice(bytes);
        put(0, &sectors.to_le_bytes()); // capacity
        put(12, &u32::from(QUEUE_SIZE - 2).to_le_bytes()); // seg_max
        put(20, &(SECTOR_SIZE as u32).to_le_bytes()); // blk_size
        put(34, &1u16.to_le_bytes()); // num_queues
        let max_sectors = (u32::MAX / SECTOR_SIZE as u32).to_le_bytes();
        put(36, &max_sectors); // max_discard_sectors
        put(40, &1u32.to_le_bytes()); // max_discard_seg
        put(44, &8u32.to_le_bytes()); // discard_sector_alignment (4 KiB)
        put(48, &max_sectors); // max_write_zeroes_sectors
        put(52, &1u32.to_le_bytes()); // max_write_zeroes_seg
        put(56, &[1]); // write_zeroes_may_unmap
        Ok(Block {
            disk: Arc::new(Disk {
                file,
                buffered,
                sectors,
                readonly: cfg.readonly,
                id,
            }),
            features,
            config,
            pool,
            uring,
            queue: Mutex::new(None),
            inflight: Arc::new(Inflight::default()),
        })
    }

    /// The disk's size in sectors.
    pub fn sectors(&self) -> u64 {
        self.disk.sectors
    }

    /// Checks one chain and starts its request.
    fn start(&self, aq: &Arc<ActiveQueue>, chain: Chain) {
        let mem = aq.ram.mem();
        let mut hdr = [0u8; HEADER_SIZE as usize];
        // The status byte: the last byte of the last non-empty writable
        // buffer.
        let status_at = chain
            .writable
            .iter()
            .rev()
            .find(|&&(_, l)| l != 0)
            .map(|&(a, l)| a + u64::from(l) - 1);
        let (Some(status_at), HEADER_SIZE) = (
            status_at,
            read_from(&chain.readable, 0, &mut hdr, mem) as u64,
        ) else {
            aq.signals.fail();
            return;
        };
        let kind = u32::from_le_bytes(hdr[0..4].try_into().unwrap_or_default());
        let sector = u64::from_le_bytes(hdr[8..16].try_into().unwrap_or_default());
        // The data buffers: writable ones without the status byte,
        // readable ones without the header.
        let mut into = chain.writable.clone();
        trim_last_byte(&mut into);
        let from = skip_bytes(&chain.readable, HEADER_SIZE);
        let head = chain.head;

        let finish = {
            let aq = aq.clone();
            move |status: u8, written: u64| {
                let mem = aq.ram.mem();
                let _ = mem.write_obj(status, GuestAddress(status_at));
                aq.complete(head, (written + 1).min(u64::from(u32::MAX)) as u32);
            }
        };
        let disk = &self.disk;
        let in_range = |bytes: u64| {
            bytes.is_multiple_of(SECTOR_SIZE)
                && sector
                    .checked_add(bytes / SECTOR_SIZE)
                    .is_some_and(|end| end <= disk.sectors)
        };
        let job: Box<dyn FnOnce() -> (u8, u64) + Send> = match kind {
            VIRTIO_BLK_T_IN => {
                let len = total(&into);
                if !in_range(len) {
                    return finish(S_IOERR, 0);
                }
                let Some(iov) = host_iovecs(&into, mem) else {
                    return aq.signals.fail();
                };
                let watch = aq.ram.watch().clone();
                if let Some(u) = &self.uring {
                    return self.uring_rw(u, iov, sector * SECTOR_SIZE, false, move |ok| {
                        for &(gpa, l) in &into {
                            watch.written(gpa, u64::from(l));
                        }
                        if ok {
                            finish(S_OK, len)
                        } else {
                            finish(S_IOERR, 0)
                        }
                    });
                }
                let disk = self.disk.clone();
                Box::new(move || {
                    let ok = disk.rw(&iov, sector * SECTOR_SIZE, false);
                    for &(gpa, l) in &into {
                        watch.written(gpa, u64::from(l));
                    }
                    if ok {
                        (S_OK, len)
                    } else {
                        (S_IOERR, 0)
                    }
                })
            }
            VIRTIO_BLK_T_OUT => {
                let len = total(&from);
                if disk.readonly || !in_range(len) {
                    return finish(S_IOERR, 0);
                }
                let Some(iov) = host_iovecs(&from, mem) else {
                    return aq.signals.fail();
                };
                if let Some(u) = &self.uring {
                    return self.uring_rw(u, iov, sector * SECTOR_SIZE, true, move |ok| {
                        finish(if ok { S_OK } else { S_IOERR }, 0)
                    });
                }
                let disk = self.disk.clone();
                Box::new(move || {
                    if disk.rw(&iov, sector * SECTOR_SIZE, true) {
                        (S_OK, 0)
                    } else {
                        (S_IOERR, 0)
                    }
                })
            }
            VIRTIO_BLK_T_FLUSH => {
                if let Some(u) = &self.uring {
                    self.inflight.start();
                    let inflight = self.inflight.clone();
                    u.submit(
                        self.disk.file.as_raw_fd(),
                        Op::Flush,
                        Box::new(move |res| {
                            finish(if res == 0 { S_OK } else { S_IOERR }, 0);
                            inflight.done();
                        }),
                    );
                    return;
                }
                let disk = self.disk.clone();
                Box::new(move || {
                    // SAFETY: fdatasync on a descriptor `disk` owns.
                    let r = unsafe { libc::fdatasync(disk.file.as_raw_fd()) };
                    (if r == 0 { S_OK } else { S_IOERR }, 0)
                })
            }
            VIRTIO_BLK_T_GET_ID => {
                let n = write_to(&into, 0, &disk.id, mem);
                return finish(S_OK, n as u64);
            }
            VIRTIO_BLK_T_DISCARD | VIRTIO_BLK_T_WRITE_ZEROES => {
                let mut seg = [0u8; SEGMENT_SIZE];
                if disk.readonly
                    || total(&from) != SEGMENT_SIZE as u64
                    || read_from(&from, 0, &mut seg, mem) != SEGMENT_SIZE
                {
                    return finish(S_IOERR, 0);
                }
                let start = u64::from_le_bytes(seg[0..8].try_into().unwrap_or_default());
                let count = u32::from_le_bytes(seg[8..12].try_into().unwrap_or_default());
                let flags = u32::from_le_bytes(seg[12..16].try_into().unwrap_or_default());
                let end = start.checked_add(u64::from(count));
                if end.is_none_or(|e| e > disk.sectors) || flags & !1 != 0 {
                    return finish(S_IOERR, 0);
                }
                let zero = kind == VIRTIO_BLK_T_WRITE_ZEROES;
                let disk = self.disk.clone();
                Box::new(move || {
                    let ok = disk.deallocate(
                        start * SECTOR_SIZE,
                        u64::from(count) * SECTOR_SIZE,
                        zero,
                        flags & 1 != 0,
                    );
                    (if ok { S_OK } else { S_IOERR }, 0)
                })
            }
            _ => return finish(S_UNSUPP, 0),
        };
        self.inflight.start();
        let inflight = self.inflight.clone();
        self.pool.submit(Box::new(move || {
            let (status, written) = job();
            finish(status, written);
            inflight.done();
        }));
    }
}

impl Block {
    /// Sends a read or write of `bufs` at byte `offset` to the ring;
    /// `finish` gets whether it succeeded.
    fn uring_rw(
        &self,
        u: &Uring,
        bufs: Vec<HostBuf>,
        offset: u64,
        write: bool,
        finish: impl FnOnce(bool) + Send + 'static,
    ) {
        let disk = self.disk.clone();
        let expected: usize = bufs.iter().map(|b| b.1).sum();
        let iov: Vec<libc::iovec> = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.0 as *mut libc::c_void,
                iov_len: b.1,
            })
            .collect();
        if iov.len() > IOV_MAX {
            // More than one readv takes: the pool's loop splits it.
            self.inflight.start();
            let inflight = self.inflight.clone();
            self.pool.submit(Box::new(move || {
                finish(disk.rw(&bufs, offset, write));
                inflight.done();
            }));
            return;
        }
        let fd = disk.fd_for(&bufs);
        let op = if write {
            Op::Write(iov, offset)
        } else {
            Op::Read(iov, offset)
        };
        self.inflight.start();
        let inflight = self.inflight.clone();
        u.submit(
            fd,
            op,
            Box::new(move |res| {
                let ok = match usize::try_from(res) {
                    Ok(n) if n == expected => true,
                    // Short: redo it whole, synchronously.
                    Ok(_) => disk.rw(&bufs, offset, write),
                    Err(_) => false,
                };
                finish(ok);
                inflight.done();
            }),
        );
    }
}

/// Total bytes of `bufs`.
fn total(bufs: &[(u64, u32)]) -> u64 {
    bufs.iter().map(|&(_, l)| u64::from(l)).sum()
}

/// Removes the last byte of the last non-empty buffer (the status byte).
fn trim_last_byte(bufs: &mut Vec<(u64, u32)>) {
    while let Some(&(a, l)) = bufs.last() {
        bufs.pop();
        if l != 0 {
            if l > 1 {
                bufs.push((a, l - 1));
            }
            return;
        }
    }
}

/// `bufs` without their first `skip` bytes.
fn skip_bytes(bufs: &[(u64, u32)], mut skip: u64) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    for &(a, l) in bufs {
        let l64 = u64::from(l);
        if skip >= l64 {
            skip -= l64;
            continue;
        }
        out.push((a + skip, (l64 - skip) as u32));
        skip = 0;
    }
    out
}

/// A host buffer inside guest RAM: (host address, length in bytes).
#[derive(Debug, Clone, Copy)]
struct HostBuf(usize, usize);

/// The host addresses of guest buffers already checked to lie in RAM;
/// `None` if one does not (it cannot, after [`super::read_chain`]).
fn host_iovecs(bufs: &[(u64, u32)], mem: &super::GuestMem) -> Option<Vec<HostBuf>> {
    bufs.iter()
        .filter(|&&(_, l)| l != 0)
        .map(|&(a, l)| {
            if !mem.check_range(GuestAddress(a), l as usize) {
                return None;
            }
            let p = mem.get_host_address(GuestAddress(a)).ok()?;
            Some(HostBuf(p as usize, l as usize))
        })
        .collect()
}

/// The most iovecs one `preadv`/`pwritev` takes.
const IOV_MAX: usize = 1024;

impl Disk {
    /// The descriptor for a transfer of `bufs`: with `cache=none`, the
    /// `O_DIRECT` one only when every buffer is 512-byte aligned.
    fn fd_for(&self, bufs: &[HostBuf]) -> i32 {
        let aligned = bufs.iter().all(|b| {
            (b.0 as u64).is_multiple_of(SECTOR_SIZE) && (b.1 as u64).is_multiple_of(SECTOR_SIZE)
        });
        match (&self.buffered, aligned) {
            (Some(b), false) => b.as_raw_fd(),
            _ => self.file.as_raw_fd(),
        }
    }

    /// Reads (`write` false) or writes the whole of `bufs` at byte
    /// `offset` of the image; false on an error or end of file.
    fn rw(&self, bufs: &[HostBuf], offset: u64, write: bool) -> bool {
        let aligned = bufs.iter().all(|b| {
            (b.0 as u64).is_multiple_of(SECTOR_SIZE) && (b.1 as u64).is_multiple_of(SECTOR_SIZE)
        });
        let file = match (&self.buffered, aligned) {
            (Some(b), false) => b,
            _ => &self.file,
        };
        let fd = file.as_raw_fd();
        let mut iov: Vec<libc::iovec> = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.0 as *mut libc::c_void,
                iov_len: b.1,
            })
            .collect();
        let mut first = 0;
        let mut pos = offset;
        while first < iov.len() {
            let n = (iov.len() - first).min(IOV_MAX);
            // SAFETY: every iovec is a range of guest RAM (checked when the
            // chain was read), which stays mapped while the machine lives;
            // the guest may race with us on its own memory, as with DMA.
            let r = unsafe {
                if write {
                    libc::pwritev(fd, iov[first..].as_ptr(), n as i32, pos as i64)
                } else {
                    libc::preadv(fd, iov[first..].as_ptr(), n as i32, pos as i64)
                }
            };
            if r < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return false;
            }
            if r == 0 {
                return false;
            }
            let mut r = r as usize;
            pos += r as u64;
            while r > 0 && first < iov.len() {
                let take = r.min(iov[first].iov_len);
                iov[first].iov_len -= take;
                // SAFETY: advancing within the same buffer.
                iov[first].iov_base = unsafe { iov[first].iov_base.cast::<u8>().add(take).cast() };
                r -= take;
                if iov[first].iov_len == 0 {
                    first += 1;
                }
            }
        }
        true
    }

    /// Discards (`zero` false) or zeroes `len` bytes at `offset`;
    /// `unmap` lets zeroing punch a hole.
    fn deallocate(&self, offset: u64, len: u64, zero: bool, unmap: bool) -> bool {
        if len == 0 {
            return true;
        }
        let fd = self.file.as_raw_fd();
        let punch = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        let mode = if !zero || unmap {
            punch
        } else {
            libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE
        };
        // SAFETY: fallocate on a descriptor we own.
        let r = unsafe { libc::fallocate(fd, mode, offset as i64, len as i64) };
        if r == 0 {
            return true;
        }
        if !zero {
            // A discard is a hint: a file system without hole punching
            // may ignore it.
            return true;
        }
        // Write the zeroes ourselves.
        let file = self.buffered.as_ref().unwrap_or(&self.file);
        let chunk = vec![0u8; 1 << 20];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(chunk.len() as u64) as usize;
            if file.write_all_at(&chunk[..n], offset + done).is_err() {
                return false;
            }
            done += n as u64;
        }
        true
    }
}

impl VirtioDevice for Block {
    fn device_type(&self) -> u32 {
        device_id::BLOCK
    }

    fn features(&self) -> u64 {
        self.features
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        read_config_bytes(&self.config, offset, data);
    }

    fn activate(&self, _features: u64, queues: Vec<Arc<ActiveQueue>>) {
        *lock(&self.queue) = queues.into_iter().next();
    }

    fn notify(&self, index: u32) {
        if index != 0 {
            return;
        }
        let Some(aq) = lock(&self.queue).clone() else {
            return;
        };
        drain_queue(&aq, |chain| self.start(&aq, chain));
    }

    fn reset(&self) {
        self.inflight.wait_idle();
        *lock(&self.queue) = None;
    }
}
