#!/usr/bin/env bash
# SMP benchmarks, cranemu against qemu-system-riscv64 on the same inputs,
# run alternately RUNS times each (medians; ratios cranemu / qemu, below 1
# is faster):
#
#  1. IPI round trip, bare metal: tests/guest/baremetal/smp.c built with
#     -DIPI_BENCH at -smp 2; hart 0 sends hart 1 an MSI (ACLINT msip), hart
#     1's handler answers with one to hart 0, 10^5 times, each round trip
#     timed with mtime (100 ns steps): median and 99th percentile in ns.
#  2. Boot of Debian's kernel to the initramfs's ready line at -smp 1, 2, 4
#     (benches/system_boot.sh with SMP=N, which also times poweroff and an
#     in-guest sha256 of 16 MiB), and in that guest
#     `smp_threads bench N` (tests/guest/system/smp_threads.c, added to the
#     initramfs): the wall time of N threads doing the same fixed work each
#     (scaling efficiency T(1)/T(N) when the work per thread is fixed), and
#     the round trip of a message between threads pinned to CPU 0 and CPU
#     N-1 through pipes (median, p99).  The same program runs natively on
#     the host first.
#
# Usage: benches/smp.sh [RUNS] [SMP_LIST]       (defaults: 3, "1 2 4")
# Environment: CRANEMU, QEMU_SYSTEM as in benches/system_boot.sh.
# Needs: a release build, qemu-system-riscv64, riscv64-linux-gnu-gcc, the
# images (scripts/fetch-guests.sh).
set -euo pipefail

RUNS=${1:-3}
SMP_LIST=${2:-"1 2 4"}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CRANEMU="${CRANEMU:-${CARGO_TARGET_DIR:-$REPO/target}/release/cranemu}"
QEMU_SYSTEM="${QEMU_SYSTEM:-$(command -v qemu-system-riscv64 || true)}"
[[ -x "$CRANEMU" ]] || { echo "build first: cargo build --release ($CRANEMU)" >&2; exit 1; }
[[ -n "$QEMU_SYSTEM" ]] || { echo "qemu-system-riscv64 not found (apt-get install qemu-system-misc)" >&2; exit 1; }
command -v riscv64-linux-gnu-gcc >/dev/null || { echo "riscv64-linux-gnu-gcc not found" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BM="$REPO/tests/guest/baremetal"
riscv64-linux-gnu-gcc -DIPI_BENCH -march=rv64gc_zicsr_zifencei -mabi=lp64d -mcmodel=medany -O2 \
    -ffreestanding -fno-builtin -fno-stack-protector -fno-pic -mno-relax \
    -fno-asynchronous-unwind-tables -I"$BM/rt" -nostdlib -nostartfiles -static \
    -Wl,--build-id=none -T "$BM/rt/link.ld" -o "$WORK/smp.elf" \
    "$BM/rt/start.S" "$BM/rt/rt.c" "$BM/smp.c"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "== IPI round trip, bare metal, -smp 2 (ns) =="
declare -A med p99
for ((i = 1; i <= RUNS; i++)); do
    for e in cranemu qemu; do
        case $e in
            cranemu) cmd=("$CRANEMU" system) ;;
            qemu) cmd=("$QEMU_SYSTEM") ;;
        esac
        line=$(timeout 300 "${cmd[@]}" -M virt -smp 2 -m 128M -bios none -kernel "$WORK/smp.elf" \
            -nographic </dev/null 2>/dev/null | grep '^ipi-rtt-ns ' || true)
        [[ -n "$line" ]] || { echo "run $i: $e printed no ipi-rtt-ns line" >&2; exit 1; }
        read -r _ _ m _ p <<< "$line"
        med[$e]+="$m "; p99[$e]+="$p "
        printf 'run %d %-8s median %7d  p99 %7d\n' "$i" "$e" "$m" "$p"
    done
done
mc=$(tr ' ' '\n' <<< "${med[cranemu]}" | grep . | median)
mq=$(tr ' ' '\n' <<< "${med[qemu]}" | grep . | median)
pc=$(tr ' ' '\n' <<< "${p99[cranemu]}" | grep . | median)
pq=$(tr ' ' '\n' <<< "${p99[qemu]}" | grep . | median)
echo "median of medians: cranemu $mc qemu $mq (ratio $(ratio "$mc" "$mq")); p99: cranemu $pc qemu $pq (ratio $(ratio "$pc" "$pq"))"

# The initramfs plus bin/smp_threads: a second newc cpio archive appended
# (Linux unpacks each archive of a concatenated initramfs).
SRC="$REPO/tests/guest/system/smp_threads.c"
riscv64-linux-gnu-gcc -static -O2 -pthread -o "$WORK/smp_threads" "$SRC"
gcc -O2 -pthread -o "$WORK/smp_threads.native" "$SRC"
SYS="${CRANEMU_GUEST_CACHE:-$REPO/.cache/guests}/system"
python3 - "$SYS/initramfs.cpio.gz" "$WORK/smp_threads" "$WORK/initramfs-smp.cpio" <<'PY'
import sys
base, prog, out = sys.argv[1:]
data = open(base, "rb").read()
data += b"\0" * (-len(data) % 4)
def entry(name, mode, body):
    global data
    fields = [0x10000, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name) + 1, 0]
    data += b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
    data += b"\0" * (-len(data) % 4) + body
    data += b"\0" * (-len(data) % 4)
entry("bin/smp_threads", 0o100755, open(prog, "rb").read())
entry("TRAILER!!!", 0, b"")
open(out, "wb").write(data)
PY

echo
echo "== native (host threads): smp_threads bench N =="
for n in $SMP_LIST; do "$WORK/smp_threads.native" bench "$n" || echo "native bench $n failed"; done

for n in $SMP_LIST; do
    echo
    echo "== boot and smp_threads bench $n, -smp $n =="
    SMP=$n INITRD="$WORK/initramfs-smp.cpio" GUEST_CMD="/bin/smp_threads bench $n" \
        "$REPO/benches/system_boot.sh" "$RUNS" 16 | grep -v '^images:'
done
