//! The map from (pc, TB flags, phys) to TB that every vCPU reads on a
//! jump-cache miss: an open-addressed table whose entries hold the pc
//! next to the TB pointer, read without a lock, written by one thread at a
//! time.
//!
//! # Why not a general concurrent map
//! gcc's cc1 looks TBs up in this map about 370,000 times and inserts
//! 112,000 of them (BENCHMARKS.md, "Issue 12, fifteenth step"). A lookup
//! in a map that boxes its entries (`papaya`'s) misses the cache about
//! three times: the table's metadata, the pointer to the entry, the entry
//! with its key. Here the pc sits next to the TB pointer, so a hit costs
//! one cache line of the table and then the TB's own (which the caller
//! reads next anyway), and the table grows by one copy made by its
//! writer, with no help from readers. (Entries holding the whole key, 32
//! bytes, were no faster and took cc1 8 MiB more.)
//!
//! # Protocol
//! - An entry is 16 bytes, four to a cache line: the pc plus one (0:
//!   never used) and the TB (null once removed). The rest of the key is
//!   the TB's own ([`Keyed`]): a lookup whose pc matches reads the TB,
//!   as its caller would next anyway. Readers load the value with
//!   `Acquire`, the writer stores it with `Release` after the TB was
//!   made, so a reader sees the key of the TB it found.
//! - Removal nulls the entry's TB (a tombstone keeps its pc, so probes go
//!   on past it); inserting a key with that pc again reuses the entry.
//! - Growth builds a table twice the size from the live entries and
//!   publishes it with one `Release` store; a reader still probing the
//!   old table sees the map as it was before the growth, as if its lookup
//!   had come a little earlier (callers already tolerate a lookup that
//!   races with an insertion or an invalidation, see `tbcache`'s
//!   invariant 4).
//! - Nothing the map ever held is freed before the map: old tables and
//!   removed TBs are kept, so a reader may use what it found for as long
//!   as it borrows the map.

use std::alloc::Layout;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

use cranemu_softmmu::sync::Mutex;

/// Entries of a new map's table (512 KiB of address space, resident
/// only as it is touched).
const INITIAL_ENTRIES: usize = 1 << 15;

/// What the map keys a value by: (pc, flags, phys), fixed for the
/// value's life.
pub(crate) trait Keyed {
    /// The value's (pc, flags, phys).
    fn key(&self) -> (u64, u64, u64);
}

/// One entry: 16 bytes, four to a cache line.
#[repr(C, align(16))]
struct Entry<T> {
    /// The key's pc plus one; 0 for an entry never used. Set once.
    tag: AtomicU64,
    /// The value (`Arc::into_raw`), or null after removal.
    value: AtomicPtr<T>,
}

const _: () = assert!(std::mem::size_of::<Entry<u8>>() == 16);

/// A power-of-two array of entries, zeroed when made.
struct Table<T> {
    entries: *mut Entry<T>,
    mask: usize,
}

impl<T> Table<T> {
    fn layout(len: usize) -> Layout {
        Layout::array::<Entry<T>>(len).expect("TB map table size overflows")
    }

    /// A table of `len` (a power of two) unused entries.
    fn new(len: usize) -> Table<T> {
        debug_assert!(len.is_power_of_two());
        // SAFETY: the layout is not zero-sized (len > 0). An all-zero
        // entry is valid: atomics of zero and a null pointer.
        let entries = unsafe { std::alloc::alloc_zeroed(Self::layout(len)) } as *mut Entry<T>;
        if entries.is_null() {
            std::alloc::handle_alloc_error(Self::layout(len));
        }
        Table {
            entries,
            mask: len - 1,
        }
    }

    fn entry(&self, i: usize) -> &Entry<T> {
        // SAFETY: `i & mask` is within the `mask + 1` entries allocated.
        unsafe { &*self.entries.add(i & self.mask) }
    }

    /// The first entry to probe for a key.
    fn home(&self, pc: u64, flags: u64, phys: u64) -> usize {
        let h = (pc ^ phys.rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ flags;
        (h.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 32) as usize
    }
}

impl<T> Drop for Table<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `Table::new` with this layout.
        unsafe { std::alloc::dealloc(self.entries as *mut u8, Self::layout(self.mask + 1)) }
    }
}

