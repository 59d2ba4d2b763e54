//! The first tier: a block lowered once to a compact register-machine form
//! ([`Program`]) and run by a loop that does less per guest instruction
//! than the reference interpreter ([`crate::interp`]), with the same
//! results.
//!
//! Start-up-bound programs (an interpreter starting, a compiler) run most
//! of their blocks a few dozen times before the compile thread gets to
//! them, so this loop, not compiled code, runs most of their blocks. The
//! reference interpreter dispatches on every IR instruction, `insn_start`
//! markers and constants included: four to six dispatches for `addi` or
//! `ld`. Lowering here:
//! - drops `insn_start`; a memory op keeps its guest instruction's pc
//!   (as an offset from the block's) for the fault it may raise;
//! - folds a constant into the op that uses it (`addi`, `slli`,
//!   `set_state` of a constant) and an `iadd` of a constant into the
//!   load or store whose address it is, so `ld a0, 8(sp)` is two ops
//!   (`get_state` of `sp` if the block has not read it yet, and the load),
//!   and drops the pure values nothing uses any more;
//! - gives the common integer ops a variant each, so there is one
//!   dispatch per op rather than a second `match` on the operation;
//! - leaves everything else (floating point, atomics, LR/SC, fences,
//!   helper calls) to the reference interpreter's own per-instruction
//!   code, so those agree with it by construction.
//!
//! `runtime/tests/differential.rs` runs the reference interpreter, this
//! tier and the JIT on the same blocks and compares them bit for bit.

use crate::interp::{self, HelperFn, Memory, Outcome};
use crate::{BinOp, Block, Inst, IntCC, MemOp, Terminator, Value};

/// One lowered operation. `d`, `a`, `b`, `c` and `s` index the block's
/// values (`d` the one defined, `a`, `b` the operands, `c` a condition,
/// `s` a source); `imm` is a folded constant operand, `sh` a folded shift
/// amount (below 64), `bits` a width in bits; `off` in [`Op::Get`],
/// [`Op::Set`] and [`Op::SetConst`] is a byte offset into the CPU state,
/// in [`Op::Load`] and [`Op::Store`] a byte offset added to the address;
/// `pc` is the guest instruction's pc minus the block's (for the fault it
/// may raise), except in [`Op::ExitIf`], where it is the absolute guest
/// pc of the side exit. Each variant does what [`crate::interp`] does with
/// the IR instruction it was lowered from (`Bin` and `BinI`:
/// [`crate::interp::binop`]; `Cmp` and `CmpI`: [`crate::interp::icmp`];
/// `Sext` and `Zext`: sign or zero extension from the low `bits`).
/// Public for backends that compile a program
/// (`cranemu_backend::Backend::compile_first_tier`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The fields are named in the enum's doc.
pub enum Op {
    Const {
        d: u16,
        imm: u64,
    },
    Get {
        d: u16,
        off: u16,
    },
    Set {
        off: u16,
        s: u16,
    },
    SetConst {
        off: u16,
        imm: u64,
    },
    Add {
        d: u16,
        a: u16,
        b: u16,
    },
    Sub {
        d: u16,
        a: u16,
        b: u16,
    },
    And {
        d: u16,
        a: u16,
        b: u16,
    },
    Or {
        d: u16,
        a: u16,
        b: u16,
    },
    Xor {
        d: u16,
        a: u16,
        b: u16,
    },
    Shl {
        d: u16,
        a: u16,
        b: u16,
    },
    Shr {
        d: u16,
        a: u16,
        b: u16,
    },
    Sar {
        d: u16,
        a: u16,
        b: u16,
    },
    Bin {
        op: BinOp,
        d: u16,
        a: u16,
        b: u16,
    },
    AddI {
        d: u16,
        a: u16,
        imm: u64,
    },
    AndI {
        d: u16,
        a: u16,
        imm: u64,
    },
    OrI {
        d: u16,
        a: u16,
        imm: u64,
    },
    XorI {
        d: u16,
        a: u16,
        imm: u64,
    },
    ShlI {
        d: u16,
        a: u16,
        sh: u8,
    },
    ShrI {
        d: u16,
        a: u16,
        sh: u8,
    },
    SarI {
        d: u16,
        a: u16,
        sh: u8,
    },
    BinI {
        op: BinOp,
        d: u16,
        a: u16,
        imm: u64,
    },
    Cmp {
        cc: IntCC,
        d: u16,
        a: u16,
        b: u16,
    },
    CmpI {
        cc: IntCC,
        d: u16,
        a: u16,
        imm: u64,
    },
    Select {
        d: u16,
        c: u16,
        a: u16,
        b: u16,
    },
    Sext32 {
        d: u16,
        s: u16,
    },
    Sext {
        d: u16,
        s: u16,
        bits: u8,
    },
    Zext {
        d: u16,
        s: u16,
        bits: u8,
    },
    /// A plain load of `[a + off]`.
    Load {
        d: u16,
        a: u16,
        off: i32,
        m: MemOp,
        pc: i32,
    },
    /// A plain store of `s` to `[a + off]`.
    Store {
        a: u16,
        s: u16,
        off: i32,
        m: MemOp,
        pc: i32,
    },
    ExitIf {
        c: u16,
        pc: u64,
    },
    /// `Program::slow[i]`, run by the reference interpreter's own code
    /// for that instruction.
    Slow {
        i: u32,
        pc: i32,
    },
}

