//! Watched code pages: detecting guest writes to guest pages that hold
//! translated code (self-modifying code, a JIT in the guest, a loader
//! reusing memory), at no cost to stores to other pages.
//!
//! # Protocol
//!
//! The translator calls [`GuestSpace::watch_code_page`] for each guest page
//! *before* it reads instructions from it. A watched page that the guest may
//! write is write-protected on the host (its host protection is the guest's
//! minus `PROT_WRITE`), so the next write to it by anyone faults or is
//! caught here:
//!
//! - a store by translated code faults on the host; the runtime sees the
//!   fault address, [`GuestSpace::is_guest_writable`] says the guest may
//!   write there (so the fault may be the watch's), and the runtime calls
//!   [`GuestSpace::release_code`] and re-executes the store through the
//!   checked path, which also copes with a page that another thread's
//!   store released in between;
//! - the emulator's own writes ([`GuestSpace::write`],
//!   [`GuestSpace::access`] for stores and atomics, [`GuestSpace::host_range`]
//!   for system-call output buffers, [`GuestSpace::write_force`]) release
//!   the pages they touch first;
//! - `munmap`, a fixed `mmap` over the page, and an `mprotect` that takes
//!   `EXEC` away release it as part of the change.
//!
//! Releasing a page unwatches it, gives it back its guest protection, and
//! then, with no lock of the space held, calls the code observer (the
//! translation cache, [`GuestSpace::set_code_observer`]) with the released
//! page numbers, which invalidates the blocks translated from them. A write
//! that caused the release happens only after the observer returns, so a
//! block translated from the old bytes is either invalidated by the
//! observer or, if its translation was still under way, refused when it is
//! inserted (the observer's bookkeeping, which the translator checks).
//!
//! A page whose guest protection lacks `WRITE` (ordinary text) needs no
//! host change to be watched; the set still records it, so that an
//! `mprotect` adding `WRITE` keeps it write-protected on the host.
//!
//! Shared mappings (`MAP_SHARED`) are the exception: another process (a
//! forked child) or a second mapping of the same file or memfd can write
//! their memory without touching this process's protection. For them the
//! guest's own synchronization counts, as on hardware: `fence.i` and
//! `riscv_flush_icache` call [`GuestSpace::release_shared_code`].

use super::*;

/// The callback [`GuestSpace::set_code_observer`] installs: called with
/// guest page numbers (guest address / [`PAGE_SIZE`]) that stopped being
/// watched; it must invalidate every translated block read from them. It
/// runs on the thread that released the pages, with no lock of the space
/// held, and may call back into the space.
pub type CodeObserver = Box<dyn Fn(&[u64]) + Send + Sync>;

/// Guest page number of guest address `addr`.
const fn page_of(addr: u64) -> u64 {
    addr / PAGE_SIZE
}

impl PageMap {
    /// True if a page of guest range `[start, end)` is watched.
    pub(super) fn watches(&self, start: u64, end: u64) -> bool {
        end > start
            && self
                .code
                .range(page_of(start)..=page_of(end - 1))
                .next()
                .is_some()
    }

    /// Unwatches the pages of `[start, end)` and returns them. The caller
    /// restores their host protection (or replaces the mapping).
    pub(super) fn unwatch(&mut self, start: u64, end: u64) -> Vec<u64> {
        if end <= start {
            return Vec::new();
        }
        let pages: Vec<u64> = self
            .code
            .range(page_of(start)..=page_of(end - 1))
            .copied()
            .collect();
        for p in &pages {
            self.code.remove(p);
        }
        pages
    }
}

impl GuestSpace {
    /// Installs the code observer (see the module doc), replacing any
    /// earlier one. The translation cache of the engine running this space
    /// installs itself here.
    pub fn set_code_observer(&self, observer: CodeObserver) {
        *self.observer.write() = Some(observer);
    }

    /// Tells the observer that `pages` are no longer watched. Called with
    /// no lock of the space held.
    pub(super) fn notify(&self, pages: &[u64]) {
        if pages.is_empty() {
            return;
        }
        if let Some(observer) = &*self.observer.read() {
            observer(pages);
        }
    }

    /// Starts watching the page that holds guest address `addr` for writes
    /// (see the module doc). Call it before reading the page's
    /// instructions. A page that is unmapped or not executable is watched
    /// too: the translator caches the fault that fetching from it gives, and
    /// mapping it or making it executable must invalidate that.
    pub fn watch_code_page(&self, addr: u64) {
        let page = page_of(addr);
        if addr >= GUEST_SPACE_SIZE || self.map.read().code.contains(&page) {
            return;
        }
        let mut map = self.map.write();
        if !map.code.insert(page) {
            return;
        }
        let Some(m) = map.lookup(addr) else {
            return;
        };
        if m.prot.contains(Prot::WRITE) {
            let start = page * PAGE_SIZE;
            // The page is mapped (checked above); a failure would leave it
            // host-writable, so writes to it would not be seen: unwatch it.
            if self
                .host_protect(start, start + PAGE_SIZE, m.prot.host() & !libc::PROT_WRITE)
                .is_err()
            {
                map.code.remove(&page);
            }
        }
    }

