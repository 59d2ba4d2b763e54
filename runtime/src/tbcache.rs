//! The translation cache that every vCPU thread shares: translated blocks
//! (TBs) by (pc, TB flags), the per-page index of TBs, chaining and
//! unchaining, targeted invalidation, and when memory is freed.
//!
//! # Structures
//!
//! - A [`Generation`] owns TBs and the executable memory of their code: a
//!   map from (pc, flags, phys) to TB ([`crate::tbmap`]), which vCPUs read
//!   without a lock, and the TBs invalidated since the generation began
//!   (kept, not freed; see below).
//! - The [`TbCache`] holds the current generation and, under one mutex (the
//!   *index lock*), the per-page index: for each guest page, the TBs of the
//!   current generation whose instructions came from it, and the
//!   invalidation sequence number of its last invalidation.
//! - Each TB records its chaining: the exit slots of other TBs that jump
//!   straight to it (incoming) and the TB each of its own slots jumps to
//!   (outgoing). Translated code reads a slot (an atomic pointer) and
//!   tail-calls its target, or leaves to the runtime if it is null. A
//!   first-tier exit jumps to the slot's target without reading it: its
//!   `jmp` is re-pointed with the slot, under the same lock
//!   (`Slot::point`), so invariants 1 and 2 hold for it as for the slot.
//!
//! # Invariants
//!
//! 1. Only threads holding the index lock change the page index, insert
//!    into or remove from a generation's map, change a TB's links, or store
//!    a non-null target into a slot. Readers of the map and of slots take no
//!    lock.
//! 2. A slot points only at code of a TB that is valid and of the same
//!    generation: chaining checks both TBs under the index lock, and
//!    invalidating a TB nulls every slot in its incoming list under the
//!    same lock before anything else can link to it (it is marked invalid
//!    first).
//! 3. No TB or code is freed while a vCPU may run it or enter it. TB
//!    metadata (its exit slots, which code reads by address) and code live
//!    as long as their generation: an invalidated TB moves to its
//!    generation's retired list. A vCPU holds an `Arc` of the generation it
//!    runs for as long as it can be inside that generation's code or hold
//!    one of its code addresses (in its jump cache, in a local), and drops
//!    it only in the execution loop, outside translated code. This is a
//!    quiescent-state scheme: the grace period of a retired TB ends when
//!    the last vCPU leaves its generation. A generation ends when
//!    [`TbCache::flush`] replaces it: explicitly, or once the retired TBs
//!    hold more than [`RETIRED_LIMIT`] bytes, which bounds the memory a
//!    guest that keeps rewriting its code can pin.
//! 4. Jump caches are per thread and never locked. Whenever a TB is
//!    invalidated or the generation changes, the cache's *epoch* changes
//!    (after the map and slots no longer lead to the TB), and every
//!    registered vCPU is asked to leave translated code (the sync bit of its
//!    exit request). A vCPU clears its jump cache when it sees a new epoch,
//!    which it checks each time before entering translated code; an entry
//!    it filled from a lookup that raced with the invalidation is cleared
//!    on its next return to the loop, which the request forces at the next
//!    block entry. A jump cache is also tagged with the generation it was
//!    filled from: a vCPU may still run (and fill its jump cache from) an
//!    old generation after the epoch changed, and no entry may outlive the
//!    generation its code is in.
//! 5. A translation that read a page which was invalidated while it ran is
//!    not inserted: the translator watches each page before reading it
//!    ([`cranemu_softmmu::user::GuestSpace::watch_code_page`]) and records
//!    the invalidation sequence number before it starts; insertion, under
//!    the index lock, refuses the TB if any of its pages was invalidated
//!    after that number.
//!
//! Lock order: the index lock, then `current`, then a TB's `links` (only
//! with the index lock held, one at a time), then a generation's `retired`,
//! then the vCPU registry. The guest space's page-map lock is never taken
//! with the index lock held.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use cranemu_backend::PcRange;
use cranemu_frontend::CpuState;
use cranemu_softmmu::sync::{Mutex, RwLock};

use crate::codecache::{CodeArena, Counter, PlacedCode};
use crate::stats::{Counters, VcpuStats};
use crate::tbmap::{Keyed, TbMap};
use cranemu_ir::baseline::Program;

/// Bytes of retired TBs (code plus an estimate of their IR) in one
/// generation beyond which the cache starts a new generation.
pub(crate) const RETIRED_LIMIT: usize = 64 << 20;

/// One direct exit of a TB: the atomic jump target that its code reads
/// (null: leave to the runtime with this slot's address), and, for the
/// runtime, which TB and exit it is.
#[repr(C)]
pub(crate) struct Slot {
    /// The host code this exit jumps to, or null. First field: the code
    /// reads the slot's address as this pointer.
    pub(crate) target: AtomicPtr<u8>,
    /// Address of the TB that owns the slot (alive as long as the slot).
    owner: usize,
    /// The guest pc it leads to (in [`cranemu_ir::Block::direct_targets`]'s
    /// order, as the slots are). First-tier code returns the slot's
    /// address without writing `pc` (the backend's exit protocol): the
    /// execution loop sets `pc` from here.
    pub(crate) pc: u64,
    /// Index of the slot in its TB.
    index: u32,
    /// The host address of the exit's `jmp` in the owner's first-tier
    /// code (`cranemu_backend::template::chain`), or 0: set before the
    /// TB is published, pointed at `target` whenever `target` is set.
    jmp: AtomicUsize,
}

impl Slot {
    /// Points the exit at `code`, or at nothing with null: the slot that
    /// every code of the owner reads, and the owner's first-tier `jmp`.
    /// Called with the index lock held (see [`TbCache::chain`]).
    fn point(&self, code: *const u8) {
        self.target.store(code as *mut u8, Ordering::Release);
        let jmp = self.jmp.load(Ordering::Relaxed) as *const u8;
        if !jmp.is_null() {
            // SAFETY: `jmp` is an exit `jmp` of the owner's first-tier
            // code, placed in its generation's arena (writable, 16-byte
            // aligned, mapped as long as the generation), and `code` the
            // code of a TB of the same generation (chains never cross
            // generations) or null.
            // Out of the `jmp`'s reach, the exit goes through the slot.
            unsafe {
                if code.is_null() || !cranemu_backend::template::chain(jmp, code) {
                    cranemu_backend::template::unchain(jmp);
                }
            }
        }
    }
}

