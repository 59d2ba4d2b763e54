//! Loading boot images into guest RAM and the state the harts start in,
//! as QEMU's `hw/riscv/boot.c` does for `-bios`, `-kernel`, `-initrd`.
//!
//! # Layout (RAM at `0x8000_0000`, guest physical)
//!
//! - **Firmware** (`-bios`, e.g. OpenSBI `fw_dynamic.bin`): a raw binary
//!   loaded at the RAM base, or an ELF whose `PT_LOAD` segments go to their
//!   physical addresses (`p_paddr`), or, when those are not in RAM (Debian's
//!   `fw_dynamic.elf` is linked at 0 and relocates itself), moved as a
//!   whole to the RAM base; its entry is the RAM base or `e_entry`.
//! - **Kernel** (`-kernel`): the first [`KERNEL_ALIGN`]-aligned address
//!   after the firmware (QEMU's `riscv_calc_kernel_start_addr`), so
//!   `0x8020_0000` behind OpenSBI; a riscv64 `Image` is loaded no lower
//!   than RAM base + its header's `text_offset` and occupies
//!   `max(file size, image_size)` bytes (`image_size` counts the BSS). An
//!   ELF (`vmlinux`) is loaded by `p_paddr` when every segment lies in RAM;
//!   otherwise (Linux's `vmlinux.lds.S` has `LOAD_OFFSET =
//!   KERNEL_LINK_ADDR`, so its physical addresses start at 0) the segments
//!   keep their relative placement, the 2 MiB block of the lowest one at
//!   the kernel slot, and the entry moves with them.
//! - **Initrd** (`-initrd`): where QEMU's `riscv_load_initrd` puts it, at
//!   kernel entry + min(RAM / 2, 128 MiB), so a decompressing kernel does
//!   not clobber it. When it does not fit there below the FDT, it goes as
//!   high as it fits below the FDT instead (page aligned, above the
//!   kernel); QEMU would refuse. Its `[start, end)` goes into `/chosen`.
//! - **FDT**: at the top of RAM, `align_down(ram_end - size, 2 MiB)`
//!   (`riscv_compute_fdt_addr` for a 64-bit hart; QEMU releases before
//!   the late-2024 change capped it at 3 GiB, which only matters above
//!   2 GiB of RAM).
//! - **Mask ROM** at `0x1000` ([`crate::rom`]): QEMU's reset vector,
//!   followed by `fw_dynamic_info` (OpenSBI `include/sbi/fw_dynamic.h`,
//!   version 2) that names the kernel as the next stage in S mode.
//!
//! Every hart starts in M mode with `a0` = its hart id, `a1` = the FDT's
//! address and `a2` = the `fw_dynamic_info` address, at the firmware entry
//! ([`HartBoot`]); a CPU that can fetch from the ROM may instead start at
//! [`RESET_VECTOR`], whose code loads the same registers.
//!
//! Pitfall: the riscv64 `Image` header is little-endian and its `magic`
//! sits at offset 48 (`"RISCV\0\0\0"`, deprecated) and `magic2` at 56
//! (`"RSC\x05"`, Linux `Documentation/arch/riscv/boot-image-header.rst`);
//! `linux-loader` cannot load these on an x86 host, hence this module.

use std::path::Path;

use cranemu_softmmu::system::{ram::Ram, GuestPhysAddr, PAGE_SIZE};
use goblin::elf::{header::EM_RISCV, program_header::PT_LOAD, Elf};

use crate::layout::MROM_BASE;
use crate::{Error, Result};

/// 2 MiB: the kernel's alignment on RV64 (`riscv_calc_kernel_start_addr`)
/// and the FDT's (`riscv_compute_fdt_addr`).
pub const KERNEL_ALIGN: u64 = 2 << 20;
/// The FDT's alignment in RAM (bytes).
pub const FDT_ALIGN: u64 = 2 << 20;
/// The reset vector: the first instruction in the mask ROM.
pub const RESET_VECTOR: u64 = MROM_BASE;

/// `FW_DYNAMIC_INFO_MAGIC_VALUE`: "OSBI" little-endian.
pub const FW_DYNAMIC_INFO_MAGIC: u64 = 0x4942_534f;
/// `FW_DYNAMIC_INFO_VERSION_2`: the version that has `boot_hart`.
pub const FW_DYNAMIC_INFO_VERSION: u64 = 2;
/// `FW_DYNAMIC_INFO_NEXT_MODE_S`: the next stage runs in S mode.
pub const FW_DYNAMIC_INFO_NEXT_MODE_S: u64 = 1;
/// Size of `struct fw_dynamic_info` on RV64: six `unsigned long`s (bytes).
pub const FW_DYNAMIC_INFO_SIZE: usize = 48;

/// Size of the riscv64 `Image` header (bytes).
pub const IMAGE_HEADER_SIZE: usize = 64;
/// `magic` at offset 48: "RISCV\0\0\0".
pub const IMAGE_MAGIC: u64 = 0x56_4353_4952;
/// `magic2` at offset 56: "RSC\x05".
pub const IMAGE_MAGIC2: u32 = 0x0543_5352;

