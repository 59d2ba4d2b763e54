//! The riscv64 Linux ABI: syscall numbers, and the structure layouts that
//! differ from the host's.
//!
//! riscv64 uses the asm-generic syscall table
//! (linux/include/uapi/asm-generic/unistd.h) and asm-generic structure
//! layouts. On an x86-64 host most of those layouts are *identical* to the
//! host kernel's (both are LP64 and x86-64 also uses the asm-generic
//! `errno`, `fcntl`, `mman`, signal numbers and `ioctl` numbers), so the
//! syscall layer passes guest buffers straight to the host kernel for:
//! `timespec`, `timeval`, `rusage`, `sysinfo`, `rlimit64`, `pollfd`,
//! `fd_set`, kernel `termios` (36 bytes, `NCCS` 19), `winsize`, `statfs`,
//! `statx`, `linux_dirent64`, `tms`, `struct flock`, `siginfo_t` and the
//! `wait` status encoding. The size assertions below pin that assumption.
//!
//! What differs: `struct stat` (asm-generic, 128 bytes, versus x86-64's 144),
//! `struct sigaction` (riscv has no `sa_restorer`) and `utsname.machine`.

use core::mem::size_of;

// The host layouts we pass through unchanged (x86-64 kernel ABI, which
// matches asm-generic for these).
const _: () = assert!(size_of::<libc::timespec>() == 16);
const _: () = assert!(size_of::<libc::timeval>() == 16);
const _: () = assert!(size_of::<libc::rusage>() == 144);
const _: () = assert!(size_of::<libc::sysinfo>() == 112);
const _: () = assert!(size_of::<libc::rlimit64>() == 16);
const _: () = assert!(size_of::<libc::pollfd>() == 8);
const _: () = assert!(size_of::<libc::winsize>() == 8);
const _: () = assert!(size_of::<libc::statfs>() == 120);
const _: () = assert!(size_of::<libc::statx>() == 256);
const _: () = assert!(size_of::<libc::tms>() == 32);
const _: () = assert!(size_of::<libc::flock>() == 32);
const _: () = assert!(size_of::<libc::siginfo_t>() == 128);
const _: () = assert!(size_of::<libc::utsname>() == 390);

/// Size of the kernel's `struct termios` (asm-generic/termbits.h):
/// four `u32` flags, `c_line`, `c_cc[19]`.
pub const TERMIOS_SIZE: u64 = 36;
/// Size of `fd_set` for 1024 descriptors, in bytes.
pub const FD_SET_SIZE: u64 = 128;
/// Size of the guest `sigset_t` the kernel takes (`_NSIG / 8`).
pub const SIGSET_SIZE: u64 = 8;

/// `struct stat` of riscv64 Linux (asm-generic/stat.h), 128 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetStat {
    /// Device.
    pub st_dev: u64,
    /// Inode.
    pub st_ino: u64,
    /// File type and mode.
    pub st_mode: u32,
    /// Link count.
    pub st_nlink: u32,
    /// Owner.
    pub st_uid: u32,
    /// Group.
    pub st_gid: u32,
    /// Device number, for special files.
    pub st_rdev: u64,
    /// Padding.
    pub __pad1: u64,
    /// Size in bytes.
    pub st_size: i64,
    /// Preferred I/O block size, in bytes.
    pub st_blksize: i32,
    /// Padding.
    pub __pad2: i32,
    /// 512-byte blocks allocated.
    pub st_blocks: i64,
    /// Access time, seconds.
    pub st_atime: i64,
    /// Access time, nanoseconds.
    pub st_atime_nsec: u64,
    /// Modification time, seconds.
    pub st_mtime: i64,
    /// Modification time, nanoseconds.
    pub st_mtime_nsec: u64,
    /// Status change time, seconds.
    pub st_ctime: i64,
    /// Status change time, nanoseconds.
    pub st_ctime_nsec: u64,
    /// Unused.
    pub __unused4: u32,
    /// Unused.
    pub __unused5: u32,
}

const _: () = assert!(size_of::<TargetStat>() == 128);

impl TargetStat {
    /// Converts the host's (x86-64) `struct stat`.
    pub fn from_host(s: &libc::stat) -> TargetStat {
        TargetStat {
            st_dev: s.st_dev,
            st_ino: s.st_ino,
            st_mode: s.st_mode,
            st_nlink: s.st_nlink as u32,
            st_uid: s.st_uid,
            st_gid: s.st_gid,
            st_rdev: s.st_rdev,
            st_size: s.st_size,
            st_blksize: s.st_blksize as i32,
            st_blocks: s.st_blocks,
            st_atime: s.st_atime,
            st_atime_nsec: s.st_atime_nsec as u64,
            st_mtime: s.st_mtime,
            st_mtime_nsec: s.st_mtime_nsec as u64,
            st_ctime: s.st_ctime,
            st_ctime_nsec: s.st_ctime_nsec as u64,
            ..TargetStat::default()
        }
    }

