//! What the first tier's emitter learns about a block before it emits
//! it, in passes over its ops: which values each op reads and in what
//! order ([`packed_operands`]), the compares that branch on flags
//! ([`fuse_compares`]), what needs no slot or no bounds check ([`plan`]),
//! and which values need a slot ([`slot_reads`]).

use cranemu_ir::baseline::{Op, Program};
use cranemu_ir::{BinOp, IntCC, Terminator};

use super::{calls_helper, mem_bytes, MAX_VALUES};
use super::{CC_AE, CC_B, CC_E, CC_GE, CC_L, CC_NE};

/// Which values some op reads from their slot rather than from `rax` or
/// from the CPU state (`direct`, from [`plan`]): a model of
/// [`super::Emitter::load_val`]'s `rax` tracking over the ops (each op loads
/// its operands in [`packed_operands`]' order, the first into `rax`, and
/// leaves its result, or its first operand, in `rax`; a direct value's
/// `Get` emits nothing).
pub(super) fn slot_reads(
    ops: &[Op],
    term: Option<u16>,
    fused: &[bool],
    direct: &[u16],
    unchecked: &[bool],
    needs: &mut Vec<bool>,
) {
    needs.clear();
    needs.resize(fused.len(), false);
    let mut rax: Option<u16> = None;
    for (at, op) in ops.iter().enumerate() {
        let p = packed_operands(op);
        let def = Some(p as u16).filter(|&v| v != NO_VALUE);
        // (A plain loop over the packed operands: an iterator adapter
        // here was copied through the stack for every operand.)
        let mut first = true;
        for i in 1..4 {
            let v = (p >> (16 * i)) as u16;
            if v == NO_VALUE {
                continue;
            }
            // A fused compare's result is read from the flags.
            if matches!(op, Op::ExitIf { .. }) && fused[usize::from(v)] {
                continue;
            }
            // The first operand is loaded into `rax`; the others are
            // read while `rax` holds it.
            if rax != Some(v) && direct[usize::from(v)] == NO_VALUE {
                needs[usize::from(v)] = true;
            }
            if first {
                first = false;
                rax = match *op {
                    // The address is `a + off` by the time the value is
                    // read, unless the access is unchecked.
                    Op::Store { off, .. } if off != 0 && !unchecked[at] => None,
                    _ => Some(v),
                };
            }
        }
        rax = match *op {
            Op::Const { .. } => rax,
            Op::Get { d, .. } if direct[usize::from(d)] != NO_VALUE => rax,
            Op::SetConst { imm, .. } if imm as i64 != i64::from(imm as i32) => None,
            Op::SetConst { .. } | Op::Set { .. } | Op::ExitIf { .. } | Op::Store { .. } => rax,
            // Its first operand is still there.
            Op::Cmp { d, .. } | Op::CmpI { d, .. } if fused[usize::from(d)] => rax,
            _ => def,
        };
    }
    if let Some(x) = term.filter(|&x| !fused[usize::from(x)]) {
        if rax != Some(x) && direct[usize::from(x)] == NO_VALUE {
            needs[usize::from(x)] = true;
        }
    }
}

/// The least guard ([`crate::BackendConfig::guest_guard`], bytes unmapped
/// on both sides of the guest space) for first-tier accesses without a
/// bounds check of their own: 64 KiB, what the runtime's guest space has.
pub const SHARED_CHECK_GUARD: u64 = 64 << 10;

/// In [`plan`]'s `direct`: the value is a constant, moved into the
/// register that each op reads it in.
pub(super) const IMMEDIATE: u16 = u16::MAX - 1;

