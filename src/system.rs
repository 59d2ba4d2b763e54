//! `cranemu system`: full-system emulation of a riscv64 `virt` machine,
//! with `qemu-system-riscv64`'s option spellings.
//!
//! ```text
//! cranemu system [-M virt] [-m SIZE] [-smp N] [-bios FILE|none|default]
//!                [-kernel FILE] [-initrd FILE] [-append CMDLINE]
//!                [-nographic] [-serial stdio|mon:stdio|null|none|file:PATH]
//!                [-d ITEMS] [-D LOGFILE] [-stats] [-perfmap] [-jit-threshold N]
//!                [-drive file=IMG,format=raw,if=virtio[,readonly=on]
//!                        [,cache=none|writeback][,aio=threads|io_uring]]
//!                [-device virtio-rng-device] [-device virtio-blk-device,drive=ID]
//!                [-chardev socket,id=ID,path=PATH,server=on,wait=off]
//!                [-device virtio-serial-device] [-device virtconsole,chardev=ID]
//!                [-device vhost-vsock-device,guest-cid=N,uds=PATH]
//!                [-netdev user,id=ID[,hostfwd=tcp:[ADDR]:PORT-[ADDR]:PORT]...]
//!                [-netdev stream,id=ID,server=on|off,addr.type=unix,addr.path=PATH]
//!                [-device virtio-net-device,netdev=ID[,mac=MAC]]
//! ```
//!
//! Without `-kernel` and `-bios` it boots an embedded bare-metal guest
//! (`tests/guest/baremetal/default.S`, run as with `-bios none`) that
//! greets on the UART and powers off. There is no display: the serial
//! port is on standard input and output unless `-serial` says otherwise,
//! and the console takes QEMU's Ctrl-A escapes (see [`crate::console`]).
//!
//! Every error is one line on standard error, `cranemu: ...`, and exit
//! status 1. Otherwise the status is the guest's (its poweroff code; 0
//! for a reset request or Ctrl-A x).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use cranemu_hw::boot::BootFile;
use cranemu_hw::virt::{check_ram_size, SerialOut, VirtConfig, VirtMachine, VirtioSpec, MAX_HARTS};
use cranemu_hw::virtio::block::{AioMode, BlockConfig, CacheMode};
use cranemu_runtime::perfmap::PerfMap;
use cranemu_runtime::system::{MachineExit, SystemConfig, SystemEngine};
use cranemu_runtime::{EngineConfig, LogConfig};

use crate::console;

/// The bare-metal guest booted when neither `-kernel` nor `-bios` is given
/// (built by `tests/guest/baremetal/Makefile`).
static DEFAULT_SYSTEM_GUEST: &[u8] = include_bytes!("default_system_guest.elf");

/// Where `-bios default` looks for OpenSBI's `fw_dynamic.bin` after the
/// environment (`CRANEMU_BIOS`, `CRANEMU_FIRMWARE_DIR`): Debian's
/// `opensbi` package, then the copy QEMU ships.
const FIRMWARE_PATHS: &[&str] = &[
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
    "/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin",
];

/// RAM when `-m` is not given: QEMU's default for `virt`, 128 MiB.
const DEFAULT_RAM: u64 = 128 << 20;

/// The help of `cranemu system -help`.
const HELP: &str = "\
Usage: cranemu system [OPTIONS]

Runs a riscv64 virt machine (full-system emulation, like qemu-system-riscv64).
Without -kernel and -bios it boots an embedded bare-metal guest that greets
on the serial port and powers off.

Machine:
  -M, -machine virt        the machine (only virt, the default)
  -m SIZE                  RAM: MiB, or with a K, M, G or T suffix (default 128M)
  -smp N, -smp cpus=N      number of harts (default 1)
Boot:
  -bios FILE|none|default  firmware; default: OpenSBI fw_dynamic.bin, found at
                           $CRANEMU_BIOS, $CRANEMU_FIRMWARE_DIR/fw_dynamic.bin,
                           /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
                           or /usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin;
                           none: enter the kernel directly in M mode
  -kernel FILE             riscv64 Linux Image or ELF
  -initrd FILE             initial RAM disk (needs -kernel)
  -append CMDLINE          kernel command line (needs -kernel)
