//! The background compile queue: hot TBs waiting for Cranelift, compiled
//! by a worker thread off the vCPUs' critical path.
//!
//! A vCPU that finds a TB hot claims it ([`Tb::claim_compile`]), queues it
//! and goes on interpreting it; the worker compiles it and publishes its
//! code ([`Tb::publish`]), and the vCPU's next lookup finds the code. No
//! vCPU ever waits for Cranelift (user mode and system mode alike), unless
//! `EngineConfig::wait_for_compiles` asks it to, for reproducible runs.
//!
//! The queue is bounded ([`MAX_QUEUED`] jobs): when it is full the vCPU
//! gives its claim back ([`Tb::unclaim_compile`]) and the TB is queued by
//! a later run instead, so a burst of new hot code costs memory in
//! proportion to the bound, not to the burst. A job whose TB was
//! invalidated, or whose cache generation was flushed, while it waited is
//! dropped unseen by Cranelift (counted as `dropped_compiles`).
//!
//! User mode forks: a host `fork()` copies the queue but not its worker
//! thread. [`CompileQueue::lock_for_fork`] holds the queue's lock across
//! the fork. The child compiles nothing for its first [`FORK_DEFER`]
//! ([`CompileQueue::defer_after_fork`]): most forked children exec or exit
//! within milliseconds (a shell's `$(...)`), and code compiled there dies
//! with them, while a second thread that allocates makes every page the
//! child writes (all shared copy-on-write with the parent) cost a
//! TLB-shootdown IPI as well as a copy. The TBs the parent had queued are
//! given back to the first tier, to be claimed again when they run; the
//! child's first push after the delay starts its worker (workers start
//! lazily, per process id). Nor does the child emit first-tier code for
//! the TBs it translates in that time ([`CompileQueue::in_fork_defer`]):
//! they run in the first tier's loop.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::stats::Counters;
use crate::tbcache::{Generation, Tb, TbCache};

/// Most jobs waiting at once.
pub(crate) const MAX_QUEUED: usize = 4096;

/// Most region heads (TBs compiled alone) waiting to be compiled again as regions
/// ([`CompileQueue::push_recompile`]); later ones are not noted.
const MAX_RECOMPILES: usize = 256;

/// How often an idle worker looks at the region heads waiting to be
/// compiled again as regions.
const RECOMPILE_POLL: Duration = Duration::from_millis(10);

/// Entries into a waiting region head's code per second, between two looks
/// of the idle worker at least [`RECOMPILE_POLL`] apart, that make it hot
/// enough to compile again: code that is running now, not code that ran
/// during start-up (the first look only starts the count). On busybox
/// `sh` running 1000 commands, compiling every such head again (232
/// regions) cost 3 MiB of peak RSS for no gain.
const RECOMPILE_RATE: u64 = 100_000;

/// How long a region head waits to turn hot before it is forgotten.
const RECOMPILE_PATIENCE: Duration = Duration::from_secs(2);

/// How long a forked child runs before it compiles (see the module doc).
/// Meanwhile each run of a hot TB tries to queue it and is refused (a
/// lock and a clock read per run, for those 50 ms only).
/// On 200 lines of the sh1000 script (a `$(expr ...)` each), children
/// that compiled at once made the run 1.6 s instead of 1.0 s.
pub(crate) const FORK_DEFER: std::time::Duration = std::time::Duration::from_millis(50);

/// A region head waiting to be compiled again as a region
/// ([`CompileQueue::push_recompile`]). Weak references: a flushed
/// generation is not kept alive by the list.
struct Recompile {
    tb: Weak<Tb>,
    generation: Weak<Generation>,
    /// When it was noted.
    queued: Instant,
    /// When the worker last looked at (and reset) its entry count, if it
    /// has.
    looked: Option<Instant>,
}

/// One hot TB, its generation, and when it was queued.
struct Job {
    tb: Arc<Tb>,
    generation: Arc<Generation>,
    queued: Instant,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Compiled region heads to compile again as regions, taken only when
    /// `jobs` is empty (see `compile`'s module doc).
    recompiles: VecDeque<Recompile>,
    /// The job the worker is compiling.
    in_flight: Option<Job>,
    /// The worker must stop.
    stop: bool,
    /// The process whose worker thread serves the queue (0: none yet).
    worker_pid: i32,
    /// A forked child queues nothing before this time.
    defer_until: Option<Instant>,
}

