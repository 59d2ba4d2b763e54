//! Bare-metal privileged-architecture programs (tests/guest/baremetal) run
//! under `cranemu system -M virt -m 128M -bios none -kernel PROG.elf
//! -nographic`, compared with tests/guest/baremetal/expected/PROG.out (the
//! serial output under QEMU 7.2), exit status 0 required (the programs power
//! off through the SiFive test device: pass = 0, fail = 1).
//!
//! The ELFs are built here with riscv64-linux-gnu-gcc (skipped, with the
//! reason, when it is missing).  When qemu-system-riscv64 is on PATH, a
//! second test per program checks that QEMU still gives the expected output,
//! so that the golden files stay honest.
//!
//! `smp.c` runs on 2, 4 and 8 harts (`-smp N`) against
//! expected/smp-N.out. QEMU 7.2 fails its two cross-modifying-code checks
//! (a hart runs the old code after another hart's store, its own
//! `fence.i` and an IPI: a race between translation and invalidation), so
//! the QEMU twins drop the lines of those checks and the verdict before
//! comparing; they run at -smp 2 and 4 only (QEMU needs about a minute
//! for -smp 8 on 2 host cores, its harts spinning without yielding).
//!
//! Each run is bounded by 30 s, 120 s with several harts
//! (`CRANEMU_BAREMETAL_TIMEOUT` overrides the 30); on
//! timeout the process group is killed and the test fails with what was
//! printed so far.  `make -C tests/guest/baremetal check` does the QEMU half
//! by hand.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

const CC: &str = "riscv64-linux-gnu-gcc";
const QEMU: &str = "qemu-system-riscv64";

const CFLAGS: &[&str] = &[
    "-march=rv64gc_zicsr_zifencei",
    "-mabi=lp64d",
    "-mcmodel=medany",
    "-O2",
    "-ffreestanding",
    "-fno-builtin",
    "-fno-stack-protector",
    "-fno-pic",
    "-mno-relax",
    "-fno-asynchronous-unwind-tables",
    "-Wall",
    "-Wextra",
    "-nostdlib",
    "-nostartfiles",
    "-static",
    "-Wl,--build-id=none",
];

fn src_dir() -> PathBuf {
    repo().join("tests/guest/baremetal")
}

/// Builds tests/guest/baremetal/NAME.c with the runtime, once per test
/// binary; None (reason printed) when the cross compiler is missing.
fn build(name: &str) -> Option<PathBuf> {
    static BUILT: OnceLock<Mutex<HashMap<String, Option<PathBuf>>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(done) = built.get(name) {
        if done.is_none() {
            eprintln!("skipped: {CC} not on PATH (apt-get install gcc-riscv64-linux-gnu)");
        }
        return done.clone();
    }
    let result = compile(name);
    built.insert(name.to_string(), result.clone());
    result
}

fn compile(name: &str) -> Option<PathBuf> {
    let Some(cc) = on_path(CC) else {
        eprintln!("skipped: {CC} not on PATH (apt-get install gcc-riscv64-linux-gnu)");
        return None;
    };
    let src = src_dir();
    let dir = scratch_dir(&format!("baremetal-{name}"));
    let elf = dir.join(format!("{name}.elf"));
    let out = host(cc)
        .args(CFLAGS)
        .arg(format!("-I{}", src.join("rt").display()))
        .arg("-T")
        .arg(src.join("rt/link.ld"))
        .arg("-o")
        .arg(&elf)
        .arg(src.join("rt/start.S"))
        .arg(src.join("rt/rt.c"))
        .arg(src.join(format!("{name}.c")))
        .run();
    out.assert_success();
    Some(elf)
}

fn expected(name: &str) -> String {
    let p = src_dir().join("expected").join(format!("{name}.out"));
    read_expected(&p)
}

