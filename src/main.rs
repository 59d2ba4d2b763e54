//! `cranemu`: a TCG-style RISC-V RV64GC to x86-64 dynamic binary translator.
//!
//! `cranemu run [-L SYSROOT] [-E VAR=VALUE]... [-U VAR]... [-0 ARGV0]
//! [-strace] [-stats] [-perfmap] [-jit-threshold N] [-d in_asm,op,out_asm,unimp] [-D LOGFILE] [PROGRAM [ARGS...]]` runs a
//! riscv64 Linux program the way `qemu-riscv64` does (QEMU-style single-dash
//! options). Without PROGRAM it runs the embedded default guest.
//!
//! `cranemu bench [--json] [--guest-output] [--progress] [-L SYSROOT]
//! [-jit-threshold N] [PROGRAM [ARGS...]]` runs a program as `run` does and
//! reports the translation throughput of each tier, the compile queue and
//! the execution speed (see [`mod@bench`]). Without PROGRAM it runs a built-in
//! workload.
//!
//! `cranemu system [-M virt] [-m SIZE] [-smp N] [-bios FILE|none|default]
//! [-kernel FILE] [-initrd FILE] [-append CMDLINE] [-nographic] [-serial DEV]
//! [-d ITEMS] [-D LOGFILE] [-stats] [-jit-threshold N]` runs a riscv64 `virt`
//! machine the way `qemu-system-riscv64` does (see [`system`]). Without
//! `-kernel` and `-bios` it boots an embedded bare-metal guest.

mod bench;
mod binfmt;
mod console;
mod netdev;
mod system;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use cranemu_linux_user::{run_program, Options, Program};
use cranemu_runtime::LogConfig;

/// Bit `n` set: descriptor `n` (0, 1 or 2) was closed when this process
/// started, before Rust's runtime opened `/dev/null` on it (std's
/// `sanitize_standard_fds`). The guest must see its descriptors as its
/// parent left them, so `run` closes those again before the guest starts.
static CLOSED_STD_FDS: AtomicU8 = AtomicU8::new(0);
/// Whether SIGPIPE was ignored when this process started (before Rust's
/// runtime ignores it): an ignored SIGPIPE survives `execve` on Linux.
static SIGPIPE_WAS_IGNORED: AtomicBool = AtomicBool::new(false);

/// Records [`CLOSED_STD_FDS`] and [`SIGPIPE_WAS_IGNORED`]. Runs from
/// `.init_array`, which the C runtime calls before `main`, and so before
/// Rust's runtime changes either.
extern "C" fn record_inherited_state() {
    let mut closed = 0u8;
    for fd in 0..3 {
        // SAFETY: F_GETFD takes no pointer and only reads the table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        {
            closed |= 1 << fd;
        }
    }
    CLOSED_STD_FDS.store(closed, Ordering::SeqCst);
    // SAFETY: a query (null new action) into a zeroed local.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0 {
            SIGPIPE_WAS_IGNORED.store(old.sa_sigaction == libc::SIG_IGN, Ordering::SeqCst);
        }
    }
}

#[used]
#[link_section = ".init_array"]
static RECORD_INHERITED_STATE: extern "C" fn() = record_inherited_state;

/// The freestanding riscv64 program run when no PROGRAM is given.
static DEFAULT_GUEST: &[u8] = include_bytes!("default_guest.elf");

#[derive(Parser)]
#[command(
    name = "cranemu",
    version,
    about = "RISC-V RV64GC on x86-64, translated with Cranelift"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a riscv64 Linux program (user-mode emulation, like qemu-riscv64).
    Run(RunArgs),
    /// Run a riscv64 Linux program as `run` does and report the speed of
    /// each translation tier, the compile queue and execution (a table, or
    /// JSON with --json). Without PROGRAM: a built-in workload.
    Bench(bench::BenchArgs),
    /// Register (or remove) cranemu as binfmt_misc's interpreter of riscv64
    /// ELF executables, so they run directly (like qemu-binfmt-conf.sh).
    Binfmt(BinfmtArgs),
    /// Run a riscv64 virt machine (full-system emulation, like qemu-system-riscv64).
    ///
    /// `cranemu system -help` lists its options (qemu-system-riscv64's
    /// spellings).
    System(SystemArgs),
}