/// The queue of hot TBs and its worker's counters (see the module doc).
pub(crate) struct CompileQueue {
    state: Mutex<State>,
    cv: Condvar,
    /// Signalled whenever the worker finishes a job or stops.
    idle: Condvar,
    /// The worker's statistics: its compiles, not any vCPU's. Kept out of
    /// the per-vCPU lists; engines add them to their totals.
    pub(crate) counters: Arc<Counters>,
    /// Set when a compile failed (a bug, or no executable memory left);
    /// the message is in `failure`.
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
    /// Set by [`CompileQueue::defer_after_fork`]; cleared by the first
    /// [`CompileQueue::in_fork_defer`] after [`FORK_DEFER`] has passed.
    deferring: AtomicBool,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CompileQueue {
    pub(crate) fn new() -> CompileQueue {
        CompileQueue {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            idle: Condvar::new(),
            counters: Arc::new(Counters::default()),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            deferring: AtomicBool::new(false),
        }
    }

    /// Whether this process is a fork's child still in its first
    /// [`FORK_DEFER`]: one load, outside that window.
    pub(crate) fn in_fork_defer(&self) -> bool {
        if !self.deferring.load(Ordering::Relaxed) {
            return false;
        }
        let s = lock(&self.state);
        let deferring = s.defer_until.is_some_and(|until| Instant::now() < until);
        if !deferring {
            self.deferring.store(false, Ordering::Relaxed);
        }
        deferring
    }

    /// Queues `tb` (already claimed for compilation) of `generation`.
    /// Returns false, leaving the claim to the caller to give back, when
    /// the queue is full or stopped. `spawn` starts a worker thread that
    /// calls [`CompileQueue::run`]; it is called when this process has
    /// none yet (the first push, or the first after a `fork()`).
    ///
    /// # Errors
    /// The message of `spawn`'s error (the host cannot create a thread).
    pub(crate) fn push(
        &self,
        tb: Arc<Tb>,
        generation: Arc<Generation>,
        spawn: impl FnOnce() -> std::io::Result<()>,
    ) -> Result<bool, String> {
        let mut s = lock(&self.state);
        if s.stop {
            return Ok(false);
        }
        if let Some(until) = s.defer_until {
            if Instant::now() < until {
                return Ok(false);
            }
            s.defer_until = None;
        }
        if s.jobs.len() >= MAX_QUEUED {
            // The oldest job is the least likely to run again soon.
            if let Some(old) = s.jobs.pop_front() {
                old.tb.unclaim_compile();
                Counters::bump(&self.counters.dropped_compiles);
            }
        }
        Self::ensure_worker(&mut s, spawn)?;
        s.jobs.push_back(Job {
            tb,
            generation,
            queued: Instant::now(),
        });
        Counters::bump(&self.counters.queued_compiles);
        self.cv.notify_one();
        Ok(true)
    }

    /// Starts this process's worker with `spawn` unless it has one. In a
    /// fork's child the parent's worker did not come along, and the job it
    /// had in hand is this process's to finish: it goes back in front.
    fn ensure_worker(
        s: &mut State,
        spawn: impl FnOnce() -> std::io::Result<()>,
    ) -> Result<(), String> {
        // SAFETY: getpid takes no arguments and cannot fail.
        let pid = unsafe { libc::getpid() };
        if s.worker_pid != pid {
            if let Some(job) = s.in_flight.take() {
                s.jobs.push_front(job);
            }
            spawn().map_err(|e| format!("cannot start the compile thread: {e}"))?;
            s.worker_pid = pid;
        }
        Ok(())
    }

    /// In a fork's child (call it after the fork, with no lock held):
    /// gives the jobs the parent left queued (and the one its worker had
    /// in hand) back to the first tier, and queues nothing for
    /// [`FORK_DEFER`] (see the module doc).
    pub(crate) fn defer_after_fork(&self) {
        let mut s = lock(&self.state);
        let jobs = std::mem::take(&mut s.jobs);
        s.recompiles.clear();
        for job in jobs.into_iter().chain(s.in_flight.take()) {
            job.tb.unclaim_compile();
        }
        s.defer_until = Some(Instant::now() + FORK_DEFER);
        self.deferring.store(true, Ordering::Relaxed);
    }

    /// Makes the worker stop once it finishes its current job; later
    /// pushes are refused.
    pub(crate) fn stop(&self) {
        let mut s = lock(&self.state);
        s.stop = true;
        self.cv.notify_all();
        self.idle.notify_all();
    }

    /// Notes `tb`, a region head just compiled alone because the queue was
    /// long (with code that counts its entries, [`Tb::entries`]), to be
    /// compiled again as a region once no other job waits, if it is hot
    /// then ([`RECOMPILE_RATE`]).
    pub(crate) fn push_recompile(&self, tb: &Arc<Tb>, generation: &Arc<Generation>) {
        let mut s = lock(&self.state);
        if s.recompiles.len() < MAX_RECOMPILES {
            s.recompiles.push_back(Recompile {
                tb: Arc::downgrade(tb),
                generation: Arc::downgrade(generation),
                queued: Instant::now(),
                looked: None,
            });
        }
    }

    /// Waits until no job is queued or in the worker's hands, or the
    /// queue is stopped (for `EngineConfig::wait_for_compiles`). Loop
    /// heads waiting to be compiled again do not count: they wait for the
    /// guest to run them, which a waiting vCPU does not. Call it with no
    /// lock of the TB cache held: the worker takes them to publish its
    /// code.
    pub(crate) fn wait_idle(&self) {
        let mut s = lock(&self.state);
        while !s.stop && (!s.jobs.is_empty() || s.in_flight.is_some()) {
            s = self.idle.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The queue's lock, held across a host `fork()` so that the child
    /// does not inherit it locked by the worker.
    pub(crate) fn lock_for_fork(&self) -> impl Drop + '_ {
        lock(&self.state)
    }

    /// Why a compile failed, once one has: the engine reports it as its
    /// own error.
    pub(crate) fn failure(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes the first waiting region head entered at [`RECOMPILE_RATE`] or
    /// more since the worker's last look at it, and starts the next count
    /// for the others; forgets those invalidated, of a generation that is
    /// gone, or waiting longer than [`RECOMPILE_PATIENCE`]. Called with
    /// the queue's lock held, it takes no lock of the cache
    /// ([`CompileQueue::lock_for_fork`] takes the queue's lock after
    /// them); a head of a flushed but still referenced generation is
    /// dropped when taken.
    fn hot_recompile(s: &mut State) -> Option<Job> {
        let now = Instant::now();
        let mut hot = None;
        s.recompiles.retain_mut(|r| {
            if hot.is_some() {
                return true;
            }
            let Some(tb) = r.tb.upgrade() else {
                return false;
            };
            let entries = u64::from(tb.entries.swap(0, Ordering::Relaxed));
            let since = r.looked.replace(now);
            let rate = since.map(|t| {
                let ns = now.duration_since(t).as_nanos().max(1) as u64;
                entries.saturating_mul(1_000_000_000) / ns
            });
            if rate.is_some_and(|r| r >= RECOMPILE_RATE) {
                if let Some(generation) = r.generation.upgrade() {
                    hot = Some(Job {
                        tb: tb.clone(),
                        generation,
                        queued: r.queued,
                    });
                }
                return false;
            }
            !tb.is_invalid() && r.queued.elapsed() < RECOMPILE_PATIENCE
        });
        hot
    }

    /// The worker: compiles queued TBs with `compile` (given the TB's
    /// generation, the TB, the counters, how many jobs were still queued
    /// when it took this one, and whether this is a region head to compile
    /// again as a region, see [`CompileQueue::push_recompile`]) until
    /// stopped, or until a compile fails (then [`CompileQueue::failure`]
    /// says why and `on_failure` runs, to stop the machine).
    pub(crate) fn run(
        &self,
        cache: &TbCache,
        compile: impl Fn(&Arc<Generation>, &Tb, &Counters, usize, bool) -> crate::Result<()>,
        on_failure: impl FnOnce(),
    ) {
        let c = &self.counters;
        loop {
            let (tb, generation, backlog, recompile) = {
                let mut s = lock(&self.state);
                let (job, recompile) = loop {
                    if s.stop {
                        return;
                    }
                    if let Some(job) = s.jobs.pop_back() {
                        break (job, false);
                    }
                    if s.recompiles.is_empty() {
                        s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
                        continue;
                    }
                    if let Some(job) = Self::hot_recompile(&mut s) {
                        break (job, true);
                    }
                    s = self
                        .cv
                        .wait_timeout(s, RECOMPILE_POLL)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                };
                if !recompile {
                    let waited = job.queued.elapsed().as_nanos() as u64;
                    Counters::add(&c.queue_wait_ns, waited);
                    Counters::max(&c.queue_wait_max_ns, waited);
                }
                let taken = (
                    job.tb.clone(),
                    job.generation.clone(),
                    s.jobs.len(),
                    recompile,
                );
                s.in_flight = Some(job);
                taken
            };
            let stale = !cache.is_current(&generation) || tb.is_invalid();
            let result = if stale || (!recompile && tb.code().is_some()) {
                Counters::bump(&c.dropped_compiles);
                Ok(())
            } else if !recompile && tb.take_in_region() {
                Counters::bump(&c.dropped_compiles);
                tb.unclaim_compile();
                Ok(())
            } else {
                compile(&generation, &tb, c, backlog, recompile)
            };
            if let Err(e) = result {
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                self.failed.store(true, Ordering::Release);
                lock(&self.state).stop = true;
                self.idle.notify_all();
                on_failure();
                return;
            }
            let drained = {
                let mut s = lock(&self.state);
                s.in_flight = None;
                s.jobs.is_empty()
            };
            if drained {
                cache.refresh_jump_caches();
            }
            self.idle.notify_all();
        }
    }
}
