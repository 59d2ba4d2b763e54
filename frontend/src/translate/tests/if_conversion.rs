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
    // Over a load (it may fault).
    assert!(skips_side_exit(&[
        b_type(8, 11, 10, 7),
        load(2, 12, 10, 0),
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
/// (or, for `k % 16 == 15`, a load through x10, which points at `DATA`:
/// not pure, so its branch stays a branch).
fn random_insn(k: u64) -> u32 {
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
        values in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::prelude::any::<u64>(),
                0u64..4,
                proptest::sample::select(vec![u64::MAX, i64::MIN as u64, 0x8000_0000]),
            ],
            5,
        ),
        count in proptest::prelude::any::<bool>(),
    ) {
        let mut words = vec![b_type(4 * (skipped.len() as i32 + 1), rs.1, rs.0, f3)];
        words.extend(skipped.iter().map(|&k| random_insn(k)));
        words.push(random_insn(after.0 & !15));
        words.push(random_insn(after.1 | 5));
        let run = |convert: bool| {
            exec(&words, |m| {
                m.opts.if_conversion = convert;
                m.opts.superblocks = true;
                m.opts.count_insns = count;
                for (r, &v) in values.iter().enumerate() {
                    m.cpu.x[5 + r] = v;
                }
                m.cpu.x[10] = DATA;
            })
        };
        let (on, off) = (run(true), run(false));
        proptest::prop_assert_eq!(on.cpu.x, off.cpu.x);
        proptest::prop_assert_eq!(on.cpu.icount, off.cpu.icount);
    }
}
