//! Unit tests of the user-mode guest address space (`super`).

use super::*;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn is_send_sync() {
    assert_send_sync::<GuestSpace>();
}

#[test]
fn map_read_write_unmap() {
    let g = GuestSpace::new().unwrap();
    let a = g.map(0x10000, 0x2000, Prot::RW, true).unwrap();
    assert_eq!(a, 0x10000);
    g.write(0x10ffc, b"abcdefgh").unwrap();
    let mut b = [0; 8];
    g.read(0x10ffc, &mut b).unwrap();
    assert_eq!(&b, b"abcdefgh");
    assert_eq!(g.read_u32(0x10ffc).unwrap(), u32::from_le_bytes(*b"abcd"));
    // Zeroed.
    assert_eq!(g.read_u64(0x11000 + 8).unwrap(), 0);
    g.unmap(0x11000, 0x1000).unwrap();
    assert_eq!(g.prot_of(0x11000), None);
    assert_eq!(g.prot_of(0x10000), Some(Prot::RW));
    let e = g.read(0x10ffc, &mut b).unwrap_err();
    assert_eq!(
        e,
        MemFault {
            addr: 0x11000,
            kind: AccessKind::Read
        }
    );
    // Remapping gives zeroes again.
    g.map(0x11000, 1, Prot::RW, true).unwrap();
    assert_eq!(g.read_u32(0x11000).unwrap(), 0);
}

#[test]
fn faults_on_unmapped_and_readonly() {
    let g = GuestSpace::new().unwrap();
    let mut b = [0; 4];
    assert_eq!(g.read(0x5000_0000, &mut b).unwrap_err().addr, 0x5000_0000);
    g.map(0x20000, 0x1000, Prot::READ, true).unwrap();
    let e = g.write(0x20000, b"x").unwrap_err();
    assert_eq!(
        e,
        MemFault {
            addr: 0x20000,
            kind: AccessKind::Write
        }
    );
    assert!(g.fetch_code(0x20000, &mut b).is_err());
    g.write_force(0x20000, b"code").unwrap();
    g.read(0x20000, &mut b).unwrap();
    assert_eq!(&b, b"code");
    // Still read-only for the guest afterwards.
    assert!(g.write(0x20000, b"x").is_err());
    g.protect(0x20000, 0x1000, Prot::RX).unwrap();
    g.fetch_code(0x20000, &mut b).unwrap();
    assert_eq!(
        g.host_range(0x20000, 4, AccessKind::Write)
            .unwrap_err()
            .addr,
        0x20000
    );
    assert!(g.host_range(0x20000, 4, AccessKind::Read).is_ok());
}

#[test]
fn protect_unmapped_is_error() {
    let g = GuestSpace::new().unwrap();
    g.map(0x30000, 0x1000, Prot::RW, true).unwrap();
    assert!(matches!(
        g.protect(0x30000, 0x2000, Prot::READ),
        Err(Error::NotMapped)
    ));
    assert_eq!(g.prot_of(0x30000), Some(Prot::RW));
    g.protect(0x30000, 0x1000, Prot::NONE).unwrap();
    assert_eq!(g.prot_of(0x30000), Some(Prot::NONE));
}

#[test]
fn non_fixed_placement_does_not_overlap() {
    let g = GuestSpace::new().unwrap();
    g.set_mmap_top(0x10_0000_0000);
    let mut got: Vec<(u64, u64)> = Vec::new();
    for i in 1..20u64 {
        let len = i * 0x1800;
        let a = g.map(0, len, Prot::RW, false).unwrap();
        assert_eq!(a % PAGE_SIZE, 0);
        let end = a + page_align_up(len).unwrap();
        assert!(end <= 0x10_0000_0000);
        for &(s, e) in &got {
            assert!(end <= s || a >= e, "overlap");
        }
        got.push((a, end));
    }
    // A hole gets reused.
    let (s, e) = got[5];
    g.unmap(s, e - s).unwrap();
    let a = g.map(0, e - s, Prot::RW, false).unwrap();
    assert_eq!(a, s);
    // A free hint is honoured.
    assert_eq!(
        g.map(0x4000_0000, 0x1000, Prot::READ, false).unwrap(),
        0x4000_0000
    );
    // An occupied hint is not.
    assert_ne!(
        g.map(0x4000_0000, 0x1000, Prot::READ, false).unwrap(),
        0x4000_0000
    );
}

