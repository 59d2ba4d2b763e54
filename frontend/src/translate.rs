//! The translator: lowers one guest translation block (TB) of RV64GC code to
//! a [`cranemu_ir::Block`].
//!
//! # Design
//!
//! A QEMU-style translator loop ([`translate_block`]): fetch the 16-bit
//! parcels of one instruction through a [`CodeSource`], [`decode`] it, mark
//! it with `insn_start`, and hand it to `trans_insn`, whose single `match`
//! maps every base [`Op`] to a small `gen_*` function of its extension's
//! module (`rvi` for RV64I and M, `rva`, `rvf` for F and D, `zicsr`) with the
//! op's IR operation as an argument. Compressed instructions arrive already
//! expanded by the decoder, so they need nothing of their own.
//!
//! Guest registers live in the CPU state ([`CpuState`]). Within a block the
//! translator caches the IR value last read from or written to each `x` and
//! `f` register, so a second read costs nothing; every write is still
//! emitted as `set_state` at once, which keeps the CPU state exact at every
//! memory fault (the backend relies on that: a faulting memory op leaves the
//! block without any write-back). Helper calls only touch `fcsr` and read
//! `icount`, neither of which is cached.
//!
//! # How a block ends (see [`EndReason`])
//!
//! - after a control transfer: a conditional branch (`brif`), `jal`
//!   (`jump`), `jalr` (`jump_indirect`);
//! - at a trap raised by the instruction itself: `ecall`, `ebreak`, and any
//!   illegal instruction (the instruction bits are the `tval`; reserved
//!   rounding modes, `rm` = dyn while `frm` holds a reserved value, CSRs not
//!   accessible in user mode, and the privileged instructions count as
//!   illegal);
//! - after `fence.i` (`exit` with `flush`), and after a CSR write to
//!   `fflags`, `frm` or `fcsr` (`exit`): the dynamic rounding mode is a TB
//!   flag, so code after a write to `frm` must be looked up anew;
//! - before an instruction that starts on another 4 KiB page than the
//!   block's first one (a 4-byte instruction straddling the boundary may be
//!   the block's last), and after [`TranslateOptions::max_insns`];
//! - when fetching an instruction faults: on the first instruction the block
//!   is just an instruction page-fault trap; later, the block ends before
//!   that instruction with a `jump` to it, so the fault is raised when
//!   execution actually reaches it.
//!
//! # If-conversion
//!
//! RISC-V has no conditional move, so compilers branch over short runs
//! of arithmetic (`bgeu a6, s4, 1f; lui a2, 0xffff8; 1:`), and when the
//! condition depends on data, the host mispredicts that branch often.
//! With [`TranslateOptions::if_conversion`], a forward conditional
//! branch over at most [`IF_CONVERSION_MAX_INSNS`] instructions on the
//! block's page, each pure integer arithmetic (no memory access, control
//! transfer, CSR or float op: nothing that can trap or be seen; but see
//! "Speculative loads" below), is not a branch: the skipped
//! instructions are translated unconditionally with
//! their register writes kept in the translator's cache, and at the
//! target each register they write gets `select(cond, old, new)`, so the
//! block runs on with a host `cmov` instead of a branch (or a side exit
//! and a second TB). With instruction counting, the block takes the
//! skipped instructions back out of `icount` when the branch is taken.
//!
//! The same holds for a *diamond*, `if (c) a; else b;` as compilers lay
//! it out: a conditional branch to an out-of-line side of at most
//! [`IF_CONVERSION_MAX_DIAMOND`] pure instructions closed by a `j join`,
//! and a fall-through side of at most as many pure instructions up to
//! `join` (or both sides in line, the fall-through one closed by a `j`
//! over the taken one to the join after it). Both sides are translated unconditionally from the registers
//! at the branch, each register either writes becomes `select(cond,
//! taken side's value, fall-through side's value)`, and the block goes
//! on at `join`; `icount` gets the difference between the sides when
//! the branch is taken. LZMA's range decoder is the case in point: each
//! decoded bit is such a branch (`range = bound` or `range -= bound;
//! code -= bound`, and the probability's update), taken about as often
//! as not. In user mode the out-of-line side may be on another page
//! (the fetch records every page it reads, and a write to any of them
//! invalidates the TB); in system mode, where a TB is found by its
//! first page, every instruction must be on the block's page.
//!
//! # Speculative loads
//!
//! In user mode the instructions an if-converted branch skips, and each
//! side of a diamond, may also include up to [`IF_CONVERSION_MAX_LOADS`]
//! integer loads (a hammock with loads up to
//! [`IF_CONVERSION_MAX_LOAD_HAMMOCK`] instructions): range decoders
//! normalise with a branch over a byte load (`if (range < kTop) { range
//! <<= 8; code = code << 8 | *buf++; }`), as unpredictable as the bits
//! they decode. Such a load is then made whether or not its side is
//! taken, so it must not fault for a side that was not to run. Each is
//! marked with an `insn_start` of the branch's pc with
//! [`SPECULATIVE_PC`] set: the CPU state there is as before the branch
//! (the sides write only the translator's cache, and the load is a
//! fault point for the dead-store pass), and a fault reports that pc.
//! The runtime then notes the branch (answering false to
//! [`CodeSource::may_speculate`] for it from then on), invalidates the
//! code translated from its page, and runs on at the branch, which is
//! now translated as a branch: a load that was to run faults there
//! again at its own pc, and one that was not is never made. A load has
//! no other effect in user mode; in system mode (MMIO, page-table walks
//! that set A bits) no load is made speculatively. Two kinds of load
//! that would fault often are not made early at all (`SideLoads`): one
//! through the register a `beqz`/`bnez` branch tests (`if (p) x =
//! p->f;`), and one through a value the side loaded (gcc's `if
//! (TREE_CODE (t) == X) c = t->u.p->code;`: 142 faults in one `cc1`
//! run before, 2 after).
//!
//! # Instruction counting
//!
//! With [`TranslateOptions::count_insns`], the block adds the number of its
//! instructions that retire to `icount` just before its terminator (an
//! `ecall` counts, an illegal instruction or `ebreak` does not). A block left
//! early through a memory fault therefore counts none of its instructions:
//! an accepted approximation, as faults end the thread or are rare (the
//! faults of loads made early, after which the runtime runs the code
//! again, are rarer still: once per pc).
//! `rdinstret`/`rdcycle` inside a block add the instructions of the block
//! before them, so they read exact counts.

use cranemu_ir::{Block, Builder, Terminator, Value};

use crate::cpu::CpuState;
use crate::decode::decode;
use crate::exception::Exception;
use crate::insn::{Insn, Op};

