//! The console of `cranemu system` on the host's standard input: raw mode
//! for a terminal (restored on every way out), QEMU's Ctrl-A escapes, and
//! the thread that feeds the guest's UART.
//!
//! # Escapes (as QEMU's `-nographic` console)
//!
//! `Ctrl-A x` quits, `Ctrl-A h` (or `?`) prints the list, `Ctrl-A c`
//! would switch to the monitor (there is none yet), `Ctrl-A Ctrl-A` sends
//! one Ctrl-A to the guest; any other byte after Ctrl-A is swallowed.
//! They work whether or not standard input is a terminal, so tests can
//! pipe them in.

use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cranemu_hw::virt::SerialOut;
use cranemu_hw::{uart16550::Uart16550, Error as HwError};
use cranemu_runtime::system::QuitHandle;

/// The escape character: Ctrl-A.
pub const ESCAPE: u8 = 0x01;

/// How long a quit may take before the console ends the process itself.
const QUIT_GRACE: Duration = Duration::from_secs(3);

/// What a byte typed on the console does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send this byte to the guest.
    Send(u8),
    /// Nothing (the escape character, or an escape without meaning).
    None,
    /// `Ctrl-A h`: print the escapes.
    Help,
    /// `Ctrl-A x`: quit the emulator.
    Quit,
    /// `Ctrl-A c`: switch to the monitor.
    Monitor,
}

/// The escape state machine: feed it every byte read from the console.
#[derive(Debug, Default)]
pub struct Escapes {
    got_escape: bool,
}

impl Escapes {
    /// What `byte` does, given the bytes before it.
    pub fn feed(&mut self, byte: u8) -> Action {
        if !self.got_escape {
            if byte == ESCAPE {
                self.got_escape = true;
                return Action::None;
            }
            return Action::Send(byte);
        }
        self.got_escape = false;
        match byte {
            ESCAPE => Action::Send(ESCAPE),
            b'x' | b'X' => Action::Quit,
            b'h' | b'H' | b'?' => Action::Help,
            b'c' | b'C' => Action::Monitor,
            _ => Action::None,
        }
    }
}

/// The escape list printed by `Ctrl-A h`.
pub const ESCAPE_HELP: &str = "\
C-a h    print this help
C-a x    exit emulator
C-a c    switch between console and monitor (no monitor yet)
C-a C-a  sends C-a
";

/// The terminal settings to put back, once raw mode is on.
static SAVED: OnceLock<libc::termios> = OnceLock::new();

/// Puts back the terminal settings saved by [`RawMode::enable`], if any.
/// Safe to call more than once, and from a signal handler (it only calls
/// `tcsetattr`).
pub fn restore_terminal() {
    if let Some(t) = SAVED.get() {
        // SAFETY: `t` is a valid termios read by tcgetattr; fd 0 is ours.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t) };
    }
}

