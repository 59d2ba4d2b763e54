//! The architectural state of one RISC-V hart, as JIT code sees it.
//!
//! [`CpuState`] is `#[repr(C)]`: translated code addresses its fields by byte
//! offset (see [`CpuState::offset_of_x`] and friends), so the layout is part of
//! the contract between the translator and the backend. Offsets come from
//! `core::mem::offset_of!` on this one definition; nothing else spells them.

use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, Ordering};

/// The state of one hart (RISC-V Unprivileged ISA, chapter 2 and chapter 13
/// for `f0`-`f31` and `fcsr`).
///
/// Fields that JIT code reads or writes are public and `#[repr(C)]`; the
/// struct is owned by exactly one vCPU thread while it runs, except
/// [`CpuState::exit_request`], which any thread (and a signal handler) may
/// set through a shared reference.
#[repr(C)]
#[derive(Debug)]
pub struct CpuState {
    /// Integer registers `x0`-`x31`. `x[0]` always reads as zero: translated
    /// code never writes it.
    pub x: [u64; 32],
    /// Floating-point registers `f0`-`f31`, as raw 64-bit patterns. Single
    /// precision values are NaN-boxed (upper 32 bits all ones), as the F
    /// extension requires when D is present (Unprivileged ISA 14.2).
    pub f: [u64; 32],
    /// The guest virtual address of the next instruction to execute. Valid
    /// whenever control is outside translated code, and at every exit.
    pub pc: u64,
    /// `fcsr`: `frm` in bits 7:5, `fflags` in bits 4:0.
    pub fcsr: u64,
    /// The LR/SC reservation: guest virtual address, or `u64::MAX` when none.
    pub reservation_addr: u64,
    /// The value loaded by the LR that set the reservation; SC succeeds with a
    /// compare-and-swap against it.
    pub reservation_value: u64,
    /// Guest instructions retired by translated code (when the translator was
    /// asked to count them). Read by `rdinstret` and the benchmarks.
    pub icount: u64,
    /// Non-zero asks translated code to return to the execution loop at the
    /// next block boundary: an atomic that another thread (flushing the
    /// translation cache, kicking this vCPU) or a host signal handler may
    /// set at any time; translated code reads it at every block entry.
    pub exit_request: AtomicU32,
    /// Padding; keeps the following fields 8-byte aligned.
    pub _pad: u32,
    /// Scratch for the backend: the host stack pointer at entry to translated
    /// code, used to leave it on a host fault. Not guest state.
    pub host_sp: u64,
    /// The faulting guest address recorded by the host fault handler, or
    /// the `tval` of a trap raised by translated code.
    pub fault_addr: u64,
    /// The exception code of a trap raised by translated code. Not guest
    /// state: scratch for passing an exit to the runtime.
    pub trap_cause: u64,
    /// Host address of the running vCPU thread's jump cache, which
    /// translated code probes on indirect jumps. Set by the runtime before
    /// it enters translated code. Not guest state.
    pub jump_cache: u64,
    /// Scratch that translated code stores float results to when nothing
    /// else uses them, to keep the op (an exception-flag effect) where the
    /// guest has it. Not guest state.
    pub fp_sink: u64,
    /// The host instruction address of a host fault inside translated code,
    /// recorded by the fault handler, or a host pc inside the faulting
    /// access's code, written by a first-tier fault exit; the runtime maps
    /// it to the guest pc. 0 when the fault exit came from Cranelift
    /// code's own checks (which write `pc` themselves). Not guest state.
    pub fault_host_pc: u64,
    /// System mode: the TB flags above `frm` ([`tb_flags::SYSTEM`] and the
    /// privilege, MMU-index and FS bits), kept current by the system
    /// runtime whenever the privileged state changes; 0 in user mode.
    pub sys_flags: u64,
    /// System mode: host address of the running hart's softmmu TLB fast
    /// descriptors (`cranemu_softmmu::system::tlb::TlbDescFast`, one per
    /// MMU index), which translated code probes inline; 0 in user mode.
    /// Not guest state.
    pub tlb: u64,
    /// System mode: non-zero after a memory slow path recorded a trap in
    /// `trap_cause` and `fault_addr` (translated code then leaves with
    /// that trap); the runtime clears it. Not guest state.
    pub mem_status: u64,
    /// System mode with access counting: loads, stores and atomics
    /// executed by translated code (for the TLB hit rate of `-stats`).
    pub mem_accesses: u64,
}

