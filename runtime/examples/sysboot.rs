//! Boots a bare-metal ELF on the virt machine (a development aid; the
//! `cranemu system` command is the real front end).
//!
//! `cargo run --release -p cranemu-runtime --example sysboot -- KERNEL.elf [BIOS]`

use cranemu_hw::boot::BootFile;
use cranemu_hw::virt::{VirtConfig, VirtMachine};
use cranemu_runtime::system::{SystemConfig, SystemEngine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mem: u64 = std::env::var("MEM_MB").map_or(256, |v| v.parse().unwrap());
    let mut cfg = VirtConfig::new(1, mem << 20);
    cfg.kernel = Some(BootFile::read(&args[1]).expect("kernel"));
    if let Some(b) = args.get(2) {
        cfg.firmware = Some(BootFile::read(b).expect("bios"));
    }
    if let Some(i) = args.get(3) {
        cfg.initrd = Some(BootFile::read(i).expect("initrd"));
    }
    cfg.bootargs = std::env::var("APPEND").unwrap_or_else(|_| "console=ttyS0".into());
    let machine = VirtMachine::new(&cfg, Box::new(std::io::stdout())).expect("machine");
    let mut sc = SystemConfig::default();
    sc.log_int = std::env::var("LOGINT").is_ok();
    if let Ok(t) = std::env::var("JIT") {
        sc.engine.jit_threshold = t.parse().unwrap();
    }
    let mut e = SystemEngine::new(machine, sc).expect("engine");
    let uart = e.machine().uart().clone();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                match uart.enqueue_input(rest) {
                    Ok(k) => rest = &rest[k..],
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        }
    });
    let t0 = std::time::Instant::now();
    let r = e.run();
    eprintln!("\nexit: {r:?} after {:?}", t0.elapsed());
    for (k, v) in e.stats().fields() {
        eprint!("{k}={v} ");
    }
    eprintln!();
}
