//! Floating point in whole guest programs: glibc programs built at test time
//! with the riscv64 cross compiler (skipped, with the reason, when it or the
//! riscv64 glibc is not installed), from tests/guest/libc/:
//!
//! - `fp_libm.c`: printf/strtod of doubles and floats, libm, the four
//!   rounding modes (rint, arithmetic, conversions, printf and strtod in each)
//!   and exception flags. Also built for the host with gcc: under cranemu
//!   (default tiering and `-jit-threshold 0`) its output must equal the host
//!   build's byte for byte, part by part (`fp_libm_PART`). qemu-riscv64, when
//!   installed, must agree with the host too (a check of the test itself: a
//!   difference there is a legitimate riscv64/x86-64 difference that belongs
//!   in the next part). The part whose results differ between riscv64 and
//!   x86-64 glibc (cbrt, hypot, fmin/fmax of signed zeros, flags of
//!   floor/ceil/round: see `part_riscv` in the C file) is compared with
//!   tests/guest/expected/fp_libm_riscv.out and with qemu-riscv64 instead.
//! - `fp_vectors.c`: every F and D instruction in inline asm, with every
//!   static and dynamic rounding mode, on edge and pseudo-random operands; one
//!   hash of (result, fflags) per instruction and mode. Compared with
//!   tests/guest/expected/fp_vectors.out and with qemu-riscv64; and the
//!   default run with `-jit-threshold 0` and with `-jit-threshold 1000000000`
//!   (all interpreted; in two halves, which run in parallel). On a mismatch
//!   the test reruns the first differing (instruction, mode) with every
//!   vector printed and reports the first differing vectors. The same file
//!   built for the host computes what x86-64's SSE and FMA3 can compute
//!   exactly (arithmetic, sqrt, fused ops, compares, conversions; rne rtz
//!   rdn rup and dyn0..dyn3), with RISC-V's NaN, boxing and saturation rules
//!   applied on top: those lines must equal the checked-in file, a check of
//!   the reference that does not depend on qemu.
//! - `fp_signal.c`: f registers and fcsr across signal delivery and
//!   sigreturn (the frame's `__fpregs.__d`, read and rewritten by a
//!   handler), against tests/guest/expected/fp_signal.out and qemu-riscv64,
//!   under each tier.
//!
//! The expected files are qemu-riscv64's output: after a change to a C file,
//! regenerate them with the same build (`riscv64-linux-gnu-gcc -static -O2
//! -ffp-contract=off -frounding-math -o P tests/guest/libc/P.c -lm`), then
//! `qemu-riscv64 P riscv > fp_libm_riscv.out`, `qemu-riscv64 P >
//! fp_vectors.out`, `qemu-riscv64 P > fp_signal.out`.
//!
//! `cargo test --release --test fp_programs`; see tests/common/mod.rs for
//! `CRANEMU_TEST_RUNNER`.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Flags for both builds: no fused multiply-add contraction (riscv64 GCC
/// contracts a*b+c by default, x86-64 GCC without -march cannot), and no
/// assumption that the rounding mode is the default one.
const CFLAGS: &[&str] = &["-O2", "-ffp-contract=off", "-frounding-math"];

/// "Everything interpreted": a threshold no block reaches.
const NEVER_COMPILE: &str = "1000000000";

enum Target {
    Riscv64,
    Host,
}

/// Builds tests/guest/libc/NAME.c once per test binary (tests run in
/// parallel: the lock serializes the builds). None, with the reason printed,
/// when the compiler or the C library is missing.
fn build(name: &'static str, target: Target) -> Option<PathBuf> {
    static BUILT: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let (cc, tag, extra): (&str, &str, &[&str]) = match target {
        Target::Riscv64 => ("riscv64-linux-gnu-gcc", "riscv64", &["-static"]),
        Target::Host => ("gcc", "host", &[]),
    };
    let key = format!("{name}-{tag}");
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let result = match built.get(&key) {
        Some(done) => done.clone(),
        None => {
            let result = compile(name, &key, cc, tag, extra);
            built.insert(key, result.clone());
            result
        }
    };
    // Every test that needs a missing compiler says why it did nothing.
    result.map_err(|why| eprintln!("skipped: {why}")).ok()
}

