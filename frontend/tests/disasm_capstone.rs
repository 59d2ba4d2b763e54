//! Cross-checks the decoder and disassembler against capstone 0.14
//! (capstone 5's RISC-V back end, generated from LLVM), in RV64 mode with the
//! C extension.
//!
//! Sample: all 65,536 halfwords (the 49,152 with `bits[1:0] != 11` are
//! compressed) and 200,000 pseudo-random 32-bit words (xorshift64*, fixed
//! seed, low two bits forced to `11`). Run with `--nocapture` for the
//! summary.
//!
//! # Normalization of capstone's text
//!
//! Our disassembler prints capstone's syntax except where capstone is
//! non-standard, so only capstone's side is normalized:
//!
//! * capstone always prints pseudo-instruction aliases (`nop`, `mv`, `j`,
//!   `ret`, `csrr`, `fmv.s`, `sext.w`, `beqz`, ... the complete list of
//!   `printAliasInstr` in `RISCVGenAsmWriter.inc`); [`dealias`] turns each
//!   back into the real instruction;
//! * JALR is printed by capstone as `jalr rd, rs1, imm`; the standard
//!   syntax is `jalr rd, imm(rs1)`;
//! * an empty FENCE set is `unknown` in capstone, `0` in ours (and GNU's);
//! * CSRs without a name are printed in decimal by capstone, in our
//!   immediate style (hex above 9) by us; capstone still names the CSRs of
//!   the removed N extension (`ustatus`, `uie`, ...) and `sedeleg`/`sideleg`,
//!   and calls 0x7b2 `dscratch` (now `dscratch0`); it also has `pmpaddr13`
//!   and `pmpaddr14` swapped (a bug in its table). Its table predates
//!   Privileged ISA 1.12, so it prints numbers for `menvcfg`, `senvcfg`,
//!   `mconfigptr`, `pmpcfg4..15`, `dscratch1`, ...: a number capstone prints
//!   is mapped to our name for it. These are mapped to ours.
//!
//! # Known text divergence (counted, not normalized)
//!
//! * C.NOP HINTs with a non-zero immediate (`c.addi zero, imm`): capstone
//!   prints plain `c.nop`, dropping the immediate.
//!
//! # Known divergences in what decodes (by design, not normalized)
//!
//! * F/D instructions with the reserved rounding modes 5 and 6: we decode
//!   them (the executor raises illegal-instruction, as `frm` must also be
//!   checked at run time); capstone rejects them.
//! * compressed HINTs with `rd = x0` (C.LI, C.LUI, C.MV, C.ADD, C.SLLI): we
//!   decode them to the base instruction writing x0 (a no-op), as the spec
//!   defines HINTs; capstone rejects them. It does accept `c.addi zero, imm`,
//!   printing `c.nop`.
//! * FENCE with `fm` other than 0000/1000 or non-zero rs1/rd, and FENCE.I
//!   with non-zero imm/rs1/rd: the spec says these fields are ignored (and
//!   reserved fm values act as plain fences); capstone rejects them.
//! * FCVT.D.S / FCVT.D.W / FCVT.D.WU with `rm != 0`: the conversion is
//!   exact, the spec does not reserve the rm field; capstone requires 000.
//! * Capstone accepts the all-zero halfword (`c.unimp`), which the spec
//!   defines as illegal, and C.LUI with `nzimm = 0`, which is reserved.
//!
//! See [`explain`] for the classification; the test prints a count per class.
//!
//! The test asserts that, on the words both accept, the normalized texts
//! agree (or differ only by the known C.NOP HINT divergence) on at least
//! 99.9% of them, and that every legality disagreement falls in one of the
//! known, explained classes.

use capstone::prelude::*;
use cranemu_frontend::decode::decode;
use cranemu_frontend::disasm::{csr_name, disassemble, fmt_imm};
use cranemu_frontend::Op;
use std::collections::BTreeMap;

fn capstone() -> Capstone {
    Capstone::new()
        .riscv()
        .mode(arch::riscv::ArchMode::RiscV64)
        .extra_mode([arch::riscv::ArchExtraMode::RiscVC].iter().copied())
        .build()
        .expect("capstone RISC-V 64 with C")
}

