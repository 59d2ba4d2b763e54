//! Decoder tests: the tables are well formed and unambiguous, operands are
//! extracted as the spec says (compressed expansions, HINTs, reserved
//! encodings), and decoding is total. The tests that need the disassembler
//! (the objdump golden file among them) are in `disasm/tests.rs`, so that
//! `decode` never depends on `disasm`.

use super::*;

#[test]
fn every_op_has_a_row() {
    for op in Op::ALL {
        assert_eq!(Op::ALL[op as usize], op);
        if op == Op::Illegal {
            assert!(all_rows().all(|r| r.op != Op::Illegal));
            continue;
        }
        assert!(all_rows().any(|r| r.op == op), "{op:?} has no row");
        assert!(base_row(op).is_some(), "{op:?} has no 32-bit row");
    }
}

#[test]
fn rows_are_well_formed_and_unambiguous() {
    for r in all_rows() {
        assert_eq!(r.bits & !r.mask, 0, "{}: bits outside mask", r.mnemonic);
        if r.is_compressed() {
            assert_eq!(r.mask & 0xe003, 0xe003, "{}", r.mnemonic);
            assert_eq!(r.mask >> 16, 0, "{}", r.mnemonic);
            assert!(r.mnemonic.starts_with("c."), "{}", r.mnemonic);
        } else {
            assert_eq!(r.mask & 0x7f, 0x7f, "{}: opcode not in mask", r.mnemonic);
            assert_ne!(r.bits & 0x1c, 0x1c, "{}: 48-bit+ opcode", r.mnemonic);
        }
    }
    let rows: Vec<&Row> = all_rows().collect();
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            let overlap = (a.bits ^ b.bits) & a.mask & b.mask == 0;
            if overlap {
                // One must be strictly more specific (its mask a superset).
                let (lo, hi) = if a.mask.count_ones() < b.mask.count_ones() {
                    (a, b)
                } else {
                    (b, a)
                };
                assert!(
                    lo.mask.count_ones() != hi.mask.count_ones() && hi.mask & lo.mask == lo.mask,
                    "ambiguous rows {} and {}",
                    a.mnemonic,
                    b.mnemonic
                );
            }
        }
    }
}

fn d(w: u32) -> Insn {
    decode(w)
}

/// Checks op, rd, rs1, rs2 and imm of `w`.
#[track_caller]
fn check(w: u32, op: Op, rd: u8, rs1: u8, rs2: u8, imm: i64) {
    let i = d(w);
    assert_eq!(
        (i.op, i.rd, i.rs1, i.rs2, i.imm),
        (op, rd, rs1, rs2, imm),
        "{w:#x}: {i:?}"
    );
    assert_eq!(i.len, if w & 3 == 3 { 4 } else { 2 });
    assert_eq!(i.raw, if w & 3 == 3 { w } else { w & 0xffff });
}

#[test]
fn base_fields() {
    check(0x12345537, Op::Lui, 10, 0, 0, 0x12345000);
    check(0xffffffb7, Op::Lui, 31, 0, 0, -4096);
    check(0x80000097, Op::Auipc, 1, 0, 0, -0x8000_0000);
    check(0x001000ef, Op::Jal, 1, 0, 0, 2048);
    check(0xffdff06f, Op::Jal, 0, 0, 0, -4);
    check(0x010500e7, Op::Jalr, 1, 10, 0, 16);
    check(0x80941063, Op::Bne, 0, 8, 9, -4096);
    check(0x7e62cfe3, Op::Blt, 0, 5, 6, 4094);
    check(0xfed65fe3, Op::Bge, 0, 12, 13, -2);
    check(0x80010503, Op::Lb, 10, 2, 0, -2048);
    check(0xfe113c23, Op::Sd, 0, 2, 1, -8);
    check(0x7eb41fa3, Op::Sh, 0, 8, 11, 2047);
    check(0x03f59513, Op::Slli, 10, 11, 0, 63);
    check(0x4015d513, Op::Srai, 10, 11, 0, 1);
    check(0x01f5151b, Op::Slliw, 10, 10, 0, 31);
    check(0x418b8b33, Op::Sub, 22, 23, 24, 0);
    check(0x02c5f53b, Op::Remuw, 10, 11, 12, 0);
}

