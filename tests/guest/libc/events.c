/* Event and I/O-plumbing syscalls: eventfd, epoll (riscv64's 16-byte
 * struct epoll_event round-tripping 64-bit data), timerfd, inotify,
 * memfd_create, splice and tee. Prints only timing-independent values. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define CHECK(x)                                                               \
    do {                                                                       \
        if (!(x)) {                                                            \
            printf("FAIL line %d: %s (errno %d)\n", __LINE__, #x, errno);      \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static void test_eventfd(void) {
    int efd = eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK);
    CHECK(efd >= 0);
    uint64_t v = 4;
    CHECK(write(efd, &v, 8) == 8);
    CHECK(read(efd, &v, 8) == 8);
    printf("eventfd count %llu\n", (unsigned long long)v);
    errno = 0;
    printf("eventfd empty read %zd errno %s\n", read(efd, &v, 8),
           errno == EAGAIN ? "EAGAIN" : "other");
    close(efd);
    efd = eventfd(0, EFD_SEMAPHORE);
    v = 2;
    CHECK(write(efd, &v, 8) == 8);
    CHECK(read(efd, &v, 8) == 8);
    printf("eventfd semaphore read %llu\n", (unsigned long long)v);
    close(efd);
}

static void test_epoll(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    int efd = eventfd(0, EFD_NONBLOCK);
    int p[2];
    CHECK(pipe(p) == 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0);
    ev.events = EPOLLIN;
    ev.data.u64 = 0xfedcba9876543210ULL;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
    struct epoll_event out[4];
    memset(out, 0, sizeof out);
    printf("epoll_wait idle: %d\n", epoll_wait(ep, out, 4, 0));
    uint64_t one = 1;
    CHECK(write(efd, &one, 8) == 8);
    int n = epoll_wait(ep, out, 4, 1000);
    printf("epoll_wait after eventfd write: %d events %#x data %#llx\n", n,
           out[0].events, (unsigned long long)out[0].data.u64);
    CHECK(write(p[1], "x", 1) == 1);
    memset(out, 0, sizeof out);
    n = epoll_wait(ep, out, 4, 1000);
    int seen_e = 0, seen_p = 0;
    for (int i = 0; i < n; i++) {
        if (out[i].data.u64 == 0x1122334455667788ULL && out[i].events == EPOLLIN)
            seen_e = 1;
        if (out[i].data.u64 == 0xfedcba9876543210ULL && out[i].events == EPOLLIN)
            seen_p = 1;
    }
    printf("epoll_wait both: %d eventfd %d pipe %d\n", n, seen_e, seen_p);
    /* maxevents 1 returns one event */
    printf("epoll_wait maxevents 1: %d\n", epoll_wait(ep, out, 1, 0));
    /* MOD the pipe to EPOLLOUT only (never true for a read end) */
    ev.events = EPOLLOUT;
    ev.data.u64 = 42;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0);
    memset(out, 0, sizeof out);
    n = epoll_wait(ep, out, 4, 0);
    printf("after MOD: %d data %#llx\n", n, (unsigned long long)out[0].data.u64);
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL) == 0);
    printf("after DEL: %d\n", epoll_wait(ep, out, 4, 0));
    errno = 0;
    printf("DEL again: %d errno %s\n", epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL),
           errno == ENOENT ? "ENOENT" : "other");
    errno = 0;
    printf("maxevents 0: %d errno %s\n", epoll_wait(ep, out, 0, 0),
           errno == EINVAL ? "EINVAL" : "other");
    sigset_t mask;
    sigemptyset(&mask);
    printf("epoll_pwait with mask: %d\n", epoll_pwait(ep, out, 4, 0, &mask));
    close(p[0]);
    close(p[1]);
    close(efd);
    close(ep);
}

static void test_timerfd(void) {
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    CHECK(tfd >= 0);
    struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = 20000000}};
    CHECK(timerfd_settime(tfd, 0, &its, NULL) == 0);
    struct itimerspec cur;
    CHECK(timerfd_gettime(tfd, &cur) == 0);
    printf("timerfd armed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
                                      cur.it_value.tv_nsec <= 20000000);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0xabcdef0123456789ULL};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == 0);
    struct epoll_event out[2];
    int n = epoll_wait(ep, out, 2, 5000);
    printf("timerfd epoll: %d data %#llx\n", n, (unsigned long long)out[0].data.u64);
    uint64_t exp = 0;
    CHECK(read(tfd, &exp, 8) == 8);
    printf("timerfd expired: %d\n", exp >= 1);
    CHECK(timerfd_gettime(tfd, &cur) == 0);
    printf("timerfd disarmed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
    close(ep);
    close(tfd);
}

