//! Loading a riscv64 ELF program and building its initial stack.
//!
//! Follows Linux's `fs/binfmt_elf.c`: `PT_LOAD` segments are mapped with
//! their permissions at `p_vaddr + bias` (bias 0 for `ET_EXEC`,
//! [`ET_DYN_BIAS`] for a position-independent `ET_DYN`), the bss is zeroed,
//! and the initial brk is the page-aligned end of the highest segment.
//! From a host file ([`Image::File`]) only the headers are read; each
//! segment's file pages are a private mapping of the file, as `elf_map`
//! makes them, so a 50 MiB program costs neither a copy nor resident memory
//! for pages it never touches, and the tail of the last file page is
//! zeroed when the segment has a bss (`padzero`). A segment that shares a
//! page with the one before it, and every segment of an in-memory image,
//! is copied into anonymous memory instead. The stack is laid out as
//! `create_elf_tables` does: `argc`, `argv[]`, NULL, `envp[]`, NULL, the
//! auxiliary vector, with the strings and `AT_RANDOM` bytes above it.
//!
//! Every ELF field is untrusted: arithmetic on them is checked and a bad
//! file is a [`LoadError`], never a panic.

use cranemu_softmmu::user::{
    page_align_down, page_align_up, GuestSpace, Prot, GUEST_SPACE_SIZE, PAGE_SIZE,
};
use goblin::elf::{header, program_header as ph, Elf};

/// Load address of an `ET_DYN` (PIE) main program, in guest bytes.
pub const ET_DYN_BIAS: u64 = 0x4000_0000;
/// Load address of the program interpreter (`PT_INTERP`), in guest bytes.
pub const INTERP_BIAS: u64 = 0x20_0000_0000;
/// One past the highest stack byte (guest address); one page below the top
/// of the guest space is left unmapped.
pub const STACK_TOP: u64 = GUEST_SPACE_SIZE - PAGE_SIZE;
/// Size of the initial stack mapping, in bytes (Linux's default
/// `RLIMIT_STACK`, 8 MiB), where the host's limit is not larger (see
/// [`stack_size`]).
pub const STACK_SIZE: u64 = 8 << 20;
/// The largest initial stack mapping, in bytes, whatever `RLIMIT_STACK`
/// says (a sixteenth of the guest space's 256 GiB).
pub const STACK_SIZE_MAX: u64 = 16 << 30;

/// Size of the initial stack mapping, in bytes: the host's (soft)
/// `RLIMIT_STACK`, which the guest inherits, rounded up to pages, where
/// it is finite and above [`STACK_SIZE`] (as `ulimit -s` gives a deeply
/// recursive program room on Linux), at most [`STACK_SIZE_MAX`]; else
/// [`STACK_SIZE`]. (Linux grows the stack on demand up to the limit;
/// here it is mapped whole, its pages allocated as they are touched.)
pub fn stack_size() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to fill.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut lim) } == 0;
    if !ok || lim.rlim_cur == libc::RLIM_INFINITY {
        return STACK_SIZE;
    }
    page_align_up(lim.rlim_cur)
        .unwrap_or(STACK_SIZE_MAX)
        .clamp(STACK_SIZE, STACK_SIZE_MAX)
}
/// Gap left unmapped between the stack and the mmap area, in bytes.
pub const STACK_GAP: u64 = 1 << 20;

/// Longest `PT_INTERP` path the kernel accepts, in bytes (`PATH_MAX`).
const PATH_MAX: u64 = 4096;

/// `EM_RISCV` (ELF e_machine).
const EM_RISCV: u16 = 243;

/// Why a program could not be loaded. `Display` is one line giving the
/// reason, printed after `cranemu: PATH: `.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file does not start with `\x7fELF`.
    #[error("not an ELF file")]
    NotElf,
    /// A 32-bit ELF.
    #[error("32-bit ELF (riscv32?) not supported")]
    Elf32,
    /// A big-endian ELF.
    #[error("big-endian ELF not supported")]
    BigEndian,
    /// `e_machine` is not `EM_RISCV`.
    #[error("wrong architecture: {0} ELF, expected RISC-V")]
    WrongArch(String),
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    #[error("not an executable (ELF type {0})")]
    NotExecutable(u16),
    /// The file ends before a header, a table or a segment does.
    #[error("truncated ELF: {0}")]
    Truncated(String),
    /// `p_filesz > p_memsz`, a zero-page alignment, or similar nonsense.
    #[error("malformed ELF: {0}")]
    Malformed(String),
    /// Two `PT_LOAD` segments cover the same bytes.
    #[error("overlapping PT_LOAD segments")]
    Overlap,
    /// A segment does not fit in the guest address space.
    #[error("segment outside the guest address space")]
    OutsideSpace,
    /// No `PT_LOAD` segment at all.
    #[error("no loadable segments")]
    NoSegments,
    /// The program needs an interpreter and none could be loaded.
    #[error("{0}")]
    Interp(String),
    /// The argument and environment strings do not fit on the stack.
    #[error("argument list too long")]
    TooBig,
    /// The guest address space refused a mapping.
    #[error("cannot map guest memory: {0}")]
    Map(#[from] cranemu_softmmu::user::Error),
    /// The host could not read the file.
    #[error("read error: {0}")]
    Read(std::io::Error),
}

