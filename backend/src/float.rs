//! Lowering of the IR's float ops: inline SSE where the host gives the
//! RISC-V result and flags, a call into [`crate::fphelpers`] elsewhere.
//!
//! # Flags
//! Float ops accrue IEEE exception flags into the thread's float-flag
//! accumulator, the host `MXCSR` sticky bits ([`cranemu_ir::fp::host_flags`]),
//! which the runtime folds into `fcsr`. An inline SSE instruction raises
//! its flags there by itself, with no code for them; a helper adds the
//! flags its exact computation returns.
//!
//! # Rounding
//! While a block runs, `MXCSR`'s rounding control holds the block's
//! ambient rounding mode ([`Block::ambient_rounding`]: the guest's dynamic
//! mode where x86 has it). An op whose `rm` is that mode runs inline as it
//! is, so code under `fesetround(FE_UPWARD)` runs as fast as code under the
//! default; any other `rm` (a static mode that differs, or `rmm`, which x86
//! lacks) is a helper call that switches `MXCSR` around the one op.
//!
//! Inline:
//! - `fadd`, `fsub`, `fmul`, `fdiv`, `fsqrt` (`fsqrt` also in `rmm` when
//!   the ambient mode is `rne`: a square root is never a tie): `addsd` and
//!   friends give IEEE results and RISC-V's flags (after-rounding tininess
//!   on both); Cranelift's NaN canonicalization replaces x86's NaN payloads
//!   with the canonical NaN.
//! - fused multiply-add, when the host has FMA3: x86 does not raise
//!   invalid for `0 * inf + qNaN`, so a NaN result (rare) takes a cold call
//!   to the exact helper, which computes the result and all its flags.
//! - `feq` (`ucomisd` raises invalid for signalling NaNs only, as `feq`
//!   must); `flt`/`fle` signal invalid for quiet NaNs too, so an unordered
//!   compare takes a cold call to the exact helper.
//! - `fcvt.d.s` (exact; invalid only for a signalling NaN), and `fcvt.s.d`.
//!
//! Cranelift treats float ops as pure: it may drop one whose result is
//! unused and places each just before its first use. Flags make them
//! effects, so an inline op whose result does not reach a store before the
//! next instruction that may leave the block or observe flags (a call, a
//! memory access, a side exit) is pinned where the IR has it by a store to
//! the scratch word [`crate::StateLayout::fp_sink`]. Constant folding does
//! not apply: operands are bit casts of integers, never float constants.
//! And no op can be merged with an identical one across a write that
//! clears `fflags`, because such writes end their block (the translator's
//! rule).

use cranelift_codegen::ir::condcodes::FloatCC as CFloatCC;
use cranelift_codegen::ir::types::{F32, F64, I64};
use cranelift_codegen::ir::{self as cir, BlockArg, InstBuilder};
use cranemu_ir::{Block, FBinOp, FloatCC, FpWidth, Inst, Rounding};

use crate::{fphelpers, Lowering};

/// Whether `inst` is a float op lowered inline in a block whose ambient
/// rounding mode is `ambient` (see the module doc).
fn is_inline(inst: &Inst, has_fma: bool, ambient: Rounding) -> bool {
    match *inst {
        Inst::Fbin { op, rm, .. } => rm == ambient && !matches!(op, FBinOp::Fmin | FBinOp::Fmax),
        Inst::Fsqrt { rm, .. } => {
            rm == ambient || (rm == Rounding::Rmm && ambient == Rounding::Rne)
        }
        Inst::Fma { rm, .. } => rm == ambient && has_fma,
        Inst::Fcmp { .. } => true,
        Inst::FcvtFloat { from, rm, .. } => from == FpWidth::S || rm == ambient,
        _ => false,
    }
}