// Ops are 16 bytes: four to a cache line.
const _: () = assert!(std::mem::size_of::<Op>() == 16);

/// A block lowered for the first tier. Built by [`Program::lower`] from a
/// verified [`Block`] and run by [`run`]; it holds everything the block
/// does (the instructions left to the reference interpreter are copied
/// into it), so the block's IR need not be kept to run it. Programs
/// lowered from the same guest code are equal; the runtime compares a
/// TB's program with that of its code translated again, as a check that
/// the code did not change meanwhile (equal programs may still come from
/// blocks that differ in what the first tier does not keep, such as the
/// pcs of instructions that cannot fault).
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Vectors, not boxed slices: [`Program::lower_recycling`] reuses
    /// them (most programs live only while their TB's code is emitted).
    ops: Vec<Op>,
    /// The instructions [`Op::Slow`] runs.
    slow: Vec<Inst>,
    /// The block's terminator.
    term: Terminator,
    /// The block's guest pc (pcs in ops are relative to it).
    pc: u64,
    /// The block's value count (the value array's length).
    num_values: u32,
    /// One past the highest CPU-state byte an op reads or writes.
    state_len: usize,
}

/// [`Program::lower`]'s work arrays.
#[derive(Default)]
struct Scratch {
    defs: Vec<Def>,
    uses: Vec<u32>,
}

/// What lowering knows about a value defined earlier in the block.
#[derive(Clone, Copy)]
enum Def {
    Other,
    /// An [`Inst::Iconst`].
    Const(u64),
    /// `iadd base, const` (either operand order).
    AddConst(Value, u64),
}

impl Program {
    /// Lowers `block`, which must verify ([`crate::verify::verify`]).
    /// `None` if a value index is out of range, or the block is beyond
    /// this form's limits: more than 65,535
    /// values, a CPU-state offset past 65,527, or a guest pc more than
    /// 2 GiB from the block's (the caller then runs the reference
    /// interpreter instead).
    pub fn lower(block: &Block) -> Option<Program> {
        let mut prog = Self::lower_recycling(block, None)?;
        prog.shrink_to_fit();
        Some(prog)
    }

    /// [`Program::lower`] into the storage of `old`, a program no longer
    /// needed (no allocation once it is large enough). The result has
    /// spare capacity: [`Program::shrink_to_fit`] it before keeping it.
    pub fn lower_recycling(block: &Block, old: Option<Program>) -> Option<Program> {
        thread_local! {
            /// Lowering's work arrays, reused (every TB is lowered).
            static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
        }
        let (ops, slow) = old.map(|p| (p.ops, p.slow)).unwrap_or_default();
        let mut scratch = SCRATCH.take();
        let prog = Self::lower_with(block, &mut scratch, ops, slow);
        SCRATCH.set(scratch);
        prog
    }