mod rva;
mod rvf;
mod rvi;
pub mod system;
#[cfg(test)]
mod tests;
mod zicsr;

/// Bytes in a guest page: a block never starts an instruction on a page
/// other than its first one's.
pub const PAGE_SIZE: u64 = 4096;

/// Where the translator reads guest code.
pub trait CodeSource {
    /// Reads the 16-bit instruction parcel at guest virtual address `pc`
    /// (2-byte aligned).
    ///
    /// # Errors
    /// The faulting guest virtual address if `pc` is not executable.
    fn fetch_u16(&self, pc: u64) -> Result<u16, u64>;

    /// The exception of a fetch that [`CodeSource::fetch_u16`] refused at
    /// guest virtual address `addr`: an instruction page fault unless the
    /// source knows better (system mode: an access fault where the page
    /// table maps `addr`, or the MMU is off, but no memory is there).
    fn fetch_fault(&self, addr: u64) -> Exception {
        let _ = addr;
        Exception::InstructionPageFault
    }

    /// Whether the sides of the conditional branch at guest virtual
    /// address `branch` may make their loads speculatively when the
    /// branch is if-converted (user mode only; see the module doc,
    /// "Speculative loads"). A runtime answers false for a branch where
    /// such a load faulted before. The default: always.
    fn may_speculate(&self, branch: u64) -> bool {
        let _ = branch;
        true
    }
}

/// Knobs of [`translate_block`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TranslateOptions {
    /// Most guest instructions in one block (at least one is always
    /// translated).
    pub max_insns: usize,
    /// Add the number of retired guest instructions to `icount` (see the
    /// module doc for the approximation).
    pub count_insns: bool,
    /// Continue through the not-taken side of forward conditional branches
    /// (within the page and `max_insns`): the taken side becomes a side
    /// exit ([`cranemu_ir::Inst::ExitIf`]), so code with early exits runs
    /// as one block instead of a chain of small ones. Backward branches
    /// (loops) still end the block, so a loop body stays its own block.
    pub superblocks: bool,
    /// List the instructions translated in [`TranslatedBlock::insns`] (for
    /// `-d in_asm` logs); otherwise that list stays empty, and each
    /// decoded instruction is copied once less (a copy that showed in
    /// start-up profiles).
    pub list_insns: bool,
    /// If-convert short branches: a conditional branch over at most
    /// [`IF_CONVERSION_MAX_INSNS`] integer register-to-register
    /// instructions, or one whose two sides are at most
    /// [`IF_CONVERSION_MAX_DIAMOND`] such instructions each and meet
    /// again, becomes `select`s of the registers they write (see the
    /// module doc, "If-conversion"); in user mode the sides may also
    /// load (the module doc, "Speculative loads").
    pub if_conversion: bool,
}

/// The most instructions an if-converted branch skips
/// ([`TranslateOptions::if_conversion`]) when they are all pure.
pub const IF_CONVERSION_MAX_INSNS: usize = 3;

/// The most instructions an if-converted branch skips when they include
/// loads, which it makes speculatively (user mode; the module doc,
/// "Speculative loads"). Range decoders (LZMA's) normalise with a
/// branch over five: `lbu`, two shifts, an `or` and an `addi`.
pub const IF_CONVERSION_MAX_LOAD_HAMMOCK: usize = 6;

/// The most loads one side of an if-converted branch makes
/// speculatively.
pub const IF_CONVERSION_MAX_LOADS: usize = 2;

/// Set in the pc of an [`cranemu_ir::Inst::InsnStart`] that marks a
/// speculative load (guest instructions are 2-byte aligned, so bit 0 of
/// a real pc is clear): a fault there is reported at the if-converted
/// branch's pc with this bit set, and the CPU state is as it was before
/// that branch. The runtime then runs the branch again without
/// speculation ([`CodeSource::may_speculate`]). The runtime's
/// `cranemu_ir::passes::defer_state_stores` sets the same bit on a load
/// that register writes were deferred past, with the pc of the stretch
/// of code it starts from.
pub const SPECULATIVE_PC: u64 = 1;

/// The most instructions on each side of an if-converted diamond
/// ([`TranslateOptions::if_conversion`]; the taken side's closing `j`
/// not counted).
pub const IF_CONVERSION_MAX_DIAMOND: usize = 8;

impl Default for TranslateOptions {
    fn default() -> Self {
        TranslateOptions {
            max_insns: 512,
            count_insns: false,
            superblocks: false,
            list_insns: true,
            if_conversion: false,
        }
    }
}

/// Why a block ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// A jump or branch (`jal`, `jalr`, `b*`).
    ControlTransfer,
    /// The last instruction raises this exception unconditionally (`ecall`,
    /// `ebreak`, an illegal instruction), or the first instruction could not
    /// be fetched ([`CodeSource::fetch_fault`]).
    Trap(Exception),
    /// `fence.i`: the runtime must flush its translation cache (the
    /// terminator is an `exit` with `flush` set).
    FenceI,
    /// A write to a floating-point CSR. After `frm` and `fcsr` the block
    /// ends with a `jump_indirect` to the next instruction under the TB
    /// flags the write made (a new `frm` changes how later code is
    /// translated); after `fflags` with a `jump` (same flags), so that no
    /// float op after the write can be merged with an identical one before
    /// it (whose flags the write may have cleared).
    CsrWrite,
    /// The next instruction starts on another page.
    PageEnd,
    /// [`TranslateOptions::max_insns`] reached.
    MaxInsns,
    /// The next instruction could not be fetched; the block jumps to it so
    /// that the fault is raised when it is reached.
    FetchFault,
    /// System mode: the last instruction is executed by the runtime, or a
    /// float instruction needs `mstatus.FS` set Dirty first (see
    /// [`system`]).
    System,
}

/// The result of [`translate_block`].
#[derive(Clone, Debug)]
pub struct TranslatedBlock {
    /// The IR, terminated and verifiable.
    pub ir: Block,
    /// The guest instructions translated, with their guest virtual
    /// addresses (for `-d in_asm` logs), if
    /// [`TranslateOptions::list_insns`] asked for them.
    pub insns: Vec<(u64, Insn)>,
    /// Why the block ended.
    pub end: EndReason,
}

/// What translating one instruction did to the block.
pub(crate) enum Flow {
    /// Go on with the next instruction.
    Next,
    /// The instruction ends the block.
    End(Terminator, EndReason),
}

