#!/usr/bin/env bash
# Thread scaling with fixed work per thread (benches/threads/scale.c):
# cranemu, qemu-riscv64 and the native build run alternately RUNS times
# for each thread count N; the script reports median wall times and the
# efficiency T(1)/T(N) of each (1.0 is perfect scaling while N <= cores),
# and checks that the three print the same checksum for each N.
#
# Usage: benches/threads.sh [RUNS] [N...]     (defaults: 5, 1 2)
# Needs: a release build (cargo build --release, or CRANEMU=path),
#        riscv64-linux-gnu-gcc with libc6-dev-riscv64-cross, gcc,
#        qemu-riscv64 (optional).
set -euo pipefail

RUNS=${1:-5}
shift || true
COUNTS=("$@")
((${#COUNTS[@]})) || COUNTS=(1 2)
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CRANEMU="${CRANEMU:-${CARGO_TARGET_DIR:-$REPO/target}/release/cranemu}"
QEMU=$(command -v qemu-riscv64 || true)
[[ -x "$CRANEMU" ]] || { echo "build first: cargo build --release (or set CRANEMU)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
riscv64-linux-gnu-gcc -static -O2 -o "$WORK/scale.rv" "$REPO/benches/threads/scale.c"
gcc -O2 -pthread -o "$WORK/scale.host" "$REPO/benches/threads/scale.c"

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_ms() {
    local out=$1 t0
    shift
    t0=$(now_ns)
    "$@" > "$out"
    echo $(( ($(now_ns) - t0) / 1000000 ))
}

declare -A MED
status=0
for n in "${COUNTS[@]}"; do
    c=() q=() h=()
    for ((i = 0; i < RUNS; i++)); do
        c+=("$(run_ms "$WORK/c.out" "$CRANEMU" run "$WORK/scale.rv" "$n")")
        [[ -n "$QEMU" ]] && q+=("$(run_ms "$WORK/q.out" "$QEMU" "$WORK/scale.rv" "$n")")
        h+=("$(run_ms "$WORK/h.out" "$WORK/scale.host" "$n")")
        if ! cmp -s "$WORK/c.out" "$WORK/h.out" || { [[ -n "$QEMU" ]] && ! cmp -s "$WORK/q.out" "$WORK/h.out"; }; then
            echo "checksums differ for N=$n:" >&2
            cat "$WORK/c.out" "$WORK/h.out" >&2
            status=1
        fi
    done
    MED[c$n]=$(printf '%s\n' "${c[@]}" | median)
    MED[h$n]=$(printf '%s\n' "${h[@]}" | median)
    MED[q$n]=-
    [[ -n "$QEMU" ]] && MED[q$n]=$(printf '%s\n' "${q[@]}" | median)
done

eff() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2f", a / b }'; }
echo "fixed work per thread (benches/threads/scale.c), $RUNS alternating runs each, medians"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date +%F); cranemu $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
echo "| N | cranemu ms | qemu ms | native ms | cranemu T(1)/T(N) | qemu T(1)/T(N) | native T(1)/T(N) |"
echo "|---|---|---|---|---|---|---|"
first=${COUNTS[0]}
for n in "${COUNTS[@]}"; do
    echo "| $n | ${MED[c$n]} | ${MED[q$n]} | ${MED[h$n]} | $(eff "${MED[c$first]}" "${MED[c$n]}") | $(eff "${MED[q$first]}" "${MED[q$n]}") | $(eff "${MED[h$first]}" "${MED[h$n]}") |"
done
exit $status
