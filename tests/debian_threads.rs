//! Multi-threaded Debian riscv64 programs under cranemu (guest threads are
//! host threads sharing one translation cache): `xz -T2` compression and
//! decompression, byte-identical with the host's `xz`, and CPython 3.13's
//! `threading` (tests/guest/py/threads.py), compared with the host's python.
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
    assert!(
        s.join("usr/bin/xz").is_file() && s.join("usr/bin/python3.13").is_file(),
        "{}: no xz or python3.13: run scripts/fetch-guests.sh first",
        s.display()
    );
    s
}

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