/// One translation block: its IR, and its host code once it is hot.
///
/// Tiering: a TB starts in the first tier ([`cranemu_ir::baseline`]) and
/// is compiled by Cranelift when it has run
/// [`crate::EngineConfig::jit_threshold`] times.
pub(crate) struct Tb {
    /// The guest virtual address of its first instruction.
    pub(crate) pc: u64,
    /// The TB flags it was translated under.
    pub(crate) flags: u64,
    /// Guest instructions it covers.
    pub(crate) guest_insns: u32,
    /// What it keeps of its block: the first tier's program or its IR,
    /// or only a hash of its guest code if it has first-tier code.
    body: Body,
    /// The address its first instruction was read from: the guest
    /// physical address in system mode, the pc again in user mode. Part
    /// of its key, so that one virtual address mapped to other code (in
    /// another address space) finds other TBs.
    pub(crate) phys: u64,
    /// Host address of its Cranelift code, or null until that is
    /// published.
    pub(crate) code: AtomicPtr<u8>,
    /// Host address of its first-tier code's entry
    /// (`cranemu_backend::template`), or null: set when the TB is built
    /// ([`Tb::new`]), in user mode, for a block that tier emits; the
    /// entry is made to jump to `code` once that is published
    /// ([`Tb::forward_first_tier`]).
    quick: AtomicPtr<u8>,
    /// Bytes from the start of its first-tier code to `quick`, the entry
    /// (exit stubs come first).
    quick_entry: u8,
    /// Bytes of host code (0 while interpreted).
    code_len: AtomicU32,
    /// Executions so far in the first tier, counted here by its loop;
    /// first-tier code counts in `packed` instead.
    execs: AtomicU32,
    /// The counter its first-tier code counts its runs in, if it has such
    /// code: down from the JIT threshold plus one, next to the code in its
    /// generation's arena ([`Generation::place_first_tier`]). Not in the
    /// TB: a TB's memory is then written only by TBs that run often, so a
    /// forked child (busybox `sh` forks for every `$(...)`) does not copy
    /// a page of TBs for each one it runs.
    packed: Option<Counter>,
    /// Entries into its compiled code, counted only by the code of a
    /// region head compiled alone while the compile thread was behind
    /// (`compile::Publish::First`): whether it is still hot when the
    /// thread has time to compile it as a region. Reset by that thread.
    pub(crate) entries: AtomicU32,
    /// Set by the vCPU that compiles the TB ([`Tb::claim_compile`]).
    compiling: AtomicBool,
    /// Set when the TB was compiled into another TB's region (see
    /// [`Tb::take_in_region`]).
    in_region: AtomicBool,
    /// Direct-exit slots, read by the code by address.
    pub(crate) slots: Box<[Slot]>,
    /// Guest page numbers its instructions were read from.
    pages: Pages,
    /// Set (under the index lock) when the TB is invalidated.
    invalid: AtomicBool,
    /// Its chaining, changed only with the index lock held.
    links: Mutex<Links>,
    /// This TB, weakly (for other TBs' link lists).
    me: Weak<Tb>,
}

impl Keyed for Tb {
    fn key(&self) -> (u64, u64, u64) {
        (self.pc, self.flags, self.phys)
    }
}

/// A TB's chaining (see the module doc).
struct Links {
    /// Exits of TBs chained to this TB: (that TB, its slot index).
    incoming: Vec<(Weak<Tb>, usize)>,
    /// For each of this TB's slots, the TB it is chained to.
    outgoing: Box<[Option<Weak<Tb>>]>,
    /// Guest pages beyond [`Tb::pages`] that its code was compiled from
    /// (its region's members'; see [`TbCache::publish_region`]): the page
    /// index lists the TB under them too. A boxed slice (no spare
    /// capacity): most TBs head no region.
    region_pages: Box<[u64]>,
}

/// A TB's guest pages, inline for up to two: a block is read from one
/// page, or two when its last instruction straddles a page boundary (it
/// ends at the end of its first page) or, in user mode, when the
/// translator looked at a branch target on another page (an if-converted
/// diamond's out-of-line side, or one it tried), so most TBs allocate
/// nothing for them.
enum Pages {
    /// `n` (1 or 2, or 0) pages.
    Inline { n: u8, pages: [u64; 2] },
    /// More (a block whose look-ahead read two other pages).
    Heap(Box<[u64]>),
}

impl Pages {
    fn new(pages: &[u64]) -> Pages {
        match *pages {
            [] => Pages::Inline {
                n: 0,
                pages: [0; 2],
            },
            [a] => Pages::Inline {
                n: 1,
                pages: [a, 0],
            },
            [a, b] => Pages::Inline {
                n: 2,
                pages: [a, b],
            },
            _ => Pages::Heap(pages.into()),
        }
    }

    fn as_slice(&self) -> &[u64] {
        match self {
            Pages::Inline { n, pages } => &pages[..usize::from(*n)],
            Pages::Heap(p) => p,
        }
    }
}

/// What a TB keeps of its block (see [`Tb::new`]).
enum Body {
    /// The hash of the guest code of a TB with first-tier code, which
    /// keeps neither its program nor its IR (`translate_at`'s hash).
    Fingerprint(u64),
    /// The first tier's program, which its loop runs until the TB is
    /// compiled, and the IR if kept. Boxed: most user-mode TBs have
    /// first-tier code, and a TB is 200 bytes without these.
    Kept(Box<Kept>),
}

/// A [`Body::Kept`]'s forms of the block.
struct Kept {
    /// The IR, if kept; otherwise the compiler translates the guest code
    /// again when the TB is hot, and compiles it only if that gives the
    /// same program from the same pages (`compile::fresh_ir`). IR was most of a large
    /// program's heap (gcc's cc1: 125 MB of 290 MB).
    ir: Option<cranemu_ir::Block>,
    /// The IR lowered for the first tier; `None` for a block beyond its
    /// limits, which the reference interpreter runs instead (its IR is
    /// then kept).
    baseline: Option<cranemu_ir::baseline::Program>,
}

