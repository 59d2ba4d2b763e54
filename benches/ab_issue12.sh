#!/usr/bin/env bash
# Two cranemu builds side by side on issue 12's user-mode workloads (the
# start-up ones too; benches/ab.sh times only sha256sum and gzip): RUNS
# rounds, the builds alternating within each, medians of wall time and of
# peak RSS (GNU time's %M), and the ratio NEW/BASE of the times. For "did
# this change help?" between two commits; benches/issue12.sh compares
# against QEMU and native instead.
#
# Usage: benches/ab_issue12.sh BASE_BINARY NEW_BINARY
# Environment: RUNS=5 (rounds); ONLY= space-separated row names to run,
# of: python-S python-import cc1 sh1000 lua gzip sha256 (default all).
# Needs python3 (benches/measure.py times each run), /usr/bin/time (its
# peak RSS) and the guest caches
# of scripts/fetch-guests.sh (busybox, CPython, gcc-14) and
# scripts/fetch-bench-peers.sh (lua5.4); a workload whose program is not
# there is skipped with a note. Markdown table on stdout.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"

if [[ $# -ne 2 || ! -x $1 || ! -x $2 ]]; then
    echo "usage: benches/ab_issue12.sh BASE_BINARY NEW_BINARY (both executable)" >&2
    exit 2
fi
BASE=$1
NEW=$2
RUNS=${RUNS:-5}
CACHE=$REPO/.cache/guests
P=$CACHE/cpython/sysroot
T=$CACHE/toolchain/sysroot
L=$CACHE/peers/riscv64/sysroot
S=$CACHE/sysroot
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
make_input "$WORK/in16" 16
write_sh_script "$WORK/sh1000.sh"

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ONLY=${ONLY:-}

# row NAME LABEL PROGRAM ARGS...: PROGRAM must exist; ARGS follow `run`.
row() {
    local name=$1 label=$2 program=$3
    shift 3
    if [[ -n $ONLY && " $ONLY " != *" $name "* ]]; then
        return
    fi
    if [[ ! -e $program ]]; then
        echo "ab_issue12.sh: $label: $program is missing, skipped" >&2
        return
    fi
    local wb='' wn='' mb='' mn='' w m i
    for ((i = 0; i < RUNS; i++)); do
        for b in "$BASE" "$NEW"; do
            # Milliseconds (GNU time's %e has centiseconds: a tenth of
            # python -S's time).
            read -r w m _ < <(python3 "$REPO/benches/measure.py" /dev/null "$b" run "$@" 2>/dev/null)
            m=$((m / 1024))
            if [[ $b == "$BASE" ]]; then wb+="$w "; mb+="$m "; else wn+="$w "; mn+="$m "; fi
        done
    done
    local tb tn
    tb=$(echo "$wb" | median)
    tn=$(echo "$wn" | median)
    echo "| $label | $tb | $tn | $(ratio "$tn" "$tb") | $(echo "$mb" | median) | $(echo "$mn" | median) |"
}

# shellcheck disable=SC2016  # the backquotes in the labels are markdown
{
echo "| workload | base ms | new ms | new/base | base RSS MiB | new RSS MiB |"
echo "|---|---|---|---|---|---|"
row python-S '`python3.13 -S -c pass`' "$P/usr/bin/python3.13" \
    -L "$P" "$P/usr/bin/python3.13" -S -c pass
row python-import "\`python3.13 -c 'import json, decimal, sqlite3'\`" "$P/usr/bin/python3.13" \
    -L "$P" "$P/usr/bin/python3.13" -c 'import json, decimal, sqlite3'
CC1=$T/usr/libexec/gcc/riscv64-linux-gnu/14/cc1
row cc1 'gcc-14 `cc1 -O2` of tests/guest/libc/printf.c' "$CC1" \
    -L "$T" "$CC1" -quiet -imultiarch riscv64-linux-gnu -isysroot "$T" \
    -march=rv64imafdc_zicsr_zifencei -mabi=lp64d -O2 \
    "$REPO/tests/guest/libc/printf.c" -o "$WORK/printf.s"
row sh1000 'busybox `sh` running the 1000-command script' "$S/usr/bin/busybox" \
    -L "$S" "$S/usr/bin/busybox" sh "$WORK/sh1000.sh"
row lua 'lua5.4 benches/lua/bench.lua' "$L/usr/bin/lua5.4" \
    -L "$L" "$L/usr/bin/lua5.4" "$REPO/benches/lua/bench.lua"
row gzip 'busybox `gzip -9` of 16 MiB (make_input)' "$S/usr/bin/busybox" \
    "$S/usr/bin/busybox" gzip -9 -c "$WORK/in16"
row sha256 'busybox `sha256sum` of the same 16 MiB' "$S/usr/bin/busybox" \
    "$S/usr/bin/busybox" sha256sum "$WORK/in16"
}
