//! Differential tests: the reference interpreter (`cranemu_ir::interp`)
//! against the first tier's loop (`cranemu_ir::baseline`), the first
//! tier's host code (`cranemu_backend::template`, through
//! [`Engine::run_first_tier_block`], for the blocks it emits) and the JIT
//! (Cranelift, through [`Engine::run_ir_block`]).
//!
//! All start from the same CPU state and the same guest memory and
//! run the same IR block; afterwards the architectural state (`x`, `f`,
//! `pc`, `fcsr`, the LR/SC reservation, `icount`), the data pages and the
//! outcome (next pc or trap with cause, `tval` and pc) must be identical,
//! bit for bit (NaN payloads included: both sides canonicalize).
//!
//! Three families:
//! - **per IR op**: one block per op reading its operands from `x`
//!   registers, biased toward edge values (0, ±1, `i64::MIN`, NaNs, ±0,
//!   ±inf, subnormals, NaN-boxed and unboxed singles), and memory ops at
//!   random (also misaligned, unmapped and read-only) addresses;
//! - **edge sweep**: every pure op applied to every pair of 64 edge values,
//!   a thousand results per block, stored to guest memory;
//! - **guest sequences**: random short sequences of non-control RV64GC
//!   instructions (32-bit and compressed) ending in `ecall`, translated by
//!   the frontend. Registers x2, x8, x30 and x31 hold data-page pointers and
//!   are never written, so loads, stores and AMOs (whose base register is
//!   forced to one of them) mostly hit mapped data.
//!
//! The JIT's fault handler is process-global (one guest region at a time),
//! so every test shares one [`Engine`] and its guest space under a mutex.
//! The interpreter's memory is a plain model ([`RefMem`]), independent of
//! the guest space.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use proptest::prelude::*;
use proptest::test_runner::Config;

use cranemu_frontend::decode::decode;
use cranemu_frontend::translate::{translate_block, CodeSource, EndReason, TranslateOptions};
use cranemu_frontend::Op;
use cranemu_ir::baseline;
use cranemu_ir::interp::{self, Outcome};
use cranemu_ir::{
    AtomicOp, BinOp, Block, Builder, FBinOp, FloatCC, FpWidth, IntCC, IntKind, MemOp, MemSize,
    Rounding, Terminator, Value,
};
use cranemu_runtime::{BlockOutcome, CpuState, Engine, EngineConfig, Exception, Exit};
use cranemu_softmmu::user::{GuestSpace, Prot};

mod rv;
use rv::Rng;

// ---- Guest layout -------------------------------------------------------

/// The code page (RX).
const CODE: u64 = 0x10000;
/// Two read-write data pages.
const DATA: u64 = 0x20000;
const DATA_LEN: u64 = 0x2000;
/// A read-only page right after the data pages.
const RO: u64 = DATA + DATA_LEN;
/// Everything compared after a run: the data pages and the read-only page.
const CMP_LEN: u64 = DATA_LEN + 0x1000;
/// Size of the guest address space (the JIT's bounds check).
const GUEST_SIZE: u64 = 1 << 38;

/// Registers holding data pointers in the guest-sequence tests: never
/// written, and the only base registers of memory instructions.
const BASES: [u8; 4] = [2, 8, 30, 31];

// ---- Shared engine ------------------------------------------------------

struct Fixture {
    engine: Engine,
    space: Arc<GuestSpace>,
}

fn fixture() -> MutexGuard<'static, Fixture> {
    static FIX: OnceLock<Mutex<Fixture>> = OnceLock::new();
    FIX.get_or_init(|| {
        let space = Arc::new(GuestSpace::new().expect("guest space"));
        space.map(CODE, 0x1000, Prot::RX, true).expect("map code");
        space.map(DATA, DATA_LEN, Prot::RW, true).expect("map data");
        space.map(RO, 0x1000, Prot::READ, true).expect("map ro");
        let engine = Engine::new(space.clone(), EngineConfig::default()).expect("engine");
        Mutex::new(Fixture { engine, space })
    })
    .lock()
    // A failed case panics while holding the lock; the fixture is reset
    // before every case anyway.
    .unwrap_or_else(|e| e.into_inner())
}

// ---- The interpreter's memory -------------------------------------------

struct Region {
    base: u64,
    write: bool,
    bytes: Vec<u8>,
}

/// Guest memory for the interpreter: the code page (read-only here, the
/// IR never executes it), the data pages and the read-only page. A
/// multi-byte access is checked as a whole before anything is written.
struct RefMem {
    regions: Vec<Region>,
}

impl RefMem {
    fn new(code: &[u8], data: &[u8]) -> RefMem {
        let mut code_page = vec![0u8; 0x1000];
        code_page[..code.len()].copy_from_slice(code);
        RefMem {
            regions: vec![
                Region {
                    base: CODE,
                    write: false,
                    bytes: code_page,
                },
                Region {
                    base: DATA,
                    write: true,
                    bytes: data[..DATA_LEN as usize].to_vec(),
                },
                Region {
                    base: RO,
                    write: false,
                    bytes: data[DATA_LEN as usize..].to_vec(),
                },
            ],
        }
    }

    fn locate(&self, addr: u64) -> Option<(usize, usize)> {
        self.regions.iter().enumerate().find_map(|(i, r)| {
            let off = addr.checked_sub(r.base)?;
            (off < r.bytes.len() as u64).then_some((i, off as usize))
        })
    }

    fn check(&self, addr: u64, n: u64, write: bool) -> Result<(), ()> {
        for i in 0..n {
            let a = addr.checked_add(i).ok_or(())?;
            let (r, _) = self.locate(a).ok_or(())?;
            if write && !self.regions[r].write {
                return Err(());
            }
        }
        Ok(())
    }

    /// The compared bytes: data pages then the read-only page.
    fn compared(&self) -> Vec<u8> {
        let mut v = self.regions[1].bytes.clone();
        v.extend_from_slice(&self.regions[2].bytes);
        v
    }
}

impl interp::Memory for RefMem {
    fn load(&mut self, addr: u64, size: MemSize) -> Result<u64, ()> {
        self.check(addr, size.bytes(), false)?;
        let mut v = 0u64;
        for i in 0..size.bytes() {
            let (r, o) = self.locate(addr + i).ok_or(())?;
            v |= u64::from(self.regions[r].bytes[o]) << (8 * i);
        }
        Ok(v)
    }

