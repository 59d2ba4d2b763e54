/* The Linux ABI a real userland needs (issue 11), beyond plain file I/O:
 * extended attributes, preadv/pwritev(2), the set*id calls, scheduler
 * parameters, clock_settime's errors, a pseudo-terminal through /dev/ptmx
 * (TIOCGPTN), a MAP_SHARED file mapping reaching the file, memfd seals,
 * signalfd, a POSIX timer, mlock/mincore, getcpu, SIOCGIFINDEX, and what
 * /proc/self says about the program (exe link, stat's comm, cmdline),
 * and System V shared memory (across fork), semaphores and messages.
 * Prints only values that are the same under any correct emulator.
 *
 *   abi                 all of the above
 *   abi fds             whether descriptors 0, 1 and 2 are open (printed
 *                       on whichever of 1 and 2 is open)
 *   abi exec PROG ARG.. execv(PROG, [PROG, ARG..])
 *   abi unimp           syscalls 500, 500 and 501 (no such syscalls)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <grp.h>
#include <mqueue.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CHECK(x)                                                               \
    do {                                                                       \
        if (!(x)) {                                                            \
            printf("FAIL line %d: %s (errno %d %s)\n", __LINE__, #x, errno,    \
                   strerror(errno));                                           \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static char dir[64];

static void test_xattr(void) {
    char path[128], buf[256];
    snprintf(path, sizeof path, "%s/x", dir);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0);
    if (fsetxattr(fd, "user.cranemu", "value", 5, 0) != 0) {
        /* The file system (not the emulator) may lack user xattrs. */
        printf("xattr: unsupported here (%s)\n", errno == ENOTSUP ? "ENOTSUP" : strerror(errno));
        close(fd);
        return;
    }
    ssize_t n = fgetxattr(fd, "user.cranemu", buf, sizeof buf);
    printf("fgetxattr %zd %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    n = getxattr(path, "user.cranemu", buf, sizeof buf);
    printf("getxattr %zd\n", n);
    n = lgetxattr(path, "user.cranemu", NULL, 0);
    printf("lgetxattr size query %zd\n", n);
    CHECK(setxattr(path, "user.second", "2", 1, XATTR_CREATE) == 0);
    errno = 0;
    printf("setxattr XATTR_CREATE again %d %s\n",
           setxattr(path, "user.second", "2", 1, XATTR_CREATE),
           errno == EEXIST ? "EEXIST" : strerror(errno));
    n = listxattr(path, buf, sizeof buf);
    int found = 0;
    for (char *p = buf; p < buf + n; p += strlen(p) + 1)
        found += !strcmp(p, "user.cranemu") + !strcmp(p, "user.second");
    printf("listxattr has both: %d\n", found == 2);
    CHECK(flistxattr(fd, buf, sizeof buf) == n);
    CHECK(llistxattr(path, buf, sizeof buf) == n);
    CHECK(removexattr(path, "user.second") == 0);
    CHECK(fremovexattr(fd, "user.cranemu") == 0);
    errno = 0;
    printf("getxattr removed %zd %s\n", getxattr(path, "user.cranemu", buf, sizeof buf),
           errno == ENODATA ? "ENODATA" : strerror(errno));
    errno = 0;
    printf("getxattr bad pointer %zd %s\n", getxattr(path, (char *)8, buf, sizeof buf),
           errno == EFAULT ? "EFAULT" : strerror(errno));
    close(fd);
    unlink(path);
}

