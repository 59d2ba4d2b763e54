//! virtio-vsock, the socket device (virtio 1.2 §5.10), with a "hybrid"
//! host end on Unix sockets as Firecracker's: no host kernel module.
//!
//! # The guest side (§5.10.2, §5.10.6)
//! Three queues: 0 rx (device to driver, device-writable buffers), 1 tx
//! (driver to device, readable buffers) and 2 event (never used: the
//! device sends no `TRANSPORT_RESET`, so it keeps the buffers). The
//! configuration space is `guest_cid` (le64, §5.10.4). Every packet
//! starts with the 44-byte `virtio_vsock_hdr` ([`Header`]); only
//! `VIRTIO_VSOCK_TYPE_STREAM` is offered (feature bit 0, §5.10.3).
//! Headers and payloads are read and written through the chain's buffers
//! wherever the driver put them (§2.7.4: no layout is assumed), which is
//! why the `virtio-vsock` crate's `VsockPacket` is not used: it needs the
//! header and the payload each in one descriptor and one contiguous host
//! slice, and keeps its header private to a packet bound to a chain.
//!
//! # The host side
//! The device listens on a Unix socket at `uds` (`-device
//! vhost-vsock-device,guest-cid=N,uds=PATH`):
//! - a host program connects to `PATH` and writes `CONNECT PORT\n`; the
//!   device sends the guest a `REQUEST` to `PORT` from a fresh host port
//!   (from 2^30 upward); on the guest's `RESPONSE` the host program reads
//!   `OK HOSTPORT\n` and the stream is connected; on a `RST` (nobody
//!   listens) or a bad line, the host connection is closed;
//! - a guest connection to CID 2 ([`HOST_CID`]) port `P` connects to the
//!   Unix socket `PATH_P`; the guest gets `RESPONSE`, or `RST` if nobody
//!   listens there.
//!
//! # Flow control (§5.10.6.3)
//! Each direction is credit-based. Guest to host: the device buffers at
//! most [`BUF_ALLOC`] bytes per connection that the host socket has not
//! taken yet, advertises that as `buf_alloc` and the bytes handed to the
//! host as `fwd_cnt` in every header, and sends `CREDIT_UPDATE` when it
//! has freed a quarter of it (or all of it); a guest that sends past its
//! credit gets the connection reset. Host to guest: the device reads from
//! the host socket only as much as the guest's `buf_alloc - (rx_cnt -
//! fwd_cnt)` allows, and sends `CREDIT_REQUEST` when that is 0 and the
//! host has data.
//!
//! # Threads
//! All host I/O and all queue processing run on the device's own thread
//! (`cranemu-vsock`), a `poll(2)` loop over the listener, the host
//! sockets (non-blocking) and a wake-up socket. A `QueueNotify` from a
//! vCPU only writes one byte to the wake-up socket, so no vCPU ever waits
//! on host I/O. The loop works in short passes, each holding the device's
//! lock; [`VirtioDevice::reset`] takes the same lock (waiting for one pass
//! at most), so no guest-memory access follows a reset. Packets for the guest are held (control packets
//! first, then data) until the driver gives rx buffers; the tx queue is
//! not read while many control packets wait, which bounds that backlog.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use virtio_queue::QueueT;

use super::{
    drain_queue, pop_chain, read_config_bytes, read_from, write_to, ActiveQueue, Chain,
    VirtioDevice, COMMON_FEATURES,
};
use crate::lock;

/// The virtio device ID of the socket device (§5.10.1).
pub const DEVICE_ID: u32 = virtio_bindings::virtio_ids::VIRTIO_ID_VSOCK;
/// Size of each queue.
pub const QUEUE_SIZE: u16 = 256;
/// The host's CID (§5.10.4: 2 is the host).
pub const HOST_CID: u64 = 2;
/// The bytes the device buffers per connection for the host socket, as
/// advertised in `buf_alloc`.
pub const BUF_ALLOC: u32 = 256 << 10;
/// The largest payload taken from or given to the guest in one packet
/// (Linux's `VIRTIO_VSOCK_MAX_PKT_BUF_SIZE`).
pub const MAX_PAYLOAD: u32 = 64 << 10;
/// The first host port given to host-initiated connections.
pub const FIRST_HOST_PORT: u32 = 1 << 30;
/// How long a host connection may take to send its `CONNECT` line, and
/// the guest to answer a `REQUEST`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Feature bit: stream sockets (§5.10.3).
pub const F_STREAM: u64 = 1 << 0;

