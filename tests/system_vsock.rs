//! virtio-vsock under Linux: Debian's riscv64 kernel on the `virt` machine
//! with `-device vhost-vsock-device,guest-cid=3,uds=PATH`, its vsock
//! modules loaded by the initramfs of `scripts/fetch-virtio-images.sh`, and
//! a guest program of ours (`tests/guest/system/vsock_stream.c`, built here
//! with riscv64-linux-gnu-gcc and appended to the initramfs as a second
//! cpio) driven from the serial console (tests/common/console.rs).
//!
//! - the host (this test) connects to PATH, writes `CONNECT PORT`, and
//!   exchanges 64 MiB each way with the guest's listener;
//! - the guest connects to CID 2, and the device connects it to the Unix
//!   socket `PATH_PORT` that this test listens on; 64 MiB each way again;
//! - both directions at once on each connection, each side sending the
//!   xorshift64 stream of a seed: the test compares what it receives with
//!   the stream byte for byte, and the guest's FNV-1a hash and byte count
//!   of what it received with those of what the test sent;
//! - three host connections to three guest listeners at once, 4 MiB each
//!   way on each;
//! - a `CONNECT` to a port nobody listens on, or a bad line, gets the host
//!   connection closed; a guest connection to a host port nobody listens
//!   on, or to another CID, is refused.
//!
//! There is no QEMU twin: QEMU's vhost-vsock needs the host's
//! `vhost_vsock` module and `/dev/vhost-vsock`, and QEMU 7.2 has no hybrid
//! (Unix socket) vsock. Each transfer prints its rate (MB/s, the guest's
//! wall time) to stderr. `CRANEMU_TEST_TIMEOUT` (seconds, default 300)
//! bounds the boot and each command.

mod common;

use common::console::*;
use common::cpio::append_newc;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MARKER: &str = "cranemu-initramfs: ready";
const APPEND: &str = "console=ttyS0 panic=-1";
/// Bytes sent each way on each connection.
const BYTES: u64 = 64 << 20;
const GUEST_CID: u32 = 3;

/// The images: firmware, kernel, and the virtio initramfs with
/// `bin/vsock_stream` appended (built once per run).
fn images() -> (PathBuf, PathBuf, PathBuf) {
    static INITRD: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let cache = std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"));
    let sys = cache.join("system");
    let (fw, kernel, base) = (
        sys.join("fw_dynamic.bin"),
        sys.join("Image"),
        sys.join("virtio/initramfs.cpio.gz"),
    );
    for p in [&fw, &kernel, &base] {
        assert!(
            p.exists(),
            "{} not found: run scripts/fetch-guests.sh (it runs scripts/fetch-system-images.sh \
             and scripts/fetch-virtio-images.sh)",
            p.display()
        );
    }
    let initrd = INITRD.get_or_init(|| {
        let cc = on_path("riscv64-linux-gnu-gcc")
            .expect("riscv64-linux-gnu-gcc not on PATH (apt-get install gcc-riscv64-linux-gnu)");
        let dir = scratch_dir("vsock-initrd");
        let prog = dir.join("vsock_stream");
        host(cc)
            .args([
                "-static", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-o",
            ])
            .arg(&prog)
            .arg(repo().join("tests/guest/system/vsock_stream.c"))
            .run()
            .assert_success();
        let mut data = std::fs::read(&base).expect("read the initramfs");
        append_newc(&mut data, &[("bin/vsock_stream", &prog)]);
        let path = dir.join("initramfs-vsock.cpio");
        std::fs::write(&path, data).expect("write the initramfs");
        path
    });
    (fw, kernel, initrd.clone())
}

/// Boots cranemu with a vsock device listening on `uds`.
fn boot(uds: &Path) -> Machine {
    let (fw, kernel, initrd) = images();
    let mut cmd = Emulator::Cranemu.command();
    cmd.args(["-M", "virt", "-m", "256M", "-nographic", "-bios"])
        .arg(&fw)
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", APPEND, "-device"])
        .arg(format!(
            "vhost-vsock-device,id=v0,guest-cid={GUEST_CID},uds={}",
            uds.display()
        ));
    Machine::start(cmd, MARKER, "cranemu vsock")
}

/// The guest program's generator: xorshift64 from `seed` (0 is 1), each
/// state little-endian.
struct Stream {
    state: u64,
    word: [u8; 8],
    used: usize,
}

