#!/usr/bin/env python3
"""virtio-net TCP throughput through `-netdev user,hostfwd=...` (libslirp),
cranemu against qemu-system-riscv64 on the same images and arguments.

The guest (the virtio initramfs of scripts/fetch-virtio-images.sh) takes its
address by DHCP, serves a MIB-MiB file of zeroes with busybox httpd on port
80 and sinks port 81 with `nc -l`; the host, through hostfwd on 127.0.0.1:
  download  GET of the file (guest -> host), timed to the last byte
  upload    MIB MiB written to port 81 (host -> guest), timed until the
            guest's nc closes the connection after reading everything
Each is run RUNS times per emulator; the median is printed, in MB/s, with
the ratio cranemu / qemu (above 1: cranemu is faster).

Usage: benches/virtio_net.py [RUNS] [MIB]        (defaults: 3, 64)
Environment: CRANEMU (default: $CARGO_TARGET_DIR or target, release/cranemu),
QEMU_SYSTEM (default: qemu-system-riscv64), CRANEMU_GUEST_CACHE.
"""
import os, socket, statistics, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYS = os.path.join(os.environ.get("CRANEMU_GUEST_CACHE", os.path.join(REPO, ".cache/guests")), "system")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
CRANEMU = os.environ.get("CRANEMU", os.path.join(TARGET, "release/cranemu"))
QEMU = os.environ.get("QEMU_SYSTEM", "qemu-system-riscv64")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 64


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Guest:
    def __init__(self, cmd, restrict):
        self.http, self.sink = free_port(), free_port()
        netdev = (f"user,id=n0{restrict},hostfwd=tcp:127.0.0.1:{self.http}-:80,"
                  f"hostfwd=tcp:127.0.0.1:{self.sink}-:81")
        args = cmd + ["-M", "virt", "-m", "512M", "-nographic", "-bios", f"{SYS}/fw_dynamic.bin",
                      "-kernel", f"{SYS}/Image", "-initrd", f"{SYS}/virtio/initramfs.cpio.gz",
                      "-append", "console=ttyS0 panic=-1 quiet",
                      "-netdev", netdev, "-device", "virtio-net-device,netdev=n0"]
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.out = b""
        self.wait(b"cranemu-initramfs: ready")
        self.wait(b"# ")
        self.send("ip link set eth0 up; udhcpc -i eth0 -n -q -t 10 -T 2 -s /usr/share/udhcpc/default.script >/dev/null 2>&1; "
                  f"mkdir -p /tmp/www; dd if=/dev/zero of=/tmp/www/z bs=1M count={MIB} 2>/dev/null; "
                  "httpd -p 80 -h /tmp/www; "
                  "{ while true; do nc -l -p 81 >/dev/null; done & } ; "
                  "ip -4 addr show dev eth0; ls -l /tmp/www; netstat -ltn; echo NET-\"UP\"")
        self.wait(b"NET-UP\r\n")
        if os.environ.get("VERBOSE"):
            print(self.out[-1500:].decode(errors="replace"), file=sys.stderr)

    def wait(self, pat, limit=600):
        t = time.time()
        while pat not in self.out:
            if time.time() - t > limit:
                self.p.kill()
                raise SystemExit(f"timeout waiting for {pat!r}: {self.out[-2000:]!r}")
            self.out += os.read(self.p.stdout.fileno(), 4096)

    def send(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def download(self):
        s = socket.create_connection(("127.0.0.1", self.http))
        t = time.perf_counter()
        s.sendall(b"GET /z HTTP/1.0\r\n\r\n")
        n = 0
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            n += len(b)
        dt = time.perf_counter() - t
        s.close()
        assert n > MIB << 20, f"short download: {n} bytes"
        return (MIB << 20) / dt / 1e6

    def upload(self):
        chunk = bytes(1 << 20)
        for _ in range(50):
            try:
                s = socket.create_connection(("127.0.0.1", self.sink))
                break
            except OSError:
                time.sleep(0.1)
        t = time.perf_counter()
        for _ in range(MIB):
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        dt = time.perf_counter() - t
        s.close()
        time.sleep(0.2)  # the guest's loop starts the next nc
        return (MIB << 20) / dt / 1e6

    def stop(self):
        self.send("poweroff -f")
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()


def main():
    results = {}
    for label, cmd, restrict in [("cranemu", [CRANEMU, "system"], ""),
                                 ("qemu-7.2", [QEMU], ",restrict=on")]:
        g = Guest(cmd, restrict)
        down = [g.download() for _ in range(RUNS)]
        up = [g.upload() for _ in range(RUNS)]
        g.stop()
        results[label] = (statistics.median(down), statistics.median(up))
        print(f"{label:9} download {results[label][0]:8.1f} MB/s  upload {results[label][1]:8.1f} MB/s"
              f"  (runs: {' '.join(f'{x:.1f}' for x in down)} / {' '.join(f'{x:.1f}' for x in up)})",
              flush=True)
    c, q = results["cranemu"], results["qemu-7.2"]
    print(f"ratio cranemu/qemu: download {c[0] / q[0]:.2f}  upload {c[1] / q[1]:.2f}")


main()