Devices (virtio-mmio, in the order given, from 0x10001000 and PLIC source 1):
  -drive file=IMG,format=raw,if=virtio[,readonly=on][,cache=none|writeback]
         [,aio=threads|io_uring]
                           a virtio-blk disk on a raw image; I/O on a thread
                           pool, or io_uring (falls back to the pool where the
                           host refuses it)
  -drive file=IMG,format=raw,if=none,id=ID with -device virtio-blk-device,drive=ID
                           the same, spelled as a separate device
  -device virtio-rng-device
                           a virtio entropy source fed by the host's getrandom
  -device virtio-serial-device
                           a virtio console (Linux's hvc0), connected to nothing
                           unless a virtconsole names a chardev:
  -chardev socket,id=ID,path=PATH,server=on,wait=off
  -device virtconsole,chardev=ID
                           the console on a Unix socket server at PATH (one
                           client at a time; output without one is dropped)
  -device vhost-vsock-device,guest-cid=N,uds=PATH
                           virtio-vsock for guest CID N (3 and up) with its host
                           end on Unix sockets: a host program connects to PATH
                           and writes \"CONNECT PORT\\n\" to reach the guest's
                           listener on PORT (reply \"OK HOSTPORT\\n\"); guest
                           connections to CID 2 port P go to PATH_P
  -netdev user,id=ID[,hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
          [,restrict=on|off]
                           user networking (libslirp): 10.0.2.0/24, DHCP from
                           10.0.2.15, host 10.0.2.2; hostfwd forwards a host
                           TCP port to the guest; restrict=on (the default)
                           keeps the guest from every address outside, no
                           name resolves; restrict=off: QEMU's user network
  -netdev stream,id=ID,server=on|off,addr.type=unix,addr.path=PATH
                           frames on a Unix socket (listen or connect), to
                           another emulator's -netdev stream
  -device virtio-net-device,netdev=ID[,mac=XX:XX:XX:XX:XX:XX]
                           a virtio NIC on that netdev (default MAC
                           52:54:00:12:34:56, then :57, ...)
Console (there is no display: the serial port is on stdio by default):
  -nographic               serial port on stdio, Ctrl-C goes to the guest
  -serial DEV              stdio (Ctrl-C stops cranemu), mon:stdio, null, none,
                           or file:PATH
  On a stdio console Ctrl-A x quits, Ctrl-A h lists the escapes.
Debugging:
  -d ITEMS                 logs, comma separated: in_asm, op, out_asm, int, mmu
  -D LOGFILE               write the -d logs to LOGFILE instead of stderr
  -stats                   print translation statistics to stderr at exit
  -perfmap                 write /tmp/perf-PID.map, a line per compiled block
                           (named guest:0xPC), for perf top and perf report
  -jit-threshold N         interpreted runs of a block before it is compiled
                           (default 500; 0 compiles every block first, on the hart)
  -h, -help                print this help
  -version                 print the version
";

/// The `-d` items and what they log (`-d help`).
const LOG_ITEMS: &str = "\
Log items (comma separated):
in_asm   guest instructions of each translated block
op       IR of each translated block
out_asm  host code of each translated block
int      every trap and interrupt taken
mmu      page-table walks that fault, and TLB flushes
";

/// `-bios`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bios {
    /// OpenSBI from the search path.
    Default,
    /// No firmware.
    None,
    /// This file.
    File(PathBuf),
}

/// Where UART0's output goes, and whether it reads standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Serial {
    /// Standard input and output; `signals`: Ctrl-C signals the emulator
    /// (`-serial stdio`) rather than reaching the guest.
    Stdio { signals: bool },
    /// Output dropped, no input.
    Null,
    /// Output written to a file (truncated), no input.
    File(PathBuf),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Opts {
    ram_size: u64,
    harts: u32,
    bios: Option<Bios>,
    kernel: Option<PathBuf>,
    initrd: Option<PathBuf>,
    append: Option<String>,
    serial: Option<Serial>,
    in_asm: bool,
    op: bool,
    out_asm: bool,
    log_int: bool,
    log_mmu: bool,
    log_file: Option<PathBuf>,
    stats: bool,
    perfmap: bool,
    jit_threshold: Option<u32>,
    virtio: Vec<VirtioSpec>,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            ram_size: DEFAULT_RAM,
            harts: 1,
            bios: None,
            kernel: None,
            initrd: None,
            append: None,
            serial: None,
            in_asm: false,
            op: false,
            out_asm: false,
            log_int: false,
            log_mmu: false,
            log_file: None,
            stats: false,
            perfmap: false,
            jit_threshold: None,
            virtio: Vec::new(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// Run a machine.
    Run(Box<Opts>),
    /// Print this text to standard output and exit 0 (`-help`, `-d help`,
    /// `-M help`).
    Print(&'static str),
}

/// `cranemu system ARGS...`: runs the machine; returns the exit status.
pub fn main(args: &[OsString]) -> i32 {
    let opts = match parse(args) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Print(text)) => {
            // Not `print!`, which panics when standard output is full or
            // closed (`-help > /dev/full`); clap's own help ignores that too.
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(text.as_bytes());
            return 0;
        }
        Err(e) => {
            cranemu_runtime::diagln!("cranemu: {}", one_line(&e));
            return 1;
        }
    };
    match run(&opts) {
        Ok(code) => code,
        Err(e) => {
            console::restore_terminal();
            cranemu_runtime::diagln!("cranemu: {}", one_line(&e));
            1
        }
    }
}

/// `message` on one line (errors of other crates are meant to be, this
/// makes sure).
fn one_line(message: &str) -> String {
    message.trim_end().replace('\n', "; ")
}

/// Builds the machine of `opts`, runs it, and returns the exit status.
fn run(opts: &Opts) -> Result<i32, String> {
    let cfg = machine_config(opts)?;
    let serial = opts
        .serial
        .clone()
        .unwrap_or(Serial::Stdio { signals: false });
    let machine = VirtMachine::new(&cfg, serial_out(&serial)?).map_err(|e| e.to_string())?;
    let sys = system_config(opts)?;
    let mut engine = SystemEngine::new(machine, sys).map_err(|e| e.to_string())?;

    let started = Instant::now();
    let _raw = match serial {
        Serial::Stdio { signals } => {
            let raw = console::RawMode::enable(signals);
            console::spawn_input(engine.machine().uart().clone(), engine.quit_handle());
            raw
        }
        Serial::Null | Serial::File(_) => None,
    };
    let exit = engine.run();
    drop(_raw);
    let _ = std::io::stdout().flush();
    if opts.stats {
        print_stats(&engine, started);
    }
    match exit.map_err(|e| e.to_string())? {
        MachineExit::PowerOff { code } => Ok(code),
        MachineExit::Reset => {
            cranemu_runtime::diagln!("cranemu: guest requested a reset; exiting");
            Ok(0)
        }
        MachineExit::Quit => Ok(0),
    }
}

/// The `-stats` line: `cranemu-stats: name=value ... wall_ns=N`.
fn print_stats(engine: &SystemEngine, started: Instant) {
    let stats = engine.stats();
    let mut fields: Vec<String> = stats
        .fields()
        .iter()
        .map(|&(name, v)| {
            let name = if name == "guest_insns" {
                "translated_insns"
            } else {
                name
            };
            format!("{name}={v}")
        })
        .collect();
    // The softmmu TLB hit rate of translated code's loads and stores: the
    // accesses that did not take the slow path.
    if stats.mem_accesses > 0 {
        let slow = stats.slow_loads + stats.slow_stores + stats.slow_atomics;
        let hits = stats.mem_accesses.saturating_sub(slow);
        fields.push(format!(
            "tlb_hit_pct={:.3}",
            100.0 * hits as f64 / stats.mem_accesses as f64
        ));
    }
    cranemu_runtime::diagln!(
        "cranemu-stats: {} wall_ns={}",
        fields.join(" "),
        started.elapsed().as_nanos()
    );
    // Per hart, the counts that differ between harts in an SMP guest.
    let harts = engine.hart_stats();
    if harts.len() > 1 {
        for (h, s) in harts.iter().enumerate() {
            cranemu_runtime::diagln!(
                "cranemu-stats: hart={h} ipis_sent={} ipis_received={} wfi_sleeps={} \
                 tlb_flushes={} remote_tlb_protects={} interrupts={} exceptions={} \
                 jc_hits={} map_hits={} misses={} blocks={} interpreted_blocks={}",
                s.ipis_sent,
                s.ipis_received,
                s.wfi_sleeps,
                s.tlb_flushes,
                s.remote_tlb_protects,
                s.interrupts,
                s.exceptions,
                s.jc_hits,
                s.map_hits,
                s.misses,
                s.blocks,
                s.interpreted_blocks
            );
        }
    }
}

/// The option's value, or the one-line error for its absence.
fn value<'a>(it: &mut impl Iterator<Item = &'a OsString>, opt: &str) -> Result<&'a OsStr, String> {
    it.next()
        .map(OsString::as_os_str)
        .ok_or_else(|| format!("{opt}: requires an argument"))
}

