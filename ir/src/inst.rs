//! The IR's instructions, each defined once with its semantics.
//!
//! Every [`Value`] is a 64-bit integer. Floating-point ops take and produce
//! raw IEEE 754 bit patterns in those integers (binary64 for
//! [`FpWidth::D`]; for [`FpWidth::S`], binary32 in the low 32 bits, with the
//! NaN-boxing rule below). Nothing here says how a guest address becomes a
//! host pointer: the backend decides (host base + address in user mode, a
//! TLB probe in system mode).
//!
//! Edges are defined, never undefined: shifts use the amount modulo 64,
//! division follows RISC-V (division by zero and signed overflow give
//! defined results), and float-to-integer conversions saturate.

use core::fmt;

/// An SSA value: the result of one instruction in a [`crate::Block`].
/// Prints as `v3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub u32);

impl Value {
    /// The index of this value in its block's value numbering.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A binary integer operation on 64-bit values. All arithmetic wraps
/// modulo 2^64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a + b` (mod 2^64).
    Iadd,
    /// `a - b` (mod 2^64).
    Isub,
    /// `a * b` (mod 2^64), the low half of the product.
    Imul,
    /// High 64 bits of the 128-bit product of signed `a` and signed `b`.
    Smulhi,
    /// High 64 bits of the 128-bit product of unsigned `a` and unsigned `b`.
    Umulhi,
    /// High 64 bits of the 128-bit product of signed `a` and unsigned `b`
    /// (RISC-V `mulhsu`).
    SUmulhi,
    /// Signed division rounding toward zero. `b == 0` gives -1 (all ones);
    /// `i64::MIN / -1` gives `i64::MIN` (RISC-V M extension, table 13.1).
    Sdiv,
    /// Unsigned division. `b == 0` gives `u64::MAX`.
    Udiv,
    /// Signed remainder, sign of the dividend. `b == 0` gives `a`;
    /// `i64::MIN % -1` gives 0.
    Srem,
    /// Unsigned remainder. `b == 0` gives `a`.
    Urem,
    /// Bitwise and.
    Band,
    /// Bitwise or.
    Bor,
    /// Bitwise exclusive or.
    Bxor,
    /// `a << (b mod 64)`.
    Ishl,
    /// Logical `a >> (b mod 64)`.
    Ushr,
    /// Arithmetic `a >> (b mod 64)`.
    Sshr,
}

impl BinOp {
    /// Every operation, in declaration order.
    pub const ALL: [BinOp; 16] = [
        BinOp::Iadd,
        BinOp::Isub,
        BinOp::Imul,
        BinOp::Smulhi,
        BinOp::Umulhi,
        BinOp::SUmulhi,
        BinOp::Sdiv,
        BinOp::Udiv,
        BinOp::Srem,
        BinOp::Urem,
        BinOp::Band,
        BinOp::Bor,
        BinOp::Bxor,
        BinOp::Ishl,
        BinOp::Ushr,
        BinOp::Sshr,
    ];
}

/// An integer comparison, named as in Cranelift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntCC {
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
    /// Signed `a < b`.
    Slt,
    /// Signed `a >= b`.
    Sge,
    /// Unsigned `a < b`.
    Ult,
    /// Unsigned `a >= b`.
    Uge,
}

/// The size of a guest memory access, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemSize {
    /// 1 byte.
    B1,
    /// 2 bytes.
    B2,
    /// 4 bytes.
    B4,
    /// 8 bytes.
    B8,
}

impl MemSize {
    /// The access size in bytes.
    pub const fn bytes(self) -> u64 {
        match self {
            MemSize::B1 => 1,
            MemSize::B2 => 2,
            MemSize::B4 => 4,
            MemSize::B8 => 8,
        }
    }
    /// The access size in bits.
    pub const fn bits(self) -> u32 {
        self.bytes() as u32 * 8
    }
}

/// A guest memory access: its size, how a loaded value is extended to 64
/// bits, and what alignment the guest promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemOp {
    /// Access size.
    pub size: MemSize,
    /// Loads: sign-extend (true) or zero-extend (false) to 64 bits. Ignored
    /// by stores.
    pub signed: bool,
    /// The guest requires natural alignment (an AMO or LR/SC); a misaligned
    /// address is then a misaligned-address trap. Plain loads and stores set
    /// this false: RISC-V user code may rely on misaligned accesses working.
    pub aligned: bool,
}

/// A read-modify-write operation performed atomically on guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `new = src`.
    Xchg,
    /// `new = old + src`.
    Add,
    /// `new = old ^ src`.
    Xor,
    /// `new = old & src`.
    And,
    /// `new = old | src`.
    Or,
    /// Signed minimum.
    Smin,
    /// Signed maximum.
    Smax,
    /// Unsigned minimum.
    Umin,
    /// Unsigned maximum.
    Umax,
}

