//! The first tier's host code: a block's [`Program`] (the first tier's
//! compact form, `cranemu_ir::baseline`) emitted as x86-64 machine code
//! op by op, TCG's way, with no optimization and no register allocation.
//!
//! Start-up-bound programs run most of their blocks a few dozen times
//! before the compile thread gets to them: python's start-up runs 18,000
//! blocks over a million times in all. Running them in the first tier's
//! loop cost about 65 ns a block (a third of the vCPU thread's time);
//! Cranelift, even without optimization, takes 150 µs to compile one.
//! Emitting this code adds about 2 µs to a block's translation (python
//! -S: 18,000 blocks, translation 72 ms before, about 110 ms with it),
//! and takes the first tier off the profile: the start-up took a third
//! less time (BENCHMARKS.md, "Issue 12, fifth step").
//!
//! # Shape
//! A value that some op reads from memory lives in an 8-byte stack slot
//! (`r11` points 128 bytes into the slots, so 32 of them are a one-byte
//! displacement away); an op loads its operands into scratch registers,
//! computes into `rax`, and stores its result to its slot unless its one
//! read is the next op's first operand, which that op finds in `rax`
//! (`Emitter::def`; the frame's size is patched into the entry once the
//! ops are emitted). Two kinds of value have no slot and no code where
//! they are defined (`analyze`, one pass before the code): a constant is
//! moved into the register that reads it, and a guest register read
//! (`Get`) is loaded from the CPU state where it is read, if the block
//! does not write that register before its last read (the `sd s0,
//! 8(sp)` of a function's prologue is then a load of `s0` and a store,
//! where it was a load, a store to a slot, a reload and a store). A
//! value that the next op stores to the state is read back from there
//! too. `rdi` holds the CPU state throughout (as in the Cranelift code:
//! the `tail` calling convention passes it there), `r15` the host address
//! of guest address 0 (set by whoever enters translated code, see
//! [`crate::BackendConfig::guest_base`]) and `r9` the guest space's size.
//! The code follows the exit protocol of the crate doc: it returns an
//! [`ExitCode`] or an exit slot's address (without writing `pc` for the
//! latter: the runtime knows each slot's guest pc), and tail-calls (`jmp`) a chained successor with its own
//! frame popped, so it chains to and from Cranelift code freely. Each
//! direct exit starts with a `jmp rel32` that goes on to the slot's
//! protocol until the runtime chains the slot, and then straight to the
//! successor ([`chain`]). A
//! compare whose result only an `ExitIf` or the terminator reads (with
//! only flag-keeping ops between, such as the update of `icount`) is not
//! materialized: the branch tests the flags of its `cmp`
//! (`fuse_compares`).
//!
//! The code starts with two stubs that return [`ExitCode::Hot`] and
//! [`ExitCode::Interrupt`] (`pc` written), then its entry
//! ([`TemplateLayout::entry`]), which, before the frame:
//! 1. jumps to the next instruction: a `jmp rel32` whose displacement
//!    [`forward`] sets once the TB has Cranelift code, so that chained
//!    exits and jump-cache entries that still name this code lead to
//!    the better code (QEMU patches its `goto_tb` jumps the same way: one
//!    aligned 4-byte store);
//! 2. returns through the interrupt stub if `exit_request` is set;
//! 3. subtracts one from the TB's execution counter (`rip`-relative, so
//!    the counter must lie within 2 GiB of the code: [`link_counter`]),
//!    and returns through the hot stub when it reaches zero: the runtime
//!    starts the counter at the JIT threshold plus one, and queues the TB
//!    for Cranelift at that exit.
//!
//! A frame is made only for a block with values in slots or with calls
//! (divisions, the lookup of an indirect jump); `r9` is loaded only by a
//! block with memory accesses.
//!
//! # Guest memory
//! User mode only. An access checks `address < guest_size`, and an
//! `aligned` access its alignment, then accesses `r15 + address`. Where
//! the runtime leaves [`SHARED_CHECK_GUARD`] bytes unmapped on both
//! sides of the guest space, a later access from the same base value
//! (`ld a1, 16(sp)` after `ld a0, 8(sp)`) at an offset less than the
//! guard (less 16) from the checked one's makes no check: it accesses
//! `r15 + base + offset`, which is in the guest space or in a guard,
//! where the host faults (see below). A
//! failed check `call`s the block's shared tail for its exit code
//! ([`ExitCode::LoadFault`], [`ExitCode::StoreFault`] or a misaligned
//! one), which stores the pushed return address, less one, to
//! `fault_host_pc` ([`StateLayout::fault_host_pc`]) and returns: ten bytes
//! of code an access instead of a stub each. The runtime maps that host
//! pc to the guest pc through the block's [`CompiledBlock::pc_map`],
//! whose range for an access covers its checks. A host fault at the
//! access (an unmapped or protected guest page, or the guard above the
//! guest space for an access straddling its end) is mapped the same way
//! by the runtime's signal handler, as for Cranelift code.
//!
//! # Size
//! gcc's cc1 translates 115,000 blocks: the code's size is most of what
//! the first tier adds to a large program's peak RSS. It takes 436 bytes
//! a block there (602 before the entry, exits, fault paths and branches
//! were made smaller; BENCHMARKS.md, "Issue 12, sixth step").
//!
//! # What is not emitted
//! [`Compiler::compile`] refuses (returns `None`) a program with ops the
//! first tier leaves to the reference interpreter (floating point,
//! atomics, fences, helper calls), an indirect jump that changes the TB
//! flags, or more than [`MAX_VALUES`] values; the first tier's loop runs
//! those blocks instead.

use std::sync::atomic::{AtomicU32, Ordering};

use cranemu_ir::baseline::{Op, Program};
use cranemu_ir::{interp, BinOp, IntCC, MemOp, MemSize, Terminator};

use crate::{flags_hash, CompiledBlock, ExitCode, ExitSlot, PcRange, StateLayout};
use crate::{LookupFn, JUMP_CACHE_ENTRIES};

mod passes;

pub use passes::SHARED_CHECK_GUARD;
use passes::{analyze, fuse_compares, keeps_flags, packed_operands, term_uses, x86_cc};
use passes::{Analysis, Scan, IMMEDIATE, NO_VALUE};

/// Most values a block may have for its code to be emitted: its frame
/// is eight bytes a value (4 KiB).
pub const MAX_VALUES: u32 = 512;

// x86-64 registers, by encoding.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RSP: u8 = 4;
const RSI: u8 = 6;
const RDI: u8 = 7;
const R9: u8 = 9;
const R11: u8 = 11;
/// The host address of guest address 0, throughout translated code.
const GUEST_BASE: u8 = 15;

/// `r11` points this far above the frame's first value slot, so that 32
/// slots are within a one-byte displacement of it.
const FRAME_BIAS: i32 = 128;

/// No slot (yet), in [`Emitter::slot`].
const NO_SLOT: u16 = u16::MAX;

