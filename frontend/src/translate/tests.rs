//! Translator tests: hand-encoded guest code, translated and run on the
//! reference interpreter; every translated block is verified.

use std::collections::HashMap;

use cranemu_ir::interp::{self, Outcome};
use cranemu_ir::{FenceKind, Inst, MemSize, Terminator};

use super::*;
use crate::helpers::HELPERS;

// ---------------------------------------------------------------------------
// Encoders (RISC-V Unprivileged ISA, chapter "RV32/64G Instruction Set
// Listings"). Cross-checked once against `riscv64-linux-gnu-as`.

type R = u8;

fn r_type(f7: u32, rs2: R, rs1: R, f3: u32, rd: R, opc: u32) -> u32 {
    f7 << 25 | u32::from(rs2) << 20 | u32::from(rs1) << 15 | f3 << 12 | u32::from(rd) << 7 | opc
}
fn i_type(imm: i32, rs1: R, f3: u32, rd: R, opc: u32) -> u32 {
    ((imm as u32) & 0xfff) << 20 | u32::from(rs1) << 15 | f3 << 12 | u32::from(rd) << 7 | opc
}
fn s_type(imm: i32, rs2: R, rs1: R, f3: u32, opc: u32) -> u32 {
    let imm = imm as u32;
    (imm >> 5 & 0x7f) << 25
        | u32::from(rs2) << 20
        | u32::from(rs1) << 15
        | f3 << 12
        | (imm & 0x1f) << 7
        | opc
}
fn b_type(imm: i32, rs2: R, rs1: R, f3: u32) -> u32 {
    let i = imm as u32;
    (i >> 12 & 1) << 31
        | (i >> 5 & 0x3f) << 25
        | u32::from(rs2) << 20
        | u32::from(rs1) << 15
        | f3 << 12
        | (i >> 1 & 0xf) << 8
        | (i >> 11 & 1) << 7
        | 0x63
}

fn lui(rd: R, imm20: u32) -> u32 {
    imm20 << 12 | u32::from(rd) << 7 | 0x37
}
fn auipc(rd: R, imm20: u32) -> u32 {
    imm20 << 12 | u32::from(rd) << 7 | 0x17
}
fn jal(rd: R, imm: i32) -> u32 {
    let i = imm as u32;
    (i >> 20 & 1) << 31
        | (i >> 1 & 0x3ff) << 21
        | (i >> 11 & 1) << 20
        | (i >> 12 & 0xff) << 12
        | u32::from(rd) << 7
        | 0x6f
}
fn jalr(rd: R, rs1: R, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x67)
}
fn addi(rd: R, rs1: R, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x13)
}
/// OP-IMM with funct3 `f3` (slti 2, sltiu 3, xori 4, ori 6, andi 7).
fn op_imm(f3: u32, rd: R, rs1: R, imm: i32) -> u32 {
    i_type(imm, rs1, f3, rd, 0x13)
}
fn slli(rd: R, rs1: R, sh: i32) -> u32 {
    i_type(sh, rs1, 1, rd, 0x13)
}
fn srli(rd: R, rs1: R, sh: i32) -> u32 {
    i_type(sh, rs1, 5, rd, 0x13)
}
fn srai(rd: R, rs1: R, sh: i32) -> u32 {
    i_type(0x400 | sh, rs1, 5, rd, 0x13)
}
/// OP: `f7`/`f3` select add 0/0, sub 0x20/0, sll 0/1, slt 0/2, sltu 0/3,
/// xor 0/4, srl 0/5, sra 0x20/5, or 0/6, and 0/7, M ops 1/0..7.
fn op(f7: u32, f3: u32, rd: R, rs1: R, rs2: R) -> u32 {
    r_type(f7, rs2, rs1, f3, rd, 0x33)
}
fn op32(f7: u32, f3: u32, rd: R, rs1: R, rs2: R) -> u32 {
    r_type(f7, rs2, rs1, f3, rd, 0x3b)
}
fn addiw(rd: R, rs1: R, imm: i32) -> u32 {
    i_type(imm, rs1, 0, rd, 0x1b)
}
fn slliw(rd: R, rs1: R, sh: i32) -> u32 {
    i_type(sh, rs1, 1, rd, 0x1b)
}
fn srliw(rd: R, rs1: R, sh: i32) -> u32 {
    i_type(sh, rs1, 5, rd, 0x1b)
}
fn sraiw(rd: R, rs1: R, sh: i32) -> u32 {
    i_type(0x400 | sh, rs1, 5, rd, 0x1b)
}
/// Loads: lb 0, lh 1, lw 2, ld 3, lbu 4, lhu 5, lwu 6.
fn load(f3: u32, rd: R, rs1: R, imm: i32) -> u32 {
    i_type(imm, rs1, f3, rd, 0x03)
}
/// Stores: sb 0, sh 1, sw 2, sd 3.
fn store(f3: u32, rs2: R, rs1: R, imm: i32) -> u32 {
    s_type(imm, rs2, rs1, f3, 0x23)
}
/// AMOs: `f5` lr 2, sc 3, swap 1, add 0, xor 4, and 0xc, or 8, min 0x10,
/// max 0x14, minu 0x18, maxu 0x1c; `f3` 2 = .w, 3 = .d.
fn amo(f5: u32, f3: u32, rd: R, rs1: R, rs2: R) -> u32 {
    r_type(f5 << 2, rs2, rs1, f3, rd, 0x2f)
}
fn flw(rd: R, rs1: R, imm: i32) -> u32 {
    i_type(imm, rs1, 2, rd, 0x07)
}
fn fsw(rs2: R, rs1: R, imm: i32) -> u32 {
    s_type(imm, rs2, rs1, 2, 0x27)
}
/// OP-FP: `f5` add 0, sub 1, mul 2, div 3, sgnj 4, minmax 5, cvt.s.d/d.s 8,
/// sqrt 0xb, cmp 0x14, cvt-to-int 0x18, cvt-from-int 0x1a, fmv.x/fclass
/// 0x1c, fmv.f.x 0x1e; `fmt` 0 = S, 1 = D; `f3` = rm or function.
fn opfp(f5: u32, fmt: u32, f3: u32, rd: R, rs1: R, rs2: R) -> u32 {
    r_type(f5 << 2 | fmt, rs2, rs1, f3, rd, 0x53)
}
fn fmadd_d(rd: R, rs1: R, rs2: R, rs3: R) -> u32 {
    u32::from(rs3) << 27
        | 1 << 25
        | u32::from(rs2) << 20
        | u32::from(rs1) << 15
        | u32::from(rd) << 7
        | 0x43
}
/// CSR: `f3` csrrw 1, csrrs 2, csrrc 3, csrrwi 5, csrrsi 6, csrrci 7
/// (`rs1` holds the zimm for the immediate forms).
fn csr(f3: u32, rd: R, csr: u16, rs1: R) -> u32 {
    u32::from(csr) << 20 | u32::from(rs1) << 15 | f3 << 12 | u32::from(rd) << 7 | 0x73
}
fn fence(fm: u32, pred: u32, succ: u32) -> u32 {
    (fm << 8 | pred << 4 | succ) << 20 | 0x0f
}

