//! `cranemu run` on things it cannot run: each must exit 127 (not found) or
//! 126 (found but cannot be executed), print exactly one line on stderr that
//! names the file and the reason, and never panic.
//!
//! These check cranemu's own command line, so they are skipped under
//! `CRANEMU_TEST_RUNNER` (see tests/common/mod.rs).

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Runs `cranemu run PATH` and checks the status and the one-line message.
/// `reasons`: the message must contain one of these (case-insensitive), if any.
fn check_rejected(path: &Path, status: i32, reasons: &[&str]) {
    if runner().is_some() {
        eprintln!(
            "skipped under CRANEMU_TEST_RUNNER: checks cranemu's own messages and exit codes"
        );
        return;
    }
    let out = cranemu_cmd().arg("run").arg(path).run();
    let what = format!("`{}`", out.cmdline);
    assert!(
        !out.stderr.contains("panicked"),
        "{what} panicked:\n{}",
        out.stderr
    );
    assert_eq!(
        out.signal, None,
        "{what} was killed by signal {:?}; stderr:\n{}",
        out.signal, out.stderr
    );
    assert_eq!(
        out.status, status,
        "{what}: exit status; stderr:\n{}",
        out.stderr
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: expected exactly one line on stderr, got:\n{}",
        out.stderr
    );
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(
        lines[0].contains(&*name),
        "{what}: the message does not name the file {name:?}: {:?}",
        lines[0]
    );
    let lower = lines[0].to_lowercase();
    assert!(
        reasons.is_empty() || reasons.iter().any(|r| lower.contains(r)),
        "{what}: the message gives no reason (expected one of {reasons:?}): {:?}",
        lines[0]
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: unexpected stdout: {}",
        out.stdout_str()
    );
}

fn hello_elf() -> Vec<u8> {
    std::fs::read(repo().join("tests/guest/bin/hello")).expect("tests/guest/bin/hello")
}

fn write_file(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// File offsets of the ELF64 program headers of type PT_LOAD.
fn load_phdrs(elf: &[u8]) -> Vec<usize> {
    let phoff = u64_at(elf, 0x20) as usize;
    let phentsize = u16_at(elf, 0x36) as usize;
    let phnum = u16_at(elf, 0x38) as usize;
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&off| u32::from_le_bytes(elf[off..off + 4].try_into().unwrap()) == 1)
        .collect()
}
// Elf64_Phdr field offsets.
const P_OFFSET: usize = 8;
const P_VADDR: usize = 16;
const P_PADDR: usize = 24;
const P_FILESZ: usize = 32;
const P_MEMSZ: usize = 40;

#[test]
fn missing_file() {
    let dir = scratch_dir("bad-missing");
    check_rejected(
        &dir.join("no-such-program"),
        127,
        &["no such file", "not found"],
    );
}

#[test]
fn directory() {
    let dir = scratch_dir("bad-dir");
    let sub = dir.join("a-directory");
    std::fs::create_dir(&sub).unwrap();
    check_rejected(&sub, 126, &["directory"]);
}

/// A text file without `#!`: a shell would run it as a script; we report
/// "Exec format error" (126), like execve(2).
#[test]
fn text_file() {
    let dir = scratch_dir("bad-text");
    let p = write_file(&dir, "script.txt", b"echo hello\n", 0o755);
    check_rejected(&p, 126, &[]);
}

/// `#!` scripts that name themselves, or each other in a loop: "Too many
/// levels of symbolic links" (`ELOOP`, as execve(2) fails), not a host
/// stack overflow.
#[test]
fn script_interpreter_loops() {
    let dir = scratch_dir("bad-script-loop");
    let own = dir.join("self.sh");
    write_file(
        &dir,
        "self.sh",
        format!("#!{}\necho x\n", own.display()).as_bytes(),
        0o755,
    );
    check_rejected(&own, 126, &["too many levels"]);
    let (a, b) = (dir.join("a.sh"), dir.join("b.sh"));
    write_file(
        &dir,
        "a.sh",
        format!("#!{}\n", b.display()).as_bytes(),
        0o755,
    );
    write_file(
        &dir,
        "b.sh",
        format!("#!{}\n", a.display()).as_bytes(),
        0o755,
    );
    check_rejected(&a, 126, &["too many levels"]);
}

