//! Optimization passes over a [`Block`].
//!
//! The translator writes every guest register to the CPU state as soon as
//! the guest instruction does, so that the state is exact wherever the
//! block can stop early. Most of those writes are overwritten before any
//! such point; [`dead_state_stores`] removes them.

use crate::{Block, Inst};

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
}
