//! cranemu's intermediate representation.
//!
//! A [`Block`] is the IR of one translation block (TB): a straight-line list
//! of [`Inst`]s in SSA form over 64-bit [`Value`]s, ended by one
//! [`Terminator`]. There is no control flow inside a block; the edges of
//! guest semantics (division by zero, shift amounts, float conversions) are
//! defined by the ops themselves, so the translator needs no branches.
//!
//! The IR says nothing about the guest architecture or about how guest
//! addresses become host pointers. Guest state lives in a CPU-state struct
//! reached by byte offset ([`Inst::GetState`], [`Inst::SetState`]); guest
//! memory is reached only by the memory ops ([`Inst::Load`],
//! [`Inst::Store`], [`Inst::AtomicRmw`], [`Inst::AtomicCas`]).
//!
//! - [`Builder`] appends instructions and numbers values;
//! - [`mod@print`] renders the text form (`v3 = iadd v1, v2`);
//! - [`verify`] checks SSA well-formedness;
//! - [`passes`] optimizes a block (dead CPU-state stores);
//! - [`interp`] is the reference interpreter that the JIT is tested against;
//! - [`baseline`] is the first tier: blocks lowered to a compact form and
//!   run with the reference interpreter's results, at less cost.

#![deny(missing_docs)]

pub mod baseline;
pub mod fp;
mod inst;
pub mod interp;
pub mod passes;
pub mod print;
pub mod verify;

pub use inst::*;

/// The IR of one translation block.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Guest virtual address of the block's first instruction.
    pub pc: u64,
    /// The TB flags the block was translated under: the part of the CPU
    /// state that translation depends on (the frontend defines the bits).
    /// Part of the block's identity; translated code that looks up another
    /// block (the jump cache) matches these too.
    pub flags: u64,
    /// The rounding mode the host's float unit is set to while the block
    /// runs (the frontend keeps the guest's dynamic rounding mode there
    /// where the host has it): float ops with this `rm` may run on the host
    /// as they are; others need their mode set up (the backend's choice).
    pub ambient_rounding: Rounding,
    /// The instructions, in order.
    pub insts: Vec<Inst>,
    /// How the block ends. `None` only while under construction.
    pub term: Option<Terminator>,
    /// Number of values defined (`v0` .. `v{n-1}`).
    pub num_values: u32,
    /// Guest instructions covered by the block.
    pub guest_insns: u32,
}

impl Block {
    /// An empty block starting at guest virtual address `pc`, translated
    /// under TB flags 0.
    pub fn new(pc: u64) -> Block {
        Block {
            pc,
            flags: 0,
            ambient_rounding: Rounding::Rne,
            insts: Vec::new(),
            term: None,
            num_values: 0,
            guest_insns: 0,
        }
    }
}

/// Appends instructions to a [`Block`], allocating result values.
///
/// Each method emits one instruction and returns its result.
pub struct Builder<'a> {
    block: &'a mut Block,
}