    fn store(&mut self, addr: u64, size: MemSize, value: u64) -> Result<(), ()> {
        self.check(addr, size.bytes(), true)?;
        for i in 0..size.bytes() {
            let (r, o) = self.locate(addr + i).ok_or(())?;
            self.regions[r].bytes[o] = (value >> (8 * i)) as u8;
        }
        Ok(())
    }
}

// ---- Running both sides ------------------------------------------------

/// How a block ended, in one vocabulary for both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Next { pc: u64, flush: bool },
    Trap { cause: u64, tval: u64, pc: u64 },
    Interrupted,
}

fn ending_of_interp(o: Outcome) -> Ending {
    match o {
        Outcome::Next(pc) => Ending::Next { pc, flush: false },
        Outcome::Exit { pc, flush } => Ending::Next { pc, flush },
        Outcome::Trap { cause, tval, pc } => Ending::Trap { cause, tval, pc },
        Outcome::MemFault {
            addr,
            store,
            misaligned,
            pc,
        } => {
            let cause = match (store, misaligned) {
                (false, false) => Exception::LoadPageFault,
                (true, false) => Exception::StorePageFault,
                (false, true) => Exception::LoadAddressMisaligned,
                (true, true) => Exception::StoreAddressMisaligned,
            };
            Ending::Trap {
                cause: cause.code(),
                tval: addr,
                pc,
            }
        }
    }
}

fn ending_of_jit(o: BlockOutcome) -> Ending {
    match o {
        BlockOutcome::Next { pc, flush } => Ending::Next { pc, flush },
        BlockOutcome::Exit(Exit::Trap(t)) => Ending::Trap {
            cause: t.cause.code(),
            tval: t.tval,
            pc: t.pc,
        },
        BlockOutcome::Exit(Exit::Interrupted) => Ending::Interrupted,
    }
}

/// The guest-visible part of a CPU state.
#[derive(Debug, PartialEq, Eq)]
struct Arch {
    x: [u64; 32],
    f: [u64; 32],
    pc: u64,
    fcsr: u64,
    reservation_addr: u64,
    reservation_value: u64,
    icount: u64,
}

fn arch(c: &CpuState) -> Arch {
    Arch {
        x: c.x,
        f: c.f,
        pc: c.pc,
        fcsr: c.fcsr,
        reservation_addr: c.reservation_addr,
        reservation_value: c.reservation_value,
        icount: c.icount,
    }
}

/// What one side produced.
struct Run {
    ending: Ending,
    state: Arch,
    /// The data pages and the read-only page.
    mem: Vec<u8>,
}

/// What the three tiers produced from one block.
struct Tiers {
    /// The reference interpreter.
    interp: Run,
    /// The first tier (`cranemu_ir::baseline`).
    baseline: Run,
    /// Cranelift.
    jit: Run,
    /// The first tier's host code (`cranemu_backend::template`), if it
    /// emits the block.
    first_tier_code: Option<Run>,
}

/// Runs `block` on the reference interpreter (`baseline` false) or on the
/// first tier, from `cpu0` and the memory image `data` (`CMP_LEN` bytes
/// from `DATA`), with `code` in the code page.
fn run_interpreted(
    block: &Block,
    cpu0: &CpuState,
    code: &[u8],
    data: &[u8],
    baseline: bool,
) -> Run {
    let mut icpu = cpu0.clone();
    let mut mem = RefMem::new(code, data);
    // SAFETY: `CpuState` is `#[repr(C)]` plain data (integers only), so
    // viewing it as bytes is sound; the slice lives no longer than `icpu`
    // and is the only access to it meanwhile.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(
            &mut icpu as *mut CpuState as *mut u8,
            std::mem::size_of::<CpuState>(),
        )
    };
    let helpers = cranemu_frontend::helpers::HELPERS;
    // As the runtime does: the guest's float environment is set up around
    // guest code, and its flags are folded into fcsr afterwards.
    cranemu_frontend::helpers::enter_guest_fp(&icpu);
    // SAFETY: the helpers of the table work on a `CpuState` image, which
    // `bytes` is.
    let out = unsafe {
        if baseline {
            let prog = baseline::Program::lower(block).expect("the first tier lowers the block");
            // One value array for every case on this thread, as a vCPU
            // reuses its own: each block finds the last one's values, and
            // must not read them.
            thread_local! {
                static VALUES: std::cell::RefCell<baseline::Values> = Default::default();
            }
            VALUES.with_borrow_mut(|vals| baseline::run(&prog, bytes, &mut mem, helpers, vals))
        } else {
            interp::run(block, bytes, &mut mem, helpers)
        }
    };
    cranemu_frontend::helpers::leave_guest_fp(&mut icpu);
    let iend = ending_of_interp(out);
    // The runtime writes the next (or trapping) pc; the interpreter
    // reports it.
    icpu.pc = match iend {
        Ending::Next { pc, .. } | Ending::Trap { pc, .. } => pc,
        Ending::Interrupted => icpu.pc,
    };
    Run {
        ending: iend,
        state: arch(&icpu),
        mem: mem.compared(),
    }
}

/// Runs `block` on the reference interpreter, the first tier and the JIT,
/// each from `cpu0` and the memory image `data` (`CMP_LEN` bytes from
/// `DATA`), with `code` in the code page.
fn run_tiers(fix: &Fixture, block: &Block, cpu0: &CpuState, code: &[u8], data: &[u8]) -> Tiers {
    assert_eq!(data.len() as u64, CMP_LEN);
    let interp = run_interpreted(block, cpu0, code, data, false);
    let baseline = run_interpreted(block, cpu0, code, data, true);

    // JIT.
    fix.space
        .write_force(CODE, &{
            let mut p = vec![0u8; 0x1000];
            p[..code.len()].copy_from_slice(code);
            p
        })
        .expect("write code");
    fix.space.write_force(DATA, data).expect("write data");
    let mut jcpu = cpu0.clone();
    let out = fix.engine.run_ir_block(&mut jcpu, block).expect("compile");
    let mut jmem = vec![0u8; CMP_LEN as usize];
    fix.space.read(DATA, &mut jmem).expect("read back data");
    let jit = Run {
        ending: ending_of_jit(out),
        state: arch(&jcpu),
        mem: jmem,
    };

    // The first tier's host code, for the blocks it emits.
    fix.space.write_force(DATA, data).expect("write data");
    let mut qcpu = cpu0.clone();
    let out = fix
        .engine
        .run_first_tier_block(&mut qcpu, block)
        .expect("first-tier code");
    let first_tier_code = out.map(|out| {
        let mut qmem = vec![0u8; CMP_LEN as usize];
        fix.space.read(DATA, &mut qmem).expect("read back data");
        Run {
            ending: ending_of_jit(out),
            state: arch(&qcpu),
            mem: qmem,
        }
    });
    Tiers {
        interp,
        baseline,
        jit,
        first_tier_code,
    }
}