static void test_vectored(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/v", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    struct iovec w[2] = {{"hello ", 6}, {"world", 5}};
    printf("pwritev %zd\n", pwritev(fd, w, 2, 0));
    struct iovec w2[1] = {{"!!", 2}};
    printf("pwritev2 %zd\n", pwritev2(fd, w2, 1, 11, 0));
    char a[5] = {0}, b[8] = {0};
    struct iovec r[2] = {{a, 4}, {b, 7}};
    printf("preadv %zd [%s][%s]\n", preadv(fd, r, 2, 1), a, b);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    printf("preadv2 %zd [%s][%s]\n", preadv2(fd, r, 2, 6, 0), a, b);
    printf("offset untouched %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    errno = 0;
    struct iovec bad[1] = {{(void *)8, 4}};
    printf("preadv bad buffer %zd %s\n", preadv(fd, bad, 1, 0),
           errno == EFAULT ? "EFAULT" : strerror(errno));
    close(fd);
    unlink(path);
}

static void test_ids(void) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    CHECK(getresuid(&r, &e, &s) == 0);
    CHECK(getresgid(&gr, &ge, &gs) == 0);
    printf("setresuid(-1,-1,-1) %d\n", setresuid(-1, -1, -1));
    printf("setresgid(-1,-1,-1) %d\n", setresgid(-1, -1, -1));
    printf("setreuid(-1,-1) %d\n", setreuid(-1, -1));
    printf("setregid(-1,-1) %d\n", setregid(-1, -1));
    printf("setresuid(same) %d\n", setresuid(r, e, s));
    uid_t r2, e2, s2;
    CHECK(getresuid(&r2, &e2, &s2) == 0);
    printf("ids unchanged %d\n", r == r2 && e == e2 && s == s2);
    gid_t groups[64];
    int ng = getgroups(64, groups);
    CHECK(ng >= 0);
    /* Setting the same groups needs CAP_SETGID: either works or EPERM. */
    int sg = setgroups(ng, groups);
    printf("setgroups(same) %s\n", sg == 0 || errno == EPERM ? "ok or EPERM" : strerror(errno));
}

static void test_sched(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    printf("sched_setaffinity(current) %d\n", sched_setaffinity(0, sizeof set, &set));
    printf("sched_getscheduler %d\n", sched_getscheduler(0));
    struct sched_param sp = {.sched_priority = 1};
    printf("sched_getparam %d priority %d\n", sched_getparam(0, &sp), sp.sched_priority);
    printf("sched_setparam(0) %d\n", sched_setparam(0, &sp));
    printf("priority max/min FIFO %d %d\n", sched_get_priority_max(SCHED_FIFO),
           sched_get_priority_min(SCHED_FIFO));
    struct timespec ts;
    printf("sched_rr_get_interval %d\n", sched_rr_get_interval(0, &ts));
    unsigned cpu = ~0u, node = ~0u;
    printf("getcpu %d cpu known %d\n", (int)syscall(SYS_getcpu, &cpu, &node, NULL),
           cpu != ~0u);
    printf("sched_getcpu >= 0: %d\n", sched_getcpu() >= 0);
    /* struct sched_attr: u32 size, u32 policy, u64 flags, s32 nice, u32
     * priority, u64 runtime, deadline, period (48 bytes in its first
     * version). */
    unsigned char attr[48];
    memset(attr, 0xff, sizeof attr);
    long r = syscall(SYS_sched_getattr, 0, attr, sizeof attr, 0);
    unsigned size, policy;
    memcpy(&size, attr, 4);
    memcpy(&policy, attr + 4, 4);
    printf("sched_getattr %ld size %u policy %u\n", r, size, policy);
    printf("sched_setattr of what it got %ld\n", syscall(SYS_sched_setattr, 0, attr, 0));
    printf("unshare(0) %d\n", unshare(0));
}

/* POSIX message queues, named in the host's mqueue namespace. */
static void test_mqueue(void) {
    char name[64];
    snprintf(name, sizeof name, "/cranemu-abi-%d", (int)getpid());
    struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 64};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &at);
    if (q == (mqd_t)-1) {
        printf("mq_open: %s\n", strerror(errno));
        return;
    }
    CHECK(mq_send(q, "hello", 6, 7) == 0);
    struct mq_attr now;
    CHECK(mq_getattr(q, &now) == 0);
    long cur = now.mq_curmsgs;
    char buf[64];
    unsigned prio = 0;
    ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
    CHECK(mq_getattr(q, &now) == 0);
    printf("mqueue: %zd message, prio %u, '%s', curmsgs %ld then %ld\n", n == 6 ? (ssize_t)1 : n,
           prio, buf, cur, (long)now.mq_curmsgs);
    mq_close(q);
    CHECK(mq_unlink(name) == 0);
}

