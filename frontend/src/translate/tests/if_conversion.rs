//! If-conversion (see the translator's module doc): converted and plain
//! translations of short forward branches agree.

use super::*;

/// Runs a branch of funct3 `f3` (`x10` against `x11`) over `lui x12,
/// 0xffff8; addi x13, x12, 5`, then a join that reads both (`add x14,
/// x12, x13`), with `x10 = a`, `x11 = b`, and if-conversion on or off.
fn hammock_run(f3: u32, a: u64, b: u64, convert: bool) -> Machine {
    let words = [
        b_type(12, 11, 10, f3),
        lui(12, 0xffff8),
        addi(13, 12, 5),
        op(0, 0, 14, 12, 13),
    ];
    exec(&words, |m| {
        m.opts.if_conversion = convert;
        m.opts.superblocks = true;
        for (r, v) in [(10, a), (11, b), (12, 7), (13, 9), (14, 1)] {
            m.cpu.x[r] = v;
        }
    })
}

#[test]
fn short_forward_branches_become_selects() {
    let low = 0xffff_ffff_ffff_8000u64;
    // (bgeu, bltu, beq) x (taken, not taken).
    for (f3, a, b, taken) in [
        (7, 5, 3, true),
        (7, 3, 5, false),
        (6, 3, 5, true),
        (6, u64::MAX, 5, false),
        (0, 4, 4, true),
        (0, 4, 5, false),
    ] {
        let m = hammock_run(f3, a, b, true);
        let (x12, x13) = if taken { (7, 9) } else { (low, low + 5) };
        let got = (m.cpu.x[12], m.cpu.x[13], m.cpu.x[14]);
        assert_eq!(
            got,
            (x12, x13, x12.wrapping_add(x13)),
            "f3 {f3}, {a} vs {b}"
        );
        // As without if-conversion.
        let plain = hammock_run(f3, a, b, false);
        assert_eq!(m.cpu.x, plain.cpu.x, "f3 {f3}, {a} vs {b}");
        // One block, with no branch and no side exit.
        assert_eq!(m.blocks.len(), 1);
        let ir = &m.blocks[0].ir;
        assert!(ir.insts.iter().any(|i| matches!(i, Inst::Select { .. })));
        assert!(!ir.insts.iter().any(|i| matches!(i, Inst::ExitIf { .. })));
        assert_eq!(m.blocks[0].insns.len(), 5, "the skipped insns are listed");
    }
}

#[test]
fn only_short_branches_over_pure_code_are_converted() {
    let skips_side_exit = |words: &[u32]| {
        let mut m = Machine::new(words);
        m.opts.if_conversion = true;
        m.opts.superblocks = true;
        let tb = translate_block(&m.code, CODE, 0, &m.opts);
        tb.ir.insts.iter().any(|i| matches!(i, Inst::ExitIf { .. }))
    };
    // Over a store (it writes memory; loads: see `speculative_loads`).
    assert!(skips_side_exit(&[
        b_type(8, 11, 10, 7),
        store(2, 12, 10, 0),
        NOP,
        EBREAK
    ]));
    // Over four instructions.
    assert!(skips_side_exit(&[
        b_type(20, 11, 10, 7),
        NOP,
        NOP,
        NOP,
        NOP,
        EBREAK
    ]));
    // Over a division (its translation checks for zero).
    assert!(skips_side_exit(&[
        b_type(8, 11, 10, 7),
        op(1, 4, 12, 10, 11),
        EBREAK
    ]));
    // Three register instructions: converted.
    assert!(!skips_side_exit(&[
        b_type(16, 11, 10, 7),
        NOP,
        NOP,
        NOP,
        EBREAK
    ]));
}

#[test]
fn if_converted_instructions_retire_only_when_not_skipped() {
    // bgeu x10, x11, +12 over two nops; rdinstret x6; ebreak.
    for (x10, skipped) in [(1, true), (0, false)] {
        let mut m = Machine::new(&[b_type(12, 11, 10, 7), NOP, NOP, csr(2, 6, 0xc02, 0), EBREAK]);
        m.opts.if_conversion = true;
        m.opts.count_insns = true;
        m.cpu.x[10] = x10;
        m.cpu.x[11] = 1;
        m.run();
        assert_eq!(m.blocks.len(), 1, "converted");
        let before = if skipped { 1 } else { 3 };
        assert_eq!(m.cpu.x[6], before, "rdinstret");
        assert_eq!(
            m.cpu.icount,
            before + 1,
            "rdinstret retires, ebreak does not"
        );
    }
}

