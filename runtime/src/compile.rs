//! Compiling hot TBs: alone, or as the head of a region of the hot TBs
//! its exits lead to ([`region_members`], [`compile_tb`]), on the compile
//! thread (user and system mode) or on a vCPU (`-jit-threshold 0`).
//!
//! A TB that became hot while the compile thread was behind is compiled
//! alone at first (see [`REGION_MAX_BACKLOG`]) and, if it would head a
//! region, noted ([`wants_region`]); once the thread has nothing else
//! to do, it compiles the TB again as a region if it is still hot, and
//! the TB's new code replaces its old ([`Publish::AsRegion`],
//! `TbCache::publish_region`). Without that second compile, a program
//! whose hot loops all start at once (busybox `sha256sum`: its rounds
//! loop turns hot among its start-up code) ran them as separate TBs for
//! good.

use std::sync::Arc;
use std::time::Instant;

use cranemu_backend::{Backend, EntryCounter, ExitSlot, Quality, RegionMember};
use cranemu_ir::baseline::Program;
use cranemu_ir::Block;
use cranemu_softmmu::user::PAGE_SIZE;

use crate::compileq::CompileQueue;
use crate::fetch::UserCode;
use crate::stats::Counters;
use crate::tbcache::{Generation, Tb, TbCache};
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
pub(crate) const REGION_MAX_BACKLOG: usize = 2;

/// Whether `head`, compiled alone with `backlog` jobs waiting, would have
/// headed a region on a calm queue: then it is worth compiling again
/// ([`Publish::AsRegion`]) once the queue is empty.
pub(crate) fn wants_region(
    config: &EngineConfig,
    generation: &Generation,
    head: &Tb,
    backlog: usize,
    any_page: bool,
) -> bool {
    backlog > REGION_MAX_BACKLOG
        && backlog != usize::MAX
        && !region_members(config, generation, head, 0, any_page).is_empty()
}

/// What the compile thread compiles with (user and system mode alike).
pub(crate) struct Worker<'a> {
    pub(crate) backend: &'a Backend,
    pub(crate) config: &'a EngineConfig,
    pub(crate) cache: &'a TbCache,
    pub(crate) queue: &'a CompileQueue,
    /// User mode's guest code, to translate TBs without IR again
    /// ([`fresh_ir`]); `None` in system mode, whose TBs keep theirs.
    pub(crate) space: Option<UserCode<'a>>,
}

impl Worker<'_> {
    /// One job of [`CompileQueue::run`]: compiles `tb` (`backlog`: jobs
    /// waiting behind it) and notes it for a second compile as a region
    /// if it [`wants_region`]; or, with `recompile`, that second compile.
    pub(crate) fn job(
        &self,
        generation: &Arc<Generation>,
        tb: &Tb,
        counters: &Counters,
        backlog: usize,
        recompile: bool,
    ) -> Result<()> {
        let (b, c, s) = (self.backend, self.config, self.space);
        if recompile {
            let how = Publish::AsRegion(self.cache);
            compile_tb(b, c, generation, tb, counters, 0, s, how)?;
        } else {
            let count = wants_region(c, generation, tb, backlog, s.is_some());
            let how = Publish::First(self.cache, count);
            let code = compile_tb(b, c, generation, tb, counters, backlog, s, how)?;
            if count && code.is_some() {
                self.queue.push_recompile(&tb.arc(), generation);
            }
        }
        Ok(())
    }
}