/// What the emitter may leave out, found in one pass over `ops` (`n`
/// values, terminator `term`):
/// - `direct[v]` is the CPU-state offset of `Get` value `v` if no `Set`
///   writes that state between the `Get` and the last op that reads `v`:
///   the `Get` emits nothing, and each read of `v` loads it from the
///   state. The same holds for a value that the op after its definition
///   stores to the state (`Set`), from there on (the `Set` finds it in
///   `rax`), so it needs no slot. It is [`IMMEDIATE`] for a constant (`imms[v]` is its value),
///   whose `Const` emits nothing either, and [`NO_VALUE`] for the other
///   values;
/// - `unchecked[i]` is true for a load or store at op `i` from a base
///   value whose address an earlier access of the block checked (as
///   `base + off1 < guest_size`), when its own offset is within `reach`
///   bytes of that access's: its address is then in the guest space or
///   in a guard (`reach` is the guard less the widest access), where the
///   host faults and the runtime's signal handler makes the guest fault,
///   as for an unmapped guest page. `reach` 0 checks every access.
///   Accesses that check their alignment are always checked.
pub(super) fn plan(
    ops: &[Op],
    term: Option<u16>,
    n: usize,
    reach: i64,
    direct: &mut Vec<u16>,
    imms: &mut Vec<u64>,
    unchecked: &mut Vec<bool>,
) {
    // Stores to each 8-byte word of the first 1 KiB of the state (the
    // integer registers and what follows them), and each direct value's
    // count when its `Get` ran.
    const WORDS: usize = 128;
    let mut sets = [0u16; WORDS];
    let mut born = [0u16; MAX_VALUES as usize];
    // The offset that each base value's first checked access used.
    let mut checked = [i32::MIN; MAX_VALUES as usize];
    direct.clear();
    direct.resize(n, NO_VALUE);
    imms.clear();
    imms.resize(n, 0);
    unchecked.clear();
    unchecked.resize(ops.len(), false);
    let word = |off: u16| usize::from(off / 8);
    // A read of `v`: it stays direct if its word was not stored since.
    let read = |direct: &mut Vec<u16>, sets: &[u16; WORDS], born: &[u16], v: u16| {
        let v = usize::from(v);
        if direct[v] < IMMEDIATE && sets[word(direct[v])] != born[v] {
            direct[v] = NO_VALUE;
        }
    };
    for (i, op) in ops.iter().enumerate() {
        let p = packed_operands(op);
        for k in 1..4 {
            let v = (p >> (16 * k)) as u16;
            if v != NO_VALUE {
                read(direct, &sets, &born, v);
            }
        }
        match *op {
            Op::Const { d, imm } => {
                direct[usize::from(d)] = IMMEDIATE;
                imms[usize::from(d)] = imm;
            }
            Op::Get { d, off } if off % 8 == 0 && word(off) < WORDS => {
                direct[usize::from(d)] = off;
                born[usize::from(d)] = sets[word(off)];
            }
            Op::Set { off, .. } | Op::SetConst { off, .. } => {
                // A store that is not word-aligned touches two words.
                for w in [word(off), word(off + 7)] {
                    if let Some(c) = sets.get_mut(w) {
                        *c = c.wrapping_add(1);
                    }
                }
                // A value stored to the state by the op after the one
                // that defines it: later reads load it from there.
                if let Op::Set { s, .. } = *op {
                    // (Not a constant's or a direct `Get`'s: their ops
                    // emit nothing, so `rax` does not hold them.)
                    let defined = i > 0
                        && packed_operands(&ops[i - 1]) as u16 == s
                        && direct[usize::from(s)] == NO_VALUE;
                    if defined && off % 8 == 0 && word(off) < WORDS {
                        direct[usize::from(s)] = off;
                        born[usize::from(s)] = sets[word(off)];
                    }
                }
            }
            Op::Load { a, off, m, .. } | Op::Store { a, off, m, .. }
                if !(m.aligned && mem_bytes(m.size) > 1) =>
            {
                let first = &mut checked[usize::from(a)];
                if *first == i32::MIN {
                    *first = off;
                } else {
                    unchecked[i] = (i64::from(off) - i64::from(*first)).abs() < reach;
                }
            }
            _ => {}
        }
    }
    if let Some(v) = term {
        read(direct, &sets, &born, v);
    }
}

/// No value, in [`packed_operands`] (values number at most
/// [`MAX_VALUES`]).
pub(super) const NO_VALUE: u16 = u16::MAX;

/// The value `op` defines, and the values it reads in the order the
/// emitter loads them (the first into `rax`), as four u16 fields of a u64
/// from the low end, [`NO_VALUE`] where there is none: returned in a
/// register. (As a tuple of `Option`s it came back through the stack in
/// pieces that the caller read whole, which stalled the emitter on every
/// op.)
#[inline]
pub(super) fn packed_operands(op: &Op) -> u64 {
    const N: u64 = NO_VALUE as u64;
    let pack = |d: Option<u16>, a: u64, b: u64, c: u64| {
        d.map_or(N, u64::from) | a << 16 | b << 32 | c << 48
    };
    let none = |d| pack(d, N, N, N);
    let one = |d, x: u16| pack(d, u64::from(x), N, N);
    let two = |d, x: u16, y: u16| pack(d, u64::from(x), u64::from(y), N);
    match *op {
        Op::Const { d, .. } | Op::Get { d, .. } => none(Some(d)),
        Op::Set { s, .. } => one(None, s),
        Op::SetConst { .. } | Op::Slow { .. } => none(None),
        Op::Add { d, a, b }
        | Op::Sub { d, a, b }
        | Op::And { d, a, b }
        | Op::Or { d, a, b }
        | Op::Xor { d, a, b }
        | Op::Shl { d, a, b }
        | Op::Shr { d, a, b }
        | Op::Sar { d, a, b }
        | Op::Bin { d, a, b, .. }
        | Op::Cmp { d, a, b, .. } => two(Some(d), a, b),
        Op::AddI { d, a, .. }
        | Op::AndI { d, a, .. }
        | Op::OrI { d, a, .. }
        | Op::XorI { d, a, .. }
        | Op::ShlI { d, a, .. }
        | Op::ShrI { d, a, .. }
        | Op::SarI { d, a, .. }
        | Op::BinI { d, a, .. }
        | Op::CmpI { d, a, .. }
        | Op::Load { d, a, .. } => one(Some(d), a),
        Op::Sext32 { d, s } | Op::Sext { d, s, .. } | Op::Zext { d, s, .. } => one(Some(d), s),
        Op::Select { d, c, a, b } => pack(Some(d), u64::from(b), u64::from(a), u64::from(c)),
        Op::Store { a, s, .. } => two(None, a, s),
        Op::ExitIf { c, .. } => one(None, c),
    }
}