static void test_clocks(void) {
    struct timespec ts;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
    errno = 0;
    printf("clock_settime(MONOTONIC) %d %s\n", clock_settime(CLOCK_MONOTONIC, &ts),
           errno == EINVAL ? "EINVAL" : strerror(errno));
    errno = 0;
    printf("clock_settime(bad pointer) %ld %s\n",
           syscall(SYS_clock_settime, CLOCK_REALTIME, (void *)8),
           errno == EFAULT ? "EFAULT" : errno == EPERM ? "EPERM" : strerror(errno));
}

static void test_pty(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(m >= 0);
    unsigned n = ~0u;
    printf("TIOCGPTN %d\n", ioctl(m, TIOCGPTN, &n));
    printf("grantpt %d unlockpt %d\n", grantpt(m), unlockpt(m));
    char *name = ptsname(m);
    CHECK(name != NULL);
    char want[32];
    snprintf(want, sizeof want, "/dev/pts/%u", n);
    printf("ptsname matches TIOCGPTN: %d\n", strcmp(name, want) == 0);
    int s = open(name, O_RDWR | O_NOCTTY);
    CHECK(s >= 0);
    printf("slave isatty %d\n", isatty(s));
    CHECK(write(m, "ping\n", 5) == 5);
    char buf[16] = {0};
    ssize_t r = read(s, buf, sizeof buf - 1);
    printf("slave read %zd %s", r, buf);
    int q = -1;
    printf("TIOCOUTQ %d\n", ioctl(s, TIOCOUTQ, &q) == 0 && q >= 0);
    close(s);
    close(m);
}

static void test_shared_file(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/m", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 8192) == 0);
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    memcpy(p + 4096, "reaches the file", 16);
    printf("msync %d\n", msync(p, 8192, MS_SYNC));
    char buf[17] = {0};
    CHECK(pread(fd, buf, 16, 4096) == 16);
    printf("file after store: %s\n", buf);
    CHECK(pwrite(fd, "written by write", 16, 0) == 16);
    printf("mapping after write: %.16s\n", p);
    unsigned char vec[2];
    printf("mincore %d\n", mincore(p, 8192, vec));
    printf("mlock %d munlock %d\n", mlock(p, 4096), munlock(p, 4096));
    errno = 0;
    printf("msync unaligned %d %s\n", msync(p + 1, 10, MS_SYNC),
           errno == EINVAL ? "EINVAL" : strerror(errno));
    munmap(p, 8192);
    close(fd);
    unlink(path);
}

static void test_memfd_seals(void) {
    int fd = memfd_create("seals", MFD_ALLOW_SEALING);
    CHECK(fd >= 0);
    CHECK(write(fd, "abc", 3) == 3);
    printf("F_ADD_SEALS %d\n", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK));
    printf("F_GET_SEALS %#x\n", fcntl(fd, F_GET_SEALS));
    errno = 0;
    printf("grow sealed %d %s\n", ftruncate(fd, 100), errno == EPERM ? "EPERM" : strerror(errno));
    close(fd);
}

static void test_signalfd_and_timer(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    int sfd = signalfd(-1, &one, SFD_CLOEXEC);
    CHECK(sfd >= 0);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    struct signalfd_siginfo si;
    printf("signalfd read %zd", read(sfd, &si, sizeof si));
    printf(" signo %u code %s pid ok %d\n", si.ssi_signo,
           si.ssi_code == SI_USER ? "SI_USER" : "other", si.ssi_pid == (uint32_t)getpid());
    close(sfd);

    timer_t t;
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
    ev.sigev_value.sival_int = 42;
    CHECK(timer_create(CLOCK_MONOTONIC, &ev, &t) == 0);
    struct itimerspec its = {.it_value = {0, 2000000}};
    CHECK(timer_settime(t, 0, &its, NULL) == 0);
    siginfo_t info;
    sigset_t two;
    sigemptyset(&two);
    sigaddset(&two, SIGUSR2);
    int sig = sigwaitinfo(&two, &info);
    printf("timer signal %d code %s value %d\n", sig,
           info.si_code == SI_TIMER ? "SI_TIMER" : "other", info.si_value.sival_int);
    struct itimerspec cur;
    printf("timer_gettime %d disarmed %d\n", timer_gettime(t, &cur),
           cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
    printf("timer_getoverrun %d\n", timer_getoverrun(t));
    printf("timer_delete %d\n", timer_delete(t));
    CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0);
}