    /// Drops the spare capacity of [`Program::lower_recycling`]'s result.
    pub fn shrink_to_fit(&mut self) {
        self.ops.shrink_to_fit();
        self.slow.shrink_to_fit();
    }

    /// [`Program::lower`] with its work arrays, into `ops` and `slow`.
    fn lower_with(
        block: &Block,
        scratch: &mut Scratch,
        mut ops: Vec<Op>,
        mut slow: Vec<Inst>,
    ) -> Option<Program> {
        let n = block.num_values as usize;
        if n > usize::from(u16::MAX) {
            return None;
        }
        let idx = |v: Value| v.0 as u16;
        let off_of = |o: i32| u16::try_from(o).ok().filter(|&o| o <= u16::MAX - 8);
        // Pass 1: what each value is, and how many ops still read it once
        // constants and address offsets are folded.
        let Scratch { defs, uses } = scratch;
        defs.clear();
        defs.resize(n, Def::Other);
        uses.clear();
        uses.resize(n, 0);
        ops.clear();
        slow.clear();
        let (defs, uses) = (&mut defs[..], &mut uses[..]);
        // One pass counts each value's reads and folds constants and
        // address offsets (one dispatch an instruction, not three). Every
        // value index must be in range: `run` indexes values without
        // checks (and the verifier runs only in debug builds); an
        // instruction's indices are checked before it is folded.
        for inst in &block.insts {
            let mut out_of_range = inst.dst().is_some_and(|d| d.index() >= n);
            inst.for_each_arg(|v| match uses.get_mut(v.index()) {
                Some(u) => *u += 1,
                None => out_of_range = true,
            });
            if out_of_range {
                return None;
            }
            match *inst {
                Inst::Iconst { dst, imm } => defs[dst.index()] = Def::Const(imm),
                Inst::Binary { op, dst, a, b } => match (konst(defs, a), konst(defs, b)) {
                    // An op of constants is a constant (`li` is `addi rd,
                    // x0, imm`, and x0 reads as a constant).
                    (Some(x), Some(y)) => {
                        uses[a.index()] -= 1;
                        uses[b.index()] -= 1;
                        defs[dst.index()] = Def::Const(crate::interp::binop(op, x, y));
                    }
                    _ => {
                        if let Some((x, konst, k)) = binary_operands(defs, op, a, b) {
                            uses[konst.index()] -= 1;
                            if op == BinOp::Iadd {
                                defs[dst.index()] = Def::AddConst(x, k);
                            }
                        }
                    }
                },
                Inst::Sextend { dst, src, bits } | Inst::Uextend { dst, src, bits } => {
                    if let Some(x) = konst(defs, src) {
                        uses[src.index()] -= 1;
                        let k = if matches!(inst, Inst::Sextend { .. }) {
                            crate::interp::sext(x, u32::from(bits))
                        } else {
                            crate::interp::zext(x, u32::from(bits))
                        };
                        defs[dst.index()] = Def::Const(k);
                    }
                }
                Inst::Icmp { b, .. } | Inst::SetState { src: b, .. }
                    if konst(defs, b).is_some() =>
                {
                    uses[b.index()] -= 1;
                }
                Inst::Load { addr, mem, .. } | Inst::Store { addr, mem, .. } if !mem.aligned => {
                    let (base, _) = address(defs, addr);
                    if base != addr {
                        uses[addr.index()] -= 1;
                        uses[base.index()] += 1;
                    }
                }
                _ => {}
            }
        }
        if let Some(term) = &block.term {
            let mut out_of_range = false;
            term_args(term, &mut |v: Value| match uses.get_mut(v.index()) {
                Some(u) => *u += 1,
                None => out_of_range = true,
            });
            if out_of_range {
                return None;
            }
        }
        // Pass 2: emit, with the same folding decisions.
        let mut state_len = 0usize;
        let mut pc = block.pc;
        for inst in &block.insts {
            let pure = matches!(
                inst,
                Inst::Iconst { .. }
                    | Inst::GetState { .. }
                    | Inst::Binary { .. }
                    | Inst::Icmp { .. }
                    | Inst::Select { .. }
                    | Inst::Sextend { .. }
                    | Inst::Uextend { .. }
            );
            if pure && inst.dst().is_some_and(|d| uses[d.index()] == 0) {
                continue;
            }
            if let Inst::InsnStart { pc: p, .. } = *inst {
                pc = p;
                continue;
            }
            let rel = i32::try_from(pc.wrapping_sub(block.pc) as i64).ok()?;
            // A constant, or an op of constants that pass 1 folded.
            if let Some((d, imm)) = inst.dst().and_then(|d| Some((d, konst(defs, d)?))) {
                ops.push(Op::Const { d: idx(d), imm });
                continue;
            }
            let op = match *inst {
                Inst::GetState { dst, offset } => {
                    let off = off_of(offset)?;
                    state_len = state_len.max(usize::from(off) + 8);
                    Op::Get { d: idx(dst), off }
                }
                Inst::SetState { offset, src } => {
                    let off = off_of(offset)?;
                    state_len = state_len.max(usize::from(off) + 8);
                    match konst(defs, src) {
                        Some(imm) => Op::SetConst { off, imm },
                        None => Op::Set { off, s: idx(src) },
                    }
                }
                Inst::Binary { op, dst, a, b } => match binary_operands(defs, op, a, b) {
                    Some((x, _, imm)) => binary_imm(op, idx(dst), idx(x), imm),
                    None => binary(op, idx(dst), idx(a), idx(b)),
                },
                Inst::Icmp { cc, dst, a, b } => match konst(defs, b) {
                    Some(imm) => Op::CmpI {
                        cc,
                        d: idx(dst),
                        a: idx(a),
                        imm,
                    },
                    None => Op::Cmp {
                        cc,
                        d: idx(dst),
                        a: idx(a),
                        b: idx(b),
                    },
                },
                Inst::Select { dst, c, a, b } => Op::Select {
                    d: idx(dst),
                    c: idx(c),
                    a: idx(a),
                    b: idx(b),
                },
                Inst::Sextend { dst, src, bits: 32 } => Op::Sext32 {
                    d: idx(dst),
                    s: idx(src),
                },
                Inst::Sextend { dst, src, bits } => Op::Sext {
                    d: idx(dst),
                    s: idx(src),
                    bits,
                },
                Inst::Uextend { dst, src, bits } => Op::Zext {
                    d: idx(dst),
                    s: idx(src),
                    bits,
                },
                Inst::Load { dst, addr, mem } if !mem.aligned => {
                    let (a, off) = address(defs, addr);
                    Op::Load {
                        d: idx(dst),
                        a: idx(a),
                        off,
                        m: mem,
                        pc: rel,
                    }
                }
                Inst::Store { addr, src, mem } if !mem.aligned => {
                    let (a, off) = address(defs, addr);
                    Op::Store {
                        a: idx(a),
                        s: idx(src),
                        off,
                        m: mem,
                        pc: rel,
                    }
                }
                Inst::ExitIf { cond, pc } => Op::ExitIf { c: idx(cond), pc },
                _ => {
                    slow.push(*inst);
                    Op::Slow {
                        i: u32::try_from(slow.len() - 1).ok()?,
                        pc: rel,
                    }
                }
            };
            ops.push(op);
        }
        Some(Program {
            ops,
            slow,
            term: block.term?,
            pc: block.pc,
            num_values: block.num_values,
            state_len,
        })
    }

