//! Runtime helpers that translated code calls through
//! [`cranemu_ir::Inst::Call`].
//!
//! [`HELPERS`] is the table the runtime hands to the backend and to the
//! reference interpreter; the `HELPER_*` constants are the indices the
//! translator emits. Every helper has the IR's helper signature
//! `extern "C" fn(cpu, a, b, c) -> u64`, with `cpu` pointing at the
//! [`CpuState`] of the running hart.
//!
//! Helpers access CPU state by byte offset with unaligned reads and writes,
//! so they also work on a byte buffer holding a `CpuState` image (as the
//! interpreter's differential tests use).
//!
//! Which CSRs are accessible, and whether an access writes, is decided at
//! translation time (the CSR number is an immediate): a helper only ever
//! sees legal accesses.

use std::sync::OnceLock;
use std::time::Instant;

use cranemu_ir::interp::HelperFn;
use cranemu_ir::Helper;

use crate::cpu::CpuState;

/// CSR numbers the user-mode hart implements (Unprivileged ISA, chapter
/// "Zicsr", table "RISC-V control and status register (CSR) address map"
/// in the Privileged ISA, section 2.2).
pub mod csr {
    /// Accrued floating-point exception flags, `fcsr[4:0]`.
    pub const FFLAGS: u16 = 0x001;
    /// Dynamic rounding mode, `fcsr[7:5]`.
    pub const FRM: u16 = 0x002;
    /// `frm` and `fflags` together.
    pub const FCSR: u16 = 0x003;
    /// Cycle counter (read-only): `instret` when instructions are counted, else host time in ns.
    pub const CYCLE: u16 = 0xc00;
    /// Real-time clock (read-only), ticking at [`super::TIMEBASE_HZ`].
    pub const TIME: u16 = 0xc01;
    /// Instructions retired (read-only).
    pub const INSTRET: u16 = 0xc02;
}

/// Frequency of the `time` CSR, in Hz (10 MHz, as on QEMU's `virt` board).
pub const TIMEBASE_HZ: u64 = 10_000_000;

/// What [`helper_csrrw`] does to the CSR besides returning its old value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum CsrMode {
    /// `csr = value` (`csrrw`).
    Write = 0,
    /// `csr |= value` (`csrrs` with a non-zero source).
    Set = 1,
    /// `csr &= !value` (`csrrc` with a non-zero source).
    Clear = 2,
    /// No write (`csrrs`/`csrrc` with source `x0` or zimm 0).
    Read = 3,
}

/// Index of [`helper_csrrw`] in [`HELPERS`].
pub const HELPER_CSRRW: Helper = Helper(0);
/// Index of [`helper_read_counter`] in [`HELPERS`].
pub const HELPER_READ_COUNTER: Helper = Helper(1);

/// Index of [`helper_pause`] in [`HELPERS`].
pub const HELPER_PAUSE: Helper = Helper(2);

/// The helper table, indexed by the `HELPER_*` constants.
pub const HELPERS: &[HelperFn] = &[helper_csrrw, helper_read_counter, helper_pause];

/// `pause` (Zihintpause): the guest is spinning (Linux's `cpu_relax`, a
/// spinlock, a barrier), so the host thread yields its core to another
/// runnable thread, as a hypervisor's pause-loop exiting does. With more
/// vCPUs than host cores, the thread that the spinning hart waits for may
/// otherwise get no core until the spinner's time slice ends. Returns 0;
/// the arguments are unused.
///
/// # Safety
/// None needed: no pointer is dereferenced (unsafe only for the helper
/// signature).
pub unsafe extern "C" fn helper_pause(_cpu: *mut u8, _: u64, _: u64, _: u64) -> u64 {
    std::thread::yield_now();
    0
}

/// Sets up the host's float environment for running `cpu`'s guest code:
/// no accumulated flags, and `cpu`'s ambient rounding mode (see
/// [`cranemu_ir::fp::host_flags::enter`]).
pub fn enter_guest_fp(cpu: &CpuState) {
    cranemu_ir::fp::host_flags::enter(cpu.ambient_rounding());
}

/// Takes the host's float environment down after guest code of `cpu`
/// returned: the flags accumulated in this thread's float-flag accumulator
/// ([`cranemu_ir::fp::host_flags`], where guest float instructions raise
/// them) are ORed into `fcsr`'s `fflags`, as RISC-V accrues them, and the
/// host rounds to nearest again. The runtime calls this whenever guest
/// code returns to it; `fcsr` is exact only after it.
pub fn leave_guest_fp(cpu: &mut CpuState) {
    cpu.fcsr |= u64::from(cranemu_ir::fp::host_flags::leave());
}

/// Applies a read-modify-write of the floating-point CSR `csr` (`fflags`,
/// `frm` or `fcsr`) to the `fcsr` value `fcsr`: returns (the CSR's old
/// value, the new `fcsr`). Other CSR numbers read 0 and change nothing.
pub fn fp_csr_rw(fcsr: u64, csr: u16, value: u64, mode: CsrMode) -> (u64, u64) {
    // (shift, width mask) of the CSR's field within fcsr.
    let (shift, mask) = match csr {
        csr::FFLAGS => (0, 0x1f),
        csr::FRM => (5, 0x7),
        csr::FCSR => (0, 0xff),
        _ => return (0, fcsr),
    };
    let old = (fcsr >> shift) & mask;
    let new = match mode {
        CsrMode::Write => value,
        CsrMode::Set => old | value,
        CsrMode::Clear => old & !value,
        CsrMode::Read => old,
    } & mask;
    (old, (fcsr & !(mask << shift) & 0xff) | new << shift)
}

