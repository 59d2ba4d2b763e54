//! The IR's text form, one instruction per line, read as Cranelift's:
//!
//! ```text
//! block 0x10078:
//!   insn_start 0x10078, 4
//!   v0 = get_state 0x50
//!   v1 = iconst 0x1
//!   v2 = iadd v0, v1
//!   set_state 0x50, v2
//!   jump 0x1007c
//! ```

use crate::*;
use core::fmt::{self, Write};

fn binop_name(op: BinOp) -> &'static str {
    use BinOp::*;
    match op {
        Iadd => "iadd",
        Isub => "isub",
        Imul => "imul",
        Smulhi => "smulhi",
        Umulhi => "umulhi",
        SUmulhi => "sumulhi",
        Sdiv => "sdiv",
        Udiv => "udiv",
        Srem => "srem",
        Urem => "urem",
        Band => "band",
        Bor => "bor",
        Bxor => "bxor",
        Ishl => "ishl",
        Ushr => "ushr",
        Sshr => "sshr",
    }
}

fn intcc_name(cc: IntCC) -> &'static str {
    match cc {
        IntCC::Eq => "eq",
        IntCC::Ne => "ne",
        IntCC::Slt => "slt",
        IntCC::Sge => "sge",
        IntCC::Ult => "ult",
        IntCC::Uge => "uge",
    }
}

fn width(w: FpWidth) -> &'static str {
    match w {
        FpWidth::S => "f32",
        FpWidth::D => "f64",
    }
}

/// A rounding-mode suffix, ` rtz` and the like, for ops that round;
/// nothing for the default `rne`.
fn rounding(rounds: bool, rm: Rounding) -> String {
    if rounds && rm != Rounding::Rne {
        format!(" {}", format!("{rm:?}").to_lowercase())
    } else {
        String::new()
    }
}

fn int_kind(k: IntKind) -> &'static str {
    match k {
        IntKind::I32 => "i32",
        IntKind::U32 => "u32",
        IntKind::I64 => "i64",
        IntKind::U64 => "u64",
    }
}

fn mem(m: MemOp) -> String {
    format!(
        "i{}{}{}",
        m.size.bits(),
        if m.signed { "s" } else { "" },
        if m.aligned { " aligned" } else { "" }
    )
}

