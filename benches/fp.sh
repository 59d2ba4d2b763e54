#!/usr/bin/env bash
# Floating-point benchmark: cranemu against qemu-riscv64 and the host, on the
# kernels of benches/fp/fpbench.c (matrix multiply, n-body, libm calls, a
# loop that changes the rounding mode).
#
# fpbench.c is built for riscv64 (static, -O2) and for the host (-O2), both
# with -ffp-contract=off so that the three agree bit for bit. For each kernel
# cranemu, qemu-riscv64 and the native build run alternately RUNS times
# each; the script reports the median wall times, the ratios cranemu/qemu and
# cranemu/native, and whether every run printed the same checksum line (the
# kernels print their results in %a). It exits 1 if any checksum differs,
# after printing the table and the differing lines.
#
# Usage: benches/fp.sh [RUNS]      (default 5)
# Needs: a release build (cargo build --release, or CRANEMU=path),
#        riscv64-linux-gnu-gcc with libc6-dev-riscv64-cross, gcc,
#        qemu-riscv64 (optional: its columns read "-" without it).
set -euo pipefail

RUNS=${1:-5}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CRANEMU="${CRANEMU:-${CARGO_TARGET_DIR:-$REPO/target}/release/cranemu}"
QEMU=$(command -v qemu-riscv64 || true)
CROSS=${CROSS:-riscv64-linux-gnu-gcc}
[[ -x "$CRANEMU" ]] || { echo "build first: cargo build --release (or set CRANEMU)" >&2; exit 1; }
command -v "$CROSS" > /dev/null || { echo "$CROSS not found (apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SRC="$REPO/benches/fp/fpbench.c"
CFLAGS=(-O2 -ffp-contract=off)
"$CROSS" -static "${CFLAGS[@]}" -o "$WORK/fpbench.rv" "$SRC" -lm
gcc "${CFLAGS[@]}" -o "$WORK/fpbench.host" "$SRC" -lm

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run_one OUTFILE CMD... -> microseconds of one run; stdout into OUTFILE
run_one() {
    local out=$1; shift
    local t0 t1
    t0=$(now_ns)
    "$@" > "$out"
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 ))
}

MISMATCH=0
DETAILS=""
bench() {
    local kernel=$1
    local t_c=() t_q=() t_n=() i ref status=ok
    for ((i = 0; i < RUNS; i++)); do
        t_c+=("$(run_one "$WORK/c.$i" "$CRANEMU" run "$WORK/fpbench.rv" "$kernel")")
        [[ -n "$QEMU" ]] && t_q+=("$(run_one "$WORK/q.$i" "$QEMU" "$WORK/fpbench.rv" "$kernel")")
        t_n+=("$(run_one "$WORK/n.$i" "$WORK/fpbench.host" "$kernel")")
    done
    # Every run of every runner must print the native build's line.
    ref=$(cat "$WORK/n.0")
    for f in "$WORK"/[cqn].*; do
        if [[ "$(cat "$f")" != "$ref" ]]; then
            local who
            case $(basename "$f") in c.*) who=cranemu ;; q.*) who=qemu ;; n.*) who=native ;; esac
            [[ $status == *"$who"* ]] && continue # one line per runner
            if [[ $status == ok ]]; then
                status="MISMATCH ($who"
            else
                status="$status, $who"
            fi
            DETAILS+=$'\n'"$kernel, $who: $(cat "$f")"$'\n'"$kernel, native: $ref"
        fi
    done
    [[ $status == ok ]] || { status="$status)"; MISMATCH=1; }
    rm -f "$WORK"/[cqn].*
    local m_c m_q m_n
    m_c=$(printf '%s\n' "${t_c[@]}" | median)
    m_n=$(printf '%s\n' "${t_n[@]}" | median)
    m_q=$([[ -n "$QEMU" ]] && printf '%s\n' "${t_q[@]}" | median || echo 0)
    awk -v k="$kernel" -v c="$m_c" -v q="$m_q" -v n="$m_n" -v s="$status" 'BEGIN {
        qs = q > 0 ? sprintf("%.0f", q / 1000) : "-"
        rq = q > 0 ? sprintf("%.2f", c / q) : "-"
        printf "| %s | %.0f | %s | %.1f | %s | %.1f | %s |\n", k, c / 1000, qs, n / 1000, rq, c / n, s
    }'
}

echo "cranemu vs ${QEMU:+$("$QEMU" --version | head -1) vs }native, fpbench.c, $RUNS alternating runs each, medians"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d); cranemu $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
echo
echo "| kernel | cranemu ms | qemu ms | native ms | cranemu/qemu | cranemu/native | checksums |"
echo "|---|---|---|---|---|---|---|"
for k in matmul nbody libm frm; do
    bench "$k"
done
if [[ $MISMATCH != 0 ]]; then
    echo
    echo "checksums differ:$DETAILS"
    exit 1
fi
