#!/usr/bin/env bash
# Fetch Debian trixie's riscv64 C toolchain (gcc-14, binutils, the C library's
# headers and crt files, make) into a sysroot of its own, for
# tests/linux_abi.rs (a guest gcc compiling and linking a C program, and a
# guest `make -j2`).
#
# Usage: scripts/fetch-toolchain.sh [CACHE_DIR]     (default: <repo>/.cache/guests)
#
# scripts/fetch-guests.sh runs this after its own sysroot is ready
# (CRANEMU_NO_TOOLCHAIN=1 skips it).  Prints the sysroot path on stdout.
# Layout, under CACHE_DIR/toolchain:
#
#   sysroot/   the packages below, extracted with dpkg -x; usrmerge links
#   apt/       a private apt configuration (scripts/debian-apt.sh)
#   debs/      the .deb files
#   stamp      the cache key (suite, architecture, package list): a second
#              run with the same list is an offline no-op
#
# The guest compiler runs as
#   gcc-14 --sysroot=SYSROOT -BSYSROOT/usr/bin/ ...
# so that it finds its headers, crt files and libraries, and runs the
# guest's as and ld, inside the sysroot.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-$REPO/.cache/guests}"
SUITE=trixie
ARCH=riscv64
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# The Depends closure of gcc-14, libc6-dev and make (apt-cache depends
# --recurse, without Recommends and Suggests): the compiler driver and cc1
# (gcc-14-riscv64-linux-gnu, cpp-14-riscv64-linux-gnu), binutils (as, ld and
# their libraries), libgcc's and glibc's development files, and the shared
# libraries of all of them (cc1 needs libisl, libmpc, libmpfr, libgmp,
# libzstd; ld needs libctf, libsframe, libjansson).
PACKAGES=(gcc-14 gcc-14-base gcc-14-riscv64-linux-gnu cpp-14 cpp-14-riscv64-linux-gnu
    binutils binutils-common binutils-riscv64-linux-gnu libbinutils libctf0 libctf-nobfd0 libgprofng0 libsframe1
    libjansson4 libisl23 libmpc3 libmpfr6 libgmp10 libzstd1 zlib1g
    libc6 libc6-dev libc-dev-bin linux-libc-dev libcrypt-dev libcrypt1 rpcsvc-proto
    libgcc-14-dev libgcc-s1 libstdc++6 libasan8 libatomic1 libcc1-0 libgomp1 libitm1 liblsan0 libtsan2 libubsan1
    make)
# The programs whose DT_NEEDED closure must resolve inside the sysroot.
PROGRAMS=(usr/bin/riscv64-linux-gnu-gcc-14 usr/libexec/gcc/riscv64-linux-gnu/14/cc1
    usr/libexec/gcc/riscv64-linux-gnu/14/collect2 usr/bin/riscv64-linux-gnu-as
    usr/bin/riscv64-linux-gnu-ld.bfd usr/bin/make)

die() { echo "fetch-toolchain.sh: error: $*" >&2; exit 1; }
log() { echo "fetch-toolchain.sh: $*" >&2; }

mkdir -p "$CACHE/toolchain"
DIR="$(cd "$CACHE/toolchain" && pwd)"
SYSROOT="$DIR/sysroot"
STAMP="$DIR/stamp"
STAMP_KEY="suite=$SUITE arch=$ARCH packages=${PACKAGES[*]}"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" && -x "$SYSROOT/usr/bin/gcc-14" ]]; then
    echo "$SYSROOT"
    exit 0
fi

# shellcheck source=scripts/debian-apt.sh
source "$REPO/scripts/debian-apt.sh"
APT_DIR="$DIR/apt"
DEBS="$DIR/debs"
private_apt "$APT_DIR"
log "archive: $URI ($SUITE, $ARCH)"
download_debs "$DEBS" "${PACKAGES[@]}"

extract_sysroot "$DEBS" "$SYSROOT.new"
[[ -x "$SYSROOT.new/usr/bin/gcc-14" ]] || die "gcc-14 missing after extraction"

# Every shared library the programs need (DT_NEEDED, transitively) must be
# in the sysroot; see scripts/fetch-guests.sh.
check_needed "$SYSROOT.new" "usr/lib/riscv64-linux-gnu usr/lib" "${PROGRAMS[@]}"

rm -rf "$SYSROOT"
mv "$SYSROOT.new" "$SYSROOT"
echo "$STAMP_KEY" > "$STAMP"
log "sysroot ready"
echo "$SYSROOT"