/// An ELF image to load.
#[derive(Clone, Copy)]
pub enum Image<'a> {
    /// The whole file in memory (the embedded default guest, tests).
    Bytes(&'a [u8]),
    /// An open host file: headers are read from it and segments mapped
    /// from it (see the module doc).
    File(&'a std::fs::File),
}

/// Most bytes read for the ELF header and the program headers that
/// usually follow it; a table further in is read on its own.
const HEAD_BYTES: u64 = 4096;

impl Image<'_> {
    /// Length of the image in bytes.
    fn len(&self) -> Result<u64, LoadError> {
        match self {
            Image::Bytes(b) => Ok(b.len() as u64),
            Image::File(f) => Ok(f.metadata().map_err(LoadError::Read)?.len()),
        }
    }

    /// `len` bytes at file offset `off`.
    ///
    /// # Errors
    /// [`LoadError::Truncated`] (naming `what`) if the range passes the end
    /// of the image, [`LoadError::Read`] if the host read fails.
    fn read_at(&self, off: u64, len: u64, what: &str) -> Result<Vec<u8>, LoadError> {
        let truncated = || LoadError::Truncated(format!("{what} beyond the end of the file"));
        let end = off.checked_add(len).ok_or_else(truncated)?;
        if end > self.len()? {
            return Err(truncated());
        }
        match self {
            Image::Bytes(b) => Ok(b[off as usize..end as usize].to_vec()),
            Image::File(f) => {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0; len as usize];
                f.read_exact_at(&mut buf, off).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        truncated()
                    } else {
                        LoadError::Read(e)
                    }
                })?;
                Ok(buf)
            }
        }
    }
}

/// What the loader learned about one ELF image, in guest addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadedElf {
    /// The load bias added to every `p_vaddr` (0 for `ET_EXEC`).
    pub bias: u64,
    /// Entry point (`e_entry + bias`).
    pub entry: u64,
    /// Guest address of the program headers (for `AT_PHDR`), 0 if they are
    /// not inside a loaded segment.
    pub phdr: u64,
    /// Size of one program header in bytes (`AT_PHENT`).
    pub phent: u64,
    /// Number of program headers (`AT_PHNUM`).
    pub phnum: u64,
    /// Lowest mapped guest address.
    pub lo: u64,
    /// Page-aligned end of the highest segment: the initial brk.
    pub brk: u64,
    /// The `PT_INTERP` path, without its NUL, if any.
    pub interp: Option<String>,
    /// A `PT_GNU_STACK` header asks for an executable stack (`PF_X`;
    /// `-z execstack`, or GCC's trampolines for nested functions). Linux
    /// maps the initial stack executable then (fs/binfmt_elf.c,
    /// `EXSTACK_ENABLE_X`); without the header, riscv64's stack is not.
    pub exec_stack: bool,
}

fn prot_of(flags: u32) -> Prot {
    let mut p = Prot::NONE;
    if flags & ph::PF_R != 0 {
        p |= Prot::READ;
    }
    if flags & ph::PF_W != 0 {
        p |= Prot::WRITE;
    }
    if flags & ph::PF_X != 0 {
        p |= Prot::EXEC;
    }
    p
}

/// Checks the ELF identification and header fields this loader needs,
/// giving precise reasons for the common mistakes.
pub fn check_header(image: &[u8]) -> Result<(), LoadError> {
    if image.len() < 4 || &image[..4] != b"\x7fELF" {
        return Err(LoadError::NotElf);
    }
    if image.len() < 64 {
        return Err(LoadError::Truncated(format!(
            "{} bytes, shorter than the ELF header",
            image.len()
        )));
    }
    match image[header::EI_CLASS] {
        header::ELFCLASS64 => {}
        header::ELFCLASS32 => return Err(LoadError::Elf32),
        c => return Err(LoadError::Malformed(format!("unknown ELF class {c}"))),
    }
    match image[header::EI_DATA] {
        header::ELFDATA2LSB => {}
        header::ELFDATA2MSB => return Err(LoadError::BigEndian),
        d => {
            return Err(LoadError::Malformed(format!(
                "unknown ELF data encoding {d}"
            )))
        }
    }
    let machine = u16::from_le_bytes([image[18], image[19]]);
    if machine != EM_RISCV {
        let name = match machine {
            header::EM_X86_64 => "x86-64 (EM_X86_64)".to_string(),
            header::EM_AARCH64 => "AArch64 (EM_AARCH64)".to_string(),
            header::EM_386 => "i386 (EM_386)".to_string(),
            header::EM_ARM => "ARM (EM_ARM)".to_string(),
            m => format!("{} (e_machine {m})", header::machine_to_str(m)),
        };
        return Err(LoadError::WrongArch(name));
    }
    let ty = u16::from_le_bytes([image[16], image[17]]);
    if ty != header::ET_EXEC && ty != header::ET_DYN {
        return Err(LoadError::NotExecutable(ty));
    }
    Ok(())
}

