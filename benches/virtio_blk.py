#!/usr/bin/env python3
"""virtio-blk in the guest: Debian's fio (libaio, direct=1) on /dev/vda,
random 4 KiB reads at queue depth 1 and 32 and sequential 1 MiB reads and
writes at queue depth 1, under cranemu and qemu-system-riscv64 with
aio=threads (the worker pool) and aio=io_uring, on the same 256 MiB raw image
(filled with data, cache=none). With --dd, busybox dd with O_DIRECT as well
(sequential 1 MiB and 4 KiB, read and write, queue depth 1).

Usage: benches/virtio_blk.py [--runs N] [--runtime S] [--dd] [CRANEMU]
       (default: 3 runs, 5 s a fio job, $CARGO_TARGET_DIR/release/cranemu
       or target/release/cranemu)

Needs the images of scripts/fetch-guests.sh (kernel, firmware, the virtio
initramfs) and fio from scripts/fetch-fio.sh (run here when missing; its
archive is appended to the virtio initramfs). Runs alternate: round r boots
cranemu first when r is even and QEMU first when it is odd. Prints one line
per measurement (emulator, engine, test, MB/s, IOPS), then a table of the
medians with the cranemu/QEMU ratios and each emulator's QD32/QD1 ratio.
"""
import argparse, os, re, select, shutil, statistics, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("CRANEMU_GUEST_CACHE", os.path.join(REPO, ".cache/guests"))
SYS = os.path.join(CACHE, "system")
LIBS = "/usr/lib/riscv64-linux-gnu:/usr/lib/riscv64-linux-gnu/ceph"
IMAGE = 256 << 20
# fio jobs: name, options.
FIO = [
    ("randread-4K-QD1", "--rw=randread --bs=4k --iodepth=1"),
    ("randread-4K-QD32", "--rw=randread --bs=4k --iodepth=32"),
    ("seqread-1M-QD1", "--rw=read --bs=1M --iodepth=1"),
    ("seqwrite-1M-QD1", "--rw=write --bs=1M --iodepth=1"),
]
# dd tests: name, arguments, bytes moved.
DD = [
    ("dd-seqwrite-1M", "if=/dev/zero of=/dev/vda bs=1M count=128 oflag=direct", 128 << 20),
    ("dd-seqread-1M", "if=/dev/vda of=/dev/null bs=1M count=128 iflag=direct", 128 << 20),
    ("dd-seqread-4K", "if=/dev/vda of=/dev/null bs=4k count=8192 iflag=direct", 32 << 20),
    ("dd-seqwrite-4K", "if=/dev/zero of=/dev/vda bs=4k count=8192 oflag=direct", 32 << 20),
]


def guest_script(runtime, dd):
    """The shell line typed into the guest: fio's terse lines, then
    `T name` / busybox `time` pairs for dd."""
    parts = [f"export LD_LIBRARY_PATH={LIBS}"]
    for name, opts in FIO:
        parts.append(
            f"/usr/bin/fio --minimal --thread --name={name} --filename=/dev/vda --direct=1 "
            f"--ioengine=libaio {opts} --runtime={runtime} --ramp_time=1 --time_based"
        )
    if dd:
        parts += [f'echo "T {n}"; time sh -c "dd {a} 2>/dev/null"' for n, a, _ in DD]
    return "{ " + "; ".join(parts) + "; } 2>&1; echo BENCH-\"DONE\"\n"


def parse(text):
    """{test: (MB/s, IOPS or None)} from the guest's output."""
    res = {}
    name = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("3;fio-"):
            # Terse format v3: 2 job name, 6/7 read KiB/s and IOPS, 47/48 write.
            f = line.split(";")
            kib, iops = (f[6], f[7]) if int(f[5]) > 0 else (f[47], f[48])
            res[f[2]] = (float(kib) * 1024 / 1e6, float(iops))
            continue
        m = re.match(r"T (\S+)$", line)
        if m:
            name = m.group(1)
        m = re.match(r"real\s+(\d+)m\s*([\d.]+)s", line)
        if m and name:
            secs = int(m.group(1)) * 60 + float(m.group(2))
            size = next(s for n, _, s in DD if n == name)
            res[name] = (size / secs / 1e6 if secs else float("nan"), None)
            name = None
    return res


class Stuck(Exception):
    """The guest did not print what was awaited in time (or the emulator exited)."""