/// The `time` CSR: host monotonic time since the first call, in ticks of
/// [`TIMEBASE_HZ`].
pub fn time_ticks() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let ns = START.get_or_init(Instant::now).elapsed().as_nanos();
    (ns / u128::from(1_000_000_000 / TIMEBASE_HZ)) as u64
}

/// Reads 8 bytes of CPU state at `offset`.
///
/// # Safety
/// `cpu` points at a `CpuState` image (any alignment).
unsafe fn get(cpu: *mut u8, offset: i32) -> u64 {
    // SAFETY: the caller guarantees `cpu` covers a CpuState, and `offset` is
    // one of its field offsets.
    unsafe { cpu.add(offset as usize).cast::<u64>().read_unaligned() }
}

/// `csrrw`/`csrrs`/`csrrc` on a floating-point CSR: returns the CSR's old
/// value (`fflags` being `fcsr`'s plus the flags still in the float-flag
/// accumulator, see [`leave_guest_fp`]) and updates `fcsr` as `mode`
/// ([`CsrMode`] as `u64`) says, and the accumulator and the ambient
/// rounding mode with it. `csr` is
/// `fflags`, `frm` or `fcsr`; the translator never passes another.
///
/// # Safety
/// `cpu` points at a `CpuState` image (any alignment) that nothing else
/// accesses during the call.
pub unsafe extern "C" fn helper_csrrw(cpu: *mut u8, csr: u64, value: u64, mode: u64) -> u64 {
    let mode = match mode {
        0 => CsrMode::Write,
        1 => CsrMode::Set,
        2 => CsrMode::Clear,
        _ => CsrMode::Read,
    };
    // SAFETY: the caller guarantees `cpu` (see # Safety).
    let fcsr = unsafe { get(cpu, CpuState::OFFSET_FCSR) };
    // fflags is what fcsr holds plus the flags accrued since translated
    // code was entered, still in the accumulator (not needed for frm).
    // They are only read here: MXCSR writes are slow, and glibc brackets
    // quiet comparisons with `frflags`/`fsflags`.
    let pending = if csr as u16 == csr::FRM {
        0
    } else {
        u64::from(cranemu_ir::fp::host_flags::peek())
    };
    let (old, new) = fp_csr_rw(fcsr | pending, csr as u16, value, mode);
    if mode != CsrMode::Read {
        // SAFETY: as above; OFFSET_FCSR is a field of CpuState.
        unsafe {
            cpu.add(CpuState::OFFSET_FCSR as usize)
                .cast::<u64>()
                .write_unaligned(new)
        };
        // Accrued flags the write cleared must leave the accumulator
        // (those it kept are in fcsr now, so clearing all is exact).
        if pending & !new & 0x1f != 0 {
            cranemu_ir::fp::host_flags::clear();
        }
    }
    if (new ^ fcsr) >> 5 != 0 && mode != CsrMode::Read {
        // A new frm: the ambient rounding mode follows it (the block ends
        // here and its successor is looked up under the new TB flags).
        let frm = crate::cpu::tb_flags::frm(new >> 5);
        cranemu_ir::fp::host_flags::set_ambient(crate::cpu::tb_flags::ambient_rounding(frm));
    }
    old
}

/// Reads a counter CSR (`cycle`, `time`, `instret`). `insns_before` is the
/// number of instructions of the current block before the reading one,
/// which `icount` does not include yet (blocks count at their end).
///
/// With `counted` non-zero (the engine counts retired instructions),
/// `cycle` and `instret` read `icount`. Without, they read host time in
/// nanoseconds since the first read, as QEMU's user mode reads host ticks:
/// monotonic, but not an instruction count.
///
/// # Safety
/// `cpu` points at a `CpuState` image (any alignment).
pub unsafe extern "C" fn helper_read_counter(
    cpu: *mut u8,
    csr: u64,
    insns_before: u64,
    counted: u64,
) -> u64 {
    match csr as u16 {
        csr::TIME => time_ticks(),
        _ if counted == 0 => host_ns(),
        // SAFETY: the caller guarantees `cpu` (see # Safety).
        _ => unsafe { get(cpu, CpuState::OFFSET_ICOUNT) }.wrapping_add(insns_before),
    }
}

/// Host monotonic time in ns since the first call (at least 1).
fn host_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp_csrs_are_fields_of_fcsr() {
        // frm = 3, fflags = 0b10101
        let fcsr = 3 << 5 | 0b10101;
        assert_eq!(fp_csr_rw(fcsr, csr::FRM, 0, CsrMode::Read), (3, fcsr));
        assert_eq!(
            fp_csr_rw(fcsr, csr::FFLAGS, 0, CsrMode::Read),
            (0b10101, fcsr)
        );
        assert_eq!(fp_csr_rw(fcsr, csr::FCSR, 0, CsrMode::Read), (fcsr, fcsr));
        assert_eq!(
            fp_csr_rw(fcsr, csr::FRM, 0xff, CsrMode::Write),
            (3, 7 << 5 | 0b10101)
        );
        assert_eq!(
            fp_csr_rw(fcsr, csr::FFLAGS, 0b01010, CsrMode::Set),
            (0b10101, 3 << 5 | 0x1f)
        );
        assert_eq!(
            fp_csr_rw(fcsr, csr::FFLAGS, 0b00101, CsrMode::Clear),
            (0b10101, 3 << 5 | 0b10000)
        );
        assert_eq!(
            fp_csr_rw(fcsr, csr::FCSR, 0x1234, CsrMode::Write),
            (fcsr, 0x34)
        );
    }

    #[test]
    fn time_is_monotonic() {
        let a = time_ticks();
        let b = time_ticks();
        assert!(b >= a);
    }
}