impl Tb {
    /// A TB for `ir` whose first instruction was read from `phys` (see
    /// [`Tb::phys`]) and whose instructions came from guest pages `pages`
    /// (physical page numbers in system mode). The IR is kept if
    /// `keep_ir` (the caller cannot translate the code again, or needs the
    /// reference interpreter, and ran the passes it wants), or if the
    /// first tier cannot lower it (after the dead-store pass, then).
    ///
    /// With `first_tier`, the TB's first-tier program is emitted as host
    /// code too ([`cranemu_backend::template`]) if that tier emits it;
    /// the TB then keeps `code_hash`, the hash of the guest code it was
    /// translated from (`translate_at`'s), instead of the program. If the
    /// code cannot be placed (no executable memory left), the TB keeps
    /// its program and runs in the first tier's loop.
    pub(crate) fn new(
        mut ir: cranemu_ir::Block,
        phys: u64,
        pages: &[u64],
        code_hash: u64,
        keep_ir: bool,
        first_tier: Option<FirstTierCode<'_>>,
    ) -> Arc<Tb> {
        thread_local! {
            /// A program no TB kept, whose storage the next lowering on
            /// this thread reuses (most TBs keep only a code hash).
            static RECYCLED: std::cell::Cell<Option<Program>> =
                const { std::cell::Cell::new(None) };
        }
        let n = ir.direct_exits();
        let mut baseline = Program::lower_recycling(&ir, RECYCLED.take());
        let (pc, flags, guest_insns) = (ir.pc, ir.flags, ir.guest_insns);
        if baseline.is_none() && !keep_ir {
            // The reference interpreter and Cranelift take this IR as it
            // is (`compile::fresh_ir` translates only TBs without IR).
            cranemu_ir::passes::dead_state_stores(&mut ir);
        }
        let keep_ir = keep_ir || baseline.is_none();
        let tb = Arc::new_cyclic(|me: &Weak<Tb>| {
            // (Sized first: collecting the filtered iterator grew a
            // vector and then shrank it, two allocations more a TB.)
            let mut slots = Vec::with_capacity(n);
            slots.extend(
                ir.direct_targets_iter()
                    .enumerate()
                    .map(|(index, pc)| Slot {
                        target: AtomicPtr::new(std::ptr::null_mut()),
                        owner: me.as_ptr() as usize,
                        pc,
                        index: index as u32,
                        jmp: AtomicUsize::new(0),
                    }),
            );
            let slots: Box<[Slot]> = slots.into_boxed_slice();
            let ir = if keep_ir {
                // The IR lives as long as the TB: drop the slack of its
                // growth (a quarter of it on average).
                ir.insts.shrink_to_fit();
                Some(ir)
            } else {
                // Its storage serves the next translation on this thread.
                cranemu_frontend::translate::recycle_ir(std::mem::take(&mut ir.insts));
                None
            };
            let (mut quick, mut len, mut packed) = (std::ptr::null_mut(), 0, None);
            let mut quick_entry = 0;
            let emitted = first_tier
                .as_ref()
                .zip(baseline.as_ref())
                // (`compile_with` checks what the tier emits.)
                .filter(|_| ir.is_none());
            if let Some((first, prog)) = emitted {
                // The slots' addresses, on the stack for most blocks.
                let mut inline = [std::ptr::null(); 8];
                let heap: Vec<cranemu_backend::ExitSlot>;
                let slot_ptrs: &[cranemu_backend::ExitSlot] = if slots.len() <= inline.len() {
                    for (p, s) in inline.iter_mut().zip(slots.iter()) {
                        *p = &s.target;
                    }
                    &inline[..slots.len()]
                } else {
                    heap = slots.iter().map(|s| &s.target as _).collect();
                    &heap
                };
                let code = cranemu_backend::template::TemplateTb {
                    slots: slot_ptrs,
                    flags,
                };
                let start = first.threshold.saturating_add(1);
                let placed =
                    first
                        .compiler
                        .compile_with(prog, &code, |code, pc_map, layout, exit_jmps| {
                            let n = code.len();
                            // (The stubs before the entry take under 64 bytes;
                            // a longer run would leave the TB to the loop.)
                            let off = u8::try_from(layout.entry).map_err(|_| String::new())?;
                            let placed = first
                                .generation
                                .place_first_tier(code, pc_map, &layout, start);
                            placed.map(|(entry, counter)| {
                                // Where `chain` points each exit once its slot
                                // is chained.
                                let at = entry.wrapping_sub(layout.entry) as usize;
                                for (slot, &jmp) in slots.iter().zip(exit_jmps) {
                                    slot.jmp.store(at + jmp as usize, Ordering::Relaxed);
                                }
                                (entry, off, counter, n)
                            })
                        });
                // Without executable memory for it, the loop runs the TB.
                if let Some(Ok((entry, off, counter, n))) = placed {
                    quick = entry as *mut u8;
                    quick_entry = off;
                    len = n as u32;
                    packed = Some(counter);
                }
            }
            let body = match packed {
                // The code does what the loop would need the program for.
                Some(_) => Body::Fingerprint(code_hash),
                None => Body::Kept(Box::new(Kept {
                    ir,
                    baseline: baseline.take().map(|mut p| {
                        p.shrink_to_fit();
                        p
                    }),
                })),
            };
            Tb {
                slots,
                pc,
                flags,
                guest_insns,
                body,
                phys,
                code: AtomicPtr::new(std::ptr::null_mut()),
                quick: AtomicPtr::new(quick),
                quick_entry,
                code_len: AtomicU32::new(len),
                execs: AtomicU32::new(0),
                packed,
                entries: AtomicU32::new(0),
                compiling: AtomicBool::new(false),
                in_region: AtomicBool::new(false),
                pages: Pages::new(pages),
                invalid: AtomicBool::new(false),
                links: Mutex::new(Links {
                    incoming: Vec::new(),
                    outgoing: vec![None; n].into_boxed_slice(),
                    region_pages: Box::default(),
                }),
                me: me.clone(),
            }
        });
        RECYCLED.set(baseline);
        tb
    }

