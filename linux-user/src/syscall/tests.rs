//! Syscall-layer tests: each runs syscalls through [`Process::do_syscall`],
//! as the guest does, over a small guest address space.

use cranemu_softmmu::user::{Mapping, Prot, PAGE_SIZE};

use super::*;

fn setup() -> (Process, CpuState) {
    let space = Arc::new(GuestSpace::new().unwrap());
    space.map(0x10000, 0x10000, Prot::RW, true).unwrap();
    space.map(0x20000, 0x1000, Prot::READ, true).unwrap();
    space.set_mmap_top(0x10_0000_0000);
    let p = Process::new(
        space,
        Options::default(),
        Some(PathBuf::from("/guest/prog")),
        0x100000,
    );
    (p, CpuState::default())
}

fn call(p: &mut Process, cpu: &mut CpuState, n: u64, args: &[u64]) -> i64 {
    cpu.x[17] = n;
    for (i, &v) in args.iter().enumerate() {
        cpu.x[10 + i] = v;
    }
    let action = p.do_syscall(cpu);
    assert!(matches!(action, SyscallAction::Continue), "{action:?}");
    cpu.x[10] as i64
}

#[test]
fn write_and_read_through_a_pipe() {
    let (mut p, mut cpu) = setup();
    assert_eq!(call(&mut p, &mut cpu, nr::PIPE2, &[0x10000, 0]), 0);
    let rfd = u64::from(p.space.read_u32(0x10000).unwrap());
    let wfd = u64::from(p.space.read_u32(0x10004).unwrap());
    p.space.write(0x11000, b"hello").unwrap();
    assert_eq!(call(&mut p, &mut cpu, nr::WRITE, &[wfd, 0x11000, 5]), 5);
    // Reading into a read-only page is EFAULT, not a host fault.
    assert_eq!(
        call(&mut p, &mut cpu, nr::READ, &[rfd, 0x20000, 5]),
        -(libc::EFAULT as i64)
    );
    assert_eq!(call(&mut p, &mut cpu, nr::READ, &[rfd, 0x12000, 5]), 5);
    let mut b = [0; 5];
    p.space.read(0x12000, &mut b).unwrap();
    assert_eq!(&b, b"hello");
    // Unmapped source buffer.
    assert_eq!(
        call(&mut p, &mut cpu, nr::WRITE, &[wfd, 0x9000_0000, 5]),
        -(libc::EFAULT as i64)
    );
    call(&mut p, &mut cpu, nr::CLOSE, &[rfd]);
    call(&mut p, &mut cpu, nr::CLOSE, &[wfd]);
}

#[test]
fn openat_fstat_getcwd_uname() {
    let (mut p, mut cpu) = setup();
    let dir = std::env::temp_dir().join(format!("cranemu-lu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("f.txt");
    std::fs::write(&file, b"0123456789").unwrap();
    let mut path = file.as_os_str().as_bytes().to_vec();
    path.push(0);
    p.space.write(0x13000, &path).unwrap();
    let fd = call(
        &mut p,
        &mut cpu,
        nr::OPENAT,
        &[libc::AT_FDCWD as u64, 0x13000, 0, 0],
    );
    assert!(fd >= 0, "{fd}");
    assert_eq!(call(&mut p, &mut cpu, nr::FSTAT, &[fd as u64, 0x14000]), 0);
    let size = p.space.read_u64(0x14000 + 48).unwrap();
    assert_eq!(size, 10);
    let mode = p.space.read_u32(0x14000 + 16).unwrap();
    assert_eq!(mode & libc::S_IFMT, libc::S_IFREG);
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::NEWFSTATAT,
            &[libc::AT_FDCWD as u64, 0x13000, 0x14100, 0]
        ),
        0
    );
    assert_eq!(p.space.read_u64(0x14100 + 48).unwrap(), 10);
    assert_eq!(call(&mut p, &mut cpu, nr::CLOSE, &[fd as u64]), 0);
    // Missing file.
    p.space.write(0x13000, b"/nonexistent/x\0").unwrap();
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::OPENAT,
            &[libc::AT_FDCWD as u64, 0x13000, 0, 0]
        ),
        -(libc::ENOENT as i64)
    );
    // Bad path pointer.
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::OPENAT,
            &[libc::AT_FDCWD as u64, 0x7777_0000, 0, 0]
        ),
        -(libc::EFAULT as i64)
    );
    let n = call(&mut p, &mut cpu, nr::GETCWD, &[0x15000, 4096]);
    assert!(n > 0);
    let cwd = p.space.read_cstr(0x15000, 4096).unwrap();
    assert_eq!(cwd, std::env::current_dir().unwrap().as_os_str().as_bytes());
    assert_eq!(call(&mut p, &mut cpu, nr::UNAME, &[0x16000]), 0);
    assert_eq!(p.space.read_cstr(0x16000 + 4 * 65, 65).unwrap(), b"riscv64");
    assert_eq!(p.space.read_cstr(0x16000, 65).unwrap(), b"Linux");
    // readlinkat /proc/self/exe is the guest program.
    p.space.write(0x13000, b"/proc/self/exe\0").unwrap();
    let n = call(
        &mut p,
        &mut cpu,
        nr::READLINKAT,
        &[libc::AT_FDCWD as u64, 0x13000, 0x17000, 100],
    );
    assert_eq!(n, 11);
    let mut b = [0; 11];
    p.space.read(0x17000, &mut b).unwrap();
    assert_eq!(&b, b"/guest/prog");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn brk_grows_and_shrinks() {
    let (mut p, mut cpu) = setup();
    assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0]), 0x100000);
    assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0x123456]), 0x123456);
    assert_eq!(p.space.prot_of(0x123000), Some(Prot::RW));
    p.space.write_u64(0x123400, 7).unwrap();
    assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0x101000]), 0x101000);
    assert_eq!(p.space.prot_of(0x123000), None);
    // Absurd values leave it unchanged.
    assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[u64::MAX]), 0x101000);
    assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0x1000]), 0x101000);
}