/// For each instruction of `block`, whether it is an inline float op that
/// needs pinning (see the module doc): its result reaches no state or
/// memory store at or before the next instruction that may leave the block
/// or observe flags.
pub(crate) fn needs_pin(block: &Block, has_fma: bool) -> Vec<bool> {
    use Inst::*;
    let n = block.insts.len();
    // The index of the first effectful instruction each value flows into
    // (directly or through pure ops); n for the terminator, MAX for none.
    let mut first_effect = vec![usize::MAX; block.num_values as usize];
    if let Some(term) = block.term {
        for v in term_uses(&term) {
            first_effect[v.index()] = n;
        }
    }
    let is_barrier = |inst: &Inst| {
        matches!(
            inst,
            Load { .. }
                | Store { .. }
                | AtomicRmw { .. }
                | AtomicCas { .. }
                | ExitIf { .. }
                | Call { .. }
        )
    };
    for (j, inst) in block.insts.iter().enumerate().rev() {
        let effectful = is_barrier(inst) || matches!(inst, SetState { .. } | Fence { .. });
        let reach = match inst.dst() {
            Some(d) if !effectful => first_effect[d.index()],
            _ => j,
        };
        inst.for_each_arg(|v| {
            let e = &mut first_effect[v.index()];
            *e = (*e).min(reach);
        });
    }
    let mut pin = vec![false; n];
    let mut next_barrier = n;
    for (i, inst) in block.insts.iter().enumerate().rev() {
        if is_inline(inst, has_fma, block.ambient_rounding) {
            let d = inst.dst().expect("float ops define a value");
            pin[i] = first_effect[d.index()] > next_barrier;
        }
        if is_barrier(inst) {
            next_barrier = i;
        }
    }
    pin
}

fn term_uses(t: &cranemu_ir::Terminator) -> Vec<cranemu_ir::Value> {
    use cranemu_ir::Terminator::*;
    match *t {
        Branch { cond, .. } => vec![cond],
        JumpIndirect {
            target,
            flags: None,
        } => vec![target],
        JumpIndirect {
            target,
            flags: Some(f),
        } => vec![target, f],
        Jump { .. } | Trap { .. } | Exit { .. } => vec![],
    }
}

impl Lowering<'_, '_> {
    /// Calls the float helper `f` with the operation word `opc` and
    /// `args`.
    fn fp_call(&mut self, f: usize, opc: u64, args: &[cir::Value]) -> cir::Value {
        let opc = self.iconst(opc);
        let mut all = vec![opc];
        all.extend_from_slice(args);
        self.call_host(f, &all)
    }

    /// `x` if `cond` is false; otherwise the result of the cold call
    /// `f(opc, args)`.
    fn fp_cold_call_if(
        &mut self,
        cond: cir::Value,
        x: cir::Value,
        f: usize,
        opc: u64,
        args: &[cir::Value],
    ) -> cir::Value {
        let cold = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, I64);
        self.b.set_cold_block(cold);
        self.b
            .ins()
            .brif(cond, cold, &[], join, &[BlockArg::Value(x)]);
        self.b.switch_to_block(cold);
        let r = self.fp_call(f, opc, args);
        self.b.ins().jump(join, &[BlockArg::Value(r)]);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    fn is_unordered(&mut self, x: cir::Value, y: cir::Value) -> cir::Value {
        self.b.ins().fcmp(CFloatCC::Unordered, x, y)
    }