/// Asserts that the first tier and the JIT agree with the reference
/// interpreter; `what` describes the case.
fn check_tiers(t: &Tiers, what: &dyn Fn() -> String) -> Result<(), TestCaseError> {
    check_same(&t.interp, &t.baseline, "baseline", what)?;
    if let Some(q) = &t.first_tier_code {
        check_same(&t.interp, q, "first-tier code", what)?;
    }
    check_same(&t.interp, &t.jit, "jit", what)
}

/// Asserts that `j`, from the tier named `tier`, agrees with `i`, from the
/// reference interpreter; `what` describes the case.
fn check_same(
    i: &Run,
    j: &Run,
    tier: &str,
    what: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        i.ending,
        j.ending,
        "outcome differs (interp, {})\n{}",
        tier,
        what()
    );
    for r in 0..32 {
        prop_assert_eq!(
            i.state.x[r],
            j.state.x[r],
            "x{} differs: interp {:#x}, {} {:#x}\n{}",
            r,
            i.state.x[r],
            tier,
            j.state.x[r],
            what()
        );
        prop_assert_eq!(
            i.state.f[r],
            j.state.f[r],
            "f{} differs: interp {:#x}, {} {:#x}\n{}",
            r,
            i.state.f[r],
            tier,
            j.state.f[r],
            what()
        );
    }
    prop_assert_eq!(
        &i.state,
        &j.state,
        "CPU state differs (interp, {})\n{}",
        tier,
        what()
    );
    if let Some(k) = (0..i.mem.len()).find(|&k| i.mem[k] != j.mem[k]) {
        let w = k & !7;
        let word = |m: &[u8]| u64::from_le_bytes(m[w..w + 8].try_into().expect("8 bytes"));
        prop_assert!(
            false,
            "memory differs at {:#x}: interp {:#018x}, {} {:#018x}\n{}",
            DATA + w as u64,
            word(&i.mem),
            tier,
            word(&j.mem),
            what()
        );
    }
    Ok(())
}

// ---- Values -------------------------------------------------------------

fn box_s(x: u32) -> u64 {
    0xffff_ffff_0000_0000 | u64::from(x)
}

/// Integer edge values.
const INT_EDGES: [u64; 20] = [
    0,
    1,
    2,
    u64::MAX,
    u64::MAX - 1,
    i64::MIN as u64,
    i64::MAX as u64,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_ffff,
    0xffff_ffff_8000_0000,
    0x1_0000_0000,
    31,
    32,
    63,
    64,
    0x80,
    0xff,
    0x8000,
    0xffff,
];

/// Double-precision edge values.
fn f64_edges() -> Vec<u64> {
    let f = |x: f64| x.to_bits();
    vec![
        f(0.0),
        f(-0.0),
        f(1.0),
        f(-1.0),
        f(0.5),
        f(-0.5),
        f(1.5),
        f(2.5),
        f(-2.5),
        f(3.5),
        f(f64::INFINITY),
        f(f64::NEG_INFINITY),
        0x7ff8_0000_0000_0000, // canonical qNaN
        0xfff8_0000_0000_0000, // negative qNaN
        0x7ff0_0000_0000_0001, // sNaN
        0x7ff8_dead_beef_0000, // qNaN with payload
        0x0000_0000_0000_0001, // smallest subnormal
        0x000f_ffff_ffff_ffff, // largest subnormal
        0x8000_0000_0000_0001, // negative subnormal
        f(f64::MAX),
        f(f64::MIN),
        f(f64::MIN_POSITIVE),
        f(2f64.powi(63)),
        f(-(2f64.powi(63))),
        f(2f64.powi(64)),
        f(2147483647.0),
        f(2147483648.0),
        f(-2147483648.0),
        f(-2147483649.0),
        f(4294967295.0),
        f(4294967296.0),
        f(-0.9),
        f(1e300),
        f(3.4028235677973366e38), // just above f32::MAX
        f(1.0e-40),               // an f32 subnormal
    ]
}

/// Single-precision edge values, NaN-boxed unless stated.
fn f32_edges() -> Vec<u64> {
    let f = |x: f32| box_s(x.to_bits());
    vec![
        f(0.0),
        f(-0.0),
        f(1.0),
        f(-1.0),
        f(2.5),
        f(-2.5),
        f(0.5),
        f(f32::INFINITY),
        f(f32::NEG_INFINITY),
        box_s(0x7fc0_0000), // canonical qNaN
        box_s(0xffc0_0000), // negative qNaN
        box_s(0x7f80_0001), // sNaN
        box_s(0x7fc0_1234), // qNaN with payload
        box_s(0x0000_0001), // smallest subnormal
        box_s(0x807f_ffff), // negative largest subnormal
        f(f32::MAX),
        f(f32::MIN_POSITIVE),
        f(2147483648.0),
        f(-2147483648.0),
        f(4294967296.0),
        f(9.223372e18),
        f(1.8446744e19),
        1.0f32.to_bits() as u64,           // not boxed
        0xffff_fffe_3f80_0000,             // almost boxed
        0x7fc0_0000,                       // unboxed canonical NaN
        0xffff_ffff_0000_0000 ^ (1 << 63), // box bits broken at the top
    ]
}

fn all_edges() -> Vec<u64> {
    let mut v = INT_EDGES.to_vec();
    v.extend(f64_edges());
    v.extend(f32_edges());
    v
}