const ECALL: u32 = 0x0000_0073;
const EBREAK: u32 = 0x0010_0073;
const FENCE_I: u32 = 0x0000_100f;
const NOP: u32 = 0x0000_0013;
const SRET: u32 = 0x1020_0073;
const C_NOP: u16 = 0x0001;

// ---------------------------------------------------------------------------
// A tiny machine: code, data memory, CPU state, and a block-at-a-time loop.

const CODE: u64 = 0x1_0000;
const DATA: u64 = 0x8000;
const DATA_LEN: usize = 0x1000;

/// Guest code at `base`; fetches outside it fault. Branches in
/// `unspeculated` make no speculative loads, as in the runtime.
struct Code {
    base: u64,
    bytes: Vec<u8>,
    unspeculated: std::collections::HashSet<u64>,
}

impl Code {
    fn words(base: u64, words: &[u32]) -> Code {
        Code::bytes(base, words.iter().flat_map(|w| w.to_le_bytes()).collect())
    }

    fn bytes(base: u64, bytes: Vec<u8>) -> Code {
        Code {
            base,
            bytes,
            unspeculated: Default::default(),
        }
    }
}

impl CodeSource for Code {
    fn fetch_u16(&self, pc: u64) -> Result<u16, u64> {
        let off = pc.wrapping_sub(self.base) as usize;
        match self.bytes.get(off..off.wrapping_add(2)) {
            Some(b) if pc >= self.base => Ok(u16::from_le_bytes([b[0], b[1]])),
            _ => Err(pc),
        }
    }

    fn may_speculate(&self, branch: u64) -> bool {
        !self.unspeculated.contains(&branch)
    }
}

/// Byte-addressed guest data memory: `DATA_LEN` bytes at `DATA`.
struct Mem(Vec<u8>);

impl Mem {
    fn range(&self, addr: u64, size: MemSize) -> Result<std::ops::Range<usize>, ()> {
        let off = addr.checked_sub(DATA).ok_or(())? as usize;
        let end = off + size.bytes() as usize;
        if end <= self.0.len() {
            Ok(off..end)
        } else {
            Err(())
        }
    }
    fn read(&self, addr: u64, size: MemSize) -> u64 {
        let r = self.range(addr, size).expect("test reads inside data");
        let mut b = [0u8; 8];
        b[..r.len()].copy_from_slice(&self.0[r]);
        u64::from_le_bytes(b)
    }
    fn write(&mut self, addr: u64, size: MemSize, v: u64) {
        let r = self.range(addr, size).expect("test writes inside data");
        let n = r.len();
        self.0[r].copy_from_slice(&v.to_le_bytes()[..n]);
    }
}

impl interp::Memory for Mem {
    fn load(&mut self, addr: u64, size: MemSize) -> Result<u64, ()> {
        self.range(addr, size)?;
        Ok(self.read(addr, size))
    }
    fn store(&mut self, addr: u64, size: MemSize, value: u64) -> Result<(), ()> {
        self.range(addr, size)?;
        self.write(addr, size, value);
        Ok(())
    }
}

struct Machine {
    cpu: CpuState,
    mem: Mem,
    code: Code,
    opts: TranslateOptions,
    blocks: Vec<TranslatedBlock>,
    /// Run the runtime's IR passes on each block, as user mode does.
    passes: bool,
}

impl Machine {
    fn new(words: &[u32]) -> Machine {
        Machine {
            cpu: CpuState::default(),
            mem: Mem(vec![0; DATA_LEN]),
            code: Code::words(CODE, words),
            opts: TranslateOptions::default(),
            blocks: Vec::new(),
            passes: false,
        }
    }

    /// Translates, verifies and runs the block at `pc`.
    fn step(&mut self, pc: u64) -> Outcome {
        let mut tb = translate_block(&self.code, pc, self.cpu.tb_flags(), &self.opts);
        if self.passes {
            let code = &self.code;
            cranemu_ir::passes::defer_state_stores(&mut tb.ir, |p| code.may_speculate(p));
            cranemu_ir::passes::dead_state_stores(&mut tb.ir);
        }
        if let Err(e) = cranemu_ir::verify::verify(&tb.ir) {
            panic!("block at {pc:#x} does not verify: {e}\n{}", tb.ir);
        }
        // SAFETY: CpuState is #[repr(C)] and made of integers with no
        // padding, so viewing it as bytes is sound; the slice is the only
        // access to `self.cpu` while it lives.
        let state = unsafe {
            std::slice::from_raw_parts_mut(
                &mut self.cpu as *mut CpuState as *mut u8,
                size_of::<CpuState>(),
            )
        };
        // As the runtime does: the guest's float environment is set up
        // around guest code, and its flags are folded into fcsr after.
        crate::helpers::enter_guest_fp(&self.cpu);
        // SAFETY: HELPERS expect a CpuState image, which `state` is.
        let out = unsafe { interp::run(&tb.ir, state, &mut self.mem, HELPERS) };
        crate::helpers::leave_guest_fp(&mut self.cpu);
        self.blocks.push(tb);
        out
    }

    /// Runs from `CODE` until something other than a jump or exit. The
    /// fault of a load made early (marked by bit 0 of its pc) is handled
    /// as the runtime does (the translator's module doc, "Speculative
    /// loads", and `cranemu_ir::passes::defer_state_stores`): that pc is
    /// noted and run again.
    fn run(&mut self) -> Outcome {
        let mut pc = CODE;
        for _ in 0..1000 {
            match self.step(pc) {
                Outcome::Next(next) | Outcome::Exit { pc: next, .. } => pc = next,
                Outcome::MemFault {
                    store: false,
                    pc: fault,
                    ..
                } if fault & SPECULATIVE_PC != 0 => {
                    pc = fault & !SPECULATIVE_PC;
                    assert!(self.code.unspeculated.insert(pc), "{pc:#x} faulted twice");
                }
                other => return other,
            }
        }
        panic!("guest program did not stop");
    }
}

/// Runs `words` followed by `ebreak` on a machine prepared by `setup`, and
/// checks that it stopped at that `ebreak`.
fn exec(words: &[u32], setup: impl FnOnce(&mut Machine)) -> Machine {
    let mut all = words.to_vec();
    all.push(EBREAK);
    let mut m = Machine::new(&all);
    setup(&mut m);
    let end = CODE + 4 * words.len() as u64;
    let out = m.run();
    assert_eq!(
        out,
        Outcome::Trap {
            cause: 3,
            tval: end,
            pc: end
        },
        "program did not reach its ebreak"
    );
    m
}

fn with_x(regs: &[(usize, u64)]) -> impl FnOnce(&mut Machine) + '_ {
    move |m| {
        for &(r, v) in regs {
            m.cpu.x[r] = v;
        }
    }
}

const MIN: u64 = i64::MIN as u64;
const I32_MIN: u64 = i32::MIN as i64 as u64;

// ---------------------------------------------------------------------------
// RV64I and M.

