//! Table-driven RV64GC decoder.
//!
//! # Design
//!
//! Like QEMU's `target/riscv/insn32.decode` / `insn16.decode`, every
//! instruction is one [`Row`]: a `mask`/`bits` pair that selects the
//! encoding, the [`Op`] it decodes to, the [`Format`] that says how operands
//! are extracted (and printed), and the mnemonic. There is one table per
//! extension ([`RV64I`], [`ZIFENCEI`], [`ZICSR`], [`RV64M`], [`RV64A`],
//! [`RV64F`], [`RV64D`], [`PRIV`], and the compressed quadrants [`C_Q0`],
//! [`C_Q1`], [`C_Q2`]); [`TABLES`] lists them. The same rows drive
//! [`decode`], the disassembler ([`crate::disasm`]) and the coverage tests.
//!
//! # Lookup
//!
//! At first use the rows are sorted into buckets (built once, in a
//! [`OnceLock`]): 32 buckets for 32-bit instructions, indexed by the major
//! opcode `bits[6:2]` (RISC-V Unprivileged ISA, chapter 24 "RV32/64G
//! Instruction Set Listings", table 24.1), and 24 for compressed ones,
//! indexed by quadrant `bits[1:0]` and `funct3 = bits[15:13]` (chapter 16,
//! table 16.4). Each bucket holds a handful of rows ordered from the most to
//! the least specific mask (most mask bits first), so the first row that
//! matches wins: C.EBREAK before C.JALR before C.ADD, C.ADDI16SP before
//! C.LUI, FENCE.TSO before FENCE. A test checks that no two rows with the
//! same number of mask bits overlap, so the order is never ambiguous.
//!
//! # Reserved encodings
//!
//! Encodings that no row matches are [`Op::Illegal`]. Encodings that a row
//! matches but the spec reserves (C.ADDI4SPN with `nzuimm = 0`, the
//! all-zero halfword among them; C.ADDI16SP and C.LUI with a zero immediate;
//! C.ADDIW, C.LWSP and C.LDSP with `rd = x0`; C.JR with `rs1 = x0`) are
//! rejected by the row's format ([`Format::extract`] returns `None`), which
//! also gives `Illegal`: no later row is tried. HINT encodings (C.NOP with a
//! non-zero immediate, C.LI/C.LUI/C.MV/C.ADD/C.SLLI with `rd = x0`, shifts by
//! zero) decode to the base instruction they expand to, which writes x0 and
//! so executes as a no-op.
//!
//! Other conventions: fmt fields other than S (00) and D (01) (that is, H and
//! Q) match no row; the rounding mode is *not* validated here (`rm` 5 and 6
//! decode, and must trap at execution); FENCE accepts any pred/succ/fm and
//! ignores rd/rs1; FENCE.I ignores its imm/rs1/rd fields, as the spec asks;
//! lengths of 48 bits and more (`bits[4:2] = 111` with `bits[1:0] = 11`)
//! are `Illegal` with `len = 4`.
//!
//! # Files
//!
//! This file holds the lookup ([`decode`], [`lookup`], [`candidates`],
//! [`base_row`]) and the list of tables ([`TABLES`]). [`Row`] and the
//! constants the tables are written with are in `decode/row.rs`, operand
//! extraction ([`Format`]) in `decode/format.rs`, and the tables in one
//! file per extension group: `rv64i.rs` (RV64I, Zifencei), `rv64ma.rs` (M,
//! A), `rv64fd.rs` (F, D), `system.rs` (Zicsr, privileged) and
//! `compressed.rs` (the three C quadrants). Dependencies go one way:
//! [`crate::insn`] <- `format` <- `row` <- the tables <- this file.

use std::sync::OnceLock;

use crate::insn::{Insn, Op};

mod compressed;
mod format;
mod row;
mod rv64fd;
mod rv64i;
mod rv64ma;
mod system;
#[cfg(test)]
mod tests;

pub use compressed::{C_Q0, C_Q1, C_Q2};
pub use format::Format;
pub use row::Row;
pub use rv64fd::{RV64D, RV64F};
pub use rv64i::{RV64I, ZIFENCEI};
pub use rv64ma::{RV64A, RV64M};
pub use system::{PRIV, ZICSR};

use format::field;