    /// True if guest address `addr` is mapped and the guest may write it:
    /// a host write fault there may have been caused by a watch rather
    /// than by the guest's permissions. The page need not be watched
    /// still: two threads' stores to one watched page both fault, and the
    /// first to be handled releases the page before the second asks. A
    /// caller that runs such a store again through the checked path
    /// ([`GuestSpace::access`]) gets the guest's fault if the page faults
    /// for another reason (a file page past the end of its file).
    pub fn is_guest_writable(&self, addr: u64) -> bool {
        self.map
            .read()
            .lookup(addr)
            .is_some_and(|m| m.prot.contains(Prot::WRITE))
    }

    /// Stops watching the pages of guest range `[addr, addr + len)`,
    /// restores their guest protection on the host, and has the observer
    /// invalidate the code translated from them. Returns true if any page
    /// was watched.
    pub fn release_code(&self, addr: u64, len: u64) -> bool {
        let start = page_align_down(addr);
        let end = addr.saturating_add(len.max(1)).min(GUEST_SPACE_SIZE);
        let pages = {
            let mut map = self.map.write();
            let pages = map.unwatch(start, end);
            for &p in &pages {
                let a = p * PAGE_SIZE;
                if let Some(m) = map.lookup(a) {
                    if m.prot.contains(Prot::WRITE) {
                        // Mapped and host-writable before the watch; the
                        // call cannot fail for a range of ours.
                        let _ = self.host_protect(a, a + PAGE_SIZE, m.prot.host());
                    }
                }
            }
            pages
        };
        self.notify(&pages);
        !pages.is_empty()
    }

    /// Before guest `[start, end)` gets protection `prot` (the caller
    /// holds the write lock, and the page map still has the old
    /// protections): unwatches and returns the watched pages in it whose
    /// translation no longer holds, those that stop or start being
    /// executable.
    pub(super) fn unwatch_for_protect(
        &self,
        map: &mut PageMap,
        start: u64,
        end: u64,
        prot: Prot,
    ) -> Vec<u64> {
        let watched: Vec<u64> = map
            .code
            .range(page_of(start)..=page_of(end - 1))
            .copied()
            .collect();
        let mut released = Vec::new();
        for p in watched {
            let was_exec = map
                .lookup(p * PAGE_SIZE)
                .is_some_and(|m| m.prot.contains(Prot::EXEC));
            if !was_exec || !prot.contains(Prot::EXEC) {
                map.code.remove(&p);
                released.push(p);
            }
        }
        released
    }

    /// Stops watching every watched page of a shared mapping and has the
    /// observer invalidate their code (see the module doc): for `fence.i`
    /// and `riscv_flush_icache`, after which code written through another
    /// mapping of the same memory must be seen. Returns true if any page
    /// was released.
    ///
    /// Costs the smaller of the number of watched pages and the number of
    /// mapped ranges (a guest JIT calls `fence.i` after each function it
    /// writes, and may have translated code in thousands of pages).
    pub fn release_shared_code(&self) -> bool {
        let shared = Self::shared_code_pages(&self.map.read());
        let mut any = false;
        for p in shared {
            any |= self.release_code(p * PAGE_SIZE, PAGE_SIZE);
        }
        any
    }

    /// The watched pages of `map` that lie in shared mappings: through the
    /// shared ranges if there are fewer ranges than watched pages, through
    /// the watched pages otherwise (the same pages either way).
    pub(super) fn shared_code_pages(map: &PageMap) -> Vec<u64> {
        if map.ranges.len() < map.code.len() {
            map.ranges
                .iter()
                .filter(|(_, e)| e.shared)
                .flat_map(|(&start, e)| map.code.range(page_of(start)..=page_of(e.end - 1)))
                .copied()
                .collect()
        } else {
            map.code
                .iter()
                .copied()
                .filter(|&p| map.lookup(p * PAGE_SIZE).is_some_and(|m| m.shared))
                .collect()
        }
    }

    /// After guest `[start, end)` was given protection `prot` (the caller
    /// holds the write lock): write-protects on the host the pages in it
    /// that are still watched, if `prot` lets the guest write them.
    pub(super) fn rewatch(&self, map: &mut PageMap, start: u64, end: u64, prot: Prot) {
        if !prot.contains(Prot::WRITE) {
            return;
        }
        let pages: Vec<u64> = map
            .code
            .range(page_of(start)..=page_of(end - 1))
            .copied()
            .collect();
        for p in pages {
            let a = p * PAGE_SIZE;
            if self
                .host_protect(a, a + PAGE_SIZE, prot.host() & !libc::PROT_WRITE)
                .is_err()
            {
                map.code.remove(&p);
            }
        }
    }
}
