#!/usr/bin/env bash
# Issue 12's targets in one run: cranemu against qemu-riscv64 7.2 (Debian 12's
# qemu-user, on PATH), QEMU 10.0 (Debian trixie amd64's qemu-user, run as
# `-cpu rv64,v=false` so that both QEMUs and cranemu run the same code) and
# the native x86-64 build of the same program (Debian trixie amd64), side by
# side, as ratios, so anyone can see whether a change helped.
#
#   7zr b 1 -mmt1   7-Zip's benchmark, one thread: its total rating (the
#                   "Tot:" line's last figure, MIPS; higher is better, and
#                   the ratios are of ratings; the log line of each run
#                   adds the compression and decompression ratings it is
#                   the mean of)
#   lua             lua5.4 benches/lua/bench.lua (fib, table sort, strings)
#   gzip -9         busybox gzip -9 of SIZE_MIB MiB of fixed text
#   sha256sum       busybox sha256sum of the same input
#   python -S       python3.13 -S -c pass
#   python import   python3.13 -c 'import json, decimal, sqlite3'
#   cc1 -O2         gcc-14's cc1 -O2 compiling tests/guest/libc/printf.c (as
#                   benches/startup.sh runs it; natively with the amd64
#                   cc1 and the amd64 C library's headers)
#   sh 1000         busybox sh running a script of 1000 short commands
#
# Every workload runs RUNS times on each peer, the peers alternating within
# each round; the table shows medians of the wall time (or of the rating)
# and of the peak RSS (GNU time's %M, see benches/measure.py), the ratios
# cranemu/peer, the issue's target for the row and whether it is met.  A run
# that exits non-zero shows as "fail" (a crash must not look fast).  Then,
# unless STATS=0, one more cranemu run of each workload with -stats gives its
# translation figures.  Everything goes to stdout as markdown ready for
# BENCHMARKS.md; progress goes to stderr.
#
# Usage: benches/issue12.sh
# Environment:
#   RUNS=5          runs of each workload on each peer
#   RUNS_7Z=RUNS    runs of 7zr b (one 7zr b run takes 40 s natively and
#                   3-4 minutes emulated on the 2-core machine, so a full
#                   run at RUNS=5 takes about an hour; RUNS_7Z=1 saves most)
#   RUNS_SHORT=3*RUNS  runs of the rows that take under a second a run
#                   (python -S, python's imports, cc1): their medians move
#                   by 5-10% between runs of 3 on this machine, more than
#                   what separates some of them from their target, and
#                   more runs of them cost little
#   ONLY=           space-separated workload names to run, of: 7zr lua gzip
#                   sha256 python-S python-import cc1 sh1000 (default all)
#   SIZE_MIB=64     gzip and sha256sum input size
#   STATS=1         0 skips the -stats runs
#   CRANEMU=target/release/cranemu   the cranemu binary under test
#   QEMU7=/usr/bin/qemu-riscv64      QEMU 7.2 (any qemu-riscv64 works; its
#                                    --version goes in the header)
#   QEMU10=<cache>/peers/amd64/sysroot/usr/bin/qemu-riscv64   QEMU 10.0
#   NATIVE_ROOT=<cache>/peers/amd64/sysroot   the amd64 sysroot
# Fetches (cached; offline once fetched): scripts/fetch-guests.sh (busybox,
# 7zip, CPython, gcc-14 for riscv64) and scripts/fetch-bench-peers.sh (the
# amd64 programs, QEMU 10.0, riscv64 lua5.4).  A peer that cannot be fetched
# or does not run is a note and an "n/a" column, not a failure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"

RUNS=${RUNS:-5}
RUNS_7Z=${RUNS_7Z:-$RUNS}
RUNS_SHORT=${RUNS_SHORT:-$((RUNS * 3))}
SIZE_MIB=${SIZE_MIB:-64}
STATS=${STATS:-1}
ONLY=${ONLY:-}
CRANEMU=${CRANEMU:-$REPO/target/release/cranemu}
QEMU7=${QEMU7:-/usr/bin/qemu-riscv64}
ALL_WORKLOADS=(7zr lua gzip sha256 python-S python-import cc1 sh1000)

die() { echo "issue12.sh: error: $*" >&2; exit 1; }
log() { echo "issue12.sh: $*" >&2; }
NOTES=()
note() { NOTES+=("$*"); log "note: $*"; }

[[ $RUNS =~ ^[1-9][0-9]*$ && $RUNS_7Z =~ ^[1-9][0-9]*$ && $RUNS_SHORT =~ ^[1-9][0-9]*$ ]] ||
    die "RUNS, RUNS_7Z and RUNS_SHORT must be positive integers"