/// Operations (`op`, §5.10.6).
pub mod op {
    /// Connection request.
    pub const REQUEST: u16 = 1;
    /// Connection accepted.
    pub const RESPONSE: u16 = 2;
    /// Connection reset.
    pub const RST: u16 = 3;
    /// No more sending and/or receiving (`flags`).
    pub const SHUTDOWN: u16 = 4;
    /// Data.
    pub const RW: u16 = 5;
    /// The sender's `buf_alloc`/`fwd_cnt` changed.
    pub const CREDIT_UPDATE: u16 = 6;
    /// Asks for a `CREDIT_UPDATE`.
    pub const CREDIT_REQUEST: u16 = 7;
}

/// `type` of a stream socket.
pub const TYPE_STREAM: u16 = 1;
/// `SHUTDOWN` flag: the sender will receive no more.
pub const SHUTDOWN_RCV: u32 = 1;
/// `SHUTDOWN` flag: the sender will send no more.
pub const SHUTDOWN_SEND: u32 = 2;

/// `struct virtio_vsock_hdr` (§5.10.6), 44 bytes little-endian, packed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    /// Source CID.
    pub src_cid: u64,
    /// Destination CID.
    pub dst_cid: u64,
    /// Source port.
    pub src_port: u32,
    /// Destination port.
    pub dst_port: u32,
    /// Payload length (bytes).
    pub len: u32,
    /// Socket type ([`TYPE_STREAM`]).
    pub type_: u16,
    /// Operation ([`op`]).
    pub op: u16,
    /// `SHUTDOWN` flags.
    pub flags: u32,
    /// The sender's receive buffer (bytes).
    pub buf_alloc: u32,
    /// Bytes the sender has consumed from it, wrapping.
    pub fwd_cnt: u32,
}

impl Header {
    /// Size in bytes.
    pub const SIZE: usize = 44;

    /// Decodes the little-endian layout.
    pub fn from_bytes(b: &[u8; Header::SIZE]) -> Header {
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        Header {
            src_cid: u64_at(0),
            dst_cid: u64_at(8),
            src_port: u32_at(16),
            dst_port: u32_at(20),
            len: u32_at(24),
            type_: u16_at(28),
            op: u16_at(30),
            flags: u32_at(32),
            buf_alloc: u32_at(36),
            fwd_cnt: u32_at(40),
        }
    }

    /// Encodes the little-endian layout.
    pub fn to_bytes(&self) -> [u8; Header::SIZE] {
        let mut b = [0u8; Header::SIZE];
        b[0..8].copy_from_slice(&self.src_cid.to_le_bytes());
        b[8..16].copy_from_slice(&self.dst_cid.to_le_bytes());
        b[16..20].copy_from_slice(&self.src_port.to_le_bytes());
        b[20..24].copy_from_slice(&self.dst_port.to_le_bytes());
        b[24..28].copy_from_slice(&self.len.to_le_bytes());
        b[28..30].copy_from_slice(&self.type_.to_le_bytes());
        b[30..32].copy_from_slice(&self.op.to_le_bytes());
        b[32..36].copy_from_slice(&self.flags.to_le_bytes());
        b[36..40].copy_from_slice(&self.buf_alloc.to_le_bytes());
        b[40..44].copy_from_slice(&self.fwd_cnt.to_le_bytes());
        b
    }
}

/// A connection, keyed by (guest port, host port).
#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    /// Host-initiated and waiting for the guest's `RESPONSE` since then.
    connecting: Option<Instant>,
    /// Guest to host bytes not yet written to the host socket
    /// (`tx_buf[tx_off..]`); the first `tx_extra` of them are the `OK`
    /// line, which is not guest data and takes no credit.
    tx_buf: Vec<u8>,
    tx_off: usize,
    tx_extra: usize,
    /// Guest bytes handed to the host (wrapping), and the value last told.
    fwd_cnt: u32,
    fwd_told: u32,
    /// A `CREDIT_UPDATE` (or any packet carrying `fwd_cnt`) is due.
    credit_due: bool,
    /// Host to guest bytes read but not yet given (`rx_buf[rx_off..]`).
    rx_buf: Vec<u8>,
    rx_off: usize,
    /// Bytes given to the guest (wrapping).
    rx_cnt: u32,
    /// The guest's last `buf_alloc` and `fwd_cnt`.
    peer_buf_alloc: u32,
    peer_fwd_cnt: u32,
    /// A `CREDIT_REQUEST` was sent and no packet came since.
    credit_asked: bool,
    /// The host socket reached end of file (it sends no more).
    host_eof: bool,
    /// The guest was told (`SHUTDOWN` with `SEND`).
    eof_told: bool,
    /// The guest will send no more: shut the host's write side once
    /// `tx_buf` is written.
    guest_shut_send: bool,
    host_write_shut: bool,
    /// The guest will receive no more.
    guest_shut_rcv: bool,
}