/// One of a few pure integer instructions on x5..x9, from `k`'s bits
/// (or, for `k % 16 == 15`, a load through x10, which points at `DATA`,
/// which an if-converted side makes speculatively).
pub(super) fn random_insn(k: u64) -> u32 {
    let rd = 5 + (k >> 4) as u8 % 5;
    let rs1 = 5 + (k >> 8) as u8 % 5;
    let rs2 = 5 + (k >> 12) as u8 % 5;
    let imm = ((k >> 16) as i32 & 0xfff) - 0x800;
    let sh = (k >> 16) as i32 & 63;
    match k % 16 {
        0 => addi(rd, rs1, imm),
        1 => lui(rd, (k >> 16) as u32 & 0xfffff),
        2 => auipc(rd, (k >> 16) as u32 & 0xfffff),
        3 => slli(rd, rs1, sh),
        4 => srai(rd, rs1, sh),
        5 => op(0, 0, rd, rs1, rs2),
        6 => op(0x20, 0, rd, rs1, rs2),
        7 => op(0, 3, rd, rs1, rs2),
        8 => op(0, 4, rd, rs1, rs2),
        9 => op(1, 0, rd, rs1, rs2),
        10 => op(1, 3, rd, rs1, rs2),
        11 => op32(0, 0, rd, rs1, rs2),
        12 => op32(0x20, 5, rd, rs1, rs2),
        13 => sraiw(rd, rs1, sh & 31),
        14 => op_imm(3, rd, rs1, imm),
        _ => load(3, rd, 10, (k >> 16) as i32 & 0x7f8),
    }
}

proptest::proptest! {
    /// A forward branch over one to four random instructions, then two
    /// more, runs alike with and without if-conversion, taken or not.
    #[test]
    fn if_conversion_matches_the_branch(
        f3 in proptest::sample::select(vec![0u32, 1, 4, 5, 6, 7]),
        rs in (5u8..10, 5u8..10),
        skipped in proptest::collection::vec(proptest::prelude::any::<u64>(), 1..=4),
        after in (proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>()),
        values in register_values(),
        count in proptest::prelude::any::<bool>(),
    ) {
        let mut words = vec![b_type(4 * (skipped.len() as i32 + 1), rs.1, rs.0, f3)];
        words.extend(skipped.iter().map(|&k| random_insn(k)));
        words.push(random_insn(after.0 & !15));
        words.push(random_insn(after.1 | 5));
        words.push(EBREAK);
        let ebreak = CODE + 4 * (words.len() as u64 - 1);
        let (on, off) = converted_and_plain(&words, ebreak, &values, count);
        proptest::prop_assert_eq!(on.cpu.x, off.cpu.x);
        proptest::prop_assert_eq!(on.cpu.icount, off.cpu.icount);
    }
}

/// Values for `x5..x9`: any, small, or at the edges of signed and
/// 32-bit arithmetic.
pub(super) fn register_values() -> impl proptest::strategy::Strategy<Value = Vec<u64>> {
    proptest::collection::vec(
        proptest::prop_oneof![
            proptest::prelude::any::<u64>(),
            0u64..4,
            proptest::sample::select(vec![u64::MAX, i64::MIN as u64, 0x8000_0000]),
        ],
        5,
    )
}

/// Runs `words` to the `ebreak` at `ebreak` with if-conversion on, then
/// off (superblocks on, instructions counted if `count`), from `x5..x9
/// = values` and `x10 = DATA`.
fn converted_and_plain(
    words: &[u32],
    ebreak: u64,
    values: &[u64],
    count: bool,
) -> (Machine, Machine) {
    let run = |convert: bool| {
        run_to(words, ebreak, |m| {
            m.opts.if_conversion = convert;
            m.opts.superblocks = true;
            m.opts.count_insns = count;
            for (r, &v) in values.iter().enumerate() {
                m.cpu.x[5 + r] = v;
            }
            m.cpu.x[10] = DATA;
        })
    };
    (run(true), run(false))
}