[[ $SIZE_MIB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MIB must be a positive integer"
[[ -x "$CRANEMU" ]] || die "no cranemu binary at $CRANEMU (cargo build --release, or set CRANEMU)"
command -v python3 > /dev/null || die "python3 not found (benches/measure.py times the runs)"
for w in $ONLY; do
    [[ " ${ALL_WORKLOADS[*]} " == *" $w "* ]] || die "unknown workload '$w' in ONLY (known: ${ALL_WORKLOADS[*]})"
done
[[ -x /usr/bin/time ]] || note "no /usr/bin/time (apt-get install time): peak RSS includes the Python wrapper's own"

# The riscv64 programs: cranemu's own fetch scripts, which the tests use too.
SYSROOT=$("$REPO/scripts/fetch-guests.sh") || die "scripts/fetch-guests.sh failed"
GUESTS="$(dirname "$SYSROOT")"
PYROOT="$GUESTS/cpython/sysroot"
TOOLROOT="$GUESTS/toolchain/sysroot"
# The peers; a failure leaves whatever was fetched before, and each peer
# below is checked on its own.
PEERS_DIR=$("$REPO/scripts/fetch-bench-peers.sh" "$GUESTS") \
    || { note "scripts/fetch-bench-peers.sh failed (see above): peers it did not fetch are n/a"; PEERS_DIR="$GUESTS/peers"; }
NATROOT=${NATIVE_ROOT:-$PEERS_DIR/amd64/sysroot}
LUAROOT="$PEERS_DIR/riscv64/sysroot"
NATLD="$NATROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
NATLIBS="$NATROOT/usr/lib/x86_64-linux-gnu:$NATROOT/usr/lib"
QEMU10=${QEMU10:-$PEERS_DIR/amd64/sysroot/usr/bin/qemu-riscv64}
QEMU10_CPU=(-cpu "rv64,v=false")

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Which peers run at all.  Each is given one trivial program first, so a
# broken binary is a note rather than a column of failures.
PEERS=(cranemu)
"$CRANEMU" run "$SYSROOT/usr/bin/busybox" true || die "$CRANEMU cannot run busybox true"
CRANEMU_REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]] || CRANEMU_REV+="-dirty"
if [[ -x "$QEMU7" ]] && "$QEMU7" "$SYSROOT/usr/bin/busybox" true; then
    PEERS+=(qemu7)
    QEMU7_VERSION=$("$QEMU7" --version 2>&1 | head -n1 || true)
else
    note "no working QEMU 7.2 at $QEMU7 (apt-get install qemu-user): its columns are n/a"
    QEMU7_VERSION="n/a"
fi
if [[ -x "$QEMU10" ]] && "$QEMU10" "${QEMU10_CPU[@]}" "$SYSROOT/usr/bin/busybox" true; then
    PEERS+=(qemu10)
    QEMU10_VERSION=$("$QEMU10" --version 2>&1 | head -n1 || true)
else
    note "no working QEMU 10 at $QEMU10 (scripts/fetch-bench-peers.sh): its columns are n/a"
    QEMU10_VERSION="n/a"
fi
if [[ -x "$NATLD" ]]; then
    PEERS+=(native)
else
    note "no amd64 sysroot at $NATROOT (scripts/fetch-bench-peers.sh): the native column is n/a"
fi

SCRIPT="$WORK/script.sh"
write_sh_script "$SCRIPT"
INPUT="$WORK/input.bin"
needs_input=0
for w in ${ONLY:-gzip}; do [[ $w == gzip || $w == sha256 ]] && needs_input=1; done
if ((needs_input)); then
    log "writing the ${SIZE_MIB} MiB input"
    make_input "$INPUT" "$SIZE_MIB"
fi