#[test]
fn system_fence_csr_amo_fp_fields() {
    // FENCE: imm = fm << 8 | pred << 4 | succ.
    assert_eq!((d(0x0330000f).op, d(0x0330000f).imm), (Op::Fence, 0x33));
    assert_eq!((d(0x0840000f).op, d(0x0840000f).imm), (Op::Fence, 0x84));
    assert_eq!((d(0x8330000f).op, d(0x8330000f).imm), (Op::Fence, 0x833));
    assert_eq!(d(0x0000100f).op, Op::FenceI);
    assert_eq!(d(0xfff5900f).op, Op::FenceI, "FENCE.I ignores imm/rs1/rd");
    // CSR: csr number and zimm.
    let i = d(0x305fd573); // csrrwi a0, mtvec, 31
    assert_eq!(
        (i.op, i.rd, i.csr, i.imm, i.rs1),
        (Op::Csrrwi, 10, 0x305, 31, 0)
    );
    let i = d(0x30059573); // csrrw a0, mstatus, a1
    assert_eq!((i.op, i.rd, i.csr, i.rs1), (Op::Csrrw, 10, 0x300, 11));
    // AMO ordering bits.
    let i = d(0x06c5a52f); // amoadd.w.aqrl a0, a2, (a1)
    assert_eq!(
        (i.op, i.rd, i.rs1, i.rs2, i.aq, i.rl),
        (Op::AmoaddW, 10, 11, 12, true, true)
    );
    let i = d(0x1405a52f); // lr.w.aq a0, (a1)
    assert_eq!((i.op, i.aq, i.rl), (Op::LrW, true, false));
    assert_eq!(d(0x1015a52f).op, Op::Illegal, "LR with rs2 != 0");
    // FP: rm and rs3.
    let i = d(0x9924944b); // fnmsub.s fs0, fs1, fs2, fs3, rtz
    assert_eq!(
        (i.op, i.rd, i.rs1, i.rs2, i.rs3, i.rm),
        (Op::FnmsubS, 8, 9, 18, 19, 1)
    );
    let i = d(0xc0051553); // fcvt.w.s a0, fa0, rtz
    assert_eq!((i.op, i.rd, i.rs1, i.rm), (Op::FcvtWS, 10, 10, 1));
    assert_eq!(d(0x00c5f553).rm, 7);
    // Privileged.
    assert_eq!(d(0x10200073).op, Op::Sret);
    assert_eq!(d(0x30200073).op, Op::Mret);
    assert_eq!(d(0x10500073).op, Op::Wfi);
    let i = d(0x12b50073);
    assert_eq!((i.op, i.rs1, i.rs2), (Op::SfenceVma, 10, 11));
}

