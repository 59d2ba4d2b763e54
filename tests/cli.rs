//! cranemu's own command line: translation logs (`-d`, `-D`), `-strace`,
//! `-stats`, and option errors.

mod common;

use common::*;

fn hello() -> std::path::PathBuf {
    repo().join("tests/guest/bin/hello")
}

/// Runs `hello` with options `args` and `-D` a log file in scratch
/// directory `dir`; its stdout and the log's text.
fn run_logged(dir: &str, args: &[&str]) -> (String, String) {
    let log = scratch_dir(dir).join("d.log");
    let out = cranemu_cmd()
        .arg("run")
        .args(args)
        .arg("-D")
        .arg(&log)
        .arg(hello())
        .run();
    out.assert_success();
    let text = std::fs::read_to_string(&log).expect("log file written");
    (out.stdout_str(), text)
}

#[test]
fn translation_logs_go_to_the_log_file() {
    if runner().is_some() {
        return;
    }
    let (stdout, text) = run_logged(
        "cli-log",
        &["-jit-threshold", "0", "-d", "in_asm,op,out_asm"],
    );
    assert!(stdout.contains("hello from cranemu"));
    // The entry point's first instruction, as the disassembler prints it.
    assert!(text.contains("IN: 0x1114c"), "{}", truncate(&text, 2000));
    assert!(text.contains("auipc gp, 2"), "{}", truncate(&text, 2000));
    // IR and host code of the same blocks.
    assert!(text.contains("OP:") && text.contains("block 0x1114c:"));
    assert!(text.contains("insn_start 0x1114c, 4"));
    assert!(text.contains("OUT: 0x1114c") && text.contains("push rbp"));
}

/// With the JIT threshold above zero, blocks first get first-tier code,
/// which `-d out_asm` shows too: the exit stubs, then the entry's
/// forwarding `jmp` and its run counter.
#[test]
fn out_asm_shows_first_tier_code() {
    if runner().is_some() {
        return;
    }
    let (_, text) = run_logged("cli-log-tier1", &["-d", "out_asm"]);
    let first = text
        .split("\n\n")
        .find(|b| b.starts_with("OUT: 0x1114c") && b.contains("first tier (entry 0x"))
        .unwrap_or_else(|| panic!("no first-tier code for 0x1114c: {}", truncate(&text, 2000)));
    assert!(first.contains("sub dword ptr [rip"), "{first}");
    assert!(first.contains("ret"), "{first}");
}

#[test]
fn strace_and_stats_report_on_stderr() {
    if runner().is_some() {
        return;
    }
    let out = cranemu_cmd()
        .arg("run")
        .args(["-strace", "-stats"])
        .arg(hello())
        .run();
    out.assert_success();
    assert!(out.stderr.contains(" write(1,"), "{}", out.stderr);
    assert!(out.stderr.contains(" exit_group(0)"), "{}", out.stderr);
    let stats = out
        .stderr
        .lines()
        .find(|l| l.starts_with("cranemu-stats:"))
        .expect("a stats line");
    assert!(
        stats.contains(" executed_insns=") && !stats.contains(" executed_insns=0 "),
        "{stats}"
    );
}

#[test]
fn bad_options_are_one_line_errors() {
    if runner().is_some() {
        return;
    }
    let out = cranemu_cmd()
        .arg("run")
        .args(["-d", "bogus"])
        .arg(hello())
        .run();
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("bogus"));
    let out = cranemu_cmd()
        .arg("run")
        .args(["-E", "NOEQUALS"])
        .arg(hello())
        .run();
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
    // Errors clap finds are one line too, not its usage and tips.
    for args in [
        &["run", "-x"][..],
        &["run", "-jit-threshold", "-1", "p"],
        &["run", "-jit-threshold"],
        &["bench", "--bogus"],
        &["binfmt", "--frobnicate"],
    ] {
        let out = cranemu_cmd().args(args).run();
        assert_eq!(out.status, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("cranemu: "),
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// A full standard output or error (`> /dev/full`) loses cranemu's text
/// but never panics: the exit status is what it would have been.
#[test]
fn a_full_stdout_or_stderr_is_no_panic() {
    if runner().is_some() {
        return;
    }
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let run = |args: &[&str], to_stdout: bool| {
        let mut c = std::process::Command::new(cranemu());
        c.args(args).stdin(std::process::Stdio::null());
        if to_stdout {
            c.stdout(full()).stderr(std::process::Stdio::null());
        } else {
            c.stdout(std::process::Stdio::null()).stderr(full());
        }
        c.status().unwrap().code()
    };
    assert_eq!(run(&["system", "-version"], true), Some(0));
    assert_eq!(run(&["system", "-help"], true), Some(0));
    let missing = scratch_dir("cli-full").join("no-such-program");
    assert_eq!(run(&["run", missing.to_str().unwrap()], false), Some(127));
    let hello = hello();
    assert_eq!(
        run(&["run", "-strace", hello.to_str().unwrap()], false),
        Some(0)
    );
}