/// A boot file's contents and the name errors give it (its path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFile {
    /// The name errors use: the path as given, or a description.
    pub name: String,
    /// The file's bytes.
    pub data: Vec<u8>,
}

impl BootFile {
    /// Reads `path`.
    ///
    /// # Errors
    /// [`Error::BootFile`] (naming `path`) if it is missing or unreadable.
    pub fn read(path: impl AsRef<Path>) -> Result<BootFile> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| Error::BootFile {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(BootFile {
            name: path.display().to_string(),
            data,
        })
    }

    /// A file made of `data`, called `name` in errors.
    pub fn from_bytes(name: impl Into<String>, data: Vec<u8>) -> BootFile {
        BootFile {
            name: name.into(),
            data,
        }
    }

    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::BadImage {
            name: self.name.clone(),
            reason: reason.into(),
        }
    }
}

/// The fields of a riscv64 `Image` header (all little-endian in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// First instruction word (a jump past the header, or the PE "MZ").
    pub code0: u32,
    /// Second instruction word.
    pub code1: u32,
    /// Offset of the load address from the start of RAM (bytes).
    pub text_offset: u64,
    /// Bytes the kernel occupies once loaded, BSS included (0 in headers
    /// older than version 0.2: use the file size).
    pub image_size: u64,
    /// Kernel flags; bit 0 is the endianness (0 = little).
    pub flags: u64,
    /// Header version: major in bits 31..16, minor in 15..0.
    pub version: u32,
}

impl ImageHeader {
    /// Parses the header at the start of `data`; `None` when neither magic
    /// is there (not an `Image`).
    ///
    /// A file shorter than the header is `None` too.
    ///
    /// # Errors
    /// [`Error::BadImage`] for a big-endian image (flags bit 0) or an
    /// `image_size` smaller than the file.
    pub fn parse(file: &BootFile) -> Result<Option<ImageHeader>> {
        let d = &file.data;
        if d.len() < IMAGE_HEADER_SIZE {
            return Ok(None);
        }
        let u32_at = |o: usize| u32::from_le_bytes(d[o..o + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap_or([0; 8]));
        if u64_at(48) != IMAGE_MAGIC && u32_at(56) != IMAGE_MAGIC2 {
            return Ok(None);
        }
        let h = ImageHeader {
            code0: u32_at(0),
            code1: u32_at(4),
            text_offset: u64_at(8),
            image_size: u64_at(16),
            flags: u64_at(24),
            version: u32_at(32),
        };
        if h.flags & 1 != 0 {
            return Err(file.bad("big-endian riscv64 Image"));
        }
        if h.image_size != 0 && h.image_size < d.len() as u64 {
            // image_size counts the whole loaded kernel; a file longer than
            // it is not a kernel this header describes.
            return Err(file.bad(format!(
                "Image header says {:#x} bytes but the file has {:#x}",
                h.image_size,
                d.len()
            )));
        }
        Ok(Some(h))
    }
}

/// Where an image landed in guest physical memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Where execution starts (guest physical).
    pub entry: u64,
    /// First byte occupied.
    pub start: u64,
    /// One past the last byte occupied (BSS included).
    pub end: u64,
}

/// A named guest-physical range, for the overlap checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// `firmware`, `kernel`, `initrd`, `device tree`, or `firmware segment`.
    pub what: String,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The images placed so far in RAM; refuses overlaps and ranges outside
/// RAM. Ranges are half open, `[start, end)`.
#[derive(Debug, Clone)]
pub struct Placement {
    ram_start: u64,
    ram_end: u64,
    regions: Vec<Region>,
}

impl Placement {
    /// An empty placement for `ram`.
    pub fn new(ram: &Ram) -> Placement {
        Placement {
            ram_start: ram.base().0,
            ram_end: ram.base().0 + ram.size(),
            regions: Vec::new(),
        }
    }

    /// The regions placed, in order.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Checks `[start, start + len)` lies in RAM.
    ///
    /// # Errors
    /// [`Error::DoesNotFit`].
    pub fn check_in_ram(&self, what: &str, start: u64, len: u64) -> Result<()> {
        let end = start.checked_add(len);
        match end {
            Some(end) if start >= self.ram_start && end <= self.ram_end => Ok(()),
            _ => Err(Error::DoesNotFit {
                what: what.to_string(),
                start,
                end: start.saturating_add(len),
                ram_start: self.ram_start,
                ram_end: self.ram_end,
            }),
        }
    }

    /// Records `[start, start + len)` as `what`.
    ///
    /// # Errors
    /// [`Error::DoesNotFit`] outside RAM; [`Error::ImageOverlap`] if it
    /// meets a region already placed. An empty range is accepted (and
    /// overlaps nothing).
    pub fn claim(&mut self, what: &str, start: u64, len: u64) -> Result<()> {
        self.check_in_ram(what, start, len)?;
        let end = start + len;
        if len == 0 {
            return Ok(());
        }
        if let Some(o) = self.regions.iter().find(|r| r.start < end && start < r.end) {
            return Err(Error::ImageOverlap {
                what: what.to_string(),
                start,
                end,
                other: o.what.clone(),
                other_start: o.start,
                other_end: o.end,
            });
        }
        self.regions.push(Region {
            what: what.to_string(),
            start,
            end,
        });
        Ok(())
    }
}

