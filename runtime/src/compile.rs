//! Compiling hot TBs: alone, or as the head of a region of TBs that
//! loop back to it ([`region_members`], [`compile_tb`]), on the compile
//! thread (user and system mode) or on a vCPU (`-jit-threshold 0`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use cranemu_backend::{Backend, ExitSlot, Quality, RegionMember};
use cranemu_softmmu::user::PAGE_SIZE;

use crate::stats::Counters;
use crate::tbcache::{Generation, Tb};
use crate::{disassemble_host, EngineConfig, Error, Result};

/// Most guest instructions in one region (see [`compile_tb`]).
const REGION_MAX_INSNS: u32 = 512;

/// Most compile jobs waiting behind a TB for it to head a region: with
/// more, code is still warming up (start-up, or a new phase of the
/// program) and the compile thread is better spent on more TBs than on
/// larger ones. Measured (5 alternating runs, medians): with regions at
/// any backlog gcc-14's cc1 (over 10,000 hot TBs in 4 s) took 1.24x the
/// time it takes without regions; with this limit it takes the same, and
/// busybox `gzip -9` keeps the regions' gain (0.90x the time without).
const REGION_MAX_BACKLOG: usize = 2;

/// The TBs compiled with `head` as one region, `head` not included, when
/// one of them jumps back to `head` (a loop) and at most
/// [`REGION_MAX_BACKLOG`] compile jobs wait behind it (none otherwise):
/// TBs its direct exits reach, and theirs in turn (breadth first), up to
/// `config.region_tbs` TBs and [`REGION_MAX_INSNS`] guest instructions
/// in all. A member has run in the interpreter at least a quarter of the
/// JIT threshold's times (the paths the region's loops take, not their
/// error paths), lies on `head`'s guest page and was read only from
/// pages `head` was read from. So whatever invalidates a member
/// invalidates `head`, whose TB carries the region's code; and in system
/// mode, where exits to another page are looked up at run time, every
/// member is reached through the same page mapping as `head`.
fn region_members(
    config: &EngineConfig,
    generation: &Generation,
    head: &Tb,
    backlog: usize,
) -> Vec<Arc<Tb>> {
    let mut members: Vec<Arc<Tb>> = Vec::new();
    if config.region_tbs <= 1 || backlog > REGION_MAX_BACKLOG {
        return members;
    }
    let min_execs = (config.jit_threshold / 4).max(1);
    let page = head.ir.pc / PAGE_SIZE;
    let mut pcs = vec![head.ir.pc];
    let mut insns = head.ir.guest_insns;
    let mut next = 0;
    loop {
        let targets = match next {
            0 => head.ir.direct_targets(),
            i => match members.get(i - 1) {
                Some(t) => t.ir.direct_targets(),
                None => break,
            },
        };
        next += 1;
        for pc in targets {
            if pcs.len() >= config.region_tbs {
                return members;
            }
            if pcs.contains(&pc) || pc / PAGE_SIZE != page {
                continue;
            }
            let phys = head.phys - head.phys % PAGE_SIZE + pc % PAGE_SIZE;
            let Some(t) = generation.get(pc, head.ir.flags, phys) else {
                continue;
            };
            let joins = !t.is_invalid()
                && t.execs.load(Ordering::Relaxed) >= min_execs
                && insns + t.ir.guest_insns <= REGION_MAX_INSNS
                && t.pages().iter().all(|p| head.pages().contains(p));
            if joins {
                insns += t.ir.guest_insns;
                pcs.push(pc);
                members.push(t);
            }
        }
    }
    // Only a loop back to the head pays for the larger compile: straight
    // paths run once per entry, and their TBs chain as well alone.
    let loops = members
        .iter()
        .any(|t| t.ir.direct_targets().contains(&head.ir.pc));
    if !loops {
        members.clear();
    }
    members
}

/// Compiles `tb` with Cranelift into `generation`'s code cache and
/// publishes its code: `tb` alone, or `tb` as the head of a region with
/// the TBs [`region_members`] picks (`backlog`: compile jobs waiting
/// behind this one; `usize::MAX` for a compile on a vCPU thread, which
/// waits for it), so that direct jumps between them
/// (a loop's body and its back edge) stay inside one host function. The
/// members keep their own TBs, compiled or not, for entries from
/// elsewhere. Two threads may race to compile the same TB; the loser's
/// code is left unused in the arena.
pub(crate) fn compile_tb(
    backend: &Backend,
    config: &EngineConfig,
    generation: &Generation,
    tb: &Tb,
    counters: &Counters,
    backlog: usize,
) -> Result<*const u8> {
    let t0 = Instant::now();
    let log = &config.log;
    let others = region_members(config, generation, tb, backlog);
    let tbs: Vec<&Tb> = std::iter::once(tb)
        .chain(others.iter().map(|t| &**t))
        .collect();
    let slot_ptrs: Vec<Vec<ExitSlot>> = tbs
        .iter()
        .map(|t| t.slots.iter().map(|s| &s.target as ExitSlot).collect())
        .collect();
    let members: Vec<RegionMember<'_>> = tbs
        .iter()
        .zip(&slot_ptrs)
        .map(|(t, slots)| RegionMember {
            block: &t.ir,
            slots,
        })
        .collect();
    // Loops (a region, or a TB that jumps to itself) get Cranelift's
    // optimizations, and so does all code while the compile thread keeps
    // up; other code compiles quickly while code warms up (or a vCPU
    // waits for it), when compile throughput counts most. A loop that
    // cannot be a region (it leaves the page) is then optimized once the
    // queue is short.
    let calm = backlog <= REGION_MAX_BACKLOG;
    let quality = if calm || !others.is_empty() || tb.ir.direct_targets().contains(&tb.ir.pc) {
        Quality::Optimized
    } else {
        config.straight_quality
    };
    let compiled = backend
        .compile_region(&members, log.out_asm, quality)
        .map_err(|e| Error::Codegen(e.to_string()))?;
    let placed = generation.place(&compiled).map_err(Error::Host)?;
    let code = tb.publish(placed, compiled.code.len());
    if code != placed {
        Counters::bump(&counters.races);
    } else if let Some(perf) = &log.perfmap {
        perf.record(placed, compiled.code.len(), tb.ir.pc);
    }
    for t in &others {
        t.set_in_region();
    }
    if log.out_asm {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = write!(
            out,
            "OUT: {:#x} [size={}] host {:p}",
            tb.ir.pc,
            compiled.code.len(),
            placed
        );
        if !others.is_empty() {
            let pcs: Vec<String> = others.iter().map(|t| format!("{:#x}", t.ir.pc)).collect();
            let _ = write!(out, " region with {}", pcs.join(", "));
        }
        out.push('\n');
        out.push_str(&disassemble_host(&compiled.code, placed as u64));
        out.push('\n');
        log.write(&out);
    }
    let insns: u64 = tbs.iter().map(|t| u64::from(t.ir.guest_insns)).sum();
    Counters::bump(&counters.compiled_blocks);
    Counters::add(&counters.region_members, others.len() as u64);
    Counters::add(&counters.compiled_insns, insns);
    Counters::add(&counters.codegen_ns, t0.elapsed().as_nanos() as u64);
    Counters::add(&counters.code_bytes, compiled.code.len() as u64);
    Ok(code)
}