/// Writes one instruction's text form (no indentation, no newline).
pub fn write_inst(out: &mut impl Write, inst: &Inst) -> fmt::Result {
    use Inst::*;
    match *inst {
        InsnStart { pc, len } => write!(out, "insn_start {pc:#x}, {len}"),
        Iconst { dst, imm } => write!(out, "{dst} = iconst {imm:#x}"),
        GetState { dst, offset } => write!(out, "{dst} = get_state {offset:#x}"),
        SetState { offset, src } => write!(out, "set_state {offset:#x}, {src}"),
        Binary { op, dst, a, b } => write!(out, "{dst} = {} {a}, {b}", binop_name(op)),
        Icmp { cc, dst, a, b } => write!(out, "{dst} = icmp {} {a}, {b}", intcc_name(cc)),
        Select { dst, c, a, b } => write!(out, "{dst} = select {c}, {a}, {b}"),
        Sextend { dst, src, bits } => write!(out, "{dst} = sextend.i{bits} {src}"),
        Uextend { dst, src, bits } => write!(out, "{dst} = uextend.i{bits} {src}"),
        Load { dst, addr, mem: m } => write!(out, "{dst} = load.{} {addr}", mem(m)),
        Store { addr, src, mem: m } => write!(out, "store.{} {addr}, {src}", mem(m)),
        AtomicRmw {
            op,
            dst,
            addr,
            src,
            size,
        } => write!(
            out,
            "{dst} = atomic_rmw.i{} {} {addr}, {src}",
            size.bits(),
            format!("{op:?}").to_lowercase()
        ),
        AtomicCas {
            dst,
            addr,
            expected,
            new,
            size,
        } => {
            write!(
                out,
                "{dst} = atomic_cas.i{} {addr}, {expected}, {new}",
                size.bits()
            )
        }
        Fence { kind } => write!(
            out,
            "fence {}",
            match kind {
                FenceKind::StoreLoad => "store_load",
                FenceKind::Other => "other",
            }
        ),
        Fbin {
            op,
            w,
            rm,
            dst,
            a,
            b,
        } => write!(
            out,
            "{dst} = {}.{}{} {a}, {b}",
            format!("{op:?}").to_lowercase(),
            width(w),
            rounding(op != FBinOp::Fmin && op != FBinOp::Fmax, rm)
        ),
        Fsqrt { w, rm, dst, a } => {
            write!(out, "{dst} = sqrt.{}{} {a}", width(w), rounding(true, rm))
        }
        Fma {
            w,
            rm,
            neg_product,
            neg_addend,
            dst,
            a,
            b,
            c,
        } => write!(
            out,
            "{dst} = fma.{}{}{}{} {a}, {b}, {c}",
            width(w),
            rounding(true, rm),
            if neg_product { " neg_product" } else { "" },
            if neg_addend { " neg_addend" } else { "" }
        ),
        Fcmp { cc, w, dst, a, b } => write!(
            out,
            "{dst} = fcmp.{} {} {a}, {b}",
            width(w),
            format!("{cc:?}").to_lowercase()
        ),
        FcvtToInt {
            w,
            rm,
            to,
            dst,
            src,
        } => {
            write!(
                out,
                "{dst} = fcvt_to_{}_sat.{} {} {src}",
                int_kind(to),
                width(w),
                format!("{rm:?}").to_lowercase()
            )
        }
        FcvtFromInt {
            w,
            rm,
            from,
            dst,
            src,
        } => {
            write!(
                out,
                "{dst} = fcvt_from_{}.{}{} {src}",
                int_kind(from),
                width(w),
                rounding(true, rm)
            )
        }
        FcvtFloat { from, rm, dst, src } => write!(
            out,
            "{dst} = {}{} {src}",
            match from {
                FpWidth::S => "fpromote",
                FpWidth::D => "fdemote",
            },
            rounding(from == FpWidth::D, rm)
        ),
        Fclass { w, dst, a } => write!(out, "{dst} = fclass.{} {a}", width(w)),
        ExitIf { cond, pc } => write!(out, "exit_if {cond}, {pc:#x}"),
        Call { helper, dst, args } => write!(
            out,
            "{dst} = call helper{}({}, {}, {})",
            helper.0, args[0], args[1], args[2]
        ),
    }
}

/// Writes a terminator's text form.
pub fn write_term(out: &mut impl Write, term: &Terminator) -> fmt::Result {
    match *term {
        Terminator::Jump { pc } => write!(out, "jump {pc:#x}"),
        Terminator::Branch {
            cond,
            taken,
            not_taken,
        } => {
            write!(out, "brif {cond}, {taken:#x}, {not_taken:#x}")
        }
        Terminator::JumpIndirect {
            target,
            flags: None,
        } => write!(out, "jump_indirect {target}"),
        Terminator::JumpIndirect {
            target,
            flags: Some(f),
        } => write!(out, "jump_indirect {target}, flags {f}"),
        Terminator::Trap { cause, tval, pc } => {
            write!(out, "trap cause={cause}, tval={tval:#x}, pc={pc:#x}")
        }
        Terminator::Exit { pc, flush } => {
            write!(out, "exit {pc:#x}{}", if flush { ", flush" } else { "" })
        }
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "block {:#x}:", self.pc)?;
        for inst in &self.insts {
            f.write_str("  ")?;
            write_inst(f, inst)?;
            f.write_char('\n')?;
        }
        match &self.term {
            Some(t) => {
                f.write_str("  ")?;
                write_term(f, t)?;
                f.write_char('\n')
            }
            None => f.write_str("  ; (unterminated)\n"),
        }
    }
}

impl fmt::Display for Inst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_inst(f, self)
    }
}
