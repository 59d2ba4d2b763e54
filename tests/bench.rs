//! `cranemu bench` (its table, its JSON, its built-in workload, Debian
//! programs, bad input) and `cranemu run -perfmap` (the perf map of a
//! Debian program: well-formed lines, disjoint ranges, guest symbols).
//!
//! The Debian tests need the guest sysroot from `scripts/fetch-guests.sh`
//! (they fail, not skip, without it); `CRANEMU_GUEST_CACHE` overrides the
//! cache directory (default `<repo>/.cache/guests`). These tests check
//! cranemu's own commands, so they are skipped under `CRANEMU_TEST_RUNNER`.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sysroot() -> PathBuf {
    let cache = std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"));
    let s = cache.join("sysroot");
    assert!(
        s.join("usr/bin/busybox").is_file() && s.join("usr/bin/xz").is_file(),
        "{} has no usr/bin/busybox or usr/bin/xz: run scripts/fetch-guests.sh first",
        s.display()
    );
    s
}

fn skipped() -> bool {
    if runner().is_some() {
        eprintln!("skipped under CRANEMU_TEST_RUNNER: checks cranemu's own commands");
        return true;
    }
    false
}

// ---- a minimal JSON reader (RFC 8259), enough for the report ----

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Num(f64),
    Str(String),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    /// The value at a dotted path of object keys.
    fn at(&self, path: &str) -> &Json {
        let mut v = self;
        for key in path.split('.') {
            v = match v {
                Json::Obj(m) => m
                    .get(key)
                    .unwrap_or_else(|| panic!("no key {key:?} (path {path}) in {self:?}")),
                _ => panic!("{path}: not an object at {key:?}"),
            };
        }
        v
    }

    fn num(&self, path: &str) -> f64 {
        match self.at(path) {
            Json::Num(n) => *n,
            other => panic!("{path}: not a number: {other:?}"),
        }
    }
}