#[test]
fn absurd_arguments() {
    let g = GuestSpace::new().unwrap();
    assert!(matches!(
        g.map(0x10000, 0, Prot::RW, true),
        Err(Error::InvalidArgument)
    ));
    assert!(matches!(
        g.map(0x10001, 10, Prot::RW, true),
        Err(Error::InvalidArgument)
    ));
    assert!(matches!(
        g.map(!0xfff, 0x1000, Prot::RW, true),
        Err(Error::OutOfRange)
    ));
    assert!(matches!(
        g.map(0x1000, u64::MAX, Prot::RW, true),
        Err(Error::OutOfRange)
    ));
    assert!(matches!(
        g.map(GUEST_SPACE_SIZE, 0x1000, Prot::RW, true),
        Err(Error::OutOfRange)
    ));
    assert!(matches!(
        g.map(0, GUEST_SPACE_SIZE * 2, Prot::RW, false),
        Err(Error::NoSpace)
    ));
    assert!(g.unmap(0x10000, 0).is_err());
    assert!(g.unmap(u64::MAX - 0xfff, 0x1000).is_err());
    assert!(g.protect(0x10000, u64::MAX, Prot::RW).is_err());
    let mut b = [0; 8];
    assert!(g.read(u64::MAX - 3, &mut b).is_err());
    assert!(g.read(GUEST_SPACE_SIZE - 4, &mut b).is_err());
    assert!(g.write(u64::MAX, b"x").is_err());
    assert!(g.write_force(u64::MAX - 1, b"xyz").is_err());
    assert!(g.read_cstr(u64::MAX - 1, 100).is_err());
    assert!(g.host_range(u64::MAX, 0, AccessKind::Read).is_err());
    assert!(g.host_range(u64::MAX - 1, 4, AccessKind::Read).is_err());
    assert!(!g.is_free(u64::MAX, 5));
    assert_eq!(g.prot_of(u64::MAX), None);
}