static void test_inotify(void) {
    char dir[] = "/tmp/cranemu-events-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    CHECK(in >= 0);
    int wd = inotify_add_watch(in, dir, IN_CREATE);
    CHECK(wd >= 0);
    char buf[4096] __attribute__((aligned(8)));
    errno = 0;
    printf("inotify empty: %zd errno %s\n", read(in, buf, sizeof buf),
           errno == EAGAIN ? "EAGAIN" : "other");
    char path[128];
    snprintf(path, sizeof path, "%s/newfile", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    close(fd);
    ssize_t len = read(in, buf, sizeof buf);
    CHECK(len >= (ssize_t)sizeof(struct inotify_event));
    struct inotify_event *e = (struct inotify_event *)buf;
    printf("inotify event: wd ok %d mask %#x name %s\n", e->wd == wd, e->mask, e->name);
    CHECK(inotify_rm_watch(in, wd) == 0);
    errno = 0;
    printf("rm_watch again: %d errno %s\n", inotify_rm_watch(in, wd),
           errno == EINVAL ? "EINVAL" : "other");
    close(in);
    unlink(path);
    rmdir(dir);
}

static void test_memfd(void) {
    int fd = memfd_create("cranemu-test", MFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(write(fd, "hello memfd", 11) == 11);
    char b[16] = {0};
    CHECK(pread(fd, b, 5, 6) == 5);
    printf("memfd pread: %s\n", b);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    printf("memfd size %lld\n", (long long)st.st_size);
    char lnk[64], tgt[128];
    snprintf(lnk, sizeof lnk, "/proc/self/fd/%d", fd);
    ssize_t l = readlink(lnk, tgt, sizeof tgt - 1);
    if (l > 0) {
        tgt[l] = 0;
        printf("memfd link: %s\n", tgt);
    }
    close(fd);
}

static void test_splice_tee(void) {
    int a[2], b[2], c[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0 && pipe(c) == 0);
    CHECK(write(a[1], "splice-data", 11) == 11);
    /* tee a -> b (a keeps its data) */
    printf("tee: %zd\n", tee(a[0], b[1], 64, 0));
    /* splice a -> c */
    printf("splice pipe: %zd\n", splice(a[0], NULL, c[1], NULL, 64, 0));
    char buf[32] = {0};
    CHECK(read(b[0], buf, sizeof buf) == 11);
    printf("tee copy: %s\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK(read(c[0], buf, sizeof buf) == 11);
    printf("splice copy: %s\n", buf);
    /* splice pipe -> memfd at an offset */
    int fd = memfd_create("splice", 0);
    CHECK(fd >= 0);
    CHECK(write(a[1], "to-file", 7) == 7);
    loff_t off = 4;
    printf("splice to file: %zd off %lld\n", splice(a[0], NULL, fd, &off, 7, 0),
           (long long)off);
    memset(buf, 0, sizeof buf);
    CHECK(pread(fd, buf, 7, 4) == 7);
    printf("file content: %s\n", buf);
    /* splice file -> pipe from an offset */
    off = 7;
    printf("splice from file: %zd off %lld\n", splice(fd, &off, c[1], NULL, 4, 0),
           (long long)off);
    memset(buf, 0, sizeof buf);
    CHECK(read(c[0], buf, sizeof buf) == 4);
    printf("pipe content: %s\n", buf);
    close(fd);
}

/* More ready events than 1024 (a cap cranemu once had): 1100 descriptors of
 * one eventfd, all writable, come back from one epoll_wait. */
static void test_epoll_many(void) {
    enum { N = 1100 };
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur < N + 16) {
        CHECK(rl.rlim_max >= N + 16);
        rl.rlim_cur = N + 16;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    int ep = epoll_create1(0), efd = eventfd(0, 0);
    CHECK(ep >= 0 && efd >= 0);
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = i ? dup(efd) : efd;
        CHECK(fds[i] >= 0);
        struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 1000000 + i};
        CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) == 0);
    }
    static struct epoll_event out[2 * N];
    int n = epoll_wait(ep, out, 2 * N, 0);
    long long sum = 0;
    for (int i = 0; i < n; i++)
        sum += (long long)out[i].data.u64 - 1000000;
    printf("epoll_wait of %d writable: %d events, data sum %lld\n", N, n, sum);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    close(ep);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_eventfd();
    test_epoll();
    test_epoll_many();
    test_timerfd();
    test_inotify();
    test_memfd();
    test_splice_tee();
    printf("done\n");
    return 0;
}
