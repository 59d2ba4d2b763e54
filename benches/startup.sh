#!/usr/bin/env bash
# Start-up dominated work (issue 12's third group of targets): two cranemu
# builds and qemu-riscv64 side by side, run alternately RUNS times each;
# prints each one's median wall time and the ratios to QEMU's, and B's
# -stats translation figures (blocks to IR, blocks compiled, Cranelift time,
# the compile queue's mean wait).
#
#   python -S     python3.13 -S -c pass
#   python import python3.13 -c 'import json, decimal, sqlite3'
#   sh 1000       busybox sh running a script of 1000 short commands
#                 (an `expr` and a `test` a line: forks and execs nothing)
#   cc1 -O2       Debian's gcc-14 cc1 compiling tests/guest/libc/printf.c
#                 (what the gcc driver runs first; run directly, since
#                 qemu-riscv64 cannot follow the driver's execs by itself),
#                 when scripts/fetch-toolchain.sh's sysroot is there
#
# Usage: benches/startup.sh A_BINARY B_BINARY [RUNS]     (default RUNS: 7)
#   A and B may be the same binary (then A is the figure, B its rerun).
# Needs: scripts/fetch-guests.sh's sysroots (busybox, CPython), qemu-riscv64.
set -euo pipefail

A=${1:?usage: benches/startup.sh A_BINARY B_BINARY [RUNS]}
B=${2:?usage: benches/startup.sh A_BINARY B_BINARY [RUNS]}
RUNS=${3:-7}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
SYSROOT=$("$REPO/scripts/fetch-guests.sh")
PYROOT="$(dirname "$SYSROOT")/cpython/sysroot"
TOOLROOT="$(dirname "$SYSROOT")/toolchain/sysroot"
BUSYBOX="$SYSROOT/usr/bin/busybox"
QEMU=$(command -v qemu-riscv64 || true)
[[ -n "$QEMU" ]] || { echo "qemu-riscv64 not found (apt-get install qemu-user)" >&2; exit 1; }
for bin in "$A" "$B"; do
    [[ -x "$bin" ]] || { echo "not an executable: $bin" >&2; exit 1; }
done
[[ -x "$PYROOT/usr/bin/python3.13" ]] || { echo "no CPython sysroot at $PYROOT" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SCRIPT="$WORK/script.sh"
write_sh_script "$SCRIPT"

# run EMULATOR KIND ARGS...: one run's milliseconds. KIND is "cranemu" or
# "qemu" (how the sysroot is passed).
run() {
    local emu=$1 kind=$2 root=$3 t0
    shift 3
    t0=$(now_ns)
    if [[ $kind == qemu ]]; then
        "$emu" -L "$root" "$@" > /dev/null 2>&1
    else
        "$emu" run -L "$root" "$@" > /dev/null 2>&1
    fi
    echo $(( ($(now_ns) - t0) / 1000000 ))
}

echo "A: $A"
echo "B: $B"
echo "QEMU: $($QEMU --version | head -1)"
echo "$RUNS alternating runs each, medians; $(nproc) cores, $(date +%F)"
echo
echo "| workload | A ms | B ms | QEMU ms | A/QEMU | B/QEMU | B: blocks to IR / compiled / Cranelift ms / mean queue wait ms |"
echo "|---|---|---|---|---|---|---|"
bench() {
    local name=$1 root=$2
    shift 2
    local a=() b=() q=()
    for ((i = 0; i < RUNS; i++)); do
        a+=("$(run "$A" cranemu "$root" "$@")")
        b+=("$(run "$B" cranemu "$root" "$@")")
        q+=("$(run "$QEMU" qemu "$root" "$@")")
    done
    local ma mb mq stats
    ma=$(printf '%s\n' "${a[@]}" | median)
    mb=$(printf '%s\n' "${b[@]}" | median)
    mq=$(printf '%s\n' "${q[@]}" | median)
    stats=$("$B" run -L "$root" -stats "$@" 2>&1 >/dev/null | grep '^cranemu-stats:' | awk '
        { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
        END {
            wait = f["queued_compiles"] > 0 ? f["queue_wait_ns"] / f["queued_compiles"] / 1e6 : 0
            printf "%d / %d / %.0f / %.1f", f["blocks"], f["compiled_blocks"], f["codegen_ns"] / 1e6, wait
        }')
    echo "| $name | $ma | $mb | $mq | $(ratio "$ma" "$mq") | $(ratio "$mb" "$mq") | $stats |"
}
bench "python3.13 -S -c pass" "$PYROOT" "$PYROOT/usr/bin/python3.13" -S -c pass
bench "python3.13 -c 'import json, decimal, sqlite3'" "$PYROOT" \
    "$PYROOT/usr/bin/python3.13" -c 'import json, decimal, sqlite3'
bench "busybox sh, 1000 commands" "$SYSROOT" "$BUSYBOX" sh "$SCRIPT"
CC1="$TOOLROOT/usr/libexec/gcc/riscv64-linux-gnu/14/cc1"
if [[ -x "$CC1" ]]; then
    cc1_args=()
    cc1_riscv64_args cc1_args "$TOOLROOT" "$REPO/tests/guest/libc/printf.c" "$WORK/printf.s"
    bench "gcc-14 cc1 -O2 printf.c" "$TOOLROOT" "$CC1" "${cc1_args[@]}"
else
    echo "| gcc-14 cc1 -O2 printf.c | skipped: no $CC1 (scripts/fetch-toolchain.sh) |"
fi
