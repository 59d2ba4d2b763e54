//! Debian's static busybox (riscv64) under cranemu, compared with the host's
//! own tools (coreutils, sh, awk, sed, gzip, tar) on the same inputs.
//!
//! Needs the guest sysroot: run `scripts/fetch-guests.sh` first (the test
//! fails, not skips, without it).  `CRANEMU_GUEST_CACHE` overrides the cache
//! directory (default `<repo>/.cache/guests`).
//!
//! busybox sh runs most applets in pipelines by forking and exec'ing
//! /proc/self/exe, so these tests also exercise fork and execve of a guest
//! from a guest.  Under cranemu the guest's PATH holds only busybox applet
//! links, so no host tool can stand in for a guest applet.  Under
//! `CRANEMU_TEST_RUNNER=qemu-riscv64` (validation, see tests/common/mod.rs)
//! the host PATH is kept: qemu-user without binfmt_misc cannot exec a riscv64
//! binary, and busybox then falls back to the host's tools on PATH.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn busybox() -> PathBuf {
    let cache = std::env::var_os("CRANEMU_GUEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/guests"));
    let bb = cache.join("sysroot/usr/bin/busybox");
    assert!(
        bb.is_file(),
        "{} not found: run scripts/fetch-guests.sh first (it fetches Debian's riscv64 busybox-static)",
        bb.display()
    );
    bb
}

/// A directory of `APPLET -> busybox` links for the guest's PATH (cranemu
/// only; see the module doc).
fn applet_path() -> &'static Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if runner().is_some() {
            return None;
        }
        let bb = busybox();
        let list = guest(&bb).arg("--list").run();
        list.assert_success();
        let names = list.stdout_str();
        let applets: Vec<&str> = names.lines().filter(|l| !l.is_empty()).collect();
        assert!(
            applets.len() > 100,
            "busybox --list gave only {} applets:\n{names}",
            applets.len()
        );
        let dir = scratch_dir("busybox-applets");
        for a in applets {
            std::os::unix::fs::symlink(&bb, dir.join(a)).unwrap();
        }
        Some(dir)
    })
}

/// `busybox ARGS...` under cranemu, in `dir`, in the C locale.
fn bb(dir: &Path, args: &[&str]) -> Outcome {
    let mut cmd = guest(busybox()).args(args).dir(dir).env("LC_ALL", "C");
    if let Some(p) = applet_path() {
        cmd = cmd.env("PATH", p);
    }
    cmd.run()
}

/// `busybox sh -c SCRIPT` under cranemu.
fn bb_sh(dir: &Path, script: &str) -> Outcome {
    bb(dir, &["sh", "-c", script])
}

/// The host's `sh -c SCRIPT`, in the C locale.
fn host_sh(dir: &Path, script: &str) -> Outcome {
    host("sh")
        .args(["-c", script])
        .dir(dir)
        .env("LC_ALL", "C")
        .run()
}

/// Runs `script` under busybox sh and the host's sh; same status and stdout.
fn same_as_host(dir: &Path, script: &str) -> String {
    same_as_host_scripts(dir, script, script)
}

fn same_as_host_scripts(dir: &Path, guest_script: &str, host_script: &str) -> String {
    let g = bb_sh(dir, guest_script);
    let h = host_sh(dir, host_script);
    h.assert_success();
    g.assert_success();
    assert_same_text(
        &format!("busybox sh -c {guest_script:?} vs host"),
        &g.stdout_str(),
        &h.stdout_str(),
    );
    g.stdout_str()
}

/// A deterministic 16 MiB text-like file (lines of counters, hex and words),
/// shared by the tests of this process.
fn big_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        const SIZE: usize = 16 << 20;
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cranemu-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big-16MiB.txt");
        if std::fs::metadata(&path)
            .map(|m| m.len() as usize == SIZE)
            .unwrap_or(false)
        {
            return path;
        }
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ];
        let mut data = Vec::with_capacity(SIZE + 100);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut line = 0u64;
        while data.len() < SIZE {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let w = words[(x >> 60) as usize & 7];
            data.extend_from_slice(format!("{line:08} {x:016x} {w} {}\n", x % 1000).as_bytes());
            line += 1;
        }
        data.truncate(SIZE);
        // Written under a unique name, then renamed: concurrent test
        // processes never see a partial file.
        let tmp = dir.join(format!("big-16MiB.txt.{}", std::process::id()));
        std::fs::write(&tmp, &data).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
}

