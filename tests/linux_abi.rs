//! The Linux ABI a real userland needs (issue 11, "Done when" 2, 3 and 4),
//! with Debian's riscv64 programs in user mode:
//!
//! - loopback networking: a guest busybox httpd serves a file to a host
//!   client, the guest's busybox wget fetches from a host server, and
//!   python's `socket` module moves 16 MiB over a socketpair, an AF_UNIX
//!   path, guest-to-guest TCP and host-to-guest TCP (tests/linux_abi/sockets.py);
//! - shared memory: SQLite in WAL mode with a writer and a reader process
//!   at once (tests/linux_abi/sqlite_wal.py; the `-shm` file is a MAP_SHARED
//!   mapping in both), and a guest and a host process playing ping-pong
//!   through one MAP_SHARED file (tests/linux_abi/mmap_shared.py); a
//!   shared mapping whose file was truncated gives SIGBUS and EFAULT as on
//!   Linux (tests/linux_abi/mmap_beyond_eof.py);
//! - a toolchain: Debian's gcc-14 and binutils compile and link a C program
//!   of this project (cc1, as, collect2 and ld through execve), whose output
//!   must equal the host gcc's build of it, and Debian's make runs `make -j2`
//!   over a multi-file project (tests/linux_abi/make);
//! - the CPUs the guest sees in /proc/cpuinfo and /sys/devices/system/cpu
//!   (tests/linux_abi/cpus.py).
//!
//! Each runs under cranemu and, in a `_qemu` twin, under qemu-riscv64
//! (skipped with a message when it is not installed), so a test that is
//! wrong fails under both. gcc and make exec other riscv64 programs, which
//! qemu-riscv64 7.2 cannot follow by itself: their twins run QEMU in a user
//! and mount namespace with a private binfmt_misc entry (as
//! scripts/cpython-tests.py does), and are skipped when the kernel refuses
//! one.
//!
//! Needs the guest sysroots of `scripts/fetch-guests.sh` (busybox-static in
//! .cache/guests/sysroot, python3.13 with sqlite3 in .cache/guests/cpython,
//! the toolchain of `scripts/fetch-toolchain.sh` in .cache/guests/toolchain);
//! the tests fail, not skip, without them. `CRANEMU_GUEST_CACHE` overrides
//! the cache directory.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The emulator a test runs its guest under.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Emu {
    Cranemu,
    Qemu,
}

impl Emu {
    /// `EMULATOR [-L SYSROOT] PROGRAM` as a [`Cmd`] (cranemu's `run`, or
    /// qemu-riscv64), or `None` (after a message) for QEMU when it is not
    /// installed.
    fn cmd(self, sysroot: Option<&Path>, program: impl AsRef<Path>) -> Option<Cmd> {
        let mut c = match self {
            Emu::Cranemu => cranemu_cmd().arg("run"),
            Emu::Qemu => {
                let Some(q) = on_path("qemu-riscv64") else {
                    eprintln!("skipped: qemu-riscv64 not on PATH (apt-get install qemu-user)");
                    return None;
                };
                host(q)
            }
        };
        if let Some(s) = sysroot {
            c = c.arg("-L").arg(s);
        }
        Some(c.arg(program.as_ref()))
    }
}

fn cache() -> PathBuf {
    std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"))
}

/// `path` under the guest cache, which must exist.
fn fetched(path: &str, script: &str) -> PathBuf {
    let p = cache().join(path);
    assert!(
        p.exists(),
        "{} not found: run scripts/fetch-guests.sh (it runs {script})",
        p.display()
    );
    p
}

fn busybox() -> PathBuf {
    fetched("sysroot/usr/bin/busybox", "its own package list")
}

fn cpython_sysroot() -> PathBuf {
    let s = fetched("cpython/sysroot", "scripts/fetch-cpython.sh");
    fetched(
        "cpython/sysroot/usr/lib/python3.13/lib-dynload/_sqlite3.cpython-313-riscv64-linux-gnu.so",
        "scripts/fetch-cpython.sh",
    );
    s
}