impl Conn {
    fn new(stream: UnixStream, connecting: bool) -> Conn {
        Conn {
            stream,
            connecting: connecting.then(Instant::now),
            tx_buf: Vec::new(),
            tx_off: 0,
            tx_extra: 0,
            fwd_cnt: 0,
            fwd_told: 0,
            credit_due: false,
            rx_buf: Vec::new(),
            rx_off: 0,
            rx_cnt: 0,
            peer_buf_alloc: 0,
            peer_fwd_cnt: 0,
            credit_asked: false,
            host_eof: false,
            eof_told: false,
            guest_shut_send: false,
            host_write_shut: false,
            guest_shut_rcv: false,
        }
    }

    /// Bytes the guest may still receive (§5.10.6.3.1).
    fn peer_credit(&self) -> u32 {
        let in_flight = self.rx_cnt.wrapping_sub(self.peer_fwd_cnt);
        self.peer_buf_alloc.saturating_sub(in_flight)
    }

    /// Guest bytes buffered for the host.
    fn tx_pending(&self) -> usize {
        self.tx_buf.len() - self.tx_off
    }

    fn wants_read(&self) -> bool {
        self.connecting.is_none()
            && !self.host_eof
            && !self.guest_shut_rcv
            && self.rx_off == self.rx_buf.len()
            && self.peer_credit() > 0
    }

    /// Both directions are over: the connection can be reset and dropped.
    fn finished(&self) -> bool {
        self.connecting.is_none()
            && self.guest_shut_send
            && self.tx_pending() == 0
            && (self.guest_shut_rcv || (self.host_eof && self.eof_told))
    }
}

/// A host connection that has not sent its `CONNECT PORT\n` line yet.
#[derive(Debug)]
struct Handshake {
    stream: UnixStream,
    line: Vec<u8>,
    since: Instant,
}

/// The device state the I/O thread works on.
#[derive(Debug, Default)]
struct Inner {
    /// rx, tx, event; empty when the driver has not started the device.
    queues: Vec<Arc<ActiveQueue>>,
    conns: HashMap<(u32, u32), Conn>,
    handshakes: Vec<Handshake>,
    /// Control packets waiting for rx buffers.
    ctrl: VecDeque<Header>,
    next_host_port: u32,
    /// Turns taken delivering data (round-robin over connections).
    turn: usize,
}

/// Control packets held before the tx queue is read again.
const MAX_CTRL: usize = 256;

#[derive(Debug)]
struct Shared {
    guest_cid: u64,
    uds: PathBuf,
    inner: Mutex<Inner>,
    stop: AtomicBool,
    /// Written (one byte) to wake the I/O thread.
    wake_tx: UnixStream,
}