#[test]
fn echo() {
    let d = scratch_dir("bb-echo");
    same_as_host(
        &d,
        "echo hello world; echo -n no-newline; echo; echo 'two  spaces' \"$((6 * 7))\"",
    );
    let out = bb(&d, &["echo", "direct", "applet"]);
    out.assert_success();
    assert_eq!(out.stdout_str(), "direct applet\n");
}

/// A guest `execve` whose `argv[0]` begins with `-` (a login shell's
/// `-sh`): cranemu runs the new program with that `argv[0]`, not taking it
/// for one of its own options.
#[test]
fn exec_with_a_dash_argv0() {
    let d = scratch_dir("bb-exec-dash");
    let bb_path = busybox();
    let script = format!("exec -a -sh {} -c 'echo $0'", bb_path.display());
    let out = bb_sh(&d, &script);
    out.assert_success();
    assert_eq!(out.stdout_str(), "-sh\n");
}

/// A guest `execve` of a `#!` script that names itself fails with
/// `ELOOP` in the guest, which goes on (it once aborted cranemu on a host
/// stack overflow).
#[test]
fn exec_of_a_self_naming_script_fails_with_eloop() {
    let d = scratch_dir("bb-exec-eloop");
    let script = d.join("self.sh");
    std::fs::write(&script, format!("#!{}\necho x\n", script.display())).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = bb_sh(&d, &format!("{}; echo went on", script.display()));
    assert_eq!(out.stdout_str(), "went on\n", "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("Too many levels of symbolic links"),
        "stderr: {}",
        out.stderr
    );
}

/// The guest's `LD_PRELOAD` reaches the program it executes, not the
/// host's dynamic loader starting cranemu again for it.
#[test]
fn exec_keeps_the_guests_loader_variables_from_the_host() {
    let d = scratch_dir("bb-exec-ldpreload");
    let script = format!(
        "LD_PRELOAD=/nonexistent-preload.so {} sh -c 'echo $LD_PRELOAD'",
        busybox().display()
    );
    let out = bb_sh(&d, &script);
    out.assert_success();
    assert_eq!(out.stdout_str(), "/nonexistent-preload.so\n");
    assert!(!out.stderr.contains("ld.so"), "stderr: {}", out.stderr);
}

/// A guest `execve` of a truncated ELF fails in the guest (`ENOEXEC`),
/// which goes on, as under Linux; it once replaced the process with a
/// cranemu that could only report the bad file.
#[test]
fn exec_of_a_truncated_elf_fails_in_the_guest() {
    let d = scratch_dir("bb-exec-truncated");
    let head = std::fs::read(busybox()).unwrap();
    let bad = d.join("truncated");
    std::fs::write(&bad, &head[..200]).unwrap();
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = bb_sh(&d, &format!("{} 2>/dev/null; echo went on", bad.display()));
    assert_eq!(out.stdout_str(), "went on\n", "stderr: {}", out.stderr);
}

#[test]
fn printf_widths() {
    let d = scratch_dir("bb-printf");
    same_as_host(
        &d,
        "printf '%5d|%-6s|%x\\n' 42 ab 255; printf '%05.1f|%o|%c|%s\\n' 3.14159 8 xyz end",
    );
    let g = bb(&d, &["printf", "%5d|%-6s|%x\\n", "42", "ab", "255"]);
    g.assert_success();
    assert_eq!(g.stdout_str(), "   42|ab    |ff\n");
}

#[test]
fn shell_language() {
    let d = scratch_dir("bb-sh");
    same_as_host(
        &d,
        r#"
i=0; s=0
while [ $i -lt 100 ]; do s=$((s + i * i)); i=$((i + 1)); done
echo "sum=$s"
for w in one two three; do echo "w=$w"; done
f() { echo "f($1,$2)"; return 3; }
f a b; echo "rc=$?"
fact() { if [ $1 -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(($1 - 1))) )); fi; }
echo "fact(10)=$(fact 10)"
echo $(( (7 << 3) ^ 5 )) $(( -17 / 5 )) $(( -17 % 5 )) $(( 0x1f + 010 )) $(( 3 > 2 && 1 ))
case abc in a*) echo star;; *) echo other;; esac
x=$(echo sub | tr a-z A-Z); echo "$x"
v=hello; echo "${#v} ${v%lo} ${v#he} ${unset:-default}"
set -- p q r; echo "$# $2 $*"
"#,
    );
}