fn toolchain_sysroot() -> PathBuf {
    let s = fetched("toolchain/sysroot", "scripts/fetch-toolchain.sh");
    fetched(
        "toolchain/sysroot/usr/bin/gcc-14",
        "scripts/fetch-toolchain.sh",
    );
    s
}

fn script(name: &str) -> PathBuf {
    repo().join("tests/linux_abi").join(name)
}

/// `python3.13 SCRIPT ARGS...` under `emu`, or `None` (skipped).
fn python(emu: Emu, name: &str) -> Option<Cmd> {
    let s = cpython_sysroot();
    Some(
        emu.cmd(Some(&s), s.join("usr/bin/python3.13"))?
            .arg(script(name)),
    )
}

/// Deterministic bytes (xorshift), different at every offset.
fn pattern(len: usize, mut x: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A background guest, killed (with its process group) when dropped.
struct Background {
    child: Child,
    what: String,
}

impl Background {
    fn start(c: Cmd, what: &str) -> Background {
        let mut cmd: Command = c.cmd;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Background {
            child,
            what: what.to_string(),
        }
    }

    /// Waits up to `limit` for it to exit; its status and output.
    fn finish(mut self, limit: Duration) -> (i32, String, String) {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => {
                    let mut out = String::new();
                    let mut err = String::new();
                    if let Some(mut o) = self.child.stdout.take() {
                        let _ = o.read_to_string(&mut out);
                    }
                    if let Some(mut e) = self.child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    use std::os::unix::process::ExitStatusExt;
                    let code = s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0));
                    return (code, out, err);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => panic!("{} did not exit within {limit:?}", self.what),
            }
        }
    }

    /// Its stderr so far, after killing it (for a failure message).
    fn kill_and_stderr(&mut self) -> String {
        self.kill();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }

    fn kill(&mut self) {
        // SAFETY: signals the process group this struct started (its own
        // pid as the group id); no memory is involved.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

// ---------------------------------------------------------------------
// Criterion 3: loopback networking
// ---------------------------------------------------------------------

/// Connects to 127.0.0.1:`port`, retrying while the guest server starts.
fn connect_retrying(port: u16, server: &mut Background) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                if let Ok(Some(st)) = server.child.try_wait() {
                    let err = server.kill_and_stderr();
                    panic!("{} exited ({st}) before accepting: {e}\n{err}", server.what);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                let err = server.kill_and_stderr();
                panic!("{} never listened on port {port}: {e}\n{err}", server.what)
            }
        }
    }
}

/// A guest `busybox httpd -f` serves a 1 MiB file (and a 404) to host
/// clients.
fn httpd_serves_host_clients(emu: Emu, name: &str) {
    let dir = scratch_dir(name);
    let body = pattern(1 << 20, 0x1234_5678);
    std::fs::write(dir.join("data.bin"), &body).unwrap();
    let port = free_port();
    let Some(cmd) = emu.cmd(None, busybox()) else {
        return;
    };
    let cmd = cmd
        .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
        .arg(&dir);
    let mut server = Background::start(cmd, &format!("busybox httpd under {emu:?}"));
    for (path, want_status, want_body) in [
        ("/data.bin", "200", Some(&body)),
        ("/missing.bin", "404", None),
        ("/data.bin", "200", Some(&body)),
    ] {
        let mut s = connect_retrying(port, &mut server);
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)
            .unwrap_or_else(|e| panic!("read the response to GET {path}: {e}"));
        let split = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end in {:?}", tail_text(&resp, 300)));
        let head = String::from_utf8_lossy(&resp[..split]).into_owned();
        let status_line = head.lines().next().unwrap_or("");
        assert!(
            status_line.split_whitespace().nth(1) == Some(want_status),
            "GET {path}: {status_line:?}, expected {want_status}\n{head}"
        );
        if let Some(b) = want_body {
            assert!(
                head.to_ascii_lowercase()
                    .contains(&format!("content-length: {}", b.len())),
                "GET {path}: no Content-Length {} in\n{head}",
                b.len()
            );
            assert!(
                &resp[split + 4..] == b.as_slice(),
                "GET {path}: body of {} bytes differs from the file's {}",
                resp.len() - split - 4,
                b.len()
            );
        }
    }
}

