//! `cranemu binfmt --install` / `--uninstall` (issue 11): after
//! installing, a riscv64 ELF executed directly runs under cranemu, with
//! its arguments; after uninstalling, the kernel refuses it again.
//!
//! Runs only as root (skipped with a message otherwise), and then inside a
//! private user and mount namespace with its own binfmt_misc instance
//! (`unshare --user --map-root-user --mount`, Linux 6.7 and later), so the
//! host's own binfmt_misc entries are never touched, even if the test dies
//! half-way; skipped with a message where such a namespace cannot be made.

mod common;

use common::*;

#[test]
fn binfmt_install_runs_riscv64_programs_directly() {
    if runner().is_some() {
        eprintln!("skipped under CRANEMU_TEST_RUNNER: checks cranemu's own command");
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: cranemu binfmt needs root (run the tests as root to include it)");
        return;
    }
    let probe = host("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg("mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc")
        .run();
    if probe.status != 0 {
        eprintln!(
            "skipped: no private binfmt_misc instance here (unshare/mount failed: {})",
            probe.stderr.trim()
        );
        return;
    }
    let dir = scratch_dir("binfmt");
    let prog = dir.join("hello");
    std::fs::copy(repo().join("tests/guest/bin/hello"), &prog).expect("copy hello");
    let script = r#"
set -u
cranemu=$1 prog=$2
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 90
"$cranemu" binfmt --install || exit 91
grep -q "^interpreter $cranemu\$" /proc/sys/fs/binfmt_misc/cranemu-riscv64 || exit 92
echo "--- direct"
"$prog" one "two words"
echo "status $?"
"$cranemu" binfmt --install 2>/dev/null && exit 93
"$cranemu" binfmt --uninstall || exit 94
test -e /proc/sys/fs/binfmt_misc/cranemu-riscv64 && exit 95
echo "--- after uninstall"
"$prog" 2>/dev/null
echo "status $?"
"#;
    let out = host("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(cranemu())
        .arg(&prog)
        .run();
    out.assert_success();
    let hello = std::fs::read_to_string(repo().join("tests/guest/expected/hello.out")).unwrap();
    let want = format!(
        "cranemu: registered /proc/sys/fs/binfmt_misc/cranemu-riscv64 for riscv64 ELF executables: {}\n\
         --- direct\n{hello}argv[1] = one\nargv[2] = two words\nstatus 0\n\
         cranemu: removed /proc/sys/fs/binfmt_misc/cranemu-riscv64\n\
         --- after uninstall\nstatus 126\n",
        cranemu().display()
    );
    assert_same_text("binfmt install, run, uninstall", &out.stdout_str(), &want);
}
