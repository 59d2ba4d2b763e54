//! `cranemu binfmt --install | --uninstall`: registers cranemu with the
//! kernel's binfmt_misc as the interpreter of riscv64 ELF executables, so
//! that `./riscv-program` runs under cranemu transparently, as QEMU's
//! `qemu-binfmt-conf.sh` does for `qemu-riscv64`
//! (Documentation/admin-guide/binfmt-misc.rst).
//!
//! The entry matches the first 20 bytes of the ELF header with QEMU's
//! riscv64 magic and mask: `ELFCLASS64`, `ELFDATA2LSB`, version 1, any
//! OS ABI, `e_type` `ET_EXEC` or `ET_DYN` and `e_machine` `EM_RISCV`
//! (243). The kernel then runs `INTERPRETER PATH ARGS...` (with flag `P`:
//! `INTERPRETER PATH ARGV0 ARGS...`, and `AT_FLAGS` bit 0 set in the
//! auxiliary vector), which [`binfmt_invocation`] recognises, so the
//! registered interpreter is the cranemu binary itself. The guest's
//! sysroot (`-L`) comes from `CRANEMU_LD_PREFIX` there, as
//! `QEMU_LD_PREFIX` does for QEMU.
//!
//! Both need root (in the user namespace that owns the binfmt_misc
//! instance) and binfmt_misc mounted at [`BINFMT_DIR`].

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where binfmt_misc is mounted.
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";
/// The entry's default name (a file under [`BINFMT_DIR`] once registered).
pub const DEFAULT_NAME: &str = "cranemu-riscv64";

/// The ELF header bytes a riscv64 executable starts with (QEMU's
/// `riscv64_magic` in scripts/qemu-binfmt-conf.sh).
const MAGIC: [u8; 20] = [
    0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0xf3, 0,
];
/// Which bits of [`MAGIC`] must match (byte 7, the OS ABI, is free;
/// `0xfe` lets `e_type` be 2 or 3).
const MASK: [u8; 20] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xfe, 0xff, 0xff, 0xff,
];
/// `AT_FLAGS` bit the kernel sets when the entry has flag `P`
/// (`AT_FLAGS_PRESERVE_ARGV0`, include/uapi/linux/binfmts.h).
const AT_FLAGS_PRESERVE_ARGV0: u64 = 1;

/// `\xNN` escapes of `bytes`, as the register file parses them.
fn escaped(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\x{b:02x}")).collect()
}

/// The line written to `register` for an entry `name` whose interpreter
/// is `interp`, with binfmt_misc `flags` (a subset of `POCF`).
pub fn register_line(name: &str, interp: &Path, flags: &str) -> String {
    format!(
        ":{name}:M::{}:{}:{}:{flags}",
        escaped(&MAGIC),
        escaped(&MASK),
        interp.display()
    )
}

/// Refuses an interpreter the kernel could never start: it must be an
/// absolute path (binfmt_misc resolves it at each exec, or at
/// registration with `F`, not relative to anything) naming an executable
/// regular file.
fn check_interpreter(interp: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if !interp.is_absolute() {
        return Err(format!(
            "--interpreter {}: must be an absolute path",
            interp.display()
        ));
    }
    let meta = std::fs::metadata(interp)
        .map_err(|e| format!("--interpreter {}: {e}", interp.display()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!(
            "--interpreter {}: not an executable file",
            interp.display()
        ));
    }
    Ok(())
}

/// Registers the entry. Returns a message for the user on failure.
pub fn install(name: &str, interp: Option<PathBuf>, flags: &str) -> Result<String, String> {
    if let Some(bad) = flags.chars().find(|c| !"POCF".contains(*c)) {
        return Err(format!(
            "--flags: unknown binfmt_misc flag '{bad}' (known: P, O, C, F)"
        ));
    }
    if flags.contains('O') || flags.contains('C') {
        // The kernel would pass the program as an open descriptor
        // (AT_EXECFD), which cranemu does not take.
        return Err("--flags: O and C are not supported (cranemu needs the program's path)".into());
    }
    if name.is_empty()
        || name.contains(['/', ':'])
        || [".", "..", "register", "status"].contains(&name)
    {
        return Err(format!("--name {name:?}: not a valid entry name"));
    }
    let interp = match interp {
        Some(p) => p,
        None => {
            std::env::current_exe().map_err(|e| format!("cannot find cranemu's own path: {e}"))?
        }
    };
    if interp.to_str().is_none_or(|s| s.contains(':')) {
        return Err(format!(
            "{}: the interpreter path must be UTF-8 without ':'",
            interp.display()
        ));
    }
    check_interpreter(&interp)?;
    let dir = Path::new(BINFMT_DIR);
    let register = dir.join("register");
    if !register.exists() {
        return Err(format!(
            "{} not found: binfmt_misc is not mounted (mount -t binfmt_misc binfmt_misc {BINFMT_DIR})",
            register.display()
        ));
    }
    if dir.join(name).exists() {
        return Err(format!(
            "{}: already registered (cranemu binfmt --uninstall first)",
            dir.join(name).display()
        ));
    }
    let line = register_line(name, &interp, flags);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&register)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (registering needs root)"
            } else {
                ""
            };
            format!("{}: {e}{hint}", register.display())
        })?;
    Ok(format!(
        "registered {} for riscv64 ELF executables: {}",
        dir.join(name).display(),
        interp.display()
    ))
}