/// The parts of an ELF file the loader uses: the file header and the
/// program headers. Section headers are not read, as the kernel does not
/// read them either (a stripped or cut-off section table still runs).
struct ElfImage {
    header: header::Header,
    program_headers: Vec<ph::ProgramHeader>,
}

/// Size of an `Elf64_Phdr` in bytes (ELF-64 Object File Format, "Program
/// header").
const ELF64_PHDR_SIZE: u16 = 56;

fn parse_program_headers(head: &[u8], image: Image<'_>) -> Result<ElfImage, LoadError> {
    let header = Elf::parse_header(head).map_err(|e| LoadError::Truncated(e.to_string()))?;
    if header.e_phentsize != ELF64_PHDR_SIZE {
        return Err(LoadError::Malformed(format!(
            "e_phentsize {} (expected {ELF64_PHDR_SIZE})",
            header.e_phentsize
        )));
    }
    let table = u64::from(header.e_phnum) * u64::from(ELF64_PHDR_SIZE);
    let in_head = header
        .e_phoff
        .checked_add(table)
        .is_some_and(|end| end <= head.len() as u64);
    let bytes = if in_head {
        head[header.e_phoff as usize..(header.e_phoff + table) as usize].to_vec()
    } else {
        image.read_at(header.e_phoff, table, "program headers")?
    };
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let program_headers = ph::ProgramHeader::parse(&bytes, 0, header.e_phnum as usize, ctx)
        .map_err(|e| LoadError::Truncated(e.to_string()))?;
    Ok(ElfImage {
        header,
        program_headers,
    })
}

/// Maps the `PT_LOAD` segments of `image` into `space`. `dyn_bias` is the
/// bias used if the image is `ET_DYN`.
///
/// # Errors
/// A [`LoadError`] for any malformed or unsupported image, or one the host
/// cannot read; `space` may hold partial mappings then (the caller
/// discards it).
pub fn load_elf(
    space: &GuestSpace,
    image: Image<'_>,
    dyn_bias: u64,
) -> Result<LoadedElf, LoadError> {
    let p = plan(image, dyn_bias)?;
    load_planned(space, image, p)
}

/// Checks `image` as [`load_elf`] does, without mapping anything: what a
/// guest's `execve` checks before the process is replaced, as the
/// kernel's does (a malformed program fails the call, and the caller goes
/// on). Returns the `PT_INTERP` path, if any.
///
/// # Errors
/// The [`LoadError`] that [`load_elf`] would give.
pub fn check_elf(image: Image<'_>) -> Result<Option<String>, LoadError> {
    plan(image, ET_DYN_BIAS).map(|p| p.interp)
}

/// A loadable segment: guest `[start, end)`, file offset and size, guest
/// permissions, and the unbiased `p_vaddr`.
type Segment = (u64, u64, u64, u64, Prot, u64);

/// What [`plan`] found valid in an image: its headers, its `PT_LOAD`
/// segments sorted by address, its interpreter and its bias.
struct Plan {
    elf: ElfImage,
    segs: Vec<Segment>,
    interp: Option<String>,
    bias: u64,
}

