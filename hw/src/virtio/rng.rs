//! virtio-rng, the entropy device (virtio 1.2 §5.4): one queue of
//! device-writable buffers, filled from the host's `getrandom(2)` on the
//! notifying vCPU (a request is small: at most [`MAX_REQUEST`] bytes are
//! given per chain, which the spec allows: the used length says how many).

use std::sync::{Arc, Mutex};

use super::{device_id, drain_queue, write_to, ActiveQueue, VirtioDevice, COMMON_FEATURES};
use crate::lock;

/// Size of the request queue.
pub const QUEUE_SIZE: u16 = 64;
/// The most random bytes given for one chain (bytes).
pub const MAX_REQUEST: usize = 64 << 10;

/// A virtio-rng device.
#[derive(Debug, Default)]
pub struct Rng {
    queue: Mutex<Option<Arc<ActiveQueue>>>,
}

impl Rng {
    /// A device with no queue yet.
    pub fn new() -> Rng {
        Rng::default()
    }
}

/// Fills `buf` from the host's `getrandom`; false if the host refuses.
pub fn host_random(buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes at most `buf.len() - done` bytes into `buf`.
        let r = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        done += r as usize;
    }
    true
}

impl VirtioDevice for Rng {
    fn device_type(&self) -> u32 {
        device_id::RNG
    }

    fn features(&self) -> u64 {
        COMMON_FEATURES
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, _offset: u64, data: &mut [u8]) {
        data.fill(0);
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
        let mut buf = Vec::new();
        drain_queue(&aq, |chain| {
            let n = chain.writable_len().min(MAX_REQUEST as u64) as usize;
            buf.resize(n, 0);
            let written = if host_random(&mut buf) {
                write_to(&chain.writable, 0, &buf, aq.ram.mem())
            } else {
                0
            };
            aq.complete(chain.head, written as u32);
        });
    }

    fn reset(&self) {
        *lock(&self.queue) = None;
    }
}