#[test]
fn pipes_and_redirections() {
    let d = scratch_dir("bb-pipes");
    same_as_host(
        &d,
        r#"
echo one > f1; echo two >> f1; cat < f1; cat f1 | wc -l
seq 1 5 | while read n; do echo "n=$n"; done | tail -2
{ echo a; echo c; echo b; } | sort -r | head -2
ls does-not-exist 2>/dev/null || echo "ls failed"
echo to-stderr 1>&2 2>/dev/null; echo err 2>&1 >/dev/null | cat
cat f1 f1 | sort | uniq | tr '\n' ,; echo
exec 3> f3; echo via-fd3 >&3; exec 3>&-; cat f3
"#,
    );
}

#[test]
fn seq_tail() {
    let d = scratch_dir("bb-seq");
    let out = same_as_host(&d, "seq 1 100000 | tail -1");
    assert_eq!(out, "100000\n");
}

#[test]
fn sha256sum_md5sum_16mib() {
    let d = scratch_dir("bb-hash");
    let big = big_file();
    for tool in ["sha256sum", "md5sum"] {
        let g = bb(&d, &[tool, big.to_str().unwrap()]);
        g.assert_success();
        let h = host(tool).arg(big).run();
        h.assert_success();
        assert_same_text(&format!("busybox {tool}"), &g.stdout_str(), &h.stdout_str());
    }
}

#[test]
fn gzip_roundtrip_16mib() {
    let d = scratch_dir("bb-gzip");
    let big = big_file().to_str().unwrap().to_string();
    // Round trip through busybox alone, hashed by busybox.
    let g = bb_sh(
        &d,
        &format!("gzip -9 -c '{big}' > big.gz && gunzip -c big.gz | sha256sum"),
    );
    g.assert_success();
    let h = host("sh")
        .args(["-c", &format!("sha256sum < '{big}'")])
        .run();
    h.assert_success();
    assert_same_text(
        "busybox gzip -9 | gunzip | sha256sum",
        &g.stdout_str(),
        &h.stdout_str(),
    );
    // busybox's gzip output is valid for the host's gunzip.
    let h2 = host("sh")
        .args(["-c", "gunzip -c big.gz | sha256sum"])
        .dir(&d)
        .run();
    h2.assert_success();
    assert_same_text(
        "host gunzip of busybox gzip",
        &h2.stdout_str(),
        &h.stdout_str(),
    );
    // And busybox's gunzip reads the host's gzip.
    let h3 = host("sh")
        .args(["-c", &format!("gzip -6 -c '{big}' > host.gz")])
        .dir(&d)
        .run();
    h3.assert_success();
    let g2 = bb_sh(&d, "gunzip -c host.gz | sha256sum");
    g2.assert_success();
    assert_same_text(
        "busybox gunzip of host gzip",
        &g2.stdout_str(),
        &h.stdout_str(),
    );
}

#[test]
fn sort_numeric() {
    let d = scratch_dir("bb-sort");
    let mut x: u64 = 12345;
    let mut nums = String::new();
    for i in 0..5000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v = (x >> 33) as i64 % 200_000 - 100_000;
        nums.push_str(&format!("{v}\n"));
        if i % 100 == 0 {
            nums.push_str("42\n");
        }
    }
    std::fs::write(d.join("nums.txt"), nums).unwrap();
    same_as_host(&d, "sort -n nums.txt");
    same_as_host(&d, "sort -rn nums.txt | head -20");
    same_as_host(&d, "sort nums.txt | tail -5");
}

#[test]
fn awk() {
    let d = scratch_dir("bb-awk");
    let mut data = String::new();
    for i in 0..2000u64 {
        data.push_str(&format!("key{} {} {}.{}\n", i * 7 % 13, i, i % 17, i % 10));
    }
    std::fs::write(d.join("data.txt"), data).unwrap();
    same_as_host(
        &d,
        r#"awk '
BEGIN { x = 0.1 * 3; printf "%.6f %d %.3e\n", x, 7 / 2, 1 / 3 }
{ count[$1]++; sum[$1] += $2; f += $3 }
END {
  n = 0; for (k in count) n++
  printf "%d keys, total %.4f, mean %.6f\n", n, f, f / NR
  printf "key3: %d rows, sum %d\n", count["key3"], sum["key3"]
  print 10 % 3, -7 % 3, int(-3.7), int("12abc") + 1, length("hello"), substr("abcdef", 2, 3), toupper("xy")
  # Debian busybox-static awk has no libm: no ^, sqrt, exp, log.
  e = 1; term = 1; for (i = 1; i < 20; i++) { term /= i; e += term }
  printf "%.10f %.10f %.6e %g\n", 22 / 7, e, 1e6 / 3, 0.1 + 0.2
  s = "a,b,,c"; m = split(s, parts, ","); print m, parts[4]
  t = "foo bar foo"; gsub(/foo/, "baz", t); print t, index(t, "bar")
}' data.txt"#,
    );
}