#[test]
fn mmap_anonymous_file_and_errors() {
    let (mut p, mut cpu) = setup();
    let a = call(
        &mut p,
        &mut cpu,
        nr::MMAP,
        &[0, 0x3000, 3, 0x22, u64::MAX, 0],
    );
    assert!(a > 0 && (a as u64).is_multiple_of(PAGE_SIZE));
    assert_eq!(p.space.prot_of(a as u64), Some(Prot::RW));
    assert_eq!(call(&mut p, &mut cpu, nr::MUNMAP, &[a as u64, 0x3000]), 0);
    assert_eq!(
        call(&mut p, &mut cpu, nr::MMAP, &[0, 0, 3, 0x22, u64::MAX, 0]),
        -(libc::EINVAL as i64)
    );
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::MMAP,
            &[0x1001, 0x1000, 3, 0x32, u64::MAX, 0]
        ),
        -(libc::EINVAL as i64)
    );
    assert!(
        call(
            &mut p,
            &mut cpu,
            nr::MMAP,
            &[0, u64::MAX, 3, 0x22, u64::MAX, 0]
        ) < 0
    );
    // Fixed noreplace over an existing mapping.
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::MMAP,
            &[0x10000, 0x1000, 3, 0x100022, u64::MAX, 0]
        ),
        -(libc::EEXIST as i64)
    );
    // A file mapping holds the file's bytes, read-only.
    let file = std::env::temp_dir().join(format!("cranemu-mmap-{}", std::process::id()));
    std::fs::write(&file, b"file bytes").unwrap();
    let f = std::fs::File::open(&file).unwrap();
    use std::os::fd::AsRawFd;
    let a = call(
        &mut p,
        &mut cpu,
        nr::MMAP,
        &[0, 10, 1, 2, f.as_raw_fd() as u64, 0],
    );
    assert!(a > 0);
    let mut b = [0; 12];
    p.space.read(a as u64, &mut b).unwrap();
    assert_eq!(&b, b"file bytes\0\0");
    assert_eq!(p.space.prot_of(a as u64), Some(Prot::READ));
    assert_eq!(
        call(&mut p, &mut cpu, nr::MPROTECT, &[a as u64, 0x1000, 3]),
        0
    );
    assert_eq!(p.space.prot_of(a as u64), Some(Prot::RW));
    assert_eq!(
        call(&mut p, &mut cpu, nr::MPROTECT, &[0x5000_0000, 0x1000, 3]),
        -(libc::ENOMEM as i64)
    );
    // It is the file, not a copy: a write by another (through the file)
    // shows in the mapping, on the pages the guest has not written; the
    // guest's own writes stay private (copy on write).
    let a2 = call(
        &mut p,
        &mut cpu,
        nr::MMAP,
        &[0, 10, 1, 2, f.as_raw_fd() as u64, 0],
    );
    assert!(a2 > 0);
    std::fs::write(&file, b"FILE BYTES").unwrap();
    p.space.read(a2 as u64, &mut b).unwrap();
    assert_eq!(&b, b"FILE BYTES\0\0");
    p.space.write(a as u64, b"mine").unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"FILE BYTES");
    p.space.read(a as u64, &mut b).unwrap();
    assert_eq!(&b, b"mine BYTES\0\0");
    // A descriptor open only for writing cannot be mapped.
    let wo = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::MMAP,
            &[0, 10, 1, 2, wo.as_raw_fd() as u64, 0],
        ),
        -(libc::EACCES as i64)
    );
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn unknown_syscall_is_enosys_and_exit_reports_status() {
    let (mut p, mut cpu) = setup();
    assert_eq!(call(&mut p, &mut cpu, 9999, &[]), -(libc::ENOSYS as i64));
    assert_eq!(
        call(&mut p, &mut cpu, nr::CLONE3, &[0, 0]),
        -(libc::ENOSYS as i64)
    );
    cpu.x[17] = nr::EXIT_GROUP;
    cpu.x[10] = 0x1_0203;
    let action = p.do_syscall(&mut cpu);
    assert!(matches!(action, SyscallAction::Exit(3)), "{action:?}");
    cpu.x[17] = nr::EXIT;
    let action = p.do_syscall(&mut cpu);
    assert!(matches!(action, SyscallAction::ThreadExit(3)), "{action:?}");
}