    /// The 128 bytes the guest sees, little-endian.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        let mut w = Writer {
            buf: &mut out,
            pos: 0,
        };
        w.u64(self.st_dev);
        w.u64(self.st_ino);
        w.u32(self.st_mode);
        w.u32(self.st_nlink);
        w.u32(self.st_uid);
        w.u32(self.st_gid);
        w.u64(self.st_rdev);
        w.u64(self.__pad1);
        w.u64(self.st_size as u64);
        w.u32(self.st_blksize as u32);
        w.u32(self.__pad2 as u32);
        w.u64(self.st_blocks as u64);
        w.u64(self.st_atime as u64);
        w.u64(self.st_atime_nsec);
        w.u64(self.st_mtime as u64);
        w.u64(self.st_mtime_nsec);
        w.u64(self.st_ctime as u64);
        w.u64(self.st_ctime_nsec);
        w.u32(self.__unused4);
        w.u32(self.__unused5);
        out
    }
}

/// Little-endian field writer over a fixed buffer (never overruns: a
/// write past the end is dropped, and the layouts above are sized exactly).
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + b.len()) {
            dst.copy_from_slice(b);
        }
        self.pos += b.len();
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
}

/// The riscv64 kernel `struct sigaction` (asm-generic/signal.h without
/// `SA_RESTORER`): handler, flags, mask; 24 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetSigaction {
    /// `sa_handler`: [`SIG_DFL`], [`SIG_IGN`] or a guest code address.
    pub handler: u64,
    /// `sa_flags` (`SA_*`, same values as the host).
    pub flags: u64,
    /// `sa_mask`, one bit per signal (bit `n - 1` for signal `n`).
    pub mask: u64,
}

/// Size of [`TargetSigaction`] in guest memory, in bytes.
pub const SIGACTION_SIZE: u64 = 24;
/// `SIG_DFL`.
pub const SIG_DFL: u64 = 0;
/// `SIG_IGN`.
pub const SIG_IGN: u64 = 1;

impl TargetSigaction {
    /// Decodes the 24 guest bytes.
    pub fn from_bytes(b: &[u8; 24]) -> TargetSigaction {
        let w = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(x)
        };
        TargetSigaction {
            handler: w(0),
            flags: w(1),
            mask: w(2),
        }
    }
    /// Encodes as the 24 guest bytes.
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        let mut w = Writer {
            buf: &mut out,
            pos: 0,
        };
        w.u64(self.handler);
        w.u64(self.flags);
        w.u64(self.mask);
        out
    }
}