    /// The IR, if the TB kept it (see [`Tb::new`]).
    pub(crate) fn ir(&self) -> Option<&cranemu_ir::Block> {
        match &self.body {
            Body::Kept(k) => k.ir.as_ref(),
            Body::Fingerprint(_) => None,
        }
    }

    /// The first tier's program, if the TB kept it: it has no first-tier
    /// code, and the first tier can lower its block.
    pub(crate) fn baseline(&self) -> Option<&cranemu_ir::baseline::Program> {
        match &self.body {
            Body::Kept(k) => k.baseline.as_ref(),
            Body::Fingerprint(_) => None,
        }
    }

    /// The hash of its guest code (`translate_at`'s), if it has
    /// first-tier code (and so keeps neither the program nor the IR).
    pub(crate) fn fingerprint(&self) -> Option<u64> {
        match self.body {
            Body::Fingerprint(f) => Some(f),
            Body::Kept(_) => None,
        }
    }

    /// The guest pcs of its direct exits, in their slots' order
    /// ([`cranemu_ir::Block::direct_targets`]).
    pub(crate) fn targets(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().map(|s| s.pc)
    }

    /// The start and length in bytes of its first-tier code, if it has
    /// such code (its entry, [`Tb::entry`] until Cranelift code is
    /// published, is a little after the start).
    pub(crate) fn first_tier_code(&self) -> Option<(*const u8, usize)> {
        let q = self.quick.load(Ordering::Relaxed);
        let len = self.code_len.load(Ordering::Relaxed) as usize;
        (!q.is_null()).then(|| {
            (
                q.wrapping_sub(usize::from(self.quick_entry)) as *const u8,
                len,
            )
        })
    }

    /// Bytes of its first-tier code, if it has such code (until its
    /// Cranelift code is published; all its code's bytes after that).
    pub(crate) fn first_tier_len(&self) -> Option<usize> {
        self.first_tier_code().map(|(_, len)| len)
    }

    /// Whether running the TB in the first tier ([`Tb::run_cold`]) may
    /// use the host's float environment, which the caller must then set up.
    pub(crate) fn cold_needs_fp_env(&self, reference: bool) -> bool {
        match self.baseline() {
            Some(prog) if !reference || self.ir().is_none() => prog.needs_fp_env(),
            _ => true,
        }
    }

    /// Runs the TB once in the first tier: its program, or its IR in the
    /// reference interpreter if the first tier could not lower it or
    /// `reference` asks for it (and the IR was kept; see [`Tb::new`]).
    ///
    /// # Safety
    /// As [`cranemu_ir::interp::run`]: `state` is a `CpuState`'s bytes,
    /// and `helpers` the translator's helper table.
    pub(crate) unsafe fn run_cold(
        &self,
        reference: bool,
        state: &mut [u8],
        mem: &mut dyn cranemu_ir::interp::Memory,
        helpers: &[cranemu_ir::interp::HelperFn],
        vals: &mut cranemu_ir::baseline::Values,
    ) -> cranemu_ir::interp::Outcome {
        // SAFETY (both calls): the caller's contract, passed on.
        let ir = self.ir().filter(|_| reference || self.baseline().is_none());
        match (ir, self.baseline()) {
            (Some(ir), _) => unsafe { cranemu_ir::interp::run(ir, state, mem, helpers) },
            (None, Some(prog)) => unsafe {
                cranemu_ir::baseline::run(prog, state, mem, helpers, vals)
            },
            // Not reached: `Tb::new` keeps the IR of a block without a
            // program.
            (None, None) => cranemu_ir::interp::Outcome::Exit {
                pc: self.pc,
                flush: false,
            },
        }
    }

    /// True for the first caller only: that vCPU compiles the TB, and
    /// every other one keeps interpreting it until the code is published
    /// (so no two compile it, and none waits for another's compile).
    pub(crate) fn claim_compile(&self) -> bool {
        // A load first: a claimed TB is run many times before its code is
        // published, and the swap is a locked instruction.
        !self.compiling.load(Ordering::Acquire) && !self.compiling.swap(true, Ordering::AcqRel)
    }

    /// Executions counted so far in the first tier: by its loop in
    /// `execs`, or by its first-tier code, down, in `packed`.
    pub(crate) fn execs(&self) -> u32 {
        match &self.packed {
            Some(c) => c.start.wrapping_sub(c.get().load(Ordering::Relaxed)),
            None => self.execs.load(Ordering::Relaxed),
        }
    }

    /// Sets the executions counted so far to `n` (see [`Tb::execs`]).
    fn set_execs(&self, n: u32) {
        match &self.packed {
            Some(c) => c.get().store(c.start.wrapping_sub(n), Ordering::Relaxed),
            None => self.execs.store(n, Ordering::Relaxed),
        }
    }

    /// Adds `n` executions counted elsewhere (a jump-cache entry's). Not
    /// a locked add, as in [`Tb::count_exec`].
    pub(crate) fn add_execs(&self, n: usize) {
        let k = u32::try_from(n).unwrap_or(u32::MAX);
        self.set_execs(self.execs().saturating_add(k));
    }

    /// Counts one more execution in the first tier and returns the count
    /// before it. Not a locked increment: vCPUs running the TB at once may
    /// lose counts, which only delays its compile a little.
    pub(crate) fn count_exec(&self) -> u32 {
        let n = self.execs();
        self.set_execs(n.saturating_add(1));
        n
    }

    /// Makes its first-tier code, if any, jump straight to `code` (its
    /// newly published Cranelift code): entries that still name the
    /// first-tier code (chained slots not yet re-pointed, jump caches not
    /// yet refreshed) then run the better code. If `code` is out of the
    /// entry's reach (in another 1 GiB mapping), the first-tier code
    /// stays as it was: still right, only slower, until every way to it
    /// is re-pointed.
    fn forward_first_tier(&self, code: *const u8) {
        let q = self.quick.load(Ordering::Acquire);
        if !q.is_null() {
            // SAFETY: `q` is the entry of this TB's first-tier code,
            // placed 16-byte aligned in its generation's RWX arena,
            // which outlives the TB's use; `code` is this TB's Cranelift
            // code, which takes the same registers at entry.
            unsafe { cranemu_backend::template::forward(q, code) };
        }
    }

