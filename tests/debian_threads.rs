//! Multi-threaded Debian riscv64 programs under cranemu (guest threads are
//! host threads sharing one translation cache): `xz -T2` compression and
//! decompression, byte-identical with the host's `xz`; CPython 3.13's
//! `threading` (tests/guest/py/threads.py), compared with the host's python;
//! 7-Zip's LZMA benchmark with two threads (`7zr b`, which decompresses what
//! it compressed and checks it); `sysbench cpu` with four threads; and
//! `stress-ng --cpu 2 --verify`, whose workers are forked processes that
//! report through shared memory.
//!
//! Needs the guest sysroot from `scripts/fetch-guests.sh` (the tests fail,
//! not skip, without it). `CRANEMU_GUEST_CACHE` overrides the cache
//! directory (default `<repo>/.cache/guests`).

mod common;

use common::*;
use std::path::PathBuf;

fn sysroot() -> PathBuf {
    let cache = std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"));
    let s = cache.join("sysroot");
    let missing: Vec<&str> = GUEST_PROGRAMS
        .iter()
        .copied()
        .filter(|p| !s.join(p).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{}: missing {}: run scripts/fetch-guests.sh (it fetches them and the \
         libraries they need; a sysroot from an older version of the script \
         lacks some)",
        s.display(),
        missing.join(", ")
    );
    s
}

/// The guest programs these tests run, relative to the sysroot.
/// (`/usr/bin/7zr` is a shell script that runs `/usr/lib/7zip/7zr`.)
const GUEST_PROGRAMS: &[&str] = &[
    "usr/bin/xz",
    "usr/bin/python3.13",
    "usr/lib/7zip/7zr",
    "usr/bin/sysbench",
    "usr/bin/stress-ng",
];

/// Deterministic, compressible input of `len` bytes.
fn input(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let line = format!("line {} value {:x} {}\n", v.len() / 40, x >> 40, x % 1000);
        v.extend_from_slice(line.as_bytes());
    }
    v.truncate(len);
    v
}

fn sysroot_guest(program: &str) -> Cmd {
    let s = sysroot();
    if runner().is_some() {
        guest(s.join(program)).env("QEMU_LD_PREFIX", &s)
    } else {
        let root = s.to_str().expect("sysroot path is UTF-8");
        guest_with(&["-L", root], s.join(program))
    }
}

/// `xz -T2` splits the input into blocks compressed by two threads; the
/// result must decompress (with the host's xz) to the input, and the
/// guest's multi-threaded decompression must give the input back.
#[test]
fn xz_two_threads_round_trip() {
    let data = input(16 << 20);
    let dir = scratch_dir("xz-threads");
    let packed = sysroot_guest("usr/bin/xz")
        .args(["-T2", "-1", "-c"])
        .stdin(data.clone())
        .run();
    packed.assert_success();
    assert!(packed.stdout.len() < data.len() / 2, "xz did not compress");
    std::fs::write(dir.join("in.xz"), &packed.stdout).expect("write in.xz");
    if let Some(xz) = on_path("xz") {
        let host = host(xz).args(["-dc"]).arg(dir.join("in.xz")).run();
        host.assert_success();
        assert!(
            host.stdout == data,
            "host xz -d of the guest's output differs from the input"
        );
    }
    let unpacked = sysroot_guest("usr/bin/xz")
        .args(["-T2", "-dc"])
        .arg(dir.join("in.xz"))
        .run();
    unpacked.assert_success();
    assert!(
        unpacked.stdout == data,
        "guest xz -T2 -d did not give the input back"
    );
}