/// Reads and validates the headers and segments of `image`, with bias
/// `dyn_bias` if it is `ET_DYN`.
fn plan(image: Image<'_>, dyn_bias: u64) -> Result<Plan, LoadError> {
    let flen = image.len()?;
    let head = image.read_at(0, flen.min(HEAD_BYTES), "ELF header")?;
    check_header(&head)?;
    let elf = parse_program_headers(&head, image)?;
    let bias = if elf.header.e_type == header::ET_DYN {
        dyn_bias
    } else {
        0
    };

    // Validate and collect the loadable segments, sorted by address.
    let mut segs = Vec::new();
    let mut interp = None;
    for p in &elf.program_headers {
        if p.p_type == ph::PT_INTERP {
            let end = p.p_offset.checked_add(p.p_filesz).filter(|&e| e <= flen);
            let Some(end) = end else {
                return Err(LoadError::Truncated(
                    "PT_INTERP beyond the end of the file".into(),
                ));
            };
            if end - p.p_offset > PATH_MAX {
                return Err(LoadError::Malformed(
                    "PT_INTERP longer than PATH_MAX".into(),
                ));
            }
            let raw = image.read_at(p.p_offset, p.p_filesz, "PT_INTERP")?;
            let s = raw.split(|&b| b == 0).next().unwrap_or(&[]);
            interp = Some(String::from_utf8_lossy(s).into_owned());
        }
        if p.p_type != ph::PT_LOAD || p.p_memsz == 0 {
            continue;
        }
        if p.p_vaddr.wrapping_sub(p.p_offset) % PAGE_SIZE != 0 {
            // The kernel maps the file page by page: both must sit at the
            // same offset within a page (binfmt_elf's elf_map fails).
            return Err(LoadError::Malformed(
                "PT_LOAD with p_vaddr and p_offset at different page offsets".into(),
            ));
        }
        if p.p_filesz > p.p_memsz {
            return Err(LoadError::Malformed(
                "PT_LOAD with p_filesz > p_memsz".into(),
            ));
        }
        let fend = p.p_offset.checked_add(p.p_filesz);
        if fend.is_none_or(|e| e > flen) {
            return Err(LoadError::Truncated(
                "PT_LOAD segment beyond the end of the file".into(),
            ));
        }
        let start = p.p_vaddr.checked_add(bias).ok_or(LoadError::OutsideSpace)?;
        let end = start
            .checked_add(p.p_memsz)
            .ok_or(LoadError::OutsideSpace)?;
        if end > GUEST_SPACE_SIZE || page_align_up(end).is_none_or(|e| e > GUEST_SPACE_SIZE) {
            return Err(LoadError::OutsideSpace);
        }
        if start < PAGE_SIZE {
            return Err(LoadError::OutsideSpace);
        }
        segs.push((
            start,
            end,
            p.p_offset,
            p.p_filesz,
            prot_of(p.p_flags),
            p.p_vaddr,
        ));
    }
    if segs.is_empty() {
        return Err(LoadError::NoSegments);
    }
    segs.sort_by_key(|s| s.0);
    for w in segs.windows(2) {
        if w[0].1 > w[1].0 {
            return Err(LoadError::Overlap);
        }
    }
    Ok(Plan {
        elf,
        segs,
        interp,
        bias,
    })
}

/// Maps what [`plan`] checked into `space` (see [`load_elf`]).
fn load_planned(space: &GuestSpace, image: Image<'_>, plan: Plan) -> Result<LoadedElf, LoadError> {
    let Plan {
        elf,
        segs,
        interp,
        bias,
    } = plan;
    // Map writable, map or copy file bytes, then set the final
    // permissions.
    let mut mapped_to = 0u64;
    for &(start, end, ..) in &segs {
        let ps = page_align_down(start).max(mapped_to);
        let pe = page_align_up(end).ok_or(LoadError::OutsideSpace)?;
        if pe > ps {
            space.map(ps, pe - ps, Prot::RW, true)?;
        }
        mapped_to = mapped_to.max(pe);
    }
    let mut prev_end = 0u64;
    for &(start, end, off, filesz, ..) in &segs {
        let shares_page = page_align_down(start) < page_align_up(prev_end).unwrap_or(u64::MAX);
        prev_end = end;
        if filesz == 0 {
            continue;
        }
        match image {
            Image::File(f) if !shares_page => {
                use std::os::fd::AsRawFd;
                // The file's pages, privately (p_vaddr and p_offset share
                // their page offset, checked above).
                let ps = page_align_down(start);
                let fe = page_align_up(start + filesz).ok_or(LoadError::OutsideSpace)?;
                space.map_file_private(
                    ps,
                    fe - ps,
                    Prot::RW,
                    true,
                    f.as_raw_fd(),
                    off - (start - ps),
                )?;
                // With a bss, the rest of the last file page is zero
                // (binfmt_elf's padzero), not the file's next bytes.
                if end > start + filesz {
                    let tail = fe - (start + filesz);
                    space
                        .write_force(start + filesz, &vec![0; tail as usize])
                        .map_err(|f| LoadError::Malformed(f.to_string()))?;
                }
            }
            _ => {
                let bytes = image.read_at(off, filesz, "PT_LOAD segment")?;
                space
                    .write_force(start, &bytes)
                    .map_err(|f| LoadError::Malformed(f.to_string()))?;
            }
        }
    }
    for (i, &(start, end, _, _, prot, _)) in segs.iter().enumerate() {
        let ps = page_align_down(start);
        let pe = page_align_up(end).ok_or(LoadError::OutsideSpace)?;
        space.protect(ps, pe - ps, prot)?;
        // A page shared with the previous segment gets both permissions.
        if i > 0 {
            let prev = segs[i - 1];
            if page_align_down(prev.1.saturating_sub(1)) == ps {
                space.protect(ps, PAGE_SIZE, prot | prev.4)?;
            }
        }
    }

    let lo = page_align_down(segs[0].0);
    let brk = segs
        .iter()
        .map(|s| s.1)
        .max()
        .and_then(page_align_up)
        .ok_or(LoadError::OutsideSpace)?;
    // AT_PHDR: PT_PHDR if present, else the segment containing e_phoff.
    let phoff = elf.header.e_phoff;
    let phdr = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == ph::PT_PHDR)
        .and_then(|p| p.p_vaddr.checked_add(bias))
        .or_else(|| {
            segs.iter().find_map(|&(start, _, off, filesz, ..)| {
                (phoff >= off && phoff < off.saturating_add(filesz)).then(|| start + (phoff - off))
            })
        })
        .unwrap_or(0);
    Ok(LoadedElf {
        bias,
        entry: elf.header.e_entry.wrapping_add(bias),
        phdr,
        phent: u64::from(elf.header.e_phentsize),
        phnum: elf.program_headers.len() as u64,
        lo,
        brk,
        interp,
        exec_stack: elf
            .program_headers
            .iter()
            .any(|p| p.p_type == ph::PT_GNU_STACK && p.p_flags & ph::PF_X != 0),
    })
}