/// Every table, with its name: RV64I, Zifencei, Zicsr, M, A, F, D,
/// privileged, and the three compressed quadrants.
pub static TABLES: &[(&str, &[Row])] = &[
    ("RV64I", RV64I),
    ("Zifencei", ZIFENCEI),
    ("Zicsr", ZICSR),
    ("M", RV64M),
    ("A", RV64A),
    ("F", RV64F),
    ("D", RV64D),
    ("privileged", PRIV),
    ("C quadrant 0", C_Q0),
    ("C quadrant 1", C_Q1),
    ("C quadrant 2", C_Q2),
];

/// Iterates over every row of every table.
pub fn all_rows() -> impl Iterator<Item = &'static Row> {
    TABLES.iter().flat_map(|(_, rows)| rows.iter())
}

// ---------------------------------------------------------------------------
// Lookup.

/// Buckets 0..32: 32-bit instructions by `bits[6:2]`; 32..56: compressed
/// instructions by `quadrant * 8 + funct3`.
const NBUCKETS: usize = 32 + 3 * 8;

struct Index {
    buckets: Vec<Vec<&'static Row>>,
    /// For [`base_row`]: the first 32-bit row of each op.
    base: Vec<Option<&'static Row>>,
}

#[inline(always)]
fn bucket_of(raw: u32) -> usize {
    if raw & 3 == 3 {
        field(raw, 6, 2) as usize
    } else {
        32 + (raw & 3) as usize * 8 + field(raw, 15, 13) as usize
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut buckets: Vec<Vec<&'static Row>> = vec![Vec::new(); NBUCKETS];
        let mut base: Vec<Option<&'static Row>> = vec![None; Op::COUNT];
        for r in all_rows() {
            buckets[bucket_of(r.bits)].push(r);
            if !r.is_compressed() && base[r.op as usize].is_none() {
                base[r.op as usize] = Some(r);
            }
        }
        for b in &mut buckets {
            // Most specific first; the sort is stable, so table order breaks
            // ties (and a test checks that ties never overlap).
            b.sort_by_key(|r| std::cmp::Reverse(r.mask.count_ones()));
        }
        Index { buckets, base }
    })
}

/// The rows that could match `raw` (same major opcode, or same compressed
/// quadrant and funct3), most specific first.
pub fn candidates(raw: u32) -> &'static [&'static Row] {
    let raw = if raw & 3 == 3 { raw } else { raw & 0xffff };
    if raw & 0x1f == 0x1f {
        // 48-bit and longer encodings (section 1.5): none are supported.
        return &[];
    }
    &index().buckets[bucket_of(raw)]
}

/// Decodes `bits` and also returns the [`Row`] that matched, or `None` if
/// the encoding is illegal or reserved.
#[inline]
pub fn lookup(bits: u32) -> Option<(&'static Row, Insn)> {
    let raw = if bits & 3 == 3 { bits } else { bits & 0xffff };
    let row = candidates(raw).iter().find(|r| r.matches(raw))?;
    let insn = row.format.extract(row.op, raw)?;
    Some((row, insn))
}

/// Decode the instruction whose first bytes are `bits` (little-endian; if
/// `bits & 3 != 3` only the low 16 bits are used and it is a compressed
/// instruction). Never panics; reserved/illegal encodings give
/// `op == Op::Illegal` (with len 2 or 4 as the low bits say).
///
/// See the module doc for how reserved encodings and HINTs are treated.
pub fn decode(bits: u32) -> Insn {
    match lookup(bits) {
        Some((_, insn)) => insn,
        None => Insn::illegal(bits),
    }
}

/// The canonical 32-bit row of `op` (for ops that only have compressed
/// rows, none do, but the result is still `Option`), `None` for
/// [`Op::Illegal`].
pub fn base_row(op: Op) -> Option<&'static Row> {
    index().base.get(op as usize).copied().flatten()
}

/// Mnemonic of the base (32-bit) instruction `op`; `"illegal"` for
/// [`Op::Illegal`].
pub fn base_mnemonic(op: Op) -> &'static str {
    base_row(op).map_or("illegal", |r| r.mnemonic)
}

// Defined here rather than in `insn`, next to the tables it reads, so that
// `insn` does not depend on `decode`.
impl Op {
    /// The mnemonic of the base (uncompressed) instruction, e.g. `"fcvt.w.s"`.
    pub fn mnemonic(self) -> &'static str {
        base_mnemonic(self)
    }
}