impl<'a> Builder<'a> {
    /// A builder appending to `block`.
    pub fn new(block: &'a mut Block) -> Builder<'a> {
        Builder { block }
    }

    /// The block being built.
    pub fn block(&self) -> &Block {
        self.block
    }

    fn value(&mut self) -> Value {
        let v = Value(self.block.num_values);
        self.block.num_values += 1;
        v
    }

    fn push(&mut self, inst: Inst) {
        self.block.insts.push(inst);
    }

    /// Marks the start of a guest instruction of `len` bytes at `pc`.
    pub fn insn_start(&mut self, pc: u64, len: u8) {
        self.block.guest_insns += 1;
        self.push(Inst::InsnStart { pc, len });
    }

    /// Counts a guest instruction in [`Block::guest_insns`] without an
    /// `insn_start`: one that cannot fault and is not a point execution
    /// can stop or resume at (the pure instructions of an if-converted
    /// branch's sides, which run whether or not their side is taken).
    pub fn count_insn(&mut self) {
        self.block.guest_insns += 1;
    }

    /// `iconst imm`.
    pub fn iconst(&mut self, imm: u64) -> Value {
        let dst = self.value();
        self.push(Inst::Iconst { dst, imm });
        dst
    }

    /// Reads 8 bytes of CPU state at byte `offset`.
    pub fn get_state(&mut self, offset: i32) -> Value {
        let dst = self.value();
        self.push(Inst::GetState { dst, offset });
        dst
    }

    /// Writes 8 bytes of CPU state at byte `offset`.
    pub fn set_state(&mut self, offset: i32, src: Value) {
        self.push(Inst::SetState { offset, src });
    }

    /// `a op b`.
    pub fn binary(&mut self, op: BinOp, a: Value, b: Value) -> Value {
        let dst = self.value();
        self.push(Inst::Binary { op, dst, a, b });
        dst
    }

    /// `a op imm`, emitting the constant first.
    pub fn binary_imm(&mut self, op: BinOp, a: Value, imm: u64) -> Value {
        let b = self.iconst(imm);
        self.binary(op, a, b)
    }

    /// `icmp cc a, b` giving 0 or 1.
    pub fn icmp(&mut self, cc: IntCC, a: Value, b: Value) -> Value {
        let dst = self.value();
        self.push(Inst::Icmp { cc, dst, a, b });
        dst
    }

    /// `c != 0 ? a : b`.
    pub fn select(&mut self, c: Value, a: Value, b: Value) -> Value {
        let dst = self.value();
        self.push(Inst::Select { dst, c, a, b });
        dst
    }

    /// Sign-extends the low `bits` bits.
    pub fn sextend(&mut self, src: Value, bits: u8) -> Value {
        let dst = self.value();
        self.push(Inst::Sextend { dst, src, bits });
        dst
    }

    /// Zero-extends the low `bits` bits.
    pub fn uextend(&mut self, src: Value, bits: u8) -> Value {
        let dst = self.value();
        self.push(Inst::Uextend { dst, src, bits });
        dst
    }

    /// Loads from guest memory.
    pub fn load(&mut self, addr: Value, mem: MemOp) -> Value {
        let dst = self.value();
        self.push(Inst::Load { dst, addr, mem });
        dst
    }

    /// Stores to guest memory.
    pub fn store(&mut self, addr: Value, src: Value, mem: MemOp) {
        self.push(Inst::Store { addr, src, mem });
    }

    /// Atomic read-modify-write; returns the old value.
    pub fn atomic_rmw(&mut self, op: AtomicOp, addr: Value, src: Value, size: MemSize) -> Value {
        let dst = self.value();
        self.push(Inst::AtomicRmw {
            op,
            dst,
            addr,
            src,
            size,
        });
        dst
    }

    /// Atomic compare-and-swap; returns the old value.
    pub fn atomic_cas(&mut self, addr: Value, expected: Value, new: Value, size: MemSize) -> Value {
        let dst = self.value();
        self.push(Inst::AtomicCas {
            dst,
            addr,
            expected,
            new,
            size,
        });
        dst
    }

    /// A memory fence.
    pub fn fence(&mut self, kind: FenceKind) {
        self.push(Inst::Fence { kind });
    }

    /// Floating-point `a op b`.
    pub fn fbin(&mut self, op: FBinOp, w: FpWidth, rm: Rounding, a: Value, b: Value) -> Value {
        let dst = self.value();
        self.push(Inst::Fbin {
            op,
            w,
            rm,
            dst,
            a,
            b,
        });
        dst
    }

    /// Floating-point square root.
    pub fn fsqrt(&mut self, w: FpWidth, rm: Rounding, a: Value) -> Value {
        let dst = self.value();
        self.push(Inst::Fsqrt { w, rm, dst, a });
        dst
    }

    /// Fused multiply-add `±(a*b) ± c`.
    #[allow(clippy::too_many_arguments)]
    pub fn fma(
        &mut self,
        w: FpWidth,
        rm: Rounding,
        neg_product: bool,
        neg_addend: bool,
        a: Value,
        b: Value,
        c: Value,
    ) -> Value {
        let dst = self.value();
        self.push(Inst::Fma {
            w,
            rm,
            neg_product,
            neg_addend,
            dst,
            a,
            b,
            c,
        });
        dst
    }

    /// Floating-point comparison giving 0 or 1.
    pub fn fcmp(&mut self, cc: FloatCC, w: FpWidth, a: Value, b: Value) -> Value {
        let dst = self.value();
        self.push(Inst::Fcmp { cc, w, dst, a, b });
        dst
    }

    /// Float to integer (saturating), rounded as `rm` says.
    pub fn fcvt_to_int(&mut self, w: FpWidth, rm: Rounding, to: IntKind, src: Value) -> Value {
        let dst = self.value();
        self.push(Inst::FcvtToInt {
            w,
            rm,
            to,
            dst,
            src,
        });
        dst
    }

    /// Integer to float.
    pub fn fcvt_from_int(&mut self, w: FpWidth, rm: Rounding, from: IntKind, src: Value) -> Value {
        let dst = self.value();
        self.push(Inst::FcvtFromInt {
            w,
            rm,
            from,
            dst,
            src,
        });
        dst
    }

    /// Float to float of the other width.
    pub fn fcvt_float(&mut self, from: FpWidth, rm: Rounding, src: Value) -> Value {
        let dst = self.value();
        self.push(Inst::FcvtFloat { from, rm, dst, src });
        dst
    }

    /// RISC-V `fclass`.
    pub fn fclass(&mut self, w: FpWidth, a: Value) -> Value {
        let dst = self.value();
        self.push(Inst::Fclass { w, dst, a });
        dst
    }

    /// A side exit to `pc` taken when `cond != 0`.
    pub fn exit_if(&mut self, cond: Value, pc: u64) {
        self.push(Inst::ExitIf { cond, pc });
    }

    /// Calls a runtime helper.
    pub fn call(&mut self, helper: Helper, args: [Value; 3]) -> Value {
        let dst = self.value();
        self.push(Inst::Call { helper, dst, args });
        dst
    }

    /// Ends the block.
    ///
    /// # Panics
    /// If the block already has a terminator (a translator bug).
    pub fn terminate(&mut self, term: Terminator) {
        assert!(self.block.term.is_none(), "block terminated twice");
        self.block.term = Some(term);
    }
}

impl Block {
    /// Number of direct exits: one per [`Inst::ExitIf`], then the
    /// terminator's (one for [`Terminator::Jump`], two for
    /// [`Terminator::Branch`]). The backend gives each an exit slot, in
    /// this order: side exits first, then the terminator's taken and
    /// not-taken targets.
    pub fn direct_exits(&self) -> usize {
        let side = self
            .insts
            .iter()
            .filter(|i| matches!(i, Inst::ExitIf { .. }))
            .count();
        side + match self.term {
            Some(Terminator::Jump { .. }) => 1,
            Some(Terminator::Branch { .. }) => 2,
            _ => 0,
        }
    }
}

impl Block {
    /// The guest pcs of the direct exits, in [`Block::direct_exits`]'s
    /// order (a pc appears once per exit that leaves for it).
    pub fn direct_targets(&self) -> Vec<u64> {
        self.direct_targets_iter().collect()
    }