/// Whether the code of `op` leaves the host flags as they were (it is
/// made of `mov`s, and `lea` for an `AddI` while a compare's result is in
/// the flags).
pub(super) fn keeps_flags(op: &Op) -> bool {
    matches!(
        op,
        Op::Get { .. } | Op::Set { .. } | Op::SetConst { .. } | Op::Const { .. } | Op::AddI { .. }
    )
}

/// Marks in `fused` (by value) the compares whose result only an
/// `ExitIf` or the terminator reads (`reads`: each value's reads, from
/// [`scan`]), with only ops that keep the flags in between
/// ([`keeps_flags`]: the count of retired instructions, `icount`, is
/// updated before a branch): their code branches on the flags of the
/// `cmp`, without `setcc`.
pub(super) fn fuse_compares(ops: &[Op], term: Terminator, reads: &[u8], fused: &mut Vec<bool>) {
    fused.clear();
    fused.resize(reads.len(), false);
    for (i, op) in ops.iter().enumerate() {
        let (Op::Cmp { d, .. } | Op::CmpI { d, .. }) = *op else {
            continue;
        };
        if reads[usize::from(d)] != 1 {
            continue;
        }
        let tested = match ops[i + 1..].iter().find(|op| !keeps_flags(op)) {
            Some(&Op::ExitIf { c, .. }) => Some(c),
            Some(_) => None,
            None => term_test(term),
        };
        fused[usize::from(d)] = tested == Some(d);
    }
}

/// What [`scan`] finds in a program.
pub(super) struct Scan {
    /// Its direct exits: `ExitIf`s, and the terminator's.
    pub(super) exits: usize,
    /// Whether its code calls out ([`super::Emitter::calls`]).
    pub(super) calls: bool,
    /// Whether it accesses guest memory ([`super::Emitter::mem`]).
    pub(super) mem: bool,
}

/// One pass over `prog` (whose values must number at most `reads.len()`)
/// for what the emitter needs to know before it starts: `None` if it has
/// ops this tier does not emit (see the module doc); else its exits,
/// calls and memory accesses, with each value's reads counted in
/// `reads` (saturating).
pub(super) fn scan(prog: &Program, reads: &mut [u8]) -> Option<Scan> {
    let term = prog.terminator();
    let mut scan = Scan {
        exits: match term {
            Terminator::Jump { .. } => 1,
            Terminator::Branch { .. } => 2,
            _ => 0,
        },
        calls: matches!(term, Terminator::JumpIndirect { .. }),
        mem: false,
    };
    let count = |reads: &mut [u8], v: u16| -> Option<()> {
        let r = reads.get_mut(usize::from(v))?;
        *r = r.saturating_add(1);
        Some(())
    };
    for op in prog.ops() {
        match *op {
            Op::Slow { .. } => return None,
            // The division helper knows the ops by their place in
            // `BinOp::ALL`.
            Op::Bin { op, .. } | Op::BinI { op, .. } if !BinOp::ALL.contains(&op) => return None,
            Op::Bin { op, .. } | Op::BinI { op, .. } => scan.calls |= calls_helper(op),
            Op::ExitIf { .. } => scan.exits += 1,
            Op::Load { .. } | Op::Store { .. } => scan.mem = true,
            _ => {}
        }
        let p = packed_operands(op);
        for i in 1..4 {
            let v = (p >> (16 * i)) as u16;
            if v != NO_VALUE {
                count(reads, v)?;
            }
        }
    }
    if let Some(v) = term_uses(term) {
        count(reads, v)?;
    }
    Some(scan)
}

/// The value the terminator branches on, if it is a branch.
pub(super) fn term_test(term: Terminator) -> Option<u16> {
    match term {
        Terminator::Branch { cond, .. } => Some(cond.0 as u16),
        _ => None,
    }
}

/// The x86 condition code (the low nibble of `jcc`, `setcc`) that is
/// true after `cmp a, b` when `a cc b`.
pub(super) fn x86_cc(cc: IntCC) -> u8 {
    match cc {
        IntCC::Eq => CC_E,
        IntCC::Ne => CC_NE,
        IntCC::Slt => CC_L,
        IntCC::Sge => CC_GE,
        IntCC::Ult => CC_B,
        IntCC::Uge => CC_AE,
    }
}

/// The values the terminator reads: the first one first.
pub(super) fn term_uses(term: Terminator) -> Option<u16> {
    match term {
        Terminator::Branch { cond, .. } => Some(cond.0 as u16),
        Terminator::JumpIndirect { target, .. } => Some(target.0 as u16),
        Terminator::Jump { .. } | Terminator::Trap { .. } | Terminator::Exit { .. } => None,
    }
}
