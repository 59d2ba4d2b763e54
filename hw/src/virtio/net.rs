//! virtio-net, the network device (virtio 1.2 §5.1), with one queue pair:
//! queue 0 (receiveq1, device to driver) and queue 1 (transmitq1, driver
//! to device), and no offloads. Features: `VIRTIO_NET_F_MAC` (the MAC
//! address in the configuration space, QEMU's 52:54:00:12:34:56 unless
//! `mac=` says otherwise) and `VIRTIO_NET_F_STATUS` (the link is always
//! up). With `VIRTIO_F_VERSION_1` every buffer starts with the 12-byte
//! `virtio_net_hdr_v1` (§5.1.6): the device ignores the transmit header
//! (no checksum or segmentation offload was offered) and writes a receive
//! header of zeroes with `num_buffers` = 1.
//!
//! # Threads
//! The host side (a [`NetBackend`]: libslirp's user network, or a stream
//! socket to another emulator) runs on a thread of the device, never on a
//! vCPU: a `QueueNotify` only wakes that thread (an eventfd), which then
//! moves the transmit queue's frames to the backend, polls the backend's
//! sockets and timers, and fills the receive queue's buffers. Frames for
//! the guest wait in a bounded list (at most [`MAX_PENDING`]) while the
//! driver gives no receive buffer; past that they are dropped, as a full
//! NIC drops them (TCP sends again).
//!
//! Lock order: the device's queue slot, then a queue's ring (as in the
//! transport's order). A reset empties the slot while holding it, so it
//! waits for the thread's work in progress and no guest-memory write
//! follows it.
//!
//! # Backends
//! - [`NetBackendSpec::User`]: libslirp on QEMU's default user network
//!   (10.0.2.0/24, host and gateway 10.0.2.2, DNS 10.0.2.3, DHCP from
//!   10.0.2.15), with slirp's `restricted` mode on by default: the guest
//!   reaches no address outside that network (not even the host through
//!   10.0.2.2) and slirp's DHCP lease names no router or DNS server;
//!   slirp's DNS proxy is off in both modes, so no name resolves. Host
//!   forwarding (`hostfwd=tcp:ADDR:HOSTPORT-:GUESTPORT`) works in either
//!   mode: the host connects in. `restrict=off` gives QEMU's default:
//!   10.0.2.2 is the host's loopback and other addresses are reached
//!   through the host's sockets (DNS stays off).
//! - [`NetBackendSpec::Stream`]: a Unix stream socket (QEMU's `-netdev
//!   stream`), each Ethernet frame sent as a 4-byte big-endian length and
//!   the frame, as QEMU's stream netdev frames them; a server serves one
//!   client at a time.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use virtio_bindings::virtio_net::{VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_S_LINK_UP};
use virtio_queue::QueueT;

use super::{
    device_id, drain_queue, pop_chain, read_config_bytes, read_from, write_to, ActiveQueue,
    VirtioDevice, COMMON_FEATURES,
};
use crate::lock;

/// Size of each queue.
pub const QUEUE_SIZE: u16 = 256;
/// Bytes of `virtio_net_hdr_v1` (§5.1.6, with `VIRTIO_F_VERSION_1`).
pub const HDR_LEN: usize = 12;
/// The largest frame taken from the guest or a stream peer (bytes): a
/// 64 KiB packet with its Ethernet header, QEMU's `NET_BUFSIZE` bound.
pub const MAX_FRAME: usize = 4096 + 65536;
/// The most frames held for the guest while it gives no receive buffer.
pub const MAX_PENDING: usize = 512;
/// The most bytes queued for a stream peer that does not read; frames past
/// it are dropped whole.
const MAX_STREAM_OUT: usize = 4 << 20;
/// QEMU's MAC address for the first NIC.
pub const DEFAULT_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// A TCP port forwarded from the host into the guest (`hostfwd=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFwd {
    /// The host address listened on (`127.0.0.1` in the tests; QEMU's
    /// default, any address, is `0.0.0.0`).
    pub host_addr: Ipv4Addr,
    /// The host port (1..=65535).
    pub host_port: u16,
    /// The guest address connected to; `0.0.0.0` is the first DHCP
    /// address, 10.0.2.15.
    pub guest_addr: Ipv4Addr,
    /// The guest port.
    pub guest_port: u16,
}