/// Parses one JSON value made of objects, strings and numbers (all the
/// report uses), with nothing but whitespace after it.
fn parse_json(text: &str) -> Json {
    fn ws(s: &[u8], i: &mut usize) {
        while *i < s.len() && s[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn string(s: &[u8], i: &mut usize) -> String {
        assert_eq!(s[*i], b'"', "expected a string at byte {i}");
        *i += 1;
        let mut out = Vec::new();
        loop {
            match s[*i] {
                b'"' => {
                    *i += 1;
                    return String::from_utf8(out).expect("UTF-8 string");
                }
                b'\\' => {
                    *i += 1;
                    match s[*i] {
                        b'u' => {
                            let hex = std::str::from_utf8(&s[*i + 1..*i + 5]).unwrap();
                            let c = char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap();
                            out.extend(c.to_string().as_bytes());
                            *i += 4;
                        }
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        c @ (b'"' | b'\\' | b'/') => out.push(c),
                        c => panic!("bad escape \\{}", c as char),
                    }
                    *i += 1;
                }
                c => {
                    assert!(c >= 0x20, "control byte in a string");
                    out.push(c);
                    *i += 1;
                }
            }
        }
    }
    fn value(s: &[u8], i: &mut usize) -> Json {
        ws(s, i);
        match s[*i] {
            b'{' => {
                *i += 1;
                let mut m = BTreeMap::new();
                ws(s, i);
                if s[*i] == b'}' {
                    *i += 1;
                    return Json::Obj(m);
                }
                loop {
                    ws(s, i);
                    let k = string(s, i);
                    ws(s, i);
                    assert_eq!(s[*i], b':', "expected ':' at byte {i}");
                    *i += 1;
                    let v = value(s, i);
                    assert!(m.insert(k.clone(), v).is_none(), "duplicate key {k}");
                    ws(s, i);
                    match s[*i] {
                        b',' => *i += 1,
                        b'}' => {
                            *i += 1;
                            return Json::Obj(m);
                        }
                        c => panic!("expected ',' or '}}' at byte {i}, got {:?}", c as char),
                    }
                }
            }
            b'"' => Json::Str(string(s, i)),
            _ => {
                let start = *i;
                while *i < s.len()
                    && matches!(s[*i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    *i += 1;
                }
                let t = std::str::from_utf8(&s[start..*i]).unwrap();
                assert!(
                    !t.is_empty()
                        && !t.starts_with('+')
                        && !t.starts_with('.')
                        && !t.ends_with('.'),
                    "bad number {t:?} at byte {start}"
                );
                Json::Num(t.parse().unwrap_or_else(|_| panic!("bad number {t:?}")))
            }
        }
    }
    let s = text.as_bytes();
    let mut i = 0;
    let v = value(s, &mut i);
    ws(s, &mut i);
    assert_eq!(i, s.len(), "trailing bytes after the JSON value");
    v
}

/// `cranemu bench --json ARGS...`, checked to succeed, parsed.
fn bench_json(args: &[&str]) -> Json {
    let out = cranemu_cmd().arg("bench").arg("--json").args(args).run();
    out.assert_success();
    assert!(
        out.stderr.is_empty(),
        "bench wrote to stderr: {}",
        out.stderr
    );
    parse_json(&out.stdout_str())
}

/// The fields every report must have sane values in.
fn check_sane(j: &Json) {
    for tier in ["tier1", "tier2"] {
        let blocks = j.num(&format!("{tier}.blocks"));
        let insns = j.num(&format!("{tier}.guest_insns"));
        assert!(blocks > 0.0, "{tier}: no blocks: {j:?}");
        assert!(insns >= blocks, "{tier}: fewer instructions than blocks");
        assert!(j.num(&format!("{tier}.time_ns")) > 0.0);
        assert!(j.num(&format!("{tier}.us_per_block")) > 0.0);
        assert!(j.num(&format!("{tier}.insns_per_s")) > 0.0);
    }
    // Every block compiled was translated first.
    assert!(j.num("tier2.blocks") <= j.num("tier1.blocks"));
    let bpi = j.num("tier2.host_bytes_per_insn");
    assert!(
        (1.0..1000.0).contains(&bpi),
        "host bytes per guest insn {bpi}"
    );
    let wall = j.num("execution.wall_ns");
    assert!(wall > 0.0);
    assert!(j.num("execution.guest_insns") > 0.0);
    assert!(j.num("execution.mips") > 0.0);
    assert!(j.num("execution.jit_ns") > 0.0);
    // Every block of the built-in workload may run as first-tier code,
    // leaving the first tier's loop nothing to time.
    assert!(j.num("execution.interp_ns") >= 0.0);
    assert!(j.num("tier1.code_blocks") > 0.0);
    assert!(j.num("tier1.code_bytes") > j.num("tier1.code_blocks"));
    assert!(j.num("execution.interp_ns") + j.num("execution.jit_ns") <= wall * j.num("vcpus"));
    assert_eq!(j.num("vcpus"), 1.0);
    // With the compile thread, no vCPU compiles.
    assert_eq!(j.num("compile_queue.vcpu_compiles"), 0.0);
    assert_eq!(j.num("compile_queue.vcpu_blocked_ns"), 0.0);
    let queued = j.num("compile_queue.queued");
    assert!(queued >= j.num("tier2.blocks"));
    assert!(j.num("compile_queue.max_wait_ns") >= j.num("compile_queue.mean_wait_ns"));
}

#[test]
fn default_workload_json() {
    if skipped() {
        return;
    }
    let j = bench_json(&[]);
    check_sane(&j);
    assert_eq!(j.at("program"), &Json::Str("built-in workload".into()));
    assert_eq!(j.num("jit_threshold"), 3000.0);
    // The workload's 1024 functions give a few thousand blocks, and over
    // a hundred are hot.
    assert!(j.num("tier1.blocks") > 1024.0);
    assert!(j.num("tier2.blocks") > 100.0);
    // The count agrees with `run -stats` on the same program.
    let out = guest_with(&["-stats"], repo().join("tests/guest/bin/bench")).run();
    out.assert_success();
    let executed: f64 = out
        .stderr
        .split_whitespace()
        .find_map(|w| w.strip_prefix("executed_insns="))
        .expect("executed_insns in -stats")
        .parse()
        .unwrap();
    assert!(executed > 1e8, "the workload runs {executed} instructions");
    assert_eq!(j.num("execution.guest_insns"), executed);
    // The embedded workload is the committed build of its source.
    let embedded = std::fs::read(repo().join("src/bench_guest.elf")).unwrap();
    let built = std::fs::read(repo().join("tests/guest/bin/bench")).unwrap();
    assert!(
        embedded == built,
        "src/bench_guest.elf differs from tests/guest/bin/bench: run `make -C tests/guest`"
    );
}

#[test]
fn default_workload_threshold_zero_compiles_on_the_vcpu() {
    if skipped() {
        return;
    }
    let j = bench_json(&["-jit-threshold", "0"]);
    assert_eq!(j.num("jit_threshold"), 0.0);
    // Every block is compiled before it runs, by the vCPU: nothing is
    // queued or interpreted, and the vCPU waited for each compile.
    assert_eq!(j.num("compile_queue.queued"), 0.0);
    assert_eq!(j.num("tier2.blocks"), j.num("tier1.blocks"));
    assert_eq!(j.num("compile_queue.vcpu_compiles"), j.num("tier2.blocks"));
    assert_eq!(
        j.num("compile_queue.vcpu_blocked_ns"),
        j.num("tier2.time_ns")
    );
    assert_eq!(j.num("execution.interp_ns"), 0.0);
    assert_eq!(j.num("execution.interpreted_blocks"), 0.0);
    assert!(j.num("execution.jit_ns") > 0.0);
}

#[test]
fn default_workload_table() {
    if skipped() {
        return;
    }
    let out = cranemu_cmd().arg("bench").run();
    out.assert_success();
    let text = out.stdout_str();
    // `LABEL  n n n ...` rows: the numbers after a row's label.
    let row = |label: &str| -> Vec<f64> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no row {label:?} in:\n{text}"));
        line.trim_start()[label.len()..]
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect()
    };
    let t1 = row("tier 1: to IR (baseline)");
    let t2 = row("tier 2: Cranelift");
    assert_eq!(t1.len(), 5, "tier 1 row: {t1:?}\n{text}");
    assert_eq!(t2.len(), 6, "tier 2 row: {t2:?}\n{text}");
    assert!(t1.iter().all(|&x| x > 0.0), "{text}");
    assert!(t2.iter().all(|&x| x > 0.0), "{text}");
    assert!(t1[0] > 1024.0 && t2[0] > 100.0, "{text}");
    // Columns line up with their headers.
    let header = text.lines().find(|l| l.starts_with("translation")).unwrap();
    let line = text.lines().find(|l| l.starts_with("tier 2")).unwrap();
    assert_eq!(
        header.chars().count(),
        line.chars().count(),
        "misaligned:\n{header}\n{line}"
    );
    for label in [
        "first tier's loop (baseline)",
        "code (first tier's, Cranelift's)",
        "translation to IR",
        "Cranelift on vCPUs",
        "execution loop, syscalls, rest",
    ] {
        let r = row(label);
        assert_eq!(r.len(), 2, "{label}: {r:?}");
        assert!((0.0..=100.0).contains(&r[1]), "{label}: {r:?}");
    }
    assert!(row("code (first tier's, Cranelift's)")[0] > 0.0);
    assert!(text.contains("tier 1 as host code: "), "{text}");
    let exec = text
        .lines()
        .find(|l| l.starts_with("execution:"))
        .expect("execution line");
    assert!(exec.contains("MIPS"), "{exec}");
    assert!(text.contains("compiles on vCPU threads: 0 "), "{text}");
}

#[test]
fn debian_busybox_sha256sum() {
    if skipped() {
        return;
    }
    let root = sysroot();
    let dir = scratch_dir("bench-sha256sum");
    let file = dir.join("data");
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &data).unwrap();
    let bb = root.join("usr/bin/busybox");
    let args = [
        "-L",
        root.to_str().unwrap(),
        bb.to_str().unwrap(),
        "sha256sum",
        file.to_str().unwrap(),
    ];
    let j = bench_json(&args);
    check_sane(&j);
    assert_eq!(j.at("program"), &Json::Str(bb.display().to_string()));
    // sha256 of 4 MiB: tens of millions of instructions at least.
    assert!(j.num("execution.guest_insns") > 1e7);
    // By default the guest's output is discarded; --guest-output keeps it,
    // before the report.
    let out = cranemu_cmd()
        .arg("bench")
        .arg("--guest-output")
        .args(args)
        .run();
    out.assert_success();
    let text = out.stdout_str();
    let want = host("sha256sum").arg(&file).run();
    want.assert_success();
    let hash = want
        .stdout_str()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(
        text.lines().next().is_some_and(|l| l.starts_with(&hash)),
        "guest output missing or wrong:\n{text}"
    );
    assert!(text.contains("tier 2: Cranelift"), "{text}");
}

#[test]
fn report_when_the_guest_dies_of_a_signal() {
    if skipped() {
        return;
    }
    // A guest that kills itself kills cranemu with the same signal; the
    // report comes first.
    let root = sysroot();
    let out = cranemu_cmd()
        .arg("bench")
        .arg(root.join("usr/bin/busybox"))
        .args(["sh", "-c", "kill -ABRT $$"])
        .run();
    const SIGABRT: i32 = 6;
    assert_eq!(out.signal, Some(SIGABRT), "{out:?}");
    assert!(out.stdout_str().contains("tier 1: to IR"), "{out:?}");
}

#[test]
fn missing_program_is_one_line() {
    if skipped() {
        return;
    }
    let out = cranemu_cmd()
        .arg("bench")
        .arg("/nonexistent/riscv-program")
        .run();
    assert_eq!(out.status, 127, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout_str());
    assert_eq!(
        out.stderr,
        "cranemu bench: /nonexistent/riscv-program: No such file or directory\n"
    );
    let out = cranemu_cmd().args(["bench", "--json", "/"]).run();
    assert_ne!(out.status, 0);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

// ---- -perfmap ----

/// One line of a perf map.
#[derive(Debug)]
struct MapLine {
    start: u64,
    size: u64,
    /// The name, without the first tier's prefix.
    name: String,
    /// Whether the line names first-tier code (`tier1 ` before the name).
    first_tier: bool,
}

/// Runs `cranemu run -perfmap ARGS...` and returns the lines of its map
/// (which it then removes).
fn perfmap_run(args: &[&str]) -> Vec<MapLine> {
    perfmap_of("run", args)
}

/// Runs `cranemu COMMAND -perfmap ARGS...` and returns the lines of its
/// map (which it then removes).
fn perfmap_of(command: &str, args: &[&str]) -> Vec<MapLine> {
    let mut child = std::process::Command::new(cranemu())
        .arg(command)
        .arg("-perfmap")
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn cranemu");
    let pid = child.id();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "cranemu {command} -perfmap {args:?}: {status}"
    );
    let path = PathBuf::from(format!("/tmp/perf-{pid}.map"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    text.lines()
        .map(|l| {
            let mut f = l.splitn(3, ' ');
            let (Some(a), Some(b), Some(name)) = (f.next(), f.next(), f.next()) else {
                panic!("malformed line {l:?}");
            };
            let hex = |s: &str| {
                assert!(!s.starts_with("0x"), "hex with 0x in {l:?}");
                u64::from_str_radix(s, 16).unwrap_or_else(|_| panic!("not hex in {l:?}"))
            };
            // First-tier code's names carry a prefix (the tier).
            let (first_tier, name) = match name.strip_prefix("tier1 ") {
                Some(rest) => (true, rest),
                None => (false, name),
            };
            MapLine {
                start: hex(a),
                size: hex(b),
                name: name.to_string(),
                first_tier,
            }
        })
        .collect()
}

/// Checks every line's shape and that no two ranges overlap.
fn check_map(lines: &mut [MapLine]) {
    assert!(!lines.is_empty(), "empty perf map");
    for l in lines.iter() {
        assert!(l.size > 0 && l.start > 0, "{l:?}");
        assert!(l.name.starts_with("guest:"), "{l:?}");
        assert!(l.name.ends_with(|c: char| c.is_ascii_hexdigit()), "{l:?}");
        let pc = l.name.rsplit(['@', ':']).next().unwrap();
        let pc = pc.strip_prefix("0x").unwrap_or_else(|| panic!("{l:?}"));
        u64::from_str_radix(pc, 16).unwrap_or_else(|_| panic!("{l:?}"));
    }
    lines.sort_by_key(|l| l.start);
    for w in lines.windows(2) {
        assert!(
            w[0].start + w[0].size <= w[1].start,
            "overlapping ranges: {:?} and {:?}",
            w[0],
            w[1]
        );
    }
}

/// The dynamic symbols that `file` defines.
fn defined_symbols(file: &Path) -> std::collections::HashSet<String> {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    elf.dynsyms
        .iter()
        .filter(|s| s.st_value != 0)
        .filter_map(|s| elf.dynstrtab.get_at(s.st_name).map(str::to_string))
        .collect()
}

#[test]
fn perfmap_names_libc_functions() {
    if skipped() {
        return;
    }
    let root = sysroot();
    let dir = scratch_dir("perfmap-xz");
    let file = dir.join("data");
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    std::fs::write(&file, &data).unwrap();
    let xz = root.join("usr/bin/xz");
    let mut lines = perfmap_run(&[
        "-L",
        root.to_str().unwrap(),
        xz.to_str().unwrap(),
        "-6",
        "-c",
        file.to_str().unwrap(),
    ]);
    check_map(&mut lines);
    let libc = defined_symbols(&root.join("usr/lib/riscv64-linux-gnu/libc.so.6"));
    let lzma = defined_symbols(&root.join("usr/lib/riscv64-linux-gnu/liblzma.so.5"));
    let ldso = defined_symbols(&root.join("usr/lib/riscv64-linux-gnu/ld-linux-riscv64-lp64d.so.1"));
    // Named blocks: `guest:SYM+0xOFF@0xPC`, SYM a function of one of the
    // ELF files mapped, or `guest:FILE+0xVADDR@0xPC` in one of them
    // outside its symbols (liblzma's internal functions). Every block of
    // one function agrees on where it starts (PC - OFF), and every block of
    // one file on its load bias (PC - VADDR).
    let files = [
        "xz",
        "liblzma.so.5",
        "libc.so.6",
        "ld-linux-riscv64-lp64d.so.1",
    ];
    let mut starts: BTreeMap<String, u64> = BTreeMap::new();
    let (mut in_libc, mut in_files) = (0, 0);
    for l in &lines {
        let Some(rest) = l.name.strip_prefix("guest:") else {
            unreachable!()
        };
        let Some((sym, at)) = rest.split_once('+') else {
            assert!(rest.starts_with("0x"), "{l:?}");
            continue;
        };
        let (off, pc) = at.split_once('@').unwrap_or_else(|| panic!("{l:?}"));
        let off = u64::from_str_radix(off.strip_prefix("0x").unwrap(), 16).unwrap();
        let pc = u64::from_str_radix(pc.strip_prefix("0x").unwrap(), 16).unwrap();
        if files.iter().any(|f| sym.starts_with(f)) {
            in_files += 1;
        } else {
            assert!(
                libc.contains(sym) || lzma.contains(sym) || ldso.contains(sym),
                "{sym} is in none of libc, liblzma, ld.so: {l:?}"
            );
            in_libc += usize::from(libc.contains(sym));
        }
        let start = pc.wrapping_sub(off);
        if let Some(&s) = starts.get(sym) {
            assert_eq!(s, start, "{sym}: two starts or biases ({l:?})");
        }
        starts.insert(sym.to_string(), start);
    }
    assert!(in_files > 0, "no block named after its file");
    assert!(in_libc > 0, "no block named after a libc function");
}

#[test]
fn perfmap_static_busybox() {
    if skipped() {
        return;
    }
    // Debian's static busybox is stripped: its blocks are named after the
    // file, `guest:busybox+0xVADDR@0xPC`; a static non-PIE program is
    // loaded at its link-time addresses, so VADDR is PC.
    let root = sysroot();
    let mut lines = perfmap_run(&[
        root.join("usr/bin/busybox").to_str().unwrap(),
        "sh",
        "-c",
        "x=0; while [ $x -lt 500 ]; do x=$((x+1)); done; echo $x",
    ]);
    check_map(&mut lines);
    assert!(lines.len() > 10, "{} blocks", lines.len());
    assert!(
        lines.iter().any(|l| l.first_tier) && lines.iter().any(|l| !l.first_tier),
        "both tiers' code is named"
    );
    for l in &lines {
        let (vaddr, pc) = l
            .name
            .strip_prefix("guest:busybox+")
            .and_then(|r| r.split_once('@'))
            .unwrap_or_else(|| panic!("{l:?}"));
        assert_eq!(vaddr, pc, "{l:?}");
    }
}

/// A forked child compiles nothing in its first 50 ms (most exec or exit
/// by then), but one that runs longer compiles its own hot code: a
/// subshell's loop, seen in the child's own perf map.
#[test]
fn forked_child_that_lives_compiles_its_loop() {
    if skipped() {
        return;
    }
    let root = sysroot();
    let run = std::process::Command::new(cranemu())
        .args(["run", "-perfmap"])
        .arg(root.join("usr/bin/busybox"))
        .args([
            "sh",
            "-c",
            "( read pid rest < /proc/self/stat; echo child $pid; i=0; \
             while [ $i -lt 100000 ]; do i=$((i+1)); done; echo $i ); echo parent $$",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn cranemu");
    let parent = run.id();
    let out = run.wait_with_output().expect("run cranemu");
    let _ = std::fs::remove_file(format!("/tmp/perf-{parent}.map"));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let pid: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("child "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {text:?}"));
    assert!(text.contains("100000"), "{text}");
    assert!(
        text.contains(&format!("parent {parent}")) && pid != parent,
        "the subshell did not fork: {text}"
    );
    let path = PathBuf::from(format!("/tmp/perf-{pid}.map"));
    let map = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    // The parent compiled a few blocks before the fork (its map's lines
    // start the child's); the child's loop adds hundreds. Lines of
    // first-tier code (every block the child translates) do not count.
    let compiled = map.lines().filter(|l| !l.contains(" tier1 ")).count();
    assert!(compiled > 100, "child map:\n{map}");
}

#[test]
fn perfmap_system_mode() {
    if skipped() {
        return;
    }
    // The embedded bare-metal guest of the virt machine, every block
    // compiled: named by guest pc, in RAM (0x8000_0000 up).
    let mut lines = perfmap_of("system", &["-jit-threshold", "0"]);
    check_map(&mut lines);
    assert!(
        lines.iter().any(|l| l.name == "guest:0x80000000"),
        "{lines:?}"
    );
    for l in &lines {
        let pc = l
            .name
            .strip_prefix("guest:0x")
            .unwrap_or_else(|| panic!("{l:?}"));
        assert!(u64::from_str_radix(pc, 16).unwrap() >= 0x8000_0000, "{l:?}");
    }
}

#[test]
fn progress_lines_after_two_seconds() {
    if skipped() {
        return;
    }
    // A guest that sleeps 2.5 s: a progress line at 2 s on stderr with
    // --progress, none without it (stderr is not a terminal here).
    let bb = sysroot().join("usr/bin/busybox");
    let out = cranemu_cmd()
        .args(["bench", "--progress"])
        .arg(&bb)
        .args(["sleep", "2.5"])
        .run();
    out.assert_success();
    // (More than one only if start-up took over half a second.)
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(!lines.is_empty(), "no progress line");
    assert!(
        lines[0].starts_with("cranemu bench: 2 s: "),
        "{}",
        out.stderr
    );
    for l in &lines {
        assert!(
            l.starts_with("cranemu bench: ") && l.contains(" blocks to IR, "),
            "{}",
            out.stderr
        );
    }
    assert!(out.stdout_str().contains("tier 1: to IR"));
    let out = cranemu_cmd()
        .arg("bench")
        .arg(&bb)
        .args(["sleep", "2.5"])
        .run();
    out.assert_success();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}
