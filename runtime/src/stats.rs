//! Translation and cache statistics (`-stats`), per vCPU and in total.
//!
//! Each vCPU thread counts into its own [`Counters`] (relaxed atomics on
//! its own cache lines: no sharing on the hot path); [`Stats`] is a
//! snapshot, and the engine's total is the sum over its vCPUs.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// Live counters of one vCPU (see the module doc).
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $( pub(crate) $name: AtomicU64, )*
        }

        /// A snapshot of translation and cache statistics, for one vCPU or
        /// for all of them. Counts are events; `_ns` fields are
        /// nanoseconds of wall time; `code_bytes` is bytes of host code.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Stats {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl Counters {
            /// A snapshot of these counters.
            pub(crate) fn snapshot(&self) -> Stats {
                Stats { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }

        impl Stats {
            /// Adds `other` field by field.
            /// Fields named `*_max_ns` (maxima) take the larger value.
            pub fn accumulate(&mut self, other: &Stats) {
                $(
                    if stringify!($name).ends_with("_max_ns") {
                        self.$name = self.$name.max(other.$name);
                    } else {
                        self.$name += other.$name;
                    }
                )*
            }

            /// Every field as (name, value), in declaration order, for
            /// printing `name=value` lists.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($name), self.$name), )* ]
            }
        }
    };
}

counters! {
    /// Blocks translated to IR.
    blocks,
    /// Guest instructions translated to IR.
    guest_insns,
    /// Blocks whose first tier runs as host code
    /// (`cranemu_backend::template`; the rest run in its loop).
    first_tier_code,
    /// Bytes of that code.
    first_tier_code_bytes,
    /// Time spent translating guest code to IR (decode, IR passes), in ns;
    /// measured only with [`crate::EngineConfig::count_insns`] or
    /// [`crate::EngineConfig::profile`] (`-stats`, `cranemu bench`).
    translate_ns,
    /// Blocks compiled to host code by Cranelift (the hot ones), each
    /// once: a TB compiled again as a region counts in
    /// `region_recompiles` instead (its instructions, code bytes and time
    /// count in the fields below).
    compiled_blocks,
    /// Guest instructions in the compiled blocks.
    compiled_insns,
    /// TBs compiled into another TB's code as members of its region
    /// (beyond the region's head, which `compiled_blocks` counts).
    region_members,
    /// Loop heads compiled alone while the compile thread was behind and
    /// compiled again as regions once it was idle (their code replaced).
    region_recompiles,
    /// Time spent in Cranelift (compile and placement), in ns.
    codegen_ns,
    /// Hot TBs queued for the compile thread.
    queued_compiles,
    /// Time queued TBs waited for the compile thread, in ns (the
    /// compile-queue latency is this over `queued_compiles`).
    queue_wait_ns,
    /// The longest time one queued TB waited for the compile thread, in
    /// ns (a maximum: [`Stats::accumulate`] keeps the larger).
    queue_wait_max_ns,
    /// Queued TBs dropped uncompiled: invalidated, flushed, compiled
    /// otherwise, or compiled into a region, while they waited.
    dropped_compiles,
    /// Bytes of host code produced.
    code_bytes,
    /// Block executions by the IR interpreter (the cold tier).
    interpreted_blocks,
    /// With [`crate::EngineConfig::profile`]: time this vCPU spent running
    /// blocks in the IR interpreter, in ns (0 without it).
    interp_ns,
    /// With [`crate::EngineConfig::profile`]: time this vCPU spent in
    /// compiled code (from entering it until it returned to the execution
    /// loop, its helper calls and inline lookups included), in ns.
    jit_ns,
    /// With [`crate::EngineConfig::profile`]: entries into compiled code
    /// from the execution loop.
    jit_entries,
    /// With [`crate::EngineConfig::count_insns`]: guest instructions this
    /// vCPU retired, added each time [`crate::Engine::run`] returns (so a
    /// reader on another thread sees them at the vCPU's next exit).
    retired_insns,
    /// Translations or compilations thrown away because another vCPU
    /// finished the same block first, or because a page they were read
    /// from was invalidated meanwhile.
    races,
    /// Runtime lookups answered by the vCPU's jump cache (translated
    /// code's own inline jump-cache probes are not counted).
    jc_hits,
    /// Runtime lookups answered by the shared map.
    map_hits,
    /// Runtime lookups that found no TB (a translation follows).
    misses,
    /// Direct exits chained to their target.
    chains,
    /// Chained exits unchained because their target was invalidated.
    unlinks,
    /// Invalidations of code pages (a write to a watched page, `munmap`,
    /// `mprotect`, a remapping).
    invalidations,
    /// TBs invalidated by them.
    invalidated_tbs,
    /// Guest stores that hit a watched code page (self-modifying code).
    smc_faults,
    /// Faults of loads made early: speculative loads of if-converted
    /// branches, and loads that register writes were deferred past
    /// (each has its code run again, translated without that from then
    /// on; see the runtime's module doc).
    early_load_faults,
    /// Whole-cache flushes (new generations).
    flushes,
    /// System mode with `-stats`: loads, stores and atomics executed by
    /// translated code; with the `slow_*` counts, the TLB hit rate.
    mem_accesses,
    /// System mode: loads that took the softmmu slow path (a TLB miss, a
    /// flagged page, MMIO, a misaligned access, or a fault).
    slow_loads,
    /// System mode: stores that took the slow path.
    slow_stores,
    /// System mode: atomics that took the slow path.
    slow_atomics,
    /// System mode: page-table walks (TLB refills, and faults).
    page_walks,
    /// System mode: device (MMIO) accesses.
    mmio_accesses,
    /// System mode: softmmu TLB flushes (`satp` writes, `sfence.vma`).
    tlb_flushes,
    /// System mode: synchronous exceptions delivered to the guest.
    exceptions,
    /// System mode: interrupts delivered to the guest.
    interrupts,
    /// System mode: instructions executed by the runtime (CSR accesses,
    /// `xret`, `wfi`, `sfence.vma`).
    system_insns,
    /// System mode: stores to RAM pages holding translated code.
    code_writes,
    /// System mode: inter-processor interrupts sent: writes of 1 to a
    /// hart's ACLINT `msip` (the `virt` machine maps no SSWI).
    ipis_sent,
    /// System mode: software interrupts (MSI, SSI) taken.
    ipis_received,
    /// System mode: times the hart slept in `wfi` (its host thread
    /// blocked until a kick or a timer deadline).
    wfi_sleeps,
    /// System mode: requests of other harts served: pages that became
    /// code there, marked not-dirty in this hart's TLB (remote TLB
    /// updates; guest `sfence.vma` shootdowns arrive as IPIs instead).
    remote_tlb_protects,
}

impl Counters {
    /// Adds one to `c`.
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds one to `c`, a counter of the calling vCPU thread's own
    /// [`Counters`] that no other thread writes: a load and a store, not
    /// a locked read-modify-write (hot paths count every block run).
    pub(crate) fn bump_own(c: &AtomicU64) {
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Adds `n` to `c`.
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Raises `c` to `n` if `n` is larger.
    pub(crate) fn max(c: &AtomicU64, n: u64) {
        c.fetch_max(n, Ordering::Relaxed);
    }
}

/// The statistics of one vCPU thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VcpuStats {
    /// The host thread id (`gettid`) of the vCPU's thread; the guest's tid
    /// in user mode.
    pub tid: i32,
    /// Its counters.
    pub stats: Stats,
}