/// CPython's threading: joined workers, a producer/consumer pair on a
/// condition variable, a lock-protected counter.
#[test]
fn python_threading() {
    let script = repo().join("tests/guest/py/threads.py");
    let out = sysroot_guest("usr/bin/python3.13")
        .arg("-S")
        .arg(&script)
        .run();
    out.assert_success();
    let want = match on_path("python3") {
        Some(py) => {
            let h = host(py).arg("-S").arg(&script).run();
            h.assert_success();
            h.stdout_str()
        }
        None => {
            "sums [59997, 59997, 59997, 59997]\nqueue 1000 499500\nlock 8000 threads 1\n".into()
        }
    };
    assert_same_text(
        "python threads vs the host's python3",
        &out.stdout_str(),
        &want,
    );
}

/// 7-Zip's LZMA benchmark with two threads: it compresses generated data,
/// decompresses it and checks the result (a mismatch prints `ERROR` and
/// exits non-zero). A 256 KiB dictionary (`-md18`) and a fixed, small
/// amount of work (`-mtic=26`) keep it to seconds.
#[test]
fn sevenzip_benchmark_two_threads() {
    let out = sysroot_guest("usr/lib/7zip/7zr")
        .args(["b", "1", "-mmt2", "-md18", "-mtic=26"])
        .run();
    out.assert_success();
    let text = out.stdout_str();
    assert!(
        text.contains("Benchmark threads:      2") && !text.contains("ERROR"),
        "7zr b: unexpected report:\n{text}"
    );
    let tot = text
        .lines()
        .find(|l| l.starts_with("Tot:"))
        .unwrap_or_else(|| panic!("7zr b: no Tot: line:\n{text}"));
    let rating: u64 = tot
        .split_whitespace()
        .last()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("7zr b: bad Tot: line {tot:?}"));
    assert!(rating > 0, "7zr b: zero rating:\n{text}");
}

/// `sysbench cpu` with four threads and a fixed number of events: every
/// event is done exactly once, shared out among the four threads.
#[test]
fn sysbench_cpu_four_threads() {
    let out = sysroot_guest("usr/bin/sysbench")
        .args([
            "cpu",
            "--threads=4",
            "--time=0",
            "--events=1000",
            "--cpu-max-prime=10000",
            "run",
        ])
        .run();
    out.assert_success();
    let text = out.stdout_str();
    let field = |name: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("sysbench: no '{name}' line:\n{text}"));
        line[line.find(':').expect("colon") + 1..]
            .trim()
            .to_string()
    };
    assert_eq!(field("Number of threads"), "4", "{text}");
    assert_eq!(field("total number of events"), "1000", "{text}");
    assert!(
        field("events (avg/stddev)").starts_with("250.0000/"),
        "{text}"
    );
    let rate: f64 = field("events per second").parse().expect("events/s");
    assert!(rate > 0.0, "{text}");
}

/// `stress-ng --cpu 2 --verify`: two forked worker processes run the CPU
/// stressor's methods and check their results; the parent sums their
/// bogo-op counters from shared memory (all zero, with a warning, when
/// `mmap(MAP_SHARED)` memory was not shared across `fork`).
#[test]
fn stress_ng_cpu_two_workers() {
    let dir = scratch_dir("stress-ng");
    let out = sysroot_guest("usr/bin/stress-ng")
        .args([
            "--cpu",
            "2",
            "--timeout",
            "3s",
            "--metrics-brief",
            "--verify",
        ])
        .arg("--temp-path")
        .arg(&dir)
        .run();
    out.assert_success();
    let text = format!("{}{}", out.stdout_str(), out.stderr);
    assert!(
        text.contains("passed: 2: cpu (2)") && text.contains("failed: 0"),
        "stress-ng: unexpected report:\n{text}"
    );
    assert!(
        !text.contains("bogo-op counters are zero"),
        "stress-ng: the workers' counters did not reach the parent:\n{text}"
    );
    let ops: u64 = text
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace().skip_while(|w| *w != "cpu");
            w.next()?;
            w.next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("stress-ng: no metrics line for cpu:\n{text}"));
    assert!(ops > 0, "stress-ng: zero bogo ops:\n{text}");
}
