//! Full-system emulation: `cranemu system` boots Debian trixie's riscv64 Linux
//! kernel under OpenSBI on the `virt` machine, to a busybox initramfs, and a
//! shell on the serial console runs commands sent on the emulator's stdin:
//!
//! ```text
//! cranemu system -M virt -m 256M -nographic -bios fw_dynamic.bin -kernel Image \
//!     -initrd initramfs.cpio.gz -append "console=ttyS0 panic=-1"
//! ```
//!
//! The same tests run qemu-system-riscv64 (when it is on PATH; the `qemu_*`
//! tests say so and pass when it is not) with the same arguments, which
//! validates the tests, the images and the expected outputs against the
//! reference machine.
//!
//! Needs the boot images from `scripts/fetch-guests.sh` (it runs
//! `scripts/fetch-system-images.sh`; the tests fail, not skip, without them).
//! `CRANEMU_GUEST_CACHE` overrides the cache directory (default
//! `<repo>/.cache/guests`; the images are in its `system/`).
//! `CRANEMU_TEST_TIMEOUT` (seconds, default 300) bounds the boot to the
//! initramfs's ready line and each command; a run past it is killed and the
//! test fails with the last 40 lines of the console.
//!
//! The console protocol (a marker line, the prompt, delimited commands)
//! is `tests/common/console.rs`'s.

mod common;

use common::console::*;
use common::cpio::append_newc;
use common::*;
use std::path::{Path, PathBuf};

const MARKER: &str = "cranemu-initramfs: ready";
const APPEND: &str = "console=ttyS0 panic=-1";

/// The boot images that `scripts/fetch-system-images.sh` leaves in
/// `CACHE/system`.
struct Images {
    firmware: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
    /// The tree the initramfs holds.
    tree: PathBuf,
}

fn images() -> Images {
    let cache = std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"));
    let sys = cache.join("system");
    let img = Images {
        firmware: sys.join("fw_dynamic.bin"),
        kernel: sys.join("Image"),
        initrd: sys.join("initramfs.cpio.gz"),
        tree: sys.join("initramfs"),
    };
    for p in [
        &img.firmware,
        &img.kernel,
        &img.initrd,
        &img.tree.join("bin/busybox"),
    ] {
        assert!(
            p.exists(),
            "{} not found: run scripts/fetch-guests.sh (it fetches Debian's riscv64 \
             kernel and OpenSBI and builds the initramfs, with scripts/fetch-system-images.sh)",
            p.display()
        );
    }
    img
}

impl Machine {
    /// Starts `emulator` on the images with `mem` of RAM and waits for the
    /// initramfs's ready line and the shell's first prompt.
    fn boot(emulator: Emulator, mem: &str) -> Machine {
        Machine::boot_with(emulator, mem, &[])
    }

    /// [`Machine::boot`] with `extra` arguments (`-smp N`).
    fn boot_with(emulator: Emulator, mem: &str, extra: &[&str]) -> Machine {
        Machine::boot_initrd(emulator, mem, extra, &images().initrd)
    }

    /// [`Machine::boot_with`] with another initramfs.
    fn boot_initrd(emulator: Emulator, mem: &str, extra: &[&str], initrd: &Path) -> Machine {
        let img = images();
        let mut cmd = emulator.command();
        cmd.args(extra);
        cmd.args(["-M", "virt", "-m", mem, "-nographic", "-bios"])
            .arg(&img.firmware)
            .arg("-kernel")
            .arg(&img.kernel)
            .arg("-initrd")
            .arg(initrd)
            .args(["-append", APPEND]);
        Machine::start(cmd, MARKER, &format!("{emulator:?} -m {mem}"))
    }
}

/// MemTotal from /proc/meminfo, in KiB.
fn mem_total_kib(m: &mut Machine) -> u64 {
    let out = m.ok("grep MemTotal /proc/meminfo");
    out.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| m.fail(&format!("no MemTotal in:\n{out}")))
}

