#!/usr/bin/env python3
"""virtio-vsock throughput between the host and a Linux guest under cranemu:
tests/guest/system/vsock_stream.c in the guest (built here with
riscv64-linux-gnu-gcc and appended to the virtio initramfs), this script on
the host end of `-device vhost-vsock-device,guest-cid=3,uds=PATH`.

Usage: benches/vsock.py [CRANEMU] [MIB]   (defaults: target/release/cranemu, 128)
VSOCK_BENCH_ARGS adds emulator options (e.g. "-smp 2").
Needs the images of scripts/fetch-guests.sh. Runs, each RUNS times:
  host->guest  the host connects (CONNECT 5000) and sends MIB MiB
  guest->host  the guest connects to CID 2 port 5001 (PATH_5001) and sends MIB MiB
  both         the host connects and both sides send MIB MiB at once
and prints the median rate in MB/s (10^6 bytes/s) of each, timed on the host
from the connection's set-up to the end of the data (the guest does not
hash what it receives: VSOCK_NOHASH=1). There is no QEMU
twin: QEMU's vhost-vsock needs the host's vhost_vsock module, and QEMU 7.2
has no Unix-socket (hybrid) vsock.
"""
import os, socket, statistics, subprocess, sys, tempfile, threading, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYS = os.path.join(os.environ.get("CRANEMU_GUEST_CACHE", os.path.join(REPO, ".cache/guests")), "system")
CRANEMU = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "target/release/cranemu")
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 128
RUNS = 3
CHUNK = b"\xa5" * (1 << 16)


def newc(files):
    """A newc cpio archive of (name, data) executables."""
    out = bytearray()

    def pad():
        out.extend(b"\0" * (-len(out) % 4))

    def header(ino, name, mode, size):
        fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0")
        pad()

    for i, (name, data) in enumerate(files):
        header(0x20000 + i, name, 0o100755, len(data))
        out.extend(data)
        pad()
    header(0, "TRAILER!!!", 0, 0)
    return bytes(out)


def send_recv(s, nbytes):
    """Sends nbytes (then shuts down writing) while reading to EOF: bytes read."""
    got = [0]

    def reader():
        while True:
            b = s.recv(1 << 16)
            if not b:
                return
            got[0] += len(b)

    t = threading.Thread(target=reader)
    t.start()
    left = nbytes
    while left:
        n = min(left, len(CHUNK))
        s.sendall(CHUNK[:n])
        left -= n
    s.shutdown(socket.SHUT_WR)
    t.join()
    return got[0]


def main():
    with tempfile.TemporaryDirectory() as d:
        prog = os.path.join(d, "vsock_stream")
        subprocess.run(["riscv64-linux-gnu-gcc", "-static", "-O2", "-pthread", "-o", prog,
                        os.path.join(REPO, "tests/guest/system/vsock_stream.c")], check=True)
        initrd = os.path.join(d, "initrd")
        with open(os.path.join(SYS, "virtio/initramfs.cpio.gz"), "rb") as f:
            base = f.read()
        with open(prog, "rb") as f:
            extra = newc([("bin/vsock_stream", f.read())])
        with open(initrd, "wb") as f:
            f.write(base + b"\0" * (-len(base) % 4) + extra)
        uds = os.path.join(d, "v.sock")
        args = [CRANEMU, "system", "-M", "virt", "-m", "256M", "-nographic", "-bios",
                f"{SYS}/fw_dynamic.bin", "-kernel", f"{SYS}/Image", "-initrd", initrd,
                "-append", "console=ttyS0 panic=-1 quiet",
                "-device", f"vhost-vsock-device,guest-cid=3,uds={uds}"]
        args += os.environ.get("VSOCK_BENCH_ARGS", "").split()
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = b""

        def wait(pat, limit=300):
            nonlocal out
            t = time.time()
            while pat not in out:
                if time.time() - t > limit:
                    p.kill()
                    raise SystemExit(f"timeout waiting for {pat!r}: {out[-2000:]!r}")
                out += os.read(p.stdout.fileno(), 4096)

        def guest(cmd):
            nonlocal out
            out = b""
            p.stdin.write(f"{cmd}; echo BENCH-\"DONE\" $?\n".encode())
            p.stdin.flush()

        wait(b"cranemu-initramfs: ready")
        wait(b"# ")
        n = MIB << 20
        rates = {"host->guest": [], "guest->host": [], "both": []}
        for _ in range(RUNS):
            for kind in rates:
                g_send = n if kind != "host->guest" else 0
                h_send = n if kind != "guest->host" else 0
                if kind == "guest->host":
                    path = f"{uds}_5001"
                    if os.path.exists(path):
                        os.unlink(path)
                    ls = socket.socket(socket.AF_UNIX)
                    ls.bind(path)
                    ls.listen(1)
                    guest(f"VSOCK_NOHASH=1 vsock_stream connect 2 5001 7 {g_send}")
                    s, _ = ls.accept()
                    t0 = time.time()
                    ls.close()
                else:
                    guest(f"VSOCK_NOHASH=1 vsock_stream listen 5000 7 {g_send}")
                    while True:
                        s = socket.socket(socket.AF_UNIX)
                        s.connect(uds)
                        s.sendall(b"CONNECT 5000\n")
                        line = b""
                        while not line.endswith(b"\n"):
                            b = s.recv(1)
                            if not b:
                                break
                            line += b
                        if line.startswith(b"OK "):
                            break
                        s.close()
                        time.sleep(0.05)
                    t0 = time.time()
                got = send_recv(s, h_send)
                secs = time.time() - t0
                s.close()
                wait(b"BENCH-DONE 0")
                if got != g_send:
                    raise SystemExit(f"{kind}: got {got} bytes, expected {g_send}: {out[-2000:]!r}")
                rates[kind].append(n / secs / 1e6)
        p.stdin.write(b"poweroff -f\n")
        p.stdin.flush()
        p.wait(timeout=60)
        print(f"vsock, {MIB} MiB each way that sends, median of {RUNS}; {os.cpu_count()} cores, "
              f"options {os.environ.get('VSOCK_BENCH_ARGS', '(none)')}, "
              f"{time.strftime('%Y-%m-%d')}")
        for kind, r in rates.items():
            print(f"cranemu  {kind:12} {statistics.median(r):8.1f} MB/s  (runs: "
                  + ", ".join(f"{x:.1f}" for x in r) + ")", flush=True)


main()