fn align_up(x: u64, a: u64) -> Option<u64> {
    Some(x.checked_add(a - 1)? & !(a - 1))
}

fn align_down(x: u64, a: u64) -> u64 {
    x & !(a - 1)
}

fn write(ram: &Ram, at: u64, bytes: &[u8]) -> Result<()> {
    Ok(ram.write(GuestPhysAddr(at), bytes)?)
}

/// One `PT_LOAD` segment: where it goes and what it holds.
struct Segment<'a> {
    paddr: u64,
    vaddr: u64,
    data: &'a [u8],
    memsz: u64,
}

/// Parses `file` as a little-endian 64-bit RISC-V ELF and returns its
/// entry (virtual) and `PT_LOAD` segments.
fn elf_segments(file: &BootFile) -> Result<(u64, Vec<Segment<'_>>)> {
    let elf = Elf::parse(&file.data).map_err(|e| file.bad(format!("malformed ELF: {e}")))?;
    if !elf.is_64 || !elf.little_endian || elf.header.e_machine != EM_RISCV {
        return Err(file.bad("not a little-endian 64-bit RISC-V ELF"));
    }
    let mut segs = Vec::new();
    for ph in elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD) {
        let data = usize::try_from(ph.p_offset)
            .ok()
            .zip(usize::try_from(ph.p_filesz).ok())
            .and_then(|(o, n)| file.data.get(o..o.checked_add(n)?))
            .ok_or_else(|| {
                file.bad(format!(
                    "ELF segment at file offset {:#x}+{:#x} runs past the end of the file ({:#x} bytes)",
                    ph.p_offset,
                    ph.p_filesz,
                    file.data.len()
                ))
            })?;
        if ph.p_memsz < ph.p_filesz {
            return Err(file.bad("ELF segment with p_memsz < p_filesz"));
        }
        segs.push(Segment {
            paddr: ph.p_paddr,
            vaddr: ph.p_vaddr,
            data,
            memsz: ph.p_memsz,
        });
    }
    if segs.is_empty() {
        return Err(file.bad("ELF has no PT_LOAD segment"));
    }
    Ok((elf.entry, segs))
}