/// Capstone's text for one instruction, or `None` if it does not decode
/// it (or decodes a different length than the encoding says).
fn cs_text(cs: &Capstone, w: u32) -> Option<(String, String)> {
    let bytes: Vec<u8> = if w & 3 == 3 {
        w.to_le_bytes().to_vec()
    } else {
        (w as u16).to_le_bytes().to_vec()
    };
    let insns = cs.disasm_count(&bytes, 0, 1).ok()?;
    let i = insns.iter().next()?;
    if i.bytes().len() != bytes.len() {
        return None;
    }
    Some((
        i.mnemonic().unwrap_or("").to_string(),
        i.op_str().unwrap_or("").to_string(),
    ))
}

fn csr_fix(name: &str) -> String {
    let num = match name {
        "ustatus" => Some(0x000),
        "uie" => Some(0x004),
        "utvec" => Some(0x005),
        "uscratch" => Some(0x040),
        "uepc" => Some(0x041),
        "ucause" => Some(0x042),
        "utval" => Some(0x043),
        "uip" => Some(0x044),
        "sedeleg" => Some(0x102),
        "sideleg" => Some(0x103),
        _ => None,
    };
    if let Some(n) = num {
        return fmt_imm(n);
    }
    match name {
        "dscratch" => "dscratch0".into(),
        "pmpaddr13" => "pmpaddr14".into(),
        "pmpaddr14" => "pmpaddr13".into(),
        s if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            let n = s.parse::<u16>().unwrap_or(u16::MAX);
            csr_name(n).map_or_else(|| fmt_imm(n as i64), str::to_string)
        }
        s => s.into(),
    }
}

/// Turns capstone's alias output back into the real instruction, in our
/// syntax. Returns the normalized text.
fn dealias(mn: &str, ops: &str) -> String {
    let o: Vec<String> = if ops.trim().is_empty() {
        Vec::new()
    } else {
        ops.split(", ").map(|s| s.trim().to_string()).collect()
    };
    let o: Vec<&str> = o.iter().map(String::as_str).collect();
    let j = |m: &str, ops: &[&str]| -> String {
        if ops.is_empty() {
            m.to_string()
        } else {
            format!("{m} {}", ops.join(", "))
        }
    };
    let csr_op = |m: &str, rd: &str, csr: &str, src: &str| j(m, &[rd, &csr_fix(csr), src]);
    match (mn, o.as_slice()) {
        ("nop", []) => "addi zero, zero, 0".into(),
        ("mv", [a, b]) => j("addi", &[a, b, "0"]),
        ("not", [a, b]) => j("xori", &[a, b, "-1"]),
        ("neg", [a, b]) => j("sub", &[a, "zero", b]),
        ("negw", [a, b]) => j("subw", &[a, "zero", b]),
        ("sext.w", [a, b]) => j("addiw", &[a, b, "0"]),
        ("seqz", [a, b]) => j("sltiu", &[a, b, "1"]),
        ("snez", [a, b]) => j("sltu", &[a, "zero", b]),
        ("sltz", [a, b]) => j("slt", &[a, b, "zero"]),
        ("sgtz", [a, b]) => j("slt", &[a, "zero", b]),
        ("beqz", [a, t]) => j("beq", &[a, "zero", t]),
        ("bnez", [a, t]) => j("bne", &[a, "zero", t]),
        ("blez", [a, t]) => j("bge", &["zero", a, t]),
        ("bgez", [a, t]) => j("bge", &[a, "zero", t]),
        ("bltz", [a, t]) => j("blt", &[a, "zero", t]),
        ("bgtz", [a, t]) => j("blt", &["zero", a, t]),
        ("j", [t]) => j("jal", &["zero", t]),
        ("jal", [t]) => j("jal", &["ra", t]),
        ("jr", [r]) => format!("jalr zero, 0({r})"),
        ("jalr", [r]) => format!("jalr ra, 0({r})"),
        ("ret", []) => "jalr zero, 0(ra)".into(),
        ("jalr", [rd, rs1, imm]) => format!("jalr {rd}, {imm}({rs1})"),
        ("fence", []) => "fence iorw, iorw".into(),
        ("fence", [p, s]) => {
            let f = |x: &str| {
                if x == "unknown" {
                    "0".to_string()
                } else {
                    x.to_string()
                }
            };
            j("fence", &[&f(p), &f(s)])
        }
        ("sfence.vma", []) => "sfence.vma zero, zero".into(),
        ("sfence.vma", [r]) => j("sfence.vma", &[r, "zero"]),
        ("csrr", [rd, c]) => csr_op("csrrs", rd, c, "zero"),
        ("csrw", [c, rs]) => csr_op("csrrw", "zero", c, rs),
        ("csrs", [c, rs]) => csr_op("csrrs", "zero", c, rs),
        ("csrc", [c, rs]) => csr_op("csrrc", "zero", c, rs),
        ("csrwi", [c, i]) => csr_op("csrrwi", "zero", c, i),
        ("csrsi", [c, i]) => csr_op("csrrsi", "zero", c, i),
        ("csrci", [c, i]) => csr_op("csrrci", "zero", c, i),
        ("csrrw" | "csrrs" | "csrrc" | "csrrwi" | "csrrsi" | "csrrci", [rd, c, s]) => {
            csr_op(mn, rd, c, s)
        }
        ("rdcycle", [rd]) => j("csrrs", &[rd, "cycle", "zero"]),
        ("rdtime", [rd]) => j("csrrs", &[rd, "time", "zero"]),
        ("rdinstret", [rd]) => j("csrrs", &[rd, "instret", "zero"]),
        ("rdcycleh", [rd]) => j("csrrs", &[rd, "cycleh", "zero"]),
        ("rdtimeh", [rd]) => j("csrrs", &[rd, "timeh", "zero"]),
        ("rdinstreth", [rd]) => j("csrrs", &[rd, "instreth", "zero"]),
        ("frcsr", [rd]) => j("csrrs", &[rd, "fcsr", "zero"]),
        ("frflags", [rd]) => j("csrrs", &[rd, "fflags", "zero"]),
        ("frrm", [rd]) => j("csrrs", &[rd, "frm", "zero"]),
        ("fscsr", [rd, rs]) => j("csrrw", &[rd, "fcsr", rs]),
        ("fscsr", [rs]) => j("csrrw", &["zero", "fcsr", rs]),
        ("fsflags", [rd, rs]) => j("csrrw", &[rd, "fflags", rs]),
        ("fsflags", [rs]) => j("csrrw", &["zero", "fflags", rs]),
        ("fsrm", [rd, rs]) => j("csrrw", &[rd, "frm", rs]),
        ("fsrm", [rs]) => j("csrrw", &["zero", "frm", rs]),
        ("fsflagsi", [rd, i]) => j("csrrwi", &[rd, "fflags", i]),
        ("fsflagsi", [i]) => j("csrrwi", &["zero", "fflags", i]),
        ("fsrmi", [rd, i]) => j("csrrwi", &[rd, "frm", i]),
        ("fsrmi", [i]) => j("csrrwi", &["zero", "frm", i]),
        ("fmv.s", [a, b]) => j("fsgnj.s", &[a, b, b]),
        ("fneg.s", [a, b]) => j("fsgnjn.s", &[a, b, b]),
        ("fabs.s", [a, b]) => j("fsgnjx.s", &[a, b, b]),
        ("fmv.d", [a, b]) => j("fsgnj.d", &[a, b, b]),
        ("fneg.d", [a, b]) => j("fsgnjn.d", &[a, b, b]),
        ("fabs.d", [a, b]) => j("fsgnjx.d", &[a, b, b]),
        _ => j(mn, &o),
    }
}

