//! Linux user-mode emulation: run riscv64 Linux programs on an x86-64 host,
//! the way `qemu-riscv64` does.
//!
//! [`run_program`] loads a riscv64 ELF ([`loader`]) into a fresh
//! [`GuestSpace`], builds the initial stack, and loops on
//! [`Engine::run`]: an `ecall` trap becomes a system call
//! ([`syscall::Process::do_syscall`]), any other trap becomes the signal
//! the kernel would raise, delivered to the guest's handler by [`signal`].
//! A fatal signal prints what a shell prints ("Segmentation fault") and the
//! exit code is 128 + the signal number (a guest's child dies of the signal
//! instead).
//!
//! # Fork safety
//! `clone` is a host `fork()` of the whole emulator: the child continues in
//! the same execution loop. The engine must therefore tolerate `fork` (no
//! other thread may hold a lock the child needs).

#![deny(missing_docs)]

pub mod abi;
pub mod loader;
pub mod signal;
mod symbols;
pub mod syscall;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cranemu_frontend::{CpuState, Exception};
use cranemu_runtime::{Engine, EngineConfig, Exit, LogConfig};
use cranemu_softmmu::user::GuestSpace;

pub use loader::LoadError;
pub use syscall::{NewThread, Process, SyscallAction};

/// Options of one emulated program (the `cranemu run` command line).
#[derive(Clone, Default)]
pub struct Options {
    /// `-L`: absolute guest paths are looked up under this host directory
    /// first (the ELF interpreter too).
    pub sysroot: Option<PathBuf>,
    /// `-E VAR=VALUE`: variables set in the guest environment.
    pub env_set: Vec<(OsString, OsString)>,
    /// `-U VAR`: variables removed from the guest environment.
    pub env_unset: Vec<OsString>,
    /// `-0 ARGV0`: the guest's `argv[0]` (default: the program path as
    /// given).
    pub argv0: Option<OsString>,
    /// `-strace`: log each syscall to stderr, QEMU style.
    pub strace: bool,
    /// `-d`: the log items as given (kept to pass on through `execve`).
    pub log_items: Option<String>,
    /// `-D`: the log file as given (kept to pass on through `execve`).
    pub log_file: Option<PathBuf>,
    /// Translation logging, built from `-d`/`-D`.
    pub log: LogConfig,
    /// Print translation and execution statistics to stderr when the
    /// program ends (`-stats`): one line starting `cranemu-stats:`, and one
    /// per vCPU starting `cranemu-stats-vcpu:` and one for the compile
    /// thread starting `cranemu-stats-compile:` if there were several.
    pub stats: bool,
    /// `-jit-threshold N`: interpreted executions of a block before it is
    /// compiled (0: compile every block at once); `None` for the engine's
    /// default.
    pub jit_threshold: Option<u32>,
    /// `-perfmap`: write `/tmp/perf-PID.map`, a line per compiled block
    /// named after its guest symbol and pc (see `symbols.rs`), so that
    /// `perf top` and `perf report` name guest code.
    pub perfmap: bool,
    /// Count retired guest instructions and time each tier of the engine
    /// ([`EngineConfig::profile`]), for [`RunHooks::finished`]
    /// (`cranemu bench`).
    pub profile: bool,
    /// Called when the engine starts and when the program ends
    /// (`cranemu bench`); not passed on through `execve`.
    pub hooks: Option<Arc<dyn RunHooks>>,
    /// `--guest-child` (hidden): this cranemu runs a process the guest
    /// created (passed on by `execve` in a forked guest child). Its fatal
    /// signals kill it for real, so the guest parent's `wait4` sees
    /// `WIFSIGNALED`, instead of printing the shell's message.
    pub guest_child: bool,
}