/// Restores the terminal, then dies of the signal as if unhandled.
extern "C" fn restore_and_reraise(sig: libc::c_int) {
    restore_terminal();
    // SAFETY: signal and raise are async-signal-safe.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Raw mode on the terminal on standard input (QEMU's settings for a
/// stdio console: no echo, no line editing, output processing kept).
/// Dropping it restores the terminal.
pub struct RawMode(());

impl RawMode {
    /// Switches standard input to raw mode if it is a terminal and this
    /// process is in its foreground; `None` when it is not (a pipe, a
    /// file, a background job), or the terminal refuses.
    ///
    /// With `signals`, Ctrl-C and friends still signal the emulator (QEMU's
    /// `-serial stdio`); without, they go to the guest (`-nographic`,
    /// `mon:stdio`). The saved settings are put back on drop, on a panic,
    /// and on SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE (which still
    /// end the process).
    pub fn enable(signals: bool) -> Option<RawMode> {
        // SAFETY: isatty/tcgetattr/tcsetattr on fd 0 with a termios we own.
        unsafe {
            if libc::isatty(libc::STDIN_FILENO) != 1
                || libc::tcgetpgrp(libc::STDIN_FILENO) != libc::getpgrp()
            {
                return None;
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut t) != 0 {
                return None;
            }
            if SAVED.set(t).is_err() {
                // Already raw (a second console): nothing more to save.
                return None;
            }
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore_terminal();
                hook(info);
            }));
            for sig in [
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGQUIT,
                libc::SIGPIPE,
            ] {
                libc::signal(sig, restore_and_reraise as *const () as libc::sighandler_t);
            }
            t.c_iflag &= !(libc::IGNBRK
                | libc::BRKINT
                | libc::PARMRK
                | libc::ISTRIP
                | libc::INLCR
                | libc::IGNCR
                | libc::ICRNL
                | libc::IXON);
            t.c_oflag |= libc::OPOST;
            t.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::IEXTEN);
            if !signals {
                t.c_lflag &= !libc::ISIG;
            }
            t.c_cflag &= !(libc::CSIZE | libc::PARENB);
            t.c_cflag |= libc::CS8;
            t.c_cc[libc::VMIN] = 1;
            t.c_cc[libc::VTIME] = 0;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &t) != 0 {
                return None;
            }
        }
        Some(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Queues all of `bytes` for the guest, waiting while the FIFO is full
/// (the guest reads it). Gives up only if the UART fails otherwise.
fn feed(uart: &Uart16550<SerialOut>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match uart.enqueue_input(bytes) {
            Ok(n) if n > 0 => bytes = &bytes[n.min(bytes.len())..],
            Ok(_) | Err(HwError::UartFifoFull) => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => return,
        }
    }
}

/// Writes a console message to standard error (with a carriage return:
/// the terminal may be raw).
fn say(text: &str) {
    let text = text.replace('\n', "\r\n");
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.flush();
}

/// Starts the threads that read standard input into `uart`, handling the
/// escapes; reading stops at end of input (the machine goes on). Bytes
/// for the guest wait in a queue while its FIFO is full, so the escapes
/// still work when the guest does not read. On `Ctrl-A x` it asks `quit`
/// to stop the machine, and if the machine has not stopped after a grace
/// period, restores the terminal and exits with status 0 itself.
pub fn spawn_input(uart: Arc<Uart16550<SerialOut>>, quit: QuitHandle) {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let feeder = std::thread::Builder::new()
        .name("console-feed".into())
        .spawn(move || {
            for bytes in rx {
                feed(&uart, &bytes);
            }
        });
    let reader = feeder.and_then(|_| {
        std::thread::Builder::new()
            .name("console".into())
            .spawn(move || read_input(&tx, &quit))
    });
    if let Err(e) = reader {
        say(&format!("cranemu: no console input: {e}\n"));
    }
}

/// The console reader: standard input through the escapes into `tx`.
fn read_input(tx: &std::sync::mpsc::Sender<Vec<u8>>, quit: &QuitHandle) {
    let mut stdin = std::io::stdin().lock();
    let mut esc = Escapes::default();
    let mut buf = [0u8; 256];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buf[..n] {
            match esc.feed(b) {
                Action::Send(b) => out.push(b),
                Action::None => {}
                Action::Help => say(ESCAPE_HELP),
                Action::Monitor => say("cranemu: monitor not available yet\n"),
                Action::Quit => {
                    say("cranemu: terminated\n");
                    quit.quit();
                    std::thread::sleep(QUIT_GRACE);
                    restore_terminal();
                    std::process::exit(0);
                }
            }
        }
        if !out.is_empty() && tx.send(out).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> Vec<Action> {
        let mut e = Escapes::default();
        bytes.iter().map(|&b| e.feed(b)).collect()
    }

    #[test]
    fn escapes_like_qemu() {
        use Action::*;
        assert_eq!(run(b"ab"), [Send(b'a'), Send(b'b')]);
        assert_eq!(run(b"\x01x"), [None, Quit]);
        assert_eq!(run(b"\x01h\x01?"), [None, Help, None, Help]);
        assert_eq!(run(b"\x01c"), [None, Monitor]);
        assert_eq!(run(b"\x01\x01x"), [None, Send(1), Send(b'x')]);
        // Unknown escapes are swallowed; the next byte is plain again.
        assert_eq!(run(b"\x01qq"), [None, None, Send(b'q')]);
    }
}