impl Default for CpuState {
    fn default() -> Self {
        CpuState {
            x: [0; 32],
            f: [0; 32],
            pc: 0,
            fcsr: 0,
            reservation_addr: u64::MAX,
            reservation_value: 0,
            icount: 0,
            exit_request: AtomicU32::new(0),
            _pad: 0,
            host_sp: 0,
            fault_addr: 0,
            trap_cause: 0,
            jump_cache: 0,
            fp_sink: 0,
            fault_host_pc: 0,
            sys_flags: 0,
            tlb: 0,
            mem_status: 0,
            mem_accesses: 0,
        }
    }
}

/// The TB flags: the part of a hart's state that the translation of a
/// block depends on, so a translated block (TB) is only valid under the
/// flags it was translated with. The translation cache and the jump cache
/// are keyed by (pc, flags).
///
/// Bits 2:0: `frm`, the dynamic rounding mode (`fcsr[7:5]`), which fixes
/// the rounding of every float instruction with `rm` = dyn at translation
/// time (and makes such instructions illegal when `frm` holds a reserved
/// value). A write to `frm` ends its block, so every block of a chain runs
/// under the flags it was looked up with.
///
/// System mode adds (user mode leaves them 0):
/// - bit 3, [`SYSTEM`](tb_flags::SYSTEM): privileged instructions are
///   translated (as exits to the runtime) instead of being illegal, and
///   blocks are translated for a softmmu;
/// - bits 5:4, the current privilege (0 U, 1 S, 3 M), which decides the
///   MMU index of instruction fetch;
/// - bits 7:6, the MMU index of loads and stores (U 0, S 1, S with
///   `mstatus.SUM` 2, M 3; after `mstatus.MPRV`);
/// - bit 8, [`FS_OFF`](tb_flags::FS_OFF): `mstatus.FS` is Off, so float
///   instructions are illegal;
/// - bit 9, [`FS_DIRTY`](tb_flags::FS_DIRTY): `mstatus.FS` is Dirty, so
///   float instructions need not mark it.
///
/// Privileged ISA 1.12, sections 3.1.6 (`mstatus`) and 3.1.6.6 (FS).
pub mod tb_flags {
    use cranemu_ir::Rounding;

    /// Mask of the `frm` field.
    pub const FRM_MASK: u64 = 0x7;
    /// System mode (see the module doc).
    pub const SYSTEM: u64 = 1 << 3;
    /// Shift of the current-privilege field.
    pub const PRIV_SHIFT: u32 = 4;
    /// Shift of the data MMU-index field.
    pub const MMU_IDX_SHIFT: u32 = 6;
    /// `mstatus.FS` is Off.
    pub const FS_OFF: u64 = 1 << 8;
    /// `mstatus.FS` is Dirty.
    pub const FS_DIRTY: u64 = 1 << 9;

    /// The MMU index of loads and stores under `flags` (0-3).
    pub const fn mmu_idx(flags: u64) -> u32 {
        ((flags >> MMU_IDX_SHIFT) & 3) as u32
    }

    /// The current privilege encoded in `flags` (0 U, 1 S, 3 M).
    pub const fn privilege(flags: u64) -> u64 {
        (flags >> PRIV_SHIFT) & 3
    }

    /// The `frm` value encoded in `flags`.
    pub const fn frm(flags: u64) -> u8 {
        (flags & FRM_MASK) as u8
    }

    /// The ambient rounding mode of guest code under `frm`: the mode the
    /// host's float unit is kept in while it runs (see
    /// [`cranemu_ir::Block::ambient_rounding`]): `frm` itself where the
    /// host has it (`rne`, `rtz`, `rdn`, `rup`), round-to-nearest-even for
    /// `rmm` and the reserved values.
    pub const fn ambient_rounding(frm: u8) -> Rounding {
        match frm {
            1 => Rounding::Rtz,
            2 => Rounding::Rdn,
            3 => Rounding::Rup,
            _ => Rounding::Rne,
        }
    }
}

impl Clone for CpuState {
    fn clone(&self) -> CpuState {
        CpuState {
            x: self.x,
            f: self.f,
            pc: self.pc,
            fcsr: self.fcsr,
            reservation_addr: self.reservation_addr,
            reservation_value: self.reservation_value,
            icount: self.icount,
            exit_request: AtomicU32::new(self.exit_request.load(Ordering::Relaxed)),
            _pad: self._pad,
            host_sp: self.host_sp,
            fault_addr: self.fault_addr,
            trap_cause: self.trap_cause,
            jump_cache: self.jump_cache,
            fp_sink: self.fp_sink,
            fault_host_pc: self.fault_host_pc,
            sys_flags: self.sys_flags,
            tlb: self.tlb,
            mem_status: self.mem_status,
            mem_accesses: self.mem_accesses,
        }
    }
}