impl Stream {
    fn new(seed: u64) -> Stream {
        Stream {
            state: seed.max(1),
            word: [0; 8],
            used: 8,
        }
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            if self.used == 8 {
                let mut x = self.state;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.state = x;
                self.word = x.to_le_bytes();
                self.used = 0;
            }
            *b = self.word[self.used];
            self.used += 1;
        }
    }
}

fn fnv1a(h: &mut u64, data: &[u8]) {
    for &b in data {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

/// What the host side of one transfer saw.
#[derive(Debug)]
struct HostSide {
    /// FNV-1a of what it sent.
    sent_fnv: u64,
    /// Bytes received, and the offset of the first one that differs from
    /// the guest's stream.
    received: u64,
    first_bad: Option<u64>,
}

/// Sends `bytes` of the stream of `send_seed` on `s` (then shuts the
/// sending side) while reading to end of file, checking against the
/// stream of `recv_seed`.
fn exchange(s: UnixStream, send_seed: u64, recv_seed: u64, bytes: u64) -> HostSide {
    s.set_read_timeout(Some(timeout())).unwrap();
    s.set_write_timeout(Some(timeout())).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut gen = Stream::new(send_seed);
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut buf = vec![0u8; 1 << 16];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            gen.fill(&mut buf[..n]);
            fnv1a(&mut h, &buf[..n]);
            w.write_all(&buf[..n]).expect("host write");
            left -= n as u64;
        }
        w.shutdown(std::net::Shutdown::Write).unwrap();
        h
    });
    let mut r = s;
    let mut gen = Stream::new(recv_seed);
    let (mut buf, mut want) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let (mut received, mut first_bad) = (0u64, None);
    loop {
        let n = r.read(&mut buf).expect("host read");
        if n == 0 {
            break;
        }
        gen.fill(&mut want[..n]);
        if first_bad.is_none() {
            if let Some(i) = (0..n).find(|&i| buf[i] != want[i]) {
                first_bad = Some(received + i as u64);
            }
        }
        received += n as u64;
    }
    HostSide {
        sent_fnv: writer.join().expect("host writer"),
        received,
        first_bad,
    }
}

/// Checks the guest program's line (the first of `out` that starts with
/// `sent`) against the host's side of a `bytes` exchange; the rate.
fn check(what: &str, out: &str, host: &HostSide, bytes: u64, m: &mut Machine) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("sent "))
        .unwrap_or_else(|| m.fail(&format!("{what}: no result line in:\n{out}")));
    let f: Vec<&str> = line.split_whitespace().collect();
    let expected = format!(
        "sent {bytes} recv {bytes} fnv {:016x} seconds",
        host.sent_fnv
    );
    assert_eq!(f[..7].join(" "), expected, "{what}: guest side");
    assert_eq!(host.received, bytes, "{what}: bytes the host received");
    assert_eq!(host.first_bad, None, "{what}: first byte that differs");
    let secs: f64 = f[7].parse().unwrap();
    let rate = bytes as f64 / 1e6 / secs;
    eprintln!(
        "{what}: {} MiB each way at once in {secs:.2} s: {rate:.1} MB/s each way",
        bytes >> 20
    );
    rate
}