#[test]
fn sed_extended() {
    let d = scratch_dir("bb-sed");
    std::fs::write(
        d.join("in.txt"),
        "abc123 def456\n# a comment\nxyz   789   spaces\nkeep this line\nfoo42bar\n",
    )
    .unwrap();
    same_as_host(
        &d,
        r"sed -E 's/([a-z]+)([0-9]+)/\2-\1/g; /^#/d; s/ +/ /g' in.txt",
    );
    same_as_host(
        &d,
        r"sed -n '2,4p' in.txt; sed -E -n '/^[a-z]+$/!s/[0-9]{3}/<&>/p' in.txt; sed '1i\
header' in.txt | head -2",
    );
}

#[test]
fn ls_long() {
    use std::os::unix::fs::PermissionsExt;
    let d = scratch_dir("bb-ls");
    let dir = d.join("dir");
    std::fs::create_dir(&dir).unwrap();
    for (name, size, mode) in [
        ("empty", 0usize, 0o644),
        ("one", 1, 0o600),
        ("k1000", 1000, 0o755),
        ("big", 65536, 0o640),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, vec![b'x'; size]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::set_permissions(dir.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("one", dir.join("link")).unwrap();
    // Mode, size and name (and link target) are deterministic; owner, date
    // and the "total" line are not compared.
    let fields = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with("total"))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let name_at = if f[0].starts_with('l') {
                    f.len() - 3
                } else {
                    f.len() - 1
                };
                let size = if f[0].starts_with('d') { "-" } else { f[4] };
                format!("{} {} {}", f[0], size, f[name_at..].join(" "))
            })
            .collect()
    };
    let g = bb(&d, &["ls", "-l", "dir"]);
    g.assert_success();
    let h = host("ls")
        .args(["-l", "dir"])
        .dir(&d)
        .env("LC_ALL", "C")
        .run();
    h.assert_success();
    assert_eq!(
        fields(&g.stdout_str()),
        fields(&h.stdout_str()),
        "ls -l dir: mode, size, name"
    );
    assert_eq!(fields(&g.stdout_str()).len(), 6);
    same_as_host(&d, "ls dir; ls -a dir | wc -l; ls -1d dir/*");
}

#[test]
fn find() {
    let d = scratch_dir("bb-find");
    same_as_host(
        &d,
        "mkdir -p t/a/b t/c && touch t/a/x.txt t/a/b/y.txt t/c/z.dat t/top.txt && \
         find t | sort; find t -type f -name '*.txt' | sort; find t -type d | sort; \
         find t -mindepth 2 -type f | sort",
    );
}

#[test]
fn tar_roundtrip() {
    let d = scratch_dir("bb-tar");
    let big = big_file().to_str().unwrap().to_string();
    let setup = format!(
        "mkdir -p src/sub && head -c 300000 '{big}' > src/sub/data && echo small > src/small && \
         printf '' > src/empty && ln -s small src/link && chmod 750 src/sub"
    );
    host_sh(&d, &setup).assert_success();
    let check =
        "cd out && find . | sort && for f in $(find . -type f | sort); do md5sum $f; done && \
                 ls -l src/link | sed 's/.* -> //' && ls -ld src/sub | cut -c1-10";
    // busybox tar cf / tar xf, checked with the same commands on the host's
    // extraction of a host tar.
    let g = bb_sh(
        &d,
        &format!("tar cf a.tar src && mkdir out && tar xf a.tar -C out && {check}"),
    );
    g.assert_success();
    let hd = scratch_dir("bb-tar-host");
    host_sh(&hd, &setup).assert_success();
    let h = host_sh(
        &hd,
        &format!("tar cf a.tar src && mkdir out && tar xf a.tar -C out && {check}"),
    );
    h.assert_success();
    assert_same_text("busybox tar round trip", &g.stdout_str(), &h.stdout_str());
    // The host's tar reads busybox's archive.
    let l = host_sh(&d, "tar tf a.tar | sort");
    l.assert_success();
    let gl = bb_sh(&d, "tar tf a.tar | sort");
    gl.assert_success();
    assert_same_text("tar tf", &gl.stdout_str(), &l.stdout_str());
}