/// Shared memory stays shared with a forked child; private does not.
#[test]
fn shared_mapping_survives_fork_and_remap() {
    let g = GuestSpace::new().unwrap();
    g.set_mmap_top(0x10_0000_0000);
    let sh = g.map_shared(0, 0x2000, Prot::RW, false, None).unwrap();
    let pr = g.map(0, 0x1000, Prot::RW, false).unwrap();
    assert!(g.is_shared(sh + 0x1000, 8) && !g.is_shared(pr, 0x1000));
    let child_writes = |g: &GuestSpace, addrs: &[u64]| {
        // SAFETY: the child only stores to mapped writable guest pages
        // and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            for &a in addrs {
                unsafe { *(g.base().add(a as usize) as *mut u32) = 0xfeed };
            }
            unsafe { libc::_exit(0) };
        }
        let mut st = 0;
        assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0);
    };
    child_writes(&g, &[sh + 0x1004, pr]);
    assert_eq!(g.read_u32(sh + 0x1004).unwrap(), 0xfeed);
    assert_eq!(g.read_u32(pr).unwrap(), 0);
    // mprotect keeps it shared.
    g.protect(sh, 0x1000, Prot::READ).unwrap();
    assert!(g.is_shared(sh, 0x1000));
    assert_eq!(g.prot_of(sh), Some(Prot::READ));
    g.protect(sh, 0x1000, Prot::RW).unwrap();
    // Moved (the pages after it are taken by `pr` or unmapped space
    // above the top): contents and sharing go along, the old range is
    // unmapped.
    g.map(sh + 0x2000, 0x1000, Prot::RW, true).unwrap();
    let moved = g.remap_shared(sh, 0x2000, 0x3000, true).unwrap();
    assert_ne!(moved, sh);
    assert_eq!(g.prot_of(sh), None);
    assert_eq!(g.read_u32(moved + 0x1004).unwrap(), 0xfeed);
    assert!(g.is_shared(moved, 0x3000));
    child_writes(&g, &[moved]);
    assert_eq!(g.read_u32(moved).unwrap(), 0xfeed);
    // Without MREMAP_MAYMOVE and no room: refused.
    g.map(moved + 0x3000, 0x1000, Prot::RW, true).unwrap();
    assert!(g.remap_shared(moved, 0x3000, 0x4000, false).is_err());
    // Grown in place into free pages, and shrunk.
    g.unmap(moved + 0x3000, 0x1000).unwrap();
    assert_eq!(g.remap_shared(moved, 0x3000, 0x4000, false).unwrap(), moved);
    assert_eq!(g.prot_of(moved + 0x3000), Some(Prot::RW));
    assert_eq!(g.remap_shared(moved, 0x4000, 0x1000, false).unwrap(), moved);
    assert_eq!(g.prot_of(moved + 0x1000), None);
    assert_eq!(g.read_u32(moved).unwrap(), 0xfeed);
}

