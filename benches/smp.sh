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
#     in-guest sha256 of SHA_MIB MiB).
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

for n in $SMP_LIST; do
    echo
    echo "== boot, -smp $n =="
    SMP=$n "$REPO/benches/system_boot.sh" "$RUNS" 16 | tail -n 6
done
