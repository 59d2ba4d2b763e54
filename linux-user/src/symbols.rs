//! Guest symbols for `-perfmap`: names of compiled blocks in
//! `/tmp/perf-PID.map` ([`cranemu_runtime::perfmap`]).
//!
//! A block at guest pc `pc` is named `guest:SYMBOL+0xOFF@0xPC` when `pc`
//! lies inside a function symbol (`STT_FUNC` or `STT_GNU_IFUNC`, from
//! `.symtab` and `.dynsym`) of the ELF mapped there,
//! `guest:FILE+0xVADDR@0xPC` when it lies in an ELF without a symbol
//! there (FILE the file's name, VADDR the link-time address, as `objdump
//! -d` shows it: internal functions of a stripped library), and
//! `guest:0xPC` otherwise. The ELF images are the main program and its interpreter
//! (registered by [`crate::run_program`]) and every file the guest maps
//! executable with `mmap` (the shared libraries `ld.so` maps), read from
//! the file the mapping came from and parsed once per path. Debian's
//! binaries are stripped of `.symtab`, so a static program such as
//! `busybox` gets `guest:busybox+0xVADDR@0xPC` names; a dynamic one gets
//! its exported functions and its libraries' (libc's `memcpy`, `strlen`,
//! ...).
//!
//! Regions are never forgotten (an `munmap` leaves its region): the newest
//! region containing a pc wins, which is the mapping there now. A forked
//! child inherits them with the rest of the process.
//!
//! The state is touched only under the perf map's lock
//! ([`PerfMap::with_lock`], and the namer runs under it), so the mutex
//! here is never contended and a fork never inherits it held.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cranemu_runtime::perfmap::PerfMap;

/// Function symbols of one ELF file, by link-time virtual address.
#[derive(Debug, Default)]
struct SymTable {
    /// (address, size in bytes, name), sorted by address.
    funcs: Vec<(u64, u64, String)>,
    /// The `PT_LOAD` segments: (`p_offset`, `p_vaddr`).
    loads: Vec<(u64, u64)>,
}

impl SymTable {
    /// The function symbols of the ELF `image`, or `None` if it is not a
    /// parsable ELF. Symbols of size 0 are kept with size 1 (a name is
    /// better than none at their first byte).
    fn parse(image: &[u8]) -> Option<SymTable> {
        use goblin::elf::sym::{STT_FUNC, STT_GNU_IFUNC};
        let elf = goblin::elf::Elf::parse(image).ok()?;
        let mut funcs = Vec::new();
        for (syms, strs) in [(&elf.syms, &elf.strtab), (&elf.dynsyms, &elf.dynstrtab)] {
            for s in syms.iter() {
                if !matches!(s.st_type(), STT_FUNC | STT_GNU_IFUNC) || s.st_value == 0 {
                    continue;
                }
                let Some(name) = strs.get_at(s.st_name).filter(|n| !n.is_empty()) else {
                    continue;
                };
                funcs.push((s.st_value, s.st_size.max(1), name.to_owned()));
            }
        }
        funcs.sort();
        funcs.dedup_by(|a, b| a.0 == b.0);
        let loads = elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD)
            .map(|p| (p.p_offset, p.p_vaddr))
            .collect();
        Some(SymTable { funcs, loads })
    }

    /// The load bias of a mapping of this file at file offset `off`
    /// placed at guest `addr`: the `PT_LOAD` whose page-aligned file
    /// offset is `off` has its page-aligned `p_vaddr` at `addr`.
    fn load_bias(&self, off: u64, addr: u64) -> Option<u64> {
        const PAGE: u64 = 4096;
        let &(_, vaddr) = self.loads.iter().find(|l| l.0 & !(PAGE - 1) == off)?;
        Some(addr.wrapping_sub(vaddr & !(PAGE - 1)))
    }

    /// The function containing link-time address `vaddr`, and the offset
    /// into it.
    fn find(&self, vaddr: u64) -> Option<(&str, u64)> {
        let i = self
            .funcs
            .partition_point(|f| f.0 <= vaddr)
            .checked_sub(1)?;
        let (start, size, name) = &self.funcs[i];
        (vaddr - start < *size).then(|| (name.as_str(), vaddr - start))
    }
}

