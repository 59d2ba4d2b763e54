//! Shared by the F/D engine tests (`fp_conformance.rs`, `fp_csr.rs`): a
//! RISC-V encoder for the formats they need (R, R4, I, S, B and the CSR
//! forms), and a harness running hand-written guest code in one tier.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cranemu_fp_oracle::{Insn, Op, Width};
use cranemu_runtime::{CpuState, Engine, EngineConfig, Exception, Exit};
use cranemu_softmmu::user::{GuestSpace, Prot};

// ---- Guest layout ---------------------------------------------------------

/// Code: one slot of [`SLOT`] bytes per guest program.
pub const CODE: u64 = 0x10000;
pub const CODE_LEN: u64 = 0x40000;
pub const SLOT: u64 = 0x100;
/// Operand table: [`CHUNK`] rows of `[rs1, rs2, rs3, prior fflags]`.
pub const IN: u64 = 0x100000;
/// Results: [`CHUNK`] rows of `[result, fflags]`.
pub const OUT: u64 = 0x200000;
/// Vectors per engine run.
pub const CHUNK: usize = 16384;
pub const IN_ROW: u64 = 32;
pub const OUT_ROW: u64 = 16;

// ---- Encoder --------------------------------------------------------------

pub const OP_FP: u32 = 0x53;
pub const SYSTEM: u32 = 0x73;
pub const CSR_FFLAGS: u32 = 1;
pub const CSR_FRM: u32 = 2;
pub const CSR_FCSR: u32 = 3;
pub const ECALL: u32 = 0x73;
/// `rm` = 7: use `frm`.
pub const DYN: u32 = 7;

pub fn r_type(funct7: u32, rs2: u32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode
}
pub fn r4_type(rs3: u32, fmt: u32, rs2: u32, rs1: u32, rm: u32, rd: u32, opcode: u32) -> u32 {
    rs3 << 27 | fmt << 25 | rs2 << 20 | rs1 << 15 | rm << 12 | rd << 7 | opcode
}
pub fn i_type(imm: i32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    (imm as u32 & 0xfff) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode
}
pub fn s_type(imm: i32, rs2: u32, rs1: u32, funct3: u32, opcode: u32) -> u32 {
    let i = imm as u32 & 0xfff;
    (i >> 5) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (i & 0x1f) << 7 | opcode
}
pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x13)
}
pub fn ld(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 3, rd, 0x03)
}
pub fn fld(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(imm, rs1, 3, rd, 0x07)
}
pub fn sd(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(imm, rs2, rs1, 3, 0x23)
}
pub fn fsd(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(imm, rs2, rs1, 3, 0x27)
}
pub fn bne(rs1: u32, rs2: u32, off: i32) -> u32 {
    let o = off as u32;
    ((o >> 12) & 1) << 31
        | ((o >> 5) & 0x3f) << 25
        | rs2 << 20
        | rs1 << 15
        | 1 << 12
        | ((o >> 1) & 0xf) << 8
        | ((o >> 11) & 1) << 7
        | 0x63
}
/// `beq rs1, rs2, off`.
pub fn beq(rs1: u32, rs2: u32, off: i32) -> u32 {
    bne(rs1, rs2, off) & !(7 << 12)
}
/// `csrrw rd, csr, rs1`.
pub fn csrrw(rd: u32, csr: u32, rs1: u32) -> u32 {
    i_type(csr as i32, rs1, 1, rd, SYSTEM)
}
/// `csrrs rd, csr, rs1` (`csrr rd, csr` when `rs1` is x0).
pub fn csrrs(rd: u32, csr: u32, rs1: u32) -> u32 {
    i_type(csr as i32, rs1, 2, rd, SYSTEM)
}
/// `csrrc rd, csr, rs1`.
pub fn csrrc(rd: u32, csr: u32, rs1: u32) -> u32 {
    i_type(csr as i32, rs1, 3, rd, SYSTEM)
}
/// `csrrwi rd, csr, uimm`.
pub fn csrrwi(rd: u32, csr: u32, uimm: u32) -> u32 {
    i_type(csr as i32, uimm, 5, rd, SYSTEM)
}
/// `csrrsi rd, csr, uimm`.
pub fn csrrsi(rd: u32, csr: u32, uimm: u32) -> u32 {
    i_type(csr as i32, uimm, 6, rd, SYSTEM)
}
/// `csrrci rd, csr, uimm`.
pub fn csrrci(rd: u32, csr: u32, uimm: u32) -> u32 {
    i_type(csr as i32, uimm, 7, rd, SYSTEM)
}