/// A value that must be text (not a path).
fn text<'a>(v: &'a OsStr, opt: &str) -> Result<&'a str, String> {
    v.to_str()
        .ok_or_else(|| format!("{opt} {}: not valid UTF-8", v.to_string_lossy()))
}

/// Parses the arguments after `system`.
fn parse(args: &[OsString]) -> Result<Parsed, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    let mut serials = 0;
    // `-drive if=none,id=ID` waiting for a `-device ...,drive=ID`.
    let mut loose_drives: Vec<(String, BlockConfig)> = Vec::new();
    // `-chardev socket,id=ID,path=PATH`.
    let mut chardevs: Vec<(String, PathBuf)> = Vec::new();
    let mut netdevs = crate::netdev::Netdevs::default();
    while let Some(arg) = it.next() {
        let Some(a) = arg.to_str().filter(|a| a.starts_with('-') && a.len() > 1) else {
            return Err(format!(
                "{}: disk images are not supported yet (boot with -kernel)",
                arg.to_string_lossy()
            ));
        };
        // QEMU accepts every option with two dashes too.
        let opt = if a.starts_with("--") { &a[1..] } else { a };
        match opt {
            "-h" | "-help" => return Ok(Parsed::Print(HELP)),
            "-version" => {
                return Ok(Parsed::Print(concat!(
                    "cranemu ",
                    env!("CARGO_PKG_VERSION"),
                    "\n"
                )))
            }
            "-M" | "-machine" => {
                if parse_machine(text(value(&mut it, opt)?, opt)?, opt)? {
                    return Ok(Parsed::Print(
                        "Supported machines are:\nvirt  RISC-V VirtIO board\n",
                    ));
                }
            }
            "-m" => o.ram_size = parse_ram(text(value(&mut it, opt)?, opt)?)?,
            "-smp" => o.harts = parse_smp(text(value(&mut it, opt)?, opt)?)?,
            "-bios" => {
                o.bios = Some(match value(&mut it, opt)? {
                    v if v == "none" => Bios::None,
                    v if v == "default" => Bios::Default,
                    v => Bios::File(v.into()),
                })
            }
            "-kernel" => o.kernel = Some(value(&mut it, opt)?.into()),
            "-initrd" => o.initrd = Some(value(&mut it, opt)?.into()),
            "-append" => o.append = Some(text(value(&mut it, opt)?, opt)?.to_string()),
            "-nographic" => {
                if serials == 0 {
                    o.serial = Some(Serial::Stdio { signals: false });
                }
            }
            "-serial" => {
                let v = value(&mut it, opt)?;
                serials += 1;
                if serials > 1 {
                    return Err(format!(
                        "-serial {}: only one serial port (UART0) is supported",
                        v.to_string_lossy()
                    ));
                }
                // Overrides -nographic's stdio, before or after it.
                o.serial = Some(parse_serial(v)?);
            }
            "-d" => {
                if parse_log_items(&mut o, text(value(&mut it, opt)?, opt)?)? {
                    return Ok(Parsed::Print(LOG_ITEMS));
                }
            }
            "-D" => o.log_file = Some(value(&mut it, opt)?.into()),
            "-drive" => {
                let v = text(value(&mut it, opt)?, opt)?;
                match parse_drive(v)? {
                    (Some(id), cfg) => loose_drives.push((id, cfg)),
                    (None, cfg) => o.virtio.push(VirtioSpec::Block(cfg)),
                }
            }
            "-netdev" => netdevs.add(text(value(&mut it, opt)?, opt)?)?,
            "-chardev" => {
                let v = text(value(&mut it, opt)?, opt)?;
                chardevs.push(parse_chardev(v)?);
            }
            "-device" => {
                let v = text(value(&mut it, opt)?, opt)?;
                if let Some(rest) = v.strip_prefix("virtconsole") {
                    attach_virtconsole(v, rest, &chardevs, &mut o.virtio)?;
                } else if split_props(v)[0] == "virtio-net-device" {
                    o.virtio.push(netdevs.device(v)?);
                } else {
                    o.virtio.push(parse_device(v, &mut loose_drives)?);
                }
            }
            "-stats" => o.stats = true,
            "-perfmap" => o.perfmap = true,
            "-jit-threshold" => {
                let v = text(value(&mut it, opt)?, opt)?;
                o.jit_threshold = Some(v.parse().map_err(|_| {
                    format!("-jit-threshold {v}: expected a number of executions (0 to 4294967295)")
                })?);
            }
            // Harmless QEMU spellings: there is no display, and a reset
            // request already ends the emulator.
            "-no-reboot" => {}
            "-display" => {
                let v = text(value(&mut it, opt)?, opt)?;
                if v != "none" {
                    return Err(format!(
                        "-display {v}: there is no display (only -display none)"
                    ));
                }
            }
            "-s" | "-S" | "-gdb" => {
                return Err(format!("{a}: the GDB stub is not supported yet"));
            }
            _ => return Err(format!("{a}: invalid option")),
        }
    }
    if let Some((id, _)) = loose_drives.first() {
        return Err(format!(
            "-drive id={id},if=none: no -device virtio-blk-device,drive={id} uses it"
        ));
    }
    netdevs.finish()?;
    if o.virtio.len() > 8 {
        return Err(format!(
            "{} virtio devices: the virt machine has 8 virtio-mmio slots",
            o.virtio.len()
        ));
    }
    if o.kernel.is_none() {
        if o.initrd.is_some() {
            return Err("-initrd only allowed with -kernel option".into());
        }
        if o.append.is_some() {
            return Err("-append only allowed with -kernel option".into());
        }
    }
    Ok(Parsed::Run(Box::new(o)))
}