/// riscv64 syscall numbers (asm-generic/unistd.h), the ones this layer
/// knows by name.
#[allow(missing_docs)]
pub mod nr {
    pub const SETXATTR: u64 = 5;
    pub const LSETXATTR: u64 = 6;
    pub const FSETXATTR: u64 = 7;
    pub const GETXATTR: u64 = 8;
    pub const LGETXATTR: u64 = 9;
    pub const FGETXATTR: u64 = 10;
    pub const LISTXATTR: u64 = 11;
    pub const LLISTXATTR: u64 = 12;
    pub const FLISTXATTR: u64 = 13;
    pub const REMOVEXATTR: u64 = 14;
    pub const LREMOVEXATTR: u64 = 15;
    pub const FREMOVEXATTR: u64 = 16;
    pub const IOPRIO_SET: u64 = 30;
    pub const IOPRIO_GET: u64 = 31;
    pub const CHROOT: u64 = 51;
    pub const VHANGUP: u64 = 58;
    pub const PREADV: u64 = 69;
    pub const PWRITEV: u64 = 70;
    pub const SIGNALFD4: u64 = 74;
    pub const VMSPLICE: u64 = 75;
    pub const SYNC_FILE_RANGE: u64 = 84;
    pub const CAPGET: u64 = 90;
    pub const CAPSET: u64 = 91;
    pub const PERSONALITY: u64 = 92;
    pub const UNSHARE: u64 = 97;
    pub const SYSLOG: u64 = 116;
    pub const MQ_OPEN: u64 = 180;
    pub const MQ_UNLINK: u64 = 181;
    pub const MQ_TIMEDSEND: u64 = 182;
    pub const MQ_TIMEDRECEIVE: u64 = 183;
    pub const MQ_NOTIFY: u64 = 184;
    pub const MQ_GETSETATTR: u64 = 185;
    pub const KCMP: u64 = 272;
    pub const SCHED_SETATTR: u64 = 274;
    pub const SCHED_GETATTR: u64 = 275;
    pub const EXECVEAT: u64 = 281;
    pub const MSGGET: u64 = 186;
    pub const MSGCTL: u64 = 187;
    pub const MSGRCV: u64 = 188;
    pub const MSGSND: u64 = 189;
    pub const SEMGET: u64 = 190;
    pub const SEMCTL: u64 = 191;
    pub const SEMTIMEDOP: u64 = 192;
    pub const SEMOP: u64 = 193;
    pub const SHMGET: u64 = 194;
    pub const SHMCTL: u64 = 195;
    pub const SHMAT: u64 = 196;
    pub const SHMDT: u64 = 197;
    pub const TIMER_CREATE: u64 = 107;
    pub const TIMER_GETTIME: u64 = 108;
    pub const TIMER_GETOVERRUN: u64 = 109;
    pub const TIMER_SETTIME: u64 = 110;
    pub const TIMER_DELETE: u64 = 111;
    pub const CLOCK_SETTIME: u64 = 112;
    pub const SCHED_SETPARAM: u64 = 118;
    pub const SCHED_SETSCHEDULER: u64 = 119;
    pub const SCHED_GETSCHEDULER: u64 = 120;
    pub const SCHED_GETPARAM: u64 = 121;
    pub const SCHED_GET_PRIORITY_MAX: u64 = 125;
    pub const SCHED_GET_PRIORITY_MIN: u64 = 126;
    pub const SCHED_RR_GET_INTERVAL: u64 = 127;
    pub const SETREGID: u64 = 143;
    pub const SETREUID: u64 = 145;
    pub const SETRESUID: u64 = 147;
    pub const SETRESGID: u64 = 149;
    pub const SETFSUID: u64 = 151;
    pub const SETFSGID: u64 = 152;
    pub const SETGROUPS: u64 = 159;
    pub const SETHOSTNAME: u64 = 161;
    pub const GETCPU: u64 = 168;
    pub const SETTIMEOFDAY: u64 = 170;
    pub const ADJTIMEX: u64 = 171;
    pub const READAHEAD: u64 = 213;
    pub const MLOCK: u64 = 228;
    pub const MUNLOCK: u64 = 229;
    pub const MLOCKALL: u64 = 230;
    pub const MUNLOCKALL: u64 = 231;
    pub const MINCORE: u64 = 232;
    pub const CLOCK_ADJTIME: u64 = 266;
    pub const SYNCFS: u64 = 267;
    pub const PREADV2: u64 = 286;
    pub const PWRITEV2: u64 = 287;
    pub const PIDFD_SEND_SIGNAL: u64 = 424;
    pub const PIDFD_OPEN: u64 = 434;
    pub const FCHMODAT2: u64 = 452;
    pub const GETCWD: u64 = 17;
    pub const EVENTFD2: u64 = 19;
    pub const EPOLL_CREATE1: u64 = 20;
    pub const EPOLL_CTL: u64 = 21;
    pub const EPOLL_PWAIT: u64 = 22;
    pub const DUP: u64 = 23;
    pub const DUP3: u64 = 24;
    pub const FCNTL: u64 = 25;
    pub const INOTIFY_INIT1: u64 = 26;
    pub const INOTIFY_ADD_WATCH: u64 = 27;
    pub const INOTIFY_RM_WATCH: u64 = 28;
    pub const IOCTL: u64 = 29;
    pub const FLOCK: u64 = 32;
    pub const MKNODAT: u64 = 33;
    pub const MKDIRAT: u64 = 34;
    pub const UNLINKAT: u64 = 35;
    pub const SYMLINKAT: u64 = 36;
    pub const LINKAT: u64 = 37;
    pub const RENAMEAT: u64 = 38;
    pub const STATFS: u64 = 43;
    pub const FSTATFS: u64 = 44;
    pub const TRUNCATE: u64 = 45;
    pub const FTRUNCATE: u64 = 46;
    pub const FALLOCATE: u64 = 47;
    pub const FACCESSAT: u64 = 48;
    pub const CHDIR: u64 = 49;
    pub const FCHDIR: u64 = 50;
    pub const FCHMOD: u64 = 52;
    pub const FCHMODAT: u64 = 53;
    pub const FCHOWNAT: u64 = 54;
    pub const FCHOWN: u64 = 55;
    pub const OPENAT: u64 = 56;
    pub const CLOSE: u64 = 57;
    pub const PIPE2: u64 = 59;
    pub const GETDENTS64: u64 = 61;
    pub const LSEEK: u64 = 62;
    pub const READ: u64 = 63;
    pub const WRITE: u64 = 64;
    pub const READV: u64 = 65;
    pub const WRITEV: u64 = 66;
    pub const PREAD64: u64 = 67;
    pub const PWRITE64: u64 = 68;
    pub const SENDFILE: u64 = 71;
    pub const PSELECT6: u64 = 72;
    pub const PPOLL: u64 = 73;
    pub const SPLICE: u64 = 76;
    pub const TEE: u64 = 77;
    pub const READLINKAT: u64 = 78;
    pub const NEWFSTATAT: u64 = 79;
    pub const FSTAT: u64 = 80;
    pub const SYNC: u64 = 81;
    pub const FSYNC: u64 = 82;
    pub const FDATASYNC: u64 = 83;
    pub const TIMERFD_CREATE: u64 = 85;
    pub const TIMERFD_SETTIME: u64 = 86;
    pub const TIMERFD_GETTIME: u64 = 87;
    pub const UTIMENSAT: u64 = 88;
    pub const EXIT: u64 = 93;
    pub const EXIT_GROUP: u64 = 94;
    pub const WAITID: u64 = 95;
    pub const SET_TID_ADDRESS: u64 = 96;
    pub const FUTEX: u64 = 98;
    pub const SET_ROBUST_LIST: u64 = 99;
    pub const GET_ROBUST_LIST: u64 = 100;
    pub const NANOSLEEP: u64 = 101;
    pub const GETITIMER: u64 = 102;
    pub const SETITIMER: u64 = 103;
    pub const CLOCK_GETTIME: u64 = 113;
    pub const CLOCK_GETRES: u64 = 114;
    pub const CLOCK_NANOSLEEP: u64 = 115;
    pub const SCHED_SETAFFINITY: u64 = 122;
    pub const SCHED_GETAFFINITY: u64 = 123;
    pub const SCHED_YIELD: u64 = 124;
    pub const KILL: u64 = 129;
    pub const TKILL: u64 = 130;
    pub const TGKILL: u64 = 131;
    pub const SIGALTSTACK: u64 = 132;
    pub const RT_SIGSUSPEND: u64 = 133;
    pub const RT_SIGACTION: u64 = 134;
    pub const RT_SIGPROCMASK: u64 = 135;
    pub const RT_SIGPENDING: u64 = 136;
    pub const RT_SIGTIMEDWAIT: u64 = 137;
    pub const RT_SIGQUEUEINFO: u64 = 138;
    pub const RT_SIGRETURN: u64 = 139;
    pub const SETPRIORITY: u64 = 140;
    pub const GETPRIORITY: u64 = 141;
    pub const SETGID: u64 = 144;
    pub const SETUID: u64 = 146;
    pub const GETRESUID: u64 = 148;
    pub const GETRESGID: u64 = 150;
    pub const TIMES: u64 = 153;
    pub const SETPGID: u64 = 154;
    pub const GETPGID: u64 = 155;
    pub const GETSID: u64 = 156;
    pub const SETSID: u64 = 157;
    pub const GETGROUPS: u64 = 158;
    pub const UNAME: u64 = 160;
    pub const GETRLIMIT: u64 = 163;
    pub const SETRLIMIT: u64 = 164;
    pub const GETRUSAGE: u64 = 165;
    pub const UMASK: u64 = 166;
    pub const PRCTL: u64 = 167;
    pub const GETTIMEOFDAY: u64 = 169;
    pub const GETPID: u64 = 172;
    pub const GETPPID: u64 = 173;
    pub const GETUID: u64 = 174;
    pub const GETEUID: u64 = 175;
    pub const GETGID: u64 = 176;
    pub const GETEGID: u64 = 177;
    pub const GETTID: u64 = 178;
    pub const SYSINFO: u64 = 179;
    pub const SOCKET: u64 = 198;
    pub const SOCKETPAIR: u64 = 199;
    pub const BIND: u64 = 200;
    pub const LISTEN: u64 = 201;
    pub const ACCEPT: u64 = 202;
    pub const CONNECT: u64 = 203;
    pub const GETSOCKNAME: u64 = 204;
    pub const GETPEERNAME: u64 = 205;
    pub const SENDTO: u64 = 206;
    pub const RECVFROM: u64 = 207;
    pub const SETSOCKOPT: u64 = 208;
    pub const GETSOCKOPT: u64 = 209;
    pub const SHUTDOWN: u64 = 210;
    pub const SENDMSG: u64 = 211;
    pub const RECVMSG: u64 = 212;
    pub const BRK: u64 = 214;
    pub const MUNMAP: u64 = 215;
    pub const MREMAP: u64 = 216;
    pub const CLONE: u64 = 220;
    pub const EXECVE: u64 = 221;
    pub const MMAP: u64 = 222;
    pub const FADVISE64: u64 = 223;
    pub const MPROTECT: u64 = 226;
    pub const MSYNC: u64 = 227;
    pub const MADVISE: u64 = 233;
    pub const RT_TGSIGQUEUEINFO: u64 = 240;
    pub const ACCEPT4: u64 = 242;
    pub const RECVMMSG: u64 = 243;
    pub const RISCV_HWPROBE: u64 = 258;
    pub const RISCV_FLUSH_ICACHE: u64 = 259;
    pub const WAIT4: u64 = 260;
    pub const PRLIMIT64: u64 = 261;
    pub const SENDMMSG: u64 = 269;
    pub const RENAMEAT2: u64 = 276;
    pub const GETRANDOM: u64 = 278;
    pub const MEMFD_CREATE: u64 = 279;
    pub const MEMBARRIER: u64 = 283;
    pub const COPY_FILE_RANGE: u64 = 285;
    pub const STATX: u64 = 291;
    pub const RSEQ: u64 = 293;
    pub const CLONE3: u64 = 435;
    pub const CLOSE_RANGE: u64 = 436;
    pub const FACCESSAT2: u64 = 439;
    pub const EPOLL_PWAIT2: u64 = 441;
}