    /// [`Block::direct_targets`] without the allocation.
    pub fn direct_targets_iter(&self) -> impl Iterator<Item = u64> + '_ {
        let side = self.insts.iter().filter_map(|i| match *i {
            Inst::ExitIf { pc, .. } => Some(pc),
            _ => None,
        });
        let end = match self.term {
            Some(Terminator::Jump { pc }) => [Some(pc), None],
            Some(Terminator::Branch {
                taken, not_taken, ..
            }) => [Some(taken), Some(not_taken)],
            _ => [None, None],
        };
        side.chain(end.into_iter().flatten())
    }
}

impl Inst {
    /// The value this instruction defines, if any.
    pub fn dst(&self) -> Option<Value> {
        use Inst::*;
        match *self {
            InsnStart { .. } | SetState { .. } | Store { .. } | Fence { .. } | ExitIf { .. } => {
                None
            }
            Iconst { dst, .. }
            | GetState { dst, .. }
            | Binary { dst, .. }
            | Icmp { dst, .. }
            | Select { dst, .. }
            | Sextend { dst, .. }
            | Uextend { dst, .. }
            | Load { dst, .. }
            | AtomicRmw { dst, .. }
            | AtomicCas { dst, .. }
            | Fbin { dst, .. }
            | Fsqrt { dst, .. }
            | Fma { dst, .. }
            | Fcmp { dst, .. }
            | FcvtToInt { dst, .. }
            | FcvtFromInt { dst, .. }
            | FcvtFloat { dst, .. }
            | Fclass { dst, .. }
            | Call { dst, .. } => Some(dst),
        }
    }

    /// The values this instruction reads, in operand order.
    pub fn args(&self) -> Vec<Value> {
        let mut out = Vec::new();
        self.for_each_arg(|v| out.push(v));
        out
    }

    /// Calls `f` on each value this instruction reads, in operand order
    /// ([`Inst::args`] without the allocation).
    pub fn for_each_arg(&self, mut f: impl FnMut(Value)) {
        use Inst::*;
        match *self {
            InsnStart { .. } | Iconst { .. } | GetState { .. } | Fence { .. } => {}
            SetState { src, .. } => f(src),
            ExitIf { cond, .. } => f(cond),
            Binary { a, b, .. } | Icmp { a, b, .. } | Fbin { a, b, .. } | Fcmp { a, b, .. } => {
                f(a);
                f(b);
            }
            Select { c, a, b, .. } => {
                f(c);
                f(a);
                f(b);
            }
            Fma { a, b, c, .. } => {
                f(a);
                f(b);
                f(c);
            }
            Sextend { src, .. }
            | Uextend { src, .. }
            | FcvtToInt { src, .. }
            | FcvtFromInt { src, .. }
            | FcvtFloat { src, .. } => f(src),
            Fsqrt { a, .. } | Fclass { a, .. } => f(a),
            Load { addr, .. } => f(addr),
            Store { addr, src, .. } | AtomicRmw { addr, src, .. } => {
                f(addr);
                f(src);
            }
            AtomicCas {
                addr,
                expected,
                new,
                ..
            } => {
                f(addr);
                f(expected);
                f(new);
            }
            Call { args, .. } => args.into_iter().for_each(f),
        }
    }
}