    /// Whether running the program may use the host's float environment
    /// (it has float ops or helper calls). If not, it raises no float
    /// flags and rounds nothing, so the caller need not set the guest's
    /// float environment up around it.
    pub fn needs_fp_env(&self) -> bool {
        !self.slow.is_empty()
    }

    /// The guest virtual address of the block's first instruction.
    pub fn pc(&self) -> u64 {
        self.pc
    }

    /// The lowered ops, in the order they run.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The block's terminator (its values index the same value array as
    /// the ops).
    pub fn terminator(&self) -> Terminator {
        self.term
    }

    /// The length of the block's value array.
    pub fn num_values(&self) -> u32 {
        self.num_values
    }

    /// The number of lowered ops (for statistics and tests).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no op was left (a block of constants and a jump).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Heap bytes held.
    pub fn footprint(&self) -> usize {
        std::mem::size_of_val(&*self.ops) + std::mem::size_of_val(&*self.slow)
    }
}

/// How `a op b` folds a constant operand, if it does: the other operand,
/// the constant's value and the constant (the right one, or the left one
/// of an op that commutes). Both passes of [`Program::lower`] use it, so
/// they agree.
fn binary_operands(defs: &[Def], op: BinOp, a: Value, b: Value) -> Option<(Value, Value, u64)> {
    match (konst(defs, a), konst(defs, b)) {
        (_, Some(k)) => Some((a, b, k)),
        (Some(k), None) if commutes(op) => Some((b, a, k)),
        _ => None,
    }
}