/// How `-strace` prints one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgFmt {
    /// Signed decimal (fds, counts).
    Dec,
    /// Hex (pointers, flags).
    Hex,
    /// Octal (modes).
    Oct,
    /// A guest C string (path).
    Str,
    /// A directory fd: `AT_FDCWD` or decimal.
    DirFd,
}

/// Name and argument formats of a syscall, for `-strace`; `None` if this
/// layer does not know it by name.
pub fn syscall_info(n: u64) -> Option<(&'static str, &'static [ArgFmt])> {
    use ArgFmt::*;
    Some(match n {
        nr::SETXATTR => ("setxattr", &[Str, Str, Hex, Dec, Hex]),
        nr::LSETXATTR => ("lsetxattr", &[Str, Str, Hex, Dec, Hex]),
        nr::FSETXATTR => ("fsetxattr", &[Dec, Str, Hex, Dec, Hex]),
        nr::GETXATTR => ("getxattr", &[Str, Str, Hex, Dec]),
        nr::LGETXATTR => ("lgetxattr", &[Str, Str, Hex, Dec]),
        nr::FGETXATTR => ("fgetxattr", &[Dec, Str, Hex, Dec]),
        nr::LISTXATTR => ("listxattr", &[Str, Hex, Dec]),
        nr::LLISTXATTR => ("llistxattr", &[Str, Hex, Dec]),
        nr::FLISTXATTR => ("flistxattr", &[Dec, Hex, Dec]),
        nr::REMOVEXATTR => ("removexattr", &[Str, Str]),
        nr::LREMOVEXATTR => ("lremovexattr", &[Str, Str]),
        nr::FREMOVEXATTR => ("fremovexattr", &[Dec, Str]),
        nr::PREADV => ("preadv", &[Dec, Hex, Dec, Dec]),
        nr::PWRITEV => ("pwritev", &[Dec, Hex, Dec, Dec]),
        nr::PREADV2 => ("preadv2", &[Dec, Hex, Dec, Dec, Dec, Hex]),
        nr::PWRITEV2 => ("pwritev2", &[Dec, Hex, Dec, Dec, Dec, Hex]),
        nr::SIGNALFD4 => ("signalfd4", &[Dec, Hex, Dec, Hex]),
        nr::SETRESUID => ("setresuid", &[Dec, Dec, Dec]),
        nr::SETRESGID => ("setresgid", &[Dec, Dec, Dec]),
        nr::SETREUID => ("setreuid", &[Dec, Dec]),
        nr::SETREGID => ("setregid", &[Dec, Dec]),
        nr::SETGROUPS => ("setgroups", &[Dec, Hex]),
        nr::CLOCK_SETTIME => ("clock_settime", &[Dec, Hex]),
        nr::TIMER_CREATE => ("timer_create", &[Dec, Hex, Hex]),
        nr::TIMER_SETTIME => ("timer_settime", &[Dec, Hex, Hex, Hex]),
        nr::TIMER_GETTIME => ("timer_gettime", &[Dec, Hex]),
        nr::TIMER_DELETE => ("timer_delete", &[Dec]),
        nr::PIDFD_OPEN => ("pidfd_open", &[Dec, Hex]),
        nr::MLOCK => ("mlock", &[Hex, Dec]),
        nr::SHMGET => ("shmget", &[Dec, Dec, Oct]),
        nr::SHMAT => ("shmat", &[Dec, Hex, Hex]),
        nr::SHMDT => ("shmdt", &[Hex]),
        nr::SHMCTL => ("shmctl", &[Dec, Dec, Hex]),
        nr::SEMGET => ("semget", &[Dec, Dec, Oct]),
        nr::SEMCTL => ("semctl", &[Dec, Dec, Dec, Hex]),
        nr::SEMOP => ("semop", &[Dec, Hex, Dec]),
        nr::MSGGET => ("msgget", &[Dec, Oct]),
        nr::MSGSND => ("msgsnd", &[Dec, Hex, Dec, Hex]),
        nr::MSGRCV => ("msgrcv", &[Dec, Hex, Dec, Dec, Hex]),
        nr::MSGCTL => ("msgctl", &[Dec, Dec, Hex]),
        nr::MQ_OPEN => ("mq_open", &[Hex, Hex, Oct, Hex]),
        nr::MQ_UNLINK => ("mq_unlink", &[Hex]),
        nr::MQ_TIMEDSEND => ("mq_timedsend", &[Dec, Hex, Dec, Dec, Hex]),
        nr::MQ_TIMEDRECEIVE => ("mq_timedreceive", &[Dec, Hex, Dec, Hex, Hex]),
        nr::MQ_NOTIFY => ("mq_notify", &[Dec, Hex]),
        nr::MQ_GETSETATTR => ("mq_getsetattr", &[Dec, Hex, Hex]),
        nr::UNSHARE => ("unshare", &[Hex]),
        nr::SYSLOG => ("syslog", &[Dec, Hex, Dec]),
        nr::KCMP => ("kcmp", &[Dec, Dec, Dec, Dec, Dec]),
        nr::SCHED_SETATTR => ("sched_setattr", &[Dec, Hex, Hex]),
        nr::SCHED_GETATTR => ("sched_getattr", &[Dec, Hex, Dec, Hex]),
        nr::MUNLOCK => ("munlock", &[Hex, Dec]),
        nr::MINCORE => ("mincore", &[Hex, Dec, Hex]),
        nr::GETCWD => ("getcwd", &[Hex, Dec]),
        nr::DUP => ("dup", &[Dec]),
        nr::DUP3 => ("dup3", &[Dec, Dec, Hex]),
        nr::FCNTL => ("fcntl", &[Dec, Dec, Hex]),
        nr::IOCTL => ("ioctl", &[Dec, Hex, Hex]),
        nr::FLOCK => ("flock", &[Dec, Dec]),
        nr::MKNODAT => ("mknodat", &[DirFd, Str, Oct, Hex]),
        nr::MKDIRAT => ("mkdirat", &[DirFd, Str, Oct]),
        nr::UNLINKAT => ("unlinkat", &[DirFd, Str, Hex]),
        nr::SYMLINKAT => ("symlinkat", &[Str, DirFd, Str]),
        nr::LINKAT => ("linkat", &[DirFd, Str, DirFd, Str, Hex]),
        nr::RENAMEAT => ("renameat", &[DirFd, Str, DirFd, Str]),
        nr::STATFS => ("statfs", &[Str, Hex]),
        nr::FSTATFS => ("fstatfs", &[Dec, Hex]),
        nr::TRUNCATE => ("truncate", &[Str, Dec]),
        nr::FTRUNCATE => ("ftruncate", &[Dec, Dec]),
        nr::FALLOCATE => ("fallocate", &[Dec, Hex, Dec, Dec]),
        nr::FACCESSAT => ("faccessat", &[DirFd, Str, Oct]),
        nr::CHDIR => ("chdir", &[Str]),
        nr::FCHDIR => ("fchdir", &[Dec]),
        nr::FCHMOD => ("fchmod", &[Dec, Oct]),
        nr::FCHMODAT => ("fchmodat", &[DirFd, Str, Oct]),
        nr::FCHOWNAT => ("fchownat", &[DirFd, Str, Dec, Dec, Hex]),
        nr::FCHOWN => ("fchown", &[Dec, Dec, Dec]),
        nr::OPENAT => ("openat", &[DirFd, Str, Hex, Oct]),
        nr::CLOSE => ("close", &[Dec]),
        nr::PIPE2 => ("pipe2", &[Hex, Hex]),
        nr::GETDENTS64 => ("getdents64", &[Dec, Hex, Dec]),
        nr::LSEEK => ("lseek", &[Dec, Dec, Dec]),
        nr::READ => ("read", &[Dec, Hex, Dec]),
        nr::WRITE => ("write", &[Dec, Hex, Dec]),
        nr::READV => ("readv", &[Dec, Hex, Dec]),
        nr::WRITEV => ("writev", &[Dec, Hex, Dec]),
        nr::PREAD64 => ("pread64", &[Dec, Hex, Dec, Dec]),
        nr::PWRITE64 => ("pwrite64", &[Dec, Hex, Dec, Dec]),
        nr::SENDFILE => ("sendfile", &[Dec, Dec, Hex, Dec]),
        nr::PSELECT6 => ("pselect6", &[Dec, Hex, Hex, Hex, Hex, Hex]),
        nr::PPOLL => ("ppoll", &[Hex, Dec, Hex, Hex, Dec]),
        nr::READLINKAT => ("readlinkat", &[DirFd, Str, Hex, Dec]),
        nr::NEWFSTATAT => ("newfstatat", &[DirFd, Str, Hex, Hex]),
        nr::FSTAT => ("fstat", &[Dec, Hex]),
        nr::SYNC => ("sync", &[]),
        nr::FSYNC => ("fsync", &[Dec]),
        nr::FDATASYNC => ("fdatasync", &[Dec]),
        nr::UTIMENSAT => ("utimensat", &[DirFd, Str, Hex, Hex]),
        nr::EXIT => ("exit", &[Dec]),
        nr::EXIT_GROUP => ("exit_group", &[Dec]),
        nr::WAITID => ("waitid", &[Dec, Dec, Hex, Hex, Hex]),
        nr::SET_TID_ADDRESS => ("set_tid_address", &[Hex]),
        nr::FUTEX => ("futex", &[Hex, Dec, Dec, Hex, Hex, Dec]),
        nr::SET_ROBUST_LIST => ("set_robust_list", &[Hex, Dec]),
        nr::GET_ROBUST_LIST => ("get_robust_list", &[Dec, Hex, Hex]),
        nr::NANOSLEEP => ("nanosleep", &[Hex, Hex]),
        nr::GETITIMER => ("getitimer", &[Dec, Hex]),
        nr::SETITIMER => ("setitimer", &[Dec, Hex, Hex]),
        nr::CLOCK_GETTIME => ("clock_gettime", &[Dec, Hex]),
        nr::CLOCK_GETRES => ("clock_getres", &[Dec, Hex]),
        nr::CLOCK_NANOSLEEP => ("clock_nanosleep", &[Dec, Hex, Hex, Hex]),
        nr::SCHED_SETAFFINITY => ("sched_setaffinity", &[Dec, Dec, Hex]),
        nr::SCHED_GETAFFINITY => ("sched_getaffinity", &[Dec, Dec, Hex]),
        nr::SCHED_YIELD => ("sched_yield", &[]),
        nr::KILL => ("kill", &[Dec, Dec]),
        nr::TKILL => ("tkill", &[Dec, Dec]),
        nr::TGKILL => ("tgkill", &[Dec, Dec, Dec]),
        nr::SIGALTSTACK => ("sigaltstack", &[Hex, Hex]),
        nr::RT_SIGSUSPEND => ("rt_sigsuspend", &[Hex, Dec]),
        nr::RT_SIGACTION => ("rt_sigaction", &[Dec, Hex, Hex, Dec]),
        nr::RT_SIGPROCMASK => ("rt_sigprocmask", &[Dec, Hex, Hex, Dec]),
        nr::RT_SIGPENDING => ("rt_sigpending", &[Hex, Dec]),
        nr::RT_SIGTIMEDWAIT => ("rt_sigtimedwait", &[Hex, Hex, Hex, Dec]),
        nr::RT_SIGRETURN => ("rt_sigreturn", &[]),
        nr::RT_SIGQUEUEINFO => ("rt_sigqueueinfo", &[Dec, Dec, Hex]),
        nr::RT_TGSIGQUEUEINFO => ("rt_tgsigqueueinfo", &[Dec, Dec, Dec, Hex]),
        nr::SETPRIORITY => ("setpriority", &[Dec, Dec, Dec]),
        nr::GETPRIORITY => ("getpriority", &[Dec, Dec]),
        nr::SETGID => ("setgid", &[Dec]),
        nr::SETUID => ("setuid", &[Dec]),
        nr::GETRESUID => ("getresuid", &[Hex, Hex, Hex]),
        nr::GETRESGID => ("getresgid", &[Hex, Hex, Hex]),
        nr::TIMES => ("times", &[Hex]),
        nr::SETPGID => ("setpgid", &[Dec, Dec]),
        nr::GETPGID => ("getpgid", &[Dec]),
        nr::GETSID => ("getsid", &[Dec]),
        nr::SETSID => ("setsid", &[]),
        nr::GETGROUPS => ("getgroups", &[Dec, Hex]),
        nr::UNAME => ("uname", &[Hex]),
        nr::GETRLIMIT => ("getrlimit", &[Dec, Hex]),
        nr::SETRLIMIT => ("setrlimit", &[Dec, Hex]),
        nr::GETRUSAGE => ("getrusage", &[Dec, Hex]),
        nr::UMASK => ("umask", &[Oct]),
        nr::PRCTL => ("prctl", &[Dec, Hex, Hex, Hex, Hex]),
        nr::GETTIMEOFDAY => ("gettimeofday", &[Hex, Hex]),
        nr::GETPID => ("getpid", &[]),
        nr::GETPPID => ("getppid", &[]),
        nr::GETUID => ("getuid", &[]),
        nr::GETEUID => ("geteuid", &[]),
        nr::GETGID => ("getgid", &[]),
        nr::GETEGID => ("getegid", &[]),
        nr::GETTID => ("gettid", &[]),
        nr::SYSINFO => ("sysinfo", &[Hex]),
        nr::SOCKET => ("socket", &[Dec, Hex, Dec]),
        nr::SOCKETPAIR => ("socketpair", &[Dec, Hex, Dec, Hex]),
        nr::BIND => ("bind", &[Dec, Hex, Dec]),
        nr::LISTEN => ("listen", &[Dec, Dec]),
        nr::ACCEPT => ("accept", &[Dec, Hex, Hex]),
        nr::CONNECT => ("connect", &[Dec, Hex, Dec]),
        nr::GETSOCKNAME => ("getsockname", &[Dec, Hex, Hex]),
        nr::GETPEERNAME => ("getpeername", &[Dec, Hex, Hex]),
        nr::SENDTO => ("sendto", &[Dec, Hex, Dec, Hex, Hex, Dec]),
        nr::RECVFROM => ("recvfrom", &[Dec, Hex, Dec, Hex, Hex, Hex]),
        nr::SETSOCKOPT => ("setsockopt", &[Dec, Dec, Dec, Hex, Dec]),
        nr::GETSOCKOPT => ("getsockopt", &[Dec, Dec, Dec, Hex, Hex]),
        nr::SHUTDOWN => ("shutdown", &[Dec, Dec]),
        nr::SENDMSG => ("sendmsg", &[Dec, Hex, Hex]),
        nr::RECVMSG => ("recvmsg", &[Dec, Hex, Hex]),
        nr::BRK => ("brk", &[Hex]),
        nr::MUNMAP => ("munmap", &[Hex, Dec]),
        nr::MREMAP => ("mremap", &[Hex, Dec, Dec, Hex, Hex]),
        nr::CLONE => ("clone", &[Hex, Hex, Hex, Hex, Hex]),
        nr::EXECVE => ("execve", &[Str, Hex, Hex]),
        nr::EXECVEAT => ("execveat", &[Dec, Str, Hex, Hex, Hex]),
        nr::MMAP => ("mmap", &[Hex, Dec, Hex, Hex, Dec, Hex]),
        nr::FADVISE64 => ("fadvise64", &[Dec, Dec, Dec, Dec]),
        nr::MPROTECT => ("mprotect", &[Hex, Dec, Hex]),
        nr::MSYNC => ("msync", &[Hex, Dec, Hex]),
        nr::MADVISE => ("madvise", &[Hex, Dec, Dec]),
        nr::ACCEPT4 => ("accept4", &[Dec, Hex, Hex, Hex]),
        nr::RECVMMSG => ("recvmmsg", &[Dec, Hex, Dec, Hex, Hex]),
        nr::RISCV_HWPROBE => ("riscv_hwprobe", &[Hex, Dec, Dec, Hex, Hex]),
        nr::RISCV_FLUSH_ICACHE => ("riscv_flush_icache", &[Hex, Hex, Hex]),
        nr::WAIT4 => ("wait4", &[Dec, Hex, Hex, Hex]),
        nr::PRLIMIT64 => ("prlimit64", &[Dec, Dec, Hex, Hex]),
        nr::SENDMMSG => ("sendmmsg", &[Dec, Hex, Dec, Hex]),
        nr::RENAMEAT2 => ("renameat2", &[DirFd, Str, DirFd, Str, Hex]),
        nr::GETRANDOM => ("getrandom", &[Hex, Dec, Hex]),
        nr::MEMBARRIER => ("membarrier", &[Dec, Dec]),
        nr::COPY_FILE_RANGE => ("copy_file_range", &[Dec, Hex, Dec, Hex, Dec, Hex]),
        nr::STATX => ("statx", &[DirFd, Str, Hex, Hex, Hex]),
        nr::RSEQ => ("rseq", &[Hex, Dec, Hex, Hex]),
        nr::CLONE3 => ("clone3", &[Hex, Dec]),
        nr::CLOSE_RANGE => ("close_range", &[Dec, Dec, Hex]),
        nr::FACCESSAT2 => ("faccessat2", &[DirFd, Str, Oct, Hex]),
        nr::EVENTFD2 => ("eventfd2", &[Dec, Hex]),
        nr::EPOLL_CREATE1 => ("epoll_create1", &[Hex]),
        nr::EPOLL_CTL => ("epoll_ctl", &[Dec, Dec, Dec, Hex]),
        nr::EPOLL_PWAIT => ("epoll_pwait", &[Dec, Hex, Dec, Dec, Hex, Dec]),
        nr::EPOLL_PWAIT2 => ("epoll_pwait2", &[Dec, Hex, Dec, Hex, Hex, Dec]),
        nr::INOTIFY_INIT1 => ("inotify_init1", &[Hex]),
        nr::INOTIFY_ADD_WATCH => ("inotify_add_watch", &[Dec, Str, Hex]),
        nr::INOTIFY_RM_WATCH => ("inotify_rm_watch", &[Dec, Dec]),
        nr::SPLICE => ("splice", &[Dec, Hex, Dec, Hex, Dec, Hex]),
        nr::TEE => ("tee", &[Dec, Dec, Dec, Hex]),
        nr::TIMERFD_CREATE => ("timerfd_create", &[Dec, Hex]),
        nr::TIMERFD_SETTIME => ("timerfd_settime", &[Dec, Hex, Hex, Hex]),
        nr::TIMERFD_GETTIME => ("timerfd_gettime", &[Dec, Hex]),
        nr::MEMFD_CREATE => ("memfd_create", &[Str, Hex]),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layout() {
        let s = TargetStat {
            st_dev: 1,
            st_size: 0x1234,
            st_ctime_nsec: 7,
            __unused5: 9,
            ..Default::default()
        };
        let b = s.to_bytes();
        assert_eq!(b[0], 1);
        assert_eq!(&b[48..56], &0x1234u64.to_le_bytes());
        assert_eq!(&b[112..120], &7u64.to_le_bytes());
        assert_eq!(&b[124..128], &9u32.to_le_bytes());
    }

    #[test]
    fn sigaction_roundtrip() {
        let a = TargetSigaction {
            handler: 0x1000,
            flags: 4,
            mask: 1 << 9,
        };
        assert_eq!(TargetSigaction::from_bytes(&a.to_bytes()), a);
    }
}
