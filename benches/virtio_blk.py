#!/usr/bin/env python3
"""virtio-blk throughput in the guest: dd with O_DIRECT on /dev/vda,
sequential 1 MiB and 4 KiB (queue depth 1), read and write, under cranemu
(thread pool and io_uring) and qemu-system-riscv64 on the same image.

Usage: benches/virtio_blk.py [CRANEMU]   (default: target/release/cranemu)
Needs the images of scripts/fetch-guests.sh. Prints one line per run:
emulator, engine, test, MB/s (busybox `time` gives 10 ms resolution).
"""
import os, re, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYS = os.path.join(os.environ.get("CRANEMU_GUEST_CACHE", os.path.join(REPO, ".cache/guests")), "system")
CRANEMU = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "target/release/cranemu")
TESTS = [
    ("seq-write-1M", "if=/dev/zero of=/dev/vda bs=1M count=128 oflag=direct", 128 << 20),
    ("seq-read-1M", "if=/dev/vda of=/dev/null bs=1M count=128 iflag=direct", 128 << 20),
    ("seq-read-4K", "if=/dev/vda of=/dev/null bs=4k count=8192 iflag=direct", 32 << 20),
    ("seq-write-4K", "if=/dev/zero of=/dev/vda bs=4k count=8192 oflag=direct", 32 << 20),
]

def run(cmd, img, aio):
    drive = f"file={img},format=raw,if=virtio,cache=none,aio={aio}"
    args = cmd + ["-M", "virt", "-m", "256M", "-nographic", "-bios", f"{SYS}/fw_dynamic.bin",
                  "-kernel", f"{SYS}/Image", "-initrd", f"{SYS}/virtio/initramfs.cpio.gz",
                  "-append", "console=ttyS0 panic=-1 quiet", "-drive", drive]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    def wait(pat, limit=300):
        nonlocal out
        t = time.time()
        while pat not in out:
            if time.time() - t > limit:
                p.kill(); raise SystemExit(f"timeout waiting for {pat!r}: {out[-2000:]!r}")
            out += os.read(p.stdout.fileno(), 4096)
    wait(b"cranemu-initramfs: ready")
    wait(b"# ")
    script = "; ".join(f'echo "T {n}"; time sh -c "dd {a} 2>/dev/null"' for n, a, _ in TESTS)
    p.stdin.write(f"{{ {script}; }} 2>&1; echo BENCH-\"DONE\"\n".encode()); p.stdin.flush()
    start = len(out)
    wait(b"BENCH-DONE\r\n")
    p.stdin.write(b"poweroff -f\n"); p.stdin.flush()
    p.wait(timeout=60)
    text = out[start:].decode(errors="replace")
    res = {}
    name = None
    for line in text.splitlines():
        m = re.match(r"T (\S+)", line)
        if m: name = m.group(1)
        m = re.match(r"real\s+(\d+)m\s*([\d.]+)s", line.strip())
        if m and name:
            res[name] = int(m.group(1)) * 60 + float(m.group(2))
    return res

def main():
    with tempfile.TemporaryDirectory() as d:
        img = os.path.join(d, "b.img")
        with open(img, "wb") as f:
            f.truncate(256 << 20)
        for label, cmd in [("cranemu", [CRANEMU, "system"]), ("qemu-7.2", ["qemu-system-riscv64"])]:
            for aio in ["threads", "io_uring"]:
                res = run(cmd, img, aio)
                for n, _, size in TESTS:
                    s = res.get(n)
                    rate = f"{size / s / 1e6:.1f}" if s else "?"
                    print(f"{label:9} {aio:9} {n:13} {rate:>8} MB/s  ({s} s)", flush=True)

main()