# workload NAME: sets RV (the riscv64 sysroot, program and arguments), NAT
# (the amd64 program and arguments, empty when there is none), LABEL,
# TARGET_TIME (the issue's target ratio of cranemu's time to QEMU's; for
# 7zr, of cranemu's rating to QEMU's, as a minimum) and RUNS_HERE.
# shellcheck disable=SC2016  # the backquotes in the labels are markdown
workload() {
    local cc1=$TOOLROOT/usr/libexec/gcc/riscv64-linux-gnu/14/cc1
    local natcc1=$NATROOT/usr/libexec/gcc/x86_64-linux-gnu/14/cc1
    RUNS_HERE=$RUNS
    case $1 in
    7zr)
        LABEL='`7zr b 1 -mmt1` total rating (MIPS; higher is better)'
        TARGET_TIME=2.0
        RUNS_HERE=$RUNS_7Z
        RV=("$SYSROOT" "$SYSROOT/usr/lib/7zip/7zr" b 1 -mmt1)
        NAT=("$NATROOT/usr/lib/7zip/7zr" b 1 -mmt1) ;;
    lua)
        LABEL='lua5.4 benches/lua/bench.lua (ms)'
        TARGET_TIME=0.5
        RV=("$LUAROOT" "$LUAROOT/usr/bin/lua5.4" "$REPO/benches/lua/bench.lua")
        NAT=("$NATROOT/usr/bin/lua5.4" "$REPO/benches/lua/bench.lua") ;;
    gzip)
        LABEL="busybox \`gzip -9\` of ${SIZE_MIB} MiB (ms)"
        TARGET_TIME=0.6
        RV=("$SYSROOT" "$SYSROOT/usr/bin/busybox" gzip -9 -c "$INPUT")
        NAT=("$NATROOT/usr/bin/busybox" gzip -9 -c "$INPUT") ;;
    sha256)
        LABEL="busybox \`sha256sum\` of ${SIZE_MIB} MiB (ms)"
        TARGET_TIME=0.4
        RV=("$SYSROOT" "$SYSROOT/usr/bin/busybox" sha256sum "$INPUT")
        NAT=("$NATROOT/usr/bin/busybox" sha256sum "$INPUT") ;;
    python-S)
        RUNS_HERE=$RUNS_SHORT
        LABEL='`python3.13 -S -c pass` (ms)'
        TARGET_TIME=0.8
        RV=("$PYROOT" "$PYROOT/usr/bin/python3.13" -S -c pass)
        NAT=("$NATROOT/usr/bin/python3.13" -S -c pass) ;;
    python-import)
        RUNS_HERE=$RUNS_SHORT
        LABEL="\`python3.13 -c 'import json, decimal, sqlite3'\` (ms)"
        TARGET_TIME=0.8
        RV=("$PYROOT" "$PYROOT/usr/bin/python3.13" -c 'import json, decimal, sqlite3')
        NAT=("$NATROOT/usr/bin/python3.13" -c 'import json, decimal, sqlite3') ;;
    cc1)
        RUNS_HERE=$RUNS_SHORT
        LABEL='gcc-14 `cc1 -O2` of tests/guest/libc/printf.c (ms)'
        TARGET_TIME=0.8
        cc1_riscv64_args RV "$TOOLROOT" "$REPO/tests/guest/libc/printf.c" "$WORK/printf-riscv64.s"
        RV=("$TOOLROOT" "$cc1" "${RV[@]}")
        # The amd64 driver's arguments; -iprefix stands for the driver's
        # install prefix (cc1 finds its own headers through it).
        NAT=("$natcc1" -quiet -imultiarch x86_64-linux-gnu
            -iprefix "$NATROOT/usr/lib/gcc/x86_64-linux-gnu/14/" -isysroot "$NATROOT"
            -mtune=generic -march=x86-64 -O2
            "$REPO/tests/guest/libc/printf.c" -o "$WORK/printf-amd64.s") ;;
    sh1000)
        LABEL='busybox `sh` running 1000 short commands (ms)'
        TARGET_TIME=0.8
        RV=("$SYSROOT" "$SYSROOT/usr/bin/busybox" sh "$SCRIPT")
        NAT=("$NATROOT/usr/bin/busybox" sh "$SCRIPT") ;;
    esac
}

# command_for PEER: sets CMD from RV or NAT for PEER; returns 1 when the
# program is not there (MISSING then names it).
command_for() {
    local root=${RV[0]}
    MISSING=${RV[1]}
    [[ $1 == native ]] && MISSING=${NAT[0]}
    [[ -x $MISSING ]] || return 1
    case $1 in
    cranemu) CMD=("$CRANEMU" run -L "$root" "${RV[@]:1}") ;;
    qemu7) CMD=("$QEMU7" -L "$root" "${RV[@]:1}") ;;
    qemu10) CMD=("$QEMU10" "${QEMU10_CPU[@]}" -L "$root" "${RV[@]:1}") ;;
    native)
        # ld.so --verify: 0 for a dynamically linked program, 1 for a
        # static one.
        if "$NATLD" --verify "${NAT[0]}" > /dev/null 2>&1; then
            CMD=("$NATLD" --library-path "$NATLIBS" "${NAT[@]}")
        else
            CMD=("${NAT[@]}")
        fi ;;
    esac
}

# The 7zr b rating: the last figure of its "Tot:" line.
rating_of() { awk '$1 == "Tot:" { r = $NF } END { if (r != "") print r }' "$1"; }