#[test]
fn alu_register_immediate() {
    let m = exec(
        &[
            addi(5, 10, -1),
            op_imm(2, 6, 10, -1),    // slti: 3 < -1 = 0
            op_imm(3, 7, 10, -1),    // sltiu: 3 < u64::MAX = 1
            op_imm(4, 8, 10, -1),    // xori
            op_imm(6, 9, 10, 0x70),  // ori
            op_imm(7, 11, 12, 0xff), // andi
            slli(13, 10, 63),
            srli(14, 12, 63),
            srai(15, 12, 63),
            lui(16, 0x80000), // sign-extended
            auipc(17, 1),
            addi(0, 10, 5), // writes to x0 are dropped
            addi(18, 0, 0),
        ],
        with_x(&[(10, 3), (12, MIN | 0x1234)]),
    );
    let x = &m.cpu.x;
    assert_eq!(x[5], 2);
    assert_eq!(x[6], 0);
    assert_eq!(x[7], 1);
    assert_eq!(x[8], !3);
    assert_eq!(x[9], 0x73);
    assert_eq!(x[11], 0x34);
    assert_eq!(x[13], MIN);
    assert_eq!(x[14], 1);
    assert_eq!(x[15], u64::MAX);
    assert_eq!(x[16], 0xffff_ffff_8000_0000);
    assert_eq!(x[17], CODE + 10 * 4 + 0x1000);
    assert_eq!(x[0], 0);
    assert_eq!(x[18], 0);
}

#[test]
fn alu_register_register() {
    let m = exec(
        &[
            op(0, 0, 5, 10, 11),     // add
            op(0x20, 0, 6, 10, 11),  // sub
            op(0, 1, 7, 10, 12),     // sll by 65 = 1
            op(0, 2, 8, 11, 10),     // slt: -1 < 3
            op(0, 3, 9, 11, 10),     // sltu: MAX < 3 = 0
            op(0, 4, 13, 10, 11),    // xor
            op(0, 5, 14, 11, 13),    // srl by 63 (low bits of !3 = ...11100 -> 60)
            op(0x20, 5, 15, 11, 12), // sra by 65 = 1
            op(0, 6, 16, 10, 12),    // or
            op(0, 7, 17, 10, 12),    // and
            op(0, 0, 10, 10, 10),    // rd == rs1 == rs2
        ],
        with_x(&[(10, 3), (11, u64::MAX), (12, 65)]),
    );
    let x = &m.cpu.x;
    assert_eq!(x[5], 2);
    assert_eq!(x[6], 4);
    assert_eq!(x[7], 6);
    assert_eq!(x[8], 1);
    assert_eq!(x[9], 0);
    assert_eq!(x[13], !3);
    assert_eq!(x[14], u64::MAX >> 60);
    assert_eq!(x[15], u64::MAX);
    assert_eq!(x[16], 67);
    assert_eq!(x[17], 1);
    assert_eq!(x[10], 6);
}

#[test]
fn w_forms_sign_extend_and_mask_shifts() {
    let m = exec(
        &[
            addiw(5, 10, 1),           // 0x7fffffff + 1
            slliw(6, 11, 31),          // 1 << 31
            srliw(7, 12, 31),          // low word 0x80000000 >> 31 = 1
            sraiw(8, 12, 31),          // -1
            op32(0, 0, 9, 10, 11),     // addw
            op32(0x20, 0, 13, 11, 10), // subw 1 - 0x7fffffff
            op32(0, 1, 14, 11, 15),    // sllw by 33 & 31 = 1
            op32(0, 5, 16, 12, 15),    // srlw by 1: 0x40000000
            op32(0x20, 5, 17, 12, 15), // sraw by 1: 0xc0000000 sext
            addiw(18, 19, 0),          // sext.w
        ],
        with_x(&[
            (10, 0x7fff_ffff),
            (11, 1),
            (12, 0x1234_5678_8000_0000),
            (15, 33),
            (19, 0xffff_ffff),
        ]),
    );
    let x = &m.cpu.x;
    assert_eq!(x[5], I32_MIN);
    assert_eq!(x[6], I32_MIN);
    assert_eq!(x[7], 1);
    assert_eq!(x[8], u64::MAX);
    assert_eq!(x[9], I32_MIN);
    assert_eq!(x[13], (1i64 - 0x7fff_ffff) as u64);
    assert_eq!(x[14], 2);
    assert_eq!(x[16], 0x4000_0000);
    assert_eq!(x[17], 0xffff_ffff_c000_0000);
    assert_eq!(x[18], u64::MAX);
}

#[test]
fn mul_div_edges() {
    // x10 = MIN, x11 = -1, x12 = 0, x13 = 7, x14 = INT32_MIN (sext), x15 = u64::MAX
    let m = exec(
        &[
            op(1, 0, 5, 13, 11),    // mul 7 * -1
            op(1, 1, 6, 11, 11),    // mulh -1 * -1 = 0
            op(1, 2, 7, 11, 15),    // mulhsu -1 * MAX = -1
            op(1, 3, 8, 15, 15),    // mulhu
            op(1, 4, 9, 13, 12),    // div by zero = -1
            op(1, 5, 16, 13, 12),   // divu by zero = MAX
            op(1, 6, 17, 13, 12),   // rem by zero = 7
            op(1, 7, 18, 13, 12),   // remu by zero = 7
            op(1, 4, 19, 10, 11),   // div MIN / -1 = MIN
            op(1, 6, 20, 10, 11),   // rem MIN % -1 = 0
            op32(1, 4, 21, 14, 11), // divw INT32_MIN / -1 = INT32_MIN
            op32(1, 6, 22, 14, 11), // remw = 0
            op32(1, 4, 23, 13, 12), // divw by zero = -1
            op32(1, 5, 24, 13, 12), // divuw by zero = -1
            op32(1, 7, 25, 14, 12), // remuw by zero = sext32(INT32_MIN)
            op32(1, 0, 26, 14, 11), // mulw INT32_MIN * -1 = INT32_MIN
            op32(1, 5, 27, 15, 28), // divuw 0xffffffff / 2 = 0x7fffffff
        ],
        with_x(&[
            (10, MIN),
            (11, u64::MAX),
            (12, 0),
            (13, 7),
            (14, I32_MIN),
            (15, u64::MAX),
            (28, 2),
        ]),
    );
    let x = &m.cpu.x;
    assert_eq!(x[5], (-7i64) as u64);
    assert_eq!(x[6], 0);
    assert_eq!(x[7], u64::MAX);
    assert_eq!(x[8], u64::MAX - 1);
    assert_eq!(x[9], u64::MAX);
    assert_eq!(x[16], u64::MAX);
    assert_eq!(x[17], 7);
    assert_eq!(x[18], 7);
    assert_eq!(x[19], MIN);
    assert_eq!(x[20], 0);
    assert_eq!(x[21], I32_MIN);
    assert_eq!(x[22], 0);
    assert_eq!(x[23], u64::MAX);
    assert_eq!(x[24], u64::MAX);
    assert_eq!(x[25], I32_MIN);
    assert_eq!(x[26], I32_MIN);
    assert_eq!(x[27], 0x7fff_ffff);
}