/// A floating-point format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FpWidth {
    /// IEEE 754 binary32. Operands are read from the low 32 bits of a value
    /// and must be NaN-boxed (upper 32 bits all ones); an operand that is
    /// not is read as the canonical NaN (RISC-V Unprivileged ISA, 14.2).
    /// Results are NaN-boxed.
    S,
    /// IEEE 754 binary64.
    D,
}

/// A floating-point binary operation. The arithmetic ones round as their
/// instruction's rounding mode says; all of them raise IEEE exception flags
/// (see [`Inst::Fbin`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FBinOp {
    /// `a + b`.
    Fadd,
    /// `a - b`.
    Fsub,
    /// `a * b`.
    Fmul,
    /// `a / b`.
    Fdiv,
    /// RISC-V `fmin`: the lesser; -0 < +0; if one operand is NaN the other;
    /// if both are NaN the canonical NaN.
    Fmin,
    /// RISC-V `fmax`, the mirror of [`FBinOp::Fmin`].
    Fmax,
}

/// A floating-point comparison giving 0 or 1 (RISC-V `feq`, `flt`, `fle`);
/// any NaN operand gives 0. `Eq` is quiet (invalid only for a signalling
/// NaN), `Lt` and `Le` signal invalid for any NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatCC {
    /// `a == b`.
    Eq,
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
}

/// The width and signedness of the integer side of a conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntKind {
    /// Signed 32-bit (RISC-V `w`); a 32-bit result is sign-extended to 64.
    I32,
    /// Unsigned 32-bit (`wu`); a 32-bit result is still sign-extended to 64
    /// bits, as RISC-V writes it to an integer register.
    U32,
    /// Signed 64-bit (`l`).
    I64,
    /// Unsigned 64-bit (`lu`).
    U64,
}

/// An IEEE 754 rounding mode, numbered as RISC-V's `rm` field
/// (Unprivileged ISA, table 14.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Round to nearest, ties to even (`rne`, 0).
    Rne,
    /// Round toward zero (`rtz`, 1).
    Rtz,
    /// Round down, toward -infinity (`rdn`, 2).
    Rdn,
    /// Round up, toward +infinity (`rup`, 3).
    Rup,
    /// Round to nearest, ties away from zero (`rmm`, 4).
    Rmm,
}

/// A memory-ordering fence, by what it must order on an x86-64 host.
///
/// RVWMO (preserved program order rule 4 for `fence`, rules 5 and 6 for
/// `aq`/`rl`) can ask for any of the four orders between earlier and later
/// loads and stores; x86-64's TSO gives three of them (load-load,
/// load-store, store-store) in hardware and lets a load pass an earlier
/// store only. Hence the two kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FenceKind {
    /// Orders earlier stores before later loads: needs a full host fence
    /// (`mfence`; the JIT and the interpreter both emit one).
    StoreLoad,
    /// Any other ordering, which a TSO host gives for free; no host
    /// instruction, but a compiler barrier: neither the backend nor the
    /// interpreter's compiler may move, merge or forward guest memory
    /// accesses across it.
    Other,
}

