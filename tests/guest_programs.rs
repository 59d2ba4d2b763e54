//! Runs the project's own guest programs (tests/guest/bin, built from
//! tests/guest/src by tests/guest/Makefile) and compares their output with
//! tests/guest/expected/NAME.out, and with qemu-riscv64's when it is installed.
//!
//! `cargo test --release --test guest_programs`; see tests/common/mod.rs for
//! `CRANEMU_TEST_RUNNER` (validating these tests against a reference emulator).

mod common;

use common::*;
use std::path::PathBuf;

fn guest_bin(name: &str) -> PathBuf {
    repo().join("tests/guest/bin").join(name)
}

fn expected(name: &str) -> String {
    let p = repo()
        .join("tests/guest/expected")
        .join(format!("{name}.out"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Runs a guest program; checks exit 0, stdout against the expected file and,
/// if qemu-riscv64 is installed (and is not already the runner), against qemu.
fn check_program(name: &str, program: PathBuf, args: &[&str]) {
    let out = guest(&program).args(args).run();
    out.assert_success();
    assert_same_text(
        &format!("{name} vs tests/guest/expected/{name}.out"),
        &out.stdout_str(),
        &expected(name),
    );
    if runner().is_none() {
        // The same program with every block compiled before it first runs,
        // so that the JIT (not only the interpreter tier) runs all of it.
        let jit = guest_with(&["-jit-threshold", "0"], &program)
            .args(args)
            .run();
        jit.assert_success();
        assert_same_text(
            &format!("{name} (-jit-threshold 0) vs tests/guest/expected/{name}.out"),
            &jit.stdout_str(),
            &expected(name),
        );
        if let Some(qemu) = on_path("qemu-riscv64") {
            let q = host(qemu).arg(&program).args(args).run();
            q.assert_success();
            assert_same_text(
                &format!("{name} vs qemu-riscv64"),
                &out.stdout_str(),
                &q.stdout_str(),
            );
        }
    }
}

macro_rules! program_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            check_program(stringify!($name), guest_bin(stringify!($name)), &[]);
        }
    )*};
}

program_tests!(alu, muldiv, atomics, compressed, fp, csr, control, hello, bench);

/// A guest killed by signal N: status 128 + N, the signal's name on stderr,
/// and what it printed before dying.
fn check_signal_death(name: &str, signo: i32, message: &str, printed: &str) {
    let out = guest(guest_bin(name)).run();
    assert_eq!(
        out.status,
        128 + signo,
        "`{}`: expected status {} (killed by signal {signo}), got {}; stderr:\n{}",
        out.cmdline,
        128 + signo,
        out.status,
        out.stderr
    );
    // The message is cranemu's (qemu-riscv64 prints none; shells print it).
    if runner().is_none() {
        assert!(
            out.stderr.contains(message),
            "`{}`: stderr lacks {message:?}:\n{}",
            out.cmdline,
            out.stderr
        );
    }
    assert!(
        !out.stderr.contains("panicked"),
        "`{}` panicked:\n{}",
        out.cmdline,
        out.stderr
    );
    assert_eq!(out.stdout_str(), printed, "`{}`: stdout", out.cmdline);
}

// cranemu reports a guest killed by signal N as exit status 128 + N; either an
// exit code of 128 + N or cranemu dying of the same signal satisfies this.
#[test]
fn sigill() {
    check_signal_death(
        "sigill",
        4,
        "Illegal instruction",
        "about to execute an illegal instruction\n",
    );
}

#[test]
fn sigsegv() {
    check_signal_death(
        "sigsegv",
        11,
        "Segmentation fault",
        "about to load from address 0x8\n",
    );
}

/// Arguments reach the guest's argv.
#[test]
fn hello_with_arguments() {
    let out = guest(guest_bin("hello"))
        .args(["one", "two words", ""])
        .run();
    out.assert_success();
    let want = format!(
        "{}argv[1] = one\nargv[2] = two words\nargv[3] = \n",
        expected("hello")
    );
    assert_same_text("hello with arguments", &out.stdout_str(), &want);
}