/// Splits a QEMU option list at commas; `,,` is a literal comma.
pub(crate) fn split_props(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' && chars.peek() != Some(&',') {
            out.push(std::mem::take(&mut cur));
            continue;
        }
        if c == ',' {
            chars.next();
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// `on`/`off` (and QEMU's other spellings of a boolean).
pub(crate) fn parse_bool(v: &str, what: &str) -> Result<bool, String> {
    match v {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("{what}: expected on or off")),
    }
}

/// `-drive ...`: the drive, and its `id` when it is `if=none` (it waits
/// for a `-device virtio-blk-device,drive=ID`).
fn parse_drive(v: &str) -> Result<(Option<String>, BlockConfig), String> {
    let e = |m: &str| format!("-drive {v}: {m}");
    let mut file = None;
    let mut cfg = BlockConfig::new("");
    let mut iface = None;
    let mut id = None;
    for prop in split_props(v) {
        let Some((k, val)) = prop.split_once('=') else {
            return Err(e(&format!("{prop}: expected KEY=VALUE")));
        };
        match k {
            "file" => file = Some(val.to_string()),
            "format" if val == "raw" => {}
            "format" => return Err(e(&format!("format={val}: only raw images are supported"))),
            "if" if val == "virtio" || val == "none" => iface = Some(val.to_string()),
            "if" => {
                return Err(e(&format!(
                "if={val}: only if=virtio (or if=none with -device virtio-blk-device) is supported"
            )))
            }
            "readonly" => cfg.readonly = parse_bool(val, &e("readonly"))?,
            "cache" => {
                cfg.cache = match val {
                    "none" => CacheMode::None,
                    "writeback" => CacheMode::Writeback,
                    _ => return Err(e(&format!("cache={val}: expected none or writeback"))),
                }
            }
            "aio" => {
                cfg.aio = match val {
                    "threads" => AioMode::Threads,
                    "io_uring" => AioMode::IoUring,
                    _ => return Err(e(&format!("aio={val}: expected threads or io_uring"))),
                }
            }
            "id" => id = Some(val.to_string()),
            "media" if val == "disk" => {}
            _ => return Err(e(&format!("{prop}: unsupported property"))),
        }
    }
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return Err(e("needs file=IMG"));
    };
    cfg.path = PathBuf::from(file);
    match iface.as_deref() {
        Some("none") => match id {
            Some(id) => Ok((Some(id), cfg)),
            None => Err(e("if=none needs id=ID")),
        },
        Some(_) => Ok((None, cfg)),
        None => Err(e(
            "needs if=virtio (the virt machine has no other disk interface)",
        )),
    }
}

/// `-chardev socket,id=ID,path=PATH,server=on,wait=off`: (id, path).
fn parse_chardev(v: &str) -> Result<(String, PathBuf), String> {
    let e = |m: &str| format!("-chardev {v}: {m}");
    let props = split_props(v);
    if props[0] != "socket" {
        return Err(e("only socket chardevs are supported"));
    }
    let (mut id, mut path) = (None, None);
    for prop in &props[1..] {
        match prop.split_once('=') {
            Some(("id", i)) => id = Some(i.to_string()),
            Some(("path", p)) => path = Some(PathBuf::from(p)),
            Some(("server", b)) if parse_bool(b, &e("server"))? => {}
            Some(("wait", b)) if !parse_bool(b, &e("wait"))? => {}
            Some(("server" | "wait", _)) => {
                return Err(e("only server=on,wait=off is supported"));
            }
            _ => return Err(e(&format!("{prop}: unsupported property"))),
        }
    }
    match (id, path) {
        (Some(id), Some(path)) => Ok((id, path)),
        _ => Err(e("needs id=ID and path=PATH")),
    }
}

