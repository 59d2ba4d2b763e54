//! `cranemu system`'s command line: bad input is one line on stderr and
//! exit status 1 (never a panic), the GDB stub is refused, the help
//! mentions the command; and, once the system engine runs guests, the
//! embedded default guest and the console's Ctrl-A escapes.
//!
//! These check cranemu's own command line, so they are skipped under
//! `CRANEMU_TEST_RUNNER` (see tests/common/mod.rs).

mod common;

use common::*;
use std::path::PathBuf;

/// The embedded default guest, also usable as a `-kernel`.
fn default_guest() -> PathBuf {
    repo().join("src/default_system_guest.elf")
}

/// `cranemu system ARGS...` with `env` set.
fn system(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = cranemu_cmd().arg("system").args(args);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run()
}

/// Checks `out` is a refusal: status 1, one line on stderr starting
/// `cranemu: ` and containing every one of `words`, nothing on stdout.
fn check_refused(out: &Outcome, words: &[&str]) {
    let what = format!("`{}`", out.cmdline);
    assert!(
        !out.stderr.contains("panicked"),
        "{what} panicked:\n{}",
        out.stderr
    );
    assert_eq!(out.signal, None, "{what}: killed; stderr:\n{}", out.stderr);
    assert_eq!(
        out.status, 1,
        "{what}: exit status; stderr:\n{}",
        out.stderr
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: expected one line on stderr, got:\n{}",
        out.stderr
    );
    assert!(lines[0].starts_with("cranemu: "), "{what}: {:?}", lines[0]);
    for w in words {
        assert!(
            lines[0].contains(w),
            "{what}: the message lacks {w:?}: {:?}",
            lines[0]
        );
    }
    assert!(
        out.stdout.is_empty(),
        "{what}: unexpected stdout: {}",
        out.stdout_str()
    );
}

#[test]
fn bad_options_are_refused_in_one_line() {
    if runner().is_some() {
        return;
    }
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["-M", "sifive_u"],
            &["unknown machine 'sifive_u' (only 'virt')"],
        ),
        (&["-machine", "spike"], &["unknown machine 'spike'"]),
        (&["-m", "0"], &["-m 0", "minimum"]),
        (&["-m", "99999G"], &["-m 99999G", "maximum"]),
        (&["-m", "12Q"], &["-m 12Q"]),
        (&["-m"], &["-m", "requires an argument"]),
        (&["-smp", "0"], &["-smp 0", "1 to 512"]),
        (&["-smp", "cpus=x"], &["-smp cpus=x"]),
        (&["-foo"], &["-foo: invalid option"]),
        (&["-d", "bogus"], &["bogus"]),
        (&["-serial", "pty"], &["-serial pty"]),
        (&["-jit-threshold", "many"], &["-jit-threshold many"]),
        (&["-initrd", "rd"], &["-initrd", "-kernel"]),
        (&["-append", "quiet"], &["-append", "-kernel"]),
        (&["disk.img"], &["disk.img"]),
    ];
    for (args, words) in cases {
        check_refused(&system(args, &[]), words);
    }
}

#[test]
fn the_gdb_stub_is_refused() {
    if runner().is_some() {
        return;
    }
    for args in [&["-s"][..], &["-S"], &["-gdb", "tcp::1234"], &["-s", "-S"]] {
        check_refused(&system(args, &[]), &[args[0], "not supported yet"]);
    }
}

