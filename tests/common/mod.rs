//! Shared harness for the whole-program tests: runs a guest program under
//! `cranemu run` (or under a reference runner, see [`runner`]) with a timeout,
//! and reports its exit status the way a shell does.
//!
//! # Validating the tests themselves: `CRANEMU_TEST_RUNNER`
//!
//! `CRANEMU_TEST_RUNNER=qemu-riscv64 cargo test --test guest_programs` replaces
//! `cranemu run PROGRAM ARGS...` with `qemu-riscv64 PROGRAM ARGS...`.  It exists
//! only to check the tests and their expected outputs against a reference
//! emulator; checks of cranemu's own command line (the embedded default
//! guest, the messages for bad input) are skipped under it.
//!
//! `CRANEMU_TEST_TIMEOUT` (seconds, default 300) bounds every guest run.

#![allow(dead_code)]

pub mod console;
pub mod cpio;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The repository root (the root package's manifest directory).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The reference runner from `CRANEMU_TEST_RUNNER`, if one is set.
pub fn runner() -> Option<String> {
    std::env::var("CRANEMU_TEST_RUNNER")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// The cranemu binary under test.
pub fn cranemu() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cranemu"))
}

/// Whether `name` is an executable on the host's PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A scratch directory for one test (`name` unique among all tests), fresh
/// (emptied) on each call; left in place afterwards for post-mortems.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cranemu-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn timeout() -> Duration {
    let secs = std::env::var("CRANEMU_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    Duration::from_secs(secs)
}

/// What a finished program did.
#[derive(Debug)]
pub struct Outcome {
    /// The exit status as a shell reports it: the exit code, or 128 + N for a
    /// process killed by signal N.
    pub status: i32,
    /// The signal that killed the process itself, if any.
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// A printable form of the command line, for messages.
    pub cmdline: String,
}

impl Outcome {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Panics with the command line, status and stderr unless it exited 0.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status == 0,
            "`{}` exited with status {}\n--- stderr:\n{}\n--- stdout:\n{}",
            self.cmdline,
            self.status,
            self.stderr,
            truncate(&self.stdout_str(), 4000)
        );
        self
    }
}

/// The first `max` characters of `s`, marked when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}... [{} bytes in all]", &s[..i], s.len()),
        None => s.to_string(),
    }
}

/// A command to run a guest program: `cranemu run PROGRAM ARGS...`, or
/// `$CRANEMU_TEST_RUNNER PROGRAM ARGS...`.
pub fn guest(program: impl AsRef<OsStr>) -> Cmd {
    let mut cmd = match runner() {
        Some(r) => Command::new(r),
        None => {
            let mut c = Command::new(cranemu());
            c.arg("run");
            c
        }
    };
    cmd.arg(program);
    Cmd {
        cmd,
        stdin: Vec::new(),
        limit: None,
    }
}

/// Like [`guest`], with cranemu options before PROGRAM (ignored under
/// `CRANEMU_TEST_RUNNER`, whose options differ).
pub fn guest_with(options: &[&str], program: impl AsRef<OsStr>) -> Cmd {
    let mut cmd = match runner() {
        Some(r) => Command::new(r),
        None => {
            let mut c = Command::new(cranemu());
            c.arg("run").args(options);
            c
        }
    };
    cmd.arg(program);
    Cmd {
        cmd,
        stdin: Vec::new(),
        limit: None,
    }
}

/// A command to run on the host (reference tools), with the same harness.
pub fn host(program: impl AsRef<OsStr>) -> Cmd {
    Cmd {
        cmd: Command::new(program),
        stdin: Vec::new(),
        limit: None,
    }
}

/// A command to run cranemu itself with exactly these arguments (checks of
/// its own command line; never replaced by the runner).
pub fn cranemu_cmd() -> Cmd {
    host(cranemu())
}

