//! Guest memory for cranemu.
//!
//! [`user`] is the user-mode guest address space: one host reservation in
//! which guest virtual address `a` lives at host address `base + a`, plus a
//! page map of guest permissions that system calls and the translator consult
//! without touching the host mapping. [`system`] is full-system emulation's
//! memory: guest physical RAM, the Sv39/Sv48/Sv57 page-table walker and the
//! softmmu TLB (the MMIO bus will join it). [`sync`] has the fork-safe locks the emulator's shared
//! state uses.

#![deny(missing_docs)]

pub mod sync;
pub mod system;
pub mod user;
