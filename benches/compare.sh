#!/usr/bin/env bash
# Side-by-side benchmark of cranemu against qemu-riscv64 on real Debian
# riscv64 programs (busybox-static from scripts/fetch-guests.sh).
#
# For each workload the two emulators run alternately, RUNS times each; the
# script reports the median wall time of each, their ratio, and guest
# instructions per second (the guest instruction count comes from one extra
# cranemu run with -stats, which counts retired instructions; both emulators
# execute the same program on the same input, so the count applies to both).
# It also reports cranemu's translation cost from that run, for both tiers:
# guest code -> IR (every block executed) and IR -> host code with Cranelift
# (blocks that got hot): blocks, microseconds per block, guest instructions
# translated per second.
#
# Usage: benches/compare.sh [RUNS] [SIZE_MIB]      (defaults: 5, 64)
# Needs: a release build (cargo build --release), qemu-riscv64 on PATH.
set -euo pipefail

RUNS=${1:-5}
SIZE_MIB=${2:-64}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
SYSROOT=$("$REPO/scripts/fetch-guests.sh")
BUSYBOX="$SYSROOT/usr/bin/busybox"
CRANEMU="${CRANEMU:-$REPO/target/release/cranemu}"
QEMU=$(command -v qemu-riscv64 || true)
[[ -x "$CRANEMU" ]] || { echo "build first: cargo build --release" >&2; exit 1; }
[[ -n "$QEMU" ]] || { echo "qemu-riscv64 not found (apt-get install qemu-user)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
INPUT="$WORK/input.bin"
# Deterministic, compressible-but-not-trivial input (benches/lib.sh).
make_input "$INPUT" "$SIZE_MIB"

bench() {
    local name=$1; shift
    local ours=() theirs=()
    for ((i = 0; i < RUNS; i++)); do
        ours+=("$(time_ms "$CRANEMU" run "$BUSYBOX" "$@")")
        theirs+=("$(time_ms "$QEMU" "$BUSYBOX" "$@")")
    done
    local m_ours m_theirs
    m_ours=$(printf '%s\n' "${ours[@]}" | median)
    m_theirs=$(printf '%s\n' "${theirs[@]}" | median)
    # One counting run for instructions and translation cost.
    local stats
    stats=$("$CRANEMU" run -stats "$BUSYBOX" "$@" 2>&1 >/dev/null | grep '^cranemu-stats:' || true)
    local insns blocks tinsns tns cblocks cinsns cns
    field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $stats"; }
    insns=$(field executed_insns)
    blocks=$(field blocks)
    tinsns=$(field translated_insns)
    tns=$(field translate_ns)
    cblocks=$(field compiled_blocks)
    cinsns=$(field compiled_insns)
    cns=$(field codegen_ns)
    awk -v n="$name" -v o="$m_ours" -v t="$m_theirs" -v i="${insns:-0}" \
        -v b="${blocks:-0}" -v ti="${tinsns:-0}" -v tn="${tns:-0}" \
        -v cb="${cblocks:-0}" -v ci="${cinsns:-0}" -v cn="${cns:-0}" 'BEGIN {
        printf "| %s | %d | %d | %.2f | %.0f | %.0f | %d / %.1f µs / %.2f M/s | %d / %.0f µs / %.3f M/s |\n",
            n, o, t, o / t, i / (o / 1000) / 1e6, i / (t / 1000) / 1e6,
            b, (b ? tn / b / 1000 : 0), (tn ? ti / (tn / 1e9) / 1e6 : 0),
            cb, (cb ? cn / cb / 1000 : 0), (cn ? ci / (cn / 1e9) / 1e6 : 0)
    }'
}

echo "cranemu vs $("$QEMU" --version | head -1), $RUNS alternating runs each, medians; input $SIZE_MIB MiB"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d)"
echo
echo "| workload | cranemu ms | qemu ms | time ratio cranemu/qemu | cranemu guest MIPS | qemu guest MIPS | to IR: blocks / µs per block / guest insns per s | Cranelift: blocks / µs per block / guest insns per s |"
echo "|---|---|---|---|---|---|---|---|"
bench "busybox sha256sum ${SIZE_MIB}MiB" sha256sum "$INPUT"
bench "busybox gzip -9 ${SIZE_MIB}MiB" gzip -9 -c "$INPUT"
bench "busybox sh -c 'echo hi' (start-up)" sh -c "echo hi"
