//! Linux `perf`'s JIT map: `/tmp/perf-PID.map`, so that `perf top` and
//! `perf report` name the guest code behind each compiled block (the
//! `-perfmap` option, spelled as QEMU spells it).
//!
//! The format (`tools/perf/Documentation/jit-interface.txt` in Linux):
//! one line per piece of code, `START SIZE NAME`, START and SIZE in hex
//! without `0x`, appended as code is placed. cranemu writes one line per
//! compiled block, when it is published, and one per block's first-tier
//! code, when it is translated: its host address, its host code size in
//! bytes, and a name that the embedder's namer gives from the block's
//! guest pc (linux-user: `guest:SYMBOL+0xOFF@0xPC`, or `guest:0xPC` where
//! no symbol is known), after [`FIRST_TIER_PREFIX`] for first-tier code.
//! Blocks freed with an old cache generation keep their lines: perf takes
//! the latest line that covers an address, and a later block placed at
//! the same address gets a new line.
//!
//! Forks: a guest `fork` is a host `fork`, and the child is a new process
//! with its own pid that still runs the code its parent placed. Its first
//! record copies the parent's map to `/tmp/perf-CHILD.map` and goes on
//! there. Every record (and the namer, and [`PerfMap::with_lock`]) runs
//! under one lock, which [`crate::Engine::quiesced`] holds across a fork,
//! so a child never inherits it held.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

/// Names a compiled block from its guest pc (a guest virtual address).
pub type Namer = Box<dyn Fn(u64) -> String + Send>;

struct Inner {
    /// Names blocks; called with the lock held.
    namer: Namer,
    /// The process that `file` belongs to, and the file (None before the
    /// first record, or after a write failed: the map is then given up,
    /// with one line on stderr).
    file: Option<(i32, File)>,
    /// A write failed: record nothing more.
    failed: bool,
    /// Bytes in the file when the last `fork()` happened: a child's map
    /// starts with those (the lines of code it inherited), not with what
    /// its parent appended after the fork.
    fork_len: u64,
}

/// The perf map of this process (see the module doc).
pub struct PerfMap {
    inner: Mutex<Inner>,
}

/// `/tmp/perf-PID.map`.
fn map_path(pid: i32) -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{pid}.map"))
}

impl PerfMap {
    /// A perf map that names blocks with `namer`. The file is created (or
    /// truncated) at the first record.
    pub fn new(namer: Namer) -> PerfMap {
        PerfMap {
            inner: Mutex::new(Inner {
                namer,
                file: None,
                failed: false,
                fork_len: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the map's lock held: for the embedder's symbol state,
    /// which the namer reads under this lock too, so it needs no lock of
    /// its own that a fork could inherit held.
    pub fn with_lock<R>(&self, f: impl FnOnce() -> R) -> R {
        let _g = self.lock();
        f()
    }

    /// The lock, held across a host `fork()` ([`crate::Engine::quiesced`]);
    /// notes how much of the map the child inherits.
    pub(crate) fn lock_for_fork(&self) -> impl Drop + '_ {
        let mut g = self.lock();
        let len = g.file.as_ref().and_then(|(_, f)| f.metadata().ok());
        g.fork_len = len.map_or(0, |m| m.len());
        g
    }

    /// Appends the line of a block of `size` bytes of host code at `host`,
    /// translated from guest pc `pc`; the name of first-tier code
    /// (`first_tier`, `cranemu_backend::template`) starts with
    /// [`FIRST_TIER_PREFIX`], so that a profile tells the tiers apart.
    /// Failures to write are reported once on stderr and end the map;
    /// they never stop the guest.
    pub(crate) fn record(&self, host: *const u8, size: usize, pc: u64, first_tier: bool) {
        let mut g = self.lock();
        if g.failed {
            return;
        }
        // SAFETY: getpid takes no arguments and cannot fail.
        let pid = unsafe { libc::getpid() };
        if g.file.as_ref().is_none_or(|(p, _)| *p != pid) {
            let parent = g.file.take().map(|(p, _)| (p, g.fork_len));
            match open_map(pid, parent) {
                Ok(f) => g.file = Some((pid, f)),
                Err(e) => {
                    g.failed = true;
                    crate::diagln!("cranemu: {}: {e}", map_path(pid).display());
                    return;
                }
            }
        }
        // Names are the embedder's text: keep the line one line.
        let name: String = (g.namer)(pc)
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let prefix = if first_tier { FIRST_TIER_PREFIX } else { "" };
        let line = format!("{:x} {:x} {prefix}{name}\n", host as usize, size);
        let failed = match &mut g.file {
            Some((_, f)) => f.write_all(line.as_bytes()).err(),
            None => None,
        };
        if let Some(e) = failed {
            g.failed = true;
            crate::diagln!("cranemu: {}: {e}", map_path(pid).display());
        }
    }
}

/// What the perf-map name of a block's first-tier code starts with
/// (Cranelift's code of the same block has the name without it).
pub const FIRST_TIER_PREFIX: &str = "tier1 ";

/// Creates `/tmp/perf-PID.map` for appending; in a fork's child
/// (`parent`: the pid whose map this process had, and its length in bytes
/// at the fork), starting with a copy of the parent's lines of the code
/// the child inherited.
fn open_map(pid: i32, parent: Option<(i32, u64)>) -> std::io::Result<File> {
    let path = map_path(pid);
    let mut f = File::create(&path)?;
    if let Some((p, len)) = parent {
        let mut old = std::fs::read(map_path(p))?;
        old.truncate(len as usize);
        f.write_all(&old)?;
    }
    drop(f);
    std::fs::OpenOptions::new().append(true).open(&path)
}