/// The host's sha256 of `path`.
fn host_sha256(path: &std::path::Path) -> String {
    let out = host("sha256sum").arg(path).run();
    out.assert_success();
    out.stdout_str()
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// Boots with 256 MiB and runs a few commands.
fn boot_and_run_commands(emulator: Emulator) {
    let img = images();
    let mut m = Machine::boot(emulator, "256M");

    let uname = m.ok("uname -a");
    assert!(uname.contains("riscv64"), "uname -a: {uname}");

    let cpuinfo = m.ok("cat /proc/cpuinfo");
    assert!(
        cpuinfo
            .lines()
            .any(|l| l.starts_with("isa") && l.contains("rv64")),
        "/proc/cpuinfo has no `isa : rv64...` line:\n{cpuinfo}"
    );

    let expected = host_sha256(&img.tree.join("bin/busybox"));
    let sum = m.ok("sha256sum /bin/busybox");
    assert_eq!(
        sum.split_whitespace().next(),
        Some(expected.as_str()),
        "the guest's sha256sum of /bin/busybox differs from the host's"
    );

    let lines = m.ok("i=0; while [ $i -lt 6 ]; do echo \"sq $i $((i * i))\"; i=$((i + 1)); done");
    let expected_lines: String = (0..6).map(|i| format!("sq {i} {}\n", i * i)).collect();
    assert_same_text("the shell loop", &lines, &expected_lines);

    let (out, _) = m.run("dmesg | grep -c -E 'Oops|BUG|unhandled signal'");
    assert_eq!(
        out.trim(),
        "0",
        "dmesg reports problems:\n{}",
        m.ok("dmesg | grep -E 'Oops|BUG|unhandled signal'")
    );

    // 256 MiB less what the firmware and the kernel keep.
    let kib = mem_total_kib(&mut m);
    assert!(
        (128 << 10..=256 << 10).contains(&kib),
        "MemTotal {kib} kB with -m 256M"
    );

    let (out, status) = m.run("false");
    assert_eq!((out.as_str(), status), ("", 1), "`false` in the guest");

    m.poweroff();
}

/// Boots with 4 GiB (RAM above 4 GiB of physical address space) and checks
/// that Linux sees it.
fn boot_4g(emulator: Emulator) {
    let mut m = Machine::boot(emulator, "4G");
    let kib = mem_total_kib(&mut m);
    assert!(
        (3584 << 10..=4096 << 10).contains(&kib),
        "MemTotal {kib} kB with -m 4G"
    );
    m.ok("free");
    m.poweroff();
}

/// The initramfs with `bin/smp_threads` (tests/guest/system/smp_threads.c,
/// built here statically against the cross compiler's glibc) added; None
/// (reason printed) without the cross compiler. Built once per run.
fn smp_initrd() -> Option<PathBuf> {
    static BUILT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let Some(cc) = on_path("riscv64-linux-gnu-gcc") else {
                eprintln!(
                    "riscv64-linux-gnu-gcc not on PATH: the guest program checks are not run"
                );
                return None;
            };
            let dir = scratch_dir("linux-smp");
            let prog = dir.join("smp_threads");
            host(cc)
                .args(["-static", "-O2", "-pthread", "-Wall", "-Wextra", "-o"])
                .arg(&prog)
                .arg(repo().join("tests/guest/system/smp_threads.c"))
                .run()
                .assert_success();
            let mut initrd = std::fs::read(images().initrd).expect("read the initramfs");
            append_newc(&mut initrd, &[("bin/smp_threads", &prog)]);
            let path = dir.join("initramfs-smp.cpio");
            std::fs::write(&path, initrd).expect("write the initramfs");
            Some(path)
        })
        .clone()
}