# The two ratings that 7zr b's total is the mean of: its "Avr:" line's
# compression rating (the 5th field) and decompression rating (the last).
parts_of() {
    awk '$1 == "Avr:" { c = $5; d = $NF } END { if (c != "") printf "compression %s, decompression %s", c, d }' "$1"
}

# bench NAME: runs workload NAME on every peer, alternating, and appends its
# row to ROWS (and its -stats figures to STATS_ROWS).
ROWS=()
STATS_ROWS=()
bench() {
    local name=$1 peer i m rc ms rss value
    workload "$name"
    local -A vals=() rsss=() failed=() present=()
    for peer in "${PEERS[@]}"; do
        if command_for "$peer"; then present[$peer]=1; else note "$name: no $MISSING: the $peer column is n/a"; fi
    done
    for ((i = 1; i <= RUNS_HERE; i++)); do
        for peer in "${PEERS[@]}"; do
            [[ -n ${present[$peer]:-} ]] || continue
            command_for "$peer"
            ms='' rss='' rc=''
            read -r ms rss rc < <(measure "$WORK/out" "${CMD[@]}" 2> "$WORK/err") || true
            value=$ms
            [[ $name == 7zr ]] && value=$(rating_of "$WORK/out")
            if [[ $rc != 0 || -z $value ]]; then
                failed[$peer]=1
                log "$name: $peer run $i failed (exit $rc): $(tail -n 2 "$WORK/err" | tr '\n' ' ')"
                continue
            fi
            vals[$peer]+="$value "
            rsss[$peer]+="$rss "
            if [[ $name == 7zr ]]; then
                log "$name: run $i/$RUNS_HERE $peer: $value MIPS ($(parts_of "$WORK/out")), $((rss / 1024)) MiB"
            else
                log "$name: run $i/$RUNS_HERE $peer: $value ms, $((rss / 1024)) MiB"
            fi
        done
    done
    # Medians, "n/a" for a peer that is not there, "fail" for one that failed.
    local -A med=() medrss=()
    for peer in cranemu qemu7 qemu10 native; do
        if [[ -z ${present[$peer]:-} ]]; then
            med[$peer]="n/a"; medrss[$peer]="n/a"
        elif [[ -n ${failed[$peer]:-} ]]; then
            med[$peer]="fail"; medrss[$peer]="fail"
        else
            med[$peer]=$(tr ' ' '\n' <<< "${vals[$peer]}" | grep . | median)
            m=$(tr ' ' '\n' <<< "${rsss[$peer]}" | grep . | median)
            medrss[$peer]=$(awk -v k="$m" 'BEGIN {printf "%.1f", k / 1024}')
        fi
    done
    local r7 r10 rn s7 s10 target met
    r7=$(ratio "${med[cranemu]}" "${med[qemu7]}")
    r10=$(ratio "${med[cranemu]}" "${med[qemu10]}")
    rn=$(ratio "${med[cranemu]}" "${med[native]}")
    s7=$(ratio "${medrss[cranemu]}" "${medrss[qemu7]}")
    s10=$(ratio "${medrss[cranemu]}" "${medrss[qemu10]}")
    if [[ $name == 7zr ]]; then
        target="rating ≥ ${TARGET_TIME}x QEMU's (aim: ≥ 0.60x native's); RSS ≤ 1.5x"
        met="$(verdict "$r7" ge "$TARGET_TIME") / $(verdict "$r10" ge "$TARGET_TIME"), native aim $(verdict "$rn" ge 0.60); RSS $(verdict "$s7" le 1.5) / $(verdict "$s10" le 1.5)"
    else
        target="time ≤ ${TARGET_TIME}x QEMU's; RSS ≤ 1.5x"
        met="$(verdict "$r7" le "$TARGET_TIME") / $(verdict "$r10" le "$TARGET_TIME"); RSS $(verdict "$s7" le 1.5) / $(verdict "$s10" le 1.5)"
    fi
    ROWS+=("| $LABEL | ${med[cranemu]} | ${med[qemu7]} | ${med[qemu10]} | ${med[native]} | $r7 | $r10 | $rn | ${medrss[cranemu]} | ${medrss[qemu7]} | ${medrss[qemu10]} | ${medrss[native]} | $s7 | $s10 | $target | $met |")
    ((STATS)) && stats_row "$name"
    return 0
}

# verdict RATIO le|ge LIMIT: "met", "missed", or "n/a" without a ratio.
verdict() {
    awk -v r="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (r !~ /^[0-9.]+$/) { print "n/a"; exit }
        ok = (op == "le") ? (r + 0 <= l + 0) : (r + 0 >= l + 0)
        print ok ? "met" : "missed"
    }'
}