/// Where a NIC's frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetBackendSpec {
    /// `-netdev user`: libslirp's user network (see the module doc).
    User {
        /// Host forwarding rules.
        hostfwd: Vec<HostFwd>,
        /// slirp's `restricted` mode (`restrict=on`, the default here).
        restrict: bool,
    },
    /// `-netdev stream,addr.type=unix,addr.path=PATH,server=on|off`.
    Stream {
        /// Listen (`server=on`) or connect.
        server: bool,
        /// The socket's path.
        path: PathBuf,
    },
}

/// A virtio-net device of the command line: its MAC and backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// The MAC address in the configuration space.
    pub mac: [u8; 6],
    /// The host side.
    pub backend: NetBackendSpec,
}

/// The host side of a NIC. It lives on the device's thread: every call
/// comes from there (libslirp is not thread-safe).
pub trait NetBackend {
    /// Appends the descriptors to poll to `fds` (their indices are the
    /// backend's to remember) and lowers `timeout_ms` to its next timer.
    fn poll_fds(&mut self, fds: &mut Vec<libc::pollfd>, timeout_ms: &mut i32);
    /// Handles the poll results (`fds` is the whole array, `error` when
    /// `poll` failed) and the expired timers; frames for the guest go to
    /// `rx`.
    fn process(&mut self, fds: &[libc::pollfd], error: bool, rx: &mut VecDeque<Vec<u8>>);
    /// A frame the guest sent (without the virtio header); replies that
    /// come at once go to `rx`.
    fn send(&mut self, frame: &[u8], rx: &mut VecDeque<Vec<u8>>);
}

/// What starts a backend on the device thread (backends need not be
/// `Send`: slirp's state is not).
type BackendFactory = Box<dyn FnOnce() -> Result<Box<dyn NetBackend>, String> + Send>;

/// The receive and transmit queues, once the driver started the device.
struct Queues {
    rx: Arc<ActiveQueue>,
    tx: Arc<ActiveQueue>,
}

/// What the device shares with its thread.
struct Shared {
    queues: Mutex<Option<Queues>>,
    /// An eventfd: a notify, a reset or the end wakes the thread.
    wake: OwnedFd,
    stop: AtomicBool,
}

impl Shared {
    fn kick(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our eventfd.
        let _ = unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), 8) };
    }
}

/// A virtio-net device. See the module doc.
pub struct Net {
    mac: [u8; 6],
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net").field("mac", &self.mac).finish()
    }
}

impl Net {
    /// Starts the device of `cfg`: its thread, and on it the backend.
    ///
    /// # Errors
    /// One line saying why the backend could not start (a host port
    /// already taken, a socket that cannot be bound or connected).
    pub fn new(cfg: &NetConfig) -> Result<Net, String> {
        let factory: BackendFactory = match cfg.backend.clone() {
            NetBackendSpec::User { hostfwd, restrict } => Box::new(move || {
                SlirpBackend::new(&hostfwd, restrict).map(|b| Box::new(b) as Box<dyn NetBackend>)
            }),
            NetBackendSpec::Stream { server, path } => {
                let b = if server {
                    StreamBackend::listen(&path)?
                } else {
                    StreamBackend::connect(&path)?
                };
                Box::new(move || Ok(Box::new(b) as Box<dyn NetBackend>))
            }
        };
        Net::with_factory(cfg.mac, factory)
    }

    /// A device on a stream peer that is already connected (tests).
    #[cfg(test)]
    pub(crate) fn with_stream(mac: [u8; 6], peer: UnixStream) -> Result<Net, String> {
        let b = StreamBackend::connected(peer)?;
        Net::with_factory(
            mac,
            Box::new(move || Ok(Box::new(b) as Box<dyn NetBackend>)),
        )
    }

