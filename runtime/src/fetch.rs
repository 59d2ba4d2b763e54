//! Reading user-mode guest code for translation: [`translate_at`]
//! translates a block through [`Fetch`], which checks the guest space's
//! execute permission, watches each code page for writes before it reads
//! from it (see the `tbcache` module doc, invariant 5), and hashes what
//! it reads; and [`Unspeculated`], the pcs where no load is made early
//! any more.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use cranemu_frontend::translate::{translate_block, CodeSource, TranslateOptions};
use cranemu_ir::Block;
use cranemu_softmmu::sync::RwLock;
use cranemu_softmmu::user::{GuestSpace, PAGE_SIZE};

use crate::EngineConfig;

/// User mode's guest code as the translator reads it: the guest space,
/// and the pcs where a load made early faulted.
#[derive(Clone, Copy)]
pub(crate) struct UserCode<'a> {
    pub(crate) space: &'a GuestSpace,
    pub(crate) unspeculated: &'a Unspeculated,
}

/// The guest virtual addresses where a load made early faulted: a
/// conditional branch whose if-converted sides made it speculatively
/// (the frontend's module doc, "Speculative loads"), or the start of a
/// stretch of code whose register writes were deferred past it
/// ([`cranemu_ir::passes::defer_state_stores`]). From then on neither is
/// done there: the branch is translated as a branch, the stretch keeps
/// its writes before its loads. One per guest process (its engine),
/// shared by its vCPUs and the compile thread; it only grows, by one pc
/// per such fault, and a fault takes a host signal, so it stays small.
#[derive(Debug, Default)]
pub(crate) struct Unspeculated {
    /// `pcs.len()`, read without the lock: almost every program has
    /// none.
    len: AtomicUsize,
    pcs: RwLock<HashSet<u64>>,
}

impl Unspeculated {
    /// Whether `pc` is one of them.
    pub(crate) fn contains(&self, pc: u64) -> bool {
        self.len.load(Ordering::Acquire) != 0 && self.pcs.read().contains(&pc)
    }

    /// Adds `pc`; true if it was not one of them yet.
    pub(crate) fn insert(&self, pc: u64) -> bool {
        let mut pcs = self.pcs.write();
        let new = pcs.insert(pc);
        self.len.store(pcs.len(), Ordering::Release);
        new
    }
}

/// Translates the user-mode guest code at `pc` under TB flags `flags`
/// (the block, before any IR pass: the caller runs the dead-store pass,
/// or [`compile_passes`]), watching the pages it
/// reads; the block, those pages, and a 64-bit hash of the code it read
/// (each halfword fetched, in order, and each failed fetch: the same
/// code translated again under the same flags gives the same hash; a
/// change gives another but by chance, about 2^-64, and is not meant to
/// resist a guest that searches for a collision, which would only get
/// its own changed code compiled a little early). [`Engine::translate`]
/// makes a TB of it, and the compile thread translates a TB that kept no
/// IR again with it (`compile::fresh_ir`).
pub(crate) fn translate_at(
    code: UserCode<'_>,
    config: &EngineConfig,
    pc: u64,
    flags: u64,
) -> (cranemu_frontend::translate::TranslatedBlock, Vec<u64>, u64) {
    let fetch = Fetch::new(code);
    let opts = TranslateOptions {
        max_insns: config.max_block_insns,
        count_insns: config.count_insns,
        superblocks: config.superblocks,
        list_insns: config.log.in_asm,
        if_conversion: config.if_conversion,
    };
    let t = translate_block(&fetch, pc, flags, &opts);
    (t, fetch.pages.take(), fetch.hash.get())
}

/// Translates the one guest instruction at `pc` (under TB flags
/// `flags`) to IR, reading it without watching its page: for a store
/// that wrote a watched code page, to run once on its own (the engine's
/// run loop). Translated as a block, it would watch the pages it is read
/// from again, and a store into its own page (or into the next one, which
/// the block runs on into) would fault again each time, for ever.
pub(crate) fn translate_one(
    space: &GuestSpace,
    config: &EngineConfig,
    pc: u64,
    flags: u64,
) -> Block {
    /// Reads code through the execute permission, watching nothing.
    struct Unwatched<'a>(&'a GuestSpace);
    impl CodeSource for Unwatched<'_> {
        fn fetch_u16(&self, pc: u64) -> std::result::Result<u16, u64> {
            let mut b = [0u8; 2];
            self.0
                .fetch_code(pc, &mut b)
                .map(|()| u16::from_le_bytes(b))
                .map_err(|f| f.addr)
        }
    }
    let opts = TranslateOptions {
        max_insns: 1,
        count_insns: config.count_insns,
        superblocks: false,
        list_insns: false,
        if_conversion: false,
    };
    translate_block(&Unwatched(space), pc, flags, &opts).ir
}

/// The IR passes for code that Cranelift compiles (or that runs in the
/// interpreters from kept IR): in user mode, register writes deferred
/// past loads (with [`EngineConfig::defer_state_stores`], and not in a
/// stretch from a pc in `code.unspeculated`), then the dead-store pass.
/// The first tier takes neither: it keeps its values in memory, where
/// writing a register later costs a load more and saves nothing (the
/// deferral made cc1's first-tier code 13% larger), and the dead-store
/// pass cost its translation more than it saved its code.
pub(crate) fn compile_passes(ir: &mut Block, code: UserCode<'_>, config: &EngineConfig) {
    // Deferring first: the dead-store pass may drop a write made before a
    // stretch in favour of one made in it, which would leave the state at
    // the stretch's start inexact.
    if config.defer_state_stores {
        cranemu_ir::passes::defer_state_stores(ir, |p| !code.unspeculated.contains(p));
    }
    cranemu_ir::passes::dead_state_stores(ir);
}

