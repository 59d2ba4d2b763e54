//! A `loom` model of the translation cache's link, unlink and free
//! protocol (runtime/src/tbcache.rs, invariants 2 to 4), explored over
//! every interleaving of the threads involved:
//!
//! - chaining an exit to a TB races with invalidating that TB: once the
//!   invalidation has finished, no slot leads to the TB any more, and none
//!   is linked to it afterwards (chaining checks validity under the index
//!   lock, invalidation marks the TB invalid and nulls its incoming slots
//!   under the same lock);
//! - a vCPU's jump cache races with a flush (a new generation): no entry is
//!   used after the generation its code lives in is freed, because the jump
//!   cache is tagged with the epoch *and* the generation it was filled from
//!   (a vCPU may fill it from the old generation it still holds after the
//!   epoch moved);
//! - code runs only while the vCPU holds the generation that owns it.
//!
//! The model mirrors the protocol with loom's primitives rather than
//! running the real cache, whose code memory and host threads loom cannot
//! drive.

use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use std::sync::atomic::AtomicBool as StdBool;
use std::sync::Arc as StdArc;

/// A slot that is not chained.
const UNCHAINED: usize = 0;

/// One TB: its validity, its one exit slot (0, or the target's index + 1)
/// and the TBs whose slots jump to it.
struct Tb {
    invalid: AtomicBool,
    slot: AtomicUsize,
    incoming: Mutex<Vec<usize>>,
}

/// A generation of two TBs. `freed` becomes true when the generation's
/// memory would be unmapped (its last `Arc` dropped); it is a plain
/// atomic outside loom's model so that checking it adds no interleavings.
struct Generation {
    id: u64,
    tbs: [Tb; 2],
    in_map: [AtomicBool; 2],
    freed: StdArc<StdBool>,
}

impl Generation {
    fn new(id: u64) -> Generation {
        let tb = || Tb {
            invalid: AtomicBool::new(false),
            slot: AtomicUsize::new(UNCHAINED),
            incoming: Mutex::new(Vec::new()),
        };
        Generation {
            id,
            tbs: [tb(), tb()],
            in_map: [AtomicBool::new(true), AtomicBool::new(true)],
            freed: StdArc::new(StdBool::new(false)),
        }
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.freed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

struct Cache {
    index: Mutex<()>,
    current: Mutex<Arc<Generation>>,
    epoch: AtomicU64,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            index: Mutex::new(()),
            current: Mutex::new(Arc::new(Generation::new(1))),
            epoch: AtomicU64::new(1),
        }
    }

    fn current(&self) -> Arc<Generation> {
        self.current.lock().unwrap().clone()
    }

    /// `TbCache::chain`: link `from`'s slot to `to` if both are valid.
    fn chain(&self, generation: &Generation, from: usize, to: usize) {
        let _index = self.index.lock().unwrap();
        let (f, t) = (&generation.tbs[from], &generation.tbs[to]);
        if f.invalid.load(Ordering::Relaxed) || t.invalid.load(Ordering::Relaxed) {
            return;
        }
        if f.slot.load(Ordering::Relaxed) != UNCHAINED {
            return;
        }
        t.incoming.lock().unwrap().push(from);
        f.slot.store(to + 1, Ordering::Release);
    }