/// Translation state of the block being built (QEMU's `DisasContext`).
pub(crate) struct DisasContext<'a> {
    /// The IR builder.
    pub b: Builder<'a>,
    /// The value last read from or written to each `x` register in this
    /// block (`x0` caches its `iconst 0`).
    xregs: [Option<Value>; 32],
    /// Likewise for the `f` registers.
    fregs: [Option<Value>; 32],
    /// Guest virtual address of the instruction being translated.
    pub pc: u64,
    /// Guest virtual address of the instruction after it.
    pub next_pc: u64,
    /// Instructions of this block before the current one.
    pub insns_before: u64,
    /// Whether blocks count retired instructions in `icount`
    /// ([`TranslateOptions::count_insns`]).
    pub count_insns: bool,
    /// The dynamic rounding mode the block runs under (from its TB flags).
    pub frm: u8,
    /// The block's TB flags.
    pub flags: u64,
    /// Translating the skipped side of an if-converted branch: register
    /// writes only update the cache (`xregs`), and the join writes the
    /// state.
    speculative: bool,
}

impl<'a> DisasContext<'a> {
    fn new(block: &'a mut Block) -> Self {
        DisasContext {
            b: Builder::new(block),
            xregs: [None; 32],
            fregs: [None; 32],
            pc: 0,
            next_pc: 0,
            insns_before: 0,
            count_insns: false,
            frm: 0,
            flags: 0,
            speculative: false,
        }
    }

    /// The value of `x[r]`; `x0` reads as zero.
    pub fn x(&mut self, r: u8) -> Value {
        let r = usize::from(r);
        if let Some(v) = self.xregs[r] {
            return v;
        }
        let v = if r == 0 {
            self.b.iconst(0)
        } else {
            self.b.get_state(CpuState::offset_of_x(r))
        };
        self.xregs[r] = Some(v);
        v
    }

    /// Writes `x[r] = v`; writes to `x0` are dropped.
    pub fn set_x(&mut self, r: u8, v: Value) {
        let r = usize::from(r);
        if r != 0 {
            if !self.speculative {
                self.b.set_state(CpuState::offset_of_x(r), v);
            }
            self.xregs[r] = Some(v);
        }
    }

    /// The raw 64-bit pattern of `f[r]`.
    pub fn f(&mut self, r: u8) -> Value {
        let r = usize::from(r);
        if let Some(v) = self.fregs[r] {
            return v;
        }
        let v = self.b.get_state(CpuState::offset_of_f(r));
        self.fregs[r] = Some(v);
        v
    }

    /// Writes the raw pattern `f[r] = v`.
    pub fn set_f(&mut self, r: u8, v: Value) {
        let r = usize::from(r);
        self.b.set_state(CpuState::offset_of_f(r), v);
        self.fregs[r] = Some(v);
    }

    /// `iconst imm`.
    pub fn iconst(&mut self, imm: u64) -> Value {
        self.b.iconst(imm)
    }

    /// `x[rs1] + imm`, the effective address of a load or store.
    pub fn address(&mut self, insn: &Insn) -> Value {
        let base = self.x(insn.rs1);
        if insn.imm == 0 {
            base
        } else {
            let off = self.iconst(insn.imm as u64);
            self.b.binary(cranemu_ir::BinOp::Iadd, base, off)
        }
    }

    /// Ends the block with a trap of `cause` at the current instruction.
    pub fn trap(&self, cause: Exception, tval: u64) -> Flow {
        Flow::End(
            Terminator::Trap {
                cause: cause.code(),
                tval,
                pc: self.pc,
            },
            EndReason::Trap(cause),
        )
    }

    /// Ends the block with an illegal-instruction trap (`tval` = the
    /// instruction bits). Call before emitting anything with side effects.
    pub fn illegal(&self, insn: &Insn) -> Flow {
        self.trap(Exception::IllegalInstruction, u64::from(insn.raw))
    }
}

/// Reads and decodes the instruction at `pc`.
///
/// # Errors
/// The faulting guest virtual address (`pc`, or `pc + 2` when only the
/// second half of a 4-byte instruction is not executable).
fn fetch(src: &dyn CodeSource, pc: u64) -> Result<Insn, u64> {
    let lo = src.fetch_u16(pc)?;
    if lo & 3 != 3 {
        return Ok(decode(u32::from(lo)));
    }
    let hi = src.fetch_u16(pc.wrapping_add(2))?;
    Ok(decode(u32::from(lo) | u32::from(hi) << 16))
}