/// The value of `v`, if it is a constant.
fn konst(defs: &[Def], v: Value) -> Option<u64> {
    match defs[v.index()] {
        Def::Const(k) => Some(k),
        _ => None,
    }
}

/// Ops whose operands may be swapped, so a constant on the left folds.
fn commutes(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Iadd | BinOp::Imul | BinOp::Band | BinOp::Bor | BinOp::Bxor
    )
}

/// The base value and offset a load or store at `addr` uses: `addr`'s
/// `iadd` of a constant that fits in 32 bits folded, else `addr` itself.
/// Both passes of [`Program::lower`] use it, so they agree.
fn address(defs: &[Def], addr: Value) -> (Value, i32) {
    match defs[addr.index()] {
        Def::AddConst(base, k) => match i32::try_from(k as i64) {
            Ok(off) => (base, off),
            Err(_) => (addr, 0),
        },
        _ => (addr, 0),
    }
}

fn binary(op: BinOp, d: u16, a: u16, b: u16) -> Op {
    match op {
        BinOp::Iadd => Op::Add { d, a, b },
        BinOp::Isub => Op::Sub { d, a, b },
        BinOp::Band => Op::And { d, a, b },
        BinOp::Bor => Op::Or { d, a, b },
        BinOp::Bxor => Op::Xor { d, a, b },
        BinOp::Ishl => Op::Shl { d, a, b },
        BinOp::Ushr => Op::Shr { d, a, b },
        BinOp::Sshr => Op::Sar { d, a, b },
        op => Op::Bin { op, d, a, b },
    }
}

fn binary_imm(op: BinOp, d: u16, a: u16, imm: u64) -> Op {
    let sh = (imm & 63) as u8;
    match op {
        BinOp::Iadd => Op::AddI { d, a, imm },
        // `a - k` is `a + (-k)`, modulo 2^64.
        BinOp::Isub => Op::AddI {
            d,
            a,
            imm: imm.wrapping_neg(),
        },
        BinOp::Band => Op::AndI { d, a, imm },
        BinOp::Bor => Op::OrI { d, a, imm },
        BinOp::Bxor => Op::XorI { d, a, imm },
        BinOp::Ishl => Op::ShlI { d, a, sh },
        BinOp::Ushr => Op::ShrI { d, a, sh },
        BinOp::Sshr => Op::SarI { d, a, sh },
        op => Op::BinI { op, d, a, imm },
    }
}

/// The values a terminator reads.
fn term_args(term: &Terminator, mut f: impl FnMut(Value)) {
    match *term {
        Terminator::Branch { cond, .. } => f(cond),
        Terminator::JumpIndirect { target, flags } => {
            f(target);
            if let Some(v) = flags {
                f(v);
            }
        }
        Terminator::Jump { .. } | Terminator::Trap { .. } | Terminator::Exit { .. } => {}
    }
}