/// `clone` with `CLONE_THREAD` (glibc's pthread_create flags) describes a
/// new thread for the execution loop: a0 = 0, its stack and TLS, the pc
/// after the `ecall`; the thread counts among the process's. Unsupported
/// thread flag sets are EINVAL.
#[test]
fn clone_thread_describes_the_new_thread() {
    let (mut p, mut cpu) = setup();
    const PTHREAD_FLAGS: u64 = 0x3d0f00; // VM FS FILES SIGHAND THREAD SYSVSEM SETTLS PARENT_SETTID CHILD_CLEARTID
    cpu.pc = 0x1000;
    cpu.x[10] = PTHREAD_FLAGS;
    cpu.x[11] = 0x7000_0000; // stack
    cpu.x[12] = 0x6000_0010; // parent_tid
    cpu.x[13] = 0x5000_0000; // tls
    cpu.x[14] = 0x6000_0010; // child_tid
    cpu.x[17] = nr::CLONE;
    match p.do_syscall(&mut cpu) {
        SyscallAction::NewThread(mut t) => {
            assert_eq!(t.cpu.x[10], 0);
            assert_eq!(t.cpu.x[2], 0x7000_0000);
            assert_eq!(t.cpu.x[4], 0x5000_0000);
            assert_eq!(t.cpu.pc, 0x1004);
            assert_eq!(t.parent_tid, Some(0x6000_0010));
            assert_eq!(t.child_tid, None);
            // The first thread is still alive: not the last one.
            assert!(!t.process.end_thread());
        }
        other => panic!("{other:?}"),
    }
    // CLONE_THREAD without CLONE_VM | CLONE_SIGHAND.
    assert_eq!(
        call(&mut p, &mut cpu, nr::CLONE, &[0x10000, 0, 0, 0, 0]),
        -(libc::EINVAL as i64)
    );
}

#[test]
fn sigaction_is_stored() {
    let (mut p, mut cpu) = setup();
    let act = TargetSigaction {
        handler: 0x12345,
        flags: 0,
        mask: 0,
    };
    p.space.write(0x18000, &act.to_bytes()).unwrap();
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::RT_SIGACTION,
            &[libc::SIGUSR1 as u64, 0x18000, 0, 8]
        ),
        0
    );
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::RT_SIGACTION,
            &[libc::SIGUSR1 as u64, 0, 0x18100, 8]
        ),
        0
    );
    let mut b = [0; 24];
    p.space.read(0x18100, &mut b).unwrap();
    assert_eq!(TargetSigaction::from_bytes(&b), act);
    assert_eq!(
        call(
            &mut p,
            &mut cpu,
            nr::RT_SIGACTION,
            &[libc::SIGKILL as u64, 0x18000, 0, 8]
        ),
        -(libc::EINVAL as i64)
    );
    assert_eq!(
        call(&mut p, &mut cpu, nr::RT_SIGACTION, &[99, 0, 0, 8]),
        -(libc::EINVAL as i64)
    );
    // Self-signal with a guest handler is pending (for the execution
    // loop to deliver), not fatal.
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() } as u64;
    assert_eq!(
        call(&mut p, &mut cpu, nr::KILL, &[me, libc::SIGUSR1 as u64]),
        0
    );
}

