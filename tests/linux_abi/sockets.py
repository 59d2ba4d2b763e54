# Run by tests/linux_abi.rs in the guest (python3.13): sends 16 MiB of
# deterministic bytes over a socketpair, an AF_UNIX socket bound to a path
# and a TCP connection on 127.0.0.1, each from a forked child to its
# parent, and prints the SHA-256 of what was sent and of what arrived.
#
# Usage: python3.13 sockets.py DIR [PORT]
#   DIR: where the AF_UNIX path is bound
#   PORT: then also connect to a host server on 127.0.0.1:PORT and echo
#   back every byte it sends until it shuts its side down
#
# The same script runs on the host's python3 to give the expected output.
import hashlib, os, socket, sys

SIZE = 16 << 20


def payload():
    # 16 MiB that differ from block to block (a counter hashed), so a
    # dropped, repeated or reordered chunk changes the hash.
    out = bytearray()
    i = 0
    while len(out) < SIZE:
        out += hashlib.sha256(i.to_bytes(8, "little")).digest() * 64
        i += 1
    return bytes(out[:SIZE])


DATA = payload()


def send_from_child(sock_for_child):
    """Forks; the child sends DATA through sock_for_child() in odd-sized
    pieces and exits. Returns the child's pid."""
    pid = os.fork()
    if pid == 0:
        try:
            s = sock_for_child()
            view = memoryview(DATA)
            sizes = [1, 4095, 65536, 100003, 7]
            off, k = 0, 0
            while off < SIZE:
                n = s.send(view[off:off + sizes[k % len(sizes)]])
                off += n
                k += 1
            s.shutdown(socket.SHUT_WR)
            s.close()
            os._exit(0)
        except BaseException as e:
            print("child:", repr(e), file=sys.stderr)
            os._exit(1)
    return pid


def receive(s):
    h = hashlib.sha256()
    n = 0
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    s.close()
    return n, h.hexdigest()


def finish(name, pid, got):
    _, st = os.waitpid(pid, 0)
    n, digest = got
    print(f"{name} {n} {digest} child-status {os.waitstatus_to_exitcode(st)}")


print("sent", SIZE, hashlib.sha256(DATA).hexdigest())

# 1. socketpair
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
pid = send_from_child(lambda: b)
b.close()
finish("socketpair", pid, receive(a))

# 2. AF_UNIX bound to a path
path = os.path.join(sys.argv[1], "sock")
if os.path.exists(path):
    os.unlink(path)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)


def unix_client():
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    return c


pid = send_from_child(unix_client)
conn, _ = srv.accept()
srv.close()
finish("unix-path", pid, receive(conn))
os.unlink(path)

# 3. TCP on 127.0.0.1, a port the kernel picks
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]


def tcp_client():
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


pid = send_from_child(tcp_client)
conn, peer = srv.accept()
srv.close()
assert peer[0] == "127.0.0.1", peer
finish("tcp", pid, receive(conn))

# 4. A host server's bytes, echoed back to it
if len(sys.argv) > 2:
    c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    n = 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        c.sendall(b)
        n += len(b)
    c.close()
    print("echoed", n)
