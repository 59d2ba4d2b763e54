//! The per-thread jump cache: (guest pc, flags) to host code and TB,
//! direct-mapped, which translated code probes inline on indirect jumps
//! and the dispatcher probes first on every lookup; and its cold half,
//! the interpreter's own, which counts the runs of TBs without code.

use std::cell::UnsafeCell;

use cranemu_backend::{jump_cache_index, JumpCacheEntry, JUMP_CACHE_ENTRIES};

use crate::tbcache::Tb;

/// The per-thread jump cache: (guest pc, flags) -> host code and TB,
/// direct-mapped. Translated code probes it inline on indirect jumps
/// (through `CpuState::jump_cache`); the runtime fills it, and clears it
/// when the cache's epoch changes (see [`crate::tbcache`], invariant 4).
pub(crate) struct JumpCache {
    /// The cache epoch and the generation the entries were filled under.
    pub(crate) epoch: (u64, u64),
    pub(crate) entries: Box<[JumpCacheEntry; JUMP_CACHE_ENTRIES]>,
    /// TBs without code (`code` 0), indexed and tagged alike: the
    /// interpreter's own jump cache, so that a cold TB run again costs an
    /// array probe rather than a lookup in the shared map. Translated code
    /// never sees these entries.
    pub(crate) cold: Box<[JumpCacheEntry; JUMP_CACHE_ENTRIES]>,
    /// Which entries were filled since the arrays were last emptied.
    filled: Filled,
}

/// Most filled entries a [`JumpCache`] notes one by one; past that it
/// empties its arrays whole.
const NOTED: usize = 64;

// Entry indices are noted as `u16`.
const _: () = assert!(JUMP_CACHE_ENTRIES <= 1 << 16);

/// The entries of a [`JumpCache`] filled since it was last emptied: their
/// indices (the same index in both arrays) while there are few, so that
/// emptying it writes those alone. A guest that writes code as it runs
/// (a JIT) changes the epoch for every function it writes, and emptying
/// both 128 KiB arrays each time took as long as the rest of its work
/// (BENCHMARKS.md, "Issue 12, fifteenth step").
struct Filled {
    /// Indices noted, the first `len` of them.
    at: [u16; NOTED],
    len: u8,
    /// More than [`NOTED`] fills: any entry may be filled.
    many: bool,
}

impl Default for Filled {
    fn default() -> Filled {
        Filled {
            at: [0; NOTED],
            len: 0,
            many: false,
        }
    }
}

impl Filled {
    /// Notes that the entries at `index` may be filled.
    fn note(&mut self, index: usize) {
        if self.many {
            return;
        }
        if usize::from(self.len) == NOTED {
            self.many = true;
        } else {
            self.at[usize::from(self.len)] = index as u16;
            self.len += 1;
        }
    }
}

impl JumpCache {
    /// Empties both arrays for a new epoch ([`crate::tbcache`], invariant
    /// 4). With `same_generation` (an invalidation moved the epoch, the
    /// generation is the one the entries were filled under), first adds
    /// the runs that cold entries counted to their TBs, which are alive
    /// (invalidated ones too, tbcache invariant 3): otherwise a guest that
    /// invalidates code more often than a batch fills would never compile
    /// its loops. Writes only the entries filled, while they are few (a
    /// thread's first lookup writes nothing: see [`empty_entries`]).
    pub(crate) fn empty(&mut self, same_generation: bool) {
        let filled = std::mem::take(&mut self.filled);
        if filled.many {
            for i in 0..JUMP_CACHE_ENTRIES {
                self.empty_at(i, same_generation);
            }
        } else {
            for &i in &filled.at[..usize::from(filled.len)] {
                self.empty_at(usize::from(i), same_generation);
            }
        }
    }

    /// Empties both entries at `index` (see [`JumpCache::empty`]).
    fn empty_at(&mut self, index: usize, same_generation: bool) {
        let e = &mut self.cold[index];
        if same_generation && e.pc != u64::MAX && e.code != 0 {
            // SAFETY: a TB of the generation the cache was filled under,
            // still alive (see `empty`).
            unsafe { (*(e.tb as *const Tb)).add_execs(e.code) };
        }
        *e = EMPTY_ENTRY;
        self.entries[index] = EMPTY_ENTRY;
    }

    /// Sets the code entry at `index`.
    pub(crate) fn fill(&mut self, index: usize, entry: JumpCacheEntry) {
        self.filled.note(index);
        self.entries[index] = entry;
    }
}

pub(crate) const EMPTY_ENTRY: JumpCacheEntry = JumpCacheEntry {
    pc: u64::MAX,
    flags: 0,
    code: 0,
    tb: 0,
};

/// An always-empty jump cache, for blocks run by
/// [`crate::Engine::run_ir_block`]
/// (which must not continue into other code).
pub(crate) static EMPTY_JUMP_CACHE: [JumpCacheEntry; JUMP_CACHE_ENTRIES] =
    [EMPTY_ENTRY; JUMP_CACHE_ENTRIES];