/// Compiles one program; Err(reason) when the compiler or its C library is
/// missing, a panic when it fails otherwise.
fn compile(name: &str, key: &str, cc: &str, tag: &str, extra: &[&str]) -> Result<PathBuf, String> {
    let Some(cc_path) = on_path(cc) else {
        return Err(format!(
            "{cc} not on PATH (apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross gcc)"
        ));
    };
    let dir = scratch_dir(&format!("fp-{key}"));
    let exe = dir.join(name);
    let src = repo().join(format!("tests/guest/libc/{name}.c"));
    let out = host(cc_path)
        .args(extra)
        .args(CFLAGS)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .arg("-lm")
        .run();
    if out.status != 0 && out.stderr.contains("cannot find -lc") {
        return Err(format!(
            "no {tag} glibc to link against (apt-get install libc6-dev-riscv64-cross)\n{}",
            out.stderr
        ));
    }
    out.assert_success();
    Ok(exe)
}

fn expected(name: &str) -> String {
    let p = repo()
        .join("tests/guest/expected")
        .join(format!("{name}.out"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// qemu-riscv64, unless it is missing (reason printed) or is already the
/// runner under test.
fn qemu() -> Option<PathBuf> {
    if runner().is_some() {
        return None;
    }
    let q = on_path("qemu-riscv64");
    if q.is_none() {
        eprintln!("comparison with qemu-riscv64 skipped: not on PATH (apt-get install qemu-user)");
    }
    q
}

/// Asserts equal texts; on a difference lists the differing lines (up to
/// 60, line by line) and how many there are.
fn assert_same_lines(what: &str, actual: &str, expected: &str) {
    if let Some(msg) = diff_lines(what, actual, expected) {
        panic!("{msg}");
    }
}

fn diff_lines(what: &str, actual: &str, expected: &str) -> Option<String> {
    if actual == expected {
        return None;
    }
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    let differing: Vec<usize> = (0..a.len().max(e.len()))
        .filter(|&i| a.get(i) != e.get(i))
        .collect();
    let mut msg = format!(
        "{what}: {} of {} lines differ (got {} lines, expected {})\n",
        differing.len(),
        a.len().max(e.len()),
        a.len(),
        e.len()
    );
    for &i in differing.iter().take(60) {
        msg += &format!(
            "line {}:\n  got:      {}\n  expected: {}\n",
            i + 1,
            a.get(i).copied().unwrap_or("<end of output>"),
            e.get(i).copied().unwrap_or("<end of output>")
        );
    }
    if differing.len() > 60 {
        msg += &format!("... and {} more\n", differing.len() - 60);
    }
    Some(msg)
}

// ------------------------------------------------------------- fp_libm

/// Runs one part of fp_libm under cranemu (both tiers) and compares with
/// the host build; qemu-riscv64 must agree with the host too.
fn libm_part(part: &str) {
    let (Some(guest_exe), Some(host_exe)) = (
        build("fp_libm", Target::Riscv64),
        build("fp_libm", Target::Host),
    ) else {
        return;
    };
    let native = host(&host_exe).arg(part).run();
    native.assert_success();
    let want = native.stdout_str();
    if let Some(q) = qemu() {
        let out = host(q).arg(&guest_exe).arg(part).run();
        out.assert_success();
        assert_same_lines(
            &format!(
                "fp_libm {part}: qemu-riscv64 vs the host build (the test itself is wrong here)"
            ),
            &out.stdout_str(),
            &want,
        );
    }
    let out = guest(&guest_exe).arg(part).run();
    out.assert_success();
    assert_same_lines(
        &format!("fp_libm {part}: cranemu vs the host build"),
        &out.stdout_str(),
        &want,
    );
    if runner().is_none() {
        let out = guest_with(&["-jit-threshold", "0"], &guest_exe)
            .arg(part)
            .run();
        out.assert_success();
        assert_same_lines(
            &format!("fp_libm {part}: cranemu -jit-threshold 0 vs the host build"),
            &out.stdout_str(),
            &want,
        );
    }
}

#[test]
fn fp_libm_printf() {
    libm_part("printf");
}

#[test]
fn fp_libm_strtod() {
    libm_part("strtod");
}

#[test]
fn fp_libm_libm() {
    libm_part("libm");
}

#[test]
fn fp_libm_rounding_modes() {
    libm_part("round");
}

#[test]
fn fp_libm_exception_flags() {
    libm_part("flags");
}

/// Results where riscv64 glibc legitimately differs from x86-64 glibc:
/// against the checked-in file (qemu-riscv64's output) and qemu-riscv64.
#[test]
fn fp_libm_riscv_only() {
    let Some(exe) = build("fp_libm", Target::Riscv64) else {
        return;
    };
    let want = expected("fp_libm_riscv");
    if let Some(q) = qemu() {
        let out = host(q).arg(&exe).arg("riscv").run();
        out.assert_success();
        assert_same_lines(
            "fp_libm riscv: qemu-riscv64 vs tests/guest/expected/fp_libm_riscv.out",
            &out.stdout_str(),
            &want,
        );
    }
    for options in tier_options() {
        let out = guest_with(options, &exe).arg("riscv").run();
        out.assert_success();
        assert_same_lines(
            &format!("fp_libm riscv {options:?} vs tests/guest/expected/fp_libm_riscv.out"),
            &out.stdout_str(),
            &want,
        );
    }
}

/// cranemu's tiering options to test with: the default, then (not under a
/// reference runner) everything compiled, everything interpreted.
fn tier_options() -> Vec<&'static [&'static str]> {
    if runner().is_some() {
        vec![&[]]
    } else {
        vec![
            &[],
            &["-jit-threshold", "0"],
            &["-jit-threshold", NEVER_COMPILE],
        ]
    }
}

// ---------------------------------------------------------- fp_vectors

/// For each of the first few (instruction, mode) lines that differ, reruns
/// both sides with every vector printed and reports the first differing
/// vectors: `index a b c -> result fflags`.
fn explain_vector_diff(
    actual: &str,
    expected: &str,
    rerun_actual: &dyn Fn(&str, &str) -> String,
    rerun_expected: &dyn Fn(&str, &str) -> String,
) -> String {
    let mut report = String::new();
    let mut shown = 0;
    for (a, e) in actual.lines().zip(expected.lines()) {
        if a == e || !a.contains("hash=") {
            continue;
        }
        let mut f = a.split_whitespace();
        let (Some(name), Some(rm)) = (f.next(), f.next()) else {
            continue;
        };
        report +=
            &format!("\n{name} {rm}: first differing vectors (index a b c -> result fflags):\n");
        let (va, ve) = (rerun_actual(name, rm), rerun_expected(name, rm));
        let diffs: Vec<(&str, &str)> = va.lines().zip(ve.lines()).filter(|(x, y)| x != y).collect();
        let total = diffs.len();
        for (x, y) in diffs.into_iter().take(6) {
            report += &format!("  got:      {x}\n  expected: {y}\n");
        }
        report += &format!("  ({total} of {} vectors differ)\n", ve.lines().count());
        shown += 1;
        if shown == 3 {
            break;
        }
    }
    report
}

fn check_vectors(
    what: &str,
    actual: &str,
    expected: &str,
    rerun_actual: &dyn Fn(&str, &str) -> String,
    rerun_expected: &dyn Fn(&str, &str) -> String,
) {
    if let Some(msg) = diff_lines(what, actual, expected) {
        let detail = explain_vector_diff(actual, expected, rerun_actual, rerun_expected);
        panic!("{msg}{detail}");
    }
}

fn dump_with<'a>(
    exe: &'a PathBuf,
    options: &'static [&'static str],
) -> impl Fn(&str, &str) -> String + 'a {
    move |name: &str, rm: &str| {
        let out = guest_with(options, exe).args([name, rm]).run();
        out.assert_success();
        out.stdout_str()
    }
}