#[test]
fn compressed_expansions() {
    // (halfword, op, rd, rs1, rs2, imm); encodings from GNU as.
    check(0x0048, Op::Addi, 10, 2, 0, 4); // c.addi4spn a0, sp, 4
    check(0x1fe4, Op::Addi, 9, 2, 0, 1020); // c.addi4spn s1, sp, 1020
    check(0x3fe8, Op::Fld, 10, 15, 0, 248); // c.fld fa0, 248(a5)
    check(0x5de8, Op::Lw, 10, 11, 0, 124); // c.lw a0, 124(a1)
    check(0x7fe0, Op::Ld, 8, 15, 0, 248); // c.ld s0, 248(a5)
    check(0xa404, Op::Fsd, 0, 8, 9, 8); // c.fsd fs1, 8(s0)
    check(0xc1a8, Op::Sw, 0, 11, 10, 64); // c.sw a0, 64(a1)
    check(0xe01c, Op::Sd, 0, 8, 15, 0); // c.sd a5, 0(s0)
    check(0x0001, Op::Addi, 0, 0, 0, 0); // c.nop
    check(0x1501, Op::Addi, 10, 10, 0, -32); // c.addi a0, -32
    check(0x0ffd, Op::Addi, 31, 31, 0, 31); // c.addi t6, 31
    check(0x2505, Op::Addiw, 10, 10, 0, 1); // c.addiw a0, 1
    check(0x3081, Op::Addiw, 1, 1, 0, -32); // c.addiw ra, -32
    check(0x557d, Op::Addi, 10, 0, 0, -1); // c.li a0, -1
    check(0x4dfd, Op::Addi, 27, 0, 0, 31); // c.li s11, 31
    check(0x617d, Op::Addi, 2, 2, 0, 496); // c.addi16sp sp, 496
    check(0x7101, Op::Addi, 2, 2, 0, -512); // c.addi16sp sp, -512
    check(0x6505, Op::Lui, 10, 0, 0, 0x1000); // c.lui a0, 1
    check(0x7281, Op::Lui, 5, 0, 0, -0x20000); // c.lui t0, 0xfffe0
    check(0x64fd, Op::Lui, 9, 0, 0, 0x1f000); // c.lui s1, 0x1f
    check(0x917d, Op::Srli, 10, 10, 0, 63); // c.srli a0, 63
    check(0x9781, Op::Srai, 15, 15, 0, 32); // c.srai a5, 32
    check(0x9901, Op::Andi, 10, 10, 0, -32); // c.andi a0, -32
    check(0x887d, Op::Andi, 8, 8, 0, 31); // c.andi s0, 31
    check(0x8d0d, Op::Sub, 10, 10, 11, 0); // c.sub a0, a1
    check(0x8c25, Op::Xor, 8, 8, 9, 0); // c.xor s0, s1
    check(0x8f5d, Op::Or, 14, 14, 15, 0); // c.or a4, a5
    check(0x8e75, Op::And, 12, 12, 13, 0); // c.and a2, a3
    check(0x9d0d, Op::Subw, 10, 10, 11, 0); // c.subw a0, a1
    check(0x9d2d, Op::Addw, 10, 10, 11, 0); // c.addw a0, a1
    check(0xaffd, Op::Jal, 0, 0, 0, 2046); // c.j .+2046
    check(0xb001, Op::Jal, 0, 0, 0, -2048); // c.j .-2048
    check(0xcd7d, Op::Beq, 0, 10, 0, 254); // c.beqz a0, .+254
    check(0xd001, Op::Beq, 0, 8, 0, -256); // c.beqz s0, .-256
    check(0xe781, Op::Bne, 0, 15, 0, 8); // c.bnez a5, .+8
    check(0x157e, Op::Slli, 10, 10, 0, 63); // c.slli a0, 63
    check(0x357e, Op::Fld, 10, 2, 0, 504); // c.fldsp fa0, 504(sp)
    check(0x2002, Op::Fld, 0, 2, 0, 0); // c.fldsp ft0, 0(sp)
    check(0x557e, Op::Lw, 10, 2, 0, 252); // c.lwsp a0, 252(sp)
    check(0x70fe, Op::Ld, 1, 2, 0, 504); // c.ldsp ra, 504(sp)
    check(0x6fa2, Op::Ld, 31, 2, 0, 8); // c.ldsp t6, 8(sp)
    check(0x8082, Op::Jalr, 0, 1, 0, 0); // c.jr ra
    check(0x852e, Op::Add, 10, 0, 11, 0); // c.mv a0, a1
    check(0x9002, Op::Ebreak, 0, 0, 0, 0); // c.ebreak
    check(0x9502, Op::Jalr, 1, 10, 0, 0); // c.jalr a0
    check(0x952e, Op::Add, 10, 10, 11, 0); // c.add a0, a1
    check(0xbfaa, Op::Fsd, 0, 2, 10, 504); // c.fsdsp fa0, 504(sp)
    check(0xdfaa, Op::Sw, 0, 2, 10, 252); // c.swsp a0, 252(sp)
    check(0xff86, Op::Sd, 0, 2, 1, 504); // c.sdsp ra, 504(sp)
    check(0xe07e, Op::Sd, 0, 2, 31, 0); // c.sdsp t6, 0(sp)
                                        // The upper 16 bits are ignored for compressed instructions.
    check(0xdead_0001, Op::Addi, 0, 0, 0, 0);
}

#[test]
fn hints_decode_as_base_instructions() {
    check(0x0005, Op::Addi, 0, 0, 0, 1); // c.addi x0, 1 (C.NOP HINT)
    check(0x0501, Op::Addi, 10, 10, 0, 0); // c.addi a0, 0
    check(0x4005, Op::Addi, 0, 0, 0, 1); // c.li x0, 1
    check(0x6005, Op::Lui, 0, 0, 0, 0x1000); // c.lui x0, 1
    check(0x8002 | 11 << 2, Op::Add, 0, 0, 11, 0); // c.mv x0, a1
    check(0x9002 | 11 << 2, Op::Add, 0, 0, 11, 0); // c.add x0, a1
    check(0x0502, Op::Slli, 10, 10, 0, 0); // c.slli a0, 0
    check(0x8101, Op::Srli, 10, 10, 0, 0); // c.srli a0, 0
}