/// Why a legality disagreement is expected, or `None` if it is not.
/// `ours` is `true` when we decode the word and capstone does not.
fn explain(w: u32, ours: bool) -> Option<&'static str> {
    let i = decode(w);
    if ours {
        let fp_rm = matches!(
            i.op,
            Op::FmaddS
                | Op::FmsubS
                | Op::FnmsubS
                | Op::FnmaddS
                | Op::FmaddD
                | Op::FmsubD
                | Op::FnmsubD
                | Op::FnmaddD
        ) || (w & 0x7f == 0x53);
        if fp_rm && (i.rm == 5 || i.rm == 6) {
            return Some("F/D with reserved rm 5/6: decoded, trapped at execution");
        }
        if matches!(i.op, Op::FcvtDS | Op::FcvtDW | Op::FcvtDWu) && i.rm != 0 {
            return Some("exact FCVT.D.{S,W,WU} with rm != 0: capstone requires rm = 000");
        }
        if i.op == Op::Fence && (w >> 28 != 0 || w & 0x000f_8f80 != 0) {
            return Some("FENCE with fm != 0 or rs1/rd != 0: spec says ignore");
        }
        if i.op == Op::FenceI && w != 0x0000_100f {
            return Some("FENCE.I with imm/rs1/rd != 0: spec says ignore");
        }
        if i.len == 2 && i.op == Op::Addi && i.rd == 0 && i.imm != 0 {
            return Some("C.NOP HINT (nzimm != 0)");
        }
        if i.len == 2 && i.rd == 0 && matches!(i.op, Op::Lui | Op::Addi | Op::Slli | Op::Add) {
            return Some("compressed HINT with rd = x0");
        }
        if i.len == 2 && matches!(i.op, Op::Slli | Op::Srli | Op::Srai | Op::Addi) {
            return Some("compressed HINT (shift by 0 or C.ADDI with imm 0)");
        }
        None
    } else {
        if w & 0xffff == 0 && w & 3 != 3 {
            return Some("all-zero halfword: defined illegal (capstone: c.unimp)");
        }
        if w & 0xe003 == 0x6001 && w & 0x107c == 0 {
            return Some("C.LUI with nzimm = 0: reserved");
        }
        None
    }
}