    /// Notes that the TB's code is now part of another TB's region.
    pub(crate) fn set_in_region(&self) {
        self.in_region.store(true, Ordering::Release);
    }

    /// Whether the TB was compiled into a region since the last call. A
    /// queued compile of such a TB is dropped once (and its claim given
    /// back): inside the region it runs without a dispatch, and only if it
    /// is still entered from elsewhere, and so interpreted again, is it
    /// queued and compiled on its own.
    pub(crate) fn take_in_region(&self) -> bool {
        self.in_region.swap(false, Ordering::AcqRel)
    }

    /// A new `Arc` of this TB (alive: its generation holds one).
    pub(crate) fn arc(&self) -> Arc<Tb> {
        self.me.upgrade().expect("a TB of a live generation")
    }

    /// Gives back a claim of [`Tb::claim_compile`] that could not be
    /// queued (or whose compile was dropped), so that a later run claims
    /// the TB again: the first tier's loop asks at its next run; the
    /// first tier's code asks only when its count reaches the threshold,
    /// so its count starts over.
    pub(crate) fn unclaim_compile(&self) {
        if self.packed.is_some() {
            self.set_execs(0);
        }
        self.compiling.store(false, Ordering::Release);
    }

    /// The guest page numbers its instructions were read from (physical
    /// in system mode).
    pub(crate) fn pages(&self) -> &[u64] {
        self.pages.as_slice()
    }

    /// Whether the TB was invalidated (it is in no map any more, and its
    /// code, if any, is never entered again).
    pub(crate) fn is_invalid(&self) -> bool {
        self.invalid.load(Ordering::Acquire)
    }

    /// Its host code, if compiled.
    pub(crate) fn code(&self) -> Option<*const u8> {
        let c = self.code.load(Ordering::Acquire);
        (!c.is_null()).then_some(c as *const u8)
    }

    /// The code to enter it by: its Cranelift code, else its first-tier
    /// code, if it has either.
    pub(crate) fn entry(&self) -> Option<*const u8> {
        self.code().or_else(|| {
            let q = self.quick.load(Ordering::Acquire);
            (!q.is_null()).then_some(q as *const u8)
        })
    }

    /// Publishes `code` (`len` bytes) as this TB's code unless another
    /// thread did first; returns the code that won.
    pub(crate) fn publish(&self, code: *const u8, len: usize) -> *const u8 {
        match self.code.compare_exchange(
            std::ptr::null_mut(),
            code as *mut u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.code_len.fetch_add(len as u32, Ordering::Relaxed);
                code
            }
            Err(winner) => winner,
        }
    }

    /// Bytes this TB holds on to (code, and a rough size of its IR).
    fn footprint(&self) -> usize {
        self.code_len.load(Ordering::Relaxed) as usize
            + self.ir().map_or(0, |ir| ir.insts.len() * 32)
            + self.baseline().map_or(0, |b| b.footprint())
            + 256
    }
}

/// What [`Tb::new`] emits a TB's first-tier code with: the emitter, the
/// generation that takes the code, and the JIT threshold the code counts
/// to.
pub(crate) struct FirstTierCode<'a> {
    pub(crate) compiler: &'a cranemu_backend::template::Compiler,
    pub(crate) generation: &'a Generation,
    pub(crate) threshold: u32,
}

/// One generation of the translation cache (see the module doc).
pub(crate) struct Generation {
    /// Unique among all generations of all caches: jump caches are tagged
    /// with it (with the epoch), since their entries point into it.
    pub(crate) id: u64,
    /// Valid TBs by (pc, flags, phys); readers take no lock.
    tbs: TbMap<Tb>,
    /// TBs invalidated in this generation, kept until it ends.
    retired: Mutex<Vec<Arc<Tb>>>,
    arena: Mutex<CodeArena>,
    /// Host code start -> (code length, host-pc -> guest-pc map) of every
    /// block placed in `arena`, to name the guest pc of a host fault.
    code_index: RwLock<BTreeMap<usize, PlacedCode>>,
    /// The entry trampoline, placed in this generation's arena.
    pub(crate) trampoline: *const u8,
}

// SAFETY: `trampoline` points into `arena`, immutable once placed; all
// else is behind locks or atomic.
unsafe impl Send for Generation {}
// SAFETY: as above.
unsafe impl Sync for Generation {}

impl Generation {
    /// A generation with an empty map and `arena`, whose entry trampoline is
    /// at `trampoline` (placed in `arena`).
    pub(crate) fn new(arena: CodeArena, trampoline: *const u8) -> Generation {
        Generation {
            id: NEXT_EPOCH.fetch_add(1, Ordering::Relaxed),
            tbs: TbMap::new(),
            retired: Mutex::new(Vec::new()),
            arena: Mutex::new(arena),
            code_index: RwLock::new(BTreeMap::new()),
            trampoline,
        }
    }

    /// The TB for (`pc`, `flags`, `phys`), if any. Lock-free.
    pub(crate) fn get(&self, pc: u64, flags: u64, phys: u64) -> Option<Arc<Tb>> {
        self.tbs.get(pc, flags, phys)
    }

    /// [`Generation::get`] without taking a reference count (two locked
    /// instructions on the execution loop's path): the TB stays alive as
    /// long as this generation, which the caller holds (invariant 3).
    pub(crate) fn get_ptr(&self, pc: u64, flags: u64, phys: u64) -> Option<*const Tb> {
        self.tbs.get_ptr(pc, flags, phys)
    }

    /// Copies compiled code into this generation's code memory and records
    /// its host-pc -> guest-pc map.
    pub(crate) fn place(
        &self,
        compiled: &cranemu_backend::CompiledBlock,
    ) -> Result<*const u8, String> {
        self.place_parts(&compiled.code, &compiled.pc_map)
    }

    /// [`Generation::place`] of `code` with its host-pc -> guest-pc map
    /// `pc_map`.
    pub(crate) fn place_parts(&self, code: &[u8], pc_map: &[PcRange]) -> Result<*const u8, String> {
        let placed = self.arena.lock().place(code)?;
        self.index_code(placed, code.len(), pc_map);
        Ok(placed)
    }