impl Options {
    /// The options a re-executed cranemu needs to behave the same (for the
    /// guest's `execve`): `-L`, `-strace`, `-d`, `-D` (with the hidden
    /// `--log-append`), `-jit-threshold`. Not `-E`/`-U`/`-0`:
    /// the guest's new environment and argv replace them.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        // Values attached (`-L=PATH`), so that one beginning with `-` is
        // not taken for an option.
        let attached = |flag: &str, value: &std::ffi::OsStr| {
            let mut a = OsString::from(flag);
            a.push("=");
            a.push(value);
            a
        };
        if let Some(s) = &self.sysroot {
            v.push(attached("-L", s.as_os_str()));
        }
        if self.strace {
            v.push("-strace".into());
        }
        if let Some(d) = &self.log_items {
            v.push(attached("-d", d.as_ref()));
        }
        if let Some(f) = &self.log_file {
            v.push(attached("-D", f.as_os_str()));
            // The new program logs after what was logged before it.
            v.push("--log-append".into());
        }
        if let Some(n) = self.jit_threshold {
            v.push("-jit-threshold".into());
            v.push(n.to_string().into());
        }
        if self.perfmap {
            v.push("-perfmap".into());
        }
        if self.guest_child {
            v.push("--guest-child".into());
        }
        v
    }
}

/// Observers of a run ([`Options::hooks`]), for tools that report on it.
/// Both run on a vCPU thread; in a guest's forked child too (a guest
/// `fork` is a host `fork`: compare `getpid()` to tell).
pub trait RunHooks: Send + Sync {
    /// The engine exists and the guest is about to start; `started` is
    /// when the wall clock of the run began.
    fn started(&self, engine: &Arc<Engine>, started: std::time::Instant);
    /// The guest process ended. `executed_insns` is what the first vCPU
    /// retired (counted with [`Options::profile`] or `stats`; 0 when
    /// another thread ended the process); `started` as in
    /// [`RunHooks::started`].
    fn finished(&self, engine: &Engine, executed_insns: u64, started: std::time::Instant);
}

/// The guest program to run.
#[derive(Clone, Copy, Debug)]
pub enum Program<'a> {
    /// A riscv64 ELF file (or a `#!` script) on the host.
    Path(&'a Path),
    /// An ELF image in memory (the embedded default guest), with the name
    /// used as `argv[0]` and `AT_EXECFN`.
    Image {
        /// `argv[0]`.
        name: &'a str,
        /// The ELF file's bytes.
        bytes: &'a [u8],
    },
}

