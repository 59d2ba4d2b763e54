#!/usr/bin/env bash
# Two cranemu builds side by side on 7-Zip's benchmark, issue 12's
# rating: RUNS rounds of `7zr b 1 -mmt1` (or the 7zr arguments given),
# the builds alternating within each. Prints each round's compression,
# decompression and total ratings (MIPS; the "Avr:" line's two ratings
# and the "Tot:" line's, as benches/issue12.sh reads them), then a
# markdown table of the medians and the ratios NEW/BASE (higher is
# better). For "did this change help 7-Zip?"; benches/ab_issue12.sh
# times the other workloads, benches/issue12.sh compares with QEMU and
# native.
#
# Usage: benches/ab_7zr.sh BASE_BINARY NEW_BINARY [7ZR ARGS...]
#   e.g. benches/ab_7zr.sh old/cranemu target/release/cranemu b 1 -mmt1 -md18
#   (a 256 KiB dictionary: a quarter of the default run's time)
# Environment: RUNS=3 (rounds). Needs the guest sysroot of
# scripts/fetch-guests.sh (CRANEMU_GUEST_CACHE as for the tests).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"

if [[ $# -lt 2 || ! -x $1 || ! -x $2 ]]; then
    echo "usage: benches/ab_7zr.sh BASE_BINARY NEW_BINARY [7ZR ARGS...] (both executable)" >&2
    exit 2
fi
BASE=$1
NEW=$2
shift 2
ARGS=("$@")
((${#ARGS[@]})) || ARGS=(b 1 -mmt1)
RUNS=${RUNS:-3}
S=${CRANEMU_GUEST_CACHE:-$REPO/.cache/guests}/sysroot
SEVENZ=$S/usr/lib/7zip/7zr
if [[ ! -x $SEVENZ ]]; then
    echo "ab_7zr.sh: $SEVENZ is missing: run scripts/fetch-guests.sh first" >&2
    exit 2
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The ratings of one run's output: "compression decompression total".
ratings() {
    awk '$1 == "Avr:" { c = $5; d = $NF } $1 == "Tot:" { t = $NF }
        END { if (c != "" && t != "") print c, d, t }' "$1"
}

declare -A comp=() decomp=() total=()
for ((i = 1; i <= RUNS; i++)); do
    for who in base new; do
        bin=$BASE
        [[ $who == new ]] && bin=$NEW
        if ! "$bin" run -L "$S" "$SEVENZ" "${ARGS[@]}" >"$WORK/out" 2>&1; then
            echo "ab_7zr.sh: $who ($bin) failed in round $i:" >&2
            tail -5 "$WORK/out" >&2
            exit 1
        fi
        read -r c d t < <(ratings "$WORK/out")
        echo "round $i $who: compression $c, decompression $d, total $t" >&2
        comp[$who]+="$c "
        decomp[$who]+="$d "
        total[$who]+="$t "
    done
done

echo "| \`7zr ${ARGS[*]}\` rating (MIPS) | base | new | new/base |"
echo "|---|---|---|---|"
row() {
    local b n
    # (Word splitting wanted: the rounds' figures, one a line.)
    # shellcheck disable=SC2086
    b=$(printf '%s\n' $2 | median)
    # shellcheck disable=SC2086
    n=$(printf '%s\n' $3 | median)
    echo "| $1 | $b | $n | $(ratio "$n" "$b") |"
}
row compression "${comp[base]}" "${comp[new]}"
row decompression "${decomp[base]}" "${decomp[new]}"
row total "${total[base]}" "${total[new]}"
