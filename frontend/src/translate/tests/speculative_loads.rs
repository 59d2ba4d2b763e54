//! Loads in if-converted branches (the translator's module doc,
//! "Speculative loads"): which branches make them, how a fault is
//! reported, and that running the branch again after one gives what the
//! branch gives.

use super::if_conversion::{diamond_words, random_insn, register_values};
use super::*;

/// Whether the block at `CODE` of `words`, translated with if-conversion
/// (and superblocks) under TB flags `flags`, went on past the branch at
/// `CODE` with no side exit; with `unspeculated`, the code source says
/// no speculation at that branch.
fn converted(words: &[u32], flags: u64, unspeculated: bool) -> bool {
    let mut m = Machine::new(words);
    m.opts.if_conversion = true;
    m.opts.superblocks = true;
    if unspeculated {
        m.code.unspeculated.insert(CODE);
    }
    let tb = translate_block(&m.code, CODE, flags, &m.opts);
    !tb.ir.insts.iter().any(|i| matches!(i, Inst::ExitIf { .. }))
}

/// LZMA's range-decoder normalisation as gcc lays it out: `bgeu x10,
/// x11` over `lbu x12, 0(x13); slliw x10, x10, 8; slliw x14, x14, 8;
/// or x14, x14, x12; addi x13, x13, 1`, then `ebreak`.
fn normalise() -> Vec<u32> {
    vec![
        b_type(24, 11, 10, 7),
        load(4, 12, 13, 0),
        slliw(10, 10, 8),
        slliw(14, 14, 8),
        op(0, 6, 14, 14, 12),
        addi(13, 13, 1),
        EBREAK,
    ]
}