/// Five nested `#!` scripts may end in a program, as under Linux; a
/// sixth is one too many ("Too many levels of symbolic links").
#[test]
fn nested_scripts_up_to_five() {
    if runner().is_some() {
        return;
    }
    let dir = scratch_dir("bad-script-nest");
    let mut interp = repo().join("tests/guest/bin/hello");
    for level in 1..=6 {
        let name = format!("s{level}");
        write_file(
            &dir,
            &name,
            format!("#!{}\n", interp.display()).as_bytes(),
            0o755,
        );
        interp = dir.join(&name);
    }
    let out = cranemu_cmd().arg("run").arg(dir.join("s5")).run();
    out.assert_success();
    check_rejected(&dir.join("s6"), 126, &["too many levels"]);
}

#[test]
fn empty_file() {
    let dir = scratch_dir("bad-empty");
    let p = write_file(&dir, "empty", b"", 0o755);
    check_rejected(&p, 126, &[]);
}

#[test]
fn truncated_elf() {
    let dir = scratch_dir("bad-truncated");
    let elf = hello_elf();
    let p = write_file(&dir, "truncated-header.elf", &elf[..40], 0o755);
    check_rejected(&p, 126, &[]);
    // A whole header and program headers, but the segments' bytes cut off.
    let p = write_file(&dir, "truncated-body.elf", &elf[..0x200], 0o755);
    check_rejected(&p, 126, &[]);
}

#[test]
fn x86_64_elf() {
    let dir = scratch_dir("bad-x86");
    let host_true = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("/bin/true");
    // Copied, so the message names a file of ours.
    let p = write_file(
        &dir,
        "x86-64-true",
        &std::fs::read(host_true).unwrap(),
        0o755,
    );
    check_rejected(&p, 126, &[]);
}

/// A minimal, otherwise valid ELF32 RISC-V executable: one PT_LOAD holding
/// `li a7, 93; ecall` (exit).  RV32 is not a guest we run.
#[test]
fn riscv32_elf() {
    let dir = scratch_dir("bad-rv32");
    let mut e = vec![0u8; 52 + 32];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 1; // ELFCLASS32
    e[5] = 1; // little endian
    e[6] = 1; // EV_CURRENT
    let h16 =
        |e: &mut Vec<u8>, off: usize, v: u16| e[off..off + 2].copy_from_slice(&v.to_le_bytes());
    let h32 =
        |e: &mut Vec<u8>, off: usize, v: u32| e[off..off + 4].copy_from_slice(&v.to_le_bytes());
    h16(&mut e, 16, 2); // ET_EXEC
    h16(&mut e, 18, 243); // EM_RISCV
    h32(&mut e, 20, 1); // e_version
    h32(&mut e, 24, 0x10000 + 84); // e_entry
    h32(&mut e, 28, 52); // e_phoff
    h32(&mut e, 36, 0x5); // e_flags: RVC, double-float ABI
    h16(&mut e, 40, 52); // e_ehsize
    h16(&mut e, 42, 32); // e_phentsize
    h16(&mut e, 44, 1); // e_phnum
    h16(&mut e, 46, 40); // e_shentsize
                         // Elf32_Phdr: PT_LOAD, offset 0, vaddr/paddr 0x10000, filesz/memsz, R+X, align.
    for (i, v) in [1u32, 0, 0x10000, 0x10000, 92, 92, 5, 0x1000]
        .into_iter()
        .enumerate()
    {
        h32(&mut e, 52 + 4 * i, v);
    }
    e.extend_from_slice(&0x05d0_0893u32.to_le_bytes()); // li a7, 93
    e.extend_from_slice(&0x0000_0073u32.to_le_bytes()); // ecall
    let p = write_file(&dir, "riscv32.elf", &e, 0o755);
    check_rejected(&p, 126, &[]);
}