/// Removes the entry. Returns a message for the user on failure.
pub fn uninstall(name: &str) -> Result<String, String> {
    let entry = Path::new(BINFMT_DIR).join(name);
    if name.is_empty() || name.contains('/') || !entry.exists() {
        return Err(format!("{}: no such binfmt_misc entry", entry.display()));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&entry)
        .and_then(|mut f| f.write_all(b"-1"))
        .map_err(|e| format!("{}: {e} (removing needs root)", entry.display()))?;
    Ok(format!("removed {}", entry.display()))
}

/// A program the kernel started through a binfmt_misc entry of ours.
pub struct Invocation {
    /// The riscv64 program's path.
    pub program: PathBuf,
    /// The guest's `argv[0]`, when the entry has flag `P`.
    pub argv0: Option<OsString>,
    /// The guest's `argv[1..]`.
    pub args: Vec<OsString>,
}

/// Recognises a binfmt_misc start in this process's arguments `args`
/// (`args[0]` being cranemu): `args[1]` is neither a subcommand nor an
/// option but a file whose header is a riscv64 ELF's ([`MAGIC`] under
/// [`MASK`]). With flag `P` (`AT_FLAGS_PRESERVE_ARGV0`), `args[2]` is
/// the guest's `argv[0]`.
pub fn binfmt_invocation(args: &[OsString]) -> Option<Invocation> {
    use std::io::Read;
    let first = args.get(1)?;
    if first.is_empty()
        || first.as_encoded_bytes().starts_with(b"-")
        || ["run", "system", "binfmt", "help"]
            .iter()
            .any(|c| first == *c)
    {
        return None;
    }
    let mut head = [0u8; 20];
    std::fs::File::open(first)
        .ok()?
        .read_exact(&mut head)
        .ok()?;
    if head
        .iter()
        .zip(MAGIC.iter().zip(MASK))
        .any(|(h, (m, k))| h & k != m & k)
    {
        return None;
    }
    // SAFETY: getauxval only reads the auxiliary vector.
    let flags = unsafe { libc::getauxval(libc::AT_FLAGS) };
    let (argv0, rest) = if flags & AT_FLAGS_PRESERVE_ARGV0 != 0 && args.len() > 2 {
        (Some(args[2].clone()), &args[3..])
    } else {
        (None, &args[2..])
    };
    Some(Invocation {
        program: PathBuf::from(first),
        argv0,
        args: rest.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_line_has_qemus_riscv64_magic_and_mask() {
        let line = register_line("x", Path::new("/usr/bin/cranemu"), "P");
        assert_eq!(
            line,
            ":x:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xf3\\x00\
             :\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff\
             :/usr/bin/cranemu:P"
        );
    }

    #[test]
    fn bad_flags_and_names_are_refused() {
        assert!(install("x", Some("/bin/true".into()), "Z").is_err());
        assert!(install("x", Some("/bin/true".into()), "O").is_err());
        assert!(install("a/b", Some("/bin/true".into()), "P").is_err());
        assert!(install("register", Some("/bin/true".into()), "").is_err());
        assert!(install(".", Some("/bin/true".into()), "").is_err());
        assert!(install("..", Some("/bin/true".into()), "").is_err());
    }

    #[test]
    fn interpreters_that_cannot_run_are_refused() {
        let e = |p: &str| check_interpreter(Path::new(p)).unwrap_err();
        assert!(e("relative/cranemu").contains("absolute"));
        assert!(e("/nonexistent/cranemu").contains("No such file"));
        assert!(e("/tmp").contains("not an executable file"));
        let plain = std::env::temp_dir().join(format!("cranemu-binfmt-{}", std::process::id()));
        std::fs::write(&plain, b"not a program").unwrap();
        std::fs::set_permissions(&plain, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let refused = e(plain.to_str().unwrap());
        let _ = std::fs::remove_file(&plain);
        assert!(refused.contains("not an executable file"), "{refused}");
        assert!(check_interpreter(Path::new("/bin/true")).is_ok());
    }

    #[test]
    fn subcommands_are_not_binfmt_starts() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(binfmt_invocation(&a(&["cranemu", "run", "x"])).is_none());
        assert!(binfmt_invocation(&a(&["cranemu", "-h"])).is_none());
        assert!(binfmt_invocation(&a(&["cranemu", "/nonexistent"])).is_none());
        // A host ELF is not a riscv64 one.
        assert!(binfmt_invocation(&a(&["cranemu", "/proc/self/exe"])).is_none());
    }
}
