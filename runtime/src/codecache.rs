//! Executable memory for translated code, and the run counters of
//! first-tier code.
//!
//! A [`CodeArena`] hands out space from host mappings made readable,
//! writable and executable, bump-allocated and freed only as a whole (a
//! cache generation drops its arena when no vCPU can be running its code).
//! Each mapping reserves 1 GiB of address space (without committing it:
//! only pages written count in the RSS). Code is placed upwards from its
//! start; the 32-bit run counters of first-tier code are placed downwards
//! from its end, on pages of their own, so that the code reaches its
//! counter `rip`-relative (within 2 GiB) and no counter shares a cache
//! line with code (a store there would look like self-modifying code to
//! the host CPU).

use std::sync::atomic::AtomicU32;
use std::sync::Arc;

/// Bytes of address space in each host mapping of the arena.
const RESERVATION: usize = 1 << 30;

/// The mapping size tried when the host refuses [`RESERVATION`] (strict
/// overcommit accounting, or an address-space limit): 32 MiB, the
/// arena's chunk before counters lived in it.
const SMALL_RESERVATION: usize = 32 << 20;

/// Host page size assumed for keeping counters and code apart (bytes).
const HOST_PAGE: usize = 4096;

/// One host mapping of an arena; unmapped when the last reference goes
/// (its arena's, and the [`Counter`]s in it).
pub(crate) struct Mapping {
    base: *mut u8,
    size: usize,
}

// SAFETY: the mapping is plain memory owned by this value; what is
// placed in it is written under the arena's lock, and counters are atomic.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we mapped it; no code in it can run any more (the
        // generation owning its arena is unreachable, and counters are
        // only reached through their `Counter`, which holds this alive).
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.size) };
    }
}

/// A run counter of first-tier code: a `u32` in an arena's mapping,
/// which it keeps mapped.
pub(crate) struct Counter {
    map: Arc<Mapping>,
    /// Byte offset of the counter in `map`.
    offset: u32,
    /// The value it was set to when placed.
    pub(crate) start: u32,
}

impl Counter {
    /// The counter.
    pub(crate) fn get(&self) -> &AtomicU32 {
        // SAFETY: `offset` is a 4-byte aligned offset inside `map`
        // (`CodeArena::place_counted`), which `self` keeps mapped; the
        // memory is only accessed atomically.
        unsafe { &*(self.map.base.add(self.offset as usize) as *const AtomicU32) }
    }
}

/// A bump allocator over RWX host mappings.
pub(crate) struct CodeArena {
    maps: Vec<Arc<Mapping>>,
    /// Bytes of code placed in the last mapping, from its start.
    used: usize,
    /// Offset of the lowest counter placed in the last mapping (its size
    /// while it has none).
    counters: usize,
}

impl CodeArena {
    pub(crate) fn new() -> CodeArena {
        CodeArena {
            maps: Vec::new(),
            used: 0,
            counters: 0,
        }
    }

    /// Whether `len` bytes of code and `counter` bytes of counters fit in
    /// the last mapping, counters and code on pages of their own.
    fn fits(&self, len: usize, counter: usize) -> bool {
        !self.maps.is_empty()
            && self.counters >= counter
            && (self.used + len).next_multiple_of(HOST_PAGE)
                <= (self.counters - counter) / HOST_PAGE * HOST_PAGE
    }

    /// Makes sure `len` bytes of code and `counter` bytes of counters fit
    /// in the last mapping, starting a new one if not.
    fn ensure(&mut self, len: usize, counter: usize) -> Result<(), String> {
        if self.fits(len, counter) {
            return Ok(());
        }
        let least = (len + counter).next_multiple_of(HOST_PAGE) + 2 * HOST_PAGE;
        let mut last_error = None;
        let mut mapped = None;
        for size in [RESERVATION.max(least), SMALL_RESERVATION.max(least)] {
            // SAFETY: a fresh anonymous mapping; no existing memory is
            // touched.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                last_error = Some(std::io::Error::last_os_error());
                continue;
            }
            // Resident memory grows by the pages used, not by 2 MiB huge
            // pages (a host with transparent huge pages "always" would
            // otherwise fault one in for the first counter at the top).
            // Advice only: its failure changes nothing else.
            // SAFETY: our fresh mapping.
            unsafe { libc::madvise(p, size, libc::MADV_NOHUGEPAGE) };
            mapped = Some((p, size));
            break;
        }
        let Some((p, size)) = mapped else {
            return Err(format!(
                "mmap of code cache: {}",
                last_error.map_or_else(|| "refused".to_string(), |e| e.to_string())
            ));
        };
        self.maps.push(Arc::new(Mapping {
            base: p as *mut u8,
            size,
        }));
        self.used = 0;
        self.counters = size;
        Ok(())
    }

    /// Copies `code` into the last mapping (which has room for it).
    fn copy_in(&mut self, code: &[u8]) -> *const u8 {
        let base = self.maps.last().expect("a mapping was just ensured").base;
        // SAFETY: `ensure` made room: the range lies in our mapping, and
        // nothing executes it yet.
        let dst = unsafe { base.add(self.used) };
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), dst, code.len()) };
        self.used += code.len().next_multiple_of(16);
        dst
    }

    /// Copies `code` into executable memory (16-byte aligned) and returns
    /// its host address.
    ///
    /// # Errors
    /// A message if the host refuses a new mapping.
    pub(crate) fn place(&mut self, code: &[u8]) -> Result<*const u8, String> {
        self.ensure(code.len().next_multiple_of(16), 0)?;
        Ok(self.copy_in(code))
    }

    /// Places first-tier code with a new run counter, set to `start`,
    /// in the same mapping: `link(code, code address, counter address)`
    /// points the code at its counter before it is copied in. Returns
    /// the code's host address (16-byte aligned) and its counter.
    ///
    /// # Errors
    /// A message if the host refuses a new mapping, or `link` fails
    /// (it cannot, within one 1 GiB mapping).
    pub(crate) fn place_counted(
        &mut self,
        code: &mut [u8],
        start: u32,
        link: impl FnOnce(&mut [u8], usize, usize) -> bool,
    ) -> Result<(*const u8, Counter), String> {
        self.ensure(code.len().next_multiple_of(16), 4)?;
        let map = self
            .maps
            .last()
            .expect("a mapping was just ensured")
            .clone();
        let offset = self.counters - 4;
        let at = map.base as usize + self.used;
        if !link(code, at, map.base as usize + offset) {
            return Err("first-tier code out of its counter's reach".to_string());
        }
        self.counters = offset;
        let counter = Counter {
            map,
            offset: offset as u32,
            start,
        };
        counter
            .get()
            .store(start, std::sync::atomic::Ordering::Relaxed);
        Ok((self.copy_in(code), counter))
    }
}