/// Loads ELF segments at `paddr + delta` (wrapping), zeroing their BSS,
/// after claiming each in `place` as `what`. Returns the occupied span.
fn load_segments(
    ram: &Ram,
    place: &mut Placement,
    what: &str,
    segs: &[Segment<'_>],
    delta: u64,
) -> Result<(u64, u64)> {
    let (mut lo, mut hi) = (u64::MAX, 0);
    // Claim all first, so that a bad segment leaves RAM untouched.
    for s in segs {
        let at = s.paddr.wrapping_add(delta);
        place.claim(what, at, s.memsz)?;
        lo = lo.min(at);
        hi = hi.max(at + s.memsz);
    }
    for s in segs {
        let at = s.paddr.wrapping_add(delta);
        write(ram, at, s.data)?;
        let bss = s.memsz - s.data.len() as u64;
        if bss > 0 {
            // Guest RAM may have been used before (a reboot): zero the BSS.
            let zeros = vec![0u8; usize::try_from(bss).unwrap_or(usize::MAX)];
            write(ram, at + s.data.len() as u64, &zeros)?;
        }
    }
    Ok((lo, hi))
}

/// Loads an ELF by `p_paddr` when every segment lies in RAM; otherwise
/// (a position-independent image linked at 0, like OpenSBI's
/// `fw_dynamic.elf` or Linux's `vmlinux`) moves all segments by one
/// offset that puts the 2 MiB block of the lowest at `slot`. The entry
/// (`e_entry`, virtual) is translated through the segment that holds it.
fn load_elf(
    ram: &Ram,
    place: &mut Placement,
    file: &BootFile,
    what: &str,
    slot: u64,
) -> Result<Loaded> {
    let (entry, segs) = elf_segments(file)?;
    let in_ram = segs
        .iter()
        .all(|s| place.check_in_ram(what, s.paddr, s.memsz).is_ok());
    let delta = if in_ram {
        0
    } else {
        let low = segs.iter().map(|s| s.paddr).min().unwrap_or(0);
        slot.wrapping_sub(align_down(low, KERNEL_ALIGN))
    };
    let entry_seg = segs
        .iter()
        .find(|s| entry.wrapping_sub(s.vaddr) < s.memsz.max(1));
    let entry = match entry_seg {
        Some(s) => s.paddr.wrapping_add(delta) + (entry - s.vaddr),
        None if in_ram => entry,
        None => return Err(file.bad(format!("ELF entry {entry:#x} is in no PT_LOAD segment"))),
    };
    let (start, end) = load_segments(ram, place, what, &segs, delta)?;
    Ok(Loaded { entry, start, end })
}

fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Loads the firmware: an ELF by its segments' physical addresses (entry
/// `e_entry`), anything else as a raw binary at the RAM base (entry = the
/// RAM base).
///
/// # Errors
/// [`Error::BadImage`] for a malformed ELF or an empty file;
/// [`Error::DoesNotFit`] / [`Error::ImageOverlap`] from `place`.
pub fn load_firmware(ram: &Ram, place: &mut Placement, fw: &BootFile) -> Result<Loaded> {
    if is_elf(&fw.data) {
        return load_elf(ram, place, fw, "firmware", ram.base().0);
    }
    if fw.data.is_empty() {
        return Err(fw.bad("empty firmware file"));
    }
    let base = ram.base().0;
    place.claim("firmware", base, fw.data.len() as u64)?;
    write(ram, base, &fw.data)?;
    Ok(Loaded {
        entry: base,
        start: base,
        end: base + fw.data.len() as u64,
    })
}

/// The kernel slot: the first [`KERNEL_ALIGN`]-aligned address at or
/// after `firmware_end` (the RAM base without firmware).
pub fn kernel_start(ram: &Ram, firmware_end: Option<u64>) -> u64 {
    let from = firmware_end.unwrap_or(ram.base().0);
    align_up(from, KERNEL_ALIGN).unwrap_or(u64::MAX)
}

/// Loads the kernel (a riscv64 `Image` or an ELF) at or above `start`
/// (see the module doc for where exactly).
///
/// # Errors
/// [`Error::BadImage`] if it is neither an `Image` nor a RISC-V ELF, or
/// malformed; [`Error::DoesNotFit`] / [`Error::ImageOverlap`].
pub fn load_kernel(ram: &Ram, place: &mut Placement, k: &BootFile, start: u64) -> Result<Loaded> {
    if is_elf(&k.data) {
        return load_elf(ram, place, k, "kernel", start);
    }
    let h = ImageHeader::parse(k)?.ok_or_else(|| {
        k.bad(format!(
            "not a riscv64 Image (no \"RISCV\"/\"RSC\\x05\" magic in a {IMAGE_HEADER_SIZE}-byte header) nor an ELF"
        ))
    })?;
    let at = start.max(ram.base().0.saturating_add(h.text_offset));
    let len = (k.data.len() as u64).max(h.image_size);
    place.claim("kernel", at, len)?;
    write(ram, at, &k.data)?;
    let bss = len - k.data.len() as u64;
    if bss > 0 {
        let zeros = vec![0u8; usize::try_from(bss).unwrap_or(usize::MAX)];
        write(ram, at + k.data.len() as u64, &zeros)?;
    }
    Ok(Loaded {
        entry: at,
        start: at,
        end: at + len,
    })
}

/// The FDT's address for a blob of `fdt_len` bytes: the highest
/// [`FDT_ALIGN`]-aligned address with the whole blob below the end of RAM.
///
/// # Errors
/// [`Error::DoesNotFit`] when RAM is smaller than the blob.
pub fn fdt_addr(ram: &Ram, fdt_len: u64) -> Result<u64> {
    let (base, end) = (ram.base().0, ram.base().0 + ram.size());
    match end.checked_sub(fdt_len).map(|t| align_down(t, FDT_ALIGN)) {
        Some(a) if a >= base => Ok(a),
        _ => Err(Error::DoesNotFit {
            what: "device tree".into(),
            start: base,
            end: base + fdt_len,
            ram_start: base,
            ram_end: end,
        }),
    }
}

/// Where the initrd of `len` bytes goes: QEMU's spot (`kernel_entry` +
/// min(RAM size / 2, 128 MiB)) when it ends at or below `limit` (the FDT),
/// else the highest page-aligned spot below `limit` above `kernel_end`.
///
/// # Errors
/// [`Error::DoesNotFit`] if neither exists.
pub fn initrd_addr(
    ram: &Ram,
    kernel_entry: u64,
    kernel_end: u64,
    limit: u64,
    len: u64,
) -> Result<u64> {
    let qemu = kernel_entry.saturating_add((ram.size() / 2).min(128 << 20));
    let qemu = align_up(qemu, PAGE_SIZE).unwrap_or(u64::MAX);
    if qemu.checked_add(len).is_some_and(|e| e <= limit) {
        return Ok(qemu);
    }
    match limit.checked_sub(len).map(|a| align_down(a, PAGE_SIZE)) {
        Some(a) if a >= kernel_end && a >= ram.base().0 => Ok(a),
        _ => Err(Error::DoesNotFit {
            what: "initrd".into(),
            start: qemu,
            end: qemu.saturating_add(len),
            ram_start: ram.base().0,
            ram_end: limit,
        }),
    }
}

/// OpenSBI's `struct fw_dynamic_info` (version 2): what fw_dynamic jumps
/// to after it has set up M mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FwDynamicInfo {
    /// The next stage's entry (guest physical): the kernel.
    pub next_addr: u64,
    /// The next stage's privilege: [`FW_DYNAMIC_INFO_NEXT_MODE_S`].
    pub next_mode: u64,
    /// OpenSBI options (0: none).
    pub options: u64,
    /// The hart that boots (the others wait); QEMU passes 0.
    pub boot_hart: u64,
}