#[test]
fn loads_extend_and_stores_truncate() {
    let m = exec(
        &[
            store(3, 11, 10, 0),  // sd
            load(0, 5, 10, 0),    // lb 0x88
            load(1, 6, 10, 0),    // lh 0x9988
            load(2, 7, 10, 0),    // lw 0xbbaa9988
            load(3, 8, 10, 0),    // ld
            load(4, 9, 10, 0),    // lbu
            load(5, 12, 10, 0),   // lhu
            load(6, 13, 10, 0),   // lwu
            store(0, 11, 10, 16), // sb
            store(1, 11, 10, 24), // sh
            store(2, 11, 10, 32), // sw
            load(3, 14, 15, -8),  // ld with a negative offset
            load(2, 0, 10, 0),    // load to x0: still executed
        ],
        with_x(&[(10, DATA), (11, 0xffee_ddcc_bbaa_9988), (15, DATA + 8)]),
    );
    let x = &m.cpu.x;
    assert_eq!(x[5], 0xffff_ffff_ffff_ff88);
    assert_eq!(x[6], 0xffff_ffff_ffff_9988);
    assert_eq!(x[7], 0xffff_ffff_bbaa_9988);
    assert_eq!(x[8], 0xffee_ddcc_bbaa_9988);
    assert_eq!(x[9], 0x88);
    assert_eq!(x[12], 0x9988);
    assert_eq!(x[13], 0xbbaa_9988);
    assert_eq!(x[14], 0xffee_ddcc_bbaa_9988);
    assert_eq!(m.mem.read(DATA + 16, MemSize::B8), 0x88);
    assert_eq!(m.mem.read(DATA + 24, MemSize::B8), 0x9988);
    assert_eq!(m.mem.read(DATA + 32, MemSize::B8), 0xbbaa_9988);
}

/// A load page fault at `addr` by the instruction at `pc`.
fn load_fault(addr: u64, pc: u64) -> Outcome {
    Outcome::MemFault {
        addr,
        store: false,
        misaligned: false,
        pc,
    }
}

#[test]
fn faulting_load_leaves_earlier_writes_in_state() {
    let mut m = Machine::new(&[addi(5, 0, 42), load(3, 6, 10, 0), addi(7, 0, 1)]);
    m.cpu.x[10] = 0x10;
    let out = m.step(CODE);
    assert_eq!(out, load_fault(0x10, CODE + 4));
    assert_eq!(m.cpu.x[5], 42);
    assert_eq!(m.cpu.x[7], 0);
}

#[test]
fn branches_taken_and_not_taken() {
    // (funct3, a, b, taken)
    let cases: &[(u32, u64, u64, bool)] = &[
        (0, 5, 5, true),
        (0, 5, 6, false),
        (1, 5, 6, true),
        (1, 5, 5, false),
        (4, u64::MAX, 0, true), // blt -1 < 0
        (4, 0, u64::MAX, false),
        (5, 0, u64::MAX, true), // bge
        (5, u64::MAX, 0, false),
        (6, 0, u64::MAX, true), // bltu
        (6, u64::MAX, 0, false),
        (7, u64::MAX, 0, true), // bgeu
        (7, 0, 1, false),
    ];
    for &(f3, a, b, taken) in cases {
        let mut m = Machine::new(&[b_type(-16, 11, 10, f3)]);
        m.cpu.x[10] = a;
        m.cpu.x[11] = b;
        let out = m.step(CODE);
        let want = if taken { CODE - 16 } else { CODE + 4 };
        assert_eq!(out, Outcome::Next(want), "funct3 {f3}, {a:#x} vs {b:#x}");
        assert_eq!(m.blocks[0].end, EndReason::ControlTransfer);
    }
}

#[test]
fn jal_and_jalr_link() {
    let mut m = Machine::new(&[addi(5, 0, 1), jal(1, 0x800)]);
    assert_eq!(m.step(CODE), Outcome::Next(CODE + 4 + 0x800));
    assert_eq!(m.cpu.x[1], CODE + 8);
    assert!(matches!(m.blocks[0].ir.term, Some(Terminator::Jump { .. })));

    // rd == rs1: the target uses the old value; bit 0 is cleared.
    let mut m = Machine::new(&[jalr(1, 1, 3)]);
    m.cpu.x[1] = 0x2001;
    assert_eq!(m.step(CODE), Outcome::Next(0x2004));
    assert_eq!(m.cpu.x[1], CODE + 4);
    assert!(matches!(
        m.blocks[0].ir.term,
        Some(Terminator::JumpIndirect { .. })
    ));
}

#[test]
fn fences_order_only_what_tso_does_not() {
    let kinds = |w: u32| {
        let tb = translate_block(
            &Code::words(CODE, &[w, EBREAK]),
            CODE,
            0,
            &TranslateOptions::default(),
        );
        tb.ir.insts.iter().find_map(|i| match i {
            Inst::Fence { kind } => Some(*kind),
            _ => None,
        })
    };
    assert_eq!(kinds(fence(0, 0b0011, 0b0011)), Some(FenceKind::StoreLoad)); // fence rw,rw
    assert_eq!(kinds(fence(0, 0b0001, 0b0010)), Some(FenceKind::StoreLoad)); // fence w,r
    assert_eq!(kinds(fence(0, 0b1111, 0b1111)), Some(FenceKind::StoreLoad)); // fence iorw,iorw
    assert_eq!(kinds(fence(0, 0b0010, 0b0011)), Some(FenceKind::Other)); // fence r,rw
    assert_eq!(kinds(fence(0, 0b0011, 0b0001)), Some(FenceKind::Other)); // fence rw,w
    assert_eq!(kinds(fence(0b1000, 0b0011, 0b0011)), Some(FenceKind::Other)); // fence.tso
}

