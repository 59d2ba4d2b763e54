//! virtio-net under Linux: Debian's riscv64 kernel on the `virt` machine
//! with a virtio NIC, driven from a shell on the serial console (the
//! harness of tests/common/console.rs). The initramfs of
//! `scripts/fetch-virtio-images.sh` loads virtio_net (with failover and
//! net_failover) and has udhcpc's hook.
//!
//! - `-netdev user` (libslirp, restricted): the guest gets 10.0.2.15 by
//!   DHCP; a host client (a plain `TcpStream`) fetches 8 MiB of random
//!   bytes, made and hashed in the guest, from busybox httpd through
//!   `hostfwd` and gets the same bytes; the guest reaches no address
//!   outside (192.0.2.1, TEST-NET-1, refused; not even a host server
//!   through 10.0.2.2), and no name resolves. The `qemu_*` twin runs
//!   qemu-system-riscv64 with `restrict=on` on the same images.
//! - `-netdev user,restrict=off`: the guest's wget reaches a host server
//!   (on 127.0.0.1) through 10.0.2.2.
//! - `-netdev stream`: two cranemu guests on a Unix socket (one server,
//!   one client, static addresses) ping each other and move a file with
//!   httpd and wget; again with qemu-system-riscv64's `-netdev stream` as
//!   the client (its framing against ours).
//! - bad `-netdev`/`-device virtio-net-device` options: one line, status 1.
//!
//! `CRANEMU_TEST_TIMEOUT` (seconds, default 300) bounds each boot and
//! command.

mod common;

use common::console::*;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const MARKER: &str = "cranemu-initramfs: ready";
const APPEND: &str = "console=ttyS0 panic=-1";

/// Firmware, kernel and the virtio initramfs.
fn images() -> [PathBuf; 3] {
    let cache = std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"));
    let sys = cache.join("system");
    let img = [
        sys.join("fw_dynamic.bin"),
        sys.join("Image"),
        sys.join("virtio/initramfs.cpio.gz"),
    ];
    for p in &img {
        assert!(
            p.exists(),
            "{} not found: run scripts/fetch-guests.sh (it runs scripts/fetch-system-images.sh \
             and scripts/fetch-virtio-images.sh)",
            p.display()
        );
    }
    img
}

/// Boots `emulator` with 256 MiB and the `extra` arguments (the NIC).
fn boot(emulator: Emulator, extra: &[String]) -> Machine {
    let [fw, kernel, initrd] = images();
    let mut cmd = emulator.command();
    cmd.args(["-M", "virt", "-m", "256M", "-nographic", "-bios"])
        .arg(fw)
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", APPEND])
        .args(extra);
    if let Emulator::Qemu = emulator {
        cmd.arg("-no-reboot");
    }
    Machine::start(cmd, MARKER, &format!("{emulator:?}"))
}

/// The host's sha256 of `data` (hex).
fn sha256(data: &[u8]) -> String {
    let out = host("sha256sum").stdin(data.to_vec()).run();
    out.assert_success();
    first_word(&out.stdout_str())
}

fn first_word(s: &str) -> String {
    s.split_whitespace().next().unwrap_or_default().to_string()
}

/// `GET /PATH` over HTTP/1.0 from 127.0.0.1:`port`: the body, or why not.
fn http_get(port: u16, path: &str) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("GET /{path} HTTP/1.0\r\nHost: guest\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)
        .map_err(|e| format!("read after {} bytes: {e}", reply.len()))?;
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {} bytes", reply.len()))?;
    let head = String::from_utf8_lossy(&reply[..end]).into_owned();
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(format!("reply: {head}"));
    }
    Ok(reply[end + 4..].to_vec())
}

/// Brings eth0 up and configures it by DHCP; checks the lease: slirp's
/// restricted mode offers no router and no DNS server, QEMU's default user
/// network offers 10.0.2.2 and 10.0.2.3.
fn dhcp(m: &mut Machine, restricted: bool) {
    m.ok("ip link set eth0 up");
    m.ok("udhcpc -i eth0 -n -q -t 10 -T 2 -s /usr/share/udhcpc/default.script");
    let addr = m.ok("ip -4 addr show dev eth0");
    if !addr.contains("inet 10.0.2.15/24") {
        m.fail(&format!("eth0 did not get 10.0.2.15/24 by DHCP:\n{addr}"));
    }
    let route = m.ok("ip route");
    if route.contains("default via 10.0.2.2") == restricted {
        m.fail(&format!(
            "restricted={restricted}, and the routes are:\n{route}"
        ));
    }
    let dns = m.ok("cat /etc/resolv.conf");
    if dns.contains("nameserver 10.0.2.3") == restricted {
        m.fail(&format!(
            "restricted={restricted}, and resolv.conf says:\n{dns}"
        ));
    }
}