/// Where [`compile_tb`] runs, and how it publishes its code.
pub(crate) enum Publish<'a> {
    /// The TB's first code, compiled on the vCPU thread that waits for
    /// it: the TB alone ([`Tb::publish`]).
    OnVcpu,
    /// The TB's first code, compiled on the compile thread: alone, or as
    /// a region's head (`TbCache::publish_region`); if the flag is set,
    /// code that counts its entries in [`Tb::entries`] (a TB to compile
    /// again as a region head if it stays hot: [`wants_region`]).
    First(&'a TbCache, bool),
    /// The TB has code already (compiled alone); compile it as a region
    /// head on a calm queue, and if it does head one, replace its code
    /// (`TbCache::publish_region`); otherwise do nothing.
    AsRegion(&'a TbCache),
}

/// The TBs compiled with `head` as one region, `head` not included, when
/// at most [`REGION_MAX_BACKLOG`] compile jobs wait behind it (none
/// otherwise): TBs its direct exits reach, and theirs in turn (breadth
/// first), up to `config.region_tbs` TBs and [`REGION_MAX_INSNS`] guest
/// instructions in all. A member has run in the interpreter at least a
/// quarter of the JIT threshold's times (the paths the program takes,
/// not its error paths).
///
/// A region need not be a loop. Hot straight paths gain as well: their
/// direct jumps become jumps inside one function instead of a tail call,
/// a prologue and an epilogue each. Measured against regions for loops
/// only (alternating runs, medians, BENCHMARKS.md "Issue 12, tenth
/// step"): lua5.4's benchmark took 0.87x the time, gzip -9 0.96x, 7zr
/// compressing random data 0.90x, cc1 0.97x, the rest the same. (Loops
/// only had been the rule on paper: a region that reached
/// `config.region_tbs` members formed without the check, and with it
/// applied too, 7zr took 1.04-1.06x the time.)
///
/// With `any_page` (user mode), members may lie on any guest page: the
/// region's code is published with the page index listing `head` under
/// every member's pages too (`TbCache::publish_region`), so whatever
/// invalidates a member invalidates `head`, whose TB carries the region's
/// code. Otherwise (system mode, where exits to another page are looked
/// up at run time because its mapping may change) a member lies on
/// `head`'s guest page and was read only from pages `head` was read
/// from, so it is reached through the same page mapping as `head`.
/// A hot loop that straddles a page boundary (busybox `sha256sum`'s
/// rounds) is a region in user mode only.
fn region_members(
    config: &EngineConfig,
    generation: &Generation,
    head: &Tb,
    backlog: usize,
    any_page: bool,
) -> Vec<Arc<Tb>> {
    let mut members: Vec<Arc<Tb>> = Vec::new();
    if config.region_tbs <= 1 || backlog > REGION_MAX_BACKLOG {
        return members;
    }
    let min_execs = (config.jit_threshold / 4).max(1);
    let page = head.pc / PAGE_SIZE;
    let mut pcs = vec![head.pc];
    let mut insns = head.guest_insns;
    let mut next = 0;
    loop {
        let targets = match next {
            0 => head.targets().collect::<Vec<_>>(),
            i => match members.get(i - 1) {
                Some(t) => t.targets().collect(),
                None => break,
            },
        };
        next += 1;
        for pc in targets {
            if pcs.len() >= config.region_tbs {
                return members;
            }
            if pcs.contains(&pc) || (!any_page && pc / PAGE_SIZE != page) {
                continue;
            }
            let phys = if any_page {
                pc
            } else {
                head.phys - head.phys % PAGE_SIZE + pc % PAGE_SIZE
            };
            let Some(t) = generation.get(pc, head.flags, phys) else {
                continue;
            };
            let joins = !t.is_invalid()
                && t.execs() >= min_execs
                && insns + t.guest_insns <= REGION_MAX_INSNS
                && (any_page || t.pages().iter().all(|p| head.pages().contains(p)));
            if joins {
                insns += t.guest_insns;
                pcs.push(pc);
                members.push(t);
            }
        }
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
///
/// A TB whose IR was not kept is translated again from `space` (user
/// mode; see [`fresh_ir`]). `Ok(None)` if that gave other code: the guest
/// changed or unmapped it, and the TB is (or is about to be) invalidated;
/// also, with [`Publish::AsRegion`], if no region formed or the new code
/// was not published.
#[allow(clippy::too_many_arguments)]
pub(crate) fn compile_tb(
    backend: &Backend,
    config: &EngineConfig,
    generation: &Generation,
    tb: &Tb,
    counters: &Counters,
    backlog: usize,
    space: Option<UserCode<'_>>,
    publish: Publish<'_>,
) -> Result<Option<*const u8>> {
    let t0 = Instant::now();
    let log = &config.log;
    let (cache, replace) = match publish {
        Publish::OnVcpu => (None, false),
        Publish::First(cache, _) => (Some(cache), false),
        Publish::AsRegion(cache) => (Some(cache), true),
    };
    let mut others = match (cache, replace) {
        (None, _) => Vec::new(),
        (Some(_), false) => region_members(config, generation, tb, backlog, space.is_some()),
        (Some(_), true) => region_members(config, generation, tb, 0, space.is_some()),
    };
    if replace && others.is_empty() {
        return Ok(None);
    }
    let Ok(head_ir) = fresh_ir(tb, config, space) else {
        Counters::bump(&counters.dropped_compiles);
        return Ok(None);
    };
    let mut fresh = vec![head_ir];
    others.retain(|t| match fresh_ir(t, config, space) {
        Ok(ir) => {
            fresh.push(ir);
            true
        }
        Err(()) => false,
    });
    if replace && others.is_empty() {
        // Its members' code changed: no region after all.
        return Ok(None);
    }
    let tbs: Vec<&Tb> = std::iter::once(tb)
        .chain(others.iter().map(|t| &**t))
        .collect();
    let slot_ptrs: Vec<Vec<ExitSlot>> = tbs
        .iter()
        .map(|t| t.slots.iter().map(|s| &s.target as ExitSlot).collect())
        .collect();
    let mut members: Vec<RegionMember<'_>> = Vec::with_capacity(tbs.len());
    for ((t, ir), slots) in tbs.iter().zip(&fresh).zip(&slot_ptrs) {
        // `fresh_ir` gave either a new IR or found the kept one.
        let Some(block) = ir.as_ref().or(t.ir()) else {
            return Ok(None);
        };
        members.push(RegionMember { block, slots });
    }
    // Regions and TBs that jump to themselves get Cranelift's
    // optimizations, and so does all code while the compile thread keeps
    // up; other code compiles quickly while code warms up (or a vCPU
    // waits for it), when compile throughput counts most. A loop that
    // cannot be a region (in system mode, it leaves the page) is then
    // optimized once the queue is short.
    let calm = backlog <= REGION_MAX_BACKLOG;
    let quality = if calm || !others.is_empty() || tb.targets().any(|p| p == tb.pc) {
        Quality::Optimized
    } else {
        config.straight_quality
    };
    let counter = match publish {
        Publish::First(_, true) => Some(&tb.entries as EntryCounter),
        _ => None,
    };
    let compiled = backend
        .compile_region(&members, log.out_asm, quality, counter)
        .map_err(|e| Error::Codegen(e.to_string()))?;
    let placed = generation.place(&compiled).map_err(Error::Host)?;
    let len = compiled.code.len();
    let code = match cache {
        Some(cache) if !others.is_empty() => {
            if cache.publish_region(generation, tb, &others, placed, len, replace) {
                placed
            } else if let (false, Some(code)) = (replace, tb.code()) {
                // Another thread's code won.
                code
            } else {
                // A member (or the TB) was invalidated meanwhile: the
                // TB may be queued again when it runs.
                if !replace {
                    tb.unclaim_compile();
                }
                Counters::bump(&counters.dropped_compiles);
                return Ok(None);
            }
        }
        _ => {
            let code = tb.publish(placed, len);
            if let (Some(cache), true) = (cache, code == placed) {
                cache.repoint(tb, code);
            }
            code
        }
    };
    if replace {
        Counters::bump(&counters.region_recompiles);
    }
    if code != placed {
        Counters::bump(&counters.races);
    } else if let Some(perf) = &log.perfmap {
        perf.record(placed, compiled.code.len(), tb.pc, false);
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
            tb.pc,
            compiled.code.len(),
            placed
        );
        if !others.is_empty() {
            let pcs: Vec<String> = others.iter().map(|t| format!("{:#x}", t.pc)).collect();
            let _ = write!(out, " region with {}", pcs.join(", "));
        }
        out.push('\n');
        out.push_str(&disassemble_host(&compiled.code, placed as u64));
        out.push('\n');
        log.write(&out);
    }
    let insns: u64 = tbs.iter().map(|t| u64::from(t.guest_insns)).sum();
    if !replace {
        // A TB compiled again as a region counts in `region_recompiles`.
        Counters::bump(&counters.compiled_blocks);
    }
    Counters::add(&counters.region_members, others.len() as u64);
    Counters::add(&counters.compiled_insns, insns);
    Counters::add(&counters.codegen_ns, t0.elapsed().as_nanos() as u64);
    Counters::add(&counters.code_bytes, compiled.code.len() as u64);
    Ok(Some(code))
}

/// The IR to compile `t` from, when it did not keep its own
/// (`Ok(None)`: use [`Tb::ir`]): its guest code translated again from
/// `space` (user mode), if that reads the same pages and either the same
/// code (the code hash that a TB with first-tier code keeps,
/// `translate_at`'s) or code that lowers to the TB's first-tier program.
/// `Err(())` if the code is not the TB's any more (changed or unmapped
/// since), or there is no `space` to read it from. Reading the code again
/// watches its pages again, as the first translation did (a page the
/// guest wrote since, which was released, is write-protected once more:
/// one more fault if the guest writes it). The IR returned has had
/// [`crate::fetch::compile_passes`] run.
fn fresh_ir(
    t: &Tb,
    config: &EngineConfig,
    space: Option<UserCode<'_>>,
) -> std::result::Result<Option<Block>, ()> {
    if t.ir().is_some() {
        return Ok(None);
    }
    let Some(space) = space else {
        return Err(());
    };
    let (translated, pages, hash) = crate::translate_at(space, config, t.pc, t.flags);
    let mut ir = translated.ir;
    let same_program = match (t.baseline(), t.fingerprint()) {
        // The program was lowered from the IR as translated
        // (`Engine::translate`).
        (Some(prog), _) => Program::lower(&ir).as_ref() == Some(prog),
        // The same guest code, fetched the same way.
        (None, Some(f)) => hash == f,
        (None, None) => return Err(()),
    };
    let same = pages == t.pages() && same_program;
    if same {
        crate::fetch::compile_passes(&mut ir, space, config);
        Ok(Some(ir))
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::Unspeculated;
    use cranemu_softmmu::user::{GuestSpace, Prot};

    /// `space`'s code, with no branch unspeculated.
    fn user(space: &GuestSpace) -> UserCode<'_> {
        static NONE: std::sync::LazyLock<Unspeculated> =
            std::sync::LazyLock::new(Unspeculated::default);
        UserCode {
            space,
            unspeculated: &NONE,
        }
    }

    const CODE: u64 = 0x10000;

    /// `addi a0, a0, imm; addi a0, a0, imm; ecall` as bytes: the
    /// first write of `a0` is a dead state store, which a pass run on one
    /// side of [`fresh_ir`]'s comparison and not the other would remove.
    fn code(imm: i32) -> Vec<u8> {
        let addi = ((imm as u32) << 20) | (10 << 15) | (10 << 7) | 0x13;
        [addi, addi, 0x73]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    }

    /// A TB that did not keep its IR compiles from its code translated
    /// again, and only while that code is still the TB's; its program is
    /// the IR as translated, lowered (as `Engine::translate` makes it).
    #[test]
    fn fresh_ir_only_for_the_same_code() {
        let space = GuestSpace::new().expect("guest space");
        space.map(CODE, 0x1000, Prot::RX, true).expect("map");
        space.write_force(CODE, &code(5)).expect("write");
        let config = EngineConfig::default();
        let (t, pages, hash) = crate::translate_at(user(&space), &config, CODE, 0);
        let ir = t.ir;
        let tb = Tb::new(ir, CODE, &pages, hash, false, None);
        assert!(tb.ir().is_none() && tb.baseline().is_some());
        let fresh = fresh_ir(&tb, &config, Some(user(&space))).expect("same code");
        assert_eq!(fresh.map(|b| b.pc), Some(CODE));
        // Another immediate: other code, not compiled for this TB.
        space.write_force(CODE, &code(6)).expect("write");
        assert!(fresh_ir(&tb, &config, Some(user(&space))).is_err());
        // Unmapped: nothing to read.
        space.write_force(CODE, &code(5)).expect("write");
        assert!(fresh_ir(&tb, &config, Some(user(&space))).is_ok());
        space.unmap(CODE, 0x1000).expect("unmap");
        assert!(fresh_ir(&tb, &config, Some(user(&space))).is_err());
        // No space to read from (system mode keeps its IR instead).
        assert!(fresh_ir(&tb, &config, None).is_err());
        let kept = Tb::new(
            crate::translate_at(user(&space), &config, CODE, 0).0.ir,
            CODE,
            &[],
            0,
            true,
            None,
        );
        assert!(matches!(fresh_ir(&kept, &config, None), Ok(None)));
    }

    /// The hash of the guest code that a TB with first-tier code keeps
    /// instead of its program: the same for the same code, another for
    /// other code (one immediate) or for code that can no longer be
    /// fetched.
    #[test]
    fn the_code_hash_follows_the_code() {
        let space = GuestSpace::new().expect("guest space");
        space.map(CODE, 0x1000, Prot::RX, true).expect("map");
        space.write_force(CODE, &code(5)).expect("write");
        let config = EngineConfig::default();
        let hash = || crate::translate_at(user(&space), &config, CODE, 0).2;
        let five = hash();
        assert_eq!(hash(), five);
        space.write_force(CODE, &code(6)).expect("write");
        assert_ne!(hash(), five);
        space.write_force(CODE, &code(5)).expect("write");
        assert_eq!(hash(), five);
        space.unmap(CODE, 0x1000).expect("unmap");
        assert_ne!(hash(), five);
    }
}