thread_local! {
    /// The storage of a block's IR instructions that its user gave back
    /// ([`recycle_ir`]), for the next [`translate_block`] on this thread.
    static SPARE_INSTS: std::cell::Cell<Vec<cranemu_ir::Inst>> =
        const { std::cell::Cell::new(Vec::new()) };
    /// The same for a [`TranslatedBlock`]'s instruction list
    /// ([`recycle_insns`]).
    static SPARE_INSNS: std::cell::Cell<Vec<(u64, Insn)>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// Gives back the storage of a translated block's IR instructions (a
/// [`Block`]'s `insts`) once its user is done with them, for the next
/// [`translate_block`] on this thread to fill: most blocks' IR is
/// dropped once the runtime has lowered it, and an allocation a block
/// showed in start-up profiles.
pub fn recycle_ir(mut insts: Vec<cranemu_ir::Inst>) {
    insts.clear();
    SPARE_INSTS.set(insts);
}

/// As [`recycle_ir`], for a [`TranslatedBlock`]'s `insns`.
pub fn recycle_insns(mut insns: Vec<(u64, Insn)>) {
    insns.clear();
    SPARE_INSNS.set(insns);
}

/// Translates the block at guest virtual address `pc`.
///
/// `flags` are the TB flags ([`crate::cpu::tb_flags`]) of the state the
/// block will run under (today the dynamic rounding mode; every block is
/// translated for user mode).
///
/// Never fails: a guest fault becomes a terminator (see the module doc).
pub fn translate_block(
    src: &dyn CodeSource,
    pc: u64,
    flags: u64,
    opts: &TranslateOptions,
) -> TranslatedBlock {
    let mut ir = Block::new(pc);
    ir.insts = SPARE_INSTS.take();
    let mut insns = SPARE_INSNS.take();
    // Room for a typical block's IR up front (the runtime shrinks it to
    // its length): growing it step by step showed in start-up profiles.
    ir.insts.reserve(128);
    insns.reserve(16);
    ir.flags = flags;
    ir.ambient_rounding = crate::cpu::tb_flags::ambient_rounding(crate::cpu::tb_flags::frm(flags));
    let page = pc & !(PAGE_SIZE - 1);
    let max_insns = opts.max_insns.max(1);
    let mut ctx = DisasContext::new(&mut ir);
    ctx.count_insns = opts.count_insns;
    ctx.frm = crate::cpu::tb_flags::frm(flags);
    ctx.flags = flags;
    let mut cur = pc;
    // Instructions that retire when the block runs to its terminator, and
    // how many of them were already added to `icount` before side exits.
    let mut retired = 0u64;
    let mut counted = 0u64;
    // Instructions translated so far.
    let mut translated = 0usize;
    let (term, end) = loop {
        let insn = match fetch(src, cur) {
            Ok(insn) => insn,
            Err(addr) if translated == 0 => {
                let cause = src.fetch_fault(addr);
                break (
                    Terminator::Trap {
                        cause: cause.code(),
                        tval: addr,
                        pc: cur,
                    },
                    EndReason::Trap(cause),
                );
            }
            Err(_) => break (Terminator::Jump { pc: cur }, EndReason::FetchFault),
        };
        translated += 1;
        if opts.list_insns {
            insns.push((cur, insn));
        }
        ctx.pc = cur;
        ctx.next_pc = cur.wrapping_add(u64::from(insn.len));
        ctx.insns_before = retired;
        ctx.b.insn_start(cur, insn.len);
        let flow = trans_insn(&mut ctx, &insn);
        let mut next = ctx.next_pc;
        // For the speculative loads of an if-converted branch.
        let branch = (cur, insn.len);
        // A short forward branch over pure instructions, or a branch
        // whose two sides are short pure runs that meet again:
        // if-converted.
        let (hammock, diamond) = match flow {
            Flow::End(
                Terminator::Branch {
                    taken, not_taken, ..
                },
                _,
            ) if opts.if_conversion && not_taken == next => {
                let system = flags & crate::cpu::tb_flags::SYSTEM != 0;
                let sides = Sides {
                    page,
                    system,
                    loads: (!system && src.may_speculate(ctx.pc))
                        .then(|| null_test(&insn).map_or(0, |r| 1 << r)),
                    room: max_insns.saturating_sub(translated),
                };
                match hammock(src, next, taken, &sides) {
                    Some(skipped) => (Some(skipped), None),
                    None => (None, diamond(src, ctx.pc, next, taken, &sides)),
                }
            }
            _ => (None, None),
        };
        match (flow, hammock, diamond) {
            (Flow::End(Terminator::Branch { cond, .. }, _), None, Some(d)) => {
                // Each side retires with its closing `j`, if it has one.
                let n_taken = d.taken.len() as u64 + u64::from(d.jump_taken);
                let n_fall = d.fall.len() as u64 + u64::from(!d.jump_taken);
                // The branch and the fall-through side retire as far as
                // the static count goes; the taken side replaces the
                // fall-through side when taken.
                retired += 1 + n_fall;
                translated += d.taken.len() + d.fall.len() + 1;
                if_convert_diamond(&mut ctx, cond, &d, branch);
                if opts.count_insns && n_taken != n_fall {
                    add_icount_if(&mut ctx, cond, n_taken.wrapping_sub(n_fall));
                }
                if opts.list_insns {
                    insns.extend_from_slice(&d.fall);
                    insns.extend_from_slice(&d.taken);
                    insns.push(d.jump);
                }
                next = d.join;
            }
            (Flow::End(Terminator::Branch { cond, taken, .. }, _), Some(skipped), _) => {
                let skipped = skipped.as_slice();
                retired += 1 + skipped.len() as u64;
                translated += skipped.len();
                if_convert(&mut ctx, cond, skipped, branch);
                if opts.count_insns {
                    // The skipped instructions retire only if the branch
                    // is not taken.
                    add_icount_if(&mut ctx, cond, 0u64.wrapping_sub(skipped.len() as u64));
                }
                if opts.list_insns {
                    insns.extend_from_slice(skipped);
                }
                next = taken;
            }
            (Flow::Next, _, _) => retired += 1,
            (
                Flow::End(
                    Terminator::Branch {
                        cond,
                        taken,
                        not_taken,
                    },
                    _,
                ),
                None,
                None,
            ) if opts.superblocks && not_taken == next && taken > ctx.pc => {
                retired += 1;
                if opts.count_insns {
                    // Count what retires up to the side exit now; the rest
                    // at the end.
                    add_icount(&mut ctx, retired - counted);
                    counted = retired;
                }
                ctx.b.exit_if(cond, taken);
            }
            (Flow::End(term, reason), _, _) => {
                if !matches!(reason, EndReason::Trap(e) if e != Exception::EcallFromU)
                    && reason != EndReason::System
                {
                    retired += 1;
                }
                break (term, reason);
            }
        }
        if next & !(PAGE_SIZE - 1) != page {
            break (Terminator::Jump { pc: next }, EndReason::PageEnd);
        }
        if translated >= max_insns {
            break (Terminator::Jump { pc: next }, EndReason::MaxInsns);
        }
        cur = next;
    };
    if opts.count_insns {
        add_icount(&mut ctx, retired - counted);
    }
    ctx.b.terminate(term);
    TranslatedBlock { ir, insns, end }
}

/// The instructions a conditional branch at `next - len` skips when taken
/// to `taken`, if it can be if-converted: at most
/// [`IF_CONVERSION_MAX_INSNS`] of them (and at most `sides.room`), all
/// on `sides.page`, each a pure integer instruction ([`is_pure`]),
/// ending exactly at `taken`. Where `sides.loads` allows them
/// ([`SideLoads::admit`]), also up to [`IF_CONVERSION_MAX_LOADS`] integer loads
/// among at most [`IF_CONVERSION_MAX_LOAD_HAMMOCK`] instructions.
fn hammock(src: &dyn CodeSource, next: u64, taken: u64, sides: &Sides) -> Option<Vec<(u64, Insn)>> {
    let Sides {
        page, room, loads, ..
    } = *sides;
    let max = if loads.is_some() {
        IF_CONVERSION_MAX_LOAD_HAMMOCK
    } else {
        IF_CONVERSION_MAX_INSNS
    };
    if taken <= next || taken - next > 4 * max as u64 {
        return None;
    }
    if (taken - 1) & !(PAGE_SIZE - 1) != page {
        return None;
    }
    // Empty until a first pure instruction: most branches tried fail on
    // their first one, and allocate nothing.
    let mut skipped = Vec::new();
    let mut side = SideLoads::new(loads);
    let mut pc = next;
    while pc < taken {
        if skipped.len() == max.min(room) {
            return None;
        }
        let insn = fetch(src, pc).ok()?;
        if !side.admit(&insn) {
            return None;
        }
        skipped.push((pc, insn));
        // A 4-byte instruction may end past `taken` (then no match), or
        // wrap at the top of the address space.
        pc = pc.wrapping_add(u64::from(insn.len));
        if pc < next {
            return None;
        }
    }
    // Pure runs longer than the pure limit stay branches (longer ones
    // measured no faster).
    (pc == taken && (side.n > 0 || skipped.len() <= IF_CONVERSION_MAX_INSNS)).then_some(skipped)
}

/// What the sides of a branch that [`hammock`] and [`diamond`] look at
/// may be.
#[derive(Clone, Copy)]
struct Sides {
    /// The block's page.
    page: u64,
    /// System mode: every instruction on `page`.
    system: bool,
    /// `None` where no load may be made speculatively; else the
    /// registers (bits) no load may go through: the one a `beqz`/`bnez`
    /// branch tests ([`null_test`]), as `if (p) x = p->f;` would fault
    /// each time `p` is null.
    loads: Option<u32>,
    /// Instructions the block has room for.
    room: usize,
}

/// The two sides of a branch that [`diamond`] found if-convertible.
struct Diamond {
    /// The taken side's instructions (without a closing `j`).
    taken: Vec<(u64, Insn)>,
    /// The fall-through side's instructions (without a closing `j`).
    fall: Vec<(u64, Insn)>,
    /// The `j join` that closes one of the sides, and whether it is the
    /// taken side's (listed for `-d in_asm`, and it retires).
    jump: (u64, Insn),
    jump_taken: bool,
    /// Where both sides go on.
    join: u64,
}

/// The sides of a conditional branch at `branch` (falling through to
/// `next`, taken to `taken`) if they form an if-convertible diamond, in
/// one of the two layouts compilers give `if (c) a; else b;`: the taken
/// side out of line, closed by a `j` back to the join just after the
/// fall-through side (as in LZMA's bit decoder: `range = bound` or
/// `range -= bound; code -= bound`); or both sides in line, the
/// fall-through side closed by a `j` over the taken side to the join just
/// after it. Each side is at most [`IF_CONVERSION_MAX_DIAMOND`] pure
/// instructions ([`is_pure`]), possibly none, of which up to
/// [`IF_CONVERSION_MAX_LOADS`] may be integer loads where `sides.loads`
/// allows them ([`SideLoads::admit`]). In system mode (`sides.system`) every
/// instruction must be on `sides.page`, as a TB is looked up by its
/// first page only; in user mode the fetch records every page read, and
/// a write to any of them invalidates the TB.
fn diamond(
    src: &dyn CodeSource,
    branch: u64,
    next: u64,
    taken: u64,
    sides: &Sides,
) -> Option<Diamond> {
    let Sides {
        page,
        system,
        loads,
        room,
    } = *sides;
    let max = IF_CONVERSION_MAX_DIAMOND.min(room / 2);
    let on_page = |pc: u64, len: u8| {
        !system || pc.wrapping_add(u64::from(len) - 1) & !(PAGE_SIZE - 1) == page
    };
    // The pure instructions from `from` up to a `j` (`to` None: the `j`
    // and its target are returned) or exactly up to `to`.
    let side = |from: u64, to: Option<u64>| {
        let mut insns = Vec::new();
        let mut side = SideLoads::new(loads);
        let mut pc = from;
        loop {
            if Some(pc) == to {
                return Some((insns, None));
            }
            // Checked before the fetch too: in system mode a fetch from
            // another page would make the TB depend on it.
            if to.is_some_and(|to| pc > to) || !on_page(pc, 2) {
                return None;
            }
            let insn = fetch(src, pc).ok()?;
            if !on_page(pc, insn.len) {
                return None;
            }
            if insn.op == Op::Jal && insn.rd == 0 && to.is_none() {
                return Some((insns, Some(((pc, insn), pc.wrapping_add(insn.imm as u64)))));
            }
            if insns.len() == max || !side.admit(&insn) {
                return None;
            }
            insns.push((pc, insn));
            pc = pc.wrapping_add(u64::from(insn.len));
        }
    };
    // Within reach of `from`, forward.
    let near = |from: u64, join: u64| join >= from && join - from <= 4 * max as u64;
    // Out of line: the taken side lies outside branch..join, and the join
    // ends the fall-through side.
    if let Some((taken_side, Some((jump, join)))) = side(taken, None) {
        if near(next, join) && !(branch..join).contains(&taken) && !(branch..join).contains(&jump.0)
        {
            if let Some((fall, _)) = side(next, Some(join)) {
                return Some(Diamond {
                    taken: taken_side,
                    fall,
                    jump,
                    jump_taken: true,
                    join,
                });
            }
        }
    }
    // In line: the fall-through side's `j` is just before the taken side.
    let (fall, Some((jump, join))) = side(next, None)? else {
        return None;
    };
    if jump.0.wrapping_add(u64::from(jump.1.len)) != taken || !near(taken, join) {
        return None;
    }
    let (taken_side, _) = side(taken, Some(join))?;
    Some(Diamond {
        taken: taken_side,
        fall,
        jump,
        jump_taken: false,
        join,
    })
}

/// Whether `op` only computes an integer register from integer registers,
/// an immediate and its pc: no memory access, control transfer, CSR,
/// float flags or trap (RV64I's and M's register and immediate
/// arithmetic, without division, whose translation branches).
fn is_pure(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Lui | Auipc
            | Addi
            | Slti
            | Sltiu
            | Xori
            | Ori
            | Andi
            | Slli
            | Srli
            | Srai
            | Add
            | Sub
            | Sll
            | Slt
            | Sltu
            | Xor
            | Srl
            | Sra
            | Or
            | And
            | Addiw
            | Slliw
            | Srliw
            | Sraiw
            | Addw
            | Subw
            | Sllw
            | Srlw
            | Sraw
            | Mul
            | Mulh
            | Mulhsu
            | Mulhu
            | Mulw
    )
}