/// A jump cache array with every entry empty, allocated zeroed: an
/// all-zero entry is empty except where pc 0 under flags 0 indexes, so
/// that entry alone is written, and the rest of the array is not resident
/// until it fills (128 KiB an array, two a guest thread: a guest with a
/// thousand threads took 440 MB written whole).
fn empty_entries() -> Box<[JumpCacheEntry; JUMP_CACHE_ENTRIES]> {
    // SAFETY: an entry is four integers, for which all zeros is a value.
    let mut entries =
        unsafe { Box::<[JumpCacheEntry; JUMP_CACHE_ENTRIES]>::new_zeroed().assume_init() };
    entries[jump_cache_index(0, 0)] = EMPTY_ENTRY;
    entries
}

thread_local! {
    static JUMP_CACHE: UnsafeCell<JumpCache> = UnsafeCell::new(JumpCache {
        epoch: (0, 0),
        entries: empty_entries(),
        cold: empty_entries(),
        filled: Filled::default(),
    });
}

/// Notes `tb`, a TB without code, for (`pc`, `flags`) in the cold-TB
/// cache of `jc`, this thread's jump cache ([`jump_cache`]), under the
/// tag the last lookup set.
pub(crate) fn fill_cold(jc: *mut JumpCache, pc: u64, flags: u64, tb: *const Tb) {
    // SAFETY: this thread's jump cache, alive as long as the thread; no
    // other reference to it is live (see `jump_cache`).
    let jc = unsafe { &mut *jc };
    let index = jump_cache_index(pc, flags);
    jc.filled.note(index);
    let e = &mut jc.cold[index];
    if e.pc != u64::MAX && e.tb != tb as usize && e.code != 0 {
        // SAFETY: the entry's TB is of the generation the cache is
        // tagged with (entries are cleared when it changes), alive as
        // long as it is.
        unsafe { (*(e.tb as *const Tb)).add_execs(e.code) };
    }
    *e = JumpCacheEntry {
        pc,
        flags,
        code: 0,
        tb: tb as usize,
    };
}

/// Counts one more run of `tb`, a TB without code, whose cold jump-cache
/// entry in `jc` is at `index`, and returns its runs before this one.
///
/// Runs are counted in the entry (its `code` field, unused by cold
/// entries) and added to the TB every `threshold / 8` runs (at most 32)
/// and when the entry is replaced ([`fill_cold`]): a TB's memory is then
/// written only by TBs that run often, and the TB's own count, which
/// other threads read (`region_members`), lags by less than an eighth of
/// the threshold. After a host `fork` every page written is
/// copied, and a child that ran a few hundred blocks once each copied a
/// page per TB (busybox `sh` forks for every `$(...)`).
pub(crate) fn count_cold(jc: *mut JumpCache, index: usize, tb: &Tb, threshold: u32) -> u32 {
    // SAFETY: as in `fill_cold`.
    let e = unsafe { &mut (*jc).cold[index] };
    if e.tb != tb as *const Tb as usize {
        return tb.count_exec();
    }
    let before = tb.execs().saturating_add(e.code as u32);
    e.code += 1;
    if e.code >= (threshold as usize / 8).clamp(1, 32) {
        tb.add_execs(e.code);
        e.code = 0;
    }
    before
}

/// This thread's jump cache. The pointer stays valid as long as the
/// thread; it is only ever used on this thread, and each use makes a
/// reference that ends before translated code runs (whose indirect-jump
/// helper makes its own).
pub(crate) fn jump_cache() -> *mut JumpCache {
    JUMP_CACHE.with(|jc| jc.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> JumpCache {
        JumpCache {
            epoch: (0, 0),
            entries: empty_entries(),
            cold: empty_entries(),
            filled: Filled::default(),
        }
    }

    fn entry(pc: u64) -> JumpCacheEntry {
        JumpCacheEntry {
            pc,
            flags: 0,
            code: 0x1000,
            tb: 0,
        }
    }

    fn filled(jc: &JumpCache) -> usize {
        jc.entries
            .iter()
            .filter(|e| e.pc != u64::MAX && e.pc != 0)
            .count()
    }

    /// Emptying a jump cache empties every entry filled, whether it noted
    /// them one by one (a few) or not (many).
    #[test]
    fn emptying_clears_every_filled_entry() {
        for n in [0u64, 3, NOTED as u64, NOTED as u64 + 1, 1000] {
            let mut jc = cache();
            for k in 1..=n {
                let pc = k * 0x1234;
                jc.fill(jump_cache_index(pc, 0), entry(pc));
            }
            assert!(filled(&jc) > 0 || n == 0);
            jc.empty(false);
            assert_eq!(filled(&jc), 0, "{n} fills");
            assert_eq!(jc.filled.len, 0);
            assert!(!jc.filled.many);
        }
    }
}
