//! IEEE arithmetic on the host's SSE unit under an explicit rounding mode,
//! with the exception flags it raised, and without touching the caller's
//! `MXCSR`.
//!
//! Each operation is one `asm!` block that saves `MXCSR`, loads a control
//! word with every exception masked, the requested rounding control and no
//! sticky flags (and FTZ/DAZ off), runs the one SSE instruction, reads the
//! flags back and restores the saved `MXCSR`. Keeping all of it in one
//! block matters: the compiler assumes the default floating-point
//! environment and would otherwise be free to move the arithmetic across a
//! separate `ldmxcsr`.
//!
//! x86 and RISC-V agree on what these instructions compute for non-NaN
//! results in the four rounding modes x86 has, and on the flags: both
//! detect tininess after rounding (Intel SDM vol. 1, 4.9.1.5; RISC-V
//! Unprivileged ISA, F chapter, "Accrued exception flags"), raise underflow
//! only for tiny inexact results when underflow is masked, and raise
//! invalid for signalling-NaN operands. NaN results differ (x86 propagates
//! an operand's payload; RISC-V gives the canonical NaN): callers fix
//! those up.

use core::arch::asm;

use super::{DZ, NV, NX, OF, UF};
use crate::Rounding;

/// An operation the host runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    /// `sqrt(a)`; `b` is ignored.
    Sqrt,
}

/// The `MXCSR` control word for rounding mode `rm`: all exceptions masked
/// (bits 7..12), rounding control in bits 13..14, no sticky flags. `None`
/// for round-to-nearest-ties-away, which x86 does not have.
pub(super) fn control_word(rm: Rounding) -> Option<u32> {
    let rc = match rm {
        Rounding::Rne => 0,
        Rounding::Rdn => 1,
        Rounding::Rup => 2,
        Rounding::Rtz => 3,
        Rounding::Rmm => return None,
    };
    Some(0x1f80 | rc << 13)
}

/// RISC-V `fflags` from `MXCSR` sticky flags (IE, ZE, OE, UE, PE; the
/// denormal-operand flag DE has no RISC-V counterpart and is dropped).
pub(super) fn fflags_of_mxcsr(m: u32) -> u32 {
    let mut f = 0;
    if m & 0x01 != 0 {
        f |= NV;
    }
    if m & 0x04 != 0 {
        f |= DZ;
    }
    if m & 0x08 != 0 {
        f |= OF;
    }
    if m & 0x10 != 0 {
        f |= UF;
    }
    if m & 0x20 != 0 {
        f |= NX;
    }
    f
}

/// `MXCSR` sticky flags for RISC-V `fflags` bits.
pub(super) fn mxcsr_of_fflags(f: u32) -> u32 {
    let mut m = 0;
    if f & NV != 0 {
        m |= 0x01;
    }
    if f & DZ != 0 {
        m |= 0x04;
    }
    if f & OF != 0 {
        m |= 0x08;
    }
    if f & UF != 0 {
        m |= 0x10;
    }
    if f & NX != 0 {
        m |= 0x20;
    }
    m
}

/// Runs `insn x, y` (or `insn x, y, z`) with `MXCSR` = `csr[0]`, leaving
/// the resulting `MXCSR` in `csr[0]` and the caller's restored.
macro_rules! sse_op {
    ($insn:literal, $x:ident, $y:ident, $csr:ident) => {
        // SAFETY: saves and restores MXCSR around one SSE instruction on
        // registers; `$csr` is a live [u32; 2] on our stack.
        unsafe {
            asm!(
                "stmxcsr [{p} + 4]",
                "ldmxcsr [{p}]",
                concat!($insn, " {x}, {y}"),
                "stmxcsr [{p}]",
                "ldmxcsr [{p} + 4]",
                p = in(reg) $csr.as_mut_ptr(),
                x = inout(xmm_reg) $x,
                y = in(xmm_reg) $y,
                options(nostack, preserves_flags),
            )
        }
    };
    ($insn:literal, $x:ident, $y:ident, $z:ident, $csr:ident) => {
        // SAFETY: as above; the caller checked the host has the
        // instruction (FMA3).
        unsafe {
            asm!(
                "stmxcsr [{p} + 4]",
                "ldmxcsr [{p}]",
                concat!($insn, " {x}, {y}, {z}"),
                "stmxcsr [{p}]",
                "ldmxcsr [{p} + 4]",
                p = in(reg) $csr.as_mut_ptr(),
                x = inout(xmm_reg) $x,
                y = in(xmm_reg) $y,
                z = in(xmm_reg) $z,
                options(nostack, preserves_flags),
            )
        }
    };
}

