//! IR -> host code with Cranelift; and the first tier's host code, emitted
//! without Cranelift ([`template`]).
//!
//! Every translation block (TB) becomes one Cranelift function with the
//! `tail` calling convention and the signature `fn(cpu: i64) -> i64`, where
//! `cpu` points at the guest CPU state. Lowering is a single pass over the
//! block (a `match` on each IR op emitting Cranelift instructions), like
//! Wasmtime's `code_translator.rs`. A *region*
//! ([`Backend::compile_region`]) is several TBs lowered one after the
//! other into one function: a direct exit to a member's pc is a jump
//! inside the function, so a loop made of several TBs (or of one TB that
//! jumps to itself) runs as a host loop, with only the interrupt check
//! between iterations: at the function's entry and at each member that a
//! backward jump inside the function reaches (every loop has one).
//!
//! # Leaving a block: the exit protocol
//! A TB returns an `i64` to the execution loop:
//! - one of the small [`ExitCode`] values (a trap, a memory fault, an
//!   interrupt request, an indirect-jump miss), with `pc` and the trap
//!   fields of the CPU state written; or
//! - the host address of one of the TB's *exit slots*: a direct jump
//!   whose successor was not yet known. Cranelift's code writes `pc`
//!   first; first-tier code ([`template`]) does not, and the runtime sets
//!   `pc` to the guest pc it recorded for the slot.
//!
//! # Chaining
//! Each direct exit ([`cranemu_ir::Terminator::Jump`] and both arms of
//! [`cranemu_ir::Terminator::Branch`]) loads its exit slot, a pointer-sized cell
//! owned by the runtime. When it holds a successor's code address, the TB
//! tail-calls it (`return_call_indirect`), so a hot loop never returns to
//! the dispatcher. The runtime chains by writing the slot and unchains by
//! clearing it. Cranelift's code is never patched; first-tier code is
//! in two places, each a `jmp rel32` re-pointed with one aligned 4-byte
//! store, as QEMU patches its `goto_tb` jumps: its entry, once, to
//! forward to the TB's Cranelift code ([`template::forward`]), and each
//! direct exit, to the code the runtime also stores in the exit's slot
//! ([`template::chain`]), so that a chained first-tier exit is one direct
//! `jmp`. Indirect jumps call a runtime lookup helper (the jump cache)
//! and tail-call its answer.
//!
//! # Guest memory
//! One IR, two memory paths, chosen by [`BackendConfig::softmmu`].
//!
//! User mode ([`BackendConfig::softmmu`] `None`): a guest virtual address `a` is valid if
//! `a < guest_size` and then lives at host address `guest_base + a`
//! (`guest_base` is kept in `r15`, Cranelift's pinned register, so an
//! access is `[a + r15]`). The check is a compare and a cold branch to a
//! fault exit. Where the host
//! leaves [`BackendConfig::guest_guard`] bytes unmapped on both sides of
//! the guest space, accesses `b + offset` with the same base value `b`
//! (the registers of `ld a0, 8(sp)`, `ld a1, 16(sp)`) and offsets of at
//! most 2 KiB share one check, made on `b` at the first of them in a TB
//! (a cold second check of the access's own address keeps an access that
//! is valid although `b` is not, such as `ld a0, -8(b)` with `b` just at
//! the end, exact); a later access that lands outside the guest space
//! lands in a guard and faults on the host, with the address it has in
//! the guest. Host faults inside
//! the region (unmapped or protected guest pages) are turned into fault
//! exits by the runtime's signal handler; the runtime finds the guest pc of
//! the faulting host instruction in the block's [`CompiledBlock::pc_map`]
//! (built from Cranelift source locations, one per guest instruction), so no
//! pc is stored on the hot path. Guest registers are written to the CPU
//! state as the IR says, so state is exact at any fault.
//!
//! System mode ([`SoftmmuConfig`]): every access probes the running
//! vCPU's softmmu TLB inline, QEMU's way (`tcg/i386/tcg-target.c.inc`,
//! `tcg_out_tlb_load`): the MMU index comes from the block's TB flags, the
//! entry from the virtual page number, and a hit (the tag equals the
//! address's page with the access's low alignment bits, so a misaligned
//! access, or a tag with a flag bit, misses) gives the host address as
//! virtual address + addend. A miss calls the slow-path helper, which
//! walks the page table, refills, performs MMIO, or records a trap and
//! sets `mem_status`; translated code then leaves with
//! [`ExitCode::Trap`]. Direct jumps to another guest page are not chained
//! (the page's mapping may change while the TB lives): they look their
//! successor up like indirect jumps, through the jump cache.

#![deny(missing_docs)]

use cranelift_codegen::ir::condcodes::IntCC as CIntCC;
use cranelift_codegen::ir::types::{F32, F64, I32, I64, I8};
use cranelift_codegen::ir::{
    self as cir, AbiParam, AtomicRmwOp, BlockArg, InstBuilder, MemFlagsData, SigRef, Signature,
    UserFuncName,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{control::ControlPlane, Context};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranemu_ir::interp::HelperFn;
use cranemu_ir::{
    AtomicOp, BinOp, Block, FenceKind, FpWidth, Inst, IntCC, MemSize, Terminator, Value,
};

mod analysis;
mod float;
mod fphelpers;
mod softmmu;
pub mod template;

use analysis::{addr_parts, interrupt_checks};

/// Errors of the backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Cranelift could not be configured for this host.
    #[error("host ISA: {0}")]
    Isa(String),
    /// Cranelift rejected or failed to compile a function (a bug).
    #[error("cranelift: {0}")]
    Compile(String),
    /// The compiled code needs relocations, which the code cache does not
    /// apply (every call is made through an address constant).
    #[error("unexpected relocation in compiled code")]
    Relocation,
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// The least [`BackendConfig::guest_guard`] for merged bounds checks: a
/// base that passed (`b < guest_size + 2 KiB`, through the cold second
/// check) plus an offset of at most 2 KiB plus an access of at most 16
/// bytes.
pub const MERGED_CHECK_REACH: u64 = 4096 + 16;

/// Small exit codes returned by translated code. Any other return value is
/// the host address of an exit slot (always at least 8-byte aligned and far
/// above these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum ExitCode {
    /// `exit_request` was set at block entry; `pc` is the block's pc.
    Interrupt = 1,
    /// [`Terminator::Trap`]: `trap_cause` and `fault_addr` (the `tval`) and
    /// `pc` are written.
    Trap = 2,
    /// A load faulted at guest address `fault_addr`; `pc` is the
    /// instruction's.
    LoadFault = 3,
    /// A store or atomic faulted at guest address `fault_addr`.
    StoreFault = 4,
    /// A load required natural alignment and the address at `fault_addr`
    /// was misaligned.
    LoadMisaligned = 5,
    /// A store or atomic required natural alignment; `fault_addr` is the
    /// address.
    StoreMisaligned = 6,
    /// [`Terminator::Exit`] without flush; `pc` is written.
    Exit = 7,
    /// [`Terminator::Exit`] with flush; `pc` is written.
    ExitFlush = 8,
    /// An indirect jump whose target the lookup helper did not know; `pc`
    /// is written.
    NoChain = 9,
    /// First-tier code ([`template`]) of a TB whose execution counter
    /// just reached the JIT threshold, at the TB's entry, before running
    /// it: queue it for Cranelift and enter it again. `pc` is the TB's.
    Hot = 10,
}