#[test]
fn writev_gathers() {
    let (mut p, mut cpu) = setup();
    assert_eq!(call(&mut p, &mut cpu, nr::PIPE2, &[0x10000, 0]), 0);
    let rfd = u64::from(p.space.read_u32(0x10000).unwrap());
    let wfd = u64::from(p.space.read_u32(0x10004).unwrap());
    p.space.write(0x11000, b"ab").unwrap();
    p.space.write(0x11100, b"cde").unwrap();
    let mut iov = Vec::new();
    for (b, l) in [(0x11000u64, 2u64), (0x11100, 3)] {
        iov.extend_from_slice(&b.to_le_bytes());
        iov.extend_from_slice(&l.to_le_bytes());
    }
    p.space.write(0x11200, &iov).unwrap();
    assert_eq!(call(&mut p, &mut cpu, nr::WRITEV, &[wfd, 0x11200, 2]), 5);
    assert_eq!(call(&mut p, &mut cpu, nr::READ, &[rfd, 0x12000, 16]), 5);
    let mut b = [0; 5];
    p.space.read(0x12000, &mut b).unwrap();
    assert_eq!(&b, b"abcde");
    call(&mut p, &mut cpu, nr::CLOSE, &[rfd]);
    call(&mut p, &mut cpu, nr::CLOSE, &[wfd]);
}

/// Writes a guest `struct msghdr` at `at` (no name) with `iovlen` iovecs
/// at `iov` and the control buffer `control`/`controllen`.
fn put_msghdr(p: &Process, at: u64, iov: u64, iovlen: u64, control: u64, controllen: u64) {
    let mut m = [0u8; 56];
    m[16..24].copy_from_slice(&iov.to_le_bytes());
    m[24..32].copy_from_slice(&iovlen.to_le_bytes());
    m[32..40].copy_from_slice(&control.to_le_bytes());
    m[40..48].copy_from_slice(&controllen.to_le_bytes());
    p.space.write(at, &m).unwrap();
}