#[test]
fn busybox_httpd_serves_host_clients() {
    httpd_serves_host_clients(Emu::Cranemu, "abi-httpd");
}

#[test]
fn busybox_httpd_serves_host_clients_qemu() {
    httpd_serves_host_clients(Emu::Qemu, "abi-httpd-qemu");
}

/// The guest's `busybox wget` fetches 1 MiB from a one-shot host HTTP
/// server; the file it writes must equal what was sent.
fn wget_fetches_from_host(emu: Emu, name: &str) {
    let dir = scratch_dir(name);
    let body = pattern(1 << 20, 0xfeed_beef);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = body.clone();
    let server = std::thread::spawn(move || -> String {
        let (mut s, peer) = listener.accept().expect("accept the guest's wget");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).expect("read the request");
            assert!(n > 0, "the guest closed before ending its request");
            req.extend_from_slice(&buf[..n]);
        }
        write!(
            s,
            "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            sent.len()
        )
        .unwrap();
        s.write_all(&sent).unwrap();
        let _ = s.shutdown(Shutdown::Write);
        assert!(peer.ip().is_loopback(), "peer {peer}");
        String::from_utf8_lossy(&req).into_owned()
    });
    let Some(cmd) = emu.cmd(None, busybox()) else {
        return;
    };
    let out = cmd
        .args(["wget", "-q", "-O", "got.bin"])
        .arg(format!("http://127.0.0.1:{port}/some/file.bin"))
        .dir(&dir)
        .time_limit(Duration::from_secs(120), "the test's own limit")
        .run();
    out.assert_success();
    let req = server.join().expect("the host server failed");
    assert!(
        req.starts_with("GET /some/file.bin HTTP/1."),
        "request: {req:?}"
    );
    let got = std::fs::read(dir.join("got.bin")).unwrap();
    assert!(
        got == body,
        "wget wrote {} bytes, not the {} sent",
        got.len(),
        body.len()
    );
}

#[test]
fn busybox_wget_fetches_from_a_host_server() {
    wget_fetches_from_host(Emu::Cranemu, "abi-wget");
}

#[test]
fn busybox_wget_fetches_from_a_host_server_qemu() {
    wget_fetches_from_host(Emu::Qemu, "abi-wget-qemu");
}

/// tests/linux_abi/sockets.py: 16 MiB over a socketpair, an AF_UNIX path
/// and TCP inside the guest (hashes equal to the host python3's run of the
/// same script), then 16 MiB from a host thread echoed back by the guest
/// over TCP (compared byte for byte).
fn python_sockets_16mib(emu: Emu, name: &str) {
    let dir = scratch_dir(name);
    const SIZE: usize = 16 << 20;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let Some(cmd) = python(emu, "sockets.py") else {
        return;
    };
    let echo = std::thread::spawn(move || -> Vec<u8> {
        let (s, _) = listener.accept().expect("accept the guest's connection");
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let data = pattern(SIZE, 0xabcd_ef01);
            for c in data.chunks(100_003) {
                w.write_all(c).expect("send to the guest");
            }
            w.shutdown(Shutdown::Write).unwrap();
        });
        let mut back = Vec::with_capacity(SIZE);
        let mut r = s;
        r.read_to_end(&mut back).expect("read the guest's echo");
        writer.join().expect("the host writer failed");
        back
    });
    let out = cmd
        .arg(&dir)
        .arg(port.to_string())
        .time_limit(Duration::from_secs(300), "the test's own limit")
        .run();
    out.assert_success();
    let back = echo.join().expect("the host echo peer failed");
    assert!(
        back == pattern(SIZE, 0xabcd_ef01),
        "the guest echoed {} bytes that differ from the {SIZE} sent",
        back.len()
    );
    let mut expected = match on_path("python3") {
        Some(py) => {
            let h = host(py).arg(script("sockets.py")).arg(&dir).run();
            h.assert_success();
            h.stdout_str()
        }
        None => {
            eprintln!("no host python3: checking the guest's hashes against each other only");
            out.stdout_str()
                .lines()
                .take(4)
                .map(|l| format!("{l}\n"))
                .collect()
        }
    };
    expected.push_str(&format!("echoed {SIZE}\n"));
    assert_same_text(
        &format!("sockets.py under {emu:?} vs the host's python3"),
        &out.stdout_str(),
        &expected,
    );
    // The four transfers inside the guest each hashed to what was sent.
    let lines: Vec<&str> = expected.lines().collect();
    let sent = lines[0].split(' ').nth(2).unwrap();
    for l in &lines[1..4] {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(
            (f[1], f[2], f[4]),
            ("16777216", sent, "0"),
            "transfer line {l}"
        );
    }
}