/// The whole suite under cranemu's default tiering against the checked-in
/// file and qemu-riscv64.
#[test]
fn fp_vectors_vs_qemu() {
    let Some(exe) = build("fp_vectors", Target::Riscv64) else {
        return;
    };
    let out = guest(&exe).run();
    out.assert_success();
    let got = out.stdout_str();
    let want = expected("fp_vectors");
    if let Some(q) = qemu() {
        let qo = host(&q).arg(&exe).run();
        qo.assert_success();
        assert_same_lines(
            "fp_vectors: qemu-riscv64 vs tests/guest/expected/fp_vectors.out",
            &qo.stdout_str(),
            &want,
        );
        let rerun_qemu = |name: &str, rm: &str| {
            let o = host(&q).arg(&exe).args([name, rm]).run();
            o.assert_success();
            o.stdout_str()
        };
        check_vectors(
            "fp_vectors: cranemu vs qemu-riscv64",
            &got,
            &want,
            &dump_with(&exe, &[]),
            &rerun_qemu,
        );
    } else {
        let none =
            |_: &str, _: &str| String::from("(no qemu-riscv64 to print the expected vectors)\n");
        check_vectors(
            "fp_vectors: cranemu vs tests/guest/expected/fp_vectors.out",
            &got,
            &want,
            &dump_with(&exe, &[]),
            &none,
        );
    }
}

