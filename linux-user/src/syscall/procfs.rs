//! The `/proc` files that must describe the guest, not cranemu: opened for
//! reading, `/proc/self/maps`, `/proc/self/auxv` (also through
//! `/proc/<own pid>/`, `/proc/thread-self/` and a thread's
//! `/proc/self/task/TID/`) and `/proc/cpuinfo` are
//! generated when opened and handed to the guest as an anonymous host file
//! (`memfd_create`) holding the text, so `read`, `lseek`, `fstat` and `mmap`
//! work on them as on any file. This is QEMU linux-user's "fake open"
//! table (`do_guest_openat`, `open_self_maps`, `open_self_auxv`,
//! `open_cpuinfo`); the contents are a snapshot taken at `open`, where
//! Linux regenerates them on each `read` from the start.
//!
//! - `maps`: one line per guest mapping, in address order, in Linux's
//!   format (fs/proc/task_mmu.c `show_map_vma`), guest addresses only.
//!   A mapping of a file shows its offset, device, inode and host path,
//!   read from the host's own `/proc/self/maps` for the host pages behind
//!   it, as QEMU's `open_self_maps` does (so a program under `-L` shows
//!   the sysroot's path); the initial stack is `[stack]` and the `brk`
//!   area `[heap]`.
//! - `auxv`: the auxiliary vector the loader wrote on the initial stack
//!   (pairs of little-endian `u64` up to and including `AT_NULL`), as
//!   Linux's `mm->saved_auxv`.
//! - `cmdline`: the guest's `argv`, each argument NUL-terminated.
//! - `stat`: the host's line for this process (pid, state, times, ...,
//!   and `comm`, which cranemu sets to the guest program's name as
//!   `execve` does), with the address fields that would describe the
//!   emulator (`startcode`, `endcode`, `startstack`, fields 26-28, and the
//!   data, brk, argument and environment bounds, fields 45-51) zero, as
//!   QEMU's `open_self_stat` leaves the ones it does not know, and
//!   `num_threads` (field 20) the guest's threads: cranemu's own (the
//!   compile thread) are not the guest's. CPython reads that field to
//!   warn that `os.fork` in a threaded process may deadlock.
//! - `status`: the host's text with `Threads:` the guest's threads, as
//!   in `stat`.
//! - `cpuinfo`: one riscv64 block per online host CPU (numbered as the
//!   host numbers it, so that it agrees with the host's
//!   `/sys/devices/system/cpu`, which the guest sees as it is), as Linux
//!   6.x arch/riscv/kernel/cpu.c `c_show` prints it. `mmu` is `sv39`: the guest space is the 256 GiB
//!   user half of Sv39 ([`GUEST_SPACE_SIZE`]).
//!
//! [`GUEST_SPACE_SIZE`]: cranemu_softmmu::user::GUEST_SPACE_SIZE

use std::fmt::Write as _;

use cranemu_softmmu::user::{Mapping, Prot};

use super::Process;

/// The ISA string of the emulated harts (`isa` in `/proc/cpuinfo`).
pub(crate) const CPUINFO_ISA: &str = "rv64imafdc_zicntr_zicsr_zifencei_zihpm";

/// A `/proc` file generated for the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FakeFile {
    /// `/proc/self/maps`.
    Maps,
    /// `/proc/self/auxv`.
    Auxv,
    /// `/proc/self/cmdline`.
    Cmdline,
    /// `/proc/self/stat`.
    Stat,
    /// `/proc/self/status`.
    Status,
    /// `/proc/cpuinfo`.
    CpuInfo,
}

