//! Disassembler tests, and the decoder tests that need it: the objdump
//! golden file (every op decoded and printed as GNU objdump prints it),
//! special cases, and disassembly never panicking.

use super::*;
use crate::decode::decode;

/// Assembled with `riscv64-linux-gnu-as -march=rv64gc_zifencei_zicsr`
/// (GNU Binutils 2.40) and printed with `objdump -d -M no-aliases`; the
/// objdump text is converted to this crate's conventions by a script:
/// immediates in capstone style (decimal in -9..=9, else hex), branch and
/// jump targets made relative to the instruction, `c.addi zero, 0` shown
/// as `c.nop`.
const GOLDEN: &[(u32, &str)] = &[
    (0x12345537, "lui a0, 0x12345"),
    (0xffffffb7, "lui t6, 0xfffff"),
    (0x80000097, "auipc ra, 0x80000"),
    (0x001000ef, "jal ra, 0x800"),
    (0xffdff06f, "jal zero, -4"),
    (0x010500e7, "jalr ra, 0x10(a0)"),
    (0xfff28067, "jalr zero, -1(t0)"),
    (0x00b50863, "beq a0, a1, 0x10"),
    (0x80941063, "bne s0, s1, -0x1000"),
    (0x7e62cfe3, "blt t0, t1, 0xffe"),
    (0xfed65fe3, "bge a2, a3, -2"),
    (0x00f76463, "bltu a4, a5, 8"),
    (0x01187063, "bgeu a6, a7, 0"),
    (0x80010503, "lb a0, -0x800(sp)"),
    (0x7ff41583, "lh a1, 0x7ff(s0)"),
    (0x0006a603, "lw a2, 0(a3)"),
    (0x00813083, "ld ra, 8(sp)"),
    (0x00134283, "lbu t0, 1(t1)"),
    (0xfffe5383, "lhu t2, -1(t3)"),
    (0x064f6e83, "lwu t4, 0x64(t5)"),
    (0x80a10023, "sb a0, -0x800(sp)"),
    (0x7eb41fa3, "sh a1, 0x7ff(s0)"),
    (0x00c6a023, "sw a2, 0(a3)"),
    (0xfe113c23, "sd ra, -8(sp)"),
    (0x00150513, "addi a0, a0, 1"),
    (0x00000013, "addi zero, zero, 0"),
    (0xfff62593, "slti a1, a2, -1"),
    (0x7ff63593, "sltiu a1, a2, 0x7ff"),
    (0x80074693, "xori a3, a4, -0x800"),
    (0x0ff9e913, "ori s2, s3, 0xff"),
    (0xf00afa13, "andi s4, s5, -0x100"),
    (0x03f59513, "slli a0, a1, 0x3f"),
    (0x0205d513, "srli a0, a1, 0x20"),
    (0x4015d513, "srai a0, a1, 1"),
    (0x00c58533, "add a0, a1, a2"),
    (0x418b8b33, "sub s6, s7, s8"),
    (0x01bd1cb3, "sll s9, s10, s11"),
    (0x01eeae33, "slt t3, t4, t5"),
    (0x00103fb3, "sltu t6, zero, ra"),
    (0x008241b3, "xor gp, tp, s0"),
    (0x00a55533, "srl a0, a0, a0"),
    (0x40b5d5b3, "sra a1, a1, a1"),
    (0x00c66633, "or a2, a2, a2"),
    (0x00d6f6b3, "and a3, a3, a3"),
    (0x0330000f, "fence rw, rw"),
    (0x0ff0000f, "fence iorw, iorw"),
    (0x0840000f, "fence i, o"),
    (0x8330000f, "fence.tso"),
    (0x0000100f, "fence.i"),
    (0x00000073, "ecall"),
    (0x00100073, "ebreak"),
    (0xfff5051b, "addiw a0, a0, -1"),
    (0x01f5151b, "slliw a0, a0, 0x1f"),
    (0x0005551b, "srliw a0, a0, 0"),
    (0x4055551b, "sraiw a0, a0, 5"),
    (0x00c5853b, "addw a0, a1, a2"),
    (0x40c5853b, "subw a0, a1, a2"),
    (0x00c5953b, "sllw a0, a1, a2"),
    (0x00c5d53b, "srlw a0, a1, a2"),
    (0x40c5d53b, "sraw a0, a1, a2"),
    (0x30059573, "csrrw a0, mstatus, a1"),
    (0xc0002573, "csrrs a0, cycle, zero"),
    (0x1002b073, "csrrc zero, sstatus, t0"),
    (0x305fd573, "csrrwi a0, mtvec, 0x1f"),
    (0x0010e573, "csrrsi a0, fflags, 1"),
    (0xfff07573, "csrrci a0, 0xfff, 0"),
    (0x02c58533, "mul a0, a1, a2"),
    (0x02c59533, "mulh a0, a1, a2"),
    (0x02c5a533, "mulhsu a0, a1, a2"),
    (0x02c5b533, "mulhu a0, a1, a2"),
    (0x02c5c533, "div a0, a1, a2"),
    (0x02c5d533, "divu a0, a1, a2"),
    (0x02c5e533, "rem a0, a1, a2"),
    (0x02c5f533, "remu a0, a1, a2"),
    (0x02c5853b, "mulw a0, a1, a2"),
    (0x02c5c53b, "divw a0, a1, a2"),
    (0x02c5d53b, "divuw a0, a1, a2"),
    (0x02c5e53b, "remw a0, a1, a2"),
    (0x02c5f53b, "remuw a0, a1, a2"),
    (0x1005a52f, "lr.w a0, (a1)"),
    (0x1405a52f, "lr.w.aq a0, (a1)"),
    (0x18c5a52f, "sc.w a0, a2, (a1)"),
    (0x1ac5a52f, "sc.w.rl a0, a2, (a1)"),
    (0x08c5a52f, "amoswap.w a0, a2, (a1)"),
    (0x06c5a52f, "amoadd.w.aqrl a0, a2, (a1)"),
    (0x20c5a52f, "amoxor.w a0, a2, (a1)"),
    (0x60c5a52f, "amoand.w a0, a2, (a1)"),
    (0x40c5a52f, "amoor.w a0, a2, (a1)"),
    (0x80c5a52f, "amomin.w a0, a2, (a1)"),
    (0xa0c5a52f, "amomax.w a0, a2, (a1)"),
    (0xc0c5a52f, "amominu.w a0, a2, (a1)"),
    (0xe0c5a52f, "amomaxu.w a0, a2, (a1)"),
    (0x1005b52f, "lr.d a0, (a1)"),
    (0x18c5b52f, "sc.d a0, a2, (a1)"),
    (0x0cc5b52f, "amoswap.d.aq a0, a2, (a1)"),
    (0x00c5b52f, "amoadd.d a0, a2, (a1)"),
    (0x20c5b52f, "amoxor.d a0, a2, (a1)"),
    (0x60c5b52f, "amoand.d a0, a2, (a1)"),
    (0x40c5b52f, "amoor.d a0, a2, (a1)"),
    (0x80c5b52f, "amomin.d a0, a2, (a1)"),
    (0xa0c5b52f, "amomax.d a0, a2, (a1)"),
    (0xc0c5b52f, "amominu.d a0, a2, (a1)"),
    (0xe2c5b52f, "amomaxu.d.rl a0, a2, (a1)"),
    (0x00452507, "flw fa0, 4(a0)"),
    (0xfe812e27, "fsw fs0, -4(sp)"),
    (0x68c5f543, "fmadd.s fa0, fa1, fa2, fa3"),
    (0x18208047, "fmsub.s ft0, ft1, ft2, ft3, rne"),
    (0x9924944b, "fnmsub.s fs0, fs1, fs2, fs3, rtz"),
    (0xf9eeae4f, "fnmadd.s ft8, ft9, ft10, ft11, rdn"),
    (0x00c5f553, "fadd.s fa0, fa1, fa2"),
    (0x08c5b553, "fsub.s fa0, fa1, fa2, rup"),
    (0x10c5c553, "fmul.s fa0, fa1, fa2, rmm"),
    (0x18c5f553, "fdiv.s fa0, fa1, fa2"),
    (0x5805f553, "fsqrt.s fa0, fa1"),
    (0x20c58553, "fsgnj.s fa0, fa1, fa2"),
    (0x20c59553, "fsgnjn.s fa0, fa1, fa2"),
    (0x20c5a553, "fsgnjx.s fa0, fa1, fa2"),
    (0x28c58553, "fmin.s fa0, fa1, fa2"),
    (0x28c59553, "fmax.s fa0, fa1, fa2"),
    (0xc0051553, "fcvt.w.s a0, fa0, rtz"),
    (0xc0157553, "fcvt.wu.s a0, fa0"),
    (0xe0050553, "fmv.x.w a0, fa0"),
    (0xa0b52553, "feq.s a0, fa0, fa1"),
    (0xa0b51553, "flt.s a0, fa0, fa1"),
    (0xa0b50553, "fle.s a0, fa0, fa1"),
    (0xe0051553, "fclass.s a0, fa0"),
    (0xd0057553, "fcvt.s.w fa0, a0"),
    (0xd0157553, "fcvt.s.wu fa0, a0"),
    (0xf0050553, "fmv.w.x fa0, a0"),
    (0xc0257553, "fcvt.l.s a0, fa0"),
    (0xc0357553, "fcvt.lu.s a0, fa0"),
    (0xd0257553, "fcvt.s.l fa0, a0"),
    (0xd0357553, "fcvt.s.lu fa0, a0"),
    (0x00853507, "fld fa0, 8(a0)"),
    (0xffb13c27, "fsd fs11, -8(sp)"),
    (0x6ac5f543, "fmadd.d fa0, fa1, fa2, fa3"),
    (0x6ac5f547, "fmsub.d fa0, fa1, fa2, fa3"),
    (0x6ac5f54b, "fnmsub.d fa0, fa1, fa2, fa3"),
    (0x6ac5f54f, "fnmadd.d fa0, fa1, fa2, fa3"),
    (0x02c5f553, "fadd.d fa0, fa1, fa2"),
    (0x0ac5f553, "fsub.d fa0, fa1, fa2"),
    (0x12c5f553, "fmul.d fa0, fa1, fa2"),
    (0x1ac5f553, "fdiv.d fa0, fa1, fa2"),
    (0x5a05f553, "fsqrt.d fa0, fa1"),
    (0x22c58553, "fsgnj.d fa0, fa1, fa2"),
    (0x22c59553, "fsgnjn.d fa0, fa1, fa2"),
    (0x22c5a553, "fsgnjx.d fa0, fa1, fa2"),
    (0x2ac58553, "fmin.d fa0, fa1, fa2"),
    (0x2ac59553, "fmax.d fa0, fa1, fa2"),
    (0x4015f553, "fcvt.s.d fa0, fa1"),
    (0x42058553, "fcvt.d.s fa0, fa1"),
    (0xa2b52553, "feq.d a0, fa0, fa1"),
    (0xa2b51553, "flt.d a0, fa0, fa1"),
    (0xa2b50553, "fle.d a0, fa0, fa1"),
    (0xe2051553, "fclass.d a0, fa0"),
    (0xc2057553, "fcvt.w.d a0, fa0"),
    (0xc2157553, "fcvt.wu.d a0, fa0"),
    (0xd2050553, "fcvt.d.w fa0, a0"),
    (0xd2150553, "fcvt.d.wu fa0, a0"),
    (0xc2257553, "fcvt.l.d a0, fa0"),
    (0xc2351553, "fcvt.lu.d a0, fa0, rtz"),
    (0xe2050553, "fmv.x.d a0, fa0"),
    (0xd2257553, "fcvt.d.l fa0, a0"),
    (0xd2357553, "fcvt.d.lu fa0, a0"),
    (0xf2050553, "fmv.d.x fa0, a0"),
    (0x10200073, "sret"),
    (0x30200073, "mret"),
    (0x10500073, "wfi"),
    (0x12000073, "sfence.vma zero, zero"),
    (0x12b50073, "sfence.vma a0, a1"),
    (0x0048, "c.addi4spn a0, sp, 4"),
    (0x1fe4, "c.addi4spn s1, sp, 0x3fc"),
    (0x3fe8, "c.fld fa0, 0xf8(a5)"),
    (0x5de8, "c.lw a0, 0x7c(a1)"),
    (0x7fe0, "c.ld s0, 0xf8(a5)"),
    (0xa404, "c.fsd fs1, 8(s0)"),
    (0xc1a8, "c.sw a0, 0x40(a1)"),
    (0xe01c, "c.sd a5, 0(s0)"),
    (0x0001, "c.nop"),
    (0x1501, "c.addi a0, -0x20"),
    (0x0ffd, "c.addi t6, 0x1f"),
    (0x2505, "c.addiw a0, 1"),
    (0x3081, "c.addiw ra, -0x20"),
    (0x557d, "c.li a0, -1"),
    (0x4dfd, "c.li s11, 0x1f"),
    (0x617d, "c.addi16sp sp, 0x1f0"),
    (0x7101, "c.addi16sp sp, -0x200"),
    (0x6505, "c.lui a0, 1"),
    (0x7281, "c.lui t0, 0xfffe0"),
    (0x64fd, "c.lui s1, 0x1f"),
    (0x917d, "c.srli a0, 0x3f"),
    (0x8085, "c.srli s1, 1"),
    (0x9781, "c.srai a5, 0x20"),
    (0x9901, "c.andi a0, -0x20"),
    (0x887d, "c.andi s0, 0x1f"),
    (0x8d0d, "c.sub a0, a1"),
    (0x8c25, "c.xor s0, s1"),
    (0x8f5d, "c.or a4, a5"),
    (0x8e75, "c.and a2, a3"),
    (0x9d0d, "c.subw a0, a1"),
    (0x9d2d, "c.addw a0, a1"),
    (0xaffd, "c.j 0x7fe"),
    (0xb001, "c.j -0x800"),
    (0xcd7d, "c.beqz a0, 0xfe"),
    (0xd001, "c.beqz s0, -0x100"),
    (0xe781, "c.bnez a5, 8"),
    (0x157e, "c.slli a0, 0x3f"),
    (0x0f86, "c.slli t6, 1"),
    (0x357e, "c.fldsp fa0, 0x1f8(sp)"),
    (0x2002, "c.fldsp ft0, 0(sp)"),
    (0x557e, "c.lwsp a0, 0xfc(sp)"),
    (0x70fe, "c.ldsp ra, 0x1f8(sp)"),
    (0x6fa2, "c.ldsp t6, 8(sp)"),
    (0x8082, "c.jr ra"),
    (0x8f82, "c.jr t6"),
    (0x852e, "c.mv a0, a1"),
    (0x9002, "c.ebreak"),
    (0x9502, "c.jalr a0"),
    (0x952e, "c.add a0, a1"),
    (0xbfaa, "c.fsdsp fa0, 0x1f8(sp)"),
    (0xdfaa, "c.swsp a0, 0xfc(sp)"),
    (0xff86, "c.sdsp ra, 0x1f8(sp)"),
    (0xe07e, "c.sdsp t6, 0(sp)"),
];

