//! virtio under Linux: Debian's riscv64 kernel on the `virt` machine with
//! virtio-blk and virtio-rng, driven from a shell on the serial console
//! (the protocol of tests/system_linux.rs: each command is sent as
//! `echo "@@""B<n>"; COMMAND; echo "@@""E<n>" $?`).
//!
//! The kernel's virtio-mmio, virtio-blk, virtio-rng and ext4 drivers are
//! modules: the initramfs of `scripts/fetch-virtio-images.sh` (run by
//! `scripts/fetch-guests.sh`) loads them, and with `cranemu.root=/dev/vda`
//! on the command line mounts the disk read-write and switch_roots to it.
//!
//! - a raw disk: the guest reads what the host wrote and writes with `dd`
//!   what the host then reads back byte-identical; `/dev/hwrng` gives
//!   bytes from virtio-rng;
//! - an ext4 root file system that the test builds with `mke2fs -d` from
//!   the tree of Debian's busybox-static (no root needed): 64 MiB written
//!   with `dd` and `sync` read back after a reboot, and after a `kill -9`
//!   of the emulator that followed the guest's `sync`; the host's
//!   `e2fsck -fn` finds the image clean and `debugfs` reads the same bytes.
//!
//! - virtio-console on a Unix socket: a getty on hvc0 gives a host client
//!   a shell.
//!
//! The `qemu_*` twins run qemu-system-riscv64 on the same images and
//! scripts (when it is on PATH). `CRANEMU_TEST_TIMEOUT` (seconds, default
//! 300) bounds each boot and command.
//!
//! The console harness (`Machine`) is tests/system_linux.rs's, with the
//! kernel command line, devices and ready line as parameters; it should
//! move to tests/common once both files settle.

mod common;

use common::console::*;
use common::*;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const INITRAMFS_MARKER: &str = "cranemu-initramfs: ready";
const ROOTFS_MARKER: &str = "cranemu-rootfs: ready";
const APPEND: &str = "console=ttyS0 panic=-1";

/// The images of `scripts/fetch-system-images.sh` and
/// `scripts/fetch-virtio-images.sh`.
struct Images {
    firmware: PathBuf,
    kernel: PathBuf,
    /// The initramfs with the virtio modules.
    initrd: PathBuf,
    /// The root file system's tree, for `mke2fs -d`.
    rootfs: PathBuf,
}

fn images() -> Images {
    let cache = std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"));
    let sys = cache.join("system");
    let img = Images {
        firmware: sys.join("fw_dynamic.bin"),
        kernel: sys.join("Image"),
        initrd: sys.join("virtio/initramfs.cpio.gz"),
        rootfs: sys.join("virtio/rootfs"),
    };
    for p in [
        &img.firmware,
        &img.kernel,
        &img.initrd,
        &img.rootfs.join("sbin/init"),
    ] {
        assert!(
            p.exists(),
            "{} not found: run scripts/fetch-guests.sh (it runs scripts/fetch-system-images.sh \
             and scripts/fetch-virtio-images.sh)",
            p.display()
        );
    }
    img
}

impl Machine {
    /// Starts `emulator` on the images with 256 MiB of RAM, the kernel
    /// command line `APPEND` + `append`, and `extra` arguments (the
    /// devices), and waits for `marker` and the shell's first prompt.
    fn boot(emulator: Emulator, append: &str, extra: &[OsString], marker: &str) -> Machine {
        let img = images();
        let mut cmd = emulator.command();
        cmd.args(["-M", "virt", "-m", "256M", "-nographic", "-bios"])
            .arg(&img.firmware)
            .arg("-kernel")
            .arg(&img.kernel)
            .arg("-initrd")
            .arg(&img.initrd)
            .arg("-append")
            .arg(format!("{APPEND} {append}"))
            .args(extra);
        Machine::start(cmd, marker, &format!("{emulator:?}"))
    }
}

impl Machine {
    /// `reboot -f`: the emulator exits 0 on the guest's reset request
    /// (cranemu ends there; QEMU runs with -no-reboot).
    fn reboot(mut self) {
        self.send("reboot -f");
        match self.wait_exit(timeout()) {
            Some(0) => {}
            Some(s) => self.fail(&format!("exited with status {s} after `reboot -f`")),
            None => self.fail("still running after `reboot -f`"),
        }
    }
}