/// A 64-bit operand, biased toward edges.
fn operand() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => any::<u64>(),
        3 => prop::sample::select(all_edges()),
        1 => any::<u32>().prop_map(|x| x as i32 as i64 as u64),
        1 => 0u64..130,
        // Random singles, boxed, and random doubles with extreme exponents.
        2 => any::<u32>().prop_map(box_s),
        1 => (any::<bool>(), prop::sample::select(vec![0u64, 1, 2, 0x3fe, 0x3ff, 0x400, 0x43e, 0x43f, 0x7fe, 0x7ff]), any::<u64>())
            .prop_map(|(s, e, m)| (s as u64) << 63 | e << 52 | (m & ((1 << 52) - 1))),
    ]
}

/// The initial memory image: random words mixed with edge values.
fn memory_image(seed: u64) -> Vec<u8> {
    let edges = all_edges();
    let mut rng = Rng::new(seed);
    let mut v = Vec::with_capacity(CMP_LEN as usize);
    while (v.len() as u64) < CMP_LEN {
        let w = if rng.below(3) == 0 {
            edges[rng.below(edges.len() as u64) as usize]
        } else {
            rng.next()
        };
        v.extend_from_slice(&w.to_le_bytes());
    }
    v
}

fn xo(r: usize) -> i32 {
    CpuState::offset_of_x(r)
}

fn fo(r: usize) -> i32 {
    CpuState::offset_of_f(r)
}

// ---- Family 1: one IR op per block ---------------------------------------

#[derive(Clone, Copy, Debug)]
enum OpKind {
    Bin(BinOp),
    Icmp(IntCC),
    Select,
    Sext(u8),
    Uext(u8),
    Load(MemSize, bool, bool),
    Store(MemSize, bool),
    Rmw(AtomicOp, MemSize),
    Cas(MemSize),
    Fbin(FBinOp, FpWidth, Rounding),
    Fsqrt(FpWidth, Rounding),
    Fma(FpWidth, Rounding, bool, bool),
    Fcmp(FloatCC, FpWidth),
    ToInt(FpWidth, Rounding, IntKind),
    FromInt(FpWidth, Rounding, IntKind),
    FcvtFloat(FpWidth, Rounding),
    Fclass(FpWidth),
}

const BINOPS: [BinOp; 16] = BinOp::ALL;
const INTCCS: [IntCC; 6] = [
    IntCC::Eq,
    IntCC::Ne,
    IntCC::Slt,
    IntCC::Sge,
    IntCC::Ult,
    IntCC::Uge,
];
const SIZES: [MemSize; 4] = [MemSize::B1, MemSize::B2, MemSize::B4, MemSize::B8];
const ATOMICS: [AtomicOp; 9] = [
    AtomicOp::Xchg,
    AtomicOp::Add,
    AtomicOp::Xor,
    AtomicOp::And,
    AtomicOp::Or,
    AtomicOp::Smin,
    AtomicOp::Smax,
    AtomicOp::Umin,
    AtomicOp::Umax,
];
const FBINOPS: [FBinOp; 6] = [
    FBinOp::Fadd,
    FBinOp::Fsub,
    FBinOp::Fmul,
    FBinOp::Fdiv,
    FBinOp::Fmin,
    FBinOp::Fmax,
];
const WIDTHS: [FpWidth; 2] = [FpWidth::S, FpWidth::D];
const FLOATCCS: [FloatCC; 3] = [FloatCC::Eq, FloatCC::Lt, FloatCC::Le];
const ROUNDINGS: [Rounding; 5] = [
    Rounding::Rne,
    Rounding::Rtz,
    Rounding::Rdn,
    Rounding::Rup,
    Rounding::Rmm,
];
const KINDS: [IntKind; 4] = [IntKind::I32, IntKind::U32, IntKind::I64, IntKind::U64];

/// Every op, with every variant the IR distinguishes.
fn all_ops() -> Vec<OpKind> {
    let mut v = Vec::new();
    v.extend(BINOPS.iter().map(|&o| OpKind::Bin(o)));
    v.extend(INTCCS.iter().map(|&c| OpKind::Icmp(c)));
    v.push(OpKind::Select);
    for bits in [8, 16, 32] {
        v.push(OpKind::Sext(bits));
        v.push(OpKind::Uext(bits));
    }
    for s in SIZES {
        for signed in [false, true] {
            for aligned in [false, true] {
                v.push(OpKind::Load(s, signed, aligned));
            }
        }
        for aligned in [false, true] {
            v.push(OpKind::Store(s, aligned));
        }
    }
    for s in [MemSize::B4, MemSize::B8] {
        v.extend(ATOMICS.iter().map(|&o| OpKind::Rmw(o, s)));
        v.push(OpKind::Cas(s));
    }
    for w in WIDTHS {
        for rm in ROUNDINGS {
            v.extend(FBINOPS.iter().map(|&o| OpKind::Fbin(o, w, rm)));
            v.push(OpKind::Fsqrt(w, rm));
            for np in [false, true] {
                for na in [false, true] {
                    v.push(OpKind::Fma(w, rm, np, na));
                }
            }
            v.extend(KINDS.iter().map(|&k| OpKind::ToInt(w, rm, k)));
            v.extend(KINDS.iter().map(|&k| OpKind::FromInt(w, rm, k)));
            v.push(OpKind::FcvtFloat(w, rm));
        }
        v.extend(FLOATCCS.iter().map(|&c| OpKind::Fcmp(c, w)));
        v.push(OpKind::Fclass(w));
    }
    v
}

impl OpKind {
    fn is_mem(self) -> bool {
        matches!(
            self,
            OpKind::Load(..) | OpKind::Store(..) | OpKind::Rmw(..) | OpKind::Cas(..)
        )
    }

    fn mem_size(self) -> MemSize {
        match self {
            OpKind::Load(s, ..) | OpKind::Store(s, _) | OpKind::Rmw(_, s) | OpKind::Cas(s) => s,
            _ => MemSize::B8,
        }
    }