#[test]
fn python_sockets_16mib_unix_and_tcp() {
    python_sockets_16mib(Emu::Cranemu, "abi-pysock");
}

#[test]
fn python_sockets_16mib_unix_and_tcp_qemu() {
    python_sockets_16mib(Emu::Qemu, "abi-pysock-qemu");
}

// ---------------------------------------------------------------------
// Criterion 4: shared memory between processes
// ---------------------------------------------------------------------

/// tests/linux_abi/sqlite_wal.py: a writer and a reader process on one WAL
/// database at the same time; the reader checks every snapshot.
fn sqlite_wal_two_processes(emu: Emu, name: &str) {
    const TXNS: &str = "300";
    const ROWS: &str = "20";
    let dir = scratch_dir(name);
    let db = dir.join("wal.db");
    let Some(reader) = python(emu, "sqlite_wal.py") else {
        return;
    };
    let reader = reader.arg("reader").arg(&db).args([TXNS, ROWS]);
    let reader = Background::start(reader, &format!("the sqlite reader under {emu:?}"));
    let writer = python(emu, "sqlite_wal.py")
        .unwrap()
        .arg("writer")
        .arg(&db)
        .args([TXNS, ROWS])
        .time_limit(Duration::from_secs(300), "the test's own limit")
        .run();
    writer.assert_success();
    assert_eq!(
        writer.stdout_str(),
        "writer 300 transactions 6000 6000\n",
        "the writer's final count"
    );
    let (status, out, err) = reader.finish(Duration::from_secs(300));
    assert!(
        status == 0,
        "the reader failed (status {status}):\n{out}\n{err}"
    );
    assert_eq!(
        out, "reader consistent; final 6000 rows, 300 batches; saw intermediate snapshots: True\n",
        "the reader's result (it must see the writer's work in progress)"
    );
}

#[test]
fn sqlite_wal_writer_and_reader_processes() {
    sqlite_wal_two_processes(Emu::Cranemu, "abi-sqlite");
}

#[test]
fn sqlite_wal_writer_and_reader_processes_qemu() {
    sqlite_wal_two_processes(Emu::Qemu, "abi-sqlite-qemu");
}

/// A host mapping of a 4096-byte file (MAP_SHARED), unmapped when dropped.
struct HostMap {
    ptr: *mut u8,
}

impl HostMap {
    fn new(file: &std::fs::File) -> HostMap {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh shared mapping of 4096 bytes of an open file that
        // is at least that long; the kernel picks the address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert!(p != libc::MAP_FAILED, "host mmap of the shared file failed");
        HostMap { ptr: p.cast() }
    }

    /// The little-endian u64 word `i` of the mapping (i < 512).
    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < 512);
        // SAFETY: the mapping is 4096 bytes, page-aligned, and lives as
        // long as `self`; another process writing it concurrently is what
        // atomics are for (x86 loads and stores of aligned words are
        // single-copy atomic).
        unsafe { &*(self.ptr.add(8 * i) as *const AtomicU64) }
    }
}