/// `-device virtconsole,chardev=ID` (`rest` is what follows the name):
/// puts the socket on the last `virtio-serial-device`.
fn attach_virtconsole(
    v: &str,
    rest: &str,
    chardevs: &[(String, PathBuf)],
    virtio: &mut [VirtioSpec],
) -> Result<(), String> {
    let e = |m: &str| format!("-device {v}: {m}");
    let mut chardev = None;
    for prop in split_props(rest).iter().filter(|p| !p.is_empty()) {
        match prop.split_once('=') {
            Some(("chardev", c)) => chardev = Some(c.to_string()),
            Some(("id" | "name", _)) => {}
            _ => return Err(e(&format!("{prop}: unsupported property"))),
        }
    }
    let Some(c) = chardev else {
        return Err(e("needs chardev=ID"));
    };
    let Some((_, path)) = chardevs.iter().find(|(id, _)| *id == c) else {
        return Err(e(&format!("no -chardev with id={c} before it")));
    };
    match virtio
        .iter_mut()
        .rev()
        .find(|d| matches!(d, VirtioSpec::Console { .. }))
    {
        Some(VirtioSpec::Console { socket }) if socket.is_none() => {
            *socket = Some(path.clone());
            Ok(())
        }
        Some(_) => Err(e("the virtio-serial-device already has its console")),
        None => Err(e("needs a -device virtio-serial-device before it")),
    }
}

/// `-device ...`: a virtio device (`drives`: the `-drive if=none` given
/// so far; the one named is taken).
fn parse_device(v: &str, drives: &mut Vec<(String, BlockConfig)>) -> Result<VirtioSpec, String> {
    let props = split_props(v);
    if matches!(props[0].as_str(), "vhost-vsock-device" | "vhost-vsock") {
        return parse_vsock(v, &props[1..]);
    }
    let e = |m: &str| format!("-device {v}: {m}");
    let mut drive = None;
    for prop in &props[1..] {
        match prop.split_once('=') {
            Some(("id", _)) => {}
            Some(("drive", d)) if props[0] == "virtio-blk-device" => drive = Some(d.to_string()),
            _ => return Err(e(&format!("{prop}: unsupported property"))),
        }
    }
    match props[0].as_str() {
        "virtio-rng-device" => Ok(VirtioSpec::Rng),
        "virtio-serial-device" => Ok(VirtioSpec::Console { socket: None }),
        "virtio-blk-device" => {
            let Some(d) = drive else {
                return Err(e("needs drive=ID"));
            };
            let Some(i) = drives.iter().position(|(id, _)| *id == d) else {
                return Err(e(&format!("no -drive if=none,id={d} before it")));
            };
            Ok(VirtioSpec::Block(drives.remove(i).1))
        }
        other => Err(e(&format!(
            "{other}: unsupported device (virtio-rng-device, virtio-blk-device, virtio-serial-device, virtconsole, virtio-net-device, vhost-vsock-device)"
        ))),
    }
}

/// `-device vhost-vsock-device,guest-cid=N,uds=PATH[,id=ID]` (`props`:
/// the properties after the name).
fn parse_vsock(v: &str, props: &[String]) -> Result<VirtioSpec, String> {
    let e = |m: &str| format!("-device {v}: {m}");
    let (mut cid, mut uds) = (None, None);
    for prop in props {
        match prop.split_once('=') {
            Some(("id", _)) => {}
            Some(("guest-cid", n)) => match n.parse::<u64>() {
                Ok(n) if (3..u64::from(u32::MAX)).contains(&n) => cid = Some(n),
                _ => return Err(e(&format!("guest-cid={n}: expected 3 to 4294967294"))),
            },
            Some(("uds", p)) if !p.is_empty() => uds = Some(PathBuf::from(p)),
            _ => return Err(e(&format!("{prop}: unsupported property"))),
        }
    }
    match (cid, uds) {
        (Some(guest_cid), Some(uds)) => Ok(VirtioSpec::Vsock { guest_cid, uds }),
        _ => Err(e("needs guest-cid=N and uds=PATH")),
    }
}

/// `-M virt[,PROP=VALUE...]` or `-M type=virt`: only the machine type
/// `virt`, and no properties. Returns true for `-M help`.
fn parse_machine(v: &str, opt: &str) -> Result<bool, String> {
    let mut parts = v.split(',');
    let first = parts.next().unwrap_or("");
    let name = first.strip_prefix("type=").unwrap_or(first);
    match name {
        "help" | "?" => return Ok(true),
        "virt" => {}
        _ => return Err(format!("unknown machine '{name}' (only 'virt')")),
    }
    if let Some(prop) = parts.find(|p| !p.is_empty()) {
        return Err(format!(
            "{opt} {v}: machine property '{}' is not supported",
            prop.split('=').next().unwrap_or(prop)
        ));
    }
    Ok(false)
}