#[test]
fn overlapping_segments() {
    let dir = scratch_dir("bad-overlap");
    let mut elf = hello_elf();
    let loads = load_phdrs(&elf);
    assert!(
        loads.len() >= 2,
        "tests/guest/bin/hello should have several PT_LOADs"
    );
    // Move the second PT_LOAD onto the first one's addresses.
    let v0 = u64_at(&elf, loads[0] + P_VADDR);
    put_u64(&mut elf, loads[1] + P_VADDR, v0);
    put_u64(&mut elf, loads[1] + P_PADDR, v0);
    let p = write_file(&dir, "overlapping-loads.elf", &elf, 0o755);
    check_rejected(&p, 126, &[]);
}

#[test]
fn absurd_segment_size() {
    let dir = scratch_dir("bad-huge");
    let mut elf = hello_elf();
    let loads = load_phdrs(&elf);
    let last = *loads.last().unwrap();
    put_u64(&mut elf, last + P_MEMSZ, 1 << 62);
    let p = write_file(&dir, "huge-memsz.elf", &elf, 0o755);
    check_rejected(&p, 126, &[]);
}

#[test]
fn segment_past_end_of_file() {
    let dir = scratch_dir("bad-past-eof");
    let mut elf = hello_elf();
    let loads = load_phdrs(&elf);
    let len = elf.len() as u64;
    // The last PT_LOAD with bytes in the file (a .bss-only one has none).
    let last = *loads
        .iter()
        .rev()
        .find(|&&ph| u64_at(&elf, ph + P_FILESZ) > 0)
        .unwrap();
    // Keep p_offset congruent to p_vaddr modulo the page size: only the
    // file size is wrong.
    let vaddr = u64_at(&elf, last + P_VADDR);
    put_u64(
        &mut elf,
        last + P_OFFSET,
        ((len + 0xfff) & !0xfff) + 0x1000 + vaddr % 0x1000,
    );
    let p = write_file(&dir, "segment-past-eof.elf", &elf, 0o755);
    check_rejected(&p, 126, &[]);
}

#[test]
fn not_a_regular_file() {
    // A device that never ends and a FIFO nobody writes: refused at once
    // (the kernel's execve says EACCES), never read.
    check_rejected(Path::new("/dev/zero"), 126, &["regular file"]);
    let dir = scratch_dir("bad-fifo");
    let fifo = dir.join("fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        check_rejected(&fifo, 126, &["regular file"]);
    }
}

#[test]
fn bad_program_header_entry_size() {
    let dir = scratch_dir("bad-phentsize");
    let mut elf = hello_elf();
    elf[54..56].copy_from_slice(&7u16.to_le_bytes()); // e_phentsize
    let p = write_file(&dir, "phentsize.elf", &elf, 0o755);
    check_rejected(&p, 126, &["e_phentsize"]);
}

#[test]
fn segment_at_wrong_page_offset() {
    let dir = scratch_dir("bad-page-offset");
    let mut elf = hello_elf();
    let loads = load_phdrs(&elf);
    let v = u64_at(&elf, loads[0] + P_VADDR);
    put_u64(&mut elf, loads[0] + P_VADDR, v + 8);
    put_u64(&mut elf, loads[0] + P_PADDR, v + 8);
    let p = write_file(&dir, "page-offset.elf", &elf, 0o755);
    check_rejected(&p, 126, &["page offset"]);
}

#[test]
fn section_headers_cut_off_still_runs() {
    // The kernel never reads section headers; neither does the loader.
    if runner().is_some() {
        return;
    }
    let dir = scratch_dir("cut-shdrs");
    let elf = hello_elf();
    let shoff = u64_at(&elf, 40) as usize;
    assert!(shoff > 0 && shoff <= elf.len(), "hello has a section table");
    let p = write_file(&dir, "no-shdrs.elf", &elf[..shoff], 0o755);
    let out = guest(&p).run();
    assert!(
        out.stdout_str().contains("hello from cranemu"),
        "{}",
        out.stderr
    );
}