impl Drop for HostMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made.
        unsafe { libc::munmap(self.ptr.cast(), 4096) };
    }
}

/// tests/linux_abi/mmap_shared.py: the guest and this process map one file
/// MAP_SHARED and take turns writing words in it; the guest's last write
/// must also be in the file itself.
fn mmap_shared_with_host(emu: Emu, name: &str) {
    const ROUNDS: u64 = 100;
    let dir = scratch_dir(name);
    let path = dir.join("shared.bin");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.set_len(4096).unwrap();
    let map = HostMap::new(&file);
    let Some(cmd) = python(emu, "mmap_shared.py") else {
        return;
    };
    let cmd = cmd.arg(&path).arg(ROUNDS.to_string());
    let mut guest = Background::start(cmd, &format!("mmap_shared.py under {emu:?}"));
    let deadline = Instant::now() + Duration::from_secs(240);
    for i in 0..ROUNDS {
        map.word(1).store(i * 3 + 1, Ordering::SeqCst);
        map.word(0).store(2 * i + 1, Ordering::SeqCst);
        while map.word(0).load(Ordering::SeqCst) != 2 * i + 2 {
            if Instant::now() > deadline || matches!(guest.child.try_wait(), Ok(Some(_))) {
                let err = guest.kill_and_stderr();
                panic!(
                    "round {i}: the guest never answered (turn {}, its word {})\n{err}",
                    map.word(0).load(Ordering::SeqCst),
                    map.word(2).load(Ordering::SeqCst)
                );
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        assert_eq!(
            map.word(2).load(Ordering::SeqCst),
            i * 5 + 2,
            "round {i}: the guest's value"
        );
    }
    let (status, out, err) = guest.finish(Duration::from_secs(60));
    assert!(
        status == 0,
        "the guest failed (status {status}):\n{out}\n{err}"
    );
    assert_eq!(out, format!("guest done {ROUNDS}\n"));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        &bytes[4000..4012],
        b"guest-wrote!",
        "the guest's MAP_SHARED store did not reach the file"
    );
    // SAFETY: the mapping is 4096 bytes and alive.
    let seen = unsafe { std::slice::from_raw_parts(map.ptr, 4096) };
    assert_eq!(&seen[4000..4012], b"guest-wrote!", "the host's mapping");
}

#[test]
fn mmap_shared_file_between_guest_and_host() {
    mmap_shared_with_host(Emu::Cranemu, "abi-mmap");
}

#[test]
fn mmap_shared_file_between_guest_and_host_qemu() {
    mmap_shared_with_host(Emu::Qemu, "abi-mmap-qemu");
}

// ---------------------------------------------------------------------
// Criterion 2: gcc, binutils and make
// ---------------------------------------------------------------------

/// The binfmt_misc entry scripts/cpython-tests.py registers for QEMU
/// (qemu-binfmt-conf.sh's magic and mask for riscv64; flags P, O, C).
const QEMU_BINFMT: &str = r":qemu-riscv64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:";

/// `PROGRAM ARGS...` of the toolchain sysroot under `emu`: for QEMU, inside
/// a user and mount namespace with a binfmt_misc entry of its own, so that
/// the programs it execs run under QEMU too. `None` (after a message) when
/// QEMU or the namespace is not available.
fn toolchain_cmd(emu: Emu, program: &str) -> Option<Cmd> {
    let t = toolchain_sysroot();
    let prog = t.join("usr/bin").join(program);
    if emu == Emu::Cranemu {
        return emu.cmd(Some(&t), prog);
    }
    let qemu = on_path("qemu-riscv64").or_else(|| {
        eprintln!("skipped: qemu-riscv64 not on PATH (apt-get install qemu-user)");
        None
    })?;
    let unshare = on_path("unshare").or_else(|| {
        eprintln!("skipped: no unshare (util-linux) for QEMU's private binfmt_misc");
        None
    })?;
    let entry = format!("{QEMU_BINFMT}{}:POC", qemu.display());
    let setup = "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 97
printf '%s' \"$ABI_BINFMT\" > /proc/sys/fs/binfmt_misc/register || exit 98
exec \"$@\"";
    let probe = host(&unshare)
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            setup,
            "sh",
            "true",
        ])
        .env("ABI_BINFMT", &entry)
        .run();
    if probe.status != 0 {
        eprintln!(
            "skipped: no private binfmt_misc for QEMU (needs unprivileged user namespaces \
             and Linux 6.7 or later): status {} {}",
            probe.status, probe.stderr
        );
        return None;
    }
    Some(
        host(unshare)
            .args([
                "--user",
                "--map-root-user",
                "--mount",
                "sh",
                "-c",
                setup,
                "sh",
            ])
            .arg(qemu)
            .arg("-L")
            .arg(&t)
            .arg(prog)
            .env("ABI_BINFMT", entry)
            .env("QEMU_LD_PREFIX", &t),
    )
}