/// A virtio-vsock device. See the module doc.
#[derive(Debug)]
pub struct Vsock {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Why the device could not be created.
#[derive(Debug, thiserror::Error)]
pub enum VsockError {
    /// The CID is reserved (0, 1, 2 and `u32::MAX` are, §5.10.4) or does
    /// not fit the 32 bits Linux uses.
    #[error("guest-cid={0}: must be 3 to 4294967294")]
    Cid(u64),
    /// The Unix socket could not be bound, or the thread not started.
    #[error("uds={path}: {err}")]
    Socket {
        /// The socket's path.
        path: PathBuf,
        /// The host's error.
        err: std::io::Error,
    },
}

impl Vsock {
    /// A device for guest CID `guest_cid`, listening on `uds` (a stale
    /// socket file there is replaced) with its I/O thread started.
    ///
    /// # Errors
    /// [`VsockError`] for a reserved CID or a socket that cannot be bound.
    pub fn new(guest_cid: u64, uds: &Path) -> Result<Vsock, VsockError> {
        if !(3..u64::from(u32::MAX)).contains(&guest_cid) {
            return Err(VsockError::Cid(guest_cid));
        }
        let sock_err = |err| VsockError::Socket {
            path: uds.to_path_buf(),
            err,
        };
        if std::fs::symlink_metadata(uds).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        }) {
            let _ = std::fs::remove_file(uds);
        }
        let listener = UnixListener::bind(uds).map_err(sock_err)?;
        listener.set_nonblocking(true).map_err(sock_err)?;
        let (wake_tx, wake_rx) = UnixStream::pair().map_err(sock_err)?;
        wake_tx.set_nonblocking(true).map_err(sock_err)?;
        wake_rx.set_nonblocking(true).map_err(sock_err)?;
        let shared = Arc::new(Shared {
            guest_cid,
            uds: uds.to_path_buf(),
            inner: Mutex::new(Inner {
                next_host_port: FIRST_HOST_PORT,
                ..Inner::default()
            }),
            stop: AtomicBool::new(false),
            wake_tx,
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("cranemu-vsock".into())
            .spawn(move || io_loop(&s, &listener, wake_rx))
            .map_err(sock_err)?;
        Ok(Vsock {
            shared,
            thread: Some(thread),
        })
    }

    /// The guest's CID.
    pub fn guest_cid(&self) -> u64 {
        self.shared.guest_cid
    }

    /// Whether the I/O thread still runs (it ends only when the device is
    /// dropped; a panic would end it early).
    pub fn io_thread_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Shared {
    fn wake(&self) {
        // A full socket already holds a wake-up.
        let _ = (&self.wake_tx).write(&[1]);
    }
}

impl Drop for Vsock {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.shared.uds);
    }
}

impl VirtioDevice for Vsock {
    fn device_type(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        COMMON_FEATURES | F_STREAM
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let cfg = self.shared.guest_cid.to_le_bytes();
        read_config_bytes(&cfg, offset, data);
    }

    fn activate(&self, _features: u64, queues: Vec<Arc<ActiveQueue>>) {
        let mut inner = lock(&self.shared.inner);
        inner.queues = queues;
        drop(inner);
        self.shared.wake();
    }

    fn notify(&self, _index: u32) {
        self.shared.wake();
    }

    fn reset(&self) {
        let mut inner = lock(&self.shared.inner);
        inner.queues.clear();
        inner.conns.clear();
        inner.ctrl.clear();
    }
}

