//! virtio-console (virtio 1.2 §5.3) with one port and no multiport
//! feature: queue 0 (receiveq, device to driver) and queue 1 (transmitq,
//! driver to device). Linux makes it `hvc0`.
//!
//! The host end is a [`ConsoleBackend`]: [`SocketBackend`] listens on a
//! Unix socket (`-chardev socket,path=PATH,server=on,wait=off`) and
//! serves one client at a time; output with no client is dropped, as
//! QEMU's `wait=off` socket drops it.
//!
//! Input is buffered (at most [`MAX_PENDING`] bytes; the reader stops
//! reading beyond that) until the driver gives receive buffers; each
//! `QueueNotify` of queue 0 and each input chunk move what fits.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use super::{
    device_id, drain_queue, pop_chain, read_from, write_to, ActiveQueue, VirtioDevice,
    COMMON_FEATURES,
};
use crate::lock;

/// Size of each queue.
pub const QUEUE_SIZE: u16 = 64;
/// The most input bytes held while the driver gives no receive buffer.
pub const MAX_PENDING: usize = 64 << 10;
/// The most bytes taken from one transmit chain (bytes).
const MAX_TX: u64 = 1 << 20;

/// Where the console's bytes go and come from.
pub trait ConsoleBackend: Send + Sync {
    /// Writes guest output (may drop it).
    fn write(&self, data: &[u8]);
    /// Starts delivering host input to `sink`, from a thread of the
    /// backend's own.
    fn start(&self, sink: Arc<ConsoleInput>);
}

/// Input waiting for the driver's receive buffers, and the device state
/// it needs to deliver it. Backends push into it.
#[derive(Default)]
pub struct ConsoleInput {
    pending: Mutex<VecDeque<u8>>,
    room: Condvar,
    queue: Mutex<Option<Arc<ActiveQueue>>>,
}

impl std::fmt::Debug for ConsoleInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleInput")
            .field("pending", &lock(&self.pending).len())
            .finish()
    }
}

impl ConsoleInput {
    /// Queues `data` for the guest (waits while [`MAX_PENDING`] bytes are
    /// held) and delivers what the receive buffers take.
    pub fn push(&self, data: &[u8]) {
        let mut p = lock(&self.pending);
        while p.len() >= MAX_PENDING {
            p = self
                .room
                .wait_timeout(p, std::time::Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        p.extend(data);
        drop(p);
        self.deliver();
    }

    /// Moves pending input into the receive queue's buffers. Holds the
    /// queue slot throughout, so a reset (which empties it) waits for a
    /// delivery in progress and none writes guest memory after it. Lock
    /// order: the slot, the pending bytes, the ring.
    fn deliver(&self) {
        let slot = lock(&self.queue);
        let Some(aq) = slot.as_ref() else {
            return;
        };
        let mem = aq.ram.mem();
        let mut p = lock(&self.pending);
        while !p.is_empty() && !aq.signals.failed() {
            let chain = {
                let mut q = lock(&aq.queue);
                pop_chain(&mut q, mem)
            };
            match chain {
                Ok(Some(c)) => {
                    let n = (c.writable_len() as usize).min(p.len());
                    let bytes: Vec<u8> = p.drain(..n).collect();
                    let written = write_to(&c.writable, 0, &bytes, mem);
                    aq.complete(c.head, written as u32);
                }
                Ok(None) => break,
                Err(_) => aq.signals.fail(),
            }
        }
        self.room.notify_all();
    }
}

/// A virtio-console device. See the module doc.
pub struct Console {
    backend: Arc<dyn ConsoleBackend>,
    input: Arc<ConsoleInput>,
    tx: Mutex<Option<Arc<ActiveQueue>>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

impl Console {
    /// A console on `backend` (its input thread starts now).
    pub fn new(backend: Arc<dyn ConsoleBackend>) -> Console {
        let input = Arc::new(ConsoleInput::default());
        backend.start(input.clone());
        Console {
            backend,
            input,
            tx: Mutex::new(None),
        }
    }
}

impl VirtioDevice for Console {
    fn device_type(&self) -> u32 {
        device_id::CONSOLE
    }

    fn features(&self) -> u64 {
        COMMON_FEATURES
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn read_config(&self, _offset: u64, data: &mut [u8]) {
        data.fill(0);
    }

    fn activate(&self, _features: u64, queues: Vec<Arc<ActiveQueue>>) {
        let mut q = queues.into_iter();
        *lock(&self.input.queue) = q.next();
        *lock(&self.tx) = q.next();
    }

    fn notify(&self, index: u32) {
        match index {
            0 => self.input.deliver(),
            1 => {
                let Some(aq) = lock(&self.tx).clone() else {
                    return;
                };
                drain_queue(&aq, |c| {
                    let n = c.readable_len().min(MAX_TX) as usize;
                    let mut buf = vec![0u8; n];
                    let got = read_from(&c.readable, 0, &mut buf, aq.ram.mem());
                    self.backend.write(&buf[..got]);
                    aq.complete(c.head, 0);
                });
            }
            _ => {}
        }
    }

    fn reset(&self) {
        *lock(&self.input.queue) = None;
        *lock(&self.tx) = None;
    }
}

/// Output dropped, no input (`-device virtio-serial-device` with no
/// `virtconsole`).
#[derive(Debug, Default)]
pub struct NullBackend;

impl ConsoleBackend for NullBackend {
    fn write(&self, _data: &[u8]) {}
    fn start(&self, _sink: Arc<ConsoleInput>) {}
}

/// A Unix-socket server: one client at a time gets the console.
pub struct SocketBackend {
    listener: UnixListener,
    path: PathBuf,
    client: Arc<Mutex<Option<UnixStream>>>,
}

impl std::fmt::Debug for SocketBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketBackend")
            .field("path", &self.path)
            .finish()
    }
}

impl SocketBackend {
    /// Listens on `path` (a stale socket file there is replaced).
    ///
    /// # Errors
    /// The host's error if the socket cannot be bound.
    pub fn bind(path: &Path) -> std::io::Result<SocketBackend> {
        if std::fs::symlink_metadata(path).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_socket()
        }) {
            let _ = std::fs::remove_file(path);
        }
        Ok(SocketBackend {
            listener: UnixListener::bind(path)?,
            path: path.to_path_buf(),
            client: Arc::new(Mutex::new(None)),
        })
    }
}

impl ConsoleBackend for SocketBackend {
    fn write(&self, data: &[u8]) {
        let mut c = lock(&self.client);
        if let Some(s) = c.as_mut() {
            if s.write_all(data).is_err() {
                *c = None;
            }
        }
    }

    fn start(&self, sink: Arc<ConsoleInput>) {
        let Ok(listener) = self.listener.try_clone() else {
            return;
        };
        let client = self.client.clone();
        let _ = std::thread::Builder::new()
            .name("cranemu-vcon".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(mut conn) = conn else { continue };
                    let Ok(w) = conn.try_clone() else { continue };
                    // A client that stops reading loses the console
                    // rather than stalling the vCPU that writes.
                    let _ = w.set_write_timeout(Some(std::time::Duration::from_millis(500)));
                    *lock(&client) = Some(w);
                    let mut buf = [0u8; 4096];
                    loop {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => sink.push(&buf[..n]),
                        }
                    }
                    *lock(&client) = None;
                }
            });
    }
}