/// The guest gcc's options that keep it inside the toolchain sysroot.
fn gcc_sysroot_args() -> Vec<String> {
    let t = toolchain_sysroot();
    vec![
        format!("--sysroot={}", t.display()),
        format!("-B{}/usr/bin/", t.display()),
    ]
}

/// Runs `cmd` (a guest build step) with a bound suited to a compile under
/// emulation; asserts success.
fn build(cmd: Cmd, dir: &Path) -> Outcome {
    let out = cmd
        .dir(dir)
        .env("LC_ALL", "C")
        .time_limit(Duration::from_secs(300), "the test's own limit")
        .run();
    out.assert_success();
    out
}

/// Debian's gcc-14 compiles and links tests/guest/libc/printf.c (cc1, as,
/// collect2 and ld run through execve); the riscv64 program's output under
/// cranemu must equal the host gcc's build's. Returns the binary.
fn gcc_builds_printf(emu: Emu, name: &str) -> Option<Vec<u8>> {
    let dir = scratch_dir(name);
    let src = repo().join("tests/guest/libc/printf.c");
    let gcc = toolchain_cmd(emu, "gcc-14")?;
    let out = build(
        gcc.args(gcc_sysroot_args())
            .args([
                "-v",
                "-O2",
                "-Wall",
                "-Wno-format-truncation",
                "-o",
                "printf",
            ])
            .arg(&src),
        &dir,
    );
    // The driver ran cc1, the assembler and collect2 (which runs ld).
    for step in ["/14/cc1 ", "GNU assembler version", "/14/collect2 "] {
        assert!(
            out.stderr.contains(step),
            "no {step:?} in gcc -v's log under {emu:?}:\n{}",
            truncate(&out.stderr, 4000)
        );
    }
    let elf = std::fs::read(dir.join("printf")).unwrap();
    assert!(
        elf.starts_with(b"\x7fELF\x02\x01") && elf.get(18..20) == Some(&[0xf3, 0][..]),
        "gcc's output is not a riscv64 ELF"
    );
    let t = toolchain_sysroot();
    let run = emu_run_cranemu(&t, &dir.join("printf"));
    // The host's build of the same source, with the same name (the program
    // prints whether argv[0] ends with "printf").
    std::fs::create_dir_all(dir.join("host")).unwrap();
    let Some(hcc) = on_path("cc").or_else(|| on_path("gcc")) else {
        eprintln!("no host cc: the program's output is not compared with a host build");
        return Some(elf);
    };
    build(host(hcc).args(["-O2", "-o", "host/printf"]).arg(&src), &dir);
    let want = host(dir.join("host/printf")).run();
    want.assert_success();
    assert_same_text(
        &format!(
            "printf.c built by the guest gcc under {emu:?}, run under cranemu, vs the host build"
        ),
        &run,
        &want.stdout_str(),
    );
    Some(std::fs::read(dir.join("printf")).unwrap())
}