    /// Lowers the float op `inst`; `pin` stores its result to the sink
    /// word (see the module doc).
    pub(crate) fn lower_float(&mut self, inst: &Inst, pin: bool) {
        use Inst::*;
        let has_fma = self.be.has_fma;
        let inline = is_inline(inst, has_fma, self.block.ambient_rounding);
        let (dst, x) = match *inst {
            Fbin {
                op,
                w,
                rm,
                dst,
                a,
                b,
            } => {
                let (a, b) = (self.v(a), self.v(b));
                let x = if inline {
                    let (fa, fb) = (self.float_in(w, a), self.float_in(w, b));
                    let r = match op {
                        FBinOp::Fadd => self.b.ins().fadd(fa, fb),
                        FBinOp::Fsub => self.b.ins().fsub(fa, fb),
                        FBinOp::Fmul => self.b.ins().fmul(fa, fb),
                        _ => self.b.ins().fdiv(fa, fb),
                    };
                    self.float_out(w, r)
                } else {
                    let opc = fphelpers::encode_fbin(op, w, rm);
                    self.fp_call(fphelpers::fbin as *const () as usize, opc, &[a, b])
                };
                (dst, x)
            }
            Fsqrt { w, rm, dst, a } => {
                let a = self.v(a);
                let x = if inline {
                    let fa = self.float_in(w, a);
                    let r = self.b.ins().sqrt(fa);
                    self.float_out(w, r)
                } else {
                    let opc = fphelpers::encode_sqrt(w, rm);
                    self.fp_call(fphelpers::sqrt as *const () as usize, opc, &[a])
                };
                (dst, x)
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
            } => {
                let (a, b, c) = (self.v(a), self.v(b), self.v(c));
                let opc = fphelpers::encode_fma(w, rm, neg_product, neg_addend);
                let f = fphelpers::fma as *const () as usize;
                let x = if inline {
                    let (mut fa, fb, mut fc) = (
                        self.float_in(w, a),
                        self.float_in(w, b),
                        self.float_in(w, c),
                    );
                    if neg_product {
                        fa = self.b.ins().fneg(fa);
                    }
                    if neg_addend {
                        fc = self.b.ins().fneg(fc);
                    }
                    let r = self.b.ins().fma(fa, fb, fc);
                    let nan = self.is_unordered(r, r);
                    let bits = self.float_out(w, r);
                    self.fp_cold_call_if(nan, bits, f, opc, &[a, b, c])
                } else {
                    self.fp_call(f, opc, &[a, b, c])
                };
                (dst, x)
            }
            Fcmp { cc, w, dst, a, b } => {
                let (a, b) = (self.v(a), self.v(b));
                let (fa, fb) = (self.float_in(w, a), self.float_in(w, b));
                let c = match cc {
                    FloatCC::Eq => CFloatCC::Equal,
                    FloatCC::Lt => CFloatCC::LessThan,
                    FloatCC::Le => CFloatCC::LessThanOrEqual,
                };
                let r = self.b.ins().fcmp(c, fa, fb);
                let x = self.b.ins().uextend(I64, r);
                let x = if cc == FloatCC::Eq {
                    x
                } else {
                    let uno = self.is_unordered(fa, fb);
                    let opc = fphelpers::encode_fcmp(cc, w);
                    self.fp_cold_call_if(
                        uno,
                        x,
                        fphelpers::fcmp as *const () as usize,
                        opc,
                        &[a, b],
                    )
                };
                (dst, x)
            }
            FcvtToInt {
                w,
                rm,
                to,
                dst,
                src,
            } => {
                let s = self.v(src);
                let opc = fphelpers::encode_to_int(w, rm, to);
                let x = self.fp_call(fphelpers::to_int as *const () as usize, opc, &[s]);
                (dst, x)
            }
            FcvtFromInt {
                w,
                rm,
                from,
                dst,
                src,
            } => {
                let s = self.v(src);
                let opc = fphelpers::encode_from_int(w, rm, from);
                let x = self.fp_call(fphelpers::from_int as *const () as usize, opc, &[s]);
                (dst, x)
            }
            FcvtFloat { from, rm, dst, src } => {
                let s = self.v(src);
                let x = if inline {
                    let f = self.float_in(from, s);
                    match from {
                        FpWidth::S => {
                            let r = self.b.ins().fpromote(F64, f);
                            self.float_out(FpWidth::D, r)
                        }
                        FpWidth::D => {
                            let r = self.b.ins().fdemote(F32, f);
                            self.float_out(FpWidth::S, r)
                        }
                    }
                } else {
                    let opc = fphelpers::encode_cvt_float(from, rm);
                    self.fp_call(fphelpers::cvt_float as *const () as usize, opc, &[s])
                };
                (dst, x)
            }
            Fclass { w, dst, a } => {
                let s = self.v(a);
                let opc = w as u64;
                let x = self.fp_call(fphelpers::class as *const () as usize, opc, &[s]);
                (dst, x)
            }
            _ => unreachable!("lower_float on a non-float op"),
        };
        if pin && inline {
            let sink = self.be.cfg.layout.fp_sink;
            self.store_state(sink, x);
        }
        self.def(dst, x);
    }
}

/// Whether the host has FMA3, which Cranelift then uses for `fma`.
pub(crate) fn host_has_fma() -> bool {
    std::arch::is_x86_feature_detected!("fma")
}