/// Auxiliary vector keys (linux/include/uapi/linux/auxvec.h).
mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const HWCAP: u64 = 16;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const EXECFN: u64 = 31;
}

/// `AT_HWCAP` for RV64IMAFDC: bit `letter - 'A'` per single-letter
/// extension (arch/riscv/include/uapi/asm/hwcap.h).
pub const HWCAP_IMAFDC: u64 = hwcap_bit(b'I')
    | hwcap_bit(b'M')
    | hwcap_bit(b'A')
    | hwcap_bit(b'F')
    | hwcap_bit(b'D')
    | hwcap_bit(b'C');

const fn hwcap_bit(letter: u8) -> u64 {
    1 << (letter - b'A')
}

/// Maps the stack (executable if `main` asks, [`LoadedElf::exec_stack`])
/// and writes the initial process stack as Linux's
/// `create_elf_tables` does; returns the initial `sp` (16-byte aligned).
/// `main` is the program, `interp` the interpreter if one was loaded
/// (its bias is `AT_BASE`, and execution starts at its entry).
///
/// # Errors
/// [`LoadError::TooBig`] if the strings do not fit; [`LoadError::Map`] if
/// the stack cannot be mapped.
pub fn setup_stack(
    space: &GuestSpace,
    main: &LoadedElf,
    interp: Option<&LoadedElf>,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
) -> Result<u64, LoadError> {
    let size = stack_size();
    let bottom = STACK_TOP - size;
    let prot = if main.exec_stack {
        Prot::RW | Prot::EXEC
    } else {
        Prot::RW
    };
    space.map(bottom, size, prot, true)?;
    space.set_mmap_top(bottom - STACK_GAP);
    // Strings and tables must leave at least 1 MiB of stack to the program.
    let limit = bottom + (1 << 20);
    let mut sp = STACK_TOP;
    let push_bytes = |sp: &mut u64, data: &[u8], nul: bool| -> Result<u64, LoadError> {
        let len = data.len() as u64 + u64::from(nul);
        *sp = sp
            .checked_sub(len)
            .filter(|&s| s >= limit)
            .ok_or(LoadError::TooBig)?;
        space.write(*sp, data).map_err(|_| LoadError::TooBig)?;
        if nul {
            space
                .write(*sp + data.len() as u64, &[0])
                .map_err(|_| LoadError::TooBig)?;
        }
        Ok(*sp)
    };
    let execfn_addr = push_bytes(&mut sp, execfn, true)?;
    let mut env_ptrs = Vec::with_capacity(envp.len());
    for e in envp.iter().rev() {
        env_ptrs.push(push_bytes(&mut sp, e, true)?);
    }
    env_ptrs.reverse();
    let mut arg_ptrs = Vec::with_capacity(argv.len());
    for a in argv.iter().rev() {
        arg_ptrs.push(push_bytes(&mut sp, a, true)?);
    }
    arg_ptrs.reverse();
    sp &= !15;
    let mut random = [0u8; 16];
    fill_random(&mut random);
    let random_addr = push_bytes(&mut sp, &random, false)?;

    let entry = main.entry;
    let auxv: [(u64, u64); 17] = [
        (at::PHDR, main.phdr),
        (at::PHENT, main.phent),
        (at::PHNUM, main.phnum),
        (at::PAGESZ, PAGE_SIZE),
        (at::BASE, interp.map_or(0, |i| i.bias)),
        (at::FLAGS, 0),
        (at::ENTRY, entry),
        // SAFETY (all four): getuid and friends cannot fail.
        (at::UID, u64::from(unsafe { libc::getuid() })),
        (at::EUID, u64::from(unsafe { libc::geteuid() })),
        (at::GID, u64::from(unsafe { libc::getgid() })),
        (at::EGID, u64::from(unsafe { libc::getegid() })),
        (at::SECURE, 0),
        (at::RANDOM, random_addr),
        (at::HWCAP, HWCAP_IMAFDC),
        (at::CLKTCK, 100),
        (at::EXECFN, execfn_addr),
        (at::NULL, 0),
    ];
    let mut words: Vec<u64> = Vec::with_capacity(3 + argv.len() + envp.len() + 2 * auxv.len());
    words.push(argv.len() as u64);
    words.extend_from_slice(&arg_ptrs);
    words.push(0);
    words.extend_from_slice(&env_ptrs);
    words.push(0);
    for (k, v) in auxv {
        words.push(k);
        words.push(v);
    }
    let table_len = words.len() as u64 * 8;
    sp = sp
        .checked_sub(table_len)
        .filter(|&s| s >= limit)
        .ok_or(LoadError::TooBig)?
        & !15;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    space.write(sp, &bytes).map_err(|_| LoadError::TooBig)?;
    Ok(sp)
}