#[test]
fn loads_are_made_speculatively_in_user_mode_only() {
    let words = normalise();
    assert!(converted(&words, 0, false));
    // The load is marked as the branch's, speculative; the pure
    // instructions of the side have no `insn_start` (nothing is exact
    // there), but count.
    let mut m = Machine::new(&words);
    m.opts.if_conversion = true;
    let tb = translate_block(&m.code, CODE, 0, &m.opts);
    let starts: Vec<u64> = tb
        .ir
        .insts
        .iter()
        .filter_map(|i| match *i {
            Inst::InsnStart { pc, .. } => Some(pc),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [CODE, CODE | SPECULATIVE_PC, CODE + 24]);
    assert_eq!(tb.ir.guest_insns, 7);
    // Not in system mode (a load may touch MMIO or set a PTE's A bit),
    // nor where the runtime says so.
    assert!(!converted(&words, crate::cpu::tb_flags::SYSTEM, false));
    assert!(!converted(&words, 0, true));
    // Six instructions with a load convert; without one, only three.
    let mut six = normalise();
    six.insert(2, NOP);
    six[0] = b_type(28, 11, 10, 7);
    assert!(converted(&six, 0, false));
    assert!(!converted(
        &[b_type(20, 11, 10, 7), NOP, NOP, NOP, NOP, EBREAK],
        0,
        false
    ));
    // Seven with a load do not.
    let mut seven = six.clone();
    seven.insert(2, NOP);
    seven[0] = b_type(32, 11, 10, 7);
    assert!(!converted(&seven, 0, false));
    // Two loads convert, three do not.
    let loads = |n: usize| {
        let mut w = vec![b_type(4 * (n as i32 + 1), 11, 10, 7)];
        w.extend((0..n).map(|k| load(3, 12 + k as u8, 13, 8 * k as i32)));
        w.push(EBREAK);
        w
    };
    assert!(converted(&loads(2), 0, false));
    assert!(!converted(&loads(3), 0, false));
    // A load through the register a `beqz`/`bnez` tests is guarded by a
    // null test: it would fault each time the pointer is null.
    assert!(!converted(
        &[b_type(8, 0, 13, 0), load(3, 12, 13, 8), EBREAK],
        0,
        false
    ));
    assert!(!converted(
        &[b_type(8, 13, 0, 1), load(3, 12, 13, 8), EBREAK],
        0,
        false
    ));
    assert!(converted(
        &[b_type(8, 0, 14, 0), load(3, 12, 13, 8), EBREAK],
        0,
        false
    ));
    // Nor a load through what a load of the side gave, or something
    // computed from it (`t->u.p->code`, where `t` may be another kind of
    // node when the branch goes the other way); a register written anew
    // is clean again.
    let chase = |mid: &[u32]| {
        let mut w = vec![b_type(4 * (mid.len() as i32 + 3), 11, 10, 7)];
        w.push(load(3, 12, 13, 0));
        w.extend_from_slice(mid);
        w.push(load(5, 14, 12, 0));
        w.push(EBREAK);
        w
    };
    assert!(!converted(&chase(&[]), 0, false));
    assert!(!converted(&chase(&[addi(12, 12, 8)]), 0, false));
    assert!(!converted(&chase(&[op(0, 0, 12, 15, 12)]), 0, false));
    assert!(converted(&chase(&[addi(12, 15, 8)]), 0, false));
    // Diamonds: each side may load too.
    let side = [load(3, 12, 13, 0)];
    let (words, _) = diamond_words(7, (10, 11), &side, &side, &[]);
    assert!(converted(&words, 0, false));
    assert!(!converted(&words, crate::cpu::tb_flags::SYSTEM, false));
}

/// Runs [`normalise`] with `x10 = range`, `x11 = 1 << 24`, `x13 = buf`,
/// `x14 = 0x55`, with if-conversion on or off.
fn normalise_run(range: u64, buf: u64, convert: bool) -> (Machine, Outcome) {
    let mut m = Machine::new(&normalise());
    m.opts.if_conversion = convert;
    m.opts.superblocks = true;
    m.cpu.x[10] = range;
    m.cpu.x[11] = 1 << 24;
    m.cpu.x[13] = buf;
    m.cpu.x[14] = 0x55;
    m.mem.write(DATA + 0x10, MemSize::B1, 0xab);
    let out = m.run();
    (m, out)
}

#[test]
fn a_faulting_speculative_load_runs_its_branch_again() {
    let ebreak = CODE + 24;
    let stopped = Outcome::Trap {
        cause: 3,
        tval: ebreak,
        pc: ebreak,
    };
    // The load is made: both ways alike.
    for convert in [true, false] {
        let (m, out) = normalise_run(0x100, DATA + 0x10, convert);
        assert_eq!(out, stopped);
        assert_eq!(
            (m.cpu.x[10], m.cpu.x[13], m.cpu.x[14]),
            (0x10000, DATA + 0x11, 0x55ab)
        );
        assert!(m.code.unspeculated.is_empty());
    }
    // Skipped, with `buf` past the data (a decoder at the end of its
    // input): the speculative load faults, reported as the branch's.
    let mut m = Machine::new(&normalise());
    m.opts.if_conversion = true;
    m.cpu.x[10] = 1 << 24;
    m.cpu.x[11] = 1 << 24;
    m.cpu.x[13] = 0x10;
    assert_eq!(m.step(CODE), load_fault(0x10, CODE | SPECULATIVE_PC));
    assert_eq!(m.cpu.x[10], 1 << 24, "the state is as before the branch");
    // Run as the runtime does: the branch again, now a branch.
    let (m, out) = normalise_run(1 << 24, 0x10, true);
    assert_eq!(out, stopped);
    assert_eq!(
        (m.cpu.x[10], m.cpu.x[13], m.cpu.x[14]),
        (1 << 24, 0x10, 0x55)
    );
    assert_eq!(
        m.code.unspeculated.iter().copied().collect::<Vec<_>>(),
        [CODE]
    );
    // Not skipped: the guest's own fault, at the load's pc, after the
    // branch, in both translations.
    for convert in [true, false] {
        let (m, out) = normalise_run(0x100, 0x10, convert);
        assert_eq!(out, load_fault(0x10, CODE + 4), "converted: {convert}");
        assert_eq!(m.cpu.x[10], 0x100);
    }
}

proptest::proptest! {
    /// A branch over up to five random instructions among which one or
    /// two loads through `x5..x9` (mostly outside the data: they fault),
    /// then two more, ends alike with and without if-conversion: at the
    /// `ebreak` or at the same fault, with the same registers.
    #[test]
    fn faulting_loads_match_the_branch(
        f3 in proptest::sample::select(vec![0u32, 1, 4, 5, 6, 7]),
        rs in (5u8..10, 5u8..10),
        skipped in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..=3),
        loads in proptest::collection::vec((5u8..10, 5u8..10, 0u32..7, 0i32..16), 1..=2),
        after in (proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>()),
        values in register_values(),
        data in proptest::prelude::any::<bool>(),
    ) {
        let mut side: Vec<u32> = skipped.iter().map(|&k| random_insn(k)).collect();
        for (k, &(rd, rs1, f3, imm)) in loads.iter().enumerate() {
            // lb, lh, lw, ld, lbu, lhu, lwu
            let f3 = if f3 == 3 { 3 } else if f3 > 3 { f3 + 1 } else { f3 };
            side.insert(k * 2 % (side.len() + 1), load(f3, rd, rs1, 8 * imm));
        }
        let mut words = vec![b_type(4 * (side.len() as i32 + 1), rs.1, rs.0, f3)];
        words.extend(&side);
        words.push(random_insn(after.0 & !15));
        words.push(random_insn(after.1 | 5));
        words.push(EBREAK);
        let run = |convert: bool| {
            let mut m = Machine::new(&words);
            m.opts.if_conversion = convert;
            m.opts.superblocks = true;
            set_values(&mut m, &values, data);
            let out = m.run();
            (m, out)
        };
        let ((on, on_out), (off, off_out)) = (run(true), run(false));
        proptest::prop_assert_eq!(on_out, off_out);
        proptest::prop_assert_eq!(on.cpu.x, off.cpu.x);
    }
}

/// Sets `x5..x9 = values`, every other one (with `data`) pointing into
/// the data instead, and `x10 = DATA`.
pub(super) fn set_values(m: &mut Machine, values: &[u64], data: bool) {
    for (r, &v) in values.iter().enumerate() {
        m.cpu.x[5 + r] = if data && r % 2 == 0 {
            DATA + (v & 0xf00)
        } else {
            v
        };
    }
    m.cpu.x[10] = DATA;
}