#[test]
fn wc() {
    let d = scratch_dir("bb-wc");
    let big = big_file().to_str().unwrap().to_string();
    std::fs::write(d.join("t.txt"), "one two three\nfour  five\n\nsix\n").unwrap();
    // Column widths differ between busybox and coreutils: compare the fields.
    for args in [
        vec!["wc", "t.txt"],
        vec!["wc", "-l", "-w", "-c", big.as_str()],
    ] {
        let g = bb(&d, &args);
        g.assert_success();
        let h = host(args[0]).args(&args[1..]).dir(&d).run();
        h.assert_success();
        let norm = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(norm(g.stdout_str()), norm(h.stdout_str()), "{args:?}");
    }
}

#[test]
fn expr() {
    let d = scratch_dir("bb-expr");
    same_as_host(
        &d,
        r"expr 7 \* 6; expr 17 % 5; expr -17 / 5; expr length hello; expr abc : 'a\(.\)'; \
          expr 3 \< 10; expr 9223372036854775807 - 1; expr substr hello 2 3 || true; expr 0 \| 5",
    );
}

/// Guest signal handlers: `wait` sleeps in `rt_sigsuspend` until SIGCHLD,
/// and a `trap` handler runs for a signal the shell sends itself.
#[test]
fn signals_wait_and_trap() {
    let d = scratch_dir("bb-signals");
    let g = bb_sh(&d, "sleep 0.1 & wait; echo done");
    g.assert_success();
    assert_eq!(g.stdout_str(), "done\n");
    same_as_host(&d, "trap 'echo got' USR1; kill -USR1 $$; echo after");
    same_as_host(
        &d,
        "sh -c 'kill -SEGV $$'; echo \"rc=$?\"; sh -c 'kill -USR2 $$'; echo \"rc=$?\"",
    );
}

/// A guest's address-space and data limits are the guest's: `ulimit -v`
/// must not starve the emulator's own allocations.
#[test]
fn ulimit_stays_in_the_guest() {
    let d = scratch_dir("bb-ulimit");
    same_as_host(
        &d,
        "ulimit -v 100000; ulimit -v; ulimit -d 50000; ulimit -d; echo hi",
    );
}

/// A guest that executes a program of the host's architecture runs it
/// natively (qemu-user without binfmt_misc does the same): popen() of the
/// host's /bin/sh, or a host tool named by absolute path.
#[test]
fn exec_of_a_host_program_runs_natively() {
    let d = scratch_dir("bb-host-exec");
    let g = bb_sh(&d, "/bin/true; echo \"rc=$?\"");
    g.assert_success();
    assert_eq!(g.stdout_str(), "rc=0\n");
}

/// `-D LOGFILE` across the guest's `execve`: the new program's cranemu
/// appends to the log (it truncated it, and wrote over what the parent
/// went on writing, leaving runs of NUL bytes), so the log holds the
/// shell's blocks and then the exec'd program's.
#[test]
fn the_log_file_survives_execve() {
    if runner().is_some() {
        return;
    }
    let log = scratch_dir("busybox-exec-log").join("d.log");
    let hello = repo().join("tests/guest/bin/hello");
    let script = format!("busybox true; exec {}", hello.display());
    let out = cranemu_cmd()
        .args(["run", "-d", "in_asm", "-D"])
        .arg(&log)
        .arg(busybox())
        .args(["sh", "-c", &script])
        .run();
    out.assert_success();
    assert!(out.stdout_str().contains("hello from cranemu"));
    let text = std::fs::read(&log).expect("log file written");
    assert!(!text.contains(&0), "NUL bytes in the log");
    let text = String::from_utf8_lossy(&text);
    let first = text.find("IN: ").expect("blocks logged");
    let hello_entry = text
        .find("IN: 0x1114c")
        .expect("the exec'd program's blocks");
    assert!(first < hello_entry, "the shell's blocks are gone");
}
