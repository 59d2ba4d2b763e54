//! CPython's own regression tests as the yardstick of the Linux ABI
//! (issue 11): a bounded subset of the modules that
//! `scripts/cpython-tests.py` runs, each under cranemu and under
//! qemu-riscv64 (one module per process, per-test JUnit results); the test
//! fails if any test passes under QEMU but fails or is skipped under
//! cranemu. The subset ([`MODULES`]) exercises the syscalls a real
//! userland leans on (xattrs through `shutil.copy2`, ptys, `mmap`, `fcntl`
//! locks, `select`) and takes about two minutes on two cores.
//!
//! Needs the CPython sysroot from `scripts/fetch-guests.sh` (it runs
//! `scripts/fetch-cpython.sh`; the test fails, not skips, without it),
//! `qemu-riscv64` and a host `python3` (the script's language); skipped
//! with a message without either of the last two. The full table is
//! tests/cpython/RESULTS.md (`scripts/cpython-tests.py --jobs 2`).

mod common;

use common::*;
use std::time::Duration;

/// The modules this test runs.
const MODULES: &[&str] = &[
    "test_shutil",
    "test_pty",
    "test_mmap",
    "test_select",
    "test_fcntl",
];

#[test]
fn cpython_subset_passes_where_qemu_does() {
    if runner().is_some() {
        eprintln!("skipped under CRANEMU_TEST_RUNNER: compares cranemu with qemu-riscv64 itself");
        return;
    }
    let Some(qemu) = on_path("qemu-riscv64") else {
        eprintln!("skipped: qemu-riscv64 not on PATH (apt-get install qemu-user)");
        return;
    };
    let Some(python) = on_path("python3") else {
        eprintln!(
            "skipped: no host python3 to run scripts/cpython-tests.py (apt-get install python3)"
        );
        return;
    };
    let cache = std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"));
    let sysroot = cache.join("cpython/sysroot");
    assert!(
        sysroot.join("usr/lib/python3.13/test/libregrtest").is_dir(),
        "{}: no CPython test suite: run scripts/fetch-guests.sh",
        sysroot.display()
    );
    let dir = scratch_dir("cpython-subset");
    let table = dir.join("RESULTS.md");
    let out = host(python)
        .arg(repo().join("scripts/cpython-tests.py"))
        .args(["--jobs", "2", "--timeout", "600", "--notes", "/dev/null"])
        .arg("--cranemu")
        .arg(cranemu())
        .arg("--qemu")
        .arg(qemu)
        .arg("--out")
        .arg(dir.join("results"))
        .arg("--markdown")
        .arg(&table)
        .args(MODULES)
        .time_limit(Duration::from_secs(1200), "the test's own limit")
        .run();
    let text = std::fs::read_to_string(&table).unwrap_or_default();
    assert!(
        out.status == 0,
        "tests pass under qemu-riscv64 but not under cranemu (status {}):\n{}\n{}\n{}\n\
         logs: {}",
        out.status,
        out.stdout_str(),
        out.stderr,
        text,
        dir.join("results").display()
    );
    // Every module ran under both (a row per module, no "not run").
    for m in MODULES {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("| {m} |")) && !l.contains("not run")),
            "{m} missing from the table:\n{text}"
        );
    }
}
