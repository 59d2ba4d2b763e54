#!/usr/bin/env bash
# Fetch Debian trixie's riscv64 CPython 3.13 with its whole standard library
# and its regression tests (libpython3.13-testsuite) into a sysroot of its
# own, for scripts/cpython-tests.sh and tests/cpython.rs.
#
# Usage: scripts/fetch-cpython.sh [CACHE_DIR]     (default: <repo>/.cache/guests)
#
# scripts/fetch-guests.sh runs this after its own sysroot is ready
# (CRANEMU_NO_CPYTHON=1 skips it).  Prints the sysroot path on stdout.
# Layout, under CACHE_DIR/cpython:
#
#   sysroot/   libc6 and python3.13 with the closure of its Depends (not
#              debconf and friends), extracted with dpkg -x; usrmerge links
#   apt/       a private apt configuration (scripts/debian-apt.sh); its own
#              lists, so that it never races fetch-guests.sh over CACHE/apt
#   debs/      the .deb files
#   stamp      the cache key (suite, architecture, package list): a second
#              run with the same list is an offline no-op
#
# The sysroot is separate from CACHE/sysroot so that branches with different
# package lists in fetch-guests.sh never rebuild each other's files.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-$REPO/.cache/guests}"
SUITE=trixie
ARCH=riscv64
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# python3.13 (the full interpreter package), libpython3.13-stdlib (the
# modules beyond -minimal's: sqlite3, ctypes, decimal, curses, ...),
# libpython3.13-testsuite (Lib/test) and the run-time Depends closure of all
# three (apt-cache depends --recurse, minus debconf and the installer
# libraries that only maintainer scripts use).
PACKAGES=(libc6 libgcc-s1 gcc-14-base
    python3.13 python3.13-minimal libpython3.13-minimal libpython3.13-stdlib libpython3.13-testsuite
    libbz2-1.0 libdb5.3t64 libexpat1 libffi8 liblzma5 libncursesw6 libtinfo6 libreadline8t64
    readline-common libsqlite3-0 libssl3t64 libuuid1 libzstd1 zlib1g media-types netbase tzdata)

die() { echo "fetch-cpython.sh: error: $*" >&2; exit 1; }
log() { echo "fetch-cpython.sh: $*" >&2; }

mkdir -p "$CACHE/cpython"
DIR="$(cd "$CACHE/cpython" && pwd)"
SYSROOT="$DIR/sysroot"
STAMP="$DIR/stamp"
STAMP_KEY="suite=$SUITE arch=$ARCH packages=${PACKAGES[*]}"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" && -x "$SYSROOT/usr/bin/python3.13" ]]; then
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
[[ -x "$SYSROOT.new/usr/bin/python3.13" ]] || die "python3.13 missing after extraction"
[[ -d "$SYSROOT.new/usr/lib/python3.13/test" ]] || die "Lib/test missing after extraction"
rm -rf "$SYSROOT"
mv "$SYSROOT.new" "$SYSROOT"
echo "$STAMP_KEY" > "$STAMP"
log "sysroot ready"
echo "$SYSROOT"