    /// Emits the op on operands `a`, `b`, `c` (`addr` for memory ops).
    fn emit(self, b: &mut Builder<'_>, a: Value, x: Value, c: Value, addr: Value) -> Option<Value> {
        Some(match self {
            OpKind::Bin(op) => b.binary(op, a, x),
            OpKind::Icmp(cc) => b.icmp(cc, a, x),
            OpKind::Select => b.select(a, x, c),
            OpKind::Sext(bits) => b.sextend(a, bits),
            OpKind::Uext(bits) => b.uextend(a, bits),
            OpKind::Load(size, signed, aligned) => b.load(
                addr,
                MemOp {
                    size,
                    signed,
                    aligned,
                },
            ),
            OpKind::Store(size, aligned) => {
                b.store(
                    addr,
                    a,
                    MemOp {
                        size,
                        signed: false,
                        aligned,
                    },
                );
                return None;
            }
            OpKind::Rmw(op, size) => b.atomic_rmw(op, addr, a, size),
            OpKind::Cas(size) => b.atomic_cas(addr, x, a, size),
            OpKind::Fbin(op, w, rm) => b.fbin(op, w, rm, a, x),
            OpKind::Fsqrt(w, rm) => b.fsqrt(w, rm, a),
            OpKind::Fma(w, rm, np, na) => b.fma(w, rm, np, na, a, x, c),
            OpKind::Fcmp(cc, w) => b.fcmp(cc, w, a, x),
            OpKind::ToInt(w, rm, k) => b.fcvt_to_int(w, rm, k, a),
            OpKind::FromInt(w, rm, k) => b.fcvt_from_int(w, rm, k, a),
            OpKind::FcvtFloat(w, rm) => b.fcvt_float(w, rm, a),
            OpKind::Fclass(w) => b.fclass(w, a),
        })
    }
}

/// A guest address for a memory op: mostly inside the data pages, at any
/// alignment; sometimes on the read-only page, unmapped, straddling a
/// boundary, or outside the guest space.
fn address() -> impl Strategy<Value = u64> {
    prop_oneof![
        10 => DATA..DATA + DATA_LEN - 8,
        2 => RO..RO + 0x1000 - 8,
        1 => prop::sample::select(vec![
            DATA - 8,
            DATA - 1,
            DATA + DATA_LEN - 4,
            DATA + DATA_LEN - 1,
            RO + 0x1000 - 4,
            RO + 0x1000,
            0x30000,
            0,
            8,
            GUEST_SIZE,
            GUEST_SIZE - 8,
            GUEST_SIZE - 4,
            u64::MAX - 3,
            1 << 63,
        ]),
    ]
}

#[derive(Clone, Debug)]
struct OpCase {
    op: OpKind,
    a: u64,
    b: u64,
    c: u64,
    addr: u64,
    /// Align `addr` to the access size.
    align: bool,
    /// For CAS: make `expected` match memory.
    cas_hit: bool,
    mem_seed: u64,
}

fn op_case() -> impl Strategy<Value = OpCase> {
    (
        prop::sample::select(all_ops()),
        operand(),
        operand(),
        operand(),
        address(),
        prop::bool::weighted(0.6),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(op, a, b, c, addr, align, cas_hit, mem_seed)| OpCase {
            op,
            a,
            b,
            c,
            addr,
            align,
            cas_hit,
            mem_seed,
        })
}

fn run_op_case(case: &OpCase) -> Result<(), TestCaseError> {
    let mem = memory_image(case.mem_seed);
    let size = case.op.mem_size().bytes();
    let addr = if case.align {
        case.addr & !(size - 1)
    } else {
        case.addr
    };
    let mut b_val = case.b;
    if let (OpKind::Cas(s), true) = (case.op, case.cas_hit) {
        if let Some(off) = addr.checked_sub(DATA).filter(|&o| o + s.bytes() <= CMP_LEN) {
            let mut cur = [0u8; 8];
            cur[..s.bytes() as usize]
                .copy_from_slice(&mem[off as usize..(off + s.bytes()) as usize]);
            let cur = u64::from_le_bytes(cur);
            // Upper bits beyond the access size must not matter.
            b_val = if s == MemSize::B8 {
                cur
            } else {
                (case.b & !0xffff_ffff) | cur
            };
        }
    }
    let mut cpu = CpuState {
        pc: CODE,
        ..CpuState::default()
    };
    cpu.x[1] = case.a;
    cpu.x[2] = b_val;
    cpu.x[3] = case.c;
    cpu.x[4] = addr;
    cpu.x[10] = 0x5555_5555_5555_5555;

    let mut block = Block::new(CODE);
    let mut b = Builder::new(&mut block);
    b.insn_start(CODE, 4);
    let va = b.get_state(xo(1));
    let vb = b.get_state(xo(2));
    let vc = b.get_state(xo(3));
    let vaddr = b.get_state(xo(4));
    if let Some(r) = case.op.emit(&mut b, va, vb, vc, vaddr) {
        b.set_state(xo(10), r);
    }
    b.terminate(Terminator::Jump { pc: CODE + 4 });

    let fix = fixture();
    let t = run_tiers(&fix, &block, &cpu, &[], &mem);
    check_tiers(&t, &|| {
        format!(
            "op {:?}: a={:#x} b={:#x} c={:#x} addr={:#x}",
            case.op, case.a, b_val, case.c, addr
        )
    })
}

proptest! {
    #![proptest_config(Config {
        cases: 4000,
        failure_persistence: None,
        ..Config::default()
    })]

    /// Every IR op on edge-biased operands.
    #[test]
    fn ir_ops_agree(case in op_case()) {
        run_op_case(&case)?;
    }
}

/// Deterministic coverage on top of the random cases: every op once on a
/// few fixed operand sets, so that no op depends on sampling luck.
#[test]
fn every_op_runs() {
    for (n, op) in all_ops().into_iter().enumerate() {
        for (k, &(a, b, c)) in [
            (1u64, 2u64, 3u64),
            (u64::MAX, 0, i64::MIN as u64),
            (
                box_s(0x7f80_0001),
                0x7ff0_0000_0000_0001,
                box_s(0xbf80_0000),
            ),
        ]
        .iter()
        .enumerate()
        {
            let case = OpCase {
                op,
                a,
                b,
                c,
                addr: DATA + 0x100 + 8 * n as u64 + k as u64,
                align: k != 2,
                cas_hit: k == 0,
                mem_seed: n as u64,
            };
            if let Err(e) = run_op_case(&case) {
                panic!("{e}");
            }
        }
    }
}