/// One IR instruction. Results are written to `dst`, a value defined
/// exactly once per block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Inst {
    /// Marks the start of the guest instruction at guest virtual address
    /// `pc`, `len` bytes long. Memory ops that follow belong to it: a fault
    /// reports this pc. The IR gives bit 0 no meaning (guest instructions
    /// are 2-byte aligned); the RISC-V translator (for the speculative
    /// loads of an if-converted branch) and
    /// [`crate::passes::defer_state_stores`] set it to mark loads made
    /// early, and every tier reports the pc as it is.
    InsnStart {
        /// Guest virtual address of the instruction.
        pc: u64,
        /// Instruction length in bytes (2 or 4).
        len: u8,
    },
    /// `dst = imm`.
    Iconst {
        /// Result.
        dst: Value,
        /// The constant.
        imm: u64,
    },
    /// `dst = *(u64 *)(cpu + offset)`: reads 8 bytes of CPU state.
    GetState {
        /// Result.
        dst: Value,
        /// Byte offset into the CPU state; 8-byte aligned.
        offset: i32,
    },
    /// `*(u64 *)(cpu + offset) = src`: writes 8 bytes of CPU state.
    SetState {
        /// Byte offset into the CPU state; 8-byte aligned.
        offset: i32,
        /// The value stored.
        src: Value,
    },
    /// `dst = a op b`.
    Binary {
        /// The operation.
        op: BinOp,
        /// Result.
        dst: Value,
        /// Left operand.
        a: Value,
        /// Right operand.
        b: Value,
    },
    /// `dst = (a cc b) ? 1 : 0`.
    Icmp {
        /// The comparison.
        cc: IntCC,
        /// Result: 0 or 1.
        dst: Value,
        /// Left operand.
        a: Value,
        /// Right operand.
        b: Value,
    },
    /// `dst = c != 0 ? a : b`.
    Select {
        /// Result.
        dst: Value,
        /// Condition.
        c: Value,
        /// Value if `c != 0`.
        a: Value,
        /// Value if `c == 0`.
        b: Value,
    },
    /// `dst` = the low `bits` bits of `src`, sign-extended to 64.
    Sextend {
        /// Result.
        dst: Value,
        /// Operand.
        src: Value,
        /// 8, 16 or 32.
        bits: u8,
    },
    /// `dst` = the low `bits` bits of `src`, zero-extended to 64.
    Uextend {
        /// Result.
        dst: Value,
        /// Operand.
        src: Value,
        /// 8, 16 or 32.
        bits: u8,
    },
    /// `dst` = the guest memory at guest virtual address `addr`, extended
    /// as `mem` says. A fault exits the block with a load fault.
    Load {
        /// Result.
        dst: Value,
        /// Guest virtual address.
        addr: Value,
        /// Size, extension and alignment.
        mem: MemOp,
    },
    /// Guest memory at `addr` = the low `mem.size` bytes of `src`. A fault
    /// exits the block with a store fault.
    Store {
        /// Guest virtual address.
        addr: Value,
        /// Value stored.
        src: Value,
        /// Size and alignment.
        mem: MemOp,
    },
    /// Atomically: `old = mem[addr]; mem[addr] = op(old, src); dst = old`,
    /// with `old` sign-extended from `size` to 64 bits. Sequentially
    /// consistent. `size` is 4 or 8 bytes; `addr` must be naturally aligned
    /// (else a store misaligned-address trap).
    AtomicRmw {
        /// The operation.
        op: AtomicOp,
        /// The old memory value, sign-extended.
        dst: Value,
        /// Guest virtual address.
        addr: Value,
        /// Operand.
        src: Value,
        /// B4 or B8.
        size: MemSize,
    },
    /// Atomically: `old = mem[addr]; if old == expected { mem[addr] = new };
    /// dst = old`, compared and returned at `size` (the old value
    /// sign-extended). Sequentially consistent; faults as a store, whether
    /// or not the comparison succeeds (a non-writable address always
    /// faults).
    AtomicCas {
        /// The old memory value, sign-extended.
        dst: Value,
        /// Guest virtual address.
        addr: Value,
        /// Compared with memory (its low `size` bytes).
        expected: Value,
        /// Stored on success.
        new: Value,
        /// B4 or B8.
        size: MemSize,
    },
    /// A memory fence.
    Fence {
        /// What it orders.
        kind: FenceKind,
    },
    /// `dst = a op b` in floating point, rounded as `rm` says (ignored by
    /// `fmin`/`fmax`).
    ///
    /// Every float op accrues the IEEE exception flags it raises into the
    /// running thread's float-flag accumulator (`fp::host_flags`), never
    /// clears it, and is executed even if its result is unused: the flags
    /// are an effect. Semantics, bit for bit: [`crate::fp`].
    Fbin {
        /// The operation.
        op: FBinOp,
        /// Format of operands and result.
        w: FpWidth,
        /// Rounding mode.
        rm: Rounding,
        /// Result.
        dst: Value,
        /// Left operand.
        a: Value,
        /// Right operand.
        b: Value,
    },
    /// `dst = sqrt(a)`, rounded as `rm` says; flags as for [`Inst::Fbin`].
    Fsqrt {
        /// Format.
        w: FpWidth,
        /// Rounding mode.
        rm: Rounding,
        /// Result.
        dst: Value,
        /// Operand.
        a: Value,
    },
    /// Fused multiply-add with one rounding, as `rm` says: `dst = ±(a *
    /// b) ± c` (RISC-V `fmadd`, `fmsub`, `fnmsub`, `fnmadd`); flags as for
    /// [`Inst::Fbin`], and `0 * inf` is invalid whatever `c` is.
    Fma {
        /// Format.
        w: FpWidth,
        /// Rounding mode.
        rm: Rounding,
        /// Negate the product.
        neg_product: bool,
        /// Negate the addend.
        neg_addend: bool,
        /// Result.
        dst: Value,
        /// Multiplicand.
        a: Value,
        /// Multiplier.
        b: Value,
        /// Addend.
        c: Value,
    },
    /// `dst = (a cc b) ? 1 : 0` on floats; NaN operands give 0. Flags as
    /// for [`Inst::Fbin`] (see [`FloatCC`]).
    Fcmp {
        /// The comparison.
        cc: FloatCC,
        /// Format.
        w: FpWidth,
        /// Result: 0 or 1.
        dst: Value,
        /// Left operand.
        a: Value,
        /// Right operand.
        b: Value,
    },
    /// Float to integer, rounded as `rm` says, saturating: NaN and
    /// too-large values give the maximum, too-small the minimum
    /// (Unprivileged ISA, table "Domains of float-to-integer conversions");
    /// flags as for [`Inst::Fbin`].
    FcvtToInt {
        /// Format of the operand.
        w: FpWidth,
        /// Rounding mode.
        rm: Rounding,
        /// The integer type.
        to: IntKind,
        /// Result.
        dst: Value,
        /// Operand.
        src: Value,
    },
    /// Integer to float, rounded as `rm` says; flags as for [`Inst::Fbin`].
    FcvtFromInt {
        /// Format of the result.
        w: FpWidth,
        /// Rounding mode.
        rm: Rounding,
        /// The integer type of `src` (its low 32 bits for 32-bit kinds).
        from: IntKind,
        /// Result.
        dst: Value,
        /// Operand.
        src: Value,
    },
    /// Float to float of the other width (`fcvt.s.d`, rounded as `rm`
    /// says, and the exact `fcvt.d.s`); NaN results are the canonical NaN;
    /// flags as for [`Inst::Fbin`].
    FcvtFloat {
        /// Format of the operand; the result has the other one.
        from: FpWidth,
        /// Rounding mode.
        rm: Rounding,
        /// Result.
        dst: Value,
        /// Operand.
        src: Value,
    },
    /// RISC-V `fclass`: a 10-bit mask with one bit set for the class of `a`
    /// (Unprivileged ISA, table 14.5).
    Fclass {
        /// Format.
        w: FpWidth,
        /// Result.
        dst: Value,
        /// Operand.
        a: Value,
    },
    /// Side exit: if `cond != 0`, leave the block and continue at guest
    /// virtual address `pc` (chainable, like [`Terminator::Jump`]);
    /// otherwise go on with the next instruction. Lets a block run on
    /// through the not-taken side of a conditional branch (a superblock).
    ExitIf {
        /// Condition.
        cond: Value,
        /// Next pc if the exit is taken.
        pc: u64,
    },
    /// `dst = helper(cpu, args[0], args[1], args[2])`: calls a runtime
    /// helper that may read and write CPU state (CSR accesses and the like).
    Call {
        /// Which helper.
        helper: Helper,
        /// Result.
        dst: Value,
        /// Arguments.
        args: [Value; 3],
    },
}

