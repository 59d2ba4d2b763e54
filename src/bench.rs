//! `cranemu bench [--json] [--guest-output] [--progress] [-L SYSROOT]
//! [-jit-threshold N] [PROGRAM [ARGS...]]`: runs a riscv64 Linux program
//! in-process exactly as `cranemu run` does, and reports how fast each
//! tier of the translator worked.
//!
//! The report (a table on standard output, or one JSON object with
//! `--json`):
//! - translation throughput per tier: tier 1 translates guest code to IR
//!   and lowers it for the first tier (`cranemu_ir::baseline`), which runs
//!   it (on the vCPU thread); tier 2 compiles
//!   hot blocks with Cranelift (on the compile thread, or on the vCPU with
//!   `-jit-threshold 0`). For each: blocks, guest instructions, the time
//!   spent, µs per block, guest instructions per second, and for tier 2
//!   bytes of host code per guest instruction;
//! - the compile queue: blocks queued for the compile thread, dropped
//!   (invalidated or flushed while they waited, or pushed out of a full
//!   queue), still pending when the program ended (a short run ends
//!   before the compile thread catches up), the mean and longest wait of
//!   the blocks it took, and the compiles that ran on a
//!   vCPU thread instead, with the time vCPUs spent in them (0 with the
//!   compile thread: a vCPU never waits for it; with `-jit-threshold 0`
//!   every compile runs on the vCPU that needs the block);
//! - how many blocks run the first tier as host code
//!   (`cranemu_backend::template`), and its bytes; the others run in the
//!   first tier's loop;
//! - execution: guest instructions retired (by all vCPUs), wall time, MIPS, and where
//!   the vCPUs' time went: the first tier's loop, code (the first tier's
//!   and Cranelift's, which chain into each other, with the helpers and
//!   lookups they call), translation to IR, Cranelift on vCPU
//!   threads, and the rest (the execution loop, system calls, signal
//!   delivery, the host kernel).
//!
//! What is measured: the first guest process only (a guest `fork` is a
//! host `fork`; children run, but their counts are their own and are not
//! reported; a guest `execve` in that first process replaces it with a
//! plain `cranemu run`, and no report comes). Instructions and times are
//! summed over vCPU threads (a thread's instructions are counted each
//! time it leaves the engine, for a system call or a trap; those of
//! threads still running when another ends the process are lost). With
//! several guest threads the times may add up to more than the wall time
//! (the rest is then shown as 0). Timing each tier
//! reads the clock around every interpreted block and every entry into
//! compiled code ([`cranemu_runtime::EngineConfig::profile`]); `cranemu
//! run` does not pay for it.
//!
//! The guest's standard output and error go to `/dev/null` unless
//! `--guest-output` is given; the report goes to cranemu's own standard
//! output, through a close-on-exec duplicate at descriptor 700 or above,
//! out of the way of the guest's own. It comes when the first process
//! ends: by `exit_group`, by a fault (status 128 + N), or by a signal
//! that kills cranemu too (`abort()`, a `kill` of itself). Runs longer than 2 s print a progress line once a second on
//! standard error when it is a terminal (or always with `--progress`).
//! Without PROGRAM it runs a built-in workload (`tests/guest/src/bench.c`:
//! 512 hot and 512 cold generated functions, then a hot loop of about
//! 1.2e8 instructions). The exit status is the guest's; an error before
//! the guest starts is one line on standard error, with the status
//! `cranemu run` gives (127 for a missing program, 126 otherwise).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use clap::Args;
use cranemu_linux_user::{run_program, Options, Program, RunHooks};
use cranemu_runtime::{Engine, Stats};

/// The built-in workload (`tests/guest/src/bench.c`, built by
/// `tests/guest/Makefile`).
static BENCH_GUEST: &[u8] = include_bytes!("bench_guest.elf");

/// Runs longer than this get progress lines.
const PROGRESS_AFTER: Duration = Duration::from_secs(2);

/// `cranemu bench`'s arguments.
#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Keep the guest's standard output and error (default: /dev/null).
    #[arg(long = "guest-output")]
    guest_output: bool,
    /// Print a progress line to stderr once a second after 2 s even when
    /// stderr is not a terminal.
    #[arg(long)]
    progress: bool,
    /// Look up absolute guest paths (and the ELF interpreter) under SYSROOT first.
    #[arg(short = 'L', value_name = "SYSROOT")]
    sysroot: Option<PathBuf>,
    /// Interpreted executions of a block before Cranelift compiles it
    /// (also spelled -jit-threshold); 0 compiles every block on the vCPU
    /// before it first runs. Default 3000.
    #[arg(long = "jit-threshold", value_name = "N")]
    jit_threshold: Option<u32>,
    /// The riscv64 ELF program (default: the built-in workload).
    #[arg(value_name = "PROGRAM")]
    program: Option<PathBuf>,
    /// Arguments passed to the program verbatim.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<OsString>,
}

