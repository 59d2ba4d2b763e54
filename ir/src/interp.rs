//! The reference interpreter: the IR's semantics, executed directly.
//!
//! It is the oracle the JIT backend is tested against (differential tests
//! run the same block both ways and compare CPU state, memory and the
//! outcome), so it favours obviousness over speed.

use crate::*;

/// Guest memory as the interpreter sees it: guest virtual addresses, raw
/// little-endian values zero-extended to 64 bits.
pub trait Memory {
    /// Reads `size` bytes at guest virtual address `addr`.
    ///
    /// # Errors
    /// `Err(())` if the address is not readable.
    #[allow(clippy::result_unit_err)]
    fn load(&mut self, addr: u64, size: MemSize) -> Result<u64, ()>;
    /// Writes the low `size` bytes of `value` at `addr`.
    ///
    /// # Errors
    /// `Err(())` if the address is not writable.
    #[allow(clippy::result_unit_err)]
    fn store(&mut self, addr: u64, size: MemSize, value: u64) -> Result<(), ()>;
    /// Atomically replaces the `size` bytes at `addr` (naturally aligned,
    /// 4 or 8 bytes) with `update(old)` and returns `old`, zero-extended.
    /// The access is a store whatever `update` returns. Other threads'
    /// accesses to the same bytes are ordered before or after it, never in
    /// between (the guest's AMOs and SC, RVWMO).
    ///
    /// The default does a load then a store, which is atomic only where no
    /// other thread shares the memory (tests).
    ///
    /// # Errors
    /// `Err(())` if the address is not writable.
    #[allow(clippy::result_unit_err)]
    fn atomic_update(
        &mut self,
        addr: u64,
        size: MemSize,
        update: &mut dyn FnMut(u64) -> u64,
    ) -> Result<u64, ()> {
        let old = self.load(addr, size)?;
        self.store(addr, size, update(old))?;
        Ok(old)
    }
    /// A full memory fence between this thread's earlier and later
    /// accesses (what [`crate::FenceKind::StoreLoad`] needs on a TSO host).
    fn fence(&mut self) {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// A runtime helper: `fn(cpu, a, b, c) -> u64`, where `cpu` points at the
/// CPU-state bytes the block runs on.
pub type HelperFn = unsafe extern "C" fn(cpu: *mut u8, a: u64, b: u64, c: u64) -> u64;

/// How a run of a block ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The block chose its successor: continue at this guest pc
    /// ([`Terminator::Jump`], [`Terminator::Branch`],
    /// [`Terminator::JumpIndirect`]).
    Next(u64),
    /// [`Terminator::Exit`]: back to the execution loop at `pc`.
    Exit {
        /// Next pc.
        pc: u64,
        /// The translation cache must be flushed first.
        flush: bool,
    },
    /// [`Terminator::Trap`].
    Trap {
        /// Exception code.
        cause: u64,
        /// Trap value.
        tval: u64,
        /// Trapping instruction.
        pc: u64,
    },
    /// A memory op faulted.
    MemFault {
        /// The faulting guest virtual address.
        addr: u64,
        /// True for stores and atomics.
        store: bool,
        /// True if the fault is a misaligned atomic, not a missing page.
        misaligned: bool,
        /// The guest pc of the instruction (its [`Inst::InsnStart`]).
        pc: u64,
    },
}

pub(crate) fn sext(x: u64, bits: u32) -> u64 {
    let s = 64 - bits;
    (((x << s) as i64) >> s) as u64
}

pub(crate) fn zext(x: u64, bits: u32) -> u64 {
    if bits >= 64 {
        x
    } else {
        x & ((1u64 << bits) - 1)
    }
}

/// Computes `a op b` exactly as [`BinOp`] documents it.
pub fn binop(op: BinOp, a: u64, b: u64) -> u64 {
    use BinOp::*;
    let (sa, sb) = (a as i64, b as i64);
    match op {
        Iadd => a.wrapping_add(b),
        Isub => a.wrapping_sub(b),
        Imul => a.wrapping_mul(b),
        Smulhi => ((sa as i128 * sb as i128) >> 64) as u64,
        Umulhi => ((a as u128 * b as u128) >> 64) as u64,
        SUmulhi => ((sa as i128).wrapping_mul(b as i128) >> 64) as u64,
        Sdiv => {
            if b == 0 {
                u64::MAX
            } else {
                sa.wrapping_div(sb) as u64
            }
        }
        Udiv => a.checked_div(b).unwrap_or(u64::MAX),
        Srem => {
            if b == 0 {
                a
            } else {
                sa.wrapping_rem(sb) as u64
            }
        }
        Urem => a.checked_rem(b).unwrap_or(a),
        Band => a & b,
        Bor => a | b,
        Bxor => a ^ b,
        Ishl => a << (b & 63),
        Ushr => a >> (b & 63),
        Sshr => (sa >> (b & 63)) as u64,
    }
}

/// Computes `a cc b` as 0 or 1.
pub fn icmp(cc: IntCC, a: u64, b: u64) -> u64 {
    (match cc {
        IntCC::Eq => a == b,
        IntCC::Ne => a != b,
        IntCC::Slt => (a as i64) < (b as i64),
        IntCC::Sge => (a as i64) >= (b as i64),
        IntCC::Ult => a < b,
        IntCC::Uge => a >= b,
    }) as u64
}

/// The new memory value of an atomic read-modify-write, at `bits` width
/// (operands compared at that width).
pub fn atomic_op(op: AtomicOp, old: u64, src: u64, bits: u32) -> u64 {
    let (o, s) = (sext(old, bits), sext(src, bits));
    match op {
        AtomicOp::Xchg => src,
        AtomicOp::Add => old.wrapping_add(src),
        AtomicOp::Xor => old ^ src,
        AtomicOp::And => old & src,
        AtomicOp::Or => old | src,
        AtomicOp::Smin => {
            if (o as i64) < (s as i64) {
                old
            } else {
                src
            }
        }
        AtomicOp::Smax => {
            if (o as i64) > (s as i64) {
                old
            } else {
                src
            }
        }
        AtomicOp::Umin => {
            if zext(old, bits) < zext(src, bits) {
                old
            } else {
                src
            }
        }
        AtomicOp::Umax => {
            if zext(old, bits) > zext(src, bits) {
                old
            } else {
                src
            }
        }
    }
}

/// The guest address a failed `size`-byte access at `addr` reports: its
/// first inaccessible byte, "the portion of the access that caused the
/// fault" (Privileged ISA, section 3.1.16, `mtval`). Only a misaligned
/// access that spans two pages can fault past its first byte. Probes byte
/// by byte; a store probe writes each accessible byte back unchanged.
fn fault_addr(mem: &mut dyn Memory, addr: u64, size: MemSize, store: bool) -> u64 {
    for i in 0..size.bytes() {
        let a = addr.wrapping_add(i);
        let ok = match mem.load(a, MemSize::B1) {
            Ok(byte) => !store || mem.store(a, MemSize::B1, byte).is_ok(),
            Err(()) => false,
        };
        if !ok {
            return a;
        }
    }
    addr
}

/// An atomic read-modify-write of `size` bytes at guest address `a`:
/// stores `update(old)` and returns `old` sign-extended, or the fault (a
/// store fault, or a misaligned-store fault if `a` is not naturally
/// aligned) for the instruction at `pc`.
fn atomic_access(
    mem: &mut dyn Memory,
    a: u64,
    size: MemSize,
    pc: u64,
    update: impl FnMut(u64) -> u64,
) -> Result<u64, Outcome> {
    let fault = |misaligned| Outcome::MemFault {
        addr: a,
        store: true,
        misaligned,
        pc,
    };
    if !a.is_multiple_of(size.bytes()) {
        return Err(fault(true));
    }
    let mut update = update;
    let old = mem
        .atomic_update(a, size, &mut update)
        .map_err(|()| fault(false))?;
    Ok(sext(old, size.bits()))
}

fn state_get(state: &[u8], offset: i32) -> u64 {
    let o = offset as usize;
    let mut b = [0u8; 8];
    b.copy_from_slice(&state[o..o + 8]);
    u64::from_le_bytes(b)
}

fn state_set(state: &mut [u8], offset: i32, v: u64) {
    let o = offset as usize;
    state[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// Runs `block` on the CPU-state bytes `state`, guest memory `mem` and the
/// helper table `helpers`.
///
/// # Panics
/// If the block does not verify (see [`crate::verify::verify`]), a state
/// offset lies outside `state`, or a helper index is outside `helpers`.
///
/// # Safety
/// Helpers receive `state.as_mut_ptr()`; the caller guarantees that the
/// helpers in the table are sound to call on that state.
pub unsafe fn run(
    block: &Block,
    state: &mut [u8],
    mem: &mut dyn Memory,
    helpers: &[HelperFn],
) -> Outcome {
    thread_local! {
        /// The value array, reused from block to block (the cold tier
        /// runs millions of blocks; allocating it each time showed).
        static VALUES: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
    }
    let mut vals = VALUES.take();
    vals.clear();
    vals.resize(block.num_values as usize, 0);
    // SAFETY: the caller's contract, passed on.
    let out = unsafe { run_with(block, state, mem, helpers, &mut vals) };
    VALUES.set(vals);
    out
}

/// [`run`] with the value array `vals` (`block.num_values` zeros).
///
/// # Safety
/// As [`run`].
unsafe fn run_with(
    block: &Block,
    state: &mut [u8],
    mem: &mut dyn Memory,
    helpers: &[HelperFn],
    vals: &mut [u64],
) -> Outcome {
    let mut pc = block.pc;
    for inst in &block.insts {
        if let Inst::InsnStart { pc: p, .. } = *inst {
            pc = p;
            continue;
        }
        // SAFETY: the caller's contract, passed on.
        match unsafe { step(inst, pc, state, mem, helpers, vals) } {
            Ok(Some(r)) => {
                if let Some(d) = inst.dst() {
                    vals[d.index()] = r;
                }
            }
            Ok(None) => {}
            Err(end) => return end,
        }
    }
    finish(
        block.term.expect("interpreting an unterminated block"),
        vals,
    )
}

/// Executes one instruction other than [`Inst::InsnStart`], of the guest
/// instruction at `pc`, on the values `vals`: `Ok(Some(r))` if it gives a
/// result (to be written to its `dst`), `Ok(None)` if it does not (or is
/// an [`Inst::ExitIf`] not taken), `Err(outcome)` if it ends the block (a
/// taken [`Inst::ExitIf`], a fault).
///
/// Also the first tier's ([`crate::baseline`]) semantics for the ops it
/// does not lower itself.
///
/// # Panics
/// If an operand or state offset is out of range (see [`run`]).
///
/// # Safety
/// As [`run`].
pub(crate) unsafe fn step(
    inst: &Inst,
    pc: u64,
    state: &mut [u8],
    mem: &mut dyn Memory,
    helpers: &[HelperFn],
    vals: &[u64],
) -> Result<Option<u64>, Outcome> {
    // Float ops accrue their exception flags into the thread's float-flag
    // accumulator (fp::host_flags), as translated code does.
    let accrue = |(r, f): (u64, u32)| {
        if f != 0 {
            fp::host_flags::raise(f);
        }
        Ok(Some(r))
    };
    use Inst::*;
    let v = |x: Value| vals[x.index()];
    match *inst {
        InsnStart { .. } => Ok(None),
        Iconst { imm, .. } => Ok(Some(imm)),
        GetState { offset, .. } => Ok(Some(state_get(state, offset))),
        SetState { offset, src } => {
            state_set(state, offset, v(src));
            Ok(None)
        }
        Binary { op, a, b, .. } => Ok(Some(binop(op, v(a), v(b)))),
        Icmp { cc, a, b, .. } => Ok(Some(icmp(cc, v(a), v(b)))),
        Select { c, a, b, .. } => Ok(Some(if v(c) != 0 { v(a) } else { v(b) })),
        Sextend { src, bits, .. } => Ok(Some(sext(v(src), bits as u32))),
        Uextend { src, bits, .. } => Ok(Some(zext(v(src), bits as u32))),
        Load { addr, mem: m, .. } => {
            let a = v(addr);
            if m.aligned && a % m.size.bytes() != 0 {
                return Err(Outcome::MemFault {
                    addr: a,
                    store: false,
                    misaligned: true,
                    pc,
                });
            }
            load(mem, a, m, pc).map(Some)
        }
        Store { addr, src, mem: m } => {
            let a = v(addr);
            if m.aligned && a % m.size.bytes() != 0 {
                return Err(Outcome::MemFault {
                    addr: a,
                    store: true,
                    misaligned: true,
                    pc,
                });
            }
            store(mem, a, m.size, v(src), pc).map(|()| None)
        }
        AtomicRmw {
            op,
            addr,
            src,
            size,
            ..
        } => {
            let src = v(src);
            atomic_access(mem, v(addr), size, pc, |old| {
                atomic_op(op, old, src, size.bits())
            })
            .map(Some)
        }
        AtomicCas {
            addr,
            expected,
            new,
            size,
            ..
        } => {
            let (expected, new) = (zext(v(expected), size.bits()), v(new));
            // The access is a store whether or not the comparison
            // succeeds: on failure the old value is written back (as
            // x86's `lock cmpxchg` does), so a non-writable address
            // faults either way.
            atomic_access(mem, v(addr), size, pc, |old| {
                if old == expected {
                    new
                } else {
                    old
                }
            })
            .map(Some)
        }
        // As the JIT lowers it (RVWMO on a TSO host): a full host fence
        // only where an earlier store must precede a later load;
        // otherwise the host keeps the order, and a compiler fence
        // stops rustc from moving this thread's guest accesses across.
        Fence { kind } => {
            match kind {
                crate::FenceKind::StoreLoad => mem.fence(),
                crate::FenceKind::Other => {
                    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst)
                }
            }
            Ok(None)
        }
        ExitIf { cond, pc } => {
            if v(cond) != 0 {
                return Err(Outcome::Next(pc));
            }
            Ok(None)
        }
        Fbin {
            op, w, rm, a, b, ..
        } => accrue(fp::fbin(op, w, rm, v(a), v(b))),
        Fsqrt { w, rm, a, .. } => accrue(fp::fsqrt(w, rm, v(a))),
        Fma {
            w,
            rm,
            neg_product,
            neg_addend,
            a,
            b,
            c,
            ..
        } => accrue(fp::fma(w, rm, neg_product, neg_addend, v(a), v(b), v(c))),
        Fcmp { cc, w, a, b, .. } => accrue(fp::fcmp(cc, w, v(a), v(b))),
        FcvtToInt { w, rm, to, src, .. } => accrue(fp::fcvt_to_int(w, rm, to, v(src))),
        FcvtFromInt {
            w, rm, from, src, ..
        } => accrue(fp::fcvt_from_int(w, rm, from, v(src))),
        FcvtFloat { from, rm, src, .. } => accrue(fp::fcvt_float(from, rm, v(src))),
        Fclass { w, a, .. } => Ok(Some(fp::fclass(w, v(a)))),
        Call { helper, args, .. } => {
            let f = helpers[helper.0 as usize];
            // SAFETY: the caller vouches for the helper table (see # Safety).
            Ok(Some(unsafe {
                f(state.as_mut_ptr(), v(args[0]), v(args[1]), v(args[2]))
            }))
        }
    }
}

/// A plain (not [`MemOp::aligned`]) load of `m` at guest address `a`, for
/// the instruction at `pc`: the value extended as `m` says, or the fault.
pub(crate) fn load(mem: &mut dyn Memory, a: u64, m: MemOp, pc: u64) -> Result<u64, Outcome> {
    match mem.load(a, m.size) {
        Ok(x) if m.signed => Ok(sext(x, m.size.bits())),
        Ok(x) => Ok(zext(x, m.size.bits())),
        Err(()) => Err(Outcome::MemFault {
            addr: fault_addr(mem, a, m.size, false),
            store: false,
            misaligned: false,
            pc,
        }),
    }
}

/// A plain store of the low `size` bytes of `x` at guest address `a`, for
/// the instruction at `pc`, or the fault.
pub(crate) fn store(
    mem: &mut dyn Memory,
    a: u64,
    size: MemSize,
    x: u64,
    pc: u64,
) -> Result<(), Outcome> {
    mem.store(a, size, x).map_err(|()| Outcome::MemFault {
        addr: fault_addr(mem, a, size, true),
        store: true,
        misaligned: false,
        pc,
    })
}

/// Where a block ending in `term` goes, given its values.
pub(crate) fn finish(term: Terminator, vals: &[u64]) -> Outcome {
    match term {
        Terminator::Jump { pc } => Outcome::Next(pc),
        Terminator::Branch {
            cond,
            taken,
            not_taken,
        } => Outcome::Next(if vals[cond.index()] != 0 {
            taken
        } else {
            not_taken
        }),
        Terminator::JumpIndirect { target, .. } => Outcome::Next(vals[target.index()]),
        Terminator::Trap { cause, tval, pc } => Outcome::Trap { cause, tval, pc },
        Terminator::Exit { pc, flush } => Outcome::Exit { pc, flush },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_edges_follow_risc_v() {
        assert_eq!(binop(BinOp::Sdiv, 7, 0), u64::MAX);
        assert_eq!(binop(BinOp::Udiv, 7, 0), u64::MAX);
        assert_eq!(binop(BinOp::Srem, 7, 0), 7);
        assert_eq!(binop(BinOp::Urem, 7, 0), 7);
        let min = i64::MIN as u64;
        assert_eq!(binop(BinOp::Sdiv, min, u64::MAX), min);
        assert_eq!(binop(BinOp::Srem, min, u64::MAX), 0);
        assert_eq!(binop(BinOp::SUmulhi, u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(binop(BinOp::Ishl, 1, 64 + 3), 8);
    }

    #[test]
    fn atomics_compare_at_their_width() {
        // amomin.w: 0xffffffff is -1 at 32 bits, smaller than 1.
        assert_eq!(atomic_op(AtomicOp::Smin, 1, 0xffff_ffff, 32), 0xffff_ffff);
        assert_eq!(atomic_op(AtomicOp::Umin, 1, 0xffff_ffff, 32), 1);
    }
}