/// Whether `op` is an integer load (which an if-converted side may make
/// speculatively: the module doc, "Speculative loads").
fn is_load(op: Op) -> bool {
    use Op::*;
    matches!(op, Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu)
}

/// The register a conditional branch compares with zero for equality
/// (`beqz`/`bnez`), if it does: most likely a null-pointer test.
fn null_test(branch: &Insn) -> Option<u8> {
    match (branch.op, branch.rs1, branch.rs2) {
        (Op::Beq | Op::Bne, r, 0) | (Op::Beq | Op::Bne, 0, r) if r != 0 => Some(r),
        _ => None,
    }
}

/// What one side of an if-converted branch holds so far, for
/// [`SideLoads::admit`].
struct SideLoads {
    /// Whether the side may load at all ([`Sides::loads`]).
    allowed: bool,
    /// Loads admitted.
    n: usize,
    /// The registers (bits) no load may go through: the null-tested one
    /// until the side writes it, and those the side computed from its
    /// own loads.
    unsafe_bases: u32,
}

impl SideLoads {
    fn new(loads: Option<u32>) -> SideLoads {
        SideLoads {
            allowed: loads.is_some(),
            n: 0,
            unsafe_bases: loads.unwrap_or(0),
        }
    }

    /// Whether the side may hold `insn`, the next instruction: a pure
    /// one, or an integer load, up to [`IF_CONVERSION_MAX_LOADS`], not
    /// through the register the branch null-tests nor one the side
    /// computed from its own loads. (`if (TREE_CODE (t) == X) c =
    /// t->u.p->code;` is common in gcc: where the branch goes the other
    /// way, `t->u.p` need not be a pointer, and the second load would
    /// fault.)
    fn admit(&mut self, insn: &Insn) -> bool {
        let bit = |r: u8| 1u32 << r;
        if is_pure(insn.op) {
            if insn.rd != 0 {
                if self.unsafe_bases & (bit(insn.rs1) | bit(insn.rs2)) & !1 != 0 {
                    self.unsafe_bases |= bit(insn.rd);
                } else {
                    self.unsafe_bases &= !bit(insn.rd);
                }
            }
            return true;
        }
        if self.allowed
            && is_load(insn.op)
            && self.n < IF_CONVERSION_MAX_LOADS
            && self.unsafe_bases & bit(insn.rs1) == 0
        {
            self.n += 1;
            if insn.rd != 0 {
                self.unsafe_bases |= bit(insn.rd);
            }
            return true;
        }
        false
    }
}