    /// Records the host-pc -> guest-pc map of `len` bytes of code placed
    /// at `placed`, unless it is empty (no guest memory access, so no
    /// host fault to resolve).
    fn index_code(&self, placed: *const u8, len: usize, pc_map: &[PcRange]) {
        if !pc_map.is_empty() {
            self.code_index
                .write()
                .insert(placed as usize, PlacedCode::new(len, pc_map));
        }
    }

    /// Places a block's first-tier code (`cranemu_backend::template`)
    /// with a new run counter set to `start`, as [`Generation::place_parts`]
    /// places other code, and points the code at the counter. Returns the
    /// code's entry and its counter.
    pub(crate) fn place_first_tier(
        &self,
        code: &mut [u8],
        pc_map: &[PcRange],
        layout: &cranemu_backend::template::TemplateLayout,
        start: u32,
    ) -> Result<(*const u8, Counter), String> {
        let (placed, counter) =
            self.arena
                .lock()
                .place_counted(code, start, |code, at, counter| {
                    cranemu_backend::template::link_counter(code, layout, at, counter)
                })?;
        self.index_code(placed, code.len(), pc_map);
        // SAFETY: `layout.entry` is inside the code just placed.
        Ok((unsafe { placed.add(layout.entry) }, counter))
    }

    /// After a host fault in translated code (`cpu.fault_host_pc` set by
    /// the fault handler), sets `cpu.pc` to the guest instruction that the
    /// faulting host instruction belongs to.
    pub(crate) fn resolve_fault_pc(&self, cpu: &mut CpuState) {
        let host_pc = std::mem::take(&mut cpu.fault_host_pc) as usize;
        if host_pc == 0 {
            return;
        }
        let index = self.code_index.read();
        if let Some((&start, placed)) = index.range(..=host_pc).next_back() {
            if let Some(pc) = placed.guest_pc_at(host_pc - start) {
                cpu.pc = pc;
            }
        }
    }
}

/// Per-page index state (see the module doc).
#[derive(Default)]
struct Page {
    /// TBs of the current generation read from this page.
    tbs: Vec<Arc<Tb>>,
    /// Invalidation sequence number of the page's last invalidation.
    last_invalidation: u64,
}

/// What the index lock protects.
#[derive(Default)]
struct Index {
    pages: HashMap<u64, Page>,
    /// Footprint of the current generation's retired TBs, in bytes.
    retired_bytes: usize,
}

/// Why [`TbCache::insert`] refused a TB.
#[derive(Debug)]
pub(crate) enum Stale {
    /// A page it was read from was invalidated during its translation.
    Page,
    /// The cache moved to a new generation during its translation.
    Generation,
}

/// Globally unique jump-cache epochs (see invariant 4) and generation ids,
/// so that a thread that runs several engines one after another never
/// keeps entries of another engine.
static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// Unique ids of caches, for the per-thread counters.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's counters and the id of the cache they belong to.
    static THREAD_COUNTERS: std::cell::RefCell<Option<(u64, Arc<Counters>)>> =
        const { std::cell::RefCell::new(None) };
}

/// The cache shared by the vCPUs of one engine (see the module doc).
pub(crate) struct TbCache {
    id: u64,
    current: RwLock<Arc<Generation>>,
    index: Mutex<Index>,
    /// Page invalidations so far (the invalidation sequence number).
    seq: AtomicU64,
    /// The current jump-cache epoch.
    epoch: AtomicU64,
    /// Set when Cranelift code was published for a TB that had
    /// first-tier code: jump caches may still name the old code (which
    /// forwards to the new, one jump more) until the epoch moves
    /// ([`TbCache::refresh_jump_caches`]).
    forwarding: AtomicBool,
    /// The entry trampoline's code, placed at the start of each
    /// generation's arena.
    trampoline: Vec<u8>,
    /// The vCPUs that must be kicked when the cache changes: addresses of
    /// their `CpuState`s.
    vcpus: Mutex<Vec<usize>>,
    /// The counters of every thread that ran or changed this cache, with
    /// its host thread id.
    threads: Mutex<Vec<(i32, Arc<Counters>)>>,
}

impl TbCache {
    /// A cache with an empty first generation; `trampoline` is the code of
    /// the entry trampoline (position-independent).
    ///
    /// # Errors
    /// A message if executable memory cannot be mapped.
    pub(crate) fn new(trampoline: Vec<u8>) -> Result<TbCache, String> {
        let generation = Self::new_generation(&trampoline)?;
        Ok(TbCache {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            current: RwLock::new(Arc::new(generation)),
            index: Mutex::new(Index::default()),
            seq: AtomicU64::new(0),
            epoch: AtomicU64::new(NEXT_EPOCH.fetch_add(1, Ordering::Relaxed)),
            forwarding: AtomicBool::new(false),
            trampoline,
            vcpus: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
        })
    }

    fn new_generation(trampoline: &[u8]) -> Result<Generation, String> {
        let mut arena = CodeArena::new();
        let t = arena.place(trampoline)?;
        Ok(Generation::new(arena, t))
    }

    /// The calling thread's counters for this cache (created and
    /// registered on its first call).
    pub(crate) fn thread_counters(&self) -> Arc<Counters> {
        THREAD_COUNTERS.with(|t| {
            let mut t = t.borrow_mut();
            match &*t {
                Some((id, c)) if *id == self.id => c.clone(),
                _ => {
                    let c = Arc::new(Counters::default());
                    // SAFETY: gettid takes no arguments and cannot fail.
                    let tid = unsafe { libc::gettid() };
                    self.threads.lock().push((tid, c.clone()));
                    *t = Some((self.id, c.clone()));
                    c
                }
            }
        })
    }

    /// Snapshots of every thread's counters, in the order the threads
    /// first used the cache.
    pub(crate) fn thread_stats(&self) -> Vec<VcpuStats> {
        self.threads
            .lock()
            .iter()
            .map(|(tid, c)| VcpuStats {
                tid: *tid,
                stats: c.snapshot(),
            })
            .collect()
    }