impl FwDynamicInfo {
    /// The struct as RV64 lays it out: magic, version, next_addr,
    /// next_mode, options, boot_hart, each a little-endian u64.
    pub fn to_bytes(&self) -> [u8; FW_DYNAMIC_INFO_SIZE] {
        let mut out = [0u8; FW_DYNAMIC_INFO_SIZE];
        let words = [
            FW_DYNAMIC_INFO_MAGIC,
            FW_DYNAMIC_INFO_VERSION,
            self.next_addr,
            self.next_mode,
            self.options,
            self.boot_hart,
        ];
        for (c, w) in out.chunks_exact_mut(8).zip(words) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// The mask ROM's contents: QEMU's RV64 reset vector (`auipc t0, 0; addi
/// a2, t0, 40; csrr a0, mhartid; ld a1, 32(t0); ld t0, 24(t0); jr t0`),
/// the firmware entry and FDT address it loads, then `fw_dynamic_info` at
/// offset [`ROM_FW_DYNAMIC_INFO_OFFSET`].
pub fn reset_rom(firmware_entry: u64, fdt: u64, info: &FwDynamicInfo) -> Vec<u8> {
    let code: [u32; 6] = [
        0x0000_0297, // 1: auipc t0, %pcrel_hi(fw_dyn)
        0x0282_8613, //    addi a2, t0, %pcrel_lo(1b)
        0xf140_2573, //    csrr a0, mhartid
        0x0202_b583, //    ld a1, 32(t0)
        0x0182_b283, //    ld t0, 24(t0)
        0x0002_8067, //    jr t0
    ];
    let mut rom: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    rom.extend_from_slice(&firmware_entry.to_le_bytes());
    rom.extend_from_slice(&fdt.to_le_bytes());
    rom.extend_from_slice(&info.to_bytes());
    rom
}

/// Offset of `fw_dynamic_info` in the mask ROM (after 10 words of reset
/// vector and data).
pub const ROM_FW_DYNAMIC_INFO_OFFSET: u64 = 40;

/// The register state a hart starts in (M mode; other registers zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HartBoot {
    /// The first instruction: the firmware entry (or the kernel's without
    /// firmware).
    pub pc: u64,
    /// `a0`: the hart id.
    pub a0: u64,
    /// `a1`: the FDT's guest-physical address.
    pub a1: u64,
    /// `a2`: the `fw_dynamic_info` address (in the mask ROM).
    pub a2: u64,
}

/// Synthetic boot images shared by this module's tests and [`crate::virt`]'s.
#[cfg(test)]
pub(crate) mod testimg {
    /// A riscv64 `Image`: header, then `body` bytes of 0xaa.
    pub fn image(text_offset: u64, image_size: u64, body: usize) -> Vec<u8> {
        let mut d = vec![0u8; 64];
        d[0..4].copy_from_slice(&0x0400_006fu32.to_le_bytes()); // j +64
        d[8..16].copy_from_slice(&text_offset.to_le_bytes());
        d[16..24].copy_from_slice(&image_size.to_le_bytes());
        d[32..36].copy_from_slice(&2u32.to_le_bytes()); // version 0.2
        d[48..56].copy_from_slice(&super::IMAGE_MAGIC.to_le_bytes());
        d[56..60].copy_from_slice(&super::IMAGE_MAGIC2.to_le_bytes());
        d.extend(std::iter::repeat_n(0xaa, body));
        d
    }

    /// One `PT_LOAD`: (paddr, vaddr, data, memsz).
    pub type Seg<'a> = (u64, u64, &'a [u8], u64);