/// Translates `skipped`, the instructions a branch whose condition is
/// `cond` skips when taken, unconditionally, then writes each register
/// they write as `select(cond, old value, new value)`: the block goes on
/// at the branch target with no branch at all. `branch` is the branch's
/// pc and length.
fn if_convert(ctx: &mut DisasContext<'_>, cond: Value, skipped: &[(u64, Insn)], branch: (u64, u8)) {
    let old = written_before(ctx, skipped.iter());
    translate_speculatively(ctx, skipped, branch);
    for (r, old) in old.iter().enumerate() {
        if let Some(old) = *old {
            let r = r as u8;
            let new = ctx.x(r);
            let v = ctx.b.select(cond, old, new);
            ctx.set_x(r, v);
        }
    }
}

/// Translates both sides of a [`Diamond`] unconditionally, each from
/// the registers as they are at the branch, then writes each register
/// either side writes as `select(cond, taken side's value, fall-through
/// side's value)`: the block goes on at the join with no branch.
/// `branch` is the branch's pc and length.
fn if_convert_diamond(ctx: &mut DisasContext<'_>, cond: Value, d: &Diamond, branch: (u64, u8)) {
    let old = written_before(ctx, d.taken.iter().chain(&d.fall));
    translate_speculatively(ctx, &d.taken, branch);
    let mut taken: [Option<Value>; 32] = [None; 32];
    for (r, o) in old.iter().enumerate() {
        if let Some(o) = *o {
            taken[r] = ctx.xregs[r];
            ctx.xregs[r] = Some(o);
        }
    }
    translate_speculatively(ctx, &d.fall, branch);
    for (r, t) in taken.iter().enumerate() {
        if let Some(t) = *t {
            let r = r as u8;
            let f = ctx.x(r);
            let v = if t == f { t } else { ctx.b.select(cond, t, f) };
            ctx.set_x(r, v);
        }
    }
}

/// The registers that `insns` write (not `x0`), each with its value
/// now, before they run.
fn written_before<'i>(
    ctx: &mut DisasContext<'_>,
    insns: impl Iterator<Item = &'i (u64, Insn)>,
) -> [Option<Value>; 32] {
    let mut old: [Option<Value>; 32] = [None; 32];
    for (_, insn) in insns {
        if insn.rd != 0 && old[usize::from(insn.rd)].is_none() {
            old[usize::from(insn.rd)] = Some(ctx.x(insn.rd));
        }
    }
    old
}

/// Translates the pure instructions and loads `insns` of a side of the
/// if-converted branch at `branch` (pc, length) with their register
/// writes kept in the translator's cache only (the caller writes the
/// state). A load belongs to the branch, marked speculative (see
/// [`SPECULATIVE_PC`]); the pure instructions get no `insn_start`.
fn translate_speculatively(ctx: &mut DisasContext<'_>, insns: &[(u64, Insn)], branch: (u64, u8)) {
    ctx.speculative = true;
    for &(pc, insn) in insns {
        ctx.pc = pc;
        ctx.next_pc = pc.wrapping_add(u64::from(insn.len));
        if is_load(insn.op) {
            ctx.b.insn_start(branch.0 | SPECULATIVE_PC, branch.1);
        } else {
            // No `insn_start`: the instruction cannot fault, and its pc is
            // no point where the state is exact (nothing of the side is
            // written yet), which `defer_state_stores` relies on.
            ctx.b.count_insn();
        }
        let flow = trans_insn(ctx, &insn);
        debug_assert!(
            matches!(flow, Flow::Next),
            "a pure instruction or a load ends no block"
        );
    }
    ctx.speculative = false;
}

/// Adds `delta` (wrapping: a negative number of instructions is a large
/// `u64`) to `icount` if `cond` is non-zero.
fn add_icount_if(ctx: &mut DisasContext<'_>, cond: Value, delta: u64) {
    let k = ctx.iconst(delta);
    let zero = ctx.iconst(0);
    let extra = ctx.b.select(cond, k, zero);
    let count = ctx.b.get_state(CpuState::OFFSET_ICOUNT);
    let count = ctx.b.binary(cranemu_ir::BinOp::Iadd, count, extra);
    ctx.b.set_state(CpuState::OFFSET_ICOUNT, count);
}

/// Adds `n` retired instructions to `icount`.
fn add_icount(ctx: &mut DisasContext<'_>, n: u64) {
    if n > 0 {
        let count = ctx.b.get_state(CpuState::OFFSET_ICOUNT);
        let count = ctx.b.binary_imm(cranemu_ir::BinOp::Iadd, count, n);
        ctx.b.set_state(CpuState::OFFSET_ICOUNT, count);
    }
}