/// Runs a riscv64 program of the toolchain sysroot under cranemu; its
/// stdout (asserting success).
fn emu_run_cranemu(sysroot: &Path, program: &Path) -> String {
    let out = Emu::Cranemu
        .cmd(Some(sysroot), program)
        .unwrap()
        .time_limit(Duration::from_secs(120), "the test's own limit")
        .run();
    out.assert_success();
    out.stdout_str()
}

#[test]
fn gcc_compiles_and_links_a_c_program() {
    gcc_builds_printf(Emu::Cranemu, "abi-gcc");
}

/// The same compile under QEMU (in its namespace); the two emulators'
/// gcc must produce the same bytes.
#[test]
fn gcc_compiles_and_links_a_c_program_qemu() {
    let Some(q) = gcc_builds_printf(Emu::Qemu, "abi-gcc-qemu") else {
        return;
    };
    let c = gcc_builds_printf(Emu::Cranemu, "abi-gcc-for-qemu").unwrap();
    assert!(
        q == c,
        "gcc under QEMU and under cranemu built different binaries ({} and {} bytes)",
        q.len(),
        c.len()
    );
}

/// Debian's make runs `make -j2` over tests/linux_abi/make (three objects
/// compiled in parallel by the guest gcc, then linked); the program's
/// output must equal the host make and gcc's build's.
fn make_j2(emu: Emu, name: &str) {
    let dir = scratch_dir(name);
    let srcdir = script("make");
    for f in ["Makefile", "wordstat.h", "main.c", "words.c", "checksum.c"] {
        std::fs::copy(srcdir.join(f), dir.join(f)).unwrap();
        std::fs::create_dir_all(dir.join("host")).unwrap();
        std::fs::copy(srcdir.join(f), dir.join("host").join(f)).unwrap();
    }
    let t = toolchain_sysroot();
    let Some(make) = toolchain_cmd(emu, "make") else {
        return;
    };
    let cc = format!(
        "CC={} {}",
        t.join("usr/bin/gcc-14").display(),
        gcc_sysroot_args().join(" ")
    );
    let out = build(make.args(["-j2", &cc]), &dir);
    for o in ["main.o", "words.o", "checksum.o", "wordstat"] {
        assert!(
            dir.join(o).is_file(),
            "make -j2 did not build {o}:\n{}",
            out.stdout_str()
        );
    }
    let got = emu_run_cranemu(&t, &dir.join("wordstat"));
    let Some(hmake) = on_path("make") else {
        eprintln!("no host make: comparing with the output's own consistency only");
        assert!(got.contains("crc32(\"123456789\") = cbf43926"), "{got}");
        return;
    };
    build(host(hmake).args(["-j2", "CC=cc"]), &dir.join("host"));
    let want = host(dir.join("host/wordstat")).run();
    want.assert_success();
    assert_same_text(
        &format!("wordstat built by make -j2 under {emu:?} vs the host build"),
        &got,
        &want.stdout_str(),
    );
}

#[test]
fn make_j2_builds_a_multi_file_project() {
    make_j2(Emu::Cranemu, "abi-make");
}

#[test]
fn make_j2_builds_a_multi_file_project_qemu() {
    make_j2(Emu::Qemu, "abi-make-qemu");
}

// ---------------------------------------------------------------------
// /proc and /sys: the CPUs
// ---------------------------------------------------------------------