/// The checked-in reference (qemu-riscv64's output) against the host's FPU,
/// for the lines the host build computes.
#[test]
fn fp_vectors_expected_vs_host_fpu() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("skipped: the host reference in fp_vectors.c is x86-64 SSE");
        return;
    }
    let Some(exe) = build("fp_vectors", Target::Host) else {
        return;
    };
    let out = host(&exe).run();
    out.assert_success();
    let want = expected("fp_vectors");
    let key = |l: &str| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let by_key: HashMap<String, &str> = want.lines().map(|l| (key(l), l)).collect();
    let (mut got_lines, mut want_lines) = (String::new(), String::new());
    for line in out.stdout_str().lines() {
        if line.starts_with('(') {
            eprintln!("{line}");
            continue;
        }
        got_lines += &format!("{line}\n");
        want_lines += &format!(
            "{}\n",
            by_key
                .get(&key(line))
                .copied()
                .unwrap_or("<not in the expected file>")
        );
    }
    let rerun_host = |name: &str, rm: &str| {
        let o = host(&exe).args([name, rm]).run();
        o.assert_success();
        o.stdout_str()
    };
    let rerun_qemu = |name: &str, rm: &str| match (
        on_path("qemu-riscv64"),
        build("fp_vectors", Target::Riscv64),
    ) {
        (Some(q), Some(rv)) => {
            let o = host(q).arg(rv).args([name, rm]).run();
            o.assert_success();
            o.stdout_str()
        }
        _ => String::from("(no qemu-riscv64 to print the expected vectors)\n"),
    };
    check_vectors(
        "fp_vectors: the host FPU vs tests/guest/expected/fp_vectors.out",
        &got_lines,
        &want_lines,
        &rerun_host,
        &rerun_qemu,
    );
    let n = got_lines.lines().count();
    assert!(n >= 200, "the host build computed only {n} lines");
}

/// Everything compiled before it first runs: the same output as the default.
#[test]
fn fp_vectors_jit_threshold_0() {
    vectors_tiers(&["-jit-threshold", "0"], &[]);
}

/// Everything interpreted (the IR interpreter, the JIT's reference): the
/// same output as the default; in two halves, which run in parallel.
#[test]
fn fp_vectors_interpreted_half_0() {
    vectors_tiers(&["-jit-threshold", NEVER_COMPILE], &["-p", "0", "2"]);
}

#[test]
fn fp_vectors_interpreted_half_1() {
    vectors_tiers(&["-jit-threshold", NEVER_COMPILE], &["-p", "1", "2"]);
}

fn vectors_tiers(options: &'static [&'static str], args: &[&str]) {
    if runner().is_some() {
        eprintln!("skipped under CRANEMU_TEST_RUNNER: compares cranemu's tiers");
        return;
    }
    let Some(exe) = build("fp_vectors", Target::Riscv64) else {
        return;
    };
    let base = guest(&exe).args(args).run();
    base.assert_success();
    let out = guest_with(options, &exe).args(args).run();
    out.assert_success();
    check_vectors(
        &format!("fp_vectors {args:?}: cranemu {options:?} vs the default tiering"),
        &out.stdout_str(),
        &base.stdout_str(),
        &dump_with(&exe, options),
        &dump_with(&exe, &[]),
    );
}

// ----------------------------------------------------------- fp_signal

#[test]
fn fp_signal() {
    let Some(exe) = build("fp_signal", Target::Riscv64) else {
        return;
    };
    let want = expected("fp_signal");
    if let Some(q) = qemu() {
        let out = host(q).arg(&exe).run();
        out.assert_success();
        assert_same_lines(
            "fp_signal: qemu-riscv64 vs tests/guest/expected/fp_signal.out",
            &out.stdout_str(),
            &want,
        );
    }
    for options in tier_options() {
        let out = guest_with(options, &exe).run();
        out.assert_success();
        assert_same_lines(
            &format!("fp_signal {options:?} vs tests/guest/expected/fp_signal.out"),
            &out.stdout_str(),
            &want,
        );
    }
}
