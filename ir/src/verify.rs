//! The IR verifier: checks that a [`Block`] is well formed before the
//! backend sees it.
//!
//! Rules: every value is defined exactly once, before its uses, and below
//! `num_values`; the block has a terminator; extension widths are 8, 16 or
//! 32; atomics are 4 or 8 bytes; CPU-state offsets are non-negative and
//! 8-byte aligned.

use crate::*;

/// A verifier finding: the instruction index (or `None` for the terminator
/// and block-level rules) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// Index into `Block::insts`, if the error is in an instruction.
    pub inst: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.inst {
            Some(i) => write!(f, "inst {i}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

/// Checks `block`.
///
/// # Errors
/// The first rule broken.
pub fn verify(block: &Block) -> Result<(), VerifyError> {
    let n = block.num_values as usize;
    let mut defined = vec![false; n];
    let err = |inst: Option<usize>, message: String| Err(VerifyError { inst, message });
    for (i, inst) in block.insts.iter().enumerate() {
        for a in inst.args() {
            if a.index() >= n || !defined[a.index()] {
                return err(Some(i), format!("{a} used before definition"));
            }
        }
        match *inst {
            Inst::Sextend { bits, .. } | Inst::Uextend { bits, .. }
                if !matches!(bits, 8 | 16 | 32) =>
            {
                return err(Some(i), format!("bad extension width {bits}"));
            }
            Inst::AtomicRmw { size, .. } | Inst::AtomicCas { size, .. }
                if !matches!(size, MemSize::B4 | MemSize::B8) =>
            {
                return err(Some(i), format!("bad atomic size {size:?}"));
            }
            Inst::GetState { offset, .. } | Inst::SetState { offset, .. }
                if offset < 0 || offset % 8 != 0 =>
            {
                return err(Some(i), format!("bad state offset {offset}"));
            }
            _ => {}
        }
        if let Some(d) = inst.dst() {
            if d.index() >= n {
                return err(Some(i), format!("{d} beyond num_values {n}"));
            }
            if defined[d.index()] {
                return err(Some(i), format!("{d} defined twice"));
            }
            defined[d.index()] = true;
        }
    }
    let used = match block.term {
        None => return err(None, "block has no terminator".into()),
        Some(Terminator::Branch { cond, .. }) => Some(cond),
        Some(Terminator::JumpIndirect { target, flags }) => {
            if let Some(f) = flags {
                if f.index() >= n || !defined[f.index()] {
                    return err(None, format!("terminator uses undefined {f}"));
                }
            }
            Some(target)
        }
        Some(_) => None,
    };
    if let Some(v) = used {
        if v.index() >= n || !defined[v.index()] {
            return err(None, format!("terminator uses undefined {v}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_and_rejects_use_before_def() {
        let mut b = Block::new(0x1000);
        let mut bld = Builder::new(&mut b);
        let x = bld.iconst(1);
        let y = bld.binary(BinOp::Iadd, x, x);
        bld.set_state(8, y);
        bld.terminate(Terminator::Jump { pc: 0x1004 });
        assert_eq!(verify(&b), Ok(()));

        let mut bad = b.clone();
        bad.insts.swap(0, 1);
        assert!(verify(&bad).is_err());

        let mut unterminated = b.clone();
        unterminated.term = None;
        assert!(verify(&unterminated).is_err());

        let mut misaligned = b;
        misaligned.insts[2] = Inst::SetState { offset: 3, src: y };
        assert!(verify(&misaligned).is_err());
    }

    #[test]
    fn prints_text_form() {
        let mut b = Block::new(0x1000);
        let mut bld = Builder::new(&mut b);
        bld.insn_start(0x1000, 4);
        let x = bld.get_state(8);
        let one = bld.iconst(1);
        let y = bld.binary(BinOp::Iadd, x, one);
        let m = MemOp {
            size: MemSize::B4,
            signed: true,
            aligned: false,
        };
        let z = bld.load(y, m);
        bld.set_state(8, z);
        bld.terminate(Terminator::Branch {
            cond: z,
            taken: 0x2000,
            not_taken: 0x1004,
        });
        let text = b.to_string();
        assert_eq!(
            text,
            "block 0x1000:\n  insn_start 0x1000, 4\n  v0 = get_state 0x8\n  v1 = iconst 0x1\n  \
             v2 = iadd v0, v1\n  v3 = load.i32s v2\n  set_state 0x8, v3\n  brif v3, 0x2000, 0x1004\n"
        );
    }
}