#[test]
fn golden_objdump() {
    let mut bad = Vec::new();
    for &(w, text) in GOLDEN {
        let i = decode(w);
        assert_ne!(i.op, Op::Illegal, "{w:#010x} ({text}) decoded as illegal");
        assert_eq!(i.len, if w & 3 == 3 { 4 } else { 2 }, "{w:#x}");
        let got = disassemble(&i);
        if got != text {
            bad.push(format!("{w:#010x}: got {got:?}, want {text:?}"));
        }
    }
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}

#[test]
fn every_op_decodes_from_the_golden_file() {
    let mut seen = [false; Op::COUNT];
    for &(w, _) in GOLDEN {
        seen[decode(w).op as usize] = true;
    }
    for op in Op::ALL {
        assert!(op == Op::Illegal || seen[op as usize], "{op:?} not covered");
    }
}

#[test]
fn disassembly_of_special_cases() {
    assert_eq!(disassemble_bits(0x0000), ".2byte 0x0000");
    assert_eq!(disassemble_bits(0xffffffff), ".4byte 0xffffffff");
    assert_eq!(disassemble_bits(0x0000000f), "fence 0, 0");
    assert_eq!(disassemble_bits(0x0005), "c.addi zero, 1");
    assert_eq!(disassemble_bits(0xfff07573), "csrrci a0, 0xfff, 0");
    assert_eq!(
        disassemble_bits(0x42058553 | 1 << 12),
        "fcvt.d.s fa0, fa1, rtz"
    );
    // An instruction built by hand (raw does not match) prints from its fields.
    let mut i = decode(0x00150513);
    i.raw = 0;
    i.imm = -5;
    assert_eq!(disassemble(&i), "addi a0, a0, -5");
    // Reserved rounding modes are decoded, and printed as numbers.
    let i = decode(0x00c5d553); // fadd.s with rm=5
    assert_eq!(disassemble(&i), "fadd.s fa0, fa1, fa2, 5");
}

#[test]
fn disassembles_every_halfword() {
    for w in 0..=0xffffu32 {
        let _ = disassemble(&decode(w));
    }
}

#[test]
fn disassembles_random_words() {
    // xorshift64*, fixed seed: every 16th of the words that
    // `decode::tests::never_panics_random_words` decodes.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    for n in 0..3_000_000u32 {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let w = (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32;
        if n % 16 == 0 {
            let _ = disassemble(&decode(w));
        }
    }
}

proptest::proptest! {
    #[test]
    fn disassembly_is_total(w in proptest::prelude::any::<u32>()) {
        proptest::prop_assert!(!disassemble(&decode(w)).is_empty());
    }
}