/// What only the writer touches.
struct Writer<T> {
    /// Entries with a key (live ones and tombstones) in the current table.
    used: usize,
    /// Tables replaced by larger ones (readers may still be in them).
    /// Boxed: readers hold the address of the `Table` itself.
    #[allow(clippy::vec_box)]
    old: Vec<Box<Table<T>>>,
    /// Values removed from the map, kept as long as it.
    removed: Vec<Arc<T>>,
}

/// A map from (pc, flags, phys) to `Arc<T>`: lock-free lookups, writes
/// serialized by an internal lock (see the module doc).
pub(crate) struct TbMap<T> {
    table: AtomicPtr<Table<T>>,
    writer: Mutex<Writer<T>>,
}

// SAFETY: the map hands out `&T` and `Arc<T>` across threads, as a
// `Mutex<HashMap<_, Arc<T>>>` would.
unsafe impl<T: Send + Sync> Send for TbMap<T> {}
// SAFETY: as above; tables are read through atomics only.
unsafe impl<T: Send + Sync> Sync for TbMap<T> {}

impl<T: Keyed> TbMap<T> {
    /// An empty map.
    pub(crate) fn new() -> TbMap<T> {
        TbMap {
            table: AtomicPtr::new(Box::into_raw(Box::new(Table::new(INITIAL_ENTRIES)))),
            writer: Mutex::new(Writer {
                used: 0,
                old: Vec::new(),
                removed: Vec::new(),
            }),
        }
    }

    fn table(&self) -> &Table<T> {
        // SAFETY: the pointer is always a live table, replaced only by a
        // larger one while the old one is kept until the map drops.
        unsafe { &*self.table.load(Ordering::Acquire) }
    }

    /// The entries a key's probe visits, from its home on, up to the
    /// first unused one (included), with the tag they hold as loaded
    /// (`Acquire`). The sequence ends: a table is never more than half
    /// used.
    fn probe(
        table: &Table<T>,
        (pc, flags, phys): (u64, u64, u64),
    ) -> impl Iterator<Item = (&Entry<T>, u64)> {
        let mut done = false;
        (table.home(pc, flags, phys)..).map_while(move |i| {
            let e = table.entry(i);
            let tag = e.tag.load(Ordering::Acquire);
            (!std::mem::replace(&mut done, tag == 0)).then_some((e, tag))
        })
    }

    /// The value for the key, without touching its reference count: it
    /// lives at least as long as the map is borrowed. Lock-free.
    pub(crate) fn get_ptr(&self, pc: u64, flags: u64, phys: u64) -> Option<*const T> {
        let tag = pc.wrapping_add(1);
        if tag == 0 {
            return None;
        }
        Self::probe(self.table(), (pc, flags, phys)).find_map(|(e, t)| {
            if t != tag {
                return None;
            }
            let v = e.value.load(Ordering::Acquire);
            // SAFETY: a value the map holds (see `get`).
            (!v.is_null() && unsafe { (*v).key() } == (pc, flags, phys)).then_some(v as *const T)
        })
    }

    /// [`TbMap::get_ptr`] as a new reference. Lock-free.
    pub(crate) fn get(&self, pc: u64, flags: u64, phys: u64) -> Option<Arc<T>> {
        self.get_ptr(pc, flags, phys).map(|p| {
            // SAFETY: `p` came from `Arc::into_raw` and the map holds that
            // reference until it drops (removed values move to
            // `Writer::removed`), so the count is at least one.
            unsafe {
                Arc::increment_strong_count(p);
                Arc::from_raw(p)
            }
        })
    }

    /// Inserts `value` for its key unless the map has a value for it;
    /// returns the value the map holds for the key afterwards. A key
    /// whose pc is `u64::MAX` (no instruction starts there) is not
    /// stored: `value` is returned.
    pub(crate) fn insert(&self, value: Arc<T>) -> Arc<T> {
        let (pc, flags, phys) = value.key();
        let tag = pc.wrapping_add(1);
        if tag == 0 {
            return value;
        }
        let mut w = self.writer.lock();
        if let Some(winner) = self.get(pc, flags, phys) {
            return winner;
        }
        if (w.used + 1) * 2 > self.table().mask + 1 {
            self.grow(&mut w);
        }
        let raw = Arc::into_raw(value.clone()) as *mut T;
        // The first unused entry, or a tombstone of the same pc (reused).
        let (e, t) = Self::probe(self.table(), (pc, flags, phys))
            .find(|&(e, t)| t == 0 || (t == tag && e.value.load(Ordering::Relaxed).is_null()))
            .expect("a probe ends at an unused entry");
        e.value.store(raw, Ordering::Release);
        if t == 0 {
            e.tag.store(tag, Ordering::Release);
            w.used += 1;
        }
        value
    }