impl ExitCode {
    /// The exit code `v` names, if it is one (else it is a slot address).
    pub fn from_raw(v: i64) -> Option<ExitCode> {
        use ExitCode::*;
        Some(match v {
            1 => Interrupt,
            2 => Trap,
            3 => LoadFault,
            4 => StoreFault,
            5 => LoadMisaligned,
            6 => StoreMisaligned,
            7 => Exit,
            8 => ExitFlush,
            9 => NoChain,
            10 => Hot,
            _ => return None,
        })
    }
}

/// Byte offsets of the CPU-state fields that translated code itself reads
/// or writes (beyond what the IR names).
#[derive(Clone, Copy, Debug)]
pub struct StateLayout {
    /// `pc`: u64.
    pub pc: i32,
    /// `exit_request`: u32, non-zero asks the block to return.
    pub exit_request: i32,
    /// `fault_addr`: u64, the faulting address or trap value.
    pub fault_addr: i32,
    /// `trap_cause`: u64.
    pub trap_cause: i32,
    /// `fault_host_pc`: u64, a host pc inside the code of the guest
    /// instruction that faulted (first-tier code's fault exits set it;
    /// the runtime maps it to the guest pc through the block's
    /// [`CompiledBlock::pc_map`]).
    pub fault_host_pc: i32,
    /// A u64 that translated code stores float results to when nothing else
    /// uses them, so that the op (and its exception flags) stays where the
    /// IR has it (see the `float` module). Not guest state.
    pub fp_sink: i32,
    /// A u64 holding the host address of the running thread's jump cache:
    /// [`JUMP_CACHE_ENTRIES`] [`JumpCacheEntry`]s indexed by
    /// [`jump_cache_index`]. Must point at a valid cache whenever
    /// translated code runs.
    pub jump_cache: i32,
}

/// Entries in a jump cache (a power of two).
pub const JUMP_CACHE_ENTRIES: usize = 4096;

/// One jump-cache entry, as translated code reads it: a guest pc, the TB
/// flags, and the host code of the TB translated for that (pc, flags). An
/// entry whose `pc` is `u64::MAX` is empty (guest pcs are even), and so
/// is an all-zero one anywhere but at `jump_cache_index(0, 0)` (it
/// matches only pc 0 under flags 0, which that index holds).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct JumpCacheEntry {
    /// Guest virtual address.
    pub pc: u64,
    /// The TB flags ([`Block::flags`]) the code was translated under.
    pub flags: u64,
    /// Host code address of the TB for (`pc`, `flags`).
    pub code: usize,
    /// The runtime's own word for the entry (its TB); translated code
    /// neither reads nor writes it. It also pads the entry to a power-of-two
    /// size, so that translated code indexes the cache with a shift.
    pub tb: usize,
}

const _: () = assert!(std::mem::size_of::<JumpCacheEntry>() == 32);

/// The jump-cache slot of guest pc `pc` under TB flags `flags`;
/// translated code computes the same hash inline. The flags are mixed in
/// so that the TBs of one pc under several flags (a loop that switches
/// `frm`) do not evict each other.
pub const fn jump_cache_index(pc: u64, flags: u64) -> usize {
    ((pc >> 1) ^ (pc >> 13) ^ flags_hash(flags)) as usize & (JUMP_CACHE_ENTRIES - 1)
}

/// The flags' part of [`jump_cache_index`] (0 for flags 0).
const fn flags_hash(flags: u64) -> u64 {
    flags.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 52
}

/// The indirect-jump lookup helper: given the CPU state and a guest pc,
/// the host code address of that pc's TB, or null.
pub type LookupFn = unsafe extern "C" fn(cpu: *mut u8, pc: u64) -> *const u8;

/// Everything fixed for the lifetime of a [`Backend`].
#[derive(Clone)]
pub struct BackendConfig {
    /// Host address of guest virtual address 0 (user mode). Translated
    /// code finds it in `r15` (Cranelift's pinned register, see
    /// [`BackendConfig::pinned_base`]; the first tier's code reads it there
    /// too): whoever enters translated code must set `r15` to it, as QEMU
    /// keeps its guest base in a register (`TCG_GUEST_BASE_REG`).
    pub guest_base: u64,
    /// Bytes of guest virtual address space; addresses at or above it fault.
    pub guest_size: u64,
    /// Bytes of host address space that are never mapped both below
    /// `guest_base` and above `guest_base + guest_size` (user mode; 0 if
    /// none). With at least [`MERGED_CHECK_REACH`], accesses at small
    /// offsets from one base register share one bounds check (see the
    /// module doc, "Guest memory").
    pub guest_guard: u64,
    /// CPU-state layout.
    pub layout: StateLayout,
    /// The helper table for [`Inst::Call`].
    pub helpers: Vec<HelperFn>,
    /// The jump-cache lookup used by indirect jumps.
    pub lookup: LookupFn,
    /// Cranelift optimization level: "none", "speed" or "speed_and_size".
    pub opt_level: &'static str,
    /// System mode: the softmmu memory path (then `guest_base` and
    /// `guest_size` are unused). `None` for user mode.
    pub softmmu: Option<SoftmmuConfig>,
}

impl BackendConfig {
    /// Whether translated code takes [`BackendConfig::guest_base`] from
    /// `r15` rather than from a 10-byte immediate at each access: in user
    /// mode. Code entered with another `r15` accesses the wrong host
    /// memory.
    pub fn pinned_base(&self) -> bool {
        self.softmmu.is_none()
    }
}

/// The softmmu memory path of system mode (see the module doc).
///
/// The slow-path helpers have the helper signature
/// `extern "C" fn(cpu, a, b, c) -> u64`; `info` is [`slow_info`] of the
/// access. Each either succeeds or records a guest trap in the CPU state
/// (`trap_cause`, `fault_addr`) and sets `mem_status` non-zero.
#[derive(Clone, Copy)]
pub struct SoftmmuConfig {
    /// Byte offset in the CPU state of a u64 holding the host address of
    /// the TLB's fast descriptors: [`TLB_MODES`] pairs of (u64 mask,
    /// u64 table address), 16 bytes each, indexed by MMU index.
    pub tlb: i32,
    /// Byte offset of the u64 `mem_status`.
    pub mem_status: i32,
    /// The MMU index of loads and stores under a block's TB flags.
    pub mmu_idx: fn(u64) -> u32,
    /// `load(cpu, vaddr, info, 0)`: the value, extended as `info` says.
    pub load: HelperFn,
    /// `store(cpu, vaddr, value, info)`.
    pub store: HelperFn,
    /// `atomic(cpu, vaddr, info, 0)`: the host address of naturally
    /// aligned RAM that the access may read and write atomically (after
    /// any page-table walk, A/D update and code invalidation), or 0 after
    /// recording a trap (MMIO and unwritable pages fault).
    pub atomic: HelperFn,
    /// Byte offset of a u64 counter that every access increments, when
    /// accesses are counted (`-stats`: the TLB hit rate), else `None`.
    pub count: Option<i32>,
}

/// MMU indexes in a softmmu TLB.
pub const TLB_MODES: usize = 4;

/// Page bits of the softmmu (4 KiB pages).
pub const SOFTMMU_PAGE_BITS: u32 = 12;

/// Byte-size bits of a TLB entry (32 bytes).
pub const SOFTMMU_ENTRY_BITS: u32 = 5;