/// LR's `.rl` needs a full fence before the load (an earlier store must not
/// pass it, RVWMO rule 6), `.aq` a compiler barrier after it (rule 5);
/// AMOs and SC are host `lock`ed instructions and get no fence at all.
#[test]
fn lr_fences_follow_aq_rl() {
    const AQ: u32 = 1 << 26;
    const RL: u32 = 1 << 25;
    #[derive(Debug, PartialEq)]
    enum Ev {
        Fence(FenceKind),
        Load,
    }
    let events = |w: u32| {
        let tb = translate_block(
            &Code::words(CODE, &[w, EBREAK]),
            CODE,
            0,
            &TranslateOptions::default(),
        );
        tb.ir
            .insts
            .iter()
            .filter_map(|i| match i {
                Inst::Fence { kind } => Some(Ev::Fence(*kind)),
                Inst::Load { .. } => Some(Ev::Load),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let lr = amo(2, 2, 5, 10, 0); // lr.w x5, (x10)
    use Ev::*;
    assert_eq!(events(lr), [Load]);
    assert_eq!(events(lr | AQ), [Load, Fence(FenceKind::Other)]);
    assert_eq!(events(lr | RL), [Fence(FenceKind::StoreLoad), Load]);
    assert_eq!(
        events(lr | AQ | RL),
        [Fence(FenceKind::StoreLoad), Load, Fence(FenceKind::Other)]
    );
    for f5 in [3, 1, 0] {
        // sc.w.aqrl, amoswap.w.aqrl, amoadd.w.aqrl
        assert_eq!(events(amo(f5, 2, 5, 10, 11) | AQ | RL), []);
    }
}

// ---------------------------------------------------------------------------
// A.

#[test]
fn lr_sc_succeeds_and_fails() {
    let m = exec(
        &[
            amo(2, 2, 5, 10, 0),   // lr.w x5, (x10)
            amo(3, 2, 6, 10, 11),  // sc.w x6, x11, (x10): success
            amo(3, 2, 7, 10, 12),  // sc.w again: reservation cleared, fails
            amo(2, 3, 8, 13, 0),   // lr.d x8, (x13)
            amo(3, 3, 9, 10, 12),  // sc.d to another address: fails
            amo(3, 3, 14, 13, 12), // sc.d to the right one: reservation was cleared: fails
        ],
        |m| {
            m.cpu.x[10] = DATA;
            m.cpu.x[11] = 0x1234;
            m.cpu.x[12] = 0x5678;
            m.cpu.x[13] = DATA + 8;
            m.mem.write(DATA, MemSize::B4, 0x8000_0000);
            m.mem.write(DATA + 8, MemSize::B8, 0x1234);
        },
    );
    let x = &m.cpu.x;
    assert_eq!(x[5], I32_MIN, "lr.w sign-extends");
    assert_eq!(x[6], 0);
    assert_eq!(x[7], 1);
    assert_eq!(x[8], 0x1234);
    assert_eq!(x[9], 1);
    assert_eq!(x[14], 1);
    assert_eq!(
        m.mem.read(DATA, MemSize::B8),
        0x1234,
        "only the successful sc stored"
    );
    assert_eq!(m.mem.read(DATA + 8, MemSize::B8), 0x1234);
    assert_eq!(m.cpu.reservation_addr, u64::MAX);
}

#[test]
fn sc_with_mismatched_reservation_does_not_store_even_if_memory_matches() {
    let m = exec(&[amo(3, 3, 6, 10, 11)], |m| {
        m.cpu.x[10] = DATA;
        m.cpu.x[11] = 99;
        m.cpu.reservation_addr = DATA + 8;
        m.cpu.reservation_value = 7;
        m.mem.write(DATA, MemSize::B8, 7);
    });
    assert_eq!(m.cpu.x[6], 1);
    assert_eq!(m.mem.read(DATA, MemSize::B8), 7);
}

#[test]
fn sc_fails_if_memory_changed_since_lr() {
    let m = exec(&[amo(3, 2, 6, 10, 11)], |m| {
        m.cpu.x[10] = DATA;
        m.cpu.x[11] = 99;
        m.cpu.reservation_addr = DATA;
        m.cpu.reservation_value = 7;
        m.mem.write(DATA, MemSize::B4, 8);
    });
    assert_eq!(m.cpu.x[6], 1);
    assert_eq!(m.mem.read(DATA, MemSize::B8), 8);
}

#[test]
fn amos_return_sign_extended_old_values() {
    let m = exec(
        &[
            amo(0, 2, 5, 10, 11),    // amoadd.w: old 0x7fffffff, new 0x80000000
            amo(1, 2, 6, 10, 12),    // amoswap.w: old 0x80000000 (sext)
            amo(0x10, 2, 7, 10, 13), // amomin.w: old 5, min(5, -1 as i32) = 0xffffffff
            amo(0x18, 2, 8, 10, 12), // amominu.w: old 0xffffffff, min(0xffffffff, 5) = 5
            amo(0x1c, 3, 9, 14, 15), // amomaxu.d
            amo(0xc, 3, 16, 14, 17), // amoand.d
            amo(0, 2, 0, 10, 11),    // amoadd.w to x0: still performed
        ],
        |m| {
            with_x(&[
                (10, DATA),
                (11, 1),
                (12, 5),
                (13, u64::MAX),
                (14, DATA + 8),
                (15, MIN),
                (17, 0xff),
            ])(m);
            m.mem.write(DATA, MemSize::B4, 0x7fff_ffff);
        },
    );
    let x = &m.cpu.x;
    assert_eq!(x[5], 0x7fff_ffff);
    assert_eq!(x[6], I32_MIN);
    assert_eq!(x[7], 5);
    assert_eq!(x[8], u64::MAX);
    assert_eq!(x[9], 0);
    assert_eq!(x[16], MIN);
    assert_eq!(m.mem.read(DATA, MemSize::B4), 6);
    assert_eq!(m.mem.read(DATA + 8, MemSize::B8), 0);
}

#[test]
fn misaligned_amo_faults() {
    let mut m = Machine::new(&[amo(0, 2, 5, 10, 11)]);
    m.cpu.x[10] = DATA + 2;
    assert_eq!(
        m.step(CODE),
        Outcome::MemFault {
            addr: DATA + 2,
            store: true,
            misaligned: true,
            pc: CODE
        }
    );
}

// ---------------------------------------------------------------------------
// F and D.

fn boxed(x: f32) -> u64 {
    cranemu_ir::fp::box_s(x.to_bits())
}

#[test]
fn fp_arithmetic_and_conversions() {
    let m = exec(
        &[
            opfp(0, 1, 0, 1, 10, 11),     // fadd.d f1 = 1.5 + 2.25
            opfp(0, 0, 7, 2, 12, 13),     // fadd.s (dyn) f2 = 1.0f + 2.0f
            opfp(0x18, 1, 1, 5, 14, 0),   // fcvt.w.d rtz -5.5 -> -5
            opfp(0x18, 1, 2, 6, 14, 0),   // fcvt.w.d rdn -> -6
            opfp(0x18, 1, 1, 7, 14, 1),   // fcvt.wu.d rtz -5.5 -> 0
            opfp(0x18, 0, 1, 8, 12, 3),   // fcvt.lu.s 1.0 -> 1
            opfp(0x1a, 1, 7, 3, 20, 2),   // fcvt.d.l f3 = -3
            opfp(0x1a, 0, 7, 4, 20, 1),   // fcvt.s.wu f4 = 4294967293
            opfp(8, 0, 7, 5, 10, 1),      // fcvt.s.d f5 = 1.5f
            opfp(8, 1, 0, 6, 12, 0),      // fcvt.d.s f6 = 1.0
            opfp(0x14, 1, 2, 9, 10, 11),  // feq.d 0
            opfp(0x14, 1, 1, 13, 10, 11), // flt.d 1
            opfp(0x14, 0, 0, 15, 12, 12), // fle.s 1
            opfp(0x1c, 1, 1, 16, 14, 0),  // fclass.d: negative normal
            fmadd_d(7, 10, 11, 10),       // 1.5 * 2.25 + 1.5
            opfp(0xb, 1, 0, 8, 11, 0),    // fsqrt.d 2.25 = 1.5
            opfp(5, 1, 0, 9, 10, 11),     // fmin.d
            opfp(3, 1, 0, 17, 11, 10),    // fdiv.d 2.25 / 1.5
        ],
        |m| {
            m.cpu.f[10] = 1.5f64.to_bits();
            m.cpu.f[11] = 2.25f64.to_bits();
            m.cpu.f[12] = boxed(1.0);
            m.cpu.f[13] = boxed(2.0);
            m.cpu.f[14] = (-5.5f64).to_bits();
            m.cpu.x[20] = (-3i64) as u64;
        },
    );
    let (x, f) = (&m.cpu.x, &m.cpu.f);
    assert_eq!(f[1], 3.75f64.to_bits());
    assert_eq!(f[2], boxed(3.0));
    assert_eq!(x[5], (-5i64) as u64);
    assert_eq!(x[6], (-6i64) as u64);
    assert_eq!(x[7], 0);
    assert_eq!(x[8], 1);
    assert_eq!(f[3], (-3.0f64).to_bits());
    assert_eq!(f[4], boxed(4294967293u32 as f32));
    assert_eq!(f[5], boxed(1.5));
    assert_eq!(f[6], 1.0f64.to_bits());
    assert_eq!(x[9], 0);
    assert_eq!(x[13], 1);
    assert_eq!(x[15], 1);
    assert_eq!(x[16], 1 << 1);
    assert_eq!(f[7], (1.5f64 * 2.25 + 1.5).to_bits());
    assert_eq!(f[8], 1.5f64.to_bits());
    assert_eq!(f[9], 1.5f64.to_bits());
    assert_eq!(f[17], 1.5f64.to_bits());
}

#[test]
fn fp_moves_loads_stores_and_nan_boxing() {
    let m = exec(
        &[
            flw(1, 10, 0),              // f1 = boxed(mem32)
            fsw(2, 10, 8),              // stores only the low 32 bits
            opfp(0x1c, 0, 0, 5, 3, 0),  // fmv.x.w: sext low 32, no unboxing
            opfp(0x1e, 0, 0, 4, 11, 0), // fmv.w.x: box
            opfp(0x1c, 1, 0, 6, 3, 0),  // fmv.x.d
            opfp(0x1e, 1, 0, 5, 11, 0), // fmv.d.x
            opfp(4, 0, 0, 6, 12, 13),   // fsgnj.s: |1.0| with sign of -2.0
            opfp(4, 0, 1, 7, 12, 12),   // fsgnjn.s: fneg.s
            opfp(4, 0, 2, 8, 13, 13),   // fsgnjx.s: fabs.s of -2.0
            opfp(4, 0, 0, 9, 14, 14),   // fsgnj.s of an unboxed value: canonical NaN
            opfp(4, 1, 1, 15, 16, 16),  // fsgnjn.d: fneg.d
            opfp(4, 1, 2, 17, 16, 18),  // fsgnjx.d: sign 1 ^ 1 = 0
        ],
        |m| {
            m.cpu.x[10] = DATA;
            m.cpu.x[11] = 0x1234_5678_c000_0000;
            m.mem.write(DATA, MemSize::B4, 1.0f32.to_bits() as u64);
            m.mem.write(DATA + 8, MemSize::B8, u64::MAX);
            m.cpu.f[2] = 0xaaaa_bbbb_cccc_dddd;
            m.cpu.f[3] = 0x0000_0000_8000_0001;
            m.cpu.f[12] = boxed(1.0);
            m.cpu.f[13] = boxed(-2.0);
            m.cpu.f[14] = 1.0f32.to_bits() as u64;
            m.cpu.f[16] = (-1.0f64).to_bits();
            m.cpu.f[18] = (-3.0f64).to_bits();
        },
    );
    let (x, f) = (&m.cpu.x, &m.cpu.f);
    assert_eq!(f[1], boxed(1.0));
    assert_eq!(m.mem.read(DATA + 8, MemSize::B8), 0xffff_ffff_cccc_dddd);
    assert_eq!(x[5], 0xffff_ffff_8000_0001);
    assert_eq!(f[4], 0xffff_ffff_c000_0000);
    assert_eq!(x[6], 0x0000_0000_8000_0001);
    assert_eq!(f[5], 0x1234_5678_c000_0000);
    assert_eq!(f[6], boxed(-1.0));
    assert_eq!(f[7], boxed(-1.0));
    assert_eq!(f[8], boxed(2.0));
    assert_eq!(f[9], boxed(f32::from_bits(cranemu_ir::fp::CANONICAL_NAN_S)));
    assert_eq!(f[15], 1.0f64.to_bits());
    assert_eq!(f[17], 1.0f64.to_bits());
}

#[test]
fn reserved_rounding_modes_are_illegal() {
    for rm in [5, 6] {
        let w = opfp(0, 1, rm, 1, 2, 3); // fadd.d with rm 5/6
        let mut m = Machine::new(&[w]);
        assert_eq!(
            m.step(CODE),
            Outcome::Trap {
                cause: 2,
                tval: u64::from(w),
                pc: CODE
            }
        );
        assert_eq!(m.cpu.f[1], 0);
    }
    // fmin's funct3 is not a rounding mode.
    let mut m = Machine::new(&[opfp(5, 1, 1, 1, 2, 3), EBREAK]);
    assert_eq!(
        m.step(CODE),
        Outcome::Trap {
            cause: 3,
            tval: CODE + 4,
            pc: CODE + 4
        }
    );
}

// ---------------------------------------------------------------------------
// Zicsr.

const FFLAGS: u16 = 0x001;
const FRM: u16 = 0x002;
const FCSR: u16 = 0x003;

#[test]
fn fp_csrs_read_and_write() {
    let mut m = Machine::new(&[
        csr(2, 5, FCSR, 0),    // frcsr x5: read only, block goes on
        csr(1, 6, FRM, 10),    // fsrm x6, x10: ends the block
        csr(2, 7, FRM, 0),     // frrm x7
        csr(6, 8, FFLAGS, 3),  // csrrsi x8, fflags, 3: block goes on
        csr(7, 9, FFLAGS, 1),  // csrrci x9, fflags, 1
        csr(3, 11, FCSR, 0),   // csrrc x11, fcsr, x0: no write
        csr(5, 0, FCSR, 0x1f), // csrwi fcsr, 0x1f
        EBREAK,
    ]);
    m.cpu.fcsr = 1 << 5 | 0x10;
    m.cpu.x[10] = 3;
    // A write to frm ends the block with a lookup under the new TB flags.
    assert_eq!(m.step(CODE), Outcome::Next(CODE + 8));
    assert_eq!(m.blocks[0].end, EndReason::CsrWrite);
    assert!(matches!(
        m.blocks[0].ir.term,
        Some(Terminator::JumpIndirect { flags: Some(_), .. })
    ));
    assert_eq!(m.cpu.x[5], 1 << 5 | 0x10);
    assert_eq!(m.cpu.x[6], 1);
    assert_eq!(m.cpu.fcsr, 3 << 5 | 0x10);
    assert_eq!(m.cpu.tb_flags(), 3);
    // Writes to fflags end their block too, with a plain (chainable) jump.
    assert_eq!(m.step(CODE + 8), Outcome::Next(CODE + 16));
    assert_eq!(
        m.blocks[1].ir.term,
        Some(Terminator::Jump { pc: CODE + 16 })
    );
    assert_eq!(m.cpu.x[7], 3);
    assert_eq!(m.cpu.x[8], 0x10);
    assert_eq!(m.step(CODE + 16), Outcome::Next(CODE + 20));
    assert_eq!(m.cpu.x[9], 0x13);
    assert_eq!(m.step(CODE + 20), Outcome::Next(CODE + 28));
    assert_eq!(m.cpu.x[11], 3 << 5 | 0x12);
    assert_eq!(m.cpu.fcsr, 0x1f);
    assert_eq!(m.blocks[3].insns.len(), 2);
}

/// `rm` = dyn takes the rounding mode from `frm`, through the TB flags;
/// flags accrue into `fflags`; a reserved `frm` makes dyn instructions
/// illegal (and static ones still run).
#[test]
fn dynamic_rounding_mode_and_accrued_flags() {
    let third = |frm: u64, rm: u32| {
        let m = exec(&[opfp(3, 1, rm, 1, 2, 3)], |m| {
            m.cpu.f[2] = 1f64.to_bits();
            m.cpu.f[3] = 3f64.to_bits();
            m.cpu.fcsr = frm << 5;
        });
        (m.cpu.f[1], m.cpu.fcsr)
    };
    let down = 0x3fd5_5555_5555_5555u64;
    assert_eq!(third(0, 7), (down, 0x01));
    assert_eq!(third(3, 7), (down + 1, 3 << 5 | 0x01));
    assert_eq!(third(2, 7), (down, 2 << 5 | 0x01));
    assert_eq!(third(2, 3), (down + 1, 2 << 5 | 0x01));
    // fdiv.d by zero: DZ, accrued with what was there.
    let m = exec(&[opfp(3, 1, 7, 1, 2, 0)], |m| {
        m.cpu.f[2] = 1f64.to_bits();
        m.cpu.fcsr = 0x01;
    });
    assert_eq!((m.cpu.f[1], m.cpu.fcsr), (f64::INFINITY.to_bits(), 0x09));
    for frm in 5..8 {
        let mut m = Machine::new(&[opfp(0, 1, 0, 1, 2, 3), opfp(0, 1, 7, 1, 2, 3)]);
        m.cpu.fcsr = frm << 5;
        assert_eq!(
            m.step(CODE),
            Outcome::Trap {
                cause: 2,
                tval: u64::from(opfp(0, 1, 7, 1, 2, 3)),
                pc: CODE + 4
            },
            "frm = {frm}"
        );
    }
}

#[test]
fn counters_are_read_only_and_unknown_csrs_illegal() {
    for w in [
        csr(1, 5, 0xc00, 10), // csrrw cycle
        csr(2, 5, 0xc02, 10), // csrrs instret, x10 (writes)
        csr(5, 0, 0xc01, 1),  // csrrwi time
        csr(2, 5, 0x300, 0),  // mstatus
        csr(2, 5, 0xc03, 0),  // hpmcounter3: not implemented
    ] {
        let mut m = Machine::new(&[addi(6, 0, 1), w]);
        assert_eq!(
            m.step(CODE),
            Outcome::Trap {
                cause: 2,
                tval: u64::from(w),
                pc: CODE + 4
            }
        );
        assert_eq!(m.cpu.x[6], 1);
        assert_eq!(m.cpu.x[5], 0);
    }
}

#[test]
fn instret_counts_retired_instructions() {
    let mut m = Machine::new(&[
        addi(5, 0, 1),
        addi(5, 5, 1),
        csr(2, 6, 0xc02, 0), // rdinstret: 2 retired before it
        csr(2, 7, 0xc00, 0), // rdcycle
        csr(2, 8, 0xc01, 0), // rdtime
        jal(0, 8),
        NOP,
        csr(2, 9, 0xc02, 0), // 6 retired before it
        EBREAK,
    ]);
    m.opts.count_insns = true;
    m.cpu.icount = 100;
    assert_eq!(
        m.run(),
        Outcome::Trap {
            cause: 3,
            tval: CODE + 32,
            pc: CODE + 32
        }
    );
    assert_eq!(m.cpu.x[6], 102);
    assert_eq!(m.cpu.x[7], 103);
    assert_eq!(m.cpu.x[9], 106);
    // ebreak does not retire.
    assert_eq!(m.cpu.icount, 107);
}

// ---------------------------------------------------------------------------
// Block ends.

#[test]
fn traps_end_blocks() {
    let mut m = Machine::new(&[addi(5, 0, 1), ECALL, NOP]);
    assert_eq!(
        m.step(CODE),
        Outcome::Trap {
            cause: 8,
            tval: 0,
            pc: CODE + 4
        }
    );
    assert_eq!(m.blocks[0].end, EndReason::Trap(Exception::EcallFromU));
    assert_eq!(m.cpu.x[5], 1);

    let mut m = Machine::new(&[EBREAK]);
    assert_eq!(
        m.step(CODE),
        Outcome::Trap {
            cause: 3,
            tval: CODE,
            pc: CODE
        }
    );

    let mut m = Machine::new(&[FENCE_I, NOP]);
    assert_eq!(
        m.step(CODE),
        Outcome::Exit {
            pc: CODE + 4,
            flush: true
        }
    );
    assert_eq!(m.blocks[0].end, EndReason::FenceI);

    let mut m = Machine::new(&[SRET]);
    assert_eq!(
        m.step(CODE),
        Outcome::Trap {
            cause: 2,
            tval: u64::from(SRET),
            pc: CODE
        }
    );
}

#[test]
fn illegal_instructions_trap_with_their_bits() {
    // custom-0 opcode, a 32-bit illegal encoding.
    let mut m = Machine::new(&[NOP, 0x0000_000b]);
    assert_eq!(
        m.step(CODE),
        Outcome::Trap {
            cause: 2,
            tval: 0xb,
            pc: CODE + 4
        }
    );
    assert_eq!(
        m.blocks[0].end,
        EndReason::Trap(Exception::IllegalInstruction)
    );
    // The all-zero 16-bit parcel is illegal; tval holds only its 16 bits.
    let mut m = Machine::new(&[0xffff_0000]);
    assert_eq!(
        m.step(CODE),
        Outcome::Trap {
            cause: 2,
            tval: 0,
            pc: CODE
        }
    );
    assert_eq!(m.blocks[0].insns[0].1.len, 2);
}

#[test]
fn blocks_stop_at_max_insns() {
    let mut m = Machine::new(&[NOP, NOP, NOP, NOP]);
    m.opts.max_insns = 3;
    assert_eq!(m.step(CODE), Outcome::Next(CODE + 12));
    assert_eq!(m.blocks[0].end, EndReason::MaxInsns);
    assert_eq!(m.blocks[0].ir.guest_insns, 3);
}

#[test]
fn blocks_do_not_cross_pages() {
    // Four 4-byte nops at the end of a page, then more on the next one.
    let page_end = CODE + PAGE_SIZE;
    let mut m = Machine::new(&[]);
    m.code = Code::words(page_end - 16, &[NOP; 8]);
    assert_eq!(m.step(page_end - 16), Outcome::Next(page_end));
    assert_eq!(m.blocks[0].end, EndReason::PageEnd);
    assert_eq!(m.blocks[0].insns.len(), 4);

    // c.nop at 0xffa, c.nop at 0xffc, then a 4-byte insn straddling the
    // boundary at 0xffe: it is the last one.
    let mut bytes = Vec::new();
    bytes.extend(C_NOP.to_le_bytes());
    bytes.extend(C_NOP.to_le_bytes());
    bytes.extend(addi(5, 0, 7).to_le_bytes());
    bytes.extend(NOP.to_le_bytes());
    m.code = Code::bytes(page_end - 6, bytes);
    assert_eq!(m.step(page_end - 6), Outcome::Next(page_end + 2));
    assert_eq!(m.blocks[1].end, EndReason::PageEnd);
    assert_eq!(m.blocks[1].insns.len(), 3);
    assert_eq!(m.cpu.x[5], 7);
}

#[test]
fn fetch_faults() {
    // On the first instruction: the block is just the trap.
    let mut m = Machine::new(&[NOP]);
    assert_eq!(
        m.step(CODE + 0x100),
        Outcome::Trap {
            cause: 12,
            tval: CODE + 0x100,
            pc: CODE + 0x100
        }
    );
    assert_eq!(
        m.blocks[0].end,
        EndReason::Trap(Exception::InstructionPageFault)
    );
    assert!(m.blocks[0].insns.is_empty());

    // Only the second half of the first instruction faults: tval says so.
    m.code = Code::bytes(CODE, NOP.to_le_bytes()[..2].to_vec());
    assert_eq!(
        m.step(CODE),
        Outcome::Trap {
            cause: 12,
            tval: CODE + 2,
            pc: CODE
        }
    );

    // Later: the block ends before the instruction.
    m.code = Code::words(CODE, &[NOP, NOP]);
    assert_eq!(m.step(CODE), Outcome::Next(CODE + 8));
    assert_eq!(m.blocks[2].end, EndReason::FetchFault);
    assert_eq!(m.blocks[2].insns.len(), 2);
}

/// The source names the exception of a refused fetch: system mode's
/// says an access fault where no memory is (here, the second half of an
/// instruction that runs off the end of RAM).
#[test]
fn a_fetch_fault_takes_the_sources_exception() {
    struct EndOfRam(Code);
    impl CodeSource for EndOfRam {
        fn fetch_u16(&self, pc: u64) -> Result<u16, u64> {
            self.0.fetch_u16(pc)
        }
        fn fetch_fault(&self, _addr: u64) -> Exception {
            Exception::InstructionAccessFault
        }
    }
    let src = EndOfRam(Code::bytes(CODE, NOP.to_le_bytes()[..2].to_vec()));
    let tb = translate_block(&src, CODE, 0, &TranslateOptions::default());
    assert_eq!(tb.end, EndReason::Trap(Exception::InstructionAccessFault));
    assert!(matches!(
        tb.ir.term,
        Some(Terminator::Trap {
            cause: 1,
            tval,
            pc: CODE
        }) if tval == CODE + 2
    ));
}

#[test]
fn compressed_instructions_advance_by_two() {
    // c.li x10, 5 ; c.addi x10, -1 ; c.ebreak
    let c_li = 0x4000 | 10 << 7 | 5 << 2 | 1;
    let c_addi = 0x0001 | 1 << 12 | 10 << 7 | 0x1f << 2;
    let c_ebreak: u32 = 0x9002;
    let mut m = Machine::new(&[c_addi << 16 | c_li, c_ebreak]);
    assert_eq!(
        m.step(CODE),
        Outcome::Trap {
            cause: 3,
            tval: CODE + 4,
            pc: CODE + 4
        }
    );
    assert_eq!(m.cpu.x[10], 4);
}

#[test]
fn register_reads_are_cached_within_a_block() {
    let mut m = Machine::new(&[
        op(0, 0, 5, 5, 5),
        op(0, 0, 5, 5, 5),
        op(0, 0, 6, 5, 6),
        EBREAK,
    ]);
    m.cpu.x[5] = 3;
    m.step(CODE);
    assert_eq!(m.cpu.x[5], 12);
    assert_eq!(m.cpu.x[6], 12);
    let reads: HashMap<i32, usize> =
        m.blocks[0]
            .ir
            .insts
            .iter()
            .fold(HashMap::new(), |mut h, i| {
                if let Inst::GetState { offset, .. } = i {
                    *h.entry(*offset).or_default() += 1;
                }
                h
            });
    assert_eq!(reads.get(&CpuState::offset_of_x(5)), Some(&1));
    assert_eq!(reads.get(&CpuState::offset_of_x(6)), Some(&1));
    let writes = m.blocks[0]
        .ir
        .insts
        .iter()
        .filter(|i| matches!(i, Inst::SetState { .. }))
        .count();
    assert_eq!(writes, 3, "every write is emitted");
}

/// Every encoding in the decoder's tables translates to a block that
/// verifies; only reserved rounding modes and privileged or CSR encodings
/// (which need operands this test does not pick) may trap as illegal.
#[test]
fn every_decodable_op_translates_to_a_verified_block() {
    let fillers = [0u32, 0x0042_5280, 0x00a5_a5a0, !0x7f];
    let mut covered = [false; Op::COUNT];
    covered[Op::Illegal as usize] = true;
    for row in crate::decode::all_rows() {
        for filler in fillers {
            let mut raw = row.bits | (filler & !row.mask);
            if row.is_compressed() {
                raw &= 0xffff;
            }
            let insn = crate::decode::decode(raw);
            if insn.op != row.op {
                continue;
            }
            covered[insn.op as usize] = true;
            // A compressed instruction is followed by c.ebreak.
            let words = if row.is_compressed() {
                vec![0x9002 << 16 | raw]
            } else {
                vec![raw, EBREAK]
            };
            let code = Code::words(CODE, &words);
            let tb = translate_block(
                &code,
                CODE,
                0,
                &TranslateOptions {
                    max_insns: 8,
                    count_insns: true,
                    ..TranslateOptions::default()
                },
            );
            if let Err(e) = cranemu_ir::verify::verify(&tb.ir) {
                panic!("{} ({raw:#x}): {e}\n{}", row.mnemonic, tb.ir);
            }
            if tb.end == EndReason::Trap(Exception::IllegalInstruction) {
                use Op::*;
                let allowed = matches!(insn.rm, 5 | 6)
                    || matches!(insn.op, Sret | Mret | Wfi | SfenceVma)
                    || matches!(insn.op, Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci);
                assert!(allowed, "{} ({raw:#x}) is illegal", row.mnemonic);
            }
        }
    }
    let missed: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|op| !covered[*op as usize])
        .collect();
    assert!(missed.is_empty(), "no encoding tried for {missed:?}");
}

// ---------------------------------------------------------------------------
// Golden text.

/// Translates a fixed block and compares its text with
/// `frontend/tests/golden/translate_basic.ir`; `CRANEMU_BLESS=1` rewrites
/// the file.
#[test]
fn golden_basic_block() {
    let words = [
        addi(10, 10, 1),
        load(3, 11, 10, 8),
        op32(0, 0, 12, 11, 10),
        amo(3, 2, 13, 10, 12),
        opfp(0, 1, 7, 1, 2, 3),
        csr(2, 14, FCSR, 0),
        b_type(-20, 0, 12, 1),
    ];
    let opts = TranslateOptions {
        max_insns: 512,
        count_insns: true,
        ..TranslateOptions::default()
    };
    let tb = translate_block(&Code::words(CODE, &words), CODE, 0, &opts);
    cranemu_ir::verify::verify(&tb.ir).expect("golden block verifies");
    let mut text = String::new();
    for (pc, insn) in &tb.insns {
        text.push_str(&format!(
            "; {pc:#x}: {}\n",
            crate::disasm::disassemble(insn)
        ));
    }
    text.push_str(&tb.ir.to_string());
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/translate_basic.ir");
    if std::env::var_os("CRANEMU_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("create golden dir");
        std::fs::write(&path, &text).expect("write golden file");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with CRANEMU_BLESS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        text, want,
        "golden mismatch; rerun with CRANEMU_BLESS=1 if the change is intended"
    );
}

mod deferred_stores;
mod if_conversion;
mod speculative_loads;
