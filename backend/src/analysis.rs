//! What lowering learns about a block, or the blocks of a region, before
//! it lowers them: which values are a base plus a small constant (for
//! shared bounds checks), and which members begin with the interrupt
//! check.

use cranemu_ir::{BinOp, Block, Inst, Terminator, Value};

use crate::RegionMember;

/// For each IR value of `block`, `(b, offset)` if it is defined as
/// `iadd b, c` with `c` a constant in `[-2048, 2047]` (the effective
/// address of a load or store: `x[rs1] + imm`).
pub(crate) fn addr_parts(block: &Block) -> Vec<Option<(Value, i32)>> {
    let n = block.num_values as usize;
    let mut consts: Vec<Option<u64>> = vec![None; n];
    let mut parts = vec![None; n];
    for inst in &block.insts {
        match *inst {
            Inst::Iconst { dst, imm } => consts[dst.index()] = Some(imm),
            Inst::Binary {
                op: BinOp::Iadd,
                dst,
                a,
                b,
            } => {
                if let Some(c) = consts[b.index()] {
                    let c = c as i64;
                    if (-2048..2048).contains(&c) {
                        parts[dst.index()] = Some((a, c as i32));
                    }
                }
            }
            _ => {}
        }
    }
    parts
}

/// For each member of a region, whether it begins with the interrupt
/// check: the first (entered from outside), and each member that a
/// member at or after it in `members` jumps to. Every loop inside the
/// function has such a backward jump, so every loop checks once an
/// iteration; a jump forward to a member needs no check.
pub(crate) fn interrupt_checks(members: &[RegionMember<'_>]) -> Vec<bool> {
    let mut checks = vec![false; members.len()];
    if let Some(c) = checks.first_mut() {
        *c = true;
    }
    for (j, m) in members.iter().enumerate() {
        let exits = m
            .block
            .insts
            .iter()
            .filter_map(|inst| match *inst {
                Inst::ExitIf { pc, .. } => Some(pc),
                _ => None,
            })
            .chain(
                match m.block.term {
                    Some(Terminator::Jump { pc }) => [Some(pc), None],
                    Some(Terminator::Branch {
                        taken, not_taken, ..
                    }) => [Some(taken), Some(not_taken)],
                    _ => [None, None],
                }
                .into_iter()
                .flatten(),
            );
        for pc in exits {
            if let Some(i) = members.iter().position(|t| t.block.pc == pc) {
                if i <= j {
                    checks[i] = true;
                }
            }
        }
    }
    checks
}