/// The `info` word a slow-path helper gets: the access size in bytes in
/// bits 7:0, sign extension in bit 8, the MMU index in bits 17:16.
pub const fn slow_info(size: MemSize, signed: bool, mmu_idx: u32) -> u64 {
    size.bytes() | (signed as u64) << 8 | (mmu_idx as u64) << 16
}

/// Host code for one block, ready to be copied into executable memory.
pub struct CompiledBlock {
    /// Position-independent machine code (no relocations).
    pub code: Vec<u8>,
    /// The Cranelift IR, when asked for (for `-d out_asm` style logs).
    pub clif: Option<String>,
    /// Which guest instruction each stretch of host code belongs to, sorted
    /// by code offset: the host-pc -> guest-pc map that turns a host fault
    /// inside the block into a guest fault at the right pc.
    pub pc_map: Vec<PcRange>,
}

/// Host code bytes `start..end` (offsets from the start of the block's
/// code) implement the guest instruction at guest virtual address `pc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcRange {
    /// First byte, from the start of the block's code.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
    /// The guest instruction's guest virtual address.
    pub pc: u64,
}

/// The guest pc of host code offset `offset` in a block's `pc_map`: the
/// range containing it, else the nearest range before it.
pub fn guest_pc_at(pc_map: &[PcRange], offset: u32) -> Option<u64> {
    let i = pc_map.partition_point(|r| r.start <= offset);
    pc_map[..i].last().map(|r| r.pc)
}

/// One direct-exit slot of a TB: a pointer-sized cell holding the host code
/// address of the exit's successor, or null. A block has
/// [`Block::direct_exits`] of them, in that method's order (side exits
/// first, then the terminator's taken and not-taken targets).
/// Each holds a successor's host code address or null.
pub type ExitSlot = *const std::sync::atomic::AtomicPtr<u8>;

/// Compiles IR blocks to host code. `Send + Sync`: any thread may compile;
/// each call uses its own Cranelift context.
pub struct Backend {
    isa: OwnedTargetIsa,
    /// The same target with Cranelift's optimizations off
    /// (`opt_level=none`), for [`Quality::Quick`] compiles.
    quick_isa: OwnedTargetIsa,
    cfg: BackendConfig,
    /// The host has FMA3 (Cranelift's `fma` is then one instruction).
    has_fma: bool,
}

// SAFETY: `BackendConfig` holds plain function pointers and integers; the
// ISA is `Send + Sync`.
unsafe impl Send for Backend {}
// SAFETY: as above; nothing is mutated after construction.
unsafe impl Sync for Backend {}

fn mem_ty(size: MemSize) -> cir::Type {
    match size {
        MemSize::B1 => I8,
        MemSize::B2 => cir::types::I16,
        MemSize::B4 => I32,
        MemSize::B8 => I64,
    }
}

fn intcc(cc: IntCC) -> CIntCC {
    match cc {
        IntCC::Eq => CIntCC::Equal,
        IntCC::Ne => CIntCC::NotEqual,
        IntCC::Slt => CIntCC::SignedLessThan,
        IntCC::Sge => CIntCC::SignedGreaterThanOrEqual,
        IntCC::Ult => CIntCC::UnsignedLessThan,
        IntCC::Uge => CIntCC::UnsignedGreaterThanOrEqual,
    }
}

impl Backend {
    /// A backend for the host CPU.
    ///
    /// # Errors
    /// [`Error::Isa`] if Cranelift does not support the host.
    pub fn new(cfg: BackendConfig) -> Result<Backend> {
        let pinned = cfg.pinned_base();
        Ok(Backend {
            isa: Self::isa(cfg.opt_level, pinned)?,
            quick_isa: Self::isa("none", pinned)?,
            cfg,
            has_fma: float::host_has_fma(),
        })
    }