fn read_expected(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn time_limit() -> Duration {
    let secs = std::env::var("CRANEMU_BAREMETAL_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// Runs `program -M virt -m 128M -bios none -kernel ELF -nographic` (after
/// `pre_args`), stdin empty; returns (exit status, stdout, stderr), or
/// panics after the time limit, killing the process group.
fn run_machine(program: &Path, pre_args: &[&str], elf: &Path) -> (i32, String, String) {
    run_machine_smp(program, pre_args, elf, 1)
}

/// [`run_machine`] with `-smp harts`.
fn run_machine_smp(
    program: &Path,
    pre_args: &[&str],
    elf: &Path,
    harts: u32,
) -> (i32, String, String) {
    // SMP runs share the host's cores among harts (and with QEMU's twin):
    // four times the limit.
    let limit = time_limit() * if harts > 1 { 4 } else { 1 };
    let out = host(program)
        .args(pre_args)
        .args(["-M", "virt", "-smp", &harts.to_string()])
        .args(["-m", "128M", "-bios", "none", "-kernel"])
        .arg(elf)
        .arg("-nographic")
        .time_limit(limit, "CRANEMU_BAREMETAL_TIMEOUT")
        .run();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.stderr,
    )
}

fn check_run(what: &str, name: &str, program: &Path, pre_args: &[&str], elf: &Path) {
    let (status, stdout, stderr) = run_machine(program, pre_args, elf);
    if stdout != expected(name) {
        eprintln!("--- {what}: stderr:\n{}", truncate(&stderr, 4000));
        let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
        if !failed.is_empty() {
            eprintln!(
                "--- {what}: {} failing checks:\n{}",
                failed.len(),
                failed.join("\n")
            );
        }
    }
    assert_same_text(
        &format!("{what} vs tests/guest/baremetal/expected/{name}.out"),
        &stdout,
        &expected(name),
    );
    assert!(
        status == 0,
        "{what}: exit status {status}, want 0 (the SiFive test device's pass)\n--- stderr:\n{}",
        truncate(&stderr, 4000)
    );
}

fn run_cranemu(name: &str) {
    if runner().is_some() {
        eprintln!("skipped under CRANEMU_TEST_RUNNER: a system-mode test");
        return;
    }
    let Some(elf) = build(name) else { return };
    check_run(
        &format!("cranemu system ({name})"),
        name,
        &cranemu(),
        &["system"],
        &elf,
    );
}

fn run_qemu(name: &str) {
    let Some(qemu) = on_path(QEMU) else {
        eprintln!("skipped: {QEMU} not on PATH (apt-get install qemu-system-misc)");
        return;
    };
    let Some(elf) = build(name) else { return };
    check_run(&format!("{QEMU} ({name})"), name, &qemu, &[], &elf);
}

macro_rules! baremetal_tests {
    ($($name:ident / $qemu:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            run_cranemu(stringify!($name));
        }
        #[test]
        fn $qemu() {
            run_qemu(stringify!($name));
        }
    )*};
}

baremetal_tests!(
    traps / traps_qemu,
    paging / paging_qemu,
    timer / timer_qemu,
    misc / misc_qemu,
);

/// The checks of smp.c that QEMU 7.2 fails (see the module doc).
const QEMU_SMP_FAILS: &[&str] = &[
    "code: results of neither version",
    "code: old code run after fence.i",
];

/// smp.c on `harts` harts under cranemu: exactly expected/smp-N.out.
fn run_smp(harts: u32) {
    if runner().is_some() {
        eprintln!("skipped under CRANEMU_TEST_RUNNER: a system-mode test");
        return;
    }
    let Some(elf) = build("smp") else { return };
    let what = format!("cranemu system -smp {harts} (smp)");
    let (status, stdout, stderr) = run_machine_smp(&cranemu(), &["system"], &elf, harts);
    let want = src_dir().join(format!("expected/smp-{harts}.out"));
    if stdout.contains("FAIL") {
        eprintln!("--- {what}: stderr:\n{}", truncate(&stderr, 4000));
    }
    assert_same_text(
        &format!("{what} vs tests/guest/baremetal/expected/smp-{harts}.out"),
        &stdout,
        &read_expected(&want),
    );
    assert!(status == 0, "{what}: exit status {status}, want 0");
}

/// smp.c on `harts` harts under QEMU: expected/smp-N.out but for the
/// checks QEMU 7.2 fails ([`QEMU_SMP_FAILS`]) and the verdict.
fn run_smp_qemu(harts: u32) {
    let Some(qemu) = on_path(QEMU) else {
        eprintln!("skipped: {QEMU} not on PATH (apt-get install qemu-system-misc)");
        return;
    };
    let Some(elf) = build("smp") else { return };
    let (_, stdout, _) = run_machine_smp(&qemu, &[], &elf, harts);
    let keep = |l: &&str| {
        let check = l.strip_prefix("ok ").or_else(|| l.strip_prefix("FAIL "));
        !l.starts_with("FAILED:")
            && *l != "PASS"
            && !check.is_some_and(|c| QEMU_SMP_FAILS.iter().any(|f| c.starts_with(f)))
    };
    let filter = |t: &str| t.lines().filter(keep).collect::<Vec<_>>().join("\n");
    let want = read_expected(&src_dir().join(format!("expected/smp-{harts}.out")));
    assert_same_text(
        &format!("{QEMU} -smp {harts} (smp, less the checks it fails)"),
        &filter(&stdout),
        &filter(&want),
    );
}

#[test]
fn smp_2() {
    run_smp(2);
}

#[test]
fn smp_4() {
    run_smp(4);
}

#[test]
fn smp_8() {
    run_smp(8);
}

#[test]
fn smp_2_qemu() {
    run_smp_qemu(2);
}

#[test]
fn smp_4_qemu() {
    run_smp_qemu(4);
}

/// `-stats` at -smp 2 prints a line per hart whose IPI counts cover
/// smp.c's 10^5 ping-pongs (each hart sends and takes at least that many
/// MSIs) and whose harts both slept in `wfi`.
#[test]
fn smp_stats_per_hart() {
    if runner().is_some() {
        eprintln!("skipped under CRANEMU_TEST_RUNNER: a system-mode test");
        return;
    }
    let Some(elf) = build("smp") else { return };
    let (status, _, stderr) = run_machine_smp(&cranemu(), &["system", "-stats"], &elf, 2);
    assert_eq!(
        status,
        0,
        "smp.c under -stats:\n{}",
        truncate(&stderr, 4000)
    );
    let field = |hart: u32, name: &str| -> u64 {
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("cranemu-stats: hart={hart} ")))
            .unwrap_or_else(|| panic!("no `cranemu-stats: hart={hart}` line:\n{stderr}"));
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name}= in `{line}`"))
    };
    for hart in [0, 1] {
        assert!(
            field(hart, "ipis_sent") >= 100_000,
            "hart {hart}:\n{stderr}"
        );
        assert!(
            field(hart, "ipis_received") >= 100_000,
            "hart {hart}:\n{stderr}"
        );
        assert!(field(hart, "wfi_sleeps") > 0, "hart {hart}:\n{stderr}");
    }
    assert!(!stderr.contains("hart=2 "), "only 2 harts:\n{stderr}");
}