/// tests/linux_abi/cpus.py: the CPUs a guest program sees (the online,
/// possible and present lists and cpuN entries of /sys/devices/system/cpu,
/// `os.cpu_count()`, its affinity, the harts of /proc/cpuinfo) equal what
/// the same script sees on the host, with the affinity narrowed to one CPU
/// by `taskset` (where it is installed) and without. Linux lists every
/// online CPU in /proc/cpuinfo, whatever the reader's affinity.
fn cpus_as_the_host_sees_them(emu: Emu) {
    let Some(py) = on_path("python3") else {
        eprintln!("skipped: no host python3 to compare with");
        return;
    };
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let last = online
        .trim()
        .rsplit([',', '-'])
        .next()
        .unwrap_or("0")
        .to_string();
    let taskset = on_path("taskset");
    if taskset.is_none() {
        eprintln!("no taskset (util-linux): the narrowed-affinity run is not done");
    }
    let narrowed = taskset.map(|t| vec![t.display().to_string(), "-c".into(), last.clone()]);
    for prefix in [None, narrowed] {
        let wrap = |c: Cmd| -> Cmd {
            match &prefix {
                None => c,
                Some(p) => {
                    let mut w = host(&p[0]).args(&p[1..]).arg(c.cmd.get_program());
                    w = w.args(c.cmd.get_args());
                    w
                }
            }
        };
        let Some(g) = python(emu, "cpus.py") else {
            return;
        };
        let g = wrap(g).run();
        g.assert_success();
        let h = wrap(host(&py).arg(script("cpus.py"))).run();
        h.assert_success();
        assert_same_text(
            &format!("cpus.py under {emu:?} (affinity {prefix:?}) vs the host"),
            &g.stdout_str(),
            &h.stdout_str(),
        );
    }
}

#[test]
fn cpus_in_proc_and_sys_as_the_host_sees_them() {
    cpus_as_the_host_sees_them(Emu::Cranemu);
}

#[test]
fn cpus_in_proc_and_sys_as_the_host_sees_them_qemu() {
    cpus_as_the_host_sees_them(Emu::Qemu);
}

/// tests/linux_abi/mmap_beyond_eof.py: a shared file mapping whose file is
/// truncated. A system call given a buffer there fails with EFAULT, and a
/// load from it raises SIGBUS in the guest (whose C-level handler,
/// faulthandler, reports it) before the guest dies of it, as on the host:
/// in both of cranemu's tiers (the interpreter, and translated code with
/// `-jit-threshold 0`), the emulator itself must not die of the SIGBUS.
fn mmap_beyond_eof(emu: Emu, options: &[&str], name: &str) {
    let dir = scratch_dir(name);
    let s = cpython_sysroot();
    let cmd = match emu {
        Emu::Cranemu => cranemu_cmd().arg("run").args(options).arg("-L").arg(&s),
        Emu::Qemu => {
            let Some(q) = on_path("qemu-riscv64") else {
                eprintln!("skipped: qemu-riscv64 not on PATH (apt-get install qemu-user)");
                return;
            };
            host(q).arg("-L").arg(&s)
        }
    };
    let g = cmd
        .arg(s.join("usr/bin/python3.13"))
        .arg(script("mmap_beyond_eof.py"))
        .arg(dir.join("file"))
        .run();
    let expected = "before truncation: b'hello'\nwrite from the mapping: EFAULT\n\
                    touching the mapping\n";
    assert_same_text(
        &format!("mmap_beyond_eof.py under {emu:?} {options:?}"),
        &g.stdout_str(),
        expected,
    );
    assert!(
        g.signal == Some(libc::SIGBUS) && g.stderr.contains("Fatal Python error: Bus error"),
        "under {emu:?} {options:?}: expected the guest's own SIGBUS report and death by \
         SIGBUS, got status {} (signal {:?}):\n{}",
        g.status,
        g.signal,
        g.stderr
    );
}

#[test]
fn mmap_beyond_the_end_of_the_file_is_sigbus_and_efault() {
    mmap_beyond_eof(Emu::Cranemu, &[], "abi-eof");
    mmap_beyond_eof(Emu::Cranemu, &["-jit-threshold", "0"], "abi-eof-jit");
}

#[test]
fn mmap_beyond_the_end_of_the_file_is_sigbus_and_efault_qemu() {
    mmap_beyond_eof(Emu::Qemu, &[], "abi-eof-qemu");
}