    /// The host's ISA with our flags and Cranelift's `opt_level`; with
    /// `pinned`, `r15` is Cranelift's pinned register (never allocated).
    fn isa(opt_level: &str, pinned: bool) -> Result<OwnedTargetIsa> {
        let mut flags = settings::builder();
        let set = |f: &mut settings::Builder, k: &str, v: &str| {
            f.set(k, v).map_err(|e| Error::Isa(format!("{k}={v}: {e}")))
        };
        set(&mut flags, "opt_level", opt_level)?;
        // Required by x86-64 tail calls.
        set(&mut flags, "preserve_frame_pointers", "true")?;
        // RISC-V wants the canonical NaN (0x7ff8..., 0x7fc0...) from every
        // NaN-producing op; x86 would give its negative default NaN.
        set(&mut flags, "enable_nan_canonicalization", "true")?;
        set(&mut flags, "unwind_info", "false")?;
        set(
            &mut flags,
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        )?;
        set(&mut flags, "regalloc_algorithm", "backtracking")?;
        if pinned {
            set(&mut flags, "enable_pinned_reg", "true")?;
        }
        let isa_builder = cranelift_native::builder().map_err(|e| Error::Isa(e.to_string()))?;
        isa_builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| Error::Isa(e.to_string()))
    }

    /// The first tier's code emitter ([`template`]) for this backend's
    /// guest space; `None` in system mode ([`BackendConfig::softmmu`]),
    /// whose first tier stays the `cranemu_ir::baseline` loop.
    pub fn first_tier(&self) -> Option<template::Compiler> {
        if self.cfg.softmmu.is_some() {
            return None;
        }
        Some(template::Compiler {
            guest_size: self.cfg.guest_size,
            guest_guard: self.cfg.guest_guard,
            layout: self.cfg.layout,
            lookup: self.cfg.lookup,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BackendConfig {
        &self.cfg
    }

    fn tb_signature(&self) -> Signature {
        let mut sig = Signature::new(CallConv::Tail);
        sig.params.push(AbiParam::new(I64));
        sig.returns.push(AbiParam::new(I64));
        sig
    }

    fn sysv_signature(&self, params: usize) -> Signature {
        let mut sig = Signature::new(CallConv::SystemV);
        for _ in 0..params {
            sig.params.push(AbiParam::new(I64));
        }
        sig.returns.push(AbiParam::new(I64));
        sig
    }

    fn finish(
        &self,
        ctx: &mut Context,
        want_clif: bool,
        insn_pcs: &[u64],
        quality: Quality,
    ) -> Result<CompiledBlock> {
        let clif = want_clif.then(|| ctx.func.display().to_string());
        let isa = match quality {
            Quality::Optimized => &*self.isa,
            Quality::Quick => &*self.quick_isa,
        };
        let compiled = ctx
            .compile(isa, &mut ControlPlane::default())
            .map_err(|e| Error::Compile(format!("{:?}", e.inner)))?;
        if !compiled.buffer.relocs().is_empty() {
            return Err(Error::Relocation);
        }
        let pc_map = compiled
            .buffer
            .get_srclocs_sorted()
            .iter()
            .filter_map(|s| {
                let pc = *insn_pcs.get(s.loc.bits() as usize)?;
                Some(PcRange {
                    start: s.start,
                    end: s.end,
                    pc,
                })
            })
            .collect();
        Ok(CompiledBlock {
            code: compiled.code_buffer().to_vec(),
            clif,
            pc_map,
        })
    }

    /// Compiles the entry trampoline: a System V function
    /// `fn(cpu: i64, code: i64) -> i64` that calls the TB at `code` (tail
    /// convention) and returns its exit value.
    ///
    /// # Errors
    /// [`Error::Compile`] on a Cranelift failure.
    pub fn compile_trampoline(&self) -> Result<CompiledBlock> {
        let func = cir::Function::with_name_signature(UserFuncName::user(1, 0), {
            let mut s = self.sysv_signature(2);
            s.call_conv = CallConv::SystemV;
            s
        });
        let mut ctx = Context::for_function(func);
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let (cpu, code) = (b.block_params(entry)[0], b.block_params(entry)[1]);
        let sig = b.import_signature(self.tb_signature());
        let call = b.ins().call_indirect(sig, code, &[cpu]);
        let ret = b.inst_results(call)[0];
        b.ins().return_(&[ret]);
        b.seal_all_blocks();
        b.finalize(self.isa.frontend_config());
        self.finish(&mut ctx, false, &[], Quality::Optimized)
    }

    /// Compiles one verified IR block. `slots` are the block's exit slots
    /// (see [`ExitSlot`]); they must stay valid as long as the code lives.
    ///
    /// # Errors
    /// [`Error::Compile`] if Cranelift fails (a bug: the IR is verified
    /// first) or `slots` is shorter than [`Block::direct_exits`],
    /// [`Error::Relocation`] if the code needs relocation.
    pub fn compile(
        &self,
        block: &Block,
        slots: &[ExitSlot],
        want_clif: bool,
    ) -> Result<CompiledBlock> {
        self.compile_region(
            &[RegionMember { block, slots }],
            want_clif,
            Quality::Optimized,
            None,
        )
    }

    /// Compiles a *region*: several verified IR blocks as one function,
    /// entered at the first (see [`RegionMember`]). A direct exit of any
    /// member to the pc of a member is a jump inside the function (a loop
    /// of TBs becomes a host loop, with no exit slot, prologue or tail
    /// call per iteration); other exits leave through the exiting
    /// member's own slots, as [`Backend::compile`]'s do. The first
    /// member, and each member that a member at or after it jumps to,
    /// begins with the interrupt check, so every loop inside a region
    /// still stops when `exit_request` is set. All members must share TB flags
    /// and, in system mode, the first member's guest page.
    ///
    /// With `entries`, the function adds one to that counter each time it
    /// is entered (a plain load, add and store: concurrent entries may
    /// lose counts); the counter must stay valid as long as the code.
    ///
    /// # Errors
    /// As [`Backend::compile`], for any member; [`Error::Compile`] for an
    /// empty region.
    pub fn compile_region(
        &self,
        members: &[RegionMember<'_>],
        want_clif: bool,
        quality: Quality,
        entries: Option<EntryCounter>,
    ) -> Result<CompiledBlock> {
        let Some(head) = members.first() else {
            return Err(Error::Compile("an empty region".into()));
        };
        for m in members {
            if m.slots.len() < m.block.direct_exits() {
                return Err(Error::Compile(format!(
                    "{} exit slots for {} direct exits",
                    m.slots.len(),
                    m.block.direct_exits()
                )));
            }
        }
        // Cranelift's contexts keep their allocations between functions:
        // one pair per compiling thread saves a few hundred allocations a
        // block.
        thread_local! {
            static CONTEXTS: std::cell::RefCell<(Context, FunctionBuilderContext)> =
                std::cell::RefCell::new((Context::new(), FunctionBuilderContext::new()));
        }
        CONTEXTS.with(|c| {
            let (ctx, fctx) = &mut *c.borrow_mut();
            ctx.clear();
            ctx.func.name = UserFuncName::user(0, 0);
            ctx.func.signature = self.tb_signature();
            let b = FunctionBuilder::new(&mut ctx.func, fctx);
            let mut l = Lowering::new(self, b, head.block);
            if let Some(counter) = entries {
                l.count_entry(counter);
            }
            l.lower_region(members);
            l.b.seal_all_blocks();
            let insn_pcs = std::mem::take(&mut l.insn_pcs);
            l.b.finalize(self.isa.frontend_config());
            self.finish(ctx, want_clif, &insn_pcs, quality)
        })
    }
}

/// A u32 counter of entries into a function ([`Backend::compile_region`]),
/// by host address.
pub type EntryCounter = *const std::sync::atomic::AtomicU32;

/// How much Cranelift works on a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quality {
    /// [`BackendConfig::opt_level`]: the e-graph optimizations, alias
    /// analysis, and the rest of Cranelift's mid-end.
    Optimized,
    /// `opt_level=none`: lowering and register allocation only, for code
    /// that runs often enough to compile but not as a loop (about half
    /// the compile time, for slower code).
    Quick,
}

/// One TB of a region ([`Backend::compile_region`]): its IR and its exit
/// slots (see [`ExitSlot`]), which must stay valid as long as the code
/// lives.
#[derive(Clone, Copy)]
pub struct RegionMember<'a> {
    /// The TB's verified IR.
    pub block: &'a Block,
    /// Its exit slots, at least [`Block::direct_exits`] of them.
    pub slots: &'a [ExitSlot],
}

/// The state of lowering one block, or the blocks of a region one after
/// the other (the per-block fields then describe the member being
/// lowered).
struct Lowering<'a, 'f> {
    be: &'a Backend,
    b: FunctionBuilder<'f>,
    block: &'a Block,
    /// The region's members by guest pc, with the Cranelift block each
    /// begins at: direct exits to these pcs jump there.
    internal: Vec<(u64, cir::Block)>,
    cpu: cir::Value,
    vals: Vec<Option<cir::Value>>,
    /// Guest pc of the current instruction.
    pc: u64,
    /// Guest pcs of the instructions so far; an instruction's index is the
    /// Cranelift source location of the code lowered for it.
    insn_pcs: Vec<u64>,
    /// Cold blocks taking (addr, pc) that return a fault exit, by code.
    fault_blocks: Vec<(ExitCode, cir::Block)>,
    tb_sig: Option<SigRef>,
    helper_sigs: [Option<SigRef>; 5],
    /// Per IR instruction: an inline float op to pin (see `float`).
    pin: Vec<bool>,
    /// Index of the IR instruction being lowered.
    index: usize,
    /// System mode: the cold block leaving with a slow path's trap.
    soft_trap: Option<cir::Block>,
    /// Per IR value of the member: `(b, offset)` if it is `b + offset`
    /// with a constant offset of at most 2 KiB ([`addr_parts`]).
    addr_parts: Vec<Option<(Value, i32)>>,
    /// The base values whose bounds check the member made, with their
    /// host addresses (see the module doc, "Guest memory").
    checked: Vec<(Value, cir::Value)>,
}

impl<'a, 'f> Lowering<'a, 'f> {
    fn new(be: &'a Backend, mut b: FunctionBuilder<'f>, block: &'a Block) -> Self {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let cpu = b.block_params(entry)[0];
        Lowering {
            be,
            b,
            block,
            internal: Vec::new(),
            cpu,
            vals: vec![None; block.num_values as usize],
            pc: block.pc,
            insn_pcs: Vec::new(),
            fault_blocks: Vec::new(),
            tb_sig: None,
            helper_sigs: [None; 5],
            pin: float::needs_pin(block, be.has_fma),
            index: 0,
            soft_trap: None,
            addr_parts: Vec::new(),
            checked: Vec::new(),
        }
    }

    /// The host address of a user-mode access to guest address `addr` (an
    /// IR value) of `size` bytes, after its checks: alignment if
    /// `aligned`, and the bounds check, shared with the member's earlier
    /// accesses from the same base where the guards allow (see the module
    /// doc, "Guest memory").
    fn guest_access(
        &mut self,
        addr: Value,
        size: MemSize,
        aligned: bool,
        store: bool,
    ) -> cir::Value {
        let a = self.v(addr);
        if self.be.cfg.guest_guard < MERGED_CHECK_REACH {
            return self.host_addr(a, size, aligned, store);
        }
        self.check_alignment(a, size, aligned, store);
        let (base, offset) = self
            .addr_parts
            .get(addr.index())
            .copied()
            .flatten()
            .unwrap_or((addr, 0));
        let host = match self.checked.iter().find(|(v, _)| *v == base) {
            Some(&(_, h)) => h,
            None => {
                let b = self.v(base);
                let limit = self.be.cfg.guest_size as i64;
                let out = self
                    .b
                    .ins()
                    .icmp_imm_s(CIntCC::UnsignedGreaterThanOrEqual, b, limit);
                let exact = self.b.create_block();
                self.b.set_cold_block(exact);
                let cont = self.b.create_block();
                self.b.ins().brif(out, exact, &[], cont, &[]);
                // The base is out of range: the access may still be in it.
                self.b.switch_to_block(exact);
                let out = self
                    .b
                    .ins()
                    .icmp_imm_s(CIntCC::UnsignedGreaterThanOrEqual, a, limit);
                let code = if store {
                    ExitCode::StoreFault
                } else {
                    ExitCode::LoadFault
                };
                let fb = self.fault_block(code);
                let pc = self.iconst(self.pc);
                let args = [BlockArg::Value(a), BlockArg::Value(pc)];
                self.b.ins().brif(out, fb, &args, cont, &[]);
                self.b.switch_to_block(cont);
                let h = self.plus_base(b);
                self.checked.push((base, h));
                h
            }
        };
        if offset == 0 {
            host
        } else {
            self.b.ins().iadd_imm_s(host, i64::from(offset))
        }
    }

    fn v(&self, v: Value) -> cir::Value {
        self.vals[v.index()].expect("IR verified: value defined before use")
    }

    fn def(&mut self, v: Value, x: cir::Value) {
        self.vals[v.index()] = Some(x);
    }

    fn iconst(&mut self, x: u64) -> cir::Value {
        self.b.ins().iconst(I64, x as i64)
    }

    fn state_flags() -> MemFlagsData {
        MemFlagsData::trusted()
    }

    fn store_state(&mut self, offset: i32, x: cir::Value) {
        let cpu = self.cpu;
        self.b.ins().store(Self::state_flags(), x, cpu, offset);
    }

    fn ret(&mut self, code: i64) {
        let c = self.b.ins().iconst(I64, code);
        self.b.ins().return_(&[c]);
    }

    fn tb_sig(&mut self) -> SigRef {
        if let Some(s) = self.tb_sig {
            return s;
        }
        let s = self.b.import_signature(self.be.tb_signature());
        self.tb_sig = Some(s);
        s
    }

    /// Calls a System V function at host address `f` with `args`.
    fn call_host(&mut self, f: usize, args: &[cir::Value]) -> cir::Value {
        let n = args.len();
        let sig = match self.helper_sigs[n] {
            Some(s) => s,
            None => {
                let s = self.b.import_signature(self.be.sysv_signature(n));
                self.helper_sigs[n] = Some(s);
                s
            }
        };
        let callee = self.b.ins().iconst(I64, f as i64);
        let call = self.b.ins().call_indirect(sig, callee, args);
        self.b.inst_results(call)[0]
    }

    fn fault_block(&mut self, code: ExitCode) -> cir::Block {
        if let Some(&(_, blk)) = self.fault_blocks.iter().find(|(c, _)| *c == code) {
            return blk;
        }
        let blk = self.b.create_block();
        self.b.append_block_param(blk, I64);
        self.b.append_block_param(blk, I64);
        self.b.set_cold_block(blk);
        self.fault_blocks.push((code, blk));
        blk
    }

    /// Branches to the fault exit `code` if `cond` is non-zero, passing the
    /// faulting address; continues in a fresh block otherwise.
    fn fault_if(&mut self, cond: cir::Value, code: ExitCode, addr: cir::Value) {
        let fb = self.fault_block(code);
        let pc = self.iconst(self.pc);
        let cont = self.b.create_block();
        self.b.ins().brif(
            cond,
            fb,
            &[BlockArg::Value(addr), BlockArg::Value(pc)],
            cont,
            &[],
        );
        self.b.switch_to_block(cont);
    }

    /// The host address of a naturally aligned atomic access at guest
    /// address `addr` (after the alignment check).
    fn atomic_addr(&mut self, addr: cir::Value, size: MemSize) -> cir::Value {
        if self.be.cfg.softmmu.is_some() {
            self.check_alignment(addr, size, true, true);
            self.soft_atomic_addr(addr, size)
        } else {
            self.host_addr(addr, size, true, true)
        }
    }

    /// Leaves with a misaligned-address fault unless `addr` is a multiple
    /// of `size` (only when `aligned`: the access requires it).
    fn check_alignment(&mut self, addr: cir::Value, size: MemSize, aligned: bool, store: bool) {
        if aligned && size != MemSize::B1 {
            let low = self.b.ins().band_imm_s(addr, size.bytes() as i64 - 1);
            let code = if store {
                ExitCode::StoreMisaligned
            } else {
                ExitCode::LoadMisaligned
            };
            self.fault_if(low, code, addr);
        }
    }

    /// The host address of guest address `addr` for a `size`-byte access,
    /// after the bounds check (and the alignment check if `aligned`).
    fn host_addr(
        &mut self,
        addr: cir::Value,
        size: MemSize,
        aligned: bool,
        store: bool,
    ) -> cir::Value {
        if aligned && size != MemSize::B1 {
            let low = self.b.ins().band_imm_s(addr, size.bytes() as i64 - 1);
            let code = if store {
                ExitCode::StoreMisaligned
            } else {
                ExitCode::LoadMisaligned
            };
            self.fault_if(low, code, addr);
        }
        let limit = self.be.cfg.guest_size;
        let out = self
            .b
            .ins()
            .icmp_imm_s(CIntCC::UnsignedGreaterThanOrEqual, addr, limit as i64);
        let code = if store {
            ExitCode::StoreFault
        } else {
            ExitCode::LoadFault
        };
        self.fault_if(out, code, addr);
        self.plus_base(addr)
    }

    /// `guest_base + addr`: the host address of guest address `addr`
    /// (user mode, where the base is in the pinned register).
    fn plus_base(&mut self, addr: cir::Value) -> cir::Value {
        debug_assert!(self.be.cfg.pinned_base());
        let base = self.b.ins().get_pinned_reg(I64);
        self.b.ins().iadd(addr, base)
    }

    fn guest_flags() -> MemFlagsData {
        // May trap (host fault on an unmapped guest page); little-endian.
        MemFlagsData::new().with_endianness(cir::Endianness::Little)
    }

    /// Reads a float operand of width `w` as a Cranelift float.
    fn float_in(&mut self, w: FpWidth, x: cir::Value) -> cir::Value {
        match w {
            FpWidth::D => self.b.ins().bitcast(F64, MemFlagsData::new(), x),
            FpWidth::S => {
                // NaN-boxing check (Unprivileged ISA 14.2).
                let hi = self.b.ins().ushr_imm_s(x, 32);
                let ok = self.b.ins().icmp_imm_s(CIntCC::Equal, hi, 0xffff_ffff);
                let lo = self.b.ins().ireduce(I32, x);
                let nan = self
                    .b
                    .ins()
                    .iconst(I32, cranemu_ir::fp::CANONICAL_NAN_S as i64);
                let bits = self.b.ins().select(ok, lo, nan);
                self.b.ins().bitcast(F32, MemFlagsData::new(), bits)
            }
        }
    }

    /// Turns a Cranelift float result back into register bits.
    fn float_out(&mut self, w: FpWidth, x: cir::Value) -> cir::Value {
        match w {
            FpWidth::D => self.b.ins().bitcast(I64, MemFlagsData::new(), x),
            FpWidth::S => {
                let bits = self.b.ins().bitcast(I32, MemFlagsData::new(), x);
                let wide = self.b.ins().uextend(I64, bits);
                self.b
                    .ins()
                    .bor_imm_s(wide, 0xffff_ffff_0000_0000u64 as i64)
            }
        }
    }

    fn binary(&mut self, op: BinOp, a: cir::Value, b: cir::Value) -> cir::Value {
        match op {
            BinOp::Iadd => self.b.ins().iadd(a, b),
            BinOp::Isub => self.b.ins().isub(a, b),
            BinOp::Imul => self.b.ins().imul(a, b),
            BinOp::Smulhi => self.b.ins().smulhi(a, b),
            BinOp::Umulhi => self.b.ins().umulhi(a, b),
            BinOp::SUmulhi => {
                // mulhsu(a, b) = mulhu(a, b) - (a < 0 ? b : 0)
                let hu = self.b.ins().umulhi(a, b);
                let sign = self.b.ins().sshr_imm_s(a, 63);
                let corr = self.b.ins().band(sign, b);
                self.b.ins().isub(hu, corr)
            }
            BinOp::Band => self.b.ins().band(a, b),
            BinOp::Bor => self.b.ins().bor(a, b),
            BinOp::Bxor => self.b.ins().bxor(a, b),
            BinOp::Ishl => self.b.ins().ishl(a, b),
            BinOp::Ushr => self.b.ins().ushr(a, b),
            BinOp::Sshr => self.b.ins().sshr(a, b),
            BinOp::Udiv | BinOp::Urem | BinOp::Sdiv | BinOp::Srem => self.division(op, a, b),
        }
    }

    /// RISC-V division (M extension, table 13.1): Cranelift's division
    /// traps on a zero divisor and on signed overflow, so both are steered
    /// to a safe divisor and the result fixed up with selects.
    fn division(&mut self, op: BinOp, a: cir::Value, b: cir::Value) -> cir::Value {
        let zero = self.b.ins().icmp_imm_s(CIntCC::Equal, b, 0);
        let one = self.b.ins().iconst(I64, 1);
        let mut divisor = self.b.ins().select(zero, one, b);
        if matches!(op, BinOp::Sdiv | BinOp::Srem) {
            // i64::MIN / -1: divide by 1 instead; the quotient i64::MIN and
            // remainder 0 are then already right.
            let min = self.b.ins().icmp_imm_s(CIntCC::Equal, a, i64::MIN);
            let m1 = self.b.ins().icmp_imm_s(CIntCC::Equal, divisor, -1);
            let ovf = self.b.ins().band(min, m1);
            divisor = self.b.ins().select(ovf, one, divisor);
        }
        match op {
            BinOp::Udiv => {
                let q = self.b.ins().udiv(a, divisor);
                let all = self.b.ins().iconst(I64, -1);
                self.b.ins().select(zero, all, q)
            }
            BinOp::Sdiv => {
                let q = self.b.ins().sdiv(a, divisor);
                let all = self.b.ins().iconst(I64, -1);
                self.b.ins().select(zero, all, q)
            }
            BinOp::Urem => {
                let r = self.b.ins().urem(a, divisor);
                self.b.ins().select(zero, a, r)
            }
            _ => {
                let r = self.b.ins().srem(a, divisor);
                self.b.ins().select(zero, a, r)
            }
        }
    }

    fn lower_inst(&mut self, inst: &Inst) {
        use Inst::*;
        match *inst {
            InsnStart { pc, .. } => {
                self.pc = pc;
                self.b
                    .set_srcloc(cir::SourceLoc::new(self.insn_pcs.len() as u32));
                self.insn_pcs.push(pc);
            }
            Iconst { dst, imm } => {
                let x = self.iconst(imm);
                self.def(dst, x);
            }
            GetState { dst, offset } => {
                let cpu = self.cpu;
                let x = self.b.ins().load(I64, Self::state_flags(), cpu, offset);
                self.def(dst, x);
            }
            SetState { offset, src } => {
                let x = self.v(src);
                self.store_state(offset, x);
            }
            Binary { op, dst, a, b } => {
                let (a, b) = (self.v(a), self.v(b));
                let x = self.binary(op, a, b);
                self.def(dst, x);
            }
            Icmp { cc, dst, a, b } => {
                let (a, b) = (self.v(a), self.v(b));
                let c = self.b.ins().icmp(intcc(cc), a, b);
                let x = self.b.ins().uextend(I64, c);
                self.def(dst, x);
            }
            Select { dst, c, a, b } => {
                let (c, a, b) = (self.v(c), self.v(a), self.v(b));
                let x = self.b.ins().select(c, a, b);
                self.def(dst, x);
            }
            Sextend { dst, src, bits } | Uextend { dst, src, bits } => {
                let ty = match bits {
                    8 => I8,
                    16 => cir::types::I16,
                    _ => I32,
                };
                let s = self.v(src);
                let n = self.b.ins().ireduce(ty, s);
                let x = if matches!(inst, Sextend { .. }) {
                    self.b.ins().sextend(I64, n)
                } else {
                    self.b.ins().uextend(I64, n)
                };
                self.def(dst, x);
            }
            Load { dst, addr, mem } => {
                let a = self.v(addr);
                let load_host = move |l: &mut Self, h: cir::Value| {
                    let f = Self::guest_flags();
                    match (mem.size, mem.signed) {
                        (MemSize::B8, _) => l.b.ins().load(I64, f, h, 0),
                        (MemSize::B4, true) => l.b.ins().sload32(f, h, 0),
                        (MemSize::B4, false) => l.b.ins().uload32(f, h, 0),
                        (MemSize::B2, true) => l.b.ins().sload16(I64, f, h, 0),
                        (MemSize::B2, false) => l.b.ins().uload16(I64, f, h, 0),
                        (MemSize::B1, true) => l.b.ins().sload8(I64, f, h, 0),
                        (MemSize::B1, false) => l.b.ins().uload8(I64, f, h, 0),
                    }
                };
                let x = if self.be.cfg.softmmu.is_some() {
                    self.check_alignment(a, mem.size, mem.aligned, false);
                    self.soft_load(a, mem.size, mem.signed, load_host)
                } else {
                    let h = self.guest_access(addr, mem.size, mem.aligned, false);
                    let x = load_host(self, h);
                    // A fault must come at the load's own pc: without a
                    // barrier, Cranelift folds a 64-bit load that has one
                    // use into that use (`add r, [mem]`), which may be
                    // another guest instruction's (emits no code).
                    self.b.ins().sequence_point();
                    x
                };
                self.def(dst, x);
            }
            Store { addr, src, mem } => {
                let (a, s) = (self.v(addr), self.v(src));
                let store_host = move |l: &mut Self, h: cir::Value| {
                    let f = Self::guest_flags();
                    match mem.size {
                        MemSize::B8 => l.b.ins().store(f, s, h, 0),
                        MemSize::B4 => l.b.ins().istore32(f, s, h, 0),
                        MemSize::B2 => l.b.ins().istore16(f, s, h, 0),
                        MemSize::B1 => l.b.ins().istore8(f, s, h, 0),
                    };
                };
                if self.be.cfg.softmmu.is_some() {
                    self.check_alignment(a, mem.size, mem.aligned, true);
                    self.soft_store(a, s, mem.size, store_host);
                } else {
                    let h = self.guest_access(addr, mem.size, mem.aligned, true);
                    store_host(self, h);
                }
            }
            AtomicRmw {
                op,
                dst,
                addr,
                src,
                size,
            } => {
                let (a, s) = (self.v(addr), self.v(src));
                let h = self.atomic_addr(a, size);
                let ty = mem_ty(size);
                let s = if ty == I64 {
                    s
                } else {
                    self.b.ins().ireduce(ty, s)
                };
                let rop = match op {
                    AtomicOp::Xchg => AtomicRmwOp::Xchg,
                    AtomicOp::Add => AtomicRmwOp::Add,
                    AtomicOp::Xor => AtomicRmwOp::Xor,
                    AtomicOp::And => AtomicRmwOp::And,
                    AtomicOp::Or => AtomicRmwOp::Or,
                    AtomicOp::Smin => AtomicRmwOp::Smin,
                    AtomicOp::Smax => AtomicRmwOp::Smax,
                    AtomicOp::Umin => AtomicRmwOp::Umin,
                    AtomicOp::Umax => AtomicRmwOp::Umax,
                };
                if !matches!(op, AtomicOp::Xchg | AtomicOp::Add) && self.be.cfg.softmmu.is_none() {
                    // x86-64 has no single instruction for these: Cranelift
                    // emits a plain load, then a `lock cmpxchg` loop. On an
                    // unmapped page that load would fault as a read, and the
                    // fault handler would report a load page fault, where an
                    // AMO must raise a store/AMO page fault. A locked
                    // `xadd` of 0 first is a write access that changes
                    // nothing, so any fault is taken as a store.
                    let zero = self.b.ins().iconst(ty, 0);
                    self.b
                        .ins()
                        .atomic_rmw(ty, Self::guest_flags(), AtomicRmwOp::Add, h, zero);
                }
                let old = self.b.ins().atomic_rmw(ty, Self::guest_flags(), rop, h, s);
                let x = if ty == I64 {
                    old
                } else {
                    self.b.ins().sextend(I64, old)
                };
                self.def(dst, x);
            }
            AtomicCas {
                dst,
                addr,
                expected,
                new,
                size,
            } => {
                let (a, e, n) = (self.v(addr), self.v(expected), self.v(new));
                let h = self.atomic_addr(a, size);
                let ty = mem_ty(size);
                let (e, n) = if ty == I64 {
                    (e, n)
                } else {
                    (self.b.ins().ireduce(ty, e), self.b.ins().ireduce(ty, n))
                };
                let old = self.b.ins().atomic_cas(Self::guest_flags(), h, e, n);
                let x = if ty == I64 {
                    old
                } else {
                    self.b.ins().sextend(I64, old)
                };
                self.def(dst, x);
            }
            // RVWMO on an x86-64 (TSO) host: the hardware keeps loads in
            // order, stores in order, and loads before later stores, so only
            // an earlier store before a later load (a fence whose
            // predecessor set has W and successor set R, see
            // `FenceKind::StoreLoad`) needs a host fence: `mfence`. Every
            // other fence needs no instruction, only a compiler barrier:
            // `sequence_point` emits nothing, and Cranelift neither moves
            // memory accesses across it nor forwards or merges loads across
            // it (its alias analysis treats it as a fence), so a load after
            // `fence r,r` is really performed after the load before it.
            Fence { kind } => match kind {
                FenceKind::StoreLoad => {
                    self.b.ins().fence();
                }
                FenceKind::Other => {
                    self.b.ins().sequence_point();
                }
            },
            Fbin { .. }
            | Fsqrt { .. }
            | Fma { .. }
            | Fcmp { .. }
            | FcvtToInt { .. }
            | FcvtFromInt { .. }
            | FcvtFloat { .. }
            | Fclass { .. } => {
                let pin = self.pin.get(self.index).copied().unwrap_or(false);
                self.lower_float(inst, pin);
            }
            // Lowered by `lower`, which owns the exit slots.
            ExitIf { .. } => {}
            Call { helper, dst, args } => {
                let f = self.be.cfg.helpers[helper.0 as usize] as usize;
                let cpu = self.cpu;
                let (a, b, c) = (self.v(args[0]), self.v(args[1]), self.v(args[2]));
                let x = self.call_host(f, &[cpu, a, b, c]);
                self.def(dst, x);
            }
        }
    }

    /// A direct exit to guest `pc` through exit slot `slot`: tail-call the
    /// chained successor, or return the slot's address.
    fn direct_exit(&mut self, pc: u64, slot: ExitSlot) {
        if let Some(&(_, entry)) = self.internal.iter().find(|(p, _)| *p == pc) {
            self.b.ins().jump(entry, &[]);
            return;
        }
        if self.be.cfg.softmmu.is_some() && (pc ^ self.block.pc) >> SOFTMMU_PAGE_BITS != 0 {
            // Another guest page, whose mapping may change while this TB
            // lives: look the successor up at run time.
            let t = self.iconst(pc);
            self.indirect_exit(t, None);
            return;
        }
        let slot_addr = self.iconst(slot as u64);
        let target = self
            .b
            .ins()
            .load(I64, MemFlagsData::trusted(), slot_addr, 0);
        let chain = self.b.create_block();
        let miss = self.b.create_block();
        self.b.ins().brif(target, chain, &[], miss, &[]);
        self.b.switch_to_block(chain);
        let sig = self.tb_sig();
        let cpu = self.cpu;
        self.b.ins().return_call_indirect(sig, target, &[cpu]);
        self.b.switch_to_block(miss);
        let pcv = self.iconst(pc);
        self.store_state(self.be.cfg.layout.pc, pcv);
        self.b.ins().return_(&[slot_addr]);
    }

    /// Adds one to the u32 at `counter` (see [`Backend::compile_region`]):
    /// at the function's entry only, not where a loop inside it jumps back
    /// to its first member.
    fn count_entry(&mut self, counter: EntryCounter) {
        let addr = self.iconst(counter as u64);
        let flags = MemFlagsData::trusted();
        let n = self.b.ins().load(I32, flags, addr, 0);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.b.ins().store(flags, n, addr, 0);
    }

    /// Lowers `members` (the first is the entry) into the function, then
    /// the cold exits they share.
    fn lower_region(&mut self, members: &[RegionMember<'a>]) {
        let layout = self.be.cfg.layout;
        self.internal = members
            .iter()
            .map(|m| (m.block.pc, self.b.create_block()))
            .collect();
        let checks = interrupt_checks(members);
        let first = self.internal[0].1;
        self.b.ins().jump(first, &[]);
        for (i, m) in members.iter().enumerate() {
            self.block = m.block;
            self.vals.clear();
            self.vals.resize(m.block.num_values as usize, None);
            self.addr_parts = addr_parts(m.block);
            self.checked.clear();
            self.pin = float::needs_pin(m.block, self.be.has_fma);
            self.pc = m.block.pc;
            let entry = self.internal[i].1;
            self.b.switch_to_block(entry);
            self.lower_member(m.slots, checks[i]);
        }
        // The cold fault exits.
        for (code, blk) in std::mem::take(&mut self.fault_blocks) {
            self.b.switch_to_block(blk);
            let (addr, pc) = (self.b.block_params(blk)[0], self.b.block_params(blk)[1]);
            self.store_state(layout.fault_addr, addr);
            self.store_state(layout.pc, pc);
            self.ret(code as i64);
        }
        self.finish_soft_trap();
    }

    /// Lowers the current block from its entry (the current Cranelift
    /// block) to its exits; with `check`, the block begins with the
    /// interrupt check.
    fn lower_member(&mut self, slots: &[ExitSlot], check: bool) {
        let layout = self.be.cfg.layout;
        if check {
            self.interrupt_check();
        }
        let mut slots = slots.iter().copied();
        let mut next_slot = || slots.next().expect("slot count checked in compile");
        for (index, inst) in self.block.insts.iter().enumerate() {
            self.index = index;
            if let Inst::ExitIf { cond, pc } = *inst {
                let c = self.v(cond);
                let exit = self.b.create_block();
                let cont = self.b.create_block();
                self.b.ins().brif(c, exit, &[], cont, &[]);
                self.b.switch_to_block(exit);
                self.direct_exit(pc, next_slot());
                self.b.switch_to_block(cont);
                continue;
            }
            self.lower_inst(inst);
        }
        match self.block.term.expect("IR verified: block terminated") {
            Terminator::Jump { pc } => self.direct_exit(pc, next_slot()),
            Terminator::Branch {
                cond,
                taken,
                not_taken,
            } => {
                let c = self.v(cond);
                let t = self.b.create_block();
                let n = self.b.create_block();
                self.b.ins().brif(c, t, &[], n, &[]);
                self.b.switch_to_block(t);
                self.direct_exit(taken, next_slot());
                self.b.switch_to_block(n);
                self.direct_exit(not_taken, next_slot());
            }
            Terminator::JumpIndirect { target, flags } => {
                let t = self.v(target);
                let flags = flags.map(|f| self.v(f));
                self.indirect_exit(t, flags);
            }
            Terminator::Trap { cause, tval, pc } => {
                let (c, t, p) = (self.iconst(cause), self.iconst(tval), self.iconst(pc));
                self.store_state(layout.trap_cause, c);
                self.store_state(layout.fault_addr, t);
                self.store_state(layout.pc, p);
                self.ret(ExitCode::Trap as i64);
            }
            Terminator::Exit { pc, flush } => {
                let p = self.iconst(pc);
                self.store_state(layout.pc, p);
                self.ret(if flush {
                    ExitCode::ExitFlush
                } else {
                    ExitCode::Exit
                } as i64);
            }
        }
    }

    /// Continues in a new block if `exit_request` is clear; otherwise
    /// leaves with [`ExitCode::Interrupt`] at the current block's pc.
    fn interrupt_check(&mut self) {
        let layout = self.be.cfg.layout;
        let cpu = self.cpu;
        let req = self
            .b
            .ins()
            .load(I32, MemFlagsData::trusted(), cpu, layout.exit_request);
        let body = self.b.create_block();
        let irq = self.b.create_block();
        self.b.set_cold_block(irq);
        self.b.ins().brif(req, irq, &[], body, &[]);
        self.b.switch_to_block(irq);
        let pc = self.iconst(self.block.pc);
        self.store_state(layout.pc, pc);
        self.ret(ExitCode::Interrupt as i64);
        self.b.switch_to_block(body);
    }

    /// Leaves for guest pc `t` (a value), looked up under `flags` (the
    /// block's own when `None`): the jump cache inline, then the lookup
    /// helper; tail-calls the successor's code, or returns
    /// [`ExitCode::NoChain`].
    fn indirect_exit(&mut self, t: cir::Value, flags: Option<cir::Value>) {
        let layout = self.be.cfg.layout;
        self.store_state(layout.pc, t);
        let cpu = self.cpu;
        // Probe the jump cache inline; call the lookup helper on a
        // miss.
        let base = self
            .b
            .ins()
            .load(I64, MemFlagsData::trusted(), cpu, layout.jump_cache);
        let a = self.b.ins().ushr_imm_s(t, 1);
        let b13 = self.b.ins().ushr_imm_s(t, 13);
        let mut h = self.b.ins().bxor(a, b13);
        // The flags' part of jump_cache_index.
        let fh = match flags {
            Some(f) => {
                let m = self.b.ins().imul_imm_s(f, 0x9e37_79b9_7f4a_7c15u64 as i64);
                Some(self.b.ins().ushr_imm_s(m, 52))
            }
            None => match flags_hash(self.block.flags) {
                0 => None,
                k => Some(self.iconst(k)),
            },
        };
        if let Some(fh) = fh {
            h = self.b.ins().bxor(h, fh);
        }
        let idx = self.b.ins().band_imm_s(h, (JUMP_CACHE_ENTRIES - 1) as i64);
        let off = self.b.ins().ishl_imm_s(idx, 5);
        let entry = self.b.ins().iadd(base, off);
        let epc = self.b.ins().load(I64, MemFlagsData::trusted(), entry, 0);
        let eflags = self.b.ins().load(I64, MemFlagsData::trusted(), entry, 8);
        let pc_hit = self.b.ins().icmp(CIntCC::Equal, epc, t);
        // A block's successors run under its TB flags unless it
        // changed them (see Block::flags).
        let flags_hit = match flags {
            Some(f) => self.b.ins().icmp(CIntCC::Equal, eflags, f),
            None => self
                .b
                .ins()
                .icmp_imm_s(CIntCC::Equal, eflags, self.block.flags as i64),
        };
        let hit = self.b.ins().band(pc_hit, flags_hit);
        let hit_blk = self.b.create_block();
        let miss_blk = self.b.create_block();
        let chain = self.b.create_block();
        self.b.append_block_param(chain, I64);
        let miss = self.b.create_block();
        self.b.ins().brif(hit, hit_blk, &[], miss_blk, &[]);
        self.b.switch_to_block(hit_blk);
        let code = self.b.ins().load(I64, MemFlagsData::trusted(), entry, 16);
        self.b.ins().jump(chain, &[BlockArg::Value(code)]);
        self.b.switch_to_block(miss_blk);
        let code = self.call_host(self.be.cfg.lookup as usize, &[cpu, t]);
        self.b
            .ins()
            .brif(code, chain, &[BlockArg::Value(code)], miss, &[]);
        self.b.switch_to_block(chain);
        let code = self.b.block_params(chain)[0];
        let sig = self.tb_sig();
        self.b.ins().return_call_indirect(sig, code, &[cpu]);
        self.b.switch_to_block(miss);
        self.ret(ExitCode::NoChain as i64);
    }
}

#[cfg(test)]
mod tests;