    /// A little-endian ELF64 for `machine` with `segs` and `entry`.
    pub fn elf(machine: u16, entry: u64, segs: &[Seg<'_>]) -> Vec<u8> {
        let mut d = vec![0u8; 64];
        d[0..4].copy_from_slice(b"\x7fELF");
        d[4] = 2; // ELFCLASS64
        d[5] = 1; // ELFDATA2LSB
        d[6] = 1; // EV_CURRENT
        d[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        d[18..20].copy_from_slice(&machine.to_le_bytes());
        d[20..24].copy_from_slice(&1u32.to_le_bytes());
        d[24..32].copy_from_slice(&entry.to_le_bytes());
        d[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        d[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        d[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        d[56..58].copy_from_slice(&(segs.len() as u16).to_le_bytes());
        d[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        let mut off = 64 + 56 * segs.len() as u64;
        let mut data = Vec::new();
        for &(paddr, vaddr, bytes, memsz) in segs {
            let mut ph = Vec::with_capacity(56);
            ph.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
            ph.extend_from_slice(&7u32.to_le_bytes()); // RWX
            for v in [off, vaddr, paddr, bytes.len() as u64, memsz, 0x1000] {
                ph.extend_from_slice(&v.to_le_bytes());
            }
            d.extend_from_slice(&ph);
            data.extend_from_slice(bytes);
            off += bytes.len() as u64;
        }
        d.extend_from_slice(&data);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::testimg::{elf, image};
    use super::*;

    const MIB: u64 = 1 << 20;

    fn ram(size: u64) -> Ram {
        Ram::new(GuestPhysAddr(crate::layout::DRAM_BASE), size).unwrap()
    }

    fn file(data: Vec<u8>) -> BootFile {
        BootFile::from_bytes("test.img", data)
    }

    fn peek(ram: &Ram, at: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0; len];
        ram.read(GuestPhysAddr(at), &mut b).unwrap();
        b
    }

    #[test]
    fn image_header_fields() {
        let h = ImageHeader::parse(&file(image(0x20_0000, 0x40_0000, 100)))
            .unwrap()
            .unwrap();
        assert_eq!(
            h,
            ImageHeader {
                code0: 0x0400_006f,
                code1: 0,
                text_offset: 0x20_0000,
                image_size: 0x40_0000,
                flags: 0,
                version: 2,
            }
        );
        // Only magic2 (the current one) is enough, and so is the old magic.
        let mut d = image(0x20_0000, 0, 0);
        d[48..56].fill(0);
        assert!(ImageHeader::parse(&file(d)).unwrap().is_some());
        let mut d = image(0x20_0000, 0, 0);
        d[56..60].fill(0);
        assert!(ImageHeader::parse(&file(d)).unwrap().is_some());
    }

    #[test]
    fn image_header_rejects() {
        assert_eq!(ImageHeader::parse(&file(vec![0; 63])).unwrap(), None);
        assert_eq!(ImageHeader::parse(&file(vec![0; 4096])).unwrap(), None);
        let mut be = image(0, 0, 0);
        be[24] = 1;
        assert!(matches!(
            ImageHeader::parse(&file(be)),
            Err(Error::BadImage { .. })
        ));
        assert!(matches!(
            ImageHeader::parse(&file(image(0, 64, 100))),
            Err(Error::BadImage { .. })
        ));
    }

    #[test]
    fn image_kernel_after_firmware_with_bss_zeroed() {
        let ram = ram(64 * MIB);
        // Garbage where the BSS will be (a previous boot).
        ram.write(GuestPhysAddr(0x8020_1000), &[0x55; 64]).unwrap();
        let mut p = Placement::new(&ram);
        let fw = load_firmware(&ram, &mut p, &file(vec![0x13; 0x1_2345])).unwrap();
        assert_eq!(
            fw,
            Loaded {
                entry: 0x8000_0000,
                start: 0x8000_0000,
                end: 0x8001_2345
            }
        );
        let slot = kernel_start(&ram, Some(fw.end));
        assert_eq!(slot, 0x8020_0000);
        let k = load_kernel(&ram, &mut p, &file(image(0x20_0000, 0x2000, 0x100)), slot).unwrap();
        assert_eq!(
            k,
            Loaded {
                entry: 0x8020_0000,
                start: 0x8020_0000,
                end: 0x8020_2000
            }
        );
        assert_eq!(peek(&ram, 0x8020_0000, 4), 0x0400_006fu32.to_le_bytes());
        assert_eq!(peek(&ram, 0x8020_0040, 2), [0xaa, 0xaa]);
        assert_eq!(peek(&ram, 0x8020_1000, 64), [0; 64]);
        assert_eq!(peek(&ram, 0x8000_0000, 1), [0x13]);
    }

    #[test]
    fn image_text_offset_is_honoured() {
        let ram = ram(64 * MIB);
        let mut p = Placement::new(&ram);
        let k = load_kernel(&ram, &mut p, &file(image(0x40_0000, 0, 16)), 0x8020_0000).unwrap();
        assert_eq!((k.entry, k.end), (0x8040_0000, 0x8040_0000 + 64 + 16));
        // A firmware end above base + text_offset wins.
        let mut p = Placement::new(&ram);
        let k = load_kernel(&ram, &mut p, &file(image(0x20_0000, 0, 16)), 0x8060_0000).unwrap();
        assert_eq!(k.entry, 0x8060_0000);
    }

    #[test]
    fn kernel_neither_image_nor_elf() {
        let ram = ram(16 * MIB);
        for d in [vec![], vec![1, 2, 3], vec![0x13; 4096], b"\x7fELF".to_vec()] {
            let e =
                load_kernel(&ram, &mut Placement::new(&ram), &file(d), 0x8020_0000).unwrap_err();
            assert!(matches!(e, Error::BadImage { .. }), "{e}");
            assert!(e.to_string().starts_with("test.img: "), "{e}");
        }
    }

    #[test]
    fn kernel_that_does_not_fit() {
        let ram = ram(16 * MIB);
        let e = load_kernel(
            &ram,
            &mut Placement::new(&ram),
            &file(image(0x20_0000, 15 * MIB, 0)),
            0x8020_0000,
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::DoesNotFit { ref what, start: 0x8020_0000, end: 0x8110_0000, .. } if what == "kernel"),
            "{e}"
        );
    }

    #[test]
    fn elf_firmware_by_physical_address() {
        let ram = ram(16 * MIB);
        ram.write(GuestPhysAddr(0x8000_1010), &[0xff; 16]).unwrap();
        let d = elf(
            243,
            0x8000_0000,
            &[
                (0x8000_0000, 0x8000_0000, &[1, 2, 3, 4], 4),
                (0x8000_1000, 0x8000_1000, &[5; 16], 32),
            ],
        );
        let mut p = Placement::new(&ram);
        let fw = load_firmware(&ram, &mut p, &file(d)).unwrap();
        assert_eq!(
            fw,
            Loaded {
                entry: 0x8000_0000,
                start: 0x8000_0000,
                end: 0x8000_1020
            }
        );
        assert_eq!(peek(&ram, 0x8000_0000, 4), [1, 2, 3, 4]);
        assert_eq!(peek(&ram, 0x8000_1000, 32)[..16], [5; 16]);
        assert_eq!(peek(&ram, 0x8000_1010, 16), [0; 16]);
        assert_eq!(p.regions().len(), 2);
    }

    #[test]
    fn elf_kernel_linked_at_zero_is_moved_to_the_kernel_slot() {
        // Like Linux's vmlinux: virtual 0xffffffff80000000, physical 0.
        let ram = ram(64 * MIB);
        let d = elf(
            243,
            0xffff_ffff_8000_0000,
            &[
                (0, 0xffff_ffff_8000_0000, &[7; 8], 8),
                (0x1000, 0xffff_ffff_8000_1000, &[9; 8], 0x100),
            ],
        );
        let k = load_kernel(&ram, &mut Placement::new(&ram), &file(d), 0x8020_0000).unwrap();
        assert_eq!(
            k,
            Loaded {
                entry: 0x8020_0000,
                start: 0x8020_0000,
                end: 0x8020_1100
            }
        );
        assert_eq!(peek(&ram, 0x8020_1000, 8), [9; 8]);
        // Physical addresses inside RAM are used as they are, and the
        // virtual entry is translated through its segment.
        let d = elf(
            243,
            0xffff_ffff_8000_0010,
            &[(0x8040_0000, 0xffff_ffff_8000_0000, &[1; 32], 32)],
        );
        let k = load_kernel(&ram, &mut Placement::new(&ram), &file(d), 0x8020_0000).unwrap();
        assert_eq!((k.entry, k.start), (0x8040_0010, 0x8040_0000));
    }

    #[test]
    fn malformed_elves() {
        let ram = ram(16 * MIB);
        let mut truncated = elf(
            243,
            0x8000_0000,
            &[(0x8000_0000, 0x8000_0000, &[1; 64], 64)],
        );
        truncated.truncate(truncated.len() - 10);
        let x86 = elf(62, 0x8000_0000, &[(0x8000_0000, 0x8000_0000, &[1; 4], 4)]);
        let none = elf(243, 0x8000_0000, &[]);
        let header_only = elf(243, 0, &[])[..40].to_vec();
        for d in [truncated, x86, none, header_only] {
            let e = load_firmware(&ram, &mut Placement::new(&ram), &file(d)).unwrap_err();
            assert!(matches!(e, Error::BadImage { .. }), "{e}");
        }
        // Linked at 0 (position independent): moved to the RAM base.
        let pic = elf(
            243,
            0x10,
            &[(0x0, 0x0, &[1; 4], 0x20), (0x4_0000, 0x4_0000, &[2; 4], 4)],
        );
        let fw = load_firmware(&ram, &mut Placement::new(&ram), &file(pic)).unwrap();
        assert_eq!(
            (fw.entry, fw.start, fw.end),
            (0x8000_0010, 0x8000_0000, 0x8004_0004)
        );
        // Entry outside every segment of a moved image.
        let lost = elf(243, 0x9999_0000, &[(0, 0, &[1; 4], 4)]);
        let e = load_firmware(&ram, &mut Placement::new(&ram), &file(lost)).unwrap_err();
        assert!(matches!(e, Error::BadImage { .. }), "{e}");
        // Larger than RAM however it is moved.
        let huge = elf(243, 0, &[(0, 0, &[1; 4], 17 << 20)]);
        let e = load_firmware(&ram, &mut Placement::new(&ram), &file(huge)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::DoesNotFit {
                    start: 0x8000_0000,
                    end: 0x8110_0000,
                    ..
                }
            ),
            "{e}"
        );
        // Partly past the end of RAM: moved to the RAM base, then fits.
        let past_end = elf(243, 0, &[(0x80ff_fff0, 0, &[1; 4], 0x20)]);
        let fw = load_firmware(&ram, &mut Placement::new(&ram), &file(past_end)).unwrap();
        assert_eq!(fw.start, 0x801f_fff0);
        assert!(matches!(
            load_firmware(&ram, &mut Placement::new(&ram), &file(vec![])),
            Err(Error::BadImage { .. })
        ));
    }

    #[test]
    fn overlapping_images_are_refused() {
        let ram = ram(16 * MIB);
        let mut p = Placement::new(&ram);
        load_firmware(&ram, &mut p, &file(vec![0; 0x3000])).unwrap();
        let k = elf(
            243,
            0x8000_2000,
            &[(0x8000_2000, 0x8000_2000, &[1; 0x100], 0x100)],
        );
        let e = load_kernel(&ram, &mut p, &file(k), 0x8020_0000).unwrap_err();
        assert!(
            matches!(e, Error::ImageOverlap { ref what, ref other, other_end: 0x8000_3000, .. }
                if what == "kernel" && other == "firmware"),
            "{e}"
        );
        // Touching is fine, empty ranges overlap nothing.
        p.claim("x", 0x8000_3000, 0x10).unwrap();
        p.claim("y", 0x8000_0000, 0).unwrap();
    }

    #[test]
    fn fdt_goes_to_the_top_2mib_slot() {
        let r = ram(128 * MIB);
        assert_eq!(fdt_addr(&r, 0x1000).unwrap(), 0x8000_0000 + 126 * MIB);
        assert_eq!(fdt_addr(&r, 2 * MIB).unwrap(), 0x8000_0000 + 126 * MIB);
        assert_eq!(fdt_addr(&r, 2 * MIB + 1).unwrap(), 0x8000_0000 + 124 * MIB);
        assert!(matches!(
            fdt_addr(&r, 129 * MIB),
            Err(Error::DoesNotFit { .. })
        ));
    }

    #[test]
    fn initrd_placement() {
        let big = ram(512 * MIB);
        let fdt = fdt_addr(&big, 0x2000).unwrap();
        // QEMU: entry + 128 MiB for RAM over 256 MiB.
        assert_eq!(
            initrd_addr(&big, 0x8020_0000, 0x8120_0000, fdt, 10 * MIB).unwrap(),
            0x8820_0000
        );
        let small = ram(64 * MIB);
        let fdt = fdt_addr(&small, 0x2000).unwrap();
        assert_eq!(fdt, 0x83e0_0000);
        // entry + RAM / 2.
        assert_eq!(
            initrd_addr(&small, 0x8020_0000, 0x8040_0000, fdt, 0x1234).unwrap(),
            0x8220_0000
        );
        // Too big for QEMU's spot: as high as fits below the FDT, page aligned.
        let a = initrd_addr(&small, 0x8020_0000, 0x8040_0000, fdt, 40 * MIB + 5).unwrap();
        assert_eq!(a % PAGE_SIZE, 0);
        assert!(a + 40 * MIB + 5 <= fdt && a >= 0x8040_0000);
        assert_eq!(a, (fdt - 40 * MIB - 5) & !0xfff);
        // Too big for the space between kernel and FDT.
        assert!(matches!(
            initrd_addr(&small, 0x8020_0000, 0x8040_0000, fdt, 60 * MIB),
            Err(Error::DoesNotFit { ref what, .. }) if what == "initrd"
        ));
    }

    #[test]
    fn fw_dynamic_info_bytes() {
        let info = FwDynamicInfo {
            next_addr: 0x8020_0000,
            next_mode: FW_DYNAMIC_INFO_NEXT_MODE_S,
            options: 0,
            boot_hart: 0,
        };
        let b = info.to_bytes();
        assert_eq!(&b[0..8], b"OSBI\0\0\0\0");
        assert_eq!(b[8..16], 2u64.to_le_bytes());
        assert_eq!(b[16..24], 0x8020_0000u64.to_le_bytes());
        assert_eq!(b[24..32], 1u64.to_le_bytes());
        assert_eq!(b[32..48], [0; 16]);
    }

    #[test]
    fn reset_rom_layout() {
        let info = FwDynamicInfo {
            next_addr: 0x8020_0000,
            next_mode: 1,
            options: 0,
            boot_hart: 0,
        };
        let rom = reset_rom(0x8000_0000, 0x87e0_0000, &info);
        let word = |o: usize| u32::from_le_bytes(rom[o..o + 4].try_into().unwrap());
        // addi a2, t0, 40 points a2 at fw_dynamic_info.
        assert_eq!(word(4) >> 20, ROM_FW_DYNAMIC_INFO_OFFSET as u32);
        // ld a1, 32(t0) and ld t0, 24(t0) load the FDT and the entry.
        assert_eq!(word(12) >> 20, 32);
        assert_eq!(word(16) >> 20, 24);
        assert_eq!(rom[24..32], 0x8000_0000u64.to_le_bytes());
        assert_eq!(rom[32..40], 0x87e0_0000u64.to_le_bytes());
        assert_eq!(rom[40..], info.to_bytes());
    }

    #[test]
    fn missing_file_names_its_path() {
        let e = BootFile::read("/nonexistent/cranemu/fw_dynamic.bin").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("cannot read /nonexistent/cranemu/fw_dynamic.bin: "),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        let dir = BootFile::read("/").unwrap_err();
        assert!(matches!(dir, Error::BootFile { .. }));
    }
}
