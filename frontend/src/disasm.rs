//! Disassembler: prints a decoded [`Insn`] in standard RISC-V assembly
//! syntax, driven by the same rows as the decoder ([`crate::decode`]).
//!
//! # Output conventions
//!
//! The text is what capstone (LLVM's RISC-V printer) prints, *without* its
//! pseudo-instruction aliases: every instruction is printed as its real
//! mnemonic with all operands (`addi zero, zero, 0`, never `nop`;
//! `jal ra, 0x800`, never `jal 0x800`), as GNU objdump does with
//! `-M no-aliases`. In detail:
//!
//! * ABI register names (`zero, ra, sp, gp, tp, t0-t2, s0, s1, a0-a7,
//!   s2-s11, t3-t6`; `ft0-ft7, fs0, fs1, fa0-fa7, fs2-fs11, ft8-ft11`);
//!   operands are separated by `", "`.
//! * Immediates as capstone prints them: decimal from -9 to 9, otherwise
//!   hexadecimal with a sign (`0x7ff`, `-0x800`).
//! * Branch and jump targets are the byte offset relative to the
//!   instruction (`beq a0, a1, 0x10`, `c.j -0x800`).
//! * LUI/AUIPC/C.LUI print the 20-bit (6-bit for C.LUI) upper-immediate
//!   field, as the assembler takes it (`lui a0, 0x12345`, `c.lui t0, 0xfffe0`).
//! * Memory operands as `offset(base)`, also for JALR (`jalr ra, 0x10(a0)`;
//!   capstone prints `jalr ra, a0, 0x10`).
//! * CSRs by name when the Privileged ISA (version 1.12, chapter 2 "Control
//!   and Status Registers", tables 2.2-2.6) names them, else as a number.
//! * Rounding modes (`rne, rtz, rdn, rup, rmm`) only when not `dyn` (7), the
//!   reserved values 5 and 6 as numbers; for the always-exact conversions
//!   (FCVT.D.S, FCVT.D.W(U)) only when non-zero.
//! * FENCE as `fence pred, succ` with `iorw` letters (`0` for an empty set).
//! * Compressed instructions in their own `c.` syntax, with the operands the
//!   assembler takes (`c.addi a0, 1`, `c.lwsp a0, 0xfc(sp)`, `c.jr ra`).
//! * Illegal encodings as `.4byte 0x...` / `.2byte 0x...`.

use std::fmt::Write;

use crate::decode::{base_row, lookup, Format, Row};
use crate::insn::{Insn, Op};

/// ABI names of the integer registers x0..x31 (Unprivileged ISA, chapter 25
/// "RISC-V Assembly Programmer's Handbook", table 25.1).
pub const XREG_NAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

/// ABI names of the floating-point registers f0..f31 (table 25.1).
pub const FREG_NAMES: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

/// ABI name of integer register `r` (only the low 5 bits are used).
pub fn xreg(r: u8) -> &'static str {
    XREG_NAMES[(r & 31) as usize]
}

/// ABI name of floating-point register `r` (only the low 5 bits are used).
pub fn freg(r: u8) -> &'static str {
    FREG_NAMES[(r & 31) as usize]
}

/// Name of the rounding mode `rm` (Unprivileged ISA, section 11.2, table
/// 11.1), or `None` for the reserved values 5 and 6.
pub fn rm_name(rm: u8) -> Option<&'static str> {
    match rm {
        0 => Some("rne"),
        1 => Some("rtz"),
        2 => Some("rdn"),
        3 => Some("rup"),
        4 => Some("rmm"),
        7 => Some("dyn"),
        _ => None,
    }
}

