/* Sockets: the socket syscall family on cranemu.
 *
 * Every line is independent of scheduling and of the ports the kernel
 * picks, so the output can be compared with a checked-in file and with
 * qemu-riscv64: a TCP server on 127.0.0.1 (port 0, found with
 * getsockname) and a client thread (connect, send, shutdown, recv of the
 * echo; accept4, getpeername), UDP sendto/recvfrom and
 * sendmmsg/recvmmsg, an AF_UNIX socketpair passing a pipe's descriptor
 * with SCM_RIGHTS (MSG_CMSG_CLOEXEC) and the sender's credentials with SO_PASSCRED,
 * setsockopt/getsockopt round trips, a receive timeout (EAGAIN), bad
 * pointers (EFAULT) and a numeric getaddrinfo. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHECK(x)                                                    \
    do {                                                            \
        if ((x) < 0) {                                              \
            printf("FAIL %s:%d %s: %s\n", __FILE__, __LINE__, #x,   \
                   strerror(errno));                                \
            exit(1);                                                \
        }                                                           \
    } while (0)

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int port_of(int fd, int peer)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    CHECK(peer ? getpeername(fd, (struct sockaddr *)&a, &len)
               : getsockname(fd, (struct sockaddr *)&a, &len));
    return ntohs(a.sin_port);
}

static int server_port;
static char client_got[64];
static int client_local_port;

static void *client(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s);
    struct sockaddr_in a = loopback(server_port);
    CHECK(connect(s, (struct sockaddr *)&a, sizeof a));
    client_local_port = port_of(s, 0);
    CHECK(send(s, "ping from client", 16, 0));
    CHECK(shutdown(s, SHUT_WR));
    size_t got = 0;
    ssize_t n;
    while ((n = recv(s, client_got + got, sizeof client_got - 1 - got, 0)) > 0)
        got += n;
    CHECK(n);
    close(s);
    return NULL;
}

static void tcp(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(ls);
    int one = 1, v = 0;
    socklen_t vl = sizeof v;
    CHECK(setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    CHECK(getsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &v, &vl));
    printf("tcp: SO_REUSEADDR %d (optlen %u)\n", v, (unsigned)vl);
    struct sockaddr_in a = loopback(0);
    CHECK(bind(ls, (struct sockaddr *)&a, sizeof a));
    CHECK(listen(ls, 4));
    server_port = port_of(ls, 0);
    printf("tcp: bound to an ephemeral port: %s\n", server_port ? "yes" : "no");
    pthread_t t;
    pthread_create(&t, NULL, client, NULL);

    struct sockaddr_in peer;
    socklen_t plen = sizeof peer + 8;
    int c = accept4(ls, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
    CHECK(c);
    printf("tcp: accepted, addrlen %u, peer %s, close-on-exec %d\n",
           (unsigned)plen, inet_ntoa(peer.sin_addr),
           (fcntl(c, F_GETFD) & FD_CLOEXEC) != 0);
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while ((n = recv(c, buf + got, sizeof buf - got, 0)) > 0)
        got += n;
    CHECK(n);
    printf("tcp: server got \"%.*s\" (%zu bytes), then EOF\n", (int)got, buf, got);
    for (size_t i = 0; i < got; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z')
            buf[i] -= 32;
    CHECK(send(c, buf, got, 0));
    printf("tcp: getpeername port is accept's: %s\n",
           port_of(c, 1) == ntohs(peer.sin_port) ? "yes" : "no");
    printf("tcp: getsockname port is the listener's: %s\n",
           port_of(c, 0) == server_port ? "yes" : "no");
    close(c);
    pthread_join(t, NULL);
    printf("tcp: client got \"%s\"; its port is the server's peer: %s\n",
           client_got, client_local_port == ntohs(peer.sin_port) ? "yes" : "no");
    close(ls);
}

static void udp(void)
{
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(u1);
    CHECK(u2);
    struct sockaddr_in a = loopback(0);
    CHECK(bind(u1, (struct sockaddr *)&a, sizeof a));
    CHECK(bind(u2, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in to = loopback(port_of(u2, 0));
    CHECK(sendto(u1, "datagram", 8, 0, (struct sockaddr *)&to, sizeof to));
    char buf[32];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(u2, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    CHECK(n);
    printf("udp: recvfrom \"%.*s\" from %s, sender's port: %s\n", (int)n, buf,
           inet_ntoa(from.sin_addr), ntohs(from.sin_port) == port_of(u1, 0) ? "yes" : "no");

    /* sendmmsg / recvmmsg: two datagrams in one call each. */
    CHECK(connect(u1, (struct sockaddr *)&to, sizeof to));
    struct iovec iov[2] = {{"first", 5}, {"second!", 7}};
    struct mmsghdr out[2];
    memset(out, 0, sizeof out);
    for (int i = 0; i < 2; i++) {
        out[i].msg_hdr.msg_iov = &iov[i];
        out[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(u1, out, 2, 0);
    printf("udp: sendmmsg sent %d (lengths %u %u)\n", sent, out[0].msg_len, out[1].msg_len);
    char r0[16], r1[16];
    struct iovec riov[2] = {{r0, sizeof r0}, {r1, sizeof r1}};
    struct sockaddr_in names[2];
    struct mmsghdr in[2];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 2; i++) {
        in[i].msg_hdr.msg_iov = &riov[i];
        in[i].msg_hdr.msg_iovlen = 1;
        in[i].msg_hdr.msg_name = &names[i];
        in[i].msg_hdr.msg_namelen = sizeof names[i];
    }
    int got = recvmmsg(u2, in, 2, MSG_WAITFORONE, NULL);
    CHECK(got);
    /* Both were queued before the call, so both arrive. */
    printf("udp: recvmmsg got %d: \"%.*s\" \"%.*s\", namelen %u\n", got,
           (int)in[0].msg_len, r0, (int)in[1].msg_len, r1,
           (unsigned)in[0].msg_hdr.msg_namelen);

    /* A receive timeout round trip, then a recv that times out. */
    struct timeval tv = {0, 200000}, tv2;
    socklen_t tl = sizeof tv2;
    CHECK(setsockopt(u2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    CHECK(getsockopt(u2, SOL_SOCKET, SO_RCVTIMEO, &tv2, &tl));
    printf("udp: SO_RCVTIMEO %ld.%06ld (optlen %u)\n", (long)tv2.tv_sec,
           (long)tv2.tv_usec, (unsigned)tl);
    n = recv(u2, buf, sizeof buf, 0);
    printf("udp: recv with nothing queued: %zd (%s)\n", n,
           errno == EAGAIN ? "EAGAIN" : strerror(errno));
    close(u1);
    close(u2);
}

static void unix_rights(void)
{
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK(pipe(p));
    CHECK(write(p[1], "read through a passed fd", 24));
    close(p[1]);

    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {"F", 1};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[0], sizeof(int));
    printf("unix: sendmsg %zd\n", sendmsg(sv[0], &m, 0));
    close(p[0]);

    char byte;
    char rbuf[CMSG_SPACE(sizeof(int)) + 64];
    struct iovec riov = {&byte, 1};
    struct msghdr r = {0};
    r.msg_iov = &riov;
    r.msg_iovlen = 1;
    r.msg_control = rbuf;
    r.msg_controllen = sizeof rbuf;
    ssize_t n = recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC);
    CHECK(n);
    c = CMSG_FIRSTHDR(&r);
    printf("unix: recvmsg %zd '%c', controllen %zu, flags %#x, cmsg %d/%d\n", n, byte,
           (size_t)r.msg_controllen, r.msg_flags, c ? c->cmsg_level : -1,
           c ? c->cmsg_type : -1);
    if (c && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
        char buf[64];
        n = read(fd, buf, sizeof buf);
        printf("unix: passed fd reads \"%.*s\", close-on-exec %d\n", (int)n, buf,
               (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
        close(fd);
    }

    /* SO_PASSCRED: the receiver gets the sender's pid and uid. */
    int one = 1;
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
    iov.iov_base = "C";
    m.msg_control = NULL;
    m.msg_controllen = 0;
    CHECK(sendmsg(sv[0], &m, 0));
    r.msg_control = rbuf;
    r.msg_controllen = sizeof rbuf;
    CHECK(recvmsg(sv[1], &r, 0));
    c = CMSG_FIRSTHDR(&r);
    if (c && c->cmsg_type == SCM_CREDENTIALS) {
        struct ucred uc;
        memcpy(&uc, CMSG_DATA(c), sizeof uc);
        printf("unix: SCM_CREDENTIALS pid is ours %d, uid is ours %d\n",
               uc.pid == getpid(), uc.uid == getuid());
    } else {
        printf("unix: no SCM_CREDENTIALS\n");
    }

    /* A peer's credentials, and the socket type. */
    struct ucred pc;
    socklen_t pl = sizeof pc;
    int type;
    socklen_t tl = sizeof type;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &pc, &pl));
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &tl));
    printf("unix: SO_PEERCRED pid is ours %d (optlen %u), SO_TYPE stream %d\n",
           pc.pid == getpid(), (unsigned)pl, type == SOCK_STREAM);
    close(sv[0]);
    close(sv[1]);
}