/// Where the duplicates of cranemu's own standard descriptors go: high,
/// out of the way of the descriptors a guest picks itself (shells move
/// theirs to 10 and up); the lowest free one from 3 if the limit is lower.
const REPORT_FD_MIN: i32 = 700;

/// A duplicate of one of cranemu's own standard descriptors, taken before
/// the guest's are pointed at /dev/null (close-on-exec: a guest's
/// `execve` does not pass it on).
fn dup_fd(fd: i32) -> Option<File> {
    // SAFETY: fcntl with F_DUPFD_CLOEXEC takes no pointer; the new
    // descriptor is ours alone.
    let mut d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, REPORT_FD_MIN) };
    if d < 0 {
        // SAFETY: as above.
        d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    (d >= 0).then(|| unsafe { File::from_raw_fd(d) })
}

/// Points descriptors 1 and 2 at /dev/null.
fn silence_guest() -> std::io::Result<()> {
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    let fd = null.into_raw_fd();
    for target in [1, 2] {
        // SAFETY: dup2 onto the standard descriptors, which the guest
        // inherits; `fd` is ours.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    // SAFETY: our descriptor, no longer needed.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Runs `cranemu bench` and returns the exit status.
pub(crate) fn main(a: &BenchArgs) -> i32 {
    let (Some(out), Some(err)) = (dup_fd(1), dup_fd(2)) else {
        cranemu_runtime::diagln!("cranemu bench: cannot duplicate standard output or error");
        return 1;
    };
    let err = Arc::new(Mutex::new(err));
    let say = |msg: &str| {
        let _ = writeln!(err.lock().unwrap_or_else(|e| e.into_inner()), "{msg}");
    };
    let (program, shown) = match &a.program {
        Some(p) => (Program::Path(p), p.display().to_string()),
        None => (
            Program::Image {
                name: "bench_guest",
                bytes: BENCH_GUEST,
            },
            "built-in workload".to_string(),
        ),
    };
    let progress = a.progress || std::io::stderr().is_terminal();
    if !a.guest_output {
        if let Err(e) = silence_guest() {
            say(&format!("cranemu bench: /dev/null: {e}"));
            return 1;
        }
    }
    let reporter = Arc::new(Reporter {
        // SAFETY: getpid takes no arguments and cannot fail.
        pid: unsafe { libc::getpid() },
        json: a.json,
        shown: shown.clone(),
        jit_threshold: a
            .jit_threshold
            .unwrap_or(cranemu_runtime::EngineConfig::default().jit_threshold),
        out: Mutex::new(out),
        err: err.clone(),
        progress,
        stop: Arc::new(AtomicBool::new(false)),
        reported: AtomicBool::new(false),
    });
    let opts = Options {
        sysroot: a.sysroot.clone(),
        jit_threshold: a.jit_threshold,
        profile: true,
        hooks: Some(reporter),
        ..Options::default()
    };
    match run_program(&opts, program, &a.args) {
        Ok(code) => code,
        Err(e) => {
            say(&format!("cranemu bench: {shown}: {e}"));
            e.exit_code()
        }
    }
}

/// The [`RunHooks`] of a bench run: the progress thread and the report.
struct Reporter {
    /// The process that reports (not its forked guest children).
    pid: i32,
    json: bool,
    /// What ran, for the report's first line.
    shown: String,
    jit_threshold: u32,
    /// cranemu's own standard output and error.
    out: Mutex<File>,
    err: Arc<Mutex<File>>,
    /// Print progress lines.
    progress: bool,
    /// Tells the progress thread to stop.
    stop: Arc<AtomicBool>,
    /// The report was printed (a process ends once, but be sure).
    reported: AtomicBool,
}

impl RunHooks for Reporter {
    fn started(&self, engine: &Arc<Engine>, started: Instant) {
        if !self.progress {
            return;
        }
        let (engine, stop, err) = (Arc::downgrade(engine), self.stop.clone(), self.err.clone());
        // A failure to start it only loses the progress lines.
        let _ = std::thread::Builder::new()
            .name("cranemu-bench".into())
            .spawn(move || progress_thread(engine, stop, err, started));
    }

    fn finished(&self, engine: &Engine, _first_vcpu_insns: u64, started: Instant) {
        // SAFETY: getpid takes no arguments and cannot fail.
        if unsafe { libc::getpid() } != self.pid || self.reported.swap(true, Ordering::SeqCst) {
            return;
        }
        self.stop.store(true, Ordering::SeqCst);
        let wall = started.elapsed();
        let r = Report::new(engine, wall);
        let text = if self.json {
            r.json(&self.shown, self.jit_threshold)
        } else {
            r.table(&self.shown, self.jit_threshold)
        };
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// Prints a line of live counters to `err` once a second, from
/// [`PROGRESS_AFTER`] on, until `stop` is set or the engine is gone.
fn progress_thread(
    engine: Weak<Engine>,
    stop: Arc<AtomicBool>,
    err: Arc<Mutex<File>>,
    started: Instant,
) {
    // Guest signals are for vCPU threads only.
    // SAFETY: a full set, applied to this thread only.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
    let mut next = PROGRESS_AFTER;
    loop {
        while started.elapsed() < next {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let s = engine.stats();
        drop(engine);
        let line = format!(
            "cranemu bench: {:.0} s: {:.1} M guest insns, {} blocks to IR, {} compiled \
             ({} queued, {} dropped), {} interpreted block runs, {:.0} ms in compiled code\n",
            started.elapsed().as_secs_f64(),
            s.retired_insns as f64 / 1e6,
            s.blocks,
            s.compiled_blocks,
            s.queued_compiles,
            s.dropped_compiles,
            s.interpreted_blocks,
            s.jit_ns as f64 / 1e6,
        );
        let _ = err
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write_all(line.as_bytes());
        next += Duration::from_secs(1);
    }
}

/// The figures of one run (see the module doc).
struct Report {
    /// Totals over the vCPUs and the compile thread.
    total: Stats,
    /// Summed over the vCPU threads only.
    vcpus: Stats,
    /// The compile thread's own counters.
    thread: Stats,
    /// vCPU threads that ran.
    nvcpus: usize,
    /// Guest instructions retired by all vCPUs.
    executed_insns: u64,
    wall_ns: u64,
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

impl Report {
    fn new(engine: &Engine, wall: Duration) -> Report {
        let list = engine.vcpu_stats();
        let mut vcpus = Stats::default();
        for v in &list {
            vcpus.accumulate(&v.stats);
        }
        Report {
            total: engine.stats(),
            thread: engine.compile_stats(),
            vcpus,
            nvcpus: list.len(),
            executed_insns: vcpus.retired_insns,
            wall_ns: wall.as_nanos() as u64,
        }
    }

    /// Blocks, guest instructions and ns of tier 1 (to IR).
    fn tier1(&self) -> (u64, u64, u64) {
        let t = &self.total;
        (t.blocks, t.guest_insns, t.translate_ns)
    }

    /// Blocks, guest instructions and ns of tier 2 (Cranelift).
    fn tier2(&self) -> (u64, u64, u64) {
        let t = &self.total;
        (t.compiled_blocks, t.compiled_insns, t.codegen_ns)
    }

    /// Queued blocks neither compiled nor dropped when the program ended
    /// (still queued, or being compiled).
    fn pending(&self) -> u64 {
        let t = &self.thread;
        t.queued_compiles
            .saturating_sub(t.dropped_compiles + t.compiled_blocks)
    }

    /// The vCPUs' time not spent in a tier, translating or compiling.
    fn rest_ns(&self) -> u64 {
        let v = &self.vcpus;
        self.wall_ns
            .saturating_sub(v.interp_ns + v.jit_ns + v.translate_ns + v.codegen_ns)
    }

    fn mips(&self) -> f64 {
        ratio(self.executed_insns as f64, self.wall_ns as f64 / 1e3)
    }

    fn table(&self, shown: &str, threshold: u32) -> String {
        let mut o = String::new();
        let ms = |ns: u64| ns as f64 / 1e6;
        let _ = writeln!(
            o,
            "cranemu bench: {shown} (jit-threshold {threshold}, {} vCPU thread{})",
            self.nvcpus,
            if self.nvcpus == 1 { "" } else { "s" }
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "{:<24}{:>10}{:>14}{:>12}{:>12}{:>14}{:>14}",
            "translation", "blocks", "guest insns", "time ms", "µs/block", "insns/s", "host B/insn"
        );
        for (name, (blocks, insns, ns), bytes) in [
            ("tier 1: to IR (baseline)", self.tier1(), None),
            (
                "tier 2: Cranelift",
                self.tier2(),
                Some(ratio(
                    self.total.code_bytes as f64,
                    self.total.compiled_insns as f64,
                )),
            ),
        ] {
            let _ = writeln!(
                o,
                "{name:<24}{blocks:>10}{insns:>14}{:>12.1}{:>12.1}{:>14.0}{:>14}",
                ms(ns),
                ratio(ns as f64 / 1e3, blocks as f64),
                ratio(insns as f64, ns as f64 / 1e9),
                bytes.map_or("-".to_string(), |b| format!("{b:.1}")),
            );
        }
        let t = &self.total;
        let _ = writeln!(
            o,
            "tier 1 as host code: {} blocks, {} bytes ({:.0} B/block); \
             the other tier 1 blocks run in its loop",
            t.first_tier_code,
            t.first_tier_code_bytes,
            ratio(t.first_tier_code_bytes as f64, t.first_tier_code as f64)
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "compile queue: {} queued, {} dropped, {} pending at exit, \
             wait mean {:.2} ms, max {:.2} ms",
            t.queued_compiles,
            t.dropped_compiles,
            self.pending(),
            ratio(ms(t.queue_wait_ns), t.queued_compiles as f64),
            ms(t.queue_wait_max_ns)
        );
        let _ = writeln!(
            o,
            "compiles on vCPU threads: {} (vCPUs blocked {:.1} ms)",
            self.vcpus.compiled_blocks,
            ms(self.vcpus.codegen_ns)
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "execution: {} guest insns{} in {:.1} ms wall: {:.1} MIPS",
            self.executed_insns,
            if self.nvcpus > 1 { " (all vCPUs)" } else { "" },
            ms(self.wall_ns),
            self.mips()
        );
        let _ = writeln!(o, "{:<36}{:>12}{:>8}", "vCPU time", "ms", "%");
        let v = &self.vcpus;
        for (name, ns) in [
            ("first tier's loop (baseline)", v.interp_ns),
            ("code (first tier's, Cranelift's)", v.jit_ns),
            ("translation to IR", v.translate_ns),
            ("Cranelift on vCPUs", v.codegen_ns),
            ("execution loop, syscalls, rest", self.rest_ns()),
        ] {
            let _ = writeln!(
                o,
                "  {name:<34}{:>12.1}{:>8.1}",
                ms(ns),
                100.0 * ratio(ns as f64, self.wall_ns as f64)
            );
        }
        let _ = writeln!(
            o,
            "  ({} interpreted block runs, {} entries into compiled code)",
            v.interpreted_blocks, v.jit_entries
        );
        o
    }

    fn json(&self, shown: &str, threshold: u32) -> String {
        let tier = |(blocks, insns, ns): (u64, u64, u64)| {
            format!(
                "\"blocks\":{blocks},\"guest_insns\":{insns},\"time_ns\":{ns},\
                 \"us_per_block\":{},\"insns_per_s\":{}",
                num(ratio(ns as f64 / 1e3, blocks as f64)),
                num(ratio(insns as f64, ns as f64 / 1e9))
            )
        };
        let (t, v) = (&self.total, &self.vcpus);
        format!(
            "{{\"program\":{},\"jit_threshold\":{threshold},\"vcpus\":{},\
             \"tier1\":{{{},\"code_blocks\":{},\"code_bytes\":{}}},\
             \"tier2\":{{{},\"code_bytes\":{},\"host_bytes_per_insn\":{}}},\
             \"compile_queue\":{{\"queued\":{},\"dropped\":{},\"pending\":{},\"mean_wait_ns\":{},\
             \"max_wait_ns\":{},\"vcpu_compiles\":{},\"vcpu_blocked_ns\":{}}},\
             \"execution\":{{\"guest_insns\":{},\"wall_ns\":{},\"mips\":{},\
             \"interp_ns\":{},\"jit_ns\":{},\"translate_ns\":{},\"vcpu_compile_ns\":{},\
             \"rest_ns\":{},\"interpreted_blocks\":{},\"jit_entries\":{}}}}}\n",
            json_string(shown),
            self.nvcpus,
            tier(self.tier1()),
            t.first_tier_code,
            t.first_tier_code_bytes,
            tier(self.tier2()),
            t.code_bytes,
            num(ratio(t.code_bytes as f64, t.compiled_insns as f64)),
            t.queued_compiles,
            t.dropped_compiles,
            self.pending(),
            num(ratio(t.queue_wait_ns as f64, t.queued_compiles as f64)),
            t.queue_wait_max_ns,
            v.compiled_blocks,
            v.codegen_ns,
            self.executed_insns,
            self.wall_ns,
            num(self.mips()),
            v.interp_ns,
            v.jit_ns,
            v.translate_ns,
            v.codegen_ns,
            self.rest_ns(),
            v.interpreted_blocks,
            v.jit_entries,
        )
    }
}

/// A JSON number (finite, three decimals at most).
fn num(x: f64) -> String {
    if x.is_finite() {
        let s = format!("{x:.3}");
        let t = s.trim_end_matches('0').trim_end_matches('.');
        if t.is_empty() || t == "-" || t == "-0" {
            "0".to_string()
        } else {
            t.to_string()
        }
    } else {
        "0".to_string()
    }
}

/// A JSON string literal (RFC 8259 section 7).
fn json_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_and_numbers() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(f64::NAN), "0");
    }
}
