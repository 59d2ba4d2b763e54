#!/usr/bin/env bash
# Thread scaling with fixed work per thread (benches/threads/scale.c):
# cranemu, qemu-riscv64 and the native build run alternately RUNS times
# for each thread count N; the script reports median wall times and the
# efficiency T(1)/T(N) of each (1.0 is perfect scaling while N <= cores),
# and checks that the three print the same checksum for each N.
#
# Then, when the Debian guest sysroot is there (scripts/fetch-guests.sh;
# CRANEMU_GUEST_CACHE as for the tests), two Debian programs, cranemu and
# qemu-riscv64 alternately, RUNS times for each N, medians:
#   7zr b 1 -mmtN -md22 -mtic=28   7-Zip's LZMA benchmark "Tot:" rating
#                                  (MIPS; fixed total work, rated by speed)
#   sysbench cpu --threads=N --time=0 --events=1000*N
#                                  events per second (fixed work per thread)
# with the ratio rate(N)/rate(1) and the efficiency ratio/N (1.0 is perfect
# scaling while N <= cores).
#
# Usage: benches/threads.sh [RUNS] [N...]     (defaults: 5, 1 2)
# Needs: a release build (cargo build --release, or CRANEMU=path),
#        riscv64-linux-gnu-gcc with libc6-dev-riscv64-cross, gcc,
#        qemu-riscv64 (optional), the guest sysroot (optional).
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

SYSROOT="${CRANEMU_GUEST_CACHE:-$REPO/.cache/guests}/sysroot"
if [[ ! -x "$SYSROOT/usr/lib/7zip/7zr" || ! -x "$SYSROOT/usr/bin/sysbench" ]]; then
    echo
    echo "no 7zr or sysbench in $SYSROOT: run scripts/fetch-guests.sh for the Debian programs' figures"
    exit $status
fi

# rate EMULATOR-COMMAND... : runs it, prints the figure that its output
# holds (7zr: the last field of "Tot:"; sysbench: "events per second").
rate_7z() {
    "$@" "$SYSROOT/usr/lib/7zip/7zr" b 1 "-mmt$n" -md22 -mtic=28 > "$WORK/7z.out" 2>&1 \
        || { echo "7zr failed:" >&2; cat "$WORK/7z.out" >&2; return 1; }
    awk '/^Tot:/ { print $NF }' "$WORK/7z.out"
}
rate_sb() {
    "$@" "$SYSROOT/usr/bin/sysbench" cpu "--threads=$n" --time=0 "--events=$((1000 * n))" run > "$WORK/sb.out" 2>&1 \
        || { echo "sysbench failed:" >&2; cat "$WORK/sb.out" >&2; return 1; }
    awk -F: '/events per second/ { gsub(/ /, "", $2); print $2 }' "$WORK/sb.out"
}
median_f() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { if (a == "-" || b == "-") print "- | -"; else printf "%.2f | %.2f", a / b, a / b / n }'; }

for bench in 7z sb; do
    for n in "${COUNTS[@]}"; do
        c=() q=()
        for ((i = 0; i < RUNS; i++)); do
            c+=("$(rate_$bench "$CRANEMU" run -L "$SYSROOT")") || status=1
            [[ -n "$QEMU" ]] && { q+=("$(rate_$bench "$QEMU" -L "$SYSROOT")") || status=1; }
        done
        MED[c$bench$n]=$(printf '%s\n' "${c[@]}" | median_f)
        MED[q$bench$n]=-
        [[ -n "$QEMU" ]] && MED[q$bench$n]=$(printf '%s\n' "${q[@]}" | median_f)
    done
done

echo
echo "Debian trixie riscv64 programs, $RUNS alternating runs each, medians; ratio = rate(N)/rate(1), efficiency = ratio/N"
echo
echo "| program | N | cranemu | qemu | cranemu ratio | cranemu efficiency | qemu ratio | qemu efficiency |"
echo "|---|---|---|---|---|---|---|---|"
for bench in 7z sb; do
    case $bench in
        7z) name='7zr b 1 -mmtN -md22 -mtic=28 (Tot: MIPS)' ;;
        sb) name='sysbench cpu --threads=N, 1000 events/thread (events/s)' ;;
    esac
    for n in "${COUNTS[@]}"; do
        echo "| $name | $n | ${MED[c$bench$n]} | ${MED[q$bench$n]} | $(ratio "${MED[c$bench$n]}" "${MED[c$bench$first]}" "$n") | $(ratio "${MED[q$bench$n]}" "${MED[q$bench$first]}" "$n") |"
    done
done
exit $status