/// Translates one instruction: the op → `gen_*` table.
fn trans_insn(ctx: &mut DisasContext<'_>, insn: &Insn) -> Flow {
    use cranemu_ir::AtomicOp as A;
    use cranemu_ir::BinOp::*;
    use cranemu_ir::FBinOp as Fb;
    use cranemu_ir::FloatCC as Fc;
    use cranemu_ir::FpWidth::{D, S};
    use cranemu_ir::IntCC;
    use cranemu_ir::IntKind::*;
    use cranemu_ir::MemSize::*;
    use rvf::Sgnj;
    use rvi::Alu::{Bin, Cmp};
    use zicsr::CsrOp;
    use Op::*;
    if ctx.flags & crate::cpu::tb_flags::SYSTEM != 0 {
        if let Some(flow) = system::gate(ctx, insn) {
            return flow;
        }
    }
    match insn.op {
        // ---- RV64I ----
        Lui => rvi::trans_lui(ctx, insn),
        Auipc => rvi::trans_auipc(ctx, insn),
        Jal => rvi::trans_jal(ctx, insn),
        Jalr => rvi::trans_jalr(ctx, insn),
        Beq => rvi::gen_branch(ctx, insn, IntCC::Eq),
        Bne => rvi::gen_branch(ctx, insn, IntCC::Ne),
        Blt => rvi::gen_branch(ctx, insn, IntCC::Slt),
        Bge => rvi::gen_branch(ctx, insn, IntCC::Sge),
        Bltu => rvi::gen_branch(ctx, insn, IntCC::Ult),
        Bgeu => rvi::gen_branch(ctx, insn, IntCC::Uge),
        Lb => rvi::gen_load(ctx, insn, B1, true),
        Lh => rvi::gen_load(ctx, insn, B2, true),
        Lw => rvi::gen_load(ctx, insn, B4, true),
        Ld => rvi::gen_load(ctx, insn, B8, true),
        Lbu => rvi::gen_load(ctx, insn, B1, false),
        Lhu => rvi::gen_load(ctx, insn, B2, false),
        Lwu => rvi::gen_load(ctx, insn, B4, false),
        Sb => rvi::gen_store(ctx, insn, B1),
        Sh => rvi::gen_store(ctx, insn, B2),
        Sw => rvi::gen_store(ctx, insn, B4),
        Sd => rvi::gen_store(ctx, insn, B8),
        Addi => rvi::gen_alu(ctx, insn, Bin(Iadd), true),
        Slti => rvi::gen_alu(ctx, insn, Cmp(IntCC::Slt), true),
        Sltiu => rvi::gen_alu(ctx, insn, Cmp(IntCC::Ult), true),
        Xori => rvi::gen_alu(ctx, insn, Bin(Bxor), true),
        Ori => rvi::gen_alu(ctx, insn, Bin(Bor), true),
        Andi => rvi::gen_alu(ctx, insn, Bin(Band), true),
        Slli => rvi::gen_alu(ctx, insn, Bin(Ishl), true),
        Srli => rvi::gen_alu(ctx, insn, Bin(Ushr), true),
        Srai => rvi::gen_alu(ctx, insn, Bin(Sshr), true),
        Add => rvi::gen_alu(ctx, insn, Bin(Iadd), false),
        Sub => rvi::gen_alu(ctx, insn, Bin(Isub), false),
        Sll => rvi::gen_alu(ctx, insn, Bin(Ishl), false),
        Slt => rvi::gen_alu(ctx, insn, Cmp(IntCC::Slt), false),
        Sltu => rvi::gen_alu(ctx, insn, Cmp(IntCC::Ult), false),
        Xor => rvi::gen_alu(ctx, insn, Bin(Bxor), false),
        Srl => rvi::gen_alu(ctx, insn, Bin(Ushr), false),
        Sra => rvi::gen_alu(ctx, insn, Bin(Sshr), false),
        Or => rvi::gen_alu(ctx, insn, Bin(Bor), false),
        And => rvi::gen_alu(ctx, insn, Bin(Band), false),
        Fence => rvi::trans_fence(ctx, insn),
        FenceI => Flow::End(
            Terminator::Exit {
                pc: ctx.next_pc,
                flush: true,
            },
            EndReason::FenceI,
        ),
        Ecall => ctx.trap(Exception::EcallFromU, 0),
        Ebreak => ctx.trap(Exception::Breakpoint, ctx.pc),
        Addiw => rvi::gen_alu_w(ctx, insn, Iadd, true),
        Slliw => rvi::gen_alu_w(ctx, insn, Ishl, true),
        Srliw => rvi::gen_alu_w(ctx, insn, Ushr, true),
        Sraiw => rvi::gen_alu_w(ctx, insn, Sshr, true),
        Addw => rvi::gen_alu_w(ctx, insn, Iadd, false),
        Subw => rvi::gen_alu_w(ctx, insn, Isub, false),
        Sllw => rvi::gen_alu_w(ctx, insn, Ishl, false),
        Srlw => rvi::gen_alu_w(ctx, insn, Ushr, false),
        Sraw => rvi::gen_alu_w(ctx, insn, Sshr, false),
        // ---- Zicsr ----
        Csrrw => zicsr::gen_csr(ctx, insn, CsrOp::Write, false),
        Csrrs => zicsr::gen_csr(ctx, insn, CsrOp::Set, false),
        Csrrc => zicsr::gen_csr(ctx, insn, CsrOp::Clear, false),
        Csrrwi => zicsr::gen_csr(ctx, insn, CsrOp::Write, true),
        Csrrsi => zicsr::gen_csr(ctx, insn, CsrOp::Set, true),
        Csrrci => zicsr::gen_csr(ctx, insn, CsrOp::Clear, true),
        // ---- M ----
        Mul => rvi::gen_alu(ctx, insn, Bin(Imul), false),
        Mulh => rvi::gen_alu(ctx, insn, Bin(Smulhi), false),
        Mulhsu => rvi::gen_alu(ctx, insn, Bin(SUmulhi), false),
        Mulhu => rvi::gen_alu(ctx, insn, Bin(Umulhi), false),
        Div => rvi::gen_alu(ctx, insn, Bin(Sdiv), false),
        Divu => rvi::gen_alu(ctx, insn, Bin(Udiv), false),
        Rem => rvi::gen_alu(ctx, insn, Bin(Srem), false),
        Remu => rvi::gen_alu(ctx, insn, Bin(Urem), false),
        Mulw => rvi::gen_alu_w(ctx, insn, Imul, false),
        Divw => rvi::gen_alu_w(ctx, insn, Sdiv, false),
        Divuw => rvi::gen_alu_w(ctx, insn, Udiv, false),
        Remw => rvi::gen_alu_w(ctx, insn, Srem, false),
        Remuw => rvi::gen_alu_w(ctx, insn, Urem, false),
        // ---- A ----
        LrW => rva::gen_lr(ctx, insn, B4),
        ScW => rva::gen_sc(ctx, insn, B4),
        AmoswapW => rva::gen_amo(ctx, insn, A::Xchg, B4),
        AmoaddW => rva::gen_amo(ctx, insn, A::Add, B4),
        AmoxorW => rva::gen_amo(ctx, insn, A::Xor, B4),
        AmoandW => rva::gen_amo(ctx, insn, A::And, B4),
        AmoorW => rva::gen_amo(ctx, insn, A::Or, B4),
        AmominW => rva::gen_amo(ctx, insn, A::Smin, B4),
        AmomaxW => rva::gen_amo(ctx, insn, A::Smax, B4),
        AmominuW => rva::gen_amo(ctx, insn, A::Umin, B4),
        AmomaxuW => rva::gen_amo(ctx, insn, A::Umax, B4),
        LrD => rva::gen_lr(ctx, insn, B8),
        ScD => rva::gen_sc(ctx, insn, B8),
        AmoswapD => rva::gen_amo(ctx, insn, A::Xchg, B8),
        AmoaddD => rva::gen_amo(ctx, insn, A::Add, B8),
        AmoxorD => rva::gen_amo(ctx, insn, A::Xor, B8),
        AmoandD => rva::gen_amo(ctx, insn, A::And, B8),
        AmoorD => rva::gen_amo(ctx, insn, A::Or, B8),
        AmominD => rva::gen_amo(ctx, insn, A::Smin, B8),
        AmomaxD => rva::gen_amo(ctx, insn, A::Smax, B8),
        AmominuD => rva::gen_amo(ctx, insn, A::Umin, B8),
        AmomaxuD => rva::gen_amo(ctx, insn, A::Umax, B8),
        // ---- F ----
        Flw => rvf::gen_fload(ctx, insn, S),
        Fsw => rvf::gen_fstore(ctx, insn, S),
        FmaddS => rvf::gen_fma(ctx, insn, S, false, false),
        FmsubS => rvf::gen_fma(ctx, insn, S, false, true),
        FnmsubS => rvf::gen_fma(ctx, insn, S, true, false),
        FnmaddS => rvf::gen_fma(ctx, insn, S, true, true),
        FaddS => rvf::gen_fbin(ctx, insn, Fb::Fadd, S),
        FsubS => rvf::gen_fbin(ctx, insn, Fb::Fsub, S),
        FmulS => rvf::gen_fbin(ctx, insn, Fb::Fmul, S),
        FdivS => rvf::gen_fbin(ctx, insn, Fb::Fdiv, S),
        FsqrtS => rvf::gen_fsqrt(ctx, insn, S),
        FsgnjS => rvf::gen_fsgnj(ctx, insn, Sgnj::Copy, S),
        FsgnjnS => rvf::gen_fsgnj(ctx, insn, Sgnj::Negate, S),
        FsgnjxS => rvf::gen_fsgnj(ctx, insn, Sgnj::Xor, S),
        FminS => rvf::gen_fbin(ctx, insn, Fb::Fmin, S),
        FmaxS => rvf::gen_fbin(ctx, insn, Fb::Fmax, S),
        FcvtWS => rvf::gen_fcvt_to_int(ctx, insn, S, I32),
        FcvtWuS => rvf::gen_fcvt_to_int(ctx, insn, S, U32),
        FcvtLS => rvf::gen_fcvt_to_int(ctx, insn, S, I64),
        FcvtLuS => rvf::gen_fcvt_to_int(ctx, insn, S, U64),
        FmvXW => rvf::gen_fmv_to_x(ctx, insn, S),
        FeqS => rvf::gen_fcmp(ctx, insn, Fc::Eq, S),
        FltS => rvf::gen_fcmp(ctx, insn, Fc::Lt, S),
        FleS => rvf::gen_fcmp(ctx, insn, Fc::Le, S),
        FclassS => rvf::gen_fclass(ctx, insn, S),
        FcvtSW => rvf::gen_fcvt_from_int(ctx, insn, S, I32),
        FcvtSWu => rvf::gen_fcvt_from_int(ctx, insn, S, U32),
        FcvtSL => rvf::gen_fcvt_from_int(ctx, insn, S, I64),
        FcvtSLu => rvf::gen_fcvt_from_int(ctx, insn, S, U64),
        FmvWX => rvf::gen_fmv_from_x(ctx, insn, S),
        // ---- D ----
        Fld => rvf::gen_fload(ctx, insn, D),
        Fsd => rvf::gen_fstore(ctx, insn, D),
        FmaddD => rvf::gen_fma(ctx, insn, D, false, false),
        FmsubD => rvf::gen_fma(ctx, insn, D, false, true),
        FnmsubD => rvf::gen_fma(ctx, insn, D, true, false),
        FnmaddD => rvf::gen_fma(ctx, insn, D, true, true),
        FaddD => rvf::gen_fbin(ctx, insn, Fb::Fadd, D),
        FsubD => rvf::gen_fbin(ctx, insn, Fb::Fsub, D),
        FmulD => rvf::gen_fbin(ctx, insn, Fb::Fmul, D),
        FdivD => rvf::gen_fbin(ctx, insn, Fb::Fdiv, D),
        FsqrtD => rvf::gen_fsqrt(ctx, insn, D),
        FsgnjD => rvf::gen_fsgnj(ctx, insn, Sgnj::Copy, D),
        FsgnjnD => rvf::gen_fsgnj(ctx, insn, Sgnj::Negate, D),
        FsgnjxD => rvf::gen_fsgnj(ctx, insn, Sgnj::Xor, D),
        FminD => rvf::gen_fbin(ctx, insn, Fb::Fmin, D),
        FmaxD => rvf::gen_fbin(ctx, insn, Fb::Fmax, D),
        FcvtSD => rvf::gen_fcvt_float(ctx, insn, D),
        FcvtDS => rvf::gen_fcvt_float(ctx, insn, S),
        FeqD => rvf::gen_fcmp(ctx, insn, Fc::Eq, D),
        FltD => rvf::gen_fcmp(ctx, insn, Fc::Lt, D),
        FleD => rvf::gen_fcmp(ctx, insn, Fc::Le, D),
        FclassD => rvf::gen_fclass(ctx, insn, D),
        FcvtWD => rvf::gen_fcvt_to_int(ctx, insn, D, I32),
        FcvtWuD => rvf::gen_fcvt_to_int(ctx, insn, D, U32),
        FcvtDW => rvf::gen_fcvt_from_int(ctx, insn, D, I32),
        FcvtDWu => rvf::gen_fcvt_from_int(ctx, insn, D, U32),
        FcvtLD => rvf::gen_fcvt_to_int(ctx, insn, D, I64),
        FcvtLuD => rvf::gen_fcvt_to_int(ctx, insn, D, U64),
        FmvXD => rvf::gen_fmv_to_x(ctx, insn, D),
        FcvtDL => rvf::gen_fcvt_from_int(ctx, insn, D, I64),
        FcvtDLu => rvf::gen_fcvt_from_int(ctx, insn, D, U64),
        FmvDX => rvf::gen_fmv_from_x(ctx, insn, D),
        // ---- Privileged: not available in user mode ----
        Sret | Mret | Wfi | SfenceVma | Illegal => ctx.illegal(insn),
    }
}
