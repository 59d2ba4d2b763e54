#!/usr/bin/env bash
# Fetch the peers that benches/issue12.sh measures cranemu against, from
# Debian trixie, into sysroots of their own:
#
#   amd64/sysroot     the native x86-64 builds of the benchmarked programs
#                     (busybox-static, 7zip's 7zr, lua5.4, python3.13 with its
#                     standard library, gcc-14's cc1 with the C library's
#                     headers), run through the sysroot's own
#                     usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 with
#                     --library-path; and QEMU 10.0's qemu-user, whose
#                     usr/bin/qemu-riscv64 is a static binary
#   riscv64/sysroot   the riscv64 lua5.4 (the other riscv64 programs come
#                     from scripts/fetch-guests.sh, fetch-cpython.sh and
#                     fetch-toolchain.sh, which benches/issue12.sh runs)
#
# Usage: scripts/fetch-bench-peers.sh [CACHE_DIR]   (default: <repo>/.cache/guests)
#
# Prints CACHE_DIR/peers on stdout.  Each sysroot has, beside it, apt/ (a
# private apt configuration, scripts/debian-apt.sh), debs/ (the .deb files)
# and stamp (the cache key: suite, architecture, package list), so a second
# run is an offline no-op.  The two sysroots are fetched independently: when
# one fails, the other is still fetched, the failure is reported, and the
# exit status is 1 (benches/issue12.sh then shows the missing peer as n/a).
# Benchmarks are not tests: .ci/run does not run this.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-$REPO/.cache/guests}"
SUITE=trixie
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# amd64: each benchmarked program and the packages holding the DT_NEEDED
# closure of it (not the whole Depends closure): 7zip's needs libstdc++6;
# lua5.4's libreadline8t64; python3.13's (with the extension modules that
# `import json, decimal, sqlite3` loads) the list of scripts/fetch-cpython.sh;
# cpp-14-x86-64-linux-gnu holds cc1, which needs libisl, libmpc, libmpfr,
# libgmp and libzstd; libc6-dev, linux-libc-dev, libcrypt-dev and
# libgcc-14-dev hold the headers that tests/guest/libc/printf.c includes.
# qemu-user: QEMU 10.0's static user-mode emulators.
AMD64_PACKAGES=(libc6 libgcc-s1 gcc-14-base libstdc++6
    busybox-static 7zip lua5.4 libreadline8t64 libtinfo6 readline-common
    python3.13 python3.13-minimal libpython3.13-minimal libpython3.13-stdlib
    libbz2-1.0 libdb5.3t64 libexpat1 libffi8 liblzma5 libncursesw6 libsqlite3-0 libssl3t64 libuuid1
    libzstd1 zlib1g media-types netbase tzdata
    cpp-14-x86-64-linux-gnu libisl23 libmpc3 libmpfr6 libgmp10
    libc6-dev linux-libc-dev libcrypt-dev libgcc-14-dev
    qemu-user)
# shellcheck disable=SC2034  # read through fetch_root's nameref
AMD64_PROGRAMS=(usr/bin/busybox usr/lib/7zip/7zr usr/bin/lua5.4 usr/bin/python3.13
    usr/libexec/gcc/x86_64-linux-gnu/14/cc1 usr/bin/qemu-riscv64)
# riscv64: lua5.4 (the interpreter links the Lua library in) and its readline.
RISCV64_PACKAGES=(libc6 libgcc-s1 lua5.4 libreadline8t64 libtinfo6 readline-common)
# shellcheck disable=SC2034  # read through fetch_root's nameref
RISCV64_PROGRAMS=(usr/bin/lua5.4)

die() { echo "fetch-bench-peers.sh: error: $*" >&2; exit 1; }
log() { echo "fetch-bench-peers.sh: $*" >&2; }

mkdir -p "$CACHE/peers"
PEERS="$(cd "$CACHE/peers" && pwd)"

# fetch_root ARCH LIBDIRS PROGRAMS_ARRAY PACKAGE...: PEERS/ARCH/sysroot with
# PACKAGE... extracted, unless its stamp says it is there already.  Run in a
# subshell: die leaves only that subshell.
fetch_root() {
    ARCH=$1
    local libdirs=$2 programs=$3 dir sysroot stamp key prog
    shift 3
    local -n progs=$programs
    dir="$PEERS/$ARCH"
    sysroot="$dir/sysroot"
    stamp="$dir/stamp"
    key="suite=$SUITE arch=$ARCH packages=$*"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
        for prog in "${progs[@]}"; do
            [[ -e "$sysroot/$prog" ]] || key=stale
        done
        [[ $key == stale ]] || return 0
    fi
    # shellcheck source=scripts/debian-apt.sh
    source "$REPO/scripts/debian-apt.sh"
    private_apt "$dir/apt"
    log "archive: $URI ($SUITE, $ARCH)"
    download_debs "$dir/debs" "$@"
    extract_sysroot "$dir/debs" "$sysroot.new"
    check_needed "$sysroot.new" "$libdirs" "${progs[@]}"
    rm -rf "$sysroot"
    mv "$sysroot.new" "$sysroot"
    echo "suite=$SUITE arch=$ARCH packages=$*" > "$stamp"
    log "$ARCH sysroot ready: $sysroot"
}

failed=()
(fetch_root amd64 "usr/lib/x86_64-linux-gnu usr/lib" AMD64_PROGRAMS "${AMD64_PACKAGES[@]}") \
    || failed+=("amd64 (native programs, QEMU 10)")
(fetch_root riscv64 "usr/lib/riscv64-linux-gnu usr/lib" RISCV64_PROGRAMS "${RISCV64_PACKAGES[@]}") \
    || failed+=("riscv64 (lua5.4)")
((${#failed[@]} == 0)) || die "not fetched: ${failed[*]}"
echo "$PEERS"