    /// `TbCache::invalidate_pages` for one TB of the current generation.
    fn invalidate(&self, which: usize) {
        let index = self.index.lock().unwrap();
        let generation = self.current();
        let tb = &generation.tbs[which];
        tb.invalid.store(true, Ordering::Relaxed);
        generation.in_map[which].store(false, Ordering::Release);
        let incoming: Vec<usize> = tb.incoming.lock().unwrap().drain(..).collect();
        for from in incoming {
            generation.tbs[from]
                .slot
                .store(UNCHAINED, Ordering::Release);
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        drop(index);
    }

    /// `TbCache::flush`: a new, empty generation and a new epoch.
    fn flush(&self, id: u64) {
        let index = self.index.lock().unwrap();
        *self.current.lock().unwrap() = Arc::new(Generation::new(id));
        self.epoch.fetch_add(1, Ordering::AcqRel);
        drop(index);
    }
}

/// A jump-cache entry: the TB's generation and that generation's `freed`
/// flag (standing for the code address, which is only valid while the
/// generation lives).
struct Entry {
    freed: StdArc<StdBool>,
}

/// A vCPU's jump cache with its tag.
struct JumpCache {
    tag: (u64, u64),
    entry: Option<Entry>,
}

impl JumpCache {
    /// The check `Engine::lookup_compiled` makes before probing.
    fn sync(&mut self, cache: &Cache, generation: &Generation) {
        let tag = (cache.epoch.load(Ordering::Acquire), generation.id);
        if self.tag != tag {
            self.tag = tag;
            self.entry = None;
        }
    }
}

fn is_freed(flag: &StdBool) -> bool {
    flag.load(std::sync::atomic::Ordering::SeqCst)
}

#[test]
fn chaining_never_revives_an_invalidated_tb() {
    loom::model(|| {
        let cache = Arc::new(Cache::new());
        let done = Arc::new(AtomicBool::new(false));
        let vcpu = {
            let (cache, done) = (cache.clone(), done.clone());
            loom::thread::spawn(move || {
                let generation = cache.current();
                // TB 0's exit left to the runtime; the lookup of its
                // target, TB 1, finds it in the map; the runtime chains.
                if generation.in_map[1].load(Ordering::Acquire) {
                    cache.chain(&generation, 0, 1);
                }
                // Once the invalidation is over, TB 0's slot must not
                // lead to TB 1.
                let over = done.load(Ordering::Acquire);
                let target = generation.tbs[0].slot.load(Ordering::Acquire);
                if over {
                    assert_ne!(target, 2, "a slot leads to an invalidated TB");
                }
                assert!(!is_freed(&generation.freed));
            })
        };
        cache.invalidate(1);
        done.store(true, Ordering::Release);
        vcpu.join().unwrap();
        let generation = cache.current();
        assert_ne!(
            generation.tbs[0].slot.load(Ordering::Acquire),
            2,
            "linked to an invalidated TB"
        );
    });
}

#[test]
fn jump_cache_entries_never_outlive_their_generation() {
    loom::model(|| {
        let cache = Arc::new(Cache::new());
        let vcpu = {
            let cache = cache.clone();
            loom::thread::spawn(move || {
                let mut jc = JumpCache {
                    tag: (0, 0),
                    entry: None,
                };
                for _ in 0..2 {
                    // One pass of the execution loop: hold the current
                    // generation, sync the jump cache, probe it or fill it
                    // from the generation's map, run the code.
                    let generation = cache.current();
                    jc.sync(&cache, &generation);
                    match &jc.entry {
                        Some(e) => assert!(!is_freed(&e.freed), "stale jump-cache entry"),
                        None => {
                            if generation.in_map[0].load(Ordering::Acquire) {
                                jc.entry = Some(Entry {
                                    freed: generation.freed.clone(),
                                });
                            }
                        }
                    }
                    drop(generation);
                }
            })
        };
        cache.flush(2);
        vcpu.join().unwrap();
    });
}

#[test]
fn invalidation_and_flush_race_with_running_chained_code() {
    loom::model(|| {
        let cache = Arc::new(Cache::new());
        // The vCPU has chained TB 0 -> TB 1 and runs through the chain.
        {
            let generation = cache.current();
            cache.chain(&generation, 0, 1);
        }
        let vcpu = {
            let cache = cache.clone();
            loom::thread::spawn(move || {
                let generation = cache.current();
                let target = generation.tbs[0].slot.load(Ordering::Acquire);
                if target != UNCHAINED {
                    // Entering TB 1's code: its generation must be alive.
                    assert!(!is_freed(&generation.freed));
                }
            })
        };
        let invalidator = {
            let cache = cache.clone();
            loom::thread::spawn(move || cache.invalidate(1))
        };
        cache.flush(2);
        vcpu.join().unwrap();
        invalidator.join().unwrap();
    });
}