/// Standard name of CSR `csr`, if the Privileged ISA (version 1.12, tables
/// 2.2-2.6) or the F extension (fflags/frm/fcsr) defines one. RV32-only
/// high halves (`cycleh` ...) are named too, since the number is still
/// meaningful in a disassembly.
pub fn csr_name(csr: u16) -> Option<&'static str> {
    const HPMCOUNTER: [&str; 29] = [
        "hpmcounter3",
        "hpmcounter4",
        "hpmcounter5",
        "hpmcounter6",
        "hpmcounter7",
        "hpmcounter8",
        "hpmcounter9",
        "hpmcounter10",
        "hpmcounter11",
        "hpmcounter12",
        "hpmcounter13",
        "hpmcounter14",
        "hpmcounter15",
        "hpmcounter16",
        "hpmcounter17",
        "hpmcounter18",
        "hpmcounter19",
        "hpmcounter20",
        "hpmcounter21",
        "hpmcounter22",
        "hpmcounter23",
        "hpmcounter24",
        "hpmcounter25",
        "hpmcounter26",
        "hpmcounter27",
        "hpmcounter28",
        "hpmcounter29",
        "hpmcounter30",
        "hpmcounter31",
    ];
    const HPMCOUNTERH: [&str; 29] = [
        "hpmcounter3h",
        "hpmcounter4h",
        "hpmcounter5h",
        "hpmcounter6h",
        "hpmcounter7h",
        "hpmcounter8h",
        "hpmcounter9h",
        "hpmcounter10h",
        "hpmcounter11h",
        "hpmcounter12h",
        "hpmcounter13h",
        "hpmcounter14h",
        "hpmcounter15h",
        "hpmcounter16h",
        "hpmcounter17h",
        "hpmcounter18h",
        "hpmcounter19h",
        "hpmcounter20h",
        "hpmcounter21h",
        "hpmcounter22h",
        "hpmcounter23h",
        "hpmcounter24h",
        "hpmcounter25h",
        "hpmcounter26h",
        "hpmcounter27h",
        "hpmcounter28h",
        "hpmcounter29h",
        "hpmcounter30h",
        "hpmcounter31h",
    ];
    const MHPMCOUNTER: [&str; 29] = [
        "mhpmcounter3",
        "mhpmcounter4",
        "mhpmcounter5",
        "mhpmcounter6",
        "mhpmcounter7",
        "mhpmcounter8",
        "mhpmcounter9",
        "mhpmcounter10",
        "mhpmcounter11",
        "mhpmcounter12",
        "mhpmcounter13",
        "mhpmcounter14",
        "mhpmcounter15",
        "mhpmcounter16",
        "mhpmcounter17",
        "mhpmcounter18",
        "mhpmcounter19",
        "mhpmcounter20",
        "mhpmcounter21",
        "mhpmcounter22",
        "mhpmcounter23",
        "mhpmcounter24",
        "mhpmcounter25",
        "mhpmcounter26",
        "mhpmcounter27",
        "mhpmcounter28",
        "mhpmcounter29",
        "mhpmcounter30",
        "mhpmcounter31",
    ];
    const MHPMCOUNTERH: [&str; 29] = [
        "mhpmcounter3h",
        "mhpmcounter4h",
        "mhpmcounter5h",
        "mhpmcounter6h",
        "mhpmcounter7h",
        "mhpmcounter8h",
        "mhpmcounter9h",
        "mhpmcounter10h",
        "mhpmcounter11h",
        "mhpmcounter12h",
        "mhpmcounter13h",
        "mhpmcounter14h",
        "mhpmcounter15h",
        "mhpmcounter16h",
        "mhpmcounter17h",
        "mhpmcounter18h",
        "mhpmcounter19h",
        "mhpmcounter20h",
        "mhpmcounter21h",
        "mhpmcounter22h",
        "mhpmcounter23h",
        "mhpmcounter24h",
        "mhpmcounter25h",
        "mhpmcounter26h",
        "mhpmcounter27h",
        "mhpmcounter28h",
        "mhpmcounter29h",
        "mhpmcounter30h",
        "mhpmcounter31h",
    ];
    const MHPMEVENT: [&str; 29] = [
        "mhpmevent3",
        "mhpmevent4",
        "mhpmevent5",
        "mhpmevent6",
        "mhpmevent7",
        "mhpmevent8",
        "mhpmevent9",
        "mhpmevent10",
        "mhpmevent11",
        "mhpmevent12",
        "mhpmevent13",
        "mhpmevent14",
        "mhpmevent15",
        "mhpmevent16",
        "mhpmevent17",
        "mhpmevent18",
        "mhpmevent19",
        "mhpmevent20",
        "mhpmevent21",
        "mhpmevent22",
        "mhpmevent23",
        "mhpmevent24",
        "mhpmevent25",
        "mhpmevent26",
        "mhpmevent27",
        "mhpmevent28",
        "mhpmevent29",
        "mhpmevent30",
        "mhpmevent31",
    ];
    const PMPCFG: [&str; 16] = [
        "pmpcfg0", "pmpcfg1", "pmpcfg2", "pmpcfg3", "pmpcfg4", "pmpcfg5", "pmpcfg6", "pmpcfg7",
        "pmpcfg8", "pmpcfg9", "pmpcfg10", "pmpcfg11", "pmpcfg12", "pmpcfg13", "pmpcfg14",
        "pmpcfg15",
    ];
    const PMPADDR: [&str; 16] = [
        "pmpaddr0",
        "pmpaddr1",
        "pmpaddr2",
        "pmpaddr3",
        "pmpaddr4",
        "pmpaddr5",
        "pmpaddr6",
        "pmpaddr7",
        "pmpaddr8",
        "pmpaddr9",
        "pmpaddr10",
        "pmpaddr11",
        "pmpaddr12",
        "pmpaddr13",
        "pmpaddr14",
        "pmpaddr15",
    ];
    let c = csr as usize;
    Some(match csr {
        0x001 => "fflags",
        0x002 => "frm",
        0x003 => "fcsr",
        0xc00 => "cycle",
        0xc01 => "time",
        0xc02 => "instret",
        0xc03..=0xc1f => HPMCOUNTER[c - 0xc03],
        0xc80 => "cycleh",
        0xc81 => "timeh",
        0xc82 => "instreth",
        0xc83..=0xc9f => HPMCOUNTERH[c - 0xc83],
        0x100 => "sstatus",
        0x104 => "sie",
        0x105 => "stvec",
        0x106 => "scounteren",
        0x10a => "senvcfg",
        0x140 => "sscratch",
        0x141 => "sepc",
        0x142 => "scause",
        0x143 => "stval",
        0x144 => "sip",
        0x180 => "satp",
        0xf11 => "mvendorid",
        0xf12 => "marchid",
        0xf13 => "mimpid",
        0xf14 => "mhartid",
        0xf15 => "mconfigptr",
        0x300 => "mstatus",
        0x301 => "misa",
        0x302 => "medeleg",
        0x303 => "mideleg",
        0x304 => "mie",
        0x305 => "mtvec",
        0x306 => "mcounteren",
        0x30a => "menvcfg",
        0x320 => "mcountinhibit",
        0x323..=0x33f => MHPMEVENT[c - 0x323],
        0x340 => "mscratch",
        0x341 => "mepc",
        0x342 => "mcause",
        0x343 => "mtval",
        0x344 => "mip",
        0x34a => "mtinst",
        0x34b => "mtval2",
        0x3a0..=0x3af => PMPCFG[c - 0x3a0],
        0x3b0..=0x3bf => PMPADDR[c - 0x3b0],
        0xb00 => "mcycle",
        0xb02 => "minstret",
        0xb03..=0xb1f => MHPMCOUNTER[c - 0xb03],
        0xb80 => "mcycleh",
        0xb82 => "minstreth",
        0xb83..=0xb9f => MHPMCOUNTERH[c - 0xb83],
        0x7a0 => "tselect",
        0x7a1 => "tdata1",
        0x7a2 => "tdata2",
        0x7a3 => "tdata3",
        0x7b0 => "dcsr",
        0x7b1 => "dpc",
        0x7b2 => "dscratch0",
        0x7b3 => "dscratch1",
        _ => return None,
    })
}

