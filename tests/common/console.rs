//! A Linux guest on an emulator's serial console, driven like a user at
//! a shell: boot to a marker line and the prompt, type commands, read
//! their output and exit status, power off. Used by the full-system tests
//! (tests/system_linux.rs, tests/system_virtio.rs) for cranemu and for
//! qemu-system-riscv64 alike.
//!
//! The protocol: the guest prints a marker line, then starts an
//! interactive shell whose prompt is `# `. Each command goes out as one
//! line, `echo "@@""B<n>"; COMMAND; echo "@@""E<n>" $?`, so the console's
//! echo of the typed line never matches the `@@B<n>` / `@@E<n> STATUS`
//! lines that delimit the command's output.

use super::*;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn timeout() -> Duration {
    let secs = std::env::var("CRANEMU_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    Duration::from_secs(secs)
}

/// Which emulator boots the machine.
#[derive(Clone, Copy, Debug)]
pub enum Emulator {
    /// `cranemu system ...`, the emulator under test.
    Cranemu,
    /// `qemu-system-riscv64 ...`, the reference.
    Qemu,
}

impl Emulator {
    pub fn command(self) -> Command {
        match self {
            Emulator::Cranemu => {
                let mut c = Command::new(cranemu());
                c.arg("system");
                c
            }
            Emulator::Qemu => Command::new("qemu-system-riscv64"),
        }
    }
}

/// A running machine: its console (stdout) as read so far, and its stdin.
pub struct Machine {
    child: Child,
    stdin: Option<ChildStdin>,
    chunks: Receiver<Vec<u8>>,
    /// Everything the console printed, with the CRs of its CRLF line ends
    /// removed.
    console: String,
    /// Where the next search of `console` starts.
    seen: usize,
    stderr: Arc<Mutex<Vec<u8>>>,
    cmdline: String,
    started: Instant,
    seq: u32,
    /// The exit status, once the machine has exited.
    exited: Option<i32>,
}

impl Machine {
    /// Starts `cmd` (an emulator's command line, its console on stdio) and
    /// waits for the line `marker` and then the shell's first prompt;
    /// `label` names the machine in the timing line printed to stderr.
    pub fn start(mut cmd: Command, marker: &str, label: &str) -> Machine {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let cmdline = format!("{cmd:?}").replace('"', "");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{cmdline}`: {e}"));
        let stdin = child.stdin.take();
        let mut out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut m = Machine {
            child,
            stdin,
            chunks,
            console: String::new(),
            seen: 0,
            stderr,
            cmdline,
            started: Instant::now(),
            seq: 0,
            exited: None,
        };
        // The marker ends its line, or a kernel message that the console
        // interleaves (`[    1.98] hrtimer: interrupt took ...`, printed
        // when the host stalls the guest) follows it on the same line.
        m.wait_for(&format!("the line `{marker}`"), |text| {
            text.match_indices(marker).find_map(|(i, _)| {
                let end = i + marker.len();
                matches!(text.as_bytes().get(end), Some(b'\n' | b'\r' | b'[')).then_some(end)
            })
        });
        let booted = m.started.elapsed();
        // The prompt, so that nothing is typed before the shell reads.
        m.wait_for("the shell's prompt `# `", |text| {
            text.find("# ").map(|i| i + 2)
        });
        eprintln!(
            "{label}: ready line after {:.2} s, prompt after {:.2} s",
            booted.as_secs_f64(),
            m.started.elapsed().as_secs_f64()
        );
        m
    }

    /// The last `n` lines of the console.
    pub fn tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self.console.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub fn kill(&mut self) {
        if self.exited.is_none() {
            // The whole process group: an emulator's helper processes too.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn fail(&mut self, why: &str) -> ! {
        self.kill();
        // Whatever is still in the pipe.
        while let Ok(c) = self.chunks.try_recv() {
            self.console
                .push_str(&String::from_utf8_lossy(&c).replace('\r', ""));
        }
        panic!(
            "`{}`: {why} ({:.1} s after the start)\n--- stderr:\n{}\n--- last 40 lines of the console:\n{}",
            self.cmdline,
            self.started.elapsed().as_secs_f64(),
            truncate(&self.stderr(), 8000),
            self.tail(40)
        );
    }

    /// Reads the console until `found` finds something in what was not yet
    /// consumed (it returns the end of what it found, relative to its
    /// argument, and a value); fails on exit or after the timeout.
    pub fn wait_for_value<T>(
        &mut self,
        what: &str,
        mut found: impl FnMut(&str) -> Option<(usize, T)>,
    ) -> T {
        let deadline = Instant::now() + timeout();
        loop {
            if let Some((end, v)) = found(&self.console[self.seen..]) {
                self.seen += end;
                return v;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(c) => self
                    .console
                    .push_str(&String::from_utf8_lossy(&c).replace('\r', "")),
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "timed out after {:?} (CRANEMU_TEST_TIMEOUT) waiting for {what}",
                    timeout()
                )),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit(Duration::from_secs(10));
                    self.fail(&format!(
                        "the console closed (exit status {}) while waiting for {what}",
                        status.map_or("unknown".into(), |s| s.to_string())
                    ))
                }
            }
        }
    }

    pub fn wait_for(&mut self, what: &str, mut found: impl FnMut(&str) -> Option<usize>) {
        self.wait_for_value(what, |t| found(t).map(|e| (e, ())))
    }

    /// Waits up to `limit` for the process to exit; its status as a shell
    /// reports it.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        if self.exited.is_some() {
            return self.exited;
        }
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => {
                    let code = s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0));
                    self.exited = Some(code);
                    return self.exited;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => return None,
            }
        }
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        if let Err(e) = stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| stdin.flush())
        {
            self.fail(&format!("cannot write `{line}` to its stdin: {e}"));
        }
    }

    /// Runs `command` in the guest's shell: its output (console lines, CRs
    /// removed) and exit status.
    pub fn run(&mut self, command: &str) -> (String, i32) {
        self.seq += 1;
        let n = self.seq;
        self.send(&format!(
            "echo \"@@\"\"B{n}\"; {command}; echo \"@@\"\"E{n}\" $?"
        ));
        let begin = format!("\n@@B{n}\n");
        let end = format!("\n@@E{n} ");
        self.wait_for_value(&format!("the output of `{command}`"), |text| {
            let b = text.find(&begin)? + begin.len();
            let e = b - 1 + text[b - 1..].find(&end)?;
            let rest = &text[e + end.len()..];
            let nl = rest.find('\n')?;
            let status = rest[..nl].trim().parse().ok()?;
            let out = without_kernel_messages(&text[b..=e]);
            Some((e + end.len() + nl + 1, (out, status)))
        })
    }

    /// Runs `command` and checks that it exits 0: its output.
    pub fn ok(&mut self, command: &str) -> String {
        let (out, status) = self.run(command);
        if status != 0 {
            self.fail(&format!(
                "`{command}` exited with status {status}; output:\n{out}"
            ));
        }
        out
    }

    /// `poweroff -f`, then checks that the emulator exits 0.
    pub fn poweroff(mut self) {
        self.send("poweroff -f");
        // The machine powers off; the emulator closes the console and exits.
        let status = self.wait_exit(timeout());
        match status {
            Some(0) => eprintln!(
                "{}: exited 0 after {:.2} s",
                self.cmdline,
                self.started.elapsed().as_secs_f64()
            ),
            Some(s) => self.fail(&format!("exited with status {s} after `poweroff -f`")),
            None => self.fail(&format!(
                "still running {:?} (CRANEMU_TEST_TIMEOUT) after `poweroff -f`",
                timeout()
            )),
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if self.exited.is_none() {
            self.kill();
        }
    }
}

/// `text` without the kernel's console messages (`[   12.345678] ...`
/// lines), which can come between a command's output lines on a slow machine.
pub fn without_kernel_messages(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|l| !is_kernel_message(l))
        .collect()
}

pub fn is_kernel_message(line: &str) -> bool {
    let Some(rest) = line.strip_prefix('[') else {
        return false;
    };
    let Some((stamp, _)) = rest.split_once(']') else {
        return false;
    };
    let stamp = stamp.trim_start();
    !stamp.is_empty()
        && stamp.contains('.')
        && stamp.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Whether qemu-system-riscv64 is on PATH (the `qemu_*` twins say so and
/// pass when it is not).
pub fn have_qemu() -> bool {
    if on_path("qemu-system-riscv64").is_some() {
        return true;
    }
    eprintln!("qemu-system-riscv64 not on PATH (apt-get install qemu-system-misc): not run");
    false
}
