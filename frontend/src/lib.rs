//! The RISC-V RV64GC guest: architectural state, decoder, disassembler, and
//! the translator that lowers guest basic blocks to cranemu IR.
//!
//! Data flows one way: guest bytes -> [`decode`] -> [`translate`] -> IR. The
//! same decode tables drive [`disasm`].

#![deny(missing_docs)]

pub mod cpu;
pub mod decode;
pub mod disasm;
pub mod exception;
pub mod helpers;
pub mod insn;
pub mod privileged;
pub mod translate;

pub use cpu::CpuState;
pub use exception::{Exception, Interrupt, Trap};
pub use insn::{Insn, Op};