/// The value array a vCPU thread runs its blocks with, reused from block
/// to block (growing to the largest block's value count). Values are not
/// cleared between blocks: a verified block defines each value before
/// reading it.
#[derive(Debug, Default)]
pub struct Values(Vec<u64>);

impl Values {
    /// An empty array.
    pub fn new() -> Values {
        Values(Vec::new())
    }
}

/// Runs `prog` on the CPU-state bytes `state`, guest memory `mem` and
/// the helper table `helpers`, with the value array `vals`: what
/// [`interp::run`] does with the block `prog` was lowered from, the same
/// outcome and the same effects on state, memory and the float flags.
///
/// # Panics
/// If `state` is shorter than an offset the block uses.
///
/// # Safety
/// As [`interp::run`].
pub unsafe fn run(
    prog: &Program,
    state: &mut [u8],
    mem: &mut dyn Memory,
    helpers: &[HelperFn],
    vals: &mut Values,
) -> Outcome {
    assert!(state.len() >= prog.state_len, "CPU state too short");
    let n = prog.num_values as usize;
    if vals.0.len() < n {
        vals.0.resize(n, 0);
    }
    // SAFETY: the caller's contract, passed on; the checks above.
    unsafe { run_with(prog, state, mem, helpers, &mut vals.0[..n]) }
}