/// Criterion 2 of issue 10: see the module doc.
fn user_hostfwd(emulator: Emulator) {
    let port = free_port();
    // A host server the restricted guest must not reach through 10.0.2.2.
    let host_srv = TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host_srv.local_addr().unwrap().port();
    host_srv.set_nonblocking(true).unwrap();
    let restrict = match emulator {
        Emulator::Qemu => ",restrict=on",
        Emulator::Cranemu => "",
    };
    let mut m = boot(
        emulator,
        &[
            "-netdev".into(),
            format!("user,id=n0{restrict},hostfwd=tcp:127.0.0.1:{port}-:80"),
            "-device".into(),
            "virtio-net-device,netdev=n0".into(),
        ],
    );
    let mac = m.ok("cat /sys/class/net/eth0/address");
    assert_eq!(mac.trim(), "52:54:00:12:34:56");
    dhcp(&mut m, true);
    m.ok("ping -c 1 -W 10 10.0.2.2");

    // 8 MiB of random bytes, made and hashed in the guest, served by httpd.
    let guest_hash = first_word(&m.ok(
        "mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/blob bs=1024 count=8192 \
         2>/dev/null && sha256sum /tmp/www/blob",
    ));
    m.ok("httpd -p 80 -h /tmp/www");
    let started = Instant::now();
    let body = match http_get(port, "blob") {
        Ok(b) => b,
        Err(e) => m.fail(&format!("GET /blob through hostfwd: {e}")),
    };
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{emulator:?}: 8 MiB through hostfwd in {secs:.2} s ({:.1} MB/s)",
        body.len() as f64 / secs / 1e6
    );
    assert_eq!(body.len(), 8 << 20, "bytes received through hostfwd");
    assert_eq!(sha256(&body), guest_hash, "the host got other bytes");

    // Nothing outside: an address outside the user network, the host
    // through 10.0.2.2, and any name. The lease gave no route and no DNS
    // server: set them by hand, so that slirp is what refuses.
    m.ok(
        "ip route add default via 10.0.2.2 dev eth0 && echo nameserver 10.0.2.3 > /etc/resolv.conf",
    );
    for cmd in [
        "wget -q -T 5 -O /tmp/x http://192.0.2.1/",
        "nc -w 5 192.0.2.1 80 </dev/null",
        &format!("wget -q -T 5 -O /tmp/x http://10.0.2.2:{host_port}/"),
        "nslookup example.com",
        "wget -q -T 5 -O /tmp/x http://example.com/",
    ] {
        let (out, status) = m.run(cmd);
        if status == 0 {
            m.fail(&format!("`{cmd}` reached outside:\n{out}"));
        }
    }
    if host_srv.accept().is_ok() {
        m.fail("the restricted guest connected to a host server through 10.0.2.2");
    }
    m.poweroff();
}

#[test]
fn user_net_hostfwd_dhcp_and_no_outside_access() {
    user_hostfwd(Emulator::Cranemu);
}

#[test]
fn qemu_user_net_hostfwd_dhcp_and_no_outside_access() {
    if have_qemu() {
        user_hostfwd(Emulator::Qemu);
    }
}

/// `restrict=off`: 10.0.2.2 is the host, and a host server on 127.0.0.1
/// serves the guest's wget.
#[test]
fn user_net_unrestricted_reaches_a_host_server() {
    let srv = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = srv.local_addr().unwrap().port();
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let want = sha256(&data);
    let server = std::thread::spawn(move || {
        // One request, bounded in time by the test's timeout.
        let (mut c, _) = srv.accept().expect("accept");
        let mut req = [0u8; 1024];
        let _ = c.read(&mut req);
        let head = format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            data.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(&data).unwrap();
    });
    let mut m = boot(
        Emulator::Cranemu,
        &[
            "-netdev".into(),
            "user,id=n0,restrict=off".into(),
            "-device".into(),
            "virtio-net-device,netdev=n0".into(),
        ],
    );
    dhcp(&mut m, false);
    let got = first_word(&m.ok(&format!(
        "wget -q -T 30 -O /tmp/h http://10.0.2.2:{port}/data && sha256sum /tmp/h"
    )));
    assert_eq!(got, want, "the guest got other bytes from the host server");
    server.join().unwrap();
    m.poweroff();
}