// Condition codes (the low nibble of `jcc`, `setcc`, `cmovcc`).
const CC_B: u8 = 0x2;
const CC_AE: u8 = 0x3;
const CC_E: u8 = 0x4;
const CC_NE: u8 = 0x5;
const CC_L: u8 = 0xc;
const CC_GE: u8 = 0xd;

/// What the code of one TB needs from its TB.
pub struct TemplateTb<'a> {
    /// The TB's exit slots, in [`cranemu_ir::Block::direct_exits`]'s
    /// order (their addresses are built into the code, as in Cranelift's).
    pub slots: &'a [ExitSlot],
    /// The TB flags the block was translated under (its indirect jumps
    /// look their successor up under them).
    pub flags: u64,
}

/// Where, in a block's first-tier code, the runtime must finish it once
/// it knows where the code goes (offsets in bytes from the code's start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateLayout {
    /// The entry point: the code is entered here, not at its start (its
    /// exit stubs come first). It is 3 more than a multiple of 4, so that
    /// the displacement [`forward`] writes is 4-byte aligned if the code
    /// is.
    pub entry: usize,
    /// The `rel32` of the instruction that counts runs
    /// (`sub dword [rip + rel32], 1`), set by [`link_counter`].
    pub counter_rel: usize,
}

/// Points the run counter of first-tier code `code` (the bytes that will
/// run at host address `at`, laid out as `layout` says) at the 32-bit
/// counter at host address `counter`. The counter is a `u32` that the
/// code decrements at each entry; it returns [`ExitCode::Hot`] at the
/// entry that makes it zero.
///
/// Returns false, leaving the code as it was, if `counter` is not within
/// 2 GiB of the code, which the `rip`-relative access cannot reach.
pub fn link_counter(code: &mut [u8], layout: &TemplateLayout, at: usize, counter: usize) -> bool {
    // The displacement is from the end of the instruction: the rel32 and
    // the immediate byte after it.
    let end = at.wrapping_add(layout.counter_rel + 5);
    let Ok(rel) = i32::try_from(counter.wrapping_sub(end) as isize) else {
        return false;
    };
    code[layout.counter_rel..layout.counter_rel + 4].copy_from_slice(&rel.to_le_bytes());
    true
}

/// Makes placed first-tier code jump from its entry straight to
/// `target` (the TB's Cranelift code) with one atomic store, which
/// vCPUs running the code at the same time see either before or after.
/// Returns false, changing nothing, if `target` is not within 2 GiB of
/// the entry.
///
/// # Safety
/// `entry` must be the entry ([`TemplateLayout::entry`]) of first-tier
/// code placed at a 4-byte aligned address in writable memory that stays
/// mapped, and `target` code that the entry may jump to with the
/// entry's registers (the exit protocol of the crate doc).
pub unsafe fn forward(entry: *const u8, target: *const u8) -> bool {
    // SAFETY: the caller's contract; the entry is a `jmp rel32` whose
    // displacement is 4-byte aligned (see `TemplateLayout::entry`).
    unsafe { point_jmp(entry, target) }
}

/// Chains a direct exit of placed first-tier code: its `jmp` at `jmp`
/// (the code's address plus the offset [`Compiler::compile_with`]
/// reported for the exit's slot) jumps to `target`, the code that the
/// runtime also stores in the slot, with one atomic store, as QEMU
/// patches its `goto_tb` jumps. The exit then neither loads its slot
/// nor jumps through a register: a first-tier block's slot is seldom in
/// the data cache (a third of python's first-tier time was the load).
/// Returns false, changing nothing, if `target` is not within 2 GiB of
/// the `jmp`; the exit then keeps going through its slot.
///
/// # Safety
/// `jmp` must be such an exit `jmp` of first-tier code placed at a
/// 4-byte aligned address in writable memory that stays mapped, and
/// `target` code that the exit may jump to (the exit protocol of the
/// crate doc; the frame is popped before the `jmp`).
pub unsafe fn chain(jmp: *const u8, target: *const u8) -> bool {
    // SAFETY: the caller's contract.
    unsafe { point_jmp(jmp, target) }
}

/// Undoes [`chain`]: the exit's `jmp` at `jmp` goes on to the next
/// instruction, which reads the exit's slot.
///
/// # Safety
/// As for [`chain`].
pub unsafe fn unchain(jmp: *const u8) {
    // SAFETY: the caller's contract; the next instruction is always
    // within reach.
    unsafe { point_jmp(jmp, jmp.wrapping_add(5)) };
}

/// Points the `jmp rel32` at `jmp`, whose displacement is 4-byte
/// aligned in writable memory, at `target` with one atomic store, if
/// it is within reach.
unsafe fn point_jmp(jmp: *const u8, target: *const u8) -> bool {
    let end = (jmp as usize).wrapping_add(5);
    let Ok(rel) = i32::try_from((target as usize).wrapping_sub(end) as isize) else {
        return false;
    };
    // SAFETY: the caller's contract: the `jmp`'s displacement, 4-byte
    // aligned, in writable memory.
    let disp = unsafe { &*(jmp.add(1) as *const AtomicU32) };
    disp.store(rel as u32, Ordering::Release);
    true
}

/// Emits first-tier code for user mode (see the module doc); built by
/// [`crate::Backend::first_tier`].
pub struct Compiler {
    pub(crate) guest_size: u64,
    /// Unmapped bytes the host keeps on both sides of the guest space
    /// ([`crate::BackendConfig::guest_guard`]): accesses from one base
    /// share its bounds check when it is at least [`SHARED_CHECK_GUARD`].
    pub(crate) guest_guard: u64,
    pub(crate) layout: StateLayout,
    pub(crate) lookup: LookupFn,
}

/// The emitter's work arrays, kept per thread from block to block (every
/// TB is emitted: allocating them each time showed in profiles).
#[derive(Default)]
struct Buffers {
    code: Vec<u8>,
    pc_map: Vec<PcRange>,
    cold: Vec<Cold>,
    slot: Vec<u16>,
    fused: Vec<bool>,
    analysis: Analysis,
    exit_jmps: Vec<u32>,
}

thread_local! {
    static BUFFERS: std::cell::Cell<Buffers> = std::cell::Cell::new(Buffers::default());
}

impl Compiler {
    /// The code of `prog` for the TB `tb`, or `None` if the program has
    /// what this tier does not emit (see the module doc).
    pub fn compile(
        &self,
        prog: &Program,
        tb: &TemplateTb<'_>,
    ) -> Option<(CompiledBlock, TemplateLayout)> {
        self.compile_with(prog, tb, |code, pc_map, layout, _| {
            let block = CompiledBlock {
                code: code.to_vec(),
                clif: None,
                pc_map: pc_map.to_vec(),
            };
            (block, layout)
        })
    }