/// Encodes `insn` with rounding-mode field `rm` (ignored by encodings
/// without one) and registers `rd`, `rs1`, `rs2`, `rs3` (integer or float
/// numbers as the instruction reads and writes them).
pub fn encode(insn: Insn, rm: u32, rd: u32, rs1: u32, rs2: u32, rs3: u32) -> u32 {
    let fmt = insn.w.fmt();
    let fp =
        |funct5: u32, rs2: u32, funct3: u32| r_type(funct5 << 2 | fmt, rs2, rs1, funct3, rd, OP_FP);
    let r4 = |opcode: u32| r4_type(rs3, fmt, rs2, rs1, rm, rd, opcode);
    match insn.op {
        Op::Add => fp(0b00000, rs2, rm),
        Op::Sub => fp(0b00001, rs2, rm),
        Op::Mul => fp(0b00010, rs2, rm),
        Op::Div => fp(0b00011, rs2, rm),
        Op::Sqrt => fp(0b01011, 0, rm),
        Op::Sgnj => fp(0b00100, rs2, 0),
        Op::Sgnjn => fp(0b00100, rs2, 1),
        Op::Sgnjx => fp(0b00100, rs2, 2),
        Op::Min => fp(0b00101, rs2, 0),
        Op::Max => fp(0b00101, rs2, 1),
        // funct7 names the destination format, rs2 the source's.
        Op::CvtFloat => match insn.w {
            Width::D => r_type(0b0100000, 1, rs1, rm, rd, OP_FP),
            Width::S => r_type(0b0100001, 0, rs1, rm, rd, OP_FP),
        },
        Op::Eq => fp(0b10100, rs2, 2),
        Op::Lt => fp(0b10100, rs2, 1),
        Op::Le => fp(0b10100, rs2, 0),
        Op::Class => fp(0b11100, 0, 1),
        Op::MvToInt => fp(0b11100, 0, 0),
        Op::ToInt(t) => fp(0b11000, t.rs2(), rm),
        Op::FromInt(t) => fp(0b11010, t.rs2(), rm),
        Op::MvFromInt => fp(0b11110, 0, 0),
        Op::Madd => r4(0x43),
        Op::Msub => r4(0x47),
        Op::Nmsub => r4(0x4b),
        Op::Nmadd => r4(0x4f),
    }
}

// ---- Engine harness -------------------------------------------------------

/// Which execution tier runs the guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Every block compiled by Cranelift before its first run.
    Jit,
    /// Every block run by the IR interpreter.
    Interp,
}

/// Serializes host faults against engine creation. The JIT's fault
/// handler is process-global and knows one guest region, the last one an
/// [`Engine`] was created for, so a test that expects a guest page fault
/// from JIT code must not let another test create an engine meanwhile:
/// such a test holds this lock exclusively, every other harness shares it.
static ENGINES: RwLock<()> = RwLock::new(());

/// A held [`ENGINES`] lock.
enum Guard {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

/// An engine with code, operand and result areas mapped, handing out code
/// slots.
pub struct Harness {
    /// The guest address space.
    pub space: Arc<GuestSpace>,
    engine: Engine,
    tier: Tier,
    next_slot: u64,
    _guard: Guard,
}

impl Harness {
    /// A harness for `tier`, sharing the engine lock.
    pub fn new(tier: Tier) -> Harness {
        let g = ENGINES.read().unwrap_or_else(|e| e.into_inner());
        Harness::with_guard(tier, Guard::Shared(g))
    }

    /// A harness for `tier` whose guest may take host faults: holds the
    /// engine lock exclusively.
    pub fn exclusive(tier: Tier) -> Harness {
        let g = ENGINES.write().unwrap_or_else(|e| e.into_inner());
        Harness::with_guard(tier, Guard::Exclusive(g))
    }

    fn with_guard(tier: Tier, guard: Guard) -> Harness {
        let space = Arc::new(GuestSpace::new().expect("guest space"));
        space.map(CODE, CODE_LEN, Prot::RX, true).expect("map code");
        space
            .map(IN, CHUNK as u64 * IN_ROW, Prot::RW, true)
            .expect("map operands");
        space
            .map(OUT, CHUNK as u64 * OUT_ROW, Prot::RW, true)
            .expect("map results");
        let config = EngineConfig {
            jit_threshold: match tier {
                Tier::Jit => 0,
                Tier::Interp => u32::MAX,
            },
            ..EngineConfig::default()
        };
        let engine = Engine::new(space.clone(), config).expect("engine");
        Harness {
            space,
            engine,
            tier,
            next_slot: CODE,
            _guard: guard,
        }
    }

    /// Writes `code` to a fresh slot; returns its address.
    pub fn place(&mut self, code: &[u32]) -> u64 {
        assert!(code.len() as u64 * 4 <= SLOT);
        let at = self.next_slot;
        self.next_slot += SLOT;
        assert!(self.next_slot <= CODE + CODE_LEN, "out of code slots");
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.space.write_force(at, &bytes).expect("write code");
        at
    }

    /// Runs from `pc` until a trap.
    pub fn run(&self, cpu: &mut CpuState, pc: u64) -> Exit {
        cpu.pc = pc;
        self.engine.run(cpu).expect("engine run")
    }

    /// Checks that the tier asked for is the one that ran.
    pub fn assert_tier(&self) {
        let s = self.engine.stats();
        match self.tier {
            Tier::Jit => assert_eq!(s.interpreted_blocks, 0, "JIT tier interpreted blocks"),
            Tier::Interp => assert_eq!(s.compiled_blocks, 0, "interpreter tier compiled blocks"),
        }
    }
}

/// Whether the run ended at an `ecall`.
pub fn is_ecall(exit: Exit) -> bool {
    matches!(exit, Exit::Trap(t) if t.cause == Exception::EcallFromU)
}