/// `-m SIZE`, `-m size=SIZE`: QEMU's sizes (a plain number is MiB; suffix
/// B, K, M, G, T, P or E, either case; a fraction with a suffix other
/// than B), rounded up to 8 KiB as QEMU does, then checked against the
/// machine's limits.
fn parse_ram(v: &str) -> Result<u64, String> {
    let s = v.split(',').next().unwrap_or("");
    let s = s.strip_prefix("size=").unwrap_or(s);
    let bad =
        || format!("-m {v}: expected a size in MiB, or with a suffix K, M, G or T (e.g. 256M, 4G)");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let shift = match suffix {
        "" | "M" | "m" => 20,
        "B" | "b" => 0,
        "K" | "k" => 10,
        "G" | "g" => 30,
        "T" | "t" => 40,
        "P" | "p" => 50,
        "E" | "e" => 60,
        _ => return Err(bad()),
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) if shift > 0 && !f.contains('.') => (i, f),
        Some(_) => return Err(bad()),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    let too_big = || format!("-m {v}: too large");
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| too_big())?
    };
    let mut bytes = int
        .checked_shl(shift)
        .filter(|b| b >> shift == int)
        .ok_or_else(too_big)?;
    if !frac.is_empty() {
        // The fraction's bytes, from at most 18 digits (exact enough).
        let digits = &frac[..frac.len().min(18)];
        let f: u128 = digits.parse().map_err(|_| bad())?;
        let part = (f << shift) / 10u128.pow(digits.len() as u32);
        bytes = bytes.checked_add(part as u64).ok_or_else(too_big)?;
    }
    let bytes = bytes.checked_next_multiple_of(8192).ok_or_else(too_big)?;
    check_ram_size(bytes).map_err(|e| format!("-m {v}: {e}"))?;
    Ok(bytes)
}

/// `-smp N` or `-smp cpus=N`: the number of harts (1 to 512).
fn parse_smp(v: &str) -> Result<u32, String> {
    let mut cpus = None;
    for (i, part) in v.split(',').enumerate() {
        let n = match part.split_once('=') {
            Some(("cpus", n)) => n,
            None if i == 0 => part,
            _ => {
                return Err(format!(
                    "-smp {v}: only the number of harts is supported (-smp N or -smp cpus=N)"
                ))
            }
        };
        cpus = Some(
            n.parse::<u32>()
                .map_err(|_| format!("-smp {v}: expected a number of harts"))?,
        );
    }
    match cpus {
        Some(n) if (1..=MAX_HARTS).contains(&n) => Ok(n),
        Some(_) => Err(format!(
            "-smp {v}: the virt machine has 1 to {MAX_HARTS} harts"
        )),
        None => Err(format!("-smp {v}: expected a number of harts")),
    }
}

/// `-serial DEV`.
fn parse_serial(v: &OsStr) -> Result<Serial, String> {
    if let Some(path) = v.as_encoded_bytes().strip_prefix(b"file:") {
        if path.is_empty() {
            return Err("-serial file:: needs a path".into());
        }
        // SAFETY: a suffix after an ASCII prefix of an OsStr's encoding.
        return Ok(Serial::File(
            unsafe { OsStr::from_encoded_bytes_unchecked(path) }.into(),
        ));
    }
    match v.to_str() {
        Some("stdio") => Ok(Serial::Stdio { signals: true }),
        Some("mon:stdio") => Ok(Serial::Stdio { signals: false }),
        Some("null" | "none") => Ok(Serial::Null),
        _ => Err(format!(
            "-serial {}: unsupported device (stdio, mon:stdio, null, none or file:PATH)",
            v.to_string_lossy()
        )),
    }
}

/// `-d ITEMS`; returns true for `-d help`.
fn parse_log_items(o: &mut Opts, items: &str) -> Result<bool, String> {
    for item in items.split(',').filter(|s| !s.is_empty()) {
        match item {
            "help" | "?" => return Ok(true),
            "in_asm" => o.in_asm = true,
            "op" => o.op = true,
            "out_asm" => o.out_asm = true,
            "int" => o.log_int = true,
            "mmu" => o.log_mmu = true,
            other => {
                return Err(format!(
                    "-d {other}: unknown log item (known: in_asm, op, out_asm, int, mmu)"
                ))
            }
        }
    }
    Ok(false)
}

/// Reads a boot file, naming the option in the error.
fn read_boot(opt: &str, path: &Path) -> Result<BootFile, String> {
    BootFile::read(path).map_err(|e| format!("{opt}: {e}"))
}

/// The firmware for `-bios default`: `$CRANEMU_BIOS` (which must then be
/// readable), else the first of `$CRANEMU_FIRMWARE_DIR/fw_dynamic.bin` and
/// [`FIRMWARE_PATHS`] that exists.
fn default_firmware() -> Result<BootFile, String> {
    if let Some(p) = std::env::var_os("CRANEMU_BIOS").filter(|p| !p.is_empty()) {
        return read_boot("-bios default ($CRANEMU_BIOS)", Path::new(&p));
    }
    let mut looked = Vec::new();
    let dir = std::env::var_os("CRANEMU_FIRMWARE_DIR").filter(|p| !p.is_empty());
    let candidates = dir
        .map(|d| PathBuf::from(d).join("fw_dynamic.bin"))
        .into_iter()
        .chain(FIRMWARE_PATHS.iter().map(PathBuf::from));
    for p in candidates {
        if p.is_file() {
            return read_boot("-bios default", &p);
        }
        looked.push(p.display().to_string());
    }
    Err(format!(
        "no OpenSBI firmware found (looked at $CRANEMU_BIOS, {}): give -bios FILE, or -bios none",
        looked.join(", ")
    ))
}