/// A cranemu guest serving `-netdev stream` and a `client` guest
/// connected to it: ping both ways, and a file from one's httpd to the
/// other's wget.
fn stream_pair(client: Emulator, name: &str) {
    let dir = scratch_dir(name);
    let sock = dir.join("net.sock");
    let nic = |server: &str, mac: &str| -> Vec<String> {
        vec![
            "-netdev".into(),
            format!(
                "stream,id=s0,server={server},addr.type=unix,addr.path={}",
                sock.display()
            ),
            "-device".into(),
            format!("virtio-net-device,netdev=s0,mac={mac}"),
        ]
    };
    let mut a = boot(Emulator::Cranemu, &nic("on", "52:54:00:12:34:56"));
    let mut b = boot(client, &nic("off", "52:54:00:12:34:57"));
    a.ok("ip addr add 10.99.0.1/24 dev eth0 && ip link set eth0 up");
    b.ok("ip addr add 10.99.0.2/24 dev eth0 && ip link set eth0 up");
    b.ok("ping -c 3 -W 10 10.99.0.1");
    a.ok("ping -c 3 -W 10 10.99.0.2");
    let hash = first_word(&a.ok(
        "mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/blob bs=1024 count=2048 \
         2>/dev/null && sha256sum /tmp/www/blob",
    ));
    a.ok("httpd -p 80 -h /tmp/www");
    let got =
        first_word(&b.ok("wget -q -T 30 -O /tmp/b http://10.99.0.1/blob && sha256sum /tmp/b"));
    assert_eq!(got, hash, "the second guest got other bytes");
    b.poweroff();
    a.poweroff();
}

#[test]
fn stream_netdev_connects_two_guests() {
    stream_pair(Emulator::Cranemu, "net-stream");
}

/// The same with QEMU's `-netdev stream` as the client: the frames are
/// QEMU's.
#[test]
fn qemu_stream_netdev_talks_to_cranemu() {
    if have_qemu() {
        stream_pair(Emulator::Qemu, "net-stream-qemu");
    }
}

/// Bad network options: one line on stderr, status 1.
#[test]
fn bad_network_options_are_one_line_errors() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let user = |fwd: &str| -> Vec<String> {
        vec![
            "-netdev".into(),
            format!("user,id=n0{fwd}"),
            "-device".into(),
            "virtio-net-device,netdev=n0".into(),
        ]
    };
    let stream = |server: &str, path: &str| -> Vec<String> {
        vec![
            "-netdev".into(),
            format!("stream,id=s0,server={server},addr.type=unix,addr.path={path}"),
            "-device".into(),
            "virtio-net-device,netdev=s0".into(),
        ]
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["-device".into(), "virtio-net-device,netdev=nope".into()],
            "no -netdev with id=nope",
        ),
        (
            vec!["-netdev".into(), "user,id=n0".into()],
            "no -device virtio-net-device,netdev=n0",
        ),
        (user(",hostfwd=tcp:127.0.0.1:80"), "hostfwd="),
        (user(",hostfwd=tcp:127.0.0.1:99999-:80"), "not a port"),
        (user(",hostfwd=udp::5555-:53"), "only tcp"),
        (
            user(&format!(",hostfwd=tcp:127.0.0.1:{port}-:80")),
            "cannot listen on the host port",
        ),
        (
            stream("off", "/nonexistent/cranemu-net.sock"),
            "cannot connect",
        ),
        (
            stream("on", "/nonexistent/dir/cranemu-net.sock"),
            "cannot listen",
        ),
    ];
    for (args, want) in cases {
        let out = cranemu_cmd()
            .arg("system")
            .args(&args)
            .time_limit(Duration::from_secs(30), "CRANEMU_TEST_TIMEOUT")
            .run();
        let err = out.stderr.clone();
        assert_eq!(out.status, 1, "{args:?}: status; stderr: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(
            err.starts_with("cranemu: ") && err.contains(want),
            "{args:?}: {err:?} lacks {want:?}"
        );
    }
    drop(taken);
}