/// [`run`] with the value array `vals` (`prog.num_values` long).
///
/// # Safety
/// As [`run`], whose checks must have passed: every value index in `prog`
/// is below `vals.len()` ([`Program::lower`] takes them from a verified
/// block of that many values), and every CPU-state offset plus 8 is at
/// most `state.len()`.
unsafe fn run_with(
    prog: &Program,
    state: &mut [u8],
    mem: &mut dyn Memory,
    helpers: &[HelperFn],
    vals: &mut [u64],
) -> Outcome {
    let (vp, n) = (vals.as_mut_ptr(), vals.len());
    // SAFETY (all the accessors below): in bounds per this function's
    // contract; `vals` and `state` are distinct, exclusively borrowed
    // slices, so no access aliases another live reference.
    let v = |i: u16| unsafe { *vp.add(usize::from(i)) };
    let set = |i: u16, x: u64| unsafe { *vp.add(usize::from(i)) = x };
    let pc_of = |rel: i32| prog.pc.wrapping_add(rel as i64 as u64);
    for op in prog.ops.iter() {
        match *op {
            Op::Const { d, imm } => set(d, imm),
            Op::Get { d, off } => {
                // SAFETY: see above; unaligned reads are fine.
                let x = unsafe {
                    state
                        .as_ptr()
                        .add(usize::from(off))
                        .cast::<u64>()
                        .read_unaligned()
                };
                set(d, u64::from_le(x));
            }
            Op::Set { off, s } => {
                // SAFETY: as for `Get`.
                unsafe {
                    state
                        .as_mut_ptr()
                        .add(usize::from(off))
                        .cast::<u64>()
                        .write_unaligned(v(s).to_le())
                }
            }
            Op::SetConst { off, imm } => {
                // SAFETY: as for `Get`.
                unsafe {
                    state
                        .as_mut_ptr()
                        .add(usize::from(off))
                        .cast::<u64>()
                        .write_unaligned(imm.to_le())
                }
            }
            Op::Add { d, a, b } => set(d, v(a).wrapping_add(v(b))),
            Op::Sub { d, a, b } => set(d, v(a).wrapping_sub(v(b))),
            Op::And { d, a, b } => set(d, v(a) & v(b)),
            Op::Or { d, a, b } => set(d, v(a) | v(b)),
            Op::Xor { d, a, b } => set(d, v(a) ^ v(b)),
            Op::Shl { d, a, b } => set(d, v(a) << (v(b) & 63)),
            Op::Shr { d, a, b } => set(d, v(a) >> (v(b) & 63)),
            Op::Sar { d, a, b } => set(d, ((v(a) as i64) >> (v(b) & 63)) as u64),
            Op::Bin { op, d, a, b } => set(d, interp::binop(op, v(a), v(b))),
            Op::AddI { d, a, imm } => set(d, v(a).wrapping_add(imm)),
            Op::AndI { d, a, imm } => set(d, v(a) & imm),
            Op::OrI { d, a, imm } => set(d, v(a) | imm),
            Op::XorI { d, a, imm } => set(d, v(a) ^ imm),
            Op::ShlI { d, a, sh } => set(d, v(a) << sh),
            Op::ShrI { d, a, sh } => set(d, v(a) >> sh),
            Op::SarI { d, a, sh } => set(d, ((v(a) as i64) >> sh) as u64),
            Op::BinI { op, d, a, imm } => set(d, interp::binop(op, v(a), imm)),
            Op::Cmp { cc, d, a, b } => set(d, interp::icmp(cc, v(a), v(b))),
            Op::CmpI { cc, d, a, imm } => set(d, interp::icmp(cc, v(a), imm)),
            Op::Select { d, c, a, b } => set(d, if v(c) != 0 { v(a) } else { v(b) }),
            Op::Sext32 { d, s } => set(d, v(s) as i32 as i64 as u64),
            Op::Sext { d, s, bits } => set(d, interp::sext(v(s), u32::from(bits))),
            Op::Zext { d, s, bits } => set(d, interp::zext(v(s), u32::from(bits))),
            Op::Load { d, a, off, m, pc } => {
                let addr = v(a).wrapping_add(off as i64 as u64);
                match interp::load(mem, addr, m, pc_of(pc)) {
                    Ok(x) => set(d, x),
                    Err(end) => return end,
                }
            }
            Op::Store { a, s, off, m, pc } => {
                let addr = v(a).wrapping_add(off as i64 as u64);
                if let Err(end) = interp::store(mem, addr, m.size, v(s), pc_of(pc)) {
                    return end;
                }
            }
            Op::ExitIf { c, pc } => {
                if v(c) != 0 {
                    return Outcome::Next(pc);
                }
            }
            Op::Slow { i, pc } => {
                let inst = &prog.slow[i as usize];
                // SAFETY: the values, read through the same pointer as the
                // other ops (no live reference to them meanwhile).
                let all = unsafe { std::slice::from_raw_parts(vp, n) };
                // SAFETY: the caller's contract, passed on.
                match unsafe { interp::step(inst, pc_of(pc), state, mem, helpers, all) } {
                    Ok(Some(r)) => {
                        if let Some(d) = inst.dst() {
                            set(d.0 as u16, r);
                        }
                    }
                    Ok(None) => {}
                    Err(end) => return end,
                }
            }
        }
    }
    interp::finish(prog.term, vals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builder, MemSize};

    /// `ld a0, 8(sp)`; `addi a1, a0, 1`; `slli a2, a1, 3`: the constants
    /// and the address's `iadd` fold away, as do `insn_start`s.
    #[test]
    fn constants_and_offsets_fold() {
        let mut block = Block::new(0x1000);
        let mut b = Builder::new(&mut block);
        b.insn_start(0x1000, 4);
        let sp = b.get_state(0x10);
        let addr = b.binary_imm(BinOp::Iadd, sp, 8);
        let m = MemOp {
            size: MemSize::B8,
            signed: true,
            aligned: false,
        };
        let a0 = b.load(addr, m);
        b.set_state(0x50, a0);
        b.insn_start(0x1004, 4);
        let a1 = b.binary_imm(BinOp::Iadd, a0, 1);
        b.set_state(0x58, a1);
        b.insn_start(0x1008, 4);
        let a2 = b.binary_imm(BinOp::Ishl, a1, 3);
        b.set_state(0x60, a2);
        b.terminate(Terminator::Jump { pc: 0x100c });
        crate::verify::verify(&block).expect("verifies");
        let prog = Program::lower(&block).expect("lowers");
        // get sp, load, set a0, addi, set a1, slli, set a2.
        assert_eq!(prog.len(), 7, "{prog:?}");
        assert!(block.insts.len() > 10);
        assert!(prog
            .ops
            .iter()
            .any(|op| matches!(op, Op::Load { off: 8, pc: 0, .. })));
        assert!(prog
            .ops
            .iter()
            .any(|op| matches!(op, Op::ShlI { sh: 3, .. })));
    }

    /// A constant used by an op that cannot fold it stays.
    #[test]
    fn constants_used_elsewhere_stay() {
        let mut block = Block::new(0x1000);
        let mut b = Builder::new(&mut block);
        b.insn_start(0x1000, 4);
        let k = b.iconst(5);
        let x = b.get_state(0x10);
        let q = b.binary(BinOp::Iadd, x, k);
        b.set_state(0x18, q);
        b.set_state(0x20, k);
        let c = b.icmp(IntCC::Ult, k, x);
        b.terminate(Terminator::Branch {
            cond: c,
            taken: 0x2000,
            not_taken: 0x1004,
        });
        let prog = Program::lower(&block).expect("lowers");
        assert!(prog
            .ops
            .iter()
            .any(|op| matches!(op, Op::Const { imm: 5, .. })));
        assert!(prog
            .ops
            .iter()
            .any(|op| matches!(op, Op::SetConst { imm: 5, .. })));
    }

    /// `li a0, -5` (`addi a0, x0, -5`), `addiw a1, x0, 7` and a shift of
    /// constants: each result is a constant, stored with `SetConst` (no
    /// op computes it), and the program runs as the interpreter does.
    #[test]
    fn ops_of_constants_fold() {
        let mut block = Block::new(0x1000);
        let mut b = Builder::new(&mut block);
        b.insn_start(0x1000, 4);
        let zero = b.iconst(0);
        let a0 = b.binary_imm(BinOp::Iadd, zero, -5i64 as u64);
        b.set_state(0x50, a0);
        b.insn_start(0x1004, 4);
        let w = b.binary_imm(BinOp::Iadd, zero, 7);
        let a1 = b.sextend(w, 32);
        b.set_state(0x58, a1);
        b.insn_start(0x1008, 4);
        let a2 = b.binary(BinOp::Ishl, a0, a1);
        b.set_state(0x60, a2);
        b.terminate(Terminator::Jump { pc: 0x100c });
        crate::verify::verify(&block).expect("verifies");
        let prog = Program::lower(&block).expect("lowers");
        let sets: Vec<(u16, u64)> = prog
            .ops
            .iter()
            .filter_map(|op| match *op {
                Op::SetConst { off, imm } => Some((off, imm)),
                _ => None,
            })
            .collect();
        assert_eq!(
            sets,
            [(0x50, -5i64 as u64), (0x58, 7), (0x60, (-5i64 << 7) as u64)],
            "{prog:?}"
        );
        assert_eq!(prog.len(), 3, "{prog:?}");
    }

    /// Blocks past the form's limits are left to the reference interpreter.
    #[test]
    fn oversized_blocks_are_refused() {
        let mut block = Block::new(0x1000);
        let mut b = Builder::new(&mut block);
        for _ in 0..=u16::MAX as u32 {
            b.iconst(1);
        }
        b.terminate(Terminator::Jump { pc: 0x1004 });
        assert!(Program::lower(&block).is_none());
        let mut block = Block::new(0x1000);
        let mut b = Builder::new(&mut block);
        let x = b.iconst(1);
        b.set_state(0x1_0000, x);
        b.terminate(Terminator::Jump { pc: 0x1004 });
        assert!(Program::lower(&block).is_none());
        // A value index past the block's count (a block that would not
        // verify): refused, never indexed.
        for inst in [
            Inst::Iconst {
                dst: Value(7),
                imm: 1,
            },
            Inst::SetState {
                offset: 0,
                src: Value(7),
            },
        ] {
            let mut block = Block::new(0x1000);
            let mut b = Builder::new(&mut block);
            b.iconst(1);
            b.terminate(Terminator::Jump { pc: 0x1004 });
            block.insts.push(inst);
            assert!(Program::lower(&block).is_none(), "{inst:?}");
        }
    }
}