/// A placed block's code length and host-pc -> guest-pc map, kept for
/// as long as its generation to name the guest pc of a host fault (or
/// of a first-tier fault exit). Compact: one is kept for every TB with
/// memory accesses (100,000 of them for gcc's cc1).
pub(crate) struct PlacedCode {
    /// Bytes of code.
    len: u32,
    map: PcMap,
}

/// A [`PlacedCode`]'s ranges: each range's first byte (from the start
/// of the code), and the guest pc of its instruction.
enum PcMap {
    /// Guest pcs as distances from `base` (8 bytes a range).
    Near {
        base: u64,
        ranges: Box<[(u32, i32)]>,
    },
    /// Guest pcs too far apart for that (16 bytes a range).
    Far(Box<[cranemu_backend::PcRange]>),
}

impl PlacedCode {
    /// The record of `len` bytes of code with host-pc -> guest-pc map
    /// `map` (ranges in code order, as the backend makes them).
    pub(crate) fn new(len: usize, map: &[cranemu_backend::PcRange]) -> PlacedCode {
        let base = map.first().map_or(0, |r| r.pc);
        let delta = |r: &cranemu_backend::PcRange| i32::try_from(r.pc.wrapping_sub(base) as i64);
        // (Checked first, then allocated at its size: collecting into an
        // `Option` grew the vector step by step.)
        let map = if map.iter().all(|r| delta(r).is_ok()) {
            let ranges = map
                .iter()
                .map(|r| (r.start, delta(r).unwrap_or(0)))
                .collect();
            PcMap::Near { base, ranges }
        } else {
            PcMap::Far(map.into())
        };
        PlacedCode {
            len: len as u32,
            map,
        }
    }

    /// The guest pc of host code `offset` bytes into the code, as
    /// [`cranemu_backend::guest_pc_at`] finds it (the range that holds
    /// it, else the nearest before it), if `offset` is inside the code.
    pub(crate) fn guest_pc_at(&self, offset: usize) -> Option<u64> {
        if offset >= self.len as usize {
            return None;
        }
        let offset = offset as u32;
        match &self.map {
            PcMap::Near { base, ranges } => {
                let i = ranges.partition_point(|r| r.0 <= offset);
                let (_, d) = ranges[..i].last()?;
                Some(base.wrapping_add(*d as i64 as u64))
            }
            PcMap::Far(map) => cranemu_backend::guest_pc_at(map, offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranemu_backend::PcRange;

    fn range(start: u32, pc: u64) -> PcRange {
        PcRange {
            start,
            end: start + 4,
            pc,
        }
    }

    /// A compact map answers as the backend's map does: the range that
    /// holds an offset, else the nearest before it; nothing before the
    /// first range or past the code's end.
    #[test]
    fn placed_code_maps_host_offsets_as_the_full_map_does() {
        let near = [range(10, 0x1000), range(30, 0x0ffc), range(50, 0x1010)];
        let far = [range(10, 0x1000), range(30, 0x1_0000_1000)];
        for map in [&near[..], &far[..]] {
            let placed = PlacedCode::new(80, map);
            for offset in 0..100 {
                let want = (offset < 80)
                    .then(|| cranemu_backend::guest_pc_at(map, offset as u32))
                    .flatten();
                assert_eq!(placed.guest_pc_at(offset), want, "offset {offset}");
            }
        }
        assert!(matches!(PlacedCode::new(80, &near).map, PcMap::Near { .. }));
        assert!(matches!(PlacedCode::new(80, &far).map, PcMap::Far(_)));
    }

    /// Counters are placed within reach of the code and set to their
    /// start value; code and counters never share a page.
    #[test]
    fn counters_sit_apart_from_code_in_one_mapping() {
        let mut arena = CodeArena::new();
        let mut code = vec![0x90u8; 100];
        let mut seen = (0, 0);
        let (at, counter) = arena
            .place_counted(&mut code, 7, |_, at, c| {
                seen = (at, c);
                true
            })
            .expect("placed");
        assert_eq!(at as usize, seen.0);
        assert_eq!(counter.get().load(std::sync::atomic::Ordering::Relaxed), 7);
        let (code_page, counter_page) = (seen.0 / HOST_PAGE, seen.1 / HOST_PAGE);
        assert_ne!(code_page, counter_page);
        assert!(seen.1.abs_diff(seen.0) < RESERVATION);
        // A link that fails leaves nothing placed.
        let used = arena.used;
        assert!(arena.place_counted(&mut code, 1, |_, _, _| false).is_err());
        assert_eq!(arena.used, used);
    }
}