// ---- Family 2: exhaustive edge sweep --------------------------------------

/// Applies every pure (non-memory) op to every pair (for Fma and Select,
/// a triple derived from the pair) of 64 edge values held in `x1..x31`,
/// `f0..f31` and `x0`'s stand-in, storing each result to the data pages;
/// 1024 results per block.
#[test]
fn edge_sweep_agrees() {
    let mut edges = all_edges();
    let mut rng = Rng::new(7);
    while edges.len() < 64 {
        edges.push(rng.next());
    }
    edges.truncate(64);
    let mut cpu = CpuState {
        pc: CODE,
        ..CpuState::default()
    };
    for (k, &e) in edges.iter().enumerate() {
        if k < 32 {
            cpu.x[k] = e;
        } else {
            cpu.f[k - 32] = e;
        }
    }
    let offset = |k: usize| if k < 32 { xo(k) } else { fo(k - 32) };
    let zero_mem = vec![0u8; CMP_LEN as usize];
    let fix = fixture();
    let mut blocks = 0;
    for op in all_ops().into_iter().filter(|o| !o.is_mem()) {
        let unary = matches!(
            op,
            OpKind::Sext(_)
                | OpKind::Uext(_)
                | OpKind::Fsqrt(..)
                | OpKind::ToInt(..)
                | OpKind::FromInt(..)
                | OpKind::FcvtFloat(..)
                | OpKind::Fclass(_)
        );
        let triples: Vec<(usize, usize, usize)> = if unary {
            (0..64).map(|i| (i, 0, 0)).collect()
        } else {
            (0..64)
                .flat_map(|i| (0..64).map(move |j| (i, j, (i * 7 + j * 13 + 1) % 64)))
                .collect()
        };
        for chunk in triples.chunks(1024) {
            let mut block = Block::new(CODE);
            let mut b = Builder::new(&mut block);
            b.insn_start(CODE, 4);
            let vals: Vec<Value> = (0..64).map(|k| b.get_state(offset(k))).collect();
            let base = b.iconst(DATA);
            for (n, &(i, j, k)) in chunk.iter().enumerate() {
                let r = op
                    .emit(&mut b, vals[i], vals[j], vals[k], base)
                    .expect("pure op");
                let addr = b.iconst(DATA + 8 * n as u64);
                b.store(
                    addr,
                    r,
                    MemOp {
                        size: MemSize::B8,
                        signed: false,
                        aligned: true,
                    },
                );
            }
            b.terminate(Terminator::Jump { pc: CODE + 4 });
            let t = run_tiers(&fix, &block, &cpu, &[], &zero_mem);
            blocks += 1;
            for (tier, j) in [("baseline", &t.baseline), ("jit", &t.jit)] {
                let i = &t.interp;
                let diff =
                    (0..chunk.len()).find(|&n| i.mem[8 * n..8 * n + 8] != j.mem[8 * n..8 * n + 8]);
                if let Some(n) = diff {
                    let (a, x, c) = chunk[n];
                    let word =
                        |m: &[u8]| u64::from_le_bytes(m[8 * n..8 * n + 8].try_into().expect("8"));
                    panic!(
                        "{op:?}({:#x}, {:#x}, {:#x}): interp {:#x}, {tier} {:#x}",
                        edges[a],
                        edges[x],
                        edges[c],
                        word(&i.mem),
                        word(&j.mem)
                    );
                }
            }
            if let Err(e) = check_tiers(&t, &|| format!("sweep of {op:?}")) {
                panic!("{e}");
            }
        }
    }
    assert!(blocks > 100);
}

// ---- Family 3: random guest instruction sequences --------------------------

/// Reads guest code from a byte slice placed at `CODE`.
struct Slice<'a>(&'a [u8]);

impl CodeSource for Slice<'_> {
    fn fetch_u16(&self, pc: u64) -> Result<u16, u64> {
        let off = pc.checked_sub(CODE).ok_or(pc)? as usize;
        match self.0.get(off..off + 2) {
            Some(b) => Ok(u16::from_le_bytes([b[0], b[1]])),
            None => Err(pc),
        }
    }
}

fn is_mem_op(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Lb | Lh
            | Lw
            | Ld
            | Lbu
            | Lhu
            | Lwu
            | Sb
            | Sh
            | Sw
            | Sd
            | Flw
            | Fsw
            | Fld
            | Fsd
            | LrW
            | ScW
            | AmoswapW
            | AmoaddW
            | AmoxorW
            | AmoandW
            | AmoorW
            | AmominW
            | AmomaxW
            | AmominuW
            | AmomaxuW
            | LrD
            | ScD
            | AmoswapD
            | AmoaddD
            | AmoxorD
            | AmoandD
            | AmoorD
            | AmominD
            | AmomaxD
            | AmominuD
            | AmomaxuD
    )
}

fn is_csr_op(op: Op) -> bool {
    use Op::*;
    matches!(op, Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci)
}

/// Whether `op` writes `x[rd]`.
fn writes_x(op: Op) -> bool {
    use Op::*;
    match op {
        Sb | Sh | Sw | Sd | Fsw | Fsd | Fence => false,
        FcvtWS | FcvtWuS | FmvXW | FeqS | FltS | FleS | FclassS | FcvtLS | FcvtLuS | FeqD
        | FltD | FleD | FclassD | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD | FmvXD => true,
        _ => !op.mnemonic().starts_with('f'),
    }
}

/// 32-bit major opcodes worth sampling (no branches or jumps).
const OPCODES: [u32; 18] = [
    0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37, 0x3b, 0x43, 0x47, 0x4b, 0x4f,
    0x53, 0x73,
];
const AMO_FUNCT5: [u32; 11] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c,
];

