//! Optimization passes over a [`Block`].
//!
//! The translator writes every guest register to the CPU state as soon as
//! the guest instruction does, so that the state is exact wherever the
//! block can stop early. Most of those writes are overwritten before any
//! such point; [`dead_state_stores`] removes them. [`defer_state_stores`]
//! then moves the rest past guest loads, whose faults are rare, in code
//! whose faults can be replayed (user mode).

use crate::{Block, Inst, Value};

/// Removes `set_state` writes that a later `set_state` to the same offset
/// overwrites before anything can observe the state: a `get_state` of that
/// offset, or any instruction that can leave the block early or hand the
/// state to other code (guest memory ops may fault, side exits leave,
/// helper calls read the state). Returns the number of writes removed.
///
/// The block's observable behaviour is unchanged: at every point where
/// translated code can exit, the CPU state is what it was before the pass.
pub fn dead_state_stores(block: &mut Block) -> usize {
    thread_local! {
        /// The pass's work arrays, reused (every TB runs it).
        static SCRATCH: std::cell::Cell<(Vec<i32>, Vec<bool>)> =
            const { std::cell::Cell::new((Vec::new(), Vec::new())) };
    }
    let (mut overwritten, mut dead) = SCRATCH.take();
    let removed = dead_state_stores_with(block, &mut overwritten, &mut dead);
    SCRATCH.set((overwritten, dead));
    removed
}

/// [`dead_state_stores`] with its work arrays.
fn dead_state_stores_with(
    block: &mut Block,
    overwritten: &mut Vec<i32>,
    dead: &mut Vec<bool>,
) -> usize {
    // Offsets written later with no observation point in between: the
    // first 64 8-byte-aligned ones (the `x` and `f` registers) as bits of
    // `low`, the others in `overwritten`.
    let bit = |o: i32| ((0..512).contains(&o) && o % 8 == 0).then(|| 1u64 << (o / 8));
    let mut low = 0u64;
    overwritten.clear();
    dead.clear();
    dead.resize(block.insts.len(), false);
    for (i, inst) in block.insts.iter().enumerate().rev() {
        match *inst {
            Inst::SetState { offset, .. } => match bit(offset) {
                Some(b) if low & b != 0 => dead[i] = true,
                Some(b) => low |= b,
                None if overwritten.contains(&offset) => dead[i] = true,
                None => overwritten.push(offset),
            },
            Inst::GetState { offset, .. } => match bit(offset) {
                Some(b) => low &= !b,
                None => overwritten.retain(|&o| o != offset),
            },
            Inst::Load { .. }
            | Inst::Store { .. }
            | Inst::AtomicRmw { .. }
            | Inst::AtomicCas { .. }
            | Inst::Call { .. }
            | Inst::ExitIf { .. } => {
                low = 0;
                overwritten.clear();
            }
            _ => {}
        }
    }
    let removed = dead.iter().filter(|&&d| d).count();
    if removed > 0 {
        let mut i = 0;
        block.insts.retain(|_| {
            let keep = !dead[i];
            i += 1;
            keep
        });
    }
    removed
}