/// The auxiliary vector of the initial stack at `sp` (as
/// [`setup_stack`] returned it): its bytes, pairs of little-endian `u64`
/// up to and including `AT_NULL`, for `/proc/self/auxv`. Empty if the
/// stack cannot be read.
pub fn saved_auxv(space: &GuestSpace, sp: u64) -> Vec<u8> {
    let word = |a: u64| space.read_u64(a).ok();
    let mut p = sp;
    let Some(argc) = word(p) else {
        return Vec::new();
    };
    // Past argc, argv and its NULL, then envp and its NULL.
    p += 8 * (argc + 2);
    while let Some(e) = word(p) {
        p += 8;
        if e == 0 {
            break;
        }
    }
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (word(p), word(p + 8)) {
        out.extend_from_slice(&k.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
        p += 16;
        if k == at::NULL {
            break;
        }
    }
    out
}

/// Fills `buf` with random bytes from the host (`getrandom(2)`), falling
/// back to a time-based value if that fails.
pub fn fill_random(buf: &mut [u8]) {
    // SAFETY: buf is a valid writable buffer of buf.len() bytes.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t.rotate_left(i as u32 * 8) as u8) ^ (i as u8);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a minimal riscv64 ELF with the given PT_LOAD segments
    /// `(vaddr, file bytes, memsz, flags)`, entry at the first segment.
    pub(crate) fn make_elf(ty: u16, segs: &[(u64, Vec<u8>, u64, u32)]) -> Vec<u8> {
        let phoff = 64u64;
        let data_off = phoff + 56 * segs.len() as u64;
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // ELFCLASS64
        out[5] = 1; // little-endian
        out[6] = 1; // EV_CURRENT
        out[16..18].copy_from_slice(&ty.to_le_bytes());
        out[18..20].copy_from_slice(&EM_RISCV.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&segs.first().map_or(0, |s| s.0).to_le_bytes());
        out[32..40].copy_from_slice(&phoff.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(segs.len() as u16).to_le_bytes());
        let mut off = data_off;
        let mut data = Vec::new();
        for (vaddr, bytes, memsz, flags) in segs {
            // File offset and address must agree modulo the page size, as
            // the kernel requires: pad the data up to that offset.
            let pad = (vaddr.wrapping_sub(off)) % 0x1000;
            data.resize(data.len() + pad as usize, 0);
            off += pad;
            let mut p = Vec::new();
            p.extend_from_slice(&ph::PT_LOAD.to_le_bytes());
            p.extend_from_slice(&flags.to_le_bytes());
            p.extend_from_slice(&off.to_le_bytes());
            p.extend_from_slice(&vaddr.to_le_bytes());
            p.extend_from_slice(&vaddr.to_le_bytes());
            p.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            p.extend_from_slice(&memsz.to_le_bytes());
            p.extend_from_slice(&0x1000u64.to_le_bytes());
            out.extend_from_slice(&p);
            off += bytes.len() as u64;
            data.extend_from_slice(bytes);
        }
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn loads_segments_with_permissions_and_bss() {
        let g = GuestSpace::new().unwrap();
        let elf = make_elf(
            header::ET_EXEC,
            &[
                (0x10000, vec![0x13, 0, 0, 0], 4, ph::PF_R | ph::PF_X),
                (0x11ff0, vec![1, 2, 3, 4], 0x2000, ph::PF_R | ph::PF_W),
            ],
        );
        let l = load_elf(&g, Image::Bytes(&elf), ET_DYN_BIAS).unwrap();
        assert_eq!(l.entry, 0x10000);
        assert_eq!(l.bias, 0);
        assert_eq!(l.brk, 0x14000);
        assert_eq!(g.prot_of(0x10000), Some(Prot::RX));
        assert_eq!(g.prot_of(0x12000), Some(Prot::RW));
        let mut b = [0; 4];
        g.fetch_code(0x10000, &mut b).unwrap();
        assert_eq!(b, [0x13, 0, 0, 0]);
        assert_eq!(g.read_u32(0x11ff0).unwrap(), 0x0403_0201);
        assert_eq!(g.read_u64(0x11ff8).unwrap(), 0);
        assert_eq!(g.read_u64(0x13ff0).unwrap(), 0);
        assert_eq!(l.phdr, 0, "phdrs are not inside a segment in this image");
    }

    #[test]
    fn et_dyn_gets_bias() {
        let g = GuestSpace::new().unwrap();
        let elf = make_elf(
            header::ET_DYN,
            &[(0x1000, vec![0x13, 0, 0, 0], 4, ph::PF_R | ph::PF_X)],
        );
        let l = load_elf(&g, Image::Bytes(&elf), ET_DYN_BIAS).unwrap();
        assert_eq!(l.entry, ET_DYN_BIAS + 0x1000);
        assert_eq!(g.prot_of(ET_DYN_BIAS + 0x1000), Some(Prot::RX));
    }

    /// An image loaded from a file (segments mapped from it) reads as the
    /// same image copied from memory: file bytes, a zeroed bss
    /// tail even where the file goes on (the next segment's bytes follow
    /// in the file), a segment sharing a page with the one before, and
    /// the final permissions.
    #[test]
    fn file_mapped_segments_read_as_copied_ones() {
        let text: Vec<u8> = (0..0x1804u32).map(|i| (i % 251) as u8 + 1).collect();
        let elf = make_elf(
            header::ET_EXEC,
            &[
                (0x10000, text, 0x1804, ph::PF_R | ph::PF_X),
                // Shares page 0x11000 with the text: copied.
                (0x11900, vec![7; 0x10], 0x10, ph::PF_R | ph::PF_W),
                // Own pages, bss beyond a file page whose tail holds the
                // next segment's bytes in the file.
                (0x20000, vec![5; 0x20], 0x3000, ph::PF_R | ph::PF_W),
                (0x30020, vec![9; 0x40], 0x40, ph::PF_R),
            ],
        );
        let path = std::env::temp_dir().join(format!("cranemu-loader-{}.elf", std::process::id()));
        std::fs::write(&path, &elf).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let (from_file, from_bytes) = (GuestSpace::new().unwrap(), GuestSpace::new().unwrap());
        let a = load_elf(&from_file, Image::File(&file), ET_DYN_BIAS).unwrap();
        let b = load_elf(&from_bytes, Image::Bytes(&elf), ET_DYN_BIAS).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(a, b);
        // The segments' bytes and bss (the rest of a page without bss
        // shows the file, as under Linux; a copy shows zeros there).
        let ranges = [
            (0x10000u64, 0x11804u64),
            (0x11900, 0x11910),
            (0x20000, 0x23000),
            (0x30020, 0x30060),
        ];
        for (lo, hi) in ranges {
            let (mut x, mut y) = (vec![0; (hi - lo) as usize], vec![0; (hi - lo) as usize]);
            from_file.read(lo, &mut x).unwrap();
            from_bytes.read(lo, &mut y).unwrap();
            assert!(x == y, "{lo:#x}..{hi:#x} differs");
            assert_eq!(from_file.prot_of(lo), from_bytes.prot_of(lo));
        }
        assert_eq!(from_file.read_u64(0x20020).unwrap(), 0, "bss tail zeroed");
        assert_eq!(from_file.read_u32(0x11900).unwrap(), 0x0707_0707);
        // Private: the guest's writes do not reach the file's other users.
        from_file.write(0x20000, &[1]).unwrap();
        assert_eq!(from_bytes.read_u32(0x20000).unwrap(), 0x0505_0505);
    }

    fn err(bytes: &[u8]) -> String {
        let g = GuestSpace::new().unwrap();
        load_elf(&g, Image::Bytes(bytes), ET_DYN_BIAS)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn rejects_bad_images() {
        assert_eq!(err(b"#!/bin/sh\n"), "not an ELF file");
        assert_eq!(err(b""), "not an ELF file");
        assert!(err(b"\x7fELF\x02\x01").starts_with("truncated ELF"));
        let good = make_elf(
            header::ET_EXEC,
            &[(0x10000, vec![0; 4], 4, ph::PF_R | ph::PF_X)],
        );
        let mut e32 = good.clone();
        e32[4] = 1;
        assert_eq!(err(&e32), "32-bit ELF (riscv32?) not supported");
        let mut x86 = good.clone();
        x86[18..20].copy_from_slice(&header::EM_X86_64.to_le_bytes());
        assert_eq!(
            err(&x86),
            "wrong architecture: x86-64 (EM_X86_64) ELF, expected RISC-V"
        );
        let mut be = good.clone();
        be[5] = 2;
        assert_eq!(err(&be), "big-endian ELF not supported");
        let mut rel = good.clone();
        rel[16] = 1;
        assert_eq!(err(&rel), "not an executable (ELF type 1)");
        // Truncated segment data.
        assert!(err(&good[..good.len() - 2]).starts_with("truncated ELF"));
        // Truncated program header table.
        assert!(err(&good[..80]).starts_with("truncated ELF"));
        // filesz > memsz.
        let bad = make_elf(header::ET_EXEC, &[(0x10000, vec![0; 8], 4, ph::PF_R)]);
        assert!(err(&bad).starts_with("malformed ELF"));
        // Overlap.
        let ov = make_elf(
            header::ET_EXEC,
            &[
                (0x10000, vec![0; 4], 0x2000, ph::PF_R),
                (0x11000, vec![0; 4], 4, ph::PF_R),
            ],
        );
        assert_eq!(err(&ov), "overlapping PT_LOAD segments");
        // Outside the space, and absurd sizes.
        let out = make_elf(
            header::ET_EXEC,
            &[(GUEST_SPACE_SIZE, vec![0; 4], 4, ph::PF_R)],
        );
        assert_eq!(err(&out), "segment outside the guest address space");
        let huge = make_elf(
            header::ET_EXEC,
            &[(0x10000, vec![0; 4], u64::MAX - 5, ph::PF_R)],
        );
        assert_eq!(err(&huge), "segment outside the guest address space");
        let wrap = make_elf(header::ET_EXEC, &[(u64::MAX - 2, vec![0; 4], 4, ph::PF_R)]);
        assert_eq!(err(&wrap), "segment outside the guest address space");
        let none = make_elf(header::ET_EXEC, &[]);
        assert_eq!(err(&none), "no loadable segments");
    }

    #[test]
    fn stack_layout() {
        let g = GuestSpace::new().unwrap();
        let elf = make_elf(
            header::ET_EXEC,
            &[(0x10000, vec![0; 4], 4, ph::PF_R | ph::PF_X)],
        );
        let l = load_elf(&g, Image::Bytes(&elf), ET_DYN_BIAS).unwrap();
        let argv = vec![b"prog".to_vec(), b"-x".to_vec()];
        let envp = vec![b"A=1".to_vec()];
        let sp = setup_stack(&g, &l, None, &argv, &envp, b"prog").unwrap();
        assert_eq!(sp % 16, 0);
        assert_eq!(g.read_u64(sp).unwrap(), 2);
        let a0 = g.read_u64(sp + 8).unwrap();
        assert_eq!(g.read_cstr(a0, 100).unwrap(), b"prog");
        let a1 = g.read_u64(sp + 16).unwrap();
        assert_eq!(g.read_cstr(a1, 100).unwrap(), b"-x");
        assert_eq!(g.read_u64(sp + 24).unwrap(), 0);
        let e0 = g.read_u64(sp + 32).unwrap();
        assert_eq!(g.read_cstr(e0, 100).unwrap(), b"A=1");
        assert_eq!(g.read_u64(sp + 40).unwrap(), 0);
        // auxv
        let mut p = sp + 48;
        let mut seen = std::collections::HashMap::new();
        loop {
            let k = g.read_u64(p).unwrap();
            let v = g.read_u64(p + 8).unwrap();
            seen.insert(k, v);
            p += 16;
            if k == 0 {
                break;
            }
        }
        assert_eq!(seen[&at::PAGESZ], 4096);
        assert_eq!(seen[&at::ENTRY], 0x10000);
        assert_eq!(seen[&at::HWCAP], 0x112d);
        assert_eq!(g.read_cstr(seen[&at::EXECFN], 100).unwrap(), b"prog");
        let mut r = [0u8; 16];
        g.read(seen[&at::RANDOM], &mut r).unwrap();
        // The saved copy is the same table, ending with AT_NULL.
        let saved = saved_auxv(&g, sp);
        assert_eq!(saved.len(), 17 * 16);
        let w = |i: usize| u64::from_le_bytes(saved[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!((w(0), w(1)), (at::PHDR, l.phdr));
        assert_eq!((w(32), w(33)), (at::NULL, 0));
    }

    /// Loads the real busybox-static from the guest cache when
    /// `scripts/fetch-guests.sh` has fetched it (skipped otherwise).
    #[test]
    fn loads_busybox_if_present() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../.cache/guests/sysroot/usr/bin/busybox");
        let Ok(file) = std::fs::File::open(&p) else {
            return;
        };
        let g = GuestSpace::new().unwrap();
        let l = load_elf(&g, Image::File(&file), ET_DYN_BIAS).unwrap();
        assert!(l.interp.is_none());
        assert!(g.prot_of(l.entry).unwrap().contains(Prot::EXEC));
        assert!(l.phdr != 0 && l.phnum > 0);
        let sp = setup_stack(&g, &l, None, &[b"busybox".to_vec()], &[], b"busybox").unwrap();
        assert_eq!(g.read_u64(sp).unwrap(), 1);
        let mut insn = [0u8; 4];
        g.fetch_code(l.entry, &mut insn).unwrap();
    }
}