#[test]
fn disassembly_matches_capstone() {
    let cs = capstone();
    let mut words: Vec<u32> = (0..=0xffffu32).collect();
    let mut s: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..200_000 {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        words.push((s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32 | 3);
    }

    let (mut both, mut agree, mut neither, mut nop_hints) = (0u64, 0u64, 0u64, 0u64);
    let mut mismatches: Vec<String> = Vec::new();
    let mut mismatch_kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut only_ours: BTreeMap<String, (u64, u32)> = BTreeMap::new();
    let mut only_cs: BTreeMap<String, (u64, u32)> = BTreeMap::new();
    let mut unexplained: Vec<String> = Vec::new();

    for &w in &words {
        let ours = decode(w);
        let theirs = cs_text(&cs, w);
        match (ours.op != Op::Illegal, theirs) {
            (true, Some((mn, ops))) => {
                both += 1;
                let a = disassemble(&ours);
                let b = dealias(&mn, &ops);
                if a == b {
                    agree += 1;
                } else if b == "c.nop" && ours.len == 2 && ours.op == Op::Addi && ours.rd == 0 {
                    nop_hints += 1;
                } else {
                    *mismatch_kinds
                        .entry(format!("{} vs {}", ours.op.mnemonic(), mn))
                        .or_default() += 1;
                    if mismatches.len() < 40 {
                        mismatches.push(format!(
                            "{w:#010x}: ours {a:?}, capstone {b:?} (raw {mn} {ops})"
                        ));
                    }
                }
            }
            (true, None) => {
                let why = explain(w, true);
                let key = why.map_or_else(|| disassemble(&ours), str::to_string);
                let e = only_ours.entry(key).or_insert((0, w));
                e.0 += 1;
                if why.is_none() && unexplained.len() < 40 {
                    unexplained.push(format!(
                        "{w:#010x}: we decode {:?}, capstone does not",
                        disassemble(&ours)
                    ));
                }
            }
            (false, Some((mn, ops))) => {
                let why = explain(w, false);
                let key = why.map_or_else(|| mn.clone(), str::to_string);
                let e = only_cs.entry(key).or_insert((0, w));
                e.0 += 1;
                if why.is_none() && unexplained.len() < 40 {
                    unexplained.push(format!(
                        "{w:#010x}: capstone decodes {mn} {ops}, we say illegal"
                    ));
                }
            }
            (false, None) => neither += 1,
        }
    }

    let total = words.len() as u64;
    println!(
        "capstone comparison over {total} words ({} halfwords + {} random 32-bit words)",
        65536, 200_000
    );
    println!("  both decode:      {both}");
    println!(
        "  texts agree:      {agree} ({:.4}%)",
        100.0 * agree as f64 / both.max(1) as f64
    );
    println!("  known text divergence (C.NOP HINT, capstone drops the immediate): {nop_hints}");
    println!("  neither decodes:  {neither}");
    println!(
        "  only we decode:   {}",
        only_ours.values().map(|v| v.0).sum::<u64>()
    );
    for (k, (n, w)) in &only_ours {
        println!("      {n:6}  {k}   (e.g. {w:#010x})");
    }
    println!(
        "  only capstone:    {}",
        only_cs.values().map(|v| v.0).sum::<u64>()
    );
    for (k, (n, w)) in &only_cs {
        println!("      {n:6}  {k}   (e.g. {w:#010x})");
    }
    println!("  text mismatches by kind:");
    for (k, n) in &mismatch_kinds {
        println!("      {n:6}  {k}");
    }
    for m in &mismatches {
        println!("    {m}");
    }
    for u in &unexplained {
        println!("    UNEXPLAINED {u}");
    }

    assert!(
        (agree + nop_hints) as f64 >= 0.999 * both as f64,
        "only {agree} of {both} texts agree"
    );
    assert!(
        unexplained.is_empty(),
        "unexplained legality disagreements (see output)"
    );
}