/// A runtime helper called by [`Inst::Call`]: its index in the helper table
/// given to the backend and the interpreter. The runtime fills the table;
/// the IR attaches no meaning beyond the signature
/// `extern "C" fn(cpu: *mut u8, a: u64, b: u64, c: u64) -> u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Helper(pub u32);

/// How a block ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Terminator {
    /// Continue at guest virtual address `pc` (chainable).
    Jump {
        /// Next pc.
        pc: u64,
    },
    /// Continue at `taken` if `cond != 0`, else at `not_taken` (both
    /// chainable).
    Branch {
        /// Condition.
        cond: Value,
        /// Next pc if taken.
        taken: u64,
        /// Next pc if not taken.
        not_taken: u64,
    },
    /// Continue at the guest virtual address in `target` (looked up at run
    /// time).
    JumpIndirect {
        /// Next pc.
        target: Value,
        /// The TB flags to look the successor up under, when the block
        /// changed them (a write to a CSR that is part of the flags); `None`
        /// for the block's own [`crate::Block::flags`].
        flags: Option<Value>,
    },
    /// Leave translated code with a synchronous exception: `cause` is an
    /// exception code (the runtime interprets it), `pc` the guest address of
    /// the instruction that raised it.
    Trap {
        /// Exception code.
        cause: u64,
        /// Trap value.
        tval: u64,
        /// The trapping instruction's guest address.
        pc: u64,
    },
    /// Return to the execution loop and continue at `pc` (after changes of
    /// translation state, such as a write to a CSR that translation reads).
    Exit {
        /// Next pc.
        pc: u64,
        /// Translated code may be stale: the runtime must drop the
        /// translation cache before continuing (RISC-V `fence.i`).
        flush: bool,
    },
}