/// Why a program could not be started. `Display` is the one-line reason the
/// CLI prints after `cranemu: PATH: `.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program file could not be read.
    #[error("{}", io_reason(.0))]
    Open(std::io::Error),
    /// The program path is a directory.
    #[error("Is a directory")]
    IsDirectory,
    /// The program is not a regular file (a FIFO, a device): the kernel's
    /// `execve` refuses it with `EACCES`, and reading one could block or
    /// never end (`/dev/zero`).
    #[error("Permission denied (not a regular file)")]
    NotRegularFile,
    /// The ELF image is unusable.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The ELF interpreter (`PT_INTERP`) or `#!` interpreter failed.
    #[error("interpreter {path}: {reason}")]
    Interp {
        /// The interpreter path as written in the program.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// `#!` scripts name each other as interpreters more than
    /// [`MAX_SCRIPT_DEPTH`] deep (a script that names itself): the
    /// kernel's `execve` fails with `ELOOP` (fs/exec.c `exec_binprm`).
    #[error("{}", strerror(libc::ELOOP))]
    ScriptLoop,
    /// The guest address space could not be reserved.
    #[error("{0}")]
    Space(#[from] cranemu_softmmu::user::Error),
    /// The translation engine could not start.
    #[error("{0}")]
    Engine(#[from] cranemu_runtime::Error),
}

impl Error {
    /// The exit status a shell uses for this failure: 127 for a missing
    /// file, 126 for anything that exists but cannot run.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Open(e) if e.kind() == std::io::ErrorKind::NotFound => 127,
            // A `#!` interpreter that does not exist: shells say 127.
            Error::Interp { reason, .. } if reason == &strerror(libc::ENOENT) => 127,
            _ => 126,
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An io error's message without Rust's " (os error N)" suffix.
fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => strerror(n),
        None => e.to_string(),
    }
}

/// The C library's message for errno `n` ("No such file or directory").
pub fn strerror(n: i32) -> String {
    let s = std::io::Error::from_raw_os_error(n).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The message a shell prints for a process killed by `sig` (bash's
/// wording, as `strsignal` gives it).
pub fn signal_message(sig: i32) -> String {
    let s = match sig {
        libc::SIGHUP => "Hangup",
        libc::SIGINT => "Interrupt",
        libc::SIGQUIT => "Quit",
        libc::SIGILL => "Illegal instruction",
        libc::SIGTRAP => "Trace/breakpoint trap",
        libc::SIGABRT => "Aborted",
        libc::SIGBUS => "Bus error",
        libc::SIGFPE => "Floating point exception",
        libc::SIGKILL => "Killed",
        libc::SIGUSR1 => "User defined signal 1",
        libc::SIGSEGV => "Segmentation fault",
        libc::SIGUSR2 => "User defined signal 2",
        libc::SIGPIPE => "Broken pipe",
        libc::SIGALRM => "Alarm clock",
        libc::SIGTERM => "Terminated",
        libc::SIGXCPU => "CPU time limit exceeded",
        libc::SIGXFSZ => "File size limit exceeded",
        libc::SIGSYS => "Bad system call",
        _ => return format!("Signal {sig}"),
    };
    s.to_string()
}

/// The signal Linux raises for a synchronous trap (arch/riscv/kernel/traps.c).
pub fn signal_for_trap(cause: Exception) -> i32 {
    use Exception::*;
    match cause {
        IllegalInstruction | EcallFromS | EcallFromM => libc::SIGILL,
        Breakpoint => libc::SIGTRAP,
        InstructionAddressMisaligned | LoadAddressMisaligned | StoreAddressMisaligned => {
            libc::SIGBUS
        }
        InstructionAccessFault
        | LoadAccessFault
        | StoreAccessFault
        | InstructionPageFault
        | LoadPageFault
        | StorePageFault => libc::SIGSEGV,
        EcallFromU => libc::SIGSYS,
    }
}

/// Terminates this process by `sig` with its default action (so the parent
/// sees a death by signal), after flushing stdout and stderr (and calling
/// [`RunHooks::finished`] with [`Options::hooks`]). Used for a guest
/// signalling itself. Returns only if the signal does not terminate.
pub fn terminate_by_signal(sig: i32) {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if let Some(finished) = FINISHED_AT_EXIT.get() {
        finished();
    }
    // SAFETY: restoring the default action and unblocking `sig` before
    // raising it; nothing else in this process depends on its disposition
    // any more.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
}

/// Whether `head` (the first bytes of a file) starts a 64-bit
/// little-endian x86-64 ELF: a program for the host itself.
pub(crate) fn is_host_elf(head: &[u8]) -> bool {
    head.len() >= 20
        && head.starts_with(b"\x7fELF")
        && head[4] == 2
        && head[5] == 1
        && u16::from_le_bytes([head[18], head[19]]) == 62
}

/// Whether the file at host path `p` is a host ELF ([`is_host_elf`]);
/// false if it cannot be read.
pub(crate) fn is_host_elf_file(p: &std::ffi::OsStr) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let Ok(mut f) = std::fs::File::open(p) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    is_host_elf(&head[..n])
}

/// How many `#!` interpreters deep a program may go before its start fails
/// with `ELOOP`: Linux's `exec_binprm` tries binary handlers at depths 0
/// to 5, so five nested scripts may end in a program, and a sixth fails.
pub const MAX_SCRIPT_DEPTH: u32 = 5;

/// Whether the `#!` interpreter `first` (a host path, at handler depth
/// `depth`), followed through the interpreters its own `#!` line names
/// (looked up as `opts` says), goes past [`MAX_SCRIPT_DEPTH`]:
/// what makes the kernel's `execve` fail with `ELOOP`. A file that cannot
/// be read ends the chain (its start reports why).
pub(crate) fn script_chain_too_deep(opts: &Options, first: &Path, mut depth: u32) -> bool {
    use std::io::Read;
    let mut next = first.to_path_buf();
    loop {
        if depth > MAX_SCRIPT_DEPTH {
            return true;
        }
        let mut head = [0u8; 256];
        let Ok(n) = std::fs::File::open(&next).and_then(|mut f| f.read(&mut head)) else {
            return false;
        };
        let Some((interp, _)) = parse_shebang(&head[..n]) else {
            return false;
        };
        next = sysroot_path(opts, Path::new(&OsString::from_vec(interp)));
        depth += 1;
    }
}

/// Parses a `#!` line: the interpreter and its optional single argument
/// (Linux's binfmt_script rules: whitespace separates, the rest of the line
/// is one argument). `None` if there is no interpreter.
pub fn parse_shebang(head: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let line = head.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let trim = |s: &[u8]| -> Vec<u8> {
        let s: &[u8] = match s.iter().position(|b| !b" \t".contains(b)) {
            Some(i) => &s[i..],
            None => &[],
        };
        let end = s
            .iter()
            .rposition(|b| !b" \t\r".contains(b))
            .map_or(0, |i| i + 1);
        s[..end].to_vec()
    };
    let line = trim(line);
    if line.is_empty() {
        return None;
    }
    match line.iter().position(|b| b" \t".contains(b)) {
        Some(i) => {
            let arg = trim(&line[i..]);
            Some((line[..i].to_vec(), (!arg.is_empty()).then_some(arg)))
        }
        None => Some((line, None)),
    }
}

/// The guest environment: the host's, with `-U` and then `-E` applied.
fn guest_env(opts: &Options) -> Vec<Vec<u8>> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    env.retain(|(k, _)| !opts.env_unset.contains(k));
    for (k, v) in &opts.env_set {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    env.into_iter()
        .map(|(k, v)| {
            let mut b = k.into_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            b
        })
        .collect()
}

/// Replaces this process with host program `interp` (a `#!` script's
/// interpreter that is a host ELF), `argv[0]` `argv0` and arguments
/// `args`, in the guest's environment, with descriptors 0-2 as the
/// emulator's parent left them. Returns only on failure.
fn exec_host_script(opts: &Options, interp: &Path, argv0: &Path, args: &[OsString]) -> Error {
    use std::os::unix::process::CommandExt;
    let closed = CLOSE_AT_START.swap(0, std::sync::atomic::Ordering::SeqCst);
    for fd in 0..3 {
        if closed & (1 << fd) != 0 {
            // SAFETY: one of descriptors 0-2, which only Rust's runtime
            // opened; the process is replaced next.
            unsafe { libc::close(fd) };
        }
    }
    let env = guest_env(opts);
    let mut cmd = std::process::Command::new(interp);
    cmd.arg0(argv0).args(args).env_clear();
    for e in env {
        let i = e.iter().position(|&c| c == b'=').unwrap_or(e.len());
        let v = e.get(i + 1..).unwrap_or(&[]);
        cmd.env(OsStr::from_bytes(&e[..i]), OsStr::from_bytes(v));
    }
    Error::Open(cmd.exec())
}

/// Looks `p` up in the sysroot first if it is absolute.
fn sysroot_path(opts: &Options, p: &Path) -> PathBuf {
    if let (Some(root), true) = (&opts.sysroot, p.is_absolute()) {
        let mut cand = root.as_os_str().as_bytes().to_vec();
        cand.extend_from_slice(p.as_os_str().as_bytes());
        let cand = PathBuf::from(OsString::from_vec(cand));
        if cand.exists() {
            return cand;
        }
    }
    p.to_path_buf()
}

/// Descriptors 0-2 to close just before the guest starts (bit `n`:
/// descriptor `n`); see [`close_at_guest_start`].
static CLOSE_AT_START: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Tells [`run_program`] which of descriptors 0, 1 and 2 (bit `n` for
/// descriptor `n`) were closed when the emulator started: Rust's runtime
/// opens `/dev/null` on them, and the guest must find them closed, as its
/// parent left them. They are closed right before the guest's first
/// instruction, so the emulator's own files never take those numbers.
pub fn close_at_guest_start(mask: u8) {
    CLOSE_AT_START.store(mask & 7, std::sync::atomic::Ordering::SeqCst);
}

/// Names this host process after the guest program, as Linux's `execve`
/// sets `comm` to the executed file's base name (fs/exec.c
/// `__set_task_comm`; a script's own name, not its interpreter's): what
/// `ps`, `/proc/self/comm` and `/proc/self/stat` show. Only the first call
/// counts, so the interpreter of a `#!` script does not rename it.
fn set_comm(p: &Path) {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let Some(base) = p.file_name() else { return };
    // TASK_COMM_LEN is 16, NUL included: the kernel truncates to 15.
    let mut name: Vec<u8> = base.as_bytes().iter().copied().take(15).collect();
    name.retain(|&c| c != 0);
    name.push(0);
    // SAFETY: `name` is NUL-terminated and outlives the call.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
}

/// Loads and runs a guest program to completion.
///
/// `args` are the guest's `argv[1..]`; `argv[0]` is `opts.argv0` or the
/// program path as given. Returns the guest's exit status (0-255), or
/// 128 + N if it died of signal N. Meant to be called once per host
/// process, which should end soon after: the guest's memory and the
/// translation cache are not freed (see the end of the function).
///
/// # Errors
/// An [`Error`] if the program cannot be started (missing file, bad ELF,
/// no address space). Once the guest runs, its failures are exit statuses.
pub fn run_program(opts: &Options, program: Program<'_>, args: &[OsString]) -> Result<i32> {
    let (file, exe, name): (Option<std::fs::File>, Option<PathBuf>, Vec<u8>) = match program {
        Program::Path(p) => {
            let meta = std::fs::metadata(p).map_err(Error::Open)?;
            if meta.is_dir() {
                return Err(Error::IsDirectory);
            }
            if !meta.is_file() {
                return Err(Error::NotRegularFile);
            }
            let file = std::fs::File::open(p).map_err(Error::Open)?;
            let mut first = Vec::with_capacity(256);
            std::io::Read::read_to_end(&mut std::io::Read::take(&file, 256), &mut first)
                .map_err(Error::Open)?;
            set_comm(p);
            if first.starts_with(b"#!") {
                let (interp, arg) = parse_shebang(&first).ok_or(Error::Load(LoadError::NotElf))?;
                let interp_path = PathBuf::from(OsString::from_vec(interp.clone()));
                let host_interp = sysroot_path(opts, &interp_path);
                let mut new_args: Vec<OsString> = arg.into_iter().map(OsString::from_vec).collect();
                new_args.push(p.as_os_str().to_owned());
                new_args.extend(args.iter().cloned());
                if is_host_elf_file(host_interp.as_os_str()) {
                    // The interpreter exists only on the host (/bin/sh
                    // with no sysroot copy): the host runs the script.
                    return Err(exec_host_script(
                        opts,
                        &host_interp,
                        &interp_path,
                        &new_args,
                    ));
                }
                let mut o = opts.clone();
                o.argv0 = Some(interp_path.clone().into_os_string());
                // The whole chain of interpreters, checked once here.
                if script_chain_too_deep(opts, &host_interp, 1) {
                    return Err(Error::ScriptLoop);
                }
                return run_program(&o, Program::Path(&host_interp), &new_args).map_err(|e| {
                    Error::Interp {
                        path: String::from_utf8_lossy(&interp).into_owned(),
                        reason: e.to_string(),
                    }
                });
            }
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            (Some(file), Some(abs), p.as_os_str().as_bytes().to_vec())
        }
        Program::Image { name, .. } => (None, None, name.as_bytes().to_vec()),
    };
    // A program from a file is mapped from it; an embedded one is copied.
    let image = match (&file, &program) {
        (Some(f), _) => loader::Image::File(f),
        (None, Program::Image { bytes, .. }) => loader::Image::Bytes(bytes),
        // Not reached: a path's file was opened above (an empty image
        // would be refused as "not an ELF file", never a panic).
        (None, Program::Path(_)) => loader::Image::Bytes(&[]),
    };

    let space = Arc::new(GuestSpace::new()?);
    let main = loader::load_elf(&space, image, loader::ET_DYN_BIAS)?;
    // Its segments are mapped: the guest's descriptors start at 3, as
    // under Linux, not after a copy of its own program.
    drop(file);
    let mut interp = None;
    // The interpreter's host path, for -perfmap's symbols.
    let mut interp_path = None;
    if let Some(ipath) = &main.interp {
        let host = sysroot_path(opts, Path::new(ipath));
        let ierr = |reason: String| Error::Interp {
            path: ipath.clone(),
            reason,
        };
        let ifile = std::fs::File::open(&host).map_err(|e| ierr(io_reason(&e)))?;
        let l = loader::load_elf(&space, loader::Image::File(&ifile), loader::INTERP_BIAS)
            .map_err(|e| ierr(e.to_string()))?;
        interp = Some(l);
        interp_path = Some(host);
    }
    let argv0 = opts
        .argv0
        .as_ref()
        .map_or(name.clone(), |a| a.as_bytes().to_vec());
    let mut argv = vec![argv0];
    argv.extend(args.iter().map(|a| a.as_bytes().to_vec()));
    let env = guest_env(opts);
    let sp = loader::setup_stack(&space, &main, interp.as_ref(), &argv, &env, &name)?;

    let mut cpu = CpuState {
        pc: interp.as_ref().map_or(main.entry, |i| i.entry),
        ..CpuState::default()
    };
    cpu.x[2] = sp;
    let mut log = opts.log.clone();
    if opts.perfmap {
        let perf = Arc::new(cranemu_runtime::perfmap::PerfMap::new(Box::new(
            symbols::name,
        )));
        // The loader read only the headers: the symbol tables are read
        // here, only for -perfmap (an unreadable file names nothing).
        let (main_path, main_bytes) = match program {
            Program::Path(p) => (
                p,
                std::borrow::Cow::Owned(std::fs::read(p).unwrap_or_default()),
            ),
            Program::Image { name, bytes } => (Path::new(name), std::borrow::Cow::Borrowed(bytes)),
        };
        symbols::add_image(&perf, main_path, &main_bytes, main.lo, main.brk, main.bias);
        if let (Some(i), Some(path)) = (&interp, &interp_path) {
            let bytes = std::fs::read(path).unwrap_or_default();
            symbols::add_image(&perf, path, &bytes, i.lo, i.brk, i.bias);
        }
        log.perfmap = Some(perf);
    }
    // The process sees the perf map too (its `mmap` adds symbols).
    let mut process_opts = opts.clone();
    process_opts.log = log.clone();
    let engine = Engine::new(
        space.clone(),
        EngineConfig {
            // Counting costs an add per block; rdinstret and rdcycle read
            // host time without it (as QEMU's user mode does).
            count_insns: opts.stats || opts.profile,
            profile: opts.profile,
            log,
            jit_threshold: opts
                .jit_threshold
                .unwrap_or(EngineConfig::default().jit_threshold),
            ..EngineConfig::default()
        },
    )?;
    signal::take_sent_fault_signals();
    let auxv = loader::saved_auxv(&space, sp);
    let mut process = Process::new(space, process_opts, exe, main.brk);
    process.set_auxv(auxv);
    process.set_cmdline(&argv);
    let started = std::time::Instant::now();
    let engine = Arc::new(engine);
    if opts.stats {
        let engine = engine.clone();
        let _ = STATS_AT_EXIT.set(Box::new(move || print_stats(&engine, 0, started)));
    }
    if let Some(h) = &opts.hooks {
        let (e, hook) = (engine.clone(), h.clone());
        let _ = FINISHED_AT_EXIT.set(Box::new(move || hook.finished(&e, 0, started)));
        h.started(&engine, started);
    }
    process.attach_engine(engine.clone());
    let closed = CLOSE_AT_START.swap(0, std::sync::atomic::Ordering::SeqCst);
    for fd in 0..3 {
        if closed & (1 << fd) != 0 {
            // SAFETY: one of descriptors 0-2, which only Rust's runtime
            // opened (on /dev/null); nothing of ours uses it.
            unsafe { libc::close(fd) };
        }
    }
    let code = match run_loop(&engine, &mut process, &mut cpu, opts)? {
        Ended::Process(code) => code,
        Ended::Thread(code) => {
            if !process.end_thread() {
                // The first thread left with `exit` while others run: the
                // last of them ends the process (`exit_process`). This host
                // thread runs no vCPU any more: block every signal, so the
                // host delivers process signals to a thread that does.
                // SAFETY: a full set, applied to this thread only.
                unsafe {
                    let mut all: libc::sigset_t = std::mem::zeroed();
                    libc::sigfillset(&mut all);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
                }
                loop {
                    std::thread::park();
                }
            }
            code
        }
    };
    if opts.stats {
        print_stats(&engine, cpu.icount, started);
    }
    if let Some(h) = &opts.hooks {
        h.finished(&engine, cpu.icount, started);
    }
    // The guest process has ended, and the host process ends with it: its
    // memory (the translation cache, the queued compiles, the guest's
    // mappings) is left to the host's exit, as Linux reclaims an exiting
    // process's, rather than freed block by block (that took 5% of
    // `python3 -S -c pass`). Logs and perf maps are written line by line,
    // so nothing is lost.
    std::mem::forget(process);
    std::mem::forget(engine);
    Ok(code)
}

/// How a guest thread's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// The process ends with this exit status as a shell reports it
    /// (`exit_group`, a fatal signal).
    Process(i32),
    /// This thread called `exit` with this status; the process goes on if
    /// it has other threads.
    Thread(i32),
}

/// Runs one guest thread until it or its process ends.
fn run_loop(
    engine: &Arc<Engine>,
    process: &mut Process,
    cpu: &mut CpuState,
    opts: &Options,
) -> Result<Ended> {
    signal::set_running_cpu(cpu);
    // SAFETY: `cpu` outlives the registration, which ends with this call.
    let registration = unsafe { engine.register_vcpu(cpu) };
    let r = run_guest(engine, process, cpu, opts);
    drop(registration);
    signal::set_running_cpu(std::ptr::null_mut());
    r
}

/// [`run_loop`]'s body: runs blocks, system calls and signal delivery.
fn run_guest(
    engine: &Arc<Engine>,
    process: &mut Process,
    cpu: &mut CpuState,
    opts: &Options,
) -> Result<Ended> {
    loop {
        match engine.run(cpu)? {
            Exit::Interrupted => {}
            Exit::Trap(t) if t.cause == Exception::EcallFromU => match process.do_syscall(cpu) {
                SyscallAction::Continue => cpu.pc = t.pc.wrapping_add(4),
                SyscallAction::Jump => {}
                SyscallAction::Exit(code) => {
                    // Linux walks the robust list of every exiting thread;
                    // this one's matters to other processes sharing memory.
                    process.exit_robust_list();
                    let _ = std::io::stdout().flush();
                    return Ok(Ended::Process(code));
                }
                SyscallAction::ThreadExit(code) => return Ok(Ended::Thread(code)),
                SyscallAction::NewThread(thread) => {
                    cpu.x[10] = match start_thread(engine, process, *thread, opts) {
                        Ok(tid) => u64::from(tid),
                        Err(e) => (-i64::from(e)) as u64,
                    };
                    cpu.pc = t.pc.wrapping_add(4);
                }
            },
            Exit::Trap(t) => {
                let sig = process.trap_signal(t.cause, t.tval);
                if opts.strace {
                    cranemu_runtime::diagln!(
                        "--- {} at pc {:#x}, tval {:#x} ---",
                        signal_message(sig),
                        t.pc,
                        t.tval
                    );
                }
                cpu.pc = t.pc;
                if let Some(code) = process.deliver_trap(cpu, sig, t.cause, t.tval) {
                    let _ = std::io::stdout().flush();
                    return Ok(Ended::Process(code));
                }
                continue;
            }
        }
        if let Some(code) = process.deliver_pending(cpu) {
            let _ = std::io::stdout().flush();
            return Ok(Ended::Process(code));
        }
    }
}

/// Ends the whole process from a guest thread other than the first (whose
/// return from [`run_program`] ends it otherwise): the other threads die
/// with it, as with Linux's `exit_group`.
fn exit_process(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    if let Some(print) = STATS_AT_EXIT.get() {
        print();
    }
    if let Some(finished) = FINISHED_AT_EXIT.get() {
        finished();
    }
    std::process::exit(code)
}

/// With `-stats`, prints the statistics when a thread other than the first
/// ends the process.
static STATS_AT_EXIT: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>> = std::sync::OnceLock::new();

/// With [`Options::hooks`], calls [`RunHooks::finished`] when a thread
/// other than the first ends the process, or when the process dies of a
/// signal ([`terminate_by_signal`]).
static FINISHED_AT_EXIT: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>> =
    std::sync::OnceLock::new();

/// Prints `-stats`: one line of totals starting `cranemu-stats:`, then,
/// with several vCPUs, one line per vCPU starting `cranemu-stats-vcpu:`
/// and the compile thread's starting `cranemu-stats-compile:` (the lines
/// add up to the totals). `executed_insns` is the first vCPU's count (0 if unknown).
fn print_stats(engine: &Engine, executed_insns: u64, started: std::time::Instant) {
    let line = |s: &cranemu_runtime::Stats| {
        s.fields()
            .iter()
            .map(|&(name, v)| {
                let name = if name == "guest_insns" {
                    "translated_insns"
                } else {
                    name
                };
                format!("{name}={v}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = format!(
        "cranemu-stats: {} executed_insns={executed_insns} wall_ns={}\n",
        line(&engine.stats()),
        started.elapsed().as_nanos()
    );
    let vcpus = engine.vcpu_stats();
    if vcpus.len() > 1 {
        for v in &vcpus {
            out.push_str(&format!(
                "cranemu-stats-vcpu: tid={} {}\n",
                v.tid,
                line(&v.stats)
            ));
        }
        out.push_str(&format!(
            "cranemu-stats-compile: {}\n",
            line(&engine.compile_stats())
        ));
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

/// Starts the guest thread `thread` (from `clone` with `CLONE_THREAD`) on a
/// new host thread, its vCPU, sharing `engine`. Returns its thread id
/// (the host's: guest thread ids are host thread ids), once the thread has
/// stored it where `CLONE_PARENT_SETTID`/`CLONE_CHILD_SETTID` asked, before
/// it runs guest code.
///
/// # Errors
/// `EAGAIN` if the host cannot create a thread.
fn start_thread(
    engine: &Arc<Engine>,
    parent: &mut Process,
    thread: NewThread,
    opts: &Options,
) -> std::result::Result<u32, i32> {
    let NewThread {
        mut cpu,
        mut process,
        parent_tid,
        child_tid,
    } = thread;
    let (engine, opts) = (engine.clone(), opts.clone());
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("cranemu-vcpu".into())
        // Translation and Cranelift run on the vCPU thread.
        .stack_size(16 << 20)
        .spawn(move || {
            process.thread_started();
            // SAFETY: gettid cannot fail.
            let tid = unsafe { libc::gettid() } as u32;
            for a in [parent_tid, child_tid].into_iter().flatten() {
                let _ = process.space().write_u32(a, tid);
            }
            let _ = tx.send(tid);
            let ended = run_loop(&engine, &mut process, &mut cpu, &opts);
            match ended {
                Ok(Ended::Thread(code)) => {
                    if process.end_thread() {
                        exit_process(code);
                    }
                }
                Ok(Ended::Process(code)) => exit_process(code),
                Err(e) => {
                    cranemu_runtime::diagln!("cranemu: {e}");
                    exit_process(e.exit_code());
                }
            }
        });
    match spawned {
        Ok(_) => rx.recv().map_err(|_| libc::EAGAIN),
        Err(_) => {
            parent.thread_not_started();
            Err(libc::EAGAIN)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_parsing() {
        assert_eq!(
            parse_shebang(b"#!/bin/sh\necho"),
            Some((b"/bin/sh".to_vec(), None))
        );
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env  python3 -u \n"),
            Some((b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec())))
        );
        assert_eq!(parse_shebang(b"#!\n"), None);
        assert_eq!(parse_shebang(b"ELF"), None);
    }

    #[test]
    fn messages() {
        assert_eq!(signal_message(11), "Segmentation fault");
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(signal_for_trap(Exception::LoadPageFault), libc::SIGSEGV);
        assert_eq!(
            signal_for_trap(Exception::StoreAddressMisaligned),
            libc::SIGBUS
        );
    }

    #[test]
    fn start_errors() {
        let o = Options::default();
        let e = run_program(&o, Program::Path(Path::new("/nonexistent/prog")), &[]).unwrap_err();
        assert_eq!(e.to_string(), "No such file or directory");
        assert_eq!(e.exit_code(), 127);
        let e = run_program(&o, Program::Path(Path::new("/")), &[]).unwrap_err();
        assert_eq!(e.to_string(), "Is a directory");
        assert_eq!(e.exit_code(), 126);
        let e = run_program(
            &o,
            Program::Image {
                name: "x",
                bytes: b"junk",
            },
            &[],
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "not an ELF file");
    }

    #[test]
    fn env_edits() {
        let o = Options {
            env_set: vec![("CRANEMU_T".into(), "1".into())],
            env_unset: vec!["PATH".into()],
            ..Options::default()
        };
        let env = guest_env(&o);
        assert!(env.iter().any(|e| e == b"CRANEMU_T=1"));
        assert!(!env.iter().any(|e| e.starts_with(b"PATH=")));
    }
}