/// A command plus the bytes for its stdin.
pub struct Cmd {
    pub cmd: Command,
    stdin: Vec<u8>,
    /// The time limit and the variable that sets it (for messages);
    /// `CRANEMU_TEST_TIMEOUT` when `None`.
    limit: Option<(Duration, &'static str)>,
}

impl Cmd {
    /// Limits the run to `limit`, which the environment variable `var`
    /// sets (named in the timeout message).
    pub fn time_limit(mut self, limit: Duration, var: &'static str) -> Self {
        self.limit = Some((limit, var));
        self
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, a: I) -> Self {
        self.cmd.args(a);
        self
    }
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn dir(mut self, d: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(d);
        self
    }
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = data.into();
        self
    }

    /// Runs to completion (or panics after `CRANEMU_TEST_TIMEOUT`, killing
    /// the whole process group).
    pub fn run(mut self) -> Outcome {
        let cmdline = format!("{:?}", self.cmd).replace('"', "");
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{cmdline}`: {e}"));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let data = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // The program may exit without reading its input: ignore EPIPE.
            let _ = stdin.write_all(&data);
        });
        let mut out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let out_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        });
        let err_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        let (limit, var) = self
            .limit
            .unwrap_or_else(|| (timeout(), "CRANEMU_TEST_TIMEOUT"));
        let deadline = Instant::now() + limit;
        let status: ExitStatus = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) => {
                    let pgid = child.id();
                    let _ = Command::new("kill")
                        .args(["-KILL", "--", &format!("-{pgid}")])
                        .status();
                    let _ = child.kill();
                    let _ = child.wait();
                    // The group is dead, so its pipes are closed.
                    let out = out_t.join().unwrap_or_default();
                    let err = err_t.join().unwrap_or_default();
                    panic!(
                        "`{cmdline}` timed out after {limit:?} ({var}) and was killed\n--- stdout so far (last 4000 bytes):\n{}\n--- stderr:\n{}",
                        tail_text(&out, 4000),
                        tail_text(&err, 4000),
                    );
                }
                Err(e) => panic!("wait for `{cmdline}`: {e}"),
            }
        };
        let _ = writer.join();
        let stdout = out_t.join().expect("stdout reader");
        let stderr = String::from_utf8_lossy(&err_t.join().expect("stderr reader")).into_owned();
        let signal = status.signal();
        let status = status.code().unwrap_or_else(|| 128 + signal.unwrap_or(0));
        Outcome {
            status,
            signal,
            stdout,
            stderr,
            cmdline,
        }
    }
}

/// The last `n` bytes of `bytes` as text.
pub fn tail_text(bytes: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(n)..]).into_owned()
}

/// Asserts two texts are equal, reporting the first differing line.
pub fn assert_same_text(what: &str, actual: &str, expected: &str) {
    if actual == expected {
        return;
    }
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    let first = (0..a.len().max(e.len()))
        .find(|&i| a.get(i) != e.get(i))
        .unwrap_or(a.len().min(e.len()));
    panic!(
        "{what}: output differs at line {} (got {} lines, expected {})\n  got:      {:?}\n  expected: {:?}",
        first + 1,
        a.len(),
        e.len(),
        a.get(first).copied().unwrap_or("<end of output>"),
        e.get(first).copied().unwrap_or("<end of output>"),
    );
}

/// A TCP port on 127.0.0.1 that was free a moment ago, for a server the
/// test starts: one below the kernel's ephemeral range (32768 and up on
/// Linux by default), so that no socket another test binds to port 0, or
/// connects from, can take it before the server binds it; and a client
/// that connects before the server listens cannot connect to itself (a
/// TCP self-connect needs the ephemeral source port to equal the
/// destination). Random within 20000..32000 and checked to be bindable.
#[allow(dead_code)]
pub fn free_port() -> u16 {
    use std::net::{Ipv4Addr, TcpListener};
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    let calls = u64::from(CALLS.fetch_add(1, Ordering::Relaxed));
    let seed = (u64::from(std::process::id()) << 32) ^ (calls << 40) ^ nanos;
    let mut x = seed | 1;
    for _ in 0..1000 {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 20000 + (x % 12000) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 20000..32000 on 127.0.0.1");
}