/// Connects to `uds` and sends `line`; the reply line, or `None` if the
/// connection was closed without one.
fn connect_line(uds: &Path, line: &[u8]) -> (UnixStream, Option<String>) {
    let mut s = UnixStream::connect(uds).expect("connect to the vsock socket");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(line).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut reply = String::new();
    match r.read_line(&mut reply) {
        Ok(0) => (s, None),
        Ok(_) => (s, Some(reply)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => (s, None),
        Err(e) => panic!("{line:?}: no reply and not closed: {e}"),
    }
}

/// Connects to the guest's listener on `port` through `uds` (retrying
/// while it is not listening yet) and exchanges `bytes` each way.
fn host_connects(uds: PathBuf, port: u32, seeds: (u64, u64), bytes: u64) -> HostSide {
    let deadline = Instant::now() + timeout();
    loop {
        let (s, reply) = connect_line(&uds, format!("CONNECT {port}\n").as_bytes());
        match reply {
            Some(r) => {
                let host_port: u32 = r
                    .strip_prefix("OK ")
                    .and_then(|p| p.trim_end().parse().ok())
                    .unwrap_or_else(|| panic!("reply {r:?}"));
                assert!(host_port >= 1 << 30, "host port {host_port}");
                return exchange(s, seeds.0, seeds.1, bytes);
            }
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => panic!("the guest never listened on port {port}"),
        }
    }
}

#[test]
fn vsock_exchanges_64_mib_both_ways_in_both_set_ups() {
    let dir = scratch_dir("vsock");
    let uds = dir.join("v.sock");
    let mut m = boot(&uds);
    assert!(
        m.ok("cat /sys/bus/virtio/devices/*/device")
            .contains("0x0013"),
        "no virtio device 19 (vsock)"
    );

    // Nobody listens: the host connection is closed, fast; bad lines too.
    for line in [&b"CONNECT 9999\n"[..], b"CONNECT x\n", b"HELLO 1\n"] {
        let t = Instant::now();
        let (_, reply) = connect_line(&uds, line);
        assert_eq!(reply, None, "{line:?}");
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{line:?}: slow close"
        );
    }
    // A guest connection to a host port nobody listens on, or to another
    // CID, is refused.
    for cmd in [
        "vsock_stream connect 2 5999 1 1",
        "vsock_stream connect 7 5999 1 1",
    ] {
        let (out, status) = m.run(cmd);
        assert_eq!(status, 1, "{cmd}: {out}");
        assert!(out.contains("FAIL connect"), "{cmd}: {out}");
    }

    // Host to guest listener.
    let u = uds.clone();
    let host = std::thread::spawn(move || host_connects(u, 5000, (11, 22), BYTES));
    let out = m.ok(&format!("vsock_stream listen 5000 22 {BYTES}"));
    let side = host.join().expect("host side");
    let up = check("host connects (CONNECT 5000)", &out, &side, BYTES, &mut m);

    // Guest to host: PATH_5001.
    let listener = UnixListener::bind(format!("{}_5001", uds.display())).unwrap();
    let host = std::thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept the guest's connection");
        exchange(s, 33, 44, BYTES)
    });
    let out = m.ok(&format!("vsock_stream connect 2 5001 44 {BYTES}"));
    let side = host.join().expect("host side");
    let down = check(
        "guest connects (CID 2 port 5001)",
        &out,
        &side,
        BYTES,
        &mut m,
    );
    eprintln!("vsock throughput (cranemu): {up:.1} and {down:.1} MB/s each way");

    // Three connections at once, 4 MiB each way on each.
    const SMALL: u64 = 4 << 20;
    let hosts: Vec<_> = (0..3u64)
        .map(|i| {
            let u = uds.clone();
            std::thread::spawn(move || host_connects(u, 6000 + i as u32, (100 + i, 200 + i), SMALL))
        })
        .collect();
    m.ok(&format!(
        "for i in 0 1 2; do vsock_stream listen 600$i 20$i {SMALL} > /tmp/v$i & done; wait"
    ));
    for (i, h) in hosts.into_iter().enumerate() {
        let side = h.join().expect("host side");
        let out = m.ok(&format!("cat /tmp/v{i}"));
        check(&format!("connection {i} of 3"), &out, &side, SMALL, &mut m);
    }
    m.poweroff();
}

/// Bad option values: one line on stderr, exit status 1.
#[test]
fn bad_vsock_options_are_refused_in_one_line() {
    let dir = scratch_dir("vsock-bad");
    let sock = dir.join("v.sock");
    let good_uds = format!("uds={}", sock.display());
    for (dev, words) in [
        (
            format!("vhost-vsock-device,guest-cid=2,{good_uds}"),
            "guest-cid=2",
        ),
        (
            format!("vhost-vsock-device,guest-cid=-1,{good_uds}"),
            "guest-cid=-1",
        ),
        ("vhost-vsock-device,guest-cid=3".into(), "uds=PATH"),
        (format!("vhost-vsock-device,{good_uds}"), "guest-cid=N"),
        (
            format!("vhost-vsock-device,guest-cid=3,{good_uds},x=1"),
            "x=1",
        ),
        (
            "vhost-vsock-device,guest-cid=3,uds=/nonexistent/dir/v.sock".into(),
            "/nonexistent/dir/v.sock",
        ),
    ] {
        let out = cranemu_cmd().args(["system", "-device", &dev]).run();
        assert_eq!(out.status, 1, "{dev}: {}", out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{dev}: {}", out.stderr);
        assert!(
            lines[0].starts_with("cranemu: ") && lines[0].contains(words),
            "{dev}: {}",
            out.stderr
        );
    }
}