impl CpuState {
    /// [`CpuState::exit_request`] bit: the caller of the execution loop
    /// wants control back (a signal to deliver, a kick).
    pub const EXIT_EXTERNAL: u32 = 1;
    /// [`CpuState::exit_request`] bit: the translation cache changed, and
    /// this vCPU must resynchronize with it (drop its jump cache) before it
    /// runs on; the execution loop handles it without returning.
    pub const EXIT_SYNC: u32 = 2;

    /// Asks this vCPU to leave translated code at the next block boundary
    /// and return from the execution loop (from any thread, or a signal
    /// handler: one atomic operation).
    pub fn request_exit(&self) {
        self.exit_request
            .fetch_or(Self::EXIT_EXTERNAL, Ordering::SeqCst);
    }

    /// Asks this vCPU to leave translated code at the next block boundary
    /// and resynchronize with the translation cache (from any thread).
    pub fn request_sync(&self) {
        self.exit_request
            .fetch_or(Self::EXIT_SYNC, Ordering::SeqCst);
    }

    /// Takes every exit request: true if one asked to return from the
    /// execution loop ([`CpuState::EXIT_EXTERNAL`]). All bits are cleared.
    pub fn take_exit_request(&self) -> bool {
        self.exit_request.swap(0, Ordering::SeqCst) & Self::EXIT_EXTERNAL != 0
    }

    /// The TB flags of this state (see [`tb_flags`]).
    pub const fn tb_flags(&self) -> u64 {
        ((self.fcsr >> 5) & tb_flags::FRM_MASK) | self.sys_flags
    }

    /// The ambient rounding mode guest code runs under in this state (see
    /// [`tb_flags::ambient_rounding`]).
    pub const fn ambient_rounding(&self) -> cranemu_ir::Rounding {
        tb_flags::ambient_rounding(tb_flags::frm(self.tb_flags()))
    }

    /// Byte offset of integer register `x[i]`. `i` must be below 32.
    pub const fn offset_of_x(i: usize) -> i32 {
        (offset_of!(CpuState, x) + 8 * i) as i32
    }
    /// Byte offset of floating-point register `f[i]`. `i` must be below 32.
    pub const fn offset_of_f(i: usize) -> i32 {
        (offset_of!(CpuState, f) + 8 * i) as i32
    }
    /// Byte offset of `pc`.
    pub const OFFSET_PC: i32 = offset_of!(CpuState, pc) as i32;
    /// Byte offset of `fcsr`.
    pub const OFFSET_FCSR: i32 = offset_of!(CpuState, fcsr) as i32;
    /// Byte offset of `reservation_addr`.
    pub const OFFSET_RESERVATION_ADDR: i32 = offset_of!(CpuState, reservation_addr) as i32;
    /// Byte offset of `reservation_value`.
    pub const OFFSET_RESERVATION_VALUE: i32 = offset_of!(CpuState, reservation_value) as i32;
    /// Byte offset of `icount`.
    pub const OFFSET_ICOUNT: i32 = offset_of!(CpuState, icount) as i32;
    /// Byte offset of `exit_request` (a `u32`).
    pub const OFFSET_EXIT_REQUEST: i32 = offset_of!(CpuState, exit_request) as i32;
    /// Byte offset of `host_sp`.
    pub const OFFSET_HOST_SP: i32 = offset_of!(CpuState, host_sp) as i32;
    /// Byte offset of `fault_addr`.
    pub const OFFSET_FAULT_ADDR: i32 = offset_of!(CpuState, fault_addr) as i32;
    /// Byte offset of `trap_cause`.
    pub const OFFSET_TRAP_CAUSE: i32 = offset_of!(CpuState, trap_cause) as i32;
    /// Byte offset of `fault_host_pc`.
    pub const OFFSET_FAULT_HOST_PC: i32 = offset_of!(CpuState, fault_host_pc) as i32;
    /// Byte offset of `fp_sink`.
    pub const OFFSET_FP_SINK: i32 = offset_of!(CpuState, fp_sink) as i32;
    /// Byte offset of `jump_cache`.
    pub const OFFSET_JUMP_CACHE: i32 = offset_of!(CpuState, jump_cache) as i32;
    /// Byte offset of `tlb`.
    pub const OFFSET_TLB: i32 = offset_of!(CpuState, tlb) as i32;
    /// Byte offset of `mem_status`.
    pub const OFFSET_MEM_STATUS: i32 = offset_of!(CpuState, mem_status) as i32;
    /// Byte offset of `mem_accesses`.
    pub const OFFSET_MEM_ACCESSES: i32 = offset_of!(CpuState, mem_accesses) as i32;
}