impl FakeFile {
    /// The generated file a guest path names, if any.
    pub(crate) fn of_path(p: &[u8]) -> Option<FakeFile> {
        if p == b"/proc/cpuinfo" {
            return Some(FakeFile::CpuInfo);
        }
        let rest = p.strip_prefix(b"/proc/")?;
        let slash = rest.iter().position(|&c| c == b'/')?;
        let (who, file) = (&rest[..slash], &rest[slash + 1..]);
        // SAFETY: getpid cannot fail.
        let own = unsafe { libc::getpid() }.to_string();
        if who != b"self" && who != b"thread-self" && who != own.as_bytes() {
            return None;
        }
        // A thread's directory (`task/TID/`) shares the process's memory
        // map, auxiliary vector and command line; its `stat` and `status`
        // are the thread's own, the host's.
        if let Some(t) = file.strip_prefix(b"task/") {
            let slash = t.iter().position(|&c| c == b'/')?;
            let (tid, file) = (&t[..slash], &t[slash + 1..]);
            if tid.is_empty() || !tid.iter().all(u8::is_ascii_digit) {
                return None;
            }
            return match file {
                b"maps" => Some(FakeFile::Maps),
                b"auxv" => Some(FakeFile::Auxv),
                b"cmdline" => Some(FakeFile::Cmdline),
                _ => None,
            };
        }
        match file {
            b"maps" => Some(FakeFile::Maps),
            b"auxv" => Some(FakeFile::Auxv),
            b"cmdline" => Some(FakeFile::Cmdline),
            b"stat" => Some(FakeFile::Stat),
            b"status" => Some(FakeFile::Status),
            _ => None,
        }
    }
}

/// The label of a mapping in `maps`: `[stack]` for the one holding
/// `stack` (an address of the initial stack), `[heap]` for one inside the
/// `brk` area `[heap_start, heap_end)`, none otherwise.
fn label(m: &Mapping, stack: u64, heap_start: u64, heap_end: u64) -> &'static str {
    if (m.start..m.end).contains(&stack) {
        "[stack]"
    } else if heap_start < heap_end && m.start >= heap_start && m.end <= heap_end {
        "[heap]"
    } else {
        ""
    }
}

/// A host mapping of a file, from a line of the host's `/proc/self/maps`:
/// host `[start, end)`, the file offset of `start`, the device as the
/// kernel prints it (`fd:01`), the inode and the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostFileMap {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) offset: u64,
    pub(crate) dev: String,
    pub(crate) inode: u64,
    pub(crate) path: String,
}

/// The file mappings of a `/proc/PID/maps` text (lines with an inode or
/// a path that is not a `[label]`), in its order; other lines are
/// skipped.
pub(crate) fn parse_host_maps(text: &str) -> Vec<HostFileMap> {
    let mut v = Vec::new();
    for line in text.lines() {
        let mut f = line.splitn(6, ' ');
        let (Some(range), Some(_perms), Some(off), Some(dev), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let path = f.next().unwrap_or("").trim_start();
        let (Some((a, b)), Ok(offset), Ok(inode)) = (
            range.split_once('-'),
            u64::from_str_radix(off, 16),
            inode.parse::<u64>(),
        ) else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        if inode == 0 && (path.is_empty() || path.starts_with('[')) {
            continue;
        }
        v.push(HostFileMap {
            start,
            end,
            offset,
            dev: dev.to_string(),
            inode,
            path: path.to_string(),
        });
    }
    v
}

/// What a `maps` line says after the permissions: the offset, device,
/// inode and name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Backing {
    offset: u64,
    dev: String,
    inode: u64,
    name: String,
}