/// The machine of `opts`, with its boot images read.
fn machine_config(o: &Opts) -> Result<VirtConfig, String> {
    let mut cfg = VirtConfig::new(o.harts, o.ram_size);
    cfg.virtio = o.virtio.clone();
    if o.kernel.is_none() && o.bios.is_none() {
        cfg.kernel = Some(BootFile::from_bytes(
            "the default guest",
            DEFAULT_SYSTEM_GUEST.to_vec(),
        ));
        return Ok(cfg);
    }
    cfg.firmware = match o.bios.as_ref().unwrap_or(&Bios::Default) {
        Bios::Default => Some(default_firmware()?),
        Bios::None => None,
        Bios::File(p) => Some(read_boot("-bios", p)?),
    };
    if let Some(k) = &o.kernel {
        cfg.kernel = Some(read_boot("-kernel", k)?);
    }
    if let Some(i) = &o.initrd {
        cfg.initrd = Some(read_boot("-initrd", i)?);
    }
    cfg.bootargs = o.append.clone().unwrap_or_default();
    Ok(cfg)
}

/// The engine options of `opts`, the `-D` file opened.
fn system_config(o: &Opts) -> Result<SystemConfig, String> {
    let mut log = LogConfig {
        in_asm: o.in_asm,
        op: o.op,
        out_asm: o.out_asm,
        ..LogConfig::default()
    };
    if o.perfmap {
        // Blocks are named by their guest virtual pc (no symbols: the
        // kernel's and its processes' would need their page tables).
        log.perfmap = Some(Arc::new(PerfMap::new(Box::new(|pc| {
            format!("guest:{pc:#x}")
        }))));
    }
    if let Some(f) = &o.log_file {
        let file = std::fs::File::create(f).map_err(|e| format!("-D {}: {e}", f.display()))?;
        let sink: Box<dyn Write + Send> = Box::new(std::io::LineWriter::new(file));
        log.sink = Some(Arc::new(cranemu_softmmu::sync::Mutex::new(sink)));
    }
    let mut engine = EngineConfig {
        count_insns: o.stats,
        log,
        ..EngineConfig::default()
    };
    engine.jit_threshold = o
        .jit_threshold
        .unwrap_or(cranemu_runtime::system::DEFAULT_JIT_THRESHOLD);
    Ok(SystemConfig {
        engine,
        log_int: o.log_int,
        log_mmu: o.log_mmu,
        count_accesses: o.stats,
    })
}

/// A writer flushed after every write, so the guest's output shows at once.
struct Unbuffered<W: Write>(W);

impl<W: Write> Write for Unbuffered<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(b)?;
        self.0.flush()?;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// UART0's output sink for `serial`.