#[test]
fn socketpair_sendmsg_recvmsg_and_bad_pointers() {
    let (mut p, mut cpu) = setup();
    let efault = -(libc::EFAULT as i64);
    let sv = 0x10000;
    let r = call(
        &mut p,
        &mut cpu,
        nr::SOCKETPAIR,
        &[libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, sv],
    );
    assert_eq!(r, 0);
    let s0 = u64::from(p.space.read_u32(sv).unwrap());
    let s1 = u64::from(p.space.read_u32(sv + 4).unwrap());

    // One iovec over "hello"; no control data.
    p.space.write(0x11000, b"hello").unwrap();
    p.space.write_u64(0x11100, 0x11000).unwrap();
    p.space.write_u64(0x11108, 5).unwrap();
    put_msghdr(&p, 0x11200, 0x11100, 1, 0, 0);
    assert_eq!(call(&mut p, &mut cpu, nr::SENDMSG, &[s0, 0x11200, 0]), 5);

    // An iovec over unmapped memory, an unmapped iovec array, an unmapped
    // msghdr: EFAULT, not a host fault.
    p.space.write_u64(0x11300, 0x9000_0000).unwrap();
    p.space.write_u64(0x11308, 5).unwrap();
    put_msghdr(&p, 0x11400, 0x11300, 1, 0, 0);
    assert_eq!(
        call(&mut p, &mut cpu, nr::SENDMSG, &[s0, 0x11400, 0]),
        efault
    );
    put_msghdr(&p, 0x11400, 0x9000_0000, 1, 0, 0);
    assert_eq!(
        call(&mut p, &mut cpu, nr::SENDMSG, &[s0, 0x11400, 0]),
        efault
    );
    assert_eq!(
        call(&mut p, &mut cpu, nr::SENDMSG, &[s0, 0x9000_0000, 0]),
        efault
    );
    // recvmsg writes its msghdr back: a read-only one is EFAULT (and the
    // datagram stays queued).
    assert_eq!(
        call(&mut p, &mut cpu, nr::RECVMSG, &[s1, 0x20000, 0]),
        efault
    );
    // A receive iovec on a read-only page.
    p.space.write_u64(0x11500, 0x20000).unwrap();
    p.space.write_u64(0x11508, 16).unwrap();
    put_msghdr(&p, 0x11600, 0x11500, 1, 0, 0);
    assert_eq!(
        call(&mut p, &mut cpu, nr::RECVMSG, &[s1, 0x11600, 0]),
        efault
    );

    // The datagram arrives; msg_controllen and msg_flags are written back.
    p.space.write_u64(0x11500, 0x12000).unwrap();
    put_msghdr(&p, 0x11600, 0x11500, 1, 0x13000, 64);
    p.space.write_u32(0x11600 + 48, 0xffff).unwrap();
    assert_eq!(call(&mut p, &mut cpu, nr::RECVMSG, &[s1, 0x11600, 0]), 5);
    let mut b = [0; 5];
    p.space.read(0x12000, &mut b).unwrap();
    assert_eq!(&b, b"hello");
    assert_eq!(p.space.read_u64(0x11600 + 40).unwrap(), 0);
    assert_eq!(p.space.read_u32(0x11600 + 48).unwrap(), 0);

    // getsockopt writes the value and its length; an unmapped optlen is
    // EFAULT.
    p.space.write_u32(0x14000, 64).unwrap();
    let r = call(
        &mut p,
        &mut cpu,
        nr::GETSOCKOPT,
        &[
            s0,
            libc::SOL_SOCKET as u64,
            libc::SO_TYPE as u64,
            0x14100,
            0x14000,
        ],
    );
    assert_eq!(r, 0);
    assert_eq!(p.space.read_u32(0x14000).unwrap(), 4);
    assert_eq!(p.space.read_u32(0x14100).unwrap(), libc::SOCK_DGRAM as u32);
    let r = call(
        &mut p,
        &mut cpu,
        nr::GETSOCKOPT,
        &[
            s0,
            libc::SOL_SOCKET as u64,
            libc::SO_TYPE as u64,
            0x14100,
            0x9000_0000,
        ],
    );
    assert_eq!(r, efault);
    // An address longer than sockaddr_storage is EINVAL, as on Linux.
    let r = call(&mut p, &mut cpu, nr::BIND, &[s0, 0x14200, 1 << 20]);
    assert_eq!(r, -(libc::EINVAL as i64));
    call(&mut p, &mut cpu, nr::CLOSE, &[s0]);
    call(&mut p, &mut cpu, nr::CLOSE, &[s1]);
}

/// Opens guest path `path` read-only through `openat` and reads it whole.
fn read_guest_file(p: &mut Process, cpu: &mut CpuState, path: &str) -> Vec<u8> {
    let mut c = path.as_bytes().to_vec();
    c.push(0);
    p.space.write(0x13000, &c).unwrap();
    let fd = call(p, cpu, nr::OPENAT, &[libc::AT_FDCWD as u64, 0x13000, 0, 0]);
    assert!(fd >= 0, "{path}: {fd}");
    let mut out = Vec::new();
    loop {
        let n = call(p, cpu, nr::READ, &[fd as u64, 0x14000, 0x1000]);
        assert!(n >= 0, "{path}: read {n}");
        if n == 0 {
            break;
        }
        let mut b = vec![0; n as usize];
        p.space.read(0x14000, &mut b).unwrap();
        out.extend_from_slice(&b);
    }
    call(p, cpu, nr::CLOSE, &[fd as u64]);
    out
}

#[test]
fn proc_self_maps_lists_guest_mappings() {
    let (mut p, mut cpu) = setup();
    // The brk area (starts at 0x100000 in `setup`) grows by two pages.
    assert_eq!(call(&mut p, &mut cpu, nr::BRK, &[0x102000]), 0x102000);
    let stack = crate::loader::STACK_TOP - 0x2000;
    p.space.map(stack, 0x2000, Prot::RW, true).unwrap();
    let text = String::from_utf8(read_guest_file(&mut p, &mut cpu, "/proc/self/maps")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0], "00010000-00020000 rw-p 00000000 00:00 0 ");
    assert_eq!(lines[1], "00020000-00021000 r--p 00000000 00:00 0 ");
    assert!(lines[2].starts_with("00100000-00102000 rw-p 00000000 00:00 0 "));
    assert!(lines[2].ends_with(" [heap]") && lines[2].len() == 73 + 6);
    assert!(lines[3].starts_with(&format!("{:08x}-{:08x} rw-p", stack, stack + 0x2000)));
    assert!(lines[3].ends_with(" [stack]"));
    // The same through /proc/<pid>/ and /proc/thread-self/.
    let own = format!("/proc/{}/maps", std::process::id());
    assert_eq!(read_guest_file(&mut p, &mut cpu, &own), text.as_bytes());
    let ts = read_guest_file(&mut p, &mut cpu, "/proc/thread-self/maps");
    assert_eq!(ts, text.as_bytes());
}