/// `op(a, b)` on binary64 bit patterns under `MXCSR` control word `cw`:
/// the raw host result (NaNs not canonicalized) and its `fflags`.
pub(super) fn op_d(op: Op, cw: u32, a: u64, b: u64) -> (u64, u32) {
    let mut x = f64::from_bits(a);
    let y = f64::from_bits(b);
    let mut csr = [cw, 0u32];
    match op {
        Op::Add => sse_op!("addsd", x, y, csr),
        Op::Sub => sse_op!("subsd", x, y, csr),
        Op::Mul => sse_op!("mulsd", x, y, csr),
        Op::Div => sse_op!("divsd", x, y, csr),
        Op::Sqrt => {
            let y = x;
            sse_op!("sqrtsd", x, y, csr)
        }
    }
    (x.to_bits(), fflags_of_mxcsr(csr[0]))
}

/// `op(a, b)` on binary32 bit patterns; see [`op_d`].
pub(super) fn op_s(op: Op, cw: u32, a: u32, b: u32) -> (u32, u32) {
    let mut x = f32::from_bits(a);
    let y = f32::from_bits(b);
    let mut csr = [cw, 0u32];
    match op {
        Op::Add => sse_op!("addss", x, y, csr),
        Op::Sub => sse_op!("subss", x, y, csr),
        Op::Mul => sse_op!("mulss", x, y, csr),
        Op::Div => sse_op!("divss", x, y, csr),
        Op::Sqrt => {
            let y = x;
            sse_op!("sqrtss", x, y, csr)
        }
    }
    (x.to_bits(), fflags_of_mxcsr(csr[0]))
}

/// binary64 to binary32 (`cvtsd2ss`) under control word `cw`.
pub(super) fn demote(cw: u32, a: u64) -> (u32, u32) {
    let y = f64::from_bits(a);
    let mut x = 0f32;
    let mut csr = [cw, 0u32];
    sse_op!("cvtsd2ss", x, y, csr);
    (x.to_bits(), fflags_of_mxcsr(csr[0]))
}

/// Whether the host has FMA3 (`vfmadd231sd`/`ss`).
pub(super) fn has_fma() -> bool {
    std::arch::is_x86_feature_detected!("fma")
}

/// `a * b + c` with one rounding (`vfmadd231sd`) under control word `cw`.
/// The caller checks [`has_fma`] first.
pub(super) fn fma_d(cw: u32, a: u64, b: u64, c: u64) -> (u64, u32) {
    let (y, z) = (f64::from_bits(a), f64::from_bits(b));
    let mut x = f64::from_bits(c);
    let mut csr = [cw, 0u32];
    sse_op!("vfmadd231sd", x, y, z, csr);
    (x.to_bits(), fflags_of_mxcsr(csr[0]))
}

/// `a * b + c` with one rounding (`vfmadd231ss`); see [`fma_d`].
pub(super) fn fma_s(cw: u32, a: u32, b: u32, c: u32) -> (u32, u32) {
    let (y, z) = (f32::from_bits(a), f32::from_bits(b));
    let mut x = f32::from_bits(c);
    let mut csr = [cw, 0u32];
    sse_op!("vfmadd231ss", x, y, z, csr);
    (x.to_bits(), fflags_of_mxcsr(csr[0]))
}

/// Reads `MXCSR`.
pub(super) fn get_mxcsr() -> u32 {
    let mut v = 0u32;
    // SAFETY: stores MXCSR into a local.
    unsafe {
        asm!("stmxcsr [{p}]", p = in(reg) &mut v as *mut u32, options(nostack, preserves_flags));
    }
    v
}

/// Writes `MXCSR`.
pub(super) fn set_mxcsr(v: u32) {
    // SAFETY: loads MXCSR from a local; callers only change sticky flags.
    unsafe {
        asm!("ldmxcsr [{p}]", p = in(reg) &v as *const u32, options(nostack, preserves_flags));
    }
}
