//! Guest memory for cranemu.
//!
//! [`user`] is the user-mode guest address space: one host reservation in
//! which guest virtual address `a` lives at host address `base + a`, plus a
//! page map of guest permissions that system calls and the translator consult
//! without touching the host mapping. Full-system emulation (guest physical
//! memory, the softmmu TLB, the Sv39/Sv48 walker, the MMIO bus) will live
//! beside it. [`sync`] has the fork-safe locks the emulator's shared
//! state uses.

#![deny(missing_docs)]

pub mod sync;
pub mod user;