static void test_misc(void) {
    printf("prctl PDEATHSIG set %d", prctl(PR_SET_PDEATHSIG, SIGTERM));
    int pd = 0;
    printf(" get %d value %d\n", prctl(PR_GET_PDEATHSIG, &pd), pd);
    prctl(PR_SET_PDEATHSIG, 0);
    printf("PR_GET_DUMPABLE %d\n", prctl(PR_GET_DUMPABLE));
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(s >= 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    printf("SIOCGIFINDEX lo %d index %d\n", ioctl(s, SIOCGIFINDEX, &ifr),
           ifr.ifr_ifindex == (int)if_nametoindex("lo"));
    close(s);
    printf("personality query %d\n", personality(0xffffffff));
}

static void test_sysv(void) {
    int shm = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    CHECK(shm >= 0);
    char *p = shmat(shm, NULL, 0);
    CHECK(p != (char *)-1);
    strcpy(p, "parent");
    pid_t c = fork();
    if (c == 0) {
        strcpy(p + 4096, "child saw ");
        strcat(p + 4096, p);
        _exit(0);
    }
    int st;
    CHECK(waitpid(c, &st, 0) == c);
    printf("shm after child: %s\n", p + 4096);
    struct shmid_ds ds;
    CHECK(shmctl(shm, IPC_STAT, &ds) == 0);
    printf("shm segsz %zu nattch %lu\n", ds.shm_segsz, (unsigned long)ds.shm_nattch);
    char *q = shmat(shm, NULL, SHM_RDONLY);
    CHECK(q != (char *)-1);
    printf("second attach sees: %s, distinct address %d\n", q, q != p);
    printf("shmdt %d %d\n", shmdt(q), shmdt(p));
    errno = 0;
    printf("shmdt again %d %s\n", shmdt(p), errno == EINVAL ? "EINVAL" : strerror(errno));
    CHECK(shmctl(shm, IPC_RMID, NULL) == 0);

    int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    CHECK(sem >= 0);
    CHECK(semctl(sem, 0, SETVAL, 3) == 0);
    struct sembuf op = {.sem_num = 0, .sem_op = -1, .sem_flg = 0};
    CHECK(semop(sem, &op, 1) == 0);
    printf("semval after -1: %d\n", semctl(sem, 0, GETVAL));
    unsigned short vals[2] = {5, 6}, back[2] = {0, 0};
    CHECK(semctl(sem, 0, SETALL, vals) == 0);
    CHECK(semctl(sem, 0, GETALL, back) == 0);
    printf("semctl GETALL %u %u\n", back[0], back[1]);
    struct semid_ds sds;
    memset(&sds, 0xff, sizeof sds);
    CHECK(semctl(sem, 0, IPC_STAT, &sds) == 0);
    printf("sem_nsems %lu mode %o\n", (unsigned long)sds.sem_nsems, sds.sem_perm.mode & 0777);
    sds.sem_perm.mode = 0640;
    CHECK(semctl(sem, 0, IPC_SET, &sds) == 0);
    CHECK(semctl(sem, 0, IPC_STAT, &sds) == 0);
    printf("mode after IPC_SET %o\n", sds.sem_perm.mode & 0777);
    op.sem_op = -10;
    op.sem_flg = IPC_NOWAIT;
    errno = 0;
    printf("semop would block %d %s\n", semop(sem, &op, 1), errno == EAGAIN ? "EAGAIN" : strerror(errno));
    CHECK(semctl(sem, 0, IPC_RMID) == 0);

    int mq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(mq >= 0);
    struct { long type; char text[16]; } m = {7, "hello queue"}, r;
    CHECK(msgsnd(mq, &m, 12, 0) == 0);
    struct msqid_ds mds;
    CHECK(msgctl(mq, IPC_STAT, &mds) == 0);
    printf("msg_qnum %lu\n", (unsigned long)mds.msg_qnum);
    memset(&r, 0, sizeof r);
    printf("msgrcv %zd type %ld %s\n", msgrcv(mq, &r, sizeof r.text, 0, 0), r.type, r.text);
    CHECK(msgctl(mq, IPC_RMID, NULL) == 0);
}

static void test_proc_self(const char *argv0, int argc, char **argv) {
    struct stat st;
    CHECK(lstat("/proc/self/exe", &st) == 0);
    printf("lstat /proc/self/exe is a link: %d\n", S_ISLNK(st.st_mode));
    CHECK(stat("/proc/self/exe", &st) == 0);
    printf("stat /proc/self/exe is a file: %d\n", S_ISREG(st.st_mode));
    char link[PATH_MAX] = {0}, real[PATH_MAX];
    CHECK(readlink("/proc/self/exe", link, sizeof link - 1) > 0);
    CHECK(realpath(argv0, real) != NULL);
    printf("readlink /proc/self/exe is the program: %d\n", strcmp(link, real) == 0);
    FILE *f = fopen("/proc/self/stat", "r");
    CHECK(f != NULL);
    char line[1024];
    CHECK(fgets(line, sizeof line, f) != NULL);
    fclose(f);
    int pid;
    char comm[64];
    CHECK(sscanf(line, "%d (%63[^)])", &pid, comm) == 2);
    const char *base = strrchr(argv0, '/') ? strrchr(argv0, '/') + 1 : argv0;
    printf("stat pid is ours %d, comm is the program's name %d\n", pid == getpid(),
           strncmp(comm, base, 15) == 0);
    f = fopen("/proc/self/cmdline", "r");
    CHECK(f != NULL);
    size_t n = fread(line, 1, sizeof line, f);
    fclose(f);
    size_t want = 0;
    int same = 1;
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]) + 1;
        same &= want + l <= n && memcmp(line + want, argv[i], l) == 0;
        want += l;
    }
    printf("cmdline is argv: %d\n", same && n == want);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "fds")) {
        int out = fcntl(1, F_GETFD) >= 0 ? 1 : 2;
        for (int fd = 0; fd < 3; fd++)
            dprintf(out, "fd %d %s\n", fd, fcntl(fd, F_GETFD) >= 0 ? "open" : "closed");
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "exec")) {
        execv(argv[2], argv + 2);
        printf("execv %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    if (argc > 2 && !strcmp(argv[1], "fexecve")) {
        int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0);
        extern char **environ;
        fexecve(fd, argv + 2, environ);
        printf("fexecve %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    if (argc > 3 && !strcmp(argv[1], "execveat")) {
        /* argv[2] a directory, argv[3] a program name in it. */
        int dir = open(argv[2], O_RDONLY | O_DIRECTORY);
        CHECK(dir >= 0);
        extern char **environ;
        syscall(SYS_execveat, dir, argv[3], argv + 3, environ, 0);
        printf("execveat %s: %s\n", argv[3], strerror(errno));
        return 1;
    }
    if (argc > 1 && !strcmp(argv[1], "unimp")) {
        long nrs[] = {500, 500, 501};
        for (int i = 0; i < 3; i++) {
            errno = 0;
            long r = syscall(nrs[i]);
            printf("syscall %ld = %ld %s\n", nrs[i], r, errno == ENOSYS ? "ENOSYS" : strerror(errno));
        }
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    strcpy(dir, "/tmp/cranemu-abi-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    test_xattr();
    test_vectored();
    test_ids();
    test_sched();
    test_clocks();
    test_pty();
    test_shared_file();
    test_memfd_seals();
    test_signalfd_and_timer();
    test_misc();
    test_sysv();
    test_mqueue();
    test_proc_self(argv[0], argc, argv);
    rmdir(dir);
    printf("done\n");
    return 0;
}