/// A shared file mapping writes through to the file; a writable one of
/// a read-only descriptor is refused with the host's EACCES.
#[test]
fn shared_file_mapping() {
    use std::io::{Read, Seek};
    use std::os::fd::AsRawFd;
    let g = GuestSpace::new().unwrap();
    g.set_mmap_top(0x10_0000_0000);
    let path = std::env::temp_dir().join(format!("cranemu-shared-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.set_len(0x2000).unwrap();
    let a = g
        .map_shared(0, 0x1000, Prot::RW, false, Some((f.as_raw_fd(), 0x1000)))
        .unwrap();
    g.write(a + 3, b"through").unwrap();
    let mut buf = vec![0; 0x2000];
    f.rewind().unwrap();
    f.read_exact(&mut buf).unwrap();
    assert_eq!(&buf[0x1003..0x100a], b"through");
    let ro = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let e = g
        .map_shared(0, 0x1000, Prot::RW, false, Some((ro.as_raw_fd(), 0)))
        .unwrap_err();
    assert_eq!(e.errno(), libc::EACCES);
}

/// What the emulator's fault handler does for the probe (runtime's
/// exec.rs), and nothing else: resume at the probe's failure return.
extern "C" fn probe_only_handler(
    _sig: libc::c_int,
    _info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    // SAFETY: `ctx` is the interrupted thread's ucontext_t.
    let gregs = unsafe { &mut (*(ctx as *mut libc::ucontext_t)).uc_mcontext.gregs };
    match probe_fixup(gregs[libc::REG_RIP as usize] as u64) {
        Some(fixup) => gregs[libc::REG_RIP as usize] = fixup as i64,
        // Not the probe: a real crash of the test.
        // SAFETY: async-signal-safe.
        None => unsafe { libc::abort() },
    }
}

#[test]
fn shared_pages_beyond_the_file_fail_checks_instead_of_faulting() {
    use std::os::fd::AsRawFd;
    // SAFETY: installs a SIGBUS handler that only redirects the probe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = probe_only_handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
    }
    let g = GuestSpace::new().unwrap();
    g.set_mmap_top(0x10_0000_0000);
    let path = std::env::temp_dir().join(format!("cranemu-eof-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    f.set_len(0x3000).unwrap();
    let a = g
        .map_shared(0, 0x3000, Prot::RW, false, Some((f.as_raw_fd(), 0)))
        .unwrap();
    g.write(a + 0xff8, b"abcdefghijkl").unwrap();
    // Pages 1 and 2 now lie beyond the end of the file.
    f.set_len(0x1000).unwrap();
    let mut buf = [0u8; 16];
    g.read(a + 0xff8, &mut buf[..8]).unwrap();
    assert_eq!(&buf[..8], b"abcdefgh");
    let fault = |addr| MemFault {
        addr,
        kind: AccessKind::Read,
    };
    assert_eq!(g.read(a + 0xff8, &mut buf), Err(fault(a + 0x1000)));
    assert_eq!(g.read(a + 0x2000, &mut buf), Err(fault(a + 0x2000)));
    assert_eq!(
        g.write(a + 0x1800, b"x"),
        Err(MemFault {
            addr: a + 0x1800,
            kind: AccessKind::Write
        })
    );
    assert!(g
        .access(a + 0x1000, 8, AccessKind::Read, |_| unreachable!())
        .is_err());
    // Grown back, the pages work again (and read as zeros).
    f.set_len(0x3000).unwrap();
    g.read(a + 0x2000, &mut buf).unwrap();
    assert_eq!(buf, [0; 16]);
    // The same for a private mapping of the file, whose unwritten
    // pages are the file's.
    let b = g
        .map_file_private(0, 0x3000, Prot::READ, false, f.as_raw_fd(), 0)
        .unwrap();
    assert!(!g.is_shared(b, 0x3000));
    g.read(b + 0xff8, &mut buf[..8]).unwrap();
    assert_eq!(&buf[..8], b"abcdefgh");
    f.set_len(0x1000).unwrap();
    assert_eq!(g.read(b + 0x1000, &mut buf), Err(fault(b + 0x1000)));
}

#[test]
fn cstr_across_pages() {
    let g = GuestSpace::new().unwrap();
    g.map(0x10000, 0x2000, Prot::RW, true).unwrap();
    g.write(0x10ffe, b"hello\0").unwrap();
    assert_eq!(g.read_cstr(0x10ffe, 100).unwrap(), b"hello");
    assert!(g.read_cstr(0x10ffe, 3).is_err());
    g.write(0x11ffe, b"ab").unwrap();
    assert_eq!(g.read_cstr(0x11ffe, 100).unwrap_err().addr, 0x12000);
}

/// `fence.i` releases exactly the watched pages of shared mappings, and
/// finds the same ones through the mapped ranges (when there are fewer
/// ranges than watched pages) as through the watched pages.
#[test]
fn release_shared_code_releases_exactly_the_shared_watched_pages() {
    for many_pages in [true, false] {
        let g = GuestSpace::new().unwrap();
        g.set_mmap_top(0x10_0000_0000);
        let sh = g.map_shared(0, 0x4000, Prot::RWX, false, None).unwrap();
        let pr = g.map(0, 0x40000, Prot::RWX, false).unwrap();
        if !many_pages {
            // Many ranges: every other page of the private mapping
            // without WRITE.
            for i in (0..64).step_by(2) {
                g.protect(pr + i * 0x1000, 0x1000, Prot::RX).unwrap();
            }
        }
        let private_watched = if many_pages { 64 } else { 2 };
        for i in 0..private_watched {
            g.watch_code_page(pr + i * 0x1000);
        }
        g.watch_code_page(sh);
        g.watch_code_page(sh + 0x2000);
        let shared = [sh / 0x1000, sh / 0x1000 + 2];
        {
            let map = g.map.read();
            assert_eq!(map.ranges.len() < map.code.len(), many_pages);
            assert_eq!(GuestSpace::shared_code_pages(&map), shared);
        }
        assert!(g.release_shared_code());
        {
            let map = g.map.read();
            assert!(shared.iter().all(|p| !map.code.contains(p)));
            assert_eq!(map.code.len(), private_watched as usize);
        }
        assert!(!g.release_shared_code());
    }
}
