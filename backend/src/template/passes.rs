//! What the first tier's emitter learns about a block before it emits
//! it, in two passes over its ops: which values each op reads and in
//! what order ([`packed_operands`]), what needs no slot or no bounds
//! check ([`analyze`]), and the compares that branch on flags
//! ([`fuse_compares`]).

use cranemu_ir::baseline::{Op, Program};
use cranemu_ir::{BinOp, IntCC, Terminator};

use super::{calls_helper, mem_bytes, MAX_VALUES};
use super::{CC_AE, CC_B, CC_E, CC_GE, CC_L, CC_NE};

/// The least guard ([`crate::BackendConfig::guest_guard`], bytes unmapped
/// on both sides of the guest space) for first-tier accesses without a
/// bounds check of their own: 64 KiB, what the runtime's guest space has.
pub const SHARED_CHECK_GUARD: u64 = 64 << 10;

/// In [`Analysis::direct`]: the value is a constant, moved into the
/// register that each op reads it in.
pub(super) const IMMEDIATE: u16 = u16::MAX - 1;

/// What the emitter learns in [`analyze`]'s pass, by value or by op
/// (arrays kept from block to block).
#[derive(Default)]
pub(super) struct Analysis {
    /// Each value's reads (saturating).
    pub(super) reads: Vec<u8>,
    /// For each value, the CPU-state offset of a `Get` value read from
    /// there, [`IMMEDIATE`] for a constant, else [`NO_VALUE`] (see
    /// [`analyze`]).
    pub(super) direct: Vec<u16>,
    /// Each constant's value, by value.
    pub(super) imms: Vec<u64>,
    /// For each op, whether it is an access without a bounds check of
    /// its own (see [`analyze`]).
    pub(super) unchecked: Vec<bool>,
}

/// One pass over `prog`'s ops (at most [`MAX_VALUES`] values) for what
/// the emitter needs to know before it starts: `None` if the program
/// has ops this tier does not emit (see the module doc); else its exits,
/// calls and memory accesses, with in `a`:
/// - `reads`: each value's reads;
/// - `direct[v]`: the CPU-state offset of `Get` value `v` if no `Set`
///   writes that state between the `Get` and the last op that reads `v`:
///   the `Get` emits nothing, and each read of `v` loads it from the
///   state. The same holds for a value that the op after its definition
///   stores to the state (`Set`), from there on (the `Set` finds it in
///   `rax`), so it needs no slot. It is [`IMMEDIATE`] for a constant
///   (`imms[v]` is its value), whose `Const` emits nothing either, and
///   [`NO_VALUE`] for the other values;
/// - `unchecked[i]`: true for a load or store at op `i` from a base
///   value whose address an earlier access of the block checked (as
///   `base + off1 < guest_size`), when its own offset is within `reach`
///   bytes of that access's: its address is then in the guest space or
///   in a guard (`reach` is the guard less the widest access), where the
///   host faults and the runtime's signal handler makes the guest fault,
///   as for an unmapped guest page. `reach` 0 checks every access.
///   Accesses that check their alignment are always checked.
pub(super) fn analyze(prog: &Program, reach: i64, a: &mut Analysis) -> Option<Scan> {
    let ops = prog.ops();
    let n = prog.num_values() as usize;
    if n > MAX_VALUES as usize {
        return None;
    }
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
    // Stores to each 8-byte word of the first 1 KiB of the state (the
    // integer registers and what follows them), and each direct value's
    // count when it became direct.
    const WORDS: usize = 128;
    let mut sets = [0u16; WORDS];
    let mut born = [0u16; MAX_VALUES as usize];
    // The offset that each base value's first checked access used.
    let mut checked = [i32::MIN; MAX_VALUES as usize];
    let Analysis {
        reads,
        direct,
        imms,
        unchecked,
    } = a;
    reads.clear();
    reads.resize(n, 0);
    direct.clear();
    direct.resize(n, NO_VALUE);
    imms.clear();
    imms.resize(n, 0);
    unchecked.clear();
    unchecked.resize(ops.len(), false);
    let word = |off: u16| usize::from(off / 8);
    // A read of `v` (checked to be a value): it stays direct if its word
    // was not stored since.
    let read =
        |reads: &mut Vec<u8>, direct: &mut Vec<u16>, sets: &[u16; WORDS], born: &[u16], v: u16| {
            let v = usize::from(v);
            let r = reads.get_mut(v)?;
            *r = r.saturating_add(1);
            if direct[v] < IMMEDIATE && sets[word(direct[v])] != born[v] {
                direct[v] = NO_VALUE;
            }
            Some(())
        };
    for (i, op) in ops.iter().enumerate() {
        let p = packed_operands(op);
        for k in 1..4 {
            let v = (p >> (16 * k)) as u16;
            if v != NO_VALUE {
                read(reads, direct, &sets, &born, v)?;
            }
        }
        match *op {
            Op::Slow { .. } => return None,
            // The division helper knows the ops by their place in
            // `BinOp::ALL`.
            Op::Bin { op, .. } | Op::BinI { op, .. } if !BinOp::ALL.contains(&op) => return None,
            Op::Bin { op, .. } | Op::BinI { op, .. } => scan.calls |= calls_helper(op),
            Op::ExitIf { .. } => scan.exits += 1,
            Op::Const { d, imm } if usize::from(d) < n => {
                direct[usize::from(d)] = IMMEDIATE;
                imms[usize::from(d)] = imm;
            }
            Op::Get { d, off } if usize::from(d) < n && off % 8 == 0 && word(off) < WORDS => {
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
            Op::Load { a, off, m, .. } | Op::Store { a, off, m, .. } => {
                scan.mem = true;
                if !(m.aligned && mem_bytes(m.size) > 1) {
                    let first = &mut checked[usize::from(a)];
                    if *first == i32::MIN {
                        *first = off;
                    } else {
                        unchecked[i] = (i64::from(off) - i64::from(*first)).abs() < reach;
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(v) = term_uses(term) {
        read(reads, direct, &sets, &born, v)?;
    }
    Some(scan)
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
/// [`analyze`]), with only ops that keep the flags in between
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

/// What [`analyze`] finds in a program.
pub(super) struct Scan {
    /// Its direct exits: `ExitIf`s, and the terminator's.
    pub(super) exits: usize,
    /// Whether its code calls out ([`super::Emitter::calls`]).
    pub(super) calls: bool,
    /// Whether it accesses guest memory ([`super::Emitter::mem`]).
    pub(super) mem: bool,
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