#[test]
fn reserved_and_illegal_encodings() {
    let illegal16 = [
        (0x0000, "all-zero halfword"),
        (0x0008, "c.addi4spn nzuimm=0"),
        (0x001c, "c.addi4spn nzuimm=0, rd'=a5"),
        (0x6101, "c.addi16sp imm=0"),
        (0x6501, "c.lui nzimm=0"),
        (0x6001, "c.lui x0, 0"),
        (0x2001, "c.addiw x0 (RV32 C.JAL pattern)"),
        (0x2005, "c.addiw x0, 1"),
        (0x4002, "c.lwsp x0"),
        (0x407e, "c.lwsp x0, 252"),
        (0x6002, "c.ldsp x0"),
        (0x8002, "c.jr x0"),
        (0x8000, "quadrant 0 funct3 100"),
        (0x9c41, "reserved CA funct2 10 with bit 12"),
        (0x9c61, "reserved CA funct2 11 with bit 12"),
    ];
    for (w, why) in illegal16 {
        let i = d(w);
        assert_eq!((i.op, i.len), (Op::Illegal, 2), "{w:#06x}: {why}");
    }
    let illegal32 = [
        (0x0200151b, "slliw shamt[5]=1"),
        (0x0200551b, "srliw shamt[5]=1"),
        (0x4200551b, "sraiw shamt[5]=1"),
        (0x04c58533, "OP funct7=2"),
        (0x00c5c5b3 | 0x20 << 25, "OP xor with funct7=0x20"),
        (0x04c5f553, "fadd.h (fmt=H)"),
        (0x06c5f553, "fadd.q (fmt=Q)"),
        (0x6cc5f543, "fmadd.h (fmt=H)"),
        (0x4035f553, "fcvt.s.q"),
        (0x000000f3, "ecall with rd != 0"),
        (0xe0051053 | 2 << 12, "fmv.x.w with rm=2"),
        (0x00007003, "load funct3=7"),
        (0x00003023 | 4 << 12, "store funct3=4"),
        (0x00001067, "jalr funct3=1"),
        (0x00002063, "branch funct3=2"),
        (0x00004073, "SYSTEM funct3=4"),
        (0x0000001f, "48-bit encoding"),
        (0x0000003f, "64-bit encoding"),
        (0x0000007f, "80-bit+ encoding"),
        (0xffffffff, "all ones"),
        (
            0x00000003,
            "lb zero, 0(zero)? no: all-zero major opcode LOAD is legal",
        ),
    ];
    for (w, why) in illegal32 {
        let i = d(w);
        if w == 0x00000003 {
            assert_eq!(i.op, Op::Lb, "{why}");
            continue;
        }
        assert_eq!((i.op, i.len), (Op::Illegal, 4), "{w:#010x}: {why}");
        assert_eq!(i.raw, w);
    }
    // Reserved rounding modes are decoded; the executor checks them.
    let i = d(0x00c5d553); // fadd.s with rm=5
    assert_eq!((i.op, i.rm), (Op::FaddS, 5));
}

#[test]
fn op_mnemonics_are_those_of_the_base_rows() {
    assert_eq!(Op::FcvtWuS.mnemonic(), "fcvt.wu.s");
    assert_eq!(Op::Addi.mnemonic(), "addi");
    assert_eq!(Op::Illegal.mnemonic(), "illegal");
}

#[test]
fn never_panics_all_halfwords() {
    for w in 0..=0xffffu32 {
        let i = decode(w);
        assert_eq!(i.len, if w & 3 == 3 { 4 } else { 2 });
        assert!(i.rd < 32 && i.rs1 < 32 && i.rs2 < 32 && i.rs3 < 32);
    }
}

#[test]
fn never_panics_random_words() {
    // xorshift64*, fixed seed.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3_000_000u32 {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let w = (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32;
        let i = decode(w);
        assert!(i.len == 2 || i.len == 4);
        assert_eq!(i.len == 4, w & 3 == 3);
    }
}

proptest::proptest! {
    #[test]
    fn decode_is_total(w in proptest::prelude::any::<u32>()) {
        let i = decode(w);
        proptest::prop_assert!(i.len == 2 || i.len == 4);
        proptest::prop_assert!(i.rd < 32 && i.rs1 < 32 && i.rs2 < 32 && i.rs3 < 32);
    }
}