#[test]
fn missing_and_bad_images_are_refused_in_one_line() {
    if runner().is_some() {
        return;
    }
    let dir = scratch_dir("system-cli-images");
    let guest = default_guest();
    let guest = guest.to_str().unwrap();
    let missing = dir.join("missing");
    let missing = missing.to_str().unwrap();
    let k = ["-bios", "none", "-kernel", guest];

    // Missing files.
    check_refused(&system(&["-kernel", missing], &[]), &["-kernel", missing]);
    check_refused(&system(&["-bios", missing], &[]), &["-bios", missing]);
    check_refused(
        &system(&[&k[..], &["-initrd", missing]].concat(), &[]),
        &["-initrd", missing],
    );
    // Unreadable: a directory.
    let d = dir.to_str().unwrap();
    check_refused(&system(&["-bios", "none", "-kernel", d], &[]), &["-kernel"]);
    // $CRANEMU_BIOS names the default firmware, which must then exist.
    check_refused(
        &system(&["-kernel", guest], &[("CRANEMU_BIOS", missing)]),
        &["CRANEMU_BIOS", missing],
    );

    // A truncated ELF, an empty kernel, text as a kernel.
    let whole = std::fs::read(default_guest()).unwrap();
    let truncated = dir.join("truncated.elf");
    std::fs::write(&truncated, &whole[..100]).unwrap();
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.join("text");
    std::fs::write(&text, b"not a kernel at all\n".repeat(10)).unwrap();
    for f in [&truncated, &empty, &text] {
        let name = f.file_name().unwrap().to_str().unwrap();
        check_refused(
            &system(&["-bios", "none", "-kernel", f.to_str().unwrap()], &[]),
            &[name],
        );
    }

    // An initrd as large as RAM (sparse: costs no disk).
    let big = dir.join("big.cpio");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    check_refused(
        &system(
            &[&k[..], &["-m", "32M", "-initrd", big.to_str().unwrap()]].concat(),
            &[],
        ),
        &["initrd", "does not fit"],
    );
    // Firmware larger than RAM.
    check_refused(
        &system(&["-m", "16M", "-bios", big.to_str().unwrap()], &[]),
        &["firmware", "does not fit"],
    );
    // An unwritable -D log and -serial file.
    check_refused(
        &system(&[&k[..], &["-D", "/nonexistent/dir/log"]].concat(), &[]),
        &["-D"],
    );
    check_refused(
        &system(
            &[&k[..], &["-serial", "file:/nonexistent/dir/out"]].concat(),
            &[],
        ),
        &["-serial"],
    );
}

#[test]
fn help_mentions_system() {
    if runner().is_some() {
        return;
    }
    let out = cranemu_cmd().arg("--help").run();
    out.assert_success();
    assert!(out.stdout_str().contains("system"), "{}", out.stdout_str());
    for h in ["-help", "-h", "--help"] {
        let out = system(&[h], &[]);
        out.assert_success();
        let text = out.stdout_str();
        assert!(text.contains("Usage: cranemu system"), "{text}");
        for opt in ["-kernel", "-bios", "-nographic", "-smp", "Ctrl-A x"] {
            assert!(text.contains(opt), "help lacks {opt}: {text}");
        }
    }
    let out = system(&["-d", "help"], &[]);
    out.assert_success();
    assert!(out.stdout_str().contains("mmu"));
}

/// The greeting of the embedded default guest.
const GREETING: &str = "cranemu: hello from the virt machine (M mode, hart 0)\n";

/// The committed default guest does what it says under the reference
/// emulator (skipped without `qemu-system-riscv64`).
#[test]
fn the_default_guest_runs_under_qemu() {
    if on_path("qemu-system-riscv64").is_none() {
        eprintln!("skipped: no qemu-system-riscv64 on PATH");
        return;
    }
    let out = host("qemu-system-riscv64")
        .args(["-M", "virt", "-bios", "none", "-nographic", "-kernel"])
        .arg(default_guest())
        .run();
    out.assert_success();
    assert_eq!(out.stdout_str(), GREETING);
}

#[test]
fn the_default_guest_greets_and_powers_off() {
    if runner().is_some() {
        return;
    }
    let greeting = GREETING;
    let out = system(&[], &[]);
    out.assert_success();
    assert_eq!(out.stdout_str(), greeting);
    // The same ELF as a -kernel, with QEMU's usual options.
    let out = system(
        &[
            "-M",
            "virt",
            "-bios",
            "none",
            "-nographic",
            "-kernel",
            default_guest().to_str().unwrap(),
        ],
        &[],
    );
    out.assert_success();
    assert_eq!(out.stdout_str(), greeting);
    // Serial output to a file; statistics on stderr.
    let file = scratch_dir("system-cli-serial").join("serial.out");
    let out = system(
        &["-serial", &format!("file:{}", file.display()), "-stats"],
        &[],
    );
    out.assert_success();
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), greeting);
    assert!(out.stderr.lines().any(|l| l.starts_with("cranemu-stats: ")));
}

#[test]
fn ctrl_a_x_quits_a_running_machine() {
    if runner().is_some() {
        return;
    }
    // No firmware, no kernel: the hart runs whatever RAM holds (zeros:
    // illegal instructions, forever) until Ctrl-A x. Ctrl-A h first.
    let out = cranemu_cmd()
        .args(["system", "-bios", "none", "-nographic"])
        .stdin(&b"\x01h\x01x"[..])
        .run();
    out.assert_success();
    assert!(out.stderr.contains("C-a x"), "{}", out.stderr);
    assert!(out.stderr.contains("cranemu: terminated"), "{}", out.stderr);
}