fn serial_out(serial: &Serial) -> Result<SerialOut, String> {
    Ok(match serial {
        Serial::Stdio { .. } => Box::new(Unbuffered(std::io::stdout())),
        Serial::Null => Box::new(std::io::sink()),
        Serial::File(p) => Box::new(
            std::fs::File::create(p).map_err(|e| format!("-serial file:{}: {e}", p.display()))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Parsed, String> {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&v)
    }

    fn opts(args: &[&str]) -> Opts {
        match parse_strs(args) {
            Ok(Parsed::Run(o)) => *o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        match parse_strs(args) {
            Err(e) => {
                assert!(!e.contains('\n'), "{e}");
                e
            }
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_a_linux_command_line() {
        assert_eq!(opts(&[]), Opts::default());
        let o = opts(&[
            "-M",
            "virt",
            "-m",
            "256M",
            "-smp",
            "cpus=2",
            "-bios",
            "none",
            "-kernel",
            "Image",
            "-initrd",
            "rd",
            "-append",
            "console=ttyS0",
            "-nographic",
            "-d",
            "int,in_asm",
            "-D",
            "log",
            "-stats",
            "-perfmap",
            "-jit-threshold",
            "0",
        ]);
        assert_eq!(o.ram_size, 256 << 20);
        assert_eq!(o.harts, 2);
        assert_eq!(o.bios, Some(Bios::None));
        assert_eq!(o.kernel, Some(PathBuf::from("Image")));
        assert_eq!(o.initrd, Some(PathBuf::from("rd")));
        assert_eq!(o.append.as_deref(), Some("console=ttyS0"));
        assert_eq!(o.serial, Some(Serial::Stdio { signals: false }));
        assert!(o.log_int && o.in_asm && !o.op && !o.log_mmu);
        assert!(o.perfmap);
        assert_eq!(o.log_file, Some(PathBuf::from("log")));
        assert!(o.stats);
        assert_eq!(o.jit_threshold, Some(0));
        // Two dashes work too; -serial wins over -nographic either way.
        let o = opts(&["--machine", "type=virt", "-serial", "null", "--nographic"]);
        assert_eq!(o.serial, Some(Serial::Null));
        let o = opts(&["-serial", "file:/tmp/x", "-bios", "default"]);
        assert_eq!(o.serial, Some(Serial::File("/tmp/x".into())));
        assert_eq!(o.bios, Some(Bios::Default));
    }

    #[test]
    fn ram_sizes_like_qemu() {
        assert_eq!(parse_ram("256").unwrap(), 256 << 20);
        // 4 GiB may be more than this host has.
        match parse_ram("4G") {
            Ok(b) => assert_eq!(b, 4 << 30),
            Err(e) => assert!(e.contains("host"), "{e}"),
        }
        assert_eq!(parse_ram("65536k").unwrap(), 64 << 20);
        assert_eq!(parse_ram("size=32M").unwrap(), 32 << 20);
        assert_eq!(parse_ram("0.5g").unwrap(), 512 << 20);
        assert_eq!(parse_ram("33554432B").unwrap(), 32 << 20);
        assert_eq!(parse_ram("16777217B").unwrap(), (16 << 20) + 8192);
        for bad in [
            "",
            "M",
            "12Q",
            "1.5.2G",
            "1.5B",
            "-5",
            "99999999999999999999",
        ] {
            assert!(parse_ram(bad).is_err(), "{bad}");
        }
        for (bad, why) in [("0", "minimum"), ("99999G", "maximum"), ("2T", "maximum")] {
            let e = parse_ram(bad).unwrap_err();
            assert!(e.contains(why) && e.starts_with("-m "), "{e}");
        }
        assert!(parse_ram("16E").unwrap_err().contains("too large"));
    }

    #[test]
    fn smp_and_machine() {
        assert_eq!(parse_smp("4").unwrap(), 4);
        assert_eq!(parse_smp("cpus=3").unwrap(), 3);
        assert!(parse_smp("0").unwrap_err().contains("1 to 512"));
        assert!(parse_smp("513").is_err());
        assert!(parse_smp("2,sockets=2").is_err());
        assert!(parse_smp("x").is_err());
        assert_eq!(
            err(&["-M", "sifive_u"]),
            "unknown machine 'sifive_u' (only 'virt')"
        );
        assert!(err(&["-machine", "virt,aclint=on"]).contains("aclint"));
        assert!(matches!(parse_strs(&["-M", "help"]), Ok(Parsed::Print(_))));
    }

    #[test]
    fn vsock_devices() {
        let o = opts(&[
            "-device",
            "vhost-vsock-device,id=v0,guest-cid=3,uds=/tmp/v,,s",
        ]);
        assert_eq!(
            o.virtio,
            vec![VirtioSpec::Vsock {
                guest_cid: 3,
                uds: "/tmp/v,s".into()
            }]
        );
        for (args, what) in [
            ("vhost-vsock-device,uds=/tmp/v", "needs guest-cid"),
            (
                "vhost-vsock-device,guest-cid=3",
                "needs guest-cid=N and uds",
            ),
            (
                "vhost-vsock-device,guest-cid=2,uds=/tmp/v",
                "guest-cid=2: expected 3",
            ),
            ("vhost-vsock-device,guest-cid=x,uds=/tmp/v", "guest-cid=x"),
            (
                "vhost-vsock-device,guest-cid=4294967295,uds=/v",
                "4294967295",
            ),
            ("vhost-vsock-device,guest-cid=3,uds=", "uds=: unsupported"),
            ("vhost-vsock-device,guest-cid=3,uds=/v,port=1", "port=1"),
        ] {
            let e = err(&["-device", args]);
            assert!(e.contains(what), "{args}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn drives_and_devices() {
        let o = opts(&[
            "-chardev",
            "socket,id=c0,path=/tmp/s,server=on,wait=off",
            "-device",
            "virtio-serial-device",
            "-device",
            "virtconsole,chardev=c0",
            "-drive",
            "file=a,,b.img,format=raw,if=virtio,readonly=on,cache=none,aio=io_uring",
            "-device",
            "virtio-rng-device",
            "-drive",
            "id=d1,file=c.img,if=none,format=raw",
            "-device",
            "virtio-blk-device,drive=d1",
        ]);
        let mut a = BlockConfig::new("a,b.img");
        a.readonly = true;
        a.cache = CacheMode::None;
        a.aio = AioMode::IoUring;
        assert_eq!(
            o.virtio,
            vec![
                VirtioSpec::Console {
                    socket: Some("/tmp/s".into())
                },
                VirtioSpec::Block(a),
                VirtioSpec::Rng,
                VirtioSpec::Block(BlockConfig::new("c.img"))
            ]
        );
        for (args, why) in [
            (&["-drive", "file=x"][..], "if=virtio"),
            (&["-drive", "file=x,if=ide"], "if=ide"),
            (&["-drive", "file=x,if=virtio,format=qcow2"], "raw"),
            (&["-drive", "if=virtio"], "file="),
            (&["-drive", "file=x,if=virtio,cache=unsafe"], "cache=unsafe"),
            (&["-drive", "file=x,if=virtio,bogus=1"], "bogus"),
            (&["-drive", "file=x,if=none,id=q"], "no -device"),
            (&["-device", "virtio-net-device"], "needs netdev=ID"),
            (&["-device", "e1000"], "unsupported device"),
            (&["-device", "virtio-blk-device,drive=zz"], "zz"),
            (&["-device", "virtconsole,chardev=c"], "no -chardev"),
            (
                &[
                    "-chardev",
                    "socket,id=c,path=p,server=on,wait=off",
                    "-device",
                    "virtconsole,chardev=c",
                ],
                "virtio-serial-device",
            ),
            (&["-chardev", "pty,id=c"], "only socket"),
            (&["-chardev", "socket,id=c,path=p,server=off"], "server=on"),
        ] {
            let e = err(args);
            assert!(e.contains(why), "{args:?}: {e}");
        }
    }

    #[test]
    fn errors_are_one_line() {
        assert_eq!(err(&["-foo"]), "-foo: invalid option");
        assert!(err(&["-m"]).contains("requires an argument"));
        assert!(err(&["-s"]).contains("not supported yet"));
        assert!(err(&["-S", "-kernel", "k"]).contains("not supported yet"));
        assert!(err(&["-d", "bogus"]).contains("bogus"));
        assert!(err(&["-initrd", "rd"]).contains("-kernel"));
        assert!(err(&["-append", "x"]).contains("-kernel"));
        assert!(err(&["disk.img"]).contains("disk images"));
        assert!(err(&["-serial", "pty"]).contains("unsupported"));
        assert!(err(&["-serial", "stdio", "-serial", "null"]).contains("one serial port"));
        assert!(err(&["-jit-threshold", "-1"]).contains("-jit-threshold"));
        assert!(matches!(parse_strs(&["-d", "help"]), Ok(Parsed::Print(_))));
        assert!(matches!(parse_strs(&["--help"]), Ok(Parsed::Print(HELP))));
    }
}
