//! An io_uring engine for virtio-blk's reads, writes and flushes
//! (`aio=io_uring`): requests are pushed on the submission queue by the
//! vCPU that found them (under a lock; `io_uring_enter` does not block for
//! submission), and one completion thread waits for completions and runs
//! each request's completion (status byte, used ring, interrupt).
//!
//! [`Uring::new`] fails where the host refuses io_uring (an old kernel,
//! `kernel.io_uring_disabled`, a seccomp filter); the block device then
//! uses its thread pool.
//!
//! The iovec array of each request lives in the pending table until its
//! completion, so the kernel never reads a freed array.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use io_uring::{opcode, squeue, types, IoUring};

use crate::lock;

/// Entries of the submission queue.
const ENTRIES: u32 = 256;
/// `user_data` of the no-op that stops the completion thread.
const STOP: u64 = u64::MAX;

/// What runs when a request completes: the `res` of its CQE (bytes, or
/// -errno).
pub type Done = Box<dyn FnOnce(i32) + Send>;

/// A request in flight: the iovecs the kernel reads, and its completion.
struct Pending {
    _iov: Vec<libc::iovec>,
    done: Done,
}

// SAFETY: the iovecs point into guest RAM, which any thread may access;
// they are only handed to the kernel.
unsafe impl Send for Pending {}

struct Shared {
    ring: IoUring,
    /// Serializes pushes to the submission queue (one producer at a time).
    sq: Mutex<()>,
    pending: Mutex<HashMap<u64, Pending>>,
    next: AtomicU64,
    stopping: AtomicBool,
}

/// One ring and its completion thread. See the module doc.
pub struct Uring {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring").finish_non_exhaustive()
    }
}

/// An operation on the image's descriptor `fd`.
#[derive(Debug, Clone)]
pub enum Op {
    /// `readv` into the iovecs at byte `offset`.
    Read(Vec<libc::iovec>, u64),
    /// `writev` from the iovecs at byte `offset`.
    Write(Vec<libc::iovec>, u64),
    /// `fdatasync`.
    Flush,
}

impl Uring {
    /// A ring and its completion thread.
    ///
    /// # Errors
    /// The host's error when it refuses io_uring or the thread.
    pub fn new() -> std::io::Result<Uring> {
        let ring = IoUring::new(ENTRIES)?;
        let shared = Arc::new(Shared {
            ring,
            sq: Mutex::new(()),
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("cranemu-uring".into())
            .spawn(move || Uring::complete(&s))?;
        Ok(Uring {
            shared,
            thread: Some(thread),
        })
    }

    /// The completion thread.
    fn complete(s: &Shared) {
        loop {
            match s.ring.submitter().submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(_) => {
                    if s.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
            // SAFETY: this thread is the completion queue's only consumer.
            let done: Vec<(u64, i32)> = unsafe { s.ring.completion_shared() }
                .map(|c| (c.user_data(), c.result()))
                .collect();
            for (id, res) in done {
                if id == STOP {
                    return;
                }
                let p = lock(&s.pending).remove(&id);
                if let Some(p) = p {
                    (p.done)(res);
                }
            }
        }
    }

    /// Submits `op` on `fd`; `done` runs on the completion thread with the
    /// result. `fd` must stay open until then.
    pub fn submit(&self, fd: i32, op: Op, done: Done) {
        let s = &self.shared;
        let id = s.next.fetch_add(1, Ordering::Relaxed);
        let fd = types::Fd(fd);
        let (entry, iov) = match op {
            Op::Read(iov, off) => (
                opcode::Readv::new(fd, iov.as_ptr(), iov.len() as u32)
                    .offset(off)
                    .build(),
                iov,
            ),
            Op::Write(iov, off) => (
                opcode::Writev::new(fd, iov.as_ptr(), iov.len() as u32)
                    .offset(off)
                    .build(),
                iov,
            ),
            Op::Flush => (
                opcode::Fsync::new(fd)
                    .flags(types::FsyncFlags::DATASYNC)
                    .build(),
                Vec::new(),
            ),
        };
        // The Vec's buffer does not move when the Vec does.
        lock(&s.pending).insert(id, Pending { _iov: iov, done });
        self.push(&entry.user_data(id));
    }

    fn push(&self, entry: &squeue::Entry) {
        let s = &self.shared;
        let _g = lock(&s.sq);
        loop {
            // SAFETY: `s.sq` makes this the only producer; the entry's
            // buffers live in the pending table until its completion.
            let pushed = unsafe { s.ring.submission_shared().push(entry) }.is_ok();
            if pushed {
                break;
            }
            // Full: let the kernel take what is queued.
            let _ = s.ring.submit();
            std::thread::yield_now();
        }
        let _ = s.ring.submit();
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.push(&opcode::Nop::new().build().user_data(STOP));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::io::AsRawFd;

    /// A read, a write and a flush through the ring (skipped, with a
    /// note, where the host refuses io_uring).
    #[test]
    fn read_write_flush() {
        let u = match Uring::new() {
            Ok(u) => u,
            Err(e) => {
                eprintln!("io_uring not available here ({e}): not run");
                return;
            }
        };
        let dir = std::env::temp_dir().join(format!("cranemu-uring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"hello, ring!").unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut buf = vec![0u8; 5];
        let iov = vec![libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: 5,
        }];
        let t = tx.clone();
        u.submit(
            f.as_raw_fd(),
            Op::Read(iov, 7),
            Box::new(move |r| t.send(r).unwrap()),
        );
        assert_eq!(rx.recv().unwrap(), 5);
        assert_eq!(&buf, b"ring!");
        let mut w = *b"HELLO";
        let iov = vec![libc::iovec {
            iov_base: w.as_mut_ptr().cast(),
            iov_len: 5,
        }];
        let t = tx.clone();
        u.submit(
            f.as_raw_fd(),
            Op::Write(iov, 0),
            Box::new(move |r| t.send(r).unwrap()),
        );
        assert_eq!(rx.recv().unwrap(), 5);
        u.submit(
            f.as_raw_fd(),
            Op::Flush,
            Box::new(move |r| tx.send(r).unwrap()),
        );
        assert_eq!(rx.recv().unwrap(), 0);
        assert_eq!(std::fs::read(&path).unwrap(), b"HELLO, ring!");
        drop(u);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
