#!/usr/bin/env bash
# A/B benchmark of two cranemu builds on Debian's busybox (from
# scripts/fetch-guests.sh): sha256sum and gzip -9 of the same input, the two
# builds run alternately RUNS times each; prints each build's median wall
# time and the ratio B/A (below 1: B is faster). For "does this change slow
# integer code down" checks; compare.sh measures against qemu-riscv64.
#
# Usage: benches/ab.sh A_BINARY B_BINARY [RUNS] [SIZE_MIB]   (defaults: 7, 32)
# e.g.:  git worktree add /tmp/base <commit> && (cd /tmp/base && cargo build --release)
#        benches/ab.sh /tmp/base/target/release/cranemu target/release/cranemu
set -euo pipefail

A=${1:?usage: benches/ab.sh A_BINARY B_BINARY [RUNS] [SIZE_MIB]}
B=${2:?usage: benches/ab.sh A_BINARY B_BINARY [RUNS] [SIZE_MIB]}
RUNS=${3:-7}
SIZE_MIB=${4:-32}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
SYSROOT=$("$REPO/scripts/fetch-guests.sh")
BUSYBOX="$SYSROOT/usr/bin/busybox"
for bin in "$A" "$B"; do
    [[ -x "$bin" ]] || { echo "not an executable: $bin" >&2; exit 1; }
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
INPUT="$WORK/input.bin"
make_input "$INPUT" "$SIZE_MIB"

echo "A: $A"
echo "B: $B"
echo "$RUNS alternating runs each, ${SIZE_MIB} MiB input; $(nproc) cores, $(date +%F)"
echo
echo "| workload | A ms | B ms | B/A |"
echo "|---|---|---|---|"
for w in "sha256sum" "gzip -9 -c"; do
    a=() b=()
    for ((i = 0; i < RUNS; i++)); do
        # shellcheck disable=SC2086
        a+=("$(time_ms "$A" run "$BUSYBOX" $w "$INPUT")")
        # shellcheck disable=SC2086
        b+=("$(time_ms "$B" run "$BUSYBOX" $w "$INPUT")")
    done
    ma=$(printf '%s\n' "${a[@]}" | median)
    mb=$(printf '%s\n' "${b[@]}" | median)
    echo "| busybox $w | $ma | $mb | $(ratio "$mb" "$ma" 3) |"
done