/// The I/O thread: polls, then makes passes until nothing moves (at most
/// [`MAX_PASSES`] before it looks at the sockets again).
fn io_loop(s: &Shared, listener: &UnixListener, mut wake_rx: UnixStream) {
    let mut buf = [0u8; 64];
    let mut busy = false;
    while !s.stop.load(Ordering::SeqCst) {
        let mut fds = vec![
            libc::pollfd {
                fd: wake_rx.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        {
            let inner = lock(&s.inner);
            for h in &inner.handshakes {
                fds.push(libc::pollfd {
                    fd: h.stream.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            for c in inner.conns.values() {
                let mut events = 0;
                if c.wants_read() {
                    events |= libc::POLLIN;
                }
                if c.tx_pending() > 0 {
                    events |= libc::POLLOUT;
                }
                // A socket waited on for nothing is left out: its hang-up
                // would be reported at once, again and again.
                if events != 0 {
                    fds.push(libc::pollfd {
                        fd: c.stream.as_raw_fd(),
                        events,
                        revents: 0,
                    });
                }
            }
        }
        // Work left from the last pass: look at the sockets, do not wait.
        let wait_ms = if busy { 0 } else { 1000 };
        // SAFETY: `fds` is a live array of `fds.len()` pollfd structs.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if r < 0 && std::io::Error::last_os_error().kind() != ErrorKind::Interrupted {
            std::thread::sleep(Duration::from_millis(10));
        }
        while matches!(wake_rx.read(&mut buf), Ok(n) if n > 0) {}
        let mut inner = lock(&s.inner);
        accept_all(&mut inner, listener);
        s.handshakes(&mut inner);
        drop(inner);
        // A bounded number of passes, each under the lock alone, so that a
        // reset (a vCPU) waits for one pass at most, and new connections
        // and the stop flag are looked at while data flows.
        busy = true;
        for _ in 0..MAX_PASSES {
            if !s.pass(&mut lock(&s.inner)) {
                busy = false;
                break;
            }
        }
    }
}

/// Passes of [`Shared::pass`] between two polls.
const MAX_PASSES: usize = 16;

fn accept_all(inner: &mut Inner, listener: &UnixListener) {
    while let Ok((stream, _)) = listener.accept() {
        if stream.set_nonblocking(true).is_ok() {
            inner.handshakes.push(Handshake {
                stream,
                line: Vec::new(),
                since: Instant::now(),
            });
        }
    }
}

/// Parses `CONNECT PORT` (the line without its newline).
pub fn parse_connect(line: &[u8]) -> Option<u32> {
    let line = std::str::from_utf8(line).ok()?;
    let port = line.strip_prefix("CONNECT ")?.trim_end_matches('\r');
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse().ok()
}

impl Shared {
    /// Header of a packet from the host end of `key` to the guest.
    fn header(&self, key: (u32, u32), c: Option<&Conn>, op: u16) -> Header {
        Header {
            src_cid: HOST_CID,
            dst_cid: self.guest_cid,
            src_port: key.1,
            dst_port: key.0,
            len: 0,
            type_: TYPE_STREAM,
            op,
            flags: 0,
            buf_alloc: BUF_ALLOC,
            fwd_cnt: c.map_or(0, |c| c.fwd_cnt),
        }
    }

    /// One pass over the host sockets and the queues: true if anything
    /// moved (another pass may move more).
    fn pass(&self, inner: &mut Inner) -> bool {
        let mut moved = self.host_io(inner);
        moved |= self.deliver(inner);
        if inner.ctrl.len() < MAX_CTRL {
            moved |= self.transmit(inner);
        }
        moved | self.retire(inner)
    }

    /// Reads `CONNECT` lines; sends the guest a `REQUEST` for each.
    fn handshakes(&self, inner: &mut Inner) {
        let active = !inner.queues.is_empty();
        let mut i = 0;
        while i < inner.handshakes.len() {
            let h = &mut inner.handshakes[i];
            // One byte at a time: what follows the line stays in the
            // socket for the guest, once connected.
            let mut b = [0u8; 1];
            let mut keep = active && h.since.elapsed() < CONNECT_TIMEOUT;
            let mut port = None;
            while keep && port.is_none() {
                match h.stream.read(&mut b) {
                    Ok(0) => keep = false,
                    Ok(n) => {
                        h.line.extend_from_slice(&b[..n]);
                        if h.line.last() == Some(&b'\n') {
                            port = parse_connect(&h.line[..h.line.len() - 1]);
                            keep = port.is_some();
                        } else if h.line.len() > 32 {
                            keep = false;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => keep = false,
                }
            }
            if !keep {
                inner.handshakes.swap_remove(i);
                continue;
            }
            let Some(port) = port else {
                i += 1;
                continue;
            };
            let h = inner.handshakes.swap_remove(i);
            let mut host_port = inner.next_host_port;
            while inner.conns.contains_key(&(port, host_port)) {
                host_port = host_port.wrapping_add(1).max(FIRST_HOST_PORT);
            }
            inner.next_host_port = host_port.wrapping_add(1).max(FIRST_HOST_PORT);
            let key = (port, host_port);
            inner.ctrl.push_back(self.header(key, None, op::REQUEST));
            inner.conns.insert(key, Conn::new(h.stream, true));
        }
    }

    /// Writes buffered guest data to the host sockets and reads host data
    /// the guest has credit for. True if anything moved.
    fn host_io(&self, inner: &mut Inner) -> bool {
        let mut moved = false;
        let mut dead = Vec::new();
        for (&key, c) in inner.conns.iter_mut() {
            // Guest to host.
            while c.tx_pending() > 0 {
                match c.stream.write(&c.tx_buf[c.tx_off..]) {
                    Ok(n) => {
                        moved = true;
                        c.tx_off += n;
                        let extra = n.min(c.tx_extra);
                        c.tx_extra -= extra;
                        c.fwd_cnt = c.fwd_cnt.wrapping_add((n - extra) as u32);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        dead.push(key);
                        break;
                    }
                }
            }
            if c.tx_off == c.tx_buf.len() {
                c.tx_buf.clear();
                c.tx_off = 0;
            } else if c.tx_off > (BUF_ALLOC as usize) / 2 {
                c.tx_buf.drain(..c.tx_off);
                c.tx_off = 0;
            }
            let untold = c.fwd_cnt.wrapping_sub(c.fwd_told);
            if untold >= BUF_ALLOC / 4 || (untold > 0 && c.tx_pending() == 0) {
                c.credit_due = true;
            }
            if c.guest_shut_send && c.tx_pending() == 0 && !c.host_write_shut {
                c.host_write_shut = true;
                let _ = c.stream.shutdown(Shutdown::Write);
            }
            // Host to guest.
            if c.wants_read() {
                let want = c.peer_credit().min(MAX_PAYLOAD) as usize;
                c.rx_buf.resize(want, 0);
                c.rx_off = 0;
                match c.stream.read(&mut c.rx_buf) {
                    Ok(0) => {
                        c.rx_buf.clear();
                        c.host_eof = true;
                        moved = true;
                    }
                    Ok(n) => {
                        c.rx_buf.truncate(n);
                        moved = true;
                    }
                    Err(e) => {
                        c.rx_buf.clear();
                        if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) {
                            dead.push(key);
                        }
                    }
                }
            } else if c.connecting.is_none()
                && c.peer_credit() == 0
                && !c.credit_asked
                && !c.guest_shut_rcv
                && (c.rx_off < c.rx_buf.len() || (!c.host_eof && has_data(&c.stream)))
            {
                c.credit_asked = true;
                inner
                    .ctrl
                    .push_back(self.header(key, Some(c), op::CREDIT_REQUEST));
                moved = true;
            }
        }
        for key in dead {
            self.reset_conn(inner, key);
        }
        moved
    }

    /// Drops a connection and tells the guest (`RST`).
    fn reset_conn(&self, inner: &mut Inner, key: (u32, u32)) {
        if inner.conns.remove(&key).is_some() {
            inner.ctrl.push_back(self.header(key, None, op::RST));
        }
    }

    /// Drops finished and timed-out connections. True if any.
    fn retire(&self, inner: &mut Inner) -> bool {
        let done: Vec<_> = inner
            .conns
            .iter()
            .filter(|(_, c)| {
                c.finished() || c.connecting.is_some_and(|t| t.elapsed() > CONNECT_TIMEOUT)
            })
            .map(|(&k, _)| k)
            .collect();
        for &key in &done {
            self.reset_conn(inner, key);
        }
        !done.is_empty()
    }

    /// Pops an rx chain, re-enabling notifications when the ring is empty
    /// (§2.7.10). `None` if there is none (or the device failed).
    fn rx_chain(rx: &ActiveQueue) -> Option<Chain> {
        if rx.signals.failed() {
            return None;
        }
        let mem = rx.ram.mem();
        let mut q = lock(&rx.queue);
        if !q.ready() {
            return None;
        }
        loop {
            match pop_chain(&mut q, mem) {
                Ok(Some(c)) => return Some(c),
                Ok(None) => match q.enable_notification(mem) {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(_) => break,
                },
                Err(_) => break,
            }
        }
        drop(q);
        rx.signals.fail();
        None
    }

    /// Puts one packet in an rx chain: false (device failed) if the
    /// chain cannot take a header.
    fn put(rx: &ActiveQueue, chain: &Chain, hdr: &Header, data: &[u8]) -> bool {
        let mem = rx.ram.mem();
        if !chain.readable.is_empty() || chain.writable_len() < Header::SIZE as u64 {
            rx.signals.fail();
            return false;
        }
        let mut n = write_to(&chain.writable, 0, &hdr.to_bytes(), mem);
        n += write_to(&chain.writable, Header::SIZE as u64, data, mem);
        rx.complete(chain.head, n as u32);
        true
    }

    /// Fills rx buffers: control packets, then data, then end-of-file
    /// notices and credit updates. True if anything was delivered.
    fn deliver(&self, inner: &mut Inner) -> bool {
        let Some(rx) = inner.queues.first().cloned() else {
            return false;
        };
        let mut moved = false;
        loop {
            // Anything to send?
            let has_ctrl = !inner.ctrl.is_empty();
            // Round-robin over the connections with something to send.
            let ready = |c: &Conn| {
                let pending = c.rx_off < c.rx_buf.len();
                c.connecting.is_none()
                    && ((pending && c.peer_credit() > 0)
                        || (!pending && c.host_eof && !c.eof_told)
                        || c.credit_due)
            };
            let count = inner.conns.values().filter(|c| ready(c)).count();
            inner.turn = inner.turn.wrapping_add(1);
            let data_key = (count > 0)
                .then(|| {
                    inner
                        .conns
                        .iter()
                        .filter(|(_, c)| ready(c))
                        .nth(inner.turn % count)
                        .map(|(&k, _)| k)
                })
                .flatten();
            if !has_ctrl && data_key.is_none() {
                return moved;
            }
            let Some(chain) = Self::rx_chain(&rx) else {
                return moved;
            };
            moved = true;
            if let Some(mut hdr) = inner.ctrl.pop_front() {
                if let Some(c) = inner.conns.get_mut(&(hdr.dst_port, hdr.src_port)) {
                    hdr.fwd_cnt = c.fwd_cnt;
                    c.fwd_told = c.fwd_cnt;
                }
                if !Self::put(&rx, &chain, &hdr, &[]) {
                    return moved;
                }
                continue;
            }
            let Some(key) = data_key else { continue };
            let Some(c) = inner.conns.get_mut(&key) else {
                continue;
            };
            let room = (chain.writable_len() as usize).saturating_sub(Header::SIZE);
            let mut hdr = self.header(key, Some(c), op::CREDIT_UPDATE);
            let mut data: &[u8] = &[];
            let pending = c.rx_buf.len() - c.rx_off;
            // The guest's credit may have shrunk since the bytes were read.
            let credit = c.peer_credit() as usize;
            if pending > 0 && credit > 0 && room > 0 {
                let n = pending.min(room).min(credit);
                data = &c.rx_buf[c.rx_off..c.rx_off + n];
                hdr.op = op::RW;
                hdr.len = n as u32;
            } else if pending == 0 && c.host_eof && !c.eof_told {
                hdr.op = op::SHUTDOWN;
                hdr.flags = SHUTDOWN_SEND;
                c.eof_told = true;
            }
            c.fwd_told = c.fwd_cnt;
            c.credit_due = false;
            if !Self::put(&rx, &chain, &hdr, data) {
                return moved;
            }
            c.rx_off += data.len();
            c.rx_cnt = c.rx_cnt.wrapping_add(data.len() as u32);
            if c.rx_off == c.rx_buf.len() {
                c.rx_buf.clear();
                c.rx_off = 0;
            }
        }
    }

    /// Takes the guest's packets from the tx queue. True if any.
    fn transmit(&self, inner: &mut Inner) -> bool {
        let Some(tx) = inner.queues.get(1).cloned() else {
            return false;
        };
        if !lock(&tx.queue).ready() {
            return false;
        }
        let mut moved = false;
        let mem = tx.ram.mem();
        drain_queue(&tx, |chain| {
            moved = true;
            let mut hb = [0u8; Header::SIZE];
            if read_from(&chain.readable, 0, &mut hb, mem) == Header::SIZE {
                let hdr = Header::from_bytes(&hb);
                self.packet(inner, &hdr, &chain, &tx);
            }
            tx.complete(chain.head, 0);
        });
        moved
    }

    /// Handles one packet from the guest (§5.10.6.4).
    fn packet(&self, inner: &mut Inner, hdr: &Header, chain: &Chain, tx: &ActiveQueue) {
        if hdr.src_cid != self.guest_cid {
            return;
        }
        let key = (hdr.src_port, hdr.dst_port);
        let rst = |inner: &mut Inner| {
            if hdr.op != op::RST {
                inner.ctrl.push_back(self.header(key, None, op::RST));
            }
        };
        if hdr.dst_cid != HOST_CID || hdr.type_ != TYPE_STREAM {
            rst(inner);
            return;
        }
        if hdr.op == op::REQUEST {
            if inner.conns.contains_key(&key) {
                self.reset_conn(inner, key);
                return;
            }
            match connect_host(&self.uds, hdr.dst_port) {
                Some(stream) => {
                    let mut c = Conn::new(stream, false);
                    c.peer_buf_alloc = hdr.buf_alloc;
                    c.peer_fwd_cnt = hdr.fwd_cnt;
                    inner
                        .ctrl
                        .push_back(self.header(key, Some(&c), op::RESPONSE));
                    inner.conns.insert(key, c);
                }
                None => rst(inner),
            }
            return;
        }
        let Some(c) = inner.conns.get_mut(&key) else {
            rst(inner);
            return;
        };
        c.peer_buf_alloc = hdr.buf_alloc;
        c.peer_fwd_cnt = hdr.fwd_cnt;
        c.credit_asked = false;
        match hdr.op {
            op::RESPONSE if c.connecting.is_some() => {
                c.connecting = None;
                let ok = format!("OK {}\n", key.1);
                c.tx_buf.extend_from_slice(ok.as_bytes());
                c.tx_extra += ok.len();
            }
            op::RST => {
                inner.conns.remove(&key);
            }
            op::SHUTDOWN if c.connecting.is_none() => {
                c.guest_shut_rcv |= hdr.flags & SHUTDOWN_RCV != 0;
                c.guest_shut_send |= hdr.flags & SHUTDOWN_SEND != 0;
                if c.guest_shut_rcv {
                    c.rx_buf.clear();
                    c.rx_off = 0;
                }
            }
            op::RW if c.connecting.is_none() && !c.guest_shut_send => {
                let len = hdr.len as usize;
                let credit = (BUF_ALLOC as usize).saturating_sub(c.tx_pending() - c.tx_extra);
                let avail = chain.readable_len().saturating_sub(Header::SIZE as u64);
                if hdr.len > MAX_PAYLOAD || len > credit || len as u64 > avail {
                    self.reset_conn(inner, key);
                    return;
                }
                let old = c.tx_buf.len();
                c.tx_buf.resize(old + len, 0);
                let got = read_from(
                    &chain.readable,
                    Header::SIZE as u64,
                    &mut c.tx_buf[old..],
                    tx.ram.mem(),
                );
                c.tx_buf.truncate(old + got);
            }
            op::CREDIT_UPDATE => {}
            op::CREDIT_REQUEST => c.credit_due = true,
            _ => self.reset_conn(inner, key),
        }
    }
}

/// Whether the host socket has bytes to read (or is at end of file).
fn has_data(s: &UnixStream) -> bool {
    let mut b = 0u8;
    // SAFETY: reads at most one byte into `b`, without taking it.
    let r = unsafe {
        libc::recv(
            s.as_raw_fd(),
            (&mut b as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    r >= 0
}

/// Connects to the host's `UDS_PORT` without blocking (a full backlog
/// is a refusal).
fn connect_host(uds: &Path, port: u32) -> Option<UnixStream> {
    let mut path = uds.as_os_str().to_owned();
    path.push(format!("_{port}"));
    let path =
        std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())).ok()?;
    let bytes = path.as_bytes_with_nul();
    // SAFETY: sockaddr_un is plain data; zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() > addr.sun_path.len() {
        return None;
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, &s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = s as libc::c_char;
    }
    // SAFETY: a plain socket(2) call.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh socket that nothing else owns.
    let stream = unsafe { <UnixStream as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: `addr` is a valid sockaddr_un of the size passed.
    let r = unsafe {
        libc::connect(
            fd,
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    (r == 0).then_some(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let h = Header {
            src_cid: 3,
            dst_cid: 2,
            src_port: 1234,
            dst_port: 5678,
            len: 99,
            type_: TYPE_STREAM,
            op: op::RW,
            flags: 3,
            buf_alloc: 1 << 18,
            fwd_cnt: 0xdead_beef,
        };
        let b = h.to_bytes();
        assert_eq!(&b[0..8], &3u64.to_le_bytes());
        assert_eq!(&b[30..32], &op::RW.to_le_bytes());
        assert_eq!(Header::from_bytes(&b), h);
    }

    #[test]
    fn connect_lines() {
        assert_eq!(parse_connect(b"CONNECT 52"), Some(52));
        assert_eq!(parse_connect(b"CONNECT 52\r"), Some(52));
        for bad in [
            &b"CONNECT"[..],
            b"CONNECT -1",
            b"CONNECT +1",
            b"CONNECT ",
            b"connect 5",
            b"CONNECT 4294967296",
            b"CONNECT 5 6",
            b"\xff",
        ] {
            assert_eq!(parse_connect(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reserved_cids_are_refused() {
        let dir = std::env::temp_dir().join(format!("cranemu-vsock-cid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for cid in [0, 1, 2, u64::from(u32::MAX), 1 << 40] {
            let e = Vsock::new(cid, &dir.join("v.sock")).unwrap_err();
            assert!(e.to_string().starts_with("guest-cid="), "{e}");
        }
        let e = Vsock::new(3, Path::new("/nonexistent/dir/v.sock")).unwrap_err();
        assert!(e.to_string().starts_with("uds=/nonexistent"), "{e}");
        let v = Vsock::new(3, &dir.join("v.sock")).unwrap();
        let mut cfg = [0u8; 8];
        v.read_config(0, &mut cfg);
        assert_eq!(u64::from_le_bytes(cfg), 3);
        let mut hi = [0xffu8; 4];
        v.read_config(6, &mut hi);
        assert_eq!(hi, [0; 4]);
        drop(v);
        assert!(!dir.join("v.sock").exists());
    }
}
