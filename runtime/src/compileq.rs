//! The background compile queue: hot TBs waiting for Cranelift, compiled
//! by a worker thread off the vCPUs' critical path.
//!
//! A vCPU that finds a TB hot claims it ([`Tb::claim_compile`]), queues it
//! and goes on interpreting it; the worker compiles it and publishes its
//! code ([`Tb::publish`]), and the vCPU's next lookup finds the code. No
//! vCPU ever waits for Cranelift (user mode and system mode alike).
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
//! the fork, and the child's first [`CompileQueue::push`] (the worker is
//! started lazily, per process id) requeues the job the parent's worker
//! had in hand, so no claimed TB is left uncompiled in the child.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::stats::Counters;
use crate::tbcache::{Generation, Tb, TbCache};

/// Most jobs waiting at once.
pub(crate) const MAX_QUEUED: usize = 4096;

/// One hot TB, its generation, and when it was queued.
struct Job {
    tb: Arc<Tb>,
    generation: Arc<Generation>,
    queued: Instant,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// The job the worker is compiling.
    in_flight: Option<Job>,
    /// The worker must stop.
    stop: bool,
    /// The process whose worker thread serves the queue (0: none yet).
    worker_pid: i32,
}

/// The queue of hot TBs and its worker's counters (see the module doc).
pub(crate) struct CompileQueue {
    state: Mutex<State>,
    cv: Condvar,
    /// The worker's statistics: its compiles, not any vCPU's. Kept out of
    /// the per-vCPU lists; engines add them to their totals.
    pub(crate) counters: Arc<Counters>,
    /// Set when a compile failed (a bug, or no executable memory left);
    /// the message is in `failure`.
    failed: AtomicBool,
    failure: Mutex<Option<String>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CompileQueue {
    pub(crate) fn new() -> CompileQueue {
        CompileQueue {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            counters: Arc::new(Counters::default()),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
        }
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

    /// In a fork's child (call it after the fork, with no lock held): if
    /// the parent's worker left jobs behind, starts this process's worker
    /// for them, so TBs claimed before the fork get their code.
    ///
    /// # Errors
    /// The message of `spawn`'s error (the host cannot create a thread).
    pub(crate) fn adopt(&self, spawn: impl FnOnce() -> std::io::Result<()>) -> Result<(), String> {
        let mut s = lock(&self.state);
        if s.worker_pid == 0 || s.stop || (s.jobs.is_empty() && s.in_flight.is_none()) {
            return Ok(());
        }
        Self::ensure_worker(&mut s, spawn)
    }

    /// Makes the worker stop once it finishes its current job; later
    /// pushes are refused.
    pub(crate) fn stop(&self) {
        let mut s = lock(&self.state);
        s.stop = true;
        self.cv.notify_all();
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

    /// The worker: compiles queued TBs with `compile` (given the TB's
    /// generation, the TB, the counters, and how many jobs were still
    /// queued when it took this one) until stopped, or until a compile
    /// fails (then [`CompileQueue::failure`] says why and
    /// `on_failure` runs, to stop the machine).
    pub(crate) fn run(
        &self,
        cache: &TbCache,
        compile: impl Fn(&Generation, &Tb, &Counters, usize) -> crate::Result<()>,
        on_failure: impl FnOnce(),
    ) {
        let c = &self.counters;
        loop {
            let (tb, generation, backlog) = {
                let mut s = lock(&self.state);
                let job = loop {
                    if s.stop {
                        return;
                    }
                    if let Some(job) = s.jobs.pop_back() {
                        break job;
                    }
                    s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
                };
                let waited = job.queued.elapsed().as_nanos() as u64;
                Counters::add(&c.queue_wait_ns, waited);
                Counters::max(&c.queue_wait_max_ns, waited);
                let taken = (job.tb.clone(), job.generation.clone(), s.jobs.len());
                s.in_flight = Some(job);
                taken
            };
            if !cache.is_current(&generation) || tb.is_invalid() || tb.code().is_some() {
                Counters::bump(&c.dropped_compiles);
            } else if tb.take_in_region() {
                Counters::bump(&c.dropped_compiles);
                tb.unclaim_compile();
            } else if let Err(e) = compile(&generation, &tb, c, backlog) {
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                self.failed.store(true, Ordering::Release);
                lock(&self.state).stop = true;
                on_failure();
                return;
            }
            lock(&self.state).in_flight = None;
        }
    }
}