/// One candidate encoding from `rng`, steered toward valid ones.
fn candidate(rng: &mut Rng) -> u32 {
    let r = rng.next() as u32;
    if rng.below(4) == 0 {
        // Compressed: quadrant 0, 1 or 2.
        return (r & 0xfffc) | rng.below(3) as u32;
    }
    let opcode = OPCODES[rng.below(OPCODES.len() as u64) as usize];
    let mut w = (r & !0x7f) | opcode;
    match opcode {
        0x33 | 0x3b => {
            let f7 = [0u32, 0x20, 0x01][rng.below(3) as usize];
            w = (w & 0x01ff_ffff) | f7 << 25;
        }
        0x13 | 0x1b if rng.below(2) == 0 => {
            // Shifts: funct6/funct7 of 0 or 0x20.
            w &= !(0x3f << 26) | (0x10 << 26);
        }
        0x2f => {
            let f5 = AMO_FUNCT5[rng.below(AMO_FUNCT5.len() as u64) as usize];
            w = (w & !(7 << 12) & 0x07ff_ffff) | (2 + rng.below(2) as u32) << 12 | f5 << 27;
            if f5 == 0x02 {
                w &= !(0x1f << 20); // lr: rs2 = 0
            }
        }
        0x53 => {
            // A valid funct5 and fmt S or D; the conversions, fsqrt and
            // the moves encode a variant in rs2.
            const FUNCT5: [u32; 13] = [
                0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0b, 0x14, 0x18, 0x1a, 0x1c, 0x1e,
            ];
            let f5 = FUNCT5[rng.below(FUNCT5.len() as u64) as usize];
            w = (w & 0x01ff_ffff & !(1 << 26)) | f5 << 27;
            if matches!(f5, 0x08 | 0x0b | 0x18 | 0x1a | 0x1c | 0x1e) {
                w = (w & !(0x1f << 20)) | (rng.below(4) as u32) << 20;
            }
            if rng.below(2) == 0 {
                w = (w & !(7 << 12)) | [0u32, 1, 2, 3, 4, 7][rng.below(6) as usize] << 12;
            }
        }
        0x43 | 0x47 | 0x4b | 0x4f => {
            w &= !(1 << 26); // fmt S or D
            if rng.below(2) == 0 {
                w = (w & !(7 << 12)) | [0u32, 1, 2, 3, 4, 7][rng.below(6) as usize] << 12;
            }
        }
        0x73 => {
            let csr = 1 + rng.below(3) as u32;
            w = (w & 0x000f_ffff) | csr << 20;
        }
        _ => {}
    }
    w
}

/// Turns `cand` into an acceptable instruction, or `None`: not a control
/// transfer or trap, memory ops based on a pointer register, no write to
/// a pointer register, CSR accesses only to the float CSRs.
fn accept(mut cand: u32, rng: &mut Rng) -> Option<u32> {
    let compressed = cand & 3 != 3;
    let insn = decode(cand);
    if is_mem_op(insn.op) {
        if !compressed {
            let base = [30u32, 31][rng.below(2) as usize];
            cand = (cand & !(0x1f << 15)) | base << 15;
        } else if cand & 3 == 0 {
            cand &= !(7 << 7); // rs1' = x8
        }
    }
    let insn = decode(cand);
    if is_mem_op(insn.op) && !BASES.contains(&insn.rs1) {
        return None;
    }
    if is_csr_op(insn.op) && !matches!(insn.csr, 1..=3) {
        return None;
    }
    if writes_x(insn.op) && BASES.contains(&insn.rd) {
        return None;
    }
    let bytes = &cand.to_le_bytes()[..insn.len as usize];
    let t = translate_block(
        &Slice(bytes),
        CODE,
        0,
        &TranslateOptions {
            max_insns: 1,
            count_insns: false,
            ..TranslateOptions::default()
        },
    );
    matches!(t.end, EndReason::MaxInsns | EndReason::CsrWrite).then_some(cand)
}

/// The encoding of one instruction chosen by `seed`.
fn insn_from_seed(seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    loop {
        let c = candidate(&mut rng);
        if let Some(w) = accept(c, &mut rng) {
            let len = if w & 3 == 3 { 4 } else { 2 };
            return w.to_le_bytes()[..len].to_vec();
        }
    }
}

#[derive(Clone, Debug)]
struct SeqCase {
    insns: Vec<u64>,
    x: Vec<u64>,
    f: Vec<u64>,
    fcsr: u64,
    /// Pointer registers: spread over the whole region (faults likely)
    /// rather than kept near the middle of the data pages.
    wide: bool,
    base_seed: u64,
    /// Reservation: none, or at one of the base registers.
    resv: Option<usize>,
    resv_value: u64,
    mem_seed: u64,
}

fn seq_case() -> impl Strategy<Value = SeqCase> {
    (
        prop::collection::vec(any::<u64>(), 1..=20),
        prop::collection::vec(operand(), 32),
        prop::collection::vec(operand(), 32),
        0u64..256,
        prop::bool::weighted(0.2),
        any::<u64>(),
        prop::option::of(0usize..4),
        operand(),
        any::<u64>(),
    )
        .prop_map(
            |(insns, x, f, fcsr, wide, base_seed, resv, resv_value, mem_seed)| SeqCase {
                insns,
                x,
                f,
                fcsr,
                wide,
                base_seed,
                resv,
                resv_value,
                mem_seed,
            },
        )
}

const ECALL: u32 = 0x73;