    /// Replaces the current generation with an empty one: every TB is
    /// dropped once no vCPU runs the old generation any more.
    ///
    /// # Errors
    /// A message if executable memory cannot be mapped (nothing changes).
    pub(crate) fn flush(&self, counters: &Counters) -> Result<(), String> {
        let generation = Arc::new(Self::new_generation(&self.trampoline)?);
        let mut index = self.index.lock();
        for page in index.pages.values_mut() {
            page.tbs.clear();
        }
        index.retired_bytes = 0;
        *self.current.write() = generation;
        self.new_epoch();
        drop(index);
        Counters::bump(&counters.flushes);
        self.kick_all(false);
        Ok(())
    }

    /// Starts a new jump-cache epoch (invariant 4).
    fn new_epoch(&self) {
        self.epoch.store(
            NEXT_EPOCH.fetch_add(1, Ordering::Relaxed),
            Ordering::Release,
        );
    }

    /// Registers the vCPU whose state is at `cpu` for kicks.
    pub(crate) fn register(&self, cpu: usize) {
        self.vcpus.lock().push(cpu);
    }

    /// Undoes [`TbCache::register`].
    pub(crate) fn unregister(&self, cpu: usize) {
        let mut v = self.vcpus.lock();
        if let Some(i) = v.iter().position(|&c| c == cpu) {
            v.swap_remove(i);
        }
    }

    /// Asks every registered vCPU to leave translated code at its next
    /// block entry: with `external`, its run returns to its caller;
    /// otherwise it only resynchronizes with the cache (invariant 4).
    pub(crate) fn kick_all(&self, external: bool) {
        for &c in self.vcpus.lock().iter() {
            // SAFETY: registered states stay alive until unregistered (the
            // engine's `register_vcpu` contract); `exit_request` is an
            // atomic any thread may set.
            let cpu = unsafe { &*(c as *const CpuState) };
            if external {
                cpu.request_exit();
            } else {
                cpu.request_sync();
            }
        }
    }

    /// Runs `f` with the index lock, the current generation's locks and
    /// the registries held (for a host `fork()`; see
    /// [`crate::Engine::quiesced`]).
    pub(crate) fn quiesced<R>(&self, f: impl FnOnce() -> R) -> R {
        let index = self.index.lock();
        let current = self.current.write();
        let retired = current.retired.lock();
        let code_index = current.code_index.write();
        let arena = current.arena.lock();
        let vcpus = self.vcpus.lock();
        let threads = self.threads.lock();
        let r = f();
        drop((threads, vcpus, arena, code_index, retired));
        drop(current);
        drop(index);
        r
    }

    /// The current generation.
    pub(crate) fn current(&self) -> Arc<Generation> {
        self.current.read().clone()
    }

    /// True if `generation` is still the current one.
    pub(crate) fn is_current(&self, generation: &Arc<Generation>) -> bool {
        Arc::ptr_eq(generation, &self.current.read())
    }

    /// The current jump-cache epoch (see invariant 4).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The invalidation sequence number, read before a translation starts
    /// (see invariant 5).
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Inserts `tb`, translated in `generation` after invalidation sequence
    /// number `seq`, into the map and the page index. If another thread
    /// inserted a TB for the same (pc, flags) first, returns that one (and
    /// counts a race in `counters`).
    ///
    /// # Errors
    /// [`Stale`] if `tb` must not be used (invariant 5), or the generation
    /// is no longer current.
    pub(crate) fn insert(
        &self,
        generation: &Arc<Generation>,
        tb: Arc<Tb>,
        seq: u64,
        counters: &Counters,
    ) -> Result<Arc<Tb>, Stale> {
        let mut index = self.index.lock();
        if !self.is_current(generation) {
            return Err(Stale::Generation);
        }
        if tb.pages().iter().any(|p| {
            index
                .pages
                .get(p)
                .is_some_and(|page| page.last_invalidation > seq)
        }) {
            // Its first-tier code stays in the arena, unused: count it
            // with the retired TBs, which bound what a generation pins.
            index.retired_bytes += tb.first_tier_len().unwrap_or(0);
            return Err(Stale::Page);
        }
        let held = generation.tbs.insert(tb.clone());
        if !Arc::ptr_eq(&held, &tb) {
            Counters::bump(&counters.races);
            index.retired_bytes += tb.first_tier_len().unwrap_or(0);
            return Ok(held);
        }
        for &p in tb.pages().iter() {
            index.pages.entry(p).or_default().tbs.push(tb.clone());
        }
        Ok(tb)
    }

    /// Chains `slot` (an exit slot of a TB of `generation`, as the code
    /// returned it) to `target`'s code, if both TBs are still valid and the
    /// slot is not chained yet.
    ///
    /// # Safety
    /// `slot` must be an exit slot of a TB of `generation`, and `target` a
    /// TB of `generation`; the caller holds `generation`.
    pub(crate) unsafe fn chain(&self, slot: *const Slot, target: *const Tb, counters: &Counters) {
        let _index = self.index.lock();
        // SAFETY: (the contract) both TBs belong to a generation the caller
        // holds, which keeps them allocated (invariant 3).
        let (slot, target) = unsafe { (&*slot, &*target) };
        // SAFETY: as above; `owner` is the address of the slot's TB.
        let owner = unsafe { &*(slot.owner as *const Tb) };
        if owner.invalid.load(Ordering::Relaxed) || target.invalid.load(Ordering::Relaxed) {
            return;
        }
        let Some(code) = target.entry() else {
            return;
        };
        {
            let mut out = owner.links.lock();
            if out.outgoing[slot.index as usize].is_some() {
                return;
            }
            out.outgoing[slot.index as usize] = Some(target.me.clone());
        }
        target
            .links
            .lock()
            .incoming
            .push((owner.me.clone(), slot.index as usize));
        slot.point(code);
        Counters::bump(&counters.chains);
    }