    /// [`Compiler::compile`], handing the code, its host-pc map, its
    /// layout and the offsets of its exits' `jmp`s (one for each of
    /// `tb`'s slots, in their order: see [`chain`]) to `place` (which
    /// finishes the code, [`link_counter`], and copies it where it will
    /// run) instead of returning them: `None` if the tier does not emit
    /// the program, else what `place` returns.
    pub fn compile_with<R>(
        &self,
        prog: &Program,
        tb: &TemplateTb<'_>,
        place: impl FnOnce(&mut [u8], &[PcRange], TemplateLayout, &[u32]) -> R,
    ) -> Option<R> {
        let mut bufs = BUFFERS.take();
        let r = self
            .emit(prog, tb, &mut bufs)
            .map(|layout| place(&mut bufs.code, &bufs.pc_map, layout, &bufs.exit_jmps));
        BUFFERS.set(bufs);
        r
    }

    /// Whether this tier emits `prog` (see the module doc, "What is not
    /// emitted"); [`Compiler::compile`] returns `None` for the others.
    pub fn emits(&self, prog: &Program) -> bool {
        self.emits_shape(prog) && analyze(prog, 0, &mut Analysis::default()).is_some()
    }

    /// [`Compiler::emits`]' checks of the program as a whole (its ops are
    /// checked by [`analyze`]).
    fn emits_shape(&self, prog: &Program) -> bool {
        prog.num_values() <= MAX_VALUES
            && !matches!(
                prog.terminator(),
                Terminator::JumpIndirect { flags: Some(_), .. }
            )
    }

    /// Emits `prog` into `bufs` (`code` and `pc_map` hold the result).
    fn emit(
        &self,
        prog: &Program,
        tb: &TemplateTb<'_>,
        bufs: &mut Buffers,
    ) -> Option<TemplateLayout> {
        if !self.emits_shape(prog) {
            return None;
        }
        let reach = if self.guest_guard >= SHARED_CHECK_GUARD {
            (SHARED_CHECK_GUARD - 16) as i64
        } else {
            0
        };
        let scan = analyze(prog, reach, &mut bufs.analysis)?;
        if scan.exits != tb.slots.len() {
            return None;
        }
        let mut e = Emitter::new(self, prog, tb, &scan, std::mem::take(bufs));
        e.entry();
        let mut slots = 0..tb.slots.len();
        let ops = prog.ops();
        let term_first = term_uses(prog.terminator()).unwrap_or(NO_VALUE);
        for (i, op) in ops.iter().enumerate() {
            // The value the next op (or the terminator) reads first.
            e.next_first = ops
                .get(i + 1)
                .map_or(term_first, |next| (packed_operands(next) >> 16) as u16);
            if let Op::ExitIf { c, .. } = *op {
                let slot = slots.next()?;
                let cc = e.test_of(c);
                let at = e.jcc(cc);
                e.cold.push(Cold::SideExit { at, slot });
                continue;
            }
            e.op(op, e.a.unchecked[i])?;
        }
        e.next_first = NO_VALUE;
        e.finish_frame();
        match prog.terminator() {
            Terminator::Jump { .. } => e.direct_exit(slots.next()?),
            Terminator::Branch { cond, .. } => {
                let (t, n) = (slots.next()?, slots.next()?);
                // To the not-taken exit if the condition is false.
                let cc = e.test_of(cond.0 as u16);
                let at = e.jcc(cc ^ 1);
                e.direct_exit(t);
                e.bind(at);
                e.direct_exit(n);
            }
            Terminator::JumpIndirect {
                target,
                flags: None,
            } => {
                e.indirect_exit(target.0 as u16);
            }
            Terminator::JumpIndirect { flags: Some(_), .. } => return None,
            Terminator::Trap { cause, tval, pc } => {
                let l = self.layout;
                e.store_state_imm(l.trap_cause, cause);
                e.store_state_imm(l.fault_addr, tval);
                e.store_state_imm(l.pc, pc);
                e.leave(ExitCode::Trap);
            }
            Terminator::Exit { pc, flush } => {
                e.store_state_imm(self.layout.pc, pc);
                e.leave(if flush {
                    ExitCode::ExitFlush
                } else {
                    ExitCode::Exit
                });
            }
        }
        e.emit_cold();
        let failed = e.failed;
        let layout = TemplateLayout {
            entry: e.entry_at,
            counter_rel: e.counter_rel,
        };
        *bufs = Buffers {
            code: e.code,
            pc_map: e.pc_map,
            cold: e.cold,
            slot: e.slot,
            fused: e.fused,
            analysis: e.a,
            exit_jmps: e.exit_jmps,
        };
        (!failed).then_some(layout)
    }
}

/// Code placed after the block's body, reached by a `jcc` at `at` (the
/// offset of its rel32).
#[derive(Clone, Copy)]
enum Cold {
    /// A guest address at or above the guest size, or misaligned: `rax`
    /// holds it, and the `call` whose rel32 is at `at` pushed a host pc
    /// inside the access's [`PcRange`].
    Fault { at: usize, code: ExitCode },
    /// An `ExitIf` taken.
    SideExit { at: usize, slot: usize },
}

struct Emitter<'a> {
    c: &'a Compiler,
    prog: &'a Program,
    tb: &'a TemplateTb<'a>,
    code: Vec<u8>,
    pc_map: Vec<PcRange>,
    cold: Vec<Cold>,
    /// Frame bytes below the return address: 0 for a block with no slots
    /// and no calls; 8 mod 16 for a block with calls (so that they see a
    /// 16-byte aligned stack). Final once the ops are emitted
    /// ([`Emitter::finish_frame`]); only the code after them pops it.
    frame: i32,
    /// Where the entry's `sub rsp, imm` has its immediate (patched by
    /// [`Emitter::finish_frame`]), and whether it is an imm8; `None` if
    /// the block can have no frame.
    frame_imm: Option<(usize, bool)>,
    /// The frame offset of the first slot: 8 in a block with calls, whose
    /// frame saves the CPU-state pointer at offset 0.
    slots_at: i32,
    /// The slots given out so far ([`Emitter::def`]).
    nslots: u16,
    /// How many values may get a slot (at most): if any, `r11` is
    /// loaded.
    may_slot: usize,
    /// The value the op after the one being emitted reads first (its
    /// `rax` operand), or [`NO_VALUE`].
    next_first: u16,
    /// Whether the block calls out (a helper or the lookup): `rdi` is
    /// then saved in the frame.
    calls: bool,
    /// Whether the block accesses guest memory: `r9` is then loaded at
    /// entry and after calls.
    mem: bool,
    /// [`TemplateLayout::entry`].
    entry_at: usize,
    /// [`TemplateLayout::counter_rel`].
    counter_rel: usize,
    /// The compares whose result only an `ExitIf` or the terminator
    /// reads, which branches on the flags of their `cmp`
    /// ([`fuse_compares`]), by value.
    fused: Vec<bool>,
    /// A compare's result left in the flags: (its value, the x86
    /// condition code under which it is 1).
    flags: Option<(u16, u8)>,
    /// Each value's slot number, or [`NO_SLOT`] ([`Emitter::def`]).
    slot: Vec<u16>,
    /// What [`analyze`] found: reads, values read from the state or as
    /// immediates, accesses without a check of their own.
    a: Analysis,
    /// For each exit slot, the offset of its exit's `jmp` ([`chain`]).
    exit_jmps: Vec<u32>,
    /// The value `rax` holds at this point of the code, if known.
    rax: Option<u16>,
    /// Set if an op would read a value that is neither in `rax`, nor in
    /// the state or an immediate, nor in a slot (a bug of
    /// [`Emitter::def`]'s rule): the block is then left to the first
    /// tier's loop rather than run wrong.
    failed: bool,
}