/// The guest code of a sequence case, from `CODE`.
fn seq_code(case: &SeqCase) -> Vec<u8> {
    // After every fourth instruction, a conditional branch to the final
    // ecall: translated as superblock side exits (`exit_if`), taken or not
    // depending on the random registers; or, for a quarter of them, a
    // branch over the next one to three instructions, which the
    // translator if-converts where they are pure register arithmetic; or,
    // for another quarter, a branch to a side laid out after the ecall
    // (zero to two instructions and a `j` back to the instruction after
    // the branch or the one after that), which the translator if-converts
    // as a diamond where both sides are pure.
    let mut code = Vec::new();
    let mut branches = Vec::new();
    // Where each instruction starts (the branches' included).
    let mut starts = Vec::new();
    for (k, &s) in case.insns.iter().enumerate() {
        starts.push(code.len());
        code.extend(insn_from_seed(s));
        if k % 4 == 3 {
            branches.push((code.len(), starts.len(), s));
            starts.push(code.len());
            code.extend([0u8; 4]);
        }
    }
    let ecall_at = code.len();
    starts.push(ecall_at);
    code.extend(ECALL.to_le_bytes());
    for (at, index, s) in branches {
        let over = index + 2 + (s >> 23) as usize % 3;
        let join = index + 1 + (s >> 25) as usize % 2;
        let target = match (starts.get(over), starts.get(join)) {
            (Some(&t), _) if (s >> 21) % 4 == 0 => t,
            (_, Some(&join)) if (s >> 21) % 4 == 1 && join <= ecall_at => {
                let side = code.len();
                for k in 0..(s >> 27) % 3 {
                    code.extend(insn_from_seed(s.rotate_left(17 * k as u32 + 5)));
                }
                let off = (join as u32).wrapping_sub(code.len() as u32);
                let j = ((off >> 20) & 1) << 31
                    | ((off >> 1) & 0x3ff) << 21
                    | ((off >> 11) & 1) << 20
                    | ((off >> 12) & 0xff) << 12
                    | 0x6f;
                code.extend(j.to_le_bytes());
                side
            }
            _ => ecall_at,
        };
        let off = (target - at) as u32;
        let funct3 = [0u32, 1, 4, 5, 6, 7][(s >> 7) as usize % 6];
        let rs1 = 10 + (s >> 11) as u32 % 6;
        let rs2 = 10 + (s >> 17) as u32 % 6;
        let word = ((off >> 12) & 1) << 31
            | ((off >> 5) & 0x3f) << 25
            | rs2 << 20
            | rs1 << 15
            | funct3 << 12
            | ((off >> 1) & 0xf) << 8
            | ((off >> 11) & 1) << 7
            | 0x63;
        code[at..at + 4].copy_from_slice(&word.to_le_bytes());
    }
    code
}

fn run_seq_case(case: &SeqCase) -> Result<(), TestCaseError> {
    let code = seq_code(case);
    let mem = memory_image(case.mem_seed);

    let mut cpu = CpuState {
        pc: CODE,
        fcsr: case.fcsr,
        ..CpuState::default()
    };
    cpu.x.copy_from_slice(&case.x);
    cpu.x[0] = 0;
    cpu.f.copy_from_slice(&case.f);
    let mut rng = Rng::new(case.base_seed);
    for &r in &BASES {
        let mut p = if case.wide {
            DATA - 0x400 + rng.below(DATA_LEN + 0x1800)
        } else {
            DATA + 0x800 + rng.below(DATA_LEN - 0x1000)
        };
        if rng.below(2) == 0 {
            p &= !7;
        }
        cpu.x[r as usize] = p;
    }
    if let Some(k) = case.resv {
        let addr = cpu.x[BASES[k] as usize];
        cpu.reservation_addr = addr;
        cpu.reservation_value = match addr.checked_sub(DATA) {
            // Usually the value in memory, so that SC can succeed.
            Some(off) if off + 8 <= CMP_LEN && case.resv_value & 1 == 0 => {
                u64::from_le_bytes(mem[off as usize..off as usize + 8].try_into().expect("8"))
            }
            _ => case.resv_value,
        };
    }

    let opts = TranslateOptions {
        superblocks: true,
        if_conversion: true,
        ..TranslateOptions::default()
    };
    let tb = translate_block(&Slice(&code), CODE, cpu.tb_flags(), &opts);
    let fix = fixture();
    let t = run_tiers(&fix, &tb.ir, &cpu, &code, &mem);
    check_tiers(&t, &|| {
        let mut s = String::from("guest code:\n");
        for (pc, insn) in &tb.insns {
            s.push_str(&format!(
                "  {pc:#x}: {:08x}  {}\n",
                insn.raw,
                cranemu_frontend::disasm::disassemble(insn)
            ));
        }
        s.push_str(&format!(
            "bases: {:x?}\nIR:\n{}",
            BASES.map(|r| cpu.x[r as usize]),
            tb.ir
        ));
        s
    })
}

proptest! {
    #![proptest_config(Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    })]

    /// Random RV64GC code with side exits: interpreter and JIT agree.
    #[test]
    fn guest_sequences_agree(case in seq_case()) {
        run_seq_case(&case)?;
    }
}

/// The sequence cases include diamonds the translator if-converts: blocks
/// that list a side's closing `j` (a `jal x0`) among their instructions.
#[test]
fn sequence_cases_include_converted_diamonds() {
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let opts = TranslateOptions {
        superblocks: true,
        if_conversion: true,
        ..TranslateOptions::default()
    };
    let mut diamonds = 0;
    for _ in 0..400 {
        let case = seq_case().new_tree(&mut runner).expect("case").current();
        let code = seq_code(&case);
        let tb = translate_block(&Slice(&code), CODE, 0, &opts);
        diamonds += tb
            .insns
            .iter()
            .filter(|(_, i)| i.op == Op::Jal && i.rd == 0)
            .count();
    }
    assert!(diamonds >= 20, "{diamonds} converted diamonds in 400 cases");
}

/// The generator itself: it yields every class of instruction it should
/// (memory ops on pointer registers, compressed forms, AMOs, floats), so
/// the sequence test is not vacuous.
#[test]
fn sequence_generator_covers_the_isa() {
    let mut ops = std::collections::HashSet::new();
    let mut compressed = 0;
    for s in 0..4000u64 {
        let b = insn_from_seed(s);
        let raw = if b.len() == 2 {
            u32::from(u16::from_le_bytes([b[0], b[1]]))
        } else {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        };
        let insn = decode(raw);
        compressed += usize::from(insn.len == 2);
        ops.insert(insn.op);
    }
    for op in [
        Op::Ld,
        Op::Sw,
        Op::Lbu,
        Op::AmoaddW,
        Op::AmomaxuD,
        Op::LrD,
        Op::ScW,
        Op::Fld,
        Op::Fsw,
        Op::FmaddD,
        Op::FdivS,
        Op::FcvtWS,
        Op::Divw,
        Op::Mulhsu,
        Op::Sraiw,
        Op::Csrrw,
    ] {
        assert!(ops.contains(&op), "generator never produced {op:?}");
    }
    assert!(
        compressed > 400,
        "only {compressed} compressed instructions"
    );
    assert!(ops.len() > 100, "only {} distinct ops", ops.len());
}