static void bad_pointers(void)
{
    char *hole = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(hole, 4096);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(s);
    errno = 0;
    int r = connect(s, (struct sockaddr *)hole, sizeof(struct sockaddr_in));
    printf("efault: connect to an unmapped sockaddr: %d %s\n", r, strerror(errno));
    struct sockaddr_in a = loopback(9);
    struct iovec iov = {hole, 16};
    struct msghdr m = {0};
    m.msg_name = &a;
    m.msg_namelen = sizeof a;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    errno = 0;
    ssize_t n = sendmsg(s, &m, 0);
    printf("efault: sendmsg with an unmapped iovec: %zd %s\n", n, strerror(errno));
    m.msg_iov = (struct iovec *)hole;
    errno = 0;
    n = sendmsg(s, &m, 0);
    printf("efault: sendmsg with an unmapped iovec array: %zd %s\n", n, strerror(errno));
    errno = 0;
    n = recvmsg(s, (struct msghdr *)hole, MSG_DONTWAIT);
    printf("efault: recvmsg with an unmapped msghdr: %zd %s\n", n, strerror(errno));
    int v;
    errno = 0;
    r = getsockopt(s, SOL_SOCKET, SO_TYPE, &v, (socklen_t *)hole);
    printf("efault: getsockopt with an unmapped optlen: %d %s\n", r, strerror(errno));
    socklen_t len = sizeof a;
    errno = 0;
    r = getsockname(s, (struct sockaddr *)hole, &len);
    printf("efault: getsockname into an unmapped buffer: %d %s\n", r, strerror(errno));
    close(s);
    errno = 0;
    r = socket(12345, SOCK_STREAM, 0);
    printf("socket with a bad family: %d %s\n", r, strerror(errno));
}

static void addrinfo(void)
{
    struct addrinfo hints = {0}, *res;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    int r = getaddrinfo("127.0.0.1", "8080", &hints, &res);
    if (r != 0) {
        printf("getaddrinfo: %s\n", gai_strerror(r));
        return;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;
    printf("getaddrinfo: %s port %d, addrlen %u\n", inet_ntoa(sin->sin_addr),
           ntohs(sin->sin_port), (unsigned)res->ai_addrlen);
    freeaddrinfo(res);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    tcp();
    udp();
    unix_rights();
    bad_pointers();
    addrinfo();
    return 0;
}