impl<'a> Emitter<'a> {
    /// An emitter for `prog` (which [`analyze`] found to be `scan`, in
    /// `bufs.analysis`) that reuses `bufs`' arrays.
    fn new(
        c: &'a Compiler,
        prog: &'a Program,
        tb: &'a TemplateTb<'a>,
        scan: &Scan,
        bufs: Buffers,
    ) -> Emitter<'a> {
        let Buffers {
            mut code,
            mut pc_map,
            mut cold,
            mut slot,
            mut fused,
            analysis: a,
            mut exit_jmps,
        } = bufs;
        let n = prog.num_values() as usize;
        fuse_compares(prog.ops(), prog.terminator(), &a.reads, &mut fused);
        slot.clear();
        slot.resize(n, NO_SLOT);
        exit_jmps.clear();
        exit_jmps.resize(tb.slots.len(), 0);
        code.clear();
        pc_map.clear();
        cold.clear();
        // Only a value that is read, and not from the state or as an
        // immediate, may need a slot.
        let may_slot = a
            .reads
            .iter()
            .zip(&a.direct)
            .filter(|&(&r, &d)| r > 0 && d == NO_VALUE)
            .count();
        let (calls, mem) = (scan.calls, scan.mem);
        Emitter {
            c,
            prog,
            tb,
            code,
            pc_map,
            cold,
            frame: 0,
            frame_imm: None,
            slots_at: if calls { 8 } else { 0 },
            nslots: 0,
            may_slot,
            next_first: NO_VALUE,
            calls,
            mem,
            entry_at: 0,
            counter_rel: 0,
            fused,
            flags: None,
            slot,
            a,
            exit_jmps,
            rax: None,
            failed: false,
        }
    }

    // ---- encoding ----

    fn byte(&mut self, b: u8) {
        self.code.push(b);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.code.extend_from_slice(b);
    }

    fn imm32(&mut self, x: i32) {
        self.bytes(&x.to_le_bytes());
    }

    /// A REX prefix for operand width `w` (64-bit), ModRM `reg` and
    /// `rm` (or SIB base) and SIB `index`; omitted when it would be
    /// plain 0x40 and `force` is false.
    fn rex(&mut self, w: bool, reg: u8, index: u8, rm: u8, force: bool) {
        let r = 0x40 | (u8::from(w) << 3) | ((reg >> 3) << 2) | ((index >> 3) << 1) | (rm >> 3);
        if r != 0x40 || force {
            self.byte(r);
        }
    }

    /// `opcode` with ModRM register form: `reg`, `rm` registers.
    fn op_rr(&mut self, w: bool, opcode: &[u8], reg: u8, rm: u8) {
        self.rex(w, reg, 0, rm, false);
        self.bytes(opcode);
        self.byte(0xc0 | ((reg & 7) << 3) | (rm & 7));
    }

    /// `opcode` with a `[base + disp]` memory operand, in its shortest
    /// encoding.
    fn op_rm(&mut self, w: bool, opcode: &[u8], reg: u8, base: u8, disp: i32) {
        self.rex(w, reg, 0, base, false);
        self.bytes(opcode);
        let m = if disp == 0 && base & 7 != 5 {
            0x00
        } else if i32::from(disp as i8) == disp {
            0x40
        } else {
            0x80
        };
        self.byte(m | ((reg & 7) << 3) | (base & 7));
        if base & 7 == RSP {
            self.byte(0x24);
        }
        match m {
            0x40 => self.byte(disp as u8),
            0x80 => self.imm32(disp),
            _ => {}
        }
    }

    /// `opcode` with a `[base + index + disp]` memory operand (`base`
    /// not rbp/r13, `index` not rsp), in its shortest encoding.
    #[allow(clippy::too_many_arguments)]
    fn op_rbi(
        &mut self,
        w: bool,
        prefix: Option<u8>,
        opcode: &[u8],
        reg: u8,
        base: u8,
        index: u8,
        disp: i32,
    ) {
        if let Some(p) = prefix {
            self.byte(p);
        }
        self.rex(w, reg, index, base, false);
        self.bytes(opcode);
        let m = if disp == 0 {
            0x00
        } else if i32::from(disp as i8) == disp {
            0x40
        } else {
            0x80
        };
        self.byte(m | ((reg & 7) << 3) | 4);
        self.byte(((index & 7) << 3) | (base & 7));
        match m {
            0x40 => self.byte(disp as u8),
            0x80 => self.imm32(disp),
            _ => {}
        }
    }

    /// `mov reg, imm`, in its shortest form.
    fn mov_imm(&mut self, reg: u8, imm: u64) {
        if imm <= u64::from(u32::MAX) {
            // mov r32, imm32 (zero-extends).
            self.rex(false, 0, 0, reg, false);
            self.byte(0xb8 + (reg & 7));
            self.imm32(imm as u32 as i32);
        } else if imm as i64 == i64::from(imm as i32) {
            // mov r/m64, imm32 (sign-extends).
            self.op_rr(true, &[0xc7], 0, reg);
            self.imm32(imm as i32);
        } else {
            self.rex(true, 0, 0, reg, false);
            self.byte(0xb8 + (reg & 7));
            self.bytes(&imm.to_le_bytes());
        }
    }

    /// The displacement of value `v`'s slot from `r11`.
    fn slot_disp(&self, v: u16) -> i32 {
        8 * i32::from(self.slot[usize::from(v)]) - FRAME_BIAS
    }

    /// The most frame bytes the block can need: `values` slots, and
    /// the saved CPU-state pointer if it calls out.
    fn frame_for(&self, values: usize) -> i32 {
        let frame = self.slots_at + 8 * values as i32;
        if self.calls && frame % 16 == 0 {
            frame + 8
        } else {
            frame
        }
    }

    /// Sets the frame's size from the slots given out, in the entry's
    /// `sub rsp` too; called once the ops are emitted, before the code
    /// that pops the frame.
    fn finish_frame(&mut self) {
        self.frame = self.frame_for(usize::from(self.nslots));
        match self.frame_imm {
            Some((at, true)) => self.code[at] = self.frame as u8,
            Some((at, false)) => self.code[at..at + 4].copy_from_slice(&self.frame.to_le_bytes()),
            // No frame: no slot was possible, and no call.
            None => self.failed |= self.frame != 0,
        }
    }

    /// `reg = v`: from `rax` if it holds `v` (see [`Emitter::rax`]),
    /// else as an immediate or from the CPU state (see [`analyze`]), else
    /// from `v`'s slot.
    fn load_val(&mut self, reg: u8, v: u16) {
        if self.rax == Some(v) {
            if reg != RAX {
                self.op_rr(true, &[0x8b], reg, RAX);
            }
            return;
        }
        let off = self.a.direct[usize::from(v)];
        if off == IMMEDIATE {
            self.mov_imm(reg, self.a.imms[usize::from(v)]);
        } else if off != NO_VALUE {
            self.load_state(reg, i32::from(off));
        } else {
            if self.slot[usize::from(v)] == NO_SLOT {
                self.failed = true;
            }
            let d = self.slot_disp(v);
            self.op_rm(true, &[0x8b], reg, R11, d);
        }
        if reg == RAX {
            self.rax = Some(v);
        }
    }

    /// `rax` now holds the value `v` (defined by the current op): gives
    /// it a slot and stores it there, unless no op reads it, or each
    /// read finds it elsewhere: in the state or as an immediate (see
    /// [`analyze`]), or in `rax`, when its one read is the next op's
    /// first operand (which that op loads before anything else).
    fn def(&mut self, v: u16) {
        let i = usize::from(v);
        let reads = self.a.reads[i];
        let in_rax = reads == 1 && self.next_first == v;
        if reads > 0 && self.a.direct[i] == NO_VALUE && !in_rax {
            if self.slot[i] == NO_SLOT {
                self.slot[i] = self.nslots;
                self.nslots += 1;
            }
            let d = self.slot_disp(v);
            self.op_rm(true, &[0x89], RAX, R11, d);
        }
        self.rax = Some(v);
    }

    /// Notes that `rax` is about to be overwritten.
    fn clobber(&mut self) {
        self.rax = None;
    }

    fn load_state(&mut self, reg: u8, off: i32) {
        self.op_rm(true, &[0x8b], reg, RDI, off);
    }

    fn store_state(&mut self, off: i32, reg: u8) {
        self.op_rm(true, &[0x89], reg, RDI, off);
    }

    fn store_state_imm(&mut self, off: i32, imm: u64) {
        if imm as i64 != i64::from(imm as i32) {
            self.clobber();
        }
        self.store_state_imm_via(off, imm, RAX);
    }

    /// Stores `imm` to the CPU state at `off`, through `scratch` if it
    /// does not fit a sign-extended 32-bit immediate.
    fn store_state_imm_via(&mut self, off: i32, imm: u64, scratch: u8) {
        if imm as i64 == i64::from(imm as i32) {
            self.op_rm(true, &[0xc7], 0, RDI, off);
            self.imm32(imm as i32);
        } else {
            self.mov_imm(scratch, imm);
            self.store_state(off, scratch);
        }
    }

    fn test(&mut self, a: u8, b: u8) {
        self.op_rr(true, &[0x85], b, a);
    }

    /// `jcc rel32` to be bound later; returns the rel32's offset.
    fn jcc(&mut self, cc: u8) -> usize {
        self.bytes(&[0x0f, 0x80 | cc]);
        let at = self.code.len();
        self.imm32(0);
        at
    }

    /// Points the rel32 at `at` to the current offset.
    fn bind(&mut self, at: usize) {
        let rel = (self.code.len() - (at + 4)) as i32;
        self.code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
    }

    /// `jmp reg`.
    fn jmp_reg(&mut self, reg: u8) {
        self.op_rr(false, &[0xff], 4, reg);
    }

    /// `add rsp, frame`, if there is a frame (its size is final: see
    /// [`Emitter::finish_frame`]).
    fn pop_frame(&mut self) {
        match self.frame {
            0 => {}
            f if f < 128 => {
                self.op_rr(true, &[0x83], 0, RSP);
                self.byte(f as u8);
            }
            f => {
                self.op_rr(true, &[0x81], 0, RSP);
                self.imm32(f);
            }
        }
    }

    /// `jcc rel8` back to offset `target`, which must be within 128
    /// bytes (else the block is left to the loop: `failed`).
    fn jcc_back(&mut self, cc: u8, target: usize) {
        let rel = target as isize - (self.code.len() as isize + 2);
        self.failed |= rel < -128;
        self.bytes(&[0x70 | cc, rel as i8 as u8]);
    }

    /// Leaves with exit code `code` (the frame set up).
    fn leave(&mut self, code: ExitCode) {
        self.pop_frame();
        self.mov_imm(RAX, code as u64);
        self.byte(0xc3);
    }

    // ---- structure ----

    fn entry(&mut self) {
        let l = self.c.layout;
        // The stubs: `mov eax, Hot; jmp common`, `mov eax, Interrupt`,
        // then common: `pc` = the block's pc, return.
        let hot = self.code.len();
        self.byte(0xb8);
        self.imm32(ExitCode::Hot as i32);
        // jmp over the next `mov eax, imm32`.
        self.bytes(&[0xeb, 0x05]);
        let interrupt = self.code.len();
        self.byte(0xb8);
        self.imm32(ExitCode::Interrupt as i32);
        self.store_state_imm_via(l.pc, self.prog.pc(), RCX);
        self.byte(0xc3);
        // int3 up to the entry, whose `jmp`'s rel32 is then 4-byte aligned.
        while self.code.len() % 4 != 3 {
            self.byte(0xcc);
        }
        // 1. jmp next (see `forward`).
        self.entry_at = self.code.len();
        self.bytes(&[0xe9, 0, 0, 0, 0]);
        // 2. cmp dword [rdi + exit_request], 0
        self.op_rm(false, &[0x83], 7, RDI, l.exit_request);
        self.byte(0);
        self.jcc_back(CC_NE, interrupt);
        // 3. sub dword [rip + counter], 1
        self.bytes(&[0x83, 0x2d]);
        self.counter_rel = self.code.len();
        self.imm32(0);
        self.byte(1);
        self.jcc_back(CC_E, hot);
        // The frame: `sub rsp, imm`, its size patched once the slots are
        // known (`finish_frame`), at most one for each value.
        let most = self.frame_for(self.may_slot);
        if most > 0 {
            let imm8 = most < 128;
            self.op_rr(true, &[if imm8 { 0x83 } else { 0x81 }], 5, RSP);
            self.frame_imm = Some((self.code.len(), imm8));
            if imm8 {
                self.byte(0);
            } else {
                self.imm32(0);
            }
        }
        if self.calls {
            // mov [rsp], rdi
            self.op_rm(true, &[0x89], RDI, RSP, 0);
        }
        self.guest_regs();
    }

    /// Loads `r9` (if the block accesses memory) and `r11` (if it has
    /// slots), also after a call, which clobbers them (`r15`, the guest
    /// base, is callee-saved).
    fn guest_regs(&mut self) {
        if self.mem {
            self.mov_imm(R9, self.c.guest_size);
        }
        if self.may_slot > 0 {
            // lea r11, [rsp + slots_at + FRAME_BIAS]
            self.op_rm(true, &[0x8d], R11, RSP, self.slots_at + FRAME_BIAS);
        }
    }

    /// Calls `f` (System V); `rdi`, `r9`, `r11` are restored
    /// after it, and `rax` holds its result.
    fn call(&mut self, f: usize) {
        // The frame has no room for `rdi` unless `Emitter::new` foresaw
        // the call: leave the block to the loop rather than run it wrong.
        self.failed |= !self.calls;
        self.clobber();
        self.mov_imm(RAX, f as u64);
        // call rax
        self.op_rr(false, &[0xff], 2, RAX);
        self.op_rm(true, &[0x8b], RDI, RSP, 0);
        self.guest_regs();
    }

    /// A direct exit through the TB's exit slot `k`: a `jmp` that
    /// [`chain`] points at the successor's code once the runtime chains
    /// the slot (until then it jumps to the next instruction), then the
    /// slot's own protocol: tail-jump to the code the slot holds, or
    /// return its address, with `pc` not written (the runtime knows each
    /// slot's guest pc; see the crate doc's exit protocol).
    fn direct_exit(&mut self, k: usize) {
        let slot = self.tb.slots[k];
        self.pop_frame();
        self.clobber();
        // NOPs up to a 4-byte aligned displacement (see `chain`).
        match 3 - self.code.len() % 4 {
            1 => self.byte(0x90),
            2 => self.bytes(&[0x66, 0x90]),
            3 => self.bytes(&[0x0f, 0x1f, 0x00]),
            _ => {}
        }
        self.exit_jmps[k] = self.code.len() as u32;
        self.bytes(&[0xe9, 0, 0, 0, 0]);
        self.mov_imm(RAX, slot as u64);
        self.op_rm(true, &[0x8b], RCX, RAX, 0);
        // jrcxz over the `jmp rcx` (2 bytes) to the `ret`.
        self.bytes(&[0xe3, 0x02]);
        self.jmp_reg(RCX);
        self.byte(0xc3);
    }

    /// The jump cache probed inline, as the Cranelift code does, then
    /// the lookup helper; [`ExitCode::NoChain`] if neither knows `t`.
    fn indirect_exit(&mut self, t: u16) {
        let l = self.c.layout;
        self.load_val(RAX, t);
        self.store_state(l.pc, RAX);
        // rcx = jump_cache_index(t, flags) * 32 + jump cache.
        self.op_rr(true, &[0x8b], RCX, RAX);
        self.op_rr(true, &[0xc1], 5, RCX);
        self.byte(1);
        self.op_rr(true, &[0x8b], RDX, RAX);
        self.op_rr(true, &[0xc1], 5, RDX);
        self.byte(13);
        self.op_rr(true, &[0x31], RDX, RCX);
        let fh = flags_hash(self.tb.flags);
        if fh != 0 {
            self.op_rr(true, &[0x81], 6, RCX);
            self.imm32(fh as i32);
        }
        self.op_rr(true, &[0x81], 4, RCX);
        self.imm32((JUMP_CACHE_ENTRIES - 1) as i32);
        self.op_rr(true, &[0xc1], 4, RCX);
        self.byte(5);
        self.op_rm(true, &[0x03], RCX, RDI, l.jump_cache);
        // cmp rax, [rcx]; cmp [rcx + 8], flags
        self.op_rm(true, &[0x3b], RAX, RCX, 0);
        let miss1 = self.jcc(CC_NE);
        self.mov_imm(RDX, self.tb.flags);
        self.op_rm(true, &[0x3b], RDX, RCX, 8);
        let miss2 = self.jcc(CC_NE);
        self.op_rm(true, &[0x8b], RAX, RCX, 16);
        self.pop_frame();
        self.jmp_reg(RAX);
        self.bind(miss1);
        self.bind(miss2);
        // The lookup helper: (cpu, pc) -> code or null.
        self.op_rr(true, &[0x8b], RSI, RAX);
        self.call(self.c.lookup as usize);
        self.test(RAX, RAX);
        let none = self.jcc(CC_E);
        self.pop_frame();
        self.jmp_reg(RAX);
        self.bind(none);
        self.leave(ExitCode::NoChain);
    }

    fn emit_cold(&mut self) {
        let l = self.c.layout;
        // (Indexed, not drained: the array is kept for the next block.)
        for i in 0..self.cold.len() {
            if let Cold::SideExit { at, slot } = self.cold[i] {
                self.bind(at);
                self.direct_exit(slot);
            }
        }
        // The fault tails, one for each exit code that some access uses:
        // `rax` holds the guest address, and the return address the `call`
        // pushed, less one, is a host pc of the access (`address`), which
        // the runtime maps to its guest pc as it maps a host fault's
        // (`fault_host_pc`).
        for code in [
            ExitCode::LoadFault,
            ExitCode::StoreFault,
            ExitCode::LoadMisaligned,
            ExitCode::StoreMisaligned,
        ] {
            let mut used = false;
            for i in 0..self.cold.len() {
                if let Cold::Fault { at, code: c } = self.cold[i] {
                    if c == code {
                        self.bind(at);
                        used = true;
                    }
                }
            }
            if !used {
                continue;
            }
            // pop rdx; sub rdx, 1
            self.byte(0x5a);
            self.op_rr(true, &[0x83], 5, RDX);
            self.byte(1);
            self.store_state(l.fault_host_pc, RDX);
            self.store_state(l.fault_addr, RAX);
            self.leave(code);
        }
    }

    // ---- ops ----

    /// `rax = rax op rcx` (divisions and `mulhsu` through a helper call).
    fn alu(&mut self, op: BinOp) {
        let opcode = match op {
            BinOp::Iadd => 0x01,
            BinOp::Isub => 0x29,
            BinOp::Band => 0x21,
            BinOp::Bor => 0x09,
            BinOp::Bxor => 0x31,
            BinOp::Ishl | BinOp::Ushr | BinOp::Sshr => {
                let ext = match op {
                    BinOp::Ishl => 4,
                    BinOp::Ushr => 5,
                    _ => 7,
                };
                // shift rax, cl (x86 masks a 64-bit count to 6 bits,
                // as the IR does).
                self.op_rr(true, &[0xd3], ext, RAX);
                return;
            }
            BinOp::Imul => {
                self.op_rr(true, &[0x0f, 0xaf], RAX, RCX);
                return;
            }
            BinOp::Smulhi | BinOp::Umulhi => {
                let ext = if op == BinOp::Smulhi { 5 } else { 4 };
                self.op_rr(true, &[0xf7], ext, RCX);
                self.op_rr(true, &[0x8b], RAX, RDX);
                return;
            }
            _ => {
                // The rest (divisions, mulhsu) through a helper.
                self.op_rr(true, &[0x8b], RSI, RAX);
                self.op_rr(true, &[0x8b], RDX, RCX);
                self.mov_imm(RDI, binop_code(op));
                self.call(binop_helper as *const () as usize);
                return;
            }
        };
        self.op_rr(true, &[opcode], RCX, RAX);
    }

    /// `rax = rax op imm`.
    fn alu_imm(&mut self, op: BinOp, imm: u64) {
        let ext = match op {
            BinOp::Iadd => Some(0),
            BinOp::Bor => Some(1),
            BinOp::Band => Some(4),
            BinOp::Isub => Some(5),
            BinOp::Bxor => Some(6),
            _ => None,
        };
        match ext {
            Some(0) if imm == 0 => {}
            // lea rax, [rax + imm] keeps a compare's result in the flags.
            Some(0) if self.flags.is_some() => {
                if imm as i64 == i64::from(imm as i32) {
                    self.op_rm(true, &[0x8d], RAX, RAX, imm as i32);
                } else {
                    self.mov_imm(RCX, imm);
                    self.op_rbi(true, None, &[0x8d], RAX, RAX, RCX, 0);
                }
            }
            Some(ext) if imm as i64 == i64::from(imm as i8) => {
                self.op_rr(true, &[0x83], ext, RAX);
                self.byte(imm as u8);
            }
            Some(ext) if imm as i64 == i64::from(imm as i32) => {
                self.op_rr(true, &[0x81], ext, RAX);
                self.imm32(imm as i32);
            }
            _ => {
                self.mov_imm(RCX, imm);
                self.alu(op);
            }
        }
    }

    fn shift_imm(&mut self, ext: u8, sh: u8) {
        self.op_rr(true, &[0xc1], ext, RAX);
        self.byte(sh & 63);
    }

    /// `rax = (rax cc rcx) as u64`, the flags set by the caller's `cmp`.
    fn setcc(&mut self, cc: IntCC) {
        let cc = x86_cc(cc);
        // setcc al; movzx eax, al
        self.bytes(&[0x0f, 0x90 | cc, 0xc0]);
        self.bytes(&[0x0f, 0xb6, 0xc0]);
    }

    /// Sets `rax` for an access to `[a + off]`, and returns the
    /// displacement to access `[r15 + rax + disp]` with: `a` and `off`
    /// for an access without a check of its own (`unchecked`, see
    /// [`analyze`]), else the checked address ([`Emitter::address`]) and 0.
    fn access(
        &mut self,
        a: u16,
        off: i32,
        m: MemOp,
        unchecked: bool,
        code: ExitCode,
        misaligned: ExitCode,
    ) -> i32 {
        if unchecked {
            self.load_val(RAX, a);
            off
        } else {
            self.address(a, off, m, code, misaligned);
            0
        }
    }

    /// `rax = address` of `[a + off]`, checked against the guest size
    /// (and its alignment if `m.aligned`), faulting with `code` (or
    /// `misaligned`) through a `call` of the fault tail: the caller maps
    /// this code to the access's guest pc.
    fn address(&mut self, a: u16, off: i32, m: MemOp, code: ExitCode, misaligned: ExitCode) {
        self.load_val(RAX, a);
        if off != 0 {
            self.clobber();
            self.alu_imm(BinOp::Iadd, off as i64 as u64);
        }
        // Misalignment first, as the interpreter and Cranelift's code
        // report it.
        let size = mem_bytes(m.size);
        if m.aligned && size > 1 {
            // test al, size - 1; jz over the call
            self.bytes(&[0xa8, (size - 1) as u8]);
            self.fault_call(CC_E, misaligned);
        }
        // cmp rax, r9; jb over the call
        self.op_rr(true, &[0x39], R9, RAX);
        self.fault_call(CC_B, code);
    }

    /// `jcc` (`cc`: the access is fine) over a `call` of the tail of
    /// fault exit `code` (bound in `emit_cold`). The tail pops the return
    /// address rather than returning to it: a host that enforced shadow
    /// stacks (CET) on this process would stop it there, so the binary
    /// must not be marked shadow-stack compatible; Rust's are not.
    fn fault_call(&mut self, cc: u8, code: ExitCode) {
        self.bytes(&[0x70 | cc, 5, 0xe8]);
        let at = self.code.len();
        self.imm32(0);
        self.cold.push(Cold::Fault { at, code });
    }

    /// Emits `op`; `unchecked`: it is an access without a bounds check
    /// of its own ([`analyze`]).
    fn op(&mut self, op: &Op, unchecked: bool) -> Option<()> {
        // A compare's result stays in the flags only across ops that keep
        // them, to the op or terminator that branches on it.
        if !keeps_flags(op) {
            self.flags = None;
        }
        let block_pc = self.prog.pc();
        let pc_of = |rel: i32| block_pc.wrapping_add(rel as i64 as u64);
        match *op {
            // Moved into the register that reads it (`analyze`).
            Op::Const { .. } => {}
            // Read from the state where it is read (`analyze`).
            Op::Get { d, .. } if self.a.direct[usize::from(d)] != NO_VALUE => {}
            Op::Get { d, off } => {
                self.clobber();
                self.load_state(RAX, i32::from(off));
                self.def(d);
            }
            Op::Set { off, s } => {
                // A value whose home this store makes the state
                // (`analyze`) must still be in `rax` here.
                if self.rax != Some(s) && self.a.direct[usize::from(s)] == off {
                    self.failed = true;
                }
                self.load_val(RAX, s);
                self.store_state(i32::from(off), RAX);
            }
            Op::SetConst { off, imm } => self.store_state_imm(i32::from(off), imm),
            Op::Add { d, a, b } => self.bin(BinOp::Iadd, d, a, b),
            Op::Sub { d, a, b } => self.bin(BinOp::Isub, d, a, b),
            Op::And { d, a, b } => self.bin(BinOp::Band, d, a, b),
            Op::Or { d, a, b } => self.bin(BinOp::Bor, d, a, b),
            Op::Xor { d, a, b } => self.bin(BinOp::Bxor, d, a, b),
            Op::Shl { d, a, b } => self.bin(BinOp::Ishl, d, a, b),
            Op::Shr { d, a, b } => self.bin(BinOp::Ushr, d, a, b),
            Op::Sar { d, a, b } => self.bin(BinOp::Sshr, d, a, b),
            Op::Bin { op, d, a, b } => self.bin(op, d, a, b),
            Op::AddI { d, a, imm } => self.bin_imm(BinOp::Iadd, d, a, imm),
            Op::AndI { d, a, imm } => self.bin_imm(BinOp::Band, d, a, imm),
            Op::OrI { d, a, imm } => self.bin_imm(BinOp::Bor, d, a, imm),
            Op::XorI { d, a, imm } => self.bin_imm(BinOp::Bxor, d, a, imm),
            Op::BinI { op, d, a, imm } => self.bin_imm(op, d, a, imm),
            Op::ShlI { d, a, sh } => self.shift(4, d, a, sh),
            Op::ShrI { d, a, sh } => self.shift(5, d, a, sh),
            Op::SarI { d, a, sh } => self.shift(7, d, a, sh),
            Op::Cmp { cc, d, a, b } => {
                self.load_val(RAX, a);
                self.load_val(RCX, b);
                self.op_rr(true, &[0x39], RCX, RAX);
                self.compared(cc, d);
            }
            Op::CmpI { cc, d, a, imm } => {
                self.load_val(RAX, a);
                if imm == 0 {
                    self.test(RAX, RAX);
                } else if imm as i64 == i64::from(imm as i8) {
                    self.op_rr(true, &[0x83], 7, RAX);
                    self.byte(imm as u8);
                } else if imm as i64 == i64::from(imm as i32) {
                    self.op_rr(true, &[0x81], 7, RAX);
                    self.imm32(imm as i32);
                } else {
                    self.mov_imm(RCX, imm);
                    self.op_rr(true, &[0x39], RCX, RAX);
                }
                self.compared(cc, d);
            }
            Op::Select { d, c, a, b } => {
                self.load_val(RAX, b);
                self.load_val(RCX, a);
                self.load_val(RDX, c);
                self.test(RDX, RDX);
                // cmovne rax, rcx
                self.clobber();
                self.op_rr(true, &[0x0f, 0x40 | CC_NE], RAX, RCX);
                self.def(d);
            }
            Op::Sext32 { d, s } => {
                self.load_val(RAX, s);
                self.clobber();
                // movsxd rax, eax
                self.op_rr(true, &[0x63], RAX, RAX);
                self.def(d);
            }
            Op::Sext { d, s, bits } | Op::Zext { d, s, bits } => {
                self.load_val(RAX, s);
                self.clobber();
                if bits < 64 {
                    let sh = 64 - bits;
                    self.shift_imm(4, sh);
                    let ext = if matches!(op, Op::Sext { .. }) { 7 } else { 5 };
                    self.shift_imm(ext, sh);
                }
                self.def(d);
            }
            Op::Load { d, a, off, m, pc } => {
                let pc = pc_of(pc);
                let (f, mis) = (ExitCode::LoadFault, ExitCode::LoadMisaligned);
                // The access's checks are the guest pc's too (see
                // `emit_cold`'s fault tails).
                let start = self.code.len() as u32;
                let disp = self.access(a, off, m, unchecked, f, mis);
                // rax = [r15 + rax + disp], extended.
                let (w, opcode): (bool, &[u8]) = match (m.size, m.signed) {
                    (MemSize::B1, false) => (false, &[0x0f, 0xb6]),
                    (MemSize::B1, true) => (true, &[0x0f, 0xbe]),
                    (MemSize::B2, false) => (false, &[0x0f, 0xb7]),
                    (MemSize::B2, true) => (true, &[0x0f, 0xbf]),
                    (MemSize::B4, false) => (false, &[0x8b]),
                    (MemSize::B4, true) => (true, &[0x63]),
                    (MemSize::B8, _) => (true, &[0x8b]),
                };
                self.clobber();
                self.op_rbi(w, None, opcode, RAX, GUEST_BASE, RAX, disp);
                self.map(start, pc);
                self.def(d);
            }
            Op::Store { a, s, off, m, pc } => {
                let pc = pc_of(pc);
                let (f, mis) = (ExitCode::StoreFault, ExitCode::StoreMisaligned);
                let start = self.code.len() as u32;
                let disp = self.access(a, off, m, unchecked, f, mis);
                self.load_val(RCX, s);
                // [r15 + rax + disp] = rcx, truncated.
                match m.size {
                    MemSize::B1 => self.op_rbi(false, None, &[0x88], RCX, GUEST_BASE, RAX, disp),
                    MemSize::B2 => {
                        self.op_rbi(false, Some(0x66), &[0x89], RCX, GUEST_BASE, RAX, disp)
                    }
                    MemSize::B4 => self.op_rbi(false, None, &[0x89], RCX, GUEST_BASE, RAX, disp),
                    MemSize::B8 => self.op_rbi(true, None, &[0x89], RCX, GUEST_BASE, RAX, disp),
                }
                self.map(start, pc);
            }
            Op::ExitIf { .. } | Op::Slow { .. } => return None,
        }
        Some(())
    }

    /// After the `cmp` of a compare `d = a cc b`: leaves the result in
    /// the flags if the compare is fused (`test_of` takes it there),
    /// else sets `rax`.
    fn compared(&mut self, cc: IntCC, d: u16) {
        if self.fused[usize::from(d)] {
            self.flags = Some((d, x86_cc(cc)));
        } else {
            self.clobber();
            self.setcc(cc);
            self.def(d);
        }
    }

    /// The condition code under which value `c` is non-zero: the flags
    /// of the compare that defined it just before (`compared`), else
    /// those of a `test` of it.
    fn test_of(&mut self, c: u16) -> u8 {
        match self.flags.take() {
            Some((v, cc)) if v == c => cc,
            _ => {
                self.load_val(RAX, c);
                self.test(RAX, RAX);
                CC_NE
            }
        }
    }

    /// Notes that the host code from `start` to here is guest `pc`'s.
    fn map(&mut self, start: u32, pc: u64) {
        let end = self.code.len() as u32;
        self.pc_map.push(PcRange { start, end, pc });
    }

    fn bin(&mut self, op: BinOp, d: u16, a: u16, b: u16) {
        self.load_val(RAX, a);
        self.load_val(RCX, b);
        self.clobber();
        self.alu(op);
        self.def(d);
    }

    fn bin_imm(&mut self, op: BinOp, d: u16, a: u16, imm: u64) {
        self.load_val(RAX, a);
        self.clobber();
        self.alu_imm(op, imm);
        self.def(d);
    }

    fn shift(&mut self, ext: u8, d: u16, a: u16, sh: u8) {
        self.load_val(RAX, a);
        self.clobber();
        self.shift_imm(ext, sh);
        self.def(d);
    }
}

fn mem_bytes(size: MemSize) -> u32 {
    match size {
        MemSize::B1 => 1,
        MemSize::B2 => 2,
        MemSize::B4 => 4,
        MemSize::B8 => 8,
    }
}

/// Whether the code computes `op` by calling [`binop_helper`] (see
/// [`Emitter::alu`]).
fn calls_helper(op: BinOp) -> bool {
    !matches!(
        op,
        BinOp::Iadd
            | BinOp::Isub
            | BinOp::Band
            | BinOp::Bor
            | BinOp::Bxor
            | BinOp::Ishl
            | BinOp::Ushr
            | BinOp::Sshr
            | BinOp::Imul
            | BinOp::Smulhi
            | BinOp::Umulhi
    )
}

/// `op`'s number for [`binop_helper`]: its index in [`BinOp::ALL`].
fn binop_code(op: BinOp) -> u64 {
    BinOp::ALL.iter().position(|&o| o == op).unwrap_or(0) as u64
}

/// `a op b` for the code's divisions (`op` numbered by [`binop_code`]).
extern "C" fn binop_helper(op: u64, a: u64, b: u64) -> u64 {
    interp::binop(BinOp::ALL[op as usize % BinOp::ALL.len()], a, b)
}