# stats_row NAME: one more cranemu run of the current workload with -stats.
stats_row() {
    local line
    command_for cranemu || return 0
    log "$1: cranemu -stats run"
    line=$("$CRANEMU" run -stats -L "${RV[0]}" "${RV[@]:1}" 2>&1 > /dev/null | grep '^cranemu-stats:' | tail -n1 || true)
    if [[ -z $line ]]; then
        STATS_ROWS+=("| ${LABEL% (*} | no -stats line |")
        return 0
    fi
    STATS_ROWS+=("$(awk -v label="${LABEL% (*}" '
        { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
        END {
            wall = f["wall_ns"] / 1e9
            printf "| %s | %.1f | %.0f | %d / %.1f | %d / %.0f / %.0f | %.2f | %.1f |\n", label,
                f["executed_insns"] / 1e6, (wall > 0 ? f["executed_insns"] / wall / 1e6 : 0),
                f["blocks"], (f["blocks"] > 0 ? f["translate_ns"] / f["blocks"] / 1e3 : 0),
                f["compiled_blocks"], f["codegen_ns"] / 1e6,
                (f["compiled_blocks"] > 0 ? f["codegen_ns"] / f["compiled_blocks"] / 1e3 : 0),
                (f["queued_compiles"] > 0 ? f["queue_wait_ns"] / f["queued_compiles"] / 1e6 : 0),
                (f["compiled_insns"] > 0 ? f["code_bytes"] / f["compiled_insns"] : 0)
        }' <<< "$line")")
}

# The Debian versions of the benchmarked packages, from the .debs fetched.
versions() {
    local dirs=$1 p deb out=()
    for p in busybox-static 7zip lua5.4 python3.13 "$2"; do
        # shellcheck disable=SC2086
        deb=$(find $dirs -maxdepth 1 -name "${p}_*.deb" 2>/dev/null | head -n1)
        [[ -n $deb ]] && out+=("$p $(dpkg-deb -f "$deb" Version)")
    done
    local IFS=, list
    list="${out[*]:-n/a}"
    echo "${list//,/, }"
}

for w in "${ALL_WORKLOADS[@]}"; do
    [[ -z $ONLY || " $ONLY " == *" $w "* ]] || continue
    bench "$w"
done

echo "## Issue 12 targets: cranemu vs QEMU 7.2, QEMU 10 and native"
echo
echo "Command: \`RUNS=$RUNS RUNS_7Z=$RUNS_7Z RUNS_SHORT=$RUNS_SHORT SIZE_MIB=$SIZE_MIB benches/issue12.sh\`${ONLY:+ (ONLY=\"$ONLY\")};" \
    "alternating runs, medians."
echo
echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- cranemu: $CRANEMU (this checkout: git $CRANEMU_REV)"
echo "- qemu 7.2: $QEMU7_VERSION"
echo "- qemu 10: $QEMU10_VERSION, ${QEMU10_CPU[*]}"
echo "- riscv64 (Debian trixie): $(versions "$GUESTS/debs $GUESTS/cpython/debs $GUESTS/toolchain/debs $PEERS_DIR/riscv64/debs" cpp-14-riscv64-linux-gnu)"
echo "- native (Debian trixie amd64, through its own ld.so): $(versions "$PEERS_DIR/amd64/debs" cpp-14-x86-64-linux-gnu)"
echo
echo "Times in ms (7zr: rating in MIPS), peak RSS in MiB; ratios are cranemu/peer."
echo "\"met\" columns: against QEMU 7.2 / QEMU 10."
echo
echo "| workload | cranemu | qemu 7.2 | qemu 10 | native | cranemu/qemu 7.2 | cranemu/qemu 10 | cranemu/native | RSS cranemu | RSS qemu 7.2 | RSS qemu 10 | RSS native | RSS cranemu/qemu 7.2 | RSS cranemu/qemu 10 | target | met (7.2 / 10) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
if ((STATS)); then
    echo
    echo "cranemu -stats, one more run each: guest instructions executed (M), guest MIPS of that run," \
        "blocks translated to IR / µs per block, blocks compiled by Cranelift / Cranelift ms / µs per block," \
        "mean compile-queue wait (ms), host code bytes per compiled guest instruction."
    echo
    echo "| workload | guest insns M | guest MIPS | to IR: blocks / µs each | Cranelift: blocks / ms / µs each | queue wait ms | code bytes per insn |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${STATS_ROWS[@]}"
fi
if ((${#NOTES[@]})); then
    echo
    for n in "${NOTES[@]}"; do echo "- note: $n"; done
fi