    /// Removes `value` (the same allocation) if the map holds it. The map
    /// keeps its reference until it drops. Returns whether it removed it.
    pub(crate) fn remove(&self, value: &Arc<T>) -> bool {
        let (pc, flags, phys) = value.key();
        let tag = pc.wrapping_add(1);
        let mut w = self.writer.lock();
        let held = Self::probe(self.table(), (pc, flags, phys)).find(|&(e, t)| {
            t == tag && std::ptr::eq(e.value.load(Ordering::Relaxed), Arc::as_ptr(value))
        });
        let Some((e, _)) = held else {
            return false;
        };
        let v = e.value.swap(std::ptr::null_mut(), Ordering::Release);
        // SAFETY: the reference `insert` leaked for this entry, now owned
        // by `removed`.
        w.removed.push(unsafe { Arc::from_raw(v) });
        true
    }

    /// Replaces the table with one holding only its live entries, twice
    /// as large unless most used entries were tombstones.
    fn grow(&self, w: &mut Writer<T>) {
        let old = self.table();
        let live = (0..=old.mask)
            .filter(|&i| !old.entry(i).value.load(Ordering::Relaxed).is_null())
            .count();
        // At most 3/8 full afterwards: twice the size when the table
        // filled with live entries, the same size when tombstones did.
        let mut len = old.mask + 1;
        while (live + 1) * 8 > len * 3 {
            len *= 2;
        }
        let new = Table::new(len);
        for i in 0..=old.mask {
            let e = old.entry(i);
            let v = e.value.load(Ordering::Relaxed);
            if v.is_null() {
                continue;
            }
            // SAFETY: a value the map holds.
            let (pc, flags, phys) = unsafe { (*v).key() };
            let mut j = new.home(pc, flags, phys);
            while new.entry(j).tag.load(Ordering::Relaxed) != 0 {
                j += 1;
            }
            let n = new.entry(j);
            n.value.store(v, Ordering::Relaxed);
            n.tag
                .store(e.tag.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        w.used = live;
        let previous = self
            .table
            .swap(Box::into_raw(Box::new(new)), Ordering::AcqRel);
        // SAFETY: `previous` came from `Box::into_raw` and is no longer
        // the current table; it is kept (readers may be in it) until the
        // map drops.
        w.old.push(unsafe { Box::from_raw(previous) });
    }
}

impl<T> Drop for TbMap<T> {
    fn drop(&mut self) {
        // SAFETY: the current table came from `Box::into_raw`; nothing
        // reads it any more (`&mut self`).
        let table = unsafe { Box::from_raw(*self.table.get_mut()) };
        for i in 0..=table.mask {
            let v = table.entry(i).value.load(Ordering::Relaxed);
            if !v.is_null() {
                // SAFETY: each live entry of the current table owns the
                // reference `insert` leaked (old tables only copy these
                // pointers, removed ones are in `removed`).
                drop(unsafe { Arc::from_raw(v) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A value with its key and a payload.
    #[derive(Debug, PartialEq)]
    struct V(u64, u64, u64, u64);

    impl Keyed for V {
        fn key(&self) -> (u64, u64, u64) {
            (self.0, self.1, self.2)
        }
    }

    fn v(pc: u64, flags: u64, phys: u64, n: u64) -> Arc<V> {
        Arc::new(V(pc, flags, phys, n))
    }

    fn payload(map: &TbMap<V>, pc: u64, flags: u64, phys: u64) -> Option<u64> {
        map.get(pc, flags, phys).map(|v| v.3)
    }

    #[test]
    fn inserts_finds_removes_and_reinserts() {
        let map = TbMap::new();
        let a = v(0x1000, 7, 0x1000, 1);
        assert!(Arc::ptr_eq(&map.insert(a.clone()), &a));
        assert_eq!(payload(&map, 0x1000, 7, 0x1000), Some(1));
        assert_eq!(payload(&map, 0x1000, 8, 0x1000), None);
        assert_eq!(payload(&map, 0x1000, 7, 0x2000), None);
        assert_eq!(payload(&map, 0x1002, 7, 0x1000), None);
        // A second insertion of the key returns the first value.
        let b = v(0x1000, 7, 0x1000, 2);
        assert!(Arc::ptr_eq(&map.insert(b.clone()), &a));
        // The same pc under other flags and in another address space.
        let f = v(0x1000, 8, 0x1000, 3);
        let p = v(0x1000, 7, 0x2000, 4);
        map.insert(f.clone());
        map.insert(p.clone());
        assert_eq!(payload(&map, 0x1000, 8, 0x1000), Some(3));
        assert_eq!(payload(&map, 0x1000, 7, 0x2000), Some(4));
        // Removal only of the value held.
        assert!(!map.remove(&b));
        assert!(map.remove(&a));
        assert_eq!(payload(&map, 0x1000, 7, 0x1000), None);
        assert!(!map.remove(&a));
        assert_eq!(payload(&map, 0x1000, 8, 0x1000), Some(3));
        // The removed value stays alive with the map.
        assert_eq!(Arc::strong_count(&a), 2);
        assert!(Arc::ptr_eq(&map.insert(b.clone()), &b));
        assert_eq!(payload(&map, 0x1000, 7, 0x1000), Some(2));
        assert!(map.remove(&f));
        assert_eq!(payload(&map, 0x1000, 7, 0x1000), Some(2));
        assert_eq!(payload(&map, 0x1000, 7, 0x2000), Some(4));
        // No instruction starts at u64::MAX: not stored.
        let c = v(u64::MAX, 0, u64::MAX, 5);
        map.insert(c.clone());
        assert_eq!(payload(&map, u64::MAX, 0, u64::MAX), None);
        drop(map);
        for x in [a, b, c, f, p] {
            assert_eq!(Arc::strong_count(&x), 1);
        }
    }

    #[test]
    fn grows_past_its_first_table_and_keeps_every_key() {
        let map = TbMap::new();
        let n = INITIAL_ENTRIES as u64 * 3;
        for i in 0..n {
            map.insert(v(i * 2, i % 3, i * 2, i));
            if i % 5 == 0 {
                assert!(map.remove(&map.get(i * 2, i % 3, i * 2).unwrap()));
            }
        }
        for i in 0..n {
            assert_eq!(
                payload(&map, i * 2, i % 3, i * 2),
                (i % 5 != 0).then_some(i),
                "key {i}"
            );
            assert_eq!(payload(&map, i * 2, (i + 1) % 3, i * 2), None);
        }
    }

    #[test]
    fn readers_see_every_value_while_the_writer_inserts_grows_and_removes() {
        // Keys below `stable` are inserted first and never removed: every
        // reader must find them throughout, across growths. Other keys
        // come and go; a reader may or may not see them, but what it sees
        // must be the value of that key.
        let map = Arc::new(TbMap::new());
        let stable = 1000u64;
        for i in 0..stable {
            map.insert(v(i * 4, 1, i * 4, i));
        }
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (map, done) = (map.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut k = r as u64;
                    while !done.load(Ordering::Relaxed) {
                        let i = k % stable;
                        // SAFETY: values live as long as the map.
                        let found = map.get_ptr(i * 4, 1, i * 4).map(|p| unsafe { (*p).3 });
                        assert_eq!(found, Some(i));
                        let j = stable + k % (INITIAL_ENTRIES as u64 * 4);
                        if let Some(x) = payload(&map, j * 4, 1, j * 4) {
                            assert_eq!(x, j);
                        }
                        k = k.wrapping_add(7919);
                    }
                })
            })
            .collect();
        for j in stable..stable + INITIAL_ENTRIES as u64 * 4 {
            let x = map.insert(v(j * 4, 1, j * 4, j));
            if j % 3 == 0 {
                map.remove(&x);
            }
        }
        done.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
    }
}