    fn with_factory(mac: [u8; 6], factory: BackendFactory) -> Result<Net, String> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(format!("eventfd: {}", std::io::Error::last_os_error()));
        }
        let shared = Arc::new(Shared {
            queues: Mutex::new(None),
            // SAFETY: `fd` is a new descriptor that nothing else owns.
            wake: unsafe { OwnedFd::from_raw_fd(fd) },
            stop: AtomicBool::new(false),
        });
        let (started_tx, started) = mpsc::channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("cranemu-net".into())
            .spawn(move || {
                // libslirp-rs asserts that slirp accepted its
                // configuration: a panic is an error here, not a crash.
                let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(factory))
                    .unwrap_or_else(|_| Err("libslirp refused the configuration".into()));
                match made {
                    Ok(backend) => {
                        let _ = started_tx.send(Ok(()));
                        run(&s, backend);
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| format!("cannot start the network thread: {e}"))?;
        match started.recv() {
            Ok(Ok(())) => Ok(Net {
                mac,
                shared,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err("the network thread died at start".into()),
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.kick();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl VirtioDevice for Net {
    fn device_type(&self) -> u32 {
        device_id::NET
    }

    fn features(&self) -> u64 {
        COMMON_FEATURES | 1 << VIRTIO_NET_F_MAC | 1 << VIRTIO_NET_F_STATUS
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    /// `struct virtio_net_config` (§5.1.4): `mac[6]`, `status` (le16).
    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let mut cfg = [0u8; 8];
        cfg[..6].copy_from_slice(&self.mac);
        cfg[6..8].copy_from_slice(&(VIRTIO_NET_S_LINK_UP as u16).to_le_bytes());
        read_config_bytes(&cfg, offset, data);
    }

    fn activate(&self, _features: u64, queues: Vec<Arc<ActiveQueue>>) {
        let mut q = queues.into_iter();
        if let (Some(rx), Some(tx)) = (q.next(), q.next()) {
            *lock(&self.shared.queues) = Some(Queues { rx, tx });
        }
        self.shared.kick();
    }

    fn notify(&self, index: u32) {
        if index <= 1 {
            self.shared.kick();
        }
    }

    fn reset(&self) {
        // Waits for the thread's work under the slot.
        *lock(&self.shared.queues) = None;
    }
}

/// The device thread: poll, move frames both ways, until the device is
/// dropped.
fn run(shared: &Shared, mut backend: Box<dyn NetBackend>) {
    let mut rx: VecDeque<Vec<u8>> = VecDeque::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    let mut frame = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        fds.clear();
        fds.push(libc::pollfd {
            fd: shared.wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        // Frames waiting for receive buffers: look again soon even if the
        // driver's kick is suppressed.
        let mut timeout_ms: i32 = if rx.is_empty() { 1000 } else { 20 };
        backend.poll_fds(&mut fds, &mut timeout_ms);
        // SAFETY: `fds` is a live array of `fds.len()` pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        let error = r < 0;
        if error {
            for f in &mut fds {
                f.revents = 0;
            }
        }
        if fds[0].revents & libc::POLLIN != 0 {
            let mut b = [0u8; 8];
            // SAFETY: reads 8 bytes into a live buffer from our eventfd.
            let _ = unsafe { libc::read(fds[0].fd, b.as_mut_ptr().cast(), 8) };
        }
        let slot = lock(&shared.queues);
        if let Some(q) = slot.as_ref().filter(|q| lock(&q.tx.queue).ready()) {
            drain_queue(&q.tx, |c| {
                let mem = q.tx.ram.mem();
                let len = c.readable_len();
                if (HDR_LEN as u64..=(HDR_LEN + MAX_FRAME) as u64).contains(&len) {
                    frame.resize(len as usize - HDR_LEN, 0);
                    let got = read_from(&c.readable, HDR_LEN as u64, &mut frame, mem);
                    backend.send(&frame[..got], &mut rx);
                }
                q.tx.complete(c.head, 0);
            });
        }
        drop(slot);
        backend.process(&fds, error, &mut rx);
        while rx.len() > MAX_PENDING {
            rx.pop_front();
        }
        let slot = lock(&shared.queues);
        match slot.as_ref() {
            Some(q) if lock(&q.rx.queue).ready() => deliver(&q.rx, &mut rx),
            // No driver (or no receive queue): frames for it are lost, as
            // on a NIC that is down.
            _ => rx.clear(),
        }
    }
}

/// Moves frames from `pending` into the receive queue's buffers, each
/// behind a `virtio_net_hdr_v1` of zeroes with `num_buffers` = 1; a
/// chain too small for its frame gets nothing (used length 0). When the
/// driver runs out of buffers it asks to be kicked for new ones (event
/// index) and stops.
fn deliver(aq: &ActiveQueue, pending: &mut VecDeque<Vec<u8>>) {
    let mem = aq.ram.mem();
    let mut hdr = [0u8; HDR_LEN];
    hdr[10..12].copy_from_slice(&1u16.to_le_bytes());
    while !pending.is_empty() && !aq.signals.failed() {
        let chain = {
            let mut q = lock(&aq.queue);
            match pop_chain(&mut q, mem) {
                Ok(None) => match q.enable_notification(mem) {
                    // More came in between: take them.
                    Ok(true) => continue,
                    Ok(false) => return,
                    Err(_) => Err(super::ChainError::AvailRing("used ring".into())),
                },
                other => other,
            }
        };
        match chain {
            Ok(Some(c)) => {
                let Some(f) = pending.pop_front() else { break };
                let len = (HDR_LEN + f.len()) as u64;
                let mut written = 0;
                if c.writable_len() >= len {
                    written = write_to(&c.writable, 0, &hdr, mem);
                    written += write_to(&c.writable, HDR_LEN as u64, &f, mem);
                }
                aq.complete(c.head, written as u32);
            }
            Ok(None) => return,
            Err(_) => {
                aq.signals.fail();
                return;
            }
        }
    }
}

/// libslirp's callbacks: frames to the guest, a clock, timers. Poll
/// descriptors are gathered afresh each round, so (un)registering them
/// does nothing.
struct SlirpHandler {
    start: Instant,
    out: Rc<RefCell<VecDeque<Vec<u8>>>>,
    timers: Rc<RefCell<Timers>>,
}

/// slirp's timers: a callback and an expiry (ms on the handler's clock)
/// each.
#[derive(Default)]
struct Timers {
    next: usize,
    slots: HashMap<usize, TimerSlot>,
}

struct TimerSlot {
    func: Option<Box<dyn FnMut()>>,
    expire_ms: Option<i64>,
}

impl libslirp::Handler for SlirpHandler {
    type Timer = usize;

    fn clock_get_ns(&mut self) -> i64 {
        i64::try_from(self.start.elapsed().as_nanos()).unwrap_or(i64::MAX)
    }

    fn send_packet(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.borrow_mut().push_back(buf.to_vec());
        Ok(buf.len())
    }

    fn register_poll_fd(&mut self, _fd: RawFd) {}

    fn unregister_poll_fd(&mut self, _fd: RawFd) {}

    fn guest_error(&mut self, msg: &str) {
        log::warn!("virtio-net (user): guest error: {msg}");
    }

    fn notify(&mut self) {}

    fn timer_new(&mut self, func: Box<dyn FnMut()>) -> Box<usize> {
        let mut t = self.timers.borrow_mut();
        t.next += 1;
        let id = t.next;
        t.slots.insert(
            id,
            TimerSlot {
                func: Some(func),
                expire_ms: None,
            },
        );
        Box::new(id)
    }

    fn timer_mod(&mut self, timer: &mut Box<usize>, expire_time: i64) {
        if let Some(s) = self.timers.borrow_mut().slots.get_mut(&**timer) {
            s.expire_ms = Some(expire_time);
        }
    }

    fn timer_free(&mut self, timer: Box<usize>) {
        self.timers.borrow_mut().slots.remove(&*timer);
    }
}

/// QEMU's default user network.
const NET_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 0);
const NET_MASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);
const HOST_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
const DNS_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
const DHCP_START: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);

/// `-netdev user`: libslirp. See the module doc.
struct SlirpBackend {
    ctx: libslirp::Context<SlirpHandler>,
    out: Rc<RefCell<VecDeque<Vec<u8>>>>,
    timers: Rc<RefCell<Timers>>,
    start: Instant,
    /// Index in the poll array of slirp's first descriptor.
    first: usize,
}

impl SlirpBackend {
    fn new(hostfwd: &[HostFwd], restrict: bool) -> Result<SlirpBackend, String> {
        use libslirp_sys::{in6_addr, SlirpConfig};
        let v6 = |s: u16| in6_addr {
            s6_addr: std::net::Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, s).octets(),
        };
        let config = SlirpConfig {
            // Version 3, up to `disable_dns`: from version 4 on, libslirp
            // also reads callbacks (`init_completed`, `timer_new_opaque`)
            // past the end of the binding's shorter `SlirpCb`.
            version: 3,
            restricted: i32::from(restrict),
            in_enabled: true,
            vnetwork: NET_ADDR.into(),
            vnetmask: NET_MASK.into(),
            vhost: HOST_ADDR.into(),
            in6_enabled: false,
            vprefix_addr6: v6(0),
            vprefix_len: 64,
            vhost6: v6(2),
            vhostname: std::ptr::null(),
            tftp_server_name: std::ptr::null(),
            tftp_path: std::ptr::null(),
            bootfile: std::ptr::null(),
            vdhcp_start: DHCP_START.into(),
            vnameserver: DNS_ADDR.into(),
            vnameserver6: v6(3),
            vdnssearch: std::ptr::null_mut(),
            vdomainname: std::ptr::null(),
            if_mtu: 0,
            if_mru: 0,
            disable_host_loopback: false,
            enable_emu: false,
            outbound_addr: std::ptr::null(),
            outbound_addr6: std::ptr::null(),
            // No name resolves: slirp neither answers nor forwards DNS.
            disable_dns: true,
            disable_dhcp: false,
        };
        let start = Instant::now();
        let out = Rc::new(RefCell::new(VecDeque::new()));
        let timers = Rc::new(RefCell::new(Timers::default()));
        let handler = SlirpHandler {
            start,
            out: out.clone(),
            timers: timers.clone(),
        };
        let ctx = libslirp::Context::new_with_config(&config, handler);
        for f in hostfwd {
            // SAFETY: `ctx.inner.context` is the live Slirp of `ctx`, used
            // on this thread only.
            let r = unsafe {
                libslirp_sys::slirp_add_hostfwd(
                    ctx.inner.context,
                    0,
                    f.host_addr.into(),
                    i32::from(f.host_port),
                    f.guest_addr.into(),
                    i32::from(f.guest_port),
                )
            };
            if r < 0 {
                return Err(format!(
                    "hostfwd=tcp:{}:{}-{}:{}: cannot listen on the host port ({})",
                    f.host_addr,
                    f.host_port,
                    if f.guest_addr.is_unspecified() {
                        String::new()
                    } else {
                        f.guest_addr.to_string()
                    },
                    f.guest_port,
                    std::io::Error::last_os_error()
                ));
            }
        }
        Ok(SlirpBackend {
            ctx,
            out,
            timers,
            start,
            first: 0,
        })
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Runs the timers that expired (a callback may re-arm or free its
    /// own timer, so none is borrowed while it runs).
    fn fire_timers(&mut self) {
        let now = self.now_ms();
        let due: Vec<usize> = self
            .timers
            .borrow()
            .slots
            .iter()
            .filter(|(_, s)| s.expire_ms.is_some_and(|e| e <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            let func = {
                let mut t = self.timers.borrow_mut();
                let Some(s) = t.slots.get_mut(&id) else {
                    continue;
                };
                s.expire_ms = None;
                s.func.take()
            };
            if let Some(mut f) = func {
                f();
                if let Some(s) = self.timers.borrow_mut().slots.get_mut(&id) {
                    s.func = Some(f);
                }
            }
        }
    }

    fn take_output(&self, rx: &mut VecDeque<Vec<u8>>) {
        rx.extend(self.out.borrow_mut().drain(..));
    }
}

impl NetBackend for SlirpBackend {
    fn poll_fds(&mut self, fds: &mut Vec<libc::pollfd>, timeout_ms: &mut i32) {
        self.first = fds.len();
        let now = self.now_ms();
        if let Some(next) = self
            .timers
            .borrow()
            .slots
            .values()
            .filter_map(|s| s.expire_ms)
            .min()
        {
            let wait = (next - now).clamp(0, i64::from(*timeout_ms));
            *timeout_ms = wait as i32;
        }
        let mut t = u32::try_from(*timeout_ms).unwrap_or(0);
        self.ctx.pollfds_fill(&mut t, |fd, ev| {
            let mut events = 0;
            if ev.has_in() {
                events |= libc::POLLIN;
            }
            if ev.has_out() {
                events |= libc::POLLOUT;
            }
            if ev.has_pri() {
                events |= libc::POLLPRI;
            }
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
            (fds.len() - 1) as i32
        });
        *timeout_ms = (*timeout_ms).min(i32::try_from(t).unwrap_or(i32::MAX));
    }

    fn process(&mut self, fds: &[libc::pollfd], error: bool, rx: &mut VecDeque<Vec<u8>>) {
        let first = self.first;
        self.ctx.pollfds_poll(error, |idx| {
            let r = usize::try_from(idx)
                .ok()
                .filter(|&i| i >= first)
                .and_then(|i| fds.get(i))
                .map_or(0, |p| p.revents);
            let mut ev = libslirp::PollEvents::empty();
            for (bit, e) in [
                (libc::POLLIN, libslirp::PollEvents::poll_in()),
                (libc::POLLOUT, libslirp::PollEvents::poll_out()),
                (libc::POLLPRI, libslirp::PollEvents::poll_pri()),
                (libc::POLLERR, libslirp::PollEvents::poll_err()),
                (libc::POLLHUP, libslirp::PollEvents::poll_hup()),
            ] {
                if r & bit != 0 {
                    ev |= e;
                }
            }
            ev
        });
        self.fire_timers();
        self.take_output(rx);
    }

    fn send(&mut self, frame: &[u8], rx: &mut VecDeque<Vec<u8>>) {
        self.ctx.input(frame);
        self.take_output(rx);
    }
}

/// `-netdev stream`: frames on a Unix stream socket. See the module doc.
struct StreamBackend {
    listener: Option<UnixListener>,
    conn: Option<UnixStream>,
    /// Bytes read and not yet a whole frame.
    inbuf: Vec<u8>,
    /// Bytes for the peer not yet written.
    outbuf: VecDeque<u8>,
    /// Index in the poll array of our descriptor.
    slot: Option<usize>,
}

impl StreamBackend {
    fn listen(path: &Path) -> Result<StreamBackend, String> {
        if std::fs::symlink_metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        }) {
            let _ = std::fs::remove_file(path);
        }
        let l = UnixListener::bind(path)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("addr.path={}: cannot listen: {e}", path.display()))?;
        Ok(StreamBackend {
            listener: Some(l),
            conn: None,
            inbuf: Vec::new(),
            outbuf: VecDeque::new(),
            slot: None,
        })
    }

    fn connect(path: &Path) -> Result<StreamBackend, String> {
        let s = UnixStream::connect(path)
            .map_err(|e| format!("addr.path={}: cannot connect: {e}", path.display()))?;
        StreamBackend::connected(s)
    }

    fn connected(s: UnixStream) -> Result<StreamBackend, String> {
        s.set_nonblocking(true)
            .map_err(|e| format!("stream socket: {e}"))?;
        Ok(StreamBackend {
            listener: None,
            conn: Some(s),
            inbuf: Vec::new(),
            outbuf: VecDeque::new(),
            slot: None,
        })
    }

    /// Drops the peer (a server waits for the next one).
    fn hang_up(&mut self) {
        self.conn = None;
        self.inbuf.clear();
        self.outbuf.clear();
    }

    /// Writes what the peer takes now.
    fn flush(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        while !self.outbuf.is_empty() {
            let (a, _) = self.outbuf.as_slices();
            match c.write(a) {
                Ok(0) => return self.hang_up(),
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return self.hang_up(),
            }
        }
    }

    /// Reads what the peer sent (at most [`MAX_PENDING`] frames' worth of
    /// reads a round, so a peer that never stops cannot starve the
    /// transmit side or grow the buffer without bound); whole frames go to
    /// `rx`.
    fn read(&mut self, rx: &mut VecDeque<Vec<u8>>) {
        let mut buf = [0u8; 65536];
        for _ in 0..MAX_PENDING / 8 {
            let Some(c) = self.conn.as_mut() else { return };
            match c.read(&mut buf) {
                Ok(0) => return self.hang_up(),
                Ok(n) => self.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return self.hang_up(),
            }
            if !self.take_frames(rx) {
                return self.hang_up();
            }
        }
    }

    /// Moves the whole frames at the start of `inbuf` to `rx`; false if
    /// a length is past [`MAX_FRAME`] (not a peer that frames as we do).
    fn take_frames(&mut self, rx: &mut VecDeque<Vec<u8>>) -> bool {
        let mut at = 0;
        while let Some(h) = self.inbuf.get(at..at + 4) {
            let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
            if len > MAX_FRAME {
                log::warn!("virtio-net (stream): a {len}-byte frame: dropping the peer");
                return false;
            }
            let Some(f) = self.inbuf.get(at + 4..at + 4 + len) else {
                break;
            };
            rx.push_back(f.to_vec());
            at += 4 + len;
        }
        self.inbuf.drain(..at);
        true
    }
}

impl NetBackend for StreamBackend {
    fn poll_fds(&mut self, fds: &mut Vec<libc::pollfd>, _timeout_ms: &mut i32) {
        self.slot = None;
        let (fd, events) = match (&self.conn, &self.listener) {
            (Some(c), _) => (
                c.as_raw_fd(),
                libc::POLLIN
                    | if self.outbuf.is_empty() {
                        0
                    } else {
                        libc::POLLOUT
                    },
            ),
            (None, Some(l)) => (l.as_raw_fd(), libc::POLLIN),
            (None, None) => return,
        };
        self.slot = Some(fds.len());
        fds.push(libc::pollfd {
            fd,
            events,
            revents: 0,
        });
    }

    fn process(&mut self, fds: &[libc::pollfd], _error: bool, rx: &mut VecDeque<Vec<u8>>) {
        let Some(r) = self.slot.and_then(|i| fds.get(i)).map(|p| p.revents) else {
            return;
        };
        if r == 0 {
            return;
        }
        if self.conn.is_none() {
            if let Some(l) = &self.listener {
                if let Ok((s, _)) = l.accept() {
                    if s.set_nonblocking(true).is_ok() {
                        self.conn = Some(s);
                    }
                }
            }
            return;
        }
        if r & libc::POLLOUT != 0 {
            self.flush();
        }
        if r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            self.read(rx);
        }
    }

    fn send(&mut self, frame: &[u8], _rx: &mut VecDeque<Vec<u8>>) {
        if self.conn.is_none() || self.outbuf.len() + 4 + frame.len() > MAX_STREAM_OUT {
            return;
        }
        self.outbuf
            .extend((frame.len() as u32).to_be_bytes().iter().copied());
        self.outbuf.extend(frame.iter().copied());
        self.flush();
    }
}