/// Gives back the page list that [`translate_at`] returned once its TB
/// is built, for the next translation on this thread (one allocation a
/// block less).
pub(crate) fn recycle_pages(mut pages: Vec<u64>) {
    pages.clear();
    SPARE_PAGES.set(pages);
}

/// Reads guest code through the guest space's execute permission,
/// watching each page for writes before it reads from it and recording
/// the pages (see [`tbcache`], invariant 5).
///
/// A window of [`FETCH_WINDOW`] bytes of a page is checked and copied
/// on a fetch outside the last two, and later fetches from it read the
/// copy (two, so that a translator looking ahead at a branch target and
/// coming back, as the if-conversion of diamonds does, copies each once): a block reads its code a few dozen times, and each checked read
/// takes the guest space's lock and a map lookup. (Copying the whole
/// page took 5% of python's start-up.) The copy is as good as the page:
/// a write to it after the watch makes the block stale (invariant 5)
/// whether it was read before or after.
struct Fetch<'a> {
    space: &'a GuestSpace,
    unspeculated: &'a Unspeculated,
    pages: RefCell<Vec<u64>>,
    /// The guest page number and the byte range of it last copied into
    /// `bytes`, and the range copied before that if it is of the same
    /// page (`bytes` holds the page at its own offsets, so both stay
    /// valid).
    copied: std::cell::Cell<[Option<(u64, usize, usize)>; 2]>,
    /// The hash of what was fetched so far (see [`translate_at`]).
    hash: std::cell::Cell<u64>,
    /// This thread's page buffer (see [`CODE_PAGE`]), given back on drop.
    bytes: RefCell<Option<Box<[u8; PAGE_SIZE as usize]>>>,
}

/// Bytes of guest code [`Fetch`] copies at a time (at most; not past
/// the page's end): most blocks are shorter.
const FETCH_WINDOW: usize = 256;

thread_local! {
    /// The page buffer [`Fetch`] copies code pages into, reused from
    /// block to block (allocating and zeroing one per block showed).
    static CODE_PAGE: std::cell::Cell<Option<Box<[u8; PAGE_SIZE as usize]>>> =
        const { std::cell::Cell::new(None) };
    /// The list of pages a [`Fetch`] read, given back by
    /// [`recycle_pages`] for the next one on this thread.
    static SPARE_PAGES: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
}

impl<'a> Fetch<'a> {
    fn new(code: UserCode<'a>) -> Fetch<'a> {
        let bytes = CODE_PAGE.take();
        Fetch {
            space: code.space,
            unspeculated: code.unspeculated,
            pages: RefCell::new(SPARE_PAGES.take()),
            copied: std::cell::Cell::new([None, None]),
            hash: std::cell::Cell::new(0),
            bytes: RefCell::new(bytes),
        }
    }
}

impl Drop for Fetch<'_> {
    fn drop(&mut self) {
        CODE_PAGE.set(self.bytes.get_mut().take());
    }
}

impl CodeSource for Fetch<'_> {
    fn fetch_u16(&self, pc: u64) -> std::result::Result<u16, u64> {
        let page = pc / PAGE_SIZE;
        {
            let mut pages = self.pages.borrow_mut();
            if !pages.contains(&page) {
                self.space.watch_code_page(pc);
                pages.push(page);
            }
        }
        let off = (pc % PAGE_SIZE) as usize;
        let mut buf = self.bytes.borrow_mut();
        let bytes = buf.get_or_insert_with(|| Box::new([0; PAGE_SIZE as usize]));
        // A halfword never straddles a page: pc is 2-aligned.
        let held = |c: [Option<(u64, usize, usize)>; 2]| {
            c.iter()
                .flatten()
                .any(|&(p, lo, hi)| p == page && lo <= off && off + 2 <= hi)
        };
        if !held(self.copied.get()) {
            // Permissions are per page: if the window is not executable,
            // neither are pc's bytes (and the single read below reports
            // the fault).
            let lo = off & !63;
            let hi = (lo + FETCH_WINDOW).min(PAGE_SIZE as usize);
            let window = self
                .space
                .fetch_code(page * PAGE_SIZE + lo as u64, &mut bytes[lo..hi]);
            // (A failed copy may have left part of `bytes` written: then
            // neither range is trusted.)
            let last = self.copied.get()[0].filter(|&(p, ..)| p == page);
            self.copied.set(match window {
                Ok(()) => [Some((page, lo, hi)), last],
                Err(_) => [None, None],
            });
        }
        let fetched = if held(self.copied.get()) {
            Ok(u16::from_le_bytes([bytes[off], bytes[off + 1]]))
        } else {
            let mut b = [0u8; 2];
            self.space
                .fetch_code(pc, &mut b)
                .map(|()| u16::from_le_bytes(b))
                .map_err(|f| f.addr)
        };
        // Hashed in fetch order; a failed fetch mixes in a value no
        // halfword has.
        self.mix(fetched.map_or(1 << 16, u64::from));
        fetched
    }

    fn may_speculate(&self, branch: u64) -> bool {
        if self.unspeculated.contains(branch) {
            // The same code translates to other IR now: so that the
            // compile thread does not take one for the other, the hash
            // differs too.
            self.mix(2 << 16);
            return false;
        }
        true
    }
}

impl Fetch<'_> {
    /// Mixes `x` into the hash of what was read.
    fn mix(&self, x: u64) {
        let h = (self.hash.get().rotate_left(21) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.hash.set(h);
    }
}