#[test]
fn proc_self_maps_names_files_from_the_hosts_maps() {
    let host = "\
55d0c0000000-55d0c0100000 r-xp 00000000 fd:01 77 /usr/bin/cranemu
7f0000010000-7f0000018000 r-xp 00001000 fd:01 42                         /x/prog one
7f0000018000-7f0000019000 rw-p 00000000 00:00 0 
7f0000100000-7f0000101000 rw-s 00000000 00:01 9                          /dev/zero (deleted)
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
";
    let files = procfs::parse_host_maps(host);
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(files[1].path, "/x/prog one");
    assert_eq!((files[1].offset, files[1].inode), (0x1000, 42));
    let base = 0x7f00_0000_0000;
    let m = |start, end, prot, shared| Mapping {
        start,
        end,
        prot,
        shared,
        file: false,
    };
    let text = procfs::format_maps(
        &[
            m(0x10000, 0x20000, Prot::READ | Prot::EXEC, false),
            m(0x100000, 0x101000, Prot::RW, true),
        ],
        0,
        (0, 0),
        &files,
        base,
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("00010000-00018000 r-xp 00001000 fd:01 42 "),
        "{text}"
    );
    assert!(
        lines[0].ends_with(" /x/prog one") && lines[0].len() == 73 + 11,
        "{text}"
    );
    assert_eq!(lines[1], "00018000-00020000 r-xp 00000000 00:00 0 ");
    assert!(
        lines[2].starts_with("00100000-00101000 rw-s 00000000 00:01 9 "),
        "{text}"
    );
    assert!(lines[2].ends_with(" /dev/zero (deleted)"), "{text}");
}

#[test]
fn proc_cpuinfo_and_auxv_describe_the_guest() {
    let (mut p, mut cpu) = setup();
    let text = String::from_utf8(read_guest_file(&mut p, &mut cpu, "/proc/cpuinfo")).unwrap();
    // One block per online host CPU, by its host number (what the guest
    // sees in /sys/devices/system/cpu/online, which is the host's).
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| procfs::parse_cpulist(&t));
    let first = online.as_ref().map_or(0, |c| c[0]);
    assert!(text.starts_with(&format!(
        "processor\t: {first}\nhart\t\t: {first}\nisa\t\t: rv64imafdc_zicntr_zicsr_zifencei_zihpm\n\
         mmu\t\t: sv39\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0\n\n"
    )));
    assert!(!text.contains("x86") && !text.contains("flags"));
    let listed: Vec<usize> = text
        .lines()
        .filter_map(|l| l.strip_prefix("processor\t: "))
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(!listed.is_empty());
    if let Some(online) = online {
        assert_eq!(listed, online, "cpuinfo's harts vs the host's online CPUs");
    }

    let auxv: Vec<u8> = [6u64, 4096, 9, 0x10000, 0, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    p.set_auxv(auxv.clone());
    assert_eq!(read_guest_file(&mut p, &mut cpu, "/proc/self/auxv"), auxv);
    // fstat sees a regular file of the right size.
    p.space.write(0x13000, b"/proc/self/auxv\0").unwrap();
    let fd = call(
        &mut p,
        &mut cpu,
        nr::OPENAT,
        &[libc::AT_FDCWD as u64, 0x13000, 0, 0],
    );
    assert_eq!(call(&mut p, &mut cpu, nr::FSTAT, &[fd as u64, 0x14000]), 0);
    assert_eq!(p.space.read_u64(0x14000 + 48).unwrap(), auxv.len() as u64);
    call(&mut p, &mut cpu, nr::CLOSE, &[fd as u64]);
    // Other /proc files, and other processes' maps, are the host's.
    assert_eq!(procfs::FakeFile::of_path(b"/proc/1/maps"), None);
    assert_eq!(procfs::FakeFile::of_path(b"/proc/self/environ"), None);
    // A thread's directory: the process's map; its stat is the host's.
    assert_eq!(
        procfs::FakeFile::of_path(b"/proc/self/task/123/maps"),
        Some(procfs::FakeFile::Maps)
    );
    assert_eq!(procfs::FakeFile::of_path(b"/proc/self/task/123/stat"), None);
    assert_eq!(procfs::FakeFile::of_path(b"/proc/self/task/x/maps"), None);
}