/// Moves `set_state` writes past the guest loads that follow them, to
/// just before the next instruction that can observe the state otherwise
/// (a store, an atomic, a helper call, a side exit, a `get_state` of the
/// same offset, a load requiring alignment, or the block's end), keeping
/// only the last write of each offset. Returns how many writes it held
/// back (each then removed or written later).
///
/// The writes move within *stretches*: each begins at the first
/// `insn_start` after such an instruction (or the block's first), at a
/// guest instruction boundary `p` (bit 0 of its pc clear) for which
/// `may_defer(p)` holds, and ends at the next such instruction. A load
/// in a stretch that follows a moved write (a speculative load of an
/// if-converted branch too: its `insn_start` pc, the branch's with bit 0
/// set, says the same) has its instruction's
/// `insn_start` pc replaced by `p | 1`: if it faults, the CPU state is
/// exactly as it was at `p`, before the stretch (no write of the stretch
/// has happened, and a stretch holds no guest store), and the runtime
/// runs the code again from `p` with `may_defer(p)` false, where the
/// same load faults with the state exact at its own pc (a speculative
/// one reports its branch, and so on, one more run each). (A load made
/// again may read another value if another thread wrote meanwhile: as
/// if it had run later, which memory models allow, since nothing the
/// stretch computed was seen.)
///
/// Only for code whose loads have no effect of their own: not for
/// system mode, where a load may reach a device.
pub fn defer_state_stores(block: &mut Block, may_defer: impl Fn(u64) -> bool) -> usize {
    let insts = std::mem::take(&mut block.insts);
    let mut out = Vec::with_capacity(insts.len());
    // The open stretch's first pc, and the writes moved in it so far.
    let mut stretch: Option<u64> = None;
    let mut pending: Vec<(i32, Value)> = Vec::new();
    // Where in `out` the current instruction's `insn_start` is.
    let mut start: Option<usize> = None;
    let mut changed = 0;
    let flush = |out: &mut Vec<Inst>, pending: &mut Vec<(i32, Value)>| {
        out.extend(
            pending
                .drain(..)
                .map(|(offset, src)| Inst::SetState { offset, src }),
        );
    };
    for inst in insts {
        match inst {
            Inst::InsnStart { pc, .. } => {
                start = Some(out.len());
                if stretch.is_none() && pc & 1 == 0 && may_defer(pc) {
                    stretch = Some(pc);
                }
                out.push(inst);
            }
            Inst::SetState { offset, src } if stretch.is_some() => {
                if let Some(i) = pending.iter().position(|&(o, _)| o == offset) {
                    pending.remove(i);
                }
                pending.push((offset, src));
                changed += 1;
            }
            Inst::Load { mem, .. } if stretch.is_some() && !mem.aligned => {
                if let (Some(p), Some(i), false) = (stretch, start, pending.is_empty()) {
                    if let Inst::InsnStart { pc, .. } = &mut out[i] {
                        *pc = p | 1;
                    }
                }
                out.push(inst);
            }
            Inst::GetState { offset, .. } if !pending.iter().any(|&(o, _)| o == offset) => {
                out.push(inst);
            }
            Inst::GetState { .. }
            | Inst::Load { .. }
            | Inst::Store { .. }
            | Inst::AtomicRmw { .. }
            | Inst::AtomicCas { .. }
            | Inst::Call { .. }
            | Inst::ExitIf { .. } => {
                flush(&mut out, &mut pending);
                stretch = None;
                out.push(inst);
            }
            _ => out.push(inst),
        }
    }
    flush(&mut out, &mut pending);
    block.insts = out;
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builder, MemOp, MemSize, Terminator};

    #[test]
    fn removes_only_unobservable_overwritten_stores() {
        let mut b = Block::new(0);
        let mut bld = Builder::new(&mut b);
        let one = bld.iconst(1);
        bld.set_state(8, one); // dead: overwritten below, nothing observes it
        bld.set_state(8, one); // live: the load may fault and expose it
        let m = MemOp {
            size: MemSize::B8,
            signed: false,
            aligned: false,
        };
        let x = bld.load(one, m);
        bld.set_state(16, x); // dead
        bld.set_state(16, one); // live: read back below
        let y = bld.get_state(16);
        bld.set_state(16, y); // live: last write
        bld.set_state(8, y); // live: last write
        bld.terminate(Terminator::Jump { pc: 4 });
        assert_eq!(dead_state_stores(&mut b), 2);
        let text = b.to_string();
        assert_eq!(text.matches("set_state 0x8").count(), 2, "{text}");
        assert_eq!(text.matches("set_state 0x10").count(), 2, "{text}");
        assert_eq!(crate::verify::verify(&b), Ok(()));
    }

    /// Offsets past the registers, which the pass
    /// tracks apart from them, follow the same rules.
    #[test]
    fn other_offsets_follow_the_same_rules() {
        for off in [600, 0x1000] {
            let mut b = Block::new(0);
            let mut bld = Builder::new(&mut b);
            let one = bld.iconst(1);
            bld.set_state(off, one); // dead
            bld.set_state(off, one); // live: read back below
            let y = bld.get_state(off);
            bld.set_state(8, y); // dead
            bld.set_state(off, y); // live: last write
            bld.set_state(8, one); // live: last write
            bld.terminate(Terminator::Jump { pc: 4 });
            assert_eq!(dead_state_stores(&mut b), 2, "offset {off}");
            let text = b.to_string();
            assert_eq!(text.matches("set_state 0x8,").count(), 1, "{text}");
            assert_eq!(crate::verify::verify(&b), Ok(()));
        }
    }

    fn mem(aligned: bool) -> MemOp {
        MemOp {
            size: MemSize::B8,
            signed: false,
            aligned,
        }
    }

    /// The `insn_start` pcs and `set_state` offsets of `b`, in order.
    fn shape(b: &Block) -> Vec<String> {
        b.insts
            .iter()
            .filter_map(|i| match *i {
                Inst::InsnStart { pc, .. } => Some(format!("@{pc:#x}")),
                Inst::SetState { offset, .. } => Some(format!("s{offset}")),
                Inst::Load { .. } => Some("ld".into()),
                Inst::Store { .. } => Some("st".into()),
                _ => None,
            })
            .collect()
    }

    /// Writes move past loads to the next store, the last of each offset
    /// kept; loads after a moved write report the stretch's start with
    /// bit 0 set; a stretch opens only at an instruction boundary that
    /// `may_defer` allows.
    #[test]
    fn writes_move_past_loads_to_the_next_store() {
        let build = || {
            let mut b = Block::new(0x100);
            let mut bld = Builder::new(&mut b);
            bld.insn_start(0x100, 4);
            let one = bld.iconst(1);
            let x = bld.load(one, mem(false)); // before any write: exact
            bld.set_state(8, x);
            bld.insn_start(0x104, 4);
            bld.set_state(16, one);
            bld.insn_start(0x108, 4);
            let y = bld.load(one, mem(false)); // after moved writes
            bld.set_state(8, y);
            bld.insn_start(0x10c, 4);
            bld.store(one, y, mem(false)); // ends the stretch
            bld.insn_start(0x110, 4);
            bld.set_state(24, one); // a new stretch, at 0x110
            bld.insn_start(0x114, 4);
            let _ = bld.load(one, mem(false));
            bld.terminate(Terminator::Jump { pc: 0x118 });
            b
        };
        let mut b = build();
        assert_eq!(defer_state_stores(&mut b, |_| true), 4);
        assert_eq!(
            shape(&b).join(" "),
            "@0x100 ld @0x104 @0x101 ld @0x10c s16 s8 st @0x110 @0x111 ld s24"
        );
        assert_eq!(crate::verify::verify(&b), Ok(()));
        // Where 0x100 may not start a stretch, the next boundary does.
        let mut b = build();
        defer_state_stores(&mut b, |p| p != 0x100);
        assert_eq!(
            shape(&b).join(" "),
            "@0x100 ld s8 @0x104 @0x105 ld @0x10c s16 s8 st @0x110 @0x111 ld s24"
        );
    }

    /// A read of a moved write's offset or a load that must be aligned
    /// (an LR) ends the stretch, with the writes made first.
    #[test]
    fn observers_end_a_stretch() {
        for end in 0..2 {
            let mut b = Block::new(0x100);
            let mut bld = Builder::new(&mut b);
            bld.insn_start(0x100, 4);
            let one = bld.iconst(1);
            bld.set_state(8, one);
            bld.insn_start(0x104, 4);
            if end == 0 {
                let _ = bld.get_state(8);
            } else {
                let _ = bld.load(one, mem(true));
            }
            bld.insn_start(0x108, 4);
            bld.set_state(16, one);
            let _ = bld.load(one, mem(false));
            bld.terminate(Terminator::Jump { pc: 0x10c });
            defer_state_stores(&mut b, |_| true);
            let text = shape(&b).join(" ");
            // The next stretch opens at 0x108 and moves its write past its
            // load.
            let observer = if end == 0 { "" } else { "ld " };
            assert_eq!(text, format!("@0x100 @0x104 s8 {observer}@0x109 ld s16"));
            assert_eq!(crate::verify::verify(&b), Ok(()));
        }
    }

    /// A speculative load (its `insn_start` the branch's pc with bit 0
    /// set) in a stretch reports the stretch's start once a write was
    /// moved past it, and its branch while none was.
    #[test]
    fn speculative_loads_stay_in_the_stretch() {
        for moved in [false, true] {
            let mut b = Block::new(0x100);
            let mut bld = Builder::new(&mut b);
            bld.insn_start(0x100, 4);
            let one = bld.iconst(1);
            if moved {
                bld.set_state(8, one);
            }
            bld.insn_start(0x104 | 1, 4); // a load of the branch at 0x104
            let x = bld.load(one, mem(false));
            bld.insn_start(0x10c, 4);
            bld.set_state(16, x);
            let _ = bld.load(one, mem(false));
            bld.terminate(Terminator::Jump { pc: 0x110 });
            defer_state_stores(&mut b, |_| true);
            let text = shape(&b).join(" ");
            let want = if moved {
                "@0x100 @0x101 ld @0x101 ld s8 s16"
            } else {
                "@0x100 @0x105 ld @0x101 ld s16"
            };
            assert_eq!(text, want);
            assert_eq!(crate::verify::verify(&b), Ok(()));
        }
    }
}