/// The words of a diamond: a branch of funct3 `f3` (`x[rs.0]` against
/// `x[rs.1]`) taken to an out-of-line side `taken` closed by a `j` back
/// to the join, the fall-through side `fall`, then `after` and an
/// `ebreak` at the join; the taken side is laid out after the `ebreak`,
/// as compilers place it. Returns the words and the `ebreak`'s pc.
pub(super) fn diamond_words(
    f3: u32,
    rs: (u8, u8),
    taken: &[u32],
    fall: &[u32],
    after: &[u32],
) -> (Vec<u32>, u64) {
    let join = 1 + fall.len();
    let out_of_line = join + after.len() + 1;
    let mut words = vec![b_type(4 * out_of_line as i32, rs.1, rs.0, f3)];
    words.extend_from_slice(fall);
    words.extend_from_slice(after);
    words.push(EBREAK);
    let ebreak = CODE + 4 * (words.len() as u64 - 1);
    words.extend_from_slice(taken);
    let j_at = words.len();
    words.push(jal(0, 4 * (join as i32 - j_at as i32)));
    (words, ebreak)
}

/// As [`diamond_words`], with both sides in line: the branch is taken
/// over the fall-through side and its closing `j`, which jumps over the
/// taken side to the join.
fn inline_diamond_words(
    f3: u32,
    rs: (u8, u8),
    taken: &[u32],
    fall: &[u32],
    after: &[u32],
) -> (Vec<u32>, u64) {
    let mut words = vec![b_type(4 * (fall.len() as i32 + 2), rs.1, rs.0, f3)];
    words.extend_from_slice(fall);
    words.push(jal(0, 4 * (taken.len() as i32 + 1)));
    words.extend_from_slice(taken);
    words.extend_from_slice(after);
    words.push(EBREAK);
    let ebreak = CODE + 4 * (words.len() as u64 - 1);
    (words, ebreak)
}

/// Runs `words` to the `ebreak` at `ebreak`, with `setup`.
fn run_to(words: &[u32], ebreak: u64, setup: impl FnOnce(&mut Machine)) -> Machine {
    let mut m = Machine::new(words);
    setup(&mut m);
    let out = m.run();
    assert_eq!(
        out,
        Outcome::Trap {
            cause: 3,
            tval: ebreak,
            pc: ebreak
        },
        "program did not reach its ebreak"
    );
    m
}

#[test]
fn diamonds_become_selects() {
    // LZMA's bit decode, `x5` range, `x6` code, `x7` bound, `x8` i:
    // bltu code, bound, 1f (taken: bit 0) / range -= bound; code -= bound;
    // i = 2i + 1 (fall through) ... 1: range = bound; i = 2i; j join.
    let taken = [addi(5, 7, 0), op(0, 0, 8, 8, 8)];
    let fall = [
        op(0x20, 0, 5, 5, 7),
        op(0x20, 0, 6, 6, 7),
        op(0, 0, 8, 8, 8),
        addi(8, 8, 1),
    ];
    let after = [op(0, 0, 9, 5, 8)];
    for (inline, code, bit) in [
        (false, 3u64, 0u64),
        (false, 20, 1),
        (true, 3, 0),
        (true, 20, 1),
    ] {
        let layout = if inline {
            inline_diamond_words
        } else {
            diamond_words
        };
        let (words, ebreak) = layout(6, (6, 7), &taken, &fall, &after);
        for count in [false, true] {
            let run = |convert: bool| {
                run_to(&words, ebreak, |m| {
                    m.opts.if_conversion = convert;
                    m.opts.superblocks = true;
                    m.opts.count_insns = count;
                    for (r, v) in [(5, 100), (6, code), (7, 10), (8, 3)] {
                        m.cpu.x[r] = v;
                    }
                })
            };
            let m = run(true);
            let (range, code_after) = if bit == 0 {
                (10, code)
            } else {
                (90, code - 10)
            };
            assert_eq!(
                (m.cpu.x[5], m.cpu.x[6], m.cpu.x[8], m.cpu.x[9]),
                (range, code_after, 6 + bit, range + 6 + bit),
                "code {code}"
            );
            let plain = run(false);
            assert_eq!(m.cpu.x, plain.cpu.x, "code {code}");
            assert_eq!(m.cpu.icount, plain.cpu.icount, "code {code}");
            if count {
                // bltu, the side that ran (with its `j`), then `add`.
                let side = match (inline, bit) {
                    (false, 0) => 3,
                    (false, _) => 4,
                    (true, 0) => 2,
                    (true, _) => 5,
                };
                assert_eq!(m.cpu.icount, 1 + side + 1, "code {code}");
            }
            // One block, with no branch and no side exit, listing both
            // sides and the `j`.
            assert_eq!(m.blocks.len(), 1);
            let ir = &m.blocks[0].ir;
            assert!(ir.insts.iter().any(|i| matches!(i, Inst::Select { .. })));
            assert!(!ir.insts.iter().any(|i| matches!(i, Inst::ExitIf { .. })));
            assert_eq!(m.blocks[0].insns.len(), 1 + 2 + 1 + 4 + 1 + 1);
        }
    }
}