/// Formats `maps` lines for `mappings` (address order); see [`label`] for
/// `stack` and the heap bounds. `files` are the host's file mappings (see
/// [`parse_host_maps`]) and `base` the host address of guest address 0:
/// the part of a guest mapping that a host file mapping backs shows that
/// file. Adjacent mappings with the same permissions and name (and, for a
/// file, consecutive offsets) are one line, as Linux merges such VMAs.
pub(crate) fn format_maps(
    mappings: &[Mapping],
    stack: u64,
    heap: (u64, u64),
    files: &[HostFileMap],
    base: u64,
) -> String {
    // Each mapping, cut where the host's file mappings begin and end.
    let mut pieces: Vec<(Mapping, Backing)> = Vec::new();
    for m in mappings {
        let anon = Backing {
            offset: 0,
            dev: "00:00".into(),
            inode: 0,
            name: label(m, stack, heap.0, heap.1).into(),
        };
        let (hs, he) = (base.wrapping_add(m.start), base.wrapping_add(m.end));
        let mut at = hs;
        for f in files.iter().filter(|f| f.start < he && f.end > hs) {
            let (s, e) = (f.start.max(hs), f.end.min(he));
            if s > at {
                pieces.push((cut(m, at - base, s - base), anon.clone()));
            }
            let file = Backing {
                offset: f.offset + (s - f.start),
                dev: f.dev.clone(),
                inode: f.inode,
                name: f.path.clone(),
            };
            pieces.push((cut(m, s - base, e - base), file));
            at = e;
        }
        if at < he {
            pieces.push((cut(m, at - base, m.end), anon));
        }
    }
    let mut lines: Vec<(Mapping, Backing)> = Vec::new();
    for (m, b) in pieces {
        if let Some((last, lb)) = lines.last_mut() {
            let next_offset = lb.offset + (last.end - last.start);
            if last.end == m.start
                && last.prot == m.prot
                && last.shared == m.shared
                && lb.name == b.name
                && lb.inode == b.inode
                && (b.inode == 0 || b.offset == next_offset)
            {
                last.end = m.end;
                continue;
            }
        }
        lines.push((m, b));
    }
    let mut s = String::new();
    for (m, b) in lines {
        let bit = |p: Prot, c: char| if m.prot.contains(p) { c } else { '-' };
        let name = b.name.as_str();
        let mut line = format!(
            "{:08x}-{:08x} {}{}{}{} {:08x} {} {} ",
            m.start,
            m.end,
            bit(Prot::READ, 'r'),
            bit(Prot::WRITE, 'w'),
            bit(Prot::EXEC, 'x'),
            if m.shared { 's' } else { 'p' },
            b.offset,
            b.dev,
            b.inode,
        );
        if !name.is_empty() {
            // Linux pads the path to column 73 (`seq_pad`).
            while line.len() < 73 {
                line.push(' ');
            }
            line.push_str(name);
        }
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// `m` cut to guest `[start, end)`.
fn cut(m: &Mapping, start: u64, end: u64) -> Mapping {
    Mapping { start, end, ..*m }
}

/// The guest's `/proc/self/stat` from the host's line `host`, for a guest
/// with `threads` threads: the fields after `comm` (which may hold spaces
/// and parentheses, so it ends at the last `)`) are kept, except the
/// addresses listed in the module doc and `num_threads`.
pub(crate) fn guest_stat(host: &[u8], threads: usize) -> Vec<u8> {
    let Some(close) = host.iter().rposition(|&c| c == b')') else {
        return host.to_vec();
    };
    let (head, tail) = host.split_at(close + 1);
    let tail = String::from_utf8_lossy(tail);
    let fields: Vec<String> = tail
        .split_whitespace()
        .enumerate()
        // Field 3 (state) is the first after `comm`: index i is field i + 3.
        .map(|(i, f)| match i + 3 {
            20 => threads.to_string(),
            26..=28 | 45..=51 => "0".to_string(),
            _ => f.to_string(),
        })
        .collect();
    let mut out = head.to_vec();
    out.push(b' ');
    out.extend_from_slice(fields.join(" ").as_bytes());
    out.push(b'\n');
    out
}

/// The guest's `/proc/self/status` from the host's text `host`, for a
/// guest with `threads` threads: the `Threads:` line says so (the tab
/// after the colon as fs/proc/array.c prints it); every other line is the
/// host's.
pub(crate) fn guest_status(host: &[u8], threads: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(host.len());
    for line in host.split_inclusive(|&c| c == b'\n') {
        if line.starts_with(b"Threads:") {
            out.extend_from_slice(format!("Threads:\t{threads}\n").as_bytes());
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

/// The `/proc/cpuinfo` text for the harts numbered `harts` (`processor`
/// and `hart` are both the number, as on a machine whose hart ids are its
/// logical CPU numbers).
pub(crate) fn format_cpuinfo(harts: &[usize]) -> String {
    let mut s = String::new();
    for i in harts {
        let _ = write!(
            s,
            "processor\t: {i}\nhart\t\t: {i}\nisa\t\t: {CPUINFO_ISA}\nmmu\t\t: sv39\n\
             mvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0\n\n"
        );
    }
    s
}

/// The CPU numbers of a kernel CPU list (`Documentation/admin-guide/
/// cputopology.rst`'s format, as in `/sys/devices/system/cpu/online`:
/// comma-separated numbers and inclusive ranges, `0-3,5,8-9`), in
/// increasing order; `None` if it is malformed, empty, or names more than
/// 65,536 CPUs.
pub(crate) fn parse_cpulist(text: &str) -> Option<Vec<usize>> {
    const MAX: usize = 1 << 16;
    let mut cpus = Vec::new();
    for part in text.trim().split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let n = part.parse::<usize>().ok()?;
                (n, n)
            }
        };
        if lo > hi || hi >= MAX || cpus.len() + (hi - lo) >= MAX {
            return None;
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    (!cpus.is_empty()).then_some(cpus)
}

/// The harts `/proc/cpuinfo` lists: the host's online CPUs, by their host
/// numbers, as Linux lists every online CPU whatever the reader's affinity
/// (fs/proc's `c_start` walks `cpu_online_mask`); `/sys/devices/system/cpu`
/// is the host's own, so its `online`, `present`, `possible` and `cpuN`
/// entries and glibc's `sysconf(_SC_NPROCESSORS_ONLN)` agree with it. If
/// the host's list cannot be read, the CPUs this thread may run on,
/// numbered from 0.
fn online_harts() -> Vec<usize> {
    if let Some(cpus) = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| parse_cpulist(&t))
    {
        return cpus;
    }
    // SAFETY: a zeroed cpu_set_t is valid, and the size passed is its own.
    let n = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) == 0 {
            (libc::CPU_COUNT(&set) as usize).max(1)
        } else {
            1
        }
    };
    (0..n).collect()
}

impl Process {
    /// The contents of `f` for this process.
    pub(crate) fn fake_file_contents(&self, f: FakeFile) -> Vec<u8> {
        match f {
            FakeFile::Maps => {
                let (start, cur) = *self.shared.brk.lock();
                let heap_end = cur.div_ceil(PAGE) * PAGE;
                let stack = crate::loader::STACK_TOP - 1;
                let host = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
                format_maps(
                    &self.space.mappings(),
                    stack,
                    (start, heap_end),
                    &parse_host_maps(&host),
                    self.space.base() as u64,
                )
                .into_bytes()
            }
            FakeFile::Auxv => self.shared.auxv.get().cloned().unwrap_or_default(),
            FakeFile::Cmdline => self.shared.cmdline.get().cloned().unwrap_or_default(),
            FakeFile::Stat => std::fs::read("/proc/self/stat")
                .map(|host| guest_stat(&host, self.guest_threads()))
                .unwrap_or_default(),
            FakeFile::Status => std::fs::read("/proc/self/status")
                .map(|host| guest_status(&host, self.guest_threads()))
                .unwrap_or_default(),
            FakeFile::CpuInfo => format_cpuinfo(&online_harts()).into_bytes(),
        }
    }

    /// Opens the generated file `f`: an anonymous host file holding its
    /// contents, positioned at the start, close-on-exec if `flags` asks.
    pub(crate) fn open_fake_file(&self, f: FakeFile, flags: u64) -> Result<u64, i32> {
        let data = self.fake_file_contents(f);
        let mfd_flags = if flags & libc::O_CLOEXEC as u64 != 0 {
            libc::MFD_CLOEXEC
        } else {
            0
        };
        // SAFETY: the name is a NUL-terminated literal.
        let fd = unsafe { libc::memfd_create(c"cranemu-proc".as_ptr(), mfd_flags) };
        if fd < 0 {
            return Err(super::errno());
        }
        let mut done = 0;
        while done < data.len() {
            // SAFETY: `data[done..]` is a live buffer of the length passed.
            let n = unsafe { libc::write(fd, data[done..].as_ptr().cast(), data.len() - done) };
            if n < 0 {
                let e = super::errno();
                if e == libc::EINTR {
                    continue;
                }
                // SAFETY: fd is ours.
                unsafe { libc::close(fd) };
                return Err(e);
            }
            done += n as usize;
        }
        // SAFETY: fd is ours.
        unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
        Ok(fd as u64)
    }
}

/// The guest page size, for rounding the break.
const PAGE: u64 = cranemu_softmmu::user::PAGE_SIZE;