/// `cranemu run` with no program runs the embedded default guest.
#[test]
fn default_guest() {
    if runner().is_some() {
        eprintln!("skipped under CRANEMU_TEST_RUNNER: checks cranemu's own command line");
        return;
    }
    let out = cranemu_cmd().arg("run").run();
    out.assert_success();
    assert_same_text(
        "cranemu run (default guest)",
        &out.stdout_str(),
        &expected("hello"),
    );
    // The embedded copy must be the committed build of tests/guest/src/hello.c.
    let embedded =
        std::fs::read(repo().join("src/default_guest.elf")).expect("src/default_guest.elf");
    let built = std::fs::read(guest_bin("hello")).expect("tests/guest/bin/hello");
    assert!(
        embedded == built,
        "src/default_guest.elf differs from tests/guest/bin/hello: run `make -C tests/guest`"
    );
}

/// glibc programs, linked statically at test time (not committed): skipped,
/// with the reason, when the riscv64 cross compiler is not installed.
/// Returns the built program.
fn build_libc_program(name: &str) -> Option<PathBuf> {
    build_libc_program_in(name, &format!("libc-{name}"))
}

/// As [`build_libc_program`], into scratch directory `scratch` (for tests
/// that run in parallel and build the same program).
fn build_libc_program_in(name: &str, scratch: &str) -> Option<PathBuf> {
    let Some(cc) = on_path("riscv64-linux-gnu-gcc") else {
        eprintln!("skipped: riscv64-linux-gnu-gcc not on PATH (apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)");
        return None;
    };
    let dir = scratch_dir(scratch);
    let exe = dir.join(name);
    let src = repo().join(format!("tests/guest/libc/{name}.c"));
    let cc_out = host(cc)
        .args(["-static", "-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .run();
    if cc_out.status != 0 && cc_out.stderr.contains("cannot find -lc") {
        eprintln!("skipped: no riscv64 glibc to link against (apt-get install libc6-dev-riscv64-cross)\n{}", cc_out.stderr);
        return None;
    }
    cc_out.assert_success();
    Some(exe)
}

#[test]
fn libc_printf() {
    if let Some(exe) = build_libc_program("printf") {
        check_program("printf", exe, &[]);
    }
}

/// Signal handlers: SA_SIGINFO, blocking, sigsuspend, alarm + pause,
/// SIGSEGV/SIGILL with siglongjmp, SA_RESETHAND, SIGCHLD, a child killed
/// by SIGSEGV, SIGSEGV and SIGBUS sent by a child.
#[test]
fn libc_signals() {
    if let Some(exe) = build_libc_program("signals") {
        check_program("signals", exe, &[]);
    }
}

/// SIGILL, SIGFPE and SIGTRAP sent by another process reach the guest's
/// handlers (`signals.c all`; cranemu only: qemu-riscv64 dies of them).
#[test]
fn libc_sent_fault_signals_reach_handlers() {
    if runner().is_some() {
        return;
    }
    if let Some(exe) = build_libc_program("signals") {
        let out = guest(&exe).arg("all").run();
        out.assert_success();
        let mut want = expected("signals").replace(
            "done\n",
            "sent 4: got=1 sig=4 code=0\nsent 8: got=1 sig=8 code=0\n\
             sent 5: got=1 sig=5 code=0\ndone\n",
        );
        if !want.ends_with('\n') {
            want.push('\n');
        }
        assert_same_text("signals all", &out.stdout_str(), &want);
    }
}

/// GCC's nested functions called through pointers: trampolines on the
/// stack, which the program's `PT_GNU_STACK` asks to be executable (it
/// faulted: the stack was mapped without `EXEC` whatever the header said).
#[test]
fn libc_nested() {
    if let Some(exe) = build_libc_program("nested") {
        check_program("nested", exe, &[]);
    }
}

/// Runs a guest program in both tiers (one, under a test runner) and
/// checks exit 0 and its output against tests/guest/expected/NAME.out
/// only, for programs whose output qemu-riscv64 does not give.
fn check_expected_only(name: &str, exe: &std::path::Path) {
    let mut runs = vec![guest(exe).run()];
    if runner().is_none() {
        runs.push(guest_with(&["-jit-threshold", "0"], exe).run());
    }
    for out in runs {
        out.assert_success();
        assert_same_text(
            &format!("{name} vs tests/guest/expected/{name}.out"),
            &out.stdout_str(),
            &expected(name),
        );
    }
}

/// Real-time signals queue (`sigqueue` while blocked, `kill` twice,
/// `sigwaitinfo`, `pthread_sigqueue`, a child queueing to its parent),
/// are delivered lowest signal first, one per `sigsuspend`, a thread's
/// own before the process's; and `rt_sigqueueinfo`'s errors; in both
/// tiers. Not compared with qemu-riscv64, whose 7.2 delivers a
/// higher real-time signal's queue before a lower one's; the expected
/// output is what the host's Linux gives the same program built for the
/// host, and the test checks that again where a host C compiler is
/// installed.
#[test]
fn libc_rtsignals() {
    let Some(exe) = build_libc_program("rtsignals") else {
        return;
    };
    check_expected_only("rtsignals", &exe);
    if let Some(cc) = on_path("cc") {
        let native = scratch_dir("libc-rtsignals").join("rtsignals-host");
        let built = host(cc)
            .args(["-O2", "-pthread", "-o"])
            .arg(&native)
            .arg(repo().join("tests/guest/libc/rtsignals.c"))
            .run();
        built.assert_success();
        let out = host(&native).run();
        out.assert_success();
        assert_same_text(
            "rtsignals built for the host, on the host's Linux, vs tests/guest/expected/rtsignals.out",
            &out.stdout_str(),
            &expected("rtsignals"),
        );
    }
}

/// Memory management the guest can see: `madvise(MADV_DONTNEED)` drops
/// pages (anonymous memory reads as zeros, a private file mapping as the
/// file), `mremap` moves a mapping with its contents and refuses an old
/// range with a hole in it (EFAULT, nothing around it changed) or absurd
/// sizes, and a loop that stores into the RWX page it runs from (which
/// livelocked: each store invalidated the loop, whose translation watched
/// the page again) runs to its end; and a deep recursion under a large
/// `ulimit -s`. In both tiers. Not compared with
/// qemu-riscv64, which dies of SIGSEGV on the `mremap` that shrinks a
/// range with a hole in it (7.2) and had `MADV_DONTNEED` right.
#[test]
fn libc_memory() {
    if let Some(exe) = build_libc_program("memory") {
        check_expected_only("memory", &exe);
        // The stack is as large as the `RLIMIT_STACK` the guest inherits
        // (it was 8 MiB whatever the limit): 20 MiB deep under
        // `ulimit -s 65536` (skipped where the hard limit forbids it).
        if runner().is_none() {
            let out = host("sh")
                .arg("-c")
                .arg(r#"ulimit -s 65536 2>/dev/null || exit 77; exec "$0" run "$1" deep 20"#)
                .arg(cranemu())
                .arg(&exe)
                .run();
            if out.status == 77 {
                eprintln!("skipped: `ulimit -s 65536` not allowed here");
            } else {
                out.assert_success();
                assert_eq!(
                    out.stdout_str(),
                    "recursed through 20 MiB of stack: 10240\n"
                );
            }
        }
    }
}

/// Guest threads (`clone` with `CLONE_THREAD`, futexes, `set_tid_address`
/// and the `clear_child_tid` wake-up behind `pthread_join`): glibc pthreads
/// with AMO and LR/SC counters, a mutex, a condition variable, a barrier,
/// thread-local storage, `pthread_exit` and a thread-directed signal; also
/// with every block interpreted (the interpreter tier's atomics are host
/// atomics too).
#[test]
fn libc_threads() {
    if let Some(exe) = build_libc_program("threads") {
        check_program("threads", exe.clone(), &[]);
        if runner().is_none() {
            let interp = guest_with(&["-jit-threshold", "1000000000"], &exe).run();
            interp.assert_success();
            assert_same_text(
                "threads (interpreter tier) vs tests/guest/expected/threads.out",
                &interp.stdout_str(),
                &expected("threads"),
            );
            // -stats with several vCPUs: the totals line, then a line per
            // vCPU and one for the compile thread, whose counts add up to
            // the totals.
            let stats = guest_with(&["-stats"], &exe).arg("counters").run();
            stats.assert_success();
            let field = |line: &str, name: &str| -> u64 {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
            };
            let total = stats
                .stderr
                .lines()
                .find(|l| l.starts_with("cranemu-stats:"))
                .expect("a cranemu-stats: line");
            let vcpus: Vec<&str> = stats
                .stderr
                .lines()
                .filter(|l| l.starts_with("cranemu-stats-vcpu:"))
                .collect();
            assert!(vcpus.len() > 4, "a line per vCPU:\n{}", stats.stderr);
            let compile = stats
                .stderr
                .lines()
                .find(|l| l.starts_with("cranemu-stats-compile:"))
                .expect("a cranemu-stats-compile: line");
            for name in [
                "translated_insns",
                "compiled_blocks",
                "interpreted_blocks",
                "misses",
            ] {
                let sum: u64 =
                    vcpus.iter().map(|l| field(l, name)).sum::<u64>() + field(compile, name);
                assert_eq!(sum, field(total, name), "{name}: per vCPU vs total");
            }
        }
    }
}

/// Sockets (the `net.rs` syscall family): TCP over 127.0.0.1 with a
/// client thread, UDP `sendto`/`recvfrom` and `sendmmsg`/`recvmmsg`, an
/// AF_UNIX socketpair passing a descriptor (`SCM_RIGHTS`) and credentials
/// through `sendmsg`/`recvmsg`, socket options, a receive timeout, and
/// `EFAULT` for bad addresses, iovecs and msghdrs; in both tiers.
#[test]
fn libc_sockets() {
    if let Some(exe) = build_libc_program("sockets") {
        check_program("sockets", exe.clone(), &[]);
        if runner().is_none() {
            let interp = guest_with(&["-jit-threshold", "1000000000"], &exe).run();
            interp.assert_success();
            assert_same_text(
                "sockets (interpreter tier) vs tests/guest/expected/sockets.out",
                &interp.stdout_str(),
                &expected("sockets"),
            );
        }
    }
}

/// Event and I/O-plumbing syscalls: eventfd counts, epoll on an eventfd,
/// a pipe and a timerfd (riscv64's 16-byte `struct epoll_event` with
/// 64-bit data), `EPOLL_CTL_MOD`/`DEL`, `epoll_pwait` with a mask,
/// timerfd set/get, inotify `IN_CREATE`, `memfd_create`, `splice` and
/// `tee`; in both tiers.
#[test]
fn libc_events() {
    if let Some(exe) = build_libc_program("events") {
        check_program("events", exe.clone(), &[]);
        if runner().is_none() {
            let interp = guest_with(&["-jit-threshold", "1000000000"], &exe).run();
            interp.assert_success();
            assert_same_text(
                "events (interpreter tier) vs tests/guest/expected/events.out",
                &interp.stdout_str(),
                &expected("events"),
            );
        }
    }
}

/// `exit()` in a thread other than the first ends the whole process with
/// its status (`exit_group`), while the first thread waits in `pause`.
#[test]
fn libc_thread_exit_ends_the_process() {
    if let Some(exe) = build_libc_program_in("threads", "libc-threads-exit") {
        let out = guest(&exe).arg("exit").run();
        assert_eq!(out.status, 7, "{}: {}", out.cmdline, out.stderr);
        assert_eq!(out.stdout_str(), "exit: worker calls exit(7)\n");
    }
}

/// Cross-thread self-modifying code: a thread rewrites a function another
/// keeps calling, with `__builtin___clear_cache` (the `riscv_flush_icache`
/// syscall) in between; the caller never runs a stale or torn version after
/// the new one is published. Also with every block interpreted.
#[test]
fn libc_smc_threads() {
    if let Some(exe) = build_libc_program("smc_threads") {
        check_program("smc_threads", exe.clone(), &[]);
        if runner().is_none() {
            let interp = guest_with(&["-jit-threshold", "1000000000"], &exe).run();
            interp.assert_success();
            assert_same_text(
                "smc_threads (interpreter tier) vs tests/guest/expected/smc_threads.out",
                &interp.stdout_str(),
                &expected("smc_threads"),
            );
        }
    }
}

/// `fork` from a multi-threaded guest while the other threads run (and keep
/// the engine translating): every child runs new code and exits with the
/// status its parent expects. (The engine holds its locks across the host
/// `fork()`; this checks forking from threads works, not that race, whose
/// window is too small to hit on purpose.)
#[test]
fn libc_fork_threads() {
    if let Some(exe) = build_libc_program("fork_threads") {
        check_program("fork_threads", exe, &[]);
    }
}

/// `mmap(MAP_SHARED)` across `fork`: children's stores to anonymous shared
/// memory reach their parent (stress-ng's bogo-op counters live there), a
/// shared mapping moved by `mremap` stays shared, stores through a shared
/// file mapping reach the file, a private mapping stays private, and a
/// robust mutex in shared memory survives its owner process.
#[test]
fn libc_shared_mmap() {
    if let Some(exe) = build_libc_program("shared_mmap") {
        check_program("shared_mmap", exe.clone(), &[]);
        // A robust process-shared mutex whose owning process exits holding
        // it: the next locker gets EOWNERDEAD. Not compared with
        // qemu-riscv64, which does not walk robust lists (its parent would
        // wait forever).
        if runner().is_none() {
            for threshold in ["100", "0"] {
                let out = guest_with(&["-jit-threshold", threshold], &exe)
                    .arg("robust")
                    .run();
                out.assert_success();
                assert_same_text(
                    "shared_mmap robust vs tests/guest/expected/shared_mmap_robust.out",
                    &out.stdout_str(),
                    &expected("shared_mmap_robust"),
                );
            }
        }
    }
}

/// Atomics under real concurrency with 2, 4, 8 and 16 threads (issue 7):
/// amoadd.w/.d and lr/sc counters with exact totals (and distinct returned
/// values), a ticket lock on amoadd.aq/.rl, a lock-free MPMC ring on lr/sc
/// and amoswap.rl, and pthread mutex, condition variables, rwlock and
/// barrier with 8 threads. The source is tests/guest/libc/atomics.c; its
/// expected output is libc_atomics.out, as atomics.out belongs to the
/// freestanding tests/guest/src/atomics.S. The interpreter tier runs every
/// part with a twentieth of the operations (`atomics all 20`), against
/// libc_atomics_div20.out.
#[test]
fn libc_atomics() {
    if let Some(exe) = build_libc_program("atomics") {
        check_program("libc_atomics", exe.clone(), &[]);
        if runner().is_none() {
            let interp = guest_with(&["-jit-threshold", "1000000000"], &exe)
                .args(["all", "20"])
                .run();
            interp.assert_success();
            assert_same_text(
                "atomics all 20 (interpreter tier) vs tests/guest/expected/libc_atomics_div20.out",
                &interp.stdout_str(),
                &expected("libc_atomics_div20"),
            );
        }
    }
}

/// RVWMO litmus tests on two threads, 10^5 runs each (issue 7): message
/// passing, store buffering and load buffering with the fences and aq/rl
/// annotations that forbid their relaxed outcomes; no forbidden outcome
/// may appear. Store buffering is the one x86-64 itself produces, where a
/// fence that orders a store before a later load (`fence rw,rw`, `fence
/// w,r`, an `.aq` AMO, `lr.aqrl`) is not lowered to a full host fence. The
/// interpreter tier, much slower, runs 2000 of each.
#[test]
fn libc_litmus() {
    if let Some(exe) = build_libc_program("litmus") {
        check_program("litmus", exe.clone(), &[]);
        if runner().is_none() {
            let interp = guest_with(&["-jit-threshold", "1000000000"], &exe)
                .arg("2000")
                .run();
            interp.assert_success();
            assert_same_text(
                "litmus 2000 (interpreter tier) vs tests/guest/expected/litmus.out",
                &interp.stdout_str(),
                &expected("litmus").replacen("100000 runs", "2000 runs", 1),
            );
        }
    }
}

/// `/proc` describes the guest (issue 11): `/proc/self/maps` and
/// `/proc/PID/maps` list guest mappings (code `r-x`, data `rw-`, the stack
/// `rw-` and `[stack]`, all below 2^38, in address order),
/// `/proc/cpuinfo` has riscv64 harts (`isa rv64...`, `mmu`), and
/// `/proc/self/auxv` is the guest's auxiliary vector. Source:
/// tests/guest/libc/procfs.c. Run on cranemu only, in both tiers: not
/// compared with qemu-riscv64 (7.2), whose guest space is wider than
/// 2^38 (its maps list addresses above it) and whose `/proc/cpuinfo` for
/// riscv64 is the host's, so "all below 2^38", "isa starts with rv64" and
/// "mmu present" differ; skipped under `CRANEMU_TEST_RUNNER` for the same
/// reason.
#[test]
fn libc_procfs() {
    if runner().is_some() {
        return;
    }
    if let Some(exe) = build_libc_program("procfs") {
        // The default tiers, then every block compiled before it runs.
        for flags in [&[][..], &["-jit-threshold", "0"][..]] {
            let out = guest_with(flags, &exe).run();
            out.assert_success();
            assert_same_text(
                &format!("procfs {flags:?} vs tests/guest/expected/procfs.out"),
                &out.stdout_str(),
                &expected("procfs"),
            );
        }
    }
}

/// The Linux ABI a real userland needs (issue 11): extended attributes
/// (`shutil.copy2`), `preadv`/`pwritev`(2), the `set*id` calls,
/// scheduler parameters, `clock_settime`'s errors, a pty through
/// `/dev/ptmx` (`TIOCGPTN`), `MAP_SHARED` file stores reaching the file,
/// memfd seals, `signalfd`, a POSIX timer, `mlock`/`mincore`, `getcpu`,
/// `SIOCGIFINDEX`, and `/proc/self/exe` (a link for `lstat`),
/// `/proc/self/stat` (the program's `comm`) and `/proc/self/cmdline`.
/// Source: tests/guest/libc/abi.c; compared with qemu-riscv64 too.
#[test]
fn libc_abi() {
    if let Some(exe) = build_libc_program("abi") {
        check_program("abi", exe, &[]);
    }
}

/// A guest started with descriptor 0 (or 1) closed finds it closed: the
/// emulator's runtime must not leave its `/dev/null` there.
#[test]
fn libc_abi_closed_std_fds() {
    let Some(exe) = build_libc_program_in("abi", "libc-abi-fds") else {
        return;
    };
    for (redirect, want) in [
        ("<&-", "fd 0 closed\nfd 1 open\nfd 2 open\n"),
        (">&-", "fd 0 open\nfd 1 closed\nfd 2 open\n"),
    ] {
        let script = format!("exec \"$@\" {redirect}");
        let mut cmd = host("sh").args(["-c", &script, "sh"]);
        cmd = match runner() {
            Some(r) => cmd.arg(r),
            None => cmd.arg(cranemu()).arg("run"),
        };
        let out = cmd.arg(&exe).arg("fds").run();
        out.assert_success();
        // With stdout closed the program writes to stderr.
        let text = format!("{}{}", out.stdout_str(), out.stderr);
        assert_same_text(&format!("abi fds with {redirect}"), &text, want);
    }
}

/// `fexecve` (`execveat` with `AT_EMPTY_PATH`) and `execveat` relative to
/// a directory descriptor run the program (cranemu only: qemu-riscv64 7.2
/// has no `execveat`).
#[test]
fn libc_abi_fexecve_and_execveat() {
    if runner().is_some() {
        return;
    }
    let Some(exe) = build_libc_program_in("abi", "libc-abi-execveat") else {
        return;
    };
    let out = guest(&exe).arg("fexecve").arg(&exe).arg("fds").run();
    out.assert_success();
    assert_same_text(
        "abi fexecve abi fds",
        &out.stdout_str(),
        "fd 0 open\nfd 1 open\nfd 2 open\n",
    );
    let dir = exe.parent().unwrap();
    let name = exe.file_name().unwrap();
    let out = guest(&exe)
        .arg("execveat")
        .arg(dir)
        .arg(name)
        .arg("fds")
        .run();
    out.assert_success();
    assert_same_text(
        "abi execveat DIR abi fds",
        &out.stdout_str(),
        "fd 0 open\nfd 1 open\nfd 2 open\n",
    );
}

/// `execve` of a `#!` script whose interpreter cannot run fails in the
/// guest, which goes on, with the kernel's errno: not a program
/// (`ENOEXEC`), not executable (`EACCES`), missing (`ENOENT`).
#[test]
fn libc_abi_exec_script_with_a_bad_interpreter() {
    let Some(exe) = build_libc_program_in("abi", "libc-abi-badinterp") else {
        return;
    };
    let dir = scratch_dir("abi-badinterp");
    let write = |name: &str, text: &str, mode: u32| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        p
    };
    let garbage = write("garbage", "not a program\n", 0o755);
    let noexec = write("noexec", "#!/bin/sh\n", 0o644);
    let cases = [
        (format!("#!{}\n", garbage.display()), "Exec format error"),
        (format!("#!{}\n", noexec.display()), "Permission denied"),
        (
            format!("#!{}/missing\n", dir.display()),
            "No such file or directory",
        ),
    ];
    for (i, (text, errno)) in cases.iter().enumerate() {
        let script = write(&format!("script{i}"), text, 0o755);
        let out = guest(&exe).arg("exec").arg(&script).run();
        assert_eq!(out.status, 1, "{text}: {}", out.stderr);
        assert_same_text(
            text,
            &out.stdout_str(),
            &format!("execv {}: {errno}\n", script.display()),
        );
    }
}

/// `execve` of a `#!/bin/sh` script whose interpreter exists only on the
/// host (no `-L` sysroot holds /bin/sh): the host runs it, as a host ELF
/// exec'd directly does (qemu-riscv64 passes both to the host kernel).
#[test]
fn libc_abi_exec_script_with_host_interpreter() {
    let Some(exe) = build_libc_program_in("abi", "libc-abi-exec") else {
        return;
    };
    let dir = scratch_dir("abi-script");
    let script = dir.join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"script $# args: $*\"\n").unwrap();
    let mut perm = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).unwrap();
    let out = guest(&exe)
        .arg("exec")
        .arg(&script)
        .args(["one", "two"])
        .run();
    out.assert_success();
    assert_same_text(
        "abi exec script.sh",
        &out.stdout_str(),
        "script 2 args: one two\n",
    );
    // And run directly by cranemu, as `cranemu run script.sh`.
    if runner().is_none() {
        let out = guest(&script).args(["three"]).run();
        out.assert_success();
        assert_same_text(
            "cranemu run script.sh",
            &out.stdout_str(),
            "script 1 args: three\n",
        );
    }
}