#[test]
fn proc_self_stat_hides_the_emulators_addresses() {
    // A comm with spaces and parentheses; fields 3.. follow the last ')'.
    let mut host = b"42 (a) b (c) R 1 42 42 0 -1".to_vec();
    for f in 9..=52 {
        host.extend_from_slice(format!(" {}", f * 1000).as_bytes());
    }
    host.push(b'\n');
    let g = String::from_utf8(procfs::guest_stat(&host, 3)).unwrap();
    assert!(g.starts_with("42 (a) b (c) R 1 42 42 0 -1 9000 "), "{g}");
    let close = g.rfind(')').unwrap();
    let fields: Vec<&str> = g[close + 1..].split_whitespace().collect();
    let field = |n: usize| fields[n - 3];
    assert_eq!(field(25), "25000");
    // num_threads: the guest's, not the host process's.
    assert_eq!(field(19), "19000");
    assert_eq!(field(20), "3");
    assert_eq!(field(21), "21000");
    for n in [26, 27, 28, 45, 51] {
        assert_eq!(field(n), "0", "field {n}: {g}");
    }
    assert_eq!(field(29), "29000");
    assert_eq!(field(52), "52000");
    assert!(g.ends_with('\n'));
    // Both names resolve, for our own pid too.
    assert_eq!(
        procfs::FakeFile::of_path(b"/proc/self/stat"),
        Some(procfs::FakeFile::Stat)
    );
    assert_eq!(
        procfs::FakeFile::of_path(b"/proc/thread-self/cmdline"),
        Some(procfs::FakeFile::Cmdline)
    );
}

#[test]
fn proc_self_status_counts_the_guests_threads() {
    let host = b"Name:\tcranemu\nTgid:\t7\nThreads:\t2\nSigQ:\t0/1\n";
    let g = String::from_utf8(procfs::guest_status(host, 1)).unwrap();
    assert_eq!(g, "Name:\tcranemu\nTgid:\t7\nThreads:\t1\nSigQ:\t0/1\n");
    assert_eq!(
        procfs::FakeFile::of_path(b"/proc/self/status"),
        Some(procfs::FakeFile::Status)
    );
}

#[test]
fn cpu_lists_parse_like_the_kernel_prints_them() {
    assert_eq!(procfs::parse_cpulist("0-1\n"), Some(vec![0, 1]));
    assert_eq!(procfs::parse_cpulist("0"), Some(vec![0]));
    assert_eq!(
        procfs::parse_cpulist("0-2,5,8-9\n"),
        Some(vec![0, 1, 2, 5, 8, 9])
    );
    assert_eq!(procfs::parse_cpulist("4,0-1"), Some(vec![0, 1, 4]));
    for bad in [
        "",
        "\n",
        "a",
        "3-1",
        "1-",
        "-1",
        "0,,1",
        "0-99999999999",
        "0-70000",
    ] {
        assert_eq!(procfs::parse_cpulist(bad), None, "{bad:?}");
    }
    let text = procfs::format_cpuinfo(&[2, 5]);
    assert!(text.starts_with("processor\t: 2\nhart\t\t: 2\n"));
    assert!(text.contains("\n\nprocessor\t: 5\nhart\t\t: 5\n"));
    assert_eq!(text.matches("processor").count(), 2);
}

#[test]
fn the_host_loaders_variables_are_told_apart() {
    use super::process::is_host_loader_var;
    assert!(is_host_loader_var(b"LD_PRELOAD=/x.so"));
    assert!(is_host_loader_var(b"LD_LIBRARY_PATH="));
    assert!(is_host_loader_var(b"GLIBC_TUNABLES=glibc.malloc.check=3"));
    // No `=`: it sets nothing, and stays in the environment as it is.
    assert!(!is_host_loader_var(b"LD_PRELOAD"));
    assert!(!is_host_loader_var(b"OLD_PWD=/"));
    assert!(!is_host_loader_var(b"PATH=/bin"));
}