#[test]
fn only_diamonds_of_pure_code_that_meet_are_converted() {
    let branches = |words: &[u32]| {
        let mut m = Machine::new(words);
        m.opts.if_conversion = true;
        m.opts.superblocks = true;
        let tb = translate_block(&m.code, CODE, 0, &m.opts);
        tb.ir.insts.iter().any(|i| matches!(i, Inst::ExitIf { .. }))
            || !matches!(tb.ir.term, Some(Terminator::Trap { .. }))
    };
    let pure = [NOP, NOP];
    let store = [store(2, 12, 10, 0)];
    let long = [NOP; IF_CONVERSION_MAX_DIAMOND + 1];
    for layout in [diamond_words, inline_diamond_words] {
        let words = |taken: &[u32], fall: &[u32]| layout(7, (10, 11), taken, fall, &[]).0;
        // Converted: both sides pure, meeting at the join.
        assert!(!branches(&words(&pure, &pure)));
        assert!(!branches(&words(&[], &pure)));
        assert!(!branches(&words(&pure, &[])));
        // A side stores (loads: see `speculative_loads`).
        assert!(branches(&words(&store, &pure)));
        assert!(branches(&words(&pure, &store)));
        // A side longer than the limit.
        assert!(branches(&words(&long, &pure)));
        assert!(branches(&words(&pure, &long)));
    }
    // The taken side ends in a `jal` that links (a call), not a `j`.
    let (mut words, _) = diamond_words(7, (10, 11), &pure, &pure, &[]);
    let last = words.len() - 1;
    words[last] |= 1 << 7;
    assert!(branches(&words));
}

proptest::proptest! {
    /// A branch whose two sides are zero to four random instructions
    /// each (the taken one out of line, closed by a `j` to the join, or
    /// both in line), then two more, runs alike with and without
    /// if-conversion, taken or not.
    #[test]
    fn diamonds_match_the_branch(
        f3 in proptest::sample::select(vec![0u32, 1, 4, 5, 6, 7]),
        rs in (5u8..10, 5u8..10),
        taken in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..=4),
        fall in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..=4),
        after in (proptest::prelude::any::<u64>(), proptest::prelude::any::<u64>()),
        values in register_values(),
        count in proptest::prelude::any::<bool>(),
        inline in proptest::prelude::any::<bool>(),
    ) {
        let taken: Vec<u32> = taken.iter().map(|&k| random_insn(k)).collect();
        let fall: Vec<u32> = fall.iter().map(|&k| random_insn(k)).collect();
        let after = [random_insn(after.0 & !15), random_insn(after.1 | 5)];
        let layout = if inline { inline_diamond_words } else { diamond_words };
        let (words, ebreak) = layout(f3, rs, &taken, &fall, &after);
        let (on, off) = converted_and_plain(&words, ebreak, &values, count);
        proptest::prop_assert_eq!(on.cpu.x, off.cpu.x);
        proptest::prop_assert_eq!(on.cpu.icount, off.cpu.icount);
    }
}

/// A diamond whose out-of-line side is on the next page is converted in
/// user mode only: in system mode a TB is found by its first page, so the
/// translator keeps the branch (and reads nothing from the other page).
#[test]
fn system_mode_diamonds_stay_on_the_page() {
    // The branch 16 bytes before the page's end: `beq x10, x11, side`,
    // `addi x5, x5, 1`, `ebreak` (the join), `nop`; the side, on the
    // next page: `addi x5, x5, 2; j join`.
    let branch = 0xff0 / 4;
    let mut words = vec![NOP; branch];
    words.extend([b_type(16, 11, 10, 0), addi(5, 5, 1), EBREAK, NOP]);
    words.extend([addi(5, 5, 2), jal(0, -12)]);
    let mut m = Machine::new(&words);
    m.opts.if_conversion = true;
    m.opts.superblocks = true;
    let pc = CODE + 4 * branch as u64;
    for (flags, converted) in [(0, true), (crate::cpu::tb_flags::SYSTEM, false)] {
        let tb = translate_block(&m.code, pc, flags, &m.opts);
        let selects = tb.ir.insts.iter().any(|i| matches!(i, Inst::Select { .. }));
        assert_eq!(selects, converted, "flags {flags:#x}");
        let listed = tb.insns.iter().any(|&(pc, _)| pc >= CODE + 0x1000);
        assert_eq!(listed, converted, "flags {flags:#x}");
    }
}
