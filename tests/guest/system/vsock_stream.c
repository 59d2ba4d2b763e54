/* Runs inside the Linux guest of tests/system_vsock.rs (built statically
 * with riscv64-linux-gnu-gcc and glibc, added to the initramfs by the test):
 *
 *   vsock_stream listen PORT SEED BYTES
 *   vsock_stream connect CID PORT SEED BYTES
 *
 * Opens one AF_VSOCK stream: `listen` binds VMADDR_CID_ANY:PORT, prints
 * "listening PORT" and accepts one connection; `connect` connects to
 * CID:PORT.  Then a thread sends BYTES bytes of the xorshift64 stream of
 * SEED (below, the same generator as the test's) and shuts down its
 * sending side, while the main thread reads to end of file, hashing what
 * it gets with FNV-1a (64 bits).  Prints
 *   sent N recv M fnv HASH seconds S
 * (HASH in 16 hex digits, S the wall time of the transfer) and exits 0,
 * or prints "FAIL ..." and exits 1.  With VSOCK_NOHASH=1 in the
 * environment (benches/vsock.py) it does not hash: HASH is 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static int fd;
static uint64_t seed, total;
static uint64_t sent;
static int send_err;

/* The test's generator: state = seed (0 becomes 1); each 8-byte word is
 * the next xorshift64 state, little-endian. */
static uint64_t next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void *sender(void *arg)
{
    (void)arg;
    static unsigned char buf[65536];
    uint64_t s = seed ? seed : 1;
    while (sent < total) {
        for (size_t i = 0; i < sizeof buf; i += 8) {
            uint64_t w = next(&s);
            memcpy(buf + i, &w, 8); /* riscv64 is little-endian */
        }
        size_t n = sizeof buf;
        if (n > total - sent)
            n = total - sent;
        size_t off = 0;
        while (off < n) {
            ssize_t r = send(fd, buf + off, n - off, 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                send_err = errno;
                return NULL;
            }
            off += (size_t)r;
        }
        sent += n;
    }
    if (shutdown(fd, SHUT_WR) < 0)
        send_err = errno;
    return NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int listening = argc == 5 && !strcmp(argv[1], "listen");
    if (!listening && !(argc == 6 && !strcmp(argv[1], "connect"))) {
        fprintf(stderr, "usage: vsock_stream listen PORT SEED BYTES | connect CID PORT SEED BYTES\n");
        return 2;
    }
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK};
    int a = 2;
    if (listening) {
        addr.svm_cid = VMADDR_CID_ANY;
    } else {
        addr.svm_cid = (unsigned)strtoul(argv[a++], NULL, 0);
    }
    addr.svm_port = (unsigned)strtoul(argv[a++], NULL, 0);
    seed = strtoull(argv[a++], NULL, 0);
    total = strtoull(argv[a++], NULL, 0);

    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0) {
        printf("FAIL socket: %s\n", strerror(errno));
        return 1;
    }
    if (listening) {
        if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 1) < 0) {
            printf("FAIL bind/listen: %s\n", strerror(errno));
            return 1;
        }
        printf("listening %u\n", addr.svm_port);
        fflush(stdout);
        fd = accept(s, NULL, NULL);
        if (fd < 0) {
            printf("FAIL accept: %s\n", strerror(errno));
            return 1;
        }
    } else {
        if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
            printf("FAIL connect: %s\n", strerror(errno));
            return 1;
        }
        fd = s;
    }
    double t0 = now();
    pthread_t th;
    if (pthread_create(&th, NULL, sender, NULL)) {
        printf("FAIL pthread_create\n");
        return 1;
    }
    static unsigned char buf[65536];
    const char *nohash = getenv("VSOCK_NOHASH");
    int hash = !(nohash && !strcmp(nohash, "1"));
    uint64_t got = 0, h = hash ? 0xcbf29ce484222325ull : 0;
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            printf("FAIL recv: %s\n", strerror(errno));
            return 1;
        }
        if (r == 0)
            break;
        for (ssize_t i = 0; hash && i < r; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ull;
        }
        got += (uint64_t)r;
    }
    pthread_join(th, NULL);
    double t = now() - t0;
    if (send_err) {
        printf("FAIL send: %s\n", strerror(send_err));
        return 1;
    }
    close(fd);
    printf("sent %" PRIu64 " recv %" PRIu64 " fnv %016" PRIx64 " seconds %.3f\n", sent, got, h, t);
    return 0;
}