/// Formats an immediate the way capstone does: decimal in -9..=9, signed
/// hexadecimal otherwise.
pub fn fmt_imm(v: i64) -> String {
    if (-9..=9).contains(&v) {
        v.to_string()
    } else if v < 0 {
        format!("-{:#x}", v.unsigned_abs())
    } else {
        format!("{v:#x}")
    }
}

fn fence_set(bits: i64) -> String {
    let mut s = String::new();
    for (bit, c) in [(8, 'i'), (4, 'o'), (2, 'r'), (1, 'w')] {
        if bits & bit != 0 {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('0');
    }
    s
}

fn csr_str(csr: u16) -> String {
    match csr_name(csr) {
        Some(n) => n.to_string(),
        None => fmt_imm(csr as i64),
    }
}

/// The row to print `insn` with: the row its raw bits decode by, if that
/// agrees with `insn.op` and `insn.len`, else the base row of the op (for
/// instructions built by hand).
fn row_for(insn: &Insn) -> Option<&'static Row> {
    match lookup(insn.raw) {
        Some((row, d)) if d.op == insn.op && d.len == insn.len => Some(row),
        _ => base_row(insn.op),
    }
}

/// Standard RISC-V assembly syntax for `insn` (see the module doc for the
/// exact conventions), e.g. `"addi a0, a0, 1"`, `"ld ra, 8(sp)"`,
/// `"c.addi a0, 1"`, `"beq a0, a1, 0x10"`.
pub fn disassemble(insn: &Insn) -> String {
    let row = match (insn.op, row_for(insn)) {
        (Op::Illegal, _) | (_, None) => {
            return if insn.len == 2 {
                format!(".2byte {:#06x}", insn.raw & 0xffff)
            } else {
                format!(".4byte {:#010x}", insn.raw)
            };
        }
        (_, Some(r)) => r,
    };
    let mut s = String::from(row.mnemonic);
    let (x, f) = (xreg, freg);
    let imm = fmt_imm(insn.imm);
    let rm_opt = |always_exact: bool| -> String {
        let show = if always_exact {
            insn.rm != 0
        } else {
            insn.rm != 7
        };
        if !show {
            String::new()
        } else {
            match rm_name(insn.rm) {
                Some(n) => format!(", {n}"),
                None => format!(", {}", insn.rm),
            }
        }
    };
    let ops: String = match row.format {
        Format::U => format!("{}, {}", x(insn.rd), fmt_imm((insn.imm >> 12) & 0xfffff)),
        Format::J => format!("{}, {imm}", x(insn.rd)),
        Format::B => format!("{}, {}, {imm}", x(insn.rs1), x(insn.rs2)),
        Format::I | Format::Shift64 | Format::Shift32 => {
            format!("{}, {}, {imm}", x(insn.rd), x(insn.rs1))
        }
        Format::Load | Format::Jalr => format!("{}, {imm}({})", x(insn.rd), x(insn.rs1)),
        Format::FLoad => format!("{}, {imm}({})", f(insn.rd), x(insn.rs1)),
        Format::Store => format!("{}, {imm}({})", x(insn.rs2), x(insn.rs1)),
        Format::FStore => format!("{}, {imm}({})", f(insn.rs2), x(insn.rs1)),
        Format::R => format!("{}, {}, {}", x(insn.rd), x(insn.rs1), x(insn.rs2)),
        Format::Fence => {
            format!(
                "{}, {}",
                fence_set(insn.imm >> 4 & 0xf),
                fence_set(insn.imm & 0xf)
            )
        }
        Format::None | Format::CNop => String::new(),
        Format::SfenceVma => format!("{}, {}", x(insn.rs1), x(insn.rs2)),
        Format::CsrReg => format!("{}, {}, {}", x(insn.rd), csr_str(insn.csr), x(insn.rs1)),
        Format::CsrImm => format!("{}, {}, {imm}", x(insn.rd), csr_str(insn.csr)),
        Format::Lr | Format::Amo => {
            match (insn.aq, insn.rl) {
                (true, true) => s.push_str(".aqrl"),
                (true, false) => s.push_str(".aq"),
                (false, true) => s.push_str(".rl"),
                (false, false) => {}
            }
            if row.format == Format::Lr {
                format!("{}, ({})", x(insn.rd), x(insn.rs1))
            } else {
                format!("{}, {}, ({})", x(insn.rd), x(insn.rs2), x(insn.rs1))
            }
        }
        Format::R4 => format!(
            "{}, {}, {}, {}{}",
            f(insn.rd),
            f(insn.rs1),
            f(insn.rs2),
            f(insn.rs3),
            rm_opt(false)
        ),
        Format::FR3Rm => {
            format!(
                "{}, {}, {}{}",
                f(insn.rd),
                f(insn.rs1),
                f(insn.rs2),
                rm_opt(false)
            )
        }
        Format::FR3 => format!("{}, {}, {}", f(insn.rd), f(insn.rs1), f(insn.rs2)),
        Format::FR2Rm => format!("{}, {}{}", f(insn.rd), f(insn.rs1), rm_opt(false)),
        Format::FR2Exact => format!("{}, {}{}", f(insn.rd), f(insn.rs1), rm_opt(true)),
        Format::FCmp => format!("{}, {}, {}", x(insn.rd), f(insn.rs1), f(insn.rs2)),
        Format::FToXRm => format!("{}, {}{}", x(insn.rd), f(insn.rs1), rm_opt(false)),
        Format::FToX => format!("{}, {}", x(insn.rd), f(insn.rs1)),
        Format::XToFRm => format!("{}, {}{}", f(insn.rd), x(insn.rs1), rm_opt(false)),
        Format::XToFExact => format!("{}, {}{}", f(insn.rd), x(insn.rs1), rm_opt(true)),
        Format::XToF => format!("{}, {}", f(insn.rd), x(insn.rs1)),
        Format::CAddi4spn => format!("{}, sp, {imm}", x(insn.rd)),
        Format::CLw | Format::CLd | Format::CLwsp | Format::CLdsp => {
            format!("{}, {imm}({})", x(insn.rd), x(insn.rs1))
        }
        Format::CFld | Format::CFldsp => format!("{}, {imm}({})", f(insn.rd), x(insn.rs1)),
        Format::CSw | Format::CSd | Format::CSwsp | Format::CSdsp => {
            format!("{}, {imm}({})", x(insn.rs2), x(insn.rs1))
        }
        Format::CFsd | Format::CFsdsp => format!("{}, {imm}({})", f(insn.rs2), x(insn.rs1)),
        Format::CAddi
        | Format::CAddiw
        | Format::CLi
        | Format::CShiftR
        | Format::CAndi
        | Format::CSlli => format!("{}, {imm}", x(insn.rd)),
        Format::CAddi16sp => format!("sp, {imm}"),
        Format::CLui => format!("{}, {}", x(insn.rd), fmt_imm((insn.imm >> 12) & 0xfffff)),
        Format::CA | Format::CMv | Format::CAdd => format!("{}, {}", x(insn.rd), x(insn.rs2)),
        Format::CJ => imm,
        Format::CB => format!("{}, {imm}", x(insn.rs1)),
        Format::CJr | Format::CJalr => x(insn.rs1).to_string(),
    };
    if !ops.is_empty() {
        let _ = write!(s, " {ops}");
    }
    s
}

/// Decodes `bits` (see [`crate::decode::decode`]) and disassembles the result.
pub fn disassemble_bits(bits: u32) -> String {
    disassemble(&crate::decode::decode(bits))
}

#[cfg(test)]
mod tests;
