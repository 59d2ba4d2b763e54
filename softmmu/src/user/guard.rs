//! Probing shared pages before the emulator itself touches them.
//!
//! A page of a shared file mapping that lies wholly beyond the end of the
//! file (the file was truncated after `mmap`, or mapped longer than it is)
//! raises `SIGBUS` on any access, as on Linux. Translated code takes that
//! fault like any other (runtime/src/exec.rs). But the emulator's own Rust
//! code also reads and writes guest memory (the interpreter tier, syscall
//! buffers copied with [`GuestSpace::read`] and [`GuestSpace::write`]), and
//! a `SIGBUS` there would kill the emulator instead of the guest.
//!
//! So before such an access covers a shared page, [`probe`] reads one byte
//! of the page with a single instruction, `cranemu_probe_insn`, whose fault
//! the process's fault handler recovers: it asks [`probe_fixup`] and resumes
//! at the address it gives, where the probe returns failure (the fixup
//! table of Linux's `copy_from_user`, with one entry). The probe is a leaf
//! function that does not touch the stack between its entry and the
//! probing load, so resuming at the fixup returns to the caller normally.
//!
//! A truncation racing between the probe and the access itself is not
//! covered: that access still kills the emulator with `SIGBUS`.
//!
//! [`GuestSpace::read`]: super::GuestSpace::read
//! [`GuestSpace::write`]: super::GuestSpace::write

core::arch::global_asm!(
    ".globl cranemu_probe_read",
    ".p2align 4",
    "cranemu_probe_read:",
    "xor eax, eax",
    ".globl cranemu_probe_insn",
    "cranemu_probe_insn:",
    "mov cl, byte ptr [rdi]",
    "ret",
    ".globl cranemu_probe_fixup",
    "cranemu_probe_fixup:",
    "mov eax, 1",
    "ret",
);

unsafe extern "C" {
    /// Reads the byte at `p`; 0, or 1 if the read faulted (and the fault
    /// handler sent it to `cranemu_probe_fixup`).
    fn cranemu_probe_read(p: *const u8) -> u32;
    fn cranemu_probe_insn();
    fn cranemu_probe_fixup();
}

/// Whether the byte at host address `p` can be read: false if the read
/// faulted. Without the process's fault handler (which calls
/// [`probe_fixup`]) a fault is fatal.
///
/// # Safety
/// `p` must be an address the caller could read from if its page is
/// backed (a mapped page of the guest space).
pub(crate) unsafe fn probe(p: *const u8) -> bool {
    // SAFETY: the caller guarantees `p`; the routine reads one byte and
    // clobbers only rax and rcx (caller-saved).
    unsafe { cranemu_probe_read(p) == 0 }
}

/// Where a thread that faulted at host instruction address `rip` must
/// resume: the probe's failure return if `rip` is the probing load, else
/// `None` (not a probe). For the process's `SIGSEGV`/`SIGBUS` handler;
/// async-signal-safe (it compares addresses).
pub fn probe_fixup(rip: u64) -> Option<u64> {
    (rip == cranemu_probe_insn as *const () as u64)
        .then_some(cranemu_probe_fixup as *const () as u64)
}