/// Guest addresses `[lo, hi)` mapped from an ELF whose link-time address
/// `v` is at guest address `v + bias` (wrapping).
struct Region {
    lo: u64,
    hi: u64,
    bias: u64,
    table: Arc<SymTable>,
    /// The file's name (no directory), for pcs outside its symbols.
    file: Arc<str>,
}

/// The regions and the parsed files (see the module doc).
struct Symbols {
    regions: Vec<Region>,
    /// Parsed files by host path (`None`: not an ELF, or unreadable).
    files: Vec<(PathBuf, Option<Arc<SymTable>>)>,
}

static SYMBOLS: Mutex<Symbols> = Mutex::new(Symbols {
    regions: Vec::new(),
    files: Vec::new(),
});

fn symbols() -> MutexGuard<'static, Symbols> {
    SYMBOLS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The name of the block at guest pc `pc` (see the module doc). Call it
/// under the perf map's lock (it is the map's namer).
pub(crate) fn name(pc: u64) -> String {
    let s = symbols();
    let Some(r) = s.regions.iter().rev().find(|r| (r.lo..r.hi).contains(&pc)) else {
        return format!("guest:{pc:#x}");
    };
    let vaddr = pc.wrapping_sub(r.bias);
    match r.table.find(vaddr) {
        Some((sym, off)) => format!("guest:{sym}+{off:#x}@{pc:#x}"),
        None => format!("guest:{}+{vaddr:#x}@{pc:#x}", r.file),
    }
}

/// The last component of `path`, for names.
fn file_name(path: &Path) -> Arc<str> {
    path.file_name()
        .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy())
        .into()
}

/// Registers the ELF `image` (from `file`) loaded at guest `[lo, hi)`
/// with load bias `bias` (the main program or its interpreter).
pub(crate) fn add_image(perf: &PerfMap, file: &Path, image: &[u8], lo: u64, hi: u64, bias: u64) {
    let Some(table) = SymTable::parse(image) else {
        return;
    };
    let (table, file) = (Arc::new(table), file_name(file));
    perf.with_lock(|| {
        symbols().regions.push(Region {
            lo,
            hi,
            bias,
            table,
            file,
        });
    });
}

/// Registers a private file mapping the guest made executable: host file
/// descriptor `fd` (the guest's are the host's), file offset `off`, at
/// guest `[addr, addr + len)`. The load bias comes from the `PT_LOAD`
/// segment that starts at that page of the file. Files that are not ELF
/// images, or that no segment maps at `off`, name nothing.
pub(crate) fn add_file_mapping(perf: &PerfMap, fd: i32, off: u64, addr: u64, len: u64) {
    let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else {
        return;
    };
    perf.with_lock(|| {
        let mut s = symbols();
        let table = match s.files.iter().find(|(p, _)| *p == path) {
            Some((_, t)) => t.clone(),
            None => {
                let t = parse_file(&path);
                s.files.push((path.clone(), t.clone()));
                t
            }
        };
        let Some(table) = table else { return };
        let Some(bias) = table.load_bias(off, addr) else {
            return;
        };
        s.regions.push(Region {
            lo: addr,
            hi: addr.saturating_add(len),
            bias,
            table,
            file: file_name(&path),
        });
    });
}

fn parse_file(path: &Path) -> Option<Arc<SymTable>> {
    let bytes = std::fs::read(path).ok()?;
    SymTable::parse(&bytes).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_inside_and_between_functions() {
        let t = SymTable {
            funcs: vec![(0x100, 0x10, "a".into()), (0x200, 0x20, "b".into())],
            loads: vec![(0, 0), (0x1234, 0x11234)],
        };
        assert_eq!(
            t.load_bias(0x1000, 0x7000_0000),
            Some(0x7000_0000 - 0x11000)
        );
        assert_eq!(t.find(0x100), Some(("a", 0)));
        assert_eq!(t.find(0x10f), Some(("a", 0xf)));
        assert_eq!(t.find(0x110), None);
        assert_eq!(t.find(0x21c), Some(("b", 0x1c)));
        assert_eq!(t.find(0xff), None);
        assert_eq!(t.find(0x220), None);
    }

    #[test]
    fn not_an_elf_has_no_table() {
        assert!(SymTable::parse(b"#!/bin/sh\n").is_none());
    }
}
