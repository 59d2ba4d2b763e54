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
//! The same fixup serves the interpreter tier's guarded loads and stores
//! ([`load`], [`store`]): one instruction each, at the guest address's
//! host address with no page-map lock taken, as translated code accesses
//! guest memory. A fault (an unmapped or protected page, a watched code
//! page, a page beyond the end of its file) makes them return failure, and
//! the caller takes the checked path, which reports the guest's fault or
//! makes the page writable.
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
    // Guarded loads: rdi = address, rsi = where the zero-extended value
    // goes; eax = 0, or 1 through the fixup.
    ".globl cranemu_guarded_load",
    ".p2align 4",
    "cranemu_guarded_load:",
    "xor eax, eax",
    "cmp edx, 2",
    "je 2f",
    "cmp edx, 4",
    "je 4f",
    "cmp edx, 8",
    "je 8f",
    ".globl cranemu_load1_insn",
    "cranemu_load1_insn:",
    "movzx ecx, byte ptr [rdi]",
    "mov [rsi], rcx",
    "ret",
    "2:",
    ".globl cranemu_load2_insn",
    "cranemu_load2_insn:",
    "movzx ecx, word ptr [rdi]",
    "mov [rsi], rcx",
    "ret",
    "4:",
    ".globl cranemu_load4_insn",
    "cranemu_load4_insn:",
    "mov ecx, dword ptr [rdi]",
    "mov [rsi], rcx",
    "ret",
    "8:",
    ".globl cranemu_load8_insn",
    "cranemu_load8_insn:",
    "mov rcx, qword ptr [rdi]",
    "mov [rsi], rcx",
    "ret",
    // Guarded stores: rdi = address, rsi = value, edx = size in bytes.
    ".globl cranemu_guarded_store",
    ".p2align 4",
    "cranemu_guarded_store:",
    "xor eax, eax",
    "cmp edx, 2",
    "je 2f",
    "cmp edx, 4",
    "je 4f",
    "cmp edx, 8",
    "je 8f",
    ".globl cranemu_store1_insn",
    "cranemu_store1_insn:",
    "mov byte ptr [rdi], sil",
    "ret",
    "2:",
    ".globl cranemu_store2_insn",
    "cranemu_store2_insn:",
    "mov word ptr [rdi], si",
    "ret",
    "4:",
    ".globl cranemu_store4_insn",
    "cranemu_store4_insn:",
    "mov dword ptr [rdi], esi",
    "ret",
    "8:",
    ".globl cranemu_store8_insn",
    "cranemu_store8_insn:",
    "mov qword ptr [rdi], rsi",
    "ret",
);

unsafe extern "C" {
    /// Reads the byte at `p`; 0, or 1 if the read faulted (and the fault
    /// handler sent it to `cranemu_probe_fixup`).
    fn cranemu_probe_read(p: *const u8) -> u32;
    fn cranemu_probe_insn();
    fn cranemu_probe_fixup();
    /// Loads `size` (1, 2, 4 or 8) bytes at `p` into `*out`, zero-extended;
    /// 0, or 1 if the load faulted.
    fn cranemu_guarded_load(p: *const u8, out: *mut u64, size: u32) -> u32;
    /// Stores the low `size` (1, 2, 4 or 8) bytes of `v` at `p`; 0, or 1 if
    /// the store faulted (nothing was stored).
    fn cranemu_guarded_store(p: *mut u8, v: u64, size: u32) -> u32;
    fn cranemu_load1_insn();
    fn cranemu_load2_insn();
    fn cranemu_load4_insn();
    fn cranemu_load8_insn();
    fn cranemu_store1_insn();
    fn cranemu_store2_insn();
    fn cranemu_store4_insn();
    fn cranemu_store8_insn();
}

/// Loads `size` bytes (1, 2, 4 or 8) at host address `p`, zero-extended:
/// `None` if the load faulted. One instruction, so an aligned load is
/// single-copy atomic.
///
/// # Safety
/// `p` must lie in the guest space's reservation (mapped, or a protected
/// or faulting page), and the process's fault handler must send faults to
/// [`probe_fixup`]'s answer; without it a fault is fatal.
pub(crate) unsafe fn load(p: *const u8, size: u32) -> Option<u64> {
    debug_assert!(matches!(size, 1 | 2 | 4 | 8));
    let mut v = 0u64;
    // SAFETY: the caller's contract; the routine clobbers only rax and rcx
    // (caller-saved) and writes `v`.
    (unsafe { cranemu_guarded_load(p, &mut v, size) } == 0).then_some(v)
}

/// Stores the low `size` bytes (1, 2, 4 or 8) of `v` at host address `p`:
/// false if the store faulted (then nothing was stored). One instruction.
///
/// # Safety
/// As [`load`].
pub(crate) unsafe fn store(p: *mut u8, v: u64, size: u32) -> bool {
    debug_assert!(matches!(size, 1 | 2 | 4 | 8));
    // SAFETY: as in `load`.
    unsafe { cranemu_guarded_store(p, v, size) == 0 }
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
/// resume: the failure return if `rip` is the probing load or a guarded
/// load or store ([`GuestSpace::load_guarded`],
/// [`GuestSpace::store_guarded`]), else `None` (not one of them). For the
/// process's `SIGSEGV`/`SIGBUS` handler;
/// async-signal-safe (it compares addresses).
///
/// [`GuestSpace::load_guarded`]: super::GuestSpace::load_guarded
/// [`GuestSpace::store_guarded`]: super::GuestSpace::store_guarded
pub fn probe_fixup(rip: u64) -> Option<u64> {
    let guarded: [unsafe extern "C" fn(); 9] = [
        cranemu_probe_insn,
        cranemu_load1_insn,
        cranemu_load2_insn,
        cranemu_load4_insn,
        cranemu_load8_insn,
        cranemu_store1_insn,
        cranemu_store2_insn,
        cranemu_store4_insn,
        cranemu_store8_insn,
    ];
    guarded
        .iter()
        .any(|&f| f as *const () as u64 == rip)
        .then_some(cranemu_probe_fixup as *const () as u64)
}