/// `cranemu binfmt`'s arguments.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["install", "uninstall"])))]
struct BinfmtArgs {
    /// Register the entry (needs root and binfmt_misc mounted at /proc/sys/fs/binfmt_misc).
    #[arg(long)]
    install: bool,
    /// Remove the entry.
    #[arg(long)]
    uninstall: bool,
    /// The entry's name.
    #[arg(long, default_value = binfmt::DEFAULT_NAME)]
    name: String,
    /// binfmt_misc flags: P keeps the program's own first argument (its name), F opens the
    /// interpreter now (so it works inside containers and chroots).
    #[arg(long, default_value = "P")]
    flags: String,
    /// The interpreter to register (default: this cranemu binary).
    #[arg(long, value_name = "PATH")]
    interpreter: Option<PathBuf>,
}

/// `cranemu system`'s arguments, parsed by [`system::main`] (QEMU's
/// spellings, which clap cannot express).
#[derive(Args)]
#[command(disable_help_flag = true)]
struct SystemArgs {
    /// Options as for qemu-system-riscv64 (`cranemu system -help`).
    #[arg(
        value_name = "OPTIONS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<OsString>,
}

#[derive(Args)]
struct RunArgs {
    /// Look up absolute guest paths (and the ELF interpreter) under SYSROOT first.
    #[arg(short = 'L', value_name = "SYSROOT")]
    sysroot: Option<PathBuf>,
    /// Set VAR=VALUE in the guest environment (repeatable).
    #[arg(short = 'E', value_name = "VAR=VALUE")]
    env_set: Vec<OsString>,
    /// Remove VAR from the guest environment (repeatable).
    #[arg(short = 'U', value_name = "VAR")]
    env_unset: Vec<OsString>,
    /// The guest's `argv[0]` (default: PROGRAM as given).
    #[arg(short = '0', value_name = "ARGV0")]
    argv0: Option<OsString>,
    /// Log every system call to stderr (also spelled -strace).
    #[arg(long = "strace")]
    strace: bool,
    /// Print translation and execution statistics to stderr at exit (also
    /// spelled -stats): blocks translated, guest instructions translated,
    /// translation time in ns, guest instructions executed.
    #[arg(long = "stats")]
    stats: bool,
    /// Write /tmp/perf-PID.map (also spelled -perfmap): a line per
    /// compiled block, named after its guest symbol and pc, so that
    /// `perf top` and `perf report` name guest code.
    #[arg(long = "perfmap")]
    perfmap: bool,
    /// Interpreted executions of a block before Cranelift compiles it
    /// (also spelled -jit-threshold); 0 compiles every block before it
    /// first runs. Default 3000.
    #[arg(long = "jit-threshold", value_name = "N")]
    jit_threshold: Option<u32>,
    /// Translation logs, comma separated: in_asm, op, out_asm; unimp (each unimplemented syscall, once).
    #[arg(short = 'd', value_name = "ITEMS")]
    log_items: Option<String>,
    /// Write the -d logs to LOGFILE instead of stderr.
    #[arg(short = 'D', value_name = "LOGFILE")]
    log_file: Option<PathBuf>,
    /// Internal: set by a guest's execve: open LOGFILE to append, not
    /// afresh.
    #[arg(long = "log-append", hide = true)]
    log_append: bool,
    /// Internal: set by a guest's execve in a forked guest child.
    #[arg(long = "guest-child", hide = true)]
    guest_child: bool,
    /// The riscv64 ELF program (default: the embedded guest).
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

/// Rewrites QEMU's single-dash long options (`-strace`) into clap's
/// spelling, only before PROGRAM: arguments of the guest stay verbatim.
/// An option that takes a value takes the next argument, in either
/// spelling (`-jit-threshold N`, `--jit-threshold N`), so that the value
/// is not taken for PROGRAM.
fn preprocess(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    // The binary name and the subcommand.
    out.extend(it.by_ref().take(2));
    let mut verbatim = false;
    while let Some(a) = it.next() {
        if verbatim {
            out.push(a);
            continue;
        }
        match a.to_str() {
            Some("-strace") => out.push("--strace".into()),
            Some("-stats") => out.push("--stats".into()),
            Some("-perfmap") => out.push("--perfmap".into()),
            Some("-jit-threshold" | "--jit-threshold") => {
                // Attached, so that a negative value is reported as an
                // invalid value, not as an unknown option.
                let mut joined = OsString::from("--jit-threshold");
                if let Some(v) = it.next() {
                    joined.push("=");
                    joined.push(v);
                }
                out.push(joined);
            }
            Some(flag @ ("-L" | "-E" | "-U" | "-0" | "-d" | "-D")) => {
                // The value attached (`-0=-sh`), so that one beginning
                // with `-` is not taken for an option, as qemu-riscv64
                // takes `-0 -sh`.
                let mut joined = OsString::from(flag);
                if let Some(v) = it.next() {
                    joined.push("=");
                    joined.push(v);
                }
                out.push(joined);
            }
            Some("--") => {
                out.push(a);
                verbatim = true;
            }
            Some(s) if s.starts_with("-jit-threshold=") => {
                // QEMU's spelling with its value attached.
                out.push(format!("-{s}").into());
            }
            Some(s) if s.starts_with('-') => out.push(a),
            _ => {
                // PROGRAM: everything after it belongs to the guest.
                out.push("--".into());
                out.push(a);
                verbatim = true;
            }
        }
    }
    out
}

fn options(r: &RunArgs) -> Result<Options, String> {
    let mut env_set = Vec::new();
    for e in &r.env_set {
        let b = e.as_bytes();
        let Some(i) = b.iter().position(|&c| c == b'=').filter(|&i| i > 0) else {
            return Err(format!("-E {}: expected VAR=VALUE", e.to_string_lossy()));
        };
        let k = OsString::from_vec(b[..i].to_vec());
        let v = OsString::from_vec(b[i + 1..].to_vec());
        env_set.push((k, v));
    }
    let mut log = LogConfig::default();
    if let Some(items) = &r.log_items {
        for item in items.split(',').filter(|s| !s.is_empty()) {
            match item {
                "in_asm" => log.in_asm = true,
                "op" => log.op = true,
                "out_asm" => log.out_asm = true,
                // Read by linux-user from `log_items`.
                "unimp" => {}
                other => {
                    return Err(format!(
                        "-d {other}: unknown log item (known: in_asm, op, out_asm, unimp)"
                    ))
                }
            }
        }
    }
    if let Some(f) = &r.log_file {
        // Appending: the programs a guest execs (`--log-append`) log to
        // the same file while their parents may still write; each writes
        // at the end. Only the first run starts the file afresh.
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(!r.log_append)
            .custom_flags(libc::O_APPEND)
            .open(f)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        let sink: Box<dyn std::io::Write + Send> = Box::new(std::io::LineWriter::new(file));
        log.sink = Some(Arc::new(cranemu_softmmu::sync::Mutex::new(sink)));
    }
    Ok(Options {
        sysroot: r.sysroot.clone(),
        env_set,
        env_unset: r.env_unset.clone(),
        argv0: r.argv0.clone(),
        strace: r.strace,
        log_items: r.log_items.clone(),
        log_file: r.log_file.clone(),
        log,
        stats: r.stats,
        jit_threshold: r.jit_threshold,
        perfmap: r.perfmap,
        guest_child: r.guest_child,
        ..Options::default()
    })
}

fn main() {
    // Rust's runtime ignores SIGPIPE; a guest expects the disposition its
    // parent left (the default: die of it when writing to a closed pipe,
    // unless the parent ignored it), which linux-user mirrors to the host.
    let pipe = if SIGPIPE_WAS_IGNORED.load(Ordering::SeqCst) {
        libc::SIG_IGN
    } else {
        libc::SIG_DFL
    };
    // SAFETY: restoring the inherited disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, pipe) };
    let mut args: Vec<OsString> = std::env::args_os().collect();
    // Started by the kernel through our binfmt_misc entry: run the program,
    // with the sysroot from CRANEMU_LD_PREFIX.
    if let Some(inv) = binfmt::binfmt_invocation(&args) {
        let mut run: Vec<OsString> = vec![args[0].clone(), "run".into()];
        if let Some(prefix) = std::env::var_os("CRANEMU_LD_PREFIX") {
            run.extend(["-L".into(), prefix]);
        }
        if let Some(argv0) = inv.argv0 {
            run.extend(["-0".into(), argv0]);
        }
        run.push("--".into());
        run.push(inv.program.into_os_string());
        run.extend(inv.args);
        args = run;
    }
    // QEMU-style options of `run` are rewritten for clap; `system` parses
    // its own.
    let args = if args.get(1).is_some_and(|a| a == "run" || a == "bench") {
        preprocess(args)
    } else {
        args
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            // One line, as every other error of cranemu: clap's first,
            // without its tips and usage.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            cranemu_runtime::diagln!("cranemu: {first} (cranemu --help for usage)");
            std::process::exit(2);
        }
    };
    let code = match cli.command {
        Command::System(s) => system::main(&s.args),
        Command::Bench(b) => bench::main(&b),
        Command::Binfmt(b) => {
            let r = if b.install {
                binfmt::install(&b.name, b.interpreter, &b.flags)
            } else {
                binfmt::uninstall(&b.name)
            };
            match r {
                Ok(msg) => {
                    use std::io::Write as _;
                    let _ = writeln!(std::io::stdout(), "cranemu: {msg}");
                    0
                }
                Err(msg) => {
                    cranemu_runtime::diagln!("cranemu binfmt: {msg}");
                    1
                }
            }
        }
        Command::Run(r) => {
            let opts = match options(&r) {
                Ok(o) => o,
                Err(e) => {
                    cranemu_runtime::diagln!("cranemu: {e}");
                    std::process::exit(2);
                }
            };
            let (program, shown) = match &r.program {
                Some(p) => (Program::Path(p), p.display().to_string()),
                None => (
                    Program::Image {
                        name: "default_guest",
                        bytes: DEFAULT_GUEST,
                    },
                    "default_guest".into(),
                ),
            };
            cranemu_linux_user::close_at_guest_start(CLOSED_STD_FDS.load(Ordering::SeqCst));
            match run_program(&opts, program, &r.args) {
                Ok(code) => code,
                Err(e) => {
                    cranemu_runtime::diagln!("cranemu: {shown}: {e}");
                    e.exit_code()
                }
            }
        }
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> RunArgs {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        match Cli::try_parse_from(preprocess(v)).unwrap().command {
            Command::Run(r) => r,
            Command::System(_) | Command::Binfmt(_) | Command::Bench(_) => panic!("not run"),
        }
    }

    #[test]
    fn qemu_style_options_and_verbatim_args() {
        let r = parse(&[
            "cranemu", "run", "-L", "/sys", "-strace", "-E", "A=1", "prog", "-strace", "-x", "--",
            "y",
        ]);
        assert_eq!(r.sysroot, Some(PathBuf::from("/sys")));
        assert!(r.strace);
        assert_eq!(r.program, Some(PathBuf::from("prog")));
        let args: Vec<&str> = r.args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(args, ["-strace", "-x", "--", "y"]);
        let r = parse(&["cranemu", "run"]);
        assert!(r.program.is_none());
        let r = parse(&["cranemu", "run", "-0", "ls", "--", "/bin/busybox", "-l"]);
        assert_eq!(r.argv0, Some(OsString::from("ls")));
        assert_eq!(r.program, Some(PathBuf::from("/bin/busybox")));
        assert_eq!(r.args, [OsString::from("-l")]);
        // Values that begin with `-` or `=`, as a login shell's argv[0].
        let r = parse(&["cranemu", "run", "-0", "-sh", "-L", "=x", "p"]);
        assert_eq!(r.argv0, Some(OsString::from("-sh")));
        assert_eq!(r.sysroot, Some(PathBuf::from("=x")));
        assert_eq!(r.program, Some(PathBuf::from("p")));
        // What a guest's execve passes (`Options::to_args`).
        let r = parse(&["cranemu", "run", "-L=/s", "-0=--", "-D=-log", "--", "p"]);
        assert_eq!(r.argv0, Some(OsString::from("--")));
        assert_eq!(r.sysroot, Some(PathBuf::from("/s")));
        assert_eq!(r.log_file, Some(PathBuf::from("-log")));
    }

    #[test]
    fn jit_threshold_in_both_spellings_takes_its_value() {
        for spelling in ["-jit-threshold", "--jit-threshold"] {
            let r = parse(&["cranemu", "run", spelling, "100", "prog", "a"]);
            assert_eq!(r.jit_threshold, Some(100), "{spelling}");
            assert_eq!(r.program, Some(PathBuf::from("prog")), "{spelling}");
            assert_eq!(r.args, [OsString::from("a")], "{spelling}");
        }
        let r = parse(&["cranemu", "run", "--jit-threshold=7", "prog"]);
        assert_eq!(r.jit_threshold, Some(7));
        let r = parse(&["cranemu", "run", "-jit-threshold=8", "prog"]);
        assert_eq!(r.jit_threshold, Some(8));
    }

    #[test]
    fn env_option_needs_equals() {
        let r = parse(&["cranemu", "run", "-E", "NOEQ", "p"]);
        assert!(options(&r).is_err());
        // No name before the `=`.
        let r = parse(&["cranemu", "run", "-E", "=bar", "p"]);
        assert!(options(&r).is_err());
        let r = parse(&["cranemu", "run", "-E", "K=V=W", "-d", "in_asm,op", "p"]);
        let o = options(&r).unwrap();
        assert_eq!(o.env_set, [(OsString::from("K"), OsString::from("V=W"))]);
        assert!(o.log.in_asm && o.log.op && !o.log.out_asm);
    }
}