/// The CPU list Linux prints for the online CPUs `cpus` (ascending).
fn cpu_list(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Boots `harts` harts: Linux brings all of them up (OpenSBI's HSM over
/// IPIs); a program with one thread pinned to each hart gets exact totals
/// on shared counters and two pinned threads exchange messages through
/// pipes; work pinned to each hart gives the right answer; hart 1 goes
/// offline and comes back (CPU hotplug: SBI HSM stop and start); nothing
/// locks up; `poweroff -f` ends the emulator.
fn boot_smp(emulator: Emulator, harts: u32) {
    let img = images();
    let initrd = smp_initrd();
    let n = harts.to_string();
    let mut m = Machine::boot_initrd(
        emulator,
        "256M",
        &["-smp", &n],
        initrd.as_deref().unwrap_or(&img.initrd),
    );
    let all: Vec<u32> = (0..harts).collect();
    assert_eq!(m.ok("nproc").trim(), n, "nproc with -smp {harts}");
    assert_eq!(
        m.ok("cat /sys/devices/system/cpu/online").trim(),
        cpu_list(&all),
        "online CPUs with -smp {harts}"
    );
    if initrd.is_some() {
        let out = m.ok(&format!("/bin/smp_threads {harts}"));
        assert_same_text(
            "smp_threads",
            &without_kernel_messages(&out),
            "ok online CPUs\nok amoadd total\nok compare-and-swap total\nok mutex total\n\
             ok pipe messages out of sequence (cpu 0 end)\n\
             ok pipe messages out of sequence (last cpu end)\nPASS\n",
        );
    }
    let expected = host_sha256(&img.tree.join("bin/busybox"));
    let sums = m.ok(&format!(
        "for c in {}; do taskset -c $c sha256sum /bin/busybox > /tmp/s$c & done; wait; \
         for c in {0}; do cat /tmp/s$c; done",
        all.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
    ));
    let sums = without_kernel_messages(&sums);
    let got: Vec<&str> = sums
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        got,
        vec![expected.as_str(); harts as usize],
        "sha256sum pinned to each hart:\n{sums}"
    );

    // CPU hotplug: hart 1 stops (SBI HSM hart_stop) and starts again.
    m.ok("echo 0 > /sys/devices/system/cpu/cpu1/online");
    let rest: Vec<u32> = all.iter().copied().filter(|&c| c != 1).collect();
    assert_eq!(
        m.ok("cat /sys/devices/system/cpu/online").trim(),
        cpu_list(&rest),
        "online CPUs with cpu1 offline"
    );
    assert_eq!(
        m.ok("nproc").trim(),
        (harts - 1).to_string(),
        "nproc with cpu1 offline"
    );
    m.ok("echo 1 > /sys/devices/system/cpu/cpu1/online");
    assert_eq!(
        m.ok("cat /sys/devices/system/cpu/online").trim(),
        cpu_list(&all),
        "online CPUs with cpu1 back"
    );
    let sum = m.ok("taskset -c 1 sha256sum /bin/busybox");
    assert_eq!(
        without_kernel_messages(&sum).split_whitespace().next(),
        Some(expected.as_str()),
        "sha256sum on cpu1 after it came back"
    );

    let (out, _) = m.run("dmesg | grep -c -E 'Oops|BUG|unhandled signal|lockup|stall'");
    assert_eq!(
        out.trim(),
        "0",
        "dmesg reports problems:\n{}",
        m.ok("dmesg | grep -E 'Oops|BUG|unhandled signal|lockup|stall'")
    );
    m.poweroff();
}

#[test]
fn kernel_messages_are_recognized() {
    assert!(is_kernel_message("[   12.345678] random: crng init done\n"));
    assert!(is_kernel_message("[12345.000001] x"));
    assert!(!is_kernel_message("[ok] not a stamp\n"));
    assert!(!is_kernel_message("sq 1 1\n"));
    assert_eq!(without_kernel_messages("a\n[    1.5] b\nc\n"), "a\nc\n");
}

#[test]
fn linux_boots_to_a_shell() {
    boot_and_run_commands(Emulator::Cranemu);
}

#[test]
fn linux_sees_4g_of_ram() {
    boot_4g(Emulator::Cranemu);
}

#[test]
fn qemu_linux_boots_to_a_shell() {
    if have_qemu() {
        boot_and_run_commands(Emulator::Qemu);
    }
}

#[test]
fn qemu_linux_sees_4g_of_ram() {
    if have_qemu() {
        boot_4g(Emulator::Qemu);
    }
}

#[test]
fn linux_boots_2_harts() {
    boot_smp(Emulator::Cranemu, 2);
}

#[test]
fn linux_boots_4_harts() {
    boot_smp(Emulator::Cranemu, 4);
}

#[test]
fn linux_boots_8_harts() {
    boot_smp(Emulator::Cranemu, 8);
}

#[test]
fn qemu_linux_boots_2_harts() {
    if have_qemu() {
        boot_smp(Emulator::Qemu, 2);
    }
}

#[test]
fn qemu_linux_boots_4_harts() {
    if have_qemu() {
        boot_smp(Emulator::Qemu, 4);
    }
}