def run(cmd, img, initrd, aio, script):
    drive = f"file={img},format=raw,if=virtio,cache=none,aio={aio}"
    args = cmd + ["-M", "virt", "-m", "512M", "-nographic", "-bios", f"{SYS}/fw_dynamic.bin",
                  "-kernel", f"{SYS}/Image", "-initrd", initrd,
                  "-append", "console=ttyS0 panic=-1 quiet", "-drive", drive]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""

    def wait(pat, limit=int(os.environ.get("BENCH_LIMIT", 600))):
        nonlocal out
        t = time.time()
        while pat not in out:
            if time.time() - t > limit or p.poll() is not None:
                if p.poll() is None and pat == b"BENCH-DONE\r\n":
                    # What the guest was doing: ^C to fio, then its block
                    # layer's requests in flight and the interrupt counts.
                    p.stdin.write(b"\x03\ncat /sys/block/vda/inflight; grep virtio /proc/interrupts;"
                                  b" cat /proc/loadavg; echo STUCK-\"INFO\"\n")
                    p.stdin.flush()
                    t = time.time()
                    while b"STUCK-INFO\r\n" not in out and time.time() - t < 60:
                        if select.select([p.stdout], [], [], 1)[0]:
                            out += os.read(p.stdout.fileno(), 4096)
                p.kill()
                p.wait()
                if os.environ.get("BENCH_DEBUG"):
                    print(out.decode(errors="replace"), file=sys.stderr)
                raise Stuck(f"{cmd[0]} aio={aio}: no {pat!r} (timeout or exit) after "
                            f"{out.count(b'3;fio-')} fio jobs: {out[-600:]!r}")
            if select.select([p.stdout], [], [], 1)[0]:
                out += os.read(p.stdout.fileno(), 4096)

    wait(b"cranemu-initramfs: ready")
    wait(b"# ")
    start = len(out)
    p.stdin.write(script.encode())
    p.stdin.flush()
    wait(b"BENCH-DONE\r\n")
    p.stdin.write(b"poweroff -f\n")
    p.stdin.flush()
    p.wait(timeout=60)
    text = out[start:].decode(errors="replace")
    if os.environ.get("BENCH_DEBUG"):
        print(text, file=sys.stderr)
    return parse(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cranemu", nargs="?", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release/cranemu"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--runtime", type=int, default=5, help="seconds a fio job (after 1 s ramp)")
    ap.add_argument("--dd", action="store_true", help="also time busybox dd")
    a = ap.parse_args()
    if not os.access(a.cranemu, os.X_OK):
        sys.exit(f"virtio_blk.py: {a.cranemu} is not an executable")
    for f in ["fw_dynamic.bin", "Image", "virtio/initramfs.cpio.gz"]:
        if not os.path.exists(os.path.join(SYS, f)):
            sys.exit(f"virtio_blk.py: {SYS}/{f} missing: run scripts/fetch-guests.sh")
    fio = subprocess.run([os.path.join(REPO, "scripts/fetch-fio.sh"), CACHE],
                         capture_output=True, text=True)
    if fio.returncode != 0:
        sys.exit(f"virtio_blk.py: scripts/fetch-fio.sh failed: {fio.stderr.strip()[-500:]}")
    script = guest_script(a.runtime, a.dd)
    tests = [n for n, _ in FIO] + ([n for n, _, _ in DD] if a.dd else [])
    emus = [("cranemu", [a.cranemu, "system"]), ("qemu-7.2", ["qemu-system-riscv64"])]
    engines = os.environ.get("BENCH_ENGINES", "threads io_uring").split()
    got = {}  # (emulator, engine, test) -> [(MB/s, IOPS)]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        initrd = os.path.join(d, "initrd.gz")
        with open(initrd, "wb") as o:
            for part in [os.path.join(SYS, "virtio/initramfs.cpio.gz"), fio.stdout.strip()]:
                with open(part, "rb") as i:
                    shutil.copyfileobj(i, o)
        img = os.path.join(d, "b.img")
        chunk = bytes(range(256)) * 4096  # 1 MiB, no holes and no zero pages
        with open(img, "wb") as f:
            for _ in range(IMAGE // len(chunk)):
                f.write(chunk)
        print(f"load before: {os.getloadavg()}", flush=True)
        for r in range(a.runs):
            for label, cmd in emus if r % 2 == 0 else emus[::-1]:
                for aio in engines:
                    try:
                        res = run(cmd, img, initrd, aio, script)
                    except Stuck as e:
                        print(f"run {r} {label:9} {aio:9} STUCK, left out: {e}", flush=True)
                        continue
                    for n in tests:
                        if n not in res:
                            sys.exit(f"virtio_blk.py: {label} {aio}: no result for {n}")
                        mb, iops = res[n]
                        got.setdefault((label, aio, n), []).append(res[n])
                        io = f"{iops:9.0f} IOPS" if iops is not None else ""
                        print(f"run {r} {label:9} {aio:9} {n:17} {mb:8.1f} MB/s {io}", flush=True)
        print(f"load after: {os.getloadavg()}", flush=True)

    def med(label, aio, n, k):
        vals = [v[k] for v in got.get((label, aio, n), [])]
        return statistics.median(vals) if vals and vals[0] is not None else float("nan")

    print(f"\nmedians of {a.runs} runs (MB/s, IOPS); ratio = cranemu / qemu-7.2")
    print(f"| test | engine | cranemu MB/s | cranemu IOPS | qemu MB/s | qemu IOPS | ratio |")
    print("|---|---|---|---|---|---|---|")
    for n in tests:
        for aio in engines:
            c, q = med("cranemu", aio, n, 0), med("qemu-7.2", aio, n, 0)
            ci, qi = med("cranemu", aio, n, 1), med("qemu-7.2", aio, n, 1)
            fmt = lambda x: f"{x:.0f}" if n in dict(FIO) else "-"
            print(f"| {n} | {aio} | {c:.1f} | {fmt(ci)} | {q:.1f} | {fmt(qi)} | {c / q:.2f} |")
    print("\nQD32 / QD1 random 4 KiB read IOPS (target >= 1.5):")
    for label, _ in emus:
        for aio in engines:
            hi = med(label, aio, "randread-4K-QD32", 1)
            lo = med(label, aio, "randread-4K-QD1", 1)
            print(f"  {label:9} {aio:9} {hi / lo:.2f}")


main()