    /// Publishes `code` (`len` bytes), compiled for `head` as the head of
    /// a region with `members`, as `head`'s code: its first code, unless
    /// another thread published first (then nothing changes), or with
    /// `replace`, in place of the code `head` has (compiled again from the
    /// same guest code: `compile::Publish::AsRegion`).
    ///
    /// Members may come from guest pages `head` was not read from (user
    /// mode): the page index lists `head` under those pages as well, so
    /// that whatever invalidates a member invalidates the code that holds
    /// it. Checking that every member is still valid and listing `head`
    /// happen under the index lock, so no invalidation falls between.
    ///
    /// A replaced code stays in the arena, valid: a vCPU may be running
    /// it, or find it in its jump cache until it next sees the epoch
    /// change that replacing starts (invariant 4 holds for both codes:
    /// they belong to one TB); every slot chained to `head` jumps to the
    /// new code at once.
    ///
    /// False, changing nothing, if `head` or a member was invalidated or
    /// `generation` replaced meanwhile, or another thread won the race.
    pub(crate) fn publish_region(
        &self,
        generation: &Generation,
        head: &Tb,
        members: &[Arc<Tb>],
        code: *const u8,
        len: usize,
        replace: bool,
    ) -> bool {
        let mut index = self.index.lock();
        let current = std::ptr::eq(&**self.current.read(), generation);
        let invalid = |t: &Tb| t.invalid.load(Ordering::Relaxed);
        if !current || invalid(head) || members.iter().any(|t| invalid(t)) {
            return false;
        }
        if replace {
            head.code.store(code as *mut u8, Ordering::Release);
            head.code_len.fetch_add(len as u32, Ordering::Relaxed);
        } else if head.publish(code, len) != code {
            return false;
        }
        let mut links = head.links.lock();
        let mut region_pages = links.region_pages.to_vec();
        for &p in members.iter().flat_map(|t| t.pages().iter()) {
            if !head.pages().contains(&p) && !region_pages.contains(&p) {
                region_pages.push(p);
                index.pages.entry(p).or_default().tbs.push(head.arc());
            }
        }
        links.region_pages = region_pages.into_boxed_slice();
        // Slots chained to the old code (or to the first tier's, which
        // would forward) jump to the new code at once.
        Self::repoint_locked(&links, code);
        head.forward_first_tier(code);
        if replace {
            self.new_epoch();
        } else if head.first_tier_len().is_some() {
            self.note_forwarding();
        }
        true
    }

    /// Points every slot chained to `tb` at `code`, its newly published
    /// Cranelift code (they jumped to its first-tier code, which forwards
    /// to it, one jump more).
    pub(crate) fn repoint(&self, tb: &Tb, code: *const u8) {
        if tb.first_tier_len().is_some() {
            self.note_forwarding();
        }
        let _index = self.index.lock();
        if !tb.invalid.load(Ordering::Relaxed) {
            Self::repoint_locked(&tb.links.lock(), code);
            tb.forward_first_tier(code);
        }
    }

    /// Notes that jump caches may name first-tier code that now forwards
    /// to Cranelift code.
    pub(crate) fn note_forwarding(&self) {
        self.forwarding.store(true, Ordering::Relaxed);
    }

    /// Moves the epoch if code was noted as forwarding since the last
    /// call: every vCPU refills its jump cache (at its next lookup) with
    /// the code its TBs have now. The compile thread calls this when its
    /// queue runs dry, not after each compile: a refill costs each vCPU
    /// a cleared jump cache.
    pub(crate) fn refresh_jump_caches(&self) {
        if self.forwarding.swap(false, Ordering::Relaxed) {
            self.new_epoch();
        }
    }

    /// [`TbCache::repoint`] with the index lock and the TB's links held.
    fn repoint_locked(links: &Links, code: *const u8) {
        for (from, i) in links.incoming.iter() {
            if let Some(from) = from.upgrade() {
                from.slots[*i].point(code);
            }
        }
    }

    /// Invalidates every TB read from guest pages `pages` (page numbers), in
    /// every vCPU: the observer of the guest space's code watch. Safe from
    /// any thread with no engine lock held.
    pub(crate) fn invalidate_pages(&self, pages: &[u64], counters: &Counters) {
        let mut index = self.index.lock();
        let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
        let generation = self.current.read().clone();
        let mut victims: Vec<Arc<Tb>> = Vec::new();
        for &p in pages {
            let page = index.pages.entry(p).or_default();
            page.last_invalidation = seq;
            victims.append(&mut page.tbs);
        }
        Counters::bump(&counters.invalidations);
        let mut dropped = 0u64;
        for tb in victims {
            if tb.invalid.swap(true, Ordering::Relaxed) {
                continue;
            }
            let region_pages = std::mem::take(&mut tb.links.lock().region_pages);
            for p in tb.pages().iter().chain(region_pages.iter()) {
                if let Some(page) = index.pages.get_mut(p) {
                    page.tbs.retain(|t| !Arc::ptr_eq(t, &tb));
                }
            }
            generation.tbs.remove(&tb);
            Self::unlink(&tb, counters);
            index.retired_bytes += tb.footprint();
            generation.retired.lock().push(tb);
            dropped += 1;
        }
        Counters::add(&counters.invalidated_tbs, dropped);
        let full = index.retired_bytes > RETIRED_LIMIT;
        if dropped > 0 {
            self.new_epoch();
        }
        drop(index);
        if dropped > 0 {
            self.kick_all(false);
        }
        if full {
            // Invalidated TBs pin too much memory: start over. If no
            // executable memory is left for that, the old generation
            // simply goes on (it is still correct).
            let _ = self.flush(counters);
        }
    }

    /// Takes `tb` out of every chain: nulls the slots that jump to it and
    /// removes it from the incoming lists of the TBs it jumps to. Called
    /// with the index lock held, after `tb` was marked invalid.
    fn unlink(tb: &Arc<Tb>, counters: &Counters) {
        let (incoming, outgoing) = {
            let mut links = tb.links.lock();
            let outgoing = std::mem::replace(
                &mut links.outgoing,
                vec![None; tb.slots.len()].into_boxed_slice(),
            );
            (std::mem::take(&mut links.incoming), outgoing)
        };
        for (from, i) in incoming {
            if let Some(from) = from.upgrade() {
                from.slots[i].point(std::ptr::null());
                from.links.lock().outgoing[i] = None;
                Counters::bump(&counters.unlinks);
            }
        }
        let me = Arc::as_ptr(tb);
        for (i, to) in outgoing.iter().enumerate() {
            if let Some(to) = to.as_ref().and_then(Weak::upgrade) {
                to.links
                    .lock()
                    .incoming
                    .retain(|(w, j)| !(w.as_ptr() == me && *j == i));
            }
        }
    }
}