/// The host's sha256 of `data`.
fn sha256(data: &[u8]) -> String {
    // A directory per thread: `scratch_dir` empties the directory it
    // returns, and tests running in parallel hash at the same time.
    let id = format!("{:?}", std::thread::current().id());
    let id: String = id.chars().filter(char::is_ascii_digit).collect();
    let dir = scratch_dir(&format!("virtio-sha256-{id}"));
    let p = dir.join("data");
    std::fs::write(&p, data).unwrap();
    let out = host("sha256sum").arg(&p).run();
    out.assert_success();
    out.stdout_str()
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// The first word of a command's output (a sha256sum).
fn first_word(out: &str) -> String {
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A host tool from e2fsprogs (in /sbin, which a user's PATH may lack).
fn e2fs_tool(name: &str) -> PathBuf {
    on_path(name)
        .or_else(|| {
            ["/usr/sbin", "/sbin"]
                .iter()
                .map(|d| Path::new(d).join(name))
                .find(|p| p.exists())
        })
        .unwrap_or_else(|| panic!("{name} not found (apt-get install e2fsprogs)"))
}

fn drive(path: &Path, extra: &str) -> Vec<OsString> {
    let mut v = OsString::from("file=");
    v.push(path);
    v.push(format!(",format=raw,if=virtio{extra}"));
    vec!["-drive".into(), v]
}

/// Raw disks and virtio-rng: the guest reads the host's bytes, writes its
/// own, and the host reads them back; a read-only disk refuses writes;
/// /dev/hwrng works. Three disks, told apart by size (the emulators may
/// name them in different orders): `cache=writeback` on the thread pool
/// (16 MiB), `cache=none` on io_uring (12 MiB) and `readonly=on` (8 MiB).
fn raw_disk_and_rng(emulator: Emulator, name: &str) {
    let dir = scratch_dir(name);
    let disks = [
        ("wb.img", 16u64, ""),
        ("direct.img", 12, ",cache=none,aio=io_uring"),
        ("ro.img", 8, ",readonly=on"),
    ];
    let mut extra = Vec::new();
    let mut patterns = Vec::new();
    for (i, &(file, mib, opts)) in disks.iter().enumerate() {
        let path = dir.join(file);
        // The second half holds a pattern the guest reads.
        let mut data = vec![0u8; (mib << 20) as usize];
        let half = data.len() / 2;
        for (j, b) in data[half..].iter_mut().enumerate() {
            *b = (j as u32 + i as u32)
                .wrapping_mul(2_654_435_761)
                .to_le_bytes()[2];
        }
        std::fs::write(&path, &data).unwrap();
        patterns.push(sha256(&data[half..]));
        extra.extend(drive(&path, opts));
    }
    extra.extend(["-device".into(), "virtio-rng-device".into()]);
    let mut m = Machine::boot(emulator, "", &extra, INITRAMFS_MARKER);
    let sizes = m.ok("for d in /sys/block/vd*; do echo ${d##*/} $(cat $d/size); done");
    let dev_of = |mib: u64| {
        sizes
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(&(mib * 2048).to_string()))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {mib} MiB disk in:\n{sizes}"))
            .to_string()
    };
    let mut written = Vec::new();
    for (i, &(file, mib, _)) in disks.iter().enumerate() {
        let dev = dev_of(mib);
        let got = m.ok(&format!(
            "dd if=/dev/{dev} bs=1M skip={} count={} 2>/dev/null | sha256sum",
            mib / 2,
            mib / 2
        ));
        assert_eq!(first_word(&got), patterns[i], "the guest's read of {file}");
        let write = format!(
            "dd if=/dev/urandom of=/tmp/r bs=1M count=4 2>/dev/null && \
             dd if=/tmp/r of=/dev/{dev} bs=1M conv=fsync 2>/dev/null && sync && sha256sum /tmp/r"
        );
        if i == 2 {
            assert_eq!(m.ok(&format!("cat /sys/block/{dev}/ro")).trim(), "1");
            let (_, status) = m.run(&write);
            assert_ne!(status, 0, "a write to the read-only disk succeeded");
            written.push(None);
        } else {
            written.push(Some(first_word(&m.ok(&write))));
        }
        if matches!(emulator, Emulator::Cranemu) {
            // GET_ID: the image's file name (sysfs prints it without a
            // newline).
            assert_eq!(
                m.ok(&format!("cat /sys/block/{dev}/serial; echo")).trim(),
                file
            );
        }
    }
    let rng = m.ok("cat /sys/class/misc/hw_random/rng_current; head -c 4096 /dev/hwrng | wc -c");
    assert_eq!(
        rng.split_whitespace().collect::<Vec<_>>(),
        ["virtio_rng.0", "4096"],
        "/dev/hwrng"
    );
    let (out, _) = m.run("dmesg | grep -c -E 'Oops|BUG|virtio.*(error|broken)'");
    assert_eq!(out.trim(), "0", "dmesg reports problems");
    m.poweroff();
    for (i, &(file, mib, _)) in disks.iter().enumerate() {
        let after = std::fs::read(dir.join(file)).unwrap();
        let half = (mib << 20) as usize / 2;
        match &written[i] {
            Some(sum) => assert_eq!(
                &sha256(&after[..4 << 20]),
                sum,
                "the host's read of what the guest wrote to {file}"
            ),
            None => assert_eq!(after[..half], vec![0u8; half][..], "{file} changed"),
        }
        assert_eq!(sha256(&after[half..]), patterns[i], "{file}'s second half");
    }
}

/// The root file system on virtio-blk (see the module doc).
fn ext4_root(emulator: Emulator, name: &str) {
    let img = images();
    let dir = scratch_dir(name);
    let disk = dir.join("root.img");
    let out = host(e2fs_tool("mke2fs"))
        .args(["-q", "-t", "ext4", "-E", "root_owner=0:0", "-F", "-d"])
        .arg(&img.rootfs)
        .arg(&disk)
        .arg("192M")
        .run();
    out.assert_success();
    let root = "cranemu.root=/dev/vda";
    let extra = drive(&disk, "");
    let mut extra_qemu = extra.clone();
    extra_qemu.push("-no-reboot".into());
    let extra = if matches!(emulator, Emulator::Qemu) {
        &extra_qemu
    } else {
        &extra
    };

    // 1. Write 64 MiB, sync, reboot.
    let mut m = Machine::boot(emulator, root, extra, ROOTFS_MARKER);
    let mounts = m.ok("grep ' / ' /proc/mounts");
    assert!(
        mounts.contains("/dev/vda / ext4 rw"),
        "the root file system: {mounts}"
    );
    let t = Instant::now();
    let sum1 = first_word(&m.ok(
        "dd if=/dev/urandom of=/data/blob bs=1M count=64 2>/dev/null && sync && sha256sum /data/blob",
    ));
    eprintln!(
        "{emulator:?}: 64 MiB written and synced in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    m.reboot();

    // 2. After the reboot: the data is there. Write 64 MiB more, sync,
    // and kill the emulator.
    let mut m = Machine::boot(emulator, root, extra, ROOTFS_MARKER);
    assert_eq!(
        first_word(&m.ok("sha256sum /data/blob")),
        sum1,
        "after a reboot"
    );
    let sum2 = first_word(&m.ok(
        "dd if=/dev/urandom of=/data/blob2 bs=1M count=64 2>/dev/null && sync && sha256sum /data/blob2",
    ));
    m.kill();
    drop(m);

    // 3. After the kill: both files are there; unmount cleanly.
    let mut m = Machine::boot(emulator, root, extra, ROOTFS_MARKER);
    assert_eq!(
        first_word(&m.ok("sha256sum /data/blob")),
        sum1,
        "after a kill"
    );
    assert_eq!(
        first_word(&m.ok("sha256sum /data/blob2")),
        sum2,
        "after a kill"
    );
    let (out, _) = m.run("dmesg | grep -c -E 'Oops|BUG|I/O error|EXT4-fs error'");
    assert_eq!(out.trim(), "0", "dmesg reports problems");
    m.ok("mount -o remount,ro /");
    m.poweroff();

    // 4. The host: fsck is clean, and the files read back the same.
    let fsck = host(e2fs_tool("e2fsck")).args(["-fn"]).arg(&disk).run();
    assert_eq!(
        fsck.status,
        0,
        "e2fsck -fn {}:\n{}{}",
        disk.display(),
        fsck.stdout_str(),
        fsck.stderr
    );
    for (file, sum) in [("blob", &sum1), ("blob2", &sum2)] {
        let out_file = dir.join(file);
        let _ = std::fs::remove_file(&out_file);
        host(e2fs_tool("debugfs"))
            .arg("-R")
            .arg(format!("dump /data/{file} {}", out_file.display()))
            .arg(&disk)
            .run()
            .assert_success();
        assert_eq!(
            &sha256(&std::fs::read(&out_file).unwrap()),
            sum,
            "the host's copy of /data/{file}"
        );
    }
}

/// virtio-console on a Unix socket: a getty on hvc0 runs a shell for a
/// host client.
fn console_on_hvc0(emulator: Emulator, name: &str) {
    let dir = scratch_dir(name);
    let sock = dir.join("console.sock");
    let mut chardev = OsString::from("socket,id=c0,path=");
    chardev.push(&sock);
    chardev.push(",server=on,wait=off");
    let extra: Vec<OsString> = vec![
        "-chardev".into(),
        chardev,
        "-device".into(),
        "virtio-serial-device".into(),
        "-device".into(),
        "virtconsole,chardev=c0".into(),
    ];
    let mut m = Machine::boot(emulator, "", &extra, INITRAMFS_MARKER);
    let mut client = std::os::unix::net::UnixStream::connect(&sock)
        .unwrap_or_else(|e| m.fail(&format!("cannot connect to {}: {e}", sock.display())));
    m.ok("test -c /dev/hvc0");
    // (`& true`: the harness appends `; echo ...`, and `&;` is no sh.)
    m.ok("setsid getty -n -l /bin/sh 0 hvc0 </dev/null >/dev/null 2>&1 & true");
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // getty flushes the tty's input when it starts: type the command only
    // once the shell's prompt shows.
    let deadline = Instant::now() + timeout();
    let mut got = Vec::new();
    let mut sent = false;
    let want = "hvc-42\r\n/dev/hvc0";
    while !String::from_utf8_lossy(&got).contains(want) {
        if Instant::now() > deadline {
            let text = String::from_utf8_lossy(&got).into_owned();
            m.fail(&format!("hvc0 never answered `{want}`; it said:\n{text}"));
        }
        if !sent && String::from_utf8_lossy(&got).contains("# ") {
            client.write_all(b"echo hvc-$((6 * 7)); tty\n").unwrap();
            sent = true;
        }
        let mut buf = [0u8; 4096];
        match client.read(&mut buf) {
            Ok(0) => m.fail("the console socket closed"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    m.poweroff();
}

#[test]
fn console_shell_on_hvc0() {
    console_on_hvc0(Emulator::Cranemu, "virtio-console");
}

#[test]
fn qemu_console_shell_on_hvc0() {
    if have_qemu() {
        console_on_hvc0(Emulator::Qemu, "virtio-console-qemu");
    }
}

#[test]
fn raw_disk_and_rng_under_linux() {
    raw_disk_and_rng(Emulator::Cranemu, "virtio-raw");
}

#[test]
fn qemu_raw_disk_and_rng_under_linux() {
    if have_qemu() {
        raw_disk_and_rng(Emulator::Qemu, "virtio-raw-qemu");
    }
}

#[test]
fn ext4_root_survives_reboot_and_kill() {
    ext4_root(Emulator::Cranemu, "virtio-ext4");
}

#[test]
fn qemu_ext4_root_survives_reboot_and_kill() {
    if have_qemu() {
        ext4_root(Emulator::Qemu, "virtio-ext4-qemu");
    }
}

/// Bad host input: one `cranemu: ...` line and status 1.
#[test]
fn missing_images_and_bad_drives_are_one_line_errors() {
    let dir = scratch_dir("virtio-bad-drive");
    let missing = dir.join("missing.img");
    for args in [
        vec![
            "-drive".to_string(),
            format!("file={},format=raw,if=virtio", missing.display()),
        ],
        vec!["-drive".into(), "file=x.img,format=qcow2,if=virtio".into()],
        vec!["-drive".into(), "file=x.img,if=virtio,cache=bogus".into()],
        vec!["-device".into(), "virtio-gpu-device".into()],
    ] {
        let out = cranemu_cmd()
            .arg("system")
            .args(&args)
            .args(["-serial", "null"])
            .run();
        let err = out.stderr.clone();
        assert_eq!(out.status, 1, "{args:?}: {err}");
        assert!(
            err.starts_with("cranemu: ") && err.trim_end().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}