/// Syscalls no family implements are `ENOSYS`; `-d unimp` reports each
/// number once (QEMU's `LOG_UNIMP`), `-strace` shows every call.
#[test]
fn libc_abi_unimplemented_syscalls() {
    let Some(exe) = build_libc_program_in("abi", "libc-abi-unimp") else {
        return;
    };
    let want = "syscall 500 = -1 ENOSYS\nsyscall 500 = -1 ENOSYS\nsyscall 501 = -1 ENOSYS\n";
    let out = guest(&exe).arg("unimp").run();
    out.assert_success();
    assert_same_text("abi unimp", &out.stdout_str(), want);
    if runner().is_some() {
        return;
    }
    let out = guest_with(&["-d", "unimp"], &exe).arg("unimp").run();
    out.assert_success();
    assert_same_text("abi unimp (-d unimp)", &out.stdout_str(), want);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("unimplemented syscall"))
        .collect();
    assert_eq!(
        warnings,
        [
            "cranemu: unimplemented syscall 500 (ENOSYS)",
            "cranemu: unimplemented syscall 501 (ENOSYS)"
        ],
        "stderr:\n{}",
        out.stderr
    );
    let out = guest_with(&["-strace"], &exe).arg("unimp").run();
    out.assert_success();
    let lines = out
        .stderr
        .lines()
        .filter(|l| l.contains("Unknown syscall 50"))
        .count();
    assert_eq!(lines, 3, "one -strace line per call:\n{}", out.stderr);
}
